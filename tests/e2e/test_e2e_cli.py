"""The CLI's contract for what it cannot run, and its read-only commands.

Errors are one line on stderr that names the problem, never a Python traceback, and
the exit status says which kind: 127 not found, 126 cannot execute, 125 ntsim failed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import EXAMPLES, ntsim, run_guest

pytestmark = pytest.mark.e2e

HELLO = (EXAMPLES / "hello").read_bytes()


def patched(offset: int, value: bytes) -> Callable[[bytes], bytes]:
    return lambda image: image[:offset] + value + image[offset + len(value):]


def i386_header(image: bytes) -> bytes:
    """hello with ELFCLASS32 in e_ident and EM_386 in e_machine."""
    return patched(18, b"\x03\x00")(patched(4, b"\x01")(image))


BAD_IMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    # name: (make it at the path, what the one line must mention)
    "text file": (lambda p: p.write_text("echo hi\n"), "not an image"),
    # a script runs its interpreter, as execve does; one the root lacks, as bash says it
    "script without its interpreter": (lambda p: p.write_text("#!/bin/sh\necho hi\n"), "bad interpreter"),
    "empty file": (lambda p: p.write_bytes(b""), "not an image"),
    "truncated ELF": (lambda p: p.write_bytes(HELLO[:100]), "truncated"),
    "ELF header only": (lambda p: p.write_bytes(HELLO[:64]), "truncated"),
    "i386 ELF": (lambda p: p.write_bytes(i386_header(HELLO)), "i386"),
    "aarch64 ELF": (lambda p: p.write_bytes(patched(18, b"\xb7\x00")(HELLO)), "AArch64"),
    "relocatable object": (lambda p: p.write_bytes(patched(16, b"\x01\x00")(HELLO)), "relocatable"),
    "directory": (lambda p: p.mkdir(), "directory"),
}


def assert_one_line_error(outcome, *mentions: str) -> None:
    assert "Traceback" not in outcome.stderr.decode() + outcome.stdout.decode()
    (line,) = outcome.stderr_lines
    assert line.startswith("ntsim: ")
    for mention in mentions:
        assert mention in line


@pytest.mark.parametrize("kind", BAD_IMAGES)
def test_bad_image_cannot_execute(kind: str, root: Path) -> None:
    make, mention = BAD_IMAGES[kind]
    make(root / "program")
    if (root / "program").is_file():
        (root / "program").chmod(0o755)    # executable: what is wrong is its contents
    outcome = run_guest("program", root=root)
    assert outcome.status == 126
    assert outcome.stdout == b""
    assert_one_line_error(outcome, "program", mention)


@pytest.mark.parametrize("kind", [k for k in BAD_IMAGES if k != "directory"])
def test_info_on_bad_image(kind: str, root: Path) -> None:
    make, mention = BAD_IMAGES[kind]
    if kind == "script without its interpreter":
        mention = "not an image"          # info describes images; a script is none
    make(root / "program")
    outcome = ntsim("info", "program", cwd=root)
    assert outcome.status == 126
    assert_one_line_error(outcome, "program", mention)


def test_real_i386_program_cannot_execute(root: Path, tmp_path: Path) -> None:
    """A genuine 32-bit ELF, not a patched header (needs nasm and ld)."""
    if not (shutil.which("nasm") and shutil.which("ld")):
        pytest.skip("nasm and ld are needed to build an i386 ELF")
    source = tmp_path / "exit.asm"
    source.write_text("global _start\n_start:\n    mov eax, 1\n    xor ebx, ebx\n    int 0x80\n")
    obj = tmp_path / "exit.o"
    subprocess.run(["nasm", "-f", "elf32", "-o", str(obj), str(source)], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-o", str(root / "exit32"), str(obj)], check=True)
    outcome = run_guest("exit32", root=root)
    assert outcome.status == 126
    assert_one_line_error(outcome, "exit32", "i386")


def test_missing_program_is_not_found(root: Path) -> None:
    outcome = run_guest("no-such-program", root=root)
    assert outcome.status == 127
    assert_one_line_error(outcome, "no-such-program")


@pytest.mark.parametrize("kind", ["a file", "missing"])
def test_root_that_is_not_a_directory(kind: str, tmp_path: Path) -> None:
    fake_root = tmp_path / "not-a-dir"
    if kind == "a file":
        fake_root.write_text("I am a file\n")
    outcome = ntsim("run", "--root", str(fake_root), str(EXAMPLES / "hello"), cwd=tmp_path)
    assert outcome.status == 125
    assert outcome.stdout == b""
    assert_one_line_error(outcome, "not-a-dir", "not a directory")


def test_info_describes_hello(tmp_path: Path) -> None:
    outcome = ntsim("info", str(EXAMPLES / "hello"), cwd=tmp_path)
    assert outcome.status == 0
    text = outcome.stdout.decode()
    assert re.search(r"^machine\s+x86-64$", text, re.MULTILINE)
    assert re.search(r"^linkage\s+static$", text, re.MULTILINE)
    assert re.search(r"^personality\s+lxss\b", text, re.MULTILINE)


def test_calls_lxss_lists_write_as_supported(tmp_path: Path) -> None:
    outcome = ntsim("calls", "lxss", cwd=tmp_path)
    assert outcome.status == 0
    text = outcome.stdout.decode()
    assert re.search(r"^\s*1\s+write\s+supported\s+\(fd, buf, count\)", text, re.MULTILINE)
    assert re.search(r"^lxss: \d+ supported", text, re.MULTILINE)


def test_personalities_lists_lxss(tmp_path: Path) -> None:
    outcome = ntsim("personalities", cwd=tmp_path)
    assert outcome.status == 0
    assert re.search(r"^lxss\s+\S", outcome.stdout.decode(), re.MULTILINE)
