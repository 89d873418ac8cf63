"""The far-call thunk: how an OS/2 program's API call reaches ntsim's call gate.

Every import the loader binds points at an entry of the process's *thunk segment*, one
8-byte stub per imported (module, ordinal):

    CD F0       INT 0F0h      trap into ntsim (the call gate)
    CA nn nn    RETF n        back to the caller, popping its n bytes of arguments
    90 90 90    padding

The program calls it as any far pascal function: arguments pushed left to right (the
first argument deepest), far pointers as selector then offset, the callee pops them,
the result in AX (0: success, else an OS/2 error code). At the trap, SS:SP holds the
caller's return address (IP, CS) and above it the arguments, last one first.

NT's own OS/2 subsystem thunked from 16-bit code into 32-bit DOSCALLS code in the same
process; the trap here plays that part. A call's number is `module << 16 | ordinal`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from unicorn.x86_const import (
    UC_X86_REG_AX,
    UC_X86_REG_CS,
    UC_X86_REG_EIP,
    UC_X86_REG_SP,
    UC_X86_REG_SS,
)

from ...kernel.status import NtStatusError
from ...trace import ArgType, Quoted, render_bytes
from ..base import Abi, Call, CallGate, ErrorMapping
from .errors import ERROR_INVALID_FUNCTION, ERROR_PROTECTION_VIOLATION, NAMES, Os2Error, from_status

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel

THUNK_VECTOR = 0xF0
THUNK_SIZE = 8
MODULES = {1: "DOSCALLS", 2: "VIOCALLS", 3: "KBDCALLS"}
MODULE_IDS = {name: number for number, name in MODULES.items()}
UNKNOWN = 0xFF            # the module id of an import by a name ntsim does not know
TILE_SHIFT = 16           # LDT entry n is at linear address n << 16 (the tiled layout)
PERSONALITY_NAME = "os2"


def number_of(module: str, ordinal: int) -> int:
    return MODULE_IDS[module] << 16 | ordinal


def tiled(selector: int, offset: int = 0) -> int:
    """The linear address of selector:offset in the tiled layout."""
    return ((selector >> 3) << TILE_SHIFT) + offset


# --- argument types: their width on the stack, and how the trace shows them ---------------


class Word(ArgType):
    size = 2

    def decode(self, value, ctx):
        return value


class Long(ArgType):
    size = 4

    def decode(self, value, ctx):
        return value


class FarPointer(ArgType):
    """selector:offset, pushed selector first (so the offset is the lower word)."""

    size = 4

    def decode(self, value, ctx):
        return f"{value >> 16:04X}:{value & 0xFFFF:04X}"


class Psz(FarPointer):
    """A far pointer to an ASCIIZ string (a path, a command line)."""

    def decode(self, value, ctx):
        if not value:
            return None
        return Quoted(ctx.process.memory.read_cstring(tiled(value >> 16, value & 0xFFFF), 260)
                      .decode("cp437"))


class FarBuffer(FarPointer):
    """A far pointer to `count` bytes (the argument named `count` says how many)."""

    def __init__(self, count: str) -> None:
        self.count = count

    def decode(self, value, ctx):
        size = ctx.raw.get(self.count, 0)
        if not value:
            return None
        return render_bytes(ctx.process.memory.read(tiled(value >> 16, value & 0xFFFF), min(size, 64)), size)


WORD, LONG, PTR, PSZ = Word(), Long(), FarPointer(), Psz()


# --- the calling thread, as the handlers see it ---------------------------------------------


class Os2Thread:
    """A guest thread's view for the handlers: its process's state (`os2`), NT services,
    and guest memory reached through selectors, each checked against the LDT (a bad
    pointer is ERROR_PROTECTION_VIOLATION, returned, not a crash)."""

    __slots__ = ("thread", "kernel", "nt", "cpu", "process", "os2", "memory")

    def __init__(self, thread: Any, kernel: Kernel, os2: Any) -> None:
        self.thread = thread
        self.kernel = kernel
        self.nt = kernel.services
        self.process = thread.process
        self.cpu = thread.process.cpu
        self.memory = thread.process.memory
        self.os2 = os2

    def linear(self, pointer: int, size: int) -> int:
        """The linear address of far pointer `pointer` (sel << 16 | off), if `size`
        bytes there lie inside a present segment of the process's LDT."""
        selector, offset = pointer >> 16, pointer & 0xFFFF
        limit = self.os2.limits.get(selector >> 3) if selector & 4 else None
        if limit is None:
            raise Os2Error(ERROR_PROTECTION_VIOLATION, f"{selector:04X}:{offset:04X}: no such segment")
        if size and offset + size - 1 > limit:
            raise Os2Error(ERROR_PROTECTION_VIOLATION,
                           f"{selector:04X}:{offset:04X}+{size}: past the segment's limit")
        return ((selector >> 3) << TILE_SHIFT) + offset

    def read(self, pointer: int, size: int) -> bytes:
        return self.read_linear(self.linear(pointer, size), size) if size else b""

    def write(self, pointer: int, data: bytes) -> None:
        if data:
            self.write_linear(self.linear(pointer, len(data)), data)

    # Every call reads its arguments and most write a result: the common case of the
    # memory manager's read and write — one page, present, private, not code — is done
    # here directly on the frame (anything else takes the memory manager's own path:
    # demand-zero, copy-on-write, code to forget).

    def read_linear(self, address: int, size: int) -> bytes:
        memory = self.memory
        offset = address & 0xFFF
        frame = memory.table.frames.get(address - offset) if offset + size <= 0x1000 else None
        if frame is None:
            return memory.read(address, size)
        start = (frame << 12) + offset          # (physical.read, inline)
        return memory.physical.bytes[start:start + size].tobytes()

    def write_linear(self, address: int, data: bytes) -> None:
        memory = self.memory
        offset = address & 0xFFF
        page = address - offset
        size = len(data)
        frame = memory.table.frames.get(page) if offset + size <= 0x1000 else None
        physical = memory.physical
        if frame is None or page in memory.shared_pages or page in memory.code_pages \
                or frame in physical.shares:        # (physical.is_shared, inline)
            memory.write(address, data)
            return
        start = (frame << 12) + offset          # (physical.write, inline)
        physical.bytes[start:start + size] = data
        memory.table.mark_accessed(page)
        if memory.table.reduced:
            memory.cpu.flush_tlb()

    def read_word(self, pointer: int) -> int:
        return struct.unpack("<H", self.read(pointer, 2))[0]

    def write_word(self, pointer: int, value: int) -> None:
        self.write(pointer, struct.pack("<H", value & 0xFFFF))

    def write_long(self, pointer: int, value: int) -> None:
        self.write(pointer, struct.pack("<I", value & 0xFFFF_FFFF))

    def read_string(self, pointer: int, limit: int = 260) -> str:
        """An ASCIIZ string (code page 437) that must end inside its segment."""
        start = self.linear(pointer, 1)
        room = self.os2.limits[pointer >> 19] - (pointer & 0xFFFF) + 1
        raw = self.memory.read_cstring(start, min(limit, room))
        if len(raw) >= min(limit, room):
            raise Os2Error(ERROR_PROTECTION_VIOLATION if room <= limit else 206,
                           "string not terminated")
        return raw.decode("cp437")


# --- the ABI and the errors --------------------------------------------------------------------


_TRAP_REGISTERS = (UC_X86_REG_EIP, UC_X86_REG_CS, UC_X86_REG_SS, UC_X86_REG_SP)   # read at once


class FarCallAbi(Abi):
    """Far pascal calls into the thunk segment (module docstring)."""

    trap = "int 0f0h"

    def __init__(self, kernel: Kernel, errors: Os2Errors) -> None:
        self.kernel = kernel
        self.errors = errors
        self._offsets: dict[int, tuple[struct.Struct, int]] = {}

    def call_number(self, cpu: Any) -> int:
        """The stub the program called: which entry of its thunk segment the INT is in."""
        os2 = self.kernel.current_thread.process.data
        read = cpu.registers.read
        slot = ((read(UC_X86_REG_EIP) & 0xFFFF) - 2) >> 3         # THUNK_SIZE 8
        if read(UC_X86_REG_CS) != os2.thunk_selector or not 0 <= slot < len(os2.thunks):
            return -1
        return os2.thunks[slot]

    def arguments(self, caller: Os2Thread, row: Call) -> list[Any]:
        layout = self._offsets.get(row.number)
        if layout is None:
            # pascal order: the last argument is nearest the return address (SP+4), the
            # first deepest; one struct reads the frame, last argument first
            widths = "".join("H" if arg.type.size == 2 else "I" for arg in reversed(row.args))
            frame = struct.Struct("<4x" + widths)
            layout = self._offsets[row.number] = (frame, frame.size)
        frame, size = layout
        read = caller.cpu.registers.read
        base = ((read(UC_X86_REG_SS) >> 3) << TILE_SHIFT) + (read(UC_X86_REG_SP) & 0xFFFF)
        values = list(frame.unpack(caller.read_linear(base, size)))
        values.reverse()
        return values

    def fast_path(self, calls: dict[int, Call]):
        """The gate's hot path (CallGate.fast_path): `call_number` and `arguments` in one
        function, the frame unpacked straight from the stack page's frame. Anything else (an
        unknown or unimplemented import, a frame across a page or on a page not yet present)
        goes the long way."""
        rows: dict[int, tuple[Call, Any, int]] = {}

        def fetch(caller: Os2Thread) -> tuple[Call, list[Any]] | None:
            os2 = caller.process.data
            eip, cs, ss, sp = caller.cpu.registers.reader(_TRAP_REGISTERS)()
            slot = ((eip & 0xFFFF) - 2) >> 3         # THUNK_SIZE 8
            if cs != os2.thunk_selector or not 0 <= slot < len(os2.thunks):
                return None
            number = os2.thunks[slot]
            entry = rows.get(number)
            if entry is None:
                row = calls.get(number)
                if row is None or row.handler is None:
                    return None
                widths = "".join("H" if arg.type.size == 2 else "I" for arg in reversed(row.args))
                frame = struct.Struct("<4x" + widths)
                entry = rows[number] = (row, frame.unpack_from, frame.size)
            row, unpack, size = entry
            base = ((ss >> 3) << TILE_SHIFT) + (sp & 0xFFFF)
            offset = base & 0xFFF
            if offset + size > 0x1000:
                return None
            memory = caller.memory
            frame = memory.table.frames.get(base - offset)
            if frame is None:
                return None
            values = list(unpack(memory.physical.bytes, (frame << 12) + offset))
            values.reverse()
            return row, values

        return fetch

    def return_to_guest(self, caller: Os2Thread, row: Call | None, result: Any, trap: Any,
                        interrupted: bool = False) -> None:
        if row is None or row.handler is None:
            # An import ntsim does not implement: the program stops (the gate has said why)
            name = self.errors.unknown_name(self.call_number(caller.cpu)) if row is None else row.name
            # (the gate has said so on stderr: the exit keeps the reason for the trace only)
            caller.process.exit_reason = f"called {name}, which ntsim does not implement"
            caller.kernel.terminate_process(caller.process, 125)
            return
        if result is not None and caller.process.exit_status is None:
            caller.cpu.registers.write(UC_X86_REG_AX, result & 0xFFFF)

    def restart(self, caller: Os2Thread) -> None:
        caller.cpu.pc -= 2                       # back onto the INT 0F0h


class Os2Errors(ErrorMapping):
    failures = (Os2Error, NtStatusError)
    not_implemented = ERROR_INVALID_FUNCTION
    not_implemented_name = "not implemented"

    def __init__(self) -> None:
        self.labels: dict[int, str] = {}        # numbers of imports by unknown names

    def result_of(self, failure: BaseException) -> int:
        if isinstance(failure, Os2Error):
            return failure.code
        return from_status(failure.status)

    def describe(self, result: Any) -> tuple[Any, str | None]:
        if result is None:
            return None, None
        return result, None if result == 0 else NAMES.get(result, f"error {result}")

    def unknown_name(self, number: int) -> str:
        if number in self.labels:
            return self.labels[number]
        module = MODULES.get(number >> 16)
        return f"{module}.{number & 0xFFFF}" if module else f"thunk_{number:#x}"

    def warning(self, process: Any, number: int, name: str, note: str) -> str:
        return (f"{process.name} (pid {process.pid}) called {name}, which ntsim does not "
                f"implement{': ' + note if note else ''}; the program stops")


def make_gate(kernel: Kernel, table: list[Call], errors: Os2Errors, interceptors: Any = None) -> CallGate:
    return CallGate(kernel, PERSONALITY_NAME, table, FarCallAbi(kernel, errors), errors, interceptors)
