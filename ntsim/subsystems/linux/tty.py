"""The console as a Linux terminal: the tty ioctls a shell and an editor make.

A Linux program sees its console fds as a terminal (a tty) when the host's console is
one. Its settings — termios: input, output, control and local flags, the control
characters, the speed — pass through CSRSS to the host terminal whole (ConSrv's
ConsoleGetTerminalSettings / ConsoleSetTerminalSettings, ntsim's own pair: Win32 has
console modes instead), so `stty raw -echo` in the guest makes the host terminal raw, and
a guest that clears ISIG reads Ctrl+C as a byte rather than getting SIGINT. The
foreground process group, which Ctrl+C signals, is kept by LXSS (WSL1's tty driver kept
it in lxcore). The ioctls themselves are the kernel's (`struct termios` of asm-generic
termbits, not glibc's larger one).
"""

from __future__ import annotations

import struct
import termios
from typing import Any

from .errno import EINVAL, ENOTTY, EPERM, ESRCH, LinuxError
from .task import LinuxProcess, Task

TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCGSID = 0x540F, 0x5410, 0x5413, 0x5429
REQUESTS = {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCGSID}
# the kernel's struct termios: four tcflag_t, c_line, c_cc[NCCS] with NCCS 19
KERNEL_TERMIOS = struct.Struct("<IIIIB19s")
KERNEL_NCCS = 19
SPEED_BITS = termios.CBAUD | getattr(termios, "CBAUDEX", 0)
# which TCSETS* is which tcsetattr: now, after output drains, also dropping typed input
WHEN = {TCSETS: termios.TCSANOW, TCSETSW: termios.TCSADRAIN, TCSETSF: termios.TCSAFLUSH}


def ioctl(task: Task, file: Any, request: int, arg: int) -> int:
    """A terminal ioctl on a console fd; ENOTTY when the console is not a terminal."""
    mode = file.device.get_mode(file)
    if not mode["is_terminal"]:
        raise LinuxError(ENOTTY)
    terminal = task.lx.process.personality      # keeps the console's foreground group
    if request == TCGETS:
        task.write(arg, to_kernel(file.device.get_terminal_settings(file)))
    elif request in WHEN:
        current = file.device.get_terminal_settings(file)
        file.device.set_terminal_settings(file, from_kernel(task.read(arg, KERNEL_TERMIOS.size),
                                                            current), WHEN[request])
    elif request == TIOCGWINSZ:
        task.write(arg, struct.pack("<HHHH", mode["rows"], mode["columns"], 0, 0))
    elif request == TIOCGPGRP:
        task.write_u32(arg, terminal.console_foreground or task.lx.pgid)
    elif request == TIOCSPGRP:
        set_foreground_group(task, terminal, task.read_u32(arg))
    elif request == TIOCGSID:
        task.write_u32(arg, task.lx.sid)
    return 0


def to_kernel(settings: list[Any]) -> bytes:
    """Python's termios list (glibc's struct: 32 control characters, speeds apart) as
    the kernel's struct termios (19 of them, the speed inside c_cflag)."""
    iflag, oflag, cflag, lflag, _ispeed, _ospeed, control = settings
    characters = bytes(_byte(c) for c in control[:KERNEL_NCCS])
    return KERNEL_TERMIOS.pack(iflag, oflag, cflag, lflag, 0, characters)


def from_kernel(raw: bytes, current: list[Any]) -> list[Any]:
    """The kernel's struct termios as the list tcsetattr takes; glibc's extra control
    characters keep their current values."""
    iflag, oflag, cflag, lflag, _line, characters = KERNEL_TERMIOS.unpack(raw)
    speed = cflag & SPEED_BITS
    control = list(characters) + [_byte(c) for c in current[6][KERNEL_NCCS:]]
    return [iflag, oflag, cflag, lflag, speed, speed, control]


def _byte(character: bytes | int) -> int:
    # tcgetattr gives one-byte strings, except VMIN and VTIME outside canonical mode
    return character[0] if isinstance(character, bytes) else int(character)


def set_foreground_group(task: Task, terminal, group: int) -> None:
    """tcsetpgrp: the group Ctrl+C will signal. It must exist in the caller's session."""
    group &= 0xFFFFFFFF
    if group >= 1 << 31:
        raise LinuxError(EINVAL)
    members = [p.data for p in task.kernel.processes.values()
               if p.alive and isinstance(p.data, LinuxProcess) and p.data.pgid == group]
    if not members:
        raise LinuxError(ESRCH, f"no process group {group}")
    if any(lx.sid != task.lx.sid for lx in members):
        raise LinuxError(EPERM, f"process group {group} is in another session")
    terminal.console_foreground = group
