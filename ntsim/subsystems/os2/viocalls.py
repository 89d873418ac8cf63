"""VIOCALLS and KBDCALLS: the screen and the keyboard of a character-mode program.

NT kept these inside the subsystem (no DLL on disk); here each call is one request to
the console (subsystems/windows/console_client.py), which reaches CSRSS's screen buffer
over LPC — the same screen the program's DosWrite to handle 1 writes to, so both appear
in order. VioGetMode and VioGetCurPos answer 80x25 even when ntsim's own output is not a
terminal (the screen buffer is there regardless).
"""

from __future__ import annotations

import struct
from typing import Any

from ...kernel.dispatcher import then
from .doscalls import end_of_file_as
from .errors import ERROR_INVALID_PARAMETER, Os2Error
from .gate import Os2Thread

ERROR_VIO_ROW, ERROR_VIO_COL = 358, 359
ERROR_KBD_INVALID_IOWAIT = 375


def _console(caller: Os2Thread) -> Any:
    return caller.os2.console


def _position(caller: Os2Thread, row: int, column: int) -> None:
    info = _console(caller).info()
    if row >= info.rows:
        raise Os2Error(ERROR_VIO_ROW, f"row {row}")
    if column >= info.columns:
        raise Os2Error(ERROR_VIO_COL, f"column {column}")


def vio_wrt_tty(caller: Os2Thread, string: int, length: int, _vio: int) -> int:
    _console(caller).write_teletype(caller.read(string, length))
    return 0


def vio_get_mode(caller: Os2Thread, mode_out: int, _vio: int) -> int:
    """VIOMODEINFO: cb, fbType (1: text, colour), color (4: 16 colours), columns, rows,
    horizontal and vertical resolution; as many bytes as its cb asks for (at least 2)."""
    wanted = caller.read_word(mode_out)
    if wanted < 2:
        raise Os2Error(ERROR_INVALID_PARAMETER, f"cb {wanted}")
    info = _console(caller).info()
    full = struct.pack("<HBBHHHH", 12, 1, 4, info.columns, info.rows, info.columns * 9, info.rows * 16)
    size = min(wanted, len(full))
    caller.write(mode_out, struct.pack("<H", size) + full[2:size])
    return 0


def vio_get_cur_pos(caller: Os2Thread, row_out: int, column_out: int, _vio: int) -> int:
    info = _console(caller).info()
    caller.linear(column_out, 2)
    caller.write_word(row_out, info.cursor_row)
    caller.write_word(column_out, info.cursor_column)
    return 0


def vio_set_cur_pos(caller: Os2Thread, row: int, column: int, _vio: int) -> int:
    _position(caller, row, column)
    _console(caller).set_cursor(row, column)
    return 0


def vio_scroll_up(caller: Os2Thread, top: int, left: int, bottom: int, right: int, lines: int, cell: int,
                  _vio: int) -> int:
    console = _console(caller)
    info = console.info()
    bottom, right = min(bottom, info.rows - 1), min(right, info.columns - 1)
    if top > bottom or left > right:
        raise Os2Error(ERROR_INVALID_PARAMETER, f"window {top},{left}-{bottom},{right}")
    character, attribute = caller.read(cell, 2)
    console.scroll_up(top, left, bottom, right, 0 if lines == 0xFFFF else lines, character, attribute)
    return 0


def vio_wrt_char_str_att(caller: Os2Thread, string: int, length: int, row: int, column: int, attribute: int,
                         _vio: int) -> int:
    _position(caller, row, column)
    text = caller.read(string, length)
    colour = caller.read(attribute, 1)[0]
    console = _console(caller)
    written = console.write_characters(row, column, text)
    console.fill(row, column, written, attribute=colour)
    return 0


def vio_read_cell_str(caller: Os2Thread, buffer: int, length_io: int, row: int, column: int, _vio: int) -> int:
    _position(caller, row, column)
    wanted = caller.read_word(length_io) // 2
    caller.linear(buffer, wanted * 2)
    cells = _console(caller).read_cells(row, column, wanted)
    caller.write(buffer, cells)
    caller.write_word(length_io, len(cells))
    return 0


# --- the keyboard -------------------------------------------------------------------------

IO_WAIT, IO_NOWAIT = 0, 1
FINAL_CHARACTER = 0x40            # KBDKEYINFO.fbStatus: a complete character is here


def _key_info(key: Any, now_ms: int) -> bytes:
    """KBDKEYINFO: chChar, chScan, fbStatus, bNlsShift, fsState, time."""
    if key is None:
        return bytes(10)
    return struct.pack("<BBBBHI", key.character, key.scan, FINAL_CHARACTER, 0, key.shift_state,
                       now_ms & 0xFFFF_FFFF)


def _read_key(caller: Os2Thread, wait: bool, post) -> Any:
    """The console's next key, then `post(key)`; None once the host's input has ended
    (no key will come)."""
    return then(lambda: _console(caller).read_key(wait=wait), post,
                failed=lambda error: end_of_file_as(error, None))


def kbd_char_in(caller: Os2Thread, info_out: int, wait: int, _kbd: int) -> Any:
    if wait not in (IO_WAIT, IO_NOWAIT):
        raise Os2Error(ERROR_KBD_INVALID_IOWAIT, f"IOWait {wait}")
    caller.linear(info_out, 10)
    now = caller.kernel.clock.monotonic_ns() // 1_000_000
    return _read_key(caller, wait == IO_WAIT, lambda key: caller.write(info_out, _key_info(key, now)) or 0)


def kbd_peek(caller: Os2Thread, info_out: int, _kbd: int) -> int:
    caller.linear(info_out, 10)
    key = _console(caller).peek_key()
    caller.write(info_out, _key_info(key, caller.kernel.clock.monotonic_ns() // 1_000_000))
    return 0


def kbd_string_in(caller: Os2Thread, buffer: int, length_io: int, wait: int, _kbd: int) -> Any:
    """A line, echoed, up to Enter (not stored) or the buffer's size (STRINGINBUF: cb, cchIn).
    Backspace takes back a character. IO_NOWAIT is not modelled."""
    if wait != IO_WAIT:
        raise Os2Error(ERROR_KBD_INVALID_IOWAIT, "only IO_WAIT is modelled")
    room = caller.read_word(length_io)
    caller.linear(buffer, room)
    line = bytearray()
    console = _console(caller)

    def step(key: Any) -> Any:
        if key is None or key.character == 0x0D or len(line) >= room:
            if key is not None and key.character == 0x0D:
                console.write_teletype(b"\r\n")
            caller.write(buffer, bytes(line))
            caller.write(length_io + 2, struct.pack("<H", len(line)))
            return 0
        if key.character == 0x08:
            if line:
                line.pop()
                console.write_teletype(b"\x08 \x08")
        elif key.character not in (0, 0xE0):
            line.append(key.character)
            console.write_teletype(bytes([key.character]))
        return _read_key(caller, True, step)

    return _read_key(caller, True, step)



