"""\\Device\\HarddiskVolume1: the file system on a host directory. The guest never reaches
a host file outside the root; names are case-insensitive unless the caller asks
otherwise, and case-preserving always."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from ntsim.kernel.io import (
    FILE_APPEND_DATA,
    FILE_CREATE,
    FILE_CREATED,
    FILE_DELETE_ON_CLOSE,
    FILE_DIRECTORY_FILE,
    FILE_LIST_DIRECTORY,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OPENED,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_OVERWRITTEN,
    FILE_READ_DATA,
    FILE_SUPERSEDE,
    FILE_SUPERSEDED,
    FILE_WRITE_DATA,
    FileNameInformation,
    FileRenameInformation,
    FileStandardInformation,
)
from ntsim.kernel.objects import OBJ_CASE_INSENSITIVE
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_END_OF_FILE,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_NAME_TOO_LONG,
    STATUS_NO_MORE_FILES,
    STATUS_NOT_A_DIRECTORY,
    STATUS_NOT_SAME_DEVICE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    NtStatusError,
)

READ_WRITE = FILE_READ_DATA | FILE_WRITE_DATA
CASE_SENSITIVE = 0


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


def c(path: str) -> str:
    """A guest path on C:."""
    return "\\??\\C:\\" + path


def read_all(nt, handle) -> bytes:
    data = b""
    while True:
        try:
            data += nt.NtReadFile(handle, 4096)
        except NtStatusError as error:
            assert error.status == STATUS_END_OF_FILE
            return data


def opens(nt, path, attributes=OBJ_CASE_INSENSITIVE, access=FILE_READ_DATA) -> bytes | int:
    """What opening `path` for reading gives: the file's bytes, or the failure status."""
    try:
        handle = nt.NtCreateFile(c(path), access, FILE_OPEN, 0, attributes)
    except NtStatusError as error:
        return error.status
    return read_all(nt, handle)


@pytest.fixture
def outside(tmp_path):
    """Host files next to the root, which no guest may reach."""
    (tmp_path / "secret").write_bytes(b"HOST SECRET")
    directory = tmp_path / "outside-dir"
    directory.mkdir()
    (directory / "file").write_bytes(b"HOST FILE")
    return tmp_path


# --- the root is a wall --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["..\\secret", "..\\..\\..\\secret", "dir\\..\\..\\secret",
                                  ".\\dir\\.\\..\\..\\secret"])
def test_dot_dot_stops_at_the_root(nt, root, outside, path):
    (root / "dir").mkdir()
    assert opens(nt, path) != b"HOST SECRET"
    (root / "secret").write_bytes(b"guest secret")        # `..` of the root is the root
    assert opens(nt, path) == b"guest secret"


def test_an_absolute_symlink_points_inside_the_root(nt, root):
    os.symlink("/etc", root / "etc_link")
    assert opens(nt, "etc_link\\passwd") == STATUS_OBJECT_PATH_NOT_FOUND
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"guest passwd")
    assert opens(nt, "etc_link\\passwd") == b"guest passwd"


@pytest.mark.parametrize("target", ["../secret", "../../../../../../secret",
                                    "dir/../../secret"])
def test_a_relative_symlink_cannot_climb_out(nt, root, outside, target):
    (root / "dir").mkdir()
    os.symlink(target, root / "link")
    assert opens(nt, "link") != b"HOST SECRET"


def test_a_symlink_to_a_host_path_outside_is_resolved_inside(nt, root, outside):
    os.symlink(str(outside / "secret"), root / "link")
    assert opens(nt, "link") != b"HOST SECRET"


def test_a_symlink_to_an_outside_directory_cannot_create_files_there(nt, root, outside):
    os.symlink(str(outside / "outside-dir"), root / "dir_link")
    os.symlink("../outside-dir", root / "rel_link")
    for name in ("dir_link\\new.txt", "rel_link\\new.txt", "dir_link\\file", "rel_link\\file"):
        try:
            handle = nt.NtCreateFile(c(name), FILE_WRITE_DATA, FILE_OPEN_IF)
            nt.NtWriteFile(handle, b"GUEST WAS HERE")
        except NtStatusError:
            pass
    assert sorted(os.listdir(outside / "outside-dir")) == ["file"]
    assert (outside / "outside-dir" / "file").read_bytes() == b"HOST FILE"


def test_a_symlink_loop_fails_instead_of_hanging(nt, root):
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    assert isinstance(opens(nt, "a"), int)


def test_a_host_fifo_is_never_opened_for_data(nt, root):
    os.mkfifo(root / "fifo")                      # opening it on the host would block
    for access in (FILE_READ_DATA, FILE_WRITE_DATA):
        assert status_of(nt.NtCreateFile, c("fifo"), access, FILE_OPEN) == STATUS_ACCESS_DENIED


def test_a_host_socket_is_never_opened_for_data(nt, root):
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(root / "sock"))
        assert status_of(nt.NtCreateFile, c("sock"), READ_WRITE, FILE_OPEN) == STATUS_ACCESS_DENIED
    finally:
        listener.close()


def test_a_host_device_node_is_never_opened_for_data(nt, root):
    try:
        os.mknod(root / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))   # like /dev/zero
    except OSError:
        pytest.skip("cannot make device nodes here")
    assert status_of(nt.NtCreateFile, c("zero"), FILE_READ_DATA, FILE_OPEN) == STATUS_ACCESS_DENIED


def test_a_symlink_to_a_fifo_is_refused_too(nt, root):
    os.mkfifo(root / "fifo")
    os.symlink("/fifo", root / "to_fifo")
    assert status_of(nt.NtCreateFile, c("to_fifo"), FILE_READ_DATA, FILE_OPEN) == STATUS_ACCESS_DENIED


# --- names ---------------------------------------------------------------------------------


def test_a_case_insensitive_open_finds_a_name_in_any_case(nt, root):
    (root / "README").write_bytes(b"read me")
    assert opens(nt, "readme") == b"read me"
    assert opens(nt, "ReadMe") == b"read me"


def test_a_case_sensitive_open_needs_the_exact_name(nt, root):
    (root / "README").write_bytes(b"read me")
    assert opens(nt, "readme", CASE_SENSITIVE) == STATUS_OBJECT_NAME_NOT_FOUND
    assert opens(nt, "README", CASE_SENSITIVE) == b"read me"


def test_directories_on_the_way_are_matched_without_case_too(nt, root):
    (root / "Docs").mkdir()
    (root / "Docs" / "Guide.txt").write_bytes(b"guide")
    assert opens(nt, "DOCS\\guide.TXT") == b"guide"
    assert opens(nt, "DOCS\\guide.TXT", CASE_SENSITIVE) == STATUS_OBJECT_PATH_NOT_FOUND


def test_a_created_name_keeps_its_case(nt, root):
    nt.NtCreateFile(c("MixedCase.Txt"), FILE_WRITE_DATA, FILE_CREATE)
    assert os.listdir(root) == ["MixedCase.Txt"]


def test_creating_a_name_that_exists_in_another_case_collides(nt, root):
    (root / "Report.txt").write_bytes(b"")
    assert status_of(nt.NtCreateFile, c("REPORT.TXT"), FILE_WRITE_DATA, FILE_CREATE) \
        == STATUS_OBJECT_NAME_COLLISION


def test_a_case_sensitive_create_makes_a_second_name(nt, root):
    (root / "Report.txt").write_bytes(b"")
    nt.NtCreateFile(c("REPORT.TXT"), FILE_WRITE_DATA, FILE_CREATE, 0, CASE_SENSITIVE)
    assert sorted(os.listdir(root)) == ["REPORT.TXT", "Report.txt"]


def test_a_name_longer_than_255_is_refused(nt):
    assert status_of(nt.NtCreateFile, c("n" * 256), FILE_WRITE_DATA, FILE_CREATE) == STATUS_NAME_TOO_LONG


# --- create dispositions -------------------------------------------------------------------


def information(process, handle) -> int:
    """IO_STATUS_BLOCK.Information of the create: what happened to the file."""
    return process.handles.lookup(handle).information


def test_create_dispositions_do_what_nt_says(nt, root, process):
    assert status_of(nt.NtCreateFile, c("f"), READ_WRITE, FILE_OPEN) == STATUS_OBJECT_NAME_NOT_FOUND
    assert status_of(nt.NtCreateFile, c("f"), READ_WRITE, FILE_OVERWRITE) == STATUS_OBJECT_NAME_NOT_FOUND
    handle = nt.NtCreateFile(c("f"), READ_WRITE, FILE_CREATE)
    assert information(process, handle) == FILE_CREATED
    nt.NtWriteFile(handle, b"contents")
    assert status_of(nt.NtCreateFile, c("f"), READ_WRITE, FILE_CREATE) == STATUS_OBJECT_NAME_COLLISION
    assert information(process, nt.NtCreateFile(c("f"), READ_WRITE, FILE_OPEN_IF)) == FILE_OPENED
    assert (root / "f").read_bytes() == b"contents"


@pytest.mark.parametrize("disposition, outcome", [(FILE_OVERWRITE, FILE_OVERWRITTEN),
                                                  (FILE_OVERWRITE_IF, FILE_OVERWRITTEN),
                                                  (FILE_SUPERSEDE, FILE_SUPERSEDED)])
def test_overwrite_and_supersede_empty_an_existing_file(nt, root, process, disposition, outcome):
    (root / "f").write_bytes(b"old contents")
    handle = nt.NtCreateFile(c("f"), READ_WRITE, disposition)
    assert information(process, handle) == outcome
    assert (root / "f").read_bytes() == b""


def test_creating_in_a_missing_directory_is_path_not_found(nt):
    assert status_of(nt.NtCreateFile, c("nowhere\\f"), FILE_WRITE_DATA, FILE_CREATE) \
        == STATUS_OBJECT_PATH_NOT_FOUND


def test_a_file_is_not_a_directory_on_the_way(nt, root):
    (root / "plain").write_bytes(b"")
    with pytest.raises(NtStatusError) as caught:
        nt.NtCreateFile(c("plain\\f"), FILE_WRITE_DATA, FILE_CREATE)
    assert caught.value.status in (STATUS_OBJECT_PATH_NOT_FOUND, STATUS_NOT_A_DIRECTORY)
    assert (root / "plain").is_file()


def test_directory_and_non_directory_options_are_checked(nt, root):
    (root / "plain").write_bytes(b"")
    (root / "folder").mkdir()
    assert status_of(nt.NtCreateFile, c("plain"), FILE_READ_DATA, FILE_OPEN, FILE_DIRECTORY_FILE) \
        == STATUS_NOT_A_DIRECTORY
    assert status_of(nt.NtCreateFile, c("folder"), FILE_READ_DATA, FILE_OPEN, FILE_NON_DIRECTORY_FILE) \
        == STATUS_FILE_IS_A_DIRECTORY


def test_creating_a_directory(nt, root):
    nt.NtCreateFile(c("made"), FILE_LIST_DIRECTORY, FILE_CREATE, FILE_DIRECTORY_FILE)
    assert (root / "made").is_dir()


# --- reading and writing -------------------------------------------------------------------


def test_sequential_reads_follow_the_file_position(nt, root):
    (root / "f").write_bytes(b"abcdefgh")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    assert nt.NtReadFile(handle, 3) == b"abc"
    assert nt.NtReadFile(handle, 3) == b"def"
    assert nt.NtReadFile(handle, 3) == b"gh"
    assert status_of(nt.NtReadFile, handle, 3) == STATUS_END_OF_FILE


def test_a_read_at_an_offset_leaves_the_position_alone(nt, root):
    (root / "f").write_bytes(b"abcdefgh")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    assert nt.NtReadFile(handle, 2, 6) == b"gh"
    assert nt.NtReadFile(handle, 2) == b"ab"


def test_a_write_at_an_offset_and_a_sequential_write(nt, root):
    handle = nt.NtCreateFile(c("f"), READ_WRITE, FILE_CREATE)
    nt.NtWriteFile(handle, b"hello world")
    nt.NtWriteFile(handle, b"W", 6)
    nt.NtWriteFile(handle, b"!")
    assert (root / "f").read_bytes() == b"hello World!"


def test_an_append_only_handle_always_writes_at_the_end(nt, root):
    (root / "log").write_bytes(b"first\n")
    handle = nt.NtCreateFile(c("log"), FILE_APPEND_DATA, FILE_OPEN)
    nt.NtWriteFile(handle, b"second\n", 0)
    assert (root / "log").read_bytes() == b"first\nsecond\n"


def test_a_directory_cannot_be_read_as_a_file(nt, root):
    (root / "folder").mkdir()
    handle = nt.NtCreateFile(c("folder"), FILE_LIST_DIRECTORY, FILE_OPEN)
    assert status_of(nt.NtReadFile, handle, 10) == STATUS_FILE_IS_A_DIRECTORY


# --- information, listing, rename, delete --------------------------------------------------


def test_standard_information_gives_size_and_kind(nt, root):
    (root / "f").write_bytes(b"12345")
    (root / "folder").mkdir()
    file_info = nt.NtQueryInformationFile(nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN),
                                          FileStandardInformation)
    folder_info = nt.NtQueryInformationFile(nt.NtCreateFile(c("folder"), FILE_READ_DATA, FILE_OPEN),
                                            FileStandardInformation)
    assert (file_info.EndOfFile, file_info.Directory) == (5, False)
    assert folder_info.Directory is True


def test_the_name_information_is_the_name_on_disk(nt, root):
    (root / "Docs").mkdir()
    (root / "Docs" / "Guide.txt").write_bytes(b"")
    handle = nt.NtCreateFile(c("docs\\guide.txt"), FILE_READ_DATA, FILE_OPEN)
    assert nt.NtQueryInformationFile(handle, FileNameInformation) == "\\Docs\\Guide.txt"


def test_a_directory_listing_has_dot_entries_and_every_name(nt, root):
    for name in ("One.txt", "two", "THREE"):
        (root / name).write_bytes(b"")
    handle = nt.NtCreateFile(c(""), FILE_LIST_DIRECTORY, FILE_OPEN, FILE_DIRECTORY_FILE)
    names = [entry.FileName for entry in nt.NtQueryDirectoryFile(handle)]
    assert sorted(names) == sorted([".", "..", "One.txt", "two", "THREE"])
    assert status_of(nt.NtQueryDirectoryFile, handle) == STATUS_NO_MORE_FILES
    again = nt.NtQueryDirectoryFile(handle, RestartScan=True, ReturnSingleEntry=True)
    assert len(again) == 1


def test_delete_on_close_removes_the_file_with_its_last_handle(nt, root, process):
    handle = nt.NtCreateFile(c("temp"), READ_WRITE, FILE_CREATE, FILE_DELETE_ON_CLOSE)
    second = nt.NtDuplicateObject(NtCurrentProcess, handle, NtCurrentProcess)
    nt.NtClose(handle)
    assert (root / "temp").exists()
    nt.NtClose(second)
    assert not (root / "temp").exists()


def test_rename_moves_the_file_and_keeps_the_handle_working(nt, root):
    (root / "old").write_bytes(b"data")
    handle = nt.NtCreateFile(c("old"), FILE_READ_DATA, FILE_OPEN)
    nt.NtSetInformationFile(handle, FileRenameInformation, (c("New"), False))
    assert os.listdir(root) == ["New"]
    assert nt.NtReadFile(handle, 10) == b"data"


def test_rename_over_an_existing_name_needs_replace(nt, root):
    (root / "a").write_bytes(b"A")
    (root / "b").write_bytes(b"B")
    handle = nt.NtCreateFile(c("a"), FILE_READ_DATA, FILE_OPEN)
    assert status_of(nt.NtSetInformationFile, handle, FileRenameInformation, (c("b"), False)) \
        == STATUS_OBJECT_NAME_COLLISION
    nt.NtSetInformationFile(handle, FileRenameInformation, (c("b"), True))
    assert os.listdir(root) == ["b"]
    assert (root / "b").read_bytes() == b"A"


def test_rename_cannot_leave_the_root(nt, root, outside):
    (root / "a").write_bytes(b"A")
    handle = nt.NtCreateFile(c("a"), FILE_READ_DATA, FILE_OPEN)
    nt.NtSetInformationFile(handle, FileRenameInformation, (c("..\\..\\escaped"), False))
    assert not (outside / "escaped").exists()
    assert (root / "escaped").read_bytes() == b"A"


def test_rename_to_another_device_is_refused(nt, root):
    (root / "a").write_bytes(b"A")
    handle = nt.NtCreateFile(c("a"), FILE_READ_DATA, FILE_OPEN)
    assert status_of(nt.NtSetInformationFile, handle, FileRenameInformation,
                     ("\\Device\\Null\\a", False)) == STATUS_NOT_SAME_DEVICE


def test_the_root_is_opened_as_a_directory(nt, root):
    handle = nt.NtCreateFile("\\??\\C:", FILE_LIST_DIRECTORY, FILE_OPEN)
    info = nt.NtQueryInformationFile(handle, FileStandardInformation)
    assert info.Directory is True
