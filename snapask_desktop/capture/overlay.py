"""The region-selection overlay: one frozen, frameless, always-on-top window per screen.

One window per screen rather than one spanning the virtual desktop: a Qt window has a
single device pixel ratio, so a spanning window would draw one monitor of a mixed-DPI
layout blurred or at the wrong size (Windows, X11 with per-screen scale factors), and on
macOS a window cannot span displays at all. Each window shows its own monitor's part of
the grab at that monitor's scale; the selection lives in physical pixels in one shared
state, so a drag may cross screens.

Built ahead of time: `start()` on the hotkey path only swaps the picture and shows the
windows that already exist (no widget construction, no encoding).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QScreen,
)
from PySide6.QtWidgets import QWidget

from snapask_desktop.capture import selection as sel
from snapask_desktop.capture.geometry import (
    Monitor,
    Point,
    PointF,
    Rect,
    ScreenInfo,
    ScreenLayout,
    bounding_rect,
    build_layout,
)
from snapask_desktop.capture.grab import Grab
from snapask_desktop.capture.qimage import qimage_view

# One of selection.press / drag / release.
Transition = Callable[[sel.SelectionState, Point], sel.SelectionState]

HINT_TEXT = "Drag to select  ·  Enter: whole screen  ·  Esc: cancel"
# The buttons beside a finished selection: after the drag the hint is gone, and they say
# how to go on (Enter and Esc work as well, arrows still nudge).
ASK_TEXT = "Ask  ↵"
CANCEL_TEXT = "Cancel  Esc"
# With a conversation open in the chat window, a capture may go into it instead: the choice is
# a button and a key each (Enter: a new chat as ever; Shift+Enter or A: into the open one).
NEW_CHAT_TEXT = "New chat  ↵"
ADD_TEXT = "Add to open chat  ⇧↵"
_TOOLBAR_GAP = 8
_DIM = QColor(0, 0, 0, 110)
_ACCENT = QColor(64, 156, 255)
_LABEL_BG = QColor(20, 20, 20, 215)
_LABEL_FG = QColor(255, 255, 255)
_BUTTON_EDGE = QColor(255, 255, 255, 110)
# Logical pixels around a selection that its border, size label and buttons may cover.
_LABEL_ROOM = 240
_NUDGE_KEYS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}


def screen_info(screen: QScreen) -> ScreenInfo:
    """What geometry.py needs to know about a Qt screen."""
    g = screen.geometry()
    return ScreenInfo(
        screen.name(), Rect(g.x(), g.y(), g.width(), g.height()), screen.devicePixelRatio()
    )


def current_layout(grab: Grab) -> ScreenLayout:
    """Qt's screens paired with the monitors a grab reported."""
    screens = [screen_info(s) for s in QGuiApplication.screens()]
    return build_layout(screens, grab.monitors, grab.pixel_ratio)


def screen_under_cursor(grab: Grab, layout: ScreenLayout | None = None) -> Rect:
    """The physical rect of the monitor under the mouse pointer, inside `grab`.

    What "capture full screen" crops to: `crop(grab, screen_under_cursor(grab))`.
    """
    layout = layout or current_layout(grab)
    pos = QCursor.pos()
    monitor = layout.monitor_at(PointF(pos.x(), pos.y()))
    return monitor.physical.intersected(grab.rect) or grab.rect


class RegionOverlay(QObject):
    """Shows a frozen grab on every screen and lets the person pick a region.

    Emits `selected(Rect)` with the chosen physical desktop rectangle (always inside the
    grab), `added(Rect)` when it was chosen for the open conversation (offered by
    `start(..., offer_add=True)`), or `cancelled()`; either way the windows are hidden again.
    """

    selected = Signal(object)
    added = Signal(object)  # Rect: the picture goes into the open conversation
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, *, confirm_on_release: bool = False):
        super().__init__(parent)
        self._confirm_on_release = confirm_on_release
        self._surfaces: list[_Surface] = []
        self._grab: Grab | None = None
        self._image: QImage | None = None
        self._layout: ScreenLayout | None = None
        self._state: sel.SelectionState | None = None
        self._offer_add = False
        self._app = QGuiApplication.instance()
        if self._app is not None:
            self._app.screenAdded.connect(self._screens_changed)
            self._app.screenRemoved.connect(self._screens_changed)
        self.prepare()

    # -- public API -------------------------------------------------------------------

    def prepare(self) -> None:
        """(Re)build one hidden window per screen; done at startup and on screen changes."""
        for surface in self._surfaces:
            surface.hide()
            surface.deleteLater()
        self._surfaces = [_Surface(self, screen) for screen in QGuiApplication.screens()]
        for surface in self._surfaces:
            surface.warm_up()

    def start(
        self, grab: Grab, layout: ScreenLayout | None = None, *, offer_add: bool = False
    ) -> None:
        """Show `grab` frozen on every screen and wait for a selection. `offer_add`: a
        conversation is open, and the selection may go into it (`added`) as well as into a
        new chat (`selected`)."""
        self._offer_add = offer_add
        self._layout = layout or current_layout(grab)
        bounds = self._layout.virtual.intersected(grab.rect) or grab.rect
        self._grab, self._image = grab, qimage_view(grab)
        self._state = sel.SelectionState(bounds)
        monitors = self._layout.monitors
        for surface, monitor in zip(self._surfaces, monitors, strict=False):
            surface.present(monitor)
        self._focus_surface(QCursor.pos())

    def cancel(self) -> None:
        """Hide the overlay and emit `cancelled()` (no effect when not shown)."""
        if self._end():
            self.cancelled.emit()

    @property
    def active(self) -> bool:
        """True while the overlay is shown."""
        return self._state is not None

    @property
    def selection(self) -> Rect | None:
        """The current selection in physical desktop pixels (None without one)."""
        return self._state.rect if self._state and self._state.has_selection else None

    @property
    def readout_text(self) -> str:
        """The live size label, e.g. "1280 × 720" (physical pixels)."""
        return sel.readout(self._state) if self._state else ""

    @property
    def offers_add(self) -> bool:
        """True while the overlay offers to add the picture to the open conversation."""
        return self._state is not None and self._offer_add

    @property
    def layout(self) -> ScreenLayout | None:
        """The screen layout of the picture being shown."""
        return self._layout

    def dispose(self) -> None:
        """Delete the windows (the overlay cannot be shown again afterwards)."""
        self.cancel()
        if self._app is not None:
            self._app.screenAdded.disconnect(self._screens_changed)
            self._app.screenRemoved.disconnect(self._screens_changed)
            self._app = None
        for surface in self._surfaces:
            surface.deleteLater()
        self._surfaces = []

    def surfaces(self) -> list[QWidget]:
        """The per-screen windows (for tests and window-manager hints)."""
        return list(self._surfaces)

    # -- input from the surfaces ------------------------------------------------------

    def _press(self, where: QPointF) -> None:
        self._update(sel.press, where)

    def _move(self, where: QPointF) -> None:
        if self._state is not None and self._state.dragging:
            self._update(sel.drag, where)

    def _release(self, where: QPointF) -> None:
        self._update(sel.release, where)
        if self._confirm_on_release and self.selection is not None:
            self._confirm()

    def _double_click(self, where: QPointF) -> None:
        rect = self.selection
        if rect is not None and self._layout is not None:
            point = self._layout.snap_logical(PointF(where.x(), where.y()))
            if rect.contains(point):
                self._confirm()

    def _key(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.cancel()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._confirm(add=shift and self._offer_add)
        elif key == Qt.Key.Key_A and self._offer_add:
            self._confirm(add=True)
        elif key in _NUDGE_KEYS and self._state is not None:
            fast = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            step = sel.NUDGE_FAST_PX if fast else sel.NUDGE_PX
            dx, dy = _NUDGE_KEYS[Qt.Key(key)]
            self._set_state(sel.nudge(self._state, dx * step, dy * step))

    # -- internals --------------------------------------------------------------------

    def _update(self, step: Transition, where: QPointF) -> None:
        if self._state is None or self._layout is None:
            return
        at = self._layout.snap_logical(PointF(where.x(), where.y()))
        self._set_state(step(self._state, at))

    def _set_state(self, state: sel.SelectionState) -> None:
        old = self._state.rect if self._state else None
        self._state = state
        new = state.rect
        # Appearing or vanishing selections change the hint text too: repaint everything.
        if old is not None and new is not None and not old.is_empty and not new.is_empty:
            self._repaint(bounding_rect([old, new]))
        else:
            self._repaint()

    def _confirm(self, add: bool = False) -> None:
        if self._state is None or self._layout is None or self._grab is None:
            return
        rect = sel.confirm(self._state, self._whole_screen())
        if rect is None:
            return
        rect = rect.intersected(self._grab.rect)
        if rect is not None and self._end():
            (self.added if add else self.selected).emit(rect)

    def _whole_screen(self) -> Rect:
        assert self._layout is not None and self._grab is not None
        return screen_under_cursor(self._grab, self._layout)

    def _end(self) -> bool:
        if self._state is None:
            return False
        for surface in self._surfaces:
            surface.releaseKeyboard()
            surface.hide()
        self._state = None
        self._offer_add = False
        self._grab = self._image = None
        return True

    def _focus_surface(self, cursor: QPoint) -> None:
        target = QGuiApplication.screenAt(cursor)
        visible = [s for s in self._surfaces if s.isVisible()]
        chosen = next((s for s in visible if s.screen() is target), visible[0] if visible else None)
        if chosen is not None:
            _raise(chosen)
            chosen.activateWindow()
            chosen.setFocus(Qt.FocusReason.OtherFocusReason)
            # Override-redirect windows get no focus from the window manager on X11.
            if QGuiApplication.platformName() == "xcb":
                chosen.grabKeyboard()

    def _repaint(self, changed: Rect | None = None) -> None:
        """Repaint what `changed` (physical) touches, with room for border and label."""
        for surface in self._surfaces:
            if surface.isVisible():
                surface.update_area(changed)

    def _screens_changed(self, *_args) -> None:
        self.cancel()
        self.prepare()

    # Paint data for the surfaces.
    def _paint_state(self) -> tuple[QImage | None, Grab | None, sel.SelectionState | None]:
        return self._image, self._grab, self._state


def _raise(window: QWidget) -> None:
    # The offscreen platform (tests) has no stacking order and warns on every raise.
    if QGuiApplication.platformName() != "offscreen":
        window.raise_()


class _Surface(QWidget):
    """The overlay window of one screen; paints its part of the frozen grab."""

    def __init__(self, overlay: RegionOverlay, screen: QScreen) -> None:
        flags = (
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Tool
        )
        if QGuiApplication.platformName() == "xcb":
            # Map without asking the window manager: no animation, above panels and docks.
            flags |= Qt.WindowType.BypassWindowManagerHint
        super().__init__(None, flags)
        self._overlay = overlay
        self._screen = screen
        self._monitor: Monitor | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, False)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setWindowTitle("SnapAsk capture")
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.winId()  # create the native window now rather than on the hotkey path

    def warm_up(self) -> None:
        """Load the label font and glyphs now: the first paint must not wait for fontconfig."""
        image = QImage(8, 8, QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(image)
        try:
            self._paint_label(
                painter,
                f"{HINT_TEXT} 0123456789 × {ASK_TEXT} {CANCEL_TEXT} {NEW_CHAT_TEXT} {ADD_TEXT}",
                QPointF(0, 0),
            )
        finally:
            painter.end()

    def present(self, monitor: Monitor) -> None:
        """Show this screen's part of the current grab."""
        self._monitor = monitor
        if QGuiApplication.platformName().startswith("wayland"):
            # Wayland clients cannot place windows; full screen on the right output can.
            self.setScreen(self._screen)
            self.showFullScreen()
            return
        g = monitor.logical
        self.setGeometry(g.x, g.y, g.width, g.height)
        self.show()
        _raise(self)

    @property
    def monitor(self) -> Monitor | None:
        """The monitor this window shows."""
        return self._monitor

    def update_area(self, changed: Rect | None) -> None:
        """Schedule a repaint of the part of this window a physical rect touches (all: None)."""
        if changed is None or self._monitor is None:
            self.update()
            return
        # A repaint of a small selection on a 4K screen then redraws a small area only.
        area = self._local(self._monitor, changed).adjusted(
            -_LABEL_ROOM, -_LABEL_ROOM, _LABEL_ROOM, _LABEL_ROOM
        )
        self.update(area.toAlignedRect())

    # -- events -----------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            button = self._button_at(event.position())
            if button == "ask":
                self._overlay._confirm()
            elif button == "add":
                self._overlay._confirm(add=True)
            elif button == "cancel":
                self._overlay.cancel()
            else:
                self._overlay._press(event.globalPosition())
        elif event.button() == Qt.MouseButton.RightButton:
            self._overlay.cancel()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        over_button = self._button_at(event.position()) is not None
        wanted = Qt.CursorShape.PointingHandCursor if over_button else Qt.CursorShape.CrossCursor
        if self.cursor().shape() != wanted:
            self.setCursor(wanted)
        self._overlay._move(event.globalPosition())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._overlay._release(event.globalPosition())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._overlay._double_click(event.globalPosition())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._overlay._key(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        image, grab, state = self._overlay._paint_state()
        monitor = self._monitor
        painter = QPainter(self)
        try:
            if image is None or grab is None or state is None or monitor is None:
                painter.fillRect(self.rect(), Qt.GlobalColor.black)
                return
            self._paint_picture(painter, image, grab, monitor)
            self._paint_selection(painter, state, monitor)
        finally:
            painter.end()

    # -- painting ---------------------------------------------------------------------

    def _local(self, monitor: Monitor, rect: Rect) -> QRectF:
        x, y, w, h = monitor.rect_to_logical(rect)
        return QRectF(x - monitor.logical.x, y - monitor.logical.y, w, h)

    def _paint_picture(self, painter: QPainter, image: QImage, grab: Grab, monitor: Monitor):
        source = monitor.physical.intersected(grab.rect)
        if source is None:
            painter.fillRect(self.rect(), Qt.GlobalColor.black)
            return
        target = self._local(monitor, source)
        if not target.contains(QRectF(self.rect())):
            painter.fillRect(self.rect(), Qt.GlobalColor.black)  # parts the grab lacks
        src = QRectF(source.x - grab.rect.x, source.y - grab.rect.y, source.width, source.height)
        painter.drawImage(target, image, src)

    def _paint_selection(self, painter: QPainter, state: sel.SelectionState, monitor: Monitor):
        rect = state.rect if state.rect is not None and not state.rect.is_empty else None
        if rect is None:
            painter.fillRect(self.rect(), _DIM)
            if self._shows_pointer():
                self._paint_label(painter, HINT_TEXT, QPointF(self.width() / 2, 24), center=True)
            return
        area = self._local(monitor, rect)
        # Dim everything but the selection (even-odd fill), so selected pixels stay untouched.
        outside = QPainterPath()
        outside.setFillRule(Qt.FillRule.OddEvenFill)
        outside.addRect(QRectF(self.rect()))
        outside.addRect(area)
        painter.fillPath(outside, _DIM)
        pen = QPen(_ACCENT)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(area.adjusted(-0.5, -0.5, 0.5, 0.5))
        layout = self._overlay.layout
        # The size label goes on the one screen holding (or nearest to) the top-left corner.
        if layout is not None and layout.monitor_at_physical(PointF(rect.x, rect.y)) is monitor:
            self._paint_label(painter, sel.readout(state), QPointF(area.left(), area.top() - 6))
        self._paint_toolbar(painter)

    def toolbar(self) -> dict[str, QRectF]:
        """Where the buttons of a finished selection are on this window, by name ("ask",
        "add" when offered, "cancel"; window coordinates; {} when this window shows none)."""
        _image, _grab, state = self._overlay._paint_state()
        monitor, layout = self._monitor, self._overlay.layout
        if state is None or monitor is None or layout is None or state.dragging:
            return {}
        if not state.has_selection or state.rect is None:
            return {}
        rect = state.rect
        # On the one screen holding the selection's bottom-right corner, where a drag ends.
        if layout.monitor_at_physical(PointF(rect.right - 1, rect.bottom - 1)) is not monitor:
            return {}
        area = self._local(monitor, rect)
        metrics = QFontMetrics(self._label_font())
        buttons = self._buttons()
        sizes = [
            QRectF(metrics.boundingRect(text)).adjusted(-9, -5, 9, 5) for _name, text in buttons
        ]
        height = max(size.height() for size in sizes)
        width = sum(size.width() for size in sizes) + 6 * (len(sizes) - 1)
        x = min(max(area.right() - width, 2.0), self.width() - width - 2)
        y = area.bottom() + _TOOLBAR_GAP  # below the selection; above it, or inside, if no room
        if y + height > self.height() - 2:
            y = area.top() - height - _TOOLBAR_GAP - 26  # clear of the size label
            if y < 2:
                y = area.bottom() - height - _TOOLBAR_GAP
        placed: dict[str, QRectF] = {}
        for (name, _text), size in zip(buttons, sizes, strict=True):
            placed[name] = QRectF(x, y, size.width(), height)
            x += size.width() + 6
        return placed

    def _buttons(self) -> list[tuple[str, str]]:
        """The toolbar's buttons (name, label) in their order."""
        if self._overlay.offers_add:
            return [("ask", NEW_CHAT_TEXT), ("add", ADD_TEXT), ("cancel", CANCEL_TEXT)]
        return [("ask", ASK_TEXT), ("cancel", CANCEL_TEXT)]

    def _button_at(self, pos: QPointF) -> str | None:
        return next((name for name, r in self.toolbar().items() if r.contains(pos)), None)

    def _paint_toolbar(self, painter: QPainter) -> None:
        buttons = self.toolbar()
        if not buttons:
            return
        painter.setFont(self._label_font())
        for name, text in self._buttons():
            box = buttons[name]
            # A light edge on the others: their dark fill alone vanishes on a dark screen.
            painter.setPen(Qt.PenStyle.NoPen if name == "ask" else QPen(_BUTTON_EDGE))
            painter.setBrush(_ACCENT if name == "ask" else _LABEL_BG)
            painter.drawRoundedRect(box.adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
            painter.setPen(_LABEL_FG)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(9.0, font.pointSizeF()))
        return font

    def _shows_pointer(self) -> bool:
        return self.screen() is QGuiApplication.screenAt(QCursor.pos())

    def _paint_label(self, painter: QPainter, text: str, anchor: QPointF, center: bool = False):
        if not text:
            return
        font = self._label_font()
        metrics = QFontMetrics(font)
        box = QRectF(metrics.boundingRect(text)).adjusted(-6, -3, 6, 3)
        x = anchor.x() - box.width() / 2 if center else anchor.x()
        y = anchor.y() - box.height()
        # Keep the label on screen: below the anchor when there is no room above.
        x = min(max(x, 2.0), self.width() - box.width() - 2)
        if y < 2:
            y = anchor.y() + 12
        label = QRectF(x, y, box.width(), box.height())
        painter.setFont(font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_LABEL_BG)
        painter.drawRoundedRect(label, 4, 4)
        painter.setPen(_LABEL_FG)
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, text)
