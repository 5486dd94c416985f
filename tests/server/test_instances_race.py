"""Two instances racing pushes of one user on PostgreSQL (issue 10).

The per-user seq comes from the user's counter row inside the push transaction, so seqs are
contiguous and follow commit order. The check that matters is the reader's: a device pulling
``seq > cursor`` while the pushes commit must never skip a change (which a SEQUENCE would
allow: a lower seq committing after a higher one was already read).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.conftest import PASSWORD
from tests.server.helpers import Conn, connect_device, conversation, new_id
from tests.support.postgres import fresh_database
from tests.support.redis_server import redis_server

PUSHES = 60  # per writer; two writers on each instance


@pytest.fixture
def pair_on_postgres(tmp_path: Path) -> Iterator[tuple[str, RunningServer, RunningServer]]:
    with fresh_database() as url, redis_server() as redis, ExitStack() as stack:
        one, two = (
            stack.enter_context(
                running_server(
                    tmp_path / name, database_url=url, redis_url=redis.url, instance=name
                )
            )
            for name in ("one", "two")
        )
        one.add_user("ada", PASSWORD)
        yield url, one, two


def _device(srv: RunningServer) -> tuple[str, Conn]:
    device_id = new_id()
    return device_id, connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id)


def _writer(srv: RunningServer, titles: list[str], errors: list[BaseException]) -> None:
    try:
        device_id, conn = _device(srv)
        for title in titles:
            [result] = conn.push_payloads(conversation(device_id, title))
            assert result["status"] == "applied", result
        conn.close()
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def _reader(srv: RunningServer, stop: threading.Event, seen: list[dict]) -> None:
    _, conn = _device(srv)
    cursor = 0
    while True:
        finished = stop.is_set()  # read once more after the writers are done
        page = conn.pull(cursor, 7)  # small pages: many reads between commits
        if page.get("code") == "rate_limited":  # a device may pull 50 times a second
            time.sleep(page["retry_after_ms"] / 1000)
            continue
        seen.extend(page["changes"])
        cursor = page["cursor"]
        if finished and not page["has_more"]:
            break
    conn.close()


def test_racing_pushes_on_two_instances_get_contiguous_seqs_in_commit_order(
    pair_on_postgres: tuple[str, RunningServer, RunningServer],
) -> None:
    url, one, two = pair_on_postgres
    errors: list[BaseException] = []
    batches = [[f"w{w} {i}" for i in range(PUSHES)] for w in range(4)]
    writers = [
        threading.Thread(target=_writer, args=(srv, batch, errors))
        for srv, batch in zip((one, two, one, two), batches, strict=True)
    ]
    seen: list[dict] = []
    stop = threading.Event()
    reader = threading.Thread(target=_reader, args=(two, stop, seen))
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    stop.set()
    reader.join(60)
    assert not errors, errors
    assert not reader.is_alive()

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            log = list(conn.execute(text("SELECT seq, op_id FROM changes ORDER BY seq")))
    finally:
        engine.dispose()
    pushed = 4 * PUSHES
    assert [seq for seq, _ in log] == list(range(1, pushed + 1))  # contiguous, none twice
    assert len({op for _, op in log}) == pushed
    # The reader, pulling while the pushes committed, saw every change exactly once.
    titles = [change["payload"]["title"] for change in seen]
    assert sorted(titles) == sorted(t for batch in batches for t in batch)
    assert [change["seq"] for change in seen] == list(range(1, pushed + 1))
