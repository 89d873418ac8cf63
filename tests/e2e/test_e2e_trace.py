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
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
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


@pytest.mark.skipif(not Path("/bin/busybox").exists(),
                    reason="Debian's busybox-static (/bin/busybox) is not installed")
def test_deterministic_runs_of_processes_computing_at_once_are_byte_identical(
        root: Path, tmp_path: Path) -> None:
    """Two computations at once share the processor in quanta, and a quantum ends where
    its count of translated blocks runs out: the same place every run. The virtual clock
    moves 1 ms a quantum then (a lone computation would leave it standing)."""
    (root / "bin").mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    compute = install(root, "compute")
    script = f"{compute} 3000000 & {compute} 2000000; wait"
    runs = []
    for attempt in range(2):
        trace = tmp_path / f"run{attempt}.jsonl"
        outcome = run_guest("./bin/busybox", ("sh", "-c", script), root=root,
                            options=("--deterministic", "--trace-file", str(trace)))
        assert outcome.status == 0, outcome.stderr
        runs.append((outcome.stdout, trace.read_bytes()))
    assert runs[0] == runs[1]
    assert sorted(runs[0][0].split()) == sorted(
        run_native(compute, (str(n),), cwd=root).stdout.strip() for n in (3000000, 2000000))
    last_clock = max(event["clock"] for event in read_events(tmp_path / "run0.jsonl").values())
    assert last_clock >= 4_000_000          # at least the 2,000,000 iterations' quanta, at 1 ms


def test_clockrand_has_the_native_shape(root: Path, native_ok) -> None:
    """The values differ from run to run, but lines, words and checks must be the same."""
    program = install(root, "clockrand")
    native = run_native(program, cwd=root)
    simulated = run_guest(program, root=root)
    assert native.status == 0
    assert (simulated.status, masked(simulated.stdout), simulated.stderr) == \
        (native.status, masked(native.stdout), native.stderr)


# --- a pipeline: two processes, a pipe, fork and exec ------------------------------------
#
# `busybox sh -c 'echo hi | tr a-z A-Z'` on Linux: the shell makes a pipe (pipe2), forks
# one child per command of the pipeline (glibc's fork is a clone without CLONE_THREAD; a
# build could use vfork), the `tr` child executes busybox again through /proc/self/exe
# with argv ["tr", "a-z", "A-Z"] (`echo` is a builtin, run in its child), the shell waits
# for both, and all three exit with 0. That is what strace shows natively; the trace must
# show the same, with the NT calls beneath: the pipe a named pipe, the fork a process
# created from its parent (NtCreateProcessEx).

BUSYBOX = "/bin/busybox"
PIPELINE = ("sh", "-c", "echo hi | tr a-z A-Z")
FORKS = ("fork", "vfork", "clone", "clone3")
PIPES = ("pipe", "pipe2")
PID_PREFIX = re.compile(r"^\[pid +(\d+)\] ")
needs_busybox = pytest.mark.skipif(not Path(BUSYBOX).exists(),
                                   reason="Debian's busybox-static (/bin/busybox) is not installed")


def busybox_root(root: Path) -> str:
    """busybox as /bin/busybox under the root, so /proc/self/exe names a file there."""
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    return "bin/busybox"


@dataclass
class TextCall:
    """One top-level line of the text trace, with the lines nested beneath it."""
    pid: int | None                  # None before a second process exists (as strace -f)
    line: str
    beneath: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.line.split("(", 1)[0]

    @property
    def result(self) -> str:
        return self.line.rsplit(" = ", 1)[-1] if " = " in self.line else ""


def text_calls(stderr: bytes) -> list[TextCall]:
    calls: list[TextCall] = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        match = PID_PREFIX.match(line)
        body = line[match.end():] if match else line
        if body.lstrip().startswith("└"):
            if calls:
                calls[-1].beneath.append(body.strip())
        else:
            calls.append(TextCall(int(match.group(1)) if match else None, body))
    return calls


@needs_busybox
def test_text_trace_of_a_pipeline_shows_processes_pipe_fork_and_exec(root: Path, native_ok) -> None:
    program = busybox_root(root)
    native = run_native(program, PIPELINE, cwd=root)
    traced = run_guest(program, PIPELINE, root=root, options=("--trace",))
    assert (traced.status, traced.stdout) == (native.status, native.stdout) == (0, b"HI\n")
    calls = text_calls(traced.stderr)

    pipes = [c for c in calls if c.name in PIPES]
    assert len(pipes) == 1 and pipes[0].result == "0"
    assert any(n.startswith("└ [nt] NtCreateNamedPipeFile(") for n in pipes[0].beneath)

    forks = [c for c in calls if c.name in FORKS]
    assert len(forks) == 2, "one child for each command of the pipeline"
    for fork in forks:
        assert any(n.startswith("└ [nt] NtCreateProcessEx(") for n in fork.beneath)
    children = {int(fork.result) for fork in forks}
    shell = int(re.search(r"ImageName=busybox, ProcessId=(\d+)", traced.stderr.decode()).group(1))

    prefixed = {c.pid for c in calls if c.pid is not None}
    assert children | {shell} <= prefixed, "each process's lines carry its [pid N]"
    (execve,) = [c for c in calls if c.name == "execve" and c.pid in children]
    assert execve.line.startswith('execve("/proc/self/exe", ["tr", "a-z", "A-Z"]')
    assert execve.result == "0"
    exits = [c.pid for c in calls if c.line == "+++ exited with 0 +++"]
    assert sorted(exits) == sorted(children | {shell})


@needs_busybox
def test_json_trace_of_a_pipeline_connects_the_processes(root: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    outcome = run_guest(busybox_root(root), PIPELINE, root=root, options=("--trace-file", str(trace)))
    assert (outcome.status, outcome.stdout) == (0, b"HI\n")
    events = read_events(trace)
    calls = [e for e in events.values() if e["layer"] == "personality"]

    def beneath(call: dict, name: str) -> list[dict]:
        return [e for e in events.values() if e["parent"] == call["seq"] and e["name"] == name]

    (pipe,) = [e for e in calls if e["name"] in PIPES]
    (created,) = beneath(pipe, "NtCreateNamedPipeFile")
    pipe_name = created["args"]["ObjectName"]
    shell = pipe["pid"]

    forks = [e for e in calls if e["name"] in FORKS and e["pid"] == shell]
    assert len(forks) == 2
    children = set()
    for fork in forks:
        (process,) = beneath(fork, "NtCreateProcessEx")
        (kernel,) = beneath(process, "PspCreateProcess")
        assert kernel["args"]["Parent"] == shell
        assert kernel["args"]["ProcessId"] == fork["result"]
        children.add(fork["result"])

    # the pipe joins the two children: one writes "hi\n" into it, the other reads it
    writers = {e["pid"] for e in events.values() if e["name"] == "NtWriteFile"
               and pipe_name in e["args"]["FileHandle"]}
    readers = {e["pid"] for e in events.values() if e["name"] == "NtReadFile"
               and pipe_name in e["args"]["FileHandle"]}
    assert len(writers) == len(readers) == 1 and writers | readers == children

    (execve,) = [e for e in calls if e["name"] == "execve" and e["pid"] in children]
    assert execve["pid"] in readers
    assert execve["args"]["argv"] == ["tr", "a-z", "A-Z"] and execve["result"] == 0
    exits = {e["args"]["ProcessId"]: e["args"]["ExitStatus"] for e in events.values()
             if e["name"] == "PspExitProcess"}
    assert {pid: exits.get(pid) for pid in children | {shell}} == dict.fromkeys(children | {shell}, 0)


STRACED = ("pipe", "pipe2", "fork", "vfork", "clone", "clone3", "execve", "exit_group")
STRACE_CALL = re.compile(r"^(?:\[pid +\d+\] |\d+ +)?(\w+)\(")
STRACE_RESUMED = re.compile(r"^(?:\[pid +\d+\] |\d+ +)?<\.\.\. (\w+) resumed>")


def strace_counts(text: str) -> Counter:
    """How many times each call in STRACED completed, and how many processes exited with 0.

    A fork that a signal interrupts is shown by strace as `= ? ERESTARTNOINTR (To be
    restarted)` and then made again; only the attempt that completes counts. A call is
    complete on its own line, or on its `<... name resumed>` line when it blocked."""
    counts: Counter = Counter()
    for line in text.splitlines():
        if line.endswith("+++ exited with 0 +++"):
            counts["exited with 0"] += 1
        if line.endswith("<unfinished ...>") or "ERESTART" in line:
            continue
        if (m := STRACE_CALL.match(line) or STRACE_RESUMED.match(line)) and m.group(1) in STRACED:
            counts[m.group(1)] += 1
    return counts


def test_strace_counts_skip_restarted_and_pair_resumed_calls() -> None:
    log = """\
20251 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>
20252 +++ exited with 0 +++
20251 <... clone resumed>) = ? ERESTARTNOINTR (To be restarted)
20251 clone(child_stack=NULL, flags=SIGCHLD) = 20253
[pid 20253] execve("/proc/self/exe", ["tr"], 0x1 /* 1 var */ <unfinished ...>
[pid 20253] <... execve resumed>) = 0
20251 exit_group(0)                     = ?
"""
    assert strace_counts(log) == Counter({"clone": 1, "execve": 1, "exit_group": 1, "exited with 0": 1})


@needs_busybox
def test_pipeline_trace_has_the_calls_strace_shows_natively(root: Path, tmp_path: Path, native_ok) -> None:
    """Where strace is installed, it is the oracle: the same process-level calls, as many
    times each (the order may differ: the processes interleave differently)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    program = busybox_root(root)
    log = tmp_path / "strace.log"
    native = subprocess.run([strace, "-f", "-q", "-o", str(log), "-e", "trace=" + ",".join(STRACED),
                             program, *PIPELINE], cwd=root, capture_output=True, timeout=60, check=False)
    if native.returncode != 0 or not log.exists():
        pytest.skip(f"strace cannot trace here: {native.stderr.decode(errors='replace').strip()}")
    expected = strace_counts(log.read_text())
    traced = run_guest(program, PIPELINE, root=root, options=("--trace",))
    assert traced.status == 0
    assert strace_counts(traced.stderr.decode("utf-8", "replace")) == expected


def test_text_trace_numbers_threads_as_strace_f_does(root: Path) -> None:
    """Each thread's lines carry its own id, as `strace -f` prints them: the process's
    first thread by the process id, every thread clone made by the id clone returned."""
    traced = run_guest(install(root, "threads"), root=root, options=("--trace",))
    assert traced.status == 0
    calls = text_calls(traced.stderr)
    main = int(re.search(r"\[pid +(\d+)\] \+\+\+ exited with 0 \+\+\+\s*$",
                         traced.stderr.decode()).group(1))
    made = {int(c.result) for c in calls if c.name == "clone" and c.pid in (None, main)
            and "CLONE_THREAD" in c.line}
    assert len(made) >= 4, "four workers (and the condition-variable test's waiter)"
    spoke = {c.pid for c in calls if c.pid is not None and c.name in ("futex", "exit", "gettid")}
    assert made <= spoke, "every worker's own calls are shown under its own id"
    prefixed = {c.pid for c in calls if c.pid is not None}
    assert main in prefixed and not prefixed - made - {main} - forked_children(calls, main)


def forked_children(calls: list[TextCall], parent: int) -> set[int]:
    return {int(c.result) for c in calls if c.pid in (None, parent) and c.name in ("fork", "vfork", "clone")
            and "CLONE_THREAD" not in c.line and c.result.isdigit()}
