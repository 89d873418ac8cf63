"""The Nt* system services: the table, handle access, duplication, sections, processes,
devices, and the trace event every service call leaves."""

from __future__ import annotations

import os

import pytest

from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.io import (
    FILE_CREATE,
    FILE_OPEN,
    FILE_OPEN_REPARSE_POINT,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    FSCTL_GET_REPARSE_POINT,
    GENERIC_READ,
    GENERIC_WRITE,
    FilePositionInformation,
)
from ntsim.kernel.memory import (
    MEM_COMMIT,
    MEM_FREE,
    MEM_MAPPED,
    MEM_RESERVE,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ntsim.kernel.processes import Process, Thread, ThreadState
from ntsim.kernel.services import (
    DUPLICATE_CLOSE_SOURCE,
    DUPLICATE_SAME_ACCESS,
    PROCESS_VM_READ,
    SERVICE_TABLE,
    NtCurrentProcess,
    NtCurrentThread,
    NtServices,
)
from ntsim.kernel.status import (
    STATUS_ABANDONED_WAIT_0,
    STATUS_ACCESS_DENIED,
    STATUS_END_OF_FILE,
    STATUS_INVALID_CID,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER,
    STATUS_MUTANT_NOT_OWNED,
    STATUS_NOT_A_REPARSE_POINT,
    STATUS_NOT_SUPPORTED,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PARTIAL_COPY,
    STATUS_SEMAPHORE_LIMIT_EXCEEDED,
    STATUS_SUCCESS,
    STATUS_WAIT_0,
    NtStatusError,
)
from ntsim.trace import NT, CollectingSink

PAGE = 4096
STILL_ACTIVE = 259            # STATUS_PENDING: the exit code of a process still running


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


def c(path: str) -> str:
    return "\\??\\C:\\" + path


# --- the table -----------------------------------------------------------------------------


def test_every_nt_service_has_one_row_in_the_table():
    methods = {name for name in vars(NtServices) if name.startswith("Nt")}
    rows = [row.name for row in SERVICE_TABLE]
    assert sorted(rows) == sorted(methods)
    assert [row.number for row in SERVICE_TABLE] == list(range(len(SERVICE_TABLE)))


def test_every_row_says_what_the_service_does():
    assert all(row.summary for row in SERVICE_TABLE)


# --- handle access -------------------------------------------------------------------------


def test_a_read_only_handle_cannot_write(nt, root):
    (root / "f").write_bytes(b"keep")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    assert status_of(nt.NtWriteFile, handle, b"changed") == STATUS_ACCESS_DENIED
    assert (root / "f").read_bytes() == b"keep"


def test_a_write_only_handle_cannot_read(nt, root):
    (root / "f").write_bytes(b"private")
    handle = nt.NtCreateFile(c("f"), FILE_WRITE_DATA, FILE_OPEN)
    assert status_of(nt.NtReadFile, handle, 10) == STATUS_ACCESS_DENIED


def test_a_handle_for_attributes_only_can_neither_read_nor_write(nt, root):
    (root / "f").write_bytes(b"data")
    handle = nt.NtCreateFile(c("f"), FILE_READ_ATTRIBUTES, FILE_OPEN)
    assert status_of(nt.NtReadFile, handle, 10) == STATUS_ACCESS_DENIED
    assert status_of(nt.NtWriteFile, handle, b"x") == STATUS_ACCESS_DENIED


def test_generic_rights_grant_reading_and_writing(nt, root):
    handle = nt.NtCreateFile(c("f"), GENERIC_READ | GENERIC_WRITE, FILE_CREATE)
    nt.NtWriteFile(handle, b"generic")
    assert nt.NtReadFile(handle, 10, 0) == b"generic"


def test_the_null_device_swallows_writes_and_is_always_at_end_of_file(nt):
    handle = nt.NtCreateFile("\\Device\\Null", FILE_READ_DATA | FILE_WRITE_DATA, FILE_OPEN)
    assert nt.NtWriteFile(handle, b"gone") == 4
    assert status_of(nt.NtReadFile, handle, 10) == STATUS_END_OF_FILE


def test_nul_is_the_dos_name_of_the_null_device(nt):
    handle = nt.NtCreateFile("\\??\\NUL", FILE_WRITE_DATA, FILE_OPEN)
    assert nt.NtWriteFile(handle, b"gone") == 4


def test_a_file_open_of_something_that_is_not_a_device_fails(nt):
    assert status_of(nt.NtCreateFile, "\\BaseNamedObjects", FILE_READ_DATA, FILE_OPEN) \
        == STATUS_OBJECT_TYPE_MISMATCH


def test_the_file_position_can_be_set_and_read(nt, root):
    (root / "f").write_bytes(b"0123456789")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    nt.NtSetInformationFile(handle, FilePositionInformation, 7)
    assert nt.NtReadFile(handle, 10) == b"789"
    assert nt.NtQueryInformationFile(handle, FilePositionInformation) == 10


# --- duplication ---------------------------------------------------------------------------


def test_a_duplicate_shares_the_file_position(nt, root):
    (root / "f").write_bytes(b"abcdef")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    copy = nt.NtDuplicateObject(NtCurrentProcess, handle, NtCurrentProcess, Options=DUPLICATE_SAME_ACCESS)
    assert copy != handle
    assert nt.NtReadFile(handle, 3) == b"abc"
    assert nt.NtReadFile(copy, 3) == b"def"        # one file object, one position


def test_a_duplicate_keeps_the_access_of_the_original(nt, root):
    (root / "f").write_bytes(b"abc")
    handle = nt.NtCreateFile(c("f"), FILE_READ_DATA, FILE_OPEN)
    copy = nt.NtDuplicateObject(NtCurrentProcess, handle, NtCurrentProcess, Options=DUPLICATE_SAME_ACCESS)
    assert status_of(nt.NtWriteFile, copy, b"x") == STATUS_ACCESS_DENIED


def test_duplicate_close_source_moves_the_handle(nt):
    handle = nt.NtCreateEvent()
    moved = nt.NtDuplicateObject(NtCurrentProcess, handle, NtCurrentProcess,
                                 Options=DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)
    assert status_of(nt.NtClose, handle) == STATUS_INVALID_HANDLE
    assert nt.NtSetEvent(moved) == 0


def test_a_handle_duplicated_into_another_process_works_there(nt, kernel, process):
    other = kernel.create_process("other.exe")
    other_thread = kernel.create_thread(other)
    to_other = process.handles.insert(other)
    event = nt.NtCreateEvent()
    theirs = nt.NtDuplicateObject(NtCurrentProcess, event, to_other, Options=DUPLICATE_SAME_ACCESS)
    kernel.current_thread = other_thread
    assert nt.NtSetEvent(theirs) == 0


def test_duplicating_the_current_process_pseudo_handle_gives_a_real_handle(nt, kernel, process):
    handle = nt.NtDuplicateObject(NtCurrentProcess, NtCurrentProcess, NtCurrentProcess,
                                  Options=DUPLICATE_SAME_ACCESS)
    assert handle not in (NtCurrentProcess, NtCurrentThread)
    assert process.handles.lookup(handle, Process) is process
    thread_handle = nt.NtDuplicateObject(NtCurrentProcess, NtCurrentThread, NtCurrentProcess,
                                         Options=DUPLICATE_SAME_ACCESS)
    assert process.handles.lookup(thread_handle, Thread) is kernel.current_thread


def test_duplicating_a_closed_handle_fails(nt):
    handle = nt.NtCreateEvent()
    nt.NtClose(handle)
    assert status_of(nt.NtDuplicateObject, NtCurrentProcess, handle, NtCurrentProcess) \
        == STATUS_INVALID_HANDLE


# --- sections ------------------------------------------------------------------------------


def test_a_view_of_a_file_section_shows_the_file(nt, root, process):
    (root / "data.bin").write_bytes(b"mapped contents")
    file = nt.NtCreateFile(c("data.bin"), FILE_READ_DATA, FILE_OPEN)
    section = nt.NtCreateSection(file, 0, PAGE_READONLY)
    base, size = nt.NtMapViewOfSection(section, NtCurrentProcess, Win32Protect=PAGE_READONLY)
    assert size >= len(b"mapped contents")
    assert process.memory.read(base, 15) == b"mapped contents"
    assert process.memory.read(base + 15, 8) == bytes(8)     # the rest of the page is zero
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, base).Type == MEM_MAPPED


def test_mapping_an_empty_section_touches_no_memory(nt, process):
    section = nt.NtCreateSection(None, 64 * PAGE, PAGE_READWRITE)
    touched = process.touched_bytes
    base, size = nt.NtMapViewOfSection(section, NtCurrentProcess)
    assert size == 64 * PAGE
    assert process.touched_bytes == touched
    assert process.memory.read(base + 10 * PAGE, 4) == bytes(4)
    assert process.touched_bytes == touched          # reading is not touching
    process.memory.write(base + 10 * PAGE, b"x")
    assert process.touched_bytes == touched + PAGE


def test_unmapping_a_view_frees_its_addresses(nt, process):
    section = nt.NtCreateSection(None, PAGE, PAGE_READWRITE)
    base, _ = nt.NtMapViewOfSection(section, NtCurrentProcess)
    assert nt.NtUnmapViewOfSection(NtCurrentProcess, base) == STATUS_SUCCESS
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, base).State == MEM_FREE


# --- processes and threads -----------------------------------------------------------------


def test_process_information_names_the_process_and_its_parent(nt, kernel, process):
    child = kernel.create_process("child.exe", parent=process)
    handle = process.handles.insert(child)
    info = nt.NtQueryInformationProcess(handle)
    assert info["UniqueProcessId"] == child.pid
    assert info["InheritedFromUniqueProcessId"] == process.pid
    assert info["ExitStatus"] == STILL_ACTIVE


def test_terminating_a_process_records_its_status_and_signals_it(nt, kernel, process):
    child = kernel.create_process("child.exe")
    kernel.create_thread(child)
    handle = process.handles.insert(child)
    nt.NtTerminateProcess(handle, 42)
    assert child.exit_status == 42
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == 0
    assert nt.NtQueryInformationProcess(handle)["ExitStatus"] == 42


def test_a_process_ends_with_its_last_thread(nt, kernel):
    child = kernel.create_process("child.exe")
    threads = [kernel.create_thread(child) for _ in range(2)]
    kernel.current_thread = threads[0]
    nt.NtTerminateThread(NtCurrentThread, 1)
    assert child.alive
    kernel.current_thread = threads[1]
    nt.NtTerminateThread(NtCurrentThread, 9)
    assert not child.alive
    assert child.exit_status == 9


def test_the_performance_counter_never_goes_backwards(nt):
    readings = [nt.NtQueryPerformanceCounter() for _ in range(5)]
    assert readings == sorted(readings)


# --- devices -------------------------------------------------------------------------------


def test_a_symbolic_link_file_reports_its_target(nt, root):
    os.symlink("target.txt", root / "link")
    (root / "plain").write_bytes(b"")
    link = nt.NtCreateFile(c("link"), FILE_READ_ATTRIBUTES, FILE_OPEN, FILE_OPEN_REPARSE_POINT)
    plain = nt.NtCreateFile(c("plain"), FILE_READ_ATTRIBUTES, FILE_OPEN, FILE_OPEN_REPARSE_POINT)
    assert nt.NtDeviceIoControlFile(link, FSCTL_GET_REPARSE_POINT) == "target.txt"
    assert status_of(nt.NtDeviceIoControlFile, plain, FSCTL_GET_REPARSE_POINT) == STATUS_NOT_A_REPARSE_POINT


# --- every service call is traced ----------------------------------------------------------


def test_a_service_call_leaves_one_nt_event_with_decoded_arguments(nt, kernel, process):
    sink = kernel.tracer.attach(CollectingSink())
    handle = nt.NtCreateFile(c("traced.txt"), FILE_WRITE_DATA, FILE_CREATE)
    events = [e for e in sink.events if e.layer == NT]
    assert [e.name for e in events] == ["NtCreateFile"]
    event = events[0]
    assert event.args["ObjectName"] == c("traced.txt")
    assert "FILE_WRITE_DATA" in event.args["DesiredAccess"]
    assert event.args["FileHandle"] == handle
    assert event.result == STATUS_SUCCESS and event.error is None
    assert event.pid == process.pid


def test_a_failing_service_call_is_traced_with_its_status(nt, kernel):
    sink = kernel.tracer.attach(CollectingSink())
    status_of(nt.NtCreateFile, c("missing"), FILE_READ_DATA, FILE_OPEN)
    event = sink.events[-1]
    assert event.name == "NtCreateFile"
    assert event.error == "STATUS_OBJECT_NAME_NOT_FOUND"


def test_a_section_of_a_file_needs_a_handle_that_can_read_it(nt, root):
    (root / "data.bin").write_bytes(b"contents")
    file = nt.NtCreateFile(c("data.bin"), FILE_WRITE_DATA, FILE_OPEN)
    assert status_of(nt.NtCreateSection, file, 0, PAGE_READONLY) == STATUS_ACCESS_DENIED


# --- what servers need: other processes and threads, semaphores, mutants, named sections ------


def as_thread(kernel, thread, call, *args, **keywords):
    caller = kernel.current_thread
    kernel.current_thread = thread
    try:
        return call(*args, **keywords)
    finally:
        kernel.current_thread = caller


def parked(kernel, pending, thread=None):
    """Park a thread on a pending wait; the list gets the wait's status when it runs."""
    thread = thread or kernel.current_thread
    results = []
    kernel.dispatcher.park(thread, pending, lambda status: results.append(pending.complete(status)))
    thread.host_body = lambda t: None
    return results


def test_a_process_and_a_thread_open_by_client_id(nt, kernel, process):
    other = kernel.create_process("other.exe", architecture="x86-64")
    thread = kernel.create_thread(other)
    assert process.handles.lookup(nt.NtOpenProcess(0x1F0FFF, other.pid)) is other
    assert process.handles.lookup(nt.NtOpenThread(0x1F03FF, (other.pid, thread.tid))) is thread
    assert status_of(nt.NtOpenProcess, 0x1F0FFF, 0x7FFC) == STATUS_INVALID_CID
    assert status_of(nt.NtOpenThread, 0x1F03FF, (other.pid, 0x7FFC)) == STATUS_INVALID_CID


def test_reading_another_process_needs_a_handle_opened_for_it(nt, kernel, process):
    other = kernel.create_process("other.exe", architecture="x86-64")
    kernel.create_thread(other)
    base, _ = as_thread(kernel, other.threads[0], nt.NtAllocateVirtualMemory, NtCurrentProcess, 0,
                        PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    other.memory.write(base, b"secret")
    readable = nt.NtOpenProcess(PROCESS_VM_READ, other.pid)
    waitable = nt.NtOpenProcess(0x100000, other.pid)              # SYNCHRONIZE only
    assert nt.NtReadVirtualMemory(readable, base, 6) == b"secret"
    assert status_of(nt.NtReadVirtualMemory, waitable, base, 6) == STATUS_ACCESS_DENIED
    assert status_of(nt.NtWriteVirtualMemory, readable, base, b"x") == STATUS_ACCESS_DENIED
    assert status_of(nt.NtReadVirtualMemory, readable, 0x5000_0000, 6) == STATUS_PARTIAL_COPY


def test_a_semaphore_counts_waits_and_releases_up_to_its_maximum(nt, kernel, process):
    semaphore = nt.NtCreateSemaphore("\\BaseNamedObjects\\Slots", 1, 2)
    assert nt.NtWaitForSingleObject(semaphore) == STATUS_WAIT_0
    with pytest.raises(WaitPending) as caught:                    # the count is 0 now
        nt.NtWaitForSingleObject(semaphore)
    results = parked(kernel, caught.value)
    assert status_of(nt.NtReleaseSemaphore, semaphore, 3) == STATUS_SEMAPHORE_LIMIT_EXCEEDED
    other = kernel.create_process("other.exe")
    opened = as_thread(kernel, kernel.create_thread(other), nt.NtOpenSemaphore,
                       "\\BaseNamedObjects\\Slots")
    assert other.handles.lookup(opened) is process.handles.lookup(semaphore)
    assert nt.NtReleaseSemaphore(semaphore, 2) == 0               # the previous count
    kernel.dispatcher.run(lambda: bool(results))
    assert results == [STATUS_WAIT_0]
    assert process.handles.lookup(semaphore).count == 1           # the waiter took one


def test_a_mutant_is_owned_recursively_and_released_only_by_its_owner(nt, kernel, process):
    mutant = nt.NtCreateMutant(None, False)
    owner = kernel.current_thread
    other = kernel.create_thread(process)
    assert nt.NtWaitForSingleObject(mutant) == STATUS_WAIT_0
    assert nt.NtWaitForSingleObject(mutant) == STATUS_WAIT_0      # the owner may wait again
    with pytest.raises(WaitPending) as caught:
        as_thread(kernel, other, nt.NtWaitForSingleObject, mutant)
    results = parked(kernel, caught.value, other)
    assert status_of(as_thread, kernel, other, nt.NtReleaseMutant, mutant) == STATUS_MUTANT_NOT_OWNED
    nt.NtReleaseMutant(mutant)
    assert other.state == ThreadState.WAITING                     # still owned once
    nt.NtReleaseMutant(mutant)
    kernel.dispatcher.run(lambda: bool(results))
    assert results == [STATUS_WAIT_0]
    assert process.handles.lookup(mutant).owner is other and owner is not other


def test_a_mutant_whose_owner_ends_is_abandoned_to_the_next_waiter(nt, kernel, process):
    mutant = nt.NtCreateMutant("\\BaseNamedObjects\\Lock", True)   # owned at once
    owner = kernel.current_thread
    other = kernel.create_thread(process)
    with pytest.raises(WaitPending) as caught:
        as_thread(kernel, other, nt.NtWaitForSingleObject, mutant)
    results = parked(kernel, caught.value, other)
    kernel.terminate_thread(owner, 0)
    kernel.dispatcher.run(lambda: bool(results))
    assert results == [STATUS_ABANDONED_WAIT_0]
    assert as_thread(kernel, other, nt.NtWaitForSingleObject, mutant) == STATUS_WAIT_0


def test_a_named_section_is_shared_memory_between_processes(nt, kernel, process):
    section = nt.NtCreateSection(None, 16 * PAGE, PAGE_READWRITE,
                                 ObjectName="\\BaseNamedObjects\\SharedTable")
    base, _ = nt.NtMapViewOfSection(section, NtCurrentProcess)
    other = kernel.create_process("other.exe", architecture="x86-64")
    thread = kernel.create_thread(other)
    opened = as_thread(kernel, thread, nt.NtOpenSection, "\\BaseNamedObjects\\SharedTable")
    other_base, _ = as_thread(kernel, thread, nt.NtMapViewOfSection, opened, NtCurrentProcess)
    process.memory.write(base + 5 * PAGE, b"one page, two processes")
    assert other.memory.read(other_base + 5 * PAGE, 23) == b"one page, two processes"
    assert status_of(nt.NtCreateSection, None, PAGE, PAGE_READWRITE,
                     ObjectName="\\BaseNamedObjects\\SharedTable") == STATUS_OBJECT_NAME_COLLISION
    event = nt.NtCreateEvent("\\BaseNamedObjects\\NotASection")
    assert status_of(nt.NtOpenSection, "\\BaseNamedObjects\\NotASection") == STATUS_OBJECT_TYPE_MISMATCH
    nt.NtClose(event)
    for owner, handle, view in ((process, section, base), (other, opened, other_base)):
        as_thread(kernel, owner.threads[0], nt.NtUnmapViewOfSection, NtCurrentProcess, view)
        as_thread(kernel, owner.threads[0], nt.NtClose, handle)
    assert status_of(nt.NtOpenSection, "\\BaseNamedObjects\\SharedTable") == STATUS_OBJECT_NAME_NOT_FOUND


# A guest thread that counts in RBX forever: inc rbx; jmp back.
COUNT_FOREVER = b"\x48\xff\xc3" + b"\xeb\xfb"


@pytest.fixture
def counter(nt, kernel, process):
    """A guest thread counting in RBX, and a thread of another process to control it."""
    from tests.kernel import guest

    guest.load(nt, process, COUNT_FOREVER)
    thread = kernel.current_thread
    controller = kernel.create_thread(kernel.create_process("debugger.exe"))
    kernel.current_thread = controller
    handle = nt.NtOpenThread(0x1F03FF, (process.pid, thread.tid))
    kernel.start_thread(thread)
    return thread, controller, handle


def run_for(kernel, nanoseconds: int) -> None:
    """Let the dispatcher run threads for a while of (virtual) time."""
    done = []
    kernel.dispatcher.set_timer(nanoseconds, lambda: done.append(True))
    controller = kernel.current_thread
    kernel.dispatcher.run(lambda: bool(done))
    kernel.current_thread = controller


def test_a_suspended_thread_runs_no_instruction_until_resumed(nt, kernel, counter):
    thread, controller, handle = counter
    run_for(kernel, 1_000_000)
    counted = nt.NtGetContextThread(handle)["Rbx"]
    assert counted > 0
    assert nt.NtSuspendThread(handle) == 0
    assert nt.NtSuspendThread(handle) == 1                        # suspensions count
    run_for(kernel, 1_000_000)
    assert nt.NtGetContextThread(handle)["Rbx"] == counted
    assert thread.state == ThreadState.WAITING
    assert nt.NtResumeThread(handle) == 2
    run_for(kernel, 1_000_000)
    assert nt.NtGetContextThread(handle)["Rbx"] == counted        # still suspended once
    assert nt.NtResumeThread(handle) == 1
    run_for(kernel, 1_000_000)
    assert nt.NtGetContextThread(handle)["Rbx"] > counted


def test_a_thread_goes_on_from_the_registers_set_in_its_context(nt, kernel, counter):
    thread, controller, handle = counter
    nt.NtSuspendThread(handle)
    run_for(kernel, 1_000_000)
    context = nt.NtGetContextThread(handle)
    assert set(context) >= {"Rax", "Rbx", "Rsp", "Rip", "EFlags"}
    nt.NtSetContextThread(handle, {"Rbx": 1_000_000_000})
    assert nt.NtGetContextThread(handle)["Rbx"] == 1_000_000_000
    assert status_of(nt.NtSetContextThread, handle, {"Eip": 0}) == STATUS_INVALID_PARAMETER
    nt.NtResumeThread(handle)
    run_for(kernel, 1_000_000)
    assert nt.NtGetContextThread(handle)["Rbx"] > 1_000_000_000


def test_a_queued_apc_runs_in_the_thread_before_its_next_instruction(nt, kernel, counter):
    thread, controller, handle = counter
    ran = []

    def routine(first, second, third):
        ran.append((kernel.current_thread, first, second, third,
                    thread.process.cpu.read_register("rbx")))

    nt.NtSuspendThread(handle)
    run_for(kernel, 1_000_000)
    nt.NtSetContextThread(handle, {"Rbx": 7})
    assert nt.NtQueueApcThread(handle, routine, 1, 2, 3) == STATUS_SUCCESS
    nt.NtResumeThread(handle)
    run_for(kernel, 1_000_000)
    assert ran == [(thread, 1, 2, 3, 7)]
    # a routine in guest memory needs the personality's user APC dispatcher: none here
    assert status_of(nt.NtQueueApcThread, handle, 0x401000) == STATUS_NOT_SUPPORTED


def test_process_and_thread_rights_are_named_as_winnt_h_names_them():
    from ntsim.kernel.services import ProcessAccess, ThreadAccess
    assert ProcessAccess.decode(0x1F0FFF, None) == "PROCESS_ALL_ACCESS"
    assert ProcessAccess.decode(0x0410, None) == "PROCESS_VM_READ|PROCESS_QUERY_INFORMATION"
    assert ThreadAccess.decode(0x100008, None) == "THREAD_GET_CONTEXT|SYNCHRONIZE"
