"""Segment descriptors, descriptor tables and selectors: the x86's protected-mode segments.

In protected mode a segment register holds a *selector*, not a paragraph number. The
selector picks an 8-byte *descriptor* from one of two tables in memory — the global
descriptor table (GDT, one for the machine, found through GDTR) or a local descriptor
table (LDT, one per process, found through LDTR) — and the descriptor says where the
segment starts (base), how long it is (limit), what it may be used for (code or data,
readable, writable) and which privilege level may touch it (DPL).

OS/2 1.x gave every process its own LDT: a program's code and data segments, and the
segments it allocates (DosAllocSeg), are LDT selectors; shared segments sit at the same
LDT slot in every process. A selector the LDT does not hold, or one used for the wrong
kind of access, is a general-protection fault (#GP) naming the selector: the processor,
not the operating system, checks every segment load.

    selector:  | index (13 bits) | TI (0 = GDT, 1 = LDT) | RPL (2 bits) |

This module only encodes and decodes; `Cpu.load_descriptor_tables` puts the tables where
the processor reads them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DESCRIPTOR_SIZE = 8

# The access byte (descriptor bits 40-47).
ACCESSED = 0x01
READABLE_OR_WRITABLE = 0x02     # code: readable; data: writable
CONFORMING_OR_EXPAND_DOWN = 0x04
EXECUTABLE = 0x08
CODE_OR_DATA = 0x10             # S: 1 for code/data, 0 for system descriptors
PRESENT = 0x80
LDT_TYPE = 0x02                 # a system descriptor of type 2: an LDT

# The flags nibble (descriptor bits 52-55).
BIG = 0x4          # D/B: 32-bit code or stack; 0 for a 16-bit (286-style) segment
GRANULAR = 0x8     # the limit counts 4 KiB pages, not bytes


def selector(index: int, *, ldt: bool = False, rpl: int = 0) -> int:
    """The selector for entry `index` of the GDT (or the LDT), asking for privilege `rpl`."""
    return index << 3 | (4 if ldt else 0) | rpl


def selector_index(value: int) -> int:
    return value >> 3


def selector_in_ldt(value: int) -> bool:
    return bool(value & 4)


def describe_selector(value: int) -> str:
    """`0x000F (LDT entry 1, RPL 3)`: how a student reads a selector."""
    if value & 0xFFFC == 0:
        return f"{value:#06x} (null selector)"
    return (f"{value:#06x} ({'LDT' if value & 4 else 'GDT'} entry {value >> 3}, "
            f"RPL {value & 3})")


@dataclass(frozen=True)
class SegmentDescriptor:
    """One descriptor: a code, data or LDT segment.

    `limit` is the offset of the last byte (a 64 KiB segment has limit 0xFFFF). The
    Accessed bit starts set: the processor would otherwise write it into the table on
    the first load, which then must be writable by the processor."""

    base: int
    limit: int
    access: int          # the access byte: P, DPL, S, type
    flags: int = 0       # BIG, GRANULAR

    # --- the kinds of segment a personality makes ---

    @classmethod
    def code16(cls, base: int, limit: int = 0xFFFF, dpl: int = 3) -> SegmentDescriptor:
        """A 286-style code segment (16-bit operands and offsets), readable."""
        return cls(base, limit, PRESENT | dpl << 5 | CODE_OR_DATA | EXECUTABLE
                   | READABLE_OR_WRITABLE | ACCESSED)

    @classmethod
    def data16(cls, base: int, limit: int = 0xFFFF, dpl: int = 3,
               writable: bool = True) -> SegmentDescriptor:
        """A 286-style data (or stack) segment."""
        return cls(base, limit, PRESENT | dpl << 5 | CODE_OR_DATA | ACCESSED
                   | (READABLE_OR_WRITABLE if writable else 0))

    @classmethod
    def code32(cls, base: int = 0, limit: int = 0xFFFF_FFFF, dpl: int = 3) -> SegmentDescriptor:
        """A 32-bit code segment; the default is the flat 4 GiB one."""
        limit, flags = _granular(limit)
        return cls(base, limit, PRESENT | dpl << 5 | CODE_OR_DATA | EXECUTABLE
                   | READABLE_OR_WRITABLE | ACCESSED, BIG | flags)

    @classmethod
    def data32(cls, base: int = 0, limit: int = 0xFFFF_FFFF, dpl: int = 3) -> SegmentDescriptor:
        limit, flags = _granular(limit)
        return cls(base, limit, PRESENT | dpl << 5 | CODE_OR_DATA | READABLE_OR_WRITABLE
                   | ACCESSED, BIG | flags)

    @classmethod
    def local_descriptor_table(cls, base: int, limit: int) -> SegmentDescriptor:
        """The GDT entry that describes an LDT (what LLDT loads)."""
        return cls(base, limit, PRESENT | LDT_TYPE)

    # --- what it says ---

    @property
    def present(self) -> bool:
        return bool(self.access & PRESENT)

    @property
    def dpl(self) -> int:
        return self.access >> 5 & 3

    @property
    def is_code(self) -> bool:
        return bool(self.access & CODE_OR_DATA and self.access & EXECUTABLE)

    @property
    def is_data(self) -> bool:
        return bool(self.access & CODE_OR_DATA and not self.access & EXECUTABLE)

    @property
    def size_in_bytes(self) -> int:
        return ((self.limit << 12 | 0xFFF) if self.flags & GRANULAR else self.limit) + 1

    def encode(self) -> bytes:
        """The 8 bytes the processor reads: limit 0-15, base 0-23, access, flags and
        limit 16-19, base 24-31 (the 286 layout, widened by the 386)."""
        return struct.pack("<HHBBBB", self.limit & 0xFFFF, self.base & 0xFFFF,
                           self.base >> 16 & 0xFF, self.access,
                           (self.limit >> 16 & 0xF) | self.flags << 4, self.base >> 24 & 0xFF)

    @classmethod
    def decode(cls, data: bytes) -> SegmentDescriptor:
        limit_low, base_low, base_middle, access, flags_limit, base_high = \
            struct.unpack("<HHBBBB", data[:DESCRIPTOR_SIZE])
        return cls(base_low | base_middle << 16 | base_high << 24,
                   limit_low | (flags_limit & 0xF) << 16, access, flags_limit >> 4)


NULL_DESCRIPTOR = SegmentDescriptor(0, 0, 0)


def _granular(limit: int) -> tuple[int, int]:
    if limit <= 0xF_FFFF:
        return limit, 0
    return limit >> 12, GRANULAR


class DescriptorTable:
    """A GDT or an LDT: `capacity` descriptors at linear address `base`.

    Entry 0 of the GDT is the null descriptor (loading selector 0 is allowed, using it
    faults); this model keeps entry 0 of an LDT unused as well, so no valid selector is
    ever 0 or 4. The table here is the truth; `Cpu.load_descriptor_tables` and
    `Cpu.set_descriptor` copy it where the processor reads it."""

    def __init__(self, name: str, base: int, capacity: int) -> None:
        if name not in ("GDT", "LDT"):
            raise ValueError(f"a descriptor table is a GDT or an LDT, not {name!r}")
        if not 1 <= capacity <= 8192:
            raise ValueError(f"a descriptor table holds 1 to 8192 entries, not {capacity}")
        self.name = name
        self.base = base
        self.capacity = capacity
        self.entries: list[SegmentDescriptor] = [NULL_DESCRIPTOR] * capacity

    @property
    def is_local(self) -> bool:
        return self.name == "LDT"

    @property
    def limit(self) -> int:
        """What GDTR / the LDT's descriptor hold: the offset of the table's last byte."""
        return self.capacity * DESCRIPTOR_SIZE - 1

    def selector(self, index: int, rpl: int = 3) -> int:
        return selector(index, ldt=self.is_local, rpl=rpl)

    def __getitem__(self, index: int) -> SegmentDescriptor:
        return self.entries[index]

    def __setitem__(self, index: int, descriptor: SegmentDescriptor) -> None:
        if not 1 <= index < self.capacity:
            raise IndexError(f"{self.name} entry {index} is outside the table "
                             f"(entries 1-{self.capacity - 1})")
        self.entries[index] = descriptor

    def allocate(self, descriptor: SegmentDescriptor, rpl: int = 3) -> int:
        """Put `descriptor` in the first free entry; returns its selector
        (DosAllocSeg's job in OS/2: a new segment is a new LDT entry)."""
        for index in range(1, self.capacity):
            if not self.entries[index].present:
                self.entries[index] = descriptor
                return self.selector(index, rpl)
        raise MemoryError(f"the {self.name} is full ({self.capacity - 1} segments)")

    def free(self, value: int) -> None:
        """DosFreeSeg: the entry becomes not-present; loading its selector faults."""
        if selector_in_ldt(value) != self.is_local:
            raise ValueError(f"selector {describe_selector(value)} is not in this {self.name}")
        self[selector_index(value)] = NULL_DESCRIPTOR

    def image(self) -> bytes:
        """The table as it lies in memory."""
        return b"".join(entry.encode() for entry in self.entries)
