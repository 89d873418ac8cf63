"""The kernel object: the executive's components wired together, and boot.

`Kernel` is what ntoskrnl is to NT: it owns the object manager, the dispatcher and the
clock, the memory, I/O and LPC managers, and the system-service table, and it boots the
system: the System process, the devices and DOS device names, then the session manager,
which starts the subsystem servers the registry marks as required (CSRSS).

The kernel never imports a personality. Personalities and servers are handed to it
(`SessionManager.register_subsystem`, `create_process(personality=...)`).
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Any

from ..trace import KERNEL, Tracer
from .cpu import Cpu
from .dispatcher import Clock, Dispatcher
from .fs.console import ConsoleDevice
from .fs.null import NullDevice
from .fs.pipe import NamedPipeDevice
from .fs.volume import HostVolume
from .limits import Limits
from .lpc import LpcManager
from .memory import AddressSpace
from .objects import ObjectManager
from .physical import PAGE_SIZE, ram
from .processes import Process, Thread, ThreadState
from .services import NtServices
from .smss import SessionManager
from .status import STATUS_QUOTA_EXCEEDED, NtStatusError

SYSTEM_VOLUME = "\\Device\\HarddiskVolume1"


class Kernel:
    def __init__(self, root: str = ".", *, deterministic: bool = False, seed: int | None = None,
                 count_instructions: bool = False, limits: Limits | None = None,
                 read_only: bool = False) -> None:
        self.clock = Clock(deterministic)
        self.limits = limits or Limits()
        # the RAM every processor maps (one per host process): no more frames in use than
        # this machine's --max-memory allows
        memory = ram()
        memory.frame_limit = min(memory.frame_count, self.limits.max_memory // PAGE_SIZE)
        # guest processes not yet reaped, and guest threads not yet ended: what the
        # process and thread limits count (pruned of the finished when one is reached)
        self._counted_processes: set[Process] = set()
        self._counted_threads: set[Thread] = set()
        self.count_instructions = count_instructions
        # getrandom and AT_RANDOM: seeded when the run must repeat, the host's otherwise
        self._random = random.Random(seed if seed is not None else 0) \
            if deterministic or seed is not None else None
        self.deterministic = deterministic
        self.seed = seed
        self.tracer = Tracer(self.clock.trace_stamp)
        self.objects = ObjectManager()
        self.dispatcher = Dispatcher(self)
        self.lpc = LpcManager(self)
        self.services = NtServices(self)
        self.processes: dict[int, Process] = {}
        self.exited: list[Process] = []
        self._spare_processors: dict[str, list[Cpu]] = {}   # emptied, for new processes
        self._client_ids = itertools.count(4, 4)   # process and thread ids share one space
        self.current_thread: Thread | None = None
        self.volume = HostVolume(root, read_only=read_only)
        if deterministic:
            self.volume.make_deterministic(self.clock.now_ns)
        # notes for the person running ntsim (an unsupported call a guest made), kept
        # off the guest's own streams; `ntsim run` prints them when the run ends
        self.notices: list[str] = []
        # may guests' sockets (\Device\Afd) reach beyond this machine's loopback?
        self.network = False
        self.console_device = ConsoleDevice(self)
        self.smss = SessionManager(self)
        self.system: Process | None = None
        self.booted = False

    # --- boot -------------------------------------------------------------------------------

    def boot(self) -> None:
        """Phase 1 of NT's boot, reduced: System, devices, DOS names, then SMSS."""
        self.system = self.create_process("System", is_server=True)
        self.current_thread = self.create_thread(self.system, host_body=lambda thread: None)
        self.current_thread.state = ThreadState.WAITING
        objects = self.objects
        objects.insert(SYSTEM_VOLUME, self.volume, permanent=True)
        objects.insert("\\Device\\Null", NullDevice(), permanent=True)
        objects.insert("\\Device\\ConDrv", self.console_device, permanent=True)
        objects.insert("\\Device\\NamedPipe", NamedPipeDevice(self), permanent=True)
        objects.create_symbolic_link("\\??\\C:", SYSTEM_VOLUME, permanent=True)
        objects.create_symbolic_link("\\??\\NUL", "\\Device\\Null", permanent=True)
        objects.create_symbolic_link("\\??\\CON", "\\Device\\ConDrv", permanent=True)
        objects.create_symbolic_link("\\DosDevices", "\\??", permanent=True)
        self.smss.start(self.system)
        self.booted = True

    # --- processes and threads --------------------------------------------------------------

    def create_process(self, name: str, personality: Any = None, *, parent: Process | None = None,
                       image_path: str = "", is_server: bool = False,
                       architecture: str | None = None,
                       user_space: tuple[int, int] | None = None) -> Process:
        """PspCreateProcess: a process object, and an address space if it runs guest code.

        `architecture` is the processor mode its code runs in (cpu.MODES: "x86-64",
        "x86-32", "x86-16-protected", "x86-16" for real mode); `user_space`, the lowest
        and highest address its memory may use, defaults to the mode's layout (a VDM's
        starts at 0, a 32-bit process's ends below 2 GiB)."""
        if architecture is not None and not is_server:
            self._charge_process()
        process = Process(next(self._client_ids), name, personality, parent=parent,
                          image_path=image_path, is_server=is_server)
        if architecture is not None and not is_server:
            self._counted_processes.add(process)
        process.create_time_ns = self.clock.monotonic_ns()
        if architecture is not None:
            process.cpu = self._processor(architecture)
            lowest, highest = user_space or process.cpu.mode.user_space
            process.memory = AddressSpace(process.cpu, lowest, highest)
            process.memory.tracer = self.tracer
            if self.count_instructions:
                process.cpu.count_instructions(True)
        self.processes[process.pid] = process
        if self.tracer.enabled:
            self.tracer.note(self.current_thread, KERNEL, "PspCreateProcess",
                             {"ImageName": name, "ProcessId": process.pid,
                              "Subsystem": process.subsystem,
                              "Parent": parent.pid if parent else 0})
        return process

    def new_address_space(self, process: Process, architecture: str) -> None:
        """Give a process a fresh, empty address space: Linux execve. NT has no such
        service — WSL1's lxcore did this inside the pico provider. The processor is
        reset and kept when the architecture stays the same (its traps stay installed)."""
        old = process.memory
        if old is not None:
            old.close_views()              # the old image's mapped files let go
        same_mode = process.cpu is not None and process.cpu.architecture == architecture
        if same_mode:
            process.cpu.reset()
        else:
            process.cpu = self._processor(architecture)
        process.memory = AddressSpace(process.cpu, *process.cpu.mode.user_space)
        process.memory.tracer = self.tracer
        if old is not None and same_mode:
            process.memory.lowest, process.memory.highest = old.lowest, old.highest
        if self.count_instructions:
            process.cpu.count_instructions(True)
        if self.tracer.enabled:
            self.tracer.note(self.current_thread, KERNEL, "MmCreateAddressSpace",
                             {"ProcessId": process.pid})

    def _processor(self, architecture: str) -> Cpu:
        spares = self._spare_processors.get(architecture)
        return spares.pop() if spares else Cpu(architecture)

    def recycle_processor(self, process: Process) -> None:
        """A process is gone for good (its parent reaped it: nobody can look at it any
        more), so its processor, emptied, serves the next process made — building a
        unicorn engine is the costliest part of a fork (~0.6 ms). Its memory figures
        stay; reading its memory fails from now on."""
        cpu = process.cpu
        if cpu is None or process.alive or any(t is self.current_thread for t in process.threads):
            return
        process.retired_instructions += cpu.instructions
        cpu.instructions = 0
        process.memory.detach_processor()      # (its figures are taken before the reset)
        cpu.remove_traps()
        cpu.reset()
        cpu.loaded_thread = None
        process.cpu = None
        self._spare_processors.setdefault(cpu.architecture, []).append(cpu)

    def create_thread(self, process: Process, host_body=None) -> Thread:
        guest = host_body is None and not process.is_server and process.cpu is not None
        if guest:
            self._charge_thread()
        thread = Thread(process, next(self._client_ids), host_body)
        process.threads.append(thread)
        if guest:
            self._counted_threads.add(thread)
        return thread

    # --- quotas (limits.py) -------------------------------------------------------------------

    def _charge_process(self) -> None:
        """One more guest process, or STATUS_QUOTA_EXCEEDED (a Linux fork's EAGAIN). A
        process counts until it is reaped: a zombie still holds its processor."""
        counted = self._counted_processes
        if len(counted) >= self.limits.max_processes:
            counted -= {p for p in counted if not p.alive and p.cpu is None}
            if len(counted) >= self.limits.max_processes:
                raise NtStatusError(STATUS_QUOTA_EXCEEDED,
                                    f"{len(counted)} guest processes: the limit (--max-processes)")
        self._charge_thread()        # its first thread, too

    def _charge_thread(self) -> None:
        counted = self._counted_threads
        if len(counted) >= self.limits.max_threads:
            counted -= {t for t in counted if t.state == ThreadState.TERMINATED}
            if len(counted) >= self.limits.max_threads:
                raise NtStatusError(STATUS_QUOTA_EXCEEDED,
                                    f"{len(counted)} guest threads: the limit (--max-threads)")

    def start_thread(self, thread: Thread) -> None:
        self.dispatcher.make_ready(thread)

    def terminate_thread(self, thread: Thread, status: int) -> None:
        self.dispatcher.terminate_thread(thread, status)
        process = thread.process
        if process.cpu is not None and self.current_thread is thread:
            process.cpu.request_stop()
        if process.alive and all(t.state == ThreadState.TERMINATED for t in process.threads):
            self.terminate_process(process, status)

    def terminate_process(self, process: Process, status: int, note: str = "") -> None:
        """PspExitProcess: stop every thread, close every handle, tell the servers the
        client died, and signal the process object for whoever waits on it."""
        if not process.alive:
            return
        process.exit_status = status
        process.exit_note = note or process.exit_note
        for thread in process.threads:
            if thread.state != ThreadState.TERMINATED:
                self.dispatcher.terminate_thread(thread, status)
        if process.cpu is not None and self.current_thread is not None \
                and self.current_thread.process is process:
            process.cpu.request_stop()
        caller = self.current_thread
        if process.memory is not None:
            process.memory.close_views()   # mapped files get their changed pages back
        process.handles.close_all()
        self.current_thread = caller
        self.console_device.process_exited(process.pid)
        for server in self.smss.running_servers():
            if process.pid in server.clients and hasattr(server, "client_died"):
                server.client_died(process.pid)
        process.signalled = True
        self.dispatcher.signal(process)
        self.exited.append(process)
        # The personality hears of the exit after the waiters are woken, so a parent
        # in wait4 finds the zombie before the SIGCHLD it is then sent, as on Linux.
        hook = getattr(process.personality, "on_process_exit", None)
        if hook is not None:
            hook(process)
        if self.tracer.enabled:
            self.tracer.note(self.current_thread, KERNEL, "PspExitProcess",
                             {"ProcessId": process.pid, "ExitStatus": status,
                              "Subsystem": process.subsystem, "Server": process.is_server,
                              **({"Note": process.exit_note} if process.exit_note else {}),
                              **({"Reason": process.exit_reason} if process.exit_reason else {})},
                             pid=process.pid)

    def random_bytes(self, count: int) -> bytes:
        if self._random is None:
            return os.urandom(count)
        return self._random.randbytes(count)

    def instructions_executed(self) -> int:
        return sum(p.retired_instructions + (p.cpu.instructions if p.cpu is not None else 0)
                   for p in self.processes.values())

    def guest_processes(self) -> list[Process]:
        return [p for p in self.processes.values() if not p.is_server]

    def live_guest_processes(self) -> list[Process]:
        return [p for p in self.processes.values() if not p.is_server and p.alive]

    def run(self) -> str:
        """Run until every guest process has exited (or a deadlock)."""
        # Asked before every quantum, and the process table keeps every process that ever
        # ran: stop at the first live one rather than list them all, looking from the
        # newest (the servers and the finished are the oldest).
        processes = self.processes
        return self.dispatcher.run(lambda: not any(
            p.alive and not p.is_server for p in reversed(processes.values())))
