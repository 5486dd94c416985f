"""Random edits on three real devices, random sync schedules and connection cuts, through the
real server: afterwards every store is identical and holds every change the server accepted.

(tests/store/test_replica_convergence.py explores far more schedules against a simulated
server log; this one keeps the real WebSocket client and server in the loop.)
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapask_desktop.server.testing import running_server
from snapask_desktop.store import Store
from snapask_desktop.sync.device.connection import Closed
from tests.support.tcp_proxy import tcp_proxy
from tests.syncing.conftest import PASSWORD, Fleet, converge, snapshot

ACTIONS = ("create", "rename", "pin", "delete", "restore", "message", "sync", "sync", "cut")
steps = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        st.integers(0, 2),  # which device
        st.integers(0, 4),  # which of the conversations it knows
        st.integers(200, 20_000),  # where a cut happens, in bytes the client sent
    ),
    min_size=6,
    max_size=30,
)


def _act(store: Store, action: str, pick: int, serial: int) -> None:
    ids = sorted(s.id for s in store.list_conversations(limit=50, include_archived=True))
    if action == "create" or not ids:
        store.start_conversation(f"c{serial}", f"question {serial}")
        return
    target = ids[pick % len(ids)]
    if action == "rename":
        store.update_conversation(target, title=f"title {serial}")
    elif action == "pin":
        store.update_conversation(target, pinned=serial % 2 == 0)
    elif action == "delete":
        store.delete_conversation(target)
    elif action == "restore":
        deleted = _deleted_ids(store)
        if deleted:
            store.restore_conversation(deleted[pick % len(deleted)])
    elif action == "message":
        store.add_message(target, "user", f"message {serial}")


def _deleted_ids(store: Store) -> list[str]:
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as db:
        return [
            row[0] for row in db.execute("SELECT id FROM conversation WHERE deleted ORDER BY id")
        ]


def _accepted(server_dir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{server_dir / 'server.db'}?mode=ro", uri=True) as db:
        return [
            json.loads(row[0]) for row in db.execute("SELECT payload FROM changes ORDER BY seq")
        ]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_edits_and_schedules_converge(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[str, int, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("property")
    with running_server(root / "server") as server:
        server.add_user("ada", PASSWORD)
        fleet = Fleet(server, root / "devices")
        try:
            devices = [fleet.device() for _ in range(3)]
            with tcp_proxy(server.port) as proxy:
                for serial, (action, which, pick, cut_at) in enumerate(plan):
                    device = devices[which]
                    if action == "sync":
                        device.sync()
                    elif action == "cut":
                        proxy.cut_after_client_bytes = proxy.client_bytes + cut_at
                        # Cut mid-pass: whatever was acknowledged stays acknowledged.
                        with contextlib.suppress(Closed, OSError):
                            device.sync(f"ws://127.0.0.1:{proxy.port}/v1/sync")
                        proxy.cut_after_client_bytes = None
                    else:
                        _act(device.store, action, pick, serial)
            converge(devices, rounds=3)
            first = snapshot(devices[0].store)
            for device in devices[1:]:
                assert snapshot(device.store) == first
            conversation_ids = {row[0] for row in first["conversations"]}
            message_ids = {row[0] for row in first["messages"]}
            for payload in _accepted(server.data_dir):
                if payload["type"] == "conversation":
                    assert payload["id"] in conversation_ids
                elif payload["type"] == "message":
                    assert payload["id"] in message_ids
            assert all(d.store.outbox_count() == 0 for d in devices)
        finally:
            fleet.close()
