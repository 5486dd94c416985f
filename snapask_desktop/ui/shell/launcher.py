"""A small launcher window for desktops without a system tray: the tray menu's main actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

NO_TRAY_MESSAGE = (
    "This desktop has no system tray, so SnapAsk lives in this small window instead. "
    "The hotkeys work as usual; closing the window keeps SnapAsk running (Quit ends it)."
)


class LauncherWindow(QWidget):
    """Buttons for capture, history, settings and quit, with the hotkeys shown."""

    capture_region = Signal()
    capture_full = Signal()
    new_chat = Signal()
    show_history = Signal()
    show_settings = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("SnapAsk")
        if icon is not None:
            self.setWindowIcon(icon)
        layout = QVBoxLayout(self)
        note = QLabel(NO_TRAY_MESSAGE)
        note.setWordWrap(True)
        layout.addWidget(note)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, signal, shortcut in (
            ("capture_region", "Capture region", self.capture_region, None),
            ("capture_full", "Capture full screen", self.capture_full, None),
            ("new_chat", "New chat without picture", self.new_chat, "Ctrl+N"),
            ("history", "History…", self.show_history, "Ctrl+H"),
            ("settings", "Settings…", self.show_settings, "Ctrl+,"),
            ("quit", "Quit SnapAsk", self.quit_requested, "Ctrl+Q"),
        ):
            button = QPushButton(text)
            button.clicked.connect(signal)
            if shortcut:
                button.setShortcut(QKeySequence(shortcut))
                button.setToolTip(f"{text} ({shortcut})")
            layout.addWidget(button)
            self.buttons[key] = button
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, False)

    def set_hotkey_labels(self, labels: dict[str, str]) -> None:
        """Show each capture button's global hotkey."""
        for key, text in (
            ("capture_region", "Capture region"),
            ("capture_full", "Capture full screen"),
        ):
            hotkey = labels.get(key, "")
            self.buttons[key].setText(f"{text}   ({hotkey})" if hotkey else text)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing hides: the app keeps running for its hotkeys, like a tray app.
        event.ignore()
        self.hide()
