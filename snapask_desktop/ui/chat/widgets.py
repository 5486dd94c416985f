"""The chat window's parts: prompt box, question and answer bubbles, transcript, header,
status line, chip layout and the picture viewer. Each only draws and reports user actions."""

from __future__ import annotations

import math
import re
import time

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QIcon,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QScreen,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.local_read import NO_TEXT, local_engine
from snapask_desktop.store.records import Message
from snapask_desktop.ui import style
from snapask_desktop.ui.chat.markdown_view import MarkdownView
from snapask_desktop.ui.chat.status import ChatStatus
from snapask_desktop.ui.window_state import centered

MAX_PROMPT_LINES = 6


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping onto new lines (the quick-action chips)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        """Qt adds each widget through this."""
        self._items.append(item)

    def count(self) -> int:
        """How many items the layout holds."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        """The item at `index`, or None."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        """Remove and return the item at `index`."""
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        """Never grows wider than asked."""
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        """Its height depends on the width it gets."""
        return True

    def heightForWidth(self, width: int) -> int:
        """The height needed to wrap the items into `width`."""
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        """Place the items inside `rect`."""
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """Room for the widest item."""
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        """At least the widest item."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, move: bool) -> int:
        x, y, line_height = rect.x(), rect.y(), 0
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and line_height > 0:
                x, y = rect.x(), y + line_height + self._gap
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y()


PICTURE_HINT = "Ask anything about the picture, or pick a quick action below."
NO_PICTURE_HINT = (
    "Ask anything. To ask about something on your screen, capture it from the tray menu or "
    "with the capture hotkey."
)


class PromptEdit(QPlainTextEdit):
    """The prompt box: Enter sends, Shift+Enter breaks the line, Up/Down walk earlier prompts."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history: list[str] = []
        self._index: int | None = None  # position in history while recalling
        self._draft = ""
        self._recalling = False
        self.setPlaceholderText("Ask about the picture…")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.textChanged.connect(self._edited)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def remember(self, text: str) -> None:
        """Add a sent prompt to the history Up walks through."""
        if text and (not self._history or self._history[-1] != text):
            self._history.append(text)
        self._index = None

    def history(self) -> list[str]:
        """The prompts Up can recall, oldest first."""
        return list(self._history)

    def restore(self, text: str) -> None:
        """A question that was not sent after all: into the history, and into the box unless
        the user is typing something else there."""
        self.remember(text)
        if not self.toPlainText().strip():
            self.setPlainText(text)
            self.moveCursor(QTextCursor.MoveOperation.End)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter / Shift+Enter / Up / Down as described in the class docstring."""
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit(self.toPlainText())
            return
        if key == Qt.Key.Key_Up and not mods and self._at_start() and self._recall(-1):
            return
        if key == Qt.Key.Key_Down and not mods and self._index is not None and self._on_last_line():
            self._recall(+1)
            return
        super().keyPressEvent(event)

    def _at_start(self) -> bool:
        return self.textCursor().position() == 0

    def _on_last_line(self) -> bool:
        probe = self.textCursor()  # a copy: moving it does not move the caret
        return not probe.movePosition(QTextCursor.MoveOperation.Down)

    def _recall(self, step: int) -> bool:
        if not self._history:
            return False
        if self._index is None:
            if step > 0:
                return False
            self._draft = self.toPlainText()
            index = len(self._history) - 1
        else:
            index = self._index + step
        if index < 0:
            return True  # already at the oldest: stay
        self._recalling = True
        if index >= len(self._history):
            self._index = None
            self.setPlainText(self._draft)
        else:
            self._index = index
            self.setPlainText(self._history[index])
        self._recalling = False
        # Up leaves the cursor at the start, so another Up goes further back at once.
        move = QTextCursor.MoveOperation
        self.moveCursor(move.End if step > 0 else move.Start)
        return True

    def _edited(self) -> None:
        if not self._recalling:
            self._index = None

    def _fit(self, *_args: object) -> None:
        lines = max(1, min(MAX_PROMPT_LINES, int(self.document().size().height())))
        margins = self.contentsMargins()
        doc_margin = int(self.document().documentMargin() * 2)
        height = lines * self.fontMetrics().lineSpacing() + doc_margin + margins.top()
        self.setFixedHeight(height + margins.bottom() + 2)


# A follow-up's own picture in its bubble: at most this many logical pixels high.
BUBBLE_PICTURE_HEIGHT = 96


class QuestionBubble(QFrame):
    """One of the user's questions, with its own picture when it brought one (a capture added
    to the conversation); clicking the picture asks to show it full size."""

    picture_clicked = Signal(QImage, str)  # the picture shown (maybe a thumbnail), its key

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style.set_role(self, "bubble")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.picture = QToolButton()
        self.picture.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        style.set_role(self.picture, "flat")
        self.picture.hide()
        self.picture.clicked.connect(
            lambda: self.picture_clicked.emit(self._image, self.picture_key)
        )
        self._image = QImage()
        self.picture_key = ""  # what `set_picture` showed: "" none, the hash, or "hash?" missing
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignLeft)
        self.picture_note = QLabel()  # about the picture (secrets hidden): stays, unlike `note`
        self.picture_note.setWordWrap(True)
        style.set_role(self.picture_note, "muted")
        self.picture_note.hide()
        layout.addWidget(self.picture_note)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        style.set_role(self.note, "warning")
        self.note.hide()
        layout.addWidget(self.label)
        layout.addWidget(self.note)

    def set_note(self, text: str) -> None:
        """A small line under the question (e.g. waiting to send); empty hides it."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_picture_note(self, text: str) -> None:
        """A line under the question's own picture (e.g. what was hidden); empty hides it."""
        self.picture_note.setText(text)
        self.picture_note.setVisible(bool(text))

    def set_picture(self, image: QImage, key: str = "", placeholder: str = "") -> None:
        """Show the question's own picture (a null image with `placeholder`: a framed word
        where a picture not downloaded yet will be; a null image alone: none)."""
        self._image = image
        self.picture_key = key
        if image.isNull() and not placeholder:
            self.picture.hide()
            return
        ratio = self.devicePixelRatioF()
        if image.isNull():
            logical = QSize(BUBBLE_PICTURE_HEIGHT * 3 // 2, BUBBLE_PICTURE_HEIGHT * 2 // 3)
            thumb = QImage(logical * ratio, QImage.Format.Format_ARGB32_Premultiplied)
            thumb.fill(Qt.GlobalColor.transparent)
            thumb.setDevicePixelRatio(ratio)
            painter = QPainter(thumb)
            pen = QPen(self.palette().mid().color(), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            frame = QRect(QPoint(0, 0), logical)
            painter.drawRect(frame.adjusted(0, 0, -1, -1))
            painter.drawText(frame, Qt.AlignmentFlag.AlignCenter, placeholder)
            painter.end()
            self.picture.setToolTip("The picture is not on this computer yet")
        else:
            bound = QSize(BUBBLE_PICTURE_HEIGHT * 3, BUBBLE_PICTURE_HEIGHT)
            logical = image.size()
            if logical.width() > bound.width() or logical.height() > bound.height():
                logical = logical.scaled(bound, Qt.AspectRatioMode.KeepAspectRatio)
            thumb = image.scaled(
                logical.expandedTo(QSize(1, 1)) * ratio,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            thumb.setDevicePixelRatio(ratio)
            self.picture.setToolTip("Show this picture full size")
        pixmap = QPixmap.fromImage(thumb)
        pixmap.setDevicePixelRatio(ratio)
        self.picture.setIcon(QIcon(pixmap))
        self.picture.setIconSize(logical)
        self.picture.show()


class AnswerBubble(QWidget):
    """One answer: Markdown that streams in, a note (stopped, failed) and a Copy button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.view = MarkdownView(self)
        self.waiting = QLabel("Waiting for the answer…")
        style.set_role(self.waiting, "muted")
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel()
        style.set_role(self.note, "muted")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy this answer (Ctrl+Shift+C for the last one)")
        style.set_role(self.copy_button, "flat")
        self.copy_button.clicked.connect(self.copy)
        footer.addWidget(self.note, 1)
        footer.addWidget(self.copy_button)
        layout.addWidget(self.waiting)
        layout.addWidget(self.view)
        layout.addLayout(footer)
        self.status = "pending"
        self.read_by: str | None = None  # the engine that read it on a device (no AI)
        self._read_elsewhere = False  # read on another device (synced here)
        self._plain: str | None = None  # a local reading's text, shown as is (not Markdown)
        self._set_footer()

    def set_read_here(self, engine: str, *, elsewhere: bool = False) -> None:
        """This answer is a picture's text read on a device (this one, or another that synced
        it), not by an AI: shown and copied verbatim."""
        self.read_by = engine
        self._read_elsewhere = elsewhere
        self._set_footer()

    def append(self, text: str) -> None:
        """A streamed chunk."""
        self.waiting.hide()
        self.view.append_markdown(text)

    def finish(self, status: str, text: str) -> None:
        """The answer ended: final, cancelled (stopped by the user), error, or unsaved (shown,
        but the store refused it)."""
        self.status = status
        self.waiting.hide()
        if self.read_by is not None and text != NO_TEXT:
            self._plain = text  # OCR text is not Markdown: a code block keeps its lines
            self.view.set_markdown(_code_block(text))
        else:
            self.view.set_markdown(text)
        self.view.flush()
        self._set_footer()

    def text(self) -> str:
        """The answer's Markdown (a local reading's plain text)."""
        return self._plain if self._plain is not None else self.view.markdown()

    def copy(self) -> None:
        """Put the answer's text on the clipboard."""
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied ✓")
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy"))

    def _set_footer(self) -> None:
        notes = {
            "cancelled": "Stopped",
            "error": "Cut short: the answer did not finish",
            "unsaved": "Not saved",
        }
        note = notes.get(self.status, "")
        if self.read_by is not None and not note:
            where = "another device" if self._read_elsewhere else "this device"
            note = f"Read on {where} ({self.read_by}), not by an AI"
        self.note.setText(note)
        self.copy_button.setVisible(self.status != "pending")


class Transcript(QScrollArea):
    """The conversation, newest at the bottom; follows a streaming answer while at the bottom."""

    picture_clicked = Signal(QImage, str)  # a follow-up's own picture (key: its hash, if
    # known), to show full size

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        body = QWidget()
        body.setAutoFillBackground(False)
        self.viewport().setAutoFillBackground(False)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(10, 8, 10, 8)
        self._layout.setSpacing(10)
        self.hint = QLabel(PICTURE_HINT)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        style.set_role(self.hint, "muted")
        self._layout.addWidget(self.hint)
        self._layout.addStretch(1)
        self.setWidget(body)
        self._stick = True
        self.device_id = ""  # this device's id, once known: who read a local reading
        # The follow-ups' own pictures by hash (None: not downloaded yet); the first picture
        # is the window's, above the transcript, and not repeated in its bubble.
        self.pictures: dict[str, QImage | None] = {}
        self.first_picture: str | None = None
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._value_changed)

    def clear(self) -> None:
        """Remove every bubble."""
        while self._layout.count() > 2:
            item = self._layout.takeAt(1)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        self.hint.show()
        self._stick = True

    def add_question(self, text: str) -> QuestionBubble:
        """Show a question."""
        return self._add(QuestionBubble(text))

    def add_answer(self) -> AnswerBubble:
        """Start an (empty, streaming) answer."""
        return self._add(AnswerBubble())

    def bubbles(self) -> list[QWidget]:
        """The bubbles in order (questions and answers)."""
        return [
            item.widget()
            for item in (self._layout.itemAt(i) for i in range(1, self._layout.count() - 1))
            if item is not None and item.widget() is not None
        ]

    def questions(self) -> list[QuestionBubble]:
        """The question bubbles in order."""
        return [b for b in self.bubbles() if isinstance(b, QuestionBubble)]

    def answers(self) -> list[AnswerBubble]:
        """The answer bubbles in order."""
        return [b for b in self.bubbles() if isinstance(b, AnswerBubble)]

    def show_messages(self, messages: tuple[Message, ...]) -> None:
        """Show a saved conversation."""
        self._add_messages(messages)
        self.scroll_to_end()

    def sync_messages(self, messages: tuple[Message, ...]) -> None:
        """Show the conversation as stored now (another device changed it): new messages at
        the end are added; anything else is redrawn. The view follows only if it was at the
        bottom; otherwise it stays where the user was reading."""
        shown = [_bubble_key(bubble) for bubble in self.bubbles()]
        wanted = [self._message_key(message) for message in messages]
        if shown == wanted:
            return
        stick, bar = self._stick, self.verticalScrollBar()
        value = bar.value()
        if wanted[: len(shown)] == shown:
            self._add_messages(messages[len(shown) :], follow=stick)
            return
        for bubble in self.bubbles():
            self._layout.removeWidget(bubble)
            bubble.hide()
            bubble.deleteLater()
        self._add_messages(messages, follow=stick)
        self.hint.setVisible(not messages)
        if stick:
            self.scroll_to_end()
        else:
            QTimer.singleShot(0, self, lambda: bar.setValue(value))

    def _add_messages(self, messages: tuple[Message, ...], follow: bool = True) -> None:
        for message in messages:
            if message.role == "user":
                bubble = self._add(QuestionBubble(message.text), follow)
                assert isinstance(bubble, QuestionBubble)
                self._show_own_picture(bubble, message)
            else:
                bubble = self._add(AnswerBubble(), follow)
                assert isinstance(bubble, AnswerBubble)
                engine = local_engine(message.model)
                if engine is not None:
                    elsewhere = bool(self.device_id) and message.device_id != self.device_id
                    bubble.set_read_here(engine, elsewhere=elsewhere)
                bubble.finish(message.status, message.text)

    def _show_own_picture(self, bubble: QuestionBubble, message: Message) -> None:
        sha = message.screenshot_sha256
        if sha is None or sha == self.first_picture or sha not in self.pictures:
            return
        image = self.pictures[sha]
        if image is None:
            bubble.set_picture(QImage(), f"{sha}?", "Not downloaded")
        else:
            bubble.set_picture(image, sha)

    def _message_key(self, message: Message) -> tuple[str, ...]:
        if message.role != "user":
            return _message_key(message)
        sha = message.screenshot_sha256
        if sha is None or sha == self.first_picture or sha not in self.pictures:
            return ("user", message.text, "")
        return ("user", message.text, sha if self.pictures[sha] is not None else f"{sha}?")

    def scroll_to_end(self) -> None:
        """Jump to the newest message and keep following."""
        self._stick = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def remove(self, widget: QWidget) -> None:
        """Take one bubble away."""
        self._layout.removeWidget(widget)
        widget.hide()
        widget.deleteLater()
        self.hint.setVisible(not self.bubbles())

    def _add(self, widget: QWidget, follow: bool = True) -> QWidget:
        if isinstance(widget, QuestionBubble):
            widget.picture_clicked.connect(self.picture_clicked)
        self.hint.hide()
        self._layout.insertWidget(self._layout.count() - 1, widget)
        if follow:
            self._stick = True
        return widget

    def _range_changed(self, _low: int, high: int) -> None:
        if self._stick:
            self.verticalScrollBar().setValue(high)

    def _value_changed(self, value: int) -> None:
        self._stick = value >= self.verticalScrollBar().maximum() - 4


def _code_block(text: str) -> str:
    """`text` as a fenced code block whose fence no run of backticks in it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _message_key(message: Message) -> tuple[str, ...]:
    if message.role == "user":
        return ("user", message.text)
    return ("model", message.text, message.status)


def _bubble_key(bubble: QWidget) -> tuple[str, ...]:
    if isinstance(bubble, QuestionBubble):
        return ("user", bubble.label.text(), bubble.picture_key)
    if isinstance(bubble, AnswerBubble):
        return ("model", bubble.text(), bubble.status)
    return ("other",)


class PictureViewer(QWidget):
    """The picture at full size (scaled down to fit the screen), in its own window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("SnapAsk — picture")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.area = QScrollArea()
        self.area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.area.setWidget(self.label)
        self.area.setWidgetResizable(True)
        layout.addWidget(self.area)
        self.setToolTip("Esc closes")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Esc closes the viewer."""
        if event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def show_image(self, image: QImage, screen: QScreen | None) -> None:
        """Show `image`, fitted to 90% of the screen's free area."""
        pixmap = QPixmap.fromImage(image)
        area = screen.availableGeometry() if screen else QRect(0, 0, 1280, 800)
        room = QSize(int(area.width() * 0.9), int(area.height() * 0.9))
        if pixmap.width() > room.width() or pixmap.height() > room.height():
            pixmap = pixmap.scaled(
                room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.label.setPixmap(pixmap)
        size = pixmap.size().grownBy(self.contentsMargins()) + QSize(4, 4)
        self.setGeometry(centered(size.expandedTo(QSize(200, 150)), area))
        self.show()
        self.raise_()
        self.activateWindow()


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" to fit its width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""

    def set_full_text(self, text: str) -> None:
        """Show `text`, shortened when too wide; the whole text is the tooltip."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The text before shortening."""
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Shorten again for the new width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.width() if self.isVisible() else 10_000
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._full, Qt.TextElideMode.ElideRight, width))


class Header(QFrame):
    """Title bar of the frameless window: drag it to move the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style.set_role(self, "header")
        self._drag_from: QPoint | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.setSpacing(2)
        self.title = ElidedLabel()
        style.set_role(self.title, "title")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.new_button = QToolButton()
        self.new_button.setText("New")
        self.new_button.setToolTip("New chat without a picture (Ctrl+N)")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide the window (Esc)")
        for button in (self.new_button, self.close_button):
            style.set_role(button, "flat")
            button.setAutoRaise(True)
        layout.addWidget(self.title, 1)
        layout.addWidget(self.new_button)
        layout.addWidget(self.close_button)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setToolTip("Drag to move")

    def set_title(self, text: str) -> None:
        """Show the conversation title (elided to fit)."""
        self.title.set_full_text(text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start moving the window: the window system's move when it offers one."""
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        handle = self.window().windowHandle()
        if handle is not None and handle.startSystemMove():
            return None
        self._drag_from = event.globalPosition().toPoint() - self.window().pos()
        return None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Follow the pointer while dragging (where there is no system move)."""
        if self._drag_from is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.window().move(event.globalPosition().toPoint() - self._drag_from)
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Stop dragging."""
        self._drag_from = None
        super().mouseReleaseEvent(event)


class StatusRow(QWidget):
    """The status line: what is happening and, on failure, Retry / Send now; a waiting
    question's reason and a countdown to its next try."""

    action = Signal(str)  # "retry" | "send_now" | "restore" | "regenerate" | "ask_ai"
    settings_requested = Signal(str)  # the page that holds the fix

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 2)
        texts = QVBoxLayout()
        texts.setSpacing(1)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        style.set_role(self.detail, "muted")
        texts.addWidget(self.label)
        texts.addWidget(self.detail)
        self.button = QPushButton()
        self.button.setAutoDefault(False)
        self.button.clicked.connect(lambda: self.action.emit(self._action))
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setAutoDefault(False)
        self.settings_button.setToolTip("Open SnapAsk's settings (API key, model)")
        self.settings_button.clicked.connect(
            lambda: self.settings_requested.emit(self._status.settings_page)
        )
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.button)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        layout.addLayout(texts, 1)
        layout.addLayout(buttons)
        self._action = ""
        self._status = ChatStatus()
        self._next_try_at = 0.0
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._show_detail)
        self.show_status(ChatStatus())

    def show_status(self, status: ChatStatus) -> None:
        """Show a status (hidden when idle without a message)."""
        self._status = status
        roles = {"error": "error", "waiting": "warning", "retrying": "warning"}
        style.set_role(self.label, roles.get(status.kind, "muted"))
        self.label.setText(status.message)
        self._action = status.action
        labels = {
            "retry": ("Retry", "Ask again (Ctrl+R)"),
            "send_now": ("Send now", "Try to send the waiting question now (Ctrl+R)"),
            "restore": ("Restore", "Bring the deleted conversation back (Ctrl+R)"),
            "regenerate": ("Regenerate", "Answer again in place of the stopped answer (Ctrl+R)"),
            "ask_ai": ("Ask the AI", "Send the picture to your AI provider to read it (Ctrl+R)"),
        }
        text, tip = labels.get(status.action, ("", ""))
        self.button.setText(text)
        self.button.setToolTip(tip)
        self.button.setVisible(bool(status.action))
        self.settings_button.setVisible(bool(status.settings_page))
        if status.next_try_s is not None:
            self._next_try_at = time.monotonic() + status.next_try_s
            self._tick.start()
        else:
            self._tick.stop()
        self._show_detail()
        self.setVisible(bool(status.message or status.action))

    def _show_detail(self) -> None:
        parts = [self._status.detail] if self._status.detail else []
        if self._status.next_try_s is not None:
            left = math.ceil(self._next_try_at - time.monotonic())
            parts.append(f"Next try in {left} s." if left > 0 else "Trying again…")
            if left <= 0:
                self._tick.stop()
        self.detail.setText(" ".join(parts))
        self.detail.setVisible(bool(parts))
