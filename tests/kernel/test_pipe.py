"""NPFS, `\\Device\\NamedPipe`: pipe instances, their two ends, the buffer, blocking,
FSCTL_PIPE_LISTEN, and the FIFO instances a pico provider asks for (Linux's mkfifo).

The capacity figures below are Linux's, measured on Linux with non-blocking writes of
one size until EAGAIN (examples/linux/pipes checks the same against a native run):
1-byte writes fit 65536 bytes, 100-byte writes 64000, 3000-byte writes 48000, and
4097-byte writes 45066 (the last one partial, 4096 bytes).
"""

from __future__ import annotations

import pytest

from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.fs.pipe import (
    FILE_PIPE_BYTE_STREAM_MODE,
    FILE_PIPE_CLIENT_END,
    FILE_PIPE_COMPLETE_OPERATION,
    FILE_PIPE_CONNECTED_STATE,
    FILE_PIPE_INBOUND,
    FILE_PIPE_QUEUE_OPERATION,
    FILE_PIPE_SERVER_END,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    PipeInformation,
)
from ntsim.kernel.io import (
    FILE_CREATE,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    FSCTL_PIPE_LISTEN,
    FSCTL_PIPE_LX_SHUTDOWN,
    FSCTL_PIPE_PEEK,
    FileInternalInformation,
    FilePipeInformation,
    FilePipeLocalInformation,
    FileStatLxInformation,
)
from ntsim.kernel.services import NtCurrentProcess
from ntsim.kernel.status import (
    STATUS_ACCESS_DENIED,
    STATUS_INSTANCE_NOT_AVAILABLE,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_PIPE_BROKEN,
    STATUS_PIPE_CONNECTED,
    STATUS_PIPE_EMPTY,
    STATUS_PIPE_LISTENING,
    STATUS_PIPE_NOT_AVAILABLE,
    STATUS_SUCCESS,
    STATUS_USER_APC,
    STATUS_WAIT_0,
    NtStatusError,
)

NAME = "\\Device\\NamedPipe\\Win32Pipes.00000004.00000001"


def make_pipe(nt, name: str = NAME, nonblocking: bool = False) -> tuple[int, int]:
    """CreatePipe's two calls: an inbound pipe's server end (read), then its client end."""
    mode = FILE_PIPE_COMPLETE_OPERATION if nonblocking else FILE_PIPE_QUEUE_OPERATION
    read_end = nt.NtCreateNamedPipeFile(name, FILE_READ_DATA, FILE_SHARE_WRITE, FILE_CREATE,
                                        CompletionMode=mode)
    write_end = nt.NtOpenFile(name, FILE_WRITE_DATA)
    if nonblocking:
        nt.NtSetInformationFile(write_end, FilePipeInformation,
                                PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))
    return read_end, write_end


def fill(nt, handle: int, size: int) -> int:
    """Non-blocking writes of `size` bytes until one moves nothing; the total written."""
    total = 0
    while True:
        written = nt.NtWriteFile(handle, b"x" * size)
        total += written
        if written < size:
            return total


# --- the namespace -------------------------------------------------------------------------


def test_the_device_is_in_the_namespace(kernel):
    assert kernel.objects.lookup("\\Device\\NamedPipe").type_name == "Device"


def test_data_written_at_the_client_end_is_read_at_the_server_end(nt):
    read_end, write_end = make_pipe(nt)
    assert nt.NtWriteFile(write_end, b"hello") == 5
    assert nt.NtWriteFile(write_end, b", world") == 7
    assert nt.NtReadFile(read_end, 3) == b"hel"
    assert nt.NtReadFile(read_end, 100) == b"lo, world"


def test_names_are_case_insensitive_and_one_client_connects(nt):
    make_pipe(nt)
    with pytest.raises(NtStatusError) as error:
        nt.NtOpenFile(NAME.upper(), FILE_WRITE_DATA)
    assert error.value.status == STATUS_PIPE_NOT_AVAILABLE      # found, but taken


def test_a_second_instance_of_a_name_is_refused(nt):
    make_pipe(nt)
    with pytest.raises(NtStatusError) as error:
        nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA, FILE_SHARE_WRITE)
    assert error.value.status == STATUS_INSTANCE_NOT_AVAILABLE


def test_the_name_goes_when_both_ends_close(nt, kernel):
    read_end, write_end = make_pipe(nt)
    nt.NtClose(read_end)
    nt.NtClose(write_end)
    with pytest.raises(NtStatusError) as error:
        nt.NtOpenFile(NAME, FILE_WRITE_DATA)
    assert error.value.status == STATUS_OBJECT_NAME_NOT_FOUND


def test_an_end_opens_only_for_the_direction_the_data_flows(nt):
    nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA, FILE_SHARE_WRITE)
    with pytest.raises(NtStatusError) as error:
        nt.NtOpenFile(NAME, FILE_READ_DATA)       # an inbound pipe's client only writes
    assert error.value.status == STATUS_ACCESS_DENIED


def test_a_duplex_pipe_carries_data_both_ways(nt):
    server = nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA | FILE_WRITE_DATA,
                                      FILE_SHARE_READ | FILE_SHARE_WRITE)
    client = nt.NtOpenFile(NAME, FILE_READ_DATA | FILE_WRITE_DATA)
    nt.NtWriteFile(client, b"ping")
    nt.NtWriteFile(server, b"pong")
    assert nt.NtReadFile(server, 10) == b"ping"
    assert nt.NtReadFile(client, 10) == b"pong"


def test_creating_a_pipe_elsewhere_than_npfs_is_refused(nt, root):
    with pytest.raises(NtStatusError) as error:
        nt.NtCreateNamedPipeFile("\\??\\C:\\not-a-pipe", FILE_READ_DATA, FILE_SHARE_WRITE)
    assert error.value.status == STATUS_INVALID_DEVICE_REQUEST
    assert not (root / "not-a-pipe").exists()


# --- information -----------------------------------------------------------------------------


def test_local_information_describes_each_end(nt):
    read_end, write_end = make_pipe(nt)
    nt.NtWriteFile(write_end, b"abc")
    server = nt.NtQueryInformationFile(read_end, FilePipeLocalInformation)
    client = nt.NtQueryInformationFile(write_end, FilePipeLocalInformation)
    assert server.NamedPipeConfiguration == FILE_PIPE_INBOUND
    assert server.NamedPipeState == FILE_PIPE_CONNECTED_STATE
    assert (server.NamedPipeEnd, client.NamedPipeEnd) == (FILE_PIPE_SERVER_END, FILE_PIPE_CLIENT_END)
    assert server.ReadDataAvailable == 3
    assert client.WriteQuotaAvailable == server.InboundQuota - 3


def test_both_ends_share_one_file_id_and_stat_as_a_fifo(nt):
    read_end, write_end = make_pipe(nt)
    assert nt.NtQueryInformationFile(read_end, FileInternalInformation) == \
        nt.NtQueryInformationFile(write_end, FileInternalInformation)
    stat = nt.NtQueryInformationFile(write_end, FileStatLxInformation)
    assert stat.LxMode & 0o170000 == 0o010000
    assert stat.EndOfFile == 0


# --- end of file and broken pipes ------------------------------------------------------------


def test_buffered_data_outlives_the_writer_then_the_pipe_is_broken(nt):
    read_end, write_end = make_pipe(nt)
    nt.NtWriteFile(write_end, b"last words")
    nt.NtClose(write_end)
    assert nt.NtReadFile(read_end, 100) == b"last words"
    with pytest.raises(NtStatusError) as error:
        nt.NtReadFile(read_end, 100)
    assert error.value.status == STATUS_PIPE_BROKEN


def test_a_write_with_no_reader_is_a_broken_pipe(nt):
    read_end, write_end = make_pipe(nt)
    nt.NtClose(read_end)
    with pytest.raises(NtStatusError) as error:
        nt.NtWriteFile(write_end, b"anyone?")
    assert error.value.status == STATUS_PIPE_BROKEN
    assert error.value.information == 0


def test_an_end_closes_only_with_its_last_handle(nt):
    read_end, write_end = make_pipe(nt)
    second = nt.NtDuplicateObject(NtCurrentProcess, write_end, NtCurrentProcess)
    nt.NtClose(write_end)
    nt.NtWriteFile(second, b"still here")
    assert nt.NtReadFile(read_end, 100) == b"still here"


# --- blocking --------------------------------------------------------------------------------


def test_reading_an_empty_pipe_waits_until_data_comes(nt):
    read_end, write_end = make_pipe(nt)
    with pytest.raises(WaitPending) as wait:
        nt.NtReadFile(read_end, 100)
    assert not any(o.signalled for o in wait.value.objects)
    nt.NtWriteFile(write_end, b"now")
    assert any(o.signalled for o in wait.value.objects)
    assert wait.value.complete(STATUS_WAIT_0) == b"now"


def test_a_waiting_reader_sees_the_writer_go(nt):
    read_end, write_end = make_pipe(nt)
    with pytest.raises(WaitPending) as wait:
        nt.NtReadFile(read_end, 100)
    nt.NtClose(write_end)
    assert any(o.signalled for o in wait.value.objects)
    with pytest.raises(NtStatusError) as error:
        wait.value.complete(STATUS_WAIT_0)
    assert error.value.status == STATUS_PIPE_BROKEN


def test_a_write_of_at_most_a_page_waits_for_a_whole_page(nt):
    read_end, write_end = make_pipe(nt)
    for _ in range(16):
        nt.NtWriteFile(write_end, b"p" * 4096)                 # every page in use
    with pytest.raises(WaitPending) as wait:
        nt.NtWriteFile(write_end, b"q" * 4000)
    info = nt.NtQueryInformationFile(read_end, FilePipeLocalInformation)
    assert info.ReadDataAvailable == 16 * 4096                # none of it went in
    assert nt.NtReadFile(read_end, 100) == b"p" * 100          # a page is not free yet
    assert not wait.value.objects[0].signalled
    nt.NtReadFile(read_end, 4096 - 100)                        # now it is
    assert wait.value.complete(STATUS_WAIT_0) == 4000
    assert nt.NtReadFile(read_end, 16 * 4096)[-4000:] == b"q" * 4000


def test_a_large_write_goes_in_as_room_frees_and_keeps_its_order(nt):
    read_end, write_end = make_pipe(nt)
    data = bytes(range(256)) * 400                              # 102400 bytes: more than fits
    with pytest.raises(WaitPending) as wait:
        nt.NtWriteFile(write_end, data)
    received = nt.NtReadFile(read_end, 1 << 20)
    assert received == data[:65536]
    assert wait.value.complete(STATUS_WAIT_0) == len(data)
    received += nt.NtReadFile(read_end, 1 << 20)
    assert received == data


def test_a_reader_leaving_mid_write_breaks_it_with_the_count_so_far(nt):
    read_end, write_end = make_pipe(nt)
    with pytest.raises(WaitPending) as wait:
        nt.NtWriteFile(write_end, b"z" * 70000)
    nt.NtClose(read_end)
    with pytest.raises(NtStatusError) as error:
        wait.value.complete(STATUS_WAIT_0)
    assert error.value.status == STATUS_PIPE_BROKEN
    assert error.value.information == 65536


def test_an_apc_ends_a_begun_write_with_the_count_so_far(nt):
    _, write_end = make_pipe(nt)
    with pytest.raises(WaitPending) as wait:
        nt.NtWriteFile(write_end, b"w" * 70000)
    assert wait.value.alertable                        # part of it is in: a signal may end it
    assert wait.value.complete(STATUS_USER_APC) == 65536


def test_a_write_that_has_not_begun_is_not_ended_by_an_apc(nt):
    _, write_end = make_pipe(nt)
    for _ in range(16):
        nt.NtWriteFile(write_end, b"p" * 4096)
    with pytest.raises(WaitPending) as wait:
        nt.NtWriteFile(write_end, b"late")
    assert not wait.value.alertable                    # the caller decides: EINTR or restart


# --- not waiting (FILE_PIPE_COMPLETE_OPERATION) ----------------------------------------------


def test_a_nonblocking_empty_read_fails_at_once(nt):
    read_end, _ = make_pipe(nt, nonblocking=True)
    with pytest.raises(NtStatusError) as error:
        nt.NtReadFile(read_end, 10)
    assert error.value.status == STATUS_PIPE_EMPTY


def test_the_completion_mode_can_be_changed_on_an_open_end(nt):
    read_end, write_end = make_pipe(nt)
    nt.NtSetInformationFile(read_end, FilePipeInformation,
                            PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, FILE_PIPE_COMPLETE_OPERATION))
    assert nt.NtQueryInformationFile(read_end, FilePipeInformation).CompletionMode == \
        FILE_PIPE_COMPLETE_OPERATION
    with pytest.raises(NtStatusError):
        nt.NtReadFile(read_end, 10)


@pytest.mark.parametrize("size, capacity", [(1, 65536), (100, 64000), (3000, 48000),
                                            (4096, 65536), (4097, 45066), (65537, 65536)])
def test_nonblocking_capacity_is_linuxs(nt, size, capacity):
    _, write_end = make_pipe(nt, nonblocking=True)
    assert fill(nt, write_end, size) == capacity


# --- readiness (poll) ------------------------------------------------------------------------


def readiness(kernel, handle):
    file = kernel.current_thread.process.handles.lookup(handle)
    return file.device.readiness(file)


def test_readiness_follows_the_buffer_and_the_ends(nt, kernel):
    read_end, write_end = make_pipe(nt)
    reader, writer = readiness(kernel, read_end), readiness(kernel, write_end)
    assert (reader.readable, reader.writable, reader.hangup) == (False, False, False)
    assert (writer.readable, writer.writable, writer.broken) == (False, True, False)
    nt.NtWriteFile(write_end, b"x")
    assert readiness(kernel, read_end).readable
    assert reader.wait_read[0].signalled                      # the event a poller waits on
    nt.NtClose(write_end)
    assert readiness(kernel, read_end).hangup


def test_a_full_pipe_is_not_writable_and_a_readerless_one_is_broken(nt, kernel):
    read_end, write_end = make_pipe(nt, nonblocking=True)
    fill(nt, write_end, 4096)
    assert not readiness(kernel, write_end).writable
    nt.NtClose(read_end)
    state = readiness(kernel, write_end)
    assert state.broken and state.wait_closed[0].signalled


def test_every_write_reaches_a_watch_on_the_data_event_and_no_wait_ends_early(nt, kernel):
    """A watch (epoll's hook) hears of each write, even into a pipe nobody has read —
    Linux wakes a pipe's readers after every write, which is an edge for EPOLLET — while
    the event itself stays what the buffer says and a reader's wait is unchanged."""
    read_end, write_end = make_pipe(nt, nonblocking=True)
    data = readiness(kernel, read_end).wait_read[0]
    space = readiness(kernel, write_end).wait_write[0]
    heard = {"data": 0, "space": 0}
    kernel.dispatcher.watch(data, lambda: heard.__setitem__("data", heard["data"] + 1))
    kernel.dispatcher.watch(space, lambda: heard.__setitem__("space", heard["space"] + 1))
    nt.NtWriteFile(write_end, b"one")
    nt.NtWriteFile(write_end, b"two")
    assert heard == {"data": 2, "space": 0}
    assert nt.NtReadFile(read_end, 100) == b"onetwo"
    assert not data.signalled and heard["data"] == 2
    fill(nt, write_end, 4096)                  # the last write moves nothing: still heard
    heard["data"] = 0
    assert nt.NtWriteFile(write_end, b"x") == 0
    assert heard["data"] == 1
    nt.NtReadFile(read_end, 1)                 # the first page keeps data: still full
    assert heard["space"] == 0
    nt.NtReadFile(read_end, 4096)              # room in a full pipe: the writers' edge
    assert heard["space"] == 1
    nt.NtReadFile(read_end, 4096)              # room in a pipe that was not full: none
    assert heard["space"] == 1


# --- FSCTL_PIPE_LISTEN -------------------------------------------------------------------------


def status_of(call, *args) -> int:
    with pytest.raises(NtStatusError) as error:
        call(*args)
    return error.value.status


def test_a_server_end_listens_until_a_client_connects(nt):
    server = nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA, FILE_SHARE_WRITE, FILE_CREATE)
    with pytest.raises(WaitPending) as wait:
        nt.NtFsControlFile(server, FSCTL_PIPE_LISTEN)
    assert not any(o.signalled for o in wait.value.objects)
    client = nt.NtOpenFile(NAME, FILE_WRITE_DATA)
    assert all(o.signalled for o in wait.value.objects)
    assert wait.value.complete(STATUS_WAIT_0) == STATUS_SUCCESS
    assert status_of(nt.NtFsControlFile, server, FSCTL_PIPE_LISTEN) == STATUS_PIPE_CONNECTED
    assert status_of(nt.NtFsControlFile, client, FSCTL_PIPE_LISTEN) == STATUS_INVALID_DEVICE_REQUEST


def test_a_server_end_that_does_not_wait_says_it_is_listening(nt):
    server = nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA, FILE_SHARE_WRITE, FILE_CREATE,
                                      CompletionMode=FILE_PIPE_COMPLETE_OPERATION)
    assert status_of(nt.NtFsControlFile, server, FSCTL_PIPE_LISTEN) == STATUS_PIPE_LISTENING


# --- FIFO instances ----------------------------------------------------------------------------

FIFO = "\\Device\\NamedPipe\\Lxss.Fifo.dev803.ino1234"


def fifo_end(nt, access: int, nonblocking: bool = False) -> int:
    """What LXSS's open of a FIFO does: join the instance, or make it."""
    mode = FILE_PIPE_COMPLETE_OPERATION if nonblocking else FILE_PIPE_QUEUE_OPERATION
    try:
        handle = nt.NtOpenFile(FIFO, access)
    except NtStatusError:
        return nt.NtCreateNamedPipeFile(FIFO, access, FILE_SHARE_WRITE, FILE_CREATE, CompletionMode=mode,
                                        OutboundQuota=0, lx_fifo=True)
    if nonblocking:
        nt.NtSetInformationFile(handle, FilePipeInformation, PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, mode))
    return handle


def test_every_end_of_a_fifo_shares_one_buffer(nt):
    reader = fifo_end(nt, FILE_READ_DATA)
    first, second = fifo_end(nt, FILE_WRITE_DATA), fifo_end(nt, FILE_WRITE_DATA)
    nt.NtWriteFile(first, b"one ")
    nt.NtWriteFile(second, b"two ")
    assert nt.NtReadFile(reader, 4) == b"one "
    other_reader = fifo_end(nt, FILE_READ_DATA)
    assert nt.NtReadFile(other_reader, 100) == b"two "
    both = fifo_end(nt, FILE_READ_DATA | FILE_WRITE_DATA)
    nt.NtWriteFile(both, b"self")
    assert nt.NtReadFile(both, 100) == b"self"


def test_a_fifo_reader_sees_end_of_file_only_when_the_last_writer_goes(nt):
    reader = fifo_end(nt, FILE_READ_DATA)
    first, second = fifo_end(nt, FILE_WRITE_DATA), fifo_end(nt, FILE_WRITE_DATA)
    nt.NtWriteFile(first, b"a")
    nt.NtClose(first)
    assert nt.NtReadFile(reader, 100) == b"a"
    with pytest.raises(WaitPending):
        nt.NtReadFile(reader, 100)             # a writer is still there: wait
    nt.NtClose(second)
    assert status_of(nt.NtReadFile, reader, 100) == STATUS_PIPE_BROKEN     # Linux: end of file


def test_data_waits_in_a_fifo_for_the_next_writer_and_reader(nt):
    reader = fifo_end(nt, FILE_READ_DATA)
    writer = fifo_end(nt, FILE_WRITE_DATA)
    nt.NtWriteFile(writer, b"kept")
    nt.NtClose(reader)
    assert status_of(nt.NtWriteFile, writer, b"x") == STATUS_PIPE_BROKEN  # no reader: EPIPE
    later = fifo_end(nt, FILE_READ_DATA)
    assert nt.NtReadFile(later, 100) == b"kept"
    nt.NtWriteFile(writer, b"again")                                      # a reader again
    assert nt.NtReadFile(later, 100) == b"again"


def test_a_fifo_and_what_it_holds_go_with_its_last_end(nt):
    both = fifo_end(nt, FILE_READ_DATA | FILE_WRITE_DATA)
    nt.NtWriteFile(both, b"dropped")
    nt.NtClose(both)
    assert status_of(nt.NtOpenFile, FIFO, FILE_READ_DATA) == STATUS_OBJECT_NAME_NOT_FOUND
    fresh = fifo_end(nt, FILE_READ_DATA, nonblocking=True)
    assert status_of(nt.NtReadFile, fresh, 100) == STATUS_PIPE_BROKEN


def test_a_fifo_end_listens_for_the_other_side(nt):
    reader = fifo_end(nt, FILE_READ_DATA)
    with pytest.raises(WaitPending) as wait:
        nt.NtFsControlFile(reader, FSCTL_PIPE_LISTEN)
    other_reader = fifo_end(nt, FILE_READ_DATA)
    assert not any(o.signalled for o in wait.value.objects)               # not a partner
    writer = fifo_end(nt, FILE_WRITE_DATA)
    assert all(o.signalled for o in wait.value.objects)
    assert wait.value.complete(STATUS_WAIT_0) == STATUS_SUCCESS
    for end in (other_reader, writer):
        assert status_of(nt.NtFsControlFile, end, FSCTL_PIPE_LISTEN) == STATUS_PIPE_CONNECTED


def test_a_fifo_writer_that_does_not_wait_finds_no_reader(nt):
    waiting_writer = fifo_end(nt, FILE_WRITE_DATA)
    eager = fifo_end(nt, FILE_WRITE_DATA, nonblocking=True)
    assert status_of(nt.NtFsControlFile, eager, FSCTL_PIPE_LISTEN) == STATUS_PIPE_LISTENING
    with pytest.raises(WaitPending):
        nt.NtFsControlFile(waiting_writer, FSCTL_PIPE_LISTEN)


def test_a_fifo_reader_is_not_hung_up_before_a_writer_comes(nt, kernel):
    reader = fifo_end(nt, FILE_READ_DATA, nonblocking=True)
    state = readiness(kernel, reader)
    assert not state.hangup and not state.readable
    assert not any(o.signalled for o in state.wait_closed)               # a poll would wait
    writer = fifo_end(nt, FILE_WRITE_DATA)
    assert any(o.signalled for o in state.wait_closed)                    # ... until a writer
    assert not readiness(kernel, reader).hangup
    nt.NtClose(writer)
    assert readiness(kernel, reader).hangup


# --- FSCTL_PIPE_PEEK and FSCTL_PIPE_LX_SHUTDOWN (a socketpair's pipe) ---------------------------


def make_duplex(nt) -> tuple[int, int]:
    """A full-duplex pipe, as LXSS makes a socketpair: the server end and the client end."""
    server = nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                      FILE_CREATE)
    client = nt.NtOpenFile(NAME, FILE_READ_DATA | FILE_WRITE_DATA)
    return server, client


def test_a_peek_copies_what_a_read_would_take_and_never_waits(nt):
    server, client = make_duplex(nt)
    empty = nt.NtFsControlFile(server, FSCTL_PIPE_PEEK, 10)
    assert (empty.Data, empty.ReadDataAvailable) == (b"", 0)
    nt.NtWriteFile(client, b"hello")
    peeked = nt.NtFsControlFile(server, FSCTL_PIPE_PEEK, 3)
    assert (peeked.Data, peeked.ReadDataAvailable) == (b"hel", 5)
    assert nt.NtReadFile(server, 10) == b"hello"


def test_shutting_down_sending_gives_the_peer_end_of_file_after_the_data(nt):
    server, client = make_duplex(nt)
    nt.NtWriteFile(server, b"tail")
    nt.NtFsControlFile(server, FSCTL_PIPE_LX_SHUTDOWN, (False, True))
    assert nt.NtReadFile(client, 10) == b"tail"
    assert status_of(nt.NtReadFile, client, 10) == STATUS_PIPE_BROKEN     # end of file, not a wait
    assert status_of(nt.NtWriteFile, server, b"x") == STATUS_PIPE_BROKEN  # its own writes break
    nt.NtWriteFile(client, b"back")                                        # the other way still flows
    assert nt.NtReadFile(server, 10) == b"back"


def test_shutting_down_receiving_breaks_the_peers_writes_after_the_data_is_read(nt):
    server, client = make_duplex(nt)
    nt.NtWriteFile(client, b"kept")
    nt.NtFsControlFile(server, FSCTL_PIPE_LX_SHUTDOWN, (True, False))
    assert status_of(nt.NtWriteFile, client, b"x") == STATUS_PIPE_BROKEN
    assert nt.NtReadFile(server, 10) == b"kept"
    assert status_of(nt.NtReadFile, server, 10) == STATUS_PIPE_BROKEN


def test_a_fifo_has_no_half_close(nt):
    end = nt.NtCreateNamedPipeFile(NAME, FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_WRITE, FILE_CREATE,
                                   lx_fifo=True)
    assert status_of(nt.NtFsControlFile, end, FSCTL_PIPE_LX_SHUTDOWN, (True, True)) == \
        STATUS_INVALID_DEVICE_REQUEST
