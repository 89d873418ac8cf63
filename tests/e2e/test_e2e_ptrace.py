"""ptrace through the host's own strace, and chroot, under `ntsim run --root /` (issue 12).

strace is the tracer and the traced program both run as guests: strace's PTRACE_SEIZE,
syscall stops, GET_SYSCALL_INFO and process_vm_readv all go through LXSS. What strace
prints is compared with the same command run natively, call by call (name and result),
after removing what legitimately differs: addresses, pids, random bytes, the size of
the environment, and rseq (which LXSS does not implement: ENOSYS).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .harness import TIMEOUT
from .test_e2e_everyday import ENV, NTSIM, host

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]

LINE = re.compile(r"^(?:\[pid\s+(\d+)\] )?(.*)$")
CALL = re.compile(r"^([a-z_0-9]+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>(.*)$")
ATTACHED = re.compile(r"Process (\d+) attached")
RESULT = re.compile(r"\)\s+= (.*)$")
PID_RESULTS = {"set_tid_address", "getpid", "getppid", "gettid", "vfork", "fork", "clone", "clone3", "wait4",
               "rt_sigreturn"}   # (rt_sigreturn returns the interrupted call's result: a pid here)


def _result(name: str, text: str) -> str:
    match = RESULT.search(text)
    if match is None:
        return "?"
    result = match.group(1)
    if name in PID_RESULTS and re.fullmatch(r"\d+", result):
        return "PID"
    return re.sub(r"0x[0-9a-f]+", "ADDR", result)


def calls(stderr: bytes) -> list[list[tuple[str, str]]]:
    """strace's lines as one list of (call, result) per process, in the order the
    processes first appear; a call strace split (<unfinished ...>, <... resumed>) is
    joined; lines that are not calls (signals, "+++ exited") are kept whole."""
    processes: dict[str, list[tuple[str, str]]] = {}
    unfinished: dict[str, str] = {}
    attached: set[str] = set()
    for raw in stderr.decode(errors="replace").splitlines():
        pid, text = LINE.match(raw).groups()
        # the first process is unmarked until a second appears: a marked pid no
        # "Process N attached" announced is that first one
        pid = "main" if pid is None or pid not in attached else pid
        announced = ATTACHED.search(text)
        if announced:
            attached.add(announced.group(1))
            continue                      # "vfork(strace: Process N attached", then "<unfinished ...>"
        shown = processes.setdefault(pid, [])
        resumed = RESUMED.match(text)
        if resumed:
            name = resumed.group(1)
            unfinished.pop(pid, None)
            shown.append((name, _result(name, resumed.group(2))))
            continue
        call = CALL.match(text)
        if call:
            name = call.group(1)
            if text.endswith("<unfinished ...>"):
                unfinished[pid] = name
                continue
            if name == "rseq":
                continue                  # unsupported by LXSS: ENOSYS (glibc does without)
            shown.append((name, _result(name, text)))
        elif text.startswith(("+++", "---")):
            shown.append((re.sub(r"\d+", "N", text), ""))
    return [list(sequence) for sequence in processes.values() if sequence]


def strace(arguments: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    program = host("strace")
    native = subprocess.run([program, *arguments], cwd=cwd, env=ENV, capture_output=True,
                            timeout=TIMEOUT, check=False)
    if native.returncode != 0 and b"ptrace" in native.stderr:
        pytest.skip(f"strace cannot trace natively here: {native.stderr.decode().strip()[:200]}")
    simulated = subprocess.run([*NTSIM, program, *arguments], cwd=cwd, env=ENV,
                               capture_output=True, timeout=TIMEOUT, check=False)
    return native, simulated


def test_strace_true_shows_the_calls_native_strace_shows(tmp_path: Path) -> None:
    native, simulated = strace(["/bin/true"], tmp_path)
    assert (simulated.returncode, simulated.stdout) == (native.returncode, native.stdout) == (0, b"")
    traced = calls(simulated.stderr)
    assert traced == calls(native.stderr)
    assert traced[0][0] == ("execve", "0") and traced[0][-1] == ("+++ exited with N +++", "")


def test_strace_echo_and_its_output(tmp_path: Path) -> None:
    native, simulated = strace(["/bin/echo", "hi"], tmp_path)
    assert (simulated.returncode, simulated.stdout) == (native.returncode, native.stdout) == (0, b"hi\n")
    traced = calls(simulated.stderr)
    assert traced == calls(native.stderr)
    assert ("write", "3") in traced[0]


def test_strace_follows_forks(tmp_path: Path) -> None:
    """-f: PTRACE_O_TRACEFORK/VFORK/CLONE; the shell's two children are traced from
    their first instruction, and each process's calls are native's (the interleaving of
    processes is the scheduler's business)."""
    native, simulated = strace(["-f", "/bin/sh", "-c", "/bin/true; /bin/echo x"], tmp_path)
    assert (simulated.returncode, simulated.stdout) == (native.returncode, native.stdout) == (0, b"x\n")
    traced = calls(simulated.stderr)
    assert len(traced) == 3
    assert sorted(traced) == sorted(calls(native.stderr))


def test_strace_reports_a_signal_and_the_exit_status(tmp_path: Path) -> None:
    """A signal-delivery stop (the tracer passes SIGTERM on) and death by the signal."""
    native, simulated = strace(["/bin/sh", "-c", "kill -TERM $$"], tmp_path)
    # strace dies of the signal its tracee died of: natively -15 to subprocess, 128+15 from ntsim
    assert (native.returncode, simulated.returncode) == (-15, 128 + 15)
    traced = calls(simulated.stderr)
    assert traced == calls(native.stderr)
    assert traced[0][-1] == ("+++ killed by SIGTERM +++", "")


def test_ptrace_alone_is_refused_where_linux_refuses(tmp_path: Path) -> None:
    """PTRACE_ATTACH to oneself and to a missing pid; PTRACE_TRACEME twice."""
    python = host("python3")
    script = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n"
        "def call(*a):\n"
        "    r = libc.ptrace(*a); return r if r != -1 else -ctypes.get_errno()\n"
        "print(call(16, os.getpid(), None, None), call(16, 999999, None, None), flush=True)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print(call(0, 0, None, None), call(0, 0, None, None), flush=True); os._exit(0)\n"
        "os.waitpid(pid, 0)\n")
    native = subprocess.run([python, "-c", script], cwd=tmp_path, env=ENV, capture_output=True,
                            timeout=TIMEOUT, check=False)
    simulated = subprocess.run([*NTSIM, python, "-c", script], cwd=tmp_path, env=ENV,
                               capture_output=True, timeout=TIMEOUT, check=False)
    assert native.stdout == b"-1 -3\n0 -1\n"      # EPERM, ESRCH; then 0 and EPERM
    assert (simulated.returncode, simulated.stdout) == (0, native.stdout)



# --- gdb ---------------------------------------------------------------------------------------

SQUARE = "int square(int x) { return x * x; }\nint main(void) { return square(7) - 49; }\n"
GDB_SESSION = ["-batch", "-ex", "break square", "-ex", "run", "-ex", "bt", "-ex", "print x",
               "-ex", "finish", "-ex", "continue"]


def _gdb_output(completed: subprocess.CompletedProcess) -> bytes:
    """gdb's output less what differs legitimately: the inferior's pid, and (for a
    dynamically linked program) the load addresses of its libraries."""
    text = re.sub(rb"process \d+", b"process N", completed.stdout + completed.stderr)
    return re.sub(rb"0x[0-9a-f]{8,}", b"ADDR", text)


@pytest.mark.parametrize("compiler, flags", [("musl-gcc", ["-static"]), ("gcc", [])],
                         ids=["static", "dynamic-pie"])
def test_gdb_breakpoint_backtrace_finish(tmp_path: Path, compiler: str, flags: list[str]) -> None:
    """gdb as the tracer: a breakpoint (POKEDATA of int3, a SIGTRAP stop), a backtrace and
    `print` (PEEKDATA, /proc/PID/mem), `finish` (stepping over the breakpoint:
    SINGLESTEP), and the exit. For a PIE, gdb finds the load address in /proc/PID/auxv,
    reads the vDSO's section headers from memory, and libthread_db takes."""
    gdb, cc = host("gdb"), host(compiler)
    (tmp_path / "square.c").write_text(SQUARE)
    subprocess.run([cc, "-g", "-O0", *flags, "-o", "square", "square.c"], cwd=tmp_path, check=True,
                   timeout=TIMEOUT)
    program = str(tmp_path / "square")
    native = subprocess.run([gdb, *GDB_SESSION, program], cwd=tmp_path, env=ENV,
                            capture_output=True, timeout=TIMEOUT, check=False)
    if b"ptrace" in native.stderr:
        pytest.skip(f"gdb cannot trace natively here: {native.stderr.decode()[:200]}")
    simulated = subprocess.run([*NTSIM, gdb, *GDB_SESSION, program], cwd=tmp_path, env=ENV,
                               capture_output=True, timeout=TIMEOUT, check=False)
    assert b"Breakpoint 1, square (x=7)" in native.stdout
    assert simulated.returncode == 0
    assert _gdb_output(simulated).decode() == _gdb_output(native).decode()


def test_strace_attaches_to_a_sleeping_process(tmp_path: Path) -> None:
    """strace -p: PTRACE_SEIZE and PTRACE_INTERRUPT of a process that is not the tracer's
    child, asleep in clock_nanosleep: the interrupt cuts the sleep short, and the sleep
    goes on as restart_syscall; the tracer's wait4 sees a non-child's stops and exit."""
    strace_path = host("strace")
    script = f"/bin/sleep 2 & /bin/sleep 1; {strace_path} -p $! 2>&1; wait"
    native = subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, env=ENV, capture_output=True,
                            timeout=TIMEOUT, check=False)
    if b"Operation not permitted" in native.stdout:
        pytest.skip("strace -p is not permitted natively here")
    simulated = subprocess.run([*NTSIM, "/bin/sh", "-c", script], cwd=tmp_path, env=ENV,
                               capture_output=True, timeout=TIMEOUT, check=False)
    assert simulated.returncode == native.returncode == 0
    traced = calls(simulated.stdout)
    assert traced == calls(native.stdout)
    assert traced[0][0] == ("restart_syscall", "0")
