"""The ELF loader: an x86-64 Linux executable into a pico process's address space.

What Linux's `load_elf_binary` does, on NT's memory manager:

1. check the header (an ELF64, little-endian, x86-64 executable or static-PIE);
2. reserve the span of the PT_LOAD segments and commit each segment's pages with its
   protection; copy the file's bytes in, the rest (.bss) stays demand-zero;
3. if there is a PT_INTERP, load the interpreter (ld.so) too, and start there;
4. build the initial stack: argc, argv, envp, and the auxiliary vector that tells the C
   library where its program headers are, the page size, 16 random bytes, ...

The loader reads the ELF header and program headers itself (fixed little-endian
records, `struct`); pyelftools parses for `describe` (ntsim info), which wants names.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

from ...kernel.cpu import (
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ...kernel.memory import MEM_COMMIT, MEM_RESERVE, PAGE_SIZE, page_ceil, page_floor
from ...kernel.services import NtCurrentProcess
from ..base import ImageError

ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62
MACHINES = {3: "i386", 62: "x86-64", 40: "ARM", 183: "AArch64", 243: "RISC-V", 8: "MIPS",
            20: "PowerPC", 21: "PowerPC64", 22: "S/390", 2: "SPARC", 43: "SPARC V9"}

PIE_BASE = 0x5555_5555_4000        # where Linux puts a PIE (ET_DYN) executable
INTERPRETER_BASE = 0x7F00_0000_0000
STACK_TOP = 0x7FFF_FFFF_F000
USER_TOP = 0x7FFF_FFFF_F000        # Linux's TASK_SIZE: no segment may end above it
STACK_SIZE = 8 * 1024 * 1024       # RLIMIT_STACK's usual 8 MiB
VDSO_BASE = 0x7FFF_F700_0000       # below the stack, as Linux places its vDSO near it

PF_X, PF_W, PF_R = 1, 2, 4

# auxiliary vector types
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = 23, 25, 26, 31, 33, 51

# CPUID.1:EDX as a Linux x86-64 reports it in AT_HWCAP (fpu, tsc, cmov, mmx, sse, sse2...)
HWCAP_X86_64 = 0x178BFBFF


def protection(flags: int) -> int:
    """ELF segment flags (PF_R/W/X) to an NT page protection."""
    readable, writable, executable = flags & PF_R, flags & PF_W, flags & PF_X
    if executable:
        return PAGE_EXECUTE_READWRITE if writable else PAGE_EXECUTE_READ
    if writable:
        return PAGE_READWRITE
    return PAGE_READONLY if readable else PAGE_NOACCESS


@dataclass
class LoadedImage:
    entry: int                 # where the first thread starts (the interpreter's entry if any)
    program_entry: int         # AT_ENTRY: the program's own entry
    phdr: int                  # AT_PHDR
    phent: int
    phnum: int
    brk: int                   # end of the highest segment: where the heap starts
    base: int                  # load bias of the program (0 for ET_EXEC)
    interpreter_base: int = 0  # AT_BASE
    interpreter: str = ""
    segments: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, protect)


def check_header(data: bytes) -> None:
    """Refuse what is not an x86-64 Linux executable, with one line that says why."""
    if len(data) < 4 or data[:4] != ELF_MAGIC:
        raise ImageError("not an ELF executable (no \\x7fELF magic)")
    if len(data) < 64:
        raise ImageError(f"truncated ELF: {len(data)} bytes, shorter than its header")
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if data[4] != 2 or machine != EM_X86_64:
        bits = {1: "32-bit", 2: "64-bit"}.get(data[4], "unknown class")
        name = MACHINES.get(machine, f"machine {machine}")
        raise ImageError(f"ELF for {name} ({bits}), not x86-64: lxss runs x86-64 Linux programs")
    if data[5] != 1:
        raise ImageError("big-endian ELF, not x86-64")
    kind = int.from_bytes(data[16:18], "little")
    if kind not in (2, 3):
        raise ImageError({1: "a relocatable object (.o), not an executable",
                          4: "a core dump, not an executable"}.get(kind, f"ELF type {kind}"))
    # Checked here, before pyelftools reads them: a cut-off file would otherwise fail
    # deep inside its parser with a message that names no part of the ELF.
    phoff = int.from_bytes(data[32:40], "little")
    phentsize, phnum = int.from_bytes(data[54:56], "little"), int.from_bytes(data[56:58], "little")
    if phnum and phentsize != 56:
        raise ImageError(f"damaged ELF: program header entries of {phentsize} bytes, not 56")
    if phoff + phnum * phentsize > len(data):
        raise ImageError(f"truncated ELF: program headers end at {phoff + phnum * phentsize:#x}, "
                         f"the file at {len(data):#x}")


def parse(data: bytes) -> ELFFile:
    """The whole ELF, through pyelftools: for describing an image (ntsim info)."""
    # Imported here, not at the top: pyelftools takes ~25 ms to import, and only
    # describing an image needs it (the loader reads the headers itself, below).
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    check_header(data)
    try:
        elf = ELFFile(io.BytesIO(data))
        segments = list(elf.iter_segments())
    except (ELFError, ValueError, OSError, Exception) as error:  # pyelftools raises assorted errors
        raise ImageError(f"truncated or damaged ELF: {error}") from None
    phoff, phnum, phentsize = elf["e_phoff"], elf["e_phnum"], elf["e_phentsize"]
    if phoff + phnum * phentsize > len(data):
        raise ImageError("truncated ELF: program headers run past the end of the file")
    loads = [s for s in segments if s["p_type"] == "PT_LOAD"]
    if not loads:
        raise ImageError("ELF has no loadable segments")
    for segment in loads:
        if segment["p_offset"] + segment["p_filesz"] > len(data):
            raise ImageError(f"truncated ELF: a segment ends at {segment['p_offset'] + segment['p_filesz']:#x}, "
                             f"the file at {len(data):#x}")
    return elf


def interpreter_of(data: bytes) -> str | None:
    for segment in read_layout(data).segments:
        if segment.type == PT_INTERP:
            return _interpreter_path(data, segment)
    return None


PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
ET_DYN = 3


@dataclass(frozen=True)
class Segment:
    """One program header (Elf64_Phdr), the fields the loader uses."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class Layout:
    """What the loader needs from an ELF: its header's fields and its program headers."""

    type: int                  # e_type: 2 ET_EXEC, 3 ET_DYN
    entry: int
    phoff: int
    phentsize: int
    phnum: int
    segments: list[Segment]


_EHDR = struct.Struct("<HHIQQQIHHHHHH")   # Elf64_Ehdr after e_ident
_PHDR = struct.Struct("<IIQQQQQQ")         # Elf64_Phdr


def read_layout(data: bytes) -> Layout:
    """Read the ELF header and the program headers, refusing what cannot be loaded.

    Fixed little-endian records, so `struct` reads them directly: through pyelftools this
    took ~1.7 ms an image, paid on every execve (100 rounds of fork+exec: 0.17 s)."""
    check_header(data)
    (kind, _machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     _shentsize, _shnum, _shstrndx) = _EHDR.unpack_from(data, 16)
    if phnum * phentsize > PAGE_SIZE:
        # Linux reads at most one page of program headers (load_elf_phdrs: ENOEXEC past it)
        raise ImageError(f"damaged ELF: {phnum} program headers, more than fit in a page")
    segments = []
    for index in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align = _PHDR.unpack_from(
            data, phoff + index * phentsize)
        segments.append(Segment(p_type, flags, offset, vaddr, filesz, memsz))
    loads = [s for s in segments if s.type == PT_LOAD]
    if not loads:
        raise ImageError("ELF has no loadable segments")
    for segment in loads:
        if segment.offset + segment.filesz > len(data):
            raise ImageError(f"truncated ELF: a segment ends at {segment.offset + segment.filesz:#x}, "
                             f"the file at {len(data):#x}")
        # what Linux's loader refuses too (EINVAL): more file than memory, or a segment
        # that does not fit in user space
        if segment.filesz > segment.memsz:
            raise ImageError(f"damaged ELF: a segment of {segment.memsz:#x} bytes holds "
                             f"{segment.filesz:#x} bytes of the file")
        if segment.vaddr + segment.memsz > USER_TOP:
            raise ImageError(f"damaged ELF: a segment at {segment.vaddr:#x} of {segment.memsz:#x} "
                             "bytes lies beyond user space")
    return Layout(kind, entry, phoff, phentsize, phnum, segments)


def _interpreter_path(data: bytes, segment: Segment) -> str:
    raw = data[segment.offset:segment.offset + segment.filesz]
    # Linux's checks: at least two bytes, at most PATH_MAX, ending in NUL (ENOEXEC)
    if not 2 <= len(raw) <= 4096 or raw[-1] != 0 or b"\0" in raw[:-1].rstrip(b"\0"):
        raise ImageError("damaged ELF: the interpreter's name (PT_INTERP) is not a NUL-terminated path")
    return raw.rstrip(b"\0").decode("utf-8", "replace")


def map_image(nt, data: bytes, base_hint: int) -> LoadedImage:
    """Map one ELF image's PT_LOAD segments; returns where everything landed."""
    elf = read_layout(data)
    loads = [s for s in elf.segments if s.type == PT_LOAD]
    is_pie = elf.type == ET_DYN
    low = page_floor(min(s.vaddr for s in loads))
    high = page_ceil(max(s.vaddr + s.memsz for s in loads))
    bias = (base_hint - low) if is_pie else 0
    span_base, span_size = low + bias, high - low
    # One reservation for the whole image, as the kernel does for a mapped image.
    nt.NtAllocateVirtualMemory(NtCurrentProcess, span_base, span_size, MEM_RESERVE,
                               PAGE_READWRITE, tag="image", pico=True)
    image = LoadedImage(entry=elf.entry + bias, program_entry=elf.entry + bias,
                        phdr=0, phent=elf.phentsize, phnum=elf.phnum,
                        brk=high + bias, base=bias if is_pie else 0)
    memory = nt.kernel.current_thread.process.memory
    for segment in loads:
        start = page_floor(segment.vaddr + bias)
        end = page_ceil(segment.vaddr + bias + segment.memsz)
        image.segments.append((start, end, protection(segment.flags)))
    runs = _runs(image.segments)
    needed = sum(size for _, size, _ in runs)
    if needed > nt.kernel.limits.max_memory:
        # Linux's loader cannot account for it either (the program dies with SIGSEGV)
        raise ImageError(f"its segments need {needed:,} bytes of memory, more than the "
                         "machine has (--max-memory)")
    for start, size, protect in runs:
        nt.NtAllocateVirtualMemory(NtCurrentProcess, start, size, MEM_COMMIT, protect)
    for segment in loads:
        file_bytes = data[segment.offset:segment.offset + segment.filesz]
        memory.write(segment.vaddr + bias, file_bytes)
        if segment.offset <= elf.phoff < segment.offset + segment.filesz:
            image.phdr = segment.vaddr + bias + elf.phoff - segment.offset
    for segment in elf.segments:
        if segment.type == PT_PHDR:
            image.phdr = segment.vaddr + bias
        if segment.type == PT_INTERP:
            image.interpreter = _interpreter_path(data, segment)
    return image


def _runs(segments: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The pages the segments cover, as (start, size, protect) runs: a page shared by
    two segments gets the rights of both. Worked on the segments' edges, not page by
    page, so a huge segment costs no more than a small one."""
    edges = sorted({edge for start, end, _ in segments for edge in (start, end)})
    runs: list[list[int]] = []
    for low, high in zip(edges, edges[1:], strict=False):
        protect = None
        for start, end, rights in segments:
            if start < high and end > low:
                protect = _union(protect, rights)
        if protect is None:
            continue
        if runs and runs[-1][0] + runs[-1][1] == low and runs[-1][2] == protect:
            runs[-1][1] += high - low
        else:
            runs.append([low, high - low, protect])
    return [tuple(run) for run in runs]


def _union(old: int | None, new: int) -> int:
    if old is None:
        return new
    rank = [PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE]
    executable = old in (PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE) or new in (PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE)
    writable = old in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE) or new in (PAGE_READWRITE, PAGE_EXECUTE_READWRITE)
    if executable:
        return PAGE_EXECUTE_READWRITE if writable else PAGE_EXECUTE_READ
    return PAGE_READWRITE if writable else max(old, new, key=rank.index)


def map_vdso(nt) -> int:
    """Map the vDSO (vdso/vdso.so: linux-vdso.so.1, whose functions make the system calls
    they stand for) and return its base, for AT_SYSINFO_EHDR."""
    global _VDSO
    if _VDSO is None:
        with open(os.path.join(os.path.dirname(__file__), "vdso", "vdso.so"), "rb") as stream:
            _VDSO = stream.read()
    base = map_image(nt, _VDSO, VDSO_BASE).base
    # Linux's vDSO pages hold the whole image, section headers too (a debugger reads
    # them from memory): the segments end before them, so the rest is written in
    nt.kernel.current_thread.process.memory.write(base, _VDSO)
    return base


_VDSO: bytes | None = None


def build_stack(nt, image: LoadedImage, argv: list[str], envp: list[str], execfn: str,
                random_bytes: bytes, ids: tuple[int, int, int, int], vdso: int = 0) -> int:
    """Reserve the stack, lay out argc/argv/envp/auxv at its top; returns the initial RSP."""
    base = STACK_TOP - STACK_SIZE
    # Reserved whole, committed as it is touched (MAP_GROWSDOWN), as Linux grows stacks.
    nt.NtAllocateVirtualMemory(NtCurrentProcess, base, STACK_SIZE, MEM_RESERVE,
                               PAGE_READWRITE, tag="stack", pico=True, grows_down=True)
    memory = nt.kernel.current_thread.process.memory
    cursor = STACK_TOP
    blobs: list[bytes] = []

    def push_bytes(blob: bytes) -> int:
        nonlocal cursor
        cursor -= len(blob)
        blobs.append(blob)      # written below, all in one write (not one per string)
        return cursor

    execfn_address = push_bytes(execfn.encode() + b"\0")
    env_addresses = [push_bytes(e.encode("utf-8", "surrogateescape") + b"\0") for e in reversed(envp)][::-1]
    arg_addresses = [push_bytes(a.encode("utf-8", "surrogateescape") + b"\0") for a in reversed(argv)][::-1]
    platform = push_bytes(b"x86_64\0")
    random_address = push_bytes(random_bytes[:16])
    memory.write(cursor, b"".join(reversed(blobs)))
    cursor &= ~0xF
    uid, euid, gid, egid = ids
    auxv = [
        (AT_SYSINFO_EHDR, vdso), (AT_MINSIGSTKSZ, 2048), (AT_HWCAP, HWCAP_X86_64),
        (AT_PAGESZ, PAGE_SIZE), (AT_CLKTCK, 100), (AT_PHDR, image.phdr), (AT_PHENT, image.phent),
        (AT_PHNUM, image.phnum), (AT_BASE, image.interpreter_base), (AT_FLAGS, 0),
        (AT_ENTRY, image.program_entry), (AT_UID, uid), (AT_EUID, euid), (AT_GID, gid),
        (AT_EGID, egid), (AT_SECURE, 0), (AT_RANDOM, random_address), (AT_HWCAP2, 0),
        (AT_EXECFN, execfn_address), (AT_PLATFORM, platform), (AT_NULL, 0),
    ]
    auxv = [(k, v) for k, v in auxv if k != AT_SYSINFO_EHDR or v]   # none without a vDSO
    words = [len(argv), *arg_addresses, 0, *env_addresses, 0]
    for key, value in auxv:
        words += [key, value]
    if len(words) % 2:
        words.append(0)   # keep RSP 16-byte aligned at entry, as the ABI requires
    blob = b"".join((w & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little") for w in words)
    cursor -= len(blob)
    memory.write(cursor, blob)
    return cursor
