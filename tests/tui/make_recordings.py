"""Record the sessions the snapshot tests are fed (run it again when the trace changes on
purpose, then review the snapshots: `pytest tests/tui/test_snapshots.py --snapshot-update`).

    PYTHONPATH=. python tests/tui/make_recordings.py
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from ntsim.controller import Controller  # noqa: E402
from ntsim.tui.bridge import EventBuffer, UiConsole, UiSink, _FirstCallSink, _interleaved, record  # noqa: E402

EXAMPLES = os.path.join(ROOT, "examples", "linux")


def session(name: str, program: str, args: list[str], steer) -> None:
    """Run `program` deterministically, `steer(controller)` it, and save what a screen
    would show then."""
    from ntsim.machine import Machine

    buffer = EventBuffer()
    console = UiConsole()
    counted = SimpleNamespace(first_guest_call_instructions=None)

    def make():
        machine = Machine(EXAMPLES, deterministic=True, seed=1, console=console,
                          count_instructions=True)
        machine.add_sink(_FirstCallSink(counted, machine))
        return machine

    controller = Controller(
        make, lambda m: m.load(os.path.join(EXAMPLES, program), args, argv0=program),
        on_event=UiSink(buffer)).start()
    try:
        steer(controller)
        snapshot = controller.snapshot()
        pid = controller.loaded.pid
        process = snapshot.process(pid)
        disassembly = ()
        if process is not None and process.alive:
            disassembly = controller.ask("disassemble", pid=pid, count=24)
        rows = buffer.drain(1 << 30)
        title = " ".join([f"examples/linux/{program}", *args])
        record(os.path.join(HERE, "recordings", f"{name}.json"), rows, snapshot, disassembly,
               _interleaved(console), title, counted.first_guest_call_instructions)
    finally:
        controller.quit()


def finish(c):
    c.run()
    assert c.wait(30) == "finished", c.stop


def to_lpc(c):
    c.run_to_crossing("lpc")
    assert c.wait(30) == "paused"
    c.run_to_crossing("server")
    assert c.wait(30) == "paused"


def stepped(c):
    for _ in range(3):
        c.step(1).result(10)


if __name__ == "__main__":
    session("hello-loaded", "hello", [], lambda c: None)
    session("hello-stepped", "hello", [], stepped)
    session("hello-server", "hello", [], to_lpc)
    session("hello-finished", "hello", [], finish)
    session("hello-asm-finished", "hello-asm", [], finish)
    session("family-finished", "family", [], finish)
    print("recorded:", sorted(os.listdir(os.path.join(HERE, "recordings"))))
