"""chroot under `ntsim run --root /` (issue 12), against the native run: the guest's root
moves, `..` and absolute links cannot climb out of it, and a user without
CAP_SYS_CHROOT gets EPERM."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .harness import TIMEOUT
from .test_e2e_everyday import ENV, NTSIM, host

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("native_ok")]


def both(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    native = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, timeout=TIMEOUT, check=False)
    simulated = subprocess.run([*NTSIM, *command], cwd=cwd, env=ENV, capture_output=True,
                               timeout=TIMEOUT, check=False)
    return native, simulated


def chroot() -> str:
    path = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.skip("coreutils' chroot is not installed on this machine")
    return path


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("chroot natively needs root (CAP_SYS_CHROOT); this test runs as a user")


def test_chroot_slash_runs_the_program(tmp_path: Path) -> None:
    needs_root()
    native, simulated = both([chroot(), "/", "/bin/echo", "in the root"], tmp_path)
    assert native.stdout == b"in the root\n"
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, b"")


def test_nothing_climbs_out_of_the_new_root(tmp_path: Path) -> None:
    """A jail with a static busybox: `..` at its top, an absolute link to `/`, a relative
    link with too many `..`, all stay inside; the working directory and /proc/self/exe
    are named from inside."""
    needs_root()
    if not os.path.exists("/bin/busybox"):
        pytest.skip("Debian's busybox-static (/bin/busybox) is not installed")
    jail = tmp_path / "jail"
    (jail / "bin").mkdir(parents=True)
    (jail / "sub").mkdir()
    shutil.copy2("/bin/busybox", jail / "bin" / "busybox")
    (jail / "escape").symlink_to("/")
    (jail / "sub" / "up").symlink_to("../../../../..")
    (jail / "marker").write_text("inside\n")
    script = ("cd /sub/../../..; pwd; /bin/busybox ls /; /bin/busybox ls /escape/;"
              " /bin/busybox ls /sub/up/; /bin/busybox cat /escape/marker; cd ..; pwd")
    native, simulated = both([chroot(), str(jail), "/bin/busybox", "sh", "-c", script], tmp_path)
    assert native.returncode == 0 and native.stdout.count(b"marker") == 3, native.stderr
    assert (simulated.returncode, simulated.stdout, simulated.stderr) == (0, native.stdout, native.stderr)


def test_chroot_needs_the_capability(tmp_path: Path) -> None:
    """As another user (setuid in a forked child), chroot fails with EPERM."""
    needs_root()
    script = ("import os\npid = os.fork()\nif pid == 0:\n"
              "    os.setgid(65534); os.setuid(65534)\n"
              "    try:\n        os.chroot('/')\n        print('chrooted', flush=True)\n"
              "    except OSError as error:\n        print(error.errno, flush=True)\n"
              "    os._exit(0)\nos.waitpid(pid, 0)\n")
    native, simulated = both([host("python3"), "-c", script], tmp_path)
    assert native.stdout == b"1\n"
    assert (simulated.returncode, simulated.stdout) == (0, native.stdout)
