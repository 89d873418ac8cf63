"""SMSS, the session manager: the first user-mode process, and the starter of subsystems.

At boot SMSS reads the registry key `...\\Session Manager\\SubSystems`: servers listed as
*Required* (Windows, i.e. CSRSS) start at once; *Optional* ones (Posix, Os2) start the
first time a program needs them (`SmLoadDeferedSubsystem`, spelled as NT spells it).
Each subsystem has at most one server per session.

The kernel knows no subsystem by name: whoever builds the machine registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..trace import KERNEL
from .lpc import ApiRow, LpcServer, PortMessage
from .status import STATUS_OBJECT_NAME_NOT_FOUND, NtStatusError

if TYPE_CHECKING:
    from .kernel import Kernel
    from .processes import Process

SmApiLoadDeferedSubsystem = 5


@dataclass
class SubsystemEntry:
    name: str
    factory: Callable[[Kernel], LpcServer]
    required: bool
    server: LpcServer | None = None


class SessionManager(LpcServer):
    name = "smss"
    image_name = "smss.exe"
    port_name = "\\SmApiPort"

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.subsystems: dict[str, SubsystemEntry] = {}

    def register_subsystem(self, name: str, factory: Callable[[Kernel], LpcServer],
                           required: bool = False) -> None:
        """A value under the SubSystems key: Required (boot) or Optional (on demand)."""
        self.subsystems[name.casefold()] = SubsystemEntry(name, factory, required)

    def start(self, parent: Process | None) -> None:
        super().start(parent)
        caller = self.kernel.current_thread
        self.kernel.current_thread = self.thread
        try:
            for entry in self.subsystems.values():
                if entry.required:
                    self._start(entry)
        finally:
            self.kernel.current_thread = caller

    def _start(self, entry: SubsystemEntry) -> LpcServer:
        server = entry.factory(self.kernel)
        server.start(self.process)
        entry.server = server
        if self.kernel.tracer.enabled:
            self.kernel.tracer.note(self.thread, KERNEL, "SmStartSubsystem",
                                    {"Subsystem": entry.name, "Server": server.image_name,
                                     "ProcessId": server.process.pid,
                                     "Port": server.port_name})
        return server

    def load_deferred_subsystem(self, name: str) -> LpcServer:
        """SmLoadDeferedSubsystem: start an Optional subsystem's server on first use."""
        entry = self.subsystems.get(name.casefold())
        if entry is None:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, f"no subsystem {name}")
        if entry.server is None:
            caller = self.kernel.current_thread
            self.kernel.current_thread = self.thread
            try:
                self._start(entry)
            finally:
                self.kernel.current_thread = caller
        return entry.server

    def server(self, name: str) -> LpcServer | None:
        entry = self.subsystems.get(name.casefold())
        return entry.server if entry else None

    def running_servers(self) -> list[LpcServer]:
        return [e.server for e in self.subsystems.values() if e.server is not None]

    def _load_deferred(self, message: PortMessage) -> int:
        return self.load_deferred_subsystem(message.body["Subsystem"]).process.pid

    api = (ApiRow(SmApiLoadDeferedSubsystem, "SmLoadDeferedSubsystem", _load_deferred,
                  ("Subsystem",)),)
