"""LPC: local procedure call, the message passing between a client and a server process.

A server creates a named *connection port* (`NtCreatePort`, e.g. `\\Windows\\ApiPort` for
CSRSS) and waits on it (`NtListenPort` / `NtReplyWaitReceivePort`). A client connects
(`NtConnectPort`); the server accepts (`NtAcceptConnectPort`), which creates a pair of
*communication ports*, one for each side. From then on the client sends a request and
waits for the reply in one call (`NtRequestWaitReplyPort`), and the server replies and
waits for the next request in one call (`NtReplyWaitReceivePort`).

Every message starts with the fixed PORT_MESSAGE header; the body is a typed record (an
API number and its arguments, as CSR_API_MESSAGE has). A message carries at most 0x148
bytes; bigger data goes through a section shared by the two ports (the capture buffer).

Handoff: when a request arrives while the server thread waits on its port, the kernel
switches to the server thread at once and runs it on the same host stack, as NT's
LPC did (and 3.51's Quick LPC made faster). If the server replies, the client continues
without ever leaving the call; if the server must wait for something (console input),
the client thread parks until the reply comes.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..trace import LPC, SERVER
from .dispatcher import WaitPending
from .processes import DispatcherObject, Event, Process, SynchronizationEvent, Thread
from .status import (
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PORT_CONNECTION_REFUSED,
    STATUS_PORT_DISCONNECTED,
    STATUS_PORT_MESSAGE_TOO_LONG,
    STATUS_SUCCESS,
    NtStatusError,
)

if TYPE_CHECKING:
    from .kernel import Kernel

PORT_MESSAGE_HEADER = 0x18
PORT_SECTION_SIZE = 0x10000
PORT_MAXIMUM_MESSAGE = 0x148
PORT_MAXIMUM_DATA = PORT_MAXIMUM_MESSAGE - PORT_MESSAGE_HEADER   # 0x130

# PORT_MESSAGE.Type
LPC_REQUEST, LPC_REPLY, LPC_DATAGRAM, LPC_LOST_REPLY = 1, 2, 3, 4
LPC_PORT_CLOSED, LPC_CLIENT_DIED, LPC_EXCEPTION = 5, 6, 7
LPC_CONNECTION_REQUEST = 10
MESSAGE_TYPES = {1: "LPC_REQUEST", 2: "LPC_REPLY", 3: "LPC_DATAGRAM", 5: "LPC_PORT_CLOSED",
                 6: "LPC_CLIENT_DIED", 10: "LPC_CONNECTION_REQUEST"}


@dataclass
class PortMessage:
    """PORT_MESSAGE and its body. `body` holds the API's arguments by name; `data` the
    bytes that travel with it (inline if they fit, else through the port's section)."""

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


    @property
    def fixed_length(self) -> int:
        """ApiNumber, Status and one 8-byte slot per argument."""
        return 8 + 8 * len(self.body)

    @property
    def via_section(self) -> bool:
        return self.fixed_length + len(self.data) > PORT_MAXIMUM_DATA

    @property
    def DataLength(self) -> int:
        # data that does not fit is passed as a pointer into the shared section
        return self.fixed_length + (8 if self.via_section else len(self.data))

    @property
    def TotalLength(self) -> int:
        return PORT_MESSAGE_HEADER + self.DataLength


# A server handler returns DEFERRED to keep the message and reply later with
# `LpcManager.reply` (CSRSS's wait blocks: a console read with no input yet).
DEFERRED = object()


class Port(DispatcherObject):
    """A port object. A connection port holds the message queue its server waits on;
    communication ports point at it and at their peer."""

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

    def is_signalled(self, thread: Thread) -> bool:
        return bool(self.queue)


@dataclass(frozen=True)
class ApiRow:
    """One API a server offers: number, name, argument names (for the trace), handler.

    The handler takes (server, message) and returns the reply's value, or raises
    NtStatusError, or returns DEFERRED to reply later with `LpcManager.reply`."""

    number: int
    name: str
    handler: Callable[[Any, PortMessage], Any]
    arguments: tuple[str, ...] = ()


class LpcServer:
    """A server process that answers LPC requests: the shape of CSRSS, PSXSS and OS2SS.

    Subclasses name their port and list their API rows; `start` creates the process, its
    server thread and its connection port, as the server's own main() would."""

    name = "server"
    image_name = "server.exe"
    port_name = ""
    api: tuple[ApiRow, ...] = ()

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.process: Process | None = None
        self.thread: Thread | None = None
        self.port: Port | None = None
        self.rows = {row.number: row for row in self.api}
        self.clients: dict[int, Port] = {}      # client pid -> client communication port

    def start(self, parent: Process | None) -> None:
        kernel = self.kernel
        self.process = kernel.create_process(self.image_name, personality=self, parent=parent,
                                             is_server=True)
        self.thread = kernel.create_thread(self.process, host_body=self._serve_queue)
        self.thread.state = "waiting"
        self.port = kernel.lpc.create_port(self.process, self.port_name, self)
        # A server is host code here; what it holds is its port's shared section,
        # where messages too big for a PORT_MESSAGE travel.
        self.process.server_bytes = PORT_SECTION_SIZE

    def accept(self, client: Process) -> bool:
        """Called for a CONNECTION_REQUEST; return False to refuse."""
        return True

    def on_fault(self, thread, fault) -> None:  # servers run host code; nothing to fault
        raise RuntimeError(f"{self.name} faulted: {fault}")

    # --- receiving --------------------------------------------------------------------------

    def _serve_queue(self, thread: Thread) -> None:
        while self.port.queue:
            self.kernel.lpc.deliver(self, self.port.queue.popleft())

    def dispatch(self, message: PortMessage) -> Any:
        """The server's dispatch table lookup (CsrApiRequestThread's switch)."""
        row = self.rows.get(message.ApiNumber)
        if row is None:
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH,
                                f"{self.name} has no API {message.ApiNumber:#x}")
        return row.handler(self, message)

    def api_name(self, number: int) -> str:
        row = self.rows.get(number)
        return row.name if row else f"Api{number:#x}"


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

    def connect(self, client: Process, name: str) -> Port:
        """NtConnectPort: ask the server for a connection; returns the client port."""
        kernel = self.kernel
        connection = kernel.objects.lookup(name)
        if not isinstance(connection, Port) or connection.kind != "connection":
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH, f"{name} is not a port")
        server = connection.server
        thread = kernel.current_thread
        if server is None:
            return self._connect_queued(client, connection)
        tracer = kernel.tracer
        event = tracer.open(thread, LPC, "NtConnectPort", decoded={
            "PortName": name, "Type": "LPC_CONNECTION_REQUEST"}) if tracer.enabled else None
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
        client_port = Port("client", client)
        server_port = Port("server", server.process)
        client_port.peer, server_port.peer = server_port, client_port
        client_port.connection_port = server_port.connection_port = connection
        server.clients[client.pid] = client_port
        if event is not None:
            tracer.close(thread, event, STATUS_SUCCESS)
        return client_port

    def request_wait_reply(self, port: Port, message: PortMessage) -> PortMessage:
        """NtRequestWaitReplyPort: send, and wait for the reply."""
        kernel = self.kernel
        if not port.connected or port.peer is None:
            raise NtStatusError(STATUS_PORT_DISCONNECTED, "the server has gone")
        # What must fit is the message as sent: the fixed part plus the data inline, or
        # plus the pointer into the section when the data travels there.
        if message.DataLength > PORT_MAXIMUM_DATA:
            raise NtStatusError(STATUS_PORT_MESSAGE_TOO_LONG, f"{message.TotalLength:#x} bytes")
        thread = kernel.current_thread
        message.Type = LPC_REQUEST
        message.ClientId = (port.owner.pid, thread.tid)
        message.MessageId = next(self._message_ids)
        message.client_thread = thread
        message.client_port = port
        connection = port.connection_port
        server = connection.server
        if server is None:
            return self._request_queued(connection, message)
        tracer = kernel.tracer
        event = None
        if tracer.enabled:
            event = tracer.open(thread, LPC, "NtRequestWaitReplyPort", decoded={
                "Port": connection.path, "ApiNumber": server.api_name(message.ApiNumber),
                "MessageId": message.MessageId, "DataLength": message.DataLength,
                **({"Section": True} if message.via_section else {})})
        reply_event = self.reply_events.setdefault(thread.tid, Event(event_type=SynchronizationEvent))
        reply_event.signalled = False
        # Handoff: the server thread runs now, on this stack.
        self.deliver(server, message)

        def finish(_status: int = 0) -> PortMessage:
            reply = message.reply
            if event is not None:
                tracer.resume(thread, event)
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

    # --- servers that are threads waiting on their port (not host code) ---------------------
    #
    # A server written as a thread of its own calls NtListenPort / NtAcceptConnectPort and
    # NtReplyWaitReceivePort; its port has no LpcServer, so requests are queued on it and
    # the client thread waits for the reply instead of being handed off.

    def _wait_for_reply(self, message: PortMessage, why: str) -> PortMessage:
        thread = self.kernel.current_thread
        reply_event = self.reply_events.setdefault(thread.tid, Event(event_type=SynchronizationEvent))
        reply_event.signalled = False

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

    def _connect_queued(self, client: Process, connection: Port) -> Port:
        thread = self.kernel.current_thread
        request = PortMessage(LPC_CONNECTION_REQUEST, 0, ClientId=(client.pid, thread.tid),
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

    def receive(self, port: Port, kinds: tuple[int, ...] = (LPC_REQUEST, LPC_CONNECTION_REQUEST)) -> PortMessage:
        """NtListenPort / the receive half of NtReplyWaitReceivePort: the next message of
        those kinds on the connection port, waiting for one if there is none."""
        connection = port.connection_port

        def take(_status: int = 0) -> PortMessage:
            for message in list(connection.queue):
                if message.Type in kinds:
                    connection.queue.remove(message)
                    if self.kernel.tracer.detailed:
                        self._trace_message("LpcMessageTaken", connection, message)
                    return message
            raise WaitPending([connection], take, reason=f"a message on {connection.path}")

        return take()

    def accept(self, request: PortMessage, accept: bool) -> Port | None:
        """NtAcceptConnectPort (with NtCompleteConnectPort folded in): make the two
        communication ports and wake the client — or refuse it."""
        if not accept:
            self.reply(None, request, None, STATUS_PORT_CONNECTION_REFUSED)
            return None
        connection = request.connection
        client_port = Port("client", self.kernel.processes[request.ClientId[0]])
        server_port = Port("server", connection.owner)
        client_port.peer, server_port.peer = server_port, client_port
        client_port.connection_port = server_port.connection_port = connection
        self.reply(None, request, client_port)
        return server_port

    def cancel(self, server: LpcServer, message: PortMessage) -> None:
        """The client stopped waiting for this reply (a signal interrupted its call, as
        NtCancelIoFile or an alert ends a wait): the server forgets the request if it
        kept it waiting, and a late reply is dropped, not taken for the next request's."""
        message.cancelled = True
        forget = getattr(server, "cancel_request", None)
        if forget is not None:
            forget(message)
        reply_event = self.reply_events.get(message.client_thread.tid)
        if reply_event is not None:
            reply_event.signalled = False

    def _trace_message(self, name: str, connection: Port, message: PortMessage) -> None:
        """A detail event: a message joined a port's queue, or a server thread took it."""
        self.kernel.tracer.detail(self.kernel.current_thread, LPC, name, {
            "Port": connection.path, "Type": message.Type, "ApiNumber": message.ApiNumber,
            "MessageId": message.MessageId, "ClientId": list(message.ClientId)})

    def deliver(self, server: LpcServer, message: PortMessage) -> None:
        """Run the server on one message (NtReplyWaitReceivePort returning it)."""
        kernel = self.kernel
        caller = kernel.current_thread
        tracer = kernel.tracer
        if tracer.detailed:        # handed straight to the server's thread (or off its queue)
            self._trace_message("LpcMessageTaken", server.port, message)
        kernel.current_thread = server.thread
        event = None
        if tracer.enabled:
            # The server's work nests under the request that caused it.
            server.thread.trace_parent = caller.trace_parent if caller is not None else None
            args = {name: message.body.get(name) for name in
                    (server.rows[message.ApiNumber].arguments if message.ApiNumber in server.rows else ())}
            if message.data:
                from ..trace import render_bytes
                args["Data"] = render_bytes(message.data)
            event = tracer.open(server.thread, SERVER, server.api_name(message.ApiNumber),
                                decoded={"ClientId": list(message.ClientId), **args})
        message.trace_event = event
        try:
            value = server.dispatch(message)
        except NtStatusError as error:
            self.reply(server, message, None, error.status)
        else:
            if value is DEFERRED:
                if event is not None:
                    tracer.suspend(server.thread, event)
            else:
                self.reply(server, message, value, STATUS_SUCCESS)
        finally:
            kernel.current_thread = caller
            server.thread.trace_parent = None

    def reply(self, server: LpcServer | None, message: PortMessage, value: Any,
              status: int = STATUS_SUCCESS) -> None:
        """NtReplyPort: the reply goes back to the waiting client thread."""
        if message.cancelled:
            return                    # nobody waits for it any more
        reply = PortMessage(LPC_REPLY, message.ApiNumber, {"value": value},
                            ClientId=message.ClientId, MessageId=message.MessageId, Status=status)
        message.reply = reply
        tracer = self.kernel.tracer
        event = message.trace_event
        if event is not None and tracer.enabled and server is not None:
            tracer.close(server.thread, event, status,
                         None if status == STATUS_SUCCESS else getattr(status, "name", hex(status)))
        reply_event = self.reply_events.get(message.client_thread.tid)
        if reply_event is not None:
            reply_event.signalled = True
            self.kernel.dispatcher.signal(reply_event)
