"""The tray icon and its menu: the app's home. Emits signals; `app.py` connects them."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from snapask_desktop.resources import resource_path

RECENT_COUNT = 5
RECENT_TITLE_CHARS = 48


class TrayState(enum.Enum):
    """What the icon shows."""

    IDLE = "idle"
    ANSWERING = "answering"
    OFFLINE = "offline"
    PROBLEM = "problem"


STATE_TOOLTIPS = {
    TrayState.IDLE: "SnapAsk",
    TrayState.ANSWERING: "SnapAsk — answering…",
    TrayState.OFFLINE: "SnapAsk — offline",
    TrayState.PROBLEM: "SnapAsk — needs attention",
}


def panel_theme() -> str:
    """ "dark" when the desktop palette is dark (a light glyph is needed), else "light"."""
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return "dark" if window.lightness() < 128 else "light"


def tray_icon(state: TrayState, theme: str | None = None) -> QIcon:
    """The SVG icon of a state for the panel's theme (crisp at any device pixel ratio)."""
    return QIcon(str(resource_path("icons", f"tray-{state.value}-{theme or panel_theme()}.svg")))


def menu_text(label: str, hotkey: str) -> str:
    """A menu entry with its hotkey right-aligned (Qt draws text after a tab as a shortcut)."""
    return f"{label}\t{hotkey}" if hotkey else label


class Tray(QObject):
    """The system tray icon with the menu: capture, chats, history, settings, status, quit."""

    capture_region = Signal()
    capture_full = Signal()
    new_chat = Signal()
    open_conversation = Signal(str)
    show_history = Signal()
    show_settings = Signal()
    pause_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = TrayState.IDLE
        self._icon = QSystemTrayIcon(tray_icon(TrayState.IDLE), self)
        self._icon.setToolTip(STATE_TOOLTIPS[TrayState.IDLE])
        self._icon.activated.connect(self._activated)
        self.menu = QMenu()
        self._labels = {"capture_region": "Capture region", "capture_full": "Capture full screen"}
        self._recent: list[tuple[str, str]] = []
        self._reopen_label = ""
        self.actions: dict[str, QAction] = {}
        self._build_menu()
        self._icon.setContextMenu(self.menu)

    @staticmethod
    def available() -> bool:
        """Whether the desktop has a system tray to put the icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def state(self) -> TrayState:
        return self._state

    def show(self) -> None:
        self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    def is_visible(self) -> bool:
        return self._icon.isVisible()

    def set_state(self, state: TrayState, detail: str = "") -> None:
        """Switch the icon; `detail` (e.g. the sync problem) goes in the tooltip."""
        self._state = state
        self._icon.setIcon(tray_icon(state))
        tip = STATE_TOOLTIPS[state]
        self._icon.setToolTip(f"{tip}\n{detail}" if detail else tip)

    def set_hotkey_labels(self, labels: dict[str, str]) -> None:
        """Show each action's hotkey next to it ("" = no hotkey); reopen-last goes on the newest
        recent conversation, which is what it opens."""
        for action, text in self._labels.items():
            self.actions[action].setText(menu_text(text, labels.get(action, "")))
        self._reopen_label = labels.get("reopen_last", "")
        self.set_recent(self._recent)

    def set_recent(self, conversations: Sequence[tuple[str, str]]) -> None:
        """The Recent conversations submenu: (id, title) pairs, newest first."""
        self._recent = list(conversations)[:RECENT_COUNT]
        submenu = self.actions["recent"].menu()
        submenu.clear()
        for index, (conversation_id, title) in enumerate(self._recent):
            text = title or "Untitled"
            if len(text) > RECENT_TITLE_CHARS:
                text = text[: RECENT_TITLE_CHARS - 1] + "…"
            hotkey = self._reopen_label if index == 0 else ""
            action = submenu.addAction(menu_text(text.replace("&", "&&"), hotkey))
            action.triggered.connect(
                lambda _=False, cid=conversation_id: self.open_conversation.emit(cid)
            )
        self.actions["recent"].setEnabled(bool(conversations))

    def set_sync_status(self, text: str) -> None:
        self.actions["sync_status"].setText(text)

    def set_paused(self, paused: bool) -> None:
        self.actions["pause"].setChecked(paused)

    def notify(self, title: str, message: str, problem: bool = False) -> None:
        """A desktop notification from the tray icon."""
        kind = (
            QSystemTrayIcon.MessageIcon.Warning
            if problem
            else QSystemTrayIcon.MessageIcon.Information
        )
        self._icon.showMessage(title, message, kind, 8000)

    def _build_menu(self) -> None:
        add = self._add
        add("capture_region", self._labels["capture_region"], self.capture_region)
        add("capture_full", self._labels["capture_full"], self.capture_full)
        add("new_chat", "New chat without picture", self.new_chat)
        recent = QMenu("Recent conversations", self.menu)
        self.actions["recent"] = self.menu.addMenu(recent)
        self.actions["recent"].setEnabled(False)
        add("history", "History…", self.show_history)
        add("settings", "Settings…", self.show_settings)
        self.menu.addSeparator()
        status = self.menu.addAction("Sync: not set up")
        status.setEnabled(False)
        self.actions["sync_status"] = status
        pause = self.menu.addAction("Pause hotkeys")
        pause.setCheckable(True)
        pause.toggled.connect(self.pause_toggled)
        self.actions["pause"] = pause
        self.menu.addSeparator()
        add("quit", "Quit SnapAsk", self.quit_requested)

    def _add(self, key: str, text: str, signal: Signal) -> None:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _=False: signal.emit())
        self.actions[key] = action

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click captures: the quickest way in; the menu stays on right click.
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.capture_region.emit()
