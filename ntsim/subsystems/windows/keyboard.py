"""The console's keyboard input: key events, as a PC keyboard's BIOS hands them out.

A PC keyboard event is a pair: a character code and the key's scan code (set 1, the
"make" code). INT 16h returns it as one word, AH the scan code and AL the character;
OS/2's KbdCharIn as KBDKEYINFO's chChar and chScan. A key with no character (an arrow,
F1) has character 0x00, or 0xE0 for the grey keys the enhanced keyboard added (arrows,
Home, End, Page Up/Down, Insert, Delete), which INT 16h AH=00h reports as 0x00 and AH=10h
as 0xE0.

The host sends bytes, not key events: `KeyboardBuffer.feed` decodes them — ASCII, Ctrl
and Alt combinations, and the escape sequences a terminal sends for its arrows, editing
and function keys — on the US layout. Enter arrives as CR from a raw terminal and as LF
from a cooked one or a pipe; both become the Enter key (0x0D, 0x1C). A sequence no PC
key makes is dropped, as a BIOS drops a key it has no code for. Each event keeps the
bytes it came from, so a byte-stream read after key reads loses nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# fsState / the BIOS shift flags (40:17): which shift keys were down
RIGHT_SHIFT, LEFT_SHIFT, CTRL, ALT = 0x01, 0x02, 0x04, 0x08

ESC = 0x1B
ENTER = (0x0D, 0x1C)
EXTENDED, GREY = 0x00, 0xE0

# The US layout: each printable character's key (scan code set 1), and which need Shift.
_KEY_ROWS = {0x02: "1234567890-=", 0x10: "qwertyuiop[]", 0x1E: "asdfghjkl;'`",
             0x2B: "\\zxcvbnm,./"}
_SHIFTED_ROWS = {0x02: "!@#$%^&*()_+", 0x10: "QWERTYUIOP{}", 0x1E: 'ASDFGHJKL:"~',
                 0x2B: "|ZXCVBNM<>?"}
SCAN_OF: dict[int, tuple[int, bool]] = {0x20: (0x39, False)}     # character -> (scan, shifted)
for _first, _keys in _KEY_ROWS.items():
    for _index, _char in enumerate(_keys):
        SCAN_OF[ord(_char)] = (_first + _index, False)
for _first, _keys in _SHIFTED_ROWS.items():
    for _index, _char in enumerate(_keys):
        SCAN_OF[ord(_char)] = (_first + _index, True)

# Control characters a terminal sends, as the PC key that makes them.
_CONTROL_KEYS = {0x00: (0x00, 0x03), 0x08: (0x08, 0x0E), 0x7F: (0x08, 0x0E),
                 0x09: (0x09, 0x0F), 0x0A: ENTER, 0x0D: ENTER, 0x1B: (ESC, 0x01),
                 0x1C: (0x1C, 0x2B), 0x1D: (0x1D, 0x1B), 0x1E: (0x1E, 0x07),
                 0x1F: (0x1F, 0x0C)}
_ALT_DIGIT_SCANS = {ord(str(digit)): 0x77 + digit for digit in range(1, 10)} | {ord("0"): 0x81}

# The editing keys: (plain, Ctrl, Alt) scan codes; plain and Ctrl come with 0xE0.
_EDIT_KEYS = {"up": (0x48, 0x8D, 0x98), "down": (0x50, 0x91, 0xA0), "left": (0x4B, 0x73, 0x9B),
              "right": (0x4D, 0x74, 0x9D), "home": (0x47, 0x77, 0x97), "end": (0x4F, 0x75, 0x9F),
              "page up": (0x49, 0x84, 0x99), "page down": (0x51, 0x76, 0xA1),
              "insert": (0x52, 0x92, 0xA2), "delete": (0x53, 0x93, 0xA3)}
# The function keys: (plain, Shift, Ctrl, Alt) scan codes, all with 0x00.
_FUNCTION_KEYS = {n: (0x3A + n, 0x53 + n, 0x5D + n, 0x67 + n) for n in range(1, 11)}
_FUNCTION_KEYS[11], _FUNCTION_KEYS[12] = (0x85, 0x87, 0x89, 0x8B), (0x86, 0x88, 0x8A, 0x8C)

# What the terminal sends for them: CSI/SS3 final letters, and CSI n ~ numbers.
_FINAL_KEYS = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end",
               "P": 1, "Q": 2, "R": 3, "S": 4}
_TILDE_KEYS = {1: "home", 2: "insert", 3: "delete", 4: "end", 5: "page up", 6: "page down",
               7: "home", 8: "end", 11: 1, 12: 2, 13: 3, 14: 4, 15: 5, 17: 6, 18: 7, 19: 8,
               20: 9, 21: 10, 23: 11, 24: 12}


@dataclass(frozen=True)
class KeyEvent:
    """One key press: what INT 16h and KbdCharIn read."""

    character: int               # ASCII / code page 437; 0x00 or 0xE0 for a key without one
    scan: int                    # the key's scan code (set 1)
    shift_state: int = 0         # RIGHT_SHIFT | LEFT_SHIFT | CTRL | ALT
    raw: bytes = field(default=b"", compare=False)   # the host bytes it came from

    @property
    def extended(self) -> bool:
        return self.character in (EXTENDED, GREY)

    def bios_word(self, enhanced: bool = False) -> int:
        """AX as INT 16h returns it: AH=scan, AL=character. A grey key's 0xE0 shows as
        0x00 unless `enhanced` (AH=10h/11h, the enhanced keyboard's functions)."""
        character = EXTENDED if self.character == GREY and not enhanced else self.character
        return self.scan << 8 | character


def key_for_character(code: int, raw: bytes = b"") -> KeyEvent | None:
    """The key that types a character (code page 437), as on the US layout."""
    if code in _CONTROL_KEYS:
        character, scan = _CONTROL_KEYS[code]
        return KeyEvent(character, scan, 0, raw or bytes((code,)))
    if 0x01 <= code <= 0x1A:                   # Ctrl+A .. Ctrl+Z
        scan, _ = SCAN_OF[code + 0x60]
        return KeyEvent(code, scan, CTRL, raw or bytes((code,)))
    if code in SCAN_OF:
        scan, shifted = SCAN_OF[code]
        return KeyEvent(code, scan, LEFT_SHIFT if shifted else 0, raw or bytes((code,)))
    if 0x80 <= code <= 0xFF:                   # a national character: no key of its own
        return KeyEvent(code, 0, 0, raw or bytes((code,)))
    return None


class KeyboardBuffer:
    """The console's input buffer of key events (the BIOS's type-ahead buffer, OS/2's
    keyboard queue), fed from the host's bytes. `ended` once the host's input ended."""

    def __init__(self) -> None:
        self.events: deque[KeyEvent] = deque()
        self.ended = False
        self._partial = b""          # the start of a UTF-8 character still arriving

    def __len__(self) -> int:
        return len(self.events)

    @property
    def holds_input(self) -> bool:
        """Key events, or the start of a character, wait to be read."""
        return bool(self.events or self._partial)

    def push(self, event: KeyEvent) -> None:
        self.events.append(event)

    def peek(self) -> KeyEvent | None:
        return self.events[0] if self.events else None

    def pop(self) -> KeyEvent | None:
        return self.events.popleft() if self.events else None

    def flush(self) -> int:
        """KbdFlushBuffer, INT 21h AH=0Ch: drop every key typed ahead."""
        count = len(self.events)
        self.events.clear()
        return count

    def feed(self, data: bytes) -> None:
        """Bytes from the host; b"" means its input ended."""
        if not data:
            self.ended = True
            return
        self.events.extend(decode_keys(self._partial + data, self))

    def take_bytes(self, length: int) -> bytes:
        """Give queued key events back as the host bytes they came from, for a
        byte-stream read (at most `length`; the rest stays queued as events)."""
        data = b"".join(event.raw for event in self.events) + self._partial
        taken, rest = data[:length], data[length:]
        self.events.clear()
        self._partial = b""
        if rest:
            self.events.extend(decode_keys(rest, self))
        return taken


def decode_keys(data: bytes, buffer: KeyboardBuffer | None = None) -> list[KeyEvent]:
    """Decode host bytes into key events. An incomplete UTF-8 character at the end is
    kept in `buffer` for the next bytes; an incomplete escape sequence is taken as the
    keys it spells (a lone ESC is the Esc key)."""
    events: list[KeyEvent] = []
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == ESC and index + 1 < len(data):
            consumed, event = _escape(data, index)
            if consumed:
                if event is not None:
                    events.append(event)
                index += consumed
                continue
        if byte >= 0x80:
            length = 2 if byte >= 0xC0 else 1
            length = 3 if byte >= 0xE0 else length
            length = 4 if byte >= 0xF0 else length
            if index + length > len(data) and buffer is not None:
                buffer._partial = data[index:]
                return events
            raw = data[index:index + length]
            try:
                code = raw.decode("utf-8").encode("cp437")[0]
            except (UnicodeDecodeError, UnicodeEncodeError):
                code = ord("?")     # no key of the PC's code page types it
            event = key_for_character(code, raw)
            index += length
        else:
            event = key_for_character(byte)
            index += 1
        if event is not None:
            events.append(event)
    if buffer is not None:
        buffer._partial = b""
    return events


def _escape(data: bytes, index: int) -> tuple[int, KeyEvent | None]:
    """An escape sequence at data[index]: (bytes consumed, its key or None for a key
    the PC has not); (0, None) if it is not one (Esc, then what follows)."""
    introducer = data[index + 1]
    if introducer in (ord("["), ord("O")):
        end = index + 2
        while end < len(data) and 0x30 <= data[end] <= 0x3F:     # parameter bytes
            end += 1
        if end >= len(data) or not 0x40 <= data[end] <= 0x7E:
            return 0, None
        raw = data[index:end + 1]
        parameters = [int(p) if p.isdigit() else 0 for p in data[index + 2:end].decode().split(";")]
        final = chr(data[end])
        modifiers = (parameters[1] - 1) if len(parameters) > 1 and parameters[1] else 0
        if final == "Z":
            return len(raw), KeyEvent(EXTENDED, 0x0F, LEFT_SHIFT, raw)   # Shift+Tab
        key = _TILDE_KEYS.get(parameters[0]) if final == "~" else _FINAL_KEYS.get(final)
        return len(raw), (None if key is None else _special_key(key, modifiers, raw))
    if introducer in SCAN_OF and chr(introducer).isalnum():              # Alt+letter, Alt+digit
        scan = _ALT_DIGIT_SCANS.get(introducer) or SCAN_OF[introducer][0]
        return 2, KeyEvent(EXTENDED, scan, ALT, data[index:index + 2])
    return 0, None


def _special_key(key: str | int, modifiers: int, raw: bytes) -> KeyEvent:
    """An editing key (by name) or function key (by number) with xterm's modifier bits
    (1 Shift, 2 Alt, 4 Ctrl)."""
    shift_state = (LEFT_SHIFT if modifiers & 1 else 0) | (ALT if modifiers & 2 else 0) \
        | (CTRL if modifiers & 4 else 0)
    if isinstance(key, int):
        plain, shifted, ctrl, alt = _FUNCTION_KEYS[key]
        scan = alt if modifiers & 2 else ctrl if modifiers & 4 else shifted if modifiers & 1 else plain
        return KeyEvent(EXTENDED, scan, shift_state, raw)
    plain, ctrl, alt = _EDIT_KEYS[key]
    if modifiers & 2:
        return KeyEvent(EXTENDED, alt, shift_state, raw)
    return KeyEvent(GREY, ctrl if modifiers & 4 else plain, shift_state, raw)
