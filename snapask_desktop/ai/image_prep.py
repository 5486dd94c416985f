"""Shrink and re-encode a screenshot before sending it, keeping small text legible (Pillow only).

Choices, measured on synthetic text-heavy 1920x1080 and 3840x2160 screenshots (bench/image_prep.py):
- Long side capped at 1536 px (two of Gemini's 768 px tiles): a full-HD capture goes from 6 tiles
  to 4, and 12 px UI text stays readable (about 10 px after scaling). Never upscaled.
- JPEG quality 85 with 4:4:4 chroma (subsampling=0): about 38 dB PSNR against a lossless resize,
  encoded in ~5 ms; 4:2:0 smears coloured text, PNG of a resized screenshot is twice the size,
  and WebP (4:2:0 too) is 10-20x slower to encode.
- An image that needs no resize is sent as it came (PNG/JPEG/WebP, opaque, upright) whenever
  that is no bigger than the JPEG: lossless and never worse.
- Alpha is flattened on white (screenshots of translucent windows), EXIF orientation applied.
- Huge images are refused, not decoded: above `max_pixels` (40 MP by default, enough for an 8K
  screen or three 4K screens side by side) decoding alone would need hundreds of MB. Pillow's
  own decompression-bomb guard (DecompressionBombError) maps to the same clear BAD_IMAGE error.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from snapask_desktop.ai import errors
from snapask_desktop.ai.types import ImageInput
from snapask_desktop.image_formats import FORMAT_NAMES, FORMATS, MAX_BYTES, MAX_PIXELS

MAX_SIDE = 1536
JPEG_QUALITY = 85
_ORIENTATION = 0x0112  # EXIF tag
_PASS_THROUGH = {name: mime for name, (mime, _ext) in FORMATS.items()}


@dataclass(frozen=True)
class PreparedImage:
    """The image as it will be sent, with the figures to tell what preparation did."""

    data: bytes
    mime: str
    width: int
    height: int
    original_bytes_count: int
    prepared_bytes_count: int
    original_width: int
    original_height: int
    sha256: str

    def to_input(self) -> ImageInput:
        """As a request attachment (marked prepared, so it is sent as is)."""
        return ImageInput(data=self.data, mime=self.mime, sha256=self.sha256, prepared=True)


def prep_signature(max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY) -> str:
    """Identifies the preparation settings; part of cache keys for unprepared images."""
    return f"prep-v1:{max_side}:{quality}"


def prepare_image(
    data: bytes,
    *,
    max_side: int = MAX_SIDE,
    quality: int = JPEG_QUALITY,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> PreparedImage:
    """Decode, orient, flatten, downscale to `max_side`, encode; AIError(BAD_IMAGE) if unusable."""
    _check_size(len(data), max_bytes)
    img = _open(data, max_pixels)
    original_size = img.size
    source_format = img.format
    rgb, changed = _normalise(img)
    resized = _downscale(rgb, max_side)
    out, mime = _encode_jpeg(resized, quality), "image/jpeg"
    if resized is rgb and not changed and source_format in _PASS_THROUGH and len(data) <= len(out):
        out, mime = data, _PASS_THROUGH[source_format]
    return PreparedImage(
        data=out,
        mime=mime,
        width=resized.width,
        height=resized.height,
        original_bytes_count=len(data),
        prepared_bytes_count=len(out),
        original_width=original_size[0],
        original_height=original_size[1],
        sha256=hashlib.sha256(out).hexdigest(),
    )


def check_image(
    data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> tuple[int, int]:
    """Decode only (no resize or encode) to refuse a bad picture early; returns (width, height)."""
    _check_size(len(data), max_bytes)
    img = _open(data, max_pixels)
    return img.size


def load_image_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """Read a picture file's bytes; AIError(BAD_IMAGE) saying plainly what is wrong with it."""
    p = Path(path)
    try:
        if p.is_dir():
            raise errors.bad_image(f"{p} is a folder, not a picture.")
        size = p.stat().st_size
        _check_size(size, max_bytes, name=str(p))
        data = p.read_bytes()
    except FileNotFoundError:
        raise errors.bad_image(f"No picture at {p}: the file does not exist.") from None
    except PermissionError:
        raise errors.bad_image(f"Can't read {p}: permission denied.") from None
    except OSError as exc:
        raise errors.bad_image(f"Can't read {p}: {exc.strerror or exc}.") from None
    _check_size(len(data), max_bytes, name=str(p))
    return data


def _check_size(count: int, max_bytes: int, name: str = "The picture") -> None:
    if count == 0:
        raise errors.bad_image(f"{name} is empty (0 bytes).")
    if count > max_bytes:
        raise errors.bad_image(
            f"{name} is too big ({count / 1e6:.1f} MB); the limit is {max_bytes / 1e6:.0f} MB."
        )


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open lazily, refuse huge dimensions before decoding, then decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except Image.DecompressionBombError as exc:
        raise _too_large(None, max_pixels, str(exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise errors.bad_image(
            f"This is not a picture SnapAsk can read (use {FORMAT_NAMES}).",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    if img.width * img.height > max_pixels:
        raise _too_large(img.size, max_pixels)
    try:
        img.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise errors.bad_image(
            "The picture is damaged or incomplete and cannot be read.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    return img


def _too_large(size: tuple[int, int] | None, max_pixels: int, detail: str = "") -> errors.AIError:
    dims = f" ({size[0]}x{size[1]}, {size[0] * size[1] / 1e6:.0f} megapixels)" if size else ""
    return errors.bad_image(
        f"The picture is too large{dims}; SnapAsk accepts up to {max_pixels / 1e6:.0f} "
        "megapixels. Capture a smaller region.",
        detail=detail,
    )


def _normalise(img: Image.Image) -> tuple[Image.Image, bool]:
    """Upright RGB with alpha flattened on white; True if anything had to change."""
    changed = img.getexif().get(_ORIENTATION, 1) not in (None, 1)
    upright = (ImageOps.exif_transpose(img) or img) if changed else img
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    if has_alpha:
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat, True
    if upright.mode != "RGB":
        return upright.convert("RGB"), changed or upright.mode not in ("L", "P")
    return upright, changed


def _downscale(img: Image.Image, max_side: int) -> Image.Image:
    """Fit the long side into `max_side` (Lanczos keeps glyph edges crisp); never upscale."""
    longest = max(img.size)
    if longest <= max_side:
        return img
    scale = max_side / longest
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # reducing_gap=1: for 2x and more, a fast integer box reduction first, then Lanczos for
    # the rest: 4K -> 1536 px takes 49 ms instead of 127 ms, 39 dB from a pure Lanczos.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality, subsampling=0)
    return out.getvalue()
