"""prepare_image / load_image_file on generated screenshots and on every kind of bad input."""

from __future__ import annotations

import hashlib
import io
import math
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from snapask_desktop.ai.image_prep import MAX_SIDE, check_image, load_image_file, prepare_image
from snapask_desktop.ai.types import AIError, ErrorKind
from tests.ai.screens import png_bytes, screenshot


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two same-size RGB images."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (a.width * a.height * 3)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def mean_abs_error(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def bad_image(data: bytes, **kwargs: int) -> AIError:
    with pytest.raises(AIError) as caught:
        prepare_image(data, **kwargs)
    assert caught.value.kind is ErrorKind.BAD_IMAGE
    return caught.value


@pytest.fixture(scope="module")
def fhd() -> Image.Image:
    return screenshot(1920, 1080)


def test_full_hd_screenshot_is_downscaled_to_jpeg(fhd: Image.Image) -> None:
    original = png_bytes(fhd)
    prepared = prepare_image(original)
    assert prepared.mime == "image/jpeg"
    assert (prepared.width, prepared.height) == (MAX_SIDE, 864)
    assert (prepared.original_width, prepared.original_height) == (1920, 1080)
    assert prepared.original_bytes_count == len(original)
    assert prepared.prepared_bytes_count == len(prepared.data) < len(original)
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    assert decode(prepared.data).size == (MAX_SIDE, 864)


def test_small_text_stays_legible(fhd: Image.Image) -> None:
    prepared = decode(prepare_image(png_bytes(fhd)).data)
    # Against a lossless resize: the encoding adds little error over the whole picture...
    reference = fhd.resize(prepared.size, Image.Resampling.LANCZOS)
    assert psnr(prepared, reference) > 35
    # ...and on a crop of 12 px editor text, the glyph edges survive the JPEG step.
    box = (300, 40, 800, 300)
    assert psnr(prepared.crop(box), reference.crop(box)) > 32
    assert mean_abs_error(prepared.crop(box), reference.crop(box)) < 3
    # Scaled back up, the text is still close to what was captured.
    restored = prepared.resize(fhd.size, Image.Resampling.LANCZOS)
    assert psnr(restored, fhd) > 25  # (half-size would give ~23 dB)


def test_4k_screenshot_saves_most_bytes() -> None:
    original = png_bytes(screenshot(3840, 2160, scale=2))
    prepared = prepare_image(original)
    assert (prepared.width, prepared.height) == (MAX_SIDE, 864)
    assert prepared.prepared_bytes_count < len(original) / 2


def test_small_flat_capture_is_sent_unchanged() -> None:
    img = Image.new("RGB", (420, 260), (250, 250, 250))
    ImageDraw.Draw(img).text((10, 10), "Error 404: page not found", fill=(0, 0, 0))
    original = png_bytes(img)
    prepared = prepare_image(original)
    assert (prepared.mime, prepared.data) == ("image/png", original)
    assert (prepared.width, prepared.height) == (420, 260)


def test_small_noisy_capture_is_reencoded_but_not_upscaled() -> None:
    rng = random.Random(3)
    img = Image.frombytes(
        "RGB", (300, 200), bytes(rng.randrange(256) for _ in range(300 * 200 * 3))
    )
    prepared = prepare_image(png_bytes(img))
    assert prepared.mime == "image/jpeg"
    assert (prepared.width, prepared.height) == (300, 200)
    assert prepared.prepared_bytes_count < prepared.original_bytes_count


def test_tall_capture_caps_the_long_side() -> None:
    prepared = prepare_image(png_bytes(screenshot(800, 4000)))
    assert (prepared.width, prepared.height) == (307, MAX_SIDE)


def test_alpha_is_flattened_on_white() -> None:
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 31, 63), fill=(200, 0, 0, 255))
    prepared = prepare_image(png_bytes(img))  # type: ignore[arg-type]
    assert prepared.mime == "image/jpeg"
    out = decode(prepared.data).convert("RGB")
    assert all(abs(c - 255) <= 3 for c in out.getpixel((60, 30)))  # type: ignore[union-attr]
    red = out.getpixel((10, 30))
    assert red[0] > 180 and red[1] < 30  # type: ignore[index]


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (200, 100), (0, 120, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    prepared = prepare_image(out.getvalue())
    assert (prepared.width, prepared.height) == (100, 200)


@pytest.mark.parametrize("mode", ["L", "P", "1", "CMYK"])
def test_other_colour_modes_are_accepted(mode: str) -> None:
    img = screenshot(640, 360).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = io.BytesIO()
    img.save(out, format=fmt)
    prepared = prepare_image(out.getvalue())
    assert decode(prepared.data).size == (640, 360)


def test_the_formats_the_store_keeps_are_read_and_no_others() -> None:
    from snapask_desktop.image_formats import FORMATS

    for fmt in FORMATS:
        out = io.BytesIO()
        screenshot(320, 200).save(out, format=fmt)
        assert prepare_image(out.getvalue()).width == 320
    for fmt in ("GIF", "BMP"):  # the store would refuse them: refuse them here too
        out = io.BytesIO()
        screenshot(320, 200).save(out, format=fmt)
        assert "use PNG, JPEG or WebP" in bad_image(out.getvalue()).user_message


def test_empty_input() -> None:
    assert "empty" in bad_image(b"").user_message


def test_not_an_image() -> None:
    error = bad_image(b"%PDF-1.7 this is a document, not a picture")
    assert "not a picture SnapAsk can read" in error.user_message


def test_truncated_image() -> None:
    data = png_bytes(screenshot(640, 360))
    error = bad_image(data[: len(data) // 2])
    assert "damaged or incomplete" in error.user_message


def test_too_many_bytes() -> None:
    error = bad_image(png_bytes(screenshot(320, 200)), max_bytes=1000)
    assert "too big" in error.user_message


def test_10000_by_10000_png_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(out, format="PNG")
    error = bad_image(out.getvalue())
    assert "too large (10000x10000, 100 megapixels)" in error.user_message
    assert "Capture a smaller region" in error.user_message


def test_decompression_bomb_header_is_refused() -> None:
    # A tiny file claiming 40000x40000 px: over twice Pillow's limit, it refuses to open it.
    error = bad_image(png_header_only(40_000, 40_000))
    assert "too large" in error.user_message


def test_configured_pixel_limit() -> None:
    error = bad_image(png_bytes(screenshot(640, 360)), max_pixels=100_000)
    assert "640x360" in error.user_message


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_load_image_file_reads_bytes(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(b"\x89PNG data")
    assert load_image_file(path) == b"\x89PNG data"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"x" * 2048), "too big"),
    ],
)
def test_load_image_file_errors(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "shot.png"
    setup(path)  # type: ignore[operator]
    with pytest.raises(AIError) as caught:
        load_image_file(path, max_bytes=1024)
    assert caught.value.kind is ErrorKind.BAD_IMAGE
    assert message in caught.value.user_message
    assert str(path) in caught.value.user_message


def test_check_image_accepts_good_and_refuses_bad_pictures() -> None:
    data = png_bytes(screenshot(640, 360))
    assert check_image(data) == (640, 360)
    for bad, message in (
        (b"", "empty"),
        (b"<svg/>", "not a picture"),
        (data[: len(data) // 2], "damaged"),
        (png_header_only(40_000, 40_000), "too large"),
    ):
        with pytest.raises(AIError) as caught:
            check_image(bad)
        assert message in caught.value.user_message


def test_4k_text_stays_legible() -> None:
    uhd = screenshot(3840, 2160, scale=2)
    prepared = decode(prepare_image(png_bytes(uhd)).data)
    reference = uhd.resize(prepared.size, Image.Resampling.LANCZOS)
    assert psnr(prepared, reference) > 33
