"""INT 21h directories, searches and drives: AH=39h-3Bh, 47h, 4Eh, 4Fh, 1Ah, 2Fh, 0Eh,
19h, 36h.

C: is the only drive (the --root directory); DOS numbers drives from A: = 0 (AH=0Eh,
19h) or from 1 with 0 for the current one (AH=36h, 47h). A directory search lists the
directory with NtQueryDirectoryFile, keeps the 8.3 names that match the pattern (others
are hidden: see names.py) and hands them out one at a time through the DTA, whose
layout is DOS's: the search's own state in its first 21 bytes, then the attribute,
time, date, size and name of the entry found.
"""

from __future__ import annotations

from typing import Any

from ...kernel.io import (
    DELETE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_CREATE,
    FILE_DIRECTORY_FILE,
    FILE_LIST_DIRECTORY,
    FILE_OPEN,
    SYNCHRONIZE,
    FileBasicInformation,
    FileDispositionInformationEx,
    FileFsFullSizeInformation,
)
from ...kernel.status import STATUS_OBJECT_NAME_COLLISION, NtStatusError
from ...subsystems.base import call
from ..calls import (
    ERROR_ACCESS_DENIED,
    ERROR_CURRENT_DIRECTORY,
    ERROR_INVALID_DRIVE,
    ERROR_NO_MORE_FILES,
    ERROR_PATH_NOT_FOUND,
    DosError,
    Flagged,
    Reg,
)
from . import names
from .files import DELETE_NOW, Path, dos_attributes, dos_date_time, dos_error, path_at

DRIVE_C = 2
ATTRIBUTE_DIRECTORY, ATTRIBUTE_VOLUME = 0x10, 0x08
SEARCHES_KEPT = 64


def _open_directory(vm: Any, parts: list[str], access: int = FILE_LIST_DIRECTORY) -> int:
    try:
        return vm.nt.NtCreateFile(names.nt_path(parts), access | SYNCHRONIZE, FILE_OPEN,
                                  FILE_DIRECTORY_FILE)
    except NtStatusError as error:
        code = dos_error(error)
        raise DosError(ERROR_PATH_NOT_FOUND if code == 2 else code, str(error)) from None


def make_directory(vm: Any, ds: int, dx: int) -> int:
    """AH=39h: create the directory DS:DX."""
    parts = path_at(vm, ds, dx)
    if not parts or names.device_name(parts[-1]):
        raise DosError(ERROR_ACCESS_DENIED, "not a directory name")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(parts), FILE_LIST_DIRECTORY | SYNCHRONIZE,
                                    FILE_CREATE, FILE_DIRECTORY_FILE)
    except NtStatusError as error:
        # DOS says "access denied" when the name exists
        code = ERROR_ACCESS_DENIED if error.status == STATUS_OBJECT_NAME_COLLISION else dos_error(error)
        raise DosError(code, str(error)) from None
    vm.nt.NtClose(handle)
    return 0


def remove_directory(vm: Any, ds: int, dx: int) -> int:
    """AH=3Ah: remove the empty directory DS:DX (not the current one: 10h)."""
    parts = path_at(vm, ds, dx)
    if not parts:
        raise DosError(ERROR_ACCESS_DENIED, "cannot remove the root")
    if "\\".join(parts) == vm.dos.cwd:
        raise DosError(ERROR_CURRENT_DIRECTORY, names.dos_path(parts))
    handle = _open_directory(vm, parts, DELETE)
    try:
        vm.nt.NtSetInformationFile(handle, FileDispositionInformationEx, DELETE_NOW)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    finally:
        vm.nt.NtClose(handle)
    return 0


def change_directory(vm: Any, ds: int, dx: int) -> int:
    """AH=3Bh: make DS:DX the current directory of C:."""
    parts = path_at(vm, ds, dx)
    vm.nt.NtClose(_open_directory(vm, parts))
    vm.dos.cwd = "\\".join(parts)
    return 0


def current_directory(vm: Any, dl: int, ds: int, si: int) -> int:
    """AH=47h: the current directory of drive DL (0 = current, 3 = C:) into DS:SI,
    without drive or leading backslash; AX=0100h, as MS-DOS leaves it."""
    if dl & 0xFF not in (0, DRIVE_C + 1):
        raise DosError(ERROR_INVALID_DRIVE, f"drive {dl & 0xFF}")
    vm.write(ds, si, vm.dos.cwd.encode("cp437")[:63] + b"\x00")
    vm.set(ax=0x0100)
    return 0x0100


# --- searches -----------------------------------------------------------------------------------

def _entries(vm: Any, parts: list[str], pattern: str, attributes: int) -> list[tuple]:
    """(name, DOS attributes, date, time, size) of every entry matching the search."""
    handle = _open_directory(vm, parts)
    found = []
    try:
        while True:
            try:
                batch = vm.nt.NtQueryDirectoryFile(handle)
            except NtStatusError:
                break                              # STATUS_NO_MORE_FILES
            for entry in batch:
                name = entry.FileName
                if not names.is_short_name(name) or (name in (".", "..") and not parts):
                    continue                       # hidden: no 8.3 name (see names.py)
                is_directory = bool(entry.FileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                if is_directory and not attributes & ATTRIBUTE_DIRECTORY:
                    continue
                if names.matches(name, pattern):
                    found.append((name.upper(), dos_attributes(entry.FileAttributes), entry))
    finally:
        vm.nt.NtClose(handle)
    result = []
    for name, attribute, entry in found:
        date, clock = _entry_time(vm, parts, name)
        result.append((name, attribute, date, clock, entry.EndOfFile if not attribute & 0x10 else 0))
    return result


def _entry_time(vm: Any, parts: list[str], name: str) -> tuple[int, int]:
    if name in (".", ".."):
        return dos_date_time(0)
    try:
        handle = vm.nt.NtCreateFile(names.nt_path([*parts, name]), 0x80 | SYNCHRONIZE, FILE_OPEN)
    except NtStatusError:
        return dos_date_time(0)
    try:
        return dos_date_time(vm.nt.NtQueryInformationFile(handle, FileBasicInformation).LastWriteTime)
    finally:
        vm.nt.NtClose(handle)


def _fill_dta(vm: Any, search: int, index: int, found: tuple) -> None:
    name, attribute, date, clock, size = found
    segment, offset = vm.dos.dta
    state = bytes((DRIVE_C + 1,)) + b"?" * 11 + b"\x00" + search.to_bytes(2, "little") \
        + index.to_bytes(2, "little") + b"\x00" * 4
    record = state + bytes((attribute,)) + clock.to_bytes(2, "little") + date.to_bytes(2, "little") \
        + (size & 0xFFFF_FFFF).to_bytes(4, "little") + name.encode("cp437")[:12].ljust(13, b"\x00")
    vm.write(segment, offset, record)


def find_first(vm: Any, cx: int, ds: int, dx: int) -> int:
    """AH=4Eh: the first entry matching the pattern at DS:DX (attributes CX: 10h
    includes directories) into the DTA; 12h when nothing matches."""
    text = vm.string(ds, dx, 0, 128).decode("cp437")
    directory, _, pattern = text.replace("/", "\\").rpartition("\\")
    if not _ and len(text) >= 2 and text[1] == ":":
        directory, pattern = text[:2], text[2:]
    elif _ and not directory:
        directory = "\\"
    elif _ and directory.endswith(":"):
        directory += "\\"
    parts = names.resolve(directory, vm.dos.cwd) if directory else names.resolve("", vm.dos.cwd)
    if cx & 0xFF == ATTRIBUTE_VOLUME:
        raise DosError(ERROR_NO_MORE_FILES, "C: has no volume label")
    entries = _entries(vm, parts, pattern or "*.*", cx)
    dos = vm.dos
    search = dos.next_search
    dos.next_search = dos.next_search % 0xFFFF + 1
    dos.searches[search] = entries
    if len(dos.searches) > SEARCHES_KEPT:
        dos.searches.pop(next(iter(dos.searches)))
    if not entries:
        raise DosError(ERROR_NO_MORE_FILES, f"nothing matches {text!r}")
    _fill_dta(vm, search, 1, entries[0])
    vm.set(ax=0)
    return len(entries)


def find_next(vm: Any) -> int:
    """AH=4Fh: the next entry of the search whose state is in the DTA."""
    segment, offset = vm.dos.dta
    state = vm.read(segment, offset, 21)
    search, index = int.from_bytes(state[13:15], "little"), int.from_bytes(state[15:17], "little")
    entries = vm.dos.searches.get(search)
    if entries is None or index >= len(entries):
        raise DosError(ERROR_NO_MORE_FILES, "the search is over")
    _fill_dta(vm, search, index + 1, entries[index])
    vm.set(ax=0)
    return index + 1


def set_dta(vm: Any, ds: int, dx: int) -> int:
    """AH=1Ah: the disk transfer area is DS:DX."""
    vm.dos.dta = (ds, dx)
    return 0


def get_dta(vm: Any) -> int:
    """AH=2Fh: ES:BX = the disk transfer area."""
    segment, offset = vm.dos.dta
    vm.set(es=segment, bx=offset)
    return segment << 16 | offset


# --- drives -------------------------------------------------------------------------------------

def select_disk(vm: Any, dl: int) -> int:
    """AH=0Eh: select drive DL (only C: = 2 exists); AL = the number of drive letters."""
    vm.set(al=DRIVE_C + 1)
    return DRIVE_C + 1


def current_disk(vm: Any) -> int:
    """AH=19h: AL = the current drive (2, C:)."""
    vm.set(al=DRIVE_C)
    return DRIVE_C


def free_space(vm: Any, dl: int) -> int:
    """AH=36h: free space of drive DL (0 = current, 3 = C:): AX sectors per cluster,
    BX free clusters, CX bytes per sector, DX clusters; AX=FFFFh for a bad drive."""
    if dl & 0xFF not in (0, DRIVE_C + 1):
        vm.set(ax=0xFFFF)
        return Flagged(0xFFFF)
    handle = _open_directory(vm, [])
    try:
        size = vm.nt.NtQueryVolumeInformationFile(handle, FileFsFullSizeInformation)
    finally:
        vm.nt.NtClose(handle)
    bytes_per_unit = size.SectorsPerAllocationUnit * size.BytesPerSector
    total = size.TotalAllocationUnits * bytes_per_unit
    free = size.CallerAvailableAllocationUnits * bytes_per_unit
    cluster = 32 * 1024                    # 64 sectors of 512 bytes: DOS's 2 GB limit
    vm.set(ax=64, cx=512, bx=min(free // cluster, 0xFFFF), dx=min(total // cluster, 0xFFFF))
    return Flagged(64)


ROWS = [
    call(0x0E, "select disk", select_disk, ("dl", Reg(2))),
    call(0x19, "current disk", current_disk),
    call(0x1A, "set DTA", set_dta, ("ds", Reg()), ("dx", Reg())),
    call(0x2F, "get DTA", get_dta),
    call(0x36, "free disk space", free_space, ("dl", Reg(2))),
    call(0x39, "make directory", make_directory, ("ds", Reg()), ("dx", Path())),
    call(0x3A, "remove directory", remove_directory, ("ds", Reg()), ("dx", Path())),
    call(0x3B, "change directory", change_directory, ("ds", Reg()), ("dx", Path())),
    call(0x47, "current directory", current_directory, ("dl", Reg(2)), ("ds", Reg()), ("si", Reg())),
    call(0x4E, "find first", find_first, ("cx", Reg()), ("ds", Reg()), ("dx", Path())),
    call(0x4F, "find next", find_next),
]
