"""Scheduling and determinism at speed: what preemption costs, as ratios measured in one run.

    python benchmarks/scheduling.py     (benchmarks/run.py prints this section too)

(e) examples/linux/compute under --deterministic beside a plain run (the machine's run
    only: boot and load excluded). A lone thread needs no quantum, so the virtual clock
    must not slow it. Goal: >= 0.8x plain speed.
(f) two compute processes at once (`compute & compute; wait` in busybox's shell) beside
    the same two one after the other (`compute; compute`). Two runnable threads need quanta;
    the quantum counter (ntsim/kernel/quantum.py) is what they cost. Goal: <= 1.3x.
(g) busybox `gzip -dc data.gz | sha256sum` beside its parts one after the other
    (`gzip -dc data.gz > unpacked; sha256sum unpacked`). Goal: <= 1.5x.

(f) and (g) are whole `ntsim run` processes (interpreter start-up included in both sides),
the best of a few runs, alternated so that a busy machine disturbs both sides alike.
Never run as a timed test: timings depend on the machine; the ratios are what to read.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "linux")
BUSYBOX = "/bin/busybox"
COMPUTE_ITERATIONS = 50_000_000
REPEAT = 3
sys.path.insert(0, ROOT)

import software  # noqa: E402  (its 8 MiB of seeded text)

from ntsim.machine import Machine  # noqa: E402
from ntsim.subsystems.windows.csrss import CapturedConsole  # noqa: E402


def machine_run(program: str, args: list[str], deterministic: bool = False,
                sink: object = None) -> float:
    """Seconds for the machine to run `program` to its end (boot and load excluded),
    with a trace sink if given."""
    machine = Machine(EXAMPLES, deterministic=deterministic, console=CapturedConsole())
    if sink is not None:
        machine.add_sink(sink)
    machine.load(os.path.join(EXAMPLES, program), args)
    started = time.perf_counter()
    status = machine.run()
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{program} exited with {status}: {machine.console.stderr!r}")
    return elapsed


def shell_wall(root: str, script: str) -> tuple[float, bytes]:
    """Wall seconds of `ntsim run --root ROOT ./bin/busybox sh -c SCRIPT`, and its output."""
    command = [sys.executable, "-m", "ntsim", "run", "--root", root, "./bin/busybox", "sh", "-c",
               script]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL, capture_output=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sh -c {script!r} under ntsim exited with {done.returncode}: "
                         f"{done.stderr.decode(errors='replace')[-300:]}")
    return elapsed, done.stdout


def best_of_alternated(first, second, repeat: int = REPEAT) -> tuple[float, float]:
    """The best time of each of two measurements, taken in turn."""
    a, b = [], []
    for _ in range(repeat):
        a.append(first())
        b.append(second())
    return min(a), min(b)


def make_root(directory: str) -> None:
    os.makedirs(os.path.join(directory, "bin"))
    shutil.copy2(BUSYBOX, os.path.join(directory, "bin", "busybox"))
    shutil.copy2(os.path.join(EXAMPLES, "compute"), os.path.join(directory, "compute"))
    with open(os.path.join(directory, "data"), "wb") as stream:
        stream.write(software.make_data())
    subprocess.run([BUSYBOX, "gzip", "-k", "data"], cwd=directory, check=True)


def rows() -> list[tuple[str, str, str]]:
    found = []
    iterations = [str(COMPUTE_ITERATIONS)]
    # (cheap, and a run's speed varies by up to 2x on a shared machine: more of them)
    plain, deterministic = best_of_alternated(lambda: machine_run("compute", iterations, False),
                                              lambda: machine_run("compute", iterations, True),
                                              repeat=3 * REPEAT)
    found.append(("(e) compute, plain", f"{plain:.3f} s", ""))
    found.append(("(e) compute, --deterministic", f"{deterministic:.3f} s",
                  f"{plain / deterministic:.2f} of plain speed  (target >= 0.8)"))
    if not os.path.exists(BUSYBOX):
        found.append(("(f), (g)", "skipped", f"no {BUSYBOX} (Debian: busybox-static)"))
        return found
    with tempfile.TemporaryDirectory(prefix="ntsim-bench-") as root:
        make_root(root)
        n = COMPUTE_ITERATIONS
        together, apart = best_of_alternated(
            lambda: shell_wall(root, f"./compute {n} & ./compute {n}; wait")[0],
            lambda: shell_wall(root, f"./compute {n}; ./compute {n}")[0])
        found.append(("(f) two computes, one after the other", f"{apart:.3f} s", ""))
        found.append(("(f) two computes at once", f"{together:.3f} s",
                      f"{together / apart:.2f}x one after the other  (target <= 1.3x)"))
        piped_out = shell_wall(root, "./bin/busybox gzip -dc data.gz | ./bin/busybox sha256sum")[1]
        parts_out = shell_wall(root, "./bin/busybox gzip -dc data.gz > unpacked; "
                                     "./bin/busybox sha256sum unpacked")[1]
        if piped_out.split()[:1] != parts_out.split()[:1]:
            raise SystemExit(f"the pipeline's hash {piped_out!r} is not its parts' {parts_out!r}")
        piped, parts = best_of_alternated(
            lambda: shell_wall(root, "./bin/busybox gzip -dc data.gz | ./bin/busybox sha256sum")[0],
            lambda: shell_wall(root, "./bin/busybox gzip -dc data.gz > unpacked; "
                                     "./bin/busybox sha256sum unpacked")[0])
        found.append(("(g) gzip -dc, then sha256sum", f"{parts:.3f} s", ""))
        found.append(("(g) gzip -dc | sha256sum", f"{piped:.3f} s",
                      f"{piped / parts:.2f}x its parts  (target <= 1.5x)"))
    return found


def main() -> None:
    table = rows()
    width = max(len(r[0]) for r in table)
    for name, value, ratio in table:
        print(f"{name:<{width}}  {value:>10}  {ratio}")


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
