"""The I/O manager: devices, file objects, and the information records they return.

Opening `\\??\\C:\\dir\\file` walks the object namespace to a *device object*, which
parses the rest of the path and produces a *file object*: the kernel's record of one
open instance (its position, its access, the device's own context). Every later request
on the handle — read, write, query, set, directory listing — is sent to that device,
as NT sends IRPs to a driver. Devices here:

- `fs/volume.py`  — `\\Device\\HarddiskVolume1`, a file system on a host directory (--root)
- `fs/null.py`    — `\\Device\\Null`
- `fs/console.py` — `\\Device\\ConDrv`, whose requests travel over LPC to CSRSS

NT's structures come back as Python records with NT's field names, so a personality
can read `info.EndOfFile` the way C code reads `FILE_STANDARD_INFORMATION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .objects import KernelObject, ParsableObject
from .status import STATUS_EAS_NOT_SUPPORTED, STATUS_INVALID_DEVICE_REQUEST, NtStatusError

# ACCESS_MASK bits for files
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4
# NtWriteFile's ByteOffset that means "at the end of the file" (LowPart 0xFFFFFFFF, HighPart -1)
FILE_WRITE_TO_END_OF_FILE = -1
FILE_LIST_DIRECTORY, FILE_ADD_FILE, FILE_TRAVERSE, FILE_EXECUTE = 0x1, 0x2, 0x20, 0x20
FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES = 0x80, 0x100
DELETE, SYNCHRONIZE = 0x10000, 0x100000
GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL = 0x80000000, 0x40000000, 0x20000000, 0x10000000

# CreateDisposition
FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF = range(6)
DISPOSITIONS = {0: "FILE_SUPERSEDE", 1: "FILE_OPEN", 2: "FILE_CREATE", 3: "FILE_OPEN_IF",
                4: "FILE_OVERWRITE", 5: "FILE_OVERWRITE_IF"}

# CreateOptions
FILE_DIRECTORY_FILE = 0x1
FILE_SYNCHRONOUS_IO_NONALERT = 0x20
FILE_NON_DIRECTORY_FILE = 0x40
FILE_DELETE_ON_CLOSE = 0x1000
FILE_OPEN_REPARSE_POINT = 0x200000
CREATE_OPTIONS = {FILE_DIRECTORY_FILE: "FILE_DIRECTORY_FILE",
                  FILE_SYNCHRONOUS_IO_NONALERT: "FILE_SYNCHRONOUS_IO_NONALERT",
                  FILE_NON_DIRECTORY_FILE: "FILE_NON_DIRECTORY_FILE",
                  FILE_DELETE_ON_CLOSE: "FILE_DELETE_ON_CLOSE",
                  FILE_OPEN_REPARSE_POINT: "FILE_OPEN_REPARSE_POINT"}
ACCESS_NAMES = {GENERIC_READ: "GENERIC_READ", GENERIC_WRITE: "GENERIC_WRITE",
                FILE_READ_DATA: "FILE_READ_DATA", FILE_WRITE_DATA: "FILE_WRITE_DATA",
                FILE_APPEND_DATA: "FILE_APPEND_DATA", FILE_READ_ATTRIBUTES: "FILE_READ_ATTRIBUTES",
                FILE_WRITE_ATTRIBUTES: "FILE_WRITE_ATTRIBUTES", DELETE: "DELETE",
                SYNCHRONIZE: "SYNCHRONIZE"}

# IO_STATUS_BLOCK.Information after a create
FILE_SUPERSEDED, FILE_OPENED, FILE_CREATED, FILE_OVERWRITTEN = 0, 1, 2, 3

# FILE_ATTRIBUTE_*
FILE_ATTRIBUTE_READONLY, FILE_ATTRIBUTE_DIRECTORY = 0x1, 0x10
FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_REPARSE_POINT = 0x80, 0x400

# FILE_INFORMATION_CLASS
FileDirectoryInformation = 1
FileBothDirectoryInformation = 3
FileBasicInformation = 4
FileStandardInformation = 5
FileInternalInformation = 6
FileNameInformation = 9
FileRenameInformation = 10
FileLinkInformation = 11
FileNamesInformation = 12
FileDispositionInformation = 13
FilePositionInformation = 14
FileAllInformation = 18
FileEndOfFileInformation = 20
FilePipeInformation = 23
FilePipeLocalInformation = 24
FileIdBothDirectoryInformation = 37
FileDispositionInformationEx = 64
FileStatLxInformation = 70
FILE_INFORMATION_CLASSES = {
    1: "FileDirectoryInformation", 3: "FileBothDirectoryInformation",
    4: "FileBasicInformation", 5: "FileStandardInformation", 6: "FileInternalInformation",
    9: "FileNameInformation", 10: "FileRenameInformation", 11: "FileLinkInformation",
    12: "FileNamesInformation", 13: "FileDispositionInformation",
    14: "FilePositionInformation", 18: "FileAllInformation", 20: "FileEndOfFileInformation",
    23: "FilePipeInformation", 24: "FilePipeLocalInformation",
    37: "FileIdBothDirectoryInformation", 64: "FileDispositionInformationEx",
    70: "FileStatLxInformation"}

# FSCTL codes
FSCTL_SET_REPARSE_POINT, FSCTL_GET_REPARSE_POINT = 0x900A4, 0x900A8
FSCTL_PIPE_LISTEN = 0x110008        # ConnectNamedPipe: wait at a pipe's end for the other side
FSCTL_PIPE_PEEK = 0x11400C          # PeekNamedPipe: what a read would take, left in the pipe
# A pico provider's own control (a function code >= 0x800, as a vendor's are): stop one or
# both directions at an end of a full-duplex pipe, as Linux's shutdown() of a socket does
FSCTL_PIPE_LX_SHUTDOWN = 0x112000
FSCTL_NAMES = {FSCTL_SET_REPARSE_POINT: "FSCTL_SET_REPARSE_POINT",
               FSCTL_GET_REPARSE_POINT: "FSCTL_GET_REPARSE_POINT",
               FSCTL_PIPE_LISTEN: "FSCTL_PIPE_LISTEN", FSCTL_PIPE_PEEK: "FSCTL_PIPE_PEEK",
               FSCTL_PIPE_LX_SHUTDOWN: "FSCTL_PIPE_LX_SHUTDOWN"}
# The reparse tag WSL1 gave its symbolic links: the data is the target, verbatim
IO_REPARSE_TAG_LX_SYMLINK = 0xA000001D

# Extended attributes WSL1's lxfs keeps Linux metadata in, one per field (the newer
# format): 4-byte little-endian ULONGs, $LXDEV two of them (major, minor).
LX_EA_UID, LX_EA_GID, LX_EA_MODE, LX_EA_DEVICE = "$LXUID", "$LXGID", "$LXMOD", "$LXDEV"
LX_EAS = (LX_EA_UID, LX_EA_GID, LX_EA_MODE, LX_EA_DEVICE)
# FILE_STAT_LX_INFORMATION.LxFlags: which Linux fields came from those attributes
LX_FILE_METADATA_HAS_UID, LX_FILE_METADATA_HAS_GID = 0x1, 0x2
LX_FILE_METADATA_HAS_MODE, LX_FILE_METADATA_HAS_DEVICE_ID = 0x4, 0x8

# FS_INFORMATION_CLASS
FileFsVolumeInformation, FileFsSizeInformation, FileFsDeviceInformation = 1, 3, 4
FileFsAttributeInformation, FileFsFullSizeInformation = 5, 7
FS_INFORMATION_CLASSES = {1: "FileFsVolumeInformation", 3: "FileFsSizeInformation",
                          4: "FileFsDeviceInformation", 5: "FileFsAttributeInformation",
                          7: "FileFsFullSizeInformation"}

# FILE_DISPOSITION_INFORMATION_EX flags
FILE_DISPOSITION_DELETE, FILE_DISPOSITION_POSIX_SEMANTICS = 0x1, 0x2

# DEVICE_TYPE
FILE_DEVICE_CONSOLE, FILE_DEVICE_DISK_FILE_SYSTEM, FILE_DEVICE_NULL = 0x50, 0x8, 0x15
FILE_DEVICE_NAMED_PIPE = 0x11


@dataclass
class FileStatLx:
    """FILE_STAT_LX_INFORMATION (class 70): what WSL1 asks of a file — the NT times and
    sizes plus the Linux metadata lxfs keeps beside it."""

    FileId: int
    CreationTime: int
    LastAccessTime: int
    LastWriteTime: int
    ChangeTime: int
    AllocationSize: int
    EndOfFile: int
    FileAttributes: int
    NumberOfLinks: int
    LxMode: int
    LxUid: int
    LxGid: int
    LxDeviceIdMajor: int = 0
    LxDeviceIdMinor: int = 0
    VolumeSerialNumber: int = 0
    # nanosecond times, so Linux stat() keeps full precision
    AccessTimeNs: int = 0
    WriteTimeNs: int = 0
    ChangeTimeNs: int = 0
    BlockSize: int = 4096
    LxFlags: int = 0            # LX_FILE_METADATA_HAS_*: fields kept in lxfs attributes


@dataclass
class StandardInformation:
    """FILE_STANDARD_INFORMATION."""

    AllocationSize: int
    EndOfFile: int
    NumberOfLinks: int
    DeletePending: bool
    Directory: bool


@dataclass
class BasicInformation:
    """FILE_BASIC_INFORMATION."""

    CreationTime: int
    LastAccessTime: int
    LastWriteTime: int
    ChangeTime: int
    FileAttributes: int


@dataclass
class DirectoryEntry:
    """FILE_ID_BOTH_DIR_INFORMATION, one entry of a directory listing."""

    FileName: str
    FileId: int
    EndOfFile: int
    FileAttributes: int
    LxMode: int = 0


@dataclass
class VolumeSize:
    """FILE_FS_FULL_SIZE_INFORMATION."""

    TotalAllocationUnits: int
    CallerAvailableAllocationUnits: int
    ActualAvailableAllocationUnits: int
    SectorsPerAllocationUnit: int
    BytesPerSector: int


@dataclass
class CreateRequest:
    """The parameters of IRP_MJ_CREATE, handed to a device's parse procedure."""

    access: int
    disposition: int
    options: int
    attributes: int            # OBJECT_ATTRIBUTES.Attributes (OBJ_CASE_INSENSITIVE)
    file_attributes: int = 0
    lx_mode: int | None = None  # the mode a Linux guest asked for (kept by lxfs)
    ea: dict[str, bytes] | None = None   # NtCreateFile's EaBuffer: attributes for a new file
    process: Any = None


@dataclass(frozen=True)
class Readiness:
    """Whether a request on a file object would complete now, and what to wait on until
    it would: the question a Linux poll() or select() asks of every file.

    NT has no such request (a Win32 program posts an asynchronous read and waits for
    it); WSL1's lxcore kept readiness on its own file objects. Here a device answers it,
    and the pico provider waits on the dispatcher objects it names. A disk file, like
    NUL, is always ready: its requests never wait."""

    readable: bool = True             # data is there to read
    writable: bool = True             # there is room to write
    hangup: bool = False              # the writing side has closed: a read sees end of file
    broken: bool = False              # the reading side has closed: a write fails
    wait_read: tuple = ()             # signalled when `readable` becomes true
    wait_write: tuple = ()            # signalled when `writable` becomes true
    wait_closed: tuple = ()           # signalled when `hangup` or `broken` becomes true


ALWAYS_READY = Readiness()


class FileObject(KernelObject):
    """One open instance of a file on a device (FILE_OBJECT)."""

    type_name = "File"

    def __init__(self, device: Device, file_name: str, request: CreateRequest) -> None:
        super().__init__()
        self.device = device
        self.file_name = file_name          # path on the device, "\\dir\\file"
        self.access = request.access
        self.options = request.options
        self.position = 0                   # CurrentByteOffset, for synchronous I/O
        self.context: Any = None            # the device's own state (a host fd, a pipe end)
        self.directory_cursor = 0
        self.directory_entries: list[DirectoryEntry] | None = None
        self.delete_on_close = bool(request.options & FILE_DELETE_ON_CLOSE)
        self.case_sensitive = not request.attributes & 0x40    # no OBJ_CASE_INSENSITIVE
        self.information = FILE_OPENED
        self.section_key: Any = None        # its identity for sections, once looked up

    @property
    def is_directory(self) -> bool:
        return bool(self.options & FILE_DIRECTORY_FILE)

    def describe(self) -> str:
        return f"{self.device.path}{self.file_name if self.file_name != chr(92) else ''}" or "<File>"

    def on_last_handle_closed(self) -> None:
        self.device.cleanup(self)

    def delete(self) -> None:
        self.device.close(self)
        super().delete()


class Device(ParsableObject):
    """A device object. Subclasses implement the requests they support; the rest fail
    with STATUS_INVALID_DEVICE_REQUEST, as a driver without that dispatch routine does."""

    type_name = "Device"
    device_type = 0
    caches_files = False    # a file system whose files have ids and may back sections

    def parse(self, remaining: str, context: Any) -> FileObject:
        file = FileObject(self, remaining, context)
        self.create(file, context)
        return file

    def _unsupported(self, what: str):
        raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, f"{self.path} does not support {what}")

    def create(self, file: FileObject, request: CreateRequest) -> None:
        pass

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        self._unsupported("read")

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        self._unsupported("write")

    def query_information(self, file: FileObject, info_class: int) -> Any:
        self._unsupported(f"query information class {info_class}")

    def set_information(self, file: FileObject, info_class: int, value: Any) -> None:
        self._unsupported(f"set information class {info_class}")

    def query_directory(self, file: FileObject, restart: bool) -> list[DirectoryEntry]:
        self._unsupported("directory listing")

    def query_volume_information(self, file: FileObject, info_class: int) -> Any:
        self._unsupported(f"volume information class {info_class}")

    def device_control(self, file: FileObject, code: int, data: Any) -> Any:
        self._unsupported(f"device control {code:#x}")

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        """Would a read (`read`) or a write (`write`) complete now? A device whose
        requests can wait (a pipe, the console's input) answers for itself."""
        return ALWAYS_READY

    def flush(self, file: FileObject) -> None:
        """IRP_MJ_FLUSH_BUFFERS: nothing is cached unless a device says so."""

    def query_ea(self, file: FileObject) -> dict[str, bytes]:
        """IRP_MJ_QUERY_EA: the file's extended attributes."""
        raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{self.path} keeps no extended attributes")

    def set_ea(self, file: FileObject, attributes: dict[str, bytes]) -> None:
        """IRP_MJ_SET_EA: set attributes; an empty value removes one."""
        raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{self.path} keeps no extended attributes")

    def cleanup(self, file: FileObject) -> None:
        """The last handle closed (IRP_MJ_CLEANUP)."""

    def close(self, file: FileObject) -> None:
        """The last reference went away (IRP_MJ_CLOSE)."""
