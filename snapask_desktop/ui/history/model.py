"""The history list model: lazy pages of conversations, or the results of a search.

Browsing never loads everything: `canFetchMore/fetchMore` page through
`Store.list_conversations(before=cursor)` as the view scrolls. A search replaces the rows
with up to SEARCH_LIMIT hits. A page is < 1 ms and a search < 12 ms at 10,000 conversations
(bench/store.py), so both run synchronously in the slot that asks for them; thumbnails are
decoded by the ThumbnailLoader on workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)

from snapask_desktop.store.errors import StoreError
from snapask_desktop.store.records import Conversation, ConversationSummary, SearchHit
from snapask_desktop.store.repository import Store
from snapask_desktop.ui.history.thumbnails import ThumbnailLoader

PAGE_SIZE = 100
MAX_PINNED = 200  # pinned conversations listed above the history (people pin a handful)
SEARCH_LIMIT = 100
UNTITLED = "Untitled conversation"

ID_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_PENDING_ROLE = Qt.ItemDataRole.UserRole + 3
CONFLICT_TIP = "changed on two devices at once: open it to choose"
CONFLICT_ROLE = Qt.ItemDataRole.UserRole + 4  # True: a sync conflict the user has not settled

Index = QModelIndex | QPersistentModelIndex


_LINE_BREAKS = str.maketrans(dict.fromkeys("\n\r\t\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))


def one_line(text: str) -> str:
    """`text` with every line break as a space, character for character (highlight spans
    still fit)."""
    return text.translate(_LINE_BREAKS)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One row: the conversation summary, plus where a search matched it."""

    summary: ConversationSummary
    matched_in: Literal["title", "message"] | None = None
    snippet: str = ""
    highlights: tuple[tuple[int, int], ...] = ()

    @property
    def title(self) -> str:
        """The title to show (a placeholder for an empty one), on one line."""
        return one_line(self.summary.title) or UNTITLED

    @property
    def detail(self) -> str:
        """The second line: the matching snippet, else the newest message's start, on one line
        (a picture's read text keeps its line breaks in the store; drawn in a one-line box they
        showed as half-cut lines)."""
        text = self.snippet if self.matched_in == "message" else self.summary.preview
        return one_line(text)

    @property
    def detail_highlights(self) -> tuple[tuple[int, int], ...]:
        """Highlight spans within `detail`."""
        return self.highlights if self.matched_in == "message" else ()

    @property
    def title_highlights(self) -> tuple[tuple[int, int], ...]:
        """Highlight spans within `title` (title matches only)."""
        if self.matched_in == "title" and self.snippet == self.summary.title:
            return self.highlights
        return ()

    @classmethod
    def from_hit(cls, hit: SearchHit) -> HistoryRow:
        """A row for a search hit; a title match's snippet is the (highlighted) title."""
        return cls(hit.summary, hit.matched_in, hit.snippet, hit.highlights)


def format_activity(ms: int, now: dt.datetime | None = None) -> str:
    """A short local time for the list: 14:32, Yesterday, Tuesday, 3 Mar, 3 Mar 2024."""
    current = now or dt.datetime.now().astimezone()
    when = dt.datetime.fromtimestamp(ms / 1000, tz=current.tzinfo)
    days = (current.date() - when.date()).days
    if days <= 0:
        return when.strftime("%H:%M")
    if days == 1:
        return "Yesterday"
    if days < 7:
        return when.strftime("%A")
    if when.year == current.year:
        return f"{when.day} {when.strftime('%b')}"
    return f"{when.day} {when.strftime('%b')} {when.year}"


def count_label(count: int) -> str:
    """'1 message', '12 messages'."""
    return f"{count:,} message" + ("" if count == 1 else "s")


def pictures_label(count: int) -> str:
    """'2 pictures' for a conversation with more than one (captures added to it); '' else."""
    return f"{count:,} pictures" if count > 1 else ""


class HistoryModel(QAbstractListModel):
    """Pinned conversations, then the others newest first (lazy pages), or search hits while
    a search is active."""

    rename_requested = Signal(str, str)  # conversation id, new title (from inline editing)
    load_failed = Signal(str)  # a plain-language message

    def __init__(
        self,
        store: Store,
        thumbnails: ThumbnailLoader | None = None,
        *,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._thumbnails = thumbnails
        self._page_size = page_size
        self._rows: list[HistoryRow] = []
        # The last row of the pages read so far: pinned rows sit above the pages (and are
        # skipped in them), so the last row shown is not always where the next page starts.
        self._cursor: ConversationSummary | None = None
        self._exhausted = False
        self._search = ""
        self._include_archived = False
        self._conflicted: frozenset[str] = frozenset()
        self.search_truncated = False
        self.pages_loaded = 0
        if thumbnails is not None:
            thumbnails.loaded.connect(self._thumbnail_loaded)

    # ----------------------------------------------------------------- state

    @property
    def search_text(self) -> str:
        """The active search ('' while browsing)."""
        return self._search

    @property
    def include_archived(self) -> bool:
        """Whether archived conversations are listed while browsing."""
        return self._include_archived

    def set_search(self, text: str) -> None:
        """Show hits for `text` (blank: browse the history again)."""
        clean = " ".join(text.split())
        if clean == self._search:
            return
        self._search = clean
        self._reload()

    def set_include_archived(self, include: bool) -> None:
        """List archived conversations too (browsing; a search always finds them)."""
        if include != self._include_archived:
            self._include_archived = include
            self._reload()

    @Slot()
    def refresh(self) -> None:
        """Reload what is shown (as many rows as before), e.g. after a change elsewhere."""
        self._reload(keep=len(self._rows))

    def has_conflict(self, conversation_id: str) -> bool:
        """True when the conversation has a sync conflict not settled yet (kept or dismissed
        in its chat window)."""
        return conversation_id in self._conflicted

    def row_at(self, row: int) -> HistoryRow | None:
        """The row's data, or None when out of range."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, conversation_id: str) -> int:
        """The row showing this conversation, or -1."""
        for number, row in enumerate(self._rows):
            if row.summary.id == conversation_id:
                return number
        return -1

    def apply(self, conversation: Conversation) -> None:
        """Show an edit made through the store: update the row, or drop it if now hidden."""
        number = self.row_of(conversation.id)
        if number < 0:
            return
        hidden = conversation.deleted or (
            conversation.archived and not self._include_archived and not self._search
        )
        if hidden:
            self.remove(conversation.id)
            return
        old = self._rows[number]
        if conversation.pinned != old.summary.pinned and not self._search:
            self.refresh()  # pinned rows come first: it moves
            return
        summary = dataclasses.replace(
            old.summary,
            title=conversation.title,
            pinned=conversation.pinned,
            archived=conversation.archived,
            updated_at=conversation.updated_at,
        )
        # A renamed title no longer holds the highlighted words where they were.
        keep_match = old.matched_in == "message"
        self._rows[number] = (
            dataclasses.replace(old, summary=summary) if keep_match else HistoryRow(summary)
        )
        index = self.index(number)
        self.dataChanged.emit(index, index)

    def remove(self, conversation_id: str) -> None:
        """Take a conversation out of the list (deleted, or archived while hidden)."""
        number = self.row_of(conversation_id)
        if number >= 0:
            self.beginRemoveRows(QModelIndex(), number, number)
            del self._rows[number]
            self.endRemoveRows()

    # ----------------------------------------------------------------- Qt model API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  # Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._search and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        page = self._load_page(self._page_size)
        if page is None:
            return
        if page:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
            self._rows.extend(HistoryRow(summary) for summary in page)
            self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.title if role == Qt.ItemDataRole.DisplayRole else row.summary.title
        if role == ID_ROLE:
            return row.summary.id
        if role == ROW_ROLE:
            return row
        if role == CONFLICT_ROLE:
            return row.summary.id in self._conflicted
        if role == Qt.ItemDataRole.DecorationRole:
            sha = row.summary.first_screenshot_sha256
            if sha is None or self._thumbnails is None:
                return None
            return self._thumbnails.image(sha)
        if role == THUMB_PENDING_ROLE:
            sha = row.summary.first_screenshot_sha256
            return bool(sha and self._thumbnails and self._thumbnails.is_pending(sha))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, row.summary.id in self._conflicted)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._accessible_text(row, row.summary.id in self._conflicted)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.isValid() else base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None or role != Qt.ItemDataRole.EditRole or not isinstance(value, str):
            return False
        title = " ".join(value.split())
        if not title or title == row.summary.title:
            return False  # an emptied or unchanged title is not a rename
        self._rows[index.row()] = HistoryRow(dataclasses.replace(row.summary, title=title))
        self.dataChanged.emit(index, index)
        self.rename_requested.emit(row.summary.id, title)
        return True

    # ----------------------------------------------------------------- loading

    def _reload(self, keep: int = 0) -> None:
        self.beginResetModel()
        self._rows = []
        self._cursor = None
        self._exhausted = False
        self.search_truncated = False
        self.pages_loaded = 0
        self._conflicted = self._load_conflicted()
        if self._search:
            self._rows = self._load_search()
        else:
            self._rows = [HistoryRow(summary) for summary in self._load_pinned()]
            wanted = max(keep, self._page_size)
            while len(self._rows) < wanted and not self._exhausted:
                page = self._load_page(min(self._page_size, wanted - len(self._rows)))
                if page is None:
                    break
                self._rows.extend(HistoryRow(summary) for summary in page)
        self.endResetModel()

    def _load_conflicted(self) -> frozenset[str]:
        # Conflict records are few (local, only those not settled): one small read a reload.
        try:
            return frozenset(record.conversation_id for record in self._store.conflicts())
        except StoreError:
            return frozenset()  # the list itself says what failed; no badge is no harm

    def _load_pinned(self) -> list[ConversationSummary]:
        try:
            return self._store.pinned_conversations(
                limit=MAX_PINNED, include_archived=self._include_archived
            )
        except StoreError as error:
            self.load_failed.emit(f"The history could not be loaded: {error}")
            return []

    def _load_page(self, limit: int) -> list[ConversationSummary] | None:
        """The next page's unpinned rows (pinned ones are listed first, on their own)."""
        try:
            page = self._store.list_conversations(
                limit=limit, before=self._cursor, include_archived=self._include_archived
            )
        except StoreError as error:
            self._exhausted = True  # don't retry in a loop on every scroll
            self.load_failed.emit(f"The history could not be loaded: {error}")
            return None
        self.pages_loaded += 1
        if len(page) < limit:
            self._exhausted = True
        if page:
            self._cursor = page[-1]
        return [summary for summary in page if not summary.pinned]

    def _load_search(self) -> list[HistoryRow]:
        try:
            hits = self._store.search(self._search, limit=SEARCH_LIMIT)
        except StoreError as error:
            self.load_failed.emit(f"The search failed: {error}")
            return []
        self.search_truncated = len(hits) >= SEARCH_LIMIT
        return [HistoryRow.from_hit(hit) for hit in hits]

    @Slot(str)
    def _thumbnail_loaded(self, sha256: str) -> None:
        for number, row in enumerate(self._rows):
            if row.summary.first_screenshot_sha256 == sha256:
                index = self.index(number)
                self.dataChanged.emit(
                    index, index, [Qt.ItemDataRole.DecorationRole, THUMB_PENDING_ROLE]
                )

    @staticmethod
    def _tooltip(row: HistoryRow, conflict: bool = False) -> str:
        when = dt.datetime.fromtimestamp(row.summary.last_activity_at / 1000)
        flags = [
            name
            for name, on in (
                ("pinned", row.summary.pinned),
                ("archived", row.summary.archived),
                (CONFLICT_TIP, conflict),
            )
            if on
        ]
        extra = f" · {', '.join(flags)}" if flags else ""
        pictures = pictures_label(row.summary.picture_count)
        counts = " · ".join(p for p in (count_label(row.summary.message_count), pictures) if p)
        return f"{row.title}\n{counts} · last activity {when:%Y-%m-%d %H:%M}{extra}"

    @staticmethod
    def _accessible_text(row: HistoryRow, conflict: bool = False) -> str:
        parts = [row.title]
        if conflict:
            parts.append("sync conflict")
        if row.summary.pinned:
            parts.append("pinned")
        if row.summary.archived:
            parts.append("archived")
        parts.append(count_label(row.summary.message_count))
        if row.summary.picture_count > 1:
            parts.append(pictures_label(row.summary.picture_count))
        parts.append(format_activity(row.summary.last_activity_at))
        return ", ".join(parts)
