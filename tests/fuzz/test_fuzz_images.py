"""Loader fuzzing: mutated real images, through every loader entry of every format.

Each case starts from a real example and bends it the ways a broken or hostile file
is bent: bits flipped, cut short, a header field set to an extreme, a table pointer
aimed anywhere. Every case must end in one of two ways — the image loads, or the loader
refuses it with an ImageError whose message is one line (what `ntsim run` prints before
exit status 126) — and never in another exception, a hang, or unbounded memory.
"""

from __future__ import annotations

import os
import resource
import signal
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntsim.machine import Machine
from ntsim.subsystems.base import ImageError

from .conftest import count
from .formats import FORMATS, ImageFormat, examples_per_format

CASE_SECONDS = 10                # a case that takes longer is a hang
MEMORY_GROWTH_KIB = 600 * 1024   # the fuzzing process may grow this much, no more


@st.composite
def mutated(draw, fmt: ImageFormat) -> tuple[str, bytes]:
    example = draw(st.sampled_from(fmt.examples))
    data = bytearray(example.read_bytes())
    fields, tables = fmt.fields(bytes(data)), fmt.tables(bytes(data))
    kinds = ["flip", "truncate", "splice"] + (["field"] if fields else []) + (["table"] if tables else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 16))):
            where = draw(st.integers(0, min(len(data), 8192) - 1)) if draw(st.booleans()) \
                else draw(st.integers(0, len(data) - 1))
            data[where] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif kind == "splice":
        where = draw(st.integers(0, len(data) - 1))
        data[where:where + 8] = draw(st.binary(min_size=1, max_size=8))
    else:
        for _ in range(draw(st.integers(1, 3))):
            offset, size = draw(st.sampled_from(fields if kind == "field" else tables))
            top = (1 << (8 * size)) - 1
            if kind == "table":
                value = draw(st.integers(0, len(data) + 8192) | st.sampled_from(fmt.extremes))
            else:
                value = draw(st.sampled_from(fmt.extremes) | st.integers(0, top))
            data[offset:offset + size] = (value & top).to_bytes(size, "little")
    return f"{example.name}:{kind}", Image(data)


class Image(bytes):
    """A mutated image; hypothesis shows its size, not its 50 kB of bytes."""

    def __repr__(self) -> str:
        return f"<image of {len(self)} bytes>"


class _Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Hang(f"a case took more than {CASE_SECONDS} s")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-root")


@pytest.mark.parametrize("fmt_name, loader_name",
                         [(f.name, name) for f in FORMATS.values() for name, _ in f.loaders])
def test_mutated_images_load_or_are_refused_in_one_line(fmt_name: str, loader_name: str,
                                                         workspace: Path) -> None:
    fmt = FORMATS[fmt_name]
    loader = dict(fmt.loaders)[loader_name]
    path = workspace / f"image-{fmt_name}{fmt.suffix}"
    state = {"machine": None, "cases": 0}
    start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    previous = signal.signal(signal.SIGALRM, _alarm)

    @settings(max_examples=examples_per_format(), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated(fmt))
    def case(labelled: tuple[str, bytes]) -> None:
        label, data = labelled
        path.write_bytes(data)
        os.chmod(path, stat.S_IRWXU)
        if state["machine"] is None or state["cases"] % 200 == 0:
            state["machine"] = Machine(str(workspace))      # a fresh machine now and then
        state["cases"] += 1
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            loader(state["machine"], str(path))
            outcome = "loaded"
        except ImageError as error:
            message = str(error)
            assert message and "\n" not in message, f"{label}: a refusal must be one line: {message!r}"
            outcome = "refused (126)"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        count(f"{fmt_name} {loader_name}", outcome)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_kib
        assert grown < MEMORY_GROWTH_KIB, f"{label}: the fuzzing process grew by {grown} KiB"

    try:
        case()
    finally:
        signal.signal(signal.SIGALRM, previous)
