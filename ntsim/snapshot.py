"""What the machine looks like at one moment: immutable, for another thread to show.

A snapshot is built by the thread that owns the machine (controller.py), at a safe point,
and holds only plain values — frozen dataclasses, tuples and bytes — so a user interface
may keep it, compare it with the last one and draw it while the machine runs on. Nothing
here changes the machine: memory is read the way the kernel reads it (a page the guest
never touched reads as zeros and stays untouched), registers of a thread that does not
hold its processor come from the context saved for it.

Everything is found the generic way, so that a personality added later appears without a
change here: processes from the kernel's process table, the server a process belongs to
from the LPC ports it is connected to, processor modes from each process's processor, each
personality's call table from `Personality.call_table()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .kernel.cpu import LONG_MODE, MODES, PROTECTED_MODE_16, PROTECTED_MODE_32, REAL_MODE


@dataclass(frozen=True)
class ThreadSnapshot:
    tid: int
    state: str
    wait_reason: str
    mode: str                                  # the processor mode its registers are in
    registers: tuple[tuple[str, int], ...]     # in the mode's own names and order
    pc: int                                    # IP/EIP/RIP
    linear_pc: int                             # CS base + PC
    host: bool                                 # a server thread running host code

    def register(self, name: str) -> int | None:
        return dict(self.registers).get(name)


@dataclass(frozen=True)
class VadSnapshot:
    base: int
    size: int
    reserved: int
    committed: int
    touched: int
    protect: int
    tag: str


@dataclass(frozen=True)
class HandleSnapshot:
    handle: int
    type: str
    description: str


@dataclass(frozen=True)
class ProcessSnapshot:
    pid: int
    parent: int | None
    name: str
    personality: str
    servers: tuple[str, ...]          # the server processes it is connected to by LPC
    is_server: bool
    alive: bool
    exit_status: int | None
    mode: str
    threads: tuple[ThreadSnapshot, ...]
    vads: tuple[VadSnapshot, ...]
    handles: tuple[HandleSnapshot, ...]
    reserved: int
    committed: int
    touched: int
    instructions: int

    @property
    def server(self) -> str:
        return ", ".join(self.servers)


@dataclass(frozen=True)
class MessageSnapshot:
    message_id: int
    api: str
    client_pid: int
    travel: str


@dataclass(frozen=True)
class PortSnapshot:
    name: str
    server_pid: int
    server: str
    queued: tuple[MessageSnapshot, ...]
    clients: int


@dataclass(frozen=True)
class CallTableRow:
    number: int
    name: str
    arguments: tuple[str, ...]
    level: str


@dataclass(frozen=True)
class ScreenSnapshot:
    columns: int
    rows: int
    cells: bytes                      # (character, attribute) pairs, as at B800:0000
    cursor: tuple[int, int]
    version: int


@dataclass(frozen=True)
class MachineSnapshot:
    state: str
    stop: Any                                   # controller.Stop (frozen) or None
    processes: tuple[ProcessSnapshot, ...]
    ports: tuple[PortSnapshot, ...]
    call_tables: tuple[tuple[str, tuple[CallTableRow, ...]], ...]
    breakpoints: tuple[Any, ...]
    screen: ScreenSnapshot | None
    clock_ns: int
    instructions: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def process(self, pid: int) -> ProcessSnapshot | None:
        return next((p for p in self.processes if p.pid == pid), None)


@dataclass(frozen=True)
class Instruction:
    address: int
    size: int
    mnemonic: str
    operands: str
    data: bytes


def _registers(process, thread) -> tuple[tuple[tuple[str, int], ...], int, int]:
    """A thread's registers in its process's mode: from the processor if the thread holds
    it, else from the context saved when it last gave the processor up."""
    cpu = process.cpu
    mode = cpu.mode
    from .kernel.cpu import REGISTERS
    if cpu.loaded_thread is thread or thread.context is None:
        values = tuple((name, cpu.read_register(name)) for name in mode.registers)
        return values, cpu.pc, cpu.linear_pc
    context = thread.context
    values = []
    for name in mode.registers:
        try:
            value = context.reg_read(REGISTERS[name])
        except Exception:          # noqa: BLE001 - a register the context cannot give
            continue
        values.append((name, value[0] if isinstance(value, tuple) else value))
    found = dict(values)
    pc = found.get({LONG_MODE: "rip", PROTECTED_MODE_32: "eip"}.get(mode.name, "ip"), 0)
    linear = pc
    if mode.name == REAL_MODE:
        linear = ((found.get("cs", 0) & 0xFFFF) << 4) + (pc & 0xFFFF)
    return tuple(values), pc, linear


def _thread(process, thread) -> ThreadSnapshot:
    wait = thread.wait.reason if thread.wait is not None else ""
    if thread.is_host_thread or process.cpu is None:
        return ThreadSnapshot(thread.tid, str(thread.state), wait, "host", (), 0, 0, True)
    registers, pc, linear = _registers(process, thread)
    return ThreadSnapshot(thread.tid, str(thread.state), wait, process.cpu.mode.name,
                          registers, pc, linear, False)


def _lpc_servers(kernel) -> list:
    smss = getattr(kernel, "smss", None)
    if smss is None:
        return []
    return [smss, *smss.running_servers()]


def _servers(process, servers=()) -> tuple[str, ...]:
    """The server processes `process` is a client of: by the servers' own client lists
    (a console client's connection is made by the console driver for it), and by the
    client ports in its handle table."""
    found = [s.process.name for s in servers
             if process.pid in getattr(s, "clients", {}) and s.process is not process]
    console = next((s for s in servers if getattr(s, "port_name", "") == "\\Windows\\ApiPort"), None)
    if console is not None and console.process.name not in found and not process.is_server \
            and any("\\Device\\ConDrv" in _describe(e.object)
                    for e in list(process.handles.entries.values())):
        found.append(console.process.name)     # a console client: its console is CSRSS's
    for _, entry in list(process.handles.entries.items()):
        port = entry.object
        if getattr(port, "type_name", "") == "Port" and getattr(port, "kind", "") == "client":
            owner = port.connection_port.owner
            if owner is not None and owner is not process and owner.name not in found:
                found.append(owner.name)
    return tuple(found)


def _vads(process) -> tuple[tuple[VadSnapshot, ...], int]:
    memory = process.memory
    if memory is None:
        return (), 0
    out = []
    try:
        touched_of = memory.touched_pages
        for vad in memory.vads:
            try:
                touched = touched_of(vad) * 4096
            except Exception:      # noqa: BLE001 - a detached address space
                touched = 0
            out.append(VadSnapshot(vad.base, vad.size, vad.size, len(vad.committed) * 4096,
                                   touched, vad.protect, vad.tag))
    except Exception:              # noqa: BLE001
        pass
    return tuple(out), 0


def _process(process, servers=()) -> ProcessSnapshot:
    vads, _ = _vads(process)
    handles = tuple(HandleSnapshot(h, e.object.type_name, _describe(e.object))
                    for h, e in list(process.handles.entries.items()))
    threads = tuple(_thread(process, t) for t in process.threads
                    if process.cpu is not None or t.is_host_thread)
    personality = getattr(process.personality, "name", "") or process.subsystem
    mode = process.cpu.mode.name if process.cpu is not None else ("host" if process.is_server else "")
    instructions = process.retired_instructions + (process.cpu.instructions if process.cpu else 0)
    try:
        touched = process.touched_bytes
    except Exception:              # noqa: BLE001
        touched = 0
    return ProcessSnapshot(
        process.pid, process.parent.pid if process.parent is not None else None, process.name,
        str(personality), _servers(process, servers), bool(process.is_server), process.alive,
        process.exit_status, mode, threads, vads, handles, process.reserved_bytes,
        process.committed_bytes, touched, instructions)


def _describe(obj) -> str:
    try:
        return obj.describe()
    except Exception:              # noqa: BLE001
        return obj.type_name


def _ports(kernel) -> tuple[PortSnapshot, ...]:
    servers = _lpc_servers(kernel)
    out = []
    for server in servers:
        port = getattr(server, "port", None)
        if port is None:
            continue
        queued = tuple(MessageSnapshot(m.MessageId, _api_name(server, m),
                                       m.ClientId[0] if m.ClientId else 0, m.travel)
                       for m in list(port.queue))
        clients = len(getattr(server, "clients", {}))
        out.append(PortSnapshot(server.port_name, server.process.pid, server.process.name,
                                queued, clients))
    return tuple(out)


def _api_name(server, message) -> str:
    try:
        return server.api_name(message.ApiNumber)
    except Exception:              # noqa: BLE001
        return str(getattr(message, "ApiNumber", "?"))


def _call_tables(machine) -> tuple[tuple[str, tuple[CallTableRow, ...]], ...]:
    out = []
    for name, personality in list(machine.personalities.items()):
        try:
            rows = personality.call_table()
        except Exception:          # noqa: BLE001
            rows = []
        out.append((name, tuple(CallTableRow(r.number, r.name, tuple(r.arguments), r.level)
                                for r in rows)))
    return tuple(out)


def _screen(machine) -> ScreenSnapshot | None:
    screen = machine.console.screen
    if screen is None:
        return None
    return ScreenSnapshot(screen.columns, screen.rows, bytes(screen.cells),
                          (screen.cursor_row, screen.cursor_column), screen.version)


def take_snapshot(machine, state: str, stop: Any, breakpoints: tuple) -> MachineSnapshot:
    """Build a snapshot: in the machine's owner thread only."""
    kernel = machine.kernel
    servers = _lpc_servers(kernel)
    processes = tuple(_process(p, servers) for p in list(kernel.processes.values()))
    return MachineSnapshot(state, stop, processes, _ports(kernel), _call_tables(machine),
                           tuple(breakpoints), _screen(machine), kernel.clock.monotonic_ns(),
                           sum(p.instructions for p in processes))


_DISASSEMBLERS: dict[str, Any] = {}


def disassemble(process, address: int, count: int = 16) -> tuple[Instruction, ...]:
    """`count` instructions from `address` (linear) in the process's own mode: 16-bit
    code for a VDM or an OS/2 1.x program, 32 or 64-bit otherwise. Reads memory the
    side-effect-free way; stops at the first byte it cannot read."""
    import capstone

    cpu = process.cpu
    mode_name = cpu.mode.name if cpu is not None else LONG_MODE
    disassembler = _DISASSEMBLERS.get(mode_name)
    if disassembler is None:
        mode = {LONG_MODE: capstone.CS_MODE_64, PROTECTED_MODE_32: capstone.CS_MODE_32,
                PROTECTED_MODE_16: capstone.CS_MODE_16, REAL_MODE: capstone.CS_MODE_16}[mode_name]
        disassembler = _DISASSEMBLERS[mode_name] = capstone.Cs(capstone.CS_ARCH_X86, mode)
    code = _read(process, address, count * 15)
    out = []
    for insn in disassembler.disasm(code, address):
        out.append(Instruction(insn.address, insn.size, insn.mnemonic, insn.op_str, bytes(insn.bytes)))
        if len(out) >= count:
            break
    return tuple(out)


def _read(process, address: int, size: int) -> bytes:
    """As much of [address, address+size) as can be read, without touching anything."""
    memory = process.memory
    out = bytearray()
    while size > 0:
        chunk = min(size, 4096 - (address & 0xFFF))
        try:
            if memory is not None:
                data = memory.read(address, chunk)
            else:
                data = process.cpu.read(address, chunk)
        except Exception:          # noqa: BLE001 - unmapped: stop here
            break
        out += data
        address += chunk
        size -= chunk
    return bytes(out)


__all__ = ["MachineSnapshot", "ProcessSnapshot", "ThreadSnapshot", "VadSnapshot",
           "HandleSnapshot", "PortSnapshot", "MessageSnapshot", "CallTableRow",
           "ScreenSnapshot", "Instruction", "take_snapshot", "disassemble", "MODES"]
