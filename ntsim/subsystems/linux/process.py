"""Linux process and identity calls: exit, ids, limits, the FS base for TLS, uname."""

from __future__ import annotations

import os
import struct

from ...kernel.cpu import REGISTERS
from .errno import EFAULT, EINVAL, ENOSYS, EPERM, ESRCH, LinuxError
from .task import Task

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
RLIM_INFINITY = 0xFFFF_FFFF_FFFF_FFFF
RLIMIT_NAMES = {0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK",
                4: "RLIMIT_CORE", 5: "RLIMIT_RSS", 6: "RLIMIT_NPROC", 7: "RLIMIT_NOFILE",
                8: "RLIMIT_MEMLOCK", 9: "RLIMIT_AS", 10: "RLIMIT_LOCKS", 11: "RLIMIT_SIGPENDING",
                12: "RLIMIT_MSGQUEUE", 13: "RLIMIT_NICE", 14: "RLIMIT_RTPRIO", 15: "RLIMIT_RTTIME"}
DEFAULT_RLIMITS = {3: (8 << 20, RLIM_INFINITY), 4: (0, RLIM_INFINITY), 7: (1024, 4096),
                   6: (63_000, 63_000), 8: (8 << 20, 8 << 20), 11: (63_000, 63_000),
                   12: (819_200, 819_200)}
UTS_RELEASE = "5.10.0-ntsim"
FS_BASE = REGISTERS["fs_base"]
GS_BASE = REGISTERS["gs_base"]


def sys_getpid(task: Task) -> int:
    return task.thread.process.pid


def sys_gettid(task: Task) -> int:
    # Linux numbers a process's first thread with the process id.
    return task.linux_tid


def sys_getuid(task: Task) -> int:
    return task.lx.uid


def sys_getgid(task: Task) -> int:
    return task.lx.gid


def sys_set_tid_address(task: Task, tidptr: int) -> int:
    task.tid_address = tidptr
    return task.linux_tid


def sys_set_robust_list(task: Task, head: int, length: int) -> int:
    if length != 24:
        raise LinuxError(EINVAL, "robust list head is 24 bytes")
    task.robust_list = (head, length)
    return 0


def sys_arch_prctl(task: Task, code: int, addr: int) -> int:
    """The FS base is the x86-64 thread pointer: musl and glibc put TLS there."""
    uc = task.cpu.uc
    if code == ARCH_SET_FS:
        uc.reg_write(FS_BASE, addr)
        return 0
    if code == ARCH_SET_GS:
        uc.reg_write(GS_BASE, addr)
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        task.write_u64(addr, uc.reg_read(FS_BASE if code == ARCH_GET_FS else GS_BASE))
        return 0
    raise LinuxError(EINVAL, f"arch_prctl code {code:#x}")


def _limits(task: Task, resource: int) -> tuple[int, int]:
    if resource not in RLIMIT_NAMES:
        raise LinuxError(EINVAL, f"resource {resource}")
    return task.lx.rlimits.get(resource, DEFAULT_RLIMITS.get(resource, (RLIM_INFINITY, RLIM_INFINITY)))


def sys_prlimit64(task: Task, pid: int, resource: int, new: int, old: int) -> int:
    if pid not in (0, task.thread.process.pid):
        raise LinuxError(ESRCH)
    current = _limits(task, resource)
    if new:
        soft, hard = struct.unpack("<QQ", task.read(new, 16))
        if soft > hard:
            raise LinuxError(EINVAL)
        if hard > current[1] and task.lx.uid != 0:
            raise LinuxError(EPERM)
        if resource == 7 and hard > task.kernel.limits.max_open_files:
            # the machine's --max-open-files is this system's fs.nr_open: above it, EPERM
            raise LinuxError(EPERM, f"RLIMIT_NOFILE above {task.kernel.limits.max_open_files} "
                                    "(--max-open-files)")
        task.lx.rlimits[resource] = (soft, hard)
        if resource == 7:
            task.lx.fds.limit = min(soft, 1 << 20)
    if old:
        task.write(old, struct.pack("<QQ", *current))
    return 0


def sys_getrlimit(task: Task, resource: int, rlim: int) -> int:
    return sys_prlimit64(task, 0, resource, 0, rlim)


def sys_setrlimit(task: Task, resource: int, rlim: int) -> int:
    return sys_prlimit64(task, 0, resource, rlim, 0)


def sys_sched_yield(task: Task) -> int:
    task.nt.NtYieldExecution()
    return 0


def sys_rseq(task: Task, rseq: int, length: int, flags: int, signature: int) -> int:
    raise LinuxError(ENOSYS, "rseq")


def sys_uname(task: Task, buf: int) -> int:
    node = "ntsim" if task.kernel.deterministic else os.uname().nodename
    fields = ["Linux", node, UTS_RELEASE, "#1 SMP ntsim (an NT subsystem, not a kernel)",
              "x86_64", "(none)"]
    task.write(buf, b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields))
    return 0


def sys_getrandom(task: Task, buf: int, length: int, flags: int) -> int:
    if flags & ~0x7:
        raise LinuxError(EINVAL)
    if not buf and length:
        raise LinuxError(EFAULT)
    data = task.kernel.random_bytes(min(length, 1 << 25))
    task.write(buf, data)
    return len(data)


def host_umask() -> int:
    """The umask ntsim runs with: a guest started from a shell inherits it, as natively."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def host_ids() -> tuple[int, int]:
    """The guest runs as the user who runs ntsim (files it creates are theirs)."""
    return os.getuid(), os.getgid()


def host_nice() -> int:
    """The nice value ntsim runs with: a guest started from `nice ntsim ...` inherits it,
    as a native child would."""
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        return 0
