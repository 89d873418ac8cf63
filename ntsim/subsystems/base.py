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

It talks to the kernel only through `kernel.services` (the Nt* table) and the kernel's
public objects. Third parties add one through the `ntsim.personalities` entry point
(see `examples/plugins/`), or, without installing anything, with `register(name, factory)`
(a test, a notebook, a script).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..kernel.cpu import Fault
    from ..kernel.processes import Process, Thread

SUPPORTED, PARTIAL, UNSUPPORTED = "supported", "partial", "unsupported"


class ImageError(Exception):
    """The image cannot be run: exit status 126, with this one-line message."""


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

    def probe(self, header: bytes) -> bool:
        raise NotImplementedError

    def describe(self, data: bytes) -> ImageInfo:
        raise NotImplementedError

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


def probe(header: bytes) -> Personality | None:
    """The first personality that claims the image: built-ins first (no entry-point scan
    on the common path), then registered ones, then installed plug-ins."""
    for name in _BUILTIN:
        personality = load(name)
        if personality.probe(header):
            return personality
    for name in _plugin_names():
        personality = load(name)
        if personality.probe(header):
            return personality
    return None
