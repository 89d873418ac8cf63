"""The object manager: the namespace, symbolic links, handles and object lifetime."""

from __future__ import annotations

import pytest

from ntsim.kernel.io import FILE_CREATE, FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.objects import Directory, SymbolicLink
from ntsim.kernel.processes import Event
from ntsim.kernel.services import DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_INVALID_HANDLE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    STATUS_OBJECT_TYPE_MISMATCH,
    NtStatusError,
)


def status_of(call, *args, **keywords) -> int:
    """The NTSTATUS a failing call raises (the test fails if it succeeds)."""
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


# --- the namespace -------------------------------------------------------------------------


def test_the_dos_name_c_leads_to_the_system_volume(kernel):
    assert kernel.objects.lookup("\\??\\C:") is kernel.volume


def test_dosdevices_is_a_link_to_the_same_directory_as_question_marks(kernel):
    assert kernel.objects.lookup("\\DosDevices\\C:") is kernel.volume
    assert kernel.objects.lookup("\\DosDevices") is kernel.objects.lookup("\\??")


def test_a_link_can_still_be_opened_as_itself(kernel):
    link = kernel.objects.lookup("\\??\\C:", open_link=True)
    assert isinstance(link, SymbolicLink)
    assert kernel.objects.lookup(link.target) is kernel.volume


def test_opening_a_directory_through_a_link_gives_the_target_directory(nt, kernel):
    handle = nt.NtOpenDirectoryObject("\\DosDevices")
    assert kernel.current_thread.process.handles.lookup(handle) is kernel.objects.lookup("\\??")


def test_an_object_created_under_a_link_lands_in_the_link_target(nt, kernel):
    nt.NtCreateEvent("\\DosDevices\\Flag")
    assert isinstance(kernel.objects.lookup("\\??\\Flag"), Event)


def test_names_are_case_insensitive(nt, kernel):
    handle = nt.NtCreateEvent("\\BaseNamedObjects\\ReadyEvent")
    event = kernel.current_thread.process.handles.lookup(handle)
    assert kernel.objects.lookup("\\basenamedobjects\\READYEVENT") is event
    assert kernel.objects.lookup("\\BASENAMEDOBJECTS\\readyevent") is event


def test_names_keep_the_case_they_were_created_with(nt, kernel):
    nt.NtCreateEvent("\\BaseNamedObjects\\ReadyEvent")
    event = kernel.objects.lookup("\\BASENAMEDOBJECTS\\READYEVENT")
    assert event.path == "\\BaseNamedObjects\\ReadyEvent"
    assert "ReadyEvent" in kernel.objects.dump()


def test_a_name_differing_only_in_case_collides(nt):
    nt.NtCreateEvent("\\BaseNamedObjects\\ReadyEvent")
    assert status_of(nt.NtCreateEvent, "\\BaseNamedObjects\\READYEVENT") == STATUS_OBJECT_NAME_COLLISION


def test_a_missing_last_component_is_name_not_found(kernel):
    assert status_of(kernel.objects.lookup, "\\Device\\NoSuchDevice") == STATUS_OBJECT_NAME_NOT_FOUND


def test_a_missing_directory_on_the_way_is_path_not_found(kernel):
    assert status_of(kernel.objects.lookup, "\\NoSuchDirectory\\Thing") == STATUS_OBJECT_PATH_NOT_FOUND


def test_a_relative_name_without_a_root_is_bad_syntax(kernel):
    assert status_of(kernel.objects.lookup, "Device\\Null") == STATUS_OBJECT_PATH_SYNTAX_BAD


def test_a_lookup_relative_to_a_root_directory(kernel):
    devices = kernel.objects.lookup("\\Device")
    assert kernel.objects.lookup("HarddiskVolume1", root=devices) is kernel.volume


def test_a_symbolic_link_loop_fails_instead_of_hanging(nt, kernel):
    nt.NtCreateSymbolicLinkObject("\\??\\Loop1", "\\??\\Loop2")
    nt.NtCreateSymbolicLinkObject("\\??\\Loop2", "\\??\\Loop1")
    with pytest.raises(NtStatusError):
        kernel.objects.lookup("\\??\\Loop1\\file")


def test_a_new_symbolic_link_redirects_file_opens_to_its_target(nt, root):
    (root / "shared.txt").write_bytes(b"through the link")
    nt.NtCreateSymbolicLinkObject("\\??\\Q:", "\\Device\\HarddiskVolume1")
    handle = nt.NtCreateFile("\\??\\Q:\\shared.txt", FILE_READ_DATA, FILE_OPEN)
    assert nt.NtReadFile(handle, 100) == b"through the link"


def test_query_symbolic_link_gives_its_target(nt):
    handle = nt.NtCreateSymbolicLinkObject("\\??\\Q:", "\\Device\\Null")
    assert nt.NtQuerySymbolicLinkObject(handle) == "\\Device\\Null"


def test_a_symbolic_link_file_create_reaches_the_volume(nt, root):
    handle = nt.NtCreateFile("\\??\\C:\\made-here.txt", FILE_WRITE_DATA, FILE_CREATE)
    nt.NtWriteFile(handle, b"x")
    assert (root / "made-here.txt").read_bytes() == b"x"


# --- handles -------------------------------------------------------------------------------


def test_handles_are_distinct_nonzero_multiples_of_four(nt):
    handles = [nt.NtCreateEvent() for _ in range(10)]
    assert len(set(handles)) == 10
    assert all(handle != 0 and handle % 4 == 0 for handle in handles)


def test_handles_stay_multiples_of_four_after_closing_some(nt):
    handles = [nt.NtCreateEvent() for _ in range(6)]
    for handle in handles[1::2]:
        nt.NtClose(handle)
    again = [nt.NtCreateEvent() for _ in range(6)]
    assert all(handle % 4 == 0 for handle in again)
    assert not set(again) & set(handles[0::2])   # live handles are never handed out twice


def test_closing_a_handle_twice_fails_the_second_time(nt):
    handle = nt.NtCreateEvent()
    nt.NtClose(handle)
    assert status_of(nt.NtClose, handle) == STATUS_INVALID_HANDLE


def test_a_handle_belongs_to_its_process(nt, kernel):
    handle = nt.NtCreateEvent()
    other = kernel.create_process("other.exe")
    kernel.current_thread = kernel.create_thread(other)
    assert status_of(nt.NtSetEvent, handle) == STATUS_INVALID_HANDLE


def test_a_handle_to_the_wrong_type_of_object_is_refused(nt):
    directory = nt.NtOpenDirectoryObject("\\BaseNamedObjects")
    assert status_of(nt.NtSetEvent, directory) == STATUS_OBJECT_TYPE_MISMATCH


def test_handle_count_follows_open_handles(nt, kernel):
    first = nt.NtCreateEvent("\\BaseNamedObjects\\Counted")
    event = kernel.objects.lookup("\\BaseNamedObjects\\Counted")
    second = nt.NtDuplicateObject(NtCurrentProcess, first, NtCurrentProcess,
                                  Options=DUPLICATE_SAME_ACCESS)
    assert event.handle_count == 2
    nt.NtClose(second)
    assert event.handle_count == 1


# --- lifetime ------------------------------------------------------------------------------


def test_closing_the_last_handle_removes_a_temporary_named_object(nt, kernel):
    first = nt.NtCreateEvent("\\BaseNamedObjects\\Temporary")
    second = nt.NtDuplicateObject(NtCurrentProcess, first, NtCurrentProcess,
                                  Options=DUPLICATE_SAME_ACCESS)
    nt.NtClose(first)
    assert isinstance(kernel.objects.lookup("\\BaseNamedObjects\\Temporary"), Event)
    nt.NtClose(second)
    assert status_of(kernel.objects.lookup, "\\BaseNamedObjects\\Temporary") == STATUS_OBJECT_NAME_NOT_FOUND


def test_a_removed_name_can_be_created_again(nt):
    nt.NtClose(nt.NtCreateEvent("\\BaseNamedObjects\\Again"))
    assert nt.NtCreateEvent("\\BaseNamedObjects\\Again") % 4 == 0


def test_a_temporary_directory_and_link_go_with_their_last_handle(nt, kernel):
    directory = nt.NtCreateDirectoryObject("\\Scratch")
    link = nt.NtCreateSymbolicLinkObject("\\??\\S:", "\\Scratch")
    nt.NtClose(link)
    nt.NtClose(directory)
    for name in ("\\Scratch", "\\??\\S:"):
        assert status_of(kernel.objects.lookup, name) == STATUS_OBJECT_NAME_NOT_FOUND


def test_permanent_objects_outlive_their_handles(nt, kernel):
    nt.NtClose(nt.NtOpenDirectoryObject("\\Device"))
    assert isinstance(kernel.objects.lookup("\\Device"), Directory)
    assert kernel.objects.lookup("\\??\\C:") is kernel.volume


def test_ending_a_process_closes_its_handles(nt, kernel, process):
    nt.NtCreateEvent("\\BaseNamedObjects\\OwnedByTheProcess")
    kernel.terminate_process(process, 0)
    assert len(process.handles) == 0
    assert status_of(kernel.objects.lookup, "\\BaseNamedObjects\\OwnedByTheProcess") \
        == STATUS_OBJECT_NAME_NOT_FOUND


def test_a_cloned_handle_table_names_the_same_objects_with_the_same_values(nt, kernel, process):
    handle = nt.NtCreateEvent("\\BaseNamedObjects\\Inherited")
    child = kernel.create_process("child.exe", parent=process)
    child.handles = process.handles.clone()
    assert child.handles.lookup(handle) is process.handles.lookup(handle)
    nt.NtClose(handle)                               # the parent's handle goes ...
    assert isinstance(kernel.objects.lookup("\\BaseNamedObjects\\Inherited"), Event)
    child.handles.remove(handle)                     # ... the object goes with the last one
    assert status_of(kernel.objects.lookup, "\\BaseNamedObjects\\Inherited") == STATUS_OBJECT_NAME_NOT_FOUND
