"""Calls that change a file rather than read or write it: mode, owner, times, size, new
names (link, symlink, mknod), the file system's statistics, and the copying calls.

Each is an NT call on a handle to the file:

- chmod, chown and mknod's file type are lxfs metadata: NtSetEaFile with the $LXMOD,
  $LXUID, $LXGID (and $LXDEV) extended attributes WSL1 kept beside every file. Linux's
  rules for who may change them (the owner, CAP_CHOWN, CAP_FOWNER...) are checked here,
  against the credentials LXSS keeps (identity.py), as lxcore checked them.
- utimensat is NtSetInformationFile(FileBasicInformation): NT times, 100 ns units.
- truncate is NtSetInformationFile(FileEndOfFileInformation).
- link is NtSetInformationFile(FileLinkInformation); symlink creates a file and makes it
  a symbolic link with FSCTL_SET_REPARSE_POINT and WSL1's LX_SYMLINK tag.
- statfs is NtQueryVolumeInformationFile; fsync is NtFlushBuffersFile.
- sendfile and copy_file_range read and write through the same paths as read/write.
"""

from __future__ import annotations

import re
import struct

from ...kernel.dispatcher import UNIX_TO_NT_EPOCH_100NS
from ...kernel.io import (
    DELETE,
    FILE_CREATE,
    FILE_DISPOSITION_DELETE,
    FILE_DISPOSITION_POSIX_SEMANTICS,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_REPARSE_POINT,
    FILE_READ_ATTRIBUTES,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FSCTL_SET_REPARSE_POINT,
    IO_REPARSE_TAG_LX_SYMLINK,
    LX_EA_DEVICE,
    LX_EA_GID,
    LX_EA_MODE,
    LX_EA_UID,
    BasicInformation,
    FileBasicInformation,
    FileDispositionInformationEx,
    FileEndOfFileInformation,
    FileFsAttributeInformation,
    FileFsFullSizeInformation,
    FileFsVolumeInformation,
    FileLinkInformation,
    FilePositionInformation,
    FileStatLxInformation,
)
from ...kernel.status import NtStatusError
from . import procfs
from .errno import (
    EBADF,
    EFAULT,
    EINVAL,
    EISDIR,
    ENOENT,
    EOPNOTSUPP,
    EPERM,
    ESPIPE,
    EXDEV,
    LinuxError,
    errno_from_status,
)
from .fdtable import O_ACCMODE, O_APPEND, O_PATH, O_RDONLY, O_WRONLY, FdEntry
from .files import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_FOLLOW,
    AT_SYMLINK_NOFOLLOW,
    _access,
    file_object,
    guest_path,
    names_directory,
    nt_open,
    read_bytes,
    signed32,
    stat_of_fd,
    then,
    volume_path,
    write_bytes,
)
from .identity import CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, capable, creds, in_group
from .lxfs import (
    MODELLED_DEVICES,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    lexical,
    nt_name,
)
from .task import Task

S_ISUID, S_ISGID, S_IXGRP = 0o4000, 0o2000, 0o010
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
UNCHANGED = 0xFFFFFFFF
WSLFS_SUPER_MAGIC = 0x53464846      # what WSL1's lxfs reported; coreutils calls it "wslfs"
TMPFS_MAGIC = 0x01021994            # /dev on WSL1 (and the devices ntsim models there)
ST_VALID = 0x20
COPY_CHUNK = 1 << 20                # sendfile and copy_file_range move at most this a call
MAX_COUNT = 0x7FFFF000              # MAX_RW_COUNT


def _ulong(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")


# --- finding the file a call is about ----------------------------------------------------------


class Target:
    """The file a metadata call names: a handle we opened (closed afterwards), or the
    handle behind an fd (AT_EMPTY_PATH, or the f* calls)."""

    def __init__(self, task: Task, handle: int, owned: bool, path: str) -> None:
        self.task, self.handle, self.owned, self.path = task, handle, owned, path

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        if self.owned:
            self.task.nt.NtClose(self.handle)

    def stat(self):
        return self.task.nt.NtQueryInformationFile(self.handle, FileStatLxInformation)


_OWN_FD_LINK = re.compile(r"/proc/(?:self|thread-self|(\d+))/fd/(\d+)")


def _by_path(task: Task, absolute: str, follow: bool, access: int = FILE_READ_ATTRIBUTES) -> Target:
    own_fd = _OWN_FD_LINK.fullmatch(lexical(absolute)) if follow else None
    if own_fd and own_fd.group(1) in (None, str(task.lx.process.pid)):
        # /proc/self/fd/N is a magic link to the open file itself, renamed or unlinked or
        # not (what GNU tar's chmod of an O_PATH descriptor goes through)
        return _by_fd(task, int(own_fd.group(2)))
    if lexical(absolute) in MODELLED_DEVICES:
        # ntsim's own devices have no file on the volume to keep metadata in
        raise LinuxError(EPERM, f"{absolute}: a device ntsim models cannot be changed")
    absolute = volume_path(task, absolute, follow)
    options = 0 if follow or names_directory(absolute) else FILE_OPEN_REPARSE_POINT
    return Target(task, nt_open(task, absolute, access, FILE_OPEN, options), True, absolute)


def _by_fd(task: Task, fd: int) -> Target:
    entry = task.lx.fds.get(fd)
    if entry.file.kind in ("synthetic", "procdir"):
        raise LinuxError(EPERM, f"{entry.file.path}: procfs")
    if entry.node is not None:      # a FIFO: the node it was opened from, not its pipe
        return Target(task, entry.node, False, entry.file.path)
    if entry.file.kind not in ("file", "directory"):
        raise LinuxError(EPERM, f"fd {fd} is a {entry.file.kind}, with no file on the volume")
    return Target(task, entry.handle, False, entry.file.path)


def _at(task: Task, dirfd: int, path_address: int, flags: int, allowed: int) -> Target:
    """The *at calls' (dirfd, path, flags): AT_EMPTY_PATH with "" means dirfd itself."""
    if flags & ~allowed:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    dirfd = signed32(dirfd)
    path = task.read_string(path_address) if path_address else ""
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise LinuxError(ENOENT, "empty path")
        return _by_fd(task, dirfd) if dirfd != AT_FDCWD else _by_path(task, task.lx.cwd, True)
    return _by_path(task, guest_path(task, dirfd, path), not flags & AT_SYMLINK_NOFOLLOW)


# --- mode --------------------------------------------------------------------------------------


def _chmod(task: Task, target: Target, mode: int) -> int:
    info = target.stat()
    if creds(task).euid != info.LxUid and not capable(task, CAP_FOWNER):
        raise LinuxError(EPERM, f"{target.path} belongs to {info.LxUid}")
    mode &= 0o7777
    if mode & S_ISGID and not in_group(task, info.LxGid) and not capable(task, CAP_FSETID):
        mode &= ~S_ISGID        # Linux drops the bit silently: it would give away the group
    task.nt.NtSetEaFile(target.handle, {LX_EA_MODE: _ulong(info.LxMode & S_IFMT | mode)})
    return 0


def sys_chmod(task: Task, path: int, mode: int) -> int:
    with _by_path(task, guest_path(task, AT_FDCWD, task.read_string(path)), True) as target:
        return _chmod(task, target, mode)


def sys_fchmod(task: Task, fd: int, mode: int) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    with _by_fd(task, fd) as target:
        return _chmod(task, target, mode)


def sys_fchmodat(task: Task, dirfd: int, path: int, mode: int) -> int:
    with _at(task, dirfd, path, 0, 0) as target:
        return _chmod(task, target, mode)


def sys_fchmodat2(task: Task, dirfd: int, path: int, mode: int, flags: int) -> int:
    with _at(task, dirfd, path, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) as target:
        return _chmod(task, target, mode)   # a link has no mode: NtSetEaFile says EOPNOTSUPP


# --- owner -------------------------------------------------------------------------------------


def _chown(task: Task, target: Target, uid: int, gid: int) -> int:
    """Only CAP_CHOWN gives a file away; its owner may change its group to one of its
    own groups. Any chown of a non-directory clears set-user-id, and set-group-id where
    it means something (group execute set), so an ownership change never hands out
    someone's privileges."""
    uid, gid = uid & 0xFFFFFFFF, gid & 0xFFFFFFFF
    info = target.stat()
    own = creds(task)
    privileged = capable(task, CAP_CHOWN)
    if uid != UNCHANGED and uid != info.LxUid and not privileged:
        raise LinuxError(EPERM, f"giving {target.path} to {uid} needs CAP_CHOWN")
    if uid != UNCHANGED and not privileged and own.euid != info.LxUid:
        raise LinuxError(EPERM)
    if gid != UNCHANGED and gid != info.LxGid and not privileged:
        if own.euid != info.LxUid or not in_group(task, gid):
            raise LinuxError(EPERM, f"group {gid} is not the caller's")
    if gid != UNCHANGED and gid == info.LxGid and not privileged and own.euid != info.LxUid:
        raise LinuxError(EPERM)
    change = {}
    if uid != UNCHANGED:
        change[LX_EA_UID] = _ulong(uid)
    if gid != UNCHANGED:
        change[LX_EA_GID] = _ulong(gid)
    mode = info.LxMode
    if mode & S_IFMT != S_IFDIR:
        cleared = mode & ~S_ISUID
        if mode & S_IXGRP:
            cleared &= ~S_ISGID
        if cleared != mode:
            change[LX_EA_MODE] = _ulong(cleared)
    if change:
        task.nt.NtSetEaFile(target.handle, change)
    return 0


def sys_chown(task: Task, path: int, uid: int, gid: int) -> int:
    with _by_path(task, guest_path(task, AT_FDCWD, task.read_string(path)), True) as target:
        return _chown(task, target, uid, gid)


def sys_lchown(task: Task, path: int, uid: int, gid: int) -> int:
    with _by_path(task, guest_path(task, AT_FDCWD, task.read_string(path)), False) as target:
        return _chown(task, target, uid, gid)


def sys_fchown(task: Task, fd: int, uid: int, gid: int) -> int:
    if task.lx.fds.get(fd).file.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    with _by_fd(task, fd) as target:
        return _chown(task, target, uid, gid)


def sys_fchownat(task: Task, dirfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    with _at(task, dirfd, path, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) as target:
        return _chown(task, target, uid, gid)


# --- times -------------------------------------------------------------------------------------


def _nt_time(ns: int) -> int:
    return ns // 100 + UNIX_TO_NT_EPOCH_100NS


def _set_times(task: Task, target: Target, access_ns: int | None, write_ns: int | None,
               explicit: bool) -> int:
    """Setting a time to now needs the owner, or write access; setting it to anything
    else needs the owner (or CAP_FOWNER)."""
    info = target.stat()
    owner = creds(task).euid == info.LxUid or capable(task, CAP_FOWNER)
    if explicit and not owner:
        raise LinuxError(EPERM, f"{target.path}: only its owner sets its times")
    if not explicit and not owner:
        try:
            _access(task, AT_FDCWD, target.path, 2, 0x200)       # W_OK, AT_EACCESS
        except LinuxError as error:
            raise LinuxError(error.errno, f"{target.path}: not the owner, nor writable") from None
    if access_ns is None and write_ns is None:
        return 0
    value = BasicInformation(0, 0 if access_ns is None else _nt_time(access_ns),
                             0 if write_ns is None else _nt_time(write_ns), 0, 0)
    task.nt.NtSetInformationFile(target.handle, FileBasicInformation, value)
    return 0


def _timespecs(task: Task, address: int) -> tuple[int | None, int | None, bool]:
    """(atime, mtime, explicit) from a struct timespec[2]: UTIME_NOW, UTIME_OMIT (None)."""
    now = task.kernel.clock.now_ns()
    if not address:
        return now, now, False
    raw = struct.unpack("<qqqq", task.read(address, 32))
    result, explicit = [], False
    for seconds, nanoseconds in (raw[:2], raw[2:]):
        if nanoseconds == UTIME_OMIT:
            result.append(None)
        elif nanoseconds == UTIME_NOW:
            result.append(now)
        elif 0 <= nanoseconds < 10**9:
            result.append(seconds * 10**9 + nanoseconds)
            explicit = True
        else:
            raise LinuxError(EINVAL, f"tv_nsec {nanoseconds}")
    return result[0], result[1], explicit


def sys_utimensat(task: Task, dirfd: int, path: int, times: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    access_ns, write_ns, explicit = _timespecs(task, times)
    if not path:       # the kernel's form of futimens: a NULL path means dirfd itself
        dirfd = signed32(dirfd)
        if dirfd == AT_FDCWD:
            raise LinuxError(EFAULT, "NULL path")
        target = _by_fd_or_proc(task, dirfd)
    else:
        target = _at(task, dirfd, path, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)
    if target is None:
        return 0
    with target:
        return _set_times(task, target, access_ns, write_ns, explicit)



def _by_fd_or_proc(task: Task, fd: int) -> Target | None:
    """utimensat on a /proc file succeeds and changes nothing that lasts: procfs keeps
    no times, it makes them up at each stat (as Linux does)."""
    entry = task.lx.fds.get(fd)
    if entry.file.kind in ("synthetic", "procdir"):
        return None
    return _by_fd(task, fd)


def _timevals(task: Task, address: int) -> tuple[int | None, int | None, bool]:
    now = task.kernel.clock.now_ns()
    if not address:
        return now, now, False
    raw = struct.unpack("<qqqq", task.read(address, 32))
    times = []
    for seconds, microseconds in (raw[:2], raw[2:]):
        if not 0 <= microseconds < 10**6:
            raise LinuxError(EINVAL, f"tv_usec {microseconds}")
        times.append(seconds * 10**9 + microseconds * 1000)
    return times[0], times[1], True


def sys_futimesat(task: Task, dirfd: int, path: int, times: int) -> int:
    access_ns, write_ns, explicit = _timevals(task, times)
    with _at(task, dirfd, path, 0, 0) as target:
        return _set_times(task, target, access_ns, write_ns, explicit)


def sys_utimes(task: Task, path: int, times: int) -> int:
    return sys_futimesat(task, AT_FDCWD & 0xFFFFFFFF, path, times)


def sys_utime(task: Task, path: int, times: int) -> int:
    """struct utimbuf: whole seconds."""
    if times:
        access, write = struct.unpack("<qq", task.read(times, 16))
        access_ns, write_ns, explicit = access * 10**9, write * 10**9, True
    else:
        access_ns = write_ns = task.kernel.clock.now_ns()
        explicit = False
    with _by_path(task, guest_path(task, AT_FDCWD, task.read_string(path)), True) as target:
        return _set_times(task, target, access_ns, write_ns, explicit)


# --- size --------------------------------------------------------------------------------------


def _length(length: int) -> int:
    length = length - (1 << 64) if length >= 1 << 63 else length
    if length < 0:
        raise LinuxError(EINVAL, "negative length")
    return length


def sys_truncate(task: Task, path: int, length: int) -> int:
    length = _length(length)
    absolute = volume_path(task, guest_path(task, AT_FDCWD, task.read_string(path)), True)
    if lexical(absolute) in MODELLED_DEVICES:
        raise LinuxError(EINVAL, f"{absolute} is a device")
    handle = nt_open(task, absolute, FILE_WRITE_DATA, FILE_OPEN, 0)   # a directory: EISDIR
    try:
        task.nt.NtSetInformationFile(handle, FileEndOfFileInformation, length)
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_ftruncate(task: Task, fd: int, length: int) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    length = _length(length)
    if entry.file.kind != "file" or entry.file.flags & O_ACCMODE == O_RDONLY:
        raise LinuxError(EINVAL, f"fd {fd} is not a regular file open for writing")
    task.nt.NtSetInformationFile(entry.handle, FileEndOfFileInformation, length)
    return 0


# --- flushing ----------------------------------------------------------------------------------


def sys_fsync(task: Task, fd: int) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    if entry.file.kind not in ("file", "directory"):
        raise LinuxError(EINVAL, f"a {entry.file.kind} has nothing to flush")
    task.nt.NtFlushBuffersFile(entry.handle)
    return 0


def sys_fdatasync(task: Task, fd: int) -> int:
    return sys_fsync(task, fd)


def sys_sync(task: Task) -> int:
    """Flushing the volume: NtFlushBuffersFile on a handle to its root directory, which
    on NT flushes every file of the volume (here: the host's sync)."""
    handle = nt_open(task, "/", FILE_READ_ATTRIBUTES, FILE_OPEN, 0)
    try:
        task.nt.NtFlushBuffersFile(handle)
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_syncfs(task: Task, fd: int) -> int:
    task.lx.fds.get(fd)
    return sys_sync(task)


# --- caching advice ----------------------------------------------------------------------------

POSIX_FADV_NOREUSE = 5              # advice runs from POSIX_FADV_NORMAL (0) to this


def sys_fadvise64(task: Task, fd: int, offset: int, length: int, advice: int) -> int:
    """posix_fadvise: a hint about how a file will be read. NT takes such hints only when
    a file is opened (FILE_SEQUENTIAL_ONLY, FILE_RANDOM_ACCESS), so there is no Nt call to
    forward it to; the errors Linux gives are checked, and the hint is taken (cat, sort,
    wc and sha256sum ask for POSIX_FADV_SEQUENTIAL on every file they read)."""
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    if entry.file.kind == "pipe":
        raise LinuxError(ESPIPE, "a pipe")
    if not 0 <= advice <= POSIX_FADV_NOREUSE or length >= 1 << 63:
        raise LinuxError(EINVAL, f"advice {advice}, length {length:#x}")
    return 0


# --- new names ---------------------------------------------------------------------------------


def _link(task: Task, olddirfd: int, old_address: int, newdirfd: int, new_address: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    old = task.read_string(old_address) if old_address else ""
    target = guest_path(task, signed32(newdirfd), task.read_string(new_address))
    if not old and flags & AT_EMPTY_PATH:
        source = _by_fd(task, signed32(olddirfd))
    else:
        absolute = guest_path(task, signed32(olddirfd), old)
        if procfs.claims(lexical(absolute)) or lexical(absolute) in MODELLED_DEVICES:
            node = procfs.resolve(task, absolute, bool(flags & AT_SYMLINK_FOLLOW)) \
                if procfs.claims(lexical(absolute)) else None
            if not isinstance(node, str):
                raise LinuxError(EXDEV, f"{absolute} is on another file system")
            absolute = node
        source = _by_path(task, absolute, bool(flags & AT_SYMLINK_FOLLOW))
    with source:
        if file_object(task, source.handle).is_directory:
            raise LinuxError(EPERM, f"{source.path}: no hard links to a directory")
        target = volume_path(task, target, False, creating=True)
        task.nt.NtSetInformationFile(source.handle, FileLinkInformation, (nt_name(target), False))
    return 0


def sys_link(task: Task, old: int, new: int) -> int:
    return _link(task, AT_FDCWD & 0xFFFFFFFF, old, AT_FDCWD & 0xFFFFFFFF, new, 0)


def sys_linkat(task: Task, olddirfd: int, old: int, newdirfd: int, new: int, flags: int) -> int:
    return _link(task, olddirfd, old, newdirfd, new, flags)


def _symlink(task: Task, target_address: int, newdirfd: int, path_address: int) -> int:
    """A new file, made a link: NtCreateFile(FILE_CREATE), then FSCTL_SET_REPARSE_POINT
    with the LX_SYMLINK tag and the target, verbatim (resolved only when the link is
    followed, inside the root). If the second step fails, the file goes again."""
    target = task.read_string(target_address)
    if not target:
        raise LinuxError(ENOENT, "an empty link target")
    absolute = volume_path(task, guest_path(task, signed32(newdirfd), task.read_string(path_address)),
                           False, creating=True)
    handle = nt_open(task, absolute.rstrip("/") or "/", FILE_WRITE_ATTRIBUTES | DELETE, FILE_CREATE,
                     FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, 0o777)
    try:
        if names_directory(absolute):
            raise LinuxError(ENOENT, f"{absolute}: a new link's name cannot end in /")
        task.nt.NtFsControlFile(handle, FSCTL_SET_REPARSE_POINT, (IO_REPARSE_TAG_LX_SYMLINK, target))
    except (LinuxError, NtStatusError):
        task.nt.NtSetInformationFile(handle, FileDispositionInformationEx,
                                     FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS)
        raise
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_symlink(task: Task, target: int, path: int) -> int:
    return _symlink(task, target, AT_FDCWD & 0xFFFFFFFF, path)


def sys_symlinkat(task: Task, target: int, newdirfd: int, path: int) -> int:
    return _symlink(task, target, newdirfd, path)


def _mknod(task: Task, dirfd: int, path_address: int, mode: int, device: int) -> int:
    return make_node(task, signed32(dirfd), task.read_string(path_address), mode, device)


def make_node(task: Task, dirfd: int, path: str, mode: int, device: int = 0) -> int:
    """A regular file is an ordinary create. A FIFO, socket or device node is a regular
    file on the volume whose $LXMOD says what it is (and $LXDEV which device), as lxfs
    kept them; only CAP_MKNOD may make a device node."""
    kind = mode & S_IFMT or S_IFREG
    if kind == S_IFDIR:
        raise LinuxError(EPERM, "mknod makes no directories (mkdir does)")
    if kind not in (S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK):
        raise LinuxError(EINVAL, f"file type {kind:#o}")
    if kind in (S_IFCHR, S_IFBLK) and not capable(task, CAP_MKNOD):
        raise LinuxError(EPERM, "a device node needs CAP_MKNOD")
    permissions = mode & 0o7777 & ~task.lx.umask
    absolute = volume_path(task, guest_path(task, dirfd, path), False, creating=True)
    attributes = None
    if kind != S_IFREG:
        attributes = {LX_EA_MODE: _ulong(kind | permissions)}
        if kind in (S_IFCHR, S_IFBLK):
            major = (device >> 8 & 0xFFF) | (device >> 32 & ~0xFFF)
            minor = (device & 0xFF) | (device >> 12 & ~0xFF)
            attributes[LX_EA_DEVICE] = _ulong(major) + _ulong(minor)
    try:
        handle = task.nt.NtCreateFile(nt_name(absolute), FILE_READ_ATTRIBUTES | 0x100000, FILE_CREATE,
                                      FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT | 0x20, 0,
                                      lx_mode=permissions, EaBuffer=attributes)
    except NtStatusError as error:
        if errno_from_status(error.status) == EOPNOTSUPP:   # the host keeps no attributes here
            raise LinuxError(EPERM, f"{absolute}: this volume cannot keep a special file") from None
        raise
    task.nt.NtClose(handle)
    return 0


def sys_mknod(task: Task, path: int, mode: int, device: int) -> int:
    return _mknod(task, AT_FDCWD & 0xFFFFFFFF, path, mode, device)


def sys_mknodat(task: Task, dirfd: int, path: int, mode: int, device: int) -> int:
    return _mknod(task, dirfd, path, mode, device)


def sys_umask(task: Task, mask: int) -> int:
    old, task.lx.umask = task.lx.umask, mask & 0o777
    return old


# --- the file system ---------------------------------------------------------------------------


def _pack_statfs(kind: int, block: int, blocks: int, free: int, available: int, serial: int,
                 name_max: int) -> bytes:
    """struct statfs (x86-64, 120 bytes). NT keeps no count of inodes: f_files and
    f_ffree are 0, as Linux file systems without an inode table report them."""
    return struct.pack("<qqQQQQQiiqqq4q", kind, block, blocks, free, available, 0, 0,
                       serial & 0x7FFFFFFF, 0, name_max, block, ST_VALID, 0, 0, 0, 0)


def _volume_statfs(task: Task, handle: int) -> bytes:
    size = task.nt.NtQueryVolumeInformationFile(handle, FileFsFullSizeInformation)
    attributes = task.nt.NtQueryVolumeInformationFile(handle, FileFsAttributeInformation)
    volume = task.nt.NtQueryVolumeInformationFile(handle, FileFsVolumeInformation)
    block = size.SectorsPerAllocationUnit * size.BytesPerSector
    return _pack_statfs(WSLFS_SUPER_MAGIC, block, size.TotalAllocationUnits,
                        size.ActualAvailableAllocationUnits, size.CallerAvailableAllocationUnits,
                        volume["VolumeSerialNumber"], attributes["MaximumComponentNameLength"])


def _special_statfs(path: str) -> bytes | None:
    if procfs.claims(path):
        return _pack_statfs(procfs.PROC_SUPER_MAGIC, 4096, 0, 0, 0, procfs.PROC_DEVICE, 255)
    if path in MODELLED_DEVICES:
        return _pack_statfs(TMPFS_MAGIC, 4096, 0, 0, 0, 5, 255)
    return None


def sys_statfs(task: Task, path: int, buf: int) -> int:
    absolute = guest_path(task, AT_FDCWD, task.read_string(path))
    if procfs.claims(lexical(absolute)):
        node = procfs.resolve(task, absolute, True)
        absolute = node if isinstance(node, str) else absolute
    special = _special_statfs(lexical(absolute))
    if special is not None:
        task.write(buf, special)
        return 0
    handle = nt_open(task, absolute, FILE_READ_ATTRIBUTES, FILE_OPEN, 0)
    try:
        task.write(buf, _volume_statfs(task, handle))
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_fstatfs(task: Task, fd: int, buf: int) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.kind in ("file", "directory"):
        task.write(buf, _volume_statfs(task, entry.handle))
        return 0
    special = _special_statfs(entry.file.path)
    if special is None:     # the console and pipes live on no file system a guest can name
        special = _pack_statfs(0x50495045, 4096, 0, 0, 0, 0, 255)   # PIPEFS_MAGIC
    task.write(buf, special)
    return 0


# --- copying between descriptors ---------------------------------------------------------------


def _source(task: Task, fd: int) -> FdEntry:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH or entry.file.flags & O_ACCMODE == O_WRONLY:
        raise LinuxError(EBADF, f"fd {fd} is not open for reading")
    return entry


def _destination(task: Task, fd: int) -> FdEntry:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH or entry.file.flags & O_ACCMODE == O_RDONLY:
        raise LinuxError(EBADF, f"fd {fd} is not open for writing")
    return entry


def _position(task: Task, entry: FdEntry) -> int:
    if entry.handle is None:
        return entry.file.position
    return task.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)


def _set_position(task: Task, entry: FdEntry, position: int) -> None:
    if entry.handle is None:
        entry.file.position = position
    else:
        task.nt.NtSetInformationFile(entry.handle, FilePositionInformation, position)


def _offset_argument(task: Task, address: int) -> int | None:
    if not address:
        return None
    offset = struct.unpack("<q", task.read(address, 8))[0]
    if offset < 0:
        raise LinuxError(EINVAL, "negative offset")
    return offset


def sys_sendfile(task: Task, out_fd: int, in_fd: int, offset_address: int, count: int) -> int:
    """Read from in_fd at *offset (or its position), write to out_fd. The source must be
    a file one can read at an offset (not a pipe or the console: EINVAL, as on Linux);
    the destination may be anything writable but an O_APPEND file."""
    source = _source(task, in_fd)
    destination = _destination(task, out_fd)
    if source.file.kind not in ("file", "synthetic", "zero", "null"):
        raise LinuxError(EINVAL if source.file.kind != "directory" else EISDIR,
                         f"sendfile cannot read a {source.file.kind}")
    if destination.file.flags & O_APPEND:
        raise LinuxError(EINVAL, "sendfile to an O_APPEND file")
    offset = _offset_argument(task, offset_address)
    start = _position(task, source) if offset is None else offset
    return _copy(task, source, start, destination, None, min(count, MAX_COUNT),
                 lambda moved: _sent(task, source, offset_address, offset, start, moved))


def _sent(task: Task, source: FdEntry, offset_address: int, offset: int | None, start: int, moved: int) -> int:
    if offset is None:
        _set_position(task, source, start + moved)     # what was read and also written
    else:
        task.write(offset_address, struct.pack("<q", start + moved))
    return moved


def _copy(task: Task, source: FdEntry, start: int, destination: FdEntry, out_offset: int | None,
          count: int, done) -> int:
    """Read up to a chunk at `start`, write it, then `done(bytes written)`."""

    def write(data: bytes) -> int:
        if not data:
            return done(0)
        return then(lambda: write_bytes(task, destination, data, out_offset), done)

    return read_bytes(task, source, min(count, COPY_CHUNK), start, write)


def sys_copy_file_range(task: Task, fd_in: int, off_in: int, fd_out: int, off_out: int,
                        length: int, flags: int) -> int:
    """Between regular files only (EINVAL otherwise), never to an O_APPEND file
    (EBADF), and not between overlapping ranges of one file (EINVAL)."""
    if flags:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    source = _source(task, fd_in)
    destination = _destination(task, fd_out)
    for entry in (source, destination):
        if entry.file.kind == "directory":
            raise LinuxError(EISDIR)
        if entry.file.kind != "file":
            raise LinuxError(EINVAL, f"copy_file_range between regular files only, not a {entry.file.kind}")
    if destination.file.flags & O_APPEND:
        raise LinuxError(EBADF, "copy_file_range to an O_APPEND file")
    in_offset, out_offset = _offset_argument(task, off_in), _offset_argument(task, off_out)
    start = _position(task, source) if in_offset is None else in_offset
    target = _position(task, destination) if out_offset is None else out_offset
    length = min(length, MAX_COUNT)
    same = file_object(task, source.handle) is file_object(task, destination.handle) or \
        stat_of_fd(task, fd_in).FileId == stat_of_fd(task, fd_out).FileId
    if same and start < target + length and target < start + length:
        raise LinuxError(EINVAL, "overlapping ranges of one file")

    def done(moved: int) -> int:
        if in_offset is None:
            _set_position(task, source, start + moved)
        else:
            task.write(off_in, struct.pack("<q", start + moved))
        if out_offset is None:
            _set_position(task, destination, target + moved)
        else:
            task.write(off_out, struct.pack("<q", target + moved))
        return moved

    return _copy(task, source, start, destination, target, length, done)
