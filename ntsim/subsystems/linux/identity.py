"""Linux credentials: user and group ids, supplementary groups, capabilities.

A Linux process has a real, an effective and a saved user id (and the same for groups).
The effective id and the capabilities decide what it may do; the real and saved ids are
where an unprivileged process may switch back to. NT has no such thing: its tokens carry
SIDs and privileges. LXSS keeps the Linux credentials itself, per process, and checks
them where Linux would (chown, chmod, setuid...): lxcore did the same.

The guest starts as the user who runs ntsim, with that user's groups; root starts with
every capability, anyone else with none — as a Linux login without file capabilities.
`Credentials` is immutable: a change makes a new one, so a forked child that copied the
reference never sees its parent's later changes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace

from .errno import EFAULT, EINVAL, EPERM, ESRCH, LinuxError
from .task import LinuxProcess, Task

CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID = 0, 1, 2, 3, 4
CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_IPC_LOCK, CAP_SYS_ADMIN = 5, 6, 7, 14, 21
CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_MKNOD = 23, 24, 27
CAP_LAST_CAP = 40                                    # CAP_CHECKPOINT_RESTORE, Linux 5.9
ALL_CAPS = (1 << (CAP_LAST_CAP + 1)) - 1
NGROUPS_MAX = 65536
UNCHANGED = 0xFFFFFFFF                               # (uid_t)-1: "leave this id alone"
LINUX_CAPABILITY_VERSION_1, LINUX_CAPABILITY_VERSION_2 = 0x19980330, 0x20071026
LINUX_CAPABILITY_VERSION_3 = 0x20080522


@dataclass(frozen=True)
class Credentials:
    ruid: int
    euid: int
    suid: int
    rgid: int
    egid: int
    sgid: int
    groups: tuple[int, ...]
    effective: int           # capability sets, bit N = capability N
    permitted: int
    inheritable: int = 0
    keep_caps: bool = False           # PR_SET_KEEPCAPS: keep the permitted set when leaving uid 0
    no_new_privs: bool = False        # PR_SET_NO_NEW_PRIVS (nothing here grants privileges anyway)
    dumpable: bool = True             # PR_SET_DUMPABLE


def creds(task: Task) -> Credentials:
    """The caller's credentials (made on first use from the ids the process began with)."""
    return process_creds(task.lx)


def process_creds(lx: LinuxProcess) -> Credentials:
    if lx.creds is None:
        caps = ALL_CAPS if lx.uid == 0 else 0
        lx.creds = Credentials(lx.uid, lx.uid, lx.uid, lx.gid, lx.gid, lx.gid,
                               tuple(os.getgroups()), caps, caps)
    return lx.creds


def capable(task: Task, capability: int) -> bool:
    return bool(creds(task).effective >> capability & 1)


def in_group(task: Task, gid: int) -> bool:
    """Is `gid` the caller's effective group or one of its supplementary groups?"""
    own = creds(task)
    return gid == own.egid or gid in own.groups


def _change(task: Task, new: Credentials) -> int:
    """Install new credentials, with the capability rules of capabilities(7) for a
    process that is not in SECBIT_KEEP_CAPS mode: leaving euid 0 clears the effective
    set, leaving uid 0 everywhere clears the permitted set too, and returning to
    euid 0 restores the effective set from the permitted one."""
    old = creds(task)
    effective, permitted = new.effective, new.permitted
    if 0 in (old.ruid, old.euid, old.suid) and 0 not in (new.ruid, new.euid, new.suid):
        effective, permitted = 0, permitted if old.keep_caps else 0
    elif old.euid == 0 and new.euid != 0:
        effective = 0
    elif old.euid != 0 and new.euid == 0:
        effective = permitted
    task.lx.creds = replace(new, effective=effective, permitted=permitted)
    task.lx.uid, task.lx.gid = new.ruid, new.rgid     # what getuid/getgid read
    return 0


# --- reading them -----------------------------------------------------------------------------


def sys_geteuid(task: Task) -> int:
    return creds(task).euid


def sys_getegid(task: Task) -> int:
    return creds(task).egid


def _write_ids(task: Task, addresses: tuple[int, int, int], ids: tuple[int, int, int]) -> int:
    for address, value in zip(addresses, ids, strict=True):
        task.write_u32(address, value)
    return 0


def sys_getresuid(task: Task, ruid: int, euid: int, suid: int) -> int:
    own = creds(task)
    return _write_ids(task, (ruid, euid, suid), (own.ruid, own.euid, own.suid))


def sys_getresgid(task: Task, rgid: int, egid: int, sgid: int) -> int:
    own = creds(task)
    return _write_ids(task, (rgid, egid, sgid), (own.rgid, own.egid, own.sgid))


def sys_getgroups(task: Task, size: int, address: int) -> int:
    groups = creds(task).groups
    size &= 0xFFFFFFFF
    if size >= 1 << 31:
        raise LinuxError(EINVAL, "negative size")
    if size == 0:
        return len(groups)         # how many there are, nothing written
    if size < len(groups):
        raise LinuxError(EINVAL, f"{len(groups)} groups do not fit in {size}")
    task.write(address, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


# --- changing them ----------------------------------------------------------------------------


def _id(value: int) -> int:
    return value & 0xFFFFFFFF


def sys_setuid(task: Task, uid: int) -> int:
    """Privileged: all three ids. Otherwise only the effective id, and only to the real
    or saved one."""
    uid, own = _id(uid), creds(task)
    if uid == UNCHANGED:
        raise LinuxError(EINVAL)
    if capable(task, CAP_SETUID):
        return _change(task, replace(own, ruid=uid, euid=uid, suid=uid))
    if uid in (own.ruid, own.suid):
        return _change(task, replace(own, euid=uid))
    raise LinuxError(EPERM, f"setuid({uid}) without CAP_SETUID")


def sys_setgid(task: Task, gid: int) -> int:
    gid, own = _id(gid), creds(task)
    if gid == UNCHANGED:
        raise LinuxError(EINVAL)
    if capable(task, CAP_SETGID):
        return _change(task, replace(own, rgid=gid, egid=gid, sgid=gid))
    if gid in (own.rgid, own.sgid):
        return _change(task, replace(own, egid=gid))
    raise LinuxError(EPERM, f"setgid({gid}) without CAP_SETGID")


def _setre(task: Task, real: int, effective: int, user: bool) -> int:
    """setreuid/setregid: unprivileged, the real id may become the effective one, and
    the effective id the real or saved one; the saved id follows the effective id when
    the real id is set or the effective id leaves the real one."""
    own = creds(task)
    real, effective = _id(real), _id(effective)
    r, e, s = (own.ruid, own.euid, own.suid) if user else (own.rgid, own.egid, own.sgid)
    if not capable(task, CAP_SETUID if user else CAP_SETGID):
        if real != UNCHANGED and real not in (r, e):
            raise LinuxError(EPERM)
        if effective != UNCHANGED and effective not in (r, e, s):
            raise LinuxError(EPERM)
    new_r = r if real == UNCHANGED else real
    new_e = e if effective == UNCHANGED else effective
    new_s = new_e if real != UNCHANGED or (effective != UNCHANGED and effective != r) else s
    if user:
        return _change(task, replace(own, ruid=new_r, euid=new_e, suid=new_s))
    return _change(task, replace(own, rgid=new_r, egid=new_e, sgid=new_s))


def sys_setreuid(task: Task, ruid: int, euid: int) -> int:
    return _setre(task, ruid, euid, True)


def sys_setregid(task: Task, rgid: int, egid: int) -> int:
    return _setre(task, rgid, egid, False)


def _setres(task: Task, ids: tuple[int, int, int], user: bool) -> int:
    """setresuid/setresgid: unprivileged, each id may become any of the current three."""
    own = creds(task)
    current = (own.ruid, own.euid, own.suid) if user else (own.rgid, own.egid, own.sgid)
    wanted = tuple(_id(i) for i in ids)
    if not capable(task, CAP_SETUID if user else CAP_SETGID):
        if any(w != UNCHANGED and w not in current for w in wanted):
            raise LinuxError(EPERM)
    r, e, s = (c if w == UNCHANGED else w for w, c in zip(wanted, current, strict=True))
    if user:
        return _change(task, replace(own, ruid=r, euid=e, suid=s))
    return _change(task, replace(own, rgid=r, egid=e, sgid=s))


def sys_setresuid(task: Task, ruid: int, euid: int, suid: int) -> int:
    return _setres(task, (ruid, euid, suid), True)


def sys_setresgid(task: Task, rgid: int, egid: int, sgid: int) -> int:
    return _setres(task, (rgid, egid, sgid), False)


def sys_setgroups(task: Task, size: int, address: int) -> int:
    size &= 0xFFFFFFFF
    if size > NGROUPS_MAX:
        raise LinuxError(EINVAL, f"{size} groups")
    if not capable(task, CAP_SETGID):
        raise LinuxError(EPERM, "setgroups without CAP_SETGID")
    groups = struct.unpack(f"<{size}I", task.read(address, 4 * size)) if size else ()
    task.lx.creds = replace(creds(task), groups=tuple(sorted(set(groups))))
    return 0


# --- capabilities -----------------------------------------------------------------------------


def _capability_header(task: Task, header: int) -> int:
    """The header's version decides how many 32-bit data records follow: one for
    version 1, two (64 capability bits) for versions 2 and 3. An unknown version is
    answered with the one this kernel prefers, and EINVAL."""
    if not header:
        raise LinuxError(EFAULT)
    version, pid = struct.unpack("<Ii", task.read(header, 8))
    if version not in (LINUX_CAPABILITY_VERSION_1, LINUX_CAPABILITY_VERSION_2, LINUX_CAPABILITY_VERSION_3):
        task.write_u32(header, LINUX_CAPABILITY_VERSION_3)
        raise LinuxError(EINVAL, f"capability version {version:#x}")
    if pid not in (0, task.pid):
        raise LinuxError(ESRCH, "only the caller's own capabilities are kept")
    return 1 if version == LINUX_CAPABILITY_VERSION_1 else 2


def sys_capget(task: Task, header: int, data: int) -> int:
    words = _capability_header(task, header)
    if not data:
        return 0                   # a probe for the version
    own = creds(task)
    records = b"".join(struct.pack("<III", own.effective >> (32 * i) & 0xFFFFFFFF,
                                   own.permitted >> (32 * i) & 0xFFFFFFFF,
                                   own.inheritable >> (32 * i) & 0xFFFFFFFF) for i in range(words))
    task.write(data, records)
    return 0


def sys_capset(task: Task, header: int, data: int) -> int:
    """A process may drop capabilities, never gain one: the new permitted set must lie
    in the old one, and the effective set in the new permitted one."""
    words = _capability_header(task, header)
    raw = task.read(data, 12 * words)
    effective = permitted = inheritable = 0
    for i in range(words):
        e, p, h = struct.unpack_from("<III", raw, 12 * i)
        effective |= e << (32 * i)
        permitted |= p << (32 * i)
        inheritable |= h << (32 * i)
    own = creds(task)
    if permitted & ~own.permitted or effective & ~permitted:
        raise LinuxError(EPERM, "capset may only drop capabilities")
    if inheritable & ~(own.inheritable | own.permitted):
        raise LinuxError(EPERM)
    task.lx.creds = replace(own, effective=effective & ALL_CAPS, permitted=permitted & ALL_CAPS,
                            inheritable=inheritable & ALL_CAPS)
    return 0
