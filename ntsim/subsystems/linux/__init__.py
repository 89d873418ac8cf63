"""LXSS: the WSL1 idea. x86-64 Linux programs as pico processes on the NT kernel.

A pico process has no NT DLLs in it and an address space its provider manages. Its
`syscall` instruction traps into the kernel, where this provider decodes the Linux call
and performs it with Nt* services directly — no LPC, no server process on the way.

Reading order for a student: `syscalls.py` (the table and the trap path), then the
handlers by topic — `files.py`, `memory.py`, `process.py`, `time.py`, `signals.py` —
then `elf.py` (how a program is loaded) and `lxfs.py` (Linux paths on the NT volume).
"""

from __future__ import annotations

import os
from typing import Any

from ...kernel.cpu import Fault
from ...kernel.io import FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA, SYNCHRONIZE
from ...kernel.memory import page_ceil
from ...kernel.processes import Process, Thread
from ...kernel.status import NtStatusError
from ...trace import PERSONALITY, Quoted
from ..base import ImageError, ImageInfo, Personality
from . import elf
from .fdtable import O_RDONLY, O_WRONLY, FdEntry, OpenFile
from .lxfs import nt_name
from .process import host_ids
from .syscalls import SyscallDispatcher, call_rows
from .task import LinuxProcess, Task

SIGNAL_NAMES = {4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV", 13: "SIGPIPE",
                31: "SIGSYS"}
SIGILL, SIGTRAP, SIGFPE, SIGSEGV, SIGSYS = 4, 5, 8, 11, 31


class LinuxPersonality(Personality):
    name = "lxss"
    description = "x86-64 Linux ELF programs as pico processes (the WSL1 design)"

    def __init__(self) -> None:
        self.dispatchers: dict[int, SyscallDispatcher] = {}
        self._kernel = None

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        return header[:4] == elf.ELF_MAGIC

    def describe(self, data: bytes) -> ImageInfo:
        parsed = elf.parse(data)
        kind = parsed["e_type"]
        interpreter = elf.interpreter_of(data)
        segments = [
            {"type": s["p_type"], "vaddr": hex(s["p_vaddr"]), "memsz": hex(s["p_memsz"]),
             "flags": "".join(f for f, bit in (("R", 4), ("W", 2), ("X", 1)) if s["p_flags"] & bit)}
            for s in parsed.iter_segments() if s["p_type"] in ("PT_LOAD", "PT_INTERP", "PT_TLS", "PT_GNU_STACK")]
        linkage = ("dynamic (interpreter " + interpreter + ")" if interpreter
                   else "static-pie" if kind == "ET_DYN" else "static")
        return ImageInfo("ELF64 " + {"ET_EXEC": "executable", "ET_DYN": "shared object / PIE"}.get(kind, kind),
                         "x86-64", parsed["e_entry"], self.name,
                         {"linkage": linkage, "interpreter": interpreter or "none", "segments": segments})

    def call_table(self):
        return call_rows()

    # --- processes --------------------------------------------------------------------------

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        """execve's work for a new pico process: map the program (and its interpreter),
        open the standard streams on the console, lay out the stack, start a thread."""
        kernel = machine.kernel
        self._kernel = kernel
        elf.parse(image)                       # refuse a bad image before making a process
        process = kernel.create_process(os.path.basename(guest_path) or "a.out", personality=self,
                                        parent=parent, image_path=guest_path, architecture="x86-64")
        process.memory.highest = elf.STACK_TOP - 1     # Linux's TASK_SIZE, not NT's 8 TB
        thread = kernel.create_thread(process)
        caller = kernel.current_thread
        kernel.current_thread = thread         # the loader works inside the new process
        tracer = kernel.tracer
        event = tracer.open(thread, PERSONALITY, "execve", decoded={
            "pathname": Quoted(guest_path), "argv": argv}) if tracer.enabled else None
        try:
            uid, gid = host_ids()
            lx = LinuxProcess(process, exe=guest_path, argv=list(argv), env=list(env), uid=uid, gid=gid)
            process.data = lx
            task = Task(thread, lx, kernel)
            thread.data = task
            loaded = elf.map_image(kernel.services, image, elf.PIE_BASE)
            if loaded.interpreter:
                self._load_interpreter(kernel, loaded)
            lx.brk_start = lx.brk = page_ceil(loaded.brk)
            self._open_standard_streams(kernel, lx)
            stack = elf.build_stack(kernel.services, loaded, argv, env, guest_path,
                                    kernel.random_bytes(16), (uid, uid, gid, gid))
        except NtStatusError as error:
            if event is not None:
                tracer.close(thread, event, -8, "ENOEXEC")
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            raise ImageError(f"cannot load {guest_path}: {error}") from None
        except ImageError:
            if event is not None:
                tracer.close(thread, event, -8, "ENOEXEC")
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            raise
        if event is not None:
            tracer.close(thread, event, 0)
        kernel.current_thread = caller
        cpu = process.cpu
        cpu.write_register("rsp", stack)
        cpu.pc = loaded.entry
        cpu.loaded_thread = thread
        dispatcher = SyscallDispatcher(kernel, getattr(machine, "interceptors", None))
        self.dispatchers[process.pid] = dispatcher
        cpu.hook_syscall(dispatcher.on_syscall)
        cpu.hook_interrupt(self._on_interrupt)
        kernel.start_thread(thread)
        return process

    def _load_interpreter(self, kernel, loaded: elf.LoadedImage) -> None:
        """PT_INTERP: read ld.so from the guest's root and map it beside the program."""
        nt = kernel.services
        try:
            handle = nt.NtCreateFile(nt_name(loaded.interpreter), FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN, 0, 0)
        except NtStatusError as error:
            raise ImageError(f"interpreter {loaded.interpreter} not found under the root "
                             f"({error.status.name}); run with --root / to use the host's") from None
        try:
            size = nt.NtQueryInformationFile(handle, 5).EndOfFile
            data = nt.NtReadFile(handle, size, 0)
        finally:
            nt.NtClose(handle)
        interpreter = elf.map_image(nt, data, elf.INTERPRETER_BASE)
        loaded.interpreter_base = interpreter.base
        loaded.entry = interpreter.entry

    def _open_standard_streams(self, kernel, lx: LinuxProcess) -> None:
        """fds 0, 1, 2: handles to the console device's three streams."""
        nt = kernel.services
        for fd, (stream, access, flags) in enumerate((("Input", FILE_READ_DATA, O_RDONLY),
                                                       ("Output", FILE_WRITE_DATA, O_WRONLY),
                                                       ("Error", FILE_WRITE_DATA, O_WRONLY))):
            handle = nt.NtCreateFile(f"\\Device\\ConDrv\\{stream}", access | SYNCHRONIZE, FILE_OPEN)
            lx.fds.install(FdEntry(handle, OpenFile(f"/dev/std{('in', 'out', 'err')[fd]}", flags,
                                                    "console")), fd)

    # --- faults -----------------------------------------------------------------------------

    def _on_interrupt(self, uc, number: int, _data) -> None:
        kernel = self._kernel
        thread = kernel.current_thread
        pc = thread.process.cpu.pc
        signal, what = {0: (SIGFPE, "integer divide by zero"), 1: (SIGTRAP, "debug trap"),
                        3: (SIGTRAP, "breakpoint (int3)"), 6: (SIGILL, "invalid opcode"),
                        13: (SIGSEGV, "general protection fault"),
                        0x80: (SIGSYS, "int 0x80: the 32-bit system call ABI is not supported")
                        }.get(number, (SIGSEGV, f"interrupt {number:#x}"))
        self.kill(thread, signal, f"{what} at pc {pc:#x}")

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        if fault.kind == "invalid-instruction":
            self.kill(thread, SIGILL, f"invalid instruction at {fault.pc:#x}")
        else:
            self.kill(thread, SIGSEGV, f"invalid {fault.kind} at {fault.address:#x} (pc {fault.pc:#x})")

    def kill(self, thread: Thread, signal: int, detail: str) -> None:
        """A signal's default action: the process dies, and its exit status says so."""
        process = thread.process
        kernel = self._kernel
        name = SIGNAL_NAMES.get(signal, f"signal {signal}")
        if kernel.tracer.enabled:
            kernel.tracer.note(thread, PERSONALITY, f"--- {name} ---", {"detail": detail})
        kernel.terminate_process(process, 128 + signal, note=f"killed by {name}: {detail}")
        process.killed_by = signal
