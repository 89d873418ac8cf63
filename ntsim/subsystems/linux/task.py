"""The Linux view of a process and of a thread (Linux calls both *tasks*).

An NT process created for a Linux program carries a :class:`LinuxProcess` (fds, cwd,
program break, signal dispositions...) in `process.data`; each of its threads carries a
:class:`Task` in `thread.data`. Handlers receive the calling `Task`: everything a
handler needs is one attribute away, and nothing is allocated per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errno import EFAULT, LinuxError
from .fdtable import FdTable

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel
    from ...kernel.processes import Process, Thread

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
    signal_actions: dict[int, bytes] = field(default_factory=dict)   # recorded, not delivered yet
    rlimits: dict[int, tuple[int, int]] = field(default_factory=dict)
    uid: int = 0
    gid: int = 0
    warned: set[int] = field(default_factory=set)   # unsupported calls already reported


class Task:
    """One Linux thread: the NT thread plus what Linux keeps per task."""

    __slots__ = ("thread", "lx", "kernel", "nt", "memory", "cpu", "tid_address",
                 "robust_list", "signal_mask", "linux_tid")

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
        if not address:
            raise LinuxError(EFAULT, "NULL string")
        try:
            raw = self.memory.read_cstring(address, limit)
        except Exception:
            raise LinuxError(EFAULT, f"{address:#x}") from None
        return raw.decode("utf-8", "surrogateescape")

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
