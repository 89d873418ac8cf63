"""Special files — /dev's devices, /dev/fd and /dev/std*, /proc — under ntsim and natively.

Where the value itself is the machine's (pids, memory sizes, the list of a real /proc,
the absolute path of the root), a test compares only what a user would check: the
shape of the answer, or a fact both runs state (`stat pid is getpid: yes`). Everything
else is compared byte for byte with the native run.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest

from .harness import Outcome, install, ntsim, run_guest, run_native

BUSYBOX = "/bin/busybox"
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]
needs_busybox = pytest.mark.skipif(not os.path.exists(BUSYBOX),
                                   reason="Debian's busybox-static (/bin/busybox) is not installed")
ENV = {"PATH": "/bin:/usr/bin", "HOME": "/", "LANG": "C.UTF-8", "TZ": "UTC"}
NTSIM_NOTE = re.compile(rb"^ntsim: lxss: unsupported system call .*\n", re.MULTILINE)


def program_output(outcome: Outcome) -> Outcome:
    return Outcome(outcome.status, outcome.stdout, NTSIM_NOTE.sub(b"", outcome.stderr))


def two_roots(tmp_path: Path) -> tuple[Path, Path]:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir(parents=True)
        if os.path.exists(BUSYBOX):
            shutil.copy2(BUSYBOX, root / "busybox")
        (root / "text.txt").write_bytes(b"one\ntwo\nthree\n")
    return native_root, ntsim_root


def both(tmp_path: Path, args: tuple[str, ...], stdin: bytes = b"") -> tuple[Outcome, Outcome]:
    native_root, ntsim_root = two_roots(tmp_path)
    native = run_native("./busybox", args, cwd=native_root, stdin=stdin, env=ENV)
    simulated = run_guest("./busybox", args, root=ntsim_root, stdin=stdin, env=ENV)
    return native, program_output(simulated)


# --- the C example: /proc/self and the calls around it -----------------------------------------


def test_procself_matches_native(tmp_path: Path) -> None:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
        install(root, "procself")
    native = run_native("./procself", ("word",), cwd=native_root)
    simulated = run_guest("./procself", ("word",), root=ntsim_root)
    assert native.status == 0
    simulated = program_output(simulated)
    differences = list(difflib.unified_diff(native.stdout.decode(errors="replace").splitlines(),
                                            simulated.stdout.decode(errors="replace").splitlines(),
                                            "native", "ntsim", lineterm=""))
    assert not differences, "\n".join(differences)
    assert simulated == native


# --- devices -----------------------------------------------------------------------------------

DEVICE_CASES = [
    ("stat", "-c", "%n %F %a %t %T", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"),
    ("od", "-An", "-tx1", "-N", "12", "/dev/zero"),
    ("wc", "-c", "/dev/null"),
    ("cat", "/dev/null"),
    ("cp", "text.txt", "/dev/null"),
    ("cp", "text.txt", "/dev/full"),                     # ENOSPC
    ("dd", "if=/dev/zero", "of=zeros", "bs=512", "count=3", "status=none"),
    ("dd", "if=/dev/urandom", "of=/dev/null", "bs=64", "count=2", "status=none"),
    ("md5sum", "/dev/null"),
    ("ls", "/dev/null/"),                                # ENOTDIR
    ("tty",),                                            # standard input is no terminal: status 1
    ("readlink", "/dev/stdin"),
    ("readlink", "/dev/fd"),
    ("stat", "-c", "%F", "/dev/stdin", "/dev/fd"),
]


@needs_busybox
@pytest.mark.parametrize("args", DEVICE_CASES, ids=" ".join)
def test_device_matches_native(args: tuple[str, ...], tmp_path: Path) -> None:
    native, simulated = both(tmp_path, args)
    assert simulated == native


@needs_busybox
def test_random_devices_give_the_bytes_asked_for(tmp_path: Path) -> None:
    """The bytes differ every run; their count does not."""
    for device in ("/dev/random", "/dev/urandom"):
        native, simulated = both(tmp_path / device[5:], ("od", "-An", "-tx1", "-N", "32", "-v", device))
        assert native.status == simulated.status == 0
        assert len(simulated.stdout.split()) == len(native.stdout.split()) == 32


@needs_busybox
@pytest.mark.parametrize("path", ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"])
def test_standard_input_by_name(path: str, tmp_path: Path) -> None:
    native, simulated = both(tmp_path, ("md5sum", path), stdin=b"data through a name\n" * 100)
    assert native.status == 0
    assert simulated == native


# --- /proc -------------------------------------------------------------------------------------

PROC_CASES = [
    ("cat", "/proc/self/cmdline"),
    ("cat", "/proc/self/comm"),
    ("stat", "-c", "%s %a %F", "/proc/self/status", "/proc/self/maps", "/proc/meminfo"),
    ("stat", "-L", "-c", "%F %a", "/proc/self", "/proc/self/fd"),
    ("stat", "-c", "%F", "/proc/self", "/proc/self/exe"),
    ("md5sum", "/proc/self/exe"),                        # opening the link opens the program
    ("readlink", "/proc/self/root"),
    ("readlink", "/proc/self/status"),                  # not a link: status 1
    ("ls", "/proc/self/no-such-entry"),
    ("rm", "/proc/self/status"),                         # EPERM
    ("mkdir", "/proc/newdir"),                          # ENOENT
    ("touch", "/proc/self/newfile"),                     # ENOENT
    ("tail", "-c", "1", "/proc/self/cmdline"),
    ("grep", "-c", "^Pid:", "/proc/self/status"),
    ("grep", "-c", "\\[stack\\]", "/proc/self/maps"),
    ("grep", "-c", "^MemTotal:", "/proc/meminfo"),
    ("grep", "-c", "^processor", "/proc/cpuinfo") if os.cpu_count() == 1 else ("grep", "-q", "^processor", "/proc/cpuinfo"),
    ("head", "-c", "5", "/proc/self/status"),
]


@needs_busybox
@pytest.mark.parametrize("args", PROC_CASES, ids=" ".join)
def test_proc_matches_native(args: tuple[str, ...], tmp_path: Path) -> None:
    native, simulated = both(tmp_path, args)
    assert simulated == native


@needs_busybox
def test_proc_self_is_this_process(tmp_path: Path) -> None:
    """The pid in /proc/self/stat is the one in /proc/self/status, and /proc/self leads
    to /proc/PID: for both runs (the pids themselves differ)."""
    for outcome in both(tmp_path, ("cat", "/proc/self/stat", "/proc/self/status")):
        lines = outcome.stdout.decode().splitlines()
        stat_pid = lines[0].split()[0]
        status_pid = next(line.split()[1] for line in lines if line.startswith("Pid:"))
        assert stat_pid == status_pid
        assert lines[0].split()[1] == "(busybox)"


@needs_busybox
def test_proc_listings_hold_what_programs_look_for(tmp_path: Path) -> None:
    """A real /proc holds much more; both hold these."""
    wanted = {b"cmdline", b"comm", b"cwd", b"environ", b"exe", b"fd", b"maps", b"root", b"stat",
              b"status", b"statm", b"mounts"}
    for outcome in both(tmp_path, ("ls", "/proc/self/")):
        assert outcome.status == 0
        assert wanted <= set(outcome.stdout.split())
    for outcome in both(tmp_path / "top", ("ls", "/proc")):
        assert {b"self", b"meminfo", b"cpuinfo", b"uptime", b"version"} <= set(outcome.stdout.split())


@needs_busybox
def test_proc_self_fd_lists_the_standard_streams(tmp_path: Path) -> None:
    """The native run may inherit more descriptors from the test runner; 0, 1 and 2
    (and the directory's own, 3) are in both."""
    for outcome in both(tmp_path, ("ls", "/proc/self/fd")):
        assert outcome.status == 0
        assert {b"0", b"1", b"2", b"3"} <= set(outcome.stdout.split())


@needs_busybox
@pytest.mark.parametrize("applet", [("free",), ("uptime",), ("ps",), ("nproc",), ("cat", "/proc/mounts")])
def test_system_applets_run(applet: tuple[str, ...], tmp_path: Path) -> None:
    """What they print is the machine's (memory, load, processes, processors); that they
    read it and succeed is what both runs share."""
    native, simulated = both(tmp_path, applet)
    assert native.status == simulated.status == 0
    assert simulated.stdout and simulated.stderr == b""


# --- the terminal ------------------------------------------------------------------------------


def run_on_terminal(command: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run `command` with a pseudo-terminal as its standard streams: (status, output)."""
    import pty

    pid, terminal = pty.fork()
    if pid == 0:                                      # the child: exec at once
        os.chdir(cwd)
        os.execve(command[0], command, {**ENV, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    output = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:                               # EIO: the child closed its side
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    return os.waitstatus_to_exitcode(status), output


TERMINAL_CASES = [
    ("sh", "-c", "echo to the terminal > /dev/tty; echo status $?"),
    ("stat", "-c", "%F %t %T", "/dev/tty"),
    ("test", "-t", "0"),
]


@needs_busybox
@pytest.mark.parametrize("args", TERMINAL_CASES, ids=" ".join)
def test_dev_tty_on_a_terminal(args: tuple[str, ...], tmp_path: Path) -> None:
    """With a terminal on standard input, /dev/tty is that terminal: a program writes to
    it, and isatty holds."""
    import sys

    native_root, ntsim_root = two_roots(tmp_path)
    native = run_on_terminal([str(native_root / "busybox"), *args], native_root)
    simulated = run_on_terminal([sys.executable, "-m", "ntsim", "run", "--root", str(ntsim_root),
                                 "./busybox", *args], ntsim_root)
    assert simulated == native


@needs_busybox
def test_tty_names_the_terminal(tmp_path: Path) -> None:
    """ttyname finds the terminal as a /dev/pts entry (its number is the host's)."""
    import sys

    native_root, ntsim_root = two_roots(tmp_path)
    native = run_on_terminal([str(native_root / "busybox"), "tty"], native_root)
    simulated = run_on_terminal([sys.executable, "-m", "ntsim", "run", "--root", str(ntsim_root),
                                 "./busybox", "tty"], ntsim_root)
    assert native[0] == simulated[0] == 0
    assert re.fullmatch(rb"/dev/pts/\d+\r\n", native[1]) and re.fullmatch(rb"/dev/pts/\d+\r\n", simulated[1])


@needs_busybox
def test_dev_tty_without_a_terminal(tmp_path: Path) -> None:
    """No terminal, no controlling terminal: opening /dev/tty is ENXIO."""
    native, simulated = both(tmp_path, ("sh", "-c", "echo x > /dev/tty; echo status $?"))
    assert simulated == native
    assert b"No such device or address" in native.stderr


@needs_busybox
def test_proc_stat_has_the_lines_ps_and_uptime_read(tmp_path: Path) -> None:
    """/proc/stat: the processor time line and the boot time (btime), which procps's ps
    needs to start at all. On the virtual clock the machine boots at its fixed date."""
    for outcome in both(tmp_path, ("cat", "/proc/stat")):
        lines = outcome.stdout.decode().splitlines()
        assert outcome.status == 0 and lines[0].split()[0] == "cpu"
        assert any(line.startswith("btime ") for line in lines)
    native_root, ntsim_root = two_roots(tmp_path / "virtual")
    virtual = run_guest("./busybox", ("cat", "/proc/stat"), root=ntsim_root, env=ENV,
                        options=("--deterministic",))
    assert "btime 1704067200" in virtual.stdout.decode().splitlines()   # 2024-01-01T00:00:00Z


def test_host_ps_lists_itself(tmp_path: Path) -> None:
    """procps's ps reads /proc/stat's btime and each /proc/PID; with the host's root it
    finds one guest process, itself."""
    if not os.path.exists("/bin/ps"):
        pytest.skip("procps's /bin/ps is not installed")
    outcome = ntsim("run", "--root", "/", "/bin/ps", "-o", "pid=,comm=", cwd=tmp_path)
    assert outcome.status == 0
    assert [line.split()[1] for line in outcome.stdout.decode().splitlines()] == ["ps"]
