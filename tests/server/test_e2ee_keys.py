"""Encrypted accounts on the server (sync-protocol.md 12.9): the key record, its compare and
swap, the handshake, and turning an account encrypted (which drops the clear copies)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from snapask_desktop.server import accounts, schema
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.crypto import ItemsKey
from snapask_desktop.sync.protocol import FEATURE_E2EE
from tests.server.conftest import PASSWORD
from tests.server.helpers import (
    Conn,
    connect_device,
    conversation,
    message,
    new_id,
    op,
    screenshot,
)
from tests.server.sealing import E2EE, key_record

Connect = Callable[..., tuple[str, Conn]]


@pytest.fixture
def connect(srv: RunningServer) -> Iterator[Connect]:
    """Sign a new device of ada in; connect it, with hello announcing ``features``."""
    opened: list[Conn] = []

    def make(features: tuple[str, ...] = E2EE, *, hello: bool = True) -> tuple[str, Conn]:
        device_id = new_id()
        token = srv.sign_in("ada", PASSWORD, device_id)
        conn = connect_device(srv, token, device_id if hello else None, features=features)
        opened.append(conn)
        return device_id, conn

    yield make
    for conn in opened:
        conn.close()


def keys_put(conn: Conn, expect: int, record: dict[str, Any] | None = None) -> dict[str, Any]:
    frame = {"type": "keys_put", "expect_version": expect, "record": record or key_record()}
    return conn.request(frame)


def user_rows(srv: RunningServer) -> dict[str, int]:
    """How many rows of ada each per-user table holds."""
    counts = {}
    with srv.server.db.read() as conn:
        for table in (schema.changes, schema.op_ids, schema.conversations, schema.messages,
                      schema.screenshots, schema.blobs, schema.key_records):  # fmt: skip
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(table.c.user_id == 1)
            ).scalar_one()
    return counts


def test_the_server_announces_e2ee_and_a_clear_account_has_no_key_record(
    connect: Connect,
) -> None:
    device_id, conn = connect(hello=False)
    welcome = conn.hello(device_id, features=E2EE)
    assert FEATURE_E2EE in welcome["features"] and "keys_version" not in welcome
    assert conn.request({"type": "keys_get"}) | {"id": None} == {
        "type": "keys", "id": None, "version": 0, "record": None,
    }  # fmt: skip


def test_keys_put_is_a_compare_and_swap(connect: Connect) -> None:
    _, conn = connect()
    first, second = key_record(), key_record(ItemsKey.generate(), ItemsKey.generate())
    reply = keys_put(conn, 0, first)
    assert (reply["type"], reply["version"], reply["record"]) == ("keys", 1, first)
    stale = keys_put(conn, 0, second)  # another device got there first
    assert (stale["type"], stale["code"]) == ("error", "keys_conflict")
    assert "version 1, not 0" in stale["message"]
    assert keys_put(conn, 7, second)["code"] == "keys_conflict"
    # The connection stays open and the record is unchanged.
    assert conn.request({"type": "keys_get"})["record"] == first
    replaced = keys_put(conn, 1, second)
    assert (replaced["version"], replaced["record"]) == (2, second)
    got = conn.request({"type": "keys_get"})
    assert (got["version"], got["record"]) == (2, second)


def test_the_other_connections_get_the_new_record_live_and_the_putter_only_its_reply(
    connect: Connect,
) -> None:
    _, putter = connect()
    _, other = connect()
    record = key_record()
    keys_put(putter, 0, record)
    live = other.recv()
    assert (live["type"], live["version"], "id" not in live) == ("keys", 1, True)
    assert live["record"] == record
    # The putter's next frame is the reply to its next request, not a live copy of its own.
    assert putter.request({"type": "keys_get"}, timeout=5)["version"] == 1
    assert putter.other == [] and putter.live == []
    newer = key_record(ItemsKey.generate())
    keys_put(other, 1, newer)
    live = putter.recv()
    assert (live["type"], live["version"], live["record"]) == ("keys", 2, newer)


def test_an_old_client_gets_encryption_required_and_4005(connect: Connect) -> None:
    _, old_before = connect(features=())  # connected while the account was clear
    _, new = connect()
    keys_put(new, 0)
    code, frames = old_before.closed()
    assert code == 4005 and [f["code"] for f in frames] == ["encryption_required"]
    device_id, old_after = connect(hello=False)
    refused = old_after.hello(device_id, features=("picture_text",))
    assert (refused["type"], refused["code"]) == ("error", "encryption_required")
    assert "update SnapAsk" in refused["message"]
    assert old_after.closed()[0] == 4005
    device_id, current = connect(hello=False)
    welcome = current.hello(device_id, features=E2EE)
    assert (welcome["type"], welcome["keys_version"]) == ("welcome", 1)


def test_key_frames_need_the_e2ee_feature_in_hello(connect: Connect) -> None:
    _, conn = connect(features=())
    refused = conn.request({"type": "keys_get"})
    assert (refused["type"], refused["code"]) == ("error", "bad_sequence")
    assert keys_put(conn, 0)["code"] == "bad_sequence"


def test_turning_encryption_on_drops_every_clear_copy_and_keeps_the_counter(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    chat = conversation(device_id, "Zanzibar title")
    picture = b"\x89PNG not really, Zanzibar inside"
    sha = hashlib.sha256(picture).hexdigest()
    shot = screenshot(sha, size=len(picture))
    question = message(device_id, chat.id, "Zanzibar question", screenshot=sha)
    answer = message(device_id, chat.id, "Zanzibar answer")
    pushed_op = op(question)
    results = conn.push_payloads(shot, chat, answer)
    results += conn.push(pushed_op)["results"]
    assert [r["status"] for r in results] == ["applied"] * 4
    ack = conn.request({"type": "blob_put", "sha256": sha, "size": len(picture), "offset": 0,
                        "data": base64.b64encode(picture).decode()})  # fmt: skip
    assert ack["complete"] is True
    blob_file = srv.server.blobs.path(sha)
    assert blob_file.exists()
    counts = user_rows(srv)
    assert counts["changes"] == 4 and counts["blobs"] == 1 and counts["key_records"] == 0

    assert [u.keys_version for u in accounts.list_users(srv.server.db)] == [0]
    assert keys_put(conn, 0)["version"] == 1
    assert [u.keys_version for u in accounts.list_users(srv.server.db)] == [1]
    assert user_rows(srv) == {
        "changes": 0, "op_ids": 0, "conversations": 0, "messages": 0, "screenshots": 0,
        "blobs": 0, "key_records": 1,
    }  # fmt: skip
    assert not blob_file.exists()
    assert not (srv.server.blobs.partial_root / "1").exists()
    # The counter stays: a device's cursor of 4 is still valid, and nothing is left to pull.
    page = conn.pull(0)
    assert (page["cursor"], page["changes"], page["has_more"]) == (4, [], False)
    gone = conn.request({"type": "blob_get", "sha256": sha})
    assert gone["type"] == "blob_missing"
    # A re-sent op is not answered `duplicate` (its change is gone): the op id was dropped,
    # and a clear payload is refused (the device sends it again sealed).
    again = conn.push(pushed_op)["results"][0]
    assert (again["status"], again["code"]) == ("rejected", "encrypted_account")
