"""The console device's readiness: a question to CSRSS over LPC, and its input event.

The host side here is a real pipe standing in for the terminal, so "no input yet" and
"input arrived" are both possible (a captured console always has its input ready).
"""

from __future__ import annotations

import os

import pytest

from ntsim.kernel.io import FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.kernel import Kernel
from ntsim.subsystems.windows.csrss import CapturedConsole, Csrss, HostConsole


@pytest.fixture
def host_pipe():
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def boot(root, console) -> Kernel:
    kernel = Kernel(str(root), deterministic=True)
    kernel.smss.register_subsystem("Windows", lambda k: Csrss(k, console), required=True)
    kernel.boot()
    process = kernel.create_process("test.exe", architecture="x86-64")
    kernel.current_thread = kernel.create_thread(process)
    return kernel


def readiness(kernel, stream: str, access: int):
    handle = kernel.services.NtCreateFile(f"\\Device\\ConDrv\\{stream}", access, 1)
    file = kernel.current_thread.process.handles.lookup(handle)
    return file.device.readiness(file)


def test_input_is_ready_when_the_host_has_some(root, host_pipe):
    read_fd, write_fd = host_pipe
    os.write(write_fd, b"typed\n")
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    state = readiness(kernel, "Input", FILE_READ_DATA)
    assert state.readable and state.writable


def test_no_input_arms_the_watch_and_input_sets_the_event(root, host_pipe):
    read_fd, write_fd = host_pipe
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    state = readiness(kernel, "Input", FILE_READ_DATA)
    assert not state.readable
    (event,) = state.wait_read
    assert not event.signalled
    assert read_fd in kernel.dispatcher.host_inputs       # CSRSS asked to hear of input
    os.write(write_fd, b"x")
    kernel.dispatcher._poll_host_input(0)
    assert event.signalled
    assert read_fd not in kernel.dispatcher.host_inputs   # nobody waits for more
    assert readiness(kernel, "Input", FILE_READ_DATA).readable


def test_the_end_of_input_counts_as_ready(root, host_pipe):
    read_fd, write_fd = host_pipe
    os.close(write_fd)                                     # a read would return at once
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    assert readiness(kernel, "Input", FILE_READ_DATA).readable


def test_output_is_always_writable(root):
    kernel = boot(root, CapturedConsole())
    state = readiness(kernel, "Output", FILE_WRITE_DATA)
    assert state.writable and not state.broken
