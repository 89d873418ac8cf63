"""Everyday programs under ntsim: the host's own Debian programs, each run natively, under
`ntsim run --root /` and under qemu-user, compared and timed (issue 12).

    python benchmarks/everyday.py              a table on stdout
    python benchmarks/everyday.py --markdown   the same as a Markdown table (the README's)
    python benchmarks/everyday.py -k sqlite    only the cases whose name contains "sqlite"

A case is *identical* when ntsim's standard output and exit status are the native run's
(its standard error is compared too and a difference noted); where a program prints load
addresses (ldd), which differ natively from run to run, they are compared masked. Programs that are not
installed are listed as skipped. Each runs in a scratch directory with a few files (the
guest starts there: ntsim starts the guest in the current directory). Times are
whole-process wall times, one run each; ratios against native and against qemu-user.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMEOUT = 120
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
       "GIT_AUTHOR_NAME": "n", "GIT_AUTHOR_EMAIL": "n@example.org", "GIT_COMMITTER_NAME": "n",
       "GIT_COMMITTER_EMAIL": "n@example.org", "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
       "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM": "1", "TERM": "dumb"}
TEXT = "".join(f"{n} {'abcdefghij'[n % 10] * (n % 7 + 1)} line {n * 7919 % 1000}\n" for n in range(2000))
PY_JSON = "import json; d = [{'n': i, 's': str(i)} for i in range(20000)]; print(len(json.dumps(d)))"
PY_SQLITE = ("import sqlite3; c = sqlite3.connect('py.db'); c.execute('drop table if exists t'); "
             "c.execute('create table t(a)'); c.executemany('insert into t values (?)', "
             "[(i,) for i in range(5000)]); c.commit(); print(c.execute('select sum(a) from t').fetchone())")
PY_POOL = ("import multiprocessing as m\nif __name__ == '__main__':\n with m.Pool(2) as p: "
           "print(p.map(abs, range(-5, 5)))")
PY_SOCKET = ("import socket, threading; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); "
             "c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b'hi'); "
             "print(a.recv(2))")

# (name, program, arguments, standard input); programs by name, found on PATH
CASES: list[tuple[str, str, list[str], bytes]] = [
    ("ls -1", "ls", ["-1"], b""),
    ("ls -la (sizes)", "ls", ["-la", "--time-style=+", "text.txt", "data.json"], b""),
    ("cat", "cat", ["text.txt"], b""),
    ("wc", "wc", ["text.txt"], b""),
    ("head -n5", "head", ["-n5", "text.txt"], b""),
    ("tail -n5", "tail", ["-n5", "text.txt"], b""),
    ("sort", "sort", ["text.txt"], b""),
    ("sort -n -k3", "sort", ["-n", "-k3", "text.txt"], b""),
    ("uniq -c", "uniq", ["-c"], b"a\na\nb\nc\nc\nc\n"),
    ("cut", "cut", ["-d", " ", "-f2", "text.txt"], b""),
    ("tr", "tr", ["a-z", "A-Z"], TEXT.encode()),
    ("sha256sum", "sha256sum", ["text.txt"], b""),
    ("md5sum", "md5sum", ["text.txt"], b""),
    ("base64", "base64", ["text.txt"], b""),
    ("od -c", "od", ["-c", "-N", "64", "text.txt"], b""),
    ("seq", "seq", ["1", "5000"], b""),
    ("factor", "factor", ["1234567891", "600851475143"], b""),
    ("expr", "expr", ["6", "*", "7"], b""),
    ("date -d @0", "date", ["-u", "-d", "@0"], b""),
    ("basename", "basename", ["/a/b/c.txt", ".txt"], b""),
    ("printf", "printf", ["%05d|%s\\n", "42", "x"], b""),
    ("false (status 1)", "false", [], b""),
    ("nl", "nl", ["text.txt"], b""),
    ("tac", "tac", ["text.txt"], b""),
    ("rev", "rev", ["text.txt"], b""),
    ("fold", "fold", ["-w", "17", "text.txt"], b""),
    ("paste", "paste", ["-d,", "text.txt", "text.txt"], b""),
    ("stat -c", "stat", ["-c", "%s %F %a", "text.txt"], b""),
    ("du -b", "du", ["-b", "text.txt"], b""),
    ("id -un", "id", ["-un"], b""),
    ("uname -s", "uname", ["-sm"], b""),
    ("nproc (1 by design)", "nproc", [], b""),
    ("pwd", "pwd", [], b""),
    ("env", "env", [], b""),
    ("realpath", "realpath", ["text.txt"], b""),
    ("find", "find", [".", "-name", "*.txt"], b""),
    ("grep -c", "grep", ["-c", "line 9", "text.txt"], b""),
    ("grep -E", "grep", ["-E", "^1[0-9]{2} ", "text.txt"], b""),
    ("sed", "sed", ["s/line/LINE/;5q", "text.txt"], b""),
    ("awk", "awk", ["{s += $1} END {print s}", "text.txt"], b""),
    ("xargs", "xargs", ["-n", "2", "echo"], b"a b c d e\n"),
    ("tee", "tee", ["copy.txt"], b"tee'd\n"),
    ("mkdir/cp/mv/rm (sh)", "sh", ["-c", "mkdir -p d/e && cp text.txt d/e/ && mv d/e/text.txt d/x "
                                         "&& ls d && rm -r d"], b""),
    ("tar cf | tar tf (sh)", "sh", ["-c", "tar cf - text.txt data.json | tar tf -"], b""),
    ("gzip | gunzip (sh)", "sh", ["-c", "gzip -c text.txt | gunzip | wc -c"], b""),
    ("xz -c", "xz", ["-c", "-1", "text.txt"], b""),
    ("bash arithmetic", "bash", ["-c", "x=0; for i in $(seq 1 500); do x=$((x+i)); done; echo $x"], b""),
    ("dash pipeline", "dash", ["-c", "echo hello | tr a-z A-Z | rev"], b""),
    ("ldd /bin/ls (bash)", "bash", ["/usr/bin/ldd", "/bin/ls"], b""),
    ("getent hosts localhost", "getent", ["hosts", "localhost"], b""),
    ("file", "file", ["text.txt", "data.json"], b""),
    ("python3 print", "python3", ["-c", "print(1 + 1)"], b""),
    ("python3 json 20k", "python3", ["-c", PY_JSON], b""),
    ("python3 sqlite3 file", "python3", ["-c", PY_SQLITE], b""),
    ("python3 Pool(2).map", "python3", ["-c", PY_POOL], b""),
    ("python3 TCP loopback", "python3", ["-c", PY_SOCKET], b""),
    ("python3 -m pip --version", "python3", ["-m", "pip", "--version"], b""),
    ("perl -e", "perl", ["-e", "my $s = 0; $s += $_ for 1..100000; print \"$s\\n\""], b""),
    ("perl -ne", "perl", ["-ne", "print if /line 99/", "text.txt"], b""),
    ("git init/add/commit (sh)", "sh", ["-c", "rm -rf repo && git init -q repo && cp text.txt repo/ && "
                                              "cd repo && git add . && git commit -qm one && git log --oneline"],
     b""),
    ("git --version", "git", ["--version"], b""),
    ("make", "make", ["-s", "-f", "Makefile"], b""),
    ("gcc hello", "sh", ["-c", "gcc -O0 -o hello hello.c && ./hello"], b""),
    ("sqlite3 shell", "sqlite3", ["shell.db", "create table if not exists x(a); insert into x values (1), (2);"
                                              " select count(*) > 0, typeof(sum(a)) from x;"], b""),
    ("jq", "jq", ["-c", "[.[] | select(.n % 1000 == 0) | .s]", "data.json"], b""),
    ("curl --version", "curl", ["--version"], b""),
    ("node -e", "node", ["-e", "console.log([1, 2, 3].map(x => x * 2).join())"], b""),
    ("vim -es", "vim", ["-es", "-u", "NONE", "-c", "%s/line/LINE/g", "-c", "w! vim.out", "-c", "q",
                        "text.txt"], b""),
    ("readelf -h", "readelf", ["-h", "/bin/true"], b""),
    ("objdump -f", "objdump", ["-f", "/bin/true"], b""),
    ("nm -D", "nm", ["-D", "/bin/true"], b""),
    ("strings", "strings", ["-n", "8", "/bin/true"], b""),
    ("size", "size", ["/bin/true"], b""),
    ("busybox sha256sum", "busybox", ["sha256sum", "text.txt"], b""),
    ("strace /bin/true", "strace", ["/bin/true"], b""),
    ("strace -f sh -c", "strace", ["-f", "/bin/sh", "-c", "echo x; /bin/true"], b""),
    ("chroot / echo", "/usr/sbin/chroot", ["/", "/bin/echo", "jailed"], b""),
]


ADDRESSES_VARY = {"ldd /bin/ls (bash)"}          # ASLR: load addresses differ run to run


def scratch() -> str:
    directory = tempfile.mkdtemp(prefix="ntsim-everyday-")
    with open(os.path.join(directory, "text.txt"), "w") as stream:
        stream.write(TEXT)
    with open(os.path.join(directory, "data.json"), "w") as stream:
        stream.write("[" + ",".join(f'{{"n": {i}, "s": "s{i}"}}' for i in range(5000)) + "]")
    with open(os.path.join(directory, "hello.c"), "w") as stream:
        stream.write('#include <stdio.h>\nint main(void) { printf("hello, %d\\n", 6 * 7); return 0; }\n')
    with open(os.path.join(directory, "Makefile"), "w") as stream:
        stream.write("all: out.txt\n\t@cat out.txt\nout.txt: text.txt\n\t@wc -l text.txt > out.txt\n"
                     "clean:\n\t@rm -f out.txt\n")
    return directory


def run(command: list[str], cwd: str, stdin: bytes) -> tuple[float, subprocess.CompletedProcess | None]:
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, env=ENV, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, done


def reset(cwd: str) -> None:
    """Between runners: the files a case makes go, so each runner starts alike."""
    for name in ("copy.txt", "out.txt", "py.db", "shell.db", "vim.out", "hello"):
        try:
            os.unlink(os.path.join(cwd, name))
        except FileNotFoundError:
            pass
    shutil.rmtree(os.path.join(cwd, "repo"), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    args = parser.parse_args(argv)
    qemu = shutil.which("qemu-x86_64")
    ntsim = [sys.executable, "-m", "ntsim", "run", "--root", "/"]
    os.environ["PYTHONPATH"] = ROOT
    ENV["PYTHONPATH"] = ROOT
    cwd = scratch()
    rows = []
    try:
        for name, program, arguments, stdin in CASES:
            if args.k and args.k not in name:
                continue
            path = shutil.which(program, path=ENV["PATH"])
            if path is None:
                rows.append((name, "skipped", f"{program} is not installed", None, None))
                continue
            reset(cwd)
            native_time, native = run([path, *arguments], cwd, stdin)
            reset(cwd)
            ntsim_time, simulated = run([*ntsim, path, *arguments], cwd, stdin)
            qemu_time = None
            if qemu:
                reset(cwd)
                qemu_time, emulated = run([qemu, path, *arguments], cwd, stdin)
                if emulated is None or emulated.returncode != (native.returncode if native else None):
                    qemu_time = None                   # qemu-user failed it: no ratio
            if native is None:
                rows.append((name, "skipped", "the native run timed out", None, None))
                continue
            if simulated is None:
                rows.append((name, "no", f"timed out after {TIMEOUT} s", None, None))
                continue
            ours, theirs = simulated.stdout, native.stdout
            if name in ADDRESSES_VARY:
                ours, theirs = (re.sub(rb"0x[0-9a-f]+", b"0x...", text) for text in (ours, theirs))
            same = ours == theirs and simulated.returncode == native.returncode
            note = ""
            if not same:
                note = (f"status {simulated.returncode} (native {native.returncode})"
                        if simulated.returncode != native.returncode else "output differs")
                first = (simulated.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[0]
                if first:
                    note += f": {first[:70]}"
            elif simulated.stderr != native.stderr:
                note = "stderr differs"
            rows.append((name, "yes" if same else "no", note, ntsim_time / max(native_time, 1e-4),
                         ntsim_time / qemu_time if qemu_time else None))
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    identical = [r for r in rows if r[1] == "yes"]
    tried = [r for r in rows if r[1] != "skipped"]
    ratios = [r[3] for r in identical if r[3] is not None]
    qemu_ratios = [r[4] for r in identical if r[4] is not None]
    if args.markdown:
        print("| program | identical | × native | × qemu-user | note |")
        print("| --- | --- | ---: | ---: | --- |")
        for name, same, note, ratio, qemu_ratio in rows:
            shown = name.replace("|", "\\|")          # a pipe in a table cell
            print(f"| `{shown}` | {same} | {'' if ratio is None else f'{ratio:.0f}'} | "
                  f"{'' if qemu_ratio is None else f'{qemu_ratio:.1f}'} | {note.replace('|', '/')} |")
    else:
        width = max(len(r[0]) for r in rows) if rows else 10
        print(f"{'program':<{width}}  identical  x native  x qemu  note")
        for name, same, note, ratio, qemu_ratio in rows:
            print(f"{name:<{width}}  {same:<9}  {'' if ratio is None else f'{ratio:8.0f}':>8}  "
                  f"{'' if qemu_ratio is None else f'{qemu_ratio:6.1f}':>6}  {note}")
    print()
    print(f"{len(identical)} of {len(tried)} tried give identical output and status"
          + (f"; median {statistics.median(ratios):.0f}x native" if ratios else "")
          + (f", {statistics.median(qemu_ratios):.1f}x qemu-user" if qemu_ratios else "")
          + ("" if qemu else " (no qemu-x86_64: its column is empty)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
