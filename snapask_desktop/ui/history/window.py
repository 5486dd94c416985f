"""The history window: every conversation, newest first, with search, rename, pin, archive and
delete with undo.

Reads (a page, a search) are short synchronous store calls from debounced slots; writes go
through BackgroundCalls (one worker, in order) and thumbnails through the ThumbnailLoader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QHideEvent,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.store.errors import user_reason
from snapask_desktop.store.records import Conversation
from snapask_desktop.store.repository import Store
from snapask_desktop.ui import style
from snapask_desktop.ui.history.model import (
    CONFLICT_ROLE,
    ID_ROLE,
    PAGE_SIZE,
    ROW_ROLE,
    SEARCH_LIMIT,
    THUMB_PENDING_ROLE,
    HistoryModel,
    HistoryRow,
    count_label,
    format_activity,
)
from snapask_desktop.ui.history.store_watch import StoreWatcher
from snapask_desktop.ui.history.thumbnails import ThumbnailLoader
from snapask_desktop.ui.workers import BackgroundCalls, sentence

SEARCH_DELAY_MS = 180
UNDO_SECONDS = 8.0
THUMB_SIZE = QSize(64, 48)
ROW_HEIGHT = 64
PADDING = 8
Index = QModelIndex | QPersistentModelIndex


# --------------------------------------------------------------------------- painting


def split_highlights(text: str, spans: tuple[tuple[int, int], ...]) -> list[tuple[str, bool]]:
    """Cut `text` into (piece, highlighted) runs; spans out of range or overlapping are clipped."""
    runs: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(spans):
        lo, hi = max(start, pos), min(end, len(text))
        if lo >= hi:
            continue
        if lo > pos:
            runs.append((text[pos:lo], False))
        runs.append((text[lo:hi], True))
        pos = hi
    if pos < len(text):
        runs.append((text[pos:], False))
    return runs


@dataclass(frozen=True)
class _RowLayout:
    thumb: QRect
    title: QRect
    detail: QRect
    date: QRect
    count: QRect


def _row_layout(rect: QRect, metrics: QFontMetrics, small: QFontMetrics) -> _RowLayout:
    inner = rect.adjusted(PADDING, 0, -PADDING, 0)
    thumb = QRect(
        inner.left(),
        inner.top() + (inner.height() - THUMB_SIZE.height()) // 2,
        THUMB_SIZE.width(),
        THUMB_SIZE.height(),
    )
    side = max(small.horizontalAdvance("Yesterday"), small.horizontalAdvance("999 messages"))
    right = QRect(inner.right() - side + 1, inner.top(), side, inner.height())
    text_left = thumb.right() + 1 + PADDING + 2
    text_width = max(10, right.left() - PADDING - text_left)
    line = metrics.height()
    top = inner.top() + (inner.height() - line - small.height() - 4) // 2
    title = QRect(text_left, top, text_width, line)
    detail = QRect(text_left, top + line + 4, text_width, small.height())
    date = QRect(right.left(), title.top(), right.width(), line)
    count = QRect(right.left(), detail.top(), right.width(), small.height())
    return _RowLayout(thumb, title, detail, date, count)


class HistoryDelegate(QStyledItemDelegate):
    """Paints a row (thumbnail, title with badges and highlights, detail line, date, count)
    and edits the title inline."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(max(320, option.rect.width()), ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        row = index.data(ROW_ROLE)
        if not isinstance(row, HistoryRow):
            return
        painter.save()
        widget = option.widget  # type: ignore[attr-defined]
        item_style = widget.style() if widget is not None else None
        panel = QStyleOptionViewItem(option)
        self.initStyleOption(panel, index)
        panel.text = ""
        panel.icon = QIcon()
        if item_style is not None:
            item_style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, panel, painter, widget
            )
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = style.mix(
            text_color,
            palette.color(QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base),
            0.4,
        )
        base_font = QFont(option.font)  # type: ignore[attr-defined]
        title_font = QFont(base_font)
        title_font.setWeight(QFont.Weight.DemiBold)
        small_font = QFont(base_font)
        small_font.setPointSizeF(max(7.0, base_font.pointSizeF() * 0.9))
        layout = _row_layout(option.rect, QFontMetrics(title_font), QFontMetrics(small_font))  # type: ignore[attr-defined]

        self._paint_thumbnail(painter, layout.thumb, index, palette)
        if row.summary.picture_count > 1:
            self._paint_more_pictures(painter, layout.thumb, row.summary.picture_count, small_font)
        conflict = bool(index.data(CONFLICT_ROLE))
        title_right = self._paint_badges(
            painter, layout.title, row, small_font, palette, selected, conflict
        )
        title_rect = QRect(layout.title)
        title_rect.setRight(title_right)
        _paint_runs(
            painter,
            title_rect,
            row.title,
            row.title_highlights,
            title_font,
            text_color,
            palette,
            selected,
        )
        _paint_runs(
            painter,
            layout.detail,
            row.detail,
            row.detail_highlights,
            small_font,
            muted,
            palette,
            selected,
        )
        painter.setFont(small_font)
        painter.setPen(muted)
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(layout.date, align, format_activity(row.summary.last_activity_at))
        painter.drawText(layout.count, align, count_label(row.summary.message_count))
        painter.restore()

    def _paint_thumbnail(
        self, painter: QPainter, box: QRect, index: Index, palette: QPalette
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        path = QPainterPath()
        path.addRoundedRect(box.adjusted(0, 0, -1, -1), 4, 4)
        painter.fillPath(path, style.surface_color(palette))
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(image, QImage) and not image.isNull():
            ratio = image.devicePixelRatio() or 1.0
            size = QSize(round(image.width() / ratio), round(image.height() / ratio))
            target = QRect(QPoint(0, 0), size)
            target.moveCenter(box.center())
            painter.save()
            painter.setClipPath(path)
            painter.drawImage(target, image)
            painter.restore()
        else:
            self._paint_placeholder(painter, box, palette, bool(index.data(THUMB_PENDING_ROLE)))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(style.border_color(palette))
        painter.drawPath(path)

    @staticmethod
    def _paint_more_pictures(painter: QPainter, box: QRect, count: int, font: QFont) -> None:
        """A "+1" pill in the thumbnail's corner: the conversation has more pictures than the
        first one shown (captures added to it)."""
        label = f"+{count - 1}"
        painter.save()
        painter.setFont(font)
        metrics = QFontMetrics(font)
        pill = QRect(0, 0, metrics.horizontalAdvance(label) + 10, metrics.height() + 2)
        pill.moveBottomRight(box.bottomRight() - QPoint(3, 3))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 20, 200))  # on any picture, light or dark
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()

    @staticmethod
    def _paint_placeholder(painter: QPainter, box: QRect, palette: QPalette, pending: bool) -> None:
        # A speech bubble for a chat without a picture; three dots while a picture loads.
        color = style.muted_color(palette)
        color.setAlphaF(0.55)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        center = box.center()
        if pending:
            for dx in (-8, 0, 8):
                painter.drawEllipse(QPoint(center.x() + dx, center.y()), 2, 2)
            return
        bubble = QRect(0, 0, 26, 18)
        bubble.moveCenter(QPoint(center.x(), center.y() - 2))
        painter.drawRoundedRect(bubble, 5, 5)
        tail = QPainterPath()
        tail.moveTo(bubble.left() + 6, bubble.bottom())
        tail.lineTo(bubble.left() + 6, bubble.bottom() + 6)
        tail.lineTo(bubble.left() + 13, bubble.bottom())
        painter.drawPath(tail)

    @staticmethod
    def _paint_badges(
        painter: QPainter,
        rect: QRect,
        row: HistoryRow,
        font: QFont,
        palette: QPalette,
        selected: bool,
        conflict: bool = False,
    ) -> int:
        """Draw "Conflict" (amber), "Pinned", "Archived" at the right of the title line, right
        to left; returns where the title ends."""
        accent = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Highlight
        )
        warning = accent if selected else style.warning_color(palette)
        labels = [
            (name, colour)
            for name, colour, on in (
                ("Conflict", warning, conflict),
                ("Archived", accent, row.summary.archived),
                ("Pinned", accent, row.summary.pinned),
            )
            if on
        ]
        right = rect.right()
        metrics = QFontMetrics(font)
        painter.setFont(font)
        for label, colour in labels:
            width = metrics.horizontalAdvance(label) + 12
            badge = QRect(
                right - width + 1,
                rect.center().y() - metrics.height() // 2 - 1,
                width,
                metrics.height() + 2,
            )
            fill = QColor(colour)
            fill.setAlphaF(0.16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
            painter.setPen(colour)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
            right = badge.left() - 6
        return right


def _paint_runs(
    painter: QPainter,
    rect: QRect,
    text: str,
    spans: tuple[tuple[int, int], ...],
    font: QFont,
    color: QColor,
    palette: QPalette,
    selected: bool,
) -> None:
    """Draw text on one line, highlighted runs bold on a tint, eliding what does not fit."""
    bold = QFont(font)
    bold.setWeight(QFont.Weight.Bold)
    tint = QColor(
        palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Highlight
        )
    )
    tint.setAlphaF(0.22)
    x = rect.left()
    for piece, highlighted in split_highlights(text, spans):
        run_font = bold if highlighted else font
        metrics = QFontMetrics(run_font)
        room = rect.right() - x
        if room <= metrics.horizontalAdvance("…"):
            break
        shown = piece
        if metrics.horizontalAdvance(piece) > room:
            shown = metrics.elidedText(piece, Qt.TextElideMode.ElideRight, room)
        width = metrics.horizontalAdvance(shown)
        target = QRect(x, rect.top(), width, rect.height())
        if highlighted:
            painter.fillRect(target.adjusted(-1, 1, 1, -1), tint)
        painter.setFont(run_font)
        painter.setPen(color)
        painter.drawText(target, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        x += width
        if shown != piece:
            break


class _TitleDelegate(HistoryDelegate):
    """HistoryDelegate with an inline title editor over the title line."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        editor = QLineEdit(parent)
        editor.setAccessibleName("Conversation title")
        editor.setPlaceholderText("Title")
        return editor

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, QLineEdit):
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        font = QFont(option.font)  # type: ignore[attr-defined]
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        layout = _row_layout(option.rect, QFontMetrics(font), QFontMetrics(small))  # type: ignore[attr-defined]
        height = max(editor.sizeHint().height(), layout.title.height() + 6)
        rect = QRect(
            layout.title.left() - 4,
            layout.title.center().y() - height // 2,
            layout.title.width() + 8,
            height,
        )
        editor.setGeometry(rect)


# --------------------------------------------------------------------------- undo bar


# kind: (past tense, undo tip, dismiss tip)
_UNDO_WORDS: Final = {
    "delete": ("Deleted", "Bring the conversation back", "the delete stays"),
    "archive": ("Archived", "Move it back out of the archive", "it stays archived"),
}


class UndoBar(QFrame):
    """A non-modal "Deleted — Undo" (or "Archived — Undo") bar that hides itself after a few
    seconds. It offers one kind of change at a time: another kind leaves the earlier one done."""

    undo_requested = Signal(list)  # the deleted ids to restore
    unarchive_requested = Signal(list)  # the archived ids to bring back

    def __init__(self, seconds: float = UNDO_SECONDS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style.set_role(self, "card")
        self._ids: list[str] = []
        self.kind = "delete"
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(round(seconds * 1000))
        self._timer.timeout.connect(self.dismiss)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton("&Undo")
        self.undo_button.clicked.connect(self.undo)
        self.close_button = QPushButton("Dismiss")
        style.set_role(self.close_button, "flat")
        self.close_button.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.undo_button)
        row.addWidget(self.close_button)
        self.hide()

    @property
    def pending(self) -> list[str]:
        """Ids that Undo would restore."""
        return list(self._ids)

    def add(self, conversation_id: str, title: str, kind: str = "delete") -> None:
        """Offer undo for one more deleted ("delete") or archived ("archive") conversation
        (the timer starts over)."""
        if kind != self.kind:
            self._ids = []  # the earlier change of the other kind stays done
            self.kind = kind
        self._ids.append(conversation_id)
        done, undo_tip, dismiss_tip = _UNDO_WORDS[kind]
        if len(self._ids) == 1:
            self.label.setText(f"{done} “{_short(title)}”")
        else:
            self.label.setText(f"{done} {len(self._ids)} conversations")
        self.undo_button.setToolTip(f"{undo_tip} (Ctrl+Z)")
        self.close_button.setToolTip(f"Hide this message; {dismiss_tip}")
        self.show()
        self._timer.start()

    @Slot()
    def undo(self) -> None:
        """Ask to undo everything this bar offers, and hide."""
        ids, self._ids = self._ids, []
        self.hide()
        self._timer.stop()
        if ids:
            if self.kind == "archive":
                self.unarchive_requested.emit(ids)
            else:
                self.undo_requested.emit(ids)

    @Slot()
    def dismiss(self) -> None:
        """Hide; the changes stay."""
        self._ids = []
        self._timer.stop()
        self.hide()


def _short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- window


class HistoryWindow(QWidget):
    """All conversations with search; emits `open_requested(conversation_id)`."""

    open_requested = Signal(str)
    # A conversation was renamed, pinned, archived, deleted or restored here: an open chat
    # window follows it.
    conversation_edited = Signal(str)

    def __init__(
        self,
        store: Store,
        parent: QWidget | None = None,
        *,
        page_size: int = PAGE_SIZE,
        undo_seconds: float = UNDO_SECONDS,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("SnapAsk — History")
        self.resize(600, 680)
        self._store = store
        self.calls = BackgroundCalls(self)
        self._refresh_pending = False
        self.calls.busy_changed.connect(lambda busy: busy or self._refresh_if_pending())
        self.thumbnails = ThumbnailLoader(
            store, THUMB_SIZE, device_pixel_ratio=self.devicePixelRatioF(), parent=self
        )
        self.model = HistoryModel(store, self.thumbnails, page_size=page_size, parent=self)
        self._blob_fetcher: Callable[[str], None] | None = None
        self.thumbnails.missing.connect(self._picture_missing)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._run_search)
        self._build(undo_seconds)
        self._build_actions()
        self.setStyleSheet(style.stylesheet(self.palette()))
        self.model.rename_requested.connect(self._rename)
        self.model.load_failed.connect(self._show_error)
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            signal.connect(self._update_state)
        self.model.refresh()
        # Conversations written by another process (`snapask ask`) show up while it is open.
        self.watcher = StoreWatcher(Path(store.path), parent=self)
        self.watcher.changed.connect(self.refresh)

    # ----------------------------------------------------------------- building

    def _build(self, undo_seconds: float) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search titles and messages")
        self.search.setToolTip("Search as you type (Ctrl+F); Down moves to the results")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search conversations")
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.installEventFilter(self)
        self.show_archived = QCheckBox("Show &archived")
        self.show_archived.setToolTip("List archived conversations too")
        self.show_archived.toggled.connect(self._toggle_archived)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.show_archived)

        self.view = QListView()
        self.view.setModel(self.model)
        delegate = _TitleDelegate(self.view)
        delegate.closeEditor.connect(lambda *_args: self._refresh_if_pending())
        self.view.setItemDelegate(delegate)
        self.view.setUniformItemSizes(True)  # 10,000 rows: no per-row size queries
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(lambda index: self._open(index))
        self.view.setAccessibleName("Conversations")
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setMouseTracking(True)

        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        style.set_role(self.empty, "muted")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        list_frame = QFrame()
        style.set_role(list_frame, "card")
        frame_layout = QVBoxLayout(list_frame)
        frame_layout.setContentsMargins(1, 1, 1, 1)
        frame_layout.addWidget(self.stack)

        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        style.set_role(self.status, "muted")
        self.undo_bar = UndoBar(undo_seconds)
        self.undo_bar.undo_requested.connect(self._restore)
        self.undo_bar.unarchive_requested.connect(self._unarchive)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(style.SPACING)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(list_frame, 1)
        layout.addWidget(self.undo_bar)
        self.setTabOrder(self.search, self.show_archived)
        self.setTabOrder(self.show_archived, self.view)

    def _build_actions(self) -> None:
        def action(
            text: str,
            keys: list[QKeySequence | str],
            slot: Callable[[], None],
            tip: str,
            context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetShortcut,
            owner: QWidget | None = None,
        ) -> QAction:
            made = QAction(text, self)
            made.setShortcuts([QKeySequence(k) for k in keys])
            made.setShortcutContext(context)
            made.setShortcutVisibleInContextMenu(True)
            first = made.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            made.setToolTip(f"{tip} ({first})" if first else tip)
            made.triggered.connect(slot)
            (owner or self.view).addAction(made)
            return made

        self.open_action = action(
            "&Open", ["Return", "Enter"], self._open_current, "Open in the chat window"
        )
        self.rename_action = action("&Rename", ["F2"], self._edit_current, "Rename")
        self.pin_action = action("&Pin", ["Ctrl+P"], self._toggle_pin, "Keep marked as pinned")
        self.archive_action = action(
            "&Archive", ["Ctrl+E"], self._toggle_archive, "Archive or unarchive"
        )
        self.delete_action = action(
            "&Delete", ["Delete"], self._delete_current, "Delete (you can undo)"
        )
        self.menu_action = action(
            "Actions menu", ["Menu", "Shift+F10"], self._keyboard_menu, "All actions"
        )
        window = Qt.ShortcutContext.WindowShortcut
        self.find_action = action("&Find", ["Ctrl+F"], self.focus_search, "Search", window, self)
        self.undo_action = action(
            "&Undo", ["Ctrl+Z"], self.undo_bar.undo, "Undo the delete or archive", window, self
        )

    # ----------------------------------------------------------------- public

    @Slot()
    def refresh(self) -> None:
        """Reload the list (the app calls this when a conversation changed elsewhere).

        Waits while a title is being edited (a reload would throw the typing away) and while
        an edit of ours is still being written (the list would show the old state again).
        """
        if (
            not self.isVisible()  # reloading a hidden list is wasted main-thread work
            or self.view.state() == QAbstractItemView.State.EditingState
            or self.calls.busy
        ):
            self._refresh_pending = True
            return
        self._refresh_pending = False
        current = self.current_id()
        self.thumbnails.forget_missing()
        self.model.refresh()  # as many rows as before: the view keeps its scroll position
        if current:
            self.select(current)

    def set_blob_fetcher(self, fetch: Callable[[str], None] | None) -> None:
        """Where a synced picture not downloaded yet is asked for when its row is drawn (the
        sync service's `fetch_blob`); `picture_arrived` then shows it."""
        self._blob_fetcher = fetch

    def picture_arrived(self, sha256: str) -> None:
        """A picture was downloaded: draw its thumbnail."""
        self.thumbnails.reload(sha256)

    def _picture_missing(self, sha256: str) -> None:
        if self._blob_fetcher is not None and self.isVisible():
            self._blob_fetcher(sha256)

    def _refresh_if_pending(self) -> None:
        if self._refresh_pending:
            QTimer.singleShot(0, self.refresh)

    @Slot()
    def focus_search(self) -> None:
        """Put the cursor in the search field, its text selected."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def current_id(self) -> str | None:
        """The selected conversation's id."""
        index = self.view.currentIndex()
        value = index.data(ID_ROLE) if index.isValid() else None
        return str(value) if value else None

    def select(self, conversation_id: str) -> bool:
        """Make a listed conversation the current row."""
        row = self.model.row_of(conversation_id)
        if row < 0:
            return False
        index = self.model.index(row)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def shutdown(self) -> None:
        """Finish queued writes and stop thumbnail loads (before the store closes)."""
        self.watcher.close()
        self._search_timer.stop()
        self.calls.wait()
        self.thumbnails.shutdown()

    # ----------------------------------------------------------------- events

    def changeEvent(self, event: QEvent) -> None:
        """Follow light/dark palette switches (the style sheet holds the old colours)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(style.stylesheet(self.palette()))
            self.view.viewport().update()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._refresh_pending:  # changes that came in while the window was hidden
            self.refresh()
        self.watcher.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.watcher.stop()  # no look at the file while nobody sees the list

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key() if isinstance(event, QKeyEvent) else None
            if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
                self._run_search()
                self._focus_list()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._run_search()
                if not self.view.currentIndex().isValid():
                    self._focus_list()
                self._open_current()
                return True
            if key == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                self._run_search()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    # ----------------------------------------------------------------- slots

    @Slot()
    def _run_search(self) -> None:
        self._search_timer.stop()
        current = self.current_id()
        self.model.set_search(self.search.text())
        if not (current and self.select(current)) and self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(0))

    def _focus_list(self) -> None:
        if self.model.rowCount() and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.model.index(0))
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    @Slot(bool)
    def _toggle_archived(self, on: bool) -> None:
        current = self.current_id()
        self.model.set_include_archived(on)
        if current:
            self.select(current)

    @Slot()
    def _update_state(self) -> None:
        rows = self.model.rowCount()
        query = self.model.search_text
        if query:
            if not rows:
                self.empty.setText(f"No conversation matches “{_short(query)}”.")
                self.status.setText("")
            elif self.model.search_truncated:
                self.status.setText(
                    f"Showing the {SEARCH_LIMIT} newest matches; type more to narrow"
                )
            else:
                self.status.setText(f"{rows} conversation{'s' if rows != 1 else ''} found")
        else:
            self.status.setText("")
            self.empty.setText("No conversations yet.\nCapture part of the screen to start one.")
        self.stack.setCurrentWidget(self.view if rows else self.empty)
        self.status.setVisible(bool(self.status.text()))

    @Slot()
    def _keyboard_menu(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self._context_menu(self.view.visualRect(index).center())

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.view.setCurrentIndex(index)
        else:
            index = self.view.currentIndex()
            if not index.isValid():
                return
            pos = self.view.visualRect(index).center()
        row = index.data(ROW_ROLE)
        if not isinstance(row, HistoryRow):
            return
        self.pin_action.setText("Un&pin" if row.summary.pinned else "&Pin")
        self.archive_action.setText("Un&archive" if row.summary.archived else "&Archive")
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addSeparator()
        for item in (self.rename_action, self.pin_action, self.archive_action):
            menu.addAction(item)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def _open(self, index: QModelIndex) -> None:
        conversation_id = index.data(ID_ROLE) if index.isValid() else None
        if conversation_id:
            self.open_requested.emit(str(conversation_id))

    @Slot()
    def _open_current(self) -> None:
        self._open(self.view.currentIndex())

    @Slot()
    def _edit_current(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self.view.setFocus()
            self.view.edit(index)

    def _current_row(self) -> HistoryRow | None:
        row = self.view.currentIndex().data(ROW_ROLE)
        return row if isinstance(row, HistoryRow) else None

    @Slot(str, str)
    def _rename(self, conversation_id: str, title: str) -> None:
        self._write(lambda: self._store.update_conversation(conversation_id, title=title))

    @Slot()
    def _toggle_pin(self) -> None:
        row = self._current_row()
        if row is not None:
            summary = row.summary
            self._write(
                lambda: self._store.update_conversation(summary.id, pinned=not summary.pinned)
            )

    @Slot()
    def _toggle_archive(self) -> None:
        row = self._current_row()
        if row is not None:
            summary = row.summary
            if not summary.archived:  # archiving hides it from the list: offer to undo
                self.undo_bar.add(summary.id, row.title, "archive")
            self._write(
                lambda: self._store.update_conversation(summary.id, archived=not summary.archived)
            )

    def _write(self, work: Callable[[], Conversation]) -> None:
        self.calls.call(work, self._applied, self._write_failed)

    def _applied(self, conversation: Conversation) -> None:
        current = self.current_id()
        self.model.apply(conversation)
        self.conversation_edited.emit(conversation.id)
        if current and not self.select(current):
            self._select_near(self.view.currentIndex().row())

    @Slot()
    def _delete_current(self) -> None:
        row = self._current_row()
        if row is None:
            return
        number = self.view.currentIndex().row()
        conversation_id = row.summary.id
        self.model.remove(conversation_id)  # at once; the store write follows on the worker
        self._select_near(number)
        self.undo_bar.add(conversation_id, row.title)
        self.calls.call(
            lambda: self._store.delete_conversation(conversation_id),
            lambda _result: self.conversation_edited.emit(conversation_id),
            self._write_failed,
        )

    def _select_near(self, number: int) -> None:
        count = self.model.rowCount()
        if count:
            self.view.setCurrentIndex(self.model.index(min(max(number, 0), count - 1)))

    @Slot(list)
    def _restore(self, ids: list[str]) -> None:
        def work() -> list[Conversation]:
            return [self._store.restore_conversation(cid) for cid in ids]

        def done(restored: list[Conversation]) -> None:
            self.refresh()
            for conversation in restored:
                self.conversation_edited.emit(conversation.id)
            if restored:
                self.select(restored[-1].id)

        self.calls.call(work, done, self._write_failed)

    @Slot(list)
    def _unarchive(self, ids: list[str]) -> None:
        def work() -> list[Conversation]:
            return [self._store.update_conversation(cid, archived=False) for cid in ids]

        def done(back: list[Conversation]) -> None:
            self.refresh()
            for conversation in back:
                self.conversation_edited.emit(conversation.id)
            if back:
                self.select(back[-1].id)

        self.calls.call(work, done, self._write_failed)

    def _write_failed(self, error: Exception) -> None:
        self._show_error(sentence(f"The change was not saved: {user_reason(error)}"))
        self.refresh()

    @Slot(str)
    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        style.set_role(self.status, "error")
        self.status.show()
        QTimer.singleShot(10_000, lambda: style.set_role(self.status, "muted"))
