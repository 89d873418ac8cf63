"""futex: Linux's wait queue on a memory word, built on an NT keyed event.

A futex needs a queue of sleeping threads for every address, without an object per
address: NT has exactly that in the keyed event (a wait with a *key*; NT's critical
sections and SRW locks sleep on one). Each Linux process gets one keyed event; the key
is the futex's address. FUTEX_WAIT checks the word and sleeps on its key
(NtWaitForKeyedEvent); FUTEX_WAKE releases waiters on it (NtReleaseKeyedEvent).

A futex without FUTEX_PRIVATE_FLAG in a MAP_SHARED mapping (a file, /dev/shm,
memfd_create, shared anonymous memory) is keyed on the shared *page*, not the address:
processes map it at different addresses, and Linux keys such a futex on the inode and
offset. Here the key is the section's pages (the segment) and the offset in it, on one
keyed event the provider keeps for the whole machine, opened in each process that
needs it. So POSIX semaphores in /dev/shm, and Python's multiprocessing, work across
processes.

The check-then-sleep is atomic here for free: every guest thread runs on the one host
thread, and no other guest instruction runs inside a system call.
"""

from __future__ import annotations

import struct

from ...kernel.dispatcher import then
from ...kernel.processes import KeyedEvent
from ...kernel.status import STATUS_TIMEOUT
from .errno import EAGAIN, EINVAL, ENOSYS, ETIMEDOUT, LinuxError
from .task import Task

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 2, 3, 4
FUTEX_WAKE_OP, FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI = 5, 6, 7, 8
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
OPERATIONS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
              5: "FUTEX_WAKE_OP", 9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET"}


def _keyed_event(task: Task) -> int:
    lx = task.lx
    if lx.futexes is None:
        lx.futexes = task.nt.NtCreateKeyedEvent()
    return lx.futexes


def _shared_key(task: Task, address: int) -> int | None:
    """The key of a futex word in a shared view of a section (its pages and the offset
    in them), or None if the word is in private memory."""
    vad = task.thread.process.memory.find(address)
    if vad is None or vad.segment is None or vad.copy_on_write:
        return None
    return id(vad.segment) << 40 | (vad.offset + address - vad.base)


def _queue(task: Task, address: int, op: int) -> tuple[int | None, int]:
    """(keyed event handle or None if nobody ever waited here, key) for a futex word."""
    key = None if op & FUTEX_PRIVATE_FLAG else _shared_key(task, address)
    if key is None:
        return task.lx.futexes, address
    personality = task.thread.process.personality
    if personality.shared_futexes is None:
        personality.shared_futexes = KeyedEvent("LxssSharedFutexes")
    lx = task.lx
    if lx.shared_futexes is None:
        # ObOpenObjectByPointer: the provider's machine-wide keyed event, in this process
        lx.shared_futexes = task.thread.process.handles.insert(personality.shared_futexes)
    return lx.shared_futexes, key


def _word(task: Task, address: int) -> int:
    if address & 3:
        raise LinuxError(EINVAL, "futex word not aligned")
    return struct.unpack("<I", task.read(address, 4))[0]


def _timeout_ns(task: Task, timeout: int, absolute: bool, realtime: bool) -> int | None:
    if not timeout:
        return None
    seconds, nanoseconds = struct.unpack("<qq", task.read(timeout, 16))
    if seconds < 0 or not 0 <= nanoseconds < 10**9:
        raise LinuxError(EINVAL, "bad timespec")
    ns = seconds * 10**9 + nanoseconds
    if absolute:
        clock = task.kernel.clock
        now = clock.now_ns() if realtime else clock.monotonic_ns()
        ns = max(0, ns - now)
    return ns


def wait(task: Task, address: int, expected: int, timeout_ns: int | None, bitset: int, op: int = 0) -> int:
    if _word(task, address) != expected:
        raise LinuxError(EAGAIN)

    def done(status) -> int:
        if status == STATUS_TIMEOUT:
            raise LinuxError(ETIMEDOUT)
        return 0

    keyed, key = _queue(task, address, op)
    if keyed is None:
        keyed = _keyed_event(task)
    return then(lambda: task.nt.NtWaitForKeyedEvent(keyed, key, False, timeout_ns, bitset), done)


def wake(task: Task, address: int, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY, op: int = 0) -> int:
    keyed, key = _queue(task, address, op)
    if keyed is None:
        return 0      # nobody ever waited in this process
    woken = task.nt.NtReleaseKeyedEvent(keyed, key, count, bitset)
    if woken:
        # The woken thread runs next, as NT's wait boost (and Linux's wake-up preemption)
        # would have it: a lock handed over is taken at once, not after the waker's whole
        # quantum (Python's GIL, handed between threads this way, depends on it).
        task.nt.NtYieldExecution()
    return woken


def sys_futex(task: Task, uaddr: int, op: int, val: int, timeout: int, uaddr2: int, val3: int) -> int:
    command = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    val &= 0xFFFFFFFF
    if command == FUTEX_WAIT:
        return wait(task, uaddr, val, _timeout_ns(task, timeout, False, False), FUTEX_BITSET_MATCH_ANY, op)
    if command == FUTEX_WAIT_BITSET:
        if not val3 & 0xFFFFFFFF:
            raise LinuxError(EINVAL, "empty bitset")
        return wait(task, uaddr, val, _timeout_ns(task, timeout, True, bool(op & FUTEX_CLOCK_REALTIME)),
                    val3 & 0xFFFFFFFF, op)
    if command == FUTEX_WAKE:
        return wake(task, uaddr, val, op=op)
    if command == FUTEX_WAKE_BITSET:
        if not val3 & 0xFFFFFFFF:
            raise LinuxError(EINVAL, "empty bitset")
        return wake(task, uaddr, val, val3 & 0xFFFFFFFF, op)
    if command in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if command == FUTEX_CMP_REQUEUE and _word(task, uaddr) != val3 & 0xFFFFFFFF:
            raise LinuxError(EAGAIN)
        woken = wake(task, uaddr, val, op=op)
        # `timeout` carries val2, the number to move, for the requeue operations.
        limit = timeout & 0x7FFFFFFF
        moved = 0
        source, source_key = _queue(task, uaddr, op)
        target, target_key = _queue(task, uaddr2, op)
        if source is not None and source == target:
            keyed = task.thread.process.handles.lookup(source, KeyedEvent)
            moved = keyed.requeue(source_key, target_key, limit)
        return woken + moved
    raise LinuxError(ENOSYS, f"futex operation {OPERATIONS.get(command, command)} is not modelled")
