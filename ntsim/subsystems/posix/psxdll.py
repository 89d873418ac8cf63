"""PSXDLL.DLL, the POSIX subsystem's client DLL: its exports, its stubs, its table.

PSXDLL is a built-in module mapped into every POSIX process at PSXDLL_BASE. Each export
is a 16-byte stub, `mov eax, <number>; int 2Fh; ret`: the program calls it as an
ordinary cdecl function (its arguments on the stack, above the return address), and the
trap enters the *client stub* of that number below — the C code PSXDLL would run in the
program's process — through ntsim's one call gate. A stub does one of three things, and
the table says which (`ntsim calls posix`):

- `[lpc]`: it sends a message to PSXSS (or to the session's console host) and waits
  for the reply: anything that needs POSIX state the process does not keep itself;
- `[nt]`: it calls an Nt* service directly: I/O on a descriptor whose handle it holds
  (read and write on a file or a pipe), the time, sleeping, _exit;
- `[local]`: it needs no one: sigemptyset, getenv, sysconf, uname.

PSXDLL's documented additions to psxdll.h (how a program reaches argc/argv/envp and
errno): `void __psx_getargs(int *argc, char ***argv, char ***envp)` and
`int *__psx_errno(void)` (errno lives in the thread's TEB, at FS:[0x34], the slot NT's
TEB keeps a Win32 thread's last error in). Beyond the header, PSXDLL also exports the
rest of the POSIX.1 list: execl, execvp, setpgid, setuid, setgid, getlogin, mkfifo,
chown, utime, ttyname, ctermid, pathconf, fpathconf, tcgetattr, tcsetattr.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from ctypes import string_at
from functools import partial
from typing import TYPE_CHECKING, Any

from unicorn.x86_const import UC_X86_REG_EAX, UC_X86_REG_ESP

from ...kernel.dispatcher import WaitPending, then
from ...kernel.io import FilePositionInformation, FileStandardInformation, FileStatLxInformation
from ...kernel.lpc import USER_MODE, PortMessage
from ...kernel.services import NtCurrentProcess
from ...kernel.status import STATUS_ALERTED, STATUS_SUCCESS, NtStatusError
from ...trace import CString, Hex, Int32
from ..base import Call, CallGate, ErrorMapping, RegisterAbi, call
from . import console, signals
from .errno import (
    EBADF,
    EFAULT,
    EINTR,
    EINVAL,
    EIO,
    ENOENT,
    ENOSYS,
    ENOTTY,
    EPIPE,
    ESPIPE,
    PosixError,
    error_name,
    posix_error,
)
from .fdtable import KINDS, NULL, PIPE, TERMINAL
from .psxss import API, PORT_NAME, WNOHANG, WUNTRACED, stat_record

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel
    from ...kernel.processes import Thread

MODULE = "PSXDLL.DLL"
PSXDLL_BASE = 0x77E0_0000          # where the module is mapped in every POSIX process
PSXDLL_SIZE = 0x1_0000
STUBS = PSXDLL_BASE + 0x1000       # stub n at STUBS + 16 n
STUB_SIZE = 16
TRAP_VECTOR = 0x2F                 # the vector PSXDLL's stubs trap with (unused by NT's IDT)
TEB_SELF, TEB_CLIENT_ID, TEB_PEB, TEB_ERRNO = 0x18, 0x20, 0x30, 0x34
PORT_VIEW = 0x1_0000               # the port section each client asks PSXSS for
SIGRETURN = 0xFF                   # the handler trampoline's number (no export names it)
DIR_SIZE = 0x110                   # DIR: fd (4), flags (4), struct dirent (256), padding
ARG_MAX = 0x1_0000
O_RDONLY, O_WRONLY, O_ACCMODE, O_CREAT, O_TRUNC = 0, 1, 3, 0o100, 0o1000
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
CLK_TCK = 100
SYSCONF = {0: ARG_MAX, 1: 999, 2: CLK_TCK, 3: 0, 4: 64, 29: 199009}
UNIX_EPOCH_NT = 116444736000000000        # 1970-01-01 in NT's 100 ns units since 1601


def s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


class Failed(int):
    """A failed call's result (-1 or 0, NULL), carrying its errno for the trace."""

    errno = 0

    @classmethod
    def of(cls, result: int, errno: int) -> Failed:
        failed = cls(result)
        failed.errno = errno
        return failed


# --- the client's view of itself -----------------------------------------------------------


class PsxProcessData:
    """What PSXDLL keeps in a process (process.data): its ports, its cache of descriptors
    (fd -> kind, handle: what it learned from PSXSS, so that I/O needs no message),
    where its arguments, environment, TEB and heap are."""

    def __init__(self) -> None:
        self.port = None                 # its connection to \PSXSS\ApiPort
        self.console_port = None         # ... and to the console host
        self.fds: dict[int, tuple[str, int]] = {}
        self.argc = self.argv = self.envp = 0
        self.env: dict[str, int] = {}    # name -> address of its value (for getenv)
        self.teb = self.gdt = 0
        self.heap = 0                    # PSXDLL's own data page run: DIRs, static strings
        self.heap_free: list[int] = []
        self.statics: dict[str, int] = {}
        self.dirs: dict[int, int] = {}   # DIR address -> fd
        self.restart_dir: set[int] = set()
        self.term_signal = 0

    def forked(self) -> PsxProcessData:
        """The child's after fork: the same cache and layout (the address space is a copy);
        it connects to PSXSS itself when it first needs to."""
        copy = PsxProcessData()
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("port", "console_port")})
        copy.fds, copy.env, copy.heap_free = dict(self.fds), dict(self.env), list(self.heap_free)
        copy.statics, copy.dirs, copy.restart_dir = dict(self.statics), dict(self.dirs), set(self.restart_dir)
        return copy


class PsxThread:
    """The calling thread as a client stub sees it (thread.data)."""

    __slots__ = ("thread", "kernel", "nt", "memory", "cpu", "psx", "signal_apc", "sleep_until")

    def __init__(self, thread: Thread, kernel: Kernel, personality: Any) -> None:
        self.thread = thread
        self.kernel = kernel
        self.nt = kernel.services
        self.memory = thread.process.memory
        self.cpu = thread.process.cpu
        self.psx: PsxProcessData = thread.process.data
        self.signal_apc = lambda: personality.deliver_signals(self)
        self.sleep_until = 0

    def read(self, address: int, size: int) -> bytes:
        if not address and size:
            raise PosixError(EFAULT, "NULL pointer")
        offset = address & 0xFFF
        if offset + size <= 0x1000:
            # within one page the program has touched: straight from its frame (the hot
            # path: a call's arguments, a write's buffer); else through the memory manager
            table = self.cpu.page_table
            frame = table.frames.get(address - offset)
            if frame is not None:
                return string_at(table.physical.host_base + (frame << 12) + offset, size)
        try:
            return self.memory.read(address, size)
        except Exception:
            raise PosixError(EFAULT, f"{address:#x}") from None

    def write(self, address: int, data: bytes) -> None:
        if not address and data:
            raise PosixError(EFAULT, "NULL pointer")
        try:
            self.memory.write(address, data)
        except Exception:
            raise PosixError(EFAULT, f"{address:#x}") from None

    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def read_string(self, address: int, limit: int = 1024) -> bytes:
        if not address:
            raise PosixError(EFAULT, "NULL string")
        try:
            return self.memory.read_cstring(address, limit)
        except Exception:
            raise PosixError(EFAULT, f"{address:#x}") from None

    def read_vector(self, address: int) -> list[bytes]:
        """A NULL-terminated array of strings (argv, envp)."""
        items = []
        while True:
            pointer = self.read_u32(address + 4 * len(items))
            if not pointer:
                return items
            items.append(self.read_string(pointer, ARG_MAX))
            if len(items) > 4096:
                raise PosixError(7, "too many arguments")   # E2BIG

    def set_errno(self, errno: int) -> None:
        try:
            self.memory.write(self.psx.teb + TEB_ERRNO, errno.to_bytes(4, "little"))
        except Exception:
            pass


# --- LPC, the way to the servers ------------------------------------------------------------


def _checked(reply: PortMessage) -> dict:
    if reply.Status != STATUS_SUCCESS:
        raise PosixError(EIO, f"the server answered {reply.Status}")
    body = reply.body if isinstance(reply.body, dict) else {}
    if body.get("Errno"):
        raise PosixError(body["Errno"])
    return body


def psxss_port(caller: PsxThread):
    psx = caller.psx
    if psx.port is None or not psx.port.connected:
        psx.port = caller.kernel.lpc.connect(caller.thread.process, PORT_NAME, PORT_VIEW)
    return psx.port


def request(caller: PsxThread, api: str, body: dict | None = None, data: bytes = b"",
            post: Callable[[dict], Any] = lambda body: body, *, to_console: bool = False) -> Any:
    """Send one request and wait for its reply (NtRequestWaitReplyPort); `post` turns
    the reply record into the call's result, also after a wait."""
    kernel = caller.kernel
    if to_console:
        psx = caller.psx
        if psx.console_port is None or not psx.console_port.connected:
            psx.console_port = kernel.lpc.connect(caller.thread.process, console.PORT_NAME, PORT_VIEW)
        port, number = psx.console_port, api
    else:
        port, number = psxss_port(caller), API[api]
    message = PortMessage(0, number, body or {}, data)
    return then(lambda: kernel.lpc.request_wait_reply(port, message, USER_MODE),
                lambda reply: post(_checked(reply)) if not reply.data else post({**_checked(reply),
                                                                                 "Data": reply.data}))


def descriptor(caller: PsxThread, fd: int) -> tuple[str, int]:
    """(kind, handle) of a descriptor: from PSXDLL's cache, else asked of PSXSS once."""
    cached = caller.psx.fds.get(fd)
    if cached is not None:
        return cached
    if not 0 <= fd < 64:
        raise PosixError(EBADF, f"fd {fd}")
    body = request(caller, "PsxQueryFd", {"Fd": fd})
    entry = caller.psx.fds[fd] = (KINDS[body["Kind"]], body["Handle"])
    return entry


def _path(caller: PsxThread, address: int) -> bytes:
    path = caller.read_string(address)
    if not path:
        raise PosixError(ENOENT, "an empty path")
    return path + b"\0"


def _simple(api: str, *fields: str, result: Callable[[dict], int] = lambda body: 0,
            path: bool = False) -> Callable:
    """A stub that sends its (integer) arguments as the request's fields, a leading path
    as its data."""
    def stub(caller: PsxThread, *args: int) -> Any:
        data = b""
        if path:
            data, args = _path(caller, args[0]), args[1:]
        body = {name: s32(value) if name in ("Pid", "Fd", "Pgid", "Signal", "How", "Atime", "Mtime")
                else value for name, value in zip(fields, args, strict=False)}
        if path:
            body["PathLength"] = len(data) - 1
        return request(caller, api, body, data, result)
    return stub


# --- processes ---------------------------------------------------------------------------------


def _ids(field: str) -> Callable:
    return lambda caller: request(caller, "PsxGetIds", post=lambda body: body[field])


def psx_fork(caller: PsxThread) -> Any:
    return request(caller, "PsxFork", post=lambda body: body["ChildPid"])


def psx_exit(caller: PsxThread, status: int) -> None:
    """_exit: NtTerminateProcess; PSXSS hears of it from the kernel (the client died)."""
    caller.nt.NtTerminateProcess(NtCurrentProcess, status & 0xFF)
    return None


def psx_waitpid(caller: PsxThread, pid: int, status: int, options: int) -> Any:
    if options & ~(WNOHANG | WUNTRACED):
        raise PosixError(EINVAL, f"options {options:#x}")

    def done(body: dict) -> int:
        if status and body["Pid"]:
            caller.write_u32(status, body["Status"])
        return body["Pid"]

    return request(caller, "PsxWaitPid", {"Pid": s32(pid), "Options": options}, post=done)


def psx_wait(caller: PsxThread, status: int) -> Any:
    return psx_waitpid(caller, 0xFFFF_FFFF, status, 0)


def psx_getgroups(caller: PsxThread, size: int, groups: int) -> int:
    """No supplementary groups in PSXSS's model: the list is empty."""
    if s32(size) < 0:
        raise PosixError(EINVAL, f"size {s32(size)}")
    return 0


def _static(caller: PsxThread, name: str, value: bytes) -> int:
    """A string PSXDLL keeps in its own data (getlogin's, ttyname's)."""
    address = caller.psx.statics.get(name)
    if address is None:
        address = caller.psx.statics[name] = _heap_take(caller)
    caller.write(address, value[:DIR_SIZE - 1] + b"\0")
    return address


def psx_getlogin(caller: PsxThread) -> int:
    login = os.environ.get("LOGNAME") or os.environ.get("USER")
    if not login:
        raise PosixError(ENOENT, "no login name", result=0)
    return _static(caller, "getlogin", login.encode())


def psx_uname(caller: PsxThread, buffer: int) -> int:
    fields = (b"Windows NT", os.uname().nodename.encode()[:64], b"4.0", b"ntsim PSXSS", b"i386")
    caller.write(buffer, b"".join(f[:64].ljust(65, b"\0") for f in fields))
    return 0


def psx_times(caller: PsxThread, buffer: int) -> Any:
    def done(body: dict) -> int:
        caller.write(buffer, struct.pack("<4I", body["Utime"], body["Stime"], body["Cutime"], body["Cstime"]))
        return caller.kernel.clock.monotonic_ns() // (10**9 // CLK_TCK) & 0x7FFF_FFFF

    return request(caller, "PsxTimes", post=done)


def psx_sysconf(caller: PsxThread, name: int) -> int:
    value = SYSCONF.get(s32(name))
    if value is None:
        raise PosixError(EINVAL, f"sysconf name {s32(name)}")
    return value


def psx_time(caller: PsxThread, address: int) -> int:
    """time(): NtQuerySystemTime, from 1601 in 100 ns units to 1970 in seconds."""
    seconds = (caller.nt.NtQuerySystemTime() - UNIX_EPOCH_NT) // 10**7
    if address:
        caller.write_u32(address, seconds)
    return seconds


def psx_sleep(caller: PsxThread, seconds: int) -> Any:
    """sleep(): NtDelayExecution; a signal ends it early with the seconds left."""
    caller.sleep_until = caller.kernel.clock.monotonic_ns() + seconds * 10**9
    return then(lambda: caller.nt.NtDelayExecution(True, seconds * 10**9), lambda _status: 0)


def psx_execve(caller: PsxThread, path: int, argv: int, envp: int) -> Any:
    name = _path(caller, path)[:-1].decode("utf-8", "surrogateescape")
    arguments = [a.decode("utf-8", "surrogateescape") for a in caller.read_vector(argv)] if argv else []
    environment = [e.decode("utf-8", "surrogateescape") for e in caller.read_vector(envp)] if envp else []
    return caller.thread.process.personality.exec_image(caller, name, arguments, environment)


def psx_execv(caller: PsxThread, path: int, argv: int) -> Any:
    return psx_execve(caller, path, argv, caller.psx.envp)


def psx_execl(caller: PsxThread, path: int, first: int) -> Any:
    """execl(path, arg0, ..., NULL): the arguments follow on the stack."""
    esp = caller.cpu.registers.read(UC_X86_REG_ESP) & 0xFFFF_FFFF
    return psx_execve(caller, path, esp + 8, caller.psx.envp)


def psx_execvp(caller: PsxThread, file: int, argv: int) -> Any:
    name = _path(caller, file)[:-1].decode("utf-8", "surrogateescape")
    if "/" not in name:
        path_value = _getenv_value(caller, b"PATH") or b"/bin:/usr/bin"
        for directory in path_value.decode("utf-8", "surrogateescape").split(":"):
            candidate = f"{directory or '.'}/{name}"
            try:
                request(caller, "PsxAccess", {"Mode": 1, "PathLength": len(candidate)},
                        candidate.encode() + b"\0")
            except PosixError:
                continue
            name = candidate
            break
    arguments = [a.decode("utf-8", "surrogateescape") for a in caller.read_vector(argv)] if argv else []
    return caller.thread.process.personality.exec_image(caller, name, arguments, None)


# --- signals -----------------------------------------------------------------------------------


def psx_sigaction(caller: PsxThread, signal: int, act: int, old: int) -> Any:
    handler = mask = flags = 0
    if act:
        handler, mask, flags = struct.unpack("<3I", caller.read(act, 12))

    def done(body: dict) -> int:
        if old:
            caller.write(old, struct.pack("<3I", body["OldHandler"], body["OldMask"], body["OldFlags"]))
        return 0

    return request(caller, "PsxSigAction", {"Signal": s32(signal), "Set": int(bool(act)),
                                            "Handler": handler, "Mask": mask, "Flags": flags}, post=done)


def psx_sigprocmask(caller: PsxThread, how: int, new: int, old: int) -> Any:
    value = caller.read_u32(new) if new else 0

    def done(body: dict) -> int:
        if old:
            caller.write_u32(old, body["OldMask"])
        return 0

    return request(caller, "PsxSigProcMask", {"How": s32(how), "Set": value, "Change": int(bool(new))},
                   post=done)


def psx_sigpending(caller: PsxThread, address: int) -> Any:
    return request(caller, "PsxSigPending", post=lambda body: (caller.write_u32(address, body["Pending"]), 0)[1])


def psx_sigsuspend(caller: PsxThread, mask: int) -> Any:
    return request(caller, "PsxSigSuspend", {"Mask": caller.read_u32(mask)})


def _sigset(change: Callable[[int, int], int], with_signal: bool = True) -> Callable:
    """sigemptyset, sigaddset...: a sigset_t is one word in the program's memory."""
    def stub(caller: PsxThread, address: int, signal: int = 0) -> int:
        if with_signal and not signals.valid(s32(signal)):
            raise PosixError(EINVAL, f"no signal {s32(signal)}")
        bit = signals.bit(s32(signal)) if with_signal else 0
        value = caller.read_u32(address)
        result = change(value, bit)
        if result is not None and result >= 0:
            caller.write_u32(address, result)
            return 0
        return int(bool(value & bit))
    return stub


def psx_sigreturn(caller: PsxThread) -> None:
    """The handler returned into PSXDLL's trampoline: the registers it interrupted come
    back from the frame, and PSXSS restores the mask."""
    registers = caller.cpu.registers
    esp = registers.read(UC_X86_REG_ESP) & 0xFFFF_FFFF
    saved = struct.unpack("<11I", caller.read(esp + 4, 44))
    for name, value in zip(FRAME_REGISTERS, saved[:10], strict=True):
        caller.cpu.write_register(name, value)
    request(caller, "PsxSigReturn", {"Mask": saved[10]})
    return None


FRAME_REGISTERS = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags")


# --- files and descriptors -----------------------------------------------------------------------


def _opened(caller: PsxThread) -> Callable[[dict], int]:
    def done(body: dict) -> int:
        caller.psx.fds[body["Fd"]] = (KINDS[body["Kind"]], body["Handle"])
        return body["Fd"]
    return done


def psx_open(caller: PsxThread, path: int, flags: int, mode: int) -> Any:
    data = _path(caller, path)
    return request(caller, "PsxOpen", {"Flags": flags, "Mode": mode, "PathLength": len(data) - 1},
                   data, _opened(caller))


def psx_creat(caller: PsxThread, path: int, mode: int) -> Any:
    return psx_open(caller, path, O_WRONLY | O_CREAT | O_TRUNC, mode)


def psx_close(caller: PsxThread, fd: int) -> Any:
    fd = s32(fd)
    caller.psx.fds.pop(fd, None)
    return request(caller, "PsxClose", {"Fd": fd}, post=lambda body: 0)


def psx_dup(caller: PsxThread, fd: int) -> Any:
    return request(caller, "PsxDup", {"Fd": s32(fd), "Target": -1, "Minimum": 0}, post=_opened(caller))


def psx_dup2(caller: PsxThread, fd: int, target: int) -> Any:
    caller.psx.fds.pop(s32(target), None)
    return request(caller, "PsxDup", {"Fd": s32(fd), "Target": s32(target), "Minimum": 0},
                   post=_opened(caller))


def psx_fcntl(caller: PsxThread, fd: int, command: int, argument: int) -> Any:
    if s32(command) == 0:          # F_DUPFD
        return request(caller, "PsxDup", {"Fd": s32(fd), "Target": -1, "Minimum": s32(argument)},
                       post=_opened(caller))
    return request(caller, "PsxFcntl", {"Fd": s32(fd), "Command": s32(command), "Argument": s32(argument)},
                   post=lambda body: body["Value"])


def psx_pipe(caller: PsxThread, fds: int) -> Any:
    def done(body: dict) -> int:
        caller.psx.fds[body["ReadFd"]] = (PIPE, body["ReadHandle"])
        caller.psx.fds[body["WriteFd"]] = (PIPE, body["WriteHandle"])
        caller.write(fds, struct.pack("<ii", body["ReadFd"], body["WriteFd"]))
        return 0

    caller.read(fds, 8)
    return request(caller, "PsxPipe", post=done)


def psx_read(caller: PsxThread, fd: int, buffer: int, count: int) -> Any:
    """read(): on a file, a pipe or /dev/null, NtReadFile on the descriptor's handle
    (no message); on the terminal, a message to the console host."""
    kind, handle = descriptor(caller, s32(fd))
    count = min(count, 0x7FFF_FFFF)
    if count:
        caller.read(buffer, 1)
    if kind == TERMINAL:
        def delivered(body: dict) -> int:
            data = body.get("Data", b"")[:count]
            caller.write(buffer, data)
            return len(data)
        return request(caller, console.PsxConsoleRead, {"Length": min(count, 0x10000)}, post=delivered,
                       to_console=True)

    return _got(caller, buffer, lambda: caller.nt.NtReadFile(handle, count))


def _got(caller: PsxThread, buffer: int, get) -> int:
    """read()'s step after NtReadFile, now or when its wait ends (bound with partial: a
    closure that wrapped itself would be a reference cycle left on every read)."""
    try:
        data = get()
    except WaitPending as pending:
        pending.wrap(partial(_got, caller, buffer))
        raise
    except NtStatusError as error:
        if error.status.name in ("STATUS_END_OF_FILE", "STATUS_PIPE_BROKEN"):
            return 0
        if error.status.name == "STATUS_FILE_IS_A_DIRECTORY":
            raise PosixError(21, "a directory") from None
        raise posix_error(error) from None
    caller.write(buffer, data)
    return len(data)


def psx_write(caller: PsxThread, fd: int, buffer: int, count: int) -> Any:
    """write(): NtWriteFile on the handle (a file, a pipe, /dev/null), or to the console
    host for the terminal. A pipe with no reader: EPIPE, and SIGPIPE to the writer.
    (The direct path is the benchmark's: written with as few calls as it can be.)"""
    kind, handle = caller.psx.fds.get(fd) or descriptor(caller, s32(fd))
    offset = buffer & 0xFFF
    table = caller.cpu.page_table
    frame = table.frames.get(buffer - offset) if buffer and offset + count <= 0x1000 else None
    if frame is not None:         # (caller.read's fast path, inline)
        data = string_at(table.physical.host_base + (frame << 12) + offset, count)
    else:
        data = caller.read(buffer, count)
    if kind == TERMINAL:
        return request(caller, console.PsxConsoleWrite, {"Stream": s32(fd), "Length": len(data)}, data,
                       lambda body: body["Written"], to_console=True)
    try:
        return caller.nt.NtWriteFile(handle, data)
    except WaitPending as pending:
        pending.wrap(partial(_finish_write, caller))
        raise
    except NtStatusError as error:
        raise _write_error(caller, error) from None


def _finish_write(caller: PsxThread, get: Callable[[], int]) -> int:
    try:
        return get()
    except WaitPending as pending:
        pending.wrap(partial(_finish_write, caller))
        raise
    except NtStatusError as error:
        raise _write_error(caller, error) from None


def _write_error(caller: PsxThread, error: NtStatusError) -> PosixError:
    if error.status.name in ("STATUS_PIPE_BROKEN", "STATUS_PIPE_CLOSING", "STATUS_PIPE_DISCONNECTED"):
        _raise_signal(caller, signals.SIGPIPE)
        return PosixError(EPIPE, "no reader")
    return posix_error(error)


def _raise_signal(caller: PsxThread, signal: int) -> None:
    pid = request(caller, "PsxGetIds", post=lambda body: body["Pid"])
    request(caller, "PsxKill", {"Pid": pid, "Signal": signal})


def psx_lseek(caller: PsxThread, fd: int, offset: int, whence: int) -> int:
    """lseek(): the position is the file object's (NtSetInformationFile)."""
    kind, handle = descriptor(caller, s32(fd))
    if kind in (TERMINAL, PIPE):
        raise PosixError(ESPIPE, f"fd {s32(fd)} is a {kind}")
    nt = caller.nt
    offset, whence = s32(offset), s32(whence)
    if whence == SEEK_SET:
        base = 0
    elif whence == SEEK_CUR:
        base = nt.NtQueryInformationFile(handle, FilePositionInformation)
    elif whence == SEEK_END:
        base = nt.NtQueryInformationFile(handle, FileStandardInformation).EndOfFile if kind != NULL else 0
    else:
        raise PosixError(EINVAL, f"whence {whence}")
    position = base + offset
    if position < 0:
        raise PosixError(EINVAL, "a negative offset")
    if position > 0x7FFF_FFFF:
        raise PosixError(75, "past what off_t holds")      # EOVERFLOW
    nt.NtSetInformationFile(handle, FilePositionInformation, position)
    return position


def psx_isatty(caller: PsxThread, fd: int) -> int:
    kind, _ = descriptor(caller, s32(fd))
    if kind != TERMINAL:
        raise PosixError(ENOTTY, f"fd {s32(fd)} is a {kind}", result=0)
    return 1


def psx_ttyname(caller: PsxThread, fd: int) -> int:
    kind, _ = descriptor(caller, s32(fd))
    if kind != TERMINAL:
        raise PosixError(ENOTTY, f"fd {s32(fd)} is a {kind}", result=0)
    return _static(caller, "ttyname", b"/dev/tty")


def psx_ctermid(caller: PsxThread, buffer: int) -> int:
    if buffer:
        caller.write(buffer, b"/dev/tty\0")
        return buffer
    return _static(caller, "ctermid", b"/dev/tty")


def _write_stat(caller: PsxThread, address: int) -> Callable[[dict], int]:
    fields = ("Mode", "Ino", "Dev", "Nlink", "Uid", "Gid", "Size", "Atime", "Mtime", "Ctime")

    def done(body: dict) -> int:
        caller.write(address, struct.pack("<6I4i", *(body[f] for f in fields)))
        return 0
    return done


def psx_stat(caller: PsxThread, path: int, buffer: int) -> Any:
    data = _path(caller, path)
    caller.read(buffer, 40)
    return request(caller, "PsxStat", {"PathLength": len(data) - 1}, data, _write_stat(caller, buffer))


def psx_fstat(caller: PsxThread, fd: int, buffer: int) -> Any:
    """fstat(): a file's metadata straight from its handle; the server's word for the rest."""
    kind, handle = descriptor(caller, s32(fd))
    caller.read(buffer, 40)
    if kind in ("file", "directory"):
        info = caller.nt.NtQueryInformationFile(handle, FileStatLxInformation)
        return _write_stat(caller, buffer)(stat_record(info))
    return request(caller, "PsxFstat", {"Fd": s32(fd)}, post=_write_stat(caller, buffer))


def psx_getcwd(caller: PsxThread, buffer: int, size: int) -> Any:
    if not size:
        raise PosixError(EINVAL, "size 0", result=0)
    caller.read(buffer, 1)

    def done(body: dict) -> int:
        caller.write(buffer, body["Data"][:size])
        return buffer

    def failed(get) -> int:
        try:
            return get()
        except PosixError as error:
            error.result = 0
            raise
    return failed(lambda: request(caller, "PsxGetCwd", {"Size": size}, post=done))


def psx_link(caller: PsxThread, old: int, new: int) -> Any:
    data = _path(caller, old) + _path(caller, new)
    return request(caller, "PsxLink", {"PathLength": len(data)}, data, lambda body: 0)


def psx_rename(caller: PsxThread, old: int, new: int) -> Any:
    data = _path(caller, old) + _path(caller, new)
    return request(caller, "PsxRename", {"PathLength": len(data)}, data, lambda body: 0)


def _unlink(directory: int) -> Callable:
    def stub(caller: PsxThread, path: int) -> Any:
        data = _path(caller, path)
        return request(caller, "PsxUnlink", {"Directory": directory, "PathLength": len(data) - 1}, data,
                       lambda body: 0)
    return stub


def psx_utime(caller: PsxThread, path: int, times: int) -> Any:
    data = _path(caller, path)
    atime = mtime = 0
    if times:
        atime, mtime = struct.unpack("<ii", caller.read(times, 8))
    return request(caller, "PsxUtime", {"Atime": atime, "Mtime": mtime, "Now": int(not times),
                                        "PathLength": len(data) - 1}, data, lambda body: 0)


def psx_pathconf(caller: PsxThread, path: int, name: int) -> Any:
    data = _path(caller, path)
    return request(caller, "PsxPathConf", {"Fd": -1, "Name": s32(name), "PathLength": len(data) - 1},
                   data, lambda body: body["Value"])


def psx_fpathconf(caller: PsxThread, fd: int, name: int) -> Any:
    return request(caller, "PsxPathConf", {"Fd": s32(fd), "Name": s32(name)}, post=lambda body: body["Value"])


# --- directories: a DIR is PSXDLL's, in its own data; reading is NtQueryDirectoryFile ----------


def _heap_take(caller: PsxThread) -> int:
    psx = caller.psx
    if not psx.heap_free:
        raise PosixError(24, "PSXDLL's data is full", result=0)     # EMFILE
    return psx.heap_free.pop(0)


def psx_opendir(caller: PsxThread, path: int) -> Any:
    data = _path(caller, path)

    def opened(body: dict) -> int:
        fd = _opened(caller)(body)
        address = _heap_take(caller)
        caller.write(address, struct.pack("<II", fd, 0) + b"\0" * 256)
        caller.psx.dirs[address] = fd
        return address

    def failed(get) -> int:
        try:
            return get()
        except WaitPending as pending:
            pending.wrap(failed)
            raise
        except PosixError as error:
            error.result = 0
            raise
    return failed(lambda: request(caller, "PsxOpen", {"Flags": O_RDONLY, "Mode": 0, "Directory": 1,
                                                      "PathLength": len(data) - 1}, data, opened))


def _dir(caller: PsxThread, address: int) -> int:
    fd = caller.psx.dirs.get(address)
    if fd is None:
        raise PosixError(EBADF, f"{address:#x} is not an open DIR", result=0)
    return fd


def psx_readdir(caller: PsxThread, address: int) -> int:
    """readdir(): one entry from NtQueryDirectoryFile on the DIR's handle; NULL at the end."""
    fd = _dir(caller, address)
    _, handle = descriptor(caller, fd)
    restart = address in caller.psx.restart_dir
    caller.psx.restart_dir.discard(address)
    try:
        entries = caller.nt.NtQueryDirectoryFile(handle, 37, True, restart)
    except NtStatusError as error:
        if error.status.name == "STATUS_NO_MORE_FILES":
            return 0
        raise posix_error(error, 0) from None
    name = entries[0].FileName.replace("\uf05c", "\\").encode("utf-8", "surrogateescape")[:255]
    caller.write(address + 8, name + b"\0")
    return address + 8


def psx_rewinddir(caller: PsxThread, address: int) -> None:
    _dir(caller, address)
    caller.psx.restart_dir.add(address)
    return None


def psx_closedir(caller: PsxThread, address: int) -> Any:
    fd = _dir(caller, address)
    del caller.psx.dirs[address]
    caller.psx.restart_dir.discard(address)
    caller.psx.heap_free.append(address)
    return psx_close(caller, fd)


# --- terminal --------------------------------------------------------------------------------


def psx_tcgetattr(caller: PsxThread, fd: int, termios: int) -> Any:
    kind, _ = descriptor(caller, s32(fd))
    if kind != TERMINAL:
        raise PosixError(ENOTTY, f"fd {s32(fd)} is a {kind}")
    caller.read(termios, 60 - 16)

    def done(body: dict) -> int:
        caller.write(termios, struct.pack("<4I11s1sII", *(body[name] for name, _ in console.TERMIOS)))
        return 0
    return request(caller, console.PsxConsoleGetAttr, post=done, to_console=True)


def psx_tcsetattr(caller: PsxThread, fd: int, when: int, termios: int) -> Any:
    kind, _ = descriptor(caller, s32(fd))
    if kind != TERMINAL:
        raise PosixError(ENOTTY, f"fd {s32(fd)} is a {kind}")
    if s32(when) not in (0, 1, 2):
        raise PosixError(EINVAL, f"when {s32(when)}")
    values = struct.unpack("<4I11s1sII", caller.read(termios, 36))
    body = {name: value for (name, _), value in zip(console.TERMIOS, values, strict=True)}
    return request(caller, console.PsxConsoleSetAttr, {"When": s32(when), **body}, post=lambda b: 0,
                   to_console=True)


# --- the environment and PSXDLL's additions ------------------------------------------------------


def _getenv_value(caller: PsxThread, name: bytes) -> bytes | None:
    address = caller.psx.env.get(name.decode("utf-8", "surrogateescape"))
    return caller.read_string(address, ARG_MAX) if address else None


def psx_getenv(caller: PsxThread, name: int) -> int:
    key = caller.read_string(name).decode("utf-8", "surrogateescape")
    return caller.psx.env.get(key, 0)


def psx_errno(caller: PsxThread) -> int:
    return caller.psx.teb + TEB_ERRNO


def psx_getargs(caller: PsxThread, argc: int, argv: int, envp: int) -> int:
    psx = caller.psx
    for address, value in ((argc, psx.argc), (argv, psx.argv), (envp, psx.envp)):
        if address:
            caller.write_u32(address, value)
    return 0


# --- the table -----------------------------------------------------------------------------------

INT, PTR, STR = Int32(), Hex(), CString()   # how the trace shows each argument
LPC, NT, LOCAL = "[lpc] ", "[nt] ", "[local] "


def _rows() -> list[Call]:
    sigset_empty = _sigset(lambda value, bit: 0, with_signal=False)
    sigset_fill = _sigset(lambda value, bit: 0xFFFF_FFFF, with_signal=False)
    sigset_add = _sigset(lambda value, bit: value | bit)
    sigset_del = _sigset(lambda value, bit: value & ~bit)
    sigset_member = _sigset(lambda value, bit: None)
    rows = [
        # processes
        call(1, "fork", psx_fork, note=LPC + "PsxFork: PSXSS clones the process (NtCreateProcessEx, no section)"),
        call(2, "_exit", psx_exit, ("status", INT), note=NT + "NtTerminateProcess; PSXSS hears LPC_CLIENT_DIED"),
        call(3, "wait", psx_wait, ("status", PTR), note=LPC + "PsxWaitPid (the server waits on the children)"),
        call(4, "waitpid", psx_waitpid, ("pid", INT), ("status", PTR), ("options", INT),
             note=LPC + "PsxWaitPid; WNOHANG, WUNTRACED (a stop: 0x7f | sig << 8)"),
        call(5, "getpid", _ids("Pid"), note=LPC + "PsxGetIds"),
        call(6, "getppid", _ids("ParentPid"), note=LPC + "PsxGetIds"),
        call(7, "getpgrp", _ids("ProcessGroup"), note=LPC + "PsxGetIds"),
        call(8, "setsid", _simple("PsxSetSid", result=lambda body: body["Session"]),
             note=LPC + "PsxSetSid"),
        call(9, "setpgid", _simple("PsxSetPgid", "Pid", "Pgid"), ("pid", INT), ("pgid", INT), note=LPC + "PsxSetPgid"),
        call(10, "getuid", _ids("Uid"), note=LPC + "PsxGetIds"),
        call(11, "geteuid", _ids("Uid"), note=LPC + "PsxGetIds (no set-user-id programs: the real id)"),
        call(12, "getgid", _ids("Gid"), note=LPC + "PsxGetIds"),
        call(13, "getegid", _ids("Gid"), note=LPC + "PsxGetIds (no set-group-id programs: the real id)"),
        call(14, "setuid", lambda c, v: _simple("PsxSetIds", "Which", "Id")(c, 0, v), ("uid", INT),
             note=LPC + "PsxSetIds"),
        call(15, "setgid", lambda c, v: _simple("PsxSetIds", "Which", "Id")(c, 1, v), ("gid", INT),
             note=LPC + "PsxSetIds"),
        call(16, "getgroups", psx_getgroups, ("size", INT), ("list", PTR), note=LOCAL + "no supplementary groups"),
        call(17, "getlogin", psx_getlogin, note=LOCAL + "the host's login name, in PSXDLL's data"),
        call(18, "uname", psx_uname, ("name", PTR), note=LOCAL),
        call(19, "times", psx_times, ("buffer", PTR), note=LPC + "PsxTimes (processor time the dispatcher counted)"),
        call(20, "sysconf", psx_sysconf, ("name", INT), note=LOCAL),
        call(21, "time", psx_time, ("tloc", PTR), note=NT + "NtQuerySystemTime"),
        call(22, "sleep", psx_sleep, ("seconds", INT), note=NT + "NtDelayExecution (a signal ends it early)"),
        call(23, "alarm", _simple("PsxAlarm", "Seconds", result=lambda body: body["Remaining"]), ("seconds", INT),
             note=LPC + "PsxAlarm: the server's timer posts SIGALRM"),
        call(24, "pause", _simple("PsxPause"), note=LPC + "PsxPause: waits until a signal (EINTR)"),
        call(25, "execve", psx_execve, ("path", STR), ("argv", PTR), ("envp", PTR),
             note=LPC + "PsxExec, then PSXDLL maps the new image in a fresh address space"),
        call(26, "execv", psx_execv, ("path", STR), ("argv", PTR), note=LPC + "PsxExec (execve with environ)"),
        call(27, "execl", psx_execl, ("path", STR), ("arg0", STR), note=LPC + "PsxExec (execve, arguments on the stack)"),
        call(28, "execvp", psx_execvp, ("file", STR), ("argv", PTR), note=LPC + "PsxAccess along PATH, then PsxExec"),
        # signals
        call(30, "kill", _simple("PsxKill", "Pid", "Signal"), ("pid", INT), ("sig", INT),
             note=LPC + "PsxKill; job control: a stop signal suspends the target's thread "
                        "(NtSuspendThread), SIGCONT resumes it"),
        call(31, "sigaction", psx_sigaction, ("sig", INT), ("act", PTR), ("oact", PTR), note=LPC + "PsxSigAction"),
        call(32, "sigprocmask", psx_sigprocmask, ("how", INT), ("set", PTR), ("oset", PTR), note=LPC + "PsxSigProcMask"),
        call(33, "sigpending", psx_sigpending, ("set", PTR), note=LPC + "PsxSigPending"),
        call(34, "sigsuspend", psx_sigsuspend, ("mask", PTR), note=LPC + "PsxSigSuspend: waits until a signal (EINTR)"),
        call(35, "sigemptyset", sigset_empty, ("set", PTR), note=LOCAL),
        call(36, "sigfillset", sigset_fill, ("set", PTR), note=LOCAL),
        call(37, "sigaddset", sigset_add, ("set", PTR), ("sig", INT), note=LOCAL),
        call(38, "sigdelset", sigset_del, ("set", PTR), ("sig", INT), note=LOCAL),
        call(39, "sigismember", sigset_member, ("set", PTR), ("sig", INT), note=LOCAL),
        # files
        call(40, "open", psx_open, ("path", STR), ("flags", Hex()), ("mode", Hex()),
             note=LPC + "PsxOpen: PSXSS opens (NtCreateFile) and duplicates the handle into the process"),
        call(41, "creat", psx_creat, ("path", STR), ("mode", Hex()), note=LPC + "PsxOpen"),
        call(42, "close", psx_close, ("fd", INT), note=LPC + "PsxClose: PSXSS closes the process's handle"),
        call(43, "read", psx_read, ("fd", INT), ("buf", PTR), ("count", INT),
             note=NT + "NtReadFile on the descriptor's handle; the terminal: " + LPC + "PsxConsoleRead"),
        call(44, "write", psx_write, ("fd", INT), ("buf", PTR), ("count", INT),
             note=NT + "NtWriteFile on the descriptor's handle; the terminal: " + LPC + "PsxConsoleWrite"),
        call(45, "lseek", psx_lseek, ("fd", INT), ("offset", INT), ("whence", INT),
             note=NT + "NtSetInformationFile(FilePositionInformation)"),
        call(46, "dup", psx_dup, ("fd", INT), note=LPC + "PsxDup (NtDuplicateObject into the process)"),
        call(47, "dup2", psx_dup2, ("fd", INT), ("fd2", INT), note=LPC + "PsxDup"),
        call(48, "fcntl", psx_fcntl, ("fd", INT), ("cmd", INT), ("arg", INT),
             level="partial", note=LPC + "PsxFcntl/PsxDup; O_NONBLOCK on a pipe is refused (EINVAL)"),
        call(49, "pipe", psx_pipe, ("fds", PTR), note=LPC + "PsxPipe: an NPFS pipe, both ends' handles moved in"),
        call(50, "mkfifo", _simple("PsxMkfifo", "Mode", path=True), ("path", STR), ("mode", Hex()),
             level="partial", note=LPC + "PsxMkfifo: the node is made; opening it is not modelled"),
        call(51, "stat", psx_stat, ("path", STR), ("buf", PTR), note=LPC + "PsxStat (FileStatLxInformation)"),
        call(52, "fstat", psx_fstat, ("fd", INT), ("buf", PTR),
             note=NT + "NtQueryInformationFile on a file's handle; a terminal or pipe: " + LPC + "PsxFstat"),
        call(53, "access", _simple("PsxAccess", "Mode", path=True), ("path", STR), ("mode", INT), note=LPC + "PsxAccess"),
        call(54, "chmod", _simple("PsxChmod", "Mode", path=True), ("path", STR), ("mode", Hex()),
             note=LPC + "PsxChmod (the mode is lxfs metadata: NtSetEaFile)"),
        call(55, "chown", _simple("PsxChown", "Uid", "Gid", path=True), ("path", STR), ("owner", INT), ("group", INT),
             note=LPC + "PsxChown (_POSIX_CHOWN_RESTRICTED)"),
        call(56, "utime", psx_utime, ("path", STR), ("times", PTR), note=LPC + "PsxUtime (FileBasicInformation)"),
        call(57, "link", psx_link, ("old", STR), ("new", STR), note=LPC + "PsxLink (FileLinkInformation)"),
        call(58, "unlink", _unlink(0), ("path", STR), note=LPC + "PsxUnlink (a POSIX-semantics delete)"),
        call(59, "rename", psx_rename, ("old", STR), ("new", STR), note=LPC + "PsxRename (FileRenameInformation)"),
        call(60, "mkdir", _simple("PsxMkdir", "Mode", path=True), ("path", STR), ("mode", Hex()), note=LPC + "PsxMkdir"),
        call(61, "rmdir", _unlink(1), ("path", STR), note=LPC + "PsxUnlink"),
        call(62, "chdir", _simple("PsxChdir", path=True), ("path", STR), note=LPC + "PsxChdir (PSXSS keeps the directory)"),
        call(63, "getcwd", psx_getcwd, ("buf", PTR), ("size", INT), note=LPC + "PsxGetCwd"),
        call(64, "umask", _simple("PsxUmask", "Mask", result=lambda body: body["Old"]), ("mask", Hex()),
             note=LPC + "PsxUmask"),
        call(65, "opendir", psx_opendir, ("path", STR), note=LPC + "PsxOpen of the directory; the DIR is PSXDLL's"),
        call(66, "readdir", psx_readdir, ("dir", PTR), note=NT + "NtQueryDirectoryFile on the DIR's handle"),
        call(67, "rewinddir", psx_rewinddir, ("dir", PTR), note=LOCAL + "the next NtQueryDirectoryFile restarts"),
        call(68, "closedir", psx_closedir, ("dir", PTR), note=LPC + "PsxClose"),
        call(69, "pathconf", psx_pathconf, ("path", STR), ("name", INT), note=LPC + "PsxPathConf"),
        call(70, "fpathconf", psx_fpathconf, ("fd", INT), ("name", INT), note=LPC + "PsxPathConf"),
        # terminal
        call(71, "isatty", psx_isatty, ("fd", INT), note=LOCAL + "PSXDLL's descriptor cache (" + LPC + "PsxQueryFd once)"),
        call(72, "ttyname", psx_ttyname, ("fd", INT), note=LOCAL + "the console: /dev/tty"),
        call(73, "ctermid", psx_ctermid, ("s", PTR), note=LOCAL),
        call(74, "tcgetattr", psx_tcgetattr, ("fd", INT), ("termios", PTR),
             level="partial", note=LPC + "PsxConsoleGetAttr to the console host (basic termios)"),
        call(75, "tcsetattr", psx_tcsetattr, ("fd", INT), ("when", INT), ("termios", PTR),
             level="partial", note=LPC + "PsxConsoleSetAttr: kept by the console host, not passed to the host terminal"),
        # the environment, and PSXDLL's additions
        call(80, "getenv", psx_getenv, ("name", STR), note=LOCAL + "the environment block PSXDLL built"),
        call(81, "__psx_errno", psx_errno, note=LOCAL + "PSXDLL's addition: &errno (TEB+0x34)"),
        call(82, "__psx_getargs", psx_getargs, ("argc", PTR), ("argv", PTR), ("envp", PTR),
             note=LOCAL + "PSXDLL's addition: argc, argv, envp"),
        call(SIGRETURN, "__psx_sigreturn", psx_sigreturn,
             note=LPC + "PsxSigReturn: the handler trampoline (not an export)"),
    ]
    return rows


TABLE: list[Call] = _rows()
EXPORTS: dict[str, int] = {row.name: STUBS + STUB_SIZE * row.number for row in TABLE if row.number != SIGRETURN}
ORDINALS: dict[int, int] = {row.number: STUBS + STUB_SIZE * row.number for row in TABLE if row.number != SIGRETURN}
SIGRETURN_STUB = STUBS + STUB_SIZE * SIGRETURN


def module_image() -> bytes:
    """PSXDLL's pages: a name, then a stub per number: mov eax, n; int 2Fh; ret."""
    image = bytearray(PSXDLL_SIZE)
    image[:len(MODULE)] = MODULE.encode()
    for row in TABLE:
        stub = b"\xb8" + row.number.to_bytes(4, "little") + bytes((0xCD, TRAP_VECTOR, 0xC3))
        at = STUBS - PSXDLL_BASE + STUB_SIZE * row.number
        image[at:at + STUB_SIZE] = stub.ljust(STUB_SIZE, b"\xcc")
    return bytes(image)


# --- the gate: cdecl through INT 2Fh -------------------------------------------------------------


_UNPACK = [struct.Struct(f"<{n}I").unpack for n in range(8)]


class PsxAbi(RegisterAbi):
    """PSXDLL's stubs: EAX the number; the cdecl arguments on the stack above the
    program's return address ([ESP+4], [ESP+8], ...); the result in EAX."""

    def __init__(self) -> None:
        super().__init__(UC_X86_REG_EAX, (), UC_X86_REG_EAX, number_mask=0xFFFF_FFFF,
                         stack_pointer=UC_X86_REG_ESP, stack_offset=4, slot_size=4,
                         trap=f"int {TRAP_VECTOR:#x}")

    def arguments(self, caller: PsxThread, row: Call) -> list[int]:
        arity = row.arity
        if not arity:
            return []
        cpu = caller.cpu
        at = (cpu.registers.read(UC_X86_REG_ESP) & 0xFFFF_FFFF) + 4
        offset = at & 0xFFF
        table = cpu.page_table
        frame = table.frames.get(at - offset) if offset + 4 * arity <= 0x1000 else None
        if frame is not None:         # the stack page the caller just pushed them on
            raw = string_at(table.physical.host_base + (frame << 12) + offset, 4 * arity)
        else:
            raw = caller.read(at, 4 * arity)
        return list(_UNPACK[arity](raw))

    def fast_path(self, calls: dict[int, Call]) -> Callable[[PsxThread], tuple[Call, list[int]] | None]:
        """The gate's hot path (CallGate.fast_path): the number from EAX, the row and its
        frame's format looked up once per number, and the whole frame unpacked in one go
        straight from the stack page's frame. Anything else (an unknown number, a frame
        across a page or on a page not yet present) goes the long way, through `arguments`."""
        rows: dict[int, tuple[Call, Callable]] = {}
        for number, row in calls.items():
            if row.handler is not None and row.arity < len(_UNPACK):
                rows[number] = (row, struct.Struct(f"<{row.arity}I").unpack_from)

        def fetch(caller: PsxThread) -> tuple[Call, list[int]] | None:
            cpu = caller.cpu
            read = cpu.registers.read
            number = read(UC_X86_REG_EAX)
            entry = rows.get(number & 0xFFFF_FFFF)
            if entry is None:
                return None
            row, unpack = entry
            size = 4 * row.arity
            if not size:
                return row, []
            at = (read(UC_X86_REG_ESP) & 0xFFFF_FFFF) + 4
            offset = at & 0xFFF
            if offset + size > 0x1000:
                return None
            table = cpu.page_table
            frame = table.frames.get(at - offset)
            if frame is None:
                return None
            return row, list(unpack(table.physical.bytes, (frame << 12) + offset))

        return fetch

    def restart(self, caller: PsxThread) -> None:
        caller.cpu.restart_trap()

    def woken(self, caller: PsxThread, row: Call, pending: WaitPending, status: int) -> tuple[Any, bool]:
        """A signal ended the wait (PSXSS alerted the thread): the call fails with EINTR
        — sleep returns the seconds left — and the request PSXSS was working on is dropped."""
        if status == STATUS_ALERTED:
            for undo in pending.on_cancel:
                undo()
            if row.name == "sleep":
                left = caller.sleep_until - caller.kernel.clock.monotonic_ns()
                return max(0, (left + 500_000_000) // 10**9), True     # to the nearest second
            caller.set_errno(EINTR)
            return Failed.of(-1, EINTR), True
        return pending.complete(status), False


class PsxErrors(ErrorMapping):
    failures = (PosixError, NtStatusError)
    not_implemented = Failed.of(-1, ENOSYS)
    not_implemented_name = "not in PSXDLL"

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def result_of(self, failure: BaseException) -> Failed:
        if isinstance(failure, NtStatusError):
            failure = posix_error(failure)
        thread = self.kernel.current_thread
        if thread is not None and isinstance(thread.data, PsxThread):
            thread.data.set_errno(failure.errno)
        return Failed.of(failure.result, failure.errno)

    def describe(self, result: Any) -> tuple[Any, str | None]:
        if result is None:
            return None, None
        if isinstance(result, Failed):
            return int(result), error_name(result.errno)
        return result, None

    def unknown_name(self, number: int) -> str:
        return f"psxdll_{number}"


def make_gate(kernel: Kernel, interceptors: Any = None) -> CallGate:
    return CallGate(kernel, "posix", TABLE, PsxAbi(), PsxErrors(kernel), interceptors)


__all__ = ["EXPORTS", "MODULE", "ORDINALS", "PSXDLL_BASE", "PsxProcessData", "PsxThread", "TABLE",
           "make_gate", "module_image"]
