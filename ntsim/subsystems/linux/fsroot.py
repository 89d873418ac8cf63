"""chroot: a process's own root directory.

Linux keeps a root directory per process (fs_struct.root): every absolute name, every
absolute symbolic link and every `..` at the top is resolved against it. Here the root
is the NT process's `root_parts`, which the volume's name walk honours (kernel/fs/
volume.py: `..` stops there, an absolute link starts again from there, and a file's
name is given from there). fork passes it on; exec keeps it.
"""

from __future__ import annotations

from ...kernel.io import FILE_DIRECTORY_FILE, FILE_OPEN
from . import procfs
from .errno import EPERM, LinuxError
from .files import FILE_TRAVERSE, file_object, guest_path, nt_open
from .identity import capable
from .lxfs import AT_FDCWD, lexical
from .task import Task

CAP_SYS_CHROOT = 18


def sys_chroot(task: Task, path: int) -> int:
    """chroot(path): the caller's root becomes `path` (a directory it may search).
    CAP_SYS_CHROOT is needed (EPERM otherwise). The working directory does not move, as
    on Linux; one outside the new root is shown from the new root (`/`), since this
    model names a working directory by its path."""
    target = guest_path(task, AT_FDCWD, task.read_string(path))
    if not capable(task, CAP_SYS_CHROOT):
        raise LinuxError(EPERM, "chroot needs CAP_SYS_CHROOT")
    if procfs.claims(lexical(target)):
        raise LinuxError(EPERM, f"{target}: a root inside /proc is not modelled")
    handle = nt_open(task, target, FILE_TRAVERSE, FILE_OPEN, FILE_DIRECTORY_FILE)
    try:
        parts = tuple(file_object(task, handle).context.parts)
    finally:
        task.nt.NtClose(handle)
    process = task.thread.process
    old = process.root_parts
    process.root_parts = parts
    # the working directory, named from the new root: the same directory if it lies
    # inside, else the new root
    lx = task.lx
    cwd_parts = tuple(old) + tuple(p for p in lx.cwd.split("/") if p)
    lx.cwd = "/" + "/".join(cwd_parts[len(parts):]) if cwd_parts[:len(parts)] == parts else "/"
    return 0
