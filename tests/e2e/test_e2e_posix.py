"""The POSIX subsystem's examples (examples/posix/), run through the CLI.

A POSIX_CUI program cannot run natively here, so the oracle is what the C source says it
does, and the host itself where it can say more: cat's output is the file's bytes,
dirlist's listing is the host directory's, sizes are the host's.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from .harness import REPO, ntsim, run_guest

pytestmark = pytest.mark.e2e

POSIX = REPO / "examples" / "posix"


def install(root: Path, *names: str) -> None:
    for name in names:
        shutil.copy(POSIX / name, root / name)


def test_hello_writes_through_the_console_host(root):
    install(root, "hello")
    outcome = run_guest("./hello", root=root)
    assert (outcome.status, outcome.stdout, outcome.stderr) == (
        0, b"Hello from the POSIX subsystem, via PSXSS!\n", b"")


def test_hello_relocated_when_its_base_is_taken(root):
    # linked at 0x77e00000, where PSXDLL.DLL is mapped: the loader applies .reloc
    install(root, "hello-relocated")
    outcome = run_guest("./hello-relocated", root=root, options=("--trace",))
    assert outcome.stdout == b"Hello from the POSIX subsystem, via PSXSS!\n"
    load = next(line for line in outcome.stderr_lines if line.startswith("LdrLoadImage("))
    mapped = int(load.split(", ")[-1].split(")")[0], 16)         # LdrLoadImage's MappedAt
    assert "0x77e00000" in load and mapped != 0x77E0_0000


def test_cat_copies_files_and_standard_input(root):
    install(root, "cat")
    data = bytes(range(256)) * 40 + b"tail"          # crosses cat's 4096-byte reads
    (root / "data.bin").write_bytes(data)
    outcome = run_guest("./cat", ("data.bin", "-", "/data.bin"), root=root, stdin=b"from stdin\n")
    assert outcome.status == 0
    assert outcome.stdout == data + b"from stdin\n" + data


def test_cat_reports_a_missing_file_and_goes_on(root):
    install(root, "cat")
    (root / "there").write_bytes(b"present\n")
    outcome = run_guest("./cat", ("missing", "there"), root=root)
    assert outcome.status == 1
    assert outcome.stdout == b"present\n"
    assert outcome.stderr_lines == ["cat: missing: ENOENT"]


def test_fork_and_waitpid_report_exit_codes_and_a_signal(root):
    install(root, "fork")
    outcome = run_guest("./fork", root=root)
    assert outcome.status == 7
    assert outcome.stdout.decode().splitlines() == [
        "child 1: my parent is the forker", "parent: child 1 exited with status 11",
        "child 2: my parent is the forker", "parent: child 2 exited with status 21",
        "child 3: my parent is the forker", "parent: child 3 exited with status 31",
        "parent: the sleeper is still running",
        "parent: the sleeper was killed by signal 15",
        "parent: wait: ECHILD (no children left)"]


def test_fork_trace_shows_the_clone_through_psxss(root):
    install(root, "fork")
    outcome = run_guest("./fork", root=root, options=("--trace",))
    lines = outcome.stderr_lines
    start = next(i for i, line in enumerate(lines) if line.startswith("fork() = "))
    child = int(lines[start].split(" = ")[1])
    steps = lines[start:start + 8]
    assert "ApiNumber=PsxFork" in steps[1] and f'"ChildPid": {child}' in steps[1]
    assert steps[2].lstrip(" └").startswith("[server] PsxFork(")
    assert any("[nt] NtCreateProcessEx(" in line and "SectionHandle=null" in line for line in steps)
    assert "PSXSS" not in outcome.stdout.decode()            # the trace is on stderr only
    assert b"child 1: my parent is the forker" in outcome.stdout


def test_job_control_stops_continues_and_kills_a_stopped_child(root):
    install(root, "jobs")
    outcome = run_guest("./jobs", root=root, options=("--trace",))
    assert outcome.status == 0
    assert outcome.stdout.decode().splitlines() == [
        "parent: child stopped by signal 19 (status 0x137f)",
        "parent: SIGCHLD pending",
        "parent: the stop is reported once",
        "parent: a stopped child does not run",
        "parent: child continued and exited with 42",
        "parent: second child stopped by signal 20",
        "parent: stopped child killed by signal 9"]
    trace = "\n".join(outcome.stderr_lines)
    assert "[nt] NtSuspendThread(" in trace and "[nt] NtResumeThread(" in trace
    assert "PsxProcessStopped(" in trace and "Signal=SIGTSTP" in trace


def test_pipe_between_parent_and_child(root):
    install(root, "pipe")
    outcome = run_guest("./pipe", root=root)
    assert outcome.status == 0
    assert outcome.stdout == (b"parent read 21 bytes:\nline 1\nline 2\nline 3\n"
                              b"child exited with 0; read after EOF gives 0\n")


def test_a_write_with_no_reader_is_epipe_then_sigpipe(root):
    install(root, "pipe")
    outcome = run_guest("./pipe", ("broken",), root=root)
    assert outcome.status == 128 + 13                       # SIGPIPE's default action
    assert outcome.stdout == b"write with no reader: -1 (EPIPE)\n"


def test_signal_handler_alarm_pending_and_ignored(root):
    install(root, "signals")
    outcome = run_guest("./signals", root=root, options=("--deterministic",))
    assert outcome.status == 0
    assert outcome.stdout.decode().splitlines() == [
        "pause returned -1 (EINTR) after 1 SIGALRM",
        "sleep(5) interrupted by SIGALRM with 4 seconds left, 2 SIGALRM",
        "blocked SIGUSR1: pending 1, handled 0 times",
        "unblocked SIGUSR1: handled 1 times",
        "ignored SIGTERM: still here"]


def test_a_signal_s_default_action_ends_the_program_with_128_plus_n(root):
    install(root, "signals")
    outcome = run_guest("./signals", ("die",), root=root, options=("--deterministic",))
    assert outcome.status == 128 + 12                       # SIGUSR2
    assert b"not reached" not in outcome.stdout
    assert outcome.stdout.endswith(b"now SIGUSR2, whose default action ends the process\n")


def test_dirlist_matches_the_host_directory(root):
    install(root, "dirlist")
    (root / "sub").mkdir()
    (root / "sub" / "b.txt").write_bytes(b"12345")
    (root / "sub" / "a").mkdir()
    (root / "sub" / "c").write_bytes(b"")
    outcome = run_guest("./dirlist", ("/sub",), root=root)
    assert outcome.status == 0
    names = sorted([".", "..", *os.listdir(root / "sub")])
    expected = []
    for name in names:
        path = root / "sub" / name
        expected.append(f"d {name}/" if path.is_dir() else f"- {name} {path.stat().st_size}")
    expected.append(f"{len(names)} entries ({len(names)} after rewinddir)")
    assert outcome.stdout.decode().splitlines() == expected


def test_an_import_psxdll_does_not_export_is_refused_at_load(root):
    install(root, "sockets")
    outcome = run_guest("./sockets", root=root)
    assert outcome.status == 126
    assert outcome.stdout == b""
    assert len(outcome.stderr_lines) == 1
    assert "socket is not exported by PSXDLL.DLL" in outcome.stderr_lines[0]


def _subsystem_offset(image: bytes) -> int:
    return struct.unpack_from("<I", image, 0x3C)[0] + 4 + 20 + 68


def test_another_pe_subsystem_is_refused_naming_it(root):
    image = bytearray((POSIX / "hello").read_bytes())
    struct.pack_into("<H", image, _subsystem_offset(image), 3)       # Windows CUI
    (root / "wincui").write_bytes(image)
    outcome = run_guest("./wincui", root=root)
    assert outcome.status == 126
    assert "subsystem 3 (Windows CUI)" in outcome.stderr_lines[0]


@pytest.mark.parametrize("cut", [200, 700, 1200])
def test_a_corrupt_pe_cannot_execute(root, cut):
    (root / "broken").write_bytes((POSIX / "hello").read_bytes()[:cut])
    outcome = run_guest("./broken", root=root)
    assert outcome.status == 126
    assert len(outcome.stderr_lines) == 1 and "Traceback" not in outcome.stderr.decode()


def test_stats_count_lpc_messages_and_transitions(root):
    install(root, "hello")
    outcome = run_guest("./hello", root=root, options=("--stats",))
    text = outcome.stderr.decode()
    assert "lpc messages" in text and "\\PSXSS\\ApiPort" in text and "\\PSXSS\\ConsolePort" in text
    transitions = next(line for line in outcome.stderr_lines if line.startswith("client/server"))
    assert int(transitions.split()[1]) > 0
    servers = [line for line in outcome.stderr_lines if "psxss.exe" in line or "posix.exe" in line]
    assert len(servers) == 2 and all(" server " in line for line in servers)


def test_calls_table_shows_each_export_s_path():
    outcome = ntsim("calls", "posix", cwd=REPO)
    rows = {line.split()[1]: line for line in outcome.stdout.decode().splitlines() if line[:4].strip().isdigit()}
    assert "[nt] NtWriteFile" in rows["write"] and "[lpc] PsxGetIds" in rows["getpid"]
    assert "[lpc] PsxFork" in rows["fork"] and "[local]" in rows["sigemptyset"]
    assert "socket" not in rows


def test_exec_keeps_the_pid_and_closes_only_close_on_exec_descriptors(root):
    install(root, "execs")
    outcome = run_guest("./execs", root=root)
    assert (outcome.status, outcome.stderr) == (0, b"")
    assert outcome.stdout.decode().splitlines() == [
        "before exec: fd 3 kept, fd 4 close-on-exec",
        "after exec: the same pid, fd 3 open, fd 4 closed"]


def test_deterministic_runs_give_the_same_trace(root):
    install(root, "fork")
    traces = []
    for index in range(2):
        run_guest("./fork", root=root, options=("--deterministic", "--trace-file", f"t{index}.jsonl"))
        traces.append((root / f"t{index}.jsonl").read_bytes())
    assert traces[0] == traces[1] and b"PsxFork" in traces[0]


def test_a_forked_childs_handler_writes_its_own_copy_of_a_global(root):
    # The handler's store is the child's first write to that page since fork: a
    # copy-on-write fault in a 32-bit process, taken after pause() was interrupted (CR2's
    # stale upper bits once made it an access violation: the child died of SIGSEGV).
    install(root, "forksignal")
    outcome = run_guest("./forksignal", root=root)
    assert outcome.status == 0
    assert sorted(outcome.stdout.decode().splitlines()) == [
        "child: the handler set flag to 10",
        "parent: child exited 7, flag still 0 here"]
