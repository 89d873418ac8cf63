"""DOS program images: COM files and MZ executables, checked before anything is loaded.

A COM file is a memory image: DOS copies it to PSP:0100 and jumps there, so it can be at
most 64 KiB less the PSP's 256 bytes: 65,280 bytes (the stack then starts in its last
word, as on DOS). An MZ executable
starts with a header (its fields as DOS 2+ read them, below) that says how big the load
module is, how much memory it needs beyond it (minalloc/maxalloc paragraphs), where its
stack and entry point are (segments relative to the load segment), and which words of
the module hold segment numbers to fix up when the load segment is known (relocations).

Everything the header says is checked against the file before use: a truncated file, a
relocation table outside the header, or a relocation pointing outside the load module
is refused with a one-line ImageError (exit status 126), never a Python exception.

An MZ file whose e_lfanew points at an 'NE', 'PE', 'LE' or 'LX' signature is a newer
format with an MZ stub in front: OS2SS (NE) and PSXSS/Win32 (PE) run those, not the VDM.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..subsystems.base import ImageError

MZ_SIGNATURES = (b"MZ", b"ZM")           # DOS accepts both byte orders
NEW_EXECUTABLE_SIGNATURES = (b"NE", b"PE", b"LE", b"LX")
COM_LIMIT = 0x10000 - 0x100              # 65,280 bytes: 64 KiB less the PSP
HEADER = struct.Struct("<2s13H")         # e_magic .. e_ovno (28 bytes)
PARAGRAPH = 16


@dataclass(frozen=True)
class MzHeader:
    """The MZ header, by the names DOS programmers know (e_*)."""

    e_cblp: int          # bytes in the last 512-byte page (0: all 512)
    e_cp: int            # 512-byte pages in the file, the last perhaps partial
    e_crlc: int          # relocations
    e_cparhdr: int       # header size in paragraphs
    e_minalloc: int      # paragraphs needed beyond the load module
    e_maxalloc: int      # paragraphs wanted beyond it (FFFFh: all there is)
    e_ss: int            # stack segment, relative to the load segment
    e_sp: int
    e_csum: int
    e_ip: int
    e_cs: int            # code segment, relative to the load segment
    e_lfarlc: int        # file offset of the relocation table
    e_ovno: int          # overlay number (0: the main program)


@dataclass(frozen=True)
class DosImage:
    """A checked program: what the loader copies and how it fixes it up."""

    kind: str                        # "COM" or "MZ"
    module: bytes                    # the load module (for a COM file, the whole file)
    header: MzHeader | None = None
    relocations: tuple[tuple[int, int], ...] = ()   # (segment, offset) in the module

    @property
    def module_paragraphs(self) -> int:
        return (len(self.module) + PARAGRAPH - 1) // PARAGRAPH

    def paragraphs_needed(self) -> tuple[int, int]:
        """(minimum, wanted) paragraphs of memory for the program, its PSP included."""
        if self.header is None:
            # a COM program needs its file, the PSP and a stack word; DOS gives it all
            # the memory there is (the largest free block)
            return (0x100 + len(self.module) + 2 + PARAGRAPH - 1) // PARAGRAPH, 0xFFFF
        base = 0x10 + self.module_paragraphs
        wanted = 0xFFFF if self.header.e_maxalloc == 0xFFFF else base + self.header.e_maxalloc
        return base + self.header.e_minalloc, min(wanted, 0xFFFF)


def is_mz(data: bytes) -> bool:
    return data[:2] in MZ_SIGNATURES


def new_executable_signature(data: bytes) -> bytes | None:
    """The NE/PE/LE/LX signature an MZ stub's e_lfanew (offset 3Ch) points at, if any."""
    if len(data) < 0x40:
        return None
    lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    signature = data[lfanew:lfanew + 2] if 0x40 <= lfanew <= len(data) - 2 else b""
    return signature if signature in NEW_EXECUTABLE_SIGNATURES else None


def parse(data: bytes, is_com: bool) -> DosImage:
    """Check an image and return what the loader needs; ImageError says what is wrong."""
    if not is_mz(data):
        if not is_com:
            raise ImageError("not a DOS program (no MZ signature and not named .COM)")
        if len(data) > COM_LIMIT:
            raise ImageError(f"COM file of {len(data):,} bytes is larger than the "
                             f"{COM_LIMIT:,} bytes a 64 KiB segment holds after the PSP")
        return DosImage("COM", bytes(data))
    if len(data) < HEADER.size:
        raise ImageError(f"truncated MZ header ({len(data)} of {HEADER.size} bytes)")
    header = MzHeader(*HEADER.unpack_from(data)[1:])
    signature = new_executable_signature(data)
    if signature is not None:
        raise ImageError(f"an MZ stub in front of a {signature.decode()} executable: "
                         f"not a DOS program")
    file_size = header.e_cp * 512 - (512 - header.e_cblp if header.e_cblp else 0)
    if header.e_cp == 0 or header.e_cblp > 511:
        raise ImageError(f"bad MZ header: {header.e_cp} pages, {header.e_cblp} bytes in the last")
    header_size = header.e_cparhdr * PARAGRAPH
    if header_size < HEADER.size:
        raise ImageError(f"bad MZ header: header size {header_size} bytes is smaller than the header")
    if file_size > len(data):
        raise ImageError(f"truncated MZ executable: the header says {file_size:,} bytes, "
                         f"the file has {len(data):,}")
    if header_size > file_size:
        raise ImageError(f"bad MZ header: header of {header_size:,} bytes in a "
                         f"{file_size:,}-byte image")
    table_end = header.e_lfarlc + 4 * header.e_crlc
    if header.e_crlc and (header.e_lfarlc < HEADER.size or table_end > header_size):
        raise ImageError(f"relocation table at {header.e_lfarlc:#x} ({header.e_crlc} entries) "
                         f"lies outside the {header_size}-byte header")
    module = bytes(data[header_size:file_size])
    relocations = []
    for index in range(header.e_crlc):
        offset, segment = struct.unpack_from("<HH", data, header.e_lfarlc + 4 * index)
        where = segment * PARAGRAPH + offset
        if where + 2 > len(module):
            raise ImageError(f"relocation {index} at {segment:04X}:{offset:04X} points outside "
                             f"the {len(module):,}-byte load module")
        relocations.append((segment, offset))
    return DosImage("MZ", module, header, tuple(relocations))


def describe(image: DosImage) -> dict[str, object]:
    """What `ntsim info` shows of an image."""
    minimum, wanted = image.paragraphs_needed()
    if image.header is None:
        return {"load": "PSP:0100 (the whole file)", "size": f"{len(image.module):,} bytes",
                "stack": "PSP:FFFE", "memory": f"{minimum * PARAGRAPH:,} bytes at least "
                                              f"(PSP included); all free memory is given"}
    h = image.header
    return {
        "header": f"{h.e_cparhdr * PARAGRAPH} bytes ({h.e_cparhdr} paragraphs)",
        "load module": f"{len(image.module):,} bytes",
        "relocations": f"{h.e_crlc} (table at {h.e_lfarlc:#x})"
                       + "".join(f"\n              {s:04X}:{o:04X}" for s, o in image.relocations[:8])
                       + ("\n              ..." if len(image.relocations) > 8 else ""),
        "entry CS:IP": f"{h.e_cs:04X}:{h.e_ip:04X} (relative to the load segment)",
        "stack SS:SP": f"{h.e_ss:04X}:{h.e_sp:04X}",
        "minalloc": f"{h.e_minalloc:#06x} paragraphs",
        "maxalloc": f"{h.e_maxalloc:#06x} paragraphs",
        "memory": f"{minimum * PARAGRAPH:,} bytes at least (PSP included), "
                  f"{'all free memory' if wanted == 0xFFFF else f'{wanted * PARAGRAPH:,} bytes'} wanted",
        "overlay": str(h.e_ovno),
    }
