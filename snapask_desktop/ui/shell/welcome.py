"""The first-run welcome: what SnapAsk does, its hotkeys, and the way to an API key.

Shown when the selected provider needs a key and none is set (`needs_welcome`). "Open
Settings" asks for the API key page; "Use a local model instead" asks for the General page with
the OpenAI-compatible server chosen but not saved: Settings' Save keeps it, Cancel undoes it.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop import credentials
from snapask_desktop.capture.hotkey_defaults import ACTION_LABELS, ACTIONS, effective_bindings
from snapask_desktop.capture.session import platform_name
from snapask_desktop.config import Settings
from snapask_desktop.ui import style
from snapask_desktop.ui.settings.api_key_page import GEMINI_KEY_URL

INTRO = (
    "Press a hotkey, drag over part of the screen, and ask about what you see: an error "
    "message, a chart, a receipt, text in another language. The answer streams into a small "
    "window, and every conversation is kept on this computer."
)


IN_TRAY = (
    "SnapAsk now lives in the system tray, near the clock: click its icon to capture, "
    "right-click it for History, Settings and Quit. Closing a window keeps it running for the "
    "hotkeys."
)
NO_TRAY = (
    "This desktop has no system tray, so SnapAsk keeps a small window open instead: capture, "
    "History and Settings are there. Closing it keeps SnapAsk running for the hotkeys."
)


def needs_welcome(settings: Settings) -> bool:
    """True when the selected provider needs an API key and none is set (blocking: keyring)."""
    return credentials.needs_api_key(settings.provider)


def hotkey_lines(settings: Settings, platform: str | None = None) -> list[tuple[str, str]]:
    """(keys, what they do) for each action with a hotkey, in menu order."""
    bindings = effective_bindings(settings.hotkeys, platform)
    name = platform_name(platform)
    return [
        (hotkey.label(name), ACTION_LABELS[action])
        for action in ACTIONS
        if (hotkey := bindings[action]) is not None
    ]


class WelcomeDialog(QDialog):
    """A short first-run introduction that leads to Settings."""

    open_settings = Signal(str)  # the settings page to open: "api_key" or "general"
    local_model_chosen = Signal(str)  # Settings → General with this provider chosen, unsaved

    def __init__(
        self,
        settings: Settings,
        *,
        platform: str | None = None,
        in_tray: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        """`in_tray`: the app shows a tray icon (else its launcher window, where no tray is)."""
        super().__init__(parent)
        self.setWindowTitle("Welcome to SnapAsk")
        heading = QLabel("Welcome to SnapAsk")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setWeight(font.Weight.DemiBold)
        heading.setFont(font)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        keys = self._hotkey_grid(settings, platform)
        self.home = QLabel(IN_TRAY if in_tray else NO_TRAY)
        self.home.setWordWrap(True)
        need = self.need = QLabel(self._need_text())
        need.setWordWrap(True)
        need.setTextFormat(Qt.TextFormat.RichText)
        need.setOpenExternalLinks(True)
        self.settings_button = QPushButton("Open &Settings")
        self.settings_button.setDefault(True)
        self.settings_button.setToolTip("Enter your API key")
        self.settings_button.clicked.connect(self.open_key_settings)
        self.local_button = QPushButton("Use a &local model instead")
        self.local_button.setToolTip("Switch to an OpenAI-compatible server such as Ollama")
        self.local_button.clicked.connect(self.use_local_model)
        later = QPushButton("Later")
        later.setToolTip("Close; Settings are in the tray menu")
        later.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(later)
        buttons.addStretch(1)
        buttons.addWidget(self.local_button)
        buttons.addWidget(self.settings_button)
        column = QVBoxLayout(self)
        column.setSpacing(12)
        column.setContentsMargins(20, 20, 20, 16)
        column.addWidget(heading)
        column.addWidget(intro)
        column.addWidget(keys)
        column.addWidget(self.home)
        column.addWidget(need)
        column.addStretch(1)
        column.addLayout(buttons)
        self.setStyleSheet(style.stylesheet(self.palette()))
        self.setMinimumWidth(520)
        self.settings_button.setFocus()

    def _need_text(self) -> str:
        return (
            "To answer, SnapAsk needs a Gemini API key (free to start at "
            f"{style.link_html(GEMINI_KEY_URL, 'aistudio.google.com', self.palette())}), or a "
            "model that runs on this computer through Ollama or LM Studio."
        )

    def changeEvent(self, event: QEvent) -> None:
        """Follow light/dark palette switches (the style sheet and the link hold colours)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(style.stylesheet(self.palette()))
            self.need.setText(self._need_text())

    @staticmethod
    def _hotkey_grid(settings: Settings, platform: str | None) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(12, 0, 0, 0)
        grid.setHorizontalSpacing(16)
        lines = hotkey_lines(settings, platform)
        if not lines:
            grid.addWidget(QLabel("No hotkeys are set; use the tray menu to capture."), 0, 0)
        for row, (keys, action) in enumerate(lines):
            key_label = QLabel(f"<b>{escape(keys)}</b>")
            key_label.setTextFormat(Qt.TextFormat.RichText)
            grid.addWidget(key_label, row, 0)
            grid.addWidget(QLabel(action), row, 1)
        grid.setColumnStretch(1, 1)
        return box

    @Slot()
    def open_key_settings(self) -> None:
        """Close and ask for the API key page."""
        self.accept()
        self.open_settings.emit("api_key")

    @Slot()
    def use_local_model(self) -> None:
        """Close and ask for General with the OpenAI-compatible server chosen (saved only by
        Settings' Save, so Cancel there undoes it)."""
        self.accept()
        self.local_model_chosen.emit("openai")
