"""Pilot tests: each key and flow of the TUI on a real machine (App.run_test)."""

from __future__ import annotations

import asyncio
import functools
import os
import time

from ntsim.tui.app import (
    CompareScreen,
    DetailsScreen,
    HelpScreen,
    LessonScreen,
    NtsimApp,
    PromptScreen,
    RunScreen,
)
from ntsim.tui.bridge import LiveSession
from ntsim.tui.lessons import find_lesson
from ntsim.tui.widgets import ProcessTree, SeqView

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "linux")
GREETING = "Hello from Linux, via the NT kernel!"
SIZE = (140, 40)


def aio(test):
    """Run an async test on its own event loop (no asyncio plugin is needed)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


def app_for(program: str, *args: str) -> NtsimApp:
    return NtsimApp(run=LiveSession(os.path.join(EXAMPLES, program), list(args), root=EXAMPLES))


async def until(pilot, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the TUI")
        await pilot.pause(0.05)


def run_screen(app) -> RunScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunScreen))


@aio
async def test_load_shows_processes_lanes_and_code():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.snapshot is not None and screen.session.state == "paused")
        await until(pilot, lambda: "xor" in str(screen.query_one("#disasm").render()))
        labels = [str(node.label) for node in screen.query_one(ProcessTree).root.children]
        tree = " ".join(labels) + " " + " ".join(
            str(n.label) for top in screen.query_one(ProcessTree).root.children for n in top.children)
        assert "System" in tree
        names = [p.name for p in screen.snapshot.processes]
        assert "csrss.exe" in names and "hello" in names
        header = str(screen.query_one("#lanes").render())
        for lane in ("guest", "pers", "LPC", "Nt"):
            assert lane in header
        assert "rip" in str(screen.query_one("#regs").render())


@aio
async def test_f5_runs_to_the_end_and_the_console_shows_the_output():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "finished")
        await until(pilot, lambda: GREETING in screen.session.console_text())
        seq = screen.query_one(SeqView)
        await until(pilot, lambda: any(r.name == "NtWriteFile" for r in seq.rows))
        assert {r.layer for r in seq.rows} >= {"personality", "nt", "lpc", "server", "kernel"}
        assert screen.trace_lines > 0


@aio
async def test_c_continues_like_f5():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("c")
        await until(pilot, lambda: screen.session.state == "finished")


@aio
async def test_space_pauses_a_compute_loop_and_greys_the_step_keys_while_running():
    app = app_for("counter", "4000000000")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "running")
        assert screen.check_action("step", ()) is None          # greyed in the footer
        assert screen.check_action("step_over", ()) is None
        await pilot.press("space")
        await until(pilot, lambda: screen.session.state == "paused", timeout=5)
        assert screen.session.stop.reason == "pause"
        assert screen.check_action("step", ()) is True
        await pilot.press("space")                                # Space again continues
        await until(pilot, lambda: screen.session.state == "running")
        await pilot.press("space")
        await until(pilot, lambda: screen.session.state == "paused", timeout=5)


@aio
async def test_f11_and_s_step_one_instruction():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.snapshot is not None and screen.session.state == "paused")
        pid = screen.session.controller.loaded.pid
        first = screen.snapshot.process(pid).threads[0].linear_pc
        await pilot.press("f11")
        await until(pilot, lambda: screen.session.stop.reason == "step"
                    and screen.snapshot.process(pid).threads[0].linear_pc != first)
        second = screen.snapshot.process(pid).threads[0].linear_pc
        assert second == first + 3                                 # xor rbp, rbp is 3 bytes
        await pilot.press("s")
        await until(pilot, lambda: screen.snapshot.process(pid).threads[0].linear_pc == second + 3)
        assert "rdi" in str(screen.query_one("#regs").render())


@aio
async def test_f10_and_n_step_over():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.snapshot is not None and screen.session.state == "paused")
        pid = screen.session.controller.loaded.pid
        start = screen.snapshot.process(pid).threads[0].linear_pc
        await pilot.press("f10")                                   # not a call: one step
        await until(pilot, lambda: screen.snapshot.process(pid).threads[0].linear_pc == start + 3)
        await pilot.press("n")
        await until(pilot, lambda: screen.snapshot.process(pid).threads[0].linear_pc == start + 6)


@aio
async def test_f8_and_t_run_to_the_next_crossing_and_l_chooses_its_layer():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f8")
        await until(pilot, lambda: screen.session.stop.reason == "crossing")
        for _ in range(3):                                          # l: any -> guest -> personality -> lpc
            await pilot.press("l")
        assert screen.session.layer_goal == "lpc"
        await pilot.press("t")
        await until(pilot, lambda: screen.session.stop.reason == "crossing"
                    and screen.session.stop.event.layer == "lpc")
        seq = screen.query_one(SeqView)
        await until(pilot, lambda: seq.stop_seq == screen.session.stop.event.seq)
        assert seq.current.seq == screen.session.stop.event.seq    # the step highlighted
        assert "[lpc]" in str(screen.query_one("#status").render())


@aio
async def test_b_sets_a_breakpoint_that_is_hit():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"nt:NtWriteFile", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.2)
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.stop is not None
                    and screen.session.stop.reason == "breakpoint")
        assert screen.session.stop.event.name == "NtWriteFile"
        assert GREETING not in screen.session.console_text()       # stopped before the write


@aio
async def test_enter_opens_the_details_of_a_crossing():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "finished")
        seq = screen.query_one(SeqView)
        await until(pilot, lambda: any(r.name == "NtWriteFile" for r in seq.rows))
        seq.move_to(next(i for i, r in enumerate(seq.rows) if r.name == "NtWriteFile"))
        seq.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        text = str(app.screen.query_one("Static").render())
        assert "NtWriteFile" in text and "STATUS_SUCCESS" in text and "layer" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))


@aio
async def test_r_restarts_the_program():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "finished")
        await pilot.press("r")
        await until(pilot, lambda: screen.session.state == "paused"
                    and screen.session.stop.reason == "loaded")
        assert GREETING not in screen.session.console_text()
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "finished"
                    and GREETING in screen.session.console_text())


@aio
async def test_f1_and_question_mark_open_help():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


@aio
async def test_q_quits():
    app = app_for("hello")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0 or app.return_code is None


@aio
async def test_palette_opens_a_program_from_examples():
    app = NtsimApp(root=EXAMPLES)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Open examples/linux/hello-asm")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen)
                    and getattr(app.screen.session, "program", "").endswith("hello-asm"))
        screen = app.screen
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.state == "finished")


@aio
async def test_compare_runs_two_programs_and_counts_their_crossings():
    left = LiveSession(os.path.join(EXAMPLES, "hello"), [], root=EXAMPLES, count_instructions=True)
    right = LiveSession(os.path.join(EXAMPLES, "hello-asm"), [], root=EXAMPLES, count_instructions=True)
    app = NtsimApp(compare=(left, right))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        await until(pilot, lambda: left.state == "finished" and right.state == "finished"
                    and all(screen.snapshots))
        await pilot.pause(0.3)
        screen.update_numbers()
        from textual.widgets import DataTable
        table = screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i)[1:] for i in range(table.row_count)}
        assert int(rows["crossings: total"][0]) > int(rows["crossings: total"][1]) > 0
        c_library, assembly = (int(v.replace(",", "")) for v in rows["guest instructions"])
        assert c_library > assembly > 0                      # musl's start-up is the difference
        assert rows["instructions before the first guest call"][1] != "…"


@aio
async def test_lesson_opens_its_text_and_measures():
    lesson = find_lesson("01")
    assert lesson is not None
    app = NtsimApp(lesson=lesson, root=EXAMPLES)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LessonScreen))
        screen = app.screen
        await until(pilot, lambda: "crossings at nt" in str(screen.query_one("#measured").render()),
                    timeout=30)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))


@aio
async def test_k_sends_the_consoles_ctrl_c_to_the_guest():
    app = app_for("ctrlc")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused")
        await pilot.press("f5")
        await until(pilot, lambda: "ready" in screen.session.console_text())
        await pilot.press("k")                       # caught: the handler runs
        await until(pilot, lambda: screen.session.console_text().count("\n") >= 2)
        await pilot.press("k")                       # fatal while computing: 128 + SIGINT
        await until(pilot, lambda: screen.session.state == "finished")
        assert screen.session.controller.machine.exit_status == 130


@aio
async def test_b_watch_sets_a_watchpoint_on_a_page():
    from .test_controller import counter_address
    app = app_for("counter", "1000")
    async with app.run_test(size=SIZE) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.session.state == "paused" and screen.snapshot is not None)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*f"0x{counter_address(loop=True):x}", "enter")   # first, into the loop
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.2)
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.stop is not None
                    and screen.session.stop.reason == "breakpoint")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*f"watch 0x{counter_address():x}", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.2)
        await pilot.press("f5")
        await until(pilot, lambda: screen.session.stop is not None
                    and screen.session.stop.reason == "watchpoint")
        assert f"{counter_address():#x}" in str(screen.query_one("#status").render())
