"""The x86-64 signal frame: its layout against Linux's own headers, and the FP state
saved and restored through unicorn."""

from __future__ import annotations

import struct

import pytest
from unicorn import x86_const as x86

from ntsim.kernel.cpu import PAGE_EXECUTE_READWRITE, Cpu
from ntsim.subsystems.linux import sigframe

from .c_layout import measure

# --- layout, against the kernel's UAPI headers ----------------------------------------------

LAYOUT_PROGRAM = r"""
#include <stddef.h>
#include <stdio.h>
#include <asm/sigcontext.h>
#include <asm/signal.h>
#include <asm/ucontext.h>
#include <asm/siginfo.h>
#define FIELD(type, field) printf(#field " %zu\n", offsetof(struct type, field))
#define FP(field) printf("fp_" #field " %zu\n", offsetof(struct _fpstate_64, field))
int main(void) {
    printf("ucontext_size %zu\n", sizeof(struct ucontext));
    FIELD(ucontext, uc_flags); FIELD(ucontext, uc_link); FIELD(ucontext, uc_stack);
    FIELD(ucontext, uc_mcontext); FIELD(ucontext, uc_sigmask);
    printf("sigcontext_size %zu\n", sizeof(struct sigcontext));
    FIELD(sigcontext, r8); FIELD(sigcontext, r9); FIELD(sigcontext, r10); FIELD(sigcontext, r11);
    FIELD(sigcontext, r12); FIELD(sigcontext, r13); FIELD(sigcontext, r14); FIELD(sigcontext, r15);
    FIELD(sigcontext, rdi); FIELD(sigcontext, rsi); FIELD(sigcontext, rbp); FIELD(sigcontext, rbx);
    FIELD(sigcontext, rdx); FIELD(sigcontext, rax); FIELD(sigcontext, rcx); FIELD(sigcontext, rsp);
    FIELD(sigcontext, rip); FIELD(sigcontext, eflags); FIELD(sigcontext, cs); FIELD(sigcontext, gs);
    FIELD(sigcontext, fs); FIELD(sigcontext, ss); FIELD(sigcontext, err); FIELD(sigcontext, trapno);
    FIELD(sigcontext, oldmask); FIELD(sigcontext, cr2); FIELD(sigcontext, fpstate);
    printf("siginfo_size %zu\n", sizeof(siginfo_t));
    printf("fpstate_size %zu\n", sizeof(struct _fpstate_64));
    FP(cwd); FP(swd); FP(twd); FP(fop); FP(rip); FP(rdp); FP(mxcsr); FP(mxcsr_mask);
    FP(st_space); FP(xmm_space);
    return 0;
}
"""


@pytest.fixture(scope="module")
def linux_layout(tmp_path_factory) -> dict[str, int]:
    """Offsets and sizes as the C compiler computes them from the headers."""
    return measure(LAYOUT_PROGRAM, tmp_path_factory.mktemp("linux_layout"))


def test_ucontext_and_frame_sizes(linux_layout: dict[str, int]) -> None:
    assert sigframe.UCONTEXT_SIZE == linux_layout["ucontext_size"]
    assert sigframe.SIGCONTEXT_SIZE == linux_layout["sigcontext_size"]
    assert sigframe.SIGINFO_SIZE == linux_layout["siginfo_size"]
    assert sigframe.FPSTATE_SIZE == linux_layout["fpstate_size"]
    # struct rt_sigframe { char *pretcode; struct ucontext uc; struct siginfo info; }
    assert sigframe.UCONTEXT_OFFSET == 8
    assert sigframe.SIGINFO_OFFSET == 8 + linux_layout["ucontext_size"]
    assert sigframe.MCONTEXT_OFFSET == 8 + linux_layout["uc_mcontext"]
    assert sigframe.SIGMASK_OFFSET == 8 + linux_layout["uc_sigmask"]


def test_sigcontext_fields_land_where_the_headers_put_them(linux_layout: dict[str, int]) -> None:
    registers = {name: 0x1111_0000_0000_0000 + index for index, name in enumerate(sigframe.GENERAL)}
    packed = sigframe.pack_sigcontext(registers, err=0xE1, trapno=0xE2, oldmask=0xE3, cr2=0xE4,
                                      fpstate=0xE5)
    for name in sigframe.GENERAL:
        (value,) = struct.unpack_from("<Q", packed, linux_layout[name])
        assert value == registers[name], name
    for name, expected in (("err", 0xE1), ("trapno", 0xE2), ("oldmask", 0xE3), ("cr2", 0xE4),
                           ("fpstate", 0xE5)):
        assert struct.unpack_from("<Q", packed, linux_layout[name])[0] == expected, name
    selectors = (("cs", sigframe.USER_CS), ("ss", sigframe.USER_DS), ("gs", 0), ("fs", 0))
    for name, expected in selectors:
        assert struct.unpack_from("<H", packed, linux_layout[name])[0] == expected, name


def test_ucontext_fields_land_where_the_headers_put_them(linux_layout: dict[str, int]) -> None:
    registers = dict.fromkeys(sigframe.GENERAL, 7)
    mcontext = sigframe.pack_sigcontext(registers)
    packed = sigframe.pack_ucontext(mcontext, 0xA5A5, (0x5000, 2, 0x4000))
    assert len(packed) == linux_layout["ucontext_size"]
    assert struct.unpack_from("<Q", packed, linux_layout["uc_flags"])[0] == sigframe.UC_FLAGS
    assert struct.unpack_from("<Q", packed, linux_layout["uc_sigmask"])[0] == 0xA5A5
    assert struct.unpack_from("<QiiQ", packed, linux_layout["uc_stack"]) == (0x5000, 2, 0, 0x4000)
    assert packed[linux_layout["uc_mcontext"]:][:len(mcontext)] == mcontext
    saved, mask, stack = sigframe.unpack_ucontext(packed)
    assert (mask, stack) == (0xA5A5, (0x5000, 2, 0x4000))
    assert all(saved[name] == 7 for name in sigframe.GENERAL)


def test_fxsave_area_layout(linux_layout: dict[str, int]) -> None:
    area = sigframe.initial_fpstate()
    assert len(area) == linux_layout["fpstate_size"]
    assert struct.unpack_from("<H", area, linux_layout["fp_cwd"])[0] == sigframe.FCW_INIT
    assert struct.unpack_from("<I", area, linux_layout["fp_mxcsr"])[0] == sigframe.MXCSR_INIT
    assert struct.unpack_from("<I", area, linux_layout["fp_mxcsr_mask"])[0] == sigframe.MXCSR_MASK
    # what save_fpstate writes where: ST0-ST7 16 bytes apart, then XMM0-XMM15
    assert (linux_layout["fp_swd"], linux_layout["fp_twd"], linux_layout["fp_fop"],
            linux_layout["fp_rip"], linux_layout["fp_rdp"]) == (2, 4, 6, 8, 16)
    assert (linux_layout["fp_st_space"], linux_layout["fp_xmm_space"]) == (32, 160)


@pytest.mark.parametrize("sp", [0x7FFF_FFFF_E000, 0x7FFF_FFFF_DFF8, 0x7FFF_FFFF_DFF1,
                                0x10_0000 + 13])
def test_frame_alignment(sp: int) -> None:
    """RSP at the handler is 16n + 8, as right after a call; the FP area is 64-aligned,
    above the frame and below the old stack pointer."""
    frame, fpstate = sigframe.frame_addresses(sp)
    assert frame % 16 == 8
    assert fpstate % 64 == 0
    assert frame + sigframe.FRAME_SIZE <= fpstate
    assert fpstate + sigframe.FPSTATE_SIZE <= sp
    assert sp - frame < sigframe.FRAME_SIZE + sigframe.FPSTATE_SIZE + 64 + 16 + 8


# --- the FP state through unicorn -----------------------------------------------------------

FLD1_FLDPI = bytes.fromhex("dbe3d9e8d9eb")   # fninit; fld1; fldpi


def test_fp_state_survives_a_save_reset_restore() -> None:
    cpu = Cpu()
    cpu.map(0x1000, 0x1000, PAGE_EXECUTE_READWRITE)
    cpu.write(0x1000, FLD1_FLDPI)
    cpu.uc.emu_start(0x1000, 0x1000 + len(FLD1_FLDPI))
    uc = cpu.uc
    pattern = 0x0101_0101_0101_0101_0101_0101_0101_0101
    for index in range(16):
        uc.reg_write(getattr(x86, f"UC_X86_REG_XMM{index}"), (index + 1) * pattern)
    uc.reg_write(x86.UC_X86_REG_MXCSR, 0x1F80 | 0x6000)      # round toward zero
    before_x87 = [uc.reg_read(getattr(x86, f"UC_X86_REG_FP{i}")) for i in range(8)]
    before = (uc.reg_read(x86.UC_X86_REG_FPSW), uc.reg_read(x86.UC_X86_REG_FPCW),
              uc.reg_read(x86.UC_X86_REG_MXCSR))

    area = sigframe.save_fpstate(uc)
    assert len(area) == sigframe.FPSTATE_SIZE
    top = (before[0] >> 11) & 7
    # ST0 is pi, ST1 is 1.0, in the FXSAVE image as in the x87 stack
    assert struct.unpack_from("<QH", area, 32) == before_x87[top]
    assert struct.unpack_from("<QH", area, 48) == (1 << 63, 0x3FFF)
    assert area[4] == (1 << top) | (1 << ((top + 1) & 7))        # abridged tag: two in use

    sigframe.reset_fpstate(uc)
    assert uc.reg_read(x86.UC_X86_REG_XMM3) == 0
    assert uc.reg_read(x86.UC_X86_REG_MXCSR) == sigframe.MXCSR_INIT
    assert uc.reg_read(x86.UC_X86_REG_FPTAG) == 0xFFFF             # every register empty

    sigframe.restore_fpstate(uc, area)
    assert [uc.reg_read(getattr(x86, f"UC_X86_REG_XMM{i}")) for i in range(16)] == [
        (i + 1) * pattern for i in range(16)]
    assert (uc.reg_read(x86.UC_X86_REG_FPSW), uc.reg_read(x86.UC_X86_REG_FPCW),
            uc.reg_read(x86.UC_X86_REG_MXCSR)) == before
    assert [uc.reg_read(getattr(x86, f"UC_X86_REG_FP{i}")) for i in range((top) & 7, 8)] == \
        before_x87[top:]
    assert sigframe.save_fpstate(uc) == area
