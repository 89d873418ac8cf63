"""errno for POSIX programs: POSIX.1's error numbers, with the values psxdll.h fixes (Linux's).

A client stub or a PSXSS handler that fails raises `PosixError(ENOENT)`; an Nt* service
that fails raises NtStatusError, which becomes the errno POSIX.1 names for it. The guest
sees -1 (or NULL) and finds the number in its thread's errno (PSXDLL keeps it in the
TEB's LastErrorValue slot, where NT kept a Win32 thread's last error).

The numbers are Linux's (the header's choice), so the table of NTSTATUS -> errno is the
one LXSS keeps; POSIX.1-1990 names only the first 38 of them.
"""

from __future__ import annotations

from ...kernel.status import NtStatusError
from ..linux.errno import (  # noqa: F401  (re-exported: the POSIX.1 set)
    E2BIG,
    EACCES,
    EAGAIN,
    EBADF,
    EBUSY,
    ECHILD,
    EDEADLK,
    EDOM,
    EEXIST,
    EFAULT,
    EFBIG,
    EINTR,
    EINVAL,
    EIO,
    EISDIR,
    EMFILE,
    EMLINK,
    ENAMETOOLONG,
    ENFILE,
    ENODEV,
    ENOENT,
    ENOEXEC,
    ENOLCK,
    ENOMEM,
    ENOSPC,
    ENOSYS,
    ENOTDIR,
    ENOTEMPTY,
    ENOTTY,
    ENXIO,
    EPERM,
    EPIPE,
    ERANGE,
    EROFS,
    ESPIPE,
    ESRCH,
    EXDEV,
    errno_from_status,
    strerror,
)


class PosixError(Exception):
    """A POSIX call failed with `errno`. `result` is what the function returns then:
    -1 for most, 0 (NULL) for those returning a pointer (getcwd, opendir)."""

    def __init__(self, errno: int, detail: str = "", result: int = -1) -> None:
        super().__init__(detail or strerror(errno))
        self.errno = errno
        self.result = result


def posix_error(error: NtStatusError, result: int = -1) -> PosixError:
    """The POSIX error for a failed Nt* service."""
    return PosixError(errno_from_status(error.status) or EIO, error.detail or error.status.name, result)


def error_name(errno: int) -> str:
    import errno as host_errno

    return host_errno.errorcode.get(errno, f"E{errno}")
