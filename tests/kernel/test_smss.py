"""SMSS: required subsystems start at boot, optional ones on first use, once."""

from __future__ import annotations

import pytest

from ntsim.kernel.kernel import Kernel
from ntsim.kernel.lpc import ApiRow, LpcServer, Port
from ntsim.kernel.smss import SmApiLoadDeferedSubsystem
from ntsim.kernel.status import STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS, NtStatusError
from ntsim.subsystems.windows.csrss import CapturedConsole, Csrss


class PosixServer(LpcServer):
    name = "psxss"
    image_name = "psxss.exe"
    port_name = "\\PSXSS\\ApiPort"
    api = (ApiRow(1, "Nothing", lambda server, message: None),)


@pytest.fixture
def kernel(root):
    k = Kernel(str(root), deterministic=True)
    k.objects.create_directory("\\PSXSS", permanent=True)
    k.smss.register_subsystem("Windows", lambda kernel: Csrss(kernel, CapturedConsole()), required=True)
    k.smss.register_subsystem("Posix", PosixServer)
    k.boot()
    return k


def running_images(kernel) -> list[str]:
    return sorted(p.name for p in kernel.processes.values() if p.alive)


def test_boot_starts_smss_and_the_required_subsystem_only(kernel):
    assert running_images(kernel) == ["System", "csrss.exe", "smss.exe"]
    assert isinstance(kernel.objects.lookup("\\Windows\\ApiPort"), Port)
    assert isinstance(kernel.objects.lookup("\\SmApiPort"), Port)


def test_smss_is_the_parent_of_the_servers_it_starts(kernel):
    csrss = kernel.smss.server("Windows").process
    assert csrss.parent is kernel.smss.process
    assert kernel.smss.process.parent is kernel.system


def test_an_optional_subsystem_starts_on_first_use_and_only_once(kernel):
    assert kernel.smss.server("Posix") is None
    first = kernel.smss.load_deferred_subsystem("posix")      # names are case-insensitive
    second = kernel.smss.load_deferred_subsystem("Posix")
    assert first is second
    assert running_images(kernel).count("psxss.exe") == 1
    assert isinstance(kernel.objects.lookup("\\PSXSS\\ApiPort"), Port)


def test_an_unknown_subsystem_cannot_be_loaded(kernel):
    with pytest.raises(NtStatusError) as caught:
        kernel.smss.load_deferred_subsystem("Os2")
    assert caught.value.status == STATUS_OBJECT_NAME_NOT_FOUND


def test_a_client_asks_smss_over_its_port_to_start_a_subsystem(kernel):
    client = kernel.create_process("client.exe")
    kernel.current_thread = kernel.create_thread(client)
    nt = kernel.services
    port = nt.NtConnectPort("\\SmApiPort")
    reply = nt.NtRequestWaitReplyPort(port, SmApiLoadDeferedSubsystem, {"Subsystem": "Posix"})
    assert reply.Status == STATUS_SUCCESS
    assert reply.body["value"] == kernel.smss.server("Posix").process.pid
