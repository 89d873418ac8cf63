"""epoll: an interest list and a ready list, kept in the kernel and named by an fd.

WSL1's lxcore implemented epoll itself, as one of its own file types. Here the pico
provider has a device, `\\Device\\lxss` (the name lxcore's device has), and an epoll
instance is a file object opened on it, `\\Device\\lxss\\eventpoll`. Its fd is a handle
like any other, so close, dup, fork and close-on-exec need nothing new, fstat and
/proc/self/fd show it as Linux's anonymous inode, and the last handle's close
(IRP_MJ_CLEANUP) ends the instance. The file object's context is the instance
(:class:`EventPoll`, Linux's struct eventpoll): the interest list keyed by (fd, open file
description) — Linux keys it by (fd, struct file) — and the ready list.

Readiness is the question poll asks of every file (`Device.readiness`, poll.py). What
epoll adds is memory. Each entry *watches* the dispatcher objects its file names
(`Dispatcher.watch`: Linux's ep_poll_callback on the file's wait queue); when one is
signalled, the entry joins the ready list and the instance's event is set. epoll_wait
takes the ready list, asks each entry's file again, and reports what is ready: a
level-triggered entry goes back on the list, an edge-triggered one waits for its next
signal, a one-shot one is disabled until EPOLL_CTL_MOD. An entry whose open file has
closed everywhere leaves the set (Linux's eventpoll_release). With nothing ready, the
thread parks on the instance's event with the call's timeout, as poll does, and a
signal handler ends the wait with EINTR. A pipe signals its data event again on every
write (kernel/fs/pipe.py), as Linux's pipe wakes its readers, so for an edge-triggered
entry each write is a new edge, read or not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ...kernel.dispatcher import Watch
from ...kernel.io import (
    FILE_OPEN,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
    CreateRequest,
    Device,
    FileObject,
    FileStandardInformation,
    FileStatLx,
    FileStatLxInformation,
    Readiness,
    StandardInformation,
)
from ...kernel.processes import Event, NotificationEvent
from ...kernel.status import (
    STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_NAME_NOT_FOUND,
    NtStatusError,
)
from . import poll
from .errno import EBADF, EEXIST, EFAULT, EINVAL, ELOOP, ENOENT, EPERM, LinuxError
from .fdtable import O_CLOEXEC, O_PATH, O_RDWR, FdEntry, OpenFile
from .files import signed32
from .task import LinuxProcess, Task

EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP = 0x1, 0x2, 0x4, 0x8, 0x10
EPOLLRDNORM, EPOLLRDBAND, EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG = 0x40, 0x80, 0x100, 0x200, 0x400
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 29, 1 << 30, 1 << 31
EPOLL_EVENT_NAMES = {EPOLLIN: "EPOLLIN", EPOLLPRI: "EPOLLPRI", EPOLLOUT: "EPOLLOUT",
                     EPOLLERR: "EPOLLERR", EPOLLHUP: "EPOLLHUP", EPOLLRDNORM: "EPOLLRDNORM",
                     EPOLLRDBAND: "EPOLLRDBAND", EPOLLWRNORM: "EPOLLWRNORM",
                     EPOLLWRBAND: "EPOLLWRBAND", EPOLLMSG: "EPOLLMSG", EPOLLRDHUP: "EPOLLRDHUP",
                     EPOLLEXCLUSIVE: "EPOLLEXCLUSIVE", EPOLLWAKEUP: "EPOLLWAKEUP",
                     EPOLLONESHOT: "EPOLLONESHOT", EPOLLET: "EPOLLET"}
# How an entry is to be reported, not what: a disabled one-shot entry keeps only these.
PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
EXCLUSIVE_OK = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLL_CTL_NAMES = {EPOLL_CTL_ADD: "EPOLL_CTL_ADD", EPOLL_CTL_DEL: "EPOLL_CTL_DEL",
                   EPOLL_CTL_MOD: "EPOLL_CTL_MOD"}
EPOLL_CLOEXEC = O_CLOEXEC
EPOLL_EVENT = struct.Struct("<IQ")          # struct epoll_event: packed on x86-64, 12 bytes
EP_MAX_NESTS = 4                             # how deep epoll instances may watch each other
EP_MAX_EVENTS = 0x7FFF_FFFF // EPOLL_EVENT.size
USER_SPACE_END = 0x7FFF_FFFF_F000            # TASK_SIZE: what access_ok lets a pointer reach
# /dev/random is the one file ntsim answers itself that Linux lets epoll watch
# (random_poll: readable once the pool is ready, which it always is here).
RANDOM_READY = EPOLLIN | EPOLLRDNORM

DEVICE_PATH = "\\Device\\lxss"
EVENTPOLL_NAME = "\\eventpoll"
ANON_INODE_PATH = "anon_inode:[eventpoll]"   # what readlink of /proc/self/fd/N shows
ANON_INODE_DEVICE = 14                       # an anonymous device number (anon_inodefs)
ANON_INODE_ID = 1024                         # the one inode every anonymous file shares
ANON_INODE_MODE = 0o600                      # no file type bits: S_IRUSR | S_IWUSR


# --- the instance --------------------------------------------------------------------------------


@dataclass(eq=False)
class Entry:
    """One file in the interest list (Linux's epitem)."""

    fd: int
    description: OpenFile              # the open file description: with fd, the key
    file: FileObject | None            # None for /dev/random, which ntsim answers itself
    events: int                        # asked, with EPOLLERR | EPOLLHUP and the flags
    data: int                          # epoll_data, returned verbatim
    watches: dict[Any, Watch] = field(default_factory=dict)   # dispatcher object -> its watch

    @property
    def key(self) -> tuple[int, int]:
        return self.fd, id(self.description)

    @property
    def nested(self) -> EventPoll | None:
        """The epoll instance this entry watches, if its file is one."""
        return _instance(self.file)


class EventPoll:
    """An epoll instance (struct eventpoll): the context of its file object."""

    def __init__(self, kernel) -> None:
        self.kernel = kernel
        # keyed by (fd, id of the open file description): the entry holds the description,
        # so its id is not reused while the entry lives
        self.entries: dict[tuple[int, int], Entry] = {}
        self.ready: dict[Entry, None] = {}       # the ready list, in order (a set with order)
        # Set when an entry joins the ready list: epoll_wait and poll park on it.
        self.event = Event("", NotificationEvent)
        self.watched_by: list[EventPoll] = []    # instances with an entry for this one

    # --- the interest list ----------------------------------------------------------------

    def insert(self, entry: Entry) -> None:
        """ep_insert: watch the file, and if it is ready now, put it on the ready list."""
        self.entries[entry.key] = entry
        if (nested := entry.nested) is not None:
            nested.watched_by.append(self)
        if self.poll(entry):
            self._make_ready(entry)

    def modify(self, entry: Entry, events: int, data: int) -> None:
        """ep_modify: new events and data; a ready entry goes on the ready list (this is
        what re-arms a one-shot or an edge-triggered entry)."""
        entry.events, entry.data = events, data
        if self.poll(entry):
            self._make_ready(entry)

    def remove(self, entry: Entry) -> None:
        """ep_remove: stop watching, and forget the entry."""
        for watch in entry.watches.values():
            self.kernel.dispatcher.unwatch(watch)
        entry.watches.clear()
        if self.entries.pop(entry.key, None) is not None and (nested := entry.nested) is not None:
            nested.watched_by.remove(self)
        self.ready.pop(entry, None)

    def close(self) -> None:
        """The instance's last handle closed: every watch goes."""
        for entry in list(self.entries.values()):
            self.remove(entry)

    def is_open(self, entry: Entry) -> bool:
        """Whether the entry's open file description is still open in some process. Linux
        removes an entry when its file is released (eventpoll_release); an fd closed
        while another fd (a dup, a fork's copy) still refers to the file keeps it."""
        if entry.file is not None:
            return entry.file.handle_count > 0
        return any(fd_entry.file is entry.description
                   for process in self.kernel.processes.values()
                   if process.alive and isinstance(process.data, LinuxProcess)
                   for fd_entry in process.data.fds.entries.values())

    # --- readiness ------------------------------------------------------------------------

    def poll(self, entry: Entry) -> int:
        """ep_item_poll: the events the entry's file has now, of those it asks for. The
        objects its device names are watched from now on (and ones it no longer names,
        after a MOD, are not)."""
        if entry.file is None:
            return RANDOM_READY & entry.events
        mask, objects = poll.file_readiness(entry.file, entry.events)
        wanted = dict.fromkeys(objects)
        for obj in [o for o in entry.watches if o not in wanted]:
            self.kernel.dispatcher.unwatch(entry.watches.pop(obj))
        for obj in wanted:
            if obj not in entry.watches:
                entry.watches[obj] = self.kernel.dispatcher.watch(obj, partial(self._wakeup, entry))
        return mask & entry.events

    def _wakeup(self, entry: Entry) -> None:
        """ep_poll_callback: an object the entry's file named was signalled. A disabled
        one-shot entry ignores it."""
        if entry.events & ~PRIVATE_BITS:
            self._make_ready(entry)

    def _make_ready(self, entry: Entry) -> None:
        self.ready.setdefault(entry, None)
        self.event.signalled = True
        self.kernel.dispatcher.signal(self.event)

    def send_events(self, maxevents: int) -> list[tuple[int, int]]:
        """ep_send_events: up to `maxevents` (events, data) pairs from the ready list. An
        entry that is not ready after all is dropped from the list; a reported one goes
        back to its end if level-triggered (so that the next call starts with the
        others), stays off it if edge-triggered, and is disabled if one-shot."""
        batch, self.ready = list(self.ready), {}
        reported: list[tuple[int, int]] = []
        again: list[Entry] = []
        left: list[Entry] = []
        for index, entry in enumerate(batch):
            if len(reported) >= maxevents:
                left = batch[index:]
                break
            if not self.is_open(entry):
                self.remove(entry)
                continue
            events = self.poll(entry)
            if not events:
                continue
            reported.append((events, entry.data))
            if entry.events & EPOLLONESHOT:
                entry.events &= PRIVATE_BITS
            elif not entry.events & EPOLLET:
                again.append(entry)
        self.ready = dict.fromkeys([*left, *self.ready, *again])
        self.event.signalled = bool(self.ready)
        return reported

    def arm(self) -> None:
        """Before a wait: ask every entry off the ready list once more. Linux's files keep
        their waiters for good; here a device may watch only while asked (CSRSS watches
        the host's input after a readiness question that finds none), so asking again is
        what makes its next change signal. A level-triggered entry found ready goes on
        the ready list; an edge-triggered one waits for its next signal."""
        for entry in [e for e in self.entries.values() if e not in self.ready]:
            if not self.is_open(entry):
                self.remove(entry)
            elif self.poll(entry) and not entry.events & EPOLLET:
                self._make_ready(entry)

    def any_ready(self) -> bool:
        """ep_eventpoll_poll: is an entry on the ready list ready now? Entries that are
        not are dropped from it; none is reported or disarmed."""
        for entry in list(self.ready):
            if not self.is_open(entry):
                self.remove(entry)
            elif self.poll(entry):
                self.event.signalled = True
                return True
            else:
                del self.ready[entry]
        self.arm()                               # a poller of this instance may wait now
        self.event.signalled = bool(self.ready)
        return bool(self.ready)

    def nested(self) -> list[EventPoll]:
        return [inner for entry in self.entries.values()
                if (inner := entry.nested) is not None and self.is_open(entry)]

    def reaches(self, other: EventPoll) -> bool:
        """Whether `other` is this instance or is watched by it, however deep (then
        `other` watching this one would be a loop)."""
        return self is other or any(inner.reaches(other) for inner in self.nested())

    def depth_below(self) -> int:
        """How many levels of epoll instances this one watches (ep_loop_check_proc)."""
        return max((1 + inner.depth_below() for inner in self.nested()), default=0)

    def depth_above(self) -> int:
        """How many levels of epoll instances watch this one (ep_get_upwards_depth_proc)."""
        return max((1 + outer.depth_above() for outer in self.watched_by), default=0)


# --- the device ----------------------------------------------------------------------------------


class EventPollDevice(Device):
    """lxcore's device, as far as epoll needs it: every file opened as `eventpoll` on it
    is a new, empty epoll instance. Reading or writing one is EINVAL (Linux's eventpoll
    file has neither); poll and select see it readable when an entry is ready."""

    def __init__(self, kernel) -> None:
        super().__init__()
        self.kernel = kernel

    def create(self, file: FileObject, request: CreateRequest) -> None:
        if file.file_name.lower() != EVENTPOLL_NAME:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, f"{DEVICE_PATH}{file.file_name}")
        file.context = EventPoll(self.kernel)

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        raise NtStatusError(STATUS_INVALID_PARAMETER, "an epoll instance is not read")

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        raise NtStatusError(STATUS_INVALID_PARAMETER, "an epoll instance is not written")

    def query_information(self, file: FileObject, info_class: int) -> Any:
        if info_class == FileStatLxInformation:
            # Linux's anonymous inode: no file type, 0600, owned by root, size 0
            now = self.kernel.clock.now_ns()
            return FileStatLx(FileId=ANON_INODE_ID, CreationTime=0, LastAccessTime=0, LastWriteTime=0,
                              ChangeTime=0, AllocationSize=0, EndOfFile=0, FileAttributes=0,
                              NumberOfLinks=1, LxMode=ANON_INODE_MODE, LxUid=0, LxGid=0,
                              VolumeSerialNumber=ANON_INODE_DEVICE, AccessTimeNs=now,
                              WriteTimeNs=now, ChangeTimeNs=now)
        if info_class == FileStandardInformation:
            return StandardInformation(0, 0, 1, False, False)
        return super().query_information(file, info_class)

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        instance: EventPoll = file.context
        return Readiness(readable=instance.any_ready(), writable=False, wait_read=(instance.event,))

    def cleanup(self, file: FileObject) -> None:
        file.context.close()


def _device(task: Task) -> EventPollDevice:
    """\\Device\\lxss, made the first time a Linux program asks for an epoll instance (as
    lxcore.sys makes its device when it loads)."""
    objects = task.kernel.objects
    try:
        device = objects.lookup(DEVICE_PATH)
    except NtStatusError:
        device = objects.insert(DEVICE_PATH, EventPollDevice(task.kernel), permanent=True)
    return device


# --- epoll_create and epoll_create1 --------------------------------------------------------------


def _create(task: Task, flags: int) -> int:
    """NtCreateFile of a new instance on \\Device\\lxss; the fd is its handle."""
    _device(task)
    handle = task.nt.NtCreateFile(DEVICE_PATH + EVENTPOLL_NAME, FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE,
                                  FILE_OPEN)
    try:
        return task.lx.fds.install(FdEntry(handle, OpenFile(ANON_INODE_PATH, O_RDWR, "epoll"),
                                           bool(flags & EPOLL_CLOEXEC)))
    except LinuxError:
        task.nt.NtClose(handle)
        raise


def sys_epoll_create(task: Task, size: int) -> int:
    if signed32(size) <= 0:
        raise LinuxError(EINVAL, f"size {signed32(size)}: it is ignored, but must be positive")
    return _create(task, 0)


def sys_epoll_create1(task: Task, flags: int) -> int:
    if flags & ~EPOLL_CLOEXEC:
        raise LinuxError(EINVAL, f"flags {flags:#x}: only EPOLL_CLOEXEC")
    return _create(task, flags)


# --- epoll_ctl -----------------------------------------------------------------------------------


def _fd(task: Task, fd: int) -> FdEntry:
    """fdget: an O_PATH fd names no open file epoll can use."""
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH:
        raise LinuxError(EBADF, f"fd {fd} is an O_PATH fd")
    return entry


def _file(task: Task, entry: FdEntry) -> FileObject | None:
    return None if entry.handle is None else task.thread.process.handles.lookup(entry.handle, FileObject)


def _can_poll(file: FileObject | None, entry: FdEntry) -> bool:
    """file_can_poll: Linux lets epoll watch only a file whose driver has a poll routine
    — not a regular file, a directory, /dev/null or /dev/zero. Here that is a device that
    answers readiness itself (a pipe, the console, an epoll instance), or /dev/random."""
    if file is None:
        return entry.file.path == "/dev/random"
    return type(file.device).readiness is not Device.readiness


def _instance(file: FileObject | None) -> EventPoll | None:
    return file.context if file is not None and isinstance(file.device, EventPollDevice) else None


def sys_epoll_ctl(task: Task, epfd: int, op: int, fd: int, event: int) -> int:
    """Add, change or remove one entry of the interest list, with Linux's checks in
    Linux's order (do_epoll_ctl)."""
    epfd, op, fd = signed32(epfd), signed32(op), signed32(fd)
    events = data = 0
    if op != EPOLL_CTL_DEL:
        events, data = EPOLL_EVENT.unpack(task.read(event, EPOLL_EVENT.size))
    epoll_entry = _fd(task, epfd)
    target_entry = _fd(task, fd)
    target = _file(task, target_entry)
    if not _can_poll(target, target_entry):
        raise LinuxError(EPERM, f"fd {fd} ({target_entry.file.kind}) cannot be polled")
    instance = _instance(_file(task, epoll_entry))
    if instance is None:
        raise LinuxError(EINVAL, f"fd {epfd} is not an epoll instance")
    if target_entry.file is epoll_entry.file:
        raise LinuxError(EINVAL, "an epoll instance cannot watch itself")
    nested = _instance(target)
    if op != EPOLL_CTL_DEL and events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD:
            raise LinuxError(EINVAL, "EPOLLEXCLUSIVE is given only with EPOLL_CTL_ADD")
        if op == EPOLL_CTL_ADD and (nested is not None or events & ~EXCLUSIVE_OK):
            raise LinuxError(EINVAL, "EPOLLEXCLUSIVE with an epoll fd or other flags")
    if op == EPOLL_CTL_ADD and nested is not None and (
            nested.reaches(instance)
            or nested.depth_below() + 1 + instance.depth_above() > EP_MAX_NESTS):
        raise LinuxError(ELOOP, f"epoll instances would watch each other, or nest deeper than {EP_MAX_NESTS}")
    entry = instance.entries.get((fd, id(target_entry.file)))
    events |= EPOLLERR | EPOLLHUP            # always reported
    if op == EPOLL_CTL_ADD:
        if entry is not None:
            raise LinuxError(EEXIST, f"fd {fd} is already in the set")
        instance.insert(Entry(fd, target_entry.file, target, events, data))
    elif op == EPOLL_CTL_DEL:
        if entry is None:
            raise LinuxError(ENOENT, f"fd {fd} is not in the set")
        instance.remove(entry)
    elif op == EPOLL_CTL_MOD:
        if entry is None:
            raise LinuxError(ENOENT, f"fd {fd} is not in the set")
        if entry.events & EPOLLEXCLUSIVE:
            raise LinuxError(EINVAL, "an EPOLLEXCLUSIVE entry cannot be modified")
        instance.modify(entry, events, data)
    else:
        raise LinuxError(EINVAL, f"op {op}")
    return 0


# --- epoll_wait, epoll_pwait, epoll_pwait2 -------------------------------------------------------


def _wait(task: Task, epfd: int, events: int, maxevents: int, timeout_ns: int | None,
          mask: int | None, name: str):
    """do_epoll_wait: report ready entries, or wait for one (with `mask` in force, for
    epoll_pwait), until `timeout_ns` (None: for ever; 0: never wait)."""
    maxevents = signed32(maxevents)
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise LinuxError(EINVAL, f"maxevents {maxevents}")
    if events + maxevents * EPOLL_EVENT.size > USER_SPACE_END:
        raise LinuxError(EFAULT, f"events {events:#x}")
    instance = _instance(_file(task, _fd(task, signed32(epfd))))
    if instance is None:
        raise LinuxError(EINVAL, f"fd {signed32(epfd)} is not an epoll instance")
    signal_mask = poll._SignalMask(task, mask)
    reported: list[tuple[int, int]] = []

    def scan() -> tuple[int, list]:
        reported[:] = instance.send_events(maxevents)
        if not reported and timeout_ns != 0:
            signal_mask.check_pending(name)     # Linux looks before it sleeps
            instance.arm()          # if that finds an entry ready, the wait ends at once
        return len(reported), [instance.event]

    def finish(count: int) -> int:
        signal_mask.restore()
        if reported:
            task.write(events, b"".join(EPOLL_EVENT.pack(bits, data) for bits, data in reported))
        return count

    try:
        return poll.wait_until_ready(task, scan, timeout_ns, finish, name, signal_mask.restore)
    except LinuxError as error:
        signal_mask.failed(error)
        raise


def _milliseconds(timeout: int) -> int | None:
    """epoll_wait's int timeout: negative waits for ever."""
    milliseconds = signed32(timeout)
    return None if milliseconds < 0 else milliseconds * 1_000_000


def sys_epoll_wait(task: Task, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    return _wait(task, epfd, events, maxevents, _milliseconds(timeout), None, "epoll_wait")


def sys_epoll_pwait(task: Task, epfd: int, events: int, maxevents: int, timeout: int,
                    sigmask: int, sigsetsize: int) -> int:
    mask = poll._read_sigmask(task, sigmask, sigsetsize)
    return _wait(task, epfd, events, maxevents, _milliseconds(timeout), mask, "epoll_pwait")


def sys_epoll_pwait2(task: Task, epfd: int, events: int, maxevents: int, timeout: int,
                     sigmask: int, sigsetsize: int) -> int:
    """epoll_pwait with a struct timespec (NULL: for ever); the time left is not written back."""
    timeout_ns = poll._read_timespec(task, timeout) if timeout else None
    mask = poll._read_sigmask(task, sigmask, sigsetsize)
    return _wait(task, epfd, events, maxevents, timeout_ns, mask, "epoll_pwait2")
