"""The x86-64 signal frame: what Linux pushes on the user stack to run a handler.

To run a handler, the kernel saves the interrupted thread's registers on the user stack,
points the registers at the handler, and lets the thread go. The handler returns (`ret`)
into `sa_restorer`, a two-instruction stub of the C library (`mov $15, %eax; syscall`),
and `rt_sigreturn` reads the saved registers back. Programs look inside this frame
(a SIGSEGV handler reads the faulting address from `uc_mcontext`), so it is laid out
byte for byte as Linux lays it out (arch/x86/include/asm/sigframe.h,
arch/x86/include/uapi/asm/sigcontext.h, include/uapi/asm-generic/ucontext.h):

    RSP at handler entry ─▶ +0    pretcode        = sa_restorer
                            +8    struct ucontext (304 bytes)
                                    +0    uc_flags
                                    +8    uc_link        (0)
                                    +16   uc_stack       ss_sp, ss_flags, ss_size
                                    +40   uc_mcontext    struct sigcontext (256 bytes)
                                    +296  uc_sigmask     the mask rt_sigreturn restores
                            +312  struct siginfo  (128 bytes)
                            ...   (padding)
        64-byte aligned ─▶        the FP state: 512 bytes in FXSAVE format

    struct sigcontext: r8 r9 r10 r11 r12 r13 r14 r15 rdi rsi rbp rbx rdx rax rcx rsp rip
                       eflags (8 bytes each), cs gs fs ss (2 bytes each), err, trapno,
                       oldmask, cr2, fpstate (pointer to the FP area), 8 reserved words.

The FP area is what the FXSAVE instruction stores: control, status and abridged tag
words, the last x87 opcode and instruction/data pointers, MXCSR, ST0-ST7 and XMM0-XMM15.
unicorn gives all of these through its register API, so they are saved and restored
exactly. Not preserved: the upper halves of the YMM/ZMM registers (AVX state, which
Linux keeps in an XSAVE area after these 512 bytes) — the frame says so by leaving
UC_FP_XSTATE out of uc_flags, exactly as a kernel on a CPU without XSAVE would.
"""

from __future__ import annotations

import struct

from unicorn import x86_const as x86

# --- layout ------------------------------------------------------------------------------------

UCONTEXT_OFFSET = 8
UCONTEXT_SIZE = 304
MCONTEXT_OFFSET = UCONTEXT_OFFSET + 40
SIGMASK_OFFSET = UCONTEXT_OFFSET + 296
SIGINFO_OFFSET = UCONTEXT_OFFSET + UCONTEXT_SIZE      # 312
SIGINFO_SIZE = 128
FRAME_SIZE = SIGINFO_OFFSET + SIGINFO_SIZE            # 440: sizeof(struct rt_sigframe)
SIGCONTEXT_SIZE = 256
FPSTATE_SIZE = 512                                    # sizeof(struct fxregs_state)
FPSTATE_ALIGN = 64
RED_ZONE = 128                                        # the x86-64 ABI's scratch area below RSP

# uc_flags: the saved SS is meaningful and must be restored as saved (Linux 4.6 and later).
UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x1, 0x2, 0x4
UC_FLAGS = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS

# The selectors a 64-bit Linux user thread runs with (__USER_CS, __USER_DS).
USER_CS, USER_DS = 0x33, 0x2B

# The flags rt_sigreturn takes from the frame (FIX_EFLAGS): the arithmetic flags, DF,
# TF, AC, RF; a handler cannot give itself IOPL or turn interrupts off.
EFLAGS_CF, EFLAGS_PF, EFLAGS_AF, EFLAGS_ZF, EFLAGS_SF = 0x1, 0x4, 0x10, 0x40, 0x80
EFLAGS_TF, EFLAGS_DF, EFLAGS_OF, EFLAGS_RF, EFLAGS_AC = 0x100, 0x400, 0x800, 0x10000, 0x40000
FIX_EFLAGS = (EFLAGS_AC | EFLAGS_OF | EFLAGS_DF | EFLAGS_TF | EFLAGS_SF | EFLAGS_ZF
              | EFLAGS_AF | EFLAGS_PF | EFLAGS_CF | EFLAGS_RF)
# A handler starts as a function does: direction flag clear, not single-stepping.
HANDLER_CLEARS_EFLAGS = EFLAGS_DF | EFLAGS_RF | EFLAGS_TF

# The general registers in sigcontext order, then rip and eflags.
GENERAL = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
           "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags")
REGISTER_IDS = {name: getattr(x86, f"UC_X86_REG_{name.upper()}") for name in GENERAL}

_SIGCONTEXT = struct.Struct("<18Q4H5Q8Q")     # 18 registers, 4 selectors, err..fpstate, reserved
_STACK = struct.Struct("<Qi4xQ")              # stack_t: ss_sp, ss_flags, ss_size (24 bytes)
_UCONTEXT_HEAD = struct.Struct("<QQ")         # uc_flags, uc_link
assert _SIGCONTEXT.size == SIGCONTEXT_SIZE and _STACK.size == 24


def frame_addresses(sp: int) -> tuple[int, int]:
    """Where the FP area and the frame go, below `sp` (get_sigframe): the FP area
    64-byte aligned, the frame under it so that RSP ≡ 8 (mod 16) at the handler's first
    instruction, as if the handler had been called."""
    fpstate = (sp - FPSTATE_SIZE) & ~(FPSTATE_ALIGN - 1)
    frame = ((fpstate - FRAME_SIZE) & ~0xF) - 8
    return frame, fpstate


# --- struct sigcontext -------------------------------------------------------------------------


def pack_sigcontext(registers: dict[str, int], *, err: int = 0, trapno: int = 0, oldmask: int = 0,
                    cr2: int = 0, fpstate: int = 0) -> bytes:
    return _SIGCONTEXT.pack(*(registers[name] & 0xFFFF_FFFF_FFFF_FFFF for name in GENERAL),
                            USER_CS, 0, 0, USER_DS, err, trapno, oldmask, cr2, fpstate, *([0] * 8))


def unpack_sigcontext(data: bytes) -> dict[str, int]:
    """The registers, and fpstate (the FP area's address, 0 for none)."""
    values = _SIGCONTEXT.unpack(data[:SIGCONTEXT_SIZE])
    saved = dict(zip(GENERAL, values[:18], strict=True))
    saved["cs"], saved["gs"], saved["fs"], saved["ss"] = values[18:22]
    saved["err"], saved["trapno"], saved["oldmask"], saved["cr2"], saved["fpstate"] = values[22:27]
    return saved


# --- struct ucontext ---------------------------------------------------------------------------


def pack_ucontext(mcontext: bytes, sigmask: int, stack: tuple[int, int, int]) -> bytes:
    """`stack` is (ss_sp, ss_flags, ss_size): the alternate stack as it was when the
    signal arrived (rt_sigreturn puts it back)."""
    return (_UCONTEXT_HEAD.pack(UC_FLAGS, 0) + _STACK.pack(*stack) + mcontext
            + struct.pack("<Q", sigmask))


def unpack_ucontext(data: bytes) -> tuple[dict[str, int], int, tuple[int, int, int]]:
    """(registers of uc_mcontext, uc_sigmask, uc_stack) from the 304 bytes of a ucontext."""
    stack = _STACK.unpack_from(data, 16)
    mcontext = unpack_sigcontext(data[40:40 + SIGCONTEXT_SIZE])
    (sigmask,) = struct.unpack_from("<Q", data, 296)
    return mcontext, sigmask, stack


def unpack_stack(data: bytes) -> tuple[int, int, int]:
    return _STACK.unpack(data)


def pack_stack(sp: int, flags: int, size: int) -> bytes:
    return _STACK.pack(sp, flags, size)


# --- the processor's registers -----------------------------------------------------------------


def read_general(registers) -> dict[str, int]:
    """The general registers, RIP and EFLAGS, through the fast register file."""
    read = registers.read
    return {name: read(register) for name, register in REGISTER_IDS.items()}


def write_general(registers, values: dict[str, int]) -> None:
    write = registers.write
    for name, register in REGISTER_IDS.items():
        write(register, values[name])


_FXSAVE_HEAD = struct.Struct("<HHBxHQQII")      # fcw fsw ftw(abridged) fop rip rdp mxcsr mxcsr_mask
MXCSR_MASK = 0xFFFF                            # the MXCSR bits implemented (DAZ included)
FCW_INIT, MXCSR_INIT = 0x037F, 0x1F80          # FNINIT / the ABI's initial state
_FP = [getattr(x86, f"UC_X86_REG_FP{i}") for i in range(8)]
_XMM = [getattr(x86, f"UC_X86_REG_XMM{i}") for i in range(16)]


def save_fpstate(uc) -> bytes:
    """FXSAVE, done through unicorn's register API: 512 bytes.

    unicorn's FPTAG is the full x87 tag word (two bits a register, 3 = empty); FXSAVE
    keeps one bit a register (1 = in use). FP0-FP7 are the physical registers; the
    FXSAVE image holds them in stack order, ST0 first, ST(i) being FP((TOP + i) mod 8).
    """
    fsw = uc.reg_read(x86.UC_X86_REG_FPSW)
    full_tag = uc.reg_read(x86.UC_X86_REG_FPTAG)
    abridged = sum(1 << i for i in range(8) if (full_tag >> (2 * i)) & 3 != 3)
    head = _FXSAVE_HEAD.pack(uc.reg_read(x86.UC_X86_REG_FPCW), fsw, abridged,
                             uc.reg_read(x86.UC_X86_REG_FOP) & 0x7FF,
                             uc.reg_read(x86.UC_X86_REG_FIP), uc.reg_read(x86.UC_X86_REG_FDP),
                             uc.reg_read(x86.UC_X86_REG_MXCSR), MXCSR_MASK)
    top = (fsw >> 11) & 7
    stack = b""
    for i in range(8):
        mantissa, exponent = uc.reg_read(_FP[(top + i) & 7])
        stack += struct.pack("<QH6x", mantissa, exponent)
    xmm = b"".join(uc.reg_read(register).to_bytes(16, "little") for register in _XMM)
    return (head + stack + xmm).ljust(FPSTATE_SIZE, b"\0")


def restore_fpstate(uc, data: bytes) -> None:
    """FXRSTOR from a frame's FP area."""
    fcw, fsw, abridged, fop, fip, fdp, mxcsr, _mask = _FXSAVE_HEAD.unpack_from(data)
    uc.reg_write(x86.UC_X86_REG_FPCW, fcw)
    uc.reg_write(x86.UC_X86_REG_FPSW, fsw)
    top = (fsw >> 11) & 7
    for i in range(8):
        mantissa, exponent = struct.unpack_from("<QH", data, 32 + 16 * i)
        uc.reg_write(_FP[(top + i) & 7], (mantissa, exponent))
    # Back to the full tag word: in use -> 0 (valid), free -> 3 (empty).
    uc.reg_write(x86.UC_X86_REG_FPTAG, sum(3 << (2 * i) for i in range(8) if not abridged >> i & 1))
    uc.reg_write(x86.UC_X86_REG_FOP, fop)
    uc.reg_write(x86.UC_X86_REG_FIP, fip)
    uc.reg_write(x86.UC_X86_REG_FDP, fdp)
    uc.reg_write(x86.UC_X86_REG_MXCSR, mxcsr & MXCSR_MASK)
    for i, register in enumerate(_XMM):
        uc.reg_write(register, int.from_bytes(data[160 + 16 * i:176 + 16 * i], "little"))


def reset_fpstate(uc) -> None:
    """The FPU as a handler finds it (fpu__clear_user_states): the initial state."""
    restore_fpstate(uc, initial_fpstate())


def initial_fpstate() -> bytes:
    head = _FXSAVE_HEAD.pack(FCW_INIT, 0, 0, 0, 0, 0, MXCSR_INIT, MXCSR_MASK)
    return head.ljust(FPSTATE_SIZE, b"\0")
