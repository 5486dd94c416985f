"""The outbox: exact payload shapes, one transaction with the record, ack/fail, clocks."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from snapask_desktop.store import NotFound, Store, StoreError
from snapask_desktop.sync.clock import Stamp, vv_compare
from snapask_desktop.sync.records import FieldStamp
from tests.store.helpers import outbox_payloads, png_bytes, rows
from tests.store.sync_fixtures import state_of

CONVERSATION_KEYS = {
    "type", "id", "title", "pinned", "archived", "deleted", "created_at", "updated_at",
    "vv", "hlc", "field_hlc", "device",
}  # fmt: skip
MESSAGE_KEYS = {
    "type", "id", "conversation_id", "role", "text", "model", "status", "screenshot_sha256",
    "hlc", "device", "created_at",
}  # fmt: skip
SCREENSHOT_KEYS = {"type", "sha256", "size_bytes", "width", "height", "mime"}


def test_payloads_have_exactly_the_agreed_shape(store: Store) -> None:
    conversation = store.create_conversation("Shape")
    shot = store.add_screenshot(png_bytes())
    message = store.add_message(
        conversation.id, "user", "q", screenshot_sha256=shot.sha256, model=None
    )
    stamped = state_of(store, conversation.id).hlc
    [conv_payload] = outbox_payloads(store.path, "conversation")
    [message_payload] = outbox_payloads(store.path, "message")
    [shot_payload] = outbox_payloads(store.path, "screenshot")
    assert set(conv_payload) == CONVERSATION_KEYS
    assert set(message_payload) == MESSAGE_KEYS
    assert set(shot_payload) == SCREENSHOT_KEYS
    assert conv_payload == {
        "type": "conversation",
        "id": conversation.id,
        "title": "Shape",
        "pinned": False,
        "archived": False,
        "deleted": False,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "vv": {store.device_id: 1},
        "hlc": stamped,
        "field_hlc": {
            name: [stamped, store.device_id] for name in ("title", "pinned", "archived", "deleted")
        },
        "device": store.device_id,
    }
    assert message_payload == {
        "type": "message",
        "id": message.id,
        "conversation_id": conversation.id,
        "role": "user",
        "text": "q",
        "model": None,
        "status": "final",
        "screenshot_sha256": shot.sha256,
        "hlc": message.hlc,
        "device": store.device_id,
        "created_at": message.created_at,
    }
    assert shot_payload == {
        "type": "screenshot",
        "sha256": shot.sha256,
        "size_bytes": shot.size_bytes,
        "width": 320,
        "height": 200,
        "mime": "image/png",
    }


def test_edit_bumps_vv_hlc_and_only_the_changed_field_stamps(store: Store) -> None:
    made = store.create_conversation("t")
    created = state_of(store, made.id)
    edited = store.update_conversation(made.id, title="t2", pinned=False)  # pinned unchanged
    renamed = state_of(store, made.id)
    assert renamed.vv == {store.device_id: 2}
    assert vv_compare(renamed.vv, created.vv).value == "after"
    assert renamed.hlc > created.hlc
    assert renamed.field_hlc["title"] == FieldStamp(renamed.hlc, store.device_id)
    for untouched in ("pinned", "archived", "deleted"):
        assert renamed.field_hlc[untouched] == created.field_hlc[untouched]
    assert edited.updated_at == renamed.updated_at >= created.updated_at
    store.delete_conversation(made.id)
    [tombstone] = rows(store.path, "SELECT vv, hlc, field_hlc FROM conversation")
    deleted_payload = outbox_payloads(store.path, "conversation")[-1]
    assert deleted_payload["deleted"] is True
    assert deleted_payload["vv"] == {store.device_id: 3}
    assert deleted_payload["field_hlc"]["deleted"] == [deleted_payload["hlc"], store.device_id]
    assert deleted_payload["field_hlc"]["title"] == renamed.field_hlc["title"].to_wire()
    assert tombstone["hlc"] == deleted_payload["hlc"] > renamed.hlc


def test_an_edit_that_changes_nothing_writes_nothing(store: Store) -> None:
    created = store.create_conversation("same")
    again = store.update_conversation(created.id, title="same", pinned=False, archived=False)
    assert again == created
    assert store.outbox_count() == 1


def test_every_op_payload_matches_the_record_it_describes(store: Store) -> None:
    conversation = store.create_conversation("a")
    store.update_conversation(conversation.id, pinned=True)
    latest = store.update_conversation(conversation.id, title="b")
    stored = outbox_payloads(store.path, "conversation")
    assert [p["vv"][store.device_id] for p in stored] == [3]  # the newest state replaced older
    assert stored[-1]["title"] == latest.title and stored[-1]["pinned"] is True
    assert stored[-1]["hlc"] == state_of(store, latest.id).hlc


@pytest.fixture
def outbox_refuses_more(store: Store) -> Store:
    """A store whose next outbox insert of any record type fails inside SQLite.

    One op of each type is already queued; a trigger then aborts every further insert, a
    failure inside the record's own transaction (after any older op was dropped in it).
    """
    conversation = store.create_conversation("first")
    shot = store.add_screenshot(png_bytes(seed=1))
    store.add_message(conversation.id, "user", "first message", screenshot_sha256=shot.sha256)
    connection = sqlite3.connect(store.path)
    connection.execute(
        "CREATE TRIGGER test_refuse_ops BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'outbox refuses more'); END"
    )
    connection.commit()
    connection.close()
    return store


def _snapshot(store: Store) -> dict[str, list[dict[str, object]]]:
    return {
        table: rows(store.path, f"SELECT * FROM {table} ORDER BY rowid")
        for table in ("conversation", "message", "screenshot", "outbox")
    }


def test_record_and_outbox_are_one_transaction(outbox_refuses_more: Store) -> None:
    store = outbox_refuses_more
    [existing] = store.list_conversations()
    before = _snapshot(store)
    attempts = [
        lambda: store.create_conversation("second"),
        lambda: store.update_conversation(existing.id, title="renamed"),
        lambda: store.delete_conversation(existing.id),
        lambda: store.add_message(existing.id, "model", "an answer"),
        lambda: store.add_screenshot(png_bytes(seed=2)),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError, match="outbox refuses more"):
            attempt()
        assert _snapshot(store) == before
    assert store.search("renamed") == [] and store.search("answer") == []


def test_ack_and_failed(store: Store) -> None:
    for title in ("a", "b", "c"):
        store.create_conversation(title)
    ops = store.outbox_pending(limit=10)
    assert [op.payload["title"] for op in ops] == ["a", "b", "c"]
    assert [op.seq for op in ops] == sorted(op.seq for op in ops)
    assert store.outbox_failed(ops[0].op_id, "connection refused") == 1
    assert store.outbox_failed(ops[0].op_id, "timeout " * 1000) == 2
    first = store.outbox_pending(limit=1)[0]
    assert (first.op_id, first.attempts) == (ops[0].op_id, 2)
    assert first.last_error is not None and len(first.last_error) <= 2000
    assert store.outbox_ack([ops[0].op_id, ops[1].op_id]) == 2
    assert store.outbox_ack([ops[0].op_id, str(uuid.uuid4())]) == 0  # repeats are harmless
    assert [op.op_id for op in store.outbox_pending()] == [ops[2].op_id]
    assert store.outbox_count() == 1
    with pytest.raises(NotFound):
        store.outbox_failed(ops[0].op_id, "late")


def test_listeners_hear_local_changes_not_sync_bookkeeping(store: Store) -> None:
    heard: list[int] = []
    store.add_change_listener(lambda: heard.append(store.outbox_count()))
    conversation = store.create_conversation("a")
    renamed = store.update_conversation(conversation.id, title="b", pinned=True)
    store.delete_conversation(conversation.id)
    restored = store.restore_conversation(conversation.id)
    assert heard == [1, 1, 1, 1]  # after each commit, its op already queued
    assert (renamed.title, renamed.pinned, renamed.deleted) == ("b", True, False)
    assert restored == store.get_conversation(conversation.id).conversation
    assert renamed.last_activity_at == conversation.last_activity_at
    # Acknowledging what sync sent is no local change: no wake-up of sync for it.
    store.outbox_ack([op.op_id for op in store.outbox_pending()])
    store.outbox_ack([str(uuid.uuid4())] * 600)  # more ids than one statement takes
    assert heard == [1, 1, 1, 1] and store.outbox_count() == 0
    with pytest.raises(NotFound):
        store.update_conversation(str(uuid.uuid4()), title="x")
    store.delete_conversation(conversation.id)
    with pytest.raises(NotFound):  # a deleted conversation is restored, not edited
        store.update_conversation(conversation.id, title="x")


def _set_hlc(db_path: Path, table: str, value: int) -> None:
    connection = sqlite3.connect(db_path)
    connection.execute(f"UPDATE {table} SET hlc = ?", (value,))
    connection.commit()
    connection.close()


def test_clock_is_seeded_from_the_database_after_restart(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        conversation = store.create_conversation("t")
        store.add_message(conversation.id, "user", "first")
        stamped = state_of(store, conversation.id).hlc
    # As if sync had stored changes stamped by a clock minutes ahead of ours.
    wall = Stamp.unpack(stamped).wall_ms
    ahead = Stamp(wall + 600_000, 7).pack()
    further = Stamp(wall + 900_000, 0).pack()
    _set_hlc(data_dir / "snapask.db", "conversation", ahead)
    with Store.open(data_dir) as store:
        assert store.clock.last == ahead
        store.update_conversation(conversation.id, title="after restart")
        assert state_of(store, conversation.id).hlc > ahead
    _set_hlc(data_dir / "snapask.db", "message", further)
    with Store.open(data_dir) as store:
        assert store.clock.last == further
        message = store.add_message(conversation.id, "user", "later")
    assert message.hlc > further


def test_newer_conversation_state_replaces_older_pending_ops(store: Store) -> None:
    """State-based ops: only the newest state of a conversation needs sending."""
    conversation = store.create_conversation("first")
    other = store.create_conversation("other")
    message = store.add_message(conversation.id, "user", "hello")
    for n in range(20):
        store.update_conversation(conversation.id, title=f"title {n}")
    store.update_conversation(conversation.id, pinned=True)
    ops = [(op.record_type, op.record_id) for op in store.outbox_pending(limit=100)]
    assert ops == [
        ("conversation", other.id),
        ("message", message.id),
        ("conversation", conversation.id),
    ]
    newest = store.outbox_pending(limit=100)[-1].payload
    assert newest["title"] == "title 19" and newest["pinned"] is True
    assert newest["vv"] == state_of(store, conversation.id).vv
