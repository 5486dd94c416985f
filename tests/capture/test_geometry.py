"""Coordinate model: logical <-> physical on multi-monitor, mixed-DPI layouts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapask_desktop.capture.geometry import (
    MIN_SELECTION_PX,
    Point,
    PointF,
    Rect,
    ScreenInfo,
    ScreenLayout,
    UniformScale,
    bounding_rect,
    build_layout,
    crop_box,
    uniform_scale,
)

# A Windows-style mixed-DPI desk: a 1080p monitor at 100 % left of (and lower than) a
# 4K primary at 200 %, and a 1440p one at 150 % to the right. Qt keeps native origins,
# so logical rects are (origin, native size / ratio).
LEFT = ScreenInfo("left", Rect(-1920, 300, 1920, 1080), 1.0)
MAIN = ScreenInfo("main", Rect(0, 0, 1920, 1080), 2.0)
RIGHT = ScreenInfo("right", Rect(3840, 0, 1707, 960), 1.5)
NATIVE = [Rect(-1920, 300, 1920, 1080), Rect(0, 0, 3840, 2160), Rect(3840, 0, 2560, 1440)]


@pytest.fixture
def desk() -> ScreenLayout:
    return build_layout([LEFT, MAIN, RIGHT], NATIVE)


def test_pairs_qt_screens_with_the_monitors_the_grab_reported(desk: ScreenLayout) -> None:
    assert [m.physical for m in desk.monitors] == NATIVE
    assert [m.scale for m in desk.monitors] == [1.0, 2.0, 1.5]
    assert desk.virtual == Rect(-1920, 0, 1920 + 3840 + 2560, 2160)


def test_a_screen_the_grab_did_not_report_gets_its_rect_from_qt() -> None:
    layout = build_layout([MAIN], [Rect(0, 0, 1920, 1080)])
    assert layout.monitors[0].physical == Rect(0, 0, 3840, 2160)
    assert layout.virtual == Rect(0, 0, 3840, 2160)


def test_a_rounded_native_size_still_pairs_and_keeps_the_exact_rect() -> None:
    # 1.25: 1366 logical px are 1707.5 device pixels; the backend says 1708.
    screen = ScreenInfo("laptop", Rect(0, 0, 1366, 768), 1.25)
    layout = build_layout([screen], [Rect(0, 0, 1708, 960)])
    assert layout.monitors[0].physical == Rect(0, 0, 1708, 960)
    assert layout.monitors[0].scale == 1.25


def test_points_based_desktops_scale_origins_too() -> None:
    # macOS / Wayland portal: the desktop counts in points, the grab has 2 px per point.
    screens = [
        ScreenInfo("a", Rect(0, 0, 1440, 900), 2.0),
        ScreenInfo("b", Rect(1440, 0, 1920, 1080), 1.0),
    ]
    layout = build_layout(screens, [Rect(0, 0, 2880, 1800), Rect(2880, 0, 3840, 2160)], 2.0)
    assert [m.physical for m in layout.monitors] == [
        Rect(0, 0, 2880, 1800),
        Rect(2880, 0, 3840, 2160),
    ]
    assert layout.to_physical(PointF(1500, 10)) == PointF(3000, 20)


@pytest.mark.parametrize(
    ("logical", "physical"),
    [
        (PointF(-1920, 300), PointF(-1920, 300)),  # left monitor, scale 1, negative offset
        (PointF(-1, 1379), PointF(-1, 1379)),
        (PointF(0, 0), PointF(0, 0)),  # main, scale 2
        (PointF(100.5, 20.25), PointF(201, 40.5)),
        (PointF(1919, 1079), PointF(3838, 2158)),
        (PointF(3840, 0), PointF(3840, 0)),  # right, scale 1.5, origin kept
        (PointF(3940, 100), PointF(3990, 150)),
    ],
)
def test_logical_to_physical_through_the_monitor_under_the_point(
    desk: ScreenLayout, logical: PointF, physical: PointF
) -> None:
    assert desk.to_physical(logical) == physical
    assert desk.to_logical(physical) == logical


def test_qt_logical_gap_between_mixed_dpi_monitors_maps_through_the_nearest(
    desk: ScreenLayout,
) -> None:
    # Logical x 2500 lies between MAIN (ends at 1920) and RIGHT (starts at 3840).
    assert desk.monitor_at(PointF(2500, 10)).name == "main"
    assert desk.monitor_at(PointF(3500, 10)).name == "right"


def test_monitor_under_a_point(desk: ScreenLayout) -> None:
    assert desk.monitor_at(PointF(-5, 400)).name == "left"
    assert desk.monitor_at(PointF(5, 5)).name == "main"
    assert desk.monitor_at(PointF(-5, 5)).name == "main"  # above LEFT: nearest is MAIN
    assert desk.monitor_at_physical(Point(3839, 2159)).name == "main"
    assert desk.monitor_at_physical(Point(3840, 0)).name == "right"


def test_selection_on_a_hidpi_monitor_is_in_physical_pixels(desk: ScreenLayout) -> None:
    rect = desk.selection_to_physical(PointF(100, 100), PointF(300, 250))
    assert rect == Rect(200, 200, 400, 300)


def test_selection_dragged_backwards_is_normalised(desk: ScreenLayout) -> None:
    assert desk.selection_to_physical(PointF(300, 250), PointF(100, 100)) == Rect(
        200, 200, 400, 300
    )


def test_selection_across_monitors_of_different_scale(desk: ScreenLayout) -> None:
    # From the left monitor (scale 1) onto the main one (scale 2).
    rect = desk.selection_to_physical(PointF(-100, 500), PointF(50, 600))
    assert rect == Rect(-100, 500, 200, 700)


def test_selection_is_clamped_to_the_virtual_screen(desk: ScreenLayout) -> None:
    rect = desk.selection_to_physical(PointF(-3000, -50), PointF(-1800, 400))
    assert rect == Rect(-1920, 0, 120, 400)


def test_fractional_scale_snaps_to_the_nearest_pixel_boundary(desk: ScreenLayout) -> None:
    # 150 %: logical 3841 -> 3841.5 physical, which rounds up to boundary 3842.
    rect = desk.selection_to_physical(PointF(3841, 1), PointF(3851, 11))
    assert rect == Rect(3842, 2, 15, 15)


def test_a_click_is_not_a_selection(desk: ScreenLayout) -> None:
    assert desk.selection_to_physical(PointF(10, 10), PointF(10, 10)) is None
    # On the 100 % monitor 3 px is below the minimum; 2 logical px on 200 % is 4 physical.
    assert desk.selection_to_physical(PointF(-10, 400), PointF(-7, 500)) is None
    assert desk.selection_to_physical(PointF(10, 10), PointF(12, 12)) == Rect(20, 20, 4, 4)


def test_crop_box_is_relative_to_the_picture_and_clamped() -> None:
    picture = Rect(-1920, 0, 8320, 2160)
    assert crop_box(Rect(-100, 500, 200, 700), picture) == (1820, 500, 2020, 1200)
    assert crop_box(Rect(-2000, -10, 100, 20), picture) == (0, 0, 20, 10)
    assert crop_box(Rect(10000, 0, 5, 5), picture) is None


def test_rect_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="negative"):
        Rect(0, 0, -1, 5)
    with pytest.raises(TypeError, match="int"):
        Rect(0, 0, 1.5, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no rectangles"):
        bounding_rect([])
    with pytest.raises(ValueError, match="device pixel ratio"):
        ScreenInfo("x", Rect(0, 0, 10, 10), 0)
    with pytest.raises(ValueError, match="no screens"):
        build_layout([], [])


def test_moved_inside_keeps_the_size_and_stays_in_bounds() -> None:
    bounds = Rect(0, 0, 100, 100)
    assert Rect(95, -3, 10, 10).moved_inside(bounds) == Rect(90, 0, 10, 10)
    assert Rect(-50, 0, 300, 10).moved_inside(bounds) == Rect(0, 0, 100, 10)


# -- properties ---------------------------------------------------------------------------

SCALES = st.sampled_from([1.0, 1.25, 1.5, 1.75, 2.0, 3.0])


@st.composite
def layouts(draw: st.DrawFn) -> ScreenLayout:
    """Two to three monitors side by side with random sizes, offsets and scales."""
    count = draw(st.integers(2, 3))
    x = draw(st.integers(-5000, 2000))
    screens, natives = [], []
    for index in range(count):
        scale = draw(SCALES)
        width, height = draw(st.integers(320, 2000)), draw(st.integers(240, 1500))
        y = draw(st.integers(-800, 800))
        native = Rect(x, y, round(width * scale), round(height * scale))
        screens.append(ScreenInfo(f"s{index}", Rect(x, y, width, height), scale))
        natives.append(native)
        x = native.right  # next monitor starts where this one ends, in native pixels
    return build_layout(screens, natives)


@given(layouts(), st.data())
def test_physical_pixels_survive_a_round_trip_through_logical(layout: ScreenLayout, data) -> None:
    monitor = data.draw(st.sampled_from(layout.monitors))
    p = monitor.physical
    point = Point(
        data.draw(st.integers(p.x, p.right - 1)), data.draw(st.integers(p.y, p.bottom - 1))
    )
    logical = layout.to_logical(point)
    assert layout.monitor_at(logical) is monitor
    assert layout.snap_logical(logical) == point


@given(layouts(), st.data())
def test_logical_points_survive_a_round_trip_through_physical(layout: ScreenLayout, data) -> None:
    monitor = data.draw(st.sampled_from(layout.monitors))
    g = monitor.logical
    point = PointF(
        data.draw(st.floats(g.x, g.right - 0.01, allow_nan=False)),
        data.draw(st.floats(g.y, g.bottom - 0.01, allow_nan=False)),
    )
    back = monitor.to_logical(monitor.to_physical(point))
    assert back.x == pytest.approx(point.x, abs=1e-6)
    assert back.y == pytest.approx(point.y, abs=1e-6)


POINTS = st.builds(
    PointF, st.floats(-9000, 12000, allow_nan=False), st.floats(-3000, 4000, allow_nan=False)
)


@given(layouts(), POINTS, POINTS)
def test_any_drag_gives_a_rect_inside_the_screen_or_nothing(
    layout: ScreenLayout, a: PointF, b: PointF
) -> None:
    rect = layout.selection_to_physical(a, b)
    if rect is not None:
        assert layout.virtual.contains_rect(rect)
        assert rect.width >= MIN_SELECTION_PX and rect.height >= MIN_SELECTION_PX
        box = crop_box(rect, layout.virtual)
        assert box == (
            rect.x - layout.virtual.x,
            rect.y - layout.virtual.y,
            rect.right - layout.virtual.x,
            rect.bottom - layout.virtual.y,
        )


@given(
    st.builds(
        Rect,
        st.integers(-3000, 3000),
        st.integers(-3000, 3000),
        st.integers(0, 4000),
        st.integers(0, 4000),
    ),
    st.builds(
        Rect,
        st.integers(-3000, 3000),
        st.integers(-3000, 3000),
        st.integers(1, 4000),
        st.integers(1, 4000),
    ),
)
def test_crop_box_always_lies_inside_the_picture(rect: Rect, picture: Rect) -> None:
    box = crop_box(rect, picture)
    if box is None:
        assert rect.intersected(picture) is None
    else:
        left, top, right, bottom = box
        assert 0 <= left < right <= picture.width
        assert 0 <= top < bottom <= picture.height


def test_uniform_scale_places_a_picture_that_has_no_monitor_list() -> None:
    screens = [Rect(0, 0, 1280, 800), Rect(1280, 0, 1920, 1080)]
    fit = uniform_scale(screens, 6400, 2160)
    assert fit is not None
    assert (fit.pixel_ratio, fit.origin) == (2.0, Point(0, 0))
    assert fit.monitors == (Rect(0, 0, 2560, 1600), Rect(2560, 0, 3840, 2160))


def test_uniform_scale_refuses_a_picture_of_another_shape() -> None:
    assert uniform_scale([Rect(0, 0, 800, 800)], 96, 64) is None
    assert uniform_scale([], 96, 64) is None
    assert uniform_scale([Rect(-800, 0, 800, 600)], 1600, 1200) == UniformScale(
        2.0, Point(-1600, 0), (Rect(-1600, 0, 1600, 1200),)
    )
