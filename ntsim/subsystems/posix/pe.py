"""POSIX_CUI images: PE32 executables for the POSIX subsystem, read with pefile.

An image is for PSXSS when its optional header says Subsystem = 7
(IMAGE_SUBSYSTEM_POSIX_CUI). The loader checks what it will use before it uses it —
the machine (i386), the PE32 magic, sections inside the file and the image, the image
size — maps the image at its ImageBase (or elsewhere, applying its base relocations,
when that range is taken), sets each section's protection, and binds its imports: every
one must be an export of PSXDLL.DLL, the only DLL a POSIX program may import (the
subsystem was POSIX.1 only: no sockets, no threads, no Win32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import pefile

from ..base import ImageError

IMAGE_SUBSYSTEM_POSIX_CUI = 7
SUBSYSTEM_NAMES = {0: "unknown", 1: "native", 2: "Windows GUI", 3: "Windows CUI", 5: "OS/2 CUI",
                   7: "POSIX CUI", 8: "native Win9x driver", 9: "Windows CE GUI", 10: "EFI application",
                   11: "EFI boot service driver", 12: "EFI runtime driver", 13: "EFI ROM",
                   14: "Xbox", 16: "Windows boot application"}
IMAGE_FILE_MACHINE_I386 = 0x14C
PE32_MAGIC = 0x10B
MAX_IMAGE_SIZE = 256 * 1024 * 1024
IMAGE_FILE_RELOCS_STRIPPED = 0x0001
SCN_EXECUTE, SCN_READ, SCN_WRITE = 0x2000_0000, 0x4000_0000, 0x8000_0000
PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE = 0x02, 0x04, 0x20, 0x40


def pe_subsystem(header: bytes) -> int | None:
    """The Subsystem field of a PE image's optional header, read from its first bytes
    (None: not a PE image). MZ, e_lfanew at 0x3C, `PE\\0\\0`, then the 20-byte file
    header; Subsystem is at offset 68 of the optional header (PE32 and PE32+ alike)."""
    if len(header) < 0x40 or header[:2] != b"MZ":
        return None
    lfanew = struct.unpack_from("<I", header, 0x3C)[0]
    at = lfanew + 4 + 20 + 68
    if lfanew < 0x40 or at + 2 > len(header) or header[lfanew:lfanew + 4] != b"PE\0\0":
        return None
    return struct.unpack_from("<H", header, at)[0]


def subsystem_name(value: int) -> str:
    return f"{value} ({SUBSYSTEM_NAMES.get(value, 'unknown')})"


@dataclass
class Import:
    dll: str
    name: str | None
    ordinal: int | None
    slot: int                     # the IAT slot's RVA


@dataclass
class Section:
    name: str
    rva: int
    size: int
    characteristics: int

    @property
    def protection(self) -> int:
        c = self.characteristics
        if c & SCN_EXECUTE:
            return PAGE_EXECUTE_READWRITE if c & SCN_WRITE else PAGE_EXECUTE_READ
        return PAGE_READWRITE if c & SCN_WRITE else PAGE_READONLY


@dataclass
class PosixImage:
    pe: pefile.PE
    image_base: int
    image_size: int
    entry_rva: int
    stack_reserve: int
    headers_size: int
    sections: list[Section] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    relocatable: bool = True

    def mapped(self, base: int) -> bytes:
        """The image as it lies in memory at `base` (relocated if that is not its ImageBase)."""
        try:
            data = self.pe.get_memory_mapped_image(ImageBase=base if base != self.image_base else None)
        except Exception as error:     # pefile on a malformed relocation: the image's fault
            raise ImageError(f"corrupt PE image: {type(error).__name__} while mapping it") from None
        return bytes(data[:self.image_size]).ljust(self.image_size, b"\0")


def parse(data: bytes) -> PosixImage:
    """Read and check a POSIX_CUI image; ImageError (exit 126) says what is wrong."""
    subsystem = pe_subsystem(data[:4096])
    if subsystem is None:
        raise ImageError("not a PE image (no MZ header leading to a PE signature)")
    if subsystem != IMAGE_SUBSYSTEM_POSIX_CUI:
        raise ImageError(f"a PE image for subsystem {subsystem_name(subsystem)}: PSXSS runs only "
                         f"subsystem {IMAGE_SUBSYSTEM_POSIX_CUI} (POSIX CUI) images")
    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_BASERELOC"]])
    except pefile.PEFormatError as error:
        raise ImageError(f"corrupt PE image: {error.value}") from None
    except Exception as error:   # pefile on malformed input: say so, never a traceback
        raise ImageError(f"corrupt PE image: {type(error).__name__}") from None
    for warning in pe.get_warnings():
        if "Error parsing the import" in warning or "Invalid" in warning and "import" in warning:
            raise ImageError(f"corrupt PE image: {warning}")
    header, optional = pe.FILE_HEADER, pe.OPTIONAL_HEADER
    if header.Machine != IMAGE_FILE_MACHINE_I386:
        raise ImageError(f"machine {header.Machine:#x} is not i386: POSIX images are 32-bit x86")
    if optional.Magic != PE32_MAGIC:
        raise ImageError(f"optional header magic {optional.Magic:#x} is not PE32 (0x10b)")
    size = optional.SizeOfImage
    if not 0 < size <= MAX_IMAGE_SIZE:
        raise ImageError(f"SizeOfImage {size:#x} is outside 1..{MAX_IMAGE_SIZE:#x}")
    base = optional.ImageBase
    if base % 0x10000 or base < 0x10000 or base + size > 0x7FFE_0000:
        raise ImageError(f"ImageBase {base:#x} is not a 64 KiB-aligned user address")
    if not optional.SizeOfHeaders <= min(size, len(data)):
        raise ImageError(f"SizeOfHeaders {optional.SizeOfHeaders:#x} is past the file or the image")
    image = PosixImage(pe, base, size, optional.AddressOfEntryPoint, optional.SizeOfStackReserve,
                       optional.SizeOfHeaders,
                       relocatable=not header.Characteristics & IMAGE_FILE_RELOCS_STRIPPED)
    for section in pe.sections:
        name = section.Name.rstrip(b"\0").decode("latin-1")
        virtual = max(section.Misc_VirtualSize, section.SizeOfRawData)
        if section.VirtualAddress + virtual > size:
            raise ImageError(f"section {name} ends at {section.VirtualAddress + virtual:#x}, past "
                             f"SizeOfImage {size:#x}")
        if section.SizeOfRawData and section.PointerToRawData + section.SizeOfRawData > len(data):
            raise ImageError(f"section {name}'s data ends at "
                             f"{section.PointerToRawData + section.SizeOfRawData:#x}, past the end of "
                             f"the file ({len(data):#x} bytes): truncated")
        image.sections.append(Section(name, section.VirtualAddress, virtual, section.Characteristics))
    if not 0 < image.entry_rva < size or not any(
            s.rva <= image.entry_rva < s.rva + s.size and s.characteristics & SCN_EXECUTE
            for s in image.sections):
        raise ImageError(f"entry point {image.entry_rva:#x} is not in an executable section")
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", ()):
        dll = entry.dll.decode("latin-1") if entry.dll else "?"
        for item in entry.imports:
            slot = item.address - base
            if not 0 <= slot <= size - 4:
                raise ImageError(f"import of {dll}: its address slot {item.address:#x} is outside the image")
            name = item.name.decode("latin-1") if item.name else None
            image.imports.append(Import(dll, name, None if name else item.ordinal, slot))
    return image


def bind_imports(image: PosixImage, exports: dict[str, int], ordinals: dict[int, int],
                 module: str) -> list[tuple[int, int]]:
    """(IAT slot RVA, address) for each import, every one resolved against `module`
    (PSXDLL.DLL): its `exports` by name and `ordinals` by number. An import it does not
    export is the error the loader reports, naming the function and the DLL."""
    bound = []
    for item in image.imports:
        label = item.name or f"ordinal {item.ordinal}"
        if item.dll.casefold() != module.casefold():
            raise ImageError(f"imports {label} from {item.dll}: a POSIX program may import only "
                             f"from {module}")
        address = exports.get(item.name) if item.name else ordinals.get(item.ordinal or -1)
        if address is None:
            raise ImageError(f"{label} is not exported by {module} (the POSIX subsystem is "
                             f"POSIX.1 only: no sockets, no threads, no Win32)")
        bound.append((item.slot, address))
    return bound
