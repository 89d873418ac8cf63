"""Snapshot tests (pytest-textual-snapshot): each screen at a fixed size and theme, fed a
recorded session (tests/tui/recordings, made by make_recordings.py), never a live machine.

Update after a deliberate change of the UI: `pytest tests/tui/test_snapshots.py
--snapshot-update`, then look at the report."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("pytest_textual_snapshot")

from ntsim.tui.app import NtsimApp  # noqa: E402
from ntsim.tui.bridge import load_recording  # noqa: E402
from ntsim.tui.lessons import find_lesson  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WIDE, NARROW = (120, 40), (80, 24)


def recorded(name: str):
    return load_recording(os.path.join(HERE, "recordings", f"{name}.json"))


def run_app(name: str) -> NtsimApp:
    return NtsimApp(run=recorded(name))


async def settle(pilot) -> None:
    """Until the recorded snapshot and disassembly are drawn, then until nothing moves."""
    from ntsim.tui.app import CompareScreen, RunScreen

    screen = pilot.app.screen
    for _ in range(100):
        if isinstance(screen, CompareScreen):
            if all(screen.snapshots):
                break
        elif not isinstance(screen, RunScreen) or screen.snapshot is not None and (
                screen.snapshot.state == "finished"          # (nothing to disassemble)
                or str(screen.query_one("#disasm").render()).strip()):
            break
        await pilot.pause(0.02)
    for _ in range(5):
        await pilot.pause(0.02)


def test_run_screen_just_loaded(snap_compare):
    """hello loaded and paused before its first instruction: the process tree (System,
    smss, csrss, hello → csrss.exe), the boot's crossings in the lanes, the disassembly at
    the entry point with `>` on `xor rbp, rbp`, and the registers."""
    assert snap_compare(run_app("hello-loaded"), terminal_size=WIDE, run_before=settle)


def test_run_screen_after_three_steps(snap_compare):
    """Three instructions later: the `>` marker and RIP moved; changed registers in red."""
    assert snap_compare(run_app("hello-stepped"), terminal_size=WIDE, run_before=settle)


def test_run_screen_stopped_inside_a_server_crossing(snap_compare):
    """Stopped by F8 at the server layer: the status line names the crossing, its row is
    highlighted in the sequence view, below the LPC message that carried it."""
    assert snap_compare(run_app("hello-server"), terminal_size=WIDE, run_before=settle)


def test_run_screen_finished(snap_compare):
    """hello finished: every crossing of its write down to HostConsoleWrite; hello dimmed
    as exited in the process tree; the trace log tab."""
    assert snap_compare(run_app("hello-finished"), terminal_size=WIDE, run_before=settle)


def test_run_screen_console_tab(snap_compare):
    """The Console tab: the guest's own output."""
    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#tabs").active = "tab-console"
        await settle(pilot)
    assert snap_compare(run_app("hello-finished"), terminal_size=WIDE, run_before=before)


def test_run_screen_ports_tab(snap_compare):
    """The Ports tab: SMSS's and CSRSS's ports, their clients and messages in flight."""
    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#tabs").active = "tab-ports"
        await settle(pilot)
    assert snap_compare(run_app("hello-server"), terminal_size=WIDE, run_before=before)


def test_run_screen_calls_tab(snap_compare):
    """The Calls tab: LXSS's call table, each call's support level."""
    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#tabs").active = "tab-calls"
        await settle(pilot)
    assert snap_compare(run_app("hello-loaded"), terminal_size=WIDE, run_before=before)


def test_run_screen_console_screen_buffer_tab(snap_compare):
    """The Screen tab: the console's screen buffer cell by cell, in its colours (a VDM's
    80x25 text screen shows here)."""
    async def before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#tabs").active = "tab-screen"
        await settle(pilot)
    assert snap_compare(run_app("hello-finished"), terminal_size=WIDE, run_before=before)


def test_run_screen_narrow_terminal(snap_compare):
    """80x24: the registers pane gives way; the lanes narrow to short titles."""
    assert snap_compare(run_app("hello-server"), terminal_size=NARROW, run_before=settle)


def test_process_tree_of_a_family(snap_compare):
    """family: a fork, an execve, a vfork and threads — five processes, all exited
    (dimmed), each under its parent."""
    assert snap_compare(run_app("family-finished"), terminal_size=WIDE, run_before=settle)


def test_help_screen(snap_compare):
    """F1: the keys, the lanes explained."""
    async def before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
    assert snap_compare(run_app("hello-loaded"), terminal_size=WIDE, run_before=before)


def test_details_of_a_crossing(snap_compare):
    """Enter on a row: the crossing's layer, pid, arguments and result."""
    async def before(pilot):
        await settle(pilot)
        seq = pilot.app.screen.query_one("SeqView")
        seq.move_to(next(i for i, r in enumerate(seq.rows) if r.name == "NtWriteFile"))
        await pilot.press("enter")
        await settle(pilot)
    assert snap_compare(run_app("hello-finished"), terminal_size=WIDE, run_before=before)


def test_compare_screen(snap_compare):
    """hello (musl C) against hello-asm (20 lines of assembly): two sequence views, the
    table of crossings per layer, LPC messages, instructions, memory."""
    app = NtsimApp(compare=(recorded("hello-finished"), recorded("hello-asm-finished")))
    assert snap_compare(app, terminal_size=WIDE, run_before=settle)


def test_lesson_screen(snap_compare, monkeypatch):
    """--lesson user-gdi-into-win32k: the lesson's Markdown beside its measured numbers
    (a fixed text here: the measuring itself is tested with a live machine)."""
    lesson = find_lesson("user-gdi-into-win32k")
    monkeypatch.setattr(lesson, "measure_text", lambda: "$ examples/linux/writes 2000\n"
                        "  LPC messages (requests)            2000\n")
    app = NtsimApp(lesson=lesson)

    async def before(pilot):
        for _ in range(10):
            await pilot.pause(0.05)
    assert snap_compare(app, terminal_size=WIDE, run_before=before)
