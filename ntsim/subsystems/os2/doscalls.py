"""DOSCALLS: the OS/2 1.x kernel API, by topic. Each handler takes the calling thread
(gate.Os2Thread) and the raw arguments (words, longs, far pointers as sel << 16 | off)
and returns 0 or raises Os2Error. Calls that touch only the process itself (files,
memory, the information segments) run here, in the client, as NT's os2dll did; those
that concern other processes (DosExecPgm, DosCWait, DosKillProcess) are LPC requests
to the OS2SS server (server.py).
"""

from __future__ import annotations

import datetime
import fnmatch
import itertools
import struct
from typing import Any

from ...kernel.descriptors import SegmentDescriptor
from ...kernel.dispatcher import then
from ...kernel.io import (
    DELETE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_CREATE,
    FILE_DIRECTORY_FILE,
    FILE_LIST_DIRECTORY,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
    FileBasicInformation,
    FileDispositionInformation,
    FileEndOfFileInformation,
    FilePositionInformation,
    FileRenameInformation,
    FileStandardInformation,
)
from ...kernel.memory import MEM_COMMIT, MEM_DECOMMIT, page_ceil
from ...kernel.services import NtCurrentProcess
from ...kernel.status import STATUS_END_OF_FILE, STATUS_OBJECT_NAME_NOT_FOUND, NtStatusError
from . import signals
from .errors import (
    ERROR_ACCESS_DENIED,
    ERROR_BUFFER_OVERFLOW,
    ERROR_FILE_NOT_FOUND,
    ERROR_INVALID_DRIVE,
    ERROR_INVALID_FUNCTION,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_LEVEL,
    ERROR_INVALID_PARAMETER,
    ERROR_NEGATIVE_SEEK,
    ERROR_NO_MORE_FILES,
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_PATH_NOT_FOUND,
    ERROR_TOO_MANY_OPEN_FILES,
    Os2Error,
)
from .gate import Os2Thread
from .loader import FIRST_SHARED, TILE, allocate_segment, tiled_base

CONSOLE = "CON"                   # DosOpen("CON"): the console's input or output, by access
MAX_HANDLES = 20                  # OS/2 1.x's default per process (DosSetMaxFH raises it)
STANDARD_HANDLES = 3


# --- paths: OS/2 names on drive C: (the root) ---------------------------------------------------


def nt_path(caller: Os2Thread, path: str) -> str:
    """The NT object name of an OS/2 path: C:\\X, \\X (root of C:), or relative to the
    current directory. Another drive is ERROR_PATH_NOT_FOUND (only C: exists)."""
    if path.upper() in ("NUL", "\\DEV\\NUL"):
        return "\\Device\\Null"
    if path.upper() in ("CON", "\\DEV\\CON"):
        return CONSOLE
    if len(path) >= 2 and path[1] == ":":
        if path[0].upper() != "C":
            raise Os2Error(ERROR_PATH_NOT_FOUND, f"{path}: only drive C: exists")
        path = path[2:]
        if not path.startswith(("\\", "/")):
            path = caller.os2.cwd.rstrip("\\") + "\\" + path
    elif not path.startswith(("\\", "/")):
        path = caller.os2.cwd.rstrip("\\") + "\\" + path
    parts: list[str] = []
    for part in path.replace("/", "\\").split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "\\??\\C:\\" + "\\".join(parts)


def os2_path(name: str) -> str:
    """\\??\\C:\\DIR -> \\DIR (what the current directory holds)."""
    return name[len("\\??\\C:"):] or "\\"


def _file(caller: Os2Thread, handle: int) -> int:
    nt_handle = caller.os2.files.get(handle)
    if nt_handle is None:
        raise Os2Error(ERROR_INVALID_HANDLE, f"handle {handle} is not open")
    return nt_handle


def _new_handle(caller: Os2Thread, nt_handle: int) -> int:
    files = caller.os2.files
    for handle in range(MAX_HANDLES):
        if handle not in files:
            files[handle] = nt_handle
            return handle
    caller.nt.NtClose(nt_handle)
    raise Os2Error(ERROR_TOO_MANY_OPEN_FILES)


# --- file I/O -------------------------------------------------------------------------------


def dos_write(caller: Os2Thread, handle: int, buffer: int, count: int, written: int) -> Any:
    data = caller.read(buffer, count)
    caller.linear(written, 2)
    return then(lambda: caller.nt.NtWriteFile(_file(caller, handle), data),
                lambda done: caller.write_word(written, done) or 0)


def dos_read(caller: Os2Thread, handle: int, buffer: int, count: int, read: int) -> Any:
    caller.linear(buffer, count)
    caller.linear(read, 2)
    nt_handle = _file(caller, handle)

    def done(data: bytes) -> int:
        caller.write(buffer, data)
        caller.write_word(read, len(data))
        return 0

    return _until_end(lambda: caller.nt.NtReadFile(nt_handle, count) if count else b"", done)


def _until_end(call, post) -> Any:
    """`then`, with the end of a file (or of the console's input) read as no bytes."""
    return then(call, post, failed=lambda error: end_of_file_as(error, b""))


def end_of_file_as(error: Exception, value: Any) -> Any:
    """`value` for STATUS_END_OF_FILE; any other error stands."""
    if isinstance(error, NtStatusError) and error.status == STATUS_END_OF_FILE:
        return value
    raise error


# DosOpen's flags: what to do if the file exists (low nibble) or not (high nibble)
OPEN_ACTION_FAIL, OPEN_ACTION_OPEN, OPEN_ACTION_REPLACE, OPEN_ACTION_CREATE = 0, 1, 2, 0x10
FILE_EXISTED, FILE_CREATED, FILE_TRUNCATED = 1, 2, 3
OPEN_FLAGS_NOINHERIT = 0x80
ACCESS = {0: FILE_READ_DATA, 1: FILE_WRITE_DATA, 2: FILE_READ_DATA | FILE_WRITE_DATA}


def dos_open(caller: Os2Thread, name: int, handle_out: int, action_out: int, size: int, attribute: int,
             flags: int, mode: int, _reserved: int) -> int:
    path = nt_path(caller, caller.read_string(name))
    for pointer in (handle_out, action_out):
        caller.linear(pointer, 2)
    access = ACCESS.get(mode & 7)
    exists, missing = flags & 0x0F, flags & 0xF0
    if access is None or exists > OPEN_ACTION_REPLACE or missing > OPEN_ACTION_CREATE \
            or (exists == OPEN_ACTION_FAIL and missing == OPEN_ACTION_FAIL):
        raise Os2Error(ERROR_INVALID_PARAMETER, f"open mode {mode:#x}, flags {flags:#x}")
    nt = caller.nt
    if path == CONSOLE:
        if access == FILE_READ_DATA | FILE_WRITE_DATA:
            raise Os2Error(ERROR_ACCESS_DENIED, "CON opens for reading or for writing")
        path = "\\Device\\ConDrv\\" + ("Input" if access == FILE_READ_DATA else "Output")
        nt_handle = nt.NtCreateFile(path, access | SYNCHRONIZE, FILE_OPEN)
        caller.write_word(handle_out, _new_handle(caller, nt_handle))
        caller.write_word(action_out, FILE_EXISTED)
        return 0
    access |= SYNCHRONIZE | FILE_READ_ATTRIBUTES
    options = FILE_SYNCHRONOUS_IO_NONALERT | (0 if path == "\\Device\\Null" else FILE_NON_DIRECTORY_FILE)
    disposition = {OPEN_ACTION_OPEN: FILE_OPEN, OPEN_ACTION_REPLACE: FILE_OVERWRITE}.get(exists)
    try:
        if disposition is None:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND)   # existing is failure: create only
        nt_handle = nt.NtCreateFile(path, access, disposition, options)
        action = FILE_EXISTED if disposition == FILE_OPEN else FILE_TRUNCATED
    except NtStatusError as error:
        if error.status != STATUS_OBJECT_NAME_NOT_FOUND or missing != OPEN_ACTION_CREATE:
            raise
        disposition = FILE_CREATE if exists == OPEN_ACTION_FAIL else \
            FILE_OPEN_IF if exists == OPEN_ACTION_OPEN else FILE_OVERWRITE_IF
        nt_handle = nt.NtCreateFile(path, access, disposition, options)
        action = FILE_CREATED
    if action != FILE_EXISTED and size:
        nt.NtSetInformationFile(nt_handle, FileEndOfFileInformation, size)
    handle = _new_handle(caller, nt_handle)
    if mode & OPEN_FLAGS_NOINHERIT:
        caller.os2.no_inherit.add(handle)
    caller.write_word(handle_out, handle)
    caller.write_word(action_out, action)
    return 0


def dos_close(caller: Os2Thread, handle: int) -> int:
    caller.nt.NtClose(_file(caller, handle))
    del caller.os2.files[handle]
    caller.os2.no_inherit.discard(handle)
    return 0


def dos_chg_file_ptr(caller: Os2Thread, handle: int, distance: int, method: int, new_out: int) -> int:
    nt = caller.nt
    nt_handle = _file(caller, handle)
    distance = distance - (1 << 32) if distance & 0x8000_0000 else distance
    if method == 0:
        base = 0
    elif method == 1:
        base = nt.NtQueryInformationFile(nt_handle, FilePositionInformation)
    elif method == 2:
        base = nt.NtQueryInformationFile(nt_handle, FileStandardInformation).EndOfFile
    else:
        raise Os2Error(ERROR_INVALID_FUNCTION, f"method {method}")
    position = base + distance
    if position < 0:
        raise Os2Error(ERROR_NEGATIVE_SEEK)
    caller.linear(new_out, 4)
    nt.NtSetInformationFile(nt_handle, FilePositionInformation, position)
    caller.write_long(new_out, position)
    return 0


def dos_new_size(caller: Os2Thread, handle: int, size: int) -> int:
    caller.nt.NtSetInformationFile(_file(caller, handle), FileEndOfFileInformation, size)
    return 0


def dos_buf_reset(caller: Os2Thread, handle: int) -> int:
    handles = list(caller.os2.files.values()) if handle == 0xFFFF else [_file(caller, handle)]
    for nt_handle in handles:
        try:
            caller.nt.NtFlushBuffersFile(nt_handle)
        except NtStatusError:
            if handle != 0xFFFF:         # flushing everything skips what cannot be flushed
                raise
    return 0


def dos_dup_handle(caller: Os2Thread, handle: int, new_out: int) -> int:
    nt = caller.nt
    source = _file(caller, handle)
    wanted = caller.read_word(new_out)
    duplicate = nt.NtDuplicateObject(NtCurrentProcess, source, NtCurrentProcess)
    if wanted == 0xFFFF:
        caller.write_word(new_out, _new_handle(caller, duplicate))
        return 0
    if wanted >= MAX_HANDLES:
        nt.NtClose(duplicate)
        raise Os2Error(ERROR_INVALID_HANDLE, f"target handle {wanted}")
    old = caller.os2.files.pop(wanted, None)
    if old is not None:
        nt.NtClose(old)
    caller.os2.files[wanted] = duplicate
    caller.os2.no_inherit.discard(wanted)
    return 0


_pipes = itertools.count(1)


def dos_make_pipe(caller: Os2Thread, read_out: int, write_out: int, size: int) -> int:
    from ...kernel.fs.pipe import FILE_SHARE_WRITE
    nt = caller.nt
    for pointer in (read_out, write_out):
        caller.linear(pointer, 2)
    name = f"\\Device\\NamedPipe\\Os2\\Pipe.{caller.process.pid}.{next(_pipes)}"
    read_handle = nt.NtCreateNamedPipeFile(name, FILE_READ_DATA | SYNCHRONIZE, FILE_SHARE_WRITE, FILE_CREATE,
                                           FILE_SYNCHRONOUS_IO_NONALERT, MaximumInstances=1,
                                           InboundQuota=size or 4096, OutboundQuota=0)
    write_handle = nt.NtOpenFile(name, FILE_WRITE_DATA | SYNCHRONIZE, FILE_SYNCHRONOUS_IO_NONALERT)
    caller.write_word(read_out, _new_handle(caller, read_handle))
    caller.write_word(write_out, _new_handle(caller, write_handle))
    return 0


# --- the file system ------------------------------------------------------------------------


def _open_path(caller: Os2Thread, path: str, access: int, options: int) -> int:
    return caller.nt.NtCreateFile(path, access | SYNCHRONIZE, FILE_OPEN, options | FILE_SYNCHRONOUS_IO_NONALERT)


def _open_directory(caller: Os2Thread, path: str, access: int) -> int:
    """A directory that is not there is ERROR_PATH_NOT_FOUND to OS/2, not FILE_NOT_FOUND."""
    try:
        return _open_path(caller, path, access, FILE_DIRECTORY_FILE)
    except NtStatusError as error:
        if error.status == STATUS_OBJECT_NAME_NOT_FOUND:
            raise Os2Error(ERROR_PATH_NOT_FOUND, path) from None
        raise


def _delete(caller: Os2Thread, name: int, directory: bool) -> int:
    path = nt_path(caller, caller.read_string(name))
    nt = caller.nt
    handle = _open_directory(caller, path, DELETE) if directory else \
        _open_path(caller, path, DELETE, FILE_NON_DIRECTORY_FILE)
    try:
        if directory and path.rstrip("\\").casefold() == ("\\??\\C:" + caller.os2.cwd).rstrip("\\").casefold():
            raise Os2Error(16, "it is the current directory")   # ERROR_CURRENT_DIRECTORY
        nt.NtSetInformationFile(handle, FileDispositionInformation, True)
    finally:
        nt.NtClose(handle)
    return 0


def dos_delete(caller: Os2Thread, name: int, _reserved: int) -> int:
    return _delete(caller, name, False)


def dos_rm_dir(caller: Os2Thread, name: int, _reserved: int) -> int:
    return _delete(caller, name, True)


def dos_mk_dir(caller: Os2Thread, name: int, _reserved: int) -> int:
    path = nt_path(caller, caller.read_string(name))
    handle = caller.nt.NtCreateFile(path, FILE_LIST_DIRECTORY | SYNCHRONIZE, FILE_CREATE,
                                    FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT)
    caller.nt.NtClose(handle)
    return 0


def dos_move(caller: Os2Thread, old: int, new: int, _reserved: int) -> int:
    source, target = nt_path(caller, caller.read_string(old)), nt_path(caller, caller.read_string(new))
    nt = caller.nt
    handle = _open_path(caller, source, DELETE, 0)
    try:
        nt.NtSetInformationFile(handle, FileRenameInformation, (target, False))
    finally:
        nt.NtClose(handle)
    return 0


def dos_ch_dir(caller: Os2Thread, name: int, _reserved: int) -> int:
    path = nt_path(caller, caller.read_string(name))
    caller.nt.NtClose(_open_directory(caller, path, FILE_LIST_DIRECTORY))
    caller.os2.cwd = os2_path(path)
    return 0


def dos_q_cur_dir(caller: Os2Thread, drive: int, buffer: int, length_out: int) -> int:
    if drive not in (0, 3):
        raise Os2Error(ERROR_INVALID_DRIVE, f"drive {drive}")
    path = caller.os2.cwd.lstrip("\\").encode("cp437") + b"\0"
    room = caller.read_word(length_out)
    caller.write_word(length_out, len(path))
    if room < len(path):
        raise Os2Error(ERROR_BUFFER_OVERFLOW)
    caller.write(buffer, path)
    return 0


def dos_q_cur_disk(caller: Os2Thread, disk_out: int, map_out: int) -> int:
    caller.linear(map_out, 4)
    caller.write_word(disk_out, 3)                 # C: (A: is 1)
    caller.write_long(map_out, 1 << 2)             # only C: exists
    return 0


def dos_select_disk(caller: Os2Thread, drive: int) -> int:
    if drive != 3:
        raise Os2Error(ERROR_INVALID_DRIVE, f"drive {drive}: only C: (3) exists")
    return 0


# --- file information -------------------------------------------------------------------------


def _fdate_ftime(nt_time: int) -> tuple[int, int]:
    """An NT time (100 ns since 1601, UTC) as OS/2's packed FDATE and FTIME."""
    moment = datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=nt_time // 10)
    if moment.year < 1980:
        return 0x21, 0                             # 1980-01-01
    fdate = (moment.year - 1980) << 9 | moment.month << 5 | moment.day
    ftime = moment.hour << 11 | moment.minute << 5 | moment.second // 2
    return fdate, ftime


def _attributes(nt_attributes: int) -> int:
    """NT file attributes as OS/2's: read-only 1, hidden 2, system 4, directory 0x10, archive 0x20."""
    return nt_attributes & 0x37


def _file_status(basic: Any, size: int) -> bytes:
    """FILESTATUS (level 1): creation, access and write date/time, size, allocation, attributes."""
    times = b"".join(struct.pack("<HH", *_fdate_ftime(t)) for t in
                     (basic.CreationTime, basic.LastAccessTime, basic.LastWriteTime))
    return times + struct.pack("<IIH", size, page_ceil(size) if size else 0, _attributes(basic.FileAttributes))


def dos_q_file_info(caller: Os2Thread, handle: int, level: int, buffer: int, size: int) -> int:
    if level != 1:
        raise Os2Error(ERROR_INVALID_LEVEL, f"level {level}")
    nt = caller.nt
    nt_handle = _file(caller, handle)
    status = _file_status(nt.NtQueryInformationFile(nt_handle, FileBasicInformation),
                          nt.NtQueryInformationFile(nt_handle, FileStandardInformation).EndOfFile)
    if size < len(status):
        raise Os2Error(ERROR_BUFFER_OVERFLOW)
    caller.write(buffer, status)
    return 0


def dos_q_file_mode(caller: Os2Thread, name: int, attribute_out: int, _reserved: int) -> int:
    path = nt_path(caller, caller.read_string(name))
    nt = caller.nt
    handle = _open_path(caller, path, FILE_READ_ATTRIBUTES, 0)
    try:
        basic = nt.NtQueryInformationFile(handle, FileBasicInformation)
    finally:
        nt.NtClose(handle)
    caller.write_word(attribute_out, _attributes(basic.FileAttributes))
    return 0


def dos_set_file_mode(caller: Os2Thread, name: int, attribute: int, _reserved: int) -> int:
    if attribute & ~0x27:
        raise Os2Error(ERROR_ACCESS_DENIED, f"attribute {attribute:#x}")
    path = nt_path(caller, caller.read_string(name))
    nt = caller.nt
    handle = _open_path(caller, path, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, 0)
    try:
        basic = nt.NtQueryInformationFile(handle, FileBasicInformation)
        # (FILE_ATTRIBUTE_NORMAL, 0x80, says "none": 0 would mean "leave them as they are")
        basic.FileAttributes = (basic.FileAttributes & ~0x27) | attribute or 0x80
        basic.LastAccessTime = basic.LastWriteTime = 0          # the times stay
        nt.NtSetInformationFile(handle, FileBasicInformation, basic)
    finally:
        nt.NtClose(handle)
    return 0


# --- directory searches -----------------------------------------------------------------------


class Search:
    """One DosFindFirst handle: the matching entries, and how many were returned."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.next = 0


HDIR_SYSTEM, HDIR_CREATE = 1, 0xFFFF
FIND_HEADER = 23                  # FILEFINDBUF up to achName


def dos_find_first(caller: Os2Thread, spec: int, hdir_in_out: int, attribute: int, buffer: int, size: int,
                   count_in_out: int, _reserved: int) -> int:
    pattern = caller.read_string(spec)
    wanted = caller.read_word(count_in_out)
    hdir = caller.read_word(hdir_in_out)
    path = nt_path(caller, pattern)
    directory, _, mask = path.rpartition("\\")
    nt = caller.nt
    handle = _open_path(caller, directory if directory != "\\??\\C:" else "\\??\\C:\\", FILE_LIST_DIRECTORY,
                        FILE_DIRECTORY_FILE)
    found: list[bytes] = []
    try:
        while True:
            try:
                batch = nt.NtQueryDirectoryFile(handle)
            except NtStatusError as error:
                if error.status.name == "STATUS_NO_MORE_FILES":
                    break
                raise
            for entry in batch:
                if entry.FileName in (".", "..") and (directory == "\\??\\C:" or not attribute & 0x10):
                    continue
                if entry.FileAttributes & FILE_ATTRIBUTE_DIRECTORY and not attribute & 0x10:
                    continue
                if not _matches(entry.FileName, mask):
                    continue
                found.append(_find_entry(caller, directory, entry))
    finally:
        nt.NtClose(handle)
    if not found:
        caller.write_word(count_in_out, 0)
        raise Os2Error(ERROR_NO_MORE_FILES if mask and ("*" in mask or "?" in mask) else ERROR_FILE_NOT_FOUND)
    searches = caller.os2.searches
    if hdir == HDIR_CREATE:
        hdir = next(h for h in itertools.count(2) if h not in searches)
        caller.write_word(hdir_in_out, hdir)
    elif hdir != HDIR_SYSTEM:
        raise Os2Error(ERROR_INVALID_HANDLE, f"search handle {hdir}")
    searches[hdir] = Search(found)
    return _fill(caller, searches[hdir], buffer, size, wanted, count_in_out)


def dos_find_next(caller: Os2Thread, hdir: int, buffer: int, size: int, count_in_out: int) -> int:
    search = caller.os2.searches.get(hdir)
    if search is None:
        raise Os2Error(ERROR_INVALID_HANDLE, f"search handle {hdir}")
    return _fill(caller, search, buffer, size, caller.read_word(count_in_out), count_in_out)


def dos_find_close(caller: Os2Thread, hdir: int) -> int:
    if caller.os2.searches.pop(hdir, None) is None:
        raise Os2Error(ERROR_INVALID_HANDLE, f"search handle {hdir}")
    return 0


def _matches(name: str, mask: str) -> bool:
    """OS/2 wildcards: * and ?, case-insensitive; *.* matches a name with no dot too."""
    if mask in ("*.*", "*"):
        return True
    if mask.endswith(".*") and "." not in name and fnmatch.fnmatchcase(name.upper(), mask[:-2].upper()):
        return True
    return fnmatch.fnmatchcase(name.upper(), mask.upper())


def _find_entry(caller: Os2Thread, directory: str, entry: Any) -> bytes:
    nt = caller.nt
    name = entry.FileName.encode("cp437", "replace")[:255]
    try:
        handle = _open_path(caller, f"{directory}\\{entry.FileName}", FILE_READ_ATTRIBUTES, 0)
        try:
            basic = nt.NtQueryInformationFile(handle, FileBasicInformation)
        finally:
            nt.NtClose(handle)
    except NtStatusError:
        basic = None
    size = 0 if entry.FileAttributes & FILE_ATTRIBUTE_DIRECTORY else entry.EndOfFile
    if basic is None:
        status = bytes(12) + struct.pack("<IIH", size, page_ceil(size), _attributes(entry.FileAttributes))
    else:
        status = _file_status(basic, size)
    return status + bytes([len(name)]) + name + b"\0"


def _fill(caller: Os2Thread, search: Search, buffer: int, size: int, wanted: int, count_out: int) -> int:
    """Copy up to `wanted` entries that fit the buffer; none left is ERROR_NO_MORE_FILES."""
    out = bytearray()
    count = 0
    while count < wanted and search.next < len(search.entries):
        entry = search.entries[search.next]
        if len(out) + len(entry) > size:
            break
        out += entry
        search.next += 1
        count += 1
    caller.write_word(count_out, count)
    if count == 0:
        if search.next < len(search.entries):
            raise Os2Error(ERROR_BUFFER_OVERFLOW)
        raise Os2Error(ERROR_NO_MORE_FILES)
    caller.write(buffer, bytes(out))
    return 0


# --- memory: segments ---------------------------------------------------------------------------


def dos_alloc_seg(caller: Os2Thread, size: int, selector_out: int, flags: int) -> int:
    caller.linear(selector_out, 2)
    if flags & ~0x7:
        raise Os2Error(ERROR_INVALID_PARAMETER, f"flags {flags:#x}")
    size = size or TILE
    try:
        selector = allocate_segment(caller.kernel, caller.os2, size, tag="DosAllocSeg")
    except MemoryError:
        raise Os2Error(ERROR_NOT_ENOUGH_MEMORY, "the LDT is full") from None
    caller.os2.allocated[selector] = size
    caller.write_word(selector_out, selector)
    return 0


def dos_realloc_seg(caller: Os2Thread, size: int, selector: int) -> int:
    os2 = caller.os2
    if selector & 0xFFFC not in {s & 0xFFFC for s in os2.allocated}:
        raise Os2Error(ERROR_ACCESS_DENIED, f"selector {selector:04X} was not allocated by DosAllocSeg")
    selector = next(s for s in os2.allocated if s & 0xFFFC == selector & 0xFFFC)
    size = size or TILE
    base = tiled_base(selector)
    old = os2.allocated[selector]
    nt = caller.nt
    if page_ceil(size) > page_ceil(old):
        nt.NtAllocateVirtualMemory(NtCurrentProcess, base + page_ceil(old), page_ceil(size) - page_ceil(old),
                                   MEM_COMMIT, 0x04)
    elif page_ceil(size) < page_ceil(old):
        nt.NtFreeVirtualMemory(NtCurrentProcess, base + page_ceil(size), page_ceil(old) - page_ceil(size),
                               MEM_DECOMMIT)
    caller.cpu.set_descriptor(os2.ldt, selector >> 3, SegmentDescriptor.data16(base, size - 1))
    os2.limits[selector >> 3] = size - 1
    os2.allocated[selector] = size
    return 0


def dos_free_seg(caller: Os2Thread, selector: int) -> Any:
    os2 = caller.os2
    if selector >> 3 in os2.shared and selector & 4:
        from .calls import free_shared_segment
        return free_shared_segment(caller, selector >> 3)
    match = next((s for s in os2.allocated if s & 0xFFFC == selector & 0xFFFC), None)
    if match is None:
        raise Os2Error(ERROR_ACCESS_DENIED, f"selector {selector:04X} was not allocated by DosAllocSeg")
    del os2.allocated[match]
    from ...kernel.descriptors import NULL_DESCRIPTOR
    caller.cpu.set_descriptor(os2.ldt, match >> 3, NULL_DESCRIPTOR)
    del os2.limits[match >> 3]
    caller.nt.NtFreeVirtualMemory(NtCurrentProcess, tiled_base(match), TILE, MEM_DECOMMIT)
    return 0


HUGE_SHIFT = 3                    # selectors of a huge block differ by 1 << 3 (one LDT entry)


def dos_alloc_huge(caller: Os2Thread, segments: int, partial: int, selector_out: int, maximum: int,
                   flags: int) -> int:
    caller.linear(selector_out, 2)
    count = segments + (1 if partial else 0)
    if count == 0 or (maximum and maximum < segments):
        raise Os2Error(ERROR_INVALID_PARAMETER, f"{segments} segments and {partial} bytes")
    ldt = caller.os2.ldt
    first = next((i for i in range(len(caller.os2.image.segments) + 1, FIRST_SHARED - count)
                  if all(i + k not in caller.os2.limits for k in range(count))), None)
    if first is None:
        raise Os2Error(ERROR_NOT_ENOUGH_MEMORY, f"no {count} consecutive LDT entries")
    for k in range(count):
        size = partial if (k == segments and partial) else TILE
        selector = allocate_segment(caller.kernel, caller.os2, size, tag="DosAllocHuge", index=first + k)
        caller.os2.allocated[selector] = size
    caller.write_word(selector_out, ldt.selector(first))
    return 0


# --- the process and its environment -------------------------------------------------------------


def dos_get_env(caller: Os2Thread, selector_out: int, offset_out: int) -> int:
    caller.linear(offset_out, 2)
    caller.write_word(selector_out, caller.os2.environment)
    caller.write_word(offset_out, caller.os2.command_line)
    return 0


OS2_VERSION = (10, 30)            # OS/2 1.30: DosGetVersion's major 10, minor 30


def dos_get_version(caller: Os2Thread, version_out: int) -> int:
    caller.write_word(version_out, OS2_VERSION[0] << 8 | OS2_VERSION[1])
    return 0


def dos_get_pid(caller: Os2Thread, info_out: int) -> int:
    """PIDINFO: {pid, tid, parent pid}."""
    caller.write(info_out, struct.pack("<HHH", caller.process.pid, caller.thread.tid, caller.os2.parent_pid))
    return 0


def dos_exit(caller: Os2Thread, action: int, result: int) -> None:
    """EXIT_THREAD (0) of the only thread, or EXIT_PROCESS (1): the process ends with
    `result` as its exit code (OS2SS hears of it as the client's port closes)."""
    caller.os2.termination = 0                     # TC_EXIT
    caller.kernel.terminate_process(caller.process, result & 0xFFFF)
    return None


def dos_error(caller: Os2Thread, flag: int) -> int:
    if flag not in (0, 1, 2, 3):
        raise Os2Error(ERROR_INVALID_PARAMETER, f"flag {flag}")
    caller.os2.hard_errors = bool(flag & 1)
    return 0


def dos_sleep(caller: Os2Thread, milliseconds: int) -> Any:
    if milliseconds == 0:
        return then(lambda: caller.nt.NtYieldExecution(), lambda _: 0)
    return then(lambda: caller.nt.NtDelayExecution(False, milliseconds * 1_000_000), lambda _: 0)


def dos_beep(caller: Os2Thread, frequency: int, duration: int) -> Any:
    if not 0x25 <= frequency <= 0x7FFF:
        raise Os2Error(395, f"frequency {frequency}")   # ERROR_INVALID_FREQUENCY
    return dos_sleep(caller, duration)


def dos_get_date_time(caller: Os2Thread, out: int) -> int:
    """DATETIME: hours, minutes, seconds, hundredths, day, month (bytes), year (word),
    timezone (minutes west of UTC, a word), weekday (0 = Sunday)."""
    now = _now(caller)
    caller.write(out, struct.pack("<BBBBBBHhB", now.hour, now.minute, now.second, now.microsecond // 10_000,
                                  now.day, now.month, now.year, 0, (now.weekday() + 1) % 7))
    return 0


def _now(caller: Os2Thread) -> datetime.datetime:
    return datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=caller.nt.NtQuerySystemTime() // 10)


# --- the information segments ----------------------------------------------------------------------

GLOBAL_INFO_SIZE, LOCAL_INFO_SIZE = 72, 30


def dos_get_info_seg(caller: Os2Thread, global_out: int, local_out: int) -> int:
    """GINFOSEG (the time, the version, the scheduler's settings: the system's) and
    LINFOSEG (this process: pids, thread, environment...), read-only segments the
    program reads at any time. Answered in the client: no server needed."""
    caller.linear(global_out, 2)
    caller.linear(local_out, 2)
    os2 = caller.os2
    if os2.info_segments is None:
        global_selector = allocate_segment(caller.kernel, os2, GLOBAL_INFO_SIZE, tag="global info segment")
        local_selector = allocate_segment(caller.kernel, os2, LOCAL_INFO_SIZE, tag="local info segment")
        os2.info_segments = (global_selector, local_selector)
    global_selector, local_selector = os2.info_segments
    now = _now(caller)
    seconds = int((now - datetime.datetime(1970, 1, 1)).total_seconds())
    milliseconds = caller.kernel.clock.monotonic_ns() // 1_000_000
    global_info = struct.pack(
        "<IIBBBBHHBBHBBBBBBBBHBBHHH32sBB",
        seconds, milliseconds & 0xFFFF_FFFF, now.hour, now.minute, now.second, now.microsecond // 10_000,
        0, 320,                                  # timezone (UTC), timer interval (32 ms, in 0.1 ms)
        now.day, now.month, now.year, (now.weekday() + 1) % 7,
        OS2_VERSION[0], OS2_VERSION[1], 0,       # major, minor, revision
        1, 1,                                    # the current and the highest session
        HUGE_SHIFT, 1,                           # cHugeShift, protected mode only
        caller.process.pid,                      # the foreground process
        1, 3, 32, 248,                           # dynamic scheduling, max wait, min/max slice
        3,                                       # boot drive C:
        b"", 0, 0)
    local_info = struct.pack(
        "<HHHHHBBHBBHHHHHHH",
        caller.process.pid, os2.parent_pid, 0x0200, caller.thread.tid, 1, 0, 0, 1,
        0, 0,                                    # typeProcess 0: full screen (VIO), dummy
        os2.environment, os2.command_line, os2.autodata_size & 0xFFFF, os2.image.stack_size,
        os2.image.heap_size, 0, os2.autodata)
    caller.memory.write(tiled_base(global_selector), global_info)
    caller.memory.write(tiled_base(local_selector), local_info)
    caller.write_word(global_out, global_selector)
    caller.write_word(local_out, local_selector)
    return 0


def dos_set_sig_handler(caller: Os2Thread, handler: int, previous_out: int, action_out: int, action: int,
                        signal: int) -> int:
    """Default (SIGA_KILL), ignore, a handler (SIGA_ACCEPT) or SIGA_ACKNOWLEDGE for Ctrl+C
    (SIG_CTRLC, 1) and Ctrl+Break (SIG_CTRLBREAK, 4): signals.py."""
    return signals.set_handler(caller, handler, previous_out, action_out, action, signal)
