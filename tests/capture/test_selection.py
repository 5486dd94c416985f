"""The overlay's selection state machine: drag, click, nudge, confirm, readout."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from snapask_desktop.capture import selection as sel
from snapask_desktop.capture.geometry import Point, Rect

BOUNDS = Rect(-1920, 0, 5760, 2160)
SCREEN = Rect(0, 0, 3840, 2160)


def dragged(a: Point, b: Point) -> sel.SelectionState:
    state = sel.press(sel.SelectionState(BOUNDS), a)
    state = sel.drag(state, Point((a.x + b.x) // 2, (a.y + b.y) // 2))
    return sel.release(state, b)


def test_drag_selects_the_rectangle_between_press_and_release() -> None:
    state = dragged(Point(100, 100), Point(500, 400))
    assert state.rect == Rect(100, 100, 400, 300)
    assert state.has_selection and not state.dragging
    assert sel.readout(state) == "400 × 300"


def test_readout_follows_the_drag_live() -> None:
    state = sel.press(sel.SelectionState(BOUNDS), Point(10, 10))
    assert sel.readout(state) == ""
    state = sel.drag(state, Point(1290, 730))
    assert state.dragging
    assert sel.readout(state) == "1280 × 720"


def test_click_without_drag_leaves_no_selection() -> None:
    state = dragged(Point(100, 100), Point(102, 101))
    assert state.rect is None and not state.has_selection
    assert sel.confirm(state, SCREEN) == SCREEN


def test_drag_is_clamped_to_the_screen() -> None:
    state = dragged(Point(-2500, -40), Point(-1800, 100))
    assert state.rect == Rect(-1920, 0, 120, 100)


def test_moving_without_a_pressed_button_does_nothing() -> None:
    state = sel.drag(sel.SelectionState(BOUNDS), Point(50, 50))
    assert state.rect is None
    assert sel.release(state, Point(60, 60)) == state


def test_nudge_moves_by_one_or_ten_pixels() -> None:
    state = dragged(Point(100, 100), Point(200, 150))
    state = sel.nudge(state, sel.NUDGE_PX, 0)
    state = sel.nudge(state, 0, -sel.NUDGE_FAST_PX)
    assert state.rect == Rect(101, 90, 100, 50)


def test_nudge_stops_at_the_screen_edge() -> None:
    state = dragged(Point(BOUNDS.right - 20, 0), Point(BOUNDS.right - 5, 30))
    state = sel.nudge(state, 10, -10)
    assert state.rect == Rect(BOUNDS.right - 15, 0, 15, 30)


def test_nudge_without_selection_or_while_dragging_does_nothing() -> None:
    empty = sel.SelectionState(BOUNDS)
    assert sel.nudge(empty, 1, 0) == empty
    dragging = sel.drag(sel.press(empty, Point(0, 0)), Point(50, 50))
    assert sel.nudge(dragging, 1, 0) == dragging


def test_confirm_picks_the_selection_or_the_whole_screen() -> None:
    assert sel.confirm(dragged(Point(1, 2), Point(30, 40)), SCREEN) == Rect(1, 2, 29, 38)
    assert sel.confirm(sel.SelectionState(BOUNDS), SCREEN) == SCREEN


def test_confirm_waits_for_the_end_of_a_drag() -> None:
    dragging = sel.drag(sel.press(sel.SelectionState(BOUNDS), Point(0, 0)), Point(50, 50))
    assert sel.confirm(dragging, SCREEN) is None


def test_a_new_press_replaces_the_previous_selection() -> None:
    state = dragged(Point(0, 0), Point(100, 100))
    state = sel.press(state, Point(500, 500))
    assert state.rect == Rect(500, 500, 0, 0)
    assert not state.has_selection


POINTS = st.builds(Point, st.integers(-4000, 5000), st.integers(-500, 2700))


@given(POINTS, POINTS, st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), max_size=20))
def test_selection_never_leaves_the_screen(
    a: Point, b: Point, nudges: list[tuple[int, int]]
) -> None:
    state = dragged(a, b)
    for dx, dy in nudges:
        state = sel.nudge(state, dx, dy)
        if state.rect is not None:
            assert BOUNDS.contains_rect(state.rect)
            assert state.has_selection


@given(POINTS, POINTS, st.integers(-30, 30), st.integers(-30, 30))
def test_a_nudge_and_its_opposite_cancel_out_away_from_edges(
    a: Point, b: Point, dx: int, dy: int
) -> None:
    state = dragged(a, b)
    assume(state.rect is not None)
    assert state.rect is not None
    assume(BOUNDS.contains_rect(state.rect.translated(dx, dy)))
    back = sel.nudge(sel.nudge(state, dx, dy), -dx, -dy)
    assert back.rect == state.rect
