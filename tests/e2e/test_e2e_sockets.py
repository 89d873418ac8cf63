"""socketpair(AF_UNIX, SOCK_STREAM), under ntsim and natively: the native run is the oracle.

`sockets` (examples/linux) prints what Linux does with a socket pair — data both ways,
fstat, /proc/self/fd, send/recv flags, vectors, FIONBIO, poll and epoll readiness,
shutdown, names, options, a forked child, EPIPE — without printing anything that differs
between runs. Python's asyncio, whose event loop wakes itself through a socketpair, is
the program a user would notice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .harness import install, ntsim, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

PYTHON = "/usr/bin/python3"
ASYNCIO = 'import asyncio; asyncio.run(asyncio.sleep(0.01)); print("ok")'


@pytest.mark.parametrize("options", [(), ("--deterministic",)], ids=["plain", "deterministic"])
def test_matches_native(options: tuple[str, ...], root: Path) -> None:
    name = install(root, "sockets")
    native = run_native(name, cwd=root)
    simulated = run_guest(name, root=root, options=options)
    assert native.status == 0
    assert simulated == native


def test_message_socket_pairs_match_native(root: Path) -> None:
    """SOCK_DGRAM and SOCK_SEQPACKET pairs (lxcore message sockets, unixmsg.py)."""
    name = install(root, "sockets")
    native = run_native(name, ("dgram",), cwd=root)
    simulated = run_guest(name, ("dgram",), root=root)
    assert native.stdout.count(b": ok\n") == 2
    assert simulated == native


@pytest.mark.skipif(not os.access(PYTHON, os.X_OK), reason=f"{PYTHON} is not installed on this machine")
def test_host_python_runs_asyncio(tmp_path: Path) -> None:
    """The host's own python3, its standard library read through --root /: asyncio's
    event loop makes its self-pipe with socketpair, sets it non-blocking, registers it
    with epoll, and sends and receives a byte on it."""
    native = run_native(PYTHON, ("-c", ASYNCIO), cwd=tmp_path)
    simulated = ntsim("run", "--root", "/", PYTHON, "-c", ASYNCIO, cwd=tmp_path)
    assert native.stdout == b"ok\n"
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
    assert b"Traceback" not in simulated.stderr
