"""The picture editor: hide parts of a picture and mark it up before it is sent.

Thin on purpose: marks, undo and the widget <-> image mapping are `editor/` (pure), the final
bytes are painted by `redact.guard.apply_marks` (what is stored, sent and synced), and "What
will be sent" is the controller's `preview` (the same path, then the provider's downscaling).

Keys: R hide (a solid box), A arrow, B box, H highlighter, T text label; Ctrl+Z undo, Ctrl+Y or
Ctrl+Shift+Z redo; Enter hides every suggested part (or, with none left, is Done); Ctrl+Enter
Done; Esc cancels.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

from PIL.Image import Image as PILImage
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.editor.marks import (
    Arrow,
    EditList,
    Frame,
    Highlight,
    Label,
    Mark,
    Redaction,
    box_between,
    clean_label,
    frame_bands,
    is_empty,
    pending_suggestions,
)
from snapask_desktop.editor.render import (
    HIGHLIGHT_ALPHA,
    HIGHLIGHT_COLOUR,
    MARK_COLOUR,
    arrow_image,
    label_image,
)
from snapask_desktop.editor.view import ImageView
from snapask_desktop.ui import style

# (tool, button text, key, what it does)
TOOLS = (
    ("redact", "Hide", "R", "Hide: drag a solid black box over what must not be sent"),
    ("arrow", "Arrow", "A", "Arrow: drag from the tail to what it points at"),
    ("frame", "Box", "B", "Box: drag an outline around something"),
    ("highlight", "Highlight", "H", "Highlighter: drag over text to mark it"),
    ("label", "Text", "T", "Text: click where a short label goes, type it, Enter"),
)
PREVIEW_HEIGHT = 120
PREVIEW_DELAY_MS = 250
SUGGESTION_COLOUR = QColor(255, 160, 0)


def _tool_sizes(image: QSize) -> tuple[int, int]:
    """Line width and label height in image pixels: visible on a big screen, not heavy on a
    small region."""
    longest = max(image.width(), image.height())
    return max(3, round(longest / 400)), max(16, round(longest / 60))


class EditorCanvas(QWidget):
    """The picture with its marks; drags make marks with the current tool."""

    changed = Signal()  # the marks changed (added, undone, redone)

    def __init__(self, image: QImage, edits: EditList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = image
        self.edits = edits
        self.tool = "redact"
        self.suggested: list[Redaction] = []
        self._drag: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._width, self._label_size = _tool_sizes(image.size())
        self._pixmap = QPixmap.fromImage(image)
        self.label_edit = _LabelEdit(self)
        self.label_edit.setPlaceholderText("Label, then Enter")
        self.label_edit.setMaxLength(60)
        self.label_edit.hide()
        self.label_edit.committed.connect(self._commit_label)
        self._label_at: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Picture to hide parts of and mark up")
        self.setAccessibleDescription(
            "Drag to draw with the chosen tool: R hide, A arrow, B box, H highlighter, T text"
        )

    def sizeHint(self) -> QSize:
        """The picture at its natural size (one image pixel on one device pixel)."""
        ratio = self.devicePixelRatioF() or 1.0
        return QSize(round(self.image.width() / ratio), round(self.image.height() / ratio))

    def view(self) -> ImageView:
        """Where the picture is drawn now."""
        size = (self.image.width(), self.image.height())
        return ImageView(size, (self.width(), self.height()), self.devicePixelRatioF() or 1.0)

    @property
    def pending(self) -> list[Redaction]:
        """Suggested boxes not hidden yet."""
        return pending_suggestions(self.suggested, self.edits.marks)

    def accept_suggestions(self) -> int:
        """Hide every suggested part (one undo step); how many were added."""
        pending = self.pending
        self.edits.add(*pending)
        if pending:
            self._changed()
        return len(pending)

    def undo(self) -> None:
        """Take back the last mark."""
        if self.edits.undo():
            self._changed()

    def redo(self) -> None:
        """Put back the last mark undone."""
        if self.edits.redo():
            self._changed()

    def _changed(self) -> None:
        self.update()
        self.changed.emit()

    # --- drawing ---------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        """The picture, its marks, the pending suggestions and the drag under way."""
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), style.mix(palette.window().color(), QColor("gray"), 0.25))
        view = self.view()
        x, y, w, h = view.shown
        scaled = (w, h) != (self.image.width(), self.image.height())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scaled)
        painter.drawPixmap(QRectF(x, y, w, h), self._pixmap, QRectF(self._pixmap.rect()))
        painter.setClipRect(QRectF(x, y, w, h))  # marks end at the picture's edge, as sent
        painter.translate(x, y)
        painter.scale(view.scale, view.scale)  # from here on: image pixels
        marks = list(self.edits.marks)
        preview = self._drag_mark()
        if preview is not None:
            marks.append(preview)
        for mark in marks:
            if not isinstance(mark, Redaction):
                _draw_mark(painter, mark)
        for mark in marks:  # redactions over everything, as painted when sent
            if isinstance(mark, Redaction):
                painter.fillRect(_rectf(mark.box), QColor(0, 0, 0))
        pen = QPen(SUGGESTION_COLOUR, 2 / view.scale, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(QColor(255, 160, 0, 60), Qt.BrushStyle.BDiagPattern))
        for suggestion in self.pending:
            painter.drawRect(_rectf(suggestion.box))
        painter.end()

    def _drag_mark(self) -> Mark | None:
        if self._drag is None:
            return None
        return self._mark_between(*self._drag)

    def _mark_between(self, a: tuple[float, float], b: tuple[float, float]) -> Mark | None:
        size = (self.image.width(), self.image.height())
        if self.tool == "arrow":
            start, end = _pixel(a, size), _pixel(b, size)
            return Arrow(start, end, self._width) if start != end else None
        box = box_between(a, b, size)
        if is_empty(box):
            return None
        if self.tool == "redact":
            return Redaction(box)
        if self.tool == "frame":
            return Frame(box, self._width)
        if self.tool == "highlight":
            return Highlight(box)
        return None

    # --- input -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start a mark (or place a label)."""
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        point = self.view().to_image(event.position().x(), event.position().y())
        if self.tool == "label":
            self._start_label(point)
            return None
        self._drag = (point, point)
        return None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Follow the drag."""
        if self._drag is not None:
            point = self.view().to_image(event.position().x(), event.position().y())
            self._drag = (self._drag[0], point)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Finish the mark."""
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.view().to_image(event.position().x(), event.position().y())
        mark = self._mark_between(self._drag[0], point)
        self._drag = None
        if mark is not None:
            self.edits.add(mark)
            self._changed()
        else:
            self.update()

    def _start_label(self, point: tuple[float, float]) -> None:
        size = (self.image.width(), self.image.height())
        self._label_at = _pixel(point, size)
        wx, wy = self.view().to_widget(*self._label_at)
        self.label_edit.clear()
        self.label_edit.move(round(wx), round(wy))
        self.label_edit.resize(220, self.label_edit.sizeHint().height())
        self.label_edit.show()
        self.label_edit.setFocus()

    def _commit_label(self) -> None:
        text = clean_label(self.label_edit.text())
        at, self._label_at = self._label_at, None
        self.label_edit.hide()
        self.setFocus()
        if text and at is not None:
            self.edits.add(Label(at, text, self._label_size))
            self._changed()

    def cancel_label(self) -> bool:
        """Drop a label being typed; True if there was one."""
        if not self.label_edit.isVisible():
            return False
        self._label_at = None
        self.label_edit.hide()
        self.setFocus()
        return True


class _LabelEdit(QLineEdit):
    """The label being typed: Enter commits it and goes no further (in the dialog, Enter
    would hide the suggestions or close the editor)."""

    committed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter commits."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            self.committed.emit()
            return
        super().keyPressEvent(event)


def _draw_mark(painter: QPainter, mark: Mark) -> None:
    """One mark in image pixels, as `editor/render.py` paints it into the sent picture."""
    red = QColor(*MARK_COLOUR)
    if isinstance(mark, Highlight):
        alpha = round(255 * HIGHLIGHT_ALPHA)
        painter.fillRect(_rectf(mark.box), QColor(*HIGHLIGHT_COLOUR, alpha))
    elif isinstance(mark, Frame):
        for band in frame_bands(mark):  # filled bands: the same pixels as the sent picture
            painter.fillRect(_rectf(band), red)
    elif isinstance(mark, Arrow):
        tile, at = _arrow_tile(mark)
        painter.drawImage(QPointF(*at), tile)
    elif isinstance(mark, Label):
        painter.drawImage(QPointF(*mark.at), _label_tile(mark))


@functools.lru_cache(maxsize=64)
def _label_tile(mark: Label) -> QImage:
    """The label as the sent picture has it (Pillow's glyphs, not the desktop's font)."""
    return _qimage(label_image(mark))


@functools.lru_cache(maxsize=64)
def _arrow_tile(mark: Arrow) -> tuple[QImage, tuple[int, int]]:
    """The arrow as the sent picture has it."""
    tile, at = arrow_image(mark)
    return _qimage(tile), at


def _qimage(tile: PILImage) -> QImage:
    data = tile.tobytes("raw", "RGBA")
    image = QImage(data, tile.width, tile.height, 4 * tile.width, QImage.Format.Format_RGBA8888)
    return image.copy()  # owns its pixels (`data` goes away)


def _rectf(box: tuple[int, int, int, int]) -> QRectF:
    return QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1])


def _pixel(point: tuple[float, float], size: tuple[int, int]) -> tuple[int, int]:
    return (
        max(0, min(size[0] - 1, int(point[0] // 1))),
        max(0, min(size[1] - 1, int(point[1] // 1))),
    )


def size_text(width: int, height: int, count: int, mime: str) -> str:
    """ "1229 × 640 px · 184 KB · JPEG": the size of what will be sent."""
    kind = mime.rpartition("/")[2].upper()
    if count < 1000:
        amount = f"{count} bytes"
    elif count < 1_000_000:
        amount = f"{count / 1000:.0f} KB"
    else:
        amount = f"{count / 1_000_000:.1f} MB"
    return f"{width} × {height} px · {amount} · {kind}"


class PictureEditor(QDialog):
    """Hide and mark up the unsent picture; `preview` is asked for "What will be sent".

    `preview(marks)` starts the work and returns a token; the owner calls `show_preview` /
    `preview_failed` with it. Done (`accepted`) leaves the marks in `edits`.
    """

    suggestions_accepted = Signal(int)

    def __init__(
        self,
        image: QImage,
        edits: EditList,
        preview: Callable[[tuple[Mark, ...]], int],
        *,
        review: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("SnapAsk — hide and mark up before sending")
        # The chat waits: a question sent meanwhile would go without the marks being drawn.
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.edits = copy.deepcopy(edits)  # Cancel leaves the chat's marks as they were
        self._preview = preview
        self._preview_token = 0
        self._preview_busy = False  # one at a time: with "Hide secrets" on, each reads (OCR)
        self._preview_again = False
        self.sent_bytes: bytes | None = None  # "What will be sent", exactly
        self._suggestions_known = False
        self._suggestion_problem: str | None = None
        self.canvas = EditorCanvas(image, self.edits)
        self._build(review)
        self._shortcuts()
        self.canvas.changed.connect(self._marks_changed)
        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._ask_preview)
        self.setStyleSheet(style.stylesheet(self.palette()))
        self._update()
        self._ask_preview()

    # --- construction ----------------------------------------------------------------------
    def _build(self, review: bool) -> None:
        tools = QHBoxLayout()
        tools.setSpacing(4)
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        for tool, text, key, tip in TOOLS:
            button = QToolButton()
            button.setText(f"{text} ({key})")
            button.setToolTip(tip)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, t=tool: self.choose(t))
            group.addButton(button)
            tools.addWidget(button)
            self.tool_buttons[tool] = button
        self.tool_buttons["redact"].setChecked(True)
        tools.addSpacing(12)
        self.undo_button = QToolButton()
        self.undo_button.setText("Undo")
        self.undo_button.setToolTip("Undo the last mark (Ctrl+Z)")
        self.undo_button.clicked.connect(self.canvas.undo)
        self.redo_button = QToolButton()
        self.redo_button.setText("Redo")
        self.redo_button.setToolTip("Redo (Ctrl+Y or Ctrl+Shift+Z)")
        self.redo_button.clicked.connect(self.canvas.redo)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.redo_button)
        tools.addStretch(1)

        self.suggestion_note = QLabel("Looking for secrets in the picture…")
        self.suggestion_note.setWordWrap(True)
        style.set_role(self.suggestion_note, "muted")
        self.accept_button = QPushButton("Hide suggested (Enter)")
        # Enter on a focused button presses that button (not the dialog's Enter below).
        self.accept_button.setAutoDefault(True)
        self.accept_button.setToolTip("Put a solid box over every part that looks like a secret")
        self.accept_button.clicked.connect(self.accept_suggestions)
        self.accept_button.hide()
        suggestions = QHBoxLayout()
        suggestions.addWidget(self.suggestion_note, 1)
        suggestions.addWidget(self.accept_button)

        self.sent_title = QLabel("What will be sent")
        style.set_role(self.sent_title, "title")
        self.sent_image = QLabel()
        self.sent_image.setFixedHeight(PREVIEW_HEIGHT)
        self.sent_image.setMinimumWidth(PREVIEW_HEIGHT)
        self.sent_image.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.sent_size = QLabel("Working it out…")
        self.sent_size.setWordWrap(True)
        style.set_role(self.sent_size, "muted")
        sent_text = QVBoxLayout()
        sent_text.addWidget(self.sent_title)
        sent_text.addWidget(self.sent_size)
        self.sent_note = QLabel(
            "Only this picture is kept and synced; hidden parts are solid black, not blurred."
        )
        self.sent_note.setWordWrap(True)
        style.set_role(self.sent_note, "muted")
        sent_text.addWidget(self.sent_note)
        self.keep_original = QCheckBox("Also keep the original on this device (K)")
        self.keep_original.setToolTip(
            "The picture as captured is kept in SnapAsk's data folder on this computer only: "
            "never sent, synced or exported; deleted with the picture. Off: it is not kept."
        )
        sent_text.addWidget(self.keep_original)
        sent_text.addStretch(1)
        sent = QHBoxLayout()
        sent.addWidget(self.sent_image)
        sent.addLayout(sent_text, 1)

        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(True)
        self.cancel_button.setToolTip("Close without changing the picture (Esc)")
        self.cancel_button.clicked.connect(self.reject)
        self._review = review
        self.done_button = QPushButton("Send as shown" if review else "Done")
        self.done_button.setAutoDefault(True)
        self.done_button.setToolTip(
            ("Send the picture as shown" if review else "Use these marks") + " (Ctrl+Enter)"
        )
        self.done_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        self.keys = QLabel()
        style.set_role(self.keys, "muted")
        buttons.addWidget(self.keys, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.done_button)

        column = QVBoxLayout(self)
        column.addLayout(tools)
        column.addLayout(suggestions)
        column.addWidget(self.canvas, 1)
        column.addLayout(sent)
        column.addLayout(buttons)

    def _shortcuts(self) -> None:
        def add(keys: str | QKeySequence, slot: Callable[[], object]) -> None:
            sequence = keys if isinstance(keys, QKeySequence) else QKeySequence(keys)
            QShortcut(sequence, self, slot)  # type: ignore[call-overload]

        for tool, _text, key, _tip in TOOLS:
            add(key, lambda t=tool: self.choose(t))
        add(QKeySequence.StandardKey.Undo, self.canvas.undo)
        add("Ctrl+Y", self.canvas.redo)
        add("Ctrl+Shift+Z", self.canvas.redo)
        add("K", self.keep_original.toggle)
        add("Ctrl+Return", self.accept)
        add("Ctrl+Enter", self.accept)

    # --- what the owner tells -------------------------------------------------------------
    def show_suggestions(self, redactions: tuple[Redaction, ...], problem: str | None) -> None:
        """The suggested redactions (or why the picture could not be looked at)."""
        self.canvas.suggested = list(redactions)
        self._suggestions_known = True
        self._suggestion_problem = problem
        self.canvas.update()
        self._update()

    def show_preview(self, token: int, data: bytes, width: int, height: int, mime: str) -> None:
        """What would be sent with the marks as they were at `token`."""
        if token != self._preview_token or self._preview_done():
            return
        self.sent_bytes = data
        image = QImage.fromData(data)
        pixmap = QPixmap.fromImage(image)
        ratio = self.devicePixelRatioF() or 1.0
        room = QSize(round(PREVIEW_HEIGHT * 2 * ratio), round(PREVIEW_HEIGHT * ratio))
        pixmap = pixmap.scaled(
            room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        pixmap.setDevicePixelRatio(ratio)
        self.sent_image.setPixmap(pixmap)
        self.sent_image.setToolTip("The picture exactly as the AI provider will receive it")
        self.sent_size.setText(size_text(width, height, len(data), mime))
        self.sent_size.setToolTip(f"{len(data):,} bytes")
        style.set_role(self.sent_size, "muted")

    def preview_failed(self, token: int, reason: str) -> None:
        """Nothing would be sent: say why."""
        if token != self._preview_token or self._preview_done():
            return
        self.sent_image.clear()
        self.sent_bytes = None
        self.sent_size.setText(f"Nothing can be sent as it is: {reason}")
        style.set_role(self.sent_size, "error")

    # --- actions ---------------------------------------------------------------------------
    def choose(self, tool: str) -> None:
        """Pick a tool (also by its key)."""
        if self.canvas.label_edit.isVisible() and tool != "label":
            self.canvas.cancel_label()
        self.canvas.tool = tool
        self.tool_buttons[tool].setChecked(True)

    def accept_suggestions(self) -> None:
        """Hide every suggested part."""
        count = self.canvas.accept_suggestions()
        if count:
            self.suggestions_accepted.emit(count)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter hides the suggested parts, or with none left is Done; Esc cancels (a label
        being typed first)."""
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.canvas.pending:
                self.accept_suggestions()
            else:
                self.accept()
            return
        if key == Qt.Key.Key_Escape and self.canvas.cancel_label():
            return
        super().keyPressEvent(event)

    def _marks_changed(self) -> None:
        self._update()
        self._timer.start()

    def _ask_preview(self) -> None:
        if self._preview_busy:
            self._preview_again = True  # asked for when the one under way ends
            return
        self.sent_size.setText("Working it out…")
        style.set_role(self.sent_size, "muted")
        self._preview_busy = True
        self._preview_token = self._preview(self.edits.marks)
        if not self._preview_token:
            self._preview_busy = False

    def _preview_done(self) -> bool:
        """The preview under way ended; True if the marks changed meanwhile (another is
        started, and this one is not shown)."""
        self._preview_busy = False
        if self._preview_again:
            self._preview_again = False
            self._ask_preview()
            return True
        return False

    def _update(self) -> None:
        self.undo_button.setEnabled(self.edits.can_undo)
        self.redo_button.setEnabled(self.edits.can_redo)
        pending = len(self.canvas.pending)
        finish = "sends" if self._review else "done"
        first = "Enter hides the dashed parts" if pending else f"Enter {finish}"
        self.keys.setText(f"Drag to draw · {first} · Ctrl+Z undo · Esc cancels")
        problem = self._suggestion_problem
        self.accept_button.setVisible(pending > 0)
        if problem:
            self.suggestion_note.setText(f"{problem} Look for secrets yourself.")
            style.set_role(self.suggestion_note, "warning")
        elif pending:
            what = "1 part looks" if pending == 1 else f"{pending} parts look"
            self.suggestion_note.setText(
                f"{what} like a secret (dashed). Enter hides them, or draw boxes yourself."
            )
            style.set_role(self.suggestion_note, "warning")
        elif self.canvas.suggested:
            self.suggestion_note.setText("Every suggested part is hidden.")
            style.set_role(self.suggestion_note, "muted")
        elif self._suggestions_known:
            self.suggestion_note.setText(
                "Nothing here looks like a secret to SnapAsk; drag boxes over anything else."
            )
            style.set_role(self.suggestion_note, "muted")

    def changeEvent(self, event: QEvent) -> None:
        """Follow light/dark palette switches."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(style.stylesheet(self.palette()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the canvas drawn to its new size."""
        super().resizeEvent(event)
        self.canvas.update()
