"""LPC: connecting to a server's port, request and reply, typed message records and the
server's tables, the message-size limit and the port section, server threads that wait
on kernel objects, datagrams, and a server reaching its client's memory."""

from __future__ import annotations

import pytest

from ntsim.kernel.dispatcher import WaitPending, then
from ntsim.kernel.io import FILE_CREATE, FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.lpc import (
    DEFERRED,
    LPC_DATAGRAM,
    LPC_REPLY,
    ApiReply,
    ApiRow,
    Field,
    LpcServer,
    Record,
)
from ntsim.kernel.memory import MEM_COMMIT, MEM_RESERVE, PAGE_READONLY, PAGE_READWRITE
from ntsim.kernel.processes import ThreadState
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_ILLEGAL_FUNCTION,
    STATUS_INVALID_PARAMETER,
    STATUS_NO_MEMORY,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_PARTIAL_COPY,
    STATUS_PORT_CONNECTION_REFUSED,
    STATUS_PORT_MESSAGE_TOO_LONG,
    STATUS_REPLY_MESSAGE_MISMATCH,
    STATUS_SUCCESS,
    STATUS_WAIT_0,
    NtStatusError,
)
from ntsim.trace import LPC, SERVER, CollectingSink, Enum, Hex

# PORT_MESSAGE on NT 3.x/4.0: a 0x18-byte header, at most 0x148 bytes in all. An API
# message (CSR_API_MESSAGE's shape) starts its data with a capture-buffer pointer (8 bytes
# on x64), the API number and the status (4 each) before the API's own record.
HEADER = 0x18
MAXIMUM_MESSAGE = 0x148
API_HEADER = 8 + 4 + 4
PAGE = 0x1000

ECHO, FAIL, LATER = 1, 2, 3

# The typed server: server number 5, as a PSXSS or OS2SS would have its own.
TYPED = 5 << 16
ADD, OPEN, READ_PIPE, WAIT_PROCESS, UPPERCASE, PEEK, NOTICE, FROM_SERVERS, BAD_REPLY = (
    TYPED | index for index in range(9))
FILL = 6 << 16          # server 6: records of 0..36 8-byte fields, to fill a message

ADD_ARGS = Record("ADD_MSG", Field("A", "i"), Field("B", "i"))
ADD_REPLY = Record("ADD_REPLY", Field("Sum", "q"))
OPEN_ARGS = Record("OPEN_MSG", Field("Flags", "I", Enum({0: "O_RDONLY", 1: "O_WRONLY"})),
                   Field("Name", "16s"))
PIPE_ARGS = Record("READ_MSG", Field("Handle", "Q", Hex()), Field("Length", "I"))
PIPE_REPLY = Record("READ_REPLY", Field("Length", "I"))
WAIT_ARGS = Record("WAITPID_MSG", Field("ProcessId", "I"))
WAIT_REPLY = Record("WAITPID_REPLY", Field("ExitStatus", "I"))
BUFFER_ARGS = Record("BUFFER_MSG", Field("Address", "Q", Hex()), Field("Length", "I"))
NOTICE_ARGS = Record("NOTICE_MSG", Field("Signal", "I", Enum({2: "SIGINT", 15: "SIGTERM"})))


def status_of(call, *args, **keywords) -> int:
    with pytest.raises(NtStatusError) as caught:
        call(*args, **keywords)
    return caught.value.status


class EchoServer(LpcServer):
    """Untyped APIs (Python values, as the console's rows are): one answers at once,
    one fails, one answers later."""

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


class TypedServer(LpcServer):
    """Typed APIs: records in, records out, server-side waits, client buffers."""

    name = "typed"
    image_name = "typed.exe"
    port_name = "\\TypedPort"

    def __init__(self, kernel) -> None:
        super().__init__(kernel)
        self.received = []
        self.pipe_read_end = None

    def add(self, message):
        self.received.append(message)
        return {"Sum": message.body["A"] + message.body["B"]}

    def bad_reply(self, message):
        return {"Nonsense": 1}              # a field ADD_REPLY does not have

    def open(self, message):
        self.received.append(message)
        return None

    def read_pipe(self, message):
        """A read on an empty pipe: the server thread waits for the writer."""
        self.received.append(message)
        nt = self.kernel.services
        return then(lambda: nt.NtReadFile(message.body["Handle"], message.body["Length"]),
                    lambda data: ApiReply({"Length": len(data)}, data))

    def wait_process(self, message):
        """waitpid: the server thread waits on the child's process object."""
        nt = self.kernel.services
        child = nt.NtOpenProcess(0x100000, message.body["ProcessId"])

        def exited(_status):
            info = nt.NtQueryInformationProcess(child)
            nt.NtClose(child)
            return {"ExitStatus": info["ExitStatus"]}

        return then(lambda: nt.NtWaitForSingleObject(child), exited)

    def uppercase(self, message):
        """Read the client's buffer through the request's data entry, write it back."""
        nt = self.kernel.services
        self.received.append(message)
        text = nt.NtReadRequestData(self.port_handle, message, 0, message.body["Length"])
        nt.NtWriteRequestData(self.port_handle, message, 0, text.upper())
        return None

    def peek(self, message):
        """Read and write the client's memory through a handle to the client process."""
        nt = self.kernel.services
        client = nt.NtOpenProcess(0x10 | 0x20 | 0x8, message.ClientId)
        try:
            text = nt.NtReadVirtualMemory(client, message.body["Address"], message.body["Length"])
            nt.NtWriteVirtualMemory(client, message.body["Address"], text[::-1])
        finally:
            nt.NtClose(client)
        return None

    def notice(self, message):
        self.received.append(message)
        return None

    def from_servers(self, message):
        return None

    api = (
        ApiRow(ADD, "Add", add, request=ADD_ARGS, reply=ADD_REPLY),
        ApiRow(OPEN, "Open", open, request=OPEN_ARGS),
        ApiRow(READ_PIPE, "ReadPipe", read_pipe, request=PIPE_ARGS, reply=PIPE_REPLY),
        ApiRow(WAIT_PROCESS, "WaitPid", wait_process, request=WAIT_ARGS, reply=WAIT_REPLY),
        ApiRow(UPPERCASE, "Uppercase", uppercase, request=BUFFER_ARGS),
        ApiRow(PEEK, "Peek", peek, request=BUFFER_ARGS),
        ApiRow(NOTICE, "Notice", notice, request=NOTICE_ARGS),
        ApiRow(FROM_SERVERS, "FromServers", from_servers, from_server=True),
        ApiRow(BAD_REPLY, "BadReply", bad_reply, request=ADD_ARGS, reply=ADD_REPLY),
    )


def take_fill(server, message):
    server.received.append(message)
    return {"data": message.data}


class FillServer(LpcServer):
    """Server 6: API n takes a record of n 8-byte fields."""

    name = "fill"
    image_name = "fill.exe"
    port_name = "\\FillPort"

    def __init__(self, kernel) -> None:
        super().__init__(kernel)
        self.received = []

    api = tuple(ApiRow(FILL | count, f"Fill{count}", take_fill,
                       request=Record(f"FILL{count}", *(Field(f"A{i}") for i in range(count))))
                for count in range(37))


@pytest.fixture
def server(kernel):
    echo = EchoServer(kernel)
    echo.start(kernel.system)
    return echo


@pytest.fixture
def port(nt, server):
    return nt.NtConnectPort("\\EchoPort")


@pytest.fixture
def typed(kernel):
    server = TypedServer(kernel)
    server.start(kernel.system)
    return server


@pytest.fixture
def typed_port(nt, typed):
    return nt.NtConnectPort("\\TypedPort")


@pytest.fixture
def trace(kernel):
    return kernel.tracer.attach(CollectingSink())


def park(kernel, pending):
    """Park the current (client) thread on a pending call, as a personality does; the
    results list gets the call's result when the thread next runs."""
    client = kernel.current_thread
    results = []
    kernel.dispatcher.park(client, pending, lambda status: results.append(pending.complete(status)))
    client.host_body = lambda thread: None          # nothing left to run after the call
    return client, results


def run_until(kernel, condition) -> None:
    caller = kernel.current_thread
    kernel.dispatcher.run(condition)
    kernel.current_thread = caller


def as_thread(kernel, thread, call, *args, **keywords):
    caller = kernel.current_thread
    kernel.current_thread = thread
    try:
        return call(*args, **keywords)
    finally:
        kernel.current_thread = caller


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


def test_an_api_the_server_does_not_have_is_an_illegal_function(nt, port):
    assert nt.NtRequestWaitReplyPort(port, 0x77).Status == STATUS_ILLEGAL_FUNCTION
    assert nt.NtRequestWaitReplyPort(port, 9 << 16 | ECHO).Status == STATUS_ILLEGAL_FUNCTION


def test_console_output_travels_to_csrss_and_the_host(nt, console):
    handle = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    assert nt.NtWriteFile(handle, b"over LPC\n") == 9
    assert console.stdout == b"over LPC\n"


def test_a_console_write_too_big_for_a_message_reaches_csrss_whole(nt, console):
    """The console device is a kernel-mode client: its buffer goes by reference."""
    handle = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    text = bytes(range(32, 127)) * 100
    assert nt.NtWriteFile(handle, text) == len(text)
    assert console.stdout == text


# --- typed records and the server's tables ---------------------------------------------------


def test_a_typed_request_arrives_as_its_fields_and_the_reply_as_its_record(nt, typed_port, typed):
    reply = nt.NtRequestWaitReplyPort(typed_port, ADD, {"A": 40, "B": -2})
    assert reply.Status == STATUS_SUCCESS
    assert reply.body == {"Sum": 38}
    assert typed.received[-1].body == {"A": 40, "B": -2}


def test_a_typed_message_costs_its_record_not_its_python_values(nt, typed_port, typed):
    nt.NtRequestWaitReplyPort(typed_port, ADD, {"A": 1, "B": 2})
    assert typed.received[-1].TotalLength == HEADER + API_HEADER + 4 + 4


def test_a_value_too_big_for_its_field_is_refused_before_it_is_sent(nt, typed_port, typed):
    assert status_of(nt.NtRequestWaitReplyPort, typed_port, ADD, {"A": 2**31, "B": 0}) \
        == STATUS_INVALID_PARAMETER
    assert status_of(nt.NtRequestWaitReplyPort, typed_port, OPEN, {"Name": b"x" * 17}) \
        == STATUS_INVALID_PARAMETER
    assert status_of(nt.NtRequestWaitReplyPort, typed_port, ADD, {"A": 1, "C": 2}) \
        == STATUS_INVALID_PARAMETER
    assert typed.received == []


def test_a_reply_that_does_not_fit_its_record_is_an_error_for_the_client(nt, typed_port):
    reply = nt.NtRequestWaitReplyPort(typed_port, BAD_REPLY, {"A": 1, "B": 1})
    assert reply.Status == STATUS_INVALID_PARAMETER and reply.body == {}


def test_the_tables_are_parallel_and_indexed_by_api_number(typed):
    tables = typed.tables[5]
    assert tables.names[:3] == ["Add", "Open", "ReadPipe"]
    assert tables.dispatch[2].request is PIPE_ARGS
    assert tables.valid[7] and not tables.valid[0]
    assert typed.api_name(READ_PIPE) == "ReadPipe"
    assert typed.api_name(TYPED | 99) == "Api0x50063"


def test_a_server_may_call_only_the_apis_its_validity_table_allows(kernel, typed):
    other = EchoServer(kernel)
    other.port_name = "\\OtherServerPort"
    other.start(kernel.system)
    nt = kernel.services
    port = as_thread(kernel, other.thread, nt.NtConnectPort, "\\TypedPort")
    add = as_thread(kernel, other.thread, nt.NtRequestWaitReplyPort, port, ADD, {"A": 1, "B": 2})
    allowed = as_thread(kernel, other.thread, nt.NtRequestWaitReplyPort, port, FROM_SERVERS)
    assert add.Status == STATUS_ILLEGAL_FUNCTION
    assert allowed.Status == STATUS_SUCCESS


def test_a_row_whose_record_cannot_fit_a_message_is_refused_when_the_server_is_made(kernel):
    too_big = Record("TOO_BIG", *(Field(f"F{i}") for i in range(37)))   # 16 + 296 > 0x130

    class Broken(LpcServer):
        api = (ApiRow(1 << 16, "TooBig", lambda server, message: None, request=too_big),)

    with pytest.raises(ValueError, match="does not fit"):
        Broken(kernel)


def test_the_trace_names_the_api_and_decodes_its_fields(nt, typed_port, trace):
    nt.NtRequestWaitReplyPort(typed_port, OPEN, {"Flags": 1, "Name": b"/etc/passwd"})
    nt.NtRequestWaitReplyPort(typed_port, ADD, {"A": 2, "B": 3})
    opened = next(e for e in trace.events if e.layer == SERVER and e.name == "Open")
    assert opened.args["Flags"] == "O_WRONLY"
    assert opened.args["Name"] == '"/etc/passwd"'
    request = [e for e in trace.events if e.layer == LPC and e.name == "NtRequestWaitReplyPort"][-1]
    assert request.args["ApiNumber"] == "Add"
    assert request.args["Reply"] == {"Sum": 5}
    added = next(e for e in trace.events if e.layer == SERVER and e.name == "Add")
    assert (added.args["A"], added.args["B"], added.args["Reply"]) == (2, 3, {"Sum": 5})
    assert added.parent == request.seq


# --- the message-size limit ------------------------------------------------------------------


@pytest.fixture
def fill(kernel):
    server = FillServer(kernel)
    server.start(kernel.system)
    return server


@pytest.mark.parametrize("fields", range(0, 37, 3))
def test_a_message_at_the_limit_goes_through_and_one_byte_more_is_refused(nt, fill, fields):
    port = nt.NtConnectPort("\\FillPort")                 # no port section
    room = MAXIMUM_MESSAGE - HEADER - API_HEADER - 8 * fields
    data = bytes(index % 251 for index in range(room))
    arguments = {f"A{i}": i for i in range(fields)}
    reply = nt.NtRequestWaitReplyPort(port, FILL | fields, arguments, data)
    assert reply.Status == STATUS_SUCCESS
    received = fill.received[-1]
    assert received.TotalLength == MAXIMUM_MESSAGE
    assert received.data == data and received.body == arguments
    before = len(fill.received)
    assert status_of(nt.NtRequestWaitReplyPort, port, FILL | fields, arguments, data + b"!") \
        == STATUS_PORT_MESSAGE_TOO_LONG
    assert len(fill.received) == before                  # the server never saw it


def test_a_small_message_carries_its_data_inline(nt, port, server):
    nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1}, b"")
    empty = server.received[-1]
    nt.NtRequestWaitReplyPort(port, ECHO, {"A": 1}, b"x" * 40)
    carrying = server.received[-1]
    assert not carrying.via_section
    assert carrying.DataLength - empty.DataLength == 40
    assert carrying.TotalLength == carrying.DataLength + HEADER


# --- the port section ------------------------------------------------------------------------


@pytest.fixture
def section_port(nt, fill):
    return nt.NtConnectPort("\\FillPort", ClientViewSize=0x10000)


def test_data_too_big_for_a_message_travels_through_the_port_section(nt, fill, section_port):
    data = bytes(range(256)) * 16                         # 4 KiB
    reply = nt.NtRequestWaitReplyPort(section_port, FILL | 2, {"A0": 1, "A1": 2}, data)
    message = fill.received[-1]
    assert message.via_section
    assert message.TotalLength <= MAXIMUM_MESSAGE
    assert reply.body["value"]["data"] == data            # every byte arrived


def test_the_port_section_is_one_memory_mapped_into_client_and_server(nt, kernel, fill, process,
                                                                       section_port):
    shared = process.handles.lookup(section_port).section
    client_view = process.memory.find(shared.client_base)
    server_view = fill.process.memory.find(shared.server_base)
    assert client_view.size == server_view.size == 0x10000
    process.memory.write(shared.client_base + 0x2000, b"written by the client")
    assert fill.process.memory.read(shared.server_base + 0x2000, 21) == b"written by the client"
    fill.process.memory.write(shared.server_base + 0x30, b"and by the server")
    assert process.memory.read(shared.client_base + 0x30, 17) == b"and by the server"


def test_the_section_pointer_costs_the_same_whatever_the_size(nt, fill, section_port):
    nt.NtRequestWaitReplyPort(section_port, FILL, {}, b"y" * 0x1000)
    nt.NtRequestWaitReplyPort(section_port, FILL, {}, b"y" * 0x8000)
    small, large = fill.received[-2:]
    assert small.DataLength == large.DataLength


def test_the_port_section_holds_as_much_as_its_size_and_no_more(nt, fill, section_port):
    whole = b"s" * 0x10000
    reply = nt.NtRequestWaitReplyPort(section_port, FILL, {}, whole)
    assert reply.body["value"]["data"] == whole
    before = len(fill.received)
    assert status_of(nt.NtRequestWaitReplyPort, section_port, FILL, {}, whole + b"s") == STATUS_NO_MEMORY
    assert len(fill.received) == before
    # the refused message left no room taken: the whole section is free again
    assert nt.NtRequestWaitReplyPort(section_port, FILL, {}, whole).Status == STATUS_SUCCESS


def test_a_server_process_memory_is_measured_not_a_fixed_figure(nt, kernel, fill, process):
    server = fill.process
    reserved, touched = server.reserved_bytes, server.touched_bytes
    port = nt.NtConnectPort("\\FillPort", ClientViewSize=0x20000)
    assert server.reserved_bytes == reserved + 0x20000    # its view of the new section
    assert server.touched_bytes == touched                # nothing went through it yet
    nt.NtRequestWaitReplyPort(port, FILL, {}, b"t" * (3 * PAGE))
    assert server.touched_bytes == touched + 3 * PAGE     # the pages the data crossed
    kernel.terminate_process(process, 0)
    assert server.reserved_bytes == reserved              # the client went: so did the view


# --- server-side waits -----------------------------------------------------------------------


PIPE = "\\Device\\NamedPipe\\lpc-test"


@pytest.fixture
def pipe(kernel, typed):
    """A pipe whose read end the typed server holds, and whose write end the test holds."""
    nt = kernel.services
    read_end = as_thread(kernel, typed.thread, nt.NtCreateNamedPipeFile, PIPE, FILE_READ_DATA,
                         2, FILE_CREATE)
    write_end = nt.NtOpenFile(PIPE, FILE_WRITE_DATA)
    return read_end, write_end


def test_a_read_on_an_empty_pipe_parks_the_server_thread_until_data_comes(nt, kernel, typed,
                                                                         typed_port, pipe):
    read_end, write_end = pipe
    with pytest.raises(WaitPending) as caught:
        nt.NtRequestWaitReplyPort(typed_port, READ_PIPE, {"Handle": read_end, "Length": 64})
    writer = kernel.current_thread
    client, results = park(kernel, caught.value)
    busy = typed.received[-1].server_thread
    assert busy.state == ThreadState.WAITING and busy.wait is not None
    assert busy not in typed.idle_threads

    # the server still answers: another thread takes the next request
    other = kernel.create_thread(client.process)
    answer = as_thread(kernel, other, nt.NtRequestWaitReplyPort, typed_port, ADD, {"A": 1, "B": 1})
    assert answer.body == {"Sum": 2}
    assert len(typed.process.threads) == 2

    as_thread(kernel, writer, nt.NtWriteFile, write_end, b"from the pipe")
    run_until(kernel, lambda: bool(results))
    reply = results[0]
    assert reply.Status == STATUS_SUCCESS
    assert reply.body == {"Length": 13} and reply.data == b"from the pipe"
    assert busy in typed.idle_threads and busy.wait is None


def test_waitpid_is_answered_when_the_child_exits(nt, kernel, typed, typed_port):
    child = kernel.create_process("child.exe", architecture="x86-64")
    kernel.create_thread(child)
    with pytest.raises(WaitPending) as caught:
        nt.NtRequestWaitReplyPort(typed_port, WAIT_PROCESS, {"ProcessId": child.pid})
    client, results = park(kernel, caught.value)
    run_until(kernel, lambda: bool(results) or not kernel.dispatcher.ready)
    assert results == [] and client.state == ThreadState.WAITING
    kernel.terminate_process(child, 42)
    run_until(kernel, lambda: bool(results))
    assert results[0].body == {"ExitStatus": 42}


def test_a_cancelled_request_frees_its_server_thread_and_gets_no_late_reply(nt, kernel, typed,
                                                                            typed_port, pipe):
    read_end, write_end = pipe
    with pytest.raises(WaitPending) as caught:
        nt.NtRequestWaitReplyPort(typed_port, READ_PIPE, {"Handle": read_end, "Length": 64})
    message = typed.received[-1]
    thread = message.server_thread
    for undo in caught.value.on_cancel:     # what a signal interrupting the call does
        undo()
    run_until(kernel, lambda: thread in typed.idle_threads)
    assert thread.wait is None and typed.requests == {}
    nt.NtWriteFile(write_end, b"nobody reads this")
    assert message.reply is None
    # the data stays in the pipe for the next reader
    assert as_thread(kernel, typed.thread, nt.NtReadFile, read_end, 64) == b"nobody reads this"


def test_a_client_that_dies_leaves_no_server_thread_waiting_for_it(nt, kernel, typed, typed_port,
                                                                  pipe, process):
    read_end, _ = pipe
    with pytest.raises(WaitPending):
        nt.NtRequestWaitReplyPort(typed_port, READ_PIPE, {"Handle": read_end, "Length": 8})
    thread = typed.received[-1].server_thread
    kernel.terminate_process(process, 1)
    run_until(kernel, lambda: thread in typed.idle_threads)
    assert typed.requests == {} and process.pid not in typed.clients


# --- datagrams -------------------------------------------------------------------------------


def test_a_server_sends_a_datagram_its_client_receives(nt, kernel, typed, typed_port, process, trace):
    typed.send_datagram(process.pid, NOTICE, {"Signal": 15})
    message = nt.NtReplyWaitReceivePort(typed_port)
    assert message.Type == LPC_DATAGRAM
    assert (message.ApiNumber, message.body) == (NOTICE, {"Signal": 15})
    sent = next(e for e in trace.events if e.layer == LPC and e.name == "NtRequestPort")
    assert sent.args["ApiNumber"] == "Notice" and sent.args["Signal"] == "SIGTERM"
    assert sent.pid == typed.process.pid


def test_a_client_waiting_on_its_port_wakes_for_a_datagram(nt, kernel, typed, typed_port, process):
    with pytest.raises(WaitPending) as caught:
        nt.NtReplyWaitReceivePort(typed_port)
    client, results = park(kernel, caught.value)
    assert client.state == ThreadState.WAITING
    typed.send_datagram(process.pid, NOTICE, {"Signal": 2})
    run_until(kernel, lambda: bool(results))
    assert results[0].body == {"Signal": 2}


def test_a_big_datagram_comes_through_the_port_section(nt, kernel, fill, process, section_port):
    data = bytes(range(256)) * 8
    fill.send_datagram(process.pid, FILL | 1, {"A0": 9}, data)
    message = nt.NtReplyWaitReceivePort(section_port)
    assert message.via_section and message.data == data and message.body == {"A0": 9}


def test_a_datagram_too_big_for_a_message_and_no_section_is_refused(kernel, fill, process, nt):
    port = nt.NtConnectPort("\\FillPort")
    room = MAXIMUM_MESSAGE - HEADER - API_HEADER
    fill.send_datagram(process.pid, FILL, {}, b"d" * room)
    assert nt.NtReplyWaitReceivePort(port).data == b"d" * room
    assert status_of(fill.send_datagram, process.pid, FILL, {}, b"d" * (room + 1)) \
        == STATUS_PORT_MESSAGE_TOO_LONG
    with pytest.raises(WaitPending):                # nothing was queued
        nt.NtReplyWaitReceivePort(port)


def test_a_client_datagram_runs_the_server_and_waits_for_nothing(nt, typed, typed_port):
    assert nt.NtRequestPort(typed_port, NOTICE, {"Signal": 2}) == STATUS_SUCCESS
    received = typed.received[-1]
    assert received.Type == LPC_DATAGRAM and received.body == {"Signal": 2}
    assert received.reply is None


# --- a server reaching its client's memory ----------------------------------------------------


def client_buffer(nt, content: bytes, protect: int = PAGE_READWRITE) -> int:
    base, _ = nt.NtAllocateVirtualMemory(NtCurrentProcess, 0, PAGE, MEM_RESERVE | MEM_COMMIT,
                                         PAGE_READWRITE)
    nt.NtWriteVirtualMemory(NtCurrentProcess, base, content)
    if protect != PAGE_READWRITE:
        nt.NtProtectVirtualMemory(NtCurrentProcess, base, PAGE, protect)
    return base


def test_a_server_reads_and_writes_the_buffer_a_request_names(nt, typed, typed_port, process):
    base = client_buffer(nt, b"hello, server")
    reply = nt.NtRequestWaitReplyPort(typed_port, UPPERCASE, {"Address": base, "Length": 13},
                                      DataEntries=[(base, 13)])
    assert reply.Status == STATUS_SUCCESS
    assert process.memory.read(base, 13) == b"HELLO, SERVER"


def test_request_data_is_only_the_buffer_named_and_only_while_the_request_waits(nt, kernel, typed,
                                                                                typed_port):
    base = client_buffer(nt, b"abcdefgh")
    nt.NtRequestWaitReplyPort(typed_port, UPPERCASE, {"Address": base, "Length": 4},
                              DataEntries=[(base, 4)])
    message = typed.received[-1]
    services = kernel.services
    # replied to: the client's buffer is no longer the server's to touch
    assert status_of(as_thread, kernel, typed.thread, services.NtReadRequestData,
                     typed.port_handle, message, 0, 4) == STATUS_REPLY_MESSAGE_MISMATCH

    seen = {}

    def greedy(server, request):
        seen["past"] = status_of(services.NtWriteRequestData, server.port_handle, request, 0, b"12345")
        seen["other"] = status_of(services.NtReadRequestData, server.port_handle, request, 1, 4)
        return None

    typed.tables[5].dispatch[4] = ApiRow(UPPERCASE, "Uppercase", greedy, request=BUFFER_ARGS)
    nt.NtRequestWaitReplyPort(typed_port, UPPERCASE, {"Address": base, "Length": 4},
                              DataEntries=[(base, 4)])
    assert seen == {"past": STATUS_INVALID_PARAMETER, "other": STATUS_INVALID_PARAMETER}
    assert nt.NtReadVirtualMemory(NtCurrentProcess, base, 8) == b"ABCDefgh"


def test_a_server_reads_and_writes_client_memory_through_a_process_handle(nt, typed, typed_port,
                                                                          process):
    base = client_buffer(nt, b"drawkcab")
    assert nt.NtRequestWaitReplyPort(typed_port, PEEK, {"Address": base, "Length": 8}).Status \
        == STATUS_SUCCESS
    assert process.memory.read(base, 8) == b"backward"


def test_a_server_cannot_write_client_memory_the_client_could_not(nt, typed, typed_port, process):
    base = client_buffer(nt, b"constant", PAGE_READONLY)
    assert nt.NtRequestWaitReplyPort(typed_port, PEEK, {"Address": base, "Length": 8}).Status \
        == STATUS_PARTIAL_COPY
    assert process.memory.read(base, 8) == b"constant"


# --- a reply that comes later --------------------------------------------------------------


def test_a_deferred_reply_parks_the_client_until_the_server_replies(nt, kernel, port, server):
    with pytest.raises(WaitPending) as caught:
        nt.NtRequestWaitReplyPort(port, LATER, {"A": 5})
    client, results = park(kernel, caught.value)
    assert client.state == ThreadState.WAITING
    assert len(server.held) == 1

    kernel.lpc.reply(server, server.held.pop(), "answered later")
    assert client.state == ThreadState.READY
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
        services.NtConnectPort("\\TestServerPort", ClientViewSize=0x10000)

    kernel.current_thread = server_thread
    request = services.NtListenPort(listening)
    assert request.Type == LPC_CONNECTION_REQUEST
    assert request.ClientId == (client.pid, client_thread.tid)
    server_port = services.NtAcceptConnectPort(request, True)

    kernel.current_thread = client_thread
    client_port = connecting.value.complete(STATUS_SUCCESS)
    assert client_port % 4 == 0 and client.handles.lookup(client_port).kind == "client"
    with pytest.raises(WaitPending) as asking:
        services.NtRequestWaitReplyPort(client_port, 7, {"Question": 6}, b"q" * 0x400)

    kernel.current_thread = server_thread
    message = services.NtReplyWaitReceivePort(server_port)
    assert (message.Type, message.ApiNumber, message.body) == (LPC_REQUEST, 7, {"Question": 6})
    assert message.via_section and message.data == b"q" * 0x400
    services.NtReplyPort(server_port, message, 42)

    kernel.current_thread = client_thread
    reply = asking.value.complete(STATUS_WAIT_0)
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
