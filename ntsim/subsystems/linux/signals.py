"""Linux signals: dispositions, masks, pending sets, and delivery on the way to user mode.

A signal's life has three steps, as in Linux (kernel/signal.c, arch/x86/kernel/signal.c):

1. *Generation* (`send_signal`, kill, tgkill, a timer, a fault, a child's exit): unless
   the target ignores it, the signal joins a pending set — the process's (kill: any thread
   that does not block it may take it) or one thread's (tgkill, faults). Ordinary signals
   do not queue (a second SIGUSR1 while one is pending is lost); real-time ones do.
2. *Wake-up*: the thread that should take it must get to a point where it returns to user
   mode. A thread parked in an interruptible call is alerted (`Dispatcher.alert` — NT's
   alertable wait ending with STATUS_USER_APC); the call ends with a kernel-internal
   "restart" code. A ready thread gets a user-mode APC (NT's way of running kernel code
   in a thread just before it re-enters user mode). A running thread — one that signalled
   itself — sees it on the way out of its system call.
3. *Delivery* (`deliver`), always in the receiving thread: the first unblocked pending
   signal is taken and acted on: ignored; the default action (terminate, or stop until
   SIGCONT); or a handler, for which the registers are saved in an `rt_sigframe` on the
   user stack (sigframe.py) and pointed at the handler. An interrupted call is turned into
   EINTR, or rewound to run again (SA_RESTART). `rt_sigreturn` undoes the frame.

How WSL1's lxcore delivered signals inside the NT kernel is not documented [U]; the user
APC and the alertable wait are the NT mechanisms that fit, and they are what this uses.

The interface other modules use: `send_signal` (SIGCHLD, SIGPIPE), `deliver`,
`satisfied_now` and `interrupted_result` (syscalls.py, for a parked call a signal
alerted), `force_fault` (the personality's fault handlers),
`inherit_on_fork`, `inherit_on_clone`, `reset_on_exec`, `process_exited`,
`children_reaped_automatically`, `broken_pipe`, and `restore_mask_on_return` (ppoll,
pselect6).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from unicorn.x86_const import UC_X86_REG_RAX, UC_X86_REG_RIP, UC_X86_REG_RSP

from ...kernel.dispatcher import WaitBlock, WaitPending
from ...kernel.processes import Event, NotificationEvent, Process, Thread, ThreadState
from ...kernel.status import STATUS_TIMEOUT, STATUS_USER_APC, STATUS_WAIT_0
from ...trace import PERSONALITY
from . import sigframe
from .errno import (
    EAGAIN,
    EINTR,
    EINVAL,
    ENOMEM,
    EPERM,
    ERESTART_RESTARTBLOCK,
    ERESTARTNOHAND,
    ERESTARTNOINTR,
    ERESTARTSYS,
    ESRCH,
    LinuxError,
)
from .task import LinuxProcess, Task

if TYPE_CHECKING:
    from ...kernel.dispatcher import Timer

# --- numbers and names -------------------------------------------------------------------------

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT = range(9, 17)
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU = range(17, 25)
SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 25, 26, 27, 28, 29, 30, 31
SIGRTMIN, NSIG = 32, 64

SIGNAL_NAMES: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
    20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
    26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    32: "SIGRTMIN", **{n: f"SIGRT_{n - SIGRTMIN}" for n in range(SIGRTMIN + 1, NSIG + 1)},
}

# Default actions (signal(7)). Everything not listed terminates the process.
IGNORED_BY_DEFAULT = frozenset({SIGCHLD, SIGURG, SIGWINCH, SIGCONT})
STOP_BY_DEFAULT = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})
CORE_BY_DEFAULT = frozenset({SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU,
                             SIGXFSZ, SIGSYS})
# Signals a processor exception raises: taken before any other pending signal.
SYNCHRONOUS = frozenset({SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS})

SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGACTION_SIZE = 32     # the kernel's struct sigaction: handler, flags, restorer, mask
SIGSET_SIZE = 8
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))

SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO = 0x1, 0x2, 0x4
SA_EXPOSE_TAGBITS, SA_RESTORER, SA_ONSTACK = 0x800, 0x04000000, 0x08000000
SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x10000000, 0x40000000, 0x80000000
# Flags the kernel keeps; it clears the others so programs can probe for support (5.11).
SA_KNOWN = (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_EXPOSE_TAGBITS | SA_RESTORER
            | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND)
SA_FLAG_NAMES = {SA_NOCLDSTOP: "SA_NOCLDSTOP", SA_NOCLDWAIT: "SA_NOCLDWAIT",
                 SA_SIGINFO: "SA_SIGINFO", SA_RESTORER: "SA_RESTORER", SA_ONSTACK: "SA_ONSTACK",
                 SA_RESTART: "SA_RESTART", SA_NODEFER: "SA_NODEFER", SA_RESETHAND: "SA_RESETHAND"}

SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048

# si_code: who sent it (<= 0 and SI_KERNEL), or what fault it was (> 0, per signal).
SI_USER, SI_KERNEL, SI_QUEUE, SI_TIMER, SI_MESGQ, SI_ASYNCIO, SI_SIGIO, SI_TKILL = (
    0, 0x80, -1, -2, -3, -4, -5, -6)
SEGV_MAPERR, SEGV_ACCERR = 1, 2
BUS_ADRALN, BUS_ADRERR = 1, 2
ILL_ILLOPC, ILL_ILLOPN = 1, 2
FPE_INTDIV = 1
TRAP_BRKPT, TRAP_TRACE = 1, 2
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6
SI_CODE_NAMES = {SI_USER: "SI_USER", SI_KERNEL: "SI_KERNEL", SI_QUEUE: "SI_QUEUE",
                 SI_TIMER: "SI_TIMER", SI_MESGQ: "SI_MESGQ", SI_ASYNCIO: "SI_ASYNCIO",
                 SI_SIGIO: "SI_SIGIO", SI_TKILL: "SI_TKILL"}
FAULT_CODE_NAMES = {
    SIGSEGV: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR"},
    SIGBUS: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"},
    SIGILL: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC"},
    SIGFPE: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND",
             6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
    SIGTRAP: {1: "TRAP_BRKPT", 2: "TRAP_TRACE"},
    SIGCHLD: {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
              5: "CLD_STOPPED", 6: "CLD_CONTINUED"},
}

# Where the thread is when `deliver` runs: inside the `syscall` hook RIP still points at the
# `syscall` instruction and unicorn adds its length afterwards; anywhere else RIP is exact.
IN_SYSCALL, AT_INSTRUCTION = 2, 0
SYSCALL_LENGTH = 2

# Calls that end with EINTR when a handler runs, SA_RESTART or not (signal(7), "never
# restarted"), and the code each returns; every other interrupted call is ERESTARTSYS
# (restarted under SA_RESTART, EINTR otherwise).
NOT_RESTARTED = {
    "pause": ERESTARTNOHAND, "rt_sigsuspend": ERESTARTNOHAND,
    "nanosleep": ERESTART_RESTARTBLOCK, "clock_nanosleep": ERESTART_RESTARTBLOCK,
    "poll": ERESTART_RESTARTBLOCK, "ppoll": ERESTARTNOHAND, "select": ERESTARTNOHAND,
    "pselect6": ERESTARTNOHAND, "epoll_wait": EINTR, "epoll_pwait": EINTR,
    "epoll_pwait2": EINTR, "rt_sigtimedwait": EINTR,
}
# Calls whose completion handles the alert itself (resume(STATUS_USER_APC) ends the call
# with EINTR): poll.py's and epoll.py's waits.
ALERT_AWARE = frozenset({"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
                         "epoll_pwait2"})
# Waits no handled signal may cut short: a vfork parent sleeps until its child execs or
# exits (Linux: a killable wait, so only a fatal signal ends it).
UNINTERRUPTIBLE = frozenset({"vfork", "clone", "clone3"})


def bit(signal: int) -> int:
    return 1 << (signal - 1)


def signal_name(signal: int) -> str:
    return SIGNAL_NAMES.get(signal, f"signal {signal}")


def _signed(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


# --- siginfo -----------------------------------------------------------------------------------


@dataclass
class SigInfo:
    """What a handler with SA_SIGINFO is told about a signal (the kernel's siginfo_t),
    plus, for a fault, what goes into sigcontext and what to say if it kills."""

    signo: int
    code: int = SI_USER
    pid: int = 0
    uid: int = 0
    errno: int = 0
    status: int = 0                # SIGCHLD: the exit code, or the signal
    addr: int | None = None        # a fault's address (si_addr)
    value: int = 0                 # sigqueue()'s sigval
    raw: bytes | None = None       # rt_sigqueueinfo: the sender's own siginfo
    trapno: int = 0                # a fault: the x86 exception vector (sigcontext.trapno)
    error_code: int = 0            # a fault: the page-fault error code (sigcontext.err)
    detail: str = ""               # a fault: the one-line note if it kills the process

    def pack(self) -> bytes:
        """The 128 bytes of siginfo_t: signo, errno, code, then the union."""
        if self.raw is not None:
            return struct.pack("<i", self.signo) + self.raw[4:128].ljust(124, b"\0")
        head = struct.pack("<iii4x", self.signo, self.errno, self.code)
        if self.addr is not None:
            body = struct.pack("<Q", self.addr)
        elif self.signo == SIGCHLD and self.code > 0:
            body = struct.pack("<iIi4xqq", self.pid, self.uid, self.status, 0, 0)
        elif self.code in (SI_QUEUE, SI_TIMER, SI_MESGQ):
            body = struct.pack("<iIQ", self.pid, self.uid, self.value)
        else:
            body = struct.pack("<iI", self.pid, self.uid)
        return (head + body).ljust(sigframe.SIGINFO_SIZE, b"\0")

    def code_name(self) -> str:
        if self.code > 0 and self.code != SI_KERNEL:
            return FAULT_CODE_NAMES.get(self.signo, {}).get(self.code, str(self.code))
        return SI_CODE_NAMES.get(self.code, str(self.code))

    def fields(self) -> dict[str, object]:
        """The fields strace shows for this kind of siginfo."""
        shown: dict[str, object] = {"si_signo": signal_name(self.signo),
                                    "si_code": self.code_name()}
        if self.addr is not None:
            shown["si_addr"] = "NULL" if not self.addr else f"{self.addr:#x}"
        elif self.signo == SIGCHLD and self.code > 0:
            by_signal = self.code in (CLD_KILLED, CLD_DUMPED, CLD_STOPPED)
            status = signal_name(self.status) if by_signal else self.status
            shown.update(si_pid=self.pid, si_uid=self.uid, si_status=status, si_utime=0, si_stime=0)
        elif self.code == SI_TIMER:      # the union's _timer: id, overrun, value
            shown.update(si_timerid=self.pid, si_overrun=self.uid, si_value=f"{self.value:#x}")
        elif self.code != SI_KERNEL:
            shown.update(si_pid=self.pid, si_uid=self.uid)
            if self.code in (SI_QUEUE, SI_MESGQ):
                int_value = self.value & 0xFFFFFFFF
                shown.update(si_int=int_value - (1 << 32) if int_value >> 31 else int_value,
                             si_ptr=f"{self.value:#x}")
        return shown

    def describe(self) -> str:
        """`--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=42, si_uid=1000} ---`"""
        fields = ", ".join(f"{name}={value}" for name, value in self.fields().items())
        return f"--- {signal_name(self.signo)} {{{fields}}} ---"


# --- dispositions and masks --------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One kernel sigaction record, decoded."""

    handler: int
    flags: int
    restorer: int
    mask: int

    @classmethod
    def unpack(cls, record: bytes) -> Action:
        return cls(*struct.unpack("<QQQQ", record))

    def pack(self) -> bytes:
        return struct.pack("<QQQQ", self.handler, self.flags, self.restorer, self.mask)


DEFAULT_ACTION = Action(SIG_DFL, 0, 0, 0)


def action_of(lx: LinuxProcess, signal: int) -> Action:
    record = lx.signal_actions.get(signal)
    return Action.unpack(record) if record else DEFAULT_ACTION


def handler_of(task: Task, signal: int) -> int:
    """The recorded sa_handler: SIG_DFL until rt_sigaction sets another."""
    record = task.lx.signal_actions.get(signal)
    return int.from_bytes(record[:8], "little") if record else SIG_DFL


def _ignored_by_action(lx: LinuxProcess, signal: int) -> bool:
    handler = action_of(lx, signal).handler
    return handler == SIG_IGN or (handler == SIG_DFL and signal in IGNORED_BY_DEFAULT)


def _pending_bits(queue: dict[int, list]) -> int:
    bits = 0
    for signal in queue:
        bits |= bit(signal)
    return bits


def pending_set(task: Task) -> int:
    """Every signal pending for this thread: its own and the process's."""
    return _pending_bits(task.pending_signals) | _pending_bits(task.lx.pending_signals)


def recalc(task: Task) -> None:
    """Keep `task.sigpending` true while an unblocked signal is pending (recalc_sigpending):
    the system-call exit path reads only this flag, so it costs nothing when it is false."""
    task.sigpending = bool(pending_set(task) & ~task.signal_mask) or (
        task.ptrace is not None and (task.ptrace.exit_stop_due or bool(task.ptrace.events)))


def set_mask(task: Task, mask: int) -> None:
    task.signal_mask = mask & ~UNBLOCKABLE
    recalc(task)


def restore_mask_on_return(task: Task, mask: int) -> None:
    """A call that ran with a temporary mask (rt_sigsuspend, ppoll, pselect6) ends: the
    old mask comes back once the signals the temporary mask let through are delivered —
    a handler runs with the temporary mask, and its frame saves `mask` for rt_sigreturn
    (Linux's TIF_RESTORE_SIGMASK)."""
    task.saved_mask = mask


def _tasks(lx: LinuxProcess) -> list[Task]:
    return [t.data for t in lx.process.threads
            if t.state != ThreadState.TERMINATED and isinstance(t.data, Task)]


def _main_task(lx: LinuxProcess) -> Task | None:
    tasks = _tasks(lx)
    return tasks[0] if tasks else None


# --- generation --------------------------------------------------------------------------------


def send_signal(target: Process | Thread | Task, signal: int, *, code: int = SI_USER, pid: int = 0,
                uid: int = 0, status: int = 0, value: int = 0) -> None:
    """Send `signal` to a Linux process (as kill does: any of its threads may take it) or
    to one thread (a Thread or Task: as tgkill does). For other modules: SIGCHLD when a
    child ends (code CLD_EXITED or CLD_KILLED, pid and uid of the child, status its exit
    code or signal), SIGPIPE, a future SIGINT from the console."""
    info = SigInfo(signal, code, pid=pid, uid=uid, status=status, value=value)
    if isinstance(target, Thread):
        target = target.data
    if isinstance(target, Task):
        generate(target.lx, target, info)
    elif isinstance(target, Process) and isinstance(target.data, LinuxProcess):
        generate(target.data, None, info)


def generate(lx: LinuxProcess, task: Task | None, info: SigInfo) -> None:
    """__send_signal: queue `info` for the process (task None) or one thread, and make
    sure a thread that can take it will look."""
    process = lx.process
    if not process.alive:
        return
    signal = info.signo
    if signal == SIGKILL:
        # Cannot be caught, blocked or ignored: the process ends now, wherever it is.
        _terminate(lx, task or _main_task(lx), info)
        return
    # Stop and continue cancel each other (prepare_signal).
    if signal in STOP_BY_DEFAULT:
        _discard(lx, SIGCONT)
    elif signal == SIGCONT:
        for stop in STOP_BY_DEFAULT:
            _discard(lx, stop)
        _continue(lx)
    receiver = task or _main_task(lx)
    if receiver is None:
        return
    # A blocked signal is kept even if ignored now: the handler may change before it is
    # unblocked (sig_ignored) — and so is one rt_sigtimedwait waits for.
    if not (receiver.signal_mask | receiver.real_blocked) & bit(signal) and \
            _ignored_by_action(lx, signal) and receiver.ptrace is None:
        return                             # (a tracer hears of ignored signals too)
    queue = task.pending_signals if task is not None else lx.pending_signals
    if signal < SIGRTMIN and signal in queue:
        return                             # ordinary signals do not queue: one is enough
    if signal >= SIGRTMIN and sum(map(len, queue.values())) >= _pending_limit(lx):
        # RLIMIT_SIGPENDING: a real-time signal past it is not queued. sigqueue and
        # tgkill hear EAGAIN; from kill or the kernel it is lost (__send_signal)
        if info.code in (SI_QUEUE, SI_TKILL):
            raise LinuxError(EAGAIN, "RLIMIT_SIGPENDING signals are queued already")
        return
    queue.setdefault(signal, []).append(info)
    for each in ([task] if task is not None else _tasks(lx)):
        recalc(each)
    if getattr(lx, "signalfds", None):       # a signalfd (lxcore.py) may read it now
        from .lxcore import signal_queued

        signal_queued(lx)
    wake = task if task is not None else _choose_thread(lx, signal)
    if wake is not None and not wake.signal_mask & bit(signal):
        _wake(wake, signal)


def _choose_thread(lx: LinuxProcess, signal: int) -> Task | None:
    """complete_signal: the main thread if it does not block the signal, else any that
    does not; if all block it, it waits in the process's set until one unblocks it."""
    for candidate in _tasks(lx):
        if not candidate.signal_mask & bit(signal):
            return candidate
    return None


def _wake(task: Task, signal: int) -> None:
    """Get `task` to the return-to-user-mode path, where `deliver` runs."""
    thread = task.thread
    if thread.state == ThreadState.RUNNING:
        return                             # it is in a call now: its way out checks
    dispatcher = task.kernel.dispatcher
    action = action_of(task.lx, signal)
    fatal = action.handler == SIG_DFL       # terminate or stop: ignored ones never get here
    parked = task.parked_call
    if thread.state == ThreadState.WAITING and parked is not None and \
            (parked.name not in UNINTERRUPTIBLE or (fatal and signal not in STOP_BY_DEFAULT)) and \
            dispatcher.alert(thread, STATUS_USER_APC):
        return                             # the call ends early; its completion delivers
    dispatcher.queue_user_apc(thread, partial(deliver, task, AT_INSTRUCTION))


def _discard(lx: LinuxProcess, signal: int) -> None:
    """Forget every pending instance of `signal`, for the process and each thread."""
    lx.pending_signals.pop(signal, None)
    for task in _tasks(lx):
        task.pending_signals.pop(signal, None)
        recalc(task)


# --- delivery ----------------------------------------------------------------------------------


def deliver(task: Task, where: int, syscall: int | None = None) -> None:
    """On the way back to user mode (exit_to_user_mode_loop + arch_do_signal_or_restart):
    act on every unblocked pending signal, then finish an interrupted call.

    `where` says where RIP points (IN_SYSCALL or AT_INSTRUCTION); `syscall` is the number
    of the call the thread is returning from, if any: its result in RAX may be one of
    the ERESTART codes, which never reach the guest."""
    process = task.thread.process
    while process.alive:
        while task.sigpending and process.alive:
            info = _dequeue(task)
            if info is None:
                break
            if task.ptrace is not None:
                from .ptrace import signal_stop

                if signal_stop(task, info, syscall):
                    return                 # the tracer decides; delivery goes on after
            _note(task, info)              # every signal taken shows, even one then ignored
            action = action_of(task.lx, info.signo)
            if action.handler == SIG_IGN:
                continue
            if action.handler == SIG_DFL:
                if info.signo in IGNORED_BY_DEFAULT:
                    continue
                if info.signo in STOP_BY_DEFAULT:
                    _stop(task, info, syscall)
                    return
                _terminate(task.lx, task, info)
                return
            if syscall is not None:
                _restart_for_handler(task, where, syscall, action)
                syscall = None
            problem = _setup_frame(task, info, action, where)
            if problem:
                _cannot_build_frame(task, info.signo, problem)
        if syscall is not None:
            _restart_without_handler(task, where, syscall)
            syscall = None
        if task.saved_mask is None:
            return
        set_mask(task, task.saved_mask)     # no handler took the saved mask: restore it
        task.saved_mask = None


def _dequeue(task: Task, wanted: int | None = None) -> SigInfo | None:
    """The next unblocked signal (or the next of the set `wanted`, blocked or not): the
    thread's own before the process's, a fault's before any other, then the lowest
    number (dequeue_signal, next_signal)."""
    if wanted is None:
        wanted = ~task.signal_mask
    for queue in (task.pending_signals, task.lx.pending_signals):
        ready = [signal for signal in queue if wanted & bit(signal)]
        if not ready:
            continue
        synchronous = [signal for signal in ready if signal in SYNCHRONOUS]
        signal = min(synchronous or ready)
        infos = queue[signal]
        info = infos.pop(0)
        if not infos:
            del queue[signal]
        recalc(task)
        return info
    recalc(task)
    return None


def _note(task: Task | None, info: SigInfo) -> None:
    """The trace shows a delivered signal as strace does."""
    if task is None:
        return
    tracer = task.kernel.tracer
    if tracer.enabled:
        tracer.note(task.thread, PERSONALITY, info.describe(), info.fields())


def _terminate(lx: LinuxProcess, task: Task | None, info: SigInfo) -> None:
    """The default action of most signals: the process ends, status 128+N. A fault says
    where it happened (the one-line note); a signal someone sent says nothing, as on Linux."""
    thread = task.thread if task is not None else lx.process.threads[0]
    lx.process.personality.kill(thread, info.signo, info.detail)


def _get_pc(task: Task, where: int) -> int:
    return task.cpu.registers.read(UC_X86_REG_RIP) + where


def _set_pc(task: Task, pc: int, where: int) -> None:
    task.cpu.registers.write(UC_X86_REG_RIP, pc - where)


def _restart_for_handler(task: Task, where: int, syscall: int, action: Action) -> None:
    """A handler is about to run over a call a signal interrupted (handle_signal)."""
    registers = task.cpu.registers
    error = -_signed(registers.read(UC_X86_REG_RAX))
    if error in (ERESTART_RESTARTBLOCK, ERESTARTNOHAND) or \
            (error == ERESTARTSYS and not action.flags & SA_RESTART):
        registers.write(UC_X86_REG_RAX, -EINTR)
        task.restart_block = None
    elif error in (ERESTARTSYS, ERESTARTNOINTR):
        _rewind(task, where, syscall)


def _restart_without_handler(task: Task, where: int, syscall: int) -> None:
    """No handler ran (the signal was ignored, or stopped the process): the interrupted
    call runs again — a sleep as restart_syscall, which sleeps for the time it had left
    (the call's restart block)."""
    registers = task.cpu.registers
    error = -_signed(registers.read(UC_X86_REG_RAX))
    if error in (ERESTARTNOHAND, ERESTARTSYS, ERESTARTNOINTR):
        _rewind(task, where, syscall)
    elif error == ERESTART_RESTARTBLOCK:
        if task.restart_block is not None:
            _rewind(task, where, NR_RESTART_SYSCALL)
        else:
            registers.write(UC_X86_REG_RAX, -EINTR)


NR_RESTART_SYSCALL = 219


def sys_restart_syscall(task: Task) -> int:
    """Go on with the call a signal cut short, from its restart block (EINTR if none)."""
    block, task.restart_block = task.restart_block, None
    if block is None:
        raise LinuxError(EINTR, "nothing to restart")
    return block()


def _rewind(task: Task, where: int, syscall: int) -> None:
    """Run the call again: RAX gets its number back, RIP goes back over `syscall`."""
    task.cpu.registers.write(UC_X86_REG_RAX, syscall)
    _set_pc(task, _get_pc(task, where) - SYSCALL_LENGTH, where)


def _on_alt_stack(task: Task, sp: int) -> bool:
    ss_sp, ss_size, ss_flags = task.alt_stack
    if ss_flags & SS_AUTODISARM:
        return False
    return ss_sp < sp and sp - ss_sp <= ss_size


def _alt_stack_flags(task: Task, sp: int) -> int:
    """sas_ss_flags: SS_DISABLE with no stack, SS_ONSTACK while running on it, else 0."""
    if not task.alt_stack[1]:
        return SS_DISABLE
    return SS_ONSTACK if _on_alt_stack(task, sp) else 0


def _setup_frame(task: Task, info: SigInfo, action: Action, where: int) -> str:
    """setup_rt_frame + signal_delivered: build the rt_sigframe (sigframe.py) and point
    the thread at the handler. Returns "" — or why the frame could not be built."""
    cpu = task.cpu
    registers = sigframe.read_general(cpu.registers)
    registers["rip"] += where
    user_sp = registers["rsp"]
    ss_sp, ss_size, ss_flags = task.alt_stack
    nested = _on_alt_stack(task, user_sp)
    sp = user_sp - sigframe.RED_ZONE
    entering = False
    if action.flags & SA_ONSTACK and _alt_stack_flags(task, sp) == 0:
        sp, entering = ss_sp + ss_size, True
    frame, fpstate = sigframe.frame_addresses(sp)
    if (nested or entering) and not (ss_sp < frame and frame - ss_sp <= ss_size):
        return f"the alternate stack at {ss_sp:#x} has no room for the frame"
    if not action.flags & SA_RESTORER:
        # x86-64 has no vDSO return stub to fall back on: the C library must give one
        return "the handler has no SA_RESTORER to return through"
    saved_mask = task.saved_mask if task.saved_mask is not None else task.signal_mask
    page_fault = info.trapno == 14
    mcontext = sigframe.pack_sigcontext(
        registers, err=info.error_code, trapno=info.trapno, oldmask=saved_mask,
        cr2=info.addr if page_fault and info.addr is not None else 0, fpstate=fpstate)
    ucontext = sigframe.pack_ucontext(mcontext, saved_mask, (ss_sp, ss_flags, ss_size))
    try:
        task.write(fpstate, sigframe.save_fpstate(cpu.uc))
        task.write(frame, struct.pack("<Q", action.restorer) + ucontext + info.pack())
    except LinuxError:
        return f"the stack at {frame:#x} cannot take the frame"
    write = cpu.registers.write
    write(UC_X86_REG_RSP, frame)
    _set_pc(task, action.handler, where)
    write(sigframe.REGISTER_IDS["rdi"], info.signo)
    write(sigframe.REGISTER_IDS["rsi"], frame + sigframe.SIGINFO_OFFSET)
    write(sigframe.REGISTER_IDS["rdx"], frame + sigframe.UCONTEXT_OFFSET)
    write(UC_X86_REG_RAX, 0)                # for handlers declared without a prototype
    write(sigframe.REGISTER_IDS["eflags"], registers["eflags"] & ~sigframe.HANDLER_CLEARS_EFLAGS)
    sigframe.reset_fpstate(cpu.uc)
    # signal_delivered: block sa_mask and (unless SA_NODEFER) the signal itself; a
    # one-shot handler goes back to the default; an auto-disarming stack is given up.
    task.saved_mask = None
    blocked = task.signal_mask | action.mask
    if not action.flags & SA_NODEFER:
        blocked |= bit(info.signo)
    set_mask(task, blocked)
    if action.flags & SA_RESETHAND:
        task.lx.signal_actions[info.signo] = Action(SIG_DFL, action.flags, action.restorer,
                                                    action.mask).pack()
    if ss_flags & SS_AUTODISARM:
        task.alt_stack = (0, 0, SS_DISABLE)
    return ""


def _cannot_build_frame(task: Task, signal: int, problem: str) -> None:
    """force_sigsegv: no frame, no handler. SIGSEGV follows — by default if it was
    SIGSEGV's own handler that could not be reached."""
    if signal == SIGSEGV:
        task.lx.signal_actions.pop(SIGSEGV, None)
    force_signal(task, SigInfo(SIGSEGV, SI_KERNEL, addr=0,
                               detail=f"cannot run the {signal_name(signal)} handler: {problem}"))


# --- stop and continue -------------------------------------------------------------------------


def _stop(task: Task, info: SigInfo, syscall: int | None) -> None:
    """The default action of SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: the thread sleeps until
    SIGCONT (or SIGKILL). Only the thread that took the signal stops; its parent hears
    of it (SIGCHLD, CLD_STOPPED)."""
    lx = task.lx
    if task.ptrace is not None:
        from .ptrace import group_stop

        group_stop(task, info.signo, syscall)     # its tracer ends the stop
        return
    if lx.stopped is None:
        lx.stopped = Event(event_type=NotificationEvent)
        _job_changed(lx, CLD_STOPPED, info.signo)
        _notify_parent(lx, CLD_STOPPED, info.signo)
    pending = WaitPending([lx.stopped], lambda _status: None,
                          reason=f"SIGCONT (stopped by {signal_name(info.signo)})")

    def on_continue(_status: int) -> None:
        # Back to user mode: more signals may be pending, and a call the stop cut short
        # runs again. (A tracer that seized the stopped process hears of it first.)
        if task.ptrace is not None:
            from .ptrace import group_stop_ended

            if group_stop_ended(task, syscall):
                return
        deliver(task, AT_INSTRUCTION, syscall)

    task.parked_call = None
    task.kernel.dispatcher.park(task.thread, pending, on_continue)
    task.cpu.request_stop()


def _continue(lx: LinuxProcess) -> None:
    stopped, lx.stopped = lx.stopped, None
    if stopped is not None:
        stopped.signalled = True
        lx.process.personality.kernel.dispatcher.signal(stopped)
        _job_changed(lx, CLD_CONTINUED, SIGCONT)
        _notify_parent(lx, CLD_CONTINUED, SIGCONT)


def job_event(lx: LinuxProcess) -> Event:
    """What a parent waiting for a stop or continue (WUNTRACED, WCONTINUED) waits on."""
    if lx.job_changed is None:
        lx.job_changed = Event(event_type=NotificationEvent)
    return lx.job_changed


def _job_changed(lx: LinuxProcess, code: int, signal: int) -> None:
    """Keep the change for the parent's wait, and wake the waits (NtPulseEvent: set,
    waking who waits now, and reset: the report, not the event, says what happened)."""
    lx.job_report = (code, signal)
    event = job_event(lx)
    event.signalled = True
    lx.process.personality.kernel.dispatcher.signal(event)
    event.signalled = False


def _notify_parent(lx: LinuxProcess, code: int, status: int) -> None:
    """do_notify_parent_cldstop: SIGCHLD to the parent, unless it asked not to hear of
    stops (SA_NOCLDSTOP)."""
    parent = lx.process.parent
    if parent is None or not parent.alive or not isinstance(parent.data, LinuxProcess):
        return
    if action_of(parent.data, SIGCHLD).flags & SA_NOCLDSTOP:
        return
    generate(parent.data, None,
             SigInfo(SIGCHLD, code, pid=lx.process.pid, uid=lx.uid, status=status))


# --- faults ------------------------------------------------------------------------------------


def _pending_limit(lx) -> int:
    soft = lx.rlimits.get(11, (63_000, 63_000))[0]     # RLIMIT_SIGPENDING
    return min(soft, 63_000 * 16)


def force_fault(task: Task, signal: int, code: int, where: int, *, addr: int | None = None,
                trapno: int = 0, error_code: int = 0, detail: str = "") -> None:
    """A processor exception in user mode (force_sig_fault): the signal goes to the thread
    that caused it and is delivered at once. Blocked or ignored, it is unblocked and reset
    to the default — a fault cannot be walked past."""
    force_signal(task, SigInfo(signal, code, addr=addr, trapno=trapno, error_code=error_code,
                               detail=detail), where)


def force_signal(task: Task, info: SigInfo, where: int | None = None) -> None:
    signal = info.signo
    blocked = task.signal_mask & bit(signal)
    if blocked or action_of(task.lx, signal).handler == SIG_IGN:
        task.lx.signal_actions.pop(signal, None)
        if blocked:
            task.signal_mask &= ~bit(signal)
    task.pending_signals.setdefault(signal, [])
    if not task.pending_signals[signal]:
        task.pending_signals[signal].append(info)
    recalc(task)
    if where is not None:
        deliver(task, where)


# --- interrupted calls -------------------------------------------------------------------------


def satisfied_now(task: Task, pending: WaitPending) -> int | None:
    """The wait status if what the call waited for has happened after all — a child's
    exit wakes its parent's wait4 and sends SIGCHLD at the same moment. Linux looks at the
    condition before the signal: the call completes, and the handler runs after. The
    objects are acquired, as a satisfied wait acquires them."""
    objects = pending.objects
    status = WaitBlock(task.thread, objects, pending.wait_all, None, lambda _status: None,
                       "").satisfied()
    if status is not None:
        for obj in objects if pending.wait_all else [objects[status - STATUS_WAIT_0]]:
            obj.acquire(task.thread)
    return status


def interrupted_result(task: Task, name: str, pending: WaitPending) -> int:
    """A parked call was alerted for a signal: what it returns (to `deliver`, which turns
    it into EINTR or a restart). The pending call's cancel hooks run first (a queued
    waiter is withdrawn, a sleep writes the time it had left). A call whose completion
    understands the alert itself (pending.alertable) is completed with STATUS_USER_APC."""
    for cancel in pending.on_cancel:
        cancel()
    if name in ALERT_AWARE or getattr(pending, "alertable", False):
        mask = task.signal_mask
        try:
            result = pending.complete(STATUS_USER_APC)
        except LinuxError as error:
            result = -error.errno
        if name in ALERT_AWARE and task.signal_mask != mask:
            # The call put back the caller's mask (ppoll, pselect6) before the signal its
            # temporary mask let through was delivered: keep the temporary one until the
            # handler's frame has saved the caller's (as Linux's restore_saved_sigmask).
            restore_mask_on_return(task, task.signal_mask)
            set_mask(task, mask)
        return result if isinstance(result, int) else -EINTR
    return -NOT_RESTARTED.get(name, ERESTARTSYS)


# --- system calls: dispositions and masks ------------------------------------------------------


def sys_rt_sigaction(task: Task, signal: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE or not 1 <= signal <= NSIG:
        raise LinuxError(EINVAL)
    if act and signal in (SIGKILL, SIGSTOP):
        raise LinuxError(EINVAL, "SIGKILL and SIGSTOP cannot be caught")
    lx = task.lx
    old = action_of(lx, signal)
    if act:
        new = Action.unpack(task.read(act, SIGACTION_SIZE))
        new = Action(new.handler, new.flags & SA_KNOWN, new.restorer, new.mask & ~UNBLOCKABLE)
        lx.signal_actions[signal] = new.pack()
        # POSIX: ignoring a pending signal (by SIG_IGN, or SIG_DFL where the default is to
        # ignore) discards it, blocked or not.
        if _ignored_by_action(lx, signal):
            _discard(lx, signal)
    if oldact:
        task.write(oldact, Action(old.handler, old.flags & SA_KNOWN, old.restorer, old.mask).pack())
    return 0


def sys_rt_sigprocmask(task: Task, how: int, set_: int, oldset: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        raise LinuxError(EINVAL)
    old = task.signal_mask
    if set_:
        mask = task.read_u64(set_)
        if how == SIG_BLOCK:
            mask = old | mask
        elif how == SIG_UNBLOCK:
            mask = old & ~mask
        elif how != SIG_SETMASK:
            raise LinuxError(EINVAL, f"how {how}")
        set_mask(task, mask)                # a signal it unblocks is delivered on return
    if oldset:
        task.write_u64(oldset, old)
    return 0


def sys_rt_sigpending(task: Task, set_: int, sigsetsize: int) -> int:
    if sigsetsize > SIGSET_SIZE:
        raise LinuxError(EINVAL)
    pending = pending_set(task) & task.signal_mask
    task.write(set_, pending.to_bytes(SIGSET_SIZE, "little")[:sigsetsize])
    return 0


def sys_sigaltstack(task: Task, ss: int, old_ss: int) -> int:
    """do_sigaltstack: the stack a handler with SA_ONSTACK runs on."""
    sp = task.cpu.registers.read(UC_X86_REG_RSP)
    new = sigframe.unpack_stack(task.read(ss, 24)) if ss else None
    ss_sp, ss_size, ss_flags = task.alt_stack
    old = sigframe.pack_stack(ss_sp, _alt_stack_flags(task, sp) | (ss_flags & SS_AUTODISARM),
                              ss_size)
    if new is not None:
        new_sp, new_flags, new_size = new
        if _on_alt_stack(task, sp):
            raise LinuxError(EPERM, "running on the alternate stack")
        mode = new_flags & ~SS_AUTODISARM & 0xFFFFFFFF
        if mode not in (SS_DISABLE, SS_ONSTACK, 0):
            raise LinuxError(EINVAL, f"ss_flags {new_flags:#x}")
        if mode == SS_DISABLE:
            new_sp = new_size = 0
        elif new_size < MINSIGSTKSZ:
            raise LinuxError(ENOMEM, f"ss_size {new_size} is below MINSIGSTKSZ")
        task.alt_stack = (new_sp, new_size, new_flags & 0xFFFFFFFF)
    if old_ss:
        task.write(old_ss, old)
    return 0


# --- system calls: waiting for a signal --------------------------------------------------------


def _wait_for_signal(reason: str) -> int:
    """Sleep until a signal is delivered: a wait on nothing, with no timeout, that only an
    alert ends. With nothing that could ever send one, the dispatcher reports a deadlock
    (where Linux would sleep for ever)."""
    raise WaitPending([], lambda _status: -ERESTARTNOHAND, reason=reason)


def sys_pause(task: Task) -> int:
    if task.sigpending:
        return -ERESTARTNOHAND
    return _wait_for_signal("a signal (pause)")


def sys_rt_sigsuspend(task: Task, mask: int, sigsetsize: int) -> int:
    """Replace the mask and sleep until a signal is delivered; the handler runs with the
    temporary mask and its frame saves the old one. Always 'fails' with EINTR."""
    if sigsetsize != SIGSET_SIZE:
        raise LinuxError(EINVAL)
    new = task.read_u64(mask)
    restore_mask_on_return(task, task.signal_mask)
    set_mask(task, new)
    if task.sigpending:
        return -ERESTARTNOHAND
    return _wait_for_signal("a signal (rt_sigsuspend)")


def sys_rt_sigtimedwait(task: Task, set_: int, info: int, timeout: int, sigsetsize: int) -> int:
    """sigwaitinfo / sigtimedwait: take a pending signal of the set instead of having it
    delivered; if none is pending, wait for one (the set is unblocked meanwhile, so that
    its arrival wakes the thread) — EAGAIN when the time is up, EINTR if another signal
    is delivered first. Never restarted."""
    if sigsetsize != SIGSET_SIZE:
        raise LinuxError(EINVAL)
    wanted = task.read_u64(set_) & ~UNBLOCKABLE
    timeout_ns = None
    if timeout:
        seconds, nanoseconds = struct.unpack("<qq", task.read(timeout, 16))
        if seconds < 0 or not 0 <= nanoseconds < NS_PER_S:
            raise LinuxError(EINVAL, "bad timespec")
        timeout_ns = seconds * NS_PER_S + nanoseconds

    def take(on_none: int) -> int:
        taken = _dequeue(task, wanted)
        if taken is None:
            return -on_none
        if info:
            task.write(info, taken.pack())
        return taken.signo

    found = take(EAGAIN)
    if found > 0 or timeout_ns == 0:
        return found
    blocked = task.signal_mask
    task.real_blocked = blocked
    set_mask(task, blocked & ~wanted)

    def resume(status: int) -> int:
        task.real_blocked = 0
        set_mask(task, blocked)
        return take(EAGAIN if status == STATUS_TIMEOUT else EINTR)

    pending = WaitPending([], resume, timeout_ns=timeout_ns, reason="a signal (rt_sigtimedwait)")
    pending.alertable = True            # resume() sees the alert: it takes the signal itself
    raise pending


def sys_rt_sigreturn(task: Task) -> int:
    """Undo a signal frame: every register, the mask and the alternate stack come back
    from where the handler's `ret` left RSP (the frame starts 8 bytes below: the return
    address it popped). RAX is restored too — returning it leaves it as the frame has it."""
    cpu = task.cpu
    frame = cpu.registers.read(UC_X86_REG_RSP) - 8
    try:
        data = task.read(frame + sigframe.UCONTEXT_OFFSET, sigframe.UCONTEXT_SIZE)
        saved, mask, stack = sigframe.unpack_ucontext(data)
        fpstate = task.read(saved["fpstate"], sigframe.FPSTATE_SIZE) if saved["fpstate"] else None
    except LinuxError:
        force_signal(task, SigInfo(SIGSEGV, SI_KERNEL, addr=0,
                                   detail=f"rt_sigreturn: no signal frame at {frame:#x}"))
        return 0
    set_mask(task, mask)
    current = sigframe.read_general(cpu.registers)
    saved["eflags"] = ((current["eflags"] & ~sigframe.FIX_EFLAGS)
                       | (saved["eflags"] & sigframe.FIX_EFLAGS))
    rip = saved["rip"]
    sigframe.write_general(cpu.registers, saved)
    cpu.resume_after_syscall_at(rip)
    if fpstate is not None:
        sigframe.restore_fpstate(cpu.uc, fpstate)
    else:
        sigframe.reset_fpstate(cpu.uc)
    # restore_altstack: put back the alternate stack the frame saved (an auto-disarmed
    # one comes back here), unless the thread is still running on it.
    ss_sp, ss_flags, ss_size = stack
    if not _on_alt_stack(task, saved["rsp"]):
        mode = ss_flags & ~SS_AUTODISARM & 0xFFFFFFFF
        if mode == SS_DISABLE:
            task.alt_stack = (0, 0, ss_flags & 0xFFFFFFFF)
        elif mode in (0, SS_ONSTACK) and ss_size >= MINSIGSTKSZ:
            task.alt_stack = (ss_sp, ss_size, ss_flags & 0xFFFFFFFF)
    return _signed(saved["rax"])


# --- system calls: sending ---------------------------------------------------------------------


def _check_signal(signal: int) -> None:
    if not 0 <= signal <= NSIG:
        raise LinuxError(EINVAL, f"signal {signal}")


def _linux_processes(task: Task) -> list[LinuxProcess]:
    return [p.data for p in task.kernel.processes.values()
            if p.alive and isinstance(p.data, LinuxProcess)]


def _is_zombie(process: Process) -> bool:
    """Exited, but not yet reaped by its parent: kill still finds it (and does nothing)."""
    parent = process.parent
    return (not process.alive and parent is not None and parent.alive
            and isinstance(parent.data, LinuxProcess) and process in parent.data.children)


def _user_info(task: Task, signal: int, code: int = SI_USER) -> SigInfo:
    return SigInfo(signal, code, pid=task.thread.process.pid, uid=task.lx.uid)


def sys_kill(task: Task, pid: int, signal: int) -> int:
    """kill: one process (pid > 0), the caller's process group (0), a group (< -1), or
    every process the caller may signal except itself and init (-1)."""
    pid = _signed32(pid)
    signal = _signed32(signal)
    _check_signal(signal)
    if pid > 0:
        process = task.kernel.processes.get(pid)
        if process is None or not isinstance(process.data, LinuxProcess):
            raise LinuxError(ESRCH)
        if not process.alive:
            if _is_zombie(process):
                return 0
            raise LinuxError(ESRCH)
        targets = [process.data]
    elif pid == -1:
        targets = [lx for lx in _linux_processes(task)
                   if lx is not task.lx and lx.process.pid != 1]
    else:
        group = task.lx.pgid if pid == 0 else -pid
        targets = [lx for lx in _linux_processes(task) if lx.pgid == group]
    if not targets:
        raise LinuxError(ESRCH)
    if signal:
        for lx in targets:
            generate(lx, None, _user_info(task, signal))
    return 0


def _find_task(task: Task, tgid: int | None, tid: int) -> Task:
    for lx in _linux_processes(task):
        if tgid is not None and lx.process.pid != tgid:
            continue
        for candidate in _tasks(lx):
            if candidate.linux_tid == tid:
                return candidate
    raise LinuxError(ESRCH)


def sys_tgkill(task: Task, tgid: int, tid: int, signal: int) -> int:
    tgid = _signed32(tgid)
    if tgid <= 0:
        raise LinuxError(EINVAL)
    return _kill_thread(task, tgid, tid, signal)


def sys_tkill(task: Task, tid: int, signal: int) -> int:
    """tgkill without the process: any thread of any process with that id."""
    return _kill_thread(task, None, tid, signal)


def _kill_thread(task: Task, tgid: int | None, tid: int, signal: int) -> int:
    tid, signal = _signed32(tid), _signed32(signal)
    if tid <= 0:
        raise LinuxError(EINVAL)
    _check_signal(signal)
    target = _find_task(task, tgid, tid)
    if signal:
        generate(target.lx, target, _user_info(task, signal, SI_TKILL))
    return 0


def _queued_info(task: Task, pid: int, signal: int, uinfo: int) -> SigInfo:
    """rt_sigqueueinfo's siginfo: the caller's, except that it may not pretend to be the
    kernel or kill() when signalling another process."""
    raw = task.read(uinfo, sigframe.SIGINFO_SIZE)
    (code,) = struct.unpack_from("<i", raw, 8)
    if (code >= 0 or code == SI_TKILL) and pid != task.thread.process.pid:
        raise LinuxError(EPERM, f"si_code {code} is reserved to the kernel")
    info = SigInfo(signal, code, raw=raw)
    info.pid, info.uid = struct.unpack_from("<iI", raw, 16)
    (info.value,) = struct.unpack_from("<Q", raw, 24)
    return info


def sys_rt_sigqueueinfo(task: Task, pid: int, signal: int, uinfo: int) -> int:
    pid, signal = _signed32(pid), _signed32(signal)
    _check_signal(signal)
    process = task.kernel.processes.get(pid)
    if process is None or not process.alive or not isinstance(process.data, LinuxProcess):
        raise LinuxError(ESRCH)
    info = _queued_info(task, pid, signal, uinfo)
    if signal:
        generate(process.data, None, info)
    return 0


def sys_rt_tgsigqueueinfo(task: Task, tgid: int, tid: int, signal: int, uinfo: int) -> int:
    tgid, tid, signal = _signed32(tgid), _signed32(tid), _signed32(signal)
    if tgid <= 0 or tid <= 0:
        raise LinuxError(EINVAL)
    _check_signal(signal)
    target = _find_task(task, tgid, tid)
    info = _queued_info(task, tgid, signal, uinfo)
    if signal:
        generate(target.lx, target, info)
    return 0


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


# --- system calls: the real-time interval timer ------------------------------------------------

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
ITIMER_NAMES = {ITIMER_REAL: "ITIMER_REAL", ITIMER_VIRTUAL: "ITIMER_VIRTUAL",
                ITIMER_PROF: "ITIMER_PROF"}
NS_PER_US, NS_PER_S = 1_000, 1_000_000_000


@dataclass
class IntervalTimer:
    """A process's ITIMER_REAL (alarm() is the same timer): when it expires, SIGALRM goes
    to the process, and with an interval it is set again. Built on a dispatcher timer
    (KTIMER + DPC), so under --deterministic it runs on the virtual clock."""

    deadline_ns: int
    interval_ns: int
    timer: Timer | None = None


def _now(task_or_lx) -> int:
    kernel = task_or_lx.kernel if isinstance(task_or_lx, Task) else \
        task_or_lx.process.personality.kernel
    return kernel.clock.monotonic_ns()


def _itimer_remaining(lx: LinuxProcess) -> tuple[int, int]:
    """(value, interval) in ns; an armed timer reports at least 1 µs (itimer_get_remtime)."""
    state = lx.itimer_real
    if state is None:
        return 0, 0
    return max(state.deadline_ns - _now(lx), NS_PER_US), state.interval_ns


def _arm_itimer(lx: LinuxProcess, value_ns: int, interval_ns: int) -> None:
    old = lx.itimer_real
    if old is not None and old.timer is not None:
        old.timer.cancel()
    lx.itimer_real = None
    if value_ns <= 0:
        return
    state = IntervalTimer(_now(lx) + value_ns, interval_ns)
    lx.itimer_real = state
    state.timer = lx.process.personality.kernel.dispatcher.set_timer(
        value_ns, partial(_itimer_expired, lx, state))


def _itimer_expired(lx: LinuxProcess, state: IntervalTimer) -> None:
    """The timer's DPC: SIGALRM to the process (si_code SI_KERNEL, as it_real_fn sends it)."""
    if lx.itimer_real is not state or not lx.process.alive:
        return
    if state.interval_ns:
        now = _now(lx)
        state.deadline_ns += state.interval_ns
        if state.deadline_ns <= now:       # overrun: the missed expiries coalesce
            missed = (now - state.deadline_ns) // state.interval_ns + 1
            state.deadline_ns += missed * state.interval_ns
        state.timer = lx.process.personality.kernel.dispatcher.set_timer(
            state.deadline_ns - now, partial(_itimer_expired, lx, state))
    else:
        lx.itimer_real = None
    generate(lx, None, SigInfo(SIGALRM, SI_KERNEL))


_ITIMERVAL = struct.Struct("<qqqq")      # it_interval (tv_sec, tv_usec), it_value (tv_sec, tv_usec)


def _pack_itimerval(value_ns: int, interval_ns: int) -> bytes:
    return _ITIMERVAL.pack(interval_ns // NS_PER_S, interval_ns % NS_PER_S // NS_PER_US,
                           value_ns // NS_PER_S, value_ns % NS_PER_S // NS_PER_US)


def _check_itimer(which: int) -> None:
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise LinuxError(EINVAL, f"which {which}")


# ITIMER_VIRTUAL and ITIMER_PROF count the process's processor time, as Linux checks its
# CPU timers at each scheduler tick (run_posix_cpu_timers): here a dispatcher timer ticks
# every 4 ms (HZ=250) while one is armed, and compares the threads' summed run time. The
# model keeps no user/system split, so both count all of it; SIGVTALRM and SIGPROF.
CPU_TICK_NS = 4_000_000
CPU_TIMER_SIGNALS = {ITIMER_VIRTUAL: 26, ITIMER_PROF: 27}


def _process_cpu_ns(lx: LinuxProcess) -> int:
    dispatcher = lx.process.personality.kernel.dispatcher
    return sum(dispatcher.thread_time_ns(thread) for thread in lx.process.threads)


def _cpu_itimer_remaining(lx: LinuxProcess, which: int) -> tuple[int, int]:
    armed = lx.cpu_itimers.get(which)
    if armed is None:
        return 0, 0
    expires, interval = armed
    return max(expires - _process_cpu_ns(lx), NS_PER_US), interval


def _arm_cpu_itimer(lx: LinuxProcess, which: int, value_ns: int, interval_ns: int) -> None:
    lx.cpu_itimers.pop(which, None)
    if value_ns <= 0:
        return
    ticking = bool(lx.cpu_itimers)
    lx.cpu_itimers[which] = (_process_cpu_ns(lx) + value_ns, interval_ns)
    if not ticking:
        lx.process.personality.kernel.dispatcher.set_timer(CPU_TICK_NS, partial(_cpu_tick, lx))


def _cpu_tick(lx: LinuxProcess) -> None:
    if not lx.process.alive or not lx.cpu_itimers:
        return
    used = _process_cpu_ns(lx)
    for which, (expires, interval) in list(lx.cpu_itimers.items()):
        if used < expires:
            continue
        if interval:
            lx.cpu_itimers[which] = (expires + interval * ((used - expires) // interval + 1), interval)
        else:
            del lx.cpu_itimers[which]
        generate(lx, None, SigInfo(CPU_TIMER_SIGNALS[which], SI_KERNEL))
    if lx.cpu_itimers:
        lx.process.personality.kernel.dispatcher.set_timer(CPU_TICK_NS, partial(_cpu_tick, lx))


def sys_getitimer(task: Task, which: int, curr_value: int) -> int:
    which = _signed32(which)
    _check_itimer(which)
    remaining = _itimer_remaining(task.lx) if which == ITIMER_REAL else _cpu_itimer_remaining(task.lx, which)
    task.write(curr_value, _pack_itimerval(*remaining))
    return 0


def sys_setitimer(task: Task, which: int, new_value: int, old_value: int) -> int:
    which = _signed32(which)
    _check_itimer(which)
    value_ns = interval_ns = 0
    if new_value:       # NULL disarms, as Linux still accepts
        interval_s, interval_us, value_s, value_us = _ITIMERVAL.unpack(task.read(new_value, 32))
        for seconds, microseconds in ((interval_s, interval_us), (value_s, value_us)):
            if seconds < 0 or not 0 <= microseconds < 1_000_000:
                raise LinuxError(EINVAL, "bad timeval")
        value_ns = value_s * NS_PER_S + value_us * NS_PER_US
        interval_ns = interval_s * NS_PER_S + interval_us * NS_PER_US
    if which != ITIMER_REAL:
        old = _cpu_itimer_remaining(task.lx, which)
        _arm_cpu_itimer(task.lx, which, value_ns, interval_ns)
    else:
        old = _itimer_remaining(task.lx)
        _arm_itimer(task.lx, value_ns, interval_ns)
    if old_value:
        task.write(old_value, _pack_itimerval(*old))
    return 0


def sys_alarm(task: Task, seconds: int) -> int:
    """SIGALRM after `seconds` (0 cancels); returns the seconds the old alarm had left,
    rounded to the nearest, and never 0 for an alarm still pending (alarm_setitimer)."""
    old_ns, _ = _itimer_remaining(task.lx)
    _arm_itimer(task.lx, (seconds & 0xFFFFFFFF) * NS_PER_S, 0)
    old_s, old_rest = divmod(old_ns, NS_PER_S)
    if (not old_s and old_rest) or old_rest >= NS_PER_S // 2:
        old_s += 1
    return old_s


# --- process life: fork, clone, exec, exit -----------------------------------------------------


def inherit_on_fork(parent: Task, child: Task) -> None:
    """fork (and a clone without CLONE_THREAD): the child has the parent's mask and
    alternate stack; its dispositions are copied with the process (LinuxProcess.forked);
    nothing is pending for it and it has no timers (fork(2))."""
    child.signal_mask = parent.signal_mask
    child.alt_stack = parent.alt_stack
    child.pending_signals = {}
    child.lx.pending_signals = {}
    child.lx.itimer_real = None
    recalc(child)


def inherit_on_clone(parent: Task, child: Task, *, shares_stack_memory: bool = True) -> None:
    """A new thread (CLONE_THREAD): the creator's mask; dispositions and the process's
    pending set are shared already. A thread that shares the address space starts with
    no alternate stack (its creator's would be used by two threads at once)."""
    child.signal_mask = parent.signal_mask
    child.alt_stack = (0, 0, SS_DISABLE) if shares_stack_memory else parent.alt_stack
    child.pending_signals = {}
    recalc(child)


def reset_on_exec(task: Task) -> None:
    """execve: handled signals go back to the default (their handlers are gone with the
    old image); ignored ones stay ignored; flags, masks and restorers are cleared
    (flush_signal_handlers). The blocked mask and pending signals survive; the
    alternate stack does not. ITIMER_REAL and alarm() keep running."""
    lx = task.lx
    for signal, record in list(lx.signal_actions.items()):
        if Action.unpack(record).handler == SIG_IGN:
            lx.signal_actions[signal] = Action(SIG_IGN, 0, 0, 0).pack()
        else:
            del lx.signal_actions[signal]
    task.alt_stack = (0, 0, 0)                # as a new program finds it: none
    task.saved_mask = None
    recalc(task)


def process_exited(lx: LinuxProcess) -> None:
    """The process ended: its timer stops."""
    _arm_itimer(lx, 0, 0)


def children_reaped_automatically(lx: LinuxProcess) -> bool:
    """A parent that ignores SIGCHLD, or set SA_NOCLDWAIT, leaves no zombies: its
    children are reaped as they exit and wait() finds none (wait(2), NOTES)."""
    action = action_of(lx, SIGCHLD)
    return action.handler == SIG_IGN or bool(action.flags & SA_NOCLDWAIT)


def broken_pipe(task: Task, path: str) -> None:
    """A write found no reader: Linux sends SIGPIPE to the writer (send_sig: si_code
    SI_USER, its own pid) and the write fails with EPIPE. Delivered on the way out of
    the call: the default ends the process (the shell sees 128+13), which is what stops
    `producer | head`; a program that blocks, ignores or catches it sees EPIPE."""
    generate(task.lx, task, _user_info(task, SIGPIPE))


__all__ = ["send_signal", "deliver", "satisfied_now", "interrupted_result", "force_fault",
           "force_signal", "inherit_on_fork", "inherit_on_clone", "reset_on_exec", "process_exited",
           "children_reaped_automatically", "broken_pipe", "restore_mask_on_return",
           "SigInfo", "Action", "SIGNAL_NAMES", "UNBLOCKABLE", "IN_SYSCALL", "AT_INSTRUCTION"]
