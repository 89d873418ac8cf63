"""The console device's readiness: a question to CSRSS over LPC, and its input event.

The host side here is a real pipe standing in for the terminal, so "no input yet" and
"input arrived" are both possible (a captured console always has its input ready).
"""

from __future__ import annotations

import os
import re

import pytest

from ntsim.kernel.io import FILE_READ_DATA, FILE_WRITE_DATA
from ntsim.kernel.kernel import Kernel
from ntsim.subsystems.windows.csrss import CapturedConsole, Csrss, HostConsole


@pytest.fixture
def host_pipe():
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def boot(root, console) -> Kernel:
    kernel = Kernel(str(root), deterministic=True)
    kernel.smss.register_subsystem("Windows", lambda k: Csrss(k, console), required=True)
    kernel.boot()
    process = kernel.create_process("test.exe", architecture="x86-64")
    kernel.current_thread = kernel.create_thread(process)
    return kernel


def readiness(kernel, stream: str, access: int):
    handle = kernel.services.NtCreateFile(f"\\Device\\ConDrv\\{stream}", access, 1)
    file = kernel.current_thread.process.handles.lookup(handle)
    return file.device.readiness(file)


def test_input_is_ready_when_the_host_has_some(root, host_pipe):
    read_fd, write_fd = host_pipe
    os.write(write_fd, b"typed\n")
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    state = readiness(kernel, "Input", FILE_READ_DATA)
    assert state.readable and state.writable


def test_no_input_arms_the_watch_and_input_sets_the_event(root, host_pipe):
    read_fd, write_fd = host_pipe
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    state = readiness(kernel, "Input", FILE_READ_DATA)
    assert not state.readable
    (event,) = state.wait_read
    assert not event.signalled
    assert read_fd in kernel.dispatcher.host_inputs       # CSRSS asked to hear of input
    os.write(write_fd, b"x")
    kernel.dispatcher._poll_host_input(0)
    assert event.signalled
    assert read_fd not in kernel.dispatcher.host_inputs   # nobody waits for more
    assert readiness(kernel, "Input", FILE_READ_DATA).readable


def test_the_end_of_input_counts_as_ready(root, host_pipe):
    read_fd, write_fd = host_pipe
    os.close(write_fd)                                     # a read would return at once
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    assert readiness(kernel, "Input", FILE_READ_DATA).readable


def test_output_is_always_writable(root):
    kernel = boot(root, CapturedConsole())
    state = readiness(kernel, "Output", FILE_WRITE_DATA)
    assert state.writable and not state.broken


# --- the screen buffer and key events, through the console device and LPC ------------------

import fcntl  # noqa: E402
import struct  # noqa: E402
import termios  # noqa: E402
import threading  # noqa: E402
import tty  # noqa: E402

from ntsim.kernel.dispatcher import WaitPending  # noqa: E402
from ntsim.kernel.fs.console import IOCTL_CONSOLE_WRITE_OUTPUT  # noqa: E402
from ntsim.kernel.io import FILE_OPEN  # noqa: E402
from ntsim.kernel.processes import ThreadState  # noqa: E402
from ntsim.kernel.status import (  # noqa: E402
    STATUS_END_OF_FILE,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER,
    NtStatusError,
)
from ntsim.subsystems.linux import LinuxPersonality  # noqa: E402
from ntsim.subsystems.os2 import Os2Personality  # noqa: E402
from ntsim.subsystems.windows.console_client import ConsoleClient  # noqa: E402
from ntsim.subsystems.windows.keyboard import KeyEvent  # noqa: E402
from ntsim.trace import CallbackSink  # noqa: E402
from ntsim.vdm import VdmPersonality  # noqa: E402


def screen_process(kernel, personality=None):
    """A new process on the console, current, with its ConsoleClient."""
    process = kernel.create_process("screen.exe", personality, architecture="x86-64")
    kernel.current_thread = kernel.create_thread(process)
    return process, ConsoleClient.open(kernel.services)


def stream_write(kernel, data: bytes, stream: str = "Output") -> int:
    """WriteFile on the console (DosWrite to handle 1, a Linux write(1))."""
    nt = kernel.services
    return nt.NtWriteFile(nt.NtCreateFile(f"\\Device\\ConDrv\\{stream}", FILE_WRITE_DATA, FILE_OPEN),
                          data)


def test_a_screen_write_is_an_lpc_message_to_csrss(kernel, console, nt):
    seen = []
    kernel.tracer.attach(CallbackSink(lambda event: seen.append((event.layer, event.name))))
    client = ConsoleClient.open(nt)
    client.write_characters(5, 10, b"box")
    assert console.screen.text()[5] == " " * 10 + "box"
    assert ("nt", "NtDeviceIoControlFile") in seen
    assert ("lpc", "NtRequestWaitReplyPort") in seen
    assert ("server", "ConsoleWriteOutput") in seen


def test_a_whole_screen_of_cells_travels_through_the_port_section(kernel, console, nt):
    client = ConsoleClient.open(nt)
    cells = bytes((ord("#"), 0x1E)) * (80 * 25)           # 4000 bytes: more than a message holds
    assert client.write_cells(0, 0, cells) == 2000
    assert client.read_video_memory() == cells
    assert console.screen.cell(24, 79) == (ord("#"), 0x1E)


def test_the_cursor_and_scrolling_through_the_client(kernel, console, nt):
    client = ConsoleClient.open(nt)
    client.write_teletype(b"first\r\nsecond\r\n")
    client.scroll_up(0, 0, 24, 79, 1, attribute=0x17)
    client.set_cursor(10, 4)
    info = client.info()
    assert (info.columns, info.rows, info.cursor_row, info.cursor_column) == (80, 25, 10, 4)
    assert client.read_characters(0, 0, 6) == b"second"
    assert client.read_attributes(24, 0, 2) == b"\x17\x17"


def test_screen_requests_need_an_output_handle(kernel, nt):
    input_handle = nt.NtCreateFile("\\Device\\ConDrv\\Input", FILE_READ_DATA, FILE_OPEN)
    with pytest.raises(NtStatusError) as caught:
        nt.NtDeviceIoControlFile(input_handle, IOCTL_CONSOLE_WRITE_OUTPUT,
                                 {"Row": 0, "Column": 0, "Data": b"x\x07"})
    assert caught.value.status == STATUS_INVALID_HANDLE


def test_a_cell_outside_the_screen_is_an_invalid_parameter(kernel, nt):
    client = ConsoleClient.open(nt)
    with pytest.raises(NtStatusError) as caught:
        client.set_cursor(25, 0)
    assert caught.value.status == STATUS_INVALID_PARAMETER


def test_the_byte_stream_does_not_touch_the_screen(kernel, console, nt):
    output = nt.NtCreateFile("\\Device\\ConDrv\\Output", FILE_WRITE_DATA, FILE_OPEN)
    nt.NtWriteFile(output, b"\x1b[2Jplain bytes\n")
    assert console.stdout == b"\x1b[2Jplain bytes\n"
    assert console.screen.text() == [""] * 25


# --- stream output of a program that sees the console as a screen (OS/2, DOS) --------------------

def test_an_os2_programs_stream_writes_move_the_screens_cursor_in_order_with_vio(kernel, console):
    process, client = screen_process(kernel, Os2Personality())
    assert stream_write(kernel, b"DosWrite first\r\n") == 16
    client.write_teletype(b"VioWrtTTY\r\n")
    stream_write(kernel, b"DosWrite after\r\n")
    info = client.info()
    assert (info.cursor_row, info.cursor_column) == (3, 0)       # VioGetCurPos after three lines
    assert console.screen.text()[:3] == ["DosWrite first", "VioWrtTTY", "DosWrite after"]
    # a pipe gets every byte once, in the order written
    assert console.stdout == b"DosWrite first\r\nVioWrtTTY\r\nDosWrite after\r\n"
    kernel.terminate_process(process, 0)
    assert console.stdout == b"DosWrite first\r\nVioWrtTTY\r\nDosWrite after\r\n"


def test_a_dos_programs_stream_bytes_reach_a_pipe_as_written(kernel, console):
    screen_process(kernel, VdmPersonality())
    stream_write(kernel, b"\xc9\xcd\xbb box\r\n")         # CP437 box corners: bytes, not text
    assert console.stdout == b"\xc9\xcd\xbb box\r\n"
    assert console.screen.text()[0] == "╔═╗ box"


def test_a_linux_programs_bytes_stay_a_byte_stream_off_the_screen(kernel, console):
    screen_process(kernel, LinuxPersonality())
    data = b"\x1b[2J\x1b[1;31mred\x1b[0m\nplain\r\n\xe2\x82\xac"
    stream_write(kernel, data)
    stream_write(kernel, b"oops\n", "Error")
    assert (console.stdout, console.stderr) == (data, b"oops\n")
    assert console.screen.text() == [""] * 25 and console.screen.info().cursor_row == 0


def test_on_a_terminal_stream_output_is_painted_with_the_screen_not_written_past_it(root, host_pipe):
    terminal = Terminal(100, 30)
    try:
        kernel = boot(root, HostConsole(host_pipe[0], terminal.slave, terminal.slave))
        process, client = screen_process(kernel, Os2Personality())
        stream_write(kernel, b"first\r\n")
        client.write_teletype(b"second\r\n")
        stream_write(kernel, b"third\r\n", "Error")     # stderr on the same terminal
        assert client.info().cursor_row == 3
        kernel.terminate_process(process, 0)
    finally:
        drawn = terminal.output()
    assert "first\r\n" not in drawn and "third\r\n" not in drawn        # never raw
    for row, word in ((1, "first"), (2, "second"), (3, "third")):     # each painted on its row
        assert re.search(f"\x1b\\[{row};1H(\x1b\\[[0-9;]*m)*{word}", drawn), word
    assert drawn.endswith("\x1b[0m\x1b[?25h\x1b[4;1H\r\n")       # left below the last line


# --- what a pipe gets -------------------------------------------------------------------------

def test_piped_teletype_output_is_a_text_stream(kernel, console):
    process, client = screen_process(kernel)
    client.write_teletype(b"Hello, \x82t\xe9!\r\n")       # code page 437: é and Θ
    assert console.stdout.decode() == "Hello, étΘ!\r\n"
    kernel.terminate_process(process, 0)
    assert console.stdout.decode() == "Hello, étΘ!\r\n"    # nothing painted: nothing more


def test_a_painted_screen_is_written_as_text_when_its_last_process_exits(kernel, console):
    first, client = screen_process(kernel)
    client.write_teletype(b"title")
    client.fill(4, 2, 3, ord("*"))
    second, other = screen_process(kernel)
    other.write_characters(5, 2, b"end")
    kernel.terminate_process(first, 0)
    assert console.stdout == b"title"                         # one process still shows it
    kernel.terminate_process(second, 0)
    assert console.stdout.decode() == "title\ntitle\n\n\n\n  ***\n  end\n"


# --- keys ---------------------------------------------------------------------------------------

def test_keys_come_from_the_hosts_input_with_scan_codes(root):
    kernel = boot(root, CapturedConsole(b"a\x1b[A"))
    client = ConsoleClient.open(kernel.services)
    assert client.peek_key().character == ord("a")
    first, second = client.read_key(), client.read_key()
    assert (first.character, first.scan) == (ord("a"), 0x1E)
    assert (second.character, second.scan) == (0xE0, 0x48)


def test_the_end_of_input_is_visible_to_key_readers(root):
    kernel = boot(root, CapturedConsole(b"q"))
    client = ConsoleClient.open(kernel.services)
    assert client.read_key(wait=False).character == ord("q")
    for read in (client.peek_key, client.read_key):
        with pytest.raises(NtStatusError) as caught:
            read()
        assert caught.value.status == STATUS_END_OF_FILE


def test_a_byte_read_after_a_key_peek_gets_the_keys_bytes(root):
    kernel = boot(root, CapturedConsole(b"\x1b[Bxy"))
    nt = kernel.services
    client = ConsoleClient.open(nt)
    assert client.peek_key().scan == 0x50
    stdin = nt.NtCreateFile("\\Device\\ConDrv\\Input", FILE_READ_DATA, FILE_OPEN)
    assert nt.NtReadFile(stdin, 100) == b"\x1b[Bxy"


def test_no_key_without_waiting_is_none_and_a_waiting_reader_parks_until_a_key(root, host_pipe):
    read_fd, write_fd = host_pipe
    kernel = boot(root, HostConsole(read_fd, 1, 2))
    client = ConsoleClient.open(kernel.services)
    assert client.read_key(wait=False) is None
    reader = kernel.current_thread
    results = []
    with pytest.raises(WaitPending) as caught:
        client.read_key()
    pending = caught.value
    kernel.dispatcher.park(reader, pending, lambda status: results.append(pending.complete(status)))
    assert reader.state == ThreadState.WAITING
    os.write(write_fd, b"\x1bOP")                       # F1
    kernel.dispatcher._poll_host_input(0)
    assert reader.state == ThreadState.READY
    reader.host_body = lambda thread: None
    kernel.dispatcher.run(lambda: bool(results))
    assert (results[0].character, results[0].scan) == (0x00, 0x3B)


# --- what a terminal gets ---------------------------------------------------------------------

class Terminal:
    """A pseudo-terminal of a given size: ntsim writes to its slave; a thread collects
    what arrives at the master (so a big paint never blocks the writer)."""

    def __init__(self, columns: int, rows: int) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        tty.setraw(self.slave)              # the bytes as written: no "\n" -> "\r\n"
        self.received = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += data

    def output(self) -> str:
        os.close(self.slave)
        self._reader.join(5)
        os.close(self.master)
        return self.received.decode()


def test_on_a_terminal_the_screen_has_its_size_and_a_box_is_drawn_where_it_is(root, host_pipe):
    terminal = Terminal(100, 30)
    try:
        kernel = boot(root, HostConsole(host_pipe[0], terminal.slave, 2))
        process, client = screen_process(kernel)
        info = client.info()
        assert (info.columns, info.rows) == (100, 30)
        client.set_cursor(1, 0)                          # the first change paints it all
        client.write_cells(5, 10, b"\xc9\x1e\xcd\x1e\xbb\x1e")     # ╔═╗ yellow on blue
        client.set_cursor(20, 0)
        kernel.terminate_process(process, 0)
    finally:
        drawn = terminal.output()
    box_at = drawn.index("\x1b[6;11H")                  # row 6, column 11, counted from 1
    assert drawn[box_at:].startswith("\x1b[6;11H\x1b[0;93;44m╔═╗")
    assert drawn.endswith("\x1b[0m\x1b[?25h\x1b[21;1H\r\n")  # left below the cursor's row


def test_a_key_reader_gets_keys_unechoed_as_they_are_pressed_and_restore_undoes_it(root):
    terminal = Terminal(80, 25)
    try:
        termios.tcsetattr(terminal.slave, termios.TCSANOW, _cooked(terminal.slave))
        console = HostConsole(terminal.slave, terminal.slave, 2)
        kernel = boot(root, console)
        client = ConsoleClient.open(kernel.services)
        assert client.read_key(wait=False) is None
        lflag = termios.tcgetattr(terminal.slave)[3]
        assert not lflag & (termios.ICANON | termios.ECHO)
        console.restore()
        lflag = termios.tcgetattr(terminal.slave)[3]
        assert lflag & termios.ICANON and lflag & termios.ECHO
    finally:
        terminal.output()


def _cooked(fd: int) -> list:
    settings = termios.tcgetattr(fd)
    settings[3] |= termios.ICANON | termios.ECHO
    return settings


def test_keys_written_from_outside_wake_a_waiting_key_reader(root, host_pipe):
    kernel = boot(root, HostConsole(host_pipe[0], 1, 2))
    client = ConsoleClient.open(kernel.services)
    reader = kernel.current_thread
    results = []
    with pytest.raises(WaitPending) as caught:
        client.read_key()
    pending = caught.value
    kernel.dispatcher.park(reader, pending, lambda status: results.append(pending.complete(status)))
    csrss = kernel.smss.server("Windows")
    csrss.write_console_input([KeyEvent(ord("y"), 0x15)])
    reader.host_body = lambda thread: None
    kernel.dispatcher.run(lambda: bool(results))
    assert results[0] == KeyEvent(ord("y"), 0x15)


def test_a_terminal_that_does_not_know_its_size_gets_an_80_by_25_screen(root, host_pipe):
    terminal = Terminal(0, 0)
    try:
        kernel = boot(root, HostConsole(host_pipe[0], terminal.slave, 2))
        assert (kernel.smss.server("Windows").screen.columns, kernel.smss.server("Windows").screen.rows) \
            == (80, 25)
    finally:
        terminal.output()
