"""The processor: one unicorn address space per process.

`Cpu` is the only module that talks to unicorn about execution. It knows registers by
name, maps and protects memory, installs trap hooks for a personality, and runs the
current thread for a quantum, reporting *why* it stopped: the quantum ran out, a trap
handler asked to stop (the thread blocked, exited or must be rescheduled), or the guest
faulted.

A process runs in one of four processor modes (MODES): long mode (LXSS), 32-bit flat
protected mode (Win32, PSXSS), the 286's 16-bit protected mode with a GDT and a
per-process LDT (OS/2 1.x; descriptors.py builds the tables), and real mode (the VDM).
In the segmented modes the PC is an offset in CS (`pc`, shown as CS:IP) and the address
space sees CS's base + offset (`linear_pc`): breakpoints and faults use linear addresses.
Traps are `syscall`, `INT n` (a far-call thunk is a segment of `INT n; RETF k` stubs)
and port I/O; a virtual machine's devices raise interrupts with `inject_interrupt`.

Speed matters here: a run with no per-instruction hook executes at unicorn's full speed,
so nothing in this module hooks every instruction unless someone is stepping or counting.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn import x86_const as x86

from .descriptors import DESCRIPTOR_SIZE, DescriptorTable, SegmentDescriptor, describe_selector
from .pagetable import PageTable
from .physical import PAGE_SIZE, PHYSICAL_BASE, PhysicalMemory, ram
from .quantum import QuantumCounter
from .quantum import available as quantum_counter_available

# A quantum is counted in translated blocks (quantum.py). Where no native counter can be
# made, it is counted in instructions instead, about this many to a block.
INSTRUCTIONS_PER_BLOCK = 4
_NO_LIMIT = 1 << 62
# A lone run of code that holds the counter drops it after this many blocks (see run).
SHED_COUNTER_AFTER = 2_000_000

# Where emulation would stop if the guest reached it; no guest maps this page. Whenever a
# run starts and ends, unicorn looks up the page below it for fetching (to drop code
# translated there); that page is mapped in every page table (a zero page, read-only), so
# the lookup never faults — a fault there would stay "in flight" and turn the guest's next
# page fault into a double fault.
_NEVER = {"x86-64": 0xFFFF_FFFF_FFFF_F000, "x86-32": 0xFFFF_F000,
          "x86-16-protected": 0xFFFF_F000, "x86-16": 0xFFFF_F000}

# The processor modes a process can run in, by the names `Cpu(architecture)` takes.
LONG_MODE = "x86-64"                   # x86-64: Linux (LXSS) and 64-bit NT programs
PROTECTED_MODE_32 = "x86-32"           # 32-bit flat protected mode: Win32, POSIX (PSXSS)
PROTECTED_MODE_16 = "x86-16-protected"   # the 286's protected mode: OS/2 1.x (OS2SS)
REAL_MODE = "x86-16"                   # the 8086's real mode: DOS in the VDM


@dataclass(frozen=True)
class ProcessorMode:
    """What differs between the modes, in one row each."""

    name: str
    description: str
    unicorn_mode: int
    pc_register: int          # the offset in CS: IP, EIP or RIP
    flags_register: int
    segmented: bool           # addresses are segment base + offset (CS:IP)
    registers: tuple[str, ...]   # what a debugger shows, in order
    user_space: tuple[int, int]  # a process's lowest and highest user address


_GENERAL_16 = ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")
_SEGMENTS = ("cs", "ds", "es", "ss")
MODES: dict[str, ProcessorMode] = {mode.name: mode for mode in (
    ProcessorMode(LONG_MODE, "long mode (x86-64)", unicorn.UC_MODE_64,
                  x86.UC_X86_REG_RIP, x86.UC_X86_REG_RFLAGS, False,
                  ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                   *(f"r{n}" for n in range(8, 16)), "rip", "rflags", "fs_base", "gs_base"),
                  # NT's x64 user space: 64 KiB up to 8 TB less 64 KiB
                  (0x10000, 0x7FFF_FFFE_FFFF)),
    ProcessorMode(PROTECTED_MODE_32, "32-bit flat protected mode", unicorn.UC_MODE_32,
                  x86.UC_X86_REG_EIP, x86.UC_X86_REG_EFLAGS, False,
                  ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip", "eflags",
                   *_SEGMENTS, "fs", "gs"),
                  (0x10000, 0x7FFE_FFFF)),                 # NT's 2 GiB user space
    # The 286's mode runs under unicorn's 32-bit engine: segments whose descriptors say
    # 16-bit (D=0) make the processor decode 16-bit code (DESIGN.md, unicorn section).
    ProcessorMode(PROTECTED_MODE_16, "16-bit protected mode (segments from the GDT/LDT)",
                  unicorn.UC_MODE_32, x86.UC_X86_REG_EIP, x86.UC_X86_REG_FLAGS, True,
                  (*_GENERAL_16, "ip", "flags", *_SEGMENTS, "ldtr"),
                  (0x10000, 0x7FFE_FFFF)),    # OS2SS's clients were 32-bit NT processes
    ProcessorMode(REAL_MODE, "real mode (segment x 16 + offset)", unicorn.UC_MODE_16,
                  x86.UC_X86_REG_IP, x86.UC_X86_REG_FLAGS, True,
                  (*_GENERAL_16, "ip", "flags", *_SEGMENTS),
                  (0, 0x10FFEF)),             # 1 MiB and the HMA, from address 0
)}

# The size of the buffer unicorn translates guest code into, for each processor. unicorn's
# default is 1 GiB with transparent huge pages asked for (MADV_HUGEPAGE); a Linux host that
# aligns large anonymous mappings to 2 MiB then backs the first translated block with a
# whole 2 MiB page, zeroed (at times after memory compaction) as the engine starts: 1-5 ms
# and 2 MiB for every processor, and ntsim makes one per fork and one per execve. 16 MiB
# holds the translated code of any program here (a full buffer is flushed and refilled,
# not an error); one page short of a multiple of 2 MiB it is not aligned, so it gets
# ordinary pages. Measured: a processor starts in 0.45 ms instead of 1.3-5 ms.
TRANSLATION_BUFFER = 16 * 1024 * 1024 - 4096

# How the processor finds a page: real x86 page tables (pagetable.py) in the machine's RAM
# (physical.py), walked by unicorn's own MMU. A TLB miss is filled in C; Python runs only
# on a page fault (#PF), when the page has no frame yet or a write meets a read-only entry
# (see `_interrupt`). A real-mode processor has no paging: its memory is mapped 1:1.
PAGE_FAULT, DOUBLE_FAULT = 14, 8
CR0_PE, CR0_WP, CR0_PG = 0x1, 0x1_0000, 0x8000_0000
CR4_PAE = 0x20
EFER, EFER_NXE = 0xC000_0080, 0x800
PF_WRITE, PF_FETCH = 0x2, 0x10

# Register names a student will type, mapped to unicorn's identifiers.
REGISTERS: dict[str, int] = {
    name[len("UC_X86_REG_"):].lower(): value
    for name, value in vars(x86).items()
    if name.startswith("UC_X86_REG_") and name != "UC_X86_REG_ENDING"
}

# NT page protections (PAGE_*); pagetable.entry_bits turns them into page-table entry bits.
PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY = 0x01, 0x02, 0x04, 0x08
PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE = 0x10, 0x20, 0x40
PAGE_EXECUTE_WRITECOPY, PAGE_GUARD = 0x80, 0x100


@functools.cache
def _unicorn_library() -> ctypes.CDLL:
    """unicorn's C library through a plain ctypes handle (opened once, not per processor)."""
    from unicorn.unicorn_py3 import unicorn as binding

    return ctypes.CDLL(binding.uclib._name)


class RegisterFile:
    """Fast register access for trap handlers.

    unicorn's Python `reg_read` costs about 1.7 µs, mostly argument conversion; a trap
    handler reads and writes several registers, so that would dominate a system call.
    This calls the same C functions (`uc_reg_read` / `uc_reg_write`) through a ctypes
    handle without argument conversion: about 0.25 µs. It relies on two internals of
    unicorn's binding (`uclib`, `Uc._uch`) and falls back to the public API without them.
    """

    def __init__(self, uc: unicorn.Uc) -> None:
        self._value = ctypes.c_uint64()
        self._ref = ctypes.byref(self._value)
        self._readers: dict[tuple[int, ...], Callable[[], list[int]]] = {}
        try:
            library = _unicorn_library()
            self._handle = uc._uch
            self._c_read, self._c_write = library.uc_reg_read, library.uc_reg_write
            self._c_read_batch = library.uc_reg_read_batch
        except (ImportError, AttributeError, OSError):
            self.read, self.write = uc.reg_read, uc.reg_write
            self._c_read_batch = None

    def reader(self, registers: tuple[int, ...]) -> Callable[[], list[int]]:
        """A function reading `registers` at once, as a list: one C call
        (`uc_reg_read_batch`, into buffers made once) where `read` makes one each — a
        trap that needs four registers saves most of a microsecond."""
        found = self._readers.get(registers)
        if found is None:
            if self._c_read_batch is None:
                read = self.read
                found = lambda: [read(register) for register in registers]  # noqa: E731
            else:
                count = len(registers)
                ids = (ctypes.c_int * count)(*registers)
                values = (ctypes.c_uint64 * count)()
                pointers = (ctypes.c_void_p * count)(*(ctypes.addressof(values) + 8 * index
                                                       for index in range(count)))
                batch, handle = self._c_read_batch, self._handle

                def found() -> list[int]:
                    batch(handle, ids, pointers, count)
                    return values[:]
            self._readers[registers] = found
        return found

    def read(self, register: int) -> int:
        self._c_read(self._handle, register, self._ref)
        return self._value.value

    def write(self, register: int, value: int) -> None:
        self._value.value = value & 0xFFFF_FFFF_FFFF_FFFF
        self._c_write(self._handle, register, self._ref)


@dataclass
class Fault:
    """The guest did something the processor refuses: the personality decides what
    it means (a Linux SIGSEGV, an NT access violation, a DOS crash, an OS/2 GP fault)."""

    kind: str           # "read", "write", "fetch", "invalid-instruction", or an exception's
    #                     name ("general-protection", "divide", ...: EXCEPTION_NAMES)
    address: int        # the faulting data address (or the instruction's, for the others)
    pc: int             # the faulting instruction's linear address
    detail: str = ""
    vector: int | None = None       # the processor exception's vector (13 for #GP)
    error_code: int | None = None   # the error code it pushed, if it pushes one
    selector: int | None = None     # the selector the error code names (#GP, #NP, #SS, #TS)


# The processor's exceptions (Intel SDM vol. 3, 6.15), by vector.
EXCEPTION_NAMES = {
    0: "divide", 1: "debug", 3: "breakpoint", 4: "overflow", 5: "bound-range",
    6: "invalid-instruction", 7: "no-math-coprocessor", 8: "double-fault",
    10: "invalid-tss", 11: "segment-not-present", 12: "stack", 13: "general-protection",
    14: "page", 16: "math", 17: "alignment-check", 18: "machine-check", 19: "simd",
}
_ONE_BYTE_INTERRUPTS = {(1, 0xF1), (3, 0xCC), (4, 0xCE)}   # INT1, INT3, INTO; else CD nn
_PUSHES_ERROR_CODE = {8, 10, 11, 12, 13, 14, 17}
_SELECTOR_ERROR_CODE = {10, 11, 12, 13}   # the error code is a selector (or 0)


@dataclass(frozen=True)
class _StateLayout:
    """Where, in a saved unicorn context, lie the fields of QEMU's CPUX86State that no
    unicorn register reaches: found once by running a throwaway processor (below)."""

    eip: int
    hflags: int           # HF_* flags; the low two bits are the CPL
    segments: int         # SegmentCache segs[6] (ES, CS, SS, DS, FS, GS), 24 bytes each
    error_code: int
    exception_is_int: int   # 1: `INT n`; 0: a processor exception
    old_exception: int      # "exception in flight" (-1 when none)


_HF_CPL = 3
_HF_CS32, _HF_PE = 1 << 4, 1 << 7
_SEGMENT_CACHE_SIZE = 24
_SEGMENT_ORDER = ("es", "cs", "ss", "ds", "fs", "gs")


@functools.cache
def _state_layout() -> _StateLayout:
    """Find the hidden fields by what they do: EIP holds a marker we write; an `INT n`
    sets exception_is_int to 1 and a #GP sets it to 0, its error code to the selector it
    refused, and old_exception from -1 to 13. hflags and segs follow EIP in QEMU's
    structure (eip, eflags, cc_dst, cc_src, cc_src2, cc_op, df, hflags, hflags2, segs);
    the CPL and protected-mode bits of a fresh 32-bit processor check that guess."""
    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_32)
    uc.mem_map(0, 0x10000)
    marker, refused = 0x0BAD_C0DE, 0x3C
    uc.mem_write(0x1000, b"\xcd\x21" + b"\x66\xb8" + refused.to_bytes(2, "little")
                 + b"\x8e\xc0")                        # int 21h; mov ax, 3Ch; mov es, ax
    fresh = bytes(uc.context_save())
    uc.reg_write(x86.UC_X86_REG_EIP, marker)
    marked = bytes(uc.context_save())
    seen: dict[int, bytes] = {}

    def interrupt(uc, number, _data):
        seen[number] = bytes(uc.context_save())
        if number == 13:
            uc.emu_stop()

    uc.hook_add(unicorn.UC_HOOK_INTR, interrupt)
    uc.emu_start(0x1000, 0xFFFF, 0, 10)

    def ints(data: bytes) -> list[int]:
        return list(struct.unpack(f"<{len(data) // 4}i", data[:len(data) // 4 * 4]))

    before, after_int, after_fault, marked_ints = ints(fresh), ints(seen[0x21]), \
        ints(seen[13]), ints(marked)
    eip = [i * 4 for i, v in enumerate(marked_ints) if v == marker and before[i] != marker]
    is_int = [i * 4 for i in range(len(before)) if after_int[i] == 1 and after_fault[i] == 0]
    error = [i * 4 for i in range(len(before)) if after_fault[i] == refused and after_int[i] != refused]
    old = [i * 4 for i in range(len(before)) if before[i] == -1 and after_fault[i] == 13]
    layout = None
    if len(eip) == 1 and len(old) == 1:
        candidates = [(e, e + 4) for e in error if e + 4 in is_int]
        if len(candidates) == 1:
            layout = _StateLayout(eip[0], eip[0] + 48, eip[0] + 56, candidates[0][0],
                                  candidates[0][1], old[0])
    if layout is None or before[layout.hflags // 4] & (_HF_CS32 | _HF_PE) != _HF_CS32 | _HF_PE:
        raise RuntimeError("this unicorn keeps its processor state in a layout ntsim does not "
                           "know (unicorn 2.1 is needed for segments and exceptions)")
    return layout


class _HiddenState:
    """The CPL, the segment caches and the last exception's record: state unicorn has no
    register for, read from (and for the CPL, written into) a saved context. A context is
    saved only when one of these is asked for (a fault, a 16-bit protected-mode PC), not
    on any hot path."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self.layout = _state_layout()
        library = _unicorn_library()
        self._handle = uc._uch
        self._context = ctypes.c_void_p()
        if library.uc_context_alloc(self._handle, ctypes.byref(self._context)) != 0:
            raise MemoryError("unicorn could not allocate a context")
        self._save, self._restore = library.uc_context_save, library.uc_context_restore
        self._free = library.uc_context_free
        # the fields every exception reads and writes, as views into the saved context
        self._is_int = self._int(self.layout.exception_is_int)
        self._error_code = self._uint(self.layout.error_code)
        self._in_flight = self._int(self.layout.old_exception)

    def end_exception(self) -> tuple[bool, int]:
        """The interrupt being reported: (was it `INT n`, its error code). A processor
        exception is also marked as no longer in flight (see forget_exception_in_flight).
        One save, and one restore for an exception: this is the page-fault path."""
        self._save(self._handle, self._context)
        if self._is_int.value:
            return True, self._error_code.value
        if self._in_flight.value != -1:
            self._in_flight.value = -1
            self._restore(self._handle, self._context)
        return False, self._error_code.value

    def _int(self, offset: int) -> ctypes.c_int32:
        return ctypes.c_int32.from_address(self._context.value + offset)

    def _uint(self, offset: int) -> ctypes.c_uint32:
        return ctypes.c_uint32.from_address(self._context.value + offset)

    def snapshot(self) -> _HiddenState:
        self._save(self._handle, self._context)
        return self

    def privilege_level(self) -> int:
        return self._uint(self.layout.hflags).value & _HF_CPL

    def set_privilege_level(self, level: int) -> None:
        """The CPL, as a ring transition (IRET to an outer ring) would leave it."""
        self.snapshot()
        flags = self._uint(self.layout.hflags)
        flags.value = flags.value & ~_HF_CPL | level
        self._restore(self._handle, self._context)

    def segment_base(self, register: str) -> int:
        offset = self.layout.segments + _SEGMENT_ORDER.index(register) * _SEGMENT_CACHE_SIZE
        return ctypes.c_uint64.from_address(self._context.value + offset + 8).value

    def forget_exception_in_flight(self) -> bool:
        """A reported exception is over: without this the processor thinks it is still
        being delivered, and the next one becomes a double fault (unicorn 2.1.4 never
        clears old_exception, since the guest's handler never runs). Works on the last
        snapshot; returns whether anything was in flight."""
        in_flight = self._int(self.layout.old_exception)
        if in_flight.value == -1:
            return False
        in_flight.value = -1
        self._restore(self._handle, self._context)
        return True

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if self._context:
            self._free(self._context)
            self._context = ctypes.c_void_p()


class ProcessorError(Exception):
    """A request the processor cannot honour in its mode (one line for the user)."""


# The flat modes' CS, DS, ES and SS start at 0 (long mode ignores their bases).
_SEGMENTS_WITHOUT_BASE = ("cs", "ds", "es", "ss")


class StopReason:
    QUANTUM = "quantum"        # the instruction budget ran out: preempt
    REQUESTED = "requested"    # a trap handler asked to stop (blocked, exited, rescheduled)
    FAULT = "fault"
    BREAKPOINT = "breakpoint"
    # HLT: the guest waits for an interrupt (a VM's idle loop). unicorn ends the run then
    # and says nothing, so a run with no instruction budget ends only this way; a
    # budgeted run that halts reports QUANTUM (HLT on x86 may end early anyway).
    HALTED = "halted"


class Cpu:
    """A processor and its address space, shared by a process's threads."""

    def __init__(self, architecture: str = LONG_MODE, physical: PhysicalMemory | None = None) -> None:
        mode = MODES.get(architecture)
        if mode is None:
            raise ValueError(f"no processor mode {architecture!r} (known: {', '.join(MODES)})")
        self.architecture = architecture
        self.mode = mode
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, mode.unicorn_mode)
        self.registers = RegisterFile(self.uc)
        self.pc_register = mode.pc_register
        self._hidden: _HiddenState | None = None   # made when first needed (see there)
        self._software_interrupt = None   # the personality's `INT n` handler (see there)
        self._raw_interrupt = None        # ... or its handler of every interrupt, raw
        self._trapping_vector: int | None = None   # inside an `INT n` trap: its vector
        # A PC read is on every run and trap: through the fast register file, masked to
        # the register's width (unicorn writes only IP's 2 bytes, EIP's 4).
        self._pc_mask = {x86.UC_X86_REG_IP: 0xFFFF, x86.UC_X86_REG_EIP: 0xFFFF_FFFF}.get(
            mode.pc_register, 0xFFFF_FFFF_FFFF_FFFF)
        self.stop_reason: str | None = None
        self.pending_fault: Fault | None = None
        # the memory manager: a page fault it can resolve (demand-zero, copy-on-write)
        self.on_page_fault: Callable[[int, bool, bool], bool] | None = None
        self.loaded_thread: Any = None   # whose registers the processor holds now
        self.instructions = 0     # counted only while a counter hook is installed
        self._counter_hook = None
        self._block_sizes: dict[tuple[int, int], int] = {}
        self._breakpoints: dict[int, int] = {}
        self._traps: list[int] = []     # the personality's trap hooks (hook_syscall, ...)
        self._uncounted_code = False   # code was translated by a run with no count (see run)
        self._translated = False        # has run: unicorn may hold translated code
        self._counter: QuantumCounter | None = None   # the quantum's block countdown (run)
        try:
            # Before the first hook: unicorn sets its translator up lazily, then.
            self.uc.ctl_set_tcg_buffer_size(TRANSLATION_BUFFER)
        except (AttributeError, unicorn.UcError):
            pass   # an older unicorn: its default buffer
        self.physical = physical or ram()
        self.uc.mem_map_ptr(PHYSICAL_BASE, self.physical.size, unicorn.UC_PROT_ALL,
                            self.physical.host_base)
        self.page_table: PageTable | None = None
        self._real_mode_regions: dict[int, tuple[int, int]] = {}   # linear base -> (frame, pages)
        self._until = _NEVER[architecture]
        if architecture != REAL_MODE:       # real mode has no paging: its RAM is mapped 1:1
            self.page_table = PageTable(self.physical, 4 if architecture == LONG_MODE else 3)
            self._map_stop_page()
            self._enable_paging()
        self.uc.hook_add(unicorn.UC_HOOK_INTR, self._interrupt)
        self.uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, self._invalid_instruction)
        if architecture in (LONG_MODE, PROTECTED_MODE_32):
            # A flat-mode guest is an application: it runs in ring 3, where the processor
            # itself refuses HLT, CLI/STI, port I/O, MSRs, control and descriptor-table
            # registers with #GP (unicorn starts in ring 0, where all of them would run).
            self.hidden_state().set_privilege_level(3)
            # ... except port I/O, which unicorn lets through in every ring: refused here
            self.uc.hook_add(unicorn.UC_HOOK_INSN, self._port_refused, None, 1, 0, x86.UC_X86_INS_IN)
            self.uc.hook_add(unicorn.UC_HOOK_INSN, self._port_refused, None, 1, 0, x86.UC_X86_INS_OUT)
        self._power_on = self.uc.context_save()   # for reset: the state it starts in
        weakref.finalize(self, _release_memory, self.page_table, self.physical,
                         self._real_mode_regions)

    def _enable_paging(self) -> None:
        """Turn the MMU on over this address space's page tables: PAE (and long mode's
        fourth level, which unicorn's 64-bit mode has already entered), no-execute pages,
        and write protection that holds in every privilege level."""
        write = self.uc.reg_write
        write(x86.UC_X86_REG_CR3, self.page_table.cr3)
        write(x86.UC_X86_REG_CR4, self.uc.reg_read(x86.UC_X86_REG_CR4) | CR4_PAE)
        self.uc.msr_write(EFER, self.uc.msr_read(EFER) | EFER_NXE)
        write(x86.UC_X86_REG_CR0, self.uc.reg_read(x86.UC_X86_REG_CR0) | CR0_PE | CR0_WP | CR0_PG)

    def _map_stop_page(self) -> None:
        self.page_table.map(self._until - PAGE_SIZE, self.physical.stop_frame, PAGE_EXECUTE_READ,
                            borrowed=True)

    def reset(self) -> None:
        """Empty the address space and put the processor back in the state it started in,
        keeping the engine and its traps: an execve loads a new program into the same
        process. (A new engine costs ~0.6 ms to build: its translation buffer and hooks.)
        Address breakpoints go with the old program's code."""
        if self.page_table is not None:
            self.page_table.destroy()
            self._map_stop_page()
        for base in list(self._real_mode_regions):
            self.unmap(base, self._real_mode_regions[base][1] * PAGE_SIZE)
        self.flush_tlb()
        if self._counter is not None:
            self._counter.remove()     # the new program gets it when it first needs it
        self.uc.ctl_flush_tb()
        self.uc.context_restore(self._power_on)
        for address in list(self._breakpoints):
            self.remove_breakpoint(address)
        self._block_sizes.clear()
        self.pending_fault = None
        self._translated = self._uncounted_code = False

    # --- registers --------------------------------------------------------------------------

    def read_register(self, name: str) -> int:
        value = self.uc.reg_read(REGISTERS[name])
        return value[0] if isinstance(value, tuple) else value   # LDTR, TR: the selector

    def write_register(self, name: str, value: int) -> None:
        """A segment register takes a selector in protected mode, checked the way a
        `mov` into it is: ProcessorError if the processor would fault instead."""
        try:
            self.uc.reg_write(REGISTERS[name], value)
        except unicorn.UcError as error:
            if name in _SEGMENT_ORDER and self.mode.segmented:
                raise ProcessorError(f"{name.upper()} cannot hold selector "
                                     f"{describe_selector(value)}: the processor would raise "
                                     f"#GP (a missing, not-present or privileged segment)") from None
            raise ProcessorError(f"cannot write {name}: {error}") from None

    @property
    def register_names(self) -> tuple[str, ...]:
        """The registers a debugger shows for this mode, in order."""
        return self.mode.registers

    def read_registers(self) -> dict[str, int]:
        return {name: self.read_register(name) for name in self.mode.registers}

    @property
    def pc(self) -> int:
        """The program counter as the mode has it: IP, EIP or RIP — an offset in CS.
        `linear_pc` is where that is in the address space."""
        return self.registers.read(self.pc_register) & self._pc_mask

    @pc.setter
    def pc(self, value: int) -> None:
        self.uc.reg_write(self.pc_register, value)

    @property
    def linear_pc(self) -> int:
        """CS's base + the PC: the address breakpoints, faults and the memory manager use."""
        return self.linear(self.pc)

    def linear(self, offset: int, segment: str = "cs") -> int:
        """The linear address of `segment`:`offset` (the segment's base + offset)."""
        if not self.mode.segmented:
            return offset
        return self.segment_base(segment) + offset

    def segment_base(self, segment: str) -> int:
        """Where a segment register's segment starts: selector x 16 in real mode; the
        base its descriptor gave when it was loaded, in protected mode."""
        if self.mode.name == REAL_MODE:
            return (self.registers.read(REGISTERS[segment]) & 0xFFFF) << 4
        if not self.mode.segmented and segment in _SEGMENTS_WITHOUT_BASE:
            return 0        # flat: only FS and GS have a base of their own (thread data)
        return self.hidden_state().snapshot().segment_base(segment)

    def jump(self, selector: int, offset: int) -> None:
        """Continue at `selector`:`offset` (a far jump: CS and IP)."""
        self.write_register("cs", selector)
        self.pc = offset

    def describe_pc(self) -> str:
        """`1234:0010` in the segmented modes (hex, as DEBUG shows it), else the address."""
        if self.mode.segmented:
            return f"{self.read_register('cs'):04X}:{self.pc:04X}"
        return f"{self.pc:#x}"

    @property
    def flags(self) -> int:
        """FLAGS, EFLAGS or RFLAGS."""
        return self.uc.reg_read(self.mode.flags_register)

    @flags.setter
    def flags(self, value: int) -> None:
        self.uc.reg_write(self.mode.flags_register, value)

    def hidden_state(self) -> _HiddenState:
        if self._hidden is None:
            self._hidden = _HiddenState(self.uc)
        return self._hidden

    # --- protected mode: control registers, descriptor tables, privilege --------------------

    @property
    def cr0(self) -> int:
        """CR0: bit 0 (PE) is protected mode, bit 31 (PG) paging."""
        return self.uc.reg_read(x86.UC_X86_REG_CR0)

    @cr0.setter
    def cr0(self, value: int) -> None:
        self.uc.reg_write(x86.UC_X86_REG_CR0, value)

    def load_descriptor_tables(self, gdt: DescriptorTable, ldt: DescriptorTable | None = None,
                               ldt_selector: int = 0) -> None:
        """Write the GDT (and a process's LDT) where their `base` says and point GDTR
        (LGDT) and LDTR (LLDT, with the GDT selector of the LDT's descriptor) at them.
        Their pages must be mapped: the processor reads them on every segment load."""
        self._require_protected_mode("descriptor tables")
        self.write(gdt.base, gdt.image())
        self.uc.reg_write(x86.UC_X86_REG_GDTR, (0, gdt.base, gdt.limit, 0))
        if ldt is not None:
            self.write(ldt.base, ldt.image())
            self.uc.reg_write(x86.UC_X86_REG_LDTR, (ldt_selector, ldt.base, ldt.limit, 0x82))

    def set_descriptor(self, table: DescriptorTable, index: int,
                       descriptor: SegmentDescriptor) -> int:
        """Change one entry of a loaded table (DosAllocSeg, DosFreeSeg); returns its
        selector. A segment register already holding it keeps the old copy, as on x86."""
        table[index] = descriptor
        self.write(table.base + index * DESCRIPTOR_SIZE, descriptor.encode())
        return table.selector(index)

    @property
    def gdtr(self) -> tuple[int, int]:
        """(base, limit) of the GDT."""
        _, base, limit, _ = self.uc.reg_read(x86.UC_X86_REG_GDTR)
        return base, limit

    @property
    def ldtr(self) -> tuple[int, int, int]:
        """(selector, base, limit) of the LDT."""
        selector, base, limit, _ = self.uc.reg_read(x86.UC_X86_REG_LDTR)
        return selector, base, limit

    @property
    def privilege_level(self) -> int:
        """The CPL: 0 for a kernel, 3 for an application (ring 3)."""
        if not self.cr0 & 1:
            return 0
        return self.hidden_state().snapshot().privilege_level()

    def enter_user_mode(self, *, cs: int, ip: int, ss: int, sp: int,
                        ds: int = 0, es: int = 0, privilege_level: int = 3) -> None:
        """Start protected-mode code at `privilege_level` (ring 3: an application),
        as the kernel's IRET to a new process would: CS:IP, SS:SP and the data segments
        from the selectors given, each checked against its descriptor."""
        self._require_protected_mode("a ring transition")
        if self.mode.name == LONG_MODE:
            raise ProcessorError("a ring transition in long mode needs 64-bit code segments, "
                                 "which ntsim does not model (long-mode guests run flat)")
        self.hidden_state().set_privilege_level(privilege_level)
        for name, value in (("cs", cs), ("ss", ss), ("ds", ds), ("es", es)):
            self.write_register(name, value)
        self.pc = ip
        self.write_register("sp" if self.mode.name == PROTECTED_MODE_16 else "esp", sp)

    def _require_protected_mode(self, what: str) -> None:
        if self.mode.name == REAL_MODE:
            raise ProcessorError(f"{what}: only in protected mode; this processor runs in "
                                 f"{self.mode.description}")

    def save_context(self) -> Any:
        return self.uc.context_save()

    def restore_context(self, context: Any) -> None:
        """Load a thread's registers. A context saved on another processor (a forked
        thread's) carries that processor's CR3: the page tables stay this one's."""
        self.uc.context_restore(context)
        if self.page_table is not None and \
                self.registers.read(x86.UC_X86_REG_CR3) != self.page_table.cr3:
            self.registers.write(x86.UC_X86_REG_CR3, self.page_table.cr3)

    # --- memory -----------------------------------------------------------------------------
    # The memory manager works on `page_table` itself; these map whole ranges of fresh,
    # zero-filled pages, for a processor used without one (tests, a VM's RAM).

    def map(self, address: int, size: int, protect: int) -> None:
        if self.page_table is None:
            pages = size // PAGE_SIZE
            first = self.physical.allocate_run(pages)
            self.uc.mem_map_ptr(address, size, unicorn.UC_PROT_ALL, self.physical.host_address(first))
            self._real_mode_regions[address] = (first, pages)
            return
        for page in range(address, address + size, PAGE_SIZE):
            self.page_table.map(page, self.physical.allocate(), protect)

    def unmap(self, address: int, size: int) -> None:
        if self.page_table is None:
            first, pages = self._real_mode_regions.pop(address)
            self.uc.mem_unmap(address, size)
            self.physical.free(range(first, first + pages))
            return
        for page in range(address, address + size, PAGE_SIZE):
            self.page_table.unmap(page)
        self.flush_tlb()

    def protect(self, address: int, size: int, protect: int) -> None:
        for page in range(address, address + size, PAGE_SIZE):
            self.page_table.set_protection(page, protect)
        self.flush_tlb()

    def flush_tlb(self) -> None:
        """Forget every translation the processor cached: needed when an entry loses
        rights or its frame (an entry that gains them is found by the next walk)."""
        if self.uc is not None:
            self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)
        if self.page_table is not None:
            self.page_table.reduced = False

    def flush_tlb_if_stale(self) -> None:
        if self.page_table is not None and self.page_table.reduced:
            self.flush_tlb()

    def _host_pieces(self, address: int, size: int):
        """(host address, length) for each page-sized piece of [address, address + size)."""
        end = address + size
        while address < end:
            page = address & ~0xFFF
            length = min(end, page + PAGE_SIZE) - address
            if self.page_table is not None:
                host = self.page_table.host_address(page)
            else:
                host = self._real_mode_host(page)
            if host is None:
                raise unicorn.UcError(unicorn.UC_ERR_READ_UNMAPPED)
            yield host + (address - page), length
            address += length

    def _real_mode_host(self, page: int) -> int | None:
        for base, (first, pages) in self._real_mode_regions.items():
            if base <= page < base + pages * PAGE_SIZE:
                return self.physical.host_address(first) + page - base
        return None

    def read(self, address: int, size: int) -> bytes:
        return b"".join(ctypes.string_at(host, length)
                        for host, length in self._host_pieces(address, size))

    def write(self, address: int, data: bytes) -> None:
        data = bytes(data)
        at = 0
        for host, length in self._host_pieces(address, len(data)):
            ctypes.memmove(host, data[at:at + length], length)
            at += length
        if self._translated:
            self.forget_code(address, len(data))

    def forget_code(self, address: int, size: int) -> None:
        """Drop what unicorn translated from [address, address + size). Writes that do not
        go through the processor (the kernel's) are not seen by its self-modifying-code
        check (unicorn issue #1148): code written over code the guest already ran would
        otherwise never be seen, and the old instructions run again."""
        if not self._translated:
            return        # a processor that never ran holds no code (execve's new image)
        table = self.page_table
        pages = [page for page in range(address & ~0xFFF, address + size, PAGE_SIZE)
                 if table is None or page in table.frames and table.entry(page) & 1]
        # unicorn finds the translated code through a lookup for fetching, one page at a
        # time: a page that is not executable now (being written) is lent execution for
        # the lookup. A page with no frame, or not present, holds no code to find.
        lent = [page for page in pages if table is not None and not table.is_executable(page)]
        for page in lent:
            table.set_executable(page, True)
        if lent:
            self.flush_tlb()
        for page in pages:
            self.uc.ctl_remove_cache(max(page, address), min(page + PAGE_SIZE, address + size))
        if lent:
            for page in lent:
                table.set_executable(page, False)
            self.flush_tlb()

    # --- traps ------------------------------------------------------------------------------

    def hook_syscall(self, handler) -> None:
        """x86-64 `syscall`: the Linux (pico process) trap."""
        self._syscall_trap = self.uc.hook_add(unicorn.UC_HOOK_INSN, handler, None, 1, 0,
                                              x86.UC_X86_INS_SYSCALL)
        self._traps.append(self._syscall_trap)

    def rehook_syscall(self, handler) -> None:
        """Give the `syscall` trap another handler, even from inside it (LXSS sends a
        traced process's calls through ptrace, and only a traced process's)."""
        old = getattr(self, "_syscall_trap", None)
        if old is not None and old in self._traps:
            self._traps.remove(old)
            self.uc.hook_del(old)
        self.hook_syscall(handler)

    def hook_interrupt(self, handler) -> None:
        """Every `INT n` and CPU exception (divide error is interrupt 0), raw:
        `handler(uc, number, data)` tells them apart itself (LXSS does, by vector)."""
        self._raw_interrupt = handler

    def hook_software_interrupts(self, handler: Callable[[int], None]) -> None:
        """`INT n` traps to `handler(vector)`; processor exceptions stop the run as a
        `Fault` carrying the vector, error code and selector.

        The VDM's BIOS and DOS (INT 10h, 21h...) and OS/2's far-call thunks (a segment of
        `INT n; RETF k` stubs the imports point at) trap this way. In the handler the PC
        is already past the `INT n`: returning continues the program (after the thunk's
        RETF, for a far call); `restart_trap()` runs the INT again when the thread next
        runs (a call that had to wait); `deliver_interrupt(vector)` passes it to the
        guest's own handler in the interrupt vector table, as the processor would.

        (unicorn never delivers an interrupt through the guest's IVT or IDT by itself:
        each one comes here.) A real-mode vector below 32 may be either — INT 13h is the
        BIOS disk service, #GP is exception 13 — so the processor's own record tells."""
        self._software_interrupt = handler

    def _interrupt(self, uc, vector: int, data) -> None:
        """Every interrupt and exception arrives here (one hook, installed for good). A
        page fault goes to the memory manager first, which may resolve it (demand-zero,
        copy-on-write: the instruction then runs again); what it cannot resolve, and
        every other exception, goes to the personality."""
        is_int, error_code = True, 0
        if vector < 32:
            is_int, error_code = (self._hidden or self.hidden_state()).end_exception()
            if not is_int:
                if vector == DOUBLE_FAULT:
                    # unicorn left a page fault of one of its own lookups in flight (it
                    # swallows those): this fault is really the instruction's own. With
                    # nothing in flight now, running the instruction again raises it as
                    # the page fault it is, with its error code.
                    return
                if vector == PAGE_FAULT:
                    if self.page_table is not None and self.on_page_fault is not None \
                            and self.on_page_fault(self._fault_address(),
                                                   bool(error_code & PF_WRITE),
                                                   bool(error_code & PF_FETCH)):
                        return
                    self._stop_on_exception(vector, error_code)   # an access violation
                    return
        if self._raw_interrupt is not None:
            self._raw_interrupt(uc, vector, data)
            return
        if is_int and self._software_interrupt is None:
            if self.mode.name == REAL_MODE:
                self.deliver_interrupt(vector)    # nobody traps it: the guest's IVT, as on x86
                return
            pc = self.linear_pc
            self.pending_fault = Fault("interrupt", pc, pc, f"INT {vector:#04x} at "
                                       f"{self.describe_pc()} with no handler", vector)
            uc.emu_stop()
            return
        if is_int:
            # (the PC is already past the INT: restart_trap knows how far back it is)
            self._trapping_vector = vector
            try:
                self._software_interrupt(vector)
            finally:
                self._trapping_vector = None
            return
        self._stop_on_exception(vector, error_code)

    def _fault_address(self) -> int:
        """CR2: the address a page fault was for. Outside long mode only its low 32 bits
        mean anything: unicorn can leave stale upper bits there (seen after a 32-bit
        process's context was set by another thread), and 0xffffffff00403000 is no
        address of a 32-bit process's."""
        address = self.registers.read(x86.UC_X86_REG_CR2)
        return address if self.mode.name == LONG_MODE else address & 0xFFFF_FFFF

    def _stop_on_exception(self, vector: int, error_code: int) -> None:
        """A processor exception nobody resolved: the run stops with a `Fault`."""
        pc = address = self.linear_pc
        name = EXCEPTION_NAMES.get(vector, f"exception-{vector}")
        if vector == 14:
            # a page fault (paging on): CR2 holds the address, the error code says which
            # access it was (bit 1 a write, bit 4 an instruction fetch), as the TLB path does
            address = self._fault_address()
            name = "write" if error_code & 2 else "fetch" if error_code & 16 else "read"
        has_code = vector in _PUSHES_ERROR_CODE
        selector = error_code & 0xFFFC if vector in _SELECTOR_ERROR_CODE and error_code & 0xFFFC \
            else None
        detail = f"{name} fault (vector {vector}) at {self.describe_pc()}"
        if selector is not None:
            detail += f", selector {describe_selector(error_code & 0xFFFF)}"
        elif has_code:
            detail += f", error code {error_code:#x}"
        self.pending_fault = Fault(name, address, pc, detail, vector,
                                   error_code if has_code else None, selector)
        self.uc.emu_stop()

    def restart_trap(self) -> None:
        """Inside a trap handler: run the trapping instruction (`syscall`, `INT n`, the
        `INT n` of a far-call thunk) again when the thread next runs — a call that had to
        wait is made again once it can finish. The handler stops the run as well."""
        if self._trapping_vector is not None:
            # the PC is past the instruction: `CD nn`, or the one-byte INT3 (CC), INTO (CE)
            last = self.read(self.linear_pc - 1, 1)[0]
            self.pc -= 1 if (self._trapping_vector, last) in _ONE_BYTE_INTERRUPTS else 2
        elif self.mode.name == LONG_MODE:
            self.resume_after_syscall_at(self.pc)   # the PC is still at the `syscall`
        else:
            raise ProcessorError("restart_trap is for a trap handler (syscall or INT n)")

    def hook_ports(self, read: Callable[[int, int], int],
                   write: Callable[[int, int, int], None]) -> None:
        """Port I/O: `IN` asks `read(port, size)` for the value, `OUT` hands
        `write(port, size, value)` its value (size in bytes: 1, 2 or 4). A virtual
        machine's devices live here: the PIC, the timer, the keyboard controller.
        unicorn calls these only for IN/OUT instructions: no cost to other code."""
        self._traps.append(self.uc.hook_add(
            unicorn.UC_HOOK_INSN, lambda uc, port, size, _data: read(port, size) & 0xFFFF_FFFF,
            None, 1, 0, x86.UC_X86_INS_IN))
        self._traps.append(self.uc.hook_add(
            unicorn.UC_HOOK_INSN, lambda uc, port, size, value, _data: write(port, size, value),
            None, 1, 0, x86.UC_X86_INS_OUT))

    def remove_traps(self) -> None:
        """The personality's traps go (the processor is to serve another process)."""
        while self._traps:
            self.uc.hook_del(self._traps.pop())
        self._software_interrupt = self._raw_interrupt = None

    # --- interrupts the machine raises (a virtual machine's timer and keyboard) -------------

    INTERRUPT_FLAG, TRAP_FLAG = 0x200, 0x100

    @property
    def interrupts_enabled(self) -> bool:
        """IF: whether the guest accepts hardware interrupts now (CLI clears it, STI sets it)."""
        return bool(self.flags & self.INTERRUPT_FLAG)

    def inject_interrupt(self, vector: int) -> bool:
        """A device's interrupt (IRQ 0, the timer, is vector 8 under DOS; the keyboard's
        IRQ 1 is 9): delivered if the guest has interrupts enabled, else not (the
        virtual PIC keeps it pending and tries again). Call it only at a safe point —
        between two runs, or from a trap handler — never from another host thread."""
        if not self.interrupts_enabled:
            return False
        self.deliver_interrupt(vector)
        return True

    def deliver_interrupt(self, vector: int) -> None:
        """What a real-mode processor does for interrupt `vector`: push FLAGS, CS and IP
        on the stack, clear IF and TF, and continue at the handler the interrupt vector
        table (4 bytes a vector at address 0: offset, segment) gives. The handler's IRET
        returns to where the program was."""
        if self.mode.name != REAL_MODE:
            raise ProcessorError(f"delivering interrupt {vector:#x} through the guest's table "
                                 f"is modelled in real mode only, not {self.mode.description}")
        entry = self.read(vector * 4, 4)
        offset, segment = int.from_bytes(entry[:2], "little"), int.from_bytes(entry[2:], "little")
        flags = self.flags
        self._push16(flags)
        self._push16(self.read_register("cs"))
        self._push16(self.pc)
        self.flags = flags & ~(self.INTERRUPT_FLAG | self.TRAP_FLAG)
        self.jump(segment, offset)

    def _push16(self, value: int) -> None:
        sp = (self.read_register("sp") - 2) & 0xFFFF
        self.write_register("sp", sp)
        self.write(self.linear(sp, "ss"), (value & 0xFFFF).to_bytes(2, "little"))

    def resume_after_syscall_at(self, address: int) -> None:
        """Inside a `syscall` hook, make the thread continue at `address`.

        Unicorn adds the instruction's length (2) to RIP after the hook returns, so we
        write the address two bytes early. Restarting the call itself is
        `resume_after_syscall_at(address_of_the_syscall)`.
        """
        self.uc.reg_write(x86.UC_X86_REG_RIP, address - 2)

    def request_stop(self, reason: str = StopReason.REQUESTED) -> None:
        """From a trap handler: stop after this instruction and let the dispatcher decide."""
        self.stop_reason = reason
        self.uc.emu_stop()

    # --- instruction counting and breakpoints (off unless asked for) ------------------------

    def count_instructions(self, enabled: bool) -> None:
        """Count every executed instruction with a block hook. Costs real time: used for
        --stats and the virtual clock, never on by default."""
        if enabled and self._counter_hook is None:
            self._counter_hook = self.uc.hook_add(unicorn.UC_HOOK_BLOCK, self._count_block)
        elif not enabled and self._counter_hook is not None:
            self.uc.hook_del(self._counter_hook)
            self._counter_hook = None

    def _count_block(self, uc, address, size, _data) -> None:
        # Cached per processor, not per class: another process (or architecture) may
        # hold other code at the same address and size. (Reading the block's bytes on
        # every block to key the cache made counting three times slower.)
        key = (address, size)
        count = self._block_sizes.get(key)
        if count is None:
            count = self._block_sizes[key] = len(list(self._disassembler().disasm_lite(
                self.read(address, size), address)))
        self.instructions += count

    def instruction_at(self, address: int) -> str:
        """The instruction at a linear address, as a disassembler prints it ("hlt",
        "in al, 0x60"): what a fault's one-line note names. "?" if it cannot be read."""
        try:
            code = self.read(address, 15)
        except unicorn.UcError:
            try:
                code = self.read(address, PAGE_SIZE - address % PAGE_SIZE)
            except unicorn.UcError:
                return "?"
        for _address, _size, mnemonic, operands in self._disassembler().disasm_lite(code, address, 1):
            return f"{mnemonic} {operands}".strip()
        return "(bytes " + code[:4].hex(" ") + ")"

    # One disassembler per architecture: a 16-bit block decodes differently.
    _capstone: dict[str, Any] = {}

    def _disassembler(self):
        disassembler = Cpu._capstone.get(self.architecture)
        if disassembler is None:
            import capstone
            # (a 16-bit protected-mode program's code segments are 16-bit, D=0)
            mode = {LONG_MODE: capstone.CS_MODE_64, PROTECTED_MODE_32: capstone.CS_MODE_32,
                    PROTECTED_MODE_16: capstone.CS_MODE_16,
                    REAL_MODE: capstone.CS_MODE_16}[self.architecture]
            disassembler = Cpu._capstone[self.architecture] = capstone.Cs(capstone.CS_ARCH_X86, mode)
        return disassembler

    def add_breakpoint(self, address: int) -> None:
        """A hook bound to one address: unicorn checks the range when it translates, so
        the rest of the program runs at full speed."""
        if address not in self._breakpoints:
            self._breakpoints[address] = self.uc.hook_add(
                unicorn.UC_HOOK_CODE, self._breakpoint_hit, None, address, address)

    def remove_breakpoint(self, address: int) -> None:
        hook = self._breakpoints.pop(address, None)
        if hook is not None:
            self.uc.hook_del(hook)

    _skip_breakpoint_at: int | None = None

    def _breakpoint_hit(self, uc, address, size, _data) -> None:
        if self._skip_breakpoint_at == address:
            self._skip_breakpoint_at = None
            return
        self.stop_reason = StopReason.BREAKPOINT
        uc.emu_stop()

    # --- running ----------------------------------------------------------------------------

    def run(self, instructions: int = 0, *, blocks: int = 0) -> str:
        """Run the loaded thread from its PC until a trap handler stops it, and at most
        for `instructions` (exactly: stepping) or `blocks` translated blocks (a quantum:
        see quantum.py). Returns a StopReason; a fault is left in `pending_fault`."""
        self.stop_reason = None
        self.pending_fault = None
        self._translated = True
        _, linear = self._start_address()
        if linear in self._breakpoints:
            self._skip_breakpoint_at = linear   # resuming from this breakpoint
        counter = self._quantum_counter()
        if blocks and counter is None:
            instructions = blocks * INSTRUCTIONS_PER_BLOCK   # no native counter: count exactly
        if counter is not None and not instructions:
            self._uncounted_code = True
            return self._run_counting_blocks(counter, blocks)
        if counter is not None and counter.installed:
            counter.arm(_NO_LIMIT)
        if not instructions:
            self._uncounted_code = True
        elif self._uncounted_code:
            # unicorn 2.1 checks the instruction count in the translated code, and code
            # translated for a run without a count has no check: a loop that ran alone
            # would never be preempted (a timer could never cut in). Translate again.
            self.uc.ctl_flush_tb()
            self._uncounted_code = False
        return self._emulate(instructions)

    def _run_counting_blocks(self, counter: QuantumCounter, blocks: int) -> str:
        """A quantum of `blocks`, or (0) a lone run with no limit. The counter is put
        into the code when a quantum first needs it (code translated without it cannot
        be stopped: it is flushed). A lone run sheds it again once the thread shows it
        computes for long alone: past SHED_COUNTER_AFTER blocks the code is translated
        again without it and runs at full speed."""
        if blocks:
            if not counter.installed:
                counter.install()
                self.uc.ctl_flush_tb()
            counter.arm(blocks)
            return self._emulate(0)
        if not counter.installed:
            return self._emulate(0)
        counter.arm(SHED_COUNTER_AFTER)
        reason = self._emulate(0)
        if reason != StopReason.QUANTUM or not counter.ran_out() or counter.taken():
            return reason
        counter.remove()
        self.uc.ctl_flush_tb()
        return self._emulate(0)

    def _quantum_counter(self) -> QuantumCounter | None:
        if self._counter is None and quantum_counter_available():
            self._counter = QuantumCounter(self.uc)
        return self._counter

    def take_processor(self) -> bool:
        """From another host thread: stop the running quantum at the next block, safely.
        False if the code running now has no counter in it (it cannot be stopped so)."""
        counter = self._counter
        if counter is None or not counter.installed:
            return False
        counter.take_processor()
        return True

    def processor_taken(self) -> bool:
        """Did the last run end because another host thread took the processor?"""
        counter = self._counter
        return counter is not None and counter.installed and counter.taken()

    def blocks_left(self) -> int:
        """What the last run's budget of blocks had left when it stopped."""
        counter = self._counter
        return max(0, counter.blocks_left) if counter is not None else 0

    def _emulate(self, instructions: int) -> str:
        start, _ = self._start_address()
        self.flush_tlb_if_stale()
        while True:
            try:
                self.uc.emu_start(start, self._until, 0, instructions)
            except unicorn.UcError as error:
                if self.pending_fault is None:
                    self.pending_fault = self._describe(error)
                return StopReason.FAULT
            if self.page_table is None or self.stop_reason is not None \
                    or self.pending_fault is not None \
                    or not self.hidden_state().snapshot().forget_exception_in_flight():
                break
            # The run ended on a triple fault: unicorn swallowed two page faults of its
            # own lookups (see _interrupt) and stopped the processor at the guest's next
            # one. With nothing in flight any more, that fault is raised as itself.
            start, _ = self._start_address()
        if self.pending_fault is not None:
            return StopReason.FAULT
        if self.stop_reason is not None:
            return self.stop_reason
        counter = self._counter
        if instructions or counter is not None and counter.installed \
                and (counter.ran_out() or counter.taken()) or not self._after_halt():
            return StopReason.QUANTUM    # (or stopped from outside: Dispatcher.stop_processor)
        # The guest executed HLT. A virtual machine's processor waits for its next
        # interrupt; in the other modes programs run in ring 3, where HLT is privileged:
        # the processor raises #GP (unicorn runs them in ring 0).
        if self.mode.name == REAL_MODE:
            return StopReason.HALTED
        self.pc -= 1                     # a fault leaves the PC at the instruction
        self._stop_on_exception(13, 0)
        return StopReason.FAULT

    def _after_halt(self) -> bool:
        """Did the run end because the guest executed HLT (the PC just past an F4)?"""
        try:
            return self.read(self.linear_pc - 1, 1) == b"\xf4"
        except unicorn.UcError:
            return False

    def _start_address(self) -> tuple[int, int]:
        """(what `emu_start` wants, the linear PC). emu_start takes the linear address in
        real mode (unicorn sets IP = begin - CS x 16), the offset in the other modes (it
        sets EIP/RIP = begin). One register read in the flat modes: run is on the
        dispatcher's hot path."""
        pc = self.pc
        if not self.mode.segmented:
            return pc, pc
        linear = self.linear(pc)
        return (linear if self.mode.name == REAL_MODE else pc), linear

    def _port_refused(self, uc, port, size, *rest) -> int:
        """IN or OUT in ring 3 with IOPL 0 and no I/O bitmap: #GP, as the processor raises
        it. (unicorn calls this hook with the PC at the instruction; stopping from here,
        a store made by the very next instruction may already be done — unicorn checks
        for a stop after each memory access — but no other instruction runs.)"""
        pc = self.pc
        self._stop_on_exception(13, 0)
        self.pc = pc
        accumulator = x86.UC_X86_REG_RAX if self.architecture == LONG_MODE else x86.UC_X86_REG_EAX
        return self.registers.read(accumulator) & 0xFFFF_FFFF     # IN leaves EAX as it was

    def _invalid_instruction(self, uc, _data) -> bool:
        pc = self.linear_pc
        self.pending_fault = Fault("invalid-instruction", pc, pc)
        return False

    def _describe(self, error: unicorn.UcError) -> Fault:
        pc = self.linear_pc
        if error.errno == unicorn.UC_ERR_INSN_INVALID:
            return Fault("invalid-instruction", pc, pc)
        return Fault("access", pc, pc, str(error))

    def close(self) -> None:
        if self._hidden is not None:
            self._hidden.close()
            self._hidden = None
        _release_memory(self.page_table, self.physical, self._real_mode_regions)
        self.page_table = None
        self.uc = None
        self._counter = None     # (it holds the engine too)


def _release_memory(page_table: PageTable | None, physical: PhysicalMemory,
                    real_mode_regions: dict[int, tuple[int, int]]) -> None:
    """A processor is gone: its frames and page tables go back to the machine's RAM."""
    if page_table is not None and page_table.table_frames:
        page_table.destroy()
        physical.free(page_table.table_frames)
        page_table.table_frames.clear()
    for first, pages in real_mode_regions.values():
        physical.free(range(first, first + pages))
    real_mode_regions.clear()


