"""The machine's I/O ports: the devices a DOS program may program directly.

    20h-21h, A0h-A1h  the interrupt controllers (a program's IRQ handler sends EOI)
    40h-43h           the programmable interval timer (channel 0 counts down at 1.19 MHz)
    60h, 64h          the keyboard controller (no byte waiting: status 1Ch)
    61h               the system control port (speaker gate)
    70h-71h           the CMOS real-time clock and its memory
    3D4h-3D5h         the VGA's CRT controller (cursor position and shape)
    3DAh              the VGA's input status (retrace toggles, so waiting for it ends)

`IN` from any other port reads FFh (nothing answers on the bus) and `OUT` is dropped;
each is reported once. Nothing here crosses to the NT kernel.
"""

from __future__ import annotations

import time
from typing import Any

from ..trace import VM
from .machine import BDA, BDA_CURSOR

PIT_HZ = 1_193_182


class Ports:
    def __init__(self, vm: Any) -> None:
        self.vm = vm
        self.pic_masks = {0x21: 0xB8, 0xA1: 0x8F}
        self.pit_latch: int | None = None
        self.pit_reload = 0x10000
        self.pit_low_next = True
        self.port_61 = 0
        self.cmos_index = 0
        self.crtc_index = 0
        self.crtc = bytearray(0x19)
        self.crtc[0x0A], self.crtc[0x0B] = 0x06, 0x07
        self.retrace = False

    # --- the timer ----------------------------------------------------------------------

    def _pit_count(self) -> int:
        ns = self.vm.kernel.clock.monotonic_ns() - self.vm.started_ns
        ticks = ns * PIT_HZ // 1_000_000_000
        return (self.pit_reload - ticks % self.pit_reload) & 0xFFFF

    def _cmos(self, index: int) -> int:
        now = time.gmtime(self.vm.local_time() + (self.vm.dos.clock_offset if self.vm.dos else 0))

        def bcd(value: int) -> int:
            return (value // 10) << 4 | value % 10

        return {0x00: bcd(now.tm_sec), 0x02: bcd(now.tm_min), 0x04: bcd(now.tm_hour),
                0x06: bcd((now.tm_wday + 1) % 7 + 1), 0x07: bcd(now.tm_mday), 0x08: bcd(now.tm_mon),
                0x09: bcd(now.tm_year % 100), 0x32: bcd(now.tm_year // 100),
                0x0A: 0x26, 0x0B: 0x02, 0x0C: 0x00, 0x0D: 0x80, 0x0E: 0x00, 0x0F: 0x00,
                0x10: 0x00, 0x12: 0x00, 0x14: 0x22,          # no floppy; colour 80x25, no FPU
                0x15: 0x80, 0x16: 0x02,                      # 640 KiB base memory
                0x17: 0x00, 0x18: 0x00, 0x30: 0x00, 0x31: 0x00}.get(index, 0x00)

    # --- the two directions -------------------------------------------------------------

    def read(self, port: int, size: int) -> int:
        self.vm.observe_time()                # a program at the ports may be timing itself
        value = self._read_byte(port)
        if size > 1:
            value |= self._read_byte(port + 1) << 8
        tracer = self.vm.kernel.tracer
        if tracer.detailed:            # port I/O stays inside the VM: a detail event only
            tracer.detail(self.vm.thread, VM, "PortRead", {"Port": hex(port), "Size": size}, value)
        return value

    def _read_byte(self, port: int) -> int:
        if port in (0x20, 0xA0):
            return 0                                     # no interrupt in service
        if port in self.pic_masks:
            return self.pic_masks[port]
        if 0x40 <= port <= 0x42:
            if self.pit_latch is None:
                self.pit_latch = self._pit_count()
            value = self.pit_latch & 0xFF if self.pit_low_next else self.pit_latch >> 8
            if not self.pit_low_next:
                self.pit_latch = None
            self.pit_low_next = not self.pit_low_next
            return value
        if port == 0x60:
            return 0
        if port == 0x61:
            return self.port_61
        if port == 0x64:
            return 0x1C                                  # nothing to read, ready to take
        if port == 0x71:
            return self._cmos(self.cmos_index)
        if port == 0x3D4:
            return self.crtc_index
        if port == 0x3D5:
            if self.crtc_index in (0x0E, 0x0F):
                vm = self.vm
                position = vm.ram[BDA + BDA_CURSOR + 1] * 80 + vm.ram[BDA + BDA_CURSOR]
                return position >> 8 if self.crtc_index == 0x0E else position & 0xFF
            return self.crtc[self.crtc_index] if self.crtc_index < len(self.crtc) else 0
        if port == 0x3DA:
            self.retrace = not self.retrace
            return 0x09 if self.retrace else 0x00
        self.vm.warn_port(port, "IN from")
        return 0xFF

    def write(self, port: int, size: int, value: int) -> None:
        self.vm.observe_time()
        tracer = self.vm.kernel.tracer
        if tracer.detailed:
            tracer.detail(self.vm.thread, VM, "PortWrite", {"Port": hex(port), "Size": size,
                                                            "Value": hex(value)})
        self._write_byte(port, value & 0xFF)
        if size > 1:
            self._write_byte(port + 1, (value >> 8) & 0xFF)

    def _write_byte(self, port: int, value: int) -> None:
        if port in (0x20, 0xA0):
            return                                       # EOI: nothing is pending
        if port in self.pic_masks:
            self.pic_masks[port] = value
        elif 0x40 <= port <= 0x42:
            self.pit_reload = value or 0x10000           # (the low byte is enough here)
        elif port == 0x43:
            self.pit_latch = None if value & 0x30 else self._pit_count()
            self.pit_low_next = True
        elif port == 0x61:
            self.port_61 = value
        elif port == 0x70:
            self.cmos_index = value & 0x7F
        elif port == 0x71:
            pass                                         # the RTC's settings stay
        elif port == 0x3D4:
            self.crtc_index = value
        elif port == 0x3D5:
            if self.crtc_index < len(self.crtc):
                self.crtc[self.crtc_index] = value
        elif port == 0x60 or port == 0x64:
            pass                                         # keyboard commands: none modelled
        else:
            self.vm.warn_port(port, "OUT to")
