"""A small NE linker: OS/2 1.x executables from one nasm source (or from Python).

    python3 nebuild.py hello.asm hello.exe

The source (see os2.inc) puts each segment in a nasm section `segN` (vstart=0, so its
labels are offsets in the segment) and describes the program in a section `nemeta`:
modules it imports from, segment flags, CS:IP, SS:SP, heap and stack sizes, and one
record for each fixup. nasm assembles it with `-f bin` and a map file; this script
cuts the output at the map's section boundaries and writes the NE structures:

    MZ stub | NE header | segment table | resident names | module references |
    imported names | entry table | non-resident names | segments, each + relocations

Fixups with the same target in one segment are chained, as LINK did: one relocation
record, each location holding the offset of the next, the last 0xFFFF.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

ALIGNMENT_SHIFT = 4                  # segments start on 16-byte "sectors"
LOW_BYTE, SELECTOR, FAR_POINTER, OFFSET16 = 0, 2, 3, 5
INTERNAL, IMPORT_ORDINAL, IMPORT_NAME, OS_FIXUP, ADDITIVE = 0, 1, 2, 3, 4
SEG_DATA, SEG_MOVABLE, SEG_PRELOAD, SEG_RELOCATIONS = 0x1, 0x10, 0x40, 0x100


@dataclass
class Fixup:
    segment: int            # 1-based segment the location is in
    address_type: int
    kind: int               # INTERNAL, IMPORT_ORDINAL, IMPORT_NAME (+ ADDITIVE)
    offset: int
    target1: int            # segment / module index
    target2: int | str      # offset / ordinal / a name to import


@dataclass
class SegmentSpec:
    data: bytes
    flags: int = 0
    minimum: int = 0        # 0: the data's length


@dataclass
class Program:
    segments: list[SegmentSpec]
    modules: list[str] = field(default_factory=list)
    fixups: list[Fixup] = field(default_factory=list)
    cs_ip: tuple[int, int] = (1, 0)
    ss_sp: tuple[int, int] = (0, 0)     # SS 0: the automatic data segment
    autodata: int = 0
    heap: int = 0
    stack: int = 0x1000
    name: str = "PROGRAM"
    description: str = "an ntsim example"
    exports: list[tuple[int, int, int, str]] = field(default_factory=list)   # ordinal, seg, off, name
    chain: bool = True
    movable_entries: bool = False       # the entry table as movable bundles (INT 3Fh entries)


def mz_stub() -> bytes:
    """A DOS program that says it needs OS/2 and ends: INT 21h AH=09h, then AH=4Ch."""
    message = b"This program cannot be run in DOS mode.\r\n$"
    code = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21" + message
    header = bytearray(0x40)
    total = 0x40 + len(code)
    struct.pack_into("<2sHHHHHHHHHHHHH", header, 0, b"MZ", total % 512, -(-total // 512), 0, 4,
                     0x10, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, 0)
    stub = bytes(header) + code
    return stub + b"\0" * (-len(stub) % 16)


def counted(text: str) -> bytes:
    raw = text.encode("latin-1")
    return bytes([len(raw)]) + raw


def link(program: Program) -> bytes:
    """The NE file's bytes."""
    stub = mz_stub()
    ne_at = len(stub)
    segments = program.segments
    # imported names: a leading 0 byte, then module names and imported procedure names
    imported = bytearray(b"\0")
    module_offsets = []
    for module in program.modules:
        module_offsets.append(len(imported))
        imported += counted(module)
    name_offsets: dict[str, int] = {}
    for fixup in program.fixups:
        if fixup.kind & 3 == IMPORT_NAME and isinstance(fixup.target2, str) \
                and fixup.target2 not in name_offsets:
            name_offsets[fixup.target2] = len(imported)
            imported += counted(fixup.target2)
    resident = counted(program.name) + b"\0\0"
    for ordinal, _seg, _off, name in program.exports:
        resident += counted(name) + struct.pack("<H", ordinal)
    resident += b"\0"
    entry_table = bytearray()
    next_ordinal = 1
    for ordinal, seg, off, _name in sorted(program.exports):
        if ordinal > next_ordinal:
            entry_table += bytes([ordinal - next_ordinal, 0])
        if program.movable_entries:
            entry_table += bytes([1, 0xFF, 1, 0xCD, 0x3F, seg]) + struct.pack("<H", off)
        else:
            entry_table += bytes([1, seg, 1]) + struct.pack("<H", off)
        next_ordinal = ordinal + 1
    entry_table += b"\0"
    nonresident = counted(program.description) + b"\0\0" + b"\0"
    modref = b"".join(struct.pack("<H", o) for o in module_offsets)

    segment_table_at = 0x40
    resident_at = segment_table_at + 8 * len(segments)
    modref_at = resident_at + len(resident)
    imported_at = modref_at + len(modref)
    entry_at = imported_at + len(imported)
    nonresident_file = ne_at + entry_at + len(entry_table)
    body_end = nonresident_file + len(nonresident)

    # segment data, with relocations
    out = bytearray(stub)
    out += bytes(0x40)
    out += bytes(8 * len(segments))
    out += resident + modref + imported + entry_table + nonresident
    assert len(out) == body_end
    table = []
    for number, spec in enumerate(segments, 1):
        data = bytearray(spec.data)
        records = _records(program, number, data, name_offsets)
        out += b"\0" * (-len(out) % (1 << ALIGNMENT_SHIFT))
        sector = len(out) >> ALIGNMENT_SHIFT if data else 0
        out += data
        flags = spec.flags | (SEG_RELOCATIONS if records else 0)
        if records:
            out += struct.pack("<H", len(records)) + b"".join(records)
        table.append(struct.pack("<HHHH", sector, len(data) & 0xFFFF, flags,
                                 (spec.minimum or len(data)) & 0xFFFF))
    out[ne_at + segment_table_at:ne_at + segment_table_at + 8 * len(segments)] = b"".join(table)
    cs, ip = program.cs_ip
    ss, sp = program.ss_sp
    header = struct.pack(
        "<2sBBHHIHHHHHHHHHHHHHHHHIHHHBB", b"NE", 5, 1, entry_at, len(entry_table), 0,
        0x0002,  # flags: multiple (per-instance) automatic data
        program.autodata, program.heap, program.stack, ip, cs, sp, ss or program.autodata,
        len(segments), len(program.modules), len(nonresident), segment_table_at, resident_at,
        resident_at, modref_at, imported_at, nonresident_file, 0, ALIGNMENT_SHIFT, 0, 1, 0)
    out[ne_at:ne_at + len(header)] = header
    struct.pack_into("<I", out, 0x3C, ne_at)
    return bytes(out)


def _records(program: Program, number: int, data: bytearray, names: dict[str, int]) -> list[bytes]:
    """This segment's relocation records; fixups with one target are chained."""
    groups: dict[tuple, list[Fixup]] = {}
    for fixup in program.fixups:
        if fixup.segment != number:
            continue
        target2 = names[fixup.target2] if isinstance(fixup.target2, str) else fixup.target2
        key = (fixup.address_type, fixup.kind, fixup.target1, target2)
        chainable = program.chain and not fixup.kind & ADDITIVE and fixup.address_type != LOW_BYTE
        groups.setdefault(key if chainable else (*key, fixup.offset), []).append(fixup)
    records = []
    for key, fixups in groups.items():
        address_type, kind, target1, target2 = key[:4]
        fixups.sort(key=lambda f: f.offset)
        if program.chain and not kind & ADDITIVE and address_type != LOW_BYTE:
            for here, following in zip(fixups, fixups[1:] + [None], strict=True):
                struct.pack_into("<H", data, here.offset, following.offset if following else 0xFFFF)
        records.append(struct.pack("<BBHHH", address_type, kind, fixups[0].offset, target1, target2))
    return records


# --- the nasm front end ---------------------------------------------------------------------

_SECTION = re.compile(r"^\s*[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S+)\s*$", re.I)


def assemble(source: str, include: str) -> Program:
    with tempfile.TemporaryDirectory() as work:
        binary, mapfile = os.path.join(work, "out.bin"), os.path.join(work, "out.map")
        prelude = os.path.join(work, "map.inc")
        with open(prelude, "w") as stream:
            stream.write(f"[map all {mapfile}]\n")
        if subprocess.run(["nasm", "-f", "bin", "-i", include + os.sep, "-p", prelude,
                           "-o", binary, source]).returncode:
            raise SystemExit(f"nebuild: nasm failed on {source}")
        with open(binary, "rb") as stream:
            image = stream.read()
        with open(mapfile) as stream:
            sections = {}
            for line in stream:
                match = _SECTION.match(line)
                if match:
                    sections[match.group(3)] = (int(match.group(1), 16), int(match.group(2), 16))
    pieces = {name: image[start:start + length] for name, (start, length) in sections.items()}
    count = max(int(n[3:]) for n in pieces if re.fullmatch(r"seg\d+", n))
    program = Program([SegmentSpec(pieces.get(f"seg{n}", b"")) for n in range(1, count + 1)])
    _read_meta(program, pieces.get("nemeta", b""))
    return program


def _read_meta(program: Program, meta: bytes) -> None:
    at = 0
    while at < len(meta):
        tag = chr(meta[at])
        if tag == "M":                                      # M len name: a module reference
            length = meta[at + 1]
            program.modules.append(meta[at + 2:at + 2 + length].decode())
            at += 2 + length
        elif tag == "S":                                    # S seg flags minimum
            seg, flags, minimum = struct.unpack_from("<BHH", meta, at + 1)
            program.segments[seg - 1].flags, program.segments[seg - 1].minimum = flags, minimum
            at += 6
        elif tag == "P":                                    # P cs ip ss sp autodata heap stack
            cs, ip, ss, sp, auto, heap, stack = struct.unpack_from("<BHBHBHH", meta, at + 1)
            program.cs_ip, program.ss_sp, program.autodata = (cs, ip), (ss, sp), auto
            program.heap, program.stack = heap, stack
            at += 12
        elif tag == "R":                                    # R seg type kind offset t1 t2
            seg, address_type, kind, offset, t1, t2 = struct.unpack_from("<BBBHHH", meta, at + 1)
            program.fixups.append(Fixup(seg, address_type, kind, offset, t1, t2))
            at += 10
        elif tag == "I":                                    # I seg type module offset len name
            seg, address_type, module, offset = struct.unpack_from("<BBHH", meta, at + 1)
            length = meta[at + 7]
            name = meta[at + 8:at + 8 + length].decode()
            program.fixups.append(Fixup(seg, address_type, IMPORT_NAME, offset, module, name))
            at += 8 + length
        elif tag == "N":                                    # N len name: the module name
            length = meta[at + 1]
            program.name = meta[at + 2:at + 2 + length].decode()
            at += 2 + length
        elif tag == "\0":
            at += 1
        else:
            raise SystemExit(f"nebuild: unknown record {tag!r} in nemeta at {at}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: nebuild.py SOURCE.asm OUTPUT.exe", file=sys.stderr)
        return 2
    program = assemble(argv[1], os.path.dirname(os.path.abspath(__file__)))
    with open(argv[2], "wb") as stream:
        stream.write(link(program))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
