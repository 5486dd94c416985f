"""Where windows were left, per screen: a small INI file beside the settings, and the placement
maths (clamp on screen, open next to a captured region) as pure functions.

Places are kept per screen (name + geometry), so a window reopens where the user put it on
that screen, and a laptop docked to another monitor gets that monitor's place back.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSettings, QSize
from PySide6.QtGui import QScreen

from snapask_desktop import paths

STATE_FILE = "ui-state.ini"
GAP = 12  # px between a captured region and the window opened next to it
MARGIN = 8  # px kept from the screen edges when nothing else fits


def screen_key(name: str, geometry: QRect) -> str:
    """A settings key for a screen: its name and geometry, e.g. `HDMI-1_1920x1080+0+0`."""
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "screen"
    g = geometry
    return f"{clean}_{g.width()}x{g.height()}{g.x():+d}{g.y():+d}"


def clamp_rect(rect: QRect, area: QRect) -> QRect:
    """`rect` moved (and shrunk only if it is bigger than `area`) to lie wholly inside `area`."""
    width = min(rect.width(), area.width())
    height = min(rect.height(), area.height())
    x = min(max(rect.x(), area.left()), area.left() + area.width() - width)
    y = min(max(rect.y(), area.top()), area.top() + area.height() - height)
    return QRect(x, y, width, height)


def place_near(anchor: QRect, size: QSize, area: QRect, gap: int = GAP) -> QRect:
    """A rectangle of `size` beside `anchor` (right, left, below, above: the first that fits in
    `area`); when none fits (a full-screen capture) it sits at the right edge of `area`."""
    w, h = size.width(), size.height()
    candidates = (
        QRect(anchor.right() + 1 + gap, anchor.top(), w, h),
        QRect(anchor.left() - gap - w, anchor.top(), w, h),
        QRect(anchor.left(), anchor.bottom() + 1 + gap, w, h),
        QRect(anchor.left(), anchor.top() - gap - h, w, h),
    )
    for candidate in candidates:
        # Sliding along the side is fine; the window must not cover the region itself.
        placed = clamp_rect(candidate, area)
        if placed.size() == candidate.size() and not placed.intersects(anchor):
            return placed
    corner = QRect(area.right() + 1 - MARGIN - w, area.top() + MARGIN, w, h)
    return clamp_rect(corner, area)


def logical_anchor(physical: QRect, screens: list[tuple[QRect, float]]) -> QRect | None:
    """A captured region (physical desktop pixels) in Qt's logical coordinates, or None.

    `screens` are (logical geometry, device pixel ratio) pairs. Qt keeps each screen's
    top-left where the native one is and scales distances inside it by the pixel ratio; the
    region maps through the screen holding its centre (None if no screen holds it).
    """
    centre = physical.center()
    for geometry, ratio in screens:
        native = QRect(
            geometry.topLeft(),
            QSize(round(geometry.width() * ratio), round(geometry.height() * ratio)),
        )
        if native.contains(centre):
            x = geometry.x() + (physical.x() - geometry.x()) / ratio
            y = geometry.y() + (physical.y() - geometry.y()) / ratio
            width, height = physical.width() / ratio, physical.height() / ratio
            return QRect(round(x), round(y), max(1, round(width)), max(1, round(height)))
    return None


def centered(size: QSize, area: QRect) -> QRect:
    """A rectangle of `size` in the middle of `area` (clamped to it)."""
    rect = QRect(QPoint(0, 0), size)
    rect.moveCenter(area.center())
    return clamp_rect(rect, area)


class WindowStateStore:
    """Remembered window geometries, per window name and screen, in `ui-state.ini`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / STATE_FILE
        self._settings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def save(self, window: str, screen: QScreen, geometry: QRect) -> None:
        """Remember where `window` is on `screen` (written to disk shortly, or on `sync()`)."""
        self.save_for(window, screen.name(), screen.geometry(), geometry)

    def load(self, window: str, screen: QScreen) -> QRect | None:
        """Where `window` was on `screen`, kept on its available area; None if never saved."""
        return self.load_for(window, screen.name(), screen.geometry(), screen.availableGeometry())

    def load_for(self, window: str, name: str, geometry: QRect, available: QRect) -> QRect | None:
        """`load` for a screen given by its name and geometries."""
        raw = self._settings.value(self._key(window, name, geometry))
        rect = _parse_rect(raw)
        if rect is None or not rect.intersects(available):
            return None
        return clamp_rect(rect, available)

    def save_for(self, window: str, name: str, geometry: QRect, rect: QRect) -> None:
        """`save` for a screen given by its name and geometry."""
        key = self._key(window, name, geometry)
        self._settings.setValue(key, f"{rect.x()},{rect.y()},{rect.width()},{rect.height()}")

    def sync(self) -> None:
        """Write pending changes to the file now."""
        self._settings.sync()

    @staticmethod
    def _key(window: str, name: str, geometry: QRect) -> str:
        return f"{re.sub(r'[^A-Za-z0-9_]+', '_', window)}/{screen_key(name, geometry)}"


def _parse_rect(raw: object) -> QRect | None:
    if isinstance(raw, list):  # QSettings reads "1,2,3,4" back as a list of strings
        raw = ",".join(str(part) for part in raw)
    if not isinstance(raw, str):
        return None
    try:
        x, y, w, h = (int(part) for part in raw.split(","))
    except ValueError:
        return None
    if w <= 0 or h <= 0 or w > 100_000 or h > 100_000:
        return None
    return QRect(x, y, w, h)
