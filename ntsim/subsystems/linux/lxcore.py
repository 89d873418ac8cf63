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

import os
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


# --- pidfd ---------------------------------------------------------------------------------------

PIDFD_NONBLOCK = 0o4000


class PidFd(LxFile):
    """pidfd_open(2): a file that names one process. It is readable (POLLIN) once the
    process has exited — it waits on the NT process object, which is signalled then."""

    name = "anon_inode:[pidfd]"

    def __init__(self, process: Any) -> None:
        super().__init__()
        self.process = process

    def can_read(self) -> bool:
        return not self.process.alive

    def readiness(self, read: bool, write: bool) -> Readiness:
        exited = not self.process.alive
        return Readiness(readable=exited, writable=False, hangup=exited, wait_read=(self.process,),
                         wait_closed=(self.process,))


def sys_pidfd_open(task: Task, pid: int, flags: int) -> int:
    from .errno import ESRCH
    from .task import LinuxProcess

    if flags & ~PIDFD_NONBLOCK or pid & 0x80000000 or pid == 0:
        raise LinuxError(EINVAL, f"pid {pid}, flags {flags:#x}")
    process = task.kernel.processes.get(pid)
    if process is None or not isinstance(process.data, LinuxProcess) or not process.alive:
        raise LinuxError(ESRCH, f"no process {pid}")
    return install(task, PidFd(process), "pidfd", flags & PIDFD_NONBLOCK, True)


def pidfd_process(task: Task, fd: int) -> Any:
    from .errno import EBADF

    entry = task.lx.fds.get(fd & 0xFFFFFFFF)
    obj = object_of(task, entry) if entry.file.kind == "lxcore" else None
    if not isinstance(obj, PidFd):
        raise LinuxError(EBADF if entry is None else EINVAL, "not a pidfd")
    return obj.process


def sys_pidfd_send_signal(task: Task, pidfd: int, signal: int, info: int, flags: int) -> int:
    from . import signals
    from .errno import ESRCH

    if flags:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    process = pidfd_process(task, pidfd)
    if info:
        raise LinuxError(EINVAL, "a siginfo_t to send is not modelled (pass NULL)")
    if not process.alive:
        raise LinuxError(ESRCH, "the process has exited")
    signals._check_signal(signal)
    if signal:
        signals.generate(process.data, None, signals._user_info(task, signal))
    return 0


# --- timerfd -------------------------------------------------------------------------------------

TFD_NONBLOCK, TFD_CLOEXEC, TFD_TIMER_ABSTIME = 0o4000, 0o2000000, 1
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = 0, 1, 7
ITIMERSPEC = struct.Struct("<qqqq")      # it_interval, it_value (timespecs)


class TimerFd(LxFile):
    """timerfd_create(2): a timer whose expirations are read as a count. Armed, it is a
    dispatcher timer (a KTIMER with its DPC) that counts and wakes the readers."""

    name = "anon_inode:[timerfd]"

    def __init__(self, clock: int) -> None:
        super().__init__()
        self.clock = clock
        self.expirations = 0
        self.deadline_ns: int | None = None      # on the monotonic clock
        self.interval_ns = 0
        self.timer: Any = None

    def can_read(self) -> bool:
        return self.expirations > 0

    def _now(self) -> int:
        return self.kernel.clock.monotonic_ns()

    def arm(self, value_ns: int, interval_ns: int) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.expirations = 0
        self.interval_ns = interval_ns
        self.deadline_ns = None if value_ns == 0 else self._now() + value_ns
        if self.deadline_ns is not None:
            self.timer = self.kernel.dispatcher.set_timer(self.deadline_ns - self._now(), self._fire)
        self.changed()

    def _fire(self) -> None:
        self.expirations += 1
        if self.interval_ns:
            now = self._now()
            while self.deadline_ns + self.interval_ns <= now:     # missed periods count too
                self.deadline_ns += self.interval_ns
                self.expirations += 1
            self.deadline_ns += self.interval_ns
            self.timer = self.kernel.dispatcher.set_timer(self.deadline_ns - self._now(), self._fire)
        else:
            self.deadline_ns, self.timer = None, None
        self.changed(again=True)

    def remaining(self) -> tuple[int, int]:
        if self.deadline_ns is None:
            return 0, self.interval_ns
        return max(1, self.deadline_ns - self._now()), self.interval_ns

    def read(self, task: Task, count: int, nonblocking: bool) -> bytes:
        if count < 8:
            raise LinuxError(EINVAL, "a timerfd is read 8 bytes at a time")
        if not self.expirations:
            raise self.wait_readable(task, count, nonblocking)
        value, self.expirations = self.expirations, 0
        self.changed()
        return struct.pack("<Q", value)

    def closed(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _timespec_ns(seconds: int, nanoseconds: int) -> int:
    if seconds < 0 or not 0 <= nanoseconds < 1_000_000_000:
        raise LinuxError(EINVAL, "a timespec out of range")
    return seconds * 1_000_000_000 + nanoseconds


def _pack_itimerspec(value_ns: int, interval_ns: int) -> bytes:
    return ITIMERSPEC.pack(interval_ns // 10**9, interval_ns % 10**9, value_ns // 10**9, value_ns % 10**9)


def sys_timerfd_create(task: Task, clockid: int, flags: int) -> int:
    if clockid not in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME):
        raise LinuxError(EINVAL, f"clock {clockid} (real-time, monotonic and boot-time clocks are modelled)")
    if flags & ~(TFD_NONBLOCK | TFD_CLOEXEC):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    return install(task, TimerFd(clockid), "timerfd", flags & TFD_NONBLOCK, bool(flags & TFD_CLOEXEC))


def _timerfd(task: Task, fd: int) -> TimerFd:
    entry = task.lx.fds.get(fd & 0xFFFFFFFF)
    obj = object_of(task, entry) if entry.file.kind == "lxcore" else None
    if not isinstance(obj, TimerFd):
        raise LinuxError(EINVAL, "not a timerfd")
    return obj


def sys_timerfd_settime(task: Task, fd: int, flags: int, new_value: int, old_value: int) -> int:
    timer = _timerfd(task, fd)
    if flags & ~(TFD_TIMER_ABSTIME | 2):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    interval_s, interval_ns, value_s, value_ns = ITIMERSPEC.unpack(task.read(new_value, ITIMERSPEC.size))
    interval, value = _timespec_ns(interval_s, interval_ns), _timespec_ns(value_s, value_ns)
    if old_value:
        task.write(old_value, _pack_itimerspec(*timer.remaining()))
    if value and flags & TFD_TIMER_ABSTIME:
        clock = task.kernel.clock
        now = clock.now_ns() if timer.clock == CLOCK_REALTIME else clock.monotonic_ns()
        value = max(1, value - now)
    timer.arm(value, interval)
    return 0


def sys_timerfd_gettime(task: Task, fd: int, curr_value: int) -> int:
    task.write(curr_value, _pack_itimerspec(*_timerfd(task, fd).remaining()))
    return 0


# --- inotify -------------------------------------------------------------------------------------

IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
_libc: Any = None


def _host_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Inotify(LxFile):
    """inotify_init1(2): change events on watched files and directories.

    The files are the volume's, and the volume's files are the host's: a change may come
    from a guest or from any host program (`tail -f` following a log another program
    writes). So the watches are the host's own — an inotify instance of the host, whose
    descriptor the dispatcher's host-input watch listens on — set on the host paths the
    volume resolves the guest's paths to (never outside the root). The events read are
    Linux's, with the watch descriptors this instance gave out. (An NT file system tells
    the same through NtNotifyChangeDirectoryFile; a Linux host's inotify is where that
    information comes from here.)"""

    name = "anon_inode:inotify"

    def __init__(self) -> None:
        super().__init__()
        import ctypes

        self.host_fd = _host_libc().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.host_fd < 0:
            raise LinuxError(ctypes.get_errno(), "the host has no inotify instance to give")
        self.watching = False

    def _pending(self) -> bool:
        import select

        return bool(select.select([self.host_fd], [], [], 0)[0])

    def can_read(self) -> bool:
        return self.host_fd >= 0 and self._pending()

    def _watch(self) -> None:
        if self.watching or self.kernel is None:
            return
        self.watching = True

        def arrived() -> None:
            self.kernel.dispatcher.unwatch_host_input(self.host_fd)
            self.watching = False
            self.readable.signalled = True
            self.kernel.dispatcher.signal(self.readable)
            self.readable.signalled = False

        self.kernel.dispatcher.watch_host_input(self.host_fd, arrived)

    def readiness(self, read: bool, write: bool) -> Readiness:
        ready = self.can_read()
        if read and not ready:
            self._watch()
        return Readiness(readable=ready, writable=False, wait_read=(self.readable,))

    def changed(self, again: bool = False) -> None:
        pass                        # readiness is the host descriptor's, asked each time

    def read(self, task: Task, count: int, nonblocking: bool) -> bytes:
        try:
            return os.read(self.host_fd, count)
        except BlockingIOError:
            if nonblocking:
                raise LinuxError(EAGAIN) from None
            self._watch()
            raise WaitPending([self.readable], lambda _status: self.read(task, count, nonblocking),
                              reason="inotify") from None
        except OSError as error:
            raise LinuxError(error.errno, "inotify read") from None

    def add(self, host_path: str, mask: int) -> int:
        import ctypes

        wd = _host_libc().inotify_add_watch(self.host_fd, os.fsencode(host_path), mask & 0xFFFFFFFF)
        if wd < 0:
            raise LinuxError(ctypes.get_errno(), "inotify_add_watch")
        return wd

    def remove(self, wd: int) -> None:
        import ctypes

        if _host_libc().inotify_rm_watch(self.host_fd, wd) < 0:
            raise LinuxError(ctypes.get_errno(), "inotify_rm_watch")

    def closed(self) -> None:
        if self.watching:
            self.kernel.dispatcher.unwatch_host_input(self.host_fd)
        if self.host_fd >= 0:
            os.close(self.host_fd)
            self.host_fd = -1


def sys_inotify_init1(task: Task, flags: int) -> int:
    if flags & ~(IN_NONBLOCK | IN_CLOEXEC):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    return install(task, Inotify(), "inotify", flags & IN_NONBLOCK, bool(flags & IN_CLOEXEC))


def sys_inotify_init(task: Task) -> int:
    return sys_inotify_init1(task, 0)


def _inotify(task: Task, fd: int) -> Inotify:
    entry = task.lx.fds.get(fd & 0xFFFFFFFF)
    obj = object_of(task, entry) if entry.file.kind == "lxcore" else None
    if not isinstance(obj, Inotify):
        raise LinuxError(EINVAL, "not an inotify instance")
    return obj


IN_DONT_FOLLOW, IN_ONLYDIR = 0x02000000, 0x01000000


def sys_inotify_add_watch(task: Task, fd: int, pathname: int, mask: int) -> int:
    from .files import FILE_READ_ATTRIBUTES, file_object, guest_path, nt_open

    instance = _inotify(task, fd)
    path = guest_path(task, -100, task.read_string(pathname))
    # the volume resolves the name (links inside the root only): the host path it found
    options = 0x00200000 if mask & IN_DONT_FOLLOW else 0      # FILE_OPEN_REPARSE_POINT
    handle = nt_open(task, path, FILE_READ_ATTRIBUTES, 1, options)
    try:
        host_path = file_object(task, handle).context.host_path
    finally:
        task.nt.NtClose(handle)
    return instance.add(host_path, mask | IN_DONT_FOLLOW)


def sys_inotify_rm_watch(task: Task, fd: int, wd: int) -> int:
    _inotify(task, fd).remove(wd & 0xFFFFFFFF)
    return 0


# --- signalfd ------------------------------------------------------------------------------------

SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
SIGNALFD_SIGINFO = struct.Struct("<IiiIIiIIIIiiQQQQ")     # 80 bytes, padded to 128


class SignalFd(LxFile):
    """signalfd(2): the signals of a set that are pending for the reader, read as
    signalfd_siginfo records instead of delivered (the program keeps them blocked)."""

    name = "anon_inode:[signalfd]"

    def __init__(self, lx: Any, mask: int) -> None:
        super().__init__()
        self.lx, self.mask = lx, mask

    def _pending(self) -> int:
        from .signals import _tasks, bit

        queues = [self.lx.pending_signals] + [task.pending_signals for task in _tasks(self.lx)]
        bits = 0
        for queue in queues:
            for signal in queue:
                bits |= bit(signal)
        return bits & self.mask

    def can_read(self) -> bool:
        return bool(self._pending())

    def read(self, task: Task, count: int, nonblocking: bool) -> bytes:
        from .signals import _dequeue

        if count < 128:
            raise LinuxError(EINVAL, "a signalfd is read 128 bytes at a time")
        records = b""
        while len(records) + 128 <= count:
            info = _dequeue(task, self.mask)
            if info is None:
                break
            records += SIGNALFD_SIGINFO.pack(
                info.signo, info.errno, info.code, info.pid & 0xFFFFFFFF, info.uid, 0, 0, 0, 0,
                info.trapno, info.status, info.value & 0x7FFFFFFF, info.value, 0, 0,
                info.addr or 0).ljust(128, b"\0")
        self.changed()
        if not records:
            raise self.wait_readable(task, count, nonblocking)
        return records

    def closed(self) -> None:
        listeners = getattr(self.lx, "signalfds", [])
        if self in listeners:
            listeners.remove(self)


def signal_queued(lx: Any) -> None:
    """signals.generate queued a signal: the process's signalfds may have become readable."""
    for listener in getattr(lx, "signalfds", ()):
        listener.changed(again=True)


def sys_signalfd4(task: Task, fd: int, mask: int, sizemask: int, flags: int) -> int:
    from .signals import UNBLOCKABLE

    if sizemask != 8 or flags & ~(SFD_NONBLOCK | SFD_CLOEXEC):
        raise LinuxError(EINVAL, f"sizemask {sizemask}, flags {flags:#x}")
    bits = task.read_u64(mask) & ~UNBLOCKABLE
    fd = fd & 0xFFFFFFFF
    fd = fd - (1 << 32) if fd & 0x80000000 else fd
    if fd != -1:
        entry = task.lx.fds.get(fd)
        obj = object_of(task, entry) if entry.file.kind == "lxcore" else None
        if not isinstance(obj, SignalFd):
            raise LinuxError(EINVAL, "not a signalfd")
        obj.mask = bits
        obj.changed()
        return fd
    listener = SignalFd(task.lx, bits)
    if not hasattr(task.lx, "signalfds"):
        task.lx.signalfds = []
    task.lx.signalfds.append(listener)
    return install(task, listener, "signalfd", flags & SFD_NONBLOCK, bool(flags & SFD_CLOEXEC))


def sys_signalfd(task: Task, fd: int, mask: int, sizemask: int) -> int:
    return sys_signalfd4(task, fd, mask, sizemask, 0)
