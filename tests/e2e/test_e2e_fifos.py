"""Named pipes (FIFOs), under ntsim and natively: the native run is the oracle.

`fifos` (examples/linux) prints what Linux does with a FIFO — opens that wait for the
other side in either order, O_NONBLOCK opens, end of file, EPIPE and SIGPIPE, two links
to one FIFO, fstat and lseek, a blocked open a signal interrupts — without printing
anything that differs between runs. busybox shells make FIFOs with mkfifo and pass data
through them between processes. Each run has its own root: natively a FIFO is a host
FIFO, under ntsim a host file whose lxfs attributes say S_IFIFO.

The trace then shows what a student should see: the FIFO's open is an NT named pipe,
made by NtCreateNamedPipeFile on \\Device\\NamedPipe and waited on with FSCTL_PIPE_LISTEN.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .harness import install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

BUSYBOX = "/bin/busybox"
needs_busybox = pytest.mark.skipif(not os.path.exists(BUSYBOX),
                                   reason="busybox-static (/bin/busybox) is not installed")
ENV = {"PATH": "/bin", "HOME": "/", "LANG": "C"}


def two_roots(tmp_path: Path) -> tuple[Path, Path]:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
    return native_root, ntsim_root


@pytest.mark.parametrize("options", [(), ("--deterministic",)], ids=["real clock", "deterministic"])
def test_fifos_match_native(options: tuple[str, ...], tmp_path: Path) -> None:
    native_root, ntsim_root = two_roots(tmp_path)
    name = install(native_root, "fifos")
    install(ntsim_root, "fifos")
    native = run_native(name, cwd=native_root)
    simulated = run_guest(name, root=ntsim_root, options=options)
    assert native.status == 0, native.stderr
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)
    assert simulated.stderr == b""
    assert not (ntsim_root / "fifos-tmp").exists()     # it cleaned up after itself


@needs_busybox
@pytest.mark.parametrize("script", [
    "mkfifo f; (echo hi > f &); cat f; rm f",                          # the writer opens first
    "mkfifo f; cat f & echo hello > f; wait; rm f",                    # the reader opens first
    "mkfifo f; { echo one; echo two; } > f & while read x; do echo got $x; done < f; wait; rm f",
    "mkfifo f; ln f g; (echo through the link > g &); cat f; rm f g",  # one pipe, two names
    "mkfifo f; exec 3<>f; echo kept >&3; read line <&3; echo $line; rm f",   # O_RDWR never waits
    "mkfifo f; seq 1 20000 > f & wc -l < f; wait; rm f",               # more than a pipe holds
    "mkfifo f; ls -l f | cut -c1; test -p f && echo is a fifo; rm f",
])
def test_busybox_fifo_matches_native(script: str, tmp_path: Path) -> None:
    native_root, ntsim_root = two_roots(tmp_path)
    for root in (native_root, ntsim_root):
        (root / "bin").mkdir()
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    args = ("sh", "-c", script)
    native = run_native("bin/busybox", args, cwd=native_root, env=ENV)
    simulated = run_guest("bin/busybox", args, root=ntsim_root, env=ENV)
    assert native.status == 0, native.stderr
    assert simulated == native
    assert sorted(os.listdir(ntsim_root)) == sorted(os.listdir(native_root))


def test_a_fifo_open_is_an_nt_named_pipe_in_the_trace(root: Path, tmp_path: Path) -> None:
    """The open that made the pipe, and the open that waited for the other side, each
    show their NT calls underneath; both name the node's pipe on NPFS."""
    trace = tmp_path / "trace.jsonl"
    outcome = run_guest(install(root, "fifos"), root=root, options=("--trace-file", str(trace)))
    assert outcome.status == 0
    events = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    by_seq = {event["seq"]: event for event in events}

    def opens_of_the_fifo(nt_name: str) -> list[dict]:
        return [e for e in events if e["layer"] == "nt" and e["name"] == nt_name
                and str(e["args"].get("ObjectName", "")).startswith("\\Device\\NamedPipe\\Lxss.Fifo.")]

    created = opens_of_the_fifo("NtCreateNamedPipeFile")
    joined = opens_of_the_fifo("NtOpenFile")
    assert created and joined
    assert {e["args"]["ObjectName"] for e in created} == {e["args"]["ObjectName"] for e in joined}
    for event in created + joined:
        parent = by_seq[event["parent"]]
        assert (parent["layer"], parent["name"]) == ("personality", "open")
        assert parent["args"]["pathname"] in ("fifos-tmp/fifo", "fifos-tmp/fifo-link") \
            or parent["args"]["pathname"].startswith("/proc/self/fd/")       # opened again
    listens = [e for e in events if e["layer"] == "nt" and e["name"] == "NtFsControlFile"
               and e["args"]["FsControlCode"] == "FSCTL_PIPE_LISTEN"]
    results = {e["result"] for e in listens}
    assert "STATUS_SUCCESS" in results           # an open that waited for its partner
    assert "STATUS_PIPE_CONNECTED" in results    # an open whose partner was already there
