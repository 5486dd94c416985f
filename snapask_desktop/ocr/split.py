"""Cutting a picture's text into pieces that two threads can read at once, in reading order.

Tesseract spends most of a reading (three quarters of its instructions on a screen of code) in
its LSTM, line after line, on one core. The layout is found first on the whole picture (cheap:
a tenth of the time), then its blocks are cut at line boundaries into pieces of about equal
area; each piece is read as one block, and the words come back in the layout's order.
"""

from __future__ import annotations

from dataclasses import dataclass

Rect = tuple[int, int, int, int]  # left, top, right, bottom in the prepared picture's pixels

# A line box can clip an anti-aliased edge or a descender: pieces are read a little larger.
PAD = 4


@dataclass(frozen=True, slots=True)
class Piece:
    """Consecutive lines of one layout block, read together on one thread."""

    block: int  # the block's index in reading order
    rect: Rect
    area: int  # the lines' area: the reading's cost grows with it


def cut(blocks: list[list[Rect]], count: int, width: int, height: int) -> list[Piece]:
    """The blocks' lines (in reading order) in runs of about 1/`count` of all the lines' area.

    A run never spans two blocks; a piece's rectangle is its lines' union, padded by PAD and
    kept inside the picture.
    """
    total = sum(_area(line) for lines in blocks for line in lines)
    if total == 0:
        return []
    share = total / max(1, count)
    pieces: list[Piece] = []
    for index, lines in enumerate(blocks):
        run: list[Rect] = []
        area = 0
        for line in lines:
            run.append(line)
            area += _area(line)
            if area >= share:
                pieces.append(_piece(index, run, area, width, height))
                run, area = [], 0
        if run:
            pieces.append(_piece(index, run, area, width, height))
    return pieces


def share_out(pieces: list[Piece], workers: int) -> list[list[int]]:
    """Piece indices for each worker, largest first to the least loaded, so that the workers
    finish together; each worker's list is in reading order."""
    loads = [0] * workers
    lists: list[list[int]] = [[] for _ in range(workers)]
    for index in sorted(range(len(pieces)), key=lambda i: -pieces[i].area):
        worker = loads.index(min(loads))
        lists[worker].append(index)
        loads[worker] += pieces[index].area
    return [sorted(indices) for indices in lists if indices]


def _area(rect: Rect) -> int:
    return max(0, rect[2] - rect[0]) * max(0, rect[3] - rect[1])


def _piece(block: int, lines: list[Rect], area: int, width: int, height: int) -> Piece:
    rect = (
        max(0, min(r[0] for r in lines) - PAD),
        max(0, min(r[1] for r in lines) - PAD),
        min(width, max(r[2] for r in lines) + PAD),
        min(height, max(r[3] for r in lines) + PAD),
    )
    return Piece(block, rect, area)
