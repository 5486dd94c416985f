"""Devices for the sync UI tests: each a real store in its own folder, the real chat window
services and a SyncBridge with its own token (two devices in one process must not share the
keyring account, which is named after the server), against the real server."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from snapask_desktop.config import Settings
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.services import Services
from snapask_desktop.store.repository import Store
from snapask_desktop.ui.chat.window import ChatUI
from snapask_desktop.ui.sync.bridge import SyncBridge
from snapask_desktop.ui.window_state import WindowStateStore
from tests.support import waits

USER, PASSWORD = "ada", "correct horse battery"
POLL_S = 0.05  # how often an idle client looks at its outbox (the app's default is 0.25 s)


@dataclass
class Device:
    """One SnapAsk installation: services (store + chat), the chat UI and its sync bridge."""

    name: str
    services: Services
    chat: ChatUI
    server_url: str
    token: str
    bridges: list[SyncBridge] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.services.lazy_store.get()

    @property
    def bridge(self) -> SyncBridge:
        return self.bridges[-1]

    def connect(self, server_url: str | None = None) -> SyncBridge:
        """Start a new bridge (the old one, if any, stopped) and let the chat UI follow it."""
        if self.bridges:
            self.bridge.stop()
        token = self.token
        bridge = SyncBridge(
            self.services.lazy_store, server_url or self.server_url, lambda: token, poll_s=POLL_S
        )
        self.bridges.append(bridge)
        self.chat.attach_sync(bridge)
        bridge.start()
        return bridge

    def close(self) -> None:
        for bridge in self.bridges:
            bridge.stop()
        self.chat.shutdown()
        window = self.chat._window
        if window is not None:
            window.hide()
            window.deleteLater()
        self.services.close()


def make_device(
    name: str, root: Path, settings: Settings, server: RunningServer, server_url: str = ""
) -> Device:
    """A device with its own data folder, signed in to `server` (the token kept by the test)."""
    services = Services(settings, data_dir=root / name)
    store = services.lazy_store.get()
    token = server.sign_in(USER, PASSWORD, store.device_id, device_name=name)
    state = WindowStateStore(root / f"{name}-ui-state.ini")
    chat = ChatUI(services, state=state)
    return Device(name, services, chat, server_url or server.url, token)


def wait_for(condition: Callable[[], bool], what: str, timeout_ms: int = waits.DEADLINE_MS) -> None:
    """Process Qt events until `condition()` holds (AssertionError naming `what` if not)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def titles(store: Store) -> dict[str, str]:
    """Visible conversations by id -> title."""
    return {row.id: row.title for row in store.list_conversations(limit=100)}
