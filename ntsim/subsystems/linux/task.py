"""The Linux view of a process and of a thread (Linux calls both *tasks*).

An NT process created for a Linux program carries a :class:`LinuxProcess` (fds, cwd,
program break, signal dispositions...) in `process.data`; each of its threads carries a
:class:`Task` in `thread.data`. Handlers receive the calling `Task`: everything a
handler needs is one attribute away, and nothing is allocated per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errno import EFAULT, ENAMETOOLONG, LinuxError
from .fdtable import FdEntry, FdTable

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel
    from ...kernel.processes import Event, Process, Thread
    from .identity import Credentials

PATH_MAX = 4096


@dataclass
class LinuxProcess:
    process: Process
    exe: str                         # /proc/self/exe, as the guest sees it
    argv: list[str]
    env: list[str]
    fds: FdTable = field(default_factory=FdTable)
    cwd: str = "/"
    umask: int = 0o022
    brk_start: int = 0
    brk: int = 0
    signal_actions: dict[int, bytes] = field(default_factory=dict)   # signo -> kernel sigaction record
    # Signals sent to the process as a whole (kill), waiting for a thread that does not
    # block them; a fork child starts with none (signals.py).
    pending_signals: dict[int, list[Any]] = field(default_factory=dict)
    itimer_real: Any = None          # the ITIMER_REAL / alarm() timer, if armed (signals.py)
    cpu_itimers: dict[int, tuple[int, int]] = field(default_factory=dict)   # ITIMER_VIRTUAL/PROF
    posix_timers: dict[int, Any] = field(default_factory=dict)   # timer_create's (timers.py)
    stopped: Any = None              # the event a stopped process waits on for SIGCONT
    # job control: a stop or continue the parent's wait has not reported yet, as
    # (CLD_STOPPED or CLD_CONTINUED, the signal), and the event pulsed when one happens
    job_report: tuple[int, int] | None = None
    job_changed: Any = None
    rlimits: dict[int, tuple[int, int]] = field(default_factory=dict)
    uid: int = 0
    gid: int = 0
    pgid: int = 0                    # process group and session (0: the process's own pid)
    sid: int = 0
    children: list[Process] = field(default_factory=list)   # not yet reaped by wait
    exit_signal: int = 17            # what the parent gets when this process exits (SIGCHLD)
    orphaned: bool = False           # the parent exited first: getppid() is 1 (init)
    vfork_done: Event | None = None  # set while a vfork parent sleeps until exec or exit
    futexes: int | None = None       # handle of the keyed event futexes wait on
    shared_futexes: int | None = None  # handle of the machine's keyed event for shared ones
    image: bytes = b""               # the running program's file, for /proc/self/exe
    # credentials, name and scheduling (identity.py, system.py); fork copies them
    creds: Credentials | None = None  # made from uid/gid on first use
    comm: str = ""                   # the name prctl(PR_SET_NAME) set ("" : the program's)
    personality: int = 0             # personality(2)'s execution domain and flags
    nice: int = 0                    # setpriority(PRIO_PROCESS)
    locked_pages: set[int] = field(default_factory=set)   # mlock'ed pages (RLIMIT_MEMLOCK)
    ptrace: Any = None               # as a tracer: its tracees (ptrace.py's Tracer)
    saved_auxv: bytes = b""          # the auxiliary vector exec gave it (/proc/PID/auxv)

    def __post_init__(self) -> None:
        self.pgid = self.pgid or self.process.pid
        self.sid = self.sid or self.process.pid

    def forked(self, child: Process) -> LinuxProcess:
        """The child's copy after fork: same fds (the handle table was copied with the
        same values), directory, mask, dispositions, limits, group and session."""
        copy = LinuxProcess(child, self.exe, list(self.argv), list(self.env), cwd=self.cwd,
                            umask=self.umask, brk_start=self.brk_start, brk=self.brk,
                            signal_actions=dict(self.signal_actions), rlimits=dict(self.rlimits),
                            uid=self.uid, gid=self.gid, pgid=self.pgid, sid=self.sid,
                            image=self.image, creds=self.creds, comm=self.comm,
                            personality=self.personality, nice=self.nice,
                            saved_auxv=self.saved_auxv)
        copy.fds.limit = self.fds.limit
        for fd, entry in self.fds.items():
            copy.fds.install(FdEntry(entry.handle, entry.file, entry.cloexec, entry.node), fd)
        return copy


class Task:
    """One Linux thread: the NT thread plus what Linux keeps per task."""

    __slots__ = ("thread", "lx", "kernel", "nt", "memory", "cpu", "tid_address",
                 "robust_list", "signal_mask", "linux_tid", "pending_signals", "sigpending",
                 "alt_stack", "saved_mask", "real_blocked", "parked_call", "restart_block", "ptrace")

    def __init__(self, thread: Thread, lx: LinuxProcess, kernel: Kernel) -> None:
        self.thread = thread
        self.lx = lx
        self.kernel = kernel
        self.nt = kernel.services
        self.memory = thread.process.memory
        self.cpu = thread.process.cpu
        self.tid_address = 0
        self.robust_list = (0, 0)
        self.signal_mask = 0
        # Signal state (signals.py): signals sent to this thread (tgkill, faults); whether
        # any pending signal is unblocked (checked on every return to user mode, so kept
        # as one flag, like Linux's TIF_SIGPENDING); the alternate stack (ss_sp, ss_size,
        # ss_flags); the mask rt_sigsuspend replaced; the call parked in, if any.
        self.pending_signals: dict[int, list] = {}
        self.sigpending = False
        self.alt_stack = (0, 0, 0)          # none yet (sigaltstack reports SS_DISABLE)
        self.saved_mask: int | None = None
        self.real_blocked = 0               # rt_sigtimedwait: the mask it unblocked its set from
        self.parked_call = None
        # how restart_syscall goes on with a sleep a stop or an ignored signal cut short
        self.restart_block = None
        self.ptrace = None                  # traced: the tracer and the stop state (ptrace.py)
        # Linux numbers a process's first thread with the process id (NT does not).
        self.linux_tid = thread.process.pid if not lx.process.threads[:-1] else thread.tid

    @property
    def pid(self) -> int:
        return self.thread.process.pid

    @property
    def tid(self) -> int:
        return self.thread.tid

    # --- guest memory, with Linux's EFAULT ----------------------------------------------

    def read(self, address: int, size: int) -> bytes:
        try:
            return self.memory.read(address, size)
        except Exception:
            raise LinuxError(EFAULT, f"{address:#x}") from None

    def write(self, address: int, data: bytes) -> None:
        try:
            self.memory.write(address, data)
        except Exception:
            raise LinuxError(EFAULT, f"{address:#x}") from None

    def read_string(self, address: int, limit: int = PATH_MAX) -> str:
        """A NUL-terminated string of the guest's. A path (the default limit) with no NUL
        in its first PATH_MAX bytes is ENAMETOOLONG, as strncpy_from_user makes it:
        never cut short. With another limit the string is cut at it (a thread's comm)."""
        if not address:
            raise LinuxError(EFAULT, "NULL string")
        try:
            raw = self.memory.read_cstring(address, limit)
        except Exception:
            raise LinuxError(EFAULT, f"{address:#x}") from None
        if limit == PATH_MAX and len(raw) >= PATH_MAX:
            raise LinuxError(ENAMETOOLONG, f"a path of {PATH_MAX} bytes or more, at {address:#x}")
        return raw.decode("utf-8", "surrogateescape")

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
