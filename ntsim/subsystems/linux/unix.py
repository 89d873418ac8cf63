"""AF_UNIX stream sockets with names: socket, bind, listen, connect, accept4; SCM_RIGHTS.

A connected AF_UNIX stream socket is what socketpair makes (sockets.py): a full-duplex
NPFS pipe, each end reading what the other writes. What comes before the connection is
lxcore's (lxcore.py): a socket() that is not yet connected is an lxcore file object, a
:class:`UnixEndpoint`, and a listening one keeps its *backlog* there — connections that
connect() made and accept() has not taken yet, so poll and epoll see a listener become
readable when one arrives.

connect() makes the pipe — NtCreateNamedPipeFile of `Lxss.Socket.<pid>.<n>`, whose server
end becomes the connecting fd's handle, and NtOpenFile of the same name for the other
end. That other end waits in the listener's backlog as a *kernel handle* (it is moved
into the System process's handle table with NtDuplicateObject, DUPLICATE_CLOSE_SOURCE,
as a driver keeps an object with OBJ_KERNEL_HANDLE), so the connection lives even if the
connecting process ends before accept; accept4() moves it into the accepting process.
Data written before accept waits in the pipe, as it waits in a Linux socket's queue.

Names: a path name is a socket file in the guest's file system (a node lxfs keeps, as
mknod(S_IFSOCK) makes), found again through its inode; an abstract name (a leading NUL
byte) lives only in the machine's table. The name goes with the socket's last close;
a path's file stays, as on Linux.

SCM_RIGHTS: the descriptors sendmsg passes are duplicated into kernel handles, queued
beside the byte stream, and installed as new fds by the recvmsg that reads the next
bytes, with their open file descriptions shared (as Linux's file references are).
SCM_CREDENTIALS: a receiver with SO_PASSCRED gets the peer's pid, uid and gid.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

from ...kernel.dispatcher import WaitPending
from ...kernel.io import FileObject, Readiness
from ...kernel.services import DUPLICATE_CLOSE_SOURCE, DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ...kernel.status import NtStatusError
from . import files, lxcore
from .errno import (
    EADDRINUSE,
    EAGAIN,
    EBADF,
    ECONNREFUSED,
    EINVAL,
    EISCONN,
    ENOENT,
    EPERM,
    EPROTOTYPE,
    LinuxError,
    errno_from_status,
)
from .fdtable import O_CLOEXEC, O_NONBLOCK, O_RDWR, FdEntry, OpenFile
from .identity import creds
from .task import Task

AF_UNIX = 1
UNIX_PATH_MAX = 108
S_IFSOCK = 0o140000
SOL_SOCKET, SCM_RIGHTS, SCM_CREDENTIALS = 1, 1, 2
MSG_CTRUNC, MSG_CMSG_CLOEXEC = 0x8, 0x40000000
SCM_MAX_FD = 253
PROCESS_DUP_HANDLE = 0x40
UNNAMED = struct.pack("<H", AF_UNIX)


class UnixEndpoint(lxcore.LxFile):
    """An AF_UNIX stream socket before it connects: bound or not, listening or not."""

    name = "socket"

    def __init__(self) -> None:
        super().__init__()
        self.listening = False
        self.backlog: deque = deque()     # (kernel handle, peer ucred, peer name)
        self.bound: Any = None            # its key in the machine's name table
        self.table: dict | None = None
        self.listener_options: Any = None

    def can_read(self) -> bool:
        return bool(self.backlog)

    def readiness(self, read: bool, write: bool) -> Readiness:
        # Linux's unix_poll: a listener is readable while a connection waits; a socket
        # that is neither is writable (nothing would wait) and not readable
        return Readiness(readable=bool(self.backlog), writable=not self.listening,
                         wait_read=(self.readable,))

    def closed(self) -> None:
        """The last close: the name goes, and connections never accepted are reset."""
        if self.table is not None and self.bound is not None and self.table.get(self.bound) is self:
            del self.table[self.bound]
        system = self.kernel.system
        while self.backlog:
            handle, _, _ = self.backlog.popleft()
            system.handles.remove(handle)


def names(task: Task) -> dict:
    return task.thread.process.personality.unix_names


# --- addresses ---------------------------------------------------------------------------------


def parse_address(task: Task, addr: int, addrlen: int) -> tuple[str, bytes]:
    """A sockaddr_un: ("path", the path) or ("abstract", the name after the NUL), or
    ("unnamed", b"") for an address of the family alone."""
    addrlen = files.signed32(addrlen)
    if addrlen < 2 or addrlen > 2 + UNIX_PATH_MAX:
        raise LinuxError(EINVAL, f"address length {addrlen}")
    raw = task.read(addr, addrlen)
    if int.from_bytes(raw[:2], "little") != AF_UNIX:
        raise LinuxError(EINVAL, "not an AF_UNIX address")
    path = raw[2:]
    if not path:
        return "unnamed", b""
    if path[0] == 0:
        return "abstract", path[1:]
    return "path", path.split(b"\0", 1)[0]


def sockaddr(kind: str, name: bytes) -> bytes:
    """What getsockname gives: the family, then the path with its NUL, or the abstract name."""
    if kind == "path":
        return UNNAMED + name + b"\0"
    if kind == "abstract":
        return UNNAMED + b"\0" + name
    return UNNAMED


def _inode_key(task: Task, path: str) -> tuple[int, int]:
    info = files.stat_of_path(task, files.AT_FDCWD, path, True)
    if info.LxMode & 0o170000 != S_IFSOCK:
        raise LinuxError(ECONNREFUSED, f"{path} is not a socket")
    return ("path", info.VolumeSerialNumber, info.FileId)


# --- socket, bind, listen ----------------------------------------------------------------------


def create(task: Task, flags: int) -> int:
    from .sockets import SocketOptions

    endpoint = UnixEndpoint()
    handle = lxcore.open_object(task, endpoint, "socket")
    options = SocketOptions(state="unconnected")
    opened = OpenFile(f"socket:[{endpoint.inode}]", O_RDWR | (flags & O_NONBLOCK), "socket", socket=options)
    try:
        return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))
    except LinuxError:
        task.nt.NtClose(handle)
        raise


def endpoint_of(task: Task, entry: FdEntry) -> UnixEndpoint | None:
    context = task.thread.process.handles.lookup(entry.handle, FileObject).context
    return context if isinstance(context, UnixEndpoint) else None


def claim_name(task: Task, kind: str, name: bytes) -> tuple[Any, bytes]:
    """Take a name for a socket: (its key in the machine's table, the sockaddr it shows).
    An address of the family alone autobinds an abstract name of five hex digits; a path
    makes the socket file."""
    table = names(task)
    if kind == "unnamed":
        number = 0
        while ("abstract", b"%05x" % number) in table:
            number += 1
        kind, name = "abstract", b"%05x" % number
    if kind == "abstract":
        key = ("abstract", name)
        if key in table:
            raise LinuxError(EADDRINUSE, "the abstract name is taken")
        return key, sockaddr(kind, name)
    path = name.decode("utf-8", "surrogateescape")
    from .inodes import make_node

    try:
        make_node(task, files.AT_FDCWD, path, S_IFSOCK | 0o777)
    except NtStatusError as error:
        if errno_from_status(error.status) == 17:        # EEXIST
            raise LinuxError(EADDRINUSE, f"{path} exists") from None
        raise
    return _inode_key(task, path), sockaddr(kind, name)


def name_key(task: Task, kind: str, name: bytes) -> Any:
    """The table key a connect or sendto address names (ENOENT for a missing path)."""
    if kind == "abstract":
        return ("abstract", name)
    try:
        return _inode_key(task, name.decode("utf-8", "surrogateescape"))
    except NtStatusError as error:
        if errno_from_status(error.status) == ENOENT:
            raise LinuxError(ENOENT, "no such socket") from None
        raise


def bind(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    options = entry.file.socket
    kind, name = parse_address(task, addr, addrlen)
    endpoint = endpoint_of(task, entry)
    if options.name or endpoint is None:
        raise LinuxError(EINVAL, "the socket already has a name")
    key, options.name = claim_name(task, kind, name)
    table = names(task)
    table[key] = endpoint
    endpoint.bound, endpoint.table = key, table
    return 0


def listen(task: Task, entry: FdEntry, backlog: int) -> int:
    endpoint = endpoint_of(task, entry)
    options = entry.file.socket
    if endpoint is None:
        raise LinuxError(EINVAL, "a connected socket cannot listen")
    if not options.name:
        raise LinuxError(EINVAL, "an unbound socket cannot listen")
    endpoint.listening = True
    identity = creds(task)
    options.listener_creds = (task.lx.process.pid, identity.euid, identity.egid)
    endpoint.listener_options = options
    endpoint.changed()
    return 0


# --- connect and accept ------------------------------------------------------------------------


def _system_process(task: Task) -> int:
    return task.nt.NtOpenProcess(PROCESS_DUP_HANDLE, task.kernel.system.pid)


def to_kernel_handle(task: Task, handle: int) -> int:
    """Move a handle of the calling process into the System process (a kernel handle)."""
    system = _system_process(task)
    try:
        return task.nt.NtDuplicateObject(NtCurrentProcess, handle, system,
                                         Options=DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)
    finally:
        task.nt.NtClose(system)


def from_kernel_handle(task: Task, handle: int) -> int:
    system = _system_process(task)
    try:
        return task.nt.NtDuplicateObject(system, handle, NtCurrentProcess,
                                         Options=DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)
    finally:
        task.nt.NtClose(system)


def connect(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    from .sockets import SOCKET_QUOTA, new_pipe

    options = entry.file.socket
    kind, name = parse_address(task, addr, addrlen)
    if kind == "unnamed":                    # the address is checked first (unix_validate_addr)
        raise LinuxError(EINVAL, "an address with no name")
    if options.state == "connected":
        raise LinuxError(EISCONN, "the socket is connected")
    key = name_key(task, kind, name)
    listener = names(task).get(key)
    if listener is not None and not isinstance(listener, UnixEndpoint):
        raise LinuxError(EPROTOTYPE, "a socket of another type has that name")
    if listener is None or not listener.listening:
        raise LinuxError(ECONNREFUSED, "nobody listens there")
    mine, theirs, _ = new_pipe(task, nonblocking=bool(entry.file.flags & O_NONBLOCK), quota=SOCKET_QUOTA)
    identity = creds(task)
    listener.backlog.append((to_kernel_handle(task, theirs), (task.lx.process.pid, identity.euid, identity.egid),
                             options.name or UNNAMED))
    listener.changed(again=True)
    _become_connected(task, entry, mine)
    options.peer = listener.listener_options.listener_creds
    options.peer_name = listener.listener_options.name
    return 0


def _become_connected(task: Task, entry: FdEntry, pipe_handle: int) -> None:
    """The fd (and its dups in this process) now name the pipe end, not the endpoint."""
    old = entry.handle
    for _, other in task.lx.fds.items():
        if other.file is entry.file and other is not entry:
            task.nt.NtClose(other.handle)
            other.handle = task.nt.NtDuplicateObject(NtCurrentProcess, pipe_handle, NtCurrentProcess,
                                                     Options=DUPLICATE_SAME_ACCESS)
    entry.handle = pipe_handle
    task.nt.NtClose(old)
    entry.file.socket.state = "connected"


def accept(task: Task, entry: FdEntry, addr: int, addrlen: int, flags: int) -> int:
    from .sockets import SocketOptions, address_out

    if flags & ~(O_CLOEXEC | O_NONBLOCK):
        raise LinuxError(EINVAL, f"accept4 flags {flags:#x}")
    endpoint = endpoint_of(task, entry)
    if endpoint is None or not endpoint.listening:
        raise LinuxError(EINVAL, "the socket is not listening")
    if not endpoint.backlog:
        if entry.file.flags & O_NONBLOCK:
            raise LinuxError(EAGAIN, "no connection waits")
        raise WaitPending([endpoint.readable], lambda _status: accept(task, entry, addr, addrlen, flags),
                          reason="accept")
    kernel_handle, peer, peer_name = endpoint.backlog.popleft()
    endpoint.changed()
    handle = from_kernel_handle(task, kernel_handle)
    listener = entry.file.socket
    if flags & O_NONBLOCK:
        from .sockets import set_nonblocking

        set_nonblocking(task, handle, True)
    options = SocketOptions(listener.sndbuf, listener.rcvbuf, False, peer, state="connected",
                            name=listener.name, peer_name=peer_name)
    inode = endpoint.inode
    opened = OpenFile(f"socket:[{inode}]", O_RDWR | (flags & O_NONBLOCK), "socket", socket=options)
    fd = task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))
    address_out(task, addr, addrlen, peer_name)
    return fd


# --- SCM_RIGHTS and SCM_CREDENTIALS ------------------------------------------------------------

CMSGHDR = struct.Struct("<QiI")


def _align(n: int) -> int:
    return (n + 7) & ~7


def in_flight(task: Task) -> dict:
    return task.thread.process.personality.unix_in_flight


def take_control(task: Task, entry: FdEntry, control: int, controllen: int, queue_key: Any) -> None:
    """sendmsg's control messages: SCM_RIGHTS fds become kernel handles queued for the
    peer's next recvmsg; SCM_CREDENTIALS is checked (a process may only claim its own)."""
    raw = task.read(control, controllen)
    offset = 0
    passed: list[tuple[int, int | None, OpenFile]] = []
    while offset + CMSGHDR.size <= len(raw):
        length, level, kind = CMSGHDR.unpack_from(raw, offset)
        if length < CMSGHDR.size or offset + length > len(raw):
            raise LinuxError(EINVAL, "a control message's length")
        data = raw[offset + CMSGHDR.size:offset + length]
        if level != SOL_SOCKET:
            raise LinuxError(EINVAL, f"control message level {level}")
        if kind == SCM_RIGHTS:
            fds = struct.unpack(f"<{len(data) // 4}i", data[:len(data) // 4 * 4])
            if len(fds) > SCM_MAX_FD:
                raise LinuxError(EINVAL, "too many fds")
            for fd in fds:
                other = task.lx.fds.entries.get(fd)
                if other is None:
                    raise LinuxError(EBADF, f"fd {fd}")
                passed.append((other, fd))
        elif kind == SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack_from("<iII", data)
            identity = creds(task)
            if pid != task.lx.process.pid or uid not in (identity.ruid, identity.euid) or \
                    gid not in (identity.rgid, identity.egid):
                if identity.euid != 0:
                    raise LinuxError(EPERM, "credentials that are not the sender's")
        else:
            raise LinuxError(EINVAL, f"control message type {kind}")
        offset += _align(length)
    if not passed:
        return [] if queue_key is None else None
    record = []
    for other, _fd in passed:
        handle = task.nt.NtDuplicateObject(NtCurrentProcess, other.handle, NtCurrentProcess,
                                           Options=DUPLICATE_SAME_ACCESS) if other.handle is not None else None
        node = task.nt.NtDuplicateObject(NtCurrentProcess, other.node, NtCurrentProcess,
                                         Options=DUPLICATE_SAME_ACCESS) if other.node is not None else None
        record.append((to_kernel_handle(task, handle) if handle is not None else None,
                       to_kernel_handle(task, node) if node is not None else None, other.file))
    if queue_key is None:
        return record                  # a message socket keeps them with the message
    in_flight(task).setdefault(queue_key, deque()).append(record)
    return None


def give_control(task: Task, entry: FdEntry, msg: int, control: int, controllen: int, flags: int,
                 queue_key: Any, got_data: bool, record: list | None = None,
                 ucred: tuple[int, int, int] | None = None) -> tuple[int, int]:
    """recvmsg's control messages: (bytes written to msg_control, MSG_CTRUNC or 0). A
    message socket passes the message's own `record` of descriptors and its sender's
    `ucred`; a stream socket's come from the queue beside its bytes."""
    out = b""
    truncated = 0
    options = entry.file.socket
    if options.passcred:
        body = struct.pack("<iII", *(ucred or options.peer))
        out += CMSGHDR.pack(CMSGHDR.size + len(body), SOL_SOCKET, SCM_CREDENTIALS) + body
        out += b"\0" * (_align(len(out)) - len(out))
    waiting = in_flight(task).get(queue_key) if queue_key is not None else None
    if waiting and got_data:
        record = waiting.popleft()
    if record:
        fds = []
        for handle, node, opened in record:
            fds.append(task.lx.fds.install(FdEntry(
                from_kernel_handle(task, handle) if handle is not None else None, opened,
                bool(flags & MSG_CMSG_CLOEXEC), from_kernel_handle(task, node) if node is not None else None)))
        body = struct.pack(f"<{len(fds)}i", *fds)
        room = controllen - len(out) - CMSGHDR.size
        if room < 4:
            for fd in fds:
                files.close_fd(task, fd)
            truncated = MSG_CTRUNC
        else:
            fit = min(len(fds), room // 4)
            for fd in fds[fit:]:
                files.close_fd(task, fd)
                truncated = MSG_CTRUNC
            body = body[:fit * 4]
            out += CMSGHDR.pack(CMSGHDR.size + len(body), SOL_SOCKET, SCM_RIGHTS) + body
    if len(out) > controllen:
        out, truncated = out[:0], MSG_CTRUNC
    if out and control:
        task.write(control, out)
    return len(out), truncated
