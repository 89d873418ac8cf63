"""The OS/2 loader: an NE image into a process's 16-bit protected-mode address space.

OS/2 1.x gave each process its own LDT; NT's OS/2 subsystem laid the 16-bit segments
out *tiled*: LDT entry n always lies at linear address n x 64 KiB, so a selector and a
linear address convert into each other with a shift (the 512 MB tiled area is 8192
selectors of 64 KiB). The loader here does as the OS/2 loader did:

1. one LDT entry per segment of the image (entry n for segment n), its pages committed
   and its data copied in; the automatic data segment grows by the heap and the stack;
2. a thunk segment for the imports (gate.py), one stub per (module, ordinal);
3. every relocation applied: internal references, imports by ordinal and by name,
   additive or chained, as low byte, selector, offset or 16:16 pointer;
4. the environment segment (strings, then the command line), and the registers:
   CS:IP, SS:SP (SP 0 = the top of the automatic data segment), DS = the automatic
   data segment, AX = the environment's selector, BX = the command line's offset,
   CX = the automatic data segment's size.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from ...kernel.cpu import PAGE_EXECUTE_READ, PAGE_READWRITE
from ...kernel.descriptors import DescriptorTable, SegmentDescriptor
from ...kernel.memory import MEM_COMMIT, MEM_RESERVE, page_ceil
from ...kernel.services import NtCurrentProcess
from ..base import ImageError
from . import ne
from .gate import MODULE_IDS, MODULES, THUNK_SIZE, THUNK_VECTOR, TILE_SHIFT, UNKNOWN

LDT_ENTRIES = 8192                       # the whole tiled area: 8192 x 64 KiB = 512 MB
TABLES_BASE = LDT_ENTRIES << TILE_SHIFT  # the GDT and LDT lie just above the tiled area
GDT_ENTRIES = 4
LDT_SLOT = 1                             # the GDT entry that describes the LDT
TILE = 1 << TILE_SHIFT
# LDT slots for shared segments (DosAllocShrSeg): the top 1,024, the same in every process,
# handed out by OS2SS; a slot's tile becomes a view of the segment's section while in use
FIRST_SHARED, LAST_SHARED = LDT_ENTRIES - 1024, LDT_ENTRIES - 1
ENVIRONMENT_LIMIT = 0x10000                # one segment


@dataclass
class Os2Process:
    """What the personality keeps per process."""

    image: ne.NeImage
    guest_path: str
    ldt: DescriptorTable
    gdt: DescriptorTable
    selectors: dict[int, int] = field(default_factory=dict)   # segment number -> selector
    thunk_selector: int = 0
    thunks: list[int] = field(default_factory=list)           # slot -> call number
    environment: int = 0                                       # its selector
    command_line: int = 0                                      # its offset there
    autodata: int = 0                                          # DS's selector (0: none)
    autodata_size: int = 0
    files: dict[int, int] = field(default_factory=dict)        # OS/2 handle -> NT handle
    no_inherit: set[int] = field(default_factory=set)          # handles opened OPEN_FLAGS_NOINHERIT
    searches: dict[int, Any] = field(default_factory=dict)     # DosFindFirst handles
    allocated: dict[int, int] = field(default_factory=dict)    # DosAllocSeg selector -> size
    info_segments: tuple[int, int] | None = None               # (global, local) selectors
    cwd: str = "\\"                                            # current directory on C:
    port: int | None = None                                    # the handle to OS2SS's port
    parent_pid: int = 0
    hard_errors: bool = True                                   # DosError's setting
    termination: int = 0                                       # TC_EXIT, TC_TRAP...
    signal_actions: dict[int, tuple[int, int]] = field(default_factory=dict)  # signal -> (SIGA_*, handler)
    unacknowledged: set[int] = field(default_factory=set)     # delivered, not yet SIGA_ACKNOWLEDGE
    held_signals: set[int] = field(default_factory=set)       # arrived meanwhile: delivered on acknowledge
    signal_frames: list[dict] = field(default_factory=list)   # registers to restore, innermost last
    signal_return: int = 0                                     # IP after the thunk segment's return stub
    console: Any = None                                        # VIO and KBD's ConsoleClient
    limits: dict[int, int] = field(default_factory=dict)       # LDT index -> limit, present entries
    shared: set[int] = field(default_factory=set)              # LDT indexes of shared segments

    @property
    def ldt_in_use(self) -> int:
        return sum(1 for entry in self.ldt.entries if entry.present)


def program_name(guest_path: str) -> str:
    """The guest's path as OS/2 spells it: C:\\DIR\\PROG.EXE."""
    return "C:" + guest_path.replace("/", "\\") if guest_path.startswith("/") else guest_path


def check_imports(image: ne.NeImage) -> None:
    if image.target_os == 2:
        raise ImageError("a 16-bit Windows program (its NE header says Windows), not an OS/2 one")
    for module in image.modules:
        if module.upper() not in MODULE_IDS:
            raise ImageError(f"imports from {module}, a module ntsim does not provide "
                             f"(it provides {', '.join(MODULES.values())})")


def bind_imports(image: ne.NeImage, rows: dict[int, Any], errors: Any, warn_name: str) -> dict[Any, int]:
    """The call number of each import, (module, ordinal or name) -> number; an import
    ntsim does not implement is a warning now (calling it stops the program)."""
    by_name = {(row.number >> 16, row.name.upper()): row.number for row in rows.values()}
    bound: dict[Any, int] = {}
    for module, what in image.imports():
        module_id = MODULE_IDS[module.upper()]
        if isinstance(what, str):
            number = by_name.get((module_id, what.upper()))
            if number is None:
                number = UNKNOWN << 16 | len(errors.labels)
                errors.labels[number] = f"{module.upper()}.{what}"
        else:
            number = module_id << 16 | what
        bound[(module, what)] = number
        row = rows.get(number)
        if row is None or row.handler is None:
            label = errors.unknown_name(number) if row is None else f"{module.upper()}.{row.name}"
            print(f"ntsim: os2: {warn_name} imports {label}, which ntsim does not implement "
                  "(the program stops if it calls it)", file=sys.stderr)
    return bound


def load(kernel: Any, process: Any, image: ne.NeImage, rows: dict[int, Any], errors: Any,
         argv: list[str], env: list[str], guest_path: str) -> Os2Process:
    """Lay the image out in the (current, new) process and set its registers."""
    nt = kernel.services
    cpu = process.cpu
    name = program_name(guest_path)
    bound = bind_imports(image, rows, errors, name.rsplit("\\", 1)[-1])
    # the tiled area, reserved whole as NT's OS/2 subsystem did (segments commit into it),
    # and the descriptor tables above it (no selector reaches them)
    nt.NtAllocateVirtualMemory(NtCurrentProcess, TILE, (FIRST_SHARED << TILE_SHIFT) - TILE, MEM_RESERVE,
                               PAGE_READWRITE, tag="tiled area (16-bit segments)")
    nt.NtAllocateVirtualMemory(NtCurrentProcess, FIRST_SHARED << TILE_SHIFT,
                               (LAST_SHARED + 1 - FIRST_SHARED) << TILE_SHIFT, MEM_RESERVE, PAGE_READWRITE,
                               tag="tiled area (shared segments)")
    nt.NtAllocateVirtualMemory(NtCurrentProcess, TABLES_BASE, TILE + 0x1000, MEM_RESERVE | MEM_COMMIT,
                               PAGE_READWRITE, tag="GDT and LDT")
    ldt = DescriptorTable("LDT", TABLES_BASE, LDT_ENTRIES)
    gdt = DescriptorTable("GDT", TABLES_BASE + TILE, GDT_ENTRIES)
    gdt[LDT_SLOT] = SegmentDescriptor.local_descriptor_table(ldt.base, ldt.limit)
    os2 = Os2Process(image, guest_path, ldt, gdt)

    # 1. the segments (entry n for segment n), the automatic data segment grown
    segment_bytes: dict[int, bytearray] = {}
    sizes: dict[int, int] = {}
    for segment in image.segments:
        size = segment.size
        if segment.number == image.autodata:
            size = segment.minimum + image.heap_size + (image.stack_size if image.ss == image.autodata else 0)
            if size > TILE:
                raise ImageError(f"the automatic data segment ({segment.minimum} bytes) with its heap "
                                 f"({image.heap_size}) and stack ({image.stack_size}) exceeds 64 KiB")
            size = size or TILE
        elif segment.number == image.ss and image.sp == 0:
            size = min(TILE, (segment.minimum or 0) + image.stack_size) or TILE
        sizes[segment.number] = size
        segment_bytes[segment.number] = bytearray(segment.data)
        selector = allocate_segment(kernel, os2, size, code=not segment.is_data,
                                    tag=f"segment {segment.number}", index=segment.number)
        os2.selectors[segment.number] = selector

    # 2. the thunk segment: one stub per import
    slots: dict[int, int] = {}
    for number in bound.values():
        if number not in slots:
            slots[number] = len(os2.thunks)
            os2.thunks.append(number)
    stubs = bytearray()
    for number in os2.thunks:
        row = rows.get(number)
        pops = sum(arg.type.size for arg in row.args) if row is not None else 0
        stubs += bytes([0xCD, THUNK_VECTOR, 0xCA]) + struct.pack("<H", pops) + b"\x90\x90\x90"
    # and one more: where a signal handler's far return lands (signals.py restores the
    # registers the signal interrupted)
    os2.signal_return = len(stubs) + 2
    stubs += bytes([0xCD, THUNK_VECTOR]) + b"\x90" * (THUNK_SIZE - 2)
    os2.thunk_selector = allocate_segment(kernel, os2, max(len(stubs), 1), code=True, tag="thunks")
    process.memory.write(tiled_base(os2.thunk_selector), bytes(stubs))

    # 3. the relocations
    for segment in image.segments:
        data = segment_bytes[segment.number]
        for index, relocation in enumerate(segment.relocations, 1):
            selector, offset = _target(image, os2, relocation, bound, slots, segment.number, index)
            for at in ne.chain(data, relocation):
                _patch(data, at, relocation, selector, offset)
        process.memory.write(tiled_base(os2.selectors[segment.number]), bytes(data))

    # 4. the environment and command line, the registers
    os2.environment, os2.command_line = _environment(kernel, os2, name, argv, env)
    if image.autodata:
        os2.autodata = os2.selectors[image.autodata]
        os2.autodata_size = sizes[image.autodata]
    if image.ss == 0 and not image.autodata:
        raise ImageError("SS is the automatic data segment, and the image has none")
    ss_number = image.ss or image.autodata
    for what, number, data in (("CS", image.cs, False), ("SS", ss_number, True),
                               ("the automatic data segment", image.autodata, True)):
        if number and image.segments[number - 1].is_data != data:
            raise ImageError(f"{what} is segment {number}, a {'data' if not data else 'code'} segment")
    sp = image.sp or (sizes[ss_number] & 0xFFFF)
    # (through the memory manager first: its pages get their frames, then the processor's copy)
    process.memory.write(ldt.base, ldt.image())
    process.memory.write(gdt.base, gdt.image())
    cpu.load_descriptor_tables(gdt, ldt, ldt_selector=gdt.selector(LDT_SLOT, rpl=0))
    cpu.enter_user_mode(cs=os2.selectors[image.cs], ip=image.ip, ss=os2.selectors[ss_number], sp=sp,
                        ds=os2.autodata)
    for register, value in (("ax", os2.environment), ("bx", os2.command_line),
                            ("cx", os2.autodata_size & 0xFFFF), ("dx", 0), ("si", 0), ("di", 0), ("bp", 0)):
        cpu.write_register(register, value)
    return os2


def tiled_base(selector: int) -> int:
    return (selector >> 3) << TILE_SHIFT


def allocate_segment(kernel: Any, os2: Os2Process, size: int, *, code: bool = False, tag: str = "",
                     index: int | None = None) -> int:
    """A new LDT entry and its tile: `size` bytes committed in the segment's 64 KiB of
    the tiled area (the rest stays reserved, for DosReallocSeg to grow into). Returns
    the selector (ring 3, LDT). `tag` is for the reader of a trace."""
    ldt = os2.ldt
    if index is None:
        index = next((i for i in range(1, FIRST_SHARED) if i not in os2.limits and not _reserved(os2, i)), None)
        if index is None:
            raise MemoryError("the LDT is full")
    nt = kernel.services
    base = index << TILE_SHIFT
    nt.NtAllocateVirtualMemory(NtCurrentProcess, base, page_ceil(size), MEM_COMMIT,
                               PAGE_EXECUTE_READ if code else PAGE_READWRITE)
    descriptor = (SegmentDescriptor.code16 if code else SegmentDescriptor.data16)(base, size - 1)
    ldt[index] = descriptor
    os2.limits[index] = descriptor.limit
    cpu = kernel.current_thread.process.cpu
    if cpu.ldtr[1] == ldt.base:        # already loaded: the processor's copy too
        cpu.set_descriptor(ldt, index, descriptor)
    return ldt.selector(index)


def _reserved(os2: Os2Process, index: int) -> bool:
    """An image's segment numbers are kept for its segments (LDT entry n = segment n)."""
    return index <= len(os2.image.segments)


def _target(image: ne.NeImage, os2: Os2Process, relocation: ne.Relocation, bound: dict, slots: dict,
            number: int, index: int) -> tuple[int, int]:
    where = f"segment {number} relocation {index}"
    kind = relocation.kind
    if kind == ne.INTERNAL:
        if relocation.target1 == ne.MOVABLE_SEGMENT:
            entry = image.entries.get(relocation.target2)
            if entry is None:
                raise ImageError(f"{where} refers to entry {relocation.target2}, which the entry table lacks")
            return os2.selectors[entry.segment], entry.offset
        return os2.selectors[relocation.target1], relocation.target2
    if kind in (ne.IMPORT_ORDINAL, ne.IMPORT_NAME):
        module = image.modules[relocation.target1 - 1]
        what = relocation.target2 if kind == ne.IMPORT_ORDINAL else image.imported_name(relocation.target2)
        return os2.thunk_selector, slots[bound[(module, what)]] * THUNK_SIZE
    raise ImageError(f"{where}: an OS fixup (type {relocation.target1}, floating-point emulation) "
                     "is not supported")


def _patch(data: bytearray, at: int, relocation: ne.Relocation, selector: int, offset: int) -> None:
    """Write the target at one location, as the address type says (added to what is
    there, for an additive fixup)."""
    kind, additive = relocation.address_type, relocation.additive
    if kind == ne.LOW_BYTE:
        data[at] = (offset + (data[at] if additive else 0)) & 0xFF
    elif kind == ne.SELECTOR:
        old = struct.unpack_from("<H", data, at)[0] if additive else 0
        struct.pack_into("<H", data, at, (selector + old) & 0xFFFF)
    elif kind == ne.OFFSET16:
        old = struct.unpack_from("<H", data, at)[0] if additive else 0
        struct.pack_into("<H", data, at, (offset + old) & 0xFFFF)
    elif kind == ne.FAR_POINTER:
        old = struct.unpack_from("<H", data, at)[0] if additive else 0
        struct.pack_into("<HH", data, at, (offset + old) & 0xFFFF, selector)
    elif kind == ne.OFFSET32:
        old = struct.unpack_from("<I", data, at)[0] if additive else 0
        struct.pack_into("<I", data, at, (offset + old) & 0xFFFF_FFFF)
    elif kind == ne.FAR_POINTER32:
        old = struct.unpack_from("<I", data, at)[0] if additive else 0
        struct.pack_into("<IH", data, at, (offset + old) & 0xFFFF_FFFF, selector)


def environment_block(name: str, argv: list[str], env: list[str]) -> tuple[bytes, int]:
    """The environment segment's contents: "VAR=value\\0" strings, a \\0, then the
    command line "PROGRAM\\0arguments\\0\\0" (its offset is returned too)."""
    block = b"".join(entry.encode("cp437", "replace") + b"\0" for entry in env) or b"\0"
    block += b"\0"
    command_line = len(block)
    arguments = " ".join(argv[1:]).encode("cp437", "replace")
    block += name.encode("cp437", "replace") + b"\0" + arguments + b"\0\0"
    return block, command_line


def _environment(kernel: Any, os2: Os2Process, name: str, argv: list[str], env: list[str]) -> tuple[int, int]:
    block, offset = environment_block(name, argv, env)
    if len(block) > ENVIRONMENT_LIMIT:
        raise ImageError(f"the environment and command line take {len(block)} bytes "
                         f"(at most {ENVIRONMENT_LIMIT})")
    selector = allocate_segment(kernel, os2, len(block), tag="environment")
    kernel.current_thread.process.memory.write(tiled_base(selector), block)
    return selector, offset
