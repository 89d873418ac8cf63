"""The rest of a Linux system's small calls: accounting, the machine, scheduling, names.

What ntsim models here, and so what these calls report:

- **One processor.** Guest threads run one at a time on one host thread, so the machine
  has one CPU: CPU 0, NUMA node 0. sched_getaffinity gives {0}; a mask without CPU 0 is
  refused as Linux refuses a mask with no online CPU.
- **Processor time** is what the dispatcher counts per thread (the host CPU its quanta
  cost; the virtual clock's advance under --deterministic). NT keeps user and kernel time
  apart; this model does not, so all of it is reported as user time.
- **Memory** is the host's physical memory (8 GiB under --deterministic); what is in use
  is what the NT memory manager has given pages to (touched bytes) in every process.
- **Scheduling**: every thread is SCHED_OTHER at static priority 0; a nice value is
  kept per process and reported back, and changes nothing in the (round-robin) dispatcher.
"""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from ...kernel.memory import PAGE_SIZE
from ...kernel.services import NtCurrentProcess, ProcessTimes
from .errno import EACCES, EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH, LinuxError
from .identity import CAP_IPC_LOCK, CAP_SYS_ADMIN, CAP_SYS_NICE, capable, creds
from .task import Task

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel
    from ...kernel.processes import Process

CPU_COUNT = 1
USER_HZ = 100                       # clock_t ticks a second, as times() and /proc count
DETERMINISTIC_MEMORY = 8 << 30
RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1
PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2
SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE = 0, 1, 2, 3, 5
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
RLIMIT_MEMLOCK = 8
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_GET_KEEPCAPS, PR_SET_KEEPCAPS, PR_SET_NAME, PR_GET_NAME = 7, 8, 15, 16
PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS, PR_SET_NO_NEW_PRIVS = 21, 23, 39, 38
PR_GET_TIMERSLACK = 30
PRCTL_OPTIONS = {1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE",
                 4: "PR_SET_DUMPABLE", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
                 15: "PR_SET_NAME", 16: "PR_GET_NAME", 21: "PR_GET_SECCOMP",
                 23: "PR_CAPBSET_READ", 30: "PR_GET_TIMERSLACK", 38: "PR_SET_NO_NEW_PRIVS",
                 39: "PR_GET_NO_NEW_PRIVS"}
TASK_COMM_LEN = 16


# --- what the model knows --------------------------------------------------------------------


def linux_process(kernel: Kernel, pid: int) -> Process | None:
    """A live process of this personality by Linux pid (the NT process id)."""
    process = kernel.processes.get(pid)
    if process is None or not process.alive or getattr(process.data, "fds", None) is None:
        return None
    return process


def linux_processes(kernel: Kernel) -> list[Process]:
    return [p for p in kernel.processes.values()
            if p.alive and getattr(p.data, "fds", None) is not None]


def own_process(task: Task, pid: int) -> Process:
    """The process a `pid` argument names: 0 is the caller. Only processes of this
    personality can be named (ESRCH for the rest, as for a pid in another namespace)."""
    pid = pid & 0xFFFFFFFF
    if pid in (0, task.pid):
        return task.thread.process
    process = linux_process(task.kernel, pid)
    if process is None:
        raise LinuxError(ESRCH, f"no process {pid}")
    return process


def process_cpu_ns(kernel: Kernel, process: Process) -> int:
    """The run time of the process's threads (the one running now included)."""
    return sum(kernel.dispatcher.thread_time_ns(thread) for thread in process.threads)


def reaped_children(process: Process) -> list[Process]:
    """Children this process has waited for (exited, and no longer kept for wait)."""
    unreaped = getattr(process.data, "children", [])
    return [c for c in process.children
            if not c.alive and c not in unreaped and getattr(c.data, "fds", None) is not None]


def children_cpu_ns(kernel: Kernel, process: Process) -> int:
    """What getrusage(RUSAGE_CHILDREN) counts: waited-for children and, through them,
    the descendants they waited for."""
    return sum(process_cpu_ns(kernel, child) + children_cpu_ns(kernel, child)
               for child in reaped_children(process))


def memory_figures(kernel: Kernel) -> tuple[int, int]:
    """(total, in use) bytes of the modelled machine's memory."""
    if kernel.deterministic:
        total = DETERMINISTIC_MEMORY
    else:
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            total = DETERMINISTIC_MEMORY
    used = sum(p.touched_bytes for p in kernel.processes.values() if p.alive)
    return total, min(used, total)


def committed_bytes(kernel: Kernel) -> int:
    return sum(p.committed_bytes for p in kernel.processes.values() if p.alive)


def _timeval(ns: int) -> bytes:
    return struct.pack("<qq", ns // 10**9, ns % 10**9 // 1000)


# --- accounting --------------------------------------------------------------------------------


def sys_times(task: Task, buf: int) -> int:
    """struct tms in clock ticks; returns ticks since boot."""
    times = task.nt.NtQueryInformationProcess(NtCurrentProcess, ProcessTimes)
    user = times["UserTime"] * 100
    children = children_cpu_ns(task.kernel, task.thread.process)
    if buf:
        ticks = 10**9 // USER_HZ
        task.write(buf, struct.pack("<qqqq", user // ticks, times["KernelTime"] * 100 // ticks,
                                    children // ticks, 0))
    return task.nt.NtQueryPerformanceCounter() // (10**9 // USER_HZ)


def sys_getrusage(task: Task, who: int, buf: int) -> int:
    """struct rusage: processor time, peak resident set (touched memory, in KiB), and
    minor faults — every page NT's memory manager gave on first touch was one."""
    who = who - (1 << 64) if who >= 1 << 63 else who
    process = task.thread.process
    if who == RUSAGE_SELF:
        usage = rusage(process_cpu_ns(task.kernel, process), [process])
    elif who == RUSAGE_THREAD:
        usage = rusage(task.kernel.dispatcher.thread_time_ns(task.thread), [process])
    elif who == RUSAGE_CHILDREN:
        usage = rusage(children_cpu_ns(task.kernel, process), reaped_children(process))
    else:
        raise LinuxError(EINVAL, f"who {who}")
    task.write(buf, usage)
    return 0


def rusage(cpu_ns: int, processes: list[Process]) -> bytes:
    touched = [p.touched_bytes for p in processes]
    fields = (max(touched, default=0) // 1024, 0, 0, 0, sum(touched) // PAGE_SIZE, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return _timeval(cpu_ns) + _timeval(0) + struct.pack("<14q", *fields)


def child_rusage(kernel: Kernel, child: Process) -> bytes:
    """The struct rusage wait4 and waitid report for a child they reap: its own use and
    that of the descendants it reaped."""
    return rusage(process_cpu_ns(kernel, child) + children_cpu_ns(kernel, child), [child])


def sys_sysinfo(task: Task, buf: int) -> int:
    if not buf:
        raise LinuxError(EFAULT)
    kernel = task.kernel
    total, used = memory_figures(kernel)
    uptime = kernel.clock.monotonic_ns() // 10**9
    processes = sum(len(p.threads) for p in kernel.processes.values() if p.alive)
    task.write(buf, struct.pack("<q3Q6QHH4xQQI4x", uptime, 0, 0, 0, total, total - used, 0, 0,
                                0, 0, min(processes, 0xFFFF), 0, 0, 0, 1))
    return 0


# --- the processor -----------------------------------------------------------------------------


def sys_sched_getaffinity(task: Task, pid: int, size: int, mask: int) -> int:
    own_process(task, pid)
    if size * 8 < CPU_COUNT or size & 7:
        raise LinuxError(EINVAL, f"a cpu mask of {size} bytes")
    task.write(mask, (1).to_bytes(8, "little"))    # one long: CPU 0
    return 8


def sys_sched_setaffinity(task: Task, pid: int, size: int, mask: int) -> int:
    own_process(task, pid)
    wanted = int.from_bytes(task.read(mask, min(size, 128)), "little") if size else 0
    if not wanted & ((1 << CPU_COUNT) - 1):
        raise LinuxError(EINVAL, "the mask holds no CPU this machine has")
    return 0


def sys_getcpu(task: Task, cpu: int, node: int, cache: int) -> int:
    if cpu:
        task.write_u32(cpu, 0)
    if node:
        task.write_u32(node, 0)
    return 0


def sys_sched_getscheduler(task: Task, pid: int) -> int:
    if pid & 0xFFFFFFFF >= 1 << 31:
        raise LinuxError(EINVAL)
    own_process(task, pid)
    return SCHED_OTHER


def sys_sched_getparam(task: Task, pid: int, param: int) -> int:
    if pid & 0xFFFFFFFF >= 1 << 31 or not param:
        raise LinuxError(EINVAL)
    own_process(task, pid)
    task.write_u32(param, 0)          # sched_priority: 0 for SCHED_OTHER
    return 0


def sys_sched_get_priority_max(task: Task, policy: int) -> int:
    if policy in (SCHED_FIFO, SCHED_RR):
        return 99
    if policy in (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE):
        return 0
    raise LinuxError(EINVAL, f"policy {policy}")


def sys_sched_get_priority_min(task: Task, policy: int) -> int:
    if policy in (SCHED_FIFO, SCHED_RR):
        return 1
    if policy in (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE):
        return 0
    raise LinuxError(EINVAL, f"policy {policy}")


def _priority_targets(task: Task, which: int, who: int) -> list[Process]:
    who &= 0xFFFFFFFF
    if which == PRIO_PROCESS:
        return [own_process(task, who)]
    if which == PRIO_PGRP:
        group = who or task.lx.pgid
        found = [p for p in linux_processes(task.kernel) if p.data.pgid == group]
    elif which == PRIO_USER:
        user = who or creds(task).euid
        found = [p for p in linux_processes(task.kernel) if p.data.uid == user]
    else:
        raise LinuxError(EINVAL, f"which {which}")
    if not found:
        raise LinuxError(ESRCH)
    return found


def sys_getpriority(task: Task, which: int, who: int) -> int:
    """The kernel returns 20 - nice (1..40), so that no success looks like an error;
    the C library turns it back into the nice value."""
    return max(20 - p.data.nice for p in _priority_targets(task, which, who))


def sys_setpriority(task: Task, which: int, who: int, priority: int) -> int:
    nice = min(max(priority - (1 << 32) if priority >= 1 << 31 else priority, -20), 19)
    for process in _priority_targets(task, which, who):
        if nice < process.data.nice and not capable(task, CAP_SYS_NICE):
            raise LinuxError(EACCES, "lowering the nice value needs CAP_SYS_NICE")
        process.data.nice = nice
    return 0


# --- memory locking ----------------------------------------------------------------------------


def _lockable_pages(task: Task, address: int, length: int) -> list[int]:
    start = address & ~(PAGE_SIZE - 1)
    end = (address + length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    if end - start > task.kernel.limits.max_memory:
        # more than the machine's memory could ever hold locked: refused at once
        raise LinuxError(ENOMEM, f"{end - start:,} bytes is more than the machine's memory "
                                 "(--max-memory)")
    page = start
    while page < end:                  # every page mapped: one lookup per region
        vad = task.memory.find(page)
        if vad is None:
            raise LinuxError(ENOMEM, f"{page:#x} is not mapped")
        page = vad.end
    return list(range(start, end, PAGE_SIZE))


def _lock_limit(task: Task, pages: set[int]) -> None:
    """Without CAP_IPC_LOCK, a process may lock no more than RLIMIT_MEMLOCK bytes."""
    if capable(task, CAP_IPC_LOCK):
        return
    soft = task.lx.rlimits.get(RLIMIT_MEMLOCK, (8 << 20, 8 << 20))[0]
    if soft == 0:
        raise LinuxError(EPERM, "RLIMIT_MEMLOCK is 0")
    if len(pages) * PAGE_SIZE > soft:
        raise LinuxError(ENOMEM, "over RLIMIT_MEMLOCK")


def _locked(task: Task) -> set[int]:
    return task.lx.locked_pages


def sys_mlock(task: Task, address: int, length: int) -> int:
    """Locked pages are pages NT may never page out. The model has no paging file
    to page to, so every committed page already stays; what mlock adds is Linux's
    accounting against RLIMIT_MEMLOCK (VmLck in /proc/self/status)."""
    pages = _lockable_pages(task, address, length)
    _lock_limit(task, _locked(task) | set(pages))
    _locked(task).update(pages)
    return 0


def sys_mlock2(task: Task, address: int, length: int, flags: int) -> int:
    if flags & ~1:                     # MLOCK_ONFAULT
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    return sys_mlock(task, address, length)


def sys_munlock(task: Task, address: int, length: int) -> int:
    _locked(task).difference_update(_lockable_pages(task, address, length))
    return 0


def sys_mlockall(task: Task, flags: int) -> int:
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    if flags & MCL_CURRENT:
        if task.memory.committed_bytes > task.kernel.limits.max_memory:
            raise LinuxError(ENOMEM, "more committed than the machine's memory (--max-memory)")
        pages = {page for vad in task.memory.vads for page in vad.committed}
        _lock_limit(task, pages)
        _locked(task).update(pages)
    return 0


def sys_munlockall(task: Task) -> int:
    _locked(task).clear()
    return 0


# --- names and modes ---------------------------------------------------------------------------


def sys_sethostname(task: Task, name: int, length: int) -> int:
    if length > 64:
        raise LinuxError(EINVAL, "a host name has at most 64 bytes")
    if not capable(task, CAP_SYS_ADMIN):
        raise LinuxError(EPERM, "sethostname needs CAP_SYS_ADMIN")
    raise LinuxError(EPERM, "the host name is the host's: ntsim models no UTS namespace to change")


def sys_setdomainname(task: Task, name: int, length: int) -> int:
    return sys_sethostname(task, name, length)


def sys_personality(task: Task, persona: int) -> int:
    """0xffffffff asks; anything else sets (and returns the old value). The flags are
    kept and reported only: ntsim's address-space layout is fixed anyway."""
    old = task.lx.personality
    if persona & 0xFFFFFFFF != 0xFFFFFFFF:
        task.lx.personality = persona & 0xFFFFFFFF
    return old


def comm_of(lx) -> str:
    """The task name (/proc/PID/comm): what PR_SET_NAME set, else the program's name."""
    return lx.comm or os.path.basename(lx.exe)[:TASK_COMM_LEN - 1]


def sys_prctl(task: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    option &= 0xFFFFFFFF
    own = creds(task)
    if option == PR_SET_NAME:
        raw = task.read_string(arg2, TASK_COMM_LEN).encode("utf-8", "surrogateescape")
        task.lx.comm = raw[:TASK_COMM_LEN - 1].decode("utf-8", "surrogateescape")
        return 0
    if option == PR_GET_NAME:
        name = comm_of(task.lx).encode("utf-8", "surrogateescape")[:TASK_COMM_LEN - 1]
        task.write(arg2, name.ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return int(own.dumpable)
    if option == PR_SET_DUMPABLE:
        if arg2 not in (0, 1):
            raise LinuxError(EINVAL, f"dumpable {arg2}")
        task.lx.creds = replace(own, dumpable=bool(arg2))
        return 0
    if option == PR_GET_KEEPCAPS:
        return int(own.keep_caps)
    if option == PR_SET_KEEPCAPS:
        if arg2 not in (0, 1):
            raise LinuxError(EINVAL)
        task.lx.creds = replace(own, keep_caps=bool(arg2))
        return 0
    if option == PR_SET_NO_NEW_PRIVS:
        if arg2 != 1 or arg3 or arg4 or arg5:
            raise LinuxError(EINVAL, "no_new_privs can only be set, never cleared")
        task.lx.creds = replace(own, no_new_privs=True)
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if arg2 or arg3 or arg4 or arg5:
            raise LinuxError(EINVAL)
        return int(own.no_new_privs)
    if option == PR_CAPBSET_READ:
        if arg2 > 40:
            raise LinuxError(EINVAL, f"capability {arg2}")
        return 1                       # the bounding set holds every capability
    if option == PR_GET_SECCOMP:
        return 0                       # no seccomp filter: none is modelled
    if option == PR_GET_TIMERSLACK:
        return 50_000                  # Linux's default 50 µs (the dispatcher has no slack)
    if option == PR_GET_PDEATHSIG:
        task.write_u32(arg2, 0)        # no parent-death signal: PR_SET_PDEATHSIG is not modelled
        return 0
    raise LinuxError(EINVAL, f"prctl option {PRCTL_OPTIONS.get(option, option)} is not modelled")


def sys_no_numa(task: Task, *_arguments: int) -> int:
    """mbind, set_mempolicy, get_mempolicy, migrate_pages, move_pages: one memory node and
    no NUMA support, so ENOSYS, as a kernel built without CONFIG_NUMA gives."""
    raise LinuxError(ENOSYS, "no NUMA support")
