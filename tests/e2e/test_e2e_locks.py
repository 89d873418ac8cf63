"""File locks (examples/linux/locks.c): flock, POSIX record locks and OFD locks between
processes, compared line by line with the native run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]


def test_locks_match_native(tmp_path: Path) -> None:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
        install(root, "locks")
    native = run_native("./locks", cwd=native_root)
    simulated = run_guest("./locks", root=ntsim_root)
    assert native.status == 0 and b"Resource deadlock would occur" in native.stdout
    assert simulated == native
