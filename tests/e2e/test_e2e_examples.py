"""Every example, run under ntsim and natively: stdout, stderr and exit status must match.

Each case runs in a fresh root that holds the program (as `./name`) and, for the file
programs, a small tree of files, links and directories. Both runs start in that root
with the same arguments, standard input and environment, so any difference is ntsim's.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .harness import EXAMPLES, TIMEOUT, install, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

TEXT = b"first line\nsecond line, with \xc3\xa9\n\nlast line without a newline"
BINARY = random.Random(7).randbytes(3 * 4096 + 123)    # crosses cat's 4096-byte reads


def populate(root: Path) -> None:
    """Files for cat and dirlist: regular files, a subdirectory, links of every kind."""
    (root / "notes.txt").write_bytes(TEXT)
    (root / "binary.bin").write_bytes(BINARY)
    tree = root / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "sub" / "inner.txt").write_bytes(b"inside\n")
    for name in ("file.txt", ".hidden", "Upper", "upper", "with space", "back\\slash", "café", "empty"):
        (tree / name).write_bytes(name.encode() + b"\n" if name != "empty" else b"")
    (tree / "link-to-file").symlink_to("file.txt")
    (tree / "link-to-sub").symlink_to("sub")
    (tree / "link-up").symlink_to("../notes.txt")
    (tree / "dangling").symlink_to("nowhere")
    (tree / "loop").symlink_to("loop")
    os.mkfifo(tree / "fifo")


@dataclass(frozen=True)
class Case:
    program: str
    args: tuple[str, ...] = ()
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)   # added to this process's environment
    setup: Callable[[Path], None] | None = None

    def __str__(self) -> str:
        return " ".join([self.program, *(repr(a) if not a or " " in a else a for a in self.args)])


CASES = [
    # the four ways to build hello
    Case("hello"),
    Case("hello-glibc"),
    Case("hello-pie"),
    Case("hello-asm"),
    # cat: standard input, files, and the errors open and read can give
    Case("cat", stdin=TEXT),
    Case("cat", stdin=BINARY),
    Case("cat", ("-",), stdin=b""),
    Case("cat", ("notes.txt", "binary.bin", "tree/sub/inner.txt"), setup=populate),
    Case("cat", ("notes.txt", "-", "tree/empty", "-"), stdin=b"from stdin\n", setup=populate),
    Case("cat", ("notes.txt", "missing.txt", "binary.bin"), setup=populate),
    Case("cat", ("tree/link-to-file", "tree/link-up", "tree/link-to-sub/inner.txt"), setup=populate),
    Case("cat", ("tree",), setup=populate),                     # EISDIR from read
    Case("cat", ("tree/dangling",), setup=populate),            # ENOENT through a link
    Case("cat", ("tree/loop",), setup=populate),                # ELOOP
    Case("cat", ("notes.txt/",), setup=populate),               # ENOTDIR: the slash asks for a directory
    Case("cat", ("notes.txt/.",), setup=populate),
    Case("cat", ("notes.txt/..",), setup=populate),
    Case("cat", ("tree/link-to-file/",), setup=populate),
    Case("cat", ("tree/sub/../file.txt", "tree/./sub//inner.txt"), setup=populate),
    Case("cat", ("",), setup=populate),                         # ENOENT: "" names nothing
    Case("cat", ("/dev/null", "/dev/null/"), setup=populate),
    # dirlist: a populated directory, and the ways opendir fails
    Case("dirlist", ("tree",), setup=populate),
    Case("dirlist", (), setup=populate),
    Case("dirlist", ("tree/sub",), setup=populate),
    Case("dirlist", ("tree/link-to-sub",), setup=populate),
    Case("dirlist", ("tree/link-to-sub/",), setup=populate),
    Case("dirlist", ("tree/sub/..",), setup=populate),
    Case("dirlist", ("missing",), setup=populate),
    Case("dirlist", ("notes.txt",), setup=populate),            # ENOTDIR
    Case("dirlist", ("tree/fifo",), setup=populate),            # ENOTDIR, not the volume's refusal
    Case("dirlist", ("tree/link-to-file",), setup=populate),
    Case("dirlist", ("",), setup=populate),
    # pure computation and the syscall round trip
    Case("compute", ("1000",)),
    Case("compute", ("50000",)),
    Case("getpid_loop", ("1000",)),
    Case("getpid_loop"),
    # exit status: the parent sees N & 255
    *(Case("exitcode", args) for args in [(), ("0",), ("1",), ("42",), ("255",), ("256",),
                                          ("300",), ("-1",)]),
    # arguments and the environment
    Case("env", ("NTSIM_E2E_VAR", "x", "two words", ""), env={"NTSIM_E2E_VAR": "bar baz"}),
    Case("env", ("NTSIM_E2E_UNSET",)),
    Case("env", ("NTSIM_E2E_VAR", os.fsdecode(b"caf\xe9-not-utf8")),
         env={"NTSIM_E2E_VAR": os.fsdecode(b"\xff\xfe=")}),
    Case("env"),
]


def environment(case: Case) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NTSIM_E2E_UNSET"}
    env.update(case.env)
    return env


@pytest.mark.parametrize("case", CASES, ids=str)
def test_example_matches_native(case: Case, root: Path) -> None:
    program = install(root, case.program)
    if case.setup:
        case.setup(root)
    env = environment(case)
    native = run_native(program, case.args, cwd=root, stdin=case.stdin, env=env)
    simulated = run_guest(program, case.args, root=root, stdin=case.stdin, env=env)
    assert simulated == native


def test_cat_missing_file_reports_on_stderr(root: Path) -> None:
    """The error path in full: exit 1, stdout untouched, the message on stderr."""
    program = install(root, "cat")
    native = run_native(program, ("missing.txt",), cwd=root)
    simulated = run_guest(program, ("missing.txt",), root=root)
    assert native.status == 1 and native.stdout == b""
    assert native.stderr_lines == ["cat: missing.txt: No such file or directory"]
    assert simulated == native


def test_fileops_in_empty_root(tmp_path: Path) -> None:
    """fileops makes, changes and removes files in its current directory: each run gets
    its own empty one, and both must end empty again."""
    native_root, simulated_root = tmp_path / "native", tmp_path / "ntsim"
    native_root.mkdir()
    simulated_root.mkdir()
    program = str(EXAMPLES / "fileops")        # outside the root: the root stays empty
    native = run_native(program, cwd=native_root)
    simulated = run_guest(program, root=simulated_root)
    assert native.status == 0
    assert simulated == native
    assert sorted(os.listdir(simulated_root)) == sorted(os.listdir(native_root)) == []


def test_fileops_refuses_existing_directory(tmp_path: Path) -> None:
    native_root, simulated_root = tmp_path / "native", tmp_path / "ntsim"
    for directory in (native_root, simulated_root):
        (directory / "fileops-tmp").mkdir(parents=True)
    program = str(EXAMPLES / "fileops")
    native = run_native(program, cwd=native_root)
    simulated = run_guest(program, root=simulated_root)
    assert native.status == 2
    assert simulated == native


def closed_pipe_status(command: list[str], cwd: Path) -> int:
    """Start `command` writing into a pipe, read a little, close the pipe: its status."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.read(10)
    process.stdout.close()
    status = process.wait(timeout=TIMEOUT)
    return 128 - status if status < 0 else status


def test_cat_into_closed_pipe_dies_of_sigpipe(root: Path) -> None:
    """`cat big | head -c 10`: the writer is killed by SIGPIPE (status 128+13), as natively."""
    program = install(root, "cat")
    (root / "big.bin").write_bytes(BINARY * 100)           # far more than a pipe holds
    native = closed_pipe_status([str(root / "cat"), "big.bin"], root)
    simulated = closed_pipe_status([sys.executable, "-m", "ntsim", "run", "--root", str(root),
                                    program, "big.bin"], root)
    assert simulated == native
