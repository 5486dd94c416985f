"""Offscreen renders of the sync UI for docs/screenshots/ (settings-sync*, sync-passphrase*,
chat-conflict*, chat-picture-missing.png), made with the real widgets, stores and sync server.

Two devices sync through an in-process server with `SyncEngine.sync_once` in a fixed order,
so the conflict shown is a real one. Run: `.venv/bin/python scripts/sync_screenshots.py`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TMP = Path(tempfile.mkdtemp(prefix="snapask-shots-"))
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["SNAPASK_DATA_DIR"] = str(TMP / "data")
os.environ["SNAPASK_CONFIG_DIR"] = str(TMP / "config")
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.memory_keyring.MemoryKeyring"
os.environ["GEMINI_API_KEY"] = "screenshots"  # nothing is asked; no welcome

import keyring  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from snapask_desktop.config import Settings, SettingsStore  # noqa: E402
from snapask_desktop.server.testing import RunningServer, running_server  # noqa: E402
from snapask_desktop.services import Services  # noqa: E402
from snapask_desktop.store.repository import Store  # noqa: E402
from snapask_desktop.sync.device.client import SyncEngine  # noqa: E402
from snapask_desktop.sync.device.status import SyncState  # noqa: E402
from snapask_desktop.ui.chat.window import ChatUI  # noqa: E402
from snapask_desktop.ui.settings.dialog import (  # noqa: E402
    DEFAULT_PAGES,
    SettingsDialog,
)
from snapask_desktop.ui.sync.manager import SyncManager  # noqa: E402
from snapask_desktop.ui.sync.page import SyncPage  # noqa: E402
from snapask_desktop.ui.window_state import WindowStateStore  # noqa: E402
from tests.ai.screens import png_bytes, screenshot  # noqa: E402
from tests.support.memory_keyring import MemoryKeyring  # noqa: E402

OUT = REPO / "docs" / "screenshots"
USER, PASSWORD = "ada", "correct horse battery"


def terminal_error() -> Image.Image:
    """A small dark terminal with a Python traceback, like a captured region."""
    image = Image.new("RGB", (480, 220), (30, 30, 30))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    lines = ("Traceback (most recent call last):", '  File "app.py", line 12', "KeyError: 'user'")
    for number, line in enumerate(lines):
        draw.text((16, 16 + number * 22), line, fill=(240, 110, 100), font=font)
    return image


def dark_palette() -> QPalette:
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#333333",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#2f81f7",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#8b8b8b",
        QPalette.ColorRole.ToolTipBase: "#2b2b2b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Link: "#58a6ff",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    return palette


def settle(seconds: float = 0.3) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def wait(condition: object, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, name: str) -> None:
    settle()
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"wrote docs/screenshots/{name}.png")


def sync_once(store: Store, server: RunningServer, token: str) -> None:
    asyncio.run(SyncEngine(store, server.ws_url, lambda: token).sync_once())


def settings_shots(server: RunningServer) -> None:
    store = Store.open(TMP / "laptop")
    for title in ("Quarterly sales chart", "Error dialog", "Receipt from Lisbon"):
        store.start_conversation(title, f"What does this {title.lower()} say?")
    refused = store.create_conversation("x" * 120)
    op = next(op for op in store.outbox_pending(500) if op.record_id == refused.id)
    store.outbox_reject(op.op_id, "bad_payload", "the title is longer than the server accepts")
    manager = SyncManager(
        Settings(), store, settings_store=SettingsStore(TMP / "config"), poll_s=0.05
    )
    dialog = SettingsDialog(
        manager.settings,
        SettingsStore(TMP / "config"),
        data_dir=Path("/home/ada/.local/share/SnapAsk"),
        platform="linux",
        pages=(*DEFAULT_PAGES, lambda context: SyncPage(context, manager)),
    )
    page = dialog.page("sync")
    assert isinstance(page, SyncPage)
    dialog.show()
    dialog.show_page("sync")
    page.server.setText(server.url)
    page.user.setText(USER)
    page.password.setText("not the password")
    page.device_name.setText("Ada's laptop")
    page.sign_in()
    wait(lambda: page.form_error.isVisible(), "the sign-in error")
    save(dialog, "settings-sync-error")
    page.password.setText(PASSWORD)
    page.sign_in()
    wait(lambda: manager.status.state is SyncState.UP_TO_DATE, "syncing")
    wait(lambda: page.problem_list.count() == 1, "the refused change")
    page.problem_list.setCurrentRow(0)
    settle(1.2)
    save(dialog, "settings-sync")
    QApplication.setPalette(dark_palette())
    dialog.setStyleSheet(dialog.styleSheet())  # the stylesheet follows the new palette
    settle()
    save(dialog, "settings-sync-dark")
    QApplication.setPalette(QApplication.style().standardPalette())
    dialog.hide()
    manager.shutdown()
    store.close()


def encryption_shots(server: RunningServer) -> None:
    """Turning end-to-end encryption on (the passphrase twice, the warning), then the page."""
    server.add_user("grace", PASSWORD)
    store = Store.open(TMP / "desktop")
    store.start_conversation("Payroll spreadsheet", "Which column holds the totals?")
    manager = SyncManager(
        Settings(), store, settings_store=SettingsStore(TMP / "config-e2ee"), poll_s=0.05
    )
    dialog = SettingsDialog(
        manager.settings,
        SettingsStore(TMP / "config-e2ee"),
        data_dir=Path("/home/grace/.local/share/SnapAsk"),
        platform="linux",
        pages=(*DEFAULT_PAGES, lambda context: SyncPage(context, manager)),
    )
    page = dialog.page("sync")
    assert isinstance(page, SyncPage)
    dialog.show()
    dialog.show_page("sync")
    page.server.setText(server.url)
    page.user.setText("grace")
    page.password.setText(PASSWORD)
    page.device_name.setText("Grace's desktop")
    page.sign_in()
    wait(lambda: manager.status.state is SyncState.UP_TO_DATE, "syncing")
    page.encryption_button.click()
    passphrase = page._passphrase_dialog
    assert passphrase is not None
    passphrase.first.setText("hidden harbour lantern 42")
    passphrase.second.setText("hidden harbour lantern 4")
    passphrase.ok.click()  # refused: the two differ
    save(passphrase, "sync-passphrase-choose")
    passphrase.second.setText("hidden harbour lantern 42")
    passphrase.ok.click()
    wait(lambda: page._passphrase_dialog is None, "the keys made and kept", timeout_s=60)
    wait(
        lambda: manager.status.encrypted and manager.status.state is SyncState.UP_TO_DATE,
        "the account encrypted",
        timeout_s=60,
    )
    settle(1.2)
    save(dialog, "settings-sync-encrypted")
    page.change_passphrase_button.click()  # a new passphrase: nothing is encrypted again
    change = page._passphrase_dialog
    assert change is not None
    change.first.setText("quiet meadow compass 17")
    change.second.setText("quiet meadow compass 17")
    settle(0.3)
    save(change, "sync-passphrase-change")
    change.reject()
    dialog.hide()
    manager.shutdown()
    store.close()


def chat_shots(server: RunningServer) -> None:
    a = Store.open(TMP / "device-a")
    b = Store.open(TMP / "device-b")
    token_a = server.sign_in(USER, PASSWORD, a.device_id, "Ada's laptop")
    token_b = server.sign_in(USER, PASSWORD, b.device_id, "Ada's desktop")
    picture = a.add_screenshot(png_bytes(terminal_error()))
    conversation, _ = a.start_conversation(
        "Error dialog", "What does this error mean?", screenshot_sha256=picture.sha256
    )
    cid = conversation.id
    a.add_message(
        cid,
        "model",
        "Python could not find the key **`'user'`** in a dictionary: the request had no "
        "user in its session. Check that the login view stores it before `app.py` line 12 "
        "reads it.",
        model="gemini-2.5-flash",
    )
    sync_once(a, server, token_a)
    sync_once(b, server, token_b)
    b.put_blob(picture.sha256, a.screenshot_bytes(picture.sha256))
    a.update_conversation(cid, title="KeyError in app.py")
    b.update_conversation(cid, title="Login session bug")  # later: this one wins
    sync_once(a, server, token_a)
    sync_once(b, server, token_b)
    sync_once(a, server, token_a)
    chart = a.add_screenshot(png_bytes(screenshot(960, 540)))
    other, _ = a.start_conversation(
        "Dashboard", "Summarize this dashboard", screenshot_sha256=chart.sha256
    )
    sync_once(a, server, token_a)
    a.close()
    b.close()

    services = Services(Settings(), data_dir=TMP / "device-a")
    chat = ChatUI(services, state=WindowStateStore(TMP / "ui-state.ini"))
    window = chat.window
    chat.open_conversation(cid)
    wait(lambda: window.banner.isVisible(), "the conflict banner")
    save(window, "chat-conflict")
    QApplication.setPalette(dark_palette())
    settle()
    save(window, "chat-conflict-dark")
    QApplication.setPalette(QApplication.style().standardPalette())
    settle()
    chat.shutdown()
    window.hide()
    services.close()

    services = Services(Settings(), data_dir=TMP / "device-b")
    sync_once(services.lazy_store.get(), server, token_b)  # the chart, without its picture
    chat = ChatUI(services, state=WindowStateStore(TMP / "ui-state-b.ini"))
    window = chat.window
    chat.open_conversation(other.id)
    wait(lambda: chat.controller.picture_state == "missing", "the placeholder")
    save(window, "chat-picture-missing")
    chat.shutdown()
    window.hide()
    services.close()


def main() -> None:
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    app.setApplicationName("SnapAsk")
    with running_server(TMP / "server") as server:
        server.add_user(USER, PASSWORD)
        settings_shots(server)
        encryption_shots(server)
        chat_shots(server)
    app.quit()


if __name__ == "__main__":
    main()
