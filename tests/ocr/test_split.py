"""Reading a large picture on two threads. The cut (pure: no Tesseract): no cut goes through a
line, panes come one after the other, borders and rules are left out, words are put back in
place. With real Tesseract on rendered text: the same words and boxes as one reading, and the
secrets beside every cut still found."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from snapask_desktop.ocr import recognise
from snapask_desktop.ocr.prepare import ink, page
from snapask_desktop.ocr.split import (
    LINE_MAX,
    MIN_LINE,
    Ink,
    Piece,
    blocks,
    line_height,
    merge,
    pieces,
    to_original,
)
from snapask_desktop.redact.paint import FILL, paint_boxes
from snapask_desktop.redact.secrets import find_secrets
from tests.ai.screens import Drawn, screenshot
from tests.ocr.samples import CODE, DARK, DIALOG, LIGHT, SMALL_UI, WEB, font, render, word_match
from tests.redact.screens import secret_screen

Rect = tuple[int, int, int, int]


def ink_of(width: int, height: int, text: list[Rect], solid: list[Rect] = ()) -> Ink:
    """An ink map with `text` lines (ink in every third column, as letters' edges are) and
    `solid` rectangles (borders, rules: ink in every pixel)."""
    pixels = bytearray(width * height)
    for left, top, right, bottom in text:
        for y in range(top, bottom):
            for x in range(left, right, 3):
                pixels[y * width + x] = 1
    for left, top, right, bottom in solid:
        for y in range(top, bottom):
            pixels[y * width + left : y * width + right] = b"\x01" * (right - left)
    by_column = bytes(pixels[y * width + x] for x in range(width) for y in range(height))
    return Ink(width, height, bytes(pixels), by_column)


def assert_no_line_is_cut(found: list[Piece], lines: list[Rect]) -> None:
    """Each line lies wholly inside exactly one piece, and the pieces do not overlap."""
    for line in lines:
        holding = [p for p in found if _inside(line, p.rect)]
        touching = [p for p in found if _overlap(line, p.rect)]
        assert len(holding) == 1 and touching == holding, (line, [p.rect for p in touching])
    for i, a in enumerate(found):
        assert not any(_overlap(a.rect, b.rect) for b in found[i + 1 :]), a


def _inside(a: Rect, b: Rect) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_page_of_lines_is_one_block_cut_between_lines_into_equal_pieces() -> None:
    lines = [(10, 10 + 20 * i, 310, 22 + 20 * i) for i in range(8)]
    ink = ink_of(400, 180, lines)
    (block,) = blocks(ink)
    assert block.lines == tuple((top, bottom) for _, top, _, bottom in lines)
    found = pieces([block], 4)
    assert len(found) == 4 and all(p.weight == found[0].weight for p in found)
    assert_no_line_is_cut(found, lines)
    # each cut lies halfway down the gap between two lines; the first and last reach the edge
    assert [p.rect[1] for p in found] == [0, 46, 86, 126]
    assert found[-1].rect[3] == 180
    assert pieces([], 4) == [] and blocks(ink_of(50, 50, [])) == []


def test_panes_side_by_side_are_read_one_after_the_other_borders_left_out() -> None:
    # A window: a title across the top over a rule, a file list and an editor whose lines do
    # not line up, and a border between them from the rule to the bottom. The rule and the
    # border would block every cut if they were not left out.
    title = (12, 9, 220, 21)
    rule = (0, 32, 800, 33)
    border = (260, 33, 261, 600)
    files = [(32, 44 + 20 * i, 180, 58 + 20 * i) for i in range(27)]
    code = [(274, 44 + 17 * i, 700 - 9 * (i % 5), 58 + 17 * i) for i in range(32)]
    ink = ink_of(800, 600, [title, *files, *code], [rule, border])
    found = blocks(ink)
    order = [line for block in found for line in block.lines]
    expected = [title, *files, *code]
    assert order == [(top, bottom) for _, top, _, bottom in expected]
    editor = found[-1]
    assert editor.lines == tuple((t, b) for _, t, _, b in code)
    assert editor.rect[0] > border[2]  # the border is in no piece
    cut = pieces(found, 4)
    assert_no_line_is_cut(cut, expected)
    assert not any(_overlap(border, p.rect) for p in cut)


def test_a_frame_with_nothing_inside_is_not_read_and_a_caption_under_it_is() -> None:
    frame = [(300, 20, 560, 21), (300, 300, 560, 301), (300, 20, 301, 301), (559, 20, 560, 301)]
    caption = (300, 310, 500, 322)
    text = [(10, 20 + 16 * i, 250, 30 + 16 * i) for i in range(18)]
    found = blocks(ink_of(600, 340, [caption, *text], frame))
    assert [line for block in found for line in block.lines] == [
        *((t, b) for _, t, _, b in text),
        (caption[1], caption[3]),
    ]


def test_one_line_with_wide_gaps_stays_one_line() -> None:
    words = [(10, 10, 80, 22), (140, 10, 300, 22), (360, 10, 420, 22)]  # buttons of a dialog
    lines = [*words, (10, 40, 420, 52)]
    (block,) = blocks(ink_of(440, 64, lines))
    assert block.lines == ((10, 22), (40, 52))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),  # which pane
            st.integers(0, 40),  # indent
            st.integers(20, 150),  # length
            st.integers(MIN_LINE + 1, 16),  # height
            st.integers(1, 12),  # gap above
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 6),
)
def test_no_cut_ever_goes_through_a_line(spec, count) -> None:
    lines: list[Rect] = []
    y = [4, 4]
    for pane, indent, length, height, gap in spec:
        left = 4 + pane * 220 + indent
        top = y[pane] + gap
        lines.append((left, top, left + length, top + height))
        y[pane] = top + height
    height = max(y) + 6
    ink = ink_of(420, height, lines)
    found = pieces(blocks(ink), count)
    assert_no_line_is_cut(found, lines)


def test_words_of_pieces_come_back_in_order_with_lines_numbered_through() -> None:
    cut = [
        Piece(0, (0, 0, 100, 40), 1),
        Piece(0, (0, 40, 100, 80), 1),
        Piece(1, (100, 0, 200, 80), 1),
    ]
    read = [
        [("a", (0, 0, 1, 1), 90.0, 0, 0), ("b", (0, 0, 1, 1), 90.0, 0, 0)],
        [("c", (0, 0, 1, 1), 90.0, 0, 0), ("d", (0, 0, 1, 1), 90.0, 2, 1)],
        [("e", (0, 0, 1, 1), 90.0, 0, 0)],
    ]
    merged = merge(cut, read)
    assert [(w[0], w[3], w[4]) for w in merged] == [
        ("a", 0, 0), ("b", 0, 0), ("c", 1, 0), ("d", 2, 0), ("e", 3, 1),
    ]  # fmt: skip


def test_a_box_read_in_an_enlarged_piece_is_placed_in_the_picture_rounded_outwards() -> None:
    assert to_original((21, 9, 40, 31), (100, 50), 2.0, (400, 300)) == (110, 54, 120, 66)
    assert to_original((0, 0, 30, 30), (390, 290), 2.0, (400, 300)) == (390, 290, 400, 300)
    assert to_original((3, 3, 4, 4), (0, 0), 1.5, (10, 10)) == (2, 2, 3, 3)


def test_each_piece_knows_how_tall_its_text_is() -> None:
    small = [(10, 10 + 16 * i, 300, 21 + 16 * i) for i in range(6)]  # 11 px lines
    large = [(10, 120 + 40 * i, 300, 150 + 40 * i) for i in range(3)]  # 30 px lines
    found = pieces(blocks(ink_of(320, 250, [*small, *large])), 4)
    assert {p.line_height for p in found if p.rect[3] <= 112} == {11}
    assert {p.line_height for p in found if p.rect[1] >= 112} == {30}
    assert line_height([(0, 10), (20, 32), (40, 52)]) == 12 and line_height([]) == 0


def test_a_piece_with_a_line_taller_than_text_is_marked_for_tesseracts_layout() -> None:
    # as much ink each (a tall, narrow one), so each is a piece of its own
    lines = [(10, 10, 200, 22), (10, 30, 52, 30 + LINE_MAX + 10), (10, 100, 200, 112)]
    found = pieces(blocks(ink_of(220, 130, lines)), 4)
    assert [p.lines_only for p in found] == [True, False, True]


# ----------------------------------------------------------------- with Tesseract

PAGE = [*WEB, *DIALOG, *CODE, *SMALL_UI, *WEB, *CODE, *DIALOG, *WEB]


def _cut_of(image: Image.Image) -> list[Piece]:
    return pieces(blocks(ink(page(image))), 4)


def test_two_threads_read_a_page_as_one_does_word_for_word_box_for_box() -> None:
    for image in (
        render(PAGE, font("Sans", 15)),
        render(PAGE, font("SansMono", 13), DARK),
        render(PAGE, font("Serif", 18)),
    ):
        assert image.width * image.height * 4 >= 1_000_000  # enlarged 2x: large enough to cut
        assert len(_cut_of(image)) >= 3
        one, two = recognise(image, threads=1), recognise(image, threads=2)
        assert [w.text for w in two.words] == [w.text for w in one.words]
        for a, b in zip(one.words, two.words, strict=True):
            assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) <= 2, (a, b)
        assert [w.line for w in two.words] == [w.line for w in one.words]


def test_secrets_beside_the_cuts_are_found_and_covered_as_by_one_reading() -> None:
    # One secret a line: every cut lies between two of them.
    for size, colours in ((16, LIGHT), (16, DARK), (18, LIGHT)):
        screen = secret_screen(size, colours)
        assert len(_cut_of(screen.image)) >= 3
        one = find_secrets(recognise(screen.image, threads=1).words)
        two = find_secrets(recognise(screen.image, threads=2).words)
        assert {f.kind for f in one} <= {f.kind for f in two}
        by_one = paint_boxes(screen.image, [box for f in one for box in f.boxes])
        by_two = paint_boxes(screen.image, [box for f in two for box in f.boxes])
        for kind, secret, area in screen.secrets:
            if _covered(by_one, area):
                assert _covered(by_two, area), (size, kind, secret)


def _covered(image: Image.Image, area: tuple[int, int, int, int]) -> bool:
    return image.crop(area).getextrema() == tuple((value, value) for value in FILL)


def test_two_threads_read_a_screen_at_least_as_well_as_one_in_reading_order() -> None:
    drawn: Drawn = []
    screen = screenshot(1280, 720, drawn=drawn)  # 2x enlarged: 3.7 MP, well above the split
    one, two = recognise(screen, threads=1), recognise(screen, threads=2)
    expected = [w for text, _ in drawn for w in text.split()]
    recall_one, precision_one = word_match(expected, one.text)
    recall_two, precision_two = word_match(expected, two.text)
    assert recall_two >= recall_one - 0.02 and precision_two >= precision_one - 0.02
    # reading order: the title, the file list, then the editor, lines numbered in order
    lines = [w.line for w in two.words]
    assert lines == sorted(lines) and lines[0] == 0
    assert [w.block for w in two.words] == sorted(w.block for w in two.words)
    assert two.words[0].text == "main.py"
    first_file = next(w for w in two.words if w.text.endswith(".py") and w.box[0] < 260)
    first_code = next(w for w in two.words if w.box[0] > 300)
    assert two.words.index(first_file) < two.words.index(first_code)
    # boxes come back in the screen's pixels
    assert all(
        0 <= w.box[0] < w.box[2] <= 1280 and 0 <= w.box[1] < w.box[3] <= 720 for w in two.words
    )


def test_small_pictures_and_sparse_readings_stay_on_one_thread(monkeypatch) -> None:
    module = sys.modules["snapask_desktop.ocr.recognise"]
    calls: list[int] = []
    monkeypatch.setattr(module, "_read_in_pieces", lambda grey, text, count: calls.append(count))
    small = screenshot(400, 300)
    recognise(small, threads=2)
    recognise(screenshot(1280, 720), sparse=True, threads=2)
    assert calls == []
    recognise(screenshot(1280, 720), threads=2)
    assert calls == [2]
