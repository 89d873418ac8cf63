"""The trace: events nest under the crossing that caused them, blocked calls are shown
as pending and resumed, and the sinks render them (JSON lines, strace-style text)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile

import pytest

from ntsim import Machine
from ntsim.subsystems.windows.csrss import CapturedConsole
from ntsim.trace import (
    GUEST,
    KERNEL,
    LAYERS,
    LPC,
    NT,
    PERSONALITY,
    SERVER,
    Arg,
    Buffer,
    CallbackSink,
    CollectingSink,
    Flags,
    Hex,
    JsonLinesSink,
    Sink,
    StatsSink,
    StraceSink,
    Tracer,
    render_bytes,
)

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples", "linux")
HELLO = os.path.join(EXAMPLES, "hello")
DESIGN_FIELDS = {"seq", "clock", "pid", "tid", "layer", "name", "args", "result", "parent"}


class FakeProcess:
    def __init__(self, pid: int, memory=None) -> None:
        self.pid = pid
        self.memory = memory


class FakeThread:
    """What the tracer needs of a thread: its process, id and innermost open event."""

    def __init__(self, pid: int = 10, tid: int = 11, memory=None) -> None:
        self.process = FakeProcess(pid, memory)
        self.tid = tid
        self.trace_parent = None


@pytest.fixture
def clock():
    now = [0]

    def read() -> int:
        now[0] += 5
        return now[0]

    return read


@pytest.fixture
def tracer(clock):
    return Tracer(clock)


# --- nesting -------------------------------------------------------------------------------


def test_with_no_sink_the_tracer_is_off(tracer):
    assert tracer.enabled is False
    sink = tracer.attach(CollectingSink())
    assert tracer.enabled is True
    tracer.detach(sink)
    assert tracer.enabled is False


def test_a_call_made_inside_another_is_its_child(tracer):
    sink = tracer.attach(CollectingSink())
    thread = FakeThread()
    guest_call = tracer.open(thread, PERSONALITY, "write", decoded={"fd": 1})
    nt_call = tracer.open(thread, NT, "NtWriteFile", decoded={})
    lpc_call = tracer.open(thread, LPC, "NtRequestWaitReplyPort", decoded={})
    tracer.close(thread, lpc_call, 0)
    tracer.close(thread, nt_call, 0)
    tracer.close(thread, guest_call, 5)
    assert [e.name for e in sink.events] == ["NtRequestWaitReplyPort", "NtWriteFile", "write"]
    assert nt_call.parent == guest_call.seq and lpc_call.parent == nt_call.seq
    assert guest_call.parent is None
    assert guest_call.seq < nt_call.seq < lpc_call.seq          # numbered when they start
    assert (guest_call.depth, nt_call.depth, lpc_call.depth) == (0, 1, 2)
    assert thread.trace_parent is None                          # nothing left open


def test_calls_after_a_completed_one_are_its_siblings(tracer):
    tracer.attach(CollectingSink())
    thread = FakeThread()
    outer = tracer.open(thread, PERSONALITY, "writev", decoded={})
    first = tracer.open(thread, NT, "NtWriteFile", decoded={})
    tracer.close(thread, first, 0)
    second = tracer.open(thread, NT, "NtWriteFile", decoded={})
    tracer.close(thread, second, 0)
    assert first.parent == second.parent == outer.seq


def test_each_thread_nests_its_own_calls(tracer):
    tracer.attach(CollectingSink())
    one, two = FakeThread(tid=1), FakeThread(tid=2)
    call_one = tracer.open(one, PERSONALITY, "read", decoded={})
    call_two = tracer.open(two, PERSONALITY, "write", decoded={})
    inner_one = tracer.open(one, NT, "NtReadFile", decoded={})
    assert inner_one.parent == call_one.seq
    assert call_two.parent is None


def test_a_note_is_a_child_of_the_open_call(tracer):
    sink = tracer.attach(CollectingSink())
    thread = FakeThread()
    call = tracer.open(thread, NT, "NtTerminateProcess", decoded={})
    note = tracer.note(thread, KERNEL, "PspExitProcess", {"ExitStatus": 0})
    assert note.parent == call.seq
    assert sink.events == [note]                                # delivered at once


def test_a_blocked_call_is_shown_pending_and_calls_while_blocked_do_not_nest_under_it(tracer):
    pending = []

    class Watcher(Sink):
        def pending(self, event):
            pending.append(event)

    tracer.attach(Watcher())
    sink = tracer.attach(CollectingSink())
    thread = FakeThread()
    read = tracer.open(thread, PERSONALITY, "read", decoded={})
    tracer.suspend(thread, read)
    assert pending == [read] and read.pending
    meanwhile = tracer.note(thread, KERNEL, "Signal", {})
    assert meanwhile.parent is None
    tracer.resume(thread, read)
    inner = tracer.open(thread, NT, "NtReadFile", decoded={})
    tracer.close(thread, inner, 0)
    tracer.close(thread, read, 3)
    assert inner.parent == read.seq
    assert read.pending is False
    assert sink.events[-1] is read


def test_events_carry_the_clock_and_the_ids_of_their_thread(tracer):
    tracer.attach(CollectingSink())
    event = tracer.open(FakeThread(pid=42, tid=43), NT, "NtClose", decoded={})
    assert (event.pid, event.tid) == (42, 43)
    later = tracer.open(FakeThread(), NT, "NtClose", decoded={})
    assert later.clock > event.clock


# --- declared arguments --------------------------------------------------------------------


def test_declared_arguments_are_decoded_by_their_type(tracer):
    tracer.attach(CollectingSink())
    flags = Flags({1: "READ", 2: "WRITE"}, exact={0: "NONE"})
    event = tracer.open(FakeThread(), NT, "Call", {"Address": 4096, "Mode": 3, "Other": 0},
                        (Arg("Address", Hex()), Arg("Mode", flags), Arg("Other", flags)))
    assert event.args == {"Address": "0x1000", "Mode": "READ|WRITE", "Other": "NONE"}


def test_an_output_buffer_is_decoded_after_the_call(tracer):
    class Memory:
        data = bytearray(b"before")

        def read(self, address, size):
            return bytes(self.data[:size])

    memory = Memory()
    tracer.attach(CollectingSink())
    thread = FakeThread(memory=memory)
    event = tracer.open(thread, PERSONALITY, "read", {"buf": 0x1000, "count": 6},
                        (Arg("buf", Buffer("result", output=True)), Arg("count")))
    memory.data[:] = b"after!"
    tracer.close(thread, event, 6)
    assert event.args["buf"] == '"after!"'


def test_a_bad_guest_pointer_does_not_break_tracing(tracer):
    class Memory:
        def read(self, address, size):
            raise RuntimeError("unmapped")

    tracer.attach(CollectingSink())
    thread = FakeThread(memory=Memory())
    event = tracer.open(thread, PERSONALITY, "write", {"buf": 0xDEAD, "count": 4},
                        (Arg("buf", Buffer("count")), Arg("count")))
    assert event.args["buf"] == "0xdead"


def test_bytes_are_shown_as_strace_shows_them():
    assert render_bytes(b'a\n\t"\\\x00') == '"a\\n\\t\\"\\\\\\x00"'
    assert render_bytes(b"x" * 40) == '"' + "x" * 32 + '"...'


# --- sinks ---------------------------------------------------------------------------------


def test_json_lines_are_valid_json_with_the_design_fields(tracer):
    stream = io.StringIO()
    tracer.attach(JsonLinesSink(stream))
    thread = FakeThread()
    outer = tracer.open(thread, PERSONALITY, "write", decoded={"fd": 1, "buf": '"hi"'})
    inner = tracer.open(thread, NT, "NtWriteFile", decoded={"Buffer": b"hi\n"})
    tracer.close(thread, inner, b"\x00bytes")
    tracer.close(thread, outer, -9, "EBADF")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    for record in records:
        assert DESIGN_FIELDS <= set(record)
    child, parent = records
    assert child["parent"] == parent["seq"] == outer.seq
    assert parent["parent"] is None
    assert (parent["result"], parent["error"]) == (-9, "EBADF")
    assert parent["args"] == {"fd": 1, "buf": '"hi"'}
    assert child["layer"] == NT and child["name"] == "NtWriteFile"


def test_the_strace_sink_prints_a_call_with_its_nt_calls_beneath(tracer):
    stream = io.StringIO()
    tracer.attach(StraceSink(stream))
    thread = FakeThread()
    write = tracer.open(thread, PERSONALITY, "write", decoded={"fd": 1})
    nt = tracer.open(thread, NT, "NtWriteFile", decoded={"FileHandle": "0x8"})
    tracer.close(thread, nt, 0)
    tracer.close(thread, write, 2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("write(1)") and lines[0].endswith("= 2")
    assert "[nt] NtWriteFile(FileHandle=0x8)" in lines[1]
    assert len(lines) == 2


def test_the_strace_sink_shows_a_blocked_call_unfinished_then_resumed(tracer):
    stream = io.StringIO()
    tracer.attach(StraceSink(stream))
    thread = FakeThread()
    read = tracer.open(thread, PERSONALITY, "read", decoded={"fd": 0})
    tracer.suspend(thread, read)
    tracer.resume(thread, read)
    tracer.close(thread, read, 5)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("<unfinished ...>")
    assert lines[1] == "<... read resumed> = 5"


def test_stats_count_calls_and_errors_per_layer(tracer):
    stats = tracer.attach(StatsSink())
    thread = FakeThread()
    for error in (None, "ENOENT", None):
        event = tracer.open(thread, PERSONALITY, "openat", decoded={})
        tracer.close(thread, event, 3 if error is None else -2, error)
    assert stats.calls[(PERSONALITY, "openat")] == 3
    assert stats.errors[(PERSONALITY, "openat")] == 1
    assert stats.per_layer() == {PERSONALITY: 3}


# --- a real run ----------------------------------------------------------------------------


def traced_run(tmp_path, program: str) -> tuple[list[dict], CapturedConsole]:
    """Run an example Linux program deterministically; its JSON-lines trace, parsed."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    shutil.copy(os.path.join(EXAMPLES, program), root / program)
    console = CapturedConsole()
    machine = Machine(str(root), deterministic=True, console=console)
    stream = io.StringIO()
    machine.add_sink(JsonLinesSink(stream))
    machine.load(str(root / program), env={}, argv0=program)
    assert machine.run() == 0
    return [json.loads(line) for line in stream.getvalue().splitlines()], console


@pytest.mark.parametrize("program", ["hello", "fileops"])
def test_a_real_trace_is_well_formed(tmp_path, program):
    events, _ = traced_run(tmp_path, program)
    seqs = [e["seq"] for e in events]
    assert len(set(seqs)) == len(seqs)
    by_seq = {e["seq"]: e for e in events}
    for event in events:
        assert DESIGN_FIELDS <= set(event)
        assert event["layer"] in LAYERS
        if event["parent"] is not None:
            assert event["parent"] in by_seq                 # a parent is always delivered
            assert event["parent"] < event["seq"]            # and started first


def test_nt_calls_nest_under_the_guest_call_that_made_them(tmp_path):
    events, console = traced_run(tmp_path, "hello")
    assert console.stdout == b"Hello from Linux, via the NT kernel!\n"
    by_seq = {e["seq"]: e for e in events}
    (nt_write,) = [e for e in events if e["name"] == "NtWriteFile"]
    guest_call = by_seq[nt_write["parent"]]
    assert guest_call["layer"] == PERSONALITY and guest_call["name"] in ("write", "writev")
    lpc = [e for e in events if e["layer"] == LPC and e["parent"] == nt_write["seq"]]
    assert [e["name"] for e in lpc] == ["NtRequestWaitReplyPort"]
    server = [e for e in events if e["layer"] == SERVER and e["parent"] == lpc[0]["seq"]]
    assert [e["name"] for e in server] == ["ConsoleWrite"]


@pytest.mark.parametrize("program", ["hello", "fileops"])
def test_a_deterministic_run_gives_the_same_trace_every_time(tmp_path, program):
    first, _ = traced_run(tmp_path, program)
    second, _ = traced_run(tmp_path, program)
    assert first == second


# --- detail: starts, the guest's traps, kernel details ---------------------------------------


def detailed_run(program: str, args: list[str] | None = None, **sink_options):
    """Run an example with a detail sink (and a plain one beside it)."""
    machine = Machine(EXAMPLES, deterministic=True, console=CapturedConsole())
    detail = machine.add_sink(CollectingSink(detail=True))
    plain = machine.add_sink(CollectingSink())
    machine.load(os.path.join(EXAMPLES, program), args, env={}, argv0=program)
    assert machine.run() == 0
    return machine, detail, plain


def test_each_guest_call_starts_with_its_trap_in_the_guest_layer():
    _, detail, plain = detailed_run("hello")
    events = sorted(detail.events, key=lambda e: e.seq)
    traps = [e for e in events if e.layer == GUEST]
    calls = [e for e in events if e.layer == PERSONALITY and e.name != "execve"]
    assert len(traps) == len(calls) > 3
    following = {e.seq: e for e in events}
    for trap in traps:
        call = following[trap.seq + 1]            # the call the trap entered, next in order
        assert call.layer == PERSONALITY and trap.args["call"] == call.name
        assert trap.name == "syscall" and trap.parent is None
        assert (trap.pid, trap.tid) == (call.pid, call.tid)
    # x86-64 Linux numbers, from the kernel's syscall_64.tbl
    numbers = {trap.args["call"]: int(trap.args["number"], 16) for trap in traps}
    assert numbers["writev"] == 20 and numbers["exit_group"] == 231
    assert not [e for e in plain.events if e.layer == GUEST]       # only detail sinks pay


def test_a_call_is_seen_when_it_starts_as_well_as_when_it_ends():
    machine = Machine(EXAMPLES, deterministic=True, console=CapturedConsole())
    order = []
    machine.add_sink(CallbackSink(lambda e: order.append(("end", e.name, e.result)),
                                  on_start=lambda e: order.append(("start", e.name, e.result))))
    machine.load(HELLO, env={}, argv0="hello")
    assert machine.run() == 0
    names = [(phase, name) for phase, name, _ in order]
    start = names.index(("start", "writev"))
    assert names[start:start + 2] == [("start", "writev"), ("start", "NtWriteFile")]
    assert names.index(("end", "NtWriteFile")) < names.index(("end", "writev"))
    assert order[start][2] is None                                    # no result yet
    assert [r for phase, name, r in order if (phase, name) == ("end", "writev")] == [37]


def test_the_detailed_json_lines_say_start_and_end(tmp_path):
    stream = io.StringIO()
    machine = Machine(EXAMPLES, deterministic=True, console=CapturedConsole())
    machine.add_sink(JsonLinesSink(stream, detail=True))
    plain_stream = machine.add_sink(JsonLinesSink(io.StringIO())).stream
    machine.load(HELLO, env={}, argv0="hello")
    assert machine.run() == 0
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {r["phase"] for r in records} == {"start", "end"}
    starts = {r["seq"]: r for r in records if r["phase"] == "start"}
    ends = {r["seq"]: r for r in records if r["phase"] == "end"}
    writev = next(r for r in starts.values() if r["name"] == "writev")
    assert writev["result"] is None and ends[writev["seq"]]["result"] == 37
    assert writev["args"]["fd"] == ends[writev["seq"]]["args"]["fd"] == 1
    assert set(starts) < set(ends)                 # every start ends; detail events only end
    assert all(DESIGN_FIELDS <= set(r) for r in records)
    plain = [json.loads(line) for line in plain_stream.getvalue().splitlines()]
    assert plain and all("phase" not in r for r in plain) and not [r for r in plain if r["layer"] == GUEST]


def test_context_switches_are_detail_events():
    machine, detail, plain = detailed_run("spawnloop", ["2"])
    switches = [e for e in detail.events if e.name == "KiSwapContext"]
    assert all(e.args["NewThreadId"] == e.tid and e.args["NewProcessId"] == e.pid for e in switches)
    children = {p.pid for p in machine.processes() if p.name == "spawnloop"} - {machine.first_process.pid}
    assert len(children) == 2
    # the parent hands the processor to each child, and gets it back when it exits
    assert children <= {e.pid for e in switches if e.args["OldProcessId"] == machine.first_process.pid}
    assert children <= {e.args["OldProcessId"] for e in switches if e.pid == machine.first_process.pid}
    assert not [e for e in plain.events if e.name == "KiSwapContext"]


def test_lpc_messages_taken_are_detail_events():
    _, detail, plain = detailed_run("hello")
    by_seq = {e.seq: e for e in detail.events}
    taken = [e for e in detail.events if e.layer == LPC and e.name == "LpcMessageTaken"]
    assert taken
    request = by_seq[taken[0].parent]            # taken by CSRSS while the client waits
    assert request.name == "NtRequestWaitReplyPort"
    assert taken[0].args["MessageId"] == request.args["MessageId"]
    assert not [e for e in plain.events if e.name == "LpcMessageTaken"]


def test_a_changed_memory_figure_is_a_detail_event():
    machine, detail, _ = detailed_run("mapping")
    guest = machine.first_process
    figures = [e for e in detail.events if e.name == "MmProcessMemory" and e.pid == guest.pid]
    committed = [e.args["Committed"] for e in figures]
    assert len(set(committed)) > 2                          # mmap and munmap change it
    shown = [tuple(e.args.values()) for e in figures]
    assert all(shown[i] != shown[i + 1] for i in range(len(shown) - 1))   # only when changed
    assert all(e.args["Reserved"] >= e.args["Committed"] for e in figures)


def test_sinks_attach_and_detach_while_the_machine_runs():
    machine = Machine(EXAMPLES, deterministic=True, console=CapturedConsole())
    later = CollectingSink()
    seen = []

    def first(event):
        seen.append(event.name)
        if event.name == "writev":
            machine.remove_sink(sink)                # from inside a delivery
            machine.add_sink(later)

    sink = machine.on_event(first)
    machine.load(HELLO, env={}, argv0="hello")
    assert machine.run() == 0 and machine.console.stdout.startswith(b"Hello")
    assert "writev" in seen and "exit_group" not in seen
    names = [e.name for e in later.events]
    assert "exit_group" in names and "writev" not in names
    machine.remove_sink(sink)                                # detaching twice is harmless
    assert machine.kernel.tracer.sinks == (later,)


def test_detail_events_cost_nothing_without_a_detail_sink(tracer):
    tracer.attach(CollectingSink())
    assert tracer.detailed is False
    assert tracer.detail(FakeThread(), KERNEL, "MiDemandZeroFault", {"Address": "0x1000"}) is None
    detail = tracer.attach(CollectingSink(detail=True))
    assert tracer.detailed is True
    event = tracer.detail(FakeThread(), KERNEL, "MiDemandZeroFault", {"Address": "0x1000"})
    assert detail.events == [event]


def test_page_faults_the_memory_manager_resolves_are_detail_events():
    """bigmem lazy 8 maps 8 MiB, writes 4 pages and reads 2 others, far apart but for
    two in one 64 KiB cluster (a fault maps its cluster's pages ahead of use): 5 faults,
    on 5 pages, and exactly the 6 pages used count as touched. A plain sink sees no
    fault."""
    with tempfile.TemporaryDirectory() as root:
        shutil.copy2(os.path.join(EXAMPLES, "bigmem"), root)
        machine = Machine(root, deterministic=True, console=CapturedConsole())
        detail = machine.add_sink(CollectingSink(detail=True))
        plain = machine.add_sink(CollectingSink())
        machine.load(os.path.join(root, "bigmem"), ["lazy", "8"], env={}, argv0="bigmem")
        assert machine.run() == 0
    mapping = next(e for e in detail.events if e.name == "mmap" and e.args.get("length") == 8 << 20)
    base = mapping.result
    faults = [int(e.args["Address"], 16) for e in detail.events if e.name == "MiDemandZeroFault"]
    inside = [address for address in faults if base <= address < base + (8 << 20)]
    assert len(inside) == 5 and len({address >> 12 for address in inside}) == 5
    mapping_vad = machine.first_process.memory.find(base)
    assert machine.first_process.memory.touched_pages(mapping_vad) == 6
    assert not [e for e in plain.events if e.name.startswith("Mi")]


def test_writes_after_fork_are_copy_on_write_faults_in_both_processes():
    with tempfile.TemporaryDirectory() as root:
        shutil.copy2(os.path.join(EXAMPLES, "bigmem"), root)
        machine = Machine(root, deterministic=True, console=CapturedConsole())
        detail = machine.add_sink(CollectingSink(detail=True))
        machine.load(os.path.join(root, "bigmem"), ["fork", "1"], env={}, argv0="bigmem")
        assert machine.run() == 0, machine.console.stdout + machine.console.stderr
    copies = [e for e in detail.events if e.name == "MiCopyOnWriteFault"]
    by_process = {e.args["ProcessId"] for e in copies}
    assert len(by_process) == 2
    # each side wrote one byte in each of the 256 pages of the 1 MiB mapping after the fork
    assert all(sum(1 for e in copies if e.args["ProcessId"] == pid) >= 256 for pid in by_process)
