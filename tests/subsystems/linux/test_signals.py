"""signals.py: siginfo's layout against the C library's siginfo_t, and the API the process
life cycle uses (fork, execve, SIGCHLD). Delivery itself is tested end to end, against
native runs, in tests/e2e/test_e2e_signals.py."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ntsim import Machine
from ntsim.subsystems.linux import signals
from ntsim.subsystems.linux.signals import (
    SA_NOCLDWAIT,
    SA_RESTART,
    SA_RESTORER,
    SIG_DFL,
    SIG_IGN,
    SIGCHLD,
    SIGINT,
    SIGTERM,
    SIGUSR1,
    Action,
    SigInfo,
)

from .c_layout import measure

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "linux"

SIGINFO_PROGRAM = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#define FIELD(name) printf(#name " %zu\n", offsetof(siginfo_t, name))
int main(void) {
    printf("size %zu\n", sizeof(siginfo_t));
    FIELD(si_signo); FIELD(si_errno); FIELD(si_code); FIELD(si_pid); FIELD(si_uid);
    FIELD(si_status); FIELD(si_utime); FIELD(si_addr); FIELD(si_value);
    return 0;
}
"""


@pytest.fixture(scope="module")
def siginfo_layout(tmp_path_factory) -> dict[str, int]:
    """Offsets and sizes as the C compiler computes them from the headers."""
    return measure(SIGINFO_PROGRAM, tmp_path_factory.mktemp("siginfo_layout"))


def _field(data: bytes, layout: dict[str, int], name: str, form: str) -> int:
    return struct.unpack_from(form, data, layout[name])[0]


def test_siginfo_of_kill(siginfo_layout: dict[str, int]) -> None:
    data = SigInfo(SIGTERM, signals.SI_USER, pid=1234, uid=1000).pack()
    assert len(data) == siginfo_layout["size"]
    assert [_field(data, siginfo_layout, n, "<i") for n in ("si_signo", "si_errno", "si_code")] == [
        SIGTERM, 0, signals.SI_USER]
    assert _field(data, siginfo_layout, "si_pid", "<i") == 1234
    assert _field(data, siginfo_layout, "si_uid", "<I") == 1000


def test_siginfo_of_a_fault(siginfo_layout: dict[str, int]) -> None:
    data = SigInfo(signals.SIGSEGV, signals.SEGV_MAPERR, addr=0xDEAD_BEEF_0000).pack()
    assert _field(data, siginfo_layout, "si_addr", "<Q") == 0xDEAD_BEEF_0000
    assert _field(data, siginfo_layout, "si_code", "<i") == signals.SEGV_MAPERR


def test_siginfo_of_a_child_and_of_sigqueue(siginfo_layout: dict[str, int]) -> None:
    data = SigInfo(SIGCHLD, signals.CLD_EXITED, pid=77, uid=5, status=3).pack()
    fields = ("si_pid", "si_uid", "si_status")
    assert [_field(data, siginfo_layout, n, "<i") for n in fields] == [77, 5, 3]
    assert _field(data, siginfo_layout, "si_utime", "<q") == 0
    data = SigInfo(SIGUSR1, signals.SI_QUEUE, pid=9, uid=5, value=0x1234_5678).pack()
    assert _field(data, siginfo_layout, "si_value", "<Q") == 0x1234_5678


def test_describe_as_strace_does() -> None:
    assert SigInfo(SIGUSR1, signals.SI_TKILL, pid=7, uid=0).describe() == \
        "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=7, si_uid=0} ---"
    assert SigInfo(signals.SIGSEGV, signals.SEGV_ACCERR, addr=0x10).describe() == \
        "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x10} ---"
    assert SigInfo(signals.SIGALRM, signals.SI_KERNEL).describe() == \
        "--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---"


# --- the process life cycle's API -----------------------------------------------------------


@pytest.fixture
def machine() -> Machine:
    return Machine(root=str(EXAMPLES), deterministic=True)


def _task(machine: Machine):
    process = machine.load(str(EXAMPLES / "signals"), ["handler"])
    return process.threads[0].data


def test_fork_copies_the_mask_and_the_alternate_stack_but_nothing_pending(machine: Machine) -> None:
    parent, child = _task(machine), _task(machine)
    parent.signal_mask = 1 << (SIGUSR1 - 1)
    parent.alt_stack = (0x5000, 0x4000, 0)
    child.pending_signals[SIGINT] = [SigInfo(SIGINT)]
    child.lx.pending_signals[SIGTERM] = [SigInfo(SIGTERM)]
    signals.inherit_on_fork(parent, child)
    assert child.signal_mask == parent.signal_mask
    assert child.alt_stack == (0x5000, 0x4000, 0)
    assert child.pending_signals == {} and child.lx.pending_signals == {}
    assert child.sigpending is False


def test_a_new_thread_gets_the_mask_but_no_alternate_stack(machine: Machine) -> None:
    creator, thread = _task(machine), _task(machine)
    creator.signal_mask = 0b1010
    creator.alt_stack = (0x5000, 0x4000, 0)
    signals.inherit_on_clone(creator, thread)
    assert thread.signal_mask == 0b1010
    assert thread.alt_stack == (0, 0, signals.SS_DISABLE)


def test_execve_resets_caught_signals_and_keeps_ignored_ones_and_the_mask(machine: Machine) -> None:
    task = _task(machine)
    lx = task.lx
    lx.signal_actions[SIGUSR1] = Action(0x401000, SA_RESTART | SA_RESTORER, 0x402000, 0b100).pack()
    lx.signal_actions[SIGINT] = Action(SIG_IGN, SA_RESTORER, 0x402000, 0b100).pack()
    task.signal_mask = 1 << (SIGTERM - 1)
    task.alt_stack = (0x5000, 0x4000, 0)
    signals.reset_on_exec(task)
    assert signals.action_of(lx, SIGUSR1) == Action(SIG_DFL, 0, 0, 0)
    assert signals.action_of(lx, SIGINT) == Action(SIG_IGN, 0, 0, 0)
    assert task.signal_mask == 1 << (SIGTERM - 1)
    assert task.alt_stack == (0, 0, 0)


def test_children_are_reaped_automatically_when_sigchld_is_ignored(machine: Machine) -> None:
    lx = _task(machine).lx
    assert signals.children_reaped_automatically(lx) is False       # SIG_DFL: zombies wait
    lx.signal_actions[SIGCHLD] = Action(SIG_IGN, 0, 0, 0).pack()
    assert signals.children_reaped_automatically(lx) is True
    lx.signal_actions[SIGCHLD] = Action(0x401000, SA_NOCLDWAIT | SA_RESTORER, 0x402000, 0).pack()
    assert signals.children_reaped_automatically(lx) is True


def test_send_signal_to_a_process_queues_it_unless_ignored(machine: Machine) -> None:
    task = _task(machine)
    process = task.thread.process
    signals.send_signal(process, SIGCHLD, code=signals.CLD_EXITED, pid=99, status=3)
    assert process.data.pending_signals == {}             # SIGCHLD is ignored by default
    process.data.signal_actions[SIGCHLD] = Action(0x401000, SA_RESTORER, 0x402000, 0).pack()
    signals.send_signal(process, SIGCHLD, code=signals.CLD_EXITED, pid=99, status=3)
    [info] = process.data.pending_signals[SIGCHLD]
    assert (info.code, info.pid, info.status) == (signals.CLD_EXITED, 99, 3)
    assert task.sigpending is True
    assert task.thread.user_apcs                         # it will look before running again
