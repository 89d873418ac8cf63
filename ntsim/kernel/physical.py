"""Physical memory: the page frames every address space's pages live in.

NT's memory manager keeps one database entry per physical page (the PFN database): is
the frame free, zeroed, whose page is it, how many page tables point at it. Here the
machine's RAM is one large anonymous host mapping, reserved but not committed
(`MAP_NORESERVE`): the host gives it memory a page at a time, when a frame is first
written, and takes it back when ntsim frees the frame (`MADV_DONTNEED`). Every processor
maps this RAM once, at the same physical address; an address space reaches its frames
through the page tables the processor walks (see `pagetable.py`). So a page shared by two
processes — a file's page in two views, or a private page after fork until either side
writes it — is one frame under two page-table entries, which is all sharing is.

A frame's *share count* is how many page-table entries beyond the first point at it
while it is private memory of forked processes (NT's clone descriptors count the same
thing). Frames of a section belong to its segment and are freed with it.
"""

from __future__ import annotations

import ctypes
import mmap
from collections import Counter

from .status import STATUS_NO_MEMORY, NtStatusError

PAGE_SIZE = 0x1000

# Where RAM starts in every processor's physical address space, and how much there is.
# At 2 GiB: a real-mode machine puts its own first megabyte at 0, and the first frames
# (LOW_FRAMES of them) lie below 4 GiB, where a 32-bit processor's CR3 can point.
PHYSICAL_BASE = 2 << 30
RAM_SIZE = 16 << 30
LOW_FRAMES = 16384

_ZERO_PAGE = bytes(PAGE_SIZE)
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)   # Linux's value; Python 3.11 lacks the name


class PhysicalMemory:
    """The machine's RAM and its page-frame allocator."""

    def __init__(self, size: int = RAM_SIZE) -> None:
        self.size = size
        self.ram = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
        self.bytes = memoryview(self.ram)
        self.qwords = self.bytes.cast("Q")       # page-table entries are written through this
        self.host_base = ctypes.addressof(ctypes.c_char.from_buffer(self.ram))
        self.frame_count = size // PAGE_SIZE
        self._next = LOW_FRAMES                  # frames never used lie above this
        self._free: list[int] = []               # frames given back (their host memory too)
        self._next_low = 0                       # ... and the same below 4 GiB
        self._free_low: list[int] = []
        # frame -> page-table entries on it beyond the first (fork); a frame with one
        # owner has no entry. A Counter, so that a fork counts all its pages in one call.
        self.shares: Counter[int] = Counter()
        self.in_use = 0                          # frames allocated and not given back
        # frames that may be in use at once: the machine's --max-memory (limits.py)
        self.frame_limit = self.frame_count
        self._busy = False                       # the free lists are being changed
        self._pending: list[list[int]] = []      # frames given back meanwhile (_exclusive)
        self.stop_frame = self.allocate()        # a zero page every page table maps (cpu.py)

    # --- allocation ---------------------------------------------------------------------------

    def allocate(self) -> int:
        """A zero-filled frame (its host memory is given on first write)."""
        return self.allocate_many(1)[0]

    # The free lists change only inside `_exclusive`. Frames also come back from
    # finalizers — a processor or a segment nobody references any more, collected at
    # whatever allocation triggers the garbage collector — which may run in the middle
    # of an allocation: they only queue their frames (`free`), and the queue is emptied
    # when no allocation is under way.

    def allocate_many(self, count: int) -> list[int]:
        """`count` zero-filled frames (given back ones first)."""
        return self._exclusive(self._take, count)

    def _take(self, count: int) -> list[int]:
        if self.in_use + count > self.frame_limit:
            raise NtStatusError(STATUS_NO_MEMORY, f"out of memory: {self.in_use * PAGE_SIZE >> 20} MiB "
                                "of guest memory in use, the machine's limit (--max-memory)")
        frames = self._free[-count:] if count else []
        del self._free[len(self._free) - len(frames):]
        more = count - len(frames)
        if self._next + more > self.frame_count:
            self._free.extend(frames)
            raise NtStatusError(STATUS_NO_MEMORY, "physical memory is exhausted")
        frames.extend(range(self._next, self._next + more))
        self._next += more
        self.in_use += count
        return frames

    def allocate_low(self) -> int:
        """A zero-filled frame below 4 GiB (a 32-bit processor's page-directory pointers)."""
        return self._exclusive(self._take_low)

    def _take_low(self) -> int:
        if self._free_low:
            frame = self._free_low.pop()
        elif self._next_low < LOW_FRAMES:
            frame = self._next_low
            self._next_low += 1
        else:
            raise NtStatusError(STATUS_NO_MEMORY, "no physical memory left below 4 GiB")
        self.in_use += 1
        return frame

    def allocate_run(self, count: int) -> int:
        """`count` consecutive frames (a real-mode machine's RAM must be contiguous)."""
        return self._exclusive(self._take_run, count)

    def _take_run(self, count: int) -> int:
        if self.in_use + count > self.frame_limit:
            raise NtStatusError(STATUS_NO_MEMORY, "out of memory: the machine's limit (--max-memory)")
        if self._next + count > self.frame_count:
            raise NtStatusError(STATUS_NO_MEMORY, "physical memory is exhausted")
        first = self._next
        self._next += count
        self.in_use += count
        return first

    def _exclusive(self, work, *args):
        """Run `work` on the free lists, then give back what was freed meanwhile."""
        if self._busy:
            raise RuntimeError("physical memory allocated from inside an allocation")
        self._busy = True
        try:
            return work(*args)
        finally:
            while self._pending:
                self._discard_all(self._pending.pop())
            self._busy = False

    def share(self, frame: int) -> None:
        """One more page-table entry points at `frame` (fork: parent and child share it)."""
        self.shares[frame] += 1

    def share_all(self, frames) -> None:
        """`share` for many frames at once (a fork's private pages)."""
        self.shares.update(frames)

    def is_shared(self, frame: int) -> bool:
        return frame in self.shares

    def release(self, frame: int, batch: list[int] | None = None) -> bool:
        """A page-table entry lets go of `frame`: the frame is freed when it was the last
        (into `batch`, when given, for the caller to `free` at once: giving host memory
        back costs a system call per run of frames, not per frame). Returns whether it
        was (or is to be) freed."""
        extra = self.shares.get(frame)
        if extra:
            if extra == 1:
                del self.shares[frame]
            else:
                self.shares[frame] = extra - 1
            return False
        if batch is None:
            self.free([frame])
        else:
            batch.append(frame)
        return True

    def free(self, frames) -> None:
        """Give frames back: their host memory goes back to the host (and reads as zeros
        when a frame is used again). Consecutive frames go back in one call."""
        self._pending.append(list(frames))      # (one atomic step: see _exclusive)
        if not self._busy:
            self._exclusive(lambda: None)

    def _discard_all(self, frames: list[int]) -> None:
        run_start = run_end = None
        for frame in sorted(frames):
            if frame == run_end:
                run_end += 1
                continue
            if run_start is not None:
                self._discard(run_start, run_end)
            run_start, run_end = frame, frame + 1
        if run_start is not None:
            self._discard(run_start, run_end)

    def _discard(self, first: int, end: int) -> None:
        self.in_use -= end - first
        self.ram.madvise(mmap.MADV_DONTNEED, first * PAGE_SIZE, (end - first) * PAGE_SIZE)
        if first < LOW_FRAMES:
            low_end = min(end, LOW_FRAMES)
            self._free_low.extend(range(first, low_end))
            first = low_end
        self._free.extend(range(first, end))

    # --- addresses and contents ---------------------------------------------------------------

    @staticmethod
    def physical_address(frame: int) -> int:
        return PHYSICAL_BASE + frame * PAGE_SIZE

    @staticmethod
    def frame_at(physical: int) -> int:
        return (physical - PHYSICAL_BASE) // PAGE_SIZE

    def host_address(self, frame: int) -> int:
        return self.host_base + frame * PAGE_SIZE

    def read(self, frame: int, offset: int = 0, size: int = PAGE_SIZE) -> bytes:
        start = frame * PAGE_SIZE + offset
        return self.bytes[start:start + size].tobytes()

    def write(self, frame: int, offset: int, data) -> None:
        start = frame * PAGE_SIZE + offset
        self.bytes[start:start + len(data)] = data

    def copy(self, source: int, target: int) -> None:
        """Copy a whole frame: copy-on-write."""
        self.bytes[target * PAGE_SIZE:(target + 1) * PAGE_SIZE] = \
            self.bytes[source * PAGE_SIZE:(source + 1) * PAGE_SIZE]

    def zero(self, frame: int, offset: int = 0, size: int = PAGE_SIZE) -> None:
        start = frame * PAGE_SIZE + offset
        self.bytes[start:start + size] = _ZERO_PAGE[:size]


_machine_ram: PhysicalMemory | None = None


def ram() -> PhysicalMemory:
    """The RAM every processor in this host process maps (made on first use)."""
    global _machine_ram
    if _machine_ram is None:
        _machine_ram = PhysicalMemory()
    return _machine_ram
