"""Revision 0006 upgrades a real file written by the schema-0005 store, in place: the outbox
takes picture_text ops, and every row, seq and the seq counter are kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snapask_desktop.store import Store
from snapask_desktop.store.schema import HEAD_REVISION
from tests.store.helpers import rows

V5_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v5.db"
TABLES = ("conversation", "message", "screenshot", "screenshot_text", "outbox", "meta")


@pytest.fixture
def v5_copy(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    target = data_dir / "snapask.db"
    shutil.copyfile(V5_FILE, target)
    return target


def test_the_committed_file_is_at_revision_0005_with_a_used_outbox() -> None:
    assert rows(V5_FILE, "SELECT version_num FROM alembic_version") == [{"version_num": "0005"}]
    [counter] = rows(V5_FILE, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
    assert counter["seq"] > len(rows(V5_FILE, "SELECT seq FROM outbox"))  # some were sent


def test_a_v5_file_keeps_its_outbox_and_takes_picture_text_ops(
    v5_copy: Path, data_dir: Path
) -> None:
    before = {table: rows(v5_copy, f"SELECT * FROM {table}") for table in TABLES}
    [counter] = rows(v5_copy, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
    [picture] = before["screenshot"]
    with Store.open(data_dir) as store:
        assert rows(v5_copy, "SELECT version_num FROM alembic_version") == [
            {"version_num": HEAD_REVISION}
        ]
        assert {t: rows(v5_copy, f"SELECT * FROM {t}") for t in TABLES} == before
        store.set_screenshot_text(picture["sha256"], "RECU Total 42,50 EUR", "tesseract 5.5.4")
        newest = store.outbox_pending(limit=100)[-1]
        assert (newest.record_type, newest.record_id) == ("picture_text", picture["sha256"])
        assert newest.seq == counter["seq"] + 1  # the counter went on: no seq is reused
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
    names = {r["name"] for r in rows(v5_copy, "SELECT name FROM sqlite_master")}
    assert "outbox_old" not in names and "ix_outbox_record" in names
