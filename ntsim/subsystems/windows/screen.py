"""The console's screen buffer: a grid of character cells, a cursor, and how it reaches the host.

A PC's text screen is video memory at B800:0000: for each cell a character byte (code
page 437) and an attribute byte (foreground colour in bits 0-3, background in bits 4-6,
blink in bit 7), row after row. CSRSS keeps one such buffer per console, in that very
layout, so a DOS virtual machine's video memory and OS/2's logical video buffer
(VioGetBuf) copy into it unchanged. What writes to it:

- teletype output (INT 10h AH=0Eh, VioWrtTTY, Win32 WriteConsole): a character at the
  cursor, which then advances; CR, LF, BS, TAB and BEL move it as a PC BIOS does; the
  line wraps after the last column and the screen scrolls at the bottom row;
- cursor-addressed writes (INT 10h AH=09h, VioWrtCharStrAtt, VioWrtNCell,
  WriteConsoleOutput): cells at a row and column, leaving the cursor where it is;
- scrolls of a window (INT 10h AH=06h/07h, VioScrollUp/Dn/Lf/Rt);
- stores into video memory (a VDM reflecting B800 writes).

`TerminalPainter` draws the buffer on an ANSI terminal; `screen_text` and
`teletype_text` give it as plain text where the output is not a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

BLANK = 0x20
DEFAULT_ATTRIBUTE = 0x07         # light grey on black, what a PC boots with
DEFAULT_COLUMNS, DEFAULT_ROWS = 80, 25
TAB_STOP = 8
BEL, BS, TAB, LF, CR = 0x07, 0x08, 0x09, 0x0A, 0x0D

# What a cell write carries (the Win32 ReadConsoleOutput* / WriteConsoleOutput* family,
# VioWrtCharStr / VioWrtNAttr / VioWrtCellStr).
CELLS, CHARACTERS, ATTRIBUTES = "cells", "characters", "attributes"
WHAT = (CELLS, CHARACTERS, ATTRIBUTES)
# Which way a window scrolls: the lines move up (new blank lines at the bottom), down, ...
UP, DOWN, LEFT, RIGHT = "up", "down", "left", "right"
DIRECTIONS = (UP, DOWN, LEFT, RIGHT)

# Code page 437 as the screen shows it: 0x00-0x1F and 0x7F are glyphs (☺ ♥ ♪ ▲ ⌂) in
# video memory, not control characters; 0x00 and 0xFF show as blanks.
_CONTROL_GLYPHS = " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
CP437_GLYPHS = _CONTROL_GLYPHS + bytes(range(0x20, 0x7F)).decode("ascii") + "⌂" \
    + bytes(range(0x80, 0xFF)).decode("cp437") + " "


class ScreenError(ValueError):
    """A position or size outside the screen buffer (CSRSS answers STATUS_INVALID_PARAMETER)."""


@dataclass(frozen=True)
class ScreenBufferInfo:
    """GetConsoleScreenBufferInfo / VioGetMode + VioGetCurPos + VioGetCurType in one."""

    columns: int
    rows: int
    cursor_row: int
    cursor_column: int
    cursor_visible: bool
    cursor_start: int            # the cursor's first and last scan line in a cell of 8
    cursor_end: int


class ScreenBuffer:
    """A console screen buffer: `columns` x `rows` cells in B800 layout, and a cursor.

    Rows and columns count from 0 at the top left. Every change is remembered, per row
    as the span of columns it touched, until `take_changes` hands them to a painter."""

    def __init__(self, columns: int = DEFAULT_COLUMNS, rows: int = DEFAULT_ROWS,
                 attribute: int = DEFAULT_ATTRIBUTE) -> None:
        self.resize(columns, rows, attribute)

    # --- the mode ---------------------------------------------------------------------------

    def resize(self, columns: int, rows: int, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        """Set the text mode (INT 10h AH=00h, VioSetMode): a new size, the screen
        cleared to blanks of `attribute`, the cursor home."""
        if not (1 <= columns <= 255 and 1 <= rows <= 255):
            raise ScreenError(f"a screen of {columns}x{rows} cells")
        self.columns, self.rows = columns, rows
        self.cells = bytearray(bytes((BLANK, attribute & 0xFF)) * (columns * rows))
        self.cursor_row = self.cursor_column = 0
        self.cursor_visible = True
        self.cursor_start, self.cursor_end = 6, 7        # the CGA's underline cursor
        self.bells = 0               # BELs written: a terminal painter rings them
        # A cell-addressed write put a visible character on the screen (not teletype
        # output): what makes a transcript show the final screen at the end.
        self.painted = False
        self.version = 0             # bumps on every change: a viewer knows to redraw
        self._changes: dict[int, list[int]] = {}
        self._touch_rows(0, rows - 1)

    def clear(self, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        self.resize(self.columns, self.rows, attribute)

    def info(self) -> ScreenBufferInfo:
        return ScreenBufferInfo(self.columns, self.rows, self.cursor_row, self.cursor_column,
                                self.cursor_visible, self.cursor_start, self.cursor_end)

    # --- reading ----------------------------------------------------------------------------

    def cell(self, row: int, column: int) -> tuple[int, int]:
        """(character, attribute) at a cell."""
        offset = self._offset(row, column)
        return self.cells[offset], self.cells[offset + 1]

    def character(self, row: int, column: int) -> int:
        return self.cell(row, column)[0]

    def attribute(self, row: int, column: int) -> int:
        return self.cell(row, column)[1]

    def row_text(self, row: int) -> str:
        """A row as the screen shows it (CP437 glyphs), trailing blanks kept."""
        start = self._offset(row, 0)
        return "".join(CP437_GLYPHS[c] for c in self.cells[start:start + 2 * self.columns:2])

    def text(self) -> list[str]:
        """Every row as text, trailing blanks removed."""
        return [self.row_text(row).rstrip() for row in range(self.rows)]

    def read(self, row: int, column: int, count: int, what: str = CELLS) -> bytes:
        """VioReadCellStr / VioReadCharStr, ReadConsoleOutput*: `count` cells from a
        position, on into the next rows, cut at the end of the screen."""
        start = self._offset(row, column)
        end = min(len(self.cells), start + 2 * max(0, count))
        return bytes(self._select(self.cells[start:end], what))

    def video_memory(self, offset: int = 0, length: int | None = None) -> bytes:
        """Video memory as a VDM sees it at B800:offset (the cells, byte for byte)."""
        if not 0 <= offset <= len(self.cells):
            raise ScreenError(f"video memory offset {offset:#x} beyond {len(self.cells):#x}")
        end = len(self.cells) if length is None else min(len(self.cells), offset + length)
        return bytes(self.cells[offset:end])

    # --- writing at a position --------------------------------------------------------------

    def write(self, row: int, column: int, data: bytes, what: str = CELLS) -> int:
        """Write cells, characters only (the attributes stay), or attributes only, from
        a position on into the next rows; what passes the end of the screen is dropped
        (VioWrtCellStr / VioWrtCharStr / VioWrtNAttr's rule). The cursor stays.
        Returns the number of cells written."""
        start = self._offset(row, column)
        if what == CELLS:
            data = data[:len(data) - len(data) % 2]
            count = min(len(data), len(self.cells) - start) // 2
            self.cells[start:start + 2 * count] = data[:2 * count]
            characters = data[:2 * count:2]
        else:
            if what not in WHAT:
                raise ScreenError(f"cannot write {what!r} (cells, characters or attributes)")
            count = min(len(data), (len(self.cells) - start) // 2)
            plane = start + (0 if what == CHARACTERS else 1)
            self.cells[plane:plane + 2 * count:2] = data[:count]
            characters = data[:count] if what == CHARACTERS else b""
        if characters.strip(b" \0\xff"):
            self.painted = True
        self._touch_span(start // 2, count)
        return count

    def fill(self, row: int, column: int, count: int, character: int | None = None,
             attribute: int | None = None) -> int:
        """Write one character, one attribute, or both, `count` times from a position
        (VioWrtNChar / VioWrtNAttr / VioWrtNCell, INT 10h AH=09h/0Ah,
        FillConsoleOutputCharacter/Attribute). Returns the cells written."""
        start = self._offset(row, column)
        count = min(max(0, count), (len(self.cells) - start) // 2)
        if character is not None:
            self.cells[start:start + 2 * count:2] = bytes((character & 0xFF,)) * count
            if count and character not in (BLANK, 0, 0xFF):
                self.painted = True
        if attribute is not None:
            self.cells[start + 1:start + 1 + 2 * count:2] = bytes((attribute & 0xFF,)) * count
        self._touch_span(start // 2, count)
        return count

    def store(self, offset: int, data: bytes) -> None:
        """Bytes a program stored into video memory at B800:offset (even offsets are
        characters, odd ones attributes): what a VDM reflects into the buffer."""
        end = offset + len(data)
        if offset < 0 or end > len(self.cells):
            raise ScreenError(f"video memory {offset:#x}..{end:#x} beyond {len(self.cells):#x}")
        self.cells[offset:end] = data
        if data[(offset % 2):: 2].strip(b" \0\xff"):
            self.painted = True
        if data:
            self._touch_span(offset // 2, (end - 1) // 2 - offset // 2 + 1)

    # --- the cursor -------------------------------------------------------------------------

    def set_cursor(self, row: int, column: int) -> None:
        """VioSetCurPos, INT 10h AH=02h, SetConsoleCursorPosition."""
        self._offset(row, column)
        if (row, column) != (self.cursor_row, self.cursor_column):
            self.cursor_row, self.cursor_column = row, column
            self.version += 1

    def set_cursor_shape(self, start: int, end: int, visible: bool = True) -> None:
        """VioSetCurType, INT 10h AH=01h (a start line with bit 5 set hides it),
        SetConsoleCursorInfo."""
        self.cursor_start, self.cursor_end, self.cursor_visible = start & 0x1F, end & 0x1F, visible
        self.version += 1

    # --- scrolling --------------------------------------------------------------------------

    def scroll(self, top: int, left: int, bottom: int, right: int, lines: int,
               direction: str = UP, character: int = BLANK,
               attribute: int = DEFAULT_ATTRIBUTE) -> None:
        """Move the window's contents `lines` rows up or down (or columns left or
        right) and fill what they left with `character` in `attribute`. `lines` 0, or
        at least the window's height (width), blanks the whole window, as INT 10h
        AH=06h with AL=0 and VioScrollUp with 0xFFFF do. The window is clipped to
        the screen; the cursor stays."""
        if direction not in DIRECTIONS:
            raise ScreenError(f"cannot scroll {direction!r}")
        bottom, right = min(bottom, self.rows - 1), min(right, self.columns - 1)
        if not (0 <= top <= bottom and 0 <= left <= right):
            raise ScreenError(f"no window from ({top}, {left}) to ({bottom}, {right})")
        height, width = bottom - top + 1, right - left + 1
        extent = height if direction in (UP, DOWN) else width
        if lines <= 0 or lines > extent:
            lines = extent
        fill = bytes((character & 0xFF, attribute & 0xFF))
        rows = [self._window_row(row, left, width) for row in range(top, bottom + 1)]
        blank_row = fill * width
        if direction == UP:
            rows = rows[lines:] + [blank_row] * lines
        elif direction == DOWN:
            rows = [blank_row] * lines + rows[:height - lines]
        elif direction == LEFT:
            rows = [r[2 * lines:] + fill * lines for r in rows]
        else:
            rows = [fill * lines + r[:2 * (width - lines)] for r in rows]
        for index, data in enumerate(rows):
            start = self._offset(top + index, left)
            self.cells[start:start + 2 * width] = data
            self._touch(top + index, left, right)

    def _window_row(self, row: int, left: int, width: int) -> bytes:
        start = self._offset(row, left)
        return bytes(self.cells[start:start + 2 * width])

    # --- teletype ---------------------------------------------------------------------------

    def write_teletype(self, data: bytes, attribute: int | None = None) -> None:
        """Teletype output as a PC BIOS does it (INT 10h AH=0Eh; VioWrtTTY; DOS's CON):

        - a character goes at the cursor, which moves right; after the last column
          it wraps to the start of the next row at once;
        - CR returns to column 0; LF moves down a row, in the same column; BS moves
          left, erasing nothing, and not past column 0; BEL rings and moves nothing;
          TAB writes blanks up to the next multiple of 8 (as DOS and VioWrtTTY
          expand it);
        - moving down from the bottom row scrolls the whole screen up a row; the new
          row is blank in `attribute`, or (when None) in the attribute of the cell
          under the cursor, as the BIOS does.

        With `attribute` None each character keeps its cell's attribute (INT 10h
        AH=0Eh in text mode); otherwise the cells get `attribute` (VioWrtTTY with ANSI
        colours, WriteConsole with the console's current attribute)."""
        for byte in data:
            if byte == CR:
                self.set_cursor(self.cursor_row, 0)
            elif byte == LF:
                self._line_feed(attribute)
            elif byte == BS:
                if self.cursor_column > 0:
                    self.set_cursor(self.cursor_row, self.cursor_column - 1)
            elif byte == BEL:
                self.bells += 1
                self.version += 1
            elif byte == TAB:
                for _ in range(TAB_STOP - self.cursor_column % TAB_STOP):
                    self._put(BLANK, attribute)
            else:
                self._put(byte, attribute)

    def _put(self, character: int, attribute: int | None) -> None:
        offset = self._offset(self.cursor_row, self.cursor_column)
        self.cells[offset] = character
        if attribute is not None:
            self.cells[offset + 1] = attribute & 0xFF
        self._touch(self.cursor_row, self.cursor_column, self.cursor_column)
        if self.cursor_column + 1 < self.columns:
            self.cursor_column += 1
        else:
            self.cursor_column = 0
            self._line_feed(attribute)

    def _line_feed(self, attribute: int | None) -> None:
        if self.cursor_row + 1 < self.rows:
            self.cursor_row += 1
            self.version += 1
            return
        if attribute is None:
            attribute = self.attribute(self.cursor_row, self.cursor_column)
        self.scroll(0, 0, self.rows - 1, self.columns - 1, 1, UP, BLANK, attribute)

    # --- changes, for painters --------------------------------------------------------------

    def take_changes(self) -> dict[int, tuple[int, int]]:
        """The rows changed since the last call, each with its first and last changed
        column; forgets them."""
        changes, self._changes = self._changes, {}
        return {row: (span[0], span[1]) for row, span in sorted(changes.items())}

    def _offset(self, row: int, column: int) -> int:
        if not (0 <= row < self.rows and 0 <= column < self.columns):
            raise ScreenError(f"cell ({row}, {column}) outside a {self.columns}x{self.rows} screen")
        return 2 * (row * self.columns + column)

    def _touch(self, row: int, first: int, last: int) -> None:
        self.version += 1
        span = self._changes.get(row)
        if span is None:
            self._changes[row] = [first, last]
        else:
            span[0], span[1] = min(span[0], first), max(span[1], last)

    def _touch_rows(self, first_row: int, last_row: int) -> None:
        for row in range(first_row, last_row + 1):
            self._touch(row, 0, self.columns - 1)

    def _touch_span(self, first_cell: int, count: int) -> None:
        """Mark `count` cells from a linear cell index, row by row."""
        cell, end = first_cell, first_cell + count
        while cell < end:
            row, column = divmod(cell, self.columns)
            last = min(self.columns - 1, column + (end - cell) - 1)
            self._touch(row, column, last)
            cell += last - column + 1

    @staticmethod
    def _select(cells: bytes | bytearray, what: str) -> bytes | bytearray:
        if what == CELLS:
            return cells
        if what == CHARACTERS:
            return cells[0::2]
        if what == ATTRIBUTES:
            return cells[1::2]
        raise ScreenError(f"cannot read {what!r} (cells, characters or attributes)")


# --- the screen as plain text (output that is not a terminal) --------------------------------

def teletype_text(data: bytes) -> str:
    """Teletype bytes as a text stream: code page 437 to Unicode, CR, LF, BS, TAB and
    BEL left as the program wrote them."""
    return data.decode("cp437")


def screen_text(screen: ScreenBuffer) -> str:
    """The screen as text: its rows from the first to the last that is not blank,
    trailing blanks removed, each ending in a newline ("" for a blank screen)."""
    rows = screen.text()
    used = [index for index, row in enumerate(rows) if row.strip()]
    if not used:
        return ""
    return "".join(row + "\n" for row in rows[used[0]:used[-1] + 1])


# --- the screen on an ANSI terminal ------------------------------------------------------------

# The PC's colour numbers run blue, green, red (bit 0 blue); ANSI's run red, green, blue.
PC_TO_ANSI_COLOUR = (0, 4, 2, 6, 1, 5, 3, 7)


def sgr(attribute: int) -> str:
    """The ANSI Select Graphic Rendition for a PC attribute: bright foregrounds as
    90-97, the background from bits 4-6, bit 7 as blink."""
    foreground = attribute & 0x0F
    background = (attribute >> 4) & 0x07
    code = (90 if foreground & 0x08 else 30) + PC_TO_ANSI_COLOUR[foreground & 0x07]
    blink = ";5" if attribute & 0x80 else ""
    return f"\x1b[0;{code};{40 + PC_TO_ANSI_COLOUR[background]}{blink}m"


class TerminalPainter:
    """Draws a screen buffer on an ANSI terminal of a given size, cell for cell.

    `begin` takes the terminal's visible area (what was on it scrolls up into the
    terminal's scrollback) and paints the whole buffer; `update` repaints only the
    spans that changed and puts the terminal's cursor where the buffer's is; `end`
    leaves the terminal's own colours and cursor, on the line after what the program
    drew. Cells beyond the terminal's size are not drawn."""

    def __init__(self, columns: int, rows: int) -> None:
        # a terminal that does not know its size (0x0) is taken to be as big as a PC's
        self.columns, self.rows = columns or DEFAULT_COLUMNS, rows or DEFAULT_ROWS
        self._attribute: int | None = None
        self._cursor_visible: bool | None = None
        self._bells = 0
        self._size = (0, 0)          # the screen's size when painted: a new mode repaints

    def begin(self, screen: ScreenBuffer) -> str:
        screen.take_changes()
        self._attribute = None
        self._bells = screen.bells
        self._size = (screen.columns, screen.rows)
        rows = min(self.rows, screen.rows)
        out = ["\n" * rows, "\x1b[H"]
        for row in range(rows):
            out.append(self._span(screen, row, 0, screen.columns - 1))
        out.append(self._cursor(screen))
        return "".join(out)

    def update(self, screen: ScreenBuffer) -> str:
        out = []
        if (screen.columns, screen.rows) != self._size:     # a new mode: no old cells stay
            out.append("\x1b[0m\x1b[2J")
            self._attribute = None
            self._size = (screen.columns, screen.rows)
        out += [self._span(screen, row, first, last)
                for row, (first, last) in screen.take_changes().items() if row < self.rows]
        if screen.bells != self._bells:
            out.append("\a")
            self._bells = screen.bells
        out.append(self._cursor(screen))
        return "".join(out)

    def end(self, screen: ScreenBuffer) -> str:
        used = [row for row, text in enumerate(screen.text()) if text.strip()]
        last = min(self.rows, max(used[-1] if used else 0, screen.cursor_row) + 1)
        self._attribute = None
        return f"\x1b[0m\x1b[?25h\x1b[{last};1H\r\n"

    def _span(self, screen: ScreenBuffer, row: int, first: int, last: int) -> str:
        last = min(last, self.columns - 1)
        if first > last:
            return ""
        out = [f"\x1b[{row + 1};{first + 1}H"]
        start = 2 * (row * screen.columns + first)
        cells = screen.cells[start:start + 2 * (last - first + 1)]
        for index in range(0, len(cells), 2):
            attribute = cells[index + 1]
            if attribute != self._attribute:
                out.append(sgr(attribute))
                self._attribute = attribute
            out.append(CP437_GLYPHS[cells[index]])
        return "".join(out)

    def _cursor(self, screen: ScreenBuffer) -> str:
        out = ""
        if screen.cursor_visible != self._cursor_visible:
            out = "\x1b[?25h" if screen.cursor_visible else "\x1b[?25l"
            self._cursor_visible = screen.cursor_visible
        row = min(screen.cursor_row, self.rows - 1)
        column = min(screen.cursor_column, self.columns - 1)
        return out + f"\x1b[{row + 1};{column + 1}H"
