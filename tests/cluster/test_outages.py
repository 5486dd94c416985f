"""Redis and PostgreSQL going away under a live cluster (issue 10).

PostgreSQL goes away twice: cut off by a TCP relay in front of the machine's shared server
(a partition: every connection dropped, new ones refused, then back), and a server of the
test's own stopped as in a crash and started again (tests/support/postgres_server.py).
Redis is a redis-server of the test's own, killed and started again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from snapask_desktop.server.cluster import Cluster
from snapask_desktop.server.testing import http_request
from tests.cluster.helpers import Device, add_user, change_log, running_cluster, titles
from tests.support.desktop_app import wait_until
from tests.support.postgres import fresh_database
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server
from tests.support.tcp_proxy import TcpProxy, tcp_proxy
from tests.syncing.conftest import snapshot


def _health(cluster: Cluster, name: str) -> tuple[int, dict]:
    status, body = http_request("GET", cluster.instance_url(name) + "/healthz")
    return status, body if isinstance(body, dict) else json.loads(str(body))


def _all_alive(cluster: Cluster) -> bool:
    for name in cluster.names:
        try:
            os.kill(cluster.state.pids[name], 0)
        except OSError:
            return False
    return True


def _converged(a: Device, b: Device, expected: set[str]) -> None:
    wait_until(lambda: titles(a.store) == expected == titles(b.store), 90, "converged")
    wait_until(lambda: a.up_to_date() and b.up_to_date(), 60, "both live again")
    assert snapshot(a.store) == snapshot(b.store)


def _log_is_whole(cluster: Cluster) -> None:
    log = change_log(cluster)
    assert [seq for seq, _ in log] == list(range(1, len(log) + 1))  # contiguous
    assert len({op for _, op in log}) == len(log)  # no op twice


def test_redis_restarted_mid_traffic_degrades_then_everything_converges(tmp_path: Path) -> None:
    with (
        fresh_database() as url,
        redis_server() as redis,
        running_cluster(tmp_path, url, redis.url) as cluster,
    ):
        add_user(cluster)
        a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
        try:
            wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
            for i in range(30):
                a.store.start_conversation(f"a {i}", "q")
                b.store.start_conversation(f"b {i}", "q")
                if i == 10:
                    redis.stop()
                    # Every instance still serves: 200 "degraded", never a 503 that would
                    # empty the balancer.
                    wait_until(lambda: _health(cluster, "s1")[1].get("redis") != "ok", 20, "s1")
                    status, body = _health(cluster, "s1")
                    assert (status, body["status"]) == (200, "degraded"), body
                if i == 20:
                    redis.start()
                time.sleep(0.03)
            expected = {f"a {i}" for i in range(30)} | {f"b {i}" for i in range(30)}
            _converged(a, b, expected)
            for name in cluster.names:
                wait_until(lambda n=name: _health(cluster, n)[1]["status"] == "ok", 30, name)
            assert _all_alive(cluster)
            _log_is_whole(cluster)
        finally:
            a.close()
            b.close()


def _through(proxy: TcpProxy, url: str) -> str:
    return url.replace(":5432/", f":{proxy.port}/")


def test_postgresql_gone_mid_traffic_answers_503_then_everything_converges(
    tmp_path: Path,
) -> None:
    with (
        fresh_database() as url,
        tcp_proxy(5432) as database,
        redis_server() as redis,
        running_cluster(tmp_path, _through(database, url), redis.url) as cluster,
    ):

        def cut() -> None:  # a partition: every connection dropped, new ones refused
            database.refuse = True
            database.cut()

        def heal() -> None:
            database.refuse = False

        _database_outage(cluster, tmp_path, cut, heal)


def test_postgresql_restarted_mid_traffic_answers_503_then_everything_converges(
    tmp_path: Path,
) -> None:
    with (
        postgres_server() as database,
        redis_server() as redis,
        running_cluster(tmp_path, database.url, redis.url) as cluster,
    ):
        # Stopped as in a crash (every backend killed at once), started again with recovery.
        _database_outage(cluster, tmp_path, database.stop, database.start)


def _database_outage(
    cluster: Cluster, tmp_path: Path, down: Callable[[], None], up: Callable[[], None]
) -> None:
    add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        for i in range(10):
            a.store.start_conversation(f"before {i}", "q")
        down()
        for i in range(10):
            a.store.start_conversation(f"during {i}", "q")  # the device keeps them
            b.store.start_conversation(f"during b {i}", "q")
        for name in cluster.names:  # a clear 503 naming the database, no crash
            wait_until(lambda n=name: _health(cluster, n)[0] == 503, 30, f"{name} 503")
            body = _health(cluster, name)[1]
            assert body["status"] == "unavailable" and body["database"] != "ok", body
        assert http_request("GET", cluster.url + "/healthz")[0] == 503
        time.sleep(2)  # devices retry against a cluster with no database meanwhile
        up()
        for i in range(5):
            b.store.start_conversation(f"after {i}", "q")
        expected = (
            {f"before {i}" for i in range(10)}
            | {f"during {i}" for i in range(10)}
            | {f"during b {i}" for i in range(10)}
            | {f"after {i}" for i in range(5)}
        )
        _converged(a, b, expected)
        for name in cluster.names:
            wait_until(lambda n=name: _health(cluster, n)[0] == 200, 30, name)
        assert _all_alive(cluster)
        _log_is_whole(cluster)
    finally:
        a.close()
        b.close()
