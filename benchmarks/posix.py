"""The POSIX subsystem's two paths, timed: a message to PSXSS beside a direct Nt* call.

    python benchmarks/posix.py          (benchmarks/run.py prints this section too)

Rows, each a round trip in µs (the loop's own instructions included, which are few):
  bare unicorn INT hook   `int 2Fh` in 32-bit code with a Python hook writing EAX: the floor
  POSIX write /dev/null   examples/posix/getpid_loop N write: the client stub's direct path
                          (NtWriteFile on the descriptor's handle, no message)  goal <= 2x bare
  POSIX getpid            examples/posix/getpid_loop N: client stub -> LPC -> PSXSS -> reply
  LXSS getpid             examples/linux/getpid_loop N: the pico provider answers in the kernel

The getpid ratio is the lesson on why NT later moved work into the kernel (and why WSL1
had no server at all). Never run as a timed test.
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
POSIX = os.path.join(ROOT, "examples", "posix")
LINUX = os.path.join(ROOT, "examples", "linux")
sys.path.insert(0, ROOT)

from table import print_table  # noqa: E402  (benchmarks/table.py)
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc  # noqa: E402
from unicorn.x86_const import UC_X86_REG_EAX  # noqa: E402

from ntsim import Machine  # noqa: E402
from ntsim.subsystems.windows.csrss import CapturedConsole  # noqa: E402

WRITES = 100_000
GETPIDS = 20_000


def bare_int_hook(calls: int) -> float:
    """µs per `int 2Fh` with a Python interrupt hook that writes EAX."""
    # mov ecx, calls; top: mov eax, 5; int 2Fh; dec ecx; jnz top; hlt
    code = (b"\xb9" + calls.to_bytes(4, "little") + b"\xb8\x05\x00\x00\x00\xcd\x2f"
            b"\x49\x75\xf6\xf4")
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0x10000, 0x1000)
    uc.mem_write(0x10000, code)

    def hook(uc, number, _):
        uc.reg_write(UC_X86_REG_EAX, 1234)

    uc.hook_add(UC_HOOK_INTR, hook)
    started = time.perf_counter()
    uc.emu_start(0x10000, 0x10000 + len(code) - 1)
    return (time.perf_counter() - started) / calls * 1e6


def machine_run(directory: str, program: str, args: list[str]) -> float:
    """Seconds for a machine to run the program to its end (boot and load excluded)."""
    machine = Machine(directory, console=CapturedConsole())
    machine.load(os.path.join(directory, program), args)
    started = time.perf_counter()
    status = machine.run()
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{program} exited with {status}: {machine.console.stderr!r}")
    return elapsed


def rows() -> list[tuple[str, str, str]]:
    bare = min(bare_int_hook(WRITES) for _ in range(3))
    direct = min(machine_run(POSIX, "getpid_loop", [str(WRITES), "write"]) for _ in range(3)) / WRITES * 1e6
    lpc = min(machine_run(POSIX, "getpid_loop", [str(GETPIDS)]) for _ in range(3)) / GETPIDS * 1e6
    lxss = min(machine_run(LINUX, "getpid_loop", [str(WRITES)]) for _ in range(3)) / WRITES * 1e6
    return [
        ("(i) bare unicorn int 2Fh hook (32-bit)", f"{bare:.2f} µs", ""),
        ("(i) POSIX write /dev/null (direct NtWriteFile)", f"{direct:.2f} µs",
         f"{direct / bare:.2f}x bare  (goal <= 2x)"),
        ("(i) POSIX getpid (LPC to PSXSS)", f"{lpc:.2f} µs", f"{lpc / direct:.1f}x the direct path"),
        ("(i) LXSS getpid (in the kernel)", f"{lxss:.2f} µs", f"POSIX getpid is {lpc / lxss:.1f}x LXSS's"),
    ]


def main() -> None:
    table = rows()
    print_table("POSIX subsystem: the two paths", table)


if __name__ == "__main__":
    main()
