"""Reading a large picture on two threads: pieces in reading order, the same words as one."""

from __future__ import annotations

from snapask_desktop.ocr import recognise
from snapask_desktop.ocr.split import PAD, cut, share_out
from tests.ai.screens import Drawn, screenshot
from tests.ocr.samples import word_match


def test_blocks_are_cut_at_lines_into_pieces_of_about_equal_area() -> None:
    lines = [(10, 10 + 20 * i, 410, 25 + 20 * i) for i in range(8)]  # 8 lines of 400x15
    side = [(500, 10, 600, 25)]
    pieces = cut([lines, side], 4, 700, 300)
    # a quarter of 8 x 6000 + 1500 is 12,375: three lines (18,000) fill a piece
    assert [p.block for p in pieces] == [0, 0, 0, 1]
    assert pieces[0].rect == (10 - PAD, 10 - PAD, 410 + PAD, 65 + PAD)  # lines 0 to 2
    assert pieces[-1].rect == (500 - PAD, 10 - PAD, 600 + PAD, 25 + PAD)
    assert all(p.rect[0] >= 0 and p.rect[2] <= 700 for p in pieces)
    assert cut([], 4, 700, 300) == []


def test_pieces_are_shared_so_that_workers_finish_together() -> None:
    lines = [(0, 20 * i, 100 * (1 + i % 3), 20 * i + 15) for i in range(12)]
    pieces = cut([lines], 4, 400, 300)
    groups = share_out(pieces, 2)
    assert sorted(i for group in groups for i in group) == list(range(len(pieces)))
    loads = [sum(pieces[i].area for i in group) for group in groups]
    assert max(loads) <= 1.5 * min(loads)
    assert all(group == sorted(group) for group in groups)
    assert share_out(pieces[:1], 2) == [[0]]


def test_two_threads_read_a_screen_as_one_does_in_the_same_order() -> None:
    drawn: Drawn = []
    screen = screenshot(1280, 720, drawn=drawn)  # 2x enlarged: 3.7 MP, well above the split
    one, two = recognise(screen, threads=1), recognise(screen, threads=2)
    expected = [w for text, _ in drawn for w in text.split()]
    recall_one, _ = word_match(expected, one.text)
    recall_two, precision_two = word_match(expected, two.text)
    assert recall_two >= recall_one - 0.02 and precision_two >= 0.7, (recall_two, recall_one)
    # reading order: the file list before the editor, lines numbered in order
    lines = [w.line for w in two.words]
    assert lines == sorted(lines) and lines[0] == 0
    assert [w.block for w in two.words] == sorted(w.block for w in two.words)
    first_file = next(w for w in two.words if w.text.endswith(".py"))
    assert two.words.index(first_file) < len(two.words) // 2
    # boxes come back in the screen's pixels
    assert all(
        0 <= w.box[0] < w.box[2] <= 1280 and 0 <= w.box[1] < w.box[3] <= 720 for w in two.words
    )


def test_small_pictures_and_sparse_readings_stay_on_one_thread(monkeypatch) -> None:
    import sys

    module = sys.modules["snapask_desktop.ocr.recognise"]
    calls: list[int] = []
    monkeypatch.setattr(module, "_read_in_pieces", lambda image, count: calls.append(count))
    small = screenshot(400, 300)
    recognise(small, threads=2)
    recognise(screenshot(1280, 720), sparse=True, threads=2)
    assert calls == []
    recognise(screenshot(1280, 720), threads=2)
    assert calls == [2]
