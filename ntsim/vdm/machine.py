"""The virtual DOS machine: 1 MiB of real-mode memory, its interrupt vectors, its devices.

This is what NTVDM is, and what a subsystem is not: the program does not get its calls
translated one by one — it gets a whole little PC. Its memory is one block reserved up
front (conventional memory, the upper area with video memory and the BIOS, and the HMA),
as a hypervisor reserves a guest's RAM. Inside it, where DOS programs expect them:

    0000:0000  the interrupt vector table: 256 far pointers, each at a BIOS trap stub
    0040:0000  the BIOS data area (equipment, memory size, video mode, cursor, ticks)
    0060:0000  DOS's own data (the List of Lists that INT 21h AH=52h returns)
    0100:0000  the first memory control block: the MCB chain of conventional memory
    A000:0000  the end of conventional memory (640 KiB)
    B800:0000  80x25 colour text video memory
    F000:0100  the trap stubs, `INT n; IRET`, one per vector (4 bytes each)
    F000:FFF0  the reset vector, the BIOS date and the model byte

The trap (NTVDM's BOP, here an `INT n` the processor reports to ntsim): when a program
executes `INT n` and vector n still points at its stub, the host handler runs at once;
when the program has hooked the vector, the processor delivers the interrupt to the
program's handler through the table, as a real 8086 would, and when that handler chains
to the old vector (a far jump or call to the stub) the stub's own `INT n` traps and the
host handler runs then — its flags go into the IRET frame, as a real BIOS's `RETF 2` or
stack-flag patching does. One registry (`services`) maps each vector to its handler.

Only two kinds of work leave the machine: files on C: and the console. Each is an Nt*
call made by this process (layer `nt` in the trace); everything else — memory
allocation, interrupt vectors, the PSP, the clock, ports — is done inside (layer `vm`).
`crossings` and `inside` count the two, for --stats.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from unicorn import UC_PROT_ALL, UC_PROT_NONE
from unicorn import x86_const as x86

from ..kernel.cpu import PAGE_EXECUTE_READWRITE, REGISTERS, Cpu
from ..trace import VM

RAM_SIZE = 0x110000                 # 1 MiB and the HMA (64 KiB less 16 bytes, rounded to a page)
CONVENTIONAL_TOP = 0xA000           # segment: 640 KiB
VIDEO_SEGMENT, VIDEO_SIZE = 0xB800, 80 * 25 * 2
BIOS_SEGMENT = 0xF000
STUB_OFFSET, STUB_SIZE = 0x0100, 4
STUB_BASE = BIOS_SEGMENT * 16 + STUB_OFFSET
STUB_END = STUB_BASE + 256 * STUB_SIZE
BDA = 0x400                         # the BIOS data area's linear address
DOS_DATA_SEGMENT = 0x0060
FIRST_MCB = 0x0100
TICKS_PER_DAY = 0x1800B0            # the BIOS counts 18.2 ticks a second, 1,573,040 a day
TICK_NS = 54_925_494                # 65,536 / 1,193,182 Hz
POLL_TICKS = 18                     # the timer keeps ticking ~1 s after the program looked at it

# BIOS data area fields (offsets from 0040:0000)
BDA_EQUIPMENT, BDA_MEMORY_KB = 0x10, 0x13
BDA_KEYBOARD_FLAGS = 0x17
BDA_VIDEO_MODE, BDA_COLUMNS, BDA_PAGE_SIZE, BDA_PAGE_OFFSET = 0x49, 0x4A, 0x4C, 0x4E
BDA_CURSOR, BDA_CURSOR_SHAPE, BDA_ACTIVE_PAGE, BDA_CRTC_PORT = 0x50, 0x60, 0x62, 0x63
BDA_TICKS, BDA_MIDNIGHT = 0x6C, 0x70
BDA_ROWS = 0x84

CARRY, ZERO = 0x0001, 0x0040

_AX, _BX, _CX, _DX = x86.UC_X86_REG_AX, x86.UC_X86_REG_BX, x86.UC_X86_REG_CX, x86.UC_X86_REG_DX
_FLAGS, _SP, _SS = x86.UC_X86_REG_FLAGS, x86.UC_X86_REG_SP, x86.UC_X86_REG_SS
_CS, _IP = x86.UC_X86_REG_CS, x86.UC_X86_REG_IP


BYTE_REGISTERS = frozenset(("al", "ah", "bl", "bh", "cl", "ch", "dl", "dh"))


def stub_address(vector: int) -> tuple[int, int]:
    """(segment, offset) of the trap stub for `vector`."""
    return BIOS_SEGMENT, STUB_OFFSET + vector * STUB_SIZE


# each vector's table entry while it points at its stub (offset, then segment)
_STUB_ENTRIES = [struct.pack("<HH", STUB_OFFSET + vector * STUB_SIZE, BIOS_SEGMENT)
                 for vector in range(256)]


class CountingServices:
    """The Nt* services as the VDM process calls them: every call is a crossing from the
    virtual machine to the NT kernel, and is counted (the calls themselves are traced by
    the services, in layer `nt`)."""

    def __init__(self, services: Any, vm: VirtualDosMachine) -> None:
        self._services = services
        self._vm = vm

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._services, name)
        if not name.startswith("Nt"):
            return call

        def crossing(*args: Any, **kwargs: Any) -> Any:
            self._vm.crossings += 1
            return call(*args, **kwargs)

        return crossing


class VirtualDosMachine:
    """One VDM: the processor, the memory, the devices and DOS's state for one process.
    It is also the caller the call gate hands to every handler (`thread`, `cpu`)."""

    def __init__(self, kernel: Any, process: Any, thread: Any, cpu: Cpu) -> None:
        self.kernel = kernel
        self.process = process
        self.thread = thread
        self.cpu = cpu
        self.read_register = cpu.registers.read
        self.write_register = cpu.registers.write
        self.nt = CountingServices(kernel.services, self)
        self.crossings = 0            # Nt* calls the machine made for its program
        self.inside = 0               # BIOS and DOS calls that needed no Nt* call
        self.crossing_calls = 0       # ... and those that made one or more
        self.peak_paragraphs = 0      # the most conventional memory DOS had given out
        self.services: dict[int, Callable[[Any], None]] = {}   # vector -> host handler (a gate's trap)
        self.via_stub = False         # the running call came through a stub (IRET frame)
        self.break_pending = False    # the console's Ctrl+C, not yet acted on by DOS
        self.ctrl_c_frame: tuple[int, int] | None = None   # SS:SP while INT 23h runs
        self.console: Any = None      # ConsoleClient, once opened
        self._video_shadow = b""      # video memory as the console last saw it
        self.screen_stale = False     # the console changed the screen since the last pull
        self._warned_ports: set[int] = set()
        self.started_ns = kernel.clock.monotonic_ns()
        self.dos: Any = None          # dos.Dos, set by the personality
        self.ports: Any = None
        self.warned_modes: set[int] = set()
        self._tick_ns = 0             # the clock when the last tick was counted or delivered
        self._timer: Any = None       # the dispatcher's timer for the next tick, while armed
        self._observed = 0            # ticks the timer goes on for since the program last looked
        self._watching = False        # page 0 is inaccessible to the processor (see the timer)
        self._timing = False          # the timer has started
        self._clock = kernel.clock
        host = cpu._real_mode_host(0)
        self.ram = memoryview((ctypes.c_char * RAM_SIZE).from_address(host)).cast("B")

    # --- memory -----------------------------------------------------------------------------

    def read(self, segment: int, offset: int, size: int) -> bytes:
        linear = (segment << 4) + offset
        return bytes(self.ram[linear:linear + size])

    def write(self, segment: int, offset: int, data: bytes) -> None:
        """Bytes into guest memory through the processor (code it translated from there
        is dropped: a file read into memory may be code, an overlay)."""
        linear = (segment << 4) + offset
        if linear + len(data) > RAM_SIZE:
            data = data[:max(0, RAM_SIZE - linear)]
        if data:
            self.cpu.write(linear, data)

    def word(self, linear: int) -> int:
        return self.ram[linear] | self.ram[linear + 1] << 8

    def set_word(self, linear: int, value: int) -> None:
        self.ram[linear] = value & 0xFF
        self.ram[linear + 1] = (value >> 8) & 0xFF

    def string(self, segment: int, offset: int, terminator: int = 0, limit: int = 128) -> bytes:
        """A string at segment:offset up to `terminator` (ASCIZ, or '$' for AH=09h)."""
        linear = (segment << 4) + offset
        end = min(linear + limit, RAM_SIZE)
        data = bytes(self.ram[linear:end])
        found = data.find(bytes((terminator,)))
        return data if found < 0 else data[:found]

    def far_pointer(self, linear: int) -> tuple[int, int]:
        """(segment, offset) of a far pointer stored at `linear` (offset first)."""
        return self.word(linear + 2), self.word(linear)

    # --- registers --------------------------------------------------------------------------

    def reg(self, name: str) -> int:
        """A register by name (al, ax, eax, ds, flags...), at its width (the fast
        register file reads into a 64-bit word whose other bytes are stale)."""
        value = self.read_register(REGISTERS[name])
        if name in BYTE_REGISTERS:
            return value & 0xFF
        return value & (0xFFFF_FFFF if name[0] == "e" else 0xFFFF)

    def set(self, **registers: int) -> None:
        write = self.write_register
        for name, value in registers.items():
            write(REGISTERS[name], value & (0xFF if name in BYTE_REGISTERS else 0xFFFF))

    def set_flag(self, bit: int, on: bool) -> None:
        """A result flag (CF, ZF): in the FLAGS register, or — when the call came through
        a stub — in the FLAGS word of the IRET frame the stub returns through."""
        if self.via_stub:
            at = ((self.read_register(_SS) & 0xFFFF) << 4) + ((self.read_register(_SP) + 4) & 0xFFFF)
            value = self.word(at)
            self.set_word(at, value | bit if on else value & ~bit)
            return
        flags = self.read_register(_FLAGS) & 0xFFFF
        self.write_register(_FLAGS, flags | bit if on else flags & ~bit)

    def dos_last_error(self, code: int) -> None:
        """A DOS call failed: AH=59h reports it."""
        if self.dos is not None:
            self.dos.last_error = code

    def finish(self, code: int, note: str = "") -> None:
        """The first program ended: the screen is brought up to date and the VDM process
        exits with the program's code."""
        try:
            self.sync_video(pull=False)
        except Exception:              # noqa: BLE001 - the console may be gone already
            pass
        self.kernel.terminate_process(self.process, code, note)

    # --- the interrupt vector table and the trap --------------------------------------------

    def vector(self, number: int) -> tuple[int, int]:
        return self.far_pointer(number * 4)

    def set_vector(self, number: int, segment: int, offset: int) -> None:
        self.set_word(number * 4, offset)
        self.set_word(number * 4 + 2, segment)
        if (number == 0x08 or number == 0x1C) and self._timer is None and self._timing:
            self.update_timer()           # hooked (AH=25h): the program's handler wants ticks

    def hooked(self, number: int) -> bool:
        """Has the program pointed this vector away from its stub?"""
        at = number * 4
        return self.ram[at:at + 4] != _STUB_ENTRIES[number]

    def install_vectors(self) -> None:
        """Every vector at its stub (`INT n; IRET; NOP`); the reset vector and the BIOS's
        identification at the top of the F000 segment."""
        stubs = bytearray()
        for number in range(256):
            stubs += bytes((0xCD, number, 0xCF, 0x90))
            self.set_vector(number, *stub_address(number))
        self.cpu.write(STUB_BASE, bytes(stubs))
        # F000:FFF0 the reset vector (a far jump to INT 19h's stub: bootstrap = stop);
        # F000:FFF5 the BIOS date; F000:FFFE the model byte (FCh: an AT)
        self.cpu.write(0xFFFF0, b"\xea" + struct.pack("<HH", *reversed(stub_address(0x19)))
                       + b"12/07/26\x00\xfc\x00")

    def on_interrupt(self, vector: int) -> None:
        """The processor reported `INT n` (see the module's docstring)."""
        cpu = self.cpu
        read = self.read_register
        linear = ((read(_CS) & 0xFFFF) << 4) + (read(_IP) & 0xFFFF) - 2
        via_stub = STUB_BASE <= linear < STUB_END
        if not via_stub and self.ram[vector * 4:vector * 4 + 4] != _STUB_ENTRIES[vector]:
            cpu.deliver_interrupt(vector)        # the program's own handler, through the IVT
            tracer = self.kernel.tracer
            if tracer.detailed:
                tracer.detail(self.thread, VM, "InterruptThroughIvt", {
                    "Vector": f"{vector:02X}h", "Handler": cpu.describe_pc()})
            return
        self.via_stub = via_stub
        if vector == 0x1A or vector == 0x16:
            self.observe_time()                  # the clock, or a key that may come in time
        if vector == 0x21 and self.dos is not None \
                and (self.ctrl_c_frame is not None or self.break_pending):
            from .dos import console  # (dos imports this module)
            if self.ctrl_c_frame is not None and console.returned_from_ctrl_c(self):
                self.via_stub = False          # the program ended (INT 23h: CF set)
                return
            if console.break_due(self, self.reg("ah")):
                console.issue_ctrl_c(self)
                self.via_stub = False
                return
        handler = self.services.get(vector)
        before = self.crossings
        if handler is None:
            self.unhandled(vector)
        else:
            handler(cpu.uc)
        if self.crossings == before:
            self.inside += 1
        else:
            self.crossing_calls += 1
        if self.thread.wait is None and self.thread.completion is None:
            self.via_stub = False         # (a call that waits finishes later, the same way)
        if self._timer is None and self._timing \
                and self._clock.monotonic_ns() - self._tick_ns >= TICK_NS and self.process.alive:
            self.update_timer()           # a natural stop: the ticks since the last one

    def unhandled(self, vector: int) -> None:
        """A vector no BIOS or DOS service answers: like an `IRET`-only ROM handler, it
        returns at once (the trace shows it)."""
        tracer = self.kernel.tracer
        if tracer.enabled:
            event = tracer.open(self.thread, VM, f"INT {vector:02X}h",
                                {"ax": hex(self.reg("ax"))})
            tracer.close(self.thread, event, None, None)

    # --- the timer: IRQ 0 at 18.2 Hz ----------------------------------------------------------
    # A real PC's timer interrupts the processor 18.2 times a second, whoever listens. Here
    # a tick armed on the dispatcher makes the program run in counted quanta (the timer
    # must be able to cut in), and a tight loop of a few instructions a block pays the
    # count on every block: half its speed. So the timer ticks only while something can
    # observe a tick as it happens — a program's own INT 08h/1Ch handler, a program that
    # looks at the clock or waits on a device (INT 1Ah, INT 16h, any I/O port, the tick
    # count in the BIOS data area), a run with limits or driven by the TUI (counted anyway).
    # Otherwise the count is brought up to date from the clock at the machine's natural
    # stops (each INT that reaches the BIOS or DOS), and page 0 (the vector table and the
    # BIOS data area) is made inaccessible to the processor: the first read of the tick
    # count, or a write that hooks a vector directly, faults before it happens; the count
    # is then caught up, the page given back, the timer armed for POLL_TICKS, and the
    # instruction runs again (see `page_zero_fault`). A fault stops the processor before
    # the access, so the instruction restarts whole — unlike a stop after a store. The
    # watch costs nothing until the page is touched: unicorn checks page rights only
    # when it fills its TLB.

    def start_timer(self) -> None:
        self._tick_ns = self.kernel.clock.monotonic_ns()
        self._timing = True
        self._observed = 0
        self._watching = False
        self.update_timer()

    def observe_time(self) -> None:
        """The program looked at the clock: keep the timer ticking for POLL_TICKS."""
        self._observed = POLL_TICKS
        if self._timer is None:
            self.update_timer()

    def _ticks_wanted(self) -> bool:
        dispatcher = self.kernel.dispatcher
        return self._observed > 0 or self.hooked(0x08) or self.hooked(0x1C) \
            or dispatcher.interruptible or dispatcher.limited

    def update_timer(self) -> None:
        """At a natural stop: arm the timer if a tick can be observed, else watch page
        0; either way the tick count first catches up with the clock."""
        if self._timer is None and (due := self._due_ticks()):
            self._count_due_ticks(due)
            self.sync_video()             # what the timer would have done at each tick
        if self._ticks_wanted():
            if self._watching:
                self._watch_page_zero(False)
            if self._timer is None:
                due = self._tick_ns + TICK_NS - self.kernel.clock.monotonic_ns()
                self._timer = self.kernel.dispatcher.set_timer(max(0, due), self._tick)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._watching:
            self._watch_page_zero(True)

    def _watch_page_zero(self, on: bool) -> None:
        self._watching = on
        self.cpu.uc.mem_protect(0, 0x1000, UC_PROT_NONE if on else UC_PROT_ALL)

    def page_zero_fault(self) -> bool:
        """The processor refused an access: True if it was page 0 being watched (the
        access runs again once this returns; a real fault repeats, unwatched)."""
        if not self._watching:
            return False
        self._watch_page_zero(False)
        self._count_due_ticks(self._due_ticks())
        self.observe_time()
        return True

    def _due_ticks(self) -> int:
        due = (self.kernel.clock.monotonic_ns() - self._tick_ns) // TICK_NS
        if due > 0:
            self._tick_ns += due * TICK_NS
        return max(0, due)

    def _count_due_ticks(self, due: int) -> None:
        for _ in range(min(due, TICKS_PER_DAY)):
            self.count_tick()

    def _tick(self) -> None:
        """IRQ 0. The tick count in the BIOS data area always moves (programs poll it);
        a program that hooked INT 08h or 1Ch gets the interrupt, when it can take one."""
        self._timer = None
        if not self.process.alive:
            return
        due = self._due_ticks()
        if due:
            self._count_due_ticks(due - 1)       # the host ran late: those ticks are counted
            thread = self.thread
            deliverable = thread.wait is None and thread.completion is None \
                and self.cpu.loaded_thread is thread and self.cpu.interrupts_enabled
            if deliverable and self.hooked(0x08):
                self.cpu.deliver_interrupt(0x08)    # the program's handler chains to ours
            else:
                self.count_tick()
                if deliverable and self.hooked(0x1C):
                    self.cpu.deliver_interrupt(0x1C)
            self._observed = max(0, self._observed - 1)
        self.sync_video()
        self.update_timer()

    def count_tick(self) -> None:
        ticks = self.word(BDA + BDA_TICKS) | self.word(BDA + BDA_TICKS + 2) << 16
        ticks += 1
        if ticks >= TICKS_PER_DAY:
            ticks = 0
            self.ram[BDA + BDA_MIDNIGHT] = 1
        self.set_word(BDA + BDA_TICKS, ticks & 0xFFFF)
        self.set_word(BDA + BDA_TICKS + 2, ticks >> 16)

    def ticks_since_midnight(self) -> int:
        seconds = self.local_time()
        return int((seconds % 86400) * 1_193_182 / 65_536)

    def local_time(self) -> float:
        """Seconds since the epoch in local time: the host's clock, or the virtual clock
        (from 1980-01-01, DOS's epoch) under --deterministic."""
        if self.kernel.deterministic:
            return 315_532_800 + self.kernel.clock.monotonic_ns() / 1e9
        now = time.time()
        return now - time.timezone + (3600 if time.localtime(now).tm_isdst > 0 else 0)

    # --- the screen: video memory <-> the console's screen buffer ---------------------------

    def video_memory(self) -> bytes:
        start = VIDEO_SEGMENT * 16
        return bytes(self.ram[start:start + VIDEO_SIZE])

    def sync_video(self, pull: bool = True) -> None:
        """Stores the program made into video memory go to the console (one crossing for
        the changed span); then, if the console changed the screen (teletype output, a
        scroll), video memory is refreshed from it."""
        if self.console is None:
            return
        current = self.video_memory()
        shadow = self._video_shadow
        if current != shadow:
            first = next(i for i in range(VIDEO_SIZE) if current[i] != shadow[i])
            last = next(i for i in range(VIDEO_SIZE - 1, -1, -1) if current[i] != shadow[i])
            self.console.write_video_memory(first, current[first:last + 1])
            self._video_shadow = current
        if self.screen_stale and pull:
            self.pull_screen()

    def pull_screen(self) -> None:
        self.screen_stale = False
        data = self.console.read_video_memory(0, VIDEO_SIZE)
        data = data[:VIDEO_SIZE].ljust(VIDEO_SIZE, b"\x00")
        start = VIDEO_SEGMENT * 16
        self.ram[start:start + VIDEO_SIZE] = data
        self._video_shadow = data
        info = self.console.info()
        self.ram[BDA + BDA_CURSOR] = info.cursor_column
        self.ram[BDA + BDA_CURSOR + 1] = info.cursor_row

    # --- ports --------------------------------------------------------------------------------

    def warn_port(self, port: int, direction: str) -> None:
        if port not in self._warned_ports:
            self._warned_ports.add(port)
            print(f"ntsim: vdm: {direction} port {port:#06x}: no device there "
                  f"({'reads FFh' if direction == 'IN from' else 'ignored'})", file=sys.stderr)


def reserve_ram(process: Any) -> None:
    """The guest's RAM, reserved and committed up front as a hypervisor does: the VAD
    shows the VM's memory in the process's figures; the processor maps it at linear 0."""
    memory = process.memory
    memory.reserve(None, RAM_SIZE, PAGE_EXECUTE_READWRITE, tag="VDM RAM")
    memory.commit(0, RAM_SIZE, PAGE_EXECUTE_READWRITE)
    process.cpu.map(0, RAM_SIZE, PAGE_EXECUTE_READWRITE)
