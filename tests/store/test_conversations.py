"""Conversations and messages: create, read, edit, delete, order, short ids, bad input."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from snapask_desktop.store import (
    AmbiguousId,
    InvalidInput,
    NotFound,
    Store,
)
from snapask_desktop.store.records import OwnerTitle
from snapask_desktop.store.validate import MAX_TEXT_CHARS, MAX_TITLE_CHARS
from tests.store.helpers import add_pending_message, outbox_payloads, png_bytes, raw_sql, rows
from tests.store.sync_fixtures import state_of


def test_create_and_get_round_trip(store: Store) -> None:
    created = store.create_conversation("  Receipt\nquestion  ")
    assert created.title == "Receipt question"  # titles are one trimmed line
    assert (created.pinned, created.archived, created.deleted) == (False, False, False)
    uuid.UUID(created.id, version=4)
    detail = store.get_conversation(created.id)
    assert detail.conversation == created
    assert detail.messages == ()


def test_messages_come_back_in_hlc_order_with_their_fields(store: Store) -> None:
    conversation = store.create_conversation("Chart")
    shot = store.add_screenshot(png_bytes())
    question = store.add_message(
        conversation.id, "user", "What does this chart show?", screenshot_sha256=shot.sha256
    )
    answer = store.add_message(
        conversation.id, "model", "Quarterly revenue.", model="gemini-2.5-flash"
    )
    cancelled = store.add_message(conversation.id, "model", "Partial", status="cancelled")
    detail = store.get_conversation(conversation.id)
    assert detail.messages == (question, answer, cancelled)
    assert question.hlc < answer.hlc < cancelled.hlc
    assert question.screenshot_sha256 == shot.sha256
    assert answer.model == "gemini-2.5-flash"
    assert {m.device_id for m in detail.messages} == {store.device_id}


def test_a_new_message_is_never_pending_but_an_old_pending_row_is_read(store: Store) -> None:
    conversation = store.create_conversation("x")
    with pytest.raises(InvalidInput, match="status"):
        store.add_message(conversation.id, "user", "q", status="pending")
    old = add_pending_message(store, conversation.id, "typed before an update")
    [message] = store.get_conversation(conversation.id).messages
    assert (message.id, message.status) == (old, "pending")
    assert outbox_payloads(store.path, "message") == []


def test_update_changes_only_given_fields(store: Store) -> None:
    conversation = store.create_conversation("Old")
    pinned = store.update_conversation(conversation.id, pinned=True)
    assert (pinned.title, pinned.pinned, pinned.archived) == ("Old", True, False)
    renamed = store.update_conversation(conversation.id, title="New", archived=True)
    assert (renamed.title, renamed.pinned, renamed.archived) == ("New", True, True)
    assert store.get_conversation(conversation.id).conversation == renamed


def test_delete_is_a_tombstone_hidden_everywhere(store: Store) -> None:
    keep = store.create_conversation("keep")
    gone = store.create_conversation("gone")
    store.add_message(gone.id, "user", "bye")
    store.delete_conversation(gone.id)
    assert [s.id for s in store.list_conversations(include_archived=True)] == [keep.id]
    with pytest.raises(NotFound):
        store.get_conversation(gone.id)
    with pytest.raises(NotFound):
        store.add_message(gone.id, "user", "again")
    with pytest.raises(NotFound):
        store.update_conversation(gone.id, title="back")
    with pytest.raises(NotFound):
        store.resolve_id(gone.id)
    tombstone = rows(store.path, "SELECT deleted, title FROM conversation WHERE id = ?", gone.id)
    assert tombstone == [{"deleted": 1, "title": "gone"}]  # kept for sync, not erased
    store.delete_conversation(gone.id)  # deleting twice is harmless
    with pytest.raises(NotFound):
        store.delete_conversation(str(uuid.uuid4()))


def test_history_is_newest_activity_first_with_keyset_pages(store: Store) -> None:
    ids = [store.create_conversation(f"c{i}").id for i in range(7)]
    store.add_message(ids[2], "user", "bump c2 to the top")
    expected = [ids[2], *reversed([i for i in ids if i != ids[2]])]
    first = store.list_conversations(limit=3)
    second = store.list_conversations(limit=3, before=first[-1])
    third = store.list_conversations(limit=3, before=second[-1].cursor)
    assert [s.id for s in first + second + third] == expected
    assert len(third) == 1
    assert store.list_conversations(limit=3, before=third[-1]) == []


def test_summary_counts_messages_and_finds_first_screenshot(store: Store) -> None:
    conversation = store.create_conversation("Summary")
    first_shot = store.add_screenshot(png_bytes(seed=1))
    second_shot = store.add_screenshot(png_bytes(seed=2))
    store.add_message(conversation.id, "user", "no picture yet")
    store.add_message(conversation.id, "user", "look", screenshot_sha256=first_shot.sha256)
    store.add_message(conversation.id, "user", "and", screenshot_sha256=second_shot.sha256)
    last = store.add_message(conversation.id, "model", "A long answer\n\n" + "word " * 100)
    [summary] = store.list_conversations()
    assert summary.message_count == 4
    assert summary.first_screenshot_sha256 == first_shot.sha256
    assert summary.picture_count == 2
    assert summary.last_activity_hlc == last.hlc
    assert summary.last_activity_at == last.hlc >> 16
    assert summary.preview.startswith("A long answer word word")
    assert len(summary.preview) <= 120 and summary.preview.endswith("…")


def test_archived_are_hidden_unless_asked_for(store: Store) -> None:
    visible = store.create_conversation("visible")
    archived = store.create_conversation("archived")
    store.update_conversation(archived.id, archived=True)
    assert [s.id for s in store.list_conversations()] == [visible.id]
    shown = store.list_conversations(include_archived=True)
    assert {s.id: s.archived for s in shown} == {visible.id: False, archived.id: True}


def test_adding_a_message_is_not_a_conversation_edit(store: Store) -> None:
    conversation = store.create_conversation("quiet")
    before = state_of(store, conversation.id)
    store.add_message(conversation.id, "user", "hi")
    after = store.get_conversation(conversation.id).conversation
    assert state_of(store, conversation.id) == before
    assert after.updated_at == conversation.updated_at
    assert after.last_activity_at >= conversation.last_activity_at


def test_resolve_id_like_git_short_ids(store: Store) -> None:
    made = [store.create_conversation(str(i)).id for i in range(40)]
    target = made[0]
    assert store.resolve_id(target) == target
    assert store.resolve_id(target.upper()) == target
    unique = next(
        target[:n] for n in range(1, 37) if sum(m.startswith(target[:n]) for m in made) == 1
    )
    assert store.resolve_id(unique) == target
    shared_first_digit = next(m[0] for m in made if sum(o.startswith(m[0]) for o in made) > 1)
    with pytest.raises(AmbiguousId, match="matches several"):
        store.resolve_id(shared_first_digit)
    with pytest.raises(NotFound):
        store.resolve_id(target[:14] + "0")  # character 15 of a UUID4 is always "4"
    for bad in ("", "xyz!", "12 34", "g123"):
        with pytest.raises(InvalidInput):
            store.resolve_id(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "assistant"}, "role"),
        ({"status": "done"}, "status"),
        ({"text": None}, "text"),
        ({"text": "a\x00b"}, "NUL"),
        ({"text": "bad \ud800 surrogate"}, "Unicode"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "too long"),
        ({"model": 5}, "model"),
        ({"screenshot_sha256": "abc"}, "SHA-256"),
    ],
)
def test_bad_message_input_is_refused_and_nothing_is_written(
    store: Store, kwargs: dict[str, object], match: str
) -> None:
    conversation = store.create_conversation("x")
    arguments: dict[str, object] = {"role": "user", "text": "ok", **kwargs}
    role, text = arguments.pop("role"), arguments.pop("text")
    with pytest.raises(InvalidInput, match=match):
        store.add_message(conversation.id, role, text, **arguments)  # type: ignore[arg-type]
    assert store.get_conversation(conversation.id).messages == ()
    assert store.outbox_count() == 1  # only the conversation's own op


def test_unknown_screenshot_and_conversation_are_not_found(store: Store) -> None:
    conversation = store.create_conversation("x")
    with pytest.raises(NotFound, match="screenshot"):
        store.add_message(conversation.id, "user", "hi", screenshot_sha256="ab" * 32)
    with pytest.raises(NotFound):
        store.add_message(str(uuid.uuid4()), "user", "hi")
    with pytest.raises(NotFound):
        store.get_conversation("not a uuid")


def test_bad_titles_and_flags(store: Store) -> None:
    with pytest.raises(InvalidInput, match="too long"):
        store.create_conversation("t" * (MAX_TITLE_CHARS + 1))
    with pytest.raises(InvalidInput):
        store.create_conversation(42)  # type: ignore[arg-type]
    conversation = store.create_conversation("ok")
    with pytest.raises(InvalidInput, match="pinned"):
        store.update_conversation(conversation.id, pinned=1)  # type: ignore[arg-type]
    assert store.list_conversations()[0].title == "ok"
    for bad_limit in (0, -1, 10_001, True, "5"):
        with pytest.raises(InvalidInput):
            store.list_conversations(limit=bad_limit)  # type: ignore[arg-type]


def test_unicode_and_very_long_text_survive_exactly(store: Store) -> None:
    title = "Ünïcödé 漢字 🙂 עברית"
    conversation = store.create_conversation(title)
    long_text = ("Lorem ipsum dolor sit amet, ǆ 🚀 中文 " * 6000)[:MAX_TEXT_CHARS]
    message = store.add_message(conversation.id, "model", long_text)
    detail = store.get_conversation(conversation.id)
    assert detail.conversation.title == title
    assert detail.messages[0].text == long_text == message.text


def test_meta_values_and_fixed_device_id(store: Store, data_dir: Path) -> None:
    assert store.get_meta("sync_cursor") is None
    assert store.get_meta("sync_cursor", "0") == "0"
    store.set_meta("sync_cursor", "41")
    store.set_meta("sync_cursor", "42")
    assert store.get_meta("sync_cursor") == "42"
    with pytest.raises(InvalidInput, match="device id"):
        store.set_meta("device_id", "someone-else")
    uuid.UUID(store.device_id, version=4)
    device = store.device_id
    store.close()
    with Store.open(data_dir) as reopened:
        assert reopened.device_id == device
        assert reopened.get_meta("sync_cursor") == "42"


def test_many_threads_write_through_one_store(store: Store) -> None:
    conversation = store.create_conversation("shared")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                store.add_message(conversation.id, "user", f"thread {n} message {i}")
                store.update_conversation(conversation.id, title=f"t{n}-{i}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    detail = store.get_conversation(conversation.id)
    assert len(detail.messages) == 90
    assert len({m.hlc for m in detail.messages}) == 90  # stamps never collide
    # every edit was a read-modify-write of vv under the write lock: none lost
    assert state_of(store, conversation.id).vv == {store.device_id: 1 + 90}


def test_updated_at_never_goes_backwards(store: Store) -> None:
    """A device whose clock is behind must not move updated_at back (devices must agree)."""
    conversation = store.create_conversation("t")
    ahead = conversation.updated_at + 3_600_000
    db = raw_sql(store.path)
    db.execute("UPDATE conversation SET updated_at = ? WHERE id = ?", (ahead, conversation.id))
    db.commit()
    db.close()
    edited = store.update_conversation(conversation.id, title="new")
    assert edited.updated_at == ahead


def test_owner_title_names_the_conversation_of_any_synced_record(store: Store) -> None:
    shot = store.add_screenshot(png_bytes())
    kept = store.create_conversation("Kept")
    gone = store.create_conversation("Gone")
    in_gone = store.add_message(gone.id, "user", "a question", screenshot_sha256=shot.sha256)
    store.add_message(kept.id, "user", "the same picture", screenshot_sha256=shot.sha256)
    store.delete_conversation(gone.id)
    assert store.owner_title("conversation", kept.id) == OwnerTitle("Kept", False)
    assert store.owner_title("message", in_gone.id) == OwnerTitle("Gone", True)
    assert store.owner_title("screenshot", shot.sha256) == OwnerTitle("Kept", False)
    assert store.owner_title("message", str(uuid.uuid4())) is None
    assert store.owner_title("device", kept.id) is None


def test_summary_counts_each_picture_once(store: Store) -> None:
    conversation = store.create_conversation("Pictures")
    assert store.list_conversations()[0].picture_count == 0
    shot = store.add_screenshot(png_bytes(seed=3))
    store.add_message(conversation.id, "user", "look", screenshot_sha256=shot.sha256)
    store.add_message(conversation.id, "user", "again", screenshot_sha256=shot.sha256)
    assert store.list_conversations()[0].picture_count == 1
    other = store.add_screenshot(png_bytes(seed=4))
    store.add_message(conversation.id, "user", "and this", screenshot_sha256=other.sha256)
    [summary] = store.list_conversations()
    assert summary.picture_count == 2
    # The tray's recent list reads it with plain sqlite3 (store/peek.py), the same way.
    from snapask_desktop.store.peek import recent_conversations

    assert recent_conversations(store.path, 1)[0].picture_count == 2
