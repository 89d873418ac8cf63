"""Sections and views: a file's pages shared by every mapping of it, copy-on-write private
views, writes flushed back to the file, views shared across processes and across fork."""

from __future__ import annotations

import pytest

from ntsim.kernel.cpu import PAGE_WRITECOPY
from ntsim.kernel.io import FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.memory import (
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_MAPPED,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_RESET,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_MAPPED_FILE_SIZE_ZERO,
    STATUS_NOT_MAPPED_DATA,
    STATUS_NOT_MAPPED_VIEW,
    STATUS_SECTION_PROTECTION,
    STATUS_SECTION_TOO_BIG,
    STATUS_UNABLE_TO_DELETE_SECTION,
    NtStatusError,
)

from . import guest

PAGE = 4096
VIEW = 0x0300_0000          # where tests map views (64 KiB aligned)
CONTENTS = bytes(range(256)) * 40 + b"tail"          # 10244 bytes: three pages, the last partial


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


def c(name: str) -> str:
    return f"\\??\\C:\\{name}"


@pytest.fixture
def data_file(root):
    (root / "data.bin").write_bytes(CONTENTS)
    return root / "data.bin"


def open_file(nt, write=False):
    return nt.NtCreateFile(c("data.bin"), FILE_READ_DATA | (FILE_WRITE_DATA if write else 0), FILE_OPEN)


def map_file(nt, protect, section_protect=None, write=False, base=0, **keywords):
    handle = open_file(nt, write)
    section = nt.NtCreateSection(handle, 0, section_protect or protect)
    nt.NtClose(handle)
    view, size = nt.NtMapViewOfSection(section, NtCurrentProcess, base, 0, 0, protect, **keywords)
    nt.NtClose(section)        # the view keeps the section (and the file) alive
    return view, size


def guest_writes(nt, process, address, value):
    guest.load(nt, process, guest.mov_rbx(address) + guest.mov_rax(value) + guest.STORE_RAX_AT_RBX)
    return guest.run(process)


def guest_reads(nt, process, address):
    guest.load(nt, process, guest.mov_rbx(address) + guest.LOAD_RAX_FROM_RBX)
    reason = guest.run(process)
    return process.cpu.read_register("rax") if guest.finished(reason) else None


@pytest.fixture
def other(kernel, process):
    """A second process, to map the same file."""
    return kernel.create_process("other.exe", architecture="x86-64")


def in_process(kernel, process, call):
    """Run `call()` with a thread of `process` current, as its own service calls run."""
    saved = kernel.current_thread
    kernel.current_thread = process.threads[0] if process.threads else kernel.create_thread(process)
    try:
        return call()
    finally:
        kernel.current_thread = saved


# --- a view shows the file, lazily --------------------------------------------------------


def test_a_view_reads_nothing_until_a_page_is_touched(nt, process, data_file):
    touched = process.memory.touched_bytes
    view, size = map_file(nt, PAGE_READONLY)
    assert size == 3 * PAGE
    assert process.memory.touched_bytes == touched
    assert process.memory.read(view + PAGE, 16) == CONTENTS[PAGE:PAGE + 16]
    assert process.memory.touched_bytes == touched      # the kernel's peek is not a touch
    process.memory.touch(view + PAGE, 1)
    assert process.memory.touched_bytes == touched + PAGE
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, view).Type == MEM_MAPPED


def test_the_last_page_past_the_end_of_the_file_reads_zero(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READONLY)
    end = len(CONTENTS)
    assert process.memory.read(view + end - 4, 4) == b"tail"
    assert process.memory.read(view + end, 3 * PAGE - end) == bytes(3 * PAGE - end)


def test_the_guest_reads_the_file_through_a_view(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READONLY)
    value = guest_reads(nt, process, view + 2 * PAGE + 8)
    assert value == int.from_bytes(CONTENTS[2 * PAGE + 8:2 * PAGE + 16], "little")


def test_writing_a_read_only_view_faults(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READONLY)
    assert guest_writes(nt, process, view, 1) == "fault"


# --- private views: copy on write ---------------------------------------------------------


def test_a_written_page_of_a_private_view_becomes_the_writers_own(nt, process, data_file):
    view, _ = map_file(nt, PAGE_WRITECOPY)
    assert guest_reads(nt, process, view) == int.from_bytes(CONTENTS[:8], "little")  # shared now
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, view).Protect == PAGE_WRITECOPY
    assert guest.finished(guest_writes(nt, process, view, 0x4142434445464748))
    assert process.memory.read(view, 8) == (0x4142434445464748).to_bytes(8, "little")
    # the copy is PAGE_READWRITE now, as NT reports a copied page; the next page is not
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, view).Protect == PAGE_READWRITE
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, view + PAGE).Protect == PAGE_WRITECOPY


def test_a_write_across_two_shared_pages_copies_both(nt, process, data_file):
    view, _ = map_file(nt, PAGE_WRITECOPY)
    process.memory.read(view, 2 * PAGE)                      # both pages shared with the file
    assert guest.finished(guest_writes(nt, process, view + PAGE - 4, 0x0807060504030201))
    assert process.memory.read(view + PAGE - 4, 8) == bytes(range(1, 9))
    for page in (view, view + PAGE):
        assert nt.NtQueryVirtualMemory(NtCurrentProcess, page).Protect == PAGE_READWRITE
    nt.NtUnmapViewOfSection(NtCurrentProcess, view)
    assert data_file.read_bytes() == CONTENTS


def test_a_private_views_writes_never_reach_the_file(nt, process, data_file):
    view, _ = map_file(nt, PAGE_WRITECOPY)
    guest_writes(nt, process, view + 16, 0xFFFF_FFFF_FFFF_FFFF)
    process.memory.write(view + PAGE, b"kernel wrote this")     # read(2) into the view, say
    nt.NtUnmapViewOfSection(NtCurrentProcess, view)
    assert data_file.read_bytes() == CONTENTS


def test_a_private_view_does_not_see_another_processes_private_writes(kernel, nt, process, other,
                                                                      data_file):
    mine, _ = map_file(nt, PAGE_WRITECOPY)
    theirs, _ = in_process(kernel, other, lambda: map_file(nt, PAGE_WRITECOPY))
    process.memory.read(mine, 8)                     # both share the file's page ...
    other.memory.write(theirs, b"private!")          # ... until the other one writes it
    assert process.memory.read(mine, 8) == CONTENTS[:8]
    assert other.memory.read(theirs, 8) == b"private!"


def test_a_reset_private_page_shows_the_file_again(nt, process, data_file):
    view, _ = map_file(nt, PAGE_WRITECOPY)
    process.memory.write(view, b"scribble")
    nt.NtAllocateVirtualMemory(NtCurrentProcess, view, PAGE, MEM_RESET, PAGE_READWRITE)
    assert process.memory.read(view, 8) == CONTENTS[:8]
    assert nt.NtQueryVirtualMemory(NtCurrentProcess, view).Protect == PAGE_WRITECOPY


# --- shared views: one set of pages, flushed to the file ---------------------------------


def test_two_processes_mapping_one_file_share_its_pages(kernel, nt, process, other, data_file):
    mine, _ = map_file(nt, PAGE_READWRITE, write=True)
    theirs, _ = in_process(kernel, other, lambda: map_file(nt, PAGE_READONLY))
    assert guest.finished(guest_writes(nt, process, mine + PAGE, 0x1122334455667788))
    assert other.memory.read(theirs + PAGE, 8) == (0x1122334455667788).to_bytes(8, "little")


def test_a_flush_writes_the_changed_pages_to_the_file(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READWRITE, write=True)
    process.memory.write(view + 2 * PAGE, b"TAIL")
    assert data_file.read_bytes() == CONTENTS              # not yet
    nt.NtFlushVirtualMemory(NtCurrentProcess, view, 3 * PAGE)
    expected = CONTENTS[:2 * PAGE] + b"TAIL" + CONTENTS[2 * PAGE + 4:]
    assert data_file.read_bytes() == expected              # and never longer than the file


def test_read_and_write_go_through_the_pages_views_map(nt, process, data_file):
    """The cache manager's promise: NtReadFile and NtWriteFile agree with every view of
    the file at once, with no flush in between, in both directions."""
    view, _ = map_file(nt, PAGE_READWRITE, write=True)
    private, _ = map_file(nt, PAGE_WRITECOPY)
    assert process.memory.read(view + PAGE - 2, 4) == CONTENTS[PAGE - 2:PAGE + 2]   # pages in
    assert process.memory.read(private + PAGE - 2, 4) == CONTENTS[PAGE - 2:PAGE + 2]
    handle = open_file(nt, write=True)
    nt.NtWriteFile(handle, b"WXYZ", PAGE - 2)                 # across the page boundary
    assert process.memory.read(view + PAGE - 2, 4) == b"WXYZ"
    assert process.memory.read(private + PAGE - 2, 4) == b"WXYZ"   # it never wrote there
    process.memory.write(view + 2 * PAGE, b"view")
    assert nt.NtReadFile(handle, 6, 2 * PAGE - 1) == CONTENTS[2 * PAGE - 1:2 * PAGE] + b"view" + CONTENTS[2 * PAGE + 4:2 * PAGE + 5]
    nt.NtClose(handle)
    nt.NtUnmapViewOfSection(NtCurrentProcess, view)
    expected = CONTENTS[:PAGE - 2] + b"WXYZ" + CONTENTS[PAGE + 2:2 * PAGE] + b"view" + CONTENTS[2 * PAGE + 4:]
    assert data_file.read_bytes() == expected        # written back once, nothing lost


def test_unmapping_a_shared_view_writes_it_back(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READWRITE, write=True)
    assert guest.finished(guest_writes(nt, process, view, 0x2A2A2A2A2A2A2A2A))
    nt.NtUnmapViewOfSection(NtCurrentProcess, view + 5)    # any address inside the view
    assert data_file.read_bytes()[:8] == b"*" * 8


def test_a_process_that_ends_writes_its_views_back(kernel, nt, process, data_file):
    view, _ = map_file(nt, PAGE_READWRITE, write=True)
    process.memory.write(view + PAGE + 1, b"exit")
    kernel.terminate_process(process, 0)
    assert data_file.read_bytes()[PAGE + 1:PAGE + 5] == b"exit"


def test_unmapping_part_of_a_view_keeps_the_rest_mapped(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READWRITE, write=True)
    process.memory.write(view, b"first")
    nt.NtFreeVirtualMemory(NtCurrentProcess, view, PAGE, MEM_RELEASE, pico=True)
    assert data_file.read_bytes()[:5] == b"first"          # the part that went was flushed
    process.memory.write(view + PAGE, b"second")
    assert process.memory.read(view + 2 * PAGE, 4) == CONTENTS[2 * PAGE:2 * PAGE + 4]
    nt.NtUnmapViewOfSection(NtCurrentProcess, view + PAGE)
    assert data_file.read_bytes()[PAGE:PAGE + 6] == b"second"


def test_a_fork_shares_shared_views_and_copies_private_pages(kernel, nt, process, data_file):
    shared, _ = map_file(nt, PAGE_READWRITE, write=True)
    private, _ = map_file(nt, PAGE_WRITECOPY, base=VIEW)
    process.memory.read(shared, 8)
    process.memory.write(private, b"parent's")
    child = kernel.create_process("child.exe", architecture="x86-64", parent=process)
    process.memory.clone_into(child.memory)
    child.memory.write(shared + 8, b"to both!")
    child.memory.write(private, b"child's!")
    assert process.memory.read(shared + 8, 8) == b"to both!"
    assert process.memory.read(private, 8) == b"parent's"


# --- what NT refuses ----------------------------------------------------------------------


def test_a_writable_section_needs_a_handle_that_may_write(nt, data_file):
    handle = open_file(nt)
    assert status_of(nt.NtCreateSection, handle, 0, PAGE_READWRITE) == STATUS_ACCESS_DENIED


def test_a_read_only_section_cannot_be_bigger_than_its_file(nt, data_file):
    handle = open_file(nt)
    assert status_of(nt.NtCreateSection, handle, 4 * PAGE, PAGE_READONLY) == STATUS_SECTION_TOO_BIG


def test_an_empty_file_makes_no_section(nt, root):
    (root / "data.bin").write_bytes(b"")
    handle = open_file(nt)
    assert status_of(nt.NtCreateSection, handle, 0, PAGE_READONLY) == STATUS_MAPPED_FILE_SIZE_ZERO


def test_a_view_of_a_read_only_section_cannot_be_made_writable(nt, process, data_file):
    view, _ = map_file(nt, PAGE_READONLY)
    assert status_of(nt.NtProtectVirtualMemory, NtCurrentProcess, view, PAGE, PAGE_READWRITE) \
        == STATUS_SECTION_PROTECTION
    # copy-on-write is allowed, and a write then makes a private copy
    nt.NtProtectVirtualMemory(NtCurrentProcess, view, PAGE, PAGE_WRITECOPY)
    assert guest.finished(guest_writes(nt, process, view, 7))


def test_a_views_pages_cannot_be_decommitted_one_by_one(nt, data_file):
    view, _ = map_file(nt, PAGE_READONLY)
    assert status_of(nt.NtFreeVirtualMemory, NtCurrentProcess, view, PAGE, MEM_DECOMMIT) \
        == STATUS_UNABLE_TO_DELETE_SECTION


def test_flushing_private_memory_or_unmapping_a_non_view_fails(nt):
    base, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, VIEW, PAGE, MEM_RESERVE | MEM_COMMIT,
                                         PAGE_READWRITE)
    assert status_of(nt.NtFlushVirtualMemory, NtCurrentProcess, base, PAGE) == STATUS_NOT_MAPPED_DATA
    assert status_of(nt.NtUnmapViewOfSection, NtCurrentProcess, base) == STATUS_NOT_MAPPED_VIEW


def test_a_pagefile_section_is_shared_memory_between_processes(kernel, nt, process, other):
    section = nt.NtCreateSection(None, 2 * PAGE, PAGE_READWRITE)
    mine, _ = nt.NtMapViewOfSection(section, NtCurrentProcess)
    target = process.handles.insert(other)
    theirs, _ = nt.NtMapViewOfSection(section, target)
    process.memory.write(mine + PAGE, b"hello, other")
    assert other.memory.read(theirs + PAGE, 12) == b"hello, other"
    assert other.memory.committed_bytes >= 2 * PAGE and other.memory.touched_bytes == 0
    nt.NtClose(section)
