"""A DOS program's compute loop, paused from another host thread (the TUI's pause): the
VDM runs a loop that observes no clock uncounted when alone, but a machine driven by the
controller keeps the quantum counter, so the pause still takes the processor."""

from __future__ import annotations

import time

from ntsim.controller import PAUSED, Controller
from ntsim.machine import Machine
from ntsim.subsystems.windows.csrss import CapturedConsole


def test_pause_takes_a_dos_compute_loop(tmp_path):
    (tmp_path / "LOOP.COM").write_bytes(b"\xeb\xfe")           # jmp $: no INT, ever
    made = Controller(lambda: Machine(str(tmp_path), console=CapturedConsole()),
                      lambda m: m.load(str(tmp_path / "LOOP.COM"), []), on_event=None).start()
    try:
        for _ in range(2):
            made.run()
            made.wait_running()
            time.sleep(0.1)
            made.pause()
            assert made.wait(5) == PAUSED
            assert made.stop.reason == "pause"
    finally:
        made.quit()
