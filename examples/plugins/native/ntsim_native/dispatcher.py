"""The `syscall` trap: from a guest's registers to a row's handler and back.

The trap path is ntsim's call gate (`ntsim.subsystems.base.CallGate`), the one every
personality uses; this module gives it what is native about it — the ABI and the errors:
  1. the CPU traps on `syscall`; EAX holds the service number;
  2. the row's arguments are fetched: R10, RDX, R8, R9, then the stack from RSP+0x28;
  3. the handler runs with the calling thread and the raw arguments; it returns an
     NTSTATUS, or raises NtStatusError (its status is the result), or WaitPending (the
     thread parks on kernel objects and the call finishes when they are signalled);
  4. the NTSTATUS goes into RAX and the guest resumes after the `syscall`.

A number with no row returns STATUS_NOT_IMPLEMENTED, with a warning on stderr the first
time a process uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unicorn.x86_const import (
    UC_X86_REG_R8,
    UC_X86_REG_R9,
    UC_X86_REG_R10,
    UC_X86_REG_RAX,
    UC_X86_REG_RDX,
    UC_X86_REG_RSP,
)

from ntsim.kernel.status import (
    NTSTATUS,
    STATUS_ACCESS_VIOLATION,
    STATUS_NOT_IMPLEMENTED,
    NtStatusError,
    nt_success,
)
from ntsim.subsystems.base import CallGate, ErrorMapping, RegisterAbi

from .services import TABLE

if TYPE_CHECKING:
    from ntsim.kernel.kernel import Kernel
    from ntsim.kernel.processes import Thread

REGISTER_ARGUMENTS = (UC_X86_REG_R10, UC_X86_REG_RDX, UC_X86_REG_R8, UC_X86_REG_R9)
# At `syscall`: [rsp] the stub's return address, [rsp+0x08..0x27] the four home slots.
STACK_ARGUMENTS = 0x28
PERSONALITY_NAME = "native"


class NativeProcess:
    """What the personality keeps per process."""

    def __init__(self, image: Any) -> None:
        self.image = image


class NativeThread:
    """The calling thread as the handlers see it: its NT services, and guest memory read
    and written as the kernel does for a user-mode caller (a bad pointer is
    STATUS_ACCESS_VIOLATION, returned, not a crash)."""

    __slots__ = ("thread", "kernel", "nt", "memory", "cpu", "native")

    def __init__(self, thread: Thread, kernel: Kernel, native: NativeProcess) -> None:
        self.thread = thread
        self.kernel = kernel
        self.nt = kernel.services
        self.memory = thread.process.memory
        self.cpu = thread.process.cpu
        self.native = native

    def read(self, address: int, size: int) -> bytes:
        if size and not address:
            raise NtStatusError(STATUS_ACCESS_VIOLATION, "NULL pointer")
        try:
            return self.memory.read(address, size)
        except Exception:
            raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{address:#x}") from None

    def write(self, address: int, data: bytes) -> None:
        self.probe_for_write(address, len(data))
        self.memory.write(address, data)

    def probe_for_write(self, address: int, size: int) -> None:
        """ProbeForWrite, reduced: the range must be committed memory."""
        self.read(address, size)

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def write_io_status(self, address: int, status: int, information: int) -> None:
        """IO_STATUS_BLOCK: { NTSTATUS Status (in a pointer-sized union); ULONG_PTR Information }."""
        self.write(address, int(status).to_bytes(8, "little") + information.to_bytes(8, "little"))


class NativeAbi(RegisterAbi):
    """NT's x64 system-service convention: EAX the number; R10, RDX, R8, R9, then the
    stack from RSP+0x28; the NTSTATUS back in RAX."""

    def __init__(self) -> None:
        super().__init__(UC_X86_REG_RAX, REGISTER_ARGUMENTS, UC_X86_REG_RAX,
                         number_mask=0xFFFF_FFFF, stack_pointer=UC_X86_REG_RSP,
                         stack_offset=STACK_ARGUMENTS, trap="syscall")


class NativeErrors(ErrorMapping):
    """A service fails with an NTSTATUS: NtStatusError carries it to the guest as is."""

    failures = (NtStatusError,)
    not_implemented = STATUS_NOT_IMPLEMENTED

    def result_of(self, failure: BaseException) -> NTSTATUS:
        return failure.status

    def describe(self, result: Any) -> tuple[Any, str | None]:
        if result is None:
            return None, None
        status = NTSTATUS(int(result))       # shown by name
        return status, None if nt_success(status) else status.name

    def unknown_name(self, number: int) -> str:
        return f"service_{number:#x}"

    def warning(self, process: Any, number: int, name: str, note: str) -> str:
        return (f"{process.name} (pid {process.pid}) called system service {number:#x}, which "
                "is not implemented: returns STATUS_NOT_IMPLEMENTED")


def make_gate(kernel: Kernel, interceptors: Any = None) -> CallGate:
    """The `syscall` trap of each native process: ntsim's one call gate, given this
    personality's table, ABI and errors."""
    return CallGate(kernel, PERSONALITY_NAME, TABLE, NativeAbi(), NativeErrors(), interceptors)
