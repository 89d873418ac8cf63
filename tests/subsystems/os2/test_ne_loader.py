"""The NE loader, against NE images built here byte by byte (examples/os2/nebuild.py's
linker, driven from Python): every relocation kind lands where the format says, the
thunk segment pops what each API's arguments take, SP 0 means the top of the automatic
data segment, and a bad image is refused with one line naming what is wrong."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from ntsim.machine import Machine
from ntsim.subsystems.base import ImageError
from ntsim.subsystems.os2 import ne

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("nebuild", REPO / "examples" / "os2" / "nebuild.py")
nebuild = importlib.util.module_from_spec(_spec)
sys.modules["nebuild"] = nebuild
_spec.loader.exec_module(nebuild)
Fixup, Program, SegmentSpec = nebuild.Fixup, nebuild.Program, nebuild.SegmentSpec

EXIT = b"\x6a\x01\x6a\x00\x9a\x00\x00\x00\x00"          # push 1; push 0; call far DosExit
LDT_RPL3 = 4 | 3


def selector(segment: int) -> int:
    return segment << 3 | LDT_RPL3


def program(code: bytes = EXIT, data: bytes = bytes(64), fixups=(), modules=("DOSCALLS",), **extra) -> Program:
    """Segment 1 code (ending in DosExit, whose fixup is at offset 5), segment 2 data
    (the automatic data segment), plus `fixups`."""
    exit_fixup = Fixup(1, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, len(code) - 4, 1, 5)
    return Program([SegmentSpec(code, 0x50), SegmentSpec(data, 0x51)], list(modules),
                   [exit_fixup, *fixups], cs_ip=(1, 0), ss_sp=(2, 0), autodata=2, **extra)


def load(tmp_path: Path, image: bytes):
    """The image loaded into a new process (not run): its machine and process."""
    path = tmp_path / "test.exe"
    path.write_bytes(image)
    machine = Machine(str(tmp_path))
    return machine, machine.load(str(path))


def segment_bytes(process, segment: int, offset: int, size: int) -> bytes:
    return process.memory.read((segment << 16) + offset, size)


# --- the header and tables ---------------------------------------------------------------------


def test_the_header_tables_and_names_read_back_as_written():
    built = program(exports=[(3, 1, 0x10, "ENTRYTHREE")], name="TESTMOD", description="a test module")
    image = ne.parse(nebuild.link(built))
    assert (image.cs, image.ip, image.ss, image.sp, image.autodata) == (1, 0, 2, 0, 2)
    assert [s.is_data for s in image.segments] == [False, True]
    assert image.modules == ["DOSCALLS"]
    assert image.module_name == "TESTMOD" and image.description == "a test module"
    assert ("ENTRYTHREE", 3) in image.resident_names
    assert image.entries[3] == ne.Entry(3, 1, 0x10, 1, False)     # fixed bundle, ordinals 1-2 skipped
    assert image.imports() == [("DOSCALLS", 5)]


# --- every relocation kind ------------------------------------------------------------------------


def test_every_relocation_kind_is_applied(tmp_path):
    data = bytearray(64)
    struct.pack_into("<H", data, 10, 0x100)               # the addend of an additive offset
    struct.pack_into("<H", data, 40, 0x0002)              # ... of an additive selector
    fixups = [
        Fixup(2, nebuild.FAR_POINTER, nebuild.INTERNAL, 0, 1, 0x0007),       # 16:16 to segment 1
        Fixup(2, nebuild.SELECTOR, nebuild.INTERNAL, 4, 2, 0),               # segment 2's selector
        Fixup(2, nebuild.OFFSET16, nebuild.INTERNAL, 6, 1, 0x1234),          # an offset
        Fixup(2, nebuild.OFFSET16, nebuild.INTERNAL | nebuild.ADDITIVE, 10, 1, 0x0034),
        Fixup(2, nebuild.LOW_BYTE, nebuild.INTERNAL, 12, 1, 0x0456),         # low byte of an offset
        Fixup(2, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, 14, 1, 138),   # DOSCALLS.138 by ordinal
        Fixup(2, nebuild.FAR_POINTER, nebuild.IMPORT_NAME, 18, 1, "DosGetPID"),   # ... by name
        Fixup(2, nebuild.FAR_POINTER, nebuild.INTERNAL, 22, 0xFF, 1),        # a movable entry
        Fixup(2, nebuild.SELECTOR, nebuild.INTERNAL | nebuild.ADDITIVE, 40, 1, 0),
    ]
    built = program(data=bytes(data), fixups=fixups, exports=[(1, 2, 0x30, "MOVED")], movable_entries=True)
    assert ne.parse(nebuild.link(built)).entries[1] == ne.Entry(1, 2, 0x30, 1, True)
    machine, process = load(tmp_path, nebuild.link(built))
    os2 = process.data
    thunks = os2.thunk_selector
    slot_write = os2.thunks.index((1 << 16) | 138) * 8
    slot_pid = os2.thunks.index((1 << 16) | 94) * 8
    patched = segment_bytes(process, 2, 0, 44)
    assert struct.unpack_from("<HH", patched, 0) == (0x0007, selector(1))
    assert struct.unpack_from("<H", patched, 4)[0] == selector(2)
    assert struct.unpack_from("<H", patched, 6)[0] == 0x1234
    assert struct.unpack_from("<H", patched, 10)[0] == 0x100 + 0x34
    assert patched[12] == 0x56
    assert struct.unpack_from("<HH", patched, 14) == (slot_write, thunks)
    assert struct.unpack_from("<HH", patched, 18) == (slot_pid, thunks)
    assert struct.unpack_from("<HH", patched, 22) == (0x30, selector(2))   # entry 1: segment 2:0x30
    assert struct.unpack_from("<H", patched, 40)[0] == selector(1) + 2


def test_fixups_to_one_target_are_one_chained_record_and_every_link_is_patched(tmp_path):
    fixups = [Fixup(2, nebuild.FAR_POINTER, nebuild.INTERNAL, at, 1, 0x0042) for at in (0, 8, 30)]
    built = program(fixups=fixups)
    linked = nebuild.link(built)
    image = ne.parse(linked)
    chained = [r for r in image.segments[1].relocations if r.kind == ne.INTERNAL]
    assert len(chained) == 1 and not chained[0].additive
    assert struct.unpack_from("<H", image.segments[1].data, 0)[0] == 8      # the chain in the file
    assert struct.unpack_from("<H", image.segments[1].data, 30)[0] == 0xFFFF
    _, process = load(tmp_path, linked)
    for at in (0, 8, 30):
        assert struct.unpack_from("<HH", segment_bytes(process, 2, at, 4)) == (0x42, selector(1))


def test_32_bit_address_types(tmp_path):
    fixups = [Fixup(2, ne.OFFSET32, nebuild.INTERNAL | nebuild.ADDITIVE, 0, 1, 0x10),
              Fixup(2, ne.FAR_POINTER32, nebuild.INTERNAL, 8, 1, 0x20)]
    data = bytearray(64)
    struct.pack_into("<I", data, 0, 0x10000)
    _, process = load(tmp_path, nebuild.link(program(data=bytes(data), fixups=fixups)))
    assert struct.unpack_from("<I", segment_bytes(process, 2, 0, 4))[0] == 0x10010
    assert struct.unpack_from("<IH", segment_bytes(process, 2, 8, 6)) == (0x20, selector(1))


# --- what the program starts with -----------------------------------------------------------------


def test_sp_zero_is_the_top_of_the_automatic_data_segment_and_ds_is_it(tmp_path):
    built = program(data=bytes(0x100), heap=0x200, stack=0x800)
    machine, process = load(tmp_path, nebuild.link(built))
    registers = machine.registers(process, ("cs", "ip", "ss", "sp", "ds", "ax", "bx", "cx"))
    assert registers["ss"] == registers["ds"] == selector(2)
    assert registers["cs"] == selector(1) and registers["ip"] == 0
    assert registers["sp"] == registers["cx"] == 0x100 + 0x200 + 0x800
    environment = process.memory.read((registers["ax"] >> 3) << 16, 0x1000)
    command = environment[registers["bx"]:].split(b"\0")
    assert command[0] == b"C:\\test.exe"


def test_each_thunk_pops_its_api_s_arguments(tmp_path):
    fixups = [Fixup(2, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, 0, 1, 138),      # DosWrite: 2+4+2+4
              Fixup(2, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, 4, 2, 19)]       # VioWrtTTY: 4+2+2
    _, process = load(tmp_path, nebuild.link(program(fixups=fixups, modules=("DOSCALLS", "VIOCALLS"))))
    os2 = process.data
    stubs = process.memory.read((os2.thunk_selector >> 3) << 16, 8 * len(os2.thunks))
    for number, pops in (((1 << 16) | 138, 12), ((2 << 16) | 19, 8), ((1 << 16) | 5, 4)):
        stub = stubs[8 * os2.thunks.index(number):][:5]
        assert stub == bytes([0xCD, 0xF0, 0xCA]) + struct.pack("<H", pops)


# --- bad images -------------------------------------------------------------------------------------


def test_a_truncated_header_is_refused():
    linked = nebuild.link(program())
    base = struct.unpack_from("<I", linked, 0x3C)[0]
    with pytest.raises(ImageError, match="truncated NE header"):
        ne.parse(linked[:base + 0x20])


def test_a_segment_outside_the_file_is_refused():
    linked = nebuild.link(program(data=bytes(200)))
    with pytest.raises(ImageError, match="segment 2 .* lies outside the file"):
        ne.parse(linked[:-120])


def test_a_relocation_outside_its_segment_is_refused():
    fixups = [Fixup(2, nebuild.FAR_POINTER, nebuild.INTERNAL | nebuild.ADDITIVE, 62, 1, 0)]
    with pytest.raises(ImageError, match="segment 2 relocation 1 at offset 0x3e lies outside the segment"):
        ne.parse(nebuild.link(program(fixups=fixups)))


def test_a_relocation_to_a_missing_segment_is_refused():
    fixups = [Fixup(2, nebuild.SELECTOR, nebuild.INTERNAL, 0, 9, 0)]
    with pytest.raises(ImageError, match="refers to segment 9; the image has 2"):
        ne.parse(nebuild.link(program(fixups=fixups)))


def test_a_chain_that_loops_is_refused(tmp_path):
    data = bytearray(64)
    struct.pack_into("<H", data, 0, 8)
    struct.pack_into("<H", data, 8, 0)                   # 0 -> 8 -> 0 -> ...
    code = EXIT[:5] + b"\xff\xff\x00\x00"                 # the DosExit fixup: a chain of one
    built = program(code, bytes(data), fixups=[Fixup(2, nebuild.OFFSET16, nebuild.INTERNAL, 0, 1, 0)])
    built.chain = False                                   # (keep the loop nebuild would overwrite)
    with pytest.raises(ImageError, match="loops back"):
        load(tmp_path, nebuild.link(built))


def test_a_chain_that_leaves_its_segment_is_refused(tmp_path):
    built = program()
    built.chain = False                                   # the DosExit fixup's location holds 0000:
    with pytest.raises(ImageError, match="reaches offset 0x16a, outside the segment"):   # 5 -> 0 -> 0x016A
        load(tmp_path, nebuild.link(built))


def test_an_import_from_an_unknown_module_is_refused(tmp_path):
    fixups = [Fixup(2, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, 0, 2, 1)]
    with pytest.raises(ImageError, match="imports from MOUCALLS, a module ntsim does not provide"):
        load(tmp_path, nebuild.link(program(fixups=fixups, modules=("DOSCALLS", "MOUCALLS"))))


def test_random_damage_never_escapes_as_anything_but_an_image_error():
    linked = nebuild.link(program(fixups=[Fixup(2, nebuild.SELECTOR, nebuild.INTERNAL, 0, 1, 0)],
                                  exports=[(1, 1, 0, "X")]))
    for cut in range(0, len(linked), 7):
        for damaged in (linked[:cut], linked[:cut] + bytes([0xFF]) * 3 + linked[cut + 3:]):
            try:
                ne.parse(damaged)
            except ImageError:
                pass
