"""Undo of a delete: restore_conversation clears the tombstone as a new synced edit."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from snapask_desktop.store import NotFound, Store, StoreError
from snapask_desktop.sync.clock import vv_compare
from snapask_desktop.sync.records import FieldStamp
from tests.store.helpers import outbox_payloads, rows
from tests.store.sync_fixtures import state_of


def test_restore_brings_a_deleted_conversation_back_everywhere(store: Store) -> None:
    conversation = store.create_conversation("Invoice question")
    store.add_message(conversation.id, "user", "what is the total amount")
    store.delete_conversation(conversation.id)
    assert store.list_conversations() == []

    restored = store.restore_conversation(conversation.id)

    assert restored.deleted is False and restored.title == "Invoice question"
    assert [s.id for s in store.list_conversations()] == [conversation.id]
    assert [hit.summary.id for hit in store.search("total")] == [conversation.id]
    assert store.get_conversation(conversation.id).conversation == restored
    assert len(store.get_conversation(conversation.id).messages) == 1


def test_restore_is_a_new_edit_with_hlc_vv_stamp_and_outbox_op(store: Store) -> None:
    made = store.create_conversation("t")
    created = state_of(store, made.id)
    store.delete_conversation(made.id)
    deleted = outbox_payloads(store.path, "conversation")[-1]

    shown = store.restore_conversation(made.id)
    restored = state_of(store, made.id)

    assert not shown.deleted and shown.updated_at == restored.updated_at
    assert restored.vv == {store.device_id: 3}
    assert vv_compare(restored.vv, deleted["vv"]).value == "after"
    assert restored.hlc > deleted["hlc"]
    assert restored.field_hlc["deleted"] == FieldStamp(restored.hlc, store.device_id)
    # Only the deleted field is stamped anew; the others keep their creation stamps.
    for untouched in ("title", "pinned", "archived"):
        assert restored.field_hlc[untouched] == created.field_hlc[untouched]
    payloads = outbox_payloads(store.path, "conversation")
    assert len(payloads) == 1  # the newest state replaced the create and delete ops
    assert payloads[-1]["deleted"] is False
    assert payloads[-1]["hlc"] == restored.hlc
    assert payloads[-1]["vv"] == restored.vv
    [row] = rows(store.path, "SELECT deleted, hlc FROM conversation WHERE id = ?", created.id)
    assert row == {"deleted": 0, "hlc": restored.hlc}


def test_restoring_a_live_conversation_writes_nothing(store: Store) -> None:
    created = store.create_conversation("alive")
    assert store.restore_conversation(created.id) == created
    assert store.outbox_count() == 1


def test_restore_of_unknown_ids_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.restore_conversation(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        store.restore_conversation("not-an-id")


def test_restore_and_its_outbox_op_are_one_transaction(store: Store) -> None:
    created = store.create_conversation("first")
    store.delete_conversation(created.id)
    # A trigger makes the next outbox insert fail inside the restore's transaction.
    connection = sqlite3.connect(store.path)
    connection.execute(
        "CREATE TRIGGER test_refuse_ops BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'outbox refuses more'); END"
    )
    connection.commit()
    connection.close()
    ops_before = store.outbox_count()

    with pytest.raises(StoreError, match="outbox refuses more"):
        store.restore_conversation(created.id)
    assert store.outbox_count() == ops_before  # the dropped older op came back too

    [row] = rows(store.path, "SELECT deleted FROM conversation WHERE id = ?", created.id)
    assert row == {"deleted": 1}
    assert store.list_conversations() == []
