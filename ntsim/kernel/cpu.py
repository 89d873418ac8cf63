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
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn import x86_const as x86

from . import quantum
from .quantum import QuantumCounter

# A quantum is counted in translated blocks (quantum.py). Where no native counter can be
# made, it is counted in instructions instead, about this many to a block.
INSTRUCTIONS_PER_BLOCK = 4
_NO_LIMIT = 1 << 62
# A lone run of code that holds the counter drops it after this many blocks (see run).
SHED_COUNTER_AFTER = 2_000_000

# Where emulation would stop if the guest reached it; no guest maps this page.
_NEVER = 0xFFFF_FFFF_FFFF_F000
# When a run is stopped early, unicorn looks up the page below `until` for fetching: not an
# access by the guest, so the memory manager does not hear of it.
_STOP_PROBE = (_NEVER - 1) & ~0xFFF

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

# How the processor finds a page's permissions: unicorn's "virtual TLB" mode, where a hook
# fills each TLB entry (once per page until the memory map changes), instead of the x86
# MMU plus hooks on every unmapped or protected access. The reason is speed: unicorn 2.1
# sends a guest store down its slow path (a lookup of the page's region, ~70 ns) unless
# the TLB entry says the page is not executable and no unmapped/protection hook covers
# the page's physical address. The x86 MMU with paging off makes every page executable,
# and ntsim's fault hooks covered every address, so every store took the slow path:
# busybox gzip spent two thirds of its time there. Filled by the hook below, a data
# page's entry carries exactly its own permissions (no execute), and the one memory hook
# covers only the trap range below, so stores run at full speed.
#
# A denied access is sent to a physical address in _TRAP's range (the page's own address
# plus _TRAP), where nothing is mapped: unicorn then calls the trap hook with the exact
# address and the faulting instruction's PC, which a SIGSEGV's si_addr and a restarted
# copy-on-write store need (the fill hook itself sees only the page).
_TRAP = 1 << 48
_NEEDED = {unicorn.UC_MEM_READ: unicorn.UC_PROT_READ, unicorn.UC_MEM_WRITE: unicorn.UC_PROT_WRITE,
           unicorn.UC_MEM_FETCH: unicorn.UC_PROT_EXEC}
_AS_UNMAPPED = {unicorn.UC_MEM_READ: unicorn.UC_MEM_READ_UNMAPPED,
                unicorn.UC_MEM_WRITE: unicorn.UC_MEM_WRITE_UNMAPPED,
                unicorn.UC_MEM_FETCH: unicorn.UC_MEM_FETCH_UNMAPPED}
_FAULT_KINDS = {unicorn.UC_MEM_READ_UNMAPPED: "read", unicorn.UC_MEM_WRITE_UNMAPPED: "write",
                unicorn.UC_MEM_FETCH_UNMAPPED: "fetch"}

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

    def __init__(self, architecture: str = "x86-64") -> None:
        arch, mode = ARCHITECTURES[architecture]
        self.architecture = architecture
        self.uc = unicorn.Uc(arch, mode)
        self.registers = RegisterFile(self.uc)
        self.pc_register = {"x86-64": x86.UC_X86_REG_RIP, "x86-32": x86.UC_X86_REG_EIP,
                            "x86-16": x86.UC_X86_REG_IP}[architecture]
        self.stop_reason: str | None = None
        self.pending_fault: Fault | None = None
        self.on_unmapped = None   # memory manager: demand-zero page faults
        self.on_write_protect = None   # memory manager: copy-on-write faults
        self._resolve_fault = None     # what to do before the faulting instruction runs again
        self.loaded_thread: Any = None   # whose registers the processor holds now
        self.instructions = 0     # counted only while a counter hook is installed
        self._counter_hook = None
        self._block_sizes: dict[tuple[int, int], int] = {}
        self._breakpoints: dict[int, int] = {}
        self._traps: list[int] = []     # the personality's trap hooks (hook_syscall, ...)
        self._uncounted_code = False   # code was translated by a run with no count (see run)
        self._counter: QuantumCounter | None = None   # the quantum's block countdown (run)
        try:
            # Before the first hook: unicorn sets its translator up lazily, then.
            self.uc.ctl_set_tcg_buffer_size(TRANSLATION_BUFFER)
        except (AttributeError, unicorn.UcError):
            pass   # an older unicorn: its default buffer
        # page -> unicorn permissions, kept beside unicorn's own map by map/unmap/protect
        # (the TLB fill hook runs for every page the guest touches: a dict is fast)
        self._permissions: dict[int, int] = {}
        self._looking_up_code = False   # forget_code is looking pages up (see there)
        self._lent_execute = False      # ... and the TLB holds an execute right it lent
        self._translated = False        # has run: unicorn may hold translated code
        self.uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)
        self.uc.hook_add(unicorn.UC_HOOK_TLB_FILL, self._fill_tlb)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._memory_fault, None,
                         _TRAP, 2 * _TRAP - 1)
        self.uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, self._invalid_instruction)
        self._power_on = self.uc.context_save()   # for reset: the state it starts in

    def reset(self) -> None:
        """Empty the address space and put the processor back in the state it started in,
        keeping the engine and its traps: an execve loads a new program into the same
        process. (A new engine costs ~0.6 ms to build: its translation buffer and hooks.)
        Address breakpoints go with the old program's code."""
        for begin, end, _ in list(self.uc.mem_regions()):
            self.uc.mem_unmap(begin, end - begin + 1)
        self._permissions.clear()
        if self._counter is not None:
            self._counter.remove()     # the new program gets it when it first needs it
        self.uc.ctl_flush_tb()
        self.uc.context_restore(self._power_on)
        for address in list(self._breakpoints):
            self.remove_breakpoint(address)
        self._block_sizes.clear()
        self.pending_fault = self._resolve_fault = None
        self._translated = self._uncounted_code = self._lent_execute = False

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
        self.uc.context_restore(context)

    # --- memory -----------------------------------------------------------------------------

    def map(self, address: int, size: int, protect: int) -> None:
        self.uc.mem_map(address, size, unicorn_permissions(protect))
        self._note_permissions(address, size, unicorn_permissions(protect))

    def map_shared(self, address: int, size: int, protect: int, host_address: int) -> None:
        """Map host memory that other address spaces may map too: a section's pages.
        Writes through one mapping are seen at once through every other."""
        self.uc.mem_map_ptr(address, size, unicorn_permissions(protect), host_address)
        self._note_permissions(address, size, unicorn_permissions(protect))

    def unmap(self, address: int, size: int) -> None:
        self.uc.mem_unmap(address, size)
        self._note_permissions(address, size, None)

    def protect(self, address: int, size: int, protect: int) -> None:
        self.uc.mem_protect(address, size, unicorn_permissions(protect))
        self._note_permissions(address, size, unicorn_permissions(protect))
        # unicorn flushes its TLB when a page becomes writable or read-only, not when it
        # loses reading or execution: without this a page made PAGE_NOACCESS stays readable
        # through the entry the TLB already holds.
        self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)

    def _note_permissions(self, address: int, size: int, permissions: int | None) -> None:
        # (map and unmap flush unicorn's TLB, protect does below: no entry outlives this)
        for page in range(address, address + size, 0x1000):
            if permissions is None:
                self._permissions.pop(page, None)
            else:
                self._permissions[page] = permissions

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(address, size))

    def write(self, address: int, data: bytes) -> None:
        self.uc.mem_write(address, bytes(data))

    def forget_code(self, address: int, size: int) -> None:
        """Drop what unicorn translated from [address, address + size). Its own mem_write
        does not do this (unicorn issue #1148): code the kernel writes over code the guest
        already ran would otherwise never be seen, and the old instructions run again."""
        if not self._translated:
            return        # a processor that never ran holds no code (execve's new image)
        # unicorn finds the translated code through a TLB lookup for fetching, one page
        # at a time. The kernel writes code while the page is writable, not executable:
        # the fill lets this lookup through (_looking_up_code), and the entries it made
        # are dropped afterwards, so the guest still cannot execute the page.
        self._looking_up_code = True
        try:
            for page in range(address & ~0xFFF, address + size, 0x1000):
                self.uc.ctl_remove_cache(max(page, address), min(page + 0x1000, address + size))
        finally:
            self._looking_up_code = False
        if self._lent_execute:
            self._lent_execute = False
            self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)

    # --- traps ------------------------------------------------------------------------------

    def hook_syscall(self, handler) -> None:
        """x86-64 `syscall`: the Linux (pico process) trap."""
        self._traps.append(self.uc.hook_add(unicorn.UC_HOOK_INSN, handler, None, 1, 0,
                                            x86.UC_X86_INS_SYSCALL))

    def hook_interrupt(self, handler) -> None:
        """`INT n` and CPU exceptions (divide error is interrupt 0)."""
        self._traps.append(self.uc.hook_add(unicorn.UC_HOOK_INTR, handler))

    def remove_traps(self) -> None:
        """The personality's traps go (the processor is to serve another process)."""
        while self._traps:
            self.uc.hook_del(self._traps.pop())

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
                bytes(uc.mem_read(address, size)), address)))
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

    def run(self, instructions: int = 0, *, blocks: int = 0) -> str:
        """Run the loaded thread from its PC until a trap handler stops it, and at most
        for `instructions` (exactly: stepping) or `blocks` translated blocks (a quantum:
        see quantum.py). Returns a StopReason; a fault is left in `pending_fault`."""
        self.stop_reason = None
        self.pending_fault = None
        self._translated = True
        if self.pc in self._breakpoints:
            self._skip_breakpoint_at = self.pc   # resuming from this breakpoint
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
        if self._counter is None and quantum.available():
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

    def _emulate(self, instructions: int) -> str:
        start = self.pc
        while True:
            try:
                self.uc.emu_start(start, _NEVER, 0, instructions)
            except unicorn.UcError as error:
                if self._resolve_fault is not None:
                    # A copy-on-write fault. The page cannot be replaced while unicorn is
                    # inside the write (it crashes), so the instruction stopped before it
                    # did anything; copy the page now and run the instruction again.
                    resolve, self._resolve_fault = self._resolve_fault, None
                    resolve()
                    start = self.pc
                    if start in self._breakpoints:
                        self._skip_breakpoint_at = start
                    continue
                if self.pending_fault is None:
                    self.pending_fault = self._describe(error)
                return StopReason.FAULT
            break
        if self.pending_fault is not None:
            return StopReason.FAULT
        if self.stop_reason is not None:
            return self.stop_reason
        return StopReason.QUANTUM

    def _fill_tlb(self, uc, page, access, entry, _data) -> bool:
        """A TLB miss: the guest touches `page` (for reading, writing or fetching) and the
        processor has no entry for it. Give the page's own permissions; a page the memory
        manager can give memory now (demand-zero, a view's page) is mapped first. Anything
        else goes to the trap range, where _memory_fault sees the exact address."""
        needed = _NEEDED.get(access, 0)
        permissions = self._permissions.get(page)
        if self._looking_up_code:
            if permissions is not None and not permissions & needed:
                permissions |= needed
                self._lent_execute = True
        elif permissions is None and self.on_unmapped is not None and page != _STOP_PROBE \
                and self.on_unmapped(page, 1, _AS_UNMAPPED.get(access, access)):
            permissions = self._permissions.get(page)
        if permissions is not None and permissions & needed:
            entry.paddr, entry.perms = page, permissions
        else:
            entry.paddr, entry.perms = _TRAP + page, needed
        return True

    def _memory_fault(self, uc, access, address, size, value, _data) -> bool:
        """An access the TLB fill denied, at its exact (trap-range) address, with the PC of
        the faulting instruction: a copy-on-write store, or a fault for the personality."""
        address -= _TRAP
        if access == unicorn.UC_MEM_WRITE_UNMAPPED and self.on_write_protect is not None \
                and (address & ~0xFFF) in self._permissions:
            self._resolve_fault = self.on_write_protect(address, size)
            if self._resolve_fault is not None:
                return False  # stop here; run() copies the page and retries
        self.pending_fault = Fault(_FAULT_KINDS.get(access, "access"), address,
                                   uc.reg_read(self.pc_register))
        return False

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
        self.uc = None
        self._counter = None     # (it holds the engine too)
