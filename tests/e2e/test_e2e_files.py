"""Files and their Linux metadata, under ntsim and natively.

Two identical fresh roots per test, one for each run. A scenario is a list of steps run
in order in both (busybox applets, or the `fsmeta` example); each step's exit status,
stdout and stderr must match, and at the end the two trees must hold the same names,
kinds, contents, link targets and permission bits.

What is never compared, because it legitimately differs: inode numbers, the current
time, and the absolute path of the root. Steps print modes, sizes and link counts with
`stat -c` rather than `ls -l`, whose date column shows the time of the run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .harness import Outcome, install, run_guest, run_native

BUSYBOX = "/bin/busybox"
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]
needs_busybox = pytest.mark.skipif(not os.path.exists(BUSYBOX),
                                   reason="Debian's busybox-static (/bin/busybox) is not installed")
ENV = {"PATH": "/bin:/usr/bin", "HOME": "/", "LANG": "C.UTF-8", "TZ": "UTC"}
NTSIM_NOTE = re.compile(rb"^ntsim: lxss: unsupported system call .*\n", re.MULTILINE)
TEXT = b"alpha\nbeta\ngamma\n"


FIXED_TIME = 981173106          # 2001-02-03 04:05:06 UTC


def populate(root: Path) -> None:
    """busybox (in the root, so /proc/self/exe names a file the guest can open), a small
    text file, some binary data, and the host's user and group names (tar and ls look
    them up in /etc; natively they find the host's). Every time is fixed."""
    shutil.copy2(BUSYBOX, root / "busybox")
    (root / "text.txt").write_bytes(TEXT)
    (root / "data.bin").write_bytes(bytes(range(256)) * 20)
    (root / "etc").mkdir()
    for name in ("passwd", "group"):
        if os.path.exists(f"/etc/{name}"):
            shutil.copy2(f"/etc/{name}", root / "etc" / name)
    for path in [*root.rglob("*"), root]:
        os.utime(path, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)


def snapshot(root: Path) -> list[tuple]:
    """Each entry: path, kind, permission bits, and contents (hashed) or link target."""
    entries = []
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            entries.append((name, "link", os.readlink(path)))
        elif stat.S_ISDIR(info.st_mode):
            entries.append((name, "dir", oct(stat.S_IMODE(info.st_mode))))
        else:
            entries.append((name, "file", oct(stat.S_IMODE(info.st_mode)),
                            hashlib.sha256(path.read_bytes()).hexdigest()))
    return entries


def program_output(outcome: Outcome) -> Outcome:
    """ntsim's own one-line notes about calls it lacks name work for other parts of
    ntsim, not the program's behaviour: left out of the comparison."""
    return Outcome(outcome.status, outcome.stdout, NTSIM_NOTE.sub(b"", outcome.stderr))


def roots(tmp_path: Path) -> tuple[Path, Path]:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir(parents=True)
        populate(root)
    return native_root, ntsim_root


def run_steps(tmp_path: Path, steps: list[tuple[str, ...]], stdin: bytes = b"") -> None:
    native_root, ntsim_root = roots(tmp_path)
    for step in steps:
        native = run_native("./busybox", step, cwd=native_root, stdin=stdin, env=ENV)
        simulated = run_guest("./busybox", step, root=ntsim_root, stdin=stdin, env=ENV)
        assert program_output(simulated) == native, f"busybox {' '.join(step)}"
    assert snapshot(ntsim_root) == snapshot(native_root)


# --- a C program that checks each call and its errnos ------------------------------------------


def test_fsmeta_matches_native(tmp_path: Path) -> None:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
        install(root, "fsmeta")
    native = run_native("./fsmeta", cwd=native_root)
    simulated = run_guest("./fsmeta", root=ntsim_root)
    assert native.status == 0, native.stdout.decode()
    assert program_output(simulated) == native
    assert snapshot(ntsim_root) == snapshot(native_root)      # fsmeta-tmp is gone in both


ATTRIBUTES_PROGRAM = r"""
/* Extended attributes and posix_fadvise, with their errnos (ls -l, cat, sort and
 * sha256sum call them on every file). The chmod first makes ntsim keep the mode in
 * lxfs's own attributes on the host file: the guest must still see none. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void show(const char *what, long result) {
    printf("%s: %ld%s%s\n", what, result, result < 0 ? " " : "", result < 0 ? strerror(errno) : "");
}

static void advice(const char *what, int error) {       /* posix_fadvise returns the errno */
    printf("%s: %s\n", what, error ? strerror(error) : "ok");
}

int main(void) {
    char buffer[256];
    int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0644), pipes[2];
    symlink("file", "link");
    chmod("file", 0640);
    show("getxattr user.none", getxattr("file", "user.none", buffer, sizeof buffer));
    show("lgetxattr link security.selinux", lgetxattr("link", "security.selinux", buffer, sizeof buffer));
    show("getxattr system.posix_acl_access", getxattr("file", "system.posix_acl_access", NULL, 0));
    show("getxattr missing", getxattr("missing", "user.x", buffer, sizeof buffer));
    show("getxattr empty name", getxattr("file", "", buffer, sizeof buffer));
    show("fgetxattr", fgetxattr(fd, "user.none", buffer, sizeof buffer));
    show("fgetxattr bad fd", fgetxattr(99, "user.none", buffer, sizeof buffer));
    show("listxattr", listxattr("file", buffer, sizeof buffer));
    show("llistxattr link", llistxattr("link", buffer, sizeof buffer));
    show("flistxattr", flistxattr(fd, buffer, sizeof buffer));
    show("listxattr missing", listxattr("missing", buffer, sizeof buffer));
    pipe(pipes);
    advice("fadvise sequential", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
    advice("fadvise dontneed range", posix_fadvise(fd, 4096, 8192, POSIX_FADV_DONTNEED));
    advice("fadvise bad advice", posix_fadvise(fd, 0, 0, 99));
    advice("fadvise negative length", posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL));
    advice("fadvise pipe", posix_fadvise(pipes[0], 0, 0, POSIX_FADV_SEQUENTIAL));
    advice("fadvise bad fd", posix_fadvise(99, 0, 0, POSIX_FADV_SEQUENTIAL));
    unlink("link");
    unlink("file");
    return 0;
}
"""


def test_extended_attributes_and_fadvise_match_native(tmp_path: Path) -> None:
    compiler = shutil.which("musl-gcc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "attributes.c"
    source.write_text(ATTRIBUTES_PROGRAM)
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
        subprocess.run([compiler, "-static", "-O2", "-o", str(root / "attributes"), str(source)],
                       check=True, capture_output=True)
    native = run_native("./attributes", cwd=native_root)
    assert native.status == 0 and b"getxattr missing: -1 No such file" in native.stdout
    assert program_output(run_guest("./attributes", root=ntsim_root)) == native


# --- busybox scenarios -------------------------------------------------------------------------

SCENARIOS = {
    "directories": [
        ("mkdir", "-p", "a/b/c"),
        ("mkdir", "a"),                               # EEXIST
        ("mkdir", "-p", "a/b/c"),                     # fine: it exists
        ("touch", "a/b/c/f", "a/empty"),
        ("ls", "-R", "a"),
        ("find", ".", "-name", "*.txt"),
        ("find", "a", "-type", "d"),
        ("rmdir", "a"),                               # ENOTEMPTY
        ("rm", "-r", "a"),
        ("rmdir", "missing"),
        ("ls",),
    ],
    "links": [
        ("ln", "-s", "text.txt", "soft"),
        ("ln", "-s", "nowhere", "dangling"),
        ("ln", "-s", "text.txt", "soft"),             # EEXIST
        ("readlink", "soft"),
        ("readlink", "dangling"),
        ("readlink", "text.txt"),                     # not a link: status 1
        ("cat", "soft"),
        ("cat", "dangling"),
        ("ln", "text.txt", "hard"),
        ("stat", "-c", "%n %s %a %F %h", "text.txt", "hard", "soft", "dangling"),
        ("stat", "-L", "-c", "%n %s %F", "soft"),
        ("ln", "-sf", "data.bin", "soft"),
        ("readlink", "soft"),
        ("md5sum", "soft"),
        ("cp", "-s", "data.bin", "copied-link"),
        ("readlink", "copied-link"),
        ("rm", "soft", "hard"),
        ("stat", "-c", "%n %h", "text.txt"),
    ],
    "modes": [
        ("chmod", "640", "text.txt"),
        ("stat", "-c", "%a %A", "text.txt"),
        ("chmod", "u+x,g-r,o+w", "text.txt"),
        ("stat", "-c", "%a %A", "text.txt"),
        ("chmod", "4755", "data.bin"),
        ("stat", "-c", "%a %A", "data.bin"),
        ("chmod", "-R", "go-rwx", "."),
        ("stat", "-c", "%n %a", "text.txt", "data.bin", "busybox"),
        ("chmod", "644", "missing"),
        ("mkdir", "-m", "700", "private"),
        ("stat", "-c", "%a %F", "private"),
        ("install", "-m", "751", "text.txt", "installed"),
        ("stat", "-c", "%a %s", "installed"),
    ],
    "owners": [
        # to the caller's own ids: allowed for anyone, so root or not, both runs agree;
        # and to root: allowed only to root, EPERM for anyone else, both runs again
        ("chown", "0", "text.txt"),
        ("chgrp", "0", "data.bin"),
        ("stat", "-c", "%u %g", "text.txt", "data.bin"),
        ("chmod", "6755", "data.bin"),
        ("chown", "-h", "0:0", "data.bin"),
        ("stat", "-c", "%a", "data.bin"),            # chown clears set-user-id and set-group-id
    ],
    "times": [
        ("touch", "-d", "2001-02-03 04:05:06", "text.txt"),
        ("stat", "-c", "%Y %X", "text.txt"),
        ("touch", "-c", "-d", "1999-12-31 23:59:59", "text.txt", "not-created"),
        ("stat", "-c", "%Y", "text.txt"),
        ("ls", "not-created"),
        ("touch", "-d", "2002-01-01 00:00:00", "newfile"),
        ("stat", "-c", "%Y %s", "newfile"),
        ("cp", "-p", "text.txt", "preserved"),
        ("stat", "-c", "%Y %a", "preserved"),
    ],
    "contents": [
        ("cp", "data.bin", "copy.bin"),
        ("cmp", "data.bin", "copy.bin"),
        ("md5sum", "data.bin", "copy.bin", "text.txt"),
        ("sha256sum", "data.bin"),
        ("od", "-c", "text.txt"),
        ("od", "-An", "-tx1", "-N", "24", "data.bin"),
        ("truncate", "-s", "3", "copy.bin"),
        ("stat", "-c", "%s", "copy.bin"),
        ("truncate", "-s", "10000", "copy.bin"),
        ("md5sum", "copy.bin"),
        ("mv", "copy.bin", "moved.bin"),
        ("ls",),
        ("dd", "if=data.bin", "of=part.bin", "bs=100", "skip=2", "count=3", "status=none"),
        ("md5sum", "part.bin"),
        ("wc", "-c", "part.bin", "data.bin"),
        ("touch", "-d", "2001-02-03 04:05:06", "part.bin"),    # tar keeps each file's time
        ("tar", "cf", "both.tar", "text.txt", "part.bin"),
        ("tar", "tf", "both.tar"),
        ("rm", "text.txt", "part.bin"),
        ("tar", "xf", "both.tar"),
        ("md5sum", "text.txt", "part.bin"),
    ],
    "copies with metadata": [
        ("mkdir", "-p", "tree/sub"),
        ("cp", "text.txt", "tree/sub/t"),
        ("ln", "-s", "sub/t", "tree/l"),
        ("chmod", "700", "tree/sub"),
        ("cp", "-a", "tree", "tree-copy"),
        ("stat", "-c", "%n %a %F %s", "tree-copy", "tree-copy/sub", "tree-copy/sub/t", "tree-copy/l"),
        ("readlink", "tree-copy/l"),
        ("rm", "-r", "tree"),
        ("ls", "-R", "tree-copy"),
    ],
    "special files": [
        ("mkfifo", "fifo"),
        ("stat", "-c", "%F %a", "fifo"),
        ("mknod", "pipe2", "p"),
        ("stat", "-c", "%F", "pipe2"),
        ("find", ".", "-type", "p"),
        ("rm", "fifo", "pipe2"),
        ("ls",),
    ],
}


@needs_busybox
@pytest.mark.parametrize("name", SCENARIOS)
def test_busybox_scenario_matches_native(name: str, tmp_path: Path) -> None:
    run_steps(tmp_path, SCENARIOS[name])


@needs_busybox
def test_device_nodes_as_root(tmp_path: Path) -> None:
    """mknod of a character device needs CAP_MKNOD: root makes one (and 1:3 behaves as
    /dev/null), anyone else gets EPERM. Both runs are the same user, so they agree."""
    run_steps(tmp_path, [
        ("mknod", "mynull", "c", "1", "3"),
        ("stat", "-c", "%F %t %T", "mynull"),
        ("cp", "text.txt", "mynull"),
        ("stat", "-c", "%s", "text.txt"),
        ("rm", "-f", "mynull"),
    ])


@needs_busybox
def test_df_and_statfs_see_one_volume(tmp_path: Path) -> None:
    """Block size and the longest name come from the volume (the same host file system
    in both runs); the type does not: ntsim reports WSL1's lxfs, not the host's."""
    run_steps(tmp_path, [("stat", "-f", "-c", "%S %l", ".")])
    _, ntsim_root = roots(tmp_path / "df")
    (ntsim_root / "etc" / "mtab").symlink_to("/proc/self/mounts")   # as distributions make it
    simulated = run_guest("./busybox", ("df", "."), root=ntsim_root, env=ENV)
    assert simulated.status == 0, simulated.stderr
    assert simulated.stdout.splitlines()[-1].split()[0] == b"lxfs"
    assert simulated.stdout.splitlines()[-1].split()[-1] == b"/"


def test_chown_changes_only_the_linux_view(tmp_path: Path) -> None:
    """As root, a guest chown records the new owner in lxfs's attributes: the Linux view
    changes, the host file keeps its owner (no host privilege was used or needed)."""
    if os.geteuid() != 0:
        pytest.skip("only root may give a file away, natively and under ntsim")
    if not os.path.exists(BUSYBOX):
        pytest.skip("Debian's busybox-static (/bin/busybox) is not installed")
    _, ntsim_root = roots(tmp_path)
    host_before = (ntsim_root / "text.txt").stat()
    assert run_guest("./busybox", ("chown", "1234:5678", "text.txt"), root=ntsim_root, env=ENV).status == 0
    shown = run_guest("./busybox", ("stat", "-c", "%u %g", "text.txt"), root=ntsim_root, env=ENV)
    assert shown.stdout == b"1234 5678\n"
    host_after = (ntsim_root / "text.txt").stat()
    assert (host_after.st_uid, host_after.st_gid) == (host_before.st_uid, host_before.st_gid)


APPEND_PROGRAM = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void show(const char *when) {
    char text[64] = {0};
    int fd = open("log", O_RDONLY);
    read(fd, text, sizeof text - 1);
    close(fd);
    printf("%s: %s\n", when, text);
}
int main(void) {
    int fd = open("log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "first ", 6);
    lseek(fd, 0, SEEK_SET);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
    printf("append flag %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    write(fd, "second ", 7);
    printf("offset after append %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    show("appended");
    lseek(fd, 0, SEEK_SET);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND);
    write(fd, "FIRST", 5);
    show("overwritten");
    int again = open("log", O_WRONLY | O_APPEND);
    write(again, "third", 5);
    printf("offset of an O_APPEND open %ld\n", (long)lseek(again, 0, SEEK_CUR));
    show("opened for append");
    return 0;
}
"""


def test_fcntl_setfl_o_append_makes_later_writes_append(tmp_path: Path) -> None:
    """fcntl(F_SETFL, O_APPEND) on an fd opened without it: each later write goes to the
    end of the file, and clearing the flag writes at the offset again."""
    compiler = shutil.which("musl-gcc")
    if compiler is None:
        pytest.skip("musl-gcc (Debian's musl-tools) builds the test program")
    source, program = tmp_path / "append.c", tmp_path / "append"
    source.write_text(APPEND_PROGRAM)
    subprocess.run([compiler, "-static", "-O1", "-o", str(program), str(source)], check=True)
    outcomes = []
    for name, runner in (("native", run_native), ("ntsim", run_guest)):
        root = tmp_path / name
        root.mkdir()
        shutil.copy2(program, root / "append")
        outcome = (runner("./append", cwd=root) if name == "native" else runner("./append", root=root))
        outcomes.append((outcome.status, outcome.stdout, outcome.stderr, (root / "log").read_bytes()))
    native, simulated = outcomes
    assert native[0] == 0 and b"appended: first second" in native[1]
    assert simulated == native
