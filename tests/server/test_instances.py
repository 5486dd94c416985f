"""Several server instances on one PostgreSQL database and one Redis (issue 10).

Two in-process servers share a fresh PostgreSQL database and a redis-server of the test's
own (so it can be killed and restarted); devices of one user connect to different instances.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.database import Database
from snapask_desktop.server.testing import RunningServer, http_request, running_server
from snapask_desktop.sync.limits import BLOB_CHUNK_BYTES
from tests.server.conftest import PASSWORD, Pair, wait_redis
from tests.server.helpers import Conn, connect_device, conversation, new_id
from tests.server.test_blobs import _get_all, _put
from tests.support.postgres import ADMIN_DSN, fresh_database
from tests.support.redis_server import RedisServer


@pytest.fixture
def pair(make_pair: Callable[..., Pair]) -> Pair:
    return make_pair()


def _live_device(srv: RunningServer) -> tuple[str, Conn]:
    device_id = new_id()
    conn = connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id)
    page = conn.pull(0)  # caught up: from now on the device is live
    assert page["type"] == "changes" and page["has_more"] is False
    return device_id, conn


def test_a_change_on_one_instance_is_live_on_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    one, two = pair
    laptop, on_one = _live_device(one)
    _, on_two = _live_device(two)
    time.sleep(0.7)  # the instances subscribe the user's channel
    started = time.monotonic()
    chat = conversation(laptop, "from instance one")
    assert on_one.push_payloads(chat)[0]["status"] == "applied"
    live = on_two.next_live(timeout=5)
    assert [c["payload"]["id"] for c in live["changes"]] == [chat.id]
    assert time.monotonic() - started < 2  # live, not the 5 s catch-up
    on_one.close()
    on_two.close()


def test_with_redis_down_changes_arrive_late_but_arrive(
    pair: tuple[RunningServer, RunningServer], redis: RedisServer
) -> None:
    one, two = pair
    laptop, on_one = _live_device(one)
    _, on_two = _live_device(two)
    time.sleep(0.7)
    redis.stop()
    chat = conversation(laptop, "while redis is down")
    assert on_one.push_payloads(chat)[0]["status"] == "applied"  # pushes go on
    live = on_two.next_live(timeout=10)  # through the log, a housekeeping round later
    assert [c["payload"]["id"] for c in live["changes"]] == [chat.id]
    wait_redis(two, healthy=False)
    redis.start()
    wait_redis(one, healthy=True)
    wait_redis(two, healthy=True)
    time.sleep(0.7)
    again = conversation(laptop, "redis is back")
    on_one.push_payloads(again)
    frames = [on_two.next_live(timeout=5)]
    ids = [c["payload"]["id"] for f in frames for c in f["changes"]]
    assert ids == [again.id]
    on_one.close()
    on_two.close()


def test_metrics_and_logs_name_the_instance(pair: tuple[RunningServer, RunningServer]) -> None:
    one, two = pair
    for srv, name in ((one, "one"), (two, "two")):
        status, text = http_request("GET", srv.url + "/metrics")
        assert status == 200 and f'snapask_instance{{instance="{name}"}} 1.0' in text


def test_a_device_reconnecting_to_another_instance_replaces_its_old_connection(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    one, two = pair
    device_id = new_id()
    token = one.sign_in("ada", PASSWORD, device_id)
    old = connect_device(one, token, device_id)
    time.sleep(0.3)
    started = time.monotonic()
    new = connect_device(two, token, device_id)  # the same device, through another instance
    code, frames = old.closed(timeout=10)
    assert code == 4004 and [f["code"] for f in frames] == ["replaced"]
    assert time.monotonic() - started < 2
    assert new.pull(0)["type"] == "changes"  # the new one is untouched
    new.close()


def test_a_device_revoked_on_one_instance_is_closed_on_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    one, two = pair
    laptop, phone = new_id(), new_id()
    laptop_token = one.sign_in("ada", PASSWORD, laptop)
    phone_conn = connect_device(two, two.sign_in("ada", PASSWORD, phone), phone)
    started = time.monotonic()
    status, _ = http_request("DELETE", f"{one.url}/v1/devices/{phone}", token=laptop_token)
    assert status == 204
    code, _ = phone_conn.closed(timeout=10)
    assert code == 4001
    assert time.monotonic() - started < 1.5  # two's housekeeping round (0.2 s here; 1 s default)


def test_healthz_names_a_dependency_that_is_down(
    pair: tuple[RunningServer, RunningServer], redis: RedisServer
) -> None:
    one, _ = pair
    assert http_request("GET", one.url + "/healthz") == (
        200,
        {"status": "ok", "database": "ok", "redis": "ok"},
    )
    redis.stop()
    wait_redis(one, healthy=False)
    status, body = http_request("GET", one.url + "/healthz")
    # Still in the balancer: it serves pushes and pulls; live frames come through the log.
    assert status == 200 and body["status"] == "degraded" and body["redis"].startswith("down")
    redis.start()
    wait_redis(one, healthy=True)
    assert http_request("GET", one.url + "/healthz")[1]["status"] == "ok"


def test_healthz_is_503_without_the_database(tmp_path: Path) -> None:
    with fresh_database() as url, running_server(tmp_path / "s", database_url=url) as srv:
        assert http_request("GET", srv.url + "/healthz")[0] == 200
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # gone, as if its server died
        status, body = http_request("GET", srv.url + "/healthz")
        assert status == 503 and body["status"] == "unavailable"
        assert body["database"].startswith("down: ") and body["redis"] == "off"


def test_singleton_jobs_run_on_one_instance_at_a_time(tmp_path: Path) -> None:
    with fresh_database() as url, running_server(tmp_path / "s", database_url=url) as srv:
        srv.add_user("ada", PASSWORD)
        device_id = new_id()
        conn = connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id)
        ack = conn.request({"type": "blob_put", "sha256": "d" * 64, "size": 100, "offset": 0,
                            "data": "eHh4"})  # fmt: skip
        assert ack["received"] == 3
        later = now_ms() + 2 * 3600 * 1000
        other = Database(url)  # another instance's view of the same database
        try:
            with other.exclusive("uploads") as mine:
                assert mine
                assert srv.call(lambda: srv.server.collect_uploads(later)) == (0, 0)  # skipped
            assert srv.call(lambda: srv.server.collect_uploads(later))[0] == 1
        finally:
            other.dispose()
        conn.close()


def test_a_picture_uploaded_through_one_instance_downloads_through_the_other(
    tmp_path: Path, redis: RedisServer
) -> None:
    shared = tmp_path / "shared"  # one folder for both, as a shared file system mount
    with fresh_database() as url, ExitStack() as stack:
        one, two = (
            stack.enter_context(
                running_server(shared, database_url=url, redis_url=redis.url, instance=name)
            )
            for name in ("one", "two")
        )
        one.add_user("ada", PASSWORD)
        device_id = new_id()
        token = one.sign_in("ada", PASSWORD, device_id)
        chunk = BLOB_CHUNK_BYTES // 2
        data = os.urandom(3 * chunk + 7)
        sha = hashlib.sha256(data).hexdigest()
        on_one = connect_device(one, token, device_id)
        assert _put(on_one, sha, len(data), 0, data[:chunk])["received"] == chunk
        on_one.close()
        # The upload resumes through the other instance where the first one left it.
        on_two = connect_device(two, token, device_id)
        offset = _put(on_two, sha, len(data), 0, b"")["received"]
        assert offset == chunk
        while offset < len(data):
            ack = _put(on_two, sha, len(data), offset, data[offset : offset + chunk])
            offset = ack["received"]
        assert ack["complete"] is True
        on_two.close()
        again = connect_device(one, token, device_id)
        assert _get_all(again, sha) == data
        again.close()
