"""The final bytes: marks painted where they were drawn, redactions solid and failing closed,
and suggestions found over the secrets of a rendered screen."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from snapask_desktop.editor.marks import Arrow, Frame, Highlight, Label, Redaction
from snapask_desktop.editor.render import HIGHLIGHT_COLOUR, MARK_COLOUR, label_box, render_marks
from snapask_desktop.redact.guard import RedactionFailed, apply_marks, suggest_redactions
from snapask_desktop.redact.paint import FILL, png_bytes
from tests.redact.screens import secret_screen


def noisy(size=(120, 80)) -> Image.Image:
    """A picture where every pixel differs from its neighbours (no box can be solid by luck)."""
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 7) % 251, (y * 13) % 251, (x + y) % 200 + 30)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    return image


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_a_redaction_is_solid_exactly_over_its_box_and_nothing_else_changes():
    original = noisy()
    data = apply_marks(png_bytes(original), [Redaction((10, 20, 30, 35))])
    out = decode(data)
    for y in range(out.height):
        for x in range(out.width):
            inside = 10 <= x < 30 and 20 <= y < 35
            assert out.getpixel((x, y)) == (FILL if inside else original.getpixel((x, y))), (x, y)


def test_redactions_are_painted_over_any_mark_drawn_after_them():
    marks = [Redaction((0, 0, 60, 40)), Highlight((0, 0, 120, 80)), Label((2, 2), "look here")]
    out = render_marks(noisy(), marks)
    assert out.crop((0, 0, 60, 40)).getextrema() == ((0, 0), (0, 0), (0, 0))


def test_markup_inks_where_it_was_drawn():
    base = Image.new("RGB", (200, 120), "white")
    out = render_marks(
        base,
        [
            Frame((10, 10, 50, 40), width=3),
            Highlight((60, 10, 100, 30)),
            Arrow((120, 100), (180, 20), width=4),
            Label((10, 80), "this?", size=16),
        ],
    )
    assert out.getpixel((10, 25)) == MARK_COLOUR and out.getpixel((49, 25)) == MARK_COLOUR
    assert out.getpixel((30, 25)) == (255, 255, 255)  # an outline, not a fill
    tint = out.getpixel((80, 20))
    assert tint != (255, 255, 255) and tint[2] < 200 and tint[0] > 240  # yellowish, see-through
    assert abs(tint[1] - round(255 * 0.6 + HIGHLIGHT_COLOUR[1] * 0.4)) <= 1
    assert out.getpixel((179, 21)) == MARK_COLOUR or out.getpixel((178, 22)) == MARK_COLOUR
    left, top, right, bottom = label_box(Label((10, 80), "this?", size=16))
    assert out.getpixel((left + 1, top + 1)) != (255, 255, 255)
    assert right > left + 20 and bottom <= 120
    assert base.getpixel((30, 25)) == (255, 255, 255)  # the original is left as it was


def test_no_marks_keeps_the_bytes():
    data = png_bytes(noisy())
    assert apply_marks(data, []) is data


def test_the_bytes_carry_no_metadata_of_the_original():
    original = noisy()
    out = io.BytesIO()
    original.save(out, "PNG", pnginfo=_info("Author", "someone@example.com"))
    painted = apply_marks(out.getvalue(), [Redaction((0, 0, 5, 5))])
    assert b"someone@example.com" not in painted and decode(painted).info.get("Author") is None


def _info(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info


@pytest.mark.parametrize(
    "data, marks",
    [
        (b"\x89PNG\r\n\x1a\nnot a picture", [Redaction((0, 0, 5, 5))]),
        (png_bytes(noisy()), [object()]),
    ],
    ids=["undecodable", "not-a-mark"],
)
def test_anything_that_goes_wrong_fails_closed(data, marks):
    with pytest.raises(RedactionFailed, match="not sent"):
        apply_marks(data, marks)


def test_a_box_that_does_not_come_out_solid_fails_closed(monkeypatch: pytest.MonkeyPatch):
    import snapask_desktop.editor.render as render

    monkeypatch.setattr(render, "paint_boxes", lambda image, boxes, pad=0: image)  # a bug
    with pytest.raises(RedactionFailed, match="did not come out solid"):
        apply_marks(png_bytes(noisy()), [Redaction((10, 10, 20, 20))])


def test_suggestions_cover_every_secret_of_a_rendered_screen():
    screen = secret_screen(13)
    found = suggest_redactions(png_bytes(screen.image))
    assert found.problem is None
    assert {s.kind for s in found.redactions} == {kind for kind, *_ in screen.secrets}
    boxes = [s.box for s in found.redactions]
    for kind, secret, (left, top, right, bottom) in screen.secrets:
        covered = all(
            any(b[0] <= x < b[2] and b[1] <= y < b[3] for b in boxes)
            for x in range(left, right)
            for y in range(top, bottom)
        )
        assert covered, f"{kind} {secret!r} is not wholly inside a suggested box"


def test_suggestions_for_an_unreadable_picture_say_why():
    found = suggest_redactions(b"not a picture")
    assert found.redactions == () and found.problem
