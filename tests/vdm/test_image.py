"""COM and MZ images (ntsim/vdm/image.py): every header field checked before use."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntsim.subsystems.base import ImageError
from ntsim.vdm import VdmPersonality, image


def mz(body: bytes = b"\xcd\x20", relocations=(), minalloc=0, maxalloc=0xFFFF, lfanew=None) -> bytes:
    header_size = 64
    size = header_size + len(body)
    header = struct.pack("<2s13H", b"MZ", size % 512, (size + 511) // 512, len(relocations),
                         header_size // 16, minalloc, maxalloc, 1, 0x80, 0, 0x10, 0, 0x1C, 0)
    table = b"".join(struct.pack("<HH", o, s) for o, s in relocations)
    data = bytearray((header + table).ljust(header_size, b"\x00") + body)
    if lfanew is not None:
        data[0x3C:0x40] = struct.pack("<I", lfanew)
    return bytes(data)


def test_an_mz_image_is_parsed_with_its_relocations():
    parsed = image.parse(mz(b"\x00" * 32, relocations=[(4, 0), (0x08, 1)], minalloc=0x20), is_com=False)
    assert parsed.kind == "MZ"
    assert len(parsed.module) == 32
    assert parsed.relocations == ((0, 4), (1, 0x08))
    assert parsed.paragraphs_needed() == (0x10 + 2 + 0x20, 0xFFFF)


def test_a_relocation_must_lie_inside_the_load_module():
    with pytest.raises(ImageError, match="points outside"):
        image.parse(mz(b"\x00" * 32, relocations=[(31, 0)]), is_com=False)


def test_the_relocation_table_must_lie_inside_the_header():
    data = bytearray(mz(b"\x00" * 32, relocations=[(0, 0)]))
    data[0x18:0x1A] = struct.pack("<H", 0x3E)           # e_lfarlc: the table runs past 64
    with pytest.raises(ImageError, match="outside the 64-byte header"):
        image.parse(bytes(data), is_com=False)


def test_truncated_images_are_refused():
    with pytest.raises(ImageError, match="truncated MZ header"):
        image.parse(b"MZ\x00", is_com=False)
    with pytest.raises(ImageError, match="truncated MZ executable"):
        image.parse(mz(b"\x00" * 100)[:-10], is_com=False)


def test_com_size_limit():
    assert image.parse(b"\x90" * 65280, is_com=True).kind == "COM"
    with pytest.raises(ImageError, match="65,281 bytes"):
        image.parse(b"\x90" * 65281, is_com=True)


@pytest.mark.parametrize("signature", [b"NE", b"PE", b"LE", b"LX"])
def test_the_probe_leaves_new_executables_to_other_personalities(signature):
    data = bytearray(mz(b"\x00" * 0x100, lfanew=0x80))
    data[0x80:0x82] = signature
    assert not VdmPersonality().probe(bytes(data))
    assert VdmPersonality().probe(mz())


def test_com_files_are_claimed_by_name():
    vdm = VdmPersonality()
    assert vdm.probe_file_name("C:/GAMES/ROGUE.COM") and vdm.probe_file_name("x.com")
    assert not vdm.probe_file_name("x.exe") and not vdm.probe(b"\xeb\xfe")



@settings(max_examples=300, deadline=None)
@given(fields=st.lists(st.integers(0, 0xFFFF), min_size=13, max_size=13),
       tail=st.binary(max_size=600))
def test_any_mz_header_is_refused_cleanly_or_loaded_within_its_module(fields, tail):
    data = struct.pack("<2s13H", b"MZ", *fields) + tail
    try:
        parsed = image.parse(data, is_com=False)
    except ImageError as error:
        assert str(error) and "\n" not in str(error)
        return
    for segment, offset in parsed.relocations:
        assert segment * 16 + offset + 2 <= len(parsed.module)
    assert len(parsed.module) <= len(data)
