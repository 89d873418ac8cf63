"""AF_UNIX datagram and seqpacket sockets: messages, whose boundaries a read keeps.

NPFS's pipes here carry byte streams, so these sockets are lxcore objects
(:class:`MessageSocket`, on `\\Device\\lxcore`): each has a queue of whole messages, each
message with the sender's name, its credentials and any descriptors passed with it
(SCM_RIGHTS, as kernel handles until received). A datagram socket sends to the socket a
name was bound to (sendto), or to the one it connected to; a seqpacket socket is
connection-oriented like a stream socket (listen, connect, accept4), and socketpair makes
either kind already connected. A read takes one message: a smaller buffer truncates it
(MSG_TRUNC says so), and the rest of that message is gone, as on Linux.

Names are the same table as stream sockets' (unix.py): a path's socket file or an
abstract name, each naming one socket of one type.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ...kernel.dispatcher import WaitPending
from ...kernel.io import Readiness
from . import lxcore, unix
from .errno import (
    EAGAIN,
    ECONNREFUSED,
    EINVAL,
    EISCONN,
    EMSGSIZE,
    ENOTCONN,
    EOPNOTSUPP,
    EPIPE,
    EPROTOTYPE,
    LinuxError,
)
from .fdtable import O_CLOEXEC, O_NONBLOCK, O_RDWR, FdEntry, OpenFile
from .identity import creds
from .task import Task

SOCK_DGRAM, SOCK_SEQPACKET = 2, 5
MAX_MESSAGES = 512                 # net.unix.max_dgram_qlen's default on current kernels
MAX_MESSAGE = 212_992 - 32         # what one message may carry (the socket's send buffer)


class Message:
    __slots__ = ("data", "sender", "ucred", "rights")

    def __init__(self, data: bytes, sender: bytes, ucred: tuple[int, int, int], rights: list) -> None:
        self.data, self.sender, self.ucred, self.rights = data, sender, ucred, rights


class MessageSocket(lxcore.LxFile):
    """One datagram or seqpacket socket: its queue, its peer, its listening backlog."""

    name = "socket"

    def __init__(self, kind: int) -> None:
        super().__init__()
        self.kind = kind
        self.queue: deque[Message] = deque()
        self.peer: MessageSocket | None = None
        self.closed_ = False
        self.peer_gone = False            # a connected peer closed (seqpacket: end of file)
        self.listening = False
        self.backlog: deque = deque()     # seqpacket: (kernel handle, ucred, name) not accepted
        self.bound: Any = None
        self.table: dict | None = None
        self.listener_creds = (0, 0, 0)
        self.listener_options: Any = None

    def can_read(self) -> bool:
        return bool(self.queue) or bool(self.backlog) or self.peer_gone

    def can_write(self) -> bool:
        target = self.peer
        return target is None or target.closed_ or len(target.queue) < MAX_MESSAGES

    def readiness(self, read: bool, write: bool) -> Readiness:
        return Readiness(readable=self.can_read(), writable=self.can_write(),
                         hangup=self.peer_gone and self.kind == SOCK_SEQPACKET,
                         wait_read=(self.readable,), wait_write=(self.writable,),
                         wait_closed=(self.readable,))

    def closed(self) -> None:
        self.closed_ = True
        if self.table is not None and self.bound is not None and self.table.get(self.bound) is self:
            del self.table[self.bound]
        peer = self.peer
        if peer is not None and peer.peer is self:
            peer.peer_gone = True
            peer.changed(again=True)
        system = self.kernel.system
        for message in self.queue:
            for handle, node, _ in message.rights:
                for each in (handle, node):
                    if each is not None:
                        system.handles.remove(each)
        self.queue.clear()
        while self.backlog:
            system.handles.remove(self.backlog.popleft()[0])


def _new(task: Task, kind: int, flags: int, options: Any = None) -> tuple[int, MessageSocket]:
    from .sockets import SocketOptions

    obj = MessageSocket(kind)
    handle = lxcore.open_object(task, obj, "socket")
    opened = OpenFile(f"socket:[{obj.inode}]", O_RDWR | (flags & O_NONBLOCK), "socket",
                      socket=options or SocketOptions(state="message", kind=kind))
    try:
        return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC))), obj
    except LinuxError:
        task.nt.NtClose(handle)
        raise


def create(task: Task, kind: int, flags: int) -> int:
    return _new(task, kind, flags)[0]


def pair(task: Task, kind: int, flags: int) -> tuple[int, int]:
    identity = creds(task)
    me = (task.lx.process.pid, identity.euid, identity.egid)
    first, a = _new(task, kind, flags)
    second, b = _new(task, kind, flags)
    a.peer, b.peer = b, a
    for fd in (first, second):
        task.lx.fds.get(fd).file.socket.peer = me
    return first, second


def socket_of(task: Task, entry: FdEntry) -> MessageSocket:
    return lxcore.object_of(task, entry)


# --- names and connections ---------------------------------------------------------------------


def bind(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    obj = socket_of(task, entry)
    options = entry.file.socket
    kind, name = unix.parse_address(task, addr, addrlen)
    if options.name:
        raise LinuxError(EINVAL, "the socket already has a name")
    key, options.name = unix.claim_name(task, kind, name)
    unix.names(task)[key] = obj
    obj.bound, obj.table = key, unix.names(task)
    obj.listener_options = options           # its name, for whoever connects to it
    return 0


def _lookup(task: Task, addr: int, addrlen: int, kind: int) -> MessageSocket:
    where, name = unix.parse_address(task, addr, addrlen)
    if where == "unnamed":
        raise LinuxError(EINVAL, "an address with no name")
    found = unix.names(task).get(unix.name_key(task, where, name))
    if found is None or (isinstance(found, MessageSocket) and found.closed_):
        raise LinuxError(ECONNREFUSED, "nobody there")
    if not isinstance(found, MessageSocket) or found.kind != kind:
        raise LinuxError(EPROTOTYPE, "a socket of another type has that name")
    return found


def connect(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    obj = socket_of(task, entry)
    options = entry.file.socket
    target = _lookup(task, addr, addrlen, obj.kind)
    if obj.kind == SOCK_DGRAM:                    # a datagram socket's default destination
        obj.peer = target
        options.peer_name = target.listener_options.name if target.listener_options else b""
        return 0
    if obj.peer is not None:
        raise LinuxError(EISCONN, "the socket is connected")
    if not target.listening:
        raise LinuxError(ECONNREFUSED, "nobody listens there")
    identity = creds(task)
    from .sockets import SocketOptions

    # the accepting end is made here and waits in the backlog as a kernel handle
    other_fd, other = _new(task, obj.kind, 0, SocketOptions(state="message", kind=obj.kind))
    other_entry = task.lx.fds.remove(other_fd)
    obj.peer, other.peer = other, obj
    other_entry.file.socket.peer = (task.lx.process.pid, identity.euid, identity.egid)
    other_entry.file.socket.name = target.listener_options.name
    other_entry.file.socket.peer_name = options.name or unix.UNNAMED
    target.backlog.append((unix.to_kernel_handle(task, other_entry.handle), other_entry.file, None))
    target.changed(again=True)
    options.peer = target.listener_creds
    options.peer_name = target.listener_options.name
    return 0


def listen(task: Task, entry: FdEntry, backlog: int) -> int:
    obj = socket_of(task, entry)
    if obj.kind != SOCK_SEQPACKET:
        raise LinuxError(EOPNOTSUPP, "a datagram socket does not listen")
    options = entry.file.socket
    if not options.name:
        raise LinuxError(EINVAL, "an unbound socket cannot listen")
    identity = creds(task)
    obj.listening = True
    obj.listener_creds = (task.lx.process.pid, identity.euid, identity.egid)
    obj.listener_options = options
    options.listener_creds = obj.listener_creds
    return 0


def accept(task: Task, entry: FdEntry, addr: int, addrlen: int, flags: int) -> int:
    from .sockets import address_out

    obj = socket_of(task, entry)
    if flags & ~(O_CLOEXEC | O_NONBLOCK):
        raise LinuxError(EINVAL, f"accept4 flags {flags:#x}")
    if not obj.listening:
        raise LinuxError(EINVAL if obj.kind == SOCK_SEQPACKET else EOPNOTSUPP, "not listening")
    if not obj.backlog:
        if entry.file.flags & O_NONBLOCK:
            raise LinuxError(EAGAIN, "no connection waits")
        raise WaitPending([obj.readable], lambda _status: accept(task, entry, addr, addrlen, flags),
                          reason="accept")
    kernel_handle, opened, _ = obj.backlog.popleft()
    obj.changed()
    handle = unix.from_kernel_handle(task, kernel_handle)
    opened.flags = O_RDWR | (flags & O_NONBLOCK)
    fd = task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))
    address_out(task, addr, addrlen, opened.socket.peer_name)
    return fd


# --- messages ----------------------------------------------------------------------------------


def send(task: Task, entry: FdEntry, data: bytes, flags: int, addr: int, addrlen: int, rights: list,
         signal: bool) -> int:
    from . import signals

    obj = socket_of(task, entry)
    if len(data) > MAX_MESSAGE:
        raise LinuxError(EMSGSIZE, "the message is larger than the socket's buffer")
    if addr and addrlen:
        if obj.kind == SOCK_SEQPACKET:
            if obj.peer is None:
                raise LinuxError(ENOTCONN, "not connected")
            raise LinuxError(EISCONN, "a connected socket takes no address")
        target = _lookup(task, addr, addrlen, obj.kind)
    else:
        target = obj.peer
        if target is None:
            raise LinuxError(ENOTCONN, "no destination, and not connected")
    if target.closed_ or obj.peer_gone and target is obj.peer:
        if obj.kind == SOCK_SEQPACKET:
            if signal:
                signals.broken_pipe(task, entry.file.path)
            raise LinuxError(EPIPE, "the peer has gone")
        raise LinuxError(ECONNREFUSED, "the peer has gone")
    if len(target.queue) >= MAX_MESSAGES:
        if entry.file.flags & O_NONBLOCK or flags & 0x40:
            raise LinuxError(EAGAIN, "the receiver's queue is full")
        return_value = WaitPending([target.writable, target.readable], lambda _status: send(
            task, entry, data, flags, addr, addrlen, rights, signal), reason="a full datagram queue")
        raise return_value
    identity = creds(task)
    target.queue.append(Message(data, entry.file.socket.name or unix.UNNAMED,
                                (task.lx.process.pid, identity.euid, identity.egid), rights))
    target.changed(again=True)
    obj.changed()
    return len(data)


def receive(task: Task, entry: FdEntry, count: int, flags: int, post):
    """post(data, message, full length); MSG_PEEK leaves the message where it is."""
    obj = socket_of(task, entry)
    if obj.listening:
        raise LinuxError(EINVAL, "a listening socket has no messages")
    if not obj.queue:
        if obj.peer_gone and obj.kind == SOCK_SEQPACKET:
            return post(b"", None, 0)
        if obj.kind == SOCK_SEQPACKET and obj.peer is None:
            raise LinuxError(ENOTCONN, "not connected")
        if entry.file.flags & O_NONBLOCK or flags & 0x40:
            raise LinuxError(EAGAIN, "no message")
        raise WaitPending([obj.readable], lambda _status: receive(task, entry, count, flags, post),
                          reason="a message")
    message = obj.queue[0] if flags & 0x2 else obj.queue.popleft()
    obj.changed()
    if message.rights is None:
        message.rights = []
    if obj.peer is not None:
        obj.peer.changed()
    return post(message.data[:count], message, len(message.data))
