"""The Python API (ntsim.machine): what the TUI and users' scripts build on."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ntsim import Machine
from ntsim.machine import NotFound
from ntsim.subsystems.base import ImageError
from ntsim.subsystems.windows.csrss import CapturedConsole
from ntsim.trace import Sink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "linux")
HELLO = os.path.join(EXAMPLES, "hello")
GREETING = b"Hello from Linux, via the NT kernel!\n"


def machine(**options) -> Machine:
    return Machine(EXAMPLES, console=CapturedConsole(options.pop("stdin", b"")), **options)


def test_run_captures_output_and_exit_status():
    m = machine()
    m.load(HELLO)
    assert m.run() == 0
    assert m.console.stdout == GREETING
    assert m.finished


def test_run_until_call_stops_before_the_call_runs():
    m = machine()
    m.load(HELLO)
    stop = m.run_until_call("writev")
    assert stop is not None and stop.name == "writev" and stop.args["fd"] == 1
    assert m.console.stdout == b""          # the write has not happened yet
    assert not m.finished
    assert m.run() == 0
    assert m.console.stdout == GREETING     # resumed: the call ran exactly once


def test_run_until_next_call_walks_the_program_call_by_call():
    m = machine()
    m.load(HELLO)
    names = []
    while (stop := m.run_until_call()) is not None and not m.finished:
        names.append(stop.name)
    assert names[0] == "arch_prctl"         # musl's first act: the TLS pointer
    assert names[-1] == "exit_group"
    assert "writev" in names
    assert m.console.stdout == GREETING


def test_intercept_instead_replaces_the_handler():
    m = machine()
    m.load(HELLO)
    swallowed = []

    def fake_writev(task, fd, iov, iovcnt):
        swallowed.append(fd)
        return 37                            # claim success without writing

    m.intercept("writev", instead=fake_writev)
    assert m.run() == 0
    assert m.console.stdout == b""
    assert swallowed == [1]


def test_intercept_before_sees_guest_memory_before_the_call():
    m = machine()
    m.load(HELLO)
    seen = []

    def before(task, fd, iov, iovcnt):
        base, length = (int.from_bytes(task.read(iov + offset, 8), "little") for offset in (0, 8))
        seen.append((fd, task.read(base, length), m.console.stdout))

    m.intercept("writev", before=before)
    assert m.run() == 0
    assert [fd for fd, _, _ in seen] == [1]
    text, stdout_then = seen[0][1], seen[0][2]
    assert text and GREETING.startswith(text)     # the guest's text, read from its memory
    assert stdout_then == b""                     # before the call wrote it
    assert m.console.stdout == GREETING


def test_intercept_after_sees_the_result_and_its_replacement_is_what_the_guest_gets():
    m = machine(stdin=b"one\ntwo\n")
    m.load(os.path.join(EXAMPLES, "cat"))
    results = []

    def after(task, result, fd, buf, count):
        results.append(result)
        return 0                        # every read now says end of file

    m.intercept("read", after=after)
    assert m.run() == 0
    assert results and results[0] > 0   # the real read got data...
    assert m.console.stdout == b""      # ...but cat saw end of file, and wrote nothing


def test_an_after_hook_returning_none_keeps_the_result():
    m = machine(stdin=b"one\ntwo\n")
    m.load(os.path.join(EXAMPLES, "cat"))
    m.intercept("read", after=lambda task, result, fd, buf, count: None)
    assert m.run() == 0
    assert m.console.stdout == b"one\ntwo\n"


def test_step_executes_single_instructions():
    m = machine()
    process = m.load(HELLO)
    entry = m.registers(process)["rip"]
    pc_after_one = m.step(1)
    assert pc_after_one != entry
    m.step(5)
    assert m.registers(process)["rip"] not in (entry, pc_after_one)
    assert m.run() == 0
    assert m.console.stdout == GREETING


def test_breakpoint_at_an_address_stops_there():
    # Learn the first 40 program counters by stepping one machine...
    stepper = machine()
    process = stepper.load(HELLO)
    trail = [stepper.registers(process)["rip"]]
    for _ in range(40):
        trail.append(stepper.step(1))
    target = next(pc for i, pc in enumerate(trail) if i > 20 and pc not in trail[:i])
    # ...then run another to a breakpoint on one of them.
    m = machine()
    process = m.load(HELLO)
    m.break_at(process, target)
    assert m.run() is None and m.last_stop == "breakpoint"
    assert m.registers(process)["rip"] == target
    assert m.console.stdout == b""
    assert m.run() == 0                      # resuming passes the breakpoint once
    assert m.console.stdout == GREETING


def test_pause_from_an_event_callback():
    m = machine()
    m.load(HELLO)
    paused = []

    def on_event(event):
        if event.name == "set_tid_address" and not paused:
            paused.append(event.seq)
            m.pause()

    m.on_event(on_event)
    m.run()
    assert paused and not m.finished and m.console.stdout == b""
    assert m.run() == 0 and m.console.stdout == GREETING


def test_processes_handles_and_namespace():
    m = machine()
    process = m.load(HELLO)
    names = [p.name for p in m.processes()]
    assert names[:3] == ["System", "smss.exe", "csrss.exe"]
    assert "hello" in names
    handles = m.handles(process)
    assert [h for h, _, _ in handles] == [4, 8, 12]
    assert any("\\Device\\ConDrv\\Output" in description for _, _, description in handles)
    namespace = m.namespace()
    assert "ApiPort" in namespace and "HarddiskVolume1" in namespace
    m.run()
    assert m.handles(process) == []          # an exited process holds no handles


def test_memory_of_a_process_is_readable():
    m = machine()
    process = m.load(HELLO)
    rsp = m.registers(process)["rsp"]
    argc = int.from_bytes(m.read_memory(process, rsp, 8), "little")
    assert argc == 1
    argv0 = int.from_bytes(m.read_memory(process, rsp + 8, 8), "little")
    assert m.read_memory(process, argv0, len(HELLO)) == HELLO.encode()


def test_stdin_reaches_the_guest():
    m = machine(stdin=b"one\ntwo\n")
    m.load(os.path.join(EXAMPLES, "cat"))
    assert m.run() == 0
    assert m.console.stdout == b"one\ntwo\n"


def test_missing_program_and_bad_image():
    m = machine()
    with pytest.raises(NotFound):
        m.load(os.path.join(EXAMPLES, "no-such-program"))
    with pytest.raises(ImageError):
        m.load(os.path.join(EXAMPLES, "hello.c"))


def test_readme_example_runs_as_printed():
    """The README's Python example is real: run it from the repository root."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as stream:
        readme = stream.read()
    code = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stopped before writev fd 1" in result.stdout
    assert "Hello from Linux, via the NT kernel!" in result.stdout
    assert ("personality:writev -> nt:NtWriteFile -> lpc:NtRequestWaitReplyPort -> "
            "server:ConsoleWrite -> kernel:HostConsoleWrite") in result.stdout


def test_a_reaped_child_says_why_it_has_no_registers_or_memory():
    """After `wait` reaps a child, Linux forgets it; the API still lists it (with its
    exit status and memory figures) but cannot show its registers or memory."""
    m = machine()
    m.load(os.path.join(EXAMPLES, "spawnloop"), ["3"], argv0="./spawnloop")
    assert m.run() == 0
    children = [p for p in m.processes() if p.name == "spawnloop" and p is not m.first_process]
    assert len(children) == 3 and all(p.exit_status is not None for p in children)
    with pytest.raises(ValueError, match="reaped"):
        m.registers(children[0])
    with pytest.raises(Exception, match="reaped"):
        m.read_memory(children[0], 0x400000, 4)
    assert children[0].committed_bytes > 0


def test_the_console_screen_is_readable_and_a_linux_write_leaves_it_alone():
    machine = Machine(root=EXAMPLES, deterministic=True, console=CapturedConsole())
    assert (machine.screen.columns, machine.screen.rows) == (80, 25)
    machine.load(HELLO)
    assert machine.run() == 0
    assert machine.console.stdout == GREETING                       # the byte stream, as ever
    assert machine.screen.text() == [""] * 25
    assert machine.keyboard.peek() is None


def test_typed_keys_reach_the_consoles_input_buffer_at_the_next_step():
    machine = Machine(root=EXAMPLES, deterministic=True, console=CapturedConsole())
    machine.type_keys("\x1b[Dq")
    assert machine.keyboard.peek() is None                          # not yet: the machine has not stepped
    machine.kernel.dispatcher.run(lambda: not machine.kernel.dispatcher.host_events)
    left, q = machine.keyboard.pop(), machine.keyboard.pop()
    assert (left.character, left.scan) == (0xE0, 0x4B)
    assert (q.character, q.scan) == (ord("q"), 0x10)


def test_an_after_hook_runs_when_a_call_that_waited_completes():
    """wait4 parks the parent until its child exits: the after hook sees the result the
    call finally had (the child's pid), not nothing."""
    m = machine()
    m.load(os.path.join(EXAMPLES, "spawnloop"), ["3"], argv0="./spawnloop")
    waited = []
    m.intercept("wait4", after=lambda task, result, *args: waited.append(result))
    parked = []
    m.add_sink(type("Parked", (Sink,), {"pending": lambda self, e: parked.append(e.name)})())
    assert m.run() == 0
    children = [p.pid for p in m.processes() if p.name == "spawnloop" and p is not m.first_process]
    assert "wait4" in parked                         # the calls did wait
    assert sorted(waited) == sorted(children)
