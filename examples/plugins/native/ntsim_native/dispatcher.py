"""The `syscall` trap: from a guest's registers to a row's handler and back.

The trap path, in order (read `on_syscall`):
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

import sys
from typing import TYPE_CHECKING, Any

from unicorn.x86_const import (
    UC_X86_REG_R8,
    UC_X86_REG_R9,
    UC_X86_REG_R10,
    UC_X86_REG_RAX,
    UC_X86_REG_RDX,
    UC_X86_REG_RSP,
)

from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.status import (
    NTSTATUS,
    STATUS_ACCESS_VIOLATION,
    STATUS_NOT_IMPLEMENTED,
    NtStatusError,
    nt_success,
)
from ntsim.trace import PERSONALITY

from .services import BY_NUMBER, Service

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
        self.warned: set[int] = set()    # unknown service numbers already reported


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


class _NoInterceptors:
    active = False


class NativeDispatcher:
    """Installed as the `syscall` hook on each native process's CPU."""

    def __init__(self, kernel: Kernel, interceptors: Any = None) -> None:
        self.kernel = kernel
        # the Python API's before / instead / after hooks and call breakpoints
        self.interceptors = interceptors if interceptors is not None else _NoInterceptors()

    def on_syscall(self, uc, _user_data) -> None:
        """The `syscall` trap."""
        kernel = self.kernel
        caller: NativeThread = kernel.current_thread.data
        number = caller.cpu.registers.read(UC_X86_REG_RAX) & 0xFFFF_FFFF    # EAX
        if kernel.deterministic:
            kernel.clock.advance(1_000)
        row = BY_NUMBER.get(number)
        if row is None:
            self._unknown(caller, number)
            return
        try:
            args = self._arguments(caller, row)
        except NtStatusError as error:          # the stack arguments are unreadable
            self._finish(caller, error.status, None)
            return
        if kernel.tracer.enabled or self.interceptors.active:
            self._traced(caller, row, args)
            return
        try:
            status = row.handler(caller, *args)
        except NtStatusError as error:
            status = error.status
        except WaitPending as pending:
            self._park(caller, row, pending, None)
            return
        self._finish(caller, status, None)

    def _arguments(self, caller: NativeThread, row: Service) -> list[int]:
        """R10, RDX, R8, R9, then [RSP+0x28], [RSP+0x30], ..."""
        read = caller.cpu.registers.read
        count = len(row.args)
        args = [read(register) for register in REGISTER_ARGUMENTS[:count]]
        if count > len(REGISTER_ARGUMENTS):
            rsp = read(UC_X86_REG_RSP)
            args += [caller.read_u64(rsp + STACK_ARGUMENTS + 8 * index)
                     for index in range(count - len(REGISTER_ARGUMENTS))]
        return args

    def _unknown(self, caller: NativeThread, number: int) -> None:
        """No row: fail loudly, once per process and number, and go on."""
        process = caller.thread.process
        if number not in caller.native.warned:
            caller.native.warned.add(number)
            print(f"ntsim: {PERSONALITY_NAME}: {process.name} (pid {process.pid}) called system "
                  f"service {number:#x}, which is not implemented: returns STATUS_NOT_IMPLEMENTED",
                  file=sys.stderr)
        tracer = self.kernel.tracer
        if tracer.enabled:
            event = tracer.open(caller.thread, PERSONALITY, f"service_{number:#x}", decoded={})
            tracer.close(caller.thread, event, STATUS_NOT_IMPLEMENTED, STATUS_NOT_IMPLEMENTED.name)
        caller.cpu.registers.write(UC_X86_REG_RAX, STATUS_NOT_IMPLEMENTED)

    def _traced(self, caller: NativeThread, row: Service, args: list[int]) -> None:
        """The same call, with a trace event and the API's interception points."""
        tracer = self.kernel.tracer
        raw = dict(zip(row.names, args, strict=True))
        handler = row.handler
        interceptors = self.interceptors
        if interceptors.active:
            if interceptors.stop_before(caller, row, raw):
                # A call breakpoint: stop before the call; it runs when resumed.
                caller.cpu.resume_after_syscall_at(caller.cpu.pc)
                caller.cpu.request_stop("breakpoint")
                return
            handler = interceptors.wrap(row, handler)
        event = tracer.open(caller.thread, PERSONALITY, row.name, raw, row.args) \
            if tracer.enabled else None
        try:
            status = handler(caller, *args)
        except NtStatusError as error:
            status = error.status
        except WaitPending as pending:
            if event is not None:
                tracer.suspend(caller.thread, event)
            self._park(caller, row, pending, event)
            return
        self._finish(caller, status, event)

    def _finish(self, caller: NativeThread, status: Any, event: Any) -> None:
        """The NTSTATUS into RAX (unless the call ended the process)."""
        if status is not None:
            status = NTSTATUS(int(status))
        if event is not None:
            failed = status is not None and not nt_success(status)
            self.kernel.tracer.close(caller.thread, event, status, status.name if failed else None)
        if status is not None and caller.thread.process.alive:
            caller.cpu.registers.write(UC_X86_REG_RAX, status)

    def _park(self, caller: NativeThread, row: Service, pending: WaitPending, event: Any) -> None:
        """The call must wait: park the thread; finish the call when it is woken."""

        def on_wake(wait_status: int) -> None:
            if event is not None:
                self.kernel.tracer.resume(caller.thread, event)
            try:
                status = pending.complete(wait_status)
            except NtStatusError as error:
                status = error.status
            except WaitPending as again:
                if event is not None:
                    self.kernel.tracer.suspend(caller.thread, event)
                self._park(caller, row, again, event)
                return
            self._finish(caller, status, event)

        self.kernel.dispatcher.park(caller.thread, pending, on_wake)
        caller.cpu.request_stop()   # even if the wait is already satisfied: on_wake runs first
