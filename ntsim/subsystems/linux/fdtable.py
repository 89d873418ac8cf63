"""Linux file descriptors on NT handles.

Each Linux fd names an NT handle in the same process. `dup` is NtDuplicateObject: both
handles then name one file object, so they share its position — exactly POSIX's "open
file description". What Linux keeps per description and NT does not (O_APPEND,
O_NONBLOCK, the path it was opened by, a half-read directory) lives in
:class:`OpenFile`, shared by the fds that share the file object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errno import EBADF, EMFILE, LinuxError

O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR = 0o3, 0o0, 0o1, 0o2
O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND = 0o100, 0o200, 0o400, 0o1000, 0o2000
O_NONBLOCK, O_DSYNC, O_DIRECT, O_LARGEFILE = 0o4000, 0o10000, 0o40000, 0o100000
O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_PATH = 0o200000, 0o400000, 0o1000000, 0o2000000, 0o10000000
O_TMPFILE = 0o20000000 | O_DIRECTORY
STATUS_FLAGS = O_APPEND | O_NONBLOCK | O_DSYNC | O_DIRECT | O_NOATIME | O_LARGEFILE
# what F_SETFL may change (Linux's SETFL_MASK): musl adds O_LARGEFILE to every F_SETFL,
# and Linux ignores it, so a pipe's flags stay without it
SETFL_FLAGS = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME

RLIMIT_NOFILE_DEFAULT = 1024


@dataclass
class OpenFile:
    """What Linux keeps per open file description, beside the NT file object."""

    path: str                   # the guest path it was opened by
    flags: int                  # O_* access mode and status flags
    kind: str = "file"          # "file", "directory", "console", "null", "zero", "random", "synthetic",
                                # "pipe", "socket"
    pending_entries: list[Any] = field(default_factory=list)   # dirents that did not fit
    synthetic: bytes = b""      # contents of a /proc file, generated at open
    position: int = 0           # for synthetic files and character devices ntsim models itself
    directory_done: bool = False
    socket: Any = None          # a socket's options (sockets.SocketOptions), for kind "socket"
    inode_key: Any = None       # (volume serial, file id), once a lock was taken through it (locks.py)


@dataclass
class FdEntry:
    handle: int | None          # None for files ntsim models without an NT object
    file: OpenFile
    cloexec: bool = False
    # A FIFO's fd: a handle to its node on the volume, beside the handle to the pipe end
    # (Linux's struct file keeps the inode it was opened from): fstat, fchmod, fchown
    # and futimens reach the node through it.
    node: int | None = None


class FdTable:
    def __init__(self) -> None:
        self.entries: dict[int, FdEntry] = {}
        self.limit = RLIMIT_NOFILE_DEFAULT

    def get(self, fd: int) -> FdEntry:
        entry = self.entries.get(fd)
        if entry is None:
            raise LinuxError(EBADF, f"fd {fd}")
        return entry

    def lowest_free(self, minimum: int = 0) -> int:
        fd = minimum
        while fd in self.entries:
            fd += 1
        if fd >= self.limit:
            raise LinuxError(EMFILE)
        return fd

    def install(self, entry: FdEntry, fd: int | None = None, minimum: int = 0) -> int:
        fd = self.lowest_free(minimum) if fd is None else fd
        self.entries[fd] = entry
        return fd

    def remove(self, fd: int) -> FdEntry:
        entry = self.entries.pop(fd, None)
        if entry is None:
            raise LinuxError(EBADF, f"fd {fd}")
        return entry

    def __contains__(self, fd: int) -> bool:
        return fd in self.entries

    def items(self):
        return sorted(self.entries.items())
