"""The processor: one unicorn address space per process.

`Cpu` is the only module that talks to unicorn about execution. It knows registers by
name, maps and protects memory, installs trap hooks for a personality, and runs the
current thread for a quantum, reporting *why* it stopped: the quantum ran out, a trap
handler asked to stop (the thread blocked, exited or must be rescheduled), or the guest
faulted.

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

from .pagetable import PageTable
from .physical import PAGE_SIZE, PHYSICAL_BASE, PhysicalMemory, ram

# Where emulation would stop if the guest reached it; no guest maps this page. Whenever a
# run starts and ends, unicorn looks up the page below it for fetching (to drop code
# translated there); that page is mapped in every page table (a zero page, read-only), so
# the lookup never faults — a fault there would stay "in flight" and turn the guest's next
# page fault into a double fault.
_NEVER = {"x86-64": 0xFFFF_FFFF_FFFF_F000, "x86-32": 0xFFFF_F000, "x86-16": 0xFFFF_F000}

ARCHITECTURES = {
    "x86-64": (unicorn.UC_ARCH_X86, unicorn.UC_MODE_64),
    "x86-32": (unicorn.UC_ARCH_X86, unicorn.UC_MODE_32),
    "x86-16": (unicorn.UC_ARCH_X86, unicorn.UC_MODE_16),
}

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
_FAULT_KINDS = {unicorn.UC_MEM_READ_UNMAPPED: "read", unicorn.UC_MEM_WRITE_UNMAPPED: "write",
                unicorn.UC_MEM_FETCH_UNMAPPED: "fetch"}
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

# NT page protections (PAGE_*) to unicorn permissions.
PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY = 0x01, 0x02, 0x04, 0x08
PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE = 0x10, 0x20, 0x40
PAGE_EXECUTE_WRITECOPY, PAGE_GUARD = 0x80, 0x100


def unicorn_permissions(protect: int) -> int:
    base = protect & 0xFF
    read, write, execute = unicorn.UC_PROT_READ, unicorn.UC_PROT_WRITE, unicorn.UC_PROT_EXEC
    return {
        PAGE_NOACCESS: unicorn.UC_PROT_NONE,
        PAGE_READONLY: read,
        PAGE_READWRITE: read | write,
        PAGE_WRITECOPY: read | write,
        PAGE_EXECUTE: execute,
        PAGE_EXECUTE_READ: read | execute,
        PAGE_EXECUTE_READWRITE: read | write | execute,
        PAGE_EXECUTE_WRITECOPY: read | write | execute,
    }.get(base, unicorn.UC_PROT_NONE)


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
        try:
            library = _unicorn_library()
            self._handle = uc._uch
            self._c_read, self._c_write = library.uc_reg_read, library.uc_reg_write
        except (ImportError, AttributeError, OSError):
            self.read, self.write = uc.reg_read, uc.reg_write

    def read(self, register: int) -> int:
        self._c_read(self._handle, register, self._ref)
        return self._value.value

    def write(self, register: int, value: int) -> None:
        self._value.value = value & 0xFFFF_FFFF_FFFF_FFFF
        self._c_write(self._handle, register, self._ref)


@dataclass
class Fault:
    """The guest did something the processor refuses: the personality decides what
    it means (a Linux SIGSEGV, an NT access violation, a DOS crash)."""

    kind: str           # "read", "write", "fetch", "protection", "invalid-instruction", "divide"
    address: int        # the faulting data address (or the instruction, for fetch/invalid)
    pc: int
    detail: str = ""


class StopReason:
    QUANTUM = "quantum"        # the instruction budget ran out: preempt
    REQUESTED = "requested"    # a trap handler asked to stop (blocked, exited, rescheduled)
    FAULT = "fault"
    BREAKPOINT = "breakpoint"


class Cpu:
    """A processor and its address space, shared by a process's threads."""

    def __init__(self, architecture: str = "x86-64", physical: PhysicalMemory | None = None) -> None:
        arch, mode = ARCHITECTURES[architecture]
        self.architecture = architecture
        self.uc = unicorn.Uc(arch, mode)
        self.registers = RegisterFile(self.uc)
        self.pc_register = {"x86-64": x86.UC_X86_REG_RIP, "x86-32": x86.UC_X86_REG_EIP,
                            "x86-16": x86.UC_X86_REG_IP}[architecture]
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
        self._interrupt_handlers: list[Callable] = []   # the personality's INT n / exception handlers
        self._uncounted_code = False   # code was translated by a run with no count (see run)
        self._translated = False        # has run: unicorn may hold translated code
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
        if architecture != "x86-16":
            self.page_table = PageTable(self.physical, 4 if architecture == "x86-64" else 3)
            self._map_stop_page()
            self._enable_paging()
        self.uc.hook_add(unicorn.UC_HOOK_INTR, self._interrupt)
        self.uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, self._invalid_instruction)
        self._exception_context = self.uc.context_save()   # scratch, for _end_exception
        self._exception_fields: tuple[ctypes.c_int, ctypes.c_int] | None = None
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
        self.uc.ctl_flush_tb()
        self.uc.context_restore(self._power_on)
        for address in list(self._breakpoints):
            self.remove_breakpoint(address)
        self._block_sizes.clear()
        self.pending_fault = None
        self._translated = self._uncounted_code = False

    # --- registers --------------------------------------------------------------------------

    def read_register(self, name: str) -> int:
        return self.uc.reg_read(REGISTERS[name])

    def write_register(self, name: str, value: int) -> None:
        self.uc.reg_write(REGISTERS[name], value)

    @property
    def pc(self) -> int:
        return self.uc.reg_read(self.pc_register)

    @pc.setter
    def pc(self, value: int) -> None:
        self.uc.reg_write(self.pc_register, value)

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
        self._traps.append(self.uc.hook_add(unicorn.UC_HOOK_INSN, handler, None, 1, 0,
                                            x86.UC_X86_INS_SYSCALL))

    def hook_interrupt(self, handler) -> None:
        """`INT n` and CPU exceptions (divide error is interrupt 0); page faults are the
        memory manager's and reach a personality only as a `Fault`."""
        self._interrupt_handlers.append(handler)

    def remove_traps(self) -> None:
        """The personality's traps go (the processor is to serve another process)."""
        while self._traps:
            self.uc.hook_del(self._traps.pop())
        self._interrupt_handlers.clear()

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

    # One disassembler per architecture: a 16-bit block decodes differently.
    _capstone: dict[str, Any] = {}

    def _disassembler(self):
        disassembler = Cpu._capstone.get(self.architecture)
        if disassembler is None:
            import capstone
            mode = {"x86-64": capstone.CS_MODE_64, "x86-32": capstone.CS_MODE_32,
                    "x86-16": capstone.CS_MODE_16}[self.architecture]
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

    def run(self, instructions: int = 0) -> str:
        """Run the loaded thread from its PC for at most `instructions` (0 = no limit,
        until a trap handler stops it). Returns a StopReason; a fault is left in
        `pending_fault`."""
        self.stop_reason = None
        self.pending_fault = None
        self._translated = True
        if not instructions:
            self._uncounted_code = True
        elif self._uncounted_code:
            # unicorn 2.1 checks the instruction count in the translated code, and code
            # translated for a run without a count has no check: a loop that ran alone
            # would never be preempted (a timer could never cut in). Translate again.
            self.uc.ctl_flush_tb()
            self._uncounted_code = False
        start = self.pc
        if self.stop_reason is None and start in self._breakpoints:
            self._skip_breakpoint_at = start   # resuming from this breakpoint
        self.flush_tlb_if_stale()
        while True:
            try:
                self.uc.emu_start(start, self._until, 0, instructions)
            except unicorn.UcError as error:
                if self.pending_fault is None:
                    self.pending_fault = self._describe(error)
                return StopReason.FAULT
            if self.page_table is None or not self._clear_exception_in_flight() \
                    or self.stop_reason is not None or self.pending_fault is not None:
                break
            # The run ended on a triple fault: unicorn swallowed two page faults of its
            # own lookups (see _interrupt) and stopped the processor at the guest's next
            # one. With nothing in flight any more, that fault is raised as itself.
            start = self.pc
        if self.pending_fault is not None:
            return StopReason.FAULT
        if self.stop_reason is not None:
            return self.stop_reason
        return StopReason.QUANTUM

    def _interrupt(self, uc, number: int, data) -> None:
        """An exception or `INT n`. A page fault goes to the memory manager, which may
        resolve it (the instruction then runs again) or not (a `Fault` for the
        personality); anything else goes to the personality's handlers."""
        error = self._end_exception(number) if number < 32 else 0
        if number == DOUBLE_FAULT:
            # unicorn itself left a page fault in flight (it probes the page below the
            # run's end address when a run stops early, and swallows the fault): this
            # fault is really the instruction's own. Now that nothing is in flight, running
            # the instruction again raises it as the page fault it is, with its error code.
            return
        if number == PAGE_FAULT and self.page_table is not None:
            address = self.registers.read(x86.UC_X86_REG_CR2)
            write, fetch = bool(error & PF_WRITE), bool(error & PF_FETCH)
            if self.on_page_fault is not None and self.on_page_fault(address, write, fetch):
                return
            self.pending_fault = Fault("fetch" if fetch else "write" if write else "read",
                                       address, self.registers.read(self.pc_register))
            uc.emu_stop()
            return
        for handler in self._interrupt_handlers:
            handler(uc, number, data)

    def _end_exception(self, vector: int) -> int:
        """The exception was handled here, not through the guest's IDT: tell the processor
        it is no longer in flight, and return its error code.

        QEMU remembers the exception being delivered (to turn a fault during delivery into
        a double fault) and forgets it when delivery completes. unicorn hands exceptions
        to our hook instead of delivering them, so it never forgets: the next page fault
        would become a double fault. Neither field has a register id; both are read and
        written through a saved context."""
        context = self._exception_context
        self._c_context_save(self.uc._uch, context.context)
        error_code, in_flight = self._exception_field_views(vector)
        in_flight.value = -1
        self._c_context_restore(self.uc._uch, context.context)
        return error_code.value

    def _clear_exception_in_flight(self) -> bool:
        """After a run: if unicorn left an exception in flight (a page fault of one of its
        own lookups, which it swallows), forget it. Returns whether one was."""
        context = self._exception_context
        self._c_context_save(self.uc._uch, context.context)
        fields = self._exception_fields
        if fields is None:
            for vector in (PAGE_FAULT, DOUBLE_FAULT):
                try:
                    fields = self._exception_field_views(vector)
                    break
                except LookupError:
                    continue
            else:
                return False          # nothing was ever in flight: the field is unknown yet
        if fields[1].value == -1:
            return False
        fields[1].value = -1
        self._c_context_restore(self.uc._uch, context.context)
        return True

    def _exception_field_views(self, vector: int) -> tuple[ctypes.c_int, ctypes.c_int]:
        """(error_code, old_exception) as views into the scratch context."""
        if self._exception_fields is None:
            context = self._exception_context
            address = ctypes.cast(context.context, ctypes.c_void_p).value
            offset = _exception_offset(self._power_on, address, context.size, vector)
            self._exception_fields = (
                ctypes.c_int.from_address(address + offset - _ERROR_CODE_BEFORE_OLD_EXCEPTION),
                ctypes.c_int.from_address(address + offset))
        return self._exception_fields

    @functools.cached_property
    def _c_context_save(self):
        return _unicorn_library().uc_context_save

    @functools.cached_property
    def _c_context_restore(self):
        return _unicorn_library().uc_context_restore

    def _invalid_instruction(self, uc, _data) -> bool:
        pc = uc.reg_read(self.pc_register)
        self.pending_fault = Fault("invalid-instruction", pc, pc)
        return False

    def _describe(self, error: unicorn.UcError) -> Fault:
        pc = self.pc
        if error.errno == unicorn.UC_ERR_INSN_INVALID:
            return Fault("invalid-instruction", pc, pc)
        return Fault("access", pc, pc, str(error))

    def close(self) -> None:
        _release_memory(self.page_table, self.physical, self._real_mode_regions)
        self.page_table = None
        self.uc = None


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


# In unicorn 2.1's CPUX86State, `error_code` lies 112 bytes before `old_exception`
# (exception_is_int, exception_next_eip, dr[8] and four breakpoint pointers between).
_ERROR_CODE_BEFORE_OLD_EXCEPTION = 112
_old_exception_offset: int | None = None


def _exception_offset(power_on, address: int, size: int, vector: int) -> int:
    """Where `old_exception` lies in a saved context: found once, on the first exception,
    as the field that was -1 at power-on and holds this exception's vector now.
    LookupError if no field does (nothing is in flight)."""
    global _old_exception_offset
    if _old_exception_offset is None:
        before, now = bytes(power_on), ctypes.string_at(address, size)
        for offset in range(_ERROR_CODE_BEFORE_OLD_EXCEPTION, size - 4, 4):
            if struct.unpack_from("<i", before, offset)[0] == -1 and \
                    struct.unpack_from("<i", now, offset)[0] == vector:
                _old_exception_offset = offset
                break
        else:
            raise LookupError("no exception in flight in unicorn's saved context")
    return _old_exception_offset
