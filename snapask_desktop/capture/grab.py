"""A grabbed picture as raw BGRA pixels, cropping, and PNG encoding (no Qt).

mss hands back BGRA rows; keeping them as they are lets the overlay show the picture at
once (a QImage over the same bytes) while PNG encoding waits for a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from snapask_desktop.capture.errors import CaptureError
from snapask_desktop.capture.geometry import Rect, crop_box

BYTES_PER_PIXEL = 4
# zlib level 1: on a 1920x1080 screenshot of text and tables (see docs/capture.md) it
# took 44 ms for 342 KiB, level 6 (Pillow's default) 66 ms for 381 KiB, level 9 370 ms;
# flat screen content compresses well at any level, so the fastest one wins.
PNG_COMPRESS_LEVEL = 1

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, eq=False)
class Grab:
    """A picture of part of the desktop.

    `pixels` holds BGRA rows top to bottom without padding (the 4th byte is ignored).
    `rect` is the physical desktop rectangle it shows (same size as the picture);
    `monitors` are the physical rects of the monitors it spans; `pixel_ratio` is
    physical pixels per native desktop unit (1.0 unless the desktop counts in points).
    The buffer is treated as read-only once wrapped.
    """

    pixels: Buffer
    width: int
    height: int
    rect: Rect
    monitors: tuple[Rect, ...] = ()
    pixel_ratio: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a grab needs a positive size, got {self.width}x{self.height}")
        if (self.rect.width, self.rect.height) != (self.width, self.height):
            raise ValueError(f"rect {self.rect} does not match size {self.width}x{self.height}")
        expected = self.width * self.height * BYTES_PER_PIXEL
        if memoryview(self.pixels).nbytes != expected:
            raise ValueError(
                f"pixel buffer holds {memoryview(self.pixels).nbytes} bytes, expected {expected}"
            )

    @property
    def stride(self) -> int:
        """Bytes per row."""
        return self.width * BYTES_PER_PIXEL

    def rgb_at(self, x: int, y: int) -> tuple[int, int, int]:
        """The (r, g, b) of the pixel at picture coordinates (x, y)."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError(f"pixel ({x}, {y}) is outside {self.width}x{self.height}")
        offset = y * self.stride + x * BYTES_PER_PIXEL
        blue, green, red = memoryview(self.pixels)[offset : offset + 3]
        return (red, green, blue)


def crop(grab: Grab, rect: Rect) -> Grab:
    """The part of `grab` inside `rect` (physical desktop coordinates), clamped to the grab.

    Raises CaptureError when `rect` misses the picture entirely.
    """
    box = crop_box(rect, grab.rect)
    if box is None:
        raise CaptureError(f"The selected area {_describe(rect)} is outside the screen picture.")
    left, top, right, bottom = box
    part = Rect(grab.rect.x + left, grab.rect.y + top, right - left, bottom - top)
    if part == grab.rect:
        return grab
    view = memoryview(grab.pixels)
    row_start, row_len = left * BYTES_PER_PIXEL, part.width * BYTES_PER_PIXEL
    rows = (
        view[y * grab.stride + row_start : y * grab.stride + row_start + row_len]
        for y in range(top, bottom)
    )
    monitors = tuple(m for m in (mon.intersected(part) for mon in grab.monitors) if m)
    return Grab(
        b"".join(rows),
        part.width,
        part.height,
        part,
        monitors,
        grab.pixel_ratio,
        grab.source,
    )


def to_pil(grab: Grab):  # -> PIL.Image.Image (Pillow imported lazily: startup time)
    """An RGB Pillow image of the grab (one copy of the pixels)."""
    from PIL import Image

    return Image.frombuffer(
        "RGB", (grab.width, grab.height), bytes(grab.pixels), "raw", "BGRX", grab.stride, 1
    )


def encode_png(grab: Grab, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """The grab as PNG bytes (RGB, no alpha). CPU-bound: call it off the Qt main thread."""
    if not 0 <= compress_level <= 9:
        raise ValueError(f"PNG compress level must be 0..9, got {compress_level}")
    out = io.BytesIO()
    to_pil(grab).save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def from_image_bytes(
    data: bytes,
    rect_origin: tuple[int, int] = (0, 0),
    *,
    monitors: tuple[Rect, ...] = (),
    pixel_ratio: float = 1.0,
    source: str = "",
) -> Grab:
    """A Grab from encoded image bytes (PNG, as the screenshot portal writes them)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise CaptureError(f"The screenshot file could not be read as an image ({exc}).") from exc
    width, height = rgb.size
    return Grab(
        rgb.tobytes("raw", "BGRX"),
        width,
        height,
        Rect(rect_origin[0], rect_origin[1], width, height),
        monitors,
        pixel_ratio,
        source,
    )


def _describe(rect: Rect) -> str:
    return f"{rect.width}x{rect.height} at ({rect.x}, {rect.y})"
