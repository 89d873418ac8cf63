"""Ask the C compiler what Linux's headers say: compile a small program that prints
`name value` lines (offsets, sizes) and read them back. The tests' oracle for
structure layouts, so no offset is copied from the code under test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def measure(program: str, directory: Path) -> dict[str, int]:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to read the kernel headers with")
    source, binary = directory / "layout.c", directory / "layout"
    source.write_text(program)
    built = subprocess.run([compiler, "-o", str(binary), str(source)], capture_output=True,
                           check=False)
    if built.returncode != 0:
        pytest.skip(f"the C library or kernel headers are not installed: {built.stderr[:200]!r}")
    output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return {name: int(value) for name, value in (line.split() for line in output.splitlines())}
