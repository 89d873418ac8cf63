"""The Win32 subsystem's server, CSRSS: started at boot, owns the console."""

from .csrss import Csrss, HostConsole

__all__ = ["Csrss", "HostConsole"]
