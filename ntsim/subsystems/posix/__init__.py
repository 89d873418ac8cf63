"""PSXSS: NT's POSIX.1 subsystem. POSIX_CUI programs, PSXDLL, and the PSXSS server over LPC.

A POSIX program is a PE32 image (i386) whose optional header says Subsystem 7. It runs
in 32-bit flat protected mode, with a TEB at FS as every NT thread has, and it may
import from one DLL only: PSXDLL.DLL, whose exports are POSIX.1's functions. Each of
them traps into a client stub (psxdll.py) that either calls an Nt* service itself or
sends an LPC message to the PSXSS server (psxss.py), which keeps every piece of POSIX
state — the process table, process groups and sessions, signals, descriptor tables —
and does the work with Nt* services on the client's behalf. The session's terminal
belongs to a console host (console.py, POSIX.EXE's role).

Reading order: psxdll.py (the stubs and their table), psxss.py (the server), console.py,
then this file (loading an image, fork's child, exec, signal delivery, faults) and pe.py.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from ...kernel.cpu import Fault
from ...kernel.descriptors import DescriptorTable, SegmentDescriptor
from ...kernel.io import FileStandardInformation
from ...kernel.lpc import USER_MODE, PortMessage
from ...kernel.memory import MEM_COMMIT, MEM_RESERVE, page_ceil
from ...kernel.processes import Process, Thread
from ...kernel.services import NtCurrentProcess
from ...kernel.smss import SmApiLoadDeferedSubsystem
from ...kernel.status import NtStatusError
from ...trace import PERSONALITY, SERVER, Quoted
from ..base import CallRow, ImageError, ImageInfo, Personality
from . import pe, psxdll, signals
from .console import ConsoleHost
from .errno import ENOEXEC, PosixError
from .psxss import ACTION_HANDLER, ACTION_TERMINATE, Psxss

PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ = 0x02, 0x04, 0x20
PROCESS_BLOCK = 0x3000               # PEB-like page, TEB, GDT
TEB_OFFSET, GDT_OFFSET = 0x1000, 0x2000
USER_CODE, USER_DATA = 0x1B, 0x23       # KGDT_R3_CODE, KGDT_R3_DATA with RPL 3
TEB_SELECTOR = 0x3B                  # GDT entry 7, RPL 3: NT's x86 FS selector for the TEB
HEAP_SIZE = 0x1_0000
MIN_STACK, MAX_STACK = 0x1_0000, 0x100_0000
SUBSYSTEM = "Posix"                  # its value under ...\Session Manager\SubSystems


class PosixPersonality(Personality):
    name = "posix"
    description = "PE32 POSIX_CUI programs: PSXDLL stubs, the PSXSS server over LPC (NT's POSIX.1 subsystem)"

    def __init__(self) -> None:
        self.kernel = None
        self.gate = None

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        return pe.pe_subsystem(header) == pe.IMAGE_SUBSYSTEM_POSIX_CUI

    def why_not(self, header: bytes) -> str | None:
        """A PE image for another subsystem: say which (no personality here runs it)."""
        subsystem = pe.pe_subsystem(header)
        if subsystem is None or subsystem == pe.IMAGE_SUBSYSTEM_POSIX_CUI:
            return None
        return (f"a PE image for subsystem {pe.subsystem_name(subsystem)}; ntsim runs PE images "
                f"only for subsystem {pe.IMAGE_SUBSYSTEM_POSIX_CUI} (POSIX CUI, with PSXSS)")

    def describe(self, data: bytes) -> ImageInfo:
        image = pe.parse(data)
        return ImageInfo("PE32 executable", "i386", image.image_base + image.entry_rva, self.name, {
            "subsystem": pe.subsystem_name(pe.IMAGE_SUBSYSTEM_POSIX_CUI),
            "image base": hex(image.image_base),
            "imports": ", ".join(f"{i.dll}!{i.name or i.ordinal}" for i in image.imports) or "none",
            "segments": [{"name": s.name, "rva": hex(s.rva), "size": hex(s.size),
                          "protection": {0x02: "R", 0x04: "RW", 0x20: "RX", 0x40: "RWX"}[s.protection]}
                         for s in image.sections]})

    def call_table(self) -> list[CallRow]:
        return [row.table_row() for row in psxdll.TABLE]

    # --- processes --------------------------------------------------------------------------

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        """What POSIX.EXE /P app did: load the program into a new NT process, start PSXSS
        if it is not running, and make the process known to it (a new session)."""
        kernel = machine.kernel
        self.kernel = kernel
        if self.gate is None:
            self.gate = psxdll.make_gate(kernel, getattr(machine, "interceptors", None))
        parsed = pe.parse(image)                 # refuse a bad image before making a process
        pe.bind_imports(parsed, psxdll.EXPORTS, psxdll.ORDINALS, psxdll.MODULE)
        process = kernel.create_process(os.path.basename(guest_path) or "a.out", personality=self,
                                        parent=parent, image_path=guest_path, architecture="x86-32")
        thread = kernel.create_thread(process)
        process.data = psxdll.PsxProcessData()
        thread.data = psxdll.PsxThread(thread, kernel, self)
        caller = kernel.current_thread
        kernel.current_thread = thread           # the loader works inside the new process
        try:
            self._start_psxss(process)
            self.load(thread.data, parsed, argv, env, guest_path)
            psxdll.request(thread.data, "PsxProcessStart")
        except (ImageError, NtStatusError, PosixError) as error:
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            if isinstance(error, ImageError):
                raise
            raise ImageError(f"cannot load {guest_path}: {error}") from None
        kernel.current_thread = caller
        self.attach_cpu(process)
        kernel.start_thread(thread)
        return process

    def _start_psxss(self, process: Process) -> None:
        """SmLoadDeferedSubsystem: PSXSS is an Optional subsystem, started by the session
        manager the first time a POSIX program runs (and left running)."""
        kernel = self.kernel
        smss = kernel.smss
        if SUBSYSTEM.casefold() not in smss.subsystems:
            smss.register_subsystem(SUBSYSTEM, lambda k: Psxss(k, self))
        if smss.server(SUBSYSTEM) is not None:
            return
        port = kernel.lpc.connect(process, smss.port_name)
        kernel.lpc.request_wait_reply(port, PortMessage(0, SmApiLoadDeferedSubsystem,
                                                        {"Subsystem": SUBSYSTEM}), USER_MODE)
        kernel.lpc.disconnect(port)
        smss.clients.pop(process.pid, None)

    @property
    def psxss(self) -> Psxss | None:
        return self.kernel.smss.server(SUBSYSTEM) if self.kernel is not None else None

    def start_console_host(self, psxss: Psxss) -> ConsoleHost:
        """POSIX.EXE for the session: PSXSS starts it with the first session."""
        host = ConsoleHost(self.kernel, psxss)
        host.start(psxss.process)
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(psxss.thread, SERVER, "PsxStartConsoleHost",
                                    {"Server": host.image_name, "ProcessId": host.process.pid,
                                     "Port": host.port_name})
        return host

    def load(self, caller: psxdll.PsxThread, image: pe.PosixImage, argv: list[str], env: list[str],
             guest_path: str) -> None:
        """Map PSXDLL, the image (relocated if its base is taken), a stack, the TEB with
        its GDT entry, the arguments and environment; point the registers at the entry."""
        kernel = caller.kernel
        nt = kernel.services
        process = caller.thread.process
        tracer = kernel.tracer
        event = tracer.open(caller.thread, PERSONALITY, "LdrLoadImage", decoded={
            "ImagePath": Quoted(guest_path), "ImageBase": hex(image.image_base),
            "Subsystem": pe.subsystem_name(pe.IMAGE_SUBSYSTEM_POSIX_CUI)}) if tracer.enabled else None
        try:
            psx = caller.psx
            base, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, psxdll.PSXDLL_BASE, psxdll.PSXDLL_SIZE,
                                                 MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, tag=psxdll.MODULE)
            process.memory.write(base, psxdll.module_image())
            nt.NtProtectVirtualMemory(NtCurrentProcess, base, psxdll.PSXDLL_SIZE, PAGE_EXECUTE_READ)
            size = page_ceil(image.image_size)
            try:
                image_base, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, image.image_base, size,
                                                           MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, tag="image")
            except NtStatusError:
                if not image.relocatable:
                    raise ImageError(f"ImageBase {image.image_base:#x} is taken and the image has no "
                                     "relocations") from None
                image_base, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, size, MEM_RESERVE | MEM_COMMIT,
                                                           PAGE_READWRITE, tag="image")
            process.memory.write(image_base, image.mapped(image_base))
            for slot, address in pe.bind_imports(image, psxdll.EXPORTS, psxdll.ORDINALS, psxdll.MODULE):
                process.memory.write(image_base + slot, address.to_bytes(4, "little"))
            nt.NtProtectVirtualMemory(NtCurrentProcess, image_base, page_ceil(image.headers_size), PAGE_READONLY)
            for section in image.sections:
                if section.size:
                    nt.NtProtectVirtualMemory(NtCurrentProcess, image_base + section.rva,
                                              page_ceil(section.size), section.protection)
            stack_size = min(max(page_ceil(image.stack_reserve), MIN_STACK), MAX_STACK)
            stack, stack_size = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, stack_size,
                                                           MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, tag="stack")
            block, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, PROCESS_BLOCK, MEM_RESERVE | MEM_COMMIT,
                                                  PAGE_READWRITE, tag="PEB, TEB, GDT")
            psx.teb, psx.gdt = block + TEB_OFFSET, block + GDT_OFFSET
            teb = bytearray(0x40)
            struct.pack_into("<I", teb, psxdll.TEB_SELF, psx.teb)
            struct.pack_into("<II", teb, psxdll.TEB_CLIENT_ID, process.pid, caller.thread.tid)
            struct.pack_into("<I", teb, psxdll.TEB_PEB, block)
            process.memory.write(psx.teb, bytes(teb))
            gdt = DescriptorTable("GDT", psx.gdt, 8)      # NT's x86 selectors (KGDT_*)
            gdt[1] = SegmentDescriptor.code32(dpl=0)
            gdt[2] = SegmentDescriptor.data32(dpl=0)
            gdt[3] = SegmentDescriptor.code32()           # 0x1B: ring-3 code, flat
            gdt[4] = SegmentDescriptor.data32()           # 0x23: ring-3 data and stack, flat
            gdt[7] = SegmentDescriptor.data32(psx.teb, 0xFFF)   # 0x3B: the TEB
            process.memory.write(psx.gdt, gdt.image())
            heap, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, HEAP_SIZE, MEM_RESERVE | MEM_COMMIT,
                                                 PAGE_READWRITE, tag="PSXDLL data")
            psx.heap = heap
            psx.heap_free = [heap + at for at in range(0, HEAP_SIZE - psxdll.DIR_SIZE + 1, psxdll.DIR_SIZE)]
            psx.statics, psx.dirs, psx.restart_dir = {}, {}, set()
            self._write_arguments(caller, argv, env, block)
            cpu = process.cpu
            esp = stack + stack_size - 16 - 4            # (ESP + 4) 16-byte aligned, as after a call
            process.memory.write(esp, b"\0" * 4)         # start() must not return: a 0 return address
            cpu.write_register("ebp", 0)
            self._load_segments(process, image_base + image.entry_rva, esp)
            cpu.loaded_thread = caller.thread
            caller.thread.context = None
        except NtStatusError as error:
            if event is not None:
                tracer.close(caller.thread, event, error.status, error.status.name)
            raise ImageError(f"cannot map {guest_path}: {error}") from None
        if event is not None:
            event.args["MappedAt"] = hex(image_base)
            tracer.close(caller.thread, event, 0)

    def _write_arguments(self, caller: psxdll.PsxThread, argv: list[str], env: list[str], block: int) -> None:
        """argv and envp as a C program expects them: arrays of pointers to strings."""
        strings = [a.encode("utf-8", "surrogateescape") + b"\0" for a in argv]
        variables = [e.encode("utf-8", "surrogateescape") + b"\0" for e in env]
        size = 4 * (len(strings) + len(variables) + 2) + sum(map(len, strings + variables))
        if size > psxdll.ARG_MAX:
            raise PosixError(7, f"arguments and environment take {size} bytes (ARG_MAX {psxdll.ARG_MAX})")
        area, _ = caller.nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, page_ceil(size), MEM_RESERVE | MEM_COMMIT,
                                                    PAGE_READWRITE, tag="arguments")
        arrays = area
        text = area + 4 * (len(strings) + len(variables) + 2)
        pointers, psx = [], caller.psx
        psx.env = {}
        for index, item in enumerate(strings + [None] + variables + [None]):
            if item is None:
                pointers.append(0)
                continue
            pointers.append(text)
            if index > len(strings):
                name, _, _ = item.partition(b"=")
                psx.env.setdefault(name.decode("utf-8", "surrogateescape"), text + len(name) + 1)
            text += len(item)
        blob = struct.pack(f"<{len(pointers)}I", *pointers) + b"".join(strings + variables)
        caller.memory.write(arrays, blob)
        psx.argc, psx.argv, psx.envp = len(strings), arrays, arrays + 4 * (len(strings) + 1)
        caller.memory.write(block, struct.pack("<III", psx.argc, psx.argv, psx.envp))

    def _load_segments(self, process: Process, eip: int, esp: int) -> None:
        """Ring 3, as NT's threads run: the GDT (NT's per-processor table, here per
        process), flat 32-bit code and data selectors, and FS -> the TEB."""
        from unicorn.x86_const import UC_X86_REG_GDTR

        psx = process.data
        process.memory.touch(psx.gdt, 64)              # the processor reads it on the load
        process.memory.touch(psx.teb, 0x40)
        cpu = process.cpu
        cpu.uc.reg_write(UC_X86_REG_GDTR, (0, psx.gdt, 8 * 8 - 1, 0))
        cpu.enter_user_mode(cs=USER_CODE, ip=eip, ss=USER_DATA, sp=esp, ds=USER_DATA, es=USER_DATA)
        cpu.write_register("fs", TEB_SELECTOR)
        cpu.write_register("gs", 0)

    def attach_cpu(self, process: Process) -> None:
        """`int 2Fh` enters the call gate; any other `INT n` is a fault."""
        on_trap, uc, trap = self.gate.on_trap, process.cpu.uc, psxdll.TRAP_VECTOR

        def interrupt(vector: int) -> None:
            if vector == trap:
                on_trap(uc)
            else:
                self._on_interrupt(process, vector)

        process.cpu.hook_software_interrupts(interrupt)

    def adopt_fork(self, child: Process, thread: Thread, parent: Process) -> None:
        """PSXSS made a fork child: PSXDLL's data is the parent's (the memory is a copy),
        its thread a POSIX thread; its processor gets the traps and the TEB segment."""
        child.data = parent.data.forked()
        thread.data = psxdll.PsxThread(thread, self.kernel, self)
        self.attach_cpu(child)
        parent_cpu = parent.cpu
        self._load_segments(child, parent_cpu.pc, parent_cpu.read_register("esp"))

    def exec_image(self, caller: psxdll.PsxThread, path: str, argv: list[str], env: list[str] | None) -> Any:
        """execve: read and check the new image (ENOEXEC if it will not run), tell PSXSS
        (FD_CLOEXEC descriptors close, caught signals reset), then replace the address
        space and start the new program: the same process, the same POSIX pid."""
        nt = caller.nt
        data = path.encode("utf-8", "surrogateescape") + b"\0"
        fd = psxdll.request(caller, "PsxOpen", {"Flags": 0, "Mode": 0, "PathLength": len(data) - 1}, data,
                            lambda body: (body["Fd"], body["Handle"]))
        try:
            size = nt.NtQueryInformationFile(fd[1], FileStandardInformation).EndOfFile
            content = nt.NtReadFile(fd[1], size, 0) if size else b""
        finally:
            psxdll.request(caller, "PsxClose", {"Fd": fd[0]})
        try:
            image = pe.parse(content)
            pe.bind_imports(image, psxdll.EXPORTS, psxdll.ORDINALS, psxdll.MODULE)
        except ImageError as error:
            raise PosixError(ENOEXEC, str(error)) from None
        environment = env if env is not None else self._environment(caller)
        psxdll.request(caller, "PsxExec", {"Reserved": 0})
        process = caller.thread.process
        kernel = caller.kernel
        old_port = caller.psx.port
        kernel.new_address_space(process, "x86-32")
        caller.memory, caller.cpu = process.memory, process.cpu
        if old_port is not None:
            kernel.lpc.disconnect(old_port)
        psx = caller.psx
        psx.port = psx.console_port = None
        psx.fds = {}
        process.name = os.path.basename(path) or process.name
        process.image_path = path
        self.load(caller, image, argv, environment, path)
        process.cpu.request_stop()
        return None

    def _environment(self, caller: psxdll.PsxThread) -> list[str]:
        items = []
        for index in range(4096):
            pointer = caller.read_u32(caller.psx.envp + 4 * index)
            if not pointer:
                break
            items.append(caller.read_string(pointer, psxdll.ARG_MAX).decode("utf-8", "surrogateescape"))
        return items

    # --- signals, delivered by PSXDLL in the process ------------------------------------------

    def deliver_signals(self, caller: psxdll.PsxThread) -> None:
        """The user APC PSXSS queued: ask the server which signal to take, and take it —
        a handler's frame on the stack (its return leads to the sigreturn trampoline),
        or the end of the process."""
        process = caller.thread.process
        while process.alive:
            try:
                answer = psxdll.request(caller, "PsxSigDeliver")
            except Exception:   # the server has gone, or the request would wait: nothing to do
                return
            signal = answer["Signal"]
            tracer = self.kernel.tracer
            if tracer.enabled and answer["Action"] in (ACTION_TERMINATE, ACTION_HANDLER):
                what = f"handler={answer['Handler']:#x}" if answer["Action"] == ACTION_HANDLER else "default=terminate"
                tracer.note(caller.thread, PERSONALITY, f"--- {signals.name(signal)} {{si_signo={signal}, {what}}} ---")
            if answer["Action"] == ACTION_TERMINATE:
                process.killed_by = signal
                process.exit_reason = f"killed by {signals.name(signal)}"
                self.kernel.terminate_process(process, 128 + signal)
                return
            if answer["Action"] != ACTION_HANDLER:
                return
            self._push_frame(caller, signal, answer["Handler"], answer["OldMask"])

    def _push_frame(self, caller: psxdll.PsxThread, signal: int, handler: int, old_mask: int) -> None:
        cpu = caller.cpu
        saved = [cpu.read_register(name) for name in psxdll.FRAME_REGISTERS]
        esp = saved[4]
        frame = ((esp - 52 - 128) & ~15) - 4
        caller.write(frame, struct.pack("<13I", psxdll.SIGRETURN_STUB, signal, *saved, old_mask))
        cpu.write_register("esp", frame)
        cpu.pc = handler

    # --- the end of a process ---------------------------------------------------------------

    def on_process_exit(self, process: Process) -> None:
        server = self.psxss
        if server is not None:
            server.process_ended(process)

    def _on_interrupt(self, process: Process, vector: int) -> None:
        self.kill(process, signals.SIGSEGV, f"int {vector:#x} at {process.cpu.pc:#x} (only int 0x2f, "
                                             "PSXDLL's trap, is a gate)")

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        signal = {"invalid-instruction": signals.SIGILL, "divide": signals.SIGFPE,
                  "math": signals.SIGFPE, "simd": signals.SIGFPE}.get(fault.kind, signals.SIGSEGV)
        self.kill(thread.process, signal, fault.detail or f"{fault.kind} at {fault.address:#x} (pc {fault.pc:#x})")

    def kill(self, process: Process, signal: int, detail: str) -> None:
        """A fault's signal with its default action: the process ends, and says why."""
        process.killed_by = signal
        process.exit_reason = f"killed by {signals.name(signal)}"
        self.kernel.terminate_process(process, 128 + signal, note=f"killed by {signals.name(signal)}: {detail}")

    def on_console_control(self, event: int) -> bool:
        """Ctrl+C / Ctrl+Break from CSRSS: SIGINT / SIGQUIT to the terminal's foreground
        process group, from PSXSS."""
        server = self.psxss
        if server is None or event not in (0, 1):
            return False
        group = [e for e in server.table.values() if e.pgid == server.foreground and e.status is None and e.ctty]
        caller = self.kernel.current_thread
        self.kernel.current_thread = server.thread
        try:
            for entry in group:
                server.post(entry, signals.SIGINT if event == 0 else signals.SIGQUIT)
        finally:
            self.kernel.current_thread = caller
        return bool(group)

    def ends_on_console_control(self, process: Process, event: int) -> bool:
        server = self.psxss
        entry = server.entry_of(process) if server is not None else None
        signal = signals.SIGINT if event == 0 else signals.SIGQUIT
        return (entry is not None and entry.pgid == server.foreground and event in (0, 1)
                and entry.actions.get(signal, (0,))[0] == signals.SIG_DFL
                and not entry.mask & signals.bit(signal))


__all__ = ["PosixPersonality"]
