"""`\\Device\\ConDrv`: the console device, a client of CSRSS.

Before Windows 7 the console belonged to CSRSS, and every console read and write was an
LPC message to it. This driver keeps that shape for every personality: a request on a
console file object becomes an `NtRequestWaitReplyPort` to CSRSS's `\\Windows\\ApiPort`,
over a connection the driver makes for each process on its first console request.

Opened as `\\Device\\ConDrv\\Input`, `\\Output` or `\\Error` (the three standard streams).

Besides the byte stream (read, write), the console has a screen buffer and an input
buffer of key events: `NtDeviceIoControlFile` with an `IOCTL_CONSOLE_*` code reaches
them (the Win32 console functions WriteConsoleOutput, ScrollConsoleScreenBuffer,
ReadConsoleInput..., which kernel32 sent to CSRSS the same way). Screen requests need an
output handle, key requests an input handle, as Win32's CONOUT$ and CONIN$ do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dispatcher import then
from ..io import (
    FILE_DEVICE_CONSOLE,
    CreateRequest,
    Device,
    FileObject,
    Readiness,
    StandardInformation,
)
from ..lpc import Port, PortMessage
from ..status import (
    STATUS_INVALID_HANDLE,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_SUCCESS,
    NtStatusError,
)

if TYPE_CHECKING:
    from ..kernel import Kernel

# \Terminal is ntsim's own: the console as a Unix terminal device is one file that reads
# the input and writes the output (a Linux guest's /dev/tty).
TERMINAL = 3
STREAMS = {"\\input": 0, "\\output": 1, "\\error": 2, "\\terminal": TERMINAL}

# API numbers of CSRSS's console server (ConSrv is server DLL 2: 2 << 16 | index).
CONSOLE_SERVER = 2 << 16
ConsoleApiRead = CONSOLE_SERVER | 0
ConsoleApiWrite = CONSOLE_SERVER | 1
ConsoleApiGetMode = CONSOLE_SERVER | 2
ConsoleApiGetNumberOfInputEvents = CONSOLE_SERVER | 3
# ntsim's own, beside \Terminal: the host is a Unix terminal, and a Unix guest's terminal
# settings (termios) pass through CSRSS to it whole, where Win32 has console modes
ConsoleApiGetTerminalSettings = CONSOLE_SERVER | 4
ConsoleApiSetTerminalSettings = CONSOLE_SERVER | 5
# The screen buffer (GetConsoleScreenBufferInfo, SetConsoleScreenBufferSize,
# SetConsoleCursorPosition, SetConsoleCursorInfo, WriteConsole in processed mode,
# WriteConsoleOutput*, FillConsoleOutput*, ReadConsoleOutput*, ScrollConsoleScreenBuffer;
# and ntsim's own: video memory as a VDM sees it at B800:0000)
ConsoleApiGetScreenBufferInfo = CONSOLE_SERVER | 6
ConsoleApiSetScreenMode = CONSOLE_SERVER | 7
ConsoleApiSetCursorPosition = CONSOLE_SERVER | 8
ConsoleApiSetCursorInfo = CONSOLE_SERVER | 9
ConsoleApiWriteTeletype = CONSOLE_SERVER | 10
ConsoleApiWriteOutput = CONSOLE_SERVER | 11
ConsoleApiFillOutput = CONSOLE_SERVER | 12
ConsoleApiReadOutput = CONSOLE_SERVER | 13
ConsoleApiScroll = CONSOLE_SERVER | 14
ConsoleApiWriteVideoMemory = CONSOLE_SERVER | 15
ConsoleApiReadVideoMemory = CONSOLE_SERVER | 16
# The input buffer's key events (ReadConsoleInput, PeekConsoleInput, FlushConsoleInputBuffer)
ConsoleApiReadInput = CONSOLE_SERVER | 17
ConsoleApiFlushInput = CONSOLE_SERVER | 18


def _console_ioctl(function: int) -> int:
    """CTL_CODE(FILE_DEVICE_CONSOLE, function, METHOD_NEITHER, FILE_ANY_ACCESS)."""
    return FILE_DEVICE_CONSOLE << 16 | function << 2 | 3


# NtDeviceIoControlFile codes on a console handle: each is one ConSrv API, sent with the
# InputBuffer's fields (a dict; "Data" travels as the message's data) as its arguments.
IOCTL_CONSOLE_GET_SCREEN_BUFFER_INFO = _console_ioctl(0x800)
IOCTL_CONSOLE_SET_SCREEN_MODE = _console_ioctl(0x801)
IOCTL_CONSOLE_SET_CURSOR_POSITION = _console_ioctl(0x802)
IOCTL_CONSOLE_SET_CURSOR_INFO = _console_ioctl(0x803)
IOCTL_CONSOLE_WRITE_TELETYPE = _console_ioctl(0x804)
IOCTL_CONSOLE_WRITE_OUTPUT = _console_ioctl(0x805)
IOCTL_CONSOLE_FILL_OUTPUT = _console_ioctl(0x806)
IOCTL_CONSOLE_READ_OUTPUT = _console_ioctl(0x807)
IOCTL_CONSOLE_SCROLL = _console_ioctl(0x808)
IOCTL_CONSOLE_WRITE_VIDEO_MEMORY = _console_ioctl(0x809)
IOCTL_CONSOLE_READ_VIDEO_MEMORY = _console_ioctl(0x80A)
IOCTL_CONSOLE_READ_INPUT = _console_ioctl(0x80B)
IOCTL_CONSOLE_FLUSH_INPUT = _console_ioctl(0x80C)

OUTPUT_STREAMS, INPUT_STREAMS = (1, 2), (0,)
# code -> (its name, the API it sends, the streams whose handles may ask)
CONSOLE_IOCTLS = {
    IOCTL_CONSOLE_GET_SCREEN_BUFFER_INFO: ("IOCTL_CONSOLE_GET_SCREEN_BUFFER_INFO",
                                           ConsoleApiGetScreenBufferInfo, OUTPUT_STREAMS),
    IOCTL_CONSOLE_SET_SCREEN_MODE: ("IOCTL_CONSOLE_SET_SCREEN_MODE", ConsoleApiSetScreenMode,
                                    OUTPUT_STREAMS),
    IOCTL_CONSOLE_SET_CURSOR_POSITION: ("IOCTL_CONSOLE_SET_CURSOR_POSITION",
                                        ConsoleApiSetCursorPosition, OUTPUT_STREAMS),
    IOCTL_CONSOLE_SET_CURSOR_INFO: ("IOCTL_CONSOLE_SET_CURSOR_INFO", ConsoleApiSetCursorInfo,
                                    OUTPUT_STREAMS),
    IOCTL_CONSOLE_WRITE_TELETYPE: ("IOCTL_CONSOLE_WRITE_TELETYPE", ConsoleApiWriteTeletype,
                                   OUTPUT_STREAMS),
    IOCTL_CONSOLE_WRITE_OUTPUT: ("IOCTL_CONSOLE_WRITE_OUTPUT", ConsoleApiWriteOutput, OUTPUT_STREAMS),
    IOCTL_CONSOLE_FILL_OUTPUT: ("IOCTL_CONSOLE_FILL_OUTPUT", ConsoleApiFillOutput, OUTPUT_STREAMS),
    IOCTL_CONSOLE_READ_OUTPUT: ("IOCTL_CONSOLE_READ_OUTPUT", ConsoleApiReadOutput, OUTPUT_STREAMS),
    IOCTL_CONSOLE_SCROLL: ("IOCTL_CONSOLE_SCROLL", ConsoleApiScroll, OUTPUT_STREAMS),
    IOCTL_CONSOLE_WRITE_VIDEO_MEMORY: ("IOCTL_CONSOLE_WRITE_VIDEO_MEMORY", ConsoleApiWriteVideoMemory,
                                       OUTPUT_STREAMS),
    IOCTL_CONSOLE_READ_VIDEO_MEMORY: ("IOCTL_CONSOLE_READ_VIDEO_MEMORY", ConsoleApiReadVideoMemory,
                                      OUTPUT_STREAMS),
    IOCTL_CONSOLE_READ_INPUT: ("IOCTL_CONSOLE_READ_INPUT", ConsoleApiReadInput, INPUT_STREAMS),
    IOCTL_CONSOLE_FLUSH_INPUT: ("IOCTL_CONSOLE_FLUSH_INPUT", ConsoleApiFlushInput, INPUT_STREAMS),
}
CONSOLE_IOCTL_NAMES = {code: row[0] for code, row in CONSOLE_IOCTLS.items()}


class ConsoleDevice(Device):
    device_type = FILE_DEVICE_CONSOLE

    def __init__(self, kernel: Kernel, api_port: str = "\\Windows\\ApiPort") -> None:
        super().__init__()
        self.kernel = kernel
        self.api_port = api_port
        self.connections: dict[int, Port] = {}

    def create(self, file: FileObject, request: CreateRequest) -> None:
        stream = STREAMS.get(file.file_name.casefold())
        if stream is None:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, f"no console stream {file.file_name}")
        file.context = stream

    def _port(self) -> Port:
        process = self.kernel.current_thread.process
        port = self.connections.get(process.pid)
        if port is None or not port.connected:
            port = self.connections[process.pid] = self.kernel.lpc.connect(process, self.api_port)
        return port

    def _call(self, api: int, body: dict[str, Any], data: bytes = b"") -> Any:
        """Send one console request to CSRSS; the reply's value, or its error raised."""
        message = PortMessage(0, api, body, data)

        def unpack(reply) -> Any:
            if reply.Status != STATUS_SUCCESS:
                raise NtStatusError(reply.Status, "console")
            return reply.body["value"]

        return then(lambda: self.kernel.lpc.request_wait_reply(self._port(), message), unpack)

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        return self._call(ConsoleApiRead, {"Stream": 0 if file.context == TERMINAL else file.context,
                                           "Length": length})

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        return self._call(ConsoleApiWrite, {"Stream": 1 if file.context == TERMINAL else file.context,
                                            "Length": len(data)}, data)

    def query_information(self, file: FileObject, info_class: int):
        return StandardInformation(0, 0, 1, False, False)

    def get_mode(self, file: FileObject) -> dict[str, Any]:
        """GetConsoleMode + screen size: whether the stream is a real terminal."""
        return self._call(ConsoleApiGetMode, {"Stream": 0 if file.context == TERMINAL else file.context})

    def get_terminal_settings(self, file: FileObject) -> list[Any]:
        """The terminal's settings (termios: flags, speeds, control characters)."""
        return self._call(ConsoleApiGetTerminalSettings, {"Stream": self._stream(file)})

    def set_terminal_settings(self, file: FileObject, settings: list[Any], when: int) -> None:
        """Change them now, after output drains, or also dropping pending input
        (`when`: termios's TCSANOW, TCSADRAIN, TCSAFLUSH)."""
        self._call(ConsoleApiSetTerminalSettings, {"Stream": self._stream(file), "When": when,
                                                   "Settings": settings})

    def device_control(self, file: FileObject, code: int, data: Any) -> Any:
        """A screen or keyboard request (IOCTL_CONSOLE_*): one LPC call to CSRSS. The
        \\Terminal stream is both an input and an output handle."""
        row = CONSOLE_IOCTLS.get(code)
        if row is None:
            return super().device_control(file, code, data)
        name, api, streams = row
        stream = self._stream(file)
        if file.context != TERMINAL and stream not in streams:
            kind = "an output" if streams == OUTPUT_STREAMS else "an input"
            raise NtStatusError(STATUS_INVALID_HANDLE, f"{name} needs {kind} handle of the console")
        body = dict(data or {})
        payload = body.pop("Data", b"")
        body["Stream"] = streams[0] if file.context == TERMINAL else stream
        return self._call(api, body, bytes(payload))

    @staticmethod
    def _stream(file: FileObject) -> int:
        return 0 if file.context == TERMINAL else file.context

    def readiness(self, file: FileObject, read: bool = True, write: bool = True) -> Readiness:
        """Output never waits; input is ready when CSRSS says a read would not wait
        (GetNumberOfConsoleInputEvents). Every stream is the one terminal, so any of
        them polls readable when input waits, as a tty's fds do on Linux. To wait,
        the caller gets CSRSS's input event (kernel32's GetConsoleInputWaitHandle)."""
        if not read:
            return Readiness(readable=False)
        reply = self._call(ConsoleApiGetNumberOfInputEvents,
                           {"Stream": 0 if file.context == TERMINAL else file.context})
        return Readiness(readable=reply["Events"] > 0, wait_read=(reply["InputWaitHandle"],))

    def process_exited(self, pid: int) -> None:
        port = self.connections.pop(pid, None)
        if port is not None:
            port.connected = False
