"""Remembered window places per screen, and the placement maths."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication

from snapask_desktop import paths
from snapask_desktop.ui.window_state import (
    WindowStateStore,
    centered,
    clamp_rect,
    logical_anchor,
    place_near,
    screen_key,
)

LEFT = QRect(0, 0, 1920, 1080)
RIGHT = QRect(1920, -200, 2560, 1440)  # a second monitor, higher up: negative offset
SIZE = QSize(440, 620)


def inside(rect: QRect, area: QRect) -> bool:
    return area.contains(rect)


def test_screen_keys_are_safe_and_distinct() -> None:
    assert screen_key("HDMI-1", LEFT) == "HDMI-1_1920x1080+0+0"
    assert screen_key("DP 2/\\x", RIGHT) == "DP_2_x_2560x1440+1920-200"
    assert screen_key("", LEFT).startswith("screen_")


def test_clamp_moves_inside_and_shrinks_only_when_too_big() -> None:
    assert clamp_rect(QRect(1800, 900, 440, 620), LEFT) == QRect(1480, 460, 440, 620)
    assert clamp_rect(QRect(-50, -50, 440, 620), LEFT) == QRect(0, 0, 440, 620)
    assert clamp_rect(QRect(100, 100, 3000, 500), LEFT) == QRect(0, 100, 1920, 500)
    assert clamp_rect(QRect(2000, -300, 440, 620), RIGHT) == QRect(2000, -200, 440, 620)


def test_place_near_prefers_the_right_then_left_then_below_then_above() -> None:
    right = place_near(QRect(100, 100, 400, 300), SIZE, LEFT)
    assert right == QRect(512, 100, 440, 620)
    left = place_near(QRect(1400, 300, 400, 300), SIZE, LEFT)
    assert left == QRect(1400 - 12 - 440, 300, 440, 620)
    wide = QRect(50, 50, 1800, 200)  # no room at either side: below
    assert place_near(wide, SIZE, LEFT) == QRect(50, 262, 440, 620)
    low_wide = QRect(50, 800, 1800, 200)  # no room below either: above
    assert place_near(low_wide, SIZE, LEFT) == QRect(50, 800 - 12 - 620, 440, 620)
    for anchor in (QRect(100, 100, 400, 300), QRect(1400, 300, 400, 300), wide, low_wide):
        placed = place_near(anchor, SIZE, LEFT)
        assert inside(placed, LEFT) and not placed.intersects(anchor)


def test_place_near_slides_along_a_side_to_stay_on_screen() -> None:
    anchor = QRect(100, 900, 300, 150)  # near the bottom: the window slides up
    placed = place_near(anchor, SIZE, LEFT)
    assert placed == QRect(412, 1080 - 620, 440, 620)


def test_full_screen_capture_puts_the_window_at_the_right_edge() -> None:
    placed = place_near(LEFT, SIZE, LEFT)
    assert inside(placed, LEFT) and placed.right() == 1919 - 8
    on_right = place_near(RIGHT, SIZE, RIGHT)
    assert inside(on_right, RIGHT)


def test_centered() -> None:
    assert centered(QSize(400, 200), QRect(0, 0, 1000, 800)).center().x() in (499, 500)
    assert centered(QSize(4000, 200), LEFT).width() == 1920


def test_round_trip_per_screen(tmp_path: Path) -> None:
    path = tmp_path / "ui-state.ini"
    store = WindowStateStore(path)
    store.save_for("chat", "HDMI-1", LEFT, QRect(100, 120, 500, 600))
    store.save_for("chat", "DP-2", RIGHT, QRect(2100, -100, 450, 700))
    store.save_for("history", "HDMI-1", LEFT, QRect(5, 5, 800, 600))
    store.sync()
    assert path.is_file()

    again = WindowStateStore(path)
    assert again.load_for("chat", "HDMI-1", LEFT, LEFT) == QRect(100, 120, 500, 600)
    assert again.load_for("chat", "DP-2", RIGHT, RIGHT) == QRect(2100, -100, 450, 700)
    assert again.load_for("history", "HDMI-1", LEFT, LEFT) == QRect(5, 5, 800, 600)
    # Same name, other resolution: another screen as far as places go.
    assert again.load_for("chat", "HDMI-1", QRect(0, 0, 1280, 720), LEFT) is None
    assert again.load_for("chat", "eDP-1", LEFT, LEFT) is None


def test_saved_place_is_clamped_to_the_free_area(tmp_path: Path) -> None:
    store = WindowStateStore(tmp_path / "ui-state.ini")
    store.save_for("chat", "HDMI-1", LEFT, QRect(1700, 700, 440, 620))
    with_panel = QRect(0, 0, 1920, 1040)  # a panel now takes the bottom 40 px
    assert store.load_for("chat", "HDMI-1", LEFT, with_panel) == QRect(1480, 420, 440, 620)
    store.save_for("chat", "HDMI-1", LEFT, QRect(5000, 5000, 440, 620))  # wholly off screen
    assert store.load_for("chat", "HDMI-1", LEFT, LEFT) is None


def test_damaged_values_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ui-state.ini"
    key = screen_key("HDMI-1", LEFT)
    path.write_text(f"[chat]\n{key}=not,a,rect,!\nother=1\n", encoding="utf-8")
    store = WindowStateStore(path)
    assert store.load_for("chat", "HDMI-1", LEFT, LEFT) is None
    path.write_text(f'[chat]\n{key}="10,10,-5,300"\n', encoding="utf-8")
    assert WindowStateStore(path).load_for("chat", "HDMI-1", LEFT, LEFT) is None


def test_default_file_is_in_the_config_folder(qapp) -> None:
    store = WindowStateStore()
    assert store.path == paths.config_dir() / "ui-state.ini"
    screen = QGuiApplication.primaryScreen()
    rect = QRect(screen.availableGeometry().topLeft(), QSize(300, 300))
    store.save("chat", screen, rect)
    store.sync()
    assert WindowStateStore().load("chat", screen) == rect


def test_logical_anchor_maps_through_the_screen_holding_the_region() -> None:
    plain = (QRect(0, 0, 1920, 1080), 1.0)
    hidpi = (QRect(1920, 0, 1280, 720), 2.0)  # a 2560x1440 panel at 2x, right of the first
    screens = [plain, hidpi]
    assert logical_anchor(QRect(100, 200, 300, 150), screens) == QRect(100, 200, 300, 150)
    assert logical_anchor(QRect(1920 + 400, 200, 600, 300), screens) == QRect(2120, 100, 300, 150)
    assert logical_anchor(QRect(9000, 9000, 10, 10), screens) is None
