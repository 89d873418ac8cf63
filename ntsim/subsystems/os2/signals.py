"""OS/2 1.x signals: DosSetSigHandler's handlers for the console's Ctrl+C and Ctrl+Break.

A program registers a far pascal handler, `VOID FAR PASCAL handler(USHORT arg, USHORT
number)`. When the signal comes, the process's thread 1 leaves whatever it was running
and calls the handler (arg pushed first, then the number, then a far return address);
when the handler returns, the thread continues where it was interrupted, every register
as it was. After delivering a signal OS/2 delivers no other of that number until the
program acknowledges it (DosSetSigHandler with SIGA_ACKNOWLEDGE): one that arrives
meanwhile is held, and delivered then.

Here the interrupted registers are kept by the personality, not on the guest's stack;
the handler's return address is the last stub of the thunk segment, whose trap restores
them. The default action (SIGA_KILL) ends the program.
"""

from __future__ import annotations

import struct
from typing import Any

from unicorn.x86_const import UC_X86_REG_SP, UC_X86_REG_SS

from ...trace import PERSONALITY
from .errors import ERROR_INVALID_FUNCTION, ERROR_INVALID_SIGNAL_NUMBER, Os2Error
from .gate import TILE_SHIFT

SIG_CTRLC, SIG_BROKENPIPE, SIG_KILLPROCESS, SIG_CTRLBREAK = 1, 2, 3, 4
SIGA_KILL, SIGA_IGNORE, SIGA_ACCEPT, SIGA_ERROR, SIGA_ACKNOWLEDGE = 0, 1, 2, 3, 4
CONSOLE_SIGNALS = (SIG_CTRLC, SIG_CTRLBREAK)
# what a signal interrupts and its handler's return restores (segments first: IP is in CS)
SAVED = ("cs", "ss", "ds", "es", "ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip", "flags")


def set_handler(caller: Any, handler: int, previous_out: int, action_out: int, action: int,
                signal: int) -> int:
    """DosSetSigHandler: the previous handler (a far pointer) and action go back through
    the pointers; SIGA_ACKNOWLEDGE leaves both as they are and lets the next signal in."""
    os2 = caller.os2
    if signal not in CONSOLE_SIGNALS:
        raise Os2Error(ERROR_INVALID_SIGNAL_NUMBER if not 1 <= signal <= 7 else ERROR_INVALID_FUNCTION,
                       f"signal {signal}: only Ctrl+C (1) and Ctrl+Break (4) are modelled")
    if action not in (SIGA_KILL, SIGA_IGNORE, SIGA_ACCEPT, SIGA_ACKNOWLEDGE):
        raise Os2Error(ERROR_INVALID_FUNCTION, f"action {action}: SIGA_ERROR is for the flag signals")
    if action == SIGA_ACCEPT and not handler:
        raise Os2Error(ERROR_INVALID_FUNCTION, "SIGA_ACCEPT without a handler")
    previous_action, previous_handler = os2.signal_actions.get(signal, (SIGA_KILL, 0))
    if previous_out:
        caller.write_long(previous_out, previous_handler)
    if action_out:
        caller.write_word(action_out, previous_action)
    if action == SIGA_ACKNOWLEDGE:
        os2.unacknowledged.discard(signal)
        if signal in os2.held_signals:
            os2.held_signals.discard(signal)
            post(caller.kernel, caller.process, signal)
        return 0
    os2.signal_actions[signal] = (action, handler if action == SIGA_ACCEPT else 0)
    return 0


def action_of(process: Any, signal: int) -> int:
    return process.data.signal_actions.get(signal, (SIGA_KILL, 0))[0]


def post(kernel: Any, process: Any, signal: int) -> None:
    """A console signal for a process that accepts it: delivered on its thread 1 before
    it next runs its own code, or held while the last one is unacknowledged."""
    os2 = process.data
    if signal in os2.unacknowledged:
        os2.held_signals.add(signal)
        return
    threads = [t for t in process.threads if t.data is not None]
    if not threads:
        return
    thread = threads[0]
    os2.unacknowledged.add(signal)
    kernel.dispatcher.queue_user_apc(thread, lambda: _deliver(kernel, thread, signal))
    if process.cpu is not None and kernel.current_thread is thread:
        process.cpu.request_stop()


def _deliver(kernel: Any, thread: Any, signal: int) -> None:
    """The far call: SS:SP gets the argument (0 for the console signals), the number and
    the return address into the thunk segment; CS:IP the handler."""
    process = thread.process
    os2 = process.data
    action, handler = os2.signal_actions.get(signal, (SIGA_KILL, 0))
    if action != SIGA_ACCEPT:     # changed its mind meanwhile
        os2.unacknowledged.discard(signal)
        return
    cpu = process.cpu
    os2.signal_frames.append({name: cpu.read_register(name) for name in SAVED})
    sp = (cpu.registers.read(UC_X86_REG_SP) - 8) & 0xFFFF
    ss = cpu.registers.read(UC_X86_REG_SS)
    frame = struct.pack("<HHHH", os2.signal_return - 2, os2.thunk_selector, signal, 0)
    thread.data.write_linear(((ss >> 3) << TILE_SHIFT) + sp, frame)
    cpu.write_register("sp", sp)
    cpu.jump(handler >> 16, handler & 0xFFFF)
    tracer = kernel.tracer
    if tracer.enabled:
        tracer.note(thread, PERSONALITY, f"--- signal {signal} -> handler {handler >> 16:04X}:{handler & 0xFFFF:04X} ---")


def is_return(process: Any, ip: int, cs: int) -> bool:
    os2 = process.data
    return bool(os2.signal_frames) and cs == os2.thunk_selector and ip == os2.signal_return


def handler_returned(process: Any) -> None:
    """The handler's far return reached the return stub: the interrupted code continues."""
    saved = process.data.signal_frames.pop()
    cpu = process.cpu
    for name, value in saved.items():
        cpu.write_register(name, value)
