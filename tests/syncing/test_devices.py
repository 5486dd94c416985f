"""Two and three real devices syncing through the real server on 127.0.0.1."""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image

from snapask_desktop.server.config import BlobQuota
from snapask_desktop.server.testing import running_server
from snapask_desktop.store.backlog import DEFER_MIN_MESSAGES
from tests.support.stamps import a_millisecond_later
from tests.syncing.conftest import PASSWORD, Fleet, converge, snapshot, wait_for


def _png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def test_offline_edits_on_three_devices_converge(fleet: Fleet) -> None:
    a, b, c = fleet.device(), fleet.device(), fleet.device()
    shared, _ = a.store.start_conversation("shared", "first question")
    converge([a, b, c])
    # All three go offline and work: new conversations, messages, edits of the shared one.
    for index, device in enumerate((a, b, c)):
        own, _ = device.store.start_conversation(f"from {device.name}", f"question {index}")
        device.store.add_message(own.id, "model", f"answer {index}", model="m")
        device.store.add_message(shared.id, "user", f"{device.name} adds a line")
    b.store.update_conversation(shared.id, pinned=True)
    c.store.update_conversation(shared.id, archived=True)
    converge([a, b, c])

    first = snapshot(a.store)
    assert snapshot(b.store) == first
    assert snapshot(c.store) == first
    assert len(first["conversations"]) == 4
    assert len(first["messages"]) == 1 + 3 * 3
    merged = a.store.get_conversation(shared.id).conversation
    # Different fields edited concurrently: both edits survive, no conflict to show.
    assert (merged.pinned, merged.archived) == (True, True)
    assert a.store.conflicts(shared.id) == []
    for device in (a, b, c):
        assert device.store.outbox_count() == 0


def test_concurrent_title_edits_pick_one_winner_and_keep_a_conflict(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    conversation = a.store.create_conversation("Error dialog")
    converge([a, b])
    a.store.update_conversation(conversation.id, title="Setup dialog")
    a_millisecond_later()
    b.store.update_conversation(conversation.id, title="Installer error 0x80070005")  # later
    converge([a, b])

    titles = {d.store.get_conversation(conversation.id).conversation.title for d in (a, b)}
    assert titles == {"Installer error 0x80070005"}
    assert snapshot(a.store) == snapshot(b.store)
    conflicts = a.store.conflicts(conversation.id)
    assert [(k.field, k.losing_value, k.winning_value) for k in conflicts] == [
        ("title", "Setup dialog", "Installer error 0x80070005")
    ]

    # "Keep the other version" on the device that lost writes a version that wins everywhere.
    a.store.keep_other_version(conflicts[0].id)
    converge([a, b])
    for device in (a, b):
        assert device.store.get_conversation(conversation.id).conversation.title == "Setup dialog"
    assert a.store.conflicts(conversation.id) == []
    assert snapshot(a.store) == snapshot(b.store)


def test_delete_against_a_concurrent_edit_keeps_the_conversation(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    conversation, _ = a.store.start_conversation("Keep me", "question")
    converge([a, b])
    a.store.delete_conversation(conversation.id)
    b.store.update_conversation(conversation.id, title="Still needed")
    converge([a, b])

    for device in (a, b):
        kept = device.store.get_conversation(conversation.id).conversation
        assert (kept.deleted, kept.title) == (False, "Still needed")
        assert [s.id for s in device.store.list_conversations()] == [conversation.id]
    # The device whose delete was cancelled is told so, with a way to delete again.
    cancelled = [k for k in a.store.conflicts(conversation.id) if k.field == "deleted"]
    assert cancelled and cancelled[0].losing_value is True
    a.store.keep_other_version(cancelled[0].id)
    converge([a, b])
    for device in (a, b):
        assert device.store.list_conversations() == []
    assert snapshot(a.store) == snapshot(b.store)


def test_a_message_on_a_conversation_deleted_elsewhere_restores_it(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    conversation, _ = a.store.start_conversation("Topic", "question")
    converge([a, b])
    a.store.delete_conversation(conversation.id)
    b.store.add_message(conversation.id, "user", "one more thing")  # b has not seen the delete
    converge([a, b])
    for device in (a, b):
        assert [s.id for s in device.store.list_conversations()] == [conversation.id]
        texts = [m.text for m in device.store.get_conversation(conversation.id).messages]
        assert texts == ["question", "one more thing"]
    assert snapshot(a.store) == snapshot(b.store)


def test_a_device_joining_late_keeps_a_conversation_deleted_again(fleet: Fleet) -> None:
    """Issue 14: replaying delete, message, delete must not bring the conversation back."""
    laptop, phone = fleet.device(), fleet.device()
    conversation, _ = laptop.store.start_conversation("Topic", "question")
    converge([laptop, phone])
    laptop.store.delete_conversation(conversation.id)
    laptop.sync()
    _next_millisecond()  # the phone's clock has not seen the delete: its stamp must be later
    phone.store.add_message(conversation.id, "user", "one more thing")  # offline
    converge([phone, laptop])
    assert [s.id for s in laptop.store.list_conversations()] == [conversation.id]
    laptop.store.delete_conversation(conversation.id)  # again, having seen the message
    converge([laptop, phone])

    newcomer = fleet.device()
    newcomer.sync()
    assert newcomer.store.outbox_count() == 0  # replaying wrote nothing
    converge([laptop, phone, newcomer])
    for device in (laptop, phone, newcomer):
        assert device.store.list_conversations() == [], device.name
    assert snapshot(laptop.store) == snapshot(phone.store) == snapshot(newcomer.store)


def _next_millisecond() -> None:
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= start:
        time.sleep(0.0005)


def test_messages_from_several_devices_are_the_union_in_one_order(fleet: Fleet) -> None:
    a, b, c = fleet.device(), fleet.device(), fleet.device()
    conversation, _ = a.store.start_conversation("Busy", "q0")
    converge([a, b, c])
    for round_ in range(3):
        for device in (a, b, c):
            device.store.add_message(conversation.id, "user", f"{device.name} r{round_}")
    converge([c, a, b])
    orders = [[m.id for m in d.store.get_conversation(conversation.id).messages] for d in (a, b, c)]
    assert orders[0] == orders[1] == orders[2]
    assert len(orders[0]) == 10 and len(set(orders[0])) == 10


def test_a_picture_arrives_by_hash_and_downloads_when_first_needed(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    png = _png((200, 30, 30))
    shot = a.store.add_screenshot(png)
    a.store.add_screenshot(png)  # the same picture twice is one blob and one op
    conversation, _ = a.store.start_conversation("Red", "what?", screenshot_sha256=shot.sha256)
    converge([a, b])

    assert b.store.screenshot_info(shot.sha256).size_bytes == len(png)
    assert b.store.missing_blob(shot.sha256)  # metadata only: bytes come when first viewed
    runner = b.start()
    wait_for(lambda: runner.status.state.value == "up_to_date", what="b live")
    assert runner.fetch_blob(shot.sha256).result(20) is True
    assert not b.store.missing_blob(shot.sha256)
    assert b.store.screenshot_bytes(shot.sha256, verify=True) == png
    message = b.store.get_conversation(conversation.id).messages[0]
    assert message.screenshot_sha256 == shot.sha256


def test_a_follow_up_with_its_own_picture_syncs_with_both_pictures(fleet: Fleet) -> None:
    """A capture added to an open conversation is a message with its own picture: the
    protocol carries `screenshot_sha256` per message, so the other device gets both."""
    a, b = fleet.device(), fleet.device()
    red, blue = _png((200, 30, 30)), _png((30, 30, 200))
    first = a.store.add_screenshot(red)
    conversation, _ = a.store.start_conversation("Two", "what?", screenshot_sha256=first.sha256)
    a.store.add_message(conversation.id, "model", "a red box", model="m")
    second = a.store.add_screenshot(blue)
    a.store.add_message(conversation.id, "user", "and now?", screenshot_sha256=second.sha256)
    converge([a, b])

    messages = b.store.get_conversation(conversation.id).messages
    assert [m.screenshot_sha256 for m in messages] == [first.sha256, None, second.sha256]
    runner = b.start()
    wait_for(lambda: runner.status.state.value == "up_to_date", what="b live")
    for sha, png in ((first.sha256, red), (second.sha256, blue)):
        assert runner.fetch_blob(sha).result(20) is True
        assert b.store.screenshot_bytes(sha, verify=True) == png
    assert snapshot(a.store) == snapshot(b.store)


def test_an_unknown_picture_is_reported_missing_not_invented(fleet: Fleet) -> None:
    b = fleet.device()
    runner = b.start()
    wait_for(lambda: runner.status.state.value == "up_to_date", what="b live")
    assert runner.fetch_blob("ab" * 32).result(20) is False


def test_a_change_on_one_device_appears_live_on_another(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    a.start()
    b.start()
    conversation = a.store.create_conversation("Live")
    wait_for(lambda: b.store.list_conversations(), what="the conversation on b")
    a.store.update_conversation(conversation.id, title="Live, renamed")
    wait_for(
        lambda: b.store.get_conversation(conversation.id).conversation.title == "Live, renamed",
        what="the rename on b",
    )
    b.store.add_message(conversation.id, "user", "from b")
    wait_for(
        lambda: len(a.store.get_conversation(conversation.id).messages) == 1,
        what="b's message on a",
    )
    wait_for(lambda: a.store.last_synced_at() is not None, what="a up to date")
    assert a.runner is not None and a.runner.status.pending == 0


def test_an_idle_live_device_does_not_write_to_its_store(fleet: Fleet) -> None:
    a = fleet.device()
    a.store.create_conversation("something to sync")
    runner = a.start()
    wait_for(lambda: runner.status.state.value == "up_to_date", what="a live")
    wait_for(lambda: a.store.outbox_count() == 0, what="a's outbox sent")
    time.sleep(1.2)  # let the change's own bookkeeping settle
    last = a.store.last_synced_at()
    wal = a.store.path.with_name(a.store.path.name + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    time.sleep(2.5)  # ten idle polls
    assert a.store.last_synced_at() == last
    assert (wal.stat().st_size if wal.exists() else 0) == size
    assert runner.status.state.value == "up_to_date"


def test_a_local_edit_is_sent_at_once_not_at_the_next_poll(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    runner_a = a.start(poll_s=60)  # only the store's change listener can wake it in time
    runner_b = b.start()
    for runner in (runner_a, runner_b):
        wait_for(lambda r=runner: r.status.state.value == "up_to_date", what="devices live")
    conversation = a.store.create_conversation("sent at once")
    wait_for(lambda: b.store.list_conversations(), timeout_s=10, what="the change on b")
    assert b.store.list_conversations()[0].id == conversation.id


def test_a_picture_over_the_accounts_quota_stays_local_and_says_why(tmp_path: Path) -> None:
    quota = BlobQuota(stored_bytes=50)
    with running_server(tmp_path / "server", blob_quota=quota) as srv:
        srv.add_user("ada", PASSWORD)
        fleet = Fleet(srv, tmp_path / "devices")
        try:
            a = fleet.device()
            png = _png((10, 200, 10))
            assert len(png) > 50
            shot = a.store.add_screenshot(png)
            a.store.start_conversation("Green", "what?", screenshot_sha256=shot.sha256)
            a.sync()
            a.sync()  # a second pass does not repeat the problem
            problems = a.store.sync_problems()
            assert [(p.code, p.record_id) for p in problems] == [("quota_exceeded", shot.sha256)]
            assert problems[0].message.startswith(
                "Not uploaded: your account's space on the sync server is full (pictures would take"
            )
            assert a.store.screenshot_bytes(shot.sha256) == png  # kept on the device
        finally:
            fleet.close()


def test_the_text_read_from_a_picture_syncs_and_every_device_keeps_the_same(
    fleet: Fleet,
) -> None:
    a, b, c = fleet.device(), fleet.device(), fleet.device()
    shot = a.store.add_screenshot(_png((20, 90, 200)))
    conversation, _ = a.store.start_conversation("Blue", "what?", screenshot_sha256=shot.sha256)
    converge([a, b, c])
    a.store.set_screenshot_text(shot.sha256, "Invoice 2041 overdue", "tesseract 5.5.4")
    c.store.set_screenshot_text(shot.sha256, "lnvoice 2O41 overdue!", "tesseract 5.3.0")
    converge([a, b, c])
    for device in (a, b, c):  # the longer reading wins everywhere
        assert device.store.screenshot_text(shot.sha256) == "lnvoice 2O41 overdue!"
        assert [h.summary.id for h in device.store.search("overdue")] == [conversation.id]
        assert device.store.outbox_count() == 0


def test_a_server_that_reads_no_picture_text_is_not_sent_it(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    shot = a.store.add_screenshot(_png((200, 90, 20)))
    a.store.start_conversation("Orange", "what?", screenshot_sha256=shot.sha256)
    a.store.set_screenshot_text(shot.sha256, "Quarterly budget", "tesseract 5.5.4")
    fleet.server.server.features = ()  # its welcome names none, as an older server's
    converge([a, b])
    assert a.store.outbox_count() == 0  # dropped, not refused: nothing shows as refused
    assert a.store.sync_problems() == []
    assert b.store.screenshot_text(shot.sha256) is None  # b reads it itself when it can


def test_a_device_joining_a_large_history_finds_every_message_by_search(fleet: Fleet) -> None:
    a = fleet.device()
    conversation = a.store.create_conversation("a long chat")
    count = DEFER_MIN_MESSAGES + 20  # one page, enough to be indexed after the sync
    for number in range(count):
        a.store.add_message(conversation.id, "user", f"question tok{number} about capybaras")
    a.sync()
    b, c = fleet.device(), fleet.device()
    b.sync()  # one pass: it indexes before it returns
    assert b.store.search_backlog() == 0
    runner = c.start()  # live: indexes after its catch-up says "up to date"
    wait_for(lambda: c.store.search_backlog() == 0 and runner.status.state.value == "up_to_date",
             what="c caught up and indexed")  # fmt: skip
    for device in (b, c):
        for number in range(count):
            [hit] = device.store.search(f"tok{number} ")
            assert hit.summary.id == conversation.id
