"""Several real devices (each its own SQLite store) syncing through the real server."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import PassResult, SyncEngine, SyncEvents
from snapask_desktop.sync.device.keystore import KeyStore, keys_account
from snapask_desktop.sync.device.runner import SyncRunner
from snapask_desktop.sync.device.status import SyncStatus
from tests.support.desktop_app import wait_until
from tests.support.postgres import fresh_database

PASSWORD = "correct horse battery staple"


@dataclass
class Device:
    """One device: its store, its token, and ways to sync it once or in the background."""

    name: str
    store: Store
    token: str
    ws_url: str
    notices: list[str] = field(default_factory=list)
    statuses: list[SyncStatus] = field(default_factory=list)
    runner: SyncRunner | None = None

    def events(self) -> SyncEvents:
        return SyncEvents(status=self.statuses.append, notice=self.notices.append)

    def keystore(self) -> KeyStore:
        """Where the device keeps an encrypted account's keys: named by the server's own URL,
        also when a test routes the device through a proxy (another URL)."""
        return KeyStore(keys_account(self.ws_url, self.store.device_id))

    def engine(self, url: str | None = None) -> SyncEngine:
        return SyncEngine(self.store, url or self.ws_url, lambda: self.token, events=self.events(),
                          keystore=self.keystore())  # fmt: skip

    def sync(self, url: str | None = None) -> PassResult:
        """One full pass: push the outbox, pull everything, disconnect."""
        return asyncio.run(self.engine(url).sync_once())

    def start(self, url: str | None = None, poll_s: float = 0.05) -> SyncRunner:
        """Sync live in the background until the test ends."""
        self.runner = SyncRunner(
            self.store,
            url or self.ws_url,
            lambda: self.token,
            self.events(),
            poll_s=poll_s,
            keystore=self.keystore(),
        )
        self.runner.start()
        return self.runner

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None


class Fleet:
    """Makes devices of one user on one server and tears them down."""

    def __init__(self, server: RunningServer, root: Path, user: str = "ada") -> None:
        self.server = server
        self.root = root
        self.user = user
        self.devices: list[Device] = []
        self._names = itertools.count(1)

    def device(self, name: str | None = None, data_dir: Path | None = None) -> Device:
        name = name or f"{self.user}-{next(self._names)}"
        store = Store.open(data_dir or self.root / name)
        token = self.server.sign_in(self.user, PASSWORD, store.device_id, name)
        device = Device(name, store, token, self.server.ws_url)
        self.devices.append(device)
        return device

    def close(self) -> None:
        for device in self.devices:
            device.stop()
            device.store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Devices sync through a server on the embedded SQLite default and on PostgreSQL."""
    if request.param == "sqlite":
        yield None
    else:
        with fresh_database() as url:
            yield url


@pytest.fixture
def server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server", database_url=database_url) as srv:
        srv.add_user("ada", PASSWORD)
        yield srv


@pytest.fixture
def fleet(server: RunningServer, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(server, tmp_path / "devices")
    yield made
    made.close()


def snapshot(store: Store) -> dict[str, Any]:
    """Everything that syncs, read straight from the SQLite file (deleted records included)."""
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as db:
        conversations = db.execute(
            "SELECT id, title, pinned, archived, deleted, created_at, updated_at, device, vv, hlc,"
            " field_hlc FROM conversation ORDER BY id"
        ).fetchall()
        messages = db.execute(
            "SELECT id, conversation_id, role, text, model, status, screenshot_sha256, hlc,"
            " device_id, created_at FROM message ORDER BY hlc, id"
        ).fetchall()
        screenshots = db.execute(
            "SELECT sha256, size_bytes, width, height, mime FROM screenshot ORDER BY sha256"
        ).fetchall()
    return {
        "conversations": [_decode(row) for row in conversations],
        "messages": messages,
        "screenshots": screenshots,
    }


def _decode(row: tuple[Any, ...]) -> tuple[Any, ...]:
    *head, vv, hlc, field_hlc = row
    return (*head, json.loads(vv), hlc, json.loads(field_hlc))


def converge(devices: list[Device], rounds: int = 2) -> None:
    """Sync every device in turn until everyone has seen everyone's changes."""
    for _ in range(rounds):
        for device in devices:
            device.sync()


def wait_for(condition: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout_s``."""
    return wait_until(condition, timeout_s, what or str(condition))
