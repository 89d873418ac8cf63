"""POSIX.EXE, the console host of a POSIX session: the terminal's owner.

On NT a POSIX program ran in a console window that belonged to POSIX.EXE, a Win32
console program PSXSS started for the session; terminal I/O of every POSIX process of
the session went to it, and it read and wrote the console as any Win32 program does
(through CSRSS, which owned the console). ntsim keeps that path, and traces each step:

    client stub write(1) --LPC--> posix.exe PsxConsoleWrite --NtWriteFile--> \\Device\\ConDrv
        --LPC--> CSRSS ConsoleWrite --> the host terminal

The console host is a server process of its own (`\\PSXSS\\ConsolePort`), started by
PSXSS when the first session begins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...kernel.dispatcher import then
from ...kernel.io import FILE_OPEN, FILE_READ_DATA, FILE_WRITE_DATA, SYNCHRONIZE
from ...kernel.lpc import ApiReply, ApiRow, LpcServer, PortMessage
from ...kernel.processes import Process
from ...kernel.status import NtStatusError
from .errno import EIO, EPIPE, errno_from_status
from .psxss import _posix_result, _record

if TYPE_CHECKING:
    from ...kernel.kernel import Kernel

CONSOLE_SERVER = 2
PORT_NAME = "\\PSXSS\\ConsolePort"
PsxConsoleWrite = CONSOLE_SERVER << 16 | 1
PsxConsoleRead = CONSOLE_SERVER << 16 | 2
PsxConsoleGetAttr = CONSOLE_SERVER << 16 | 3
PsxConsoleSetAttr = CONSOLE_SERVER << 16 | 4
# struct termios as PSXDLL lays it out (an addition to psxdll.h): four 32-bit flag words,
# then NCCS (11) control characters, padded to 4 bytes, then input and output speeds
TERMIOS = (("Iflag", "I"), ("Oflag", "I"), ("Cflag", "I"), ("Lflag", "I"), ("Cc", "11s"),
           ("Pad", "1s"), ("Ispeed", "I"), ("Ospeed", "I"))


def _rows(host: type) -> tuple[ApiRow, ...]:
    def row(number: int, name: str, handler, request=(), reply=()):
        return ApiRow(number, name, lambda server, message: _posix_result(lambda: handler(server, message)),
                      request=_record(f"{name.upper()}_MSG", request) if request else None,
                      reply=_record(f"{name.upper()}_REPLY", (("Errno", "I"), *reply)))

    return (row(PsxConsoleWrite, "PsxConsoleWrite", host.write, (("Stream", "I"), ("Length", "I")),
                (("Written", "I"),)),
            row(PsxConsoleRead, "PsxConsoleRead", host.read, (("Length", "I"),), (("Read", "I"),)),
            row(PsxConsoleGetAttr, "PsxConsoleGetAttr", host.get_attr, reply=TERMIOS),
            row(PsxConsoleSetAttr, "PsxConsoleSetAttr", host.set_attr, (("When", "I"), *TERMIOS)))


class ConsoleHost(LpcServer):
    name = "posix-console"
    image_name = "posix.exe"
    port_name = PORT_NAME
    architecture = "x86-32"

    def __init__(self, kernel: Kernel, psxss: Any) -> None:
        self.api = _rows(ConsoleHost)
        super().__init__(kernel)
        self.psxss = psxss
        self.streams: dict[int, int] = {}       # 0, 1, 2 -> its handles to \Device\ConDrv
        self.settings: dict[str, Any] | None = None   # the termios PSXDLL programs see

    def start(self, parent: Process | None) -> None:
        super().start(parent)
        kernel = self.kernel
        caller = kernel.current_thread
        kernel.current_thread = self.thread      # its main(): open the console's streams
        self.thread.trace_parent = caller.trace_parent if caller is not None else None
        try:
            nt = kernel.services
            for stream, (name, access) in enumerate((("Input", FILE_READ_DATA), ("Output", FILE_WRITE_DATA),
                                                      ("Error", FILE_WRITE_DATA))):
                self.streams[stream] = nt.NtCreateFile(f"\\Device\\ConDrv\\{name}", access | SYNCHRONIZE,
                                                       FILE_OPEN)
        finally:
            kernel.current_thread = caller
            self.thread.trace_parent = None

    def accept(self, client: Process) -> bool:
        """A process of the session: one PSXSS knows."""
        return self.psxss.entry_of(client) is not None

    def write(self, message: PortMessage) -> dict:
        """Terminal output: NtWriteFile on the console (CSRSS takes it to the host)."""
        stream = 2 if message.body["Stream"] == 2 else 1
        data = message.data[:message.body["Length"]]

        def done(written: int) -> dict:
            return {"Written": written}

        try:
            return then(lambda: self.kernel.services.NtWriteFile(self.streams[stream], data), done)
        except NtStatusError as error:
            return {"Errno": errno_from_status(error.status) or EPIPE}

    def read(self, message: PortMessage) -> Any:
        """Terminal input: NtReadFile on the console; at its end, 0 bytes (EOF)."""
        length = message.body["Length"]

        def done(get) -> Any:
            try:
                data = get()
            except NtStatusError as error:
                if error.status.name == "STATUS_END_OF_FILE":
                    data = b""
                else:
                    return {"Errno": errno_from_status(error.status) or EIO}
            return ApiReply({"Read": len(data)}, data)

        from ...kernel.dispatcher import WaitPending

        try:
            return done(lambda: self.kernel.services.NtReadFile(self.streams[0], length))
        except WaitPending as pending:
            pending.wrap(done)
            raise

    def get_attr(self, message: PortMessage) -> dict:
        """tcgetattr: the settings the session's programs set (a basic canonical,
        echoing terminal to begin with)."""
        if self.settings is None:
            # ICRNL; OPOST|ONLCR; CS8|CREAD; ISIG|ICANON|ECHO (Linux's bits, as psxdll.h's)
            self.settings = {"Iflag": 0o400, "Oflag": 0o5, "Cflag": 0o260, "Lflag": 0o13,
                             "Cc": bytes([3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26]), "Pad": b"",
                             "Ispeed": 0o17, "Ospeed": 0o17}
        return dict(self.settings)

    def set_attr(self, message: PortMessage) -> dict:
        """tcsetattr: kept for the session and reported back; the host terminal's own
        mode is CSRSS's business (ntsim does not pass these on: basic termios)."""
        self.get_attr(message)
        self.settings.update({k: message.body[k] for k, _ in TERMIOS})
        return {}
