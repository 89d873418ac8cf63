"""DOS file names on C:, which is the host directory --root names.

DOS sees 8.3 names: up to eight characters, a dot, up to three, in upper case, from a
limited alphabet. DOS itself truncates what a program asks for ("LONGFILENAME.TEXT" opens
LONGFILE.TEX) and upper-cases it; the volume finds the host file case-insensitively.

A host name that is not a valid 8.3 name (too long, two dots, a space, a character DOS
refuses) is **hidden** from the DOS program: directory searches skip it and no 8.3 name
reaches it. We chose hiding over `~1` aliases (what Windows' short names do) because an
alias is a second name that must stay stable while the directory changes under it; a
hidden file is never reached by mistake. (tests/vdm/test_names.py shows both cases.)

Paths are resolved here, lexically, before any Nt* call: the drive must be C:, `.` and
`..` are folded, and `..` above the root is "path not found" — so no DOS path names a
host file outside the root.
"""

from __future__ import annotations

from ..calls import ERROR_INVALID_DRIVE, ERROR_PATH_NOT_FOUND, DosError

SYSTEM_DRIVE = "\\??\\C:"
DEVICES = {"CON", "NUL", "AUX", "PRN", "CLOCK$", "COM1", "LPT1"}
_VALID = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()-@^_`{}~") | {chr(c) for c in range(0x80, 0x100)}


def is_short_name(name: str) -> bool:
    """Is a host name a valid 8.3 name (case aside)? `.` and `..` are."""
    if name in (".", ".."):
        return True
    base, dot, extension = name.upper().partition(".")
    if not base or len(base) > 8 or len(extension) > 3 or "." in extension:
        return False
    return all(c in _VALID for c in base + extension)


def truncate(component: str) -> str:
    """A component as DOS reads it: upper case, the name cut to 8 and the extension to 3."""
    base, dot, extension = component.upper().partition(".")
    return base[:8] + ("." + extension[:3] if dot and extension else "")


def device_name(component: str) -> str | None:
    """CON, NUL... (any extension, in any directory) name devices, not files."""
    base = component.upper().partition(".")[0]
    return base if base in DEVICES else None


def split(path: str) -> tuple[str | None, str]:
    """(drive letter or None, the rest)."""
    if len(path) >= 2 and path[1] == ":":
        return path[0].upper(), path[2:]
    return None, path


def resolve(path: str, cwd: str) -> list[str]:
    """The components of a DOS path from the root of C: (`cwd` is the current directory,
    "" for the root, "DIR\\SUB" below it). DosError for another drive, a bad character,
    or `..` above the root."""
    drive, rest = split(path.replace("/", "\\"))
    if drive is not None and drive != "C":
        raise DosError(ERROR_INVALID_DRIVE if drive.isalpha() else ERROR_PATH_NOT_FOUND,
                       f"drive {drive}: does not exist (C: is the only drive)")
    parts = [] if rest.startswith("\\") else [p for p in cwd.split("\\") if p]
    for component in rest.split("\\"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                raise DosError(ERROR_PATH_NOT_FOUND, ".. above the root of C:")
            parts.pop()
            continue
        if any(c in '"*+,/:;<=>?[]|' or ord(c) < 0x20 for c in component):
            raise DosError(ERROR_PATH_NOT_FOUND, f"{component!r} is not a DOS name")
        parts.append(truncate(component))
    return parts


def nt_path(parts: list[str]) -> str:
    """The NT object name of a resolved path: \\??\\C:\\DIR\\FILE."""
    return SYSTEM_DRIVE + "\\" + "\\".join(parts)


def dos_path(parts: list[str]) -> str:
    return "C:\\" + "\\".join(parts)


def matches(name: str, pattern: str) -> bool:
    """Does an 8.3 name match a DOS wildcard pattern (`*.COM`, `A?C.*`)? As DOS does it:
    each part is padded to its width and `*` fills the rest with `?`."""
    def expand(text: str, width: int) -> str:
        star = text.find("*")
        if star >= 0:
            text = text[:star] + "?" * (width - star)
        return text[:width].ljust(width)

    name_base, _, name_ext = name.upper().partition(".")
    pattern = pattern.upper()
    if pattern in ("*", "*.*"):
        pattern = "*.*"
    base, dot, ext = pattern.partition(".")
    if not dot:
        ext = ""
    for have, want, width in ((name_base, base, 8), (name_ext, ext, 3)):
        have, want = expand(have, width), expand(want, width)
        if any(w != "?" and w != h for h, w in zip(have, want, strict=True)):
            return False
    return True


FCB_SEPARATORS = b":.;,=+ \t/\"[]<>|"


def parse_fcb_name(text: bytes, flags: int = 0) -> tuple[int, bytes, int, int]:
    """INT 21h AH=29h: parse a file name at the start of `text` into an FCB's drive byte
    and 11-byte blank-padded name; returns (drive, name, bytes consumed, AL): AL 00h no
    wildcards, 01h wildcards, FFh an invalid drive. Flags bit 0 skips leading separators;
    bits 1-3 keep the FCB's drive, name or extension when the text has none (the caller
    supplies them then: here blanks and drive 0)."""
    at = 0
    while at < len(text) and text[at] in b" \t":
        at += 1
    if flags & 1 and at < len(text) and text[at] in b":.;,=+":
        at += 1
        while at < len(text) and text[at] in b" \t":
            at += 1
    drive, status = 0, 0
    if at + 1 < len(text) and text[at + 1:at + 2] == b":" and chr(text[at]).isalpha():
        drive = ord(chr(text[at]).upper()) - ord("A") + 1
        status = 0 if drive == 3 else 0xFF
        at += 2

    def field(width: int) -> bytes:
        nonlocal at
        out = bytearray()
        while at < len(text) and text[at] not in FCB_SEPARATORS and text[at] > 0x20:
            character = text[at]
            at += 1
            if character == ord("*"):
                out += b"?" * (width - len(out))
                while at < len(text) and text[at] not in FCB_SEPARATORS and text[at] > 0x20:
                    at += 1
                break
            if len(out) < width:
                out.append(ord(chr(character).upper()) if character < 0x80 else character)
        return bytes(out[:width]).ljust(width, b" ")

    base = field(8)
    extension = b"   "
    if at < len(text) and text[at:at + 1] == b".":
        at += 1
        extension = field(3)
    name = base + extension
    if status != 0xFF and b"?" in name:
        status = 1
    return drive, name, at, status
