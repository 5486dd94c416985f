"""Three real server instances behind a real HAProxy, on PostgreSQL and Redis (issue 10).

The cluster is the one `scripts/cluster up` starts (server/cluster.py): subprocesses on
127.0.0.1, a fresh PostgreSQL database, a redis-server of the test's own. Devices are real
device stores syncing with the real client through the balancer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.server.cluster import Cluster, ClusterState, free_ports
from snapask_desktop.server.testing import http_request
from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner
from tests.support.desktop_app import wait_until
from tests.support.postgres import fresh_database
from tests.support.redis_server import redis_server
from tests.syncing.conftest import snapshot

PASSWORD = "cluster pass"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with fresh_database() as url, redis_server() as redis:
        lb_port, *ports = free_ports(4)
        made = Cluster(tmp_path / "cluster", ClusterState(lb_port, ports, url, redis.url))
        made.up()
        try:
            yield made
        finally:
            made.down()


def _add_user(cluster: Cluster) -> None:
    import subprocess
    import sys

    added = subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", "user", "add", "ada",
         "--data-dir", str(cluster.state_dir / "data"),
         "--database-url", cluster.state.database_url],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


class Device:
    """A device store syncing live through the balancer."""

    def __init__(self, cluster: Cluster, root: Path, name: str) -> None:
        self.store = Store.open(root / name)
        status, body = http_request("POST", cluster.url + "/v1/devices", {
            "user": "ada", "password": PASSWORD, "device_id": self.store.device_id,
            "device_name": name,
        })  # fmt: skip
        assert status == 201, body
        token = body["token"]
        ws_url = cluster.url.replace("http://", "ws://") + "/v1/sync"
        self.runner = SyncRunner(self.store, ws_url, lambda: token, SyncEvents(), poll_s=0.05)
        self.runner.start()

    def up_to_date(self) -> bool:
        return self.runner.status.state.value == "up_to_date" and self.store.outbox_count() == 0

    def close(self) -> None:
        self.runner.stop()
        self.store.close()


def _connections(cluster: Cluster) -> dict[str, int]:
    """Open sync connections per instance, from each instance's own /metrics."""
    found = {}
    for name in cluster.names:
        if name not in cluster.state.pids:
            continue
        status, text = http_request("GET", cluster.instance_url(name) + "/metrics")
        assert status == 200
        line = next(x for x in str(text).splitlines() if x.startswith("snapask_connections "))
        found[name] = int(float(line.split()[1]))
    return found


def _titles(store: Store) -> set[str]:
    return {c.title for c in store.list_conversations(limit=1000)}


def test_devices_on_different_instances_sync_live_through_the_balancer(
    cluster: Cluster, tmp_path: Path
) -> None:
    _add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        assert sorted(_connections(cluster).values()) == [0, 1, 1]  # leastconn: two instances
        started = time.monotonic()
        a.store.start_conversation("made on a", "hello")
        wait_until(lambda: "made on a" in _titles(b.store), 10, "b sees a's change")
        assert time.monotonic() - started < 3  # live through Redis, not a later catch-up
        assert snapshot(a.store) == snapshot(b.store)
    finally:
        a.close()
        b.close()


def test_an_instance_killed_mid_traffic_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    _add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        victim = max(_connections(cluster).items(), key=lambda item: item[1])[0]
        for i in range(40):
            a.store.start_conversation(f"a {i}", "q")
            b.store.start_conversation(f"b {i}", "q")
            if i == 10:
                cluster.kill_instance(victim)  # SIGKILL, mid-push for whoever was on it
            time.sleep(0.02)
        expected = {f"a {i}" for i in range(40)} | {f"b {i}" for i in range(40)}
        wait_until(lambda: _titles(a.store) == expected == _titles(b.store), 60, "converged")
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live again")
        assert snapshot(a.store) == snapshot(b.store)
        assert victim not in _connections(cluster)
        # Every op is in the log once: 80 conversations, no duplicate.
        status, body = http_request("GET", cluster.url + "/healthz")
        assert status == 200, body
    finally:
        a.close()
        b.close()


def _log(cluster: Cluster) -> list[Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.state.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT seq, op_id FROM changes ORDER BY seq")))
    finally:
        engine.dispose()


def test_a_rolling_restart_drains_one_instance_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    _add_user(cluster)
    a, b = Device(cluster, tmp_path, "a"), Device(cluster, tmp_path, "b")
    try:
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live")
        for name in cluster.names:  # one after another, as an operator upgrades them
            cluster.terminate_instance(name)
            a.store.start_conversation(f"while {name} restarts", "q")
            cluster.start_instance(name)
            title = f"while {name} restarts"
            wait_until(lambda t=title: t in _titles(b.store), 60, "b")
        wait_until(lambda: a.up_to_date() and b.up_to_date(), 30, "both live again")
        assert snapshot(a.store) == snapshot(b.store)
        log = _log(cluster)
        assert [seq for seq, _ in log] == list(range(1, len(log) + 1))  # contiguous
        assert len({op for _, op in log}) == len(log)  # no op twice
    finally:
        a.close()
        b.close()
