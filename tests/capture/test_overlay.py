"""The region overlay on Qt's offscreen platform (one screen, ratio 1): mouse, keys, paint."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QCursor, QGuiApplication
from PySide6.QtTest import QTest

from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.overlay import RegionOverlay
from tests.capture.support.pattern import pattern_grab, pattern_rgb

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def screen_rect(qapp) -> Rect:
    g = QGuiApplication.primaryScreen().geometry()
    return Rect(g.x(), g.y(), g.width(), g.height())


@pytest.fixture
def overlay(qtbot, screen_rect: Rect):
    widget = RegionOverlay()
    widget.start(pattern_grab(screen_rect))
    yield widget
    widget.dispose()


def surface(overlay: RegionOverlay):
    return overlay.surfaces()[0]


def drag(overlay: RegionOverlay, start: QPoint, end: QPoint) -> None:
    QTest.mousePress(surface(overlay), LEFT, pos=start)
    QTest.mouseMove(surface(overlay), QPoint((start.x() + end.x()) // 2, start.y()))
    QTest.mouseMove(surface(overlay), end)
    QTest.mouseRelease(surface(overlay), LEFT, pos=end)


def test_start_shows_a_frameless_always_on_top_window(
    overlay: RegionOverlay, screen_rect: Rect
) -> None:
    window = surface(overlay)
    assert overlay.active and window.isVisible()
    flags = window.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint
    assert flags & Qt.WindowType.WindowStaysOnTopHint
    g = window.geometry()
    assert Rect(g.x(), g.y(), g.width(), g.height()) == screen_rect


def test_drag_selects_and_enter_confirms(qtbot, overlay: RegionOverlay) -> None:
    QTest.mousePress(surface(overlay), LEFT, pos=QPoint(40, 30))
    QTest.mouseMove(surface(overlay), QPoint(140, 90))
    assert overlay.readout_text == "100 × 60"  # live, while the button is down
    QTest.mouseMove(surface(overlay), QPoint(240, 130))
    QTest.mouseRelease(surface(overlay), LEFT, pos=QPoint(240, 130))
    assert overlay.selection == Rect(40, 30, 200, 100)
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(surface(overlay), Qt.Key.Key_Return)
    assert blocker.args == [Rect(40, 30, 200, 100)]
    assert not overlay.active and not surface(overlay).isVisible()


def test_arrow_keys_nudge_by_one_and_shift_by_ten(qtbot, overlay: RegionOverlay) -> None:
    drag(overlay, QPoint(100, 100), QPoint(150, 140))
    QTest.keyClick(surface(overlay), Qt.Key.Key_Left)
    QTest.keyClick(surface(overlay), Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(surface(overlay), Qt.Key.Key_Down)
    assert overlay.selection == Rect(99, 111, 50, 40)
    assert overlay.readout_text == "50 × 40"
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(surface(overlay), Qt.Key.Key_Enter)
    assert blocker.args == [Rect(99, 111, 50, 40)]


def test_enter_without_selection_takes_the_screen_under_the_cursor(
    qtbot, overlay: RegionOverlay, screen_rect: Rect
) -> None:
    QCursor.setPos(QPoint(screen_rect.x + 10, screen_rect.y + 10))
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(surface(overlay), Qt.Key.Key_Return)
    assert blocker.args == [screen_rect]


def test_a_click_is_not_a_selection(qtbot, overlay: RegionOverlay, screen_rect: Rect) -> None:
    drag(overlay, QPoint(50, 50), QPoint(51, 52))
    assert overlay.selection is None and overlay.readout_text == ""
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.keyClick(surface(overlay), Qt.Key.Key_Return)
    assert blocker.args == [screen_rect]


def test_double_click_inside_the_selection_confirms(qtbot, overlay: RegionOverlay) -> None:
    drag(overlay, QPoint(10, 10), QPoint(90, 70))
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.mouseDClick(surface(overlay), LEFT, pos=QPoint(50, 40))
    assert blocker.args == [Rect(10, 10, 80, 60)]


@pytest.mark.parametrize("how", ["escape", "right-click"])
def test_escape_and_right_click_cancel(qtbot, overlay: RegionOverlay, how: str) -> None:
    drag(overlay, QPoint(10, 10), QPoint(90, 70))
    with qtbot.waitSignal(overlay.cancelled), qtbot.assertNotEmitted(overlay.selected):
        if how == "escape":
            QTest.keyClick(surface(overlay), Qt.Key.Key_Escape)
        else:
            QTest.mouseClick(surface(overlay), Qt.MouseButton.RightButton, pos=QPoint(20, 20))
    assert not overlay.active and not surface(overlay).isVisible()


def test_confirm_on_release_selects_without_enter(qtbot, screen_rect: Rect) -> None:
    overlay = RegionOverlay(confirm_on_release=True)
    overlay.start(pattern_grab(screen_rect))
    with qtbot.waitSignal(overlay.selected) as blocker:
        drag(overlay, QPoint(5, 6), QPoint(25, 46))
    assert blocker.args == [Rect(5, 6, 20, 40)]
    overlay.dispose()


def test_windows_are_built_once_and_reused(
    qtbot, overlay: RegionOverlay, screen_rect: Rect
) -> None:
    before = overlay.surfaces()
    overlay.cancel()
    overlay.start(pattern_grab(screen_rect))
    assert overlay.surfaces() == before
    assert all(s.isVisible() for s in before)


def test_paints_the_frozen_picture_dimmed_outside_the_selection(
    qtbot, overlay: RegionOverlay
) -> None:
    drag(overlay, QPoint(200, 200), QPoint(300, 260))
    image = surface(overlay).grab().toImage()
    inside = QColor(image.pixel(250, 230))
    assert (inside.red(), inside.green(), inside.blue()) == pattern_rgb(250, 230)
    outside = QColor(image.pixel(400, 400))
    expected = pattern_rgb(400, 400)
    assert all(
        abs(got - round(want * 145 / 255)) <= 1
        for got, want in zip(
            (outside.red(), outside.green(), outside.blue()), expected, strict=True
        )
    )


def test_a_finished_selection_shows_ask_and_cancel_buttons_that_work(
    qtbot, overlay: RegionOverlay
) -> None:
    window = surface(overlay)
    QTest.mousePress(window, LEFT, pos=QPoint(300, 200))
    QTest.mouseMove(window, QPoint(500, 350))
    assert window.toolbar() == {}  # not while dragging
    QTest.mouseRelease(window, LEFT, pos=QPoint(500, 350))
    buttons = window.toolbar()
    ask, cancel = buttons["ask"], buttons["cancel"]
    # Just below the selection's bottom-right corner, Ask first.
    assert ask.top() > 350 and ask.right() < cancel.left() <= cancel.right() <= 501
    picture = window.grab().toImage()
    inside_ask = ask.center().toPoint() - QPoint(int(ask.width() / 2) - 3, 0)
    assert QColor(picture.pixel(inside_ask)) == QColor(64, 156, 255)  # drawn, not only hit-tested
    with qtbot.waitSignal(overlay.selected) as blocker:
        QTest.mouseClick(window, LEFT, pos=ask.center().toPoint())
    assert blocker.args == [Rect(300, 200, 200, 150)]


def test_the_cancel_button_cancels(qtbot, overlay: RegionOverlay) -> None:
    drag(overlay, QPoint(10, 10), QPoint(300, 200))
    cancel = surface(overlay).toolbar()["cancel"]
    with qtbot.waitSignal(overlay.cancelled), qtbot.assertNotEmitted(overlay.selected):
        QTest.mouseClick(surface(overlay), LEFT, pos=cancel.center().toPoint())


def test_the_buttons_stay_on_screen_for_a_selection_at_the_bottom(
    overlay: RegionOverlay, screen_rect: Rect
) -> None:
    bottom = screen_rect.height - 2
    drag(overlay, QPoint(400, bottom - 300), QPoint(600, bottom))
    ask = surface(overlay).toolbar()["ask"]
    assert ask.bottom() < bottom - 300  # above the selection instead


@pytest.fixture
def offering(qtbot, screen_rect: Rect):
    """The overlay while a conversation is open in the chat window."""
    widget = RegionOverlay()
    widget.start(pattern_grab(screen_rect), offer_add=True)
    yield widget
    widget.dispose()


def test_without_an_open_conversation_nothing_is_offered_and_a_does_nothing(
    qtbot, overlay: RegionOverlay
) -> None:
    drag(overlay, QPoint(40, 30), QPoint(240, 130))
    assert set(surface(overlay).toolbar()) == {"ask", "cancel"}
    with qtbot.assertNotEmitted(overlay.added), qtbot.assertNotEmitted(overlay.selected):
        QTest.keyClick(surface(overlay), Qt.Key.Key_A)
    with qtbot.waitSignal(overlay.selected), qtbot.assertNotEmitted(overlay.added):
        QTest.keyClick(surface(overlay), Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)


def test_with_an_open_conversation_the_toolbar_offers_new_chat_or_add(
    qtbot, offering: RegionOverlay
) -> None:
    window = surface(offering)
    drag(offering, QPoint(300, 200), QPoint(500, 350))
    buttons = window.toolbar()
    assert list(buttons) == ["ask", "add", "cancel"]
    ask, add, cancel = buttons["ask"], buttons["add"], buttons["cancel"]
    assert ask.right() < add.left() and add.right() < cancel.left()
    assert add.width() > ask.width()  # "Add to open chat ⇧↵" is not cut to the other's size
    with qtbot.waitSignal(offering.added) as blocker, qtbot.assertNotEmitted(offering.selected):
        QTest.mouseClick(window, LEFT, pos=add.center().toPoint())
    assert blocker.args == [Rect(300, 200, 200, 150)]
    assert not offering.active and not offering.offers_add


@pytest.mark.parametrize(
    ("key", "modifier", "signal"),
    [
        (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, "selected"),
        (Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier, "added"),
        (Qt.Key.Key_Enter, Qt.KeyboardModifier.ShiftModifier, "added"),
        (Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier, "added"),
    ],
)
def test_each_choice_has_its_key(qtbot, offering: RegionOverlay, key, modifier, signal) -> None:
    drag(offering, QPoint(40, 30), QPoint(240, 130))
    other = offering.selected if signal == "added" else offering.added
    with qtbot.waitSignal(getattr(offering, signal)) as blocker, qtbot.assertNotEmitted(other):
        QTest.keyClick(surface(offering), key, modifier)
    assert blocker.args == [Rect(40, 30, 200, 100)]


def test_the_offer_ends_with_the_capture(qtbot, screen_rect: Rect) -> None:
    widget = RegionOverlay()
    try:
        widget.start(pattern_grab(screen_rect), offer_add=True)
        widget.cancel()
        widget.start(pattern_grab(screen_rect))  # the next capture, with no chat open
        assert not widget.offers_add
        drag(widget, QPoint(40, 30), QPoint(240, 130))
        assert "add" not in surface(widget).toolbar()
    finally:
        widget.dispose()
