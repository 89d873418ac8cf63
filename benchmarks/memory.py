"""Memory at the sizes programs use: ntsim beside native and qemu-user, measured in one run.

    python benchmarks/memory.py         (benchmarks/run.py prints this section too)

Rows (the goals are issue 6's):
  touch 256 MiB   examples/linux/bigmem touch 256: one byte written in every page of a
                  256 MiB mapping (65,536 demand-zero page faults)            <= 5x qemu-user
  stride 1 MiB    examples/linux/bigmem stride: 24 pages 1 MiB apart, read over and over
                  (pages that evict each other from a small direct-mapped TLB) <= 5x qemu-user
  file            the host's `file` on a 2.4 MB text file (--root /)         <= 5x qemu-user
  import ssl      the host's `python3 -c 'import ssl'` (--root /)            <= 3x qemu-user
  fork 64 MiB     the address-space clone of a fork whose parent touched 64 MiB, in-process
                  (NtCreateProcessEx's part of a fork)                         <= 5 ms

Every runner's output is checked against the native one before it is timed. Times are
whole-process wall times, the best of a few runs. Never run as a timed test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "linux")
sys.path.insert(0, ROOT)


def best(command: list[str], cwd: str, repeat: int, env=None) -> tuple[float, bytes]:
    times, output = [], b""
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, env=env, timeout=600)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {done.stderr[-200:]!r}")
        output = done.stdout
    return min(times), output


def fork_clone_ms(megabytes: int = 64, repeat: int = 5) -> float:
    """The memory manager's part of a fork: clone an address space with `megabytes` touched."""
    from ntsim.kernel.cpu import Cpu
    from ntsim.kernel.memory import PAGE_READWRITE, AddressSpace

    parent = AddressSpace(Cpu("x86-64"))
    size = megabytes << 20
    parent.reserve(0x1000_0000, size, PAGE_READWRITE)
    parent.commit(0x1000_0000, size, PAGE_READWRITE)
    parent.touch(0x1000_0000, size, write=True)
    times = []
    for _ in range(repeat):
        child = AddressSpace(Cpu("x86-64"))
        started = time.perf_counter()
        parent.clone_into(child)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    qemu = shutil.which("qemu-x86_64")
    ntsim = [sys.executable, "-m", "ntsim", "run", "--root"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ntsim-bench-memory-") as scratch:
        shutil.copy2(os.path.join(EXAMPLES, "bigmem"), scratch)
        text = os.path.join(scratch, "text.txt")
        with open(text, "w") as stream:
            stream.writelines(f"line {i}: the quick brown fox jumps over the lazy dog\n"
                              for i in range(44_000))
        cases = [
            ("touch 256 MiB", ["./bigmem", "touch", "256"], scratch, 5.0, 3),
            ("stride 1 MiB x 2.4M reads", ["./bigmem", "stride", "100000"], scratch, 5.0, 3),
            ("file, 2.4 MB text", ["/usr/bin/file", text], "/", 5.0, 3),
            ("python3 -c 'import ssl'", ["/usr/bin/python3", "-c", "import ssl"], "/", 3.0, 3),
        ]
        for name, command, root, goal, repeat in cases:
            if not os.path.exists(command[0] if command[0].startswith("/") else
                                  os.path.join(scratch, command[0])):
                rows.append((name, "-", "-", "-", f"skipped: no {command[0]}"))
                continue
            native, expected = best(command, scratch, repeat)
            simulated, answer = best([*ntsim, root, *command], scratch, repeat, env)
            if answer != expected:
                rows.append((name, f"{native:.3f} s", "-", "wrong answer", ""))
                continue
            if qemu:
                emulated, _ = best([qemu, *command], scratch, repeat)
                verdict = f"<= {goal:g}x qemu: {'met' if simulated / emulated <= goal else 'not met'}"
                rows.append((name, f"{native:.3f} s", f"{emulated:.3f} s", f"{simulated:.3f} s",
                             f"{simulated / emulated:.2f}x qemu; {verdict}"))
            else:
                rows.append((name, f"{native:.3f} s", "-", f"{simulated:.3f} s",
                             "qemu-user not installed"))
    fork = fork_clone_ms()
    rows.append(("fork, 64 MiB touched (clone)", "", "", f"{fork:.2f} ms",
                 f"<= 5 ms: {'met' if fork <= 5 else 'not met'}"))
    header = ("workload", "native", "qemu-user", "ntsim", "ratio, goal")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    print("(h) memory at scale: wall time, best of a few runs")
    for row in (header, *rows):
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
