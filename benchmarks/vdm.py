"""The VDM at speed: section (l) of benchmarks/run.py.

(l1) a compute-bound DOS program under ntsim's VDM, as a ratio of bare unicorn in 16-bit
     real mode running the same instructions (goal >= 0.9): a register-only loop of 20
     million rounds (386 prefixes in 16-bit code: four instructions a translated block,
     the worst case for the quantum counter), and a loop that also loads and stores;
(l2) an INT 21h round trip (AH=30h, get version: a call that stays inside the VM) under
     ntsim, against a bare unicorn interrupt hook that writes AX (goal <= 2x).

    python benchmarks/vdm.py

The programs are written out here as bytes (their source is in each comment), so the
benchmark needs no assembler.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from table import print_table  # noqa: E402  (benchmarks/table.py)
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_16, Uc  # noqa: E402
from unicorn.x86_const import (  # noqa: E402
    UC_X86_REG_AX,
    UC_X86_REG_CS,
    UC_X86_REG_DS,
    UC_X86_REG_SP,
    UC_X86_REG_SS,
)

from ntsim.machine import Machine  # noqa: E402
from ntsim.subsystems.windows.csrss import CapturedConsole  # noqa: E402

ROUNDS = 20_000_000
CALLS = 100_000
# cpu 386 / org 100h / mov ecx, 20000000 / xor eax, eax
# top: add eax, ecx / xor eax, 5A5Ah / dec ecx / jnz top / mov ax, 4C00h / int 21h
COMPUTE = bytes.fromhex("66b9002d31016631c06601c866355a5a0000664975f3b8004ccd21")
# cpu 386 / org 100h / mov esi, 100000      (AH=30h returns in AX, BX and CX)
# top: mov ah, 30h / int 21h / dec esi / jnz top / mov ax, 4C00h / int 21h
# cpu 386 / org 100h / mov ecx, 5000000 / xor eax, eax / mov si, 200h
# top: add eax, [si] / mov [si+4], eax / dec ecx / jnz top / mov ax, 4C00h / int 21h
MEMORY = bytes.fromhex("66b9404b4c006631c0be000266030466894404664975f5b8004ccd21")
INT21_LOOP = bytes.fromhex("66bea0860100b430cd21664e75f8b8004ccd21")
SEGMENT = 0x1000


def bare_unicorn(code: bytes) -> float:
    """Seconds for bare unicorn, 16-bit mode, to run `code` at 1000:0100 until its
    final INT 21h AH=4Ch; every other INT 21h gets AX written by a Python hook."""
    uc = Uc(UC_ARCH_X86, UC_MODE_16)
    uc.mem_map(0, 0x110000)
    uc.mem_write(SEGMENT * 16 + 0x100, code)
    for register in (UC_X86_REG_CS, UC_X86_REG_DS, UC_X86_REG_SS):
        uc.reg_write(register, SEGMENT)
    uc.reg_write(UC_X86_REG_SP, 0xFFFE)

    def interrupt(uc, number, _data):
        if uc.reg_read(UC_X86_REG_AX) >> 8 == 0x4C:
            uc.emu_stop()
        else:
            uc.reg_write(UC_X86_REG_AX, 0x0005)

    uc.hook_add(UC_HOOK_INTR, interrupt)
    started = time.perf_counter()
    uc.emu_start(SEGMENT * 16 + 0x100, 0x110000)
    return time.perf_counter() - started


def ntsim_vdm(code: bytes) -> float:
    """Seconds for ntsim to run the same program as a COM file (boot and load excluded)."""
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "BENCH.COM")
        with open(path, "wb") as stream:
            stream.write(code)
        machine = Machine(root, console=CapturedConsole())
        machine.load(path)
        started = time.perf_counter()
        status = machine.run()
        elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the benchmark program exited with {status}")
    return elapsed


def rows() -> list[tuple[str, str, str]]:
    bare_times, vdm_times = [], []
    for _ in range(3):                       # alternated, as section (b) is
        vdm_times.append(ntsim_vdm(COMPUTE))
        bare_times.append(bare_unicorn(COMPUTE))
    bare, vdm = min(bare_times), min(vdm_times)
    bare_memory = min(bare_unicorn(MEMORY) for _ in range(2))
    vdm_memory = min(ntsim_vdm(MEMORY) for _ in range(2))
    bare_call = min(bare_unicorn(INT21_LOOP) for _ in range(3)) / CALLS * 1e6
    vdm_call = min(ntsim_vdm(INT21_LOOP) for _ in range(3)) / CALLS * 1e6
    return [
        ("(l) DOS compute, bare unicorn 16-bit", f"{bare:.3f} s", ""),
        ("(l) DOS compute, ntsim VDM", f"{vdm:.3f} s", f"{bare / vdm:.2f} of bare speed  (target >= 0.9)"),
        ("(l) DOS loads/stores, bare unicorn", f"{bare_memory:.3f} s", ""),
        ("(l) DOS loads/stores, ntsim VDM", f"{vdm_memory:.3f} s",
         f"{bare_memory / vdm_memory:.2f} of bare speed  (target >= 0.9)"),
        ("(l) bare unicorn INT hook", f"{bare_call:.2f} µs", ""),
        ("(l) ntsim INT 21h AH=30h", f"{vdm_call:.2f} µs", f"{vdm_call / bare_call:.2f}x bare  (target <= 2x)"),
    ]


def main() -> None:
    table = rows()
    print_table("the VDM", table)


if __name__ == "__main__":
    main()
