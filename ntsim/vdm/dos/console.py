"""INT 21h AH=01h-0Ch: characters and lines on the console.

As in DOS, these read standard input and write standard output — handles 0 and 1 of
the current PSP — so a redirected handle (AH=46h) redirects them too. On CON, output is
teletype output on the console's screen (an NtDeviceIoControlFile to CSRSS, which also
passes it to the host's stdout), and input is key presses from the console's keyboard.
"""

from __future__ import annotations

from typing import Any

from ...kernel.dispatcher import then
from ...kernel.status import STATUS_END_OF_FILE, NtStatusError
from ...subsystems.base import PARTIAL, call
from ...trace import Quoted
from ..calls import Flagged, Reg
from ..machine import ZERO
from . import files

CTRL_Z, CR, LF, BACKSPACE = 0x1A, 0x0D, 0x0A, 0x08
CARRY = 0x0001

# The functions at which DOS looks for a Ctrl+C even with BREAK OFF (the console's
# character functions but AH=06h and 07h, the "direct", unchecked ones).
CHECKS_BREAK = frozenset((0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0B, 0x0C))


# --- Ctrl+C: the console's break, as DOS handles it ------------------------------------------
# CSRSS's Ctrl+C only sets the machine's break flag (`VdmPersonality.on_console_control`);
# DOS acts on it at its next chance — an INT 21h console function, or any INT 21h call
# with BREAK ON (AX=3301h) — by echoing ^C and issuing INT 23h with the caller's
# registers. DOS's own INT 23h ends the program (type 1 for its parent's AH=4Dh). A
# program's handler that IRETs (or RETFs with CF clear) has the interrupted call
# restarted; one that RETFs with CF set has the program ended, as DOS's does.

def break_due(vm: Any, ah: int) -> bool:
    """Is a Ctrl+C waiting that INT 21h function `ah` must act on?"""
    return vm.break_pending and (ah in CHECKS_BREAK or vm.dos.break_check)


def issue_ctrl_c(vm: Any) -> None:
    """At the trap of an `INT 21h`: echo ^C, then INT 23h, whose return comes back to
    that `INT 21h` — the call is issued again (see `returned_from_ctrl_c`)."""
    vm.break_pending = False
    write_stdout(vm, b"^C\r\n")
    cpu = vm.cpu
    cpu.jump(vm.reg("cs"), (vm.reg("ip") - 2) & 0xFFFF)   # back onto the INT 21h
    vm.set(flags=vm.reg("flags") & ~CARRY)               # so a plain IRET means "go on"
    vm.ctrl_c_frame = (vm.reg("ss"), vm.reg("sp"))
    cpu.deliver_interrupt(0x23)


def returned_from_ctrl_c(vm: Any) -> bool:
    """INT 21h trapped again after INT 23h: True if the program's handler
    asked (CF set) for the program to end, which this then does. A RETF leaves the
    IRET frame's FLAGS word on the stack: it is dropped, as DOS drops it."""
    ss, sp = vm.ctrl_c_frame
    now = vm.reg("sp")
    if vm.reg("ss") != ss or now not in (sp, (sp - 2) & 0xFFFF):
        return False                   # a call the handler itself made
    vm.ctrl_c_frame = None
    if now != sp:
        vm.set(sp=sp)
    if vm.reg("flags") & CARRY:
        from . import process
        process.terminate(vm, 0, process.TERMINATE_CTRL_C)
        return True
    return False


def write_stdout(vm: Any, data: bytes) -> int:
    return files.write_handle(vm, 1, data)


def read_character(vm: Any, echo: bool) -> Any:
    """One character from standard input: a key on CON (waiting for one), a byte from a
    file. At the end of input, Ctrl+Z (1Ah), DOS's end-of-file character."""
    entry = files.entry_for(vm, 0)
    if entry.kind != "CON":
        data = files.read_entry(vm, entry, 1)
        return data[0] if data else CTRL_Z

    def got(key: Any) -> int:
        character = key.character if key is not None else CTRL_Z
        if echo and character not in (0, 0xE0):
            write_stdout(vm, bytes((character,)))
        return character

    def key_or_end() -> Any:
        try:
            return vm.console.read_key(wait=True)
        except NtStatusError as error:
            if error.status == STATUS_END_OF_FILE:
                return None
            raise

    vm.screen_stale = True
    return then(key_or_end, got)


def read_character_echo(vm: Any) -> int:
    """AH=01h: read a character, echoing it; AL = the character."""
    return then(lambda: read_character(vm, echo=True), lambda c: _al(vm, c))


def read_character_raw(vm: Any) -> int:
    """AH=07h / 08h: read a character without echo; AL = the character."""
    return then(lambda: read_character(vm, echo=False), lambda c: _al(vm, c))


def _al(vm: Any, character: int) -> int:
    vm.set(al=character)
    return character


def write_character(vm: Any, dl: int) -> int:
    """AH=02h: write DL to standard output; AL = DL afterwards, as DOS leaves it."""
    write_stdout(vm, bytes((dl & 0xFF,)))
    vm.set(al=dl)
    return dl & 0xFF


def direct_console(vm: Any, dl: int) -> int:
    """AH=06h: DL=FFh reads a key if one is waiting (ZF clear, AL = it) or sets ZF;
    any other DL is written."""
    if dl & 0xFF != 0xFF:
        return write_character(vm, dl)
    entry = files.entry_for(vm, 0)
    if entry.kind == "CON":
        try:
            key = vm.console.read_key(wait=False)
        except NtStatusError:
            key = None
        character = None if key is None else key.character
    else:
        data = files.read_entry(vm, entry, 1)
        character = data[0] if data else None
    vm.set(al=character or 0)
    vm.set_flag(ZERO, character is None)
    return Flagged(character if character is not None else -1)


def write_string(vm: Any, ds: int, dx: int) -> int:
    """AH=09h: write the string at DS:DX up to its '$'."""
    text = vm.string(ds, dx, ord("$"), limit=0x10000 - dx)
    write_stdout(vm, text)
    vm.set(al=ord("$"))
    return len(text)


def read_line(vm: Any, ds: int, dx: int) -> int:
    """AH=0Ah: buffered input into DS:DX (byte 0: room, byte 1: count read, then the
    characters and a CR), echoed, with Backspace editing; ends at Enter."""
    room = vm.read(ds, dx, 1)[0]
    if room == 0:
        return 0
    line = bytearray()

    def step(character: int) -> Any:
        if character in (CR, CTRL_Z) or (character == LF and files.entry_for(vm, 0).kind != "CON"):
            vm.write(ds, dx + 1, bytes((len(line),)) + bytes(line) + b"\r")
            if character != CTRL_Z and files.entry_for(vm, 0).kind == "CON":
                write_stdout(vm, b"\r")
            return len(line)
        if character == BACKSPACE:
            if line:
                line.pop()
                write_stdout(vm, b"\b \b")
        elif character == LF:
            pass                       # a host line's LF after its CR
        elif len(line) < room - 1:
            line.append(character)
            write_stdout(vm, bytes((character,)))
        return then(lambda: read_character(vm, echo=False), step)

    return then(lambda: read_character(vm, echo=False), step)


def input_status(vm: Any) -> int:
    """AH=0Bh: AL=FFh if a character is waiting on standard input, else 00h."""
    entry = files.entry_for(vm, 0)
    if entry.kind == "CON":
        waiting = vm.console.peek_key() is not None
    else:
        waiting = files.bytes_left(vm, entry) > 0
    vm.set(al=0xFF if waiting else 0)
    return 0xFF if waiting else 0


def flush_and_read(vm: Any, al: int, dx: int, ds: int) -> Any:
    """AH=0Ch: drop the keys typed ahead, then do input function AL (01h, 06h, 07h,
    08h, 0Ah); any other AL only flushes."""
    if files.entry_for(vm, 0).kind == "CON":
        vm.console.flush_keys()
    function = al & 0xFF
    if function == 0x01:
        return read_character_echo(vm)
    if function == 0x06:
        return direct_console(vm, dx & 0xFF)
    if function in (0x07, 0x08):
        return read_character_raw(vm)
    if function == 0x0A:
        return read_line(vm, ds, dx)
    vm.set(al=0)
    return 0


class DollarString(Reg):
    """DS:DX of a '$'-terminated string: shown as the string (the DX argument)."""

    def decode(self, value, ctx):
        try:
            vm = ctx.process.data          # the VirtualDosMachine
            return Quoted(vm.string(ctx.raw.get("ds", 0), int(value), ord("$"), 80).decode("cp437"))
        except Exception:
            return f"{int(value):04X}h"


ROWS = [
    call(0x01, "read character with echo", read_character_echo, level=PARTIAL,
         note="a Ctrl+C typed while it waits is acted on once a key has come"),
    call(0x02, "write character", write_character, ("dl", Reg(2))),
    call(0x06, "direct console I/O", direct_console, ("dl", Reg(2))),
    call(0x07, "direct character input", read_character_raw),
    call(0x08, "character input", read_character_raw, level=PARTIAL,
         note="a Ctrl+C typed while it waits is acted on once a key has come"),
    call(0x09, "write string", write_string, ("ds", Reg()), ("dx", DollarString())),
    call(0x0A, "buffered input", read_line, ("ds", Reg()), ("dx", Reg()), level=PARTIAL,
         note="a Ctrl+C typed while it waits is acted on once a key has come"),
    call(0x0B, "input status", input_status),
    call(0x0C, "flush and read", flush_and_read, ("al", Reg(2)), ("dx", Reg()), ("ds", Reg())),
]
