"""`\\Device\\HarddiskVolume1`: a file system stored in a host directory (--root).

The volume is the only code that touches host files, so it is where the promise "the
guest never reaches a host file outside --root" is kept. Paths are resolved one
component at a time from the root: `..` stops at the root, and a symbolic link found on
the way is read and resolved again *inside* the root (an absolute target means the
root), never by the host. Only names checked this way are ever joined into a host path.

Names are case-insensitive and case-preserving, as on NTFS, unless the caller asks for
case-sensitive lookup (no OBJ_CASE_INSENSITIVE: what WSL1's lxfs did for Linux guests).

Linux metadata (lxfs). WSL1 kept a Linux file's mode, owner, group and device number in
NTFS extended attributes, one per field ($LXMOD, $LXUID, $LXGID, $LXDEV). This volume
keeps those EAs in host extended attributes of the `user.` namespace (user.lxss.mode,
.uid, .gid, .dev), which any user may write on files they own: a guest's chown then
changes the Linux view without the host privilege a real chown needs, and mknod can make
a FIFO or a device node as an ordinary host file whose $LXMOD says what it is. A field
without an attribute comes from the host file itself. Where the host keeps no user
attributes (some file systems, or a symbolic link, which Linux never lets carry them),
setting $LXMOD changes the host mode and $LXUID/$LXGID the host owner, when the host
allows it. Permission bits set through $LXMOD are applied to the host file too, so the
host enforces them on the same user.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from ..io import (
    FILE_APPEND_DATA,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_REPARSE_POINT,
    FILE_CREATE,
    FILE_CREATED,
    FILE_DEVICE_DISK_FILE_SYSTEM,
    FILE_DIRECTORY_FILE,
    FILE_DISPOSITION_DELETE,
    FILE_DISPOSITION_POSIX_SEMANTICS,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_REPARSE_POINT,
    FILE_OPENED,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_OVERWRITTEN,
    FILE_READ_DATA,
    FILE_SUPERSEDE,
    FILE_SUPERSEDED,
    FILE_WRITE_DATA,
    FILE_WRITE_TO_END_OF_FILE,
    FSCTL_GET_REPARSE_POINT,
    FSCTL_SET_REPARSE_POINT,
    GENERIC_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    IO_REPARSE_TAG_LX_SYMLINK,
    LX_EA_DEVICE,
    LX_EA_GID,
    LX_EA_MODE,
    LX_EA_UID,
    LX_FILE_METADATA_HAS_DEVICE_ID,
    LX_FILE_METADATA_HAS_GID,
    LX_FILE_METADATA_HAS_MODE,
    LX_FILE_METADATA_HAS_UID,
    BasicInformation,
    CreateRequest,
    Device,
    DirectoryEntry,
    FileAllInformation,
    FileBasicInformation,
    FileDispositionInformation,
    FileDispositionInformationEx,
    FileEndOfFileInformation,
    FileFsAttributeInformation,
    FileFsFullSizeInformation,
    FileFsSizeInformation,
    FileFsVolumeInformation,
    FileInternalInformation,
    FileLinkInformation,
    FileNameInformation,
    FileObject,
    FileRenameInformation,
    FileStandardInformation,
    FileStatLx,
    FileStatLxInformation,
    StandardInformation,
    VolumeSize,
)
from ..objects import OBJ_CASE_INSENSITIVE
from ..status import (
    STATUS_ACCESS_DENIED,
    STATUS_CANNOT_DELETE,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_DISK_FULL,
    STATUS_EAS_NOT_SUPPORTED,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INVALID_INFO_CLASS,
    STATUS_INVALID_PARAMETER,
    STATUS_IO_REPARSE_DATA_INVALID,
    STATUS_MEDIA_WRITE_PROTECTED,
    STATUS_NAME_TOO_LONG,
    STATUS_NO_MEMORY,
    STATUS_NONEXISTENT_EA_ENTRY,
    STATUS_NOT_A_DIRECTORY,
    STATUS_NOT_A_REPARSE_POINT,
    STATUS_NOT_SAME_DEVICE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_PRIVILEGE_NOT_HELD,
    STATUS_REPARSE_POINT_NOT_RESOLVED,
    STATUS_SHARING_VIOLATION,
    STATUS_TOO_MANY_OPENED_FILES,
    STATUS_UNSUCCESSFUL,
    NtStatusError,
)

MAX_SYMLINKS = 40          # Linux's limit before ELOOP
MAX_NAME = 255
NT_TIME_EPOCH_OFFSET = 116_444_736_000_000_000

# WSL1 stores characters that NTFS forbids in names as private-use code points
# (U+F000 + the character). '\\' is the only one that collides with our path syntax.
BACKSLASH_STAND_IN = "\uf05c"

# lxfs's extended attributes and the host attributes that hold them
# A Linux guest's own extended attributes (setxattr) are EAs named "LXX:<name>", kept
# apart from lxfs's metadata in host attributes "user.lxss.x.<name>"; an EA's value is
# the attribute's after one marker byte (an empty EA value means "remove", an empty
# attribute does not).
GUEST_XATTR_EA, GUEST_XATTR_HOST = "LXX:", "user.lxss.x."
LX_XATTRS = {LX_EA_MODE: "user.lxss.mode", LX_EA_UID: "user.lxss.uid",
             LX_EA_GID: "user.lxss.gid", LX_EA_DEVICE: "user.lxss.dev"}
HOST_HAS_XATTRS = hasattr(os, "getxattr")      # Linux hosts
NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP)


def host_error(error: OSError, what: str) -> NtStatusError:
    """Translate a host errno into the NTSTATUS NTFS would give."""
    status = {
        errno.ENOENT: STATUS_OBJECT_NAME_NOT_FOUND, errno.EEXIST: STATUS_OBJECT_NAME_COLLISION,
        errno.ENOTDIR: STATUS_NOT_A_DIRECTORY, errno.EISDIR: STATUS_FILE_IS_A_DIRECTORY,
        errno.ENOTEMPTY: STATUS_DIRECTORY_NOT_EMPTY, errno.EACCES: STATUS_ACCESS_DENIED,
        errno.EPERM: STATUS_ACCESS_DENIED, errno.ENOSPC: STATUS_DISK_FULL,
        errno.ENAMETOOLONG: STATUS_NAME_TOO_LONG, errno.EXDEV: STATUS_NOT_SAME_DEVICE,
        errno.ELOOP: STATUS_REPARSE_POINT_NOT_RESOLVED, errno.EINVAL: STATUS_INVALID_PARAMETER,
        errno.EBUSY: STATUS_SHARING_VIOLATION, errno.EROFS: STATUS_MEDIA_WRITE_PROTECTED,
        # the host ran out of descriptors for ntsim: the guest hears EMFILE, never EIO
        errno.EMFILE: STATUS_TOO_MANY_OPENED_FILES, errno.ENFILE: STATUS_TOO_MANY_OPENED_FILES,
        errno.ENOMEM: STATUS_NO_MEMORY,
    }.get(error.errno, STATUS_UNSUCCESSFUL)
    return NtStatusError(status, f"{what}: {os.strerror(error.errno or 0)}")


def to_nt_time(ns: int) -> int:
    return ns // 100 + NT_TIME_EPOCH_OFFSET


@dataclass
class Resolved:
    """Where a path led: the host path, its parts under the root, and its stat if it exists."""

    host_path: str
    parts: list[str]
    stat: os.stat_result | None

    @property
    def exists(self) -> bool:
        return self.stat is not None


@dataclass
class VolumeFile:
    """The volume's context for an open file (a host descriptor)."""

    fd: int | None
    host_path: str
    parts: list[str]
    is_directory: bool
    is_symlink: bool
    metadata_only: bool = False     # an O_PATH descriptor: no data access
    lx_type: int = 0                # S_IFIFO, S_IFCHR...: a special file lxfs keeps as a regular one
    # a host descriptor this file object stands for (a standard stream redirected to a
    # file): its offset follows the file object's when the file object closes
    shares_offset_with: int | None = None
    # the directory the opener's names are resolved under (its chroot), as parts
    floor: tuple[str, ...] = ()


class HostVolume(Device):
    device_type = FILE_DEVICE_DISK_FILE_SYSTEM
    caches_files = True     # its files back sections: read and write go through their pages

    def __init__(self, root: str, *, read_only: bool = False) -> None:
        super().__init__()
        self.root = os.path.realpath(root)
        # --read-only: a write-protected medium; every change is refused before the host
        # is asked (STATUS_MEDIA_WRITE_PROTECTED: a Linux guest's EROFS)
        self.read_only = read_only
        # --deterministic (`make_deterministic`): nothing of the host's clock or inode
        # numbers reaches the guest. Files the guest changes get their times from the
        # virtual clock; inode numbers and the serial number are numbered in the order
        # the guest first meets them.
        self.clock_ns = None                     # the virtual clock, when deterministic
        self._virtual_times: dict[int, list[int]] = {}   # host inode -> [atime, mtime, ctime]
        self._virtual_ids: dict[int, int] = {}           # host inode -> the guest's
        root_stat = os.stat(self.root)
        if not stat.S_ISDIR(root_stat.st_mode):
            raise NotADirectoryError(self.root)
        self.serial_number = root_stat.st_dev & 0xFFFFFFFF

    def make_deterministic(self, clock_ns) -> None:
        self.clock_ns = clock_ns
        self.serial_number = 0x4E54_5349      # "NTSI": the same volume every run

    def file_id(self, host_inode: int) -> int:
        """The inode number the guest sees: the host's, or under --deterministic one
        numbered from 2 (the root first) in the order the guest meets files."""
        if self.clock_ns is None:
            return host_inode
        return self._virtual_ids.setdefault(host_inode, len(self._virtual_ids) + 2)

    def _changed(self, host_inode: int, *, data: bool = True, accessed: bool = False) -> None:
        """Under --deterministic, the guest changed a file now (its data: mtime and ctime;
        else only ctime): the virtual clock's time is what stat will show."""
        if self.clock_ns is None:
            return
        now = self.clock_ns()
        times = self._virtual_times.get(host_inode)
        if times is None:
            times = self._virtual_times[host_inode] = [now, now, now]
        if data:
            times[1] = now
        if accessed:
            times[0] = now
        times[2] = now

    def _changed_fd(self, fd: int | None, path: str | None = None, **kind) -> None:
        if self.clock_ns is None:
            return
        try:
            info = os.stat(fd) if fd is not None else os.lstat(path)
        except OSError:
            return
        self._changed(info.st_ino, **kind)

    # --- names ------------------------------------------------------------------------------

    @staticmethod
    def host_name(nt_name: str) -> str:
        return nt_name.replace(BACKSLASH_STAND_IN, "\\")

    @staticmethod
    def nt_name(host_name: str) -> str:
        return host_name.replace("\\", BACKSLASH_STAND_IN)

    def guest_path(self, host_path: str) -> str | None:
        """The path of a host file as the guest sees it ('/dir/file'), or None if it lies
        outside the root."""
        real = os.path.realpath(host_path)
        if real == self.root:
            return "/"
        if real.startswith(self.root.rstrip("/") + "/"):
            return real[len(self.root.rstrip("/")):]
        return None

    def _find(self, directory: str, name: str, case_sensitive: bool) -> str | None:
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
            raise NtStatusError(STATUS_NAME_TOO_LONG, name[:40] + "...")
        if "/" in name or "\0" in name:
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID, name)
        candidate = os.path.join(directory, name)
        if os.path.lexists(candidate):
            return name
        if case_sensitive:
            return None
        folded = name.casefold()
        try:
            for entry in os.listdir(directory):
                if entry.casefold() == folded:
                    return entry
        except OSError:
            return None
        return None

    def resolve(self, path: str, case_sensitive: bool, follow_final: bool = True,
                floor: tuple[str, ...] = ()) -> Resolved:
        """Walk `path` ('\\a\\b') from the root, resolving links inside the root.
        `floor` is a directory under the root the walk treats as the root (a process's
        chroot): `..` stops there, and an absolute link starts again from it."""
        pending = [self.host_name(p) for p in path.split("\\") if p]
        parts: list[str] = list(floor)
        links = 0
        info: os.stat_result | None = os.lstat(os.path.join(self.root, *parts))
        while pending:
            name = pending.pop(0)
            if name == "":
                continue
            # Before `.` and `..` too: `file/.` and `file/..` name nothing, as on Linux.
            if info is not None and not stat.S_ISDIR(info.st_mode):
                raise NtStatusError(STATUS_NOT_A_DIRECTORY, f"{'/'.join(parts)} is not a directory")
            if name == ".":
                continue
            if name == "..":
                if len(parts) > len(floor):
                    parts.pop()
                info = os.lstat(os.path.join(self.root, *parts))
                continue
            directory = os.path.join(self.root, *parts)
            actual = self._find(directory, name, case_sensitive)
            is_last = not pending
            if actual is None:
                if is_last:
                    return Resolved(os.path.join(directory, name), parts + [name], None)
                raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, f"{name} not found")
            host = os.path.join(directory, actual)
            info = os.lstat(host)
            if stat.S_ISLNK(info.st_mode) and (not is_last or follow_final):
                links += 1
                if links > MAX_SYMLINKS:
                    raise NtStatusError(STATUS_REPARSE_POINT_NOT_RESOLVED, "too many links")
                target = os.readlink(host)
                if target.startswith("/"):
                    parts = list(floor)
                pending = target.split("/") + pending
                info = os.lstat(os.path.join(self.root, *parts))
                continue
            parts.append(actual)
        return Resolved(os.path.join(self.root, *parts), parts, info)

    # --- IRP_MJ_CREATE ----------------------------------------------------------------------

    def create(self, file: FileObject, request: CreateRequest) -> None:
        case_sensitive = not request.attributes & OBJ_CASE_INSENSITIVE
        follow = not request.options & FILE_OPEN_REPARSE_POINT
        floor = tuple(getattr(request.process, "root_parts", ()) or ())
        resolved = self.resolve(file.file_name, case_sensitive, follow, floor)
        want_directory = bool(request.options & FILE_DIRECTORY_FILE)
        access = request.access
        reads = bool(access & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL))
        writes = bool(access & (FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL))
        disposition = request.disposition
        mode = request.lx_mode if request.lx_mode is not None else (0o777 if want_directory else 0o666)
        host = resolved.host_path
        if self.read_only and (writes or (disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)
                                          if resolved.exists else disposition not in (FILE_OPEN, FILE_OVERWRITE))):
            self.refuse_write(file)
        try:
            if resolved.exists:
                kind = stat.S_IFMT(resolved.stat.st_mode)
                is_directory = stat.S_ISDIR(resolved.stat.st_mode)
                if disposition == FILE_CREATE:
                    raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, f"{file.file_name} exists")
                if want_directory and not is_directory and not stat.S_ISLNK(resolved.stat.st_mode):
                    raise NtStatusError(STATUS_NOT_A_DIRECTORY, file.file_name)
                if kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK) and (reads or writes):
                    # A host device node, FIFO or socket is never opened for its data; its
                    # metadata (stat, delete) is reached through an O_PATH descriptor below.
                    raise NtStatusError(STATUS_ACCESS_DENIED, f"{file.file_name} is a host special file")
                if is_directory and (request.options & FILE_NON_DIRECTORY_FILE or writes):
                    raise NtStatusError(STATUS_FILE_IS_A_DIRECTORY, file.file_name)
                file.information = FILE_OPENED
                if disposition == FILE_SUPERSEDE:
                    # IO_STATUS_BLOCK.Information tells a supersede from an overwrite
                    file.information = FILE_SUPERSEDED
                elif disposition in (FILE_OVERWRITE, FILE_OVERWRITE_IF):
                    file.information = FILE_OVERWRITTEN
            else:
                if disposition in (FILE_OPEN, FILE_OVERWRITE):
                    raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, f"{file.file_name} not found")
                parent = os.path.dirname(host)
                if not os.path.isdir(parent):
                    raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, file.file_name)
                if want_directory:
                    os.mkdir(host, mode & 0o7777)
                else:
                    os.close(os.open(host, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW,
                                     mode & 0o7777))
                file.information = FILE_CREATED
                is_directory = want_directory
                created = os.lstat(host)
                if created.st_mode & 0o777 != mode & 0o777:
                    # ntsim's own umask trimmed the mode; the guest's was applied already
                    os.chmod(host, (created.st_mode & 0o7000) | (mode & 0o777))
                if request.ea:
                    try:
                        self._write_eas(host, False, request.ea)
                    except NtStatusError:
                        (os.rmdir if want_directory else os.unlink)(host)
                        raise
            info = os.lstat(host)
            is_symlink = stat.S_ISLNK(info.st_mode)
            if is_symlink or not (reads or writes):
                flags = os.O_PATH | os.O_NOFOLLOW    # metadata only (stat, readlink, delete)
            elif is_directory:
                flags = os.O_RDONLY | os.O_DIRECTORY
            else:
                flags = (os.O_RDWR if reads and writes else os.O_WRONLY if writes else os.O_RDONLY)
                flags |= os.O_NOFOLLOW
                if file.information in (FILE_OVERWRITTEN, FILE_SUPERSEDED):
                    flags |= os.O_TRUNC
            fd = os.open(host, flags | os.O_CLOEXEC)
        except OSError as error:
            raise host_error(error, file.file_name) from None
        if file.information != FILE_OPENED:
            self._changed_fd(fd, accessed=file.information == FILE_CREATED)
        if is_directory:
            file.options |= FILE_DIRECTORY_FILE
        file.context = VolumeFile(fd, host, resolved.parts, is_directory, is_symlink,
                                  metadata_only=bool(flags & os.O_PATH), floor=floor)
        if not (is_directory or is_symlink) and (reads or writes):
            # A FIFO or device node lxfs made is a regular host file: say what it really
            # is, so that nobody mistakes its (empty) host data for the node's.
            kind = stat.S_IFMT(self._lx_mode(fd) or stat.S_IFREG)
            file.context.lx_type = 0 if kind == stat.S_IFREG else kind

    # --- read / write -----------------------------------------------------------------------

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        context: VolumeFile = file.context
        if context.is_directory:
            raise NtStatusError(STATUS_FILE_IS_A_DIRECTORY, file.file_name)
        position = file.position if offset is None else offset
        try:
            data = os.pread(context.fd, length, position)
        except OSError as error:
            raise host_error(error, file.file_name) from None
        if offset is None:
            file.position += len(data)
        return data

    def refuse_write(self, file: FileObject) -> None:
        raise NtStatusError(STATUS_MEDIA_WRITE_PROTECTED, f"{file.file_name}: the root is read-only (--read-only)")

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        if self.read_only:
            self.refuse_write(file)
        context: VolumeFile = file.context
        append_only = file.access & FILE_APPEND_DATA and not file.access & (FILE_WRITE_DATA | GENERIC_WRITE)
        if offset == FILE_WRITE_TO_END_OF_FILE:
            append_only = True            # this write at the end, as an append-only handle's
        try:
            if append_only:
                position = os.fstat(context.fd).st_size
            else:
                position = file.position if offset is None else offset
            written = os.pwrite(context.fd, data, position)
        except OSError as error:
            raise host_error(error, file.file_name) from None
        self._changed_fd(context.fd)
        if offset is None or append_only:
            file.position = position + written
        return written

    # --- information ------------------------------------------------------------------------

    def _stat(self, file: FileObject) -> os.stat_result:
        context: VolumeFile = file.context
        try:
            return os.stat(context.fd) if context.fd is not None else os.lstat(context.host_path)
        except OSError as error:
            raise host_error(error, file.file_name) from None

    def stat_lx(self, info: os.stat_result, eas: dict[str, bytes] | None = None) -> FileStatLx:
        """FILE_STAT_LX_INFORMATION from the host's stat and lxfs's attributes (`eas`)."""
        mode, uid, gid = info.st_mode, info.st_uid, info.st_gid
        major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
        flags = 0
        for name, value in (eas or {}).items():
            if name == LX_EA_MODE and len(value) == 4:
                stored = int.from_bytes(value, "little")
                # The stored type counts only where lxfs made the node (a regular host
                # file); a directory or a link stays what the host says it is.
                kind = stat.S_IFMT(stored) if stat.S_ISREG(mode) and stat.S_IFMT(stored) else stat.S_IFMT(mode)
                mode, flags = kind | (stored & 0o7777), flags | LX_FILE_METADATA_HAS_MODE
            elif name == LX_EA_UID and len(value) == 4:
                uid, flags = int.from_bytes(value, "little"), flags | LX_FILE_METADATA_HAS_UID
            elif name == LX_EA_GID and len(value) == 4:
                gid, flags = int.from_bytes(value, "little"), flags | LX_FILE_METADATA_HAS_GID
            elif name == LX_EA_DEVICE and len(value) == 8:
                major, minor = int.from_bytes(value[:4], "little"), int.from_bytes(value[4:], "little")
                flags |= LX_FILE_METADATA_HAS_DEVICE_ID
        attributes = 0
        if stat.S_ISDIR(info.st_mode):
            attributes |= FILE_ATTRIBUTE_DIRECTORY
        if stat.S_ISLNK(info.st_mode):
            attributes |= FILE_ATTRIBUTE_REPARSE_POINT
        if not info.st_mode & 0o222:
            attributes |= FILE_ATTRIBUTE_READONLY
        atime, mtime, ctime = info.st_atime_ns, info.st_mtime_ns, info.st_ctime_ns
        if self.clock_ns is not None:
            # deterministic: a file the guest changed shows the virtual clock's times;
            # one it never touched, its own (the input's) times, with ctime = mtime
            atime, mtime, ctime = self._virtual_times.get(info.st_ino, (atime, mtime, mtime))
        return FileStatLx(
            FileId=self.file_id(info.st_ino), CreationTime=to_nt_time(ctime),
            LastAccessTime=to_nt_time(atime), LastWriteTime=to_nt_time(mtime),
            ChangeTime=to_nt_time(ctime), AllocationSize=info.st_blocks * 512,
            EndOfFile=info.st_size, FileAttributes=attributes or FILE_ATTRIBUTE_NORMAL,
            NumberOfLinks=info.st_nlink, LxMode=mode, LxUid=uid, LxGid=gid,
            LxDeviceIdMajor=major, LxDeviceIdMinor=minor,
            VolumeSerialNumber=self.serial_number, AccessTimeNs=atime,
            WriteTimeNs=mtime, ChangeTimeNs=ctime,
            BlockSize=info.st_blksize, LxFlags=flags)

    def query_information(self, file: FileObject, info_class: int):
        info = self._stat(file)
        lx = self.stat_lx(info, self._read_eas(file.context) if info_class in (
            FileStatLxInformation, FileAllInformation) else None)
        if info_class == FileStatLxInformation:
            return lx
        if info_class == FileStandardInformation:
            return StandardInformation(lx.AllocationSize, lx.EndOfFile, lx.NumberOfLinks,
                                       file.delete_on_close, stat.S_ISDIR(info.st_mode))
        if info_class == FileBasicInformation:
            return BasicInformation(lx.CreationTime, lx.LastAccessTime, lx.LastWriteTime,
                                    lx.ChangeTime, lx.FileAttributes)
        if info_class == FileInternalInformation:
            return lx.FileId
        if info_class == FileNameInformation:
            # the name as its opener sees it: under its chroot, from there
            context = file.context
            shown = context.parts[len(context.floor):] if context.parts[:len(context.floor)] == \
                list(context.floor) else context.parts
            return "\\" + "\\".join(self.nt_name(p) for p in shown)
        if info_class == FileAllInformation:
            return lx
        raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"class {info_class}")

    def set_information(self, file: FileObject, info_class: int, value) -> None:
        if self.read_only:
            self.refuse_write(file)
        context: VolumeFile = file.context
        try:
            if info_class == FileEndOfFileInformation:
                if context.metadata_only or context.is_directory:
                    raise NtStatusError(STATUS_INVALID_PARAMETER, f"{file.file_name} is not open for data")
                os.truncate(context.fd, value)
            elif info_class == FileBasicInformation:
                self._set_times(file, value)
                self._set_read_only(file, value.FileAttributes)
            elif info_class == FileRenameInformation:
                self._rename(file, *value)
            elif info_class == FileLinkInformation:
                target_path, replace, case_sensitive = value
                target = self.resolve(target_path, case_sensitive, False, context.floor)
                if target.exists:
                    raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, target_path)
                os.link(context.host_path, target.host_path, follow_symlinks=False)
            elif info_class == FileDispositionInformation:
                file.delete_on_close = bool(value)
            elif info_class == FileDispositionInformationEx:
                if value & FILE_DISPOSITION_DELETE and value & FILE_DISPOSITION_POSIX_SEMANTICS:
                    self._delete_now(file)          # POSIX: the name goes away at once
                else:
                    file.delete_on_close = bool(value & FILE_DISPOSITION_DELETE)
            else:
                raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"class {info_class}")
        except OSError as error:
            raise host_error(error, file.file_name) from None
        if info_class == FileEndOfFileInformation:
            self._changed_fd(context.fd)
        elif info_class in (FileRenameInformation, FileLinkInformation):
            self._changed_fd(context.fd, context.host_path, data=False)

    def _rename(self, file: FileObject, target_path: str, replace: bool, case_sensitive: bool) -> None:
        context: VolumeFile = file.context
        if not context.parts:
            raise NtStatusError(STATUS_ACCESS_DENIED, "cannot rename the root")
        target = self.resolve(target_path, case_sensitive, False, context.floor)
        if target.exists and not replace:
            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, target_path)
        if not os.path.isdir(os.path.dirname(target.host_path)):
            raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, target_path)
        os.rename(context.host_path, target.host_path)
        context.host_path, context.parts = target.host_path, target.parts
        file.file_name = "\\" + "\\".join(target.parts)

    def _delete_now(self, file: FileObject) -> None:
        context: VolumeFile = file.context
        if not context.parts:
            raise NtStatusError(STATUS_CANNOT_DELETE, "cannot delete the root")
        if context.is_directory:
            os.rmdir(context.host_path)
        else:
            os.unlink(context.host_path)

    def query_directory(self, file: FileObject, restart: bool) -> list[DirectoryEntry]:
        context: VolumeFile = file.context
        if not context.is_directory:
            raise NtStatusError(STATUS_NOT_A_DIRECTORY, file.file_name)
        own = self._stat(file)
        parent = os.lstat(os.path.dirname(context.host_path)) if context.parts else own
        entries = [DirectoryEntry(".", self.file_id(own.st_ino), 0, FILE_ATTRIBUTE_DIRECTORY, own.st_mode),
                   DirectoryEntry("..", self.file_id(parent.st_ino), 0, FILE_ATTRIBUTE_DIRECTORY,
                                  parent.st_mode)]
        try:
            with os.scandir(context.fd) as scan:   # the host's own order, as getdents gives it
                for entry in scan:
                    info = entry.stat(follow_symlinks=False)
                    attributes = FILE_ATTRIBUTE_DIRECTORY if stat.S_ISDIR(info.st_mode) else FILE_ATTRIBUTE_NORMAL
                    mode = info.st_mode
                    if stat.S_ISREG(mode):     # perhaps a FIFO or device node lxfs made
                        stored = self._lx_mode(os.path.join(context.host_path, entry.name))
                        if stored is not None and stat.S_IFMT(stored):
                            mode = stat.S_IFMT(stored) | (mode & 0o7777)
                    entries.append(DirectoryEntry(self.nt_name(entry.name), self.file_id(info.st_ino),
                                                  info.st_size, attributes, mode))
        except OSError as error:
            raise host_error(error, file.file_name) from None
        return entries

    def query_volume_information(self, file: FileObject, info_class: int):
        if info_class in (FileFsFullSizeInformation, FileFsSizeInformation):
            vfs = os.statvfs(self.root)
            return VolumeSize(vfs.f_blocks, vfs.f_bavail, vfs.f_bfree, 1, vfs.f_frsize)
        if info_class == FileFsAttributeInformation:
            return {"FileSystemName": "NTFS", "MaximumComponentNameLength": MAX_NAME,
                    "FileSystemAttributes": 0x1 | 0x2}   # case-sensitive search, case-preserved
        if info_class == FileFsVolumeInformation:
            return {"VolumeSerialNumber": self.serial_number, "VolumeLabel": "ntsim"}
        raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"class {info_class}")

    def device_control(self, file: FileObject, code: int, data) -> str:
        """FSCTL_GET_REPARSE_POINT: the target of a symbolic link opened with
        FILE_OPEN_REPARSE_POINT (what a Linux readlink needs)."""
        context: VolumeFile = file.context
        if code == FSCTL_SET_REPARSE_POINT:
            if self.read_only:
                self.refuse_write(file)
            return self._make_symlink(file, *data)
        if code != FSCTL_GET_REPARSE_POINT:
            return super().device_control(file, code, data)
        if not context.is_symlink:
            raise NtStatusError(STATUS_NOT_A_REPARSE_POINT, f"{file.file_name} is not a link")
        return os.readlink(context.host_path)

    def _make_symlink(self, file: FileObject, tag: int, target: str) -> None:
        """FSCTL_SET_REPARSE_POINT with WSL1's LX_SYMLINK tag on a new, empty file: the
        file becomes a symbolic link whose data is the target, kept verbatim. On the host
        it becomes a host link (made beside it, then renamed over it, so no one sees a
        half-made link); the target is resolved later only by `resolve`, inside the root."""
        context: VolumeFile = file.context
        if tag != IO_REPARSE_TAG_LX_SYMLINK or not target or "\0" in target:
            raise NtStatusError(STATUS_IO_REPARSE_DATA_INVALID, f"tag {tag:#x}")
        if context.is_directory or context.is_symlink or self._stat(file).st_size:
            raise NtStatusError(STATUS_IO_REPARSE_DATA_INVALID, f"{file.file_name} is not a new file")
        directory, name = os.path.split(context.host_path)
        temporary = os.path.join(directory, f".{name}.ntsim-link-{os.urandom(4).hex()}")
        try:
            os.symlink(target, temporary)
            os.replace(temporary, context.host_path)
            if context.fd is not None:
                os.close(context.fd)
            context.fd = os.open(context.host_path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise host_error(error, file.file_name) from None
        context.is_symlink, context.metadata_only = True, True

    def _set_read_only(self, file: FileObject, attributes: int) -> None:
        """FileBasicInformation's attributes (0 leaves them as they are): of NT's, only
        FILE_ATTRIBUTE_READONLY means something to the host — no write permission (set),
        or the owner's back (cleared), as WSL1's DrvFs showed read-only files."""
        context: VolumeFile = file.context
        if not attributes or context.is_symlink:
            return
        mode = self._stat(file).st_mode & 0o7777
        wanted = mode & ~0o222 if attributes & FILE_ATTRIBUTE_READONLY else mode | (0 if mode & 0o222 else 0o200)
        if wanted != mode:
            os.chmod(self._xattr_target(context), wanted)

    def _set_times(self, file: FileObject, value) -> None:
        """FileBasicInformation: the access and write times (NT's 100 ns units since
        1601; 0 leaves a time as it is). NT keeps no finer time than 100 ns, so neither
        does a Linux guest's utimensat here, as on WSL1; the change time is the host's."""
        context: VolumeFile = file.context
        if not value.LastAccessTime and not value.LastWriteTime:
            return
        current = self._stat(file)

        def ns(nt_time: int, keep: int) -> int:
            return (nt_time - NT_TIME_EPOCH_OFFSET) * 100 if nt_time > 0 else keep

        times = (ns(value.LastAccessTime, current.st_atime_ns), ns(value.LastWriteTime, current.st_mtime_ns))
        if context.is_symlink:
            os.utime(context.host_path, ns=times, follow_symlinks=False)
        else:
            os.utime(self._xattr_target(context), ns=times)
        if self.clock_ns is not None:
            # the times the guest set, kept as given; the change time is the clock's
            self._changed(current.st_ino, data=False)
            virtual = self._virtual_times[current.st_ino]
            virtual[0], virtual[1] = times

    # --- lxfs's extended attributes ---------------------------------------------------------

    @staticmethod
    def _xattr_target(context: VolumeFile) -> int | str | None:
        """Where the host keeps a file's attributes: its descriptor, or for an O_PATH
        descriptor (which cannot read them) the descriptor's /proc link, which names the
        same file even after a rename or an unlink. None for a link: Linux lets no user.*
        attribute sit on a symbolic link."""
        if context.is_symlink:
            return None
        if context.fd is None:
            return context.host_path
        return f"/proc/self/fd/{context.fd}" if context.metadata_only else context.fd

    def _read_eas(self, context: VolumeFile) -> dict[str, bytes]:
        target = self._xattr_target(context)
        if target is None or not HOST_HAS_XATTRS:
            return {}
        try:
            present = os.listxattr(target)
        except OSError:
            return {}
        found = {}
        for name, xattr in LX_XATTRS.items():
            if xattr in present:
                try:
                    found[name] = os.getxattr(target, xattr)
                except OSError:
                    pass
        for xattr in present:
            if xattr.startswith(GUEST_XATTR_HOST):
                try:
                    found[GUEST_XATTR_EA + xattr[len(GUEST_XATTR_HOST):]] = b"\x01" + os.getxattr(target, xattr)
                except OSError:
                    pass
        return found

    @staticmethod
    def _lx_mode(target: int | str) -> int | None:
        """The $LXMOD of a file (descriptor or host path), if it has one."""
        if not HOST_HAS_XATTRS:
            return None
        try:
            if isinstance(target, int):
                value = os.getxattr(target, LX_XATTRS[LX_EA_MODE])
            else:
                value = os.getxattr(target, LX_XATTRS[LX_EA_MODE], follow_symlinks=False)
        except OSError:
            return None
        return int.from_bytes(value, "little") if len(value) == 4 else None

    def _write_eas(self, target: int | str, is_symlink: bool, attributes: dict[str, bytes]) -> None:
        for name, value in attributes.items():
            if name.startswith(GUEST_XATTR_EA):
                self._write_guest_xattr(target, is_symlink, name[len(GUEST_XATTR_EA):], value)
                continue
            xattr = LX_XATTRS.get(name)
            if xattr is None:
                raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{name}: only lxfs's attributes are kept")
            stored = False
            if HOST_HAS_XATTRS and not is_symlink:
                try:
                    if value:
                        os.setxattr(target, xattr, value)
                    else:
                        try:
                            os.removexattr(target, xattr)
                        except OSError as error:
                            if error.errno != errno.ENODATA:
                                raise
                    stored = True
                except OSError as error:
                    if error.errno not in NO_XATTRS:
                        raise host_error(error, name) from None
            if name == LX_EA_MODE and value:
                self._host_mode(target, is_symlink, int.from_bytes(value, "little"), required=not stored)
            elif name in (LX_EA_UID, LX_EA_GID) and value and not stored:
                self._host_owner(target, is_symlink, name, int.from_bytes(value, "little"))
            elif not stored and value:
                raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{name}: the host keeps no attributes here")

    @staticmethod
    def _write_guest_xattr(target: int | str, is_symlink: bool, name: str, value: bytes) -> None:
        if not HOST_HAS_XATTRS or is_symlink:
            raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{name}: no attributes here")
        xattr = GUEST_XATTR_HOST + name
        try:
            if value:
                os.setxattr(target, xattr, value[1:])
            else:
                os.removexattr(target, xattr)
        except OSError as error:
            if error.errno == errno.ENODATA:
                raise NtStatusError(STATUS_NONEXISTENT_EA_ENTRY, name) from None
            if error.errno in NO_XATTRS:
                raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, f"{name}: the host keeps no attributes here") from None
            raise host_error(error, name) from None

    @staticmethod
    def _host_mode(target: int | str, is_symlink: bool, mode: int, required: bool) -> None:
        """Mirror permission bits on the host file, so the host enforces them too. Only
        required where the host keeps no attribute (the host mode is then the record)."""
        try:
            if is_symlink:
                raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, "a symbolic link has no mode of its own")
            if required and stat.S_IFMT(mode) not in (0, stat.S_IFMT(os.stat(target).st_mode)):
                raise NtStatusError(STATUS_EAS_NOT_SUPPORTED, "the host cannot record a special file")
            os.chmod(target, mode & 0o7777)
        except OSError as error:
            if required:
                raise host_error(error, "mode") from None

    @staticmethod
    def _host_owner(target: int | str, is_symlink: bool, name: str, value: int) -> None:
        uid, gid = (value, -1) if name == LX_EA_UID else (-1, value)
        try:
            if isinstance(target, int):
                os.fchown(target, uid, gid)
            else:
                os.chown(target, uid, gid, follow_symlinks=not is_symlink)
        except OSError as error:
            if error.errno == errno.EPERM:
                raise NtStatusError(STATUS_PRIVILEGE_NOT_HELD, f"the host will not give the file to {value}") from None
            raise host_error(error, name) from None

    def query_ea(self, file: FileObject) -> dict[str, bytes]:
        return self._read_eas(file.context)

    def set_ea(self, file: FileObject, attributes: dict[str, bytes]) -> None:
        if self.read_only:
            self.refuse_write(file)
        context: VolumeFile = file.context
        target = self._xattr_target(context)
        self._write_eas(context.host_path if target is None else target, context.is_symlink, attributes)

    def flush(self, file: FileObject) -> None:
        """Flush one file; flushing the root directory flushes the whole volume, as
        flushing a volume handle does on NT (the host's sync)."""
        context: VolumeFile = file.context
        if not context.parts:
            os.sync()
        elif context.fd is not None and not context.metadata_only:
            try:
                os.fsync(context.fd)
            except OSError as error:
                raise host_error(error, file.file_name) from None

    def close(self, file: FileObject) -> None:
        context: VolumeFile | None = file.context
        if context is None:
            return
        if file.delete_on_close and context.parts:
            try:
                self._delete_now(file)
            except OSError:
                pass
        if context.shares_offset_with is not None:
            try:
                os.lseek(context.shares_offset_with, file.position, os.SEEK_SET)
            except OSError:
                pass               # the host descriptor went away meanwhile
        if context.fd is not None:
            os.close(context.fd)
            context.fd = None

    def cleanup(self, file: FileObject) -> None:
        pass
