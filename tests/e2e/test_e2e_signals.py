"""Signals, against native runs: handlers, masks, timers, EINTR, faults, default actions.

`examples/linux/signals.c` runs one scenario per argument and prints what it observed;
the same binary run natively is the oracle (musl and glibc builds). Where strace is
installed, the signals ntsim's trace reports are compared with the ones strace sees.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .harness import TIMEOUT, install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

BINARIES = ("signals", "signals-glibc")
RETURNING = ("handler", "siginfo", "mask", "ignore", "flags", "timers", "eintr", "segv",
             "altstack", "fpu", "errors", "sigpipe-ignored")
ENDING = ("abort", "sigpipe", "kill-default")          # killed by a signal someone sent


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("scenario", RETURNING + ENDING)
def test_scenario_matches_native(binary: str, scenario: str, root: Path) -> None:
    program = install(root, binary)
    native = run_native(program, (scenario,), cwd=root)
    assert run_guest(program, (scenario,), root=root) == native


@pytest.mark.parametrize("binary", BINARIES)
def test_every_scenario_in_one_process(binary: str, root: Path) -> None:
    """All the returning scenarios one after another: state left by one (a mask, a
    handler, a timer) must not leak into the next, natively or here."""
    program = install(root, binary)
    native = run_native(program, cwd=root)
    assert native.status == 0
    assert run_guest(program, root=root) == native


def test_default_actions_give_the_shell_status(root: Path) -> None:
    """abort() is 128+6, a write to a pipe with no reader 128+13, SIGTERM 128+15."""
    program = install(root, "signals")
    statuses = {scenario: run_guest(program, (scenario,), root=root).status for scenario in ENDING}
    native = {scenario: run_native(program, (scenario,), cwd=root).status for scenario in ENDING}
    assert statuses == native == {"abort": 134, "sigpipe": 141, "kill-default": 143}


def test_uncaught_fault_dies_with_a_one_line_note(root: Path) -> None:
    """A fault nobody catches ends the process as natively (128+11, same output), and
    ntsim adds one line saying where it happened (a signal someone sent adds nothing)."""
    program = install(root, "signals")
    native = run_native(program, ("segv-default",), cwd=root)
    simulated = run_guest(program, ("segv-default",), root=root)
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout) == (
        139, b"segv-default: writing to address 0x10\n")
    extra = simulated.stderr_lines[len(native.stderr_lines):]
    assert simulated.stderr_lines[:len(native.stderr_lines)] == native.stderr_lines
    assert len(extra) == 1
    assert re.fullmatch(r"ntsim: signals: killed by SIGSEGV: invalid write at 0x10 \(pc 0x[0-9a-f]+\)",
                        extra[0])


def test_deterministic_runs_match_native_and_repeat(root: Path) -> None:
    """Under --deterministic the timers run on the virtual clock: the program still sees
    what it sees natively, and two runs give the same trace."""
    program = install(root, "signals")
    native = run_native(program, cwd=root)
    traces = []
    for run in range(2):
        trace = root / f"trace{run}.jsonl"
        simulated = run_guest(program, root=root, options=("--deterministic", "--trace-file", str(trace)))
        assert simulated == native
        traces.append([json.loads(line) for line in trace.read_text().splitlines()])
    assert traces[0] == traces[1]
    delivered = [e for e in traces[0] if e["layer"] == "personality" and e["name"].startswith("--- SIG")]
    assert any(e["name"].startswith("--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL}") for e in delivered)


# --- the trace, against strace --------------------------------------------------------------

TRACED = ("handler", "siginfo", "mask", "ignore", "flags", "timers", "eintr", "segv", "altstack",
          "errors")


def _signal_lines(text: str) -> list[str]:
    """The delivered-signal and killed-by lines, with what differs between two runs of the
    same program (its pid, mapping addresses) blanked."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^(\[pid +\d+\] |\d+ +)", "", line)
        if line.startswith("--- SIG") or line.startswith("+++ killed by"):
            line = re.sub(r"si_pid=\d+", "si_pid=PID", line)
            line = re.sub(r"si_addr=0x[0-9a-f]{5,}", "si_addr=ADDRESS", line)
            lines.append(line)
    return lines


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("scenarios", [TRACED, ("abort",)], ids=["returning", "abort"])
def test_delivered_signals_appear_as_strace_shows_them(scenarios: tuple[str, ...], root: Path) -> None:
    program = install(root, "signals")
    strace_log = root / "strace.txt"
    completed = subprocess.run(["strace", "-o", str(strace_log), program, *scenarios], cwd=root,
                               capture_output=True, timeout=TIMEOUT, check=False)
    if not strace_log.exists() or b"ptrace" in completed.stderr:
        pytest.skip(f"strace cannot trace here: {completed.stderr[:200]!r}")
    expected = _signal_lines(strace_log.read_text())
    simulated = run_guest(program, scenarios, root=root, options=("--trace",))
    assert expected and _signal_lines(simulated.stderr.decode()) == expected


def test_trace_shows_the_interrupted_call_and_sigreturn(root: Path) -> None:
    """A read a signal interrupts ends with ERESTARTSYS in the trace, the signal follows,
    and the value the program sees comes back with rt_sigreturn (as strace shows it)."""
    program = install(root, "signals")
    simulated = run_guest(program, ("eintr",), root=root, options=("--trace",))
    lines = [line for line in simulated.stderr.decode().splitlines() if not line.startswith(" ")]
    first_read = next(i for i, line in enumerate(lines) if line.startswith("<... read resumed>"))
    assert lines[first_read].endswith("ERESTARTSYS")
    assert lines[first_read + 1].startswith("--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---")
    assert "rt_sigreturn() = -4 EINTR" in lines[first_read + 2:first_read + 6]
