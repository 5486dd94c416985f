"""Synthetic but realistic screenshots (text-heavy desktop UI) for tests and benchmarks."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont

_WORDS = [
    "def",
    "return",
    "import",
    "class",
    "self",
    "async",
    "await",
    "error",
    "value",
    "request",
    "stream",
    "answer",
    "cache",
    "config",
    "window",
    "image",
    "token",
    "retry",
    "model",
    "screen",
    "history",
    "search",
    "result",
    "update",
    "delete",
]


Drawn = list[tuple[str, tuple[int, int, int, int]]]  # each text drawn and its box


def screenshot(
    width: int = 1920,
    height: int = 1080,
    *,
    scale: int = 1,
    seed: int = 7,
    drawn: Drawn | None = None,
) -> Image.Image:
    """A desktop-like RGB picture: title bar, sidebar list, code editor with small text,
    a toolbar, and a photo-like gradient panel. `scale` mimics HiDPI (2 = 4K UI at 200 %).
    `drawn`, when given, receives every text drawn with its box (what OCR should read)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (246, 246, 248))
    draw = _Recorder(img, drawn)
    font = ImageFont.load_default(size=12 * scale)
    _title_bar(draw, width, scale, font)
    _sidebar(draw, height, scale, font, rng)
    _editor(draw, width, height, scale, font, rng)
    _photo_panel(img, draw, width, height, scale)
    return img


class _Recorder(ImageDraw.ImageDraw):
    """ImageDraw that also notes each text and its box in `drawn`."""

    def __init__(self, img: Image.Image, drawn: Drawn | None) -> None:
        super().__init__(img)
        self.drawn = drawn

    def text(self, xy, text, fill=None, font=None, *args, **kwargs) -> None:  # type: ignore[override]
        super().text(xy, text, fill, font, *args, **kwargs)
        if self.drawn is not None and text.strip():
            box = self.textbbox(xy, text, font=font)
            self.drawn.append((text.strip(), tuple(int(v) for v in box)))  # type: ignore[arg-type]


def png_bytes(img: Image.Image, compress_level: int = 6) -> bytes:
    """Encode as PNG, as a screen capture would be stored."""
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def _title_bar(draw: ImageDraw.ImageDraw, width: int, s: int, font: ImageFont.FreeTypeFont) -> None:
    draw.rectangle((0, 0, width, 32 * s), fill=(52, 56, 64))
    draw.text((12 * s, 9 * s), "main.py - SnapAsk - Visual Editor", fill=(230, 230, 230), font=font)
    for i, color in enumerate(((237, 95, 87), (245, 190, 79), (98, 197, 84))):
        x = width - (24 + 22 * i) * s
        draw.ellipse((x, 10 * s, x + 12 * s, 22 * s), fill=color)


def _sidebar(draw: ImageDraw.ImageDraw, height: int, s: int, font, rng: random.Random) -> None:
    draw.rectangle((0, 32 * s, 260 * s, height), fill=(233, 235, 240))
    y = 44 * s
    while y < height - 20 * s:
        name = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}.py"
        draw.rectangle((14 * s, y + 2 * s, 24 * s, y + 12 * s), fill=(90, 140, 220))
        draw.text((32 * s, y), name, fill=(40, 40, 40), font=font)
        y += 20 * s


def _editor(
    draw: ImageDraw.ImageDraw, width: int, height: int, s: int, font, rng: random.Random
) -> None:
    left, right = 270 * s, int(width * 0.68)
    y, line = 44 * s, 1
    palette = ((30, 30, 30), (0, 92, 197), (163, 21, 21), (0, 128, 0), (121, 94, 38))
    while y < height - 18 * s:
        draw.text((left, y), f"{line:4d}", fill=(150, 150, 150), font=font)
        x = left + 44 * s
        indent = rng.choice((0, 0, 4, 8, 12))
        x += indent * 7 * s
        for _ in range(rng.randint(2, 9)):
            word = rng.choice(_WORDS) + rng.choice(("", "(", ")", ":", ",", " =", "."))
            if x + len(word) * 7 * s > right:
                break
            draw.text((x, y), word, fill=rng.choice(palette), font=font)
            x += (len(word) + 1) * 7 * s
        y += 17 * s
        line += 1


def _photo_panel(
    img: Image.Image, draw: ImageDraw.ImageDraw, width: int, height: int, s: int
) -> None:
    left, top = int(width * 0.70), 60 * s
    w, h = width - left - 20 * s, int(height * 0.45)
    grad = Image.linear_gradient("L").resize((w, h))
    panel = Image.merge("RGB", (grad, grad.rotate(90).resize((w, h)), Image.new("L", (w, h), 140)))
    img.paste(panel, (left, top))
    draw.text(
        (left, top + h + 10 * s),
        "Figure 1: preview of the capture",
        fill=(60, 60, 60),
        font=ImageFont.load_default(size=11 * s),
    )
