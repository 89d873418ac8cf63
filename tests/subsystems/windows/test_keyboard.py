"""Key events decoded from the host's bytes, as a PC keyboard's BIOS reports them."""

from __future__ import annotations

from ntsim.subsystems.windows.keyboard import (
    ALT,
    CTRL,
    LEFT_SHIFT,
    KeyboardBuffer,
    KeyEvent,
    decode_keys,
)


def keys(data: bytes) -> list[tuple[int, int]]:
    return [(event.character, event.scan) for event in decode_keys(data)]


def test_letters_digits_and_space_carry_their_us_scan_codes():
    assert keys(b"aZ1 ") == [(0x61, 0x1E), (0x5A, 0x2C), (0x31, 0x02), (0x20, 0x39)]


def test_a_shifted_character_says_shift_was_down():
    (event,) = decode_keys(b"!")
    assert (event.character, event.scan, event.shift_state) == (0x21, 0x02, LEFT_SHIFT)


def test_enter_backspace_tab_and_escape():
    assert keys(b"\r\n\x7f\x08\t\x1b") == [(0x0D, 0x1C), (0x0D, 0x1C), (0x08, 0x0E), (0x08, 0x0E),
                                          (0x09, 0x0F), (0x1B, 0x01)]


def test_ctrl_letters_are_control_codes_with_the_letters_scan_code():
    (event,) = decode_keys(b"\x03")                 # Ctrl+C
    assert (event.character, event.scan, event.shift_state) == (0x03, 0x2E, CTRL)


def test_arrows_and_editing_keys_are_grey_extended_keys():
    assert keys(b"\x1b[A\x1b[B\x1b[C\x1b[D") == [(0xE0, 0x48), (0xE0, 0x50), (0xE0, 0x4D), (0xE0, 0x4B)]
    assert keys(b"\x1b[H\x1b[F\x1b[5~\x1b[6~\x1b[2~\x1b[3~") == [
        (0xE0, 0x47), (0xE0, 0x4F), (0xE0, 0x49), (0xE0, 0x51), (0xE0, 0x52), (0xE0, 0x53)]


def test_function_keys_are_extended_keys_with_00():
    assert keys(b"\x1bOP\x1bOS\x1b[15~\x1b[21~\x1b[24~") == [
        (0x00, 0x3B), (0x00, 0x3E), (0x00, 0x3F), (0x00, 0x44), (0x00, 0x86)]


def test_modified_keys():
    assert keys(b"\x1b[1;5D") == [(0xE0, 0x73)]     # Ctrl+Left
    assert keys(b"\x1b[1;2P") == [(0x00, 0x54)]     # Shift+F1
    assert keys(b"\x1b[Z") == [(0x00, 0x0F)]        # Shift+Tab
    (alt_x,) = decode_keys(b"\x1bx")
    assert (alt_x.character, alt_x.scan, alt_x.shift_state) == (0x00, 0x2D, ALT)


def test_int16_ah00_reports_grey_keys_with_00_and_ah10_with_e0():
    up = KeyEvent(0xE0, 0x48)
    assert up.bios_word() == 0x4800
    assert up.bios_word(enhanced=True) == 0x48E0
    assert KeyEvent(0x61, 0x1E).bios_word() == 0x1E61


def test_a_sequence_no_pc_key_makes_is_dropped_and_the_next_key_kept():
    assert keys(b"\x1b[200~a") == [(0x61, 0x1E)]


def test_an_unfinished_sequence_is_the_keys_it_spells():
    assert keys(b"\x1b[") == [(0x1B, 0x01), (0x5B, 0x1A)]


def test_a_national_character_becomes_its_code_page_437_code():
    assert keys("é".encode()) == [(0x82, 0x00)]


def test_a_utf8_character_split_across_reads_waits_for_its_end():
    buffer = KeyboardBuffer()
    encoded = "é".encode()
    buffer.feed(encoded[:1])
    assert len(buffer) == 0 and buffer.holds_input
    buffer.feed(encoded[1:])
    assert buffer.pop().character == 0x82


def test_queued_keys_go_back_to_a_byte_reader_as_the_bytes_they_came_from():
    buffer = KeyboardBuffer()
    buffer.feed(b"ab\x1b[Acd")
    assert buffer.take_bytes(3) == b"ab\x1b"
    # what was left is decoded anew: the rest of the arrow's sequence, then c and d
    assert buffer.take_bytes(100) == b"[Acd"
    assert not buffer.holds_input


def test_the_end_of_input_is_remembered():
    buffer = KeyboardBuffer()
    buffer.feed(b"q")
    buffer.feed(b"")
    assert buffer.ended and buffer.pop().character == ord("q") and buffer.pop() is None
