"""A test picture whose every pixel names its own position, so any offset error shows."""

from __future__ import annotations

from PIL import Image

from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import Grab


def pattern_rgb(x: int, y: int) -> tuple[int, int, int]:
    """The colour at desktop pixel (x, y): red/green = low bytes of x/y, blue = high bits."""
    return (x & 0xFF, y & 0xFF, ((x >> 8) & 0x0F) | (((y >> 8) & 0x0F) << 4))


def pattern_image(rect: Rect) -> Image.Image:
    """The pattern over a desktop rectangle (may start at negative coordinates), as RGB."""
    xs = range(rect.x, rect.right)
    red_row = bytes(x & 0xFF for x in xs)
    blue_high_x = [(x >> 8) & 0x0F for x in xs]
    red, green, blue = bytearray(), bytearray(), bytearray()
    for y in range(rect.y, rect.bottom):
        red += red_row
        green += bytes([y & 0xFF]) * rect.width
        high_y = ((y >> 8) & 0x0F) << 4
        blue += bytes(h | high_y for h in blue_high_x)
    size = (rect.width, rect.height)
    channels = [Image.frombytes("L", size, bytes(c)) for c in (red, green, blue)]
    return Image.merge("RGB", channels)


def pattern_grab(rect: Rect, monitors: tuple[Rect, ...] = ()) -> Grab:
    """A Grab showing the pattern, as a backend would return it (BGRA rows)."""
    data = pattern_image(rect).tobytes("raw", "BGRX")
    return Grab(bytearray(data), rect.width, rect.height, rect, monitors or (rect,), 1.0, "test")
