"""Hostile guests and bad input (issue 7): what a misbehaving program meets under ntsim.

`examples/linux/hostile` does one bad thing per argument. Where it is safe to run the
same thing natively — a fault, an execve that fails, a long path — the native run is the
oracle. Bombs and runaway memory are never run natively here (a fork bomb natively stops
only at the host's own limit, a terabyte mlock as root meets the host's OOM killer): for
those the test says what Linux gives at its limit (EAGAIN, ENOMEM, EMFILE, SIGKILL) and
that ntsim stays small and quick.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from .harness import EXAMPLES, Outcome, install, ntsim, run_guest, run_native

pytestmark = pytest.mark.e2e


def ntsim_peak_kib() -> int:
    """The largest resident size any finished child of this process (every ntsim run
    here) reached, in KiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def note(outcome: Outcome) -> str:
    """The one line ntsim wrote on stderr."""
    assert b"Traceback" not in outcome.stderr
    (line,) = outcome.stderr_lines
    assert line.startswith("ntsim: ")
    return line


# --- faults: privileged and faulting instructions ---------------------------------------------

# Each is SIGSEGV (#GP in ring 3) natively; ud2 SIGILL, int3 SIGTRAP, div0 SIGFPE.
PRIVILEGED = {"hlt": "hlt", "cli": "cli", "sti": "sti", "in": "in al, 0x60", "out": "out 0x80, al",
              "indx": "in al, dx", "rdmsr": "rdmsr", "wrmsr": "wrmsr", "movcr0": "mov rax, cr0",
              "tocr3": "mov cr3, rax", "lgdt": "lgdt", "lidt": "lidt", "invlpg": "invlpg",
              "wbinvd": "wbinvd", "swapgs": "swapgs"}
OTHER_FAULTS = {"ud2": "ud2", "int3": "int3", "int81": "int 0x81", "div0": "idiv", "null": "",
                "kernel": "", "noncanonical": "", "jumpnull": "", "jumptop": "", "jumptop32": "", "readtop": "", "recurse": ""}


@pytest.mark.parametrize("case", [*PRIVILEGED, *OTHER_FAULTS])
def test_fault_ends_the_guest_as_natively(native_ok, root: Path, case: str) -> None:
    program = install(root, "hostile")
    native = run_native(program, (case,), cwd=root)
    simulated = run_guest(program, (case,), root=root)
    assert native.status > 128, "the native run must fault: the case is wrong"
    assert simulated.status == native.status
    assert simulated.stdout == native.stdout == b""
    line = note(simulated)
    instruction = PRIVILEGED.get(case) or OTHER_FAULTS[case]
    assert f"`{instruction}" in line if instruction else "pc 0x" in line


@pytest.mark.parametrize("case", ["hlt", "in", "rdmsr", "lgdt", "int3", "div0", "ud2"])
def test_fault_reaches_the_guests_handler_as_natively(native_ok, root: Path, case: str) -> None:
    """With a handler installed, the signal and its si_code are what Linux gives."""
    program = install(root, "hostile")
    native = run_native(program, ("catch", case), cwd=root)
    simulated = run_guest(program, ("catch", case), root=root)
    assert native.stdout.startswith(b"caught signal")
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)


# --- exec and paths, against native ------------------------------------------------------------

@pytest.mark.parametrize("case", ["e2big", "exec-noexec", "longpath"])
def test_exec_and_path_limits_match_native(native_ok, root: Path, case: str) -> None:
    program = install(root, "hostile")
    native = run_native(program, (case,), cwd=root)
    before = sorted(os.listdir(root))
    simulated = run_guest(program, (case,), root=root)
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
    assert sorted(os.listdir(root)) == before      # no file with a cut name was made
    assert b"Argument list too long" in native.stdout or b"Permission denied" in native.stdout \
        or b"Filename too long" in native.stdout


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "mode 0644", "directory"])
def test_ntsim_refuses_what_execve_refuses(root: Path, kind: str) -> None:
    """126 at once, one line: never a read of an endless device or a wait on a FIFO."""
    if kind == "/dev/zero":
        program = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(root / "fifo")
        program = "./fifo"
    elif kind == "mode 0644":
        install(root, "hello")
        (root / "hello").chmod(0o644)
        program = "./hello"
    else:
        (root / "dir").mkdir()
        program = "./dir"
    started = time.monotonic()
    outcome = run_guest(program, root=root)
    assert outcome.status == 126
    assert "EACCES" in note(outcome)
    if kind in ("/dev/zero", "fifo"):
        info = ntsim("info", program, cwd=root)
        assert info.status == 126 and note(info)
    assert time.monotonic() - started < 20


# --- limits ------------------------------------------------------------------------------------

def test_fork_bomb_meets_eagain(root: Path) -> None:
    outcome = run_guest(install(root, "hostile"), ("forkbomb",), root=root,
                        options=("--max-processes", "40"))
    assert outcome.stdout == b"fork refused after many: Resource temporarily unavailable\n" \
                             b"forkbomb: survived\n"
    assert outcome.status == 0


def test_thread_bomb_meets_eagain(root: Path) -> None:
    outcome = run_guest(install(root, "hostile"), ("threadbomb",), root=root,
                        options=("--max-threads", "60"))
    assert outcome.stdout == b"thread refused after many: Resource temporarily unavailable\n" \
                             b"threadbomb: survived\n"


def test_open_files_meet_emfile_at_the_limit(root: Path) -> None:
    outcome = run_guest(install(root, "hostile"), ("nofile",), root=root,
                        options=("--max-open-files", "64"))
    assert outcome.stdout == b"open refused: No file descriptors available (at the limit)\n" \
                             b"nofile: survived\n"


@pytest.mark.parametrize("case", ["mmap-huge", "mmap-exec", "mmap-file-huge", "bigio", "mmap-many", "brk-huge"])
def test_huge_untouched_mappings_cost_no_memory(native_ok, root: Path, case: str) -> None:
    """8 TiB mapped and never touched, or 1 TiB executable made writable and unmapped:
    as natively, it works, in a fraction of a second and a few MB (it once took 11 GB
    and never finished)."""
    program = install(root, "hostile")
    native = run_native(program, (case,), cwd=root)
    started = time.monotonic()
    simulated = run_guest(program, (case,), root=root)
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
    assert time.monotonic() - started < 20
    assert ntsim_peak_kib() < 400_000


def test_mlock_of_a_terabyte_is_enomem_at_once(root: Path) -> None:
    started = time.monotonic()
    outcome = run_guest(install(root, "hostile"), ("mlock-huge",), root=root)
    assert outcome.stdout == b"mlock 1 TiB: Out of memory\nmlock-huge: survived\n"
    assert time.monotonic() - started < 20
    assert ntsim_peak_kib() < 400_000


def test_touching_past_max_memory_is_the_oom_killers_sigkill(root: Path) -> None:
    outcome = run_guest(install(root, "hostile"), ("mmap-touch",), root=root,
                        options=("--max-memory", "96M"))
    assert outcome.status == 128 + 9
    assert outcome.stdout == b""
    assert "out of memory" in note(outcome) and "--max-memory" in note(outcome)
    assert ntsim_peak_kib() < 400_000


def test_elf_with_a_terabyte_segment_is_refused_at_once(root: Path) -> None:
    image = bytearray((EXAMPLES / "hello").read_bytes())
    phoff, phnum = int.from_bytes(image[32:40], "little"), int.from_bytes(image[56:58], "little")
    for index in range(phnum):
        entry = phoff + index * 56
        if int.from_bytes(image[entry:entry + 4], "little") == 1 and \
                int.from_bytes(image[entry + 4:entry + 8], "little") & 2:      # the writable PT_LOAD
            image[entry + 40:entry + 48] = (1 << 40).to_bytes(8, "little")    # p_memsz: 1 TiB
            break
    (root / "huge").write_bytes(bytes(image))
    (root / "huge").chmod(0o755)
    started = time.monotonic()
    outcome = run_guest("./huge", root=root)
    assert outcome.status == 126
    assert "memory" in note(outcome)
    assert time.monotonic() - started < 20


def test_trace_file_stops_at_its_limit(root: Path) -> None:
    outcome = run_guest(install(root, "hello"), root=root,
                        options=("--trace-file", "trace.jsonl", "--max-trace-size", "2K"))
    assert outcome.status == 0
    assert "--max-trace-size" in note(outcome)
    text = (root / "trace.jsonl").read_text()
    assert len(text) < 2048 + 100
    assert text.splitlines()[-1] == '{"truncated": "the trace reached --max-trace-size"}'


def test_limits_are_in_the_help(tmp_path: Path) -> None:
    text = ntsim("run", "--help", cwd=tmp_path).stdout.decode()
    for option in ("--max-memory", "--max-processes", "--max-threads", "--max-open-files",
                   "--max-trace-size", "--read-only"):
        assert option in text


# --- containment ---------------------------------------------------------------------------------

def test_no_way_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    secret = outside / "secret"
    secret.write_text("TOPSECRET\n")
    outcome = run_guest(install(root, "escape"), (str(secret),), root=root)
    assert outcome.status == 0
    assert b"TOPSECRET" not in outcome.stdout
    lines = outcome.stdout.decode().splitlines()
    assert len(lines) == 22
    assert "symlink loop: Symbolic link loop" in lines
    assert '/proc/self/root/inside/file: read "inside"' in lines
    assert sorted(os.listdir(outside)) == ["secret"] and secret.read_text() == "TOPSECRET\n"


def test_read_only_root_refuses_every_change(root: Path) -> None:
    program = install(root, "hostile")
    before = {name: (root / name).stat().st_mtime_ns for name in os.listdir(root)}
    outcome = run_guest(program, ("writes",), root=root, options=("--read-only",))
    lines = outcome.stdout.decode().splitlines()
    assert lines[-2:] == ["open for reading: ok", "writes: survived"]
    assert len(lines) == 13
    assert all(line.endswith(": Read-only file system") for line in lines[:-2])
    assert {name: (root / name).stat().st_mtime_ns for name in os.listdir(root)} == before


# --- determinism ---------------------------------------------------------------------------------

def test_deterministic_runs_show_no_host_time_or_inode(tmp_path: Path) -> None:
    """A file the guest just wrote carries the virtual clock's time (2024), and its inode
    number and the volume's device are the run's own: two runs agree to the nanosecond."""
    outputs, traces = [], []
    for run in ("one", "two"):
        root = tmp_path / run
        root.mkdir()
        outcome = run_guest(install(root, "hostile"), ("stamp",), root=root,
                            options=("--deterministic", "--trace-file", str(tmp_path / f"{run}.jsonl")))
        assert outcome.status == 0
        outputs.append(outcome.stdout)
        traces.append((tmp_path / f"{run}.jsonl").read_bytes())
    assert outputs[0] == outputs[1] and traces[0] == traces[1]
    first = outputs[0].decode().splitlines()[0]
    assert first.startswith("mtime 2024-01-01 ") and " ctime 17040672" in first
    host_inode = os.stat(tmp_path).st_ino
    assert str(host_inode).encode() not in traces[0] + outputs[0]


# --- nothing lost ----------------------------------------------------------------------------------

def test_files_written_before_a_fault_are_kept_as_natively(native_ok, tmp_path: Path) -> None:
    contents = []
    for run in ("native", "ntsim"):
        root = tmp_path / run
        root.mkdir()
        program = install(root, "hostile")
        outcome = run_native(program, ("mapfault",), cwd=root) if run == "native" \
            else run_guest(program, ("mapfault",), root=root)
        assert outcome.status == 139
        contents.append(((root / "mapped").read_bytes(), (root / "written").read_bytes()))
    assert contents[0] == contents[1]
    assert contents[1][0].startswith(b"kept through the fault\n")


def test_open_files_stay_under_the_hosts_own_limit(root: Path) -> None:
    """With the host giving ntsim only 200 descriptors, the guest meets EMFILE at its own
    limit, however high --max-open-files asks: never EIO, never a host error."""
    import subprocess
    import sys

    program = install(root, "hostile")

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    completed = subprocess.run(
        [sys.executable, "-m", "ntsim", "run", "--max-open-files", "5000", "--root", str(root),
         program, "nofile"], cwd=root, capture_output=True, timeout=120, check=False,
        preexec_fn=few_descriptors)
    assert completed.returncode == 0
    assert completed.stdout == b"open refused: No file descriptors available (at the limit)\n" \
                               b"nofile: survived\n"


def test_real_time_signals_queue_up_to_rlimit_sigpending(root: Path) -> None:
    """Linux counts pending signals per user (natively a few already pending may count:
    998 of 1000 here); ntsim counts the process's own queue."""
    outcome = run_guest(install(root, "hostile"), ("sigflood",), root=root)
    assert outcome.status == 0
    assert outcome.stdout == b"sigqueue refused after 1000: Resource temporarily unavailable\n" \
                             b"kill past the limit: survived\n"


@pytest.mark.parametrize("program, expected", [
    ("dos/copy.com", b"copy: cannot create the target, DOS error 19"),
    ("os2/copy.exe", b"copy: error 19"),
])
def test_read_only_root_is_write_protect_for_dos_and_os2(root: Path, program: str, expected: bytes) -> None:
    """ERROR_WRITE_PROTECT (19), the error DOS and OS/2 give for a write-protected disk."""
    import shutil

    shutil.copy2(EXAMPLES.parent / program, root / Path(program).name)
    (root / "IN.TXT").write_text("hello\n")
    outcome = run_guest(Path(program).name, ("IN.TXT", "OUT.TXT"), root=root, options=("--read-only",))
    assert expected in outcome.stdout
    assert sorted(os.listdir(root)) == sorted(["IN.TXT", Path(program).name])


# --- the other personalities -------------------------------------------------------------------

@pytest.mark.parametrize("case, status", [("hlt", 139), ("cli", 139), ("in", 139), ("out", 139),
                                          ("rdmsr", 139), ("movcr0", 139), ("ud2", 132),
                                          ("div0", 136), ("null", 139)])
def test_posix_guest_faults_end_in_signals(root: Path, case: str, status: int) -> None:
    """A POSIX_CUI program runs in ring 3 as well: a privileged instruction is SIGSEGV."""
    import shutil

    shutil.copy2(EXAMPLES.parent / "posix" / "faults", root / "faults")
    outcome = run_guest("./faults", (case,), root=root)
    assert outcome.status == status
    assert outcome.stdout == b""
    assert "killed by SIG" in note(outcome)
