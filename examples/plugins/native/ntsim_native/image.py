"""The NTNATIVE image format: the smallest executable a native program can be.

A real native program (smss.exe, autochk.exe) is a PE image whose optional header says
`Subsystem = IMAGE_SUBSYSTEM_NATIVE` (1). This plug-in keeps only what a loader needs:

    offset  size  field
    0x00    8     Magic       b"NTNATIVE"
    0x08    8     EntryPoint  little-endian u64: the entry's offset from the image base
    0x10    ...   code and data, flat (`nasm -f bin`)

The whole file, header included, is mapped at IMAGE_BASE, as a PE's headers are mapped
at its ImageBase, so a file offset is also the address's offset from the base (an RVA)
and the code is assembled with `org IMAGE_BASE`. There are no sections, relocations or
imports: the image is one committed region, readable, writable and executable, and a
program reaches the kernel only with the `syscall` instruction.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ntsim.subsystems.base import ImageError

MAGIC = b"NTNATIVE"
HEADER_SIZE = 16
IMAGE_BASE = 0x1_4000_0000          # the default ImageBase of an x64 PE executable
MAXIMUM_IMAGE_SIZE = 16 << 20       # a sample format: refuse anything unreasonable


@dataclass(frozen=True)
class NativeImage:
    data: bytes
    entry_offset: int

    @property
    def entry(self) -> int:
        return IMAGE_BASE + self.entry_offset


def parse(data: bytes) -> NativeImage:
    """Check the header; raise ImageError (a one-line reason) if this is not an image."""
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        raise ImageError("not an NTNATIVE image (no NTNATIVE header)")
    if len(data) > MAXIMUM_IMAGE_SIZE:
        raise ImageError(f"image of {len(data)} bytes is larger than {MAXIMUM_IMAGE_SIZE} bytes")
    (entry_offset,) = struct.unpack_from("<Q", data, 8)
    if not HEADER_SIZE <= entry_offset < len(data):
        raise ImageError(f"entry point offset {entry_offset:#x} is outside the image "
                         f"(code is {HEADER_SIZE:#x}..{len(data):#x})")
    return NativeImage(bytes(data), entry_offset)
