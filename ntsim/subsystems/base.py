"""The personality plug-in contract, and the registry of personalities.

A personality is what NT called an environment subsystem: it gives programs written for
another operating system the API they expect, on top of the NT kernel. To ntsim a
personality is an object that

- has a `name` and a one-line `description`;
- says whether it can run an image (`probe(header)`, given the file's first bytes);
- describes an image for `ntsim info` (`describe(data)`);
- creates a process for an image (`create_process(machine, image, argv, env)`);
- handles its processes' traps (installed on the process's CPU) and faults (`on_fault`);
- lists its calls as one declarative table (`call_table()`), with support levels.

Its traps all enter one :class:`CallGate` (below): the path from a guest's trap to a
handler and back — decode the arguments, run the handler, map its result or error, park
and restart a call that must wait, emit the trace events, honour call breakpoints and
interception — is written once, here. A personality supplies three things only: its
table (:class:`Call` rows), its ABI (:class:`Abi`: where the number, the arguments and
the result live) and its error mapping (:class:`ErrorMapping`).

It talks to the kernel only through `kernel.services` (the Nt* table) and the kernel's
public objects. Third parties add one through the `ntsim.personalities` entry point
(see `examples/plugins/`), or, without installing anything, with `register(name, factory)`
(a test, a notebook, a script).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..kernel.dispatcher import WaitPending
from ..trace import GUEST, KERNEL, PERSONALITY, Arg, ArgType

if TYPE_CHECKING:
    from ..kernel.cpu import Cpu, Fault
    from ..kernel.kernel import Kernel
    from ..kernel.processes import Process, Thread

SUPPORTED, PARTIAL, UNSUPPORTED = "supported", "partial", "unsupported"


class ImageError(Exception):
    """The image cannot be run: exit status 126, with this one-line message. Whatever a
    damaged image puts in it (a name read from the file), it stays one printable line."""

    MAX_LENGTH = 300

    def __str__(self) -> str:
        text = super().__str__()
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        return text if len(text) <= self.MAX_LENGTH else text[:self.MAX_LENGTH] + "..."


@dataclass(frozen=True)
class CallRow:
    """One row of a personality's call table, as `ntsim calls NAME` prints it."""

    number: int
    name: str
    arguments: tuple[str, ...]
    level: str
    note: str = ""


@dataclass
class ImageInfo:
    format: str
    machine: str
    entry: int
    personality: str
    details: dict[str, Any] = field(default_factory=dict)


class Personality:
    name = "personality"
    description = ""
    # Whether this personality's programs see the console as a screen (OS/2's VIO, a DOS
    # machine's video): their stream writes to the console (WriteFile, DosWrite, INT 21h)
    # are then teletype output on CSRSS's screen buffer, in order with the screen calls,
    # as NT's processed output is. Off, a stream write is a byte stream to the host,
    # untouched (a Linux terminal program's ANSI escapes). CSRSS reads it per client.
    console_is_a_screen = False

    def probe(self, header: bytes) -> bool:
        raise NotImplementedError

    def probe_file_name(self, path: str) -> bool:
        """Whether a file no personality's `probe` claimed is this one's by its name (a DOS
        .COM file has no signature). Asked only after every header probe said no."""
        return False

    def describe(self, data: bytes) -> ImageInfo:
        raise NotImplementedError

    def why_not(self, header: bytes) -> str | None:
        """When no personality claims an image: why this one does not, if the image is
        of a kind it knows (a PE image for another subsystem), for the one-line error."""
        return None

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str],
                       *, host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        raise NotImplementedError

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        raise NotImplementedError

    def on_console_control(self, event: int) -> bool:
        """The console's Ctrl+C (event 0) or Ctrl+Break (1), from CSRSS. Returns whether
        a process of this personality took it (one that did not leaves ntsim to stop)."""
        return False

    def suspends_machine_on_console_control(self, event: int) -> bool:
        """Whether that event would stop this personality's programs with nothing in the
        machine to continue them: then the whole machine stops instead (the host shell
        continues it)."""
        return False

    def ends_on_console_control(self, process: Process, event: int) -> bool:
        """Whether that event will end `process` outright (nothing it was in the middle
        of matters then, so its processor may be stopped at any point to deliver it)."""
        return False

    def call_table(self) -> list[CallRow]:
        return []


_BUILTIN = {
    "lxss": ("ntsim.subsystems.linux", "LinuxPersonality"),
    "posix": ("ntsim.subsystems.posix", "PosixPersonality"),
    "os2": ("ntsim.subsystems.os2", "Os2Personality"),
    "vdm": ("ntsim.vdm", "VdmPersonality"),
}


def builtin_names() -> list[str]:
    return list(_BUILTIN)


# Personalities registered at run time (`register`), by name: factories, as entry points are.
_REGISTERED: dict[str, Callable[[], Personality]] = {}


def register(name: str, factory: Callable[[], Personality]) -> None:
    """Make the personality `name` available without installing a package.

    `factory()` returns a new Personality (its class will do), just as loading an entry
    point does; `load`, `probe` and `all_personalities` then see it like any plug-in.
    This is for tests, notebooks and scripts; an installed plug-in declares the
    `ntsim.personalities` entry point instead. A registered name hides an installed
    plug-in of the same name; a built-in name cannot be registered.
    """
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in personality")
    _REGISTERED[name] = factory


def unregister(name: str) -> None:
    """Forget a personality `register` added (nothing happens if it was not there)."""
    _REGISTERED.pop(name, None)


def load(name: str) -> Personality:
    """The personality called `name`: a built-in one, a registered one, or one from an
    entry point."""
    import importlib

    if name in _BUILTIN:
        module, attribute = _BUILTIN[name]
        return getattr(importlib.import_module(module), attribute)()
    if name in _REGISTERED:
        return _REGISTERED[name]()
    for entry_name, entry in _entry_points().items():
        if entry_name == name:
            return entry.load()()
    raise KeyError(name)


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {e.name: e for e in entry_points(group="ntsim.personalities")}


def _plugin_names() -> list[str]:
    """Registered personalities, then installed ones (built-ins excluded)."""
    names = list(_REGISTERED)
    return names + [n for n in _entry_points() if n not in _BUILTIN and n not in _REGISTERED]


def all_personalities() -> list[Personality]:
    return [load(n) for n in list(_BUILTIN) + _plugin_names()]


def refusal(header: bytes) -> str | None:
    """Why no built-in personality runs an image they recognise (see `why_not`)."""
    for name in _BUILTIN:
        reason = load(name).why_not(header)
        if reason:
            return reason
    return None


def probe(header: bytes, path: str | None = None) -> Personality | None:
    """The first personality that claims the image: built-ins first (no entry-point scan
    on the common path), then registered ones, then installed plug-ins. A file none
    claims by its header may be claimed by its name (`path`: a DOS .COM file)."""
    for name in _BUILTIN:
        personality = load(name)
        if personality.probe(header):
            return personality
    for name in _plugin_names():
        personality = load(name)
        if personality.probe(header):
            return personality
    if path is not None:
        for name in list(_BUILTIN) + _plugin_names():
            personality = load(name)
            if personality.probe_file_name(path):
                return personality
    return None


# --- the call gate: one path from a guest's trap to a handler and back ----------------------
#
# Every personality's calls take the same path (DESIGN.md, "One call gate"):
#
#   1. the guest traps (`syscall`, `INT n`, a far call into a thunk): CallGate.on_trap;
#   2. the ABI says which call (`Abi.call_number`) and fetches its arguments
#      (`Abi.arguments`), as the row's declared arguments say;
#   3. the row's handler runs with the caller (the thread's `data`) and the raw arguments;
#   4. it returns a result, or raises one of the error mapping's failures (mapped to the
#      result the guest sees), or WaitPending: the thread parks on kernel objects and the
#      call finishes — or is interrupted and restarted — when they are signalled;
#   5. the ABI puts the result where the guest expects it (`Abi.return_to_guest`) and the
#      guest resumes.
#
# With a sink attached, each call is a trace event (its start and its end); with call
# breakpoints or interceptors set, the Python API gets its say before, instead of and
# after the handler. Neither costs anything when unused: the plain path is one test.


@dataclass(frozen=True)
class Call:
    """One row of a personality's call table: its number (or ordinal), its name, its typed
    arguments, its support level with a note, and its handler. The gate dispatches on it,
    the tracer decodes the arguments from it, `ntsim calls NAME` prints it.

    `handler(caller, *raw_arguments)` returns the call's result; None for a row whose
    level is UNSUPPORTED (the gate then fails the call with the error mapping's
    `not_implemented`, naming it)."""

    number: int
    name: str
    handler: Callable[..., Any] | None
    args: tuple[Arg, ...] = ()
    level: str = SUPPORTED
    note: str = ""
    names: tuple[str, ...] = field(default=(), compare=False, repr=False)
    arity: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(a.name for a in self.args))
        object.__setattr__(self, "arity", len(self.args))

    def table_row(self) -> CallRow:
        return CallRow(self.number, self.name, self.names, self.level, self.note)


def call(number: int, name: str, handler: Callable[..., Any] | None, *args: tuple[str, ArgType],
         level: str = SUPPORTED, note: str = "") -> Call:
    """A row, its arguments written as (name, type) pairs: `call(1, "write", sys_write,
    ("fd", Fd), ("buf", Buffer("count")), ("count", Size))`."""
    return Call(number, name, handler, tuple(Arg(n, t) for n, t in args), level, note)


def unsupported(number: int, name: str, reason: str, *args: tuple[str, ArgType]) -> Call:
    """A row for a call that fails loudly, saying why."""
    return call(number, name, None, *args, level=UNSUPPORTED, note=reason)


class Abi:
    """Where a personality's calls keep their number, arguments and result: the calling
    convention of its trap. Subclass it, or use :class:`RegisterAbi`.

    `caller` is the trapping thread's `data` (the personality's per-thread object); the
    gate needs two attributes of it: `thread` (the NT Thread) and `cpu` (its Cpu).

    Optionally, `fast_path(calls)` (calls: number -> row) returns a function of the caller
    doing `call_number` and `arguments` in one go for the common case — (row, arguments),
    or None to take the long way through those two; it must read exactly what they would."""

    trap = "trap"           # the guest's trap instruction, as the trace names it

    def call_number(self, cpu: Cpu) -> int:
        """Which call the guest asks for (a register, an ordinal in the thunk, AH...)."""
        raise NotImplementedError

    def arguments(self, caller: Any, row: Call) -> list[Any]:
        """The row's raw arguments, in declaration order. May raise a failure of the
        error mapping (a stack argument on an unreadable page)."""
        raise NotImplementedError

    def return_to_guest(self, caller: Any, row: Call, result: Any, trap: Any,
                        interrupted: bool = False) -> None:
        """Put `result` (None: nothing to return, the call ended the thread or replaced
        the program) where the guest expects it, and do what a return to user mode does.
        `trap` is the unicorn engine whose trap this is, or None when the call finishes
        after a wait; `interrupted` says the wait was cut short (see `woken`)."""
        raise NotImplementedError

    def restart(self, caller: Any) -> None:
        """Make the guest execute its trap instruction again when it next runs (a call
        breakpoint stops before the call; resuming makes it)."""
        raise NotImplementedError

    def parking(self, caller: Any, row: Call) -> None:
        """The call is about to wait (a personality with signals notes which call)."""

    def woken(self, caller: Any, row: Call, pending: WaitPending, status: int) -> tuple[Any, bool]:
        """A parked call's wait ended with `status`: its result, and whether the wait was
        interrupted (a signal, an alert) rather than satisfied. May raise a failure, or
        WaitPending to wait again."""
        return pending.complete(status), False


class RegisterAbi(Abi):
    """The common convention: the number in a register, the arguments in registers and
    then (optionally) in stack slots, the result in a register. `syscall`-style: the trap
    is an instruction the gate can restart by moving the program counter back.

    `read_stack(caller, address)` reads one stack slot with the personality's own error
    for a bad address (a Linux task's read_u64 raises EFAULT, a native thread's
    STATUS_ACCESS_VIOLATION)."""

    def __init__(self, number: int, arguments: tuple[int, ...], result: int, *,
                 number_mask: int = 0xFFFF_FFFF_FFFF_FFFF, stack_pointer: int | None = None,
                 stack_offset: int = 0, slot_size: int = 8, trap: str = "syscall") -> None:
        self.number_register = number
        self.argument_registers = arguments
        self.result_register = result
        self.number_mask = number_mask
        self.stack_pointer = stack_pointer
        self.stack_offset = stack_offset
        self.slot_size = slot_size
        self.trap = trap
        # the registers a call of each arity reads, sliced once
        self._registers = tuple(arguments[:n] for n in range(len(arguments) + 1))

    def call_number(self, cpu: Cpu) -> int:
        return cpu.registers.read(self.number_register) & self.number_mask

    def arguments(self, caller: Any, row: Call) -> list[Any]:
        read = caller.cpu.registers.read
        arity = row.arity
        registers = self._registers
        if arity < len(registers):
            return [read(register) for register in registers[arity]]
        values = [read(register) for register in self.argument_registers]
        if self.stack_pointer is None:
            raise ValueError(f"{row.name} has {arity} arguments; the ABI passes "
                             f"{len(self.argument_registers)}")
        base = read(self.stack_pointer) + self.stack_offset
        values += [caller.read_u64(base + self.slot_size * index)
                   for index in range(arity - len(self.argument_registers))]
        return values

    # Whether something may have to happen before the guest resumes — a signal to deliver
    # (Linux's TIF_SIGPENDING; NT's pending user APC). Then the caller has a `sigpending`
    # flag, and `returning` runs while it is true, and after an interrupted wait. (A fixed
    # attribute, not a name to look up: the test runs on every call.)
    signals = False

    def return_to_guest(self, caller: Any, row: Call | None, result: Any, trap: Any,
                        interrupted: bool = False) -> None:
        # (the gate does the same inline on its hot path, for an ABI that keeps this method)
        if result is not None and (trap is not None or caller.thread.process.alive):
            caller.cpu.registers.write(self.result_register, result)
        if interrupted or (self.signals and caller.sigpending):
            self.returning(caller, row, trap, interrupted)

    def returning(self, caller: Any, row: Call | None, trap: Any, interrupted: bool) -> None:
        """The work a return to the guest does when `sigpending` says so (see `signals`)."""

    def restart(self, caller: Any) -> None:
        caller.cpu.resume_after_syscall_at(caller.cpu.pc)


class ErrorMapping:
    """How a personality's handlers fail, and what the guest and the trace see then.

    A handler fails by raising one of `failures`; `result_of(failure)` is what the guest
    gets (-errno, an NTSTATUS, AX with the carry flag). `describe(result)` gives the
    trace's view of a result: the value to show and an error name (None on success).
    A call with no handler gets `not_implemented`, and a one-line warning the first time
    a process makes it."""

    failures: tuple[type[BaseException], ...] = ()
    not_implemented: Any = None
    not_implemented_name = "not implemented"

    def result_of(self, failure: BaseException) -> Any:
        raise NotImplementedError

    def describe(self, result: Any) -> tuple[Any, str | None]:
        """(None: the call returned nothing, having ended the thread or replaced the program.)"""
        return result, None

    def unknown_name(self, number: int) -> str:
        """The trace's name for a number no row has."""
        return f"call_{number:#x}"

    def warning(self, process: Process, number: int, name: str, note: str) -> str:
        return (f"{process.name} (pid {process.pid}) called {name} ({number:#x}), which is "
                f"not implemented: {note or self.not_implemented_name}")


class _NoInterceptors:
    active = False


class CallGate:
    """The trap handler of one personality: installed on each of its processes' CPUs
    (`cpu.hook_syscall(gate.on_trap)`, or from an interrupt hook). See the steps above.

    `interceptors` is the Python API's (machine.Interceptors): call breakpoints and
    before / instead / after hooks. `layer` is the trace layer its calls belong to
    (PERSONALITY; the NTVDM's INT 21h, handled inside its virtual machine, is VM)."""

    def __init__(self, kernel: Kernel, personality: str, table: Iterable[Call], abi: Abi,
                 errors: ErrorMapping, interceptors: Any = None, *, layer: str = PERSONALITY) -> None:
        self.kernel = kernel
        self.personality = personality
        self.calls: dict[int, Call] = {}
        for row in table:
            if row.number in self.calls:
                raise ValueError(f"{personality}: call number {row.number:#x} is in the table twice")
            self.calls[row.number] = row
        self.abi = abi
        # A RegisterAbi that fetches as RegisterAbi does is read here, inline (method calls
        # would cost the hot path a sixth of its time): for each call it can fetch so, the
        # row and the registers its arguments are in. Everything else takes `_fetch`.
        kind = type(abi)
        self._fast: dict[int, tuple[Call, tuple[int, ...]]] | None = None
        if isinstance(abi, RegisterAbi) and kind.call_number is RegisterAbi.call_number \
                and kind.arguments is RegisterAbi.arguments:
            self._number_register = abi.number_register
            self._fast = {row.number: (row, abi._registers[row.arity]) for row in self.calls.values()
                          if row.handler is not None and row.arity < len(abi._registers)}
        # An ABI with its own way of finding a call's row and arguments cheaply (a frame
        # of stack arguments read in one go) offers it as `fast_path(calls)`: a function
        # of the caller giving (row, arguments), or None for the long way (`_fetch`).
        binder = getattr(abi, "fast_path", None)
        self._fast_fetch = binder(self.calls) if binder is not None and self._fast is None else None
        # ...and so is its way back, if it keeps RegisterAbi's
        self._result_register = None
        if isinstance(abi, RegisterAbi) and kind.return_to_guest is RegisterAbi.return_to_guest:
            self._result_register, self._signals = abi.result_register, abi.signals
        self.errors = errors
        self.failures = errors.failures
        self._describe = errors.describe
        self.layer = layer
        self.interceptors = interceptors if interceptors is not None else _NoInterceptors()
        # events other host threads posted (a Ctrl+C): a trap is a safe point to take them
        self.host_events = kernel.dispatcher.host_events
        self.tracer = kernel.tracer
        self._warned: set[tuple[str, str]] = set()          # calls already reported
        self._figures: dict[int, tuple[int, int, int]] = {}  # pid -> memory figures last shown

    def on_trap(self, uc: Any, _user_data: Any = None) -> None:
        """The trap. This is the hot path of every guest call: keep it short."""
        kernel = self.kernel
        caller = kernel.current_thread.data
        fast = self._fast
        entry = None
        if fast is not None:
            read = caller.cpu.registers.read
            entry = fast.get(read(self._number_register))   # unmasked: a miss goes the long way
        elif self._fast_fetch is not None:
            entry = self._fast_fetch(caller)
        if kernel.deterministic:
            kernel.clock.advance(1_000)                     # 1 µs of virtual time a call
        if entry is not None:
            if fast is not None:
                row, registers = entry
                args = list(map(read, registers))   # (a comprehension costs a frame more)
            else:
                row, args = entry
        else:
            fetched = self._fetch(caller, self.abi.call_number(caller.cpu), uc)
            if fetched is None:
                return
            row, args = fetched
        if self.tracer.enabled or self.interceptors.active:
            self._watched(caller, row, args, uc)
        else:
            try:
                result = row.handler(caller, *args)
            except WaitPending as pending:
                self._park(caller, row, pending, None, ())
                return
            except self.failures as failure:
                result = self.errors.result_of(failure)
            # (`_return`, inline: one call less on every trap)
            register = self._result_register
            if register is None:
                self.abi.return_to_guest(caller, row, result, uc)
            else:
                if result is not None:
                    caller.cpu.registers.write(register, result)
                if self._signals and caller.sigpending:
                    self.abi.returning(caller, row, uc, False)
        if self.host_events and caller.cpu.stop_reason is None:
            caller.cpu.request_stop()                       # back to the dispatcher, which runs them

    def _fetch(self, caller: Any, number: int, trap: Any) -> tuple[Call, list[Any]] | None:
        """The row and its arguments, through the ABI; None if the call is already over
        (it has no handler, or its arguments could not be read)."""
        row = self.calls.get(number)
        if row is None or row.handler is None:
            self._missing(caller, number, row, trap)
            return None
        try:
            return row, self.abi.arguments(caller, row)
        except self.failures as failure:
            self.abi.return_to_guest(caller, row, self.errors.result_of(failure), trap)
            return None

    # --- the watched path: trace events, call breakpoints, interception --------------------

    def _watched(self, caller: Any, row: Call, args: list[Any], trap: Any) -> None:
        tracer = self.tracer
        thread = caller.thread
        handler, afters = row.handler, ()
        interceptors = self.interceptors
        if interceptors.active:
            if interceptors.stop_before(caller, row, dict(zip(row.names, args, strict=False))):
                # A call breakpoint: stop before the call runs; it runs when resumed.
                self.abi.restart(caller)
                caller.cpu.request_stop("breakpoint")
                return
            hooks = interceptors.hooks(row.name)
            if hooks is not None:
                befores, instead, afters = hooks
                for hook in befores:
                    hook(caller, *args)
                if instead is not None:
                    handler = instead
        event = None
        if tracer.enabled:
            if tracer.detailed:
                cpu = caller.cpu
                tracer.detail(thread, GUEST, self.abi.trap, {
                    "pc": hex(cpu.pc), "number": hex(self.abi.call_number(cpu)), "call": row.name})
            # (zip without strict=: a row's names and its arguments always pair up, and the
            # keyword costs a traced call more than the check is worth)
            event = tracer.open(thread, self.layer, row.name,
                                dict(zip(row.names, args)) if args else {}, row.args)  # noqa: B905
        try:
            result = handler(caller, *args)
        except WaitPending as pending:
            if event is not None:
                tracer.suspend(thread, event)
            self._park(caller, row, pending, event, afters, args)
            return
        except self.failures as failure:
            result = self.errors.result_of(failure)
        if afters:
            for hook in afters:
                replaced = hook(caller, result, *args)
                if replaced is not None:
                    result = replaced
        if event is not None:
            shown, error = self._describe(result)       # (not *: a starred call costs more)
            tracer.close(thread, event, shown, error)
            if tracer.detailed:
                self._memory_figures(thread)
        self._return(caller, row, result, trap)

    def _return(self, caller: Any, row: Call, result: Any, trap: Any) -> None:
        """The result back to the guest: through the ABI, or for a RegisterAbi that keeps
        the standard methods, its register write done here (one call less per trap)."""
        if self._result_register is None:
            self.abi.return_to_guest(caller, row, result, trap)
            return
        if result is not None:
            caller.cpu.registers.write(self._result_register, result)
        if self._signals and caller.sigpending:
            self.abi.returning(caller, row, trap, False)

    def _complete(self, caller: Any, row: Call, result: Any, event: Any, afters: Any,
                  args: Any, trap: Any, interrupted: bool) -> None:
        """A parked call is done: the API's `after` hooks may replace its result; the
        trace event ends; the result goes back to the guest. (`_watched` does the same
        inline for a call that did not wait.)"""
        for hook in afters:
            replaced = hook(caller, result, *args)
            if replaced is not None:
                result = replaced
        if event is not None:
            tracer = self.tracer
            shown, error = self._describe(result)
            tracer.close(caller.thread, event, shown, error)
            if tracer.detailed:
                self._memory_figures(caller.thread)
        self.abi.return_to_guest(caller, row, result, trap, interrupted)

    # --- a call that must wait ---------------------------------------------------------------

    def _park(self, caller: Any, row: Call, pending: WaitPending, event: Any, afters: Any,
              args: Any = ()) -> None:
        """Park the thread on the pending wait; finish the call when it is woken."""
        tracer = self.tracer

        def on_wake(status: int) -> None:
            if event is not None:
                tracer.resume(caller.thread, event)
            try:
                result, interrupted = self.abi.woken(caller, row, pending, status)
            except WaitPending as again:
                if event is not None:
                    tracer.suspend(caller.thread, event)
                self._park(caller, row, again, event, afters, args)
                return
            except self.failures as failure:
                result, interrupted = self.errors.result_of(failure), False
            self._complete(caller, row, result, event, afters, args, None, interrupted)

        self.abi.parking(caller, row)
        self.kernel.dispatcher.park(caller.thread, pending, on_wake)
        caller.cpu.request_stop()   # even if the wait is already satisfied: on_wake runs first

    # --- a call with no handler ------------------------------------------------------------

    def _missing(self, caller: Any, number: int, row: Call | None, trap: Any) -> None:
        """No row, or an unsupported one: fail loudly (once per process and number) and go on."""
        errors = self.errors
        name = row.name if row is not None else errors.unknown_name(number)
        process = caller.thread.process
        if (self.personality, name) not in self._warned:
            # Once per call a run, on ntsim's own channel (the kernel's notices, which
            # `ntsim run` prints when the run ends), never into the guest's stderr: a
            # program's screen or output is the program's.
            self._warned.add((self.personality, name))
            self.kernel.notices.append(
                f"ntsim: {self.personality}: {errors.warning(process, number, name, row.note if row else '')}")
        result = errors.not_implemented
        tracer = self.tracer
        if tracer.enabled:
            raw = types = None
            if row is not None:
                raw, types = dict(zip(row.names, self.abi.arguments(caller, row), strict=False)), row.args
            event = tracer.open(caller.thread, self.layer, name, raw, types or (),
                                decoded=None if row is not None else {})
            tracer.close(caller.thread, event, *errors.describe(result))
        self.abi.return_to_guest(caller, row, result, trap)

    # --- trace details ---------------------------------------------------------------------

    def _memory_figures(self, thread: Thread) -> None:
        """A detail event when a call changed its process's reserved, committed or touched
        bytes (what a student watches grow as a program maps, commits and touches memory)."""
        process = thread.process
        if process.memory is None or not process.alive:
            return
        figures = (process.reserved_bytes, process.committed_bytes, process.touched_bytes)
        if self._figures.get(process.pid) != figures:
            self._figures[process.pid] = figures
            self.tracer.detail(thread, KERNEL, "MmProcessMemory", {
                "ProcessId": process.pid, "Reserved": figures[0], "Committed": figures[1],
                "Touched": figures[2]})
