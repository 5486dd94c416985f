"""End to end: the real tray app under a real X server, signed in to the real sync server with
the real CLI; another device (a store in this process) changes a conversation and the app's
open chat window shows it, `snapask sync now` reaches the app, and it quits cleanly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import SyncEngine
from tests.capture.support.xserver import Xvfb
from tests.support import waits
from tests.support.cli import FILE_KEYRING
from tests.support.desktop_app import App, desktop, wait_until
from tests.support.fake_gemini import FakeGemini
from tests.support.x11_driver import XDriver

USER, PASSWORD = "ada", "correct horse battery"


@pytest.fixture
def screen() -> Iterator[Xvfb]:
    with desktop() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as srv:
        srv.add_user(USER, PASSWORD)
        yield srv


def sign_in_with_the_cli(server_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "snapask_desktop", "sync", "signin", server_url, "--user", USER],
        input=PASSWORD + "\n",
        env={**os.environ, "PYTHON_KEYRING_BACKEND": FILE_KEYRING},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_change_on_another_device_shows_in_the_apps_open_window(
    screen: Xvfb, server: RunningServer, isolated_env: Path, tmp_path: Path
) -> None:
    assert sign_in_with_the_cli(server.url).startswith(f"Signed in to {server.url} as {USER}")
    driver = XDriver(screen.name)
    with FakeGemini() as gemini, Store.open(tmp_path / "phone") as phone:
        token = server.sign_in(USER, PASSWORD, phone.device_id, "phone")
        conversation, _ = phone.start_conversation("Parking sign", "Can I park here on Sunday?")
        asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).sync_once())
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray", timeout=waits.DEADLINE_S)
            with Store.open(isolated_env / "data") as here:  # the app syncs 2 s after start
                wait_until(
                    lambda: here.list_conversations(limit=5),
                    what="the phone's conversation here",
                    timeout=waits.DEADLINE_S,
                )
            driver.drain()
            assert app.cli("open", conversation.id).returncode == 0
            chat = driver.wait_mapped("SnapAsk —", timeout=waits.DEADLINE_S)
            window = driver.conn.create_resource_object("window", chat.window_id)
            wait_until(
                lambda: driver.window_name(window) == "SnapAsk — Parking sign",
                what="the conversation open",
                timeout=waits.DEADLINE_S,
            )

            phone.update_conversation(conversation.id, title="Parking on Sundays")
            asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).sync_once())
            wait_until(
                lambda: driver.window_name(window) == "SnapAsk — Parking on Sundays",
                what="the new title in the open window",
                timeout=waits.DEADLINE_S,
            )
            now = app.cli("sync", "now")
            assert now.returncode == 0 and "Asked the running SnapAsk" in now.stdout
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()
    assert "Traceback" not in app.output(), app.output()
