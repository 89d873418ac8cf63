"""LPC: connecting to a server's port, request and reply, messages too big for a
PORT_MESSAGE (the shared section), and replies a server gives later."""

from __future__ import annotations

import pytest

from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.io import FILE_OPEN, FILE_WRITE_DATA
from ntsim.kernel.lpc import DEFERRED, LPC_REPLY, ApiRow, LpcServer
from ntsim.kernel.processes import ThreadState
from ntsim.kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PORT_CONNECTION_REFUSED,
    STATUS_PORT_MESSAGE_TOO_LONG,
    STATUS_SUCCESS,
    NtStatusError,
    nt_success,
)

# PORT_MESSAGE on NT 3.x/4.0 (x86): a 0x18-byte header, at most 0x148 bytes in all.
HEADER = 0x18
MAXIMUM_MESSAGE = 0x148

ECHO, FAIL, LATER = 1, 2, 3


class EchoServer(LpcServer):
    """A server with three APIs: one answers at once, one fails, one answers later."""

    name = "echo"
    image_name = "echo.exe"
    port_name = "\\EchoPort"

    def __init__(self, kernel, accepting: bool = True) -> None:
        super().__init__(kernel)
        self.accepting = accepting
        self.received = []
        self.held = []

    def accept(self, client) -> bool:
        return self.accepting

    def echo(self, message):
        self.received.append(message)
        return {"body": dict(message.body), "data": message.data}

    def fail(self, message):
        raise NtStatusError(STATUS_ACCESS_DENIED, "refused by the test server")

    def later(self, message):
        self.held.append(message)
        return DEFERRED

    api = (ApiRow(ECHO, "Echo", echo, ("A",)), ApiRow(FAIL, "Fail", fail),
           ApiRow(LATER, "Later", later))


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


@pytest.fixture
def server(kernel):
    echo = EchoServer(kernel)
    echo.start(kernel.system)
    return echo


@pytest.fixture
def port(nt, server):
    return nt.NtConnectPort("\\EchoPort")


def arguments(count: int) -> dict:
    return {f"A{index}": index for index in range(count)}


# --- connect -------------------------------------------------------------------------------


def test_connecting_gives_a_port_handle_and_the_server_knows_the_client(nt, server, process):
    handle = nt.NtConnectPort("\\EchoPort")
    assert handle % 4 == 0
    assert process.pid in server.clients


def test_connecting_to_a_missing_port_fails(nt):
    assert status_of(nt.NtConnectPort, "\\NoSuchPort") == STATUS_OBJECT_NAME_NOT_FOUND


def test_connecting_to_something_that_is_not_a_port_fails(nt):
    assert status_of(nt.NtConnectPort, "\\BaseNamedObjects") == STATUS_OBJECT_TYPE_MISMATCH


def test_a_server_may_refuse_a_connection(nt, kernel):
    refusing = EchoServer(kernel, accepting=False)
    refusing.port_name = "\\RefusingPort"
    refusing.start(kernel.system)
    assert status_of(nt.NtConnectPort, "\\RefusingPort") == STATUS_PORT_CONNECTION_REFUSED


# --- request and reply ---------------------------------------------------------------------


def test_a_request_gets_its_reply(nt, port):
    reply = nt.NtRequestWaitReplyPort(port, ECHO, {"A": 7}, b"payload")
    assert reply.Type == LPC_REPLY
    assert reply.Status == STATUS_SUCCESS
    assert reply.body["value"] == {"body": {"A": 7}, "data": b"payload"}


def test_the_reply_matches_the_request_and_names_the_client(nt, kernel, port, server, process):
    reply = nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1})
    request = server.received[-1]
    assert reply.MessageId == request.MessageId
    assert request.ClientId == (process.pid, kernel.current_thread.tid)


def test_every_request_has_a_new_message_id(nt, port, server):
    for _ in range(3):
        nt.NtRequestWaitReplyPort(port, ECHO)
    ids = [message.MessageId for message in server.received]
    assert len(set(ids)) == 3


def test_a_server_error_comes_back_in_the_reply(nt, port):
    reply = nt.NtRequestWaitReplyPort(port, FAIL)
    assert reply.Status == STATUS_ACCESS_DENIED


def test_an_api_the_server_does_not_have_is_an_error_reply(nt, port):
    reply = nt.NtRequestWaitReplyPort(port, 0x77)
    assert not nt_success(reply.Status)


def test_console_output_travels_to_csrss_and_the_host(nt, console):
    handle = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    assert nt.NtWriteFile(handle, b"over LPC\n") == 9
    assert console.stdout == b"over LPC\n"


# --- message sizes -------------------------------------------------------------------------


def test_a_small_message_carries_its_data_inline(nt, port, server):
    nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1}, b"")
    empty = server.received[-1]
    nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1}, b"x" * 40)
    carrying = server.received[-1]
    assert not carrying.via_section
    assert carrying.DataLength - empty.DataLength == 40
    assert carrying.TotalLength == carrying.DataLength + HEADER


def test_a_message_too_long_for_a_port_message_goes_through_the_section(nt, port, server):
    data = bytes(range(256)) * 16                  # 4 KiB
    reply = nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1}, data)
    message = server.received[-1]
    assert message.via_section
    assert message.TotalLength <= MAXIMUM_MESSAGE
    assert message.DataLength < len(data)
    assert message.TotalLength == message.DataLength + HEADER
    assert reply.body["value"]["data"] == data      # every byte arrived


def test_the_section_pointer_costs_the_same_whatever_the_size(nt, port, server):
    nt.NtRequestWaitReplyPort(port, ECHO, {}, b"y" * 0x1000)
    nt.NtRequestWaitReplyPort(port, ECHO, {}, b"y" * 0x8000)
    small, large = server.received[-2:]
    assert small.DataLength == large.DataLength


@pytest.mark.parametrize("count", range(0, 40, 3))
@pytest.mark.parametrize("size", [0, 1, 8, 0x100, 0x128, 0x130, 0x131, 0x1000])
def test_no_message_sent_is_longer_than_the_limit(nt, port, server, count, size):
    try:
        nt.NtRequestWaitReplyPort(port, ECHO, arguments(count), b"z" * size)
    except NtStatusError as error:
        assert error.status == STATUS_PORT_MESSAGE_TOO_LONG
        return
    assert server.received[-1].TotalLength <= MAXIMUM_MESSAGE


def test_arguments_that_fill_the_message_leave_no_room_for_a_section_pointer(nt, port, server):
    # find the largest argument record that still fits with no data
    count = 0
    while True:
        try:
            nt.NtRequestWaitReplyPort(port, ECHO, arguments(count + 1))
        except NtStatusError:
            break
        count += 1
    assert server.received[-1].TotalLength <= MAXIMUM_MESSAGE
    assert status_of(nt.NtRequestWaitReplyPort, port, ECHO, arguments(count + 1)) \
        == STATUS_PORT_MESSAGE_TOO_LONG
    # with the record full, even one byte of data needs room the message does not have
    received = len(server.received)
    try:
        nt.NtRequestWaitReplyPort(port, ECHO, arguments(count), b"!" * 0x200)
    except NtStatusError as error:
        assert error.status == STATUS_PORT_MESSAGE_TOO_LONG
    else:
        assert server.received[received].TotalLength <= MAXIMUM_MESSAGE


# --- a reply that comes later --------------------------------------------------------------


def test_a_deferred_reply_parks_the_client_until_the_server_replies(nt, kernel, port, server):
    client = kernel.current_thread
    results = []
    with pytest.raises(WaitPending) as caught:
        nt.NtRequestWaitReplyPort(port, LATER, {"A": 5})
    pending = caught.value
    kernel.dispatcher.park(client, pending, lambda status: results.append(pending.complete(status)))
    assert client.state == ThreadState.WAITING
    assert len(server.held) == 1

    kernel.lpc.reply(server, server.held.pop(), "answered later")
    assert client.state == ThreadState.READY
    client.host_body = lambda thread: None          # nothing left to run after the call
    kernel.dispatcher.run(lambda: bool(results))
    assert results[0].body["value"] == "answered later"
    assert results[0].Status == STATUS_SUCCESS


# --- a server that is a thread waiting on its own port ------------------------------------------


def test_a_server_thread_listens_accepts_receives_and_replies(kernel):
    """The NT 3.x server loop, step by step: NtCreatePort, NtListenPort,
    NtAcceptConnectPort, NtReplyWaitReceivePort / NtReplyPort — while the client's
    NtConnectPort and NtRequestWaitReplyPort wait for the server's answers."""
    from ntsim.kernel.lpc import LPC_CONNECTION_REQUEST, LPC_REQUEST

    services = kernel.services
    server = kernel.create_process("server.exe", architecture="x86-64")
    server_thread = kernel.create_thread(server)
    client = kernel.create_process("client.exe", architecture="x86-64")
    client_thread = kernel.create_thread(client)

    kernel.current_thread = server_thread
    listening = services.NtCreatePort("\\TestServerPort")
    with pytest.raises(WaitPending):             # nobody has connected yet
        services.NtListenPort(listening)

    kernel.current_thread = client_thread
    with pytest.raises(WaitPending) as connecting:
        services.NtConnectPort("\\TestServerPort")  # waits until the server accepts

    kernel.current_thread = server_thread
    request = services.NtListenPort(listening)
    assert request.Type == LPC_CONNECTION_REQUEST
    assert request.ClientId == (client.pid, client_thread.tid)
    server_port = services.NtAcceptConnectPort(request, True)

    kernel.current_thread = client_thread
    client_port = connecting.value.complete(STATUS_SUCCESS)
    assert client_port % 4 == 0 and client.handles.lookup(client_port).kind == "client"
    with pytest.raises(WaitPending) as asking:
        services.NtRequestWaitReplyPort(client_port, 7, {"Question": 6})

    kernel.current_thread = server_thread
    message = services.NtReplyWaitReceivePort(server_port)
    assert (message.Type, message.ApiNumber, message.body) == (LPC_REQUEST, 7, {"Question": 6})
    services.NtReplyPort(server_port, message, 42)

    kernel.current_thread = client_thread
    reply = asking.value.complete(STATUS_SUCCESS)
    assert reply.Type == LPC_REPLY and reply.body["value"] == 42
    assert reply.MessageId == message.MessageId


def test_a_server_thread_can_refuse_a_connection(kernel):
    services = kernel.services
    server = kernel.create_process("server.exe", architecture="x86-64")
    server_thread = kernel.create_thread(server)
    client = kernel.create_process("client.exe", architecture="x86-64")
    client_thread = kernel.create_thread(client)
    kernel.current_thread = server_thread
    listening = services.NtCreatePort("\\PickyPort")
    kernel.current_thread = client_thread
    with pytest.raises(WaitPending) as connecting:
        services.NtConnectPort("\\PickyPort")
    kernel.current_thread = server_thread
    assert services.NtAcceptConnectPort(services.NtListenPort(listening), False) is None
    kernel.current_thread = client_thread
    with pytest.raises(NtStatusError) as refused:
        connecting.value.complete(STATUS_SUCCESS)
    assert refused.value.status == STATUS_PORT_CONNECTION_REFUSED
