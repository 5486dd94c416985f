"""The chat window's conflict banner: an edit made on two devices, and what was kept.

Sync resolves concurrent edits by itself (sync-protocol.md 9); the losing value is kept as a
conflict record. The banner shows the newest record of the open conversation in plain words
with "Keep the other version" ("this device's version" when the edit that lost was made
here; a new edit that wins everywhere) and "Dismiss". Edits far apart in time that still
conflicted were made while a device was offline, and the banner says so rather than "at the
same time". `banner_content` is the pure part: which sentence and button label for a record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.ui import style

TITLE_CHARS = 40
# Two online devices see each other's edits within seconds: edits that conflicted although a
# minute or more apart were made while one of them was offline.
SAME_TIME_MS = 60_000


@dataclass(frozen=True)
class BannerContent:
    """What the banner says about one conflict record."""

    conflict_id: int
    text: str
    keep_label: str  # the button that writes the other version
    keep_tip: str
    more: int = 0  # further records of the same conversation, shown after this one


def quoted(title: str, limit: int = TITLE_CHARS) -> str:
    """“A title”, cut with … when long; “Untitled” for an empty one (the app's quotes)."""
    text = " ".join(title.split()) or "Untitled"
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"“{text}”"


def _where(conflict: Any, this_device: str) -> str:
    """Which devices were involved, seen from this one."""
    if this_device in (conflict.losing_stamp[1], conflict.winning_stamp[1]):
        return "here and on another device"
    return "on two other devices"


def _when(conflict: Any) -> str:
    """Say "at the same time", or "while one was offline" when the edits' clocks are apart."""
    apart_ms = abs(conflict.losing_stamp[0] - conflict.winning_stamp[0]) >> COUNTER_BITS
    return "at the same time" if apart_ms < SAME_TIME_MS else "while one was offline"


def _other(conflict: Any, this_device: str) -> str:
    """Whose version the keep button brings back: this device's own, or the other one."""
    return (
        "this device's version" if conflict.losing_stamp[1] == this_device else "the other version"
    )


def banner_content(conflicts: Sequence[Any], this_device: str) -> BannerContent | None:
    """The banner for a conversation's conflict records (newest first shown); None: no banner."""
    if not conflicts:
        return None
    conflict = max(conflicts, key=lambda record: record.id)
    more = len(conflicts) - 1
    where, when = _where(conflict, this_device), _when(conflict)
    other = _other(conflict, this_device)
    field, losing, winning = conflict.field, conflict.losing_value, conflict.winning_value
    if field == "title":
        text = f"Renamed {where} {when}: kept {quoted(str(winning))}."
        label = f"Keep {other} {quoted(str(losing), 24)}"
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
        text = f"Pinned and unpinned {where} {when}: kept it {state}."
        label = "Pin it" if losing else "Unpin it"
        tip = f"{label} on every device"
    elif field == "archived":
        state = "archived" if winning else "not archived"
        text = f"Archived and unarchived {where} {when}: kept it {state}."
        label = "Archive it" if losing else "Unarchive it"
        tip = f"{label} on every device"
    else:  # a field a newer version knows: still say something true
        text = f"Changed {where} {when} ({field}); one version was kept."
        label, tip = f"Keep {other}", f"Use {other} on every device"
    return BannerContent(conflict.id, text, label, tip, more)


class ElidedButton(QPushButton):
    """A push button that shortens its text with … to the width it gets (full text in the
    tooltip), so a long title never widens the window nor is cut off at the edge."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self._tip = ""
        # Preferred, not a push button's Minimum: it may shrink below its text's width.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_full_text(self, text: str, tip: str) -> None:
        """The whole label (no mnemonics) and the tooltip; shown shortened when narrow."""
        self.full_text = text
        self._tip = tip
        self.updateGeometry()
        self._fit()

    def _chrome(self) -> int:
        """The button's width around its text (frame and padding)."""
        shown = self.fontMetrics().size(Qt.TextFlag.TextShowMnemonic, self.text()).width()
        return super().sizeHint().width() - shown

    def sizeHint(self) -> QSize:
        full = self.fontMetrics().size(Qt.TextFlag.TextShowMnemonic, self._escaped()).width()
        return QSize(self._chrome() + full, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        least = self.fontMetrics().horizontalAdvance(self.full_text[:12] + "…")
        return QSize(min(self.sizeHint().width(), self._chrome() + least), self.sizeHint().height())

    def _escaped(self) -> str:
        return self.full_text.replace("&", "&&")  # && : no mnemonic from a title

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()

    def _fit(self) -> None:
        shown = self.full_text
        # Before its layout sizes it, a button's width means nothing; at its full size the
        # text fits (elidedText can be a pixel short there).
        if self.isVisible() and self.width() < self.sizeHint().width():
            room = max(0, self.width() - self._chrome())
            shown = self.fontMetrics().elidedText(shown, Qt.TextElideMode.ElideRight, room)
        narrow = shown != self.full_text
        self.setToolTip(f"{self.full_text}\n{self._tip}" if narrow else self._tip)
        if shown.replace("&", "&&") != self.text():
            self.setText(shown.replace("&", "&&"))


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
        self.keep_button = ElidedButton()
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
        self.keep_button.set_full_text(self.content.keep_label, self.content.keep_tip)
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
