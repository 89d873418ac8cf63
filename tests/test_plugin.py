"""A third-party personality: examples/plugins/native, the Native subsystem.

Nothing is installed: the plug-in's directory goes on sys.path and the personality is
registered with `ntsim.subsystems.base.register` for each test (an installed copy is
found through the `ntsim.personalities` entry point instead).
"""

from __future__ import annotations

import os
import struct
import sys

import pytest

from ntsim import Machine
from ntsim.kernel.io import FILE_CREATE, FILE_WRITE_DATA, SYNCHRONIZE
from ntsim.kernel.processes import Event
from ntsim.kernel.status import STATUS_ACCESS_VIOLATION, STATUS_NOT_IMPLEMENTED, STATUS_SUCCESS
from ntsim.subsystems import base
from ntsim.subsystems.base import ImageError
from ntsim.subsystems.windows.csrss import CapturedConsole
from ntsim.trace import NT, PERSONALITY, CollectingSink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = os.path.join(ROOT, "examples", "plugins", "native")
HELLO = os.path.join(PLUGIN, "hello.ntn")
GREETING = b"Hello from the native subsystem\n"

if PLUGIN not in sys.path:
    sys.path.insert(0, PLUGIN)

from ntsim_native import NativePersonality  # noqa: E402
from ntsim_native import services as native_services  # noqa: E402
from ntsim_native.image import HEADER_SIZE, IMAGE_BASE, MAGIC  # noqa: E402


@pytest.fixture(autouse=True)
def native():
    base.register("native", NativePersonality)
    yield
    base.unregister("native")


def machine(root: str = PLUGIN, **options) -> Machine:
    return Machine(root, console=CapturedConsole(), deterministic=True, **options)


def image(code: bytes) -> bytes:
    """An NTNATIVE image whose entry point is the first byte after the header."""
    return MAGIC + struct.pack("<Q", HEADER_SIZE) + code


def run_image(tmp_path, code: bytes) -> Machine:
    path = tmp_path / "program.ntn"
    path.write_bytes(image(code))
    m = machine(str(tmp_path))
    m.load(str(path), personality="native")
    m.run()
    return m


# --- the sample ------------------------------------------------------------------------------


def test_hello_writes_its_line_and_exits_0():
    m = machine()
    m.load(HELLO, personality="native")
    assert m.run() == 0
    assert m.console.stdout == GREETING
    assert m.first_process.subsystem == "native"


def test_the_trace_nests_the_nt_service_under_the_personality_call():
    m = machine()
    events = m.add_sink(CollectingSink()).events
    m.load(HELLO, personality="native")
    assert m.run() == 0
    calls = [e for e in events if e.layer == PERSONALITY and e.name.startswith("Nt")]
    assert [e.name for e in calls] == ["NtCreateFile", "NtWriteFile", "NtClose", "NtTerminateProcess"]
    write = calls[1]
    assert write.result == STATUS_SUCCESS and write.error is None
    assert write.args["Buffer"] == '"Hello from the native subsystem\\n"'
    assert write.args["IoStatusBlock"] == "{Status=STATUS_SUCCESS, Information=32}"
    nested = [e for e in events if e.parent == write.seq]
    assert [(e.layer, e.name) for e in nested] == [(NT, "NtWriteFile")]
    assert nested[0].args["Information"] == 32
    # NtCreateFile's fifth and sixth arguments came from the stack (RSP+0x28, RSP+0x30)
    create = calls[0]
    assert create.args["ObjectName"] == "\\Device\\ConDrv\\Output"
    assert create.args["CreateDisposition"] == "FILE_OPEN"
    assert create.args["CreateOptions"] == "FILE_SYNCHRONOUS_IO_NONALERT"


def test_a_registered_plugin_is_probed_and_listed():
    m = machine()
    process = m.load(HELLO)                     # no personality named: the magic decides
    assert process.subsystem == "native"
    assert m.run() == 0 and m.console.stdout == GREETING
    assert "native" in [p.name for p in base.all_personalities()]
    base.unregister("native")
    assert base.probe(image(b"\xc3")) is None


def test_run_until_call_stops_before_a_native_service():
    m = machine()
    m.load(HELLO, personality="native")
    stop = m.run_until_call("NtWriteFile")
    assert stop is not None and stop.name == "NtWriteFile" and stop.args["Length"] == len(GREETING)
    assert m.console.stdout == b""
    assert m.run() == 0
    assert m.console.stdout == GREETING


def test_the_call_table_and_native_inc_agree():
    rows = NativePersonality().call_table()
    assert [(r.number, r.name) for r in rows] == [
        (1, "NtCreateFile"), (2, "NtWriteFile"), (3, "NtClose"), (4, "NtTerminateProcess")]
    with open(os.path.join(PLUGIN, "native.inc"), encoding="utf-8") as stream:
        assert stream.read() == native_services.nasm_include(), "run `make include`"


# --- failures ------------------------------------------------------------------------------


def test_an_unknown_service_returns_not_implemented_and_warns_once(tmp_path, capsys):
    m = run_image(tmp_path, bytes.fromhex(
        "b842000000"        # mov eax, 0x42
        "0f05"              # syscall
        "b842000000"        # mov eax, 0x42
        "0f05"              # syscall          ; again: no second warning
        "89c2"              # mov edx, eax     ; exit with the status it returned
        "49c7c2ffffffff"    # mov r10, -1      ; NtCurrentProcess
        "b804000000"        # mov eax, 4       ; NtTerminateProcess
        "0f05"))            # syscall
    assert m.exit_status == STATUS_NOT_IMPLEMENTED
    assert "0x42" not in capsys.readouterr().err        # never into the guest's own streams
    warnings = [line for line in m.kernel.notices if "0x42" in line]   # ntsim run prints these
    assert len(warnings) == 1
    assert warnings[0].startswith("ntsim: native: ") and "STATUS_NOT_IMPLEMENTED" in warnings[0]


def test_returning_from_the_entry_point_is_an_access_violation(tmp_path):
    m = run_image(tmp_path, b"\xc3")            # ret
    assert m.exit_status == STATUS_ACCESS_VIOLATION
    assert "returned from the entry point" in m.first_process.exit_note


@pytest.mark.parametrize("data, reason", [
    (b"NTNATIVE", "no NTNATIVE header"),
    (MAGIC + struct.pack("<Q", 0x1000) + b"\xc3", "outside the image"),
])
def test_a_bad_image_cannot_execute(tmp_path, data, reason):
    path = tmp_path / "bad.ntn"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=reason):
        machine(str(tmp_path)).load(str(path), personality="native")


# --- handlers --------------------------------------------------------------------------------


def test_a_file_on_the_volume_by_its_nt_name(tmp_path):
    """NtCreateFile, NtWriteFile, NtClose on \\??\\C:\\..., called as the trap calls them."""
    m = machine(str(tmp_path))
    process = m.load(HELLO, personality="native")
    caller = process.threads[0].data
    m.kernel.current_thread = caller.thread      # as while the guest's syscall runs
    name, text = b"\\??\\C:\\notes.txt", b"written by a native program\n"
    scratch = IMAGE_BASE + 0x800                 # inside the image's committed page
    handle_at, iosb_at, name_at, text_at = scratch, scratch + 8, scratch + 0x20, scratch + 0x80
    caller.write(name_at, name)
    caller.write(text_at, text)
    assert native_services.NtCreateFile(caller, handle_at, FILE_WRITE_DATA | SYNCHRONIZE, name_at,
                                        len(name), FILE_CREATE, 0) == STATUS_SUCCESS
    handle = caller.read_u64(handle_at)
    assert native_services.NtWriteFile(caller, handle, iosb_at, text_at, len(text), 0) == STATUS_SUCCESS
    assert struct.unpack("<QQ", caller.read(iosb_at, 16)) == (STATUS_SUCCESS, len(text))
    assert native_services.NtClose(caller, handle) == STATUS_SUCCESS
    assert (tmp_path / "notes.txt").read_bytes() == text


def test_a_service_that_must_wait_parks_the_thread_and_completes():
    from ntsim.kernel.dispatcher import WaitPending

    m = machine()
    events = m.add_sink(CollectingSink()).events
    m.load(HELLO, personality="native")
    never = Event()                              # nobody signals it: the wait times out

    def waits(caller, *args):
        raise WaitPending([never], lambda status: STATUS_SUCCESS, timeout_ns=1_000_000,
                          reason="test")

    m.intercept("NtWriteFile", instead=waits)
    assert m.run() == 0                          # parked, woken by the timeout, finished
    assert m.console.stdout == b""
    write = next(e for e in events if e.layer == PERSONALITY and e.name == "NtWriteFile")
    assert write.result == STATUS_SUCCESS
