"""Linux clocks and sleeps: NtQuerySystemTime, the performance counter, NtDelayExecution.

There is no vDSO in a pico process here, so every clock read traps, and every trap
shows in the trace: a student sees exactly how often a program asks for the time.
Under --deterministic the NT clock is virtual, so the answers repeat run after run.
"""

from __future__ import annotations

import struct

from ...kernel.dispatcher import UNIX_TO_NT_EPOCH_100NS, WaitPending, then
from ...kernel.services import NtCurrentProcess, ProcessTimes
from .errno import EINVAL, LinuxError
from .task import Task

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI = 8, 9, 11
CLOCK_NAMES = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
               3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
               6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
               9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI"}
TIMER_ABSTIME = 1
REALTIME_CLOCKS = {CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_REALTIME_ALARM, CLOCK_TAI}


def now_ns(task: Task, clock: int) -> int:
    if clock in REALTIME_CLOCKS:
        return (task.nt.NtQuerySystemTime() - UNIX_TO_NT_EPOCH_100NS) * 100
    if clock == CLOCK_PROCESS_CPUTIME_ID:     # the process's processor time (KERNEL_USER_TIMES)
        times = task.nt.NtQueryInformationProcess(NtCurrentProcess, ProcessTimes)
        return (times["UserTime"] + times["KernelTime"]) * 100
    if clock == CLOCK_THREAD_CPUTIME_ID:      # the calling thread's run time, as KTHREAD counts it
        return task.kernel.dispatcher.thread_time_ns(task.thread)
    if clock in CLOCK_NAMES:
        return task.nt.NtQueryPerformanceCounter()
    raise LinuxError(EINVAL, f"clock {clock}")


def _timespec(ns: int) -> bytes:
    return struct.pack("<qq", ns // 10**9, ns % 10**9)


def _read_timespec(task: Task, address: int) -> int:
    seconds, nanoseconds = struct.unpack("<qq", task.read(address, 16))
    if seconds < 0 or not 0 <= nanoseconds < 10**9:
        raise LinuxError(EINVAL, "bad timespec")
    return seconds * 10**9 + nanoseconds


def sys_clock_gettime(task: Task, clock: int, tp: int) -> int:
    task.write(tp, _timespec(now_ns(task, clock)))
    return 0


def sys_clock_getres(task: Task, clock: int, res: int) -> int:
    if clock not in CLOCK_NAMES:
        raise LinuxError(EINVAL)
    if res:
        coarse = clock in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE)
        task.write(res, _timespec(4_000_000 if coarse else 1))
    return 0


def sys_gettimeofday(task: Task, tv: int, tz: int) -> int:
    ns = now_ns(task, CLOCK_REALTIME)
    if tv:
        task.write(tv, struct.pack("<qq", ns // 10**9, ns % 10**9 // 1000))
    if tz:
        task.write(tz, struct.pack("<ii", 0, 0))
    return 0


def sys_time(task: Task, tloc: int) -> int:
    seconds = now_ns(task, CLOCK_REALTIME) // 10**9
    if tloc:
        task.write_u64(tloc, seconds)
    return seconds


def _sleep(task: Task, ns: int, rem: int, deadline: int | None = None) -> int:
    clock = task.kernel.clock
    if deadline is None:
        deadline = clock.monotonic_ns() + ns
    else:                           # restart_syscall: what was left of it
        ns = max(0, deadline - clock.monotonic_ns())

    def done(_status) -> int:
        if rem:
            task.write(rem, _timespec(0))
        return 0

    def interrupted() -> None:
        # A signal cut the sleep short: Linux leaves the time not slept in *rem, and a
        # restart block that sleeps on to the same deadline (restart_syscall).
        task.restart_block = lambda: _sleep(task, 0, rem, deadline)
        if rem:
            try:
                task.write(rem, _timespec(max(0, deadline - clock.monotonic_ns())))
            except LinuxError:
                pass

    try:
        return then(lambda: task.nt.NtDelayExecution(False, ns), done)
    except WaitPending as pending:
        pending.on_cancel.append(interrupted)
        raise


def sys_nanosleep(task: Task, req: int, rem: int) -> int:
    return _sleep(task, _read_timespec(task, req), rem)


def sys_clock_nanosleep(task: Task, clock: int, flags: int, req: int, rem: int) -> int:
    if clock not in CLOCK_NAMES or clock == CLOCK_THREAD_CPUTIME_ID:
        raise LinuxError(EINVAL)
    ns = _read_timespec(task, req)
    if flags & TIMER_ABSTIME:
        ns = max(0, ns - now_ns(task, clock))
        rem = 0
    return _sleep(task, ns, rem)
