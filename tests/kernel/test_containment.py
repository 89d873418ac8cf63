"""Containment at the NT layer: no object name reaches a host file outside the root
(issue 7). The names are the ones a DOS, OS/2 or POSIX guest can pass straight through
to NtCreateFile: `..` above C:\\, device names, the Win32 device namespace, long names."""

from __future__ import annotations

import pytest

from ntsim.kernel.io import FILE_CREATE, FILE_OPEN, FILE_OPEN_IF, FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.kernel import Kernel
from ntsim.kernel.status import (
    STATUS_MEDIA_WRITE_PROTECTED,
    STATUS_OBJECT_PATH_NOT_FOUND,
    NtStatusError,
)


@pytest.fixture
def outside(tmp_path):
    """A secret beside the root, the target of every escape."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret").write_text("TOPSECRET")
    return directory


ESCAPES = [
    "\\??\\C:\\..\\outside\\secret",
    "\\??\\C:\\..\\..\\..\\..\\outside\\secret",
    "\\??\\C:\\.\\..\\outside\\secret",
    "\\??\\C:\\sub\\..\\..\\outside\\secret",
    "\\??\\C:..\\outside\\secret",
    "\\Device\\HarddiskVolume1\\..\\outside\\secret",
    "\\DosDevices\\C:\\..\\outside\\secret",
    "\\??\\C:\\..\\OUTSIDE\\SECRET",
    "\\??\\C:\\" + "..\\" * 300 + "outside\\secret",
    "\\??\\UNC\\localhost\\outside\\secret",
    "\\??\\D:\\outside\\secret",
    "\\??\\C:\\NUL\\..\\..\\outside\\secret",
    "\\??\\C:\\CON\\..\\..\\outside\\secret",
    "\\??\\GLOBALROOT\\..\\outside\\secret",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_no_nt_name_reaches_outside_the_root(nt, root, outside, name):
    (root / "sub").mkdir()
    for access, disposition in ((FILE_READ_DATA, FILE_OPEN), (FILE_WRITE_DATA, FILE_OPEN_IF)):
        try:
            handle = nt.NtCreateFile(name, access, disposition)
        except NtStatusError:
            continue
        # if anything opened, it is inside the root, never the secret
        if access == FILE_READ_DATA:
            assert b"TOPSECRET" not in nt.NtReadFile(handle, 100, 0)
        nt.NtClose(handle)
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "TOPSECRET"


@pytest.mark.parametrize("device", ["\\??\\NUL", "\\??\\CON", "\\??\\CON\\Output",
                                    "\\??\\C:\\NUL", "\\??\\C:\\CON"])
def test_device_names_never_make_host_files(nt, root, device):
    """NUL and CON are devices (a DOS guest's C:\\NUL is the DOS layer's to map); no
    host file of that name is ever made by opening them."""
    try:
        nt.NtClose(nt.NtCreateFile(device, FILE_WRITE_DATA, FILE_OPEN))
    except NtStatusError:
        pass
    assert list(root.iterdir()) == []


def test_a_name_past_the_root_is_not_found(nt, outside):
    with pytest.raises(NtStatusError) as raised:
        nt.NtCreateFile("\\??\\C:\\..\\outside\\secret", FILE_READ_DATA, FILE_OPEN)
    assert raised.value.status == STATUS_OBJECT_PATH_NOT_FOUND     # C:\\outside is not there


def test_read_only_volume_is_write_protected(tmp_path, console):
    from ntsim.subsystems.windows.csrss import Csrss

    root = tmp_path / "root"
    root.mkdir()
    (root / "kept").write_text("as it was")
    kernel = Kernel(str(root), deterministic=True, read_only=True)
    kernel.smss.register_subsystem("Windows", lambda k: Csrss(k, console), required=True)
    kernel.boot()
    process = kernel.create_process("test.exe", architecture="x86-64")
    kernel.current_thread = kernel.create_thread(process)
    nt = kernel.services
    for name, access, disposition in (("\\??\\C:\\new", FILE_WRITE_DATA, FILE_CREATE),
                                      ("\\??\\C:\\kept", FILE_WRITE_DATA, FILE_OPEN)):
        with pytest.raises(NtStatusError) as raised:
            nt.NtCreateFile(name, access, disposition)
        assert raised.value.status == STATUS_MEDIA_WRITE_PROTECTED
    handle = nt.NtCreateFile("\\??\\C:\\kept", FILE_READ_DATA, FILE_OPEN)
    assert nt.NtReadFile(handle, 100, 0) == b"as it was"
    assert sorted(p.name for p in root.iterdir()) == ["kept"]
