"""OS2SS: NT's OS/2 subsystem. 16-bit OS/2 1.x character-mode programs (NE images) in
the 286's protected mode, each in a process with its own LDT, calling DOSCALLS,
VIOCALLS and KBDCALLS through far-call thunks; the OS2SS server keeps the bookkeeping
that spans processes.

Reading order: `ne.py` (the format), `loader.py` (segments, selectors, relocations,
the environment), `gate.py` (the thunk and its calling convention), `calls.py` (the
table), then the handlers by topic — `doscalls.py`, `viocalls.py` — and `server.py`.
"""

from __future__ import annotations

import os
from typing import Any

from ...kernel.cpu import PROTECTED_MODE_16, Fault, ProcessorError
from ...kernel.io import FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA, SYNCHRONIZE
from ...kernel.processes import Process, Thread
from ...kernel.services import NtCurrentProcess
from ...kernel.status import (
    STATUS_ACCESS_VIOLATION,
    STATUS_ILLEGAL_INSTRUCTION,
    STATUS_INTEGER_DIVIDE_BY_ZERO,
    NtStatusError,
)
from ...trace import PERSONALITY, Quoted
from ..base import CallGate, CallRow, ImageError, ImageInfo, Personality
from ..windows.console_client import ConsoleClient
from . import loader, ne, signals
from .calls import ROWS, TABLE, call_rows
from .gate import THUNK_VECTOR, Os2Errors, Os2Thread, make_gate
from .loader import program_name
from .server import PORT_NAME, TC_TRAP, Os2ss

__all__ = ["Os2Personality"]

PORT_SECTION = 0x4000          # each client's port section: DosExecPgm's arguments and environment
# A processor trap in an OS/2 program: how OS/2 named it, and the exception code NT ends
# a process with when nothing handles it (its exit status, as for any NT program)
TRAPS = {0: ("TRAP 0000", "a divide error", STATUS_INTEGER_DIVIDE_BY_ZERO),
         6: ("TRAP 0006", "an invalid instruction", STATUS_ILLEGAL_INSTRUCTION),
         12: ("TRAP 000C", "a stack fault", STATUS_ACCESS_VIOLATION),
         13: ("TRAP 000D", "a general protection fault", STATUS_ACCESS_VIOLATION)}


class Os2Personality(Personality):
    name = "os2"
    description = "16-bit OS/2 1.x programs (NE) in protected mode, with the OS2SS server"
    console_is_a_screen = True          # DosWrite to handle 1 and VioWrtTTY share one screen

    def __init__(self) -> None:
        self.kernel: Any = None
        self.machine: Any = None
        self.errors = Os2Errors()
        self.gate: CallGate | None = None
        self.server: Os2ss | None = None

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        return ne.ne_offset(header) is not None

    def describe(self, data: bytes) -> ImageInfo:
        image = ne.parse(data)
        loader.check_imports(image)
        segments = []
        for segment in image.segments:
            kinds = {}
            for relocation in segment.relocations:
                key = ne.KINDS[relocation.kind] + (" (additive)" if relocation.additive else "")
                kinds[key] = kinds.get(key, 0) + 1
            segments.append({
                "segment": segment.number, "type": "DATA" if segment.is_data else "CODE",
                "file": f"{segment.file_offset:#x}+{len(segment.data):#x}", "size": hex(segment.size),
                "flags": hex(segment.flags),
                "relocations": ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none",
                **({"autodata": "yes"} if segment.number == image.autodata else {})})
        imports = []
        for module, what in image.imports():
            number = (loader.MODULE_IDS[module.upper()] << 16 | what) if isinstance(what, int) else None
            row = ROWS.get(number) if number is not None else next(
                (r for r in TABLE if r.name.upper() == str(what).upper()
                 and r.number >> 16 == loader.MODULE_IDS[module.upper()]), None)
            label = f"{module}.{what}" + ("" if row is None else f" {row.name}" if isinstance(what, int)
                                          else f" (by name: ordinal {row.number & 0xFFFF})")
            imports.append(label + ("" if row is not None and row.handler else " (not implemented)"))
        ss = image.ss or image.autodata
        return ImageInfo("NE (OS/2 1.x, 16-bit protected mode)", "x86-16 (286 protected mode)",
                         image.cs << 16 | image.ip, self.name, {
                             "module": f"{image.module_name} ({image.description})" if image.description
                             else image.module_name,
                             "target os": ne.TARGET_OS.get(image.target_os, str(image.target_os)),
                             "entry point": f"CS:IP = segment {image.cs}:{image.ip:#06x}",
                             "stack": f"SS:SP = segment {ss}:{image.sp:#06x}"
                                      + (" (top of the automatic data segment)" if image.sp == 0 else "")
                                      + f", stack {image.stack_size:#x} bytes",
                             "autodata": f"segment {image.autodata}, heap {image.heap_size:#x} bytes"
                             if image.autodata else "none",
                             "modules": ", ".join(image.modules) or "none",
                             "imports": "\n              ".join(imports) or "none",
                             "entries": ", ".join(f"{e.ordinal}={e.segment}:{e.offset:#06x}"
                                                  + (" (movable)" if e.movable else "")
                                                  for e in image.entries.values()) or "none",
                             "segments": segments,
                         })

    def call_table(self) -> list[CallRow]:
        return call_rows()

    # --- processes --------------------------------------------------------------------------

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        return self.start(machine, image, argv, env, guest_path=guest_path, parent=parent)

    def start(self, machine: Any, image: bytes, argv: list[str], env: list[str], *, guest_path: str,
              parent: Process | None = None, command_name: str | None = None) -> Process:
        """An OS/2 process for an image: parse and check it, start OS2SS if this is the
        first OS/2 program, lay the image out, connect to OS2SS, run its thread."""
        parsed = ne.parse(image)                 # refuse a bad image before making a process
        loader.check_imports(parsed)
        kernel = machine.kernel
        self.kernel, self.machine = kernel, machine
        if self.gate is None:
            self.gate = make_gate(kernel, TABLE, self.errors, getattr(machine, "interceptors", None))
        self._start_server(kernel)
        name = os.path.basename(guest_path) or "os2.exe"
        process = kernel.create_process(name, personality=self, parent=parent, image_path=guest_path,
                                        architecture=PROTECTED_MODE_16)
        thread = kernel.create_thread(process)
        caller = kernel.current_thread
        kernel.current_thread = thread           # the loader works inside the new process
        tracer = kernel.tracer
        event = tracer.open(thread, PERSONALITY, "LoadNE", decoded={
            "ImagePath": Quoted(program_name(guest_path)), "Segments": len(parsed.segments),
            "Modules": parsed.modules}) if tracer.enabled else None
        argv = [command_name or program_name(guest_path), *argv[1:]]
        try:
            os2 = loader.load(kernel, process, parsed, ROWS, self.errors, argv, env, guest_path)
            process.data = os2
            thread.data = Os2Thread(thread, kernel, os2)
            os2.parent_pid = parent.pid if parent is not None and parent.personality is self else 0
            nt = kernel.services
            if os2.parent_pid:
                self._inherit_handles(nt, parent, os2)
            for handle, (stream, access) in enumerate((("Input", FILE_READ_DATA), ("Output", FILE_WRITE_DATA),
                                                       ("Error", FILE_WRITE_DATA))):
                if handle not in os2.files:
                    os2.files[handle] = nt.NtCreateFile(f"\\Device\\ConDrv\\{stream}", access | SYNCHRONIZE,
                                                        FILE_OPEN)
            os2.console = ConsoleClient.open(nt)
            os2.port = nt.NtConnectPort(PORT_NAME, PORT_SECTION)
        except (ImageError, NtStatusError, MemoryError, ProcessorError) as error:
            if event is not None:
                tracer.close(thread, event, None, "cannot load")
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            if isinstance(error, ImageError):
                raise
            raise ImageError(f"cannot load {guest_path}: {error}") from None
        if event is not None:
            tracer.close(thread, event, 0)
        kernel.current_thread = caller
        cpu = process.cpu
        cpu.hook_software_interrupts(self._interrupt_handler(cpu))
        cpu.loaded_thread = thread
        thread.context = None
        kernel.start_thread(thread)
        return process

    @staticmethod
    def _inherit_handles(nt: Any, parent: Process, os2: Any) -> None:
        """A child of DosExecPgm gets its parent's file handles, by number (but those
        opened with OPEN_FLAGS_NOINHERIT): a parent that put a pipe on handle 1 reads the
        child's output from it. Each is an NtDuplicateObject from the parent."""
        source = nt.NtOpenProcess(0x0040, parent.pid)       # PROCESS_DUP_HANDLE
        try:
            for handle, nt_handle in parent.data.files.items():
                if handle not in parent.data.no_inherit:
                    os2.files[handle] = nt.NtDuplicateObject(source, nt_handle, NtCurrentProcess)
        finally:
            nt.NtClose(source)

    def _start_server(self, kernel: Any) -> None:
        """SMSS starts OS2SS (an Optional subsystem) for the first OS/2 program."""
        smss = kernel.smss
        if smss.server("Os2") is None:
            if "os2" not in smss.subsystems:
                smss.register_subsystem("Os2", lambda k: Os2ss(k, self))
            self.server = smss.load_deferred_subsystem("Os2")

    # --- traps and faults -------------------------------------------------------------------

    def _interrupt_handler(self, cpu: Any):
        """The processor's `INT n` handler: INT F0h (a thunk) enters the call gate; any
        other vector has no gate a ring-3 program may use — #GP, as on a 286."""
        on_trap, uc = self.gate.on_trap, cpu.uc

        def interrupt(vector: int) -> None:
            if vector == THUNK_VECTOR:
                process = self.kernel.current_thread.process
                if process.data.signal_frames and signals.is_return(process, cpu.pc,
                                                                    cpu.read_register("cs")):
                    signals.handler_returned(process)
                    return
                on_trap(uc)
                return
            thread = self.kernel.current_thread
            cpu.pc -= 2
            self._trap(thread, 13, f"INT {vector:02X}h at CS:IP {cpu.describe_pc()}")

        return interrupt

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        vector = fault.vector if fault.vector is not None else (6 if fault.kind == "invalid-instruction" else 13)
        detail = f"at CS:IP {thread.process.cpu.describe_pc()}"
        if fault.selector is not None:
            detail += f", selector {fault.selector:04X}"
        elif fault.kind in ("read", "write", "fetch"):
            detail += f", {fault.kind} of linear {fault.address:#x}"
        self._trap(thread, vector, detail)

    def _trap(self, thread: Thread, vector: int, detail: str) -> None:
        """The process ends, as OS/2 ended a program that trapped: SYS3175, naming CS:IP.
        Its exit status is NT's exception code for the trap (STATUS_ACCESS_VIOLATION for
        a #GP); OS2SS records termination code TC_TRAP for DosCWait."""
        process = thread.process
        trap, what, status = TRAPS.get(vector, (f"TRAP {vector:04X}", f"exception {vector}",
                                                STATUS_ACCESS_VIOLATION))
        process.data.termination = TC_TRAP
        self.kernel.terminate_process(process, int(status),
                                      note=f"SYS3175: {process.name} caused {what} ({trap}) {detail}")

    def on_console_control(self, event: int) -> bool:
        """Ctrl+C (SIG_CTRLC, 1) or Ctrl+Break (SIG_CTRLBREAK, 4) to every OS/2 program:
        one with a handler runs it (signals.py), one that ignores it goes on; taken only
        if none has the default action (SIGA_KILL), else ntsim stops them all."""
        signal = signals.SIG_CTRLC if event == 0 else signals.SIG_CTRLBREAK
        live = [p for p in self.kernel.processes.values() if p.alive and p.personality is self
                and p.data is not None]
        actions = [signals.action_of(p, signal) for p in live]
        if not live or signals.SIGA_KILL in actions:
            return False
        for process, action in zip(live, actions, strict=True):
            if action == signals.SIGA_ACCEPT:
                signals.post(self.kernel, process, signal)
        return True

    def ends_on_console_control(self, process: Process, event: int) -> bool:
        signal = signals.SIG_CTRLC if event == 0 else signals.SIG_CTRLBREAK
        return process.data is not None and signals.action_of(process, signal) == signals.SIGA_KILL

    def stats_lines(self) -> list[str]:
        """For --stats: OS2SS's LPC messages and each process's descriptor tables."""
        lines = []
        if self.server is not None:
            server = self.server
            lines.append(f"os2                  OS2SS ({server.image_name}, pid {server.process.pid}): "
                         f"{server.messages} LPC messages, {len(server.records)} OS/2 processes in its table")
        for process in self.kernel.processes.values() if self.kernel else ():
            if process.personality is self and process.data is not None:
                os2 = process.data
                tables = (os2.ldt.limit + 1 + os2.gdt.limit + 1) / 1024
                lines.append(f"    {process.name:<14} pid {process.pid:<5} LDT: {os2.ldt_in_use} of "
                             f"{os2.ldt.capacity - 1} entries in use; GDT + LDT {tables:.1f} KiB")
        return lines

