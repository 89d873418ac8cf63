"""Real DOS programs written by others, from Debian packages, in the VDM.

- LOADLIN.EXE (package loadlin, Hans Lermen and Samuel Thibault): a 386-aware MZ
  program that boots Linux from DOS. It checks the processor and the DOS version,
  parses its command line, prints its usage, and explains why it cannot boot here —
  the processor is in V86 mode, as under NTVDM or EMM386 (the real NTVDM says the same).
- ETHFLOP.COM (package ethflop, Mateusz Viste): a TSR floppy emulator. It parses its
  arguments, looks for its own resident copy through an interrupt vector, and scans the
  vectors for a packet driver's signature.

What they print here is what they print on DOS: their own texts, chosen by what they
find in the machine. The tests skip when the package is not installed (.ci/run installs
both where it can).
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from .harness import run_guest

LOADLIN = Path("/usr/lib/loadlin/loadlin.exe.gz")
ETHFLOP = Path("/usr/share/ethflop/ethflop.com")
pytestmark = pytest.mark.e2e


@pytest.fixture
def loadlin(root):
    if not LOADLIN.exists():
        pytest.skip("LOADLIN.EXE comes from Debian's loadlin package, which is not installed")
    (root / "LOADLIN.EXE").write_bytes(gzip.decompress(LOADLIN.read_bytes()))
    return "LOADLIN.EXE"


@pytest.fixture
def ethflop(root):
    if not ETHFLOP.exists():
        pytest.skip("ETHFLOP.COM comes from Debian's ethflop package, which is not installed")
    shutil.copy2(ETHFLOP, root / "ETHFLOP.COM")
    return "ETHFLOP.COM"


def test_loadlin_prints_its_usage_and_why_it_cannot_boot_linux_here(root, loadlin):
    out = run_guest(loadlin, root=root, options=("--timeout", "60"))
    text = out.stdout.decode("cp437")
    assert out.status == 1
    assert text.startswith("LOADLIN v1.6f (C) 1994..2002 Hans Lermen")
    assert "USAGE:\r\n  LOADLIN @params\r\n" in text
    assert "CPU is in V86-mode (may be WINDOWS, EMM386, QEMM, 386MAX, ...)" in text
    assert "total memory:     0x00100000" in text          # 1 MiB: the VM's, no extended
    assert "LOADLIN started from DOS-prompt" in text
    assert out.stderr == b""


def test_loadlin_echoes_the_parameters_it_parsed(root, loadlin):
    out = run_guest(loadlin, ("-v", "zimage", "root=/dev/hda1"), root=root, options=("--timeout", "60"))
    text = out.stdout.decode("cp437")
    assert "input params (size 0x0018):\r\n    -v zimage root=/dev/hda1" in text


def test_ethflop_prints_its_usage(root, ethflop):
    out = run_guest(ethflop, root=root, options=("--timeout", "60"))
    text = out.stdout.decode("cp437")
    assert text.startswith("ethflop v0.6 - a floppy drive emulator over Ethernet\r\n")
    assert "ethflop a           installs the ethflop TSR as A:" in text
    assert out.status == 1


def test_ethflop_finds_no_resident_copy_and_no_packet_driver(root, ethflop):
    out = run_guest(ethflop, ("s",), root=root, options=("--timeout", "60"))
    assert out.stdout.decode("cp437") == "ERROR: ethflop is not installed or has been overloaded by another ISR"
    out = run_guest(ethflop, ("a",), root=root, options=("--timeout", "60"))
    assert out.stdout.decode("cp437") == "ERROR: no packet driver found"
    assert out.status != 0
