"""Overlay cases on three screens: 100 % at a negative offset, a 200 % primary, and a 150 %
one whose logical rect leaves a gap (Qt keeps native origins).

Run by test_overlay_multiscreen.py in its own pytest process: the offscreen platform's
screens must be configured before the QApplication exists.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QCursor, QGuiApplication
from PySide6.QtTest import QTest

from snapask_desktop.capture.geometry import Rect, bounding_rect
from snapask_desktop.capture.grab import crop
from snapask_desktop.capture.overlay import RegionOverlay, screen_under_cursor
from tests.capture.support.pattern import pattern_grab, pattern_rgb
from tests.capture.support.screen_layouts import SCREENS

LEFT = Qt.MouseButton.LeftButton
MONITORS = tuple(physical for _logical, _factor, physical in SCREENS.values())


@pytest.fixture(scope="module")
def desk_grab():
    return pattern_grab(bounding_rect(MONITORS), MONITORS)


@pytest.fixture
def overlay(qtbot, desk_grab):
    widget = RegionOverlay()
    widget.start(desk_grab)
    yield widget
    widget.dispose()


def window(overlay: RegionOverlay, name: str):
    return next(s for s in overlay.surfaces() if s.screen().name() == name)


def select(overlay: RegionOverlay, qtbot, name: str, start: QPoint, end: QPoint) -> Rect:
    surface = window(overlay, name)
    QTest.mousePress(surface, LEFT, pos=start)
    QTest.mouseMove(surface, end)
    QTest.mouseRelease(surface, LEFT, pos=end)
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(surface, Qt.Key.Key_Return)
    return blocker.args[0]


def test_qt_sees_the_configured_screens(qapp) -> None:
    screens = {s.name(): s for s in QGuiApplication.screens()}
    assert set(screens) == set(SCREENS)
    for name, (logical, factor, _physical) in SCREENS.items():
        g = screens[name].geometry()
        assert Rect(g.x(), g.y(), g.width(), g.height()) == logical
        assert screens[name].devicePixelRatio() == factor


def test_one_window_per_screen_painting_at_its_ratio(overlay: RegionOverlay) -> None:
    assert len(overlay.surfaces()) == len(SCREENS)
    for name, (logical, factor, physical) in SCREENS.items():
        surface = window(overlay, name)
        g = surface.geometry()
        assert surface.isVisible() and surface.devicePixelRatio() == factor
        assert Rect(g.x(), g.y(), g.width(), g.height()) == logical
        assert surface.monitor.physical == physical


def test_drag_on_a_200_percent_screen_selects_physical_pixels(qtbot, overlay) -> None:
    main = window(overlay, "M")
    QTest.mousePress(main, LEFT, pos=QPoint(100, 100))
    QTest.mouseMove(main, QPoint(300, 250))
    assert overlay.readout_text == "400 × 300"
    QTest.mouseRelease(main, LEFT, pos=QPoint(300, 250))
    QTest.keyClick(main, Qt.Key.Key_Right)  # one physical pixel: half a logical one here
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(main, Qt.Key.Key_Return)
    assert blocker.args == [Rect(201, 200, 400, 300)]


def test_drag_across_screens_of_different_ratio(qtbot, overlay) -> None:
    # Press on L at (-100, 500); L keeps the mouse while the pointer moves onto M, to
    # L-local (1330, 400): native pixel (50, 600). Qt reports that position through the
    # screen under it (M, 200 %: logical (25, 300)); mapped back through M, the drag ends
    # on the pixel under the pointer, not on logical (50, 600) scaled by L's ratio.
    rect = select(overlay, qtbot, "L", QPoint(1180, 300), QPoint(1330, 400))
    assert rect == Rect(-100, 500, 150, 100)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (QPoint(10, 10), QPoint(110, 60), Rect(3855, 15, 150, 75)),
        (QPoint(11, 11), QPoint(21, 21), Rect(3857, 17, 15, 15)),  # x.5 rounds up
    ],
)
def test_150_percent_snaps_to_whole_pixels(qtbot, overlay, start, end, expected) -> None:
    assert select(overlay, qtbot, "R", start, end) == expected


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (QPoint(-100, 300), Rect(-1280, 200, 1280, 720)),
        (QPoint(900, 500), Rect(0, 0, 3840, 2160)),
        (QPoint(4000, 900), Rect(3840, 0, 2560, 1440)),
    ],
)
def test_enter_takes_the_whole_screen_under_the_cursor(qtbot, overlay, cursor, expected) -> None:
    QCursor.setPos(cursor)
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(window(overlay, "M"), Qt.Key.Key_Return)
    assert blocker.args == [expected]


@pytest.mark.parametrize(
    ("name", "points"), [("M", [(300, 300), (201, 455), (599, 499)]), ("R", [(4000, 100)])]
)
def test_windows_show_the_picture_pixel_for_pixel(qtbot, overlay, name, points) -> None:
    # Select everything so nothing is dimmed, then compare device pixels with the grab.
    surface = window(overlay, name)
    logical, _factor, physical = SCREENS[name]
    QTest.mousePress(surface, LEFT, pos=QPoint(1, 1))  # QPoint(0, 0) means "the centre" to QTest
    QTest.mouseRelease(surface, LEFT, pos=QPoint(logical.width - 1, logical.height - 1))
    image = surface.grab().toImage()
    # 1707 logical px at 150 % make a 2561 px backing store for a 2560 px monitor.
    assert image.width() - physical.width in (0, 1) and image.height() == physical.height
    for x, y in points:
        colour = QColor(image.pixel(x - physical.x, y - physical.y))
        assert (colour.red(), colour.green(), colour.blue()) == pattern_rgb(x, y)


def test_full_screen_capture_crops_the_monitor_under_the_cursor(desk_grab) -> None:
    QCursor.setPos(QPoint(4000, 900))
    rect = screen_under_cursor(desk_grab)
    assert rect == Rect(3840, 0, 2560, 1440)
    part = crop(desk_grab, rect)
    assert (part.width, part.height) == (2560, 1440)
    assert part.rgb_at(0, 0) == pattern_rgb(3840, 0)
