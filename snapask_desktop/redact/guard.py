"""What a picture becomes before it is stored and sent: its text read, its secrets painted out.

Redaction fails closed: when it is on and the picture cannot be read (no OCR engine, an
undecodable picture, an engine error), `RedactionFailed` is raised and nothing is stored or sent.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from snapask_desktop.ocr import OcrError, OcrResult, recognise
from snapask_desktop.redact.paint import paint_boxes, png_bytes
from snapask_desktop.redact.secrets import Finding, find_secrets, mask_text

log = logging.getLogger(__name__)


class RedactionFailed(Exception):
    """Redaction is on and could not be done, so the picture was not stored or sent."""


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
        kept: list[Finding] = []
        for finding in self.findings:
            if not any(_same_secret(finding, other) for other in kept):
                kept.append(finding)
        return len(kept)


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
