"""Painting the marks into the picture: the one place that makes the bytes that are stored,
sent to the AI provider and synced (through `redact.guard.apply_marks`, which fails closed).

Redactions are painted solid with `redact.paint` (RGB, no alpha to carry what lay under a box)
and the result is encoded as PNG without metadata. Mark-up is painted in the order drawn;
redactions are painted last, so no later mark can bring back ink where a box hides it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from snapask_desktop.editor.marks import (
    Arrow,
    Frame,
    Highlight,
    Label,
    Mark,
    Redaction,
    arrow_shape,
    frame_bands,
    redacted_boxes,
)
from snapask_desktop.redact.paint import paint_boxes

MARK_COLOUR = (229, 57, 53)  # a red that reads on light and dark screenshots
HIGHLIGHT_COLOUR = (255, 213, 0)
HIGHLIGHT_ALPHA = 0.4
LABEL_TEXT = (255, 255, 255)
LABEL_PAD = 4


def render_marks(image: Image.Image, marks: Sequence[Mark]) -> Image.Image:
    """A copy of `image` (RGB) with `marks` painted on it; redactions over everything else."""
    out = image.convert("RGB")
    if out is image:
        out = image.copy()
    for mark in marks:
        if isinstance(mark, Highlight):
            _highlight(out, mark)
        elif isinstance(mark, Frame):
            _frame(out, mark)
        elif isinstance(mark, Arrow):
            _arrow(out, mark)
        elif isinstance(mark, Label):
            _label(out, mark)
        elif not isinstance(mark, Redaction):
            raise TypeError(f"not a mark: {mark!r}")
    boxes = redacted_boxes(marks)
    return paint_boxes(out, boxes, pad=0) if boxes else out


def label_box(mark: Label) -> tuple[int, int, int, int]:
    """The label's background box in image pixels (text plus padding)."""
    font = _font(mark.size)
    _left, _top, right, bottom = font.getbbox(mark.text)
    x, y = mark.at
    return (x, y, x + int(right) + 2 * LABEL_PAD, y + int(max(bottom, mark.size)) + 2 * LABEL_PAD)


def _highlight(image: Image.Image, mark: Highlight) -> None:
    left, top, right, bottom = mark.box
    if right <= left or bottom <= top:
        return
    area = image.crop(mark.box)
    tint = Image.new("RGB", area.size, HIGHLIGHT_COLOUR)
    image.paste(Image.blend(area, tint, HIGHLIGHT_ALPHA), mark.box[:2])


def _frame(image: Image.Image, mark: Frame) -> None:
    left, top, right, bottom = mark.box
    if right <= left or bottom <= top:
        return
    draw = ImageDraw.Draw(image)
    for band in frame_bands(mark):
        draw.rectangle((band[0], band[1], band[2] - 1, band[3] - 1), fill=MARK_COLOUR)


def arrow_image(mark: Arrow) -> tuple[Image.Image, tuple[int, int]]:
    """The arrow alone (RGBA, transparent around it) and where its top-left corner goes: the
    editor draws this very image, so the arrow looks as it will be sent."""
    shaft_end, head = arrow_shape(mark)
    points = [mark.start, shaft_end, *head]
    margin = mark.width + 2
    left = int(min(x for x, _ in points)) - margin
    top = int(min(y for _, y in points)) - margin
    right = int(max(x for x, _ in points)) + margin + 1
    bottom = int(max(y for _, y in points)) + margin + 1
    tile = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)

    def moved(point: tuple[float, float]) -> tuple[float, float]:
        return point[0] - left, point[1] - top

    draw.line([moved(mark.start), moved(shaft_end)], fill=MARK_COLOUR, width=mark.width)
    draw.polygon([moved(corner) for corner in head], fill=MARK_COLOUR)
    return tile, (left, top)


def _arrow(image: Image.Image, mark: Arrow) -> None:
    tile, at = arrow_image(mark)
    image.paste(tile, at, tile)


def label_image(mark: Label) -> Image.Image:
    """The label alone (RGBA, transparent outside its rounded box), the size of `label_box`:
    the editor draws this very image, so the label looks as it will be sent."""
    left, top, right, bottom = label_box(mark)
    tile = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    draw.rounded_rectangle((0, 0, tile.width - 1, tile.height - 1), radius=3, fill=MARK_COLOUR)
    draw.text((LABEL_PAD, LABEL_PAD), mark.text, font=_font(mark.size), fill=LABEL_TEXT)
    return tile


def _label(image: Image.Image, mark: Label) -> None:
    tile = label_image(mark)
    image.paste(tile, mark.at, tile)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: the same glyphs on every OS, nothing to find on the system.
    return ImageFont.load_default(size)
