"""PSXSS's descriptor table: POSIX.1's numbering rules, sharing after dup and fork, exec."""

from __future__ import annotations

import pytest

from ntsim.subsystems.posix.errno import EBADF, EINVAL, EMFILE, PosixError
from ntsim.subsystems.posix.fdtable import (
    FILE,
    PIPE,
    TERMINAL,
    Descriptor,
    DescriptorTable,
    OpenFile,
)


def table_with(*kinds: str) -> DescriptorTable:
    table = DescriptorTable()
    for number, kind in enumerate(kinds):
        table.install(Descriptor(None if kind == TERMINAL else 0x100 + 4 * number, OpenFile(kind, 0)))
    return table


def test_new_descriptors_take_the_lowest_free_number():
    table = table_with(TERMINAL, TERMINAL, TERMINAL, FILE, FILE)
    table.remove(1)
    table.remove(3)
    assert table.install(Descriptor(0x200, OpenFile(FILE, 0))) == 1
    assert table.lowest_free() == 3
    assert table.lowest_free(minimum=4) == 5          # F_DUPFD: the lowest >= its argument


def test_a_closed_or_never_opened_descriptor_is_ebadf():
    table = table_with(TERMINAL)
    with pytest.raises(PosixError) as error:
        table.get(7)
    assert error.value.errno == EBADF
    table.remove(0)
    with pytest.raises(PosixError):
        table.remove(0)


def test_a_full_table_is_emfile_and_a_bad_minimum_einval():
    table = DescriptorTable(limit=3)
    for _ in range(3):
        table.install(Descriptor(None, OpenFile(TERMINAL, 0)))
    with pytest.raises(PosixError) as full:
        table.lowest_free()
    assert full.value.errno == EMFILE
    with pytest.raises(PosixError) as bad:
        DescriptorTable().lowest_free(minimum=-1)
    assert bad.value.errno == EINVAL


def test_fork_copies_numbers_and_handles_and_shares_each_open_file():
    parent = table_with(TERMINAL, PIPE, FILE)
    parent.get(2).cloexec = True
    child = parent.forked()
    assert sorted(child.entries) == [0, 1, 2]
    assert [child.get(fd).handle for fd in range(3)] == [parent.get(fd).handle for fd in range(3)]
    assert child.get(1).file is parent.get(1).file        # one open file description
    child.get(1).file.flags = 0o4000                       # O_NONBLOCK, set in one process...
    assert parent.get(1).file.flags == 0o4000               # ...is seen in the other
    child.get(2).cloexec = False                           # FD_CLOEXEC is per descriptor
    assert parent.get(2).cloexec


def test_exec_closes_only_the_close_on_exec_descriptors():
    table = table_with(TERMINAL, FILE, FILE, PIPE)
    table.get(1).cloexec = table.get(3).cloexec = True
    closed = table.close_on_exec()
    assert sorted(d.handle for d in closed) == [0x104, 0x10C]
    assert sorted(table.entries) == [0, 2]
