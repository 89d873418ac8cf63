"""`\\Device\\Afd`: the Ancillary Function Driver, NT's sockets — here on the host's sockets.

On NT, Winsock is a user-mode library; a socket is a file object on `\\Device\\Afd`
(an *endpoint*), made by NtCreateFile with the family, type and protocol in its EA
buffer ("AfdOpenPacketXX"), and driven by NtDeviceIoControlFile: IOCTL_AFD_BIND,
IOCTL_AFD_CONNECT, IOCTL_AFD_START_LISTEN, IOCTL_AFD_ACCEPT, IOCTL_AFD_RECV,
IOCTL_AFD_SEND (codes `FILE_DEVICE_NETWORK << 12 | operation << 2 | method`, as
ReactOS's afd numbers them); NtReadFile and NtWriteFile receive and send. WSL1 put a
Linux program's AF_INET sockets on AFD too. Here each endpoint wraps one non-blocking
host socket, so a guest's TCP and UDP really reach other programs on this machine.

Containment: unless the machine was made with `network=True` (`ntsim run --network`),
an endpoint reaches only the loopback addresses (127.0.0.0/8, ::1): a connect or
send elsewhere fails with STATUS_NETWORK_UNREACHABLE, and a bind to the wildcard
address binds to loopback instead (so a guest's server is never reachable from other
machines), any other address failing with STATUS_INVALID_ADDRESS_COMPONENT.

Waiting: a request that would block on the host raises WaitPending on the endpoint's
*receive* or *send* event. Receive readiness comes from the dispatcher's host-input
watch (it selects on the host socket while guests run or idle); send readiness, rarer
on loopback, is looked at again each millisecond by a dispatcher timer.

ntsim's own codes (an AFD has its own private ones for these): IOCTL_AFD_LX_GET_PEER_NAME,
IOCTL_AFD_LX_GET_OPTION and IOCTL_AFD_LX_SET_OPTION (socket options, passed to the host
by number: a Linux host and a Linux guest number them alike), IOCTL_AFD_LX_SHUTDOWN.
"""

from __future__ import annotations

# `socket` is imported where an endpoint needs it, not here: converting its constants to
# enums costs ~3 ms, at every start of ntsim, for programs that never open a socket.
import errno
import ipaddress
import os
import struct
from typing import TYPE_CHECKING, Any

from ..dispatcher import WaitPending
from ..io import (
    FILE_ATTRIBUTE_NORMAL,
    CreateRequest,
    Device,
    FileObject,
    FileStatLx,
    FileStatLxInformation,
    Readiness,
)
from ..processes import Event
from ..status import NTSTATUS, STATUS_INVALID_INFO_CLASS, STATUS_INVALID_PARAMETER, NtStatusError

if TYPE_CHECKING:
    import socket

    from ..kernel import Kernel

FILE_DEVICE_NETWORK = 0x12
METHOD_NEITHER = 3


def _afd_code(operation: int) -> int:
    return FILE_DEVICE_NETWORK << 12 | operation << 2 | METHOD_NEITHER


IOCTL_AFD_BIND = _afd_code(0)
IOCTL_AFD_CONNECT = _afd_code(1)
IOCTL_AFD_START_LISTEN = _afd_code(2)
IOCTL_AFD_ACCEPT = _afd_code(4)
IOCTL_AFD_RECV = _afd_code(5)
IOCTL_AFD_RECV_DATAGRAM = _afd_code(6)
IOCTL_AFD_SEND = _afd_code(7)
IOCTL_AFD_SEND_DATAGRAM = _afd_code(8)
IOCTL_AFD_GET_SOCK_NAME = _afd_code(11)
IOCTL_AFD_SET_INFO = _afd_code(14)
IOCTL_AFD_LX_GET_PEER_NAME = _afd_code(0x700)
IOCTL_AFD_LX_GET_OPTION = _afd_code(0x701)
IOCTL_AFD_LX_SET_OPTION = _afd_code(0x702)
IOCTL_AFD_LX_SHUTDOWN = _afd_code(0x703)
AFD_NONBLOCKING_MODE = 2            # IOCTL_AFD_SET_INFO's information class
OPEN_PACKET = "AfdOpenPacketXX"     # the EA name Winsock's NtCreateFile passes
MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL = 0x2, 0x40, 0x100

STATUS_PENDING = NTSTATUS(0x00000103, "STATUS_PENDING")
STATUS_CANT_WAIT = NTSTATUS(0xC00000D8, "STATUS_CANT_WAIT")
STATUS_PIPE_BROKEN = NTSTATUS(0xC000014B, "STATUS_PIPE_BROKEN")
STATUS_IO_TIMEOUT = NTSTATUS(0xC00000B5, "STATUS_IO_TIMEOUT")
STATUS_INVALID_CONNECTION = NTSTATUS(0xC0000140, "STATUS_INVALID_CONNECTION")
STATUS_INVALID_ADDRESS_COMPONENT = NTSTATUS(0xC0000207, "STATUS_INVALID_ADDRESS_COMPONENT")
STATUS_ADDRESS_ALREADY_EXISTS = NTSTATUS(0xC000020A, "STATUS_ADDRESS_ALREADY_EXISTS")
STATUS_CONNECTION_RESET = NTSTATUS(0xC000020D, "STATUS_CONNECTION_RESET")
STATUS_CONNECTION_REFUSED = NTSTATUS(0xC0000236, "STATUS_CONNECTION_REFUSED")
STATUS_CONNECTION_ACTIVE = NTSTATUS(0xC000023B, "STATUS_CONNECTION_ACTIVE")
STATUS_NETWORK_UNREACHABLE = NTSTATUS(0xC000023C, "STATUS_NETWORK_UNREACHABLE")
STATUS_HOST_UNREACHABLE = NTSTATUS(0xC000023D, "STATUS_HOST_UNREACHABLE")
STATUS_CONNECTION_ABORTED = NTSTATUS(0xC0000241, "STATUS_CONNECTION_ABORTED")
STATUS_BUFFER_OVERFLOW = NTSTATUS(0x80000005, "STATUS_BUFFER_OVERFLOW")
STATUS_UNEXPECTED_NETWORK_ERROR = NTSTATUS(0xC00000C4, "STATUS_UNEXPECTED_NETWORK_ERROR")
STATUS_ACCESS_DENIED = NTSTATUS(0xC0000022, "STATUS_ACCESS_DENIED")
STATUS_NOT_SUPPORTED = NTSTATUS(0xC00000BB, "STATUS_NOT_SUPPORTED")

# what a host socket's error becomes on the NT side (the LXSS maps these back to errno)
HOST_ERRORS = {
    errno.EAGAIN: STATUS_CANT_WAIT, errno.EPIPE: STATUS_PIPE_BROKEN, errno.ETIMEDOUT: STATUS_IO_TIMEOUT,
    errno.ENOTCONN: STATUS_INVALID_CONNECTION, errno.EADDRNOTAVAIL: STATUS_INVALID_ADDRESS_COMPONENT,
    errno.EADDRINUSE: STATUS_ADDRESS_ALREADY_EXISTS, errno.ECONNRESET: STATUS_CONNECTION_RESET,
    errno.ECONNREFUSED: STATUS_CONNECTION_REFUSED, errno.EISCONN: STATUS_CONNECTION_ACTIVE,
    errno.ENETUNREACH: STATUS_NETWORK_UNREACHABLE, errno.EHOSTUNREACH: STATUS_HOST_UNREACHABLE,
    errno.ECONNABORTED: STATUS_CONNECTION_ABORTED, errno.EMSGSIZE: STATUS_BUFFER_OVERFLOW,
    errno.EACCES: STATUS_ACCESS_DENIED, errno.EINVAL: STATUS_INVALID_PARAMETER,
    errno.EOPNOTSUPP: STATUS_NOT_SUPPORTED, errno.ENOPROTOOPT: STATUS_NOT_SUPPORTED,
}
SEND_RETRY_NS = 1_000_000


def host_failure(error: OSError, what: str) -> NtStatusError:
    return NtStatusError(HOST_ERRORS.get(error.errno, STATUS_UNEXPECTED_NETWORK_ERROR),
                         f"{what}: {error.strerror}")


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class Endpoint:
    """An AFD endpoint: one host socket, and the events its waiters sleep on."""

    def __init__(self, kernel: Kernel, family: int, kind: int, protocol: int,
                 host: socket.socket | None = None) -> None:
        import socket
        self.kernel = kernel
        self.family, self.kind = family, kind
        self.socket = host or socket.socket(family, kind, protocol)
        self.socket.setblocking(False)
        self.nonblocking = False
        self.listening = False
        self.receive = Event("afd receive")
        self.send = Event("afd send")
        self.watching = False
        self.connecting = False

    # readiness ------------------------------------------------------------------------------

    def _host_ready(self) -> tuple[bool, bool, bool]:
        import select

        try:
            poller = select.poll()
            poller.register(self.socket.fileno(), select.POLLIN | select.POLLOUT)
            events = dict(poller.poll(0)).get(self.socket.fileno(), 0)
        except (OSError, ValueError):
            return True, True, True
        return (bool(events & (select.POLLIN | select.POLLHUP | select.POLLERR)),
                bool(events & (select.POLLOUT | select.POLLERR | select.POLLHUP)),
                bool(events & select.POLLHUP))

    def watch_receive(self) -> None:
        """Ask the dispatcher to tell `receive` when the host socket has something."""
        if self.watching or self.socket.fileno() < 0:
            return
        self.watching = True
        fd = self.socket.fileno()

        def arrived() -> None:
            self.kernel.dispatcher.unwatch_host_input(fd)
            self.watching = False
            self.receive.signalled = True
            self.kernel.dispatcher.signal(self.receive)
            self.receive.signalled = False

        self.kernel.dispatcher.watch_host_input(fd, arrived)

    def watch_send(self) -> None:
        def look() -> None:
            if self._host_ready()[1]:
                self.send.signalled = True
                self.kernel.dispatcher.signal(self.send)
                self.send.signalled = False
            elif self.send.wait_blocks:
                self.kernel.dispatcher.set_timer(SEND_RETRY_NS, look)

        self.kernel.dispatcher.set_timer(SEND_RETRY_NS, look)

    def readiness(self, read: bool, write: bool) -> Readiness:
        readable, writable, hangup = self._host_ready()
        if read and not readable:
            self.watch_receive()
        if write and not writable:
            self.watch_send()
        return Readiness(readable=readable, writable=writable, hangup=hangup,
                         wait_read=(self.receive,), wait_write=(self.send,), wait_closed=(self.receive,))

    # waiting ----------------------------------------------------------------------------------

    def _would_block(self, event: Event, retry, flags: int, what: str):
        if self.nonblocking or flags & MSG_DONTWAIT:
            raise NtStatusError(STATUS_CANT_WAIT, f"{what} would wait")
        if event is self.receive:
            self.watch_receive()
        else:
            self.watch_send()
        return WaitPending([event], lambda _status: retry(), reason=f"afd {what}")

    def recv(self, length: int, flags: int, datagram: bool = False):
        import socket
        try:
            if datagram:
                return self.socket.recvfrom(max(length, 0), flags & (MSG_PEEK | socket.MSG_TRUNC))
            return self.socket.recv(max(length, 0), flags & MSG_PEEK)
        except BlockingIOError:
            raise self._would_block(self.receive, lambda: self.recv(length, flags, datagram), flags,
                                    "receive") from None
        except OSError as error:
            raise host_failure(error, "receive") from None

    def sendall(self, data: bytes, flags: int, address: Any = None, sent: int = 0) -> int:
        """A blocking send completes when all is sent (as Linux's stream sockets do); a
        non-blocking one with what fit."""
        import socket
        try:
            while sent < len(data) or (sent == 0 and not data):
                if address is not None:
                    sent += self.socket.sendto(data, socket.MSG_NOSIGNAL, address)
                    return sent
                sent += self.socket.send(data[sent:], socket.MSG_NOSIGNAL)
                if not data:
                    break
        except BlockingIOError:
            if sent:
                if self.nonblocking or flags & MSG_DONTWAIT:
                    return sent
            raise self._would_block(self.send, lambda: self.sendall(data, flags, address, sent), flags,
                                    "send") from None
        except OSError as error:
            raise host_failure(error, "send") from None
        return sent


class AfdDevice(Device):
    device_type = FILE_DEVICE_NETWORK

    def __init__(self, kernel: Kernel) -> None:
        super().__init__()
        self.kernel = kernel

    @property
    def network(self) -> bool:
        return bool(getattr(self.kernel, "network", False))

    def create(self, file: FileObject, request: CreateRequest) -> None:
        packet = (request.ea or {}).get(OPEN_PACKET)
        if packet is None:
            file.context = None          # an endpoint an accept fills in
            return
        family, kind, protocol = struct.unpack("<iii", packet)
        try:
            file.context = Endpoint(self.kernel, family, kind, protocol)
        except OSError as error:
            raise host_failure(error, "socket") from None

    # addresses --------------------------------------------------------------------------------

    def _destination(self, endpoint: Endpoint, address: tuple) -> tuple:
        if not self.network and not is_loopback(address[0]):
            raise NtStatusError(STATUS_NETWORK_UNREACHABLE,
                                f"{address[0]}: only loopback is reachable (ntsim run --network opens the rest)")
        return address

    def _local(self, endpoint: Endpoint, address: tuple) -> tuple:
        import socket
        host = address[0]
        if self.network or is_loopback(host):
            return address
        if host in ("0.0.0.0", "::", ""):
            loopback = "127.0.0.1" if endpoint.family == socket.AF_INET else "::1"
            return (loopback, *address[1:])
        raise NtStatusError(STATUS_INVALID_ADDRESS_COMPONENT,
                            f"{host}: only loopback addresses may be bound (ntsim run --network)")

    # requests ---------------------------------------------------------------------------------

    def device_control(self, file: FileObject, code: int, data: Any) -> Any:
        endpoint: Endpoint = file.context
        host = endpoint.socket
        try:
            if code == IOCTL_AFD_BIND:
                host.bind(self._local(endpoint, data))
                return 0
            if code == IOCTL_AFD_CONNECT:
                return self._connect(endpoint, data)
            if code == IOCTL_AFD_START_LISTEN:
                host.listen(data)
                endpoint.listening = True
                return 0
            if code == IOCTL_AFD_ACCEPT:
                return self._accept(endpoint, data)
            if code == IOCTL_AFD_RECV:
                return endpoint.recv(*data)
            if code == IOCTL_AFD_RECV_DATAGRAM:
                return endpoint.recv(data[0], data[1], datagram=True)
            if code == IOCTL_AFD_SEND:
                return endpoint.sendall(data[0], data[1])
            if code == IOCTL_AFD_SEND_DATAGRAM:
                payload, flags, address = data
                return endpoint.sendall(payload, flags, self._destination(endpoint, address))
            if code == IOCTL_AFD_GET_SOCK_NAME:
                return host.getsockname()
            if code == IOCTL_AFD_LX_GET_PEER_NAME:
                return host.getpeername()
            if code == IOCTL_AFD_SET_INFO:
                information, value = data
                if information != AFD_NONBLOCKING_MODE:
                    raise NtStatusError(STATUS_INVALID_PARAMETER, f"AFD information {information}")
                endpoint.nonblocking = bool(value)
                return 0
            if code == IOCTL_AFD_LX_GET_OPTION:
                level, name, length = data
                return host.getsockopt(level, name, length)
            if code == IOCTL_AFD_LX_SET_OPTION:
                level, name, value = data
                host.setsockopt(level, name, value)
                return 0
            if code == IOCTL_AFD_LX_SHUTDOWN:
                host.shutdown(data)
                return 0
        except OSError as error:
            raise host_failure(error, "socket request") from None
        return super().device_control(file, code, data)

    def _connect(self, endpoint: Endpoint, address: tuple) -> int:
        """STATUS_SUCCESS when connected; STATUS_PENDING for a non-blocking endpoint whose
        connection is on its way (Linux's EINPROGRESS); a blocking one waits for it."""
        import socket
        self._destination(endpoint, address)
        if endpoint.connecting:           # connect again: how the first one went
            if not endpoint._host_ready()[1]:
                raise NtStatusError(STATUS_CANT_WAIT, "a connection is on its way")
            endpoint.connecting = False
            problem = endpoint.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if problem:
                raise host_failure(OSError(problem, os.strerror(problem)), "connect")
            raise NtStatusError(STATUS_CONNECTION_ACTIVE, "connected already")
        problem = endpoint.socket.connect_ex(address)
        if problem == 0:
            return 0
        if problem != errno.EINPROGRESS:
            raise host_failure(OSError(problem, os.strerror(problem)), "connect")
        if endpoint.nonblocking:
            endpoint.connecting = True
            return STATUS_PENDING
        return self._finish_connect(endpoint)

    def _finish_connect(self, endpoint: Endpoint) -> int:
        import socket
        if not endpoint._host_ready()[1]:
            endpoint.watch_send()
            raise WaitPending([endpoint.send], lambda _status: self._finish_connect(endpoint),
                              reason="afd connect")
        problem = endpoint.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if problem:
            raise host_failure(OSError(problem, os.strerror(problem)), "connect")
        return 0

    def _accept(self, endpoint: Endpoint, target: FileObject) -> tuple:
        try:
            host, address = endpoint.socket.accept()
        except BlockingIOError:
            raise endpoint._would_block(endpoint.receive, lambda: self._accept(endpoint, target), 0,
                                        "accept") from None
        target.context = Endpoint(self.kernel, endpoint.family, endpoint.kind, 0, host)
        return address

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        return file.context.recv(length, 0)

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        return file.context.sendall(data, 0)

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        return file.context.readiness(read, write)

    def query_information(self, file: FileObject, info_class: int) -> Any:
        if info_class != FileStatLxInformation:
            raise NtStatusError(STATUS_INVALID_INFO_CLASS, f"class {info_class}")
        info = os.fstat(file.context.socket.fileno())
        return FileStatLx(FileId=info.st_ino, CreationTime=0, LastAccessTime=0, LastWriteTime=0,
                          ChangeTime=0, AllocationSize=0, EndOfFile=0, FileAttributes=FILE_ATTRIBUTE_NORMAL,
                          NumberOfLinks=1, LxMode=info.st_mode, LxUid=info.st_uid, LxGid=info.st_gid,
                          VolumeSerialNumber=info.st_dev & 0xFFFFFFFF)

    def cleanup(self, file: FileObject) -> None:
        endpoint: Endpoint | None = file.context
        if endpoint is None:
            return
        if endpoint.watching:
            self.kernel.dispatcher.unwatch_host_input(endpoint.socket.fileno())
            endpoint.watching = False
        endpoint.socket.close()
        # anyone still waiting on it learns at once (their retry finds the socket closed)
        for event in (endpoint.receive, endpoint.send):
            event.signalled = True
            self.kernel.dispatcher.signal(event)
            event.signalled = False


def device(kernel: Kernel) -> AfdDevice:
    """The driver, loaded on first use (as afd.sys is loaded when Winsock first needs it)."""
    try:
        found = kernel.objects.lookup("\\Device\\Afd")
    except NtStatusError:
        found = None
    if isinstance(found, AfdDevice):
        return found
    return kernel.objects.insert("\\Device\\Afd", AfdDevice(kernel), permanent=True)
