"""The BIOS of the virtual machine: INT 10h (video), 11h, 12h, 13h (disk), 15h, 16h
(keyboard), 1Ah (clock), and the timer's INT 08h.

The screen and the keyboard are the console's: INT 10h and 16h are ConsoleClient calls
(NtDeviceIoControlFile to the console, which CSRSS serves), the same calls OS/2's VIO and
KBD use. The text screen is also video memory at B800:0000, which programs write
directly; machine.sync_video keeps the two in step. Everything else the BIOS answers
from the machine itself: the BIOS data area, the virtual clock, the equipment it has.
There is no disk under INT 13h (C: is a host directory, reached through DOS), so every
disk function fails cleanly, as for a drive that is not there.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..kernel.dispatcher import then
from ..kernel.status import STATUS_END_OF_FILE, NtStatusError
from ..subsystems.base import call
from .calls import Flagged, Reg
from .machine import (
    BDA,
    BDA_ACTIVE_PAGE,
    BDA_COLUMNS,
    BDA_CURSOR,
    BDA_CURSOR_SHAPE,
    BDA_EQUIPMENT,
    BDA_KEYBOARD_FLAGS,
    BDA_MEMORY_KB,
    BDA_MIDNIGHT,
    BDA_PAGE_SIZE,
    BDA_ROWS,
    BDA_TICKS,
    BDA_VIDEO_MODE,
    CARRY,
    ZERO,
)

TEXT_MODES = {0: 40, 1: 40, 2: 80, 3: 80, 7: 80}
EQUIPMENT = 0x0020          # bits 4-5 = 10b: an 80x25 colour screen; no floppy, no coprocessor


def init_data_area(vm: Any) -> None:
    """The BIOS data area as a PC with a colour text screen and 640 KiB leaves it."""
    at = BDA
    vm.ram[at:at + 0x100] = bytes(0x100)
    vm.set_word(at + BDA_EQUIPMENT, EQUIPMENT)
    vm.set_word(at + BDA_MEMORY_KB, 640)
    vm.ram[at + BDA_VIDEO_MODE] = 3
    vm.set_word(at + BDA_COLUMNS, 80)
    vm.set_word(at + BDA_PAGE_SIZE, 80 * 25 * 2)
    vm.set_word(at + BDA_CURSOR_SHAPE, 0x0607)
    vm.set_word(at + 0x63, 0x3D4)                  # the CRT controller's port
    vm.ram[at + BDA_ROWS] = 24                     # rows less one
    vm.set_word(at + 0x1A, 0x1E)                   # the keyboard buffer: empty
    vm.set_word(at + 0x1C, 0x1E)
    ticks = vm.ticks_since_midnight()
    vm.set_word(at + BDA_TICKS, ticks & 0xFFFF)
    vm.set_word(at + BDA_TICKS + 2, ticks >> 16)


# --- INT 10h: video ---------------------------------------------------------------------------

def _before(vm: Any) -> None:
    vm.sync_video()


def _changed(vm: Any) -> None:
    vm.screen_stale = True


def _cursor(vm: Any) -> tuple[int, int]:
    if vm.screen_stale:
        vm.sync_video()
    info = vm.console.info()
    return info.cursor_row, info.cursor_column


def set_mode(vm: Any, al: int) -> int:
    """AH=00h: a text mode (00h-03h, 07h): the screen cleared, the cursor home. A
    graphics mode is not modelled: the screen stays in text mode, with a warning."""
    mode = al & 0x7F
    _before(vm)
    columns = TEXT_MODES.get(mode)
    if columns is None:
        if mode not in vm.warned_modes:
            vm.warned_modes.add(mode)
            print(f"ntsim: vdm: INT 10h AH=00h AL={mode:02X}h: graphics modes are not modelled; "
                  f"the screen stays in text mode", file=sys.stderr)
        return mode
    vm.console.set_mode(columns, 25)
    vm.ram[BDA + BDA_VIDEO_MODE] = mode
    vm.set_word(BDA + BDA_COLUMNS, columns)
    _changed(vm)
    vm.sync_video()
    return mode


def cursor_shape(vm: Any, cx: int) -> int:
    """AH=01h: the cursor's start (CH) and end (CL) scan lines; CH bit 5 hides it."""
    start, end = (cx >> 8) & 0x1F, cx & 0x1F
    vm.console.set_cursor_shape(min(start, 7), min(end, 7), not cx & 0x2000)
    vm.set_word(BDA + BDA_CURSOR_SHAPE, cx)
    return cx


def set_cursor(vm: Any, bx: int, dx: int) -> int:
    """AH=02h: the cursor to row DH, column DL (page BH)."""
    row, column = dx >> 8, dx & 0xFF
    info = vm.console.info()
    row, column = min(row, info.rows - 1), min(column, info.columns - 1)
    vm.console.set_cursor(row, column)
    vm.ram[BDA + BDA_CURSOR] = column
    vm.ram[BDA + BDA_CURSOR + 1] = row
    return dx


def get_cursor(vm: Any, bx: int) -> int:
    """AH=03h: DH row, DL column, CH/CL the cursor's scan lines."""
    row, column = _cursor(vm)
    vm.set(dx=row << 8 | column, cx=vm.word(BDA + BDA_CURSOR_SHAPE), ax=0)
    return row << 8 | column


def select_page(vm: Any, al: int) -> int:
    """AH=05h: the active display page. One page (0) is modelled."""
    vm.ram[BDA + BDA_ACTIVE_PAGE] = 0
    return 0


def _scroll(vm: Any, ax: int, bx: int, cx: int, dx: int, up: bool) -> int:
    _before(vm)
    lines = ax & 0xFF
    top, left, bottom, right = cx >> 8, cx & 0xFF, dx >> 8, dx & 0xFF
    info = vm.console.info()
    bottom, right = min(bottom, info.rows - 1), min(right, info.columns - 1)
    if top > bottom or left > right:
        return 0
    attribute = bx >> 8
    if up:
        vm.console.scroll_up(top, left, bottom, right, lines, attribute=attribute)
    else:
        vm.console.scroll_down(top, left, bottom, right, lines, attribute=attribute)
    _changed(vm)
    return lines


def scroll_up(vm: Any, ax: int, bx: int, cx: int, dx: int) -> int:
    """AH=06h: scroll the window CH,CL-DH,DL up AL lines (0: clear it), filling with
    attribute BH."""
    return _scroll(vm, ax, bx, cx, dx, True)


def scroll_down(vm: Any, ax: int, bx: int, cx: int, dx: int) -> int:
    """AH=07h: scroll the window down."""
    return _scroll(vm, ax, bx, cx, dx, False)


def read_cell(vm: Any, bx: int) -> int:
    """AH=08h: AL the character, AH the attribute at the cursor."""
    _before(vm)
    row, column = _cursor(vm)
    cell = vm.console.read_cells(row, column, 1)
    value = cell[1] << 8 | cell[0]
    vm.set(ax=value)
    return value


def write_cells(vm: Any, ax: int, bx: int, cx: int) -> int:
    """AH=09h: character AL with attribute BL, CX times at the cursor (it stays)."""
    _before(vm)
    row, column = _cursor(vm)
    vm.console.fill(row, column, cx, ax & 0xFF, bx & 0xFF)
    _changed(vm)
    return cx


def write_characters(vm: Any, ax: int, bx: int, cx: int) -> int:
    """AH=0Ah: character AL, CX times at the cursor, attributes kept."""
    _before(vm)
    row, column = _cursor(vm)
    vm.console.fill(row, column, cx, ax & 0xFF, None)
    _changed(vm)
    return cx


def teletype(vm: Any, ax: int, bx: int) -> int:
    """AH=0Eh: character AL at the cursor, which moves (CR, LF, BS, BEL act)."""
    _before(vm)
    vm.console.write_teletype(bytes((ax & 0xFF,)))
    _changed(vm)
    return ax & 0xFF


def get_mode(vm: Any) -> int:
    """AH=0Fh: AL the mode, AH the columns, BH the active page."""
    mode, columns = vm.ram[BDA + BDA_VIDEO_MODE], vm.word(BDA + BDA_COLUMNS)
    vm.set(ax=columns << 8 | mode, bh=0)
    return mode


def ega_information(vm: Any, bx: int) -> int:
    """AH=12h BL=10h: EGA/VGA information (BH 0 colour, BL 3: 256 KiB)."""
    if bx & 0xFF == 0x10:
        vm.set(bx=0x0003, cx=0x0009)
        return 3
    return 0


def display_combination(vm: Any, al: int) -> int:
    """AH=1Ah AL=00h: AL=1Ah (supported), BL=08h a colour VGA."""
    if al & 0xFF == 0:
        vm.set(al=0x1A, bx=0x0008)
        return 8
    return 0


def write_string(vm: Any, ax: int, bx: int, cx: int, dx: int, es: int, bp: int) -> int:
    """AH=13h: CX characters at ES:BP to row DH, column DL; AL bit 1: the string is
    (character, attribute) pairs, else all in attribute BL; bit 0: the cursor moves."""
    _before(vm)
    mode = ax & 0xFF
    row, column = dx >> 8, dx & 0xFF
    if mode & 2:
        cells = vm.read(es, bp, cx * 2)
    else:
        text = vm.read(es, bp, cx)
        cells = bytes(b for character in text for b in (character, bx & 0xFF))
    original = vm.console.info()
    vm.console.set_cursor(row, column)
    for index in range(0, len(cells), 2):
        vm.console.write_teletype(cells[index:index + 1], cells[index + 1])
    if not mode & 1:
        vm.console.set_cursor(original.cursor_row, original.cursor_column)
    _changed(vm)
    return cx


VIDEO_ROWS = [
    call(0x00, "set video mode", set_mode, ("al", Reg(2)), level="partial",
         note="text modes 00h-03h, 07h; graphics modes stay in text"),
    call(0x01, "set cursor shape", cursor_shape, ("cx", Reg())),
    call(0x02, "set cursor position", set_cursor, ("bx", Reg()), ("dx", Reg())),
    call(0x03, "get cursor position", get_cursor, ("bx", Reg())),
    call(0x05, "select display page", select_page, ("al", Reg(2)), level="partial", note="page 0 only"),
    call(0x06, "scroll up", scroll_up, ("ax", Reg()), ("bx", Reg()), ("cx", Reg()), ("dx", Reg())),
    call(0x07, "scroll down", scroll_down, ("ax", Reg()), ("bx", Reg()), ("cx", Reg()), ("dx", Reg())),
    call(0x08, "read character and attribute", read_cell, ("bx", Reg())),
    call(0x09, "write character and attribute", write_cells, ("ax", Reg()), ("bx", Reg()), ("cx", Reg())),
    call(0x0A, "write character", write_characters, ("ax", Reg()), ("bx", Reg()), ("cx", Reg())),
    call(0x0E, "teletype output", teletype, ("ax", Reg()), ("bx", Reg())),
    call(0x0F, "get video mode", get_mode),
    call(0x12, "video subsystem configuration", ega_information, ("bx", Reg()), level="partial",
         note="BL=10h only"),
    call(0x13, "write string", write_string, ("ax", Reg()), ("bx", Reg()), ("cx", Reg()),
         ("dx", Reg()), ("es", Reg()), ("bp", Reg())),
    call(0x1A, "display combination", display_combination, ("al", Reg(2))),
]


# --- INT 16h: keyboard ------------------------------------------------------------------------

def _key_or_end(vm: Any, wait: bool) -> Any:
    try:
        return vm.console.read_key(wait=wait)
    except NtStatusError as error:
        if error.status == STATUS_END_OF_FILE:
            return None
        raise


def read_key(vm: Any) -> Any:
    """AH=00h / 10h: wait for a key; AH = its scan code, AL its character. At the end of
    the host's input, Ctrl+Z (2C1Ah)."""
    enhanced = vm.reg("ah") == 0x10

    def got(key: Any) -> int:
        value = key.bios_word(enhanced) if key is not None else 0x2C1A
        vm.set(ax=value)
        return value

    return then(lambda: _key_or_end(vm, True), got)


def peek_key(vm: Any) -> int:
    """AH=01h / 11h: ZF clear and AX = the next key if one is waiting (left there), ZF set
    if none."""
    enhanced = vm.reg("ah") == 0x11
    key = vm.console.peek_key()
    if key is not None:
        vm.set(ax=key.bios_word(enhanced))
    vm.set_flag(ZERO, key is None)
    return Flagged(key.bios_word(enhanced) if key is not None else -1)


def shift_flags(vm: Any) -> int:
    """AH=02h / 12h: AL = the shift keys' state (BIOS data area 0040:0017)."""
    flags = vm.ram[BDA + BDA_KEYBOARD_FLAGS]
    vm.set(al=flags)
    return flags


KEYBOARD_ROWS = [
    call(0x00, "read key", read_key),
    call(0x01, "key available", peek_key),
    call(0x02, "shift flags", shift_flags),
    call(0x10, "read enhanced key", read_key),
    call(0x11, "enhanced key available", peek_key),
    call(0x12, "extended shift flags", shift_flags),
]


# --- INT 1Ah: clock ---------------------------------------------------------------------------

def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def get_ticks(vm: Any) -> int:
    """AH=00h: CX:DX ticks since midnight (18.2 a second), AL = 1 if midnight passed
    since the last call (then cleared)."""
    ticks = vm.word(BDA + BDA_TICKS) | vm.word(BDA + BDA_TICKS + 2) << 16
    midnight = vm.ram[BDA + BDA_MIDNIGHT]
    vm.ram[BDA + BDA_MIDNIGHT] = 0
    vm.set(cx=ticks >> 16, dx=ticks & 0xFFFF, al=midnight)
    return ticks


def set_ticks(vm: Any, cx: int, dx: int) -> int:
    """AH=01h: the tick count is CX:DX."""
    vm.set_word(BDA + BDA_TICKS, dx)
    vm.set_word(BDA + BDA_TICKS + 2, cx)
    return cx << 16 | dx


def rtc_time(vm: Any) -> int:
    """AH=02h: the real-time clock: CH hours, CL minutes, DH seconds (BCD), DL 0."""
    now = time.gmtime(vm.local_time() + vm.dos.clock_offset)
    vm.set(ch=_bcd(now.tm_hour), cl=_bcd(now.tm_min), dh=_bcd(now.tm_sec), dl=0)
    return now.tm_hour * 10000 + now.tm_min * 100 + now.tm_sec


def rtc_date(vm: Any) -> int:
    """AH=04h: the real-time clock's date: CH century, CL year, DH month, DL day (BCD)."""
    now = time.gmtime(vm.local_time() + vm.dos.clock_offset)
    vm.set(ch=_bcd(now.tm_year // 100), cl=_bcd(now.tm_year % 100), dh=_bcd(now.tm_mon),
           dl=_bcd(now.tm_mday))
    return now.tm_year * 10000 + now.tm_mon * 100 + now.tm_mday


CLOCK_ROWS = [
    call(0x00, "get tick count", get_ticks),
    call(0x01, "set tick count", set_ticks, ("cx", Reg()), ("dx", Reg())),
    call(0x02, "read RTC time", rtc_time),
    call(0x04, "read RTC date", rtc_date),
]


# --- the small ones ---------------------------------------------------------------------------

def equipment(vm: Any) -> int:
    """INT 11h: AX = the equipment word (BIOS data area 0040:0010)."""
    value = vm.word(BDA + BDA_EQUIPMENT)
    vm.set(ax=value)
    return value


def memory_size(vm: Any) -> int:
    """INT 12h: AX = conventional memory in KiB (640)."""
    value = vm.word(BDA + BDA_MEMORY_KB)
    vm.set(ax=value)
    return value


def disk(vm: Any) -> int:
    """INT 13h: there is no BIOS disk (C: is a host directory, reached through DOS):
    every function fails, CF set, AH=01h (invalid function), as for a missing drive."""
    vm.set(ax=0x0100)
    vm.set_flag(CARRY, True)
    return Flagged(0x0100)


def extended_memory(vm: Any) -> int:
    """INT 15h AH=88h: AX = extended memory in KiB: none."""
    vm.set(ax=0)
    return 0


def system_services(vm: Any, ax: int) -> int:
    """INT 15h: AH=88h extended memory size (none: AX=0); every other function fails
    with CF set and AH=86h (not supported), as an AT BIOS without it says."""
    if ax >> 8 == 0x88:
        return extended_memory(vm)
    vm.set(ah=0x86)
    vm.set_flag(CARRY, True)
    return Flagged(0x86)


def timer_tick(vm: Any) -> None:
    """INT 08h (IRQ 0) reached the BIOS's handler: count the tick and call INT 1Ch,
    the program's hook for it, if it has one."""
    vm.count_tick()
    if vm.hooked(0x1C):
        vm.cpu.deliver_interrupt(0x1C)


def mouse(vm: Any) -> None:
    """INT 33h: no mouse driver (AX=0000h to the reset/installation check)."""
    if vm.reg("ax") == 0:
        vm.set(ax=0, bx=0)


def ems(vm: Any) -> None:
    """INT 67h: no expanded memory manager: AH=80h (driver failure) to everything."""
    vm.set(ah=0x80)


def multiplex(vm: Any) -> None:
    """INT 2Fh: AL=00h (installation checks) says "not installed" (AL stays 00h); any
    other call passes through unchanged, as with no TSR loaded."""

