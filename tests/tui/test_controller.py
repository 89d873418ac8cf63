"""The machine driven from another host thread (ntsim/controller.py), without any UI."""

from __future__ import annotations

import os
import time

import pytest

from ntsim.controller import FINISHED, PAUSED, RUNNING, Controller
from ntsim.machine import Machine
from ntsim.subsystems.windows.csrss import CapturedConsole
from ntsim.trace import CollectingSink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "linux")
GREETING = b"Hello from Linux, via the NT kernel!\n"


def controller(program: str, *args: str, sink=None) -> Controller:
    made = Controller(lambda: Machine(EXAMPLES, console=CapturedConsole()),
                      lambda m: m.load(os.path.join(EXAMPLES, program), list(args)),
                      on_event=sink)
    return made.start()


@pytest.fixture
def owned(request):
    made = []

    def make(*a, **k):
        made.append(controller(*a, **k))
        return made[-1]

    yield make
    for c in made:
        c.quit()


def counter_address(path: str = os.path.join(EXAMPLES, "counter"), loop: bool = False) -> int:
    """The counter's address (`loop`: the loop's), from the loop's `addq $1, disp(%rip)`
    (48 83 05 disp32 01) found in the static binary's executable segment."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_flags"] & 1:
                code, base = segment.data(), segment["p_vaddr"]
                at = code.find(b"\x48\x83\x05")
                while at >= 0 and code[at + 7] != 1:
                    at = code.find(b"\x48\x83\x05", at + 1)
                displacement = int.from_bytes(code[at + 3:at + 7], "little", signed=True)
                return base + at if loop else base + at + 8 + displacement
    raise AssertionError("no addq $1, disp(%rip) in counter")


def test_a_hundred_pauses_never_change_what_the_guest_computes(owned):
    """100 pauses in the middle of the loop, and it still prints exactly 20000000. (On a
    loaded host a run may end before its 100th pause: the pauses go on in a new run,
    which must print exactly 20000000 too.)"""
    c = owned("counter")
    address = counter_address()
    pauses, runs, seen = 0, 0, []
    while pauses < 100:
        c.run()
        assert c.wait_running() in (RUNNING, PAUSED, FINISHED)
        c.pause()
        state = c.wait(10)
        if state == FINISHED:                 # the loop outran the pauses: check, go on
            assert c.machine.console.stdout == b"20000000\n"
            runs += 1
            assert runs < 5, "the loop kept ending before the pauses"
            c.restart().result(10)
            seen.clear()
            continue
        assert state == PAUSED
        pauses += 1
        pid = c.loaded.pid
        seen.append(int.from_bytes(c.ask("read_memory", pid=pid, address=address, size=8), "little"))
    c.run()
    assert c.wait(60) == FINISHED
    assert c.machine.console.stdout == b"20000000\n"
    assert seen == sorted(seen) and seen[-1] < 20_000_000
    assert len(set(seen)) > 10                 # the pauses fell inside the loop
    assert max(c.pause_latency) < 0.1


def test_pause_takes_a_compute_loop_within_100_ms(owned):
    c = owned("counter", "2000000000")
    c.run()
    c.wait_running()
    time.sleep(0.05)
    asked = time.perf_counter()
    c.pause()
    assert c.wait(5) == PAUSED
    assert time.perf_counter() - asked < 0.1
    assert c.stop.reason == "pause"


def test_commands_are_served_while_the_machine_runs(owned):
    c = owned("counter", "2000000000")
    c.run()
    c.wait_running()
    snapshot = c.snapshot(timeout=2)          # served between two quanta: no pause needed
    assert c.state == RUNNING and snapshot.state == RUNNING
    counter = next(p for p in snapshot.processes if p.name == "counter")
    assert counter.threads[0].mode == "x86-64" and counter.threads[0].register("rip")
    assert counter.committed > 0 and counter.touched > 0 and counter.servers == ("csrss.exe",)
    c.pause()
    assert c.wait(5) == PAUSED


def test_snapshot_shows_processes_servers_ports_and_call_tables(owned):
    c = owned("hello")
    snapshot = c.snapshot()
    names = [p.name for p in snapshot.processes]
    assert names[:3] == ["System", "smss.exe", "csrss.exe"] and "hello" in names
    hello = snapshot.process(c.loaded.pid)
    assert hello.personality == "lxss" and hello.alive and hello.threads[0].state == "ready"
    assert [r for r, _ in hello.threads[0].registers][:4] == ["rax", "rbx", "rcx", "rdx"]
    assert any(v.committed and v.reserved >= v.committed for v in hello.vads)
    assert any(h.type == "File" or "ConDrv" in h.description for h in hello.handles)
    assert any(p.name == "\\Windows\\ApiPort" and p.server == "csrss.exe" for p in snapshot.ports)
    tables = dict(snapshot.call_tables)
    assert any(row.name == "write" for row in tables["lxss"])
    with pytest.raises(AttributeError):
        hello.name = "changed"                # immutable


def test_step_instructions_of_a_thread(owned):
    c = owned("hello")
    pid = c.loaded.pid
    before = c.snapshot().process(pid).threads[0]
    lines = c.ask("disassemble", pid=pid, tid=before.tid, count=3)
    assert lines[0].address == before.linear_pc
    c.step(1, tid=before.tid).result(10)
    after = c.snapshot().process(pid).threads[0]
    assert c.stop.reason == "step" and after.linear_pc == lines[0].address + lines[0].size
    c.step(2).result(10)
    assert c.snapshot().process(pid).threads[0].linear_pc != after.linear_pc


def test_step_over_a_call_runs_to_the_next_instruction(owned):
    c = owned("hello")
    pid = c.loaded.pid
    calls = 0
    for _ in range(400):      # into the program, past musl's calls that never return
        thread = c.snapshot().process(pid).threads[0]
        first = c.ask("disassemble", pid=pid, tid=thread.tid, count=1)[0]
        if first.mnemonic == "call":
            calls += 1
            if calls == 2:                    # (the first, to _start_c, never returns)
                break
        c.step(1).result(10)
    else:
        pytest.fail("no second call in the first 400 instructions")
    c.step_over().result(10)
    assert c.stop.reason == "step"
    assert c.snapshot().process(pid).threads[0].linear_pc == first.address + first.size


def test_break_on_a_crossing_stops_inside_it_and_continues(owned):
    sink = CollectingSink(detail=True)
    c = owned("hello", sink=sink)
    c.break_on("nt", "NtWriteFile")
    c.run()
    assert c.wait(10) == PAUSED
    stop = c.stop
    assert stop.reason == "breakpoint" and stop.event.name == "NtWriteFile" and stop.event.layer == "nt"
    assert c.machine.console.stdout == b""    # stopped before the write was done
    snapshot = c.snapshot()                   # served inside the crossing
    assert snapshot.process(stop.pid).alive
    c.ask("unbreak", id=1)
    c.run()
    assert c.wait(10) == FINISHED and c.machine.console.stdout == GREETING


def test_run_to_the_next_crossing_at_a_layer(owned):
    c = owned("hello")
    c.run_to_crossing("lpc")
    assert c.wait(10) == PAUSED and c.stop.reason == "crossing"
    assert c.stop.event.layer == "lpc"
    c.run_to_crossing("server")
    assert c.wait(10) == PAUSED and c.stop.event.layer == "server"
    c.run_to_crossing(None)                   # any layer: the very next crossing
    assert c.wait(10) == PAUSED and c.stop.event.seq > 0
    c.run()
    assert c.wait(10) == FINISHED


def test_break_at_an_address(owned):
    c = owned("hello")
    pid = c.loaded.pid
    lines = c.ask("disassemble", pid=pid, count=4)
    target = lines[3].address
    c.break_at(pid, target)
    c.run()
    assert c.wait(10) == PAUSED and c.stop.reason == "breakpoint"
    assert c.snapshot().process(pid).threads[0].linear_pc == target
    c.run()
    assert c.wait(10) == FINISHED


def test_watchpoint_on_a_page_stops_after_the_write(owned):
    c = owned("counter", "1000")
    pid = c.loaded.pid
    breakpoint = c.break_at(pid, counter_address(loop=True))   # the loop's first add
    c.run()
    assert c.wait(10) == PAUSED and c.stop.reason == "breakpoint"
    c.ask("unbreak", id=breakpoint.id)
    address = counter_address()
    c.watch_page(pid, address)
    c.run()
    assert c.wait(10) == PAUSED and c.stop.reason == "watchpoint"
    assert f"at {address:#x}" in c.stop.detail
    value = int.from_bytes(c.ask("read_memory", pid=pid, address=address, size=8), "little")
    assert value == 1                         # stopped after the block that wrote it


def test_restart_loads_the_program_again(owned):
    c = owned("hello")
    c.run()
    assert c.wait(10) == FINISHED
    c.restart().result(10)
    assert c.state == PAUSED and c.machine.console.stdout == b""
    c.run()
    assert c.wait(10) == FINISHED and c.machine.console.stdout == GREETING


def test_a_step_asked_inside_a_crossing_is_done_after_it(owned):
    c = owned("hello")
    c.break_on("personality", "write*")
    c.run()
    assert c.wait(10) == PAUSED and c.stop.event.name.startswith("write")
    c.step(1).result(10)
    assert c.stop.reason == "step" and c.machine.console.stdout == GREETING


def test_pause_while_every_guest_thread_waits_and_ctrl_c_reaches_it(owned):
    c = owned("ctrlc")
    c.run()
    deadline = time.monotonic() + 10
    while b"ready" not in c.machine.console.stdout and time.monotonic() < deadline:
        time.sleep(0.01)
    assert c.state == RUNNING                    # waiting for the person, not a deadlock
    c.pause()
    assert c.wait(5) == PAUSED
    assert c.ask("console_control", event=0) is True
    c.run()
    deadline = time.monotonic() + 10
    while b"restored" not in c.machine.console.stdout and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b"handler ran 1 time(s)" in c.machine.console.stdout
    c.ask("console_control", event=0)
    assert c.wait(10) == FINISHED and c.machine.exit_status == 130
