"""The README's screenshots of the TUI (Textual's own SVG export), from the recordings.

    PYTHONPATH=. python tests/tui/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from test_snapshots import recorded, settle  # noqa: E402

from ntsim.tui.app import NtsimApp  # noqa: E402
from ntsim.tui.lessons import find_lesson  # noqa: E402

OUT = os.path.join(ROOT, "docs", "images")


async def shoot(app: NtsimApp, name: str, size=(140, 42), before=None) -> None:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if before is not None:
            await before(pilot)
        app.save_screenshot(filename=f"{name}.svg", path=OUT)


async def main() -> None:
    await shoot(NtsimApp(run=recorded("hello-server")), "tui-run")
    await shoot(NtsimApp(compare=(recorded("hello-finished"), recorded("hello-asm-finished"))),
                "tui-compare")
    lesson = find_lesson("user-gdi-into-win32k")
    text = lesson.measure_text()          # measured now, by ntsim's counters
    lesson.measure_text = lambda: text

    async def measured(pilot):
        for _ in range(20):
            await pilot.pause(0.05)
    await shoot(NtsimApp(lesson=lesson), "tui-lesson", before=measured)

    async def help_keys(pilot):
        await pilot.press("f1")
        await settle(pilot)
    await shoot(NtsimApp(run=recorded("hello-loaded")), "tui-help", before=help_keys)


if __name__ == "__main__":
    asyncio.run(main())
    print("written:", sorted(os.listdir(OUT)))
