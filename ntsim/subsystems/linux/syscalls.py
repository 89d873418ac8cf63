"""The x86-64 Linux system-call table, its ABI and its errors: what LXSS gives the call gate.

One row per call: number, name, typed arguments, support level, handler. The table is
the single source for the gate, for the tracer (which decodes arguments from the
types), for `ntsim calls lxss`, and for the documentation.

The trap path is the one every personality shares (`subsystems/base.py`, CallGate):
  1. the CPU traps on `syscall`; RAX holds the number, RDI RSI RDX R10 R8 R9 the arguments
     (`LINUX_ABI`);
  2. the row's handler runs with the calling Task and the raw arguments;
  3. it returns a value, or raises LinuxError (-errno), or an Nt* service under it fails
     (NtStatusError, mapped to the errno Linux would give: `LinuxErrors`), or it must
     wait (WaitPending: the thread parks, and the result is written when the wait
     completes — or a signal interrupts it, and the call ends with EINTR or restarts);
  4. the result goes into RAX, pending signals are delivered on the way back to user
     mode, and the guest resumes after the `syscall` instruction.

Only Linux semantics live here and in the handlers; where a call's work goes is the
handlers' business (today the Nt* services), so another backend can reuse the table.
"""

from __future__ import annotations

from typing import Any

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
from ...kernel.status import STATUS_USER_APC, NtStatusError
from ...trace import ArgType, Buffer, CString, Enum, Flags, Hex, Int, Int32
from ..base import (
    PARTIAL,
    UNSUPPORTED,
    Call,
    CallGate,
    CallRow,
    ErrorMapping,
    RegisterAbi,
    call,
)
from . import (
    epoll,
    files,
    fsroot,
    futex,
    identity,
    inodes,
    lifecycle,
    locks,
    lxcore,
    memory,
    pipes,
    poll,
    process,
    ptrace,
    signals,
    sockets,
    system,
    time,
    timers,
    xattrs,
)
from .errno import ENOMEM, ENOSYS, ERRNO_NAMES, LinuxError, errno_from_status
from .syscall_names import SYSCALL_NAMES

ARGUMENT_REGISTERS = (UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX, UC_X86_REG_R10,
                      UC_X86_REG_R8, UC_X86_REG_R9)


# --- argument types ----------------------------------------------------------------------------


class Octal(ArgType):
    def decode(self, value, ctx):
        return f"0{int(value) & 0o7777:o}"


class AtFd(ArgType):
    def decode(self, value, ctx):
        value = files.signed32(int(value))
        return "AT_FDCWD" if value == -100 else value


class StringVector(ArgType):
    """argv: a NULL-terminated array of pointers to strings, shown as the strings (as
    strace shows them). Decoded when the call starts: a successful execve replaces the
    memory they live in."""

    LIMIT = 64

    def decode(self, value, ctx):
        address = int(value)
        if not address:
            return None
        strings = []
        try:
            for index in range(self.LIMIT):
                pointer = int.from_bytes(ctx.read(address + 8 * index, 8), "little")
                if not pointer:
                    return strings
                strings.append(ctx.read_cstring(pointer).decode("utf-8", "backslashreplace"))
        except Exception:
            return hex(address)
        return [*strings, "..."]


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
                  0x20: "MAP_ANONYMOUS", 0x100: "MAP_GROWSDOWN", 0x800: "MAP_DENYWRITE",
                  0x1000: "MAP_EXECUTABLE", 0x2000: "MAP_LOCKED", 0x4000: "MAP_NORESERVE",
                  0x8000: "MAP_POPULATE", 0x20000: "MAP_STACK", 0x100000: "MAP_FIXED_NOREPLACE"})
MremapFlags = Flags({1: "MREMAP_MAYMOVE", 2: "MREMAP_FIXED", 4: "MREMAP_DONTUNMAP"})
MsyncFlags = Flags({1: "MS_ASYNC", 2: "MS_INVALIDATE", 4: "MS_SYNC"})
Who = Enum({0: "RUSAGE_SELF", 0xFFFFFFFFFFFFFFFF: "RUSAGE_CHILDREN", 1: "RUSAGE_THREAD"})
PrctlOption = Enum(system.PRCTL_OPTIONS)
Whence = Enum({0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"})
ClockId = Enum(time.CLOCK_NAMES)
AtFlags = Flags({0x100: "AT_SYMLINK_NOFOLLOW", 0x200: "AT_REMOVEDIR", 0x400: "AT_SYMLINK_FOLLOW",
                 0x800: "AT_NO_AUTOMOUNT", 0x1000: "AT_EMPTY_PATH"})
EventfdFlags = Flags({1: "EFD_SEMAPHORE", 0o4000: "EFD_NONBLOCK", 0o2000000: "EFD_CLOEXEC"})
FlockOp = Flags({4: "LOCK_NB"}, {1: "LOCK_SH", 2: "LOCK_EX", 8: "LOCK_UN"}, mask=0xB)
FcntlCmd = Enum({0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
                 5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 36: "F_OFD_GETLK", 37: "F_OFD_SETLK",
                 38: "F_OFD_SETLKW", 1030: "F_DUPFD_CLOEXEC",
                 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ"})
IoctlRequest = Enum({0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
                     0x5413: "TIOCGWINSZ", 0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP",
                     0x5429: "TIOCGSID", 0x541B: "FIONREAD", 0x5421: "FIONBIO"})
ArchCode = Enum({0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
                 0x1004: "ARCH_GET_GS"})
Resource = Enum(process.RLIMIT_NAMES)
PtraceRequest = Enum(ptrace.REQUEST_NAMES)
CloneFlags = Flags({0x100: "CLONE_VM", 0x200: "CLONE_FS", 0x400: "CLONE_FILES", 0x800: "CLONE_SIGHAND",
                    0x4000: "CLONE_VFORK", 0x8000: "CLONE_PARENT", 0x10000: "CLONE_THREAD",
                    0x40000: "CLONE_SYSVSEM", 0x80000: "CLONE_SETTLS", 0x100000: "CLONE_PARENT_SETTID",
                    0x200000: "CLONE_CHILD_CLEARTID",
                    0x400000: "CLONE_DETACHED",   # musl's pthread_create passes it; Linux ignores it
                    0x1000000: "CLONE_CHILD_SETTID", 17: "SIGCHLD"})
WaitOptions = Flags({1: "WNOHANG", 2: "WUNTRACED", 4: "WEXITED", 8: "WCONTINUED",
                     0x01000000: "WNOWAIT", 0x40000000: "__WALL"})
FutexOp = Flags({128: "FUTEX_PRIVATE_FLAG", 256: "FUTEX_CLOCK_REALTIME"},
                {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
                 5: "FUTEX_WAKE_OP", 9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET"}, mask=0x7F)
SigHow = Enum({0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"})
PipeFlags = Flags({0o4000: "O_NONBLOCK", 0o40000: "O_DIRECT", 0o2000000: "O_CLOEXEC"})
Signal = Enum(signals.SIGNAL_NAMES)
ItimerWhich = Enum(signals.ITIMER_NAMES)
EpollFlags = Flags({epoll.EPOLL_CLOEXEC: "EPOLL_CLOEXEC"})
EpollOp = Enum(epoll.EPOLL_CTL_NAMES)
EpollEventBits = Flags(epoll.EPOLL_EVENT_NAMES)


class EpollEvents(ArgType):
    """struct epoll_event in guest memory, as strace shows it: epoll_ctl's one (read when
    the call starts), or epoll_wait's array, as many as the result (read when it ends)."""

    LIMIT = 8

    def __init__(self, count: str | None = None) -> None:
        self.count = count
        self.output = count is not None

    def decode(self, value, ctx):
        address = int(value)
        if not address:
            return None
        count = 1 if self.count is None else ctx.result
        if not isinstance(count, int) or count <= 0:
            return hex(address)
        try:
            raw = ctx.read(address, epoll.EPOLL_EVENT.size * min(count, self.LIMIT))
        except Exception:
            return hex(address)
        shown = [f"{{events={EpollEventBits.decode(bits, ctx)}, data={data:#x}}}"
                 for bits, data in epoll.EPOLL_EVENT.iter_unpack(raw)]
        if self.count is None:
            return shown[0]
        return "[" + ", ".join(shown + (["..."] if count > self.LIMIT else [])) + "]"


XATTR_NOTE = ("the guest's own attributes, as EAs \"LXX:<name>\" kept apart from lxfs's metadata (xattrs.py); user.*, and trusted.*/security.* with CAP_SYS_ADMIN; write permission is the host's")

# --- the table ---------------------------------------------------------------------------------
#
# Rows are `call(number, name, handler, (argument, type)...)` and `unsupported(number,
# name, reason)` from subsystems/base.py: the same rows every personality writes.

# The calls about addresses and connections, which a socketpair's socket has no use for:
# (number, name, handler, other arguments' names, what a socket fd gets)
SOCKET_ADDRESS_CALLS = (
    (42, "connect", sockets.sys_connect, ("addr", "addrlen"),
     "AF_UNIX: a path or abstract name a listener bound; the connection is a full-duplex NPFS "
     "pipe (unix.py); ECONNREFUSED where nobody listens, EISCONN when connected"),
    (43, "accept", sockets.sys_accept, ("addr", "addrlen"),
     "AF_UNIX: the next connection of the listener's backlog (waits, interruptibly)"),
    (49, "bind", sockets.sys_bind, ("addr", "addrlen"),
     "AF_UNIX: a path (a socket file made in the guest's file system) or an abstract name; "
     "an address of the family alone autobinds; EADDRINUSE if taken"),
    (50, "listen", sockets.sys_listen, ("backlog",),
     "AF_UNIX: a bound socket starts taking connections (the backlog is not bounded); EINVAL unbound"),
    (288, "accept4", sockets.sys_accept, ("addr", "addrlen", "flags"),
     "as accept, with SOCK_NONBLOCK and SOCK_CLOEXEC"),
    (299, "recvmmsg", sockets.not_a_socket, ("msgvec", "vlen", "flags", "timeout"),
     "EOPNOTSUPP: not modelled (recvmsg is)"),
    (307, "sendmmsg", sockets.not_a_socket, ("msgvec", "vlen", "flags"),
     "EOPNOTSUPP: not modelled (sendmsg is)"),
)
SOCKET_ONLY = ("AF_UNIX stream sockets, and AF_INET/AF_INET6 through AFD; on another fd EBADF if "
               "closed, ENOTSOCK if not a socket")
SocketDomain = Enum({1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"})
SocketType = Flags({0o4000: "SOCK_NONBLOCK", 0o2000000: "SOCK_CLOEXEC"},
                   {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}, mask=0xF)
MsgFlags = Flags({0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x40: "MSG_DONTWAIT", 0x100: "MSG_WAITALL",
                  0x4000: "MSG_NOSIGNAL", 0x8000: "MSG_MORE"})
ShutHow = Enum({0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"})
SockoptName = Enum({3: "SO_TYPE", 4: "SO_ERROR", 7: "SO_SNDBUF", 8: "SO_RCVBUF", 16: "SO_PASSCRED",
                    17: "SO_PEERCRED", 30: "SO_ACCEPTCONN", 38: "SO_PROTOCOL", 39: "SO_DOMAIN"})

TABLE: tuple[Call, ...] = (
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
    call(436, "close_range", files.sys_close_range, ("first", Int()), ("last", Int()),
         ("flags", Flags({2: "CLOSE_RANGE_UNSHARE", 4: "CLOSE_RANGE_CLOEXEC"}))),
    call(32, "dup", files.sys_dup, ("oldfd", Fd)),
    call(33, "dup2", files.sys_dup2, ("oldfd", Fd), ("newfd", Fd)),
    call(292, "dup3", files.sys_dup3, ("oldfd", Fd), ("newfd", Fd), ("flags", OpenFlags)),
    call(72, "fcntl", files.sys_fcntl, ("fd", Fd), ("cmd", FcntlCmd), ("arg", Hex()),
         level=PARTIAL, note="F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL, F_GETPIPE_SZ; "
                             "POSIX record locks F_GETLK/F_SETLK/F_SETLKW and OFD locks "
                             "F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW (locks.py: shared by every "
                             "process, waits interruptible, EDEADLK); F_SETPIPE_SZ, leases and "
                             "F_NOTIFY give EINVAL"),
    call(290, "eventfd2", lxcore.sys_eventfd2, ("initval", Int()), ("flags", EventfdFlags),
         note="an lxcore file object (\\Device\\lxcore\\eventfd); EFD_SEMAPHORE, EFD_NONBLOCK, "
              "EFD_CLOEXEC; poll/select/epoll"),
    call(284, "eventfd", lxcore.sys_eventfd, ("initval", Int())),
    call(434, "pidfd_open", lxcore.sys_pidfd_open, ("pid", Int32()), ("flags", Hex()),
         note="an lxcore file readable once the process exits (it waits on the NT process); "
              "PIDFD_NONBLOCK"),
    call(424, "pidfd_send_signal", lxcore.sys_pidfd_send_signal, ("pidfd", Fd), ("sig", Signal),
         ("info", Pointer), ("flags", Hex()),
         level=PARTIAL, note="info must be NULL (a caller-made siginfo gives EINVAL)"),
    call(289, "signalfd4", lxcore.sys_signalfd4, ("fd", Fd), ("mask", Pointer), ("sizemask", Size),
         ("flags", Hex()), note="an lxcore file; the reader's pending signals of the set "
                                "(the thread's and the process's), SFD_NONBLOCK, SFD_CLOEXEC"),
    call(282, "signalfd", lxcore.sys_signalfd, ("fd", Fd), ("mask", Pointer), ("sizemask", Size)),
    call(253, "inotify_init", lxcore.sys_inotify_init),
    call(294, "inotify_init1", lxcore.sys_inotify_init1, ("flags", Hex()),
         note="an lxcore file over a host inotify instance: the volume's files are the host's, "
              "so changes from guests and host programs alike are seen"),
    call(254, "inotify_add_watch", lxcore.sys_inotify_add_watch, ("fd", Fd), ("pathname", Path),
         ("mask", Hex()), note="on the host path the volume resolves (inside the root)"),
    call(255, "inotify_rm_watch", lxcore.sys_inotify_rm_watch, ("fd", Fd), ("wd", Int32())),
    call(283, "timerfd_create", lxcore.sys_timerfd_create, ("clockid", ClockId), ("flags", Hex()),
         level=PARTIAL, note="real-time, monotonic and boot-time clocks, on a dispatcher timer; "
                             "TFD_NONBLOCK, TFD_CLOEXEC"),
    call(286, "timerfd_settime", lxcore.sys_timerfd_settime, ("fd", Fd), ("flags", Hex()),
         ("new_value", Pointer), ("old_value", Pointer),
         level=PARTIAL, note="TFD_TIMER_ABSTIME (the deadline taken once, not re-read if the "
                             "real-time clock is set)"),
    call(287, "timerfd_gettime", lxcore.sys_timerfd_gettime, ("fd", Fd), ("curr_value", Pointer)),
    call(73, "flock", locks.sys_flock, ("fd", Fd), ("operation", FlockOp),
         note="whole-file locks of the open file description (locks.py), LOCK_NB; a wait "
              "is interruptible"),
    call(16, "ioctl", files.sys_ioctl, ("fd", Fd), ("request", IoctlRequest), ("arg", Pointer),
         level=PARTIAL, note="on the console: TCGETS/TCSETS/TCSETSW/TCSETSF (the host "
                             "terminal's own settings, through CSRSS), TIOCGWINSZ, "
                             "TIOCGPGRP/TIOCSPGRP (the group Ctrl+C signals), TIOCGSID; "
                             "FIONREAD on pipes, sockets, regular and /proc files; FIONBIO "
                             "on any fd; ENOTTY elsewhere"),
    call(40, "sendfile", inodes.sys_sendfile, ("out_fd", Fd), ("in_fd", Fd), ("offset", Pointer),
         ("count", Size), level=PARTIAL, note="at most 1 MiB a call (a short count, as Linux may give)"),
    call(326, "copy_file_range", inodes.sys_copy_file_range, ("fd_in", Fd), ("off_in", Pointer),
         ("fd_out", Fd), ("off_out", Pointer), ("len", Size), ("flags", Hex()),
         level=PARTIAL, note="regular files; at most 1 MiB a call; copies, never shares extents"),
    call(74, "fsync", inodes.sys_fsync, ("fd", Fd)),
    call(75, "fdatasync", inodes.sys_fdatasync, ("fd", Fd)),
    call(162, "sync", inodes.sys_sync),
    call(306, "syncfs", inodes.sys_syncfs, ("fd", Fd)),
    call(221, "fadvise64", inodes.sys_fadvise64, ("fd", Fd), ("offset", Int()), ("len", Int()),
         ("advice", Int()), level=PARTIAL, note="the advice is checked and taken; nothing acts on it"),
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
    call(90, "chmod", inodes.sys_chmod, ("pathname", Path), ("mode", Octal())),
    call(91, "fchmod", inodes.sys_fchmod, ("fd", Fd), ("mode", Octal())),
    call(268, "fchmodat", inodes.sys_fchmodat, ("dirfd", AtFd()), ("pathname", Path), ("mode", Octal())),
    call(452, "fchmodat2", inodes.sys_fchmodat2, ("dirfd", AtFd()), ("pathname", Path), ("mode", Octal()),
         ("flags", AtFlags), level=PARTIAL, note="a link has no mode: AT_SYMLINK_NOFOLLOW on one gives EOPNOTSUPP"),
    call(92, "chown", inodes.sys_chown, ("pathname", Path), ("owner", Int32()), ("group", Int32())),
    call(93, "fchown", inodes.sys_fchown, ("fd", Fd), ("owner", Int32()), ("group", Int32())),
    call(94, "lchown", inodes.sys_lchown, ("pathname", Path), ("owner", Int32()), ("group", Int32()),
         level=PARTIAL, note="a link's owner is the host's (Linux lets no user.* attribute sit on a "
                             "link): EACCES/EPERM where the host refuses"),
    call(260, "fchownat", inodes.sys_fchownat, ("dirfd", AtFd()), ("pathname", Path), ("owner", Int32()),
         ("group", Int32()), ("flags", AtFlags)),
    call(280, "utimensat", inodes.sys_utimensat, ("dirfd", AtFd()), ("pathname", Path), ("times", Pointer),
         ("flags", AtFlags), level=PARTIAL, note="UTIME_NOW, UTIME_OMIT; times are kept to NT's 100 ns"),
    call(261, "futimesat", inodes.sys_futimesat, ("dirfd", AtFd()), ("pathname", Path), ("times", Pointer)),
    call(235, "utimes", inodes.sys_utimes, ("filename", Path), ("times", Pointer)),
    call(132, "utime", inodes.sys_utime, ("filename", Path), ("times", Pointer)),
    call(76, "truncate", inodes.sys_truncate, ("path", Path), ("length", Int())),
    call(77, "ftruncate", inodes.sys_ftruncate, ("fd", Fd), ("length", Int())),
    call(95, "umask", inodes.sys_umask, ("mask", Octal())),
    call(188, "setxattr", xattrs.sys_setxattr, ("pathname", Path), ("name", Path), ("value", Pointer), ("size", Size), ("flags", Hex()), level=PARTIAL, note=XATTR_NOTE),
    call(189, "lsetxattr", xattrs.sys_lsetxattr, ("pathname", Path), ("name", Path), ("value", Pointer), ("size", Size), ("flags", Hex()), level=PARTIAL, note="as setxattr"),
    call(190, "fsetxattr", xattrs.sys_fsetxattr, ("fd", Fd), ("name", Path), ("value", Pointer), ("size", Size), ("flags", Hex()), level=PARTIAL, note="as setxattr"),
    call(191, "getxattr", xattrs.sys_getxattr, ("pathname", Path), ("name", Path), ("value", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(192, "lgetxattr", xattrs.sys_lgetxattr, ("pathname", Path), ("name", Path), ("value", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(193, "fgetxattr", xattrs.sys_fgetxattr, ("fd", Fd), ("name", Path), ("value", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(194, "listxattr", xattrs.sys_listxattr, ("pathname", Path), ("list", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(195, "llistxattr", xattrs.sys_llistxattr, ("pathname", Path), ("list", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(196, "flistxattr", xattrs.sys_flistxattr, ("fd", Fd), ("list", Pointer), ("size", Size), level=PARTIAL, note="as setxattr"),
    call(197, "removexattr", xattrs.sys_removexattr, ("pathname", Path), ("name", Path), level=PARTIAL, note="as setxattr"),
    call(198, "lremovexattr", xattrs.sys_lremovexattr, ("pathname", Path), ("name", Path), level=PARTIAL, note="as setxattr"),
    call(199, "fremovexattr", xattrs.sys_fremovexattr, ("fd", Fd), ("name", Path), level=PARTIAL, note="as setxattr"),
    call(137, "statfs", inodes.sys_statfs, ("path", Path), ("buf", Pointer)),
    call(138, "fstatfs", inodes.sys_fstatfs, ("fd", Fd), ("buf", Pointer)),
    # files: directories and names
    call(217, "getdents64", files.sys_getdents64, ("fd", Fd), ("dirp", Pointer), ("count", Size)),
    call(78, "getdents", files.sys_getdents, ("fd", Fd), ("dirp", Pointer), ("count", Size)),
    call(86, "link", inodes.sys_link, ("oldpath", Path), ("newpath", Path)),
    call(265, "linkat", inodes.sys_linkat, ("olddirfd", AtFd()), ("oldpath", Path), ("newdirfd", AtFd()),
         ("newpath", Path), ("flags", AtFlags)),
    call(88, "symlink", inodes.sys_symlink, ("target", Path), ("linkpath", Path)),
    call(266, "symlinkat", inodes.sys_symlinkat, ("target", Path), ("newdirfd", AtFd()), ("linkpath", Path)),
    call(133, "mknod", inodes.sys_mknod, ("pathname", Path), ("mode", Octal()), ("dev", Hex()),
         level=PARTIAL, note="regular files; FIFOs, sockets and device nodes as lxfs metadata on the "
                             "volume (a FIFO opens as a pipe on \\Device\\NamedPipe, a modelled "
                             "character device as that device; a socket file's open gives ENXIO)"),
    call(259, "mknodat", inodes.sys_mknodat, ("dirfd", AtFd()), ("pathname", Path), ("mode", Octal()),
         ("dev", Hex()), level=PARTIAL, note="as mknod"),
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
    call(161, "chroot", fsroot.sys_chroot, ("path", Path), level=PARTIAL,
         note="the process's root, which the volume's name walk honours (.. stops there, "
              "absolute links start there); CAP_SYS_CHROOT or EPERM; a working directory "
              "outside the new root becomes the new root (Linux leaves it outside); /proc stays "
              "visible inside"),
    call(81, "fchdir", files.sys_fchdir, ("fd", Fd)),
    # memory
    call(12, "brk", memory.sys_brk, ("addr", Pointer)),
    call(9, "mmap", memory.sys_mmap, ("addr", Pointer), ("length", Size), ("prot", Prot),
         ("flags", MapFlags), ("fd", Fd), ("offset", Int()),
         level=PARTIAL, note="files map as section views (private: copy-on-write; shared: "
                             "written back on msync/munmap/exit; read/write go through the same "
                             "pages); MAP_HUGETLB and MAP_LOCKED are ordinary pages"),
    call(11, "munmap", memory.sys_munmap, ("addr", Pointer), ("length", Size)),
    call(10, "mprotect", memory.sys_mprotect, ("addr", Pointer), ("len", Size), ("prot", Prot)),
    call(25, "mremap", memory.sys_mremap, ("old_address", Pointer), ("old_size", Size),
         ("new_size", Size), ("flags", MremapFlags), ("new_address", Pointer),
         level=PARTIAL, note="grow, shrink, move; MREMAP_DONTUNMAP and old_size 0 give EINVAL"),
    call(26, "msync", memory.sys_msync, ("addr", Pointer), ("length", Size), ("flags", MsyncFlags)),
    call(27, "mincore", memory.sys_mincore, ("addr", Pointer), ("length", Size), ("vec", Pointer),
         level=PARTIAL, note="a file's page is resident once some mapping has touched it: "
                             "pages only read() or written are not counted"),
    call(28, "madvise", memory.sys_madvise, ("addr", Pointer), ("length", Size), ("advice", Int()),
         level=PARTIAL, note="DONTNEED/FREE drop pages, POPULATE_* fault them in, hints are "
                             "accepted; DONTFORK/DOFORK/WIPEONFORK/KEEPONFORK/REMOVE give EINVAL"),
    # process lifecycle: fork, clone, execve, exit, wait (lifecycle.py)
    call(57, "fork", lifecycle.sys_fork),
    call(58, "vfork", lifecycle.sys_vfork),
    call(56, "clone", lifecycle.sys_clone, ("flags", CloneFlags), ("stack", Pointer),
         ("parent_tid", Pointer), ("child_tid", Pointer), ("tls", Pointer),
         level=PARTIAL, note="a CLONE_VM process gets a copy of the memory, not a share; "
                             "namespaces give EPERM"),
    call(435, "clone3", lifecycle.sys_clone3, ("cl_args", Pointer), ("size", Size),
         level=PARTIAL, note="as clone; pidfds and set_tid are not modelled"),
    call(59, "execve", lifecycle.sys_execve, ("pathname", Path), ("argv", StringVector()), ("envp", Pointer)),
    call(322, "execveat", lifecycle.sys_execveat, ("dirfd", AtFd()), ("pathname", Path),
         ("argv", StringVector()), ("envp", Pointer), ("flags", AtFlags),
         level=PARTIAL, note="AT_EMPTY_PATH (exec an fd) is not supported"),
    call(60, "exit", lifecycle.sys_exit, ("status", Int())),
    call(231, "exit_group", lifecycle.sys_exit_group, ("status", Int())),
    call(61, "wait4", lifecycle.sys_wait4, ("pid", Int32()), ("wstatus", Pointer), ("options", WaitOptions),
         ("rusage", Pointer)),
    call(247, "waitid", lifecycle.sys_waitid, ("idtype", Int()), ("id", Int32()), ("infop", Pointer),
         ("options", WaitOptions), ("rusage", Pointer),
         note="P_ALL, P_PID, P_PGID, P_PIDFD"),
    # ptrace (ptrace.py): a tracer stops and steers a tracee; wait4 reports the stops
    call(101, "ptrace", ptrace.sys_ptrace, ("request", PtraceRequest), ("pid", Int32()),
         ("addr", Hex()), ("data", Hex()), level=PARTIAL,
         note="TRACEME, ATTACH, SEIZE, INTERRUPT, LISTEN, CONT, SYSCALL, SINGLESTEP, DETACH, KILL, "
              "PEEK/POKE TEXT/DATA/USER, GETREGS/SETREGS, GETFPREGS, GETREGSET/SETREGSET "
              "(NT_PRSTATUS; NT_PRFPREG read), SETOPTIONS (every option; seccomp stops never "
              "come), GETEVENTMSG, GETSIGINFO/SETSIGINFO, GET_SYSCALL_INFO; syscall, signal, "
              "exec, fork/vfork/clone, exit and group stops; a process's first thread only "
              "(no CLONE_THREAD tracing); no hardware breakpoints (EIO)"),
    call(310, "process_vm_readv", ptrace.sys_process_vm_readv, ("pid", Int32()), ("local_iov", Pointer),
         ("liovcnt", Size), ("remote_iov", Pointer), ("riovcnt", Size), ("flags", Hex()),
         note="another process's memory, for the same user or root"),
    call(311, "process_vm_writev", ptrace.sys_process_vm_writev, ("pid", Int32()), ("local_iov", Pointer),
         ("liovcnt", Size), ("remote_iov", Pointer), ("riovcnt", Size), ("flags", Hex()),
         note="as process_vm_readv"),
    call(202, "futex", futex.sys_futex, ("uaddr", Pointer), ("futex_op", FutexOp), ("val", Int()),
         ("timeout", Pointer), ("uaddr2", Pointer), ("val3", Hex()),
         level=PARTIAL, note="WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE; "
                             "PI and WAKE_OP give ENOSYS; futexes are private to a process"),
    call(110, "getppid", lifecycle.sys_getppid),
    call(121, "getpgid", lifecycle.sys_getpgid, ("pid", Int32())),
    call(111, "getpgrp", lifecycle.sys_getpgrp),
    call(109, "setpgid", lifecycle.sys_setpgid, ("pid", Int32()), ("pgid", Int32())),
    call(124, "getsid", lifecycle.sys_getsid, ("pid", Int32())),
    call(112, "setsid", lifecycle.sys_setsid),
    # process and identity
    call(39, "getpid", process.sys_getpid),
    call(186, "gettid", process.sys_gettid),
    call(102, "getuid", process.sys_getuid),
    call(107, "geteuid", identity.sys_geteuid),
    call(104, "getgid", process.sys_getgid),
    call(108, "getegid", identity.sys_getegid),
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
    # credentials (identity.py)
    call(118, "getresuid", identity.sys_getresuid, ("ruid", Pointer), ("euid", Pointer), ("suid", Pointer)),
    call(120, "getresgid", identity.sys_getresgid, ("rgid", Pointer), ("egid", Pointer), ("sgid", Pointer)),
    call(105, "setuid", identity.sys_setuid, ("uid", Int32())),
    call(106, "setgid", identity.sys_setgid, ("gid", Int32())),
    call(113, "setreuid", identity.sys_setreuid, ("ruid", Int32()), ("euid", Int32())),
    call(114, "setregid", identity.sys_setregid, ("rgid", Int32()), ("egid", Int32())),
    call(117, "setresuid", identity.sys_setresuid, ("ruid", Int32()), ("euid", Int32()), ("suid", Int32())),
    call(119, "setresgid", identity.sys_setresgid, ("rgid", Int32()), ("egid", Int32()), ("sgid", Int32())),
    call(115, "getgroups", identity.sys_getgroups, ("size", Int32()), ("list", Pointer)),
    call(116, "setgroups", identity.sys_setgroups, ("size", Int32()), ("list", Pointer)),
    call(125, "capget", identity.sys_capget, ("hdrp", Pointer), ("datap", Pointer)),
    call(126, "capset", identity.sys_capset, ("hdrp", Pointer), ("datap", Pointer)),
    # the system: the machine, scheduling, memory locks, names (system.py)
    call(99, "sysinfo", system.sys_sysinfo, ("info", Pointer),
         level=PARTIAL, note="memory is the host's, in use what NT gave pages to; no swap; load 0"),
    call(204, "sched_getaffinity", system.sys_sched_getaffinity, ("pid", Int32()), ("cpusetsize", Size),
         ("mask", Pointer), level=PARTIAL, note="one CPU (CPU 0): guest threads run one at a time"),
    call(203, "sched_setaffinity", system.sys_sched_setaffinity, ("pid", Int32()), ("cpusetsize", Size),
         ("mask", Pointer), level=PARTIAL, note="one CPU: a mask holding CPU 0 is accepted, others EINVAL"),
    call(309, "getcpu", system.sys_getcpu, ("cpu", Pointer), ("node", Pointer), ("tcache", Pointer)),
    call(145, "sched_getscheduler", system.sys_sched_getscheduler, ("pid", Int32())),
    call(143, "sched_getparam", system.sys_sched_getparam, ("pid", Int32()), ("param", Pointer)),
    call(146, "sched_get_priority_max", system.sys_sched_get_priority_max, ("policy", Int())),
    call(147, "sched_get_priority_min", system.sys_sched_get_priority_min, ("policy", Int())),
    call(140, "getpriority", system.sys_getpriority, ("which", Int()), ("who", Int32())),
    call(141, "setpriority", system.sys_setpriority, ("which", Int()), ("who", Int32()), ("prio", Int32()),
         level=PARTIAL, note="the nice value is kept and reported; the dispatcher is round-robin"),
    call(149, "mlock", system.sys_mlock, ("addr", Pointer), ("len", Size),
         level=PARTIAL, note="accounted against RLIMIT_MEMLOCK; nothing pages out here anyway"),
    call(325, "mlock2", system.sys_mlock2, ("addr", Pointer), ("len", Size), ("flags", Hex()),
         level=PARTIAL, note="as mlock"),
    call(150, "munlock", system.sys_munlock, ("addr", Pointer), ("len", Size)),
    call(151, "mlockall", system.sys_mlockall, ("flags", Hex()),
         level=PARTIAL, note="MCL_CURRENT accounted; MCL_FUTURE is not applied to later mappings"),
    call(152, "munlockall", system.sys_munlockall),
    call(157, "prctl", system.sys_prctl, ("option", PrctlOption), ("arg2", Hex()), ("arg3", Hex()),
         ("arg4", Hex()), ("arg5", Hex()), level=PARTIAL,
         note="SET/GET_NAME, GET/SET_DUMPABLE, GET/SET_KEEPCAPS, GET/SET_NO_NEW_PRIVS, CAPBSET_READ, "
              "GET_SECCOMP, GET_TIMERSLACK, GET_PDEATHSIG; others give EINVAL"),
    call(135, "personality", system.sys_personality, ("persona", Hex()),
         level=PARTIAL, note="kept and reported; the flags change nothing (the layout is fixed)"),
    call(170, "sethostname", system.sys_sethostname, ("name", Pointer), ("len", Size),
         level=PARTIAL, note="EPERM: the name is the host's; no UTS namespace is modelled"),
    call(171, "setdomainname", system.sys_setdomainname, ("name", Pointer), ("len", Size),
         level=PARTIAL, note="EPERM, as sethostname"),
    # time
    call(100, "times", system.sys_times, ("buf", Pointer),
         level=PARTIAL, note="all processor time is user time: the model does not split it"),
    call(98, "getrusage", system.sys_getrusage, ("who", Who), ("usage", Pointer),
         level=PARTIAL, note="processor time (all user), peak touched memory, minor faults (first touches)"),
    call(228, "clock_gettime", time.sys_clock_gettime, ("clockid", ClockId), ("tp", Pointer)),
    call(229, "clock_getres", time.sys_clock_getres, ("clockid", ClockId), ("res", Pointer)),
    call(96, "gettimeofday", time.sys_gettimeofday, ("tv", Pointer), ("tz", Pointer)),
    call(201, "time", time.sys_time, ("tloc", Pointer)),
    call(35, "nanosleep", time.sys_nanosleep, ("req", Pointer), ("rem", Pointer)),
    call(230, "clock_nanosleep", time.sys_clock_nanosleep, ("clockid", ClockId), ("flags", Int()),
         ("req", Pointer), ("rem", Pointer)),
    # pipes and I/O multiplexing (pipes.py: pipes on \Device\NamedPipe; poll.py; epoll.py)
    call(22, "pipe", pipes.sys_pipe, ("pipefd", Pointer)),
    call(293, "pipe2", pipes.sys_pipe2, ("pipefd", Pointer), ("flags", PipeFlags),
         level=PARTIAL, note="O_CLOEXEC, O_NONBLOCK; packet mode (O_DIRECT, also through "
                             "fcntl F_SETFL) gives EINVAL"),
    call(7, "poll", poll.sys_poll, ("fds", Pointer), ("nfds", Int()), ("timeout", Int32()),
         level=PARTIAL, note="pipes, sockets, files, devices and the console; other waitable "
                             "files (eventfd, timerfd) do not exist yet"),
    call(271, "ppoll", poll.sys_ppoll, ("fds", Pointer), ("nfds", Int()), ("tsp", Pointer),
         ("sigmask", Pointer), ("sigsetsize", Size),
         level=PARTIAL, note="as poll; the mask is in force during the call"),
    call(23, "select", poll.sys_select, ("nfds", Int32()), ("readfds", Pointer),
         ("writefds", Pointer), ("exceptfds", Pointer), ("timeout", Pointer),
         level=PARTIAL, note="as poll; no file has exceptional conditions (POLLPRI)"),
    call(270, "pselect6", poll.sys_pselect6, ("nfds", Int32()), ("readfds", Pointer),
         ("writefds", Pointer), ("exceptfds", Pointer), ("timeout", Pointer), ("sigmask", Pointer),
         level=PARTIAL, note="as select; the mask is in force during the call"),
    call(213, "epoll_create", epoll.sys_epoll_create, ("size", Int32())),
    call(291, "epoll_create1", epoll.sys_epoll_create1, ("flags", EpollFlags)),
    call(233, "epoll_ctl", epoll.sys_epoll_ctl, ("epfd", Fd), ("op", EpollOp), ("fd", Fd),
         ("event", EpollEvents()),
         level=PARTIAL, note="pipes, sockets, the console, /dev/random and epoll fds; regular files, "
                             "directories, /dev/null: EPERM (a console redirected from a file "
                             "is watched, where Linux says EPERM); EPOLLEXCLUSIVE wakes every "
                             "waiter"),
    call(232, "epoll_wait", epoll.sys_epoll_wait, ("epfd", Fd), ("events", EpollEvents("result")),
         ("maxevents", Int32()), ("timeout", Int32()),
         level=PARTIAL, note="as poll, for the files epoll_ctl takes"),
    call(281, "epoll_pwait", epoll.sys_epoll_pwait, ("epfd", Fd), ("events", EpollEvents("result")),
         ("maxevents", Int32()), ("timeout", Int32()), ("sigmask", Pointer), ("sigsetsize", Size),
         level=PARTIAL, note="as epoll_wait; the mask is in force during the call"),
    call(441, "epoll_pwait2", epoll.sys_epoll_pwait2, ("epfd", Fd), ("events", EpollEvents("result")),
         ("maxevents", Int32()), ("timeout", Pointer), ("sigmask", Pointer), ("sigsetsize", Size),
         level=PARTIAL, note="as epoll_pwait, with a timespec timeout"),
    # signals: dispositions, masks, delivery (signals.py; the frame in sigframe.py)
    call(13, "rt_sigaction", signals.sys_rt_sigaction, ("signum", Signal), ("act", Pointer),
         ("oldact", Pointer), ("sigsetsize", Size)),
    call(14, "rt_sigprocmask", signals.sys_rt_sigprocmask, ("how", SigHow), ("set", Pointer),
         ("oldset", Pointer), ("sigsetsize", Size)),
    call(127, "rt_sigpending", signals.sys_rt_sigpending, ("set", Pointer), ("sigsetsize", Size)),
    call(15, "rt_sigreturn", signals.sys_rt_sigreturn,
         level=PARTIAL, note="x87, SSE and MXCSR state come back from the frame; AVX upper "
                             "halves (YMM/ZMM) are not saved"),
    call(131, "sigaltstack", signals.sys_sigaltstack, ("ss", Pointer), ("old_ss", Pointer)),
    call(34, "pause", signals.sys_pause),
    call(219, "restart_syscall", signals.sys_restart_syscall, level=PARTIAL,
         note="goes on with a sleep (nanosleep, clock_nanosleep) a stop or an ignored signal "
              "cut short, to its deadline; poll cut short so ends with EINTR"),
    call(130, "rt_sigsuspend", signals.sys_rt_sigsuspend, ("mask", Pointer), ("sigsetsize", Size)),
    call(128, "rt_sigtimedwait", signals.sys_rt_sigtimedwait, ("set", Pointer), ("info", Pointer),
         ("timeout", Pointer), ("sigsetsize", Size)),
    call(62, "kill", signals.sys_kill, ("pid", Int32()), ("sig", Signal),
         level=PARTIAL, note="Linux processes of this machine; stop signals stop only the thread "
                             "that takes them"),
    call(234, "tgkill", signals.sys_tgkill, ("tgid", Int32()), ("tid", Int32()), ("sig", Signal)),
    call(200, "tkill", signals.sys_tkill, ("tid", Int32()), ("sig", Signal)),
    call(129, "rt_sigqueueinfo", signals.sys_rt_sigqueueinfo, ("tgid", Int32()), ("sig", Signal),
         ("info", Pointer)),
    call(297, "rt_tgsigqueueinfo", signals.sys_rt_tgsigqueueinfo, ("tgid", Int32()), ("tid", Int32()),
         ("sig", Signal), ("info", Pointer)),
    # sockets (sockets.py): socketpair(AF_UNIX, SOCK_STREAM) on a full-duplex NPFS pipe
    call(41, "socket", sockets.sys_socket, ("domain", SocketDomain), ("type", SocketType), ("protocol", Int()),
         level=PARTIAL, note="AF_UNIX SOCK_STREAM (an lxcore endpoint until it connects; unix.py); "
                             "AF_INET/AF_INET6 SOCK_STREAM and SOCK_DGRAM on \\Device\\Afd endpoints over "
                             "host sockets, loopback only without --network (inet.py, kernel/fs/afd.py); "
                             "AF_UNIX SOCK_DGRAM/SOCK_SEQPACKET as lxcore message sockets "
                             "(unixmsg.py); raw Internet sockets EPROTONOSUPPORT; other "
                             "families EAFNOSUPPORT"),
    call(53, "socketpair", sockets.sys_socketpair, ("domain", SocketDomain), ("type", SocketType),
         ("protocol", Int()), ("sv", Pointer),
         level=PARTIAL, note="AF_UNIX SOCK_STREAM (with SOCK_NONBLOCK, SOCK_CLOEXEC), on a full-duplex "
                             "\\Device\\NamedPipe pipe; SOCK_DGRAM/SOCK_SEQPACKET as connected "
                             "lxcore message sockets (unixmsg.py); AF_INET/AF_INET6 EOPNOTSUPP as on "
                             "Linux; other families EAFNOSUPPORT"),
    call(44, "sendto", sockets.sys_sendto, ("sockfd", Fd), ("buf", Buffer("len")), ("len", Size),
         ("flags", MsgFlags), ("dest_addr", Pointer), ("addrlen", Int32()),
         level=PARTIAL, note="MSG_DONTWAIT, MSG_NOSIGNAL (others ignored; MSG_OOB EOPNOTSUPP); an "
                             "address gives EISCONN; " + SOCKET_ONLY),
    call(45, "recvfrom", sockets.sys_recvfrom, ("sockfd", Fd), ("buf", Buffer("result", output=True)),
         ("len", Size), ("flags", MsgFlags), ("src_addr", Pointer), ("addrlen", Pointer),
         level=PARTIAL, note="MSG_DONTWAIT, MSG_PEEK (FSCTL_PIPE_PEEK); MSG_WAITALL is a plain read "
                             "(may return less); MSG_OOB EINVAL; " + SOCKET_ONLY),
    call(46, "sendmsg", sockets.sys_sendmsg, ("sockfd", Fd), ("msg", Pointer), ("flags", MsgFlags),
         level=PARTIAL, note="iovecs, flags as sendto; SCM_RIGHTS (kernel handles queued for the "
                             "peer's next recvmsg), SCM_CREDENTIALS (checked); " + SOCKET_ONLY),
    call(47, "recvmsg", sockets.sys_recvmsg, ("sockfd", Fd), ("msg", Pointer), ("flags", MsgFlags),
         level=PARTIAL, note="iovecs, flags as recvfrom; SCM_RIGHTS fds passed with the bytes read "
                             "(MSG_CMSG_CLOEXEC, MSG_CTRUNC), SCM_CREDENTIALS of the peer under "
                             "SO_PASSCRED; " + SOCKET_ONLY),
    call(48, "shutdown", sockets.sys_shutdown, ("sockfd", Fd), ("how", ShutHow),
         note="FSCTL_PIPE_LX_SHUTDOWN: after SHUT_WR the peer reads end of file, after SHUT_RD "
              "its writes get EPIPE; " + SOCKET_ONLY),
    call(51, "getsockname", sockets.sys_getsockname, ("sockfd", Fd), ("addr", Pointer), ("addrlen", Pointer),
         note="the bound name, or an unnamed AF_UNIX socket (addrlen 2); " + SOCKET_ONLY),
    call(52, "getpeername", sockets.sys_getpeername, ("sockfd", Fd), ("addr", Pointer), ("addrlen", Pointer),
         note="the peer's name (ENOTCONN before a connection); " + SOCKET_ONLY),
    call(55, "getsockopt", sockets.sys_getsockopt, ("sockfd", Fd), ("level", Int32()),
         ("optname", SockoptName), ("optval", Pointer), ("optlen", Pointer),
         level=PARTIAL, note="SOL_SOCKET: SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN, "
                             "SO_PEERCRED, SO_SNDBUF/SO_RCVBUF (the pipe's quota, 208 KiB, until set), "
                             "SO_PASSCRED; other options ENOPROTOOPT, other levels EOPNOTSUPP"),
    call(54, "setsockopt", sockets.sys_setsockopt, ("sockfd", Fd), ("level", Int32()),
         ("optname", SockoptName), ("optval", Pointer), ("optlen", Int32()),
         level=PARTIAL, note="SO_SNDBUF/SO_RCVBUF recorded as Linux doubles and clamps them (the pipe's "
                             "capacity stays), SO_PASSCRED recorded; other options ENOPROTOOPT"),
    *(call(number, name, handler, ("sockfd", Fd), *((argument, Hex()) for argument in rest),
           level=PARTIAL, note=f"{answer}; " + SOCKET_ONLY)
      for number, name, handler, rest, answer in SOCKET_ADDRESS_CALLS),
    # NUMA memory policies: the modelled machine has one node and no NUMA support, and a
    # Linux kernel built without it (CONFIG_NUMA=n) answers these with ENOSYS
    *(call(number, name, system.sys_no_numa, *((argument, Hex()) for argument in arguments),
           level=PARTIAL, note="no NUMA here: ENOSYS, as from a kernel built without it")
      for number, name, arguments in (
          (237, "mbind", ("addr", "len", "mode", "nodemask", "maxnode", "flags")),
          (238, "set_mempolicy", ("mode", "nodemask", "maxnode")),
          (239, "get_mempolicy", ("mode", "nodemask", "maxnode", "addr", "flags")),
          (256, "migrate_pages", ("pid", "maxnode", "old_nodes", "new_nodes")),
          (279, "move_pages", ("pid", "count", "pages", "nodes", "status", "flags")))),
    call(222, "timer_create", timers.sys_timer_create, ("clockid", ClockId), ("sevp", Pointer),
         ("timerid", Pointer), level=PARTIAL,
         note="real-time, monotonic and boot-time clocks; CPU-time clocks give EINVAL (not modelled)"),
    call(223, "timer_settime", timers.sys_timer_settime, ("timerid", Int32()), ("flags", Int()),
         ("new_value", Pointer), ("old_value", Pointer)),
    call(224, "timer_gettime", timers.sys_timer_gettime, ("timerid", Int32()), ("curr_value", Pointer)),
    call(225, "timer_getoverrun", timers.sys_timer_getoverrun, ("timerid", Int32())),
    call(226, "timer_delete", timers.sys_timer_delete, ("timerid", Int32())),
    call(37, "alarm", signals.sys_alarm, ("seconds", Int())),
    call(38, "setitimer", signals.sys_setitimer, ("which", ItimerWhich), ("new_value", Pointer),
         ("old_value", Pointer), level=PARTIAL,
         note="ITIMER_REAL; ITIMER_VIRTUAL and ITIMER_PROF both count the process's whole "
              "processor time (no user/system split), checked at a 4 ms tick"),
    call(36, "getitimer", signals.sys_getitimer, ("which", ItimerWhich), ("curr_value", Pointer),
         level=PARTIAL, note="as setitimer"),
)

BY_NUMBER: dict[int, Call] = {row.number: row for row in TABLE}


def call_rows() -> list[CallRow]:
    """Every x86-64 call: the table's rows, and the rest as unsupported by omission."""
    rows = [row.table_row() for row in TABLE]
    for number, name in SYSCALL_NAMES.items():
        if number not in BY_NUMBER:
            rows.append(CallRow(number, name, (), UNSUPPORTED, "not implemented: returns ENOSYS"))
    return sorted(rows, key=lambda r: r.number)


# --- the ABI and the errors: what the gate needs besides the table -----------------------------


class LinuxAbi(RegisterAbi):
    """x86-64 Linux's `syscall` convention, and its way back to user mode: pending
    signals are delivered there (exit_to_user_mode_loop), and a wait a signal cut short
    ends in EINTR or a restart (signals.py decides which)."""

    def __init__(self) -> None:
        super().__init__(UC_X86_REG_RAX, ARGUMENT_REGISTERS, UC_X86_REG_RAX, trap="syscall")

    signals = True                         # Task.sigpending: an unblocked signal waits

    def returning(self, task: Any, row: Call | None, trap: Any, interrupted: bool) -> None:
        if task.ptrace is not None and ptrace.returning(task, row, trap):
            return                       # stopped for its tracer, who hears first
        if row is None:
            return
        if trap is not None:
            # still inside the trap (unless execve gave the task another processor, on
            # which the new program starts)
            if task.cpu.uc is trap:
                signals.deliver(task, signals.IN_SYSCALL, row.number)
        elif task.thread.process.alive:
            signals.deliver(task, signals.AT_INSTRUCTION, row.number)

    def parking(self, task: Any, row: Call) -> None:
        task.parked_call = row       # a signal may interrupt it (signals._wake)

    def woken(self, task: Any, row: Call, pending: WaitPending, status: int) -> tuple[Any, bool]:
        task.parked_call = None
        if status == STATUS_USER_APC:                   # a signal ended the wait early...
            satisfied = signals.satisfied_now(task, pending)
            if satisfied is None:
                try:
                    return signals.interrupted_result(task, row.name, pending), True
                except LinuxError as error:
                    return -error.errno, True
                except NtStatusError as error:
                    return -errno_from_status(error.status), True
            status = satisfied                          # ...but what it waited for came too
        return pending.complete(status), False


class LinuxErrors(ErrorMapping):
    """A failed call returns -errno in RAX: LinuxError carries it; an Nt* service's
    NTSTATUS becomes the errno Linux would give (errno.py's table)."""

    # MemoryError: the host could not give ntsim what one call asked for (a huge
    # buffer); the guest hears ENOMEM, as from a kernel short of memory, and ntsim goes on
    failures = (LinuxError, NtStatusError, MemoryError)
    not_implemented = -ENOSYS

    def result_of(self, failure: BaseException) -> int:
        if isinstance(failure, LinuxError):
            return -failure.errno
        if isinstance(failure, MemoryError):
            return -ENOMEM
        return -errno_from_status(failure.status)

    def describe(self, result: Any) -> tuple[Any, str | None]:
        if type(result) is int and -4096 < result < 0:
            return result, ERRNO_NAMES.get(-result)
        return result, None

    def unknown_name(self, number: int) -> str:
        return SYSCALL_NAMES.get(number, f"syscall_{number}")

    def warning(self, process: Any, number: int, name: str, note: str) -> str:
        return f"unsupported system call {name} ({number}) returns ENOSYS: {note or 'not implemented'}"


LINUX_ABI = LinuxAbi()
LINUX_ERRORS = LinuxErrors()


def make_gate(kernel: Any, interceptors: Any = None) -> CallGate:
    """LXSS's call gate: installed as the `syscall` trap of each Linux process's CPU."""
    return CallGate(kernel, "lxss", TABLE, LINUX_ABI, LINUX_ERRORS, interceptors)
