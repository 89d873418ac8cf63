"""Every processor mode, with small hand-assembled guests: real mode (the VDM), 16-bit
protected mode with a per-process LDT (OS/2 1.x), 32-bit flat protected mode and long
mode; `INT n` traps and their restart, far-call thunks, port I/O, and an interrupt
injected from outside (a virtual machine's timer tick)."""

from __future__ import annotations

import struct

import pytest

from ntsim.kernel.cpu import (
    PAGE_EXECUTE_READWRITE,
    PROTECTED_MODE_16,
    PROTECTED_MODE_32,
    REAL_MODE,
    Cpu,
    ProcessorError,
    StopReason,
)
from ntsim.kernel.descriptors import DescriptorTable, SegmentDescriptor, selector

INT_20 = b"\xcd\x20"            # DOS's "terminate": here it just stops the run


def word(value: int) -> bytes:
    return struct.pack("<H", value)


# --- real mode ------------------------------------------------------------------------------


def real_mode(code: bytes, cs: int = 0x1234, ip: int = 0x0010) -> tuple[Cpu, list[int]]:
    """A real-mode processor with 1 MiB + the HMA of RAM at linear 0 and `code` at CS:IP.
    INT 20h stops the run; other `INT n` vectors are recorded and continue."""
    cpu = Cpu(REAL_MODE)
    cpu.map(0, 0x110000, PAGE_EXECUTE_READWRITE)
    cpu.write(cs * 16 + ip, code)
    vectors: list[int] = []

    def trap(vector: int) -> None:
        vectors.append(vector)
        if vector == 0x20:
            cpu.request_stop()

    cpu.hook_software_interrupts(trap)
    cpu.jump(cs, ip)
    cpu.write_register("ss", 0x9000)
    cpu.write_register("sp", 0xFFFE)
    return cpu, vectors


def test_a_real_mode_program_runs_at_cs_ip_when_cs_is_not_a_multiple_of_0x1000():
    # mov ax, cs; mov ds, ax; mov byte [0100h], 42h; int 20h
    code = b"\x8c\xc8" + b"\x8e\xd8" + b"\xc6\x06\x00\x01\x42" + INT_20
    cpu, vectors = real_mode(code, cs=0x1234, ip=0x0010)
    assert cpu.run() == StopReason.REQUESTED
    assert vectors == [0x20]
    assert cpu.read(0x12340 + 0x100, 1) == b"\x42"          # DS = CS: 1234:0100
    assert (cpu.read_register("cs"), cpu.pc) == (0x1234, 0x0010 + len(code))
    assert cpu.linear_pc == 0x12340 + 0x0010 + len(code)
    assert cpu.describe_pc() == f"1234:{0x10 + len(code):04X}"


def test_a_real_mode_breakpoint_is_a_linear_address():
    code = b"\x40" * 4 + INT_20                              # inc ax x4
    cpu, _ = real_mode(code, cs=0x0765, ip=0x0003)
    cpu.add_breakpoint(0x07650 + 0x0003 + 2)                 # before the third inc
    assert cpu.run() == StopReason.BREAKPOINT
    assert (cpu.read_register("ax"), cpu.pc) == (2, 0x0005)
    assert cpu.run() == StopReason.REQUESTED
    assert cpu.read_register("ax") == 4


def test_real_mode_shows_the_registers_of_an_8086():
    cpu, _ = real_mode(INT_20)
    assert cpu.register_names[:8] == ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")
    assert {"ip", "flags", "cs", "ds", "es", "ss"} <= set(cpu.register_names)
    assert not {"eax", "rip"} & set(cpu.register_names)
    assert cpu.read_registers()["cs"] == 0x1234


def test_a_divide_error_in_real_mode_is_a_fault_not_the_bios_interrupt_0():
    # mov ax, 5; xor bl, bl; div bl
    cpu, vectors = real_mode(b"\xb8\x05\x00" + b"\x30\xdb" + b"\xf6\xf3" + INT_20, 0x2000, 0)
    assert cpu.run() == StopReason.FAULT
    fault = cpu.pending_fault
    assert (fault.kind, fault.vector, fault.error_code) == ("divide", 0, None)
    assert fault.pc == 0x20000 + 5                           # the div, not past it
    assert vectors == []


def test_int_13h_in_real_mode_is_the_disk_service_not_a_general_protection_fault():
    cpu, vectors = real_mode(b"\xcd\x13" + INT_20)
    assert cpu.run() == StopReason.REQUESTED
    assert vectors == [0x13, 0x20]
    assert cpu.pending_fault is None


# --- INT n traps and their restart -----------------------------------------------------------


def test_an_int_trap_that_restarts_runs_its_instruction_again():
    # mov ah, 1; int 21h (waits the first time); inc bx; int 20h
    code = b"\xb4\x01" + b"\xcd\x21" + b"\x43" + INT_20
    cpu, _ = real_mode(b"")
    cpu.write(0x12340 + 0x10, code)
    calls = []

    def dos(vector: int) -> None:
        if vector == 0x20:
            cpu.request_stop()
            return
        calls.append(cpu.describe_pc())
        if len(calls) == 1:              # no key yet: park the call, make it again later
            cpu.restart_trap()
            cpu.request_stop()
        else:
            cpu.write_register("al", ord("k"))

    cpu.remove_traps()
    cpu.hook_software_interrupts(dos)
    assert cpu.run() == StopReason.REQUESTED
    assert cpu.describe_pc() == "1234:0012"          # back at the INT 21h
    assert cpu.read_register("bx") == 0
    assert cpu.run() == StopReason.REQUESTED         # the INT 21h again, then on to INT 20h
    assert calls == ["1234:0014", "1234:0014"]
    assert (cpu.read_register("al"), cpu.read_register("bx")) == (ord("k"), 1)


# --- port I/O ---------------------------------------------------------------------------------


def test_in_and_out_reach_the_machine_s_devices():
    # mov dx, 60h; in al, dx; inc al; out 61h, al; mov ax, 1234h; out dx, ax; int 20h
    code = (b"\xba\x60\x00" + b"\xec" + b"\xfe\xc0" + b"\xe6\x61" + b"\xb8\x34\x12" + b"\xef"
            + INT_20)
    cpu, _ = real_mode(code)
    reads, writes = [], []

    def read(port: int, size: int) -> int:
        reads.append((port, size))
        return 0x41

    cpu.hook_ports(read, lambda port, size, value: writes.append((port, size, value)))
    assert cpu.run() == StopReason.REQUESTED
    assert reads == [(0x60, 1)]
    assert writes == [(0x61, 1, 0x42), (0x60, 2, 0x1234)]


# --- an interrupt from outside: the VM's timer tick -------------------------------------------

HANDLER_SEGMENT = 0x2000
COUNTER = 0x0100          # in the main program's segment


def timer_machine(main: bytes) -> tuple[Cpu, list[tuple[int, int, int]]]:
    """IVT[8] points at a handler that counts ticks in CS(main):COUNTER, acknowledges the
    PIC (OUT 20h, 20h) and returns with IRET."""
    cpu, _ = real_mode(main, cs=0x1234, ip=0)
    handler = (b"\x1e" + b"\x68\x34\x12" + b"\x1f"            # push ds; push 1234h; pop ds
               + b"\xfe\x06" + word(COUNTER)                   # inc byte [COUNTER]
               + b"\x50\xb0\x20\xe6\x20\x58"                   # push ax; mov al,20h; out 20h,al; pop ax
               + b"\x1f\xcf")                                  # pop ds; iret
    cpu.write(HANDLER_SEGMENT * 16, handler)
    cpu.write(8 * 4, word(0) + word(HANDLER_SEGMENT))
    writes: list[tuple[int, int, int]] = []
    cpu.hook_ports(lambda port, size: 0, lambda port, size, value: writes.append((port, size, value)))
    return cpu, writes


def test_an_injected_interrupt_reaches_its_handler_and_returns_with_iret():
    # sti; wait: cmp byte [cs:COUNTER], 0; je wait; int 20h
    main = b"\xfb" + b"\x2e\x80\x3e" + word(COUNTER) + b"\x00" + b"\x74\xf8" + INT_20
    cpu, writes = timer_machine(main)
    assert cpu.run(1000) == StopReason.QUANTUM            # spinning, waiting for a tick
    spinning_at, stack = cpu.pc, cpu.read_register("sp")
    assert 1 <= spinning_at < len(main) - 2
    assert cpu.inject_interrupt(8)                        # at a safe point: between runs
    assert (cpu.read_register("cs"), cpu.pc) == (HANDLER_SEGMENT, 0)
    ip, cs, flags = struct.unpack("<3H", cpu.read(0x90000 + stack - 6, 6))
    assert (ip, cs) == (spinning_at, 0x1234) and flags & 0x200   # IP, CS, FLAGS with IF
    assert not cpu.interrupts_enabled                     # the handler runs with IF clear
    assert cpu.run() == StopReason.REQUESTED              # handler, IRET, main sees the tick
    assert cpu.read(0x12340 + COUNTER, 1) == b"\x01"
    assert writes == [(0x20, 1, 0x20)]                    # the end-of-interrupt
    assert cpu.read_register("sp") == stack               # IRET took its frame back
    assert cpu.interrupts_enabled                         # and the FLAGS it saved


def test_a_halted_guest_waits_for_its_interrupt_and_goes_on_after_it():
    # sti; hlt; int 20h — DOS's idle loop, reduced
    cpu, writes = timer_machine(b"\xfb" + b"\xf4" + INT_20)
    assert cpu.run() == StopReason.HALTED
    assert cpu.pc == 2                                     # past the HLT
    assert cpu.inject_interrupt(8)
    assert cpu.run() == StopReason.REQUESTED               # the tick's handler, then INT 20h
    assert cpu.read(0x12340 + COUNTER, 1) == b"\x01"
    assert writes == [(0x20, 1, 0x20)]


def test_an_interrupt_waits_while_the_guest_has_interrupts_disabled():
    cpu, writes = timer_machine(b"\xfa" + b"\xeb\xfe")    # cli; jmp $
    cpu.run(100)
    assert not cpu.inject_interrupt(8)
    assert cpu.read_register("cs") == 0x1234 and writes == []


def test_a_software_interrupt_can_be_reflected_to_the_guest_s_own_handler():
    # the guest hooked INT 1Ch (as a DOS program hooks the user timer tick)
    main = b"\xcd\x1c" + b"\x2e\x80\x3e" + word(COUNTER) + b"\x01" + b"\x75\xfe" + INT_20
    cpu, _ = timer_machine(main)
    cpu.write(0x1C * 4, word(0) + word(HANDLER_SEGMENT))
    cpu.remove_traps()
    cpu.hook_ports(lambda port, size: 0, lambda port, size, value: None)

    def bios(vector: int) -> None:
        if vector == 0x20:
            cpu.request_stop()
        else:
            cpu.deliver_interrupt(vector)     # not the host's: the guest's IVT entry

    cpu.hook_software_interrupts(bios)
    assert cpu.run(10_000) == StopReason.REQUESTED
    assert cpu.read(0x12340 + COUNTER, 1) == b"\x01"


# --- 16-bit protected mode: an OS/2 1.x process with its own LDT -------------------------------

GDT_BASE, LDT_BASE = 0x1000, 0x2000
CODE_BASE, DATA_BASE, STACK_BASE, THUNK_BASE = 0x20000, 0x30000, 0x40000, 0x50000
LDT_SLOT = 1                                   # the GDT entry that describes the LDT
KERNEL_DATA = 2                                # a GDT data segment for ring 0 only


def os2_process(code: bytes) -> tuple[Cpu, DescriptorTable, dict[str, int]]:
    """A 16-bit protected-mode processor at ring 3 with a GDT (the LDT's descriptor and
    a ring-0 segment) and a process LDT holding code, data, stack and a thunk segment."""
    cpu = Cpu(PROTECTED_MODE_16)
    cpu.map(0, 0x60000, PAGE_EXECUTE_READWRITE)
    gdt = DescriptorTable("GDT", GDT_BASE, 8)
    ldt = DescriptorTable("LDT", LDT_BASE, 8)
    gdt[LDT_SLOT] = SegmentDescriptor.local_descriptor_table(ldt.base, ldt.limit)
    gdt[KERNEL_DATA] = SegmentDescriptor.data16(0x58000, 0xFFF, dpl=0)
    selectors = {
        "code": ldt.allocate(SegmentDescriptor.code16(CODE_BASE, 0xFFFF)),
        "data": ldt.allocate(SegmentDescriptor.data16(DATA_BASE, 0x0FFF)),
        "stack": ldt.allocate(SegmentDescriptor.data16(STACK_BASE, 0x0FFF)),
        "thunks": ldt.allocate(SegmentDescriptor.code16(THUNK_BASE, 0xFF)),
    }
    cpu.load_descriptor_tables(gdt, ldt, ldt_selector=gdt.selector(LDT_SLOT, rpl=0))
    cpu.write(CODE_BASE + 0x100, code)
    cpu.enter_user_mode(cs=selectors["code"], ip=0x100, ss=selectors["stack"], sp=0x0FFE,
                        ds=selectors["data"])
    return cpu, ldt, selectors


def test_a_16_bit_process_loads_selectors_from_its_own_ldt_and_takes_a_gp_fault():
    # mov ax, DATA; mov es, ax; mov word [es:4], 1234h; mov ax, 3Fh; mov ds, ax
    cpu, ldt, sel = os2_process(b"")
    missing = selector(7, ldt=True, rpl=3)              # LDT entry 7: never allocated
    code = (b"\xb8" + word(sel["data"]) + b"\x8e\xc0" + b"\x26\xc7\x06\x04\x00\x34\x12"
            + b"\xb8" + word(missing) + b"\x8e\xd8")
    cpu.write(CODE_BASE + 0x100, code)
    assert cpu.privilege_level == 3
    assert cpu.ldtr[1:] == (LDT_BASE, ldt.limit)
    assert cpu.run() == StopReason.FAULT
    assert cpu.read(DATA_BASE + 4, 2) == word(0x1234)    # ES's base came from the LDT
    fault = cpu.pending_fault
    assert (fault.kind, fault.vector) == ("general-protection", 13)
    assert (fault.error_code, fault.selector) == (missing & 0xFFFC, missing & 0xFFFC)
    faulting = 0x100 + len(code) - 2                      # the mov ds, ax
    assert fault.pc == CODE_BASE + faulting == cpu.linear_pc
    assert cpu.describe_pc() == f"{sel['code']:04X}:{faulting:04X}"
    assert "LDT entry 7" in fault.detail


def test_ring_3_code_cannot_load_a_ring_0_segment_and_a_second_fault_is_not_a_double_fault():
    kernel = selector(KERNEL_DATA, rpl=3)
    # mov ax, KERNEL; mov ds, ax (#GP); then, resumed past it, the same again (#GP, not #DF)
    code = b"\xb8" + word(kernel) + b"\x8e\xd8" + b"\x8e\xd8"
    cpu, _, _ = os2_process(code)
    assert cpu.run() == StopReason.FAULT
    first = cpu.pending_fault
    assert (first.vector, first.selector) == (13, kernel & 0xFFFC)
    cpu.pc += 2                                            # as a handler that skips it would
    assert cpu.run() == StopReason.FAULT
    assert (cpu.pending_fault.vector, cpu.pending_fault.pc) == (13, first.pc + 2)


def test_a_far_call_through_a_thunk_traps_with_pascal_arguments_and_returns():
    """OS/2's DOSCALLS imports point at a thunk segment: `INT n; RETF 4` per entry. The
    handler finds the caller's arguments above the far return address."""
    # push 7; push 5; call far THUNKS:0000; mov bx, ax; int 20h
    cpu, _, sel = os2_process(b"")
    code = (b"\x6a\x07" + b"\x6a\x05" + b"\x9a" + word(0) + word(sel["thunks"])
            + b"\x89\xc3" + INT_20)
    cpu.write(CODE_BASE + 0x100, code)
    cpu.write(THUNK_BASE, b"\xcd\x80" + b"\xca\x04\x00")     # int 80h; retf 4
    seen = []

    def doscalls(vector: int) -> None:
        if vector == 0x20:
            cpu.request_stop()
            return
        sp = cpu.read_register("sp")
        frame = cpu.read(cpu.linear(sp, "ss"), 8)
        ip, cs, second, first = struct.unpack("<4H", frame)    # pascal: first pushed is deepest
        seen.append((cpu.describe_pc(), cs, first, second))
        cpu.write_register("ax", first * 10 + second)

    cpu.hook_software_interrupts(doscalls)
    assert cpu.run() == StopReason.REQUESTED
    assert seen == [(f"{sel['thunks']:04X}:0002", sel["code"], 7, 5)]
    assert cpu.read_register("bx") == 75
    assert cpu.read_register("sp") == 0x0FFE                  # RETF 4 popped the arguments


def test_a_segment_register_refuses_a_selector_the_processor_would_refuse():
    cpu, _, _ = os2_process(INT_20)
    with pytest.raises(ProcessorError, match="LDT entry 6"):
        cpu.write_register("es", selector(6, ldt=True, rpl=3))


def test_a_new_ldt_entry_is_usable_at_once():
    # mov ax, NEW; mov ds, ax; mov al, [0]; int 20h
    cpu, ldt, _ = os2_process(b"")
    new = cpu.set_descriptor(ldt, 6, SegmentDescriptor.data16(0x58800, 0xF))
    cpu.write(0x58800, b"\x99")
    cpu.write(CODE_BASE + 0x100, b"\xb8" + word(new) + b"\x8e\xd8" + b"\xa0\x00\x00" + INT_20)
    cpu.hook_software_interrupts(lambda vector: cpu.request_stop())
    assert cpu.run() == StopReason.REQUESTED
    assert cpu.read_register("al") == 0x99


# --- 32-bit flat protected mode ---------------------------------------------------------------


def test_a_32_bit_flat_program_runs_with_32_bit_registers():
    # mov eax, 12345678h; mov ecx, 10h; shl eax, cl; mov [2000h], eax; int 2Eh
    code = (b"\xb8\x78\x56\x34\x12" + b"\xb9\x10\x00\x00\x00" + b"\xd3\xe0"
            + b"\xa3\x00\x20\x00\x00" + b"\xcd\x2e")
    cpu = Cpu(PROTECTED_MODE_32)
    cpu.map(0x1000, 0x2000, PAGE_EXECUTE_READWRITE)
    cpu.write(0x1000, code)
    vectors = []
    cpu.hook_software_interrupts(lambda vector: (vectors.append(vector), cpu.request_stop()))
    cpu.pc = 0x1000
    assert cpu.run() == StopReason.REQUESTED
    assert vectors == [0x2E]                                  # NT's x86 system-call gate
    assert cpu.read(0x2000, 4) == struct.pack("<I", 0x5678_0000)
    assert cpu.pc == cpu.linear_pc == 0x1000 + len(code)
    assert "eflags" in cpu.register_names and "eip" in cpu.register_names
    assert cpu.describe_pc() == hex(0x1000 + len(code))


def test_process_creation_takes_the_mode_s_address_space_layout(kernel):
    vdm = kernel.create_process("ntvdm.exe", architecture=REAL_MODE)
    win32 = kernel.create_process("app.exe", architecture=PROTECTED_MODE_32)
    custom = kernel.create_process("os2.exe", architecture=PROTECTED_MODE_16,
                                   user_space=(0x10000, 0x1FFF_FFFF))
    assert (vdm.memory.lowest, vdm.memory.highest) == (0, 0x10FFEF)
    assert win32.memory.highest == 0x7FFE_FFFF
    assert (custom.memory.lowest, custom.memory.highest) == (0x10000, 0x1FFF_FFFF)
    assert custom.cpu.mode.name == PROTECTED_MODE_16


def test_real_mode_has_no_descriptor_tables_and_says_so():
    cpu, _ = real_mode(INT_20)
    with pytest.raises(ProcessorError, match="only in protected mode"):
        cpu.load_descriptor_tables(DescriptorTable("GDT", 0x1000, 4))
    with pytest.raises(ProcessorError, match="real mode"):
        cpu.enter_user_mode(cs=8, ip=0, ss=16, sp=0)


def test_interrupts_go_through_a_guest_table_only_in_real_mode():
    cpu = Cpu(PROTECTED_MODE_32)
    with pytest.raises(ProcessorError, match="real mode only"):
        cpu.deliver_interrupt(8)
