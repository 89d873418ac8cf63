"""POSIX_CUI images: what the loader checks, relocation, and binding to PSXDLL.DLL."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ntsim.subsystems.base import ImageError
from ntsim.subsystems.posix import pe, psxdll

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "posix"
HELLO = (EXAMPLES / "hello").read_bytes()
LFANEW = struct.unpack_from("<I", HELLO, 0x3C)[0]


def patched(offset: int, fmt: str, value: int) -> bytes:
    image = bytearray(HELLO)
    struct.pack_into(fmt, image, offset, value)
    return bytes(image)


def test_the_subsystem_field_is_read_from_the_optional_header():
    assert pe.pe_subsystem(HELLO) == 7
    assert pe.pe_subsystem(patched(LFANEW + 24 + 68, "<H", 2)) == 2
    assert pe.pe_subsystem(b"MZ" + bytes(100)) is None          # no PE signature
    assert pe.pe_subsystem(b"\x7fELF" + bytes(100)) is None


@pytest.mark.parametrize("offset, fmt, value, message", [
    (LFANEW + 24 + 68, "<H", 3, r"subsystem 3 \(Windows CUI\)"),
    (LFANEW + 4, "<H", 0x8664, "not i386"),
    (LFANEW + 24, "<H", 0x20B, "not PE32"),
    (LFANEW + 24 + 56, "<I", 0x7000_0000, "SizeOfImage"),
    (LFANEW + 24 + 16, "<I", 0x2000, "not in an executable section"),   # entry in .rdata
])
def test_a_bad_header_is_refused_saying_why(offset, fmt, value, message):
    with pytest.raises(ImageError, match=message):
        pe.parse(patched(offset, fmt, value))


def test_a_truncated_image_is_refused():
    with pytest.raises(ImageError, match="corrupt|truncated|past the end"):
        pe.parse(HELLO[:len(HELLO) - 600])


def test_relocation_adds_the_delta_at_every_fixup():
    image = pe.parse(HELLO)
    at_base, moved = image.mapped(image.image_base), image.mapped(0x10000)
    delta = (0x10000 - image.image_base) & 0xFFFF_FFFF
    image.pe.parse_data_directories()
    fixups = [entry.rva for block in image.pe.DIRECTORY_ENTRY_BASERELOC for entry in block.entries
              if entry.type == 3]                                 # IMAGE_REL_BASED_HIGHLOW
    assert fixups
    for rva in fixups:
        old, new = (struct.unpack_from("<I", data, rva)[0] for data in (at_base, moved))
        assert (new - old) & 0xFFFF_FFFF == delta
    changed = {i & ~3 for i in range(len(at_base)) if at_base[i] != moved[i]}
    assert changed <= {rva & ~3 for rva in fixups} | {(rva & ~3) + 4 for rva in fixups}


def test_imports_bind_to_psxdll_stubs_or_name_what_is_missing():
    image = pe.parse(HELLO)
    bound = dict(pe.bind_imports(image, psxdll.EXPORTS, psxdll.ORDINALS, psxdll.MODULE))
    assert psxdll.EXPORTS["write"] in bound.values()
    sockets = pe.parse((EXAMPLES / "sockets").read_bytes())
    with pytest.raises(ImageError, match="socket is not exported by PSXDLL.DLL"):
        pe.bind_imports(sockets, psxdll.EXPORTS, psxdll.ORDINALS, psxdll.MODULE)
    with pytest.raises(ImageError, match="from PSXDLL.DLL: a POSIX program may import only from KERNEL32.DLL"):
        pe.bind_imports(image, psxdll.EXPORTS, psxdll.ORDINALS, "KERNEL32.DLL")
