"""Processes and threads, and the dispatcher objects a thread can wait on.

A *process* is an address space (its CPU and memory), a handle table and a set of
threads, tagged with the personality that runs it ("lxss", "csrss", ...). A *thread* is
what the dispatcher schedules: a guest thread runs instructions on its process's CPU; a
server thread (CSRSS, PSXSS) runs host code, one message at a time.

Processes, threads, events, semaphores and mutants are *dispatcher objects*: each is
signalled or not, and a thread may wait until one (or all) of them is signalled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .objects import HandleTable, KernelObject

if TYPE_CHECKING:
    from .cpu import Cpu
    from .dispatcher import WaitBlock
    from .memory import AddressSpace


class DispatcherObject(KernelObject):
    """An object with a signal state and a list of waiting threads (DISPATCHER_HEADER)."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.signalled = False
        self.wait_blocks: list[WaitBlock] = []

    def is_signalled(self, thread: Thread) -> bool:
        return self.signalled

    def acquire(self, thread: Thread) -> None:
        """A wait on this object was satisfied; auto-reset objects reset here."""


NotificationEvent, SynchronizationEvent = 0, 1


class Event(DispatcherObject):
    """A notification event stays signalled until reset; a synchronization event
    releases one waiter and resets itself."""

    type_name = "Event"

    def __init__(self, name: str = "", event_type: int = NotificationEvent,
                 initial_state: bool = False) -> None:
        super().__init__(name)
        self.event_type = event_type
        self.signalled = initial_state

    def acquire(self, thread: Thread) -> None:
        if self.event_type == SynchronizationEvent:
            self.signalled = False


class Semaphore(DispatcherObject):
    """A counted resource: signalled while its count is above zero; each satisfied wait
    takes one, NtReleaseSemaphore gives some back (never above the maximum)."""

    type_name = "Semaphore"

    def __init__(self, name: str = "", initial_count: int = 0, maximum_count: int = 1) -> None:
        super().__init__(name)
        self.count = initial_count
        self.maximum = maximum_count

    def is_signalled(self, thread: Thread) -> bool:
        return self.count > 0

    def acquire(self, thread: Thread) -> None:
        self.count -= 1


class Mutant(DispatcherObject):
    """A mutex that a thread owns: signalled while nobody owns it (and, for its owner,
    always: the owner may wait again, and must release once per wait). If the owner
    ends without releasing it, it is *abandoned*: the next thread to get it learns so
    (STATUS_ABANDONED_WAIT_0) — NT's KeRundownThread, here a watch on the owner thread."""

    type_name = "Mutant"

    def __init__(self, dispatcher: Any, name: str = "", owner: Thread | None = None) -> None:
        super().__init__(name)
        self.dispatcher = dispatcher
        self.owner: Thread | None = None
        self.recursion = 0
        self.abandoned = False          # set when its owner ended; taken by the next owner
        self._owner_watch: Any = None
        if owner is not None:
            self.acquire(owner)

    def is_signalled(self, thread: Thread) -> bool:
        return self.owner is None or self.owner is thread

    def acquire(self, thread: Thread) -> None:
        if self.owner is None:
            self.owner = thread
            self._owner_watch = self.dispatcher.watch(thread, self._owner_ended)
        self.recursion += 1

    def release(self) -> None:
        """One release by the owner; the last one frees it and wakes a waiter."""
        self.recursion -= 1
        if self.recursion == 0:
            self._let_go()

    def take_abandoned(self) -> bool:
        """Whether the owner that just got it found it abandoned (once)."""
        abandoned, self.abandoned = self.abandoned, False
        return abandoned

    def _let_go(self) -> None:
        self.owner = None
        self.recursion = 0
        if self._owner_watch is not None:
            self.dispatcher.unwatch(self._owner_watch)
            self._owner_watch = None
        self.dispatcher.signal(self)

    def _owner_ended(self) -> None:
        if self.owner is not None and self.owner.state == ThreadState.TERMINATED:
            self.abandoned = True
            self._let_go()


class KeyedEvent(DispatcherObject):
    """A keyed event: many waits on one object, told apart by a key (an address).

    NT uses keyed events where it needs a wait queue per memory location without an
    object per location (critical sections, SRW locks): the same need as Linux's futex,
    so LXSS builds futexes on one keyed event per process. Each wait gets its own token
    (a one-shot event) so a release wakes exactly the waiters it picks."""

    type_name = "KeyedEvent"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.waiters: dict[int, list[tuple[Event, int]]] = {}   # key -> [(token, bitset)]

    def add_waiter(self, key: int, bitset: int = 0xFFFFFFFF) -> Event:
        token = Event(event_type=SynchronizationEvent)
        self.waiters.setdefault(key, []).append((token, bitset))
        return token

    def remove_waiter(self, key: int, token: Event) -> None:
        queue = self.waiters.get(key, [])
        self.waiters[key] = [(t, b) for t, b in queue if t is not token]
        if not self.waiters[key]:
            del self.waiters[key]

    def release(self, key: int, count: int, bitset: int = 0xFFFFFFFF) -> list[Event]:
        """Take up to `count` waiters on `key` whose bitset matches; returns their tokens
        (the caller signals them through the dispatcher)."""
        # A waiter whose thread died (or stopped waiting) has no wait block left on its
        # token: drop it rather than let it use up a wake-up a live waiter needs.
        queue = [(t, b) for t, b in self.waiters.get(key, []) if t.wait_blocks]
        self.waiters[key] = queue
        chosen = [(t, b) for t, b in queue if b & bitset][:max(count, 0)]
        for item in chosen:
            queue.remove(item)
        if not queue:
            self.waiters.pop(key, None)
        return [token for token, _ in chosen]

    def requeue(self, key: int, new_key: int, count: int) -> int:
        """Move up to `count` waiters from one key to another (FUTEX_REQUEUE)."""
        queue = self.waiters.get(key, [])
        moved, self.waiters[key] = queue[:max(count, 0)], queue[max(count, 0):]
        if not self.waiters[key]:
            del self.waiters[key]
        if moved:
            self.waiters.setdefault(new_key, []).extend(moved)
        return len(moved)


class ThreadState:
    READY, RUNNING, WAITING, TERMINATED = "ready", "running", "waiting", "terminated"


class Thread(DispatcherObject):
    type_name = "Thread"

    def __init__(self, process: Process, tid: int, host_body: Callable[[Thread], None] | None = None) -> None:
        super().__init__()
        self.process = process
        self.tid = tid
        self.state = ThreadState.READY
        self.context: Any = None          # saved registers while another thread holds the CPU
        self.wait: WaitBlock | None = None
        self.completion: Callable[[], None] | None = None   # finishes a call that waited
        self.host_body = host_body        # server threads run host code instead of a CPU
        self.trace_parent: int | None = None
        self.exit_status: int | None = None
        self.data: Any = None             # the personality's per-thread state
        self.user_apcs: list[Callable[[], None]] = []   # run before it next enters user mode
        self.cpu_time_ns = 0              # processor time it has used (the dispatcher counts)
        self.cpu_started: int | None = None   # when its current quantum began
        self.suspend_count = 0            # NtSuspendThread minus NtResumeThread
        self.resume_event = Event(event_type=NotificationEvent, initial_state=True)

    @property
    def is_host_thread(self) -> bool:
        return self.host_body is not None

    def describe(self) -> str:
        return f"{self.process.name} pid {self.process.pid} tid {self.tid}"


class Process(DispatcherObject):
    type_name = "Process"

    def __init__(self, pid: int, name: str, personality: Any = None, *,
                 parent: Process | None = None, image_path: str = "",
                 is_server: bool = False) -> None:
        super().__init__()
        self.pid = pid
        self.name = name
        self.image_path = image_path
        self.personality = personality
        self.subsystem = getattr(personality, "name", None) or name
        self.parent = parent
        self.children: list[Process] = []
        self.is_server = is_server
        self.handles = HandleTable()
        self.threads: list[Thread] = []
        self.cpu: Cpu | None = None
        self.memory: AddressSpace | None = None
        self.exit_status: int | None = None
        self.exit_note: str = ""           # why it ended, for people ("killed by SIGSEGV")
        self.exit_reason: str = ""         # how it ended, for the trace ("killed by SIGABRT")
        self.data: Any = None              # the personality's per-process state
        # the directory its file names are resolved under, as the volume's path parts
        # (a pico provider's chroot; () is the volume's root); children inherit it
        self.root_parts: tuple[str, ...] = parent.root_parts if parent is not None else ()
        self.retired_instructions = 0      # counted on a processor it no longer has
        self.create_time_ns = 0            # monotonic clock at creation (CreateTime)
        if parent is not None:
            parent.children.append(self)

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}, {self.subsystem})"

    @property
    def reserved_bytes(self) -> int:
        return self.memory.reserved_bytes if self.memory else 0

    @property
    def committed_bytes(self) -> int:
        return self.memory.committed_bytes if self.memory else 0

    @property
    def touched_bytes(self) -> int:
        return self.memory.touched_bytes if self.memory else 0

    @property
    def shared_bytes(self) -> int:
        """Touched bytes whose frames are shared with other processes (views, fork)."""
        return self.memory.shared_bytes if self.memory else 0
