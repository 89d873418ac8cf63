"""The host's own programs under `ntsim run --root /`, as a new user tries them (issue 12).

Each test runs the same command natively and under ntsim and compares what a user sees.
The programs are Debian's (coreutils, python3, sqlite3...): a test skips, saying why,
where one is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import REPO, TIMEOUT

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]
NTSIM = [sys.executable, "-m", "ntsim", "run", "--root", "/"]
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8", "TZ": "UTC",
       "PYTHONPATH": str(REPO)}


def host(program: str) -> str:
    path = shutil.which(program, path="/usr/bin:/bin")
    if path is None:
        pytest.skip(f"{program} is not installed on this machine")
    return os.path.realpath(path) if program != "python3" else path


def shell(script: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """`sh -c SCRIPT` with $NTSIM (the ntsim run command) and VARIABLES set."""
    env = dict(ENV, NTSIM=" ".join(NTSIM), **variables)
    return subprocess.run(["/bin/sh", "-c", script], cwd=cwd, env=env, capture_output=True,
                          timeout=TIMEOUT, check=False)


def both(script: str, cwd: Path, program: str) -> tuple[subprocess.CompletedProcess, ...]:
    """SCRIPT with $RUN the program natively, then with $RUN it under ntsim."""
    native = shell(script, cwd, RUN=program)
    simulated = shell(script, cwd, RUN=" ".join(NTSIM) + " " + program)
    return native, simulated


# --- the guest starts where ntsim was started --------------------------------------------------


def test_guest_starts_in_the_current_directory(tmp_path: Path) -> None:
    wc = host("wc")
    (tmp_path / "lines.txt").write_bytes(b"a\nb\nc\n")
    native, simulated = both("$RUN -l lines.txt", tmp_path, wc)
    assert native.returncode == 0
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, b"")


def test_cwd_option_and_a_directory_outside_the_root(tmp_path: Path) -> None:
    if not os.path.exists("/bin/busybox"):
        pytest.skip("Debian's busybox-static (/bin/busybox) is not installed")
    inside = tmp_path / "root" / "sub"
    inside.mkdir(parents=True)
    root = str(tmp_path / "root")
    run = [sys.executable, "-m", "ntsim", "run", "--root", root]
    env = dict(ENV)
    shutil.copy2("/bin/busybox", inside / "pwd")     # a static program: the root has no libc
    started_inside = subprocess.run([*run, "./pwd"], cwd=inside, env=env, capture_output=True,
                                    timeout=TIMEOUT, check=False)
    chosen = subprocess.run([*run, "--cwd", "/sub", str(inside / "pwd")],
                            cwd=tmp_path, env=env, capture_output=True, timeout=TIMEOUT, check=False)
    outside = subprocess.run([*run, str(inside / "pwd")], cwd=tmp_path, env=env,
                             capture_output=True, timeout=TIMEOUT, check=False)
    missing = subprocess.run([*run, "--cwd", "/nowhere", str(inside / "pwd")], cwd=tmp_path, env=env,
                             capture_output=True, timeout=TIMEOUT, check=False)
    assert started_inside.stdout == b"/sub\n"      # the current directory, as the guest names it
    assert chosen.stdout == b"/sub\n"
    assert outside.stdout == b"/\n"                # outside the root: the root
    assert missing.returncode != 0 and b"/nowhere" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1


# --- a redirected standard stream is that file --------------------------------------------------


def test_two_readers_share_a_redirected_files_offset(tmp_path: Path) -> None:
    head, wc = host("head"), host("wc")
    (tmp_path / "numbers").write_bytes(b"".join(b"%d\n" % n for n in range(1, 50001)))
    script = "{ $RUN -n1; $WC -l; } < numbers"
    native = shell(script, tmp_path, RUN=head, WC=wc)
    simulated = shell(script, tmp_path, RUN=" ".join(NTSIM) + " " + head, WC=" ".join(NTSIM) + " " + wc)
    assert native.stdout == b"1\n49999\n"
    assert (simulated.stdout, simulated.stderr) == (native.stdout, b"")


def test_cat_refuses_to_append_a_file_to_itself(tmp_path: Path) -> None:
    cat = host("cat")
    (tmp_path / "f").write_bytes(b"x" * 4000)
    native = shell("$RUN f >> f", tmp_path, RUN=cat)
    (tmp_path / "f").write_bytes(b"x" * 4000)
    simulated = shell("$RUN f >> f", tmp_path, RUN=" ".join(NTSIM) + " " + cat)
    assert native.returncode == 1 and b"input file is output file" in native.stderr
    assert simulated.returncode == 1
    assert simulated.stderr == native.stderr
    assert (tmp_path / "f").stat().st_size == 4000


def test_output_redirected_to_a_file_is_seekable_and_appends(tmp_path: Path) -> None:
    python = host("python3")
    program = ("import os, sys; print(os.lseek(1, 0, os.SEEK_CUR), os.fstat(1).st_ino == "
               "os.stat('out').st_ino, file=sys.stderr); print('line')")
    script = "echo first > out; $RUN -c \"$P\" >> out 2>err; echo last >> out; cat out err"
    native = shell(script, tmp_path, RUN=python, P=program)
    simulated = shell(script, tmp_path, RUN=" ".join(NTSIM) + " " + python, P=program)
    assert native.stdout == b"first\nline\nlast\n0 True\n"
    assert simulated.stdout == native.stdout


# --- ntsim's own notes stay off the guest's streams --------------------------------------------


UNSUPPORTED = """
import os, sys
for _ in range(3):
    try:
        os.sched_rr_get_interval(0)     # a call ntsim does not model
    except OSError:
        pass
sys.stderr.write("the guest's last line\\n")
"""


def test_an_unsupported_call_is_noted_once_after_the_guests_output(tmp_path: Path) -> None:
    python = host("python3")
    loud = subprocess.run([*NTSIM, python, "-c", UNSUPPORTED], cwd=tmp_path, env=ENV,
                          capture_output=True, timeout=TIMEOUT, check=False)
    quiet = subprocess.run([*NTSIM, "--quiet", python, "-c", UNSUPPORTED], cwd=tmp_path, env=ENV,
                           capture_output=True, timeout=TIMEOUT, check=False)
    lines = loud.stderr.decode().splitlines()
    assert lines[0] == "the guest's last line"
    assert len(lines) == 2 and "sched_rr_get_interval" in lines[1] and lines[1].startswith("ntsim: ")
    assert quiet.stderr == b"the guest's last line\n"


# --- locks: the programs that need them --------------------------------------------------------


SQLITE_PROGRAM = """
import sqlite3
connection = sqlite3.connect("t.db")
connection.execute("create table t(a integer, b text)")
with connection:
    connection.executemany("insert into t values (?, ?)", [(i, str(i * i)) for i in range(2000)])
print(connection.execute("select count(*), sum(a), max(b) from t").fetchone())
connection.close()
print(sqlite3.connect("t.db").execute("pragma integrity_check").fetchone())
"""


def test_python_sqlite3_on_a_file(tmp_path: Path) -> None:
    python = host("python3")
    native = shell('rm -f t.db; $RUN -c "$P"', tmp_path, RUN=python, P=SQLITE_PROGRAM)
    simulated = shell('rm -f t.db; $RUN -c "$P"', tmp_path, RUN=" ".join(NTSIM) + " " + python,
                      P=SQLITE_PROGRAM)
    assert native.stdout == b"(2000, 1999000, '99856')\n('ok',)\n"
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, b"")


def test_the_sqlite3_shell(tmp_path: Path) -> None:
    sqlite3 = host("sqlite3")
    script = ('rm -f s.db; $RUN s.db "create table x(a); insert into x values (1), (2); '
              'begin; insert into x values (3); commit; select sum(a) from x;"; $RUN s.db "pragma integrity_check"')
    native, simulated = both(script, tmp_path, sqlite3)
    assert native.stdout == b"6\nok\n"
    assert (simulated.stdout, simulated.stderr) == (native.stdout, native.stderr)


def test_flock_between_two_processes(tmp_path: Path) -> None:
    flock = host("flock")
    # the outer flock holds the lock while its command runs; the inner one, another open
    # file, is refused (-n) and says so with its exit status; after, the lock is free
    # (the inner one is the guest's own child under ntsim: the two processes share a machine)
    script = f'$RUN -n lockfile -c "{flock} -n lockfile -c true; echo inner \\$?"; $RUN -n lockfile -c "echo free"'
    native, simulated = both(script, tmp_path, flock)
    assert native.stdout == b"inner 1\nfree\n"
    assert (simulated.stdout, simulated.stderr) == (native.stdout, native.stderr)


# --- python programs that compare themselves: sockets, notifications ----------------------------

PROGRAMS = Path(__file__).parent / "programs"


def same_python_program(tmp_path: Path, name: str) -> None:
    python = host("python3")
    program = str(PROGRAMS / name)
    native = subprocess.run([python, program], cwd=tmp_path, env=ENV, capture_output=True,
                            timeout=TIMEOUT, check=False)
    simulated = subprocess.run([*NTSIM, python, program], cwd=tmp_path, env=ENV, capture_output=True,
                               timeout=TIMEOUT, check=False)
    assert native.returncode == 0, native.stderr
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, b"")


def test_unix_socket_echo_with_names_and_a_passed_descriptor(tmp_path: Path) -> None:
    same_python_program(tmp_path, "unix_sockets.py")


def test_eventfd_with_epoll(tmp_path: Path) -> None:
    same_python_program(tmp_path, "eventfd_epoll.py")


def test_node_runs(tmp_path: Path) -> None:
    node = host("node")
    native, simulated = both("$RUN -e 'console.log(1+1)'", tmp_path, node)
    assert native.stdout == b"2\n"
    assert (simulated.returncode, simulated.stdout) == (0, native.stdout)


def test_tcp_and_udp_on_loopback_between_two_guest_processes(tmp_path: Path) -> None:
    same_python_program(tmp_path, "tcp_loopback.py")


GUEST_SERVER = """
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
print(listener.getsockname()[1], flush=True)
connection, _ = listener.accept()
connection.sendall(b"echo:" + connection.recv(100))
"""


def test_tcp_between_a_guest_server_and_a_host_client(tmp_path: Path) -> None:
    import socket

    python = host("python3")
    guest = subprocess.Popen([*NTSIM, python, "-c", GUEST_SERVER], cwd=tmp_path, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(guest.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(b"from the host")
            assert client.recv(100) == b"echo:from the host"
        assert guest.wait(timeout=TIMEOUT) == 0
    finally:
        guest.kill()
        guest.wait()


def test_curl_fetches_from_a_host_server_and_cannot_leave_loopback(tmp_path: Path) -> None:
    import http.server
    import threading

    curl = host("curl")
    (tmp_path / "page.txt").write_bytes(b"a page on the host\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/page.txt"
        fetched = subprocess.run([*NTSIM, curl, "-sS", url], cwd=tmp_path, env=ENV, capture_output=True,
                                 timeout=TIMEOUT, check=False)
        assert (fetched.returncode, fetched.stdout) == (0, b"a page on the host\n")
    finally:
        server.shutdown()
    # 192.0.2.1 (TEST-NET-1) is never this machine: without --network the guest is refused
    outside = subprocess.run([*NTSIM, curl, "-sS", "--connect-timeout", "5", "http://192.0.2.1/"],
                             cwd=tmp_path, env=ENV, capture_output=True, timeout=TIMEOUT, check=False)
    assert outside.returncode == 7 and b"Couldn't connect" in outside.stderr


def test_stdout_and_stderr_redirected_to_one_file_share_its_offset(tmp_path: Path) -> None:
    python = host("python3")
    program = ('import sys; print("out", flush=True); print("err", file=sys.stderr, flush=True); '
               'print("out2", flush=True)')
    native = shell('$RUN -c "$P" > both 2>&1; cat both', tmp_path, RUN=python, P=program)
    simulated = shell('$RUN -c "$P" > both 2>&1; cat both', tmp_path, RUN=" ".join(NTSIM) + " " + python,
                      P=program)
    assert native.stdout == b"out\nerr\nout2\n"
    assert simulated.stdout == native.stdout


POOL = """
import multiprocessing
def square(x):
    return x * x
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, range(10)))
"""


def test_multiprocessing_pool_map(tmp_path: Path) -> None:
    python = host("python3")
    native = shell('$RUN -c "$P"', tmp_path, RUN=python, P=POOL)
    simulated = shell('$RUN -c "$P"', tmp_path, RUN=" ".join(NTSIM) + " " + python, P=POOL)
    assert native.stdout == b"[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, b"")


def test_timerfd_pidfd_and_close_range(tmp_path: Path) -> None:
    same_python_program(tmp_path, "notifications.py")


def test_tail_follows_a_line_appended_by_the_host(tmp_path: Path) -> None:
    import selectors

    tail = host("tail")
    log = tmp_path / "log.txt"
    log.write_bytes(b"first\n")
    follower = subprocess.Popen([*NTSIM, tail, "-f", "log.txt"], cwd=tmp_path, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert follower.stdout.readline() == b"first\n"
        with log.open("ab") as appending:
            appending.write(b"appended\n")
        selector = selectors.DefaultSelector()
        selector.register(follower.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=60), "tail -f did not see the appended line"
        assert follower.stdout.readline() == b"appended\n"
    finally:
        follower.terminate()
        _, errors = follower.communicate(timeout=30)
    assert b"inotify" not in errors            # no "reverting to polling"


def test_signalfd_with_epoll(tmp_path: Path) -> None:
    same_python_program(tmp_path, "signalfd_epoll.py")


def test_extended_attributes_of_the_guests_own(tmp_path: Path) -> None:
    same_python_program(tmp_path, "xattrs.py")


def test_ldd_lists_what_the_native_ldd_lists(tmp_path: Path) -> None:
    import re

    ldd, ls = host("ldd"), host("ls")
    native = subprocess.run([ldd, ls], cwd=tmp_path, env=ENV, capture_output=True, timeout=TIMEOUT)
    simulated = subprocess.run([*NTSIM, ldd, ls], cwd=tmp_path, env=ENV, capture_output=True, timeout=TIMEOUT)

    def masked(output: bytes) -> bytes:       # load addresses differ from run to run (ASLR)
        return re.sub(rb"0x[0-9a-f]+", b"ADDRESS", output)

    assert b"linux-vdso.so.1" in native.stdout
    assert (simulated.returncode, masked(simulated.stdout)) == (native.returncode, masked(native.stdout))


def test_tar_extracts_directories_with_their_modes(tmp_path: Path) -> None:
    """GNU tar sets a directory's mode through /proc/self/fd/N of an O_PATH descriptor."""
    tar = host("tar")
    source = tmp_path / "source" / "d1" / "d2"
    source.mkdir(parents=True)
    (source / "f").write_bytes(b"x\n")
    for directory in (source, source.parent):
        directory.chmod(0o755)
    subprocess.run([tar, "cf", "../a.tar", "d1"], cwd=tmp_path / "source", check=True)
    modes = {}
    for name, command in (("native", [tar]), ("ntsim", [*NTSIM, tar])):
        target = tmp_path / name
        target.mkdir()
        done = subprocess.run([*command, "xf", "../a.tar"], cwd=target, env=ENV, capture_output=True,
                              timeout=TIMEOUT)
        modes[name] = (done.returncode, done.stderr, oct((target / "d1").stat().st_mode),
                       oct((target / "d1" / "d2").stat().st_mode))
    assert modes["ntsim"] == modes["native"]


def test_chmod_through_proc_self_fd(tmp_path: Path) -> None:
    python = host("python3")
    program = ('import os; f = os.open("f", os.O_CREAT | os.O_WRONLY, 0o600); '
               'os.chmod(f"/proc/self/fd/{f}", 0o640); print(oct(os.stat("f").st_mode))')
    native = shell('rm -f f; $RUN -c "$P"', tmp_path, RUN=python, P=program)
    simulated = shell('rm -f f; $RUN -c "$P"', tmp_path, RUN=" ".join(NTSIM) + " " + python, P=program)
    assert native.stdout == b"0o100640\n"
    assert (simulated.stdout, simulated.stderr) == (native.stdout, native.stderr)


def test_a_stopped_sleep_sleeps_on_when_continued(tmp_path: Path) -> None:
    same_python_program(tmp_path, "restart_sleep.py")


def test_cpu_time_interval_timers(tmp_path: Path) -> None:
    same_python_program(tmp_path, "cpu_timers.py")


def test_unix_datagram_and_seqpacket_sockets(tmp_path: Path) -> None:
    same_python_program(tmp_path, "unix_messages.py")
