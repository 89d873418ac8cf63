"""The dispatcher: scheduling, waiting and signalling, and the clock.

Every guest thread of every process runs here, interleaved in one host thread. A thread
runs until its quantum is used up, or until a trap handler stops it because it blocked
or exited. The quantum is counted in translated blocks by a native block hook
(quantum.py), and only when something else could want the processor: another ready
thread, a timer, host input. A lone thread runs with nothing counting, at full speed;
under --deterministic too, since the decision depends only on the machine's own state.

A call that must wait never blocks the host. The service raises :class:`WaitPending`
naming the objects to wait on and how to finish the call; the personality parks the
thread on a :class:`WaitBlock`. When the objects are signalled the thread becomes ready,
and the next time it is scheduled its *completion* runs first — writing the call's
result into its registers — before it executes another instruction.

When no thread is ready, the dispatcher idles: it advances to the next timer (sleeping
on the host for real time, or jumping a virtual clock under --deterministic) and polls
host input that a server waits for (the console's stdin). If nothing could ever wake a
waiting thread, that is a deadlock, reported rather than hung on.
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .cpu import StopReason
from .processes import DispatcherObject, Thread, ThreadState
from .status import STATUS_TIMEOUT, STATUS_WAIT_0

if TYPE_CHECKING:
    from .kernel import Kernel

# A quantum: about 1-3 ms of guest code on unicorn (a block is a few instructions, 5-15
# ns). Shorter quanta switch more often for nothing; longer ones make a sleeper late.
QUANTUM_BLOCKS = 200_000
# A thread that computes alone under a machine driven from another host thread (the TUI)
# still runs with the counter in its code, armed this far: never reached, but
# `take_processor` can then stop it at its next block (a pause, a snapshot).
UNTIL_TAKEN = 1 << 62
UNIX_TO_NT_EPOCH_100NS = 116_444_736_000_000_000
VIRTUAL_EPOCH_NS = 1_704_067_200 * 1_000_000_000     # 2024-01-01T00:00:00Z
VIRTUAL_NS_PER_CALL = 1_000                          # a system call "takes" 1 µs
VIRTUAL_NS_PER_BLOCK = 5                             # and a block of code 5 ns: 1 ms a quantum


class Clock:
    """System time. Real by default; under --deterministic a virtual clock that starts
    at 2024-01-01 and advances only with guest work (each call, each quantum a thread
    used up) and sleeps, so a run gives the same answers every time."""

    def __init__(self, deterministic: bool = False) -> None:
        self.deterministic = deterministic
        self.virtual_ns = 0
        self._host_start = time.monotonic_ns()

    def now_ns(self) -> int:
        """Wall-clock time as Unix nanoseconds."""
        if self.deterministic:
            return VIRTUAL_EPOCH_NS + self.virtual_ns
        return time.time_ns()

    def monotonic_ns(self) -> int:
        if self.deterministic:
            return self.virtual_ns
        return time.monotonic_ns() - self._host_start

    def nt_time(self) -> int:
        """KeQuerySystemTime: 100 ns units since 1601-01-01."""
        return self.now_ns() // 100 + UNIX_TO_NT_EPOCH_100NS

    def advance(self, ns: int) -> None:
        self.virtual_ns += ns

    @property
    def trace_stamp(self) -> Callable[[], int]:
        """The function that stamps trace events (called once per event: kept direct)."""
        if self.deterministic:
            return self.monotonic_ns
        return time.monotonic_ns


class WaitPending(Exception):
    """A service cannot finish now. The thread waits on `objects` (any, or all with
    `wait_all`), for at most `timeout_ns`; then `resume(wait_status)` finishes the call.

    Layers above (a traced NT call, the Linux `read` that made it) *wrap* the pending
    call with a function `layer(get)` that calls `get()` for the inner result and may
    post-process it — the same function they use when the call completes at once.
    """

    def __init__(self, objects: list[DispatcherObject], resume: Callable[[int], Any], *,
                 wait_all: bool = False, timeout_ns: int | None = None,
                 reason: str = "") -> None:
        super().__init__(reason)
        self.objects = objects
        self.resume = resume
        self.wait_all = wait_all
        self.timeout_ns = timeout_ns
        self.reason = reason
        self.layers: list[Callable[[Callable[[], Any]], Any]] = []
        # What to undo if the wait is abandoned instead of completed (a signal interrupts
        # the call: `Dispatcher.alert`): a service takes back a queued waiter, a sleep
        # notes the time it had left. Run by whoever abandons it, before the caller's result.
        self.on_cancel: list[Callable[[], None]] = []

    def wrap(self, layer: Callable[[Callable[[], Any]], Any]) -> None:
        self.layers.append(layer)

    def complete(self, wait_status: int) -> Any:
        get: Callable[[], Any] = partial(self.resume, wait_status)
        for layer in self.layers:
            get = partial(layer, get)
        return get()


def then(call: Callable[[], Any], post: Callable[[Any], Any], *,
         failed: Callable[[Exception], Any] | None = None) -> Any:
    """Run `call()`, then `post(value)`. If the call must wait, `post` runs when it
    completes: the one way every layer adds its own step to a call that may block.
    `failed(error)`, if given, turns the call's error into a value for `post` (the end
    of a file read as no bytes) or raises one of its own."""
    return _then(post, failed, call)


def _then(post: Callable[[Any], Any], failed: Callable[[Exception], Any] | None,
          get: Callable[[], Any]) -> Any:
    """`then`'s layer. A module function bound with partial, not a closure that names
    itself: such a closure is a reference cycle, garbage only the cyclic collector frees,
    and one was left on every call that went through `then` (a pipe read's)."""
    try:
        value = get()
    except WaitPending as pending:
        pending.wrap(partial(_then, post, failed))
        raise
    except Exception as error:
        if failed is None:
            raise
        value = failed(error)
    return post(value)


class WaitBlock:
    """A parked thread: what it waits on, until when, and what to do when woken."""

    def __init__(self, thread: Thread, objects: list[DispatcherObject], wait_all: bool,
                 deadline_ns: int | None, on_wake: Callable[[int], None], reason: str) -> None:
        self.thread, self.objects, self.wait_all = thread, objects, wait_all
        self.deadline_ns, self.on_wake, self.reason = deadline_ns, on_wake, reason
        self.done = False

    def satisfied(self) -> int | None:
        """The wait status if the wait can complete now (STATUS_WAIT_0 + index)."""
        if self.wait_all:
            if all(o.is_signalled(self.thread) for o in self.objects):
                return STATUS_WAIT_0
            return None
        for index, obj in enumerate(self.objects):
            if obj.is_signalled(self.thread):
                return STATUS_WAIT_0 + index
        return None


class Timer:
    """A KTIMER with a DPC: at its deadline the dispatcher calls `routine()` from its own
    loop (no thread is running then). Nothing waits on it; `cancel()` disarms it. Linux's
    alarm() and setitimer() are built on these."""

    def __init__(self, deadline_ns: int, routine: Callable[[], None]) -> None:
        self.deadline_ns, self.routine = deadline_ns, routine
        self.done = False

    def cancel(self) -> None:
        self.done = True


class Watch:
    """A callback on an object: `notify()` runs each time the object is signalled, and
    no wait ever ends for it. It sits among the object's wait blocks and is never
    satisfied. NT gives drivers no such hook on a dispatcher object; it is what lxcore
    needs for epoll — Linux's wait-queue callback (ep_poll_callback), which puts a file
    on an epoll instance's ready list when the file's state changes."""

    def __init__(self, obj: DispatcherObject, notify: Callable[[], None]) -> None:
        self.obj, self.notify = obj, notify
        self.done = False

    def satisfied(self) -> None:
        """Called by `Dispatcher.signal` as for a wait block: notify, and wake no one."""
        self.notify()


class Dispatcher:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.clock: Clock = kernel.clock
        self.ready: deque[Thread] = deque()
        self.timers: list[tuple[int, int, WaitBlock]] = []
        self._timer_seq = itertools.count()
        self.host_inputs: dict[int, Callable[[], None]] = {}   # host fd -> reader
        self.current: Thread | None = None
        self.stop_requested = False
        self.last_stop: str | None = None
        self.unpreempted = False      # the running thread has no quantum (see set_timer)
        self.woke_another = False     # it readied another thread meanwhile (see make_ready)
        # Work other host threads hand in (a Ctrl+C the host console heard), done in this
        # thread between two quanta; a pipe wakes an idle dispatcher for it.
        self.host_events: deque[Callable[[], None]] = deque()
        self._wake_pipe: tuple[int, int] | None = None     # (read end, write end), while open
        self.wait_for_host_events = False
        # Driven from another host thread (ntsim/controller.py): a lone thread keeps the
        # quantum counter too, so that another thread can take the processor at once.
        self.interruptible = False
        self.owner: int | None = None    # the host thread that runs it (set by run)
        # Run limits (`--max-instructions`, `--timeout`): checked between quanta, so a
        # limited run is always given quanta (a lone thread too).
        self.instruction_limit: int | None = None
        self.deadline: float | None = None         # time.monotonic() to stop at
        self.limited = False

    def set_limits(self, instructions: int | None = None, seconds: float | None = None) -> None:
        """Stop the run after `instructions` guest instructions (counted as --stats counts
        them) or `seconds` of wall-clock time: `run` then returns "instruction-limit" or
        "timeout"."""
        self.instruction_limit = instructions
        self.deadline = time.monotonic() + seconds if seconds is not None else None
        self.limited = instructions is not None or seconds is not None

    def _limit_reached(self) -> str | None:
        if self.instruction_limit is not None and \
                self.kernel.instructions_executed() >= self.instruction_limit:
            return "instruction-limit"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "timeout"
        return None

    # --- events from other host threads -----------------------------------------------------

    def open_host_events(self, *, wait_for_them: bool = False) -> None:
        """Another host thread will post events (see post_host_event). `wait_for_them`:
        when every thread waits and nothing else can wake one, wait for such an event (a
        person at a terminal may press Ctrl+C) rather than report a deadlock."""
        if self._wake_pipe is None:
            self._wake_pipe = os.pipe()
            os.set_blocking(self._wake_pipe[1], False)
        self.wait_for_host_events = wait_for_them

    def close_host_events(self) -> None:
        if self._wake_pipe is not None:
            for fd in self._wake_pipe:
                os.close(fd)
            self._wake_pipe = None
        self.wait_for_host_events = False

    def post_host_event(self, event: Callable[[], None]) -> None:
        """From another host thread: run `event` in the dispatcher's thread at its next
        safe point — between two quanta, when the running thread traps (a personality's
        trap handler returns to the dispatcher while `host_events` is not empty), or at
        once if it is idle (the wake pipe)."""
        self.host_events.append(event)
        wake = self._wake_pipe
        if wake is not None:
            try:
                os.write(wake[1], b"!")
            except (BlockingIOError, OSError):
                pass                   # already full of wake-ups, or just closed

    def stop_processor(self) -> None:
        """From another host thread: make the running processor return to the dispatcher
        now. Safely at the next block when its code holds the quantum counter; otherwise
        between any two of its memory accesses, and only when the interrupted thread will
        never run again (its process is about to end, or the machine stops): unicorn
        checks for an exit after each access and restarts the instruction, so a
        read-modify-write instruction stopped after its store would run twice."""
        thread = self.current
        cpu = thread.process.cpu if thread is not None else None
        if cpu is not None and not cpu.take_processor():
            cpu.uc.emu_stop()

    def _run_host_events(self) -> None:
        while self.host_events:
            self.host_events.popleft()()

    # --- the ready queue --------------------------------------------------------------------

    def make_ready(self, thread: Thread) -> None:
        if thread.state in (ThreadState.TERMINATED,):
            return
        thread.state = ThreadState.READY
        if thread not in self.ready:
            self.ready.append(thread)
        current = self.current
        if self.unpreempted and current is not None and current is not thread \
                and current.process.cpu is not None:
            # The caller runs with no quantum (it was alone) and has just readied another
            # thread (a pipe write, a futex wake): stop it after this call so that both
            # are scheduled with quanta, or a caller that then computes without calls
            # would keep the processor for good. It goes on first, as it would have.
            self.woke_another = True
            current.process.cpu.request_stop()

    def terminate_thread(self, thread: Thread, status: int) -> None:
        thread.state = ThreadState.TERMINATED
        thread.exit_status = status
        if thread.wait is not None:
            self._cancel_wait(thread.wait)
        if thread in self.ready:
            self.ready.remove(thread)
        thread.signalled = True
        self.signal(thread)
        if thread.process.cpu is not None and thread.process.cpu.loaded_thread is thread:
            thread.process.cpu.loaded_thread = None

    # --- waiting and signalling -------------------------------------------------------------

    def park(self, thread: Thread, pending: WaitPending, on_wake: Callable[[int], None]) -> None:
        """Put `thread` to sleep on `pending`'s objects; `on_wake(status)` runs, with the
        thread current, when it is next scheduled after the wait is satisfied."""
        # A wait is control flow, not an error: its traceback (every frame from the trap
        # down to the service that raised it) is never looked at, and through the frames'
        # locals it tied each wait to the ones around it, in cycles only the cyclic
        # collector freed. Dropped here, they go when the call completes.
        pending.__traceback__ = None
        deadline = None
        if pending.timeout_ns is not None:
            deadline = self.clock.monotonic_ns() + max(0, pending.timeout_ns)
        block = WaitBlock(thread, pending.objects, pending.wait_all, deadline, on_wake,
                          pending.reason)
        status = block.satisfied()
        if status is not None or (deadline is not None and pending.timeout_ns <= 0):
            self._wake(block, status if status is not None else STATUS_TIMEOUT)
            return
        thread.state = ThreadState.WAITING
        thread.wait = block
        if thread in self.ready:
            self.ready.remove(thread)
        for obj in pending.objects:
            obj.wait_blocks.append(block)
        if deadline is not None:
            heapq.heappush(self.timers, (deadline, next(self._timer_seq), block))

    def signal(self, obj: DispatcherObject) -> None:
        """An object became signalled: wake every wait it now satisfies."""
        for block in list(obj.wait_blocks):
            if block.done:
                continue
            status = block.satisfied()
            if status is not None:
                self._wake(block, status)

    def _wake(self, block: WaitBlock, status: int) -> None:
        block.done = True
        thread = block.thread
        if status != STATUS_TIMEOUT:
            objects = block.objects if block.wait_all else [block.objects[status - STATUS_WAIT_0]]
            for obj in objects:
                obj.acquire(thread)
        self._cancel_wait(block)
        thread.wait = None
        thread.completion = partial(block.on_wake, status)
        self.make_ready(thread)

    def alert(self, thread: Thread, status: int) -> bool:
        """End `thread`'s wait early, without acquiring anything: its `on_wake(status)`
        runs when it is next scheduled (NT: an alertable wait ends with STATUS_USER_APC
        when a user APC is queued; Linux: a signal interrupts a sleeping call). False if
        the thread was not waiting."""
        block = thread.wait
        if block is None or block.done:
            return False
        self._cancel_wait(block)
        thread.completion = partial(block.on_wake, status)
        self.make_ready(thread)
        return True

    def queue_user_apc(self, thread: Thread, routine: Callable[[], None]) -> None:
        """KeInsertQueueApc, user mode: `routine()` runs in `thread`'s context just before
        it next returns to user mode (after any completion of a call it waited in)."""
        if routine not in thread.user_apcs:
            thread.user_apcs.append(routine)

    def _deliver_user_apcs(self, thread: Thread) -> None:
        while thread.user_apcs and thread.state == ThreadState.RUNNING:
            thread.user_apcs.pop(0)()

    def set_timer(self, due_ns: int, routine: Callable[[], None]) -> Timer:
        """KeSetTimer with a DPC: call `routine()` `due_ns` from now (on the virtual clock
        under --deterministic)."""
        timer = Timer(self.clock.monotonic_ns() + max(0, due_ns), routine)
        heapq.heappush(self.timers, (timer.deadline_ns, next(self._timer_seq), timer))
        current = self.current
        if self.unpreempted and current is not None and current.process.cpu is not None:
            # The caller runs with no quantum (it was alone): stop it after this call so
            # that it is rescheduled with one, or the timer could never cut in.
            current.process.cpu.request_stop()
        return timer

    def watch(self, obj: DispatcherObject, notify: Callable[[], None]) -> Watch:
        """Call `notify()` each time `obj` is signalled, until `unwatch` (see Watch)."""
        watch = Watch(obj, notify)
        obj.wait_blocks.append(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        watch.done = True
        if watch in watch.obj.wait_blocks:
            watch.obj.wait_blocks.remove(watch)

    def _cancel_wait(self, block: WaitBlock) -> None:
        block.done = True
        for obj in block.objects:
            if block in obj.wait_blocks:
                obj.wait_blocks.remove(block)
        block.thread.wait = None

    def watch_host_input(self, fd: int, reader: Callable[[], None]) -> None:
        """A server waits for host input on `fd` (the console's stdin)."""
        self.host_inputs[fd] = reader

    def unwatch_host_input(self, fd: int) -> None:
        self.host_inputs.pop(fd, None)

    # --- the scheduler loop -----------------------------------------------------------------

    def run(self, until: Callable[[], bool]) -> str:
        """Schedule threads until `until()` is true. Returns "done", "stopped" (someone
        asked to pause), "breakpoint" or "deadlock"."""
        self.stop_requested = False
        self.owner = threading.get_ident()
        while not until():
            if self.host_events:
                self._run_host_events()
            if self.stop_requested:
                return "stopped"
            if self.limited and (limit := self._limit_reached()) is not None:
                return limit
            if self.timers or self.host_inputs:
                # Timers expire and host input arrives while other threads run, not only
                # when the processor idles: otherwise a sleeper, or a thread waiting for
                # the console, would starve beside a busy thread.
                self._expire_timers()
                self._poll_host_input(0)
                if until():
                    break       # a timer's routine did what the caller waits for
            thread = self.ready.popleft() if self.ready else None
            if thread is None:
                if not self._idle():
                    return "deadlock"
                continue
            outcome = self._run_thread(thread)
            if outcome is not None:
                return outcome
        return "done"

    def _run_thread(self, thread: Thread) -> str | None:
        if thread is not self.current and self.kernel.tracer.detailed:
            self._trace_switch(thread)
        self.current = thread
        self.kernel.current_thread = thread
        thread.state = ThreadState.RUNNING
        cpu = thread.process.cpu
        if not thread.is_host_thread and cpu is not None:
            self._load(cpu, thread)
        if thread.completion is not None:
            completion, thread.completion = thread.completion, None
            completion()
            if thread.state != ThreadState.RUNNING:
                return None
        if thread.user_apcs:
            self._deliver_user_apcs(thread)
            if thread.state != ThreadState.RUNNING:
                return None
        if thread.is_host_thread:
            thread.host_body(thread)
            if thread.state == ThreadState.RUNNING:
                thread.state = ThreadState.WAITING   # back to waiting for messages
            return None
        # A lone thread runs unpreempted, unless a timer or host input may wake another.
        # (Under --deterministic a pending timer needs the quanta too: the virtual clock
        # moves with them, and a thread that computes without calls must let it reach
        # the deadline.)
        others = self.ready or self._pending_timers() or self.host_inputs
        quantum = QUANTUM_BLOCKS if others or self.limited else 0
        if self.instruction_limit is not None:
            # small quanta near the limit: a block holds a few instructions (rarely more
            # than 8), so the run stops within a block of it
            left = self.instruction_limit - self.kernel.instructions_executed()
            quantum = max(1, min(quantum, left // 8))
        thread.cpu_started = self.processor_clock()
        self.unpreempted, self.woke_another = not quantum, False
        reason = cpu.run(blocks=quantum or (UNTIL_TAKEN if self.interruptible else 0))
        self.unpreempted = False
        woke_another, self.woke_another = self.woke_another, False
        taken = reason == StopReason.QUANTUM and cpu.processor_taken()
        if quantum and self.clock.deterministic and reason == StopReason.QUANTUM:
            # in whole quanta; a quantum another host thread cut short (a pause, a
            # snapshot) counts only the blocks it ran, so pausing changes no guest clock
            used = quantum - cpu.blocks_left() if taken else quantum
            self.clock.advance(used * VIRTUAL_NS_PER_BLOCK)
        thread.cpu_time_ns += self.processor_clock() - thread.cpu_started
        thread.cpu_started = None
        if reason == StopReason.FAULT:
            thread.process.personality.on_fault(thread, cpu.pending_fault)
        if thread.state == ThreadState.RUNNING:
            self.make_ready(thread)
            if taken or woke_another:      # interrupted, not preempted: it goes on next
                self.ready.remove(thread)
                self.ready.appendleft(thread)
            if reason == StopReason.BREAKPOINT:
                self.ready.remove(thread)
                self.ready.appendleft(thread)
                return "breakpoint"
        if self.stop_requested:
            return "stopped"
        return None

    def _pending_timers(self) -> bool:
        """Is a timer or timed wait armed? (Cancelled ones at the head are dropped.)"""
        timers = self.timers
        while timers and timers[0][2].done:
            heapq.heappop(timers)
        return bool(timers)

    def _trace_switch(self, thread: Thread) -> None:
        """A detail event: the processor passes to another thread (KiSwapContext)."""
        from ..trace import KERNEL

        old = self.current
        self.kernel.tracer.detail(thread, KERNEL, "KiSwapContext", {
            "OldProcessId": old.process.pid if old is not None else None,
            "OldThreadId": old.tid if old is not None else None,
            "NewProcessId": thread.process.pid, "NewThreadId": thread.tid})

    def processor_clock(self) -> int:
        """What a thread's run time (KTHREAD's) is counted in: the host CPU its quanta
        cost (the virtual clock's advance under --deterministic), system calls included.
        NT keeps user and kernel time apart; this model keeps one sum."""
        return self.clock.monotonic_ns() if self.clock.deterministic else time.thread_time_ns()

    def thread_time_ns(self, thread: Thread) -> int:
        """A thread's run time so far, the quantum it is running in included."""
        if thread.cpu_started is None:
            return thread.cpu_time_ns
        return thread.cpu_time_ns + self.processor_clock() - thread.cpu_started

    def step(self, thread: Thread, instructions: int) -> str:
        """Run one guest thread for exactly `instructions` (or until it traps out)."""
        self.current = thread
        self.kernel.current_thread = thread
        thread.state = ThreadState.RUNNING
        cpu = thread.process.cpu
        self._load(cpu, thread)
        if thread.completion is not None:
            completion, thread.completion = thread.completion, None
            completion()
        if thread.user_apcs:
            self._deliver_user_apcs(thread)
        if thread.state == ThreadState.RUNNING:
            reason = cpu.run(instructions)
            if reason == StopReason.FAULT:
                thread.process.personality.on_fault(thread, cpu.pending_fault)
        if thread.state == ThreadState.RUNNING:
            thread.state = ThreadState.READY
            self.ready.appendleft(thread)
        return thread.state

    def _load(self, cpu, thread: Thread) -> None:
        """Switch the processor to `thread`'s registers if another thread held it."""
        if cpu.loaded_thread is thread:
            return
        if cpu.loaded_thread is not None and cpu.loaded_thread.state != ThreadState.TERMINATED:
            cpu.loaded_thread.context = cpu.save_context()
        if thread.context is not None:
            cpu.restore_context(thread.context)
        cpu.loaded_thread = thread

    def _idle(self) -> bool:
        """Nothing is ready: wait for a timer or host input. False means deadlock."""
        while self.timers and self.timers[0][2].done:
            heapq.heappop(self.timers)
        deadline = self.timers[0][0] if self.timers else None
        if not self.host_inputs and deadline is None and not self.wait_for_host_events:
            return False
        timeout = None
        if deadline is not None:
            timeout = max(0, deadline - self.clock.monotonic_ns())
            if self.clock.deterministic:
                self.clock.advance(timeout)
                timeout = 0
        seconds = None if timeout is None else timeout / 1e9
        if self.deadline is not None:      # --timeout: wake in time to stop the run
            left = max(0.0, self.deadline - time.monotonic())
            seconds = left if seconds is None else min(seconds, left)
        self._poll_host_input(seconds)
        self._expire_timers()
        return True

    def _poll_host_input(self, timeout_s: float | None) -> None:
        """Hand host input that has arrived to the servers that wait for it."""
        if not self.host_inputs and timeout_s == 0:
            return
        wake = self._wake_pipe[0] if self._wake_pipe is not None else None
        readable, _, _ = select.select([*self.host_inputs, *([wake] if wake is not None else [])],
                                       [], [], timeout_s)
        for fd in readable:
            if fd == wake:
                os.read(wake, 4096)     # the host events run at the dispatcher's next step
                continue
            reader = self.host_inputs.get(fd)
            if reader is not None:
                reader()

    def _expire_timers(self) -> None:
        """Complete every wait whose deadline has passed with STATUS_TIMEOUT."""
        now = self.clock.monotonic_ns()
        while self.timers and (self.timers[0][2].done or self.timers[0][0] <= now):
            _, _, block = heapq.heappop(self.timers)
            if block.done:
                continue
            if isinstance(block, Timer):
                block.done = True
                block.routine()
            else:
                self._wake(block, STATUS_TIMEOUT)

    def waiting_threads(self) -> list[Thread]:
        return [t for p in self.kernel.processes.values() for t in p.threads
                if t.state == ThreadState.WAITING and not t.is_host_thread]
