"""The kernel object: client ids, process creation and exit, and running to completion."""

from __future__ import annotations

import pytest
from unicorn import UcError

from ntsim.kernel.io import FILE_OPEN, FILE_WRITE_DATA
from ntsim.kernel.memory import PAGE_READWRITE
from ntsim.kernel.processes import ThreadState
from ntsim.kernel.status import NtStatusError
from ntsim.trace import KERNEL, CollectingSink


def test_process_and_thread_ids_are_unique_multiples_of_four(kernel):
    process = kernel.create_process("a.exe")
    threads = [kernel.create_thread(process) for _ in range(3)]
    other = kernel.create_process("b.exe")
    ids = [process.pid, other.pid, *(t.tid for t in threads)]
    assert len(set(ids)) == len(ids)
    assert all(i % 4 == 0 and i > 0 for i in ids)


def test_the_system_process_is_the_first(kernel):
    assert min(kernel.processes) == kernel.system.pid
    assert kernel.system.name == "System"


def test_a_guest_process_gets_an_address_space_and_a_server_does_not(kernel):
    guest = kernel.create_process("guest", architecture="x86-64")
    host = kernel.create_process("host", is_server=True)
    assert guest.memory is not None and guest.cpu is not None
    assert host.memory is None


def test_exit_records_the_status_closes_handles_and_signals(kernel, nt, process):
    nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    kernel.terminate_process(process, 7, note="test")
    assert (process.alive, process.exit_status, process.exit_note) == (False, 7, "test")
    assert len(process.handles) == 0
    assert process.signalled
    assert all(t.state == ThreadState.TERMINATED for t in process.threads)
    assert process in kernel.exited


def test_csrss_forgets_a_client_that_exits(kernel, nt, process):
    handle = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    nt.NtWriteFile(handle, b"hi")
    csrss = kernel.smss.server("Windows")
    assert process.pid in csrss.clients
    kernel.terminate_process(process, 0)
    assert process.pid not in csrss.clients


def test_a_process_exits_once(kernel, process):
    kernel.terminate_process(process, 1)
    kernel.terminate_process(process, 2)
    assert process.exit_status == 1
    assert kernel.exited.count(process) == 1


def test_process_creation_and_exit_are_traced(kernel):
    sink = kernel.tracer.attach(CollectingSink())
    process = kernel.create_process("traced.exe")
    kernel.create_thread(process)
    kernel.terminate_process(process, 0)
    names = [(e.layer, e.name) for e in sink.events]
    assert names == [(KERNEL, "PspCreateProcess"), (KERNEL, "PspExitProcess")]
    assert sink.events[0].args["ProcessId"] == process.pid


def test_run_returns_when_every_guest_process_has_exited(kernel):
    process = kernel.create_process("quick.exe")
    thread = kernel.create_thread(process, host_body=lambda t: kernel.terminate_thread(t, 0))
    kernel.start_thread(thread)
    assert kernel.run() == "done"
    assert process.exit_status == 0


def test_deterministic_random_bytes_repeat(root):
    from ntsim.kernel.kernel import Kernel
    assert Kernel(str(root), deterministic=True).random_bytes(16) == \
        Kernel(str(root), deterministic=True).random_bytes(16)
    assert Kernel(str(root), seed=1).random_bytes(16) != Kernel(str(root), seed=2).random_bytes(16)


def test_a_reaped_process_gives_its_processor_to_the_next_one(kernel):
    """Building a unicorn engine is the dear part of a process: once a dead process is
    reaped, its processor, emptied, serves the next process; the dead one keeps its
    memory figures, and reading its memory says why it cannot."""
    first = kernel.create_process("first", architecture="x86-64")
    base, size = first.memory.commit(first.memory.reserve(0x10000, 0x4000, PAGE_READWRITE).base,
                                     0x4000, PAGE_READWRITE)
    first.memory.write(base, b"secret")
    processor, committed = first.cpu, first.memory.committed_bytes
    kernel.terminate_process(first, 0)
    kernel.recycle_processor(first)
    second = kernel.create_process("second", architecture="x86-64")
    assert second.cpu is processor and first.cpu is None
    assert first.memory.committed_bytes == committed == 0x4000
    with pytest.raises(NtStatusError, match="reaped"):
        first.memory.read(base, 6)
    with pytest.raises(UcError):                  # nothing of the first is mapped
        second.cpu.read(base, 6)


def test_a_live_process_keeps_its_processor(kernel, process):
    processor = process.cpu
    kernel.recycle_processor(process)
    assert process.cpu is processor
