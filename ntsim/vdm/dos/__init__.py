"""DOS: the INT 21h services of the virtual machine, split by concern as a DOS kernel is.

    console.py      01-0C  characters and lines on CON
    files.py        3C-46, 56, 57, 5A, 5B, 68, 6C  handles: the job file table in each
                    PSP, the system file table here, files on C: through Nt* calls
    directories.py  39-3B, 47, 4E, 4F, 1A, 2F, 0E, 19, 36  directories, searches, drives
    memory.py       48, 49, 4A, 58  the MCB chain in conventional memory
    process.py      00, 31, 4B, 4C, 4D, 50, 51, 62, INT 20h/27h  loading, EXEC, exit
    system.py       25, 35, 2A-2D, 30, 33, 37, 38, 29, 34, 52, 59, 63, 65, 66  the rest
    names.py        8.3 names and paths on C:

`Dos` holds DOS's state (the current PSP, the DTA, the system file table, the current
directory...). Guest-visible structures — the PSP, the job file table, the MCBs, the
environment, the DTA — live in guest memory where programs look for them.
"""

from __future__ import annotations

from typing import Any

from ...subsystems.base import Call
from . import console, directories, files, memory, process, system


class Dos:
    """DOS's own state for one virtual machine."""

    def __init__(self, vm: Any) -> None:
        self.vm = vm
        self.psp = 0                       # the current program's PSP segment
        self.dta = (0, 0x80)               # the disk transfer area (segment, offset)
        self.sft: list[files.OpenFile | None] = []   # the system file table
        self.cwd = ""                      # C:'s current directory ("" = the root)
        self.verify = False
        self.break_check = False
        self.switch_character = ord("/")
        self.strategy = 0                  # AH=58h: first fit
        self.last_error = 0                # AH=59h
        self.return_code = 0               # AH=4Dh: the last child's code and how it ended
        self.clock_offset = 0.0            # AH=2Bh/2Dh set the VM's clock, not the host's
        self.searches: dict[int, list[Any]] = {}   # find-first state, by the id in the DTA
        self.next_search = 1
        self.parents: list[process.SavedParent] = []   # programs waiting in EXEC
        self.console_input = b""           # what a CON read got beyond what was asked


def int21_rows() -> list[Call]:
    """The INT 21h table: one row per AH, from every topic's rows."""
    rows = [*console.ROWS, *files.ROWS, *directories.ROWS, *memory.ROWS, *process.ROWS,
            *system.ROWS]
    return sorted(rows, key=lambda row: row.number)
