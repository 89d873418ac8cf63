"""LXSS: the WSL1 idea. x86-64 Linux programs as pico processes on the NT kernel.

A pico process has no NT DLLs in it and an address space its provider manages. Its
`syscall` instruction traps into the kernel, where this provider decodes the Linux call
and performs it with Nt* services directly — no LPC, no server process on the way.

Reading order for a student: `syscalls.py` (the table and the trap path), then the
handlers by topic — `files.py`, `memory.py`, `process.py`, `time.py`, `signals.py` —
then `elf.py` (how a program is loaded) and `lxfs.py` (Linux paths on the NT volume).
"""

from __future__ import annotations

import os
from typing import Any

from ...kernel.cpu import PAGE_NOACCESS, Fault
from ...kernel.io import (
    FILE_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
)
from ...kernel.memory import page_ceil, page_floor
from ...kernel.processes import Process, Thread, ThreadState
from ...kernel.services import DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ...kernel.status import NtStatusError
from ...trace import PERSONALITY, Quoted
from ..base import CallGate, ImageError, ImageInfo, Personality
from . import elf, signals, timers
from .fdtable import O_RDONLY, O_WRONLY, FdEntry, OpenFile
from .locks import LockTable
from .lxfs import nt_name
from .memory import past_end_of_file
from .process import host_ids, host_nice, host_umask
from .signals import SIGBUS, SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSYS, SIGTRAP
from .syscalls import call_rows, make_gate
from .task import LinuxProcess, Task


def _console_signal(event: int) -> int:
    # CTRL_C_EVENT, CTRL_BREAK_EVENT, and ntsim's CTRL_SUSPEND_EVENT (csrss.py)
    return {0: signals.SIGINT, 1: signals.SIGQUIT}.get(event, signals.SIGTSTP)



# The signal each processor exception sends a user-mode thread, as Linux's trap handlers
# (arch/x86/kernel/traps.c) send them: (signal, si_code, whether si_addr is the PC, what).
_EXCEPTIONS = {
    0: (SIGFPE, signals.FPE_INTDIV, True, "integer divide by zero"),
    1: (SIGTRAP, signals.TRAP_TRACE, True, "debug trap"),
    3: (SIGTRAP, signals.SI_KERNEL, False, "breakpoint (int3)"),
    6: (SIGILL, signals.ILL_ILLOPN, True, "invalid opcode"),
    13: (SIGSEGV, signals.SI_KERNEL, False, "general protection fault"),
    16: (SIGFPE, signals.SI_KERNEL, True, "x87 floating-point exception"),
    17: (SIGBUS, signals.SI_KERNEL, False, "alignment check"),
    19: (SIGFPE, signals.SI_KERNEL, True, "SIMD floating-point exception"),
}


def _exception_signal(number: int, pc: int) -> tuple[int, int, int, str]:
    """(signal, si_code, si_addr, what) for exception `number` at `pc`; an exception with
    no row (and `INT n` with no user gate) is a general protection fault."""
    signal, code, at_pc, what = _EXCEPTIONS.get(number, _EXCEPTIONS[13])
    return signal, code, pc if at_pc else 0, what


class LinuxPersonality(Personality):
    name = "lxss"
    description = "x86-64 Linux ELF programs as pico processes (the WSL1 design)"
    requires_execute_bit = True     # execve refuses a file without one (EACCES, exit 126)

    def __init__(self) -> None:
        self.kernel = None
        self.gate: CallGate | None = None           # every process's `syscall` trap
        # The console as a Linux terminal: its foreground process group, which Ctrl+C
        # signals. The first program started is in the foreground, as a shell leaves it;
        # a guest shell moves it with tcsetpgrp (TIOCSPGRP).
        self.console_foreground: int | None = None
        self.first_group: int | None = None        # the group of the program ntsim started
        self.locks = LockTable()                   # every file lock of the machine (locks.py)
        self.unix_names: dict = {}                 # bound AF_UNIX names -> endpoints (unix.py)
        self.unix_in_flight: dict = {}             # SCM_RIGHTS fds on their way (unix.py)
        self.shared_futexes = None                 # the keyed event of MAP_SHARED futexes (futex.py)

    # --- images -----------------------------------------------------------------------------

    def probe(self, header: bytes) -> bool:
        return header[:4] == elf.ELF_MAGIC

    def describe(self, data: bytes) -> ImageInfo:
        parsed = elf.parse(data)
        kind = parsed["e_type"]
        interpreter = elf.interpreter_of(data)
        segments = [
            {"type": s["p_type"], "vaddr": hex(s["p_vaddr"]), "memsz": hex(s["p_memsz"]),
             "flags": "".join(f for f, bit in (("R", 4), ("W", 2), ("X", 1)) if s["p_flags"] & bit)}
            for s in parsed.iter_segments() if s["p_type"] in ("PT_LOAD", "PT_INTERP", "PT_TLS", "PT_GNU_STACK")]
        linkage = ("dynamic (interpreter " + interpreter + ")" if interpreter
                   else "static-pie" if kind == "ET_DYN" else "static")
        return ImageInfo("ELF64 " + {"ET_EXEC": "executable", "ET_DYN": "shared object / PIE"}.get(kind, kind),
                         "x86-64", parsed["e_entry"], self.name,
                         {"linkage": linkage, "interpreter": interpreter or "none", "segments": segments})

    def call_table(self):
        return call_rows()

    # --- processes --------------------------------------------------------------------------

    def create_process(self, machine: Any, image: bytes, argv: list[str], env: list[str], *,
                       host_path: str, guest_path: str, parent: Process | None = None) -> Process:
        """A new pico process for a program: what the first execve of a Linux session
        does. Map the program, open the standard streams on the console, start a thread."""
        kernel = machine.kernel
        self.kernel = kernel
        if self.gate is None:
            self.gate = make_gate(kernel, getattr(machine, "interceptors", None))
        elf.read_layout(image)                 # refuse a bad image before making a process
        process = kernel.create_process(os.path.basename(guest_path) or "a.out", personality=self,
                                        parent=parent, image_path=guest_path, architecture="x86-64")
        thread = kernel.create_thread(process)
        uid, gid = host_ids()
        lx = LinuxProcess(process, exe=guest_path, argv=list(argv), env=list(env), uid=uid, gid=gid,
                          image=image, umask=host_umask(), nice=host_nice())
        process.data = lx
        # RLIMIT_NOFILE: Linux's usual soft 1,024, and never more than the machine's
        # --max-open-files (itself under what the host gives ntsim)
        most = kernel.limits.max_open_files
        lx.rlimits[7] = (min(1024, most), most)
        lx.fds.limit = min(1024, most)
        thread.data = Task(thread, lx, kernel)
        if self.console_foreground is None:
            self.console_foreground = self.first_group = lx.pgid
        caller = kernel.current_thread
        kernel.current_thread = thread         # the loader works inside the new process
        tracer = kernel.tracer
        event = tracer.open(thread, PERSONALITY, "execve", decoded={
            "pathname": Quoted(guest_path), "argv": argv}) if tracer.enabled else None
        try:
            self.load_image(thread.data, image, argv, env, guest_path)
            self._enter_start_directory(thread.data, getattr(machine, "start_directory", "/"))
            self._open_standard_streams(kernel, lx, getattr(machine, "console", None))
        except (ImageError, NtStatusError) as error:
            if event is not None:
                tracer.close(thread, event, -8, "ENOEXEC")
            kernel.current_thread = caller
            kernel.terminate_process(process, 126)
            if isinstance(error, NtStatusError):
                raise ImageError(f"cannot load {guest_path}: {error}") from None
            raise
        if event is not None:
            tracer.close(thread, event, 0)
        kernel.current_thread = caller
        self.attach_cpu(process)
        kernel.start_thread(thread)
        return process

    def load_image(self, task: Task, image: bytes, argv: list[str], env: list[str],
                   guest_path: str) -> None:
        """Map an ELF program (and its interpreter) into the task's empty address space,
        build the initial stack and point the registers at the entry."""
        kernel = task.kernel
        process = task.thread.process
        process.memory.highest = elf.STACK_TOP - 1     # Linux's TASK_SIZE, not NT's 8 TB
        loaded = elf.map_image(kernel.services, image, elf.PIE_BASE)
        if loaded.interpreter:
            self._load_interpreter(kernel, loaded)
        lx = task.lx
        lx.brk_start = lx.brk = page_ceil(loaded.brk)
        vdso = elf.map_vdso(kernel.services)
        stack = elf.build_stack(kernel.services, loaded, argv, env, guest_path,
                                kernel.random_bytes(16), (lx.uid, lx.uid, lx.gid, lx.gid), vdso)
        # mm->saved_auxv: the vector as exec laid it out, past argc, argv and envp
        start = stack + 8 * (len(argv) + len(env) + 3)
        words = process.memory.read(start, min(8 * 2 * 40, elf.STACK_TOP - start))
        end = next(i for i in range(0, len(words), 16) if not int.from_bytes(words[i:i + 8], "little"))
        lx.saved_auxv = words[:end + 16]
        cpu = process.cpu
        cpu.write_register("rsp", stack)
        cpu.pc = loaded.entry
        # The FPU as Linux starts a program (fninit; MXCSR default): unicorn starts with
        # every exception unmasked and all x87 registers marked in use.
        cpu.write_register("fpcw", 0x037F)
        cpu.write_register("fptag", 0xFFFF)
        cpu.write_register("mxcsr", 0x1F80)
        cpu.loaded_thread = task.thread
        task.thread.context = None

    def attach_cpu(self, process: Process) -> None:
        """Install the traps on a process's processor: `syscall`, and CPU exceptions."""
        from .ptrace import syscall_trap

        process.cpu.hook_syscall(syscall_trap(self.gate, process))
        process.cpu.hook_interrupt(self._on_interrupt)

    def replace_image(self, task: Task, image: bytes, argv: list[str], env: list[str],
                      guest_path: str) -> None:
        """execve after the point of no return: other threads end, close-on-exec fds
        close, caught signals reset, and a new address space gets the new program."""
        from .lifecycle import close_on_exec, release_vfork_parent

        kernel = task.kernel
        process = task.thread.process
        for thread in list(process.threads):
            if thread is not task.thread:
                kernel.dispatcher.terminate_thread(thread, 0)
        close_on_exec(task)
        signals.reset_on_exec(task)
        timers.delete_all(task.lx)
        kernel.new_address_space(process, "x86-64")
        task.cpu, task.memory = process.cpu, process.memory
        lx = task.lx
        lx.exe, lx.argv, lx.env, lx.image = guest_path, list(argv), list(env), image
        lx.comm = ""                           # the new program's name, as exec sets it
        lx.locked_pages = set()                # the old address space and its locks are gone
        process.name = os.path.basename(guest_path) or process.name
        process.image_path = guest_path
        try:
            self.load_image(task, image, argv, env, guest_path)
        except (ImageError, NtStatusError) as error:
            self.kill(task.thread, SIGSEGV, f"execve of {guest_path} failed after the point of no return: {error}")
            return
        # execve runs inside the `syscall` trap of the processor it just reset: the new
        # program starts at its entry once the trap returns (and the dispatcher decides
        # what runs next, as after any exec).
        process.cpu.resume_after_syscall_at(process.cpu.pc)
        process.cpu.request_stop()
        if lx.vfork_done is not None:
            release_vfork_parent(process)

    def on_console_control(self, event: int) -> bool:
        """Ctrl+C, Ctrl+Break and Ctrl+Z as Linux's terminal driver passes them on
        (n_tty's isig): SIGINT, SIGQUIT or SIGTSTP, from the kernel, to every process of
        the terminal's foreground process group. Ctrl+Z that would stop the program
        ntsim started is not taken: no guest could continue it (no guest shell runs it
        as a job), so the whole machine stops instead, as the program would natively."""
        if self.suspends_machine_on_console_control(event):
            return False
        group = self._foreground_group()
        for process in group:
            signals.send_signal(process, _console_signal(event), code=signals.SI_KERNEL)
        return bool(group)

    def suspends_machine_on_console_control(self, event: int) -> bool:
        """Ctrl+Z would stop the program ntsim started (the default action of SIGTSTP in
        the foreground group, which is still the first program's)."""
        group = self._foreground_group()
        return (_console_signal(event) == signals.SIGTSTP and bool(group) and all(
            p.data.pgid == self.first_group
            and signals.action_of(p.data, signals.SIGTSTP).handler == signals.SIG_DFL for p in group))

    def ends_on_console_control(self, process: Process, event: int) -> bool:
        """The signal's default action terminates, and some thread lets it through."""
        signal = _console_signal(event)
        return (signal != signals.SIGTSTP and process in self._foreground_group()
                and signals.action_of(process.data, signal).handler == signals.SIG_DFL
                and any(not t.data.signal_mask & signals.bit(signal) for t in process.threads
                        if t.state != ThreadState.TERMINATED and isinstance(t.data, Task)))

    def _foreground_group(self) -> list[Process]:
        return [p for p in self.kernel.processes.values() if p.alive and p.personality is self
                and isinstance(p.data, LinuxProcess) and p.data.pgid == self.console_foreground]

    def on_process_exit(self, process: Process) -> None:
        from .lifecycle import process_exited

        process_exited(process)

    def _load_interpreter(self, kernel, loaded: elf.LoadedImage) -> None:
        """PT_INTERP: read ld.so from the guest's root and map it beside the program."""
        nt = kernel.services
        try:
            handle = nt.NtCreateFile(nt_name(loaded.interpreter), FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN, 0, 0)
        except NtStatusError as error:
            raise ImageError(f"interpreter {loaded.interpreter} not found under the root "
                             f"({error.status.name}); run with --root / to use the host's") from None
        try:
            size = nt.NtQueryInformationFile(handle, 5).EndOfFile
            data = nt.NtReadFile(handle, size, 0)
        finally:
            nt.NtClose(handle)
        interpreter = elf.map_image(nt, data, elf.INTERPRETER_BASE)
        loaded.interpreter_base = interpreter.base
        loaded.entry = interpreter.entry

    def _enter_start_directory(self, task: Task, path: str) -> None:
        """The directory the first program starts in: `ntsim run` passes the host's current
        directory when it lies inside the root (or --cwd). Resolved as chdir resolves."""
        from .files import FILE_TRAVERSE, canonical_path, nt_open

        if path in ("", "/"):
            return
        try:
            handle = nt_open(task, path, FILE_TRAVERSE, FILE_OPEN, FILE_DIRECTORY_FILE)
        except NtStatusError as error:
            raise ImageError(f"cannot start in {path}: {error.status.name}") from None
        try:
            task.lx.cwd = canonical_path(task, handle)
        finally:
            task.nt.NtClose(handle)

    def _open_standard_streams(self, kernel, lx: LinuxProcess, console: Any = None) -> None:
        """fds 0, 1, 2: handles to the console device's three streams — or, where the host
        stream is a regular file inside the root (`< file`, `> file`, `>> file`), that
        file, opened on the volume: seekable, with its own inode, and its offset given
        back to the host's descriptor when the guest closes it (as a child of a shell
        shares the shell's open file description)."""
        nt = kernel.services
        seen: dict[tuple, FdEntry] = {}
        for fd, (stream, access, flags) in enumerate((("Input", FILE_READ_DATA, O_RDONLY),
                                                       ("Output", FILE_WRITE_DATA, O_WRONLY),
                                                       ("Error", FILE_WRITE_DATA, O_WRONLY))):
            name = f"/dev/std{('in', 'out', 'err')[fd]}"
            host_fd = console.fds[fd] if console is not None else None
            same = self._description_key(host_fd)
            if same is not None and same in seen:
                # `> f 2>&1`: one open file description on the host, so one here (a dup)
                first = seen[same]
                lx.fds.install(FdEntry(nt.NtDuplicateObject(NtCurrentProcess, first.handle, NtCurrentProcess,
                                                            Options=DUPLICATE_SAME_ACCESS), first.file), fd)
                continue
            redirected = self._redirected_file(kernel, host_fd) if host_fd is not None else None
            if redirected is not None:
                lx.fds.install(redirected, fd)
                seen[same] = redirected
                continue
            handle = nt.NtCreateFile(f"\\Device\\ConDrv\\{stream}", access | SYNCHRONIZE, FILE_OPEN)
            lx.fds.install(FdEntry(handle, OpenFile(name, flags, "console")), fd)

    @staticmethod
    def _description_key(host_fd: int | None) -> tuple | None:
        """What tells two host descriptors of one regular file apart: the same file, flags
        and offset are taken as one open file description (as `> f 2>&1` makes)."""
        import fcntl
        import stat as stat_module

        if host_fd is None:
            return None
        try:
            info = os.fstat(host_fd)
            if not stat_module.S_ISREG(info.st_mode):
                return None
            return (info.st_dev, info.st_ino, fcntl.fcntl(host_fd, fcntl.F_GETFL), os.lseek(host_fd, 0, os.SEEK_CUR))
        except OSError:
            return None

    @staticmethod
    def _redirected_file(kernel, host_fd: int) -> FdEntry | None:
        """An fd on the file a host stream was redirected to, if it is a regular file the
        guest may see (inside the root); None otherwise (the stream stays the console's)."""
        import fcntl
        import stat as stat_module

        from ...kernel.io import FILE_APPEND_DATA, FILE_SYNCHRONOUS_IO_NONALERT, FileObject
        from .fdtable import O_APPEND, O_RDWR

        try:
            info = os.fstat(host_fd)
            if not stat_module.S_ISREG(info.st_mode):
                return None
            host_flags = fcntl.fcntl(host_fd, fcntl.F_GETFL)
            position = os.lseek(host_fd, 0, os.SEEK_CUR)
            host_path = os.readlink(f"/proc/self/fd/{host_fd}")
        except OSError:
            return None
        path = kernel.volume.guest_path(host_path)
        if path is None or not os.path.exists(host_path) or os.stat(host_path).st_ino != info.st_ino:
            return None            # outside the root, or deleted or replaced since
        mode = host_flags & os.O_ACCMODE
        access = {os.O_RDONLY: FILE_READ_DATA, os.O_WRONLY: FILE_WRITE_DATA}.get(
            mode, FILE_READ_DATA | FILE_WRITE_DATA)
        flags = {os.O_RDONLY: O_RDONLY, os.O_WRONLY: O_WRONLY}.get(mode, O_RDWR)
        if host_flags & os.O_APPEND and mode != os.O_RDONLY:
            access = (access & ~FILE_WRITE_DATA) | FILE_APPEND_DATA
            flags |= O_APPEND
        nt = kernel.services
        try:
            handle = nt.NtCreateFile(nt_name(path), access | SYNCHRONIZE, FILE_OPEN,
                                     FILE_SYNCHRONOUS_IO_NONALERT, 0)
        except NtStatusError:
            return None
        file = kernel.current_thread.process.handles.lookup(handle, FileObject)
        file.position = position
        file.context.shares_offset_with = host_fd
        return FdEntry(handle, OpenFile(path, flags, "file"))

    # --- faults -----------------------------------------------------------------------------

    def _on_interrupt(self, uc, number: int, _data) -> None:
        """A processor exception or `INT n` in user mode becomes the signal Linux's trap
        handlers send (arch/x86/kernel/traps.c), delivered to the thread at once: to its
        handler if it has one, else the default action ends the process with a note."""
        thread = self.kernel.current_thread
        pc = thread.process.cpu.pc
        if number == 0x80:
            # An ABI this personality does not run: fail loudly rather than guess.
            self.kill(thread, SIGSYS, f"int 0x80 at pc {pc:#x}: the 32-bit system call ABI "
                                      "is not supported")
            return
        signal, code, addr, what = _exception_signal(number, pc)
        cpu = thread.process.cpu
        at = pc        # the instruction to name: a trap (INT3, INT n) leaves the PC past it
        try:
            if number == 3 and cpu.read(pc - 1, 1) == b"\xcc":
                at = pc - 1
            elif cpu.read(pc - 2, 2) == bytes((0xCD, number)):
                at = pc - 2
        except Exception:       # noqa: BLE001 - the bytes before the PC may be unmapped
            pass
        # `INT n` with no user gate in the IDT is a #GP whose error code names the vector.
        trapno, error = (number, 0) if number in _EXCEPTIONS else (13, number << 3 | 2)
        signals.force_fault(thread.data, signal, code, signals.AT_INSTRUCTION, addr=addr,
                            trapno=trapno, error_code=error,
                            detail=f"{what}: `{cpu.instruction_at(at)}` at pc {at:#x}")

    def on_fault(self, thread: Thread, fault: Fault) -> None:
        """The processor stopped on a fault (an unmapped or protected page, an invalid
        instruction): the thread gets SIGSEGV, SIGBUS or SIGILL with the fault's address,
        as Linux's page-fault and invalid-opcode handlers send them."""
        task = thread.data
        thread.process.cpu.pc = fault.pc          # the frame saves the faulting instruction
        if fault.kind == "invalid-instruction":
            signals.force_fault(task, SIGILL, signals.ILL_ILLOPN, signals.AT_INSTRUCTION,
                                addr=fault.pc, trapno=6,
                                detail=f"invalid instruction: `{thread.process.cpu.instruction_at(fault.pc)}` "
                                       f"at pc {fault.pc:#x}")
            return
        if fault.kind == "out-of-memory":
            # no frame for a page the guest touched: Linux's OOM killer ends it (SIGKILL)
            self.kill(thread, SIGKILL, f"{fault.detail} (touching {fault.address:#x}, pc {fault.pc:#x})")
            return
        if fault.vector is not None and fault.vector != 14:
            # a processor exception the run stopped on (#GP from port I/O, ...)
            signal, code, addr, what = _exception_signal(fault.vector, fault.pc)
            signals.force_fault(task, signal, code, signals.AT_INSTRUCTION, addr=addr,
                                trapno=fault.vector, error_code=fault.error_code or 0,
                                detail=f"{what}: `{thread.process.cpu.instruction_at(fault.pc)}` "
                                       f"at pc {fault.pc:#x}")
            return
        memory = thread.process.memory
        # SEGV_ACCERR if the address is in a mapping the access is not allowed on,
        # SEGV_MAPERR if nothing is mapped there. The page-fault error code says: the page
        # was present (given memory, and not PROT_NONE, whose pages Linux keeps
        # not-present), a write, from user mode, an instruction fetch.
        page = page_floor(fault.address)
        vad = memory.find(fault.address)
        mapped = vad is not None and page in vad.committed
        present = mapped and page in vad.mapped and vad.committed[page] & 0xFF != PAGE_NOACCESS
        error = (1 if present else 0) | (2 if fault.kind == "write" else 0) | 4 | \
            (16 if fault.kind == "fetch" else 0)
        if past_end_of_file(memory, fault.address):
            # a mapped file's pages stop at its end: touching beyond is SIGBUS, not SIGSEGV
            signals.force_fault(task, SIGBUS, signals.BUS_ADRERR, signals.AT_INSTRUCTION,
                                addr=fault.address, trapno=14, error_code=error,
                                detail=f"{fault.kind} past the end of a mapped file at "
                                       f"{fault.address:#x} (pc {fault.pc:#x})")
            return
        signals.force_fault(task, SIGSEGV, signals.SEGV_ACCERR if mapped else signals.SEGV_MAPERR,
                            signals.AT_INSTRUCTION, addr=fault.address, trapno=14, error_code=error,
                            detail=f"invalid {fault.kind} at {fault.address:#x} (pc {fault.pc:#x})")

    def kill(self, thread: Thread, signal: int, detail: str = "") -> None:
        """A signal's default action: the process dies, and its exit status says so
        (128+N). `detail` — what went wrong, for a fault — becomes the one-line note;
        a signal someone sent ends the process silently, as on Linux."""
        process = thread.process
        name = signals.signal_name(signal)
        process.killed_by = signal
        process.exit_reason = f"killed by {name}"
        self.kernel.terminate_process(process, 128 + signal,
                                      note=f"killed by {name}: {detail}" if detail else "")
