"""INT 21h, the rest: vectors, date and time, version, country, flags and odds and ends.

AH=0Dh, 25h, 29h, 2Ah-2Eh, 30h, 33h, 34h, 35h, 37h, 38h, 52h, 54h, 59h, 63h, 65h, 66h;
and the FCB functions, which this DOS does not have (they fail, and say so).

The date and time are the VM's own: a program that sets them (AH=2Bh, 2Dh) moves the
virtual machine's clock, never the host's.
"""

from __future__ import annotations

import time
from typing import Any

from ...subsystems.base import call, unsupported
from ..calls import ERROR_FILE_NOT_FOUND, ERROR_INVALID_FUNCTION, DosError, Reg
from ..machine import DOS_DATA_SEGMENT, FIRST_MCB
from . import names

DOS_VERSION = (5, 0)                 # what NTVDM reported to programs (AH=30h)
TRUE_VERSION = (5, 50)               # ... and its true version (AX=3306h): 5.50
# DOS's data segment (0060h): offsets of what programs may be pointed at
INDOS_FLAG, LIST_OF_LISTS, UPPERCASE_TABLE, DBCS_TABLE, CASE_MAP = 0x00, 0x20, 0x80, 0x110, 0x120


def init_data(vm: Any) -> None:
    """DOS's own data: the InDOS flag, the List of Lists (whose word at -2 is the first
    MCB), the upper-case table for characters 80h-FFh, an empty DBCS table, and a
    case-mapping routine (RETF)."""
    base = DOS_DATA_SEGMENT << 4
    vm.ram[base:base + 0x200] = bytes(0x200)
    vm.set_word(base + LIST_OF_LISTS - 2, FIRST_MCB)
    vm.set_word(base + UPPERCASE_TABLE, 128)
    table = bytes(range(0x80, 0x100)).decode("cp437").upper().encode("cp437", "replace")
    vm.ram[base + UPPERCASE_TABLE + 2:base + UPPERCASE_TABLE + 130] = table[:128].ljust(128, b"?")
    vm.ram[base + CASE_MAP] = 0xCB


def set_vector(vm: Any, al: int, ds: int, dx: int) -> int:
    """AH=25h: vector AL = DS:DX."""
    vm.set_vector(al & 0xFF, ds, dx)
    return 0


def get_vector(vm: Any, al: int) -> int:
    """AH=35h: ES:BX = vector AL."""
    segment, offset = vm.vector(al & 0xFF)
    vm.set(es=segment, bx=offset)
    return segment << 16 | offset


def _now(vm: Any) -> time.struct_time:
    return time.gmtime(vm.local_time() + vm.dos.clock_offset)


def get_date(vm: Any) -> int:
    """AH=2Ah: CX year, DH month, DL day, AL day of the week (0 Sunday)."""
    now = _now(vm)
    vm.set(cx=now.tm_year, dh=now.tm_mon, dl=now.tm_mday, al=(now.tm_wday + 1) % 7)
    return now.tm_year * 10000 + now.tm_mon * 100 + now.tm_mday


def set_date(vm: Any, cx: int, dx: int) -> int:
    """AH=2Bh: set the VM's date (CX year, DH month, DL day); AL=FFh if invalid."""
    now = _now(vm)
    try:
        wanted = time.mktime((cx, dx >> 8, dx & 0xFF, now.tm_hour, now.tm_min, now.tm_sec, 0, 0, 0))
        if not 1980 <= cx <= 2099:
            raise ValueError
        current = time.mktime((now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min,
                               now.tm_sec, 0, 0, 0))
        check = time.localtime(wanted)
        if (check.tm_mon, check.tm_mday) != (dx >> 8, dx & 0xFF):
            raise ValueError
    except (ValueError, OverflowError):
        vm.set(al=0xFF)
        return 0xFF
    vm.dos.clock_offset += wanted - current
    vm.set(al=0)
    return 0


def get_time(vm: Any) -> int:
    """AH=2Ch: CH hour, CL minute, DH second, DL hundredths."""
    seconds = vm.local_time() + vm.dos.clock_offset
    now = time.gmtime(seconds)
    hundredths = int((seconds % 1) * 100)
    vm.set(ch=now.tm_hour, cl=now.tm_min, dh=now.tm_sec, dl=hundredths)
    return now.tm_hour * 10000 + now.tm_min * 100 + now.tm_sec


def set_time(vm: Any, cx: int, dx: int) -> int:
    """AH=2Dh: set the VM's time (CH hour, CL minute, DH second, DL hundredths)."""
    hour, minute, second, hundredths = cx >> 8, cx & 0xFF, dx >> 8, dx & 0xFF
    if hour > 23 or minute > 59 or second > 59 or hundredths > 99:
        vm.set(al=0xFF)
        return 0xFF
    seconds = vm.local_time() + vm.dos.clock_offset
    midnight = seconds - seconds % 86400
    vm.dos.clock_offset += midnight + hour * 3600 + minute * 60 + second + hundredths / 100 - seconds
    vm.set(al=0)
    return 0


def version(vm: Any, al: int) -> int:
    """AH=30h: AL major, AH minor version; BH the OEM (FFh, Microsoft), BL:CX serial 0."""
    major, minor = DOS_VERSION
    vm.set(ax=minor << 8 | major, bx=0xFF00, cx=0)
    return major << 8 | minor


def flags(vm: Any, al: int, dl: int) -> int:
    """AH=33h: AL=00h/01h get/set the Ctrl+Break check (DL); 05h the boot drive (DL=3);
    06h the true version (BL major, BH minor, DL revision, DH flags)."""
    function = al & 0xFF
    if function == 0x00:
        vm.set(dl=int(vm.dos.break_check))
        return int(vm.dos.break_check)
    if function == 0x01:
        vm.dos.break_check = bool(dl & 0xFF)
        return dl & 0xFF
    if function == 0x05:
        vm.set(dl=3)
        return 3
    if function == 0x06:
        major, minor = TRUE_VERSION
        vm.set(bx=minor << 8 | major, dx=0x1000)     # DH bit 4: DOS is in the HMA
        return major << 8 | minor
    vm.set(al=0xFF)
    return 0xFF


def indos(vm: Any) -> int:
    """AH=34h: ES:BX = the InDOS flag."""
    vm.set(es=DOS_DATA_SEGMENT, bx=INDOS_FLAG)
    return DOS_DATA_SEGMENT << 16 | INDOS_FLAG


def switch_character(vm: Any, al: int, dl: int) -> int:
    """AH=37h: AL=00h DL = the switch character; AL=01h sets it."""
    if al & 0xFF == 0:
        vm.set(al=0, dl=vm.dos.switch_character)
        return vm.dos.switch_character
    if al & 0xFF == 1:
        vm.dos.switch_character = dl & 0xFF
        vm.set(al=0)
        return dl & 0xFF
    vm.set(al=0xFF)
    return 0xFF


def country_info(country: int = 1) -> bytes:
    """The 34-byte country information block (US: 1)."""
    block = bytearray(34)
    block[0:2] = (0).to_bytes(2, "little")          # date format: month day year
    block[2:7] = b"$\x00\x00\x00\x00"               # currency symbol
    block[7:9] = b",\x00"                           # thousands separator
    block[9:11] = b".\x00"                          # decimal separator
    block[11:13] = b"-\x00"                         # date separator
    block[13:15] = b":\x00"                         # time separator
    block[15] = 0                                   # currency before the amount
    block[16] = 2                                   # digits after the decimal point
    block[17] = 0                                   # 12-hour clock
    block[18:22] = CASE_MAP.to_bytes(2, "little") + DOS_DATA_SEGMENT.to_bytes(2, "little")
    block[22:24] = b",\x00"                         # data-list separator
    return bytes(block)


def country(vm: Any, al: int, bx: int, ds: int, dx: int) -> int:
    """AH=38h: the country information of the current country (US) into DS:DX; BX =
    the country code. Setting the country (DX=FFFFh) is refused."""
    if dx == 0xFFFF:
        raise DosError(ERROR_FILE_NOT_FOUND, "setting the country")
    code = al & 0xFF if al & 0xFF != 0xFF else bx
    if code not in (0, 1):
        raise DosError(ERROR_FILE_NOT_FOUND, f"country {code}: only the US (1) is known")
    vm.write(ds, dx, country_info())
    vm.set(bx=1, ax=1)
    return 1


def parse_filename(vm: Any, al: int, ds: int, si: int, es: int, di: int) -> int:
    """AH=29h: parse the file name at DS:SI into the FCB at ES:DI; SI moves past it;
    AL = 00h no wildcards, 01h wildcards, FFh an invalid drive."""
    text = vm.read(ds, si, 128)
    drive, name, used, status = names.parse_fcb_name(text, al & 0xFF)
    fcb = (es << 4) + di
    if drive or not al & 0x02:
        vm.ram[fcb] = drive
    old = bytes(vm.ram[fcb + 1:fcb + 12])
    base, extension = name[:8], name[8:]
    if base == b" " * 8 and al & 0x04:
        base = old[:8]
    if extension == b" " * 3 and al & 0x08:
        extension = old[8:]
    vm.ram[fcb + 1:fcb + 12] = base + extension
    vm.set(al=status, si=si + used)
    return status


def list_of_lists(vm: Any) -> int:
    """AH=52h: ES:BX = DOS's List of Lists (the first MCB's segment is the word at
    ES:[BX-2])."""
    vm.set(es=DOS_DATA_SEGMENT, bx=LIST_OF_LISTS)
    return DOS_DATA_SEGMENT << 16 | LIST_OF_LISTS


def set_verify(vm: Any, al: int) -> int:
    """AH=2Eh: the verify flag is AL."""
    vm.dos.verify = bool(al & 0xFF)
    return al & 0xFF


def get_verify(vm: Any) -> int:
    """AH=54h: AL = the verify flag."""
    vm.set(al=int(vm.dos.verify))
    return int(vm.dos.verify)


def disk_reset(vm: Any) -> int:
    """AH=0Dh: flush buffers. Every write already went to the host file (NtWriteFile)."""
    return 0


def extended_error(vm: Any) -> int:
    """AH=59h: AX = the last error, BH its class, BL the suggested action, CH the locus."""
    code = vm.dos.last_error
    error_class = {2: 8, 3: 8, 4: 1, 5: 3, 6: 7, 8: 1, 0x12: 8}.get(code, 0x0D if code else 0)
    vm.set(ax=code, bx=error_class << 8 | (3 if code else 0), ch=2 if code in (2, 3, 5, 0x12) else 1)
    return code


def dbcs_table(vm: Any) -> int:
    """AH=63h AL=00h: DS:SI = the (empty) table of double-byte lead-byte ranges."""
    vm.set(ds=DOS_DATA_SEGMENT, si=DBCS_TABLE, al=0)
    return 0


def extended_country(vm: Any, al: int, cx: int, dx: int, ds: int, es: int, di: int) -> int:
    """AH=65h: AL=01h the extended country information into ES:DI (CX bytes at most);
    02h the upper-case table's address; 20h upper-case DL; 21h CX bytes at DS:DX;
    22h the ASCIZ string at DS:DX."""
    function = al & 0xFF
    if function == 0x01:
        block = bytes((1,)) + (41).to_bytes(2, "little") + (1).to_bytes(2, "little") \
            + (437).to_bytes(2, "little") + country_info()[:34]
        block = block[:cx] if cx else block
        vm.write(es, di, block)
        vm.set(cx=len(block))
        return len(block)
    if function == 0x02:
        vm.write(es, di, bytes((2,)) + UPPERCASE_TABLE.to_bytes(2, "little")
                 + DOS_DATA_SEGMENT.to_bytes(2, "little"))
        vm.set(cx=5)
        return 5
    if function == 0x20:
        vm.set(dl=_upper(dx & 0xFF))
        return _upper(dx & 0xFF)
    if function in (0x21, 0x22):
        text = vm.read(ds, dx, cx) if function == 0x21 else vm.string(ds, dx, 0, 0x10000 - dx)
        vm.write(ds, dx, bytes(_upper(c) for c in text))
        return len(text)
    raise DosError(ERROR_INVALID_FUNCTION, f"AH=65h AL={function:02X}h")


def _upper(character: int) -> int:
    """A character in upper case, code page 437 (as DOS's country table maps it)."""
    if 0x61 <= character <= 0x7A:
        return character - 0x20
    if character >= 0x80:
        upper = bytes((character,)).decode("cp437").upper().encode("cp437", "replace")
        return upper[0] if len(upper) == 1 and upper != b"?" else character
    return character


def code_page(vm: Any, al: int, bx: int) -> int:
    """AH=66h: AL=01h BX = the active code page, DX = the system's (both 437); AL=02h
    sets it (only 437 is there)."""
    if al & 0xFF == 0x01:
        vm.set(bx=437, dx=437)
        return 437
    if al & 0xFF == 0x02:
        if bx != 437:
            raise DosError(ERROR_FILE_NOT_FOUND, f"code page {bx}: only 437")
        return 437
    raise DosError(ERROR_INVALID_FUNCTION, f"AH=66h AL={al & 0xFF:02X}h")


_FCB = "FCB functions are not supported: use the handle functions (3Ch-42h)"
ROWS = [
    call(0x0D, "disk reset", disk_reset),
    *(unsupported(number, name, _FCB) for number, name in (
        (0x0F, "open file (FCB)"), (0x10, "close file (FCB)"), (0x11, "find first (FCB)"),
        (0x12, "find next (FCB)"), (0x13, "delete file (FCB)"), (0x14, "sequential read (FCB)"),
        (0x15, "sequential write (FCB)"), (0x16, "create file (FCB)"), (0x17, "rename file (FCB)"),
        (0x21, "random read (FCB)"), (0x22, "random write (FCB)"), (0x23, "file size (FCB)"),
        (0x24, "set random record (FCB)"), (0x27, "random block read (FCB)"),
        (0x28, "random block write (FCB)"))),
    call(0x25, "set interrupt vector", set_vector, ("al", Reg(2)), ("ds", Reg()), ("dx", Reg())),
    call(0x29, "parse file name", parse_filename, ("al", Reg(2)), ("ds", Reg()), ("si", Reg()),
         ("es", Reg()), ("di", Reg())),
    call(0x2A, "get date", get_date),
    call(0x2B, "set date", set_date, ("cx", Reg()), ("dx", Reg())),
    call(0x2C, "get time", get_time),
    call(0x2D, "set time", set_time, ("cx", Reg()), ("dx", Reg())),
    call(0x2E, "set verify flag", set_verify, ("al", Reg(2))),
    call(0x30, "get DOS version", version, ("al", Reg(2))),
    call(0x33, "Ctrl+Break, boot drive, true version", flags, ("al", Reg(2)), ("dl", Reg(2)),
         note="BREAK ON (AL=01h DL=1): every INT 21h looks for Ctrl+C"),
    call(0x34, "InDOS flag address", indos),
    call(0x35, "get interrupt vector", get_vector, ("al", Reg(2))),
    call(0x37, "switch character", switch_character, ("al", Reg(2)), ("dl", Reg(2)),
         note="undocumented"),
    call(0x38, "country information", country, ("al", Reg(2)), ("bx", Reg()), ("ds", Reg()), ("dx", Reg()),
         level="partial", note="the US only; setting the country fails"),
    call(0x52, "List of Lists", list_of_lists, note="undocumented; the first MCB at [BX-2]"),
    call(0x54, "get verify flag", get_verify),
    call(0x59, "extended error", extended_error),
    call(0x63, "DBCS lead-byte table", dbcs_table),
    call(0x65, "extended country information", extended_country, ("al", Reg(2)), ("cx", Reg()),
         ("dx", Reg()), ("ds", Reg()), ("es", Reg()), ("di", Reg()),
         level="partial", note="AL=01h, 02h, 20h, 21h, 22h"),
    call(0x66, "code page", code_page, ("al", Reg(2)), ("bx", Reg())),
]
