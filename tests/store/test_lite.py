"""The sync engine's plain-sqlite3 idle path agrees with the real store on real files."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from snapask_desktop.store import Store, lite
from snapask_desktop.store.backlog import DEFER_MIN_MESSAGES
from snapask_desktop.store.schema import DB_FILENAME
from snapask_desktop.sync.protocol import Change
from tests.store.sync_fixtures import PHONE, ServerLog, remote_conversation, remote_message

V1_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v1.db"


def remote_change(seq: int, title: str) -> Change:
    return Change(seq, str(uuid.uuid4()), PHONE, remote_conversation(title=title))


def test_the_idle_reads_agree_with_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert lite.device_id(store.path) == store.device_id
        assert lite.sync_cursor(store.path) == store.sync_cursor() == 0
        assert lite.outbox_count(store.path) == store.outbox_count() == 0
        store.start_conversation("two ops", "a question")
        assert lite.outbox_count(store.path) == store.outbox_count() == 2
        store.outbox_ack(op.op_id for op in store.outbox_pending())
        store.apply_changes([remote_change(7, "from elsewhere")], 7)
        assert lite.sync_cursor(store.path) == store.sync_cursor() == 7
        assert lite.outbox_count(store.path) == 0


def test_the_search_backlog_agrees_with_the_store(tmp_path: Path) -> None:
    log = ServerLog()
    conversation = remote_conversation("many")
    log.add(conversation)
    for number in range(DEFER_MIN_MESSAGES):
        log.add(remote_message(conversation.id, f"message {number}"))
    with Store.open(tmp_path) as store:
        assert lite.search_backlog(store.path) == store.search_backlog() == 0
        log.catch_up(store)
        assert lite.search_backlog(store.path) == store.search_backlog() == DEFER_MIN_MESSAGES
        store.index_search_backlog(max_rows=30)
        assert lite.search_backlog(store.path) == store.search_backlog() == DEFER_MIN_MESSAGES - 30
        while store.index_search_backlog():
            pass
        assert lite.search_backlog(store.path) == 0
    assert lite.search_backlog(tmp_path / "none" / DB_FILENAME) == 0


def test_the_last_sync_written_here_is_the_one_the_store_reads(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.mark_synced(1_000)
        lite.mark_synced(store.path, 1_700_000_000_123)  # the store is open: both write
        assert store.last_synced_at() == 1_700_000_000_123
        with pytest.raises(ValueError):
            lite.mark_synced(store.path, -1)
        assert store.last_synced_at() == 1_700_000_000_123


def test_an_unreadable_stored_cursor_means_start_over_as_the_store_says(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_meta(lite.CURSOR_KEY, "not a number")
        assert lite.sync_cursor(store.path) == store.sync_cursor() == 0
        store.set_meta(lite.CURSOR_KEY, "-5")
        assert lite.sync_cursor(store.path) == store.sync_cursor() == 0


def test_no_file_yet_holds_nothing_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    assert lite.device_id(path) is None
    assert lite.sync_cursor(path) == 0
    assert lite.outbox_count(path) == 0
    with pytest.raises(lite.PeekUnavailable):
        lite.mark_synced(path, 5)
    assert not path.exists()


def test_a_file_that_needs_the_full_store_is_left_to_it(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    shutil.copyfile(V1_FILE, path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for call in (lite.device_id, lite.sync_cursor, lite.outbox_count):
        with pytest.raises(lite.PeekUnavailable, match="needs the full store"):
            call(path)
    with pytest.raises(lite.PeekUnavailable):
        lite.mark_synced(path, 5)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_busy_store_fails_the_write_plainly(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        path = store.path
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the file (2 s busy timeout)
    try:
        with pytest.raises(lite.PeekUnavailable, match="could not be used"):
            lite.mark_synced(path, 5)
    finally:
        holder.rollback()
        holder.close()
    lite.mark_synced(path, 6)
    with Store.open(tmp_path) as store:
        assert store.last_synced_at() == 6


V3_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v3.db"


def test_an_older_releases_pending_rows_stay_readable_after_the_upgrade(tmp_path: Path) -> None:
    """A v3 file (written before issue 9) holds queued ops and a "pending" message: once the
    store has upgraded it, both read paths see the same queue and the message reads as it is."""
    shutil.copyfile(V3_FILE, tmp_path / DB_FILENAME)
    path = tmp_path / DB_FILENAME
    with pytest.raises(lite.PeekUnavailable):
        lite.outbox_count(path)  # an old schema: the full store first
    with Store.open(tmp_path) as store:
        queued = store.outbox_pending(limit=100)
        assert lite.outbox_count(path) == store.outbox_count() == len(queued) == 9
        assert lite.device_id(path) == store.device_id
        pending = [
            message
            for row in store.list_conversations(include_archived=True)
            for message in store.get_conversation(row.id).messages
            if message.status == "pending"
        ]
        assert [message.text for message in pending] == ["still typing"]
