"""Signal dispositions and masks.

What is here: rt_sigaction and rt_sigprocmask keep exactly what Linux keeps (the
sigaction record, the blocked mask) and answer with the old values, so C libraries
start up as on Linux. Delivering signals — frames on the guest stack, handlers,
sigreturn — comes with the processes-and-signals work (issue 3); until then the table
marks both calls *partial*.
"""

from __future__ import annotations

from .errno import EINVAL, LinuxError
from .task import Task

SIGKILL, SIGSTOP = 9, 19
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
