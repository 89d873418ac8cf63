"""File locks: flock, POSIX record locks (F_SETLK...) and open-file-description locks.

NT has byte-range locks too (NtLockFile, FsRtl's file lock), but they are mandatory —
a locked range refuses other handles' reads and writes — and belong to a handle and a
key. Linux's are advisory, and have three owners NT knows nothing of:

  * flock(2): a whole-file lock owned by the *open file description* (dup and fork
    share it; it goes when the description's last fd closes);
  * POSIX record locks (fcntl F_SETLK, F_SETLKW, F_GETLK): byte ranges owned by the
    *process* — not inherited by a fork child, and all of them on a file dropped when
    the process closes *any* fd on that file;
  * OFD locks (F_OFD_SETLK...): byte ranges owned by the open file description, as
    flock's are.

So, as lxcore did, the provider keeps its own table, one entry per locked inode (the
volume's serial number and file id). A blocking request (LOCK_EX without LOCK_NB,
F_SETLKW) parks the thread on the inode's NT notification event, which is pulsed each
time a lock there goes; the woken thread tries again. A signal interrupts the wait
(EINTR, or a restart under SA_RESTART, as Linux's fcntl and flock do). Before a POSIX
request waits, the chain of processes waiting for one another is followed: a request
that would close a cycle fails with EDEADLK, as Linux's posix_locks_deadlock.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ...kernel.dispatcher import WaitPending
from ...kernel.io import FilePositionInformation
from ...kernel.processes import Event
from ...kernel.status import NtStatusError
from .errno import EAGAIN, EBADF, EDEADLK, EINVAL, LinuxError
from .fdtable import O_ACCMODE, O_RDONLY, O_WRONLY, FdEntry, OpenFile
from .task import LinuxProcess, Task

LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
FCNTL_COMMANDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
OFFSET_MAX = (1 << 63) - 1
FLOCK = struct.Struct("<hh4xqqi4x")      # struct flock: l_type l_whence l_start l_len l_pid
LOCKABLE = ("file", "directory")


@dataclass
class RangeLock:
    owner: Any                 # a LinuxProcess (POSIX) or an OpenFile (OFD)
    start: int
    end: int                   # inclusive; OFFSET_MAX: to the end of the file, however long
    exclusive: bool

    def overlaps(self, start: int, end: int) -> bool:
        return self.start <= end and start <= self.end


@dataclass
class InodeLocks:
    """The locks on one file, and the event their waiters sleep on."""

    flocks: dict[int, tuple[OpenFile, bool]] = field(default_factory=dict)   # id(desc) -> (desc, exclusive)
    ranges: list[RangeLock] = field(default_factory=list)
    changed: Event = field(default_factory=lambda: Event("file lock"))

    @property
    def empty(self) -> bool:
        return not self.flocks and not self.ranges


class LockTable:
    """Every lock of the machine's Linux processes (the personality keeps one)."""

    def __init__(self) -> None:
        self.inodes: dict[tuple[int, int], InodeLocks] = {}
        # a POSIX owner's blocked request: owner -> (inode, start, end, exclusive)
        self.waiting: dict[int, tuple[InodeLocks, int, int, bool]] = {}

    def inode(self, key: tuple[int, int]) -> InodeLocks:
        locks = self.inodes.get(key)
        if locks is None:
            locks = self.inodes[key] = InodeLocks()
        return locks

    def changed(self, kernel: Any, key: tuple[int, int]) -> None:
        """Some lock on the file went: wake its waiters (they try again), and forget an
        inode nobody locks."""
        locks = self.inodes.get(key)
        if locks is None:
            return
        event = locks.changed
        if event.wait_blocks:
            event.signalled = True
            kernel.dispatcher.signal(event)
            event.signalled = False
        if locks.empty and not event.wait_blocks:
            del self.inodes[key]


def table_of(task: Task) -> LockTable:
    return task.thread.process.personality.locks


def _key(task: Task, entry: FdEntry) -> tuple[int, int]:
    """The inode an fd names: the volume's serial number and the file's id."""
    if entry.file.inode_key is None:
        from .files import stat_of_fd_entry

        info = stat_of_fd_entry(task, entry)
        entry.file.inode_key = (info.VolumeSerialNumber, info.FileId)
    return entry.file.inode_key


def _park(task: Task, locks: InodeLocks, retry, reason: str, on_cancel=None) -> WaitPending:
    pending = WaitPending([locks.changed], lambda _status: retry(), reason=reason)
    if on_cancel is not None:
        pending.on_cancel.append(on_cancel)
    return pending


# --- flock -------------------------------------------------------------------------------------


def sys_flock(task: Task, fd: int, operation: int) -> int:
    entry = task.lx.fds.get(fd)
    kind = operation & ~LOCK_NB
    if kind not in (LOCK_SH, LOCK_EX, LOCK_UN):
        raise LinuxError(EINVAL, f"operation {operation:#x}")
    if entry.file.kind not in LOCKABLE and entry.handle is None:
        raise LinuxError(EINVAL, "this file cannot be locked")
    table = table_of(task)
    key = _key(task, entry)
    description = entry.file
    locks = table.inode(key)
    held = locks.flocks.get(id(description))
    if kind == LOCK_UN:
        if held is not None:
            del locks.flocks[id(description)]
        table.changed(task.kernel, key)
        return 0
    exclusive = kind == LOCK_EX
    if held is not None:
        if held[1] == exclusive:
            return 0
        # a conversion is not atomic on Linux: the old lock goes first (and its waiters wake)
        del locks.flocks[id(description)]
        table.changed(task.kernel, key)
        locks = table.inode(key)

    def attempt() -> int:
        current = table.inode(key)
        if any(other is not description and (exclusive or other_exclusive)
               for other, other_exclusive in current.flocks.values()):
            if operation & LOCK_NB:
                raise LinuxError(EAGAIN, "locked by another open file")
            raise _park(task, current, attempt, "flock")
        current.flocks[id(description)] = (description, exclusive)
        return 0

    return attempt()


# --- POSIX and OFD record locks ---------------------------------------------------------------


def fcntl(task: Task, entry: FdEntry, cmd: int, arg: int) -> int:
    ofd = cmd in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
    l_type, whence, start, length, pid = FLOCK.unpack(task.read(arg, FLOCK.size))
    if l_type not in (F_RDLCK, F_WRLCK, F_UNLCK):
        raise LinuxError(EINVAL, f"l_type {l_type}")
    if ofd and pid != 0:
        raise LinuxError(EINVAL, "an OFD lock's l_pid must be 0")
    first, last = _range(task, entry, whence, start, length)
    owner = entry.file if ofd else task.lx
    if cmd in (F_GETLK, F_OFD_GETLK):
        if l_type == F_UNLCK:
            raise LinuxError(EINVAL, "F_GETLK with F_UNLCK")
        locks = table_of(task).inodes.get(_key(task, entry))
        blocker = _conflict(locks, owner, first, last, l_type == F_WRLCK) if locks else None
        if blocker is None:
            task.write(arg, FLOCK.pack(F_UNLCK, whence, start, length, pid))
        else:
            task.write(arg, FLOCK.pack(
                F_WRLCK if blocker.exclusive else F_RDLCK, SEEK_SET, blocker.start,
                0 if blocker.end == OFFSET_MAX else blocker.end - blocker.start + 1,
                -1 if isinstance(blocker.owner, OpenFile) else blocker.owner.process.pid))
        return 0
    access = entry.file.flags & O_ACCMODE
    if (l_type == F_RDLCK and access == O_WRONLY) or (l_type == F_WRLCK and access == O_RDONLY):
        raise LinuxError(EBADF, "the fd's access mode does not allow this lock")
    return _set(task, entry, owner, first, last, l_type, cmd in (F_SETLKW, F_OFD_SETLKW))


def _range(task: Task, entry: FdEntry, whence: int, start: int, length: int) -> tuple[int, int]:
    if whence == SEEK_CUR:
        start += task.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)
    elif whence == SEEK_END:
        from .files import stat_of_fd_entry

        start += stat_of_fd_entry(task, entry).EndOfFile
    elif whence != SEEK_SET:
        raise LinuxError(EINVAL, f"l_whence {whence}")
    if length > 0:
        first, last = start, start + length - 1
    elif length == 0:
        first, last = start, OFFSET_MAX
    else:
        first, last = start + length, start - 1
    if first < 0:
        raise LinuxError(EINVAL, "the range starts before the file")
    return first, min(last, OFFSET_MAX)


def _conflict(locks: InodeLocks, owner: Any, first: int, last: int, exclusive: bool) -> RangeLock | None:
    for lock in locks.ranges:
        if lock.owner is not owner and lock.overlaps(first, last) and (exclusive or lock.exclusive):
            return lock
    return None


def _set(task: Task, entry: FdEntry, owner: Any, first: int, last: int, l_type: int, wait: bool) -> int:
    table = table_of(task)
    key = _key(task, entry)
    exclusive = l_type == F_WRLCK

    def attempt() -> int:
        locks = table.inode(key)
        if l_type != F_UNLCK:
            blocker = _conflict(locks, owner, first, last, exclusive)
            if blocker is not None:
                if not wait:
                    raise LinuxError(EAGAIN, "the range is locked")
                if isinstance(owner, LinuxProcess) and _would_deadlock(table, owner, blocker):
                    raise LinuxError(EDEADLK, "waiting would close a cycle of waiting processes")
                if isinstance(owner, LinuxProcess):
                    table.waiting[id(owner)] = (locks, first, last, exclusive)
                raise _park(task, locks, attempt, "fcntl lock",
                            lambda: table.waiting.pop(id(owner), None))
        table.waiting.pop(id(owner), None)
        _replace(locks, owner, first, last, None if l_type == F_UNLCK else exclusive)
        table.changed(task.kernel, key)
        return 0

    return attempt()


def _replace(locks: InodeLocks, owner: Any, first: int, last: int, exclusive: bool | None) -> None:
    """The owner's locks over [first, last] become one of the new kind (or none): what
    is outside the range stays, split where the range cuts a lock, and neighbours of the
    same kind merge (as Linux's posix_lock_inode does)."""
    kept: list[RangeLock] = []
    for lock in locks.ranges:
        if lock.owner is not owner or not lock.overlaps(first, last):
            kept.append(lock)
            continue
        if lock.start < first:
            kept.append(RangeLock(owner, lock.start, first - 1, lock.exclusive))
        if lock.end > last:
            kept.append(RangeLock(owner, last + 1, lock.end, lock.exclusive))
    if exclusive is not None:
        new = RangeLock(owner, first, last, exclusive)
        for lock in list(kept):
            if lock.owner is owner and lock.exclusive == exclusive and (
                    lock.end + 1 >= new.start and new.end + 1 >= lock.start):
                kept.remove(lock)
                new = RangeLock(owner, min(lock.start, new.start), max(lock.end, new.end), exclusive)
        kept.append(new)
    locks.ranges = sorted(kept, key=lambda lock: lock.start)


def _would_deadlock(table: LockTable, owner: LinuxProcess, blocker: RangeLock) -> bool:
    """Follow who the blocker waits for, and who that one waits for...: back to `owner`?"""
    seen = 0
    while isinstance(blocker.owner, LinuxProcess) and seen < 64:
        if blocker.owner is owner:
            return True
        waits = table.waiting.get(id(blocker.owner))
        if waits is None:
            return False
        locks, first, last, exclusive = waits
        blocker = _conflict(locks, blocker.owner, first, last, exclusive)
        if blocker is None:
            return False
        seen += 1
    return False


# --- when fds close and processes end ----------------------------------------------------------


def holds_record_locks(task: Task) -> bool:
    """Does the process own a POSIX lock anywhere (then every close must look)?"""
    lx = task.lx
    return any(lock.owner is lx for locks in table_of(task).inodes.values() for lock in locks.ranges)


def fd_closing(task: Task, entry: FdEntry) -> None:
    """close(2) of an fd: the process's POSIX locks on the file go (all of them, whatever
    fd took them); the description's flock and OFD locks go with its last fd."""
    if entry.file.inode_key is None and entry.file.kind not in LOCKABLE:
        return
    try:
        key = _key(task, entry)
    except (LinuxError, NtStatusError):
        return
    table = table_of(task)
    locks = table.inodes.get(key)
    if locks is None:
        return
    _replace_all(locks, task.lx)
    if not _still_open(task.kernel, entry.file, closing=entry):
        _drop_description(locks, entry.file)
    table.changed(task.kernel, key)


def process_exiting(process: Any) -> None:
    """The process ended: its POSIX locks go, and every description it was the last to
    hold loses its flock and OFD locks."""
    table, lx, kernel = process.personality.locks, process.data, process.personality.kernel
    if not table.inodes:
        return
    for key, locks in list(table.inodes.items()):
        touched = _replace_all(locks, lx)
        for desc, _ in list(locks.flocks.values()):
            if any(e.file is desc for _, e in lx.fds.items()) and not _still_open(kernel, desc, exclude=lx):
                _drop_description(locks, desc)
                touched = True
        for lock in list(locks.ranges):
            if isinstance(lock.owner, OpenFile) and any(e.file is lock.owner for _, e in lx.fds.items()) \
                    and not _still_open(kernel, lock.owner, exclude=lx):
                _drop_description(locks, lock.owner)
                touched = True
        if touched:
            table.changed(kernel, key)
    table.waiting.pop(id(lx), None)


def _replace_all(locks: InodeLocks, owner: Any) -> bool:
    before = len(locks.ranges)
    locks.ranges = [lock for lock in locks.ranges if lock.owner is not owner]
    return len(locks.ranges) != before


def _drop_description(locks: InodeLocks, description: OpenFile) -> None:
    locks.flocks.pop(id(description), None)
    _replace_all(locks, description)


def _still_open(kernel: Any, description: OpenFile, closing: FdEntry | None = None,
                exclude: LinuxProcess | None = None) -> bool:
    """Does any fd of a live Linux process, other than the one closing, name it?"""
    for process in kernel.processes.values():
        lx = process.data
        if not isinstance(lx, LinuxProcess) or lx is exclude or not process.alive:
            continue
        for _, entry in lx.fds.items():
            if entry.file is description and entry is not closing:
                return True
    return False
