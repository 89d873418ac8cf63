"""A POSIX process's descriptor table, as PSXSS keeps it: fd -> NT handle + flags.

Each descriptor names an *open file description* (POSIX.1's term: the file's status
flags — O_APPEND, O_NONBLOCK, the access mode — and its kind), shared by the descriptors
dup() and fork() make, and an NT handle in the client process (its own for every fd:
dup is NtDuplicateObject, so two fds are two handles to one file object, which is where
the file position lives). FD_CLOEXEC belongs to the descriptor alone.

A terminal descriptor has no handle in the client: its I/O goes to the console host
over LPC (see console.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errno import EBADF, EINVAL, EMFILE, PosixError

OPEN_MAX = 64                 # _SC_OPEN_MAX, as PSXSS reports it

FILE, DIRECTORY, PIPE, TERMINAL, NULL = "file", "directory", "pipe", "terminal", "null"
KINDS = (FILE, DIRECTORY, PIPE, TERMINAL, NULL)
KIND_NUMBERS = {kind: number for number, kind in enumerate(KINDS)}   # as the reply carries it


@dataclass
class OpenFile:
    """An open file description: kind, status flags (O_ACCMODE | O_APPEND | O_NONBLOCK)
    and the path it was opened by (for ttyname and the trace)."""

    kind: str
    flags: int
    path: str = ""


@dataclass
class Descriptor:
    handle: int | None            # the client's NT handle (None: a terminal)
    file: OpenFile
    cloexec: bool = False


@dataclass
class DescriptorTable:
    entries: dict[int, Descriptor] = field(default_factory=dict)
    limit: int = OPEN_MAX

    def get(self, fd: int) -> Descriptor:
        entry = self.entries.get(fd)
        if entry is None:
            raise PosixError(EBADF, f"fd {fd} is not open")
        return entry

    def lowest_free(self, minimum: int = 0) -> int:
        """POSIX.1: open, dup, pipe and F_DUPFD take the lowest free number (>= minimum)."""
        if not 0 <= minimum < self.limit:
            raise PosixError(EINVAL, f"{minimum} is outside 0..{self.limit - 1}")
        for fd in range(minimum, self.limit):
            if fd not in self.entries:
                return fd
        raise PosixError(EMFILE, f"all {self.limit} descriptors are open")

    def install(self, descriptor: Descriptor, fd: int | None = None, minimum: int = 0) -> int:
        if fd is None:
            fd = self.lowest_free(minimum)
        elif not 0 <= fd < self.limit:
            raise PosixError(EBADF, f"fd {fd} is outside 0..{self.limit - 1}")
        self.entries[fd] = descriptor
        return fd

    def remove(self, fd: int) -> Descriptor:
        entry = self.get(fd)
        del self.entries[fd]
        return entry

    def forked(self) -> DescriptorTable:
        """The child's table after fork: the same numbers, the same handle values (the
        child's handle table is a copy of the parent's), sharing each open file."""
        return DescriptorTable({fd: Descriptor(d.handle, d.file, d.cloexec)
                                for fd, d in self.entries.items()}, self.limit)

    def close_on_exec(self) -> list[Descriptor]:
        """exec closes the FD_CLOEXEC descriptors: returns them (their handles to close)."""
        closing = [fd for fd, d in self.entries.items() if d.cloexec]
        return [self.entries.pop(fd) for fd in closing]

    def __contains__(self, fd: int) -> bool:
        return fd in self.entries

    def __len__(self) -> int:
        return len(self.entries)
