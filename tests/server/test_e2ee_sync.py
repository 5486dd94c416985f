"""Pushing, pulling and pictures on an encrypted account (sync-protocol.md 12.9): the server
keeps and relays real sealed payloads unchanged, refuses clear ones, and after turning the
account encrypted nothing clear of it is left in its database or blob store."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from snapask_desktop.server import schema
from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.merge import edit_conversation
from tests.server.conftest import PASSWORD
from tests.server.helpers import (
    Conn,
    connect_device,
    conversation,
    message,
    new_id,
    now_hlc,
    op,
    screenshot,
)
from tests.server.sealing import (
    E2EE,
    key_record,
    opened,
    sealed,
    sealed_picture,
    sealed_text,
)
from tests.server.test_tombstones import _wait_applied

MARK = "Zanzibar-7f3c"  # in a title, a question, an answer and a picture
Connect = Callable[..., tuple[str, Conn]]


@pytest.fixture
def connect(srv: RunningServer) -> Iterator[Connect]:
    """Sign a new device of ada in and connect it (hello announcing ``features``)."""
    opened_conns: list[Conn] = []

    def make(features: tuple[str, ...] = E2EE) -> tuple[str, Conn]:
        device_id = new_id()
        token = srv.sign_in("ada", PASSWORD, device_id)
        conn = connect_device(srv, token, device_id, features=features)
        opened_conns.append(conn)
        return device_id, conn

    yield make
    for conn in opened_conns:
        conn.close()


def turn_on(conn: Conn) -> None:
    reply = conn.request({"type": "keys_put", "expect_version": 0, "record": key_record()})
    assert (reply["type"], reply["version"]) == ("keys", 1), reply


def put_blob(conn: Conn, blob_id: str, data: bytes, chunk: int = 1 << 20) -> dict[str, Any]:
    offset, ack = 0, {}
    while offset < len(data) or not ack:
        piece = base64.b64encode(data[offset : offset + chunk]).decode()
        ack = conn.request({"type": "blob_put", "sha256": blob_id, "size": len(data),
                            "offset": offset, "data": piece})  # fmt: skip
        if ack["type"] != "blob_ack":
            return ack
        offset = ack["received"]
    return ack


def get_blob(conn: Conn, blob_id: str) -> bytes:
    out = b""
    while True:
        reply = conn.request({"type": "blob_get", "sha256": blob_id, "offset": len(out)})
        assert reply["type"] == "blob", reply
        out += base64.b64decode(reply["data"])
        if len(out) == reply["size"]:
            return out


def count(srv: RunningServer, table: Any, **where: Any) -> int:
    with srv.server.db.read() as conn:
        query = select(func.count()).select_from(table).where(table.c.user_id == 1)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return int(conn.execute(query).scalar_one())


def test_a_sealed_op_on_a_clear_account_and_a_clear_op_on_an_encrypted_one_are_refused(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    chat = conversation(device_id, "Clear")
    early = conn.push(op(sealed(chat)))["results"][0]
    assert (early["status"], early["code"]) == ("rejected", "not_encrypted")
    turn_on(conn)
    clear = conn.push(op(chat), op(message(device_id, chat.id)))["results"]
    assert [(r["status"], r["code"]) for r in clear] == [("rejected", "encrypted_account")] * 2
    assert "only sealed records" in clear[0]["message"]
    assert count(srv, schema.changes) == 0 and conn.pull(0)["changes"] == []


def test_another_users_encrypted_account_leaves_a_clear_account_clear(
    srv: RunningServer, connect: Connect
) -> None:
    srv.add_user("bob", PASSWORD)
    bob_device = new_id()
    bob = connect_device(srv, srv.sign_in("bob", PASSWORD, bob_device), bob_device, features=E2EE)
    try:
        turn_on(bob)
        device_id, ada = connect()
        chat = conversation(device_id, "Still clear")
        assert [r["status"] for r in ada.push(op(chat))["results"]] == ["applied"]
        refused = ada.push(op(sealed(conversation(device_id, "Sealed"))))["results"][0]
        assert (refused["status"], refused["code"]) == ("rejected", "not_encrypted")
        bobs = bob.push(op(chat))["results"][0]
        assert (bobs["status"], bobs["code"]) == ("rejected", "encrypted_account")
    finally:
        bob.close()


def test_sealed_ops_are_applied_and_relayed_unchanged_live_and_by_pull(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, laptop = connect()
    _, phone = connect()
    turn_on(laptop)
    assert phone.recv()["type"] == "keys"  # the live key record
    chat = conversation(device_id, "Sealed chat")
    # The stamp inside is an hour ahead: the server cannot see it (the devices judge skew).
    question = message(device_id, chat.id, "What is this?", offset_ms=3600_000)
    shot = screenshot("ab" * 32)
    ops = [op(sealed(chat)), op(sealed(question)), op(sealed(shot))]
    results = laptop.push(*ops)["results"]
    assert [(r["status"], r["seq"]) for r in results] == [("applied", 1), ("applied", 2),
                                                           ("applied", 3)]  # fmt: skip
    live = phone.next_live()
    assert [c["payload"] for c in live["changes"]] == [o["payload"] for o in ops]
    assert opened(live["changes"][1]["payload"]) == question.to_wire()
    changes, cursor = phone.pull_all()
    assert cursor == 3 and [c["payload"] for c in changes] == [o["payload"] for o in ops]
    assert [c["op_id"] for c in changes] == [o["op_id"] for o in ops]
    # At most once, as for clear ops; the message's own edit is not judged a mismatch.
    assert laptop.push(ops[1])["results"][0] == {"op_id": ops[1]["op_id"],
                                                 "status": "duplicate", "seq": 2}  # fmt: skip
    edited = sealed(message(device_id, chat.id, "Other text", message_id=question.id))
    assert laptop.push(op(edited))["results"][0]["seq"] == 4
    # Only the log holds them, with the conversation they belong to (for collection).
    assert count(srv, schema.changes, conversation_id=chat.id) == 3
    for table in (schema.conversations, schema.messages, schema.screenshots):
        assert count(srv, table) == 0


def test_gone_still_applies_and_collection_leaves_an_encrypted_account_alone(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    old = conversation(device_id, "Old")
    deleted = edit_conversation(old, {"deleted": True}, device_id=device_id, hlc=now_hlc(),
                                now_ms=0)  # fmt: skip
    conn.push_payloads(old, deleted)
    conn.send({"type": "applied", "cursor": 2})
    _wait_applied(srv, device_id, 2)
    old_enough = now_ms() + TOMBSTONE_MIN_AGE_MS + 1000
    assert srv.call(lambda: srv.server.collect(old_enough)) == 1
    turn_on(conn)
    results = conn.push(op(sealed(old)), op(sealed(message(device_id, old.id))))["results"]
    assert [r["code"] for r in results] == ["gone", "gone"]
    # A sealed tombstone old enough and applied by every device stays: on an encrypted
    # account, collection waits for the devices to confirm it (12.4).
    other = conversation(device_id, "Other")
    other_deleted = edit_conversation(other, {"deleted": True}, device_id=device_id,
                                      hlc=now_hlc(), now_ms=0)  # fmt: skip
    assert sealed(other_deleted)["deleted_at"] == other_deleted.field_hlc["deleted"].hlc
    seq = conn.push(op(sealed(other)), op(sealed(other_deleted)))["results"][1]["seq"]
    conn.send({"type": "applied", "cursor": seq})
    _wait_applied(srv, device_id, seq)
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0
    assert [c["seq"] for c in conn.pull_all()[0]] == [seq - 1, seq]


def test_sealed_pictures_go_up_and_down_unchecked_and_clear_ones_are_refused(
    srv: RunningServer, connect: Connect
) -> None:
    _, conn = connect()
    turn_on(conn)
    picture = b"\x89PNG" + bytes(range(256)) * 20
    blob_id, data = sealed_picture(picture)
    ack = put_blob(conn, blob_id, data, chunk=3000)
    assert (ack["complete"], ack["size"]) == (True, len(data))
    assert get_blob(conn, blob_id) == data
    assert srv.server.blobs.sealed_path(1, blob_id).read_bytes() == data
    assert not srv.server.blobs.path(blob_id).exists()  # never in the shared store
    # A clear picture under its own SHA-256 is refused (nothing kept), as is a size change.
    sha = hashlib.sha256(picture).hexdigest()
    refused = put_blob(conn, sha, picture)
    assert (refused["type"], refused["code"]) == ("error", "encrypted_account")
    assert conn.request({"type": "blob_get", "sha256": sha})["type"] == "blob_missing"
    resized = put_blob(conn, blob_id, data + b"x")
    assert (resized["type"], resized["code"]) == ("error", "blob_mismatch")


def _files_containing(root: Path, needles: list[bytes]) -> list[str]:
    return [
        f"{path.relative_to(root)}: {needle!r}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
        for needle in needles
        if needle in path.read_bytes()
    ]


def _dump(database_url: str | None) -> bytes:
    if database_url is None:
        return b""
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", "--no-owner", plain], check=True, capture_output=True,
                          timeout=120).stdout  # fmt: skip


def test_after_turning_on_and_a_sealed_re_push_nothing_clear_is_left(
    srv: RunningServer, connect: Connect, database_url: str | None
) -> None:
    device_id, conn = connect()
    picture = b"\x89PNG\r\n\x1a\n" + f"pixels of {MARK} in the picture".encode() * 50
    sha = hashlib.sha256(picture).hexdigest()
    chat = conversation(device_id, f"Trip to {MARK}")
    renamed = conversation(device_id, f"Before {MARK} again", conv_id=chat.id)
    question = message(device_id, chat.id, f"Where is {MARK}?", screenshot=sha)
    answer = message(device_id, chat.id, f"{MARK} is an island.")
    shot = screenshot(sha, size=len(picture))
    records = [shot, chat, renamed, question, answer]
    assert all(r["status"] == "applied" for r in conn.push_payloads(*records))
    assert put_blob(conn, sha, picture)["complete"] is True
    needles = [MARK.encode(), sha.encode()]
    # The test can fail: the clear copies are there before.
    srv.server.db.checkpoint()
    assert _files_containing(srv.data_dir, needles[:1]) != []
    assert MARK.encode() in _dump(database_url) or database_url is None

    turn_on(conn)
    blob_id, sealed_bytes = sealed_picture(picture)
    results = conn.push(*(op(sealed(r)) for r in records))["results"]
    assert [r["status"] for r in results] == ["applied"] * len(records)
    assert put_blob(conn, blob_id, sealed_bytes)["complete"] is True
    srv.server.db.checkpoint()

    assert _files_containing(srv.data_dir, needles) == []
    dump = _dump(database_url)
    assert [n for n in needles if n in dump] == []
    # And a second device gets every record back, sealed, and opens them.
    _, phone = connect()
    changes, _ = phone.pull_all()
    assert [opened(c["payload"]) for c in changes] == [r.to_wire() for r in records]
    assert get_blob(phone, blob_id) == sealed_bytes


def test_a_device_that_does_not_read_picture_text_gets_no_sealed_one(connect: Connect) -> None:
    _, reader = connect()
    _, older = connect(("e2ee",))  # speaks e2ee, not picture_text (5.1)
    turn_on(reader)
    assert older.recv()["type"] == "keys"
    blob_id, _ = sealed_picture(b"picture")
    text = sealed_text(blob_id, '{"type": "picture_text"}')
    shot = sealed(screenshot("cd" * 32))
    assert [r["seq"] for r in reader.push(op(text), op(shot))["results"]] == [1, 2]
    live = older.next_live()
    assert (live["cursor"], [c["payload"] for c in live["changes"]]) == (2, [shot])
    page = older.pull(0)
    assert (page["cursor"], [c["payload"] for c in page["changes"]]) == (2, [shot])
    assert [c["payload"] for c in reader.pull(0)["changes"]] == [text, shot]
