"""The memory manager: virtual address descriptors, reserve / commit, demand-zero pages.

NT splits allocation in two steps. *Reserving* claims a range of addresses (in 64 KiB
units) and costs no memory. *Committing* promises backing store for pages of a reserved
range, and is what counts against the commit limit. A committed page gets physical
memory only when it is first *touched*: the access faults, and the memory manager maps a
zero-filled page (a demand-zero fault). The three numbers — reserved, committed,
touched — are what let a student measure "a subsystem costs a few MB, a VM reserves
gigabytes".

Each region is a VAD (virtual address descriptor). Pages of a committed region that the
guest has not touched are *not* mapped in unicorn; the CPU's unmapped-memory hook comes
here, and we map the page then.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_GUARD,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    Cpu,
)
from .status import (
    STATUS_ACCESS_VIOLATION,
    STATUS_CONFLICTING_ADDRESSES,
    STATUS_FREE_VM_NOT_AT_BASE,
    STATUS_INVALID_PAGE_PROTECTION,
    STATUS_INVALID_PARAMETER,
    STATUS_MEMORY_NOT_ALLOCATED,
    STATUS_NO_MEMORY,
    STATUS_NOT_COMMITTED,
    STATUS_UNABLE_TO_FREE_VM,
    NtStatusError,
)

PAGE_SIZE = 0x1000
ALLOCATION_GRANULARITY = 0x10000

MEM_COMMIT, MEM_RESERVE, MEM_DECOMMIT, MEM_RELEASE = 0x1000, 0x2000, 0x4000, 0x8000
MEM_FREE, MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE = 0x10000, 0x20000, 0x40000, 0x1000000
MEM_TOP_DOWN = 0x100000

VALID_PROTECTIONS = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}
EXECUTABLE = 0x10 | 0x20 | 0x40 | 0x80     # PAGE_EXECUTE and its READ/READWRITE/WRITECOPY forms


def page_floor(address: int) -> int:
    return address & ~(PAGE_SIZE - 1)


def page_ceil(address: int) -> int:
    return (address + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


@dataclass
class Vad:
    """A virtual address descriptor: one reserved range and the state of its pages."""

    base: int
    size: int
    protect: int                      # protection given at reservation
    kind: int = MEM_PRIVATE           # MEM_PRIVATE, MEM_MAPPED or MEM_IMAGE
    tag: str = ""                     # what it holds, for people: "stack", "heap", "image"
    committed: dict[int, int] = field(default_factory=dict)   # page address -> PAGE_*
    mapped: set[int] = field(default_factory=set)              # pages given real memory

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
        self.peak_committed = 0
        self.code_pages: set[int] = set()  # pages ever executable: the processor may hold code
        cpu.on_unmapped = self._demand_fault

    # --- accounting -------------------------------------------------------------------------

    @property
    def reserved_bytes(self) -> int:
        return sum(v.size for v in self.vads)

    @property
    def committed_bytes(self) -> int:
        return sum(len(v.committed) for v in self.vads) * PAGE_SIZE

    @property
    def touched_bytes(self) -> int:
        return sum(len(v.mapped) for v in self.vads) * PAGE_SIZE

    # --- lookup -----------------------------------------------------------------------------

    def find(self, address: int) -> Vad | None:
        index = bisect.bisect_right(self._bases, address) - 1
        if index >= 0:
            vad = self.vads[index]
            if vad.base <= address < vad.end:
                return vad
        return None

    def is_free(self, base: int, size: int) -> bool:
        index = bisect.bisect_left(self._bases, base + size)
        return not any(v.end > base for v in self.vads[max(0, index - 1):index])

    def find_free(self, size: int, top_down: bool = False,
                  alignment: int = ALLOCATION_GRANULARITY, below: int | None = None) -> int:
        """First (or last) hole that fits `size`, aligned like NT's allocator."""
        highest = min(self.highest, below) if below else self.highest
        holes = []
        cursor = self.lowest
        for vad in self.vads:
            if vad.base > cursor:
                holes.append((cursor, vad.base))
            cursor = max(cursor, vad.end)
        holes.append((cursor, highest + 1))
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
        vad = Vad(base, size, protect, kind, tag)
        index = bisect.bisect_left(self._bases, base)
        self.vads.insert(index, vad)
        self._bases.insert(index, base)
        return vad

    def commit(self, base: int, size: int, protect: int) -> tuple[int, int]:
        """Commit pages of reserved ranges; returns the page-aligned (base, size)."""
        _check_protection(protect)
        start, end = page_floor(base), page_ceil(base + size)
        pages = range(start, end, PAGE_SIZE)
        # Committing outside a reservation is STATUS_CONFLICTING_ADDRESSES in NT
        # (VirtualAlloc's ERROR_INVALID_ADDRESS), not "not allocated".
        vads = [self._vad_for_page(page, STATUS_CONFLICTING_ADDRESSES) for page in pages]
        for page, vad in zip(pages, vads, strict=True):
            if page in vad.mapped and vad.committed.get(page) != protect:
                self.cpu.protect(page, PAGE_SIZE, protect)
            vad.committed[page] = protect
        if protect & EXECUTABLE:
            self.code_pages.update(pages)
        self.peak_committed = max(self.peak_committed, self.committed_bytes)
        return start, end - start

    def decommit(self, base: int, size: int) -> tuple[int, int]:
        start, end = page_floor(base), page_ceil(base + size)
        for page in range(start, end, PAGE_SIZE):
            vad = self._vad_for_page(page)
            vad.committed.pop(page, None)
            if page in vad.mapped:
                vad.mapped.discard(page)
                self.cpu.unmap(page, PAGE_SIZE)
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
        """Remove [start, end) from a VAD, keeping what lies on either side."""
        for page in [p for p in vad.mapped if start <= p < end]:
            vad.mapped.discard(page)
            self.cpu.unmap(page, PAGE_SIZE)
        index = self.vads.index(vad)
        del self.vads[index], self._bases[index]
        pieces = []
        if vad.base < start:
            pieces.append(Vad(vad.base, start - vad.base, vad.protect, vad.kind, vad.tag))
        if vad.end > end:
            pieces.append(Vad(end, vad.end - end, vad.protect, vad.kind, vad.tag))
        for piece in pieces:
            piece.committed = {p: v for p, v in vad.committed.items()
                               if piece.base <= p < piece.end}
            piece.mapped = {p for p in vad.mapped if piece.base <= p < piece.end}
            position = bisect.bisect_left(self._bases, piece.base)
            self.vads.insert(position, piece)
            self._bases.insert(position, piece.base)

    def protect(self, base: int, size: int, protect: int) -> int:
        """Change the protection of committed pages; returns the old protection of the
        first page (NtProtectVirtualMemory's OldProtect)."""
        _check_protection(protect)
        start, end = page_floor(base), page_ceil(base + size)
        pages = [(page, self._vad_for_page(page)) for page in range(start, end, PAGE_SIZE)]
        # Check every page before changing any: NT fails the whole call with
        # STATUS_NOT_COMMITTED and leaves the range as it was.
        for page, vad in pages:
            if page not in vad.committed:
                raise NtStatusError(STATUS_NOT_COMMITTED, f"page {page:#x} is not committed")
        old = None
        for page, vad in pages:
            old = vad.committed[page] if old is None else old
            vad.committed[page] = protect
            if protect & EXECUTABLE:
                self.code_pages.add(page)
            if page in vad.mapped:
                self.cpu.protect(page, PAGE_SIZE, protect)
        return old or PAGE_NOACCESS

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
            end += PAGE_SIZE
        return MemoryInformation(page, vad.base, vad.protect, end - page, first[0], first[1],
                                 vad.kind)

    def _vad_for_page(self, page: int, status: int = STATUS_MEMORY_NOT_ALLOCATED) -> Vad:
        vad = self.find(page)
        if vad is None:
            raise NtStatusError(status, f"{page:#x} is not reserved")
        return vad

    # --- demand-zero faults and access from the kernel ---------------------------------------

    def _demand_fault(self, address: int, size: int, _access: int) -> bool:
        """The CPU touched an unmapped page: if it is committed and accessible, give it a
        zero-filled page now. Returns False for a real access violation."""
        for page in range(page_floor(address), page_ceil(address + max(size, 1)), PAGE_SIZE):
            vad = self.find(page)
            if vad is None or page not in vad.committed:
                return False
            if page in vad.mapped:
                continue
            protect = vad.committed[page]
            if protect & PAGE_GUARD or protect == PAGE_NOACCESS:
                return False
            self.cpu.map(page, PAGE_SIZE, protect)
            vad.mapped.add(page)
        return True

    def touch(self, address: int, size: int) -> None:
        """Give real pages to a committed range before the kernel reads or writes it."""
        for page in range(page_floor(address), page_ceil(address + size), PAGE_SIZE):
            vad = self.find(page)
            if vad is None or page not in vad.committed:
                raise NtStatusError(STATUS_ACCESS_VIOLATION, f"{page:#x} is not committed")
            if page not in vad.mapped:
                self.cpu.map(page, PAGE_SIZE, vad.committed[page])
                vad.mapped.add(page)

    def read(self, address: int, size: int) -> bytes:
        """Read guest memory as the kernel does (ProbeForRead, then copy)."""
        if size <= 0:
            return b""
        try:
            return self.cpu.read(address, size)
        except Exception:
            self.touch(address, size)
            return self.cpu.read(address, size)

    def write(self, address: int, data: bytes) -> None:
        """Write guest memory as the kernel does; ignores page protection (the kernel may
        write read-only pages it is loading, as the image loader does)."""
        if not data:
            return
        try:
            self.cpu.write(address, data)
        except Exception:
            self.touch(address, len(data))
            self.cpu.write(address, data)
        if self.code_pages and any(page in self.code_pages for page in
                                   range(page_floor(address), address + len(data), PAGE_SIZE)):
            self.cpu.forget_code(address, len(data))   # new code over old: run the new one

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        out = bytearray()
        while len(out) < limit:
            chunk_end = min(page_floor(address) + PAGE_SIZE, address + limit - len(out))
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

    def regions(self) -> list[Vad]:
        return list(self.vads)


def _check_protection(protect: int) -> None:
    if protect & 0xFF not in VALID_PROTECTIONS:
        raise NtStatusError(STATUS_INVALID_PAGE_PROTECTION, f"protection {protect:#x}")


__all__ = ["AddressSpace", "Vad", "MemoryInformation", "PAGE_SIZE", "MEM_COMMIT",
           "MEM_RESERVE", "MEM_DECOMMIT", "MEM_RELEASE", "MEM_PRIVATE", "MEM_MAPPED",
           "MEM_IMAGE", "PAGE_READONLY", "PAGE_READWRITE", "PAGE_EXECUTE_READ",
           "PAGE_EXECUTE_READWRITE", "PAGE_NOACCESS"]
