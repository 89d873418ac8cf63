"""The Python API: one simulated machine, to load programs into, run, step and watch.

    from ntsim import Machine
    machine = Machine(root="examples/linux", deterministic=True)
    machine.load("examples/linux/hello")
    machine.on_event(lambda event: print(event.layer, event.name))
    status = machine.run()

This is the only door the TUI, the CLI and the tests use. Everything a class wants to see
is here: processes, their registers and memory, handles, the object namespace, and every
boundary crossing as a trace event; and everything it wants to do: run, stop at the next
call, step instructions, break on a call or an address, intercept a call before, instead
of, or after its handler (the CALL / ENTER / EXIT idea from Qiling).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .kernel.kernel import Kernel
from .kernel.limits import Limits
from .kernel.processes import Process, ThreadState
from .subsystems import base
from .subsystems.base import ImageError, Personality
from .subsystems.windows.csrss import Csrss, HostConsole
from .subsystems.windows.keyboard import KeyboardBuffer, decode_keys
from .subsystems.windows.screen import ScreenBuffer
from .trace import CallbackSink, Event, Sink


class NotFound(Exception):
    """The program does not exist (exit status 127)."""


@dataclass
class StoppedAt:
    """Where a run stopped before a guest call (a call breakpoint, or run_until_call)."""

    pid: int
    tid: int
    name: str
    args: dict[str, int]


class Interceptors:
    """Per-call hooks every personality's call gate consults (subsystems/base.py). `active` is checked on every trap,
    so it is a plain attribute kept up to date, not computed."""

    def __init__(self) -> None:
        self.before: dict[str, list[Callable]] = {}
        self.instead: dict[str, Callable] = {}
        self.after: dict[str, list[Callable]] = {}
        self.break_calls: set[str] = set()
        self.break_next_call = False
        self.stopped_at: StoppedAt | None = None
        self._resuming: set[int] = set()
        self.active = False

    def _update(self) -> None:
        self.active = bool(self.before or self.instead or self.after or self.break_calls
                           or self.break_next_call or self._resuming)

    def __bool__(self) -> bool:
        return self.active

    def stop_before(self, task, row, raw: dict[str, int]) -> bool:
        tid = task.thread.tid
        if tid in self._resuming:
            self._resuming.discard(tid)
            self._update()
            return False
        if self.break_next_call or row.name in self.break_calls:
            self.break_next_call = False
            self._resuming.add(tid)
            self.stopped_at = StoppedAt(task.thread.process.pid, tid, row.name, dict(raw))
            self._update()
            return True
        return False

    def hooks(self, name: str) -> tuple[list[Callable], Callable | None, list[Callable]] | None:
        """The call gate asks, for each call it is about to run: the `before` hooks, the
        `instead` handler and the `after` hooks of `name` (None: there are none). The gate
        runs the `after` hooks when the call completes, after a wait too."""
        befores = self.before.get(name, ())
        instead = self.instead.get(name)
        afters = self.after.get(name, ())
        if not (befores or instead or afters):
            return None
        return befores, instead, afters


class Machine:
    """A booted NT machine with its subsystems, ready to load guest programs."""

    def __init__(self, root: str = ".", *, deterministic: bool = False, seed: int | None = None,
                 console: HostConsole | None = None, count_instructions: bool = False,
                 max_instructions: int | None = None, timeout: float | None = None,
                 limits: Limits | None = None, read_only: bool = False) -> None:
        """`max_instructions` and `timeout` (seconds of wall-clock time) stop a run that
        goes on too long: `run` raises RunLimit, every guest process is ended. `limits`
        are the machine's quotas (kernel/limits.py); `read_only` write-protects the root."""
        if not os.path.isdir(root):
            raise NotFound(f"root directory {root} does not exist")
        self.root = os.path.realpath(root)
        self.limits = limits or Limits()
        self.kernel = Kernel(self.root, deterministic=deterministic, seed=seed,
                             count_instructions=count_instructions or max_instructions is not None,
                             limits=self.limits, read_only=read_only)
        self.max_instructions, self.timeout = max_instructions, timeout
        self._limits_armed = False
        self.console = console or HostConsole()
        self.interceptors = Interceptors()
        self.personalities: dict[str, Personality] = {}
        self.first_process: Process | None = None
        # The directory (a guest path) the programs `load` starts begin in
        self.start_directory = "/"
        self._sinks: list[Sink] = []
        self.kernel.smss.register_subsystem(
            "Windows", lambda kernel: Csrss(kernel, self.console), required=True)
        self._booted = False

    # --- setting up -------------------------------------------------------------------------

    def boot(self) -> None:
        if not self._booted:
            self.kernel.boot()
            self._booted = True

    def add_sink(self, sink: Sink) -> Sink:
        """Attach a trace sink (before `load`, to see the boot and the loader too)."""
        return self.kernel.tracer.attach(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Detach a trace sink (safe while the machine runs, even from a sink's callback)."""
        self.kernel.tracer.detach(sink)

    def on_event(self, callback: Callable[[Event], None]) -> Sink:
        """Subscribe to every trace event as it completes."""
        return self.add_sink(CallbackSink(callback))

    def personality(self, name: str) -> Personality:
        if name not in self.personalities:
            self.personalities[name] = base.load(name)
        return self.personalities[name]

    def load(self, program: str, args: list[str] | None = None, *, personality: str | None = None,
             env: list[str] | dict[str, str] | None = None, argv0: str | None = None,
             cwd: str | None = None) -> Process:
        """Load a program from the host into a new process (not yet run).

        `program` is a host path; it may lie outside the root, in which case the guest
        sees it as /.ntsim/host/<name> (the stand-in for its own path). `cwd` is the
        guest directory it starts in (default `start_directory`, "/")."""
        self.boot()
        if cwd is not None:
            self.start_directory = cwd
        image = read_image(program, executable=False)
        named = program             # the file asked for (a script), before its #! line
        image, program, args, argv0 = self._follow_interpreter_lines(image, program, list(args or []), argv0)
        chosen = self.personality(personality) if personality else self._probe(image, program)
        if getattr(chosen, "requires_execute_bit", False) and not all(
                os.stat(path).st_mode & 0o111 for path in {named, program}):
            # a POSIX system's execve: no execute bit, EACCES (DOS, OS/2, NT have no such bit)
            raise ImageError("permission denied: the file has no execute permission (EACCES)")
        guest_path = self.kernel.volume.guest_path(program) or f"/.ntsim/host/{os.path.basename(program)}"
        if env is None:
            env_list = host_environment()
        elif isinstance(env, dict):
            env_list = [f"{k}={v}" for k, v in env.items()]
        else:
            env_list = list(env)
        argv = [argv0 if argv0 is not None else program, *(args or [])]
        process = chosen.create_process(self, image, argv, env_list, host_path=program,
                                        guest_path=guest_path)
        if self.first_process is None:
            self.first_process = process
        return process

    def _follow_interpreter_lines(self, image: bytes, program: str, args: list[str],
                                  argv0: str | None) -> tuple[bytes, str, list[str], str | None]:
        """A script (`#!interpreter [argument]`) runs its interpreter, as execve does: the
        interpreter is a path in the guest's file system (under the root), and gets the
        argument, then the script's path, then the script's arguments."""
        for _ in range(4):
            if not image.startswith(b"#!"):
                return image, program, args, argv0
            line = image[2:image.find(b"\n") if b"\n" in image[:256] else 256]
            interpreter, _, argument = line.decode("utf-8", "surrogateescape").strip().partition(" ")
            host = os.path.realpath(os.path.join(self.root, interpreter.lstrip("/")))
            if not interpreter or self.kernel.volume.guest_path(host) is None or not os.path.isfile(host):
                raise ImageError(f"bad interpreter {interpreter or '(none)'}: not found under the root")
            args = ([argument.strip()] if argument.strip() else []) + [argv0 or program] + args
            program, argv0 = host, interpreter
            image = read_image(program, executable=False)
        raise ImageError("too many #! interpreters")

    def _probe(self, image: bytes, program: str) -> Personality:
        found = base.probe(image[:4096], program)
        if found is None:
            raise ImageError(base.refusal(image[:4096])
                             or f"not an image any personality runs (it starts with {image[:4]!r})")
        self.personalities.setdefault(found.name, found)
        return self.personalities[found.name]

    # --- running ----------------------------------------------------------------------------

    def run(self) -> int | None:
        """Run until every guest process has exited, a breakpoint or a pause. Returns
        the first process's exit status (None if it has not exited)."""
        if not self._limits_armed and (self.max_instructions is not None or self.timeout is not None):
            self._limits_armed = True          # (the clock starts with the first run)
            self.kernel.dispatcher.set_limits(self.max_instructions, self.timeout)
        self.last_stop = self.kernel.run()
        if self.last_stop == "deadlock":
            raise Deadlock(self._describe_deadlock())
        if self.last_stop in RunLimit.STATUS:
            self._stop_at_limit(self.last_stop)
        return self.exit_status

    def _stop_at_limit(self, limit: str) -> None:
        """A run limit was reached: every guest process ends, as `ulimit -t` or GNU
        `timeout` would end the program (152 = 128 + SIGXCPU; 124)."""
        status = RunLimit.STATUS[limit]
        if limit == "instruction-limit":
            message = (f"stopped after {self.kernel.instructions_executed():,} instructions "
                       f"(--max-instructions {self.max_instructions})")
        else:
            message = f"stopped after {self.timeout:g} s of wall-clock time (--timeout {self.timeout:g})"
        for process in self.kernel.live_guest_processes():
            process.exit_reason = limit
            self.kernel.terminate_process(process, status)
        raise RunLimit(message, status)

    @property
    def exit_status(self) -> int | None:
        return self.first_process.exit_status if self.first_process else None

    @property
    def finished(self) -> bool:
        return not self.kernel.live_guest_processes()

    def run_until_call(self, name: str | None = None) -> StoppedAt | None:
        """Run until the next guest call (or the next call named `name`) is about to be
        handled; returns where it stopped, or None if the programs finished first."""
        interceptors = self.interceptors
        interceptors.stopped_at = None
        if name is None:
            interceptors.break_next_call = True
        else:
            interceptors.break_calls.add(name)
        interceptors._update()
        try:
            self.run()
        finally:
            interceptors.break_next_call = False
            if name is not None:
                interceptors.break_calls.discard(name)
            interceptors._update()
        return interceptors.stopped_at

    def step(self, instructions: int = 1) -> int:
        """Execute `instructions` instructions of the next ready guest thread; returns
        its program counter after them."""
        dispatcher = self.kernel.dispatcher
        thread = next((t for t in dispatcher.ready if not t.is_host_thread), None)
        if thread is None:
            raise RuntimeError("no guest thread is ready to step")
        dispatcher.ready.remove(thread)
        dispatcher.step(thread, instructions)
        return thread.process.cpu.pc

    def shutdown(self) -> None:
        """End every guest process still alive (a run stopped by a deadlock, an interrupt
        or an internal error): their handles are closed and the pages of mapped files
        written back, so nothing the guest wrote is lost. Best effort: one process that
        cannot be ended does not keep the others from it."""
        for process in self.kernel.live_guest_processes():
            try:
                self.kernel.terminate_process(process, 128 + 9)
            except Exception:  # noqa: BLE001 - the machine may be broken already
                continue

    def pause(self) -> None:
        """Ask a running machine to stop at its next safe point; safe from any host thread
        (or a trace callback). It never calls into unicorn: it raises the dispatcher's
        stop flag and the running processor's quantum counter takes it at the start of
        its next translated block (kernel/quantum.py), before that block's first
        instruction, so nothing the guest computes changes. A processor running alone
        holds a counter only when the machine is `interruptible` (the TUI's controller
        sets it); otherwise the stop comes at its next call or quantum. A pause that
        lands between two runs is lost: ntsim/controller.py repeats it until taken."""
        dispatcher = self.kernel.dispatcher
        dispatcher.stop_requested = True
        current = dispatcher.current
        cpu = current.process.cpu if current is not None else None
        if cpu is None:
            return
        if dispatcher.owner == threading.get_ident():
            cpu.request_stop()        # from a trap handler (a callback): after this call
        else:
            cpu.take_processor()

    @property
    def interruptible(self) -> bool:
        return self.kernel.dispatcher.interruptible

    @interruptible.setter
    def interruptible(self, value: bool) -> None:
        """Keep the quantum counter in a lone thread's code too, so that `pause` and the
        controller take effect within a block (a few ns of cost per block)."""
        self.kernel.dispatcher.interruptible = value

    def break_on_call(self, name: str) -> None:
        self.interceptors.break_calls.add(name)
        self.interceptors._update()

    def break_at(self, process: Process, address: int) -> None:
        self._processor(process).add_breakpoint(address)

    def intercept(self, name: str, *, before: Callable | None = None, instead: Callable | None = None,
                  after: Callable | None = None) -> None:
        """Hook a guest call by name. `before(task, *args)` runs first; `instead(task,
        *args)` replaces the handler (its return value is the result); `after(task,
        result, *args)` may return a replacement result."""
        interceptors = self.interceptors
        if before:
            interceptors.before.setdefault(name, []).append(before)
        if instead:
            interceptors.instead[name] = instead
        if after:
            interceptors.after.setdefault(name, []).append(after)
        interceptors._update()

    # --- looking ----------------------------------------------------------------------------

    def processes(self) -> list[Process]:
        return list(self.kernel.processes.values())

    def registers(self, process: Process, names: tuple[str, ...] = (
            "rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10")) -> dict[str, int]:
        cpu = self._processor(process)
        return {name: cpu.read_register(name) for name in names}

    @staticmethod
    def _processor(process: Process):
        if process.cpu is None:
            why = "has exited and been reaped" if not process.alive else "runs no guest code"
            raise ValueError(f"process {process.pid} ({process.name}) {why}: it has no processor")
        return process.cpu

    def read_memory(self, process: Process, address: int, size: int) -> bytes:
        return process.memory.read(address, size)

    def handles(self, process: Process) -> list[tuple[int, str, str]]:
        return [(handle, entry.object.type_name, entry.object.describe())
                for handle, entry in process.handles]

    def namespace(self) -> str:
        return self.kernel.objects.dump()

    @property
    def screen(self) -> ScreenBuffer:
        """The console's screen buffer, which CSRSS keeps: `screen.text()` its rows,
        `screen.cell(row, column)` a (character, attribute), `screen.cursor_row` and
        `cursor_column`, `screen.columns` x `screen.rows` (80x25, or the terminal's
        size when stdout is one), `screen.video_memory()` the cells as at B800:0000,
        `screen.version` a counter that changes with every change."""
        self.boot()
        return self.console.screen

    def type_keys(self, keys: bytes | str) -> None:
        """Type on the console's keyboard as a terminal would send it (b"\\x1b[A" is
        Up): the key events reach CSRSS's input buffer at the machine's next step,
        from any host thread."""
        self.boot()
        data = keys.encode() if isinstance(keys, str) else bytes(keys)
        csrss = self.kernel.smss.server("Windows")
        self.kernel.dispatcher.post_host_event(lambda: csrss.write_console_input(decode_keys(data)))

    @property
    def keyboard(self) -> KeyboardBuffer:
        """The console's input buffer of key events (what KbdCharIn and INT 16h read)."""
        self.boot()
        return self.console.keyboard

    def _describe_deadlock(self) -> str:
        waits = []
        for thread in self.kernel.dispatcher.waiting_threads():
            reason = thread.wait.reason if thread.wait else "?"
            waits.append(f"pid {thread.process.pid} tid {thread.tid} waits for {reason}")
        return "every thread is waiting and nothing can wake them: " + "; ".join(waits)


# No image any personality runs is this large; reading stops here (a device or a
# FIFO named as the program is refused before any read).
MAX_IMAGE_SIZE = 256 << 20


def read_image(program: str, *, executable: bool = True) -> bytes:
    """A program's bytes, refused as execve refuses it: NotFound if it does not exist,
    ImageError (exit 126) for a directory, a device, a FIFO or a socket, a file without
    execute permission (when `executable`), or one larger than MAX_IMAGE_SIZE. The file
    is opened without blocking (a FIFO with no writer would wait forever) and checked
    by its descriptor, so what is checked is what is read."""
    import stat

    try:
        described = os.stat(program)
    except FileNotFoundError:
        raise NotFound(f"{program}: no such file") from None
    except OSError as error:
        raise ImageError(error.strerror) from None
    if stat.S_ISDIR(described.st_mode):
        raise ImageError("it is a directory (EACCES)")
    if not stat.S_ISREG(described.st_mode):
        raise ImageError("not a regular file: a device, FIFO or socket cannot be executed (EACCES)")
    if executable and not described.st_mode & 0o111:
        raise ImageError("permission denied: the file has no execute permission (EACCES)")
    try:
        descriptor = os.open(program, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise ImageError(error.strerror) from None
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode):
            raise ImageError("not a regular file (EACCES)")
        if opened.st_size > MAX_IMAGE_SIZE:
            raise ImageError(f"{opened.st_size:,} bytes: larger than any image ntsim loads "
                             f"({MAX_IMAGE_SIZE >> 20} MiB)")
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            image = stream.read(MAX_IMAGE_SIZE + 1)
        if len(image) > MAX_IMAGE_SIZE:
            raise ImageError(f"larger than any image ntsim loads ({MAX_IMAGE_SIZE >> 20} MiB)")
        return image
    finally:
        os.close(descriptor)


def host_environment() -> list[str]:
    """The environment ntsim itself was started with, for the guest. Python may have
    changed os.environ at startup (locale coercion adds LC_CTYPE=C.UTF-8 when LANG is C
    or unset), so on Linux read the original from /proc/self/environ."""
    try:
        with open("/proc/self/environ", "rb") as stream:
            raw = stream.read()
        return [os.fsdecode(item) for item in raw.split(b"\0") if b"=" in item]
    except OSError:
        return [f"{key}={value}" for key, value in os.environ.items()]


class Deadlock(Exception):
    """Every guest thread waits and nothing can wake them."""


class RunLimit(Exception):
    """The run reached --max-instructions or --timeout; `status` is the exit status."""

    STATUS = {"instruction-limit": 128 + 24, "timeout": 124}   # SIGXCPU, GNU timeout

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


__all__ = ["Machine", "NotFound", "ImageError", "Deadlock", "RunLimit", "StoppedAt", "ThreadState",
           "Limits"]
