"""CSRSS, the Client/Server Runtime Subsystem: the Win32 server, and owner of the console.

SMSS starts CSRSS at boot. It creates `\\Windows\\ApiPort` and answers LPC requests. Here
it serves the console API (ConSrv, server DLL 2): every console read and write from any
personality arrives as a message, and CSRSS performs it on the host's terminal — the
real hardware, as far as the simulated machine is concerned.

A read that finds no input yet is not answered at once: CSRSS keeps the message (as
its wait blocks did) and asks the dispatcher to tell it when the host has input. The
client thread stays parked meanwhile; no host thread ever blocks on the guest.

Beside the byte stream, the console has a screen buffer (screen.py: cells with
attributes, a cursor, scrolling) and an input buffer of key events (keyboard.py): what
OS/2's VIO and KBD calls and a DOS machine's INT 10h and INT 16h reach, through the
IOCTL_CONSOLE_* requests of the console device (console_client.py wraps them).

Stream output (WriteFile on the console) depends on the client. A personality whose
programs see the console as a screen (`Personality.console_is_a_screen`: OS/2, the VDM)
gets NT's processed output: the bytes are teletype output on the screen buffer, so the
cursor VioGetCurPos reads has moved past them and a screen painted later does not draw
over them; the host sees each byte once — painted with the screen when stdout is a
terminal, otherwise passed on as the bytes written (and the buffer follows them). Any
other client's stream (a Linux program's terminal, ANSI escapes and all) goes to the host
untouched and leaves the screen alone. The screen reaches the host this way:

- when stdout is a terminal, the screen takes the terminal's visible area at its first
  change and every change is drawn in place (cursor-addressed ANSI, colours from the
  attributes); when the last process that used it exits, the terminal's cursor goes to
  the line after what was drawn;
- otherwise (a pipe, a file, a captured console) teletype output is passed on as a text
  stream (code page 437 to UTF-8), and if a program painted characters by position
  (cell writes, fills, video memory), the final screen follows it as text when the last
  process that used it exits: the rows from the first to the last non-blank one.

Key events are decoded from the host's input bytes; one input buffer serves both kinds
of reader (a byte-stream read after key reads gets the bytes those keys came from).
"""

from __future__ import annotations

import errno
import os
import select
import signal
import termios
import threading
import time
from collections import deque
from functools import partial
from typing import Any

from ...kernel.fs.console import (
    ConsoleApiFillOutput,
    ConsoleApiFlushInput,
    ConsoleApiGetMode,
    ConsoleApiGetNumberOfInputEvents,
    ConsoleApiGetScreenBufferInfo,
    ConsoleApiGetTerminalSettings,
    ConsoleApiRead,
    ConsoleApiReadInput,
    ConsoleApiReadOutput,
    ConsoleApiReadVideoMemory,
    ConsoleApiScroll,
    ConsoleApiSetCursorInfo,
    ConsoleApiSetCursorPosition,
    ConsoleApiSetScreenMode,
    ConsoleApiSetTerminalSettings,
    ConsoleApiWrite,
    ConsoleApiWriteOutput,
    ConsoleApiWriteTeletype,
    ConsoleApiWriteVideoMemory,
)
from ...kernel.fs.volume import host_error
from ...kernel.lpc import DEFERRED, ApiRow, LpcServer, PortMessage
from ...kernel.processes import Event, NotificationEvent
from ...kernel.status import (
    STATUS_END_OF_FILE,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER,
    STATUS_PIPE_BROKEN,
    NtStatusError,
)
from ...trace import KERNEL, SERVER
from .keyboard import KeyboardBuffer, KeyEvent
from .screen import (
    CELLS,
    DEFAULT_ATTRIBUTE,
    DEFAULT_COLUMNS,
    DEFAULT_ROWS,
    ScreenBuffer,
    ScreenBufferInfo,
    ScreenError,
    TerminalPainter,
    screen_text,
    teletype_text,
)

# Console control events (wincon.h), what the host's Ctrl+C and Ctrl+Break become
CTRL_C_EVENT, CTRL_BREAK_EVENT = 0, 1
# ntsim's own: a Unix terminal's suspend key (Ctrl+Z), which a Win32 console reads as input
CTRL_SUSPEND_EVENT = 0x100
# How many host bytes a key read takes at once (the rest stays queued as key events)
KEY_READ_CHUNK = 4096
CONSOLE_EVENTS = {CTRL_C_EVENT: "CTRL_C_EVENT", CTRL_BREAK_EVENT: "CTRL_BREAK_EVENT",
                  CTRL_SUSPEND_EVENT: "CTRL_SUSPEND_EVENT"}


class HostConsole:
    """The host side of the console: three file descriptors (or Python streams)."""

    def __init__(self, stdin: int = 0, stdout: int = 1, stderr: int = 2) -> None:
        self.fds = (stdin, stdout, stderr)
        self._saved_settings: tuple[int, list[Any]] | None = None
        # The screen buffer and key events CSRSS keeps for this console (set when it starts)
        self.screen: ScreenBuffer | None = None
        self.keyboard: KeyboardBuffer | None = None
        self._painter: TerminalPainter | None = None      # while the screen is on the terminal
        self._transcript_at_line_start = True

    def isatty(self, stream: int) -> bool:
        try:
            return os.isatty(self.fds[stream])
        except OSError:
            return False

    def size(self) -> tuple[int, int]:
        """The terminal's columns and rows (80x24 when the output is not a terminal)."""
        for fd in (self.fds[1], self.fds[0]):
            try:
                size = os.get_terminal_size(fd)
                return size.columns, size.lines
            except OSError:
                continue
        return 80, 24

    def terminal_settings(self, stream: int) -> list[Any]:
        """The host terminal's termios (OSError ENOTTY when the stream is not one)."""
        try:
            return termios.tcgetattr(self.fds[stream])
        except termios.error as error:
            raise OSError(error.args[0], error.args[1]) from None

    def set_terminal_settings(self, stream: int, when: int, settings: list[Any]) -> None:
        """Change them; the first change remembers what they were, for `restore`."""
        fd = self.fds[stream]
        try:
            if self._saved_settings is None:
                self._saved_settings = (fd, termios.tcgetattr(fd))
            termios.tcsetattr(fd, when, settings)
        except termios.error as error:
            raise OSError(error.args[0], error.args[1]) from None

    def current_settings(self) -> tuple[int, int, list[Any]] | None:
        """(stream, when, settings) to put back what the guest set, if it set anything."""
        if self._saved_settings is None:
            return None
        fd = self._saved_settings[0]
        try:
            return self.fds.index(fd), termios.TCSADRAIN, termios.tcgetattr(fd)
        except termios.error:
            return None

    def restore(self) -> None:
        """Leave the host terminal as ntsim found it (a guest may have made it raw, or
        drawn its screen on it)."""
        if self.screen is not None:
            try:
                self.end_screen(self.screen)
            except OSError:
                pass               # the output went away meanwhile
        if self._saved_settings is not None:
            fd, settings = self._saved_settings
            self._saved_settings = None
            try:
                termios.tcsetattr(fd, termios.TCSADRAIN, settings)
            except termios.error:
                pass               # the terminal went away meanwhile

    def input_ready(self) -> bool:
        try:
            readable, _, _ = select.select([self.fds[0]], [], [], 0)
        except (OSError, ValueError):
            return True      # closed or not selectable: a read will say so at once
        return bool(readable)

    def read(self, length: int) -> bytes:
        return os.read(self.fds[0], length)     # OSError: CSRSS answers with its NTSTATUS

    def write(self, stream: int, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self.fds[stream], view)
            view = view[written:]
        return len(data)

    def enter_key_mode(self) -> None:
        """Key readers get every key as it is pressed, unechoed (a BIOS keyboard has no
        line editing): a terminal's canonical mode and echo go off; Ctrl+C still
        signals. `restore` puts the terminal back."""
        if not self.isatty(0):
            return
        settings = self.terminal_settings(0)
        iflag, lflag, cc = settings[0], settings[3], list(settings[6])
        if not lflag & (termios.ICANON | termios.ECHO) and not iflag & termios.ICRNL:
            return                 # already so (a guest, or an earlier key read, did it)
        cc[termios.VMIN], cc[termios.VTIME] = 1, 0
        settings = [iflag & ~termios.ICRNL, settings[1], settings[2],
                    lflag & ~(termios.ICANON | termios.ECHO), settings[4], settings[5], cc]
        self.set_terminal_settings(0, termios.TCSANOW, settings)

    # --- the screen buffer on the host ------------------------------------------------------

    def streamed(self, stream: int, data: bytes) -> None:
        """Stream bytes went out as written: a screen written as text after them (see
        end_screen) starts on a line of its own."""
        if stream == 1 and data:
            self._transcript_at_line_start = data.endswith(b"\n")

    def show_teletype(self, data: bytes) -> int:
        """Teletype output, where stdout is not a terminal: passed on as a text stream
        (on a terminal, `show_screen` draws it). Returns the bytes written."""
        if not data or self.isatty(1):
            return 0
        text = teletype_text(data).encode()
        self.write(1, text)
        self._transcript_at_line_start = text.endswith(b"\n")
        return len(text)

    def show_screen(self, screen: ScreenBuffer) -> int:
        """Draw the screen's changes, where stdout is a terminal: the first change
        takes the terminal's visible area (see TerminalPainter). Returns the bytes
        written."""
        if not self.isatty(1):
            return 0
        if self._painter is None:
            self._painter = TerminalPainter(*self.size())
            text = self._painter.begin(screen)
        else:
            text = self._painter.update(screen)
        data = text.encode()
        self.write(1, data)
        return len(data)

    def end_screen(self, screen: ScreenBuffer) -> int:
        """No process uses the screen any more: on a terminal, the cursor goes to the
        line after what was drawn; elsewhere, a screen painted by position is written
        as text. Returns the bytes written."""
        if self._painter is not None:
            text = self._painter.end(screen)
            self._painter = None
        elif screen.painted and not self.isatty(1):
            screen.painted = False
            text = screen_text(screen)
            if text and not self._transcript_at_line_start:
                text = "\n" + text
            self._transcript_at_line_start = True
        else:
            return 0
        data = text.encode()
        self.write(1, data)
        return len(data)


class CapturedConsole(HostConsole):
    """A console whose output is kept in memory and whose input is given up front
    (the Python API and tests use it)."""

    def __init__(self, stdin: bytes = b"") -> None:
        super().__init__(-1, -1, -1)
        self.input = bytearray(stdin)
        self.output = [bytearray(), bytearray(), bytearray()]

    def isatty(self, stream: int) -> bool:
        return False

    def terminal_settings(self, stream: int) -> list[Any]:
        raise OSError(errno.ENOTTY, "a captured console is not a terminal")

    set_terminal_settings = terminal_settings

    def input_ready(self) -> bool:
        return True

    def read(self, length: int) -> bytes:
        data = bytes(self.input[:length])
        del self.input[:length]
        return data

    def write(self, stream: int, data: bytes) -> int:
        self.output[stream] += data
        return len(data)

    @property
    def stdout(self) -> bytes:
        return bytes(self.output[1])

    @property
    def stderr(self) -> bytes:
        return bytes(self.output[2])


def console_personalities(kernel: Any) -> list[Any]:
    """Each personality with a live guest process: who hears the console's control
    events. (A server process's `personality` is its server, which hears none.)"""
    found = {id(p.personality): p.personality for p in list(kernel.processes.values())
             if p.alive and not p.is_server and p.personality is not None}
    return [p for p in found.values() if hasattr(p, "on_console_control")]


class CtrlKeys:
    """The host terminal's Ctrl+C and Ctrl+\\ — which reach ntsim as SIGINT and SIGQUIT —
    become the console's CTRL_C_EVENT and CTRL_BREAK_EVENT, and CSRSS hands them to the
    guests (a Linux program gets SIGINT or SIGQUIT, and may catch it).

    While a guest computes, the host thread is inside unicorn and no Python signal
    handler can run, so the signals are blocked and a watcher thread takes them with
    sigwait and posts the event to the dispatcher, which runs it at the next safe point:
    a system call, the end of a quantum, or at once if every guest waits. A guest that
    computes without system calls is stopped from outside only when the event will end
    it (see Dispatcher.stop_processor). Ctrl+C three times within two seconds, or when no
    guest takes it, stops ntsim itself.

        with CtrlKeys(machine) as keys:
            machine.run()
        if keys.interrupted: ...
    """

    SIGNALS = {signal.SIGINT: CTRL_C_EVENT, signal.SIGQUIT: CTRL_BREAK_EVENT,
               signal.SIGTSTP: CTRL_SUSPEND_EVENT}
    PRESSES_TO_STOP, WITHIN_S = 3, 2.0
    SAFE_POINT_WAIT_S = 0.2     # how long a computing guest may take to reach a safe point

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.interrupted = False          # ntsim itself was stopped by the keys
        self._watcher: threading.Thread | None = None
        self._closing = False
        self._mask: set[int] | None = None
        self._keys: dict[int, int] = {}   # the host signals watched, and their events

    def __enter__(self) -> CtrlKeys:
        # A key ntsim was started with orders to ignore (a non-interactive shell's `&`)
        # stays ignored, as it would for the program natively.
        self._keys = {number: event for number, event in self.SIGNALS.items()
                      if signal.getsignal(number) != signal.SIG_IGN}
        if self._keys and threading.current_thread() is threading.main_thread():
            self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(self._keys))
            # At a terminal a guest waiting for a signal waits for the person's Ctrl+C,
            # as it would natively; elsewhere nothing could wake it: a deadlock.
            self.machine.kernel.dispatcher.open_host_events(
                wait_for_them=self.machine.console.isatty(0))
            self._watcher = threading.Thread(target=self._watch, name="ctrl-keys", daemon=True)
            self._watcher.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._watcher is None:
            return
        self._closing = True
        signal.pthread_kill(self._watcher.ident, next(iter(self._keys)))   # out of its sigwait
        self._watcher.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        self.machine.kernel.dispatcher.close_host_events()

    def _watch(self) -> None:
        dispatcher = self.machine.kernel.dispatcher
        wanted = set(self._keys)
        presses: deque[float] = deque()
        waiting: list[tuple[threading.Event, int, float, bool]] = []   # posted, not yet run
        while True:
            # While an event waits for its safe point, look every 20 ms whether the
            # processor must be stopped for it after all; otherwise just wait for a key.
            info = signal.sigtimedwait(wanted, 0.02) if waiting else signal.sigwaitinfo(wanted)
            if self._closing:
                return
            now = time.monotonic()
            if info is not None and self._keys[info.si_signo] == CTRL_SUSPEND_EVENT \
                    and self._machine_suspends():
                self._suspend_ntsim()        # this thread can: the machine needs no step
                info = None
            if info is not None:
                event = self._keys[info.si_signo]
                if event != CTRL_SUSPEND_EVENT:
                    presses.append(now)
                    while now - presses[0] > self.WITHIN_S:
                        presses.popleft()
                stop = event != CTRL_SUSPEND_EVENT and len(presses) >= self.PRESSES_TO_STOP
                delivered = threading.Event()
                waiting.append((delivered, event, now, stop))
                dispatcher.post_host_event(partial(self._deliver, event, stop, delivered))
            waiting = [w for w in waiting if not w[0].is_set()]
            if any(stop or (now - posted > self.SAFE_POINT_WAIT_S and self._running_guest_ends(event))
                   for _, event, posted, stop in waiting):
                dispatcher.stop_processor()

    def _machine_suspends(self) -> bool:
        try:
            return any(p.suspends_machine_on_console_control(CTRL_SUSPEND_EVENT)
                       for p in console_personalities(self.machine.kernel))
        except RuntimeError:      # the dispatcher's thread changed the process table meanwhile
            return False

    def _running_guest_ends(self, event: int) -> bool:
        thread = self.machine.kernel.dispatcher.current
        process = thread.process if thread is not None else None
        try:
            return (process is not None and not process.is_server
                    and process.personality in console_personalities(self.machine.kernel)
                    and process.personality.ends_on_console_control(process, event))
        except RuntimeError:      # the dispatcher's thread changed the process table meanwhile
            return False

    def _deliver(self, event: int, stop: bool, delivered: threading.Event) -> None:
        try:
            csrss = self.machine.kernel.smss.server("Windows")
            taken = not stop and csrss is not None and csrss.console_control(event)
            if taken:
                return
            if event == CTRL_SUSPEND_EVENT:
                self._suspend_ntsim()
            else:
                self.interrupted = True
                self.machine.kernel.dispatcher.stop_requested = True
        finally:
            delivered.set()

    def _suspend_ntsim(self) -> None:
        """No guest can resume a stopped one (no guest shell runs it as a job): the
        whole machine stops instead, as a native program would, until the host shell's
        `fg` continues it. The host terminal gets its own settings back meanwhile."""
        console = self.machine.console
        guest_settings = console.current_settings()
        console.restore()
        # SIGTSTP's default action, on this thread alone (the others keep it blocked):
        # the whole process stops here until SIGCONT — unless its process group is
        # orphaned, where Linux discards it, as for the program itself.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTSTP})
        signal.pthread_kill(threading.get_ident(), signal.SIGTSTP)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTSTP})
        if guest_settings is not None:
            console.set_terminal_settings(*guest_settings)


class Csrss(LpcServer):
    name = "csrss"
    image_name = "csrss.exe"
    port_name = "\\Windows\\ApiPort"

    def __init__(self, kernel, console: HostConsole) -> None:
        super().__init__(kernel)
        self.console = console
        self.waiting_reads: deque[PortMessage] = deque()
        # Signalled while host input waits: what a console input handle's waiters (a
        # poll) wait on. CSRSS hands it out as kernel32's GetConsoleInputWaitHandle.
        self.input_event = Event("", NotificationEvent)
        # The console's screen buffer (the terminal's size when stdout is one) and its
        # input buffer of key events; the host console shows them.
        columns, rows = console.size() if console.isatty(1) else (0, 0)
        if not (columns and rows):        # not a terminal, or one that does not know its size
            columns, rows = DEFAULT_COLUMNS, DEFAULT_ROWS
        self.screen = ScreenBuffer(min(columns, 255), min(rows, 255))
        self.keyboard = KeyboardBuffer()
        console.screen, console.keyboard = self.screen, self.keyboard
        self.screen_clients: set[int] = set()    # pids that used the screen: it ends with the last

    # --- ConSrv -----------------------------------------------------------------------------

    def read_console(self, message: PortMessage) -> Any:
        if self.waiting_reads or not self._input_available():
            self.waiting_reads.append(message)
            self._watch_input()
            return DEFERRED
        return self._host_read(message.body["Length"])

    def _input_available(self) -> bool:
        return self.keyboard.holds_input or self.console.input_ready()

    def _host_read(self, length: int) -> bytes:
        # Keys already decoded for a key reader go first, as the bytes they came from.
        data = self.keyboard.take_bytes(length) if self.keyboard.holds_input else self._host_bytes(length)
        self._input_taken(data)
        return data

    def _host_bytes(self, length: int) -> bytes:
        try:
            data = self.console.read(length)
        except OSError as error:     # stdin closed (<&-)
            raise host_error(error, "console input") from None
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, KERNEL, "HostConsoleRead",
                                    {"fd": self.console.fds[0], "Length": length}, len(data))
        return data

    def _input_taken(self, data: bytes) -> None:
        if data and not self._input_available():
            # Drained: the input event is cleared, so that the next input signals it anew
            # (what an edge-triggered epoll watching it waits for); the host is watched
            # while anything watches the event.
            self.input_event.signalled = False
            if self.input_event.wait_blocks:
                self._watch_input()

    def _watch_input(self) -> None:
        """Ask the dispatcher to say when the host has input (it polls between quanta)."""
        self.kernel.dispatcher.watch_host_input(self.console.fds[0], self._input_arrived)

    def _input_arrived(self) -> None:
        """The dispatcher saw host input: set the input event (waking pollers), and
        answer the oldest waiting read."""
        self.input_event.signalled = True
        self.kernel.dispatcher.signal(self.input_event)
        if self.waiting_reads:
            caller = self.kernel.current_thread
            self.kernel.current_thread = self.thread
            try:
                self._answer_waiting_reads()
            finally:
                self.kernel.current_thread = caller
        if not self.waiting_reads and (self.input_event.signalled or not self.input_event.wait_blocks):
            self.kernel.dispatcher.unwatch_host_input(self.console.fds[0])

    def _answer_waiting_reads(self) -> None:
        """Host input arrived: answer the waiting reads, oldest first, while there is
        input for them (a key read waits on if the bytes made no key)."""
        first = True
        while self.waiting_reads and (first or self._input_available() or self.keyboard.ended):
            first = False
            message = self.waiting_reads[0]
            try:
                if message.ApiNumber == ConsoleApiReadInput:
                    value = self._next_key(message.body["Remove"])
                    if value is None:
                        return
                else:
                    value = self._host_read(message.body["Length"])
            except NtStatusError as error:
                self.waiting_reads.popleft()
                self.kernel.lpc.reply(self, message, None, error.status)
                continue
            self.waiting_reads.popleft()
            self.kernel.lpc.reply(self, message, value)

    def write_console(self, message: PortMessage) -> int:
        stream = message.body["Stream"]
        if stream not in (1, 2):
            raise NtStatusError(STATUS_INVALID_HANDLE, "not an output stream")
        if self._stream_on_screen(message, stream):
            data = message.data
            if self.console.isatty(1):        # painted with the screen: the bytes once, there
                self._on_screen(message, lambda screen: screen.write_teletype(data))
                return len(data)
            self._on_screen(message, lambda screen: screen.write_teletype(data), show=False)
        return self._write_stream(message, stream)

    def _stream_on_screen(self, message: PortMessage, stream: int) -> bool:
        """Is this stream write processed output on the screen buffer? For a client
        whose personality sees the console as a screen; stderr too when it goes where
        stdout goes (both a terminal, or neither): redirected apart, it is a file."""
        process = self.kernel.processes.get(message.ClientId[0])
        if not getattr(getattr(process, "personality", None), "console_is_a_screen", False):
            return False
        return stream == 1 or self.console.isatty(2) == self.console.isatty(1)

    def _write_stream(self, message: PortMessage, stream: int) -> int:
        try:
            written = self.console.write(stream, message.data)
            self.console.streamed(stream, message.data)
        except BrokenPipeError:
            raise NtStatusError(STATUS_PIPE_BROKEN, "the host closed the console output") from None
        except OSError as error:     # stdout closed (>&-) or a full device (/dev/full)
            raise host_error(error, "console output") from None
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, KERNEL, "HostConsoleWrite",
                                    {"fd": self.console.fds[stream], "Length": len(message.data)},
                                    written)
        return written

    # --- the screen buffer ------------------------------------------------------------------

    def get_screen_buffer_info(self, message: PortMessage) -> ScreenBufferInfo:
        """GetConsoleScreenBufferInfo (VioGetMode, VioGetCurPos, INT 10h AH=03h/0Fh)."""
        return self.screen.info()

    def set_screen_mode(self, message: PortMessage) -> None:
        """SetConsoleScreenBufferSize and a clear (VioSetMode, INT 10h AH=00h)."""
        body = message.body
        self._on_screen(message, lambda screen: screen.resize(
            body["Columns"], body["Rows"], body.get("Attribute", DEFAULT_ATTRIBUTE)))

    def set_cursor_position(self, message: PortMessage) -> None:
        """SetConsoleCursorPosition (VioSetCurPos, INT 10h AH=02h)."""
        body = message.body
        self._on_screen(message, lambda screen: screen.set_cursor(body["Row"], body["Column"]))

    def set_cursor_info(self, message: PortMessage) -> None:
        """SetConsoleCursorInfo (VioSetCurType, INT 10h AH=01h)."""
        body = message.body
        self._on_screen(message, lambda screen: screen.set_cursor_shape(
            body["Start"], body["End"], body.get("Visible", True)))

    def write_teletype(self, message: PortMessage) -> int:
        """WriteConsole in processed mode (VioWrtTTY, INT 10h AH=0Eh, DOS's CON): the
        data at the cursor, which advances, wraps and scrolls. Attribute None keeps
        each cell's own."""
        data = message.data
        self._on_screen(message, lambda screen: screen.write_teletype(data, message.body.get("Attribute")),
                        teletype=data)
        return len(data)

    def write_output(self, message: PortMessage) -> int:
        """WriteConsoleOutput / WriteConsoleOutputCharacter / WriteConsoleOutputAttribute
        (VioWrtCellStr, VioWrtCharStr, VioWrtCharStrAtt with its attribute filled in):
        cells, characters or attributes at a position; returns the cells written."""
        body = message.body
        return self._on_screen(message, lambda screen: screen.write(
            body["Row"], body["Column"], message.data, body.get("What", CELLS)))

    def fill_output(self, message: PortMessage) -> int:
        """FillConsoleOutputCharacter/Attribute (VioWrtNCell/NChar/NAttr, INT 10h
        AH=09h/0Ah): one character and/or attribute, Count times; returns the cells."""
        body = message.body
        return self._on_screen(message, lambda screen: screen.fill(
            body["Row"], body["Column"], body["Count"], body.get("Character"), body.get("Attribute")))

    def read_output(self, message: PortMessage) -> bytes:
        """ReadConsoleOutput* (VioReadCellStr / VioReadCharStr, INT 10h AH=08h)."""
        body = message.body
        return self._on_screen(message, lambda screen: screen.read(
            body["Row"], body["Column"], body["Count"], body.get("What", CELLS)), show=False)

    def scroll(self, message: PortMessage) -> None:
        """ScrollConsoleScreenBuffer (VioScrollUp/Dn/Lf/Rt, INT 10h AH=06h/07h)."""
        body = message.body
        self._on_screen(message, lambda screen: screen.scroll(
            body["Top"], body["Left"], body["Bottom"], body["Right"], body["Lines"],
            body.get("Direction", "up"), body.get("Character", 0x20),
            body.get("Attribute", DEFAULT_ATTRIBUTE)))

    def write_video_memory(self, message: PortMessage) -> int:
        """ntsim's own: bytes a VDM's program stored at B800:Offset, reflected into the
        screen buffer (WriteConsoleOutput of the changed region, in NTVDM)."""
        self._on_screen(message, lambda screen: screen.store(message.body["Offset"], message.data))
        return len(message.data)

    def read_video_memory(self, message: PortMessage) -> bytes:
        """ntsim's own: the screen buffer as video memory from B800:Offset."""
        body = message.body
        return self._on_screen(message, lambda screen: screen.video_memory(
            body["Offset"], body.get("Length")), show=False)

    def _on_screen(self, message: PortMessage, operation: Any, *, show: bool = True,
                   teletype: bytes = b"") -> Any:
        """Run an operation on the screen buffer for a client and show what changed on
        the host; a position outside the screen is STATUS_INVALID_PARAMETER."""
        self.screen_clients.add(message.ClientId[0])
        try:
            value = operation(self.screen)
        except ScreenError as error:
            raise NtStatusError(STATUS_INVALID_PARAMETER, str(error)) from None
        if show:
            self._show_screen(teletype)
        return value

    def _show_screen(self, teletype: bytes = b"") -> None:
        try:
            written = self.console.show_teletype(teletype) + self.console.show_screen(self.screen)
        except BrokenPipeError:
            raise NtStatusError(STATUS_PIPE_BROKEN, "the host closed the console output") from None
        except OSError as error:
            raise host_error(error, "console output") from None
        if written and self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, KERNEL, "HostConsoleWrite",
                                    {"fd": self.console.fds[1], "Length": written}, written)

    def _end_screen(self) -> None:
        """The last process that used the screen has gone: the host console finishes
        showing it (see HostConsole.end_screen)."""
        try:
            written = self.console.end_screen(self.screen)
        except OSError:
            return                  # the host's output went away: nothing to finish
        if written and self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, KERNEL, "HostConsoleWrite",
                                    {"fd": self.console.fds[1], "Length": written}, written)

    # --- key events -------------------------------------------------------------------------

    def read_input(self, message: PortMessage) -> Any:
        """ReadConsoleInput / PeekConsoleInput for key events (KbdCharIn, KbdPeek,
        INT 16h AH=00h/01h): the oldest KeyEvent, removed if Remove; with none, Wait
        waits for one and otherwise the answer is None. When the host's input has
        ended and no key is left, STATUS_END_OF_FILE."""
        body = message.body
        try:
            self.console.enter_key_mode()
        except OSError as error:
            raise host_error(error, "console input") from None
        if not self.waiting_reads:
            event = self._next_key(body["Remove"])
            if event is not None or not body["Wait"]:
                return event
        elif not body["Wait"]:
            return None                 # the keys that come are the waiting readers'
        self.waiting_reads.append(message)
        self._watch_input()
        return DEFERRED

    def _next_key(self, remove: bool) -> KeyEvent | None:
        """The next key event, decoding the host's input as far as it has arrived."""
        while not self.keyboard.events:
            if self.keyboard.ended:
                raise NtStatusError(STATUS_END_OF_FILE, "the console's input has ended")
            if not self.console.input_ready():
                return None
            data = self._host_bytes(KEY_READ_CHUNK)
            self.keyboard.feed(data)
            self._input_taken(data)
        return self.keyboard.pop() if remove else self.keyboard.peek()

    def write_console_input(self, events: list[KeyEvent]) -> None:
        """WriteConsoleInput: key events from outside the host's stdin (the TUI, a
        test) join the input buffer and wake the readers waiting for keys. Runs on the
        dispatcher's thread (Machine.type_keys posts it there)."""
        self.keyboard.events.extend(events)
        if events:
            self._input_arrived()

    def flush_input(self, message: PortMessage) -> int:
        """FlushConsoleInputBuffer (KbdFlushBuffer, INT 21h AH=0Ch): the key events
        typed ahead are dropped; returns how many."""
        return self.keyboard.flush()

    def get_console_mode(self, message: PortMessage) -> dict[str, Any]:
        stream = message.body["Stream"]
        columns, rows = self.console.size()
        return {"is_terminal": self.console.isatty(stream), "columns": columns, "rows": rows}

    def get_terminal_settings(self, message: PortMessage) -> list[Any]:
        try:
            return self.console.terminal_settings(message.body["Stream"])
        except OSError as error:
            raise host_error(error, "console") from None

    def set_terminal_settings(self, message: PortMessage) -> None:
        body = message.body
        try:
            self.console.set_terminal_settings(body["Stream"], body["When"], body["Settings"])
        except OSError as error:
            raise host_error(error, "console") from None

    def get_number_of_input_events(self, message: PortMessage) -> dict[str, Any]:
        """GetNumberOfConsoleInputEvents, as a poll needs it: 1 when a read would not
        wait (input, or its end), else 0 — the host's bytes are not counted until read.
        With none, the input event is cleared and the host watched, so a waiter wakes
        when input comes."""
        ready = self._input_available()
        self.input_event.signalled = ready
        if not ready:
            self._watch_input()
        return {"Events": int(ready), "InputWaitHandle": self.input_event}

    def cancel_request(self, message: PortMessage) -> None:
        """The client stopped waiting (a signal interrupted its read): drop its waiting
        read, so that the input goes to the next read instead of nowhere."""
        if message in self.waiting_reads:
            self.waiting_reads.remove(message)
        if not self.waiting_reads and not self.input_event.wait_blocks:
            self.kernel.dispatcher.unwatch_host_input(self.console.fds[0])

    def console_control(self, event: int) -> bool:
        """The console's Ctrl+C or Ctrl+Break (ConSrv's ProcessCtrlEvents): every
        personality with a process on the console hears it and does what its programs
        expect (Win32 would start each process's CtrlRoutine; Linux's terminal sends
        SIGINT or SIGQUIT to its foreground process group). False when no process took
        it: nobody is left to interrupt."""
        taken = False
        for personality in console_personalities(self.kernel):
            if personality.on_console_control(event):
                taken = True
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, SERVER, "ConsoleCtrlEvent",
                                    {"Event": CONSOLE_EVENTS.get(event, event)},
                                    "delivered" if taken else "no process took it")
        return taken

    def client_died(self, pid: int) -> None:
        """LPC_CLIENT_DIED: forget the dead process's waiting reads."""
        self.waiting_reads = deque(m for m in self.waiting_reads if m.ClientId[0] != pid)
        if not self.waiting_reads and not self.input_event.wait_blocks:
            self.kernel.dispatcher.unwatch_host_input(self.console.fds[0])
        self.clients.pop(pid, None)
        if pid in self.screen_clients:
            self.screen_clients.discard(pid)
            if not self.screen_clients:
                self._end_screen()

    api = (
        # (from_server: a console host that is itself a subsystem's server process, PSXSS's
        # posix.exe, reads and writes the console as any console program does)
        ApiRow(ConsoleApiRead, "ConsoleRead", read_console, ("Stream", "Length"), from_server=True),
        ApiRow(ConsoleApiWrite, "ConsoleWrite", write_console, ("Stream", "Length"), from_server=True),
        ApiRow(ConsoleApiGetMode, "ConsoleGetMode", get_console_mode, ("Stream",), from_server=True),
        ApiRow(ConsoleApiGetTerminalSettings, "ConsoleGetTerminalSettings", get_terminal_settings,
               ("Stream",)),
        ApiRow(ConsoleApiSetTerminalSettings, "ConsoleSetTerminalSettings", set_terminal_settings,
               ("Stream", "When")),
        ApiRow(ConsoleApiGetNumberOfInputEvents, "ConsoleGetNumberOfInputEvents",
               get_number_of_input_events, ("Stream",)),
        ApiRow(ConsoleApiGetScreenBufferInfo, "ConsoleGetScreenBufferInfo", get_screen_buffer_info),
        ApiRow(ConsoleApiSetScreenMode, "ConsoleSetScreenMode", set_screen_mode,
               ("Columns", "Rows", "Attribute")),
        ApiRow(ConsoleApiSetCursorPosition, "ConsoleSetCursorPosition", set_cursor_position,
               ("Row", "Column")),
        ApiRow(ConsoleApiSetCursorInfo, "ConsoleSetCursorInfo", set_cursor_info,
               ("Start", "End", "Visible")),
        ApiRow(ConsoleApiWriteTeletype, "ConsoleWriteTeletype", write_teletype, ("Attribute",)),
        ApiRow(ConsoleApiWriteOutput, "ConsoleWriteOutput", write_output, ("Row", "Column", "What")),
        ApiRow(ConsoleApiFillOutput, "ConsoleFillOutput", fill_output,
               ("Row", "Column", "Count", "Character", "Attribute")),
        ApiRow(ConsoleApiReadOutput, "ConsoleReadOutput", read_output, ("Row", "Column", "Count", "What")),
        ApiRow(ConsoleApiScroll, "ConsoleScroll", scroll,
               ("Top", "Left", "Bottom", "Right", "Lines", "Direction", "Character", "Attribute")),
        ApiRow(ConsoleApiWriteVideoMemory, "ConsoleWriteVideoMemory", write_video_memory, ("Offset",)),
        ApiRow(ConsoleApiReadVideoMemory, "ConsoleReadVideoMemory", read_video_memory,
               ("Offset", "Length")),
        ApiRow(ConsoleApiReadInput, "ConsoleReadInput", read_input, ("Wait", "Remove")),
        ApiRow(ConsoleApiFlushInput, "ConsoleFlushInput", flush_input),
    )
