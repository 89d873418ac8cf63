"""The Native subsystem, as an ntsim plug-in personality.

NT's "native" programs (PE subsystem 1, IMAGE_SUBSYSTEM_NATIVE: smss.exe, autochk.exe)
belong to no environment subsystem: they call the NT system services directly, through
ntdll.dll's stubs, each a `mov r10, rcx; mov eax, <number>; syscall; ret`. This plug-in
runs such programs — flat x86-64 code in a tiny image format of its own (`image.py`) —
and gives them a handful of services (`services.py`), each translated onto ntsim's
Nt* services. It is also the smallest example of the personality contract
(`ntsim.subsystems.base.Personality`), and uses nothing of ntsim but its public objects.

Reading order: `image.py` (the format), `services.py` (the table and the handlers),
`dispatcher.py` (its ABI and errors for ntsim's call gate), then this file (a process for an image, and faults).
"""

from __future__ import annotations

import os
from typing import Any

from ntsim.kernel.cpu import Fault
from ntsim.kernel.memory import (
    MEM_COMMIT,
    MEM_RESERVE,
    PAGE_EXECUTE_READWRITE,
    PAGE_READWRITE,
    page_ceil,
)
from ntsim.kernel.processes import Process, Thread
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    NTSTATUS,
    STATUS_ACCESS_VIOLATION,
    STATUS_ILLEGAL_INSTRUCTION,
    STATUS_INTEGER_DIVIDE_BY_ZERO,
    NtStatusError,
)
from ntsim.subsystems.base import CallRow, ImageError, ImageInfo, Personality
from ntsim.trace import PERSONALITY, Quoted

from . import image as native_image
from .dispatcher import PERSONALITY_NAME, NativeProcess, NativeThread, make_gate
from .services import call_rows

__all__ = ["NativePersonality"]

STACK_SIZE = 0x10_0000          # 1 MiB, a PE's default SizeOfStackReserve (all committed here)
STATUS_BREAKPOINT = NTSTATUS(0x80000003, "STATUS_BREAKPOINT")
STATUS_SINGLE_STEP = NTSTATUS(0x80000004, "STATUS_SINGLE_STEP")

# CPU exceptions (interrupt vectors) as the NTSTATUS exception codes NT raises for them.
EXCEPTIONS = {
    0: (STATUS_INTEGER_DIVIDE_BY_ZERO, "integer divide by zero"),
    1: (STATUS_SINGLE_STEP, "single step"),
    3: (STATUS_BREAKPOINT, "breakpoint (int3)"),
    6: (STATUS_ILLEGAL_INSTRUCTION, "invalid opcode"),
    13: (STATUS_ACCESS_VIOLATION, "general protection fault"),
    0x2E: (STATUS_ILLEGAL_INSTRUCTION, "int 0x2e, the 32-bit system-service gate: use syscall"),
}


class NativePersonality(Personality):
    name = PERSONALITY_NAME
    description = "flat x86-64 programs that call Nt* services with syscall (PE subsystem 1)"

    def __init__(self) -> None:
        self._kernel: Any = None
        self._gate: Any = None            # the call gate every process's `syscall` enters

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        return header[:len(native_image.MAGIC)] == native_image.MAGIC

    def describe(self, data: bytes) -> ImageInfo:
        parsed = native_image.parse(data)
        return ImageInfo("NTNATIVE flat image", "x86-64", parsed.entry, self.name, {
            "base": hex(native_image.IMAGE_BASE),
            "size": f"{len(parsed.data)} bytes (header {native_image.HEADER_SIZE})",
            "subsystem": "native (IMAGE_SUBSYSTEM_NATIVE, 1): Nt* services via syscall",
        })

    def call_table(self) -> list[CallRow]:
        return call_rows()

    # --- processes --------------------------------------------------------------------------

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        """Map the image at its base, give it a stack, start its one thread at the entry.

        No PEB and no process parameters: `argv` and `env` do not reach the program (RCX,
        which holds the PEB's address at a real native entry point, is 0)."""
        parsed = native_image.parse(image)    # refuse a bad image before making a process
        kernel = machine.kernel
        self._kernel = kernel
        process = kernel.create_process(os.path.basename(guest_path) or "native", personality=self,
                                        parent=parent, image_path=guest_path,
                                        architecture="x86-64")
        thread = kernel.create_thread(process)
        caller = kernel.current_thread
        kernel.current_thread = thread          # the loader works inside the new process
        tracer = kernel.tracer
        event = tracer.open(thread, PERSONALITY, "LoadImage", decoded={
            "ImagePath": Quoted(guest_path), "ImageBase": hex(native_image.IMAGE_BASE),
            "EntryPoint": hex(parsed.entry)}) if tracer.enabled else None
        try:
            nt = kernel.services
            nt.NtAllocateVirtualMemory(NtCurrentProcess, native_image.IMAGE_BASE,
                                       page_ceil(len(parsed.data)), MEM_RESERVE | MEM_COMMIT,
                                       PAGE_EXECUTE_READWRITE, tag="image")
            process.memory.write(native_image.IMAGE_BASE, parsed.data)
            stack, size = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, STACK_SIZE,
                                                     MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE,
                                                     tag="stack")
            # RSP = 8 mod 16, as just after a call; the "return address" is 0, so a program
            # that returns from its entry point faults there (see on_fault).
            rsp = stack + size - 8
            process.memory.write_u64(rsp, 0)
        except NtStatusError as error:
            if event is not None:
                tracer.close(thread, event, error.status, error.status.name)
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            raise ImageError(f"cannot load {guest_path}: {error}") from None
        if event is not None:
            tracer.close(thread, event, 0)
        kernel.current_thread = caller
        native = NativeProcess(parsed)
        process.data = native
        thread.data = NativeThread(thread, kernel, native)
        cpu = process.cpu
        cpu.write_register("rsp", rsp)
        cpu.write_register("rcx", 0)
        cpu.pc = parsed.entry
        cpu.loaded_thread = thread
        if self._gate is None:
            self._gate = make_gate(kernel, getattr(machine, "interceptors", None))
        cpu.hook_syscall(self._gate.on_trap)
        cpu.hook_interrupt(self._on_interrupt)
        kernel.start_thread(thread)
        return process

    # --- faults: an unhandled exception ends the process with its exception code ----------

    def _on_interrupt(self, uc, number: int, _data) -> None:
        thread = self._kernel.current_thread
        status, what = EXCEPTIONS.get(number, (STATUS_ACCESS_VIOLATION, f"interrupt {number:#x}"))
        self.raise_exception(thread, status, f"{what} at {thread.process.cpu.pc:#x}")

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        if fault.kind == "invalid-instruction":
            self.raise_exception(thread, STATUS_ILLEGAL_INSTRUCTION,
                                 f"invalid instruction at {fault.pc:#x}")
        elif fault.kind == "fetch" and fault.address == 0:
            self.raise_exception(thread, STATUS_ACCESS_VIOLATION,
                                 "returned from the entry point (end with NtTerminateProcess)")
        else:
            self.raise_exception(thread, STATUS_ACCESS_VIOLATION,
                                 f"{fault.kind} at {fault.address:#x} (pc {fault.pc:#x})")

    def raise_exception(self, thread: Thread, status: NTSTATUS, detail: str) -> None:
        """No exception dispatching (no ntdll, no handlers): the process ends, and its
        exit status is the exception code, as for an unhandled exception on Windows."""
        kernel = self._kernel
        if kernel.tracer.enabled:
            kernel.tracer.note(thread, PERSONALITY, f"--- {status.name} ---", {"detail": detail})
        kernel.terminate_process(thread.process, int(status),
                                 note=f"unhandled exception {status.name}: {detail}")
