"""Page tables: how the processor finds the frame behind a virtual address.

The memory manager decides what each page is (vads, commit, sections); the processor
only ever asks the page tables. These are real x86 page tables in physical memory, which
unicorn's processor walks by itself: a miss in its small TLB costs a walk in C, not a
call into Python. Python hears of a page only when the walk fails — the page has no frame
yet (a demand-zero fault), or a write meets a read-only entry (copy-on-write) — as a page
fault (#PF, interrupt 14), exactly as NT's memory manager does.

Two formats, one code path: long mode's four levels (PML4, PDPT, PD, PT) for x86-64, and
PAE's three (PDPT, PD, PT) for 32-bit processes; the last level is the same. Bit 63 (NX)
keeps data pages from being executed, which also lets unicorn's stores take their fast
path (it sends stores to executable pages down a slow path that watches for
self-modifying code).
"""

from __future__ import annotations

from .physical import PAGE_SIZE, PhysicalMemory

PRESENT, WRITABLE, USER = 0x1, 0x2, 0x4
ACCESSED, DIRTY = 0x20, 0x40         # set by the processor when it uses an entry
NO_EXECUTE = 1 << 63
ADDRESS_BITS = 0x000F_FFFF_FFFF_F000
# A whole last-level table as one integer, with every entry's writable bit clear.
_ALL_READ_ONLY = int.from_bytes((0xFFFF_FFFF_FFFF_FFFF & ~WRITABLE).to_bytes(8, "little") * 512, "little")

# NT page protections (PAGE_*), as the memory manager hands them down.
PAGE_NOACCESS, PAGE_READWRITE, PAGE_GUARD = 0x01, 0x04, 0x100
PAGE_EXECUTE_READWRITE = 0x40
_EXECUTABLE = 0x10 | 0x20 | 0x40 | 0x80


def entry_bits(protect: int, read_only: bool = False) -> int:
    """The page-table entry bits for an NT protection. A copy-on-write page (WRITECOPY)
    is read-only in hardware until it is copied; `read_only` does the same for a writable
    page shared after fork. PAGE_NOACCESS and guard pages are not present."""
    base = protect & 0xFF
    if base == PAGE_NOACCESS or protect & PAGE_GUARD:
        return 0
    bits = PRESENT | USER
    if not read_only and base in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE):
        bits |= WRITABLE
    if not base & _EXECUTABLE:
        bits |= NO_EXECUTE
    return bits


class PageTable:
    """One address space's page tables, and which frame each mapped page has."""

    def __init__(self, physical: PhysicalMemory, levels: int = 4) -> None:
        self.physical = physical
        self.levels = levels                   # 4: long mode; 3: PAE
        # what CR3 holds; 32-bit CR3 reaches only the first 4 GiB
        self.root = physical.allocate() if levels == 4 else physical.allocate_low()
        self.table_frames = [self.root]
        self._leaf_tables: dict[int, int] = {}   # page >> 21 -> first entry's index in RAM
        self.frames: dict[int, int] = {}         # page -> its frame
        self.borrowed: set[int] = set()          # pages whose frame is a section's, not ours
        self.reduced = False                     # an entry lost rights: the TLB must be flushed

    @property
    def cr3(self) -> int:
        return self.physical.physical_address(self.root)

    def _leaf(self, page: int) -> int:
        """Where the page's entry lives (an index into RAM's qwords); the tables above it
        are made on the way down, as the memory manager does for a new page table."""
        key = page >> 21
        index = self._leaf_tables.get(key)
        if index is not None:
            return index + ((page >> 12) & 511)
        physical, qwords = self.physical, self.physical.qwords
        table = self.root
        for shift in ((39, 30, 21) if self.levels == 4 else (30, 21)):
            slot = table * 512 + ((page >> shift) & 511)
            entry = qwords[slot]
            if not entry & PRESENT:
                frame = physical.allocate()
                self.table_frames.append(frame)
                # PAE's top level has no writable/user bits (they are reserved there)
                flags = PRESENT if self.levels == 3 and shift == 30 else PRESENT | WRITABLE | USER
                entry = qwords[slot] = physical.physical_address(frame) | flags
            table = physical.frame_at(entry & ADDRESS_BITS)
        index = self._leaf_tables[key] = table * 512
        return index + ((page >> 12) & 511)

    # --- entries --------------------------------------------------------------------------------

    def map(self, page: int, frame: int, protect: int, *, read_only: bool = False,
            borrowed: bool = False) -> None:
        """Point `page` at `frame`. A frame of our own is released when the page is
        unmapped; a borrowed one (a section's page) is not."""
        old = self.frames.get(page)
        if old is not None:
            self.unmap(page)
        self.physical.qwords[self._leaf(page)] = \
            self.physical.physical_address(frame) | entry_bits(protect, read_only)
        self.frames[page] = frame
        if borrowed:
            self.borrowed.add(page)

    def map_run(self, pages: list[int], frames: list[int], protect: int) -> None:
        """Point consecutive unmapped pages, all in one last-level table, at frames of our
        own: a fault-around's cluster, in one pass."""
        first = self._leaf(pages[0])
        qwords, bits, base = self.physical.qwords, entry_bits(protect), self.physical.physical_address(0)
        for offset, frame in enumerate(frames):
            qwords[first + offset] = base + frame * PAGE_SIZE | bits
        self.frames.update(zip(pages, frames, strict=True))

    def set_protection(self, page: int, protect: int, *, read_only: bool = False) -> None:
        """New rights for a mapped page, same frame."""
        slot = self._leaf(page)
        qwords = self.physical.qwords
        old = qwords[slot]
        new = (old & (ADDRESS_BITS | ACCESSED | DIRTY)) | entry_bits(protect, read_only)
        if old & ~new & (PRESENT | WRITABLE) or new & ~old & NO_EXECUTE:
            self.reduced = True
        qwords[slot] = new

    def unmap(self, page: int, batch: list[int] | None = None) -> int | None:
        """Take the page's frame away (releasing it if it was ours: see
        PhysicalMemory.release for `batch`); returns the frame."""
        frame = self.frames.pop(page, None)
        if frame is None:
            return None
        self.physical.qwords[self._leaf(page)] = 0
        self.reduced = True
        if page in self.borrowed:
            self.borrowed.discard(page)
        else:
            self.physical.release(frame, batch)
        return frame

    def accessed(self, page: int) -> bool:
        """Has the processor used this page's entry (its accessed bit)? What a real
        kernel reads to measure a working set; here, whether the guest touched the page."""
        return page in self.frames and bool(self.physical.qwords[self._leaf(page)] & ACCESSED)

    def mark_accessed(self, page: int) -> None:
        """The kernel touched the page on the guest's behalf (a write, MAP_POPULATE)."""
        self.physical.qwords[self._leaf(page)] |= ACCESSED

    def entry(self, page: int) -> int:
        return self.physical.qwords[self._leaf(page)] if page in self.frames else 0

    def is_writable(self, page: int) -> bool:
        return bool(self.entry(page) & WRITABLE)

    def is_executable(self, page: int) -> bool:
        entry = self.entry(page)
        return bool(entry & PRESENT) and not entry & NO_EXECUTE

    def set_executable(self, page: int, executable: bool) -> None:
        slot = self._leaf(page)
        if executable:
            self.physical.qwords[slot] &= ~NO_EXECUTE & 0xFFFF_FFFF_FFFF_FFFF
        else:
            self.physical.qwords[slot] |= NO_EXECUTE

    # --- whole address spaces -------------------------------------------------------------------

    def fork_into(self, child: PageTable) -> None:
        """Give an empty page table every entry of this one, a last-level table at a time,
        with private pages made read-only in both and their frames shared (copy-on-write
        after fork). A section's pages (borrowed) keep their rights: they are meant to be
        shared. The cost is a copy per 2 MiB of address space and a count per page, not
        a copy per page."""
        physical = self.physical
        raw, qwords = physical.bytes, physical.qwords
        borrowed_entries = {page: qwords[self._leaf(page)] for page in self.borrowed}
        for key, index in self._leaf_tables.items():
            start = index * 8
            entries = int.from_bytes(raw[start:start + PAGE_SIZE], "little") & _ALL_READ_ONLY
            image = entries.to_bytes(PAGE_SIZE, "little")
            raw[start:start + PAGE_SIZE] = image
            child_start = child._leaf(key << 21) * 8
            raw[child_start:child_start + PAGE_SIZE] = image
        for page, entry in borrowed_entries.items():
            qwords[self._leaf(page)] = qwords[child._leaf(page)] = entry
        private = self.frames.copy()
        for page in self.borrowed:
            del private[page]
        physical.share_all(private.values())
        child.frames.update(self.frames)
        child.borrowed.update(self.borrowed)
        self.reduced = True

    def destroy(self) -> None:
        """Release every frame of ours and every table (the address space is emptied)."""
        physical = self.physical
        batch: list[int] = []
        for page, frame in self.frames.items():
            if page not in self.borrowed:
                physical.release(frame, batch)
        physical.free(batch)
        self.frames.clear()
        self.borrowed.clear()
        for frame in self.table_frames[1:]:
            physical.free([frame])
        del self.table_frames[1:]
        self._leaf_tables.clear()
        physical.zero(self.root)
        self.reduced = True

    def host_address(self, page: int) -> int | None:
        frame = self.frames.get(page)
        return None if frame is None else self.physical.host_address(frame)


__all__ = ["PageTable", "entry_bits", "PAGE_SIZE", "PRESENT", "WRITABLE", "NO_EXECUTE"]
