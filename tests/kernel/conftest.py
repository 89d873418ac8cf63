"""Fixtures that boot a small NT machine: the kernel, CSRSS with a captured console, and
one process whose thread is current, so a test calls `nt.NtCreateFile(...)` the way a
personality does."""

from __future__ import annotations

import pytest

from ntsim.kernel.kernel import Kernel
from ntsim.kernel.processes import Process
from ntsim.kernel.services import NtServices
from ntsim.subsystems.windows.csrss import CapturedConsole, Csrss


@pytest.fixture
def root(tmp_path):
    """The directory that backs C:."""
    directory = tmp_path / "root"
    directory.mkdir()
    return directory


@pytest.fixture
def console() -> CapturedConsole:
    return CapturedConsole()


@pytest.fixture
def kernel(root, console) -> Kernel:
    k = Kernel(str(root), deterministic=True)
    k.smss.register_subsystem("Windows", lambda kernel: Csrss(kernel, console), required=True)
    k.boot()
    return k


@pytest.fixture
def process(kernel) -> Process:
    """A process with an x86-64 address space; its first thread is the current thread."""
    p = kernel.create_process("test.exe", architecture="x86-64")
    kernel.current_thread = kernel.create_thread(p)
    return p


@pytest.fixture
def nt(kernel, process) -> NtServices:
    return kernel.services
