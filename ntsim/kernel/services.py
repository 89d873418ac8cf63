"""The system-service table: the Nt* calls every personality is built on.

Each service is a method declared with `@service(...)`, which lists its arguments with
their types once; that declaration makes the service's row in `SERVICE_TABLE` (what
`ntsim calls nt` prints) and lets the tracer show every call without per-call code.

Services take Python values — a path string, a bytes buffer — where NT takes pointers to
UNICODE_STRINGs and buffers in the caller's memory: the personalities that call them
run in the kernel, as WSL1's lxcore did, and have already read the guest's memory.
Results come back as values; failures raise NtStatusError with the NTSTATUS NT returns.
A service that must wait raises WaitPending (see dispatcher.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..trace import NT, Arg, ArgType, DecodeContext, Enum, Flags, Hex, Int, Raw, render_bytes
from .dispatcher import WaitPending, then
from .fs.console import CONSOLE_IOCTL_NAMES
from .fs.pipe import (
    PIPE_COMPLETION_MODES,
    PIPE_READ_MODES,
    PIPE_TYPES,
    NamedPipeCreateRequest,
    NamedPipeDevice,
)
from .io import (
    ACCESS_NAMES,
    CREATE_OPTIONS,
    DISPOSITIONS,
    FILE_APPEND_DATA,
    FILE_CREATE,
    FILE_INFORMATION_CLASSES,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    FS_INFORMATION_CLASSES,
    FSCTL_NAMES,
    GENERIC_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    CreateRequest,
    FileEndOfFileInformation,
    FileInternalInformation,
    FileLinkInformation,
    FileObject,
    FilePositionInformation,
    FileRenameInformation,
    FileStandardInformation,
)
from .memory import (
    ALLOCATION_GRANULARITY,
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_RESET,
    MEM_TOP_DOWN,
    PAGE_SIZE,
)
from .objects import OBJ_CASE_INSENSITIVE, Directory, SymbolicLink
from .processes import Event, KeyedEvent, Mutant, Process, Semaphore, Thread, ThreadState
from .sections import Section, Segment, SegmentTable
from .status import (
    NTSTATUS,
    STATUS_ABANDONED_WAIT_0,
    STATUS_ACCESS_DENIED,
    STATUS_END_OF_FILE,
    STATUS_INVALID_CID,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_FILE_FOR_SECTION,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER,
    STATUS_INVALID_VIEW_SIZE,
    STATUS_MAPPED_ALIGNMENT,
    STATUS_MAPPED_FILE_SIZE_ZERO,
    STATUS_MUTANT_NOT_OWNED,
    STATUS_NO_MORE_FILES,
    STATUS_NOT_IMPLEMENTED,
    STATUS_NOT_MAPPED_VIEW,
    STATUS_NOT_SAME_DEVICE,
    STATUS_NOT_SUPPORTED,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PARTIAL_COPY,
    STATUS_SECTION_TOO_BIG,
    STATUS_SEMAPHORE_LIMIT_EXCEEDED,
    STATUS_SUCCESS,
    STATUS_SUSPEND_COUNT_EXCEEDED,
    STATUS_THREAD_IS_TERMINATING,
    STATUS_TIMEOUT,
    STATUS_WAIT_0,
    NtStatusError,
)

if TYPE_CHECKING:
    from .kernel import Kernel

ProcessBasicInformation, ProcessTimes = 0, 4     # PROCESSINFOCLASS
NtCurrentProcess = 0xFFFF_FFFF_FFFF_FFFF   # the pseudo-handle (HANDLE)-1
NtCurrentThread = 0xFFFF_FFFF_FFFF_FFFE    # (HANDLE)-2
DUPLICATE_CLOSE_SOURCE, DUPLICATE_SAME_ACCESS = 0x1, 0x2
WaitAll, WaitAny = 0, 1


# --- argument types the NT layer shows ------------------------------------------------------


class HandleArg(ArgType):
    """A handle, shown with the object it names: 0x8 (\\Device\\ConDrv\\Output)."""

    def decode(self, value, ctx: DecodeContext):
        if value is None:
            return None
        value = int(value)
        if value == NtCurrentProcess:
            return "NtCurrentProcess"
        if value == NtCurrentThread:
            return "NtCurrentThread"
        entry = ctx.process.handles.entries.get(value) if ctx.process else None
        return f"{value:#x} ({entry.object.describe()})" if entry else hex(value)


class ContextArg(ArgType):
    """A thread's starting registers (a CONTEXT), shown by where it starts."""

    def decode(self, value, ctx):
        try:
            from unicorn.x86_const import UC_X86_REG_RIP, UC_X86_REG_RSP
            return f"{{Rip={value.reg_read(UC_X86_REG_RIP):#x}, Rsp={value.reg_read(UC_X86_REG_RSP):#x}}}"
        except Exception:
            return None if value is None else "CONTEXT"


class BytesArg(ArgType):
    def decode(self, value, ctx):
        return render_bytes(bytes(value)) if value is not None else None


class Text(ArgType):
    def decode(self, value, ctx):
        return None if value is None or value == 0 else str(value)


Access = Flags(ACCESS_NAMES)
# A process's and a thread's own access rights (winnt.h); ALL_ACCESS is NT 4's value.
_STANDARD_RIGHTS = {0x10000: "DELETE", 0x20000: "READ_CONTROL", 0x40000: "WRITE_DAC",
                    0x80000: "WRITE_OWNER", 0x100000: "SYNCHRONIZE"}
ProcessAccess = Flags({**{1 << bit: "PROCESS_" + name for bit, name in enumerate((
    "TERMINATE", "CREATE_THREAD", "SET_SESSIONID", "VM_OPERATION", "VM_READ", "VM_WRITE",
    "DUP_HANDLE", "CREATE_PROCESS", "SET_QUOTA", "SET_INFORMATION", "QUERY_INFORMATION",
    "SUSPEND_RESUME"))}, **_STANDARD_RIGHTS}, exact={0x1F0FFF: "PROCESS_ALL_ACCESS"})
ThreadAccess = Flags({**{1 << bit: "THREAD_" + name for bit, name in enumerate((
    "TERMINATE", "SUSPEND_RESUME", "ALERT", "GET_CONTEXT", "SET_CONTEXT", "SET_INFORMATION",
    "QUERY_INFORMATION", "SET_THREAD_TOKEN", "IMPERSONATE", "DIRECT_IMPERSONATION"))},
    **_STANDARD_RIGHTS}, exact={0x1F03FF: "THREAD_ALL_ACCESS"})
MemoryTypes = Flags({MEM_COMMIT: "MEM_COMMIT", MEM_RESERVE: "MEM_RESERVE",
                     MEM_DECOMMIT: "MEM_DECOMMIT", MEM_RELEASE: "MEM_RELEASE",
                     MEM_TOP_DOWN: "MEM_TOP_DOWN", MEM_RESET: "MEM_RESET"})
Protection = Enum({0x01: "PAGE_NOACCESS", 0x02: "PAGE_READONLY", 0x04: "PAGE_READWRITE",
                   0x08: "PAGE_WRITECOPY", 0x10: "PAGE_EXECUTE", 0x20: "PAGE_EXECUTE_READ",
                   0x40: "PAGE_EXECUTE_READWRITE", 0x80: "PAGE_EXECUTE_WRITECOPY"})


@dataclass(frozen=True)
class ServiceRow:
    """One row of the system-service table."""

    number: int
    name: str
    arguments: tuple[Arg, ...]
    returns: str
    summary: str


SERVICE_TABLE: list[ServiceRow] = []


def run_traced(tracer, thread, event, get: Callable[[], Any], returns: str = "") -> Any:
    """Complete a traced crossing around `get()`: close the event with the value or the
    NTSTATUS, and follow the call through a wait if it must block."""
    try:
        value = get()
    except WaitPending as pending:
        tracer.suspend(thread, event)

        def resume(inner):
            tracer.resume(thread, event)
            return run_traced(tracer, thread, event, inner, returns)

        pending.wrap(resume)
        raise
    except NtStatusError as error:
        tracer.close(thread, event, error.status, error.status.name)
        raise
    if returns:
        event.args[returns] = _summary(value)
    tracer.close(thread, event, value if isinstance(value, NTSTATUS) else STATUS_SUCCESS)
    return value


def _summary(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return render_bytes(bytes(value))
    if isinstance(value, int | str | type(None)):
        return value if not isinstance(value, int) or value < 0x10000 else hex(value)
    if isinstance(value, tuple):
        return [hex(v) if isinstance(v, int) else _summary(v) for v in value]
    if isinstance(value, list):
        return f"{len(value)} entries"
    return type(value).__name__


def service(*arguments: Arg, returns: str = "") -> Callable:
    """Declare a system service: its arguments (for the table and the trace)."""

    def register(function: Callable) -> Callable:
        name = function.__name__
        # its parameters after `self`, from the code object: inspect.signature costs
        # ~25 µs a service at every start, for the same names (no service takes *args)
        code = function.__code__
        parameters = list(code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount])
        doc = (function.__doc__ or "").strip().splitlines()
        SERVICE_TABLE.append(ServiceRow(len(SERVICE_TABLE), name, arguments, returns,
                                        doc[0] if doc else ""))

        @functools.wraps(function)
        def call(self: NtServices, *values: Any, **keywords: Any) -> Any:
            tracer = self.kernel.tracer
            if not tracer.enabled:
                return function(self, *values, **keywords)
            raw = dict(zip(parameters, values, strict=False))
            raw.update(keywords)
            thread = self.kernel.current_thread
            event = tracer.open(thread, NT, name, raw, arguments)
            return run_traced(tracer, thread, event,
                              lambda: function(self, *values, **keywords), returns)

        return call

    return register


class NtServices:
    """The Nt* services, called by personalities on behalf of the current thread."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.segments = SegmentTable()   # each mapped file's pages, shared by its sections

    # --- helpers ----------------------------------------------------------------------------

    @property
    def _process(self) -> Process:
        return self.kernel.current_thread.process

    def _object(self, handle: int, expected: type | tuple[type, ...] | None = None) -> Any:
        thread = self.kernel.current_thread
        if handle == NtCurrentProcess:
            obj: Any = thread.process
        elif handle == NtCurrentThread:
            obj = thread
        else:
            return thread.process.handles.lookup(handle, expected)
        if expected is not None and not isinstance(obj, expected):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"handle {handle:#x}")
        return obj

    def _file(self, handle: int, needs: int = 0) -> FileObject:
        """The file object behind a handle. With `needs`, the handle must have been
        granted one of those rights: the I/O manager checks the handle's access before a
        device sees the request, so a read-only handle cannot write (STATUS_ACCESS_DENIED)."""
        file = self._object(handle, FileObject)
        if needs and not self._process.handles.entries[handle].access & needs:
            raise NtStatusError(STATUS_ACCESS_DENIED, f"handle {handle:#x} was not opened for that")
        return file

    def _target_process(self, handle: int) -> Process:
        return self._object(handle, Process)

    # --- files ------------------------------------------------------------------------------

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access),
             Arg("CreateDisposition", Enum(DISPOSITIONS)), Arg("CreateOptions", Flags(CREATE_OPTIONS)),
             Arg("Attributes", Flags({OBJ_CASE_INSENSITIVE: "OBJ_CASE_INSENSITIVE"})),
             returns="FileHandle")
    def NtCreateFile(self, ObjectName: str, DesiredAccess: int, CreateDisposition: int,
                     CreateOptions: int = 0, Attributes: int = OBJ_CASE_INSENSITIVE,
                     lx_mode: int | None = None, EaBuffer: dict[str, bytes] | None = None) -> int:
        """Open or create a file, directory or device through the object namespace.
        EaBuffer: extended attributes a file gets if this call creates it."""
        request = CreateRequest(DesiredAccess, CreateDisposition, CreateOptions, Attributes,
                                lx_mode=lx_mode, ea=EaBuffer, process=self._process)
        file = self.kernel.objects.lookup(ObjectName, request, parse=True)
        if not isinstance(file, FileObject):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"{ObjectName} is not a file")
        return self._process.handles.insert(file, DesiredAccess)

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access),
             Arg("ShareAccess", Flags({1: "FILE_SHARE_READ", 2: "FILE_SHARE_WRITE"})),
             Arg("CreateDisposition", Enum(DISPOSITIONS)), Arg("CreateOptions", Flags(CREATE_OPTIONS)),
             Arg("NamedPipeType", Enum(PIPE_TYPES)), Arg("ReadMode", Enum(PIPE_READ_MODES)),
             Arg("CompletionMode", Enum(PIPE_COMPLETION_MODES)), Arg("MaximumInstances", Int()),
             Arg("InboundQuota", Int()), Arg("OutboundQuota", Int()), returns="FileHandle")
    def NtCreateNamedPipeFile(self, ObjectName: str, DesiredAccess: int, ShareAccess: int,
                              CreateDisposition: int = FILE_CREATE, CreateOptions: int = 0,
                              NamedPipeType: int = 0, ReadMode: int = 0, CompletionMode: int = 0,
                              MaximumInstances: int = 1, InboundQuota: int = 0x10000,
                              OutboundQuota: int = 0x10000, Attributes: int = OBJ_CASE_INSENSITIVE,
                              lx_owner: tuple[int, int] = (0, 0), lx_fifo: bool = False) -> int:
        """Create a named pipe on NPFS and open its server end (CreatePipe's first half;
        NtOpenFile of the same name connects the client end). ShareAccess gives the
        direction: FILE_SHARE_WRITE inbound, FILE_SHARE_READ outbound, both duplex.
        A pico provider's `lx_fifo` asks for a Linux FIFO's instance (see fs/pipe.py)."""
        if CreateDisposition not in (FILE_CREATE, FILE_OPEN_IF):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "a pipe is created with FILE_CREATE or FILE_OPEN_IF")
        # IRP_MJ_CREATE_NAMED_PIPE means something only to NPFS: any other device would
        # take it for an ordinary create, so the I/O manager checks where the name leads.
        device, remaining = self.kernel.objects.split_device(ObjectName)
        if not isinstance(device, NamedPipeDevice):
            raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, f"{ObjectName} is not on the named-pipe file system")
        request = NamedPipeCreateRequest(
            DesiredAccess, CreateDisposition, CreateOptions, Attributes, process=self._process,
            share_access=ShareAccess, pipe_type=NamedPipeType, read_mode=ReadMode,
            completion_mode=CompletionMode, maximum_instances=MaximumInstances,
            inbound_quota=InboundQuota, outbound_quota=OutboundQuota, lx_owner=lx_owner,
            lx_fifo=lx_fifo)
        file = device.parse(remaining, request)
        return self._process.handles.insert(file, DesiredAccess)

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access),
             Arg("OpenOptions", Flags(CREATE_OPTIONS)), returns="FileHandle")
    def NtOpenFile(self, ObjectName: str, DesiredAccess: int, OpenOptions: int = 0,
                   Attributes: int = OBJ_CASE_INSENSITIVE) -> int:
        """Open an existing file (NtCreateFile with FILE_OPEN)."""
        request = CreateRequest(DesiredAccess, FILE_OPEN, OpenOptions, Attributes,
                                process=self._process)
        file = self.kernel.objects.lookup(ObjectName, request, parse=True)
        if not isinstance(file, FileObject):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"{ObjectName} is not a file")
        return self._process.handles.insert(file, DesiredAccess)

    @service(Arg("FileHandle", HandleArg()), Arg("Length", Int()), Arg("ByteOffset", Raw()),
             returns="Buffer")
    def NtReadFile(self, FileHandle: int, Length: int, ByteOffset: int | None = None) -> bytes:
        """Read from a file object through its device."""
        file = self._file(FileHandle, FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)
        data = file.device.read(file, Length, ByteOffset)
        if not data and Length > 0:
            raise NtStatusError(STATUS_END_OF_FILE)
        if self.segments and (segment := self._mapped_segment(file)) is not None:
            data = segment.file_read(file.position - len(data) if ByteOffset is None else ByteOffset, data)
        return data

    @service(Arg("FileHandle", HandleArg()), Arg("Buffer", BytesArg()), Arg("ByteOffset", Raw()),
             returns="Information")
    def NtWriteFile(self, FileHandle: int, Buffer: bytes, ByteOffset: int | None = None) -> int:
        """Write to a file object through its device."""
        file = self._file(FileHandle, FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL)
        position = file.position
        written = file.device.write(file, Buffer, ByteOffset)
        if self.segments and written and (segment := self._mapped_segment(file)) is not None:
            # where the bytes went: the device moved the position past them unless an
            # offset was given (and an append-only file always writes at its end)
            moved = file.position != position or ByteOffset is None
            segment.file_written(file.position - written if moved else ByteOffset, bytes(Buffer[:written]))
        return written

    def _mapped_segment(self, file: FileObject) -> Segment | None:
        """The pages of a file that some section maps, if any: what NT's cache manager
        finds through the file's SectionObjectPointers. read() and write() go through
        them, so they agree with every mapping of the file."""
        key = file.section_key
        if key is None:
            try:
                key = self._section_key(file) if file.device.caches_files else False
            except NtStatusError:
                key = False                       # no file id (a directory): never mapped
            file.section_key = key
        return self.segments.find(key) if key else None

    @staticmethod
    def _section_key(file: FileObject) -> tuple[int, Any]:
        """A file's identity for sections: its volume and its file id."""
        return (id(file.device), file.device.query_information(file, FileInternalInformation))

    @service(Arg("Handle", HandleArg()))
    def NtClose(self, Handle: int) -> NTSTATUS:
        """Close a handle; the object goes when its last reference does."""
        self._process.handles.remove(Handle)
        return STATUS_SUCCESS

    @service(Arg("FileHandle", HandleArg()), Arg("FileInformationClass", Enum(FILE_INFORMATION_CLASSES)))
    def NtQueryInformationFile(self, FileHandle: int, FileInformationClass: int) -> Any:
        """Query one class of information about an open file."""
        file = self._file(FileHandle)
        if FileInformationClass == FilePositionInformation:
            return file.position
        return file.device.query_information(file, FileInformationClass)

    @service(Arg("FileHandle", HandleArg()), Arg("FileInformationClass", Enum(FILE_INFORMATION_CLASSES)),
             Arg("FileInformation", Raw()))
    def NtSetInformationFile(self, FileHandle: int, FileInformationClass: int,
                             FileInformation: Any) -> NTSTATUS:
        """Set one class of information (position, size, rename, delete disposition)."""
        file = self._file(FileHandle)
        if FileInformationClass == FilePositionInformation:   # the I/O manager's own field
            file.position = int(FileInformation)
        elif FileInformationClass in (FileRenameInformation, FileLinkInformation):
            # FILE_RENAME_INFORMATION names the target by its full path; it must lie on
            # the same device (IoSetInformation refuses a rename across volumes).
            target_name, replace = FileInformation
            device, remaining = self.kernel.objects.split_device(target_name)
            if device is not file.device:
                raise NtStatusError(STATUS_NOT_SAME_DEVICE, f"{target_name} is on another device")
            file.device.set_information(file, FileInformationClass,
                                        (remaining, replace, file.case_sensitive))
        else:
            file.device.set_information(file, FileInformationClass, FileInformation)
            if FileInformationClass == FileEndOfFileInformation and self.segments \
                    and (segment := self._mapped_segment(file)) is not None:
                segment.file_truncated(int(FileInformation))
        return STATUS_SUCCESS

    @service(Arg("FileHandle", HandleArg()), Arg("FileInformationClass", Enum(FILE_INFORMATION_CLASSES)),
             Arg("ReturnSingleEntry", Raw()), Arg("RestartScan", Raw()), Arg("MaximumEntries", Raw()),
             returns="Entries")
    def NtQueryDirectoryFile(self, FileHandle: int, FileInformationClass: int = 37,
                             ReturnSingleEntry: bool = False, RestartScan: bool = False,
                             MaximumEntries: int = 64) -> list:
        """List a directory from where the last call stopped (the file object's cursor)."""
        file = self._file(FileHandle)
        if not file.is_directory:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "not a directory")
        if RestartScan or file.directory_entries is None:
            file.directory_entries = file.device.query_directory(file, True)
            file.directory_cursor = 0
        count = 1 if ReturnSingleEntry else MaximumEntries
        entries = file.directory_entries[file.directory_cursor:file.directory_cursor + count]
        if not entries:
            raise NtStatusError(STATUS_NO_MORE_FILES)
        file.directory_cursor += len(entries)
        return entries

    def rewind_directory(self, FileHandle: int, entries: int) -> None:
        """Step the directory cursor back (a caller's buffer held fewer entries than it
        was given); NT's FileIndex restart, done by the I/O manager."""
        file = self._file(FileHandle)
        file.directory_cursor = max(0, file.directory_cursor - entries)

    @service(Arg("FileHandle", HandleArg()), Arg("FsInformationClass", Enum(FS_INFORMATION_CLASSES)))
    def NtQueryVolumeInformationFile(self, FileHandle: int, FsInformationClass: int) -> Any:
        """Query the volume a file lies on (sizes, file-system name)."""
        file = self._file(FileHandle)
        return file.device.query_volume_information(file, FsInformationClass)

    @service(Arg("FileHandle", HandleArg()), Arg("IoControlCode", Enum({**FSCTL_NAMES, **CONSOLE_IOCTL_NAMES})))
    def NtDeviceIoControlFile(self, FileHandle: int, IoControlCode: int, InputBuffer: Any = None) -> Any:
        """Send a device-specific request (a console's mode, a link's target)."""
        file = self._file(FileHandle)
        return file.device.device_control(file, IoControlCode, InputBuffer)

    @service(Arg("FileHandle", HandleArg()), Arg("FsControlCode", Enum(FSCTL_NAMES)), Arg("InputBuffer", Raw()))
    def NtFsControlFile(self, FileHandle: int, FsControlCode: int, InputBuffer: Any = None) -> Any:
        """Send a file-system control request (FSCTL_SET_REPARSE_POINT: make a link;
        FSCTL_PIPE_LISTEN: wait at a pipe's end for the other side)."""
        file = self._file(FileHandle)
        return file.device.device_control(file, FsControlCode, InputBuffer)

    @service(Arg("FileHandle", HandleArg()))
    def NtFlushBuffersFile(self, FileHandle: int) -> NTSTATUS:
        """Write a file's cached data (and its metadata) through to the disk."""
        file = self._file(FileHandle)
        file.device.flush(file)
        return STATUS_SUCCESS

    @service(Arg("FileHandle", HandleArg()), returns="EaList")
    def NtQueryEaFile(self, FileHandle: int) -> dict[str, bytes]:
        """The extended attributes of a file (name -> value)."""
        file = self._file(FileHandle)
        return file.device.query_ea(file)

    @service(Arg("FileHandle", HandleArg()), Arg("EaList", Raw()))
    def NtSetEaFile(self, FileHandle: int, EaList: dict[str, bytes]) -> NTSTATUS:
        """Set extended attributes (an empty value removes one): where lxfs keeps a
        Linux file's mode, owner and device number."""
        file = self._file(FileHandle)
        file.device.set_ea(file, EaList)
        return STATUS_SUCCESS

    # --- the object namespace ---------------------------------------------------------------

    @service(Arg("ObjectName", Text()), returns="DirectoryHandle")
    def NtCreateDirectoryObject(self, ObjectName: str) -> int:
        """Create a directory in the object namespace."""
        directory = self.kernel.objects.create_directory(ObjectName)
        return self._process.handles.insert(directory)

    @service(Arg("LinkName", Text()), Arg("LinkTarget", Text()), returns="LinkHandle")
    def NtCreateSymbolicLinkObject(self, LinkName: str, LinkTarget: str) -> int:
        """Create a symbolic link in the object namespace (how \\??\\C: is made)."""
        link = self.kernel.objects.create_symbolic_link(LinkName, LinkTarget)
        return self._process.handles.insert(link)

    @service(Arg("ObjectName", Text()), returns="Handle")
    def NtOpenDirectoryObject(self, ObjectName: str) -> int:
        """Open a directory of the object namespace."""
        directory = self.kernel.objects.lookup(ObjectName)
        if not isinstance(directory, Directory):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, ObjectName)
        return self._process.handles.insert(directory)

    @service(Arg("LinkHandle", HandleArg()))
    def NtQuerySymbolicLinkObject(self, LinkHandle: int) -> str:
        """The target of a symbolic link object."""
        return self._object(LinkHandle, SymbolicLink).target

    @service(Arg("SourceProcessHandle", HandleArg()), Arg("SourceHandle", Hex()),
             Arg("TargetProcessHandle", HandleArg()), Arg("Options", Flags({1: "DUPLICATE_CLOSE_SOURCE", 2: "DUPLICATE_SAME_ACCESS"})),
             returns="TargetHandle")
    def NtDuplicateObject(self, SourceProcessHandle: int, SourceHandle: int,
                          TargetProcessHandle: int, DesiredAccess: int = 0,
                          Options: int = DUPLICATE_SAME_ACCESS, Attributes: int = 0) -> int:
        """Make another handle to the same object, in this or another process."""
        source = self._target_process(SourceProcessHandle)
        target = self._target_process(TargetProcessHandle)
        pseudo = SourceHandle in (NtCurrentProcess, NtCurrentThread) and source is self._process
        if pseudo:
            # Duplicating a pseudo-handle gives a real handle to the process or thread
            # itself: the usual way to hand "me" to another process.
            obj, granted = self._object(SourceHandle), 0x1F0FFF
        else:
            entry = source.handles.entries.get(SourceHandle)
            if entry is None:
                raise NtStatusError(STATUS_INVALID_HANDLE, f"handle {SourceHandle:#x}")
            obj, granted = entry.object, entry.access
        access = granted if Options & DUPLICATE_SAME_ACCESS else DesiredAccess
        handle = target.handles.insert(obj, access, Attributes)
        if Options & DUPLICATE_CLOSE_SOURCE and not pseudo:   # a pseudo-handle is never open
            source.handles.remove(SourceHandle)
        return handle

    # --- memory -----------------------------------------------------------------------------

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("RegionSize", Hex()),
             Arg("AllocationType", MemoryTypes), Arg("Protect", Protection), returns="Region")
    def NtAllocateVirtualMemory(self, ProcessHandle: int, BaseAddress: int, RegionSize: int,
                                AllocationType: int, Protect: int, *, tag: str = "",
                                pico: bool = False, below: int | None = None,
                                grows_down: bool = False) -> tuple[int, int]:
        """Reserve and/or commit pages; returns the (base, size) actually affected.

        `pico`: the caller is a pico provider, which owns its process's address space
        (WSL1: "the user address space is left unmanaged") and reserves at page
        granularity where NT would round to 64 KiB."""
        memory = self._target_process(ProcessHandle).memory
        if AllocationType == MEM_RESET:
            # The pages' contents are not wanted: they may be dropped (NT drops them
            # lazily; here at once, so private pages come back zero-filled).
            return memory.reset(BaseAddress, RegionSize)
        if not AllocationType & (MEM_COMMIT | MEM_RESERVE):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "AllocationType needs MEM_COMMIT or MEM_RESERVE")
        base, size = BaseAddress, RegionSize
        # A commit with no base address reserves the range too (NT's "blind commit":
        # VirtualAlloc(NULL, size, MEM_COMMIT, ...) is how most programs allocate).
        if AllocationType & MEM_RESERVE or not BaseAddress:
            vad = memory.reserve(BaseAddress or None, RegionSize, Protect, tag=tag,
                                 top_down=bool(AllocationType & MEM_TOP_DOWN),
                                 alignment=PAGE_SIZE if pico else ALLOCATION_GRANULARITY,
                                 below=below)
            vad.grows_down = grows_down
            base, size = vad.base, vad.size
        if AllocationType & MEM_COMMIT:
            base, size = memory.commit(base, size, Protect)
        return base, size

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("RegionSize", Hex()),
             Arg("FreeType", MemoryTypes), returns="Region")
    def NtFreeVirtualMemory(self, ProcessHandle: int, BaseAddress: int, RegionSize: int,
                            FreeType: int, *, pico: bool = False) -> tuple[int, int]:
        """Decommit pages, or release a whole reservation (a pico provider: any range)."""
        memory = self._target_process(ProcessHandle).memory
        if FreeType == MEM_DECOMMIT:
            return memory.decommit(BaseAddress, RegionSize)
        if FreeType == MEM_RELEASE:
            return memory.release(BaseAddress, RegionSize, exact=not pico)
        raise NtStatusError(STATUS_INVALID_PARAMETER, "FreeType must be MEM_DECOMMIT or MEM_RELEASE")

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("RegionSize", Hex()),
             Arg("NewProtect", Protection), returns="OldProtect")
    def NtProtectVirtualMemory(self, ProcessHandle: int, BaseAddress: int, RegionSize: int,
                               NewProtect: int) -> int:
        """Change the protection of committed pages."""
        return self._target_process(ProcessHandle).memory.protect(BaseAddress, RegionSize, NewProtect)

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()))
    def NtQueryVirtualMemory(self, ProcessHandle: int, BaseAddress: int):
        """MEMORY_BASIC_INFORMATION for the region at an address."""
        return self._target_process(ProcessHandle).memory.query(BaseAddress)

    @service(Arg("FileHandle", HandleArg()), Arg("MaximumSize", Hex()), Arg("SectionPageProtection", Protection),
             Arg("ObjectName", Text()), returns="SectionHandle")
    def NtCreateSection(self, FileHandle: int | None, MaximumSize: int, SectionPageProtection: int,
                        AllocationAttributes: int = 0x8000000, *, pico: bool = False,
                        ObjectName: str | None = None) -> int:
        """Create a section, memory that views map: backed by a file or the paging file.

        Every section on one file shares that file's pages (its segment); nothing is
        read until a view touches a page.

        `pico`: a pico provider may make a section of an empty file (Linux maps one;
        touching its pages is the fault). `ObjectName`: a named section, which another
        process opens with NtOpenSection (shared memory between a server and its clients)."""
        if SectionPageProtection & 0xFF not in (0x02, 0x04, 0x08, 0x20, 0x40, 0x80):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "not a protection a section can have")
        if not FileHandle:
            if MaximumSize <= 0:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "a pagefile-backed section needs a size")
            section = Section(Segment(MaximumSize), MaximumSize, SectionPageProtection)
            return self._insert_named(section, ObjectName)
        # Views read the file's pages, so the handle must allow reading; a section that
        # views may write through to the file needs a handle that may write it.
        file = self._file(FileHandle, FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)
        writable = SectionPageProtection & 0xFF in (0x04, 0x40)
        if writable:
            self._file(FileHandle, FILE_WRITE_DATA | GENERIC_WRITE | GENERIC_ALL)
        if file.is_directory:
            raise NtStatusError(STATUS_INVALID_FILE_FOR_SECTION, "a directory")
        end = file.device.query_information(file, FileStandardInformation).EndOfFile
        size = MaximumSize or end
        if size > end:
            if not writable:
                raise NtStatusError(STATUS_SECTION_TOO_BIG, f"{size:#x} bytes, the file has {end:#x}")
            file.device.set_information(file, FileEndOfFileInformation, size)   # NT extends it
            end = size
        if size == 0 and not pico:
            raise NtStatusError(STATUS_MAPPED_FILE_SIZE_ZERO, file.describe())
        segment = self.segments.for_file(file, self._section_key(file), end)
        return self._insert_named(Section(segment, size, SectionPageProtection, file), ObjectName)

    def _insert_named(self, obj: Any, name: str | None, access: int = 0x1F0FFF) -> int:
        """Name the object (if asked) and give the caller a handle to it. A name that is
        taken is STATUS_OBJECT_NAME_COLLISION, and the object is not made."""
        if name:
            self.kernel.objects.insert(name, obj)
        return self._process.handles.insert(obj, access)

    def _open_named(self, name: str, kind: type, access: int) -> int:
        obj = self.kernel.objects.lookup(name)
        if not isinstance(obj, kind):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"{name} is a {obj.type_name}")
        return self._process.handles.insert(obj, access)

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access), returns="SectionHandle")
    def NtOpenSection(self, ObjectName: str, DesiredAccess: int = 0xF001F) -> int:
        """Open a named section (made by NtCreateSection with a name)."""
        return self._open_named(ObjectName, Section, DesiredAccess)

    @service(Arg("SectionHandle", HandleArg()), Arg("ProcessHandle", HandleArg()),
             Arg("BaseAddress", Hex()), Arg("SectionOffset", Hex()), Arg("ViewSize", Hex()),
             Arg("Win32Protect", Protection), returns="View")
    def NtMapViewOfSection(self, SectionHandle: int, ProcessHandle: int, BaseAddress: int = 0,
                           SectionOffset: int = 0, ViewSize: int = 0, Win32Protect: int = 0x04, *,
                           AllocationType: int = 0, copy_on_write: bool = False, tag: str = "section",
                           pico: bool = False, below: int | None = None) -> tuple[int, int]:
        """Map a view of a section into an address space; its pages are the section's.

        Pages come in when first touched. PAGE_WRITECOPY (or `copy_on_write`, Win32's
        FILE_MAP_COPY) makes a private view, whose written pages become the writer's own.

        `pico`: a pico provider maps at page granularity, where NT wants 64 KiB, and
        may map past the end of the section (Linux allows it; touching there faults)."""
        section = self._object(SectionHandle, Section)
        memory = self._target_process(ProcessHandle).memory
        granularity = PAGE_SIZE if pico else ALLOCATION_GRANULARITY
        if SectionOffset % granularity or (BaseAddress or 0) % granularity:
            raise NtStatusError(STATUS_MAPPED_ALIGNMENT, f"offset {SectionOffset:#x}, base {BaseAddress or 0:#x}")
        size = ViewSize or (section.size - SectionOffset)
        if size <= 0 or (not pico and SectionOffset + size > section.size):
            raise NtStatusError(STATUS_INVALID_VIEW_SIZE, f"{size:#x} bytes at {SectionOffset:#x}")
        vad = memory.map_view(section, BaseAddress or None, size, SectionOffset, Win32Protect,
                              copy_on_write=copy_on_write, tag=tag, alignment=granularity,
                              top_down=bool(AllocationType & MEM_TOP_DOWN), below=below)
        return vad.base, vad.size

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()))
    def NtUnmapViewOfSection(self, ProcessHandle: int, BaseAddress: int) -> NTSTATUS:
        """Remove the view that holds an address; its changed pages go back to the file."""
        memory = self._target_process(ProcessHandle).memory
        vad = memory.find(BaseAddress)
        if vad is None or vad.segment is None:
            raise NtStatusError(STATUS_NOT_MAPPED_VIEW, f"{BaseAddress:#x}")
        memory.release(vad.base)
        return STATUS_SUCCESS

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("RegionSize", Hex()),
             returns="Region")
    def NtFlushVirtualMemory(self, ProcessHandle: int, BaseAddress: int, RegionSize: int) -> tuple[int, int]:
        """Write the changed pages of mapped views back to their files."""
        return self._target_process(ProcessHandle).memory.flush(BaseAddress, RegionSize)

    # --- events and waits -------------------------------------------------------------------

    @service(Arg("ObjectName", Text()), Arg("EventType", Enum({0: "NotificationEvent", 1: "SynchronizationEvent"})),
             Arg("InitialState", Raw()), returns="EventHandle")
    def NtCreateEvent(self, ObjectName: str | None = None, EventType: int = 0,
                      InitialState: bool = False) -> int:
        """Create an event, named (under \\BaseNamedObjects) or not."""
        event = Event(event_type=EventType, initial_state=InitialState)
        if ObjectName:
            self.kernel.objects.insert(ObjectName, event)
        return self._process.handles.insert(event)

    @service(Arg("EventHandle", HandleArg()), returns="PreviousState")
    def NtSetEvent(self, EventHandle: int) -> int:
        """Signal an event; wakes the threads its new state satisfies."""
        event = self._object(EventHandle, Event)
        previous = int(event.signalled)
        event.signalled = True
        self.kernel.dispatcher.signal(event)
        return previous

    @service(Arg("EventHandle", HandleArg()), returns="PreviousState")
    def NtResetEvent(self, EventHandle: int) -> int:
        """Set an event to not-signalled."""
        event = self._object(EventHandle, Event)
        previous = int(event.signalled)
        event.signalled = False
        return previous

    @service(Arg("Handle", HandleArg()), Arg("Alertable", Raw()), Arg("TimeoutNs", Raw()))
    def NtWaitForSingleObject(self, Handle: int, Alertable: bool = False,
                              TimeoutNs: int | None = None) -> NTSTATUS:
        """Wait until the object is signalled or the timeout passes."""
        return self._wait([self._object(Handle)], False, TimeoutNs)

    @service(Arg("Handles", Raw()), Arg("WaitType", Enum({0: "WaitAll", 1: "WaitAny"})),
             Arg("Alertable", Raw()), Arg("TimeoutNs", Raw()))
    def NtWaitForMultipleObjects(self, Handles: list[int], WaitType: int = WaitAny,
                                 Alertable: bool = False, TimeoutNs: int | None = None) -> NTSTATUS:
        """Wait for any (or all) of several objects."""
        return self._wait([self._object(h) for h in Handles], WaitType == WaitAll, TimeoutNs)

    def _wait(self, objects: list, wait_all: bool, timeout_ns: int | None) -> NTSTATUS:
        from .dispatcher import WaitBlock
        probe = WaitBlock(self.kernel.current_thread, objects, wait_all, None, lambda s: None, "")
        status = probe.satisfied()
        if status is not None:
            for obj in (objects if wait_all else [objects[status]]):
                obj.acquire(self.kernel.current_thread)
            return _wait_status(objects, wait_all, status)
        if timeout_ns is not None and timeout_ns <= 0:
            return STATUS_TIMEOUT
        raise WaitPending(objects, functools.partial(_wait_status, objects, wait_all),
                          wait_all=wait_all, timeout_ns=timeout_ns, reason="NtWaitForObjects")

    @service(Arg("Alertable", Raw()), Arg("DelayIntervalNs", Int()))
    def NtDelayExecution(self, Alertable: bool, DelayIntervalNs: int) -> NTSTATUS:
        """Sleep: a wait on nothing, with a timeout."""
        if DelayIntervalNs <= 0:
            return STATUS_SUCCESS
        raise WaitPending([], lambda status: STATUS_SUCCESS, timeout_ns=DelayIntervalNs,
                          reason="sleep")

    @service()
    def NtYieldExecution(self) -> NTSTATUS:
        """Give up the rest of the quantum to another ready thread."""
        thread = self.kernel.current_thread
        dispatcher = self.kernel.dispatcher
        if thread.process.cpu is not None and dispatcher.ready:
            dispatcher.woke_another = False     # it yields: it goes after the others, not first
            thread.process.cpu.request_stop()
        return STATUS_SUCCESS

    # --- processes and time -----------------------------------------------------------------

    @service(Arg("ProcessHandle", HandleArg()), Arg("ExitStatus", Int()))
    def NtTerminateProcess(self, ProcessHandle: int, ExitStatus: int) -> NTSTATUS:
        """End a process and all its threads; it becomes signalled."""
        process = self._target_process(ProcessHandle)
        self.kernel.terminate_process(process, ExitStatus)
        return STATUS_SUCCESS

    @service(Arg("ThreadHandle", HandleArg()), Arg("ExitStatus", Int()))
    def NtTerminateThread(self, ThreadHandle: int, ExitStatus: int) -> NTSTATUS:
        """End one thread; the process ends with its last thread."""
        thread = self._object(ThreadHandle, Thread)
        self.kernel.terminate_thread(thread, ExitStatus)
        return STATUS_SUCCESS

    @service(returns="SystemTime")
    def NtQuerySystemTime(self) -> int:
        """The system time in 100 ns units since 1601 (KeQuerySystemTime)."""
        return self.kernel.clock.nt_time()

    @service(returns="PerformanceCount")
    def NtQueryPerformanceCounter(self) -> int:
        """A monotonic counter in nanoseconds (frequency 10^9), for CLOCK_MONOTONIC."""
        return self.kernel.clock.monotonic_ns()

    @service(Arg("ProcessHandle", HandleArg()))
    def NtQueryInformationProcess(self, ProcessHandle: int, ProcessInformationClass: int = 0) -> dict:
        """PROCESS_BASIC_INFORMATION (class 0): ids, parent, exit status; or
        KERNEL_USER_TIMES (class 4, ProcessTimes): creation time and processor time, in
        100 ns units (user and kernel time are not told apart here: all of it is user)."""
        process = self._target_process(ProcessHandle)
        if ProcessInformationClass == ProcessTimes:
            return {"CreateTime": process.create_time_ns // 100, "ExitTime": 0, "KernelTime": 0,
                    "UserTime": sum(self.kernel.dispatcher.thread_time_ns(t) for t in process.threads) // 100}
        return {"UniqueProcessId": process.pid,
                "InheritedFromUniqueProcessId": process.parent.pid if process.parent else 0,
                "ExitStatus": process.exit_status if process.exit_status is not None else 0x103}

    @service(Arg("ParentProcess", HandleArg()), Arg("InheritObjectTable", Raw()),
             Arg("SectionHandle", Raw()), returns="ProcessHandle")
    def NtCreateProcessEx(self, ParentProcess: int, InheritObjectTable: bool = True,
                          SectionHandle: int | None = None) -> int:
        """Create a process. With no section, its address space is a copy of the
        parent's: the call NT's native API kept for POSIX fork (WSL1's fork too)."""
        if SectionHandle is not None:
            raise NtStatusError(STATUS_NOT_IMPLEMENTED, "image sections: personalities load images")
        parent = self._target_process(ParentProcess)
        kernel = self.kernel
        child = kernel.create_process(parent.name, parent.personality, parent=parent,
                                      image_path=parent.image_path,
                                      architecture=parent.cpu.architecture if parent.cpu else None)
        if parent.memory is not None:
            parent.memory.clone_into(child.memory)
        if InheritObjectTable:
            child.handles = parent.handles.clone()
        return self._process.handles.insert(child)

    @service(Arg("ProcessHandle", HandleArg()), Arg("Context", ContextArg()), returns="ThreadHandle")
    def NtCreateThreadEx(self, ProcessHandle: int, Context: Any = None) -> int:
        """Create a ready thread in a process, starting from a register context."""
        process = self._target_process(ProcessHandle)
        thread = self.kernel.create_thread(process)
        thread.context = Context
        self.kernel.start_thread(thread)
        return self._process.handles.insert(thread)

    @service(Arg("DesiredAccess", ProcessAccess), Arg("ClientId", Raw()), returns="ProcessHandle")
    def NtOpenProcess(self, DesiredAccess: int, ClientId: int | tuple[int, int]) -> int:
        """A handle to a process named by its id (a CLIENT_ID's UniqueProcess).

        How a server gets at the client a message came from (the PORT_MESSAGE's ClientId)."""
        pid = ClientId[0] if isinstance(ClientId, tuple) else ClientId
        process = self.kernel.processes.get(pid)
        if process is None:
            raise NtStatusError(STATUS_INVALID_CID, f"no process {pid}")
        return self._process.handles.insert(process, DesiredAccess)

    @service(Arg("DesiredAccess", ThreadAccess), Arg("ClientId", Raw()), returns="ThreadHandle")
    def NtOpenThread(self, DesiredAccess: int, ClientId: int | tuple[int, int]) -> int:
        """A handle to a thread named by its CLIENT_ID (process id, thread id), or by its
        thread id alone."""
        pid, tid = ClientId if isinstance(ClientId, tuple) else (None, ClientId)
        processes = [self.kernel.processes[pid]] if pid in self.kernel.processes \
            else ([] if pid is not None else list(self.kernel.processes.values()))
        for process in processes:
            for thread in process.threads:
                if thread.tid == tid:
                    return self._process.handles.insert(thread, DesiredAccess)
        raise NtStatusError(STATUS_INVALID_CID, f"no thread {ClientId}")

    def _process_for(self, handle: int, needs: int) -> Process:
        """The process behind a handle opened with one of the rights `needs` (a
        pseudo-handle has them all)."""
        process = self._target_process(handle)
        entry = self._process.handles.entries.get(handle)
        if entry is not None and needs & ~entry.access and not entry.access & GENERIC_ALL:
            raise NtStatusError(STATUS_ACCESS_DENIED, f"handle {handle:#x} was not opened for that")
        if process.memory is None:
            raise NtStatusError(STATUS_PARTIAL_COPY, f"{process.describe()} has no address space")
        return process

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("BufferSize", Int()),
             returns="Buffer")
    def NtReadVirtualMemory(self, ProcessHandle: int, BaseAddress: int, BufferSize: int) -> bytes:
        """Read another process's memory (a server reading a client's buffer).

        Memory that is not there is STATUS_PARTIAL_COPY, and nothing is read."""
        process = self._process_for(ProcessHandle, PROCESS_VM_READ)
        try:
            return process.memory.read(BaseAddress, BufferSize)
        except NtStatusError as error:
            raise NtStatusError(STATUS_PARTIAL_COPY, error.detail) from None

    @service(Arg("ProcessHandle", HandleArg()), Arg("BaseAddress", Hex()), Arg("Buffer", BytesArg()),
             returns="NumberOfBytesWritten")
    def NtWriteVirtualMemory(self, ProcessHandle: int, BaseAddress: int, Buffer: bytes) -> int:
        """Write another process's memory (a server filling a client's buffer).

        Only pages the process could write itself: read-only or missing memory is
        STATUS_PARTIAL_COPY, and nothing is written."""
        process = self._process_for(ProcessHandle, PROCESS_VM_WRITE)
        memory = process.memory
        end = BaseAddress + len(Buffer)
        page = BaseAddress & ~(PAGE_SIZE - 1)
        while page < end:
            try:
                info = memory.query(page)
            except NtStatusError as error:
                raise NtStatusError(STATUS_PARTIAL_COPY, error.detail) from None
            if info.State != MEM_COMMIT or info.Protect & 0xFF not in (0x04, 0x08, 0x40, 0x80):
                raise NtStatusError(STATUS_PARTIAL_COPY, f"{page:#x} is not writable")
            page = max(page + PAGE_SIZE, (info.BaseAddress + info.RegionSize) & ~(PAGE_SIZE - 1))
        try:
            memory.write(BaseAddress, bytes(Buffer))
        except NtStatusError as error:
            raise NtStatusError(STATUS_PARTIAL_COPY, error.detail) from None
        return len(Buffer)

    # --- threads from outside: suspend, context, APCs -----------------------------------------

    def _guest_thread(self, handle: int) -> Thread:
        thread = self._object(handle, Thread)
        if thread.state == ThreadState.TERMINATED:
            raise NtStatusError(STATUS_THREAD_IS_TERMINATING, thread.describe())
        return thread

    @service(Arg("ThreadHandle", HandleArg()), returns="PreviousSuspendCount")
    def NtSuspendThread(self, ThreadHandle: int) -> int:
        """Stop a thread before its next user-mode instruction, until it is resumed.

        A call it waits in still completes first; it runs again when as many
        NtResumeThread calls have come as suspensions."""
        thread = self._guest_thread(ThreadHandle)
        previous = thread.suspend_count
        if previous >= MAXIMUM_SUSPEND_COUNT:
            raise NtStatusError(STATUS_SUSPEND_COUNT_EXCEEDED, thread.describe())
        thread.suspend_count += 1
        if previous == 0:
            thread.resume_event.signalled = False
            # NT's suspend APC: it runs in the thread, which then waits on its resume event
            self.kernel.dispatcher.queue_user_apc(thread, functools.partial(self._suspended, thread))
            if thread is self.kernel.current_thread and thread.process.cpu is not None:
                thread.process.cpu.request_stop()
        return previous

    def _suspended(self, thread: Thread) -> None:
        if thread.suspend_count == 0:
            return                      # resumed before it got this far

        def woken(_status: int) -> None:
            if thread.suspend_count:    # an alert ended the wait, not a resume: wait again
                self.kernel.dispatcher.queue_user_apc(thread, functools.partial(self._suspended, thread))

        pending = WaitPending([thread.resume_event], lambda status: status, reason="suspended")
        self.kernel.dispatcher.park(thread, pending, woken)

    @service(Arg("ThreadHandle", HandleArg()), returns="PreviousSuspendCount")
    def NtResumeThread(self, ThreadHandle: int) -> int:
        """Take back one suspension; at zero the thread runs again."""
        thread = self._object(ThreadHandle, Thread)
        previous = thread.suspend_count
        if previous:
            thread.suspend_count -= 1
            if thread.suspend_count == 0:
                thread.resume_event.signalled = True
                self.kernel.dispatcher.signal(thread.resume_event)
        return previous

    def _registers(self, thread: Thread) -> tuple[Any, tuple[str, ...]]:
        """Where a thread's registers are now: the processor, if it holds them, else the
        context saved when another thread took it."""
        cpu = thread.process.cpu
        if thread.is_host_thread or cpu is None:
            raise NtStatusError(STATUS_NOT_SUPPORTED, f"{thread.describe()} runs host code: no registers")
        names = CONTEXT_REGISTERS[cpu.architecture]
        if cpu.loaded_thread is thread or (cpu.loaded_thread is None and thread.context is None):
            return cpu.uc, names
        if thread.context is None:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"{thread.describe()} has not run yet")
        return thread.context, names

    @service(Arg("ThreadHandle", HandleArg()), returns="Context")
    def NtGetContextThread(self, ThreadHandle: int) -> dict[str, int]:
        """A thread's integer registers (CONTEXT_INTEGER | CONTEXT_CONTROL) by name."""
        source, names = self._registers(self._guest_thread(ThreadHandle))
        return {name: source.reg_read(_unicorn_register(name)) for name in names}

    @service(Arg("ThreadHandle", HandleArg()), Arg("Context", Raw()))
    def NtSetContextThread(self, ThreadHandle: int, Context: dict[str, int]) -> NTSTATUS:
        """Change some of a thread's registers; it goes on from them when it next runs.

        What a server does to redirect a client thread to a signal handler."""
        source, names = self._registers(self._guest_thread(ThreadHandle))
        unknown = [name for name in Context if name not in names]
        if unknown:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"no register {unknown[0]} in this CONTEXT")
        for name, value in Context.items():
            source.reg_write(_unicorn_register(name), value)
        return STATUS_SUCCESS

    @service(Arg("ThreadHandle", HandleArg()), Arg("ApcRoutine", Raw()), Arg("ApcArgument1", Raw()),
             Arg("ApcArgument2", Raw()), Arg("ApcArgument3", Raw()))
    def NtQueueApcThread(self, ThreadHandle: int, ApcRoutine: Any, ApcArgument1: Any = None,
                         ApcArgument2: Any = None, ApcArgument3: Any = None) -> NTSTATUS:
        """Queue a user APC: a routine the thread runs before its next user code.

        (ntsim does not tell alertable waits apart.) A Python callable runs as
        kernel-side code in the thread's context; a guest address needs the process's
        personality to enter it (ntdll's KiUserApcDispatcher: `deliver_user_apc`)."""
        thread = self._guest_thread(ThreadHandle)
        arguments = (ApcArgument1, ApcArgument2, ApcArgument3)
        if callable(ApcRoutine):
            routine = functools.partial(ApcRoutine, *arguments)
        else:
            deliver = getattr(thread.process.personality, "deliver_user_apc", None)
            if deliver is None:
                raise NtStatusError(STATUS_NOT_SUPPORTED,
                                    f"NtQueueApcThread: {thread.process.subsystem} has no user APC dispatcher")
            routine = functools.partial(deliver, thread, ApcRoutine, arguments)
        self.kernel.dispatcher.queue_user_apc(thread, routine)
        if thread is self.kernel.current_thread and thread.process.cpu is not None:
            thread.process.cpu.request_stop()
        return STATUS_SUCCESS

    # --- semaphores and mutants ---------------------------------------------------------------

    @service(Arg("ObjectName", Text()), Arg("InitialCount", Int()), Arg("MaximumCount", Int()),
             returns="SemaphoreHandle")
    def NtCreateSemaphore(self, ObjectName: str | None = None, InitialCount: int = 0,
                          MaximumCount: int = 1) -> int:
        """A semaphore with a count from 0 to MaximumCount, named or not."""
        if MaximumCount <= 0 or not 0 <= InitialCount <= MaximumCount:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"count {InitialCount} of {MaximumCount}")
        return self._insert_named(Semaphore(initial_count=InitialCount, maximum_count=MaximumCount),
                                  ObjectName)

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access), returns="SemaphoreHandle")
    def NtOpenSemaphore(self, ObjectName: str, DesiredAccess: int = 0x1F0003) -> int:
        """Open a named semaphore."""
        return self._open_named(ObjectName, Semaphore, DesiredAccess)

    @service(Arg("SemaphoreHandle", HandleArg()), Arg("ReleaseCount", Int()), returns="PreviousCount")
    def NtReleaseSemaphore(self, SemaphoreHandle: int, ReleaseCount: int = 1) -> int:
        """Add to the count (waking as many waiters); never past the maximum."""
        semaphore = self._object(SemaphoreHandle, Semaphore)
        if ReleaseCount <= 0:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"ReleaseCount {ReleaseCount}")
        if semaphore.count + ReleaseCount > semaphore.maximum:
            raise NtStatusError(STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                                f"{semaphore.count} + {ReleaseCount} > {semaphore.maximum}")
        previous = semaphore.count
        semaphore.count += ReleaseCount
        self.kernel.dispatcher.signal(semaphore)
        return previous

    @service(Arg("ObjectName", Text()), Arg("InitialOwner", Raw()), returns="MutantHandle")
    def NtCreateMutant(self, ObjectName: str | None = None, InitialOwner: bool = False) -> int:
        """A mutant (Win32's mutex), owned at once by the caller if InitialOwner."""
        owner = self.kernel.current_thread if InitialOwner else None
        return self._insert_named(Mutant(self.kernel.dispatcher, owner=owner), ObjectName)

    @service(Arg("ObjectName", Text()), Arg("DesiredAccess", Access), returns="MutantHandle")
    def NtOpenMutant(self, ObjectName: str, DesiredAccess: int = 0x1F0001) -> int:
        """Open a named mutant."""
        return self._open_named(ObjectName, Mutant, DesiredAccess)

    @service(Arg("MutantHandle", HandleArg()), returns="PreviousCount")
    def NtReleaseMutant(self, MutantHandle: int) -> int:
        """The owner lets go once; only the owner may (STATUS_MUTANT_NOT_OWNED).
        Returns the previous count as NT does: 0 while owned, counting down from it."""
        mutant = self._object(MutantHandle, Mutant)
        if mutant.owner is not self.kernel.current_thread:
            raise NtStatusError(STATUS_MUTANT_NOT_OWNED, "the caller does not own it")
        previous = 1 - mutant.recursion      # KeReleaseMutant: the signal state before
        mutant.release()
        return previous

    # --- keyed events (the futex of NT) -----------------------------------------------------

    @service(returns="KeyedEventHandle")
    def NtCreateKeyedEvent(self) -> int:
        """A keyed event: a wait queue for every key (address) on one object."""
        return self._process.handles.insert(KeyedEvent())

    @service(Arg("KeyedEventHandle", HandleArg()), Arg("Key", Hex()), Arg("TimeoutNs", Raw()))
    def NtWaitForKeyedEvent(self, KeyedEventHandle: int, Key: int, Alertable: bool = False,
                            TimeoutNs: int | None = None, Bitset: int = 0xFFFFFFFF) -> NTSTATUS:
        """Wait on a key until a release picks this waiter (or the timeout passes)."""
        keyed = self._object(KeyedEventHandle, KeyedEvent)
        token = keyed.add_waiter(Key, Bitset)

        def finish(status: int) -> NTSTATUS:
            if status == STATUS_TIMEOUT:
                keyed.remove_waiter(Key, token)
            return NTSTATUS(status)

        def withdraw() -> None:
            # The wait was abandoned (a signal interrupted it): this waiter must not take
            # a later release meant for a thread still waiting — wherever a requeue put it.
            for key in [k for k, queue in keyed.waiters.items() if any(t is token for t, _ in queue)]:
                keyed.remove_waiter(key, token)

        pending = WaitPending([token], finish, timeout_ns=TimeoutNs, reason=f"keyed event {Key:#x}")
        pending.on_cancel.append(withdraw)
        raise pending

    @service(Arg("KeyedEventHandle", HandleArg()), Arg("Key", Hex()), Arg("Count", Int()),
             returns="Released")
    def NtReleaseKeyedEvent(self, KeyedEventHandle: int, Key: int, Count: int = 1,
                            Bitset: int = 0xFFFFFFFF) -> int:
        """Wake up to Count waiters on a key; returns how many woke. (NT's release waits
        for a waiter to arrive if there is none; a futex wake does not, so neither does
        this one.)"""
        keyed = self._object(KeyedEventHandle, KeyedEvent)
        tokens = keyed.release(Key, Count, Bitset)
        for token in tokens:
            token.signalled = True
            self.kernel.dispatcher.signal(token)
        return len(tokens)

    # --- LPC ports --------------------------------------------------------------------------

    @service(Arg("PortName", Text()), returns="PortHandle")
    def NtCreatePort(self, PortName: str, MaxMessageLength: int = 0x148) -> int:
        """Create a named connection port for a server thread to listen on."""
        from .lpc import Port
        port = Port("connection", self._process)
        self.kernel.objects.insert(PortName, port)
        return self._process.handles.insert(port)

    @service(Arg("PortName", Text()), Arg("ClientViewSize", Hex()), returns="PortHandle")
    def NtConnectPort(self, PortName: str, ClientViewSize: int = 0) -> int:
        """Connect to a server's named port; returns a communication port handle.
        ClientViewSize: make a port section of that size, mapped into this process and
        the server (ClientView), for data too big for a message."""
        process = self._process
        return then(lambda: self.kernel.lpc.connect(process, PortName, ClientViewSize),
                    process.handles.insert)

    @service(Arg("PortHandle", HandleArg()))
    def NtListenPort(self, PortHandle: int) -> Any:
        """Wait for a connection request on a connection port."""
        from .lpc import LPC_CONNECTION_REQUEST, Port
        return self.kernel.lpc.receive(self._object(PortHandle, Port), (LPC_CONNECTION_REQUEST,))

    @service(Arg("ConnectionRequest", Raw()), Arg("AcceptConnection", Raw()), returns="PortHandle")
    def NtAcceptConnectPort(self, ConnectionRequest: Any, AcceptConnection: bool = True) -> int | None:
        """Accept (or refuse) a connection request; returns the server's communication port."""
        port = self.kernel.lpc.accept(ConnectionRequest, AcceptConnection)
        return self._process.handles.insert(port) if port is not None else None

    @service(Arg("PortHandle", HandleArg()), Arg("ReplyMessage", Raw()))
    def NtReplyWaitReceivePort(self, PortHandle: int, ReplyTo: Any = None, ReplyValue: Any = None) -> Any:
        """Reply to the last request (if any), then wait for the next message."""
        from .lpc import Port
        port = self._object(PortHandle, Port)
        if ReplyTo is not None:
            self.kernel.lpc.reply(None, ReplyTo, ReplyValue)
        return self.kernel.lpc.receive(port)

    @service(Arg("PortHandle", HandleArg()), Arg("ReplyMessage", Raw()))
    def NtReplyPort(self, PortHandle: int, ReplyTo: Any, ReplyValue: Any = None) -> NTSTATUS:
        """Send the reply to one request; the client's NtRequestWaitReplyPort returns it."""
        from .lpc import Port
        self._object(PortHandle, Port)
        self.kernel.lpc.reply(None, ReplyTo, ReplyValue)
        return STATUS_SUCCESS

    @service(Arg("PortHandle", HandleArg()), Arg("ApiNumber", Hex()))
    def NtRequestWaitReplyPort(self, PortHandle: int, ApiNumber: int, Body: dict | None = None,
                               Data: bytes = b"", DataEntries: list[tuple[int, int]] | None = None) -> Any:
        """Send a request over a port and wait for its reply. Data that does not fit the
        message goes through the port section (or fails: STATUS_PORT_MESSAGE_TOO_LONG);
        DataEntries name buffers of this process (address, size) the server may reach
        with NtReadRequestData / NtWriteRequestData."""
        from .lpc import USER_MODE, Port, PortMessage
        port = self._object(PortHandle, Port)
        message = PortMessage(0, ApiNumber, Body or {}, Data, data_entries=list(DataEntries or ()))
        return self.kernel.lpc.request_wait_reply(port, message, USER_MODE)

    @service(Arg("PortHandle", HandleArg()), Arg("ApiNumber", Hex()))
    def NtRequestPort(self, PortHandle: int, ApiNumber: int, Body: dict | None = None,
                      Data: bytes = b"") -> NTSTATUS:
        """Send a datagram: a message with no reply, from a client to its server or from
        a server's communication port to its client."""
        from .lpc import USER_MODE, Port, PortMessage
        port = self._object(PortHandle, Port)
        self.kernel.lpc.send_datagram(port, PortMessage(0, ApiNumber, Body or {}, Data), USER_MODE)
        return STATUS_SUCCESS

    @service(Arg("PortHandle", HandleArg()), Arg("Message", Raw()), Arg("DataEntryIndex", Int()),
             Arg("BufferSize", Int()), returns="Buffer")
    def NtReadRequestData(self, PortHandle: int, Message: Any, DataEntryIndex: int,
                          BufferSize: int) -> bytes:
        """A server reads a buffer the client's waiting request names (its data entry)."""
        from .lpc import Port
        return self.kernel.lpc.read_request_data(self._object(PortHandle, Port), Message,
                                                 DataEntryIndex, BufferSize)

    @service(Arg("PortHandle", HandleArg()), Arg("Message", Raw()), Arg("DataEntryIndex", Int()),
             Arg("Buffer", BytesArg()), returns="NumberOfBytesWritten")
    def NtWriteRequestData(self, PortHandle: int, Message: Any, DataEntryIndex: int,
                           Buffer: bytes) -> int:
        """A server writes into a buffer the client's waiting request names."""
        from .lpc import Port
        return self.kernel.lpc.write_request_data(self._object(PortHandle, Port), Message,
                                                  DataEntryIndex, Buffer)


def _wait_status(objects: list, wait_all: bool, status: int) -> NTSTATUS:
    """A satisfied wait's status: STATUS_WAIT_0 + index, or STATUS_ABANDONED_WAIT_0 +
    index when what it got was a mutant whose owner ended without releasing it."""
    index = status - STATUS_WAIT_0
    if 0 <= index < len(objects):
        got = objects if wait_all else [objects[index]]
        if any(isinstance(obj, Mutant) and obj.take_abandoned() for obj in got):
            return NTSTATUS(STATUS_ABANDONED_WAIT_0 + (0 if wait_all else index))
    return NTSTATUS(status)


# CONTEXT's integer registers, by architecture, as NtGet/SetContextThread show them
CONTEXT_REGISTERS = {
    "x86-64": ("Rax", "Rbx", "Rcx", "Rdx", "Rsi", "Rdi", "Rbp", "Rsp", "R8", "R9", "R10", "R11",
               "R12", "R13", "R14", "R15", "Rip", "EFlags"),
    "x86-32": ("Eax", "Ebx", "Ecx", "Edx", "Esi", "Edi", "Ebp", "Esp", "Eip", "EFlags"),
    "x86-16": ("Ax", "Bx", "Cx", "Dx", "Si", "Di", "Bp", "Sp", "Ip", "EFlags", "SegCs", "SegDs",
               "SegEs", "SegSs"),
}
MAXIMUM_SUSPEND_COUNT = 127
PROCESS_VM_OPERATION, PROCESS_VM_READ, PROCESS_VM_WRITE = 0x8, 0x10, 0x20


def _unicorn_register(name: str) -> int:
    from .cpu import REGISTERS
    key = name.lower()
    key = {"eflags": "eflags", "segcs": "cs", "segds": "ds", "seges": "es", "segss": "ss"}.get(key, key)
    return REGISTERS[key]


def service_table() -> list[ServiceRow]:
    return list(SERVICE_TABLE)

