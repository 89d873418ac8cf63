"""The object manager: one namespace of named kernel objects, reference counts, handles.

Everything the kernel hands to user mode is an object: files, events, processes, ports,
sections, directories. Named ones live in a tree rooted at `\\`:

    \\Device\\HarddiskVolume1     the volume backed by --root
    \\Device\\Null, \\Device\\ConDrv
    \\??\\C:  ->  \\Device\\HarddiskVolume1   (a symbolic link, as DOS device names are)
    \\BaseNamedObjects, \\Sessions\\1\\Windows, \\Windows\\ApiPort (CSRSS's LPC port)

A process reaches an object through a *handle*, an index into its own handle table. The
object lives while any handle or kernel reference (the pointer count) holds it.

Lookup walks the tree one component at a time; a symbolic link restarts the walk at its
target, and a device object takes the rest of the path itself (its *parse* procedure),
which is how `\\??\\C:\\dir\\file` reaches the file system.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .status import (
    STATUS_INVALID_HANDLE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    STATUS_OBJECT_TYPE_MISMATCH,
    NtStatusError,
)

# OBJECT_ATTRIBUTES.Attributes
OBJ_INHERIT = 0x02
OBJ_PERMANENT = 0x10
OBJ_CASE_INSENSITIVE = 0x40
OBJ_OPENIF = 0x80

MAX_SYMLINK_HOPS = 32
_SPLIT_AT_DEVICE = object()   # a lookup that stops at the device instead of parsing


class KernelObject:
    """The header every object carries: its type, name, and reference counts."""

    type_name = "Object"

    def __init__(self, name: str = "") -> None:
        self.name = name                 # the last path component, "" if unnamed
        self.directory: Directory | None = None
        self.handle_count = 0
        self.pointer_count = 0
        self.permanent = False

    @property
    def path(self) -> str:
        if self.directory is None:
            return "\\" if isinstance(self, Directory) and not self.name else self.name
        parent = self.directory.path
        return (parent.rstrip("\\") + "\\" + self.name) if self.name else ""

    def reference(self) -> None:
        self.pointer_count += 1

    def dereference(self) -> None:
        self.pointer_count -= 1
        if self.pointer_count <= 0 and self.handle_count <= 0:
            self.delete()

    def on_last_handle_closed(self) -> None:
        """The object's last handle went away (files: IRP_MJ_CLEANUP)."""

    def delete(self) -> None:
        """The object's last reference went away: unlink a temporary named object."""
        if self.directory is not None and not self.permanent:
            self.directory.entries.pop(self.name.casefold(), None)
            self.directory = None

    def describe(self) -> str:
        return self.path or f"<{self.type_name}>"

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.describe()}>"


class Directory(KernelObject):
    """An object directory: names are case-insensitive and case-preserving."""

    type_name = "Directory"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.entries: dict[str, KernelObject] = {}

    def insert(self, obj: KernelObject) -> None:
        key = obj.name.casefold()
        if key in self.entries:
            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, f"{obj.name} exists")
        self.entries[key] = obj
        obj.directory = self

    def get(self, name: str) -> KernelObject | None:
        return self.entries.get(name.casefold())


class SymbolicLink(KernelObject):
    type_name = "SymbolicLink"

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name)
        self.target = target

    def describe(self) -> str:
        return f"{self.path} -> {self.target}"


class ParsableObject(KernelObject):
    """An object that takes the rest of a path itself: devices (IopParseDevice)."""

    def parse(self, remaining: str, context: Any) -> Any:
        raise NotImplementedError


@dataclass
class HandleEntry:
    object: KernelObject
    access: int
    attributes: int = 0       # OBJ_INHERIT


class HandleTable:
    """A process's handles. Values are multiples of 4, as in NT (the low two bits are
    free for the caller's tags)."""

    def __init__(self) -> None:
        self.entries: dict[int, HandleEntry] = {}
        self._next = 4

    def insert(self, obj: KernelObject, access: int = 0x1F0FFF, attributes: int = 0) -> int:
        handle = self._next
        while handle in self.entries:
            handle += 4
        self._next = handle + 4
        self.entries[handle] = HandleEntry(obj, access, attributes)
        obj.handle_count += 1
        obj.reference()
        return handle

    def lookup(self, handle: int, expected: type | tuple[type, ...] | None = None) -> KernelObject:
        """ObReferenceObjectByHandle, without the reference (the caller is synchronous)."""
        entry = self.entries.get(handle)
        if entry is None:
            raise NtStatusError(STATUS_INVALID_HANDLE, f"handle {handle:#x}")
        if expected is not None and not isinstance(entry.object, expected):
            raise NtStatusError(STATUS_OBJECT_TYPE_MISMATCH,
                                f"handle {handle:#x} is a {entry.object.type_name}")
        return entry.object

    def remove(self, handle: int) -> KernelObject:
        entry = self.entries.pop(handle, None)
        if entry is None:
            raise NtStatusError(STATUS_INVALID_HANDLE, f"handle {handle:#x}")
        self._next = min(self._next, handle)
        obj = entry.object
        obj.handle_count -= 1
        if obj.handle_count == 0:
            obj.on_last_handle_closed()
        obj.dereference()
        return obj

    def clone(self) -> HandleTable:
        """A copy with the same handle values naming the same objects: a child's table
        when the parent's is inherited whole (fork)."""
        table = HandleTable()
        for handle, entry in sorted(self.entries.items()):
            table.entries[handle] = HandleEntry(entry.object, entry.access, entry.attributes)
            entry.object.handle_count += 1
            entry.object.reference()
        table._next = self._next
        return table

    def close_all(self) -> None:
        for handle in sorted(self.entries):
            self.remove(handle)

    def __iter__(self) -> Iterator[tuple[int, HandleEntry]]:
        return iter(sorted(self.entries.items()))

    def __len__(self) -> int:
        return len(self.entries)


class ObjectManager:
    """The namespace and the lookup that walks it."""

    def __init__(self) -> None:
        self.root = Directory("")
        self.root.permanent = True
        for path in ("\\Device", "\\??", "\\BaseNamedObjects", "\\Sessions",
                     "\\Sessions\\1", "\\Sessions\\1\\Windows", "\\Windows", "\\ObjectTypes"):
            self.create_directory(path, permanent=True)

    def create_directory(self, path: str, permanent: bool = False) -> Directory:
        directory = Directory()
        self.insert(path, directory, permanent=permanent)
        return directory

    def create_symbolic_link(self, path: str, target: str, permanent: bool = False) -> SymbolicLink:
        link = SymbolicLink("", target)
        self.insert(path, link, permanent=permanent)
        return link

    def insert(self, path: str, obj: KernelObject, permanent: bool = False) -> KernelObject:
        parent_path, _, name = path.rstrip("\\").rpartition("\\")
        if not name:
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID, path)
        parent = self.lookup(parent_path or "\\")
        if not isinstance(parent, Directory):
            raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, parent_path)
        obj.name = name
        parent.insert(obj)
        obj.permanent = permanent
        return obj

    def lookup(self, path: str, context: Any = None, *, parse: bool = False,
               root: Directory | None = None, open_link: bool = False) -> Any:
        """Find the object at `path`. With `parse`, a device met on the way is handed the
        rest of the path and its parse result is returned (opening a file).

        A symbolic link is followed wherever it stands, the last component too, as NT's
        lookup does: `\\DosDevices` opens as the `\\??` directory. Only `open_link`
        (what NtOpenSymbolicLinkObject asks for) returns a final link itself."""
        if not path.startswith("\\") and root is None:
            raise NtStatusError(STATUS_OBJECT_PATH_SYNTAX_BAD, path)
        hops = 0
        current: KernelObject = root or self.root
        parts = [p for p in path.split("\\") if p]
        index = 0
        while index < len(parts):
            if isinstance(current, ParsableObject):
                if not parse:
                    break
                remaining = "\\" + "\\".join(parts[index:])
                if context is _SPLIT_AT_DEVICE:
                    return current, remaining
                return current.parse(remaining, context)
            if not isinstance(current, Directory):
                raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, path)
            found = current.get(parts[index])
            if found is None:
                status = (STATUS_OBJECT_NAME_NOT_FOUND if index == len(parts) - 1
                          else STATUS_OBJECT_PATH_NOT_FOUND)
                raise NtStatusError(status, path)
            index += 1
            if isinstance(found, SymbolicLink) and (index < len(parts) or not open_link):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, f"{path}: link loop")
                parts = [p for p in found.target.split("\\") if p] + parts[index:]
                index = 0
                current = self.root
                continue
            current = found
        if parse and isinstance(current, ParsableObject):
            if context is _SPLIT_AT_DEVICE:
                return current, "\\"
            return current.parse("\\", context)
        return current

    def split_device(self, path: str) -> tuple[ParsableObject, str]:
        """The device a path leads to and the rest of the path on it (for a rename
        target: the I/O manager checks it is the same device as the source)."""
        return self.lookup(path, _SPLIT_AT_DEVICE, parse=True)

    def walk(self, directory: Directory | None = None, depth: int = 0) -> Iterator[tuple[int, KernelObject]]:
        """Every object in the namespace, depth first, for `ntsim objects`."""
        directory = directory or self.root
        for key in sorted(directory.entries):
            obj = directory.entries[key]
            yield depth, obj
            if isinstance(obj, Directory):
                yield from self.walk(obj, depth + 1)

    def dump(self) -> str:
        lines = ["\\"]
        for depth, obj in self.walk():
            detail = f" -> {obj.target}" if isinstance(obj, SymbolicLink) else ""
            counts = f"  (handles {obj.handle_count})" if obj.handle_count else ""
            lines.append(f"{'    ' * (depth + 1)}{obj.name:<24} {obj.type_name}{detail}{counts}")
        return "\n".join(lines)
