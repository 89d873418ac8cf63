"""/proc, and the links in /dev that lead into it: files LXSS writes itself.

On Linux, /proc is a file system whose files the kernel generates when they are read:
`/proc/self/maps` is the process's memory map, `/proc/meminfo` the machine's memory.
Here the pico provider plays the kernel: these names never reach the NT volume, and each
file is generated from the NT model when it is opened (a process's VADs for `maps`, its
handle-backed fds for `fd/`, the memory manager's counters for `meminfo`), then read
like any file. WSL1's lxcore did the same with its own procfs.

The tree (for each live Linux process, by pid; `self` is a link to the caller's):

    /proc/{meminfo, cpuinfo, uptime, version, loadavg, mounts, self, thread-self}
    /proc/PID/{cmdline, environ, comm, stat, statm, status, maps, mounts, auxv}
    /proc/PID/mem                      the address space, read and written at addresses
    /proc/PID/{exe, cwd, root}         links
    /proc/PID/fd/N                     "magic" links: opening one reopens what fd N is
    /proc/PID/task/TID/...             the same files, per thread

/dev/fd, /dev/stdin, /dev/stdout and /dev/stderr are links into /proc/self/fd, as udev
makes them on Linux. Files are read-only, S_IFREG with size 0 and blocksize 1024, and
seek with SEEK_SET and SEEK_CUR only, as Linux's seq_file allows.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ...kernel.cpu import (
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE_WRITECOPY,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_WRITECOPY,
)
from ...kernel.io import FileStatLx
from ...kernel.memory import PAGE_SIZE
from ...kernel.services import DUPLICATE_SAME_ACCESS, NtCurrentProcess
from ...kernel.status import NtStatusError
from . import files, pipes, system, time
from .errno import (
    EACCES,
    EBADF,
    EEXIST,
    EINVAL,
    EIO,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENXIO,
    LinuxError,
)
from .fdtable import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    O_TRUNC,
    O_WRONLY,
    FdEntry,
    OpenFile,
)
from .identity import ALL_CAPS, CAP_DAC_OVERRIDE, capable, creds, process_creds
from .lxfs import S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, lexical
from .task import LinuxProcess, Task

PROC_SUPER_MAGIC = 0x9FA0
PROC_DEVICE = 0x16                  # st_dev 0:22, an anonymous device as procfs has
MAX_LINKS = 40
MAGIC_LINKS = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
               "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
DT_DIR, DT_REG, DT_LNK = 4, 8, 10
CPU_MODEL = "ntsim virtual x86-64 (unicorn)"


def claims(path: str) -> bool:
    """Is this (lexically normal) absolute path one ntsim answers itself?"""
    return (path == "/proc" or path.startswith("/proc/") or path in MAGIC_LINKS
            or path.startswith("/dev/fd/"))


# --- the tree ----------------------------------------------------------------------------------


@dataclass
class Node:
    """One name in /proc: a directory, a file, or a link."""

    path: str                                    # e.g. /proc/42/status
    kind: str                                    # "dir", "file", "link"
    owner: LinuxProcess | None = None            # the process it describes, if any
    content: Callable[[], bytes] | None = None   # a file's text, made when opened
    children: Callable[[], dict[str, Node]] | None = None
    target: Callable[[], str] | None = None      # a link's target
    fd: int | None = None                        # /proc/PID/fd/N: the fd it names
    mode: int | None = None                      # permission bits, where not the usual ones
    write: Callable[[bytes], int] | None = None  # what writing it does (comm renames)

    @property
    def inode(self) -> int:
        return zlib.crc32(self.path.encode()) | 1 << 32

    def child(self, name: str) -> Node:
        if self.kind != "dir":
            raise LinuxError(ENOTDIR, f"{self.path} is not a directory")
        found = self.children().get(name)
        if found is None:
            raise LinuxError(ENOENT, f"{self.path}/{name}")
        return found


def _file(path: str, owner, make: Callable[[], str | bytes], mode: int | None = None,
          write: Callable[[bytes], int] | None = None) -> Node:
    def content() -> bytes:
        value = make()
        return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return Node(path, "file", owner, content=content, mode=mode, write=write)


def root(task: Task) -> Node:
    kernel = task.kernel

    def children() -> dict[str, Node]:
        nodes = {str(p.pid): process_dir(task, p.data, f"/proc/{p.pid}")
                 for p in system.linux_processes(kernel)}
        nodes["self"] = Node("/proc/self", "link", target=lambda: str(task.pid))
        nodes["thread-self"] = Node("/proc/thread-self", "link",
                                    target=lambda: f"{task.pid}/task/{task.linux_tid}")
        nodes["mounts"] = Node("/proc/mounts", "link", target=lambda: "self/mounts")
        for name, make in (("meminfo", meminfo), ("cpuinfo", cpuinfo), ("uptime", uptime),
                           ("version", version), ("loadavg", loadavg), ("stat", kernel_stat)):
            nodes[name] = _file(f"/proc/{name}", None, lambda make=make: make(task))
        return nodes

    return Node("/proc", "dir", children=children)


def process_dir(task: Task, lx: LinuxProcess, path: str, tid: int | None = None) -> Node:
    def children() -> dict[str, Node]:
        nodes = {
            "exe": Node(f"{path}/exe", "link", lx, target=lambda: lx.exe),
            "cwd": Node(f"{path}/cwd", "link", lx, target=lambda: lx.cwd),
            "root": Node(f"{path}/root", "link", lx, target=lambda: "/"),
            "fd": Node(f"{path}/fd", "dir", lx, children=lambda: fd_links(lx, f"{path}/fd"), mode=0o500),
        }
        for name, make in (("cmdline", cmdline), ("stat", stat), ("statm", statm),
                           ("status", status), ("maps", maps), ("mounts", mounts)):
            nodes[name] = _file(f"{path}/{name}", lx, lambda make=make: make(task, lx))
        nodes["mem"] = Node(f"{path}/mem", "mem", lx, mode=0o600)
        nodes["auxv"] = _file(f"{path}/auxv", lx, lambda: lx.saved_auxv, mode=0o400)
        nodes["environ"] = _file(f"{path}/environ", lx, lambda: environ(task, lx), mode=0o400)
        nodes["comm"] = _file(f"{path}/comm", lx, lambda: comm(task, lx), mode=0o644,
                              write=lambda data: rename(lx, data))
        if tid is None:
            nodes["task"] = Node(f"{path}/task", "dir", lx, children=lambda: {
                str(t): process_dir(task, lx, f"{path}/task/{t}", t) for t in _tids(lx)})
        return nodes

    return Node(path, "dir", lx, children=children)


def _tids(lx: LinuxProcess) -> list[int]:
    return [getattr(t.data, "linux_tid", t.tid) for t in lx.process.threads if t.state != "terminated"]


def fd_links(lx: LinuxProcess, path: str) -> dict[str, Node]:
    return {str(fd): Node(f"{path}/{fd}", "link", lx, target=lambda fd=fd: describe_fd(lx, fd), fd=fd)
            for fd, _ in lx.fds.items()}


def describe_fd(lx: LinuxProcess, fd: int) -> str:
    """What readlink shows for /proc/PID/fd/N: the path, or pipe:[inode] and the like."""
    entry = lx.fds.get(fd)
    if entry.file.kind == "console":
        # a real terminal is a pty; a redirected stream is the host's pipe or file,
        # which the guest sees as a pipe (fstat says S_IFIFO)
        handle = lx.process.handles.lookup(entry.handle)
        return "/dev/pts/0" if handle.device.get_mode(handle)["is_terminal"] else f"pipe:[{entry.handle}]"
    return entry.file.path


# --- walking -----------------------------------------------------------------------------------


def resolve(task: Task, path: str, follow: bool) -> Node | str:
    """The node an absolute path names, following links on the way (and the last one
    too if `follow`). If a link leads out of /proc — /proc/self/cwd/x — the answer is
    that path, for the caller to open as usual."""
    hops = 0
    path = lexical(path)
    while True:
        for link, target in MAGIC_LINKS.items():
            if path == link and not follow:
                return Node(link, "link", target=lambda target=target: target)
            if path == link or path.startswith(link + "/"):
                path = target + path[len(link):]
                break
        if not claims(path):
            return path
        parts = [p for p in path.split("/")[2:] if p]
        node = root(task)
        restart = None
        for index, name in enumerate(parts):
            node = node.child(name)
            last = index == len(parts) - 1
            if node.kind == "link" and (not last or follow):
                if node.fd is not None and last:
                    return node                  # a magic link: the caller opens the fd's file
                hops += 1
                if hops > MAX_LINKS:
                    raise LinuxError(ELOOP, path)
                target = node.target()
                if not target.startswith("/"):
                    if node.fd is not None:      # pipe:[N] and the like name no directory
                        raise LinuxError(ENOTDIR, f"{node.path} -> {target}")
                    target = "/proc/" + "/".join(parts[:index]) + "/" + target
                restart = lexical("/".join([target, *parts[index + 1:]]))
                break
        if restart is None:
            return node
        path = restart


# --- what the calls do with a node -------------------------------------------------------------


def node_stat(task: Task, node: Node) -> FileStatLx:
    """Directories 0555, files 0444 with size 0, links 0777, owned by the process they
    describe (by root for the rest), as procfs shows them."""
    mode = {"dir": S_IFDIR | 0o555, "file": S_IFREG | 0o444, "link": S_IFLNK | 0o777,
            "mem": S_IFREG | 0o600}[node.kind]
    if node.mode is not None:
        mode = mode & S_IFMT | node.mode
    if node.owner is not None:
        own = process_creds(node.owner)
        uid, gid = own.euid, own.egid
        start = node.owner.process.create_time_ns
    else:
        uid = gid = start = 0
    now = task.kernel.clock.now_ns() - task.kernel.clock.monotonic_ns() + start
    links = 2 + sum(1 for n in node.children().values() if n.kind == "dir") if node.kind == "dir" else 1
    size = 0
    if node.fd is not None:
        # an fd's link shows how the fd was opened: r-x for reading, -wx for writing
        access = node.owner.fds.get(node.fd).file.flags & O_ACCMODE
        mode = S_IFLNK | (0o500 if access != O_WRONLY else 0) | (0o300 if access != O_RDONLY else 0)
        size = 64
    return FileStatLx(FileId=node.inode, CreationTime=0, LastAccessTime=0, LastWriteTime=0,
                      ChangeTime=0, AllocationSize=0, EndOfFile=size, FileAttributes=0,
                      NumberOfLinks=links, LxMode=mode, LxUid=uid, LxGid=gid,
                      VolumeSerialNumber=PROC_DEVICE, AccessTimeNs=now, WriteTimeNs=now,
                      ChangeTimeNs=now, BlockSize=1024)


def stat_path(task: Task, path: str, follow: bool) -> FileStatLx:
    node = resolve(task, path, follow)
    if isinstance(node, str):
        return files.stat_of_path(task, files.AT_FDCWD, node, follow)
    if node.fd is not None and follow:
        if node.owner is not task.lx:
            raise LinuxError(EACCES, "another process's descriptors")
        return files.stat_of_fd(task, node.fd)
    return node_stat(task, node)


def open_path(task: Task, path: str, flags: int, mode: int, wants_directory: bool) -> int:
    node = resolve(task, path, not flags & O_NOFOLLOW)
    if isinstance(node, str):
        return files.open_file(task, files.AT_FDCWD, node + ("/" if wants_directory else ""), flags, mode)
    if node.fd is not None:
        return reopen(task, node, flags, mode)
    if flags & O_CREAT and flags & O_EXCL:
        raise LinuxError(EEXIST, f"{node.path} exists")
    if node.kind == "link":
        raise LinuxError(ELOOP, f"{node.path} is a link (O_NOFOLLOW)")
    if (flags & O_DIRECTORY or wants_directory) and node.kind != "dir":
        raise LinuxError(ENOTDIR, node.path)
    accmode = flags & O_ACCMODE
    if node.kind == "mem":
        return _open_mem(task, node, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), flags)
    if node.kind == "dir" and (accmode != O_RDONLY or flags & O_CREAT) and not flags & O_PATH:
        raise LinuxError(EISDIR, node.path)
    if accmode != O_RDONLY and not flags & O_PATH and not capable(task, CAP_DAC_OVERRIDE):
        mine = node.owner is not None and process_creds(node.owner).euid == creds(task).euid
        if node.write is None or not mine:
            raise LinuxError(EACCES, f"{node.path} is not writable")
    if node.mode is not None and node.mode & 0o077 == 0 and accmode != O_WRONLY and not flags & O_PATH:
        # owner-only files (environ): another user's process is not to be read
        if node.owner is not None and process_creds(node.owner).euid != creds(task).euid \
                and not capable(task, CAP_DAC_OVERRIDE):
            raise LinuxError(EACCES, f"{node.path} is its owner's only")
    kept = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)
    if node.kind == "dir":
        opened = OpenFile(node.path, kept, "procdir")
    else:
        opened = OpenFile(node.path, kept, "synthetic", synthetic=b"" if flags & O_PATH else node.content())
    return task.lx.fds.install(FdEntry(None, opened, bool(flags & O_CLOEXEC)))


# --- /proc/PID/mem: another process's memory as a file --------------------------------------


def _open_mem(task: Task, node: Node, kept: int, flags: int) -> int:
    """/proc/PID/mem: the process's address space, the offset an address (what gdb reads
    and writes a tracee through). Opening needs ptrace's access: the same user, or root."""
    owner = node.owner
    if not owner.process.alive:
        raise LinuxError(ENOENT, node.path)
    if creds(task).euid not in (0, process_creds(owner).euid):
        raise LinuxError(EACCES, f"{node.path}: another user's process")
    opened = OpenFile(node.path, kept, "procmem")
    opened.memory_of = owner
    return task.lx.fds.install(FdEntry(None, opened, bool(flags & O_CLOEXEC)))


def read_mem(entry: FdEntry, count: int, offset: int | None) -> bytes:
    """Read at an address; stops short at the first page that cannot be read (EIO if it
    is the first), as mem_rw does."""
    state = entry.file
    start = state.position if offset is None else offset
    memory = state.memory_of.process.memory
    if not state.memory_of.process.alive or memory is None:
        return b""
    data = b""
    address = start
    while len(data) < count:
        size = min(count - len(data), PAGE_SIZE - (address & (PAGE_SIZE - 1)))
        try:
            data += memory.read(address, size)
        except Exception:
            if not data:
                raise LinuxError(EIO, f"{address:#x} is not readable") from None
            break
        address += size
    if offset is None:
        state.position = start + len(data)
    return data


def write_mem(entry: FdEntry, data: bytes, offset: int | None) -> int:
    state = entry.file
    if state.flags & O_ACCMODE == O_RDONLY:
        raise LinuxError(EBADF, "not open for writing")
    start = state.position if offset is None else offset
    try:
        state.memory_of.process.memory.write(start, data)
    except Exception:
        raise LinuxError(EIO, f"{start:#x} is not writable") from None
    if offset is None:
        state.position = start + len(data)
    return len(data)


def write(task: Task, path: str, data: bytes) -> int:
    """write() on an open /proc file: what the file does with it, or EINVAL (the file
    has no write operation) as Linux answers."""
    node = resolve(task, path, False)
    if isinstance(node, str) or node.write is None:
        raise LinuxError(EINVAL, f"{path} cannot be written")
    return node.write(data)


def rename(lx: LinuxProcess, data: bytes) -> int:
    """Writing /proc/PID/comm: the first 15 bytes become the name, as written (a
    newline included), each write replacing the last."""
    lx.comm = data[:system.TASK_COMM_LEN - 1].decode("utf-8", "surrogateescape")
    return len(data)


def reopen(task: Task, node: Node, flags: int, mode: int) -> int:
    """Opening /proc/self/fd/N: a file or directory is opened again by what it is now
    called (a new open file description, with its own position and access), and a FIFO
    is opened again as a FIFO (its own end, waiting for the other side as any open
    does); a pipe, the console or a device gives another descriptor for the same open
    file."""
    if node.owner is not task.lx:
        raise LinuxError(EACCES, "another process's descriptors")
    entry = task.lx.fds.get(node.fd)
    kind = entry.file.kind
    if kind in ("file", "directory"):
        path = files.canonical_path(task, entry.handle)
        return files.open_file(task, files.AT_FDCWD, path, flags, mode)
    if kind in ("synthetic", "procdir"):
        return open_path(task, entry.file.path, flags, mode, kind == "procdir")
    if kind in ("null", "zero", "full", "random"):
        return files.open_file(task, files.AT_FDCWD, entry.file.path, flags, mode)
    if kind == "socket" and not flags & O_PATH:
        raise LinuxError(ENXIO, f"fd {node.fd} is a socket: it cannot be opened")
    if entry.node is not None and not flags & O_PATH:
        node = task.nt.NtDuplicateObject(NtCurrentProcess, entry.node, NtCurrentProcess,
                                         Options=DUPLICATE_SAME_ACCESS)
        return pipes.open_fifo(task, entry.file.path, node, flags)
    if flags & O_ACCMODE != entry.file.flags & O_ACCMODE and not flags & O_PATH:
        raise LinuxError(EACCES, f"fd {node.fd} is not open that way")
    return files.duplicate(task, node.fd, cloexec=bool(flags & O_CLOEXEC))


def entries(task: Task, path: str) -> list[tuple[int, str, int]]:
    """A /proc directory's listing for getdents: (inode, name, d_type), with . and .."""
    node = resolve(task, path, True)
    if isinstance(node, str) or node.kind != "dir":
        raise LinuxError(ENOTDIR, path)
    parent = path.rsplit("/", 1)[0] or "/"
    listing = [(node.inode, ".", DT_DIR), (zlib.crc32(parent.encode()) | 1 << 32, "..", DT_DIR)]
    for name, child in node.children().items():
        listing.append((child.inode, name, {"dir": DT_DIR, "file": DT_REG, "link": DT_LNK, "mem": DT_REG}[child.kind]))
    return listing


# --- the files ---------------------------------------------------------------------------------


def cmdline(task: Task, lx: LinuxProcess) -> bytes:
    return b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in lx.argv)


def environ(task: Task, lx: LinuxProcess) -> bytes:
    return b"".join(e.encode("utf-8", "surrogateescape") + b"\0" for e in lx.env)


def comm(task: Task, lx: LinuxProcess) -> str:
    return system.comm_of(lx) + "\n"


def _parent_pid(lx: LinuxProcess) -> int:
    parent = lx.process.parent
    if getattr(lx, "orphaned", False) or parent is None or getattr(parent.data, "fds", None) is None:
        return 1
    return parent.pid


def _state(task: Task, lx: LinuxProcess) -> str:
    if lx is task.lx:
        return "R (running)"
    return "S (sleeping)" if all(t.state == "waiting" for t in lx.process.threads) else "R (running)"


def _memory(lx: LinuxProcess) -> dict[str, int]:
    """Bytes by what the process's VADs hold."""
    sizes = {"reserved": 0, "touched": 0, "stack": 0, "image": 0, "data": 0, "locked": 0}
    for vad in lx.process.memory.vads:
        sizes["reserved"] += vad.size
        sizes["touched"] += lx.process.memory.touched_pages(vad) * PAGE_SIZE
        committed = len(vad.committed) * PAGE_SIZE
        if vad.tag == "stack":
            sizes["stack"] += vad.size
        elif vad.tag == "image":
            sizes["image"] += committed
        else:
            sizes["data"] += committed
    sizes["locked"] = len(lx.locked_pages) * PAGE_SIZE
    return sizes


def stat(task: Task, lx: LinuxProcess) -> str:
    """/proc/PID/stat: 52 fields, the ones Linux tools read filled from the model."""
    process = lx.process
    ticks = 10**9 // system.USER_HZ
    sizes = _memory(lx)
    start = process.create_time_ns // ticks
    fields = [process.pid, f"({system.comm_of(lx)})", _state(task, lx)[0], _parent_pid(lx),
              lx.pgid, lx.sid, 0, -1, 0x400000, sizes["touched"] // PAGE_SIZE, 0, 0, 0,
              system.process_cpu_ns(task.kernel, process) // ticks, 0,
              system.children_cpu_ns(task.kernel, process) // ticks, 0,
              20 + lx.nice, lx.nice, len(process.threads), 0, start, sizes["reserved"],
              sizes["touched"] // PAGE_SIZE, (1 << 64) - 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
              getattr(lx, "exit_signal", 17), 0, 0, 0, 0, 0, 0, lx.brk_start, lx.brk, lx.brk_start,
              0, 0, 0, 0, 0]
    return " ".join(str(f) for f in fields) + "\n"


def statm(task: Task, lx: LinuxProcess) -> str:
    sizes = _memory(lx)
    pages = [sizes["reserved"], sizes["touched"], 0, sizes["image"], 0, sizes["data"] + sizes["stack"], 0]
    return " ".join(str(p // PAGE_SIZE) for p in pages) + "\n"


def _signal_sets(lx: LinuxProcess) -> tuple[int, int]:
    """(ignored, caught) from the recorded sigactions: a handler of 1 is SIG_IGN."""
    ignored = caught = 0
    for number, action in lx.signal_actions.items():
        try:
            handler = int.from_bytes(bytes(action)[:8], "little")
        except (TypeError, ValueError):
            continue
        if handler == 1:
            ignored |= 1 << (number - 1)
        elif handler:
            caught |= 1 << (number - 1)
    return ignored, caught


def status(task: Task, lx: LinuxProcess) -> str:
    process = lx.process
    own = process_creds(lx)
    sizes = _memory(lx)
    ignored, caught = _signal_sets(lx)
    blocked = task.signal_mask if lx is task.lx else 0
    kib = lambda n: f"{n // 1024:8d} kB"   # noqa: E731
    lines = [
        ("Name", system.comm_of(lx)), ("Umask", f"{lx.umask:04o}"), ("State", _state(task, lx)),
        ("Tgid", process.pid), ("Ngid", 0), ("Pid", process.pid), ("PPid", _parent_pid(lx)),
        ("TracerPid", 0), ("Uid", f"{own.ruid}\t{own.euid}\t{own.suid}\t{own.euid}"),
        ("Gid", f"{own.rgid}\t{own.egid}\t{own.sgid}\t{own.egid}"), ("FDSize", 64),
        ("Groups", " ".join(str(g) for g in own.groups) + " "), ("NStgid", process.pid),
        ("NSpid", process.pid), ("NSpgid", lx.pgid), ("NSsid", lx.sid),
        ("VmPeak", kib(sizes["reserved"])), ("VmSize", kib(sizes["reserved"])),
        ("VmLck", kib(sizes["locked"])), ("VmPin", kib(0)),
        ("VmHWM", kib(sizes["touched"])), ("VmRSS", kib(sizes["touched"])),
        ("RssAnon", kib(sizes["touched"])), ("RssFile", kib(0)), ("RssShmem", kib(0)),
        ("VmData", kib(sizes["data"])), ("VmStk", kib(sizes["stack"])),
        ("VmExe", kib(sizes["image"])), ("VmLib", kib(0)), ("VmPTE", kib(0)), ("VmSwap", kib(0)),
        ("Threads", len(process.threads)), ("SigQ", "0/63000"),
        ("SigPnd", f"{0:016x}"), ("ShdPnd", f"{0:016x}"), ("SigBlk", f"{blocked:016x}"),
        ("SigIgn", f"{ignored:016x}"), ("SigCgt", f"{caught:016x}"),
        ("CapInh", f"{own.inheritable:016x}"), ("CapPrm", f"{own.permitted:016x}"),
        ("CapEff", f"{own.effective:016x}"), ("CapBnd", f"{ALL_CAPS:016x}"), ("CapAmb", f"{0:016x}"),
        ("NoNewPrivs", int(own.no_new_privs)), ("Seccomp", 0),
        ("Cpus_allowed", "1"), ("Cpus_allowed_list", "0"),
        ("Mems_allowed", "1"), ("Mems_allowed_list", "0"),
        ("voluntary_ctxt_switches", 0), ("nonvoluntary_ctxt_switches", 0),
    ]
    return "".join(f"{name}:\t{value}\n" for name, value in lines)


PERMISSIONS = {PAGE_READONLY: "r--", PAGE_READWRITE: "rw-", PAGE_WRITECOPY: "rw-",
               PAGE_EXECUTE: "--x", PAGE_EXECUTE_READ: "r-x", PAGE_EXECUTE_READWRITE: "rwx",
               PAGE_EXECUTE_WRITECOPY: "rwx"}


def maps(task: Task, lx: LinuxProcess) -> str:
    """One line per run of pages with the same protection, from the process's VADs:
    image VADs name the program, the heap and stack VADs [heap] and [stack]; pages
    reserved but not committed are Linux's PROT_NONE (---p). There is no [vdso]: a pico
    process here has none."""
    image_device, image_inode = _identity_of(task, lx.exe)
    rows: list[list] = []      # [start, end, perms, offset, inode, name]
    for vad in lx.process.memory.vads:
        name, inode = {"image": (lx.exe, image_inode), "heap": ("[heap]", 0),
                       "stack": ("[stack]", 0)}.get(vad.tag, ("", 0))
        for start, end, protect in _pieces(vad):    # runs of pages, never page by page
            if vad.tag == "stack" and protect is None:
                continue    # Linux's stack grows into its rlimit; the room is not a mapping
            perms = PERMISSIONS.get(protect, "---") + "p"
            offset = start - vad.base if inode else 0
            last = rows[-1] if rows else None
            if last and last[1] == start and last[2] == perms and last[5] == name \
                    and (not inode or last[3] + (start - last[0]) == offset):
                last[1] = end
            else:
                rows.append([start, end, perms, offset, inode, name])
    lines = []
    for start, end, perms, offset, inode, name in rows:
        device = image_device if inode else "00:00"
        # Linux pads a named line so the names start in one column (seq_pad to 73)
        head = f"{start:08x}-{end:08x} {perms} {offset:08x} {device} {inode} "
        lines.append(head.ljust(72) + " " + name if name else head)
    return "".join(line + "\n" for line in lines)


def _pieces(vad):
    """(start, end, protection or None) covering a VAD: its committed runs and the
    reserved gaps between them."""
    cursor = vad.base
    for start, end, protect in vad.committed.slice(vad.base, vad.end).runs():
        if start > cursor:
            yield cursor, start, None
        yield start, end, protect
        cursor = end
    if cursor < vad.end:
        yield cursor, vad.end, None


def _identity_of(task: Task, path: str) -> tuple[str, int]:
    """("major:minor", inode) of the program's file, as stat shows them."""
    try:
        info = files.stat_of_path(task, files.AT_FDCWD, path, True)
    except (LinuxError, NtStatusError):   # the file is gone (renamed, deleted)
        return "00:00", 0
    serial = info.VolumeSerialNumber
    return f"{serial >> 8 & 0xFFF:02x}:{serial & 0xFF:02x}", info.FileId


def mounts(task: Task, lx: LinuxProcess) -> str:
    """The root on lxfs, /proc, and /dev (ntsim models devices there). WSL1 called the
    root's source "rootfs"; tools skip a mount of that name (the kernel's initial one),
    so here it is "lxfs"."""
    return ("lxfs / lxfs rw,noatime 0 0\n"
            "proc /proc proc rw,nosuid,nodev,noexec,noatime 0 0\n"
            "none /dev tmpfs rw,noatime,mode=755 0 0\n")


def meminfo(task: Task) -> str:
    total, used = system.memory_figures(task.kernel)
    free = total - used
    committed = system.committed_bytes(task.kernel)
    rows = [("MemTotal", total), ("MemFree", free), ("MemAvailable", free), ("Buffers", 0),
            ("Cached", 0), ("SwapCached", 0), ("Active", used), ("Inactive", 0),
            ("SwapTotal", 0), ("SwapFree", 0), ("Dirty", 0), ("AnonPages", used), ("Mapped", 0),
            ("Shmem", 0), ("CommitLimit", total), ("Committed_AS", committed),
            ("VmallocTotal", 34359738367 * 1024), ("VmallocUsed", 0), ("HugePages_Total", None),
            ("Hugepagesize", 2048 * 1024)]
    lines = []
    for name, value in rows:
        if value is None:
            lines.append(f"{name + ':':<16}{0:8d}\n")
        else:
            lines.append(f"{name + ':':<16}{value // 1024:8d} kB\n")
    return "".join(lines)


def cpuinfo(task: Task) -> str:
    """One processor: the dispatcher runs one guest thread at a time."""
    flags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm"
    lines = [("processor", 0), ("vendor_id", "GenuineIntel"), ("cpu family", 6), ("model", 0),
             ("model name", CPU_MODEL), ("stepping", 0), ("cpu MHz", "1000.000"),
             ("cache size", "0 KB"), ("physical id", 0), ("siblings", 1), ("core id", 0),
             ("cpu cores", 1), ("apicid", 0), ("fpu", "yes"), ("fpu_exception", "yes"),
             ("cpuid level", 1), ("wp", "yes"), ("flags", flags), ("bogomips", "2000.00"),
             ("clflush size", 64), ("cache_alignment", 64),
             ("address sizes", "48 bits physical, 48 bits virtual"), ("power management", "")]
    return "".join(f"{name}\t: {value}\n" for name, value in lines) + "\n"


def uptime(task: Task) -> str:
    seconds = task.kernel.clock.monotonic_ns() / 1e9
    return f"{seconds:.2f} {seconds * system.CPU_COUNT:.2f}\n"


def kernel_stat(task: Task) -> str:
    """/proc/stat: processor time in USER_HZ ticks (all of a guest's time counts as user
    time, as KERNEL_USER_TIMES does here; the rest of the uptime is idle), and the boot
    time that ps and uptime read (btime: the wall clock less the time since boot)."""
    kernel = task.kernel
    ticks = 10**9 // system.USER_HZ
    processes = system.linux_processes(kernel)
    # since boot: the processes that have ended count too
    busy = sum(system.process_cpu_ns(kernel, p) for p in kernel.processes.values()
               if p.personality is task.lx.process.personality) // ticks
    uptime_ns = kernel.clock.monotonic_ns()
    idle = max(0, uptime_ns // ticks - busy)
    boot_time = (time.now_ns(task, time.CLOCK_REALTIME) - uptime_ns) // 10**9
    running = sum(1 for p in processes for t in p.threads if t.state in ("ready", "running"))
    cpu = f"{busy} 0 0 {idle} 0 0 0 0 0 0"
    return (f"cpu  {cpu}\ncpu0 {cpu}\nintr 0\nctxt 0\nbtime {boot_time}\n"
            f"processes {len(kernel.processes)}\nprocs_running {max(1, running)}\n"
            f"procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n")


def version(task: Task) -> str:
    from .process import UTS_RELEASE
    return f"Linux version {UTS_RELEASE} (ntsim) #1 SMP ntsim (an NT subsystem, not a kernel)\n"


def loadavg(task: Task) -> str:
    processes = system.linux_processes(task.kernel)
    threads = sum(len(p.threads) for p in processes)
    return f"0.00 0.00 0.00 1/{threads} {max((p.pid for p in processes), default=0)}\n"

