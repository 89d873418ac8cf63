"""Run a program two ways: under ntsim, through the CLI as a user would, and natively.

The native run is the oracle. The examples are static x86-64 Linux programs, so this
machine can run them itself; whatever it prints and returns is what ntsim must print and
return. Nothing here knows what a program *should* print.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "linux"
TIMEOUT = 120          # seconds for one run; the slowest example takes about one


@dataclass(frozen=True)
class Outcome:
    """What a run showed the outside world: exit status (128+N for signal N, as a shell
    reports it), standard output and standard error."""

    status: int
    stdout: bytes
    stderr: bytes

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.decode("utf-8", "replace").splitlines()


def _outcome(completed: subprocess.CompletedProcess) -> Outcome:
    status = completed.returncode
    if status < 0:                       # killed by a signal: report it as a shell does
        status = 128 - status
    return Outcome(status, completed.stdout, completed.stderr)


def ntsim(*arguments: str, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None) -> Outcome:
    """`python -m ntsim ARGUMENTS...`, from `cwd`."""
    command = [sys.executable, "-m", "ntsim", *arguments]
    return _outcome(subprocess.run(command, cwd=cwd, input=stdin, capture_output=True,
                                   env=env, timeout=TIMEOUT, check=False))


def run_guest(program: str, args: tuple[str, ...] = (), *, root: Path, stdin: bytes = b"",
              env: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> Outcome:
    """`ntsim run --root ROOT [OPTIONS] PROGRAM ARGS`, started from ROOT (the guest starts
    in /, so relative names mean the same files to both runs)."""
    return ntsim("run", "--root", str(root), *options, program, *args, cwd=root, stdin=stdin, env=env)


def run_native(program: str, args: tuple[str, ...] = (), *, cwd: Path, stdin: bytes = b"",
               env: dict[str, str] | None = None) -> Outcome:
    """PROGRAM ARGS on this machine, with argv[0] exactly as given (as ntsim passes it)."""
    executable = program if os.path.isabs(program) else str(cwd / program)
    return _outcome(subprocess.run([program, *args], executable=executable, cwd=cwd, input=stdin,
                                   capture_output=True, env=env, timeout=TIMEOUT, check=False))


def install(root: Path, name: str) -> str:
    """Copy an example into the root; returns the name both runs call it by (`./name`)."""
    shutil.copy2(EXAMPLES / name, root / name)
    return f"./{name}"


def native_unavailable() -> str | None:
    """Why this machine cannot be the oracle, or None if it can."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"native runs need x86-64 Linux, this is {sys.platform} {platform.machine()}"
    try:
        probe = subprocess.run([str(EXAMPLES / "hello")], capture_output=True, timeout=30, check=False)
    except OSError as error:
        return f"cannot run the native examples here: {error}"
    if probe.returncode != 0:
        return f"the native hello exits with {probe.returncode} here"
    return None
