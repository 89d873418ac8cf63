"""POSIX per-process timers: timer_create, timer_settime, timer_gettime,
timer_getoverrun, timer_delete.

Each timer is a dispatcher timer with a DPC (NT's KTIMER + KDPC, the same machinery as
ITIMER_REAL in signals.py): when it expires, the DPC queues the timer's signal — to the
process, or to one thread (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD uses) — with
si_code SI_TIMER, the timer's id and the sigevent's value; with an interval it is set
again. As on Linux, a timer's signal is queued once: expiries while it is still pending
count as overruns instead (timer_getoverrun). Timers belong to the process: a fork's
child has none, and execve deletes them.

CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) are not modelled
for these timers (EINVAL); ITIMER_VIRTUAL and ITIMER_PROF are (signals.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import signals, time
from .errno import EAGAIN, EINVAL, LinuxError
from .files import signed32
from .task import LinuxProcess, Task

SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SIGEVENT = struct.Struct("<QiiI")           # sigev_value, sigev_signo, sigev_notify, _tid
ITIMERSPEC = struct.Struct("<qqqq")         # it_interval (sec, nsec), it_value (sec, nsec)
TIMER_CLOCKS = {time.CLOCK_REALTIME, time.CLOCK_MONOTONIC, time.CLOCK_BOOTTIME,
                time.CLOCK_REALTIME_ALARM, time.CLOCK_BOOTTIME_ALARM, time.CLOCK_TAI}
MAX_TIMERS = 4096                           # what ntsim allows a process (Linux: RLIMIT_SIGPENDING)


@dataclass(eq=False)
class PosixTimer:
    """One timer (Linux's k_itimer)."""

    id: int
    clock: int
    notify: int
    signal: int
    value: int                       # sigev_value, returned in si_value
    target: Task | None = None       # SIGEV_THREAD_ID: the thread it signals
    deadline_ns: int = 0             # on the monotonic clock; 0: disarmed
    interval_ns: int = 0
    overrun: int = 0                 # of the last signal queued
    queued: Any = None               # that signal's SigInfo while it is still pending
    dpc: Any = None                  # the dispatcher timer while armed


def _find(task: Task, timer_id: int) -> PosixTimer:
    timer = task.lx.posix_timers.get(signed32(timer_id))
    if timer is None:
        raise LinuxError(EINVAL, f"no timer {timer_id}")
    return timer


# --- the calls ------------------------------------------------------------------------------------


def sys_timer_create(task: Task, clock: int, sevp: int, timerid: int) -> int:
    clock = signed32(clock)
    if clock not in TIMER_CLOCKS:
        raise LinuxError(EINVAL, f"{time.CLOCK_NAMES.get(clock, clock)}: no timers on this clock here")
    timers = task.lx.posix_timers
    if len(timers) >= MAX_TIMERS:
        raise LinuxError(EAGAIN, "too many timers")
    timer_id = next(i for i in range(len(timers) + 1) if i not in timers)
    if sevp:
        value, signal, notify, tid = SIGEVENT.unpack(task.read(sevp, SIGEVENT.size))
    else:       # NULL: SIGALRM to the process, with the timer's id as the value
        value, signal, notify, tid = timer_id, signals.SIGALRM, SIGEV_SIGNAL, 0
    target = None
    if notify == SIGEV_THREAD_ID:
        target = next((t for t in signals._tasks(task.lx) if t.linux_tid == tid), None)
        if target is None:
            raise LinuxError(EINVAL, f"SIGEV_THREAD_ID: no thread {tid} in this process")
    elif notify not in (SIGEV_SIGNAL, SIGEV_NONE):
        raise LinuxError(EINVAL, f"sigev_notify {notify}")
    if notify != SIGEV_NONE and not 1 <= signal <= signals.NSIG:
        raise LinuxError(EINVAL, f"signal {signal}")
    timers[timer_id] = PosixTimer(timer_id, clock, notify, signal, value, target)
    task.write(timerid, struct.pack("<i", timer_id))
    return 0


def sys_timer_settime(task: Task, timer_id: int, flags: int, new_value: int, old_value: int) -> int:
    timer = _find(task, timer_id)
    interval_s, interval_ns, value_s, value_ns = ITIMERSPEC.unpack(task.read(new_value, ITIMERSPEC.size))
    for seconds, nanoseconds in ((interval_s, interval_ns), (value_s, value_ns)):
        if seconds < 0 or not 0 <= nanoseconds < 10**9:
            raise LinuxError(EINVAL, "bad timespec")
    if old_value:
        task.write(old_value, _itimerspec(task, timer))
    value = value_s * 10**9 + value_ns
    if value and flags & time.TIMER_ABSTIME:          # a time on the timer's own clock
        value = max(1, value - time.now_ns(task, timer.clock))
    _arm(task.lx, timer, value, interval_s * 10**9 + interval_ns)
    return 0


def sys_timer_gettime(task: Task, timer_id: int, curr_value: int) -> int:
    task.write(curr_value, _itimerspec(task, _find(task, timer_id)))
    return 0


def sys_timer_getoverrun(task: Task, timer_id: int) -> int:
    return _find(task, timer_id).overrun


def sys_timer_delete(task: Task, timer_id: int) -> int:
    timer = _find(task, timer_id)
    _arm(task.lx, timer, 0, 0)
    del task.lx.posix_timers[timer.id]
    return 0


def delete_all(lx: LinuxProcess) -> None:
    """execve: the new program starts with no timers (itimers, by contrast, survive)."""
    for timer in list(lx.posix_timers.values()):
        _arm(lx, timer, 0, 0)
    lx.posix_timers.clear()


# --- arming and expiry ------------------------------------------------------------------------------


def _itimerspec(task: Task, timer: PosixTimer) -> bytes:
    remaining = 0
    if timer.deadline_ns:
        remaining = max(1, timer.deadline_ns - task.kernel.clock.monotonic_ns())
    return ITIMERSPEC.pack(timer.interval_ns // 10**9, timer.interval_ns % 10**9,
                           remaining // 10**9, remaining % 10**9)


def _arm(lx: LinuxProcess, timer: PosixTimer, value_ns: int, interval_ns: int) -> None:
    if timer.dpc is not None:
        timer.dpc.cancel()
        timer.dpc = None
    timer.deadline_ns, timer.interval_ns = 0, interval_ns
    if value_ns <= 0:
        return
    dispatcher = lx.process.personality.kernel.dispatcher
    timer.deadline_ns = dispatcher.clock.monotonic_ns() + value_ns
    timer.dpc = dispatcher.set_timer(value_ns, partial(_expired, lx, timer))


def _expired(lx: LinuxProcess, timer: PosixTimer) -> None:
    """The DPC: queue the signal (or count an overrun while it is pending), and set the
    timer again if it has an interval."""
    if lx.posix_timers.get(timer.id) is not timer or not lx.process.alive:
        return
    dispatcher = lx.process.personality.kernel.dispatcher
    missed = 0
    if timer.interval_ns:
        now = dispatcher.clock.monotonic_ns()
        timer.deadline_ns += timer.interval_ns
        if timer.deadline_ns <= now:     # expiries the dispatcher could not run in time
            missed = (now - timer.deadline_ns) // timer.interval_ns + 1
            timer.deadline_ns += missed * timer.interval_ns
        timer.dpc = dispatcher.set_timer(timer.deadline_ns - now, partial(_expired, lx, timer))
    else:
        timer.deadline_ns, timer.dpc = 0, None
    if timer.notify == SIGEV_NONE:
        return
    if timer.queued is not None and _still_pending(lx, timer):
        timer.queued.uid += 1 + missed           # si_overrun of the signal still waiting
        timer.overrun = timer.queued.uid
        return
    info = signals.SigInfo(timer.signal, signals.SI_TIMER, pid=timer.id, uid=missed, value=timer.value)
    timer.queued, timer.overrun = info, missed
    signals.generate(lx, timer.target, info)


def _still_pending(lx: LinuxProcess, timer: PosixTimer) -> bool:
    queues = [lx.pending_signals] + [t.pending_signals for t in signals._tasks(lx)]
    return any(timer.queued in queue.get(timer.signal, ()) for queue in queues)
