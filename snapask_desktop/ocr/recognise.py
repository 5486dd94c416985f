"""recognise(image): the words of a picture and where they are, read locally by Tesseract."""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from PIL import Image

from snapask_desktop.ocr import engine, split
from snapask_desktop.ocr.prepare import enlarge, ink, page, scale_for
from snapask_desktop.ocr.result import OcrResult, Word
from snapask_desktop.ocr.split import Found

# Below this many pixels (after enlarging: a 500x500 region at 2x) a picture is read on one
# thread: a second model instance and the pieces' overhead cost more than the second core
# saves.
SPLIT_PIXELS = 1_000_000
PIECES_PER_WORKER = 3  # more pieces than workers, so a worker with short lines is not idle

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
    grey = page(image)
    text = split.blocks(ink(grey))
    scale = scale_for(grey.width, grey.height, split.line_height(split.all_lines(text)))
    count = workers() if threads is None else max(1, threads)
    found: list[Found] | None = None
    if not sparse and count > 1 and grey.width * grey.height * scale * scale >= SPLIT_PIXELS:
        found = _read_in_pieces(grey, text, count)
    if found is None:
        found = _read_whole(grey, scale, sparse)
    words = [Word(text, box, conf, line, block) for text, box, conf, line, block in found]
    return OcrResult(tuple(words), image.width, image.height)


def _read_whole(grey: Image.Image, scale: float, sparse: bool) -> list[Found]:
    api = engine.api(sparse)
    try:
        api.SetImage(enlarge(grey, scale))
        if not api.Recognize():
            raise engine.OcrError("Tesseract could not read the picture")
        return _words(api, (0, 0), scale, grey.size)
    finally:
        api.Clear()  # drop the picture and results: they are large and may hold secrets


def _read_in_pieces(grey: Image.Image, text: list[split.Block], count: int) -> list[Found] | None:
    """The words of `grey` (whose `text` was found by split.blocks) read piece by piece on
    `count` threads, in reading order; None when it holds too little text to share out."""
    cut = split.pieces(text, count * PIECES_PER_WORKER)
    if len(cut) < 2:
        return None
    # Heaviest first, each thread taking the next piece when it is done: they finish together.
    queue = deque(sorted(range(len(cut)), key=lambda i: -cut[i].weight))
    read: dict[int, list[Found]] = {}
    pool = _thread_pool(count - 1)
    futures = [pool.submit(_read_pieces, grey, cut, queue, read) for _ in range(count - 1)]
    try:
        _read_pieces(grey, cut, queue, read)  # this thread reads pieces too
    finally:
        queue.clear()  # after a failure here the workers stop at the piece they are reading
        wait(futures)  # never leave a worker reading
    for future in futures:
        future.result()  # a worker's failure
    return split.merge(cut, [read[i] for i in range(len(cut))])


def _read_pieces(
    grey: Image.Image,
    cut: list[split.Piece],
    queue: deque[int],
    read: dict[int, list[Found]],
) -> None:
    """Take pieces from `queue` until it is empty; each is cut out, enlarged as the size of its
    text needs and read with this thread's model into `read`."""
    psm = engine.binding().PSM
    api = engine.api(False)
    try:
        while queue:
            try:
                index = queue.popleft()
            except IndexError:  # another thread took the last one
                return
            piece = cut[index]
            # Lines of text only: read as one block (Tesseract's layout pass would cost more
            # and drop the line numbers of a code editor); anything taller, by Tesseract's
            # layout, which leaves out what is a picture rather than text.
            api.SetPageSegMode(psm.SINGLE_BLOCK if piece.lines_only else psm.AUTO)
            scale = scale_for(grey.width, grey.height, piece.line_height)
            api.SetImage(enlarge(grey.crop(piece.rect), scale))
            if not api.Recognize():
                raise engine.OcrError("Tesseract could not read the picture")
            read[index] = _words(api, piece.rect[:2], scale, grey.size)
    finally:
        api.Clear()
        api.SetPageSegMode(psm.AUTO)


def _words(api: Any, origin: tuple[int, int], scale: float, size: tuple[int, int]) -> list[Found]:
    """The words of the last reading with their boxes in the picture's pixels (the reading
    was of a part enlarged `scale` times whose corner is at `origin`), confidence, and the
    index of their line and block."""
    tesserocr = engine.binding()
    level = tesserocr.RIL.WORD
    found: list[Found] = []
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
        box = split.to_original(bounds, origin, scale, size)
        found.append((text.strip(), box, float(item.Confidence(level)), line, block))
    return found


def _thread_pool(size: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, size), thread_name_prefix="snapask-ocr-piece")
        return _pool
