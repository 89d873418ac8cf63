"""LPC: local procedure call, the message passing between a client and a server process.

A server creates a named *connection port* (`NtCreatePort`, e.g. `\\Windows\\ApiPort` for
CSRSS) and waits on it (`NtListenPort` / `NtReplyWaitReceivePort`). A client connects
(`NtConnectPort`); the server accepts (`NtAcceptConnectPort`), which creates a pair of
*communication ports*, one for each side. From then on the client sends a request and
waits for the reply in one call (`NtRequestWaitReplyPort`), and the server replies and
waits for the next request in one call (`NtReplyWaitReceivePort`). Either side may also
send a *datagram* (`NtRequestPort`), which has no reply.

**Messages.** Every message is a PORT_MESSAGE header (0x18 bytes) and at most 0x130 bytes
of data: an API message header (capture-buffer pointer, API number, status) and a typed
*record* — the API's arguments, packed as the C structure would be (`Record`), so a
value too big for its field is refused, and the trace shows each field by name. An API
number is `server << 16 | api`, as CSR's are; each server has parallel dispatch, validity
and name tables per server number (`ServerTables`), ReactOS CSR's shape.

**Bigger data** travels one of three ways, never inside an oversized message:
- through the *port section*: the client asked for one at `NtConnectPort` (its
  ClientView); the kernel mapped one section into both processes, so what the client
  writes at its view the server reads at its own — shared memory, limited by its size;
- by reference: the message lists the client's buffers (PORT_DATA_ENTRY), and the server
  reads or writes them with `NtReadRequestData` / `NtWriteRequestData` while the request
  waits for its reply (or with `NtReadVirtualMemory` on a handle to the client process);
- from kernel mode (a driver such as the console device is the client), the driver's own
  buffer is the data entry: the kernel hands it to the server.

**Server threads.** When a request arrives while a server thread waits on its port, the
kernel switches to that thread at once and runs it on the same host stack, as NT's LPC
did (3.51's Quick LPC made it faster). A handler that must wait for a kernel object (a
read on an empty pipe, a wait for a child) raises WaitPending as any service does: its
server thread parks on the object with the request, and replies when the object is
signalled; the next request takes another thread, and a server whose threads are all
busy gets a new one (CSR's dynamic request threads). A handler may instead keep the
message and reply later itself (`DEFERRED`, CSR's wait blocks).
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..trace import LPC, SERVER, ArgType, DecodeContext, Int, render_bytes
from .dispatcher import WaitPending
from .processes import DispatcherObject, Event, Process, SynchronizationEvent, Thread, ThreadState
from .sections import Section, Segment
from .status import (
    STATUS_ALERTED,
    STATUS_ILLEGAL_FUNCTION,
    STATUS_INVALID_PARAMETER,
    STATUS_INVALID_PORT_HANDLE,
    STATUS_NO_MEMORY,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PORT_CONNECTION_REFUSED,
    STATUS_PORT_DISCONNECTED,
    STATUS_PORT_MESSAGE_TOO_LONG,
    STATUS_REPLY_MESSAGE_MISMATCH,
    STATUS_SUCCESS,
    NtStatusError,
)

if TYPE_CHECKING:
    from .kernel import Kernel

PORT_MESSAGE_HEADER = 0x18
PORT_MAXIMUM_MESSAGE = 0x148
PORT_MAXIMUM_DATA = PORT_MAXIMUM_MESSAGE - PORT_MESSAGE_HEADER   # 0x130
PORT_SECTION_SIZE = 0x10000          # what a client asks for by default (CSR's 64 KiB)
API_MESSAGE_HEADER = 0x10            # CaptureBuffer pointer (8), ApiNumber (4), Status (4)
UNTYPED_SLOT = 8                     # an argument of an API with no record: one 8-byte slot
DATA_INFORMATION_HEADER = 8          # PORT_DATA_INFORMATION.CountDataEntries, padded
DATA_ENTRY = 16                      # PORT_DATA_ENTRY: Base (8), Size (8)
SECTION_ALIGNMENT = 16               # capture buffers in the port section start here

# PORT_MESSAGE.Type
LPC_REQUEST, LPC_REPLY, LPC_DATAGRAM, LPC_LOST_REPLY = 1, 2, 3, 4
LPC_PORT_CLOSED, LPC_CLIENT_DIED, LPC_EXCEPTION = 5, 6, 7
LPC_CONNECTION_REQUEST = 10
MESSAGE_TYPES = {1: "LPC_REQUEST", 2: "LPC_REPLY", 3: "LPC_DATAGRAM", 5: "LPC_PORT_CLOSED",
                 6: "LPC_CLIENT_DIED", 10: "LPC_CONNECTION_REQUEST"}

KERNEL_MODE, USER_MODE = "kernel", "user"   # KPROCESSOR_MODE of the sender


# --- typed records ----------------------------------------------------------------------------


class FixedBytes(ArgType):
    """A fixed-size character array in a record, shown without its padding."""

    def decode(self, value, ctx):
        return render_bytes(bytes(value).rstrip(b"\0"))


@dataclass(frozen=True)
class Field:
    """One field of a message record: its name, its C layout (a `struct` format: "I" a
    ULONG, "i" a LONG, "Q" a ULONG_PTR or pointer, "32s" a CHAR[32]) and how to show it."""

    name: str
    format: str = "Q"
    type: ArgType | None = None

    @property
    def shown_as(self) -> ArgType:
        if self.type is not None:
            return self.type
        return FixedBytes() if self.format.endswith("s") else Int()


class Record:
    """The argument (or reply) structure of one API, as a member of CSR_API_MESSAGE's
    union: packed little-endian with no padding, so its size is what the message costs."""

    def __init__(self, name: str, *fields: Field) -> None:
        self.name = name
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self._struct = struct.Struct("<" + "".join(f.format for f in fields))
        self.size = self._struct.size
        # worked out once: every LPC message packs its record (a tenth of a POSIX getpid)
        self._sizes = {f.name: struct.calcsize(f.format) for f in fields}
        self._defaults = tuple((f.name, b"" if f.format.endswith("s") else 0) for f in fields)

    def pack(self, values: Mapping[str, Any]) -> bytes:
        """The record's bytes; a field it lacks is zero, an unknown or out-of-range one
        is STATUS_INVALID_PARAMETER (what a C compiler would not have let through)."""
        sizes = self._sizes
        for name, value in values.items():
            if name not in sizes:
                raise NtStatusError(STATUS_INVALID_PARAMETER, f"{self.name} has no field {name}")
            if isinstance(value, bytes | bytearray) and len(value) > sizes[name]:
                self._refuse_long(values)
        try:
            return self._struct.pack(*[values.get(name, default) for name, default in self._defaults])
        except struct.error as error:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"{self.name}: {error}") from None

    def _refuse_long(self, values: Mapping[str, Any]) -> None:
        """A bytes value longer than its field: the first such field, in the record's order."""
        sizes = self._sizes
        for name in values:
            if name not in sizes:
                raise NtStatusError(STATUS_INVALID_PARAMETER, f"{self.name} has no field {name}")
        for f in self.fields:
            value = values.get(f.name)
            if isinstance(value, bytes | bytearray) and len(value) > sizes[f.name]:
                raise NtStatusError(STATUS_INVALID_PARAMETER, f"{self.name}.{f.name} holds {sizes[f.name]} bytes")

    def unpack(self, raw: bytes) -> dict[str, Any]:
        return dict(zip(self.names, self._struct.unpack(raw), strict=True))

    def decode(self, values: Mapping[str, Any], process: Process | None) -> dict[str, Any]:
        """The fields as the trace shows them."""
        context = DecodeContext(process, dict(values))
        shown = {}
        for f in self.fields:
            try:
                shown[f.name] = f.shown_as.decode(values.get(f.name), context)
            except Exception:     # a trace must never break the call it shows
                shown[f.name] = None
        return shown


# --- messages -------------------------------------------------------------------------------


@dataclass
class PortMessage:
    """PORT_MESSAGE and its body. `body` holds the API's arguments by name (for a typed
    API, what its record unpacked to); `data` the bytes that travel with it (inline if
    they fit, else through the port section or by reference: see `travel`)."""

    Type: int
    ApiNumber: int
    body: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""
    ClientId: tuple[int, int] = (0, 0)
    MessageId: int = 0
    Status: int = STATUS_SUCCESS
    reply: PortMessage | None = None
    client_thread: Thread | None = None
    client_port: Port | None = None
    trace_event: Any = None      # the server-side trace event, open until the reply
    connection: Port | None = None   # the connection port it was queued on
    cancelled: bool = False      # the client stopped waiting for the reply (LpcManager.cancel)
    record: Record | None = None     # the API's typed record, when it has one
    raw: bytes = b""                 # ... and the record's bytes as sent
    travel: str = "inline"           # "inline", "section" or "reference"
    capture: tuple[int, int] | None = None   # (offset, length) in the port section
    data_entries: list[tuple[Any, int]] = field(default_factory=list)   # PORT_DATA_ENTRY
    previous_mode: str = KERNEL_MODE
    server_thread: Thread | None = None   # the server thread working on it
    server_wait: WaitPending | None = None   # what that thread waits for, if it waits

    @property
    def record_length(self) -> int:
        return self.record.size if self.record is not None else UNTYPED_SLOT * len(self.body)

    @property
    def fixed_length(self) -> int:
        """The API message header and the record."""
        return API_MESSAGE_HEADER + self.record_length

    @property
    def via_section(self) -> bool:
        return self.travel == "section"

    @property
    def DataLength(self) -> int:
        inline = len(self.data) if self.travel == "inline" else 0
        entries = DATA_INFORMATION_HEADER + DATA_ENTRY * len(self.data_entries) \
            if self.data_entries else 0
        return self.fixed_length + inline + entries

    @property
    def TotalLength(self) -> int:
        return PORT_MESSAGE_HEADER + self.DataLength


# A server handler returns DEFERRED to keep the message and reply later with
# `LpcManager.reply` (CSRSS's wait blocks: a console read with no input yet).
DEFERRED = object()


@dataclass
class ApiReply:
    """What a handler returns to send bytes back with its reply record: they travel
    inline if they fit, else through the port section."""

    value: Any
    data: bytes = b""


class PortSection:
    """The section a client asked for at NtConnectPort, mapped into the client and the
    server: each side's view base, and which ranges carry messages now (first fit)."""

    def __init__(self, section: Section, size: int, client: Process, server: Process) -> None:
        self.section, self.size = section, size
        self.client, self.server = client, server
        self.client_base = client.memory.map_view(section, None, size, 0, 0x04, tag="port section").base
        self.server_base = server.memory.map_view(section, None, size, 0, 0x04, tag="port section").base
        self.in_use: dict[int, int] = {}     # offset -> length

    def allocate(self, length: int) -> int:
        """Room for `length` bytes, or STATUS_NO_MEMORY (CSR's capture buffer could not
        be allocated: the data is bigger than what is free in the section)."""
        offset = 0
        for start, used in sorted(self.in_use.items()):
            if start - offset >= length:
                break
            offset = -(-(start + used) // SECTION_ALIGNMENT) * SECTION_ALIGNMENT
        if offset + length > self.size:
            raise NtStatusError(STATUS_NO_MEMORY,
                                f"{length:#x} bytes do not fit the {self.size:#x}-byte port section")
        self.in_use[offset] = length
        return offset

    def free(self, offset: int) -> None:
        self.in_use.pop(offset, None)

    def unmap(self) -> None:
        """The connection is gone: both views go (a dead process's stays until it is)."""
        for process, base in ((self.server, self.server_base), (self.client, self.client_base)):
            if process.alive and process.memory is not None and process.memory.find(base) is not None:
                process.memory.release(base)


class Port(DispatcherObject):
    """A port object. A connection port holds the message queue its server waits on;
    communication ports point at it and at their peer. A client's port queues the
    datagrams its server sends it, and is signalled while it holds any."""

    type_name = "Port"

    def __init__(self, kind: str, owner: Process, name: str = "") -> None:
        super().__init__(name)
        self.kind = kind                       # "connection", "server", "client"
        self.owner = owner
        self.connection_port: Port = self      # where requests are queued
        self.peer: Port | None = None
        self.queue: deque[PortMessage] = deque()
        self.server: LpcServer | None = None   # for a connection port: who serves it
        self.connected = True
        self.section: PortSection | None = None

    def is_signalled(self, thread: Thread) -> bool:
        return bool(self.queue)

    def on_last_handle_closed(self) -> None:
        """A client's last handle to its port closed (NtClose, or its process ended):
        the server hears LPC_PORT_CLOSED."""
        server = self.connection_port.server
        if self.kind == "client" and self.connected:
            if server is not None:
                server.port_closed(self)
            elif self.peer is not None:
                self.connected = self.peer.connected = False
                if self.section is not None:
                    self.section.unmap()


# --- a server's tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRow:
    """One API a server offers: number (`server << 16 | api`), name, handler, and its
    records: `request` (the arguments) and `reply` (what comes back). An API without
    records is untyped: its arguments are Python values, named in `arguments` for the
    trace, 8 bytes each in the message (the console's older rows).

    The handler takes (server, message) and returns the reply (a dict of the reply
    record's fields, for a typed API), or raises NtStatusError, or raises WaitPending
    to park its server thread until it can finish, or returns DEFERRED to reply later
    with `LpcManager.reply`. `from_server`: the API may also be called by a server
    process (CSR's validity table: ValidTable)."""

    number: int
    name: str
    handler: Callable[[Any, PortMessage], Any]
    arguments: tuple[str, ...] = ()
    request: Record | None = None
    reply: Record | None = None
    from_server: bool = False

    @property
    def server_number(self) -> int:
        return self.number >> 16

    @property
    def index(self) -> int:
        return self.number & 0xFFFF

    @property
    def argument_names(self) -> tuple[str, ...]:
        return self.request.names if self.request is not None else self.arguments


class ServerTables:
    """One server number's parallel tables, indexed by API number (CSR_SERVER_DLL's
    DispatchTable, ValidTable and NameTable): what the request thread looks up."""

    def __init__(self, number: int, rows: list[ApiRow]) -> None:
        self.number = number
        highest = max(row.index for row in rows) + 1
        self.dispatch: list[ApiRow | None] = [None] * highest
        self.valid: list[bool] = [False] * highest
        self.names: list[str | None] = [None] * highest
        for row in rows:
            if self.dispatch[row.index] is not None:
                raise ValueError(f"API {row.number:#x} appears twice")
            for record in (row.request, row.reply):
                if record is not None and API_MESSAGE_HEADER + record.size > PORT_MAXIMUM_DATA:
                    raise ValueError(f"{row.name}: {record.name} does not fit a port message")
            self.dispatch[row.index] = row
            self.valid[row.index] = row.from_server
            self.names[row.index] = row.name


class LpcServer:
    """A server process that answers LPC requests: the shape of CSRSS, PSXSS and OS2SS.

    Subclasses name their port and list their API rows; `start` creates the process (an
    address space of its own, which holds the port sections' server views and whatever
    the server allocates: its memory is measured like any process's), its server
    threads and its connection port, as the server's own main() would:

        PSX_READ = 1 << 16 | 3
        READ_MSG = Record("PSX_READ_MSG", Field("FileDescriptor", "i"), Field("Length", "I"))
        READ_REPLY = Record("PSX_READ_REPLY", Field("Transferred", "I"))

        class Psxss(LpcServer):
            name, image_name, port_name = "psxss", "psxss.exe", "\\PSXSS\\ApiPort"

            def read(self, message):       # runs on a server thread, as the server process
                nt = self.kernel.services
                handle = ...               # the client's fd, in the server's tables
                return then(lambda: nt.NtReadFile(handle, message.body["Length"]),
                            lambda data: ApiReply({"Transferred": len(data)}, data))

            api = (ApiRow(PSX_READ, "PsxRead", read, request=READ_MSG, reply=READ_REPLY),)

    A read that must wait parks its server thread until the pipe has data; the reply's
    bytes come back inline or through the client's port section."""

    name = "server"
    image_name = "server.exe"
    port_name = ""
    api: tuple[ApiRow, ...] = ()
    static_threads = 1           # server threads made at start (more are made when all are busy)
    architecture = "x86-64"

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.process: Process | None = None
        self.thread: Thread | None = None      # the first server thread
        self.idle_threads: list[Thread] = []   # server threads waiting on the port
        self.port: Port | None = None
        self.port_handle: int | None = None    # the server's handle to its connection port
        self.rows = {row.number: row for row in self.api}
        self.tables: dict[int, ServerTables] = {}
        by_server: dict[int, list[ApiRow]] = {}
        for row in self.api:
            by_server.setdefault(row.server_number, []).append(row)
        for number, rows in by_server.items():
            self.tables[number] = ServerTables(number, rows)
        self.clients: dict[int, Port] = {}      # client pid -> client communication port
        self.requests: dict[int, PortMessage] = {}   # MessageId -> request not yet replied to

    def start(self, parent: Process | None) -> None:
        kernel = self.kernel
        self.process = kernel.create_process(self.image_name, personality=self, parent=parent,
                                             is_server=True, architecture=self.architecture)
        for _ in range(self.static_threads):
            self._new_thread()
        self.thread = self.idle_threads[0]
        self.port = kernel.lpc.create_port(self.process, self.port_name, self)
        self.port_handle = self.process.handles.insert(self.port)

    def accept(self, client: Process) -> bool:
        """Called for a CONNECTION_REQUEST; return False to refuse."""
        return True

    def on_fault(self, thread, fault) -> None:  # servers run host code; nothing to fault
        raise RuntimeError(f"{self.name} faulted: {fault}")

    # --- server threads ---------------------------------------------------------------------

    def _new_thread(self) -> Thread:
        thread = self.kernel.create_thread(self.process, host_body=self._serve_queue)
        thread.state = ThreadState.WAITING
        self.idle_threads.append(thread)
        return thread

    def take_thread(self) -> Thread:
        """A server thread for a request: one waiting on the port, or a new one."""
        if not self.idle_threads:
            self._new_thread()
        thread = self.idle_threads.pop(0)
        thread.state = ThreadState.RUNNING
        return thread

    def release_thread(self, thread: Thread) -> None:
        """The thread is done with its request and waits on the port again."""
        if thread.state != ThreadState.TERMINATED:
            thread.state = ThreadState.WAITING
            if thread not in self.idle_threads:
                self.idle_threads.append(thread)

    # --- receiving --------------------------------------------------------------------------

    def _serve_queue(self, thread: Thread) -> None:
        while self.port.queue:
            self.kernel.lpc.deliver(self, self.port.queue.popleft())

    def dispatch(self, message: PortMessage) -> Any:
        """The request thread's table lookup (CsrApiRequestThread): the server number
        picks the tables, the API number the row; an empty slot, or an API a server
        process may not call, is STATUS_ILLEGAL_FUNCTION."""
        row = self.row_for(message.ApiNumber)
        client = message.client_port.owner if message.client_port is not None else None
        if client is not None and client.is_server and not self.tables[row.server_number].valid[row.index]:
            raise NtStatusError(STATUS_ILLEGAL_FUNCTION,
                                f"{row.name} may not be called from a server")
        return row.handler(self, message)

    def row_for(self, number: int) -> ApiRow:
        try:
            row = self.tables[number >> 16].dispatch[number & 0xFFFF]
        except (KeyError, IndexError):
            row = None
        if row is None:
            raise NtStatusError(STATUS_ILLEGAL_FUNCTION, f"{self.name} has no API {number:#x}")
        return row

    def api_name(self, number: int) -> str:
        tables = self.tables.get(number >> 16)
        index = number & 0xFFFF
        name = tables.names[index] if tables is not None and index < len(tables.names) else None
        return name or f"Api{number:#x}"

    # --- sending ----------------------------------------------------------------------------

    def send_datagram(self, client_pid: int, api_number: int, body: dict[str, Any] | None = None,
                      data: bytes = b"") -> None:
        """NtRequestPort on the server's port to one client: a message with no reply (a
        signal to deliver, a notice). It is typed by the row `api_number` names."""
        client_port = self.clients.get(client_pid)
        if client_port is None or client_port.peer is None:
            raise NtStatusError(STATUS_PORT_DISCONNECTED, f"no client {client_pid}")
        row = self.rows.get(api_number)
        message = PortMessage(LPC_DATAGRAM, api_number, dict(body or {}), data,
                              record=row.request if row is not None else None)
        caller = self.kernel.current_thread
        if caller is None or caller.process is not self.process:
            self.kernel.current_thread = self.thread
        try:
            # a server is a user-mode process: what does not fit goes through the section
            self.kernel.lpc.send_datagram(client_port.peer, message, USER_MODE)
        finally:
            self.kernel.current_thread = caller

    # --- clients going away -----------------------------------------------------------------

    def client_died(self, pid: int) -> None:
        """LPC_CLIENT_DIED: the requests the dead process left are abandoned (a parked
        server thread stops waiting for them), and its connection goes."""
        port = self.clients.get(pid)
        if port is not None:
            self.port_closed(port)

    def port_closed(self, client_port: Port) -> None:
        """LPC_PORT_CLOSED: the client closed its port (or died, which closes it): its
        requests are abandoned and the connection, with its section, goes."""
        lpc = self.kernel.lpc
        for message in [m for m in self.requests.values() if m.client_port is client_port]:
            lpc.cancel(self, message)
        owner = client_port.owner.pid
        if self.clients.get(owner) is client_port:
            del self.clients[owner]
        lpc.disconnect(client_port)


# --- the port services ------------------------------------------------------------------------


class LpcManager:
    """The port services. Kept apart from `services.py` so both NT services and kernel
    drivers (the console device) can use them."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._message_ids = itertools.count(1)
        self.reply_events: dict[int, Event] = {}   # tid -> the event its reply sets

    def create_port(self, owner: Process, name: str, server: LpcServer | None) -> Port:
        port = Port("connection", owner)
        port.server = server
        if name:
            self.kernel.objects.insert(name, port)
            port.reference()   # the server keeps its port while it lives
        return port

    # --- connecting -------------------------------------------------------------------------

    def connect(self, client: Process, name: str, client_view_size: int = 0) -> Port:
        """NtConnectPort: ask the server for a connection; returns the client port.
        `client_view_size`: the client wants a port section of that size (ClientView),
        mapped into it and into the server once the server accepts."""
        kernel = self.kernel
        connection = kernel.objects.lookup(name)
        if not isinstance(connection, Port) or connection.kind != "connection":
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"{name} is not a port")
        if client_view_size and client.memory is None:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "a port section needs an address space")
        server = connection.server
        thread = kernel.current_thread
        if server is None:
            return self._connect_queued(client, connection, client_view_size)
        tracer = kernel.tracer
        event = tracer.open(thread, LPC, "NtConnectPort", decoded={
            "PortName": name, "Type": "LPC_CONNECTION_REQUEST",
            **({"ClientViewSize": hex(client_view_size)} if client_view_size else {})}) \
            if tracer.enabled else None
        accepted = server.accept(client)
        if event is not None:
            server.thread.trace_parent = event
            server_event = tracer.open(server.thread, SERVER, "NtAcceptConnectPort",
                                       decoded={"ClientId": [client.pid, thread.tid if thread else 0],
                                                "AcceptConnection": accepted})
            tracer.close(server.thread, server_event, STATUS_SUCCESS)
            server.thread.trace_parent = None
        if not accepted:
            if event is not None:
                tracer.close(thread, event, None, "STATUS_PORT_CONNECTION_REFUSED")
            # NtConnectPort's own status for a refusal (the trace above already says so)
            raise NtStatusError(STATUS_PORT_CONNECTION_REFUSED,
                                f"{server.name} refused the connection")
        try:
            client_port, _ = self._pair(client, connection, client_view_size)
        except NtStatusError as error:
            if event is not None:
                tracer.close(thread, event, error.status, error.status.name)
            raise
        server.clients[client.pid] = client_port
        if event is not None:
            tracer.close(thread, event, STATUS_SUCCESS)
        return client_port

    def _pair(self, client: Process, connection: Port, view_size: int) -> tuple[Port, Port]:
        """The two communication ports of a connection, and its port section."""
        client_port = Port("client", client)
        server_port = Port("server", connection.owner)
        client_port.peer, server_port.peer = server_port, client_port
        client_port.connection_port = server_port.connection_port = connection
        if view_size:
            server_process = connection.owner
            if server_process.memory is None:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "the server has no address space")
            size = -(-view_size // 0x1000) * 0x1000
            section = Section(Segment(size), size, 0x04)
            client_port.section = server_port.section = PortSection(section, size, client, server_process)
        return client_port, server_port

    def disconnect(self, client_port: Port) -> None:
        """The connection ends: both ports are disconnected and the section is unmapped."""
        client_port.connected = False
        if client_port.peer is not None:
            client_port.peer.connected = False
        if client_port.section is not None:
            client_port.section.unmap()

    # --- sending ----------------------------------------------------------------------------

    def _prepare(self, port: Port, message: PortMessage) -> None:
        """Lay the message out as it will travel, and refuse it if it cannot: the record
        packed, the data inline if it fits, else through the port section, else by
        reference (kernel mode); the whole never longer than PORT_MAXIMUM_MESSAGE."""
        record = message.record
        if record is not None:
            message.raw = record.pack(message.body)
            message.body = record.unpack(message.raw)
            room = PORT_MAXIMUM_DATA - API_MESSAGE_HEADER - record.size
        else:
            room = PORT_MAXIMUM_DATA - API_MESSAGE_HEADER - UNTYPED_SLOT * len(message.body)
        if message.data_entries:
            room -= DATA_INFORMATION_HEADER + DATA_ENTRY * len(message.data_entries)
        data = message.data
        if len(data) <= room:
            if room < 0:         # the record alone is too long (an untyped one can be)
                raise NtStatusError(STATUS_PORT_MESSAGE_TOO_LONG, f"{message.TotalLength:#x} bytes")
            message.travel = "inline"
            return
        if port.section is not None:
            section = port.section
            offset = section.allocate(len(data))
            writer = section.client if port.kind == "client" else section.server
            base = section.client_base if port.kind == "client" else section.server_base
            writer.memory.write(base + offset, bytes(data))
            message.travel, message.capture = "section", (offset, len(data))
        elif message.previous_mode == KERNEL_MODE:
            # a driver's buffer: the server reaches it as a data entry
            message.travel = "reference"
            message.data_entries = [*message.data_entries, (data, len(data))]
        else:
            raise NtStatusError(STATUS_PORT_MESSAGE_TOO_LONG,
                                f"{message.TotalLength:#x} bytes, and the port has no section")
        if message.DataLength > PORT_MAXIMUM_DATA:
            self._release_capture(port.section, message)
            raise NtStatusError(STATUS_PORT_MESSAGE_TOO_LONG, f"{message.TotalLength:#x} bytes")

    @staticmethod
    def _take_capture(section: PortSection | None, message: PortMessage, reader: Process) -> None:
        """The receiver reads the data at its own view of the port section."""
        if message.capture is None or section is None:
            return
        offset, length = message.capture
        base = section.server_base if reader is section.server else section.client_base
        # the receiver's own access through its view (not a kernel peek): its pages are touched
        reader.memory.touch(base + offset, length)
        message.data = reader.memory.read(base + offset, length)

    @staticmethod
    def _release_capture(section: PortSection | None, message: PortMessage) -> None:
        if message.capture is not None and section is not None:
            section.free(message.capture[0])
        message.capture = None

    def request_wait_reply(self, port: Port, message: PortMessage,
                           previous_mode: str = KERNEL_MODE) -> PortMessage:
        """NtRequestWaitReplyPort: send, and wait for the reply. A driver calls this with
        kernel mode (its buffers may go by reference); the service, with user mode."""
        kernel = self.kernel
        if not port.connected or port.peer is None:
            raise NtStatusError(STATUS_PORT_DISCONNECTED, "the server has gone")
        if port.kind != "client":
            raise NtStatusError(STATUS_INVALID_PORT_HANDLE, "requests go from a client's port")
        thread = kernel.current_thread
        connection = port.connection_port
        server = connection.server
        message.previous_mode = previous_mode
        if server is not None and message.record is None and message.ApiNumber in server.rows:
            message.record = server.rows[message.ApiNumber].request
        self._prepare(port, message)
        message.Type = LPC_REQUEST
        message.ClientId = (port.owner.pid, thread.tid)
        message.MessageId = next(self._message_ids)
        message.client_thread = thread
        message.client_port = port
        if server is None:
            return self._request_queued(connection, message)
        tracer = kernel.tracer
        event = None
        if tracer.enabled:
            event = tracer.open(thread, LPC, "NtRequestWaitReplyPort", decoded={
                "Port": connection.path, "ApiNumber": server.api_name(message.ApiNumber),
                "MessageId": message.MessageId, "DataLength": message.DataLength,
                **({"Section": True} if message.via_section else {}),
                **({"DataEntries": len(message.data_entries)} if message.data_entries else {})})
        reply_event = self._reply_event(thread)
        # Handoff: a server thread runs now, on this stack.
        self.deliver(server, message)

        def finish(_status: int = 0) -> PortMessage:
            reply = message.reply
            if event is not None:
                tracer.resume(thread, event)
                if reply is not None and reply.record is not None:
                    event.args["Reply"] = reply.record.decode(reply.body, port.owner)
                tracer.close(thread, event, reply.Status if reply else None)
            if reply is None:
                raise NtStatusError(STATUS_PORT_DISCONNECTED, "no reply")
            return reply

        if message.reply is not None:
            return finish()
        if event is not None:
            tracer.suspend(thread, event)
        pending = WaitPending([reply_event], finish, reason=f"reply from {server.name}")
        pending.on_cancel.append(partial(self.cancel, server, message))
        raise pending

    def send_datagram(self, port: Port, message: PortMessage,
                      previous_mode: str = KERNEL_MODE) -> None:
        """NtRequestPort: a message with no reply. From a client's port it goes to the
        server (whose handler runs, and whose answer is dropped); from a server's
        communication port it is queued on the client's port, which is signalled."""
        kernel = self.kernel
        if not port.connected or port.peer is None:
            raise NtStatusError(STATUS_PORT_DISCONNECTED, "the other side has gone")
        thread = kernel.current_thread
        server = port.connection_port.server
        message.previous_mode = previous_mode
        if server is not None and message.record is None and message.ApiNumber in server.rows:
            message.record = server.rows[message.ApiNumber].request
        self._prepare(port, message)
        message.Type = LPC_DATAGRAM
        message.ClientId = (port.owner.pid, thread.tid if thread else 0)
        message.MessageId = next(self._message_ids)
        message.client_port = port if port.kind == "client" else port.peer
        tracer = kernel.tracer
        if tracer.enabled:
            name = server.api_name(message.ApiNumber) if server else hex(message.ApiNumber)
            fields = message.record.decode(message.body, port.owner) if message.record else {}
            tracer.note(thread, LPC, "NtRequestPort", {
                "Port": port.connection_port.path, "ApiNumber": name,
                "MessageId": message.MessageId, "DataLength": message.DataLength,
                "To": "server" if port.kind == "client" else f"client {port.peer.owner.pid}",
                **fields}, STATUS_SUCCESS)
        if port.kind == "client":
            if server is None:
                self._queue(port.connection_port, message)
            else:
                self.deliver(server, message)
            return
        target = port.peer
        target.queue.append(message)
        kernel.dispatcher.signal(target)

    # --- servers that are threads waiting on their port (not host code) ---------------------
    #
    # A server written as a thread of its own calls NtListenPort / NtAcceptConnectPort and
    # NtReplyWaitReceivePort; its port has no LpcServer, so requests are queued on it and
    # the client thread waits for the reply instead of being handed off.

    def _reply_event(self, thread: Thread) -> Event:
        """The event a client thread's reply sets (one per thread, reset for each call)."""
        reply_event = self.reply_events.get(thread.tid)
        if reply_event is None:
            reply_event = self.reply_events[thread.tid] = Event(event_type=SynchronizationEvent)
        reply_event.signalled = False
        return reply_event

    def _wait_for_reply(self, message: PortMessage, why: str) -> PortMessage:
        reply_event = self._reply_event(self.kernel.current_thread)

        def finish(_status: int = 0) -> PortMessage:
            if message.reply is None:
                raise NtStatusError(STATUS_PORT_DISCONNECTED, "no reply")
            return message.reply

        raise WaitPending([reply_event], finish, reason=why)

    def _queue(self, connection: Port, message: PortMessage) -> None:
        message.connection = connection
        connection.queue.append(message)
        if self.kernel.tracer.detailed:
            self._trace_message("LpcMessageQueued", connection, message)
        self.kernel.dispatcher.signal(connection)

    def _connect_queued(self, client: Process, connection: Port, view_size: int = 0) -> Port:
        thread = self.kernel.current_thread
        request = PortMessage(LPC_CONNECTION_REQUEST, 0, {"ClientViewSize": view_size},
                              ClientId=(client.pid, thread.tid),
                              MessageId=next(self._message_ids), client_thread=thread)
        self._queue(connection, request)
        try:
            self._wait_for_reply(request, f"{connection.path} to accept")
        except WaitPending as pending:
            def connected(get) -> Port:
                reply = get()
                if reply.Status != STATUS_SUCCESS:
                    raise NtStatusError(reply.Status, "the server refused the connection")
                return reply.body["value"]

            pending.wrap(connected)
            raise

    def _request_queued(self, connection: Port, message: PortMessage) -> PortMessage:
        self._queue(connection, message)
        return self._wait_for_reply(message, f"a reply on {connection.path}")

    def receive(self, port: Port, kinds: tuple[int, ...] = (LPC_REQUEST, LPC_CONNECTION_REQUEST,
                                                            LPC_DATAGRAM)) -> PortMessage:
        """NtListenPort / the receive half of NtReplyWaitReceivePort: the next message of
        those kinds, waiting for one if there is none. A server's ports receive from the
        connection port's queue; a client's port, the datagrams its server sent it."""
        queue_port = port if port.kind == "client" else port.connection_port
        reader = port.owner

        def take(_status: int = 0) -> PortMessage:
            for message in list(queue_port.queue):
                if message.Type in kinds:
                    queue_port.queue.remove(message)
                    section = (message.client_port.section if message.client_port is not None
                               else None)
                    self._take_capture(section, message, reader)
                    self._release_capture(section, message)
                    if self.kernel.tracer.detailed:
                        self._trace_message("LpcMessageTaken", queue_port, message)
                    return message
            raise WaitPending([queue_port], take, reason=f"a message on {queue_port.path or 'a port'}")

        return take()

    def accept(self, request: PortMessage, accept: bool) -> Port | None:
        """NtAcceptConnectPort (with NtCompleteConnectPort folded in): make the two
        communication ports (and the port section the client asked for) and wake the
        client — or refuse it."""
        if not accept:
            self.reply(None, request, None, STATUS_PORT_CONNECTION_REFUSED)
            return None
        connection = request.connection
        client = self.kernel.processes[request.ClientId[0]]
        client_port, server_port = self._pair(client, connection, request.body.get("ClientViewSize", 0))
        self.reply(None, request, client_port)
        return server_port

    # --- the server side ----------------------------------------------------------------------

    def _trace_message(self, name: str, connection: Port, message: PortMessage) -> None:
        """A detail event: a message joined a port's queue, or a server thread took it."""
        self.kernel.tracer.detail(self.kernel.current_thread, LPC, name, {
            "Port": connection.path, "Type": message.Type, "ApiNumber": message.ApiNumber,
            "MessageId": message.MessageId, "ClientId": list(message.ClientId)})

    def deliver(self, server: LpcServer, message: PortMessage) -> None:
        """Run a server thread on one message (NtReplyWaitReceivePort returning it)."""
        kernel = self.kernel
        caller = kernel.current_thread
        if kernel.tracer.detailed:    # handed straight to a server thread (or off its queue)
            self._trace_message("LpcMessageTaken", server.port, message)
        thread = server.take_thread()
        kernel.current_thread = thread
        message.server_thread = thread
        if message.Type == LPC_REQUEST:
            server.requests[message.MessageId] = message
        if message.capture is not None:
            self._take_capture(message.client_port.section, message, server.process)
        tracer = kernel.tracer
        event = None
        if tracer.enabled:
            # The server's work nests under the request that caused it.
            thread.trace_parent = caller.trace_parent if caller is not None else None
            row = server.rows.get(message.ApiNumber)
            if row is not None and row.request is not None:
                args = row.request.decode(message.body, message.client_port.owner
                                          if message.client_port else None)
            else:
                args = {name: message.body.get(name) for name in (row.argument_names if row else ())}
            if message.data:
                args["Data"] = render_bytes(message.data)
            if message.Type == LPC_DATAGRAM:
                args["Type"] = "LPC_DATAGRAM"
            event = tracer.open(thread, SERVER, server.api_name(message.ApiNumber),
                                decoded={"ClientId": list(message.ClientId), **args})
        message.trace_event = event
        try:
            self._run_handler(server, message, partial(server.dispatch, message))
        finally:
            kernel.current_thread = caller
            thread.trace_parent = None

    def _run_handler(self, server: LpcServer, message: PortMessage,
                     work: Callable[[], Any]) -> None:
        """Run (or go on with) a handler on the message's server thread, and reply — or
        park the thread with the request if the handler must wait."""
        thread = message.server_thread
        try:
            value = work()
        except WaitPending as pending:
            self._park(server, message, pending)
            return
        except NtStatusError as error:
            self.reply(server, message, None, error.status)
        else:
            if value is DEFERRED:
                if message.trace_event is not None:
                    self.kernel.tracer.suspend(thread, message.trace_event)
            elif isinstance(value, ApiReply):
                self.reply(server, message, value.value, STATUS_SUCCESS, value.data)
            else:
                self.reply(server, message, value, STATUS_SUCCESS)
        server.release_thread(thread)

    def _park(self, server: LpcServer, message: PortMessage, pending: WaitPending) -> None:
        """The handler waits for a kernel object: its server thread waits with the
        request, and when the object is signalled, finishes the handler and replies."""
        thread = message.server_thread
        tracer = self.kernel.tracer
        event = message.trace_event
        if event is not None:
            tracer.suspend(thread, event)
        message.server_wait = pending

        def resumed(status: int) -> None:
            message.server_wait = None
            if message.cancelled:
                if event is not None:
                    tracer.close(thread, event, None, "cancelled")
                server.release_thread(thread)
                return
            if event is not None:
                tracer.resume(thread, event)
            self._run_handler(server, message, partial(pending.complete, status))
            thread.trace_parent = None

        self.kernel.dispatcher.park(thread, pending, resumed)

    def cancel(self, server: LpcServer, message: PortMessage) -> None:
        """The client stopped waiting for this reply (a signal interrupted its call, or
        it died): the server forgets the request if it kept it waiting, a server thread
        parked with it stops waiting, and a late reply is dropped, not taken for the
        next request's."""
        message.cancelled = True
        server.requests.pop(message.MessageId, None)
        forget = getattr(server, "cancel_request", None)
        if forget is not None:
            forget(message)
        pending = message.server_wait
        if pending is not None:
            for undo in pending.on_cancel:
                undo()
            self.kernel.dispatcher.alert(message.server_thread, STATUS_ALERTED)
        section = message.client_port.section if message.client_port is not None else None
        self._release_capture(section, message)
        reply_event = self.reply_events.get(message.client_thread.tid) if message.client_thread else None
        if reply_event is not None:
            reply_event.signalled = False

    def reply(self, server: LpcServer | None, message: PortMessage, value: Any,
              status: int = STATUS_SUCCESS, data: bytes = b"") -> None:
        """NtReplyPort: the reply goes back to the waiting client thread. For a typed
        API, `value` is the reply record's fields; `data`, bytes that travel back with
        it (inline, or through the port section)."""
        client_port = message.client_port
        section = client_port.section if client_port is not None else None
        if message.capture is not None:
            self._release_capture(section, message)
        tracer = self.kernel.tracer
        event = message.trace_event
        if server is not None:
            server.requests.pop(message.MessageId, None)
        if message.cancelled or message.Type == LPC_DATAGRAM:
            # nobody waits for it (any more): a datagram's handler only closes its event
            if event is not None and tracer.enabled and message.Type == LPC_DATAGRAM:
                tracer.close(message.server_thread, event, status,
                             None if status == STATUS_SUCCESS else getattr(status, "name", hex(status)))
            return
        row = server.rows.get(message.ApiNumber) if server is not None else None
        reply = PortMessage(LPC_REPLY, message.ApiNumber, {"value": value}, data,
                            ClientId=message.ClientId, MessageId=message.MessageId, Status=status,
                            previous_mode=message.previous_mode, client_port=client_port)
        if row is not None and row.reply is not None:
            reply.record = row.reply
            reply.body = value if isinstance(value, dict) else {}
        if row is not None and (row.reply is not None or data):
            try:
                # the server's side of the connection lays the reply out
                self._prepare(client_port.peer, reply)
            except NtStatusError as error:
                reply = PortMessage(LPC_REPLY, message.ApiNumber, {}, ClientId=message.ClientId,
                                    MessageId=message.MessageId, Status=error.status)
                status = error.status
            else:
                self._take_capture(section, reply, client_port.owner)
                self._release_capture(section, reply)
        message.reply = reply
        if event is not None and tracer.enabled and server is not None:
            if reply.record is not None and status == STATUS_SUCCESS:
                event.args["Reply"] = reply.record.decode(reply.body, server.process)
            tracer.close(message.server_thread or server.thread, event, status,
                         None if status == STATUS_SUCCESS else getattr(status, "name", hex(status)))
        reply_event = self.reply_events.get(message.client_thread.tid)
        if reply_event is not None:
            reply_event.signalled = True
            self.kernel.dispatcher.signal(reply_event)

    # --- the client's buffers, from the server ------------------------------------------------

    def _data_entry(self, port: Port, message: PortMessage, index: int) -> tuple[Any, int]:
        """The PORT_DATA_ENTRY a server may reach: the message must be a request still
        waiting for its reply on this server's side of the connection."""
        if not isinstance(message, PortMessage) or message.Type != LPC_REQUEST \
                or message.reply is not None or message.cancelled:
            raise NtStatusError(STATUS_REPLY_MESSAGE_MISMATCH, "no request waits for a reply")
        client_port = message.client_port
        if client_port is None or port.connection_port is not client_port.connection_port \
                or port.kind == "client":
            raise NtStatusError(STATUS_REPLY_MESSAGE_MISMATCH, "the request came by another port")
        if not 0 <= index < len(message.data_entries):
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"the request has no data entry {index}")
        return message.data_entries[index]

    def read_request_data(self, port: Port, message: PortMessage, index: int, length: int) -> bytes:
        """NtReadRequestData: read (at most the size of) a buffer the request names."""
        base, size = self._data_entry(port, message, index)
        length = min(length, size)
        if isinstance(base, bytes | bytearray | memoryview):
            return bytes(base[:length])
        return self.kernel.processes[message.ClientId[0]].memory.read(base, length)

    def write_request_data(self, port: Port, message: PortMessage, index: int, data: bytes) -> int:
        """NtWriteRequestData: write into a buffer the request names (never past it)."""
        base, size = self._data_entry(port, message, index)
        if len(data) > size:
            raise NtStatusError(STATUS_INVALID_PARAMETER,
                                f"{len(data)} bytes into a {size}-byte buffer")
        if isinstance(base, bytearray):
            base[:len(data)] = data
        elif isinstance(base, bytes | memoryview):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "that buffer is the client's input")
        else:
            self.kernel.processes[message.ClientId[0]].memory.write(base, bytes(data))
        return len(data)


__all__ = ["ApiReply", "ApiRow", "DEFERRED", "Field", "LpcManager", "LpcServer", "Port", "PortMessage",
           "PortSection", "Record", "ServerTables"]
