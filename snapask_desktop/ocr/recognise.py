"""recognise(image): the words of a picture and where they are, read locally by Tesseract."""

from __future__ import annotations

import math

from PIL import Image

from snapask_desktop.ocr import engine
from snapask_desktop.ocr.prepare import prepare
from snapask_desktop.ocr.result import Box, OcrResult, Word


def recognise(image: Image.Image, *, sparse: bool = False) -> OcrResult:
    """Read `image`; boxes are in its own pixels. Raises OcrUnavailable or OcrError.

    The default follows the page's layout (columns, paragraphs: the text reads well). Layout
    analysis can drop a line it takes for a rule or a picture (seen: `-----BEGIN ... KEY-----`),
    so redaction also reads `sparse`ly: as much text as can be found, in no useful order.
    """
    if image.width == 0 or image.height == 0:
        return OcrResult((), image.width, image.height)
    prepared = prepare(image)
    api = engine.api(sparse)
    tesserocr = engine.binding()
    level = tesserocr.RIL.WORD
    words: list[Word] = []
    try:
        api.SetImage(prepared.image)
        if not api.Recognize():
            raise engine.OcrError("Tesseract could not read the picture")
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
            box = _original_box(bounds, prepared.scale, image.width, image.height)
            words.append(Word(text.strip(), box, float(item.Confidence(level)), line, block))
    finally:
        api.Clear()  # drop the picture and results: they are large and may hold secrets
    return OcrResult(tuple(words), image.width, image.height)


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
