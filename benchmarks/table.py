"""The one way every benchmark prints its rows: name, what was measured, and the ratio
that is the point (timings depend on the machine; ratios measured in one run do not)."""

from __future__ import annotations


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(title), *(len(row[0]) for row in rows))
    print(f"{title:<{width}}  {'measured':>10}  ratio")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>10}  {ratio}")
