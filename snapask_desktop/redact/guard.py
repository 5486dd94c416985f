"""What a picture becomes before it is stored and sent: its text read, its secrets painted out.

Redaction fails closed: when it is on and the picture cannot be read (no OCR engine, an
undecodable picture, an engine error), `RedactionFailed` is raised and nothing is stored or sent.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from snapask_desktop.ocr import OcrError, OcrResult, recognise
from snapask_desktop.redact.paint import FILL, paint_boxes, png_bytes
from snapask_desktop.redact.secrets import Finding, find_secrets, mask_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from snapask_desktop.editor.marks import Mark, Redaction

log = logging.getLogger(__name__)


class RedactionFailed(Exception):
    """Redaction is on and could not be done, so the picture was not stored or sent."""


class MarksFailed(RedactionFailed):
    """The user's redactions or mark-up could not be painted, so the picture was not stored
    or sent."""


@dataclass(frozen=True)
class GuardedPicture:
    """The bytes to store and send, the text read from them (None if not read) and why not."""

    data: bytes
    text: str | None
    findings: tuple[Finding, ...] = ()
    problem: str | None = None  # why there is no text, in plain words

    @property
    def redacted(self) -> bool:
        return bool(self.findings)

    @property
    def secret_count(self) -> int:
        """How many secrets were painted: both readings may find the same one (same kind,
        overlapping boxes), which counts once."""
        return len(_distinct(self.findings))


def _same_secret(a: Finding, b: Finding) -> bool:
    return a.kind == b.kind and any(_overlap(box, other) for box in a.boxes for other in b.boxes)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def guard_picture(data: bytes, *, redact: bool, read_text: bool = True) -> GuardedPicture:
    """Read `data`'s text locally and, when `redact`, paint out every suspected secret.

    With `redact` off, a picture OCR cannot read goes on unchanged with no text.
    """
    if not redact and not read_text:
        return GuardedPicture(data, None)
    try:
        image = _decode(data)
        result = recognise(image)
        # Layout analysis may drop a line (tests/redact): a second, sparse reading finds it.
        extra = recognise(image, sparse=True) if redact else None
    except (OcrError, UnidentifiedImageError, OSError, ValueError) as error:
        if redact:
            raise RedactionFailed(
                f"The picture was not sent: secrets could not be looked for in it ({error})."
            ) from error
        log.info("no text read from a picture: %s", error)
        return GuardedPicture(data, None, problem=str(error))
    if extra is None:
        return GuardedPicture(data, result.text)
    return _redacted(data, image, result, extra)


def _redacted(
    data: bytes, image: Image.Image, result: OcrResult, extra: OcrResult
) -> GuardedPicture:
    findings = (*find_secrets(result.words), *find_secrets(extra.words))
    if not findings:
        return GuardedPicture(data, result.text)  # unchanged bytes: the same picture, one blob
    boxes = [box for finding in findings for box in finding.boxes]
    painted = png_bytes(paint_boxes(image, boxes))
    return GuardedPicture(painted, mask_text(result.words, boxes), findings)


def apply_marks(data: bytes, marks: Sequence[Mark]) -> bytes:
    """The picture with the user's redactions and mark-up painted in, as PNG: the bytes that
    are stored, sent and synced. No marks: `data` unchanged.

    Fails closed: whatever goes wrong (a picture that cannot be decoded, a bad mark, a box
    that did not come out solid) raises RedactionFailed, so nothing is stored or sent.
    """
    if not marks:
        return data
    from snapask_desktop.editor.marks import redacted_boxes
    from snapask_desktop.editor.render import render_marks

    try:
        painted = png_bytes(render_marks(_decode(data), marks))
        check = _decode(painted).convert("RGB")
        for box in redacted_boxes(marks):
            clipped = (
                max(0, box[0]),
                max(0, box[1]),
                min(check.width, box[2]),
                min(check.height, box[3]),
            )
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                continue
            extrema = check.crop(clipped).getextrema()
            if any(channel != (value, value) for channel, value in zip(extrema, FILL, strict=True)):
                raise ValueError(f"the box {box} did not come out solid")
    except Exception as error:  # any failure at all: the unredacted picture must not go out
        raise MarksFailed(
            f"The picture was not sent: your redactions and marks could not be painted ({error})."
        ) from error
    return painted


@dataclass(frozen=True)
class Suggestions:
    """Boxes over what looks like a secret, to propose before sending; `problem` says in
    plain words why the picture could not be looked at (no boxes then is no all-clear)."""

    redactions: tuple[Redaction, ...]
    problem: str | None = None


def suggest_redactions(data: bytes) -> Suggestions:
    """Read `data` on this device (twice, like `guard_picture`) and propose a box over every
    suspected secret, grown by the painting's padding."""
    from snapask_desktop.editor.marks import Redaction, grow
    from snapask_desktop.redact.paint import PAD

    try:
        image = _decode(data)
        findings = [
            *find_secrets(recognise(image).words),
            *find_secrets(recognise(image, sparse=True).words),
        ]
    except (OcrError, UnidentifiedImageError, OSError, ValueError) as error:
        return Suggestions((), f"The picture could not be read for secrets: {error}")
    picture = GuardedPicture(data, None, tuple(findings))
    kept: list[Redaction] = []
    boxes: set[tuple[int, int, int, int]] = set()
    for finding in _distinct(picture.findings):
        for box in finding.boxes:
            grown = grow(box, PAD, image.size)
            if grown not in boxes:
                boxes.add(grown)
                kept.append(Redaction(grown, finding.kind))
    return Suggestions(tuple(kept))


def _distinct(findings: Sequence[Finding]) -> list[Finding]:
    """Both readings' findings, the second reading's copy of a secret left out."""
    kept: list[Finding] = []
    for finding in findings:
        if not any(_same_secret(finding, other) for other in kept):
            kept.append(finding)
    return kept
