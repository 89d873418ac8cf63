"""Memory mappings and dynamic linking, run under ntsim and natively.

`mapping` checks mmap, mprotect, munmap, mremap, msync, madvise and mincore step by step.
The dynamically linked programs are this machine's own (/bin/ls, /bin/cat, ... through
glibc's ld.so) and musl's `hello-dynamic`: each gets a root holding only the program, its
interpreter and its libraries (copied from this machine, as `ldd` lists them), so the
loader finds everything under the root and nothing outside it. The same kind of programs
also run with `--root /`, on this machine's own file system.

ntsim's own diagnostics on stderr ("ntsim: lxss: unsupported system call ...", which
name a call some other part of ntsim has yet to implement) are set aside before stderr
is compared; everything the program itself writes is compared.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .harness import Outcome, install, ntsim, run_guest, run_native

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

NTSIM_NOTE = re.compile(rb"^ntsim: lxss: unsupported system call .*\n", re.MULTILINE)
MUSL_LOADER = Path("/lib/ld-musl-x86_64.so.1")


def program_output(outcome: Outcome) -> Outcome:
    """The outcome without ntsim's notes about calls it does not implement."""
    return Outcome(outcome.status, outcome.stdout, NTSIM_NOTE.sub(b"", outcome.stderr))


# --- mmap and friends ------------------------------------------------------------------


def test_mapping_matches_native(root: Path) -> None:
    program = install(root, "mapping")
    native = run_native(program, cwd=root)
    simulated = run_guest(program, root=root)
    assert native.status == 0 and native.stdout.endswith(b"mapping: all steps ok\n")
    assert simulated == native
    assert sorted(os.listdir(root)) == ["mapping"]        # its data file was removed


@pytest.mark.parametrize("mode, signal", [("sigbus", 7), ("hole", 11)])
def test_mapping_faults_like_native(root: Path, mode: str, signal: int) -> None:
    """Past the end of a mapped file is SIGBUS; an unmapped hole is SIGSEGV."""
    program = install(root, "mapping")
    native = run_native(program, (mode,), cwd=root)
    simulated = run_guest(program, (mode,), root=root)
    assert native.status == 128 + signal
    assert (simulated.status, simulated.stdout) == (native.status, native.stdout)


# --- dynamic linking -----------------------------------------------------------------


def host_libraries(program: str) -> list[str]:
    """The interpreter and libraries `ldd` says a host program needs."""
    listing = subprocess.run(["ldd", program], capture_output=True, text=True, check=False).stdout
    return [path for path in re.findall(r"(/\S+)", listing) if os.path.exists(path)]


def dynamic_root(root: Path, programs: list[str]) -> None:
    """Copy host programs, their libraries and the name-service files into the root."""
    for program in programs:
        for path in [program, *host_libraries(program)]:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(path), target)
    (root / "etc").mkdir(exist_ok=True)
    for name in ("passwd", "group", "nsswitch.conf"):
        if os.path.exists(f"/etc/{name}"):
            shutil.copy2(f"/etc/{name}", root / "etc" / name)
    (root / "notes.txt").write_bytes(b"first line\nsecond line\n")


def host_program(path: str) -> str:
    if not os.path.exists(path) or not host_libraries(path):
        pytest.skip(f"{path} is not a dynamically linked program on this machine")
    return path


DYNAMIC_CASES = [
    ("/bin/echo", ("hello", "dynamic world")),
    ("/bin/cat", ("notes.txt", "etc/group")),
    ("/bin/ls", ("etc",)),
    ("/bin/ls", ("-1", "-a", ".")),
    ("/usr/bin/env", ()),
    ("/usr/bin/id", ()),
    ("/bin/uname", ("-s", "-m", "-o")),
    ("/bin/ls", ("-la", "etc")),              # lgetxattr and getxattr for labels and ACLs
]


@pytest.mark.parametrize("program, args", DYNAMIC_CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_host_dynamic_program_matches_native(root: Path, program: str, args: tuple[str, ...]) -> None:
    """The host's glibc programs, through its own ld.so and libc.so.6, mapped with mmap."""
    dynamic_root(root, [host_program(program)])
    relative = program.lstrip("/")
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "NTSIM_E2E": "dynamic"}
    native = run_native(relative, args, cwd=root, env=env)
    simulated = run_guest(relative, args, root=root, env=env)
    assert native.status == 0
    assert program_output(simulated) == native


# --- the host's own root ---------------------------------------------------------------
#
# "The host's dynamic glibc programs through `--root /`": no copied tree, the guest sees
# this machine's whole file system (its ld.so, libc.so.6, locale files, /etc/passwd). The
# guest starts in /, so every file is named by its absolute path, in a directory this
# test makes under /tmp and fixes the times of (ls -la shows them, and its `..`).

FIXED_TIME = 981173106          # 2001-02-03 04:05:06 UTC
FRUIT = b"pear\napple\nfig\nbanana\ncherry\n"
ROOT_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "NTSIM_E2E": "root"}


@pytest.fixture
def workdir():
    """/tmp/ntsim-root-XXXX/work holding fruit.txt, an empty directory and a link."""
    with tempfile.TemporaryDirectory(prefix="ntsim-root-", dir="/tmp") as top:
        work = Path(top) / "work"
        (work / "empty").mkdir(parents=True)
        (work / "fruit.txt").write_bytes(FRUIT)
        (work / "link").symlink_to("fruit.txt")
        for path in (work / "link", work / "fruit.txt", work / "empty", work, Path(top)):
            os.utime(path, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)
        yield work


# (program, arguments); "{work}" stands for the directory the fixture made
ROOT_CASES = [
    ("/bin/ls", ("{work}",)),
    ("/bin/ls", ("-la", "{work}")),
    ("/bin/cat", ("{work}/fruit.txt",)),
    ("/usr/bin/sort", ("{work}/fruit.txt",)),
    ("/usr/bin/sha256sum", ("{work}/fruit.txt",)),
    ("/usr/bin/wc", ("{work}/fruit.txt",)),
    ("/usr/bin/head", ("-n", "2", "{work}/fruit.txt")),
    ("/usr/bin/env", ()),
    ("/usr/bin/seq", ("2", "3", "11")),
    ("/bin/dash", ("-c", "echo $((1+2))")),
    # dash forking and executing glibc programs, joined by a pipe
    ("/bin/dash", ("-c", "cd {work} && sort fruit.txt | head -n 2; echo status $?")),
    # bash (which asks getpeername of its stdin) with a pipeline and its PIPESTATUS
    ("/bin/bash", ("-c", "for i in 1 2 3; do echo $i; done | sort -r; echo status ${PIPESTATUS[@]}")),
    # coreutils' timeout: a POSIX timer (timer_create) ends the command it runs
    ("/bin/dash", ("-c", "timeout 0.3 sleep 5; echo status $?")),
    # programs at real sizes: python3 importing ssl (hundreds of mmaps, ~10k page
    # faults), xz compressing (a 64 MiB dictionary reserved, a few MiB touched)
    ("/usr/bin/python3", ("-c", "import ssl; print(ssl.OPENSSL_VERSION, ssl.HAS_TLSv1_3)")),
    ("/bin/dash", ("-c", "seq 1 40000 | xz -c -T1 | xz -dc | sha256sum")),
]


@pytest.mark.parametrize("program, args", ROOT_CASES,
                         ids=[" ".join((p, *a)).replace("{work}", "W") for p, a in ROOT_CASES])
def test_host_program_with_the_host_root_matches_native(workdir: Path, program: str,
                                                        args: tuple[str, ...]) -> None:
    if not os.path.exists(program):
        pytest.skip(f"{program} is not installed on this machine")
    host_program(program)
    args = tuple(arg.replace("{work}", str(workdir)) for arg in args)
    native = run_native(program, args, cwd=workdir, env=ROOT_ENV)
    simulated = ntsim("run", "--root", "/", program, *args, cwd=workdir, env=ROOT_ENV)
    assert native.status == 0
    assert program_output(simulated) == native


# --- memory at the sizes programs use ------------------------------------------------------

BIGMEM_CASES = [("malloc", "50"), ("lazy", "256"), ("dontneed",), ("fork", "64"), ("sharedfork",)]


@pytest.mark.parametrize("args", BIGMEM_CASES, ids=" ".join)
def test_memory_at_scale_matches_native(root: Path, args: tuple[str, ...]) -> None:
    """50 MiB malloc'd and written page by page; 256 MiB mapped and four pages touched;
    MADV_DONTNEED zeroing; a fork after 64 MiB touched, parent and child each writing all
    of it (copy-on-write); a shared file mapping written by a forked child."""
    program = install(root, "bigmem")
    native = run_native(program, args, cwd=root)
    simulated = run_guest(program, args, root=root)
    assert native.status == 0 and b"NO" not in native.stdout
    assert simulated == native


def test_touched_memory_is_counted_page_by_page(root: Path) -> None:
    """--stats: 256 MiB mapped and 4 pages touched shows as 256 MiB reserved and
    committed, but only the pages touched (plus the program's own) as touched."""
    program = install(root, "bigmem")
    simulated = run_guest(program, ("lazy", "256"), root=root, options=("--stats",))
    assert simulated.status == 0
    row = next(line for line in simulated.stderr.decode().splitlines()
               if line.strip().startswith("bigmem"))
    reserved, committed, touched = (figure.strip() for figure in
                                    row.split("lxss", 1)[1].split(",")[0].split("/"))
    assert reserved.endswith("MiB") and float(reserved.split()[0]) >= 256
    assert committed.endswith("MiB") and float(committed.split()[0]) >= 256
    assert touched.endswith("KiB") and float(touched.split()[0]) < 512


def test_ld_so_run_as_a_program_loads_the_program_itself(root: Path) -> None:
    """`ld.so PROGRAM`: the kernel maps only ld.so; ld.so maps the program with mmap."""
    libraries = host_libraries(host_program("/bin/echo"))
    interpreter = next((p for p in libraries if "ld-linux" in p), None)
    if interpreter is None:
        pytest.skip("no glibc ld.so on this machine")
    dynamic_root(root, ["/bin/echo"])
    args = ("bin/echo", "loaded", "by", "ld.so")
    native = run_native(interpreter.lstrip("/"), args, cwd=root)
    simulated = run_guest(interpreter.lstrip("/"), args, root=root)
    assert native.stdout == b"loaded by ld.so\n"
    assert program_output(simulated) == native


def test_musl_dynamic_program_matches_native(root: Path) -> None:
    if not MUSL_LOADER.exists():
        pytest.skip("musl's loader /lib/ld-musl-x86_64.so.1 is not installed (Debian: musl)")
    program = install(root, "hello-dynamic")
    (root / "lib").mkdir()
    shutil.copy2(os.path.realpath(MUSL_LOADER), root / "lib" / MUSL_LOADER.name)
    native = run_native(program, cwd=root)
    simulated = run_guest(program, root=root)
    assert native.status == 0
    assert program_output(simulated) == native


def test_a_missing_interpreter_is_one_line_and_status_126(root: Path) -> None:
    """No ld-musl under the root: the program cannot be executed; one line says why."""
    program = install(root, "hello-dynamic")
    simulated = run_guest(program, root=root)
    assert simulated.status == 126
    assert simulated.stderr_lines == [line for line in simulated.stderr_lines
                                      if "ld-musl-x86_64.so.1 not found under the root" in line]
    assert len(simulated.stderr_lines) == 1


def test_bash_hears_that_its_input_is_not_a_socket(root: Path) -> None:
    """bash asks getpeername of its standard input (was it started by sshd?). No fd is
    a socket under ntsim, and Linux's answer for a non-socket, ENOTSOCK, is exact: no
    warning, no difference."""
    if not os.path.exists("/bin/bash"):
        pytest.skip("/bin/bash is not installed on this machine")
    host_program("/bin/bash")
    native = run_native("/bin/bash", ("-c", "echo hi"), cwd=root, env=ROOT_ENV)
    simulated = ntsim("run", "--root", "/", "/bin/bash", "-c", "echo hi", cwd=root, env=ROOT_ENV)
    assert simulated == native == Outcome(0, b"hi\n", b"")
