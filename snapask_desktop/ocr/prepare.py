"""Making a screenshot easy for Tesseract: grey, dark text on light, small text enlarged."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageOps, ImageStat

from snapask_desktop.ocr.split import Ink, all_lines, blocks, line_height

# Tesseract's models read text best at about 20-30 px cap height; UI text is 9-14 px, so a
# plain screenshot loses characters (13 px DejaVu Sans: 44 % CER at 1x, 0 % at 2x). Enlarging
# costs time in proportion to the area, so large pictures (HiDPI screens, whose text is already
# big) are enlarged less or not at all.
_SCALES = ((2_100_000, 2.0), (4_000_000, 1.5))  # up to this many pixels: this factor
# Lines of text this tall (ink from ascenders to descenders, the median of the picture's or
# the piece's lines: 18 px type and larger, the UI text of a 2x HiDPI screen) are read as they
# are: 14-24 px type read at 1x with no error, and a region of a 2x screen took half the CPU
# with the same words found (docs/benchmarks.md).
LARGE_TEXT = 22


@dataclass(frozen=True, slots=True)
class Prepared:
    """The picture Tesseract reads and the factor it was enlarged by."""

    image: Image.Image
    scale: float


def scale_for(width: int, height: int, line_height: int = 0) -> float:
    """How much to enlarge a picture of this size, whose text lines are `line_height` px tall
    (0: not known), before reading it."""
    if line_height >= LARGE_TEXT:
        return 1.0
    pixels = width * height
    for limit, scale in _SCALES:
        if pixels <= limit:
            return scale
    return 1.0


def prepare(image: Image.Image) -> Prepared:
    """`page`, enlarged by `scale_for`: the picture as a reading of it as a whole sees it."""
    grey = page(image)
    scale = scale_for(grey.width, grey.height, line_height(all_lines(blocks(ink(grey)))))
    return Prepared(enlarge(grey, scale), scale)


def page(image: Image.Image) -> Image.Image:
    """Grey, inverted when mostly dark (dark themes), dark bars inverted, at the picture's size."""
    grey = (image if image.mode in ("RGB", "L") else image.convert("RGB")).convert("L")
    # Tesseract's binarisation expects dark text on a light page; a dark theme reads far better
    # inverted (per-line inversion inside Tesseract misses short labels).
    if ImageStat.Stat(grey).mean[0] < 128:
        grey = ImageOps.invert(grey)
    return _invert_dark_bands(grey)


def enlarge(grey: Image.Image, scale: float) -> Image.Image:
    """`grey` enlarged `scale` times (bicubic), or itself at 1."""
    if scale == 1.0:
        return grey
    size = (round(grey.width * scale), round(grey.height * scale))
    return grey.resize(size, Image.Resampling.BICUBIC)


# Neighbouring pixels that differ by more than this are an edge of something drawn: ink.
_EDGE = 24


def ink(grey: Image.Image) -> Ink:
    """Where `grey` has ink (see ocr/split.py): each pixel that differs by more than _EDGE
    from the one to its left or the one above it."""
    width, height = grey.size
    edges = Image.new("L", grey.size, 0)
    if width > 1:
        across = ImageChops.difference(
            grey.crop((1, 0, width, height)), grey.crop((0, 0, width - 1, height))
        )
        edges.paste(across, (1, 0))
    if height > 1:
        down = Image.new("L", grey.size, 0)
        down.paste(
            ImageChops.difference(
                grey.crop((0, 1, width, height)), grey.crop((0, 0, width, height - 1))
            ),
            (0, 1),
        )
        edges = ImageChops.lighter(edges, down)
    mask = edges.point(lambda v: 1 if v > _EDGE else 0)
    return Ink(width, height, mask.tobytes(), mask.transpose(Image.Transpose.TRANSPOSE).tobytes())


# A row whose pixels are mostly dark has a dark background (a row through dark text on a light
# page is at most about half ink); bands of such rows thinner than this are rules, not bars.
_DARK_ROW = 0.7
_MIN_BAND = 6


def _invert_dark_bands(grey: Image.Image) -> Image.Image:
    """Full-width dark bars on a light page (a window's title bar, a dark toolbar) inverted to
    dark text on light: Tesseract's layout drops their light text (a title bar was lost whole)."""
    dark = grey.point(lambda v: 255 if v < 128 else 0).resize(
        (1, grey.height), Image.Resampling.BOX
    )
    rows = [dark.getpixel((0, y)) >= 255 * _DARK_ROW for y in range(grey.height)]
    out = grey
    y = 0
    while y < grey.height:
        if not rows[y]:
            y += 1
            continue
        start = y
        while y < grey.height and rows[y]:
            y += 1
        if y - start >= _MIN_BAND:
            if out is grey:
                out = grey.copy()
            band = (0, start, grey.width, y)
            out.paste(ImageOps.invert(grey.crop(band)), band[:2])
    return out
