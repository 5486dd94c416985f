"""Settings → API key: one box a provider; keys go to the keyring at once, never to a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop import credentials
from snapask_desktop.ai.registry import REGISTRY
from snapask_desktop.credentials import CredentialError
from snapask_desktop.ui import style
from snapask_desktop.ui.settings.page import (
    PageContext,
    SettingsPage,
    error_label,
    note_label,
    restyle,
    show_message,
)
from snapask_desktop.ui.workers import BackgroundCalls

GEMINI_KEY_URL = "https://aistudio.google.com/apikey"


def _key_help(provider: str, palette: QPalette) -> str:
    if provider == "gemini":
        return f"Get a key at {style.link_html(GEMINI_KEY_URL, 'aistudio.google.com', palette)}."
    return "Only needed when your server asks for one; Ollama and LM Studio need none."


@dataclass(frozen=True)
class KeyStatus:
    """Whether a provider has a key, and where it comes from (never the key itself)."""

    provider: str
    source: str | None  # "keyring", "environment (GEMINI_API_KEY)" or None
    error: str | None = None

    @property
    def from_environment(self) -> bool:
        """True when an environment variable supplies the key (it wins over the keyring)."""
        return bool(self.source and self.source.startswith("environment"))

    def describe(self) -> str:
        """A sentence for the page."""
        if self.error:
            return self.error
        if self.source is None:
            return "No key is set."
        if self.from_environment:
            variable = self.source.removeprefix("environment (").rstrip(")")
            return (
                f"A key is set by the environment variable {variable}; it is used instead "
                "of one saved here."
            )
        return "A key is set, kept in the system keyring."


def key_status(provider: str) -> KeyStatus:
    """Look up where a provider's key comes from (blocking: the keyring may ask the OS)."""
    try:
        found = credentials.get_api_key(provider)
    except CredentialError as error:
        return KeyStatus(provider, None, str(error))
    return KeyStatus(provider, found.source if found else None)


class _KeyBox(QGroupBox):
    """One provider's key: status, a field for a new key, Save/Replace and Remove."""

    changed = Signal(str)

    def __init__(self, provider: str, title: str, calls: BackgroundCalls) -> None:
        super().__init__(title)
        self.provider = provider
        self._calls = calls
        self.status_label = QLabel("Checking…")
        self.status_label.setWordWrap(True)
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setPlaceholderText("Paste a new key")
        self.entry.setAccessibleName(f"New {title} API key")
        self.entry.returnPressed.connect(self.save_key)
        self.save_button = QPushButton("Save key")
        self.save_button.clicked.connect(self.save_key)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the key saved in the system keyring")
        self.remove_button.clicked.connect(self.remove_key)
        self.message = error_label()
        row = QHBoxLayout()
        row.addWidget(self.entry, 1)
        row.addWidget(self.save_button)
        row.addWidget(self.remove_button)
        column = QVBoxLayout(self)
        column.addWidget(self.status_label)
        column.addLayout(row)
        column.addWidget(self.message)
        column.addWidget(note_label(_key_help(provider, self.palette()), rich=True))
        self.status: KeyStatus | None = None
        self._set_busy(False)  # Remove stays off until the lookup finds a key

    def forget_message(self) -> None:
        """Drop the last save/remove message and any half-typed key (Settings reopened)."""
        self.entry.clear()
        show_message(self.message, "")

    def refresh(self) -> None:
        """Look the key up again on the worker (typing goes on meanwhile)."""
        self._calls.call(lambda: key_status(self.provider), self._show_status)

    def _show_status(self, status: KeyStatus) -> None:
        self.status = status
        self.status_label.setText(status.describe())
        restyle(self.status_label, "error" if status.error else None)
        self.save_button.setText("Replace key" if status.source else "Save key")
        self._set_busy(self._busy)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.entry.setEnabled(not busy)
        self.save_button.setEnabled(not busy)
        in_keyring = self.status is not None and self.status.source == "keyring"
        self.remove_button.setEnabled(not busy and in_keyring)

    @Slot()
    def save_key(self) -> None:
        """Store the typed key in the keyring."""
        value = self.entry.text()
        if not value.strip():
            show_message(self.message, "Paste the key first.")
            return
        self._run(lambda: credentials.set_api_key(self.provider, value), "The key was saved.")

    @Slot()
    def remove_key(self) -> None:
        """Delete the key from the keyring."""

        def work() -> bool:
            return credentials.delete_api_key(self.provider)

        self._run(work, "The key was removed from the keyring.")

    def _run(self, work: Callable[[], object], success: str) -> None:
        self._set_busy(True)
        show_message(self.message, "")

        def done(_result: object) -> None:
            self.entry.clear()
            self._set_busy(False)
            show_message(self.message, success, "muted")
            self.changed.emit(self.provider)
            self.refresh()

        def failed(error: Exception) -> None:
            self._set_busy(False)
            show_message(self.message, str(error))

        self._calls.call(work, done, failed)


class ApiKeyPage(SettingsPage):
    """API keys per provider, kept in the system keyring; shows only whether one is set."""

    key = "api_key"
    title = "API key"
    key_changed = Signal(str)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        column = QVBoxLayout(self)
        column.addWidget(
            note_label(
                "Keys are stored in your system keyring as soon as you save them, never in "
                "the settings file. Only whether a key is set is shown here."
            )
        )
        # Its own worker: a keyring may wait for the user to unlock it, and Save must not.
        self.calls = BackgroundCalls(self)
        self.boxes: dict[str, _KeyBox] = {}
        for info in REGISTRY.values():
            box = _KeyBox(info.name, info.title, self.calls)
            box.changed.connect(self.key_changed)
            self.boxes[info.name] = box
            column.addWidget(box)
        column.addStretch(1)
        self._refresh_all()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():  # shown again, not merely un-minimised
            for box in self.boxes.values():
                box.forget_message()  # "The key was saved." belongs to the last visit
        self._refresh_all()  # a key may have been set elsewhere (CLI, environment)

    def _refresh_all(self) -> None:
        for box in self.boxes.values():
            box.refresh()
