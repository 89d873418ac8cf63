"""Extended attributes: setxattr, getxattr, listxattr, removexattr (and their l- and f- forms).

NT keeps a file's extended attributes as EAs (NtSetEaFile, NtQueryEaFile); lxfs keeps a
Linux file's mode, owner and device number among them. A guest's own attributes are EAs
too, named "LXX:<name>" (WSL1 kept them in an EA of its own as well), so the volume
stores them apart from lxfs's metadata, and a guest never sees or changes that through
these calls. The namespaces are Linux's: user.* for anyone who may write the file;
trusted.* and security.* for CAP_SYS_ADMIN (stored the same way); anything else EOPNOTSUPP.
A symbolic link takes no user.* attributes (EPERM), as on Linux.
"""

from __future__ import annotations

from ...kernel.io import FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES
from ...kernel.status import NtStatusError
from . import procfs
from .errno import EEXIST, EINVAL, ENODATA, EOPNOTSUPP, EPERM, ERANGE, LinuxError, errno_from_status
from .files import AT_FDCWD, FILE_OPEN, file_object, guest_path, lexical, nt_open, signed32
from .identity import CAP_SYS_ADMIN, capable
from .task import Task

XATTR_CREATE, XATTR_REPLACE = 1, 2
XATTR_NAME_MAX, XATTR_SIZE_MAX = 255, 65536
PREFIX = "LXX:"
FILE_OPEN_REPARSE_POINT = 0x00200000


def _name(task: Task, address: int, writing: bool = False) -> str:
    """The attribute's name, checked as Linux checks it: any known namespace may be read
    (`ls -l` asks for security.selinux and system.posix_acl_access of every file: absent
    here, ENODATA); user.* may be written, trusted.* and security.* with CAP_SYS_ADMIN;
    system.* (ACLs) is not kept."""
    name = task.read_string(address)
    if not name or len(name.encode("utf-8", "surrogateescape")) > XATTR_NAME_MAX:
        raise LinuxError(ERANGE, "attribute name length")
    namespace = name.split(".", 1)[0]
    if namespace not in ("user", "trusted", "security", "system") or "." not in name:
        raise LinuxError(EOPNOTSUPP, f"{name}: no such namespace")
    if writing:
        if namespace == "system":
            raise LinuxError(EOPNOTSUPP, f"{name}: ACLs are not kept")
        if namespace != "user" and not capable(task, CAP_SYS_ADMIN):
            raise LinuxError(EPERM, f"{name}: needs CAP_SYS_ADMIN")
    return name


class _Target:
    """The file a call names (a path, the link itself, or an fd), opened for its EAs."""

    def __init__(self, task: Task, path: int | None, fd: int | None, follow: bool, write: bool) -> None:
        self.task = task
        access = FILE_READ_ATTRIBUTES | (FILE_WRITE_ATTRIBUTES if write else 0)
        self.handle, self.owned, self.is_link = None, False, False
        if fd is not None:
            entry = task.lx.fds.get(signed32(fd))
            if entry.handle is None or entry.file.kind not in ("file", "directory"):
                return               # a pipe, a socket, /proc...: none kept (ENODATA, empty list)
            self.handle = entry.handle
        else:
            absolute = guest_path(task, AT_FDCWD, task.read_string(path))
            if procfs.claims(lexical(absolute)):
                procfs.stat_path(task, absolute, follow)      # ENOENT where Linux would say so
                return
            self.handle = nt_open(task, absolute, access, FILE_OPEN, 0 if follow else FILE_OPEN_REPARSE_POINT)
            self.owned = True
        self.is_link = bool(getattr(file_object(task, self.handle).context, "is_symlink", False))

    def close(self) -> None:
        if self.owned:
            self.task.nt.NtClose(self.handle)

    def attributes(self) -> dict[str, bytes]:
        if self.handle is None:
            return {}
        return {name[len(PREFIX):]: value[1:] for name, value in self.task.nt.NtQueryEaFile(self.handle).items()
                if name.startswith(PREFIX)}

    def set(self, name: str, value: bytes | None) -> None:
        if self.handle is None:
            raise LinuxError(EOPNOTSUPP, "this file keeps no extended attributes")
        try:
            self.task.nt.NtSetEaFile(self.handle, {PREFIX + name: b"" if value is None else b"\x01" + value})
        except NtStatusError as error:
            if errno_from_status(error.status) == ENODATA:
                raise LinuxError(ENODATA, name) from None
            raise


def _set(task: Task, target: _Target, name_address: int, value: int, size: int, flags: int) -> int:
    try:
        name = _name(task, name_address, writing=True)
        if flags & ~(XATTR_CREATE | XATTR_REPLACE):
            raise LinuxError(EINVAL, f"flags {flags:#x}")
        if size > XATTR_SIZE_MAX:
            raise LinuxError(ERANGE, "value too large")
        if target.is_link and name.startswith("user."):
            raise LinuxError(EPERM, "a symbolic link takes no user.* attributes")
        data = task.read(value, size) if size else b""
        present = name in target.attributes()
        if flags & XATTR_CREATE and present:
            raise LinuxError(EEXIST, name)
        if flags & XATTR_REPLACE and not present:
            raise LinuxError(ENODATA, name)
        target.set(name, data)
        return 0
    finally:
        target.close()


def _get(task: Task, target: _Target, name_address: int, value: int, size: int) -> int:
    try:
        name = _name(task, name_address)
        found = target.attributes().get(name)
        if found is None:
            raise LinuxError(ENODATA, name)
        if size == 0:
            return len(found)
        if size < len(found):
            raise LinuxError(ERANGE, "buffer too small")
        task.write(value, found)
        return len(found)
    finally:
        target.close()


def _list(task: Task, target: _Target, buffer: int, size: int) -> int:
    try:
        names = b"".join(name.encode("utf-8", "surrogateescape") + b"\0" for name in sorted(target.attributes())
                         if name.startswith("user.") or capable(task, CAP_SYS_ADMIN))
        if size == 0:
            return len(names)
        if size < len(names):
            raise LinuxError(ERANGE, "buffer too small")
        task.write(buffer, names)
        return len(names)
    finally:
        target.close()


def _remove(task: Task, target: _Target, name_address: int) -> int:
    try:
        name = _name(task, name_address, writing=True)
        if name not in target.attributes():
            raise LinuxError(ENODATA, name)
        target.set(name, None)
        return 0
    finally:
        target.close()


def sys_setxattr(task, path, name, value, size, flags):
    return _set(task, _Target(task, path, None, True, True), name, value, size, flags)


def sys_lsetxattr(task, path, name, value, size, flags):
    return _set(task, _Target(task, path, None, False, True), name, value, size, flags)


def sys_fsetxattr(task, fd, name, value, size, flags):
    return _set(task, _Target(task, None, fd, True, True), name, value, size, flags)


def sys_getxattr(task, path, name, value, size):
    return _get(task, _Target(task, path, None, True, False), name, value, size)


def sys_lgetxattr(task, path, name, value, size):
    return _get(task, _Target(task, path, None, False, False), name, value, size)


def sys_fgetxattr(task, fd, name, value, size):
    return _get(task, _Target(task, None, fd, True, False), name, value, size)


def sys_listxattr(task, path, buffer, size):
    return _list(task, _Target(task, path, None, True, False), buffer, size)


def sys_llistxattr(task, path, buffer, size):
    return _list(task, _Target(task, path, None, False, False), buffer, size)


def sys_flistxattr(task, fd, buffer, size):
    return _list(task, _Target(task, None, fd, True, False), buffer, size)


def sys_removexattr(task, path, name):
    return _remove(task, _Target(task, path, None, True, True), name)


def sys_lremovexattr(task, path, name):
    return _remove(task, _Target(task, path, None, False, True), name)


def sys_fremovexattr(task, fd, name):
    return _remove(task, _Target(task, None, fd, True, True), name)
