"""`\\Device\\lxcore`: the files Linux has and NT has no driver for.

An eventfd, a timerfd, a signalfd, an inotify instance, a listening AF_UNIX socket:
each is a file a Linux program reads, polls and closes like any other, and none is
anything NT's I/O manager knows. WSL1's lxcore kept such files itself, as its own file
objects. Here the pico provider registers one device, `\\Device\\lxcore`, and every such
file is a file object on it (`NtCreateFile("\\Device\\lxcore\\eventfd")`), whose context
is the Linux object (an :class:`LxFile`). So handles, dup, fork, close and the trace
work as for every file, and poll/select/epoll ask the device's readiness, as they ask a
pipe's: each object keeps notification events whose state follows its own (readable,
writable), and a waiter parks on them.

Reads and writes reach the object directly from the LXSS handlers (`read`, `write`):
they need the fd's O_NONBLOCK, which lives in the Linux open file description, not in
the NT file object.
"""

from __future__ import annotations

import struct
from typing import Any

from ...kernel.dispatcher import WaitPending, then
from ...kernel.io import (
    FILE_ATTRIBUTE_NORMAL,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
    Device,
    FileObject,
    FileStatLx,
    FileStatLxInformation,
    Readiness,
)
from ...kernel.processes import Event
from ...kernel.status import STATUS_INVALID_INFO_CLASS, NtStatusError
from .errno import EAGAIN, EINVAL, LinuxError
from .fdtable import O_NONBLOCK, FdEntry
from .task import Task

DEVICE_PATH = "\\Device\\lxcore"
FILE_DEVICE_LXCORE = 0x8000      # a device type of the range NT leaves to others
_inodes = iter(range(0x10000, 1 << 62))


class LxFile:
    """A Linux object behind an lxcore file object. `readable` and `writable` are
    notification events that are set exactly while a read or a write would complete;
    `changed()` brings them up to date (and wakes waiters, epoll's watches too)."""

    name = "anon_inode:[lxcore]"          # what /proc/self/fd/N reads

    def __init__(self) -> None:
        self.readable = Event("readable")
        self.writable = Event("writable")
        self.inode = next(_inodes)
        self.kernel: Any = None

    def can_read(self) -> bool:
        return False

    def can_write(self) -> bool:
        return False

    def changed(self, again: bool = False) -> None:
        for event, state in ((self.readable, self.can_read()), (self.writable, self.can_write())):
            was = event.signalled
            event.signalled = state
            if state and (not was or again) and self.kernel is not None:
                self.kernel.dispatcher.signal(event)

    def readiness(self, read: bool, write: bool) -> Readiness:
        return Readiness(readable=self.can_read(), writable=self.can_write(),
                         wait_read=(self.readable,), wait_write=(self.writable,))

    def read(self, task: Task, count: int, nonblocking: bool) -> bytes:
        raise LinuxError(EINVAL, f"{self.name} cannot be read")

    def write(self, task: Task, data: bytes, nonblocking: bool) -> int:
        raise LinuxError(EINVAL, f"{self.name} cannot be written")

    def closed(self) -> None:
        """The last handle went (IRP_MJ_CLEANUP)."""

    def wait_readable(self, task: Task, count: int, nonblocking: bool) -> WaitPending:
        if nonblocking:
            raise LinuxError(EAGAIN)
        return WaitPending([self.readable], lambda _status: self.read(task, count, nonblocking),
                           reason=self.name)


class LxCoreDevice(Device):
    device_type = FILE_DEVICE_LXCORE

    def __init__(self, kernel: Any) -> None:
        super().__init__()
        self.kernel = kernel

    def create(self, file: FileObject, request) -> None:
        file.context = None              # the provider puts its object there (`open_object`)

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        return file.context.readiness(read, write)

    def query_information(self, file: FileObject, info_class: int) -> Any:
        if info_class != FileStatLxInformation:
            raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"class {info_class}")
        now = self.kernel.clock.now_ns()
        nt_now = self.kernel.clock.nt_time()
        return FileStatLx(FileId=file.context.inode, CreationTime=nt_now, LastAccessTime=nt_now,
                          LastWriteTime=nt_now, ChangeTime=nt_now, AllocationSize=0, EndOfFile=0,
                          FileAttributes=FILE_ATTRIBUTE_NORMAL, NumberOfLinks=1,
                          LxMode=0o600, LxUid=0, LxGid=0, VolumeSerialNumber=0xE,
                          AccessTimeNs=now, WriteTimeNs=now, ChangeTimeNs=now)

    def cleanup(self, file: FileObject) -> None:
        if file.context is not None:
            file.context.closed()


def device(kernel: Any) -> LxCoreDevice:
    """The device, registered on first use (as a pico provider's driver loads)."""
    try:
        found = kernel.objects.lookup(DEVICE_PATH)
    except NtStatusError:
        found = None
    if isinstance(found, LxCoreDevice):
        return found
    return kernel.objects.insert(DEVICE_PATH, LxCoreDevice(kernel), permanent=True)


def open_object(task: Task, obj: LxFile, kind: str) -> int:
    """A handle to a new lxcore file object for `obj` (`kind` names it in the trace)."""
    device(task.kernel)
    handle = task.nt.NtCreateFile(f"{DEVICE_PATH}\\{kind}", FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE, 1)
    obj.kernel = task.kernel
    task.thread.process.handles.lookup(handle, FileObject).context = obj
    obj.changed()
    return handle


def object_of(task: Task, entry: FdEntry) -> LxFile:
    return task.thread.process.handles.lookup(entry.handle, FileObject).context


def read(task: Task, entry: FdEntry, count: int, post):
    obj = object_of(task, entry)
    nonblocking = bool(entry.file.flags & O_NONBLOCK)
    return then(lambda: obj.read(task, count, nonblocking), post)


def write(task: Task, entry: FdEntry, data: bytes) -> int:
    return object_of(task, entry).write(task, data, bool(entry.file.flags & O_NONBLOCK))


# --- eventfd -----------------------------------------------------------------------------------

EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC = 1, 0o4000, 0o2000000
EVENTFD_MAX = 0xFFFFFFFFFFFFFFFE


class EventFd(LxFile):
    """eventfd(2): a 64-bit counter. A read takes it all (or one, EFD_SEMAPHORE) and waits
    while it is zero; a write adds and waits while the sum would pass 2^64 - 2."""

    name = "anon_inode:[eventfd]"

    def __init__(self, initial: int, semaphore: bool) -> None:
        super().__init__()
        self.count, self.semaphore = initial, semaphore

    def can_read(self) -> bool:
        return self.count > 0

    def can_write(self) -> bool:
        return self.count < EVENTFD_MAX

    def read(self, task: Task, count: int, nonblocking: bool) -> bytes:
        if count < 8:
            raise LinuxError(EINVAL, "an eventfd is read 8 bytes at a time")
        if not self.count:
            raise self.wait_readable(task, count, nonblocking)
        value = 1 if self.semaphore else self.count
        self.count -= value
        self.changed()
        return struct.pack("<Q", value)

    def write(self, task: Task, data: bytes, nonblocking: bool) -> int:
        if len(data) < 8:
            raise LinuxError(EINVAL, "an eventfd is written 8 bytes at a time")
        value = struct.unpack_from("<Q", data)[0]
        if value == 0xFFFFFFFFFFFFFFFF:
            raise LinuxError(EINVAL, "0xffffffffffffffff cannot be added")
        if self.count + value > EVENTFD_MAX:
            if nonblocking:
                raise LinuxError(EAGAIN)
            raise WaitPending([self.writable], lambda _status: self.write(task, data, nonblocking),
                              reason=self.name)
        self.count += value
        self.changed(again=True)        # every write wakes the readers (and epoll's edge)
        return 8


def sys_eventfd2(task: Task, initval: int, flags: int) -> int:
    if flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    return install(task, EventFd(initval & 0xFFFFFFFF, bool(flags & EFD_SEMAPHORE)), "eventfd",
                   flags & EFD_NONBLOCK, bool(flags & EFD_CLOEXEC))


def sys_eventfd(task: Task, initval: int) -> int:
    return sys_eventfd2(task, initval, 0)


def install(task: Task, obj: LxFile, kind: str, status_flags: int, cloexec: bool) -> int:
    from .fdtable import O_RDWR, OpenFile

    handle = open_object(task, obj, kind)
    try:
        return task.lx.fds.install(FdEntry(handle, OpenFile(obj.name, O_RDWR | status_flags, "lxcore"), cloexec))
    except LinuxError:
        task.nt.NtClose(handle)
        raise
