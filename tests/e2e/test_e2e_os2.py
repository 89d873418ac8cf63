"""OS/2 1.x programs (examples/os2, NE images) through the CLI, as a user runs them.

There is no native OS/2 to compare with: each expectation comes from the program's own
source (what it writes, with which values, and how it ends) and from OS/2's documented
behaviour (error 18 at the end of a search, 128 when no child is left)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import sys

import pytest

from .harness import REPO, ntsim, run_guest

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "examples" / "os2"


def install(root, *names: str) -> None:
    for name in names:
        shutil.copy2(EXAMPLES / name, root / name)


def test_hello_writes_with_doswrite(root):
    install(root, "hello.exe")
    outcome = run_guest("hello.exe", root=root)
    assert (outcome.status, outcome.stdout, outcome.stderr) == (0, b"Hello, OS/2!\r\n", b"")


def test_viowrttty_and_doswrite_share_one_console_in_order(root):
    install(root, "hellovio.exe")
    outcome = run_guest("hellovio.exe", root=root)
    assert outcome.status == 0
    lines = outcome.stdout.decode().splitlines()
    assert lines[:3] == ["DosWrite first", "Hello from VioWrtTTY", "DosWrite after"]
    assert lines[3] == "mode 80x25"              # VioGetMode answers though stdout is a pipe
    # DosWrite is processed output on the same screen: four lines in, the cursor is on the fifth
    assert lines[4:] == ["cursor row 4 column 0"]
    assert outcome.stdout.count(b"DosWrite first") == 1      # each byte reaches the pipe once


def test_copy_copies_a_file_and_reports_a_missing_one(root):
    install(root, "copy.exe")
    content = bytes(range(256)) * 5 + b"tail"      # more than one 512-byte read
    (root / "SOURCE.BIN").write_bytes(content)
    outcome = run_guest("copy.exe", ("SOURCE.BIN", "TARGET.BIN"), root=root)
    assert (outcome.status, outcome.stdout) == (0, f"copied {len(content)} bytes\r\n".encode())
    assert (root / "TARGET.BIN").read_bytes() == content
    missing = run_guest("copy.exe", ("NOSUCH.TXT", "OUT.TXT"), root=root)
    assert (missing.status, missing.stdout) == (2, b"copy: error 2\r\n")    # ERROR_FILE_NOT_FOUND
    assert not (root / "OUT.TXT").exists()


def test_dir_lists_the_root_with_dosfindfirst_and_dosfindnext(root):
    install(root, "dir.exe")
    (root / "README.TXT").write_text("x")
    (root / "SUBDIR").mkdir()
    outcome = run_guest("dir.exe", root=root)
    lines = outcome.stdout.decode().splitlines()
    assert outcome.status == 0
    assert sorted(lines[:-1]) == ["README.TXT", "SUBDIR\\", "dir.exe"]   # no . or .. in the root
    assert lines[-1] == "3 file(s), last error 18"                      # ERROR_NO_MORE_FILES
    only = run_guest("dir.exe", ("*.TXT",), root=root)
    assert only.stdout.decode().splitlines() == ["README.TXT", "1 file(s), last error 18"]


def test_dosallocseg_memory_and_a_freed_selector_is_a_general_protection_fault(root):
    install(root, "memory.exe")
    outcome = run_guest("memory.exe", root=root)
    lines = outcome.stdout.decode().splitlines()
    assert lines[0].startswith("allocated selector ") and int(lines[0][-4:], 16) & 7 == 7   # LDT, ring 3
    assert lines[1:] == ["written from a DosAllocSeg segment", "grew to 8000 bytes",
                         "freed; loading the selector again"]
    assert outcome.status == 0xC0000005 & 0xFF               # STATUS_ACCESS_VIOLATION, as a shell sees it
    [message] = outcome.stderr_lines
    assert "SYS3175" in message and "general protection fault" in message and "CS:IP " in message


def test_dosexecpgm_and_doscwait_give_the_child_s_result_code(root):
    install(root, "exec.exe")
    shutil.copy2(EXAMPLES / "child.exe", root / "CHILD.EXE")
    outcome = run_guest("exec.exe", root=root)
    assert outcome.status == 0, outcome.stderr
    assert outcome.stdout.decode().splitlines() == [
        "child: arguments 'one two'",
        "exec: synchronous child ended, termination 0, result 7",
        "child: arguments 'one two'",
        "exec: DosCWait collected the asynchronous child, result 7",
        "exec: DosCWait with no children left: error 128",
    ]


def test_far_calls_between_segments_and_the_loader_s_fixups(root):
    install(root, "multiseg.exe")
    outcome = run_guest("multiseg.exe", root=root)
    assert outcome.status == 0
    # routine is at 0x34 in segment 2 (the source pads it so); segment 2's selector is
    # LDT entry 2 at ring 3: 0x0017. Four calls (three direct, one through the pointer).
    assert outcome.stdout == (b"multiseg: " * 4 + b"calls 4, additive 0034, low byte 0034, "
                              b"routine at 0017:0034\r\n")


# --- what the tools show -------------------------------------------------------------------------


def test_trace_shows_doswrite_in_process_and_dosexecpgm_over_lpc_to_os2ss(root):
    install(root, "exec.exe")
    shutil.copy2(EXAMPLES / "child.exe", root / "CHILD.EXE")
    trace = root / "trace.jsonl"
    outcome = run_guest("exec.exe", root=root, options=("--trace-file", str(trace)))
    assert outcome.status == 0
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    by_seq = {e["seq"]: e for e in events}

    def ancestry(event):
        chain = [event]
        while chain[-1].get("parent") in by_seq:
            chain.append(by_seq[chain[-1]["parent"]])
        return [(e["layer"], e["name"]) for e in reversed(chain)]

    write = next(e for e in events if e["name"] == "NtWriteFile" and e["layer"] == "nt")
    assert ancestry(write)[:2] == [("personality", "DosWrite"), ("nt", "NtWriteFile")]
    execs = [ancestry(e) for e in events if e["name"] == "Os2ExecPgm" and e["layer"] == "server"]
    assert execs and execs[0][:3] == [("personality", "DosExecPgm"), ("nt", "NtRequestWaitReplyPort"),
                                      ("lpc", "NtRequestWaitReplyPort")]
    started = [e["args"]["Subsystem"] for e in events if e["name"] == "SmStartSubsystem"]
    assert started == ["Windows", "Os2"]        # CSRSS at boot, OS2SS on the first OS/2 program


def test_strace_style_trace_names_doswrite_then_ntwritefile(root):
    install(root, "hello.exe")
    outcome = run_guest("hello.exe", root=root, options=("--trace",))
    text = outcome.stderr.decode()
    assert text.index('DosWrite(1, "Hello, OS/2!') < text.index("[nt] NtWriteFile") < text.index("DosExit(1, 0)")


def test_stats_show_lpc_messages_and_descriptor_table_memory(root):
    install(root, "exec.exe")
    shutil.copy2(EXAMPLES / "child.exe", root / "CHILD.EXE")
    outcome = run_guest("exec.exe", root=root, options=("--stats",))
    text = outcome.stderr.decode()
    assert "OS2SS (os2srv.exe" in text and "4 LPC messages" in text    # 2 DosExecPgm, 2 DosCWait
    assert "LDT: " in text and "GDT + LDT 64.0 KiB" in text
    assert "os2srv.exe     pid" in text and " server " in text


def test_info_shows_segments_imports_and_entry_point(root):
    outcome = ntsim("info", str(EXAMPLES / "multiseg.exe"), cwd=root)
    text = outcome.stdout.decode()
    assert outcome.status == 0
    assert "personality   os2" in text
    assert "CS:IP = segment 1:0x0000" in text
    assert "DOSCALLS.5 DosExit" in text and "DOSCALLS.DOSWRITE" in text     # by ordinal and by name
    assert "segment=2  type=CODE" in text and "segment=3  type=DATA" in text
    assert "import by name" in text and "internal" in text


def test_calls_prints_each_api_s_path_and_support_level(root):
    outcome = ntsim("calls", "os2", cwd=root)
    lines = outcome.stdout.decode().splitlines()
    write = next(line for line in lines if "DOSCALLS.DosWrite" in line)
    execs = next(line for line in lines if "DOSCALLS.DosExecPgm" in line)
    assert write.split()[0] == "138" and "supported" in write and "in-process" in write
    assert execs.split()[0] == "144" and "LPC to OS2SS" in execs
    assert any("VIOCALLS.VioWrtTTY" in line and line.split()[0] == "19" for line in lines)


# --- bad programs ------------------------------------------------------------------------------


def _nebuild():
    spec = importlib.util.spec_from_file_location("nebuild", EXAMPLES / "nebuild.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nebuild"] = module
    spec.loader.exec_module(module)
    return module


def _image(nebuild, modules=("DOSCALLS",), extra_import=None) -> bytes:
    """push 1; push 0; [call far extra]; call far DosExit."""
    code, fixups = b"", []
    if extra_import is not None:
        code += b"\x9a\x00\x00\x00\x00"
        fixups.append(nebuild.Fixup(1, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, 1, *extra_import))
    fixups.append(nebuild.Fixup(1, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, len(code) + 5, 1, 5))
    code += b"\x6a\x01\x6a\x00\x9a\x00\x00\x00\x00"
    program = nebuild.Program([nebuild.SegmentSpec(code, 0x50), nebuild.SegmentSpec(bytes(16), 0x51)],
                              list(modules), fixups, cs_ip=(1, 0), ss_sp=(2, 0), autodata=2)
    return nebuild.link(program)


def test_a_program_importing_moucalls_never_starts(root):
    (root / "mouse.exe").write_bytes(_image(_nebuild(), ("DOSCALLS", "MOUCALLS"), (2, 1)))
    outcome = run_guest("mouse.exe", root=root)
    assert (outcome.status, outcome.stdout) == (126, b"")
    [message] = outcome.stderr_lines
    assert "MOUCALLS" in message


def test_a_truncated_ne_is_refused_with_one_line(root):
    whole = (EXAMPLES / "hello.exe").read_bytes()
    base = struct.unpack_from("<I", whole, 0x3C)[0]
    (root / "cut.exe").write_bytes(whole[:base + 0x30])
    outcome = run_guest("cut.exe", root=root)
    assert (outcome.status, outcome.stdout) == (126, b"")
    [message] = outcome.stderr_lines
    assert "truncated NE header" in message


def test_an_unimplemented_ordinal_warns_at_load_and_stops_the_program_when_called(root):
    (root / "odd.exe").write_bytes(_image(_nebuild(), extra_import=(1, 999)))
    outcome = run_guest("odd.exe", root=root)
    assert outcome.status == 125
    warning, stopped = outcome.stderr_lines[0], outcome.stderr_lines[-1]
    assert "imports DOSCALLS.999, which ntsim does not implement" in warning
    assert "DOSCALLS.999" in stopped and "does not implement" in stopped


def test_a_tour_of_the_apis(root):
    """examples/os2/apis.asm: each line an API's return code or a value it gave back;
    the expectations are OS/2's documented results for what the program asks."""
    install(root, "apis.exe")
    shutil.copy2(EXAMPLES / "child.exe", root / "CHILD.EXE")
    outcome = run_guest("apis.exe", root=root, stdin=b"xyline\r")
    assert outcome.status == 0, outcome.stderr
    lines = outcome.stdout.decode().split("\r\n")
    results = dict(line.rsplit(" ", 1) for line in lines if line and " " in line and line.rsplit(" ", 1)[1].isdigit())
    assert results == {
        "DosGetVersion": str(10 << 8 | 30),      # OS/2 1.30: major 10, minor 30
        "DosGetInfoSeg": "0", "GINFOSEG major": "10", "GINFOSEG minor": "30",
        "GINFOSEG year>=2020": "1", "LINFOSEG pid = DosGetPID pid": "1",
        "LINFOSEG environment = AX at start": "1", "DosGetEnv = AX:BX at start": "1",
        "DosQCurDisk disk": "3", "DosQCurDisk map": "4",          # C: only
        "DosSelectDisk(4)": "15",                                 # ERROR_INVALID_DRIVE
        "DosMkDir": "0", "DosChDir": "0", "DosQCurDir": "0",
        "DosOpen": "0", "DosOpen action": "2",                    # FILE_CREATED
        "DosChgFilePtr(-2 from the end)": "3",                    # "hello" is 5 bytes
        "DosNewSize": "0", "DosBufReset": "0", "DosQFileInfo": "0", "DosQFileInfo size": "3",
        "DosDupHandle": "0", "DosDupHandle new handle": "4",      # 0-2 standard, 3 the file
        "DosClose": "0", "DosClose again": "6",                   # ERROR_INVALID_HANDLE
        "DosSetFileMode": "0", "DosQFileMode": "1",               # FILE_READONLY
        "DosMove": "0", "DosDelete": "0", "DosDelete again": "2",  # ERROR_FILE_NOT_FOUND
        "DosRmDir": "0", "DosRmDir again": "3",                   # ERROR_PATH_NOT_FOUND
        "DosMakePipe": "0", "DosAllocHuge": "0", "DosAllocHuge third segment": "1",
        "DosSleep": "0", "DosGetDateTime": "0", "DosBeep": "0", "DosError": "0",
        "DosSetSigHandler ignore": "0", "DosSetSigHandler accept": "0",
        "DosAllocShrSeg": "0", "DosAllocShrSeg again": "183",   # ERROR_ALREADY_EXISTS
        "DosAllocShrSeg without \\SHAREMEM\\": "123",         # ERROR_INVALID_NAME
        "DosFreeSeg shared": "0", "DosGetShrSeg after": "2",      # the last user freed it
        "DosExecPgm async": "0", "DosKillProcess": "0", "DosCWait": "0",
        "DosCWait termination code": "3",                         # TC_KILLPROCESS
        "DosKillProcess again": "303",                            # ERROR_INVALID_PROCID
        # VioSetCurPos(5, 10), then the "VioSetCurPos 0" line DosWrite puts there (the
        # console's processed output, as VioWrtTTY's) leaves the cursor at row 6, column 0
        "VioScrollUp": "0", "VioSetCurPos": "0", "VioGetCurPos row": "6", "VioGetCurPos column": "0",
        "VioSetCurPos(99, 0)": "358",                             # ERROR_VIO_ROW
        "VioWrtCharStrAtt": "0", "VioReadCellStr": "0",
        "KbdPeek character": str(ord("x")), "KbdCharIn character": str(ord("x")), "KbdStringIn": "0",
    }
    assert "current directory \\NEWDIR" in lines
    assert "DosRead from the pipe ping" in lines
    assert "cells 1F411F421F43" in lines                          # 'A' 'B' 'C' in 1Fh
    assert "line yline" in lines
    # one segment seen by two processes: the child reads the parent's text, and writes its own
    assert "child: the shared segment says 'from the parent'" in lines
    assert "the shared segment now says 'child was here'" in lines
    # handle 1 redirected to a pipe (DosDupHandle) is inherited by DosExecPgm's child
    assert "from the child through the pipe: child: arguments 'piped'" in lines
    assert lines.count("child: arguments 'piped'") == 0          # not on the console itself
    assert not (root / "NEWDIR").exists() and not (root / "FILE.TXT").exists()


def test_copy_from_con_reads_standard_input_to_its_end(root):
    """DosOpen("CON") for reading is the console's input; DosRead returns 0 bytes at its end."""
    install(root, "copy.exe")
    outcome = run_guest("copy.exe", ("CON", "TYPED.TXT"), root=root, stdin=b"line one\nline two\n")
    assert (outcome.status, outcome.stdout) == (0, b"copied 18 bytes\r\n")
    assert (root / "TYPED.TXT").read_bytes() == b"line one\nline two\n"


def test_a_windows_ne_is_not_an_os2_program(root):
    whole = bytearray((EXAMPLES / "hello.exe").read_bytes())
    base = struct.unpack_from("<I", whole, 0x3C)[0]
    whole[base + 0x36] = 2                                  # target OS: Windows
    (root / "win.exe").write_bytes(bytes(whole))
    outcome = run_guest("win.exe", root=root)
    assert (outcome.status, outcome.stdout) == (126, b"")
    assert "16-bit Windows program" in outcome.stderr_lines[0]


def _program(nebuild, code: bytes, calls: dict[int, int], data: bytes = bytes(64)) -> bytes:
    """An NE image from hand-assembled 16-bit code: `calls` maps the offset of each
    `call far` operand in the code to the DOSCALLS ordinal it calls."""
    fixups = [nebuild.Fixup(1, nebuild.FAR_POINTER, nebuild.IMPORT_ORDINAL, at, 1, ordinal)
              for at, ordinal in calls.items()]
    program = nebuild.Program([nebuild.SegmentSpec(code, 0x50), nebuild.SegmentSpec(data, 0x51)],
                              ["DOSCALLS"], fixups, cs_ip=(1, 0), ss_sp=(2, 0), autodata=2)
    return nebuild.link(program)


FAR = b"\x9a\x00\x00\x00\x00"
EXIT_AX = b"\x6a\x01\x50" + FAR                             # push 1; push ax; call far DosExit


def test_processor_traps_end_the_program_with_sys3175_naming_cs_ip(root):
    nebuild = _nebuild()
    divide = b"\x31\xc0\xf7\xf0"                            # xor ax, ax; div ax
    (root / "divide.exe").write_bytes(_program(nebuild, divide + EXIT_AX, {len(divide) + 4: 5}))
    int21 = b"\xb4\x4c\xcd\x21"                             # mov ah, 4Ch; int 21h: DOS, not OS/2
    (root / "int21.exe").write_bytes(_program(nebuild, int21 + EXIT_AX, {len(int21) + 4: 5}))
    divided = run_guest("divide.exe", root=root)
    assert divided.status == 0xC0000094 & 0xFF                # STATUS_INTEGER_DIVIDE_BY_ZERO, as a shell sees it
    [message] = divided.stderr_lines
    assert "SYS3175" in message and "divide error (TRAP 0000) at CS:IP 000F:0002" in message
    dos = run_guest("int21.exe", root=root)                    # no interrupt gate for ring 3: #GP
    assert dos.status == 0xC0000005 & 0xFF                    # STATUS_ACCESS_VIOLATION
    [message] = dos.stderr_lines
    assert "general protection fault (TRAP 000D)" in message and "INT 21h at CS:IP 000F:0002" in message


def test_doscwait_without_waiting_for_a_running_child_and_for_a_stranger(root):
    nebuild = _nebuild()
    # the child sleeps 300 ms: DosSleep(300); DosExit(1, 5)
    sleeper = b"\x6a\x00\x68\x2c\x01" + FAR + b"\x6a\x01\x6a\x05" + FAR
    (root / "SLEEPER.EXE").write_bytes(_program(nebuild, sleeper, {6: 32, 15: 5}))
    data = bytearray(64)
    data[0x10:0x1A] = b"SLEEPER\0\0\0"
    data[0x30:0x3C] = b"SLEEPER.EXE\0"
    execute = (b"\x1e\x6a\x00" + b"\x6a\x10" + b"\x6a\x01" + b"\x1e\x6a\x10" + b"\x6a\x00\x6a\x00"
               + b"\x1e\x6a\x20" + b"\x1e\x6a\x30" + FAR)     # DosExecPgm(EXEC_ASYNC)
    calls = {len(execute) - 4: 144}

    def cwait(pid: bytes) -> bytes:                          # DosCWait(DCWA_PROCESS, DCWW_NOWAIT, ...)
        return b"\x6a\x00\x6a\x01" + b"\x1e\x6a\x20" + b"\x1e\x6a\x26" + pid + FAR

    running = execute + cwait(b"\xff\x36\x20\x00")           # push word [results]: the child's pid
    calls_running = {**calls, len(running) - 4: 2, len(running) + 4: 5}
    (root / "nowait.exe").write_bytes(_program(nebuild, running + EXIT_AX, calls_running, bytes(data)))
    stranger = execute + cwait(b"\x68\x0f\x27")               # push 9999: nobody's child
    calls_stranger = {**calls, len(stranger) - 4: 2, len(stranger) + 4: 5}
    (root / "stranger.exe").write_bytes(_program(nebuild, stranger + EXIT_AX, calls_stranger, bytes(data)))
    assert run_guest("nowait.exe", root=root).status == 129       # ERROR_CHILD_NOT_COMPLETE
    assert run_guest("stranger.exe", root=root).status == 303 & 0xFF   # ERROR_INVALID_PROCID (a shell sees 8 bits)


def test_ctrl_c_runs_the_dossetsighandler_handler_which_acknowledges_it(root):
    """The console's Ctrl+C (typed on the terminal ntsim reads) reaches CSRSS, then the
    OS/2 personality: the handler runs on thread 1 with SIG_CTRLC (1) and argument 0,
    acknowledges, and returns into the DosSleep loop it interrupted, which exits 0 —
    ntsim is not stopped. Standard output is a pipe, so the text is plain."""
    import fcntl
    import os
    import pty
    import signal
    import subprocess
    import termios

    install(root, "sigint.exe")
    master, slave = pty.openpty()

    def take_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen([sys.executable, "-m", "ntsim", "run", "--root", str(root), "sigint.exe"],
                               cwd=root, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=take_the_terminal)
    os.close(slave)
    try:
        output = b""
        while b"waiting for Ctrl+C" not in output:
            chunk = os.read(process.stdout.fileno(), 4096)
            assert chunk, f"ended before waiting: {output!r}"
            output += chunk
        os.write(master, b"\x03")
        rest, errors = process.communicate(timeout=30)
    finally:
        process.kill()
        os.close(master)
    assert (process.returncode, errors) == (0, b"")
    assert (output + rest).replace(b"\r\n", b"\n") == (
        b"previous action 0; waiting for Ctrl+C\nhandler: signal 1, argument 0\n"
        b"acknowledged 0\nback in the main loop; exiting\n")
