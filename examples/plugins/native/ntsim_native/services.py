"""The system services this personality exposes: one declarative row per service.

A row is: number, name, typed arguments, support level, note, handler. The same rows
drive the call gate (through `dispatcher.py`), the trace (arguments decode from their types),
`ntsim calls native`, and `native.inc`, the include file the guest's stubs are assembled
with (`python -m ntsim_native > native.inc`), so the numbers cannot drift.

Numbering. These are *this personality's* numbers, not indexes into ntsim's
`SERVICE_TABLE`: that table is numbered in the order `kernel/services.py` declares its
services, which changes whenever a service is added, and a committed binary would then
call the wrong one. Real NT has the same problem — service numbers change between builds
— which is why Windows programs call ntdll.dll's stubs instead of issuing `syscall`
themselves. Here a number, once given, is never changed or reused; 0 is never a
service, so a forgotten `mov eax, ...` fails loudly.

Arguments. The x64 NT convention: EAX the number; R10, RDX, R8, R9 the first four
arguments (an ntdll stub does `mov r10, rcx`, because `syscall` overwrites RCX); the
fifth and later on the caller's stack at RSP+0x28, RSP+0x30, ... as seen at the
`syscall` instruction (RSP+0 holds the stub's return address, RSP+0x08..0x27 the four
home slots). The status comes back in EAX (an NTSTATUS, negative on failure).

The argument lists follow NT's, reduced to synchronous I/O: no Event, ApcRoutine,
ApcContext or Key; an object name travels as a (pointer, length) pair of UTF-8 bytes —
the Buffer and Length of the UNICODE_STRING that an OBJECT_ATTRIBUTES would point to.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ntsim.kernel import io
from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.objects import OBJ_CASE_INSENSITIVE
from ntsim.kernel.services import Access, HandleArg, NtCurrentProcess
from ntsim.kernel.status import (
    NTSTATUS,
    STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_SUCCESS,
    NtStatusError,
)
from ntsim.subsystems.base import SUPPORTED, Call, CallRow, call
from ntsim.trace import ArgType, Buffer, Enum, Flags, Int

from .image import IMAGE_BASE

if TYPE_CHECKING:
    from .dispatcher import NativeThread

MAXIMUM_NAME_LENGTH = 0xFFFE                   # a UNICODE_STRING's Length is a USHORT
FILE_USE_FILE_POINTER_POSITION = -2            # a ByteOffset that means "the current one"


def ulong(value: int) -> int:
    """A ULONG argument: the low 32 bits of its register."""
    return value & 0xFFFF_FFFF


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# --- argument types: how the trace shows each argument --------------------------------------


class CountedString(ArgType):
    """A string given as (pointer, length): the length is the argument named `length`."""

    def __init__(self, length: str) -> None:
        self.length = length

    def decode(self, value, ctx):
        size = int(ctx.raw.get(self.length, 0)) & 0xFFFF_FFFF
        if not value or size > MAXIMUM_NAME_LENGTH:
            return hex(int(value))
        # shown bare, as the NT layer shows ObjectName: backslashes stay single
        return ctx.read(int(value), size).decode("utf-8", "backslashreplace")


class HandleOut(ArgType):
    """A PHANDLE the service fills: shown after the call as [handle (object)]."""

    output = True

    def decode(self, value, ctx):
        handle = int.from_bytes(ctx.read(int(value), 8), "little")
        return f"[{HandleArg().decode(handle, ctx)}]"


class IoStatusBlockOut(ArgType):
    """An IO_STATUS_BLOCK the service fills: {Status, Information}."""

    output = True

    def decode(self, value, ctx):
        status, information = struct.unpack("<QQ", ctx.read(int(value), 16))
        return f"{{Status={NTSTATUS(status).name}, Information={information}}}"


class LargeIntegerIn(ArgType):
    """A PLARGE_INTEGER that may be NULL: shown as NULL or [value]."""

    def decode(self, value, ctx):
        if not value:
            return "NULL"
        return f"[{signed64(int.from_bytes(ctx.read(int(value), 8), 'little'))}]"


class StatusIn(ArgType):
    """An NTSTATUS argument: by name when it has one."""

    def decode(self, value, ctx):
        name = NTSTATUS(int(value)).name
        return name if name.startswith("STATUS_") else ulong(int(value))


HandleIn = HandleArg()
DispositionIn = Enum(io.DISPOSITIONS)
CreateOptionsIn = Flags(io.CREATE_OPTIONS)


# --- the handlers: guest values in, Nt* services underneath, an NTSTATUS out ----------------


def completing(get: Callable[[], object], finish: Callable[[object], NTSTATUS]) -> NTSTATUS:
    """`finish(get())`; if the service under `get` must wait, `finish` runs when the wait
    completes instead (the dispatcher parks the thread meanwhile)."""
    try:
        value = get()
    except WaitPending as pending:
        pending.wrap(lambda inner: completing(inner, finish))
        raise
    return finish(value)


def NtCreateFile(caller: NativeThread, FileHandle: int, DesiredAccess: int, ObjectName: int,
                 ObjectNameLength: int, CreateDisposition: int, CreateOptions: int) -> NTSTATUS:
    """Open or create a file, directory or device by its NT name; *FileHandle = the handle."""
    caller.probe_for_write(FileHandle, 8)
    length = ulong(ObjectNameLength)
    if not 0 < length <= MAXIMUM_NAME_LENGTH:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, f"name length {length}")
    try:
        name = caller.read(ObjectName, length).decode("utf-8")
    except UnicodeDecodeError:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "the name is not UTF-8") from None
    # Names are case-insensitive (OBJ_CASE_INSENSITIVE), as Win32 opens them.
    handle = caller.nt.NtCreateFile(name, ulong(DesiredAccess), ulong(CreateDisposition),
                                    ulong(CreateOptions), OBJ_CASE_INSENSITIVE)
    caller.write_u64(FileHandle, handle)
    return STATUS_SUCCESS


def NtWriteFile(caller: NativeThread, FileHandle: int, IoStatusBlock: int, Buffer: int,
                Length: int, ByteOffset: int) -> NTSTATUS:
    """Write Length bytes from Buffer, at *ByteOffset or the file's position (NULL);
    IoStatusBlock->Information = the bytes written."""
    caller.probe_for_write(IoStatusBlock, 16)
    data = caller.read(Buffer, ulong(Length))
    offset = None
    if ByteOffset:
        offset = signed64(caller.read_u64(ByteOffset))
        if offset == FILE_USE_FILE_POINTER_POSITION:
            offset = None
        elif offset < 0:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"ByteOffset {offset}")

    def finish(written) -> NTSTATUS:
        caller.write_io_status(IoStatusBlock, STATUS_SUCCESS, int(written))
        return STATUS_SUCCESS

    return completing(lambda: caller.nt.NtWriteFile(FileHandle, data, offset), finish)


def NtClose(caller: NativeThread, Handle: int) -> NTSTATUS:
    """Close a handle."""
    return caller.nt.NtClose(Handle)


def NtTerminateProcess(caller: NativeThread, ProcessHandle: int, ExitStatus: int) -> NTSTATUS:
    """End a process (NtCurrentProcess, -1: this one) with ExitStatus as its exit code."""
    return caller.nt.NtTerminateProcess(ProcessHandle, ulong(ExitStatus))


# --- the table ------------------------------------------------------------------------------


def service(number: int, handler: Callable[..., NTSTATUS], *args: tuple[str, ArgType],
            level: str = SUPPORTED, note: str = "") -> Call:
    """A row of the call gate's kind (ntsim.subsystems.base.Call); its name is its
    handler's, so the table, the handler and the guest's stub all say the same name."""
    return call(number, handler.__name__, handler, *args, level=level, note=note)


TABLE: tuple[Call, ...] = (
    service(0x01, NtCreateFile, ("FileHandle", HandleOut()), ("DesiredAccess", Access),
            ("ObjectName", CountedString("ObjectNameLength")), ("ObjectNameLength", Int()),
            ("CreateDisposition", DispositionIn), ("CreateOptions", CreateOptionsIn),
            note="ObjectAttributes as (ObjectName, ObjectNameLength) in UTF-8; no "
                 "IoStatusBlock, AllocationSize, FileAttributes, ShareAccess or EAs"),
    service(0x02, NtWriteFile, ("FileHandle", HandleIn), ("IoStatusBlock", IoStatusBlockOut()),
            ("Buffer", Buffer("Length")), ("Length", Int()), ("ByteOffset", LargeIntegerIn()),
            note="synchronous: no Event, ApcRoutine, ApcContext or Key"),
    service(0x03, NtClose, ("Handle", HandleIn)),
    service(0x04, NtTerminateProcess, ("ProcessHandle", HandleIn), ("ExitStatus", StatusIn())),
)

BY_NUMBER: dict[int, Call] = {row.number: row for row in TABLE}
if len(BY_NUMBER) != len(TABLE) or 0 in BY_NUMBER:
    raise ValueError("service numbers must be unique, and 0 is never a service")


def call_rows() -> list[CallRow]:
    """The table as `ntsim calls native` prints it."""
    return [row.table_row() for row in TABLE]


# --- native.inc: the same table, for the assembler ------------------------------------------

# The constants a guest passes to these services, with ntsim's own values.
GUEST_CONSTANTS = {name: getattr(io, name) for name in (
    "FILE_READ_DATA", "FILE_WRITE_DATA", "FILE_APPEND_DATA", "SYNCHRONIZE",
    "GENERIC_READ", "GENERIC_WRITE",
    "FILE_SUPERSEDE", "FILE_OPEN", "FILE_CREATE", "FILE_OPEN_IF", "FILE_OVERWRITE",
    "FILE_OVERWRITE_IF",
    "FILE_DIRECTORY_FILE", "FILE_NON_DIRECTORY_FILE", "FILE_SYNCHRONOUS_IO_NONALERT")}


def nasm_include() -> str:
    """native.inc: service numbers, constants, and the NTSTUB macro (an ntdll-style stub)."""
    lines = [
        "; native.inc - generated from ntsim_native/services.py by",
        ";     python -m ntsim_native > native.inc",
        "; Do not edit: change the table and regenerate (`make include`).",
        "",
        f"%define NATIVE_IMAGE_BASE {IMAGE_BASE:#x}",
        f"%define NtCurrentProcess {signed64(NtCurrentProcess)}",
        "",
        "; service numbers (EAX at `syscall`)",
        *(f"%define SERVICE_{row.name} {row.number:#04x}" for row in TABLE),
        "",
        "; constants the services take",
        *(f"%define {name} {value:#x}" for name, value in GUEST_CONSTANTS.items()),
        "",
        "; NTSTUB NtName: the function NtName, as ntdll.dll has one per service. Call it",
        "; with the x64 convention (RCX, RDX, R8, R9, then [rsp+0x20].. at the call);",
        "; at its `syscall` the fifth argument is at [rsp+0x28]. Returns the NTSTATUS in EAX.",
        "%macro NTSTUB 1",
        "%1:",
        "        mov     r10, rcx",
        "        mov     eax, SERVICE_%1",
        "        syscall",
        "        ret",
        "%endmacro",
        "",
    ]
    return "\n".join(lines)
