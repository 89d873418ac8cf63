"""The fuzzers' counts, printed at the end of a run (what `make fuzz` reports)."""

from __future__ import annotations

import resource
from collections import Counter

COUNTS: dict[str, Counter] = {}


def count(fmt: str, outcome: str) -> None:
    COUNTS.setdefault(fmt, Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    if not COUNTS:
        return
    write = terminalreporter.write_line
    write("")
    write("fuzzing: cases per format and how each ended")
    for fmt, counts in sorted(COUNTS.items()):
        total = sum(counts.values())
        write(f"    {fmt:<16} {total:>6} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    write(f"    host memory peak of the fuzzing process: {peak / 1024:.0f} MiB")
