"""The tray icon and its menu: the app's home. Emits signals; `app.py` connects them."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from snapask_desktop.markdown_plain import plain_text
from snapask_desktop.resources import resource_path
from snapask_desktop.sync.clock import wall_clock_ms
from snapask_desktop.sync.device.status import SyncState, SyncStatus, summary

RECENT_COUNT = 5
RECENT_TITLE_CHARS = 48
ANSWER_SNIPPET_CHARS = 140


class TrayState(enum.Enum):
    """What the icon shows."""

    IDLE = "idle"
    ANSWERING = "answering"
    SYNCING = "syncing"
    OFFLINE = "offline"
    WAITING = "waiting"  # questions wait for the AI provider; the network itself may be fine
    PROBLEM = "problem"


STATE_TOOLTIPS = {
    TrayState.IDLE: "SnapAsk",
    TrayState.ANSWERING: "SnapAsk — answering…",
    TrayState.SYNCING: "SnapAsk — syncing…",
    TrayState.OFFLINE: "SnapAsk — offline",
    TrayState.WAITING: "SnapAsk — waiting for the AI provider",
    TrayState.PROBLEM: "SnapAsk — needs attention",
}


NO_KEY_NOTICE = "No API key is set: add one in Settings → API key."


def answer_message(title: str, text: str) -> tuple[str, str]:
    """The notification for an answer that finished while the chat was hidden: its
    conversation's title, and the answer's start as plain words (no Markdown marks)."""
    words = " ".join(plain_text(text).split())
    if len(words) > ANSWER_SNIPPET_CHARS:
        words = words[: ANSWER_SNIPPET_CHARS - 1].rstrip() + "…"
    return f"Answer ready: {title}", words or "The answer is ready."


def tooltip(state: TrayState, detail: str = "", notice: str = "") -> str:
    """The icon's tooltip: the state's headline, its detail, then a standing notice (e.g. that
    no API key is set, which holds whatever the state)."""
    return "\n".join(line for line in (STATE_TOOLTIPS[state], detail, notice) if line)


def combined_state(
    *,
    answering: bool,
    waiting: int = 0,
    problem: str = "",
    sync: SyncStatus | None = None,
) -> tuple[TrayState, str]:
    """The one state the icon shows, and the tooltip's detail.

    A streaming answer wins (it is what the user waits for), then questions waiting for the AI
    provider ("offline" only when sync cannot reach its server either: the provider alone
    being down is not being offline), then the app's own problems (hotkeys), then sync: needs
    the user, offline, busy."""
    state = sync.state if sync is not None else SyncState.OFF
    if answering:
        return TrayState.ANSWERING, ""
    if waiting:
        questions = "1 question" if waiting == 1 else f"{waiting} questions"
        detail = f"{questions} waiting to send"
        return (TrayState.OFFLINE if state is SyncState.OFFLINE else TrayState.WAITING), detail
    if problem:
        return TrayState.PROBLEM, problem
    if state is SyncState.PROBLEM:
        return TrayState.PROBLEM, f"Sync: {sync.message}" if sync else ""
    if state is SyncState.OFFLINE:
        return TrayState.OFFLINE, "Sync: offline"
    if state in (SyncState.SYNCING, SyncState.CONNECTING):
        return TrayState.SYNCING, ""
    return TrayState.IDLE, ""


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
    sync_now = Signal()
    pause_toggled = Signal(bool)
    retry_hotkeys = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = TrayState.IDLE
        self._detail = ""
        self._notice = ""
        self._icon = QSystemTrayIcon(tray_icon(TrayState.IDLE), self)
        self._icon.setToolTip(tooltip(TrayState.IDLE))
        self._icon.activated.connect(self._activated)
        self._icon.messageClicked.connect(self._message_clicked)
        self._message_opens: str | None = None  # the conversation a click on the message opens
        self.last_message: tuple[str, str] | None = None  # (title, text) last shown
        self.menu = QMenu()
        self._labels = {"capture_region": "Capture region", "capture_full": "Capture full screen"}
        self._recent: list[tuple[str, str]] = []
        self._newest = ""  # the conversation the reopen hotkey opens
        self._reopen_label = ""
        self._sync: SyncStatus | None = None
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

    @property
    def detail(self) -> str:
        """The tooltip's detail line of the current state."""
        return self._detail

    def show(self) -> None:
        self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    def is_visible(self) -> bool:
        return self._icon.isVisible()

    def set_state(self, state: TrayState, detail: str = "") -> None:
        """Switch the icon; `detail` (e.g. the sync problem) goes in the tooltip."""
        self._state = state
        self._detail = detail
        self._icon.setIcon(tray_icon(state))
        self._icon.setToolTip(tooltip(state, detail, self._notice))

    def set_notice(self, notice: str) -> None:
        """A standing line under the tooltip's state ("" = none), e.g. `NO_KEY_NOTICE`."""
        self._notice = notice
        self._icon.setToolTip(tooltip(self._state, self._detail, notice))

    def tooltip(self) -> str:
        """The icon's tooltip as shown."""
        return self._icon.toolTip()

    def set_hotkey_labels(self, labels: dict[str, str]) -> None:
        """Show each action's hotkey next to it ("" = no hotkey); reopen-last goes on the newest
        recent conversation, which is what it opens."""
        for action, text in self._labels.items():
            self.actions[action].setText(menu_text(text, labels.get(action, "")))
        self._reopen_label = labels.get("reopen_last", "")
        self.set_recent(self._recent)

    def set_recent(
        self, conversations: Sequence[tuple[str, str]], newest: str | None = None
    ) -> None:
        """The Recent conversations submenu: (id, title) pairs, pinned ones first, then newest
        first; the reopen hotkey is shown on `newest` (default: the first), which it opens."""
        self._recent = list(conversations)[:RECENT_COUNT]
        if newest is not None:
            self._newest = newest
        elif self._recent and self._newest not in {cid for cid, _title in self._recent}:
            self._newest = self._recent[0][0]
        submenu = self.actions["recent"].menu()
        submenu.clear()
        for conversation_id, title in self._recent:
            text = title or "Untitled"
            if len(text) > RECENT_TITLE_CHARS:
                text = text[: RECENT_TITLE_CHARS - 1] + "…"
            hotkey = self._reopen_label if conversation_id == self._newest else ""
            action = submenu.addAction(menu_text(text.replace("&", "&&"), hotkey))
            action.triggered.connect(
                lambda _=False, cid=conversation_id: self.open_conversation.emit(cid)
            )
        self.actions["recent"].setEnabled(bool(conversations))

    def show_sync(self, status: SyncStatus | None) -> None:
        """The menu's sync line (its "3 s ago" is brought up to date when the menu opens) and
        the Sync now entry (shown while sync is set up; None: not set up)."""
        self._sync = status
        self._update_sync_line()
        now = self.actions["sync_now"]
        now.setVisible(status is not None)
        now.setEnabled(status is not None and status.state is not SyncState.OFF)

    def _update_sync_line(self) -> None:
        status = self._sync
        text = "Sync: not set up" if status is None else summary(status, wall_clock_ms())
        self.actions["sync_status"].setText(text.replace("&", "&&"))

    def set_paused(self, paused: bool) -> None:
        self.actions["pause"].setChecked(paused)

    def set_hotkey_problem(self, reason: str) -> None:
        """Say in the menu that the hotkeys do not work ("" = they do), with a way to retry:
        a tooltip alone is easy to miss, and pausing makes no sense while they are off."""
        retry = self.actions["hotkeys_retry"]
        retry.setVisible(bool(reason))
        retry.setToolTip(reason)
        self.actions["pause"].setVisible(not reason)

    def notify(self, title: str, message: str, problem: bool = False) -> None:
        """A desktop notification from the tray icon."""
        kind = (
            QSystemTrayIcon.MessageIcon.Warning
            if problem
            else QSystemTrayIcon.MessageIcon.Information
        )
        self._show_message(title, message, kind, None)

    def notify_answer(self, conversation_id: str, title: str, text: str) -> None:
        """Tell that an answer finished while the chat was hidden; a click opens it."""
        heading, words = answer_message(title, text)
        self._show_message(heading, words, QSystemTrayIcon.MessageIcon.Information, conversation_id)

    def _show_message(
        self, title: str, message: str, kind: QSystemTrayIcon.MessageIcon, opens: str | None
    ) -> None:
        self._message_opens = opens
        self.last_message = (title, message)
        self._icon.showMessage(title, message, kind, 8000)

    def _message_clicked(self) -> None:
        if self._message_opens is not None:
            self.open_conversation.emit(self._message_opens)

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
        add("sync_now", "Sync now", self.sync_now)
        self.actions["sync_now"].setVisible(False)
        self.menu.aboutToShow.connect(self._update_sync_line)
        add("hotkeys_retry", "Hotkeys are off — turn them on again", self.retry_hotkeys)
        self.actions["hotkeys_retry"].setVisible(False)
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
