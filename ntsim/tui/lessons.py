"""Lessons: short Markdown files in docs/lessons/ (and the numbered ones in docs/), each
runnable with `ntsim tui --lesson NAME`.

A lesson says what to run in an HTML comment at its top, which Markdown readers hide:

    <!-- ntsim-lesson
    title: Subsystem versus VM
    compare: examples/linux/hello ;; examples/dos/hello.com
    measure: examples/linux/hello ;; examples/dos/hello.com
    -->

`run:` opens one program on the run screen, `compare:` two side by side; `measure:` the
programs whose counters the lesson screen shows (each run to the end, in this process,
with ntsim's own counters: crossings per layer, LPC messages, instructions, memory).
A program the lesson needs but this checkout does not have yet (a personality being
built) is named, with the reason, instead of failing.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LESSON_DIRS = (os.path.join(ROOT, "docs", "lessons"), os.path.join(ROOT, "docs"))
_HEADER = re.compile(r"<!--\s*ntsim-lesson\s*\n(.*?)-->", re.S)


@dataclass
class Lesson:
    name: str
    path: str
    title: str
    text: str
    run: list[str] = field(default_factory=list)
    compare: list[list[str]] = field(default_factory=list)
    measure: list[list[str]] = field(default_factory=list)
    root: str = "."
    note: str = ""

    def missing(self, programs: list[list[str]]) -> list[str]:
        return [p[0] for p in programs if not os.path.exists(_path(p[0]))]

    def sessions(self, root: str):
        """The runs to open (LiveSessions), or a sentence saying why they cannot be."""
        from .bridge import LiveSession

        wanted = self.compare or ([self.run] if self.run else [])
        if not wanted:
            return "this lesson has nothing to run: read it, and try the commands it shows"
        missing = self.missing(wanted)
        if missing:
            return (f"{', '.join(missing)} is not in this checkout (rebuild it with "
                    "`make examples`): this part of the lesson cannot run")
        lesson_root = _path(self.root) if self.root else root
        return [LiveSession(_path(p[0]), p[1:], root=lesson_root, count_instructions=True)
                for p in wanted]

    def measure_text(self) -> str:
        """Each measured program run to its end with ntsim's counters; as text."""
        lines = []
        for program in self.measure:
            lines.append(f"$ {shlex.join(program)}")
            if not os.path.exists(_path(program[0])):
                lines.append(f"  {program[0]} is not here (rebuild it with `make examples`)")
                lines.append("")
                continue
            try:
                figures = measure(program, self.root or ".")
            except Exception as error:          # noqa: BLE001 - shown, never a traceback
                lines.append(f"  could not run: {type(error).__name__}: {error}")
                lines.append("")
                continue
            for label, value in figures:
                lines.append(f"  {label:<34} {value}")
            lines.append("")
        return "\n".join(lines) or "(nothing to measure)"


def _path(program: str) -> str:
    return program if os.path.isabs(program) else os.path.join(ROOT, program)


def measure(program: list[str], root: str = ".") -> list[tuple[str, str]]:
    """Run a program to its end in a machine of its own and read ntsim's counters."""
    import time

    from ..machine import Machine
    from ..subsystems.windows.csrss import CapturedConsole
    from ..trace import LAYERS, StatsSink

    machine = Machine(_path(root),
                      console=CapturedConsole(), count_instructions=True, deterministic=True)
    stats = machine.add_sink(StatsSink())
    process = machine.load(_path(program[0]), program[1:])
    started = time.perf_counter()
    machine.run()
    wall = time.perf_counter() - started
    per_layer = stats.per_layer()
    guests = machine.kernel.guest_processes()
    out = [(f"crossings at {layer}", str(per_layer[layer])) for layer in LAYERS if layer in per_layer]
    lpc = sum(count for (layer, name), count in stats.calls.items()
              if layer == "lpc" and name in ("NtRequestWaitReplyPort", "NtRequestPort"))
    out.append(("LPC messages (requests)", str(lpc)))
    out.append(("guest instructions", f"{machine.kernel.instructions_executed():,}"))
    out.append(("processes", str(len(guests))))
    out.append(("committed at exit, all guests", _mib(sum(p.committed_bytes for p in guests))))
    out.append(("touched, all guests", _mib(sum(p.touched_bytes for p in guests))))
    out.append(("exit status", str(process.exit_status)))
    out.append(("wall time", f"{wall * 1000:.0f} ms"))
    return out


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.2f} MiB"


def _parse(name: str, path: str) -> Lesson:
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), name)
    lesson = Lesson(name, path, title, text)
    header = _HEADER.search(text)
    if header:
        for line in header.group(1).splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "title":
                lesson.title = value
            elif key == "run":
                lesson.run = shlex.split(value)
            elif key == "compare":
                lesson.compare = [shlex.split(part) for part in value.split(";;")]
            elif key == "measure":
                lesson.measure = [shlex.split(part) for part in value.split(";;")]
            elif key == "root":
                lesson.root = value
            elif key == "note":
                lesson.note = value
    return lesson


def all_lessons() -> list[Lesson]:
    found = []
    for directory in LESSON_DIRS:
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if entry.endswith(".md") and entry.lower() != "readme.md":
                found.append(_parse(entry[:-3], os.path.join(directory, entry)))
    return found


def lesson_names() -> list[str]:
    return [lesson.name for lesson in all_lessons()]


def find_lesson(name: str) -> Lesson | None:
    """By file name (without .md), or by a unique part of it ("fork", "01")."""
    lessons = all_lessons()
    exact = [lesson for lesson in lessons if lesson.name == name]
    if exact:
        return exact[0]
    partial = [lesson for lesson in lessons if name.lower() in lesson.name.lower()]
    return partial[0] if len(partial) == 1 else None
