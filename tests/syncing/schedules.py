"""Random edits on three devices, random sync schedules and connection cuts (pure plan
generation and the check that every store converged), shared by the one-server property test
and the same test through the balancer (tests/cluster)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from snapask_desktop.store import Store
from snapask_desktop.sync.device.connection import Closed
from tests.support.tcp_proxy import tcp_proxy
from tests.syncing.conftest import Device, Fleet, converge, snapshot

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


def act(store: Store, action: str, pick: int, serial: int) -> None:
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
        deleted = deleted_ids(store)
        if deleted:
            store.restore_conversation(deleted[pick % len(deleted)])
    elif action == "message":
        store.add_message(target, "user", f"message {serial}")


def share_keys(devices: list[Device]) -> None:
    """Turn the account encrypted on the first device and give the others its keys, as
    unlocking would (one key derivation instead of three; unlocking is tested on its own)."""
    asyncio.run(devices[0].engine().encrypt("the property test's passphrase"))
    held = devices[0].keystore().load()
    assert held is not None
    for device in devices[1:]:
        device.keystore().save(held)


def deleted_ids(store: Store) -> list[str]:
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as db:
        return [
            row[0] for row in db.execute("SELECT id FROM conversation WHERE deleted ORDER BY id")
        ]


def play_and_check(
    server: Any,
    root: Path,
    plan: list[tuple[str, int, int, int]],
    accepted: Callable[[], list[dict[str, Any]]],
    user: str = "ada",
    *,
    encrypted: bool = False,
) -> None:
    """Three devices of ``user`` play ``plan`` against ``server`` (anything with ``sign_in``,
    ``ws_url`` and ``port``), converge, and must hold the same data: every change the server
    accepted (``accepted()``, the log's payloads) and an empty outbox. ``encrypted``: the
    account is end-to-end encrypted first, and every device holds its keys."""
    fleet = Fleet(server, root / "devices", user)
    try:
        devices = [fleet.device() for _ in range(3)]
        if encrypted:
            share_keys(devices)
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
                    act(device.store, action, pick, serial)
        converge(devices, rounds=3)
        first = snapshot(devices[0].store)
        for device in devices[1:]:
            assert snapshot(device.store) == first
        conversation_ids = {row[0] for row in first["conversations"]}
        message_ids = {row[0] for row in first["messages"]}
        for payload in accepted():
            kind = payload["kind"] if payload["type"] == "sealed" else payload["type"]
            assert encrypted == (payload["type"] == "sealed")
            if kind == "conversation":
                assert payload["id"] in conversation_ids
            elif kind == "message":
                assert payload["id"] in message_ids
        assert all(d.store.outbox_count() == 0 for d in devices)
    finally:
        fleet.close()
