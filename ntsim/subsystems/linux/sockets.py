"""Sockets: not modelled yet, and the calls that take one say so exactly.

WSL1 put AF_UNIX sockets in lxcore and AF_INET ones on the Windows socket driver (AFD);
ntsim has neither yet. So `socket` and `socketpair` answer as a Linux kernel built
without any address family: EAFNOSUPPORT (glibc's lookups of users and hosts, which try
nscd's socket first, then fall back to the files quietly, as they would there). No fd
can then be a socket, and every call that takes a socket fd gives what Linux gives for
an fd that is not one: EBADF when it is not open, ENOTSOCK otherwise — bash asks
`getpeername` of its standard input, to know whether sshd started it.
"""

from __future__ import annotations

from .errno import EAFNOSUPPORT, ENOTSOCK, LinuxError
from .task import Task


def sys_socket(task: Task, domain: int, *_rest: int) -> int:
    raise LinuxError(EAFNOSUPPORT, f"address family {domain}: no socket family is modelled")


def not_a_socket(task: Task, fd: int, *_rest: int) -> int:
    task.lx.fds.get(fd)                    # EBADF when it is not open
    raise LinuxError(ENOTSOCK, f"fd {fd} is not a socket (no fd is: sockets are not modelled)")
