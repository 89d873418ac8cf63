"""Real software under ntsim beside the same binaries natively, under qemu-user and Qiling.

    python benchmarks/software.py       (benchmarks/run.py prints this section too)

Three workloads, the same static x86-64 binaries everywhere:
  sha256sum  busybox `sha256sum` of an 8 MiB file (2,049 `read`s of 4 KiB, hashing between)
  gzip       busybox `gzip -c` of the same file (its output, 4.4 MiB, to a file)
  spawnloop  examples/linux/spawnloop: 100 rounds of fork + execve + waitpid

The file is made here from a fixed seed (words from a pseudo-random vocabulary, so that it
compresses to about half and gzip does real work), in a temporary directory that is the
root for every runner: native and qemu-x86_64 run in it, ntsim gets it as --root, Qiling
as its rootfs. Every runner's output is checked against the native one before anything
is timed: a runner that gives a wrong answer gets no time.

Runners: native; `qemu-x86_64` (Debian: qemu-user) when installed; `ntsim run`; Qiling when
its own virtual environment exists ($QILING_PYTHON, or .venv-qiling/bin/python: `make
bench-qiling` makes it; Qiling pins its own unicorn, so never in ntsim's environment).
Times are whole-process wall times (interpreter start-up included for ntsim and Qiling),
the best of a few runs (the least disturbed by whatever else the machine is doing).

Goals, from the issue: the syscall-heavy rows at most 0.3x Qiling's time, the compute-heavy
rows within 2x of qemu-user. sha256sum and gzip count as compute-heavy (under ntsim most of
their time is guest code, the system calls a few percent); spawnloop as syscall-heavy.

Never run as a timed test: timings depend on the machine; the ratios are what to read.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "linux")
BUSYBOX = "/bin/busybox"                 # Debian's busybox-static: one static binary
QILING_RUNNER = os.path.join(HERE, "qiling_runner.py")
DATA_SIZE = 8 * 1024 * 1024
SEED = 20240611


@dataclass
class Workload:
    name: str
    kind: str                  # "compute" or "syscalls": which goal applies
    program: str               # relative to the root, which is every runner's working directory
    args: list[str]
    repeat: int                # timed runs per runner (the best is reported)
    output_key: Callable[[bytes], object]   # what must agree across runners, from stdout

    def argv(self, runner: str) -> list[str]:
        # Qiling 1.4.6 takes openat's AT_FDCWD as an fd number, so a relative path fails
        # there; for it the file is named from the root (the same file: its cwd is /).
        return [("/" + a if runner == "Qiling" and a == "data" else a) for a in self.args]


WORKLOADS = [
    # sha256sum prints "<hash>  <name>": the hash must agree.
    Workload("busybox sha256sum 8 MiB", "compute", "./bin/busybox", ["sha256sum", "data"], 5,
             lambda out: out.split()[:1]),
    Workload("busybox gzip -c 8 MiB", "compute", "./bin/busybox", ["gzip", "-c", "data"], 3,
             lambda out: out),
    Workload("fork+exec+wait x100", "syscalls", "./spawnloop", [], 5,
             lambda out: out),
]


def make_data() -> bytes:
    """8 MiB of text from a fixed seed (Python's own generator): the same bytes everywhere."""
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 11))) for _ in range(8192)]
    out = bytearray()
    while len(out) < DATA_SIZE:
        words = rng.choices(vocabulary, k=4096)
        separators = rng.choices((" ", "\n"), weights=(12, 1), k=4096)
        out += "".join(w + s for w, s in zip(words, separators, strict=True)).encode()
    return bytes(out[:DATA_SIZE])


def make_root(directory: str) -> None:
    os.makedirs(os.path.join(directory, "bin"))
    shutil.copy2(BUSYBOX, os.path.join(directory, "bin", "busybox"))
    shutil.copy2(os.path.join(EXAMPLES, "spawnloop"), os.path.join(directory, "spawnloop"))
    with open(os.path.join(directory, "data"), "wb") as stream:
        stream.write(make_data())


def qiling_python() -> str | None:
    candidate = os.environ.get("QILING_PYTHON") or os.path.join(ROOT, ".venv-qiling", "bin", "python")
    return candidate if os.access(candidate, os.X_OK) else None


Runner = tuple[list[str], dict[str, str] | None]   # command prefix, environment (None: ours)


def runners(root: str) -> tuple[dict[str, Runner], list[str]]:
    """name -> (command prefix, environment): the program and its arguments follow the
    prefix; and notes on the runners left out, with why."""
    found: dict[str, Runner] = {"native": ([], None)}
    notes = []
    qemu = shutil.which("qemu-x86_64")
    if qemu:
        found["qemu-user"] = ([qemu], None)
    else:
        notes.append("qemu-user: skipped, no qemu-x86_64 on PATH (Debian: apt-get install qemu-user)")
    # ntsim from this checkout, whichever Python runs the benchmark
    found["ntsim"] = ([sys.executable, "-m", "ntsim", "run", "--root", root],
                      dict(os.environ, PYTHONPATH=ROOT))
    python = qiling_python()
    if python:
        found["Qiling"] = ([python, QILING_RUNNER, root], None)
    else:
        notes.append("Qiling: not installed (make bench-qiling makes its own venv, .venv-qiling)")
    return found, notes


def run_once(command: list[str], root: str, out_path: str,
             env: dict[str, str] | None = None) -> tuple[float, int]:
    with open(out_path, "wb") as out:
        started = time.perf_counter()
        status = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.DEVNULL, env=env).returncode
        return time.perf_counter() - started, status


def measure(workload: Workload, runner: str, how: Runner, root: str, expected) -> float | str:
    """The best wall time in seconds, or why there is none."""
    out_path = os.path.join(root, "..", f"out-{runner}")
    prefix, env = how
    command = [*prefix, workload.program, *workload.argv(runner)]
    _, status = run_once(command, root, out_path, env)     # the check, and a warm-up
    with open(out_path, "rb") as stream:
        answer = workload.output_key(stream.read())
    if status != 0:
        return f"failed (exit {status})"
    if expected is not None and answer != expected:
        return "wrong answer"
    return min(run_once(command, root, out_path, env)[0] for _ in range(workload.repeat))


def ratio(a: float | str | None, b: float | str | None) -> str:
    if isinstance(a, float) and isinstance(b, float):
        return f"{a / b:.2f}x"
    return "-"


def main() -> None:
    if not os.path.exists(BUSYBOX):
        print(f"software benchmarks: skipped, no {BUSYBOX} (Debian: busybox-static)")
        return
    with tempfile.TemporaryDirectory(prefix="ntsim-bench-") as scratch:
        root = os.path.join(scratch, "root")
        os.mkdir(root)
        make_root(root)
        found, notes = runners(root)
        rows = []
        for workload in WORKLOADS:
            times: dict[str, float | str] = {}
            native_out = os.path.join(scratch, "native-answer")
            _, status = run_once([workload.program, *workload.args], root, native_out)
            with open(native_out, "rb") as stream:
                expected = workload.output_key(stream.read())
            if status != 0:
                raise SystemExit(f"{workload.name}: exits {status} natively")
            for runner, how in found.items():
                times[runner] = measure(workload, runner, how, root, expected)
            rows.append((workload, times))
    print_table(rows, list(found), notes)


def print_table(rows, names: list[str], notes: list[str]) -> None:
    def shown(value) -> str:
        return f"{value:.3f} s" if isinstance(value, float) else value

    header = ["workload", *names, "ntsim/native", "ntsim/qemu", "ntsim/Qiling", "goal"]
    table = [header]
    for workload, times in rows:
        ntsim = times.get("ntsim")
        if workload.kind == "syscalls":
            target, against, limit = "<= 0.3x Qiling", times.get("Qiling"), 0.3
        else:
            target, against, limit = "<= 2x qemu", times.get("qemu-user"), 2.0
        if isinstance(ntsim, float) and isinstance(against, float):
            goal = f"{target}: {'met' if ntsim / against <= limit else 'not met'}"
        else:
            goal = f"{target}: not measured"
        table.append([workload.name, *(shown(times.get(n, "-")) for n in names),
                      ratio(ntsim, times.get("native")), ratio(ntsim, times.get("qemu-user")),
                      ratio(ntsim, times.get("Qiling")), goal])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print("(d) real software: wall time, best of a few runs; ratios are ntsim's time over the other's")
    for row in table:
        print("  ".join(cell.ljust(width) if i == 0 or i == len(row) - 1 else cell.rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
