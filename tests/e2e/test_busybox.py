"""Debian's busybox (static glibc) applets under ntsim, against the same applets run natively.

Each case gets two identical fresh roots, one for the native run and one for ntsim, so
a case that changes files (mkdir, cp, mv, rm, tar x, ...) changes its own copy; after
the runs, the two trees must match too (names, kinds, contents, link targets). What is
compared: the exit status, stdout, and stderr without ntsim's own notes about calls it
does not implement (those name work left for other parts of ntsim, not the program).

busybox is copied into each root as /bin/busybox and run as `bin/busybox APPLET ARGS`
from the root: `sh` runs most applets by executing /proc/self/exe, which must name a
file the guest can open.

Cases with several processes (pipelines, command substitution, xargs running a
command) exercise fork/exec/wait and pipes; the shell runs most applets by executing
itself again through /proc/self/exe.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .harness import Outcome, run_guest, run_native

BUSYBOX = "/bin/busybox"
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok"),
              pytest.mark.skipif(not os.path.exists(BUSYBOX),
                                 reason="Debian's busybox-static (/bin/busybox) is not installed")]

# busybox sh runs an applet that is neither a builtin nor NOFORK/NOEXEC by executing
# itself again: execve("/proc/self/exe", ...). That name must resolve to the program.
NTSIM_NOTE = re.compile(rb"^ntsim: lxss: unsupported system call .*\n", re.MULTILINE)
FIXED_TIME = 981173106          # 2001-02-03 04:05:06 UTC: every file of the tree has it
ENV = {"PATH": "/bin:/usr/bin", "HOME": "/", "LANG": "C.UTF-8", "TZ": "UTC", "NTSIM_E2E": "busybox"}

NOTES = b"alpha beta\ngamma delta epsilon\n\nzeta\nthe end, no newline"
NUMBERS = b"10\n9\n100\n1\n5\n-3\n"
WORDS = b"apple\nbanana\napple\ncherry\nbanana\napple\n"
SCRIPT = b"""#!/bin/busybox sh
echo "script got $# args: $*"
for word in "$@"; do echo "[$word]"; done
[ -f notes.txt ] && echo "notes.txt is here"
exit 3
"""


def populate(root: Path) -> None:
    """The same small tree in every root, every timestamp fixed."""
    (root / "notes.txt").write_bytes(NOTES)
    (root / "numbers.txt").write_bytes(NUMBERS)
    (root / "words.txt").write_bytes(WORDS)
    (root / "table.csv").write_bytes(b"name,size,colour\nfig,3,green\nplum,2,purple\n")
    (root / "script.sh").write_bytes(SCRIPT)
    (root / "binary.bin").write_bytes(bytes(range(256)) * 3)
    tree = root / "dir"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"in a\n")
    (tree / "b.log").write_bytes(b"in b\n")
    (tree / "sub" / "c.txt").write_bytes(b"in c\n")
    (tree / "sub" / "deeper" / "d.txt").write_bytes(b"in d, deeper\n")
    (root / "link-to-notes").symlink_to("notes.txt")
    (root / "data.gz").write_bytes(gzip.compress(b"compressed line\n" * 20, mtime=FIXED_TIME))
    with tarfile.open(root / "archive.tar", "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in (("packed/one.txt", b"one\n"), ("packed/two.txt", b"two two\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), FIXED_TIME, 0o644
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(data))
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    (root / "etc").mkdir()
    for name in ("passwd", "group"):             # user and group names for ls -l and tar
        if os.path.exists(f"/etc/{name}"):
            shutil.copy2(f"/etc/{name}", root / "etc" / name)
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)
    os.utime(root, (FIXED_TIME, FIXED_TIME))


def snapshot(root: Path) -> list[tuple]:
    """What a tree holds: each entry's path, kind, contents (hashed) or link target."""
    entries = []
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            entries.append((name, "link", os.readlink(path)))
        elif path.is_dir():
            entries.append((name, "dir"))
        else:
            entries.append((name, "file", hashlib.sha256(path.read_bytes()).hexdigest()))
    return entries


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]            # after "busybox"
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(self.args)


def shell(script: str, *, stdin: bytes = b"") -> Case:
    return Case(("sh", "-c", script), stdin=stdin)


CASES = [
    # text out
    Case(("echo", "hello", "world")),
    Case(("echo", "-n", "no newline")),
    Case(("echo", "-e", "tab\\there\\nnext")),
    Case(("printf", "%s=%d|%5.2f|%x\\n", "a", "1", "3.14159", "255", "b", "2", "2.5", "16")),
    Case(("true",)),
    Case(("false",)),
    # files in, text out
    Case(("cat", "notes.txt", "dir/a.txt")),
    Case(("cat", "-n", "notes.txt")),
    Case(("cat",), stdin=b"from stdin\n"),
    Case(("cat", "missing.txt")),
    Case(("wc", "notes.txt", "words.txt")),
    Case(("wc", "-l", "notes.txt")),
    Case(("head", "-n", "2", "notes.txt")),
    Case(("head", "-c", "7", "notes.txt")),
    Case(("tail", "-n", "2", "notes.txt")),
    Case(("tail", "-c", "6", "notes.txt")),
    Case(("sort", "words.txt")),
    Case(("sort", "-n", "numbers.txt")),
    Case(("sort", "-r", "words.txt")),
    Case(("sort", "-rn", "numbers.txt")),
    Case(("sort", "-u", "words.txt")),
    Case(("uniq", "-c"), stdin=b"a\na\nb\nc\nc\nc\n"),
    Case(("uniq", "-c", "words.txt")),
    Case(("cut", "-d,", "-f2", "table.csv")),
    Case(("cut", "-c1-3", "notes.txt")),
    Case(("tr", "a-z", "A-Z"), stdin=NOTES),
    Case(("tr", "-d", "aeiou"), stdin=NOTES),
    Case(("tr", "-s", " "), stdin=b"a   b    c\n"),
    Case(("seq", "5")),
    Case(("seq", "10", "-3", "1")),
    Case(("expr", "3", "+", "4")),
    Case(("expr", "6", "*", "7")),
    Case(("expr", "length", "hello")),
    Case(("expr", "1", "/", "0")),
    Case(("expr", "2", "<", "1")),
    Case(("basename", "/a/b/c.txt", ".txt")),
    Case(("dirname", "/a/b/c.txt")),
    Case(("md5sum", "notes.txt", "binary.bin")),
    Case(("sha256sum", "notes.txt", "binary.bin")),
    Case(("od", "-c", "dir/a.txt")),
    Case(("od", "-An", "-tx1", "binary.bin")),
    Case(("grep", "-c", "a", "words.txt")),
    Case(("grep", "-v", "apple", "words.txt")),
    Case(("grep", "-E", "^(gamma|zeta)", "notes.txt")),
    Case(("grep", "-rn", "in", "dir")),
    Case(("grep", "nothing-matches", "notes.txt")),
    Case(("sed", "s/a/A/g;2d", "notes.txt")),
    Case(("sed", "-n", "/delta/p", "notes.txt")),
    Case(("awk", "-F,", "NR > 1 { total += $2; print $1 } END { print total }", "table.csv")),
    Case(("awk", "{ print NF, length($0) }", "notes.txt")),
    Case(("gunzip", "-c", "data.gz")),
    Case(("gzip", "-c", "notes.txt")),
    Case(("tar", "tvf", "archive.tar")),
    Case(("env", "-i", "A=1", "B=two words")),
    Case(("env",)),
    Case(("test", "-f", "notes.txt")),
    Case(("test", "-d", "notes.txt")),
    Case(("test", "3", "-lt", "5")),
    Case(("sleep", "0.1")),
    Case(("date", "+%Y")),
    Case(("date", "-d", "@981173106", "+%F %T")),
    # the file system: listings and metadata
    Case(("ls",)),
    Case(("ls", "dir")),
    Case(("ls", "-la", "dir")),
    Case(("ls", "-lR", "dir")),
    Case(("ls", "missing")),
    Case(("stat", "-c", "%s %F %n", "notes.txt", "dir", "link-to-notes")),
    Case(("readlink", "link-to-notes")),
    Case(("find", "dir", "-name", "*.txt")),
    Case(("find", ".", "-type", "d")),
    # the file system: changes (the trees are compared afterwards)
    Case(("mkdir", "-p", "new/deeper/still")),
    Case(("mkdir", "dir")),
    Case(("cp", "notes.txt", "copy.txt")),
    Case(("cp", "-r", "dir", "dir-copy")),
    Case(("mv", "notes.txt", "dir/moved.txt")),
    Case(("rm", "-r", "dir")),
    Case(("rm", "missing.txt")),
    Case(("ln", "-s", "dir/a.txt", "new-link")),
    Case(("touch", "dir/new-empty")),
    Case(("gzip", "-k", "-9", "words.txt")),
    Case(("tar", "xf", "archive.tar")),
    Case(("tar", "cf", "out.tar", "dir")),
    # several processes: fork, pipes, wait
    Case(("xargs", "echo", "got:"), stdin=b"one two\nthree\n"),
    Case(("xargs", "-n", "1", "echo"), stdin=b"a b c\n"),
    shell("echo \"nested: $(echo inner; echo second)\""),
    shell("find dir -type f | sort"),
    shell("echo a b c | xargs -n 1 echo"),
    shell("mkfifo f; (echo hi > f &); cat f; rm f"),     # a named pipe between two processes
    # ... and applets the shell runs by executing itself again
    shell("echo hi | tr a-z A-Z"),
    shell("gzip -c notes.txt | gunzip -c"),
    shell("tar cf - dir | tar tf -"),
    shell("seq 1 100 | wc -l"),
    shell("tr a-z A-Z < notes.txt"),
    shell("echo written > out.txt; echo appended >> out.txt; cat out.txt"),
    # the shell itself
    shell("ls missing-file 2>&1; echo status $?"),
    shell("cat missing-file 2>/dev/null || echo cat failed"),
    shell("for i in 1 2 3; do echo item $i; done"),
    shell("false; echo $?; true; echo $?"),
    shell("x=5; while [ $x -gt 0 ]; do printf '%d ' $x; x=$((x - 1)); done; echo"),
    shell("if [ -d dir ]; then echo dir is a directory; fi"),
    shell("read a b; echo \"<$b> <$a>\"", stdin=b"first second\n"),
    Case(("sh", "script.sh", "one", "two words")),
]


def program_output(outcome: Outcome) -> Outcome:
    return Outcome(outcome.status, outcome.stdout, NTSIM_NOTE.sub(b"", outcome.stderr))


PARAMS = [pytest.param(case, id=str(case)) for case in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_busybox_matches_native(case: Case, tmp_path: Path) -> None:
    native_root, ntsim_root = tmp_path / "native", tmp_path / "ntsim"
    for root in (native_root, ntsim_root):
        root.mkdir()
        populate(root)
    env = {**ENV, **case.env}
    native = run_native("bin/busybox", case.args, cwd=native_root, stdin=case.stdin, env=env)
    simulated = run_guest("bin/busybox", case.args, root=ntsim_root, stdin=case.stdin, env=env)
    assert program_output(simulated) == native
    assert snapshot(ntsim_root) == snapshot(native_root)
