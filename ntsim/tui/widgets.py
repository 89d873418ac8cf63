"""The panes of the TUI: each draws plain values (rows, snapshots), never the machine."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static, Tree

from ..snapshot import Instruction, MachineSnapshot, ProcessSnapshot, ScreenSnapshot, ThreadSnapshot
from .bridge import Row, lanes_of

# --- the call-flow sequence view ------------------------------------------------------------

LANE_TITLES = {"guest": "guest", "personality": "personality", "lpc": "LPC port",
               "server": "server", "nt": "Nt service", "kernel": "kernel/device", "vm": "VM"}
SHORT_TITLES = {"guest": "guest", "personality": "pers", "lpc": "LPC", "server": "srv",
                "nt": "Nt", "kernel": "kern", "vm": "VM"}
TINY_TITLES = {"guest": "gst", "personality": "prs", "lpc": "LPC", "server": "srv",
               "nt": "Nt", "kernel": "krn", "vm": "VM"}
LANE_WIDTH = 11          # at most; narrower when the view is (lanes take under half of it)


class SeqView(ScrollView, can_focus=True):
    """One crossing per row, drawn as an arrow between the lanes it crosses — the lane of
    the crossing that caused it to its own — then its call and result. The lanes are the
    trace's layers (bridge.lanes_of), so a new personality's crossings find their lane.
    Drawn line by line (only visible rows), so 100,000 rows scroll like ten."""

    COMPONENT_CLASSES = {"seqview--current", "seqview--error", "seqview--lane",
                         "seqview--arrow", "seqview--pending", "seqview--stop"}
    DEFAULT_CSS = """
    SeqView { background: $surface; overflow-x: hidden; }
    SeqView > .seqview--current { background: $accent 40%; text-style: bold; }
    SeqView > .seqview--error { color: $error; }
    SeqView > .seqview--lane { color: $foreground 30%; }
    SeqView > .seqview--arrow { color: $secondary; }
    SeqView > .seqview--pending { color: $warning; }
    SeqView > .seqview--stop { background: $warning 40%; text-style: bold; }
    """
    BINDINGS = [Binding("up", "cursor(-1)", "Up", show=False),
                Binding("down", "cursor(1)", "Down", show=False),
                Binding("pageup", "cursor(-20)", show=False),
                Binding("pagedown", "cursor(20)", show=False),
                Binding("home", "cursor_to(0)", show=False),
                Binding("end", "cursor_to(-1)", show=False),
                Binding("enter", "select", "Details", id="seq.details", show=False)]

    cursor = reactive(-1, repaint=True)

    class Selected(Message):
        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Row] = []
        self._index: dict[int, int] = {}       # seq -> row
        self._layer: dict[int, str] = {}       # seq -> layer (for a child's arrow)
        self.lanes = lanes_of([])
        self.follow = True
        self.stop_seq: int | None = None

    # --- data ---------------------------------------------------------------------------

    def add_rows(self, rows: list[Row]) -> None:
        changed = False
        for row in rows:
            self._layer.setdefault(row.seq, row.layer)
            if row.layer not in self.lanes:
                self.lanes = lanes_of([*self.lanes, row.layer])
            if row.phase == "end":
                at = self._index.get(row.seq)
                if at is not None:
                    self.rows[at] = row
                    changed = True
                    continue
            self._index[row.seq] = len(self.rows)
            self.rows.append(row)
            changed = True
        if not changed:
            return
        self.virtual_size = Size(self.size.width, len(self.rows))   # (Enter shows a whole row)
        if self.follow and self.rows:
            self.cursor = len(self.rows) - 1
            self.scroll_to(y=max(0, len(self.rows) - self._height()), animate=False)
            self.call_after_refresh(self._follow)
        self.refresh()

    def _follow(self) -> None:
        if self.follow and self.rows:
            self.scroll_to(y=max(0, len(self.rows) - self._height()), animate=False)

    def _height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def show_stop(self, seq: int | None) -> None:
        """Highlight the crossing the machine stopped in, and move to it."""
        self.stop_seq = seq
        if seq is not None and seq in self._index:
            self.move_to(self._index[seq])
            self.call_after_refresh(self.scroll_to_region_line, self._index[seq])
        self.refresh()

    def move_to(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        self.cursor = index
        self.follow = index == len(self.rows) - 1
        self.scroll_to_region_line(index)

    def scroll_to_region_line(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self._height()
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    @property
    def current(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def action_cursor(self, delta: int) -> None:
        self.move_to((self.cursor if self.cursor >= 0 else 0) + delta)

    def action_cursor_to(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Selected(row))

    # --- drawing ------------------------------------------------------------------------

    @property
    def lane_width(self) -> int:
        width = self.size.width or 120
        return max(5, min(LANE_WIDTH, (width * 45 // 100) // max(1, len(self.lanes))))

    def _lanes_width(self) -> int:
        return self.lane_width * len(self.lanes)

    def header(self) -> Text:
        text = Text()
        lane_width = self.lane_width
        for lane in self.lanes:
            title = LANE_TITLES.get(lane, lane)
            if len(title) > lane_width - 1:
                title = SHORT_TITLES.get(lane, lane)
            if len(title) > lane_width - 1:
                title = TINY_TITLES.get(lane, lane)
            text.append(title[:lane_width].center(lane_width), style="bold")
        text.append(" call = result", style="bold")
        return text

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        width = self.size.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        base = self.rich_style
        lane_style = self.get_component_rich_style("seqview--lane")
        arrow_style = self.get_component_rich_style("seqview--arrow")
        if index == self.cursor:
            base = base + self.get_component_rich_style("seqview--current")
        elif row.seq == self.stop_seq:
            base = base + self.get_component_rich_style("seqview--stop")
        text_style = base
        if row.error:
            text_style = base + self.get_component_rich_style("seqview--error")
        elif row.phase == "start":
            text_style = base + self.get_component_rich_style("seqview--pending")
        segments = self._lane_segments(row, base, base + lane_style, base + arrow_style)
        label = f" {row.name}({row.args})"
        if row.phase == "start":
            label += " …"
        elif row.result != "":
            label += f" = {row.result}"
        segments.append(Segment(label, text_style))
        strip = Strip(segments).crop(self.scroll_offset.x, self.scroll_offset.x + width)
        return strip.extend_cell_length(width, base)

    def _lane_segments(self, row: Row, base: Style, lane: Style, arrow: Style) -> list[Segment]:
        lanes = self.lanes
        width = self.lane_width
        target = lanes.index(row.layer) if row.layer in lanes else 0
        parent_layer = self._layer.get(row.parent) if row.parent is not None else None
        source = lanes.index(parent_layer) if parent_layer in lanes else 0
        cells = [" "] * (width * len(lanes))
        styles = [lane] * len(cells)
        for i in range(len(lanes)):
            cells[i * width + width // 2] = "│"
        a = source * width + width // 2
        b = target * width + width // 2
        if a == b:
            cells[b] = "●"
            styles[b] = arrow
        else:
            step = 1 if b > a else -1
            for x in range(a, b, step):
                cells[x] = "─"
                styles[x] = arrow
            cells[a] = "├" if step > 0 else "┤"
            cells[b] = "►" if step > 0 else "◄"
            styles[b] = arrow
        segments = []
        for char, style in zip(cells, styles, strict=True):
            if segments and segments[-1].style == style:
                segments[-1] = Segment(segments[-1].text + char, style)
            else:
                segments.append(Segment(char, style))
        return segments


# --- the process tree -------------------------------------------------------------------------


class ProcessTree(Tree):
    """Processes by parent (Process Explorer's tree): pid, image, personality and the
    servers it is a client of; new ones highlighted, exited ones dimmed."""

    def __init__(self, **kwargs) -> None:
        super().__init__("machine", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._signature: tuple = ()
        self._seen: set[int] = set()
        self.fresh: set[int] = set()

    def update_from(self, snapshot: MachineSnapshot) -> None:
        signature = tuple((p.pid, p.alive, p.servers, p.exit_status) for p in snapshot.processes)
        if signature == self._signature:
            return
        self._signature = signature
        pids = {p.pid for p in snapshot.processes}
        self.fresh = pids - self._seen if self._seen else set()
        self._seen |= pids
        self.clear()
        children: dict[int | None, list[ProcessSnapshot]] = {}
        for process in snapshot.processes:
            parent = process.parent if process.parent in pids else None
            children.setdefault(parent, []).append(process)

        def add(node, parent: int | None) -> None:
            for process in children.get(parent, []):
                child = node.add(self._label(process), data=process.pid, expand=True)
                add(child, process.pid)
                if not children.get(process.pid):
                    child.allow_expand = False

        add(self.root, None)
        self.root.expand()

    def _label(self, process: ProcessSnapshot) -> Text:
        style = "dim" if not process.alive else ("bold green" if process.pid in self.fresh else "")
        text = Text(f"{process.pid:>3} {process.name}", style=style)
        kind = "server" if process.is_server else process.personality
        if kind:
            text.append(f" [{kind}]", style="dim" if not process.alive else "cyan")
        if process.servers:
            text.append(f" → {', '.join(process.servers)}", style="magenta" if process.alive else "dim")
        if not process.alive:
            text.append(f" exit {process.exit_status}", style="dim")
        return text


# --- disassembly, registers, memory --------------------------------------------------------------


class Disassembly(Static):
    """Instructions around a thread's PC, in its process's mode: `>` at the PC, `●` at
    a breakpoint (gdb's TUI markers)."""

    def show(self, lines: tuple[Instruction, ...], pc: int | None, breakpoints: set[int],
             title: str = "") -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if title:
            text.append(title + "\n", style="bold")
        if not lines:
            text.append("(no code to show: the process has no processor or its PC is unmapped)",
                        style="dim")
        for insn in lines:
            marker = ">" if insn.address == pc else " "
            mark = "●" if insn.address in breakpoints else " "
            style = "bold reverse" if insn.address == pc else ""
            text.append(f"{marker}{mark}{insn.address:08x} ", style=style or "dim")
            text.append(f"{insn.mnemonic:<6} {insn.operands}\n", style=style)
        self.update(text)


def show_text(widget: Static, text: Text) -> None:
    """Update a pane that a running machine's snapshots redraw 4 times a second: the
    screen is laid out again only when its number of lines changed (a layout is ~10 ms
    of the UI's thread, taken from the guest's host core on a loaded machine)."""
    lines = text.plain.count("\n")
    widget.update(text, layout=lines != getattr(widget, "_shown_lines", None))
    widget._shown_lines = lines


class Registers(Static):
    """A thread's registers in its own mode's names; changed values highlighted (as the
    gdb TUI's register window does)."""

    def show(self, thread: ThreadSnapshot | None, previous: ThreadSnapshot | None,
             title: str = "") -> None:
        text = Text()
        if title:
            text.append(title + "\n", style="bold")
        if thread is None or not thread.registers:
            text.append("(no thread selected)", style="dim")
            show_text(self, text)
            return
        before = dict(previous.registers) if previous is not None and previous.tid == thread.tid else {}
        digits = 16 if thread.mode == "x86-64" else (8 if thread.mode == "x86-32" else 4)
        names = max(len(name) for name, _ in thread.registers)
        for i, (name, value) in enumerate(thread.registers):
            changed = name in before and before[name] != value
            text.append(f"{name:>{names}} ", style="bold")
            text.append(f"{value & ((1 << (4 * digits)) - 1):0{digits}x}",
                        style="bold red" if changed else "")
            text.append("\n" if i % 2 else " ")
        show_text(self, text)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int = 24) -> str:
    values = values[-width:]
    if not values:
        return ""
    top = max(values) or 1
    return "".join(SPARK[min(len(SPARK) - 1, v * (len(SPARK) - 1) // top)] for v in values)


def size(count: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value >= 100 or value == int(value) else f"{value:.1f}{unit}"
    return f"{count}B"


class MemoryPane(Static):
    """Per guest process: reserved, committed and touched (the memory manager's own
    counters), and committed over time as a sparkline."""

    def show(self, snapshot: MachineSnapshot, history: dict[int, list[int]]) -> None:
        text = Text()
        text.append("R reserved C committed T touched\n", style="dim")
        for process in snapshot.processes:
            if process.is_server or not process.vads and not process.alive:
                continue
            style = "dim" if not process.alive else ""
            text.append(f"{process.pid:>3} {process.name[:22]}\n", style=style or "bold")
            text.append(f"  R {size(process.reserved)}  C {size(process.committed)}  "
                        f"T {size(process.touched)}\n", style=style)
            text.append(f"  {sparkline(history.get(process.pid, []))}\n", style="green")
        show_text(self, text)


# --- the console and the VDM's text screen -------------------------------------------------------

# The CGA palette, in the order of the attribute byte's colour numbers.
CGA = ["#000000", "#0000aa", "#00aa00", "#00aaaa", "#aa0000", "#aa00aa", "#aa5500", "#aaaaaa",
       "#555555", "#5555ff", "#55ff55", "#55ffff", "#ff5555", "#ff55ff", "#ffff55", "#ffffff"]


def screen_text(screen: ScreenSnapshot) -> Text:
    """The console's screen buffer as it would look on the VGA: 80x25 cells, each a CP437
    character with a foreground and background colour."""
    from ..subsystems.windows.screen import CP437_GLYPHS

    text = Text()
    cells = screen.cells
    for row in range(screen.rows):
        start = row * screen.columns * 2
        run_style, run = None, []
        for column in range(screen.columns):
            char, attribute = cells[start + 2 * column], cells[start + 2 * column + 1]
            style = Style(color=CGA[attribute & 0x0F], bgcolor=CGA[(attribute >> 4) & 0x07])
            if (row, column) == screen.cursor:
                style = style + Style(underline=True)
            if style != run_style and run:
                text.append("".join(run), style=run_style)
                run = []
            run_style = style
            run.append(CP437_GLYPHS[char])
        if run:
            text.append("".join(run), style=run_style)
        if row < screen.rows - 1:
            text.append("\n")
    return text


class ScreenView(Static):
    def show(self, screen: ScreenSnapshot | None) -> None:
        if screen is None:
            self.update(Text("(no console screen buffer)", style="dim"))
        else:
            self.update(screen_text(screen))


def ports_text(snapshot: MachineSnapshot) -> Text:
    text = Text()
    text.append(f"{'port':<26} {'server':<12} {'clients':>7}  messages in flight\n", style="bold")
    for port in snapshot.ports:
        queued = ", ".join(f"#{m.message_id} {m.api} from {m.client_pid}" for m in port.queued) or "-"
        text.append(f"{port.name:<26} {port.server:<12} {port.clients:>7}  {queued}\n")
    return text


def call_tables_text(snapshot: MachineSnapshot) -> Text:
    text = Text()
    for name, rows in snapshot.call_tables:
        levels: dict[str, int] = {}
        for row in rows:
            levels[row.level] = levels.get(row.level, 0) + 1
        summary = ", ".join(f"{count} {level}" for level, count in sorted(levels.items()))
        text.append(f"{name}: {len(rows)} calls ({summary})\n", style="bold")
        for row in rows:
            style = {"supported": "", "partial": "yellow"}.get(row.level, "red")
            text.append(f"  {row.number:>4} {row.name:<24} {row.level}\n", style=style)
    return text
