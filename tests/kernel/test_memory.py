"""The memory manager: reserve, commit, demand-zero pages, protection, release, query,
and the reserved / committed / touched accounting a student reads."""

from __future__ import annotations

import pytest

from ntsim.kernel.memory import (
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_FREE,
    MEM_PRIVATE,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_TOP_DOWN,
    PAGE_EXECUTE_READ,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_CONFLICTING_ADDRESSES,
    STATUS_FREE_VM_NOT_AT_BASE,
    STATUS_INVALID_PAGE_PROTECTION,
    STATUS_INVALID_PARAMETER,
    STATUS_MEMORY_NOT_ALLOCATED,
    STATUS_NOT_COMMITTED,
    NtStatusError,
)

from . import guest

PAGE = 4096
GRANULARITY = 64 * 1024
DATA = 0x0200_0000          # where the tests put their data (well away from the code page)


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


def allocate(nt, base, size, kind, protect=PAGE_READWRITE):
    return nt.NtAllocateVirtualMemory(NtCurrentProcess, base, size, kind, protect)


def free(nt, base, size, kind):
    return nt.NtFreeVirtualMemory(NtCurrentProcess, base, size, kind)


def guest_reads(nt, process, address):
    """Let the guest execute `mov rax, [address]`; returns (stop reason, rax or fault)."""
    guest.load(nt, process, guest.mov_rbx(address) + guest.LOAD_RAX_FROM_RBX)
    reason = guest.run(process)
    if guest.finished(reason):
        return reason, process.cpu.read_register("rax")
    return reason, process.cpu.pending_fault


def guest_writes(nt, process, address, value):
    guest.load(nt, process, guest.mov_rbx(address) + guest.mov_rax(value) + guest.STORE_RAX_AT_RBX)
    reason = guest.run(process)
    return reason, process.cpu.pending_fault


# --- reserve -------------------------------------------------------------------------------


def test_reserving_costs_no_commit_and_touches_nothing(nt, process):
    memory = process.memory
    before = (memory.reserved_bytes, memory.committed_bytes, memory.touched_bytes)
    allocate(nt, 0, 16 * 1024 * 1024, MEM_RESERVE)
    assert memory.reserved_bytes == before[0] + 16 * 1024 * 1024
    assert (memory.committed_bytes, memory.touched_bytes) == before[1:]


def test_a_reservation_starts_on_a_64k_boundary_and_is_whole_pages(nt):
    base, size = allocate(nt, 0, 100, MEM_RESERVE)
    assert base % GRANULARITY == 0
    assert size == PAGE


def test_a_reservation_at_an_unaligned_address_covers_every_byte_asked_for(nt, process):
    asked, length = DATA + 0x1800, 0x1000           # straddles the 2nd and 3rd pages
    base, size = allocate(nt, asked, length, MEM_RESERVE | MEM_COMMIT)
    assert base == DATA                              # rounded down to the granularity
    assert base + size >= asked + length
    reason, _ = guest_writes(nt, process, asked + length - 8, 0x1122334455667788)
    assert guest.finished(reason)


def test_a_reservation_may_not_overlap_another(nt):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE)
    assert status_of(allocate, nt, DATA + PAGE, PAGE, MEM_RESERVE) == STATUS_CONFLICTING_ADDRESSES


def test_top_down_reservations_come_from_the_top_of_the_address_space(nt):
    low, _ = allocate(nt, 0, PAGE, MEM_RESERVE)
    high, _ = allocate(nt, 0, PAGE, MEM_RESERVE | MEM_TOP_DOWN)
    assert high > low
    assert high % GRANULARITY == 0


def test_an_unknown_protection_is_refused(nt):
    assert status_of(allocate, nt, 0, PAGE, MEM_RESERVE, 0x03) == STATUS_INVALID_PAGE_PROTECTION


def test_allocation_needs_reserve_or_commit(nt):
    assert status_of(allocate, nt, 0, PAGE, MEM_TOP_DOWN) == STATUS_INVALID_PARAMETER


# --- commit and demand-zero pages ----------------------------------------------------------


def test_committing_raises_commit_but_touches_nothing(nt, process):
    memory = process.memory
    allocate(nt, DATA, 64 * PAGE, MEM_RESERVE)
    touched = memory.touched_bytes
    committed = memory.committed_bytes
    allocate(nt, DATA, 64 * PAGE, MEM_COMMIT)
    assert memory.committed_bytes == committed + 64 * PAGE
    assert memory.touched_bytes == touched


def test_the_first_touch_maps_one_zero_filled_page(nt, process):
    allocate(nt, DATA, 64 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest.load(nt, process, b"")                      # the code page is touched here
    touched = process.memory.touched_bytes
    reason, value = guest_reads(nt, process, DATA + 5 * PAGE + 16)
    assert guest.finished(reason)
    assert value == 0
    assert process.memory.touched_bytes == touched + PAGE


def test_touching_the_same_page_again_costs_nothing_more(nt, process):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA, 7)
    touched = process.memory.touched_bytes
    reason, value = guest_reads(nt, process, DATA + 8)
    assert guest.finished(reason)
    assert process.memory.touched_bytes == touched


def test_a_written_value_reads_back(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA + 64, 0xDEADBEEF)
    assert guest_reads(nt, process, DATA + 64)[1] == 0xDEADBEEF
    assert process.memory.read(DATA + 64, 4) == (0xDEADBEEF).to_bytes(4, "little")


def test_a_reserved_page_that_is_not_committed_faults(nt, process):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE)
    guest.load(nt, process, b"")
    touched = process.memory.touched_bytes
    reason, fault = guest_reads(nt, process, DATA + PAGE)
    assert reason == "fault"
    assert fault.address == DATA + PAGE
    assert process.memory.touched_bytes == touched


def test_a_free_address_faults(nt, process):
    reason, fault = guest_reads(nt, process, DATA)
    assert reason == "fault"
    assert fault.kind == "read"


def test_committing_outside_any_reservation_conflicts(nt):
    assert status_of(allocate, nt, DATA, PAGE, MEM_COMMIT) == STATUS_CONFLICTING_ADDRESSES


def test_a_commit_with_no_address_reserves_as_well(nt, process):
    memory = process.memory
    committed, touched = memory.committed_bytes, memory.touched_bytes
    base, size = allocate(nt, 0, 3 * PAGE, MEM_COMMIT)
    assert base != 0 and size == 3 * PAGE
    assert memory.committed_bytes == committed + 3 * PAGE
    assert memory.touched_bytes == touched
    reason, _ = guest_writes(nt, process, base + 2 * PAGE, 1)
    assert guest.finished(reason)


def test_a_no_access_page_is_committed_but_faults(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS)
    reason, fault = guest_reads(nt, process, DATA)
    assert reason == "fault"
    assert process.memory.query(DATA).State == MEM_COMMIT


# --- protection ----------------------------------------------------------------------------


def test_writing_a_read_only_page_faults(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY)
    reason, fault = guest_writes(nt, process, DATA, 1)
    assert reason == "fault"
    assert fault.kind == "write"
    assert fault.address == DATA


def test_executing_a_data_page_faults(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    process.memory.write(DATA, guest.SYSCALL)
    guest.load(nt, process, guest.mov_rbx(DATA) + guest.JUMP_TO_RBX)
    reason = guest.run(process)
    assert reason == "fault"
    assert process.cpu.pending_fault.kind == "fetch"


def test_protect_returns_the_old_protection_and_takes_effect(nt, process):
    allocate(nt, DATA, 2 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    guest_writes(nt, process, DATA, 1)                # already touched: the change must reach it
    old = nt.NtProtectVirtualMemory(NtCurrentProcess, DATA, PAGE, PAGE_READONLY)
    assert old == PAGE_READWRITE
    reason, _ = guest_writes(nt, process, DATA, 2)
    assert reason == "fault"
    reason, _ = guest_writes(nt, process, DATA + PAGE, 2)   # the next page kept its rights
    assert guest.finished(reason)


def test_protecting_uncommitted_memory_fails_and_changes_nothing(nt, process):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE)
    allocate(nt, DATA, PAGE, MEM_COMMIT, PAGE_READWRITE)
    status = status_of(nt.NtProtectVirtualMemory, NtCurrentProcess, DATA, 2 * PAGE, PAGE_READONLY)
    assert status == STATUS_NOT_COMMITTED
    assert process.memory.query(DATA).Protect == PAGE_READWRITE
    reason, _ = guest_writes(nt, process, DATA, 3)
    assert guest.finished(reason)


# --- decommit and release ------------------------------------------------------------------


def test_decommit_gives_back_commit_and_touched_pages(nt, process):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA + PAGE, 5)
    memory = process.memory
    committed, touched, reserved = memory.committed_bytes, memory.touched_bytes, memory.reserved_bytes
    free(nt, DATA + PAGE, PAGE, MEM_DECOMMIT)
    assert memory.committed_bytes == committed - PAGE
    assert memory.touched_bytes == touched - PAGE
    assert memory.reserved_bytes == reserved
    assert guest_reads(nt, process, DATA + PAGE)[0] == "fault"


def test_recommitting_a_decommitted_page_gives_zeros_again(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA, 0x5A5A)
    free(nt, DATA, PAGE, MEM_DECOMMIT)
    allocate(nt, DATA, PAGE, MEM_COMMIT)
    assert guest_reads(nt, process, DATA) == ("requested", 0)


def test_release_frees_the_whole_reservation(nt, process):
    memory = process.memory
    guest.load(nt, process, b"")
    reserved = memory.reserved_bytes
    allocate(nt, DATA, 8 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA + 3 * PAGE, 1)
    touched = memory.touched_bytes
    free(nt, DATA, 0, MEM_RELEASE)
    assert memory.reserved_bytes == reserved
    assert memory.touched_bytes == touched - PAGE
    assert memory.query(DATA).State == MEM_FREE
    assert guest_reads(nt, process, DATA + 3 * PAGE)[0] == "fault"


def test_release_inside_an_allocation_is_refused_and_keeps_it(nt, process):
    allocate(nt, DATA, 8 * PAGE, MEM_RESERVE | MEM_COMMIT)
    assert status_of(free, nt, DATA + PAGE, 0, MEM_RELEASE) == STATUS_FREE_VM_NOT_AT_BASE
    assert process.memory.query(DATA + PAGE).State == MEM_COMMIT
    assert guest.finished(guest_writes(nt, process, DATA + PAGE, 1)[0])


def test_release_of_an_address_never_allocated_fails(nt):
    assert status_of(free, nt, DATA, 0, MEM_RELEASE) == STATUS_MEMORY_NOT_ALLOCATED


def test_free_needs_decommit_or_release(nt):
    allocate(nt, DATA, PAGE, MEM_RESERVE)
    assert status_of(free, nt, DATA, PAGE, MEM_RESERVE) == STATUS_INVALID_PARAMETER


def test_a_released_range_can_be_reserved_again(nt):
    allocate(nt, DATA, PAGE, MEM_RESERVE)
    free(nt, DATA, 0, MEM_RELEASE)
    assert allocate(nt, DATA, PAGE, MEM_RESERVE)[0] == DATA


# --- query ---------------------------------------------------------------------------------


def test_query_describes_committed_reserved_and_free_runs(nt, process):
    allocate(nt, DATA, 8 * PAGE, MEM_RESERVE, PAGE_READWRITE)
    allocate(nt, DATA + 2 * PAGE, 3 * PAGE, MEM_COMMIT, PAGE_READONLY)
    reserved = nt.NtQueryVirtualMemory(NtCurrentProcess, DATA)
    committed = nt.NtQueryVirtualMemory(NtCurrentProcess, DATA + 3 * PAGE + 100)
    tail = nt.NtQueryVirtualMemory(NtCurrentProcess, DATA + 5 * PAGE)
    assert (reserved.State, reserved.RegionSize, reserved.AllocationBase) == (MEM_RESERVE, 2 * PAGE, DATA)
    assert reserved.Type == MEM_PRIVATE
    assert (committed.BaseAddress, committed.State, committed.Protect) == (
        DATA + 3 * PAGE, MEM_COMMIT, PAGE_READONLY)
    assert committed.RegionSize == 2 * PAGE           # from the queried page to the run's end
    assert committed.AllocationProtect == PAGE_READWRITE
    assert (tail.State, tail.RegionSize) == (MEM_RESERVE, 3 * PAGE)


def test_query_of_a_free_address_reaches_the_next_allocation(nt):
    allocate(nt, DATA + GRANULARITY, PAGE, MEM_RESERVE)
    info = nt.NtQueryVirtualMemory(NtCurrentProcess, DATA)
    assert info.State == MEM_FREE
    assert info.BaseAddress + info.RegionSize == DATA + GRANULARITY


def test_query_above_user_space_is_an_invalid_parameter(nt):
    status = status_of(nt.NtQueryVirtualMemory, NtCurrentProcess, 0xFFFF_8000_0000_0000)
    assert status == STATUS_INVALID_PARAMETER


# --- the kernel's own access to guest memory -----------------------------------------------


def test_the_kernel_writing_guest_memory_touches_it(nt, process):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE | MEM_COMMIT)
    touched = process.memory.touched_bytes
    process.memory.write(DATA + PAGE, b"hello")
    assert process.memory.touched_bytes == touched + PAGE
    assert process.memory.read_cstring(DATA + PAGE) == b"hello"


def test_the_kernel_can_write_a_read_only_page_it_is_loading(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READ)
    process.memory.write(DATA, b"\x90")
    assert process.memory.read(DATA, 1) == b"\x90"


def test_the_kernel_reading_uncommitted_memory_is_an_access_violation(nt, process):
    allocate(nt, DATA, PAGE, MEM_RESERVE)
    with pytest.raises(NtStatusError):
        process.memory.read(DATA, 8)


def test_code_the_kernel_writes_over_code_already_run_is_what_runs(nt, process):
    guest.load(nt, process, guest.mov_rax(1))
    assert guest.finished(guest.run(process))
    guest.load(nt, process, guest.mov_rax(2))       # same address, new instructions
    assert guest.finished(guest.run(process))
    assert process.cpu.read_register("rax") == 2


def test_a_buffer_reused_for_new_code_runs_the_new_code(nt, process):
    """The JIT pattern: write code into a data page, make it executable, run it; make it
    writable again, put other code there, run that."""
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    results = []
    for value in (10, 20):
        nt.NtProtectVirtualMemory(NtCurrentProcess, DATA, PAGE, PAGE_READWRITE)
        process.memory.write(DATA, guest.mov_rax(value) + guest.SYSCALL)
        nt.NtProtectVirtualMemory(NtCurrentProcess, DATA, PAGE, PAGE_EXECUTE_READ)
        guest.load(nt, process, guest.mov_rbx(DATA) + guest.JUMP_TO_RBX)
        assert guest.finished(guest.run(process))
        results.append(process.cpu.read_register("rax"))
    assert results == [10, 20]


def test_a_decommit_running_past_the_reservation_fails_and_changes_nothing(nt, process):
    allocate(nt, DATA, 2 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA, 0x77)
    committed = process.memory.committed_bytes
    with pytest.raises(NtStatusError):
        free(nt, DATA, 2 * GRANULARITY, MEM_DECOMMIT)
    assert process.memory.committed_bytes == committed
    assert guest_reads(nt, process, DATA) == ("requested", 0x77)


# --- a copy of an address space (fork) -----------------------------------------------------


@pytest.fixture
def child(kernel, process):
    copy = kernel.create_process("child.exe", architecture="x86-64", parent=process)
    return copy


def test_a_cloned_address_space_has_the_parents_contents_and_accounting(nt, process, child):
    allocate(nt, DATA, 4 * PAGE, MEM_RESERVE | MEM_COMMIT)
    guest_writes(nt, process, DATA + PAGE, 0xC0FFEE)
    process.memory.clone_into(child.memory)
    for name in ("reserved_bytes", "committed_bytes", "touched_bytes"):
        assert getattr(child.memory, name) == getattr(process.memory, name)
    assert child.memory.read(DATA + PAGE, 3) == (0xC0FFEE).to_bytes(3, "little")


def test_a_clone_is_a_copy_not_a_share(nt, process, child):
    allocate(nt, DATA, PAGE, MEM_RESERVE | MEM_COMMIT)
    process.memory.write(DATA, b"parent")
    process.memory.clone_into(child.memory)
    child.memory.write(DATA, b"child!")
    assert process.memory.read(DATA, 6) == b"parent"


def test_pages_untouched_in_the_parent_stay_untouched_in_the_clone(nt, process, child):
    allocate(nt, DATA, 16 * PAGE, MEM_RESERVE | MEM_COMMIT)
    process.memory.clone_into(child.memory)
    touched = child.memory.touched_bytes
    assert child.memory.read(DATA + 9 * PAGE, 8) == bytes(8)   # a peek touches nothing
    assert child.memory.touched_bytes == touched
    child.memory.write(DATA + 9 * PAGE, b"x")
    assert child.memory.touched_bytes == touched + PAGE
    assert process.memory.touched_bytes == 0


def test_code_rewritten_in_a_clone_runs_as_rewritten(kernel, nt, process, child):
    guest.load(nt, process, guest.mov_rax(1))
    process.memory.clone_into(child.memory)
    kernel.current_thread = kernel.create_thread(child)
    child.cpu.hook_syscall(lambda uc, _data: child.cpu.request_stop())
    child.cpu.pc = guest.CODE_BASE
    assert guest.finished(guest.run(child))
    assert child.cpu.read_register("rax") == 1
    child.memory.write(guest.CODE_BASE, guest.mov_rax(2) + guest.SYSCALL)
    child.cpu.pc = guest.CODE_BASE
    assert guest.finished(guest.run(child))
    assert child.cpu.read_register("rax") == 2


def test_a_cloned_stack_still_grows_when_touched(nt, process, child):
    """A stack reserved to grow on demand (Linux's MAP_GROWSDOWN) keeps growing in a fork
    child: its untouched pages are committed by the child's first touch, not a fault."""
    nt.NtAllocateVirtualMemory(NtCurrentProcess, DATA, 16 * PAGE, MEM_RESERVE, PAGE_READWRITE,
                               pico=True, grows_down=True)
    process.memory.write(DATA + 15 * PAGE, b"top")
    process.memory.clone_into(child.memory)
    child.memory.write(DATA + 3 * PAGE, b"deeper")
    assert child.memory.read(DATA + 3 * PAGE, 6) == b"deeper"
    assert child.memory.read(DATA + 15 * PAGE, 3) == b"top"


# --- frames go back ----------------------------------------------------------------------


def test_released_memory_gives_its_frames_back(nt, process):
    """Touched pages take frames of the machine's RAM; releasing the range gives every one
    back (and its host memory), so a program that maps and unmaps does not grow ntsim."""
    physical, tables = process.memory.physical, process.memory.table.table_frames
    before, tables_before = physical.in_use, len(tables)
    base, size = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, 64 * PAGE,
                                            MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    process.memory.write(base, b"x" * (64 * PAGE))
    new_tables = len(tables) - tables_before          # page tables for the new range (kept)
    assert physical.in_use == before + 64 + new_tables
    nt.NtFreeVirtualMemory(NtCurrentProcess, base, 0, MEM_RELEASE)
    assert physical.in_use == before + new_tables


def test_a_frame_fork_shares_is_freed_only_when_both_let_go(nt, process, child):
    physical = process.memory.physical
    allocate(nt, DATA, 8 * PAGE, MEM_RESERVE | MEM_COMMIT)
    process.memory.write(DATA, b"p" * (8 * PAGE))
    process.memory.clone_into(child.memory)
    shared = physical.in_use
    child.memory.write(DATA, b"c")                   # one page copied for the child
    assert physical.in_use == shared + 1
    child.memory.release(DATA, 8 * PAGE, exact=False)
    assert physical.in_use == shared                 # its copy went; the 7 shared stay
    assert process.memory.read(DATA + 7 * PAGE, 1) == b"p"
    process.memory.release(DATA, 8 * PAGE, exact=False)
    assert physical.in_use == shared - 8


def test_frames_given_back_in_the_middle_of_an_allocation_are_neither_lost_nor_taken_twice():
    """A finalizer (a processor or segment the garbage collector found unreferenced) may
    give frames back at any moment, even while frames are being taken from the free list.
    Whatever it returns must not disturb the frames being taken."""
    from ntsim.kernel.physical import PhysicalMemory

    physical = PhysicalMemory(128 << 20)          # (the first 64 MiB are the low frames)
    own = physical.in_use                           # (its zero page)
    frames = physical.allocate_many(8)
    physical.free(frames[:4])                       # on the free list now
    late, given_back_late = frames[4:], set(frames[4:])

    class FreeListSeenByAFinalizer(list):
        def __delitem__(self, index):
            if late:       # the collector runs right here, once: frames taken, not yet removed
                physical.free([late.pop() for _ in range(len(late))])
            return super().__delitem__(index)

    physical._free = FreeListSeenByAFinalizer(physical._free)
    taken = physical.allocate_many(4)
    assert set(taken) == set(frames[:4])
    assert physical.in_use == own + 4                # the 4 taken; the 4 given back are free
    assert set(physical.allocate_many(4)) == given_back_late    # reused, not lost
