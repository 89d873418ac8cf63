"""The classroom TUI: watch calls flow through the subsystem servers, step through the
translation, compare a subsystem with a VM.

Screens: `RunScreen` (one machine: process tree, call-flow sequence view, disassembly,
registers, memory, console and VDM screen, trace log), `CompareScreen` (two runs side by
side with their counters), `LessonScreen` (a lesson's text, its numbers, and its runs),
and modal help, details and breakpoint dialogs. Keys follow VS Code and gdb (F5/c run,
Space pause, F11/s step, F10/n step over) plus F8/t for "run to the next boundary
crossing"; every binding has an id, so `App.set_keymap` can remap it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Log,
    Static,
    TabbedContent,
    TabPane,
)

from ..trace import LAYERS
from .bridge import LiveSession, Session
from .widgets import (
    Disassembly,
    MemoryPane,
    ProcessTree,
    Registers,
    ScreenView,
    SeqView,
    call_tables_text,
    ports_text,
    size,
    sparkline,
)

DRAIN_HZ = 30
FREEZE_EVERY = 5_000     # rows kept since the last gc.freeze (see RunScreen.drain)
SNAPSHOT_HZ = 4
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples")


class SessionMessage(Message):
    """Something a session's machine thread sent: ("state", state, stop), ("snapshot",
    s), ("disassembly", pid, lines), ("notify", text)."""

    def __init__(self, session: Session, payload: tuple) -> None:
        super().__init__()
        self.session, self.payload = session, payload


def connect(app: App, session: Session) -> None:
    """Route a session's messages to the app (thread-safe: post_message)."""
    session.post = lambda payload: app.post_message(SessionMessage(session, payload))


# --- the help, details and breakpoint dialogs ------------------------------------------------------

HELP = """\
# ntsim TUI — keys

| Key | What it does |
|---|---|
| **F5** or **c** | run / continue |
| **Space** | pause (while running) — continue (while paused) |
| **F11** or **s** | step one instruction of the current thread |
| **F10** or **n** | step over: a `call` runs until the instruction after it |
| **F8** or **t** | run to the next boundary crossing (at the layer chosen with **l**) |
| **l** | choose the layer F8 stops at: any, guest, personality, lpc, server, nt, kernel, vm |
| **b** | breakpoint: a call name (`write`, `nt:NtWriteFile`, `lpc:*`, `INT 21h*`), an address (`0x401000`), or a watchpoint on a page (`watch 0x405000`) |
| **r** | restart the program |
| **k** | the console's Ctrl+C (CTRL_C_EVENT): CSRSS hands it to the guest (SIGINT) |
| **Enter** | details of the crossing under the cursor (in the sequence view) |
| **Ctrl+P** | command palette: open a program from `examples/`, compare, breakpoints, layers |
| **F1** or **?** | this help |
| **q** | quit |

Keys that only make sense while paused (step, step over, restart) are greyed in the
footer while the machine runs.

**The sequence view** has one lane per layer a call crosses — *guest → personality (or
client stub) → LPC port → server → Nt service → kernel object or device*, and the *VM*
lane for a virtual machine. Each row is one crossing: an arrow from the lane of the
crossing that caused it to its own lane, then the call and its result.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,f1,question_mark", "app.pop_screen", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; height: 80%; border: thick $accent; background: $panel; }
    """

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # (its parser is the slowest import: on demand)
        with VerticalScroll():
            yield Markdown(HELP)


class DetailsScreen(ModalScreen):
    """One crossing in full: layer, name, typed arguments, result, NTSTATUS or errno."""

    BINDINGS = [Binding("escape,enter,backspace,q", "app.pop_screen", "Back", id="details.close")]
    DEFAULT_CSS = """
    DetailsScreen { align: center middle; }
    DetailsScreen > Static { width: 90; height: auto; max-height: 80%; border: thick $accent;
                             background: $panel; padding: 1 2; }
    """

    def __init__(self, row) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        text = Text()
        text.append(f"{row.name}\n\n", style="bold")
        for label, value in (("layer", row.layer), ("seq", row.seq), ("pid", row.pid),
                             ("tid", row.tid), ("caused by", row.parent if row.parent else "-"),
                             ("clock (ns)", row.clock)):
            text.append(f"{label:>10}  ", style="dim")
            text.append(f"{value}\n")
        text.append("\n arguments\n", style="bold")
        for part in _split_args(row.args):
            text.append(f"   {part}\n")
        text.append("\n    result  ", style="bold")
        text.append(row.result if row.phase != "start" else "(not completed yet)",
                    style="red" if row.error else "green")
        if row.error:
            text.append(f"\n     error  {row.error}", style="red")
        yield Static(text)


def _split_args(args: str) -> list[str]:
    """`a=1, b="x, y", c=[1, 2]` into its three arguments (commas in strings and
    brackets belong to the argument)."""
    parts, depth, current, quoted, escaped = [], 0, "", False, False
    for char in args:
        if quoted:
            if char == '"' and not escaped:
                quoted = False
            escaped = char == "\\" and not escaped
            current += char
            continue
        if char == '"':
            quoted = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts or ["(none)"]


class PromptScreen(ModalScreen[str]):
    """One line of input (a breakpoint, a program to open)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 80; height: auto; border: thick $accent; background: $panel; padding: 1 2; }
    """

    def __init__(self, title: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.placeholder = title, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield Input(placeholder=self.placeholder)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss("")


# --- the command palette ----------------------------------------------------------------------------


def example_programs() -> list[str]:
    """Every program under examples/ a personality could run (executables and images)."""
    found = []
    for top, dirs, files in os.walk(EXAMPLES):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(top, name)
            lower = name.lower()
            if lower.endswith((".c", ".asm", ".md", ".o", ".h", ".py", ".txt")) or name == "Makefile":
                continue
            if os.access(path, os.X_OK) or lower.endswith((".com", ".exe")):
                found.append(os.path.relpath(path))
    return found


class NtsimCommands(Provider):
    """The palette: open a program, compare two, set F8's layer, breakpoints."""

    def _commands(self) -> list[tuple[str, Any, str]]:
        app = self.app
        commands: list[tuple[str, Any, str]] = []
        for program in example_programs():
            commands.append((f"Open {program}", lambda p=program: app.open_program(p),
                             "run this program in a new machine"))
        for layer in ("any", *LAYERS):
            commands.append((f"Run to next crossing at layer: {layer}",
                             lambda chosen=layer: app.set_layer_goal(None if chosen == "any" else chosen),
                             "what F8 / t stops at"))
        commands.append(("Breakpoint on a call or address…", app.action_breakpoint,
                         "b: write, nt:NtWriteFile, lpc:*, 0x401000"))
        commands.append(("Compare with another program…", app.action_compare_prompt,
                         "two runs side by side"))
        commands.append(("Help (keys)", app.action_help, "F1"))
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


# --- the run screen -----------------------------------------------------------------------------


class RunScreen(Screen):
    """One machine: everything a class watches while a program runs."""

    BINDINGS = [
        Binding("f5,c", "run", "Run", id="run.run", priority=True),
        Binding("space", "toggle_pause", "Pause", id="run.pause", priority=True),
        Binding("f11,s", "step", "Step", id="run.step", priority=True),
        Binding("f10,n", "step_over", "Over", id="run.step_over", priority=True),
        Binding("f8,t", "run_to", "Next", id="run.next_crossing", priority=True,
                tooltip="run to the next boundary crossing (at the layer l chose)"),
        Binding("l", "cycle_layer", "Layer", id="run.layer"),
        Binding("b", "app.breakpoint", "Break", id="run.breakpoint"),
        Binding("r", "restart", "Restart", id="run.restart", priority=True),
        Binding("k", "ctrl_c", "^C", id="run.ctrl_c", tooltip="the console's Ctrl+C, for the guest"),
    ]
    DEFAULT_CSS = """
    RunScreen #status { height: 1; background: $boost; }
    RunScreen #top { height: 1fr; }
    RunScreen #left { width: 34; }
    RunScreen #tree { height: 1fr; border: round $primary; }
    RunScreen #memory { height: auto; max-height: 11; border: round $primary; }
    RunScreen #flow { border: round $primary; }
    RunScreen #lanes { height: 1; background: $boost; }
    RunScreen #seq { height: 1fr; }
    RunScreen #bottom { height: 15; }
    RunScreen #tabs { width: 1fr; }
    RunScreen #disasm { width: 1fr; border: round $primary; }
    RunScreen #regs { width: 53; border: round $primary; }
    RunScreen.narrow #regs { display: none; }
    RunScreen.narrow #left { width: 26; }
    RunScreen.narrow #memory { display: none; }
    RunScreen.narrow #bottom { height: 10; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.snapshot = None
        self.previous_threads: dict[int, Any] = {}
        self.memory_history: dict[int, list[int]] = {}
        self.selected_pid: int | None = None
        self.console_version = -1
        self.trace_lines = 0
        self._sampled_at: int | None = None
        self.unfrozen = 0
        self._lanes_shape: tuple = ()
        self._bindings_running: bool | None = None
        self._drawn: dict[str, tuple] = {}        # what each pane last drew (see _update)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield ProcessTree(id="tree")
                yield MemoryPane(id="memory")
            with Vertical(id="flow"):
                yield Static(id="lanes")
                yield SeqView(id="seq")
        with Horizontal(id="bottom"):
            with TabbedContent(id="tabs"):
                with TabPane("Trace", id="tab-trace"):
                    yield Log(id="trace", max_lines=None)
                with TabPane("Console", id="tab-console"):
                    yield Log(id="console")
                with TabPane("Screen", id="tab-screen"):
                    yield ScreenView(id="screen")
                with TabPane("Ports", id="tab-ports"):
                    yield Static(id="ports")
                with TabPane("Calls", id="tab-calls"):
                    with VerticalScroll():
                        yield Static(id="calls")
            yield Disassembly(id="disasm")
            yield Registers(id="regs")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"ntsim — {self.session.title}"
        connect(self.app, self.session)
        self.query_one("#flow").border_title = "call flow: guest → personality → LPC → server → Nt → kernel (and VM)"
        self.query_one("#tree").border_title = "processes"
        self.query_one("#memory").border_title = "memory"
        self.query_one("#disasm").border_title = "disassembly"
        self.query_one("#regs").border_title = "registers"
        self.query_one("#lanes", Static).update(self.query_one(SeqView).header())
        self.set_interval(1 / DRAIN_HZ, self.drain)
        self.set_interval(1 / SNAPSHOT_HZ, self.poll)
        self.session.start()
        self.drain()                 # a recorded session's rows are there already
        self.query_one(SeqView).focus()
        self._status()
        self.on_resize()

    def on_resize(self, event=None) -> None:
        self.set_class(self.app.size.width < 110, "narrow")
        self.call_after_refresh(self._relabel_lanes)

    def _relabel_lanes(self) -> None:
        self.query_one("#lanes", Static).update(self.query_one(SeqView).header())

    def on_unmount(self) -> None:
        self.session.close()

    # --- from the machine ---------------------------------------------------------------

    def drain(self) -> None:
        rows = self.session.buffer.drain()
        if rows:
            # The views keep every row. Python's full collections would walk them all,
            # again and again, and stall the UI for tens of ms: what is kept goes to the
            # permanent generation instead (still freed by reference counting).
            self.unfrozen += len(rows)
            if self.unfrozen >= FREEZE_EVERY:
                self.unfrozen = 0
                gc.freeze()
            self.query_one(SeqView).add_rows(rows)
            lines = [row.line() for row in rows if row.phase != "start"]
            if lines:
                self.query_one("#trace", Log).write_lines(lines)
                self.trace_lines += len(lines)
        seq = self.query_one(SeqView)
        shape = (tuple(seq.lanes), seq.lane_width)
        if shape != self._lanes_shape:        # a new layer's lane, or a new width
            self._lanes_shape = shape
            self.query_one("#lanes", Static).update(seq.header())
        text = self.session.console_text()
        if len(text) != self.console_version:
            self.console_version = len(text)
            log = self.query_one("#console", Log)
            log.clear()
            log.write(text)

    def poll(self) -> None:
        if self.session.state != self.sub_title:      # a state message that came too early
            self._status()
            self._refresh_keys()
        if self.session.state == "running" or self.snapshot is None and self.session.state == "paused":
            self.session.request_snapshot()

    def handle(self, payload: tuple) -> None:
        if not self.is_attached or not self.children:
            return                 # a message that arrived as the screen went away
        kind = payload[0]
        if kind == "state":
            self._status()
            self._refresh_keys()
            stop = payload[2]
            if stop is not None and getattr(stop, "event", None) is not None:
                self.drain()
                self.query_one(SeqView).show_stop(stop.event.seq)
            if payload[1] == "error":
                self.notify(getattr(self.session, "error", "") or "the machine stopped", severity="error")
        elif kind == "snapshot":
            self._snapshot(payload[1])
        elif kind == "disassembly":
            self._disassembly(payload[1], payload[2])
        elif kind == "notify":
            self.notify(payload[1], severity="warning")

    def _status(self) -> None:
        session = self.session
        stop = session.stop
        text = Text()
        state = session.state
        text.append(f" {state.upper()} ", style="bold reverse " + {
            "running": "green", "paused": "yellow", "finished": "blue", "starting": "cyan"}.get(state, "red"))
        if state == "error":
            text.append(f"  {getattr(session, 'error', '') or 'the machine could not start'}", style="bold red")
        if stop is not None:
            text.append(f"  {stop.reason}")
            event = getattr(stop, "event", None)
            if event is not None:
                text.append(f" in [{event.layer}] {event.name}", style="bold")
            if stop.detail:
                text.append(f" — {stop.detail}")
        text.append(f"   F8 stops at: {session.layer_goal or 'any layer'}", style="dim")
        if session.buffer.dropped:
            text.append(f"   ({session.buffer.dropped} rows dropped: the UI fell behind)", style="red")
        self.query_one("#status", Static).update(text)
        self.sub_title = state

    def _snapshot(self, snapshot) -> None:
        self.snapshot = snapshot
        self._status()
        # A snapshot comes 4 times a second while the machine runs. Everything it draws is
        # drawn only if it changed (see _update, _refresh_keys, widgets.show_text): redrawing
        # all of it each time took a third of a host core from the guest.
        self._refresh_keys()
        self.query_one(ProcessTree).update_from(snapshot)
        fresh = snapshot.clock_ns != self._sampled_at     # (the same moment: no new sample)
        self._sampled_at = snapshot.clock_ns
        for process in snapshot.processes:
            if not process.is_server and fresh:
                history = self.memory_history.setdefault(process.pid, [])
                if process.alive or not history:
                    history.append(process.committed)
        self._update("#memory", tuple((p.pid, p.name, p.alive, bool(p.vads), p.reserved, p.committed,
                                       p.touched) for p in snapshot.processes),
                     tuple((pid, tuple(h[-24:])) for pid, h in self.memory_history.items()),
                     lambda: self.query_one(MemoryPane).show(snapshot, self.memory_history))
        self._update("#ports", snapshot.ports, None,
                     lambda: self.query_one("#ports", Static).update(ports_text(snapshot)))
        self._update("#calls", snapshot.call_tables, None,
                     lambda: self.query_one("#calls", Static).update(call_tables_text(snapshot)))
        screen = snapshot.screen
        self._update("#screen", screen and (screen.version, screen.cursor, screen.columns, screen.rows,
                                            screen.cells), None,
                     lambda: self.query_one(ScreenView).show(screen))
        pid, tid = self._focus_thread(snapshot)
        if pid is not None and snapshot.state != "running":
            self.session.request_disassembly(pid, tid)
        thread = self._thread(snapshot, pid, tid)
        previous = self.previous_threads.get(thread.tid) if thread else None
        self.query_one(Registers).show(thread, previous, title=f"pid {pid} tid {tid} ({thread.mode})"
                                       if thread else "")
        if thread is not None and snapshot.state != "running":
            self.previous_threads[thread.tid] = thread

    def _refresh_keys(self) -> None:
        """Grey or enable the footer's keys, which depend only on whether the machine
        runs (check_action): refresh_bindings recomposes the footer, ~15 ms each time."""
        running = self.session.state == "running"
        if running != self._bindings_running:
            self._bindings_running = running
            self.refresh_bindings()

    def _update(self, widget: str, *key_and_draw) -> None:
        """Draw a pane only when what it shows (`key`, compared with the last drawn) changed."""
        *key, draw = key_and_draw
        key = tuple(key)
        if self._drawn.get(widget) != key:
            self._drawn[widget] = key
            draw()

    def _focus_thread(self, snapshot) -> tuple[int | None, int | None]:
        stop = snapshot.stop
        if stop is not None and stop.pid:
            process = snapshot.process(stop.pid)
            if process is not None and process.alive and process.threads and not process.threads[0].host:
                return stop.pid, stop.tid or process.threads[0].tid
        if self.selected_pid is not None:
            process = snapshot.process(self.selected_pid)
            if process is not None and process.alive and process.threads and not process.threads[0].host:
                return process.pid, process.threads[0].tid
        for process in snapshot.processes:
            if process.alive and not process.is_server and process.threads and not process.threads[0].host:
                return process.pid, process.threads[0].tid
        return None, None

    @staticmethod
    def _thread(snapshot, pid, tid):
        process = snapshot.process(pid) if pid is not None else None
        if process is None:
            return None
        return next((t for t in process.threads if t.tid == tid), None)

    def _disassembly(self, pid: int, lines) -> None:
        snapshot = self.snapshot
        pc = None
        if snapshot is not None:
            _, tid = self._focus_thread(snapshot)
            thread = self._thread(snapshot, pid, tid)
            pc = thread.linear_pc if thread else None
        breakpoints = {b.address for b in (snapshot.breakpoints if snapshot else ()) if not b.name}
        self.query_one(Disassembly).show(tuple(lines), pc, breakpoints,
                                         title=f"pid {pid}" + (f" at {pc:#x}" if pc else ""))

    @on(SeqView.Selected)
    def details(self, event: SeqView.Selected) -> None:
        self.app.push_screen(DetailsScreen(event.row))

    @on(ProcessTree.NodeSelected)
    def select_process(self, event) -> None:
        pid = event.node.data
        if isinstance(pid, int):
            self.selected_pid = pid
            if self.snapshot is not None:
                self._snapshot(self.snapshot)

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        running = self.session.state == "running"
        if action in ("step", "step_over", "restart", "run_to", "run"):
            return None if running else True
        return True

    def action_run(self) -> None:
        self.session.run()

    def action_toggle_pause(self) -> None:
        if self.session.state == "running":
            self.session.pause()
        else:
            self.session.run()

    def action_step(self) -> None:
        self.session.step(1)

    def action_step_over(self) -> None:
        self.session.step_over()

    def action_run_to(self) -> None:
        self.session.run_to(self.session.layer_goal)

    def action_cycle_layer(self) -> None:
        order = [None, *LAYERS]
        at = order.index(self.session.layer_goal) if self.session.layer_goal in order else 0
        self.session.layer_goal = order[(at + 1) % len(order)]
        self._status()
        self.notify(f"F8 stops at the next crossing at: {self.session.layer_goal or 'any layer'}")

    def action_ctrl_c(self) -> None:
        self.session.console_control(0)
        self.notify("Ctrl+C sent to the console (CTRL_C_EVENT, through CSRSS)")

    def action_restart(self) -> None:
        self.memory_history.clear()
        self.session.restart()
        seq = self.query_one(SeqView)
        seq.rows.clear()
        seq._index.clear()
        seq.follow = True
        seq.refresh()
        self.query_one("#trace", Log).clear()


# --- the compare screen ------------------------------------------------------------------------


class CompareScreen(Screen):
    """Two runs side by side — any two programs or personalities — and their counters."""

    BINDINGS = [Binding("r", "restart", "Restart both", id="compare.restart"),
                Binding("escape", "back", "Back", id="compare.back")]
    DEFAULT_CSS = """
    CompareScreen #pair { height: 1fr; }
    CompareScreen .side { width: 1fr; border: round $primary; }
    CompareScreen .lanes { height: 1; background: $boost; }
    CompareScreen #numbers { height: auto; max-height: 16; }
    CompareScreen #chart { height: 4; border: round $primary; }
    """

    def __init__(self, left: Session, right: Session, note: str = "") -> None:
        super().__init__()
        self.sessions = (left, right)
        self.note = note
        self.memory: list[list[int]] = [[], []]
        self.snapshots: list[Any] = [None, None]
        self._lanes_shapes: list[tuple] = [(), ()]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pair"):
            for index in range(len(self.sessions)):
                with Vertical(classes="side", id=f"side{index}"):
                    yield Static(classes="lanes", id=f"lanes{index}")
                    yield SeqView(id=f"seq{index}")
        yield Static(id="chart")
        yield DataTable(id="numbers", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "ntsim — compare"
        for index, session in enumerate(self.sessions):
            connect(self.app, session)
            self.query_one(f"#side{index}").border_title = session.title
            self.query_one(f"#lanes{index}", Static).update(self.query_one(f"#seq{index}", SeqView).header())
        table = self.query_one(DataTable)
        table.add_columns("", *(s.title for s in self.sessions))
        self.set_interval(1 / DRAIN_HZ, self.drain)
        self.set_interval(1 / SNAPSHOT_HZ, self.poll)
        for session in self.sessions:
            session.start()
            session.run()
        self.drain()                 # recorded sessions' rows are there already
        self.query_one("#chart").border_title = "committed memory over time"
        if self.note:
            self.notify(self.note, timeout=10)
        self.update_numbers()

    def on_unmount(self) -> None:
        for session in self.sessions:
            session.close()

    def drain(self) -> None:
        drained = False
        for index, session in enumerate(self.sessions):
            rows = session.buffer.drain()
            seq = self.query_one(f"#seq{index}", SeqView)
            if rows:
                seq.add_rows(rows)
                drained = True
            shape = (tuple(seq.lanes), seq.lane_width)
            if shape != self._lanes_shapes[index]:
                self._lanes_shapes[index] = shape
                self.query_one(f"#lanes{index}", Static).update(seq.header())
        if drained:
            self.update_numbers()

    def poll(self) -> None:
        for session in self.sessions:
            if session.state == "running":
                session.request_snapshot()

    def handle(self, session: Session, payload: tuple) -> None:
        index = self.sessions.index(session)
        if payload[0] == "snapshot":
            snapshot = payload[1]
            previous = self.snapshots[index]
            self.snapshots[index] = snapshot
            if previous is None or previous.clock_ns != snapshot.clock_ns:
                guests = [p for p in snapshot.processes if not p.is_server]
                self.memory[index].append(sum(p.committed for p in guests))
            self.update_numbers()
        elif payload[0] == "state":
            if payload[1] in ("finished", "paused"):
                session.request_snapshot()
            if payload[1] == "error":
                self.notify(f"{session.title}: {getattr(session, 'error', '')}", severity="error")
            self.update_numbers()

    def update_numbers(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for label, values in compare_rows(self.sessions, self.snapshots,
                                          [self.query_one(f"#seq{i}", SeqView) for i in (0, 1)]):
            table.add_row(label, *values)
        chart = Text()
        top = max([*self.memory[0], *self.memory[1], 1])
        for index, session in enumerate(self.sessions):
            values = self.memory[index]
            scaled = [v * 1000 // top for v in values]
            label = session.title if len(session.title) <= 34 else "…" + session.title[-33:]
            chart.append(f"{'AB'[index]} {label:<34} ", style="bold")
            chart.append(sparkline(scaled, 60) or "-", style="green" if index == 0 else "cyan")
            chart.append(f"  {size(values[-1]) if values else '-'}\n")
        self.query_one("#chart", Static).update(chart)

    def action_restart(self) -> None:
        for index, session in enumerate(self.sessions):
            self.memory[index].clear()
            seq = self.query_one(f"#seq{index}", SeqView)
            seq.rows.clear()
            seq._index.clear()
            session.restart()
            session.run()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


def compare_rows(sessions: Iterable[Session], snapshots: list, views: list[SeqView]) -> list:
    """The compare table: crossings per layer, LPC messages, guest instructions,
    instructions before the first guest call, and memory — each from ntsim's counters."""
    sessions = list(sessions)
    rows = []
    counts = []
    for view in views:
        per_layer: dict[str, int] = {}
        for row in view.rows:          # one row per crossing, begun or done
            per_layer[row.layer] = per_layer.get(row.layer, 0) + 1
        counts.append(per_layer)
    layers = [layer for layer in LAYERS if any(layer in c for c in counts)]
    layers += sorted({layer for c in counts for layer in c} - set(layers))
    for layer in layers:
        rows.append((f"crossings: {layer}", [str(c.get(layer, 0)) for c in counts]))
    rows.append(("crossings: total", [str(sum(c.values())) for c in counts]))
    rows.append(("LPC messages", [str(sum(1 for r in v.rows if r.layer == "lpc"
                                          and "Port" in r.name and "Connect" not in r.name
                                          and "Accept" not in r.name)) for v in views]))

    def guest(snapshot, field: str) -> str:
        if snapshot is None:
            return "…"
        value = sum(getattr(p, field) for p in snapshot.processes if not p.is_server)
        return f"{value:,}" if field == "instructions" else size(value)

    rows.append(("guest instructions", [guest(s, "instructions") for s in snapshots]))
    rows.append(("instructions before the first guest call",
                 [f"{s.first_guest_call_instructions:,}" if getattr(s, "first_guest_call_instructions", None)
                  is not None else "…" for s in sessions]))
    for field in ("reserved", "committed", "touched"):
        rows.append((f"{field} memory (guest)", [guest(s, field) for s in snapshots]))
    rows.append(("state", [s.state for s in sessions]))
    return rows


# --- the lesson screen ---------------------------------------------------------------------------


class LessonScreen(Screen):
    """A lesson: its text (Markdown), the numbers ntsim measured for it, and its runs."""

    BINDINGS = [Binding("enter,g", "go", "Run it", id="lesson.go"),
                Binding("escape", "back", "Back", id="lesson.back")]
    DEFAULT_CSS = """
    LessonScreen #text { width: 3fr; }
    LessonScreen #measured { width: 2fr; border: round $primary; padding: 0 1; }
    """

    def __init__(self, lesson) -> None:
        super().__init__()
        self.lesson = lesson

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown
        yield Header()
        with Horizontal():
            with VerticalScroll(id="text"):
                yield Markdown(self.lesson.text)
            yield Static("measuring…", id="measured")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"ntsim — lesson: {self.lesson.title}"
        self.query_one("#measured").border_title = "measured by ntsim now"
        self.run_worker(self._measure, thread=True, group="lesson", exclusive=True)

    def _measure(self) -> None:
        text = self.lesson.measure_text()
        self.app.call_from_thread(self.query_one("#measured", Static).update, text)

    def action_go(self) -> None:
        self.app.start_lesson_runs(self.lesson)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


# --- the app ---------------------------------------------------------------------------------


class NtsimApp(App):
    """`NtsimApp(run=session)`, `NtsimApp(compare=(a, b))` or `NtsimApp(lesson=lesson)`."""

    TITLE = "ntsim"
    COMMANDS = App.COMMANDS | {NtsimCommands}
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, *, run: Session | None = None, compare: tuple[Session, Session] | None = None,
                 lesson: Any = None, root: str = ".", compare_note: str = "") -> None:
        super().__init__()
        self.initial_run, self.initial_compare, self.lesson = run, compare, lesson
        self.root = root
        self.compare_note = compare_note

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        if self.lesson is not None:
            self.push_screen(LessonScreen(self.lesson))
        elif self.initial_compare is not None:
            self.push_screen(CompareScreen(*self.initial_compare, note=self.compare_note))
        else:
            self.push_screen(RunScreen(self.initial_run or _empty_session()))

    @on(SessionMessage)
    def session_message(self, message: SessionMessage) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, RunScreen) and screen.session is message.session:
                screen.handle(message.payload)
            elif isinstance(screen, CompareScreen) and message.session in screen.sessions:
                screen.handle(message.session, message.payload)

    # --- actions any screen offers ---------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def current_run(self) -> RunScreen | None:
        return next((s for s in reversed(self.screen_stack) if isinstance(s, RunScreen)), None)

    def action_breakpoint(self) -> None:
        run = self.current_run()
        if run is None:
            self.notify("breakpoints are set on the run screen", severity="warning")
            return

        def chosen(text: str | None) -> None:
            if text:
                self.notify(set_breakpoint(run, text))

        self.push_screen(PromptScreen("Break on a call (write, nt:NtWriteFile, lpc:*), an address "
                                      "(0x401000), or watch a page (watch 0x405000)",
                                      "nt:NtWriteFile"), chosen)

    def action_compare_prompt(self) -> None:
        run = self.current_run()

        def chosen(text: str | None) -> None:
            if text:
                left = run.session if run is not None and isinstance(run.session, LiveSession) else None
                first = [left.program, *left.args] if left else None
                self.open_compare(first, text.split())

        self.push_screen(PromptScreen("Compare with (program and arguments)", "examples/linux/hello"), chosen)

    def open_program(self, program: str) -> None:
        self.push_screen(RunScreen(LiveSession(program, [], root=self.root)))

    def open_compare(self, first: list[str] | None, second: list[str]) -> None:
        if first is None:
            first = second
        a = LiveSession(first[0], first[1:], root=self.root, count_instructions=True)
        b = LiveSession(second[0], second[1:], root=self.root, count_instructions=True)
        self.push_screen(CompareScreen(a, b))

    def set_layer_goal(self, layer: str | None) -> None:
        run = self.current_run()
        if run is not None:
            run.session.layer_goal = layer
            run._status()

    def start_lesson_runs(self, lesson) -> None:
        runs = lesson.sessions(self.root)
        if isinstance(runs, str):
            self.notify(runs, severity="warning", timeout=10)
        elif len(runs) == 2:
            self.push_screen(CompareScreen(*runs, note=lesson.note))
        else:
            self.push_screen(RunScreen(runs[0]))


def set_breakpoint(run: RunScreen, text: str) -> str:
    """`0x401000` (in the focused process), `pid:0x401000`, `layer:name`, a name, or
    `watch 0x405000` / `watch pid:0x405000` (a watchpoint on that page)."""
    session = run.session
    if text.lower().startswith("watch "):
        where = text[6:].strip()
        pid_text, _, address_text = where.rpartition(":")
        try:
            pid = int(pid_text) if pid_text else (run._focus_thread(run.snapshot)[0] if run.snapshot else None)
            if pid is None:
                return "no process to watch"
            return session.watch_page(pid, int(address_text, 16))
        except ValueError:
            return f"not an address: {where}"
    try:
        if text.lower().startswith("0x") or ":0x" in text.lower():
            pid_text, _, address_text = text.rpartition(":")
            pid = int(pid_text) if pid_text else (run._focus_thread(run.snapshot)[0] if run.snapshot else None)
            if pid is None:
                return "no process to break in"
            return session.break_at(pid, int(address_text, 16))
    except ValueError:
        return f"not an address: {text}"
    layer, _, name = text.rpartition(":")
    if layer and layer not in LAYERS:
        return f"no layer {layer!r} (layers: {', '.join(LAYERS)})"
    return session.break_on(layer, name)


def _empty_session() -> Session:
    session = Session()
    session.title = "no program (Ctrl+P: open one from examples/)"
    return session
