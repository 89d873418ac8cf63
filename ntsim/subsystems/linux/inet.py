"""AF_INET and AF_INET6 sockets: TCP and UDP on NT's AFD (kernel/fs/afd.py), as WSL1 did.

socket() is NtCreateFile of `\\Device\\Afd\\Endpoint` with the family, type and protocol
in the EA buffer, as Winsock opens a socket; each call after is one AFD request
(NtDeviceIoControlFile): bind, connect, listen, accept, send and receive, names and
options. read and write are NtReadFile and NtWriteFile on the endpoint. This module
only translates: Linux's sockaddr_in/sockaddr_in6 to the transport address AFD takes,
AFD's NTSTATUS back to errno (errno.py), O_NONBLOCK to AFD's non-blocking mode.

What the guest may reach is the driver's business: loopback only, unless `ntsim run
--network` (see afd.py and the README).
"""

from __future__ import annotations

import ipaddress
import struct

from ...kernel.fs import afd
from ...kernel.io import FILE_READ_DATA, FILE_WRITE_DATA, SYNCHRONIZE, FileObject
from ...kernel.status import NtStatusError
from . import files
from .errno import (
    EAFNOSUPPORT,
    EINPROGRESS,
    EINVAL,
    ENOPROTOOPT,
    EOPNOTSUPP,
    EPROTONOSUPPORT,
    LinuxError,
)
from .fdtable import O_CLOEXEC, O_NONBLOCK, O_RDWR, FdEntry, OpenFile
from .task import Task

AF_INET, AF_INET6 = 2, 10
SOCK_STREAM, SOCK_DGRAM = 1, 2
IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6 = 0, 6, 17, 41
SOL_SOCKET = 1
MSG_NOSIGNAL, MSG_TRUNC = 0x4000, 0x20
# options passed to the host by number (a Linux host numbers them as the guest does);
# the rest give ENOPROTOOPT rather than reach the host (SO_BINDTODEVICE, filters, marks...)
OPTIONS = {
    SOL_SOCKET: {2, 3, 4, 6, 7, 8, 9, 10, 13, 15, 30, 38, 39},   # REUSEADDR TYPE ERROR BROADCAST
    # SNDBUF RCVBUF KEEPALIVE OOBINLINE LINGER REUSEPORT ACCEPTCONN PROTOCOL DOMAIN
    IPPROTO_TCP: {1, 2, 3, 4, 5, 6, 9, 12, 18, 23},    # NODELAY MAXSEG CORK KEEPIDLE/INTVL/CNT ...
    IPPROTO_IP: {1, 2, 3, 8, 10, 11, 14},               # TOS TTL HDRINCL PKTINFO MTU_DISCOVER RECVERR MTU
    IPPROTO_IPV6: {16, 26, 49},                          # UNICAST_HOPS V6ONLY RECVPKTINFO
    IPPROTO_UDP: set(),
}
SO_RCVTIMEO, SO_SNDTIMEO = 20, 21


# --- addresses ---------------------------------------------------------------------------------


def parse(task: Task, family: int, addr: int, addrlen: int) -> tuple:
    """A guest sockaddr_in or sockaddr_in6 as the (host, port[, flow, scope]) AFD takes."""
    addrlen = files.signed32(addrlen)
    if addrlen < 2:
        raise LinuxError(EINVAL, f"address length {addrlen}")
    raw = task.read(addr, min(addrlen, 128))
    given = int.from_bytes(raw[:2], "little")
    if family == AF_INET:
        if addrlen < 16:
            raise LinuxError(EINVAL, "a sockaddr_in is 16 bytes")
        if given != AF_INET:
            raise LinuxError(EAFNOSUPPORT, f"address family {given} on an AF_INET socket")
        port = struct.unpack_from(">H", raw, 2)[0]
        return (str(ipaddress.IPv4Address(raw[4:8])), port)
    if addrlen < 24:
        raise LinuxError(EINVAL, "a sockaddr_in6 is 28 bytes")
    if given != AF_INET6:
        raise LinuxError(EAFNOSUPPORT, f"address family {given} on an AF_INET6 socket")
    port, flow = struct.unpack_from(">HI", raw, 2)
    scope = struct.unpack_from("<I", raw, 24)[0] if addrlen >= 28 else 0
    return (str(ipaddress.IPv6Address(raw[8:24])), port, flow, scope)


def sockaddr(family: int, address: tuple) -> bytes:
    if family == AF_INET:
        return struct.pack("<H", AF_INET) + struct.pack(">H", address[1]) + \
            ipaddress.IPv4Address(address[0]).packed + bytes(8)
    host, port, flow, scope = (*address, 0, 0)[:4]
    return struct.pack("<H", AF_INET6) + struct.pack(">HI", port, flow) + \
        ipaddress.IPv6Address(host.split("%")[0]).packed + struct.pack("<I", scope)


# --- the endpoint ------------------------------------------------------------------------------


def create(task: Task, family: int, kind: int, protocol: int, flags: int) -> int:
    from .sockets import SocketOptions

    if kind not in (SOCK_STREAM, SOCK_DGRAM):
        raise LinuxError(EPROTONOSUPPORT if kind == 3 else EINVAL, f"socket type {kind} (raw sockets are not modelled)")
    if protocol not in (0, IPPROTO_TCP if kind == SOCK_STREAM else IPPROTO_UDP):
        raise LinuxError(EPROTONOSUPPORT, f"protocol {protocol}")
    afd.device(task.kernel)
    handle = task.nt.NtCreateFile("\\Device\\Afd\\Endpoint", FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE, 1,
                                  EaBuffer={afd.OPEN_PACKET: struct.pack("<iii", family, kind, protocol)})
    try:
        if flags & O_NONBLOCK:
            set_nonblocking(task, handle, True)
        info = task.nt.NtQueryInformationFile(handle, files.FileStatLxInformation)
        options = SocketOptions(state="inet", domain=family, kind=kind)
        opened = OpenFile(f"socket:[{info.FileId}]", O_RDWR | (flags & O_NONBLOCK), "socket", socket=options)
        return task.lx.fds.install(FdEntry(handle, opened, bool(flags & O_CLOEXEC)))
    except (LinuxError, NtStatusError):
        task.nt.NtClose(handle)
        raise


def set_nonblocking(task: Task, handle: int, on: bool) -> None:
    task.nt.NtDeviceIoControlFile(handle, afd.IOCTL_AFD_SET_INFO, (afd.AFD_NONBLOCKING_MODE, on))


def _request(task: Task, entry: FdEntry, code: int, data=None):
    return task.nt.NtDeviceIoControlFile(entry.handle, code, data)


def bind(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    _request(task, entry, afd.IOCTL_AFD_BIND, parse(task, entry.file.socket.domain, addr, addrlen))
    return 0


def connect(task: Task, entry: FdEntry, addr: int, addrlen: int) -> int:
    address = parse(task, entry.file.socket.domain, addr, addrlen)

    def done(status) -> int:
        if status == afd.STATUS_PENDING:
            raise LinuxError(EINPROGRESS, "the connection is on its way (O_NONBLOCK)")
        return 0

    from ...kernel.dispatcher import then

    return then(lambda: _request(task, entry, afd.IOCTL_AFD_CONNECT, address), done)


def listen(task: Task, entry: FdEntry, backlog: int) -> int:
    if entry.file.socket.kind != SOCK_STREAM:
        raise LinuxError(EOPNOTSUPP, "a datagram socket does not listen")
    _request(task, entry, afd.IOCTL_AFD_START_LISTEN, max(0, min(backlog, 4096)))
    return 0


def accept(task: Task, entry: FdEntry, addr: int, addrlen: int, flags: int) -> int:
    from ...kernel.dispatcher import then
    from .sockets import SocketOptions, address_out

    if flags & ~(O_CLOEXEC | O_NONBLOCK):
        raise LinuxError(EINVAL, f"accept4 flags {flags:#x}")
    options = entry.file.socket
    # the endpoint the connection is accepted on, as Winsock's accept makes one first
    target = task.nt.NtCreateFile("\\Device\\Afd\\Endpoint", FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE, 1)
    target_file = task.thread.process.handles.lookup(target, FileObject)

    def accepted(address) -> int:
        if flags & O_NONBLOCK:
            set_nonblocking(task, target, True)
        info = task.nt.NtQueryInformationFile(target, files.FileStatLxInformation)
        opened = OpenFile(f"socket:[{info.FileId}]", O_RDWR | (flags & O_NONBLOCK), "socket",
                          socket=SocketOptions(state="inet", domain=options.domain, kind=options.kind))
        fd = task.lx.fds.install(FdEntry(target, opened, bool(flags & O_CLOEXEC)))
        address_out(task, addr, addrlen, sockaddr(options.domain, address))
        return fd

    try:
        return then(lambda: _request(task, entry, afd.IOCTL_AFD_ACCEPT, target_file), accepted)
    except Exception as failure:
        from ...kernel.dispatcher import WaitPending

        if isinstance(failure, WaitPending):
            failure.on_cancel.append(lambda: task.nt.NtClose(target))
        else:
            task.nt.NtClose(target)
        raise


# --- data --------------------------------------------------------------------------------------


def send(task: Task, entry: FdEntry, data: bytes, flags: int, address: tuple | None, signal: bool) -> int:
    from . import signals

    try:
        if address is not None and entry.file.socket.kind == SOCK_DGRAM:
            return _request(task, entry, afd.IOCTL_AFD_SEND_DATAGRAM, (data, flags, address))
        return _request(task, entry, afd.IOCTL_AFD_SEND, (data, flags))
    except NtStatusError as error:
        if error.status == afd.STATUS_PIPE_BROKEN and signal:
            signals.broken_pipe(task, entry.file.path)
        raise


def receive(task: Task, entry: FdEntry, count: int, flags: int, post):
    """post(data, address or None)."""
    from ...kernel.dispatcher import then

    if entry.file.socket.kind == SOCK_DGRAM:
        def got(result):
            data, address = result
            return post(data, address, len(data))

        return then(lambda: _request(task, entry, afd.IOCTL_AFD_RECV_DATAGRAM, (count, flags | MSG_TRUNC)), got)
    return then(lambda: _request(task, entry, afd.IOCTL_AFD_RECV, (count, flags)),
                lambda data: post(data, None, len(data)))


# --- names, options, shutdown ------------------------------------------------------------------


def name(task: Task, entry: FdEntry, peer: bool) -> bytes:
    code = afd.IOCTL_AFD_LX_GET_PEER_NAME if peer else afd.IOCTL_AFD_GET_SOCK_NAME
    return sockaddr(entry.file.socket.domain, _request(task, entry, code))


def getsockopt(task: Task, entry: FdEntry, level: int, option: int, length: int) -> bytes:
    if option not in OPTIONS.get(level, ()) and option not in (SO_RCVTIMEO, SO_SNDTIMEO):
        raise LinuxError(ENOPROTOOPT, f"option {option} at level {level} is not passed to the host")
    if level == SOL_SOCKET and option in (SO_RCVTIMEO, SO_SNDTIMEO):
        return bytes(16)[:length]          # the timeouts are not modelled: none set
    return _request(task, entry, afd.IOCTL_AFD_LX_GET_OPTION, (level, option, max(length, 0)))


def setsockopt(task: Task, entry: FdEntry, level: int, option: int, value: bytes) -> int:
    if level == SOL_SOCKET and option in (SO_RCVTIMEO, SO_SNDTIMEO):
        if any(value):
            raise LinuxError(ENOPROTOOPT, "socket timeouts (SO_RCVTIMEO, SO_SNDTIMEO) are not modelled")
        return 0
    if option not in OPTIONS.get(level, ()):
        raise LinuxError(ENOPROTOOPT, f"option {option} at level {level} is not passed to the host")
    _request(task, entry, afd.IOCTL_AFD_LX_SET_OPTION, (level, option, value))
    return 0


def shutdown(task: Task, entry: FdEntry, how: int) -> int:
    import socket  # here, not at the top: see kernel/fs/afd.py

    _request(task, entry, afd.IOCTL_AFD_LX_SHUTDOWN, {0: socket.SHUT_RD, 1: socket.SHUT_WR}.get(how, socket.SHUT_RDWR))
    return 0
