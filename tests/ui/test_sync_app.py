"""Sync in the running tray app (the real Desktop, offscreen) against the real server: the
tray follows the connection, "snapask sync now" reaches it, restored conversations are told,
and an app without sync set up never loads the sync client."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from snapask_desktop.app import Desktop
from snapask_desktop.config import Settings
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.services import Services
from snapask_desktop.single_instance import Request
from snapask_desktop.store.repository import Store
from snapask_desktop.sync.device import account
from snapask_desktop.sync.device.client import SyncEngine
from snapask_desktop.sync.device.status import SyncState
from snapask_desktop.ui.shell.tray import TrayState
from tests.ui.fresh_app import run_fresh_app
from tests.ui.sync_support import PASSWORD, USER, titles, wait_for

Told = list[tuple[str, str]]
PASSPHRASE = "a long sync passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as srv:
        srv.add_user(USER, PASSWORD)
        yield srv


def build(qapp: QApplication, settings: Settings) -> tuple[Desktop, Told]:
    desktop = Desktop(qapp, Services(settings), [])
    told: Told = []
    desktop._tell = lambda title, message, problem=False: told.append((title, message))  # type: ignore[method-assign]
    return desktop, told


@pytest.fixture
def synced(
    qapp: QApplication, settings: Settings, server: RunningServer
) -> Iterator[tuple[Desktop, Told]]:
    """The app of a device signed in to `server` (token in the keyring), sync started."""
    settings = dataclasses.replace(settings, sync_server_url=server.url, sync_user=USER)
    desktop, told = build(qapp, settings)
    store = desktop.services.lazy_store.get()
    account.sign_in(server.url, USER, PASSWORD, device_id=store.device_id, device_name="app")
    desktop._show_sync_status()
    desktop.sync.start()  # the app does this 2 s after the tray is up
    try:
        yield desktop, told
    finally:
        desktop.shutdown()
        desktop.deleteLater()
        for widget in QApplication.topLevelWidgets():
            widget.hide()


def sync_state(desktop: Desktop) -> SyncState:
    return desktop.sync.status.state


def test_the_tray_goes_offline_when_the_server_stops_and_back_when_it_returns(
    synced: tuple[Desktop, Told], server: RunningServer, qtbot: QtBot
) -> None:
    desktop, _told = synced
    tray = desktop.tray
    wait_for(lambda: sync_state(desktop) is SyncState.UP_TO_DATE, "the first sync")
    assert tray.state is TrayState.IDLE
    assert tray.actions["sync_status"].text().startswith("Sync: up to date, last synced ")
    assert tray.actions["sync_now"].isVisible() and tray.actions["sync_now"].isEnabled()

    server.stop()
    wait_for(lambda: tray.state is TrayState.OFFLINE, "the offline icon")
    assert tray.detail == "Sync: offline"
    assert tray.actions["sync_status"].text().startswith("Sync: offline, last synced ")

    server.start()
    desktop.handle(Request("sync"))  # `snapask sync now`: no waiting for the backoff
    wait_for(lambda: sync_state(desktop) is SyncState.UP_TO_DATE, "syncing again")
    assert tray.state is TrayState.IDLE and tray.detail == ""


def test_a_conversation_deleted_here_that_got_messages_elsewhere_is_kept_and_told(
    synced: tuple[Desktop, Told], server: RunningServer, tmp_path: Path, qtbot: QtBot
) -> None:
    desktop, told = synced
    here = desktop.services.lazy_store.get()
    with Store.open(tmp_path / "phone") as phone:
        token = server.sign_in(USER, PASSWORD, phone.device_id)
        engine = SyncEngine(phone, server.ws_url, lambda: token)
        conversation, _ = phone.start_conversation("Parking sign", "Can I park here?")
        asyncio.run(engine.sync_once())
        wait_for(lambda: conversation.id in titles(here), "the conversation on this device")
        wait_for(
            lambda: any("Parking sign" in title for _, title in desktop.tray._recent), "recent"
        )

        here.delete_conversation(conversation.id)
        wait_for(lambda: here.outbox_count() == 0, "the delete sent")
        phone.add_message(conversation.id, "user", "And on Sundays?")  # not seen the delete
        asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).sync_once())

    wait_for(lambda: conversation.id in titles(here), "the conversation kept here")
    wait_for(lambda: any(title == "Sync" for title, _ in told), "the user told")
    assert ("Sync", "A conversation you deleted got new messages on another device, so it "
            "was kept. Delete it again if you no longer want it.") in told  # fmt: skip


def test_encryption_turned_on_elsewhere_locks_this_device_and_says_where_to_unlock(
    synced: tuple[Desktop, Told], server: RunningServer, tmp_path: Path
) -> None:
    desktop, told = synced
    wait_for(lambda: sync_state(desktop) is SyncState.UP_TO_DATE, "the first sync")
    with Store.open(tmp_path / "phone") as phone:
        token = server.sign_in(USER, PASSWORD, phone.device_id)
        asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).encrypt(PASSPHRASE))
    wait_for(lambda: desktop.sync.status.locked, "this device locked")
    assert desktop.tray.state is TrayState.PROBLEM
    wait_for(lambda: any(title == "Sync stopped" for title, _ in told), "the user told")
    (said,) = [message for title, message in told if title == "Sync stopped"]
    assert "Enter the sync passphrase" in said and said.endswith("(Settings → Sync → Unlock…)")


def test_sync_now_without_sync_set_up_says_how_to_set_it_up(
    qapp: QApplication, settings: Settings
) -> None:
    desktop, told = build(qapp, settings)
    try:
        desktop.handle(Request("sync"))
        assert told == [("Sync", "Sync is not set up: sign in under Settings → Sync.")]
        assert desktop.tray.actions["sync_status"].text() == "Sync: not set up"
        assert not desktop.tray.actions["sync_now"].isVisible()
    finally:
        desktop.shutdown()
        desktop.deleteLater()


def test_an_app_without_sync_never_loads_the_sync_client() -> None:
    # A fresh interpreter: the start-up path of the tray app, then a look at what it imported.
    then = (
        "desktop._show_sync_status()\n"
        "desktop.sync.start()\n"
        "loaded = [m for m in ('websockets', 'httpx', 'snapask_desktop.sync.device.client',\n"
        "          'snapask_desktop.ui.sync.bridge') if m in sys.modules]\n"
        "desktop.shutdown()\n"
        "print(loaded)\n"
    )
    assert run_fresh_app(then) == "[]"
