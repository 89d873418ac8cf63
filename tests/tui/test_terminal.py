"""The TUI in a real terminal: `ntsim tui examples/linux/hello` under tmux, keys sent with
send-keys, the screen read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (.ci/run installs it: apt-get install tmux)")


class Terminal:
    def __init__(self, command: str, columns: int = 140, rows: int = 40) -> None:
        self.name = f"ntsim-test-{uuid.uuid4().hex[:8]}"
        self.socket = f"ntsim-{self.name}"          # its own tmux server: no user's sessions
        env = f"PYTHONPATH={ROOT} TERM=xterm-256color"
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", self.name,
                        "-x", str(columns), "-y", str(rows),
                        f"cd {ROOT} && {env} {command}; sleep 30"], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True, check=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal():
    made = []

    def start(command: str) -> Terminal:
        made.append(Terminal(command))
        return made[-1]

    yield start
    for t in made:
        t.close()


def test_tui_in_a_real_terminal_shows_the_tree_the_lanes_and_steps(terminal):
    t = terminal(f"{sys.executable} -m ntsim tui --root examples/linux examples/linux/hello")
    screen = t.wait_for("PAUSED")
    screen = t.wait_for("hello [lxss]")                     # the process tree
    assert "csrss.exe" in screen and "smss.exe" in screen
    for lane in ("guest", "LPC", "Nt", "call = result"):   # the lanes
        assert lane in screen
    screen = t.wait_for("> 00401047 xor")                    # the entry point, `>` on it
    t.keys("F11")                                            # step one instruction
    screen = t.wait_for("> 0040104a mov")
    assert "step" in screen
    t.keys("t")                                              # to the next crossing
    screen = t.wait_for("crossing in [")
    t.keys("F5")                                             # and to the end
    t.wait_for("FINISHED")
    t.keys("q")
    deadline = time.monotonic() + 10
    while "FINISHED" in t.screen() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "FINISHED" not in t.screen()                     # q quit the TUI
