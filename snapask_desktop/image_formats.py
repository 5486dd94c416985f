"""The pictures SnapAsk accepts, in one place: the store keeps them, the AI layer sends them.

Both sides must agree, or a picture could be saved and then never be answerable (or the
reverse). 40 megapixels covers an 8K screen or three 4K screens side by side, and bounds
decoding to about 160 MB.
"""

from __future__ import annotations

# Pillow format -> (mime type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS: dict[str, str] = dict(FORMATS.values())  # mime -> extension
FORMAT_NAMES = "PNG, JPEG or WebP"
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
