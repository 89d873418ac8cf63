"""Run one Linux program under Qiling, for benchmarks/run.py's comparison rows.

    QILING_PYTHON benchmarks/qiling_runner.py ROOTFS ./PROGRAM [ARGS...]

PROGRAM is a path relative to ROOTFS (e.g. ./bin/busybox): it names the same file on the
host (the runner works in ROOTFS) and in the guest (whose working directory is ROOTFS's
top), and it is the guest's argv[0] as it would be natively. Standard streams are the
host's; the exit status is the guest's. This file imports Qiling, so it runs only in Qiling's own
virtual environment (Qiling pins its own unicorn), never in ntsim's.

Two fixes to Qiling 1.4.6's Linux emulation, so that the programs give the same answer
as natively (a benchmark of a wrong answer is worthless); neither changes its speed:
- `ioctl(TCGETS)` on fds 0-2 always succeeds there, so programs think a pipe is a terminal
  (busybox `gzip -c` then refuses to write to it): answer ENOTTY when the host fd is not
  a terminal.
- a forked child's `exit`/`exit_group` always ends the host process with status 0, so a
  parent's `waitpid` never sees the child's status: end it with the guest's status.
"""

from __future__ import annotations

import os
import sys

from qiling import Qiling
from qiling.const import QL_VERBOSE
from qiling.os.posix.syscall.ioctl import ql_syscall_ioctl
from qiling.os.posix.syscall.unistd import ql_syscall_exit, ql_syscall_exit_group

TCGETS = 0x5401
ENOTTY = 25


def ioctl(ql: Qiling, fd: int, cmd: int, arg: int):
    if cmd == TCGETS and fd in (0, 1, 2) and not os.isatty(fd):
        return -ENOTTY
    return ql_syscall_ioctl(ql, fd, cmd, arg)


def exit_group(ql: Qiling, code: int):
    if ql.os.child_processes:
        os._exit(code & 0xFF)
    return ql_syscall_exit_group(ql, code)


def exit_thread(ql: Qiling, code: int):
    if ql.os.child_processes:
        os._exit(code & 0xFF)
    return ql_syscall_exit(ql, code)


def main() -> int:
    rootfs, program, *args = sys.argv[1:]
    if os.path.isabs(program):
        raise SystemExit("qiling_runner: give PROGRAM relative to ROOTFS, e.g. ./bin/busybox")
    os.chdir(rootfs)       # Qiling opens argv[0] on the host, and the guest sees argv[0] too
    ql = Qiling([program, *args], rootfs, verbose=QL_VERBOSE.DISABLED)
    ql.os.set_syscall("ioctl", ioctl)
    ql.os.set_syscall("exit_group", exit_group)
    ql.os.set_syscall("exit", exit_thread)
    ql.run()
    sys.stdout.flush()
    return (ql.os.exit_code or 0) & 0xFF


if __name__ == "__main__":
    sys.exit(main())
