"""Linux pipes on NT named pipes.

`pipe2(fds, flags)` makes the two calls kernel32's CreatePipe makes:
NtCreateNamedPipeFile creates an inbound pipe on `\\Device\\NamedPipe` and opens its
server end, which becomes the read end; NtOpenFile of the same name connects the client
end, which becomes the write end. Each fd is a handle to one of the two file objects,
so `dup` and `fork` share an end exactly as Linux shares an open file description, and
the pipe learns that an end has closed when the last handle to its file object does.

Reads and writes are NtReadFile and NtWriteFile. Where Linux and NT name things
differently, this module translates:

- O_NONBLOCK is the end's completion mode (FilePipeInformation): FILE_PIPE_COMPLETE_OPERATION
  never waits. An empty read fails with STATUS_PIPE_EMPTY, a full write completes with
  what fit; Linux says EAGAIN for both when nothing moved.
- a read whose writer has gone is STATUS_PIPE_BROKEN on NT and end of file (0) on Linux;
- a write whose reader has gone is STATUS_PIPE_BROKEN too: SIGPIPE, then EPIPE (or the
  count written before the reader went, which Linux returns instead).

A FIFO (mkfifo, mknod S_IFIFO) is a pipe with a name in the file system: lxfs keeps the
node as a host file whose $LXMOD says S_IFIFO, and `open_fifo` opens the node's pipe on
NPFS, named after the node's device and inode (`\\Device\\NamedPipe\\Lxss.Fifo.dev803.ino1234`),
so every path and hard link to the node meets the same pipe. The first open makes it
(NtCreateNamedPipeFile, a FIFO instance: see kernel/fs/pipe.py), every later one joins it
(NtOpenFile); when the last end closes the pipe goes, and what it held with it. Linux's
open of a FIFO waits for the other side — a reader for a writer, a writer for a reader —
which is NtFsControlFile(FSCTL_PIPE_LISTEN), ConnectNamedPipe's request: the thread parks
until a partner opens, and a signal ends the wait (EINTR, or the open again with SA_RESTART).
O_NONBLOCK: a reader never waits; a writer with no reader finds the pipe listening
(STATUS_PIPE_LISTENING), or no pipe at all, and gets ENXIO. O_RDWR never waits: it is
both sides itself. Once open, a FIFO's fd is a pipe end like pipe()'s, which keeps a
second handle, to the node on the volume (`FdEntry.node`, as Linux's open file keeps its
inode): fstat shows the node as it is now, and fchmod, fchown and futimens change it.
"""

from __future__ import annotations

import itertools
import struct
from functools import partial

from ...kernel.dispatcher import WaitPending, then
from ...kernel.fs.pipe import (
    DEFAULT_QUOTA,
    FILE_PIPE_BYTE_STREAM_MODE,
    FILE_PIPE_COMPLETE_OPERATION,
    FILE_PIPE_QUEUE_OPERATION,
    FILE_SHARE_WRITE,
    PipeInformation,
)
from ...kernel.io import (
    FILE_CREATE,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_WRITE_DATA,
    FSCTL_PIPE_LISTEN,
    SYNCHRONIZE,
    FileInternalInformation,
    FilePipeInformation,
    FilePipeLocalInformation,
    FileStatLx,
    FileStatLxInformation,
)
from ...kernel.status import (
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_PIPE_BROKEN,
    STATUS_PIPE_CONNECTED,
    STATUS_PIPE_EMPTY,
    STATUS_PIPE_LISTENING,
    NtStatusError,
)
from . import signals
from .errno import EAGAIN, EBADF, EINVAL, ENOTTY, ENXIO, LinuxError
from .fdtable import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECT,
    O_EXCL,
    O_NOCTTY,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    FdEntry,
    OpenFile,
)
from .identity import creds
from .lxfs import dev_number
from .task import Task

FIONREAD, FIONBIO = 0x541B, 0x5421
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
FCNTL_COMMANDS = (F_SETPIPE_SZ, F_GETPIPE_SZ)
_serial = itertools.count(1)      # like kernel32's ProcessPipeId: names never repeat


def pipe_name(task: Task) -> str:
    """A fresh NPFS name, in the shape CreatePipe gives its pipes."""
    return f"\\Device\\NamedPipe\\Lxss.{task.pid:08x}.{next(_serial):08x}"


# --- pipe and pipe2 ----------------------------------------------------------------------------


def sys_pipe(task: Task, fds: int) -> int:
    return _make_pipe(task, fds, 0)


def sys_pipe2(task: Task, fds: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        raise LinuxError(EINVAL, f"pipe2 flags {flags:#o}")
    if flags & O_DIRECT:
        raise LinuxError(EINVAL, "packet-mode pipes (O_DIRECT) are not modelled")
    return _make_pipe(task, fds, flags)


def _make_pipe(task: Task, address: int, flags: int) -> int:
    nt = task.nt
    mode = FILE_PIPE_COMPLETE_OPERATION if flags & O_NONBLOCK else FILE_PIPE_QUEUE_OPERATION
    name = pipe_name(task)
    identity = creds(task)
    # Inbound (FILE_SHARE_WRITE): data flows from the client end to the server end only,
    # as a Linux pipe is one-way; its 64 KiB quota is Linux's default pipe capacity.
    read_handle = nt.NtCreateNamedPipeFile(
        name, FILE_READ_DATA | SYNCHRONIZE, FILE_SHARE_WRITE, FILE_CREATE, FILE_SYNCHRONOUS_IO_NONALERT,
        CompletionMode=mode, MaximumInstances=1, InboundQuota=DEFAULT_QUOTA, OutboundQuota=0,
        lx_owner=(identity.euid, identity.egid))
    try:
        write_handle = nt.NtOpenFile(name, FILE_WRITE_DATA | SYNCHRONIZE, FILE_SYNCHRONOUS_IO_NONALERT)
    except NtStatusError:
        nt.NtClose(read_handle)
        raise
    if mode == FILE_PIPE_COMPLETE_OPERATION:     # NtOpenFile connects a waiting end
        nt.NtSetInformationFile(write_handle, FilePipeInformation,
                                PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))
    # /proc/self/fd/N shows a pipe as pipe:[inode]; NPFS's file id is that inode.
    path = f"pipe:[{nt.NtQueryInformationFile(read_handle, FileInternalInformation)}]"
    status = flags & O_NONBLOCK
    cloexec = bool(flags & O_CLOEXEC)
    table = task.lx.fds
    try:
        read_fd = table.install(FdEntry(read_handle, OpenFile(path, O_RDONLY | status, "pipe"), cloexec))
    except LinuxError:
        nt.NtClose(read_handle)
        nt.NtClose(write_handle)
        raise
    try:
        write_fd = table.install(FdEntry(write_handle, OpenFile(path, O_WRONLY | status, "pipe"), cloexec))
    except LinuxError:
        table.remove(read_fd)
        nt.NtClose(read_handle)
        nt.NtClose(write_handle)
        raise
    try:
        task.write(address, struct.pack("<ii", read_fd, write_fd))
    except LinuxError:
        for fd, handle in ((read_fd, read_handle), (write_fd, write_handle)):
            table.remove(fd)
            nt.NtClose(handle)
        raise
    return 0


# --- FIFOs: open(2) of a named pipe -----------------------------------------------------------


def fifo_name(node: FileStatLx) -> str:
    """The NPFS name of a FIFO node's pipe: its device and inode, as `stat` shows them."""
    serial = node.VolumeSerialNumber
    device = dev_number(serial >> 8 & 0xFFF, serial & 0xFF)
    return f"\\Device\\NamedPipe\\Lxss.Fifo.dev{device:x}.ino{node.FileId}"


def open_fifo(task: Task, path: str, node: int, flags: int) -> int:
    """open(2) of a FIFO (fifo(7)): join the node's pipe, or make it, then wait for the
    other side unless the open never waits (see the module's notes). `node` is a handle
    to the FIFO's node on the volume: the fd keeps it, and it is closed if the open fails."""

    def layer(get) -> int:
        try:
            return get()
        except WaitPending as pending:
            # a signal that ends the wait ends the open: the node's handle goes too
            pending.on_cancel.append(lambda: task.nt.NtClose(node))
            pending.wrap(layer)
            raise
        except (LinuxError, NtStatusError):
            task.nt.NtClose(node)
            raise

    return layer(lambda: _open_fifo(task, path, node, flags))


def _open_fifo(task: Task, path: str, node: int, flags: int) -> int:
    nt = task.nt
    accmode = flags & O_ACCMODE
    nonblocking = bool(flags & O_NONBLOCK)
    access = {O_RDONLY: FILE_READ_DATA, O_WRONLY: FILE_WRITE_DATA,
              O_RDWR: FILE_READ_DATA | FILE_WRITE_DATA}[accmode]
    mode = FILE_PIPE_COMPLETE_OPERATION if nonblocking else FILE_PIPE_QUEUE_OPERATION
    name = fifo_name(nt.NtQueryInformationFile(node, FileStatLxInformation))
    no_reader = f"{path}: no process has the FIFO open for reading (O_NONBLOCK)"
    task.lx.fds.lowest_free()              # EMFILE before any wait, as Linux takes the fd first
    try:
        handle = nt.NtOpenFile(name, access | SYNCHRONIZE, FILE_SYNCHRONOUS_IO_NONALERT)
    except NtStatusError as error:
        if error.status != STATUS_OBJECT_NAME_NOT_FOUND:
            raise
        if accmode == O_WRONLY and nonblocking:
            raise LinuxError(ENXIO, no_reader) from None
        identity = creds(task)
        handle = nt.NtCreateNamedPipeFile(
            name, access | SYNCHRONIZE, FILE_SHARE_WRITE, FILE_CREATE, FILE_SYNCHRONOUS_IO_NONALERT,
            CompletionMode=mode, MaximumInstances=1, InboundQuota=DEFAULT_QUOTA, OutboundQuota=0,
            lx_owner=(identity.euid, identity.egid), lx_fifo=True)
    else:
        if nonblocking:                    # NtOpenFile opens an end that waits
            try:
                nt.NtSetInformationFile(handle, FilePipeInformation,
                                        PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))
            except NtStatusError:
                nt.NtClose(handle)
                raise
    opened = OpenFile(path, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), "pipe")

    def install() -> int:
        try:
            return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC), node))
        except LinuxError:
            nt.NtClose(handle)
            raise

    if accmode == O_RDWR or (accmode == O_RDONLY and nonblocking):
        return install()

    def layer(get) -> int:
        try:
            get()
        except WaitPending as pending:
            # A signal that ends the wait ends the open: this end goes (Linux: err_rd/err_wr)
            pending.on_cancel.append(lambda: nt.NtClose(handle))
            pending.wrap(layer)
            raise
        except NtStatusError as error:
            if error.status != STATUS_PIPE_CONNECTED:      # the other side is already there
                nt.NtClose(handle)
                if error.status == STATUS_PIPE_LISTENING:  # no reader, and O_NONBLOCK
                    raise LinuxError(ENXIO, no_reader) from None
                raise
        return install()

    return layer(lambda: nt.NtFsControlFile(handle, FSCTL_PIPE_LISTEN))


# --- read and write ----------------------------------------------------------------------------


def read(task: Task, entry: FdEntry, count: int, post):
    """read(2) on a pipe: NtReadFile, then `post(data)` (at once, or when a wait ends)."""

    def failed(error: Exception) -> bytes:
        if isinstance(error, NtStatusError):
            if error.status == STATUS_PIPE_BROKEN:
                return b""                     # no writer left: end of file
            if error.status == STATUS_PIPE_EMPTY:
                raise LinuxError(EAGAIN, "the pipe is empty (O_NONBLOCK)") from None
        raise error

    return then(lambda: task.nt.NtReadFile(entry.handle, count, None), post, failed=failed)


def write(task: Task, entry: FdEntry, data: bytes, signal: bool = True) -> int:
    """write(2) on a pipe: NtWriteFile, which completes when all is written (or, for an
    O_NONBLOCK end, with what fit). `signal` False: no SIGPIPE (send's MSG_NOSIGNAL)."""
    if not data:
        return 0                               # a null write succeeds, reader or not
    return _write_layer(task, entry, signal, lambda: task.nt.NtWriteFile(entry.handle, data, None))


def _write_layer(task: Task, entry: FdEntry, signal: bool, get) -> int:
    """`write`'s step after NtWriteFile, now or when its wait ends (bound with partial:
    a closure that wrapped itself would be a reference cycle left on every write)."""
    try:
        written = get()
    except WaitPending as pending:
        pending.wrap(partial(_write_layer, task, entry, signal))
        raise
    except NtStatusError as error:
        if error.status != STATUS_PIPE_BROKEN:
            raise
        if signal:
            signals.broken_pipe(task, entry.file.path)
        some = getattr(error, "information", 0)
        if some:
            return some
        raise
    if not written:
        raise LinuxError(EAGAIN, "the pipe is full (O_NONBLOCK)")
    return written


# --- descriptors: O_NONBLOCK and ioctl ---------------------------------------------------------


def set_status_flags(task: Task, entry: FdEntry, flags: int) -> None:
    """fcntl(F_SETFL) on a pipe end, before the flags are recorded: O_NONBLOCK becomes the
    end's completion mode. O_DIRECT would switch Linux's packet mode, which is not
    modelled: EINVAL, as pipe2 gives for it."""
    if (flags ^ entry.file.flags) & O_DIRECT:
        raise LinuxError(EINVAL, "packet-mode pipes (O_DIRECT) are not modelled")
    mode = FILE_PIPE_COMPLETE_OPERATION if flags & O_NONBLOCK else FILE_PIPE_QUEUE_OPERATION
    info = task.nt.NtQueryInformationFile(entry.handle, FilePipeInformation)
    if info.CompletionMode != mode:
        task.nt.NtSetInformationFile(entry.handle, FilePipeInformation,
                                     PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))


def fcntl(task: Task, entry: FdEntry, cmd: int, arg: int) -> int:
    """F_GETPIPE_SZ: the capacity (the pipe's inbound quota). F_SETPIPE_SZ would change
    it, which NPFS never does after the create: EINVAL, noted in the table."""
    if entry.file.kind != "pipe":
        raise LinuxError(EBADF, "not a pipe")
    if cmd == F_SETPIPE_SZ:
        raise LinuxError(EINVAL, "resizing a pipe is not modelled (NPFS fixes its quota at create)")
    return task.nt.NtQueryInformationFile(entry.handle, FilePipeLocalInformation).InboundQuota


def ioctl(task: Task, entry: FdEntry, request: int, arg: int) -> int:
    """FIONREAD: how many bytes wait in the pipe (Linux answers it at either end).
    (FIONBIO, which Linux answers for every file, is files.sys_ioctl's.)"""
    if request != FIONREAD:
        raise LinuxError(ENOTTY, f"ioctl {request:#x} on a pipe")
    info = task.nt.NtQueryInformationFile(entry.handle, FilePipeLocalInformation)
    if entry.file.flags & 3 == O_RDONLY:
        queued = info.ReadDataAvailable
    else:          # the write end of an inbound pipe: its quota, less what is free
        queued = info.InboundQuota - info.WriteQuotaAvailable
    task.write_u32(arg, queued)
    return 0
