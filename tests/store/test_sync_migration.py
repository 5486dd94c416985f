"""Revision 0004 upgrades a real file written by the schema-0003 store, in place, keeping data."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from snapask_desktop.store import Store, migrate
from snapask_desktop.store.schema import HEAD_REVISION
from snapask_desktop.sync.clock import wall_clock_ms
from snapask_desktop.sync.protocol import Change
from tests.store.helpers import rows
from tests.store.sync_fixtures import remote_message, state_of

V3_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v3.db"


@pytest.fixture
def v3_copy(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    target = data_dir / "snapask.db"
    shutil.copyfile(V3_FILE, target)
    return target


def _by_id(path: Path, table: str) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in rows(path, f"SELECT * FROM {table}")}


def test_the_committed_file_is_at_revision_0003() -> None:
    assert rows(V3_FILE, "SELECT version_num FROM alembic_version") == [{"version_num": "0003"}]
    columns = {r["name"] for r in rows(V3_FILE, "PRAGMA table_info(conversation)")}
    assert "device" not in columns


def test_a_v3_file_is_upgraded_in_place_and_keeps_everything(v3_copy: Path, data_dir: Path) -> None:
    conversations = _by_id(v3_copy, "conversation")
    messages = _by_id(v3_copy, "message")
    outbox = rows(v3_copy, "SELECT * FROM outbox ORDER BY seq")
    [device] = rows(v3_copy, "SELECT value FROM meta WHERE key = 'device_id'")

    with Store.open(data_dir) as store:
        assert store.path == v3_copy and store.device_id == device["value"]
        assert store.sync_cursor() == 23  # the old file's cursor is the cursor
        # every row is still there, with the same values and full-text rowids
        after = _by_id(v3_copy, "conversation")
        assert {
            cid: {k: v for k, v in row.items() if k != "device"} for cid, row in after.items()
        } == conversations
        assert {row["device"] for row in after.values()} == {store.device_id}
        assert _by_id(v3_copy, "message") == messages
        assert rows(v3_copy, "SELECT * FROM outbox ORDER BY seq") == outbox
        # and it reads and searches as before; the tombstone stays hidden
        titles = {s.title for s in store.list_conversations(include_archived=True)}
        assert titles == {
            "Café receipt: total?",
            "KeyError in übersicht",
            "Old chart question",
            "Draft",
        }
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
        assert [h.summary.title for h in store.search("ubersicht")] == ["KeyError in übersicht"]
        assert store.search("zanzibar") == []
        for cid in conversations:
            state = state_of(store, cid)
            assert state.device == store.device_id
            assert json.loads(str(conversations[cid]["vv"])) == state.vv
        # the new tables work, messages need no conversation any more
        assert store.conflicts() == [] and store.sync_problems() == []
        orphan = remote_message(str(uuid.uuid4()), "before its conversation", at=wall_clock_ms())
        store.apply_changes([Change(24, str(uuid.uuid4()), None, orphan)], 24)
        assert store.sync_cursor() == 24
        # local edits after the upgrade carry the writer in their payload
        trace = next(c for c in conversations.values() if c["pinned"])
        store.update_conversation(str(trace["id"]), title="KeyError, solved")
        op = store.outbox_pending(limit=100)[-1]
        assert op.payload["device"] == store.device_id == state_of(store, str(trace["id"])).device
        assert [h.summary.id for h in store.search("solved")] == [trace["id"]]
    assert rows(v3_copy, "SELECT version_num FROM alembic_version") == [
        {"version_num": HEAD_REVISION}
    ]
    foreign_keys = rows(v3_copy, "PRAGMA foreign_key_list(message)")
    assert foreign_keys == []


def test_the_title_index_is_rewritten_only_when_the_title_changes(store: Store) -> None:
    conversation = store.create_conversation("alpha beta")
    connection = sqlite3.connect(store.path)
    before = connection.execute("SELECT count(*) FROM conversation_fts_data").fetchone()
    connection.execute("UPDATE conversation SET title = title, pinned = 1")
    connection.commit()
    unchanged = connection.execute("SELECT count(*) FROM conversation_fts_data").fetchone()
    connection.close()
    assert unchanged == before
    assert [h.summary.id for h in store.search("beta")] == [conversation.id]


def test_downgrading_0004_keeps_messages_that_have_their_conversation(
    store: Store, data_dir: Path
) -> None:
    conversation = store.create_conversation("round trip")
    store.add_message(conversation.id, "user", "survives the downgrade")
    store.apply_changes(
        [Change(1, str(uuid.uuid4()), None, remote_message(str(uuid.uuid4()), "orphan"))], 1
    )
    store.close()
    migrate.downgrade(data_dir / "snapask.db", "0003")
    assert {r["text"] for r in rows(data_dir / "snapask.db", "SELECT text FROM message")} == {
        "survives the downgrade"
    }
    with Store.open(data_dir) as reopened:
        [hit] = reopened.search("downgrade")
        assert hit.summary.id == conversation.id
        assert state_of(reopened, conversation.id).device == reopened.device_id
