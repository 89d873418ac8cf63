"""OS2SS at speed: what one OS/2 API call costs.

    python benchmarks/os2.py            (also a section of benchmarks/run.py)

(j)  an OS/2 API call's round trip: 100,000 far calls through the thunk segment
     (INT F0h, RETF n) into ntsim's call gate —
       DosGetPID (answered in-process, no Nt* service),
       DosWrite of one byte to NUL (in-process, then NtWriteFile on the null device),
     beside bare unicorn running the same guest loop (the same pushes, far call, INT and
     RETF in 16-bit protected mode) with a Python interrupt hook that only writes AX;
(k)  the cost an LPC round trip to the OS2SS server adds: DosCWait (no wait, no child:
     the server answers ERROR_WAIT_NO_CHILDREN), minus DosGetPID.

The programs are NE images built here with examples/os2/nebuild.py (no nasm needed).
"""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from table import print_table  # noqa: E402  (benchmarks/table.py)
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc  # noqa: E402
from unicorn.x86_const import (  # noqa: E402
    UC_X86_REG_AX,
    UC_X86_REG_CR0,
    UC_X86_REG_CS,
    UC_X86_REG_DS,
    UC_X86_REG_GDTR,
    UC_X86_REG_SP,
    UC_X86_REG_SS,
)

from ntsim.kernel.descriptors import DescriptorTable, SegmentDescriptor  # noqa: E402
from ntsim.machine import Machine  # noqa: E402
from ntsim.subsystems.windows.csrss import CapturedConsole  # noqa: E402

_spec = importlib.util.spec_from_file_location("nebuild", os.path.join(ROOT, "examples", "os2", "nebuild.py"))
nebuild = importlib.util.module_from_spec(_spec)
sys.modules["nebuild"] = nebuild
_spec.loader.exec_module(nebuild)

OUTER, INNER = 10, 10_000
CALLS = OUTER * INNER
FAR_CALL = b"\x9a\x00\x00\x00\x00"

# the pushes of each call, and its ordinal (data: 0 a byte to write, 2 written, 4 NUL's
# handle, 6 DosOpen's action, 0x10 PIDINFO / RESULTCODES, 0x14 a pid, 0x20 "NUL")
SETUP_OPEN_NUL = (b"\x1e\x6a\x20" + b"\x1e\x6a\x04" + b"\x1e\x6a\x06" + b"\x6a\x00\x6a\x00" + b"\x6a\x00"
                  + b"\x6a\x01" + b"\x6a\x41" + b"\x6a\x00\x6a\x00", 70)
CALLS_UNDER_TEST = {
    "DosGetPID": (b"\x1e\x6a\x10", 94),
    "DosWrite": (b"\xff\x36\x04\x00" + b"\x1e\x6a\x00" + b"\x6a\x01" + b"\x1e\x6a\x02", 138),
    "DosCWait": (b"\x6a\x00\x6a\x01" + b"\x1e\x6a\x10" + b"\x1e\x6a\x14" + b"\x6a\x00", 2),
}


def loop_program(pushes: bytes, ordinal: int) -> bytes:
    """DosOpen("NUL"); then OUTER x INNER times: the call; then DosExit(1, 0)."""
    code, fixups = bytearray(), []

    def far_call(ordinal: int) -> None:
        fixups.append(nebuild.Fixup(1, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, len(code) + 1, 1, ordinal))
        code.extend(FAR_CALL)

    code += SETUP_OPEN_NUL[0]
    far_call(SETUP_OPEN_NUL[1])
    code += b"\xbb" + struct.pack("<H", OUTER)               # mov bx, OUTER
    outer = len(code)
    code += b"\xb9" + struct.pack("<H", INNER)               # mov cx, INNER
    inner = len(code)
    code += b"\x51\x53" + pushes                             # push cx; push bx; the arguments
    far_call(ordinal)
    code += b"\x5b\x59"                                      # pop bx; pop cx
    code += b"\xe2" + bytes([(inner - (len(code) + 2)) & 0xFF])        # loop inner
    code += b"\x4b" + b"\x75" + bytes([(outer - (len(code) + 3)) & 0xFF])   # dec bx; jnz outer
    code += b"\x6a\x01\x6a\x00"
    far_call(5)
    data = bytearray(0x40)
    data[0x20:0x24] = b"NUL\0"
    program = nebuild.Program([nebuild.SegmentSpec(bytes(code), 0x50), nebuild.SegmentSpec(bytes(data), 0x51)],
                              ["DOSCALLS"], fixups, cs_ip=(1, 0), ss_sp=(2, 0), autodata=2)
    return nebuild.link(program)


def ntsim_calls(name: str) -> float:
    """µs per call of `name` under ntsim (boot and load excluded)."""
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "loop.exe")
        with open(path, "wb") as stream:
            stream.write(loop_program(*CALLS_UNDER_TEST[name]))
        machine = Machine(root, console=CapturedConsole())
        machine.load(path)
        started = time.perf_counter()
        status = machine.run()
        elapsed = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"the {name} loop exited with {status}: {machine.console.stderr!r}")
    return elapsed / CALLS * 1e6


def bare_interrupt_hook(name: str = "DosWrite") -> float:
    """µs per call for bare unicorn: the same loop in 16-bit protected mode, a thunk of
    INT F0h; RETF n, and a Python hook that writes AX = 0."""
    pushes, _ordinal = CALLS_UNDER_TEST[name]
    pops = {"DosGetPID": 4, "DosWrite": 12, "DosCWait": 14}[name]
    gdt = DescriptorTable("GDT", 0x1000, 4)
    code_base, data_base, thunk_base = 0x10000, 0x20000, 0x30000
    gdt[1] = SegmentDescriptor.code16(code_base, dpl=0)
    gdt[2] = SegmentDescriptor.data16(data_base, dpl=0)
    gdt[3] = SegmentDescriptor.code16(thunk_base, dpl=0)
    code = bytearray(b"\xbb" + struct.pack("<H", OUTER))
    outer = len(code)
    code += b"\xb9" + struct.pack("<H", INNER)
    inner = len(code)
    code += b"\x51\x53" + pushes + b"\x9a\x00\x00\x18\x00" + b"\x5b\x59"
    code += b"\xe2" + bytes([(inner - (len(code) + 2)) & 0xFF])
    code += b"\x4b\x75" + bytes([(outer - (len(code) + 3)) & 0xFF]) + b"\xcd\x20"
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x40000)
    uc.mem_write(0x1000, gdt.image())
    uc.mem_write(code_base, bytes(code))
    uc.mem_write(thunk_base, b"\xcd\xf0\xca" + struct.pack("<H", pops))
    uc.reg_write(UC_X86_REG_GDTR, (0, gdt.base, gdt.limit, 0))
    uc.reg_write(UC_X86_REG_CR0, uc.reg_read(UC_X86_REG_CR0) | 1)
    uc.reg_write(UC_X86_REG_CS, 0x08)
    uc.reg_write(UC_X86_REG_DS, 0x10)
    uc.reg_write(UC_X86_REG_SS, 0x10)
    uc.reg_write(UC_X86_REG_SP, 0xFFFE)

    def hook(uc, vector, _data):
        if vector == 0x20:
            uc.emu_stop()
        else:
            uc.reg_write(UC_X86_REG_AX, 0)

    uc.hook_add(UC_HOOK_INTR, hook)
    started = time.perf_counter()
    uc.emu_start(0, 0xFFFF_FFFF)
    return (time.perf_counter() - started) / CALLS * 1e6


def main() -> None:
    # alternated, and the best of several: a shared machine's speed varies run to run
    bares, pids, writes, cwaits = [], [], [], []
    for _ in range(4):
        bares.append(bare_interrupt_hook("DosWrite"))
        pids.append(ntsim_calls("DosGetPID"))
        writes.append(ntsim_calls("DosWrite"))
    for _ in range(2):
        cwaits.append(ntsim_calls("DosCWait"))
    bare, pid, write, cwait = min(bares), min(pids), min(writes), min(cwaits)
    rows = [
        ("(j) bare unicorn INT hook, far call + RETF", f"{bare:.2f} µs", ""),
        ("(j) DosGetPID, in-process", f"{pid:.2f} µs", f"{pid / bare:.2f}x bare  (target <= 2x)"),
        ("(j) DosWrite to NUL, in-process + NtWriteFile", f"{write:.2f} µs", f"{write / bare:.2f}x bare"),
        ("(k) DosCWait, LPC round trip to OS2SS", f"{cwait:.2f} µs",
         f"+{cwait - pid:.2f} µs over an in-process call"),
    ]
    print_table("OS2SS (100,000 calls)", rows)


if __name__ == "__main__":
    main()
