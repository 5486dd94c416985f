"""The region overlay's selection as pure state: drag, nudge, confirm, in physical pixels.

Positions are pixel boundaries of the physical desktop (see geometry.py), so a
selection is exactly the pixels the picture will hold; the overlay only converts mouse
positions into this space and paints the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from snapask_desktop.capture.geometry import MIN_SELECTION_PX, Point, Rect, is_selection

NUDGE_PX = 1
NUDGE_FAST_PX = 10


@dataclass(frozen=True)
class SelectionState:
    """The overlay's selection: `anchor` is set while the mouse button is down."""

    bounds: Rect
    rect: Rect | None = None
    anchor: Point | None = None
    min_size: int = MIN_SELECTION_PX

    @property
    def dragging(self) -> bool:
        """True between press and release."""
        return self.anchor is not None

    @property
    def has_selection(self) -> bool:
        """True when a finished (or in-progress) drag is big enough to be a selection."""
        return self.rect is not None and is_selection(self.rect, self.min_size)

    def clamp(self, point: Point) -> Point:
        """A pixel boundary pulled inside the bounds (edges included)."""
        return Point(
            min(max(point.x, self.bounds.x), self.bounds.right),
            min(max(point.y, self.bounds.y), self.bounds.bottom),
        )


def press(state: SelectionState, at: Point) -> SelectionState:
    """Start a new drag at `at`, dropping any previous selection."""
    anchor = state.clamp(at)
    return replace(state, anchor=anchor, rect=Rect(anchor.x, anchor.y, 0, 0))


def drag(state: SelectionState, at: Point) -> SelectionState:
    """Follow the pointer while the button is down (no effect otherwise)."""
    if state.anchor is None:
        return state
    end = state.clamp(at)
    return replace(state, rect=Rect.from_corners(state.anchor.x, state.anchor.y, end.x, end.y))


def release(state: SelectionState, at: Point) -> SelectionState:
    """End the drag; a click (too small to be a selection) leaves no selection."""
    if state.anchor is None:
        return state
    done = replace(drag(state, at), anchor=None)
    return done if done.has_selection else replace(done, rect=None)


def nudge(state: SelectionState, dx: int, dy: int) -> SelectionState:
    """Move a finished selection by (dx, dy) pixels, kept inside the screen."""
    if state.rect is None or state.dragging or not state.has_selection:
        return state
    return replace(state, rect=state.rect.translated(dx, dy).moved_inside(state.bounds))


def confirm(state: SelectionState, whole_screen: Rect) -> Rect | None:
    """What Enter picks: the selection, else `whole_screen`; None in the middle of a drag."""
    if state.dragging:
        return None
    if state.has_selection and state.rect is not None:
        return state.rect
    return whole_screen


def readout(state: SelectionState) -> str:
    """The live size label in physical pixels, e.g. "1280 × 720"; empty without a rect."""
    if state.rect is None or state.rect.is_empty:
        return ""
    return f"{state.rect.width} × {state.rect.height}"
