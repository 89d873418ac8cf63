"""The system-call fuzzer: random calls with random arguments, made by a guest under
ntsim (never natively: some of them would change the host).

Each case is a tiny static x86-64 program built here: it closes its standard streams
(so that nothing waits for the terminal), makes up to 24 system calls with arguments
drawn from the values that find bugs (0, -1, small numbers, pointers into its own data
page and just past it, huge numbers), and exits. Whatever the calls do to the guest —
errors, signals, a fault, its own death — ntsim must survive: the run ends with an exit
status, or with ntsim saying every thread waits forever (a deadlock), and never with
another exception or a hang.
"""

from __future__ import annotations

import signal
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntsim.kernel.limits import Limits
from ntsim.machine import Deadlock, Machine

from .conftest import count
from .formats import examples_per_format

CODE, DATA, DATA_SIZE = 0x400000, 0x600000, 0x10000
CASE_SECONDS = 20

# Calls that would make a case wait on the host's clock or multiply itself: a fuzzer
# that sleeps for a random time or forks a random program proves nothing in its time.
EXCLUDED = {
    7, 23, 34, 35, 37, 38, 61, 128, 130, 202, 222, 230, 232, 247, 270, 271, 281,  # waits
    283, 286, 287, 43, 288, 45, 47, 42,                       # timerfds, sockets that wait
    56, 57, 58, 435,                                          # fork, vfork, clone, clone3
    60, 231,                                                  # exit: ends the case early
    0, 17, 19, 295, 327,                                      # read, pread, readv: pipes wait
}
NUMBERS = st.integers(0, 450).filter(lambda n: n not in EXCLUDED)
ARGUMENTS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 5, 8, 16, 64, 255, 256, 4096, 0x7FFF_FFFF, 0xFFFF_FFFF,
                     (1 << 64) - 1, (1 << 64) - 100, 1 << 63, 1 << 47,
                     DATA, DATA + 8, DATA + 0x100, DATA + DATA_SIZE - 8, DATA + DATA_SIZE,
                     CODE, 0xFFFF_FFFF_FFFF_F000]),
    st.integers(0, 300),
    st.integers(0, (1 << 64) - 1),
)
CALLS = st.lists(st.tuples(NUMBERS, st.lists(ARGUMENTS, min_size=6, max_size=6)),
                 min_size=1, max_size=24)

_MOVES = (b"\x48\xbf", b"\x48\xbe", b"\x48\xba", b"\x49\xba", b"\x49\xb8", b"\x49\xb9")  # rdi..r9


def _call(number: int, args: list[int]) -> bytes:
    code = b"\x48\xb8" + struct.pack("<Q", number)                  # mov rax, number
    for move, value in zip(_MOVES, args, strict=True):
        code += move + struct.pack("<Q", value)
    return code + b"\x0f\x05"                                       # syscall


def program(calls: list[tuple[int, list[int]]]) -> bytes:
    """A static ELF: close(0), close(1), close(2), the calls, exit_group(0)."""
    code = b"".join(_call(3, [fd, 0, 0, 0, 0, 0]) for fd in (0, 1, 2))
    code += b"".join(_call(number, args) for number, args in calls)
    code += _call(231, [0, 0, 0, 0, 0, 0])
    header_size = 64 + 2 * 56
    ehdr = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, CODE + header_size, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    text = struct.pack("<IIQQQQQQ", 1, 5, 0, CODE, CODE, header_size + len(code),
                       header_size + len(code), 0x1000)
    data = struct.pack("<IIQQQQQQ", 1, 6, 0, DATA, DATA, 0, DATA_SIZE, 0x1000)
    return ehdr + text + data + code


def _alarm(_signum, _frame):
    raise TimeoutError(f"a case took more than {CASE_SECONDS} s")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("syscall-fuzz")


def test_random_system_calls_never_break_ntsim(workspace: Path) -> None:
    previous = signal.signal(signal.SIGALRM, _alarm)
    cases = {"n": 0}

    @settings(max_examples=examples_per_format(), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(CALLS)
    def case(calls) -> None:
        cases["n"] += 1
        root = workspace / f"case{cases['n'] % 50}"      # a few roots, reused: files pile up less
        root.mkdir(exist_ok=True)
        path = root / "fuzz"
        path.write_bytes(program(calls))
        path.chmod(0o755)
        # a small machine: a call may ask for memory in earnest (MAP_POPULATE, mlock)
        machine = Machine(str(root), deterministic=True,
                          limits=Limits(max_memory=64 << 20, max_processes=16, max_threads=16))
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            process = machine.load(str(path), [], env={})
            try:
                machine.run()
                outcome = "exited" if process.exit_status < 128 else "killed by a signal"
            except Deadlock:
                outcome = "deadlock (every thread waits)"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            machine.console.restore()
        assert process.exit_status is not None or outcome.startswith("deadlock")
        count("linux system calls", outcome)

    try:
        case()
    finally:
        signal.signal(signal.SIGALRM, previous)
