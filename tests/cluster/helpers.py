"""Shared parts of the cluster tests: a local cluster, a user, devices syncing through it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from snapask_desktop.server.cluster import Cluster, ClusterState, free_ports
from snapask_desktop.server.testing import http_request
from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner

PASSWORD = "cluster pass"


@contextmanager
def running_cluster(root: Path, database_url: str, redis_url: str) -> Iterator[Cluster]:
    """Three instances behind HAProxy, taken down afterwards."""
    lb_port, *ports = free_ports(4)
    made = Cluster(root / "cluster", ClusterState(lb_port, ports, database_url, redis_url))
    made.up()
    try:
        yield made
    finally:
        made.down()


def add_user(cluster: Cluster, name: str = "ada", password: str = PASSWORD) -> None:
    """Add a user with the server's own CLI."""
    added = subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", "user", "add", name,
         "--data-dir", str(cluster.state_dir / "data"),
         "--database-url", cluster.state.database_url],
        input=password + "\n", capture_output=True, text=True, timeout=60,
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


def connections(cluster: Cluster) -> dict[str, int]:
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


def titles(store: Store) -> set[str]:
    return {c.title for c in store.list_conversations(limit=1000)}


def change_log(cluster: Cluster) -> list[Any]:
    """(seq, op_id) of every change in the log, in seq order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.state.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT seq, op_id FROM changes ORDER BY seq")))
    finally:
        engine.dispose()


class Balanced:
    """The cluster seen as one server by tests/syncing's Fleet: sign-in and sync through HAProxy."""

    def __init__(self, cluster: Cluster) -> None:
        self.url = cluster.url
        self.ws_url = cluster.url.replace("http://", "ws://") + "/v1/sync"
        self.port = cluster.state.lb_port

    def sign_in(self, user: str, password: str, device_id: str, device_name: str = "t") -> str:
        status, body = http_request("POST", self.url + "/v1/devices", {
            "user": user, "password": password, "device_id": device_id,
            "device_name": device_name,
        })  # fmt: skip
        assert status == 201, body
        return str(body["token"])
