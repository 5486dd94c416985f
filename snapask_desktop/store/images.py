"""Bounded decoding of untrusted picture bytes and thumbnail making (Pillow, no disk I/O)."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from snapask_desktop.image_formats import FORMATS, MAX_BYTES, MAX_PIXELS
from snapask_desktop.store.errors import ImageRejected

__all__ = ["FORMATS", "MAX_BYTES", "MAX_PIXELS", "DecodedImage", "decode"]

MAX_SIDE = 32_000
THUMB_SIDE = 256
THUMB_QUALITY = 82


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A fully decoded, checked picture and what the store records about it."""

    image: Image.Image
    width: int
    height: int
    mime: str
    ext: str


def decode(data: bytes) -> DecodedImage:
    """Decode PNG/JPEG/WebP bytes; refuse anything else, damaged files and oversized images."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageRejected(f"a picture must be bytes, not {type(data).__name__}")
    if len(data) == 0:
        raise ImageRejected("the picture is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise ImageRejected(
            f"the picture is too large ({len(data):,} bytes; at most {MAX_BYTES:,})"
        )
    try:
        # open() reads only the header: the size check runs before any pixel is decoded.
        image = Image.open(io.BytesIO(bytes(data)), formats=list(FORMATS))
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise _reject(exc) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"the picture is damaged ({exc})") from None
    width, height = image.size
    _check_size(width, height)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:
        raise ImageRejected(f"the picture is damaged ({exc})") from None
    mime, ext = FORMATS[str(image.format)]
    return DecodedImage(image, width, height, mime, ext)


def _reject(exc: Exception) -> ImageRejected:
    if isinstance(exc, Image.DecompressionBombError):
        return ImageRejected("the picture is too large to open safely (too many pixels)")
    return ImageRejected("these bytes are not a picture SnapAsk can store (PNG, JPEG or WebP)")


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageRejected(f"the picture has no pixels ({width}x{height})")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRejected(
            f"the picture is too large ({width}x{height}; at most {MAX_PIXELS // 1_000_000} "
            f"megapixels and {MAX_SIDE} pixels a side)"
        )


def thumbnail_jpeg(image: Image.Image, side: int = THUMB_SIDE) -> bytes:
    """A JPEG whose long side is at most ``side`` px; transparency is flattened onto white."""
    thumb = image.copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb = _flatten(thumb)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
