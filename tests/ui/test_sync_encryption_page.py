"""Settings → Sync → Encryption against the real server, the test keyring and a real store:
turning end-to-end encryption on with the passphrase dialog, unlocking a device that lacks
the keys (a wrong passphrase said in place, the right one syncing again), and changing the
passphrase or rotating the keys once it is on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store.repository import Store
from snapask_desktop.sync.device import account
from snapask_desktop.sync.device.keystore import KeyStore, keys_account
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.ui.settings.dialog import DEFAULT_PAGES, SettingsDialog
from snapask_desktop.ui.settings.page import PageContext
from snapask_desktop.ui.sync.manager import SyncManager, passphrase_error
from snapask_desktop.ui.sync.page import SyncPage, encryption_line, key_actions_shown
from snapask_desktop.ui.sync.passphrase import Mode, PassphraseDialog
from tests.support import waits
from tests.ui.sync_support import PASSWORD, POLL_S, USER

SECRET_TITLE = "zebra-quartz-31 payroll"
PASSPHRASE = "a long sync passphrase"


@pytest.mark.parametrize(
    ("status", "fragment", "button"),
    [
        (SyncStatus(SyncState.UP_TO_DATE, "Up to date"), "Off:", "Turn on…"),
        (SyncStatus(SyncState.SYNCING, "Sending"), "Off:", "Turn on…"),
        (SyncStatus(SyncState.OFFLINE, "Offline"), "once connected", None),
        (SyncStatus(SyncState.UP_TO_DATE, "Up to date", encrypted=True), "On:", None),
        (SyncStatus(SyncState.PROBLEM, "Locked", encrypted=True, locked=True), "Locked", "Unlock…"),
    ],
)
def test_the_encryption_row_says_where_the_account_stands(
    status: SyncStatus, fragment: str, button: str | None
) -> None:
    text, action = encryption_line(status)
    assert fragment in text and action == button
    # Changing the passphrase and rotating the keys: only with encryption on and unlocked.
    assert key_actions_shown(status) == (fragment == "On:")


def test_failures_read_as_sentences() -> None:
    assert passphrase_error(TimeoutError()).startswith("The sync server did not answer in time")
    assert passphrase_error(ConnectionError("refused")).startswith("Not connected")
    assert passphrase_error(ValueError("wrong passphrase, or the keys were altered")) == (
        "Wrong passphrase, or the keys were altered."
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as srv:
        srv.add_user(USER, PASSWORD)
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data")
    yield opened
    opened.close()


def _open_page(qtbot: QtBot, manager: SyncManager, data: Path) -> tuple[SettingsDialog, SyncPage]:
    def sync_page(context: PageContext) -> SyncPage:
        return SyncPage(context, manager)

    dialog = SettingsDialog(
        manager.settings,
        SettingsStore(),
        data_dir=data,
        platform="linux",
        pages=(*DEFAULT_PAGES, sync_page),
    )
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.show_page("sync")
    page = dialog.page("sync")
    assert isinstance(page, SyncPage)
    return dialog, page  # the caller keeps the dialog: the page lives as long as it does


def _sign_in(qtbot: QtBot, manager: SyncManager, page: SyncPage, server: RunningServer) -> None:
    """Sign in through the page's own fields and button; return once up to date."""
    page.server.setText(server.url)
    page.user.setText(USER)
    page.password.setText(PASSWORD)
    with waits.signal(qtbot, manager.sign_in_finished):
        page.sign_in_button.click()
    waits.until(qtbot, lambda: manager.status.state is SyncState.UP_TO_DATE)


def _passphrase(page: SyncPage, qtbot: QtBot, text: str) -> tuple[bool, str]:
    dialog = page._passphrase_dialog
    assert isinstance(dialog, PassphraseDialog)
    dialog.first.setText(text)
    if dialog.mode is Mode.CHOOSE:
        dialog.second.setText(text)
    with waits.signal(qtbot, page.manager.passphrase_finished) as finished:
        dialog.ok.click()
    ok, error = finished.args
    return ok, error


def _server_bytes(server: RunningServer) -> bytes:
    return b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())


def test_turn_encryption_on_then_unlock_a_device_that_lost_its_keys(
    qtbot: QtBot, server: RunningServer, store: Store, tmp_path: Path
) -> None:
    store.create_conversation(SECRET_TITLE)
    manager = SyncManager(Settings(), store, settings_store=SettingsStore(), poll_s=POLL_S)
    try:
        settings, page = _open_page(qtbot, manager, tmp_path / "data")
        _sign_in(qtbot, manager, page, server)
        assert SECRET_TITLE.encode() in _server_bytes(server)  # synced clear, as before
        assert page.encryption_button.text() == "Turn on…"
        assert page.encryption_line.text().startswith("Off:")

        page.encryption_button.click()
        assert page._passphrase_dialog is not None
        assert page._passphrase_dialog.mode is Mode.CHOOSE
        assert _passphrase(page, qtbot, PASSPHRASE) == (True, "")
        waits.until(qtbot, lambda: page._passphrase_dialog is None)  # closed by the verdict
        waits.until(
            qtbot,
            lambda: (
                manager.status.encrypted
                and manager.status.state is SyncState.UP_TO_DATE
                and manager.status.pending == 0
            ),
        )
        assert page.encryption_line.text().startswith("On:")
        assert not page.encryption_button.isVisibleTo(page)
        assert SECRET_TITLE.encode() not in _server_bytes(server)  # only ciphertext now
        settings.close()
        settings.wait_for_work()
    finally:
        manager.shutdown()

    # The keys are gone from this device's keyring (a reinstall): the next start is locked.
    ws_url = account.websocket_url(account.normal_server_url(server.url))
    assert KeyStore(keys_account(ws_url, store.device_id)).forget()
    saved = SettingsStore().load().settings
    again = SyncManager(saved, store, settings_store=SettingsStore(), poll_s=POLL_S)
    try:
        settings, page = _open_page(qtbot, again, tmp_path / "data")
        again.start()
        waits.until(qtbot, lambda: again.status.locked)
        assert page.encryption_line.text().startswith("Locked")
        assert page.encryption_button.text() == "Unlock…"
        page.encryption_button.click()
        dialog = page._passphrase_dialog
        assert dialog is not None and dialog.mode is Mode.UNLOCK
        ok, error = _passphrase(page, qtbot, "not the passphrase")
        assert not ok and "passphrase" in error.lower()
        assert dialog.isVisible() and error in dialog.error.text()  # said in place, kept open
        assert _passphrase(page, qtbot, PASSPHRASE) == (True, "")
        waits.until(
            qtbot, lambda: again.status.state is SyncState.UP_TO_DATE and not again.status.locked
        )
        assert page.encryption_line.text().startswith("On:")
        assert KeyStore(keys_account(ws_url, store.device_id)).load() is not None
        # Signing out forgets the keys with the token.
        with waits.signal(qtbot, again.sign_out_finished):
            page.sign_out_button.click()
        assert KeyStore(keys_account(ws_url, store.device_id)).load() is None
        assert account.get_token(server.url) is None
        settings.close()
        settings.wait_for_work()
    finally:
        again.shutdown()


def test_change_the_passphrase_and_rotate_the_keys_from_the_encryption_row(
    qtbot: QtBot, server: RunningServer, store: Store, tmp_path: Path
) -> None:
    conversation, _ = store.start_conversation(SECRET_TITLE, "question")
    manager = SyncManager(Settings(), store, settings_store=SettingsStore(), poll_s=POLL_S)
    try:
        settings, page = _open_page(qtbot, manager, tmp_path / "data")
        _sign_in(qtbot, manager, page, server)
        assert not page.change_passphrase_button.isVisibleTo(page)  # encryption is off
        assert not page.rotate_keys_button.isVisibleTo(page)
        page.encryption_button.click()
        assert _passphrase(page, qtbot, PASSPHRASE) == (True, "")
        waits.until(qtbot, lambda: manager.status.encrypted and manager.status.pending == 0)
        waits.until(qtbot, lambda: page.change_passphrase_button.isVisibleTo(page))
        assert page.rotate_keys_button.isVisibleTo(page)
        ws_url = account.websocket_url(account.normal_server_url(server.url))
        keystore = KeyStore(keys_account(ws_url, store.device_id))
        before = keystore.load()
        assert before is not None

        page.change_passphrase_button.click()
        dialog = page._passphrase_dialog
        assert dialog is not None and dialog.mode is Mode.CHANGE
        dialog.first.setText("the new sync passphrase")
        dialog.second.setText("the new sync passphrase")
        with waits.signal(qtbot, manager.passphrase_finished) as finished:
            dialog.ok.click()
        assert finished.args == [True, ""]
        waits.until(qtbot, lambda: page._passphrase_dialog is None)
        changed = keystore.load()
        assert changed is not None and changed.version == before.version + 1
        assert changed.root.params != before.root.params  # a new salt: a new root key
        assert {k.key_id for k in changed.keys} == {k.key_id for k in before.keys}

        # Rotating asks first; Cancel changes nothing.
        page.rotate_keys_button.click()
        box = page._rotate_box
        assert box is not None and "sent again in the background" in box.text()
        box.button(box.StandardButton.Cancel).click()
        kept = keystore.load()
        assert page._rotate_box is None and kept is not None
        assert kept.version == changed.version and len(kept.keys) == 1
        page.rotate_keys_button.click()
        box = page._rotate_box
        assert box is not None
        with waits.signal(qtbot, manager.rotate_finished) as rotated:
            page.rotate_confirm.click()
        ok, text = rotated.args
        assert ok and "2 records are being sent again" in text, text
        assert page.keys_message.text() == text and page.keys_message.isVisibleTo(page)
        held = keystore.load()
        assert held is not None and held.keys.current.generation == 1 and len(held.keys) == 2
        waits.until(
            qtbot,
            lambda: manager.status.state is SyncState.UP_TO_DATE and manager.status.pending == 0,
        )
        assert page.rotate_keys_button.isEnabled()
        assert store.get_conversation(conversation.id).conversation.title == SECRET_TITLE
        settings.close()
        settings.wait_for_work()
    finally:
        manager.shutdown()
