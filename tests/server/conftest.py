"""Fixtures: a real server on 127.0.0.1 (ephemeral port) with a user ``ada``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.helpers import Conn, connect_device, new_id
from tests.support.postgres import fresh_database

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Every test of the server runs on the embedded SQLite default and on PostgreSQL."""
    if request.param == "sqlite":
        yield None
    else:
        with fresh_database() as url:
            yield url


@pytest.fixture
def srv(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server", housekeeping_interval_s=0.2,
                        database_url=database_url) as server:  # fmt: skip
        server.add_user("ada", PASSWORD)
        yield server


DeviceFactory = Callable[..., tuple[str, str, Conn]]


@pytest.fixture
def device(srv: RunningServer) -> Iterator[DeviceFactory]:
    """Sign a new device in and connect it with hello: returns (device id, token, conn)."""
    opened: list[Conn] = []

    def make(user: str = "ada", password: str = PASSWORD, *, hello: bool = True,
             cursor: int = 0) -> tuple[str, str, Conn]:  # fmt: skip
        device_id = new_id()
        token = srv.sign_in(user, password, device_id)
        conn = connect_device(srv, token, device_id if hello else None, cursor)
        opened.append(conn)
        return device_id, token, conn

    yield make
    for conn in opened:
        conn.close()
