"""The NE ("new executable") format of OS/2 1.x programs, read by hand (no library does).

An NE file starts with an MZ stub (a DOS program that says "This program cannot be run
in DOS mode"); the DWORD at 0x3C points at the NE header. Offsets in the header are
relative to the header itself, except the non-resident names table's (a file offset)
and each segment's data (a sector number, shifted by the alignment).

    NE header ─┬─ segment table    8 bytes a segment: sector, length, flags, minimum size
               ├─ resident names   counted strings + WORD ordinal (first: the module name)
               ├─ module references WORD offsets into the imported-names table
               ├─ imported names   counted strings (DOSCALLS, VIOCALLS...)
               └─ entry table      bundles of fixed (3-byte) or movable (6-byte) entries
    segment data, each followed by its relocation records if flag 0x100 is set

Every offset is checked before it is used: a program is untrusted input, and a bad one
is refused with one line naming what is wrong (`ImageError`, exit status 126).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..base import ImageError

# Segment flags
SEG_DATA = 0x0001
SEG_MOVABLE = 0x0010
SEG_PRELOAD = 0x0040
SEG_RELOCATIONS = 0x0100

# Relocation address types: what the fixup writes at its location
LOW_BYTE, SELECTOR, FAR_POINTER, OFFSET16, FAR_POINTER32, OFFSET32 = 0, 2, 3, 5, 11, 13
ADDRESS_TYPES = {LOW_BYTE: "low byte", SELECTOR: "selector", FAR_POINTER: "16:16 pointer",
                 OFFSET16: "offset", FAR_POINTER32: "16:32 pointer", OFFSET32: "offset32"}
WIDTH = {LOW_BYTE: 1, SELECTOR: 2, FAR_POINTER: 4, OFFSET16: 2, FAR_POINTER32: 6, OFFSET32: 4}
# Relocation types: what the fixup refers to (+ADDITIVE: add to what is there)
INTERNAL, IMPORT_ORDINAL, IMPORT_NAME, OS_FIXUP = 0, 1, 2, 3
ADDITIVE = 4
KINDS = {INTERNAL: "internal", IMPORT_ORDINAL: "import by ordinal", IMPORT_NAME: "import by name",
         OS_FIXUP: "OS fixup"}
MOVABLE_SEGMENT = 0xFF     # an internal reference to a movable segment names an entry ordinal
END_OF_CHAIN = 0xFFFF

NE_HEADER_SIZE = 0x40
TARGET_OS = {0: "unknown", 1: "OS/2", 2: "Windows", 3: "European DOS 4", 4: "Windows 386"}


@dataclass
class Relocation:
    address_type: int
    kind: int               # INTERNAL, IMPORT_ORDINAL, IMPORT_NAME, OS_FIXUP
    additive: bool
    offset: int             # where in the segment (the head of a chain, if not additive)
    target1: int            # segment number / module index / fixup type
    target2: int            # offset / ordinal / name offset / entry ordinal

    def describe(self) -> str:
        return (f"{ADDRESS_TYPES.get(self.address_type, self.address_type)} at {self.offset:#06x}: "
                f"{KINDS[self.kind]}{' (additive)' if self.additive else ''}")


@dataclass
class Segment:
    number: int             # 1-based, as the image counts them
    file_offset: int        # 0: no data in the file (zero-filled)
    file_length: int
    flags: int
    minimum: int            # the allocation the segment needs (0 = 64 KiB)
    data: bytes = b""
    relocations: list[Relocation] = field(default_factory=list)

    @property
    def is_data(self) -> bool:
        return bool(self.flags & SEG_DATA)

    @property
    def size(self) -> int:
        """Bytes to allocate: the minimum allocation (0 means 64 KiB)."""
        return self.minimum or 0x10000


@dataclass
class Entry:
    ordinal: int
    segment: int            # 1-based
    offset: int
    flags: int
    movable: bool


@dataclass
class NeImage:
    header_offset: int
    flags: int
    autodata: int           # 1-based segment number, 0: none
    heap_size: int
    stack_size: int
    cs: int
    ip: int
    ss: int
    sp: int
    alignment_shift: int
    target_os: int
    segments: list[Segment]
    modules: list[str]      # the module-reference table, resolved to names (index 1 first)
    entries: dict[int, Entry]
    resident_names: list[tuple[str, int]]
    nonresident_names: list[tuple[str, int]]
    imported_names: bytes   # the raw imported-names table (import-by-name offsets point in)

    @property
    def module_name(self) -> str:
        return self.resident_names[0][0] if self.resident_names else ""

    @property
    def description(self) -> str:
        return self.nonresident_names[0][0] if self.nonresident_names else ""

    def imported_name(self, offset: int) -> str:
        return _counted_string(self.imported_names, offset, "imported-names table")

    def imports(self) -> list[tuple[str, int | str]]:
        """Every (module, ordinal or name) the relocations ask for, in first-use order."""
        seen: dict[tuple[str, int | str], None] = {}
        for segment in self.segments:
            for relocation in segment.relocations:
                if relocation.kind == IMPORT_ORDINAL:
                    seen[(self.modules[relocation.target1 - 1], relocation.target2)] = None
                elif relocation.kind == IMPORT_NAME:
                    seen[(self.modules[relocation.target1 - 1],
                          self.imported_name(relocation.target2))] = None
        return list(seen)


def _counted_string(data: bytes, offset: int, where: str) -> str:
    if not 0 <= offset < len(data):
        raise ImageError(f"a name at offset {offset:#x} lies outside the {where}")
    length = data[offset]
    if offset + 1 + length > len(data):
        raise ImageError(f"a name at offset {offset:#x} runs past the end of the {where}")
    return data[offset + 1:offset + 1 + length].decode("latin-1")


def ne_offset(data: bytes) -> int | None:
    """Where the NE header is, if `data` is an MZ file whose e_lfanew points at 'NE'."""
    if len(data) < 0x40 or data[:2] != b"MZ":
        return None
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    if offset < 0x40 or offset + 2 > len(data) or data[offset:offset + 2] != b"NE":
        return None
    return offset


def parse(data: bytes) -> NeImage:
    """Read and check an NE image: ImageError (one line) if anything lies outside the file."""
    base = ne_offset(data)
    if base is None:
        raise ImageError("not an NE image (no MZ stub whose offset at 0x3C points at 'NE')")
    if base + NE_HEADER_SIZE > len(data):
        raise ImageError(f"truncated NE header: {len(data) - base} of {NE_HEADER_SIZE} bytes at {base:#x}")
    (entry_offset, entry_length, _crc, flags, autodata, heap, stack, ip, cs, sp, ss, segment_count,
     module_count, nonresident_size, segment_table, resource_table, resident_table, module_table,
     imported_table, nonresident_offset, _movable, shift, _resources, target_os) = struct.unpack_from(
        "<HHIHHHHHHHHHHHHHHHHIHHHB", data, base + 4)
    shift = shift or 9

    def table(name: str, relative: int, length: int) -> int:
        start = base + relative
        if relative < NE_HEADER_SIZE or start + length > len(data):
            raise ImageError(f"truncated NE: the {name} ({length} bytes at {start:#x}) lies "
                             f"outside the file ({len(data)} bytes)")
        return start

    # segments
    start = table("segment table", segment_table, 8 * segment_count)
    segments = []
    for number in range(1, segment_count + 1):
        sector, length, seg_flags, minimum = struct.unpack_from("<HHHH", data, start + 8 * (number - 1))
        file_offset = sector << shift
        file_length = length or (0x10000 if sector else 0)
        segment = Segment(number, file_offset, file_length, seg_flags, minimum)
        if sector:
            if file_offset + file_length > len(data):
                raise ImageError(f"segment {number} ({file_length} bytes at file offset "
                                 f"{file_offset:#x}) lies outside the file ({len(data)} bytes)")
            segment.data = data[file_offset:file_offset + file_length]
        if minimum and minimum < len(segment.data):
            raise ImageError(f"segment {number}: {len(segment.data)} bytes of data but a "
                             f"minimum allocation of {minimum}")
        if seg_flags & SEG_RELOCATIONS:
            segment.relocations = _relocations(data, segment, file_offset + file_length,
                                               segment_count, module_count)
        segments.append(segment)

    # module references and imported names
    modules_at = table("module-reference table", module_table, 2 * module_count)
    names_end = base + entry_offset if entry_offset > imported_table else len(data)
    imported_start = table("imported-names table", imported_table, 0)
    imported = data[imported_start:max(imported_start, names_end)]
    modules = [_counted_string(imported, struct.unpack_from("<H", data, modules_at + 2 * i)[0],
                               "imported-names table") for i in range(module_count)]

    # the resident and non-resident names, the entry table
    resident = _names(data, table("resident-names table", resident_table, 1), len(data), "resident names")
    nonresident = []
    if nonresident_size:
        if nonresident_offset + nonresident_size > len(data):
            raise ImageError(f"truncated NE: the non-resident names ({nonresident_size} bytes at "
                             f"{nonresident_offset:#x}) lie outside the file")
        nonresident = _names(data, nonresident_offset, nonresident_offset + nonresident_size,
                             "non-resident names")
    entries = _entries(data, table("entry table", entry_offset, entry_length), entry_length, segment_count)

    image = NeImage(base, flags, autodata, heap, stack, cs, ip, ss, sp, shift, target_os, segments,
                    modules, entries, resident, nonresident, imported)
    for what, number in (("CS", cs), ("SS", ss), ("automatic data segment", autodata)):
        if number > segment_count or (number == 0 and what == "CS"):
            raise ImageError(f"{what} is segment {number}; the image has {segment_count}")
    for segment in segments:
        for relocation in segment.relocations:
            if relocation.kind == IMPORT_NAME:
                image.imported_name(relocation.target2)
    return image


def _relocations(data: bytes, segment: Segment, at: int, segment_count: int,
                 module_count: int) -> list[Relocation]:
    number = segment.number
    if at + 2 > len(data):
        raise ImageError(f"segment {number}: its relocation count at {at:#x} lies outside the file")
    count = struct.unpack_from("<H", data, at)[0]
    if at + 2 + 8 * count > len(data):
        raise ImageError(f"segment {number}: {count} relocation records at {at + 2:#x} run past "
                         f"the end of the file")
    records = []
    for index in range(count):
        address_type, kind, offset, target1, target2 = struct.unpack_from("<BBHHH", data, at + 2 + 8 * index)
        where = f"segment {number} relocation {index + 1}"
        if address_type not in ADDRESS_TYPES:
            raise ImageError(f"{where}: unknown address type {address_type}")
        if kind & ~(ADDITIVE | 3):
            raise ImageError(f"{where}: unknown relocation type {kind:#x}")
        if offset + WIDTH[address_type] > len(segment.data):
            raise ImageError(f"{where} at offset {offset:#x} lies outside the segment "
                             f"({len(segment.data)} bytes of data)")
        base_kind = kind & 3
        if base_kind == INTERNAL and target1 != MOVABLE_SEGMENT and not 1 <= target1 <= segment_count:
            raise ImageError(f"{where} refers to segment {target1}; the image has {segment_count}")
        if base_kind in (IMPORT_ORDINAL, IMPORT_NAME) and not 1 <= target1 <= module_count:
            raise ImageError(f"{where} imports from module {target1}; the image references {module_count}")
        records.append(Relocation(address_type, base_kind, bool(kind & ADDITIVE), offset, target1, target2))
    return records


def _names(data: bytes, start: int, end: int, where: str) -> list[tuple[str, int]]:
    names, at = [], start
    while True:
        if at >= end:
            raise ImageError(f"truncated NE: the {where} table has no end")
        length = data[at]
        if length == 0:
            return names
        if at + 1 + length + 2 > end:
            raise ImageError(f"truncated NE: a name in the {where} table runs past its end")
        names.append((data[at + 1:at + 1 + length].decode("latin-1"),
                      struct.unpack_from("<H", data, at + 1 + length)[0]))
        at += 3 + length


def _entries(data: bytes, start: int, length: int, segment_count: int) -> dict[int, Entry]:
    entries: dict[int, Entry] = {}
    at, end, ordinal = start, start + length, 1
    while at < end:
        count = data[at]
        if count == 0:
            break
        if at + 2 > end:
            raise ImageError("truncated NE: an entry-table bundle runs past the table")
        indicator = data[at + 1]
        at += 2
        if indicator == 0:
            ordinal += count
            continue
        size = 6 if indicator == MOVABLE_SEGMENT else 3
        if at + size * count > end:
            raise ImageError("truncated NE: an entry-table bundle runs past the table")
        for _ in range(count):
            if indicator == MOVABLE_SEGMENT:
                flags, _int3f, segment, offset = struct.unpack_from("<BHBH", data, at)
            else:
                (flags, offset), segment = struct.unpack_from("<BH", data, at), indicator
            if not 1 <= segment <= segment_count:
                raise ImageError(f"entry {ordinal} is in segment {segment}; the image has {segment_count}")
            entries[ordinal] = Entry(ordinal, segment, offset, flags, indicator == MOVABLE_SEGMENT)
            ordinal += 1
            at += size
    return entries


def chain(segment_data: bytearray, relocation: Relocation) -> list[int]:
    """The locations a relocation patches: one if additive, else the chain that starts at
    its offset, each location holding the next one's offset, up to 0xFFFF. A chain that
    leaves the segment or loops is refused."""
    width = WIDTH[relocation.address_type]
    if relocation.additive or relocation.address_type == LOW_BYTE:
        return [relocation.offset]
    seen: list[int] = []
    at = relocation.offset
    while at != END_OF_CHAIN:
        if at + width > len(segment_data):
            raise ImageError(f"a relocation chain reaches offset {at:#x}, outside the segment "
                             f"({len(segment_data)} bytes)")
        if at in seen:
            raise ImageError(f"a relocation chain loops back to offset {at:#x}")
        seen.append(at)
        at = struct.unpack_from("<H", segment_data, at)[0]
    return seen
