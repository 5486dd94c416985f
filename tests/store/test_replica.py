"""Applying synced changes to a real store (sync-protocol.md section 8 "Device", 9 and 10)."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import uuid
from pathlib import Path

import pytest

from snapask_desktop.store import InvalidInput, NotFound, Store
from snapask_desktop.sync.clock import COUNTER_BITS, wall_clock_ms
from snapask_desktop.sync.limits import MAX_DRIFT_MS
from snapask_desktop.sync.merge import merge_conversation, merge_states
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import FieldStamp, PurgeRecord
from tests.store.helpers import add_pending_message, png_bytes, rows
from tests.store.sync_fixtures import (
    PHONE,
    TABLET,
    ServerLog,
    StoreFactory,
    an_hour_ago,
    remote_conversation,
    remote_edit,
    remote_message,
    screenshot_record,
    state_of,
    store_messages,
    store_states,
)

TABLES = ("conversation", "message", "screenshot", "outbox", "conflict", "sync_problem")


def snapshot(store: Store) -> dict[str, list[dict[str, object]]]:
    return {table: rows(store.path, f"SELECT * FROM {table} ORDER BY rowid") for table in TABLES}


def change(seq: int, payload: object, device: str | None = PHONE) -> Change:
    return Change(seq, str(uuid.uuid4()), device, payload)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- conversations


def test_an_unknown_conversation_is_inserted_with_its_writer(store: Store) -> None:
    remote = remote_conversation("Invoice from the phone")
    report = store.apply_changes([change(1, remote)], 1)

    assert report.cursor == 1 == store.sync_cursor()
    assert (report.applied, report.changed_conversations) == (1, frozenset({remote.id}))
    assert report.conflicts == () and report.restored == () and not report.wrote_ops
    shown = store.get_conversation(remote.id).conversation
    assert shown.title == "Invoice from the phone"
    assert state_of(store, remote.id) == remote
    assert [s.id for s in store.list_conversations()] == [remote.id]
    assert [h.summary.id for h in store.search("invoice")] == [remote.id]
    assert store.outbox_count() == 0  # applying is not a local change


def test_a_dominating_state_replaces_the_local_one_and_a_dominated_one_changes_nothing(
    store: Store,
) -> None:
    t = an_hour_ago()
    first = remote_conversation("Draft", at=t)
    second = remote_edit(first, at=t + 1000, title="Final", pinned=True)
    store.apply_changes([change(1, first), change(2, second)], 2)
    assert state_of(store, first.id) == second

    before = snapshot(store)
    report = store.apply_changes([change(3, first)], 3)  # an old state delivered again
    assert report.changed_conversations == frozenset() and report.conflicts == ()
    assert snapshot(store) == before
    assert store.sync_cursor() == 3


def test_concurrent_renames_keep_the_later_write_and_record_the_loser(store: Store) -> None:
    """The worked example of sync-protocol.md 9.2 and 11, with this store as the laptop."""
    log = ServerLog()
    created = store.create_conversation("Error dialog")
    log.push(store)
    store.apply_changes(log.after(0), log.head)  # its own echo
    base = state_of(store, created.id)
    store.update_conversation(created.id, title="Setup dialog")
    mine = mine_state = state_of(store, created.id)
    theirs = remote_edit(base, at=wall_clock_ms() + 1000, title="Installer error 0x80070005")
    log.add(theirs)

    report = store.apply_changes(log.after(1), log.head)

    [conflict] = report.conflicts
    assert conflict.conversation_id == created.id and conflict.field == "title"
    assert conflict.losing_value == "Setup dialog"
    assert conflict.losing_stamp == FieldStamp(mine.hlc, store.device_id)
    assert conflict.winning_value == "Installer error 0x80070005"
    assert conflict.winning_stamp == FieldStamp(theirs.hlc, PHONE)
    assert store.conflicts(created.id) == [conflict] == store.conflicts()
    merged = merge_conversation(mine_state, theirs)  # the pure rule gives the same
    assert state_of(store, created.id) == merged.state
    shown = store.get_conversation(created.id).conversation
    assert shown.title == "Installer error 0x80070005"
    stored = state_of(store, created.id)
    assert stored.vv == {store.device_id: 2, PHONE: 1} and stored.device == PHONE
    assert report.changed_conversations == {created.id}


def test_a_local_delete_concurrent_with_a_remote_edit_is_cancelled_and_reported(
    store: Store,
) -> None:
    log = ServerLog()
    created = store.create_conversation("Receipt")
    log.push(store)
    store.apply_changes(log.after(0), log.head)
    base = state_of(store, created.id)
    store.delete_conversation(created.id)
    delete_stamp = state_of(store, created.id).field_hlc["deleted"]
    # (the phone's clock may even be behind the delete's: only the vectors decide)
    log.add(remote_edit(base, at=(base.hlc >> COUNTER_BITS) + 1, title="Receipt, March"))

    report = store.apply_changes(log.after(1), log.head)

    [conflict] = report.conflicts
    assert (conflict.field, conflict.losing_value, conflict.winning_value) == (
        "deleted",
        True,
        False,
    )
    assert conflict.losing_stamp == conflict.winning_stamp == delete_stamp
    shown = store.get_conversation(created.id).conversation  # kept: no data loss
    assert (shown.deleted, shown.title) == (False, "Receipt, March")
    assert [s.id for s in store.list_conversations()] == [created.id]


def test_a_remote_delete_concurrent_with_a_local_edit_is_cancelled_too(store: Store) -> None:
    log = ServerLog()
    created = store.create_conversation("Chart")
    log.push(store)
    store.apply_changes(log.after(0), log.head)
    base = state_of(store, created.id)
    store.update_conversation(created.id, pinned=True)
    log.add(remote_edit(base, at=wall_clock_ms() + 500, deleted=True))

    report = store.apply_changes(log.after(1), log.head)

    assert [c.field for c in report.conflicts] == ["deleted"]
    shown = store.get_conversation(created.id).conversation
    assert (shown.deleted, shown.pinned) == (False, True)


def test_a_delete_that_saw_everything_holds(store: Store) -> None:
    t = an_hour_ago()
    remote = remote_conversation("Old", at=t)
    store.apply_changes([change(1, remote)], 1)
    report = store.apply_changes([change(2, remote_edit(remote, at=t + 10, deleted=True))], 2)
    assert report.conflicts == () and report.changed_conversations == {remote.id}
    assert store.list_conversations() == []
    with pytest.raises(NotFound):
        store.get_conversation(remote.id)


# ---------------------------------------------------------------------- messages


def test_a_new_message_restores_a_conversation_this_device_deleted(store: Store) -> None:
    log = ServerLog()
    conversation, question = store.start_conversation("Trip", "Which platform?")
    log.push(store)
    store.apply_changes(log.after(0), log.head)
    store.delete_conversation(conversation.id)
    ops_before = store.outbox_count()
    # The phone answered before it saw the delete (its stamp is older than the delete's).
    answer = remote_message(conversation.id, "Platform 9", at=(question.hlc >> COUNTER_BITS) + 1)
    log.add(answer)

    report = store.apply_changes(log.after(log.head - 1), log.head)

    assert report.restored == (conversation.id,) and report.wrote_ops
    assert report.changed_conversations == {conversation.id}
    detail = store.get_conversation(conversation.id)
    assert detail.conversation.deleted is False
    assert [m.text for m in detail.messages] == ["Which platform?", "Platform 9"]
    stored = state_of(store, conversation.id)
    assert stored.field_hlc["deleted"].device == store.device_id
    assert stored.vv == {store.device_id: 3}
    # The restore is a local edit with its op (it replaced the pending delete op).
    assert store.outbox_count() == ops_before
    [op] = [op for op in store.outbox_pending() if op.record_type == "conversation"]
    assert op.payload["deleted"] is False and op.payload["vv"] == {store.device_id: 3}


def test_the_restore_rule_for_a_delete_written_elsewhere(store: Store) -> None:
    t = an_hour_ago()
    remote = remote_conversation("Shared", at=t)
    deleted = remote_edit(remote, at=t + 10_000, deleted=True)
    seen_before = remote_message(remote.id, "old", device=TABLET, at=t + 5_000)
    written_after = remote_message(remote.id, "new", device=TABLET, at=t + 20_000)

    first = store.apply_changes([change(1, remote), change(2, deleted), change(3, seen_before)], 3)
    assert first.restored == () and store.list_conversations() == []
    second = store.apply_changes([change(4, written_after)], 4)
    assert second.restored == (remote.id,)
    assert not second.wrote_ops  # a cancelled delete, not an edit of this device (9.6.1)
    assert state_of(store, remote.id).vv == deleted.vv
    assert [m.text for m in store.get_conversation(remote.id).messages] == ["old", "new"]


LAPTOP = "7fe4598c-c82a-4242-ada4-5cb4445b5464"


def _delete_restore_delete_log() -> tuple[ServerLog, str]:
    """Issue 14's history: seq 1 laptop creates C; seq 2 laptop deletes it; seq 3 the phone,
    offline, writes a message stamped after the delete; seq 4 the laptop restores C for it
    (rule 9.6 as it was); seq 5 the laptop deletes C again, knowing everything."""
    t = an_hour_ago()
    log = ServerLog()
    base = remote_conversation("Shared", device=LAPTOP, at=t)
    first_delete = remote_edit(base, device=LAPTOP, at=t + 1_000, deleted=True)
    restored = remote_edit(first_delete, device=LAPTOP, at=t + 3_000, deleted=False)
    log.add(base, LAPTOP)
    log.add(first_delete, LAPTOP)
    log.add(remote_message(base.id, "one more thing", at=t + 2_000), PHONE)
    log.add(restored, LAPTOP)
    log.add(remote_edit(restored, device=LAPTOP, at=t + 4_000, deleted=True), LAPTOP)
    return log, base.id


@pytest.mark.parametrize("page", [1, 2, 5])
def test_a_late_joining_device_replays_a_delete_restore_delete_without_writing(
    store: Store, page: int
) -> None:
    """Replaying history must not turn an old restore into a fresh edit that beats the
    later delete (it came back on every device)."""
    log, cid = _delete_restore_delete_log()
    reports = log.catch_up(store, limit=page)
    assert store.outbox_count() == 0 and not any(r.wrote_ops for r in reports)
    assert state_of(store, cid) == log.changes[-1].payload  # exactly the last delete
    assert store.list_conversations() == []
    assert all(r.restored == () for r in reports[-1:])  # no "kept" notice for a deleted one


def test_a_message_newer_than_a_delete_cancels_it_without_an_edit(store: Store) -> None:
    """Rule 9.6.1 is derived state: the same on every replica, whatever the order."""
    t = an_hour_ago()
    base = remote_conversation("Shared", device=LAPTOP, at=t)
    deleted = remote_edit(base, device=LAPTOP, at=t + 1_000, deleted=True)
    newer = remote_message(base.id, "written after the delete", at=t + 2_000)
    # The message first, then the delete (the writer of the message, or a relayed order).
    report = store.apply_changes([change(1, base), change(2, newer), change(3, deleted)], 3)
    assert not report.wrote_ops and store.outbox_count() == 0
    kept = state_of(store, base.id)
    assert kept.deleted is False and kept.field_hlc == deleted.field_hlc
    assert kept.vv == deleted.vv  # no entry of this device: nothing for a later delete to miss
    assert [s.id for s in store.list_conversations()] == [base.id]
    # A delete written after seeing the message (so on the kept state) stands.
    again = remote_edit(kept, device=LAPTOP, at=t + 3_000, deleted=True)
    store.apply_changes([change(4, again)], 4)
    assert store.list_conversations() == [] and store.outbox_count() == 0


def test_a_message_before_its_conversation_waits_out_of_sight(store: Store) -> None:
    t = an_hour_ago()
    remote = remote_conversation("Late title", at=t)
    early = remote_message(remote.id, "zebrafish question", at=t + 5_000, sha="a" * 64)

    report = store.apply_changes([change(1, early)], 1)

    assert report.changed_conversations == frozenset()  # nothing visible changed yet
    assert store.list_conversations() == [] and store.search("zebrafish") == []
    with pytest.raises(NotFound):
        store.get_conversation(remote.id)
    assert set(store_messages(store)) == {early.id}  # stored, with its unknown picture

    store.apply_changes([change(2, remote)], 2)

    [summary] = store.list_conversations()
    assert (summary.id, summary.message_count) == (remote.id, 1)
    assert summary.last_activity_hlc == early.hlc  # the message counts for the order
    assert [h.summary.id for h in store.search("zebrafish")] == [remote.id]


def test_history_and_search_ignore_messages_of_unknown_conversations(store: Store) -> None:
    mine = store.create_conversation("Mine")
    store.add_message(mine.id, "user", "quokka in my picture")
    orphan = remote_message(str(uuid.uuid4()), "quokka from nowhere", at=wall_clock_ms())
    store.apply_changes([change(1, orphan)], 1)
    assert [s.id for s in store.list_conversations()] == [mine.id]
    assert [(h.summary.id, h.snippet) for h in store.search("quokka")] == [
        (mine.id, "quokka in my picture")
    ]
    assert store.list_conversations()[0].message_count == 1


def test_the_same_message_again_is_nothing_and_other_content_is_a_kept_mismatch(
    store: Store,
) -> None:
    conversation = store.create_conversation("Mine")
    local = store.add_message(conversation.id, "user", "the original")
    same = remote_message(
        conversation.id, "the original", device=store.device_id, at=0, message_id=local.id
    )
    same = same.__class__(**{**_fields(same), "hlc": local.hlc, "created_at": local.created_at})
    other = same.__class__(**{**_fields(same), "text": "a forged version"})
    shot = store.add_screenshot(png_bytes(seed=3))
    wrong_shape = screenshot_record(shot.sha256, size=shot.size_bytes)

    page = [change(1, same), change(2, other), change(3, wrong_shape)]
    report = store.apply_changes(page, 3)

    assert report.changed_conversations == frozenset()
    kept = [(p.code, p.record_type, p.record_id, p.op_id) for p in report.mismatches]
    assert kept == [
        ("message_mismatch", "message", local.id, page[1].op_id),
        ("screenshot_mismatch", "screenshot", shot.sha256, page[2].op_id),
    ]
    assert store.sync_problems()[::-1] == list(report.mismatches)  # kept for the user
    assert [m.text for m in store.get_conversation(conversation.id).messages] == ["the original"]
    assert store.screenshot_info(shot.sha256).width == 320  # the local metadata is kept


def _fields(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}  # type: ignore[attr-defined]


def test_a_local_pending_message_gives_way_to_its_sent_version(store: Store) -> None:
    """A device restored from an old copy of its database: the server has the real one."""
    conversation = store.create_conversation("Backup")
    pending = add_pending_message(store, conversation.id, "half typed")  # an older release's
    sent = remote_message(
        conversation.id, "fully typed", device=store.device_id, message_id=pending
    )
    report = store.apply_changes([change(1, sent, store.device_id)], 1)
    assert report.mismatches == () and report.changed_conversations == {conversation.id}
    [message] = store.get_conversation(conversation.id).messages
    assert (message.text, message.status, message.hlc) == ("fully typed", "final", sent.hlc)


# ---------------------------------------------------------------------- delivery


def test_own_echoes_change_nothing_but_the_cursor(store: Store) -> None:
    log = ServerLog()
    shot = store.add_screenshot(png_bytes(seed=1))
    conversation, _ = store.start_conversation("Echo", "hello?", screenshot_sha256=shot.sha256)
    store.add_message(conversation.id, "model", "hello!")
    store.update_conversation(conversation.id, title="Echo chamber", pinned=True)
    log.push(store)
    before = snapshot(store)

    report = store.apply_changes(log.after(0), log.head)

    assert report.applied == log.head == 4 and report.cursor == 4
    assert report.changed_conversations == frozenset() and report.conflicts == ()
    assert report.mismatches == () and not report.wrote_ops
    assert snapshot(store) == before


def test_duplicated_and_reordered_delivery_ends_in_the_same_state(
    tmp_path: Path,
) -> None:
    factory = StoreFactory(tmp_path)
    t = an_hour_ago()
    base = remote_conversation("Base", at=t)
    by_phone = remote_edit(base, at=t + 1_000, title="Phone title")
    by_tablet = remote_edit(base, device=TABLET, at=t + 2_000, pinned=True, deleted=True)
    then_phone = remote_edit(by_phone, at=t + 3_000, archived=True)
    # (older than the tablet's delete: no order of arrival makes them restore it, 9.6; the
    # restores that other orders cause converge through their ops, test_replica_convergence)
    messages = [remote_message(base.id, f"m{i}", at=t + 100 * i) for i in range(6)]
    payloads = [base, by_phone, by_tablet, then_phone, *messages]
    rng = random.Random(7)
    states, message_sets = [], []
    for _attempt in range(4):
        store = factory.new()
        delivery = payloads + rng.sample(payloads, 5)  # every payload, some twice
        rng.shuffle(delivery)
        for start in range(0, len(delivery), 3):  # several batches
            batch = [
                change(seq + 1, p) for seq, p in enumerate(delivery) if start <= seq < start + 3
            ]
            store.apply_changes(batch, batch[-1].seq)
        states.append(store_states(store))
        message_sets.append(set(store_messages(store)))
        store.close()
    expected = merge_states(merge_states(merge_states(base, by_phone), by_tablet), then_phone)
    assert states == [{base.id: expected}] * 4
    assert all(found == {m.id for m in messages} for found in message_sets)


def test_changes_at_or_below_the_cursor_are_skipped(store: Store) -> None:
    t = an_hour_ago()
    made = [remote_conversation(f"c{i}", at=t + i) for i in range(5)]
    store.apply_changes([change(i + 1, c) for i, c in enumerate(made[:3])], 3)
    report = store.apply_changes([change(i + 1, c) for i, c in enumerate(made)], 5)
    assert (report.applied, report.cursor) == (2, 5)
    assert report.changed_conversations == {made[3].id, made[4].id}


def test_a_bad_batch_is_refused_before_anything_is_written(store: Store) -> None:
    store.apply_changes([change(1, remote_conversation("one"))], 4)
    before = snapshot(store)
    fine = remote_conversation("fine")
    with pytest.raises(InvalidInput, match="never moves backwards"):
        store.apply_changes([], 3)
    with pytest.raises(InvalidInput, match="out of order"):
        store.apply_changes([change(6, fine), change(5, remote_conversation("x"))], 6)
    with pytest.raises(InvalidInput, match="out of order"):
        store.apply_changes([change(9, fine)], 8)
    with pytest.raises(InvalidInput, match="cursor"):
        store.apply_changes([], -1)
    pending = remote_message(str(uuid.uuid4()), "not sent yet")
    pending = pending.__class__(**{**_fields(pending), "status": "pending"})
    with pytest.raises(InvalidInput, match="final user or model message"):
        store.apply_changes([change(5, fine), change(6, pending)], 6)
    with pytest.raises(InvalidInput, match="no sync payload"):
        store.apply_changes([Change(5, str(uuid.uuid4()), PHONE, {"type": "x"})], 5)  # type: ignore[arg-type]
    assert snapshot(store) == before and store.sync_cursor() == 4


# ---------------------------------------------------------------------- clock skew


def test_a_stamp_too_far_ahead_stops_the_batch_just_before_it(store: Store) -> None:
    now = wall_clock_ms()
    fine = remote_conversation("fine", at=now - 1_000)
    ahead = remote_conversation("from the future", at=now + 10 * 60_000)
    after = remote_conversation("after it", at=now - 500)
    batch = [change(1, fine), change(2, ahead), change(3, after)]

    report = store.apply_changes(batch, 3, now_ms=now)

    assert (report.cursor, report.applied) == (1, 1) and store.sync_cursor() == 1
    assert report.skew_ahead_ms == 10 * 60_000
    assert [s.title for s in store.list_conversations()] == ["fine"]

    # Stopped at the first change: nothing applied, the cursor stays.
    again = store.apply_changes(batch[1:], 3, now_ms=now)
    assert (again.cursor, again.applied, again.skew_ahead_ms) == (1, 0, 10 * 60_000)

    # Once the local clock has caught up (within MAX_DRIFT_MS) the rest applies.
    later = store.apply_changes(batch[1:], 3, now_ms=now + 10 * 60_000 - MAX_DRIFT_MS)
    assert (later.cursor, later.applied, later.skew_ahead_ms) == (3, 2, None)
    assert {s.title for s in store.list_conversations()} == {"fine", "from the future", "after it"}
    # and this device's next stamps come after the one it accepted
    store.update_conversation(ahead.id, title="renamed")
    assert state_of(store, ahead.id).hlc > ahead.hlc


def test_a_message_stamped_too_far_ahead_stops_the_batch_too(store: Store) -> None:
    now = wall_clock_ms()
    remote = remote_conversation("c", at=now - 1_000)
    ahead = remote_message(remote.id, "hello from the future", at=now + MAX_DRIFT_MS + 1)
    report = store.apply_changes([change(7, remote), change(8, ahead)], 9, now_ms=now)
    assert (report.cursor, report.skew_ahead_ms) == (7, MAX_DRIFT_MS + 1)
    assert store.get_conversation(remote.id).messages == ()


def test_a_stamp_at_the_drift_limit_is_applied(store: Store) -> None:
    # The last stamp of the millisecond MAX_DRIFT_MS ahead is still within the limit.
    now = wall_clock_ms()
    remote = remote_conversation("c", at=now - 1_000)
    edge = remote_message(remote.id, "just in time", at=now + MAX_DRIFT_MS)
    edge = dataclasses.replace(edge, hlc=edge.hlc | ((1 << COUNTER_BITS) - 1))
    report = store.apply_changes([change(7, remote), change(8, edge)], 8, now_ms=now)
    assert (report.cursor, report.applied, report.skew_ahead_ms) == (8, 2, None)


def test_the_drift_limit_the_server_announced_is_the_one_used(store: Store) -> None:
    now = wall_clock_ms()
    early = remote_conversation("two minutes early", at=now + 2 * 60_000)
    report = store.apply_changes([change(1, early)], 1, now_ms=now, max_drift_ms=60_000)
    assert (report.cursor, report.applied, report.skew_ahead_ms) == (0, 0, 2 * 60_000)
    assert store.list_conversations() == []


# ---------------------------------------------------------------------- purge


def test_a_purge_removes_the_conversation_and_its_unused_pictures(store: Store) -> None:
    log = ServerLog()
    only_here = store.add_screenshot(png_bytes(seed=11))
    shared = store.add_screenshot(png_bytes(seed=12))
    gone, _ = store.start_conversation("Gone", "q1", screenshot_sha256=only_here.sha256)
    store.add_message(gone.id, "user", "q2 unicorn", screenshot_sha256=shared.sha256)
    kept, _ = store.start_conversation("Kept", "q3", screenshot_sha256=shared.sha256)
    log.push(store)
    store.apply_changes(log.after(0), log.head)
    base = state_of(store, gone.id)
    store.update_conversation(gone.id, title="Gone local")  # a pending op and a conflict
    log.add(remote_edit(base, at=wall_clock_ms() + 1000, title="Gone remote"))
    store.apply_changes(log.after(log.head - 1), log.head)
    assert store.conflicts(gone.id)
    blob_files = {p.name for p in (store.data_dir / "blobs").rglob("*.png")}
    assert blob_files == {f"{only_here.sha256}.png", f"{shared.sha256}.png"}

    purge = PurgeRecord(gone.id, (only_here.sha256, shared.sha256))
    report = store.apply_changes([change(log.head + 1, purge, None)], log.head + 1)

    assert report.changed_conversations == {gone.id}
    assert rows(store.path, "SELECT id FROM conversation") == [{"id": kept.id}]
    assert {m["text"] for m in rows(store.path, "SELECT text FROM message")} == {"q3"}
    assert store.conflicts() == [] and store.search("unicorn") == []
    assert [op.record_id for op in store.outbox_pending()] == []
    assert {r["sha256"] for r in rows(store.path, "SELECT sha256 FROM screenshot")} == {
        shared.sha256
    }
    assert {p.name for p in (store.data_dir / "blobs").rglob("*.png")} == {f"{shared.sha256}.png"}
    assert not store._blobs.thumbnail_path(only_here.sha256).exists()
    assert store.screenshot_bytes(shared.sha256, verify=True) == png_bytes(seed=12)


def test_a_purge_removes_the_pending_ops_of_its_records(store: Store) -> None:
    conversation, question = store.start_conversation("Offline", "never sent")
    ops = {op.record_id for op in store.outbox_pending()}
    assert ops == {conversation.id, question.id}
    store.apply_changes([change(1, PurgeRecord(conversation.id, ()), None)], 1)
    assert store.outbox_count() == 0
    assert rows(store.path, "SELECT count(*) AS n FROM message") == [{"n": 0}]


def test_a_purge_of_an_unknown_conversation_removes_its_orphan_messages(store: Store) -> None:
    cid = str(uuid.uuid4())
    store.apply_changes([change(1, remote_message(cid, "orphan"))], 1)
    store.apply_changes([change(2, PurgeRecord(cid, ()), None)], 2)
    assert store_messages(store) == {}


# ---------------------------------------------------------------------- local edits (9.4)


def test_local_edits_follow_the_pure_rules_after_a_merge(store: Store) -> None:
    """A state merged from another device whose clock ran ahead: the next local edit still
    stamps past every stamp in it and never moves updated_at backwards."""
    now = wall_clock_ms()
    ahead = remote_conversation("Ahead", at=now + 60_000)
    store.apply_changes([change(1, ahead)], 1)
    shown = store.update_conversation(ahead.id, title="Edited here")
    edited = state_of(store, ahead.id)
    assert shown.updated_at == edited.updated_at
    assert edited.hlc > ahead.hlc and edited.hlc >> COUNTER_BITS >= now + 60_000
    assert edited.updated_at == ahead.updated_at  # the remote's (later) wall time is kept
    assert edited.vv == {PHONE: 1, store.device_id: 1} and edited.device == store.device_id
    [op] = store.outbox_pending()
    assert op.payload["device"] == store.device_id and op.payload["vv"] == edited.vv


def test_applying_survives_a_reopen_and_a_second_process(data_dir: Path) -> None:
    remote = remote_conversation("persisted")
    with Store.open(data_dir) as store:
        store.apply_changes([change(1, remote)], 5)
    with Store.open(data_dir) as store:
        assert store.sync_cursor() == 5
        assert state_of(store, remote.id) == remote
    connection = sqlite3.connect(data_dir / "snapask.db")
    assert connection.execute("SELECT value FROM meta WHERE key = 'sync_cursor'").fetchone() == (
        "5",
    )
    connection.close()
