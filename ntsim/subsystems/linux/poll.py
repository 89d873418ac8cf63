"""I/O multiplexing: poll, ppoll, select and pselect6.

Each call asks every file the same question — would a read or a write complete now? —
through the device's readiness answer (`Device.readiness` in kernel/io.py): a disk file
and /dev/null are always ready, a pipe looks at its buffer and its ends, the console asks
CSRSS over LPC whether input is waiting. If nothing is ready and the caller may wait,
the thread parks on the dispatcher objects the devices named (a pipe's events, the
console's input event): one wait-any, with the call's timeout as the wait's timeout.
When any of them is signalled, or the time is up, the call looks again and answers.
Under --deterministic the timeout runs on the virtual clock.

Signals: an alertable wait that ends with STATUS_USER_APC or STATUS_ALERTED (the way
NT interrupts a wait to deliver an APC) becomes EINTR here (`_interrupted`). Signal
delivery (signals.py) decides when a thread is alerted; ppoll and pselect6 swap in the
caller's signal mask for the length of the call, as Linux does. A signal that is already
pending when the call would wait — one the call's mask unblocks — alerts nobody, so each
call looks for one before it waits, as Linux does (`_SignalMask.check_pending`; epoll.py
uses it too): then it fails with EINTR at once, and the handler runs.
"""

from __future__ import annotations

import struct

from ...kernel.dispatcher import WaitPending
from ...kernel.io import FileObject
from ...kernel.status import STATUS_ALERTED, STATUS_TIMEOUT, STATUS_USER_APC
from . import sockets
from .errno import EBADF, EINTR, EINVAL, LinuxError
from .fdtable import O_PATH, FdEntry
from .signals import UNBLOCKABLE, pending_set, recalc, restore_mask_on_return
from .task import Task

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND = 0x40, 0x80, 0x100, 0x200
POLLRDHUP = 0x2000
POLL_NAMES = {POLLIN: "POLLIN", POLLPRI: "POLLPRI", POLLOUT: "POLLOUT", POLLERR: "POLLERR",
              POLLHUP: "POLLHUP", POLLNVAL: "POLLNVAL", POLLRDNORM: "POLLRDNORM",
              POLLRDBAND: "POLLRDBAND", POLLWRNORM: "POLLWRNORM", POLLWRBAND: "POLLWRBAND"}
READ_EVENTS = POLLIN | POLLRDNORM | POLLRDBAND
WRITE_EVENTS = POLLOUT | POLLWRNORM | POLLWRBAND
# what select's three sets mean in poll's terms (Linux's POLLIN_SET, POLLOUT_SET, POLLEX_SET)
SELECT_READ = POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR
SELECT_WRITE = POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR
SELECT_EXCEPT = POLLPRI
POLLFD = struct.Struct("<ihh")             # struct pollfd: fd, events, revents
SIGSET_SIZE = 8


# --- one file's readiness ----------------------------------------------------------------------


def _file_object(task: Task, entry: FdEntry) -> FileObject:
    """ObReferenceObjectByHandle: the pico provider runs in the kernel and may look."""
    return task.thread.process.handles.lookup(entry.handle, FileObject)


def fd_readiness(task: Task, fd: int, events: int) -> tuple[int, tuple]:
    """The poll mask of one fd (before filtering by `events`) and what to wait on for the
    events asked. A closed fd, or an O_PATH one, is POLLNVAL."""
    entry = task.lx.fds.entries.get(fd)
    if entry is None or entry.file.flags & O_PATH:
        return POLLNVAL, ()
    if entry.handle is None:
        # /dev/zero, /dev/full, /dev/random: ntsim answers them itself and never waits
        return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM, ()
    return file_readiness(_file_object(task, entry), events)


def file_readiness(file: FileObject, events: int) -> tuple[int, tuple]:
    """The poll mask of one file object, and what to wait on for the events asked (the
    device's answer; epoll.py asks it of the files in its interest list)."""
    want_read, want_write = bool(events & READ_EVENTS), bool(events & WRITE_EVENTS)
    end = sockets.socket_end(file)
    if end is not None:
        return _socket_readiness(end, want_read, want_write)
    state = file.device.readiness(file, want_read, want_write)
    mask = ((POLLIN | POLLRDNORM if state.readable else 0) | (POLLOUT | POLLWRNORM if state.writable else 0)
            | (POLLHUP if state.hangup else 0) | (POLLERR if state.broken else 0))
    # A hangup or an error is always reported, so its events are always waited on.
    objects = state.wait_closed + (state.wait_read if want_read else ()) + (state.wait_write if want_write else ())
    return mask, objects


def _socket_readiness(end, want_read: bool, want_write: bool) -> tuple[int, tuple]:
    """A stream socket is not a pipe to poll (Linux's unix_poll): a shut-down receiving
    side reads end of file, so it is readable (POLLIN, POLLRDHUP); POLLHUP only once both
    directions are shut; writable while there is room, or once sending is shut (so a
    writer finds its EPIPE); never POLLERR. What to wait on: the events that make a
    wanted answer true, and — since POLLHUP is always reported — the shut-downs that
    have not happened yet (a set event whose answer is not wanted would end every wait)."""
    incoming, outgoing = end.incoming, end.outgoing
    receive_shut, send_shut = sockets.shutdown_state(end)
    readable = bool(incoming.buffers) or receive_shut
    writable = not outgoing.full or send_shut
    mask = ((POLLIN | POLLRDNORM if readable else 0) | (POLLRDHUP if receive_shut else 0)
            | (POLLOUT | POLLWRNORM | POLLWRBAND if writable else 0)
            | (POLLHUP if receive_shut and send_shut else 0))
    closing = (incoming.hangup, incoming.broken, outgoing.hangup, outgoing.broken)
    objects = tuple(event for event in closing if not event.signalled)
    if want_read:
        objects += (incoming.data, incoming.hangup, incoming.broken)
    if want_write:
        objects += (outgoing.space, outgoing.broken)
    return mask, objects


# --- waiting -----------------------------------------------------------------------------------


def _interrupted(status: int) -> bool:
    """The wait ended for a signal (NT: an APC was queued to the alertable waiter)."""
    return status in (STATUS_USER_APC, STATUS_ALERTED)


def wait_until_ready(task: Task, scan, timeout_ns: int | None, finish, reason: str, cleanup=None):
    """Run `scan()` -> (count, objects) until it counts something or the time is up, then
    `finish(count)`. `timeout_ns` None waits for ever, 0 never waits. `cleanup()` runs
    if the call fails instead (a signal interrupted it)."""
    clock = task.kernel.clock
    deadline = None if timeout_ns is None else clock.monotonic_ns() + timeout_ns

    def attempt(timed_out: bool):
        count, objects = scan()
        if count or timed_out or timeout_ns == 0:
            return finish(count)
        remaining = None if deadline is None else deadline - clock.monotonic_ns()
        if remaining is not None and remaining <= 0:
            return finish(count)
        unique = list(dict.fromkeys(objects))    # one wait block per object
        raise WaitPending(unique, resume, timeout_ns=remaining, reason=reason)

    def resume(status: int):
        if _interrupted(status):
            if cleanup is not None:
                cleanup()
            raise LinuxError(EINTR, f"{reason} interrupted by a signal")
        return attempt(status == STATUS_TIMEOUT)

    return attempt(False)


def _remaining_ns(task: Task, deadline: int | None) -> int:
    return 0 if deadline is None else max(0, deadline - task.kernel.clock.monotonic_ns())


def _read_timespec(task: Task, address: int) -> int:
    seconds, nanoseconds = struct.unpack("<qq", task.read(address, 16))
    if seconds < 0 or not 0 <= nanoseconds < 10**9:
        raise LinuxError(EINVAL, "bad timespec")
    return seconds * 10**9 + nanoseconds


def _read_timeval(task: Task, address: int) -> int:
    seconds, microseconds = struct.unpack("<qq", task.read(address, 16))
    if seconds < 0 or microseconds < 0:
        raise LinuxError(EINVAL, "bad timeval")
    return seconds * 10**9 + microseconds * 1000     # Linux normalises tv_usec >= 10^6


def _write_back(task: Task, address: int, timeout_ns: int, deadline: int | None, timeval: bool) -> None:
    """ppoll, select and pselect6 leave the time not slept in the caller's timeout (a
    zero timeout is left alone). A fault writing it does not fail the call."""
    if not address or not timeout_ns:
        return
    left = _remaining_ns(task, deadline)
    seconds, nanoseconds = divmod(left, 10**9)
    data = struct.pack("<qq", seconds, nanoseconds // 1000 if timeval else nanoseconds)
    try:
        task.write(address, data)
    except LinuxError:
        pass


class _SignalMask:
    """ppoll's and pselect6's sigmask: in force for the call, the old one restored after."""

    def __init__(self, task: Task, mask: int | None) -> None:
        self.task, self.saved = task, task.signal_mask
        if mask is not None:
            task.signal_mask = mask & ~UNBLOCKABLE

    def restore(self) -> None:
        self.task.signal_mask = self.saved

    def check_pending(self, name: str) -> None:
        """signal_pending before the call sleeps (do_poll, do_select, ep_poll): a signal
        the call's mask lets through is pending already, and no wait would be alerted for
        it, so the call fails with EINTR now. The call's mask stays in force until the
        handler has run, and the handler's frame saves the caller's (Linux's
        TIF_RESTORE_SIGMASK)."""
        task = self.task
        if pending_set(task) & ~task.signal_mask:
            restore_mask_on_return(task, self.saved)
            recalc(task)
            raise LinuxError(EINTR, f"{name}: a signal is pending")

    def failed(self, error: LinuxError) -> None:
        """The call fails: the caller's mask comes back now — unless a pending signal
        ended the call, when delivery puts it back (after a handler's frame saved it)."""
        if error.errno != EINTR or self.task.saved_mask is None:
            self.restore()


def _read_sigmask(task: Task, address: int, size: int) -> int | None:
    if not address:
        return None
    if size != SIGSET_SIZE:
        raise LinuxError(EINVAL, f"sigsetsize {size}")
    return task.read_u64(address)


# --- poll and ppoll ----------------------------------------------------------------------------


def _poll(task: Task, fds: int, nfds: int, timeout_ns: int | None, mask: int | None,
          timeout_address: int = 0):
    nfds &= 0xFFFF_FFFF                        # an unsigned int
    if nfds > task.lx.fds.limit:
        raise LinuxError(EINVAL, f"nfds {nfds} is above RLIMIT_NOFILE")
    raw = task.read(fds, POLLFD.size * nfds) if nfds else b""
    entries = [POLLFD.unpack_from(raw, POLLFD.size * i)[:2] for i in range(nfds)]
    results = [0] * nfds
    deadline = None if timeout_ns is None else task.kernel.clock.monotonic_ns() + timeout_ns
    signal_mask = _SignalMask(task, mask)

    def scan() -> tuple[int, list]:
        objects: list = []
        for index, (fd, events) in enumerate(entries):
            if fd < 0:
                results[index] = 0             # a negative fd is skipped
                continue
            events &= 0xFFFF
            state, waits = fd_readiness(task, fd, events)
            # POLLNVAL is reported whatever was asked; POLLERR and POLLHUP always are
            results[index] = state if state == POLLNVAL else state & (events | POLLERR | POLLHUP)
            objects.extend(waits)
        count = sum(1 for r in results if r)
        if not count:
            signal_mask.check_pending("poll")    # even with a zero timeout, as Linux
        return count, objects

    def finish(count: int) -> int:
        signal_mask.restore()
        if entries:                            # poll(NULL, 0, ms) is a sleep
            task.write(fds, b"".join(POLLFD.pack(fd, events, results[i] & 0xFFFF)
                                     for i, (fd, events) in enumerate(entries)))
        _write_back(task, timeout_address, timeout_ns or 0, deadline, timeval=False)
        return count

    try:
        return wait_until_ready(task, scan, timeout_ns, finish, "poll", signal_mask.restore)
    except LinuxError as error:
        signal_mask.failed(error)
        raise


def sys_poll(task: Task, fds: int, nfds: int, timeout: int) -> int:
    milliseconds = timeout - (1 << 32) if timeout & 0x8000_0000 else timeout & 0xFFFF_FFFF
    timeout_ns = None if milliseconds < 0 else milliseconds * 1_000_000
    return _poll(task, fds, nfds, timeout_ns, None)


def sys_ppoll(task: Task, fds: int, nfds: int, tsp: int, sigmask: int, sigsetsize: int) -> int:
    timeout_ns = _read_timespec(task, tsp) if tsp else None
    mask = _read_sigmask(task, sigmask, sigsetsize)
    return _poll(task, fds, nfds, timeout_ns, mask, tsp)


# --- select and pselect6 -----------------------------------------------------------------------


def _fd_table_size(task: Task) -> int:
    """Linux clamps select's nfds to the size of the fd table (`max_fds`), which starts
    at one word of bits and grows as fds are opened; bits beyond it are ignored."""
    highest = max(task.lx.fds.entries, default=0)
    return max(64, (highest // 64 + 1) * 64)


def _select(task: Task, nfds: int, sets: tuple[int, int, int], timeout_ns: int | None,
            mask: int | None, timeout_address: int, timeval: bool):
    nfds &= 0xFFFF_FFFF                        # an int
    if nfds & 0x8000_0000:
        raise LinuxError(EINVAL, "negative nfds")
    n = min(nfds, _fd_table_size(task))
    size = (n + 63) // 64 * 8
    wanted = [int.from_bytes(task.read(address, size), "little") if address and size else 0
              for address in sets]
    either = wanted[0] | wanted[1] | wanted[2]
    for fd in range(n):
        if either >> fd & 1:
            entry = task.lx.fds.entries.get(fd)
            if entry is None or entry.file.flags & O_PATH:
                raise LinuxError(EBADF, f"fd {fd} in a select set is not open")
    ready = [0, 0, 0]
    deadline = None if timeout_ns is None else task.kernel.clock.monotonic_ns() + timeout_ns
    signal_mask = _SignalMask(task, mask)

    def scan() -> tuple[int, list]:
        objects: list = []
        ready[:] = [0, 0, 0]
        for fd in range(n):
            if not either >> fd & 1:
                continue
            bit = 1 << fd
            events = ((READ_EVENTS if wanted[0] & bit else 0) | (WRITE_EVENTS if wanted[1] & bit else 0)
                      | (POLLPRI if wanted[2] & bit else 0))
            state, waits = fd_readiness(task, fd, events)
            for index, meaning in enumerate((SELECT_READ, SELECT_WRITE, SELECT_EXCEPT)):
                if wanted[index] & bit and state & meaning:
                    ready[index] |= bit
            objects.extend(waits)
        count = sum(bin(r).count("1") for r in ready)
        if not count:
            signal_mask.check_pending("select")  # even with a zero timeout, as Linux
        return count, objects

    def finish(count: int) -> int:
        signal_mask.restore()
        for address, bits in zip(sets, ready, strict=True):
            if address and size:
                task.write(address, bits.to_bytes(size, "little"))
        _write_back(task, timeout_address, timeout_ns or 0, deadline, timeval)
        return count

    try:
        return wait_until_ready(task, scan, timeout_ns, finish, "select", signal_mask.restore)
    except LinuxError as error:
        signal_mask.failed(error)
        raise


def sys_select(task: Task, nfds: int, readfds: int, writefds: int, exceptfds: int, timeout: int) -> int:
    timeout_ns = _read_timeval(task, timeout) if timeout else None
    return _select(task, nfds, (readfds, writefds, exceptfds), timeout_ns, None, timeout, timeval=True)


def sys_pselect6(task: Task, nfds: int, readfds: int, writefds: int, exceptfds: int,
                 timeout: int, sig: int) -> int:
    timeout_ns = _read_timespec(task, timeout) if timeout else None
    mask = None
    if sig:
        # the sixth argument points at { const sigset_t *ss; size_t ss_len; }
        address, size = struct.unpack("<QQ", task.read(sig, 16))
        mask = _read_sigmask(task, address, size)
    return _select(task, nfds, (readfds, writefds, exceptfds), timeout_ns, mask, timeout, timeval=False)
