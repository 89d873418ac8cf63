"""Threads, a condition variable, a signal handler and a crashing child, against native runs.

The first acceptance criterion of "LXSS runs real Linux software": four pthreads adding
to a mutex-protected counter 10,000 times each print 40000; a condition variable wakes
its waiter; a signal handler runs and returns; a child killed by SIGSEGV is seen by its
parent as WTERMSIG == 11. `threads` (musl) and `threads-glibc` do exactly that; the two
C libraries start threads, lock, wait and raise through different calls (clone or
clone3, FUTEX_WAIT or FUTEX_WAIT_BITSET, kill or tgkill).

The native run is the oracle for the output; it is also checked to say what the
criterion says, so a broken build of the example cannot make the comparison vacuous.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .harness import install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

PROGRAMS = ["threads", "threads-glibc"]
CRITERIA = [b"mutex: 4 threads x 10000 increments = 40000\n",
            b"condvar: the waiter slept in pthread_cond_wait, was woken and saw ready: yes\n",
            b"signal: raise returned 0, the handler saw signal 10\n",
            b"signal: the interrupted code went on with its locals intact: yes\n",
            b"segv: WIFSIGNALED 1, WTERMSIG 11 (SIGSEGV is 11)\n"]


@pytest.mark.parametrize("options", [(), ("--deterministic",)], ids=["free", "deterministic"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_threads_match_native(root: Path, program: str, options: tuple[str, ...]) -> None:
    """With --deterministic every thread is preempted by instruction count, so the
    threads interleave differently from the free run: the output must not change."""
    name = install(root, program)
    native = run_native(name, cwd=root)
    assert native.status == 0
    for line in CRITERIA:
        assert line in native.stdout
    assert run_guest(name, root=root, options=options) == native
    assert os.listdir(root) == [program]          # the crashing child left no core file


def read_events(trace: Path) -> list[dict]:
    return [json.loads(line) for line in trace.read_text().splitlines()]


@pytest.mark.parametrize("program", PROGRAMS)
def test_trace_shows_nt_threads_keyed_events_and_the_crash(root: Path, tmp_path: Path,
                                                           program: str) -> None:
    """What Linux does, seen on the NT side: each pthread_create is a clone (or clone3)
    that makes a thread of the same process (NtCreateThreadEx); a contended mutex sleeps
    in futex, which sleeps on the process's keyed event (NtWaitForKeyedEvent); the
    SIGUSR1 handler returns through rt_sigreturn; the child dies of SIGSEGV, status 139."""
    trace = tmp_path / "trace.jsonl"
    outcome = run_guest(install(root, program), root=root, options=("--trace-file", str(trace)))
    assert outcome.status == 0
    events = read_events(trace)

    below: dict[int, set[str]] = {}                # a call's seq -> the names of the calls it made
    for event in events:
        below.setdefault(event["parent"], set()).add(event["name"])

    def beneath(name: str, call: dict) -> bool:
        return name in below.get(call["seq"], ())

    main_pid = next(e["args"]["ProcessId"] for e in events      # the first: its child has the name too
                    if e["name"] == "PspCreateProcess" and e["args"]["ImageName"] == program)
    mine = [e for e in events if e["pid"] == main_pid and e["layer"] == "personality"]
    # 4 counting threads and 1 waiter on the condition variable
    spawns = [e for e in mine if e["name"] in ("clone", "clone3") and beneath("NtCreateThreadEx", e)
              and not beneath("NtCreateProcessEx", e)]
    assert len(spawns) == 5
    thread_ids = {e["result"] for e in spawns}
    assert thread_ids <= {e["tid"] for e in mine}, "each thread's own calls carry its tid"

    sleeps = [e for e in mine if e["name"] == "futex" and e["args"]["futex_op"].startswith("FUTEX_WAIT")
              and beneath("NtWaitForKeyedEvent", e)]
    assert {e["tid"] for e in sleeps} & thread_ids, "a thread slept on the mutex or the condition"

    assert any(e["name"].startswith("--- SIGUSR1") for e in mine)
    assert any(e["name"] == "rt_sigreturn" for e in mine)

    (fork,) = [e for e in mine if e["name"] in ("fork", "vfork", "clone", "clone3")
               and beneath("NtCreateProcessEx", e)]
    child = fork["result"]
    assert any(e["pid"] == child and e["name"].startswith("--- SIGSEGV") for e in events)
    (death,) = [e for e in events if e["name"] == "PspExitProcess" and e["args"]["ProcessId"] == child]
    assert death["args"]["ExitStatus"] == 128 + 11
