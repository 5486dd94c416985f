"""Revision 0005 upgrades a real file written by the schema-0004 store, in place, keeping data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snapask_desktop.store import Store, migrate
from snapask_desktop.store.schema import HEAD_REVISION
from tests.store.helpers import rows

V4_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v4.db"
TABLES = ("conversation", "message", "screenshot", "outbox", "meta", "conflict", "sync_problem")


@pytest.fixture
def v4_copy(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    target = data_dir / "snapask.db"
    shutil.copyfile(V4_FILE, target)
    return target


def test_the_committed_file_is_at_revision_0004() -> None:
    assert rows(V4_FILE, "SELECT version_num FROM alembic_version") == [{"version_num": "0004"}]
    names = {r["name"] for r in rows(V4_FILE, "SELECT name FROM sqlite_master")}
    assert "screenshot_text" not in names and "conflict" in names


def test_a_v4_file_is_upgraded_in_place_and_its_pictures_can_be_searched(
    v4_copy: Path, data_dir: Path
) -> None:
    before = {table: rows(v4_copy, f"SELECT * FROM {table}") for table in TABLES}
    [picture] = before["screenshot"]
    with Store.open(data_dir) as store:
        assert store.path == v4_copy
        assert {t: rows(v4_copy, f"SELECT * FROM {t}") for t in TABLES} == before
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
        assert store.search("zanzibar") == []
        # the picture an old version stored gets its text now, and search finds it
        assert store.screenshot_text(str(picture["sha256"])) is None
        store.set_screenshot_text(str(picture["sha256"]), "TOTAL 42,50 EUR Brasserie", "t")
        [hit] = store.search("brasserie")
        assert hit.summary.title == "Café receipt: total?" and hit.in_picture
    assert rows(v4_copy, "SELECT version_num FROM alembic_version") == [
        {"version_num": HEAD_REVISION}
    ]


def test_downgrade_to_0004_and_up_again(v4_copy: Path, data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        sha = str(rows(v4_copy, "SELECT sha256 FROM screenshot")[0]["sha256"])
        store.set_screenshot_text(sha, "dropped with the table", "t")
    migrate.downgrade(v4_copy, "0004")
    names = {r["name"] for r in rows(v4_copy, "SELECT name FROM sqlite_master")}
    assert not {n for n in names if n.startswith("screenshot_text")}
    with Store.open(data_dir) as store:
        assert store.screenshot_text(sha) is None
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
