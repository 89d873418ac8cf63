"""Linux memory calls on NT's memory manager.

`mmap` of anonymous memory is a page-granular reservation plus a commit (its pages stay
demand-zero until touched); PROT_NONE reserves without committing, the way glibc sets
aside its malloc arenas. `brk` grows the heap by reserving and committing the pages
after the program's last segment. `munmap` releases any page range: a pico process's
address space belongs to its provider, not to NT's rules about whole allocations.

`mmap` of a file is what WSL1 did: a section on the file (NtCreateSection) and a view of
it (NtMapViewOfSection). The view's pages are the file's pages, read when first touched.
MAP_PRIVATE makes the view copy-on-write (a page written becomes the process's own,
and the file never sees it); MAP_SHARED writes land in the file's pages, which every
other mapping of the file shares at once and which go back to the file on msync
(NtFlushVirtualMemory), munmap, or exit. Shared anonymous memory is a section with no
file, so it stays shared with children after fork.
"""

from __future__ import annotations

from ...kernel.cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_WRITECOPY,
)
from ...kernel.memory import (
    COPY_ON_WRITE,
    MEM_COMMIT,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_RESET,
    MEM_TOP_DOWN,
    PAGE_SIZE,
    page_ceil,
)
from ...kernel.services import NtCurrentProcess
from ...kernel.status import NtStatusError
from .errno import (
    EACCES,
    EBADF,
    EEXIST,
    EFAULT,
    EINVAL,
    ENODEV,
    ENOMEM,
    EOPNOTSUPP,
    EOVERFLOW,
    EPERM,
    LinuxError,
)
from .fdtable import O_ACCMODE, O_PATH, O_RDWR, O_WRONLY
from .files import signed32
from .task import Task

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE = 0x1, 0x2, 0x3, 0xF
MAP_FIXED, MAP_ANONYMOUS = 0x10, 0x20
MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED = 0x100, 0x800, 0x1000, 0x2000
MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK, MAP_STACK, MAP_HUGETLB = 0x4000, 0x8000, 0x10000, 0x20000, 0x40000
MAP_SYNC, MAP_FIXED_NOREPLACE = 0x80000, 0x100000
# what MAP_SHARED_VALIDATE accepts; any other bit is EOPNOTSUPP there (and ignored elsewhere)
MAP_KNOWN = (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE
             | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB
             | MAP_FIXED_NOREPLACE)
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
MMAP_CEILING = 0x7FFF_F700_0000      # mmap allocates downward from just below the stack
TASK_SIZE = 0x7FFF_FFFF_F000


def nt_protection(prot: int) -> int:
    """PROT_* to PAGE_*. x86 cannot make a page writable but unreadable, nor executable
    but unreadable, so Linux gives read access with either; so do we."""
    if prot & PROT_EXEC:
        return PAGE_EXECUTE_READWRITE if prot & PROT_WRITE else PAGE_EXECUTE_READ
    if prot & PROT_WRITE:
        return PAGE_READWRITE
    return PAGE_READONLY if prot & PROT_READ else PAGE_NOACCESS


def sys_mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    if length == 0 or offset & (PAGE_SIZE - 1) or prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC
                                                           | PROT_GROWSDOWN | PROT_GROWSUP):
        raise LinuxError(EINVAL, "length 0, unaligned offset or unknown PROT_ bits")
    size = page_ceil(length)
    if size > TASK_SIZE:
        raise LinuxError(ENOMEM)
    if offset + size >= 1 << 63:
        raise LinuxError(EOVERFLOW, "offset + length overflows off_t")
    kind = flags & MAP_TYPE
    if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        raise LinuxError(EINVAL, "neither MAP_SHARED nor MAP_PRIVATE")
    if kind == MAP_SHARED_VALIDATE and flags & ~MAP_KNOWN:
        raise LinuxError(EOPNOTSUPP, f"MAP_SHARED_VALIDATE with unknown flags {flags & ~MAP_KNOWN:#x}")
    shared = kind != MAP_PRIVATE
    entry = None if flags & MAP_ANONYMOUS else _mappable(task, fd, shared, prot)
    if entry is not None and entry.file.kind == "zero":
        entry = None              # /dev/zero maps as anonymous memory, shared or private
    base = _placement(task, addr, size, flags)
    protect = nt_protection(prot)
    nt = task.nt
    if entry is None and not shared:
        base = _anonymous(task, base, size, protect)
    else:
        # A section, a view of it, and the section handle closed: the view keeps the
        # section alive, as NT's views do. A shared mapping of a file opened O_RDWR may
        # be made writable later (mprotect), so its section allows writing from the start.
        if entry is None:
            section = nt.NtCreateSection(None, size, PAGE_READWRITE)
        else:
            may_write = shared and entry.file.flags & O_ACCMODE == O_RDWR
            section = nt.NtCreateSection(entry.handle, 0, PAGE_READWRITE if may_write
                                         else PAGE_WRITECOPY if not shared else PAGE_READONLY, pico=True)
        try:
            if not shared:        # what MAP_PRIVATE means to NT: copy-on-write
                protect = COPY_ON_WRITE.get(protect, protect)
            base, _ = nt.NtMapViewOfSection(section, NtCurrentProcess, base, offset if entry else 0,
                                            size, protect, AllocationType=0 if base else MEM_TOP_DOWN,
                                            copy_on_write=not shared, tag="mmap", pico=True,
                                            below=MMAP_CEILING)
        except NtStatusError as error:
            if error.status.name in ("STATUS_NO_MEMORY", "STATUS_CONFLICTING_ADDRESSES"):
                raise LinuxError(ENOMEM) from None
            raise
        finally:
            nt.NtClose(section)
    if flags & MAP_POPULATE and prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
        _populate(task, base, size)
    return base


def _mappable(task: Task, fd: int, shared: bool, prot: int):
    """The fd a file mapping maps, checked as Linux checks it."""
    entry = task.lx.fds.get(signed32(fd))
    opened = entry.file
    if opened.flags & O_PATH:
        raise LinuxError(EBADF, "an O_PATH descriptor")
    if opened.kind not in ("file", "zero"):
        raise LinuxError(ENODEV, f"a {opened.kind} cannot be mapped")
    if opened.flags & O_ACCMODE == O_WRONLY:
        raise LinuxError(EACCES, "the file is not open for reading")
    if shared and prot & PROT_WRITE and opened.flags & O_ACCMODE != O_RDWR:
        raise LinuxError(EACCES, "a writable shared mapping needs a file open O_RDWR")
    return entry


def _placement(task: Task, addr: int, size: int, flags: int) -> int:
    """Where the mapping goes: exactly at `addr` (MAP_FIXED, replacing what is there),
    at `addr` if it is free (a hint), or 0 (anywhere: downward from below the stack)."""
    memory = task.memory
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr & (PAGE_SIZE - 1):
            raise LinuxError(EINVAL, "MAP_FIXED address not page aligned")
        if addr + size > TASK_SIZE or addr < memory.lowest:
            # below vm.mmap_min_addr (64 KiB) Linux refuses with EPERM
            raise LinuxError(ENOMEM if addr + size > TASK_SIZE else EPERM,
                             f"{addr:#x} is outside the address space")
        if flags & MAP_FIXED_NOREPLACE:
            if not memory.is_free(addr, size):
                raise LinuxError(EEXIST, f"{addr:#x} is in use")
        else:
            task.nt.NtFreeVirtualMemory(NtCurrentProcess, addr, size, MEM_RELEASE, pico=True)
        return addr
    hint = addr & ~(PAGE_SIZE - 1)
    if hint and memory.lowest <= hint and hint + size <= MMAP_CEILING and memory.is_free(hint, size):
        return hint
    return 0


def _anonymous(task: Task, base: int, size: int, protect: int) -> int:
    """Private anonymous memory: reserved, and committed unless PROT_NONE; demand-zero."""
    try:
        base, _ = task.nt.NtAllocateVirtualMemory(
            NtCurrentProcess, base, size, MEM_RESERVE | (0 if base else MEM_TOP_DOWN),
            protect if protect != PAGE_NOACCESS else PAGE_READWRITE,
            tag="mmap", pico=True, below=MMAP_CEILING)
        if protect != PAGE_NOACCESS:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, base, size, MEM_COMMIT, protect)
    except NtStatusError:
        raise LinuxError(ENOMEM) from None
    return base


def _populate(task: Task, base: int, size: int) -> None:
    """MAP_POPULATE: fault the pages in now (a file's pages are read from it now)."""
    for page in range(base, base + size, PAGE_SIZE):
        try:
            task.memory.touch(page, 1)
        except NtStatusError:
            break                 # past the end of the file: Linux stops populating there too


def sys_munmap(task: Task, addr: int, length: int) -> int:
    if addr & (PAGE_SIZE - 1) or length == 0 or addr + length > TASK_SIZE:
        raise LinuxError(EINVAL)
    # A view unmapped, even in part, writes its changed pages back to the file first.
    task.nt.NtFreeVirtualMemory(NtCurrentProcess, addr, page_ceil(length), MEM_RELEASE, pico=True)
    return 0


def sys_mprotect(task: Task, addr: int, length: int, prot: int) -> int:
    if addr & (PAGE_SIZE - 1) or prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP):
        raise LinuxError(EINVAL)
    size = page_ceil(length)
    memory = task.memory
    protect = nt_protection(prot)
    _mapped(task, addr, size)
    # Pages reserved with PROT_NONE get committed when they first become accessible.
    start = addr
    while start < addr + size:
        vad = memory.find(start)
        end = min(vad.end, addr + size)
        # a private file mapping made writable is copy-on-write: its writes stay its own
        wanted = COPY_ON_WRITE.get(protect, protect) if vad.copy_on_write else protect
        uncommitted = len(vad.committed.slice(start, end)) < (end - start) // PAGE_SIZE
        if prot != 0 and uncommitted:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, start, end - start, MEM_COMMIT, wanted)
        # one call per run of committed pages whose protection changes
        changing = [(a, b) for a, b, value in vad.committed.slice(start, end).runs() if value != wanted]
        for run_start, run_end in _merged(changing):
            task.nt.NtProtectVirtualMemory(NtCurrentProcess, run_start, run_end - run_start, wanted)
        start = end
    return 0


# advice that only tells the kernel what to expect: Linux may ignore it, and so do we
MADV_HINTS = {0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
              12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE",
              15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP", 17: "MADV_DODUMP", 20: "MADV_COLD",
              21: "MADV_PAGEOUT", 25: "MADV_COLLAPSE"}
MADV_DONTNEED, MADV_FREE, MADV_REMOVE = 4, 8, 9
MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK = 10, 11, 18, 19
MADV_POPULATE_READ, MADV_POPULATE_WRITE = 22, 23


def sys_madvise(task: Task, addr: int, length: int, advice: int) -> int:
    if addr & (PAGE_SIZE - 1):
        raise LinuxError(EINVAL)
    size = page_ceil(length)
    if advice in MADV_HINTS:
        _mapped(task, addr, size)
        return 0
    if advice in (MADV_DONTNEED, MADV_FREE):
        vads = _mapped(task, addr, size)
        if advice == MADV_FREE and any(v.segment is not None for v in vads):
            raise LinuxError(EINVAL, "MADV_FREE is for private anonymous memory")
        # The contents are dropped (MEM_RESET): private pages come back zero-filled,
        # a file's pages come back from the file, a shared page is only unmapped.
        if size:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, addr, size, MEM_RESET, PAGE_NOACCESS)
        return 0
    if advice in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        _mapped(task, addr, size)
        try:
            task.memory.touch(addr, size, write=advice == MADV_POPULATE_WRITE)
        except NtStatusError:
            raise LinuxError(EFAULT, "a page cannot be populated") from None
        return 0
    if advice in (MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_REMOVE):
        raise LinuxError(EINVAL, "fork-time advice and MADV_REMOVE are not modelled")
    raise LinuxError(EINVAL, f"unknown advice {advice}")


def _merged(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent (start, end) runs joined."""
    joined: list[list[int]] = []
    for start, end in runs:
        if joined and joined[-1][1] == start:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def _mapped(task: Task, addr: int, size: int) -> list:
    """The VADs covering [addr, addr + size); ENOMEM if any page of it is not mapped."""
    memory = task.memory
    vads, page = [], addr
    while page < addr + size:
        vad = memory.find(page)
        if vad is None:
            raise LinuxError(ENOMEM, f"{page:#x} is not mapped")
        vads.append(vad)
        page = vad.end
    return vads


def sys_mremap(task: Task, old: int, old_size: int, new_size: int, flags: int, new: int) -> int:
    """Grow, shrink or move a mapping. Its pages keep what they are: private memory keeps
    its contents, a view stays a view of the same section (NT has no such call; WSL1's
    provider managed a pico process's address space itself, as this does)."""
    if old & (PAGE_SIZE - 1) or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) \
            or (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and not flags & MREMAP_MAYMOVE):
        raise LinuxError(EINVAL)
    if flags & MREMAP_DONTUNMAP:
        raise LinuxError(EINVAL, "MREMAP_DONTUNMAP is not modelled")
    old_size, new_size = page_ceil(old_size), page_ceil(new_size)
    if not new_size or not old_size:
        # old_size 0 duplicates a shared mapping in Linux; not modelled
        raise LinuxError(EINVAL, "a zero size")
    memory = task.memory
    try:
        _mapped(task, old, old_size)
    except LinuxError:
        raise LinuxError(EFAULT, f"{old:#x}+{old_size:#x} is not all mapped") from None
    if flags & MREMAP_FIXED:
        if new & (PAGE_SIZE - 1) or new + new_size > TASK_SIZE:
            raise LinuxError(EINVAL)
        if new < old + old_size and old < new + new_size:
            raise LinuxError(EINVAL, "the new range overlaps the old one")
        task.nt.NtFreeVirtualMemory(NtCurrentProcess, new, new_size, MEM_RELEASE, pico=True)
        return _move(task, old, old_size, new, new_size)
    if new_size <= old_size:
        if new_size < old_size:
            task.nt.NtFreeVirtualMemory(NtCurrentProcess, old + new_size, old_size - new_size,
                                        MEM_RELEASE, pico=True)
        return old
    if old + new_size <= TASK_SIZE and memory.is_free(old + old_size, new_size - old_size):
        memory.extend(old + old_size, new_size - old_size)
        return old
    if not flags & MREMAP_MAYMOVE:
        raise LinuxError(ENOMEM, "no room to grow in place, and MREMAP_MAYMOVE not given")
    try:
        new = memory.find_free(new_size, top_down=True, alignment=PAGE_SIZE, below=MMAP_CEILING)
    except NtStatusError:
        raise LinuxError(ENOMEM) from None
    return _move(task, old, old_size, new, new_size)


def _move(task: Task, old: int, old_size: int, new: int, new_size: int) -> int:
    memory = task.memory
    moved = min(old_size, new_size)
    memory.relocate(old, moved, new)
    if old_size > moved:
        task.nt.NtFreeVirtualMemory(NtCurrentProcess, old + moved, old_size - moved, MEM_RELEASE, pico=True)
    if new_size > moved:
        memory.extend(new + moved, new_size - moved)
    return new


def sys_msync(task: Task, addr: int, length: int, flags: int) -> int:
    if addr & (PAGE_SIZE - 1) or flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) \
            or flags & MS_ASYNC and flags & MS_SYNC:
        raise LinuxError(EINVAL)
    size = page_ceil(length)
    for vad in _mapped(task, addr, size):
        # Private memory has no file to write to; a private view's written pages are
        # its own, never the file's. Only shared views of files have anything to flush.
        if vad.section is not None and not vad.copy_on_write:
            low, high = max(addr, vad.base), min(addr + size, vad.end)
            task.nt.NtFlushVirtualMemory(NtCurrentProcess, low, high - low)
    return 0


def sys_mincore(task: Task, addr: int, length: int, vec: int) -> int:
    if addr & (PAGE_SIZE - 1):
        raise LinuxError(EINVAL)
    size = page_ceil(length)
    if addr + size > TASK_SIZE:
        raise LinuxError(ENOMEM)
    _mapped(task, addr, size)
    if size:
        task.write(vec, bytes(task.memory.resident(addr, size)))
    return 0


def past_end_of_file(memory, address: int) -> bool:
    """A fault in a view beyond the last page of its file: Linux sends SIGBUS, not SIGSEGV."""
    vad = memory.find(address)
    return vad is not None and vad.segment is not None and \
        (vad.offset + address - vad.base) // PAGE_SIZE >= vad.segment.page_count


def sys_brk(task: Task, addr: int) -> int:
    lx = task.lx
    if addr < lx.brk_start:
        return lx.brk
    old_top, new_top = page_ceil(lx.brk), page_ceil(addr)
    try:
        if new_top > old_top:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, old_top, new_top - old_top,
                                            MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE,
                                            tag="heap", pico=True)
        elif new_top < old_top:
            task.nt.NtFreeVirtualMemory(NtCurrentProcess, new_top, old_top - new_top,
                                        MEM_RELEASE, pico=True)
    except NtStatusError:
        return lx.brk          # Linux's brk reports failure by returning the old break
    lx.brk = addr
    return addr
