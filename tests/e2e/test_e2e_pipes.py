"""Pipes and I/O multiplexing, under ntsim and natively: the native run is the oracle.

`pipes` and `polls` (examples/linux) print what Linux does with a pipe — data, end of
file, O_NONBLOCK, its capacity, EPIPE, poll/select readiness and timeouts — without
printing anything that differs between runs. Pipelines of busybox applets and a forked
child add pipes shared between processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import TIMEOUT, Outcome, _outcome, install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

BUSYBOX = "/bin/busybox"


@pytest.mark.parametrize("program, args, stdin, options", [
    ("pipes", (), b"", ()),
    ("pipes", ("sigpipe",), b"", ()),              # killed by SIGPIPE: status 141
    ("pipes", ("fork",), b"", ()),                 # a pipe shared with a forked child
    ("polls", (), b"", ()),
    ("polls", (), b"", ("--deterministic",)),      # timeouts on the virtual clock
    ("polls", ("stdin",), b"a line of input\n", ()),
    ("polls", ("eintr",), b"", ()),                 # a signal handler cuts the waits short
    ("polls", ("eintr",), b"", ("--deterministic",)),  # ... and a signal already pending
], ids=lambda value: " ".join(value) if isinstance(value, tuple) else None)
def test_matches_native(program: str, args: tuple[str, ...], stdin: bytes, options: tuple[str, ...],
                        root: Path) -> None:
    name = install(root, program)
    native = run_native(name, args, cwd=root, stdin=stdin)
    simulated = run_guest(name, args, root=root, stdin=stdin, options=options)
    assert simulated == native


def test_sigpipe_is_the_writers_death(root: Path) -> None:
    """The one case whose status is not 0: checked outright as well as against native."""
    name = install(root, "pipes")
    simulated = run_guest(name, ("sigpipe",), root=root)
    assert simulated.status == 128 + 13
    assert simulated.stdout == b"writing to a pipe with no reader\n"


def delayed_input(command: list[str], cwd: Path, data: bytes, delay: float) -> Outcome:
    """Run `command`, and give it standard input only after `delay` seconds: a poll on
    the console must wait for the host's input, not find it there at once."""
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    time.sleep(delay)
    stdout, stderr = process.communicate(data, timeout=TIMEOUT)
    return _outcome(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))


@pytest.mark.parametrize("program", ["polls", "epolls"])
def test_poll_waits_for_console_input(program: str, root: Path) -> None:
    """The input comes after the wait (poll, or epoll) has begun: the thread parks until
    CSRSS sees it."""
    name = install(root, program)
    native = delayed_input([str(root / program), "stdin"], root, b"typed later\n", 0.3)
    simulated = delayed_input([sys.executable, "-m", "ntsim", "run", "--root", str(root), name, "stdin"],
                              root, b"typed later\n", 0.3)
    assert native.stdout.endswith(b"got: typed later\n")
    assert simulated == native


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="busybox-static (/bin/busybox) is not installed")
@pytest.mark.parametrize("script", [
    "bin/busybox echo hi | bin/busybox tr a-z A-Z",
    "bin/busybox seq 1 20000 | bin/busybox tail -n 2",           # more than a pipe holds
    "bin/busybox seq 1 30000 | bin/busybox wc -c",
    "bin/busybox yes | bin/busybox head -n 3",                    # the writer dies of SIGPIPE
    "bin/busybox seq 1 5 | bin/busybox tac | bin/busybox sort -n | bin/busybox tail -n 1",
])
def test_busybox_pipeline_matches_native(script: str, root: Path) -> None:
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    env = {"PATH": "/nonexistent", "LANG": "C"}
    native = run_native("bin/busybox", ("sh", "-c", script), cwd=root, env=env)
    simulated = run_guest("bin/busybox", ("sh", "-c", script), root=root, env=env)
    assert simulated == native
