"""Sockets: socketpair(AF_UNIX, SOCK_STREAM), on a full-duplex NT named pipe.

WSL1 put AF_UNIX sockets in lxcore and AF_INET ones on the Windows socket driver (AFD).
ntsim models one thing of the two: the connected pair of stream sockets socketpair()
makes — what asyncio's self-pipe, subprocess plumbing and many daemons use. A pair is
the pipe() of pipes.py made full duplex: NtCreateNamedPipeFile with FILE_SHARE_READ |
FILE_SHARE_WRITE creates `\\Device\\NamedPipe\\Lxss.Socket.<pid>.<n>` and its server
end, which becomes sv[0]; NtOpenFile of the name connects the client end, sv[1]. Each
end reads the queue the other writes, so the trace shows a Linux socketpair as what NT
would make of it. Both fds are of kind "socket": fstat says S_IFSOCK, /proc/self/fd/N
reads socket:[inode], and read, write, poll, select and epoll work as on a pipe.

Where Linux and NT name things differently, this module translates:

- send and recv are NtWriteFile and NtReadFile, as write and read are. MSG_DONTWAIT is
  O_NONBLOCK for one call: the end's completion mode is FILE_PIPE_COMPLETE_OPERATION for
  the length of the call (NPFS has no per-request "never wait"). MSG_NOSIGNAL: EPIPE
  without SIGPIPE. MSG_PEEK is FSCTL_PIPE_PEEK (PeekNamedPipe), which never waits, so
  an empty pipe is waited on here before peeking again.
- shutdown() is FSCTL_PIPE_LX_SHUTDOWN, a pico provider's control (NT pipes have no
  half-close): SHUT_WR takes this end off its outgoing queue as a writer, so the peer
  reads end of file after the data already sent; SHUT_RD takes it off its incoming
  queue as a reader, so the peer's writes fail with EPIPE.
- the socket's name: socketpair's sockets are unnamed AF_UNIX ones (sa_family only,
  address length 2), both of the socket and of its peer.
- options (SOL_SOCKET): SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN,
  SO_PEERCRED (the creator, as Linux records for a pair), SO_SNDBUF and SO_RCVBUF (the
  pipe's quota, 208 KiB — Linux's default for both — as Linux's doubled value once set;
  NPFS fixes a quota at create, so setting one changes what getsockopt answers, not
  the capacity), SO_PASSCRED (recorded; no SCM_CREDENTIALS message is ever delivered).

Not modelled: socket() of any family (so no bind, connect, listen or accept to speak
of), SOCK_DGRAM and SOCK_SEQPACKET pairs (message boundaries: NPFS here has only
byte-stream pipes), control messages (SCM_RIGHTS, SCM_CREDENTIALS), MSG_OOB,
MSG_WAITALL (taken as a plain read, which may return less), sendmmsg and recvmmsg.
Each gives a clear errno, named in the table (syscalls.py).

Every call that takes a socket fd gives what Linux gives for an fd that is not one:
EBADF when it is not open, ENOTSOCK otherwise — bash asks `getpeername` of its
standard input, to know whether sshd started it.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, replace

from ...kernel.dispatcher import WaitPending
from ...kernel.fs.pipe import (
    FILE_PIPE_BYTE_STREAM_MODE,
    FILE_PIPE_COMPLETE_OPERATION,
    FILE_PIPE_FULL_DUPLEX,
    FILE_PIPE_QUEUE_OPERATION,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    PipeEnd,
    PipeInformation,
)
from ...kernel.io import (
    FILE_CREATE,
    FILE_READ_DATA,
    FILE_SYNCHRONOUS_IO_NONALERT,
    FILE_WRITE_DATA,
    FSCTL_PIPE_LX_SHUTDOWN,
    FSCTL_PIPE_PEEK,
    SYNCHRONIZE,
    FileInternalInformation,
    FileObject,
    FilePipeInformation,
    FilePipeLocalInformation,
    FileStatLxInformation,
)
from ...kernel.status import NtStatusError
from . import files, inet, pipes, unix, unixmsg
from .errno import (
    EAFNOSUPPORT,
    EAGAIN,
    EINVAL,
    EISCONN,
    ENOPROTOOPT,
    ENOTCONN,
    ENOTSOCK,
    ENOTTY,
    EOPNOTSUPP,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    LinuxError,
)
from .fdtable import O_CLOEXEC, O_NONBLOCK, O_RDWR, FdEntry, OpenFile
from .identity import creds
from .task import Task

AF_UNIX, AF_INET, AF_INET6, AF_MAX = 1, 2, 10, 46
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_MAX = 1, 2, 3, 5, 11
SOCK_TYPE_MASK, SOCK_NONBLOCK, SOCK_CLOEXEC = 0xF, O_NONBLOCK, O_CLOEXEC
MSG_OOB, MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL = 0x1, 0x2, 0x40, 0x100, 0x4000
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
SOL_SOCKET = 1
SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_PASSCRED, SO_PEERCRED = 3, 4, 7, 8, 16, 17
SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN = 30, 38, 39
S_IFSOCK = 0o140000
SOCKET_QUOTA = 212_992          # Linux's wmem_default and rmem_default (and their maxima)
SOCK_MIN_SNDBUF, SOCK_MIN_RCVBUF = 4608, 2304
SIOCINQ = pipes.FIONREAD
MSGHDR = struct.Struct("<QI4xQQQQi4x")   # struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
_serial = itertools.count(1)


@dataclass
class SocketOptions:
    """What Linux keeps in a socket beside its data: options, and the peer's credentials."""

    sndbuf: int = SOCKET_QUOTA
    rcvbuf: int = SOCKET_QUOTA
    passcred: bool = False
    peer: tuple[int, int, int] = (0, 0, 0)       # struct ucred: pid, uid, gid
    state: str = "connected"    # "unconnected" (an endpoint on lxcore), "connected" (a pipe)
    name: bytes = b""           # the sockaddr getsockname gives ("" : unnamed)
    peer_name: bytes = b""      # and getpeername
    domain: int = 1             # AF_UNIX, or AF_INET/AF_INET6 (state "inet": an AFD endpoint)
    kind: int = 1               # SOCK_STREAM, SOCK_DGRAM


def socket_name(task: Task) -> str:
    return f"\\Device\\NamedPipe\\Lxss.Socket.{task.pid:08x}.{next(_serial):08x}"


# --- socket and socketpair ---------------------------------------------------------------------


def _socket_arguments(domain: int, kind: int, protocol: int) -> tuple[int, int, int, int]:
    """socket(2)'s and socketpair(2)'s first checks, as __sock_create makes them:
    (domain, type, protocol, the SOCK_CLOEXEC/SOCK_NONBLOCK flags)."""
    domain, kind, protocol = files.signed32(domain), files.signed32(kind), files.signed32(protocol)
    flags = kind & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise LinuxError(EINVAL, f"socket type flags {flags:#x}")
    kind &= SOCK_TYPE_MASK
    if not 0 <= domain < AF_MAX:
        raise LinuxError(EAFNOSUPPORT, f"address family {domain}")
    if kind >= SOCK_MAX:
        raise LinuxError(EINVAL, f"socket type {kind}")
    return domain, kind, protocol, flags


def sys_socket(task: Task, domain: int, kind: int, protocol: int) -> int:
    """socket(2): AF_UNIX (unix.py, unixmsg.py), AF_INET and AF_INET6 (inet.py); other
    families EAFNOSUPPORT."""
    domain, kind, protocol, flags = _socket_arguments(domain, kind, protocol)
    if domain in (AF_INET, AF_INET6):
        return inet.create(task, domain, kind, protocol, flags)
    if domain != AF_UNIX:
        raise LinuxError(EAFNOSUPPORT, f"address family {domain} is not modelled")
    if protocol not in (0, AF_UNIX):
        raise LinuxError(EPROTONOSUPPORT, f"protocol {protocol}")
    if kind in (SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET):     # Linux makes SOCK_RAW a datagram one
        return unixmsg.create(task, SOCK_DGRAM if kind == SOCK_RAW else kind, flags)
    if kind != SOCK_STREAM:
        raise LinuxError(ESOCKTNOSUPPORT, f"socket type {kind}: no such AF_UNIX type")
    return unix.create(task, flags)


def sys_socketpair(task: Task, domain: int, kind: int, protocol: int, sv: int) -> int:
    """socketpair(2), with Linux's checks in Linux's order (__sys_socketpair, then
    __sock_create, then the family's create and socketpair)."""
    domain, kind, protocol, flags = _socket_arguments(domain, kind, protocol)
    if domain in (AF_INET, AF_INET6):
        # Linux makes the two sockets, then finds the family has no socketpair
        raise LinuxError(EOPNOTSUPP, "an Internet socket cannot be made in pairs")
    if domain != AF_UNIX:
        raise LinuxError(EAFNOSUPPORT, f"address family {domain} is not modelled")
    if protocol not in (0, AF_UNIX):
        raise LinuxError(EPROTONOSUPPORT, f"protocol {protocol}")
    if kind in (SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET):
        first, second = unixmsg.pair(task, SOCK_DGRAM if kind == SOCK_RAW else kind, flags)
        try:
            task.write(sv, struct.pack("<ii", first, second))
        except LinuxError:
            files.close_fd(task, first)
            files.close_fd(task, second)
            raise
        return 0
    if kind != SOCK_STREAM:
        raise LinuxError(ESOCKTNOSUPPORT, f"socket type {kind}: no such AF_UNIX type")
    return _make_pair(task, sv, flags)


def new_pipe(task: Task, nonblocking: bool, quota: int = SOCKET_QUOTA) -> tuple[int, int, int]:
    """A connected pair of stream sockets as NT makes them: a full-duplex named pipe,
    (server end, client end, the pipe's file id). The client end waits unless
    `nonblocking`; the server end takes the mode too."""
    nt = task.nt
    mode = FILE_PIPE_COMPLETE_OPERATION if nonblocking else FILE_PIPE_QUEUE_OPERATION
    name = socket_name(task)
    identity = creds(task)
    access = FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE
    # Full duplex: each end reads what the other writes, each way with Linux's buffer size
    server = nt.NtCreateNamedPipeFile(
        name, access, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_CREATE, FILE_SYNCHRONOUS_IO_NONALERT,
        CompletionMode=mode, MaximumInstances=1, InboundQuota=quota, OutboundQuota=quota,
        lx_owner=(identity.euid, identity.egid))
    try:
        client = nt.NtOpenFile(name, access, FILE_SYNCHRONOUS_IO_NONALERT)
    except NtStatusError:
        nt.NtClose(server)
        raise
    if nonblocking:     # NtOpenFile connects an end that waits
        set_nonblocking(task, client, True)
    return server, client, nt.NtQueryInformationFile(server, FileInternalInformation)


def set_nonblocking(task: Task, handle: int, on: bool) -> None:
    mode = FILE_PIPE_COMPLETE_OPERATION if on else FILE_PIPE_QUEUE_OPERATION
    task.nt.NtSetInformationFile(handle, FilePipeInformation, PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))


def _make_pair(task: Task, address: int, flags: int) -> int:
    nt = task.nt
    identity = creds(task)
    server, client, inode = new_pipe(task, bool(flags & SOCK_NONBLOCK))
    handles = [server, client]
    table = task.lx.fds
    installed: list[int] = []
    try:
        quota = nt.NtQueryInformationFile(server, FilePipeLocalInformation).InboundQuota
        peer = (task.pid, identity.euid, identity.egid)
        for handle in handles:
            # Linux gives each socket of a pair its own inode; NPFS has one file id per
            # pipe, so both show the pipe's
            opened = OpenFile(f"socket:[{inode}]", O_RDWR | (flags & O_NONBLOCK), "socket",
                              socket=SocketOptions(quota, quota, False, peer))
            installed.append(table.install(FdEntry(handle, opened, bool(flags & SOCK_CLOEXEC))))
        task.write(address, struct.pack("<ii", *installed))
    except (LinuxError, NtStatusError):
        for fd in installed:
            table.remove(fd)
        for handle in handles:
            nt.NtClose(handle)
        raise
    return 0


# --- the fd ------------------------------------------------------------------------------------


def socket_entry(task: Task, fd: int) -> FdEntry:
    """The fd's entry if it is a socket: EBADF if it is not open, ENOTSOCK if it is not one."""
    entry = task.lx.fds.get(files.signed32(fd))
    if entry.file.kind != "socket":
        raise LinuxError(ENOTSOCK, f"fd {fd} is not a socket")
    return entry


def not_a_socket(task: Task, fd: int, *_rest: int) -> int:
    """A call about addresses and connections (bind, connect, listen, accept...): on a
    socketpair's socket, what Linux says where ntsim models it, EOPNOTSUPP where not."""
    socket_entry(task, fd)
    raise LinuxError(EOPNOTSUPP, "only socketpair's connected sockets are modelled")


def _family(entry: FdEntry):
    """The module that runs this socket's family: inet.py (on AFD) or unix.py."""
    state = entry.file.socket.state
    return inet if state == "inet" else unixmsg if state == "message" else unix


def sys_connect(task: Task, fd: int, addr: int, addrlen: int) -> int:
    entry = socket_entry(task, fd)
    return _family(entry).connect(task, entry, addr, addrlen)


def sys_bind(task: Task, fd: int, addr: int, addrlen: int) -> int:
    entry = socket_entry(task, fd)
    return _family(entry).bind(task, entry, addr, addrlen)


def sys_listen(task: Task, fd: int, backlog: int = 0, *_rest: int) -> int:
    entry = socket_entry(task, fd)
    return _family(entry).listen(task, entry, files.signed32(backlog))


def sys_accept(task: Task, fd: int, addr: int = 0, addrlen: int = 0, flags: int = 0, *_rest: int) -> int:
    entry = socket_entry(task, fd)
    return _family(entry).accept(task, entry, addr, addrlen, flags)


def set_status_flags(task: Task, entry: FdEntry, flags: int) -> None:
    """F_SETFL or FIONBIO on a socket: O_NONBLOCK is the pipe end's completion mode, or
    the AFD endpoint's non-blocking mode; an lxcore endpoint reads the fd's flags itself."""
    state = entry.file.socket.state
    if state == "inet":
        inet.set_nonblocking(task, entry.handle, bool(flags & O_NONBLOCK))
    elif state == "connected":
        pipes.set_status_flags(task, entry, flags)


def connected(entry: FdEntry, error: int = ENOTCONN) -> FdEntry:
    """A connected socket's entry; else `error` (Linux: ENOTCONN to send, EINVAL to receive)."""
    if entry.file.socket.state not in ("connected", "inet"):
        raise LinuxError(error, "the socket is not connected")
    return entry


def pipe_end(task: Task, entry: FdEntry) -> PipeEnd:
    """The NPFS end behind a socket fd (ObReferenceObjectByHandle: the pico provider may look)."""
    return task.thread.process.handles.lookup(entry.handle, FileObject).context


def socket_end(file: FileObject) -> PipeEnd | None:
    """The pipe end a file object is, if it is a socket's: in LXSS, a full-duplex NPFS
    pipe is always a socketpair's."""
    end = file.context
    if isinstance(end, PipeEnd) and end.pipe.configuration == FILE_PIPE_FULL_DUPLEX:
        return end
    return None


def shutdown_state(end: PipeEnd) -> tuple[bool, bool]:
    """Linux's sk_shutdown of the socket, from its queues: RCV_SHUTDOWN once this end
    stopped receiving or the peer stopped sending (or went); SEND_SHUTDOWN the other way."""
    incoming, outgoing = end.incoming, end.outgoing
    return (not incoming.reader_open or not incoming.writer_open,
            not outgoing.writer_open or not outgoing.reader_open)


def stat(task: Task, entry: FdEntry):
    """fstat of a socket: S_IFSOCK, mode 0777, as sockfs shows every socket."""
    info = task.nt.NtQueryInformationFile(entry.handle, FileStatLxInformation)
    return replace(info, LxMode=S_IFSOCK | 0o777)


def ioctl(task: Task, entry: FdEntry, request: int, arg: int) -> int:
    """SIOCINQ (FIONREAD): the bytes waiting to be read at this end."""
    if request != SIOCINQ:
        raise LinuxError(ENOTTY, f"ioctl {request:#x} on a socket")
    task.write_u32(arg, task.nt.NtQueryInformationFile(entry.handle, FilePipeLocalInformation).ReadDataAvailable)
    return 0


def _for_one_call(task: Task, entry: FdEntry, flags: int, action):
    """MSG_DONTWAIT on an end that waits: FILE_PIPE_COMPLETE_OPERATION for this call only."""
    if not flags & MSG_DONTWAIT or entry.file.flags & O_NONBLOCK:
        return action()
    nt = task.nt
    nt.NtSetInformationFile(entry.handle, FilePipeInformation,
                            PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, FILE_PIPE_COMPLETE_OPERATION))
    try:
        return action()
    finally:
        nt.NtSetInformationFile(entry.handle, FilePipeInformation,
                                PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, FILE_PIPE_QUEUE_OPERATION))


# --- sending -----------------------------------------------------------------------------------


def _send(task: Task, entry: FdEntry, data: bytes, flags: int) -> int:
    connected(entry)
    if flags & MSG_OOB:
        raise LinuxError(EOPNOTSUPP, "out-of-band data (MSG_OOB) is not modelled")
    signal = not flags & MSG_NOSIGNAL
    return _for_one_call(task, entry, flags, lambda: pipes.write(task, entry, data, signal))


def sys_sendto(task: Task, fd: int, buf: int, length: int, flags: int, dest_addr: int, addrlen: int) -> int:
    entry = socket_entry(task, fd)
    if entry.file.socket.state == "message":
        return unixmsg.send(task, entry, task.read(buf, min(length, 0x7FFFF000)), flags, dest_addr,
                            files.signed32(addrlen), [], not flags & MSG_NOSIGNAL)
    if entry.file.socket.state == "inet":
        address = inet.parse(task, entry.file.socket.domain, dest_addr, addrlen) \
            if dest_addr and files.signed32(addrlen) else None
        return inet.send(task, entry, task.read(buf, min(length, 0x7FFFF000)), flags, address,
                         not flags & MSG_NOSIGNAL)
    if dest_addr and files.signed32(addrlen):
        raise LinuxError(EISCONN, "a socketpair's socket is connected: no address to send to")
    return _send(task, entry, task.read(buf, min(length, 0x7FFFF000)), flags)


def sys_sendmsg(task: Task, fd: int, msg: int, flags: int) -> int:
    entry = socket_entry(task, fd)
    name, namelen, iov, iovlen, control, controllen, _ = MSGHDR.unpack(task.read(msg, MSGHDR.size))
    if entry.file.socket.state == "message":
        data = b"".join(task.read(base, size) for base, size in files._iovecs(task, iov, iovlen))
        rights = unix.take_control(task, entry, control, controllen, None) if control and controllen >= 16 else []
        return unixmsg.send(task, entry, data, flags, name, files.signed32(namelen), rights,
                            not flags & MSG_NOSIGNAL)
    if entry.file.socket.state == "inet":
        if control and controllen >= 16:
            raise LinuxError(EOPNOTSUPP, "control messages on an Internet socket are not modelled")
        data = b"".join(task.read(base, size) for base, size in files._iovecs(task, iov, iovlen))
        address = inet.parse(task, entry.file.socket.domain, name, namelen) if name and namelen else None
        return inet.send(task, entry, data, flags, address, not flags & MSG_NOSIGNAL)
    if name and namelen:
        raise LinuxError(EISCONN, "a socketpair's socket is connected: no address to send to")
    data = b"".join(task.read(base, size) for base, size in files._iovecs(task, iov, iovlen))
    if control and controllen >= 16:
        connected(entry)
        unix.take_control(task, entry, control, controllen, pipe_end(task, entry).outgoing)
    return _send(task, entry, data, flags)


# --- receiving ---------------------------------------------------------------------------------


def _receive(task: Task, entry: FdEntry, count: int, flags: int, post):
    connected(entry, EINVAL)
    if flags & MSG_OOB:
        raise LinuxError(EINVAL, "no out-of-band data (MSG_OOB is not modelled)")
    if flags & MSG_PEEK:
        nonblocking = bool(flags & MSG_DONTWAIT or entry.file.flags & O_NONBLOCK)
        return _peek(task, entry, count, nonblocking, post)
    return _for_one_call(task, entry, flags, lambda: pipes.read(task, entry, count, post))


def _peek(task: Task, entry: FdEntry, count: int, nonblocking: bool, post):
    """MSG_PEEK: FSCTL_PIPE_PEEK, which never waits; an empty pipe with a writer is
    waited on (its data and hang-up events) and peeked again, unless the call must not wait."""
    peeked = task.nt.NtFsControlFile(entry.handle, FSCTL_PIPE_PEEK, count)
    end = pipe_end(task, entry)
    if peeked.Data or count <= 0 or shutdown_state(end)[0]:
        return post(peeked.Data)
    if nonblocking:
        raise LinuxError(EAGAIN, "nothing to read (MSG_DONTWAIT or O_NONBLOCK)")
    incoming = end.incoming
    raise WaitPending([incoming.data, incoming.hangup, incoming.broken],
                      lambda _status: _peek(task, entry, count, nonblocking, post), reason="socket peek")


def _address_out(task: Task, addr: int, addrlen: int, name: bytes) -> None:
    """move_addr_to_user: as much of the address as fits, and its full length."""
    if not addr or not addrlen:
        return
    room = files.signed32(task.read_u32(addrlen))
    if room < 0:
        raise LinuxError(EINVAL, "negative address length")
    if room and name:
        task.write(addr, name[:room])
    task.write_u32(addrlen, len(name))


def sys_recvfrom(task: Task, fd: int, buf: int, length: int, flags: int, src_addr: int, addrlen: int) -> int:
    entry = socket_entry(task, fd)
    if entry.file.socket.state == "message":
        def took(data: bytes, message, size: int) -> int:
            task.write(buf, data)
            if message is not None:
                _drop_rights(task, message)
                _address_out(task, src_addr, addrlen, message.sender)
            return size if flags & 0x20 else len(data)          # MSG_TRUNC: the real length

        return unixmsg.receive(task, entry, min(length, 0x7FFFF000), flags, took)
    if entry.file.socket.state == "inet":
        def delivered(data: bytes, address, _size) -> int:
            task.write(buf, data[:length])
            if address is not None:
                _address_out(task, src_addr, addrlen, inet.sockaddr(entry.file.socket.domain, address))
            return len(data) if flags & 0x20 else min(len(data), length)

        return inet.receive(task, entry, min(length, 0x7FFFF000), flags, delivered)

    def deliver(data: bytes) -> int:
        task.write(buf, data)
        _address_out(task, src_addr, addrlen, b"")   # the sender is unnamed: length 0
        return len(data)

    return _receive(task, entry, min(length, 0x7FFFF000), flags, deliver)


def sys_recvmsg(task: Task, fd: int, msg: int, flags: int) -> int:
    entry = socket_entry(task, fd)
    name, _namelen, iov, iovlen, control, controllen, _ = MSGHDR.unpack(task.read(msg, MSGHDR.size))
    vectors = files._iovecs(task, iov, iovlen)
    if entry.file.socket.state == "message":
        def scattered(data: bytes, message, size: int) -> int:
            done = 0
            for base, length in vectors:
                piece = data[done:done + length]
                task.write(base, piece)
                done += len(piece)
            sender, record, ucred = (message.sender, message.rights, message.ucred) if message else (b"", [], None)
            if name:
                room = task.read_u32(msg + 8)
                task.write(name, sender[:room])
                task.write_u32(msg + 8, len(sender))
            if message is not None and flags & 0x2:
                record = []                      # MSG_PEEK: the descriptors stay with the message
            elif message is not None:
                message.rights = []
            used, truncated = unix.give_control(task, entry, msg, control, controllen, flags, None,
                                                True, record, ucred)
            task.write(msg + 40, struct.pack("<Q", used))
            task.write_u32(msg + 48, truncated | (0x20 if size > done else 0))   # MSG_TRUNC
            return size if flags & 0x20 else done

        return unixmsg.receive(task, entry, sum(size for _, size in vectors), flags, scattered)
    if entry.file.socket.state == "inet":
        def gathered(data: bytes, address, _size) -> int:
            done = 0
            for base, size in vectors:
                piece = data[done:done + size]
                task.write(base, piece)
                done += len(piece)
            if name:
                named = inet.sockaddr(entry.file.socket.domain, address) if address is not None else b""
                room = task.read_u32(msg + 8)
                task.write(name, named[:room])
                task.write_u32(msg + 8, len(named))
            task.write(msg + 40, struct.pack("<Q", 0))
            task.write_u32(msg + 48, 0x20 if len(data) > done else 0)     # MSG_TRUNC
            return done

        return inet.receive(task, entry, sum(size for _, size in vectors), flags, gathered)

    def scatter(data: bytes) -> int:
        done = 0
        for base, size in vectors:
            piece = data[done:done + size]
            task.write(base, piece)
            done += len(piece)
        if name:
            task.write_u32(msg + 8, 0)           # msg_namelen: a stream's sender is not named
        used, truncated = unix.give_control(task, entry, msg, control, controllen, flags,
                                            pipe_end(task, entry).incoming, bool(data))
        task.write(msg + 40, struct.pack("<Q", used))     # msg_controllen
        task.write_u32(msg + 48, truncated)               # msg_flags
        return len(data)

    return _receive(task, entry, sum(size for _, size in vectors), flags, scatter)


# --- shutdown, names and options ---------------------------------------------------------------


def sys_shutdown(task: Task, fd: int, how: int) -> int:
    entry = socket_entry(task, fd)
    how = files.signed32(how)
    if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
        raise LinuxError(EINVAL, f"how {how}")
    if entry.file.socket.state == "inet":
        return inet.shutdown(task, entry, how)
    if entry.file.socket.state == "message":
        peer = unixmsg.socket_of(task, entry).peer
        if peer is None:
            raise LinuxError(ENOTCONN, "not connected")
        if how != SHUT_RD:                      # the peer reads end of file after what was sent
            peer.peer_gone = True
            peer.changed(again=True)
        return 0
    connected(entry)
    task.nt.NtFsControlFile(entry.handle, FSCTL_PIPE_LX_SHUTDOWN, (how != SHUT_WR, how != SHUT_RD))
    return 0


def sys_getsockname(task: Task, fd: int, addr: int, addrlen: int) -> int:
    """The socket's name; an unnamed AF_UNIX socket is sa_family only (length 2)."""
    entry = socket_entry(task, fd)
    options = entry.file.socket
    if options.state == "inet":
        _address_out(task, addr, addrlen, inet.name(task, entry, False))
        return 0
    _address_out(task, addr, addrlen, options.name or struct.pack("<H", AF_UNIX))
    return 0


def sys_getpeername(task: Task, fd: int, addr: int, addrlen: int) -> int:
    entry = socket_entry(task, fd)
    options = entry.file.socket
    if options.state == "message":
        if unixmsg.socket_of(task, entry).peer is None:
            raise LinuxError(ENOTCONN, "not connected")
        _address_out(task, addr, addrlen, options.peer_name or struct.pack("<H", AF_UNIX))
        return 0
    connected(entry)
    if options.state == "inet":
        _address_out(task, addr, addrlen, inet.name(task, entry, True))
        return 0
    _address_out(task, addr, addrlen, options.peer_name or struct.pack("<H", AF_UNIX))
    return 0


address_out = _address_out


def _drop_rights(task: Task, message) -> None:
    """recv/read of a message with descriptors and no room for them: they are closed."""
    for handle, node, _ in message.rights or ():
        for each in (handle, node):
            if each is not None:
                task.kernel.system.handles.remove(each)
    message.rights = []


def sys_getsockopt(task: Task, fd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    entry = socket_entry(task, fd)
    if entry.file.socket.state == "inet":
        length = files.signed32(task.read_u32(optlen))
        if length < 0:
            raise LinuxError(EINVAL, "negative option length")
        value = inet.getsockopt(task, entry, files.signed32(level), files.signed32(optname), length)
        task.write(optval, value)
        task.write_u32(optlen, len(value))
        return 0
    if files.signed32(level) != SOL_SOCKET:
        raise LinuxError(EOPNOTSUPP, f"level {level}: AF_UNIX has options at SOL_SOCKET only")
    options: SocketOptions = entry.file.socket
    length = files.signed32(task.read_u32(optlen))
    if length < 0:
        raise LinuxError(EINVAL, "negative option length")
    if optname == SO_PEERCRED:
        value = struct.pack("<iII", *options.peer)
    else:
        listening = options.state in ("unconnected", "message") and \
            getattr(options, "listener_creds", None) is not None
        numbers = {SO_TYPE: options.kind, SO_DOMAIN: AF_UNIX, SO_PROTOCOL: 0, SO_ERROR: 0,
                   SO_ACCEPTCONN: int(listening), SO_SNDBUF: options.sndbuf, SO_RCVBUF: options.rcvbuf,
                   SO_PASSCRED: int(options.passcred)}
        if optname not in numbers:
            raise LinuxError(ENOPROTOOPT, f"socket option {optname} is not modelled")
        value = struct.pack("<i", numbers[optname])
    value = value[:length]
    task.write(optval, value)
    task.write_u32(optlen, len(value))
    return 0


def sys_setsockopt(task: Task, fd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    entry = socket_entry(task, fd)
    if entry.file.socket.state == "inet":
        length = files.signed32(optlen)
        if length < 0:
            raise LinuxError(EINVAL, "negative option length")
        return inet.setsockopt(task, entry, files.signed32(level), files.signed32(optname),
                               task.read(optval, min(length, 256)))
    if files.signed32(level) != SOL_SOCKET:
        raise LinuxError(EOPNOTSUPP, f"level {level}: AF_UNIX has options at SOL_SOCKET only")
    if files.signed32(optlen) < 4:
        raise LinuxError(EINVAL, "an option's value is an int")
    value = int.from_bytes(task.read(optval, 4), "little")      # as Linux's u32 clamp sees it
    options: SocketOptions = entry.file.socket
    if optname == SO_SNDBUF:
        options.sndbuf = max(min(value, SOCKET_QUOTA) * 2, SOCK_MIN_SNDBUF)
    elif optname == SO_RCVBUF:
        options.rcvbuf = max(min(value, SOCKET_QUOTA) * 2, SOCK_MIN_RCVBUF)
    elif optname == SO_PASSCRED:
        options.passcred = bool(value)
    else:
        raise LinuxError(ENOPROTOOPT, f"socket option {optname} is not modelled")
    return 0
