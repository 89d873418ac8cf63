"""Processes inside the emulator: fork, execve, wait, vfork, threads — against native runs.

Every guest process and thread is scheduled by ntsim's dispatcher in the one host
process; these tests also check that the host Python process is never forked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import REPO, install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

SHELL_CASES = [
    "for i in 1 2 3; do echo $i; done; false; echo $?",
    "true && echo yes || echo no; (exit 4); echo $?",
    "echo one; echo two >&2; exit 9",
]


def test_family_matches_native(root: Path) -> None:
    program = install(root, "family")
    assert run_guest(program, root=root) == run_native(program, cwd=root)


def test_family_trace_shows_fork_as_nt_process_creation(root: Path) -> None:
    program = install(root, "family")
    trace = root / "trace.jsonl"
    outcome = run_guest(program, root=root, options=("--trace-file", str(trace)))
    assert outcome.status == 0
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    by_seq = {e["seq"]: e for e in events}
    forks = [e for e in events if e["layer"] == "personality" and e["name"] == "fork"]
    assert forks, "musl's fork is the fork system call"
    creations = [e for e in events if e["name"] == "NtCreateProcessEx"]
    assert any(by_seq.get(c["parent"], {}).get("name") == "fork" for c in creations)
    child_pids = {f["result"] for f in forks}
    child_events = [e for e in events if e["pid"] in child_pids and e["layer"] == "personality"]
    assert child_events, "the children's own calls are traced under their pids"
    exits = [e for e in events if e["name"] == "PspExitProcess" and e["args"]["ProcessId"] in child_pids]
    assert {e["args"]["ExitStatus"] for e in exits} >= {3, 7}


def test_text_trace_prefixes_pids_and_reports_exits(root: Path) -> None:
    program = install(root, "family")
    outcome = run_guest(program, root=root, options=("--trace",))
    lines = outcome.stderr.decode().splitlines()
    assert any(line.startswith("[pid ") and "+++ exited with 3 +++" in line for line in lines)
    assert any("wait4(" in line and "<unfinished ...>" in line for line in lines)
    assert any("<... wait4 resumed>" in line for line in lines)


@pytest.mark.parametrize("script", SHELL_CASES)
def test_busybox_shell_without_pipes_matches_native(root: Path, script: str) -> None:
    if not os.path.exists("/bin/busybox"):
        pytest.skip("Debian's busybox-static is not installed")
    native = run_native("/bin/busybox", ("sh", "-c", script), cwd=root)
    assert run_guest("/bin/busybox", ("sh", "-c", script), root=root) == native


def test_the_host_process_is_never_forked(root: Path) -> None:
    """Run a forking guest inside a Python that refuses os.fork: it must still work."""
    program = install(root, "family")
    guard = ("import os, runpy, sys\n"
             "def refuse(*a, **k): raise SystemExit('the host was forked')\n"
             "os.fork = refuse\n"
             "sys.argv = ['ntsim', 'run', '--root', sys.argv[1], sys.argv[2]]\n"
             "runpy.run_module('ntsim', run_name='__main__')\n")
    completed = subprocess.run([sys.executable, "-c", guard, str(root), program], cwd=root,
                               capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert completed.returncode == 0, completed.stderr
    assert b"the host was forked" not in completed.stderr


def test_a_thread_woken_by_a_computing_caller_gets_the_processor(root: Path) -> None:
    # The child writes to a pipe and then computes without a call: the parent, woken by
    # the write, must be scheduled (the child was running alone, with no quantum).
    program = install(root, "spinwake")
    native = run_native(str(program), cwd=root)
    simulated = run_guest("./spinwake", root=root)      # (no --timeout: a limited run always has quanta)
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
