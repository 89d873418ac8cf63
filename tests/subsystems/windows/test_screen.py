"""The screen buffer: cells, cursor, scrolling and teletype output as a PC BIOS does them."""

from __future__ import annotations

import pytest

from ntsim.subsystems.windows.screen import (
    ATTRIBUTES,
    CHARACTERS,
    DOWN,
    LEFT,
    RIGHT,
    ScreenBuffer,
    ScreenError,
    TerminalPainter,
    screen_text,
    sgr,
)


def numbered(rows: int = 25) -> ScreenBuffer:
    """A screen whose row r reads "row r" in attribute r."""
    screen = ScreenBuffer()
    for row in range(rows):
        screen.write(row, 0, b"".join(bytes((c, row)) for c in f"row {row}".encode()))
    return screen


def test_a_new_screen_is_80_by_25_blanks_in_grey_on_black():
    screen = ScreenBuffer()
    assert (screen.columns, screen.rows) == (80, 25)
    assert screen.cell(24, 79) == (0x20, 0x07)
    assert (screen.cursor_row, screen.cursor_column) == (0, 0)
    assert screen.video_memory()[:4] == b" \x07 \x07"


def test_a_cursor_addressed_write_lands_at_its_cell_and_leaves_the_cursor():
    screen = ScreenBuffer()
    screen.set_cursor(3, 3)
    screen.write(5, 10, b"A\x1eB\x4f")
    assert screen.cell(5, 10) == (ord("A"), 0x1E)
    assert screen.cell(5, 11) == (ord("B"), 0x4F)
    assert screen.cell(5, 9) == (0x20, 0x07) and screen.cell(5, 12) == (0x20, 0x07)
    assert screen.video_memory(2 * (5 * 80 + 10), 2) == b"A\x1e"
    assert (screen.cursor_row, screen.cursor_column) == (3, 3)


def test_a_long_write_continues_on_the_next_row_and_stops_at_the_end_of_the_screen():
    screen = ScreenBuffer()
    assert screen.write(0, 78, b"abcd", CHARACTERS) == 4
    assert screen.text()[0].endswith("ab") and screen.text()[1] == "cd"
    assert screen.write(24, 78, b"xyz", CHARACTERS) == 2
    assert screen.text()[24].endswith("xy")
    assert screen.text()[0][:2] == "  "            # nothing wrapped round to the top


def test_characters_and_attributes_are_written_apart():
    screen = ScreenBuffer()
    screen.write(1, 0, b"hi", CHARACTERS)
    screen.write(1, 1, b"\x4e\x4e", ATTRIBUTES)
    assert [screen.cell(1, c) for c in range(3)] == [(ord("h"), 7), (ord("i"), 0x4E), (0x20, 0x4E)]
    assert screen.read(1, 0, 3, CHARACTERS) == b"hi "
    assert screen.read(1, 0, 3, ATTRIBUTES) == b"\x07\x4e\x4e"


def test_fill_repeats_a_cell():
    screen = ScreenBuffer()
    assert screen.fill(2, 5, 3, ord("*"), 0x2F) == 3
    assert screen.text()[2] == "     ***"
    assert screen.attribute(2, 7) == 0x2F and screen.attribute(2, 8) == 0x07


def test_scrolling_up_moves_rows_up_and_blanks_the_last_with_the_given_attribute():
    screen = numbered()
    screen.scroll(0, 0, 24, 79, 1, attribute=0x1F)
    assert screen.text()[0] == "row 1"
    assert screen.text()[23] == "row 24"
    assert screen.text()[24] == ""
    assert screen.attribute(0, 0) == 1                      # the cells moved with their colours
    assert {screen.attribute(24, c) for c in range(80)} == {0x1F}


def test_scrolling_down_a_window_leaves_the_rest_of_the_screen_alone():
    screen = ScreenBuffer()
    for row, letter in ((9, b"z"), (10, b"a"), (11, b"b"), (12, b"c"), (13, b"y")):
        screen.write(row, 0, letter * 6, CHARACTERS)
    screen.scroll(10, 0, 12, 2, 1, DOWN, ord("."), 0x70)   # rows 10-12, columns 0-2
    assert screen.text()[9:14] == ["zzzzzz", "...aaa", "aaabbb", "bbbccc", "yyyyyy"]
    assert screen.attribute(10, 0) == 0x70 and screen.attribute(10, 3) == 0x07


def test_scrolling_zero_lines_blanks_the_window():
    screen = numbered()
    screen.scroll(2, 0, 4, 79, 0, attribute=0x30)
    assert screen.text()[1:6] == ["row 1", "", "", "", "row 5"]
    assert screen.attribute(3, 40) == 0x30


def test_scrolling_left_and_right_moves_columns():
    screen = ScreenBuffer()
    screen.write(0, 0, b"abcdef", CHARACTERS)
    screen.scroll(0, 0, 0, 5, 2, LEFT)
    assert screen.text()[0] == "cdef"
    screen.scroll(0, 0, 0, 5, 1, RIGHT, ord("-"))
    assert screen.text()[0] == "-cdef"


def test_teletype_text_goes_at_the_cursor_and_cr_lf_move_it():
    screen = ScreenBuffer()
    screen.write_teletype(b"one\r\ntwo")
    assert screen.text()[:2] == ["one", "two"]
    assert (screen.cursor_row, screen.cursor_column) == (1, 3)


def test_a_line_feed_alone_keeps_the_column():
    screen = ScreenBuffer()
    screen.write_teletype(b"ab\ncd")
    assert screen.text()[:2] == ["ab", "  cd"]


def test_teletype_at_column_79_wraps_to_the_next_row():
    screen = ScreenBuffer()
    screen.write_teletype(b"x" * 79 + b"YZ")
    assert screen.text()[0] == "x" * 79 + "Y"
    assert screen.text()[1] == "Z"
    assert (screen.cursor_row, screen.cursor_column) == (1, 1)


def test_eighty_characters_then_cr_lf_leave_an_empty_line_as_on_a_pc():
    screen = ScreenBuffer()
    screen.write_teletype(b"=" * 80 + b"\r\nnext")
    assert screen.text()[:3] == ["=" * 80, "", "next"]


def test_backspace_moves_left_without_erasing_and_stops_at_column_0():
    screen = ScreenBuffer()
    screen.write_teletype(b"abc\b\bX")
    assert screen.text()[0] == "aXc"
    screen.write_teletype(b"\r\b\b\bZ")
    assert screen.text()[0] == "ZXc"


def test_tab_advances_to_the_next_multiple_of_8():
    screen = ScreenBuffer()
    screen.write_teletype(b"ab\tc\t\td")
    assert screen.text()[0] == "ab      c               d"
    assert screen.cursor_column == 25


def test_bel_rings_and_moves_nothing():
    screen = ScreenBuffer()
    screen.write_teletype(b"a\ab")
    assert screen.bells == 1
    assert screen.text()[0] == "ab"


def test_teletype_below_the_bottom_row_scrolls_with_the_cursor_cells_attribute():
    screen = numbered()
    screen.fill(24, 0, 80, attribute=0x4E)
    screen.set_cursor(24, 0)
    screen.write_teletype(b"\nlast")
    assert screen.text()[0] == "row 1"
    assert screen.text()[23] == "row 24"
    assert screen.text()[24] == "last"
    assert screen.attribute(24, 40) == 0x4E
    assert (screen.cursor_row, screen.cursor_column) == (24, 4)


def test_teletype_with_an_attribute_colours_what_it_writes():
    screen = ScreenBuffer()
    screen.write_teletype(b"ok", 0x0A)
    assert screen.attribute(0, 0) == 0x0A and screen.attribute(0, 2) == 0x07


def test_video_memory_stores_land_in_cells():
    screen = ScreenBuffer()
    screen.store(2 * (80 * 5 + 3), b"H\x1fi")        # character, attribute, character
    assert screen.cell(5, 3) == (ord("H"), 0x1F)
    assert screen.cell(5, 4) == (ord("i"), 0x07)
    with pytest.raises(ScreenError):
        screen.store(4000 - 1, b"ab")


def test_positions_outside_the_screen_are_refused():
    screen = ScreenBuffer()
    with pytest.raises(ScreenError):
        screen.set_cursor(25, 0)
    with pytest.raises(ScreenError):
        screen.write(0, 80, b"x\x07")


def test_painting_not_teletype_is_what_marks_the_screen_painted():
    screen = ScreenBuffer()
    screen.write_teletype(b"hello\r\n")
    screen.scroll(0, 0, 24, 79, 0)
    assert not screen.painted
    screen.write(3, 3, b"box", CHARACTERS)
    assert screen.painted


def test_changes_are_handed_out_once_as_spans_per_row():
    screen = ScreenBuffer()
    screen.take_changes()
    screen.write(2, 5, b"abc", CHARACTERS)
    screen.write(2, 20, b"d", CHARACTERS)
    screen.write_teletype(b"x")
    assert screen.take_changes() == {0: (0, 0), 2: (5, 20)}
    assert screen.take_changes() == {}


def test_screen_text_keeps_the_rows_between_the_first_and_last_used():
    screen = ScreenBuffer()
    screen.write(2, 0, b"top", CHARACTERS)
    screen.write(4, 2, b"\xc9\xcd\xbb", CHARACTERS)
    assert screen_text(screen) == "top\n\n  ╔═╗\n"
    assert screen_text(ScreenBuffer()) == ""


def test_the_terminal_painter_draws_a_cell_at_its_row_and_column_in_its_colours():
    screen = ScreenBuffer()
    painter = TerminalPainter(80, 25)
    painter.begin(screen)
    screen.write(5, 10, b"#\x1e")                   # yellow on blue
    out = painter.update(screen)
    assert "\x1b[6;11H" in out                       # 1-based: row 6, column 11
    assert "\x1b[0;93;44m#" in out
    assert out.endswith("\x1b[1;1H")                 # the cursor where the buffer's is


def test_pc_colours_become_ansi_colours():
    assert sgr(0x07) == "\x1b[0;37;40m"
    assert sgr(0x1C) == "\x1b[0;91;44m"              # light red on blue
    assert sgr(0xE1) == "\x1b[0;34;43;5m"            # blue on brown, blinking


def test_a_new_mode_clears_the_terminal_before_the_smaller_screen_is_painted():
    screen = ScreenBuffer()
    painter = TerminalPainter(80, 25)
    painter.begin(screen)
    screen.resize(40, 25)
    out = painter.update(screen)
    assert out.startswith("\x1b[0m\x1b[2J")
    assert "\x1b[25;1H" in out and "\x1b[25;41H" not in out
