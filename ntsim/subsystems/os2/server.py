"""OS2SS: the OS/2 subsystem's server process (NT's Os2srv.exe).

SMSS starts it the first time an OS/2 program runs (the Os2 subsystem is Optional).
Every OS/2 process connects to its port, `\\OS2SS\\ApiPort`, as it starts; the server
keeps the bookkeeping OS/2 semantics need across processes — who is whose parent, how
each ended (termination and result codes) until its parent collects them — and does
the work that creates, waits for or ends other processes:

    DosExecPgm      Os2ExecPgm      start a child (synchronously: reply when it ends)
    DosCWait        Os2CWait        a child's end, now or when it comes
    DosKillProcess  Os2KillProcess  end a child
    DosAllocShrSeg  Os2AllocShrSeg  a named shared segment: a section, at one LDT slot
    DosGetShrSeg    Os2GetShrSeg      in every process (tiled: at one linear address)
    DosFreeSeg      Os2FreeShrSeg   (of a shared segment) one user fewer

Everything else a program calls is answered in its own process (the client side, as
NT's os2dll answered file I/O with Nt* calls of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...kernel.dispatcher import WaitPending
from ...kernel.io import (
    FILE_OPEN,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    SYNCHRONIZE,
    FileStandardInformation,
)
from ...kernel.lpc import ApiRow, Field, LpcServer, PortMessage, Record
from ...kernel.status import NtStatusError
from ..base import ImageError
from .errors import (
    ERROR_BAD_EXE_FORMAT,
    ERROR_CHILD_NOT_COMPLETE,
    ERROR_INVALID_FUNCTION,
    ERROR_INVALID_PROCID,
    ERROR_WAIT_NO_CHILDREN,
    from_status,
)
from .loader import FIRST_SHARED, LAST_SHARED

PORT_NAME = "\\OS2SS\\ApiPort"
SERVER = 3                                  # OS2SS's API numbers: 3 << 16 | api
Os2ExecPgm, Os2CWait, Os2KillProcess = SERVER << 16 | 1, SERVER << 16 | 2, SERVER << 16 | 3
Os2AllocShrSeg, Os2GetShrSeg, Os2FreeShrSeg = SERVER << 16 | 4, SERVER << 16 | 5, SERVER << 16 | 6
SHARED_DIRECTORY = "\\OS2SS\\SharedSegments"
SHAREMEM = "\\SHAREMEM\\"                  # OS/2's prefix of a shared segment's name
ERROR_ALREADY_EXISTS = 183
TC_EXIT, TC_HARDERROR, TC_TRAP, TC_KILLPROCESS = 0, 1, 2, 3
EXEC_SYNC, EXEC_ASYNC, EXEC_ASYNCRESULT = 0, 1, 2
DCWW_WAIT, DCWW_NOWAIT = 0, 1

EXEC_MSG = Record("OS2_EXECPGM_MSG", Field("Flags", "H"), Field("NameLength", "H"),
                  Field("ArgumentsLength", "H"), Field("EnvironmentLength", "H"))
EXEC_REPLY = Record("OS2_EXECPGM_REPLY", Field("Error", "H"), Field("TerminationCode", "H"),
                    Field("ResultCode", "H"), Field("FailName", "64s"))
CWAIT_MSG = Record("OS2_CWAIT_MSG", Field("Scope", "H"), Field("Wait", "H"), Field("ProcessId", "H"))
CWAIT_REPLY = Record("OS2_CWAIT_REPLY", Field("Error", "H"), Field("ProcessId", "H"),
                     Field("TerminationCode", "H"), Field("ResultCode", "H"))
KILL_MSG = Record("OS2_KILLPROCESS_MSG", Field("Scope", "H"), Field("ProcessId", "H"))
KILL_REPLY = Record("OS2_KILLPROCESS_REPLY", Field("Error", "H"))
SHRSEG_MSG = Record("OS2_SHRSEG_MSG", Field("Size", "I"), Field("Name", "128s"))
SHRSEG_REPLY = Record("OS2_SHRSEG_REPLY", Field("Error", "H"), Field("Index", "H"), Field("Size", "I"),
                      Field("SectionName", "160s"))
FREESHRSEG_MSG = Record("OS2_FREESHRSEG_MSG", Field("Index", "H"))
FREESHRSEG_REPLY = Record("OS2_FREESHRSEG_REPLY", Field("Error", "H"))


@dataclass
class SharedSegment:
    """A named shared segment: its section (kept open by the server while any process
    uses it), its LDT slot (the same in every process) and who uses it."""

    name: str
    index: int
    size: int
    section_name: str
    handle: int
    users: set[int]


@dataclass
class Os2ProcessRecord:
    """What OS2SS knows of one OS/2 process."""

    pid: int
    parent: int                   # the OS/2 parent's pid (0: started by ntsim)
    process: Any
    asynchronous: bool = False    # started by DosExecPgm EXEC_ASYNC(RESULT): DosCWait collects it
    collected: bool = False
    termination: int = TC_EXIT
    result: int = 0


class Os2ss(LpcServer):
    name = "os2ss"
    image_name = "os2srv.exe"
    port_name = PORT_NAME
    architecture = "x86-32"

    def __init__(self, kernel: Any, personality: Any) -> None:
        super().__init__(kernel)
        self.personality = personality
        self.records: dict[int, Os2ProcessRecord] = {}
        self.shared: dict[str, SharedSegment] = {}      # by name, upper case
        self.messages = 0

    def start(self, parent: Any) -> None:
        try:
            self.kernel.objects.lookup("\\OS2SS")
        except NtStatusError:
            self.kernel.objects.create_directory("\\OS2SS", permanent=True)
            self.kernel.objects.create_directory(SHARED_DIRECTORY, permanent=True)
        super().start(parent)

    # --- clients come and go ---------------------------------------------------------------

    def accept(self, client: Any) -> bool:
        parent = client.parent.pid if client.parent is not None and client.parent.pid in self.records else 0
        self.records[client.pid] = Os2ProcessRecord(client.pid, parent, client)
        return True

    def port_closed(self, client_port: Any) -> None:
        """LPC_PORT_CLOSED (a process's handles close as it ends, its port among them):
        how the process ended is kept until its parent collects it."""
        record = self.records.get(client_port.owner.pid)
        if record is not None and not record.process.alive:
            process = record.process
            record.termination = getattr(process.data, "termination", TC_EXIT)
            record.result = (process.exit_status or 0) & 0xFFFF
            if not record.asynchronous:
                record.collected = True      # nobody waits for it with DosCWait
        for segment in list(self.shared.values()):
            self._release(segment, client_port.owner.pid)
        super().port_closed(client_port)

    def dispatch(self, message: PortMessage) -> Any:
        self.messages += 1
        return super().dispatch(message)

    # --- DosExecPgm --------------------------------------------------------------------------

    def exec_pgm(self, message: PortMessage) -> Any:
        body, data = message.body, message.data
        client = message.client_port.owner
        name = data[:body["NameLength"]].decode("cp437")
        at = body["NameLength"]
        arguments = data[at:at + body["ArgumentsLength"]]
        environment = data[at + body["ArgumentsLength"]:at + body["ArgumentsLength"] + body["EnvironmentLength"]]
        flags = body["Flags"]
        if flags not in (EXEC_SYNC, EXEC_ASYNC, EXEC_ASYNCRESULT):
            return {"Error": ERROR_INVALID_FUNCTION, "FailName": b""}
        failed = {"FailName": name.rsplit("\\", 1)[-1].encode("cp437")[:64]}
        try:
            image = self._read_program(name)
        except NtStatusError as error:
            return {"Error": from_status(error.status), **failed}
        strings = arguments.split(b"\0")
        command_name = strings[0].decode("cp437") if strings and strings[0] else name
        argv = [command_name] + ([strings[1].decode("cp437")] if len(strings) > 1 and strings[1] else [])
        env = [entry.decode("cp437") for entry in environment.split(b"\0") if entry]
        guest_path = name[len("\\??\\C:"):].replace("\\", "/") or "/"
        try:
            child = self.personality.start(self.personality.machine, image, argv, env, guest_path=guest_path,
                                           parent=client, command_name=command_name)
        except ImageError:
            return {"Error": ERROR_BAD_EXE_FORMAT, **failed}
        record = self.records[child.pid]
        if flags != EXEC_SYNC:
            record.asynchronous = True
            return {"Error": 0, "TerminationCode": child.pid, "ResultCode": 0}

        def ended(_status: int) -> dict:
            record.collected = True
            return {"Error": 0, "TerminationCode": record.termination, "ResultCode": record.result}

        if not child.alive:
            return ended(0)
        raise WaitPending([child], ended, reason=f"DosExecPgm: {name} to end")

    def _read_program(self, name: str) -> bytes:
        nt = self.kernel.services
        handle = nt.NtCreateFile(name, FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT)
        try:
            size = nt.NtQueryInformationFile(handle, FileStandardInformation).EndOfFile
            return nt.NtReadFile(handle, size, 0) if size else b""
        finally:
            nt.NtClose(handle)

    # --- DosCWait, DosKillProcess ------------------------------------------------------------

    def cwait(self, message: PortMessage) -> Any:
        body = message.body
        parent = message.client_port.owner.pid
        wanted = body["ProcessId"]
        if wanted and (wanted not in self.records or self.records[wanted].parent != parent):
            return {"Error": ERROR_INVALID_PROCID}
        children = [r for r in self.records.values() if r.parent == parent and r.asynchronous
                    and not r.collected and (not wanted or r.pid == wanted)]
        if not children:
            return {"Error": ERROR_WAIT_NO_CHILDREN}
        for record in children:
            if not record.process.alive:
                record.collected = True
                return {"Error": 0, "ProcessId": record.pid, "TerminationCode": record.termination,
                        "ResultCode": record.result}
        if body["Wait"] == DCWW_NOWAIT:
            return {"Error": ERROR_CHILD_NOT_COMPLETE}
        raise WaitPending([r.process for r in children], lambda _status: self.cwait(message),
                          reason="DosCWait: a child to end")

    def kill_process(self, message: PortMessage) -> Any:
        body = message.body
        parent = message.client_port.owner.pid
        record = self.records.get(body["ProcessId"])
        if record is None or record.parent != parent or not record.process.alive:
            return {"Error": ERROR_INVALID_PROCID}
        record.process.data.termination = TC_KILLPROCESS
        self.kernel.terminate_process(record.process, 1, note="killed by DosKillProcess")
        return {"Error": 0}

    # --- shared segments -------------------------------------------------------------------

    def alloc_shr_seg(self, message: PortMessage) -> Any:
        name = self._name(message)
        if not name.startswith(SHAREMEM) or len(name) <= len(SHAREMEM):
            return {"Error": 123}                          # ERROR_INVALID_NAME
        if name in self.shared:
            return {"Error": ERROR_ALREADY_EXISTS}
        size = message.body["Size"] or 0x10000
        used = {segment.index for segment in self.shared.values()}
        index = next((i for i in range(LAST_SHARED, FIRST_SHARED - 1, -1) if i not in used), None)
        if index is None:
            return {"Error": 8}                            # ERROR_NOT_ENOUGH_MEMORY
        leaf = name[len(SHAREMEM):].replace("\\", "$")      # one name in the directory
        section_name = SHARED_DIRECTORY + "\\" + leaf
        handle = self.kernel.services.NtCreateSection(None, -(-size // 0x1000) * 0x1000, 0x04,
                                                      ObjectName=section_name)
        segment = SharedSegment(name, index, size, section_name, handle, {message.client_port.owner.pid})
        self.shared[name] = segment
        return self._reply(segment)

    def get_shr_seg(self, message: PortMessage) -> Any:
        segment = self.shared.get(self._name(message))
        if segment is None:
            return {"Error": 2}                            # ERROR_FILE_NOT_FOUND
        segment.users.add(message.client_port.owner.pid)
        return self._reply(segment)

    def free_shr_seg(self, message: PortMessage) -> Any:
        segment = next((s for s in self.shared.values() if s.index == message.body["Index"]), None)
        if segment is None:
            return {"Error": 5}                            # ERROR_ACCESS_DENIED
        self._release(segment, message.client_port.owner.pid)
        return {"Error": 0}

    @staticmethod
    def _name(message: PortMessage) -> str:
        return message.body["Name"].rstrip(b"\0").decode("cp437").upper()

    @staticmethod
    def _reply(segment: SharedSegment) -> dict:
        return {"Error": 0, "Index": segment.index, "Size": segment.size,
                "SectionName": segment.section_name.encode("cp437")}

    def _release(self, segment: SharedSegment, pid: int) -> None:
        """One user fewer; with none left the segment (its section, its name) goes."""
        segment.users.discard(pid)
        if not segment.users:
            del self.shared[segment.name]
            caller = self.kernel.current_thread
            self.kernel.current_thread = self.thread
            try:
                self.kernel.services.NtClose(segment.handle)
            finally:
                self.kernel.current_thread = caller

    api = (
        ApiRow(Os2ExecPgm, "Os2ExecPgm", exec_pgm, request=EXEC_MSG, reply=EXEC_REPLY),
        ApiRow(Os2CWait, "Os2CWait", cwait, request=CWAIT_MSG, reply=CWAIT_REPLY),
        ApiRow(Os2KillProcess, "Os2KillProcess", kill_process, request=KILL_MSG, reply=KILL_REPLY),
        ApiRow(Os2AllocShrSeg, "Os2AllocShrSeg", alloc_shr_seg, request=SHRSEG_MSG, reply=SHRSEG_REPLY),
        ApiRow(Os2GetShrSeg, "Os2GetShrSeg", get_shr_seg, request=SHRSEG_MSG, reply=SHRSEG_REPLY),
        ApiRow(Os2FreeShrSeg, "Os2FreeShrSeg", free_shr_seg, request=FREESHRSEG_MSG, reply=FREESHRSEG_REPLY),
    )
