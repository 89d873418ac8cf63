"""PSXSS, the POSIX subsystem server: the process table and all POSIX state, over LPC.

NT's POSIX subsystem was the purest of its client/server subsystems. A program's calls
enter PSXDLL in its own process (client.py); whatever needs POSIX state that is not the
process's own travels to this server as an LPC message on `\\PSXSS\\ApiPort`, and the
server answers after doing the work with Nt* services on the client's behalf.

The server keeps, per POSIX process (`PosixProcessEntry`): its POSIX pid and the NT
process behind it, its parent and children, process group, session and whether the
console is its controlling terminal, its ids, working directory and umask, its signal
dispositions, mask and pending set, its alarm, its exit status until its parent reaps
it, and its descriptor table (fdtable.py: fd -> the client's NT handle + flags).

Messages are CSR's shape (kernel/lpc.py): a fixed header, an API number
(`PSX_SERVER << 16 | index`) and a typed record each way; the name table is the trace's
label. Every reply record starts with `Errno` (0: success), which is how a POSIX error
travels back. A handler that must wait (waitpid, pause) parks its server thread until
a kernel object is signalled; a signal for the waiting client cancels the request.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ...kernel.dispatcher import WaitPending
from ...kernel.fs.pipe import DEFAULT_QUOTA, FILE_PIPE_QUEUE_OPERATION, FILE_SHARE_WRITE
from ...kernel.io import (
    DELETE,
    FILE_APPEND_DATA,
    FILE_CREATE,
    FILE_DIRECTORY_FILE,
    FILE_DISPOSITION_DELETE,
    FILE_DISPOSITION_POSIX_SEMANTICS,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OPEN_REPARSE_POINT,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_TRAVERSE,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    LX_EA_GID,
    LX_EA_MODE,
    LX_EA_UID,
    SYNCHRONIZE,
    BasicInformation,
    FileBasicInformation,
    FileDispositionInformationEx,
    FileLinkInformation,
    FileRenameInformation,
    FileStandardInformation,
    FileStatLxInformation,
)
from ...kernel.lpc import ApiReply, ApiRow, Field, LpcServer, PortMessage, Record
from ...kernel.processes import Event, Process, ThreadState
from ...kernel.services import DUPLICATE_CLOSE_SOURCE, DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ...kernel.status import STATUS_ALERTED, NtStatusError
from ...trace import SERVER
from ..linux.lxfs import nt_name
from . import signals
from .errno import (
    EACCES,
    ECHILD,
    EINTR,
    EINVAL,
    EIO,
    ENOENT,
    ENOTDIR,
    ENXIO,
    EPERM,
    ERANGE,
    ESRCH,
    PosixError,
    errno_from_status,
)
from .fdtable import (
    DIRECTORY,
    FILE,
    KIND_NUMBERS,
    NULL,
    PIPE,
    TERMINAL,
    Descriptor,
    DescriptorTable,
    OpenFile,
)

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel

PSX_SERVER = 1                 # the server number in every PSXSS API number
PORT_NAME = "\\PSXSS\\ApiPort"
INIT_PID = 1                   # the parent POSIX.1 gives an orphan (no such process here)
FIRST_PID = 100                # POSIX pids are PSXSS's own numbers, not NT's
O_ACCMODE, O_WRONLY, O_RDWR = 0o3, 0o1, 0o2
O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND, O_NONBLOCK = 0o100, 0o200, 0o400, 0o1000, 0o2000, 0o4000
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
FD_CLOEXEC = 1
WNOHANG, WUNTRACED = 1, 2
SA_NOCLDSTOP = 1               # sa_flags: no SIGCHLD when a child stops
STOPPED = 0x7F                 # a wait status's low byte for a stopped child (sig << 8)
S_IFMT, S_IFDIR, S_IFREG, S_IFIFO, S_IFCHR = 0o170000, 0o040000, 0o100000, 0o010000, 0o020000
# The action a signal's delivery takes, as PsxSigDeliver reports it to the client.
ACTION_NONE, ACTION_HANDLER, ACTION_TERMINATE = 0, 1, 2
NAME_MAX, PATH_MAX, PIPE_BUF = 255, 1024, 4096
# pathconf names (Linux's _PC_* numbers)
STOP_SIGNALS = (signals.bit(signals.SIGSTOP) | signals.bit(signals.SIGTSTP) | signals.bit(signals.SIGTTIN)
                | signals.bit(signals.SIGTTOU))
PATHCONF = {0: 127, 1: 255, 2: NAME_MAX, 3: NAME_MAX, 4: PATH_MAX, 5: PIPE_BUF, 6: 1, 7: 1, 8: 0}


@dataclass
class PosixProcessEntry:
    """PSXSS's record of one POSIX process."""

    pid: int
    nt: Process                      # the NT process behind it
    handle: int                      # PSXSS's handle to that process
    parent: int                      # POSIX ppid (INIT_PID once orphaned)
    pgid: int
    sid: int
    ctty: bool                       # the console is its controlling terminal
    fds: DescriptorTable = field(default_factory=DescriptorTable)
    cwd: str = "/"
    umask: int = 0o022
    uid: int = 0
    gid: int = 0
    actions: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # sig -> (handler, mask, flags)
    mask: int = 0
    pending: int = 0
    suspend_mask: int | None = None  # the mask sigsuspend replaced, while it waits
    alarm: Any = None                # the dispatcher timer of alarm(), and when it is due
    alarm_due_ns: int = 0
    children: list[int] = field(default_factory=list)
    status: int | None = None        # the wait status once it has ended (a zombie until reaped)
    child_times_ns: int = 0          # processor time of reaped children (tms_cutime)
    woken: Event = field(default_factory=Event)   # pause() and sigsuspend() wait on it
    stopped: int = 0                 # the signal that stopped it (job control), 0 if running
    stop_unreported: bool = False    # waitpid(WUNTRACED) has not yet reported that stop
    changed: Event = field(default_factory=Event)  # pulsed when it stops: its parent's waitpid wakes

    @property
    def thread(self):
        """Its thread (POSIX.1 processes have one)."""
        return self.nt.threads[0] if self.nt.threads else None


# --- message records -------------------------------------------------------------------------


def _record(name: str, fields: tuple[tuple[str, str], ...]) -> Record:
    return Record(name, *(Field(n, f) for n, f in fields))


def _posix_result(get: Callable[[], Any]) -> Any:
    """A handler's POSIX error (or an Nt* service's) becomes the reply's Errno, also
    when the handler finishes after a wait."""
    try:
        return get()
    except WaitPending as pending:
        pending.wrap(_posix_result)
        raise
    except PosixError as error:
        return {"Errno": error.errno}
    except NtStatusError as error:
        return {"Errno": errno_from_status(error.status) or EIO}


class PsxApi:
    """The API rows, declared once: number, name, request fields, reply fields."""

    rows: list[ApiRow] = []
    numbers: dict[str, int] = {}

    @classmethod
    def define(cls, index: int, name: str, request: tuple[tuple[str, str], ...] = (),
               reply: tuple[tuple[str, str], ...] = ()) -> Callable:
        def register(handler: Callable) -> Callable:
            number = PSX_SERVER << 16 | index
            upper = name[3:].upper()
            cls.rows.append(ApiRow(
                number, name, lambda server, message: _posix_result(partial(handler, server, message)),
                request=_record(f"PSX_{upper}_MSG", request) if request else None,
                reply=_record(f"PSX_{upper}_REPLY", (("Errno", "I"), *reply))))
            cls.numbers[name] = number
            return handler
        return register


define = PsxApi.define
PATH = (("PathLength", "I"),)       # a request whose path travels as the message's data
STAT = (("Mode", "I"), ("Ino", "I"), ("Dev", "I"), ("Nlink", "I"), ("Uid", "I"), ("Gid", "I"),
        ("Size", "i"), ("Atime", "i"), ("Mtime", "i"), ("Ctime", "i"))
IDS = (("Pid", "i"), ("ParentPid", "i"), ("ProcessGroup", "i"), ("Session", "i"),
       ("Uid", "I"), ("Gid", "I"))
OPENED = (("Fd", "i"), ("Handle", "I"), ("Kind", "I"))


def _paths(message: PortMessage) -> list[str]:
    """The NUL-separated paths a request carries as its data."""
    return [part.decode("utf-8", "surrogateescape") for part in message.data.split(b"\0")[:-1]] \
        if message.data.endswith(b"\0") else [message.data.decode("utf-8", "surrogateescape")]


class Psxss(LpcServer):
    name = "psxss"
    image_name = "psxss.exe"
    port_name = PORT_NAME
    architecture = "x86-32"        # psxss.exe was a 32-bit NT process (its port views live here)

    def __init__(self, kernel: Kernel, personality: Any) -> None:
        self.api = tuple(PsxApi.rows)
        super().__init__(kernel)
        self.personality = personality
        self.table: dict[int, PosixProcessEntry] = {}    # POSIX pid -> entry
        self.by_nt_pid: dict[int, PosixProcessEntry] = {}
        self._pids = itertools.count(FIRST_PID)
        self._pipes = itertools.count(1)
        self.console = None            # the console host (POSIX.EXE) of the session
        self.foreground: int | None = None   # the terminal's foreground process group

    def start(self, parent: Process | None) -> None:
        """psxss.exe's main(): its object directory \\PSXSS, then its port and threads."""
        try:
            self.kernel.objects.create_directory("\\PSXSS", permanent=True)
        except NtStatusError:
            pass                               # (a machine that ran PSXSS before)
        super().start(parent)

    # --- the process table --------------------------------------------------------------------

    def accept(self, client: Process) -> bool:
        """Only POSIX processes connect to \\PSXSS\\ApiPort."""
        return client.personality is self.personality

    def caller(self, message: PortMessage) -> PosixProcessEntry:
        entry = self.by_nt_pid.get(message.ClientId[0])
        if entry is None:
            raise PosixError(ESRCH, f"NT process {message.ClientId[0]} is no POSIX process")
        return entry

    def register(self, nt: Process, parent: PosixProcessEntry | None) -> PosixProcessEntry:
        """A new POSIX process: the first of a session (a program ntsim started) or a
        fork child, which inherits its parent's group, session, ids and directory."""
        nt_services = self.kernel.services
        handle = nt_services.NtOpenProcess(0x1F0FFF, nt.pid)
        pid = next(self._pids)
        if parent is None:
            entry = PosixProcessEntry(pid, nt, handle, INIT_PID, pid, pid, True)
            if self.foreground is None:
                self.foreground = pid
            if self.console is None:
                self.console = self.personality.start_console_host(self)
        else:
            entry = PosixProcessEntry(pid, nt, handle, parent.pid, parent.pgid, parent.sid, parent.ctty,
                                      parent.fds.forked(), parent.cwd, parent.umask, parent.uid,
                                      parent.gid, dict(parent.actions), parent.mask)
            parent.children.append(pid)
        self.table[pid] = entry
        self.by_nt_pid[nt.pid] = entry
        return entry

    def entry_of(self, process: Process) -> PosixProcessEntry | None:
        return self.by_nt_pid.get(process.pid)

    def process_ended(self, process: Process) -> None:
        """The kernel ended a POSIX process (LPC_CLIENT_DIED, as the server hears it):
        keep its wait status for the parent, orphan its children, send SIGCHLD."""
        entry = self.by_nt_pid.get(process.pid)
        if entry is None or entry.status is not None:
            return
        caller = self.kernel.current_thread
        self.kernel.current_thread = self.thread      # the server's own work, in its process
        self.thread.trace_parent = caller.trace_parent if caller is not None else None
        try:
            self._ended(entry, process)
        finally:
            self.kernel.current_thread = caller
            self.thread.trace_parent = None

    def _ended(self, entry: PosixProcessEntry, process: Process) -> None:
        killed = getattr(process, "killed_by", None)
        entry.status = killed if killed else (process.exit_status & 0xFF) << 8
        if entry.alarm is not None:
            entry.alarm.cancel()
            entry.alarm = None
        for pid in entry.children:
            child = self.table.get(pid)
            if child is not None:
                child.parent = INIT_PID
                if child.status is not None:
                    self._reap(child)
        entry.children = []
        parent = self.table.get(entry.parent)
        orphan = parent is None or parent.status is not None
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, SERVER, "PsxProcessEnded", {
                "Pid": entry.pid, "WaitStatus": hex(entry.status),
                "Then": "reaped (no parent waits)" if orphan else f"kept for pid {parent.pid}, SIGCHLD"})
        if orphan:
            self._reap(entry)               # nobody will wait for it
        else:
            self.post(parent, signals.SIGCHLD)

    def _reap(self, entry: PosixProcessEntry) -> None:
        self.table.pop(entry.pid, None)
        self.by_nt_pid.pop(entry.nt.pid, None)
        parent = self.table.get(entry.parent)
        if parent is not None and entry.pid in parent.children:
            parent.children.remove(entry.pid)
            parent.child_times_ns += sum(self.kernel.dispatcher.thread_time_ns(t) for t in entry.nt.threads)
        try:
            self.kernel.services.NtClose(entry.handle)
        except NtStatusError:
            pass
        self.kernel.recycle_processor(entry.nt)

    # --- signals ----------------------------------------------------------------------------

    def post(self, entry: PosixProcessEntry, signal: int) -> None:
        """Generate a signal for a process: ignored ones are discarded (POSIX.1 3.3.1.3),
        others become pending, and one the process does not block is delivered."""
        if entry.status is not None or not entry.nt.alive:
            return
        tracer = self.kernel.tracer
        if tracer.enabled:
            tracer.note(self.kernel.current_thread, SERVER, "PsxPostSignal",
                        {"Pid": entry.pid, "Signal": signals.name(signal)})
        handler = entry.actions.get(signal, (signals.SIG_DFL, 0, 0))[0]
        if signal == signals.SIGCONT:
            # POSIX.1 3.3.1.2: SIGCONT continues a stopped process whatever its disposition,
            # and discards its pending stop signals
            entry.pending &= ~STOP_SIGNALS
            self._continue(entry)
        elif signal == signals.SIGKILL:
            self._continue(entry)           # a stopped process must run to end
        elif signals.bit(signal) & STOP_SIGNALS:
            entry.pending &= ~signals.bit(signals.SIGCONT)    # a stop discards a pending SIGCONT
        if signal != signals.SIGKILL and (handler == signals.SIG_IGN or (
                handler == signals.SIG_DFL and signals.default_action(signal) in
                (signals.IGNORE, signals.CONTINUE))):
            return
        if (signal == signals.SIGSTOP or handler == signals.SIG_DFL and signals.default_action(signal)
                == signals.STOP) and not entry.mask & signals.bit(signal):
            self._stop(entry, signal)       # the default action of a stop signal: no delivery
            return
        entry.pending |= signals.bit(signal)
        self.notify(entry)

    # --- job control (POSIX.1 3.3.1.3) ----------------------------------------------------------

    def _threads(self, entry: PosixProcessEntry) -> list[int]:
        """Handles (in PSXSS) to the process's live threads."""
        open_thread = self.kernel.services.NtOpenThread
        return [open_thread(0x1F03FF, (entry.nt.pid, t.tid)) for t in entry.nt.threads
                if t.state != ThreadState.TERMINATED]

    def _stop(self, entry: PosixProcessEntry, signal: int) -> None:
        """Stop a process: PSXSS suspends its threads through the kernel (NtSuspendThread:
        each parks before its next user instruction), keeps the stop in its table for the
        parent's waitpid(WUNTRACED), and sends the parent SIGCHLD unless SA_NOCLDSTOP."""
        if entry.stopped:
            return
        nt = self.kernel.services
        for handle in self._threads(entry):
            try:
                nt.NtSuspendThread(handle)
            finally:
                nt.NtClose(handle)
        entry.stopped, entry.stop_unreported = signal, True
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.kernel.current_thread, SERVER, "PsxProcessStopped",
                                    {"Pid": entry.pid, "Signal": signals.name(signal)})
        # SIGCHLD first: if it interrupts the parent's waitpid (EINTR), the stop stays
        # unreported for its next call; then a waitpid(WUNTRACED) still waiting wakes
        parent = self.table.get(entry.parent)
        if parent is not None and parent.status is None and \
                not parent.actions.get(signals.SIGCHLD, (0, 0, 0))[2] & SA_NOCLDSTOP:
            self.post(parent, signals.SIGCHLD)
        dispatcher = self.kernel.dispatcher
        entry.changed.signalled = True
        dispatcher.signal(entry.changed)
        entry.changed.signalled = False

    def _continue(self, entry: PosixProcessEntry) -> None:
        """SIGCONT (or SIGKILL) for a stopped process: its threads resume."""
        if not entry.stopped:
            return
        nt = self.kernel.services
        for handle in self._threads(entry):
            try:
                nt.NtResumeThread(handle)
            finally:
                nt.NtClose(handle)
        entry.stopped, entry.stop_unreported = 0, False
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.kernel.current_thread, SERVER, "PsxProcessContinued",
                                    {"Pid": entry.pid})

    def deliverable(self, entry: PosixProcessEntry) -> int:
        return entry.pending & (~entry.mask | signals.UNCATCHABLE)

    def notify(self, entry: PosixProcessEntry) -> None:
        """A signal can be delivered: the client's thread runs PSXDLL's delivery (a user
        APC) before it next runs user code; if it waits, the wait ends (EINTR)."""
        thread = entry.thread
        if not self.deliverable(entry) or thread is None or thread.state == ThreadState.TERMINATED:
            return
        dispatcher = self.kernel.dispatcher
        dispatcher.queue_user_apc(thread, thread.data.signal_apc)
        entry.woken.signalled = True
        dispatcher.signal(entry.woken)
        entry.woken.signalled = False
        if not dispatcher.alert(thread, STATUS_ALERTED) and thread.state == ThreadState.RUNNING \
                and entry.nt.cpu is not None:
            entry.nt.cpu.request_stop()     # it runs now (it signalled itself): stop for the APC

    @define(7, "PsxSigDeliver", reply=(("Signal", "i"), ("Action", "I"), ("Handler", "I"),
                                       ("OldMask", "I")))
    def sig_deliver(self, message: PortMessage) -> dict:
        """The client's delivery asks which signal to take now and what to do with it;
        for a handler, the mask while it runs is the old one | sa_mask | the signal."""
        entry = self.caller(message)
        pending = self.deliverable(entry)
        if not pending:
            return {"Signal": 0, "Action": ACTION_NONE}
        signal = signals.SIGKILL if pending & signals.bit(signals.SIGKILL) else signals.lowest(pending)
        entry.pending &= ~signals.bit(signal)
        handler, mask, _flags = entry.actions.get(signal, (signals.SIG_DFL, 0, 0))
        old = entry.suspend_mask if entry.suspend_mask is not None else entry.mask
        entry.suspend_mask = None
        if signal != signals.SIGKILL and handler == signals.SIG_DFL and \
                signals.default_action(signal) == signals.STOP:
            self._stop(entry, signal)       # a stop signal it blocked until now
            return {"Signal": signal, "Action": ACTION_NONE, "Handler": 0, "OldMask": old}
        if signal == signals.SIGKILL or handler == signals.SIG_DFL:
            entry.nt.killed_by = signal     # the wait status the parent will see
            return {"Signal": signal, "Action": ACTION_TERMINATE, "Handler": 0, "OldMask": old}
        entry.mask = (old | mask | signals.bit(signal)) & ~signals.UNCATCHABLE
        return {"Signal": signal, "Action": ACTION_HANDLER, "Handler": handler, "OldMask": old}

    @define(8, "PsxSigReturn", (("Mask", "I"),))
    def sig_return(self, message: PortMessage) -> dict:
        """A handler returned: the mask it interrupted comes back (and what it held
        pending may be delivered now)."""
        entry = self.caller(message)
        entry.mask = message.body["Mask"] & ~signals.UNCATCHABLE
        self.notify(entry)
        return {}

    @define(9, "PsxKill", (("Pid", "i"), ("Signal", "i")))
    def kill(self, message: PortMessage) -> dict:
        """kill(pid, sig): pid > 0 one process, 0 the caller's group, -1 every process
        it may signal, < -1 the group -pid. Signal 0 only checks."""
        entry = self.caller(message)
        pid, signal = message.body["Pid"], message.body["Signal"]
        if not (signal == 0 or signals.valid(signal)):
            raise PosixError(EINVAL, f"no signal {signal}")
        if pid > 0:
            targets = [self.table[pid]] if pid in self.table and self.table[pid].status is None else []
        elif pid == 0:
            targets = [e for e in self.table.values() if e.pgid == entry.pgid and e.status is None]
        elif pid == -1:
            targets = [e for e in self.table.values() if e.status is None]
        else:
            targets = [e for e in self.table.values() if e.pgid == -pid and e.status is None]
        if not targets:
            raise PosixError(ESRCH, f"no process {pid}")
        if signal:
            for target in targets:
                self.post(target, signal)
        return {}

    @define(10, "PsxSigAction", (("Signal", "i"), ("Set", "I"), ("Handler", "I"), ("Mask", "I"),
                                 ("Flags", "I")),
            (("OldHandler", "I"), ("OldMask", "I"), ("OldFlags", "I")))
    def sig_action(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        body = message.body
        signal = body["Signal"]
        if not signals.valid(signal):
            raise PosixError(EINVAL, f"no signal {signal}")
        old = entry.actions.get(signal, (signals.SIG_DFL, 0, 0))
        if body["Set"]:
            if signal in (signals.SIGKILL, signals.SIGSTOP):
                raise PosixError(EINVAL, f"{signals.name(signal)} cannot be caught or ignored")
            entry.actions[signal] = (body["Handler"], body["Mask"], body["Flags"])
            handler = body["Handler"]
            if handler == signals.SIG_IGN or (handler == signals.SIG_DFL and
                                              signals.default_action(signal) == signals.IGNORE):
                entry.pending &= ~signals.bit(signal)    # POSIX.1: a pending one is discarded
        return {"OldHandler": old[0], "OldMask": old[1], "OldFlags": old[2]}

    @define(11, "PsxSigProcMask", (("How", "i"), ("Set", "I"), ("Change", "I")), (("OldMask", "I"),))
    def sig_procmask(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        how, change, old = message.body["How"], message.body["Set"], entry.mask
        if message.body["Change"]:
            if how == signals.SIG_BLOCK:
                entry.mask |= change
            elif how == signals.SIG_UNBLOCK:
                entry.mask &= ~change
            elif how == signals.SIG_SETMASK:
                entry.mask = change
            else:
                raise PosixError(EINVAL, f"how {how}")
            entry.mask &= ~signals.UNCATCHABLE
            self.notify(entry)
        return {"OldMask": old}

    @define(12, "PsxSigPending", reply=(("Pending", "I"),))
    def sig_pending(self, message: PortMessage) -> dict:
        return {"Pending": self.caller(message).pending}

    @define(13, "PsxSigSuspend", (("Mask", "I"),))
    def sig_suspend(self, message: PortMessage) -> dict:
        """Replace the mask and wait for a signal; always ends with EINTR (the signal's
        delivery puts the old mask back after its handler)."""
        entry = self.caller(message)
        entry.suspend_mask = entry.mask
        entry.mask = message.body["Mask"] & ~signals.UNCATCHABLE
        return self._wait_for_signal(entry)

    @define(14, "PsxPause")
    def pause(self, message: PortMessage) -> dict:
        return self._wait_for_signal(self.caller(message))

    def _wait_for_signal(self, entry: PosixProcessEntry) -> dict:
        if self.deliverable(entry):
            self.notify(entry)
            raise PosixError(EINTR, "a signal is pending")

        def woken(_status: int) -> dict:
            raise PosixError(EINTR, "a signal arrived")

        # The client's own wait for the reply is what the signal interrupts (EINTR);
        # this server thread waits with the request until then.
        raise WaitPending([entry.woken], woken, reason=f"a signal for pid {entry.pid}")

    @define(15, "PsxAlarm", (("Seconds", "I"),), (("Remaining", "I"),))
    def alarm(self, message: PortMessage) -> dict:
        """alarm(): one timer per process, kept by the server; SIGALRM when it fires."""
        entry = self.caller(message)
        dispatcher = self.kernel.dispatcher
        now = dispatcher.clock.monotonic_ns()
        remaining = 0
        if entry.alarm is not None:
            remaining = max(1, -(-(entry.alarm_due_ns - now) // 10**9))
            entry.alarm.cancel()
            entry.alarm = None
        seconds = message.body["Seconds"]
        if seconds:
            entry.alarm_due_ns = now + seconds * 10**9

            def fire() -> None:
                entry.alarm = None
                self.post(entry, signals.SIGALRM)

            entry.alarm = dispatcher.set_timer(seconds * 10**9, fire)
        return {"Remaining": remaining}

    # --- processes --------------------------------------------------------------------------

    @define(1, "PsxProcessStart", reply=IDS)
    def process_start(self, message: PortMessage) -> dict:
        """A POSIX process's first message: a program ntsim started gets a new session
        with the console as its controlling terminal (fds 0-2); a fork child is already
        in the table."""
        entry = self.by_nt_pid.get(message.ClientId[0])
        if entry is None:
            entry = self.register(self.kernel.processes[message.ClientId[0]], None)
            for fd, flags in ((0, 0), (1, O_WRONLY), (2, O_WRONLY)):
                entry.fds.install(Descriptor(None, OpenFile(TERMINAL, flags, "/dev/tty")), fd)
        return self._ids(entry)

    def _ids(self, entry: PosixProcessEntry) -> dict:
        return {"Pid": entry.pid, "ParentPid": entry.parent, "ProcessGroup": entry.pgid,
                "Session": entry.sid, "Uid": entry.uid, "Gid": entry.gid}

    @define(2, "PsxGetIds", reply=IDS)
    def get_ids(self, message: PortMessage) -> dict:
        """getpid, getppid, getpgrp, getuid, getgid...: one message, the caller's ids."""
        return self._ids(self.caller(message))

    @define(3, "PsxFork", reply=(("ChildPid", "i"),))
    def fork(self, message: PortMessage) -> dict:
        """fork: the kernel clones the client (NtCreateProcessEx with the parent and no
        section: its address space and its handle table), a thread starts from the
        client's registers returning 0, and the child's descriptor table is a copy."""
        parent = self.caller(message)
        nt = self.kernel.services
        child_handle = nt.NtCreateProcessEx(parent.handle, True, None)
        child: Process = self.process.handles.lookup(child_handle, Process)
        client_thread = self._client_thread(message)
        context = nt.NtGetContextThread(client_thread)
        nt.NtClose(client_thread)
        context["Eax"] = 0                       # fork() returns 0 in the child
        thread_handle = nt.NtCreateThreadEx(child_handle, None)
        thread = self.process.handles.lookup(thread_handle)
        entry = self.register(child, parent)
        self.personality.adopt_fork(child, thread, parent.nt)
        nt.NtSetContextThread(thread_handle, context)
        nt.NtClose(thread_handle)
        nt.NtClose(child_handle)
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.kernel.current_thread, SERVER, "PsxDuplicateDescriptors",
                                    {"ParentPid": parent.pid, "ChildPid": entry.pid,
                                     "Descriptors": sorted(entry.fds.entries)})
        return {"ChildPid": entry.pid}

    def _client_thread(self, message: PortMessage) -> int:
        return self.kernel.services.NtOpenThread(0x1F03FF, message.ClientId)

    @define(4, "PsxWaitPid", (("Pid", "i"), ("Options", "I")), (("Pid", "i"), ("Status", "i")))
    def wait_pid(self, message: PortMessage) -> dict:
        """wait/waitpid: a child that has ended is reaped at once; otherwise the server
        thread waits on the children's NT process objects (WNOHANG: it does not)."""
        entry = self.caller(message)
        wanted, options = message.body["Pid"], message.body["Options"]

        def attempt(_status: int = 0) -> dict:
            children = [self.table[pid] for pid in entry.children if pid in self.table]
            if wanted > 0:
                children = [c for c in children if c.pid == wanted]
            elif wanted == 0:
                children = [c for c in children if c.pgid == entry.pgid]
            elif wanted < -1:
                children = [c for c in children if c.pgid == -wanted]
            if not children:
                raise PosixError(ECHILD, f"no child {wanted}")
            for child in children:
                if child.status is not None:
                    status = child.status
                    self._reap(child)
                    return {"Pid": child.pid, "Status": status}
                if options & WUNTRACED and child.stop_unreported:
                    child.stop_unreported = False      # reported once (POSIX.1 3.2.1.2)
                    return {"Pid": child.pid, "Status": STOPPED | child.stopped << 8}
            if options & WNOHANG:
                return {"Pid": 0, "Status": 0}
            waits = [c.nt for c in children] + ([c.changed for c in children] if options & WUNTRACED else [])
            raise WaitPending(waits, attempt, reason=f"a child of pid {entry.pid}")

        return attempt()

    @define(5, "PsxSetSid", reply=(("Session", "i"),))
    def set_sid(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        if any(e.pgid == entry.pid for e in self.table.values()):
            raise PosixError(EPERM, f"pid {entry.pid} already leads a process group")
        entry.sid = entry.pgid = entry.pid
        entry.ctty = False
        return {"Session": entry.sid}

    @define(6, "PsxSetPgid", (("Pid", "i"), ("Pgid", "i")))
    def set_pgid(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        pid = message.body["Pid"] or entry.pid
        pgid = message.body["Pgid"] or pid
        target = self.table.get(pid)
        if target is None or (target is not entry and target.parent != entry.pid):
            raise PosixError(ESRCH, f"no process {pid} of the caller's")
        if pgid < 0:
            raise PosixError(EINVAL, f"process group {pgid}")
        if target.sid != entry.sid or target.sid == target.pid:
            raise PosixError(EPERM, "another session, or a session leader")
        if pgid != pid and not any(e.pgid == pgid and e.sid == entry.sid for e in self.table.values()):
            raise PosixError(EPERM, f"no process group {pgid} in the session")
        target.pgid = pgid
        return {}

    @define(16, "PsxSetIds", (("Which", "I"), ("Id", "I")))
    def set_ids(self, message: PortMessage) -> dict:
        """setuid/setgid: without appropriate privileges only to the ids it has."""
        entry = self.caller(message)
        which, value = message.body["Which"], message.body["Id"]
        current = entry.uid if which == 0 else entry.gid
        if value != current and entry.uid != 0:
            raise PosixError(EPERM, "no appropriate privileges")
        if which == 0:
            entry.uid = value
        else:
            entry.gid = value
        return {}

    @define(17, "PsxTimes", reply=(("Utime", "I"), ("Stime", "I"), ("Cutime", "I"), ("Cstime", "I")))
    def times(self, message: PortMessage) -> dict:
        """times() in clock ticks (CLK_TCK 100): the processor time the dispatcher counted."""
        entry = self.caller(message)
        own = sum(self.kernel.dispatcher.thread_time_ns(t) for t in entry.nt.threads)
        return {"Utime": own // 10_000_000, "Stime": 0,
                "Cutime": entry.child_times_ns // 10_000_000, "Cstime": 0}

    @define(18, "PsxExec", (("Reserved", "I"),))
    def exec(self, message: PortMessage) -> dict:
        """exec: the pid stays; FD_CLOEXEC descriptors close; caught signals go back to
        their default action (ignored ones stay ignored), POSIX.1 3.1.2.2."""
        entry = self.caller(message)
        for descriptor in entry.fds.close_on_exec():
            self._close_client_handle(entry, descriptor)
        entry.actions = {s: a for s, a in entry.actions.items() if a[0] == signals.SIG_IGN}
        return {}

    # --- files and descriptors --------------------------------------------------------------

    def absolute(self, entry: PosixProcessEntry, path: str) -> str:
        if not path:
            raise PosixError(ENOENT, "an empty path")
        if len(path) >= PATH_MAX:
            raise PosixError(ENOENT if False else 36, f"{len(path)} bytes")
        joined = path if path.startswith("/") else posixpath.join(entry.cwd, path)
        normal = posixpath.normpath(joined)
        return "/" + normal.lstrip("/")

    def _nt_open(self, path: str, access: int, disposition: int = FILE_OPEN, options: int = 0,
                 mode: int | None = None) -> int:
        """NtCreateFile for a POSIX path: case-sensitive (no OBJ_CASE_INSENSITIVE), as
        POSIX needs and NTFS allows."""
        return self.kernel.services.NtCreateFile(nt_name(path), access | SYNCHRONIZE, disposition,
                                                 options | FILE_SYNCHRONOUS_IO_NONALERT, 0, lx_mode=mode)

    def _give(self, entry: PosixProcessEntry, handle: int) -> int:
        """Move a handle from the server into the client (NtDuplicateObject, closing ours)."""
        return self.kernel.services.NtDuplicateObject(
            NtCurrentProcess, handle, entry.handle, 0, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)

    def _close_client_handle(self, entry: PosixProcessEntry, descriptor: Descriptor) -> None:
        """Close a handle in the client: take it out (DUPLICATE_CLOSE_SOURCE) and close it."""
        if descriptor.handle is None or not entry.nt.alive:
            return
        nt = self.kernel.services
        try:
            ours = nt.NtDuplicateObject(entry.handle, descriptor.handle, NtCurrentProcess, 0,
                                        DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)
            nt.NtClose(ours)
        except NtStatusError:
            pass

    @define(20, "PsxOpen", (("Flags", "I"), ("Mode", "I"), ("Directory", "I"), ("PathLength", "I")),
            OPENED)
    def open(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        body = message.body
        flags, mode = body["Flags"], body["Mode"]
        path = self.absolute(entry, _paths(message)[0])
        fd = entry.fds.lowest_free()
        accmode = flags & O_ACCMODE
        if path == "/dev/null":
            handle = self.kernel.services.NtCreateFile("\\Device\\Null", FILE_READ_DATA | FILE_WRITE_DATA,
                                                       FILE_OPEN)
            kind = NULL
        elif path == "/dev/tty":
            if not entry.ctty:
                raise PosixError(ENXIO, "no controlling terminal")
            fd = entry.fds.install(Descriptor(None, OpenFile(TERMINAL, flags & (O_ACCMODE | O_NONBLOCK),
                                                             path)))
            return {"Fd": fd, "Handle": 0, "Kind": KIND_NUMBERS[TERMINAL]}
        else:
            access = {0: FILE_READ_DATA, O_WRONLY: FILE_WRITE_DATA}.get(accmode, FILE_READ_DATA | FILE_WRITE_DATA)
            if flags & O_APPEND and access & FILE_WRITE_DATA:
                access = access & ~FILE_WRITE_DATA | FILE_APPEND_DATA   # NT's append-only handle
            if flags & O_CREAT:
                disposition = FILE_CREATE if flags & O_EXCL else FILE_OVERWRITE_IF if flags & O_TRUNC \
                    else FILE_OPEN_IF
            else:
                disposition = FILE_OVERWRITE if flags & O_TRUNC and accmode else FILE_OPEN
            options = FILE_DIRECTORY_FILE if body["Directory"] else \
                FILE_NON_DIRECTORY_FILE if accmode else 0
            handle = self._nt_open(path, access, disposition, options,
                                   S_IFREG | (mode & ~entry.umask & 0o7777))
            directory = self.kernel.services.NtQueryInformationFile(handle, FileStandardInformation).Directory
            kind = DIRECTORY if directory else FILE
        client_handle = self._give(entry, handle)
        fd = entry.fds.install(Descriptor(client_handle, OpenFile(kind, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK),
                                                                  path)))
        return {"Fd": fd, "Handle": client_handle, "Kind": KIND_NUMBERS[kind]}

    @define(21, "PsxClose", (("Fd", "i"),))
    def close(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        self._close_client_handle(entry, entry.fds.remove(message.body["Fd"]))
        return {}

    @define(22, "PsxDup", (("Fd", "i"), ("Target", "i"), ("Minimum", "i")), OPENED)
    def dup(self, message: PortMessage) -> dict:
        """dup (Target -1), dup2 (Target: that number, closed first if open), and
        fcntl(F_DUPFD) (Minimum): a new handle to the same file object."""
        entry = self.caller(message)
        fd, target, minimum = message.body["Fd"], message.body["Target"], message.body["Minimum"]
        source = entry.fds.get(fd)
        if target >= 0:
            if target >= entry.fds.limit:
                raise PosixError(9, f"fd {target}")
            if target == fd:
                return {"Fd": fd, "Handle": source.handle or 0, "Kind": KIND_NUMBERS[source.file.kind]}
            if target in entry.fds:
                self._close_client_handle(entry, entry.fds.remove(target))
        else:
            target = entry.fds.lowest_free(minimum)
        handle = None
        if source.handle is not None:
            handle = self.kernel.services.NtDuplicateObject(entry.handle, source.handle, entry.handle, 0,
                                                            DUPLICATE_SAME_ACCESS)
        entry.fds.install(Descriptor(handle, source.file), target)
        return {"Fd": target, "Handle": handle or 0, "Kind": KIND_NUMBERS[source.file.kind]}

    @define(23, "PsxFcntl", (("Fd", "i"), ("Command", "i"), ("Argument", "i")), (("Value", "i"),))
    def fcntl(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        fd, command, argument = message.body["Fd"], message.body["Command"], message.body["Argument"]
        descriptor = entry.fds.get(fd)
        if command == F_GETFD:
            return {"Value": FD_CLOEXEC if descriptor.cloexec else 0}
        if command == F_SETFD:
            descriptor.cloexec = bool(argument & FD_CLOEXEC)
            return {"Value": 0}
        if command == F_GETFL:
            return {"Value": descriptor.file.flags}
        if command == F_SETFL:
            if argument & O_NONBLOCK != descriptor.file.flags & O_NONBLOCK and descriptor.file.kind == PIPE:
                raise PosixError(EINVAL, "O_NONBLOCK on a pipe is not modelled by PSXSS")
            descriptor.file.flags = descriptor.file.flags & ~(O_APPEND | O_NONBLOCK) | argument & (O_APPEND | O_NONBLOCK)
            return {"Value": 0}
        raise PosixError(EINVAL, f"fcntl command {command}")

    @define(24, "PsxQueryFd", (("Fd", "i"),), (("Handle", "I"), ("Kind", "I"), ("Flags", "I")))
    def query_fd(self, message: PortMessage) -> dict:
        """What PSXDLL needs to do I/O on a descriptor itself: its handle and kind."""
        descriptor = self.caller(message).fds.get(message.body["Fd"])
        return {"Handle": descriptor.handle or 0, "Kind": KIND_NUMBERS[descriptor.file.kind],
                "Flags": descriptor.file.flags}

    @define(25, "PsxPipe", reply=(("ReadFd", "i"), ("ReadHandle", "I"), ("WriteFd", "i"),
                                  ("WriteHandle", "I")))
    def pipe(self, message: PortMessage) -> dict:
        """pipe(): an inbound pipe on NPFS, its server end the read end, a client end the
        write end; both handles move into the client."""
        entry = self.caller(message)
        nt = self.kernel.services
        read_fd = entry.fds.lowest_free()
        write_fd = entry.fds.lowest_free(read_fd + 1)
        name = f"\\Device\\NamedPipe\\PSXSS\\Pipe.{entry.pid}.{next(self._pipes)}"
        read_handle = nt.NtCreateNamedPipeFile(
            name, FILE_READ_DATA | SYNCHRONIZE, FILE_SHARE_WRITE, FILE_CREATE, FILE_SYNCHRONOUS_IO_NONALERT,
            CompletionMode=FILE_PIPE_QUEUE_OPERATION, MaximumInstances=1, InboundQuota=DEFAULT_QUOTA,
            OutboundQuota=0)
        write_handle = nt.NtOpenFile(name, FILE_WRITE_DATA | SYNCHRONIZE, FILE_SYNCHRONOUS_IO_NONALERT)
        reader, writer = self._give(entry, read_handle), self._give(entry, write_handle)
        entry.fds.install(Descriptor(reader, OpenFile(PIPE, 0, "pipe")), read_fd)
        entry.fds.install(Descriptor(writer, OpenFile(PIPE, O_WRONLY, "pipe")), write_fd)
        return {"ReadFd": read_fd, "ReadHandle": reader, "WriteFd": write_fd, "WriteHandle": writer}

    @define(26, "PsxStat", PATH, STAT)
    def stat(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        path = self.absolute(entry, _paths(message)[0])
        if path in ("/dev/null", "/dev/tty"):
            return stat_record(None, S_IFCHR | 0o666, self.kernel.clock.now_ns())
        handle = self._nt_open(path, FILE_READ_ATTRIBUTES)
        try:
            return stat_record(self.kernel.services.NtQueryInformationFile(handle, FileStatLxInformation))
        finally:
            self.kernel.services.NtClose(handle)

    @define(27, "PsxAccess", (("Mode", "I"), ("PathLength", "I")))
    def access(self, message: PortMessage) -> dict:
        """access(): with the real ids, against the file's mode bits (lxfs metadata)."""
        entry = self.caller(message)
        wanted = message.body["Mode"]
        if wanted & ~7:
            raise PosixError(EINVAL, f"mode {wanted:#o}")
        info = self.stat(message)
        if info.get("Errno"):
            raise PosixError(info["Errno"])
        if not wanted or entry.uid == 0 and not (wanted & 1 and not info["Mode"] & 0o111):
            return {}
        shift = 6 if info["Uid"] == entry.uid else 3 if info["Gid"] == entry.gid else 0
        if (info["Mode"] >> shift) & wanted != wanted:
            raise PosixError(EACCES, f"mode {info['Mode'] & 0o7777:#o}")
        return {}

    def _set_metadata(self, entry: PosixProcessEntry, path: str, attributes: dict[str, bytes]) -> None:
        nt = self.kernel.services
        handle = self._nt_open(path, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES)
        try:
            info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
            if entry.uid != 0 and info.LxUid != entry.uid:
                raise PosixError(EPERM, f"{path} belongs to uid {info.LxUid}")
            if LX_EA_MODE in attributes:
                mode = int.from_bytes(attributes[LX_EA_MODE], "little")
                attributes[LX_EA_MODE] = (info.LxMode & S_IFMT | mode & 0o7777).to_bytes(4, "little")
            nt.NtSetEaFile(handle, attributes)
        finally:
            nt.NtClose(handle)

    @define(28, "PsxChmod", (("Mode", "I"), ("PathLength", "I")))
    def chmod(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        self._set_metadata(entry, self.absolute(entry, _paths(message)[0]),
                           {LX_EA_MODE: message.body["Mode"].to_bytes(4, "little")})
        return {}

    @define(29, "PsxChown", (("Uid", "I"), ("Gid", "I"), ("PathLength", "I")))
    def chown(self, message: PortMessage) -> dict:
        """chown(): only to its own uid and group without privileges (POSIX.1 5.6.5.2,
        _POSIX_CHOWN_RESTRICTED)."""
        entry = self.caller(message)
        uid, gid = message.body["Uid"], message.body["Gid"]
        if entry.uid != 0 and (uid != entry.uid or gid != entry.gid):
            raise PosixError(EPERM, "_POSIX_CHOWN_RESTRICTED")
        self._set_metadata(entry, self.absolute(entry, _paths(message)[0]),
                           {LX_EA_UID: uid.to_bytes(4, "little"), LX_EA_GID: gid.to_bytes(4, "little")})
        return {}

    @define(30, "PsxUtime", (("Atime", "i"), ("Mtime", "i"), ("Now", "I"), ("PathLength", "I")))
    def utime(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        body = message.body
        now = self.kernel.clock.now_ns() // 10**9
        atime, mtime = (now, now) if body["Now"] else (body["Atime"], body["Mtime"])
        nt = self.kernel.services
        handle = self._nt_open(self.absolute(entry, _paths(message)[0]), FILE_WRITE_ATTRIBUTES)
        try:
            epoch = 116444736000000000           # 1970 in NT's 100 ns units since 1601
            nt.NtSetInformationFile(handle, FileBasicInformation, BasicInformation(
                0, epoch + atime * 10**7, epoch + mtime * 10**7, 0, 0))
        finally:
            nt.NtClose(handle)
        return {}

    @define(31, "PsxUmask", (("Mask", "I"),), (("Old", "I"),))
    def umask(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        old, entry.umask = entry.umask, message.body["Mask"] & 0o777
        return {"Old": old}

    @define(32, "PsxLink", PATH)
    def link(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        old, new = (self.absolute(entry, p) for p in _paths(message)[:2])
        nt = self.kernel.services
        handle = self._nt_open(old, FILE_READ_ATTRIBUTES, options=FILE_NON_DIRECTORY_FILE)
        try:
            nt.NtSetInformationFile(handle, FileLinkInformation, (nt_name(new), False))
        finally:
            nt.NtClose(handle)
        return {}

    @define(33, "PsxUnlink", (("Directory", "I"), ("PathLength", "I")))
    def unlink(self, message: PortMessage) -> dict:
        """unlink and rmdir: a POSIX-semantics delete (the name goes now, the file when
        its last handle closes), as NTFS offered it for exactly this."""
        entry = self.caller(message)
        directory = message.body["Directory"]
        path = self.absolute(entry, _paths(message)[0])
        if directory and path == "/":
            raise PosixError(16, "the root")
        nt = self.kernel.services
        handle = self._nt_open(path, DELETE, FILE_OPEN, FILE_OPEN_REPARSE_POINT |
                               (FILE_DIRECTORY_FILE if directory else FILE_NON_DIRECTORY_FILE))
        try:
            nt.NtSetInformationFile(handle, FileDispositionInformationEx,
                                    FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS)
        finally:
            nt.NtClose(handle)
        return {}

    @define(34, "PsxRename", PATH)
    def rename(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        old, new = (self.absolute(entry, p) for p in _paths(message)[:2])
        nt = self.kernel.services
        handle = self._nt_open(old, DELETE, FILE_OPEN, FILE_OPEN_REPARSE_POINT)
        try:
            nt.NtSetInformationFile(handle, FileRenameInformation, (nt_name(new), True))
        finally:
            nt.NtClose(handle)
        return {}

    @define(35, "PsxMkdir", (("Mode", "I"), ("PathLength", "I")))
    def mkdir(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        path = self.absolute(entry, _paths(message)[0])
        handle = self._nt_open(path, FILE_READ_ATTRIBUTES, FILE_CREATE, FILE_DIRECTORY_FILE,
                               S_IFDIR | (message.body["Mode"] & ~entry.umask & 0o7777))
        self.kernel.services.NtClose(handle)
        return {}

    @define(36, "PsxMkfifo", (("Mode", "I"), ("PathLength", "I")))
    def mkfifo(self, message: PortMessage) -> dict:
        """mkfifo(): a file whose lxfs mode says FIFO (its opens are not modelled yet)."""
        entry = self.caller(message)
        path = self.absolute(entry, _paths(message)[0])
        handle = self._nt_open(path, FILE_READ_ATTRIBUTES, FILE_CREATE, FILE_NON_DIRECTORY_FILE,
                               S_IFIFO | (message.body["Mode"] & ~entry.umask & 0o7777))
        self.kernel.services.NtClose(handle)
        return {}

    @define(37, "PsxChdir", PATH)
    def chdir(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        path = self.absolute(entry, _paths(message)[0])
        try:
            handle = self._nt_open(path, FILE_TRAVERSE, FILE_OPEN, FILE_DIRECTORY_FILE)
        except NtStatusError as error:
            if error.status.name == "STATUS_NOT_A_DIRECTORY":
                raise PosixError(ENOTDIR, path) from None
            raise
        self.kernel.services.NtClose(handle)
        entry.cwd = path
        return {}

    @define(38, "PsxGetCwd", (("Size", "I"),), (("Length", "I"),))
    def getcwd(self, message: PortMessage) -> ApiReply:
        entry = self.caller(message)
        data = entry.cwd.encode("utf-8", "surrogateescape") + b"\0"
        if message.body["Size"] < len(data):
            raise PosixError(ERANGE, f"{len(data)} bytes needed")
        return ApiReply({"Length": len(data)}, data)

    @define(39, "PsxFstat", (("Fd", "i"),), STAT)
    def fstat(self, message: PortMessage) -> dict:
        """fstat on a descriptor whose object PSXDLL cannot ask about itself (a
        terminal, a pipe): the server knows what it is."""
        entry = self.caller(message)
        descriptor = entry.fds.get(message.body["Fd"])
        now = self.kernel.clock.now_ns()
        if descriptor.file.kind == TERMINAL:
            return stat_record(None, S_IFCHR | 0o620, now, uid=entry.uid)
        if descriptor.file.kind == PIPE:
            return stat_record(None, S_IFIFO | 0o600, now, uid=entry.uid, gid=entry.gid)
        if descriptor.file.kind == NULL:
            return stat_record(None, S_IFCHR | 0o666, now)
        nt = self.kernel.services
        ours = nt.NtDuplicateObject(entry.handle, descriptor.handle, NtCurrentProcess, 0, DUPLICATE_SAME_ACCESS)
        try:
            return stat_record(nt.NtQueryInformationFile(ours, FileStatLxInformation))
        finally:
            nt.NtClose(ours)

    @define(40, "PsxPathConf", (("Fd", "i"), ("Name", "i"), ("PathLength", "I")), (("Value", "i"),))
    def pathconf(self, message: PortMessage) -> dict:
        entry = self.caller(message)
        name = message.body["Name"]
        if name not in PATHCONF:
            raise PosixError(EINVAL, f"pathconf name {name}")
        if message.body["Fd"] >= 0:
            entry.fds.get(message.body["Fd"])
        else:
            self.stat(message)
        return {"Value": PATHCONF[name]}

    @define(41, "PsxIsTty", (("Fd", "i"),), (("IsTty", "I"),))
    def is_tty(self, message: PortMessage) -> dict:
        return {"IsTty": int(self.caller(message).fds.get(message.body["Fd"]).file.kind == TERMINAL)}


def stat_record(info: Any, mode: int = 0, now_ns: int = 0, uid: int = 0, gid: int = 0) -> dict:
    """struct stat's fields (POSIX.1 order, 32 bits each) from FILE_STAT_LX_INFORMATION,
    or for a device or pipe, from what the server knows."""
    if info is None:
        seconds = now_ns // 10**9
        return {"Mode": mode, "Ino": 0, "Dev": 0, "Nlink": 1, "Uid": uid, "Gid": gid, "Size": 0,
                "Atime": seconds, "Mtime": seconds, "Ctime": seconds}
    return {"Mode": info.LxMode & 0xFFFF_FFFF, "Ino": info.FileId & 0xFFFF_FFFF,
            "Dev": info.VolumeSerialNumber & 0xFFFF_FFFF, "Nlink": info.NumberOfLinks,
            "Uid": info.LxUid, "Gid": info.LxGid, "Size": min(info.EndOfFile, 0x7FFF_FFFF),
            "Atime": info.AccessTimeNs // 10**9, "Mtime": info.WriteTimeNs // 10**9,
            "Ctime": info.ChangeTimeNs // 10**9}


API = PsxApi.numbers

__all__ = ["API", "PORT_NAME", "Psxss", "PosixProcessEntry", "stat_record"]
