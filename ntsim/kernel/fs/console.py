"""`\\Device\\ConDrv`: the console device, a client of CSRSS.

Before Windows 7 the console belonged to CSRSS, and every console read and write was an
LPC message to it. This driver keeps that shape for every personality: a request on a
console file object becomes an `NtRequestWaitReplyPort` to CSRSS's `\\Windows\\ApiPort`,
over a connection the driver makes for each process on its first console request.

Opened as `\\Device\\ConDrv\\Input`, `\\Output` or `\\Error` (the three standard streams).
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
from ..status import STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS, NtStatusError

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
