"""`\\Device\\Null`: reads find end of file at once, writes vanish."""

from __future__ import annotations

from ..io import FILE_DEVICE_NULL, Device, FileObject, StandardInformation


class NullDevice(Device):
    device_type = FILE_DEVICE_NULL

    def read(self, file: FileObject, length: int, offset: int | None) -> bytes:
        return b""

    def write(self, file: FileObject, data: bytes, offset: int | None) -> int:
        return len(data)

    def query_information(self, file: FileObject, info_class: int):
        return StandardInformation(0, 0, 1, False, False)
