"""Section objects and the pages behind them: how NT maps files into memory.

A *section* is memory that can be mapped into address spaces: backed by a file (a
mapped file) or by the paging file (shared memory with no file). Mapping part of a
section into a process makes a *view*, a VAD whose pages are the section's pages.

NT keeps a file's pages in memory once per *file*, not once per mapping: the file
system's per-file SectionObjectPointers lead to one control area and its segment, and
every section object created on that file shares them. That is why two processes that
map the same file see each other's writes at once, and why a private (copy-on-write)
view shares the file's pages until it writes one — then the writer gets its own copy
(PAGE_WRITECOPY becomes PAGE_READWRITE), and the file never sees it.

Here a segment's pages are frames of the machine's RAM (physical.py), and every view's
page-table entries point at them: one physical page under several virtual addresses,
which is all shared memory is. A page is read from the file the first time any
view needs it (a paging read), and written back when a view is flushed
(NtFlushVirtualMemory, Linux msync), unmapped, or its process ends: only the pages that
differ from what the file held, and never past the end of the file.

NT's cache manager reads and writes files *through* the same pages, so read() and
write() agree with every mapping at once. Here the I/O manager does the cache manager's
part (services.NtReadFile / NtWriteFile / NtSetInformationFile): a write puts its bytes
into the pages the segment holds as well as into the file, a read takes the bytes of
those pages over the file's (a view may have changed them and not written them back),
and a truncation zeroes what lies past the new end.

What is simplified: a file changed by anything other than those services (the host) is
not seen by pages already in memory.
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

from .memory import PAGE_SIZE, page_ceil
from .objects import KernelObject
from .physical import PhysicalMemory, ram

PAGE_READWRITE, PAGE_EXECUTE_READWRITE = 0x04, 0x40


class Segment:
    """The pages of one file (or of one paging-file section) while anything maps them:
    NT's control area and segment, reduced to what a student can follow."""

    def __init__(self, size: int, file: Any = None, key: Any = None,
                 table: SegmentTable | None = None) -> None:
        self.size = size                  # bytes of the file the segment stands for
        self.file = file                  # read from for paging reads (referenced)
        self.key = key
        self.table = table
        self.sections = 0                 # section objects on this segment
        self.writers = 0                  # ... of which may write the file
        self.physical = ram()
        self._frames: dict[int, int] = {}          # page -> its frame
        self.loaded: set[int] = set()              # pages in memory (the file's page cache)
        self.clean: dict[int, bytes] = {}          # page -> what the file holds, while writers exist
        if file is not None:
            file.reference()
        # The frames go back when the segment object does: views hold it (Vad.segment)
        # for as long as a page table may point at its frames.
        weakref.finalize(self, _free_frames, self.physical, self._frames)

    @property
    def page_count(self) -> int:
        return page_ceil(self.size) // PAGE_SIZE

    def frame(self, index: int) -> int:
        """The frame of page `index`, paging it in from the file the first time."""
        frame = self._frames.get(index)
        if frame is None:
            frame = self._frames[index] = self.physical.allocate()
        if index not in self.loaded:
            self.loaded.add(index)
            if self.file is not None and index * PAGE_SIZE < self.size:
                data = self._read_from_file(index)
                self.physical.write(frame, 0, data)
                if self.writers:
                    self.clean[index] = data
        return frame

    def page_address(self, index: int) -> int:
        """The host address of page `index` (paged in first)."""
        return self.physical.host_address(self.frame(index))

    def read_page(self, index: int) -> bytes:
        return ctypes.string_at(self.page_address(index), PAGE_SIZE)

    def _read_from_file(self, index: int) -> bytes:
        """A paging read: the part of the page that lies inside the file; the rest of
        the last page stays zero, as on every system that maps files."""
        offset = index * PAGE_SIZE
        length = min(PAGE_SIZE, self.size - offset)
        file = self.file
        return bytes(file.device.read(file, length, offset)) if length > 0 else b""

    def add_writer(self) -> None:
        """A section that may write the file: from now on, remember what the file holds
        for every page, so a flush writes only the pages that changed."""
        if not self.writers:
            for index in self.loaded:
                if index * PAGE_SIZE < self.size:
                    self.clean[index] = self.read_page(index)[:self.size - index * PAGE_SIZE]
        self.writers += 1

    def grow(self, size: int) -> None:
        """The file is longer than when the segment was made: its old last page, if it
        was read before and nobody changed it, is read again."""
        if size <= self.size or self.file is None:
            return
        last = (self.size - 1) // PAGE_SIZE if self.size else None
        old_size, self.size = self.size, size
        if last is not None and last in self.loaded and not self._dirty(last, old_size):
            self.loaded.discard(last)
            self.clean.pop(last, None)
            self.page_address(last)

    def _dirty(self, index: int, size: int | None = None) -> bool:
        size = self.size if size is None else size
        clean = self.clean.get(index)
        if clean is None:
            return False
        return self.read_page(index)[:max(0, min(PAGE_SIZE, size - index * PAGE_SIZE))] != clean

    def flush(self, first: int, last: int, file: Any) -> int:
        """Write pages [first, last) that differ from the file back to it, through
        `file` (a file object opened for writing). Returns the bytes written."""
        written = 0
        for index in sorted(i for i in self.clean if first <= i < last):
            offset = index * PAGE_SIZE
            data = self.read_page(index)[:max(0, min(PAGE_SIZE, self.size - offset))]
            if data != self.clean[index]:
                file.device.write(file, data, offset)
                self.clean[index] = data
                written += len(data)
        return written

    # --- the cache manager's part: read() and write() see the same pages as the views ----

    def _overlaps(self, offset: int, length: int):
        """(page, page's host address, first, last) for each page in memory that bytes
        [offset, offset + length) touch; first/last are offsets into the page."""
        end = offset + length
        for index in range(offset // PAGE_SIZE, (end - 1) // PAGE_SIZE + 1 if length else 0):
            if index in self.loaded:
                page_start = index * PAGE_SIZE
                yield (index, self.page_address(index), max(offset, page_start) - page_start,
                       min(end, page_start + PAGE_SIZE) - page_start)

    def file_written(self, offset: int, data: bytes) -> None:
        """write() put `data` into the file at `offset`: the pages in memory show it too,
        and what the file holds (the clean copy a flush compares with) changes with it."""
        for index, address, first, last in self._overlaps(offset, len(data)):
            piece = data[index * PAGE_SIZE + first - offset:index * PAGE_SIZE + last - offset]
            ctypes.memmove(address + first, piece, len(piece))
            clean = self.clean.get(index)
            if clean is not None:
                grown = clean.ljust(last, b"\0")     # a write past the end leaves zeros before it
                self.clean[index] = grown[:first] + piece + grown[last:]
        self.size = max(self.size, offset + len(data))

    def file_read(self, offset: int, data: bytes) -> bytes:
        """What read() returns: the file's bytes, with the pages in memory over them."""
        out = None
        for index, address, first, last in self._overlaps(offset, len(data)):
            if out is None:
                out = bytearray(data)
            at = index * PAGE_SIZE + first - offset
            out[at:at + last - first] = ctypes.string_at(address + first, last - first)
        return data if out is None else bytes(out)

    def file_truncated(self, size: int) -> None:
        """The file's end moved to `size`: bytes past it read as zero from now on."""
        if size < self.size:
            for index, address, first, last in self._overlaps(size, self.size - size):
                ctypes.memset(address + first, 0, last - first)
                if index in self.clean:
                    self.clean[index] = self.clean[index][:first]
        self.size = size

    def close(self) -> None:
        """The last section on the file is gone: forget the file. (The host memory
        stays until no address space holds a view on it: Python frees it then.)"""
        if self.table is not None:
            self.table.forget(self)
        if self.file is not None:
            file, self.file = self.file, None
            file.dereference()


def _free_frames(physical: PhysicalMemory, frames: dict[int, int]) -> None:
    physical.free(frames.values())
    frames.clear()


class SegmentTable:
    """Which file already has a segment: NT finds it through the file's FCB
    (SectionObjectPointers); here the key is the volume and the file's id."""

    def __init__(self) -> None:
        self._segments: dict[Any, Segment] = {}

    def for_file(self, file: Any, key: Any, size: int) -> Segment:
        segment = self._segments.get(key)
        if segment is None:
            segment = self._segments[key] = Segment(size, file, key, self)
        else:
            segment.grow(size)
        return segment

    def forget(self, segment: Segment) -> None:
        if self._segments.get(segment.key) is segment:
            del self._segments[segment.key]

    def __len__(self) -> int:
        return len(self._segments)

    def find(self, key: Any) -> Segment | None:
        return self._segments.get(key)


class Section(KernelObject):
    """A section object: a size, the protection it allows its views, and its segment."""

    type_name = "Section"

    def __init__(self, segment: Segment, size: int, protect: int, file: Any = None) -> None:
        super().__init__()
        self.segment = segment
        self.size = size
        self.protect = protect
        self.file = file                  # the file object it was created from (referenced)
        segment.sections += 1
        if file is not None:
            file.reference()
            if self.writable:
                segment.add_writer()

    @property
    def writable(self) -> bool:
        """Views may write to it (and, for a file, through to the file)."""
        return self.protect & 0xFF in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE)

    def flush(self, first: int, last: int) -> int:
        """Write the changed pages [first, last) back to the file (NtFlushVirtualMemory)."""
        if self.file is None or not self.writable:
            return 0
        return self.segment.flush(first, last, self.file)

    def describe(self) -> str:
        return self.file.describe() if self.file is not None else "<pagefile-backed section>"

    def delete(self) -> None:
        """The last handle and the last view are gone: write back what changed, and
        let the file go."""
        segment = self.segment
        if self.file is not None:
            self.flush(0, segment.page_count)
            if self.writable:
                segment.writers -= 1
                if not segment.writers:
                    segment.clean.clear()
            file, self.file = self.file, None
            file.dereference()
        segment.sections -= 1
        if not segment.sections:
            segment.close()
        super().delete()
