"""The memory manager: virtual address descriptors, reserve / commit, demand-zero pages.

NT splits allocation in two steps. *Reserving* claims a range of addresses (in 64 KiB
units) and costs no memory. *Committing* promises backing store for pages of a reserved
range, and is what counts against the commit limit. A committed page gets physical
memory only when it is first *touched*: the access faults, and the memory manager maps a
zero-filled page (a demand-zero fault). The three numbers — reserved, committed,
touched — are what let a student measure "a subsystem costs a few MB, a VM reserves
gigabytes".

Each region is a VAD (virtual address descriptor). A page gets a frame of the machine's
RAM (physical.py) and an entry in the process's page tables (pagetable.py) only when it is
first touched: the processor walks the tables by itself, finds no entry, and raises a page
fault, which comes here (`_page_fault`). The same fault resolves copy-on-write: a private
view's page written for the first time, or a page that fork left shared by parent and
child (NT's clone descriptors), whose entries are read-only until one of them writes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from .cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE_WRITECOPY,
    PAGE_GUARD,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_WRITECOPY,
    Cpu,
    Fault,
)
from .pagetable import PageTable
from .status import (
    STATUS_ACCESS_VIOLATION,
    STATUS_CONFLICTING_ADDRESSES,
    STATUS_FREE_VM_NOT_AT_BASE,
    STATUS_INVALID_ADDRESS,
    STATUS_INVALID_PAGE_PROTECTION,
    STATUS_INVALID_PARAMETER,
    STATUS_MEMORY_NOT_ALLOCATED,
    STATUS_NO_MEMORY,
    STATUS_NOT_COMMITTED,
    STATUS_NOT_MAPPED_DATA,
    STATUS_PROCESS_IS_TERMINATING,
    STATUS_SECTION_PROTECTION,
    STATUS_UNABLE_TO_DELETE_SECTION,
    STATUS_UNABLE_TO_FREE_VM,
    NtStatusError,
)

PAGE_SIZE = 0x1000
ALLOCATION_GRANULARITY = 0x10000
# The most VADs one address space may have: Linux's vm.max_map_count (ENOMEM past it),
# which keeps a guest that maps page after page from growing ntsim without end.
MAX_REGIONS = 65530
FAULT_AROUND_PAGES = 16       # a demand-zero fault maps up to this aligned cluster (64 KiB)

MEM_COMMIT, MEM_RESERVE, MEM_DECOMMIT, MEM_RELEASE = 0x1000, 0x2000, 0x4000, 0x8000
MEM_FREE, MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE = 0x10000, 0x20000, 0x40000, 0x1000000
MEM_TOP_DOWN = 0x100000
MEM_RESET = 0x80000            # the contents of these pages are not wanted any more

VALID_PROTECTIONS = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}
EXECUTABLE = 0x10 | 0x20 | 0x40 | 0x80     # PAGE_EXECUTE and its READ/READWRITE/WRITECOPY forms
WRITABLE = PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY
# A copy-on-write page and the page it becomes once copied (until then its page-table
# entry is read-only: pagetable.entry_bits).
COPIED = {PAGE_WRITECOPY: PAGE_READWRITE, PAGE_EXECUTE_WRITECOPY: PAGE_EXECUTE_READWRITE}
COPY_ON_WRITE = {PAGE_READWRITE: PAGE_WRITECOPY, PAGE_EXECUTE_READWRITE: PAGE_EXECUTE_WRITECOPY}


def page_floor(address: int) -> int:
    return address & ~(PAGE_SIZE - 1)


def page_ceil(address: int) -> int:
    return (address + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class PageRuns:
    """Which pages of a region are committed, and with what protection: a dict of page
    address -> PAGE_* kept as sorted runs of pages with the same protection. A mapping
    of a terabyte committed in one call is one run, not 268 million entries: host memory
    follows what the guest touches, never what it reserves or commits (the per-page
    work is left to the pages that get frames, `Vad.mapped`)."""

    __slots__ = ("_starts", "_ends", "_values", "_pages")

    def __init__(self, items=None) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._values: list[int] = []
        self._pages = 0
        if items:
            for page, value in (items.items() if hasattr(items, "items") else items):
                self[page] = value

    # --- the dict operations the memory manager uses -------------------------------------

    def _run(self, page: int) -> int:
        index = bisect.bisect_right(self._starts, page) - 1
        return index if index >= 0 and page < self._ends[index] else -1

    def get(self, page: int, default=None):
        index = self._run(page)
        return self._values[index] if index >= 0 else default

    def __contains__(self, page: int) -> bool:
        return self._run(page) >= 0

    def __getitem__(self, page: int) -> int:
        index = self._run(page)
        if index < 0:
            raise KeyError(page)
        return self._values[index]

    def __setitem__(self, page: int, value: int) -> None:
        self.set_range(page, page + PAGE_SIZE, value)

    def pop(self, page: int, default=None):
        value = self.get(page, default)
        self.clear_range(page, page + PAGE_SIZE)
        return value

    def __len__(self) -> int:
        return self._pages

    def __bool__(self) -> bool:
        return self._pages > 0

    def __iter__(self):
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end, PAGE_SIZE)

    def keys(self):
        return iter(self)

    def items(self):
        for start, end, value in self.runs():
            for page in range(start, end, PAGE_SIZE):
                yield page, value

    def runs(self):
        """(first page, end, protection) for each run, in address order."""
        return zip(self._starts, self._ends, self._values, strict=True)

    def copy(self) -> PageRuns:
        other = PageRuns()
        other._starts, other._ends, other._values = list(self._starts), list(self._ends), list(self._values)
        other._pages = self._pages
        return other

    def __eq__(self, other) -> bool:
        return dict(self.items()) == dict(other.items() if hasattr(other, "items") else other)

    def __repr__(self) -> str:
        return "PageRuns(" + ", ".join(f"{a:#x}-{b:#x}:{v:#x}" for a, b, v in self.runs()) + ")"

    # --- ranges -----------------------------------------------------------------------------

    def clear_range(self, start: int, end: int) -> None:
        """Forget [start, end): runs across its edges are cut."""
        if start >= end:
            return
        first = bisect.bisect_right(self._starts, start) - 1
        first = max(first, 0)
        index = first
        keep_starts, keep_ends, keep_values = [], [], []
        while index < len(self._starts) and self._starts[index] < end:
            run_start, run_end, value = self._starts[index], self._ends[index], self._values[index]
            if run_end <= start:
                keep_starts.append(run_start)
                keep_ends.append(run_end)
                keep_values.append(value)
                index += 1
                continue
            self._pages -= (min(run_end, end) - max(run_start, start)) // PAGE_SIZE
            if run_start < start:
                keep_starts.append(run_start)
                keep_ends.append(start)
                keep_values.append(value)
            if run_end > end:
                keep_starts.append(end)
                keep_ends.append(run_end)
                keep_values.append(value)
            index += 1
        self._starts[first:index] = keep_starts
        self._ends[first:index] = keep_ends
        self._values[first:index] = keep_values

    def set_range(self, start: int, end: int, value: int) -> None:
        """Every page of [start, end) gets `value` (runs of one value are merged)."""
        if start >= end:
            return
        self.clear_range(start, end)
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        self._values.insert(index, value)
        self._pages += (end - start) // PAGE_SIZE
        # merge with the neighbours when they touch and agree
        if index + 1 < len(self._starts) and self._starts[index + 1] == end \
                and self._values[index + 1] == value:
            self._ends[index] = self._ends[index + 1]
            del self._starts[index + 1], self._ends[index + 1], self._values[index + 1]
        if index > 0 and self._ends[index - 1] == start and self._values[index - 1] == value:
            self._ends[index - 1] = self._ends[index]
            del self._starts[index], self._ends[index], self._values[index]

    def slice(self, start: int, end: int, delta: int = 0) -> PageRuns:
        """The runs within [start, end), moved by `delta`."""
        other = PageRuns()
        for run_start, run_end, value in self.runs():
            low, high = max(run_start, start), min(run_end, end)
            if low < high:
                other._starts.append(low + delta)
                other._ends.append(high + delta)
                other._values.append(value)
                other._pages += (high - low) // PAGE_SIZE
        return other

    def run_at(self, page: int) -> tuple[int, int, int] | None:
        """(first page, end, protection) of the run holding `page`, or None."""
        index = self._run(page)
        return None if index < 0 else (self._starts[index], self._ends[index], self._values[index])


class PageSet(PageRuns):
    """A set of page addresses kept as runs (the pages ever executable: a terabyte of
    PROT_EXEC is one run)."""

    def add(self, page: int) -> None:
        if page not in self:
            self.set_range(page, page + PAGE_SIZE, 1)

    def update(self, pages) -> None:
        if isinstance(pages, PageRuns):
            for start, end, _ in pages.runs():
                self.set_range(start, end, 1)
        elif isinstance(pages, range) and pages.step == PAGE_SIZE:
            if len(pages):
                self.set_range(pages.start, pages[-1] + PAGE_SIZE, 1)
        else:
            for page in pages:
                self.add(page)


def _mapped_within(vad, start: int, end: int) -> list[int]:
    """The pages of [start, end) that have frames, in order (walks the smaller side)."""
    mapped = vad.mapped
    if len(mapped) < (end - start) // PAGE_SIZE:
        return sorted(page for page in mapped if start <= page < end)
    return [page for page in range(start, end, PAGE_SIZE) if page in mapped]


def _any_within(pages: set[int], start: int, end: int) -> bool:
    """Does the set hold a page of [start, end)? (whichever is smaller is walked)"""
    if not pages:
        return False
    if len(pages) < (end - start) // PAGE_SIZE:
        return any(start <= page < end for page in pages)
    return any(page in pages for page in range(start, end, PAGE_SIZE))


@dataclass
class Vad:
    """A virtual address descriptor: one reserved range and the state of its pages."""

    base: int
    size: int
    protect: int                      # protection given at reservation
    kind: int = MEM_PRIVATE           # MEM_PRIVATE, MEM_MAPPED or MEM_IMAGE
    tag: str = ""                     # what it holds, for people: "stack", "heap", "image"
    committed: PageRuns = field(default_factory=PageRuns)   # page address -> PAGE_*
    mapped: set[int] = field(default_factory=set)              # pages given real memory
    # A view of a section (kind MEM_MAPPED): its pages are the section's pages.
    section: Any = None               # the Section object (one reference per VAD)
    segment: Any = None               # the section's pages; outlives the reference
    offset: int = 0                   # the section offset of `base`
    copy_on_write: bool = False       # a private view: a page written becomes the writer's own
    # A Linux stack (MAP_GROWSDOWN): a touch anywhere in the reservation commits that
    # page, so "committed" grows with the stack instead of counting all 8 MiB at once.
    grows_down: bool = False
    shared: set[int] = field(default_factory=set)              # mapped pages that ARE the section's

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass
class MemoryInformation:
    """MEMORY_BASIC_INFORMATION, as NtQueryVirtualMemory returns it."""

    BaseAddress: int
    AllocationBase: int
    AllocationProtect: int
    RegionSize: int
    State: int
    Protect: int
    Type: int


class AddressSpace:
    """One process's user address space, on top of its CPU's unicorn memory."""

    def __init__(self, cpu: Cpu, lowest: int = 0x10000, highest: int = 0x7FFF_FFFE_FFFF) -> None:
        self.cpu = cpu
        self.lowest, self.highest = lowest, highest
        self.vads: list[Vad] = []          # sorted by base
        self._bases: list[int] = []
        self.code_pages = PageSet()        # pages ever executable: the processor may hold code
        self.shared_pages: set[int] = set()   # pages mapped onto a section's pages, in any view
        self.table: PageTable = cpu.page_table
        self.physical = cpu.physical
        self.tracer: Any = None           # the kernel's: page faults are detail events
        cpu.on_page_fault = self._page_fault

    def detach_processor(self) -> None:
        """The processor went to another process (Kernel.recycle_processor): this
        address space keeps its accounting, and reads and writes of it fail."""
        self._shared_when_detached = self.shared_bytes
        self._touched_when_detached = self.touched_bytes
        self.cpu = self.table = _Released()

    # --- accounting -------------------------------------------------------------------------

    @property
    def reserved_bytes(self) -> int:
        return sum(v.size for v in self.vads)

    @property
    def committed_bytes(self) -> int:
        return sum(len(v.committed) for v in self.vads) * PAGE_SIZE

    _touched_when_detached = 0

    @property
    def touched_bytes(self) -> int:
        """Bytes the guest (or the kernel on its behalf) has touched: the pages whose
        page-table entry the processor marked accessed. (Pages mapped ahead of use by a
        fault-around have frames, `Vad.mapped`, but count only once touched.)"""
        if isinstance(self.table, _Released):
            return self._touched_when_detached
        return sum(self.touched_pages(vad) for vad in self.vads) * PAGE_SIZE

    def touched_pages(self, vad: Vad) -> int:
        if self.table is None:
            # no page table (a real-mode VM's RAM): its processor maps it whole, at once
            return len(vad.committed)
        accessed = self.table.accessed
        return sum(1 for page in vad.mapped if accessed(page))

    _shared_when_detached = 0

    @property
    def shared_bytes(self) -> int:
        """Of the touched bytes, those whose frames other page tables may map too: a
        section's pages (a file's, or shared memory), and private pages a fork left
        shared until someone writes them. The rest is this process's alone."""
        if isinstance(self.table, _Released):
            return self._shared_when_detached
        if self.table is None:
            return 0                      # a real-mode VM's RAM is its own
        frames, is_shared = self.table.frames, self.physical.is_shared
        pages = 0
        for vad in self.vads:
            pages += len(vad.shared)
            pages += sum(1 for page in vad.mapped if page not in vad.shared and is_shared(frames[page]))
        return pages * PAGE_SIZE

    # --- lookup -----------------------------------------------------------------------------

    _last_found: Vad | None = None

    def find(self, address: int) -> Vad | None:
        vad = self._last_found        # faults come in runs on one region: ask it first
        if vad is not None and vad.base <= address < vad.base + vad.size:
            return vad
        index = bisect.bisect_right(self._bases, address) - 1
        if index >= 0:
            vad = self.vads[index]
            if vad.base <= address < vad.end:
                self._last_found = vad
                return vad
        return None

    def is_free(self, base: int, size: int) -> bool:
        index = bisect.bisect_left(self._bases, base + size)
        return not any(v.end > base for v in self.vads[max(0, index - 1):index])

    _holes: list[tuple[int, int]] | None = None
    _holes_for: tuple[int, int] | None = None

    def _free_ranges(self) -> list[tuple[int, int]]:
        """The holes between the VADs, as (start, end): kept between calls and split as
        ranges are reserved (a process mapping page after page has few holes but many
        VADs: walking every VAD for every mmap made 65,530 mappings take minutes), made
        again after a release."""
        if self._holes is None or self._holes_for != (self.lowest, self.highest):
            holes = []
            cursor = self.lowest
            for vad in self.vads:
                if vad.base > cursor:
                    holes.append((cursor, vad.base))
                cursor = max(cursor, vad.end)
            if cursor <= self.highest:
                holes.append((cursor, self.highest + 1))
            self._holes, self._holes_for = holes, (self.lowest, self.highest)
        return self._holes

    def _reserved_from_holes(self, base: int, end: int) -> None:
        holes = self._holes
        if holes is None:
            return
        index = bisect.bisect_right(holes, (base, 1 << 64)) - 1
        if index < 0 or not holes[index][0] <= base < holes[index][1] or end > holes[index][1]:
            self._holes = None              # not one hole: made again when next asked
            return
        start, stop = holes[index]
        holes[index:index + 1] = [piece for piece in ((start, base), (end, stop)) if piece[0] < piece[1]]

    def find_free(self, size: int, top_down: bool = False,
                  alignment: int = ALLOCATION_GRANULARITY, below: int | None = None) -> int:
        """First (or last) hole that fits `size`, aligned like NT's allocator."""
        highest = min(self.highest, below) if below else self.highest
        holes = [(start, min(end, highest + 1)) for start, end in self._free_ranges() if start <= highest]
        for start, end in (reversed(holes) if top_down else holes):
            end = min(end, highest + 1)
            if top_down:
                base = (end - size) & ~(alignment - 1)
                if base >= start and base >= self.lowest:
                    return base
            else:
                base = (start + alignment - 1) & ~(alignment - 1)
                if base + size <= end:
                    return base
        raise NtStatusError(STATUS_NO_MEMORY, f"no free range of {size:#x} bytes")

    # --- reserve / commit / decommit / release -----------------------------------------------

    def reserve(self, base: int | None, size: int, protect: int, *, kind: int = MEM_PRIVATE,
                tag: str = "", top_down: bool = False,
                alignment: int = ALLOCATION_GRANULARITY, below: int | None = None) -> Vad:
        _check_protection(protect)
        if size <= 0:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "size is zero")
        if base is None or base == 0:
            size = page_ceil(size)
            base = self.find_free(size, top_down, alignment, below)
        else:
            # NT rounds the start down to the granularity but keeps the end the caller
            # asked for: the range covers every byte of [base, base + size). Rounding
            # the base alone would shift the range down and leave its tail unreserved.
            end = page_ceil(base + size)
            base = base & ~(alignment - 1)
            size = end - base
            if base < self.lowest or base + size - 1 > self.highest:
                raise NtStatusError(STATUS_INVALID_PARAMETER, f"{base:#x} is outside user space")
            if not self.is_free(base, size):
                raise NtStatusError(STATUS_CONFLICTING_ADDRESSES,
                                    f"{base:#x}+{size:#x} overlaps an allocation")
        if len(self.vads) >= MAX_REGIONS:
            raise NtStatusError(STATUS_NO_MEMORY, f"{len(self.vads):,} regions: the most one "
                                                  "address space may have")
        vad = Vad(base, size, protect, kind, tag)
        index = bisect.bisect_left(self._bases, base)
        self.vads.insert(index, vad)
        self._bases.insert(index, base)
        self._reserved_from_holes(base, base + size)
        return vad

    def commit(self, base: int, size: int, protect: int) -> tuple[int, int]:
        """Commit pages of reserved ranges; returns the page-aligned (base, size)."""
        _check_protection(protect)
        start, end = page_floor(base), page_ceil(base + size)
        pages = range(start, end, PAGE_SIZE)
        vad = self.find(start)
        if vad is not None and vad.segment is None and end <= vad.end \
                and not _any_within(vad.mapped, start, end):
            # the common case, a fresh range of private memory (mmap, a heap growing):
            # nothing to check or to tell the processor, page by page
            vad.committed.set_range(start, end, protect)
            if protect & EXECUTABLE:
                self.code_pages.update(pages)
            return start, end - start
        if end - start > self.highest + 1:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"{size:#x} bytes is more than user space")
        # Committing outside a reservation is STATUS_CONFLICTING_ADDRESSES in NT
        # (VirtualAlloc's ERROR_INVALID_ADDRESS), not "not allocated".
        vads = [self._vad_for_page(page, STATUS_CONFLICTING_ADDRESSES) for page in pages]
        for page, vad in zip(pages, vads, strict=True):
            if vad.segment is not None:
                self._view_protection(vad, page, protect)   # only checks: views stay committed
        for page, vad in zip(pages, vads, strict=True):
            self._set_protection(vad, page, protect)
        if protect & EXECUTABLE:
            self.code_pages.update(pages)
        return start, end - start

    def decommit(self, base: int, size: int) -> tuple[int, int]:
        start, end = page_floor(base), page_ceil(base + size)
        # Find every page's reservation first: a range running past the reservation
        # fails as a whole, without decommitting its first pages.
        parts = self._covering(start, end)
        for vad, low, _high in parts:
            if vad.segment is not None:
                # a view's pages are the section's: they go with the view, not one by one
                raise NtStatusError(STATUS_UNABLE_TO_DELETE_SECTION, f"{low:#x} is in a mapped view")
        freed: list[int] = []
        for vad, low, high in parts:
            vad.committed.clear_range(low, high)
            for page in _mapped_within(vad, low, high):
                self._unmap_page(vad, page, freed)
        self.physical.free(freed)
        self.cpu.flush_tlb_if_stale()
        return start, end - start

    def release(self, base: int, size: int = 0, *, exact: bool = True) -> tuple[int, int]:
        """Release a reservation. NT releases whole reservations only (`exact`); a pico
        provider manages its address space itself and may carve ranges (Linux munmap)."""
        if exact:
            vad = self.find(base)
            if vad is None:
                raise NtStatusError(STATUS_MEMORY_NOT_ALLOCATED, f"{base:#x} is not allocated")
            if vad.base != page_floor(base):
                # inside an allocation but not at its start: NT's own status for this
                raise NtStatusError(STATUS_FREE_VM_NOT_AT_BASE,
                                    f"{base:#x} is not the base of the allocation at {vad.base:#x}")
            if size not in (0, vad.size):
                raise NtStatusError(STATUS_UNABLE_TO_FREE_VM,
                                    "MEM_RELEASE of part of an allocation")
            start, end = vad.base, vad.end
        else:
            start, end = page_floor(base), page_ceil(base + size)
        for vad in [v for v in self.vads if v.base < end and v.end > start]:
            self._carve(vad, start, end)
        return start, end - start

    def _carve(self, vad: Vad, start: int, end: int) -> None:
        """Remove [start, end) from a VAD, keeping what lies on either side. A view's
        pieces stay views of the same section (each holds its own reference), and the
        part that goes writes its changed pages back to the file first."""
        if vad.section is not None and not vad.copy_on_write:
            low, high = max(start, vad.base), min(end, vad.end)
            vad.section.flush(self._section_page(vad, low), self._section_page(vad, high - 1) + 1)
        freed: list[int] = []
        for page in [p for p in vad.mapped if start <= p < end]:
            self._unmap_page(vad, page, freed)
        self.physical.free(freed)
        self.cpu.flush_tlb_if_stale()
        index = self.vads.index(vad)
        del self.vads[index], self._bases[index]
        self._holes = None
        self._last_found = None
        pieces = []
        if vad.base < start:
            pieces.append(self._piece(vad, vad.base, start))
        if vad.end > end:
            pieces.append(self._piece(vad, end, vad.end))
        for piece in pieces:
            position = bisect.bisect_left(self._bases, piece.base)
            self.vads.insert(position, piece)
            self._bases.insert(position, piece.base)
        if vad.section is not None:
            vad.section.dereference()

    @staticmethod
    def _piece(vad: Vad, start: int, end: int) -> Vad:
        """The part [start, end) of a VAD, as a VAD of its own."""
        piece = Vad(start, end - start, vad.protect, vad.kind, vad.tag,
                    section=vad.section, segment=vad.segment,
                    offset=vad.offset + (start - vad.base), copy_on_write=vad.copy_on_write,
                    grows_down=vad.grows_down)
        piece.committed = vad.committed.slice(start, end)
        piece.mapped = {p for p in vad.mapped if start <= p < end}
        piece.shared = {p for p in vad.shared if start <= p < end}
        if piece.section is not None:
            piece.section.reference()
        return piece

    def protect(self, base: int, size: int, protect: int) -> int:
        """Change the protection of committed pages; returns the old protection of the
        first page (NtProtectVirtualMemory's OldProtect). Worked on runs of pages: only
        the pages that have frames are visited one by one, so the size of the range
        costs nothing."""
        _check_protection(protect)
        start, end = page_floor(base), page_ceil(base + size)
        parts = self._covering(start, end)
        # Check every page before changing any: NT fails the whole call with
        # STATUS_NOT_COMMITTED and leaves the range as it was.
        for vad, low, high in parts:
            if len(vad.committed.slice(low, high)) != (high - low) // PAGE_SIZE:
                raise NtStatusError(STATUS_NOT_COMMITTED, f"{low:#x}+{high - low:#x} is not all committed")
            if vad.segment is not None:                 # STATUS_SECTION_PROTECTION
                self._view_protection(vad, -1, protect)
                for page in _mapped_within(vad, low, high):
                    self._view_protection(vad, page, protect)
        old = parts[0][0].committed.get(start) if parts else None
        for vad, low, high in parts:
            pages = _mapped_within(vad, low, high)
            for page in pages:                          # the processor's entries
                self._set_protection(vad, page, protect)
            kept = {page: vad.committed[page] for page in pages}
            everywhere = self._view_protection(vad, -1, protect) if vad.segment is not None else protect
            vad.committed.set_range(low, high, everywhere)
            for page, value in kept.items():            # a view's private copies differ
                if value != everywhere:
                    vad.committed[page] = value
            if everywhere & EXECUTABLE:
                self.code_pages.update(range(low, high, PAGE_SIZE))
        self.cpu.flush_tlb_if_stale()
        return old or PAGE_NOACCESS

    def _covering(self, start: int, end: int, status: int = STATUS_MEMORY_NOT_ALLOCATED) \
            -> list[tuple[Vad, int, int]]:
        """(vad, low, high) for the VADs that together cover [start, end), one lookup
        per VAD; `status` if a page of it is not reserved."""
        parts, page = [], start
        while page < end:
            vad = self.find(page)
            if vad is None:
                raise NtStatusError(status, f"{page:#x} is not reserved")
            high = min(vad.end, end)
            parts.append((vad, page, high))
            page = high
        return parts

    def _view_protection(self, vad: Vad, page: int, protect: int) -> int:
        """The protection a page of a view really gets. A page still shared with the
        section cannot be written to in a private view: it becomes copy-on-write; a page
        already copied is the process's own, so copy-on-write on it is plain read-write.
        A shared view may be written only if its section allows writing."""
        if page in vad.mapped and page not in vad.shared:
            return COPIED.get(protect & 0xFF, protect)
        if vad.copy_on_write:
            return COPY_ON_WRITE.get(protect & 0xFF, protect)
        if protect & 0xFF in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE) and \
                (vad.section is None or not vad.section.writable):
            raise NtStatusError(STATUS_SECTION_PROTECTION, f"{page:#x}: the section is read-only")
        return protect

    def _set_protection(self, vad: Vad, page: int, protect: int) -> None:
        """Record a committed page's protection and give the processor its permissions."""
        if vad.segment is not None:
            protect = self._view_protection(vad, page, protect)
        if protect & EXECUTABLE:
            self.code_pages.add(page)
        if page in vad.mapped and vad.committed.get(page) != protect:
            # a page fork left shared stays read-only until someone writes it
            self.table.set_protection(page, protect, read_only=self._fork_shared(vad, page))
        vad.committed[page] = protect

    @staticmethod
    def _section_page(vad: Vad, page: int) -> int:
        """Which page of the section a page of a view shows."""
        return (vad.offset + page - vad.base) // PAGE_SIZE

    def query(self, address: int) -> MemoryInformation:
        """The run of pages at `address` that share state and protection."""
        page = page_floor(address)
        if not 0 <= address <= self.highest:
            # above user space there is no region to describe (NT: invalid parameter)
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"{address:#x} is not a user address")
        vad = self.find(page)
        if vad is None:
            following = [v.base for v in self.vads if v.base > page]
            end = min(following) if following else self.highest + 1
            return MemoryInformation(page, 0, 0, end - page, MEM_FREE, PAGE_NOACCESS, 0)

        def state(p: int) -> tuple[int, int]:
            return (MEM_COMMIT, vad.committed[p]) if p in vad.committed else (MEM_RESERVE, 0)

        first = state(page)
        end = page + PAGE_SIZE
        while end < vad.end and state(end) == first:
            run = vad.committed.run_at(end)    # a run of one protection: skip it whole
            end = min(run[1], vad.end) if run else end + PAGE_SIZE
        return MemoryInformation(page, vad.base, vad.protect, end - page, first[0], first[1],
                                 vad.kind)

    def _vad_for_page(self, page: int, status: int = STATUS_MEMORY_NOT_ALLOCATED) -> Vad:
        vad = self.find(page)
        if vad is None:
            raise NtStatusError(status, f"{page:#x} is not reserved")
        return vad

    # --- page faults, and access from the kernel ----------------------------------------------

    def _page_fault(self, address: int, write: bool, fetch: bool) -> bool:
        """The processor found no usable entry for `address`. Resolve what the memory
        manager can — a committed page touched for the first time (demand-zero, or a view's
        page), a copy-on-write page written — and return True to run the instruction
        again; False is a real access violation. With no frame left (the machine's
        --max-memory), the run stops on an "out-of-memory" fault: the personality decides
        (Linux: the OOM killer's SIGKILL)."""
        try:
            return self._resolve_fault(address, write, fetch)
        except NtStatusError as error:
            if error.status != STATUS_NO_MEMORY:
                raise
            cpu = self.cpu
            pc = cpu.linear_pc
            cpu.pending_fault = Fault("out-of-memory", address, pc, error.detail)
            cpu.uc.emu_stop()
            return True

    def _resolve_fault(self, address: int, write: bool, fetch: bool) -> bool:
        page = page_floor(address)
        vad = self.find(page)
        if vad is None:
            return False
        if vad.grows_down and page not in vad.committed:
            self.commit(page, PAGE_SIZE, vad.protect)
        protect = vad.committed.get(page)
        if protect is None or protect & PAGE_GUARD or protect == PAGE_NOACCESS:
            return False
        tracer = self.tracer
        if page not in vad.mapped:
            if not self._page_in(vad, page, write):
                return False
            if vad.segment is None:
                self._fault_around(vad, page, protect)
            if tracer is not None and tracer.detailed:
                self._trace_fault("MiDemandZeroFault" if vad.segment is None else "MiPageInFault",
                                  address, write)
            if not write or vad.segment is None or self.table.is_writable(page):
                # (a private page got its own rights: a write it refuses faults again)
                self.cpu.flush_tlb_if_stale()
                return True
        if not write or fetch or self.table.is_writable(page):
            return False          # present and still refused: not ours to resolve
        resolved = self._copy_on_write(vad, page)
        self.cpu.flush_tlb_if_stale()
        if resolved and tracer is not None and tracer.detailed:
            self._trace_fault("MiCopyOnWriteFault", address, write)
        return resolved

    def _trace_fault(self, name: str, address: int, write: bool) -> None:
        """A page fault the memory manager resolved, as a detail event in the kernel layer
        (only detail sinks see it: an untraced run pays one test per fault)."""
        from ..trace import KERNEL

        thread = self.cpu.loaded_thread
        self.tracer.detail(thread, KERNEL, name, {
            "ProcessId": thread.process.pid if thread is not None else None,
            "Address": f"{address:#x}", "Access": "write" if write else "read"})

    def _page_in(self, vad: Vad, page: int, write: bool) -> bool:
        """Give a committed page a frame. Private memory: a zero-filled frame. A view:
        the section's frame itself (read from the file the first time anyone needs it),
        or — written in a private view — a copy of it that belongs to this process."""
        protect = vad.committed[page]
        segment = vad.segment
        if segment is None:
            self.table.map(page, self.physical.allocate(), protect)
            vad.mapped.add(page)
            return True
        index = self._section_page(vad, page)
        if index >= segment.page_count:
            return False          # past the end of the section: nothing backs it (Linux: SIGBUS)
        frame = segment.frame(index)
        if write and protect & 0xFF in COPIED:
            self._map_private_copy(vad, page, frame)
            return True
        self.table.map(page, frame, protect, borrowed=True)
        vad.mapped.add(page)
        vad.shared.add(page)
        self.shared_pages.add(page)
        return True

    def _fault_around(self, vad: Vad, page: int, protect: int) -> None:
        """A demand-zero fault maps the next few committed pages of the same region too,
        with fresh frames, so that memory touched in order faults once per cluster, not
        once per page (a page fault costs ~10 µs of unicorn's exception path). Their
        entries are not marked accessed: what the guest touched is still exactly the
        pages whose accessed bit the processor set (`touched_bytes`). A fresh frame costs
        the host nothing until it is written."""
        committed, mapped = vad.committed, vad.mapped
        end = min(vad.base + vad.size, (page | (FAULT_AROUND_PAGES * PAGE_SIZE - 1)) + 1)
        pages = []
        for neighbour in range(page + PAGE_SIZE, end, PAGE_SIZE):
            if neighbour in mapped or committed.get(neighbour) != protect:
                break
            pages.append(neighbour)
        if pages:
            self.table.map_run(pages, self.physical.allocate_many(len(pages)), protect)
            mapped.update(pages)

    def _fork_shared(self, vad: Vad, page: int) -> bool:
        """Is this private page's frame still shared with a forked relative?"""
        if page in vad.shared:
            return False
        frame = self.table.frames.get(page)
        return frame is not None and self.physical.is_shared(frame)

    def _copy_on_write(self, vad: Vad, page: int) -> bool:
        """A write to a page that may be written but is mapped read-only: a private view's
        page still shared with its section, or a page fork left shared (the last sharer
        gets it back writable without a copy). False if neither."""
        protect = vad.committed[page]
        if page in vad.shared:
            if protect & 0xFF not in COPIED:
                return False
            self._map_private_copy(vad, page, self.table.frames[page])
            return True
        if not protect & WRITABLE:
            return False
        frame = self.table.frames[page]
        if self.physical.is_shared(frame):
            self._map_private_copy(vad, page, frame)
        else:
            self.table.set_protection(page, protect)
        return True

    def _map_private_copy(self, vad: Vad, page: int, source: int) -> None:
        """Copy-on-write: the page becomes this process's own, with what it showed."""
        frame = self.physical.allocate()
        self.physical.copy(source, frame)
        vad.shared.discard(page)
        self.shared_pages.discard(page)
        protect = COPIED.get(vad.committed[page] & 0xFF, vad.committed[page])
        vad.committed[page] = protect
        if page in self.code_pages:
            self.cpu.forget_code(page, PAGE_SIZE)
        self.table.map(page, frame, protect)      # lets go of the old frame
        vad.mapped.add(page)

    def _unmap_page(self, vad: Vad, page: int, batch: list[int] | None = None) -> None:
        """Take a page's frame away (the frame is freed if nothing else maps it; into
        `batch` if given, for one `free` of them all). Code the processor translated from
        it goes first: the frame may come back elsewhere."""
        if page not in vad.mapped:
            return
        if page in self.code_pages:
            self.cpu.forget_code(page, PAGE_SIZE)
        vad.mapped.discard(page)
        vad.shared.discard(page)
        self.shared_pages.discard(page)
        self.table.unmap(page, batch)

    def touch(self, address: int, size: int, write: bool = False) -> None:
        """Give frames to a committed range now (MAP_POPULATE, madvise WILLNEED, and the
        kernel writing guest memory), as the processor's faults would have."""
        for page in range(page_floor(address), page_ceil(address + size), PAGE_SIZE):
            vad = self.find(page)
            if vad is not None and vad.grows_down and page not in vad.committed:
                self.commit(page, PAGE_SIZE, vad.protect)
            if vad is None or page not in vad.committed:
                raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is not committed")
            if page not in vad.mapped and not self._page_in(vad, page, write):
                raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is past the end of its section")
            self.table.mark_accessed(page)

    def _pieces(self, address: int, size: int):
        """(page, offset in the page, length) for each page of [address, address + size)."""
        end = address + size
        while address < end:
            page = page_floor(address)
            length = min(end, page + PAGE_SIZE) - address
            yield page, address - page, length
            address += length

    def read(self, address: int, size: int) -> bytes:
        """Read guest memory as the kernel does (ProbeForRead, then copy). Reading touches
        nothing: a committed page the guest never touched reads as zeros, a view's page
        as the section's, without giving this process a frame."""
        if size <= 0:
            return b""
        frames, physical = self.table.frames, self.physical
        out = []
        for page, offset, length in self._pieces(address, size):
            frame = frames.get(page)
            if frame is None:
                frame = self._untouched_frame(page)
                if frame is None:
                    out.append(bytes(length))
                    continue
            out.append(physical.read(frame, offset, length))
        return out[0] if len(out) == 1 else b"".join(out)

    def _untouched_frame(self, page: int) -> int | None:
        """What a page the guest never touched would show: None for zeros (private
        memory), a section's frame for a view; an access violation if nothing is there."""
        vad = self.find(page)
        if vad is None or page not in vad.committed and not vad.grows_down:
            raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is not committed")
        if vad.segment is None or page not in vad.committed:
            return None
        index = self._section_page(vad, page)
        if index >= vad.segment.page_count:
            raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is past the end of its section")
        return vad.segment.frame(index)

    def write(self, address: int, data: bytes) -> None:
        """Write guest memory as the kernel does; ignores page protection (the kernel may
        write read-only pages it is loading, as the image loader does), but a page shared
        copy-on-write is copied first, as the processor's write would have been, and a
        read-only view of a file refuses (the file's pages must not change)."""
        if not data:
            return
        physical = self.physical
        frames = self.table.frames
        view = memoryview(bytes(data)) if not isinstance(data, bytes) else memoryview(data)
        at = 0
        code = False
        for page, offset, length in self._pieces(address, len(data)):
            frame = frames.get(page)
            if frame is None:
                self.touch(page, 1, write=True)
                frame = frames[page]
            if page in self.shared_pages or physical.is_shared(frame):
                frame = self._before_kernel_write(page)
            physical.write(frame, offset, view[at:at + length])
            self.table.mark_accessed(page)
            at += length
            code = code or page in self.code_pages
        self.cpu.flush_tlb_if_stale()
        if code:
            self.cpu.forget_code(address, len(data))   # new code over old: run the new one

    def _before_kernel_write(self, page: int) -> int:
        """The kernel is about to write a page that may be shared: a copy-on-write page
        is copied first; a page of a read-only view refuses. Returns the frame to write."""
        vad = self.find(page)
        protect = vad.committed[page] & 0xFF
        if page in vad.shared:
            if protect in COPIED:
                self._map_private_copy(vad, page, self.table.frames[page])
            elif not protect & WRITABLE:
                raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is a read-only view")
        elif self.physical.is_shared(self.table.frames[page]):
            self._map_private_copy(vad, page, self.table.frames[page])
        return self.table.frames[page]

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        out = bytearray()
        # Most strings the kernel reads (paths, argv and environment at execve) are short:
        # try 256 bytes first rather than the rest of the page (copying up to 4 KiB for each
        # of execve's dozens of strings was a third of its cost), then go a page at a time.
        step = 256
        while len(out) < limit:
            chunk_end = min(page_floor(address) + PAGE_SIZE, address + step, address + limit - len(out))
            step = PAGE_SIZE
            chunk = self.read(address, chunk_end - address)
            nul = chunk.find(b"\0")
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk
            address = chunk_end
        return bytes(out)

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def clone_into(self, child: AddressSpace) -> None:
        """Give an empty address space every reservation and commit of this one, and the
        same frames (what NtCreateProcessEx does for a process created from a parent with
        no section: POSIX fork). A private frame is then shared, read-only in both, until
        either writes it (copy-on-write, as NT's clone descriptors do); a view's frames
        are the section's and stay shared. Untouched pages stay demand-zero in the child.
        Nothing is copied: a fork costs the page-table entries, not the bytes."""
        child.lowest, child.highest = self.lowest, self.highest
        child.code_pages.update(self.code_pages)   # the child runs the same code pages
        for vad in self.vads:
            copy = child.reserve(vad.base, vad.size, vad.protect, kind=vad.kind, tag=vad.tag,
                                 alignment=PAGE_SIZE)
            copy.committed = vad.committed.copy()
            copy.grows_down = vad.grows_down       # the child's stack still grows on touch
            if vad.segment is not None:
                # A view stays a view of the same section: what is shared with the file
                # (or with other processes, MAP_SHARED) is shared with the child too.
                copy.section, copy.segment, copy.offset = vad.section, vad.segment, vad.offset
                copy.copy_on_write = vad.copy_on_write
                if vad.section is not None:
                    vad.section.reference()
            copy.mapped = set(vad.mapped)
            copy.shared = set(vad.shared)
        child.shared_pages.update(self.shared_pages)
        self.table.fork_into(child.table)
        self.cpu.flush_tlb_if_stale()

    # --- views of sections --------------------------------------------------------------------

    def map_view(self, section: Any, base: int | None, size: int, offset: int, protect: int, *,
                 copy_on_write: bool = False, tag: str = "section", top_down: bool = False,
                 alignment: int = ALLOCATION_GRANULARITY, below: int | None = None) -> Vad:
        """Map [offset, offset + size) of a section at `base` (or wherever it fits): a
        MEM_MAPPED VAD, committed from the start, whose pages come from the section when
        first touched. PAGE_WRITECOPY (or `copy_on_write`) makes a private view."""
        _check_protection(protect)
        copy_on_write = copy_on_write or protect & 0xFF in COPIED
        if not copy_on_write and protect & 0xFF in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE) \
                and not section.writable:
            raise NtStatusError(STATUS_SECTION_PROTECTION, "a writable view of a read-only section")
        vad = self.reserve(base, size, protect, kind=MEM_MAPPED, tag=tag, top_down=top_down,
                           alignment=alignment, below=below)
        vad.section, vad.segment, vad.offset, vad.copy_on_write = section, section.segment, offset, copy_on_write
        section.reference()
        everywhere = self._view_protection(vad, -1, protect)   # no page has a frame yet
        vad.committed.set_range(vad.base, vad.end, everywhere)
        if everywhere & EXECUTABLE:
            self.code_pages.update(range(vad.base, vad.end, PAGE_SIZE))
        return vad

    def extend(self, end: int, size: int) -> Vad:
        """Grow the VAD that ends at `end` by `size` bytes into the free range after it
        (Linux mremap growing in place): private memory gains demand-zero pages with
        the protection of its last page; a view shows more of its section."""
        vad = self.find(end - 1)
        if vad is None or vad.end != end or not self.is_free(end, size):
            raise NtStatusError(STATUS_CONFLICTING_ADDRESSES, f"cannot grow the region ending at {end:#x}")
        protect = vad.committed.get(end - PAGE_SIZE)
        vad.size += size
        self._holes = None
        if protect is not None:
            # the new pages have no frames: one run
            everywhere = self._view_protection(vad, -1, protect) if vad.segment is not None else protect
            vad.committed.set_range(end, vad.end, everywhere)
            if everywhere & EXECUTABLE:
                self.code_pages.update(range(end, vad.end, PAGE_SIZE))
        return vad

    def relocate(self, old: int, size: int, new: int) -> None:
        """Move the pages of [old, old + size) to the free range at `new`, keeping what
        each page is (private contents, or a view's shared page), then free the old
        range: Linux mremap when the mapping must move. NT has no such service; WSL1's
        provider managed a pico process's address space itself."""
        if not self.is_free(new, size):
            raise NtStatusError(STATUS_CONFLICTING_ADDRESSES, f"{new:#x}+{size:#x} is in use")
        delta = new - old
        for vad in [v for v in self.vads if v.base < old + size and v.end > old]:
            start, end = max(vad.base, old), min(vad.end, old + size)
            moved = self._piece(vad, start, end)
            moved.base += delta
            moved.committed = moved.committed.slice(moved.base - delta, moved.base - delta + moved.size, delta)
            moved.mapped, moved.shared = set(), set()
            position = bisect.bisect_left(self._bases, moved.base)
            self.vads.insert(position, moved)
            self._holes = None
            self._bases.insert(position, moved.base)
            for code_start, code_end, _ in self.code_pages.slice(start, end).runs():
                self.code_pages.set_range(code_start + delta, code_end + delta, 1)
            for page in _mapped_within(vad, start, end):
                protect = vad.committed[page]
                frame = self.table.frames[page]
                shared = page in vad.shared
                if shared:
                    moved.shared.add(page + delta)
                    self.shared_pages.add(page + delta)
                else:
                    self.physical.share(frame)       # the old page lets go of it below
                was_touched = self.table.accessed(page)
                self.table.map(page + delta, frame, protect, borrowed=shared,
                               read_only=not shared and self.physical.shares[frame] > 1)
                if was_touched:
                    self.table.mark_accessed(page + delta)
                moved.mapped.add(page + delta)
        self.release(old, size, exact=False)

    def flush(self, base: int, size: int) -> tuple[int, int]:
        """Write the changed pages of the views in a range back to their files
        (NtFlushVirtualMemory). Private memory has no file: STATUS_NOT_MAPPED_DATA."""
        start, end = page_floor(base), page_ceil(base + max(size, 1))
        vads = {id(v): v for v, _, _ in self._covering(start, end)}
        for vad in vads.values():
            if vad.segment is None:
                raise NtStatusError(STATUS_NOT_MAPPED_DATA, f"{vad.base:#x} is not a mapped view")
        for vad in vads.values():
            if vad.section is not None and not vad.copy_on_write:
                low, high = max(start, vad.base), min(end, vad.end)
                vad.section.flush(self._section_page(vad, low), self._section_page(vad, high - 1) + 1)
        return start, end - start

    def reset(self, base: int, size: int) -> tuple[int, int]:
        """MEM_RESET, done at once: the contents of the pages are not wanted any more.
        A private page comes back zero-filled when next touched; a page of a view comes
        back as the section's page (a private copy is dropped, and the page is
        copy-on-write again)."""
        start, end = page_floor(base), page_ceil(base + size)
        pages = [(page, vad) for vad, low, high in self._covering(start, end)
                 for page in _mapped_within(vad, low, high)]
        for page, vad in pages:
            private_copy = vad.segment is not None and page not in vad.shared
            self._unmap_page(vad, page)
            if private_copy and vad.copy_on_write:
                vad.committed[page] = COPY_ON_WRITE.get(vad.committed[page] & 0xFF, vad.committed[page])
        self.cpu.flush_tlb_if_stale()
        return start, end - start

    def resident(self, base: int, size: int) -> bytearray:
        """Which pages of a range are in memory (Linux mincore), one byte each (1: yes):
        a touched page, or a view's page that the section holds (the file's page cache)
        even if this process has not touched it. Only pages with frames are looked at."""
        start, end = page_floor(base), page_ceil(base + size)
        out = bytearray((end - start) // PAGE_SIZE)
        for vad, low, high in self._covering(start, end, STATUS_INVALID_ADDRESS):
            for page in _mapped_within(vad, low, high):
                if self.table.accessed(page):
                    out[(page - start) // PAGE_SIZE] = 1
            if vad.segment is not None:
                first, last = self._section_page(vad, low), self._section_page(vad, high - 1)
                for loaded in vad.segment.loaded:
                    if first <= loaded <= last:
                        out[(low - start) // PAGE_SIZE + loaded - first] = 1
        return out

    def close_views(self) -> None:
        """The process is ending (MmCleanProcessAddressSpace): each view writes its
        changed pages back and lets go of its section. The pages stay mapped, so the
        dead process's memory can still be inspected."""
        for vad in self.vads:
            if vad.section is not None:
                section, vad.section = vad.section, None
                if not vad.copy_on_write:
                    section.flush(self._section_page(vad, vad.base), self._section_page(vad, vad.end - 1) + 1)
                section.dereference()

    def regions(self) -> list[Vad]:
        return list(self.vads)


class _Released:
    """Where a reaped process's address space points instead of a processor."""

    def __getattr__(self, name: str) -> Any:
        raise NtStatusError(STATUS_PROCESS_IS_TERMINATING,
                            "the process has exited and been reaped: its memory is gone")


def _check_protection(protect: int) -> None:
    if protect & 0xFF not in VALID_PROTECTIONS:
        raise NtStatusError(STATUS_INVALID_PAGE_PROTECTION, f"protection {protect:#x}")


__all__ = ["AddressSpace", "Vad", "MemoryInformation", "PAGE_SIZE", "MEM_COMMIT",
           "MEM_RESERVE", "MEM_DECOMMIT", "MEM_RELEASE", "MEM_PRIVATE", "MEM_MAPPED",
           "MEM_IMAGE", "PAGE_READONLY", "PAGE_READWRITE", "PAGE_EXECUTE_READ",
           "PAGE_EXECUTE_READWRITE", "PAGE_NOACCESS"]
