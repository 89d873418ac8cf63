"""Signal dispositions and masks.

What is here: rt_sigaction and rt_sigprocmask keep exactly what Linux keeps (the
sigaction record, the blocked mask) and answer with the old values, so C libraries
start up as on Linux. Delivering signals — frames on the guest stack, handlers,
sigreturn — comes with the processes-and-signals work (issue 3); until then the table
marks both calls *partial*. One default action is already here, because every
pipeline needs it: SIGPIPE ends a writer whose reader has gone (`broken_pipe`).
"""

from __future__ import annotations

from .errno import EINVAL, LinuxError
from .task import Task

SIGKILL, SIGPIPE, SIGSTOP = 9, 13, 19
SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGACTION_SIZE = 32     # handler, flags, restorer, mask (kernel's struct sigaction)
NSIG = 64
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def sys_rt_sigaction(task: Task, signal: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != 8 or not 1 <= signal <= NSIG:
        raise LinuxError(EINVAL)
    old = task.lx.signal_actions.get(signal, bytes(SIGACTION_SIZE))
    if act:
        if signal in (SIGKILL, SIGSTOP):
            raise LinuxError(EINVAL, "SIGKILL and SIGSTOP cannot be caught")
        task.lx.signal_actions[signal] = task.read(act, SIGACTION_SIZE)
    if oldact:
        task.write(oldact, old)
    return 0


def sys_rt_sigprocmask(task: Task, how: int, set_: int, oldset: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise LinuxError(EINVAL)
    old = task.signal_mask
    if set_:
        mask = task.read_u64(set_)
        if how == SIG_BLOCK:
            task.signal_mask |= mask
        elif how == SIG_UNBLOCK:
            task.signal_mask &= ~mask
        elif how == SIG_SETMASK:
            task.signal_mask = mask
        else:
            raise LinuxError(EINVAL, f"how {how}")
        task.signal_mask &= ~UNBLOCKABLE
    if oldset:
        task.write_u64(oldset, old)
    return 0


def handler_of(task: Task, signal: int) -> int:
    """The recorded sa_handler: SIG_DFL until rt_sigaction sets another."""
    action = task.lx.signal_actions.get(signal)
    return int.from_bytes(action[:8], "little") if action else SIG_DFL


def broken_pipe(task: Task, path: str) -> None:
    """A write found no reader: Linux raises SIGPIPE before the write fails with EPIPE.
    Its default action ends the process (the shell sees 128+13), which is what stops
    `producer | head`; a program that blocks or ignores SIGPIPE sees only EPIPE. Caught
    signals are not delivered yet, so a handler also means EPIPE alone."""
    if task.signal_mask & (1 << (SIGPIPE - 1)) or handler_of(task, SIGPIPE) != SIG_DFL:
        return
    task.thread.process.personality.kill(task.thread, SIGPIPE, f"write to {path}: the reader has gone")
