"""Quotas: how much of the host one machine's guests may use.

NT charges every process's pool and page-file use to a quota block, and a job object
caps a group of processes (active processes, committed memory). ntsim's limits play
that part for the whole machine, so that a runaway or hostile guest — a fork bomb, a
thread bomb, a program touching gigabytes — meets the error its own system would give
it (EAGAIN, ENOMEM, EMFILE; STATUS_QUOTA_EXCEEDED, STATUS_NO_MEMORY) long before the
host runs short: the host's OOM killer, its 65,530 memory mappings per process (each
guest process costs ntsim about a dozen, for its unicorn engine), or its open files.

Every limit is a number on `Limits`; `ntsim run --help` and the README's Safety section
list them with their defaults.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field

MiB, GiB = 1 << 20, 1 << 30


def host_memory() -> int:
    """The host's physical memory in bytes (8 GiB if it cannot be found out)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * GiB


def default_max_memory() -> int:
    """A quarter of the host's memory, at most 16 GiB (the machine's RAM, physical.py)."""
    return max(256 * MiB, min(host_memory() // 4, 16 * GiB))


def host_open_files() -> int:
    """The open files the host lets ntsim have (its soft RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_open_files() -> int:
    """The guest's RLIMIT_NOFILE: Linux's usual 1024, or less when the host gives ntsim
    less (some of the host's descriptors stay for ntsim itself: the trace, the terminal)."""
    return max(16, min(1024, host_open_files() - 64))


MAPPINGS_PER_PROCESS = 16      # host memory mappings one guest process costs (measured: ~12)


def most_processes() -> int:
    """However large --max-processes is asked to be: guest processes whose engines fit
    in four fifths of the host's memory mappings (vm.max_map_count, 65,530 by default),
    the rest left for ntsim itself. Past it the host would kill ntsim (SIGSEGV)."""
    try:
        with open("/proc/sys/vm/max_map_count") as stream:
            mappings = int(stream.read())
    except (OSError, ValueError):
        mappings = 65530
    return max(16, mappings * 4 // 5 // MAPPINGS_PER_PROCESS)


# Each guest process costs ntsim a unicorn engine: about a dozen host memory mappings
# (the host allows 65,530 per process) and a translation buffer. 1,024 processes stay
# well under both; Linux's RLIMIT_NPROC is per user and usually far larger.
DEFAULT_MAX_PROCESSES = 1024
# Threads share their process's engine and cost ntsim a few KiB each.
DEFAULT_MAX_THREADS = 4096
DEFAULT_MAX_TRACE_SIZE = 1 * GiB


@dataclass
class Limits:
    """What one machine's guests may use, all of them together."""

    max_memory: int = field(default_factory=default_max_memory)   # bytes of guest pages touched
    max_processes: int = DEFAULT_MAX_PROCESSES     # guest processes alive or not yet reaped
    max_threads: int = DEFAULT_MAX_THREADS         # guest threads alive, in all processes
    max_open_files: int = field(default_factory=default_max_open_files)   # per process
    max_trace_size: int = DEFAULT_MAX_TRACE_SIZE   # bytes of --trace-file

    def __post_init__(self) -> None:
        # the guest can never be given more descriptors than the host gives ntsim, nor
        # more processes than the host's memory mappings can hold engines for
        self.max_open_files = max(3, min(self.max_open_files, host_open_files() - 16))
        self.max_processes = max(1, min(self.max_processes, most_processes()))


def parse_size(text: str) -> int:
    """'512M', '4G', '1.5GiB', '65536' -> bytes (for the command line)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = 1
    for suffix, factor in (("K", 1 << 10), ("M", MiB), ("G", GiB), ("T", 1 << 40)):
        if value.endswith(suffix):
            value, scale = value[:-1], factor
            break
    number = float(value)
    if number < 0:
        raise ValueError(f"{text}: a size cannot be negative")
    return int(number * scale)


def describe_size(count: int) -> str:
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if count >= factor:
            return f"{count / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{count} bytes"
