"""Three real server instances behind a real HAProxy, on PostgreSQL and Redis (issue 10).

The cluster is the one `scripts/cluster up` starts (server/cluster.py): subprocesses on
127.0.0.1, a fresh PostgreSQL database, a redis-server of the test's own. Devices are real
device stores syncing with the real client through the balancer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.server.cluster import Cluster
from snapask_desktop.server.testing import http_request
from tests.cluster.helpers import Device, add_user, change_log, connections, running_cluster, titles
from tests.support.desktop_app import wait_until
from tests.support.postgres import fresh_database
from tests.support.redis_server import redis_server
from tests.syncing.conftest import snapshot


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with (
        fresh_database() as url,
        redis_server() as redis,
        running_cluster(tmp_path, url, redis.url) as made,
    ):
        yield made


def test_devices_on_different_instances_sync_live_through_the_balancer(
    cluster: Cluster, tmp_path: Path
) -> None:
    add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        assert sorted(connections(cluster).values()) == [0, 1, 1]  # leastconn: two instances
        started = time.monotonic()
        a.store.start_conversation("made on a", "hello")
        wait_until(lambda: "made on a" in titles(b.store), 10, "b sees a's change")
        assert time.monotonic() - started < 3  # live through Redis, not a later catch-up
        assert snapshot(a.store) == snapshot(b.store)
    finally:
        a.close()
        b.close()


def test_an_instance_killed_mid_traffic_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        victim = max(connections(cluster).items(), key=lambda item: item[1])[0]
        for i in range(40):
            a.store.start_conversation(f"a {i}", "q")
            b.store.start_conversation(f"b {i}", "q")
            if i == 10:
                cluster.kill_instance(victim)  # SIGKILL, mid-push for whoever was on it
            time.sleep(0.02)
        expected = {f"a {i}" for i in range(40)} | {f"b {i}" for i in range(40)}
        wait_until(lambda: titles(a.store) == expected == titles(b.store), 60, "converged")
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live again")
        assert snapshot(a.store) == snapshot(b.store)
        assert victim not in connections(cluster)
        # Every op is in the log once: 80 conversations, no duplicate.
        status, body = http_request("GET", cluster.url + "/healthz")
        assert status == 200, body
    finally:
        a.close()
        b.close()


def test_a_rolling_restart_drains_one_instance_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        for name in cluster.names:  # one after another, as an operator upgrades them
            cluster.terminate_instance(name)
            a.store.start_conversation(f"while {name} restarts", "q")
            cluster.start_instance(name)
            title = f"while {name} restarts"
            wait_until(lambda t=title: t in titles(b.store), 60, "b")
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live again")
        assert snapshot(a.store) == snapshot(b.store)
        log = change_log(cluster)
        assert [seq for seq, _ in log] == list(range(1, len(log) + 1))  # contiguous
        assert len({op for _, op in log}) == len(log)  # no op twice
    finally:
        a.close()
        b.close()
