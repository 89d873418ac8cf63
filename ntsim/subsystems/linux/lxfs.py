"""lxfs: Linux paths and Linux file metadata on the NT volume.

A Linux path becomes an NT object name on the system volume: `/etc/passwd` is
`\\??\\C:\\etc\\passwd`, opened *without* OBJ_CASE_INSENSITIVE so that Linux guests get
case-sensitive names on the same directory NT programs see case-insensitively. The
metadata Linux wants (mode, uid, gid, device numbers, nanosecond times) comes back from
the volume in FILE_STAT_LX_INFORMATION, the information class WSL1 added to NT for
exactly this; here it is packed into Linux's `struct stat` and `struct statx`.

A few names never reach the volume: /dev/null, /dev/zero, /dev/full, /dev/random,
/dev/urandom and /dev/tty are devices ntsim models, whatever the root directory holds
(a host device node under --root is never opened).
"""

from __future__ import annotations

import posixpath
import struct

from ...kernel.fs.volume import BACKSLASH_STAND_IN
from ...kernel.io import FileStatLx

SYSTEM_DRIVE = "\\??\\C:"
AT_FDCWD = -100

S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK = 0o170000, 0o140000, 0o120000, 0o100000, 0o60000
S_IFDIR, S_IFCHR, S_IFIFO = 0o40000, 0o20000, 0o10000

# Character devices ntsim models: path -> (kind, mode, major, minor)
MODELLED_DEVICES = {
    "/dev/null": ("null", S_IFCHR | 0o666, 1, 3),
    "/dev/zero": ("zero", S_IFCHR | 0o666, 1, 5),
    "/dev/full": ("full", S_IFCHR | 0o666, 1, 7),
    "/dev/random": ("random", S_IFCHR | 0o666, 1, 8),
    "/dev/urandom": ("random", S_IFCHR | 0o666, 1, 9),
    "/dev/tty": ("console", S_IFCHR | 0o666, 5, 0),
    # the console, when it is a terminal: the pty /proc/self/fd/0 names (ttyname finds it)
    "/dev/pts/0": ("console", S_IFCHR | 0o620, 136, 0),
}
CONSOLE_MODE = (S_IFCHR | 0o620, 136, 0)


def nt_name(linux_path: str) -> str:
    """The NT object name of an absolute Linux path on the system volume."""
    parts = [p.replace("\\", BACKSLASH_STAND_IN) for p in linux_path.split("/") if p]
    return SYSTEM_DRIVE + "\\" + "\\".join(parts)


def join(base: str, path: str) -> str:
    """Where a relative path leads from `base`, without resolving anything."""
    return path if path.startswith("/") else (base.rstrip("/") + "/" + path if path else base)


def lexical(path: str) -> str:
    """`/dev/../dev/null` -> `/dev/null`, for recognising modelled devices only (real
    resolution, with links, is the volume's)."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("/") else normal


def dev_number(major: int, minor: int) -> int:
    """Linux's new_encode_dev."""
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32)


def pack_stat(info: FileStatLx) -> bytes:
    """struct stat (x86-64, 144 bytes)."""
    device = dev_number(info.VolumeSerialNumber >> 8 & 0xFFF, info.VolumeSerialNumber & 0xFF)
    rdev = dev_number(info.LxDeviceIdMajor, info.LxDeviceIdMinor)
    return struct.pack(
        "<QQQIIIiQqqqqqqqqq24x",
        device, info.FileId, info.NumberOfLinks, info.LxMode, info.LxUid, info.LxGid, 0, rdev,
        info.EndOfFile, info.BlockSize, info.AllocationSize // 512,
        info.AccessTimeNs // 10**9, info.AccessTimeNs % 10**9,
        info.WriteTimeNs // 10**9, info.WriteTimeNs % 10**9,
        info.ChangeTimeNs // 10**9, info.ChangeTimeNs % 10**9)


STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800


def pack_statx(info: FileStatLx) -> bytes:
    """struct statx (256 bytes)."""

    def timestamp(ns: int) -> bytes:
        return struct.pack("<qIi", ns // 10**9, ns % 10**9, 0)

    head = struct.pack("<IIQIIIHHQQQQ", STATX_BASIC_STATS, info.BlockSize, 0, info.NumberOfLinks,
                       info.LxUid, info.LxGid, info.LxMode & 0xFFFF, 0, info.FileId,
                       info.EndOfFile, info.AllocationSize // 512, 0)
    times = (timestamp(info.AccessTimeNs) + timestamp(info.ChangeTimeNs) +
             timestamp(info.ChangeTimeNs) + timestamp(info.WriteTimeNs))
    devices = struct.pack("<IIII", info.LxDeviceIdMajor, info.LxDeviceIdMinor,
                          info.VolumeSerialNumber >> 8 & 0xFFF, info.VolumeSerialNumber & 0xFF)
    return (head + times + devices).ljust(256, b"\0")


def device_stat(mode: int, major: int, minor: int, clock_ns: int) -> FileStatLx:
    """Metadata for a device ntsim models (it has no file on the volume)."""
    return FileStatLx(FileId=major << 8 | minor, CreationTime=0, LastAccessTime=0, LastWriteTime=0,
                      ChangeTime=0, AllocationSize=0, EndOfFile=0, FileAttributes=0,
                      NumberOfLinks=1, LxMode=mode, LxUid=0, LxGid=5 if major == 136 else 0,
                      LxDeviceIdMajor=major, LxDeviceIdMinor=minor, VolumeSerialNumber=5,
                      AccessTimeNs=clock_ns, WriteTimeNs=clock_ns, ChangeTimeNs=clock_ns,
                      BlockSize=1024)
