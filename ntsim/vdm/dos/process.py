"""DOS programs: loading (COM and MZ), the PSP and environment, EXEC, and the ways out.

INT 21h AH=00h, 31h, 4Bh, 4Ch, 4Dh, 50h, 51h, 62h; INT 20h and 27h.

A program gets a *program segment prefix* (the PSP: 256 bytes in front of it, at the
start of its memory block) and an *environment* block (its own MCB): "NAME=value" strings
ending in an empty one, then a word 1 and the program's full path. The PSP's layout is
DOS's, because programs read it directly:

    00h  INT 20h            02h  the segment just past its memory   0Ah-15h  INT 22h-24h
    16h  the parent's PSP   18h  the job file table (20 handles)    2Ch  the environment
    2Eh  SS:SP at the last INT 21h  32h/34h  the JFT's size and address
    50h  INT 21h; RETF      5Ch/6Ch  two FCBs from the first arguments  80h  the command tail

EXEC (AH=4Bh AL=00h) loads a child the same way *into the same machine*: no new NT
process, no Nt* call beyond reading the file — the parent waits inside EXEC, its
registers kept here, until the child ends; then AH=4Dh gives the child's exit code.
(The first program ending ends the VDM process, with its code as the exit status.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...kernel.io import (
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_READ_DATA,
    SYNCHRONIZE,
    FileStandardInformation,
)
from ...kernel.status import NtStatusError
from ...subsystems.base import ImageError, call
from ..calls import ERROR_BAD_FORMAT, ERROR_INVALID_FUNCTION, ERROR_NOT_ENOUGH_MEMORY, DosError, Reg
from ..image import PARAGRAPH, DosImage, parse
from ..machine import stub_address
from . import files, memory, names
from .files import Path, dos_error, path_at

DEFAULT_ENVIRONMENT = b"COMSPEC=C:\\COMMAND.COM\x00PATH=C:\\\x00PROMPT=$P$G\x00"
ENVIRONMENT_LIMIT = 0x8000
TERMINATE_NORMAL, TERMINATE_CTRL_C, TERMINATE_CRITICAL, TERMINATE_RESIDENT = 0, 1, 2, 3
INTERRUPTS_ON = 0x0202                       # FLAGS: IF, and the bit that always reads 1
_SAVED = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "ds", "es", "fs", "gs", "ss",
          "cs", "ip", "flags")


@dataclass
class SavedParent:
    """A program waiting in EXEC for its child."""

    psp: int
    registers: dict[str, int]
    via_stub: bool
    dta: tuple[int, int]


@dataclass
class Loaded:
    psp: int
    cs: int
    ip: int
    ss: int
    sp: int


# --- building a program's memory ------------------------------------------------------------

def environment_strings(vm: Any, segment: int) -> bytes:
    """The NAME=value strings of an environment block (up to its empty string)."""
    data = bytes(vm.ram[segment << 4:(segment << 4) + ENVIRONMENT_LIMIT])
    end = data.find(b"\x00\x00")
    if end < 0:
        raise DosError(0x0A, f"the environment at {segment:04X}h has no end")
    return data[:end + 1] if end > 0 else b""


def build_environment(vm: Any, strings: bytes, program: str, owner: int) -> int:
    block = strings + b"\x00" + b"\x01\x00" + program.encode("cp437") + b"\x00"
    paragraphs = (len(block) + PARAGRAPH - 1) // PARAGRAPH
    segment = memory.allocate(vm, paragraphs, owner)
    vm.write(segment, 0, block)
    return segment


def build_psp(vm: Any, psp: int, top: int, parent: int, environment: int, tail: bytes,
              return_to: tuple[int, int]) -> None:
    """The PSP at `psp`, its job file table inherited from `parent` (0: the standard
    devices, for the first program)."""
    header = bytearray(0x100)
    header[0:2] = b"\xcd\x20"
    header[2:4] = top.to_bytes(2, "little")
    header[5] = 0x9A                      # CALL FAR to DOS (CP/M's entry): not supported
    header[6:10] = b"\xf0\xfe\x1d\xf0"
    for at, vector in ((0x0A, 0x22), (0x0E, 0x23), (0x12, 0x24)):
        segment, offset = return_to if vector == 0x22 else vm.vector(vector)
        header[at:at + 4] = offset.to_bytes(2, "little") + segment.to_bytes(2, "little")
    header[0x16:0x18] = (parent or psp).to_bytes(2, "little")
    header[0x18:0x2C] = b"\xff" * files.JFT_SIZE
    header[0x2C:0x2E] = environment.to_bytes(2, "little")
    header[0x32:0x34] = files.JFT_SIZE.to_bytes(2, "little")
    header[0x34:0x38] = (0x18).to_bytes(2, "little") + psp.to_bytes(2, "little")
    header[0x38:0x3C] = b"\xff\xff\xff\xff"
    header[0x40:0x42] = bytes((5, 0))     # the DOS version SETVER would report
    header[0x50:0x53] = b"\xcd\x21\xcb"
    tail = tail[:126]
    header[0x80] = len(tail)
    header[0x81:0x81 + len(tail)] = tail
    header[0x81 + len(tail)] = 0x0D
    arguments = tail.split()
    for at, argument in ((0x5C, arguments[0] if arguments else b""),
                         (0x6C, arguments[1] if len(arguments) > 1 else b"")):
        drive, name, _, _ = names.parse_fcb_name(argument)
        header[at] = drive
        header[at + 1:at + 12] = name
    vm.write(psp, 0, bytes(header))
    _inherit_handles(vm, psp, parent)


def _inherit_handles(vm: Any, psp: int, parent: int) -> None:
    table = (psp << 4) + 0x18
    if not parent:
        for handle, index in enumerate((0, 0, 0, 1, 2)):     # CON x3, AUX, PRN
            vm.ram[table + handle] = index
        return
    parent_table, size = files.jft(vm, parent)
    for handle in range(min(size, files.JFT_SIZE)):
        index = vm.ram[parent_table + handle]
        entry = vm.dos.sft[index] if index < len(vm.dos.sft) else None
        if entry is not None and not entry.private:
            vm.ram[table + handle] = index
            entry.references += 1


def load_program(vm: Any, image: DosImage, program: str, tail: bytes, parent: int,
                 environment: bytes, return_to: tuple[int, int] | None = None) -> Loaded:
    """Allocate the environment and the program's block, build the PSP, copy the
    program and fix its relocations; returns where it starts. DosError 8 if it does
    not fit (memory is left as it was)."""
    minimum, wanted = image.paragraphs_needed()
    env = build_environment(vm, environment, program, vm.dos.psp or 0x0008)
    largest = memory.largest_free(vm)
    if largest < minimum:
        memory.free(vm, env)
        raise DosError(ERROR_NOT_ENOUGH_MEMORY, f"the program needs {minimum * PARAGRAPH:,} bytes; "
                       f"{largest * PARAGRAPH:,} are free")
    size = min(wanted, largest)
    base = program.rsplit("\\", 1)[-1].split(".")[0].encode("cp437")
    psp = memory.allocate(vm, size, 0, base)
    vm.set_word(((psp - 1) << 4) + 1, psp)              # a program owns its own block
    vm.set_word(((env - 1) << 4) + 1, psp)              # ... and its environment
    vm.ram[((env - 1) << 4) + 8:((env - 1) << 4) + 16] = base[:8].ljust(8, b"\x00")
    memory.note_use(vm)
    build_psp(vm, psp, psp + size, parent, env, tail, return_to or stub_address(0x22))
    if image.kind == "COM":
        vm.write(psp, 0x100, image.module)
        sp = min(0xFFFE, size * PARAGRAPH - 2)
        vm.set_word((psp << 4) + sp, 0)                 # RET reaches PSP:0000, INT 20h
        return Loaded(psp, psp, 0x100, psp, sp)
    load = psp + 0x10
    vm.write(load, 0, image.module)
    relocate(vm, image, load, load)
    header = image.header
    return Loaded(psp, (load + header.e_cs) & 0xFFFF, header.e_ip, (load + header.e_ss) & 0xFFFF,
                  header.e_sp)


def relocate(vm: Any, image: DosImage, load: int, factor: int) -> None:
    """Add `factor` to every word the relocation table names (segment:offset in the
    module loaded at `load`)."""
    for segment, offset in image.relocations:
        at = ((load + segment) << 4) + offset
        vm.set_word(at, (vm.word(at) + factor) & 0xFFFF)


def start(vm: Any, loaded: Loaded, image_kind: str) -> None:
    """Registers as DOS leaves them when a program starts."""
    vm.set(ax=0, bx=0, cx=0x00FF, dx=loaded.psp, si=loaded.ip, di=loaded.sp, bp=0x091C,
           ds=loaded.psp, es=loaded.psp, ss=loaded.ss, sp=loaded.sp)
    vm.cpu.flags = INTERRUPTS_ON              # IF set: the timer's and keyboard's IRQs come in
    vm.cpu.jump(loaded.cs, loaded.ip)
    vm.dos.psp = loaded.psp
    vm.dos.dta = (loaded.psp, 0x80)


# --- EXEC ---------------------------------------------------------------------------------------

def read_program(vm: Any, parts: list[str]) -> DosImage:
    """A program file from C:, read through Nt* calls and checked."""
    if not parts:
        raise DosError(0x02, "no program name")
    try:
        handle = vm.nt.NtCreateFile(names.nt_path(parts), FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN,
                                    FILE_NON_DIRECTORY_FILE)
    except NtStatusError as error:
        raise DosError(dos_error(error), str(error)) from None
    try:
        size = vm.nt.NtQueryInformationFile(handle, FileStandardInformation).EndOfFile
        data = vm.nt.NtReadFile(handle, size) if size else b""
    finally:
        vm.nt.NtClose(handle)
    try:
        return parse(data, is_com=data[:2] not in (b"MZ", b"ZM"))
    except ImageError as error:
        raise DosError(ERROR_BAD_FORMAT, str(error)) from None


def save_registers(vm: Any) -> dict[str, int]:
    return {name: vm.reg(name) for name in _SAVED}


def restore_registers(vm: Any, registers: dict[str, int]) -> None:
    for name in _SAVED:
        if name not in ("cs", "ip"):
            vm.cpu.write_register(name, registers[name])
    vm.cpu.jump(registers["cs"], registers["ip"])


def execute(vm: Any, al: int, bx: int, dx: int, ds: int, es: int) -> Any:
    """AH=4Bh: AL=00h load and run the program at DS:DX with the parameter block at ES:BX
    (environment segment, command tail, two FCBs); AL=03h load an overlay (ES:BX: the
    load segment and the relocation factor)."""
    function = al & 0xFF
    if function not in (0x00, 0x03):
        raise DosError(ERROR_INVALID_FUNCTION, f"EXEC AL={function:02X}h (only 00h and 03h)")
    parts = path_at(vm, ds, dx)
    image = read_program(vm, parts)
    block = (es << 4) + bx
    if function == 0x03:
        load, factor = vm.word(block), vm.word(block + 2)
        vm.write(load, 0, image.module)
        relocate(vm, image, load, factor)
        return 0
    env_segment = vm.word(block)
    tail_segment, tail_offset = vm.far_pointer(block + 2)
    length = vm.read(tail_segment, tail_offset, 1)[0] & 0x7F
    tail = vm.read(tail_segment, tail_offset + 1, length)
    strings = environment_strings(vm, env_segment or vm.word((vm.dos.psp << 4) + 0x2C))
    dos = vm.dos
    parent = dos.psp
    saved = SavedParent(parent, save_registers(vm), vm.via_stub, dos.dta)
    vm.set_word((parent << 4) + 0x2E, vm.reg("sp"))
    vm.set_word((parent << 4) + 0x30, vm.reg("ss"))
    loaded = load_program(vm, image, names.dos_path(parts), tail, parent, strings,
                          (vm.reg("cs"), vm.reg("ip")))
    for at, pointer in ((0x5C, block + 6), (0x6C, block + 10)):
        segment, offset = vm.far_pointer(pointer)
        if segment or offset:
            vm.write(loaded.psp, at, vm.read(segment, offset, 16 if at == 0x5C else 20))
    dos.parents.append(saved)
    start(vm, loaded, image.kind)
    vm.via_stub = False
    return None                           # the child runs now; the parent's EXEC returns later


def terminate(vm: Any, code: int, how: int = TERMINATE_NORMAL, keep: int | None = None) -> None:
    """The current program ends: its vectors 22h-24h come back, its handles close and its
    memory is freed (unless it stays resident); its parent's EXEC returns — or, for the
    first program, the VDM process exits with `code`."""
    dos = vm.dos
    psp = dos.psp
    base = psp << 4
    vm.ctrl_c_frame = None
    for at, vector in ((0x0A, 0x22), (0x0E, 0x23), (0x12, 0x24)):
        segment, offset = vm.far_pointer(base + at)
        vm.set_vector(vector, segment, offset)
    if keep is None:
        table, size = files.jft(vm, psp)
        for handle in range(size):
            index = vm.ram[table + handle]
            if index != files.FREE:
                vm.ram[table + handle] = files.FREE
                files.drop_reference(vm, index)
        memory.free_owned_by(vm, psp)
    else:
        try:
            memory.resize(vm, psp, max(keep, 6))
        except DosError:
            pass                          # keeps what it has
    if not dos.parents:
        vm.finish(code & 0xFF)
        return
    parent = dos.parents.pop()
    dos.return_code = (how << 8) | (code & 0xFF)
    dos.psp, dos.dta = parent.psp, parent.dta
    restore_registers(vm, parent.registers)
    vm.via_stub = parent.via_stub
    vm.set_flag(0x0001, False)            # the parent's EXEC succeeded


def exit_program(vm: Any, al: int) -> None:
    """AH=4Ch: end the program with exit code AL."""
    terminate(vm, al & 0xFF)


def terminate_old(vm: Any) -> None:
    """AH=00h: end the program (DOS 1's way; CS must be its PSP)."""
    terminate(vm, 0)


def stay_resident(vm: Any, al: int, dx: int) -> None:
    """AH=31h: end the program, keeping DX paragraphs of its memory resident."""
    terminate(vm, al & 0xFF, TERMINATE_RESIDENT, dx)


def return_code(vm: Any) -> int:
    """AH=4Dh: AL = the last child's exit code, AH = how it ended (0 normally, 1 by
    Ctrl+C, 2 by a critical error, 3 resident); read once, as DOS does."""
    code, vm.dos.return_code = vm.dos.return_code, 0
    vm.set(ax=code)
    return code


def get_psp(vm: Any) -> int:
    """AH=51h / 62h: BX = the current program's PSP."""
    vm.set(bx=vm.dos.psp)
    return vm.dos.psp


def set_psp(vm: Any, bx: int) -> int:
    """AH=50h: the current PSP is BX (a TSR switching to itself)."""
    vm.dos.psp = bx
    return bx


def int20_terminate(vm: Any) -> None:
    """INT 20h: end the program (exit code 0)."""
    terminate(vm, 0)


def int27_stay_resident(vm: Any, dx: int) -> None:
    """INT 27h: end the program, keeping DX bytes from its PSP resident."""
    terminate(vm, 0, TERMINATE_RESIDENT, (dx + PARAGRAPH - 1) // PARAGRAPH)


ROWS = [
    call(0x00, "terminate program", terminate_old),
    call(0x31, "terminate and stay resident", stay_resident, ("al", Reg(2)), ("dx", Reg())),
    call(0x4B, "EXEC", execute, ("al", Reg(2)), ("bx", Reg()), ("dx", Path()), ("ds", Reg()),
         ("es", Reg()), level="partial", note="AL=00h load and execute, 03h load overlay; "
         "01h (load, do not run) is not supported"),
    call(0x4C, "terminate with exit code", exit_program, ("al", Reg(2))),
    call(0x4D, "get return code", return_code),
    call(0x50, "set PSP", set_psp, ("bx", Reg())),
    call(0x51, "get PSP", get_psp),
    call(0x62, "get PSP address", get_psp),
]
INT20_ROWS = [call(0, "terminate", int20_terminate)]
INT27_ROWS = [call(0, "terminate and stay resident", int27_stay_resident, ("dx", Reg()))]
