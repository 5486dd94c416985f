"""Redaction on rendered screens: no pixel of a secret survives, and it fails closed."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from snapask_desktop.ocr import recognise
from snapask_desktop.redact.guard import RedactionFailed, guard_picture
from snapask_desktop.redact.paint import FILL, paint_boxes, png_bytes
from snapask_desktop.redact.secrets import find_secrets
from tests.ocr.samples import DARK, LIGHT, samples
from tests.redact.screens import SECRET_LINES, secret_screen


@pytest.fixture(scope="module", params=[(11, LIGHT), (13, LIGHT), (16, DARK)], ids=str)
def redacted(request):
    size, colours = request.param
    screen = secret_screen(size, colours)
    guarded = guard_picture(png_bytes(screen.image), redact=True)
    return screen, guarded, Image.open(io.BytesIO(guarded.data)).convert("RGB")


def test_every_kind_of_secret_is_found(redacted) -> None:
    _, guarded, _ = redacted
    assert {f.kind for f in guarded.findings} == {kind for kind, *_ in SECRET_LINES}


def test_no_pixel_of_a_secret_survives(redacted) -> None:
    screen, _, image = redacted
    for kind, secret, (left, top, right, bottom) in screen.secrets:
        leaked = [
            (x, y)
            for y in range(top, bottom)
            for x in range(left, right)
            if image.getpixel((x, y)) != FILL
        ]
        assert not leaked, f"{kind} {secret!r}: {len(leaked)} pixels not painted, e.g. {leaked[:3]}"


def test_reading_the_redacted_picture_again_finds_no_secret(redacted) -> None:
    image = redacted[2]
    again = recognise(image)
    assert (
        find_secrets(again.words) == [] and find_secrets(recognise(image, sparse=True).words) == []
    )
    assert "hunter2" not in again.text and "jane.doe" not in again.text


def test_the_kept_text_holds_no_secret_and_the_rest_of_the_text(redacted) -> None:
    _, guarded, _ = redacted
    assert guarded.text is not None
    for fragment in ("hunter2", "Tr0ub4dor", "jane.doe", "AKIAIOSF", "4fGh7KpQ", "b3Blbn"):
        assert fragment not in guarded.text
    assert "[redacted]" in guarded.text and "SLACK_BOT" in guarded.text


@pytest.mark.parametrize("sample", samples(), ids=lambda s: s.kind)
def test_a_picture_without_secrets_goes_unchanged_with_its_text(sample) -> None:
    data = png_bytes(sample.image)
    guarded = guard_picture(data, redact=True)
    assert guarded.findings == () and guarded.data == data
    assert guarded.text and sample.lines[0].split()[0] in guarded.text


def test_paint_covers_the_padding_and_stays_inside_the_picture() -> None:
    image = Image.new("RGB", (20, 10), "white")
    painted = paint_boxes(image, [(5, 3, 8, 6), (18, 8, 25, 12)])
    assert painted.getpixel((3, 1)) == FILL and painted.getpixel((9, 7)) == FILL  # padded by 2
    assert painted.getpixel((2, 1)) == (255, 255, 255) and painted.getpixel((10, 7)) != FILL
    assert painted.getpixel((19, 9)) == FILL and painted.size == (20, 10)
    assert image.getpixel((6, 4)) == (255, 255, 255)  # the original is left as it was


def test_a_picture_that_cannot_be_decoded_is_refused_when_redaction_is_on() -> None:
    with pytest.raises(RedactionFailed, match="not sent"):
        guard_picture(b"\x89PNG\r\n\x1a\nnot really", redact=True)
    passed = guard_picture(b"\x89PNG\r\n\x1a\nnot really", redact=False)
    assert passed.text is None and passed.problem


def test_without_the_ocr_engine_redaction_fails_closed_and_plain_sending_goes_on() -> None:
    # A fresh interpreter where the binding cannot be imported (the ocr extra not installed).
    script = textwrap.dedent(
        """
        import sys
        sys.modules["tesserocr"] = None
        from PIL import Image
        from snapask_desktop.redact.guard import RedactionFailed, guard_picture
        from snapask_desktop.redact.paint import png_bytes
        data = png_bytes(Image.new("RGB", (40, 20), "white"))
        plain = guard_picture(data, redact=False)
        assert plain.data == data and plain.text is None and "not installed" in plain.problem
        try:
            guard_picture(data, redact=True)
        except RedactionFailed as error:
            print(error)
        else:
            print("SENT")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert "The picture was not sent" in out and "OCR engine is not installed" in out
