"""The trace: one event per boundary crossing, and the sinks that show them.

A guest `write` crosses several boundaries: guest → personality (the trap), personality
→ NT service (NtWriteFile), the console device → LPC → CSRSS (server) → host. Each
crossing is one :class:`Event`. Events nest: `parent` is the `seq` of the crossing that
caused this one, so a sink can print the NT calls a Linux call made underneath it.

Arguments are *declared* once per call as :class:`Arg` rows with an :class:`ArgType`;
the tracer decodes them (strings from guest memory, flag names, handle names) only when
some sink listens. With no sink, `Tracer.enabled` is False and callers skip all of it.

Two levels of detail. Every sink gets each crossing as it completes (`Sink.event`), and
a call that blocks as it blocks (`Sink.pending`). A sink with `detail = True` — a
stepping TUI, `JsonLinesSink(stream, detail=True)` — also gets each crossing as it
*starts* (`Sink.start`: a call is shown before it completes), and the fine-grained
events nobody else pays for: the guest's trap itself (layer `guest`), context switches,
page faults, changes of a process's memory figures, LPC messages queued and taken.
Kernel code emits those through :meth:`Tracer.detail`, which returns at once while no
detail sink is attached (guard argument-building with `if tracer.detailed:`).

Sinks may be attached and detached at any time, from any callback, while a machine
runs: the tracer delivers to a snapshot taken when the set of sinks last changed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

# The layers a call can belong to, outermost first (DESIGN.md, "Trace events").
GUEST, PERSONALITY, LPC, SERVER, NT, KERNEL, VM = (
    "guest", "personality", "lpc", "server", "nt", "kernel", "vm")
LAYERS = (GUEST, PERSONALITY, LPC, SERVER, NT, KERNEL, VM)


class Event:
    """One boundary crossing. `result` is the call's value, `error` its error name."""

    # What a crossing starts with (class defaults: an event is made for every traced
    # call, and each attribute not stored is time saved)
    result: Any = None
    error: str | None = None
    parent: int | None = None
    depth = 0
    pending = False
    _decode: Any = None

    def __init__(self, seq: int, clock: int, pid: int, tid: int, layer: str, name: str,
                 args: dict[str, Any], outer: Event | None) -> None:
        self.seq = seq
        self.clock = clock
        self.pid = pid
        self.tid = tid
        self.layer = layer
        self.name = name
        self.args = args
        # the crossing that caused this one, how deep it nests, and the outermost one
        self._outer = outer
        if outer is None:
            self.root = seq
        else:
            self.parent = outer.seq
            self.depth = outer.depth + 1
            self.root = outer.root

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "clock": self.clock, "pid": self.pid, "tid": self.tid,
                "layer": self.layer, "name": self.name, "args": self.args,
                "result": _jsonable(self.result), "error": self.error, "parent": self.parent}

    def __repr__(self) -> str:
        return f"<Event #{self.seq} {self.layer}:{self.name} -> {self.result!r}>"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        name = getattr(value, "name", None)
        return name if isinstance(name, str) else int(value)
    if isinstance(value, bytes | bytearray):
        return render_bytes(bytes(value))
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


# --- argument types -------------------------------------------------------------------------


class DecodeContext:
    """What an argument decoder may look at: the calling process and the raw arguments."""

    def __init__(self, process: Any, raw: dict[str, Any], result: Any = None) -> None:
        self.process = process
        self.raw = raw
        self.result = result

    def read(self, address: int, size: int) -> bytes:
        return self.process.memory.read(address, size)

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        return self.process.memory.read_cstring(address, limit)


class ArgType:
    """How to show one argument. Subclasses override `decode`; `output` ones decode after
    the call (a read's buffer holds data only once the read is done)."""

    output = False

    def decode(self, value: Any, ctx: DecodeContext) -> Any:
        return _jsonable(value)


class Int(ArgType):
    def decode(self, value, ctx):
        value = int(value)
        return value - (1 << 64) if value >= 1 << 63 else value


class Int32(ArgType):
    def decode(self, value, ctx):
        value = int(value) & 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value


class Hex(ArgType):
    def decode(self, value, ctx):
        return hex(int(value))


Pointer = Hex


class Quoted(str):
    """A string argument: printed in quotes, as strace prints paths."""


class CString(ArgType):
    """A NUL-terminated string in guest memory."""

    def decode(self, value, ctx):
        if not value:
            return None
        try:
            return Quoted(ctx.read_cstring(int(value)).decode("utf-8", "backslashreplace"))
        except Exception:
            return hex(int(value))


class Buffer(ArgType):
    """A byte buffer in guest memory whose length is another argument (or the result)."""

    def __init__(self, length: str, output: bool = False) -> None:
        self.length = length
        self.output = output

    def decode(self, value, ctx):
        size = ctx.result if self.length == "result" else ctx.raw.get(self.length, 0)
        if not isinstance(size, int) or size < 0 or not value:
            return hex(int(value or 0))
        try:
            return render_bytes(ctx.read(int(value), min(size, 64)), size)
        except Exception:
            return hex(int(value))


class Flags(ArgType):
    """A bit set shown as NAME|NAME; `exact` values match before bits (O_RDONLY is 0)."""

    def __init__(self, bits: dict[int, str], exact: dict[int, str] | None = None,
                 mask: int = 0) -> None:
        self.bits = bits
        self.exact = exact or {}
        self.mask = mask

    def decode(self, value, ctx):
        value = int(value)
        names = []
        if self.mask:
            names.append(self.exact.get(value & self.mask, hex(value & self.mask)))
            value &= ~self.mask
        elif value in self.exact:
            return self.exact[value]
        for bit, name in self.bits.items():
            if value & bit == bit and bit:
                names.append(name)
                value &= ~bit
        if value:
            names.append(hex(value))
        return "|".join(names) or "0"


class Enum(ArgType):
    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    def decode(self, value, ctx):
        return self.names.get(int(value), int(value))


class Raw(ArgType):
    """A Python value passed between layers (NT services take Python values)."""


def render_bytes(data: bytes, total: int | None = None, limit: int = 32) -> str:
    """strace's way: a C-escaped string, cut at `limit` bytes with '...' after."""
    total = len(data) if total is None else total
    shown = data[:limit]
    out = []
    for byte in shown:
        char = chr(byte)
        if char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char in "\"\\":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"' + ("..." if total > limit else "")


@dataclass(frozen=True)
class Arg:
    """One declared argument of a call: its name and how to show it."""

    name: str
    type: ArgType = field(default_factory=Int)


# --- the tracer -----------------------------------------------------------------------------


class Sink:
    """Something that listens to events. Override what you need.

    `detail = True` asks for `start` calls and for detail events too (see the module's
    docstring); they cost the machine nothing while no attached sink asks."""

    detail = False

    def event(self, event: Event) -> None:  # a crossing completed
        pass

    def start(self, event: Event) -> None:  # a crossing started (detail sinks only)
        pass

    def pending(self, event: Event) -> None:  # a crossing is blocked and will resume later
        pass

    def close(self) -> None:
        pass


class Tracer:
    """Numbers crossings, keeps the clock on them, and hands them to the sinks.

    `open` starts a crossing (seq is taken then, so a parent's seq is below its
    children's); `close` completes it and delivers it. Parents are tracked per thread
    through `thread.trace_parent` (the innermost open event of that thread), so
    interleaved threads nest correctly.
    """

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.sinks: tuple[Sink, ...] = ()
        self._deliver: tuple[Callable[[Event], None], ...] = ()   # each sink's `event`
        self._pending: tuple[Callable[[Event], None], ...] = ()   # each sink's `pending`
        self._starts: tuple[Callable[[Event], None], ...] = ()    # detail sinks' `start`
        self._details: tuple[Callable[[Event], None], ...] = ()   # detail sinks' `event`
        self.enabled = False      # some sink listens: callers build events
        self.detailed = False     # some sink wants detail events: callers build those too
        self.seq = 0

    def attach(self, sink: Sink) -> Sink:
        """Start delivering to `sink` (safe while the machine runs, even from a sink)."""
        if sink not in self.sinks:
            self._use((*self.sinks, sink))
        return sink

    def detach(self, sink: Sink) -> None:
        """Stop delivering to `sink` (safe at any time; a sink not attached is ignored).
        Crossings still open complete and go to the sinks attached then."""
        if sink in self.sinks:
            self._use(tuple(s for s in self.sinks if s is not sink))

    def _use(self, sinks: tuple[Sink, ...]) -> None:
        # New tuples, never changed in place: a delivery loop running now keeps its own.
        detail = tuple(s for s in sinks if s.detail)
        self._deliver = tuple(s.event for s in sinks)
        self._pending = tuple(s.pending for s in sinks)
        self._starts = tuple(s.start for s in detail)
        self._details = tuple(s.event for s in detail)
        self.sinks = sinks
        self.detailed = bool(detail)
        self.enabled = bool(sinks)

    def open(self, thread: Any, layer: str, name: str, raw: dict[str, Any] | None = None,
             types: Sequence[Arg] = (), *, decoded: dict[str, Any] | None = None) -> Event:
        self.seq = seq = self.seq + 1
        if thread is None:
            outer, process, pid, tid = None, None, 0, 0
        else:
            outer, process, tid = thread.trace_parent, thread.process, thread.tid
            pid = process.pid
        args = decoded if decoded is not None else {}
        out_types = None
        if types and raw is not None:
            context = DecodeContext(process, raw)
            for arg in types:
                if arg.type.output:
                    out_types = (out_types or []) + [arg]
                    args[arg.name] = None
                else:
                    args[arg.name] = _safe_decode(arg, raw, context)
        event = Event(seq, self.clock(), pid, tid, layer, name, args, outer)
        if out_types:
            # decoded once the call is done: a read's buffer holds data only then
            event._decode = (raw, out_types, process)
        if thread is not None:
            thread.trace_parent = event
        if self._starts:
            for start in self._starts:
                start(event)
        return event

    def close(self, thread: Any, event: Event, result: Any = None,
              error: str | None = None) -> None:
        if event._decode is not None:
            raw, out_types, process = event._decode
            event._decode = None
            if error is None:
                context = DecodeContext(process, raw, result)
                for arg in out_types:
                    event.args[arg.name] = _safe_decode(arg, raw, context)
        event.result, event.error, event.pending = result, error, False
        if thread is not None:
            thread.trace_parent = event._outer
        event._outer = None
        for deliver in self._deliver:
            deliver(event)

    def suspend(self, thread: Any, event: Event) -> None:
        """The crossing blocks: tell the sinks, and unwind the thread's nesting."""
        if not event.pending:
            event.pending = True
            for pending in self._pending:
                pending(event)
        if thread is not None:
            thread.trace_parent = event._outer

    def resume(self, thread: Any, event: Event) -> None:
        if thread is not None:
            thread.trace_parent = event

    def note(self, thread: Any, layer: str, name: str, args: dict[str, Any] | None = None,
             result: Any = None, *, pid: int | None = None) -> Event:
        """A crossing with no duration: a process starts, a signal arrives, a server boots."""
        self.seq += 1
        process = thread.process if thread is not None else None
        event = Event(self.seq, self.clock(), pid if pid is not None else
                      (process.pid if process else 0), thread.tid if thread else 0,
                      layer, name, args or {}, thread.trace_parent if thread else None)
        event._outer = None
        event.result = result
        for deliver in self._deliver:
            deliver(event)
        return event

    def detail(self, thread: Any, layer: str, name: str, args: dict[str, Any] | None = None,
               result: Any = None) -> Event | None:
        """A detail event: a crossing with no duration that only detail sinks receive (a
        trap, a context switch, a page fault, a memory figure changed, an LPC message
        queued or taken). Returns at once, with None, while no detail sink is attached.

        Kernel code calls it as `if tracer.detailed: tracer.detail(thread, KERNEL,
        "MiDemandZeroFault", {"Address": hex(address)})` — the test first, so that not
        even the arguments are built on an untraced run. `thread` is the thread the
        event concerns (None: the machine's); the event nests under that thread's
        innermost open crossing, like a note."""
        if not self._details:
            return None
        self.seq += 1
        process = thread.process if thread is not None else None
        event = Event(self.seq, self.clock(), process.pid if process is not None else 0,
                      thread.tid if thread is not None else 0, layer, name, args or {},
                      thread.trace_parent if thread is not None else None)
        event._outer = None
        event.result = result
        for deliver in self._details:
            deliver(event)
        return event

    def close_sinks(self) -> None:
        for sink in self.sinks:
            sink.close()


def _safe_decode(arg: Arg, raw: dict[str, Any], context: DecodeContext) -> Any:
    try:
        return arg.type.decode(raw.get(arg.name, 0), context)
    except Exception:  # a bad guest pointer must not break tracing
        return repr(raw.get(arg.name))


# --- sinks ----------------------------------------------------------------------------------


class JsonLinesSink(Sink):
    """--trace-file: one JSON object per completed crossing, in completion order.

    With `detail=True`, also one per crossing as it starts, and the detail events; each
    line then has a `phase`: "start" (the call's arguments, no result yet) or "end"
    (a completed crossing, or a detail event, which has no duration)."""

    def __init__(self, stream: IO[str], detail: bool = False) -> None:
        self.write = stream.write
        self.stream = stream
        self.detail = detail
        # a detail sink's lines say their phase, just after the thread (cached with it)
        self._phase = ',"phase":"end"' if detail else ""
        # the fields that repeat, encoded once: '"layer":...,"name":...,"args":' per call
        # name (and layer), and '"pid":...,"tid":...' per thread
        self._middles: dict[str, tuple[str, str]] = {}   # name -> (layer, its encoding)
        self._threads: dict[int, tuple[int, str]] = {}

    def event(self, event: Event) -> None:
        # Written by hand rather than json.dumps(event.to_dict()): this runs once per
        # crossing, and the common fields need no general encoder (the output is the same).
        cached = self._middles.get(event.name)      # (by name alone: no key tuple to build)
        if cached is None or cached[0] != event.layer:
            cached = self._middles[event.name] = (
                event.layer, f',"layer":"{event.layer}","name":{json.dumps(event.name)},"args":')
        middle = cached[1]
        thread = self._threads.get(event.tid)
        if thread is None or thread[0] != event.pid:
            thread = self._threads[event.tid] = (
                event.pid, f',"pid":{event.pid},"tid":{event.tid}{self._phase}')
        args, result, error, parent = event.args, event.result, event.error, event.parent
        self.write(
            f'{{"seq":{event.seq},"clock":{event.clock}{thread[1]}{middle}'
            f'{json.dumps(args, separators=(",", ":"), default=str) if args else "{}"}'
            f',"result":{"null" if result is None else result if type(result) is int else json.dumps(_jsonable(result))}'
            f',"error":{"null" if error is None else json.dumps(error)}'
            f',"parent":{"null" if parent is None else parent}}}\n')

    def start(self, event: Event) -> None:
        parent = event.parent
        self.write(
            f'{{"seq":{event.seq},"clock":{event.clock},"pid":{event.pid},"tid":{event.tid}'
            f',"phase":"start","layer":"{event.layer}","name":{json.dumps(event.name)},"args":'
            f'{json.dumps(event.args, separators=(",", ":"), default=str) if event.args else "{}"}'
            f',"result":null,"error":null,"parent":{"null" if parent is None else parent}}}\n')

    def close(self) -> None:
        self.stream.flush()


class CollectingSink(Sink):
    """Keeps every event (tests, the Python API); with `detail`, the detail events too,
    and in `started` every crossing as it started."""

    def __init__(self, detail: bool = False) -> None:
        self.events: list[Event] = []
        self.started: list[Event] = []
        self.detail = detail

    def event(self, event: Event) -> None:
        self.events.append(event)

    def start(self, event: Event) -> None:
        self.started.append(event)


class CallbackSink(Sink):
    """Calls `callback(event)` as each crossing completes; with `on_start`, a detail sink
    that also calls `on_start(event)` as each starts (the event's result is not set yet)."""

    def __init__(self, callback: Callable[[Event], None],
                 on_start: Callable[[Event], None] | None = None) -> None:
        self.callback = callback
        self.on_start = on_start
        self.detail = on_start is not None

    def event(self, event: Event) -> None:
        self.callback(event)

    def start(self, event: Event) -> None:
        if self.on_start is not None:
            self.on_start(event)


class StatsSink(Sink):
    """--stats: calls per layer and per name, with error counts."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.messages: Counter[tuple[str, str]] = Counter()   # (LPC call, port) -> messages

    def event(self, event: Event) -> None:
        name = event.name
        if event.layer == LPC and isinstance(event.args, dict):
            port = event.args.get("Port") or event.args.get("PortName") or "?"
            self.messages[(name, str(port))] += 1
        if name.startswith("--- ") and " {" in name:     # a delivered signal: count by signal
            name = name.split(" {")[0] + " ---"
        key = (event.layer, name)
        self.calls[key] += 1
        if event.error:
            self.errors[key] += 1

    def per_layer(self) -> dict[str, int]:
        layers: Counter[str] = Counter()
        for (layer, _), count in self.calls.items():
            layers[layer] += count
        return dict(layers)


def format_result(event: Event) -> str:
    if event.error:
        value = event.result
        prefix = f"{value} " if isinstance(value, int) and not hasattr(value, "name") else ""
        return f"{prefix}{event.error}"
    result = event.result
    if result is None:
        return "?" if event.layer != KERNEL else ""
    if isinstance(result, int) and not hasattr(result, "name"):
        return hex(result) if result > 0xFFFFFF else str(result)
    return str(_jsonable(result))


def format_call(event: Event, named: bool) -> str:
    parts = []
    for name, value in event.args.items():
        shown = value if isinstance(value, str) and not isinstance(value, Quoted) else json.dumps(value)
        parts.append(f"{name}={shown}" if named else str(shown))
    return f"{event.name}({', '.join(parts)})"


class StraceSink(Sink):
    """--trace: strace-style lines on stderr; each guest call with its NT calls beneath.

    Nested crossings complete before the call that made them, so their lines are held
    until the outermost crossing completes, then printed in call (seq) order as a tree.
    A call that blocks prints `<unfinished ...>` and later `<... name resumed>`.
    """

    INDENT = "   "

    def __init__(self, stream: IO[str] | None = None, show_pid: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.show_pid = show_pid          # strace -f: once a second task appears
        self.held: dict[int, list[Event]] = {}   # root seq -> its completed descendants
        self.unfinished: set[int] = set()
        # Guest tasks as strace -f numbers them: a process's first thread by the process
        # id, every other thread by its own id (Linux's tid). The first thread is the one
        # that made the process's first guest call: a new process has only that thread.
        self.first_thread: dict[int, int] = {}      # pid -> tid of its first thread
        self.tasks: set[tuple[int, int]] = set()

    def pending(self, event: Event) -> None:
        if event.depth == 0 and event.seq not in self.unfinished:
            self.unfinished.add(event.seq)
            self._flush(event, f"{format_call(event, event.layer != PERSONALITY)} <unfinished ...>")

    def event(self, event: Event) -> None:
        if event.layer == PERSONALITY and (event.pid, event.tid) not in self.tasks:
            self.first_thread.setdefault(event.pid, event.tid)
            self.tasks.add((event.pid, event.tid))
            self.show_pid = self.show_pid or len(self.tasks) > 1
        if event.depth > 0:
            self.held.setdefault(event.root, []).append(event)
            return
        if event.seq in self.unfinished:
            self.unfinished.discard(event.seq)
            head = f"<... {event.name} resumed> = {format_result(event)}"
        else:
            head = self._text(event)
        if event.layer == KERNEL and event.result is None and event.parent is None:
            head = f"--- {head} ---"
        self._flush(event, head)

    def _text(self, event: Event) -> str:
        if event.name.startswith("--- "):
            return event.name        # a delivered signal, already in strace's words
        text = format_call(event, event.layer != PERSONALITY)
        if event.layer == KERNEL and event.result is None:
            return text
        return f"{text} = {format_result(event)}"

    def _line(self, event: Event, text: str) -> str:
        prefix = f"[pid {self._task_id(event):>5}] " if self.show_pid else ""
        tree = (self.INDENT * (event.depth - 1) + " └ ") if event.depth else ""
        return f"{prefix}{tree}{text}\n"

    def _task_id(self, event: Event) -> int:
        first = self.first_thread.get(event.pid)
        return event.pid if first is None or first == event.tid else event.tid

    def _flush(self, root: Event, head: str) -> None:
        lines = [self._line(root, head)]
        exits = [root] if root.name == "PspExitProcess" else []
        for child in sorted(self.held.pop(root.seq, []), key=lambda e: e.seq):
            lines.append(self._line(child, f"[{child.layer}] {self._text(child)}"))
            if child.name == "PspExitProcess":
                exits.append(child)
        for ended in exits:      # strace's last word on a guest process
            args = ended.args
            if args.get("Server") is False and args.get("Subsystem") not in (None, "System"):
                note = str(args.get("Note", ""))
                verdict = args.get("Reason") or (note.split(":")[0] if note.startswith("killed by")
                                                 else f"exited with {args.get('ExitStatus')}")
                prefix = f"[pid {args.get('ProcessId'):>5}] " if self.show_pid else ""
                lines.append(f"{prefix}+++ {verdict} +++\n")
        self.stream.write("".join(lines))

    def close(self) -> None:
        self.stream.flush()
