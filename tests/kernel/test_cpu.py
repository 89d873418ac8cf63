"""The processor: running for a quantum, stopping at a trap, faults, breakpoints, and
counting instructions and blocks."""

from __future__ import annotations

import pytest
from unicorn import UcError

from ntsim.kernel import quantum
from ntsim.kernel.cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    Cpu,
    StopReason,
)

CODE = 0x1000
INT_80 = b"\xcd\x80"
SYSCALL = b"\x0f\x05"


def processor(code: bytes, architecture: str = "x86-64", trap: bytes = SYSCALL) -> Cpu:
    """A processor with `code` at CODE; the trap instruction stops the run."""
    cpu = Cpu(architecture)
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, code)
    if trap == SYSCALL:
        cpu.hook_syscall(lambda uc, _data: cpu.request_stop())
    else:
        cpu.hook_interrupt(lambda uc, number, _data: cpu.request_stop())
    cpu.pc = CODE
    return cpu


def test_a_trap_handler_stops_the_run_just_after_the_trap():
    cpu = processor(b"\x90\x90" + SYSCALL + b"\x90")
    assert cpu.run() == StopReason.REQUESTED
    assert cpu.pc == CODE + 4


def test_a_run_with_an_instruction_budget_stops_when_it_is_spent():
    cpu = processor(b"\x48\xff\xc0\xeb\xfb")       # again: inc rax; jmp again
    assert cpu.run(1000) == StopReason.QUANTUM
    assert cpu.read_register("rax") == 500       # two instructions per round


def test_a_trap_can_restart_its_own_instruction():
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, b"\x48\xff\xc0" + SYSCALL)    # inc rax; syscall
    calls = []

    def trap(uc, _data):
        calls.append(cpu.read_register("rax"))
        if len(calls) < 3:
            cpu.resume_after_syscall_at(CODE + 3)    # run the syscall again
        else:
            cpu.request_stop()

    cpu.hook_syscall(trap)
    cpu.pc = CODE
    cpu.run()
    assert calls == [1, 1, 1]


def test_registers_are_known_by_the_names_a_student_types():
    cpu = Cpu("x86-64")
    cpu.write_register("r12", 0x1234)
    assert cpu.read_register("r12") == 0x1234
    assert cpu.read_register("r12d") == 0x1234


def test_a_saved_context_brings_the_registers_back():
    cpu = Cpu("x86-64")
    cpu.write_register("rbx", 1)
    saved = cpu.save_context()
    cpu.write_register("rbx", 2)
    cpu.restore_context(saved)
    assert cpu.read_register("rbx") == 1


# --- faults --------------------------------------------------------------------------------


def test_reading_unmapped_memory_is_a_read_fault_at_that_address():
    cpu = processor(b"\x48\xa1" + (0x7000_0000).to_bytes(8, "little") + SYSCALL)   # mov rax, [abs]
    assert cpu.run() == StopReason.FAULT
    assert cpu.pending_fault.kind == "read"
    assert cpu.pending_fault.address == 0x7000_0000
    assert cpu.pending_fault.pc == CODE


def test_writing_read_only_memory_is_a_write_fault():
    cpu = processor(b"\x48\xa3" + (0x8000).to_bytes(8, "little") + SYSCALL)        # mov [abs], rax
    cpu.map(0x8000, 0x1000, PAGE_READONLY)
    assert cpu.run() == StopReason.FAULT
    assert cpu.pending_fault.kind == "write"
    assert cpu.pending_fault.address == 0x8000


def test_a_fault_names_the_exact_address_and_the_faulting_instruction():
    # nop; mov [abs 0x8005], al: the fault is 5 bytes into the page, at the store
    cpu = processor(b"\x90\xa2" + (0x8005).to_bytes(8, "little") + SYSCALL)
    cpu.map(0x8000, 0x1000, PAGE_READONLY)
    assert cpu.run() == StopReason.FAULT
    assert (cpu.pending_fault.address, cpu.pending_fault.pc) == (0x8005, CODE + 1)


def test_a_protection_change_holds_for_a_page_the_processor_has_already_used():
    store = b"\x48\xa3" + (0x8000).to_bytes(8, "little")      # mov [abs], rax
    cpu = processor(store + SYSCALL + store + SYSCALL)
    cpu.map(0x8000, 0x1000, PAGE_READWRITE)
    assert cpu.run() == StopReason.REQUESTED                  # the page is in the TLB now
    cpu.protect(0x8000, 0x1000, PAGE_READONLY)
    assert cpu.run() == StopReason.FAULT
    assert cpu.pending_fault.kind == "write"


def test_a_page_made_inaccessible_stops_reads_the_processor_already_made():
    load = b"\x48\xa1" + (0x8000).to_bytes(8, "little")       # mov rax, [abs]
    cpu = processor(load + SYSCALL + load + SYSCALL)
    cpu.map(0x8000, 0x1000, PAGE_READONLY)
    assert cpu.run() == StopReason.REQUESTED
    cpu.protect(0x8000, 0x1000, PAGE_NOACCESS)
    assert cpu.run() == StopReason.FAULT
    assert (cpu.pending_fault.kind, cpu.pending_fault.address) == ("read", 0x8000)


def test_an_undefined_instruction_is_reported_as_such():
    cpu = processor(b"\x0f\x0b")                  # ud2
    assert cpu.run() == StopReason.FAULT
    assert cpu.pending_fault.kind == "invalid-instruction"
    assert cpu.pending_fault.pc == CODE


def test_a_fault_is_recoverable_when_the_memory_manager_maps_the_page():
    cpu = processor(b"\x48\xa1" + (0x9000).to_bytes(8, "little") + SYSCALL)
    faults = []

    def demand_zero(address, write, fetch):
        faults.append(address)
        cpu.map(address & ~0xFFF, 0x1000, PAGE_READONLY)
        return True

    cpu.on_page_fault = demand_zero
    assert cpu.run() == StopReason.REQUESTED
    assert faults == [0x9000]
    assert cpu.read_register("rax") == 0


# --- breakpoints ---------------------------------------------------------------------------


def test_a_breakpoint_stops_before_its_instruction_and_resuming_continues():
    cpu = processor(b"\x48\xff\xc0" * 3 + SYSCALL)   # inc rax x3
    cpu.add_breakpoint(CODE + 3)
    assert cpu.run() == StopReason.BREAKPOINT
    assert cpu.pc == CODE + 3
    assert cpu.read_register("rax") == 1
    assert cpu.run() == StopReason.REQUESTED
    assert cpu.read_register("rax") == 3


def test_a_removed_breakpoint_no_longer_stops():
    cpu = processor(b"\x90\x90" + SYSCALL)
    cpu.add_breakpoint(CODE + 1)
    cpu.remove_breakpoint(CODE + 1)
    assert cpu.run() == StopReason.REQUESTED


# --- counting instructions -----------------------------------------------------------------


def counted(code: bytes, architecture: str = "x86-64", trap: bytes = SYSCALL) -> int:
    cpu = processor(code, architecture, trap)
    cpu.count_instructions(True)
    assert cpu.run() == StopReason.REQUESTED
    return cpu.instructions


def test_counting_counts_every_instruction_run():
    assert counted(b"\x90" * 7 + SYSCALL) == 8


def test_two_processes_with_different_code_at_the_same_place_count_their_own():
    four_nops = b"\x90\x90\x90\x90" + SYSCALL       # 6 bytes, 5 instructions
    two_long_nops = b"\x66\x90\x66\x90" + SYSCALL   # 6 bytes, 3 instructions
    assert counted(four_nops) == 5
    assert counted(two_long_nops) == 3


@pytest.mark.parametrize("first", ["x86-64", "x86-32"])
def test_counting_decodes_each_architecture_as_itself(first):
    # 48 90 is one instruction in 64-bit mode (REX.W nop) but two in 32-bit (dec eax; nop)
    code = b"\x48\x90\x48\x90" + INT_80
    results = {}
    for architecture in (first, "x86-32" if first == "x86-64" else "x86-64"):
        results[architecture] = counted(code, architecture, INT_80)
    assert results == {"x86-64": 3, "x86-32": 5}


def test_counting_is_off_unless_asked_for():
    cpu = processor(b"\x90" * 3 + SYSCALL)
    cpu.run()
    assert cpu.instructions == 0


def test_code_rewritten_by_the_kernel_runs_as_written():
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READWRITE)
    cpu.hook_syscall(lambda uc, _data: cpu.request_stop())
    cpu.write(CODE, b"\xb0\x01" + SYSCALL)          # mov al, 1
    cpu.pc = CODE
    cpu.run()
    cpu.write(CODE, b"\xb0\x02" + SYSCALL)          # mov al, 2
    cpu.forget_code(CODE, 4)
    cpu.pc = CODE
    cpu.run()
    assert cpu.read_register("al") == 2


def test_a_reset_processor_is_empty_and_runs_only_the_new_program():
    """execve keeps the process's processor: after a reset nothing of the old program is
    left — no memory, no registers, no translated code, no breakpoints — and the traps
    installed before still fire."""
    cpu = processor(b"\xb0\x01\x48\xc7\xc3\x07\x00\x00\x00" + SYSCALL)   # mov al, 1; mov rbx, 7
    cpu.add_breakpoint(CODE + 2)
    cpu.run()                                  # stops at the breakpoint
    cpu.run()
    assert (cpu.read_register("al"), cpu.read_register("rbx")) == (1, 7)
    cpu.reset()
    with pytest.raises(UcError):                # nothing is mapped
        cpu.read(CODE, 1)
    assert (cpu.read_register("rax"), cpu.read_register("rbx"), cpu.pc) == (0, 0, 0)
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, b"\xb0\x02\x90\x90\x90\x90\x90\x90\x90" + SYSCALL)   # mov al, 2
    cpu.pc = CODE
    assert cpu.run() == StopReason.REQUESTED   # the old breakpoint at CODE+2 is gone
    assert (cpu.read_register("al"), cpu.read_register("rbx"), cpu.pc) == (2, 0, CODE + 11)


# --- modes, exceptions, interrupts (every mode: test_modes.py) ------------------------------


def test_an_unknown_processor_mode_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="x86-16-protected"):
        Cpu("z80")


DIVIDE_BY_ZERO = b"\x31\xc9\x48\xf7\xf1"          # xor ecx, ecx; div rcx


def test_a_processor_exception_is_a_fault_with_its_vector_at_the_faulting_instruction():
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, DIVIDE_BY_ZERO + SYSCALL)
    cpu.pc = CODE
    assert cpu.run() == StopReason.FAULT
    fault = cpu.pending_fault
    assert (fault.kind, fault.vector, fault.pc) == ("divide", 0, CODE + 2)


def test_an_int_nobody_traps_in_long_mode_is_a_fault_naming_the_vector():
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, b"\x90" + INT_80)
    cpu.pc = CODE
    assert cpu.run() == StopReason.FAULT
    assert (cpu.pending_fault.kind, cpu.pending_fault.vector) == ("interrupt", 0x80)
    assert "INT 0x80" in cpu.pending_fault.detail


def test_a_second_exception_after_one_was_handled_is_not_a_double_fault():
    """unicorn keeps the first exception 'in flight' (its guest handler never runs); the
    processor must forget it, or the next one is reported as interrupt 8."""
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, DIVIDE_BY_ZERO + DIVIDE_BY_ZERO)
    vectors = []

    def handler(uc, number, _data):           # a personality's raw hook, as LXSS's
        vectors.append(number)
        cpu.pc += 3                           # skip the div, as a signal handler might
        if len(vectors) == 2:
            cpu.request_stop()

    cpu.hook_interrupt(handler)
    cpu.pc = CODE
    assert cpu.run() == StopReason.REQUESTED
    assert vectors == [0, 0]


def test_restart_trap_in_a_syscall_handler_runs_the_syscall_again():
    cpu = Cpu("x86-64")
    cpu.map(CODE, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(CODE, b"\x48\xff\xc0" + SYSCALL + b"\x48\xff\xc3" + SYSCALL)   # inc rax; inc rbx
    calls = []

    def trap(uc, _data):
        calls.append((cpu.read_register("rax"), cpu.read_register("rbx")))
        if len(calls) == 1:
            cpu.restart_trap()
        cpu.request_stop()

    cpu.hook_syscall(trap)
    cpu.pc = CODE
    cpu.run()
    assert cpu.pc == CODE + 3                     # parked at the syscall
    cpu.run()
    assert calls == [(1, 0), (1, 0)]


def test_a_page_fault_the_memory_manager_cannot_resolve_names_the_address_and_access():
    """Pages are in x86 page tables the processor walks itself: a store to a page that is
    not there is exception 14, and the fault carries CR2's address and the error code's
    access (here a write, from the second instruction)."""
    cpu = Cpu("x86-32")
    cpu.map(0x10000, 0x1000, PAGE_EXECUTE_READ)
    cpu.write(0x10000, b"\x90\xa3\x10\x00\x30\x00")             # nop; mov [300010h], eax
    cpu.pc = 0x10000
    assert cpu.run(100) == StopReason.FAULT
    fault = cpu.pending_fault
    assert (fault.kind, fault.address, fault.pc, fault.vector) == ("write", 0x300010, 0x10001, 14)
    assert fault.error_code & 2

# mov ecx, 5000000; again: add qword [0x3000], 1; xadd [0x3008], rax; dec rcx; jnz again;
# syscall. Two read-modify-write instructions: one run twice would change the sums.
READ_MODIFY_WRITE_LOOP = bytes.fromhex("b9404b4c00488304250030000001480fc104250830000048ffc975e90f05")
SUMS = 0x3000


def summing_processor() -> Cpu:
    cpu = processor(READ_MODIFY_WRITE_LOOP)
    cpu.map(SUMS, 0x1000, PAGE_READWRITE)
    cpu.write_register("rax", 1)
    return cpu


def sums(cpu: Cpu) -> tuple[int, int]:
    data = cpu.read(SUMS, 16)
    return int.from_bytes(data[:8], "little"), int.from_bytes(data[8:], "little")


def run_to_the_trap(cpu: Cpu, blocks: int) -> int:
    """Run quanta of `blocks` until the trap at the end; returns how many quanta ended."""
    quanta = 0
    while cpu.run(blocks=blocks) == StopReason.QUANTUM:
        quanta += 1
    return quanta


needs_the_counter = pytest.mark.skipif(not quantum.available(),
                                       reason="no native quantum counter on this host")


@needs_the_counter
def test_a_quantum_of_blocks_ends_between_instructions_and_resumes_exactly():
    alone = summing_processor()
    assert alone.run() == StopReason.REQUESTED
    sliced = summing_processor()
    assert run_to_the_trap(sliced, 1000) >= 5_000_000 // 1000 - 1   # one block a round
    assert sums(sliced) == sums(alone)
    assert sums(alone)[0] == 5_000_000


@needs_the_counter
def test_another_host_thread_takes_the_processor_without_repeating_an_instruction():
    """unicorn's own emu_stop from another thread can land just after a store, and the
    instruction then runs again; take_processor stops only at a block's start."""
    import threading
    import time

    alone = summing_processor()
    alone.run()
    cpu = summing_processor()
    finished = threading.Event()

    def take_it_often() -> None:
        while not finished.is_set():
            time.sleep(0.0002)
            cpu.take_processor()

    taker = threading.Thread(target=take_it_often)
    taker.start()
    try:
        taken = run_to_the_trap(cpu, 1 << 40)
    finally:
        finished.set()
        taker.join()
    assert taken > 0
    assert sums(cpu) == sums(alone)


@needs_the_counter
def test_a_lone_run_sheds_the_counter_and_goes_on():
    cpu = summing_processor()
    assert cpu.run(blocks=10) == StopReason.QUANTUM   # the counter is in the code now
    assert cpu.take_processor()
    assert cpu.run() == StopReason.REQUESTED          # past SHED_COUNTER_AFTER: dropped
    assert not cpu.take_processor()                   # ... so nothing can take it now
    assert sums(cpu)[0] == 5_000_000
