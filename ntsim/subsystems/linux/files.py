"""Linux file system calls, translated to NT I/O services.

`open` is NtCreateFile on the system volume (case-sensitive, with the Linux mode for
lxfs), `read` and `write` are NtReadFile and NtWriteFile, `getdents64` is
NtQueryDirectoryFile, `rename` is NtSetInformationFile(FileRenameInformation), and
`unlink` is a POSIX-semantics delete (FileDispositionInformationEx), as WSL1 did it.
"""

from __future__ import annotations

import struct
from functools import partial

from ...kernel.dispatcher import WaitPending, then
from ...kernel.io import (
    DELETE,
    FILE_APPEND_DATA,
    FILE_CREATE,
    FILE_DIRECTORY_FILE,
    FILE_DISPOSITION_DELETE,
    FILE_DISPOSITION_POSIX_SEMANTICS,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OPEN_REPARSE_POINT,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_TRAVERSE,
    FILE_WRITE_DATA,
    FILE_WRITE_TO_END_OF_FILE,
    FSCTL_GET_REPARSE_POINT,
    SYNCHRONIZE,
    DirectoryEntry,
    FileDispositionInformationEx,
    FileIdBothDirectoryInformation,
    FileNameInformation,
    FileObject,
    FilePositionInformation,
    FileRenameInformation,
    FileStandardInformation,
    FileStatLxInformation,
)
from ...kernel.services import DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ...kernel.status import NtStatusError
from . import locks, lxcore, pipes, procfs, signals, sockets, tty
from .errno import (
    EACCES,
    EBADF,
    EEXIST,
    EFAULT,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOSPC,
    ENOTDIR,
    ENOTTY,
    ENXIO,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    ERANGE,
    ESPIPE,
    EXDEV,
    LinuxError,
    errno_from_status,
)
from .fdtable import (
    O_ACCMODE,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    SETFL_FLAGS,
    FdEntry,
    OpenFile,
)
from .identity import CAP_DAC_OVERRIDE, capable, creds
from .lxfs import (
    AT_FDCWD,
    CONSOLE_MODE,
    MODELLED_DEVICES,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    device_stat,
    join,
    lexical,
    nt_name,
    pack_stat,
    pack_statx,
)
from .task import Task

AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = 0x100, 0x200, 0x400, 0x1000
AT_EACCESS = 0x200
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
FD_CLOEXEC = 1
FIONREAD = 0x541B
IOCTL_CONSOLE_GET_MODE = 0x500016   # our own control code for the console device
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
DT_TYPES = {0o140000: 12, 0o120000: 10, 0o100000: 8, 0o60000: 6, 0o40000: 4, 0o20000: 2, 0o10000: 1}
IOV_MAX = 1024
MAX_RW_COUNT = 0x7FFFF000     # Linux moves at most this much in one read or write
USER_SPACE_END = 0x7FFF_FFFF_F000   # TASK_SIZE: where user space ends


# --- helpers -----------------------------------------------------------------------------------


def guest_path(task: Task, dirfd: int, path: str) -> str:
    """The absolute Linux path a (dirfd, path) pair names, before resolution."""
    if not path:
        # "" names nothing; only the *at calls' AT_EMPTY_PATH lets it mean the fd itself.
        raise LinuxError(ENOENT, "empty path")
    if path.startswith("/"):
        return path
    if dirfd == AT_FDCWD or dirfd == (AT_FDCWD & 0xFFFFFFFF):
        return join(task.lx.cwd, path)
    entry = task.lx.fds.get(dirfd)
    if entry.file.kind not in ("directory", "procdir"):
        raise LinuxError(ENOTDIR, f"fd {dirfd} is not a directory")
    return join(entry.file.path, path)


def _off_proc(task: Task, absolute: str) -> str | None:
    """The path on the volume a name leads to, or None for a name inside /proc."""
    if not procfs.claims(lexical(absolute)):
        return absolute
    try:
        node = procfs.resolve(task, absolute, False)
    except LinuxError:
        return None
    return node + ("/" if names_directory(absolute) else "") if isinstance(node, str) else None


def volume_path(task: Task, absolute: str, follow: bool, creating: bool = False) -> str:
    """For a call that makes, removes or changes a name: the path to take to the volume.
    /proc takes no such change (EPERM on a name there, EEXIST to make one that exists,
    or the walk's ENOENT); a link through /proc that leads back out, /proc/self/cwd/x,
    gives the path it leads to."""
    if not procfs.claims(lexical(absolute)):
        return absolute
    node = procfs.resolve(task, absolute, follow)
    if isinstance(node, str):
        return node + ("/" if names_directory(absolute) else "")
    raise LinuxError(EEXIST if creating else EPERM, f"{absolute}: procfs")


def names_directory(path: str) -> bool:
    """`name/` asks for a directory: Linux follows a final symbolic link then, and answers
    ENOTDIR for anything else (path_resolution(7)). NT names have no trailing
    separator, so the slash would be lost on the way to the volume: callers check it."""
    return path.endswith("/")


def nt_open(task: Task, path: str, access: int, disposition: int = FILE_OPEN,
            options: int = 0, mode: int | None = None) -> int:
    """NtCreateFile for a Linux path: case-sensitive, synchronous, with the Linux mode."""
    return task.nt.NtCreateFile(nt_name(path), access | SYNCHRONIZE, disposition,
                                options | FILE_SYNCHRONOUS_IO_NONALERT, 0, lx_mode=mode)


def file_object(task: Task, handle: int) -> FileObject:
    """ObReferenceObjectByHandle: the pico provider runs in the kernel and may look."""
    return task.thread.process.handles.lookup(handle, FileObject)


def stat_of_path(task: Task, dirfd: int, path: str, follow: bool):
    """FILE_STAT_LX_INFORMATION for a path (or a modelled device's own metadata)."""
    absolute = guest_path(task, dirfd, path)
    if procfs.claims(lexical(absolute)):
        return procfs.stat_path(task, absolute, follow or names_directory(absolute))
    device = MODELLED_DEVICES.get(lexical(absolute))
    if device is not None:
        if names_directory(absolute):
            raise LinuxError(ENOTDIR, f"{absolute}: a device is not a directory")
        _, mode, major, minor = device
        return device_stat(mode, major, minor, task.kernel.clock.now_ns())
    if names_directory(absolute):
        options = FILE_DIRECTORY_FILE       # follows a final link, even for lstat
    else:
        options = 0 if follow else FILE_OPEN_REPARSE_POINT
    handle = nt_open(task, absolute, FILE_READ_ATTRIBUTES, FILE_OPEN, options)
    try:
        return task.nt.NtQueryInformationFile(handle, FileStatLxInformation)
    finally:
        task.nt.NtClose(handle)


def stat_of_fd(task: Task, fd: int):
    return stat_of_fd_entry(task, task.lx.fds.get(fd))


def stat_of_fd_entry(task: Task, entry: FdEntry):
    kind = entry.file.kind
    now = task.kernel.clock.now_ns()
    if kind == "console":
        # A terminal is a pty character device (major 136), which C libraries take as
        # "line-buffer this"; redirected, the host end is a pipe or a file, so the
        # guest sees a FIFO and buffers fully, as it would natively.
        file = file_object(task, entry.handle)
        if file.device.get_mode(file)["is_terminal"]:
            return device_stat(*CONSOLE_MODE, now)
        return device_stat(S_IFIFO | 0o600, 0, 0, now)
    if kind in ("null", "zero", "full", "random"):
        _, mode, major, minor = MODELLED_DEVICES[entry.file.path]
        return device_stat(mode, major, minor, now)
    if kind in ("synthetic", "procdir"):
        return procfs.stat_path(task, entry.file.path, False)
    if kind == "socket":
        return sockets.stat(task, entry)
    if entry.node is not None:           # a FIFO: the node in the file system, not its pipe
        return task.nt.NtQueryInformationFile(entry.node, FileStatLxInformation)
    return task.nt.NtQueryInformationFile(entry.handle, FileStatLxInformation)


# --- open and close ----------------------------------------------------------------------------


def open_file(task: Task, dirfd: int, path: str, flags: int, mode: int) -> int:
    absolute = guest_path(task, dirfd, path)
    accmode = flags & O_ACCMODE
    if accmode == 3:
        raise LinuxError(EINVAL, "O_ACCMODE 3")
    wants_directory = names_directory(absolute)
    if wants_directory and flags & O_CREAT:
        raise LinuxError(EISDIR, f"{absolute}: O_CREAT of a name ending in /")
    if flags & O_TMPFILE == O_TMPFILE:
        if accmode == O_RDONLY:
            raise LinuxError(EINVAL, "O_TMPFILE needs O_WRONLY or O_RDWR")
        # NtCreateFile always makes a name; a file that never had one is not modelled
        raise LinuxError(EOPNOTSUPP, "O_TMPFILE: the volume makes no unnamed files")
    if procfs.claims(lexical(absolute)):
        return procfs.open_path(task, absolute, flags, mode, wants_directory)
    device = MODELLED_DEVICES.get(lexical(absolute))
    if device is not None:
        if wants_directory:
            raise LinuxError(ENOTDIR, f"{absolute}: a device is not a directory")
        return _open_device(task, device[0], lexical(absolute), flags)
    if flags & O_PATH:
        access = FILE_READ_ATTRIBUTES
    else:
        access = {O_RDONLY: FILE_READ_DATA, O_WRONLY: FILE_WRITE_DATA,
                  O_RDWR: FILE_READ_DATA | FILE_WRITE_DATA}[accmode]
        if flags & O_APPEND and accmode != O_RDONLY:
            access = (access & ~FILE_WRITE_DATA) | FILE_APPEND_DATA
        if flags & O_TRUNC and accmode == O_RDONLY:
            access |= FILE_WRITE_DATA     # Linux truncates even a read-only open
    if flags & O_CREAT:
        disposition = (FILE_CREATE if flags & O_EXCL else
                       FILE_OVERWRITE_IF if flags & O_TRUNC else FILE_OPEN_IF)
    else:
        disposition = FILE_OVERWRITE if flags & O_TRUNC else FILE_OPEN
    options = 0
    if flags & O_DIRECTORY or wants_directory:
        options |= FILE_DIRECTORY_FILE
    if not wants_directory and (flags & (O_NOFOLLOW | O_PATH) == O_NOFOLLOW
                                or (flags & O_CREAT and flags & O_EXCL)):
        options |= FILE_OPEN_REPARSE_POINT
    handle = nt_open(task, absolute, access, disposition, options,
                     (mode & 0o7777 & ~task.lx.umask) if flags & O_CREAT else None)
    file = file_object(task, handle)
    if file.context.is_symlink and not flags & O_PATH:
        task.nt.NtClose(handle)
        raise LinuxError(ELOOP, f"{absolute} is a symbolic link (O_NOFOLLOW)")
    if getattr(file.context, "lx_type", 0):
        return _open_node(task, absolute, handle, flags)
    kind = "directory" if file.is_directory else "file"
    opened = OpenFile(absolute, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), kind)
    return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))


def _open_node(task: Task, path: str, node: int, flags: int) -> int:
    """A device node or FIFO mknod made (a regular host file whose lxfs mode says what
    it is; `node` a handle to it, which this takes over): a character device ntsim
    models opens as that device, whatever its name; a FIFO opens its pipe on NPFS
    (pipes.open_fifo), and its fd keeps the handle to the node; any other device has no
    driver here, and a socket file is opened by no one (ENXIO, as Linux answers both)."""
    try:
        info = task.nt.NtQueryInformationFile(node, FileStatLxInformation)
    except NtStatusError:
        task.nt.NtClose(node)
        raise
    kind = info.LxMode & S_IFMT
    if kind == S_IFIFO:
        return pipes.open_fifo(task, path, node, flags)
    task.nt.NtClose(node)
    if kind == S_IFCHR:
        for device_path, (device, _, major, minor) in MODELLED_DEVICES.items():
            if (major, minor) == (info.LxDeviceIdMajor, info.LxDeviceIdMinor) and device != "console":
                return _open_device(task, device, device_path, flags)
        raise LinuxError(ENXIO, f"{path}: no driver for device {info.LxDeviceIdMajor}:{info.LxDeviceIdMinor}")
    raise LinuxError(ENXIO, f"{path}: not a file that can be opened")


def _open_terminal(task: Task, flags: int) -> int:
    """/dev/tty: the console, as one terminal file that reads its input and writes its
    output, when the console really is a terminal. Otherwise the process has no
    controlling terminal, and Linux answers ENXIO."""
    access = {O_RDONLY: FILE_READ_DATA, O_WRONLY: FILE_WRITE_DATA}.get(flags & O_ACCMODE,
                                                                    FILE_READ_DATA | FILE_WRITE_DATA)
    handle = task.nt.NtCreateFile("\\Device\\ConDrv\\Terminal", access | SYNCHRONIZE, FILE_OPEN)
    file = file_object(task, handle)
    if not file.device.get_mode(file)["is_terminal"]:
        task.nt.NtClose(handle)
        raise LinuxError(ENXIO, "/dev/tty: the console is not a terminal (no controlling terminal)")
    return handle


def _open_device(task: Task, kind: str, path: str, flags: int) -> int:
    handle = None
    if kind == "null":
        handle = task.nt.NtCreateFile("\\Device\\Null", FILE_READ_DATA | FILE_WRITE_DATA, FILE_OPEN)
    elif kind == "console":
        handle = _open_terminal(task, flags)
    opened = OpenFile(path, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), kind)
    return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))


def sys_open(task: Task, path: int, flags: int, mode: int) -> int:
    return open_file(task, AT_FDCWD, task.read_string(path), flags, mode)


def sys_openat(task: Task, dirfd: int, path: int, flags: int, mode: int) -> int:
    return open_file(task, signed32(dirfd), task.read_string(path), flags, mode)


def sys_creat(task: Task, path: int, mode: int) -> int:
    return open_file(task, AT_FDCWD, task.read_string(path), O_CREAT | O_WRONLY | O_TRUNC, mode)


def close_fd(task: Task, fd: int) -> None:
    entry = task.lx.fds.remove(fd)
    if entry.file.inode_key is not None or locks.holds_record_locks(task):
        locks.fd_closing(task, entry)
    if entry.handle is not None:
        task.nt.NtClose(entry.handle)
    if entry.node is not None:
        task.nt.NtClose(entry.node)


def sys_close(task: Task, fd: int) -> int:
    close_fd(task, fd)
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4


def sys_close_range(task: Task, first: int, last: int, flags: int) -> int:
    """Close (or mark close-on-exec) every open fd from `first` to `last`. The fd table
    is the process's own here, so CLOSE_RANGE_UNSHARE has nothing to unshare."""
    first, last = first & 0xFFFFFFFF, last & 0xFFFFFFFF
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        raise LinuxError(EINVAL, "flags or range")
    for fd in [fd for fd in task.lx.fds.entries if first <= fd <= last]:
        if flags & CLOSE_RANGE_CLOEXEC:
            task.lx.fds.entries[fd].cloexec = True
        else:
            close_fd(task, fd)
    return 0


# --- read and write ----------------------------------------------------------------------------


def _readable(task: Task, fd: int) -> FdEntry:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH or entry.file.flags & O_ACCMODE == O_WRONLY:
        raise LinuxError(EBADF, f"fd {fd} is not open for reading")
    if entry.file.kind == "directory":
        raise LinuxError(EISDIR)
    return entry


def _writable(task: Task, fd: int) -> FdEntry:
    entry = task.lx.fds.get(fd)
    if entry.file.flags & O_PATH or entry.file.flags & O_ACCMODE == O_RDONLY:
        raise LinuxError(EBADF, f"fd {fd} is not open for writing")
    return entry


def read_bytes(task: Task, entry: FdEntry, count: int, offset: int | None, post):
    """Read up to `count` bytes from an fd's file, then `post(data)`."""
    kind = entry.file.kind
    if kind == "socket" and entry.file.socket.state == "message":
        def message(data: bytes, held, _size: int):
            if held is not None:
                sockets._drop_rights(task, held)
            return post(data)

        return sockets.unixmsg.receive(task, entry, count, 0, message)
    if kind in ("pipe", "socket"):
        if kind == "socket":
            sockets.connected(entry, EINVAL)
        return pipes.read(task, entry, count, post)
    if kind == "lxcore":
        return lxcore.read(task, entry, count, post)
    if kind == "procmem":         # /proc/PID/mem
        return post(procfs.read_mem(entry, count, offset))
    if kind == "synthetic":       # a /proc file: its text was made when it was opened
        state = entry.file
        start = state.position if offset is None else offset
        data = state.synthetic[start:start + count]
        if offset is None:
            state.position = start + len(data)
        return post(data)
    if kind == "zero":
        return post(bytes(count))
    if kind in ("random",):
        return post(task.kernel.random_bytes(count))
    if kind == "full":
        return post(bytes(count))

    def call() -> bytes:
        try:
            return task.nt.NtReadFile(entry.handle, count, offset)
        except NtStatusError as error:
            if error.status.name == "STATUS_END_OF_FILE":
                return b""
            raise

    return then(call, post)


def write_bytes(task: Task, entry: FdEntry, data: bytes, offset: int | None) -> int:
    kind = entry.file.kind
    if kind == "socket" and entry.file.socket.state == "message":
        return sockets.unixmsg.send(task, entry, data, 0, 0, 0, [], True)
    if kind in ("pipe", "socket"):
        if kind == "socket":
            sockets.connected(entry)
        return pipes.write(task, entry, data)
    if kind == "lxcore":
        return lxcore.write(task, entry, data)
    if kind == "synthetic":
        return procfs.write(task, entry.file.path, data)
    if kind == "procmem":
        return procfs.write_mem(entry, data, offset)
    if kind in ("zero", "random"):
        return len(data)
    if kind == "full":
        raise LinuxError(ENOSPC)

    if offset is None and kind == "file" and entry.file.flags & O_APPEND:
        # O_APPEND, from open or from a later F_SETFL: every write goes to the end
        offset = FILE_WRITE_TO_END_OF_FILE
    return _sigpipe_layer(task, entry, lambda: task.nt.NtWriteFile(entry.handle, data, offset))


def _sigpipe_layer(task: Task, entry: FdEntry, get) -> int:
    """A write's step after NtWriteFile: SIGPIPE when nobody reads (bound with partial:
    a closure that wrapped itself would be a reference cycle left on every write)."""
    try:
        return get()
    except WaitPending as pending:
        pending.wrap(partial(_sigpipe_layer, task, entry))
        raise
    except NtStatusError as error:
        if errno_from_status(error.status) == EPIPE:   # nobody reads: SIGPIPE first
            signals.broken_pipe(task, entry.file.path)
        raise


# A write of more than this from a file's or device's caller goes in pieces of it: host
# memory follows the piece, not the count (a 2 GiB write of untouched memory to
# /dev/null once took 4 GB). Pipes and sockets take the whole, as their waits need.
WRITE_PIECE = 16 << 20


def _write_from(task: Task, entry: FdEntry, buf: int, count: int, offset: int | None) -> int:
    count = min(count, MAX_RW_COUNT)
    if count <= WRITE_PIECE or entry.file.kind in ("pipe", "socket", "synthetic"):
        return write_bytes(task, entry, task.read(buf, count), offset)
    done = 0
    while done < count:
        size = min(WRITE_PIECE, count - done)
        try:
            written = write_bytes(task, entry, task.read(buf + done, size),
                                  None if offset is None else offset + done)
        except (LinuxError, NtStatusError):
            if done:
                return done        # what was written counts, as a short write
            raise
        done += written
        if written < size:
            break
    return done


def _user_buffer(buf: int, count: int) -> None:
    """access_ok: a buffer that runs past user space is EFAULT before anything moves."""
    if buf + count > USER_SPACE_END:
        raise LinuxError(EFAULT, f"{count:#x} bytes at {buf:#x} run past user space")


def sys_read(task: Task, fd: int, buf: int, count: int) -> int:
    entry = _readable(task, fd)

    def deliver(data: bytes) -> int:
        task.write(buf, data)
        return len(data)

    _user_buffer(buf, count)
    return read_bytes(task, entry, min(count, MAX_RW_COUNT), None, deliver)


def sys_write(task: Task, fd: int, buf: int, count: int) -> int:
    entry = _writable(task, fd)
    _user_buffer(buf, count)
    return _write_from(task, entry, buf, count, None)


def _iovecs(task: Task, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    if iovcnt < 0 or iovcnt > IOV_MAX:
        raise LinuxError(EINVAL, f"iovcnt {iovcnt}")
    raw = task.read(iov, 16 * iovcnt)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(iovcnt)]


def sys_readv(task: Task, fd: int, iov: int, iovcnt: int) -> int:
    return _readv(task, fd, iov, iovcnt, None)


def sys_preadv(task: Task, fd: int, iov: int, iovcnt: int, offset: int) -> int:
    _seekable(task, fd)
    return _readv(task, fd, iov, iovcnt, offset)


def _readv(task: Task, fd: int, iov: int, iovcnt: int, offset: int | None) -> int:
    entry = _readable(task, fd)
    vectors = _iovecs(task, iov, iovcnt)

    def scatter(data: bytes) -> int:
        done = 0
        for base, length in vectors:
            piece = data[done:done + length]
            task.write(base, piece)
            done += len(piece)
            if done >= len(data):
                break
        return len(data)

    return read_bytes(task, entry, sum(length for _, length in vectors), offset, scatter)


def sys_writev(task: Task, fd: int, iov: int, iovcnt: int) -> int:
    entry = _writable(task, fd)
    data = b"".join(task.read(base, length) for base, length in _iovecs(task, iov, iovcnt))
    return write_bytes(task, entry, data, None) if data else 0


def sys_pwritev(task: Task, fd: int, iov: int, iovcnt: int, offset: int) -> int:
    _seekable(task, fd)
    entry = _writable(task, fd)
    data = b"".join(task.read(base, length) for base, length in _iovecs(task, iov, iovcnt))
    return write_bytes(task, entry, data, offset) if data else 0


def _seekable(task: Task, fd: int) -> FdEntry:
    entry = task.lx.fds.get(fd)
    if entry.file.kind in ("console", "pipe", "socket", "lxcore"):
        raise LinuxError(ESPIPE)
    return entry


def sys_pread64(task: Task, fd: int, buf: int, count: int, offset: int) -> int:
    _seekable(task, fd)
    entry = _readable(task, fd)
    if offset >= 1 << 63:
        raise LinuxError(EINVAL, "negative offset")

    def deliver(data: bytes) -> int:
        task.write(buf, data)
        return len(data)

    _user_buffer(buf, count)
    return read_bytes(task, entry, min(count, MAX_RW_COUNT), offset, deliver)


def sys_pwrite64(task: Task, fd: int, buf: int, count: int, offset: int) -> int:
    _seekable(task, fd)
    entry = _writable(task, fd)
    if offset >= 1 << 63:
        raise LinuxError(EINVAL, "negative offset")
    _user_buffer(buf, count)
    return _write_from(task, entry, buf, count, offset)


def sys_lseek(task: Task, fd: int, offset: int, whence: int) -> int:
    entry = _seekable(task, fd)
    offset = offset - (1 << 64) if offset >= 1 << 63 else offset
    if entry.file.kind in ("synthetic", "procmem"):
        # /proc files are made as they are read (seq_file): no end to seek from
        if whence not in (SEEK_SET, SEEK_CUR):
            raise LinuxError(EINVAL, "a /proc file seeks with SEEK_SET and SEEK_CUR only")
        position = offset + (entry.file.position if whence == SEEK_CUR else 0)
        if position < 0:
            raise LinuxError(EINVAL, "negative position")
        entry.file.position = position
        return position
    if entry.file.kind == "procdir":
        if whence != SEEK_SET or offset != 0:
            raise LinuxError(EINVAL, "directories rewind to 0 only")
        entry.file.pending_entries, entry.file.directory_done, entry.file.position = [], False, 0
        return 0
    if entry.handle is None or entry.file.kind == "null":
        return 0
    if entry.file.kind == "directory":
        if whence != SEEK_SET:
            raise LinuxError(EINVAL, "directories seek with SEEK_SET only")
        if offset != 0:
            raise LinuxError(EINVAL, "directories rewind to 0 only")
        entry.file.pending_entries, entry.file.directory_done, entry.file.position = [], False, 0
        task.nt.rewind_directory(entry.handle, 1 << 30)
        return 0
    if whence == SEEK_SET:
        position = offset
    elif whence == SEEK_CUR:
        position = task.nt.NtQueryInformationFile(entry.handle, FilePositionInformation) + offset
    elif whence == SEEK_END:
        position = task.nt.NtQueryInformationFile(entry.handle, FileStandardInformation).EndOfFile + offset
    else:
        raise LinuxError(EINVAL, f"whence {whence}")
    if position < 0:
        raise LinuxError(EINVAL, "negative position")
    task.nt.NtSetInformationFile(entry.handle, FilePositionInformation, position)
    return position


# --- metadata ----------------------------------------------------------------------------------


def sys_fstat(task: Task, fd: int, buf: int) -> int:
    task.write(buf, pack_stat(stat_of_fd(task, fd)))
    return 0


def sys_stat(task: Task, path: int, buf: int) -> int:
    task.write(buf, pack_stat(stat_of_path(task, AT_FDCWD, task.read_string(path), True)))
    return 0


def sys_lstat(task: Task, path: int, buf: int) -> int:
    task.write(buf, pack_stat(stat_of_path(task, AT_FDCWD, task.read_string(path), False)))
    return 0


def _stat_at(task: Task, dirfd: int, path_address: int, flags: int):
    dirfd = signed32(dirfd)
    path = task.read_string(path_address) if path_address else ""
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise LinuxError(ENOENT, "empty path")
        if dirfd == AT_FDCWD:
            return stat_of_path(task, AT_FDCWD, ".", True)
        return stat_of_fd(task, dirfd)
    return stat_of_path(task, dirfd, path, not flags & AT_SYMLINK_NOFOLLOW)


def sys_newfstatat(task: Task, dirfd: int, path: int, buf: int, flags: int) -> int:
    task.write(buf, pack_stat(_stat_at(task, dirfd, path, flags)))
    return 0


def sys_statx(task: Task, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    task.write(buf, pack_statx(_stat_at(task, dirfd, path, flags)))
    return 0


def sys_access(task: Task, path: int, mode: int) -> int:
    return _access(task, AT_FDCWD, task.read_string(path), mode, 0)


def sys_faccessat(task: Task, dirfd: int, path: int, mode: int) -> int:
    return _access(task, signed32(dirfd), task.read_string(path), mode, 0)


def sys_faccessat2(task: Task, dirfd: int, path: int, mode: int, flags: int) -> int:
    return _access(task, signed32(dirfd), task.read_string(path), mode, flags)


def _access(task: Task, dirfd: int, path: str, mode: int, flags: int) -> int:
    """access(2) asks with the *real* ids (is the user who ran a set-user-id program
    allowed?); AT_EACCESS asks with the effective ones, as open would."""
    if mode & ~7:
        raise LinuxError(EINVAL, f"mode {mode:#o}")
    if flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    if not path and flags & AT_EMPTY_PATH:
        info = stat_of_path(task, AT_FDCWD, ".", True) if dirfd == AT_FDCWD else stat_of_fd(task, dirfd)
    else:
        info = stat_of_path(task, dirfd, path, not flags & AT_SYMLINK_NOFOLLOW)
    if mode == 0:
        return 0
    own = creds(task)
    if flags & AT_EACCESS:
        uid, gid, privileged = own.euid, own.egid, capable(task, CAP_DAC_OVERRIDE)
    else:   # the real uid 0 keeps its permitted capabilities for this question
        uid, gid, privileged = own.ruid, own.rgid, own.ruid == 0 and bool(own.permitted >> CAP_DAC_OVERRIDE & 1)
    bits = info.LxMode
    if privileged:   # may read and write anything, and execute what anyone may
        if mode & 1 and not bits & 0o111 and (bits & S_IFMT) != S_IFDIR:
            raise LinuxError(EACCES)
        return 0
    in_group = info.LxGid == gid or info.LxGid in own.groups
    shift = 6 if info.LxUid == uid else 3 if in_group else 0
    if (bits >> shift) & mode != mode:
        raise LinuxError(EACCES)
    return 0


# --- directories -------------------------------------------------------------------------------


PROC_ENTRY_MODES = {procfs.DT_DIR: S_IFDIR, procfs.DT_REG: S_IFREG, procfs.DT_LNK: S_IFLNK}


def sys_getdents64(task: Task, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, _dirent64)


def sys_getdents(task: Task, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, _dirent)


def _dirent64(inode: int, offset: int, name: bytes, kind: int) -> bytes:
    """struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name."""
    length = (19 + len(name) + 1 + 7) & ~7
    return struct.pack("<QqHB", inode, offset, length, kind) + name + b"\0" * (length - 19 - len(name))


def _dirent(inode: int, offset: int, name: bytes, kind: int) -> bytes:
    """The old struct linux_dirent: d_ino, d_off, d_reclen, d_name, and d_type in the
    record's last byte."""
    length = (18 + len(name) + 2 + 7) & ~7
    return (struct.pack("<QqH", inode, offset, length) + name
            + b"\0" * (length - 18 - len(name) - 1) + bytes([kind]))


def _getdents(task: Task, fd: int, dirp: int, count: int, pack) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.kind not in ("directory", "procdir"):
        raise LinuxError(ENOTDIR)
    state = entry.file
    out = bytearray()
    while True:
        if not state.pending_entries:
            if state.directory_done:
                break
            if state.kind == "procdir":     # the listing is made at once, as procfs does
                state.pending_entries = [DirectoryEntry(name, inode, 0, 0, PROC_ENTRY_MODES[kind])
                                         for inode, name, kind in procfs.entries(task, state.path)]
                state.directory_done = True
                continue
            try:
                state.pending_entries = list(task.nt.NtQueryDirectoryFile(
                    entry.handle, FileIdBothDirectoryInformation, MaximumEntries=64))
            except NtStatusError as error:
                if error.status.name != "STATUS_NO_MORE_FILES":
                    raise
                state.directory_done = True
                break
        item = state.pending_entries[0]
        name = item.FileName.replace("\uf05c", "\\").encode("utf-8", "surrogateescape")
        record = pack(item.FileId, state.position + 1, name, DT_TYPES.get(item.LxMode & S_IFMT, 0))
        if len(out) + len(record) > count:
            if not out:
                raise LinuxError(EINVAL, "buffer too small for one entry")
            break
        state.position += 1
        out += record
        state.pending_entries.pop(0)
    task.write(dirp, bytes(out))
    return len(out)


def _make_directory(task: Task, dirfd: int, path: str, mode: int) -> int:
    absolute = volume_path(task, guest_path(task, dirfd, path), False, creating=True)
    handle = nt_open(task, absolute, FILE_READ_ATTRIBUTES, FILE_CREATE,
                     FILE_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, mode & 0o7777 & ~task.lx.umask)
    task.nt.NtClose(handle)
    return 0


def sys_mkdir(task: Task, path: int, mode: int) -> int:
    return _make_directory(task, AT_FDCWD, task.read_string(path), mode)


def sys_mkdirat(task: Task, dirfd: int, path: int, mode: int) -> int:
    return _make_directory(task, signed32(dirfd), task.read_string(path), mode)


def _delete(task: Task, dirfd: int, path: str, directory: bool) -> int:
    """unlink/rmdir: open for DELETE, then a POSIX-semantics delete disposition."""
    if directory and path.rstrip("/").rsplit("/", 1)[-1] == ".":
        raise LinuxError(EINVAL, "rmdir of .")
    absolute = volume_path(task, guest_path(task, dirfd, path), False)
    options = FILE_OPEN_REPARSE_POINT | (FILE_DIRECTORY_FILE if directory else FILE_NON_DIRECTORY_FILE)
    handle = nt_open(task, absolute, DELETE, FILE_OPEN, options)
    try:
        # Neither call follows the final link, so a link to a directory is no directory to
        # rmdir, and `unlink name/` is refused once the name is known to exist.
        if directory and file_object(task, handle).context.is_symlink:
            raise LinuxError(ENOTDIR, f"{absolute} is a symbolic link")
        if not directory and names_directory(absolute):
            raise LinuxError(ENOTDIR, f"{absolute} is not a directory")
        task.nt.NtSetInformationFile(handle, FileDispositionInformationEx,
                                     FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS)
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_unlink(task: Task, path: int) -> int:
    return _delete(task, AT_FDCWD, task.read_string(path), False)


def sys_rmdir(task: Task, path: int) -> int:
    return _delete(task, AT_FDCWD, task.read_string(path), True)


def sys_unlinkat(task: Task, dirfd: int, path: int, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise LinuxError(EINVAL, f"flags {flags:#x}")
    return _delete(task, signed32(dirfd), task.read_string(path), bool(flags & AT_REMOVEDIR))


def _rename(task: Task, olddirfd: int, old: str, newdirfd: int, new: str, flags: int) -> int:
    if flags & RENAME_EXCHANGE:
        raise LinuxError(EINVAL, "RENAME_EXCHANGE is not supported")
    source = guest_path(task, olddirfd, old)
    target = guest_path(task, newdirfd, new)
    source, target = _off_proc(task, source), _off_proc(task, target)
    if source is None or target is None:
        # /proc is another file system: nothing moves in or out, nor within it
        raise LinuxError(EPERM if source is target else EXDEV, "rename and /proc")
    handle = nt_open(task, source, DELETE, FILE_OPEN, FILE_OPEN_REPARSE_POINT)
    try:
        moved = file_object(task, handle)
        if (names_directory(source) or names_directory(target)) and not moved.is_directory:
            raise LinuxError(ENOTDIR, f"{source}: only a directory is renamed with a trailing /")
        task.nt.NtSetInformationFile(handle, FileRenameInformation,
                                     (nt_name(target), not flags & RENAME_NOREPLACE))
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_rename(task: Task, old: int, new: int) -> int:
    return _rename(task, AT_FDCWD, task.read_string(old), AT_FDCWD, task.read_string(new), 0)


def sys_renameat(task: Task, olddirfd: int, old: int, newdirfd: int, new: int) -> int:
    return _rename(task, signed32(olddirfd), task.read_string(old), signed32(newdirfd),
                   task.read_string(new), 0)


def sys_renameat2(task: Task, olddirfd: int, old: int, newdirfd: int, new: int, flags: int) -> int:
    return _rename(task, signed32(olddirfd), task.read_string(old), signed32(newdirfd),
                   task.read_string(new), flags)


def canonical_path(task: Task, handle: int) -> str:
    """The path of an open file as the volume resolved it (links and .. gone)."""
    name = task.nt.NtQueryInformationFile(handle, FileNameInformation)
    return "/" + "/".join(p.replace("\uf05c", "\\") for p in name.split("\\") if p)


def sys_getcwd(task: Task, buf: int, size: int) -> int:
    cwd = task.lx.cwd.encode("utf-8", "surrogateescape") + b"\0"
    if size < len(cwd):
        raise LinuxError(ERANGE)
    task.write(buf, cwd)
    return len(cwd)


def sys_chdir(task: Task, path: int) -> int:
    target = guest_path(task, AT_FDCWD, task.read_string(path))
    if procfs.claims(lexical(target)):
        node = procfs.resolve(task, target, True)
        if not isinstance(node, str):
            if node.kind != "dir":
                raise LinuxError(ENOTDIR, target)
            task.lx.cwd = node.path
            return 0
        target = node
    handle = nt_open(task, target, FILE_TRAVERSE, FILE_OPEN, FILE_DIRECTORY_FILE)
    try:
        task.lx.cwd = canonical_path(task, handle)
    finally:
        task.nt.NtClose(handle)
    return 0


def sys_fchdir(task: Task, fd: int) -> int:
    entry = task.lx.fds.get(fd)
    if entry.file.kind == "procdir":
        task.lx.cwd = entry.file.path
        return 0
    if entry.file.kind != "directory":
        raise LinuxError(ENOTDIR)
    task.lx.cwd = canonical_path(task, entry.handle)
    return 0


def _readlink(task: Task, dirfd: int, path: str, buf: int, size: int) -> int:
    if size <= 0:
        raise LinuxError(EINVAL, "bufsiz <= 0")
    if names_directory(guest_path(task, dirfd, path)):
        stat_of_path(task, dirfd, path, True)        # ENOENT or ENOTDIR, as the walk finds
        raise LinuxError(EINVAL, f"{path}: a name ending in / is never a link")
    absolute = lexical(guest_path(task, dirfd, path))
    target = None
    if procfs.claims(absolute):
        node = procfs.resolve(task, absolute, False)
        if isinstance(node, str):
            absolute = node             # a link through /proc led back to the volume
        elif node.kind != "link":
            raise LinuxError(EINVAL, f"{absolute} is not a link")
        else:
            target = node.target()
    if target is None:
        handle = nt_open(task, absolute, FILE_READ_ATTRIBUTES, FILE_OPEN, FILE_OPEN_REPARSE_POINT)
        try:
            target = task.nt.NtDeviceIoControlFile(handle, FSCTL_GET_REPARSE_POINT)
        finally:
            task.nt.NtClose(handle)
    data = target.encode("utf-8", "surrogateescape")[:size]
    task.write(buf, data)
    return len(data)


def sys_readlink(task: Task, path: int, buf: int, size: int) -> int:
    return _readlink(task, AT_FDCWD, task.read_string(path), buf, size)


def sys_readlinkat(task: Task, dirfd: int, path: int, buf: int, size: int) -> int:
    return _readlink(task, signed32(dirfd), task.read_string(path), buf, size)


# --- descriptors -------------------------------------------------------------------------------


def duplicate(task: Task, fd: int, target: int | None = None, minimum: int = 0,
              cloexec: bool = False) -> int:
    entry = task.lx.fds.get(fd)

    def copy(handle: int | None) -> int | None:
        if handle is None:
            return None
        return task.nt.NtDuplicateObject(NtCurrentProcess, handle, NtCurrentProcess,
                                         Options=DUPLICATE_SAME_ACCESS)

    handle, node = copy(entry.handle), copy(entry.node)     # a FIFO's fd has both
    if target is not None and target in task.lx.fds:
        close_fd(task, target)
    return task.lx.fds.install(FdEntry(handle, entry.file, cloexec, node), target, minimum)


def sys_dup(task: Task, fd: int) -> int:
    return duplicate(task, fd)


def sys_dup2(task: Task, oldfd: int, newfd: int) -> int:
    task.lx.fds.get(oldfd)
    if oldfd == newfd:
        return newfd
    if newfd >= task.lx.fds.limit:
        raise LinuxError(EBADF)
    return duplicate(task, oldfd, newfd)


def sys_dup3(task: Task, oldfd: int, newfd: int, flags: int) -> int:
    if oldfd == newfd or flags & ~O_CLOEXEC:
        raise LinuxError(EINVAL)
    task.lx.fds.get(oldfd)
    if newfd >= task.lx.fds.limit:
        raise LinuxError(EBADF)
    return duplicate(task, oldfd, newfd, cloexec=bool(flags & O_CLOEXEC))


def sys_fcntl(task: Task, fd: int, cmd: int, arg: int) -> int:
    entry = task.lx.fds.get(fd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if arg >= task.lx.fds.limit:
            raise LinuxError(EINVAL)
        return duplicate(task, fd, minimum=arg, cloexec=cmd == F_DUPFD_CLOEXEC)
    if cmd == F_GETFD:
        return FD_CLOEXEC if entry.cloexec else 0
    if cmd == F_SETFD:
        entry.cloexec = bool(arg & FD_CLOEXEC)
        return 0
    if cmd == F_GETFL:
        return entry.file.flags
    if cmd == F_SETFL:
        if entry.file.kind == "pipe":     # O_NONBLOCK is the pipe end's completion mode
            pipes.set_status_flags(task, entry, arg)
        elif entry.file.kind == "socket":
            sockets.set_status_flags(task, entry, arg)
        entry.file.flags = (entry.file.flags & ~SETFL_FLAGS) | (arg & SETFL_FLAGS)
        return 0
    if cmd in pipes.FCNTL_COMMANDS:
        return pipes.fcntl(task, entry, cmd, arg)
    if cmd in locks.FCNTL_COMMANDS:
        return locks.fcntl(task, entry, cmd, arg)
    raise LinuxError(EINVAL, f"fcntl command {cmd} is not supported")


def sys_ioctl(task: Task, fd: int, request: int, arg: int) -> int:
    entry = task.lx.fds.get(fd)
    if request == pipes.FIONBIO:
        # Linux answers FIONBIO for every file itself (do_vfs_ioctl): O_NONBLOCK on or off
        flags = entry.file.flags & ~O_NONBLOCK
        if task.read_u32(arg):
            flags |= O_NONBLOCK
        if entry.file.kind == "pipe":
            pipes.set_status_flags(task, entry, flags)
        elif entry.file.kind == "socket":
            sockets.set_status_flags(task, entry, flags)
        entry.file.flags = flags
        return 0
    if entry.file.kind == "pipe":
        return pipes.ioctl(task, entry, request, arg)
    if entry.file.kind == "socket":
        return sockets.ioctl(task, entry, request, arg)
    if request == FIONREAD and entry.file.kind in ("file", "synthetic"):
        # Linux answers for a regular file with size - position (a /proc file has
        # size 0, so minus its position), truncated to the int it writes.
        if entry.file.kind == "synthetic":
            size, position = 0, entry.file.position
        else:
            size = task.nt.NtQueryInformationFile(entry.handle, FileStandardInformation).EndOfFile
            position = task.nt.NtQueryInformationFile(entry.handle, FilePositionInformation)
        task.write_u32(arg, size - position)
        return 0
    if entry.file.kind != "console":
        raise LinuxError(ENOTTY)
    if request in tty.REQUESTS:
        return tty.ioctl(task, file_object(task, entry.handle), request, arg)
    raise LinuxError(ENOTTY, f"ioctl {request:#x} on the console")


def signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value

