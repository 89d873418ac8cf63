"""DosSetSigHandler's bookkeeping (signals.py): what goes back through the far pointers,
which signals and actions it refuses, and how SIGA_ACKNOWLEDGE releases a held signal.
Delivery itself (the far call on thread 1) is tested end to end in test_e2e_os2.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ntsim.subsystems.os2 import signals
from ntsim.subsystems.os2.errors import (
    ERROR_INVALID_FUNCTION,
    ERROR_INVALID_SIGNAL_NUMBER,
    Os2Error,
)
from ntsim.subsystems.os2.loader import Os2Process


class Caller:
    """The parts of an Os2Thread DosSetSigHandler uses: the process's OS/2 data and
    the guest memory the far pointers name (a dict here)."""

    def __init__(self) -> None:
        self.os2 = Os2Process(image=None, guest_path="C:\\T.EXE", ldt=None, gdt=None)
        self.memory: dict[int, int] = {}
        self.kernel = None
        self.process = SimpleNamespace(data=self.os2)

    def write_long(self, pointer: int, value: int) -> None:
        self.memory[pointer] = value

    def write_word(self, pointer: int, value: int) -> None:
        self.memory[pointer] = value


PREVIOUS, ACTION = 0x0017_0010, 0x0017_0014


def test_the_previous_handler_and_action_come_back_through_the_pointers() -> None:
    caller = Caller()
    assert signals.set_handler(caller, 0x000F_0123, PREVIOUS, ACTION, signals.SIGA_ACCEPT, signals.SIG_CTRLC) == 0
    assert caller.memory == {PREVIOUS: 0, ACTION: signals.SIGA_KILL}
    signals.set_handler(caller, 0, PREVIOUS, ACTION, signals.SIGA_IGNORE, signals.SIG_CTRLC)
    assert caller.memory == {PREVIOUS: 0x000F_0123, ACTION: signals.SIGA_ACCEPT}
    signals.set_handler(caller, 0, PREVIOUS, ACTION, signals.SIGA_KILL, signals.SIG_CTRLC)
    assert caller.memory[ACTION] == signals.SIGA_IGNORE
    assert signals.action_of(caller.process, signals.SIG_CTRLBREAK) == signals.SIGA_KILL


@pytest.mark.parametrize(("action", "signal", "error"), [
    (signals.SIGA_ACCEPT, 9, ERROR_INVALID_SIGNAL_NUMBER),
    (signals.SIGA_ACCEPT, signals.SIG_BROKENPIPE, ERROR_INVALID_FUNCTION),
    (signals.SIGA_ERROR, signals.SIG_CTRLC, ERROR_INVALID_FUNCTION),
    (7, signals.SIG_CTRLC, ERROR_INVALID_FUNCTION),
])
def test_refused_signals_and_actions(action: int, signal: int, error: int) -> None:
    caller = Caller()
    with pytest.raises(Os2Error) as refused:
        signals.set_handler(caller, 0x000F_0123, 0, 0, action, signal)
    assert refused.value.code == error
    assert caller.os2.signal_actions == {}


def test_accept_needs_a_handler() -> None:
    with pytest.raises(Os2Error):
        signals.set_handler(Caller(), 0, 0, 0, signals.SIGA_ACCEPT, signals.SIG_CTRLC)


def test_a_signal_held_while_unacknowledged_is_posted_on_acknowledge(monkeypatch) -> None:
    caller = Caller()
    posted = []
    monkeypatch.setattr(signals, "post", lambda kernel, process, signal: posted.append(signal))
    signals.set_handler(caller, 0x000F_0123, 0, 0, signals.SIGA_ACCEPT, signals.SIG_CTRLC)
    caller.os2.unacknowledged.add(signals.SIG_CTRLC)          # delivered once
    caller.os2.held_signals.add(signals.SIG_CTRLC)            # and pressed again meanwhile
    signals.set_handler(caller, 0, 0, 0, signals.SIGA_ACKNOWLEDGE, signals.SIG_CTRLC)
    assert posted == [signals.SIG_CTRLC]
    assert not caller.os2.held_signals and not caller.os2.unacknowledged
    assert signals.action_of(caller.process, signals.SIG_CTRLC) == signals.SIGA_ACCEPT


def test_a_signal_arriving_before_the_acknowledgement_is_held() -> None:
    caller = Caller()
    caller.os2.unacknowledged.add(signals.SIG_CTRLC)
    signals.post(None, caller.process, signals.SIG_CTRLC)     # no thread is touched: it waits
    assert caller.os2.held_signals == {signals.SIG_CTRLC}
