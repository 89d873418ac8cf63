"""How Linux processes are born, change their image, and die: fork, clone, execve, wait.

fork is NtCreateProcessEx with the parent and no section — NT's native API kept exactly
this call for the POSIX subsystem, and WSL1 used it too: the child's address space is a
copy of the parent's, its handle table a copy of the parent's (so the child's fds name
the same file objects and share their positions), and its first thread starts from the
parent's registers with RAX = 0. A thread (clone with CLONE_THREAD) is NtCreateThreadEx
in the same process. Every process and thread is scheduled by ntsim's dispatcher in the
one host process: the host Python process is never forked.

execve replaces the image in place: same process, same pid, same fds (less the
close-on-exec ones), a new address space with the new program in it.

wait4 and waitid are waits on the children's process objects, which the kernel signals
when they exit (NtWaitForMultipleObjects, wait-any); a reaped child is gone for good.
"""

from __future__ import annotations

import struct

from unicorn.x86_const import UC_X86_REG_FS_BASE as FS_BASE
from unicorn.x86_const import UC_X86_REG_RAX as RAX
from unicorn.x86_const import UC_X86_REG_RIP as RIP
from unicorn.x86_const import UC_X86_REG_RSP as RSP

from ...kernel.dispatcher import WaitPending
from ...kernel.io import FILE_EXECUTE, FILE_OPEN, FILE_READ_DATA, SYNCHRONIZE, FileStatLxInformation
from ...kernel.processes import Event, Process, SynchronizationEvent
from ...kernel.services import NtCurrentProcess, NtCurrentThread
from ..base import ImageError
from . import elf, locks, ptrace, signals
from .errno import (
    E2BIG,
    EACCES,
    ECHILD,
    EINVAL,
    ELOOP,
    ENOENT,
    ENOEXEC,
    ENOMEM,
    EPERM,
    ESRCH,
    LinuxError,
)
from .files import close_fd, guest_path, signed32
from .lxfs import AT_FDCWD, S_IFMT, S_IFREG, lexical, nt_name
from .system import child_rusage
from .task import LinuxProcess, Task

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT = 0x1000, 0x2000, 0x4000, 0x8000
CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS = 0x10000, 0x20000, 0x40000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED = 0x100000, 0x200000, 0x400000
CLONE_UNTRACED, CLONE_CHILD_SETTID, CLONE_NEWCGROUP = 0x800000, 0x1000000, 0x2000000
CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_IO = (
    0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000, 0x80000000)
NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER \
    | CLONE_NEWPID | CLONE_NEWNET
CSIGNAL = 0xFF
SIGCHLD = 17

WNOHANG, WUNTRACED, WSTOPPED, WEXITED, WCONTINUED, WNOWAIT = 1, 2, 2, 4, 8, 0x01000000
WNOTHREAD, WALL, WCLONE = 0x20000000, 0x40000000, 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3
AT_EMPTY_PATH = 0x1000
MAX_INTERPRETER_DEPTH = 4      # Linux's BINPRM_MAX_RECURSION
MAX_IMAGE_SIZE = 256 << 20       # as machine.MAX_IMAGE_SIZE: no image is larger



# --- fork and clone ----------------------------------------------------------------------------


def child_context(task: Task, stack: int, tls: int | None):
    """The registers a new task starts with: the caller's, returning 0 from this call."""
    cpu = task.cpu
    registers = cpu.registers
    saved = cpu.save_context()
    syscall_address = registers.read(RIP)       # inside the trap RIP is still at `syscall`
    registers.write(RAX, 0)
    registers.write(RIP, syscall_address + 2)
    if stack:
        registers.write(RSP, stack)
    if tls is not None:
        registers.write(FS_BASE, tls)
    context = cpu.save_context()
    cpu.restore_context(saved)
    return context


def sys_fork(task: Task) -> int:
    return clone_process(task, SIGCHLD, 0, 0, 0, 0)


def sys_vfork(task: Task) -> int:
    return clone_process(task, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)


def sys_clone(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    if flags & NAMESPACES:
        raise LinuxError(EPERM, "namespaces are not modelled")
    if flags & CLONE_THREAD:
        if not flags & CLONE_SIGHAND or not flags & CLONE_VM:
            raise LinuxError(EINVAL, "CLONE_THREAD needs CLONE_SIGHAND and CLONE_VM")
        return clone_thread(task, flags, stack, parent_tid, child_tid, tls)
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise LinuxError(EINVAL, "CLONE_SIGHAND needs CLONE_VM")
    return clone_process(task, flags, stack, parent_tid, child_tid, tls)


def sys_clone3(task: Task, args: int, size: int) -> int:
    if size < 64:
        raise LinuxError(EINVAL, "clone_args too small")
    flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = struct.unpack(
        "<8Q", task.read(args, 64))
    if flags & CSIGNAL:
        raise LinuxError(EINVAL, "clone3 takes the exit signal separately")
    top = stack + stack_size if stack else 0
    return sys_clone(task, flags | (exit_signal & CSIGNAL), top, parent_tid, child_tid, tls)


def clone_process(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    """fork, vfork and the process flavour of clone. With CLONE_VM the child should share
    the parent's memory; ntsim gives it a copy, which is what vfork callers can observe
    (the parent sleeps until the child execs or exits), so posix_spawn works."""
    nt = task.nt
    lx = task.lx
    context = child_context(task, stack, tls if flags & CLONE_SETTLS else None)
    handle = nt.NtCreateProcessEx(NtCurrentProcess, True)
    child: Process = task.thread.process.handles.lookup(handle, Process)
    child_lx = lx.forked(child)
    child.data = child_lx
    child_lx.exit_signal = flags & CSIGNAL
    thread_handle = nt.NtCreateThreadEx(handle, context)
    child_thread = task.thread.process.handles.lookup(thread_handle)
    nt.NtClose(thread_handle)
    nt.NtClose(handle)
    child_task = Task(child_thread, child_lx, task.kernel)
    child_thread.data = child_task
    signals.inherit_on_fork(task, child_task)
    child.personality.attach_cpu(child)
    if flags & CLONE_CHILD_CLEARTID:
        child_task.tid_address = child_tid
    if flags & CLONE_CHILD_SETTID:
        child.memory.write(child_tid, child.pid.to_bytes(4, "little"))
    if flags & CLONE_PARENT_SETTID:
        task.write_u32(parent_tid, child.pid)
    lx.children.append(child)
    if task.ptrace is not None:
        ptrace.forked(task, child_task, flags)
    if flags & CLONE_VFORK:
        done = Event(event_type=SynchronizationEvent)
        child_lx.vfork_done = done
        raise WaitPending([done], lambda _status: child.pid, reason="vfork child to exec or exit")
    return child.pid


def clone_thread(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    """pthread_create: a new NT thread in the same process, on its own stack and TLS."""
    nt = task.nt
    context = child_context(task, stack, tls if flags & CLONE_SETTLS else None)
    thread_handle = nt.NtCreateThreadEx(NtCurrentProcess, context)
    thread = task.thread.process.handles.lookup(thread_handle)
    nt.NtClose(thread_handle)
    child_task = Task(thread, task.lx, task.kernel)
    thread.data = child_task
    signals.inherit_on_clone(task, child_task, shares_stack_memory=bool(flags & CLONE_VM))
    if flags & CLONE_CHILD_CLEARTID:
        child_task.tid_address = child_tid
    if flags & CLONE_CHILD_SETTID:
        task.write_u32(child_tid, child_task.linux_tid)
    if flags & CLONE_PARENT_SETTID:
        task.write_u32(parent_tid, child_task.linux_tid)
    return child_task.linux_tid


# --- exit ---------------------------------------------------------------------------------------


def sys_exit(task: Task, status: int) -> None:
    """Ends the calling thread; the process ends with its last thread. A joiner waiting
    on the thread's CLONE_CHILD_CLEARTID word is woken (how pthread_join works)."""
    if task.tid_address:
        try:
            task.write_u32(task.tid_address, 0)
            from .futex import wake

            wake(task, task.tid_address, 1)
        except LinuxError:
            pass
    task.nt.NtTerminateThread(NtCurrentThread, status & 0xFF)
    return None


def sys_exit_group(task: Task, status: int) -> None:
    """Ends every thread of the process: NtTerminateProcess."""
    task.nt.NtTerminateProcess(NtCurrentProcess, status & 0xFF)
    return None


def process_exited(process: Process) -> None:
    """The kernel ended a Linux process: stop its timer, wake a vfork parent, orphan its
    children, and tell the parent (SIGCHLD), or reap it at once if the parent ignores
    SIGCHLD (then no zombie is left, and its wait() finds none)."""
    lx: LinuxProcess = process.data
    if lx is None:
        return
    signals.process_exited(lx)
    ptrace.tracer_exited(lx)
    locks.process_exiting(process)
    if lx.vfork_done is not None:
        release_vfork_parent(process)
    for child in lx.children:
        if child.data is not None:
            child.data.orphaned = True
    parent = process.parent
    if parent is None or not parent.alive or not isinstance(parent.data, LinuxProcess) \
            or process not in parent.data.children:
        return
    if signals.children_reaped_automatically(parent.data):
        parent.data.children.remove(process)
    if lx.exit_signal:
        killed_by = getattr(process, "killed_by", None)
        signals.send_signal(parent, lx.exit_signal,
                            code=signals.CLD_KILLED if killed_by else signals.CLD_EXITED,
                            pid=process.pid, uid=lx.uid,
                            status=killed_by or process.exit_status & 0xFF)


def release_vfork_parent(process: Process) -> None:
    lx: LinuxProcess = process.data
    done, lx.vfork_done = lx.vfork_done, None
    if done is not None:
        done.signalled = True
        process.personality.kernel.dispatcher.signal(done)


# --- wait ---------------------------------------------------------------------------------------


def wait_status(child: Process, job: tuple[int, int] | None = None) -> int:
    """The status word wait4 stores: exit code << 8, or the signal that killed it; for a
    stop, the signal << 8 | 0x7f; for a continue, 0xffff."""
    if job is not None:
        code, signal = job
        return 0xFFFF if code == signals.CLD_CONTINUED else (signal << 8) | 0x7F
    signal = getattr(child, "killed_by", None)
    if signal:
        return signal & 0x7F
    return (child.exit_status & 0xFF) << 8


def _matching_children(task: Task, idtype: int, ident: int) -> list[Process]:
    children = task.lx.children
    if idtype == P_ALL:
        return list(children)
    if idtype == P_PID:
        return [c for c in children if c.pid == ident]
    if idtype == P_PGID:
        group = task.lx.pgid if ident == 0 else ident
        return [c for c in children if c.data is not None and c.data.pgid == group]
    raise LinuxError(EINVAL, f"idtype {idtype}")


def _wait(task: Task, idtype: int, ident: int, options: int, reap: bool, report,
          exited_too: bool = True) -> int:
    """The shared logic of wait4 and waitid: reap an exited child, or report one that
    stopped (WUNTRACED) or continued (WCONTINUED) since the last wait; or wait for one.
    `reap` false (WNOWAIT) leaves what was reported to be reported again."""
    wanted = {signals.CLD_STOPPED: options & WUNTRACED, signals.CLD_CONTINUED: options & WCONTINUED}

    def attempt(_status: int = 0) -> int:
        children = _matching_children(task, idtype, ident)
        # a tracer waits for its tracees too, children or not (ptrace.py); their stops
        # are reported whatever the options
        traced = [t for t in ptrace.tracees(task.lx)
                  if _matches(task, t.thread.process, idtype, ident)]
        for tracee in traced:
            stop = ptrace.stop_report(tracee)
            if stop is not None:
                if reap:
                    tracee.ptrace.report = None
                return report(tracee.thread.process, (signals.CLD_TRAPPED, stop >> 8))
        children += [t.thread.process for t in traced if t.thread.process not in children]
        if not children:
            raise LinuxError(ECHILD)
        held = [c for c in children if not c.alive and ptrace.held_by_tracer(task.lx, c)]
        exited = [c for c in children if not c.alive and c not in held] if exited_too else []
        if exited:
            exited.sort(key=lambda c: task.kernel.exited.index(c) if c in task.kernel.exited else 0)
            child = exited[0]
            if reap and child not in task.lx.children:      # a tracee, not a child
                ptrace.reaped(task.lx, child)
                return report(child)
            if reap:
                ptrace.reaped(task.lx, child)
                task.lx.children.remove(child)
                result = report(child)
                task.kernel.recycle_processor(child)     # nothing can look at it now
                return result
            return report(child)
        for child in children:
            job = child.data.job_report if child.alive and child.data is not None else None
            if job is not None and wanted[job[0]]:
                if reap:
                    child.data.job_report = None
                return report(child, job)
        if options & WNOHANG:
            return report(None)
        objects = [c for c in children if c not in held] if exited_too else []
        objects.append(ptrace.wait_event(task.lx))   # a child may become a tracee meanwhile
        if options & (WUNTRACED | WCONTINUED):
            objects += [signals.job_event(c.data) for c in children if c.alive and c.data is not None]
        raise WaitPending(objects, attempt, reason="a child to exit" if exited_too else "a child to stop")

    return attempt()


def _matches(task: Task, process: Process, idtype: int, ident: int) -> bool:
    if idtype == P_ALL:
        return True
    if idtype == P_PID:
        return process.pid == ident
    group = task.lx.pgid if ident == 0 else ident
    return process.data is not None and process.data.pgid == group


def sys_wait4(task: Task, pid: int, wstatus: int, options: int, rusage: int) -> int:
    pid = signed32(pid)
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE):
        raise LinuxError(EINVAL, f"options {options:#x}")
    if pid < -1:
        idtype, ident = P_PGID, -pid
    elif pid == -1:
        idtype, ident = P_ALL, 0
    elif pid == 0:
        idtype, ident = P_PGID, 0
    else:
        idtype, ident = P_PID, pid

    def report(child: Process | None, job: tuple[int, int] | None = None) -> int:
        if child is None:
            return 0
        if wstatus:
            task.write_u32(wstatus, wait_status(child, job))
        if rusage:
            task.write(rusage, child_rusage(task.kernel, child))
        return child.pid

    return _wait(task, idtype, ident, options, True, report)


def sys_waitid(task: Task, idtype: int, ident: int, infop: int, options: int, rusage: int) -> int:
    if not options & (WEXITED | WSTOPPED | WCONTINUED) or \
            options & ~(WNOHANG | WEXITED | WSTOPPED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE):
        raise LinuxError(EINVAL, f"options {options:#x}")

    def report(child: Process | None, job: tuple[int, int] | None = None) -> int:
        if infop:
            if child is None:
                task.write(infop, bytes(128))
            else:
                signal = getattr(child, "killed_by", None)
                if job is not None:
                    code, status = job
                else:
                    code, status = (CLD_KILLED, signal) if signal else (CLD_EXITED, child.exit_status & 0xFF)
                info = struct.pack("<iiii", SIGCHLD, 0, code, 0) + struct.pack(
                    "<iIi", child.pid, child.data.uid if child.data else 0, status)
                task.write(infop, info.ljust(128, b"\0"))
        if rusage:
            task.write(rusage, child_rusage(task.kernel, child) if child is not None else bytes(144))
        return 0

    idtype, ident = signed32(idtype), signed32(ident)
    if idtype == P_PIDFD:               # the process a pidfd names (lxcore.py)
        from .lxcore import pidfd_process

        idtype, ident = P_PID, pidfd_process(task, ident).pid
    return _wait(task, idtype, ident, options, not options & WNOWAIT, report,
                 exited_too=bool(options & WEXITED))


# --- process groups and sessions ----------------------------------------------------------------


def _linux_process(task: Task, pid: int) -> LinuxProcess:
    if pid == 0 or pid == task.lx.process.pid:
        return task.lx
    process = task.kernel.processes.get(pid)
    if process is None or not process.alive or not isinstance(process.data, LinuxProcess):
        raise LinuxError(ESRCH)
    return process.data


def sys_getpgid(task: Task, pid: int) -> int:
    return _linux_process(task, signed32(pid)).pgid


def sys_getpgrp(task: Task) -> int:
    return task.lx.pgid


def sys_setpgid(task: Task, pid: int, pgid: int) -> int:
    pid, pgid = signed32(pid), signed32(pgid)
    if pgid < 0:
        raise LinuxError(EINVAL)
    target = _linux_process(task, pid)
    if target is not task.lx and target.process not in task.lx.children:
        raise LinuxError(ESRCH, "not the caller or its child")
    if target.sid == target.process.pid or target.sid != task.lx.sid:
        raise LinuxError(EPERM, "a session leader, or in another session")
    target.pgid = pgid or target.process.pid
    return 0


def sys_getsid(task: Task, pid: int) -> int:
    return _linux_process(task, signed32(pid)).sid


def sys_setsid(task: Task) -> int:
    lx = task.lx
    pid = lx.process.pid
    if lx.pgid == pid:
        raise LinuxError(EPERM, "already a process group leader")
    lx.sid = lx.pgid = pid
    return pid


def sys_getppid(task: Task) -> int:
    parent = task.lx.process.parent
    if task.lx.orphaned or parent is None or not parent.alive or \
            not isinstance(parent.data, LinuxProcess):
        return 1     # re-parented to init, as Linux does with orphans
    return parent.pid


# --- execve -------------------------------------------------------------------------------------


# argv and environment strings spanning at most this much are read in one piece
ARG_SPAN_AT_ONCE = 256 * 1024


# Linux's limits on what execve copies (fs/exec.c): one string at most MAX_ARG_STRLEN
# bytes with its NUL; all of them, with their pointers, at most a quarter of the stack
# rlimit (and at least ARG_MAX). Past either: E2BIG, and the caller's image goes on.
MAX_ARG_STRLEN = 32 * 4096
ARG_MAX = 32 * 4096


def _argument_space(task: Task) -> int:
    stack = task.lx.rlimits.get(3, (8 << 20, 0))[0]
    return max(ARG_MAX, min(stack // 4, 6 << 20))


def _read_vector(task: Task, address: int, room: int | None = None) -> list[str]:
    """argv or envp: a NULL-terminated array of string pointers; E2BIG past `room` bytes
    (strings and pointers), or a string longer than MAX_ARG_STRLEN."""
    room = _argument_space(task) if room is None else room
    pointers: list[int] = []
    while address:
        if len(pointers) * 8 > room:
            raise LinuxError(E2BIG, f"more than {room:,} bytes of argument pointers")
        # The pointers up to the end of this page in one read, not one read each (execve
        # reads dozens); the next page only if the array goes on there.
        count = max(1, min(64, (0x1000 - (address & 0xFFF)) // 8))
        chunk = struct.unpack(f"<{count}Q", task.read(address, 8 * count))
        if 0 in chunk:
            pointers.extend(chunk[:chunk.index(0)])
            break
        pointers.extend(chunk)
        address += 8 * count
    strings = _read_strings(task, pointers)
    used = sum(len(text.encode("utf-8", "surrogateescape")) + 1 + 8 for text in strings)
    if used > room:
        raise LinuxError(E2BIG, f"{used:,} bytes of arguments and environment, more than "
                                f"{room:,} (a quarter of the stack limit)")
    return strings


def _read_strings(task: Task, pointers: list[int]) -> list[str]:
    """The strings themselves. A program's argv and environment usually lie side by side,
    so the span from the first to the last is read at once and each string is cut from
    it; one that runs past the span (the last, or a scattered layout) is read alone."""
    if not pointers:
        return []
    low, high = min(pointers), max(pointers)
    block = b""
    if high - low <= ARG_SPAN_AT_ONCE:
        try:
            block = task.read(low, high - low)
        except LinuxError:
            pass          # a hole between them: each string alone, as Linux copies them
    strings = []
    for pointer in pointers:
        offset = pointer - low
        end = block.find(b"\0", offset) if offset < len(block) else -1
        if end < 0 or end - offset >= MAX_ARG_STRLEN:
            text = task.read_string(pointer, MAX_ARG_STRLEN)
            if len(text.encode("utf-8", "surrogateescape")) >= MAX_ARG_STRLEN:
                raise LinuxError(E2BIG, f"an argument of {MAX_ARG_STRLEN:,} bytes or more")
            strings.append(text)
        else:
            strings.append(block[offset:end].decode("utf-8", "surrogateescape"))
    return strings


def _read_program(task: Task, path: str) -> bytes:
    """Open a program for execution: it must exist, not be a directory, and carry an
    execute bit the caller may use."""
    nt = task.nt
    handle = nt.NtCreateFile(nt_name(path), FILE_READ_DATA | FILE_EXECUTE | SYNCHRONIZE, FILE_OPEN, 0, 0)
    try:
        info = nt.NtQueryInformationFile(handle, FileStatLxInformation)
        if info.LxMode & S_IFMT != S_IFREG or not info.LxMode & 0o111:
            # a directory, a device, a FIFO, a socket, or no execute bit: EACCES
            raise LinuxError(EACCES, f"{path} is not executable")
        if info.EndOfFile > MAX_IMAGE_SIZE:
            raise LinuxError(ENOMEM, f"{path}: {info.EndOfFile:,} bytes, larger than any image "
                                     f"ntsim loads")
        return nt.NtReadFile(handle, max(info.EndOfFile, 1), 0) if info.EndOfFile else b""
    finally:
        nt.NtClose(handle)


def sys_execve(task: Task, path: int, argv: int, envp: int) -> int | None:
    return execute(task, AT_FDCWD, task.read_string(path), lambda: _read_vectors(task, argv, envp))


def _read_vectors(task: Task, argv: int, envp: int) -> tuple[list[str], list[str]]:
    """argv and envp, sharing one budget of argument space."""
    room = _argument_space(task)
    arguments = _read_vector(task, argv, room)
    used = sum(len(text.encode("utf-8", "surrogateescape")) + 9 for text in arguments)
    return arguments, _read_vector(task, envp, room - used)


def sys_execveat(task: Task, dirfd: int, path: int, argv: int, envp: int, flags: int) -> int | None:
    if flags & AT_EMPTY_PATH:
        raise LinuxError(EINVAL, "executing an open fd (AT_EMPTY_PATH) is not supported")
    return execute(task, signed32(dirfd), task.read_string(path), lambda: _read_vectors(task, argv, envp))


def execute(task: Task, dirfd: int, path: str, vectors) -> int | None:
    """Find the program (following #! lines), then replace the process's image. The
    arguments and environment (`vectors()`) are copied once the program is found, as
    Linux opens the file before it copies them: ENOENT before E2BIG."""
    if not path:
        raise LinuxError(ENOENT, "empty path")
    program = guest_path(task, dirfd, path)
    if lexical(program) in ("/proc/self/exe", f"/proc/{task.lx.process.pid}/exe"):
        # The magic link names the running program itself (busybox's sh re-executes
        # itself this way), even when it was loaded from outside the root.
        program, image = task.lx.exe, task.lx.image
    else:
        image = _read_program(task, program)
    argv, env = vectors()
    for _ in range(MAX_INTERPRETER_DEPTH + 1):
        if not image.startswith(b"#!"):
            break
        line = image[2:image.find(b"\n") if b"\n" in image[:256] else 256].decode("utf-8", "surrogateescape")
        interpreter, _, argument = line.strip().partition(" ")
        if not interpreter:
            raise LinuxError(ENOEXEC, "empty #! line")
        argv = [interpreter] + ([argument.strip()] if argument.strip() else []) + [path] + argv[1:]
        path = program = guest_path(task, AT_FDCWD, interpreter)
        image = _read_program(task, program)
    else:
        raise LinuxError(ELOOP, "too many #! interpreters")
    try:
        elf.check_header(image)
    except ImageError:
        raise LinuxError(ENOEXEC, f"{program}: not an executable this personality runs") from None
    task.lx.process.personality.replace_image(task, image, argv, env, program)
    if task.ptrace is not None and task.thread.process.alive:
        ptrace.exec_done(task)
    # A successful execve returns 0, in the new image (strace shows "= 0"; the new
    # program starts with RAX 0). If loading failed past the point of no return, the
    # process is dead and the call has no result.
    return 0 if task.thread.process.alive else None


def close_on_exec(task: Task) -> None:
    for fd, entry in list(task.lx.fds.items()):
        if entry.cloexec:
            close_fd(task, fd)


__all__ = ["sys_fork", "sys_vfork", "sys_clone", "sys_clone3", "sys_exit", "sys_exit_group",
           "sys_wait4", "sys_waitid", "sys_execve", "sys_execveat", "sys_getpgid", "sys_getpgrp",
           "sys_setpgid", "sys_getsid", "sys_setsid", "sys_getppid", "process_exited"]
