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
    suffix: str = ""               # the name a mutated image is written under ends so (.com)


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
    personality = base.probe(data[:4096], path)
    if personality is None:
        raise ImageError("not an image any personality runs")
    personality.describe(data)


ELF = ImageFormat(
    "elf",
    tuple(LINUX_EXAMPLES / name for name in ("hello", "hello-pie", "hello-asm", "hello-glibc",
                                              "hello-dynamic", "exitcode")),
    (("load", load_and_end), ("info", describe)),
    elf_fields, elf_tables)

# --- MZ, PE, NE (NTVDM, PSXSS, OS2SS) and COM -------------------------------------------------

def _lfanew(data: bytes) -> int:
    return _u(data, 0x3C, 4)


def mz_fields(data: bytes) -> list[Field]:
    # e_cblp, e_cp, e_crlc, e_cparhdr, e_minalloc, e_maxalloc, ss, sp, ip, cs, e_lfarlc
    return [(offset, 2) for offset in (2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24)]


def pe_fields(data: bytes) -> list[Field]:
    header = _lfanew(data)
    optional = header + 24
    fields = [(0x3C, 4)] + [(header + offset, size) for offset, size in
                            ((4, 2), (6, 2), (20, 2), (22, 2))]
    fields += [(optional + offset, size) for offset, size in
               ((16, 4), (28, 4), (32, 4), (36, 4), (56, 4), (60, 4), (68, 2), (92, 4),
                (96 + 8, 4), (96 + 12, 4), (96 + 40, 4), (96 + 44, 4))]
    sections = optional + _u(data, header + 20, 2)
    for index in range(min(_u(data, header + 6, 2), 16)):
        entry = sections + 40 * index
        fields += [(entry + offset, 4) for offset in (8, 12, 16, 20, 24)]
    return [(offset, size) for offset, size in fields if offset + size <= len(data)]


def pe_tables(data: bytes) -> list[Field]:
    optional = _lfanew(data) + 24
    return [(offset, size) for offset, size in ((0x3C, 4), (optional + 96 + 8, 4), (optional + 96 + 40, 4))
            if offset + size <= len(data)]


NE_TABLES = (0x04, 0x22, 0x24, 0x26, 0x28, 0x2A)   # entry, segment, resource, names, module refs


def ne_fields(data: bytes) -> list[Field]:
    header = _lfanew(data)
    fields = [(0x3C, 4)] + [(header + offset, 2) for offset in
                            (0x06, 0x0C, 0x0E, 0x10, 0x12, 0x14, 0x16, 0x18, 0x1A, 0x1C, 0x1E, 0x32)]
    segments = header + _u(data, header + 0x22, 2)
    for index in range(min(_u(data, header + 0x1C, 2), 16)):
        fields += [(segments + 8 * index + offset, 2) for offset in (0, 2, 4, 6)]
    return [(offset, size) for offset, size in fields if offset + size <= len(data)]


def ne_tables(data: bytes) -> list[Field]:
    header = _lfanew(data)
    return [(0x3C, 4)] + [(header + offset, 2) for offset in NE_TABLES
                          if header + offset + 2 <= len(data)]


def _examples(directory: str, *names: str) -> tuple[Path, ...]:
    return tuple(path for path in (REPO / "examples" / directory / name for name in names) if path.exists())


LOADERS = (("load", load_and_end), ("info", describe))
MZ = ImageFormat("mz", _examples("dos", "multiseg.exe"), LOADERS, mz_fields,
                 lambda data: [(24, 2)], extremes=(0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF))
COM = ImageFormat("com", _examples("dos", "hello.com", "copy.com", "parent.com", "screen.com"),
                  LOADERS, suffix=".com")
PE = ImageFormat("pe", _examples("posix", "hello", "cat", "fork", "hello-relocated"), LOADERS,
                 pe_fields, pe_tables)
NE = ImageFormat("ne", _examples("os2", "hello.exe", "apis.exe", "multiseg.exe", "memory.exe"),
                 LOADERS, ne_fields, ne_tables, extremes=(0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF))

FORMATS: dict[str, ImageFormat] = {fmt.name: fmt for fmt in (ELF, MZ, COM, PE, NE) if fmt.examples}


def examples_per_format() -> int:
    """200 cases per format in `make test`; `make fuzz` sets NTSIM_FUZZ_EXAMPLES=10000."""
    return int(os.environ.get("NTSIM_FUZZ_EXAMPLES", "200"))
