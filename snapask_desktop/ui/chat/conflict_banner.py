"""The chat window's conflict banner: an edit made on two devices at once, and what was kept.

Sync resolves concurrent edits by itself (sync-protocol.md 9); the losing value is kept as a
conflict record. The banner shows the newest record of the open conversation in plain words
with "Keep the other version" (a new edit that wins everywhere) and "Dismiss".
`banner_content` is the pure part: which sentence and which button label for a record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from snapask_desktop.ui import style

TITLE_CHARS = 40


@dataclass(frozen=True)
class BannerContent:
    """What the banner says about one conflict record."""

    conflict_id: int
    text: str
    keep_label: str  # the button that writes the other version
    keep_tip: str
    more: int = 0  # further records of the same conversation, shown after this one


def quoted(title: str, limit: int = TITLE_CHARS) -> str:
    """«A title», cut with … when long; «Untitled» for an empty one."""
    text = " ".join(title.split()) or "Untitled"
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"«{text}»"


def _where(conflict: Any, this_device: str) -> str:
    """Which devices were involved, seen from this one."""
    if conflict.losing_stamp[1] == this_device:
        return "here and on another device"
    if conflict.winning_stamp[1] == this_device:
        return "on another device"
    return "on two other devices"


def banner_content(conflicts: Sequence[Any], this_device: str) -> BannerContent | None:
    """The banner for a conversation's conflict records (newest first shown); None: no banner."""
    if not conflicts:
        return None
    conflict = max(conflicts, key=lambda record: record.id)
    more = len(conflicts) - 1
    where = _where(conflict, this_device)
    field, losing, winning = conflict.field, conflict.losing_value, conflict.winning_value
    if field == "title":
        text = f"Renamed {where} at the same time: kept {quoted(str(winning))}."
        label = f"Keep the other version {quoted(str(losing), 24)}"
        tip = f"Rename it to {quoted(str(losing), 200)} on every device"
    elif field == "deleted":
        if conflict.losing_stamp[1] == this_device:
            text = "You deleted this conversation while it changed on another device; it was kept."
        else:
            text = (
                "This conversation was deleted on another device while it changed here; "
                "it was kept."
            )
        label, tip = "Delete it", "Delete this conversation on every device"
    elif field == "pinned":
        state = "pinned" if winning else "unpinned"
        text = f"Pinned and unpinned {where} at the same time: kept it {state}."
        label = "Pin it" if losing else "Unpin it"
        tip = f"{label} on every device"
    elif field == "archived":
        state = "archived" if winning else "not archived"
        text = f"Archived and unarchived {where} at the same time: kept it {state}."
        label = "Archive it" if losing else "Unarchive it"
        tip = f"{label} on every device"
    else:  # a field a newer version knows: still say something true
        text = f"Changed {where} at the same time ({field}); one version was kept."
        label, tip = "Keep the other version", "Use the other version on every device"
    return BannerContent(conflict.id, text, label, tip, more)


class ConflictBanner(QFrame):
    """A slim card above the transcript: the sentence, the keep button and Dismiss."""

    keep_requested = Signal(int)  # conflict id
    dismiss_requested = Signal(int)  # conflict id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConflictBanner")
        style.set_role(self, "card")
        self.content: BannerContent | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.more = QLabel()
        style.set_role(self.more, "muted")
        self.keep_button = QPushButton()
        self.keep_button.setAutoDefault(False)
        self.keep_button.clicked.connect(self._keep)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setAutoDefault(False)
        self.dismiss_button.setToolTip("Keep it as it is and hide this note")
        style.set_role(self.dismiss_button, "flat")
        self.dismiss_button.clicked.connect(self._dismiss)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.more, 1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.dismiss_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 6, 10, 6)
        column.setSpacing(4)
        column.addWidget(self.label)
        column.addLayout(buttons)
        self.hide()

    def show_conflicts(self, conflicts: Sequence[Any], this_device: str) -> None:
        """Show the newest record (hidden when there is none)."""
        self.content = banner_content(conflicts, this_device)
        self.set_busy(False)
        if self.content is None:
            self.hide()
            return
        self.label.setText(self.content.text)
        self.keep_button.setText(self.content.keep_label.replace("&", "&&"))
        self.keep_button.setToolTip(self.content.keep_tip)
        more = self.content.more
        self.more.setText(f"{more} more after this one" if more else "")
        self.show()

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a choice is being written."""
        self.keep_button.setEnabled(not busy)
        self.dismiss_button.setEnabled(not busy)

    def _keep(self) -> None:
        if self.content is not None:
            self.set_busy(True)
            self.keep_requested.emit(self.content.conflict_id)

    def _dismiss(self) -> None:
        if self.content is not None:
            self.set_busy(True)
            self.dismiss_requested.emit(self.content.conflict_id)
