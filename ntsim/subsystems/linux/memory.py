"""Linux memory calls on NT's memory manager.

`mmap` of anonymous memory is a page-granular reservation plus a commit (its pages stay
demand-zero until touched); PROT_NONE reserves without committing, the way glibc sets
aside its malloc arenas. `brk` grows the heap by reserving and committing the pages
after the program's last segment. `munmap` releases any page range: a pico process's
address space belongs to its provider, not to NT's rules about whole allocations.
"""

from __future__ import annotations

from ...kernel.cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ...kernel.memory import (
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_RELEASE,
    MEM_RESERVE,
    PAGE_SIZE,
    page_ceil,
)
from ...kernel.services import NtCurrentProcess
from ...kernel.status import NtStatusError
from .errno import EACCES, EEXIST, EINVAL, ENODEV, ENOMEM, LinuxError
from .fdtable import O_ACCMODE, O_WRONLY
from .files import read_bytes, signed32
from .task import Task

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x1, 0x2, 0x10, 0x20
MAP_GROWSDOWN, MAP_NORESERVE, MAP_POPULATE, MAP_STACK = 0x100, 0x4000, 0x8000, 0x20000
MAP_FIXED_NOREPLACE = 0x100000
MADV_DONTNEED, MADV_FREE = 4, 8
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
    if length == 0 or offset & (PAGE_SIZE - 1):
        raise LinuxError(EINVAL, "length 0 or unaligned offset")
    size = page_ceil(length)
    if size > TASK_SIZE:
        raise LinuxError(ENOMEM)
    kind = flags & 0x3
    if kind not in (MAP_SHARED, MAP_PRIVATE, 0x3):
        raise LinuxError(EINVAL, "neither MAP_SHARED nor MAP_PRIVATE")
    entry = None
    if not flags & MAP_ANONYMOUS:
        entry = task.lx.fds.get(signed32(fd))
        if entry.file.kind not in ("file", "zero"):
            raise LinuxError(ENODEV, f"cannot map a {entry.file.kind}")
        if entry.file.flags & O_ACCMODE == O_WRONLY:
            raise LinuxError(EACCES)
        if kind == MAP_SHARED and prot & PROT_WRITE:
            raise LinuxError(ENODEV, "writable MAP_SHARED file mappings are not modelled yet")
    memory = task.memory
    fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
    if fixed:
        if addr & (PAGE_SIZE - 1):
            raise LinuxError(EINVAL, "MAP_FIXED address not page aligned")
        if flags & MAP_FIXED_NOREPLACE and not memory.is_free(addr, size):
            raise LinuxError(EEXIST)
        if flags & MAP_FIXED:
            task.nt.NtFreeVirtualMemory(NtCurrentProcess, addr, size, MEM_RELEASE, pico=True)
        base = addr
    elif addr and addr + size <= TASK_SIZE and memory.is_free(addr & ~(PAGE_SIZE - 1), size) \
            and addr >= memory.lowest:
        base = addr & ~(PAGE_SIZE - 1)
    else:
        base = 0
    protect = nt_protection(prot)
    try:
        base, _ = task.nt.NtAllocateVirtualMemory(
            NtCurrentProcess, base, size, MEM_RESERVE, protect if protect != PAGE_NOACCESS else PAGE_READWRITE,
            tag="mmap", pico=True, below=MMAP_CEILING)
        if prot != 0:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, base, size, MEM_COMMIT, protect)
    except NtStatusError:
        raise LinuxError(ENOMEM) from None
    if entry is not None and entry.file.kind == "file":
        def fill(data: bytes) -> int:
            if prot == 0:
                return base
            memory.write(base, data)      # a private copy: what MAP_PRIVATE is until written
            return base
        return read_bytes(task, entry, length, offset, fill)
    return base


def sys_munmap(task: Task, addr: int, length: int) -> int:
    if addr & (PAGE_SIZE - 1) or length == 0:
        raise LinuxError(EINVAL)
    task.nt.NtFreeVirtualMemory(NtCurrentProcess, addr, page_ceil(length), MEM_RELEASE, pico=True)
    return 0


def sys_mprotect(task: Task, addr: int, length: int, prot: int) -> int:
    if addr & (PAGE_SIZE - 1):
        raise LinuxError(EINVAL)
    size = page_ceil(length)
    memory = task.memory
    protect = nt_protection(prot)
    for page in range(addr, addr + size, PAGE_SIZE):
        if memory.find(page) is None:
            raise LinuxError(ENOMEM, f"{page:#x} is not mapped")
    # Pages reserved with PROT_NONE get committed when they first become accessible.
    start = addr
    while start < addr + size:
        vad = memory.find(start)
        end = min(vad.end, addr + size)
        uncommitted = [p for p in range(start, end, PAGE_SIZE) if p not in vad.committed]
        if prot != 0 and uncommitted:
            task.nt.NtAllocateVirtualMemory(NtCurrentProcess, start, end - start, MEM_COMMIT, protect)
        run_start = None
        for page in range(start, end + PAGE_SIZE, PAGE_SIZE):   # one call per run of pages
            changes = page < end and page in vad.committed and vad.committed[page] != protect
            if changes and run_start is None:
                run_start = page
            elif not changes and run_start is not None:
                task.nt.NtProtectVirtualMemory(NtCurrentProcess, run_start, page - run_start, protect)
                run_start = None
        start = end
    return 0


def sys_madvise(task: Task, addr: int, length: int, advice: int) -> int:
    if addr & (PAGE_SIZE - 1):
        raise LinuxError(EINVAL)
    if advice in (MADV_DONTNEED, MADV_FREE):
        # The pages' contents are dropped: decommit and commit again, so they come
        # back demand-zero on the next touch.
        memory = task.memory
        for page in range(addr, addr + page_ceil(length), PAGE_SIZE):
            vad = memory.find(page)
            if vad is not None and page in vad.committed and page in vad.mapped:
                protect = vad.committed[page]
                task.nt.NtFreeVirtualMemory(NtCurrentProcess, page, PAGE_SIZE, MEM_DECOMMIT)
                task.nt.NtAllocateVirtualMemory(NtCurrentProcess, page, PAGE_SIZE, MEM_COMMIT, protect)
    return 0   # the other advice values are hints Linux may ignore too


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
