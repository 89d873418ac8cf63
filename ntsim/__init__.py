"""ntsim: an educational emulator of Windows NT's subsystem architecture.

Real guest binaries run instruction by instruction under a modelled NT kernel; pluggable
personalities (LXSS for Linux, and more) translate each guest's API onto it.

    from ntsim import Machine
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use, so `ntsim --help` does not pay for unicorn.
    if name in ("Machine", "NotFound", "Deadlock", "StoppedAt"):
        from . import machine

        return getattr(machine, name)
    raise AttributeError(name)


__all__ = ["Machine", "NotFound", "Deadlock", "StoppedAt", "__version__"]
