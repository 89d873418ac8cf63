"""Between the machine's thread and the UI's: rows, a bounded buffer, and sessions.

The emulator never touches a widget. Its trace sink turns each crossing into a `Row` (plain
values, made in the machine's thread) and appends it to an `EventBuffer`, a bounded deque;
the UI drains the buffer about 30 times a second and draws each batch at once. If the UI
falls behind, the oldest undrawn rows are dropped and counted (`dropped`): the machine
never waits for the screen.

A *session* is what a screen shows and drives: `LiveSession` a machine in its own thread
(controller.py), `RecordedSession` a trace and a snapshot saved to a file (the snapshot
tests, and a teacher's prepared example). Both deliver to the app by `post_message`, the
one thread-safe door into Textual.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .. import snapshot as snap
from ..trace import GUEST, LAYERS, PERSONALITY, Event, Sink, _jsonable, format_result

BUFFER_LIMIT = 200_000


class Row:
    """One crossing as the UI shows it. `phase`: "start" (it began: arguments, no result
    yet), "end" (it completed) or "note" (a crossing with no duration)."""

    __slots__ = ("seq", "phase", "pid", "tid", "layer", "name", "args", "result", "error",
                 "parent", "depth", "clock")

    def __init__(self, seq: int, phase: str, pid: int, tid: int, layer: str, name: str,
                 args: str, result: str, error: str | None, parent: int | None, depth: int,
                 clock: int) -> None:
        self.seq, self.phase, self.pid, self.tid = seq, phase, pid, tid
        self.layer, self.name, self.args, self.result = layer, name, args, result
        self.error, self.parent, self.depth, self.clock = error, parent, depth, clock

    @classmethod
    def of(cls, event: Event, phase: str) -> Row:
        args = ", ".join(f"{k}={_short(v)}" for k, v in event.args.items()) if event.args else ""
        silent = phase == "start" or (event.instant and event.result is None)
        result = "" if silent else format_result(event)
        return cls(event.seq, phase, event.pid, event.tid, event.layer, event.name, args,
                   result, event.error, event.parent, event.depth, event.clock)

    def to_list(self) -> list[Any]:
        return [getattr(self, name) for name in self.__slots__]

    @classmethod
    def from_list(cls, values: list[Any]) -> Row:
        return cls(*values)

    def line(self) -> str:
        """strace's shape, with the layer and the pid: `[pid 28] [nt] NtWriteFile(...) = 0`."""
        result = f" = {self.result}" if self.phase != "start" and self.result != "" else ""
        if self.phase == "start":
            result = " ..."
        return f"[pid {self.pid:>4}] [{self.layer}] {'  ' * self.depth}{self.name}({self.args}){result}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class EventBuffer:
    """A bounded buffer of rows: appended by the machine's thread, drained by the UI's."""

    def __init__(self, limit: int = BUFFER_LIMIT) -> None:
        self._rows: deque[Row] = deque()
        self.limit = limit
        self.appended = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def append(self, row: Row) -> None:
        rows = self._rows
        rows.append(row)
        self.appended += 1
        if len(rows) > self.limit:
            with self._lock:
                while len(rows) > self.limit:
                    rows.popleft()
                    self.dropped += 1

    def extend(self, rows: list[Row]) -> None:
        for row in rows:
            self.append(row)

    def drain(self, most: int = 20_000) -> list[Row]:
        """Up to `most` rows, oldest first (the UI's timer calls this)."""
        out = []
        rows = self._rows
        with self._lock:
            while rows and len(out) < most:
                out.append(rows.popleft())
        return out

    def __len__(self) -> int:
        return len(self._rows)


class UiSink(Sink):
    """The UI's trace sink (a detail sink: it sees crossings start, and the guest's
    traps, page faults and context switches): rows into the buffer, nothing else."""

    detail = True

    def __init__(self, buffer: EventBuffer) -> None:
        self.buffer = buffer
        self.started: set[int] = set()

    def start(self, event: Event) -> None:
        self.started.add(event.seq)
        self.buffer.append(Row.of(event, "start"))

    def event(self, event: Event) -> None:
        if event.seq in self.started:
            self.started.discard(event.seq)
            self.buffer.append(Row.of(event, "end"))
        else:
            self.buffer.append(Row.of(event, "note"))


def lanes_of(layers: list[str]) -> list[str]:
    """The sequence view's lanes: the trace's layers in their order (guest → personality →
    LPC → server → NT → kernel, and the VM), then any other layer a new personality
    uses, in the order first seen."""
    known = [layer for layer in LAYERS]
    return known + [layer for layer in layers if layer not in known]


# --- the console's output, for the UI ---------------------------------------------------------

from ..subsystems.windows.csrss import CapturedConsole  # noqa: E402


class UiConsole(CapturedConsole):
    """The guest's console in the TUI: output kept (bounded) for the console pane,
    input typed in the TUI. Never the host terminal (Textual owns that)."""

    LIMIT = 1 << 20

    def __init__(self) -> None:
        super().__init__(b"")
        self.version = 0

    def write(self, stream: int, data: bytes) -> int:
        output = self.output[stream]
        output += data
        if len(output) > self.LIMIT:
            del output[:len(output) - self.LIMIT]
        self.version += 1
        return len(data)



def _interleaved(console: UiConsole) -> str:
    return bytes(console.output[1]).decode("utf-8", "replace") + \
        (("\n" + bytes(console.output[2]).decode("utf-8", "replace")) if console.output[2] else "")


# --- sessions -----------------------------------------------------------------------------------


class Session:
    """What a screen shows and drives. Subclasses fill in the machine side."""

    title = ""
    live = False

    def __init__(self) -> None:
        self.buffer = EventBuffer()
        self.state = "idle"
        self.stop: Any = None
        self.post: Callable[[Any], None] = lambda message: None   # set by the app
        self.layer_goal: str | None = None      # F8's layer (None: any)

    # what the app calls; the live session overrides
    def start(self) -> None: ...
    def run(self) -> None: ...
    def pause(self) -> None: ...
    def step(self, count: int = 1, tid: int | None = None) -> None: ...
    def step_over(self, tid: int | None = None) -> None: ...
    def run_to(self, layer: str | None) -> None: ...
    def restart(self) -> None: ...
    def console_control(self, event: int = 0) -> None: ...
    def close(self) -> None: ...
    def break_on(self, layer: str, name: str) -> str: return "a recorded session has no machine"
    def break_at(self, pid: int, address: int) -> str: return "a recorded session has no machine"
    def watch_page(self, pid: int, address: int) -> str: return "a recorded session has no machine"
    def request_snapshot(self) -> None: ...
    def request_disassembly(self, pid: int, tid: int | None) -> None: ...
    def console_text(self) -> str: return ""


class LiveSession(Session):
    """A machine in its own thread, running `program args` (under `personality`)."""

    live = True

    def __init__(self, program: str, args: list[str] | None = None, *, root: str = ".",
                 personality: str | None = None, deterministic: bool = False,
                 count_instructions: bool = False) -> None:
        super().__init__()
        self.program, self.args = program, list(args or [])
        self.root, self.personality = root, personality
        self.deterministic, self.count_instructions = deterministic, count_instructions
        self.title = " ".join([os.path.relpath(program) if os.path.isabs(program) else program,
                               *self.args])
        self.controller: Any = None
        self.console: UiConsole | None = None
        self.error: str | None = None
        self.first_guest_call_instructions: int | None = None
        self._starting: threading.Thread | None = None
        self._pending: list[tuple[str, dict]] = []
        self._boot_lock = threading.Lock()
        self._booted = False

    def _make_machine(self):
        from ..machine import Machine
        self.console = UiConsole()
        self.first_guest_call_instructions = None
        machine = Machine(self.root, deterministic=self.deterministic, console=self.console,
                          count_instructions=self.count_instructions)
        if self.count_instructions:
            machine.add_sink(_FirstCallSink(self, machine))
        return machine

    def _load(self, machine):
        return machine.load(self.program, self.args, personality=self.personality)

    def start(self) -> None:
        """Boot the machine and load the program in the background (the UI paints
        meanwhile); the state message says when it is ready. A second call does nothing."""
        if self._starting is not None:
            return
        from ..controller import Controller
        self.controller = Controller(self._make_machine, self._load, on_state=self._on_state,
                                     on_event=UiSink(self.buffer))
        self.state = "starting"
        self._starting = threading.Thread(target=self._boot, name="ntsim-boot", daemon=True)
        self._starting.start()

    def _boot(self) -> None:
        try:
            self.controller.start()
        except Exception as error:       # noqa: BLE001 - shown, never a traceback
            self.error = _one_line(error)
            self.state = "error"
            self.controller = None
            self.post(("state", "error", None))
            return
        with self._boot_lock:
            self._booted = True
            for command, args in self._pending:
                self.controller.submit(command, **args)
            self._pending.clear()
        self.request_snapshot()

    def wait_started(self, timeout: float = 30) -> None:
        if self._starting is not None:
            self._starting.join(timeout)

    def _on_state(self, state: str, stop: Any) -> None:     # the machine's thread
        self.state, self.stop = state, stop
        self.post(("state", state, stop))
        if state != "running":
            self.request_snapshot()

    def _ask(self, command: str, /, **args: Any):
        with self._boot_lock:
            if not self._booted:
                if self._starting is not None and command in ("run", "run_to", "break"):
                    self._pending.append((command, args))     # asked before it booted
                return None
        if self.controller is None:
            return None
        return self.controller.submit(command, **args)

    def run(self) -> None:
        self._ask("run")

    def pause(self) -> None:
        if self.controller is not None:
            self.controller.pause()

    def step(self, count: int = 1, tid: int | None = None) -> None:
        self._done(self._ask("step", count=count, tid=tid))

    def step_over(self, tid: int | None = None) -> None:
        self._done(self._ask("step_over", tid=tid))

    def run_to(self, layer: str | None) -> None:
        self._ask("run_to", layer=layer)

    def restart(self) -> None:
        self._done(self._ask("restart"))

    def console_control(self, event: int = 0) -> None:
        self._done(self._ask("console_control", event=event))

    def _done(self, future) -> None:
        """Report a command's failure (a thread that cannot step) as a notification."""
        if future is None:
            return

        def report(done) -> None:
            error = done.exception()
            if error is not None:
                self.post(("notify", _one_line(error)))

        future.add_done_callback(report)

    def break_on(self, layer: str, name: str) -> str:
        future = self._ask("break", layer=layer, name=name)
        self._done(future)
        return f"breakpoint on {layer or '*'}:{name}"

    def break_at(self, pid: int, address: int) -> str:
        future = self._ask("break", pid=pid, address=address)
        self._done(future)
        return f"breakpoint at pid {pid} {address:#x}"

    def watch_page(self, pid: int, address: int) -> str:
        future = self._ask("watch", pid=pid, address=address)
        self._done(future)
        return f"watching the page of {address:#x} in pid {pid} for writes"

    def request_snapshot(self) -> None:
        future = self._ask("snapshot")
        if future is None:
            return

        def deliver(done) -> None:
            if done.exception() is None:
                self.post(("snapshot", done.result()))

        future.add_done_callback(deliver)

    def request_disassembly(self, pid: int, tid: int | None) -> None:
        future = self._ask("disassemble", pid=pid, tid=tid, count=24)
        if future is None:
            return

        def deliver(done) -> None:
            if done.exception() is None:
                self.post(("disassembly", pid, done.result()))

        future.add_done_callback(deliver)

    def console_text(self) -> str:
        return _interleaved(self.console) if self.console is not None else ""

    def close(self) -> None:
        if self._starting is not None:
            self._starting.join(30)
        if self.controller is not None:
            self.controller.quit(timeout=2)
            self.controller = None


class _FirstCallSink(Sink):
    """Notes how many instructions the guest ran before its first call reached the
    personality (the C library's start-up, or a DOS program's first INT 21h)."""

    detail = True

    def __init__(self, session: LiveSession, machine: Any) -> None:
        self.session, self.machine = session, machine

    def start(self, event: Event) -> None:
        # (the loader's own crossings — execve, the image's sections — come before any
        # instruction: the first call is the first one made after the guest has run)
        if event.layer in (GUEST, PERSONALITY) and self.session.first_guest_call_instructions is None:
            executed = self.machine.kernel.instructions_executed()
            if executed:
                self.session.first_guest_call_instructions = executed
                self.machine.remove_sink(self)

    event = start           # the guest's trap is a detail event: it comes this way


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class RecordedSession(Session):
    """A recorded run: rows, one snapshot, the disassembly at its PC, the console's text."""

    def __init__(self, rows: list[Row], snapshot: snap.MachineSnapshot | None,
                 disassembly: tuple = (), console: str = "", title: str = "recorded") -> None:
        super().__init__()
        self.rows, self.snapshot, self.disassembly = rows, snapshot, disassembly
        self.console, self.title = console, title
        self.state = snapshot.state if snapshot is not None else "paused"
        self.stop = snapshot.stop if snapshot is not None else None

    def start(self) -> None:
        self.buffer.extend(self.rows)
        self.post(("state", self.state, self.stop))
        if self.snapshot is not None:
            self.post(("snapshot", self.snapshot))

    def request_snapshot(self) -> None:
        if self.snapshot is not None:
            self.post(("snapshot", self.snapshot))

    def request_disassembly(self, pid: int, tid: int | None) -> None:
        self.post(("disassembly", pid, self.disassembly))

    def console_text(self) -> str:
        return self.console

    def run(self) -> None:
        self.post(("notify", "a recorded session: nothing to run"))

    step = step_over = restart = lambda self, *a, **k: self.post(("notify", "a recorded session: nothing to run"))


# --- recordings (JSON) ------------------------------------------------------------------------


def record(path: str, rows: list[Row], snapshot: snap.MachineSnapshot, disassembly: tuple,
           console: str, title: str, first_guest_call_instructions: int | None = None) -> None:
    """Save a session for later (the snapshot tests are fed these)."""
    data = {"title": title, "console": console,
            "first_guest_call_instructions": first_guest_call_instructions,
            "rows": [row.to_list() for row in rows],
            "snapshot": _plain(snapshot), "disassembly": [_plain(i) for i in disassembly]}
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(data, stream, separators=(",", ":"))
        stream.write("\n")


def load_recording(path: str) -> RecordedSession:
    with open(path, encoding="utf-8") as stream:
        data = json.load(stream)
    snapshot = _snapshot_from(data["snapshot"]) if data.get("snapshot") else None
    disassembly = tuple(snap.Instruction(i["address"], i["size"], i["mnemonic"], i["operands"],
                                         bytes.fromhex(i["data"])) for i in data["disassembly"])
    session = RecordedSession([Row.from_list(r) for r in data["rows"]], snapshot, disassembly,
                              data.get("console", ""), data.get("title", "recorded"))
    session.first_guest_call_instructions = data.get("first_guest_call_instructions")
    return session


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        out = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name == "event":                 # Stop.event: what the UI needs of it
                item = None if item is None else {"seq": item.seq, "layer": item.layer,
                                                  "name": item.name}
            out[f.name] = _plain(item)
        return out
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _EventRef:
    """What a recording keeps of the crossing a stop was in."""

    def __init__(self, seq: int, layer: str, name: str) -> None:
        self.seq, self.layer, self.name = seq, layer, name


def _snapshot_from(data: dict) -> snap.MachineSnapshot:
    from ..controller import Stop

    def thread(t):
        return snap.ThreadSnapshot(t["tid"], t["state"], t["wait_reason"], t["mode"],
                                   tuple(tuple(r) for r in t["registers"]), t["pc"],
                                   t["linear_pc"], t["host"])

    def process(p):
        return snap.ProcessSnapshot(
            p["pid"], p["parent"], p["name"], p["personality"], tuple(p["servers"]),
            p["is_server"], p["alive"], p["exit_status"], p["mode"],
            tuple(thread(t) for t in p["threads"]),
            tuple(snap.VadSnapshot(**v) for v in p["vads"]),
            tuple(snap.HandleSnapshot(**h) for h in p["handles"]),
            p["reserved"], p["committed"], p["touched"], p["instructions"])

    stop = data.get("stop")
    if stop is not None:
        event = stop.get("event")
        stop = Stop(stop["reason"], stop["pid"], stop["tid"],
                    _EventRef(**event) if event else None, stop["detail"])
    screen = data.get("screen")
    return snap.MachineSnapshot(
        data["state"], stop, tuple(process(p) for p in data["processes"]),
        tuple(snap.PortSnapshot(p["name"], p["server_pid"], p["server"],
                                tuple(snap.MessageSnapshot(**m) for m in p["queued"]),
                                p["clients"]) for p in data["ports"]),
        tuple((name, tuple(snap.CallTableRow(r["number"], r["name"], tuple(r["arguments"]),
                                             r["level"]) for r in rows))
              for name, rows in data["call_tables"]),
        (), snap.ScreenSnapshot(screen["columns"], screen["rows"], bytes.fromhex(screen["cells"]),
                                tuple(screen["cursor"]), screen["version"]) if screen else None,
        data["clock_ns"], data["instructions"])


__all__ = ["Row", "EventBuffer", "UiSink", "UiConsole", "Session", "LiveSession",
           "RecordedSession", "record", "load_recording", "lanes_of"]
