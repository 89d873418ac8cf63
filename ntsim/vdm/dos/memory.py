"""INT 21h memory: AH=48h, 49h, 4Ah, 58h, on a real MCB chain in conventional memory.

Conventional memory is a chain of *memory control blocks*: each block is preceded by a
16-byte MCB (a paragraph) that says

    00h  'M' (another block follows) or 'Z' (the last one)
    01h  the owner: the PSP segment of the program that owns it, 0 if free, 8 for DOS
    03h  the block's size in paragraphs (not counting the MCB)
    08h  the owner's name (DOS 4+), 8 bytes

The chain starts at FIRST_MCB (INT 21h AH=52h's List of Lists points at it) and covers
memory to the end of conventional memory, A000h. It lives in guest memory, where
programs walk it; a program that overwrites an MCB breaks the chain, and the next
allocation says so (error 7), as DOS does. Nothing here crosses to the NT kernel: the
VM's RAM was reserved when the machine was made.
"""

from __future__ import annotations

from typing import Any

from ...subsystems.base import call
from ..calls import (
    ERROR_ARENA_TRASHED,
    ERROR_INVALID_BLOCK,
    ERROR_INVALID_FUNCTION,
    ERROR_NOT_ENOUGH_MEMORY,
    DosError,
    Reg,
)
from ..machine import CONVENTIONAL_TOP, FIRST_MCB

FREE_OWNER, DOS_OWNER = 0, 8
FIRST_FIT, BEST_FIT, LAST_FIT = 0, 1, 2


def _read(vm: Any, segment: int) -> tuple[int, int, int]:
    at = segment << 4
    return vm.ram[at], vm.word(at + 1), vm.word(at + 3)


def _write(vm: Any, segment: int, kind: int, owner: int, size: int, name: bytes | None = None) -> None:
    at = segment << 4
    vm.ram[at] = kind
    vm.set_word(at + 1, owner)
    vm.set_word(at + 3, size)
    if name is not None:
        vm.ram[at + 8:at + 16] = name[:8].ljust(8, b"\x00")


def init_chain(vm: Any) -> None:
    """One free block from FIRST_MCB to the end of conventional memory."""
    _write(vm, FIRST_MCB, ord("Z"), FREE_OWNER, CONVENTIONAL_TOP - FIRST_MCB - 1, b"")


def blocks(vm: Any) -> list[tuple[int, int, int]]:
    """(MCB segment, owner, size) of every block, in order; DosError 7 if the chain
    is broken."""
    found = []
    segment = FIRST_MCB
    while True:
        kind, owner, size = _read(vm, segment)
        if kind not in (ord("M"), ord("Z")) or segment + 1 + size > CONVENTIONAL_TOP:
            raise DosError(ERROR_ARENA_TRASHED, f"memory control block at {segment:04X}h is damaged")
        found.append((segment, owner, size))
        if kind == ord("Z"):
            return found
        segment += 1 + size


def _merge_free(vm: Any) -> None:
    """Join adjacent free blocks (DOS does this as it walks the chain)."""
    chain = blocks(vm)
    index = 0
    while index < len(chain) - 1:
        segment, owner, size = chain[index]
        following = chain[index + 1]
        if owner == FREE_OWNER and following[1] == FREE_OWNER:
            last = following[0] == chain[-1][0]
            size += 1 + following[2]
            _write(vm, segment, ord("Z" if last else "M"), FREE_OWNER, size)
            chain[index:index + 2] = [(segment, FREE_OWNER, size)]
        else:
            index += 1


def largest_free(vm: Any) -> int:
    _merge_free(vm)
    return max((size for _, owner, size in blocks(vm) if owner == FREE_OWNER), default=0)


def note_use(vm: Any) -> None:
    """The most memory in use so far, for --stats."""
    vm.peak_paragraphs = max(vm.peak_paragraphs, used_paragraphs(vm))


def allocate(vm: Any, paragraphs: int, owner: int, name: bytes = b"") -> int:
    """A block of `paragraphs` for `owner`; returns its segment (the MCB's + 1)."""
    segment = _allocate(vm, paragraphs, owner, name)
    note_use(vm)
    return segment


def _allocate(vm: Any, paragraphs: int, owner: int, name: bytes) -> int:
    _merge_free(vm)
    chain = blocks(vm)
    free = [(segment, size) for segment, o, size in chain if o == FREE_OWNER and size >= paragraphs]
    if not free:
        raise DosError(ERROR_NOT_ENOUGH_MEMORY, f"{paragraphs:#x} paragraphs wanted, "
                       f"{largest_free(vm):#x} free in one block")
    strategy = vm.dos.strategy & 0x03
    if strategy == BEST_FIT:
        segment, size = min(free, key=lambda block: block[1])
    elif strategy == LAST_FIT:
        segment, size = free[-1]
    else:
        segment, size = free[0]
    last = segment == chain[-1][0]
    if strategy == LAST_FIT and size > paragraphs:
        # take the top of the block: the free part stays below it
        _write(vm, segment, ord("M"), FREE_OWNER, size - paragraphs - 1)
        segment += size - paragraphs
        _write(vm, segment, ord("Z" if last else "M"), owner, paragraphs, name)
        return segment + 1
    _split(vm, segment, paragraphs, size, last)
    _write(vm, segment, vm.ram[segment << 4], owner, paragraphs, name)
    return segment + 1


def _split(vm: Any, segment: int, paragraphs: int, size: int, last: bool) -> None:
    """Cut a block down to `paragraphs`; the rest (if a paragraph is left for its MCB)
    becomes a free block after it."""
    if size > paragraphs:
        _write(vm, segment + 1 + paragraphs, ord("Z" if last else "M"), FREE_OWNER, size - paragraphs - 1, b"")
        _write(vm, segment, ord("M"), vm.word((segment << 4) + 1), paragraphs)
    else:
        _write(vm, segment, ord("Z" if last else "M"), vm.word((segment << 4) + 1), size)


def _block(vm: Any, segment: int) -> tuple[int, int, int, bool]:
    """The chain entry whose block starts at `segment`: (MCB, owner, size, is last)."""
    chain = blocks(vm)
    for index, (mcb, owner, size) in enumerate(chain):
        if mcb + 1 == segment and owner != FREE_OWNER:
            return mcb, owner, size, index == len(chain) - 1
    raise DosError(ERROR_INVALID_BLOCK, f"no allocated block at {segment:04X}h")


def free(vm: Any, segment: int) -> None:
    mcb, owner, size, last = _block(vm, segment)
    _write(vm, mcb, ord("Z" if last else "M"), FREE_OWNER, size)
    _merge_free(vm)


def resize(vm: Any, segment: int, paragraphs: int) -> int:
    """Grow or shrink a block in place; DosError 8 with the largest size possible."""
    mcb, owner, size, last = _block(vm, segment)
    if paragraphs <= size:
        _split(vm, mcb, paragraphs, size, last)
        _merge_free(vm)
        return paragraphs
    available = size
    if not last:
        following = mcb + 1 + size
        kind, next_owner, next_size = _read(vm, following)
        if next_owner == FREE_OWNER:
            available = size + 1 + next_size
            if paragraphs <= available:
                next_last = kind == ord("Z")
                _write(vm, mcb, ord("Z" if next_last else "M"), owner, available)
                _split(vm, mcb, paragraphs, available, next_last)
                note_use(vm)
                return paragraphs
    raise TooBig(available)


class TooBig(DosError):
    """Error 8 from a resize, with the most the block can have."""

    def __init__(self, maximum: int) -> None:
        super().__init__(ERROR_NOT_ENOUGH_MEMORY, f"{maximum:#x} paragraphs at most here")
        self.maximum = maximum


def free_owned_by(vm: Any, psp: int) -> None:
    """A program ended: every block it owned is free again."""
    for mcb, owner, _size in blocks(vm):
        if owner == psp:
            vm.set_word((mcb << 4) + 1, FREE_OWNER)
    _merge_free(vm)


def used_paragraphs(vm: Any) -> int:
    """Paragraphs of conventional memory in use (blocks and their MCBs)."""
    try:
        return sum(size + 1 for _, owner, size in blocks(vm) if owner != FREE_OWNER)
    except DosError:
        return -1


# --- the calls ----------------------------------------------------------------------------------

def allocate_memory(vm: Any, bx: int) -> int:
    """AH=48h: allocate BX paragraphs; AX = the block's segment. On error 8, BX = the
    largest block there is."""
    try:
        segment = allocate(vm, bx, vm.dos.psp)
    except DosError as error:
        if error.code == ERROR_NOT_ENOUGH_MEMORY:
            vm.set(bx=largest_free(vm))
        raise
    vm.set(ax=segment)
    return segment


def free_memory(vm: Any, es: int) -> int:
    """AH=49h: free the block at ES."""
    free(vm, es)
    return 0


def resize_memory(vm: Any, bx: int, es: int) -> int:
    """AH=4Ah: resize the block at ES to BX paragraphs. On error 8, BX = the most it
    can have."""
    try:
        return resize(vm, es, bx)
    except TooBig as error:
        vm.set(bx=error.maximum)
        raise


def strategy(vm: Any, al: int, bx: int) -> int:
    """AH=58h: AL=00h gets the allocation strategy (AX), AL=01h sets it from BX (0 first
    fit, 1 best fit, 2 last fit); AL=02h/03h (upper memory links) say there is none."""
    function = al & 0xFF
    if function == 0:
        vm.set(ax=vm.dos.strategy)
        return vm.dos.strategy
    if function == 1:
        if bx & 0xFF3F > 2:
            raise DosError(ERROR_INVALID_FUNCTION, f"strategy {bx:#x}")
        vm.dos.strategy = bx & 0xFF
        return bx
    if function == 2:
        vm.set(al=0)
        return 0
    raise DosError(ERROR_INVALID_FUNCTION, f"AH=58h AL={function:02X}h: no upper memory")


ROWS = [
    call(0x48, "allocate memory", allocate_memory, ("bx", Reg())),
    call(0x49, "free memory", free_memory, ("es", Reg())),
    call(0x4A, "resize memory", resize_memory, ("bx", Reg()), ("es", Reg())),
    call(0x58, "allocation strategy", strategy, ("al", Reg(2)), ("bx", Reg())),
]
