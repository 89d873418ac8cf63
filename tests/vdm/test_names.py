"""8.3 names on C: (ntsim/vdm/dos/names.py): what DOS may see, and what it may not."""

from __future__ import annotations

import pytest

from ntsim.vdm.calls import DosError
from ntsim.vdm.dos import names


@pytest.mark.parametrize("name", ["HELLO.COM", "readme.txt", "A", "FILE", "x.y", "_-~!.$$$", ".", ".."])
def test_valid_short_names(name):
    assert names.is_short_name(name)


@pytest.mark.parametrize("name", ["longfilename.txt", "a.text", "two.dots.txt", "with space.txt",
                                  "plus+.txt", ".hidden", "", "a.b.c"])
def test_names_that_are_hidden_from_dos(name):
    # hidden, not given a ~1 alias: see the module's docstring
    assert not names.is_short_name(name)


def test_dos_truncates_and_upper_cases_what_a_program_asks_for():
    assert names.truncate("longfilename.text") == "LONGFILE.TEX"
    assert names.resolve("sub\\longfilename.text", "") == ["SUB", "LONGFILE.TEX"]


def test_paths_resolve_from_the_current_directory_and_never_above_the_root():
    assert names.resolve("a.txt", "DIR\\SUB") == ["DIR", "SUB", "A.TXT"]
    assert names.resolve("..\\b.txt", "DIR\\SUB") == ["DIR", "B.TXT"]
    assert names.resolve("C:\\x\\.\\y", "DIR") == ["X", "Y"]
    assert names.resolve("/unix/style", "") == ["UNIX", "STYLE"]
    with pytest.raises(DosError) as error:
        names.resolve("..\\..\\etc\\passwd", "DIR")
    assert error.value.code == 3


def test_only_drive_c_exists():
    with pytest.raises(DosError) as error:
        names.resolve("A:\\FILE", "")
    assert error.value.code == 0x0F


def test_wildcards_match_as_dos_matches_them():
    assert names.matches("HELLO.COM", "*.COM")
    assert names.matches("HELLO.COM", "*.*")
    assert names.matches("HELLO.COM", "H?LLO.*")
    assert not names.matches("HELLO.EXE", "*.COM")
    assert names.matches("README", "*.*")
    assert names.matches("README", "README")
    assert not names.matches("README.TXT", "README")


def test_devices_are_names_in_any_directory():
    assert names.device_name("con") == "CON"
    assert names.device_name("NUL.TXT") == "NUL"
    assert names.device_name("CONFIG.SYS") is None


def test_parse_fcb_name():
    assert names.parse_fcb_name(b"c:notes.txt rest") == (3, b"NOTES   TXT", 11, 0)
    assert names.parse_fcb_name(b"a*.?x") == (0, b"A????????X ", 5, 1)
    assert names.parse_fcb_name(b"q:x")[3] == 0xFF
