"""The DOS examples (examples/dos) through the CLI, as a user runs them.

There is no native oracle for DOS on this machine: what each program must print follows
from what it does under DOS (its source says), written out here by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pytest

from .harness import REPO, ntsim, run_guest

DOS = REPO / "examples" / "dos"
pytestmark = pytest.mark.e2e


def install(root: Path, *names: str) -> None:
    for name in names:
        shutil.copy2(DOS / name, root / name.upper())


def test_hello_prints_through_int_21h_and_exits_0(root):
    install(root, "hello.com")
    out = run_guest("HELLO.COM", root=root)
    assert (out.status, out.stdout, out.stderr) == (0, b"Hello from DOS!\r\n", b"")


def test_a_com_file_is_picked_by_its_name_in_any_case(root):
    shutil.copy2(DOS / "hello.com", root / "hello.com")
    out = run_guest("hello.com", root=root)
    assert out.stdout == b"Hello from DOS!\r\n"


def test_multi_segment_exe_is_relocated_and_calls_far(root):
    install(root, "multiseg.exe")
    out = run_guest("MULTISEG.EXE", root=root)
    assert out.stdout == (b"multiseg: started in the code segment\r\n"
                          b"multiseg: hello from the far segment\r\n42\r\n")
    assert out.status == 7


def test_copy_copies_a_file_through_handles(root):
    install(root, "copy.com")
    data = bytes(range(256)) * 5 + b"tail"            # several 512-byte reads, binary
    (root / "source.bin").write_bytes(data)
    out = run_guest("COPY.COM", ("source.bin", "TARGET.BIN"), root=root)
    assert (out.status, out.stdout) == (0, b"1284 bytes copied\r\n")
    assert (root / "TARGET.BIN").read_bytes() == data


def test_copy_reports_dos_error_2_for_a_missing_file(root):
    install(root, "copy.com")
    out = run_guest("COPY.COM", ("missing.txt", "x.txt"), root=root)
    assert out.status == 1
    assert out.stdout == b"copy: cannot open the source, DOS error 2\r\n"
    assert not (root / "X.TXT").exists()


def test_copy_reports_dos_error_3_for_a_missing_directory(root):
    install(root, "copy.com")
    (root / "a.txt").write_text("a")
    out = run_guest("COPY.COM", ("a.txt", "NODIR\\b.txt"), root=root)
    assert out.stdout == b"copy: cannot create the target, DOS error 3\r\n"


def test_dirlist_lists_8_3_names_and_hides_long_ones(root):
    install(root, "dirlist.com")
    (root / "small.txt").write_bytes(b"abc")
    (root / "big.dat").write_bytes(b"x" * 70000)     # a size past 16 bits: EAX
    (root / "SUB").mkdir()
    (root / "A long file name.text").write_text("hidden from DOS")
    (root / "two.dots.txt").write_text("hidden too")
    out = run_guest("DIRLIST.COM", root=root)
    lines = out.stdout.decode().split("\r\n")
    assert out.status == 0
    assert sorted(lines[:-2]) == sorted([
        "SMALL.TXT     3", "BIG.DAT       70000", "SUB           <DIR>",
        f"DIRLIST.COM   {(DOS / 'dirlist.com').stat().st_size}"])
    assert lines[-2:] == ["4 entries", ""]


def test_dirlist_with_a_pattern_and_in_a_subdirectory(root):
    install(root, "dirlist.com")
    (root / "SUB").mkdir()
    (root / "SUB" / "one.com").write_bytes(b"\xc3")
    (root / "SUB" / "two.txt").write_bytes(b"")
    out = run_guest("DIRLIST.COM", ("SUB\\*.COM",), root=root)
    assert out.stdout == b"ONE.COM       1\r\n1 entries\r\n"
    out = run_guest("DIRLIST.COM", ("nothing.*",), root=root)
    assert (out.status, out.stdout) == (1, b"no files\r\n")


def test_screen_draws_in_video_memory_and_screen_shows_it(root):
    install(root, "screen.com")
    out = run_guest("SCREEN.COM", root=root, options=("--screen",))
    assert out.status == 0
    rule = "-" * 80
    text = out.stdout.decode()
    screen = text[text.index(rule):].split("\n")
    assert screen[0] == rule
    assert screen[3] == " " * 10 + "╔" + "═" * 38 + "╗"
    assert screen[5] == " " * 10 + "║" + " " * 8 + "Drawn in video memory" + " " * 9 + "║"
    assert screen[7] == " " * 10 + "╚" + "═" * 38 + "╝"
    assert screen[26] == rule
    # stdout is not a terminal: the screen painted by position is also written as text
    assert text.startswith(" " * 10 + "╔")


def test_hook21_chains_to_the_old_handler(root):
    install(root, "hook21.com")
    out = run_guest("HOOK21.COM", root=root)
    assert out.stdout == (b"first line, through the hook\r\nsecond line, through the hook\r\n"
                          b"!\r\nthird line, after unhooking\r\nAH=09h calls seen by the hook: 3\r\n")
    assert out.status == 0


def test_parent_execs_child_and_prints_its_exit_code(root):
    install(root, "parent.com", "child.com")
    out = run_guest("PARENT.COM", root=root)
    assert out.stdout == (b"child: my command tail is: hello there\r\n"
                          b"parent: the child exited with code 42\r\n")
    assert out.status == 0


def test_exec_of_a_missing_child_fails_with_error_2(root):
    install(root, "parent.com")
    out = run_guest("PARENT.COM", root=root)
    assert (out.status, out.stdout) == (1, b"parent: EXEC failed, DOS error 2")


# --- the VM in the trace and in --stats ---------------------------------------------------------

def test_the_trace_shows_dos_calls_inside_the_vm_and_nt_calls_at_its_edge(root):
    install(root, "parent.com", "child.com")
    trace = root.parent / "trace.jsonl"
    out = run_guest("PARENT.COM", root=root, options=("--trace-file", str(trace)))
    assert out.status == 0
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    created = [e for e in events if e["name"] == "PspCreateProcess" and e["args"]["Subsystem"] == "vdm"]
    assert [e["args"]["ImageName"] for e in created] == ["ntvdm.exe"]    # EXEC made no process
    vdm = created[0]["args"]["ProcessId"]
    mine = [e for e in events if e["pid"] == vdm]
    by_layer: dict[str, list[str]] = {}
    for event in mine:
        by_layer.setdefault(event["layer"], []).append(event["name"])
    assert {"EXEC", "resize memory", "get return code", "write string"} <= set(by_layer["vm"])
    # the child's file is read through NT; resizing memory and the return code are not
    exec_event = next(e for e in mine if e["name"] == "EXEC")
    under_exec = [e["name"] for e in mine if e["parent"] == exec_event["seq"]]
    assert under_exec[:2] == ["NtCreateFile", "NtQueryInformationFile"]
    assert "NtReadFile" in under_exec
    resize = next(e for e in mine if e["name"] == "resize memory")
    assert not [e for e in mine if e["parent"] == resize["seq"]]
    assert {e["layer"] for e in mine if e["name"] in (
        "NtCreateFile", "NtReadFile", "NtDeviceIoControlFile", "NtClose")} == {"nt"}


def test_stats_show_the_vm_memory_and_the_crossings(root):
    install(root, "hello.com")
    out = run_guest("HELLO.COM", root=root, options=("--stats",))
    err = out.stderr.decode()
    assert "VM memory reserved   1,114,112 bytes" in err
    assert "BIOS/DOS calls       2: 1 stayed inside the VM, 1 crossed to NT" in err  # 4Ch; 09h
    assert "ntvdm.exe" in err
    made = re.search(r"Nt\* calls +([\d,]+) made by the VM", err)
    assert int(made.group(1).replace(",", "")) >= 4         # the console opened twice, the write
    used = re.search(r"DOS memory used +([\d,]+) paragraphs", err)
    assert int(used.group(1).replace(",", "")) > 0x9000     # a COM program gets all memory


def test_info_describes_an_mz_image(root):
    out = ntsim("info", str(DOS / "multiseg.exe"), cwd=root)
    text = out.stdout.decode()
    assert out.status == 0
    assert "DOS MZ executable" in text and "personality   vdm" in text
    assert "relocations   3 (table at 0x1c)" in text
    assert "stack SS:SP   000B:0200" in text


def test_info_describes_a_com_file(root):
    out = ntsim("info", str(DOS / "hello.com"), cwd=root)
    assert out.status == 0
    assert "DOS COM program" in out.stdout.decode()


def test_calls_vdm_prints_the_int_21h_table_with_levels(root):
    out = ntsim("calls", "vdm", cwd=root)
    lines = out.stdout.decode().splitlines()
    assert out.status == 0
    assert any(line.startswith("21:4C  INT 21h terminate with exit code") or
               line.startswith("21:4C  terminate with exit code") for line in lines)
    assert any(line.startswith("21:0F") and "unsupported" in line and "FCB" in line for line in lines)
    assert any(line.startswith("10:0E") for line in lines)


# --- bad images: exit status 126, one line ------------------------------------------------------

def _mz(pages: int = 1, last: int = 0x40, relocations: list[tuple[int, int]] = (),
        minalloc: int = 0, header_paragraphs: int = 4, body: bytes = b"\xcd\x20") -> bytes:
    header = struct.pack("<2s13H", b"MZ", last, pages, len(relocations), header_paragraphs, minalloc,
                         0xFFFF, 0, 0x100, 0, 0, 0, 0x1C, 0)
    table = b"".join(struct.pack("<HH", offset, segment) for offset, segment in relocations)
    image = (header + table).ljust(header_paragraphs * 16, b"\x00") + body
    return image


def _cannot_execute(root: Path, name: str, data: bytes) -> str:
    (root / name).write_bytes(data)
    out = run_guest(name, root=root)
    assert out.status == 126, out
    lines = out.stderr_lines
    assert len(lines) == 1, lines
    return lines[0]


def test_a_truncated_mz_header_cannot_execute(root):
    line = _cannot_execute(root, "TRUNC.EXE", b"MZ\x10\x00\x02")
    assert "truncated MZ header" in line


def test_an_mz_shorter_than_its_header_says_cannot_execute(root):
    line = _cannot_execute(root, "SHORT.EXE", _mz(pages=3, last=0))
    assert "truncated MZ executable" in line and "1,536" in line


def test_a_relocation_outside_the_image_cannot_execute(root):
    body = b"\xcd\x20" + b"\x00" * 14
    data = _mz(last=0x40 + len(body), relocations=[(0x0100, 0x0000)], body=body)
    line = _cannot_execute(root, "RELOC.EXE", data)
    assert "relocation 0 at 0000:0100 points outside" in line


def test_a_com_file_over_65280_bytes_cannot_execute(root):
    line = _cannot_execute(root, "BIG.COM", b"\x90" * 65281)
    assert "65,281 bytes" in line and "65,280" in line


def test_a_com_file_of_65280_bytes_runs(root):
    (root / "FULL.COM").write_bytes(b"\xcd\x20" + b"\x90" * (65280 - 2))
    assert run_guest("FULL.COM", root=root).status == 0


def test_an_exe_too_big_for_memory_cannot_execute(root):
    line = _cannot_execute(root, "HUGE.EXE", _mz(last=0x42, minalloc=0xA000))
    assert "does not fit in conventional memory" in line


def test_an_mz_stub_of_a_pe_image_is_not_a_dos_program(root):
    data = bytearray(_mz(last=0x42).ljust(0x100, b"\x00"))
    data[0x3C:0x40] = struct.pack("<I", 0x80)
    data[0x80:0x84] = b"PE\x00\x00"
    (root / "WIN.EXE").write_bytes(bytes(data))
    out = run_guest("WIN.EXE", root=root, options=("--personality", "vdm"))
    assert out.status == 126
    assert "PE executable" in out.stderr.decode()


# --- run limits -------------------------------------------------------------------------------

def test_max_instructions_stops_a_runaway_program_with_152(root):
    (root / "LOOP.COM").write_bytes(b"\xeb\xfe")             # jmp $
    out = run_guest("LOOP.COM", root=root, options=("--max-instructions", "200000"))
    assert out.status == 152
    assert len(out.stderr_lines) == 1
    assert "--max-instructions 200000" in out.stderr_lines[0]


def test_timeout_stops_a_runaway_program_with_124(root):
    (root / "LOOP.COM").write_bytes(b"\xeb\xfe")
    out = run_guest("LOOP.COM", root=root, options=("--timeout", "0.5"))
    assert out.status == 124
    assert out.stderr_lines == ["ntsim: stopped after 0.5 s of wall-clock time (--timeout 0.5)"]


def test_run_limits_are_documented_in_run_help(root):
    text = ntsim("run", "--help", cwd=root).stdout.decode()
    assert "--max-instructions N" in text and "152" in text
    assert "--timeout S" in text and "124" in text


def test_a_divide_error_stops_the_vm_with_sigfpe_status(root):
    (root / "DIV.COM").write_bytes(bytes.fromhex("31c9b80500f7f1cd20"))   # xor cx,cx; div cx
    out = run_guest("DIV.COM", root=root)
    assert out.status == 128 + 8
    assert out.stderr_lines == ["ntsim: ntvdm.exe: the DOS program stopped the virtual machine: "
                                "divide error at 0106:0105"]


def test_a_program_that_hooks_int_0_handles_its_own_divide_error(root):
    # mov ax,2500h; mov dx,handler; int 21h; xor cx,cx; div cx; mov ah,9; mov dx,msg; int 21h
    # int 20h; handler: add sp,6 ... (skip the DIV: return past it) -- written out by hand:
    code = bytearray()
    code += bytes.fromhex("b80025ba0000cd21")         # DX patched below: the handler
    code += bytes.fromhex("31c9f7f1")                 # xor cx,cx; div cx   (at 0108h)
    code += bytes.fromhex("b409ba0000cd21cd20")       # ah=9; dx=msg; int 21h; int 20h
    handler = 0x100 + len(code)
    code += bytes.fromhex("5e46 4656 cf".replace(" ", ""))   # pop si; inc si x2; push si; iret
    message = 0x100 + len(code)
    code += b"handled$"
    code[4:6] = handler.to_bytes(2, "little")
    code[15:17] = message.to_bytes(2, "little")
    (root / "DIV0.COM").write_bytes(bytes(code))
    out = run_guest("DIV0.COM", root=root)
    assert (out.status, out.stdout) == (0, b"handled")


def test_copy_from_con_reads_the_host_input_as_dos_lines(root):
    install(root, "copy.com")
    out = run_guest("COPY.COM", ("CON", "OUT.TXT"), root=root, stdin=b"line1\nline2\n")
    assert (out.status, out.stdout) == (0, b"14 bytes copied\r\n")
    assert (root / "OUT.TXT").read_bytes() == b"line1\r\nline2\r\n"     # CR LF, as DOS reads CON


def test_a_detailed_trace_shows_a_hooked_interrupt_going_through_the_table():
    import io

    from ntsim.machine import Machine
    from ntsim.subsystems.windows.csrss import CapturedConsole
    from ntsim.trace import JsonLinesSink

    machine = Machine(str(DOS), console=CapturedConsole())
    stream = io.StringIO()
    machine.add_sink(JsonLinesSink(stream, detail=True))
    machine.load(str(DOS / "hook21.com"))
    assert machine.run() == 0
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    through = [e for e in events if e["name"] == "InterruptThroughIvt"]
    # four INT 21h calls while hooked (two AH=09h, one AH=02h, the 09h for CR LF) and the
    # AH=25h that unhooks it
    assert len(through) == 5
    assert {e["layer"] for e in through} == {"vm"} and {e["args"]["Vector"] for e in through} == {"21h"}
