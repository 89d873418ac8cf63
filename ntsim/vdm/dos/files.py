"""INT 21h handles: AH=3Ch-46h, 56h, 57h, 5Ah, 5Bh, 68h, 6Ch.

DOS keeps two tables, and so do we. Each program's PSP holds its *job file table* (20
bytes at PSP:18h, in guest memory where programs look): a handle is an index into it,
and each byte is an index into DOS's *system file table* (here `Dos.sft`), whose entries
are the open files — shared by duplicated handles and by a child that inherited them.
A file entry holds an NT file handle of the VDM process: reading, writing, seeking and
closing a file on C: are NtReadFile, NtWriteFile, NtSetInformationFile and NtClose.
The standard devices are entries too: CON (handles 0, 1, 2: the console), AUX and PRN
(handles 3 and 4; no port or printer here, they behave as NUL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...kernel.io import (
    DELETE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_READONLY,
    FILE_CREATE,
    FILE_DISPOSITION_DELETE,
    FILE_DISPOSITION_POSIX_SEMANTICS,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
    FileBasicInformation,
    FileDispositionInformationEx,
    FileEndOfFileInformation,
    FilePositionInformation,
    FileRenameInformation,
    FileStandardInformation,
)
from ...kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_CANNOT_DELETE,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_DISK_FULL,
    STATUS_END_OF_FILE,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INVALID_HANDLE,
    STATUS_MEDIA_WRITE_PROTECTED,
    STATUS_NAME_TOO_LONG,
    STATUS_NO_MORE_FILES,
    STATUS_NO_SUCH_FILE,
    STATUS_NOT_A_DIRECTORY,
    STATUS_NOT_SAME_DEVICE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_SHARING_VIOLATION,
    NtStatusError,
)
from ...subsystems.base import call, unsupported
from ...trace import Quoted
from ..calls import (
    ERROR_ACCESS_DENIED,
    ERROR_FILE_EXISTS,
    ERROR_FILE_NOT_FOUND,
    ERROR_INVALID_ACCESS,
    ERROR_INVALID_FUNCTION,
    ERROR_INVALID_HANDLE,
    ERROR_NOT_SAME_DEVICE,
    ERROR_PATH_NOT_FOUND,
    ERROR_TOO_MANY_OPEN_FILES,
    DosError,
    Reg,
)
from . import names

JFT_OFFSET, JFT_SIZE = 0x18, 20
# DOS deletes a name at once, and says at once when it cannot (a directory not empty)
DELETE_NOW = FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS
FREE = 0xFF
SFT_SIZE = 60
NO_INHERIT = 0x80

# AH=44h AL=00h device information words
DEVICE_CON, DEVICE_NUL, FILE_NOT_WRITTEN = 0x80D3, 0x8084, 0x0040
RAW_MODE = 0x0020

# NT statuses as DOS error codes (DOS reports the first that fits)
_DOS_ERRORS = {
    STATUS_OBJECT_NAME_NOT_FOUND: ERROR_FILE_NOT_FOUND,
    STATUS_NO_SUCH_FILE: ERROR_FILE_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND: ERROR_PATH_NOT_FOUND,
    STATUS_NOT_A_DIRECTORY: ERROR_PATH_NOT_FOUND,
    STATUS_OBJECT_NAME_INVALID: ERROR_PATH_NOT_FOUND,
    STATUS_NAME_TOO_LONG: ERROR_PATH_NOT_FOUND,
    STATUS_ACCESS_DENIED: ERROR_ACCESS_DENIED,
    STATUS_FILE_IS_A_DIRECTORY: ERROR_ACCESS_DENIED,
    STATUS_CANNOT_DELETE: ERROR_ACCESS_DENIED,
    STATUS_DIRECTORY_NOT_EMPTY: ERROR_ACCESS_DENIED,
    STATUS_SHARING_VIOLATION: 0x20,
    STATUS_OBJECT_NAME_COLLISION: ERROR_FILE_EXISTS,
    STATUS_INVALID_HANDLE: ERROR_INVALID_HANDLE,
    STATUS_NOT_SAME_DEVICE: ERROR_NOT_SAME_DEVICE,
    STATUS_NO_MORE_FILES: 0x12,
    STATUS_DISK_FULL: 0x27,
    STATUS_MEDIA_WRITE_PROTECTED: 0x13,     # ERROR_WRITE_PROTECT: --read-only
}


def dos_error(error: NtStatusError) -> int:
    """The DOS error code for an NTSTATUS (1Fh, general failure, if none fits)."""
    return _DOS_ERRORS.get(error.status, 0x1F)


@dataclass
class OpenFile:
    """One system file table entry."""

    name: str               # C:\DIR\FILE.EXT, or the device's name
    kind: str               # "file", "CON" or "NUL"
    handle: int | None      # the NT file handle (None for a device)
    mode: int               # the open mode's access bits: 0 read, 1 write, 2 both
    references: int = 1     # job file table entries that point here
    written: bool = False
    raw: bool = False       # AH=44h AL=01h: a device in raw (binary) mode
    private: bool = False   # opened with bit 7 of the mode: a child does not inherit it


# --- the two tables ---------------------------------------------------------------------------

def jft(vm: Any, psp: int | None = None) -> tuple[int, int]:
    """(linear address, size) of a PSP's job file table (PSP:34h points at it)."""
    psp = vm.dos.psp if psp is None else psp
    base = psp << 4
    segment, offset = vm.far_pointer(base + 0x34)
    table = (segment << 4) + offset
    return table, max(0, min(vm.word(base + 0x32), 255, len(vm.ram) - table))


def entry_for(vm: Any, handle: int) -> OpenFile:
    """The open file behind a handle of the current program; error 6 if none."""
    table, size = jft(vm)
    index = vm.ram[table + handle] if 0 <= handle < size else FREE
    entry = vm.dos.sft[index] if index < len(vm.dos.sft) else None
    if entry is None:
        raise DosError(ERROR_INVALID_HANDLE, f"handle {handle} is not open")
    return entry


def insert_entry(vm: Any, entry: OpenFile) -> int:
    """A new system file table entry; returns its index."""
    sft = vm.dos.sft
    for index, slot in enumerate(sft):
        if slot is None:
            sft[index] = entry
            return index
    if len(sft) >= SFT_SIZE:
        raise DosError(ERROR_TOO_MANY_OPEN_FILES, "the system file table is full")
    sft.append(entry)
    return len(sft) - 1


def new_handle(vm: Any, index: int) -> int:
    """The lowest free handle in the job file table, pointed at SFT entry `index`."""
    table, size = jft(vm)
    for handle in range(size):
        if vm.ram[table + handle] == FREE:
            vm.ram[table + handle] = index
            return handle
    raise DosError(ERROR_TOO_MANY_OPEN_FILES, f"all {size} handles are in use")


def open_new(vm: Any, entry: OpenFile) -> int:
    """Give an open file a handle; if there is none free, close the file again."""
    try:
        index = insert_entry(vm, entry)
    except DosError:
        release(vm, entry)
        raise
    try:
        return new_handle(vm, index)
    except DosError:
        vm.dos.sft[index] = None
        release(vm, entry)
        raise


def release(vm: Any, entry: OpenFile) -> None:
    if entry.handle is not None:
        vm.nt.NtClose(entry.handle)
        entry.handle = None


def drop_reference(vm: Any, index: int) -> None:
    entry = vm.dos.sft[index] if index < len(vm.dos.sft) else None
    if entry is None:
        return
    entry.references -= 1
    if entry.references <= 0 and entry.kind == "file":
        vm.dos.sft[index] = None
        release(vm, entry)


def close_handle(vm: Any, handle: int) -> None:
    entry_for(vm, handle)
    table, _ = jft(vm)
    index = vm.ram[table + handle]
    vm.ram[table + handle] = FREE
    drop_reference(vm, index)


# --- reading and writing ------------------------------------------------------------------------

def read_entry(vm: Any, entry: OpenFile, count: int) -> bytes:
    if entry.kind == "NUL" or count == 0:
        return b""
    if entry.kind == "CON":
        return read_console(vm, count)
    if entry.mode == 1:
        raise DosError(ERROR_ACCESS_DENIED, f"{entry.name} is open for writing only")
    try:
        return vm.nt.NtReadFile(entry.handle, count)
    except NtStatusError as error:
        if error.status == STATUS_END_OF_FILE:
            return b""
        raise


def read_console(vm: Any, count: int) -> Any:
    """CON in cooked mode: the host's input a line at a time, each line ending in CR LF
    as DOS delivers it; what the caller did not take waits for its next read."""
    from ...kernel.dispatcher import then

    dos = vm.dos
    if dos.console_input:
        data, dos.console_input = dos.console_input[:count], dos.console_input[count:]
        return data

    def got(data: bytes) -> bytes:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        dos.console_input = data[count:]
        return data[:count]

    def host_read() -> bytes:
        try:
            return vm.nt.NtReadFile(vm.console.input_handle, max(count, 128))
        except NtStatusError as error:
            if error.status == STATUS_END_OF_FILE:
                return b""
            raise

    return then(host_read, got)


def write_entry(vm: Any, entry: OpenFile, data: bytes) -> int:
    if entry.kind == "NUL":
        return len(data)
    if entry.kind == "CON":
        if data:
            vm.console.write_teletype(data)
            vm.screen_stale = True
        return len(data)
    if entry.mode == 0:
        raise DosError(ERROR_ACCESS_DENIED, f"{entry.name} is open for reading only")
    entry.written = True
    if not data:                          # CX=0: the file ends here
        position = vm.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)
        vm.nt.NtSetInformationFile(entry.handle, FileEndOfFileInformation, position)
        return 0
    return vm.nt.NtWriteFile(entry.handle, data)


def write_handle(vm: Any, handle: int, data: bytes) -> int:
    return write_entry(vm, entry_for(vm, handle), data)


def bytes_left(vm: Any, entry: OpenFile) -> int:
    if entry.kind != "file":
        return 0
    size = vm.nt.NtQueryInformationFile(entry.handle, FileStandardInformation).EndOfFile
    return size - vm.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)


# --- opening and creating -----------------------------------------------------------------------

def path_at(vm: Any, segment: int, offset: int) -> list[str]:
    """The resolved components of the ASCIZ path at segment:offset."""
    text = vm.string(segment, offset, 0, 128).decode("cp437")
    if not text:
        raise DosError(ERROR_PATH_NOT_FOUND, "an empty path")
    return names.resolve(text, vm.dos.cwd)


_ACCESS = {0: FILE_READ_DATA, 1: FILE_WRITE_DATA, 2: FILE_READ_DATA | FILE_WRITE_DATA}


def open_path(vm: Any, parts: list[str], mode: int, disposition: int) -> OpenFile:
    """Open (or create) a file or device by its resolved path."""
    access = mode & 0x07
    if access not in _ACCESS:
        raise DosError(ERROR_INVALID_ACCESS, f"open mode {mode:#x}")
    device = names.device_name(parts[-1]) if parts else None
    if device is not None:
        kind = "CON" if device == "CON" else "NUL"
        return OpenFile(device, kind, None, access, private=bool(mode & NO_INHERIT))
    if not parts:
        raise DosError(ERROR_ACCESS_DENIED, "the root directory is not a file")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(parts), _ACCESS[access] | FILE_READ_ATTRIBUTES
                                    | SYNCHRONIZE, disposition, FILE_NON_DIRECTORY_FILE)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    return OpenFile(names.dos_path(parts), "file", handle, access, private=bool(mode & NO_INHERIT))


def create_file(vm: Any, cx: int, ds: int, dx: int) -> int:
    """AH=3Ch: create or truncate the file at DS:DX (attributes CX); AX = the handle."""
    entry = open_path(vm, path_at(vm, ds, dx), 2, FILE_OVERWRITE_IF)
    handle = open_new(vm, entry)
    vm.set(ax=handle)
    return handle


def open_file(vm: Any, al: int, ds: int, dx: int) -> int:
    """AH=3Dh: open the file at DS:DX, AL = the mode (bits 0-2 access, bit 7 private);
    AX = the handle."""
    entry = open_path(vm, path_at(vm, ds, dx), al, FILE_OPEN)
    handle = open_new(vm, entry)
    vm.set(ax=handle)
    return handle


def close_file(vm: Any, bx: int) -> int:
    """AH=3Eh: close handle BX."""
    close_handle(vm, bx)
    return 0


def read_file(vm: Any, bx: int, cx: int, ds: int, dx: int) -> Any:
    """AH=3Fh: read up to CX bytes from handle BX into DS:DX; AX = bytes read."""
    from ...kernel.dispatcher import then

    entry = entry_for(vm, bx)

    def done(data: bytes) -> int:
        vm.write(ds, dx, data)
        vm.set(ax=len(data))
        return len(data)

    return then(lambda: read_entry(vm, entry, cx), done)


def write_file(vm: Any, bx: int, cx: int, ds: int, dx: int) -> int:
    """AH=40h: write CX bytes from DS:DX to handle BX (CX=0 truncates at the position);
    AX = bytes written."""
    written = write_handle(vm, bx, vm.read(ds, dx, cx))
    vm.set(ax=written)
    return written


def delete_file(vm: Any, ds: int, dx: int) -> int:
    """AH=41h: delete the file at DS:DX (no wildcards)."""
    parts = path_at(vm, ds, dx)
    if not parts or names.device_name(parts[-1]) or any(c in "*?" for c in parts[-1]):
        raise DosError(ERROR_FILE_NOT_FOUND if parts else ERROR_ACCESS_DENIED, "not a file to delete")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(parts), DELETE | SYNCHRONIZE, FILE_OPEN,
                                    FILE_NON_DIRECTORY_FILE)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    try:
        vm.nt.NtSetInformationFile(handle, FileDispositionInformationEx, DELETE_NOW)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    finally:
        vm.nt.NtClose(handle)
    return 0


def seek(vm: Any, al: int, bx: int, cx: int, dx: int) -> int:
    """AH=42h: move handle BX's position by CX:DX from the start (AL=0), the current
    position (1) or the end (2); DX:AX = the new position."""
    entry = entry_for(vm, bx)
    origin = al & 0xFF
    if origin > 2:
        raise DosError(ERROR_INVALID_FUNCTION, f"seek origin {origin}")
    distance = (cx << 16 | dx)
    if entry.kind != "file":
        vm.set(ax=0, dx=0)
        return 0
    if origin:
        distance = distance - (1 << 32) if distance & 0x8000_0000 else distance
    if origin == 1:
        distance += vm.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)
    elif origin == 2:
        distance += vm.nt.NtQueryInformationFile(entry.handle, FileStandardInformation).EndOfFile
    if distance < 0:
        raise DosError(0x19, "seek before the start of the file")   # seek error
    distance &= 0xFFFF_FFFF
    vm.nt.NtSetInformationFile(entry.handle, FilePositionInformation, distance)
    vm.set(ax=distance & 0xFFFF, dx=distance >> 16)
    return distance


def dos_attributes(nt_attributes: int) -> int:
    """NT file attributes as DOS's: read-only 01h, directory 10h, archive 20h."""
    if nt_attributes & FILE_ATTRIBUTE_DIRECTORY:
        return 0x10 | (nt_attributes & FILE_ATTRIBUTE_READONLY)
    return 0x20 | (nt_attributes & FILE_ATTRIBUTE_READONLY)


def attributes(vm: Any, al: int, cx: int, ds: int, dx: int) -> int:
    """AH=43h: AL=00h gets the attributes of DS:DX into CX; AL=01h would set them (only
    to what they are: the host keeps no DOS attributes)."""
    parts = path_at(vm, ds, dx)
    if not parts:
        raise DosError(ERROR_PATH_NOT_FOUND, "the root has no attributes")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(parts), FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                                    FILE_OPEN)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    try:
        current = dos_attributes(vm.nt.NtQueryInformationFile(handle, FileBasicInformation).FileAttributes)
    finally:
        vm.nt.NtClose(handle)
    if al & 0xFF == 0:
        vm.set(cx=current, ax=current)
        return current
    if al & 0xFF == 1:
        if (cx & 0x17) == (current & 0x17):
            return current                # nothing to change (archive is not kept)
        raise DosError(ERROR_ACCESS_DENIED, "setting DOS attributes: the host keeps none")
    raise DosError(ERROR_INVALID_FUNCTION, f"AH=43h AL={al & 0xFF:02X}h")


def ioctl(vm: Any, al: int, bx: int, dx: int) -> Any:
    """AH=44h, device control: AL=00h device information of handle BX (DX), 01h set it,
    06h input status, 07h output status, 08h is drive BL removable, 0Eh drive map."""
    function = al & 0xFF
    if function in (0x00, 0x01, 0x06, 0x07):
        entry = entry_for(vm, bx)
        if function == 0x00:
            info = {"CON": DEVICE_CON, "NUL": DEVICE_NUL}.get(entry.kind)
            if info is None:
                info = 2 | (0 if entry.written else FILE_NOT_WRITTEN)   # drive C:
            elif entry.raw:
                info |= RAW_MODE
            vm.set(dx=info, ax=info)
            return info
        if function == 0x01:
            if entry.kind == "file":
                raise DosError(ERROR_INVALID_FUNCTION, "setting device information of a file")
            entry.raw = bool(dx & RAW_MODE)
            return dx
        if function == 0x06:
            ready = (vm.console.peek_key() is not None) if entry.kind == "CON" else \
                entry.kind == "NUL" or bytes_left(vm, entry) > 0
            vm.set(al=0xFF if ready else 0)
            return 0xFF if ready else 0
        vm.set(al=0xFF)                    # output: always ready
        return 0xFF
    if function == 0x08:
        drive = bx & 0xFF
        if drive not in (0, 3):
            raise DosError(0x0F, f"drive {drive}")
        vm.set(ax=1)                       # fixed
        return 1
    if function == 0x0E:
        drive = bx & 0xFF
        if drive not in (0, 3):
            raise DosError(0x0F, f"drive {drive}")
        vm.set(al=0)                       # one logical drive for the unit
        return 0
    raise DosError(ERROR_INVALID_FUNCTION, f"IOCTL AL={function:02X}h")


def duplicate(vm: Any, bx: int) -> int:
    """AH=45h: a second handle for BX's open file; AX = it."""
    entry = entry_for(vm, bx)
    table, _ = jft(vm)
    index = vm.ram[table + bx]
    handle = new_handle(vm, index)
    entry.references += 1
    vm.set(ax=handle)
    return handle


def force_duplicate(vm: Any, bx: int, cx: int) -> int:
    """AH=46h: make handle CX refer to BX's open file (closing CX first if open)."""
    entry = entry_for(vm, bx)
    table, size = jft(vm)
    if cx >= size:
        raise DosError(ERROR_INVALID_HANDLE, f"handle {cx}")
    if cx == bx:
        return cx
    if vm.ram[table + cx] != FREE:
        close_handle(vm, cx)
    vm.ram[table + cx] = vm.ram[table + bx]
    entry.references += 1
    return cx


def rename(vm: Any, ds: int, dx: int, es: int, di: int) -> int:
    """AH=56h: rename (or move, on C:) DS:DX to ES:DI."""
    source, target = path_at(vm, ds, dx), path_at(vm, es, di)
    if not source or not target:
        raise DosError(ERROR_ACCESS_DENIED, "cannot rename the root")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(source), DELETE | SYNCHRONIZE, FILE_OPEN)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    try:
        vm.nt.NtSetInformationFile(handle, FileRenameInformation, (names.nt_path(target), False))
    except NtStatusError as error:
        code = dos_error(error)
        raise DosError(ERROR_ACCESS_DENIED if code == ERROR_FILE_EXISTS else code, str(error)) from None
    finally:
        vm.nt.NtClose(handle)
    return 0


def dos_date_time(nt_time: int) -> tuple[int, int]:
    """(date, time) words as DOS packs them, in local time."""
    seconds = max(nt_time / 10_000_000 - 11_644_473_600, 315_532_800)
    t = time.localtime(seconds)
    date = (max(t.tm_year - 1980, 0) << 9) | (t.tm_mon << 5) | t.tm_mday
    clock = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return date, clock


def file_time(vm: Any, al: int, bx: int, cx: int, dx: int) -> Any:
    """AH=57h: AL=00h the last write date (DX) and time (CX) of handle BX; AL=01h sets
    them (not kept: the host's times stay)."""
    entry = entry_for(vm, bx)
    if al & 0xFF == 0:
        if entry.kind != "file":
            vm.set(cx=0, dx=0)
            return 0
        info = vm.nt.NtQueryInformationFile(entry.handle, FileBasicInformation)
        date, clock = dos_date_time(info.LastWriteTime)
        vm.set(cx=clock, dx=date)
        return date << 16 | clock
    raise DosError(ERROR_INVALID_FUNCTION, f"AH=57h AL={al & 0xFF:02X}h (setting a file's time)")


def create_temporary(vm: Any, cx: int, ds: int, dx: int) -> int:
    """AH=5Ah: create a file with a new name in the directory DS:DX (which ends in a
    backslash); the name is appended there; AX = the handle."""
    directory = vm.string(ds, dx, 0, 128)
    for attempt in range(1, 0x10000):
        name = f"{(vm.dos.psp * 0x10000 + attempt) & 0xFFFFFFFF:08X}"[:8]
        path = directory + name.encode()
        parts = names.resolve(path.decode("cp437"), vm.dos.cwd)
        try:
            entry = open_path(vm, parts, 2, FILE_CREATE)
        except DosError as error:
            if error.code == ERROR_FILE_EXISTS:
                continue
            raise
        vm.write(ds, dx, path + b"\x00")
        handle = open_new(vm, entry)
        vm.set(ax=handle)
        return handle
    raise DosError(ERROR_ACCESS_DENIED, "no free temporary name")


def create_new(vm: Any, cx: int, ds: int, dx: int) -> int:
    """AH=5Bh: create DS:DX, failing with 50h if it exists; AX = the handle."""
    entry = open_path(vm, path_at(vm, ds, dx), 2, FILE_CREATE)
    handle = open_new(vm, entry)
    vm.set(ax=handle)
    return handle


def commit(vm: Any, bx: int) -> int:
    """AH=68h: flush handle BX's file to the disk."""
    entry = entry_for(vm, bx)
    if entry.kind == "file":
        vm.nt.NtFlushBuffersFile(entry.handle)
    return 0


def extended_open(vm: Any, al: int, bx: int, cx: int, dx: int, ds: int, si: int) -> int:
    """AH=6Ch: open or create DS:SI with mode BX; DL says what to do if it exists (1 open,
    2 replace) and DH/bit 4 if it does not (create); AX = handle, CX = 1 opened,
    2 created, 3 replaced."""
    if al & 0xFF:
        raise DosError(ERROR_INVALID_FUNCTION, f"AH=6Ch AL={al & 0xFF:02X}h")
    parts = path_at(vm, ds, si)
    exists_action, missing_action = dx & 0x0F, (dx >> 4) & 0x0F
    if exists_action > 2 or missing_action > 1 or dx & 0xFF00:
        raise DosError(ERROR_INVALID_FUNCTION, f"action {dx:#x}")
    try:
        entry = open_path(vm, parts, bx & 0xFF, FILE_OPEN)
        if exists_action == 0:
            release(vm, entry)
            raise DosError(ERROR_FILE_EXISTS, names.dos_path(parts))
        taken = 1
        if exists_action == 2:
            release(vm, entry)
            entry = open_path(vm, parts, bx & 0xFF, FILE_OVERWRITE_IF)
            taken = 3
    except DosError as error:
        if error.code != ERROR_FILE_NOT_FOUND or not missing_action:
            raise
        entry = open_path(vm, parts, bx & 0xFF, FILE_OPEN_IF)
        taken = 2
    handle = open_new(vm, entry)
    vm.set(ax=handle, cx=taken)
    return handle


class Path(Reg):
    """The offset of an ASCIZ path in the segment argument named `segment`."""

    def __init__(self, segment: str = "ds") -> None:
        super().__init__()
        self.segment = segment

    def decode(self, value, ctx):
        try:
            vm = ctx.process.data
            return Quoted(vm.string(ctx.raw.get(self.segment, 0), int(value), 0, 128).decode("cp437"))
        except Exception:
            return f"{int(value):04X}h"


ROWS = [
    call(0x3C, "create file", create_file, ("cx", Reg()), ("ds", Reg()), ("dx", Path())),
    call(0x3D, "open file", open_file, ("al", Reg(2)), ("ds", Reg()), ("dx", Path())),
    call(0x3E, "close file", close_file, ("bx", Reg())),
    call(0x3F, "read file", read_file, ("bx", Reg()), ("cx", Reg()), ("ds", Reg()), ("dx", Reg())),
    call(0x40, "write file", write_file, ("bx", Reg()), ("cx", Reg()), ("ds", Reg()), ("dx", Reg())),
    call(0x41, "delete file", delete_file, ("ds", Reg()), ("dx", Path())),
    call(0x42, "seek", seek, ("al", Reg(2)), ("bx", Reg()), ("cx", Reg()), ("dx", Reg())),
    call(0x43, "file attributes", attributes, ("al", Reg(2)), ("cx", Reg()), ("ds", Reg()),
         ("dx", Path()), note="AL=01h succeeds only when nothing would change"),
    call(0x44, "IOCTL", ioctl, ("al", Reg(2)), ("bx", Reg()), ("dx", Reg()),
         note="AL=00h, 01h, 06h, 07h, 08h, 0Eh"),
    call(0x45, "duplicate handle", duplicate, ("bx", Reg())),
    call(0x46, "force duplicate handle", force_duplicate, ("bx", Reg()), ("cx", Reg())),
    call(0x56, "rename file", rename, ("ds", Reg()), ("dx", Path()), ("es", Reg()), ("di", Path("es"))),
    call(0x57, "file date and time", file_time, ("al", Reg(2)), ("bx", Reg()), ("cx", Reg()), ("dx", Reg()),
         level="partial", note="AL=00h gets them; AL=01h (set) fails: the host's times stay"),
    call(0x5A, "create temporary file", create_temporary, ("cx", Reg()), ("ds", Reg()), ("dx", Path())),
    call(0x5B, "create new file", create_new, ("cx", Reg()), ("ds", Reg()), ("dx", Path())),
    call(0x68, "commit file", commit, ("bx", Reg())),
    call(0x6C, "extended open/create", extended_open, ("al", Reg(2)), ("bx", Reg()), ("cx", Reg()),
         ("dx", Reg()), ("ds", Reg()), ("si", Path())),
    unsupported(0x67, "set handle count", "the job file table keeps its 20 handles"),
]
