"""Painting solid boxes over parts of a picture: redaction that leaves nothing to recover."""

from __future__ import annotations

import io
from collections.abc import Iterable

from PIL import Image, ImageDraw

from snapask_desktop.ocr.result import Box

# OCR boxes may leave out a faint anti-aliased pixel at a word's edge (tests/ocr); the padding
# covers it, in the picture's own pixels.
PAD = 2
FILL = (0, 0, 0)


def paint_boxes(image: Image.Image, boxes: Iterable[Box], pad: int = PAD) -> Image.Image:
    """A copy of `image` (RGB: no alpha channel to carry what is under a box) with a solid
    box painted over each of `boxes`, grown by `pad` pixels and clipped to the picture."""
    painted = image.convert("RGB")
    if painted is image:
        painted = image.copy()
    draw = ImageDraw.Draw(painted)
    for left, top, right, bottom in boxes:
        area = (
            max(0, left - pad),
            max(0, top - pad),
            min(painted.width, right + pad) - 1,  # ImageDraw's rectangle includes its corner
            min(painted.height, bottom + pad) - 1,
        )
        if area[2] >= area[0] and area[3] >= area[1]:
            draw.rectangle(area, fill=FILL)
    return painted


def png_bytes(image: Image.Image) -> bytes:
    """Encode losslessly (a JPEG's ringing could bleed what lay beside a box into it); the
    encoder writes no metadata, so nothing of the original rides along."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
