"""Tiny x86-64 guests written as machine code, for tests that need a processor to touch
memory, fault, loop or trap. Each program ends with `syscall`, which stops the run."""

from __future__ import annotations

from ntsim.kernel.cpu import StopReason
from ntsim.kernel.memory import MEM_COMMIT, MEM_RESERVE, PAGE_EXECUTE_READ, PAGE_SIZE
from ntsim.kernel.services import NtCurrentProcess

CODE_BASE = 0x0010_0000

SYSCALL = b"\x0f\x05"
SPIN = b"\xeb\xfe"                                   # jmp $


def mov_rbx(value: int) -> bytes:
    return b"\x48\xbb" + value.to_bytes(8, "little")   # mov rbx, imm64


def mov_rax(value: int) -> bytes:
    return b"\x48\xb8" + value.to_bytes(8, "little")   # mov rax, imm64


LOAD_RAX_FROM_RBX = b"\x48\x8b\x03"                    # mov rax, [rbx]
STORE_RAX_AT_RBX = b"\x48\x89\x03"                     # mov [rbx], rax
JUMP_TO_RBX = b"\xff\xe3"                              # jmp rbx


def load(nt, process, code: bytes, base: int = CODE_BASE) -> None:
    """Commit an executable page at `base` (once), put `code` + `syscall` there and point
    the processor at it. The `syscall` stops the run (a trap handler asking to stop)."""
    if process.memory.find(base) is None:
        nt.NtAllocateVirtualMemory(NtCurrentProcess, base, PAGE_SIZE, MEM_RESERVE | MEM_COMMIT,
                                   PAGE_EXECUTE_READ)
    process.memory.write(base, code + SYSCALL)
    cpu = process.cpu
    if not getattr(cpu, "_test_hooked", False):
        cpu.hook_syscall(lambda uc, _data: cpu.request_stop())
        cpu._test_hooked = True
    cpu.pc = base


def run(process) -> str:
    """Run until the closing `syscall` or a fault; returns the StopReason."""
    return process.cpu.run()


def finished(reason: str) -> bool:
    return reason == StopReason.REQUESTED
