"""Starting sync over (server data loss, sign-out), the last-synced time, and lazy blobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from snapask_desktop.store import BlobCorrupt, ImageRejected, InvalidInput, Store
from tests.store.helpers import add_pending_message, png_bytes
from tests.store.sync_fixtures import (
    ServerLog,
    StoreFactory,
    remote_conversation,
    screenshot_record,
    store_messages,
    store_states,
)


def _fill(store: Store) -> None:
    shot = store.add_screenshot(png_bytes(seed=1))
    first, _ = store.start_conversation("first", "q1", screenshot_sha256=shot.sha256)
    store.add_message(first.id, "model", "a1")
    second = store.create_conversation("second")
    add_pending_message(store, second.id, "draft")  # an older release's row: never sent
    store.delete_conversation(second.id)
    store.create_conversation("third")


def test_after_server_loss_every_record_is_queued_again_with_fresh_op_ids(
    tmp_path: Path,
) -> None:
    factory = StoreFactory(tmp_path)
    store = factory.new()
    _fill(store)
    old_log = ServerLog()
    old_log.push(store)  # everything was sent and acknowledged once
    old_log.catch_up(store)
    assert (store.outbox_count(), store.sync_cursor()) == (0, old_log.head)
    store.create_conversation("unsent")  # one op still queued
    queued_before = {op.op_id for op in store.outbox_pending()}

    count = store.reset_sync_after_server_loss()

    ops = store.outbox_pending(limit=1000)
    assert count == len(ops) == 1 + 4 + 2  # screenshot, conversations, final messages
    assert [op.record_type for op in ops] == ["screenshot"] + ["conversation"] * 4 + ["message"] * 2
    ids = {op.op_id for op in ops}
    assert len(ids) == count and not ids & (set(old_log.op_seqs) | queued_before)
    assert store.sync_cursor() == 0
    states = store_states(store)
    for op in ops:
        if op.record_type == "conversation":
            assert op.payload == states[op.record_id].to_wire()
    # A new server gets everything; a new device that pulls from it holds the same records.
    new_log = ServerLog()
    new_log.push(store)
    other = factory.new()
    new_log.catch_up(other)
    new_log.catch_up(store)
    assert store_states(other) == store_states(store)
    assert store_messages(other) == store_messages(store)
    assert store.outbox_count() == other.outbox_count() == 0


def test_forgetting_sync_state_keeps_records_and_queues_them_for_the_next_server(
    store: Store,
) -> None:
    _fill(store)
    store.apply_changes([], 12)
    store.mark_synced(1_795_000_000_000)
    assert store.last_synced_at() == 1_795_000_000_000
    conversations_before = store_states(store)

    store.forget_sync_state()

    assert store.sync_cursor() == 0 and store.last_synced_at() is None
    assert store.outbox_count() == 1 + 3 + 2  # screenshot, conversations, final messages
    assert store_states(store) == conversations_before


def test_mark_synced_checks_its_time(store: Store) -> None:
    assert store.last_synced_at() is None
    store.mark_synced()
    assert store.last_synced_at() is not None
    with pytest.raises(InvalidInput):
        store.mark_synced(-1)


# ---------------------------------------------------------------------- blobs


def test_a_synced_picture_is_missing_until_its_bytes_are_put(store: Store) -> None:
    data = png_bytes(seed=5)
    sha = hashlib.sha256(data).hexdigest()
    assert store.missing_blob(sha) is False  # not even known
    record = screenshot_record(sha, len(data), width=320, height=200)
    log = ServerLog()
    log.add(record)
    log.add(remote_conversation("with picture"))
    log.catch_up(store)
    assert store.missing_blob(sha) is True

    with pytest.raises(BlobCorrupt, match="do not match"):
        store.put_blob(sha, png_bytes(seed=6))
    assert store.missing_blob(sha) is True

    store.put_blob(sha, data)

    assert store.missing_blob(sha) is False
    assert store.screenshot_bytes(sha, verify=True) == data
    assert store.thumbnail_path(sha).is_file()
    store.put_blob(sha, data)  # again: nothing changes


def test_bytes_that_are_not_the_recorded_kind_of_picture_are_refused(store: Store) -> None:
    data = png_bytes(seed=7)
    sha = hashlib.sha256(data).hexdigest()
    record = screenshot_record(sha, len(data), width=320, height=200, mime="image/jpeg")
    store.apply_changes([ServerLog().add(record)], 1)
    with pytest.raises(ImageRejected, match="image/png"):
        store.put_blob(sha, data)
    assert store.missing_blob(sha) is True
    assert not list((store.data_dir / "blobs").rglob("*.png"))


def test_bytes_that_are_no_picture_are_refused(store: Store) -> None:
    data = b"not a picture at all"
    with pytest.raises(ImageRejected):
        store.put_blob(hashlib.sha256(data).hexdigest(), data)
    with pytest.raises(InvalidInput):
        store.missing_blob("not-a-hash")


def test_a_key_rotation_queues_every_record_again_in_steps_keeping_the_cursor_and_the_outbox(
    tmp_path: Path,
) -> None:
    factory = StoreFactory(tmp_path)
    store = factory.new()
    _fill(store)
    store.set_screenshot_text(hashlib.sha256(png_bytes(seed=1)).hexdigest(), "read", "tess 5")
    log = ServerLog()
    log.push(store)
    log.catch_up(store)
    cursor = store.sync_cursor()
    assert store.outbox_count() == 0 and cursor > 0
    unsent = store.create_conversation("unsent")  # an edit still queued stays queued, alone
    queued_before = [op.op_id for op in store.outbox_pending()]

    count = store.requeue_records(step=2)  # steps smaller than every kind's count

    ops = store.outbox_pending(limit=1000)
    assert [op.op_id for op in ops[: len(queued_before)]] == queued_before
    again = ops[len(queued_before) :]
    assert count == len(again) == 1 + 3 + 2 + 1  # no pending message, no second "unsent"
    assert [op.record_type for op in again] == (
        ["screenshot"] + ["conversation"] * 3 + ["message"] * 2 + ["picture_text"]
    )
    assert store.sync_cursor() == cursor  # nothing to pull again
    states = store_states(store)
    conversations = [op for op in again if op.record_type == "conversation"]
    assert {op.record_id for op in conversations} == set(states) - {unsent.id}
    for op in conversations:
        assert op.payload == states[op.record_id].to_wire()
    # Sent again, they change nothing on another device.
    log.push(store)
    other = factory.new()
    log.catch_up(other)
    assert store_states(other) == store_states(store)
    assert store_messages(other) == store_messages(store)
