"""Settings → Hotkeys: a key recorder per action, Default and Off; clashes shown as they happen."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from snapask_desktop.capture.hotkey_defaults import (
    ACTION_LABELS,
    ACTIONS,
    default_hotkeys,
    effective_bindings,
    find_clashes,
)
from snapask_desktop.capture.hotkey_spec import Hotkey
from snapask_desktop.config import Settings
from snapask_desktop.ui.settings.hotkey_recorder import HotkeyRecorder
from snapask_desktop.ui.settings.page import (
    PageContext,
    SettingsPage,
    error_label,
    note_label,
    show_message,
)


class _HotkeyRow(QWidget):
    def __init__(self, action: str, default: Hotkey, platform: str) -> None:
        super().__init__()
        self.action = action
        self.default = default
        self.recorder = HotkeyRecorder(platform=platform)
        self.recorder.setAccessibleName(f"Hotkey for {ACTION_LABELS[action]}")
        self.reset = QPushButton("Default")
        self.reset.setToolTip(f"Use the default, {default.label(platform)}")
        self.reset.clicked.connect(lambda: self.recorder.set_hotkey(self.default))
        self.off = QPushButton("Off")
        self.off.setToolTip("No hotkey for this action")
        self.off.clicked.connect(lambda: self.recorder.set_hotkey(None))
        self.message = error_label()
        self.recorder.refused.connect(lambda text: show_message(self.message, text))
        self.recorder.recording_changed.connect(self._listening)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.recorder, 1)
        row.addWidget(self.reset)
        row.addWidget(self.off)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.message)

    def _listening(self, on: bool) -> None:
        if on and self.message.property("role") == "muted":
            show_message(self.message, "")  # the last result is old news once it listens again


class HotkeysPage(SettingsPage):
    """One row per action: a key recorder, Default and Off; clashes reported as they happen."""

    key = "hotkeys"
    title = "Hotkeys"
    recording_changed = Signal(bool)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._platform = context.platform
        defaults = default_hotkeys(context.platform)
        self.rows: dict[str, _HotkeyRow] = {}
        form = QFormLayout()
        for action in ACTIONS:
            row = _HotkeyRow(action, defaults[action], context.platform)
            row.recorder.set_check(lambda hotkey, action=action: self._own_clash(action, hotkey))
            row.recorder.hotkey_changed.connect(lambda _hotkey: self._check_clashes())
            row.recorder.recorded.connect(lambda hotkey, row=row: self._recorded(row, hotkey))
            row.recorder.cancelled.connect(self._check_clashes)
            row.recorder.recording_changed.connect(self.recording_changed)
            label = QLabel(f"{ACTION_LABELS[action]}:")
            label.setBuddy(row.recorder)
            form.addRow(label, row)
            self.rows[action] = row
        self.errors["hotkeys"] = error_label()
        column = QVBoxLayout(self)
        column.addWidget(
            note_label(
                "Click a field and press the new key combination; Esc cancels, Tab moves on. "
                "Hotkeys work while other apps have focus."
            )
        )
        column.addLayout(form)
        column.addWidget(self.errors["hotkeys"])
        column.addStretch(1)

    def load(self, settings: Settings) -> None:
        bindings = effective_bindings(settings.hotkeys, self._platform)
        for action, row in self.rows.items():
            with QSignalBlocker(row.recorder):
                row.recorder.set_hotkey(bindings[action])
        self._check_clashes()

    def bindings(self) -> dict[str, Hotkey | None]:
        """What each action is set to now (None: off)."""
        return {action: row.recorder.hotkey for action, row in self.rows.items()}

    def values(self) -> dict[str, Any]:
        # Only what differs from the defaults is stored, so new defaults reach everyone else.
        changed: dict[str, str] = {}
        for action, hotkey in self.bindings().items():
            if hotkey != self.rows[action].default:
                changed[action] = hotkey.pynput() if hotkey else ""
        return {"hotkeys": changed}

    def problems(self) -> list[str]:
        return [c.message(self._platform) for c in self._clashes() if c.own]

    def _clashes(self) -> list[Any]:
        active = {a: h for a, h in self.bindings().items() if h is not None}
        return find_clashes(active, self._platform)

    def _own_clash(self, action: str, hotkey: Hotkey) -> str | None:
        for other, bound in self.bindings().items():
            if other != action and bound == hotkey:
                return (
                    f"{hotkey.label(self._platform)} is already set for "
                    f"{ACTION_LABELS[other]}: give one of them another key."
                )
        return None

    def _recorded(self, row: _HotkeyRow, hotkey: Hotkey) -> None:
        """Say what was recorded, unless a clash warning speaks for the row."""
        self._check_clashes()  # also drops a refusal shown before this combination
        if row.message.isHidden():
            label = hotkey.label(self._platform)
            show_message(row.message, f"Set to {label}. Save to keep it.", "muted")

    def _check_clashes(self) -> None:
        for row in self.rows.values():
            show_message(row.message, "")
        for clash in self._clashes():
            row = self.rows[clash.action]
            show_message(
                row.message, clash.message(self._platform), "error" if clash.own else "warning"
            )
