"""Every INT 21h function the VDM lists, and the BIOS services, through small programs
(tests/vdm/programs) that print what each call returned: " CF=c AX=hhhh" after a label.

The expected lines are what DOS documents for each call (Ralf Brown's Interrupt List,
the MS-DOS programmer's reference): handles from 5 up, error 2 for a missing file, 3 for
a missing path, 5 for access denied, 6 for a bad handle, 8 for no memory, 12h for no
more files, 50h for a file that exists...
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .harness import REPO, run_guest

PROGRAMS = REPO / "tests" / "vdm" / "programs"
pytestmark = pytest.mark.e2e


def run(root: Path, name: str, stdin: bytes = b"") -> list[str]:
    shutil.copy2(PROGRAMS / name, root / name.upper())
    out = run_guest(name.upper(), root=root, stdin=stdin)
    assert out.status == 0, out
    return out.stdout.decode("cp437").split("\r\n")


def test_handles(root):
    (root / "TMP").mkdir()
    lines = run(root, "files.com")
    assert lines[:37] == [
        "3C create CF=0 AX=0005",        # 0-4 are the standard handles
        "40 write CF=0 AX=0010",
        "42 seek end CF=0 AX=0010",
        "42 seek start+3 CF=0 AX=0003",
        "40 truncate CF=0 AX=0000",      # CX=0 writes nothing: the file ends here
        "44 00 file CF=0 AX=0002",       # drive C:, written to
        "57 00 time CF=0 AX=0000",
        "68 commit CF=0 AX=0000",
        "3E close CF=0 AX=0000",
        "3E again CF=1 AX=0006",
        "3D open ro CF=0 AX=0005",
        "3F read CF=0 AX=0003",          # "Hel": the truncated file
        "3F at end CF=0 AX=0000",
        "40 to ro CF=1 AX=0005",
        "45 dup CF=0 AX=0006",
        "46 force 19 CF=0 AX=0000",
        "3E dup CF=0 AX=0000",
        "42 on 19 CF=0 AX=0001",         # the duplicate shares the position
        "3F via 19 CF=0 AX=6C65",        # "el"
        "44 00 con CF=0 AX=80D3",
        "43 00 attr CF=0 AX=0020",       # archive
        "5B exists CF=1 AX=0050",
        "56 rename CF=0 AX=0000",
        "3D old name CF=1 AX=0002",
        "3D no dir CF=1 AX=0003",
        "3D bad mode CF=1 AX=000C",
        "6C create CF=0 AX=0002",        # CX: 2 created
        "6C open CF=0 AX=0001",          # 1 opened
        "6C exists CF=1 AX=0050",
        "5A temp CF=0 AX=0000",
        "41 delete CF=0 AX=0000",
        "41 again CF=1 AX=0002",
        "3E bad CF=1 AX=0006",
        "44 bad CF=1 AX=0006",
        "3D NUL CF=0 AX=0009",
        "3D dir CF=1 AX=0005",
        "open all CF=1 AX=0004",         # too many open files ...
    ]
    assert lines[37] == "0009"           # ... after handles 10-18
    assert (root / "SECOND.TXT").exists() is False and not (root / "second.txt").exists()
    assert (root / "THIRD.DAT").exists()
    assert len(list((root / "TMP").iterdir())) == 1    # the temporary file


def test_directories_searches_and_drives(root):
    (root / "FULL").mkdir()
    (root / "FULL" / "x").write_text("x")
    (root / "one.txt").write_text("1")
    (root / "Two.txt").write_text("2")
    (root / "three.doc").write_text("3")
    (root / "a long name.txt").write_text("hidden: not an 8.3 name")
    lines = run(root, "dirs.com")
    found = lines[18]
    assert found.startswith("4E *.TXT ") and found.endswith(" CF=1 AX=0012")
    assert sorted(found[len("4E *.TXT "):-len(" CF=1 AX=0012")].split()) == ["ONE.TXT", "TWO.TXT"]
    assert lines[:18] + lines[19:23] == [
        "39 mkdir CF=0 AX=0000",
        "39 again CF=1 AX=0005",         # DOS: access denied when it exists
        "39 no parent CF=1 AX=0003",
        "3B chdir CF=0 AX=0000",
        "47 cwd NEWDIR CF=0 AX=0100",
        "3A current CF=1 AX=0010",       # cannot remove the current directory
        "3B missing CF=1 AX=0003",
        "3B above root CF=1 AX=0003",    # never outside C:
        "3B .. CF=0 AX=0000",
        "3A rmdir CF=0 AX=0000",
        "3A again CF=1 AX=0003",
        "3A not empty CF=1 AX=0005",
        "19 disk CF=0 AX=0002",          # C:
        "0E select CF=0 AX=0003",        # drive letters: A-C
        "36 space CF=0 AX=0200",         # 512 bytes a sector
        "36 bad drive CF=0 AX=FFFF",
        "47 bad drive CF=1 AX=000F",
        "1A/2F dta CF=0 AX=0000",
        "4E nothing CF=1 AX=0012",
        "4E no dir CF=1 AX=0003",
        "4E drive A CF=1 AX=000F",
        "",
    ]
    assert (root / "FULL" / "x").exists() and not (root / "NEWDIR").exists()


def test_memory_control_blocks(root):
    lines = run(root, "memory.com")
    assert lines[0:3] == ["4A shrink CF=0 AX=0000", "48 alloc CF=0 AX=0000", "48 too much CF=1 AX=0008"]
    largest = int(lines[3].split()[-1], 16)
    assert 0x9000 < largest < 0xA000      # BX: the largest free block, in paragraphs
    assert lines[4:] == [
        "49 free CF=0 AX=0000",
        "49 again CF=1 AX=0009",         # not an allocated block
        "4A grow CF=1 AX=0008",
        "58 get CF=0 AX=0000",           # first fit
        "58 last fit CF=0 AX=0002",
        "48 last fit CF=0 AX=A000",      # the block ends where conventional memory does
        "58 bad CF=1 AX=0001",
        "52 chain A000 blocks 0004",     # environment, program, free, the last-fit block
        "break it CF=1 AX=0007",         # memory control blocks destroyed
        "",
    ]


def test_console_characters_and_lines(root):
    lines = run(root, "console.com", stdin=b"abcde\nxyz\n")
    assert lines == [
        "0B status CF=0 AX=00FF",
        "01 echo: a CF=0 AX=0061",
        "08 quiet CF=0 AX=0062",
        "06 read CF=0 AX=0063",          # AH=0: ZF clear, a key was there
        "02 out* CF=0 AX=022A",
        "0A line: de\r CF=0 AX=0002",   # echoed; Enter echoes CR only
        "07 raw CF=0 AX=0078",
        "0C flush+01: \x1a CF=0 AX=001A",   # typed-ahead keys dropped: end of input (^Z)
        "06 none CF=0 AX=4000",          # ZF set: nothing waiting
        "09 dollar",
        "",
    ]


def test_version_vectors_clock_country_and_errors(root):
    shutil.copy2(PROGRAMS / "system.com", root / "SYSTEM.COM")
    result = run_guest("SYSTEM.COM", root=root)
    assert result.status == 0
    assert result.stdout.decode().split("\r\n") == [
        "30 version CF=0 AX=0005",       # DOS 5.00, as NTVDM reported
        "3306 true CF=0 AX=3205",        # true version 5.50
        "35 get 60 CF=0 AX=F000",        # every vector starts at a BIOS stub
        "25 set 60 CF=0 AX=1234",
        "ivt CF=0 AX=1234",              # ... and 25h wrote the table in memory
        "2B set date CF=0 AX=0000",
        "2A get date CF=0 AX=07CF",      # 1999: the VM's clock, not the host's
        "2A month/day CF=0 AX=0C1F",
        "2B bad date CF=0 AX=00FF",
        "2D set time CF=0 AX=0000",
        "2C get time CF=0 AX=1703",
        "2D bad time CF=0 AX=00FF",
        "3300 break CF=0 AX=0001",
        "3305 boot CF=0 AX=0003",
        "37 switch CF=0 AX=002F",
        "38 country CF=0 AX=0001",
        " currency $ time sep :",
        "29 parse CF=0 AX=0000",
        " fcb NOTES   TXT drive 0000",
        "29 wildcard CF=0 AX=0001",
        "59 after error CF=0 AX=0002",
        "6520 upper CF=0 AX=0051",
        "6601 cp CF=0 AX=01B5",          # code page 437
        "62 psp=cs CF=0 AX=0000",
        "54 verify CF=0 AX=0001",
        "34 indos CF=0 AX=0000",
        "unknown F0 CF=1 AX=0001",
        "FCB 0F CF=1 AX=0001",
        "",
    ]
    warnings = result.stderr.decode().splitlines()
    assert len(warnings) == 2
    assert "INT 21h AH=F0h" in warnings[0] and "not implemented" in warnings[0]
    assert "AH=0Fh" in warnings[1] and "FCB" in warnings[1]


def test_bios_services(root):
    lines = run(root, "bios.com", stdin=b"k")
    assert lines[:20] == [
        "11 equipment CF=0 AX=0020",     # an 80x25 colour screen
        "12 memory CF=0 AX=0280",        # 640 KiB
        "13 disk CF=1 AX=0100",          # no BIOS disk
        "15 88 CF=0 AX=0000",            # no extended memory
        "15 C0 CF=1 AX=8600",
        "1A 00 CF=0 AX=0001",
        "1A 04 CF=0 AX=0020",            # the 21st century, in BCD
        "10 0F CF=0 AX=5003",            # mode 3, 80 columns
        "10 02/03 CF=0 AX=0A05",         # row 10, column 5
        "10 09/08 CF=0 AX=4E41",         # 'A' in yellow on red
        "b800 CF=0 AX=4E41",             # ... and in video memory
        "16 01 CF=0 AX=006B",            # AH=0: ZF clear, 'k' waits
        "16 00 CF=0 AX=256B",            # scan code 25h
        "16 02 CF=0 AX=0000",
        "33 mouse CF=0 AX=0000",         # no mouse
        "67 ems CF=0 AX=8000",           # no expanded memory
        "2F check CF=0 AX=1600",         # AL=00: not installed
        "port 70/71 CF=0 AX=0002",       # CMOS status B: 24-hour clock
        "port 64 CF=0 AX=001C",
        "bda cols CF=0 AX=0050",
    ]
    # stdout is not a terminal: the screen, painted by position, follows as text (the
    # later lines were written from row 12 on, over the 'A's)
    screen = "\r\n".join(lines[20:]).split("\n")
    assert screen[12].startswith("10 09/08 CF=0 AX=4E41")


def test_exec_return_codes_and_errors(root):
    shutil.copy2(PROGRAMS / "exit42.com", root / "EXIT42.COM")
    shutil.copy2(PROGRAMS / "tsr.com", root / "TSR.COM")
    (root / "BAD.EXE").write_bytes(b"MZ\x01")
    lines = run(root, "exec.com")
    assert lines == [
        "4B00 exit CF=0 AX=4B00",
        "4D code CF=0 AX=002A",          # AH=00 ended normally, AL=42
        "4D again CF=0 AX=0000",
        "4B00 tsr CF=0 AX=4B00",
        "4D code CF=0 AX=0307",          # AH=03 stayed resident
        "4B00 missing CF=1 AX=0002",
        "4B00 not exe CF=1 AX=000B",     # invalid format
        "4B01 CF=1 AX=0001",
        "",
    ]


def test_video_services_draw_the_screen(root):
    shutil.copy2(PROGRAMS / "video.com", root / "VIDEO.COM")
    out = run_guest("VIDEO.COM", root=root, stdin=b"\x1b[B", options=("--screen",))   # Down
    assert out.status == 0                          # INT 27h: resident, exit code 0
    text = out.stdout.decode("cp437")
    rule = "-" * 80
    screen = text[text.index(rule):].split("\n")[1:26]
    assert screen[3] == " " * 10 + "STRING"         # AH=13h at row 3, column 10
    assert screen[5] == "#####"                     # AH=0Ah, five times
    assert screen[7:10] == ["b", "c", ""]           # AH=06h: up one line
    assert screen[12:15] == ["", "", "z"]           # AH=07h: down two lines
    assert screen[16:21] == [
        "16 11 CF=0 AX=00E0",                       # ZF clear; a grey key's E0h (enhanced)
        "16 10 CF=0 AX=50E0",                       # Down: scan code 50h
        "1A 02 CF=0 AX=0000",
        "44 01 raw CF=0 AX=80F3",                   # CON, now in raw (binary) mode
        "50 psp CF=0 AX=1234",
    ]


@pytest.mark.parametrize("options", [(), ("--deterministic",)])
def test_the_timer_interrupt_reaches_a_hook_and_moves_the_tick_count(root, options):
    shutil.copy2(PROGRAMS / "timer.com", root / "TIMER.COM")
    out = run_guest("TIMER.COM", root=root, options=("--timeout", "60", *options))
    assert (out.status, out.stdout) == (0, b"INT 1Ch ran 3 times\r\nthe BIOS tick count moved\r\n")


@pytest.mark.parametrize("options", [(), ("--deterministic",)])
@pytest.mark.parametrize(("mode", "expected"), [("P", b"the BIOS tick count moved twice\r\n"),
                                                ("H", b"INT 1Ch ran 3 times\r\n")])
def test_the_clock_reaches_a_program_that_computed_with_no_timer_armed(root, options, mode, expected):
    # No --timeout: a limited run keeps the timer armed; this one runs uncounted until the
    # program reads the tick count (P) or writes a vector (H) in page 0, with no INT.
    shutil.copy2(PROGRAMS / "clock.com", root / "CLOCK.COM")
    out = run_guest("CLOCK.COM", (mode,), root=root, options=options)
    assert (out.status, out.stdout) == (0, expected)
