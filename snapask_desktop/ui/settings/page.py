"""What every settings page shares: the page base class, its context and field helpers.

A page shows settings and hands back raw values; the dialog checks and saves them. Pages that
save by themselves (Sync) report it with `settings_saved`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from snapask_desktop.config import Settings
from snapask_desktop.ui import style
from snapask_desktop.ui.workers import BackgroundCalls


@dataclass(frozen=True)
class PageContext:
    """What pages may use besides the settings: the shared worker and the app's helpers."""

    calls: BackgroundCalls
    data_dir: Path
    platform: str
    clear_cache: Callable[[], int] | None = None


def error_label() -> QLabel:
    """A hidden label for a message under a field."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    style.set_role(label, "error")
    label.hide()
    return label


def note_label(text: str, rich: bool = False) -> QLabel:
    """A muted line of help; `rich` allows links."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    if rich:
        label.setOpenExternalLinks(True)
    style.set_role(label, "muted")
    return label


def restyle(widget: QWidget, role: str | None) -> None:
    """Give a widget a stylesheet role, or none (plain text)."""
    if role:
        style.set_role(widget, role)
        return
    widget.setProperty(style.ROLE_PROPERTY, None)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def show_message(label: QLabel, text: str, role: str = "error") -> None:
    """Show `text` in `label` with a style role; hidden when empty."""
    label.setText(text)
    restyle(label, role)
    label.setVisible(bool(text))


def friendly(key: str, message: str) -> str:
    """check_value's "<key> must be …" as a sentence for the label under the field."""
    text = message[len(key) :].strip() if message.startswith(key) else message
    return text[:1].upper() + text[1:] if text else message


class SettingsPage(QWidget):
    """One page of the dialog. Subclasses fill `errors` (setting key -> label under its field)."""

    key = ""
    title = ""
    # Settings the page saved by itself (Sync: signing in); the dialog takes them as saved.
    settings_saved = Signal(object)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.errors: dict[str, QLabel] = {}

    def load(self, settings: Settings) -> None:
        """Show these settings."""

    def values(self) -> dict[str, Any]:
        """The raw value of every setting on this page (checked by the dialog)."""
        return {}

    def problems(self) -> list[str]:
        """Reasons the page cannot be saved beyond single values (shown by the page itself)."""
        return []

    def show_error(self, key: str, message: str) -> bool:
        """Show a message under the field of `key`; False if the field is not on this page."""
        label = self.errors.get(key)
        if label is None:
            return False
        show_message(label, message)
        return True

    def clear_errors(self) -> None:
        """Hide every message."""
        for label in self.errors.values():
            show_message(label, "")


def field_box(widget: QWidget, error: QLabel, note: QLabel | None = None) -> QWidget:
    """A field with its optional note and its message label under it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(widget)
    if note is not None:
        column.addWidget(note)
    column.addWidget(error)
    return box
