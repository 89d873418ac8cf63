"""The `ntsim` command.

    ntsim run [options] PROGRAM [ARGS...]   run a guest program
    ntsim info PROGRAM                      what the image is and who would run it
    ntsim calls NAME                        a personality's call table (or `nt`)
    ntsim personalities                     the installed personalities
    ntsim objects                           the object namespace of a freshly booted machine

Exit status of `run`: the guest's own; 128+N when signal N killed it; 125 when ntsim
failed, 126 when the image cannot be executed, 127 when it is not found; 152 (128 +
SIGXCPU, as `ulimit -t`) after --max-instructions, 124 (as GNU timeout) after --timeout.
Errors are one line on stderr, never a traceback: an internal error writes its traceback
to a report file and names it (`--debug`, or NTSIM_DEBUG=1, prints it instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

EXIT_NTSIM_FAILED, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND = 125, 126, 127
EXIT_INTERRUPTED = 128 + 2          # stopped by Ctrl+C, as a shell reports SIGINT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ntsim", description="Run real guest programs under a modelled Windows NT kernel.")
    parser.add_argument("--debug", action="store_true",
                        help="print an internal error's traceback instead of writing a report file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run a guest program")
    run.add_argument("--personality", "-p", metavar="NAME", help="force a personality (default: probe)")
    run.add_argument("--root", metavar="DIR", default=".",
                     help="host directory backing the guest's / or C:\\ (default: current directory)")
    run.add_argument("--cwd", metavar="DIR",
                     help="guest directory the program starts in (default: the current "
                          "directory when it lies inside --root, else the root itself)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no notes about unsupported calls at the end of the run "
                          "(they stay in --trace, --trace-file and --stats)")
    run.add_argument("--network", action="store_true",
                     help="let Linux guests' Internet sockets reach other hosts and bind "
                          "non-loopback addresses (default: loopback only)")
    run.add_argument("--read-only", action="store_true",
                     help="the root is write-protected: every change is refused "
                          "(EROFS, STATUS_MEDIA_WRITE_PROTECTED)")
    run.add_argument("--trace", action="store_true", help="strace-style lines on stderr")
    run.add_argument("--trace-file", metavar="FILE", help="write every event as JSON lines")
    run.add_argument("--stats", action="store_true", help="print a summary at exit")
    run.add_argument("--deterministic", action="store_true",
                     help="virtual clock and fixed seeds: the same run gives the same trace")
    run.add_argument("--seed", type=int, metavar="N", help="seed for getrandom and AT_RANDOM")
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                     help="print an internal error's traceback instead of writing a report file")
    run.add_argument("--dump-namespace", action="store_true",
                     help="print the object namespace when the run ends")
    run.add_argument("--screen", action="store_true",
                     help="print the console's final text screen (80x25) at exit")
    run.add_argument("--max-instructions", type=_positive_int, metavar="N",
                     help="stop after N guest instructions: one line on stderr, exit status "
                          "152 (128+SIGXCPU, as ulimit -t); counting slows the run")
    run.add_argument("--timeout", type=_positive_float, metavar="S",
                     help="stop after S seconds of wall-clock time: one line on stderr, exit "
                          "status 124 (as GNU timeout)")
    _limit_options(run)
    run.add_argument("program", metavar="PROGRAM")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")

    info = commands.add_parser("info", help="describe an image")
    info.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                      help="print an internal error's traceback instead of writing a report file")
    info.add_argument("program", metavar="PROGRAM")

    calls = commands.add_parser("calls", help="print a personality's call table (or 'nt')")
    calls.add_argument("name", metavar="NAME")
    calls.add_argument("--level", choices=("supported", "partial", "unsupported"),
                       help="only rows with this support level")

    tui = commands.add_parser("tui", help="the classroom TUI: watch calls cross every boundary",
                              description="ntsim tui [PROGRAM [ARGS...]] | --compare 'A ARGS' 'B ARGS' "
                                          "| --lesson NAME")
    tui.add_argument("--root", metavar="DIR", default=".", help="the guest's / (default: .)")
    tui.add_argument("--personality", "-p", metavar="NAME", help="force a personality")
    tui.add_argument("--deterministic", action="store_true", help="a virtual clock (as for run)")
    tui.add_argument("--compare", nargs=2, metavar=("'A ARGS'", "'B ARGS'"),
                     help="two runs side by side")
    tui.add_argument("--lesson", metavar="NAME", help="a lesson from docs/lessons (or 'list')")
    tui.add_argument("program", metavar="PROGRAM", nargs="?")
    tui.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")

    commands.add_parser("personalities", help="list the personalities")
    commands.add_parser("objects", help="print the object namespace of a booted machine")
    return parser


def _limit_options(run: argparse.ArgumentParser) -> None:
    """The limits a hostile or runaway guest meets (kernel/limits.py; README: Safety)."""
    from .kernel.limits import (
        DEFAULT_MAX_PROCESSES,
        DEFAULT_MAX_THREADS,
        DEFAULT_MAX_TRACE_SIZE,
        default_max_memory,
        default_max_open_files,
        describe_size,
        parse_size,
    )

    def size(text: str) -> int:
        try:
            return parse_size(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a size (try 512M, 4G)") from None

    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 1:
            raise argparse.ArgumentTypeError("must be at least 1")
        return value

    limits = run.add_argument_group("limits (what a runaway guest meets: README, Safety)")
    limits.add_argument("--max-memory", type=size, metavar="SIZE",
                        help="guest memory touched, all processes together; past it a touch is "
                             "the OOM killer's SIGKILL and a call that needs memory ENOMEM "
                             f"(default: a quarter of the host's, here {describe_size(default_max_memory())})")
    limits.add_argument("--max-processes", type=count, metavar="N",
                        help=f"guest processes not yet reaped; fork past it is EAGAIN "
                             f"(default {DEFAULT_MAX_PROCESSES})")
    limits.add_argument("--max-threads", type=count, metavar="N",
                        help=f"guest threads, all processes together; clone past it is EAGAIN "
                             f"(default {DEFAULT_MAX_THREADS})")
    limits.add_argument("--max-open-files", type=count, metavar="N",
                        help="the most a guest's RLIMIT_NOFILE may be (open past it is EMFILE); "
                             "never more than the host gives ntsim "
                             f"(default: 1024 or the host's limit, here {default_max_open_files()})")
    limits.add_argument("--max-trace-size", type=size, metavar="SIZE",
                        help="--trace-file stops growing here, with a last line saying so "
                             f"(default {describe_size(DEFAULT_MAX_TRACE_SIZE)})")


def _limits(args: argparse.Namespace):
    from .kernel.limits import Limits

    limits = Limits()
    for name in ("max_memory", "max_processes", "max_threads", "max_open_files", "max_trace_size"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(limits, name, value)
    limits.__post_init__()
    return limits


class CappedFile:
    """A trace file that stops growing at a size: the rest of the run is not written,
    and a last line says where it stopped (the guest runs on regardless)."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.limit, self.written, self.full = stream, limit, 0, False

    def write(self, text: str) -> int:
        if self.full:
            return len(text)
        if self.written + len(text) > self.limit:
            self.full = True
            self.stream.write('{"truncated": "the trace reached --max-trace-size"}\n')
            return len(text)
        self.written += len(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: not a positive number")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: not a positive number of seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    """The command with `argv` (default: the program's own arguments); its exit status.

    Called without `argv` it is the program (the console script, `python -m ntsim`): it
    then leaves the process itself once everything is written (`_exit_now`)."""
    status = _command(argv)
    if argv is None:
        _exit_now(status)
    return status


def _exit_now(status: int) -> None:
    """Leave the process without CPython's finalization, when nothing is lost by it.

    Tearing the machine down object by object at exit (page tables, VADs, handle tables,
    the engines) took ~20 ms of every `ntsim run`, a sixth of hello's wall time, to free
    memory the host frees at once. Exit handlers still run (weakref finalizers, coverage);
    host files are raw descriptors, and stdout/stderr are flushed here. A live non-daemon
    thread, or output that cannot be flushed, takes the ordinary way out instead."""
    import atexit
    import threading

    if not isinstance(status, int) or any(
            t.is_alive() and not t.daemon for t in threading.enumerate()
            if t is not threading.main_thread()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):       # a closed pipe: Python's own exit reports it
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()              # whatever the exit handlers printed
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status & 0xFF)


def _command(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return {"run": command_run, "info": command_info, "calls": command_calls,
                "tui": command_tui,
                "personalities": command_personalities, "objects": command_objects}[args.command](args)
    except KeyboardInterrupt:
        print("ntsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 141
    except Exception as error:  # the last line of defence: one line, never a traceback
        if args.debug or os.environ.get("NTSIM_DEBUG"):
            raise
        report = write_crash_report(argv if argv is not None else sys.argv[1:])
        where = f" (details in {report})" if report else ""
        print(f"ntsim: internal error: {type(error).__name__}: {_first_line(error)}{where}",
              file=sys.stderr)
        return EXIT_NTSIM_FAILED


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


def write_crash_report(argv: list[str]) -> str | None:
    """The traceback of the exception being handled, with the command line and versions,
    in a new file in the temporary directory: its path, or None if none could be written."""
    import platform
    import tempfile
    import traceback

    try:
        import unicorn
        unicorn_version = unicorn.__version__
    except Exception:  # noqa: BLE001 - a report is best effort
        unicorn_version = "?"
    try:
        descriptor, path = tempfile.mkstemp(prefix="ntsim-crash-", suffix=".txt")
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(f"ntsim internal error\ncommand: ntsim {' '.join(argv)}\n"
                         f"python {platform.python_version()}, unicorn {unicorn_version}, "
                         f"{platform.platform()}\n\n")
            traceback.print_exc(file=stream)
        return path
    except OSError:
        return None


def command_run(args: argparse.Namespace) -> int:
    _fewer_collections()       # first: importing the machine's modules, too, made garbage
    from .machine import Deadlock, Machine, NotFound, RunLimit
    from .subsystems.base import ImageError
    from .subsystems.windows.csrss import CtrlKeys
    from .trace import JsonLinesSink, StatsSink, StraceSink

    started = time.perf_counter()
    if not os.path.isdir(args.root):
        print(f"ntsim: --root {args.root}: not a directory", file=sys.stderr)
        return EXIT_NTSIM_FAILED
    limits = _limits(args)
    machine = Machine(args.root, deterministic=args.deterministic, seed=args.seed,
                      count_instructions=args.stats, max_instructions=args.max_instructions,
                      timeout=args.timeout, limits=limits, read_only=args.read_only)
    machine.kernel.network = args.network
    trace_file = None
    stats = None
    if args.trace:
        machine.add_sink(StraceSink(sys.stderr))
    if args.trace_file:
        try:
            trace_file = CappedFile(open(args.trace_file, "w", encoding="utf-8"),  # noqa: SIM115
                                    limits.max_trace_size)
        except OSError as error:
            print(f"ntsim: --trace-file {args.trace_file}: {error.strerror}", file=sys.stderr)
            return EXIT_NTSIM_FAILED
        machine.add_sink(JsonLinesSink(trace_file))
    if args.stats:
        stats = machine.add_sink(StatsSink())
    status = EXIT_NTSIM_FAILED
    if args.personality:
        try:
            machine.personality(args.personality)
        except KeyError:
            print(f"ntsim: no personality named {args.personality!r} (try: ntsim personalities)",
                  file=sys.stderr)
            return EXIT_NTSIM_FAILED
    start = args.cwd
    if start is None:      # where ntsim was started, if the guest can see it
        start = machine.kernel.volume.guest_path(os.getcwd()) or "/"
    elif not start.startswith("/"):
        print(f"ntsim: --cwd {start}: not an absolute guest path", file=sys.stderr)
        return EXIT_NTSIM_FAILED
    try:
        process = machine.load(args.program, args.args, personality=args.personality, cwd=start)
        with CtrlKeys(machine) as keys:      # Ctrl+C goes to the guest, through CSRSS
            machine.run()
        if keys.interrupted:
            print("ntsim: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        status = process.exit_status if process.exit_status is not None else EXIT_NTSIM_FAILED
        if process.exit_note:
            print(f"ntsim: {process.name}: {process.exit_note}", file=sys.stderr)
    except NotFound as error:
        print(f"ntsim: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ImageError as error:
        print(f"ntsim: cannot execute {args.program}: {error}", file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    except Deadlock as error:
        print(f"ntsim: deadlock: {error}", file=sys.stderr)
        return EXIT_NTSIM_FAILED
    except RunLimit as error:
        print(f"ntsim: {error}", file=sys.stderr)
        status = error.status
    finally:
        if not machine.finished:
            machine.shutdown()         # files flushed and closed, whatever stopped the run
        machine.console.restore()      # the host terminal as it was, whatever the guest did
        machine.kernel.tracer.close_sinks()
        if not args.quiet:             # after the guest's own output, never inside it
            for notice in machine.kernel.notices:
                print(notice, file=sys.stderr)
        if trace_file is not None:
            trace_file.close()
    if trace_file is not None and trace_file.full:
        print(f"ntsim: --trace-file {args.trace_file}: stopped at {trace_file.written:,} bytes "
              "(--max-trace-size)", file=sys.stderr)
    if args.screen:
        print_screen(machine)
    if stats is not None:
        print_stats(machine, stats, time.perf_counter() - started)
    if args.dump_namespace:
        print(machine.namespace(), file=sys.stderr)
    return status


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def print_screen(machine) -> None:
    """--screen: the console's text screen as it is at exit, every row, trailing blanks
    cut, between two rules."""
    screen = machine.screen
    rows = [row.rstrip() for row in screen.text()]
    rule = "-" * screen.columns
    sys.stdout.write("\n".join([rule, *rows, rule]) + "\n")
    sys.stdout.flush()


def print_stats(machine, stats, wall: float) -> None:
    out = sys.stderr
    kernel = machine.kernel
    print("\n--- ntsim stats ---", file=out)
    print(f"wall time            {wall:.3f} s", file=out)
    print(f"instructions         {kernel.instructions_executed():,}", file=out)
    layers = stats.per_layer()
    print("calls per layer      " + ", ".join(f"{layer} {count}" for layer, count in layers.items()), file=out)
    print_lpc_stats(stats, out)
    print("calls per name       (layer, name, calls, errors)", file=out)
    for (layer, name), count in sorted(stats.calls.items(), key=lambda item: (item[0][0], -item[1], item[0][1])):
        errors = stats.errors.get((layer, name), 0)
        print(f"    {layer:<12} {name:<28} {count:>7} {errors:>7}", file=out)
    if kernel.notices:
        print("unsupported calls    " + str(len(kernel.notices)), file=out)
        for notice in kernel.notices:
            print("    " + notice.removeprefix("ntsim: "), file=out)
    print("memory               (reserved / committed / touched, of which shared with other processes)", file=out)
    for process in machine.processes():
        kind = "server" if process.is_server else process.subsystem
        if process.pid == 4:
            continue
        print(f"    {process.name:<14} pid {process.pid:<5} {kind:<7} "
              f"{_size(process.reserved_bytes):>10} / {_size(process.committed_bytes):>10} / "
              f"{_size(process.touched_bytes):>10}, {_size(process.shared_bytes):>10} shared", file=out)
    for personality in machine.personalities.values():     # a personality's own figures
        for line in getattr(personality, "stats_lines", lambda: [])():
            print(line, file=out)


def print_lpc_stats(stats, out) -> None:
    """LPC messages by kind and port, and the client/server transitions they cost: a
    request hands the processor to a server thread and its reply hands it back (two);
    a datagram, one way (one)."""
    messages = getattr(stats, "messages", None)
    if not messages:
        return
    kinds = {"NtRequestWaitReplyPort": "requests", "NtRequestPort": "datagrams",
             "NtConnectPort": "connections"}
    totals: dict[str, int] = {}
    ports: dict[str, int] = {}
    for (name, port), count in messages.items():
        totals[kinds.get(name, name)] = totals.get(kinds.get(name, name), 0) + count
        if name != "NtConnectPort":
            ports[port] = ports.get(port, 0) + count
    print(f"lpc messages         {totals.get('requests', 0) + totals.get('datagrams', 0)} "
          f"({', '.join(f'{kind} {count}' for kind, count in totals.items())})", file=out)
    for port, count in sorted(ports.items(), key=lambda item: -item[1]):
        print(f"    {port:<28} {count:>7}", file=out)
    transitions = 2 * totals.get("requests", 0) + totals.get("datagrams", 0)
    print(f"client/server        {transitions} transitions (a request and its reply: 2; a datagram: 1)",
          file=out)


def _fewer_collections() -> None:
    """The machine's long-lived state (page tables, VADs, handle tables) is large and the
    dispatcher allocates on every switch: with CPython's default gen-0 threshold (700)
    the collector ran so often it took two thirds of a socket round trip between two
    guests (benchmarks/sockets.py). Rarer collections; cycles are still found."""
    import gc

    gc.set_threshold(50_000, 50, 100)


def command_tui(args: argparse.Namespace) -> int:
    from .tui.main import main as tui_main
    _fewer_collections()        # the same machine as `ntsim run`'s, at the same speed
    return tui_main(args)


def command_info(args: argparse.Namespace) -> int:
    from .machine import NotFound, read_image
    from .subsystems import base
    from .subsystems.base import ImageError

    try:
        data = read_image(args.program, executable=False)
    except NotFound:
        print(f"ntsim: {args.program}: no such file", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ImageError as error:
        print(f"ntsim: {args.program}: {error}", file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    personality = base.probe(data[:4096], args.program)
    if personality is None:
        print(f"ntsim: {args.program}: {base.refusal(data[:4096]) or 'not an image any personality runs'}",
              file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    try:
        info = personality.describe(data)
    except ImageError as error:
        print(f"ntsim: {args.program}: {error}", file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    print(f"file          {args.program}")
    print(f"format        {info.format}")
    print(f"machine       {info.machine}")
    print(f"entry         {info.entry:#x}")
    print(f"personality   {info.personality} ({personality.description})")
    for key, value in info.details.items():
        if key == "segments":
            print("segments")
            for segment in value:
                print("    " + "  ".join(f"{k}={v}" for k, v in segment.items()))
        else:
            print(f"{key:<13} {value}")
    return 0


def command_calls(args: argparse.Namespace) -> int:
    if args.name == "nt":
        from .kernel.services import service_table

        for row in service_table():
            print(f"{row.number:>4}  {row.name:<32} ({', '.join(a.name for a in row.arguments)})  {row.summary}")
        return 0
    from .subsystems import base

    try:
        personality = base.load(args.name)
    except KeyError:
        print(f"ntsim: no personality named {args.name!r} (try: ntsim personalities)", file=sys.stderr)
        return 2
    rows = personality.call_table()
    number = getattr(personality, "format_call_number", lambda n: f"{n:>4}")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.level] = counts.get(row.level, 0) + 1
        if args.level and row.level != args.level:
            continue
        note = f"  — {row.note}" if row.note else ""
        print(f"{number(row.number)}  {row.name:<22} {row.level:<11} ({', '.join(row.arguments)}){note}")
    print(f"\n{args.name}: " + ", ".join(f"{count} {level}" for level, count in counts.items()))
    return 0


def command_personalities(args: argparse.Namespace) -> int:
    from .subsystems import base

    for personality in base.all_personalities():
        print(f"{personality.name:<10} {personality.description}")
    return 0


def command_objects(args: argparse.Namespace) -> int:
    from .machine import Machine

    machine = Machine(".")
    machine.boot()
    print(machine.namespace())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
