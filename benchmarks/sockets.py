"""Sockets and a database at speed: ntsim beside native and qemu-user, measured in one run.

    python benchmarks/sockets.py        (benchmarks/run.py prints this section too)

Rows (the goals are issue 12's):
  unix round trip   examples/linux/pingpong unix: one byte there and back between two
                    processes over an AF_UNIX stream socket (an NPFS pipe)    <= 10x qemu-user
  tcp round trip    examples/linux/pingpong tcp: the same over TCP on 127.0.0.1 (AFD
                    endpoints over host sockets)                              <= 10x qemu-user
  sqlite3 20,000    the host's sqlite3 shell inserting 20,000 rows in one transaction
                    into a file (--root /; its statements read from a redirected stdin)
                                                                              <= 5x qemu-user

A round trip's cost is the difference of two runs (ROUNDS and a few), so start-up is not
counted in it. The sqlite3 row is the whole run. Each runner's output is checked against
the native one. Best of a few runs. Never run as a timed test.
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
ROUNDS, FEW = 3000, 10
ROWS = 20_000


def _best(command: list[str], cwd: str, repeat: int, stdin_path: str | None = None) -> tuple[float, bytes]:
    times, output = [], b""
    env = dict(os.environ, PYTHONPATH=ROOT)
    for _ in range(repeat):
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            started = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, stdin=stdin, capture_output=True, env=env, timeout=900)
            times.append(time.perf_counter() - started)
        finally:
            if stdin_path:
                stdin.close()
        if done.returncode != 0:
            raise RuntimeError(f"{command[:4]}... failed: {done.stderr.decode(errors='replace')[:200]}")
        output = done.stdout
    return min(times), output


def _runners() -> dict[str, list[str]]:
    runners = {"native": [], "ntsim": [sys.executable, "-m", "ntsim", "run", "--root", "/"]}
    qemu = shutil.which("qemu-x86_64")
    if qemu:
        runners["qemu-user"] = [qemu]
    return runners


def round_trip(kind: str, runner: list[str], cwd: str) -> float:
    program = os.path.join(cwd, "pingpong")
    many, out_many = _best([*runner, program, kind, str(ROUNDS)], cwd, 3)
    few, _ = _best([*runner, program, kind, str(FEW)], cwd, 3)
    if out_many != f"{ROUNDS} round trips\n".encode():
        raise RuntimeError(f"pingpong {kind}: {out_many!r}")
    return (many - few) / (ROUNDS - FEW)


def sqlite_inserts(runner: list[str], cwd: str, script: str) -> float:
    sqlite3 = shutil.which("sqlite3")
    database = os.path.join(cwd, "bench.db")
    times = []
    for _ in range(2):
        if os.path.exists(database):
            os.unlink(database)
        elapsed, output = _best([*runner, sqlite3, database], cwd, 1, script)
        if output.strip() != str(ROWS).encode():
            raise RuntimeError(f"sqlite3: {output[:100]!r}")
        times.append(elapsed)
    return min(times)


def main() -> None:
    runners = _runners()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ntsim-sockets-") as cwd:
        shutil.copy2(os.path.join(EXAMPLES, "pingpong"), os.path.join(cwd, "pingpong"))
        for kind, goal in (("unix", 10), ("tcp", 10)):
            measured = {name: round_trip(kind, runner, cwd) for name, runner in runners.items()}
            rows.append((f"{kind} round trip", measured, goal, "µs", 1e6))
        if shutil.which("sqlite3"):
            script = os.path.join(cwd, "inserts.sql")
            with open(script, "w") as stream:
                stream.write("create table t(a integer, b text);\nbegin;\n")
                stream.writelines(f"insert into t values ({n}, 'row {n}');\n" for n in range(ROWS))
                stream.write("commit;\nselect count(*) from t;\n")
            measured = {name: sqlite_inserts(runner, cwd, script) for name, runner in runners.items()}
            rows.append((f"sqlite3 {ROWS:,} inserts", measured, 5, "s", 1))
    print(f"{'sockets and sqlite3':<24} {'native':>10} {'qemu-user':>10} {'ntsim':>10}  ratio")
    for name, measured, goal, unit, scale in rows:
        cells = [f"{measured[r] * scale:.1f} {unit}" if r in measured else "-" for r in ("native", "qemu-user", "ntsim")]
        ratio = (f"{measured['ntsim'] / measured['qemu-user']:.1f}x qemu-user  (goal <= {goal}x)"
                 if "qemu-user" in measured else "(no qemu-x86_64)")
        print(f"{name:<24} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10}  {ratio}")


if __name__ == "__main__":
    main()
