"""The quantum: how the dispatcher takes the processor back from a thread that computes.

NT preempts a thread when its quantum runs out: the clock interrupt charges the running
thread (KiDecrementQuantum) and, at zero, the dispatcher picks the next one. A processor
emulated by unicorn has no clock interrupt, and it cannot be stopped from another host
thread at an arbitrary moment: unicorn 2.1 checks its exit request after every guest
load and store as well as at the start of each translated block, and an exit taken after
a store restarts the instruction, so `add [m], 1` whose store had happened would run
twice. The only safe moments are inside the emulating thread, between instructions.

`QuantumCounter` is the clock interrupt of this model: a block hook that counts down the
thread's quantum in translated blocks and, at zero, stops the processor. unicorn calls a
block hook *before* the block's own exit check, so the stop is taken before the block's
first instruction — the cleanest point there is. Its cost is what makes it usable:

- unicorn's instruction count (`emu_start(count=N)`) is a hook on every instruction:
  a compute loop runs ~45x slower;
- a Python block hook pays for the Python call on every block: ~120x slower;
- this hook is 18 bytes of native code, called directly by unicorn: one helper call per
  block (~5 ns), and no cost at all while it is not installed.

The native routine (x86-64, System V calling convention: rdi = uc, rcx = user data):

    cmpb $0, 8(%rcx)      ; another host thread asked for the processor (stop_now)?
    jne  stop
    subq $1, (%rcx)       ; blocks_left -= 1
    jle  stop
    ret
stop:
    jmp  *16(%rcx)        ; uc_emu_stop(uc): a tail call, rdi still holds uc

On another host (or where no executable page can be made) `available()` is False and the
dispatcher falls back to unicorn's instruction count: slow, but the same guarantees.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import sys

import unicorn

_X86_64_SYSV_ROUTINE = bytes.fromhex("80790800" "7507" "48832901" "7e01" "c3" "ff6110")


class _Budget(ctypes.Structure):
    """What the native routine reads: its user data."""

    _fields_ = [("blocks_left", ctypes.c_int64),
                ("stop_now", ctypes.c_uint8),
                ("emu_stop", ctypes.c_void_p)]


@functools.cache
def _native_routine() -> tuple[ctypes.CDLL, int] | None:
    """unicorn's library and the address of the routine, made once per host process;
    None where it cannot run."""
    if sys.platform == "win32" or os.uname().machine not in ("x86_64", "amd64"):
        return None
    try:
        from unicorn.unicorn_py3 import unicorn as binding

        library = ctypes.CDLL(binding.uclib._name)
        page = mmap.mmap(-1, mmap.PAGESIZE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    page.write(_X86_64_SYSV_ROUTINE)
    _pages.append(page)                      # kept mapped for the life of the process
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    library.uc_hook_add.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_uint64, ctypes.c_uint64]
    library.uc_hook_del.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return library, address


_pages: list[mmap.mmap] = []


def available() -> bool:
    return _native_routine() is not None


class QuantumCounter:
    """The countdown hook of one processor. While `installed`, code unicorn translates
    counts its blocks; code translated before `install` does not (the caller flushes)."""

    def __init__(self, uc: unicorn.Uc) -> None:
        library, self._routine = _native_routine()
        self._library, self._uc = library, uc
        self._budget = _Budget(0, 0, ctypes.cast(library.uc_emu_stop, ctypes.c_void_p).value)
        self._handle: int | None = None

    @property
    def installed(self) -> bool:
        return self._handle is not None

    def install(self) -> None:
        if self._handle is None:
            handle = ctypes.c_size_t()
            error = self._library.uc_hook_add(self._uc._uch, ctypes.byref(handle),
                                              unicorn.UC_HOOK_BLOCK, self._routine,
                                              ctypes.addressof(self._budget), 1, 0)
            if error:
                raise unicorn.UcError(error)
            self._handle = handle.value

    def remove(self) -> None:
        if self._handle is not None:
            self._library.uc_hook_del(self._uc._uch, self._handle)
            self._handle = None

    def arm(self, blocks: int) -> None:
        """The next run stops at the start of its `blocks`-th block, before running it."""
        self._budget.stop_now = 0
        self._budget.blocks_left = blocks

    @property
    def blocks_left(self) -> int:
        return self._budget.blocks_left

    def ran_out(self) -> bool:
        """Did the last run stop because its budget of blocks was spent?"""
        return self._budget.blocks_left <= 0

    def taken(self) -> bool:
        """Did another host thread take the processor (take_processor)?"""
        return bool(self._budget.stop_now)

    def take_processor(self) -> None:
        """From any host thread: stop at the next block the hook is in. Safe, unlike
        uc_emu_stop from outside: the stop happens in the emulating thread, at a block's
        start."""
        self._budget.stop_now = 1
