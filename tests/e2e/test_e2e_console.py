"""Ctrl+C on a real terminal, natively and under ntsim.

The program runs on a pseudo-terminal as its controlling terminal, and the test types
Ctrl+C into it: the terminal driver sends SIGINT to the foreground process group. Natively
that is the program; under ntsim it is ntsim, which passes it on as the console's
CTRL_C_EVENT through CSRSS to LXSS, which sends SIGINT to the guest's foreground group.
The native run is the oracle for what the program prints and how it ends.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from .harness import install

pytestmark = pytest.mark.e2e

CTRL_C = b"\x03"
DEADLINE_S = 30


class Terminal:
    """A program started as the session leader of a new pseudo-terminal."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()

        def take_the_terminal() -> None:        # in the child, after setsid
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # as a login on a terminal starts: a test run in the background (`&`) has
            # these ignored, and ignored signals stay ignored across exec
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGQUIT, signal.SIG_DFL)

        self.process = subprocess.Popen(command, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True, preexec_fn=take_the_terminal)
        os.close(slave)
        self.output = b""
        self.started = time.monotonic()

    def read_until(self, text: bytes) -> None:
        while text not in self.output.replace(b"\r\n", b"\n"):    # the terminal's ONLCR
            self._read_some()

    def _read_some(self) -> bool:
        left = DEADLINE_S - (time.monotonic() - self.started)
        if left <= 0:
            self.process.kill()
            pytest.fail(f"no progress within {DEADLINE_S} s; output so far: {self.output!r}")
        readable, _, _ = select.select([self.master], [], [], left)
        if readable:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:          # EIO: every holder of the terminal has closed it
                chunk = b""
            self.output += chunk
            return bool(chunk)
        return True

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> tuple[int, bytes]:
        while self._read_some():
            pass
        status = self.process.wait(timeout=DEADLINE_S)
        os.close(self.master)
        status = 128 - status if status < 0 else status
        return status, self.output.replace(b"\r\n", b"\n").replace(b"^C", b"").replace(b"^Z", b"")


def interrupt_twice(command: list[str], cwd: Path) -> tuple[int, bytes]:
    terminal = Terminal(command, cwd)
    terminal.read_until(b"ready\n")
    time.sleep(0.2)                  # in its pause()
    terminal.type(CTRL_C)
    terminal.read_until(b"default action restored\n")
    time.sleep(0.2)                  # well inside its loop, which makes no system call
    terminal.type(CTRL_C)
    return terminal.finish()


def test_ctrl_c_reaches_a_waiting_handler_and_ends_a_computing_program(root: Path, native_ok) -> None:
    program = install(root, "ctrlc")
    native = interrupt_twice([str(root / "ctrlc")], root)
    assert native[0] == 128 + signal.SIGINT
    assert b"pause() = -1 (Interrupted system call), handler ran 1 time(s), si_code SI_KERNEL\n" in native[1]
    emulated = interrupt_twice([sys.executable, "-m", "ntsim", "run", "--root", str(root), program],
                               root)
    assert emulated == native


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_three_quick_ctrl_c_stop_ntsim_when_the_guest_ignores_them(root: Path) -> None:
    """The way out of a guest that ignores SIGINT: Ctrl+C three times within two seconds."""
    shutil.copy2("/bin/busybox", root / "busybox")
    terminal = Terminal([sys.executable, "-m", "ntsim", "run", "--root", str(root), "./busybox", "sh", "-c",
                         "trap '' INT; echo ready; while :; do :; done"], root)
    terminal.read_until(b"ready\n")
    terminal.type(CTRL_C)
    time.sleep(0.5)
    assert terminal.process.poll() is None, "one Ctrl+C is the guest's to ignore"
    terminal.type(CTRL_C)
    time.sleep(0.1)
    terminal.type(CTRL_C)
    status, output = terminal.finish()
    assert status == 128 + signal.SIGINT
    assert output.endswith(b"ntsim: interrupted\n")


def interactive_shell_session(command: list[str], cwd: Path) -> tuple[int, bytes]:
    """An interactive shell: Ctrl+C ends a foreground `sleep` (its own process group,
    which the shell made the terminal's foreground with tcsetpgrp); the shell survives."""
    terminal = start_a_job(Terminal(command, cwd))
    terminal.type(CTRL_C)
    terminal.type(b"echo after-sleep $?; exit 3\n")
    return terminal.finish()


def start_a_job(terminal: Terminal) -> Terminal:
    """In an interactive shell, a job that says when it runs (it is the terminal's
    foreground process group by then) and sleeps; `slept $?` follows when it ends."""
    terminal.type(b"echo started\n")
    terminal.read_until(b"started\n")
    terminal.type(b"./busybox sh -c 'echo sleeping; exec ./busybox sleep 20'; echo slept $?\n")
    terminal.read_until(b"sleeping\n")
    time.sleep(0.3)
    return terminal


def interactive_busybox(root: Path) -> list[list[str]]:
    """An interactive busybox shell, natively and under ntsim."""
    shutil.copy2("/bin/busybox", root / "busybox")
    return [[str(root / "busybox"), "sh", "-i"],
            [sys.executable, "-m", "ntsim", "run", "--root", str(root), "./busybox", "sh", "-i"]]


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_ctrl_c_in_an_interactive_shell_interrupts_the_job_not_the_shell(root: Path, native_ok) -> None:
    for status, output in (interactive_shell_session(command, root)
                           for command in interactive_busybox(root)):
        lines = output.decode("utf-8", "replace").splitlines()
        assert status == 3
        assert "after-sleep 130" in lines
        assert not any(line.startswith("slept") for line in lines)


RAW_READ = ("echo go; ./busybox stty -a; ./busybox stty raw -echo; "
            "./busybox dd bs=1 count=1 2>/dev/null | ./busybox od -c; "
            "./busybox stty sane; ./busybox stty -a")


def type_one_key(command: list[str], cwd: Path) -> tuple[int, bytes]:
    terminal = Terminal(command, cwd)
    terminal.read_until(b"go\n")
    time.sleep(0.5)                  # raw by now: one key, no Enter, is a whole read
    terminal.type(b"x")
    return terminal.finish()


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_terminal_settings_reach_the_host_terminal(root: Path, native_ok) -> None:
    """stty shows the terminal's real settings, `stty raw -echo` makes it raw (a key is
    read without Enter and not echoed), and `stty sane` brings it back."""
    shutil.copy2("/bin/busybox", root / "busybox")
    native = type_one_key([str(root / "busybox"), "sh", "-c", RAW_READ], root)
    assert native[0] == 0 and b"0000000   x\n" in native[1]
    emulated = type_one_key([sys.executable, "-m", "ntsim", "run", "--root", str(root),
                             "./busybox", "sh", "-c", RAW_READ], root)
    assert emulated == native


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_ntsim_leaves_the_host_terminal_as_it_found_it(root: Path) -> None:
    """A guest that ends with the terminal raw does not leave it so for the next program."""
    shutil.copy2("/bin/busybox", root / "busybox")
    terminal = Terminal(["sh", "-c", f"{sys.executable} -m ntsim run --root {root} ./busybox stty raw -echo; "
                         f"echo after; ./busybox stty -a"], root)
    status, output = terminal.finish()
    assert status == 0 and b"after\n" in output
    settings = output.split(b"after\n", 1)[1]
    assert b" icanon " in settings and b" echo " in settings


def job_control_session(command: list[str], cwd: Path) -> tuple[int, bytes]:
    """Ctrl+Z stops the foreground job (the shell's wait sees it stopped: 128+SIGTSTP),
    `jobs` lists it, `fg` continues it in the foreground, and Ctrl+C then ends it."""
    terminal = start_a_job(Terminal(command, cwd))
    terminal.type(b"\x1a")                                   # Ctrl+Z
    terminal.read_until(b"slept")
    terminal.type(b"jobs; echo listed\n")
    terminal.read_until(b"listed\n")
    terminal.type(b"fg\n")
    time.sleep(0.5)
    terminal.type(CTRL_C)
    terminal.type(b"echo after $?; exit 3\n")
    return terminal.finish()


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_ctrl_z_stops_the_job_and_fg_continues_it(root: Path, native_ok) -> None:
    for status, output in (job_control_session(command, root) for command in interactive_busybox(root)):
        lines = output.decode("utf-8", "replace").splitlines()
        assert status == 3
        assert f"slept {128 + signal.SIGTSTP}" in lines and "after 130" in lines
        assert sum("Stopped" in line and "sleep 20" in line for line in lines) == 2   # ^Z, jobs


def suspend_and_continue(command: str, cwd: Path) -> tuple[int, bytes]:
    """`command` run as a job of an interactive shell: Ctrl+Z, then `fg`."""
    terminal = Terminal([str(cwd / "busybox"), "sh", "-i"], cwd)
    terminal.type(command.encode() + b"\n")
    terminal.read_until(b"ready\n")
    terminal.type(b"\x1a")                                   # Ctrl+Z
    terminal.read_until(b"Stopped")
    terminal.type(b"fg\n")
    terminal.read_until(b"done\n")
    terminal.type(b"exit 5\n")
    return terminal.finish()


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_ctrl_z_on_a_program_without_a_guest_shell_suspends_ntsim_itself(root: Path, native_ok) -> None:
    """Nothing inside the machine could continue a stopped first program, so the whole
    of ntsim stops, as the program would natively: the host shell says it stopped, and
    its `fg` continues it to the end."""
    shutil.copy2("/bin/busybox", root / "busybox")
    script = "'echo ready; ./busybox sleep 1; echo done'"
    for command in (f"./busybox sh -c {script}",
                    f"{sys.executable} -m ntsim run --root {root} ./busybox sh -c {script}"):
        status, output = suspend_and_continue(command, root)
        lines = output.decode("utf-8", "replace").splitlines()
        assert status == 5
        assert any(line.startswith("[1]+  Stopped") for line in lines)
        assert "done" in lines


def interrupt_once(command: list[str], cwd: Path) -> int:
    """Start `command` with SIGINT ignored (as a non-interactive shell starts `cmd &`),
    send it SIGINT, and return its status."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=DEADLINE_S)
    return process.returncode


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="Debian's busybox-static is not installed")
def test_an_ignored_sigint_stays_ignored(root: Path, native_ok) -> None:
    shutil.copy2("/bin/busybox", root / "busybox")
    native = interrupt_once([str(root / "busybox"), "sleep", "1"], root)
    emulated = interrupt_once([sys.executable, "-m", "ntsim", "run", "--root", str(root),
                               "./busybox", "sleep", "1"], root)
    assert native == emulated == 0
