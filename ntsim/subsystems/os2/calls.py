"""The table of DOSCALLS, VIOCALLS and KBDCALLS: one row per API the gate dispatches,
`ntsim calls os2` prints, and the tracer decodes — ordinal, name, typed arguments (their
stack widths make each thunk's RETF n), support level, and the path the call takes:
in-process (the client answers it, with Nt* calls where the kernel is needed) or LPC
to the OS2SS server.
"""

from __future__ import annotations

import struct
from typing import Any

from ...kernel.descriptors import NULL_DESCRIPTOR, SegmentDescriptor
from ...kernel.dispatcher import then
from ...kernel.memory import MEM_RELEASE, MEM_RESERVE
from ...kernel.services import NtCurrentProcess
from ...kernel.status import NtStatusError
from ..base import PARTIAL, UNSUPPORTED, Call, CallRow, call
from . import doscalls as dos
from . import viocalls as vio
from .errors import Os2Error
from .gate import LONG, MODULES, PSZ, PTR, TILE_SHIFT, WORD, FarBuffer, Os2Thread, number_of
from .server import (
    Os2AllocShrSeg,
    Os2CWait,
    Os2ExecPgm,
    Os2FreeShrSeg,
    Os2GetShrSeg,
    Os2KillProcess,
)

IN_PROCESS, LPC = "in-process", "LPC to OS2SS"


# --- the calls that go to the server ---------------------------------------------------------


def _request(caller: Os2Thread, api: int, body: dict, data: bytes, post) -> Any:
    def done(reply: Any) -> Any:
        if reply.Status:
            raise NtStatusError(reply.Status, "OS2SS")
        return post(reply.body)

    return then(lambda: caller.nt.NtRequestWaitReplyPort(caller.os2.port, api, body, data), done)


def _read_block(caller: Os2Thread, pointer: int, strings: int) -> bytes:
    """`strings` NUL-terminated strings ("prog\\0args\\0"), or up to a double NUL
    (an environment, strings=0), inside the pointer's segment."""
    start = caller.linear(pointer, 1)
    limit = caller.os2.limits[pointer >> 19] - (pointer & 0xFFFF) + 1
    raw = caller.memory.read(start, limit)
    if strings:
        end, found = 0, 0
        while found < strings:
            end = raw.find(b"\0", end)
            if end < 0:
                raise Os2Error(87, "argument strings not terminated")
            end += 1
            found += 1
        return raw[:end]
    end = raw.find(b"\0\0")
    if end < 0:
        raise Os2Error(87, "environment not terminated")
    return raw[:end + 1]


def dos_exec_pgm(caller: Os2Thread, fail_name: int, fail_length: int, flags: int, arguments: int,
                 environment: int, results: int, program: int) -> Any:
    name = dos.nt_path(caller, caller.read_string(program)).encode("cp437")
    args = _read_block(caller, arguments, 2) if arguments else b""
    if environment:
        env = _read_block(caller, environment, 0)
    else:                           # NULL: the child inherits this process's environment
        env = _read_block(caller, caller.os2.environment << 16, 0)
    caller.linear(results, 4)
    body = {"Flags": flags, "NameLength": len(name), "ArgumentsLength": len(args), "EnvironmentLength": len(env)}

    def done(reply: dict) -> int:
        if reply["Error"]:
            if fail_name and fail_length:
                caller.write(fail_name, reply["FailName"].rstrip(b"\0")[:fail_length - 1] + b"\0")
            raise Os2Error(reply["Error"])
        caller.write(results, struct.pack("<HH", reply["TerminationCode"], reply["ResultCode"]))
        return 0

    return _request(caller, Os2ExecPgm, body, name + args + env, done)


def dos_cwait(caller: Os2Thread, scope: int, wait: int, results: int, pid_out: int, pid: int) -> Any:
    caller.linear(results, 4)
    caller.linear(pid_out, 2)

    def done(reply: dict) -> int:
        if reply["Error"]:
            raise Os2Error(reply["Error"])
        caller.write(results, struct.pack("<HH", reply["TerminationCode"], reply["ResultCode"]))
        caller.write_word(pid_out, reply["ProcessId"])
        return 0

    return _request(caller, Os2CWait, {"Scope": scope, "Wait": wait, "ProcessId": pid}, b"", done)


def dos_kill_process(caller: Os2Thread, scope: int, pid: int) -> Any:
    def done(reply: dict) -> int:
        if reply["Error"]:
            raise Os2Error(reply["Error"])
        return 0

    return _request(caller, Os2KillProcess, {"Scope": scope, "ProcessId": pid}, b"", done)


def _map_shared(caller: Os2Thread, reply: dict, selector_out: int) -> int:
    """The segment OS2SS named: its section mapped at its LDT slot's tile, the slot filled."""
    if reply["Error"]:
        raise Os2Error(reply["Error"])
    os2, nt = caller.os2, caller.nt
    index, size = reply["Index"], reply["Size"]
    if index not in os2.shared:
        handle = nt.NtOpenSection(reply["SectionName"].rstrip(b"\0").decode("cp437"))
        # the tile leaves the shared-segment reservation and becomes the view
        nt.NtFreeVirtualMemory(NtCurrentProcess, index << TILE_SHIFT, 1 << TILE_SHIFT, MEM_RELEASE, pico=True)
        try:
            nt.NtMapViewOfSection(handle, NtCurrentProcess, index << TILE_SHIFT, 0, -(-size // 0x1000) * 0x1000,
                                  0x04, tag="shared segment")
        finally:
            nt.NtClose(handle)
        caller.cpu.set_descriptor(os2.ldt, index, SegmentDescriptor.data16(index << TILE_SHIFT, size - 1))
        os2.limits[index] = size - 1
        os2.shared.add(index)
    caller.write_word(selector_out, os2.ldt.selector(index))
    return 0


def dos_alloc_shr_seg(caller: Os2Thread, size: int, name: int, selector_out: int) -> Any:
    text = caller.read_string(name).encode("cp437")
    caller.linear(selector_out, 2)
    return _request(caller, Os2AllocShrSeg, {"Size": size, "Name": text}, b"",
                    lambda reply: _map_shared(caller, reply, selector_out))


def dos_get_shr_seg(caller: Os2Thread, name: int, selector_out: int) -> Any:
    text = caller.read_string(name).encode("cp437")
    caller.linear(selector_out, 2)
    return _request(caller, Os2GetShrSeg, {"Name": text}, b"",
                    lambda reply: _map_shared(caller, reply, selector_out))


def free_shared_segment(caller: Os2Thread, index: int) -> Any:
    """DosFreeSeg of a shared segment: this process's view and slot go; OS2SS drops the
    segment when its last user has freed it (or ended)."""
    os2 = caller.os2
    caller.nt.NtUnmapViewOfSection(NtCurrentProcess, index << TILE_SHIFT)
    caller.nt.NtAllocateVirtualMemory(NtCurrentProcess, index << TILE_SHIFT, 1 << TILE_SHIFT, MEM_RESERVE, 0x04,
                                      tag="tiled area (shared segments)")
    caller.cpu.set_descriptor(os2.ldt, index, NULL_DESCRIPTOR)
    del os2.limits[index]
    os2.shared.discard(index)

    def done(reply: dict) -> int:
        if reply["Error"]:
            raise Os2Error(reply["Error"])
        return 0

    return _request(caller, Os2FreeShrSeg, {"Index": index}, b"", done)


# --- the table ---------------------------------------------------------------------------------

D, V, K = "DOSCALLS", "VIOCALLS", "KBDCALLS"
PATHS: dict[int, str] = {}


def _row(module: str, ordinal: int, name: str, handler, *args, path: str = IN_PROCESS, level: str = "supported",
         note: str = "") -> Call:
    number = number_of(module, ordinal)
    PATHS[number] = path
    return call(number, name, handler, *args, level=level, note=note)


TABLE: list[Call] = [
    # DOSCALLS: files
    _row(D, 138, "DosWrite", dos.dos_write, ("hFile", WORD), ("pBuffer", FarBuffer("cbBuffer")),
         ("cbBuffer", WORD), ("pcbWritten", PTR), note="NtWriteFile"),
    _row(D, 137, "DosRead", dos.dos_read, ("hFile", WORD), ("pBuffer", PTR), ("cbBuffer", WORD),
         ("pcbRead", PTR), note="NtReadFile"),
    _row(D, 70, "DosOpen", dos.dos_open, ("pszFileName", PSZ), ("phf", PTR), ("pusAction", PTR),
         ("ulFileSize", LONG), ("usAttribute", WORD), ("fsOpenFlags", WORD), ("fsOpenMode", WORD),
         ("ulReserved", LONG), note="NtCreateFile; share modes are not enforced"),
    _row(D, 59, "DosClose", dos.dos_close, ("hFile", WORD), note="NtClose"),
    _row(D, 58, "DosChgFilePtr", dos.dos_chg_file_ptr, ("hFile", WORD), ("lOffset", LONG), ("fsMethod", WORD),
         ("pulNewPointer", PTR), note="NtSetInformationFile(FilePositionInformation)"),
    _row(D, 60, "DosDelete", dos.dos_delete, ("pszFileName", PSZ), ("ulReserved", LONG),
         note="NtSetInformationFile(FileDispositionInformation)"),
    _row(D, 67, "DosMove", dos.dos_move, ("pszOldName", PSZ), ("pszNewName", PSZ), ("ulReserved", LONG),
         note="NtSetInformationFile(FileRenameInformation)"),
    _row(D, 66, "DosMkDir", dos.dos_mk_dir, ("pszDirName", PSZ), ("ulReserved", LONG), note="NtCreateFile"),
    _row(D, 80, "DosRmDir", dos.dos_rm_dir, ("pszDirName", PSZ), ("ulReserved", LONG),
         note="NtSetInformationFile(FileDispositionInformation)"),
    _row(D, 57, "DosChDir", dos.dos_ch_dir, ("pszDirName", PSZ), ("ulReserved", LONG),
         note="the current directory is the client's"),
    _row(D, 71, "DosQCurDir", dos.dos_q_cur_dir, ("usDriveNumber", WORD), ("pszPathBuf", PTR),
         ("pcbPathBuf", PTR)),
    _row(D, 72, "DosQCurDisk", dos.dos_q_cur_disk, ("pusDriveNumber", PTR), ("pulLogicalDrives", PTR),
         note="C: (the root) is the only drive"),
    _row(D, 81, "DosSelectDisk", dos.dos_select_disk, ("usDriveNumber", WORD),
         note="C: (3) is the only drive; ordinal unverified"),
    _row(D, 64, "DosFindFirst", dos.dos_find_first, ("pszFileSpec", PSZ), ("phdir", PTR), ("usAttribute", WORD),
         ("pfindbuf", PTR), ("cbBuf", WORD), ("pcSearch", PTR), ("ulReserved", LONG),
         note="NtQueryDirectoryFile; hidden/system attributes are not filtered"),
    _row(D, 65, "DosFindNext", dos.dos_find_next, ("hdir", WORD), ("pfindbuf", PTR), ("cbBuf", WORD),
         ("pcSearch", PTR)),
    _row(D, 63, "DosFindClose", dos.dos_find_close, ("hdir", WORD)),
    _row(D, 74, "DosQFileInfo", dos.dos_q_file_info, ("hf", WORD), ("usInfoLevel", WORD), ("pInfoBuf", PTR),
         ("cbInfoBuf", WORD), note="level 1 (FILESTATUS)"),
    _row(D, 75, "DosQFileMode", dos.dos_q_file_mode, ("pszFileName", PSZ), ("pusAttr", PTR),
         ("ulReserved", LONG)),
    _row(D, 84, "DosSetFileMode", dos.dos_set_file_mode, ("pszFileName", PSZ), ("usAttr", WORD),
         ("ulReserved", LONG), note="NtSetInformationFile(FileBasicInformation); ordinal unverified"),
    _row(D, 68, "DosNewSize", dos.dos_new_size, ("hf", WORD), ("ulNewSize", LONG),
         note="NtSetInformationFile(FileEndOfFileInformation)"),
    _row(D, 56, "DosBufReset", dos.dos_buf_reset, ("hf", WORD), note="NtFlushBuffersFile; ordinal unverified"),
    _row(D, 61, "DosDupHandle", dos.dos_dup_handle, ("hfOld", WORD), ("phfNew", PTR), note="NtDuplicateObject"),
    _row(D, 16, "DosMakePipe", dos.dos_make_pipe, ("phfRead", PTR), ("phfWrite", PTR), ("cbPipe", WORD),
         note="an NPFS pipe; ordinal unverified"),
    # DOSCALLS: memory
    _row(D, 34, "DosAllocSeg", dos.dos_alloc_seg, ("usSize", WORD), ("psel", PTR), ("fsAlloc", WORD),
         level=PARTIAL, note="an LDT entry + NtAllocateVirtualMemory; giveable/gettable flags give a private segment"),
    _row(D, 35, "DosAllocShrSeg", dos_alloc_shr_seg, ("usSize", WORD), ("pszSegName", PSZ), ("psel", PTR),
         path=LPC, note="OS2SS makes a named section at one LDT slot for all; ordinal unverified"),
    _row(D, 36, "DosGetShrSeg", dos_get_shr_seg, ("pszSegName", PSZ), ("psel", PTR), path=LPC,
         note="the section mapped at its slot's tile; ordinal unverified"),
    _row(D, 38, "DosReallocSeg", dos.dos_realloc_seg, ("usNewSize", WORD), ("sel", WORD),
         note="grows or shrinks within the segment's 64 KiB tile"),
    _row(D, 39, "DosFreeSeg", dos.dos_free_seg, ("sel", WORD),
         note="NtFreeVirtualMemory; the LDT entry goes (a shared segment: NtUnmapViewOfSection, LPC to OS2SS)"),
    _row(D, 40, "DosAllocHuge", dos.dos_alloc_huge, ("usNumSeg", WORD), ("usPartialSeg", WORD), ("psel", PTR),
         ("usMaxNumSeg", WORD), ("fsAlloc", WORD), note="consecutive LDT entries (huge shift 3); ordinal unverified"),
    # DOSCALLS: the process
    _row(D, 91, "DosGetEnv", dos.dos_get_env, ("pselEnv", PTR), ("pOffsetCmd", PTR)),
    _row(D, 8, "DosGetInfoSeg", dos.dos_get_info_seg, ("pselGlobal", PTR), ("pselLocal", PTR),
         note="GINFOSEG and LINFOSEG, refreshed at each call"),
    _row(D, 92, "DosGetVersion", dos.dos_get_version, ("pVer", PTR), note="10.30 (OS/2 1.3)"),
    _row(D, 94, "DosGetPID", dos.dos_get_pid, ("ppidInfo", PTR)),
    _row(D, 32, "DosSleep", dos.dos_sleep, ("ulTime", LONG), note="NtDelayExecution"),
    _row(D, 33, "DosGetDateTime", dos.dos_get_date_time, ("pdatetime", PTR), note="NtQuerySystemTime (UTC)"),
    _row(D, 50, "DosBeep", dos.dos_beep, ("usFrequency", WORD), ("usDuration", WORD), level=PARTIAL,
         note="silent: waits the duration"),
    _row(D, 5, "DosExit", dos.dos_exit, ("fTerminate", WORD), ("usExitCode", WORD),
         note="NtTerminateProcess; OS2SS hears of it as the port closes"),
    _row(D, 120, "DosError", dos.dos_error, ("fEnable", WORD), note="no hard-error pop-ups to suppress"),
    _row(D, 14, "DosSetSigHandler", dos.dos_set_sig_handler, ("pfnSigHandler", PTR), ("ppfnPrev", PTR),
         ("pfAction", PTR), ("fAction", WORD), ("usSigNumber", WORD), level=PARTIAL,
         note="Ctrl+C/Ctrl+Break: default, ignore, a handler, acknowledge; not the other signals"),
    _row(D, 144, "DosExecPgm", dos_exec_pgm, ("pchFailName", PTR), ("cbFailName", WORD), ("fExecFlags", WORD),
         ("pszArgs", PTR), ("pszEnv", PTR), ("prescResults", PTR), ("pszPgmName", PSZ), path=LPC,
         note="synchronous and asynchronous; EXEC_TRACE and EXEC_BACKGROUND fail"),
    _row(D, 2, "DosCWait", dos_cwait, ("fScope", WORD), ("fWait", WORD), ("prescResults", PTR),
         ("ppidProcess", PTR), ("pidWaitProcess", WORD), path=LPC, level=PARTIAL,
         note="DCWA_PROCESSTREE waits for the child only"),
    _row(D, 51, "DosKillProcess", dos_kill_process, ("fScope", WORD), ("pidProcess", WORD), path=LPC,
         level=PARTIAL, note="the child only (no tree); ordinal unverified"),
    # VIOCALLS
    _row(V, 19, "VioWrtTTY", vio.vio_wrt_tty, ("pchString", FarBuffer("cbString")), ("cbString", WORD),
         ("hvio", WORD), note="CSRSS screen buffer (teletype)"),
    _row(V, 21, "VioGetMode", vio.vio_get_mode, ("pviomi", PTR), ("hvio", WORD)),
    _row(V, 9, "VioGetCurPos", vio.vio_get_cur_pos, ("pusRow", PTR), ("pusColumn", PTR), ("hvio", WORD)),
    _row(V, 15, "VioSetCurPos", vio.vio_set_cur_pos, ("usRow", WORD), ("usColumn", WORD), ("hvio", WORD)),
    _row(V, 7, "VioScrollUp", vio.vio_scroll_up, ("usTopRow", WORD), ("usLeftCol", WORD), ("usBotRow", WORD),
         ("usRightCol", WORD), ("cbLines", WORD), ("pbCell", PTR), ("hvio", WORD)),
    _row(V, 48, "VioWrtCharStrAtt", vio.vio_wrt_char_str_att, ("pchString", FarBuffer("cbString")),
         ("cbString", WORD), ("usRow", WORD), ("usColumn", WORD), ("pbAttr", PTR), ("hvio", WORD)),
    _row(V, 24, "VioReadCellStr", vio.vio_read_cell_str, ("pchCellString", PTR), ("pcb", PTR), ("usRow", WORD),
         ("usColumn", WORD), ("hvio", WORD)),
    # KBDCALLS
    _row(K, 4, "KbdCharIn", vio.kbd_char_in, ("pkbci", PTR), ("fWait", WORD), ("hkbd", WORD)),
    _row(K, 22, "KbdPeek", vio.kbd_peek, ("pkbci", PTR), ("hkbd", WORD)),
    _row(K, 9, "KbdStringIn", vio.kbd_string_in, ("pch", PTR), ("pchIn", PTR), ("fWait", WORD), ("hkbd", WORD),
         level=PARTIAL, note="IO_WAIT only; ordinal from third-party sources"),
]
ROWS: dict[int, Call] = {row.number: row for row in TABLE}


def call_rows() -> list[CallRow]:
    """What `ntsim calls os2` prints: the ordinal, MODULE.Name, level, and the path."""
    rows = []
    for row in TABLE:
        module = MODULES[row.number >> 16]
        note = PATHS[row.number] + (f"; {row.note}" if row.note else "")
        rows.append(CallRow(row.number & 0xFFFF, f"{module}.{row.name}", row.names, row.level, note))
    rows.append(CallRow(0, "MOUCALLS.*", (), UNSUPPORTED,
                        "a program importing MOUCALLS (or any other module) does not load"))
    return rows


__all__ = ["TABLE", "ROWS", "call_rows"]
