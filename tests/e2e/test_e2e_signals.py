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
import sys
import time
from pathlib import Path

import pytest

from .harness import TIMEOUT, install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

BINARIES = ("signals", "signals-glibc")
RETURNING = ("handler", "siginfo", "mask", "ignore", "flags", "timers", "eintr", "segv", "traps",
             "altstack", "fpu", "errors", "sigpipe-ignored", "children", "stop", "sigwait",
             "threads")
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


@pytest.mark.parametrize("options", [(), ("--deterministic",)], ids=["host-clock", "virtual-clock"])
def test_posix_timers_match_native(options: tuple[str, ...], root: Path) -> None:
    """timer_create's timers: SI_TIMER signals with their id and value, overruns while the
    signal waits, absolute times, SIGEV_NONE, SIGEV_THREAD_ID, and none after fork."""
    program = install(root, "timers")
    native = run_native(program, cwd=root)
    assert native.status == 0 and native.stdout.endswith(b"timers: all steps ok\n")
    assert run_guest(program, root=root, options=options) == native


@pytest.mark.parametrize("binary", BINARIES)
def test_sigchld_reaches_a_handler(binary: str, root: Path) -> None:
    program = install(root, binary)
    native = run_native(program, ("sigchld",), cwd=root)
    assert run_guest(program, ("sigchld",), root=root) == native


def _with_late_input(command: list[str], cwd: Path, data: bytes,
                     delay: float = 0.6) -> tuple[int, bytes]:
    """Run `command` with `data` arriving on its standard input only after `delay` s."""
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    assert process.stdin is not None
    time.sleep(delay)
    stdout, _ = process.communicate(data, timeout=TIMEOUT)
    return process.returncode, stdout


@pytest.mark.parametrize("binary", BINARIES)
def test_a_console_read_interrupted_by_a_signal_loses_no_input(binary: str, root: Path) -> None:
    """The read waits for CSRSS's reply when the timer's signal ends it with EINTR; CSRSS
    must forget that read, so the input typed later reaches the next one."""
    program = install(root, binary)
    native = _with_late_input([str(root / binary), "stdin-eintr"], root, b"hi\n")
    simulated = _with_late_input([sys.executable, "-m", "ntsim", "run", "--root", str(root),
                                  program, "stdin-eintr"], root, b"hi\n")
    assert simulated == native
    assert b"second read -> 3: hi" in native[1]


def test_default_actions_give_the_shell_status(root: Path) -> None:
    """abort() is 128+6, a write to a pipe with no reader 128+13, SIGTERM 128+15."""
    program = install(root, "signals")
    statuses = {scenario: run_guest(program, (scenario,), root=root).status for scenario in ENDING}
    native = {scenario: run_native(program, (scenario,), cwd=root).status for scenario in ENDING}
    assert statuses == native == {"abort": 134, "sigpipe": 141, "kill-default": 143}


FORCED_SEGV = {
    "segv-default": r"invalid write at 0x10 \(pc 0x[0-9a-f]+\)",
    "no-restorer": r"cannot run the SIGUSR1 handler: "
                   r"the handler has no SA_RESTORER to return through",
    "altstack-overflow": r"cannot run the SIGUSR1 handler: "
                         r"the alternate stack at 0x[0-9a-f]+ has no room for the frame",
}


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("scenario", FORCED_SEGV)
def test_a_forced_sigsegv_dies_with_a_one_line_note(binary: str, scenario: str, root: Path) -> None:
    """A fault nobody catches, or a handler the kernel cannot run (no way back from it,
    no room on its stack), ends the process as natively: 128+11, the same output. ntsim
    adds one line saying what happened; a signal someone sent adds nothing."""
    program = install(root, binary)
    native = run_native(program, (scenario,), cwd=root)
    simulated = run_guest(program, (scenario,), root=root)
    assert native.status == 139
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
    extra = simulated.stderr_lines[len(native.stderr_lines):]
    assert simulated.stderr_lines[:len(native.stderr_lines)] == native.stderr_lines
    assert len(extra) == 1
    assert re.fullmatch(rf"ntsim: {binary}: killed by SIGSEGV: {FORCED_SEGV[scenario]}", extra[0])


def test_deterministic_runs_match_native_and_repeat(root: Path) -> None:
    """Under --deterministic the timers run on the virtual clock: the program still sees
    what it sees natively, and two runs give the same trace."""
    program = install(root, "signals")
    # one process, one thread (a new process or thread shows its context's address)
    scenarios = tuple(s for s in RETURNING if s not in ("children", "stop", "sigwait", "threads"))
    native = run_native(program, scenarios, cwd=root)
    traces = []
    for run in range(2):
        trace = root / f"trace{run}.jsonl"
        simulated = run_guest(program, scenarios, root=root,
                              options=("--deterministic", "--trace-file", str(trace)))
        assert simulated == native
        traces.append([json.loads(line) for line in trace.read_text().splitlines()])
    assert traces[0] == traces[1]
    delivered = [e["name"] for e in traces[0]
                 if e["layer"] == "personality" and e["name"].startswith("--- SIG")]
    assert "--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---" in delivered


# --- the trace, against strace --------------------------------------------------------------

TRACED = ("handler", "siginfo", "mask", "ignore", "flags", "timers", "eintr", "segv", "traps",
          "altstack", "errors")


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
@pytest.mark.parametrize("scenarios", [TRACED, ("abort",), ("no-restorer",)],
                         ids=["returning", "abort", "no-restorer"])
def test_delivered_signals_appear_as_strace_shows_them(scenarios: tuple[str, ...],
                                                       root: Path) -> None:
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
