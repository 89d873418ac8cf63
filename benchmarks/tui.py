"""The TUI's speed: section (m) of benchmarks/run.py.

    python benchmarks/tui.py

(m-1) the UI's drain rate and lag with a synthetic producer at 20,000 events/s (goal: no
      backlog, p99 lag < 50 ms): a thread appends rows to the session's buffer as the
      machine's sink would; a 10 ms timer in the UI notes how late it runs;
(m-2) 100,000 rows in the sequence view and the trace log: time to take them in, and
      to scroll from the end to the top and back (the views draw only visible lines);
(m-3) time to first paint of `ntsim tui examples/linux/hello` in a real terminal (tmux;
      goal < 1 s), from the command to the first screen showing the paused machine,
      with Python's bytecode cached as it is for a user from the second start on;
(m-4) a compute-bound program under the TUI's controller against `ntsim run`'s machine
      (goal >= 0.5x): examples/linux/compute (the suite's compute program) and
      examples/linux/counter. Both loops are one short translated block per turn, and
      under the TUI every block pays the native hook that makes a pause safe: unicorn's
      helper call, measured at 1.3-2.2 ns a block, against compute's 3 ns turn (the
      hook is most of its gap; counter's turn is 5.5 ns). The UI's own thread shares
      the host's cores: ~15-20% of one while the machine runs;
(m-5) pause latency under a compute loop, from the request to the machine paused
      (goal < 100 ms).

Headless timings (Textual's run_test) show the UI's own cost, not a terminal's painting.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "linux")
sys.path.insert(0, ROOT)

from table import print_table  # noqa: E402  (benchmarks/table.py)

from ntsim.tui.app import NtsimApp, RunScreen  # noqa: E402
from ntsim.tui.bridge import Row, Session  # noqa: E402
from ntsim.tui.widgets import SeqView  # noqa: E402

RATE = 20_000
SECONDS = 3.0
COUNTER_N = 100_000_000


class SyntheticSession(Session):
    """A session whose 'machine' is a thread making rows at a fixed rate."""

    title = "synthetic producer"

    def __init__(self, rate: int, seconds: float) -> None:
        super().__init__()
        self.rate, self.seconds = rate, seconds
        self.produced = 0
        self.state = "running"

    def start(self) -> None:
        threading.Thread(target=self._produce, daemon=True).start()

    def _produce(self) -> None:
        layers = ("personality", "nt", "lpc", "server", "kernel")
        started = time.perf_counter()
        seq = 0
        while True:
            elapsed = time.perf_counter() - started
            if elapsed >= self.seconds:
                break
            due = int(elapsed * self.rate)
            while seq < due:
                seq += 1
                layer = layers[seq % len(layers)]
                self.buffer.append(Row(seq, "note", 28, 32, layer, f"Call{seq % 37}",
                                       "fd=1, buf=\"hello\\n\", count=6", "6", None,
                                       seq - 1 if seq % 5 else None, seq % 5, seq))
            time.sleep(0.001)
        self.produced = seq
        self.state = "paused"


def drain_lag() -> tuple[float, float, int, float]:
    """(rows drained per second, p99 lag in ms, rows left undrawn, max lag in ms)."""
    session = SyntheticSession(RATE, SECONDS)
    app = NtsimApp(run=session)
    lags: list[float] = []

    async def main() -> tuple[float, int]:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, RunScreen)
            expected = [time.perf_counter() + 0.01]

            def tick() -> None:
                now = time.perf_counter()
                lags.append(max(0.0, now - expected[0]))
                expected[0] = now + 0.01

            screen.set_interval(0.01, tick)
            started = time.perf_counter()
            while session.state == "running":
                await pilot.pause(0.05)
            while len(session.buffer):
                await pilot.pause(0.02)
            elapsed = time.perf_counter() - started
            await pilot.pause(0.1)
            drawn = len(screen.query_one(SeqView).rows)
            return drawn / elapsed, session.produced - drawn

    rate, left = asyncio.run(main())
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0
    return rate, p99, left, (lags[-1] * 1000 if lags else 0.0)


def hundred_thousand_rows() -> tuple[float, float]:
    """(seconds to take 100,000 rows into the views, seconds to scroll end→top→end)."""
    session = Session()
    session.title = "100,000 rows"
    for seq in range(1, 100_001):
        session.buffer.append(Row(seq, "note", 28, 32, ("nt", "lpc", "server")[seq % 3],
                                  f"Call{seq % 37}", "a=1", "0", None, None, 0, seq))
    app = NtsimApp(run=session)

    async def main() -> tuple[float, float]:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            started = time.perf_counter()
            while len(session.buffer):
                await pilot.pause(0.01)
            await pilot.pause()
            took = time.perf_counter() - started
            seq = screen.query_one(SeqView)
            seq.focus()
            started = time.perf_counter()
            await pilot.press("home")
            await pilot.pause()
            await pilot.press("end")
            await pilot.pause()
            scrolled = time.perf_counter() - started
            assert len(seq.rows) == 100_000
            return took, scrolled

    return asyncio.run(main())


def first_paint() -> tuple[float, float] | None:
    """Seconds from `ntsim tui examples/linux/hello` to its first frame, and to the
    paused machine on screen (tmux), as a user sees them: Python's bytecode cache in use
    (a first, untimed start fills it, in the checkout's __pycache__ as for any user, even
    where PYTHONDONTWRITEBYTECODE is set: with it, every start compiles all of ntsim,
    ~0.4 s more). None without tmux."""
    if shutil.which("tmux") is None:
        return None
    times, frames = [], []
    for _ in range(4):
        name = f"ntsim-bench-{uuid.uuid4().hex[:8]}"
        socket = f"ntsim-{name}"            # a tmux server of its own each time
        try:
            started = time.perf_counter()
            subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", name, "-x", "140",
                            "-y", "40", f"cd {ROOT} && env -u PYTHONDONTWRITEBYTECODE "
                            f"PYTHONPATH={ROOT} {sys.executable} -m ntsim "
                            "tui --root examples/linux examples/linux/hello"], check=True)
            framed = None
            while True:
                screen = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", name],
                                        capture_output=True, text=True).stdout
                if framed is None and "call flow" in screen:
                    framed = time.perf_counter() - started
                if "PAUSED" in screen and "hello [lxss]" in screen:
                    break
                if time.perf_counter() - started > 20:
                    raise RuntimeError("the TUI did not paint within 20 s")
                time.sleep(0.01)
            times.append(time.perf_counter() - started)
            frames.append(framed if framed is not None else times[-1])
        finally:
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    return statistics.median(frames[1:]), statistics.median(times[1:])


def compute_under_tui(program: str = "counter", args: tuple[str, ...] = (str(COUNTER_N),),
                      expect: str | None = f"{COUNTER_N}") -> tuple[float, float]:
    """(seconds under `ntsim run`'s machine, seconds under the TUI's controller, the
    UI running and drawing) for a compute-bound program."""
    from ntsim.machine import Machine
    from ntsim.subsystems.windows.csrss import CapturedConsole
    from ntsim.tui.bridge import LiveSession

    def plain() -> float:
        machine = Machine(EXAMPLES, console=CapturedConsole())
        machine.load(os.path.join(EXAMPLES, program), list(args))
        started = time.perf_counter()
        machine.run()
        assert expect is None or machine.console.stdout == f"{expect}\n".encode()
        return time.perf_counter() - started

    def under_tui() -> float:
        session = LiveSession(os.path.join(EXAMPLES, program), list(args), root=EXAMPLES)
        app = NtsimApp(run=session)
        moments: dict[str, float] = {}
        on_state = session._on_state

        def noted(state, stop):          # when the machine's thread began and ended the run
            moments.setdefault(state, time.perf_counter())
            on_state(state, stop)

        session._on_state = noted

        async def main() -> float:
            async with app.run_test(size=(140, 40)) as pilot:
                while session.state != "paused":
                    await pilot.pause(0.02)
                await pilot.press("f5")
                while session.state != "finished":
                    await pilot.pause(0.01)
                assert expect is None or expect in session.console_text()
                return moments["finished"] - moments["running"]

        return asyncio.run(main())

    runs_plain, runs_tui = [], []
    for _ in range(3):                    # alternated: a shared machine's speed drifts
        runs_plain.append(plain())
        runs_tui.append(under_tui())
    return min(runs_plain), min(runs_tui)


def pause_latency(pauses: int = 30) -> list[float]:
    from ntsim.controller import Controller
    from ntsim.machine import Machine
    from ntsim.subsystems.windows.csrss import CapturedConsole

    controller = Controller(lambda: Machine(EXAMPLES, console=CapturedConsole()),
                            lambda m: m.load(os.path.join(EXAMPLES, "counter"), ["4000000000"]))
    controller.start()
    try:
        for _ in range(pauses):
            controller.run()
            controller.wait_running()
            time.sleep(0.02)
            controller.pause()
            assert controller.wait(5) == "paused"
        return list(controller.pause_latency)
    finally:
        controller.quit()


def main() -> None:
    rows = []
    rate, p99, left, worst = drain_lag()
    rows.append(("(m) drain at 20,000 events/s", f"{rate:,.0f}/s",
                 f"p99 lag {p99:.1f} ms, max {worst:.1f} ms, {left} left undrawn  (goal: none left, p99 < 50 ms)"))
    took, scrolled = hundred_thousand_rows()
    rows.append(("(m) 100,000 rows: take in", f"{took:.2f} s", ""))
    rows.append(("(m) 100,000 rows: scroll top and back", f"{scrolled * 1000:.0f} ms", ""))
    paint = first_paint()
    if paint is None:
        rows.append(("(m) ntsim tui hello: first paint", "skipped", "no tmux"))
    else:
        rows.append(("(m) ntsim tui hello: first frame", f"{paint[0]:.2f} s",
                     "(goal < 1 s; tmux, Python's start included)"))
        rows.append(("(m) ntsim tui hello: machine on screen", f"{paint[1]:.2f} s",
                     "(booted, loaded, paused at the entry point)"))
    plain, tui = compute_under_tui("compute", ("100000000",), None)
    rows.append(("(m) compute 1e8, ntsim run's machine", f"{plain:.2f} s", ""))
    rows.append(("(m) compute 1e8, under the TUI", f"{tui:.2f} s",
                 f"{plain / tui:.2f}x ntsim run's speed  (goal >= 0.5x)"))
    plain, tui = compute_under_tui()
    rows.append(("(m) counter 1e8, ntsim run's machine", f"{plain:.2f} s", ""))
    rows.append(("(m) counter 1e8, under the TUI", f"{tui:.2f} s",
                 f"{plain / tui:.2f}x  (a read-modify-write per turn)"))
    latencies = sorted(pause_latency())
    rows.append(("(m) pause latency, compute loop", f"{statistics.median(latencies) * 1000:.2f} ms",
                 f"median; max {latencies[-1] * 1000:.2f} ms over {len(latencies)}  (goal < 100 ms)"))
    print_table("TUI benchmark", rows)


if __name__ == "__main__":
    main()
