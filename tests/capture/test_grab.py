"""Grab pictures: validation, exact crops, PNG round trips, reading portal PNGs."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from snapask_desktop.capture.errors import CaptureError
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import Grab, crop, encode_png, from_image_bytes, to_pil
from tests.capture.support.pattern import pattern_grab, pattern_image, pattern_rgb

DESK = Rect(-1280, 0, 3200, 1080)
MONITORS = (Rect(-1280, 200, 1280, 720), Rect(0, 0, 1920, 1080))


@pytest.fixture(scope="module")
def desk() -> Grab:
    return pattern_grab(DESK, MONITORS)


def test_pixels_are_addressed_in_picture_coordinates(desk: Grab) -> None:
    assert desk.rgb_at(0, 0) == pattern_rgb(-1280, 0)
    assert desk.rgb_at(1280 + 7, 9) == pattern_rgb(7, 9)
    with pytest.raises(IndexError):
        desk.rgb_at(3200, 0)


def test_crop_across_monitors_with_negative_offsets_is_exact(desk: Grab) -> None:
    rect = Rect(-300, 150, 700, 400)
    part = crop(desk, rect)
    assert (part.rect, part.width, part.height) == (rect, 700, 400)
    assert to_pil(part).tobytes() == pattern_image(rect).tobytes()
    assert part.monitors == (Rect(-300, 200, 300, 350), Rect(0, 150, 400, 400))


def test_crop_is_clamped_to_the_picture(desk: Grab) -> None:
    part = crop(desk, Rect(1800, 1000, 500, 500))
    assert part.rect == Rect(1800, 1000, 120, 80)
    assert to_pil(part).tobytes() == pattern_image(part.rect).tobytes()


def test_crop_of_everything_returns_the_grab_itself(desk: Grab) -> None:
    assert crop(desk, Rect(-5000, -5000, 20000, 20000)) is desk


def test_crop_outside_the_picture_is_an_error(desk: Grab) -> None:
    with pytest.raises(CaptureError, match="outside the screen picture"):
        crop(desk, Rect(5000, 0, 10, 10))


def test_png_round_trip_keeps_every_pixel(desk: Grab) -> None:
    part = crop(desk, Rect(-64, 10, 300, 200))
    data = encode_png(part)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.tobytes() == pattern_image(part.rect).tobytes()


def test_png_level_is_checked(desk: Grab) -> None:
    with pytest.raises(ValueError, match=r"0\.\.9"):
        encode_png(desk, compress_level=10)


def test_a_png_file_becomes_a_grab_with_the_same_pixels() -> None:
    out = io.BytesIO()
    pattern_image(Rect(0, 0, 33, 17)).convert("RGBA").save(out, "PNG")
    grab = from_image_bytes(out.getvalue(), source="portal")
    assert (grab.width, grab.height, grab.rect, grab.source) == (
        33,
        17,
        Rect(0, 0, 33, 17),
        "portal",
    )
    assert grab.rgb_at(32, 16) == pattern_rgb(32, 16)


def test_bytes_that_are_no_image_give_a_clear_error() -> None:
    with pytest.raises(CaptureError, match="could not be read as an image"):
        from_image_bytes(b"<html>not a png</html>")


@pytest.mark.parametrize(
    ("pixels", "width", "height", "rect", "message"),
    [
        (b"\0" * 16, 2, 2, Rect(0, 0, 3, 2), "does not match"),
        (b"\0" * 15, 2, 2, Rect(0, 0, 2, 2), "expected 16"),
        (b"", 0, 0, Rect(0, 0, 0, 0), "positive size"),
    ],
)
def test_inconsistent_grabs_are_rejected(
    pixels: bytes, width: int, height: int, rect: Rect, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Grab(pixels, width, height, rect)
