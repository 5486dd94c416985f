"""Fixtures: a real server on 127.0.0.1 (ephemeral port) with a user ``ada``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.helpers import Conn, connect_device, new_id
from tests.support.postgres import fresh_database
from tests.support.redis_server import RedisServer, redis_server

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


Pair = tuple[RunningServer, RunningServer]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def make_pair(tmp_path: Path, redis: RedisServer) -> Iterator[Callable[..., Pair]]:
    """Two instances on one fresh PostgreSQL database and one Redis, with extra config."""
    with ExitStack() as stack:

        def make(**config: Any) -> Pair:
            url = stack.enter_context(fresh_database())
            servers = tuple(
                stack.enter_context(
                    running_server(
                        tmp_path / name,
                        database_url=url,
                        redis_url=redis.url,
                        instance=name,
                        housekeeping_interval_s=0.2,
                        **config,
                    )
                )
                for name in ("one", "two")
            )
            for srv in servers:
                wait_redis(srv, healthy=True)
            servers[0].add_user("ada", PASSWORD)
            return servers  # type: ignore[return-value]

        yield make


def wait_redis(srv: RunningServer, healthy: bool) -> None:
    deadline = time.monotonic() + 20
    while srv.server.fanout.healthy is not healthy:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"redis never became healthy={healthy}"
        time.sleep(0.05)
