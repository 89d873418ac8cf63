"""Ctrl+C reaching a DOS program (tests/vdm/programs/ctrlc.asm), typed on a real terminal.

ntsim runs with the terminal as its controlling terminal and standard input (so the
terminal driver turns Ctrl+C into SIGINT for ntsim, which passes it on as the console's
CTRL_C_EVENT through CSRSS to the VDM) and its output on a pipe (plain teletype output,
not a painted screen). What each run must print and how it ends follows from DOS's
rules for Ctrl+C, written out here by hand: ^C echoed, INT 23h issued at the next
console call; DOS's own handler ends the program with return code 0 and termination
type 1; a handler that IRETs has the call go on; one that RETFs with CF set is ended.
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

from .harness import REPO

pytestmark = pytest.mark.e2e

PROGRAM = REPO / "tests" / "vdm" / "programs" / "ctrlc.com"
DEADLINE_S = 30


def ctrl_c_once(root: Path, *args: str) -> tuple[int, bytes, bytes]:
    """CTRLC.COM ARGS under ntsim; one Ctrl+C once it says ready. (status, stdout, stderr)"""
    shutil.copy2(PROGRAM, root / "CTRLC.COM")
    master, slave = pty.openpty()

    def take_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen([sys.executable, "-m", "ntsim", "run", "--root", str(root), "CTRLC.COM", *args],
                               cwd=root, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=take_the_terminal)
    os.close(slave)
    try:
        output = b""
        started = time.monotonic()
        while b"ready\r\n" not in output:
            left = DEADLINE_S - (time.monotonic() - started)
            readable, _, _ = select.select([process.stdout], [], [], max(left, 0))
            chunk = os.read(process.stdout.fileno(), 4096) if readable else b""
            if not chunk:
                process.kill()
                pytest.fail(f"no 'ready' within {DEADLINE_S} s; output so far: {output!r}")
            output += chunk
        time.sleep(0.2)                       # polling its keyboard
        os.write(master, b"\x03")
        rest, errors = process.communicate(timeout=DEADLINE_S)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.returncode, output + rest, errors


def test_ctrl_c_ends_a_program_that_keeps_dos_s_handler(root: Path) -> None:
    assert ctrl_c_once(root) == (0, b"ready\r\n^C\r\n", b"")


def test_a_program_s_int_23h_handler_runs_and_the_program_goes_on(root: Path) -> None:
    assert ctrl_c_once(root, "c") == (
        7, b"ready\r\n^C\r\nctrlc: INT 23h handler ran\r\nctrlc: went on after Ctrl+C\r\n", b"")


def test_a_handler_returning_with_carry_set_has_dos_end_the_program(root: Path) -> None:
    assert ctrl_c_once(root, "s") == (0, b"ready\r\n^C\r\nctrlc: INT 23h handler ran\r\n", b"")


def test_the_parent_sees_termination_type_1_for_a_child_ended_by_ctrl_c(root: Path) -> None:
    assert ctrl_c_once(root, "p") == (
        1, b"ready\r\n^C\r\nctrlc: child ended, AX from 4Dh = 0100\r\n", b"")
