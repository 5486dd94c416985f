"""Merge rules, one by one (docs/sync-protocol.md section 9)."""

from __future__ import annotations

import dataclasses

import pytest

from snapask_desktop.sync.clock import Order
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.merge import (
    Conflict,
    ConversationState,
    FieldStamp,
    MessageRecord,
    cancel_delete_for_messages,
    edit_conversation,
    keep_other_version,
    merge_conversation,
    merge_states,
    message_added,
    message_restores,
    new_conversation,
    screenshot_added,
)
from snapask_desktop.sync.records import check_conversation
from tests.sync.factories import (
    CONV,
    LAPTOP,
    PHONE,
    TABLET,
    W,
    created,
    edited,
    hlc,
    message,
    screenshot,
)

# ---------------------------------------------------------------------- vector outcomes


def test_a_dominating_remote_state_is_taken_whole() -> None:
    base = created()
    newer = edited(base, PHONE, 10_000, title="Renamed", pinned=True)
    result = merge_conversation(base, newer)
    assert result.order is Order.BEFORE
    assert result.state == newer
    assert result.changed
    assert result.changed_fields == {"title", "pinned"}
    assert result.conflicts == ()


def test_an_older_remote_state_is_ignored() -> None:
    base = created()
    newer = edited(base, LAPTOP, 10_000, archived=True)
    result = merge_conversation(newer, base)
    assert result.order is Order.AFTER
    assert result.state == newer
    assert not result.changed
    assert result.changed_fields == frozenset()


def test_an_equal_state_changes_nothing() -> None:
    base = edited(created(), PHONE, 1_000, title="Same")
    copy = dataclasses.replace(base, vv=dict(base.vv), field_hlc=dict(base.field_hlc))
    result = merge_conversation(base, copy)
    assert result.order is Order.EQUAL
    assert result.state == base
    assert not result.changed


def test_concurrent_edits_of_different_fields_both_survive_without_conflict() -> None:
    base = created()
    laptop = edited(base, LAPTOP, 1_000, title="Laptop title")
    phone = edited(base, PHONE, 2_000, pinned=True)
    for local, remote in ((laptop, phone), (phone, laptop)):
        result = merge_conversation(local, remote)
        assert result.order is Order.CONCURRENT
        assert (result.state.title, result.state.pinned) == ("Laptop title", True)
        assert result.state.vv == {LAPTOP: 2, PHONE: 1}
        assert result.conflicts == ()


def test_concurrent_edits_of_one_field_last_writer_wins_and_the_loser_is_kept() -> None:
    base = created()
    laptop = edited(base, LAPTOP, 60_000, title="Setup dialog")
    phone = edited(base, PHONE, 61_000, title="Installer error")
    expected = Conflict(
        CONV,
        "title",
        losing_value="Setup dialog",
        losing_stamp=FieldStamp(hlc(60_000), LAPTOP),
        winning_value="Installer error",
        winning_stamp=FieldStamp(hlc(61_000), PHONE),
    )
    on_laptop = merge_conversation(laptop, phone)
    on_phone = merge_conversation(phone, laptop)
    assert on_laptop.state == on_phone.state
    assert on_laptop.state.title == "Installer error"
    assert on_laptop.conflicts == on_phone.conflicts == (expected,)
    assert on_laptop.changed_fields == {"title"}
    assert on_phone.changed_fields == frozenset()


def test_equal_hlc_stamps_are_broken_by_device_id() -> None:
    base = created()
    low, high = sorted([LAPTOP, PHONE])
    a = edited(base, low, 5_000, title="from the lower id")
    b = edited(base, high, 5_000, title="from the higher id")
    assert merge_states(a, b).title == merge_states(b, a).title == "from the higher id"


def test_scalar_metadata_merges_to_min_created_max_updated_and_max_stamp() -> None:
    base = created()
    a = edited(base, LAPTOP, 3_000, pinned=True)
    b = dataclasses.replace(edited(base, PHONE, 7_000, archived=True), created_at=W - 5)
    merged = merge_states(a, b)
    assert merged.created_at == W - 5
    assert merged.updated_at == W + 7_000
    assert (merged.hlc, merged.device) == (hlc(7_000), PHONE)
    assert merged.vv == {LAPTOP: 2, PHONE: 1}
    check_conversation(merged)


def test_states_of_different_conversations_do_not_merge() -> None:
    other = new_conversation(
        "9c2d75a5-542e-4f88-86db-d3c4d60ce4f3", "x", device_id=LAPTOP, hlc=hlc(0), now_ms=W
    )
    with pytest.raises(ValueError, match="cannot merge"):
        merge_states(created(), other)


def test_equal_stamps_with_different_values_still_merge_deterministically() -> None:
    # Only a faulty peer can produce this; the result must not depend on the order.
    base = created()
    a = edited(base, LAPTOP, 1_000, title="one")
    b = dataclasses.replace(a, title="two")
    assert merge_states(a, b) == merge_states(b, a)
    assert merge_states(a, b).title == "two"


# ---------------------------------------------------------------------- conflict reporting


def test_a_losing_write_the_winner_had_seen_is_not_a_conflict() -> None:
    # Laptop renames, the phone syncs it, the laptop then pins; the phone renames again
    # knowing the laptop's title. The vectors are concurrent, but nothing was lost unseen.
    base = created()
    renamed = edited(base, LAPTOP, 1_000, title="Laptop name")
    phone = edited(merge_states(base, renamed), PHONE, 5_000, title="Phone name")
    laptop = edited(renamed, LAPTOP, 3_000, pinned=True)
    result = merge_conversation(laptop, phone)
    assert result.order is Order.CONCURRENT
    assert result.state.title == "Phone name" and result.state.pinned
    assert result.conflicts == ()


def test_conflict_reporting_errs_on_the_side_of_reporting() -> None:
    # As above but the laptop made two later edits: the rule can no longer prove the phone saw
    # the laptop's title, so it reports (documented over-reporting; never a missed conflict).
    base = created()
    renamed = edited(base, LAPTOP, 1_000, title="Laptop name")
    phone = edited(merge_states(base, renamed), PHONE, 5_000, title="Phone name")
    laptop = edited(edited(renamed, LAPTOP, 3_000, pinned=True), LAPTOP, 4_000, archived=True)
    assert [c.field for c in merge_conversation(laptop, phone).conflicts] == ["title"]


def test_no_conflicts_are_reported_between_ordered_states() -> None:
    base = created()
    a = edited(base, LAPTOP, 1_000, title="a")
    b = edited(a, PHONE, 2_000, title="b")
    assert merge_conversation(a, b).conflicts == merge_conversation(b, a).conflicts == ()


# ---------------------------------------------------------------------- delete against edit


def test_a_delete_concurrent_with_an_edit_keeps_the_conversation_and_reports_it() -> None:
    base = created()
    deleted = edited(base, LAPTOP, 9_000, deleted=True)  # later stamp than the edit
    renamed = edited(base, PHONE, 2_000, title="Still needed")
    delete_stamp = FieldStamp(hlc(9_000), LAPTOP)
    for local, remote in ((deleted, renamed), (renamed, deleted)):
        result = merge_conversation(local, remote)
        assert not result.state.deleted
        assert result.state.title == "Still needed"
        assert result.state.field_hlc["deleted"] == delete_stamp  # cancelled at its own stamp
        assert result.delete_cancelled
        assert result.conflicts[0] == Conflict(
            CONV, "deleted", True, delete_stamp, False, delete_stamp
        )
        check_conversation(result.state)


def test_a_cancelled_delete_stays_cancelled_against_copies_of_the_delete() -> None:
    base = created()
    deleted = edited(base, LAPTOP, 9_000, deleted=True)
    renamed = edited(base, PHONE, 2_000, title="Still needed")
    kept = merge_states(deleted, renamed)
    assert merge_states(kept, deleted) == kept
    assert merge_states(deleted, kept) == kept
    # A third device that only ever saw the delete reaches the same state.
    tablet = merge_states(merge_states(base, deleted), renamed)
    assert tablet == kept


def test_the_deleting_device_learns_that_its_delete_was_cancelled() -> None:
    base = created()
    deleted = edited(base, LAPTOP, 9_000, deleted=True)
    renamed = edited(base, PHONE, 2_000, title="Still needed")
    later = edited(merge_states(renamed, deleted), PHONE, 12_000, pinned=True)  # dominates
    result = merge_conversation(deleted, later)
    assert result.order is Order.BEFORE
    assert result.delete_cancelled and not result.state.deleted
    assert result.state == later


def test_a_delete_that_saw_every_edit_holds() -> None:
    base = created()
    renamed = edited(base, PHONE, 2_000, title="Renamed")
    deleted = edited(merge_states(base, renamed), LAPTOP, 3_000, deleted=True)
    for pair in ((deleted, renamed), (renamed, deleted), (deleted, base)):
        result = merge_conversation(*pair)
        assert result.state.deleted
        assert not result.delete_cancelled
        assert result.conflicts == ()


def test_a_delete_holds_against_a_concurrent_but_unrelated_copy_of_itself() -> None:
    base = created()
    deleted = edited(base, LAPTOP, 3_000, deleted=True)
    same = dataclasses.replace(deleted, vv=dict(deleted.vv))
    assert merge_states(deleted, same).deleted


def test_concurrent_deletes_on_two_devices_keep_the_conversation() -> None:
    # Documented over-keeping: each delete missed the other device's change.
    base = created()
    a = edited(base, LAPTOP, 3_000, deleted=True)
    b = edited(base, PHONE, 4_000, deleted=True)
    result = merge_conversation(a, b)
    assert not result.state.deleted and result.delete_cancelled
    again = edited(result.state, LAPTOP, 5_000, deleted=True)
    assert merge_states(merge_states(again, a), b).deleted


def test_a_restore_concurrent_with_a_delete_wins() -> None:
    base = edited(created(), LAPTOP, 1_000, deleted=True)
    restored = edited(base, PHONE, 2_000, deleted=False)
    # Meanwhile the laptop restores by editing, then deletes again (a later stamp).
    deleted_again = edited(edited(base, LAPTOP, 3_000, title="x"), LAPTOP, 4_000, deleted=True)
    assert deleted_again.deleted
    assert deleted_again.field_hlc["deleted"] == FieldStamp(hlc(4_000), LAPTOP)
    assert not merge_states(restored, deleted_again).deleted
    assert not merge_states(deleted_again, restored).deleted


# ---------------------------------------------------------------------- keep the other version


def test_keep_the_other_version_wins_on_every_replica() -> None:
    base = created()
    laptop = edited(base, LAPTOP, 60_000, title="Setup dialog")
    phone = edited(base, PHONE, 61_000, title="Installer error")
    merged = merge_conversation(laptop, phone)
    (conflict,) = merged.conflicts
    kept = keep_other_version(
        merged.state, conflict, device_id=LAPTOP, hlc=hlc(120_000), now_ms=W + 120_000
    )
    assert kept.title == "Setup dialog"
    assert kept.field_hlc["title"] == FieldStamp(hlc(120_000), LAPTOP)
    for side in (laptop, phone, merged.state):
        assert merge_conversation(side, kept).order is Order.BEFORE
    for replica in (laptop, phone, merge_states(phone, laptop)):
        assert merge_states(merge_states(replica, phone), kept).title == "Setup dialog"
        assert merge_states(kept, replica) == kept


def test_keep_the_other_version_of_a_cancelled_delete_deletes_for_good() -> None:
    base = created()
    deleted = edited(base, LAPTOP, 9_000, deleted=True)
    renamed = edited(base, PHONE, 2_000, title="Still needed")
    result = merge_conversation(deleted, renamed)
    redo = keep_other_version(
        result.state, result.conflicts[0], device_id=LAPTOP, hlc=hlc(20_000), now_ms=W + 20_000
    )
    assert redo.deleted
    for replica in (deleted, renamed, result.state):
        assert merge_states(replica, redo).deleted
        assert merge_states(redo, replica).deleted


def test_keep_the_other_version_writes_even_when_the_value_is_already_there() -> None:
    base = created()
    conflict = Conflict(CONV, "pinned", False, base.field_hlc["pinned"], True, base.stamp)
    kept = keep_other_version(base, conflict, device_id=PHONE, hlc=hlc(1), now_ms=W + 1)
    assert kept.field_hlc["pinned"] == FieldStamp(hlc(1), PHONE)
    assert kept.vv == {LAPTOP: 1, PHONE: 1}


def test_keep_the_other_version_checks_the_conversation() -> None:
    conflict = Conflict(
        "9c2d75a5-542e-4f88-86db-d3c4d60ce4f3", "title", "a", FieldStamp(1, LAPTOP), "b",
        FieldStamp(2, PHONE),
    )  # fmt: skip
    with pytest.raises(ValueError, match="conflict is about"):
        keep_other_version(created(), conflict, device_id=LAPTOP, hlc=hlc(9), now_ms=W)


# ---------------------------------------------------------------------- local edits


def test_a_new_conversation_stamps_every_field_with_its_creation() -> None:
    state = created("Hello", device=PHONE, at=7)
    assert state.vv == {PHONE: 1}
    assert set(state.field_hlc.values()) == {FieldStamp(hlc(7), PHONE)}
    assert (state.created_at, state.updated_at, state.deleted) == (W + 7, W + 7, False)


def test_an_edit_bumps_the_vector_and_stamps_only_changed_fields() -> None:
    base = created()
    after = edited(base, PHONE, 5_000, title="Error dialog", pinned=True)  # title unchanged
    assert after.vv == {LAPTOP: 1, PHONE: 1}
    assert after.field_hlc["pinned"] == FieldStamp(hlc(5_000), PHONE)
    assert after.field_hlc["title"] == base.field_hlc["title"]
    assert (after.hlc, after.device, after.updated_at) == (hlc(5_000), PHONE, W + 5_000)


def test_an_edit_never_moves_updated_at_backwards() -> None:
    # The phone's clock is ahead; the laptop edits after merging the phone's state.
    phone = edited(created(), PHONE, 9_000, pinned=True)
    laptop = edit_conversation(phone, {"title": "t"}, device_id=LAPTOP, hlc=hlc(9_001), now_ms=W)
    assert laptop.updated_at == W + 9_000
    assert merge_states(phone, laptop) == laptop


def test_an_edit_that_changes_nothing_writes_nothing() -> None:
    base = created()
    assert edited(base, PHONE, 5_000, title="Error dialog") is base


def test_an_edit_with_a_stale_stamp_is_refused() -> None:
    base = edited(created(), PHONE, 5_000, pinned=True)
    with pytest.raises(ValueError, match="stale HLC stamp"):
        edited(base, LAPTOP, 5_000, archived=True)
    with pytest.raises(ValueError, match="stale HLC stamp"):
        edited(base, LAPTOP, 4_000, archived=True)


def test_editing_a_deleted_conversation_restores_it() -> None:
    gone = edited(created(), LAPTOP, 1_000, deleted=True)
    back = edited(gone, PHONE, 2_000, title="Back")
    assert not back.deleted
    assert back.field_hlc["deleted"] == FieldStamp(hlc(2_000), PHONE)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "not a synced conversation field"),
        ({"pinned": 1}, "pinned must be True or False"),
        ({"title": "x" * 501}, "at most 500"),
        ({"title": None}, "a title is a string"),
    ],
)
def test_edits_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        edit_conversation(created(), changes, device_id=PHONE, hlc=hlc(9), now_ms=W)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- messages, screenshots

OTHER = "9c2d75a5-542e-4f88-86db-d3c4d60ce4f3"
THIRD = "2c3e16b7-747b-481b-83b4-189471c3de15"


def test_a_message_is_added_once_and_never_changes() -> None:
    original = message("one", message_id=THIRD, at=1)
    assert message_added(None, original) is True
    assert message_added(original, original) is False  # the same message again
    changed = dataclasses.replace(original, text="edited")
    with pytest.raises(ProtocolError) as caught:
        message_added(original, changed)
    assert caught.value.code is ErrorCode.MESSAGE_MISMATCH


def test_screenshot_metadata_must_agree() -> None:
    shot = screenshot()
    assert screenshot_added(None, shot) is True
    assert screenshot_added(shot, shot) is False
    with pytest.raises(ProtocolError) as caught:
        screenshot_added(shot, dataclasses.replace(shot, width=2))
    assert caught.value.code is ErrorCode.SCREENSHOT_MISMATCH


def test_a_message_new_to_the_deleting_device_restores_the_conversation() -> None:
    gone = edited(created(), LAPTOP, 9_000, deleted=True)
    older = message(device=PHONE, at=2_000)  # written before the delete, on the phone
    assert message_restores(gone, older, device_id=LAPTOP, already_stored=False)
    # The deleter already had it: its delete saw the message.
    assert not message_restores(gone, older, device_id=LAPTOP, already_stored=True)
    # Another device cannot tell whether the deleter saw an older message: the deleter decides.
    assert not message_restores(gone, older, device_id=TABLET, already_stored=False)
    # A message stamped after the delete needs no edit by anyone: it cancels the delete.
    newer = message(device=PHONE, at=9_500)
    assert not message_restores(gone, newer, device_id=TABLET, already_stored=False)
    assert not message_restores(gone, newer, device_id=LAPTOP, already_stored=False)
    assert not cancel_delete_for_messages(gone, newer.hlc).deleted
    # A live conversation needs no restore.
    assert not message_restores(created(), newer, device_id=LAPTOP, already_stored=False)
    with pytest.raises(ValueError, match="belongs to"):
        message_restores(
            gone, message(conversation_id=OTHER), device_id=LAPTOP, already_stored=False
        )


def test_a_message_not_older_than_the_delete_cancels_it_at_the_same_stamp() -> None:
    gone = edited(created(), LAPTOP, 9_000, deleted=True)
    kept = cancel_delete_for_messages(gone, hlc(9_000))  # not lower: the delete missed it
    # Derived state, not an edit: only the flag moves (a cancelled delete, 9.1.3).
    assert kept == dataclasses.replace(gone, deleted=False)
    assert cancel_delete_for_messages(gone, hlc(8_999)) is gone
    assert cancel_delete_for_messages(gone, None) is gone
    assert cancel_delete_for_messages(created(), hlc(9_500)) == created()
    check_conversation(kept)


def _replayed(changes: list[ConversationState | MessageRecord], device: str) -> ConversationState:
    """Apply a log in order as a device does (9.6): merge, restore edits, cancellations."""
    state: ConversationState | None = None
    newest: int | None = None
    at = 100_000  # the replaying device's clock, after everything in the log
    for change in changes:
        if isinstance(change, MessageRecord):
            newest = max(newest or 0, change.hlc)
            if state is not None and message_restores(
                state, change, device_id=device, already_stored=False
            ):
                at += 1
                state = edited(state, device, at, deleted=False)
        else:
            state = change if state is None else merge_states(state, change)
        if state is not None:
            state = cancel_delete_for_messages(state, newest)
    assert state is not None
    return state


def test_replaying_a_delete_restore_delete_history_keeps_the_last_delete() -> None:
    """Issue 14: a device that joins late must not resurrect a conversation deleted twice."""
    base = created()  # seq 1, laptop
    first_delete = edited(base, LAPTOP, 1_000, deleted=True)  # seq 2
    late_message = message(device=PHONE, at=2_000)  # seq 3: the phone had not seen seq 2
    restored = edited(first_delete, LAPTOP, 3_000, deleted=False)  # seq 4 (or none: 9.6.1)
    second_delete = edited(restored, LAPTOP, 4_000, deleted=True)  # seq 5, knowing everything
    log: list[ConversationState | MessageRecord] = [
        *(base, first_delete, late_message, restored, second_delete)
    ]
    final = _replayed(log, TABLET)
    assert final == second_delete  # nothing new: no TABLET entry, no fresh stamp
    # Whatever the order of arrival, the same state.
    for order in ([4, 0, 2, 1, 3], [2, 1, 0, 4, 3], [0, 1, 3, 4, 2]):
        assert _replayed([log[i] for i in order], TABLET) == second_delete
