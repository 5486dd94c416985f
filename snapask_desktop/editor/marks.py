"""What a user puts on a picture before it is sent, in the picture's own pixels (pure).

A redaction is a solid box: nothing under it survives (no blur, no pixelation: both can be
undone by guessing). Mark-up (arrow, box outline, highlighter, a short label) only adds ink.
Coordinates are integer image pixels, so what is painted does not depend on the screen's
device-pixel ratio or the zoom of the editor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Point = tuple[int, int]
Rect = tuple[int, int, int, int]  # left, top, right, bottom: right and bottom excluded

LABEL_MAX_CHARS = 40  # a short label ("this button?"), not a paragraph


@dataclass(frozen=True, slots=True)
class Redaction:
    """A solid box over `box`; `kind` names the suspected secret when it was suggested."""

    box: Rect
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Arrow:
    """An arrow from `start` to `end` (the head is at `end`), `width` pixels thick."""

    start: Point
    end: Point
    width: int = 4


@dataclass(frozen=True, slots=True)
class Frame:
    """An outline around `box`, `width` pixels thick, drawn inside the box."""

    box: Rect
    width: int = 4


@dataclass(frozen=True, slots=True)
class Highlight:
    """A translucent marker stroke over `box` (the text under it stays readable)."""

    box: Rect


@dataclass(frozen=True, slots=True)
class Label:
    """A short text at `at` (its top-left corner), `size` pixels high."""

    at: Point
    text: str
    size: int = 16


Mark = Redaction | Arrow | Frame | Highlight | Label


def box_between(a: tuple[float, float], b: tuple[float, float], size: tuple[int, int]) -> Rect:
    """The image pixels a drag from `a` to `b` (image coordinates, fractions allowed) touches,
    clipped to the picture; empty (right <= left) when the drag covers no pixel."""
    left, right = sorted((a[0], b[0]))
    top, bottom = sorted((a[1], b[1]))
    width, height = size
    box = (
        _clamp(_floor(left), 0, width),
        _clamp(_floor(top), 0, height),
        _clamp(_ceil(right), 0, width),
        _clamp(_ceil(bottom), 0, height),
    )
    return box


def is_empty(box: Rect) -> bool:
    """Whether `box` covers no pixel."""
    return box[2] <= box[0] or box[3] <= box[1]


def grow(box: Rect, pad: int, size: tuple[int, int]) -> Rect:
    """`box` grown by `pad` pixels on every side, clipped to a picture of `size`."""
    return (
        max(0, box[0] - pad),
        max(0, box[1] - pad),
        min(size[0], box[2] + pad),
        min(size[1], box[3] + pad),
    )


def clean_label(text: str) -> str:
    """A label's text: one line, trimmed, at most LABEL_MAX_CHARS characters."""
    line = " ".join(text.split())
    return line if len(line) <= LABEL_MAX_CHARS else line[: LABEL_MAX_CHARS - 1] + "…"


def redacted_boxes(marks: Iterable[Mark]) -> list[Rect]:
    """The boxes of every redaction in `marks`."""
    return [mark.box for mark in marks if isinstance(mark, Redaction)]


@dataclass
class EditList:
    """The marks on one picture, in the order drawn, with undo and redo.

    Each user action is one step: accepting every suggestion at once is undone at once.
    """

    _steps: list[tuple[Mark, ...]] = field(default_factory=list)
    _undone: list[tuple[Mark, ...]] = field(default_factory=list)

    @property
    def marks(self) -> tuple[Mark, ...]:
        """Every mark, oldest first (later marks are painted over earlier ones)."""
        return tuple(mark for step in self._steps for mark in step)

    def add(self, *marks: Mark) -> None:
        """Add `marks` as one step; redo history is dropped (a new branch of edits)."""
        if not marks:
            return
        self._steps.append(tuple(marks))
        self._undone.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._steps)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo(self) -> bool:
        """Take back the last step; False when there is none."""
        if not self._steps:
            return False
        self._undone.append(self._steps.pop())
        return True

    def redo(self) -> bool:
        """Put back the last step undone; False when there is none."""
        if not self._undone:
            return False
        self._steps.append(self._undone.pop())
        return True

    @property
    def redaction_count(self) -> int:
        return len(redacted_boxes(self.marks))

    @property
    def markup_count(self) -> int:
        return sum(1 for mark in self.marks if not isinstance(mark, Redaction))


def pending_suggestions(suggested: Sequence[Redaction], marks: Iterable[Mark]) -> list[Redaction]:
    """The suggested boxes not yet covered by a redaction the user has (accepted or drawn)."""
    boxes = redacted_boxes(marks)
    return [s for s in suggested if not any(_inside(s.box, box) for box in boxes)]


def _inside(inner: Rect, outer: Rect) -> bool:
    left, top = outer[0] <= inner[0], outer[1] <= inner[1]
    return left and top and inner[2] <= outer[2] and inner[3] <= outer[3]


def _floor(value: float) -> int:
    return int(value // 1)


def _ceil(value: float) -> int:
    return -int(-value // 1)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def arrow_shape(arrow: Arrow) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """Where an arrow's shaft ends and its head's three corners, in image pixels: one shape
    for the editor's drawing and the painted picture."""
    (x0, y0), (x1, y1) = arrow.start, arrow.end
    dx, dy = x1 - x0, y1 - y0
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    head = min(length, 4.0 * arrow.width)
    half = 2.2 * arrow.width
    bx, by = x1 - ux * head, y1 - uy * head
    corners = [(x1, y1), (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
    # The shaft stops inside the head, so its square end never pokes out of the point.
    shaft_end = (x1 - ux * head * 0.6, y1 - uy * head * 0.6)
    return shaft_end, corners


def frame_bands(frame: Frame) -> list[Rect]:
    """A box outline as the filled bands it is made of, inside its box (top, bottom, left,
    right): the editor and the painted picture fill the same pixels."""
    left, top, right, bottom = frame.box
    w = max(1, min(frame.width, (right - left + 1) // 2, (bottom - top + 1) // 2))
    bands = [
        (left, top, right, top + w),
        (left, bottom - w, right, bottom),
        (left, top + w, left + w, bottom - w),
        (right - w, top + w, right, bottom - w),
    ]
    return [band for band in bands if not is_empty(band)]
