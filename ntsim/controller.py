"""The machine driven from another host thread: an owner thread and a command queue.

unicorn may be touched only by the host thread that runs it, and a processor stopped from
outside at an arbitrary moment resumes its translated block from the start (a store
already made is made again). So a user interface never calls the machine: it *asks*.
`Controller` owns one `Machine` in a thread of its own; every command — run, pause, step
instructions of a thread, step over a call, run to the next boundary crossing at a layer,
breakpoints on a crossing's name or an address, watchpoints on a page, snapshots, memory
reads, disassembly — is queued and carried out by that thread at a safe point:

- between two runs, when the machine is paused (the owner waits on the queue);
- between two quanta while it runs (a dispatcher host event, with the processor taken at
  its next block so that even a thread computing alone gets there within microseconds);
- inside a crossing the machine stopped at (a breakpoint on a call): the owner thread is
  then inside a trap handler, where reading registers and memory is what handlers do.

A pause never calls unicorn either: it raises the dispatcher's stop flag and the running
processor's quantum counter stops it at the start of its next block, before that block's
first instruction (kernel/quantum.py), so pausing never changes what the guest computes.

Everything the owner sends back is immutable (`snapshot.py`), or a plain value; the
`on_state` and `on_event` callbacks run in the owner thread and must only hand things over
(a deque, `post_message`), never touch a widget.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import unicorn

from .kernel.physical import PhysicalMemory
from .kernel.processes import ThreadState
from .snapshot import MachineSnapshot, disassemble, take_snapshot
from .trace import Event, Sink

IDLE, RUNNING, PAUSED, FINISHED = "idle", "running", "paused", "finished"
PAUSE_RETRY_S = 0.0005         # how often a pause is repeated until the owner takes it


@dataclass(frozen=True)
class Breakpoint:
    """A stop on a crossing (`layer` and a name pattern: "write", "Nt*File", "INT 21h*";
    layer "" matches any layer) or on an address of a process (`pid`, `address`)."""

    id: int
    layer: str = ""
    name: str = ""
    pid: int = 0
    address: int = 0

    def describe(self) -> str:
        if self.name:
            return f"{self.layer or '*'}:{self.name}"
        return f"pid {self.pid} @ {self.address:#x}"


@dataclass(frozen=True)
class Stop:
    """Why the machine is paused: `reason` ("pause", "step", "crossing", "breakpoint",
    "watchpoint", "finished", "deadlock", "error"), where, and what."""

    reason: str
    pid: int = 0
    tid: int = 0
    event: Event | None = None        # the crossing it stopped in (a `start` event)
    detail: str = ""


class _Command:
    __slots__ = ("name", "args", "future")

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        self.name, self.args, self.future = name, args, Future()


# Commands that only look or set something: served at any safe point, running or not.
_SERVICE = {"snapshot", "read_memory", "disassemble", "break", "unbreak", "watch",
            "call", "console_control"}


class _BreakSink(Sink):
    """The owner's detail sink: stops inside a crossing that matches a breakpoint or the
    run-to-next-crossing goal (at its start; a crossing with no duration, as delivered)."""

    detail = True

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.open: set[int] = set()

    def start(self, event: Event) -> None:
        self.open.add(event.seq)
        self.controller._consider(event)

    def event(self, event: Event) -> None:
        if event.seq in self.open:
            self.open.discard(event.seq)
        else:
            self.controller._consider(event)      # a note or a detail event


class Controller:
    """Owns a machine in its own host thread. `make_machine()` builds it (in that thread);
    `load(machine)` loads the program(s) — both run again on `restart`."""

    def __init__(self, make_machine: Callable[[], Any], load: Callable[[Any], Any], *,
                 on_state: Callable[[str, Stop | None], None] | None = None,
                 on_event: Sink | None = None) -> None:
        self._make_machine, self._load = make_machine, load
        self.on_state = on_state or (lambda state, stop: None)
        self.sink = on_event
        self.machine: Any = None
        self.state = IDLE
        self.stop: Stop | None = None
        self.error: str | None = None
        self.breakpoints: dict[int, Breakpoint] = {}
        self._next_breakpoint = 1
        self.watchpoints: dict[tuple[int, int], int] = {}     # (pid, page) -> hook handle
        self.watch_hit: tuple[int, int, int, int] | None = None   # pid, address, size, pc
        self.run_to_layer: str | None = None     # stop at the next crossing at this layer
        self._any_crossing = False               # ... or at any layer
        self._queue: queue.Queue[_Command | None] = queue.Queue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)    # notified at each state change
        self._run_id = 0
        self._pause_wanted = False
        self._nested = False                     # paused inside a crossing
        self._resume_with: _Command | None = None   # what to do once out of it
        self._owner: threading.Thread | None = None
        self.pause_latency: list[float] = []     # seconds from request to stop (benchmarks)
        self._pause_asked_at: float | None = None
        self.loaded: Any = None
        self._ended = False

    # --- the owner thread -------------------------------------------------------------------

    def start(self) -> Controller:
        """Start the owner thread; it builds the machine and loads the program."""
        ready = Future()
        self._owner = threading.Thread(target=self._main, args=(ready,), name="ntsim-owner",
                                       daemon=True)
        self._owner.start()
        ready.result()
        threading.Thread(target=self._press_pauses, name="ntsim-pause", daemon=True).start()
        return self

    def _main(self, ready: Future) -> None:
        try:
            self._boot()
        except BaseException as error:       # noqa: BLE001 - reported to the caller
            ready.set_exception(error)
            return
        ready.set_result(None)
        while True:
            command = self._queue.get()
            if command is None:
                break
            try:
                self._execute(command)
            finally:
                self._queue.task_done()
        self._shutdown()

    def _boot(self) -> None:
        self.machine = self._make_machine()
        self.machine.interruptible = True
        self._breaker = _BreakSink(self)
        if self.sink is not None:
            self.machine.add_sink(self.sink)
        self.machine.add_sink(self._breaker)
        # every guest thread waiting is not a deadlock here: the person at the TUI may
        # still press a key (Ctrl+C for the guest, a pause)
        self.machine.kernel.dispatcher.open_host_events(wait_for_them=True)
        self.loaded = self._load(self.machine)
        self._set_state(PAUSED, Stop("loaded"))

    def _shutdown(self) -> None:
        machine = self.machine
        if machine is not None:
            machine.kernel.dispatcher.close_host_events()
            machine.kernel.tracer.close_sinks()

    def _set_state(self, state: str, stop: Stop | None) -> None:
        with self._lock:
            self.state, self.stop = state, stop
            if state != RUNNING:
                self._run_id += 1
                if self._pause_asked_at is not None:
                    self.pause_latency.append(time.perf_counter() - self._pause_asked_at)
                    self._pause_asked_at = None
                self._pause_wanted = False
            self._changed.notify_all()
        self.on_state(state, stop)

    # --- asking (any thread) ----------------------------------------------------------------

    def submit(self, name: str, /, **args: Any) -> Future:
        """Queue a command; its Future holds the result (or the error)."""
        command = _Command(name, args)
        if self._owner is None or not self._owner.is_alive():
            command.future.set_exception(RuntimeError("the machine's owner thread has ended"))
            return command.future
        self._queue.put(command)
        if name in _SERVICE and self.state == RUNNING:
            self._serve_soon()
        return command.future

    def ask(self, name: str, /, *, timeout: float | None = 10, **args: Any) -> Any:
        """Submit and wait for the result."""
        return self.submit(name, **args).result(timeout)

    def _serve_soon(self) -> None:
        """A running machine serves the queue between two quanta: take its processor."""
        machine = self.machine
        dispatcher = machine.kernel.dispatcher
        dispatcher.post_host_event(self._serve_queue)
        current = dispatcher.current
        cpu = current.process.cpu if current is not None else None
        if cpu is not None:
            cpu.take_processor()

    def run(self) -> Future:
        return self.submit("run")

    def pause(self) -> None:
        """Stop a running machine at its next safe point (within a block; never calling
        unicorn from here). Repeated every PAUSE_RETRY_S until the owner has stopped: a
        request landing between two of its runs would otherwise be lost."""
        with self._lock:
            if self.state != RUNNING or self._pause_wanted:
                return
            self._pause_wanted = True
            self._pause_asked_at = time.perf_counter()
            run_id = self._run_id

            def stop_if_same_run() -> None:       # in the owner, at its next safe point
                if self._run_id == run_id:
                    self.machine.kernel.dispatcher.stop_requested = True

            # a host event outlives the reset of the stop flag at the start of a run
            self.machine.kernel.dispatcher.post_host_event(stop_if_same_run)
            self.machine.pause()                  # at once; the presser repeats it
            self._changed.notify_all()

    def _press_pauses(self) -> None:
        """The pause presser: while a pause is wanted and the machine still runs, ask again."""
        with self._lock:
            while not self._ended:
                if self._pause_wanted and self.state == RUNNING:
                    self.machine.pause()
                    self._changed.wait(PAUSE_RETRY_S)
                else:
                    self._changed.wait()

    def step(self, count: int = 1, tid: int | None = None) -> Future:
        return self.submit("step", count=count, tid=tid)

    def step_over(self, tid: int | None = None) -> Future:
        return self.submit("step_over", tid=tid)

    def run_to_crossing(self, layer: str | None = None) -> Future:
        return self.submit("run_to", layer=layer)

    def break_on(self, layer: str, name: str) -> Breakpoint:
        return self.ask("break", layer=layer, name=name)

    def break_at(self, pid: int, address: int) -> Breakpoint:
        return self.ask("break", pid=pid, address=address)

    def watch_page(self, pid: int, address: int) -> int:
        return self.ask("watch", pid=pid, address=address)

    def snapshot(self, timeout: float | None = 10) -> MachineSnapshot:
        return self.ask("snapshot", timeout=timeout)

    def restart(self) -> Future:
        return self.submit("restart")

    def quit(self, timeout: float = 5) -> None:
        """End the owner thread (pausing a running machine first)."""
        if self._owner is None:
            return
        self.pause()
        self._queue.put(None)
        if self._nested:
            self._serve_soon()
        self._owner.join(timeout)
        with self._lock:
            self._ended = True
            self._changed.notify_all()

    def wait(self, timeout: float = 60) -> str:
        """Wait until every command queued so far is done and the machine is not
        running; returns its state."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self.state == RUNNING or self._queue.unfinished_tasks > self._nested) \
                    and time.monotonic() < deadline:
                self._changed.wait(0.01)
        return self.state

    def wait_running(self, timeout: float = 10) -> str:
        """Wait until a queued run has started (or ended already)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.state != RUNNING and self._queue.unfinished_tasks \
                    and time.monotonic() < deadline:
                self._changed.wait(0.01)
        return self.state

    # --- carrying out (the owner thread) ----------------------------------------------------

    def _execute(self, command: _Command) -> None:
        try:
            handler = getattr(self, f"_do_{command.name}")
            command.future.set_result(handler(**command.args))
        except BaseException as error:       # noqa: BLE001 - the asker gets it
            command.future.set_exception(error)

    def _serve_queue(self) -> None:
        """Between two quanta: do the service commands waiting (control ones wait)."""
        held = []
        while True:
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                break
            if command is not None and command.name in _SERVICE:
                self._execute(command)
                self._queue.task_done()
            else:
                held.append(command)
        for command in held:
            self._queue.put(command)
            self._queue.task_done()         # (put again: counted once)

    def _go(self, runner: Callable[[], Any]) -> str:
        """Run the machine (or a step of it) in this thread, and say where it stopped."""
        if self.machine.finished:
            self._set_state(FINISHED, Stop("finished"))
            return FINISHED
        self.watch_hit = None
        self._set_state(RUNNING, None)
        try:
            outcome = runner()
        except Exception as error:           # noqa: BLE001 - a deadlock, a fault: shown
            self.error = f"{type(error).__name__}: {error}"
            self._set_state(FINISHED if self.machine.finished else PAUSED,
                            Stop("deadlock" if "Deadlock" in type(error).__name__ else "error",
                                 detail=str(error)))
            return self.state
        if self._resume_with is not None:     # left a crossing to step: do it now
            command, self._resume_with = self._resume_with, None
            self._set_state(PAUSED, Stop("pause"))
            self._execute(command)
            return self.state
        if self.machine.finished:
            self._set_state(FINISHED, Stop("finished", detail=f"exit status {self.machine.exit_status}"))
        elif self.watch_hit is not None:
            pid, address, size, pc = self.watch_hit
            self._set_state(PAUSED, Stop("watchpoint", pid=pid,
                                         detail=f"write of {size} at {address:#x} by {pc:#x}"))
        elif outcome == "breakpoint":
            thread = self.machine.kernel.dispatcher.ready[0] if self.machine.kernel.dispatcher.ready else None
            self._set_state(PAUSED, Stop("breakpoint", pid=thread.process.pid if thread else 0,
                                         tid=thread.tid if thread else 0))
        else:
            self._set_state(PAUSED, Stop("pause" if outcome != "step" else "step"))
        return self.state

    def _do_run(self) -> str:
        self.run_to_layer, self._any_crossing = None, False
        return self._go(self._run_machine)

    def _run_machine(self) -> str:
        self.machine.run()
        return self.machine.last_stop

    def _do_run_to(self, layer: str | None) -> str:
        self.run_to_layer, self._any_crossing = layer, layer is None
        return self._go(self._run_machine)

    def _pick_thread(self, tid: int | None):
        dispatcher = self.machine.kernel.dispatcher
        if tid is None:
            current = dispatcher.current
            if current is not None and current in dispatcher.ready and not current.is_host_thread:
                return current
            thread = next((t for t in dispatcher.ready if not t.is_host_thread), None)
            if thread is None:
                raise RuntimeError("no guest thread is ready to step")
            return thread
        for process in self.machine.kernel.processes.values():
            for thread in process.threads:
                if thread.tid == tid:
                    if thread.state != ThreadState.READY or thread not in dispatcher.ready:
                        why = thread.wait.reason if thread.wait else thread.state
                        raise RuntimeError(f"thread {tid} cannot step now: {why}")
                    return thread
        raise RuntimeError(f"no thread {tid}")

    def _do_step(self, count: int = 1, tid: int | None = None) -> str:
        thread = self._pick_thread(tid)

        def step() -> str:
            dispatcher = self.machine.kernel.dispatcher
            dispatcher.ready.remove(thread)
            dispatcher.step(thread, count)
            return "step"

        self.run_to_layer, self._any_crossing = None, False
        state = self._go(step)
        if state == PAUSED and self.stop is not None and self.stop.reason == "step":
            self.stop = Stop("step", pid=thread.process.pid, tid=thread.tid)
        return state

    def _do_step_over(self, tid: int | None = None) -> str:
        """gdb's `nexti`: a `call` runs until the instruction after it (in this thread);
        anything else is one step (a system call is carried out whole)."""
        thread = self._pick_thread(tid)
        cpu = self.machine._processor(thread.process)
        self.machine.kernel.dispatcher._load(cpu, thread)
        pc = cpu.linear_pc
        lines = disassemble(thread.process, pc, 1)
        if not lines or not lines[0].mnemonic.startswith("call"):
            return self._do_step(1, thread.tid)
        after = pc + lines[0].size
        existing = after in cpu._breakpoints
        cpu.add_breakpoint(after)
        try:
            while True:
                state = self._go(self._run_machine)
                stop = self.stop
                if state != PAUSED or stop is None or stop.reason != "breakpoint":
                    return state
                if stop.tid == thread.tid and cpu.linear_pc == after:
                    self._set_state(PAUSED, Stop("step", pid=thread.process.pid, tid=thread.tid))
                    return PAUSED
                if any(b.address == cpu.linear_pc and b.pid == stop.pid
                       for b in self.breakpoints.values()):
                    return state          # a breakpoint of the user's: stop there
        finally:
            if not existing and thread.process.cpu is cpu:
                cpu.remove_breakpoint(after)

    def _do_break(self, layer: str = "", name: str = "", pid: int = 0,
                  address: int = 0) -> Breakpoint:
        breakpoint = Breakpoint(self._next_breakpoint, layer, name, pid, address)
        self._next_breakpoint += 1
        if not name:
            process = self.machine.kernel.processes.get(pid)
            if process is None:
                raise ValueError(f"no process {pid}")
            self.machine.break_at(process, address)
        self.breakpoints[breakpoint.id] = breakpoint
        return breakpoint

    def _do_unbreak(self, id: int) -> bool:
        breakpoint = self.breakpoints.pop(id, None)
        if breakpoint is None:
            return False
        if not breakpoint.name:
            process = self.machine.kernel.processes.get(breakpoint.pid)
            if process is not None and process.cpu is not None:
                process.cpu.remove_breakpoint(breakpoint.address)
        return True

    def _do_watch(self, pid: int, address: int) -> int:
        """A watchpoint on the page holding `address`: the first write to it stops the
        machine at the end of the writing block (a stop taken by the quantum counter,
        never inside the store, which unicorn would then make twice)."""
        process = self.machine.kernel.processes.get(pid)
        if process is None or process.cpu is None:
            raise ValueError(f"no running process {pid}")
        page = address & ~0xFFF
        if (pid, page) in self.watchpoints:
            return page
        cpu = process.cpu
        # unicorn's memory hooks see the physical address (the processor walks real page
        # tables, paging.py): watch the page's frame. A page with no frame yet has
        # nothing to watch; one that gets a new frame (copy-on-write) leaves the watch.
        table = getattr(process.memory, "table", None)
        if table is not None and hasattr(table, "frames"):
            frame = table.frames.get(page)
            if frame is None:
                raise ValueError(f"page {page:#x} of pid {pid} has no frame yet "
                                 "(untouched): step until the program touches it")
            start = PhysicalMemory.physical_address(frame)
        else:
            start = page                     # no paging (real mode): linear is physical

        def written(uc, access, where, size, value, _data) -> None:
            if self.watch_hit is None:
                self.watch_hit = (pid, page + (where - start), size, cpu.linear_pc)
                self.machine.kernel.dispatcher.stop_requested = True
                cpu.take_processor()

        handle = cpu.uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, written, None, start, start + 0xFFF)
        cpu.uc.ctl_flush_tb()
        cpu.flush_tlb()           # a page the TLB holds would be written past the hook
        self.watchpoints[(pid, page)] = handle
        return page

    def _do_snapshot(self) -> MachineSnapshot:
        return take_snapshot(self.machine, self.state, self.stop, tuple(self.breakpoints.values()))

    def _do_read_memory(self, pid: int, address: int, size: int) -> bytes:
        process = self.machine.kernel.processes[pid]
        return process.memory.read(address, size)

    def _do_disassemble(self, pid: int, address: int | None = None, count: int = 16,
                        tid: int | None = None):
        process = self.machine.kernel.processes[pid]
        if address is None:
            address = self._thread_pc(process, tid)
        return disassemble(process, address, count)

    def _thread_pc(self, process, tid: int | None) -> int:
        snapshot_threads = take_snapshot(self.machine, self.state, self.stop, ()).process(process.pid)
        for thread in snapshot_threads.threads if snapshot_threads else ():
            if tid is None or thread.tid == tid:
                return thread.linear_pc
        raise ValueError(f"no thread to disassemble in pid {process.pid}")

    def _do_console_control(self, event: int = 0) -> bool:
        """The console's Ctrl+C (0) or Ctrl+Break (1), as a person at the terminal would
        press it: CSRSS hands it to the guests (a Linux program gets SIGINT)."""
        csrss = self.machine.kernel.smss.server("Windows")
        return bool(csrss is not None and csrss.console_control(event))

    def _do_call(self, function: Callable[[Any], Any]) -> Any:
        """Run `function(machine)` in the owner thread (tests, lessons: read counters)."""
        return function(self.machine)

    def _do_restart(self) -> str:
        """A new machine, the same program: breakpoints on names are kept."""
        if self.machine is not None:
            self._shutdown()
        keep = {i: b for i, b in self.breakpoints.items() if b.name}
        self.breakpoints = keep
        self.watchpoints.clear()
        self._set_state(IDLE, Stop("restart"))
        self._boot()
        return self.state

    # --- stopping inside a crossing (the owner thread, in a trap handler) -------------------

    def _consider(self, event: Event) -> None:
        if self._nested or self.state != RUNNING:
            return
        if self._any_crossing or event.layer == self.run_to_layer:
            self.run_to_layer, self._any_crossing = None, False
            self._pause_in(event, "crossing")
            return
        for breakpoint in self.breakpoints.values():
            if breakpoint.name and (not breakpoint.layer or breakpoint.layer == event.layer) \
                    and fnmatch.fnmatchcase(event.name.casefold(), breakpoint.name.casefold()):
                self._pause_in(event, "breakpoint")
                return

    def _pause_in(self, event: Event, reason: str) -> None:
        """Paused inside a crossing: serve the queue here until a command moves on. The
        crossing then goes on; a command that needs the processor (a step) is done once
        this call has returned to the dispatcher."""
        self._nested = True
        self._set_state(PAUSED, Stop(reason, pid=event.pid, tid=event.tid, event=event))
        try:
            while True:
                command = self._queue.get()
                if command is None:
                    self._queue.task_done()
                    self._queue.put(None)           # quit: leave, and the owner ends
                    self.machine.pause()
                    return
                if command.name in _SERVICE:
                    self._execute(command)
                    self._queue.task_done()
                    continue
                self._queue.task_done()
                if command.name == "run":
                    command.future.set_result(RUNNING)
                    self.run_to_layer, self._any_crossing = None, False
                elif command.name == "run_to":
                    command.future.set_result(RUNNING)
                    layer = command.args.get("layer")
                    self.run_to_layer, self._any_crossing = layer, layer is None
                else:                                # step, step over, restart: after it
                    self._resume_with = command
                    self.machine.pause()
                with self._lock:
                    self.state, self.stop = RUNNING, None
                    self._changed.notify_all()
                self.on_state(RUNNING, None)
                return
        finally:
            self._nested = False
