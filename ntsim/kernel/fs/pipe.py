"""`\\Device\\NamedPipe`: the named-pipe file system (NPFS), where NT keeps its pipes.

NT has no separate "anonymous pipe" object. kernel32's CreatePipe makes a *named* pipe
with a generated name (`\\Device\\NamedPipe\\Win32Pipes.<pid>.<n>`): NtCreateNamedPipeFile
creates the pipe and its *server end*, then NtOpenFile of the same name connects the
*client end*. LXSS's `pipe()` does the same: the read end is the server end of an
inbound pipe (data flows client -> server), the write end is its client end.

A pipe instance has up to two directions (its configuration, from the ShareAccess of
the create: FILE_SHARE_WRITE inbound, FILE_SHARE_READ outbound, both full duplex), and
each direction is a :class:`PipeQueue`. A queue is modelled on Linux's pipe ring, since
the guests that use it compare against Linux: up to 16 page-sized buffers (64 KiB, the
InboundQuota), small writes merged into the last page, a write of at most one page
(PIPE_BUF) never split, reads that gather across pages.

Blocking: a read of an empty queue, or a write to a full one, raises WaitPending on the
queue's events and finishes when they are signalled. Each queue keeps four notification
events whose state always follows the queue's: *data* (something to read), *space*
(a free page), *hangup* (the writing end has closed: a read sees end of file) and
*broken* (the reading end has closed: a write fails). poll() waits on the same events.
Every write signals *data* again, even when it was set already — as Linux's pipe_write
wakes its readers' wait queue after every write, whether the pipe was empty or not, and
even one that found no room. Nobody waits on a set event, so no wait ends for it; what
it reaches is a watch (`Dispatcher.watch`), and so an edge-triggered epoll entry on the
read end hears of each write. A read is an edge for the writers only when it makes room
in a full pipe (*space* becoming set), as Linux wakes writers only if the pipe was full.

An end whose file object is in FILE_PIPE_COMPLETE_OPERATION mode (set through
FilePipeInformation, how NT spells "non-blocking") never waits: an empty read fails with
STATUS_PIPE_EMPTY, a full write completes with what fit, possibly nothing.

What NT calls a broken pipe is two things on Linux: a read of a pipe whose writer has gone
is end of file (STATUS_PIPE_BROKEN, which LXSS turns into 0 bytes), and a write to a pipe
whose reader has gone is EPIPE (and SIGPIPE).

FSCTL_PIPE_LISTEN (ConnectNamedPipe) waits at the server end until a client connects;
it fails at once with STATUS_PIPE_CONNECTED if one already has, and with
STATUS_PIPE_LISTENING if none has and the end does not wait.

A Linux FIFO (a named pipe in the file system, fifo(7)) is one buffer that any number of
readers and writers open and close while it lives, which no NT pipe is: an NT instance
has one server end and one client, and a client that leaves takes the connection with
it. A pico provider asks for a *FIFO instance* (`lx_fifo`, as WSL1's lxcore kept its
FIFOs itself): NtCreateNamedPipeFile makes it with its first end, and every NtOpenFile
of the name attaches another, a reader if it asks FILE_READ_DATA, a writer if it asks
FILE_WRITE_DATA, both if both. They share one inbound queue, whose `reader_open` and
`writer_open` then say "some reader" and "some writer"; the instance, and what it
buffers, goes with its last end. FSCTL_PIPE_LISTEN at a FIFO end waits for the other
side — a writer if the end reads, a reader if it writes — which is how Linux's open of a
FIFO blocks until its partner comes.

A full-duplex instance (FILE_SHARE_READ | FILE_SHARE_WRITE) has both queues, and each end
reads one and writes the other: what LXSS makes a Linux socketpair of. Two controls
serve it. FSCTL_PIPE_PEEK (PeekNamedPipe) copies what a read would take and leaves it
there; like NT's, it never waits. FSCTL_PIPE_LX_SHUTDOWN is a pico provider's own (NT
has no half-close of a pipe; AFD has one for sockets): it stops one end receiving (its
incoming queue loses its reader, so the other end's writes break) or sending (its
outgoing queue loses its writer, so the other end reads to end of file), as if that
half of the end had closed. The end's own reads then end at end of file once its queue
is drained, and its own writes break.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dispatcher import WaitPending
from ..io import (
    FILE_APPEND_DATA,
    FILE_ATTRIBUTE_NORMAL,
    FILE_DEVICE_NAMED_PIPE,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    FSCTL_PIPE_LISTEN,
    FSCTL_PIPE_LX_SHUTDOWN,
    FSCTL_PIPE_PEEK,
    GENERIC_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    CreateRequest,
    Device,
    FileInternalInformation,
    FileObject,
    FilePipeInformation,
    FilePipeLocalInformation,
    FileStandardInformation,
    FileStatLx,
    FileStatLxInformation,
    Readiness,
    StandardInformation,
)
from ..processes import Event, NotificationEvent
from ..status import (
    STATUS_ACCESS_DENIED,
    STATUS_INSTANCE_NOT_AVAILABLE,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_PIPE_BROKEN,
    STATUS_PIPE_CLOSING,
    STATUS_PIPE_CONNECTED,
    STATUS_PIPE_EMPTY,
    STATUS_PIPE_LISTENING,
    STATUS_PIPE_NOT_AVAILABLE,
    STATUS_SUCCESS,
    STATUS_USER_APC,
    NtStatusError,
)

if TYPE_CHECKING:
    from ..kernel import Kernel

PAGE_SIZE = 4096
PIPE_BUF = PAGE_SIZE               # a write this small is never interleaved with another
DEFAULT_QUOTA = 16 * PAGE_SIZE     # Linux's default pipe capacity, 64 KiB

# ShareAccess of NtCreateNamedPipeFile: which way the data may flow
FILE_SHARE_READ, FILE_SHARE_WRITE = 0x1, 0x2
# NamedPipeConfiguration
FILE_PIPE_INBOUND, FILE_PIPE_OUTBOUND, FILE_PIPE_FULL_DUPLEX = 0, 1, 2
# NamedPipeType and ReadMode
FILE_PIPE_BYTE_STREAM_TYPE, FILE_PIPE_MESSAGE_TYPE = 0, 1
FILE_PIPE_BYTE_STREAM_MODE, FILE_PIPE_MESSAGE_MODE = 0, 1
# CompletionMode: wait (queue the request) or never wait (complete it at once)
FILE_PIPE_QUEUE_OPERATION, FILE_PIPE_COMPLETE_OPERATION = 0, 1
# NamedPipeState and NamedPipeEnd
FILE_PIPE_DISCONNECTED_STATE, FILE_PIPE_LISTENING_STATE = 1, 2
FILE_PIPE_CONNECTED_STATE, FILE_PIPE_CLOSING_STATE = 3, 4
FILE_PIPE_CLIENT_END, FILE_PIPE_SERVER_END = 0, 1
PIPE_TYPES = {0: "FILE_PIPE_BYTE_STREAM_TYPE", 1: "FILE_PIPE_MESSAGE_TYPE"}
PIPE_READ_MODES = {0: "FILE_PIPE_BYTE_STREAM_MODE", 1: "FILE_PIPE_MESSAGE_MODE"}
PIPE_COMPLETION_MODES = {0: "FILE_PIPE_QUEUE_OPERATION", 1: "FILE_PIPE_COMPLETE_OPERATION"}

S_IFIFO = 0o010000
PIPEFS_DEVICE = 13                 # an anonymous device number, as Linux's pipefs has

READ_ACCESS = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL
WRITE_ACCESS = FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL


@dataclass
class NamedPipeCreateRequest(CreateRequest):
    """IRP_MJ_CREATE_NAMED_PIPE: a create request plus NAMED_PIPE_CREATE_PARAMETERS."""

    share_access: int = FILE_SHARE_READ | FILE_SHARE_WRITE
    pipe_type: int = FILE_PIPE_BYTE_STREAM_TYPE
    read_mode: int = FILE_PIPE_BYTE_STREAM_MODE
    completion_mode: int = FILE_PIPE_QUEUE_OPERATION
    maximum_instances: int = 1
    inbound_quota: int = DEFAULT_QUOTA
    outbound_quota: int = DEFAULT_QUOTA
    lx_owner: tuple[int, int] = (0, 0)    # uid, gid a pico provider records (its fsuid)
    lx_fifo: bool = False                 # a FIFO instance: ends attach while any is open


@dataclass
class PipeInformation:
    """FILE_PIPE_INFORMATION: how this end reads, and whether its requests may wait."""

    ReadMode: int
    CompletionMode: int


@dataclass
class PipeLocalInformation:
    """FILE_PIPE_LOCAL_INFORMATION: the pipe as seen from one end."""

    NamedPipeType: int
    NamedPipeConfiguration: int
    MaximumInstances: int
    CurrentInstances: int
    InboundQuota: int
    ReadDataAvailable: int
    OutboundQuota: int
    WriteQuotaAvailable: int
    NamedPipeState: int
    NamedPipeEnd: int


@dataclass
class PipePeekBuffer:
    """FILE_PIPE_PEEK_BUFFER: the pipe's state, what waits in it, and a copy of its start."""

    NamedPipeState: int
    ReadDataAvailable: int
    NumberOfMessages: int
    MessageLength: int
    Data: bytes


class PageBuffer:
    """One page of a queue: where its data starts in the page, and the data."""

    __slots__ = ("offset", "data")

    def __init__(self, data: bytes) -> None:
        self.offset = 0
        self.data = bytearray(data)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class PipeQueue:
    """One direction of a pipe: the pages in flight, whether each side is open, and the
    events that follow its state (set with KeSetEvent/KeClearEvent semantics)."""

    def __init__(self, kernel: Kernel, quota: int) -> None:
        self.kernel = kernel
        self.quota = max(PAGE_SIZE, -(-quota // PAGE_SIZE) * PAGE_SIZE)
        self.max_buffers = self.quota // PAGE_SIZE
        self.buffers: deque[PageBuffer] = deque()
        self.available = 0                 # bytes buffered
        self.reader_open = False
        self.writer_open = False
        self.data = Event("", NotificationEvent)
        self.space = Event("", NotificationEvent)
        self.hangup = Event("", NotificationEvent)
        self.broken = Event("", NotificationEvent)
        self.update()

    @property
    def full(self) -> bool:
        return len(self.buffers) >= self.max_buffers

    def update(self, wrote: bool = False) -> None:
        """Bring the four events in line with the queue; wake whom a set event satisfies.
        After a write (`wrote`), *data* is signalled even if it was set (see the module's
        notes): only watches can notice."""
        self._set(self.data, bool(self.buffers), again=wrote)
        self._set(self.space, not self.full)
        self._set(self.hangup, not self.writer_open)
        self._set(self.broken, not self.reader_open)

    def _set(self, event: Event, state: bool, again: bool = False) -> None:
        if state and (again or not event.signalled):
            event.signalled = True
            self.kernel.dispatcher.signal(event)
        elif not state:
            event.signalled = False

    def take(self, length: int) -> bytes:
        """Read up to `length` bytes, across pages; an emptied page is freed."""
        out = bytearray()
        while self.buffers and len(out) < length:
            page = self.buffers[0]
            piece = page.data[:length - len(out)]
            out += piece
            del page.data[:len(piece)]
            page.offset += len(piece)
            if not page.data:
                self.buffers.popleft()
        self.available -= len(out)
        return bytes(out)

    def peek(self, length: int) -> bytes:
        """Up to `length` bytes from the front, left where they are."""
        out = bytearray()
        for page in self.buffers:
            if len(out) >= length:
                break
            out += page.data[:length - len(out)]
        return bytes(out)

    def merge(self, data: bytes) -> int:
        """The first part of a write that is not a whole number of pages goes into the
        last page if it fits there entirely (never split: this is what keeps a write
        of up to PIPE_BUF bytes in one piece). Returns the bytes merged."""
        chars = len(data) % PAGE_SIZE
        if not chars or not self.buffers or self.buffers[-1].end + chars > PAGE_SIZE:
            return 0
        self.buffers[-1].data += data[:chars]
        self.available += chars
        return chars

    def append_page(self, data: bytes) -> int:
        """Up to one page of data into a new buffer (the caller checked `full`)."""
        piece = data[:PAGE_SIZE]
        self.buffers.append(PageBuffer(piece))
        self.available += len(piece)
        return len(piece)


class Pipe:
    """A pipe instance (NPFS's FCB and its one CCB): a name, its directions, its ends."""

    def __init__(self, kernel: Kernel, name: str, request: NamedPipeCreateRequest, inode: int) -> None:
        self.name = name
        self.inode = inode
        self.configuration = {FILE_SHARE_WRITE: FILE_PIPE_INBOUND, FILE_SHARE_READ: FILE_PIPE_OUTBOUND,
                              FILE_SHARE_READ | FILE_SHARE_WRITE: FILE_PIPE_FULL_DUPLEX}[
            request.share_access & (FILE_SHARE_READ | FILE_SHARE_WRITE)]
        self.pipe_type = request.pipe_type
        self.maximum_instances = request.maximum_instances
        # inbound: client -> server; outbound: server -> client
        self.inbound = (PipeQueue(kernel, request.inbound_quota or DEFAULT_QUOTA)
                        if self.configuration != FILE_PIPE_OUTBOUND else None)
        self.outbound = (PipeQueue(kernel, request.outbound_quota or DEFAULT_QUOTA)
                         if self.configuration != FILE_PIPE_INBOUND else None)
        self.state = FILE_PIPE_LISTENING_STATE
        self.server_open = True
        self.client_open = False
        self.owner = request.lx_owner
        self.fifo = request.lx_fifo
        self.ends: list[PipeEnd] = []      # the open ends, to tell each when its partner comes
        self.readers = self.writers = 0    # a FIFO instance's ends that read, and that write
        now = kernel.clock.now_ns()
        self.created_ns = self.accessed_ns = self.modified_ns = now

    def queues(self) -> list[PipeQueue]:
        return [q for q in (self.inbound, self.outbound) if q is not None]


class PipeEnd:
    """A file object's context: which end of which pipe, and its completion mode.
    `connected` says whether the other side has been there since this end opened (the
    client, for a server end; a writer, for a FIFO end that reads, a reader for one
    that writes), and `partner` is the event FSCTL_PIPE_LISTEN waits on until it has."""

    __slots__ = ("pipe", "server", "incoming", "outgoing", "completion_mode", "connected", "partner")

    def __init__(self, pipe: Pipe, server: bool, completion_mode: int) -> None:
        self.pipe = pipe
        self.server = server
        self.incoming = pipe.inbound if server else pipe.outbound
        self.outgoing = pipe.outbound if server else pipe.inbound
        self.completion_mode = completion_mode
        self.connected = not server
        self.partner = Event("", NotificationEvent, initial_state=not server)

    @property
    def nonblocking(self) -> bool:
        return self.completion_mode == FILE_PIPE_COMPLETE_OPERATION


def _pipe_broken(written: int, detail: str) -> NtStatusError:
    """STATUS_PIPE_BROKEN; IO_STATUS_BLOCK.Information keeps the bytes written before
    the reader went (Linux returns those, not EPIPE, after raising SIGPIPE)."""
    error = NtStatusError(STATUS_PIPE_BROKEN, detail)
    error.information = written
    return error


class NamedPipeDevice(Device):
    """NPFS: a flat namespace of pipe instances, case-insensitive like every NT name."""

    device_type = FILE_DEVICE_NAMED_PIPE

    def __init__(self, kernel: Kernel) -> None:
        super().__init__()
        self.kernel = kernel
        self.pipes: dict[str, Pipe] = {}
        self._inodes = itertools.count(10_000)

    # --- create and open --------------------------------------------------------------------

    def create(self, file: FileObject, request: CreateRequest) -> None:
        name = file.file_name
        if name in ("", "\\"):
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID,
                                "the NPFS root directory (listing pipes) is not modelled")
        if isinstance(request, NamedPipeCreateRequest):
            self._create_instance(file, name, request)
        else:
            self._connect_client(file, name, request)

    def _create_instance(self, file: FileObject, name: str, request: NamedPipeCreateRequest) -> None:
        """NtCreateNamedPipeFile: a new pipe instance, listening, and its server end."""
        if name.casefold() in self.pipes:
            raise NtStatusError(STATUS_INSTANCE_NOT_AVAILABLE,
                                f"{name}: more than one instance of a pipe name is not modelled")
        if request.pipe_type != FILE_PIPE_BYTE_STREAM_TYPE or request.read_mode != FILE_PIPE_BYTE_STREAM_MODE:
            raise NtStatusError(STATUS_NOT_SUPPORTED, "message-type pipes are not modelled")
        if request.share_access & (FILE_SHARE_READ | FILE_SHARE_WRITE) == 0:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "a pipe needs a direction (ShareAccess)")
        pipe = Pipe(self.kernel, name, request, next(self._inodes))
        end = PipeEnd(pipe, True, request.completion_mode)
        if pipe.fifo:
            if pipe.inbound is None:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "a FIFO instance is inbound (FILE_SHARE_WRITE)")
            self.pipes[name.casefold()] = pipe
            self._attach(file, end, request.access)
            return
        self._check_access(end, request.access)
        pipe.ends.append(end)
        self.pipes[name.casefold()] = pipe
        for queue, side in ((pipe.inbound, "reader_open"), (pipe.outbound, "writer_open")):
            if queue is not None:
                setattr(queue, side, True)
                queue.update()
        file.context = end

    def _connect_client(self, file: FileObject, name: str, request: CreateRequest) -> None:
        """NtCreateFile/NtOpenFile of a pipe's name: connect the client end."""
        pipe = self.pipes.get(name.casefold())
        if pipe is None:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, f"no pipe {name}")
        end = PipeEnd(pipe, False, FILE_PIPE_QUEUE_OPERATION)
        if pipe.fifo:
            self._attach(file, end, request.access)
            return
        if pipe.state != FILE_PIPE_LISTENING_STATE:
            raise NtStatusError(STATUS_PIPE_NOT_AVAILABLE, f"{name} is not listening for a client")
        self._check_access(end, request.access)
        pipe.state = FILE_PIPE_CONNECTED_STATE
        pipe.client_open = True
        for server in pipe.ends:
            self._connected(server)
        pipe.ends.append(end)
        for queue, side in ((pipe.inbound, "writer_open"), (pipe.outbound, "reader_open")):
            if queue is not None:
                setattr(queue, side, True)
                queue.update()
        file.context = end

    def _attach(self, file: FileObject, end: PipeEnd, access: int) -> None:
        """Another end of a FIFO instance: it reads, writes or both, as its access says,
        and each end already there that waits for this side hears that it has come."""
        pipe = end.pipe
        queue = pipe.inbound
        reads, writes = bool(access & READ_ACCESS), bool(access & WRITE_ACCESS)
        end.incoming = queue if reads else None
        end.outgoing = queue if writes else None
        end.connected = False
        end.partner.signalled = False
        if (reads and pipe.writers) or (writes and pipe.readers) or (reads and writes):
            self._connected(end)
        for other in pipe.ends:
            if (reads and other.outgoing is not None) or (writes and other.incoming is not None):
                self._connected(other)
        pipe.ends.append(end)
        pipe.readers += reads
        pipe.writers += writes
        self._fifo_changed(pipe)
        file.context = end

    def _connected(self, end: PipeEnd) -> None:
        """The other side has come to `end`: whoever listens there wakes."""
        end.connected = True
        if not end.partner.signalled:
            end.partner.signalled = True
            self.kernel.dispatcher.signal(end.partner)

    @staticmethod
    def _fifo_changed(pipe: Pipe) -> None:
        """A FIFO instance's queue has a reader while any end reads, and a writer while any
        writes; it is "connected" while it has both."""
        queue = pipe.inbound
        queue.reader_open, queue.writer_open = pipe.readers > 0, pipe.writers > 0
        pipe.state = (FILE_PIPE_CONNECTED_STATE if pipe.readers and pipe.writers
                      else FILE_PIPE_LISTENING_STATE)
        queue.update()

    @staticmethod
    def _check_access(end: PipeEnd, access: int) -> None:
        """An end may read only if data flows towards it, and write only away from it."""
        if access & READ_ACCESS and end.incoming is None:
            raise NtStatusError(STATUS_ACCESS_DENIED, "this end of the pipe cannot read")
        if access & WRITE_ACCESS and end.outgoing is None:
            raise NtStatusError(STATUS_ACCESS_DENIED, "this end of the pipe cannot write")

    def cleanup(self, file: FileObject) -> None:
        """The last handle to an end closed: the other end sees end of file (its reads)
        or a broken pipe (its writes), and whoever waits for that wakes."""
        end: PipeEnd = file.context
        pipe = end.pipe
        if end in pipe.ends:
            pipe.ends.remove(end)
        if pipe.fifo:
            # a FIFO end: the instance, and what it buffers, goes with the last one
            pipe.readers -= end.incoming is not None
            pipe.writers -= end.outgoing is not None
            self._fifo_changed(pipe)
            if not pipe.ends and self.pipes.get(pipe.name.casefold()) is pipe:
                del self.pipes[pipe.name.casefold()]
            return
        if end.server:
            pipe.server_open = False
        else:
            pipe.client_open = False
        if end.incoming is not None:
            end.incoming.reader_open = False
            end.incoming.update()
        if end.outgoing is not None:
            end.outgoing.writer_open = False
            end.outgoing.update()
        pipe.state = FILE_PIPE_CLOSING_STATE
        if not pipe.server_open and not pipe.client_open:
            self.pipes.pop(pipe.name.casefold(), None)     # the name goes with the last end

    # --- read and write ---------------------------------------------------------------------

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        """Take what is buffered (up to `length`); wait if nothing is and a writer is
        open. A pipe has no file position: the offset is ignored, as NPFS ignores it."""
        end: PipeEnd = file.context
        queue = end.incoming
        if queue is None:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "this end of the pipe cannot read")
        if end.pipe.state == FILE_PIPE_LISTENING_STATE and not end.pipe.fifo:
            raise NtStatusError(STATUS_PIPE_LISTENING, "no client has connected")
        if length <= 0:
            return b""
        if queue.buffers:
            data = queue.take(length)
            end.pipe.accessed_ns = self.kernel.clock.now_ns()
            queue.update()
            return data
        if not queue.writer_open or not queue.reader_open:
            # the writer has gone (or shut its sending), or this end shut its receiving
            raise NtStatusError(STATUS_PIPE_BROKEN, "the writing end has closed")
        if end.nonblocking:
            raise NtStatusError(STATUS_PIPE_EMPTY, "nothing to read, and the end does not wait")
        raise WaitPending([queue.data, queue.hangup], lambda _status: self.read(file, length, offset),
                          reason="pipe read")

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        """Write all of `data`, waiting for room as needed (or, not waiting, what fits)."""
        end: PipeEnd = file.context
        queue = end.outgoing
        if queue is None:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "this end of the pipe cannot write")
        if end.pipe.state == FILE_PIPE_LISTENING_STATE and not end.pipe.fifo:
            raise NtStatusError(STATUS_PIPE_LISTENING, "no client has connected")
        if not data:
            return 0
        if not queue.writer_open:
            raise _pipe_broken(0, "this end has shut down its sending (FSCTL_PIPE_LX_SHUTDOWN)")
        if not queue.reader_open:
            raise _pipe_broken(0, "the reading end has closed")
        written = queue.merge(data)
        return self._write_pages(file, queue, data, written)

    def _write_pages(self, file: FileObject, queue: PipeQueue, data: bytes, written: int) -> int:
        """The rest of a write, a page at a time; waits (or stops) when the queue is full."""
        end: PipeEnd = file.context
        while written < len(data):
            if not queue.reader_open or not queue.writer_open:
                self._wrote(end, queue, written)
                raise _pipe_broken(written, "the reading end has closed")
            if not queue.full:
                written += queue.append_page(data[written:])
                continue
            if end.nonblocking:
                break
            self._wrote(end, queue, written)
            raise self._wait_for_room(file, queue, data, written)
        self._wrote(end, queue, written)
        return written

    def _wait_for_room(self, file: FileObject, queue: PipeQueue, data: bytes, written: int) -> WaitPending:
        """Wait for a free page (or for the reader to go). Once part of the data is in,
        the wait is alertable: an APC (a Linux signal) ends the write with the count
        so far, as Linux's pipe_write returns it; before that, the write never began."""

        def resume(status: int) -> int:
            if status == STATUS_USER_APC:
                return written
            return self._write_pages(file, queue, data, written)

        pending = WaitPending([queue.space, queue.broken], resume, reason="pipe write")
        pending.alertable = bool(written)
        return pending

    def _wrote(self, end: PipeEnd, queue: PipeQueue, written: int) -> None:
        """A write ends, or stops to wait for room: its readers hear of it, whatever it wrote."""
        if written:
            end.pipe.modified_ns = self.kernel.clock.now_ns()
        queue.update(wrote=True)

    # --- file-system controls -----------------------------------------------------------------

    def device_control(self, file: FileObject, code: int, data: Any) -> Any:
        if code == FSCTL_PIPE_PEEK:
            return self._peek(file, data)
        if code == FSCTL_PIPE_LX_SHUTDOWN:
            return self._shutdown(file, data)
        if code != FSCTL_PIPE_LISTEN:
            return super().device_control(file, code, data)
        end: PipeEnd = file.context
        pipe = end.pipe
        if not pipe.fifo and not end.server:
            raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, "only a server end listens for a client")
        if end.connected:
            if not pipe.fifo and pipe.state == FILE_PIPE_CLOSING_STATE:
                raise NtStatusError(STATUS_PIPE_CLOSING, "the client has come and gone")
            raise NtStatusError(STATUS_PIPE_CONNECTED, "the other side is already there")
        if end.nonblocking:
            raise NtStatusError(STATUS_PIPE_LISTENING, "nobody has come, and the end does not wait")
        raise WaitPending([end.partner], lambda _status: STATUS_SUCCESS, reason="pipe listen")

    def _peek(self, file: FileObject, length: Any) -> PipePeekBuffer:
        """FSCTL_PIPE_PEEK: a copy of up to `length` bytes a read would take; never waits."""
        end: PipeEnd = file.context
        queue = end.incoming
        if queue is None:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "this end of the pipe cannot read")
        data = queue.peek(max(0, int(length or 0)))
        return PipePeekBuffer(end.pipe.state, queue.available, 0, 0, data)

    def _shutdown(self, file: FileObject, how: Any) -> int:
        """FSCTL_PIPE_LX_SHUTDOWN: `how` is (stop receiving, stop sending) at this end."""
        end: PipeEnd = file.context
        if end.pipe.fifo:
            raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, "a FIFO instance has no half-close")
        receive, send = how
        if receive and end.incoming is not None:
            end.incoming.reader_open = False
            end.incoming.update()
        if send and end.outgoing is not None:
            end.outgoing.writer_open = False
            end.outgoing.update()
        return STATUS_SUCCESS

    # --- information --------------------------------------------------------------------------

    def query_information(self, file: FileObject, info_class: int) -> Any:
        end: PipeEnd = file.context
        pipe = end.pipe
        if info_class == FileInternalInformation:
            return pipe.inode                  # the file id: Linux shows it as pipe:[inode]
        if info_class == FilePipeInformation:
            return PipeInformation(FILE_PIPE_BYTE_STREAM_MODE, end.completion_mode)
        if info_class == FilePipeLocalInformation:
            incoming, outgoing = end.incoming, end.outgoing
            return PipeLocalInformation(
                pipe.pipe_type, pipe.configuration, pipe.maximum_instances, 1,
                pipe.inbound.quota if pipe.inbound else 0,
                incoming.available if incoming else 0,
                pipe.outbound.quota if pipe.outbound else 0,
                outgoing.quota - outgoing.available if outgoing else 0,
                pipe.state, FILE_PIPE_SERVER_END if end.server else FILE_PIPE_CLIENT_END)
        if info_class == FileStandardInformation:
            available = end.incoming.available if end.incoming else 0
            return StandardInformation(sum(q.quota for q in pipe.queues()), available, 1, False, False)
        if info_class == FileStatLxInformation:
            # What Linux's fstat shows of a pipe: a FIFO owned by its creator, size 0.
            uid, gid = pipe.owner
            return FileStatLx(
                FileId=pipe.inode, CreationTime=0, LastAccessTime=0, LastWriteTime=0, ChangeTime=0,
                AllocationSize=0, EndOfFile=0, FileAttributes=FILE_ATTRIBUTE_NORMAL,
                NumberOfLinks=1, LxMode=S_IFIFO | 0o600, LxUid=uid, LxGid=gid,
                VolumeSerialNumber=PIPEFS_DEVICE, AccessTimeNs=pipe.accessed_ns,
                WriteTimeNs=pipe.modified_ns, ChangeTimeNs=pipe.modified_ns, BlockSize=PAGE_SIZE)
        return super().query_information(file, info_class)

    def set_information(self, file: FileObject, info_class: int, value: Any) -> None:
        if info_class != FilePipeInformation:
            return super().set_information(file, info_class, value)
        if value.ReadMode != FILE_PIPE_BYTE_STREAM_MODE:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "a byte-stream pipe reads in byte mode")
        if value.CompletionMode not in (FILE_PIPE_QUEUE_OPERATION, FILE_PIPE_COMPLETE_OPERATION):
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"completion mode {value.CompletionMode}")
        file.context.completion_mode = value.CompletionMode
        return None

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        """What poll() asks: data to read, room to write, a closed writer (hangup) or a
        closed reader (broken), and the events to wait on for each."""
        end: PipeEnd = file.context
        incoming, outgoing = end.incoming, end.outgoing
        # A FIFO reader that has seen no writer since it opened (O_NONBLOCK) is not hung
        # up, as on Linux: it waits for a writer to come, then for that one to go.
        hangup_event = incoming.hangup if incoming else None
        if hangup_event is not None and end.pipe.fifo and not end.connected:
            hangup_event = end.partner
        return Readiness(
            readable=bool(incoming and incoming.buffers),
            writable=bool(outgoing and not outgoing.full),
            hangup=bool(incoming and not incoming.writer_open and hangup_event is incoming.hangup),
            broken=bool(outgoing and not outgoing.reader_open),
            wait_read=(incoming.data,) if incoming else (),
            wait_write=(outgoing.space,) if outgoing else (),
            wait_closed=tuple(e for e in (hangup_event, (outgoing.broken if outgoing else None))
                              if e is not None))
