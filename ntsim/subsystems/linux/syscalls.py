"""The x86-64 Linux system-call table, and the dispatcher that the `syscall` trap enters.

One row per call: number, name, typed arguments, support level, handler. The table is
the single source for the dispatcher, for the tracer (which decodes arguments from the
types), for `ntsim calls lxss`, and for the documentation.

The trap path, in order (read `on_syscall` below):
  1. the CPU traps on `syscall`; RAX holds the number, RDI RSI RDX R10 R8 R9 the arguments;
  2. the row's handler runs with the calling Task and the raw arguments;
  3. it returns a value, or raises LinuxError (-errno), or an Nt* service under it fails
     (NtStatusError, mapped to the errno Linux would give), or it must wait (WaitPending:
     the thread parks, and the result is written when the wait completes);
  4. the result goes into RAX and the guest resumes after the `syscall` instruction.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from unicorn.x86_const import (
    UC_X86_REG_R8,
    UC_X86_REG_R9,
    UC_X86_REG_R10,
    UC_X86_REG_RAX,
    UC_X86_REG_RDI,
    UC_X86_REG_RDX,
    UC_X86_REG_RSI,
)

from ...kernel.dispatcher import WaitPending
from ...kernel.status import NtStatusError
from ...trace import PERSONALITY, Arg, ArgType, Buffer, CString, Enum, Flags, Hex, Int, Int32
from ..base import PARTIAL, SUPPORTED, UNSUPPORTED, CallRow
from . import files, memory, process, signals, time
from .errno import ENOSYS, ERRNO_NAMES, LinuxError, errno_from_status
from .syscall_names import SYSCALL_NAMES

ARGUMENT_REGISTERS = (UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX, UC_X86_REG_R10,
                      UC_X86_REG_R8, UC_X86_REG_R9)
MASK64 = 0xFFFF_FFFF_FFFF_FFFF


# --- argument types ----------------------------------------------------------------------------


class Octal(ArgType):
    def decode(self, value, ctx):
        return f"0{int(value) & 0o7777:o}"


class AtFd(ArgType):
    def decode(self, value, ctx):
        value = files.signed32(int(value))
        return "AT_FDCWD" if value == -100 else value


Fd = Int32()
Path = CString()
Size = Int()
Pointer = Hex()
OpenFlags = Flags({0o100: "O_CREAT", 0o200: "O_EXCL", 0o400: "O_NOCTTY", 0o1000: "O_TRUNC",
                   0o2000: "O_APPEND", 0o4000: "O_NONBLOCK", 0o200000: "O_DIRECTORY",
                   0o400000: "O_NOFOLLOW", 0o2000000: "O_CLOEXEC", 0o10000000: "O_PATH",
                   0o100000: "O_LARGEFILE", 0o10000: "O_DSYNC"},
                  {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}, mask=0o3)
Prot = Flags({1: "PROT_READ", 2: "PROT_WRITE", 4: "PROT_EXEC"}, {0: "PROT_NONE"})
MapFlags = Flags({0x1: "MAP_SHARED", 0x2: "MAP_PRIVATE", 0x10: "MAP_FIXED",
                  0x20: "MAP_ANONYMOUS", 0x100: "MAP_GROWSDOWN", 0x4000: "MAP_NORESERVE",
                  0x8000: "MAP_POPULATE", 0x20000: "MAP_STACK", 0x100000: "MAP_FIXED_NOREPLACE"})
Whence = Enum({0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"})
ClockId = Enum(time.CLOCK_NAMES)
AtFlags = Flags({0x100: "AT_SYMLINK_NOFOLLOW", 0x200: "AT_REMOVEDIR", 0x400: "AT_SYMLINK_FOLLOW",
                 0x800: "AT_NO_AUTOMOUNT", 0x1000: "AT_EMPTY_PATH"})
FcntlCmd = Enum({0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
                 5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 1030: "F_DUPFD_CLOEXEC"})
IoctlRequest = Enum({0x5401: "TCGETS", 0x5402: "TCSETS", 0x5413: "TIOCGWINSZ",
                     0x540F: "TIOCGPGRP", 0x541B: "FIONREAD"})
ArchCode = Enum({0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
                 0x1004: "ARCH_GET_GS"})
Resource = Enum(process.RLIMIT_NAMES)
SigHow = Enum({0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"})
Signal = Enum({1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
               7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV",
               12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD",
               18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 32: "SIGRTMIN", 33: "SIGRT_1"})


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Syscall:
    number: int
    name: str
    handler: Callable | None
    args: tuple[Arg, ...] = ()
    level: str = SUPPORTED
    note: str = ""
    registers: tuple[int, ...] = field(default=(), compare=False)
    names: tuple[str, ...] = field(default=(), compare=False)


def call(number: int, name: str, handler: Callable | None, *args: tuple[str, ArgType],
         level: str = SUPPORTED, note: str = "") -> Syscall:
    arguments = tuple(Arg(n, t) for n, t in args)
    return Syscall(number, name, handler, arguments, level, note,
                   ARGUMENT_REGISTERS[:len(arguments)], tuple(a.name for a in arguments))


def unsupported(number: int, name: str, reason: str, *args: tuple[str, ArgType]) -> Syscall:
    return call(number, name, None, *args, level=UNSUPPORTED, note=reason)


TABLE: tuple[Syscall, ...] = (
    # files: data
    call(0, "read", files.sys_read, ("fd", Fd), ("buf", Buffer("result", output=True)), ("count", Size)),
    call(1, "write", files.sys_write, ("fd", Fd), ("buf", Buffer("count")), ("count", Size)),
    call(17, "pread64", files.sys_pread64, ("fd", Fd), ("buf", Buffer("result", output=True)),
         ("count", Size), ("offset", Int())),
    call(18, "pwrite64", files.sys_pwrite64, ("fd", Fd), ("buf", Buffer("count")), ("count", Size),
         ("offset", Int())),
    call(19, "readv", files.sys_readv, ("fd", Fd), ("iov", Pointer), ("iovcnt", Int())),
    call(20, "writev", files.sys_writev, ("fd", Fd), ("iov", Pointer), ("iovcnt", Int())),
    call(295, "preadv", files.sys_preadv, ("fd", Fd), ("iov", Pointer), ("iovcnt", Int()), ("offset", Int())),
    call(296, "pwritev", files.sys_pwritev, ("fd", Fd), ("iov", Pointer), ("iovcnt", Int()), ("offset", Int())),
    call(8, "lseek", files.sys_lseek, ("fd", Fd), ("offset", Int()), ("whence", Whence),
         level=PARTIAL, note="SEEK_DATA/SEEK_HOLE unsupported; directories rewind to 0 only"),
    # files: opening and descriptors
    call(2, "open", files.sys_open, ("pathname", Path), ("flags", OpenFlags), ("mode", Octal())),
    call(257, "openat", files.sys_openat, ("dirfd", AtFd()), ("pathname", Path), ("flags", OpenFlags),
         ("mode", Octal())),
    call(85, "creat", files.sys_creat, ("pathname", Path), ("mode", Octal())),
    call(3, "close", files.sys_close, ("fd", Fd)),
    call(32, "dup", files.sys_dup, ("oldfd", Fd)),
    call(33, "dup2", files.sys_dup2, ("oldfd", Fd), ("newfd", Fd)),
    call(292, "dup3", files.sys_dup3, ("oldfd", Fd), ("newfd", Fd), ("flags", OpenFlags)),
    call(72, "fcntl", files.sys_fcntl, ("fd", Fd), ("cmd", FcntlCmd), ("arg", Hex()),
         level=PARTIAL, note="F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL; locks give EINVAL"),
    call(16, "ioctl", files.sys_ioctl, ("fd", Fd), ("request", IoctlRequest), ("arg", Pointer),
         level=PARTIAL, note="TCGETS, TIOCGWINSZ, TIOCGPGRP on the console; ENOTTY elsewhere"),
    # files: metadata
    call(5, "fstat", files.sys_fstat, ("fd", Fd), ("statbuf", Pointer)),
    call(4, "stat", files.sys_stat, ("pathname", Path), ("statbuf", Pointer)),
    call(6, "lstat", files.sys_lstat, ("pathname", Path), ("statbuf", Pointer)),
    call(262, "newfstatat", files.sys_newfstatat, ("dirfd", AtFd()), ("pathname", Path),
         ("statbuf", Pointer), ("flags", AtFlags)),
    call(332, "statx", files.sys_statx, ("dirfd", AtFd()), ("pathname", Path), ("flags", AtFlags),
         ("mask", Hex()), ("statxbuf", Pointer)),
    call(21, "access", files.sys_access, ("pathname", Path), ("mode", Int())),
    call(269, "faccessat", files.sys_faccessat, ("dirfd", AtFd()), ("pathname", Path), ("mode", Int())),
    call(439, "faccessat2", files.sys_faccessat2, ("dirfd", AtFd()), ("pathname", Path), ("mode", Int()),
         ("flags", AtFlags)),
    call(89, "readlink", files.sys_readlink, ("pathname", Path), ("buf", Buffer("result", output=True)),
         ("bufsiz", Size)),
    call(267, "readlinkat", files.sys_readlinkat, ("dirfd", AtFd()), ("pathname", Path),
         ("buf", Buffer("result", output=True)), ("bufsiz", Size)),
    # files: directories and names
    call(217, "getdents64", files.sys_getdents64, ("fd", Fd), ("dirp", Pointer), ("count", Size)),
    call(83, "mkdir", files.sys_mkdir, ("pathname", Path), ("mode", Octal())),
    call(258, "mkdirat", files.sys_mkdirat, ("dirfd", AtFd()), ("pathname", Path), ("mode", Octal())),
    call(84, "rmdir", files.sys_rmdir, ("pathname", Path)),
    call(87, "unlink", files.sys_unlink, ("pathname", Path)),
    call(263, "unlinkat", files.sys_unlinkat, ("dirfd", AtFd()), ("pathname", Path), ("flags", AtFlags)),
    call(82, "rename", files.sys_rename, ("oldpath", Path), ("newpath", Path)),
    call(264, "renameat", files.sys_renameat, ("olddirfd", AtFd()), ("oldpath", Path),
         ("newdirfd", AtFd()), ("newpath", Path)),
    call(316, "renameat2", files.sys_renameat2, ("olddirfd", AtFd()), ("oldpath", Path),
         ("newdirfd", AtFd()), ("newpath", Path), ("flags", Hex()),
         level=PARTIAL, note="RENAME_NOREPLACE; RENAME_EXCHANGE gives EINVAL"),
    call(79, "getcwd", files.sys_getcwd, ("buf", Pointer), ("size", Size)),
    call(80, "chdir", files.sys_chdir, ("path", Path)),
    call(81, "fchdir", files.sys_fchdir, ("fd", Fd)),
    # memory
    call(12, "brk", memory.sys_brk, ("addr", Pointer)),
    call(9, "mmap", memory.sys_mmap, ("addr", Pointer), ("length", Size), ("prot", Prot),
         ("flags", MapFlags), ("fd", Fd), ("offset", Int()),
         level=PARTIAL, note="anonymous, and private or read-only file mappings (copied); "
                             "writable MAP_SHARED files give ENODEV"),
    call(11, "munmap", memory.sys_munmap, ("addr", Pointer), ("length", Size)),
    call(10, "mprotect", memory.sys_mprotect, ("addr", Pointer), ("len", Size), ("prot", Prot)),
    call(28, "madvise", memory.sys_madvise, ("addr", Pointer), ("length", Size), ("advice", Int())),
    # process and identity
    call(60, "exit", process.sys_exit, ("status", Int())),
    call(231, "exit_group", process.sys_exit_group, ("status", Int())),
    call(39, "getpid", process.sys_getpid),
    call(110, "getppid", process.sys_getppid),
    call(186, "gettid", process.sys_gettid),
    call(102, "getuid", process.sys_getuid),
    call(107, "geteuid", process.sys_getuid),
    call(104, "getgid", process.sys_getgid),
    call(108, "getegid", process.sys_getgid),
    call(218, "set_tid_address", process.sys_set_tid_address, ("tidptr", Pointer)),
    call(273, "set_robust_list", process.sys_set_robust_list, ("head", Pointer), ("len", Size),
         level=PARTIAL, note="recorded; robust futexes come with threads"),
    call(158, "arch_prctl", process.sys_arch_prctl, ("code", ArchCode), ("addr", Pointer)),
    call(302, "prlimit64", process.sys_prlimit64, ("pid", Int()), ("resource", Resource),
         ("new_limit", Pointer), ("old_limit", Pointer)),
    call(97, "getrlimit", process.sys_getrlimit, ("resource", Resource), ("rlim", Pointer)),
    call(160, "setrlimit", process.sys_setrlimit, ("resource", Resource), ("rlim", Pointer)),
    call(24, "sched_yield", process.sys_sched_yield),
    call(63, "uname", process.sys_uname, ("buf", Pointer)),
    call(318, "getrandom", process.sys_getrandom, ("buf", Pointer), ("buflen", Size), ("flags", Hex())),
    call(334, "rseq", process.sys_rseq, ("rseq", Pointer), ("rseq_len", Size), ("flags", Hex()),
         ("sig", Hex()), level=PARTIAL,
         note="ENOSYS, as before Linux 4.18: restartable sequences are not modelled, and C libraries run without them"),
    # time
    call(228, "clock_gettime", time.sys_clock_gettime, ("clockid", ClockId), ("tp", Pointer)),
    call(229, "clock_getres", time.sys_clock_getres, ("clockid", ClockId), ("res", Pointer)),
    call(96, "gettimeofday", time.sys_gettimeofday, ("tv", Pointer), ("tz", Pointer)),
    call(201, "time", time.sys_time, ("tloc", Pointer)),
    call(35, "nanosleep", time.sys_nanosleep, ("req", Pointer), ("rem", Pointer)),
    call(230, "clock_nanosleep", time.sys_clock_nanosleep, ("clockid", ClockId), ("flags", Int()),
         ("req", Pointer), ("rem", Pointer)),
    # signals
    call(13, "rt_sigaction", signals.sys_rt_sigaction, ("signum", Signal), ("act", Pointer),
         ("oldact", Pointer), ("sigsetsize", Size),
         level=PARTIAL, note="dispositions recorded; delivery is not modelled yet"),
    call(14, "rt_sigprocmask", signals.sys_rt_sigprocmask, ("how", SigHow), ("set", Pointer),
         ("oldset", Pointer), ("sigsetsize", Size),
         level=PARTIAL, note="the mask is kept; delivery is not modelled yet"),
)

BY_NUMBER: dict[int, Syscall] = {row.number: row for row in TABLE}


def call_rows() -> list[CallRow]:
    """Every x86-64 call: the table's rows, and the rest as unsupported by omission."""
    rows = [CallRow(r.number, r.name, tuple(a.name for a in r.args), r.level, r.note) for r in TABLE]
    for number, name in SYSCALL_NAMES.items():
        if number not in BY_NUMBER:
            rows.append(CallRow(number, name, (), UNSUPPORTED, "not implemented: returns ENOSYS"))
    return sorted(rows, key=lambda r: r.number)


# --- the dispatcher ----------------------------------------------------------------------------


class _NoInterceptors:
    active = False


class SyscallDispatcher:
    """Installed on each Linux process's CPU; one per personality instance."""

    def __init__(self, kernel, interceptors=None) -> None:
        self.kernel = kernel
        # the Python API's before/instead/after hooks and call breakpoints
        self.interceptors = interceptors if interceptors is not None else _NoInterceptors()

    def on_syscall(self, uc, _user_data) -> None:
        """The `syscall` trap. This is the hot path: keep it short."""
        kernel = self.kernel
        task = kernel.current_thread.data
        read = task.cpu.registers.read
        number = read(UC_X86_REG_RAX)
        row = BY_NUMBER.get(number)
        if kernel.deterministic:
            kernel.clock.advance(1_000)
        if row is None or row.handler is None:
            self._unsupported(task, number, row, uc)
            return
        args = [read(register) for register in row.registers]
        if kernel.tracer.enabled or self.interceptors.active:
            self._traced(task, row, args, uc)
            return
        try:
            result = row.handler(task, *args)
        except LinuxError as error:
            result = -error.errno
        except NtStatusError as error:
            result = -errno_from_status(error.status)
        except WaitPending as pending:
            self._park(task, row, pending, None)
            return
        if result is not None:
            task.cpu.registers.write(UC_X86_REG_RAX, result)

    def _unsupported(self, task, number: int, row: Syscall | None, uc) -> None:
        name = row.name if row else SYSCALL_NAMES.get(number, f"syscall_{number}")
        reason = row.note if row else "not implemented"
        if number not in task.lx.warned:
            task.lx.warned.add(number)
            print(f"ntsim: lxss: unsupported system call {name} ({number}) returns ENOSYS: {reason}",
                  file=sys.stderr)
        tracer = self.kernel.tracer
        if tracer.enabled:
            args = {} if row is None else None
            event = tracer.open(task.thread, PERSONALITY, name,
                                {a.name: uc.reg_read(r) for a, r in zip(row.args, row.registers, strict=False)}
                                if row else None, row.args if row else (), decoded=args)
            tracer.close(task.thread, event, -ENOSYS, "ENOSYS")
        uc.reg_write(UC_X86_REG_RAX, -ENOSYS & MASK64)

    def _traced(self, task, row: Syscall, args: list[int], uc) -> None:
        """The same call, with a trace event and the API's interception points."""
        tracer = self.kernel.tracer
        raw = dict(zip(row.names, args, strict=False))
        handler = row.handler
        interceptors = self.interceptors
        if interceptors.active:
            if interceptors.stop_before(task, row, raw):
                # A breakpoint on this call: stop before it runs; it runs when resumed.
                task.cpu.resume_after_syscall_at(task.cpu.pc)
                task.cpu.request_stop("breakpoint")
                return
            handler = interceptors.wrap(row, handler)
        event = tracer.open(task.thread, PERSONALITY, row.name, raw, row.args) if tracer.enabled else None
        try:
            result = handler(task, *args)
        except LinuxError as error:
            result = -error.errno
        except NtStatusError as error:
            result = -errno_from_status(error.status)
        except WaitPending as pending:
            if event is not None:
                tracer.suspend(task.thread, event)
            self._park(task, row, pending, event)
            return
        self._finish(task, row, result, event, uc)

    def _finish(self, task, row: Syscall, result, event, uc) -> None:
        if event is not None:
            error = ERRNO_NAMES.get(-result) if isinstance(result, int) and -4096 < result < 0 else None
            self.kernel.tracer.close(task.thread, event, result, error)
        if result is not None and task.thread.process.alive:
            task.cpu.registers.write(UC_X86_REG_RAX, result)

    def _park(self, task, row: Syscall, pending: WaitPending, event) -> None:
        """The call must wait: park the thread; finish the call when it is woken."""

        def on_wake(status: int) -> None:
            if event is not None:
                self.kernel.tracer.resume(task.thread, event)
            try:
                result = pending.complete(status)
            except LinuxError as error:
                result = -error.errno
            except NtStatusError as error:
                result = -errno_from_status(error.status)
            except WaitPending as again:
                if event is not None:
                    self.kernel.tracer.suspend(task.thread, event)
                self._park(task, row, again, event)
                return
            self._finish(task, row, result, event, task.cpu.uc)

        self.kernel.dispatcher.park(task.thread, pending, on_wake)
        task.cpu.request_stop()   # even if the wait is already satisfied: on_wake runs first
