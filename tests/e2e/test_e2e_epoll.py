"""epoll, under ntsim and natively: the native run is the oracle.

`epolls` (examples/linux) prints what Linux's epoll does with pipes — the instance as an
fd, the interest list and its errnos, level- and edge-triggered readiness, one-shot
entries, timeouts, nesting, waits cut short by a signal handler — without printing
anything that differs between runs. `epolls stdin` watches the console, whose
readiness CSRSS answers over LPC.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .harness import TIMEOUT, Outcome, install, ntsim, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]


@pytest.mark.parametrize("args, stdin, options", [
    ((), b"", ()),
    ((), b"", ("--deterministic",)),                    # timeouts on the virtual clock
    (("stdin",), b"a line of input\n", ()),
], ids=["every check", "deterministic", "stdin"])
def test_matches_native(args: tuple[str, ...], stdin: bytes, options: tuple[str, ...], root: Path) -> None:
    name = install(root, "epolls")
    native = run_native(name, args, cwd=root, stdin=stdin)
    simulated = run_guest(name, args, root=root, stdin=stdin, options=options)
    assert native.status == 0
    assert simulated == native


def conversation(command: list[str], cwd: Path, lines: list[bytes]) -> Outcome:
    """Run `command`, and give it each line of input only once it has answered the one
    before (one line of output each): every line arrives while the program waits."""
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    answers = b""
    for line in lines:
        process.stdin.write(line)
        process.stdin.flush()
        answers += process.stdout.readline()
    process.stdin.close()
    answers += process.stdout.read()
    status = process.wait(timeout=TIMEOUT)
    return Outcome(status, answers, process.stderr.read())


def test_edge_triggered_console_input_is_a_new_edge_each_line(root: Path) -> None:
    """A line typed after the one before was read wakes an edge-triggered wait: CSRSS
    clears the console's input event when a read drains it, so the next input signals."""
    name = install(root, "epolls")
    lines = [b"one\n", b"two\n"]
    native = conversation([str(root / "epolls"), "stdin-et"], root, lines)
    simulated = conversation([sys.executable, "-m", "ntsim", "run", "--root", str(root), name, "stdin-et"],
                             root, lines)
    assert native.stdout.endswith(b"got: two\n")
    assert simulated == native


def test_the_trace_shows_epoll_events_as_strace_does(root: Path) -> None:
    """The table's argument types decode struct epoll_event: epoll_ctl's when the call
    starts, epoll_wait's array (as many as the result) when it ends."""
    name = install(root, "epolls")
    outcome = run_guest(name, (), root=root, options=("--trace",))
    assert outcome.status == 0
    trace = outcome.stderr.decode()
    assert "epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN, data=0x1122334455667788}) = 0" in trace
    assert ("epoll_pwait(3, [{events=EPOLLIN, data=0x1122334455667788}, {events=EPOLLOUT, data=0xabc}], "
            "8, 0, 0x0, 8) = 2") in trace
    assert "epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, data=0xe7}) = 0" in trace


def test_calls_lxss_lists_the_epoll_rows(tmp_path: Path) -> None:
    outcome = ntsim("calls", "lxss", cwd=tmp_path)
    assert outcome.status == 0
    rows = {line.split()[1]: line for line in outcome.stdout.decode().splitlines()
            if line.split()[1:2] and line.split()[1].startswith("epoll")}
    assert rows["epoll_create"].split()[2] == rows["epoll_create1"].split()[2] == "supported"
    for name in ("epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2"):
        assert rows[name].split()[2] == "partial"
    assert "EPOLLEXCLUSIVE" in rows["epoll_ctl"]      # what still differs from Linux
    assert "EPOLLET" not in rows["epoll_ctl"]         # edge-triggered pipes now behave as Linux's
    assert rows["epoll_ctl_old"].split()[2] == "unsupported"
