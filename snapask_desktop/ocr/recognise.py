"""recognise(image): the words of a picture and where they are, read locally by Tesseract."""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from snapask_desktop.ocr import engine
from snapask_desktop.ocr.prepare import prepare
from snapask_desktop.ocr.result import Box, OcrResult, Word
from snapask_desktop.ocr.split import Piece, Rect, cut, share_out

# Below this many pixels (after enlarging: a 500x500 region at 2x) a picture is read on one
# thread: the layout pass the split needs and a second model instance cost more than the
# second core saves.
SPLIT_PIXELS = 1_000_000
PIECES_PER_WORKER = 2  # more pieces than workers, so a worker with short lines is not idle

_Found = tuple[str, tuple[int, int, int, int], float, int, int]  # text, bounds, conf, line, block

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def workers() -> int:
    """How many threads read one picture: both cores of a 2-core machine, never more than 2
    (each thread holds its own model, ~25 MB, and the pieces get small)."""
    return max(1, min(2, os.cpu_count() or 1))


def recognise(image: Image.Image, *, sparse: bool = False, threads: int | None = None) -> OcrResult:
    """Read `image`; boxes are in its own pixels. Raises OcrUnavailable or OcrError.

    The default follows the page's layout (columns, paragraphs: the text reads well). Layout
    analysis can drop a line it takes for a rule or a picture (seen: `-----BEGIN ... KEY-----`),
    so redaction also reads `sparse`ly: as much text as can be found, in no useful order.
    A large picture read by layout is cut into pieces read on `threads` threads at once
    (default `workers()`); the choice depends on its size and the machine, never on its load,
    so the same picture always reads the same.
    """
    if image.width == 0 or image.height == 0:
        return OcrResult((), image.width, image.height)
    prepared = prepare(image)
    count = workers() if threads is None else max(1, threads)
    found: list[_Found] | None = None
    if not sparse and count > 1 and prepared.image.width * prepared.image.height >= SPLIT_PIXELS:
        found = _read_in_pieces(prepared.image, count)
    if found is None:
        found = _read_whole(prepared.image, sparse)
    words = [
        Word(text, _original_box(bounds, prepared.scale, image.width, image.height), conf, ln, bl)
        for text, bounds, conf, ln, bl in found
    ]
    return OcrResult(tuple(words), image.width, image.height)


def _read_whole(image: Image.Image, sparse: bool) -> list[_Found]:
    api = engine.api(sparse)
    try:
        api.SetImage(image)
        if not api.Recognize():
            raise engine.OcrError("Tesseract could not read the picture")
        return _words(api)
    finally:
        api.Clear()  # drop the picture and results: they are large and may hold secrets


def _read_in_pieces(image: Image.Image, count: int) -> list[_Found] | None:
    """The words of `image` read piece by piece on `count` threads, in the layout's reading
    order; None when the layout found too little text to share out."""
    pieces = cut(_layout(image), count * PIECES_PER_WORKER, image.width, image.height)
    if len(pieces) < 2:
        return None
    first, *others = share_out(pieces, count)
    # The calling thread reads a share too, with the model it found the layout with: one model
    # fewer in memory (~25 MB) than a pool of `count` threads.
    futures = [
        _thread_pool(count - 1).submit(_read_pieces, image, pieces, group) for group in others
    ]
    try:
        by_piece = _read_pieces(image, pieces, first, here=True)
    finally:
        results = [future.result() for future in futures]  # never leave a worker reading
    for result in results:
        by_piece.update(result)
    found: list[_Found] = []
    line = -1
    for index, piece in enumerate(pieces):
        previous = None
        for text, bounds, conf, piece_line, _ in by_piece[index]:
            if piece_line != previous:
                line += 1
                previous = piece_line
            found.append((text, bounds, conf, line, piece.block))
    return found


def _layout(image: Image.Image) -> list[list[Rect]]:
    """The text lines of each text block, in reading order, in `image`'s pixels."""
    tesserocr = engine.binding()
    ril = tesserocr.RIL
    text_blocks = _text_block_types(tesserocr)
    api = engine.api(False)
    blocks: list[list[Rect]] = []
    try:
        api.SetImage(image)
        iterator = api.AnalyseLayout()
        kind = None
        for item in tesserocr.iterate_level(iterator, ril.TEXTLINE) if iterator else ():
            if item.IsAtBeginningOf(ril.BLOCK) or not blocks:
                blocks.append([])
                kind = item.BlockType()
            bounds = item.BoundingBox(ril.TEXTLINE)
            if bounds is not None and kind in text_blocks:
                blocks[-1].append(bounds)
    finally:
        api.Clear()
    return [lines for lines in blocks if lines]


def _text_block_types(tesserocr: Any) -> set[int]:
    pt = tesserocr.PT
    return {
        pt.FLOWING_TEXT,
        pt.HEADING_TEXT,
        pt.PULLOUT_TEXT,
        pt.TABLE,
        pt.VERTICAL_TEXT,
        pt.CAPTION_TEXT,
        pt.INLINE_EQUATION,
    }


def _read_pieces(
    image: Image.Image, pieces: list[Piece], group: list[int], *, here: bool = False
) -> dict[int, list[_Found]]:
    """Each piece of `group` read as one block: on a worker with that thread's block model,
    `here` with this thread's layout model switched to one block for the while."""
    tesserocr = engine.binding()
    api = engine.api(False) if here else engine.api(block=True)
    if here:
        api.SetPageSegMode(tesserocr.PSM.SINGLE_BLOCK)
    out: dict[int, list[_Found]] = {}
    try:
        api.SetImage(image)
        for index in group:
            left, top, right, bottom = pieces[index].rect
            api.SetRectangle(left, top, right - left, bottom - top)
            if not api.Recognize():
                raise engine.OcrError("Tesseract could not read the picture")
            out[index] = _words(api)
    finally:
        api.Clear()
        if here:
            api.SetPageSegMode(tesserocr.PSM.AUTO)
    return out


def _words(api: Any) -> list[_Found]:
    """The words of the last reading with their boxes (in the picture read), confidence,
    and the index of their line and block."""
    tesserocr = engine.binding()
    level = tesserocr.RIL.WORD
    found: list[_Found] = []
    iterator = api.GetIterator()
    line = block = -1
    for item in tesserocr.iterate_level(iterator, level) if iterator else ():
        if item.IsAtBeginningOf(tesserocr.RIL.BLOCK):
            block += 1
        if item.IsAtBeginningOf(tesserocr.RIL.TEXTLINE):
            line += 1
        try:
            text = item.GetUTF8Text(level)
        except RuntimeError:  # tesserocr's way of saying "an empty word"
            continue
        bounds = item.BoundingBox(level)
        if not text.strip() or bounds is None:
            continue
        found.append((text.strip(), bounds, float(item.Confidence(level)), line, block))
    return found


def _thread_pool(size: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, size), thread_name_prefix="snapask-ocr-piece")
        return _pool


def _original_box(bounds: tuple[int, int, int, int], scale: float, width: int, height: int) -> Box:
    """A box of the enlarged picture in the original's pixels, rounded outwards so that a box
    painted over it covers every pixel of the word."""
    left, top, right, bottom = bounds
    return (
        max(0, math.floor(left / scale)),
        max(0, math.floor(top / scale)),
        min(width, math.ceil(right / scale)),
        min(height, math.ceil(bottom / scale)),
    )
