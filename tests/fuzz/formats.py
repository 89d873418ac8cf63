"""The image formats the loader fuzzer mutates: one row per format.

A row names the real example images to start from, the loader entries a mutated image
goes through (each either loads it or refuses it with `ImageError`), the header fields
worth setting to extremes and the table pointers worth pointing anywhere. A personality
that lands a loader (PE, NE, MZ, COM) adds its row here and the same tests fuzz it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINUX_EXAMPLES = REPO / "examples" / "linux"

Field = tuple[int, int]            # (offset, size in bytes), little-endian


@dataclass(frozen=True)
class ImageFormat:
    name: str
    examples: tuple[Path, ...]
    # (machine, host path of the image) -> None; raises ImageError to refuse it
    loaders: tuple[tuple[str, Callable], ...]
    fields: Callable[[bytes], list[Field]] = lambda data: []
    tables: Callable[[bytes], list[Field]] = lambda data: []     # offsets of tables
    extremes: tuple[int, ...] = field(default=(0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF,
                                               0xFFFF_FFFF, 1 << 40, 1 << 63, (1 << 64) - 1))


# --- ELF (LXSS) ------------------------------------------------------------------------------

def _u(data: bytes, offset: int, size: int) -> int:
    return int.from_bytes(data[offset:offset + size], "little") if len(data) >= offset + size else 0


def elf_fields(data: bytes) -> list[Field]:
    fields = [(4, 1), (5, 1), (16, 2), (18, 2), (24, 8), (32, 8), (54, 2), (56, 2)]
    phoff, phentsize, phnum = _u(data, 32, 8), _u(data, 54, 2), _u(data, 56, 2)
    for index in range(min(phnum, 16)):
        entry = phoff + index * max(phentsize, 1)
        for offset, size in ((0, 4), (4, 4), (8, 8), (16, 8), (32, 8), (40, 8)):
            if entry + offset + size <= len(data):
                fields.append((entry + offset, size))
    return fields


def elf_tables(data: bytes) -> list[Field]:
    return [(32, 8)]                       # e_phoff: the program-header table, anywhere


def load_and_end(machine, path: str) -> None:
    """The loader as `ntsim run` reaches it (Machine.load: probe, validate, map, build
    the stack), without running; the process is ended and its processor recycled."""
    process = machine.load(path, [], env={})
    machine.kernel.terminate_process(process, 0)
    machine.kernel.recycle_processor(process)


def describe(machine, path: str) -> None:
    """What `ntsim info` does with the image (pyelftools for ELF)."""
    from ntsim.machine import read_image
    from ntsim.subsystems import base
    from ntsim.subsystems.base import ImageError

    data = read_image(path, executable=False)
    personality = base.probe(data[:4096])
    if personality is None:
        raise ImageError("not an image any personality runs")
    personality.describe(data)


ELF = ImageFormat(
    "elf",
    tuple(LINUX_EXAMPLES / name for name in ("hello", "hello-pie", "hello-asm", "hello-glibc",
                                              "hello-dynamic", "exitcode")),
    (("load", load_and_end), ("info", describe)),
    elf_fields, elf_tables)

FORMATS: dict[str, ImageFormat] = {fmt.name: fmt for fmt in (ELF,)}


def examples_per_format() -> int:
    """200 cases per format in `make test`; `make fuzz` sets NTSIM_FUZZ_EXAMPLES=10000."""
    return int(os.environ.get("NTSIM_FUZZ_EXAMPLES", "200"))
