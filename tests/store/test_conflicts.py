"""Conflict records (sync-protocol.md 9.2, 9.3) and sync problems, between two real stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.store import InvalidInput, NotFound, Store
from snapask_desktop.sync.clock import Order, vv_compare
from tests.store.helpers import rows
from tests.store.sync_fixtures import ServerLog, StoreFactory, state_of
from tests.support.stamps import a_millisecond_later


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    factory = StoreFactory(tmp_path)
    laptop, phone = factory.new(), factory.new()
    yield laptop, phone
    laptop.close()
    phone.close()


def _sync(log: ServerLog, *stores: Store) -> None:
    """Everyone pushes, then everyone pulls, until nothing moves (restores may write ops)."""
    for _round in range(4):
        for store in stores:
            log.push(store)
        for store in stores:
            log.catch_up(store)
        if not any(store.outbox_count() for store in stores):
            return
    raise AssertionError("the stores kept writing ops")


def _concurrent_renames(laptop: Store, phone: Store) -> tuple[ServerLog, str]:
    log = ServerLog()
    created = laptop.create_conversation("Error dialog")
    _sync(log, laptop, phone)
    laptop.update_conversation(created.id, title="Setup dialog")  # both offline
    a_millisecond_later()  # the phone's rename is the later one
    phone.update_conversation(created.id, title="Installer error 0x80070005")
    _sync(log, laptop, phone)
    return log, created.id


def test_both_devices_keep_the_same_winner_and_a_conflict_record(
    pair: tuple[Store, Store],
) -> None:
    laptop, phone = pair
    _log, cid = _concurrent_renames(laptop, phone)
    assert state_of(laptop, cid) == state_of(phone, cid)
    assert laptop.get_conversation(cid).conversation.title == "Installer error 0x80070005"
    [on_laptop] = laptop.conflicts(cid)
    [on_phone] = phone.conflicts(cid)
    for record in (on_laptop, on_phone):
        assert (record.field, record.losing_value, record.winning_value) == (
            "title",
            "Setup dialog",
            "Installer error 0x80070005",
        )
        assert record.losing_stamp.device == laptop.device_id
        assert record.winning_stamp.device == phone.device_id
    assert laptop.conflicts(str(uuid.uuid4())) == []


def test_keeping_the_other_version_dominates_and_wins_everywhere(
    pair: tuple[Store, Store],
) -> None:
    laptop, phone = pair
    log, cid = _concurrent_renames(laptop, phone)
    [record] = laptop.conflicts(cid)
    before = state_of(laptop, cid)

    kept = laptop.keep_other_version(record.id)

    assert kept.title == "Setup dialog" and laptop.conflicts() == []
    after = state_of(laptop, cid)
    assert vv_compare(after.vv, before.vv) is Order.AFTER
    assert after.field_hlc["title"].device == laptop.device_id
    [op] = laptop.outbox_pending()
    assert op.payload == after.to_wire()
    _sync(log, laptop, phone)
    assert phone.get_conversation(cid).conversation.title == "Setup dialog"
    assert state_of(phone, cid) == state_of(laptop, cid)
    # The phone's record described a title both devices have since written over: gone too.
    assert phone.conflicts() == []


def test_keeping_the_other_version_of_a_cancelled_delete_deletes_again(
    pair: tuple[Store, Store],
) -> None:
    laptop, phone = pair
    log = ServerLog()
    created = laptop.create_conversation("Trip")
    _sync(log, laptop, phone)
    laptop.delete_conversation(created.id)
    phone.update_conversation(created.id, pinned=True)
    _sync(log, laptop, phone)
    assert laptop.get_conversation(created.id).conversation.pinned is True  # kept
    [record] = [r for r in laptop.conflicts() if r.field == "deleted"]
    assert (record.losing_value, record.winning_value) == (True, False)

    deleted = laptop.keep_other_version(record.id)

    assert deleted.deleted is True
    _sync(log, laptop, phone)
    assert laptop.list_conversations() == [] and phone.list_conversations() == []
    assert state_of(laptop, created.id) == state_of(phone, created.id)


def test_a_later_edit_of_the_field_clears_its_record(pair: tuple[Store, Store]) -> None:
    laptop, phone = pair
    _log, cid = _concurrent_renames(laptop, phone)
    laptop.update_conversation(cid, pinned=True)  # another field: the record stays
    assert len(laptop.conflicts(cid)) == 1
    laptop.update_conversation(cid, title="Something else entirely")
    assert laptop.conflicts(cid) == []


def test_dismissing_forgets_the_record_and_keeps_the_merge(pair: tuple[Store, Store]) -> None:
    laptop, phone = pair
    _log, cid = _concurrent_renames(laptop, phone)
    [record] = laptop.conflicts()
    laptop.dismiss_conflict(record.id)
    laptop.dismiss_conflict(record.id)  # twice is harmless
    assert laptop.conflicts() == []
    assert laptop.get_conversation(cid).conversation.title == "Installer error 0x80070005"
    with pytest.raises(NotFound):
        laptop.keep_other_version(record.id)
    with pytest.raises(InvalidInput):
        laptop.dismiss_conflict("1")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- sync problems


def test_a_rejected_op_leaves_the_outbox_and_is_kept_as_a_problem(store: Store) -> None:
    first = store.create_conversation("first")
    second = store.create_conversation("second")
    op_first, op_second = store.outbox_pending()

    store.outbox_reject(op_first.op_id, "bad_payload", "title: too long")
    store.outbox_reject(op_second.op_id, "message_mismatch", "exists with other content")
    store.outbox_reject(op_second.op_id, "message_mismatch", "again")  # no longer queued

    assert store.outbox_count() == 0
    problems = store.sync_problems()
    assert [(p.op_id, p.record_type, p.record_id, p.code, p.message) for p in problems] == [
        (
            op_second.op_id,
            "conversation",
            second.id,
            "message_mismatch",
            "exists with other content",
        ),
        (op_first.op_id, "conversation", first.id, "bad_payload", "title: too long"),
    ]
    assert store.sync_problems(limit=1) == problems[:1]
    store.dismiss_sync_problem(problems[0].id)
    store.dismiss_sync_problem(problems[0].id)
    assert store.sync_problems() == problems[1:]
    # the records themselves are untouched
    assert {s.title for s in store.list_conversations()} == {"first", "second"}


def test_a_clock_skew_rejection_keeps_its_op(store: Store) -> None:
    store.create_conversation("later")
    [op] = store.outbox_pending()
    with pytest.raises(InvalidInput, match="clock_skew"):
        store.outbox_reject(op.op_id, "clock_skew", "your clock is ahead")
    assert store.outbox_pending() == [op] and store.sync_problems() == []


def test_a_gone_rejection_removes_the_collected_conversation(store: Store) -> None:
    _conversation, message = store.start_conversation("Collected elsewhere", "hello")
    kept = store.create_conversation("kept")
    ops = {op.record_id: op for op in store.outbox_pending()}
    store.outbox_reject(ops[message.id].op_id, "gone", "that conversation was deleted")
    assert [s.id for s in store.list_conversations()] == [kept.id]
    assert rows(store.path, "SELECT id FROM conversation") == [{"id": kept.id}]
    assert [op.record_id for op in store.outbox_pending()] == [kept.id]
    [problem] = store.sync_problems()
    assert (problem.code, problem.record_id) == ("gone", message.id)


def test_a_long_server_message_is_kept_short(store: Store) -> None:
    store.create_conversation("x")
    [op] = store.outbox_pending()
    store.outbox_reject(op.op_id, "bad_payload", "why " * 1000)
    [problem] = store.sync_problems()
    assert len(problem.message) == 1000
