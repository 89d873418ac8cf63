"""PSXSS's message dispatch and the client's path to it, on a booted machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntsim import Machine
from ntsim.kernel.lpc import USER_MODE, PortMessage
from ntsim.kernel.status import STATUS_ILLEGAL_FUNCTION, STATUS_SUCCESS, NtStatusError
from ntsim.subsystems.posix import pe, psxdll
from ntsim.subsystems.posix.errno import EBADF, ECHILD, ESRCH
from ntsim.subsystems.posix.psxss import API, PSX_SERVER, PsxApi
from ntsim.subsystems.windows.csrss import CapturedConsole
from ntsim.trace import CollectingSink

HELLO = Path(__file__).resolve().parents[3] / "examples" / "posix" / "hello"


@pytest.fixture
def loaded():
    """A machine with hello loaded (not run): PSXSS is up and knows the process."""
    machine = Machine(root=str(HELLO.parent), console=CapturedConsole())
    process = machine.load(str(HELLO))
    return machine, process


def send(machine, process, api: str, body: dict | None = None, data: bytes = b"") -> PortMessage:
    """A request from the process's own thread, as a client stub sends it."""
    kernel = machine.kernel
    thread = process.threads[0]
    caller = kernel.current_thread
    kernel.current_thread = thread
    try:
        port = psxdll.psxss_port(thread.data)
        return kernel.lpc.request_wait_reply(port, PortMessage(0, API[api], body or {}, data), USER_MODE)
    finally:
        kernel.current_thread = caller


def test_tables_are_parallel_and_named_by_server_number():
    numbers = [row.number for row in PsxApi.rows]
    assert len(numbers) == len(set(numbers)) and all(n >> 16 == PSX_SERVER for n in numbers)
    assert all(row.reply is not None and row.reply.names[0] == "Errno" for row in PsxApi.rows)


def test_a_request_is_dispatched_to_its_handler_and_traced_by_name(loaded):
    machine, process = loaded
    sink = machine.add_sink(CollectingSink())
    reply = send(machine, process, "PsxGetIds")
    assert reply.Status == STATUS_SUCCESS
    assert reply.body["Errno"] == 0 and reply.body["Pid"] >= 100 and reply.body["ParentPid"] == 1
    names = [(event.layer, event.name) for event in sink.events]
    assert ("server", "PsxGetIds") in names and ("lpc", "NtRequestWaitReplyPort") in names


def test_posix_errors_travel_back_in_the_reply_record(loaded):
    machine, process = loaded
    assert send(machine, process, "PsxClose", {"Fd": 9}).body["Errno"] == EBADF
    assert send(machine, process, "PsxWaitPid", {"Pid": -1, "Options": 0}).body["Errno"] == ECHILD
    assert send(machine, process, "PsxKill", {"Pid": 4242, "Signal": 15}).body["Errno"] == ESRCH


def test_an_api_number_with_no_row_is_an_illegal_function(loaded):
    machine, process = loaded
    server = machine.kernel.smss.server("Posix")
    with pytest.raises(NtStatusError) as error:
        server.row_for(PSX_SERVER << 16 | 999)
    assert error.value.status == STATUS_ILLEGAL_FUNCTION


def test_the_descriptor_table_and_the_client_s_cache_agree(loaded):
    machine, process = loaded
    reply = send(machine, process, "PsxOpen", {"Flags": 0, "Mode": 0, "PathLength": 5}, b"/hello\0")
    fd, handle = reply.body["Fd"], reply.body["Handle"]
    assert fd == 3                                        # 0-2 are the terminal
    entry = machine.kernel.smss.server("Posix").entry_of(process)
    assert entry.fds.get(fd).handle == handle
    assert process.handles.lookup(handle) is not None     # a handle in the client's own table
    assert send(machine, process, "PsxQueryFd", {"Fd": 1}).body["Kind"] == 3   # TERMINAL


def test_every_export_has_a_stub_and_an_address():
    image = psxdll.module_image()
    for name, address in psxdll.EXPORTS.items():
        at = address - psxdll.PSXDLL_BASE
        assert image[at] == 0xB8 and image[at + 5:at + 8] == bytes((0xCD, psxdll.TRAP_VECTOR, 0xC3)), name
    assert pe.pe_subsystem(HELLO.read_bytes()[:4096]) == 7


def test_ctrl_c_from_csrss_is_sigint_for_the_foreground_group(loaded):
    machine, process = loaded
    csrss = machine.kernel.smss.server("Windows")
    assert csrss.console_control(0) is True                # CTRL_C_EVENT: PSXSS took it
    assert machine.run() == 128 + 2                        # SIGINT's default action
    assert process.exit_reason == "killed by SIGINT"


def test_job_control_stop_and_continue_and_what_each_discards(loaded):
    """A stop suspends the thread through the kernel; SIGCONT resumes it and discards
    pending stops; a stop discards a pending SIGCONT (POSIX.1 3.3.1.2)."""
    machine, process = loaded
    entry = machine.kernel.smss.server("Posix").entry_of(process)
    thread = process.threads[0]
    tstp, cont = 1 << (20 - 1), 1 << (18 - 1)

    def kill(signal):
        assert send(machine, process, "PsxKill", {"Pid": entry.pid, "Signal": signal}).body["Errno"] == 0

    def pending():
        return send(machine, process, "PsxSigPending").body["Pending"]

    send(machine, process, "PsxSigProcMask", {"How": 0, "Set": tstp | cont, "Change": 1})
    kill(20)                                       # blocked: it waits, the process runs
    assert pending() == tstp and not entry.stopped and thread.suspend_count == 0
    kill(18)                                       # SIGCONT discards the pending stop
    assert pending() == 0
    send(machine, process, "PsxSigAction", {"Signal": 18, "Set": 1, "Handler": 0x401000, "Mask": 0,
                                            "Flags": 0})
    kill(18)                                       # caught and blocked: pending
    assert pending() == cont
    kill(19)                                       # SIGSTOP: stops now, discards SIGCONT
    assert entry.stopped == 19 and thread.suspend_count == 1 and pending() == 0
    kill(19)                                       # already stopped: not suspended twice
    assert thread.suspend_count == 1
    kill(18)
    assert not entry.stopped and thread.suspend_count == 0
