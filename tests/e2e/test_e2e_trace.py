"""What the trace shows of a run, read from `--trace-file` (JSON lines) and `--trace`.

One guest `write(1, ...)` crosses every boundary of the design: the personality's
write, NtWriteFile on the console device, an LPC request to CSRSS, and CSRSS's
ConsoleWrite, each event the child of the one before. And with --deterministic the
same run gives the same file, byte for byte, even for a program that reads the clock
and asks for random bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .harness import install, run_guest, run_native

pytestmark = pytest.mark.e2e


def read_events(path: Path) -> dict[int, dict]:
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_seq = {event["seq"]: event for event in events}
    assert len(by_seq) == len(events), "sequence numbers repeat"
    return by_seq


def ancestors(events: dict[int, dict], event: dict) -> list[dict]:
    chain = []
    while event["parent"] is not None:
        event = events[event["parent"]]
        chain.append(event)
    return chain


def created_pid(events: dict[int, dict], image_name: str) -> int:
    (pid,) = [e["args"]["ProcessId"] for e in events.values()
              if e["layer"] == "kernel" and e["name"] == "PspCreateProcess"
              and e["args"]["ImageName"] == image_name]
    return pid


@pytest.mark.parametrize("program, call", [("hello-asm", "write"), ("hello", "writev")])
def test_console_write_crosses_nt_lpc_and_csrss(program: str, call: str, root: Path,
                                                tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    outcome = run_guest(install(root, program), root=root, options=("--trace-file", str(trace)))
    assert outcome.status == 0
    greeting = outcome.stdout
    events = read_events(trace)
    guest, csrss = created_pid(events, program), created_pid(events, "csrss.exe")
    assert guest != csrss

    (write,) = [e for e in events.values() if e["layer"] == "personality" and e["name"] == call
                and e["pid"] == guest and e["args"]["fd"] == 1]
    assert write["result"] == len(greeting)

    (nt_write,) = [e for e in events.values() if e["layer"] == "nt" and e["name"] == "NtWriteFile"
                   and write in ancestors(events, e)]
    assert nt_write["pid"] == guest
    assert "ConDrv" in nt_write["args"]["FileHandle"]

    (request,) = [e for e in events.values() if e["parent"] == nt_write["seq"]
                  and e["layer"] == "lpc" and e["name"] == "NtRequestWaitReplyPort"]
    assert request["pid"] == guest
    assert request["args"]["ApiNumber"] == "ConsoleWrite"

    (served,) = [e for e in events.values() if e["parent"] == request["seq"]
                 and e["layer"] == "server" and e["name"] == "ConsoleWrite"]
    assert served["pid"] == csrss
    assert served["args"]["Length"] == len(greeting)
    assert served["args"]["Data"].startswith('"' + greeting[:16].decode())


def test_strace_text_goes_to_stderr_and_leaves_stdout_alone(root: Path, native_ok) -> None:
    program = install(root, "hello-asm")
    native = run_native(program, cwd=root)
    traced = run_guest(program, root=root, options=("--trace",))
    assert (traced.status, traced.stdout) == (native.status, native.stdout)
    assert re.search(r'^write\(1, "Hello', traced.stderr.decode(), re.MULTILINE)
    assert re.search(r"^exit_group\(0\)", traced.stderr.decode(), re.MULTILINE)


def masked(output: bytes) -> bytes:
    """The shape of clockrand's output: every run of digits or hex becomes '#'."""
    return re.sub(rb"[0-9a-f]+", b"#", output)


def test_deterministic_runs_are_byte_identical(root: Path, tmp_path: Path) -> None:
    """clockrand reads CLOCK_REALTIME and CLOCK_MONOTONIC, sleeps, and calls getrandom."""
    program = install(root, "clockrand")
    runs = []
    for attempt in range(2):
        trace = tmp_path / f"run{attempt}.jsonl"
        outcome = run_guest(program, root=root, options=("--deterministic", "--trace-file", str(trace)))
        assert outcome.status == 0, outcome.stdout + outcome.stderr
        runs.append((outcome.stdout, trace.read_bytes()))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    names = {e["name"] for e in read_events(tmp_path / "run0.jsonl").values()}
    assert {"clock_gettime", "getrandom", "nanosleep"} <= names
    # without --deterministic the clock is the host's and the bytes are random
    free = run_guest(program, root=root)
    assert free.status == 0
    assert free.stdout != runs[0][0]


def test_deterministic_glibc_start_up(root: Path, tmp_path: Path) -> None:
    """glibc's start-up reads AT_RANDOM and calls getrandom: both come from the seed."""
    program = install(root, "hello-glibc")
    traces = []
    for attempt in range(2):
        trace = tmp_path / f"run{attempt}.jsonl"
        assert run_guest(program, root=root, options=("--deterministic", "--trace-file", str(trace))).status == 0
        traces.append(trace.read_bytes())
    assert traces[0] == traces[1]


def test_clockrand_has_the_native_shape(root: Path, native_ok) -> None:
    """The values differ from run to run, but lines, words and checks must be the same."""
    program = install(root, "clockrand")
    native = run_native(program, cwd=root)
    simulated = run_guest(program, root=root)
    assert native.status == 0
    assert (simulated.status, masked(simulated.stdout), simulated.stderr) == \
        (native.status, masked(native.stdout), native.stderr)
