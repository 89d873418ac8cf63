"""How a BIOS or DOS service is called: the VDM's side of the shared call gate.

Every service interrupt (INT 10h, 16h, 1Ah, 21h...) is one CallGate whose rows are
numbered by AH, as the BIOS and DOS number their functions. A row's arguments are named
after the registers they are in (`("dx", ...)`), so the ABI reads exactly those, and
the trace shows them by register. A handler returns what the trace shows as the result
and writes its output registers itself (DOS returns in AX, BX, CX, DX... as each
function documents); the ABI clears CF on success. A failure raises DosError: AX gets
the DOS error code and CF is set, as every DOS 2+ function reports an error.
"""

from __future__ import annotations

from typing import Any

from unicorn.x86_const import UC_X86_REG_AH

from ..kernel.cpu import REGISTERS
from ..kernel.status import NtStatusError
from ..subsystems.base import Abi, Call, CallGate, ErrorMapping
from ..trace import VM, ArgType
from .machine import BYTE_REGISTERS, CARRY

# DOS error codes (INT 21h AH=59h lists the same numbers)
ERROR_INVALID_FUNCTION = 0x01
ERROR_FILE_NOT_FOUND = 0x02
ERROR_PATH_NOT_FOUND = 0x03
ERROR_TOO_MANY_OPEN_FILES = 0x04
ERROR_ACCESS_DENIED = 0x05
ERROR_INVALID_HANDLE = 0x06
ERROR_ARENA_TRASHED = 0x07
ERROR_NOT_ENOUGH_MEMORY = 0x08
ERROR_INVALID_BLOCK = 0x09
ERROR_BAD_ENVIRONMENT = 0x0A
ERROR_BAD_FORMAT = 0x0B
ERROR_INVALID_ACCESS = 0x0C
ERROR_INVALID_DATA = 0x0D
ERROR_INVALID_DRIVE = 0x0F
ERROR_CURRENT_DIRECTORY = 0x10
ERROR_NOT_SAME_DEVICE = 0x11
ERROR_NO_MORE_FILES = 0x12
ERROR_FILE_EXISTS = 0x50

ERROR_NAMES = {
    0x01: "invalid function", 0x02: "file not found", 0x03: "path not found",
    0x04: "too many open files", 0x05: "access denied", 0x06: "invalid handle",
    0x07: "memory control blocks destroyed", 0x08: "insufficient memory",
    0x09: "invalid memory block address", 0x0A: "invalid environment", 0x0B: "invalid format",
    0x0C: "invalid access code", 0x0D: "invalid data", 0x0F: "invalid drive",
    0x10: "attempt to remove the current directory", 0x11: "not the same device",
    0x12: "no more files", 0x50: "file exists",
}


class DosError(Exception):
    """A DOS function failed with `code` (AX, CF set)."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(detail or ERROR_NAMES.get(code, f"error {code:#x}"))
        self.code = code


class Failed(int):
    """The result of a failed call: AX = the code, CF = 1."""


class Flagged(int):
    """The result of a call that set its own result flags (ZF for "no key waiting", CF
    for a BIOS status): the ABI leaves them as they are."""


class Reg(ArgType):
    """A register's value, shown in hex as DEBUG shows it."""

    def __init__(self, width: int = 4) -> None:
        self.width = width

    def decode(self, value, ctx):
        return f"{int(value):0{self.width}X}h"


class DosErrors(ErrorMapping):
    # an Nt* call that fails where the handler did not expect it (the console's output
    # closed: STATUS_PIPE_BROKEN) fails the DOS call with the nearest DOS error
    failures = (DosError, NtStatusError)
    not_implemented = Failed(ERROR_INVALID_FUNCTION)
    not_implemented_name = "not implemented in ntsim's VDM"

    def __init__(self, service: str) -> None:
        self.service = service

    def result_of(self, failure: BaseException) -> Any:
        if isinstance(failure, NtStatusError):
            from .dos.files import dos_error

            return Failed(dos_error(failure))
        return Failed(failure.code)

    def describe(self, result: Any) -> tuple[Any, str | None]:
        if isinstance(result, Failed):
            return int(result), ERROR_NAMES.get(int(result), f"error {int(result):#x}")
        return result, None

    def unknown_name(self, number: int) -> str:
        return f"{self.service} AH={number:02X}h"

    def warning(self, process: Any, number: int, name: str, note: str) -> str:
        called = f"{self.service} AH={number:02X}h"
        if name != called:
            called += f" ({name})"
        return (f"{called} is not implemented: it fails with CF set and AX=1 (invalid function)"
                + (f": {note}" if note else ""))


class ServiceAbi(Abi):
    """AH selects the function; each argument is the register it is named after; the
    result goes back as AX/CF (an error) or CF clear (success)."""

    trap = "int"

    def __init__(self, service: str) -> None:
        self.service = service
        self._registers: dict[int, tuple[tuple[int, int], ...]] = {}   # id(row) -> (register, mask)

    def call_number(self, cpu: Any) -> int:
        return cpu.registers.read(UC_X86_REG_AH) & 0xFF

    def arguments(self, caller: Any, row: Call) -> list[Any]:
        registers = self._registers.get(id(row))
        if registers is None:
            registers = self._registers[id(row)] = tuple(
                (REGISTERS[name], 0xFF if name in BYTE_REGISTERS else 0xFFFF) for name in row.names)
        read = caller.read_register
        return [read(register) & mask for register, mask in registers]

    def return_to_guest(self, caller: Any, row: Call | None, result: Any, trap: Any,
                        interrupted: bool = False) -> None:
        if result is not None and caller.process.alive:
            if type(result) is Failed:
                caller.set(ax=int(result))
                caller.set_flag(CARRY, True)
                caller.dos_last_error(int(result))
            elif type(result) is not Flagged:
                caller.set_flag(CARRY, False)
        if trap is None:
            caller.via_stub = False       # a call that waited is over (see machine.on_interrupt)

    def restart(self, caller: Any) -> None:
        caller.cpu.restart_trap()


class SingleAbi(ServiceAbi):
    """A service interrupt with one entry point (INT 11h, 20h...): every call is row 0."""

    def call_number(self, cpu: Any) -> int:
        return 0


def make_gate(kernel: Any, service: str, rows: list[Call], interceptors: Any, *,
              single: bool = False) -> CallGate:
    """The gate of one service interrupt; `single`: it has one entry point, not AH."""
    abi = SingleAbi(service) if single else ServiceAbi(service)
    return CallGate(kernel, "vdm", rows, abi, DosErrors(service), interceptors, layer=VM)

