"""Revision 0007 upgrades a real file written by the schema-0006 store, in place: every row and
full-text entry is kept, and from then on a large sync's messages are indexed after it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from snapask_desktop.store import Store
from snapask_desktop.store.schema import HEAD_REVISION
from tests.store.helpers import rows
from tests.store.sync_fixtures import ServerLog
from tests.store.test_search_backlog import MESSAGES, check_whole_index, large_sync

V6_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v6.db"
TABLES = ("conversation", "message", "screenshot", "screenshot_text", "outbox", "meta")


@pytest.fixture
def v6_copy(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    target = data_dir / "snapask.db"
    shutil.copyfile(V6_FILE, target)
    return target


def test_the_committed_file_is_at_revision_0006() -> None:
    assert rows(V6_FILE, "SELECT version_num FROM alembic_version") == [{"version_num": "0006"}]
    names = {r["name"] for r in rows(V6_FILE, "SELECT name FROM sqlite_master")}
    assert "message_fts" in names and "message_fts_backlog" not in names


def test_a_v6_file_keeps_everything_and_indexes_a_large_sync_after_it(
    v6_copy: Path, data_dir: Path
) -> None:
    before = {table: rows(v6_copy, f"SELECT * FROM {table}") for table in TABLES}
    with Store.open(data_dir) as store:
        assert rows(v6_copy, "SELECT version_num FROM alembic_version") == [
            {"version_num": HEAD_REVISION}
        ]
        assert {t: rows(v6_copy, f"SELECT * FROM {t}") for t in TABLES} == before
        check_whole_index(v6_copy)
        assert store.search_backlog() == 0
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
        assert [h.matched_in for h in store.search("übersicht")] == ["title"]
        assert store.search("zanzibar") == []  # the deleted conversation stays out of sight
        store.set_meta("sync_cursor", "0")  # another server's log from its start
        log = ServerLog()
        large_sync(log)
        log.catch_up(store)
        assert store.search_backlog() == MESSAGES
        while store.index_search_backlog():
            pass
        check_whole_index(v6_copy)
        connection = sqlite3.connect(v6_copy)
        try:
            [(indexed,)] = connection.execute("SELECT count(*) FROM message_fts_docsize")
            [(messages,)] = connection.execute("SELECT count(*) FROM message")
        finally:
            connection.close()
        assert indexed == messages == len(before["message"]) + MESSAGES
