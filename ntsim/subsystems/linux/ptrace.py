"""ptrace: one Linux process watching and steering another (what strace and gdb use).

A tracer attaches to a tracee (PTRACE_TRACEME from the child, PTRACE_ATTACH or
PTRACE_SEIZE from the tracer). From then on the tracee stops at the points the kernel
defines, and its tracer's wait4 reports each stop as a status word:

  - a *signal-delivery stop*: a signal is about to be delivered (`WSTOPSIG` = the
    signal); the tracer passes it on, changes it or suppresses it when it resumes;
  - *syscall stops*, at entry and exit of every call, when resumed with PTRACE_SYSCALL
    (`WSTOPSIG` = SIGTRAP, | 0x80 with PTRACE_O_TRACESYSGOOD);
  - *event stops* (`status >> 16` = the event): exec, fork/vfork/clone, exit, and
    PTRACE_EVENT_STOP (a seized tracee's group stop, interrupt or start).

In this model a stopped tracee is a thread parked in the dispatcher on an event of its
own, as every other wait is; the tracer's resume (PTRACE_SYSCALL, PTRACE_CONT, DETACH...)
signals that event, and the tracee goes on with a continuation: the call that follows a
syscall-entry stop, the signal delivery that follows a signal stop. A syscall-entry stop
leaves RIP on the `syscall` instruction, so that resuming runs the call — with the
registers the tracer may have changed. The kernel's other parts call in at the points
they own: the `syscall` trap (`syscall_trap`: only a traced process's goes through
here), signal delivery (signals.py), fork and exec and exit
(lifecycle.py), wait4 (which reports tracees' stops to their tracer).

Not modelled: tracing threads other than a process's first (PTRACE_O_TRACECLONE of a
CLONE_THREAD), seccomp stops, hardware breakpoints.
"""

from __future__ import annotations

import struct
from typing import Any

from unicorn.x86_const import (
    UC_X86_REG_CS,
    UC_X86_REG_DS,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_ES,
    UC_X86_REG_FS,
    UC_X86_REG_FS_BASE,
    UC_X86_REG_GS,
    UC_X86_REG_GS_BASE,
    UC_X86_REG_R8,
    UC_X86_REG_R9,
    UC_X86_REG_R10,
    UC_X86_REG_R11,
    UC_X86_REG_R12,
    UC_X86_REG_R13,
    UC_X86_REG_R14,
    UC_X86_REG_R15,
    UC_X86_REG_RAX,
    UC_X86_REG_RBP,
    UC_X86_REG_RBX,
    UC_X86_REG_RCX,
    UC_X86_REG_RDI,
    UC_X86_REG_RDX,
    UC_X86_REG_RIP,
    UC_X86_REG_RSI,
    UC_X86_REG_RSP,
    UC_X86_REG_SS,
)

from ...kernel.dispatcher import WaitPending
from ...kernel.processes import Event, NotificationEvent, ThreadState
from ...kernel.status import STATUS_USER_APC
from ..base import CallGate
from . import signals
from .errno import EFAULT, EINVAL, EIO, ENOSYS, EPERM, ESRCH, LinuxError
from .task import LinuxProcess, Task

# requests (include/uapi/linux/ptrace.h)
PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_PEEKDATA, PTRACE_PEEKUSER = 0, 1, 2, 3
PTRACE_POKETEXT, PTRACE_POKEDATA, PTRACE_POKEUSER, PTRACE_CONT, PTRACE_KILL = 4, 5, 6, 7, 8
PTRACE_SINGLESTEP, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_GETFPREGS = 9, 12, 13, 14
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SYSCALL = 16, 17, 24
PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO, PTRACE_SETSIGINFO = 0x4200, 0x4201, 0x4202, 0x4203
PTRACE_GETREGSET, PTRACE_SETREGSET, PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4204, 0x4205, 0x4206, 0x4207
PTRACE_LISTEN, PTRACE_GET_SYSCALL_INFO = 0x4208, 0x420E
REQUEST_NAMES = {
    PTRACE_TRACEME: "PTRACE_TRACEME", PTRACE_PEEKTEXT: "PTRACE_PEEKTEXT",
    PTRACE_PEEKDATA: "PTRACE_PEEKDATA", PTRACE_PEEKUSER: "PTRACE_PEEKUSER",
    PTRACE_POKETEXT: "PTRACE_POKETEXT", PTRACE_POKEDATA: "PTRACE_POKEDATA",
    PTRACE_POKEUSER: "PTRACE_POKEUSER", PTRACE_CONT: "PTRACE_CONT", PTRACE_KILL: "PTRACE_KILL",
    PTRACE_SINGLESTEP: "PTRACE_SINGLESTEP", PTRACE_GETREGS: "PTRACE_GETREGS",
    PTRACE_SETREGS: "PTRACE_SETREGS", PTRACE_GETFPREGS: "PTRACE_GETFPREGS",
    PTRACE_ATTACH: "PTRACE_ATTACH", PTRACE_DETACH: "PTRACE_DETACH", PTRACE_SYSCALL: "PTRACE_SYSCALL",
    PTRACE_SETOPTIONS: "PTRACE_SETOPTIONS", PTRACE_GETEVENTMSG: "PTRACE_GETEVENTMSG",
    PTRACE_GETSIGINFO: "PTRACE_GETSIGINFO", PTRACE_SETSIGINFO: "PTRACE_SETSIGINFO",
    PTRACE_GETREGSET: "PTRACE_GETREGSET", PTRACE_SETREGSET: "PTRACE_SETREGSET",
    PTRACE_SEIZE: "PTRACE_SEIZE", PTRACE_INTERRUPT: "PTRACE_INTERRUPT", PTRACE_LISTEN: "PTRACE_LISTEN",
    PTRACE_GET_SYSCALL_INFO: "PTRACE_GET_SYSCALL_INFO"}

# options and events
O_TRACESYSGOOD, O_TRACEFORK, O_TRACEVFORK, O_TRACECLONE = 0x1, 0x2, 0x4, 0x8
O_TRACEEXEC, O_TRACEVFORKDONE, O_TRACEEXIT, O_TRACESECCOMP = 0x10, 0x20, 0x40, 0x80
O_EXITKILL, O_SUSPEND_SECCOMP = 0x100000, 0x200000
OPTIONS = (O_TRACESYSGOOD | O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC
           | O_TRACEVFORKDONE | O_TRACEEXIT | O_TRACESECCOMP | O_EXITKILL | O_SUSPEND_SECCOMP)
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC, EVENT_VFORK_DONE, EVENT_EXIT = 1, 2, 3, 4, 5, 6
EVENT_STOP = 128
OPTION_NAMES = {O_TRACESYSGOOD: "PTRACE_O_TRACESYSGOOD", O_TRACEFORK: "PTRACE_O_TRACEFORK",
                O_TRACEVFORK: "PTRACE_O_TRACEVFORK", O_TRACECLONE: "PTRACE_O_TRACECLONE",
                O_TRACEEXEC: "PTRACE_O_TRACEEXEC", O_TRACEVFORKDONE: "PTRACE_O_TRACEVFORKDONE",
                O_TRACEEXIT: "PTRACE_O_TRACEEXIT", O_TRACESECCOMP: "PTRACE_O_TRACESECCOMP",
                O_EXITKILL: "PTRACE_O_EXITKILL", O_SUSPEND_SECCOMP: "PTRACE_O_SUSPEND_SECCOMP"}

NR_EXIT, NR_EXIT_GROUP = 60, 231
NT_PRSTATUS, NT_PRFPREG = 1, 2
AUDIT_ARCH_X86_64 = 0xC000003E
SYSCALL_INFO_NONE, SYSCALL_INFO_ENTRY, SYSCALL_INFO_EXIT = 0, 1, 2
ENOSYS_RESULT = (-ENOSYS) & 0xFFFF_FFFF_FFFF_FFFF
MASK64 = 0xFFFF_FFFF_FFFF_FFFF

# struct user_regs_struct, in order; orig_rax has no register of its own
USER_REGS = (("r15", UC_X86_REG_R15), ("r14", UC_X86_REG_R14), ("r13", UC_X86_REG_R13),
             ("r12", UC_X86_REG_R12), ("rbp", UC_X86_REG_RBP), ("rbx", UC_X86_REG_RBX),
             ("r11", UC_X86_REG_R11), ("r10", UC_X86_REG_R10), ("r9", UC_X86_REG_R9),
             ("r8", UC_X86_REG_R8), ("rax", UC_X86_REG_RAX), ("rcx", UC_X86_REG_RCX),
             ("rdx", UC_X86_REG_RDX), ("rsi", UC_X86_REG_RSI), ("rdi", UC_X86_REG_RDI),
             ("orig_rax", None), ("rip", UC_X86_REG_RIP), ("cs", UC_X86_REG_CS),
             ("eflags", UC_X86_REG_EFLAGS), ("rsp", UC_X86_REG_RSP), ("ss", UC_X86_REG_SS),
             ("fs_base", UC_X86_REG_FS_BASE), ("gs_base", UC_X86_REG_GS_BASE),
             ("ds", UC_X86_REG_DS), ("es", UC_X86_REG_ES), ("fs", UC_X86_REG_FS), ("gs", UC_X86_REG_GS))
USER_REGS_SIZE = 8 * len(USER_REGS)            # 216
U_DEBUGREG, USER_SIZE = 848, 912               # offsetof(struct user, u_debugreg), sizeof(struct user)
SELECTORS = {"cs": 0x33, "ss": 0x2B, "ds": 0, "es": 0, "fs": 0, "gs": 0}   # __USER_CS, __USER_DS
EFLAGS_TF = 0x100
ARGUMENT_REGISTERS = (UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX, UC_X86_REG_R10,
                      UC_X86_REG_R8, UC_X86_REG_R9)


# --- who traces whom ---------------------------------------------------------------------------


class Tracer:
    """The tracer's side, on its LinuxProcess (`lx.ptrace`): its tracees, and the event
    its wait4 sleeps on to hear of their stops (pulsed, like a job-control change)."""

    def __init__(self) -> None:
        self.tracees: list[Task] = []
        self.changed = Event(event_type=NotificationEvent)


class Tracee:
    """The tracee's side, on its Task (`task.ptrace`)."""

    def __init__(self, tracer: LinuxProcess, *, seized: bool, options: int = 0) -> None:
        self.tracer = tracer
        self.seized = seized
        self.options = options
        self.syscalls = False          # resumed with PTRACE_SYSCALL: stop at entry and exit
        self.stopped: Event | None = None   # parked on it while in a ptrace stop
        self.kind = ""                 # of the current stop: syscall-entry/-exit, signal, event, group
        self.report: int | None = None  # the stop's status word, until the tracer's wait takes it
        self.status = 0                # the stop's status word, while stopped (GETSIGINFO, LISTEN)
        self.siginfo: signals.SigInfo | None = None   # a signal-delivery stop's signal
        self.let_through: signals.SigInfo | None = None   # the signal the tracer passed on
        self.message = 0               # PTRACE_GETEVENTMSG
        self.resume_signal = 0
        self.orig_rax = -1             # the call number (user_regs_struct.orig_rax)
        self.entered = False           # entry stop taken: the `syscall` runs again on resume
        self.exit_event_done = False   # PTRACE_EVENT_EXIT reported: the exit call runs on resume
        self.exit_stop_due = False     # a syscall-exit stop comes on the way back
        self.events: list[tuple[int, int]] = []   # event stops due on the way back (event, message)
        self.in_call = False           # between entry and exit (GET_SYSCALL_INFO)
        self.group_stopped = False     # seized while in a group stop (parked on lx.stopped)
        self.rewound = False           # RIP is on the `syscall` (shown two bytes on, as Linux does)
        self.stepping = False          # resumed with PTRACE_SINGLESTEP: EFLAGS.TF is ours


def tracer_of(lx: LinuxProcess) -> Tracer:
    if lx.ptrace is None:
        lx.ptrace = Tracer()
    return lx.ptrace


def _main_task(lx: LinuxProcess) -> Task | None:
    for thread in lx.process.threads:
        if thread.state != ThreadState.TERMINATED and isinstance(thread.data, Task):
            return thread.data
    return None


def _attach(tracer: LinuxProcess, task: Task, *, seized: bool, options: int = 0) -> Tracee:
    tracee = Tracee(tracer, seized=seized, options=options)
    task.ptrace = tracee
    tracer_of(tracer).tracees.append(task)
    _rehook(task)
    return tracee


def _detach(task: Task) -> None:
    tracee, task.ptrace = task.ptrace, None
    if tracee is not None and tracee.tracer.ptrace is not None and task in tracee.tracer.ptrace.tracees:
        tracee.tracer.ptrace.tracees.remove(task)
    if task.thread.process.alive:
        _rehook(task)


# --- stops -------------------------------------------------------------------------------------


def _notify_tracer(task: Task, tracee: Tracee) -> None:
    """Wake the tracer's wait, and send it SIGCHLD (CLD_TRAPPED), as ptrace_stop does."""
    tracer = tracee.tracer
    if not tracer.process.alive:
        return
    event = tracer_of(tracer).changed
    dispatcher = task.kernel.dispatcher
    event.signalled = True
    dispatcher.signal(event)
    event.signalled = False
    signals.generate(tracer, None, signals.SigInfo(signals.SIGCHLD, signals.CLD_TRAPPED,
                                                   pid=task.lx.process.pid, uid=task.lx.uid,
                                                   status=(tracee.status >> 8) & 0x7F))


def _stop(task: Task, status_signal: int, kind: str, then, *, event: int = 0,
          siginfo: signals.SigInfo | None = None) -> None:
    """Park the tracee in a ptrace stop; `then()` runs, as the tracee, once resumed."""
    tracee = task.ptrace
    stopped = Event(event_type=NotificationEvent)
    tracee.stopped, tracee.kind, tracee.siginfo = stopped, kind, siginfo
    tracee.status = tracee.report = (event << 16) | (status_signal << 8) | 0x7F
    _notify_tracer(task, tracee)

    def on_resume(_status: int) -> None:
        if task.ptrace is tracee:
            tracee.stopped = None
        then()

    task.parked_call = None
    task.kernel.dispatcher.park(task.thread, WaitPending([stopped], lambda _s: None,
                                                         reason=f"its tracer (ptrace {kind} stop)"),
                                on_resume)
    task.cpu.request_stop()


def _resume(task: Task, syscalls: bool, signal: int, step: bool = False) -> None:
    tracee = task.ptrace
    tracee.syscalls = syscalls
    if step or tracee.stepping:
        # single-stepping is the processor's trap flag: a debug trap (SIGTRAP) after
        # one instruction, which the tracee's signal stop reports
        registers = _registers(task)
        flags = registers.read(UC_X86_REG_EFLAGS)
        registers.write(UC_X86_REG_EFLAGS, flags | EFLAGS_TF if step else flags & ~EFLAGS_TF)
        tracee.stepping = step
    tracee.resume_signal = signal
    tracee.report = None
    if tracee.group_stopped:
        # seized in a group stop: a restart ends it for this thread (no SIGCONT needed)
        tracee.group_stopped = False
        task.kernel.dispatcher.alert(task.thread, 0)
        return
    stopped, tracee.stopped = tracee.stopped, None     # running from now on (ESRCH to requests)
    if stopped is not None:
        stopped.signalled = True
        task.kernel.dispatcher.signal(stopped)


def _sysgood(tracee: Tracee) -> int:
    return signals.SIGTRAP | (0x80 if tracee.options & O_TRACESYSGOOD else 0)


def syscall_trap(gate: CallGate, process: Any):
    """The `syscall` hook of a process's processor: the gate's own, or, while one of its
    threads is traced, a detour through ptrace (so an untraced process pays nothing)."""
    if not any(isinstance(t.data, Task) and t.data.ptrace is not None for t in process.threads):
        return gate.on_trap

    def on_trap(uc: Any, user_data: Any = None) -> None:
        task = gate.kernel.current_thread.data
        if task.ptrace is None:
            gate.on_trap(uc, user_data)
        else:
            traced_trap(gate, task, uc, user_data)

    return on_trap


def _rehook(task: Task) -> None:
    """The tracee's process took or lost a tracer: its `syscall` hook follows."""
    process = task.thread.process
    gate = process.personality.gate
    if process.cpu is not None and gate is not None:
        process.cpu.rehook_syscall(syscall_trap(gate, process))


def _rewind(task: Task) -> None:
    """Leave RIP on the `syscall`, so that resuming the tracee runs it (again)."""
    cpu = task.cpu
    cpu.resume_after_syscall_at(cpu.registers.read(UC_X86_REG_RIP))
    task.ptrace.rewound = True


def traced_trap(gate: CallGate, task: Task, uc: Any, user_data: Any) -> None:
    """A traced thread's `syscall`: the entry stop (if resumed with PTRACE_SYSCALL), a
    PTRACE_EVENT_EXIT stop before exit/exit_group, then the call, whose way back
    (`returning`) takes the event and exit stops."""
    tracee = task.ptrace
    registers = task.cpu.registers
    tracee.rewound = False
    if tracee.entered:
        tracee.entered = False
        registers.write(UC_X86_REG_RAX, tracee.orig_rax & MASK64)   # the tracer may have changed it
    else:
        tracee.orig_rax = registers.read(UC_X86_REG_RAX)
        if tracee.syscalls:
            tracee.entered = tracee.in_call = True
            _rewind(task)
            registers.write(UC_X86_REG_RAX, ENOSYS_RESULT)     # what the tracer sees in RAX
            _stop(task, _sysgood(tracee), "syscall-entry", lambda: None)
            return
    number = tracee.orig_rax
    if number in (NR_EXIT, NR_EXIT_GROUP) and tracee.options & O_TRACEEXIT and not tracee.exit_event_done:
        tracee.exit_event_done = tracee.entered = True
        tracee.message = (registers.read(UC_X86_REG_RDI) & 0xFF) << 8
        _rewind(task)
        _stop(task, signals.SIGTRAP, "event", lambda: None, event=EVENT_EXIT)
        return
    tracee.in_call = True
    tracee.exit_stop_due = tracee.syscalls
    task.sigpending = True             # the way back (LinuxAbi.returning) must look
    CallGate.on_trap(gate, uc, user_data)


def due(task: Task) -> bool:
    """Is there ptrace work on the way back to user mode? (signals.recalc keeps
    `sigpending` true while there is.)"""
    tracee = task.ptrace
    return tracee is not None and (tracee.exit_stop_due or bool(tracee.events))


def returning(task: Task, row: Any, trap: Any) -> bool:
    """On the way back from a traced thread's call: its event stops (fork, exec), then
    its syscall-exit stop, then the signals (signals.deliver). True if the thread stopped
    (the signals come when it is resumed)."""
    tracee = task.ptrace
    if tracee is None or not due(task):
        return False
    number = row.number if row is not None else None
    if trap is not None and task.cpu.uc is trap:
        where = signals.IN_SYSCALL       # still inside the trap
    else:
        where = signals.AT_INSTRUCTION   # after a wait, or on the new processor of an exec

    def go_on() -> None:
        if not task.thread.process.alive:
            return
        if tracee.events:
            event, message = tracee.events.pop(0)
            tracee.message = message
            _stop(task, signals.SIGTRAP, "event", go_on, event=event)
            return
        if tracee.exit_stop_due:
            tracee.exit_stop_due = False
            _stop(task, _sysgood(tracee), "syscall-exit", go_on)
            return
        tracee.in_call = False
        signals.recalc(task)
        signals.deliver(task, signals.AT_INSTRUCTION, number)

    if tracee.events or tracee.exit_stop_due:
        go_on()
        return True
    tracee.in_call = False
    signals.recalc(task)
    signals.deliver(task, where, number)
    return True


def signal_stop(task: Task, info: signals.SigInfo, syscall: int | None) -> bool:
    """A signal is about to be delivered to a tracee: stop and let the tracer decide
    (ptrace_signal). True if the thread stopped; delivery goes on when it resumes, with
    the signal the tracer passed (or none)."""
    tracee = task.ptrace
    if info is tracee.let_through:
        tracee.let_through = None
        return False
    if info.signo == signals.SIGKILL:
        return False

    def then() -> None:
        signal = tracee.resume_signal if task.ptrace is tracee else info.signo
        if signal:
            passed = info if signal == info.signo else signals.SigInfo(signal, signals.SI_USER,
                                                                    pid=tracee.tracer.process.pid)
            tracee.let_through = passed
            task.pending_signals.setdefault(signal, []).insert(0, passed)
        signals.recalc(task)
        signals.deliver(task, signals.AT_INSTRUCTION, syscall)

    _stop(task, info.signo, "signal", then, siginfo=info)
    return True


def group_stop(task: Task, signal: int, syscall: int | None) -> None:
    """A tracee takes a stop signal's default action: a stop its tracer sees (with
    PTRACE_EVENT_STOP if seized) and ends (a ptrace restart)."""
    tracee = task.ptrace
    _stop(task, signal, "group",
          lambda: signals.deliver(task, signals.AT_INSTRUCTION, syscall),
          event=EVENT_STOP if tracee.seized else 0)


def group_stop_ended(task: Task, syscall: int | None) -> bool:
    """A seized tracee leaves the group stop it was in when seized. After SIGCONT it
    traps (PTRACE_EVENT_STOP, SIGTRAP) before going on; after its tracer restarted it
    (`_resume`), it just goes on. True if it stopped again."""
    tracee = task.ptrace
    if tracee is None or not tracee.group_stopped:
        return False
    tracee.group_stopped = False
    _stop(task, signals.SIGTRAP, "event",
          lambda: signals.deliver(task, signals.AT_INSTRUCTION, syscall), event=EVENT_STOP)
    return True


def exec_done(task: Task) -> None:
    """execve succeeded: PTRACE_EVENT_EXEC (message: the former thread id), or, for a
    tracee that neither asked for it nor was seized, a SIGTRAP as old Linux sent."""
    tracee = task.ptrace
    if tracee is None:
        return
    if tracee.options & O_TRACEEXEC:
        tracee.events.append((EVENT_EXEC, task.linux_tid))
        task.sigpending = True
    elif not tracee.seized:
        signals.send_signal(task, signals.SIGTRAP, code=signals.SI_USER)
    tracee.exit_event_done = False


def forked(task: Task, child: Task, flags: int) -> None:
    """fork, vfork or clone by a tracee that traces them: the child is traced too, by
    the same tracer with the same options, and starts in a stop; the parent reports
    PTRACE_EVENT_FORK/VFORK/CLONE (message: the child's pid) on its way back."""
    from .lifecycle import CLONE_VFORK, CSIGNAL, SIGCHLD

    tracee = task.ptrace
    if tracee is None:
        return
    if flags & CLONE_VFORK:
        option, event = O_TRACEVFORK, EVENT_VFORK
    elif flags & CSIGNAL != SIGCHLD:
        option, event = O_TRACECLONE, EVENT_CLONE
    else:
        option, event = O_TRACEFORK, EVENT_FORK
    if not tracee.options & option:
        return
    child_tracee = _attach(tracee.tracer, child, seized=tracee.seized, options=tracee.options)
    if tracee.seized:
        child.kernel.dispatcher.queue_user_apc(
            child.thread, lambda: _stop(child, signals.SIGTRAP, "event", lambda: None, event=EVENT_STOP))
    else:
        signals.send_signal(child, signals.SIGSTOP, code=signals.SI_USER)
    child_tracee.syscalls = False
    tracee.events.append((event, child.lx.process.pid))
    task.sigpending = True


def tracer_exited(lx: LinuxProcess) -> None:
    """The tracer ended: its tracees go free (PTRACE_O_EXITKILL: they are killed)."""
    tracer = lx.ptrace
    if tracer is None:
        return
    for task in list(tracer.tracees):
        tracee = task.ptrace
        _detach(task)
        if tracee is None or not task.thread.process.alive:
            _wake_parent(task.thread.process)
            continue
        if tracee.options & O_EXITKILL:
            signals.send_signal(task.thread.process, signals.SIGKILL, code=signals.SI_KERNEL)
        elif tracee.stopped is not None:
            tracee.stopped.signalled = True
            task.kernel.dispatcher.signal(tracee.stopped)


# --- wait4's view ------------------------------------------------------------------------------


def tracees(lx: LinuxProcess) -> list[Task]:
    return list(lx.ptrace.tracees) if lx.ptrace is not None else []


def stop_report(task: Task) -> int | None:
    tracee = task.ptrace
    if tracee is None or not task.thread.process.alive:
        return None
    return tracee.report


def wait_event(lx: LinuxProcess) -> Event:
    return tracer_of(lx).changed


def held_by_tracer(waiter: LinuxProcess, process: Any) -> bool:
    """A dead child its parent may not reap yet: another process traces it, and has not
    collected its exit (the real parent hears of it after the tracer)."""
    for thread in process.threads:
        task = thread.data
        if isinstance(task, Task) and task.ptrace is not None and task.ptrace.tracer is not waiter \
                and task.ptrace.tracer.process.alive:
            return True
    return False


def reaped(tracer: LinuxProcess, process: Any) -> None:
    """The tracer's wait took a tracee's exit: the tracee is free, and its real parent's
    wait may now take it."""
    if tracer.ptrace is None:
        return
    for task in list(tracer.ptrace.tracees):
        if task.thread.process is process:
            _detach(task)
    _wake_parent(process)


def _wake_parent(process: Any) -> None:
    parent = process.parent
    if parent is not None and parent.alive and isinstance(parent.data, LinuxProcess):
        event = wait_event(parent.data)
        event.signalled = True
        parent.personality.kernel.dispatcher.signal(event)
        event.signalled = False


# --- the system call ---------------------------------------------------------------------------


def _tracee(task: Task, pid: int, *, stopped: bool = True) -> Task:
    """The caller's tracee `pid`, stopped (as ptrace_check_attach requires)."""
    tracer = task.lx.ptrace
    for candidate in (tracer.tracees if tracer is not None else ()):
        if candidate.linux_tid == pid and candidate.thread.process.alive:
            tracee = candidate.ptrace
            if stopped and tracee.stopped is None and not tracee.group_stopped:
                raise LinuxError(ESRCH, f"pid {pid} is traced but not stopped")
            return candidate
    raise LinuxError(ESRCH, f"pid {pid} is not traced by the caller")


def _registers(target: Task):
    """The tracee's register file: its processor, loaded with its context (it is not
    running: only one thread runs at a time, and it is the tracer)."""
    cpu = target.cpu
    if cpu.loaded_thread is not target.thread:
        target.kernel.dispatcher._load(cpu, target.thread)
    return cpu.registers


def _user_regs(target: Task) -> list[int]:
    registers = _registers(target)
    tracee = target.ptrace
    values = []
    for name, register in USER_REGS:
        if register is None:
            values.append(tracee.orig_rax & MASK64 if tracee.in_call or tracee.entered else MASK64)
            continue
        if name in SELECTORS:
            values.append(SELECTORS[name])   # a 64-bit user thread's (gdb tells 64 from 32 bits by CS)
            continue
        value = registers.read(register)
        if name == "eflags":
            value &= ~EFLAGS_TF if tracee.stepping else MASK64
        if name == "rip" and tracee.rewound:
            value += 2                   # Linux shows RIP past the `syscall` at every stop
        values.append(value & MASK64)
    return values


def _set_user_regs(target: Task, values: list[int]) -> None:
    registers = _registers(target)
    tracee = target.ptrace
    for (name, register), value in zip(USER_REGS, values, strict=True):
        if register is None:
            tracee.orig_rax = value
        elif name in SELECTORS:
            continue                    # the selectors of a 64-bit user thread stay
        elif name == "rip" and tracee.rewound:
            registers.write(register, value - 2)
        elif name == "rax" and tracee.entered:
            continue                    # at entry the call's number is orig_rax
        else:
            registers.write(register, value)


def _peek(task: Task, target: Task, address: int, data: int) -> int:
    try:
        word = target.memory.read(address, 8)
    except Exception:
        raise LinuxError(EIO, f"{address:#x} is not readable in the tracee") from None
    task.write(data, word)
    return 0


def _poke(target: Task, address: int, data: int) -> int:
    try:
        target.memory.write(address, (data & MASK64).to_bytes(8, "little"))
    except Exception:
        raise LinuxError(EIO, f"{address:#x} is not writable in the tracee") from None
    return 0                            # (the memory manager drops code translated from there)


def _peek_user(task: Task, target: Task, offset: int, data: int) -> int:
    if offset & 7 or offset >= USER_SIZE:
        raise LinuxError(EIO, f"offset {offset} in struct user")
    value = _user_regs(target)[offset // 8] if offset < USER_REGS_SIZE else 0
    task.write_u64(data, value)
    return 0


def _syscall_info(task: Task, target: Task, size: int, address: int) -> int:
    tracee = target.ptrace
    registers = _registers(target)
    pc = registers.read(UC_X86_REG_RIP) + (2 if tracee.rewound else 0)
    head = struct.pack("<B3xIQQ", 0, AUDIT_ARCH_X86_64, pc, registers.read(UC_X86_REG_RSP))
    if tracee.kind == "syscall-entry":
        op = SYSCALL_INFO_ENTRY
        body = struct.pack("<7Q", tracee.orig_rax & MASK64,
                           *(registers.read(r) & MASK64 for r in ARGUMENT_REGISTERS))
    elif tracee.kind == "syscall-exit":
        op = SYSCALL_INFO_EXIT
        value = registers.read(UC_X86_REG_RAX) & MASK64
        value = value - (1 << 64) if value >> 63 else value
        body = struct.pack("<qB", value, 1 if -4096 < value < 0 else 0)
    else:
        op, body = SYSCALL_INFO_NONE, b""
    info = bytes([op]) + head[1:] + body
    if address:
        task.write(address, info[:min(size, len(info))])
    return len(info)


def sys_ptrace(task: Task, request: int, pid: int, addr: int, data: int) -> int:
    request &= 0xFFFF_FFFF
    pid = pid & 0xFFFF_FFFF
    pid = pid - (1 << 32) if pid >> 31 else pid
    handler = _REQUESTS.get(request)
    if handler is None:
        raise LinuxError(EIO, f"ptrace request {request:#x} is not supported")
    return handler(task, pid, addr, data)


def _traceme(task: Task, _pid: int, _addr: int, _data: int) -> int:
    if task.ptrace is not None:
        raise LinuxError(EPERM, "already traced")
    parent = task.lx.process.parent
    if task.lx.orphaned or parent is None or not parent.alive or not isinstance(parent.data, LinuxProcess):
        raise LinuxError(EPERM, "no parent to trace the caller")
    _attach(parent.data, task, seized=False)
    return 0


def _target_for_attach(task: Task, pid: int) -> Task:
    process = task.kernel.processes.get(pid)
    if pid <= 0 or process is None or not process.alive or not isinstance(process.data, LinuxProcess):
        raise LinuxError(ESRCH, f"no process {pid}")
    target = _main_task(process.data)
    if target is None:
        raise LinuxError(ESRCH, f"no process {pid}")
    if process.data is task.lx:
        raise LinuxError(EPERM, "a process cannot trace itself")
    if target.ptrace is not None:
        raise LinuxError(EPERM, f"{pid} is already traced")
    creds = (task.lx.uid, process.data.uid)
    if creds[0] != 0 and creds[0] != creds[1]:
        raise LinuxError(EPERM, f"{pid} belongs to another user")
    return target


def _attach_request(task: Task, pid: int, _addr: int, _data: int) -> int:
    """PTRACE_ATTACH: trace `pid` and send it SIGSTOP (its stop is the tracer's cue)."""
    target = _target_for_attach(task, pid)
    _attach(task.lx, target, seized=False)
    signals.send_signal(target, signals.SIGSTOP, code=signals.SI_USER, pid=task.lx.process.pid,
                        uid=task.lx.uid)
    return 0


def _seize(task: Task, pid: int, addr: int, data: int) -> int:
    """PTRACE_SEIZE: trace `pid` without stopping it. A process already in a group stop
    reports that stop to its new tracer (as PTRACE_EVENT_STOP)."""
    if addr or data & ~OPTIONS:
        raise LinuxError(EIO, "PTRACE_SEIZE takes options only")
    target = _target_for_attach(task, pid)
    tracee = _attach(task.lx, target, seized=True, options=data)
    if target.lx.stopped is not None and target.thread.state == ThreadState.WAITING:
        tracee.group_stopped = True
        tracee.kind = "group"
        signal = target.lx.job_report[1] if target.lx.job_report else signals.SIGSTOP
        tracee.status = tracee.report = (EVENT_STOP << 16) | (signal << 8) | 0x7F
        _notify_tracer(target, tracee)
    return 0


def _interrupt(task: Task, pid: int, _addr: int, _data: int) -> int:
    """PTRACE_INTERRUPT: a running seized tracee traps (PTRACE_EVENT_STOP) at its next
    return to user mode; one already stopped stays so."""
    target = _tracee(task, pid, stopped=False)
    tracee = target.ptrace
    if not tracee.seized:
        raise LinuxError(EIO, "PTRACE_INTERRUPT needs PTRACE_SEIZE")
    if tracee.stopped is None and not tracee.group_stopped:
        dispatcher = target.kernel.dispatcher
        dispatcher.queue_user_apc(
            target.thread,
            lambda: None if tracee.stopped is not None or target.ptrace is not tracee else
            _stop(target, signals.SIGTRAP, "event", lambda: None, event=EVENT_STOP))
        # a sleeping call is cut short, as a signal would cut it (it restarts after the
        # stop: a sleep as restart_syscall)
        call = target.parked_call
        if target.thread.state == ThreadState.WAITING and call is not None and \
                call.name not in signals.UNINTERRUPTIBLE:
            dispatcher.alert(target.thread, STATUS_USER_APC)
    return 0


def _listen(task: Task, pid: int, _addr: int, _data: int) -> int:
    """PTRACE_LISTEN: leave a seized tracee in its group stop, but let the tracer hear
    when it ends (the SIGCONT trap)."""
    target = _tracee(task, pid)
    tracee = target.ptrace
    if not tracee.seized or tracee.status >> 16 != EVENT_STOP:
        raise LinuxError(EIO, "PTRACE_LISTEN needs a seized tracee in a group stop")
    tracee.report = None
    return 0


def _restart(syscalls: bool, step: bool = False):
    def handler(task: Task, pid: int, _addr: int, data: int) -> int:
        target = _tracee(task, pid)
        if not 0 <= data <= signals.NSIG:
            raise LinuxError(EIO, f"signal {data}")
        _resume(target, syscalls, data, step)
        return 0
    return handler


def _detach_request(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid, stopped=False)
    if not 0 <= data <= signals.NSIG:
        raise LinuxError(EIO, f"signal {data}")
    tracee = target.ptrace
    stopped = tracee.stopped
    if stopped is not None or tracee.group_stopped:
        _resume(target, False, data)
    _detach(target)
    return 0


def _kill(task: Task, pid: int, _addr: int, _data: int) -> int:
    target = _tracee(task, pid, stopped=False)
    signals.send_signal(target.thread.process, signals.SIGKILL, code=signals.SI_KERNEL)
    return 0


def _setoptions(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid)
    if data & ~OPTIONS:
        raise LinuxError(EINVAL, f"options {data:#x}")
    target.ptrace.options = data
    return 0


def _geteventmsg(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid)
    task.write_u64(data, target.ptrace.message)
    return 0


def _getsiginfo(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid)
    tracee = target.ptrace
    info = tracee.siginfo
    if info is None:
        # an event or syscall stop: a SIGTRAP whose code says which (si_code = status >> 8)
        if tracee.kind == "group" and not tracee.seized:
            raise LinuxError(EINVAL, "a group stop has no signal")
        info = signals.SigInfo(signals.SIGTRAP, (tracee.status >> 8) & 0xFFFF)
    task.write(data, info.pack())
    return 0


def _setsiginfo(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid)
    tracee = target.ptrace
    if tracee.siginfo is None:
        raise LinuxError(EINVAL, "not in a signal-delivery stop")
    raw = task.read(data, 128)
    signo, = struct.unpack_from("<i", raw)
    tracee.siginfo = signals.SigInfo(signo, tracee.siginfo.code, raw=raw)
    return 0


def _peekdata(task: Task, pid: int, addr: int, data: int) -> int:
    return _peek(task, _tracee(task, pid), addr, data)


def _pokedata(task: Task, pid: int, addr: int, data: int) -> int:
    return _poke(_tracee(task, pid), addr, data)


def _peekuser(task: Task, pid: int, addr: int, data: int) -> int:
    return _peek_user(task, _tracee(task, pid), addr, data)


def _pokeuser(task: Task, pid: int, addr: int, data: int) -> int:
    target = _tracee(task, pid)
    if addr & 7 or addr >= USER_SIZE:
        raise LinuxError(EIO, f"offset {addr} in struct user")
    if addr >= USER_REGS_SIZE:
        if addr >= U_DEBUGREG and data == 0:
            return 0                     # clearing a debug register: none is set
        raise LinuxError(EIO, "hardware debug registers are not modelled")
    values = _user_regs(target)
    values[addr // 8] = data & MASK64
    _set_user_regs(target, values)
    return 0


def _getregs(task: Task, pid: int, _addr: int, data: int) -> int:
    task.write(data, struct.pack(f"<{len(USER_REGS)}Q", *_user_regs(_tracee(task, pid))))
    return 0


def _setregs(task: Task, pid: int, _addr: int, data: int) -> int:
    target = _tracee(task, pid)
    _set_user_regs(target, list(struct.unpack(f"<{len(USER_REGS)}Q", task.read(data, USER_REGS_SIZE))))
    return 0


def _getfpregs(task: Task, pid: int, _addr: int, data: int) -> int:
    from .sigframe import save_fpstate

    target = _tracee(task, pid)
    _registers(target)
    task.write(data, save_fpstate(target.cpu.uc))
    return 0


def _regset(write: bool):
    def handler(task: Task, pid: int, addr: int, data: int) -> int:
        """PTRACE_GETREGSET/SETREGSET with an iovec: NT_PRSTATUS (user_regs_struct),
        NT_PRFPREG (the FXSAVE area, read only)."""
        target = _tracee(task, pid)
        base, length = struct.unpack("<QQ", task.read(data, 16))
        if addr == NT_PRSTATUS:
            if write:
                if length < USER_REGS_SIZE:
                    raise LinuxError(EINVAL, "short user_regs_struct")
                _set_user_regs(target, list(struct.unpack(f"<{len(USER_REGS)}Q", task.read(base, USER_REGS_SIZE))))
                return 0
            raw = struct.pack(f"<{len(USER_REGS)}Q", *_user_regs(target))
        elif addr == NT_PRFPREG and not write:
            from .sigframe import save_fpstate

            _registers(target)
            raw = save_fpstate(target.cpu.uc)
        else:
            raise LinuxError(EINVAL, f"register set {addr:#x}")
        raw = raw[:length]
        task.write(base, raw)
        task.write_u64(data + 8, len(raw))
        return 0
    return handler


def _get_syscall_info(task: Task, pid: int, addr: int, data: int) -> int:
    return _syscall_info(task, _tracee(task, pid), addr, data)


_REQUESTS = {
    PTRACE_TRACEME: _traceme, PTRACE_ATTACH: _attach_request, PTRACE_SEIZE: _seize,
    PTRACE_INTERRUPT: _interrupt, PTRACE_LISTEN: _listen,
    PTRACE_CONT: _restart(False), PTRACE_SYSCALL: _restart(True),
    PTRACE_SINGLESTEP: _restart(False, step=True), PTRACE_DETACH: _detach_request,
    PTRACE_KILL: _kill, PTRACE_SETOPTIONS: _setoptions, PTRACE_GETEVENTMSG: _geteventmsg,
    PTRACE_GETSIGINFO: _getsiginfo, PTRACE_SETSIGINFO: _setsiginfo,
    PTRACE_PEEKTEXT: _peekdata, PTRACE_PEEKDATA: _peekdata, PTRACE_POKETEXT: _pokedata,
    PTRACE_POKEDATA: _pokedata, PTRACE_PEEKUSER: _peekuser, PTRACE_POKEUSER: _pokeuser,
    PTRACE_GETREGS: _getregs, PTRACE_SETREGS: _setregs, PTRACE_GETFPREGS: _getfpregs,
    PTRACE_GETREGSET: _regset(False), PTRACE_SETREGSET: _regset(True),
    PTRACE_GET_SYSCALL_INFO: _get_syscall_info,
}


# --- another process's memory ------------------------------------------------------------------


def _iovecs(task: Task, address: int, count: int) -> list[tuple[int, int]]:
    if count > 1024:
        raise LinuxError(EINVAL, "more than IOV_MAX iovecs")
    raw = task.read(address, 16 * count) if count else b""
    return list(struct.iter_unpack("<QQ", raw))


def _accessible(task: Task, pid: int) -> Task:
    """The process `pid`, if the caller may read its memory (PTRACE_MODE_ATTACH: the
    same user, or root)."""
    process = task.kernel.processes.get(pid & 0xFFFF_FFFF)
    if process is None or not process.alive or not isinstance(process.data, LinuxProcess):
        raise LinuxError(ESRCH, f"no process {pid}")
    if task.lx.uid not in (0, process.data.uid):
        raise LinuxError(EPERM, f"{pid} belongs to another user")
    target = _main_task(process.data)
    if target is None:
        raise LinuxError(ESRCH, f"no process {pid}")
    return target


def _transfer(task: Task, pid: int, local: int, local_count: int, remote: int, remote_count: int,
              flags: int, to_remote: bool) -> int:
    if flags:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    target = _accessible(task, pid)
    locals_, remotes = _iovecs(task, local, local_count), _iovecs(task, remote, remote_count)
    done = 0
    local_index, local_offset = 0, 0
    for base, length in remotes:
        offset = 0
        while offset < length and local_index < len(locals_):
            local_base, local_length = locals_[local_index]
            size = min(length - offset, local_length - local_offset)
            try:
                if to_remote:
                    target.memory.write(base + offset, task.read(local_base + local_offset, size))
                else:
                    task.write(local_base + local_offset, target.memory.read(base + offset, size))
            except LinuxError:
                raise
            except Exception:
                if done:
                    return done            # a partial transfer counts what was copied
                raise LinuxError(EFAULT, f"{base + offset:#x} in process {pid}") from None
            done += size
            offset += size
            local_offset += size
            if local_offset == local_length:
                local_index, local_offset = local_index + 1, 0
    return done


def sys_process_vm_readv(task: Task, pid: int, local: int, local_count: int, remote: int,
                         remote_count: int, flags: int) -> int:
    return _transfer(task, pid, local, local_count, remote, remote_count, flags, False)


def sys_process_vm_writev(task: Task, pid: int, local: int, local_count: int, remote: int,
                          remote_count: int, flags: int) -> int:
    return _transfer(task, pid, local, local_count, remote, remote_count, flags, True)
