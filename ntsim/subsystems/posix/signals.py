"""POSIX.1 signals as psxdll.h numbers them (Linux's numbers), and their default actions.

PSXSS keeps each process's dispositions, mask and pending set (psxss.py); when a signal
can be delivered the server decides what happens, and the client's thread does it before
it next runs user code, from a user APC (client.py): a handler's frame on the guest
stack, or the process's end.
"""

from __future__ import annotations

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU = 17, 18, 19, 20, 21, 22
NSIG = 32                      # a sigset_t is one 32-bit word: signals 1..32

SIG_DFL, SIG_IGN, SIG_ERR = 0, 1, 0xFFFF_FFFF
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2

NAMES = {SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
         SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
         SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
         SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD",
         SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN",
         SIGTTOU: "SIGTTOU"}

# POSIX.1 3.3.1.3: what SIG_DFL means. Every other signal's default ends the process.
TERMINATE, IGNORE, STOP, CONTINUE = "terminate", "ignore", "stop", "continue"
DEFAULT_ACTIONS = {SIGCHLD: IGNORE, SIGCONT: CONTINUE, SIGSTOP: STOP, SIGTSTP: STOP,
                   SIGTTIN: STOP, SIGTTOU: STOP, 23: IGNORE, 28: IGNORE}   # (+ SIGURG, SIGWINCH)
UNCATCHABLE = bit_kill_stop = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def bit(signal: int) -> int:
    return 1 << (signal - 1)


def valid(signal: int) -> bool:
    return 1 <= signal <= NSIG


def default_action(signal: int) -> str:
    return DEFAULT_ACTIONS.get(signal, TERMINATE)


def name(signal: int) -> str:
    return NAMES.get(signal, f"signal {signal}")


def lowest(pending: int) -> int:
    """The lowest-numbered signal in a set (delivered first)."""
    return (pending & -pending).bit_length()
