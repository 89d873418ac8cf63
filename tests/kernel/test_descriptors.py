"""Descriptors and selectors, checked against the layouts the Intel manuals give."""

from __future__ import annotations

import pytest

from ntsim.kernel.descriptors import (
    DescriptorTable,
    SegmentDescriptor,
    describe_selector,
    selector,
)


def as_quadword(descriptor: SegmentDescriptor) -> int:
    return int.from_bytes(descriptor.encode(), "little")


def test_a_flat_32_bit_ring_0_code_segment_is_the_classic_gdt_entry():
    # 0x00CF9A000000FFFF in every boot loader, with the Accessed bit set here (9A -> 9B)
    assert as_quadword(SegmentDescriptor.code32(dpl=0)) == 0x00CF_9B00_0000_FFFF
    assert as_quadword(SegmentDescriptor.data32(dpl=0)) == 0x00CF_9300_0000_FFFF


def test_a_286_ring_3_code_segment_keeps_its_base_and_limit():
    descriptor = SegmentDescriptor.code16(0x12_3450, 0x7FFF)
    assert as_quadword(descriptor) == 0x0000_FB12_3450_7FFF
    again = SegmentDescriptor.decode(descriptor.encode())
    assert (again.base, again.limit, again.dpl, again.is_code) == (0x12_3450, 0x7FFF, 3, True)
    assert again.size_in_bytes == 0x8000


def test_selectors_name_their_table_entry_and_privilege():
    assert selector(1, ldt=True, rpl=3) == 0x0F          # OS/2's first LDT code selector
    assert selector(2) == 0x10
    assert describe_selector(0x0F) == "0x000f (LDT entry 1, RPL 3)"
    assert describe_selector(0x0003) == "0x0003 (null selector)"


def test_an_ldt_hands_out_free_entries_and_takes_them_back():
    ldt = DescriptorTable("LDT", 0x2000, 4)
    first = ldt.allocate(SegmentDescriptor.data16(0x30000))
    second = ldt.allocate(SegmentDescriptor.data16(0x40000))
    assert (first, second) == (0x0F, 0x17)
    ldt.free(first)
    assert ldt.allocate(SegmentDescriptor.data16(0x50000)) == 0x0F
    ldt.allocate(SegmentDescriptor.data16(0x60000))
    with pytest.raises(MemoryError, match="LDT is full"):
        ldt.allocate(SegmentDescriptor.data16(0x70000))
    assert len(ldt.image()) == ldt.limit + 1 == 32
    with pytest.raises(ValueError):
        ldt.free(selector(1))                             # a GDT selector
