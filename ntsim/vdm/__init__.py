"""NTVDM: DOS programs in a virtual DOS machine — the VM side of ntsim's lesson.

A subsystem (LXSS, PSXSS, OS2SS) translates each of its programs' calls onto NT. The VDM
does not: it gives a DOS program a whole little PC — 1 MiB of memory, interrupt vectors,
a BIOS, a DOS, devices — in one NT process (`ntvdm.exe`), and only the machine's edges
touch the NT kernel: files on C: and the console, as Nt* calls of that process. In a
trace, the program's INT 21h calls are layer `vm`; the few Nt* calls under them are
layer `nt`; `--stats` counts how many calls crossed and how many stayed inside.

Reading order: `machine.py` (memory map, the trap, the timer, the screen), `dos/`
(INT 21h by concern), `bios.py`, `image.py` (COM and MZ), `ports.py`.
"""

from __future__ import annotations

from typing import Any

from ..kernel.cpu import REAL_MODE, Fault
from ..kernel.status import NtStatusError
from ..subsystems.base import PARTIAL, SUPPORTED, CallRow, ImageError, ImageInfo, Personality, call
from ..subsystems.windows.console_client import ConsoleClient
from ..trace import VM, Quoted
from . import bios, image
from .calls import DosError, Reg, make_gate
from .dos import Dos, int21_rows, memory, process, system
from .dos.files import OpenFile
from .machine import RAM_SIZE, VirtualDosMachine, reserve_ram
from .ports import Ports

IMAGE_NAME = "ntvdm.exe"
SIGILL, SIGFPE, SIGSEGV = 4, 8, 11


def _default_handler(name: str, function: Any, *args: tuple[str, Any], note: str = "",
                     level: str = SUPPORTED) -> list:
    return [call(0, name, function, *args, note=note, level=level)]


def _ctrl_c(vm: VirtualDosMachine) -> None:
    """INT 23h, DOS's own Ctrl+C handler: the program ends (exit code 0, type 1)."""
    process.terminate(vm, 0, process.TERMINATE_CTRL_C)


def _critical_error(vm: VirtualDosMachine) -> int:
    """INT 24h, DOS's own critical-error handler: AL=03h, fail the call."""
    vm.set(al=3)
    return 3


def _bootstrap(vm: VirtualDosMachine) -> None:
    """INT 19h: reboot. The machine has nothing to boot: the VDM ends (exit code 0)."""
    vm.finish(0, "the program rebooted the virtual machine (INT 19h)")


def _nothing(vm: VirtualDosMachine) -> int:
    """Returns at once (INT 1Bh Ctrl+Break, INT 1Ch user tick, INT 28h idle: hooks a
    program may take)."""
    return 0


def _timer(vm: VirtualDosMachine) -> int:
    bios.timer_tick(vm)
    return 0


def _multiplex(vm: VirtualDosMachine, ax: int) -> int:
    bios.multiplex(vm)
    return ax


def _mouse(vm: VirtualDosMachine, ax: int) -> int:
    bios.mouse(vm)
    return vm.reg("ax")


def _ems(vm: VirtualDosMachine, ax: int) -> int:
    bios.ems(vm)
    return vm.reg("ax")


def _system(vm: VirtualDosMachine, ax: int) -> int:
    return bios.system_services(vm, ax)


# Every service interrupt: (vector, service name, rows, one entry point rather than AH?)
SERVICES: list[tuple[int, str, list, bool]] = [
    (0x08, "INT 08h", _default_handler("timer tick (IRQ 0)", _timer), True),
    (0x10, "INT 10h", bios.VIDEO_ROWS, False),
    (0x11, "INT 11h", _default_handler("equipment list", bios.equipment), True),
    (0x12, "INT 12h", _default_handler("memory size", bios.memory_size), True),
    (0x13, "INT 13h", _default_handler("disk services", bios.disk,
                                       note="no BIOS disk: CF=1, AH=01h"), True),
    (0x15, "INT 15h", _default_handler("system services", _system, ("ax", Reg()),
                                       note="AH=88h (no extended memory); others CF=1 AH=86h"), True),
    (0x16, "INT 16h", bios.KEYBOARD_ROWS, False),
    (0x19, "INT 19h", _default_handler("bootstrap", _bootstrap), True),
    (0x1A, "INT 1Ah", bios.CLOCK_ROWS, False),
    (0x1C, "INT 1Ch", _default_handler("user timer tick", _nothing), True),
    (0x20, "INT 20h", process.INT20_ROWS, True),
    (0x21, "INT 21h", int21_rows(), False),
    (0x1B, "INT 1Bh", _default_handler("BIOS Ctrl+Break", _nothing, level=PARTIAL,
                                       note="returns at once: the console's "
                                       "Ctrl+Break sets DOS's break flag, never issues INT 1Bh"), True),
    (0x23, "INT 23h", _default_handler("Ctrl+C handler", _ctrl_c, note="DOS issues it at a Ctrl+C "
                                       "(^C); its own ends the program (type 1)"), True),
    (0x24, "INT 24h", _default_handler("critical error handler", _critical_error), True),
    (0x27, "INT 27h", process.INT27_ROWS, True),
    (0x28, "INT 28h", _default_handler("DOS idle", _nothing), True),
    (0x2F, "INT 2Fh", _default_handler("multiplex", _multiplex, ("ax", Reg()),
                                       note="installation checks: not installed"), True),
    (0x33, "INT 33h", _default_handler("mouse", _mouse, ("ax", Reg()), note="no mouse"), True),
    (0x67, "INT 67h", _default_handler("expanded memory", _ems, ("ax", Reg()),
                                       note="no EMS: AH=80h"), True),
]


def dos_path_of(guest_path: str) -> str:
    """The program's path on C: (a program outside the root shows as C:\\NAME)."""
    if guest_path.startswith("/.ntsim/host/"):
        guest_path = "/" + guest_path.rsplit("/", 1)[-1]
    return "C:" + guest_path.replace("/", "\\").upper()


class VdmPersonality(Personality):
    name = "vdm"
    description = "NTVDM: DOS COM and MZ programs in a virtual 8086 machine (real mode)"
    console_is_a_screen = True          # a PC's text screen: DOS output and INT 10h share it

    def __init__(self) -> None:
        self.kernel = None
        self.gates: dict[int, Any] | None = None
        self.processes: list[Any] = []          # every VDM started (for --stats)

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        """An MZ executable with no new-executable (NE, PE, LE, LX) header behind it."""
        return image.is_mz(header) and image.new_executable_signature(header) is None

    def probe_file_name(self, path: str) -> bool:
        """A .COM file has no signature: its name says what it is."""
        return path.lower().endswith(".com")

    def describe(self, data: bytes) -> ImageInfo:
        parsed = image.parse(data, is_com=not image.is_mz(data))
        details = image.describe(parsed)
        if parsed.kind == "COM":
            return ImageInfo("DOS COM program", "8086 real mode", 0x100, self.name, details)
        return ImageInfo("DOS MZ executable", "8086 real mode", parsed.header.e_ip, self.name, details)

    def format_call_number(self, number: int) -> str:
        """`ntsim calls vdm` numbers a service as its vector and AH: 21:4C."""
        return f"{number >> 8:02X}:{number & 0xFF:02X}"

    def call_table(self) -> list[CallRow]:
        rows = []
        for vector, _service, table, single in SERVICES:
            for row in table:
                number = vector << 8 | (0 if single else row.number)
                rows.append(CallRow(number, row.name, row.names, row.level, row.note))
        return rows

    # --- the machine ------------------------------------------------------------------------

    def _make_gates(self, machine: Any) -> dict[int, Any]:
        interceptors = getattr(machine, "interceptors", None)
        return {vector: make_gate(machine.kernel, service, table, interceptors, single=single)
                for vector, service, table, single in SERVICES}

    def create_process(self, machine: Any, image_bytes: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Any = None) -> Any:
        """ntvdm.exe for a DOS program: check the image, make the process and its machine
        (RAM, vectors, BIOS and DOS data, the console), load the program, start it."""
        kernel = machine.kernel
        self.kernel = kernel
        if self.gates is None:
            self.gates = self._make_gates(machine)
        is_com = not image.is_mz(image_bytes)
        parsed = image.parse(image_bytes, is_com=is_com)      # ImageError: exit status 126
        process_object = kernel.create_process(IMAGE_NAME, personality=self, parent=parent,
                                               image_path=guest_path, architecture=REAL_MODE,
                                               user_space=(0, RAM_SIZE - 1))   # whole pages
        thread = kernel.create_thread(process_object)
        reserve_ram(process_object)
        cpu = process_object.cpu
        vm = VirtualDosMachine(kernel, process_object, thread, cpu)
        vm.program = dos_path_of(guest_path)
        process_object.data = vm
        thread.data = vm
        vm.dos = Dos(vm)
        vm.ports = Ports(vm)
        caller = kernel.current_thread
        kernel.current_thread = thread
        tracer = kernel.tracer
        event = tracer.open(thread, VM, "VdmLoadProgram", decoded={
            "program": Quoted(vm.program), "format": parsed.kind, "memory": f"{RAM_SIZE:#x}"}) \
            if tracer.enabled else None
        try:
            self._build_machine(vm)
            tail = (" " + " ".join(argv[1:])).encode("cp437", "replace") if argv[1:] else b""
            try:
                loaded = process.load_program(vm, parsed, vm.program, tail, 0,
                                              process.DEFAULT_ENVIRONMENT)
            except DosError as error:
                raise ImageError(f"the program does not fit in conventional memory: {error}") from None
            process.start(vm, loaded, parsed.kind)
        except (ImageError, NtStatusError) as error:
            if event is not None:
                tracer.close(thread, event, None, "cannot load")
            kernel.current_thread = caller
            kernel.terminate_process(process_object, 126)
            if isinstance(error, NtStatusError):
                raise ImageError(f"cannot start the virtual DOS machine: {error}") from None
            raise
        if event is not None:
            tracer.close(thread, event, f"{loaded.cs:04X}:{loaded.ip:04X}")
        kernel.current_thread = caller
        cpu.loaded_thread = thread
        thread.context = None
        cpu.hook_software_interrupts(vm.on_interrupt)
        cpu.hook_ports(vm.ports.read, vm.ports.write)
        vm.services = {vector: gate.on_trap for vector, gate in self.gates.items()}
        kernel.start_thread(thread)
        vm.start_timer()
        self.processes.append(process_object)
        return process_object

    def _build_machine(self, vm: VirtualDosMachine) -> None:
        vm.install_vectors()
        bios.init_data_area(vm)
        system.init_data(vm)
        memory.init_chain(vm)
        vm.console = ConsoleClient.open(vm.nt)
        vm.dos.sft = [OpenFile("CON", "CON", None, 2, references=3),
                      OpenFile("AUX", "NUL", None, 2), OpenFile("PRN", "NUL", None, 1)]
        vm.pull_screen()                          # video memory shows the console's screen

    # --- the console's Ctrl+C -----------------------------------------------------------------

    def on_console_control(self, event: int) -> bool:
        """Ctrl+C or Ctrl+Break from CSRSS: the break flag of every running VDM, which
        DOS acts on at its next console call (or any INT 21h with BREAK ON). INT 1Bh,
        the BIOS's Ctrl+Break vector, is not issued: its stub only returns."""
        live = [p for p in self.processes if p.alive and p.data is not None]
        for process_object in live:
            process_object.data.break_pending = True
        return bool(live)

    def ends_on_console_control(self, process: Any, event: int) -> bool:
        """True for a VDM, though it may go on: taking the event only sets the break
        flag, so the processor may be stopped anywhere to deliver it (a program that
        keeps calling DOS never stops on its own). DOS acts on it at its next call."""
        return process in self.processes and process.alive and event in (0, 1)

    # --- faults -----------------------------------------------------------------------------

    def on_fault(self, thread: Any, fault: Fault) -> None:
        """The processor refused an instruction. A program that hooked the exception's
        vector gets it through the IVT, as on an 8086; otherwise the VM stops, as
        NTVDM's "illegal instruction" box stopped it: 128 + the matching signal."""
        vm = thread.data
        if fault.kind == "access" and vm.page_zero_fault():
            return                     # the timer's watch on page 0: the access runs again
        vector = fault.vector if fault.vector is not None else (6 if fault.kind == "invalid-instruction" else None)
        if vector is not None and vector < 0x20 and vm.hooked(vector):
            vm.cpu.deliver_interrupt(vector)
            return
        signal, what = {0: (SIGFPE, "divide error"), 6: (SIGILL, "invalid instruction")}.get(
            vector, (SIGSEGV, fault.detail or fault.kind))
        where = vm.cpu.describe_pc()
        thread.process.exit_reason = what
        vm.finish(128 + signal, f"the DOS program stopped the virtual machine: {what} at {where}")

    # --- figures ----------------------------------------------------------------------------

    def stats_lines(self) -> list[str]:
        """What --stats shows of each VDM: the VM's reserved memory, what DOS has given
        out, and the calls that stayed inside against those that crossed to NT."""
        lines = []
        for process_object in self.processes:
            vm = process_object.data
            peak = vm.peak_paragraphs
            calls = vm.inside + vm.crossing_calls
            lines += [
                f"{IMAGE_NAME} (pid {process_object.pid}): {vm.program}",
                f"    VM memory reserved   {RAM_SIZE:,} bytes (1 MiB + HMA, at once, as a VM's RAM)",
                f"    DOS memory used      {peak:,} paragraphs at most ({peak * 16:,} of 655,360 bytes)",
                f"    BIOS/DOS calls       {calls:,}: {vm.inside:,} stayed inside the VM, "
                f"{vm.crossing_calls:,} crossed to NT",
                f"    Nt* calls            {vm.crossings:,} made by the VM (its files and the console)",
            ]
        return lines

