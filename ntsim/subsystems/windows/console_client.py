"""kernel32's console functions, the client side of CSRSS's screen and keyboard API.

A personality that gives its programs a text screen and a keyboard (OS2SS's VIO and KBD
calls, a DOS virtual machine's INT 10h and INT 16h) calls these. Each method is one
`NtDeviceIoControlFile` on a console handle, which the console device sends to CSRSS
over LPC — the path every console read and write takes — so a trace shows it crossing
each layer. Positions are (row, column) from (0, 0) at the top left; characters are
code page 437 bytes; an attribute is a PC's colour byte (0x07 grey on black, 0x1F white
on blue). A position outside the screen raises NtStatusError(STATUS_INVALID_PARAMETER).

    console = ConsoleClient.open(kernel.services)      # on the calling guest thread
    console.write_teletype(b"Hello\\r\\n")               # VioWrtTTY, INT 10h AH=0Eh
    console.write_cells(5, 10, b"\\xc9\\x1f\\xcd\\x1f")   # VioWrtCellStr
    key = console.read_key()                           # KbdCharIn wait, INT 16h AH=00h

How the other personalities' calls map onto it:

| OS/2 (VIOCALLS / KBDCALLS) | DOS VM (BIOS) | here |
| --- | --- | --- |
| VioWrtTTY | INT 10h AH=0Eh (attribute None) | write_teletype |
| VioWrtCharStrAtt | INT 10h AH=13h | write_characters + fill(attribute=) |
| VioWrtCellStr / VioWrtCharStr | | write_cells / write_characters |
| VioWrtNCell / VioWrtNChar / VioWrtNAttr | INT 10h AH=09h / 0Ah | fill |
| VioReadCellStr / VioReadCharStr | INT 10h AH=08h | read_cells / read_characters |
| VioScrollUp / Dn / Lf / Rt | INT 10h AH=06h / 07h | scroll_up / down / left / right |
| VioSetCurPos / VioGetCurPos | INT 10h AH=02h / 03h | set_cursor / info() |
| VioSetCurType / VioGetCurType | INT 10h AH=01h | set_cursor_shape / info() |
| VioGetMode / VioSetMode | INT 10h AH=0Fh / 00h | info() / set_mode |
| VioShowBuf (from the LVB) | stores to B800:0000 | write_video_memory |
| KbdCharIn (IO_WAIT / IO_NOWAIT) | INT 16h AH=00h / 10h | read_key(wait=True / False) |
| KbdPeek | INT 16h AH=01h / 11h | peek_key |
| KbdFlushBuffer | INT 21h AH=0Ch | flush_keys |
"""

from __future__ import annotations

from typing import Any

from ...kernel.fs.console import (
    IOCTL_CONSOLE_FILL_OUTPUT,
    IOCTL_CONSOLE_FLUSH_INPUT,
    IOCTL_CONSOLE_GET_SCREEN_BUFFER_INFO,
    IOCTL_CONSOLE_READ_INPUT,
    IOCTL_CONSOLE_READ_OUTPUT,
    IOCTL_CONSOLE_READ_VIDEO_MEMORY,
    IOCTL_CONSOLE_SCROLL,
    IOCTL_CONSOLE_SET_CURSOR_INFO,
    IOCTL_CONSOLE_SET_CURSOR_POSITION,
    IOCTL_CONSOLE_SET_SCREEN_MODE,
    IOCTL_CONSOLE_WRITE_OUTPUT,
    IOCTL_CONSOLE_WRITE_TELETYPE,
    IOCTL_CONSOLE_WRITE_VIDEO_MEMORY,
)
from ...kernel.io import FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA, SYNCHRONIZE
from .keyboard import KeyEvent
from .screen import (
    ATTRIBUTES,
    BLANK,
    CELLS,
    CHARACTERS,
    DEFAULT_ATTRIBUTE,
    DOWN,
    LEFT,
    RIGHT,
    UP,
    ScreenBufferInfo,
)


class ConsoleClient:
    """The console's screen buffer and key events, for one personality's calls.

    `nt` is the kernel's services (`kernel.services`): each call runs on the calling
    thread, which must be the guest thread the work is for (its process connects to
    CSRSS). `read_key` may park that thread: it raises the dispatcher's WaitPending,
    which the personality's call gate turns into a wait, as for any blocking call."""

    def __init__(self, nt: Any, output_handle: int, input_handle: int) -> None:
        self.nt = nt
        self.output_handle = output_handle
        self.input_handle = input_handle

    @classmethod
    def open(cls, nt: Any) -> ConsoleClient:
        """Open the console's output (CONOUT$) and input (CONIN$) for the current process."""
        output = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA | SYNCHRONIZE, FILE_OPEN)
        input_ = nt.NtCreateFile("\\Device\\ConDrv\\Input", FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN)
        return cls(nt, output, input_)

    def _screen(self, code: int, **arguments: Any) -> Any:
        return self.nt.NtDeviceIoControlFile(self.output_handle, code, arguments)

    # --- the mode and the cursor ------------------------------------------------------------

    def info(self) -> ScreenBufferInfo:
        """Size, cursor position and shape."""
        return self._screen(IOCTL_CONSOLE_GET_SCREEN_BUFFER_INFO)

    def set_mode(self, columns: int, rows: int, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        """A new text mode: the size, the screen cleared, the cursor home."""
        self._screen(IOCTL_CONSOLE_SET_SCREEN_MODE, Columns=columns, Rows=rows, Attribute=attribute)

    def set_cursor(self, row: int, column: int) -> None:
        self._screen(IOCTL_CONSOLE_SET_CURSOR_POSITION, Row=row, Column=column)

    def set_cursor_shape(self, start: int, end: int, visible: bool = True) -> None:
        self._screen(IOCTL_CONSOLE_SET_CURSOR_INFO, Start=start, End=end, Visible=visible)

    # --- writing ----------------------------------------------------------------------------

    def write_teletype(self, data: bytes, attribute: int | None = None) -> int:
        """Characters at the cursor, moving it (CR, LF, BS, TAB, BEL act; wraps at the
        last column, scrolls at the bottom). With attribute None the cells keep theirs."""
        return self._screen(IOCTL_CONSOLE_WRITE_TELETYPE, Attribute=attribute, Data=data)

    def write_cells(self, row: int, column: int, cells: bytes) -> int:
        """(character, attribute) byte pairs from a position, on into the next rows;
        the cursor stays. Returns the cells written (fewer at the end of the screen)."""
        return self._screen(IOCTL_CONSOLE_WRITE_OUTPUT, Row=row, Column=column, What=CELLS, Data=cells)

    def write_characters(self, row: int, column: int, characters: bytes) -> int:
        """Characters only; each cell keeps its attribute."""
        return self._screen(IOCTL_CONSOLE_WRITE_OUTPUT, Row=row, Column=column, What=CHARACTERS,
                            Data=characters)

    def write_attributes(self, row: int, column: int, attributes: bytes) -> int:
        """Attributes only; each cell keeps its character."""
        return self._screen(IOCTL_CONSOLE_WRITE_OUTPUT, Row=row, Column=column, What=ATTRIBUTES,
                            Data=attributes)

    def fill(self, row: int, column: int, count: int, character: int | None = None,
             attribute: int | None = None) -> int:
        """One character, one attribute or both, `count` times from a position."""
        return self._screen(IOCTL_CONSOLE_FILL_OUTPUT, Row=row, Column=column, Count=count,
                            Character=character, Attribute=attribute)

    def write_video_memory(self, offset: int, data: bytes) -> int:
        """Bytes stored into video memory at B800:offset (character, attribute, ...)."""
        return self._screen(IOCTL_CONSOLE_WRITE_VIDEO_MEMORY, Offset=offset, Data=data)

    # --- reading ----------------------------------------------------------------------------

    def read_cells(self, row: int, column: int, count: int) -> bytes:
        return self._screen(IOCTL_CONSOLE_READ_OUTPUT, Row=row, Column=column, Count=count, What=CELLS)

    def read_characters(self, row: int, column: int, count: int) -> bytes:
        return self._screen(IOCTL_CONSOLE_READ_OUTPUT, Row=row, Column=column, Count=count,
                            What=CHARACTERS)

    def read_attributes(self, row: int, column: int, count: int) -> bytes:
        return self._screen(IOCTL_CONSOLE_READ_OUTPUT, Row=row, Column=column, Count=count,
                            What=ATTRIBUTES)

    def read_video_memory(self, offset: int = 0, length: int | None = None) -> bytes:
        """The screen as video memory from B800:offset (all of it by default)."""
        return self._screen(IOCTL_CONSOLE_READ_VIDEO_MEMORY, Offset=offset, Length=length)

    # --- scrolling --------------------------------------------------------------------------

    def scroll_up(self, top: int, left: int, bottom: int, right: int, lines: int,
                  character: int = BLANK, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        """The window's rows move up `lines` (0, or more than its height: blank it all);
        the rows they leave are filled with `character` in `attribute`."""
        self._scroll(top, left, bottom, right, lines, UP, character, attribute)

    def scroll_down(self, top: int, left: int, bottom: int, right: int, lines: int,
                    character: int = BLANK, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        self._scroll(top, left, bottom, right, lines, DOWN, character, attribute)

    def scroll_left(self, top: int, left: int, bottom: int, right: int, columns: int,
                    character: int = BLANK, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        self._scroll(top, left, bottom, right, columns, LEFT, character, attribute)

    def scroll_right(self, top: int, left: int, bottom: int, right: int, columns: int,
                     character: int = BLANK, attribute: int = DEFAULT_ATTRIBUTE) -> None:
        self._scroll(top, left, bottom, right, columns, RIGHT, character, attribute)

    def _scroll(self, top: int, left: int, bottom: int, right: int, lines: int, direction: str,
                character: int, attribute: int) -> None:
        self._screen(IOCTL_CONSOLE_SCROLL, Top=top, Left=left, Bottom=bottom, Right=right, Lines=lines,
                     Direction=direction, Character=character, Attribute=attribute)

    # --- the keyboard -----------------------------------------------------------------------

    def read_key(self, wait: bool = True) -> KeyEvent | None:
        """The next key, removed from the input buffer. With none: `wait` parks the
        thread until one comes (WaitPending), otherwise None. NtStatusError
        STATUS_END_OF_FILE once the host's input has ended and no key is left."""
        return self.nt.NtDeviceIoControlFile(self.input_handle, IOCTL_CONSOLE_READ_INPUT,
                                             {"Wait": wait, "Remove": True})

    def peek_key(self) -> KeyEvent | None:
        """The next key, left in the buffer; None if there is none (never waits)."""
        return self.nt.NtDeviceIoControlFile(self.input_handle, IOCTL_CONSOLE_READ_INPUT,
                                             {"Wait": False, "Remove": False})

    def flush_keys(self) -> int:
        """Drop the keys typed ahead; returns how many."""
        return self.nt.NtDeviceIoControlFile(self.input_handle, IOCTL_CONSOLE_FLUSH_INPUT, {})
