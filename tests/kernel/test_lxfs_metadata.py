"""lxfs metadata on the volume: the $LXMOD/$LXUID/$LXGID/$LXDEV extended attributes WSL1
kept beside each file, stored in the host's user.* attributes, read back through
FILE_STAT_LX_INFORMATION; LX_SYMLINK reparse points; times through FileBasicInformation."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from ntsim.kernel.io import (
    FILE_CREATE,
    FILE_OPEN,
    FILE_OPEN_REPARSE_POINT,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FSCTL_GET_REPARSE_POINT,
    FSCTL_SET_REPARSE_POINT,
    IO_REPARSE_TAG_LX_SYMLINK,
    LX_EA_DEVICE,
    LX_EA_GID,
    LX_EA_MODE,
    LX_EA_UID,
    LX_FILE_METADATA_HAS_GID,
    LX_FILE_METADATA_HAS_MODE,
    LX_FILE_METADATA_HAS_UID,
    BasicInformation,
    FileBasicInformation,
    FileStatLxInformation,
)
from ntsim.kernel.status import (
    STATUS_EAS_NOT_SUPPORTED,
    STATUS_IO_REPARSE_DATA_INVALID,
    NtStatusError,
)

CASE_SENSITIVE = 0
NT_EPOCH = 116_444_736_000_000_000


def c(path: str) -> str:
    return "\\??\\C:\\" + path


def ulong(value: int) -> bytes:
    return value.to_bytes(4, "little")


def host_keeps_user_attributes(directory) -> bool:
    probe = directory / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.ntsim-probe", b"1")
        return True
    except (AttributeError, OSError) as error:
        if isinstance(error, OSError) and error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        return False
    finally:
        probe.unlink()


@pytest.fixture
def xattrs(root) -> None:
    if not host_keeps_user_attributes(root):
        pytest.skip("the host file system keeps no user.* extended attributes")


def create(nt, name: str, ea=None, lx_mode=None) -> int:
    return nt.NtCreateFile(c(name), FILE_READ_DATA | FILE_WRITE_DATA, FILE_CREATE, 0, CASE_SENSITIVE,
                           lx_mode=lx_mode, EaBuffer=ea)


def test_a_new_file_gets_exactly_the_mode_asked_for_whatever_ntsims_umask(nt, root):
    old = os.umask(0o077)
    try:
        nt.NtClose(create(nt, "wide", lx_mode=0o666))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(root / "wide").st_mode) == 0o666


def test_owner_and_group_set_as_attributes_change_the_linux_view_only(nt, root, xattrs):
    handle = create(nt, "owned")
    host = os.stat(root / "owned")
    nt.NtSetEaFile(handle, {LX_EA_UID: ulong(1234), LX_EA_GID: ulong(5678)})
    info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
    assert (info.LxUid, info.LxGid) == (1234, 5678)
    assert info.LxFlags & (LX_FILE_METADATA_HAS_UID | LX_FILE_METADATA_HAS_GID) == \
        LX_FILE_METADATA_HAS_UID | LX_FILE_METADATA_HAS_GID
    after = os.stat(root / "owned")
    assert (after.st_uid, after.st_gid) == (host.st_uid, host.st_gid)     # the host's are untouched
    assert os.getxattr(root / "owned", "user.lxss.uid") == ulong(1234)
    assert nt.NtQueryEaFile(handle)[LX_EA_GID] == ulong(5678)


def test_a_mode_attribute_is_mirrored_on_the_host_permission_bits(nt, root, xattrs):
    handle = create(nt, "moded")
    nt.NtSetEaFile(handle, {LX_EA_MODE: ulong(stat.S_IFREG | 0o4751)})
    info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
    assert info.LxMode == stat.S_IFREG | 0o4751 and info.LxFlags & LX_FILE_METADATA_HAS_MODE
    assert stat.S_IMODE(os.stat(root / "moded").st_mode) == 0o4751


def test_a_fifo_is_a_regular_host_file_whose_attributes_say_what_it_is(nt, root, xattrs):
    ea = {LX_EA_MODE: ulong(stat.S_IFIFO | 0o640)}
    nt.NtClose(create(nt, "fifo", ea=ea))
    assert stat.S_ISREG(os.lstat(root / "fifo").st_mode)
    handle = nt.NtCreateFile(c("fifo"), FILE_READ_ATTRIBUTES, FILE_OPEN, 0, CASE_SENSITIVE)
    info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
    assert info.LxMode == stat.S_IFIFO | 0o640
    # and a directory listing tells its type too (d_type)
    directory = nt.NtCreateFile(c(""), FILE_READ_DATA, FILE_OPEN, 1, CASE_SENSITIVE)
    entries = {e.FileName: e for e in nt.NtQueryDirectoryFile(directory)}
    assert stat.S_ISFIFO(entries["fifo"].LxMode)


def test_a_device_number_round_trips(nt, root, xattrs):
    ea = {LX_EA_MODE: ulong(stat.S_IFCHR | 0o600), LX_EA_DEVICE: ulong(1) + ulong(3)}
    handle = create(nt, "null", ea=ea)
    info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
    assert (info.LxDeviceIdMajor, info.LxDeviceIdMinor) == (1, 3)


def test_only_lxfs_attributes_are_kept(nt, root, xattrs):
    handle = create(nt, "plain")
    with pytest.raises(NtStatusError) as caught:
        nt.NtSetEaFile(handle, {"SOMETHING.ELSE": b"x"})
    assert caught.value.status == STATUS_EAS_NOT_SUPPORTED


def test_an_empty_value_removes_an_attribute(nt, root, xattrs):
    handle = create(nt, "plain")
    nt.NtSetEaFile(handle, {LX_EA_UID: ulong(42)})
    nt.NtSetEaFile(handle, {LX_EA_UID: b""})
    info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
    assert info.LxUid == os.stat(root / "plain").st_uid and not info.LxFlags & LX_FILE_METADATA_HAS_UID


def test_a_new_file_becomes_a_link_through_an_lx_symlink_reparse_point(nt, root):
    handle = nt.NtCreateFile(c("link"), FILE_WRITE_ATTRIBUTES, FILE_CREATE, FILE_OPEN_REPARSE_POINT,
                             CASE_SENSITIVE)
    nt.NtFsControlFile(handle, FSCTL_SET_REPARSE_POINT, (IO_REPARSE_TAG_LX_SYMLINK, "../target with space"))
    assert os.readlink(root / "link") == "../target with space"        # verbatim
    assert nt.NtDeviceIoControlFile(handle, FSCTL_GET_REPARSE_POINT) == "../target with space"
    assert [p.name for p in root.iterdir()] == ["link"]                 # no stand-in left behind


def test_a_file_with_data_cannot_become_a_link(nt, root):
    handle = create(nt, "full")
    nt.NtWriteFile(handle, b"data")
    with pytest.raises(NtStatusError) as caught:
        nt.NtFsControlFile(handle, FSCTL_SET_REPARSE_POINT, (IO_REPARSE_TAG_LX_SYMLINK, "x"))
    assert caught.value.status == STATUS_IO_REPARSE_DATA_INVALID


def test_times_are_set_in_nt_units_and_zero_leaves_one_alone(nt, root):
    handle = create(nt, "timed")
    before = os.stat(root / "timed")
    write = NT_EPOCH + 1_000_000_000 * 10_000_000 + 1234567     # 2001-09-09, and 123.4567 ms
    nt.NtSetInformationFile(handle, FileBasicInformation, BasicInformation(0, 0, write, 0, 0))
    after = os.stat(root / "timed")
    assert after.st_mtime_ns == 1_000_000_000 * 10**9 + 123_456_700
    assert after.st_atime_ns == before.st_atime_ns
