"""Settings → Sync against the real sync server, the real settings file, the test keyring and
a real store: signing in (and its errors), the status that follows, signing out, switching
servers, refused changes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store.repository import Store
from snapask_desktop.sync.device import account
from snapask_desktop.sync.device.client import SyncEngine
from snapask_desktop.sync.device.status import SyncState
from snapask_desktop.ui.settings.dialog import DEFAULT_PAGES, SettingsDialog
from snapask_desktop.ui.settings.page import PageContext
from snapask_desktop.ui.sync.manager import SyncManager
from snapask_desktop.ui.sync.page import SyncPage, pending_line, status_line
from tests.support import waits
from tests.ui.sync_support import PASSWORD, POLL_S, USER, titles


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


@pytest.fixture
def manager(store: Store) -> Iterator[SyncManager]:
    built = SyncManager(Settings(), store, settings_store=SettingsStore(), poll_s=POLL_S)
    yield built
    built.shutdown()  # before the store closes


@pytest.fixture
def dialog(qtbot: QtBot, manager: SyncManager, tmp_path: Path) -> Iterator[SettingsDialog]:
    def sync_page(context: PageContext) -> SyncPage:
        return SyncPage(context, manager)

    built = SettingsDialog(
        manager.settings,
        SettingsStore(),
        data_dir=tmp_path / "data",
        platform="linux",
        pages=(*DEFAULT_PAGES, sync_page),
    )
    qtbot.addWidget(built)
    built.show()
    built.show_page("sync")
    yield built
    built.wait_for_work()


def page_of(dialog: SettingsDialog) -> SyncPage:
    page = dialog.page("sync")
    assert isinstance(page, SyncPage)
    return page


def fill(page: SyncPage, server: str, password: str, device: str = "") -> None:
    page.server.setText(server)
    page.user.setText(USER)
    page.password.setText(password)
    page.device_name.setText(device)


def sign_in(page: SyncPage, qtbot: QtBot) -> tuple[bool, str]:
    with waits.signal(qtbot, page.manager.sign_in_finished) as finished:
        page.sign_in_button.click()
    ok, error = finished.args
    return ok, error


def up_to_date(manager: SyncManager) -> bool:
    return manager.status.state is SyncState.UP_TO_DATE and manager.status.pending == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sign_in_errors_are_shown_under_the_form_and_nothing_is_saved(
    dialog: SettingsDialog, server: RunningServer, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    fill(page, server.url, "wrong password")
    page.sign_in_button.click()
    assert page.busy.isVisible() and page.sign_in_button.text() == "Signing in…"
    assert not page.sign_in_button.isEnabled()  # no second sign-in while one runs
    waits.until(qtbot, lambda: page.form_error.isVisible())
    assert page.form_error.text() == "Wrong user name or password."
    assert not page.busy.isVisible() and page.sign_in_button.isEnabled()
    assert page.password.text() == "wrong password"  # kept to be corrected, selected
    assert page.password.selectedText() == "wrong password"

    fill(page, "192.168.1.5:8765", PASSWORD)  # no scheme: not a server address
    assert sign_in(page, qtbot) == (False, page.form_error.text())
    assert "is not a server address like http://" in page.form_error.text()

    fill(page, f"http://127.0.0.1:{free_port()}", PASSWORD)  # nobody listens there
    ok, error = sign_in(page, qtbot)
    assert not ok and error.startswith("Could not reach the sync server at http://127.0.0.1:")

    saved = SettingsStore().load().settings
    assert (saved.sync_server_url, saved.sync_user) == (None, None)
    assert account.get_token(server.url) is None
    assert not page.manager.active and page.manager.status.state is SyncState.OFF


def test_signing_in_saves_the_settings_starts_syncing_and_the_page_follows(
    dialog: SettingsDialog, server: RunningServer, store: Store, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    manager = page.manager
    store.create_conversation("Made before signing in")
    page.refresh()
    waits.until(qtbot, lambda: page._overview is not None and page._overview.pending == 1)
    # sync was never set up: a count of changes "to send" would only worry
    assert not page.pending.isVisibleTo(page)
    fill(page, server.url + "/", PASSWORD, device="Work laptop")
    assert sign_in(page, qtbot) == (True, "")

    saved = SettingsStore().load().settings
    assert saved.sync_server_url == server.url  # normalised: no trailing slash
    assert (saved.sync_user, saved.device_name) == (USER, "Work laptop")
    assert dialog.settings.sync_server_url == server.url  # the dialog took them as saved
    assert account.get_token(server.url)  # in the keyring, nowhere else
    assert "correct horse" not in (SettingsStore().path.read_text())
    assert page.password.text() == ""
    assert manager.active

    waits.until(qtbot, lambda: up_to_date(manager))
    waits.until(qtbot, lambda: page.state_line.text() == "Up to date")
    assert page.pending.isVisibleTo(page) and page.pending.text() == "Nothing to send"
    shown = [label.text() for label in page.findChildren(QLabel)]
    assert not [text for text in shown if store.device_id in text]  # no internal ids
    assert page.last_synced.text() == "just now" or page.last_synced.text().endswith("s ago")
    assert page._tick.isActive()  # "3 s ago" keeps counting while the page is shown
    assert page.server.isReadOnly() and page.device_name.isReadOnly()
    assert not page.password.isVisibleTo(page) and not page.sign_in_button.isVisibleTo(page)
    assert page.sign_out_button.isVisibleTo(page) and page.sync_now_button.isEnabled()
    assert page.account_line.text() == f"Signed in to {server.url} as {USER}."
    assert page.values() == {}  # the dialog's Save changes nothing of the account

    store.create_conversation("Made while signed in")
    waits.until(qtbot, lambda: up_to_date(manager) and store.outbox_count() == 0)
    page.sync_now_button.click()
    waits.until(qtbot, lambda: up_to_date(manager))
    dialog.hide()
    assert not page._tick.isActive()


def test_signing_out_stops_syncing_and_forgets_the_token(
    dialog: SettingsDialog, server: RunningServer, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    fill(page, server.url, PASSWORD)
    assert sign_in(page, qtbot) == (True, "")
    waits.until(qtbot, lambda: up_to_date(page.manager))
    with waits.signal(qtbot, page.manager.sign_out_finished) as finished:
        page.sign_out_button.click()
        assert page.sign_out_button.text() == "Signing out…"
    assert finished.args == [True, ""]
    assert account.get_token(server.url) is None
    assert not page.manager.active and page.manager.bridge is None
    assert page.state_line.text() == "Signed out"
    assert page.sign_in_button.isVisibleTo(page) and page.password.isVisibleTo(page)
    assert not page.server.isReadOnly()
    saved = SettingsStore().load().settings
    assert saved.sync_server_url == server.url and saved.sync_user is None


def test_signing_in_to_another_server_sends_it_everything(
    dialog: SettingsDialog, server: RunningServer, store: Store, tmp_path: Path, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    conversation = store.create_conversation("Kept on every server")
    fill(page, server.url, PASSWORD)
    assert sign_in(page, qtbot) == (True, "")
    waits.until(qtbot, lambda: up_to_date(page.manager))
    assert store.outbox_count() == 0
    with waits.signal(qtbot, page.manager.sign_out_finished):
        page.sign_out_button.click()

    with running_server(tmp_path / "second-server") as second:
        second.add_user(USER, PASSWORD)
        fill(page, second.url, PASSWORD)
        assert sign_in(page, qtbot) == (True, "")
        waits.until(qtbot, lambda: up_to_date(page.manager))
        with Store.open(tmp_path / "new-device") as fresh:
            token = second.sign_in(USER, PASSWORD, fresh.device_id)
            engine = SyncEngine(fresh, second.ws_url, lambda: token)
            asyncio.run(engine.sync_once())
            assert titles(fresh) == {conversation.id: "Kept on every server"}
        page.manager.shutdown()  # before this server goes away


def test_refused_changes_are_listed_and_can_be_dismissed(
    dialog: SettingsDialog, store: Store, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    refused = store.create_conversation("Refused " + "x" * 120)
    gone, message = store.start_conversation("Gone", "a question")
    by_id = {op.record_id: op for op in store.outbox_pending()}
    store.outbox_reject(by_id[refused.id].op_id, "bad_payload", "the title is too long")
    store.outbox_reject(by_id[message.id].op_id, "message_mismatch", "it was changed")
    store.delete_conversation(gone.id)
    page.refresh()
    waits.until(qtbot, lambda: page.problem_list.count() == 2)
    assert page.problems_box.isVisibleTo(page)
    items = [page.problem_list.item(row) for row in range(2)]  # newest first
    assert [item.text() for item in items] == [
        "A message in a deleted conversation: it was changed",
        f"The conversation “Refused {'x' * 39}…”: the title is too long",
    ]
    for item in items:  # named as the user knows them, never by an internal id
        assert refused.id[:8] not in item.toolTip() and message.id[:8] not in item.toolTip()
    assert "bad_payload" in items[1].toolTip()
    assert not page.dismiss_button.isEnabled()
    for _ in range(2):
        page.problem_list.setCurrentRow(0)
        count = page.problem_list.count()
        page.dismiss_button.click()
        waits.until(qtbot, lambda c=count: page.problem_list.count() == c - 1)
    assert not page.problems_box.isVisibleTo(page)
    assert store.sync_problems() == []


def test_the_device_name_is_saved_with_the_dialog_before_signing_in(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    page.device_name.setText("  Kitchen PC ")
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()
    assert SettingsStore().load().settings.device_name == "Kitchen PC"


def test_this_device_is_named_after_the_host_until_renamed(
    dialog: SettingsDialog, server: RunningServer, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    assert page.device_name.text() == account.default_device_name() != ""
    assert dialog.pending_changes() == {}  # the default shown is not a choice to write
    fill(page, server.url, PASSWORD, device=account.default_device_name())
    assert sign_in(page, qtbot) == (True, "")
    assert SettingsStore().load().settings.device_name == account.default_device_name()


def test_enter_in_the_password_signs_in_and_settings_stay_open(
    dialog: SettingsDialog, server: RunningServer, qtbot: QtBot
) -> None:
    page = page_of(dialog)
    fill(page, server.url, PASSWORD)
    page.password.setFocus()
    with waits.signal(qtbot, page.manager.sign_in_finished) as finished:
        qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert finished.args == [True, ""]
    assert dialog.isVisible()  # the success is there to see
    assert page.account_line.isVisibleTo(page)
    assert page.account_line.text() == f"Signed in to {server.url} as {USER}."


def test_status_and_pending_lines() -> None:
    from snapask_desktop.sync.device.status import SyncStatus

    offline = SyncStatus(SyncState.OFFLINE, "Offline: the sync server cannot be reached; retrying.")
    assert status_line(offline.with_(retry_in_ms=7600)) == (
        "Offline: the sync server cannot be reached; retrying in 8 s."
    )
    problem = SyncStatus(SyncState.PROBLEM, "The server needs a newer SnapAsk.", retry_in_ms=2000)
    assert status_line(problem) == "The server needs a newer SnapAsk (next try in 2 s)."
    assert status_line(SyncStatus(SyncState.UP_TO_DATE, "Up to date", retry_in_ms=5)) == (
        "Up to date"
    )
    assert [pending_line(n) for n in (0, 1, 1200)] == [
        "Nothing to send",
        "1 change to send",
        "1,200 changes to send",
    ]
