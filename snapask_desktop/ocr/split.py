"""Cutting a picture into pieces that two threads can read at once, and putting the words back.

Tesseract spends most of a reading (three quarters of its instructions on a screen of code) in
its LSTM, line after line, on one core, and releases the GIL meanwhile. So a large picture is
cut into pieces read on both cores, without asking Tesseract for its layout first (that pass
cost a fifth of a reading at 2x, all of it before the second core could start). On a map of
the picture's ink (pixels that differ from their neighbours, `Ink`) it is cut recursively
along blank gaps, the widest first (an X-Y cut), down to text lines; the lines of a column are
grouped into runs of about equal ink, and each piece's edges lie in the middle of blank gaps,
so no cut ever goes through a line. Long straight edges (a panel's border, a rule under a
title bar) would block every cut, so they are taken out of the map first (`without_rules`).

Everything here is pure: `Ink` is plain bytes, and the words come back as tuples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

Rect = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)

# Blank columns needed to cut a region into columns: wider than the space between words of UI
# text (so a line is not cut at its words) and narrower than the gap between panes.
COLUMN_GAP = 24
# Ink unbroken along a row or a column for this long is a border or a rule, not text (the edge
# of a letter's stem is never this long, nor a line of UI text this tall).
RULE_SPAN = 96
MIN_LINE = 3  # ink thinner than this (a border, a rule) holds no text to read
LINE_MAX = 48  # ink taller than this with no blank row across it is not one line of text
PAD = 4  # a piece reaches this far past its lines' ink into the blank around it


@dataclass(frozen=True, slots=True)
class Ink:
    """Where a picture has ink: one byte per pixel, 1 for ink and 0 for none, stored twice
    (row after row and column after column) so that both profiles are cheap to count."""

    width: int
    height: int
    by_row: bytes
    by_column: bytes

    def row_counts(self, rect: Rect) -> list[int]:
        left, top, right, _ = rect
        w = self.width
        return [self.by_row.count(1, y * w + left, y * w + right) for y in range(top, rect[3])]

    def column_counts(self, rect: Rect) -> list[int]:
        left, top, _, bottom = rect
        h = self.height
        return [self.by_column.count(1, x * h + top, x * h + bottom) for x in range(left, rect[2])]


def without_rules(ink: Ink) -> Ink:
    """`ink` without its runs of RULE_SPAN or more along a row or a column."""
    width, height = ink.width, ink.height
    by_row, by_column = bytearray(ink.by_row), bytearray(ink.by_column)
    for y, left, right in _long_runs(ink.by_row, width):
        by_row[y * width + left : y * width + right] = bytes(right - left)
        for x in range(left, right):
            by_column[x * height + y] = 0
    for x, top, bottom in _long_runs(ink.by_column, height):
        by_column[x * height + top : x * height + bottom] = bytes(bottom - top)
        for y in range(top, bottom):
            by_row[y * width + x] = 0
    return Ink(width, height, bytes(by_row), bytes(by_column))


_LONG_RUN = b"\x01" * RULE_SPAN


def _long_runs(data: bytes, length: int) -> list[tuple[int, int, int]]:
    """(line, start, end) of each run of RULE_SPAN or more ink pixels within one line of
    `length` pixels (`data` holds the lines one after another)."""
    runs: list[tuple[int, int, int]] = []
    start = data.find(_LONG_RUN)
    while start >= 0:
        end = data.find(0, start)
        end = len(data) if end < 0 else end
        following = data.find(_LONG_RUN, end)
        while start < end:  # a run may go on from the end of one line into the next
            line, offset = divmod(start, length)
            stop = min(end, (line + 1) * length)
            if stop - start >= RULE_SPAN:
                runs.append((line, offset, offset + stop - start))
            start = stop
        start = following
    return runs


@dataclass(frozen=True, slots=True)
class Block:
    """Lines one under another in one column: `rect` is where pieces of it may reach (the
    blank around it up to half of each gap), `lines` the lines' top and bottom ink rows and
    `weights` their ink (a reading's cost grows with it)."""

    rect: Rect
    lines: tuple[tuple[int, int], ...]
    weights: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Piece:
    """Consecutive lines of one block, read together on one thread."""

    block: int  # the block's index in reading order
    rect: Rect
    weight: int
    lines_only: bool = True  # every line of it is no taller than LINE_MAX
    line_height: int = 0  # the median height of its lines' ink


def blocks(ink: Ink) -> list[Block]:
    """The picture's text as blocks of lines, in reading order (top to bottom, and left to
    right where the picture has columns); borders and rules are left out first."""
    found: list[Block] = []
    _cut(without_rules(ink), (0, 0, ink.width, ink.height), found)
    return found


def pieces(found: Sequence[Block], count: int) -> list[Piece]:
    """Runs of lines of about 1/`count` of all the ink each; a run never spans two blocks, and
    a block's last run, if under half a share, joins the run before it.

    A piece takes its block's width and reaches from halfway up the gap above its first line
    to halfway down the gap below its last (its block's edge for the first and last line).
    """
    total = sum(sum(block.weights) for block in found)
    if total == 0:
        return []
    share = total / max(1, count)
    out: list[Piece] = []
    for index, block in enumerate(found):
        runs: list[tuple[int, int, int]] = []  # first line, last line, weight
        start, weight = 0, 0
        for i, line_weight in enumerate(block.weights):
            weight += line_weight
            if weight >= share or i == len(block.weights) - 1:
                runs.append((start, i, weight))
                start, weight = i + 1, 0
        if len(runs) > 1 and runs[-1][2] < share / 2:
            (first, _, before), (_, last, after) = runs[-2:]
            runs[-2:] = [(first, last, before + after)]
        for first, last, weight in runs:
            top = block.rect[1] if first == 0 else _middle(block.lines, first)
            end = last == len(block.lines) - 1
            bottom = block.rect[3] if end else _middle(block.lines, last + 1)
            rect = (block.rect[0], top, block.rect[2], bottom)
            lines = block.lines[first : last + 1]
            lines_only = all(b - a <= LINE_MAX for a, b in lines)
            out.append(Piece(index, rect, weight, lines_only, line_height(lines)))
    return out


def line_height(lines: Sequence[tuple[int, int]]) -> int:
    """The median height of the lines' ink (top and bottom rows), 0 for no lines: how large
    the text is, ascenders to descenders."""
    heights = sorted(bottom - top for top, bottom in lines)
    return heights[len(heights) // 2] if heights else 0


def all_lines(found: Sequence[Block]) -> list[tuple[int, int]]:
    """The lines of every block."""
    return [line for block in found for line in block.lines]


Found = tuple[str, Rect, float, int, int]  # text, box in the picture, confidence, line, block


def merge(found: Sequence[Piece], read: Sequence[Sequence[Found]]) -> list[Found]:
    """The words of each piece (`read[i]`, in the piece's reading order, lines numbered within
    it) as one reading: pieces in order, lines numbered through, the block of each piece."""
    words: list[Found] = []
    line = -1
    for piece, piece_words in zip(found, read, strict=True):
        previous = None
        for text, bounds, conf, piece_line, _ in piece_words:
            if piece_line != previous:
                line += 1
                previous = piece_line
            words.append((text, bounds, conf, line, piece.block))
    return words


def to_original(
    bounds: tuple[int, int, int, int], origin: tuple[int, int], scale: float, size: tuple[int, int]
) -> Rect:
    """A box read in a piece enlarged `scale` times, whose corner sits at `origin` of the
    picture, in the picture's pixels, rounded outwards so that a box painted over it covers
    every pixel of the word."""
    left, top, right, bottom = bounds
    x, y = origin
    return (
        max(0, x + math.floor(left / scale)),
        max(0, y + math.floor(top / scale)),
        min(size[0], x + math.ceil(right / scale)),
        min(size[1], y + math.ceil(bottom / scale)),
    )


# ----------------------------------------------------------------- the X-Y cut


def _profiles(ink: Ink, rect: Rect) -> tuple[list[int], list[int]]:
    """The ink of each row and of each column of `rect`."""
    return ink.row_counts(rect), ink.column_counts(rect)


def _runs(counts: Sequence[int], min_gap: int) -> list[tuple[int, int]]:
    """Runs of ink (start, end) separated by blank runs of at least `min_gap` (shorter blank
    runs stay inside a run)."""
    runs: list[tuple[int, int]] = []
    start = end = -1
    for i, count in enumerate(counts):
        if not count:
            continue
        if start < 0:
            start = i
        elif i - end >= min_gap:
            runs.append((start, end))
            start = i
        end = i + 1
    if start >= 0:
        runs.append((start, end))
    return runs


def _widest(runs: list[tuple[int, int]]) -> int:
    return max((b[0] - a[1] for a, b in pairwise(runs)), default=0)


def _cut(ink: Ink, rect: Rect, out: list[Block]) -> None:
    """Append the blocks of `rect` to `out`, in reading order."""
    left, top, right, bottom = rect
    row_ink, column_ink = _profiles(ink, rect)
    rows, columns = _runs(row_ink, 1), _runs(column_ink, COLUMN_GAP)
    if not rows:
        return  # no ink: nothing to read
    if len(columns) > 1 and _widest(columns) >= _widest(rows):
        for low, high in _bounds(columns, right - left):
            _cut(ink, (left + low, top, left + high, bottom), out)
        return
    # Lines one under another, made into a block. Ink too thin to be text ends the block; a
    # "line" that may be panes of lines side by side (no row blank across all of them) is cut
    # again if it is.
    typical = sorted(end - start for start, end in rows)[len(rows) // 2]
    lines: list[tuple[int, int]] = []
    weights: list[int] = []
    block_top = block_bottom = top

    def close() -> None:
        if lines:
            box = (*_ink_extent(ink, (left, block_top, right, block_bottom)), block_bottom)
            out.append(Block(box, tuple(lines), tuple(weights)))
            lines.clear()
            weights.clear()

    for (start, end), (low, high) in zip(rows, _bounds(rows, bottom - top), strict=True):
        part = (left, top + low, right, top + high)
        thin = end - start < MIN_LINE
        tall = len(rows) > 1 and end - start > 1.5 * typical
        if thin or (tall and not _is_line(ink, (left, top + start, right, top + end))):
            close()
            if not thin:
                _cut(ink, part, out)
            continue
        if not lines:
            block_top = top + low
        lines.append((top + start, top + end))
        weights.append(sum(row_ink[start:end]))
        block_bottom = top + high
    close()


def _is_line(ink: Ink, rect: Rect) -> bool:
    """Whether `rect` (rows with no blank row across them) is one line of text, perhaps with
    wide gaps, rather than panes side by side each with several lines."""
    left, top, _, bottom = rect
    if bottom - top >= RULE_SPAN:
        return False  # taller than any line of UI text
    columns = _runs(ink.column_counts(rect), COLUMN_GAP)
    return all(
        len(_runs(ink.row_counts((left + a, top, left + b, bottom)), 1)) < 2 for a, b in columns
    )


def _bounds(runs: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Each run widened to halfway into the blank on either side (to the ends at the ends)."""
    edges = [0] + [(a[1] + b[0]) // 2 for a, b in pairwise(runs)] + [length]
    return list(pairwise(edges))


def _ink_extent(ink: Ink, rect: Rect) -> tuple[int, int, int]:
    """Left, top and right of a block: from its first to its last column with ink, padded by
    PAD within `rect`."""
    left, top, right, _ = rect
    columns = ink.column_counts(rect)
    first = next((i for i, c in enumerate(columns) if c), 0)
    last = next((i for i in range(len(columns) - 1, -1, -1) if columns[i]), len(columns) - 1)
    return max(left, left + first - PAD), top, min(right, left + last + 1 + PAD)


def _middle(lines: Sequence[tuple[int, int]], i: int) -> int:
    """The row halfway between line i-1's ink and line i's."""
    return (lines[i - 1][1] + lines[i][0]) // 2
