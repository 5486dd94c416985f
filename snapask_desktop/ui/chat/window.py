"""The floating chat window: picture, conversation, quick-action chips and the prompt box.

Frameless, always on top, no taskbar entry (a tool window); dragged by its header, resized by
its edges or the grip; remembers its place per screen; opens beside the captured region; Esc
hides it. It only draws what its ChatController reports and calls the controller's methods.

Keys: Enter sends, Shift+Enter new line, Up (empty box or at the start) recalls earlier prompts,
Ctrl+. stops, Ctrl+R retries, Ctrl+Shift+C copies the last answer, Ctrl+N starts a new chat,
Ctrl+E hides parts of a picture not sent yet and marks it up (ui/chat/editor.py), Esc hides the
window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QEvent,
    QObject,
    QPoint,
    QRect,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QCloseEvent,
    QCursor,
    QGuiApplication,
    QHideEvent,
    QIcon,
    QImage,
    QKeySequence,
    QMouseEvent,
    QMoveEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QScreen,
    QShortcut,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizeGrip,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.capture.qimage import qimage_view
from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.ui import style
from snapask_desktop.ui.chat.conflict_banner import ConflictBanner
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.status import READING_HERE, ChatStatus, secrets_hidden
from snapask_desktop.ui.chat.widgets import (
    NO_PICTURE_HINT,
    PICTURE_HINT,
    AnswerBubble,
    FlowLayout,
    Header,
    PictureViewer,
    PromptEdit,
    StatusRow,
    Transcript,
)
from snapask_desktop.ui.window_state import (
    WindowStateStore,
    centered,
    clamp_rect,
    logical_anchor,
    place_near,
)
from snapask_desktop.ui.workers import Task, TaskSignals

if TYPE_CHECKING:
    from snapask_desktop.store.records import Message
    from snapask_desktop.ui.chat.capture_flow import Picture
    from snapask_desktop.ui.chat.editor import PictureEditor  # with Pillow: loaded when opened

STATE_NAME = "chat"
DEFAULT_SIZE = QSize(440, 620)
MIN_SIZE = QSize(320, 380)
THUMB_HEIGHT = 112
PLACEHOLDER_WIDTH = 150
EDGE = 5  # px of the window's border that resize it
SAVE_DELAY_MS = 400


# --- the window ----------------------------------------------------------------------------
class ChatWindow(QWidget):
    """The floating chat window; see the module docstring."""

    settings_requested = Signal(str)  # fix a key/model problem on this Settings page

    def __init__(
        self,
        controller: ChatController,
        state: WindowStateStore | None = None,
        pool: QThreadPool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        flags = (
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        super().__init__(parent, flags)
        self.controller = controller
        self._state = state
        self._pool = pool or QThreadPool.globalInstance()
        self._image = QImage()
        self._thumb_token = 0
        self._thumb_logical = QSize()
        self._thumb_smooth = False  # the smooth thumbnail of the shown picture is in
        self._thumb_signals = TaskSignals(self)
        self._thumb_signals.done.connect(self._smooth_ready)
        self._answer: AnswerBubble | None = None
        self._resize_from: tuple[Qt.Edge, QPoint, QRect] | None = None
        self.viewer: PictureViewer | None = None
        self.setObjectName("ChatWindow")
        self.setWindowTitle("SnapAsk")
        self.setMinimumSize(MIN_SIZE)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self._save_place)
        self._build()
        self._connect()
        self._shortcuts()
        self._restyle()
        self.resize(DEFAULT_SIZE)

    # --- construction ----------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(EDGE, EDGE, EDGE, EDGE)
        outer.setSpacing(0)
        self.header = Header()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedHeight(3)
        self.busy.hide()
        self.thumbnail = QToolButton()
        self.thumbnail.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.thumbnail.setToolTip("Show the picture full size (Space)")
        style.set_role(self.thumbnail, "flat")
        self.thumbnail.hide()
        self.picture_note = QLabel()
        self.picture_note.setWordWrap(True)
        style.set_role(self.picture_note, "muted")
        self.edit_button = QPushButton("Hide / mark up…")
        self.edit_button.setAutoDefault(False)
        self.edit_button.setToolTip(
            "Hide parts of the picture with solid boxes, or mark it up, before sending (Ctrl+E)"
        )
        self.edit_button.hide()
        self.original_button = QPushButton("Show the original")
        self.original_button.setAutoDefault(False)
        self.original_button.setToolTip(
            "The picture as captured, before parts were hidden: kept on this computer only"
        )
        self.original_button.hide()
        self.original_viewer: PictureViewer | None = None
        picture_side = QVBoxLayout()
        picture_side.addStretch(1)
        picture_side.addWidget(self.picture_note)
        picture_side.addWidget(self.edit_button, 0, Qt.AlignmentFlag.AlignLeft)
        picture_side.addWidget(self.original_button, 0, Qt.AlignmentFlag.AlignLeft)
        picture_row = QHBoxLayout()
        picture_row.setContentsMargins(10, 8, 10, 0)
        picture_row.addWidget(self.thumbnail)
        picture_row.addLayout(picture_side, 1)
        self.editor: PictureEditor | None = None
        self.banner = ConflictBanner()
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(10, 6, 10, 0)
        banner_row.addWidget(self.banner)
        self.transcript = Transcript()
        self.status_row = StatusRow()
        self.chips = QWidget()
        self.chip_layout = FlowLayout(self.chips)
        self.prompt = PromptEdit()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(False)
        self.send_button.setAutoDefault(False)
        self._build_attachment()
        self.grip = QSizeGrip(self)
        self.grip.setToolTip("Drag to resize")
        bottom = QVBoxLayout()
        bottom.setContentsMargins(10, 6, 10, 4)
        bottom.setSpacing(6)
        bottom.addWidget(self.chips)
        bottom.addWidget(self.attachment)
        prompt_row = QHBoxLayout()
        prompt_row.setSpacing(6)
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        bottom.addLayout(prompt_row)
        grip_row = QHBoxLayout()
        grip_row.setContentsMargins(0, 0, 0, 0)
        self.hints = QLabel("Enter sends · Shift+Enter new line · Esc hides")
        style.set_role(self.hints, "muted")
        grip_row.addWidget(self.hints, 1)
        grip_row.addWidget(self.grip, 0, Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight)
        bottom.addLayout(grip_row)
        outer.addWidget(self.header)
        outer.addWidget(self.busy)
        outer.addLayout(picture_row)
        outer.addLayout(banner_row)
        outer.addWidget(self.transcript, 1)
        outer.addWidget(self.status_row)
        outer.addLayout(bottom)
        self._rebuild_chips()
        self.setTabOrder(self.prompt, self.send_button)

    def _build_attachment(self) -> None:
        """The row above the prompt that shows a capture added to the open conversation."""
        self.attachment = QWidget()
        self.attachment.setObjectName("Attachment")
        row = QHBoxLayout(self.attachment)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.attachment_thumb = QToolButton()
        self.attachment_thumb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.attachment_thumb.setToolTip("Show the added picture full size")
        style.set_role(self.attachment_thumb, "flat")
        self.attachment_note = QLabel()
        self.attachment_note.setWordWrap(True)
        style.set_role(self.attachment_note, "muted")
        self.attachment_edit = QPushButton("Hide / mark up…")
        self.attachment_edit.setAutoDefault(False)
        self.attachment_edit.setToolTip(
            "Hide parts of the added picture with solid boxes, or mark it up, before sending "
            "(Ctrl+E)"
        )
        self.attachment_remove = QPushButton("Remove")
        self.attachment_remove.setAutoDefault(False)
        self.attachment_remove.setToolTip("Ask the next question without this picture")
        side = QVBoxLayout()
        side.setSpacing(4)
        side.addWidget(self.attachment_note)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.attachment_edit)
        buttons.addWidget(self.attachment_remove)
        buttons.addStretch(1)
        side.addLayout(buttons)
        row.addWidget(self.attachment_thumb, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(side, 1)
        self._attachment_image = QImage()
        self.attachment.hide()

    def _connect(self) -> None:
        c = self.controller
        c.conversation_reset.connect(self._reset)
        c.title_changed.connect(self._title_changed)
        c.picture_changed.connect(self._set_picture)
        c.picture_state_changed.connect(self._picture_state)
        c.transcript_loaded.connect(self._show_transcript)
        c.transcript_loaded.connect(lambda _messages: self._update_controls())
        c.transcript_refreshed.connect(self._sync_transcript)
        c.conflicts_changed.connect(
            lambda conflicts: self.banner.show_conflicts(conflicts, self.controller.device_id)
        )
        self.banner.keep_requested.connect(self.controller.keep_other_version)
        self.banner.dismiss_requested.connect(self.controller.dismiss_conflict)
        c.question_added.connect(self._question_added)
        c.question_restored.connect(self.prompt.restore)
        c.answer_discarded.connect(self._discard_stopped_answer)
        c.answer_started.connect(self._answer_started)
        c.answer_chunk.connect(self._answer_chunk)
        c.answer_read_here.connect(self._answer_read_here)
        c.answer_finished.connect(self._answer_finished)
        c.status_changed.connect(self._status_changed)
        c.secrets_hidden.connect(self._secrets_hidden)
        c.follow_up_secrets_hidden.connect(self._follow_up_secrets_hidden)
        c.marks_changed.connect(self._marks_changed)
        c.review_requested.connect(lambda question: self.edit_picture(review=question))
        c.review_passed.connect(self._send)
        c.preview_ready.connect(self._preview_ready)
        c.preview_failed.connect(self._preview_failed)
        c.suggestions_ready.connect(self._suggestions_ready)
        self.edit_button.clicked.connect(lambda: self.edit_picture())
        self.original_button.clicked.connect(self.controller.show_original)
        c.original_available.connect(self.original_button.setVisible)
        c.original_ready.connect(self._show_original)
        c.attachment_changed.connect(self._attachment_changed)
        c.picture_sent.connect(self._picture_sent)
        self.attachment_edit.clicked.connect(lambda: self.edit_picture())
        self.attachment_remove.clicked.connect(self.controller.remove_picture)
        self.attachment_thumb.clicked.connect(lambda: self._view(self._attachment_image))
        self.transcript.picture_clicked.connect(self._view_follow_up)
        c.thread_picture_ready.connect(self._view)
        c.actions_changed.connect(self._rebuild_chips)
        c.answering_changed.connect(lambda _on: self._update_controls())
        self.prompt.submitted.connect(self._submit)
        self.send_button.clicked.connect(self._send_or_stop)
        self.status_row.action.connect(lambda _action: self.controller.retry())
        self.status_row.settings_requested.connect(self.settings_requested)
        self.thumbnail.clicked.connect(self.show_picture)
        self.header.close_button.clicked.connect(self.hide)
        self.header.new_button.clicked.connect(self.controller.new_conversation)

    def _shortcuts(self) -> None:
        def add(keys: QKeySequence | str, slot: object) -> None:
            sequence = keys if isinstance(keys, QKeySequence) else QKeySequence(keys)
            shortcut = QShortcut(sequence, self, slot)  # type: ignore[call-overload]
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)

        add(QKeySequence(Qt.Key.Key_Escape), self.hide)
        add("Ctrl+.", self.controller.stop)
        add("Ctrl+R", self.controller.retry)
        add("Ctrl+Shift+C", self.copy_last_answer)
        add("Ctrl+N", self.controller.new_conversation)
        add("Ctrl+E", self.edit_picture)

    def _rebuild_chips(self) -> None:
        self._keeping_focus(self._make_chips)

    def _make_chips(self) -> None:
        while self.chip_layout.count():
            item = self.chip_layout.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().hide()  # at once: a focused chip must count as gone
                item.widget().deleteLater()
        previous: QWidget = self.send_button
        for action in self.controller.quick_actions():
            chip = QPushButton(action.label)
            style.set_role(chip, "chip")
            chip.setAutoDefault(False)
            tip = action.prompt if len(action.prompt) <= 240 else action.prompt[:239] + "…"
            chip.setToolTip(tip)
            chip.setProperty("needsPicture", action.needs_picture)
            chip.clicked.connect(lambda _=False, prompt=action.prompt: self._send(prompt))
            self.chip_layout.addWidget(chip)
            self.setTabOrder(previous, chip)
            previous = chip
        # Then what answers a failure, the picture, and the header last.
        rest = (
            self.status_row.button,
            self.status_row.settings_button,
            self.thumbnail,
            self.edit_button,
            self.original_button,
            self.attachment_thumb,
            self.attachment_edit,
            self.attachment_remove,
            self.header.new_button,
            self.header.close_button,
        )
        for widget in rest:
            self.setTabOrder(previous, widget)
            previous = widget
        self._update_controls()

    def chip_buttons(self) -> list[QPushButton]:
        """The quick-action chips, in order."""
        return [
            item.widget()
            for item in (self.chip_layout.itemAt(i) for i in range(self.chip_layout.count()))
            if item is not None and isinstance(item.widget(), QPushButton)
        ]

    # --- showing ---------------------------------------------------------------------------
    def show_near(self, anchor: QRect | None = None) -> None:
        """Show the window beside `anchor` (a captured region, logical desktop pixels), or
        where it was last left on the screen under the pointer; never off-screen."""
        screen = self._screen_for(anchor)
        area = screen.availableGeometry()
        saved = self._state.load(STATE_NAME, screen) if self._state else None
        size = (saved.size() if saved else DEFAULT_SIZE).expandedTo(MIN_SIZE)
        size = size.boundedTo(area.size())
        if anchor is not None:
            rect = place_near(anchor, size, area)
        elif saved is not None:
            rect = clamp_rect(saved, area)
        else:
            rect = centered(size, area)
        self.setGeometry(rect)
        self.show()
        self.raise_()
        self.activateWindow()
        self.prompt.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def _screen_for(self, anchor: QRect | None) -> QScreen:
        point = anchor.center() if anchor is not None else QCursor.pos()
        return QGuiApplication.screenAt(point) or QGuiApplication.primaryScreen()

    def show_picture(self) -> None:
        """Open the picture viewer."""
        self._view(self._image)

    def _view_follow_up(self, image: QImage, key: str) -> None:
        """A follow-up's picture: read again at full size if the thread keeps a thumbnail."""
        if key in self.controller.thread_pictures:
            self.controller.show_thread_picture(key)
        else:
            self._view(image)  # sent from this window: its full picture is at hand

    def _view(self, image: QImage) -> None:
        if image.isNull():
            return
        if self.viewer is None:
            self.viewer = PictureViewer()
        self.viewer.show_image(image, self.screen())

    def edit_picture(self, review: str | None = None) -> None:
        """Open the picture editor on the unsent picture. `review`: the question waiting for
        it ("always ask before sending a picture with a suggested redaction"): sent on Send."""
        png = self.controller.unsent_picture
        if png is None:
            return
        if self.editor is not None:
            self.editor.close()
        from snapask_desktop.ui.chat.editor import PictureEditor

        image = QImage.fromData(png)  # the picture as captured, under the marks
        editor = PictureEditor(
            image,
            self.controller.edits,
            self.controller.preview,
            review=review is not None,
            parent=self,
        )
        self.editor = editor
        editor.keep_original.setChecked(self.controller.keep_original)
        editor.accepted.connect(lambda: self._editor_done(editor, png, review))
        editor.rejected.connect(lambda: self._editor_cancelled(editor, review))
        found = self.controller.suggestions
        if found is not None:
            editor.show_suggestions(found.redactions, found.problem)
        else:
            self.controller.find_suggestions()
        area = self.screen().availableGeometry() if self.screen() else QRect(0, 0, 1280, 800)
        hint = editor.sizeHint().expandedTo(QSize(560, 420))
        editor.setGeometry(centered(hint.boundedTo(area.size() * 0.9), area))
        editor.show()
        editor.raise_()
        editor.activateWindow()
        editor.canvas.setFocus()

    def _editor_done(self, editor: PictureEditor, png: bytes, review: str | None) -> None:
        editor.deleteLater()
        if self.editor is not editor:
            return  # closed because another picture came
        self.editor = None
        keep = editor.keep_original.isChecked()
        if self.controller.set_marks(editor.edits, png, keep_original=keep) and review is not None:
            self._send(review)

    def _show_original(self, image: QImage) -> None:
        if self.original_viewer is None:
            self.original_viewer = PictureViewer()
            self.original_viewer.setWindowTitle("SnapAsk — the original (on this device only)")
        self.original_viewer.show_image(image, self.screen())

    def _editor_cancelled(self, editor: PictureEditor, review: str | None) -> None:
        editor.deleteLater()
        if self.editor is not editor:
            return
        self.editor = None
        if review is not None:
            self.controller.review_cancelled()

    def _preview_ready(self, token: int, prepared: object) -> None:
        if self.editor is not None:
            p = prepared  # a PreparedImage
            self.editor.show_preview(token, p.data, p.width, p.height, p.mime)  # type: ignore[attr-defined]

    def _preview_failed(self, token: int, reason: str) -> None:
        if self.editor is not None:
            self.editor.preview_failed(token, reason)

    def _suggestions_ready(self, found: object) -> None:
        if self.editor is not None:
            self.editor.show_suggestions(found.redactions, found.problem)  # type: ignore[attr-defined]

    def _marks_changed(self) -> None:
        edits = self.controller.edits
        hidden, marked = edits.redaction_count, edits.markup_count
        parts = []
        if hidden:
            parts.append(f"{hidden} hidden")
        if marked:
            parts.append("1 mark" if marked == 1 else f"{marked} marks")
        if self.controller.attachment_state != "none":
            self._attachment_changed(self._attachment_image, self.controller.attachment_state)
        elif parts:
            kept = " The original stays on this device." if self.controller.keep_original else ""
            self.picture_note.setText(" · ".join(parts) + ". Shown as it will be sent." + kept)
            self.thumbnail.setToolTip("Show the picture as it will be sent (Space)")
        else:
            self.picture_note.clear()
        self._update_controls()

    def _attachment_changed(self, image: QImage, state: str) -> None:
        """A capture added to the open conversation (or its new look, or its end)."""
        self._attachment_image = image
        if state == "none":
            self.attachment.hide()
            self.attachment_thumb.setIcon(QIcon())
            self._update_controls()
            return
        if not image.isNull():
            ratio = self.devicePixelRatioF()
            logical = thumbnail_size(image.size()).boundedTo(QSize(THUMB_HEIGHT * 2, THUMB_HEIGHT))
            logical = image.size().scaled(logical, Qt.AspectRatioMode.KeepAspectRatio)
            thumb = _scaled(image, logical.expandedTo(QSize(1, 1)), ratio, smooth=True)
            pixmap = QPixmap.fromImage(thumb)
            pixmap.setDevicePixelRatio(thumb.devicePixelRatio())
            self.attachment_thumb.setIcon(QIcon(pixmap))
            self.attachment_thumb.setIconSize(logical)
        edits = self.controller.edits
        hidden, marked = edits.redaction_count, edits.markup_count
        parts = []
        if hidden:
            parts.append(f"{hidden} hidden")
        if marked:
            parts.append("1 mark" if marked == 1 else f"{marked} marks")
        notes = {
            "pending": "Preparing the picture…",
            "failed": "The picture could not be saved: the next question goes without it.",
        }
        note = notes.get(state, "Added to this chat: it goes with your next question.")
        if parts and state == "ready":
            note += " " + " · ".join(parts) + ", shown as it will be sent."
        self.attachment_note.setText(note)
        self.attachment.show()
        self._update_controls()

    def _picture_sent(self, image: QImage) -> None:
        """The question just asked took the added picture: its bubble shows it."""
        questions = self.transcript.questions()
        if questions and not image.isNull():
            questions[-1].set_picture(image)
        self.attachment.hide()

    def copy_last_answer(self) -> None:
        """Copy the newest answer to the clipboard."""
        answers = [a for a in self.transcript.answers() if a.text()]
        if answers:
            answers[-1].copy()

    # --- controller signals ----------------------------------------------------------------
    def drop_editor(self) -> None:
        """Close the picture editor without applying its marks: another picture came."""
        editor, self.editor = self.editor, None
        if editor is not None:  # drawn on a picture no longer shown: its marks must not apply
            editor.reject()

    def _reset(self) -> None:
        self.drop_editor()
        self.original_button.hide()
        self.transcript.clear()
        self.banner.show_conflicts((), "")
        self._answer = None
        self.picture_note.clear()
        self._attachment_changed(QImage(), "none")  # an added picture went with its chat

    def _title_changed(self, title: str) -> None:
        self.header.set_title(title)
        self.setWindowTitle(f"SnapAsk — {title}")

    def _set_picture(self, image: QImage) -> None:
        self._image = image
        self._thumb_token += 1
        if image.isNull():
            self.thumbnail.hide()
            return
        # A quick (blocky) thumbnail at once, a smooth one from a worker a moment later;
        # both in device pixels so they stay sharp on HiDPI screens.
        ratio = self.devicePixelRatioF()
        logical = thumbnail_size(image.size())
        self._show_thumbnail(_scaled(image, logical, ratio, smooth=False), logical)
        self._thumb_logical, self._thumb_smooth = logical, False
        # The pool deletes the task when done, and with it the full-size picture it holds.
        work = Task(
            self._thumb_token,
            lambda: _scaled(image, logical, ratio, smooth=True),
            self._thumb_signals,
        )
        self._pool.start(work)

    def _smooth_ready(self, token: int, thumb: QImage) -> None:
        if token == self._thumb_token:
            self._show_thumbnail(thumb, self._thumb_logical)
            self._thumb_smooth = True

    def _show_thumbnail(self, thumb: QImage, logical: QSize) -> None:
        pixmap = QPixmap.fromImage(thumb)
        pixmap.setDevicePixelRatio(thumb.devicePixelRatio())
        self.thumbnail.setIcon(QIcon(pixmap))
        self.thumbnail.setIconSize(logical)
        self.thumbnail.show()

    def _picture_state(self, state: str) -> None:
        notes = {
            "pending": "Preparing the picture…",
            "failed": "The picture could not be saved.",
            "missing": "Picture not downloaded yet: it comes from your sync server when "
            "SnapAsk is connected.",
            "downloading": "Downloading the picture…",
        }
        self.picture_note.setText(notes.get(state, ""))
        self._update_controls()  # picture-only quick actions, and the words
        if state in ("missing", "downloading") and self._image.isNull():
            # A placeholder where the picture will be, until it is downloaded.
            logical = QSize(PLACEHOLDER_WIDTH, THUMB_HEIGHT * 2 // 3)
            ratio = self.devicePixelRatioF()
            label = "Not downloaded" if state == "missing" else "Downloading…"
            self._show_thumbnail(_placeholder(logical, ratio, label, self.palette()), logical)
            self.thumbnail.setToolTip("The picture is not on this computer yet")
        else:
            self.thumbnail.setToolTip("Show the picture full size (Space)")

    def _follow_up_secrets_hidden(self, count: int) -> None:
        questions = self.transcript.questions()
        if questions:
            questions[-1].set_picture_note(secrets_hidden(count).message)

    def _secrets_hidden(self, count: int) -> None:
        self.picture_note.setText(secrets_hidden(count).message)
        self.thumbnail.setToolTip("Show the picture as it was sent (Space)")

    def _question_added(self, text: str) -> None:
        if text not in {action.label for action in self.controller.quick_actions()}:
            self.prompt.remember(text)  # Up recalls what was typed, not a chip's name
        self.transcript.add_question(text)
        self._update_controls()

    def _answer_started(self) -> None:
        self._answer = self.transcript.add_answer()
        self._update_controls()

    def _discard_stopped_answer(self) -> None:
        answers = self.transcript.answers()
        if answers and answers[-1].status == "cancelled":
            self.transcript.remove(answers[-1])

    def _answer_chunk(self, text: str) -> None:
        if self._answer is None:
            self._answer = self.transcript.add_answer()
        self._answer.append(text)

    def _show_transcript(self, messages: tuple[Message, ...]) -> None:
        self.transcript.device_id = self.controller.device_id
        self._take_thread_pictures()
        self.transcript.show_messages(messages)

    def _sync_transcript(self, messages: tuple[Message, ...]) -> None:
        self._take_thread_pictures()
        self.transcript.sync_messages(messages)

    def _take_thread_pictures(self) -> None:
        self.transcript.pictures = self.controller.thread_pictures
        self.transcript.first_picture = self.controller.first_picture_sha

    def _answer_read_here(self, engine: str) -> None:
        if self._answer is not None:
            self._answer.set_read_here(engine)

    def _answer_finished(self, status: str, text: str) -> None:
        bubble, self._answer = self._answer, None
        if bubble is not None:
            if not text and status in ("error", "cancelled"):
                self.transcript.remove(bubble)  # nothing arrived: the status line says why
            else:
                bubble.finish(status, text)
        self._update_controls()

    def _keeping_focus(self, update: Callable[[], None]) -> None:
        """Run `update`; if it hid, disabled or removed the focused control (Retry, Send now, a
        quick action), the input takes the focus, so what the user types next still lands."""
        before = self.focusWidget()
        update()
        if before is None or before is self.prompt:
            return
        gone = before is not self.focusWidget() or not before.isVisibleTo(self)
        if gone or not before.isEnabled():
            self.prompt.setFocus(Qt.FocusReason.OtherFocusReason)

    def _status_changed(self, status: ChatStatus) -> None:
        self._keeping_focus(lambda: self._show_status(status))

    def _show_status(self, status: ChatStatus) -> None:
        self.status_row.show_status(status)
        questions = self.transcript.questions()
        for question in questions:
            question.set_note("")
        if status.kind == "waiting" and questions:
            questions[-1].set_note("Waiting to send…")
        if self._answer is not None and status == READING_HERE:
            self._answer.waiting.setText("Reading the text on this device…")
        self._update_controls()

    def _update_controls(self) -> None:
        self._keeping_focus(self._enable_controls)

    def _enable_controls(self) -> None:
        busy, loading = self.controller.answering_here, self.controller.loading
        self.send_button.setText("Stop" if busy else "Send")
        tip = "Stop the answer (Ctrl+.)" if busy else "Send the question (Enter)"
        self.send_button.setToolTip(tip)
        self.send_button.setEnabled(busy or not loading)
        self.busy.setVisible(busy or loading)
        # While a conversation is being read, a question would land before its transcript.
        self.prompt.setReadOnly(loading)
        picture = self.controller.has_picture
        for chip in self.chip_buttons():
            usable = picture or not chip.property("needsPicture")
            chip.setEnabled(not busy and not loading and usable)
        adding = self.controller.attachment_state != "none"
        self.edit_button.setVisible(self.controller.can_edit_picture and not adding)
        self.attachment_edit.setVisible(adding)
        self.attachment_edit.setEnabled(self.controller.can_edit_picture)
        self.attachment_remove.setEnabled(adding and not busy)
        self._update_wording(picture)

    def _update_wording(self, picture: bool) -> None:
        """Words that fit the chat: about the picture, or without one; a follow-up once asked."""
        if self.transcript.bubbles():
            self.prompt.setPlaceholderText("Ask a follow-up…")
        else:
            self.prompt.setPlaceholderText("Ask about the picture…" if picture else "Ask anything…")
        self.transcript.hint.setText(PICTURE_HINT if picture else NO_PICTURE_HINT)

    # --- user actions ----------------------------------------------------------------------
    def _submit(self, text: str) -> None:
        self._send(text)

    def _send(self, text: str) -> None:
        if self.controller.send(text) and text == self.prompt.toPlainText():
            self.prompt.clear()

    def _send_or_stop(self) -> None:
        if self.controller.answering_here:
            self.controller.stop()
        else:
            self._send(self.prompt.toPlainText())
        self.prompt.setFocus()

    # --- frameless window: border, edge resizing, remembered place -------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        """Background and a hairline border (the window system draws no frame)."""
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.window())
        painter.setPen(QPen(style.border_color(palette), 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def changeEvent(self, event: QEvent) -> None:
        """Follow light/dark palette switches."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()

    def _restyle(self) -> None:
        self.setStyleSheet(style.stylesheet(self.palette()))

    def _edges_at(self, pos: QPoint) -> Qt.Edge:
        edges = Qt.Edge(0)
        if pos.x() < EDGE:
            edges |= Qt.Edge.LeftEdge
        elif pos.x() >= self.width() - EDGE:
            edges |= Qt.Edge.RightEdge
        if pos.y() < EDGE:
            edges |= Qt.Edge.TopEdge
        elif pos.y() >= self.height() - EDGE:
            edges |= Qt.Edge.BottomEdge
        return edges

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start resizing from an edge."""
        edges = self._edges_at(event.position().toPoint())
        if event.button() != Qt.MouseButton.LeftButton or edges == Qt.Edge(0):
            return super().mousePressEvent(event)
        handle = self.windowHandle()
        if handle is not None and handle.startSystemResize(edges):
            return None
        self._resize_from = (edges, event.globalPosition().toPoint(), self.geometry())
        return None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Resize while dragging an edge; show the resize cursor over the edges."""
        if self._resize_from is not None and event.buttons() & Qt.MouseButton.LeftButton:
            edges, start, rect = self._resize_from
            self.setGeometry(_resized(rect, edges, event.globalPosition().toPoint() - start))
            return
        self.setCursor(_edge_cursor(self._edges_at(event.position().toPoint())))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Stop resizing."""
        self._resize_from = None
        super().mouseReleaseEvent(event)

    def moveEvent(self, event: QMoveEvent) -> None:
        """Remember the new place (debounced)."""
        super().moveEvent(event)
        if self.isVisible():
            self._save_timer.start()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Remember the new size (debounced)."""
        super().resizeEvent(event)
        if self.isVisible():
            self._save_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        """Remember the place when hidden."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_place()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing only hides: the app lives in the tray."""
        event.ignore()
        self.hide()

    def _save_place(self) -> None:
        if self._state is None:
            return
        geometry = self.geometry()
        screen = QGuiApplication.screenAt(geometry.center()) or self.screen()
        if screen is not None:
            self._state.save(STATE_NAME, screen, geometry)


def thumbnail_size(picture: QSize) -> QSize:
    """The thumbnail's logical size: at most THUMB_HEIGHT high and three times that wide."""
    bound = QSize(3 * THUMB_HEIGHT, THUMB_HEIGHT)
    if picture.width() <= bound.width() and picture.height() <= bound.height():
        return QSize(picture)
    return picture.scaled(bound, Qt.AspectRatioMode.KeepAspectRatio).expandedTo(QSize(1, 1))


def _scaled(image: QImage, logical: QSize, ratio: float, *, smooth: bool) -> QImage:
    modes = Qt.TransformationMode
    mode = modes.SmoothTransformation if smooth else modes.FastTransformation
    target = QSize(max(1, round(logical.width() * ratio)), max(1, round(logical.height() * ratio)))
    scaled = image.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
    scaled.setDevicePixelRatio(ratio)
    return scaled


def _placeholder(logical: QSize, ratio: float, text: str, palette: QPalette) -> QImage:
    """A framed box with a word in it, standing in for a picture not downloaded yet."""
    size = QSize(round(logical.width() * ratio), round(logical.height() * ratio))
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(style.surface_color(palette))
    image.setDevicePixelRatio(ratio)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(style.border_color(palette), 1, Qt.PenStyle.DashLine))
    painter.drawRect(QRect(QPoint(0, 0), logical).adjusted(0, 0, -1, -1))
    painter.setPen(style.muted_color(palette))
    painter.drawText(QRect(QPoint(0, 0), logical), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return image


def _resized(rect: QRect, edges: Qt.Edge, delta: QPoint) -> QRect:
    """`rect` with the dragged edges moved by `delta`, never below the minimum size."""
    r = QRect(rect)
    if edges & Qt.Edge.LeftEdge:
        r.setLeft(min(r.left() + delta.x(), r.right() - MIN_SIZE.width() + 1))
    if edges & Qt.Edge.RightEdge:
        r.setRight(max(r.right() + delta.x(), r.left() + MIN_SIZE.width() - 1))
    if edges & Qt.Edge.TopEdge:
        r.setTop(min(r.top() + delta.y(), r.bottom() - MIN_SIZE.height() + 1))
    if edges & Qt.Edge.BottomEdge:
        r.setBottom(max(r.bottom() + delta.y(), r.top() + MIN_SIZE.height() - 1))
    return r


def _edge_cursor(edges: Qt.Edge) -> Qt.CursorShape:
    horizontal = edges & (Qt.Edge.LeftEdge | Qt.Edge.RightEdge)
    vertical = edges & (Qt.Edge.TopEdge | Qt.Edge.BottomEdge)
    if horizontal and vertical:
        main = edges in (Qt.Edge.LeftEdge | Qt.Edge.TopEdge, Qt.Edge.RightEdge | Qt.Edge.BottomEdge)
        return Qt.CursorShape.SizeFDiagCursor if main else Qt.CursorShape.SizeBDiagCursor
    if horizontal:
        return Qt.CursorShape.SizeHorCursor
    if vertical:
        return Qt.CursorShape.SizeVerCursor
    return Qt.CursorShape.ArrowCursor


# --- what the app wires ----------------------------------------------------------------------
class ChatUI(QObject):
    """The chat part of the app: a ChatController and its window, built on first use.

    `app.py` connects the tray, hotkeys and capture flow to these methods and watches the
    signals (re-emitted from the controller).
    """

    conversation_changed = Signal(str)  # stored content changed: refresh history / recent
    answering_changed = Signal(bool)  # an answer is streaming (tray icon)
    waiting_changed = Signal(int)  # questions waiting for the provider (tray icon)
    settings_requested = Signal(str)  # "Settings…" from an API key or model error: the page
    answer_ready = Signal(str, str, str)  # conversation id, title, text: done while hidden

    def __init__(
        self,
        services: Services,
        parent: QObject | None = None,
        *,
        state: WindowStateStore | None = None,
        queue_backoff: Backoff | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.controller = ChatController(
            services.chat, services.settings, queue_backoff=queue_backoff, parent=self
        )
        self._state = state
        self._window: ChatWindow | None = None
        self._hidden: list[QWidget] = []  # hidden for a capture, shown again if it is cancelled
        self._sync_connected = False
        self.controller.conversation_changed.connect(self.conversation_changed)
        self.controller.answering_changed.connect(self.answering_changed)
        self.controller.waiting_count_changed.connect(self.waiting_changed)
        self.controller.answer_finished.connect(self._answer_finished)

    @property
    def window(self) -> ChatWindow:
        """The chat window (built the first time it is needed)."""
        if self._window is None:
            self._state = self._state or WindowStateStore()
            self._window = ChatWindow(self.controller, self._state)
            self._window.settings_requested.connect(self.settings_requested)
        return self._window

    def prepare(self) -> None:
        """Build the window ahead (at start-up, when idle): the first capture then only shows
        it (building, polishing and creating the native window cost about 100 ms)."""
        window = self.window
        window.ensurePolished()
        window.winId()  # the native window, created now rather than on the first show

    @property
    def is_answering(self) -> bool:
        """True while any answer streams."""
        return bool(self.controller.is_answering)

    @property
    def waiting_count(self) -> int:
        """Questions waiting for the provider to come back."""
        return self.controller.waiting_count

    def new_chat(self) -> None:
        """An empty chat without a picture, where the window was left."""
        window = self.window  # built before the controller reports anything to it
        self.controller.new_conversation()
        window.show_near(None)

    def open_conversation(self, conversation_id: str | None) -> None:
        """Show a saved conversation (None: the most recent one, or a new chat if none)."""
        if conversation_id is None:
            latest = self.services.store.list_conversations(limit=1)  # < 1 ms (indexed)
            if not latest:
                self.new_chat()
                return
            conversation_id = latest[0].id
        window = self.window
        self.controller.open_conversation(conversation_id)
        window.show_near(None)

    def new_from_picture(self, picture: Picture) -> None:
        """A fresh capture: show it at once beside the region; its PNG follows."""
        window = self.window
        image = qimage_view(picture.grab)
        self.controller.new_from_picture(None, image, picture_id=picture.capture_id)
        region = picture.region
        screens = [(s.geometry(), s.devicePixelRatio()) for s in QGuiApplication.screens()]
        anchor = logical_anchor(QRect(region.x, region.y, region.width, region.height), screens)
        window.show_near(anchor)

    def can_add_picture(self) -> bool:
        """Whether a capture may go into the conversation open now: the window is on screen
        (asked before it is hidden for the capture) and shows one that can take it."""
        window = self._window
        shown = window is not None and window.isVisible() and not window.isMinimized()
        return shown and self.controller.can_add_picture

    def add_to_open(self, picture: Picture) -> None:
        """A capture chosen for the open conversation: it goes with the next question there
        (a new chat if that conversation can no longer take it); the window comes back where
        it was."""
        if not self.controller.can_add_picture:  # e.g. deleted meanwhile: a new chat after all
            self.new_from_picture(picture)
            return
        window = self.window
        window.drop_editor()  # it was drawing on the picture this one replaces
        self.controller.add_picture(None, qimage_view(picture.grab), picture_id=picture.capture_id)
        window.show_near(None)

    def picture_encoded(self, capture_id: int, png: bytes) -> None:
        """The PNG of a capture is ready (from the encoding worker)."""
        self.controller.set_picture_bytes(png, capture_id)

    def picture_failed(self, reason: str, capture_id: int | None = None) -> None:
        """The PNG of the shown capture could not be made (None: whichever is pending)."""
        if capture_id is None:
            capture_id = self.controller.picture_id
        self.controller.picture_failed(reason, capture_id)

    def hide_windows(self) -> bool:
        """Hide the chat window and picture viewer (before a capture); True if any was shown.

        `restore_windows()` brings them back if the capture ends without a picture."""
        window = self._window
        if window is None:
            return False
        shown = [w for w in (window, window.viewer) if w is not None and w.isVisible()]
        for widget in shown:
            widget.hide()
        self._hidden = shown
        return bool(shown)

    def restore_windows(self) -> None:
        """Show again what `hide_windows()` hid: the capture was cancelled or failed, and the
        conversation the user was in must not vanish with it."""
        hidden, self._hidden = self._hidden, []
        for widget in hidden:
            widget.show()
        if hidden:
            hidden[0].raise_()
            hidden[0].activateWindow()

    def forget_hidden(self) -> None:
        """A capture arrived: the chat window shows it, so nothing is restored."""
        self._hidden = []

    def apply_settings(self, settings: Settings) -> None:
        """New settings: provider, model, templates, translation language."""
        self.controller.set_settings(settings)

    def attach_sync(self, sync: QObject) -> None:
        """Follow a sync source (the app's SyncManager, or a SyncBridge): changes from other
        devices show in the open conversation, missing pictures are downloaded when shown."""
        controller = self.controller
        sync.applied.connect(controller.sync_applied)  # type: ignore[attr-defined]
        sync.blob_ready.connect(controller.blob_arrived)  # type: ignore[attr-defined]
        sync.blob_failed.connect(controller.blob_failed)  # type: ignore[attr-defined]
        sync.status_changed.connect(self._sync_status)  # type: ignore[attr-defined]
        controller.set_blob_fetcher(sync.fetch_blob)  # type: ignore[attr-defined]

    def _answer_finished(self, outcome: str, text: str) -> None:
        # Only a complete answer nobody can see is worth a notification.
        window = self._window
        hidden = window is None or not window.isVisible() or window.isMinimized()
        cid = self.controller.conversation_id
        if outcome == "final" and hidden and cid is not None:
            self.answer_ready.emit(cid, self.controller.title, text)

    def _sync_status(self, status: SyncStatus) -> None:
        # Back in touch with the server: a picture that could not be fetched is tried again.
        connected = status.state is SyncState.UP_TO_DATE
        if connected and not self._sync_connected:
            self.controller.retry_missing_picture()
        self._sync_connected = connected

    def shutdown(self) -> None:
        """Stop answers and the queue's thread; write the window places."""
        self.controller.shutdown()
        if self._state is not None:
            self._state.sync()
