"""The read-only start-up reader agrees with the real store and never changes the file."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from snapask_desktop.store import InvalidInput, Store, peek
from snapask_desktop.store.schema import DB_FILENAME
from tests.store.helpers import png_bytes

V1_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v1.db"
ROOT = Path(__file__).resolve().parents[2]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(store: Store) -> None:
    """A history with every case the visibility rules and the order care about."""
    picture = store.add_screenshot(png_bytes(seed=1)).sha256
    first, _ = store.start_conversation(
        "with a picture", "what is this?", screenshot_sha256=picture
    )
    store.add_message(first.id, "model", "A chart.\n\nWith   two lines " + "x" * 300)
    for n in range(7):
        store.start_conversation(f"plain {n}", f"question {n}")
    archived, _ = store.start_conversation("archived one", "hidden from recent")
    store.update_conversation(archived.id, archived=True)
    deleted, _ = store.start_conversation("deleted one", "gone")
    store.delete_conversation(deleted.id)
    pinned, _ = store.start_conversation("pinned, old activity", "kept")
    store.update_conversation(pinned.id, pinned=True)
    store.create_conversation("")  # no messages yet
    store.add_message(first.id, "user", "and now?")  # moves it to the top again


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_recent_agrees_with_list_conversations(store: Store, limit: int) -> None:
    fill(store)
    expected = store.list_conversations(limit=limit)
    assert peek.recent_conversations(store.path, limit) == expected
    titles = [row.title for row in peek.recent_conversations(store.path, 50)]
    assert "archived one" not in titles and "deleted one" not in titles
    assert titles[0] == "with a picture"


def test_recent_reads_a_closed_file_and_meta_agrees_with_get_meta(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        fill(store)
        store.set_meta("answer_queue", '{"v":1,"items":[]}')
        expected = store.list_conversations(limit=5)
        device_id = store.device_id
    path = data_dir / DB_FILENAME
    assert peek.recent_conversations(path, 5) == expected
    assert peek.meta_value(path, "answer_queue") == '{"v":1,"items":[]}'
    assert peek.meta_value(path, "device_id") == device_id
    assert peek.meta_value(path, "no such key") is None


def test_sees_committed_rows_while_another_writer_holds_the_lock(store: Store) -> None:
    store.start_conversation("committed", "q")
    writer = sqlite3.connect(store.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE conversation SET title = 'not yet committed'")
        assert [row.title for row in peek.recent_conversations(store.path)] == ["committed"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_no_file_yet_means_nothing_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / DB_FILENAME
    assert peek.recent_conversations(path) == []
    assert peek.meta_value(path, "answer_queue") is None
    assert not (tmp_path / "data").exists()
    path.parent.mkdir()
    path.touch()  # an empty file is a database not started yet
    assert peek.recent_conversations(path) == []
    assert path.read_bytes() == b""
    assert sorted(p.name for p in path.parent.iterdir()) == [DB_FILENAME]


def test_an_old_file_is_left_for_the_store_to_upgrade(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / DB_FILENAME
    shutil.copyfile(V1_FILE, path)
    before = sha256_of(path)
    with pytest.raises(peek.PeekUnavailable, match="needs the full store"):
        peek.recent_conversations(path)
    with pytest.raises(peek.PeekUnavailable):
        peek.meta_value(path, "answer_queue")
    assert sha256_of(path) == before
    with Store.open(data_dir) as store:  # the full store upgrades it; then peeking works
        expected = store.list_conversations(limit=5)
    assert expected and peek.recent_conversations(path) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"these are my notes, not a database\n" * 200,
        b"SQLite format 3\x00" + bytes(range(256)) * 40,
    ],
    ids=["text-file", "sqlite-header-then-garbage"],
)
def test_a_damaged_file_is_reported_and_left_where_it_is(data_dir: Path, content: bytes) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / DB_FILENAME
    path.write_bytes(content)
    with pytest.raises(peek.PeekUnavailable):
        peek.recent_conversations(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in data_dir.iterdir()) == [DB_FILENAME]


def test_someone_elses_database_is_not_read(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / DB_FILENAME
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE conversation (id TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(peek.PeekUnavailable):
        peek.recent_conversations(path)


def test_bad_arguments_are_refused(store: Store) -> None:
    for limit in (0, -1, 1001, True, "5"):
        with pytest.raises(InvalidInput, match="limit"):
            peek.recent_conversations(store.path, limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="the key"):
        peek.meta_value(store.path, "k" * 101)


PROBE = """
import sys
from pathlib import Path
from snapask_desktop.store import peek
rows = peek.recent_conversations(Path(sys.argv[1]))
print(len(rows), peek.meta_value(Path(sys.argv[1]), "answer_queue"), "sqlalchemy" in sys.modules)
"""


def test_peeking_does_not_import_sqlalchemy(store: Store) -> None:
    store.start_conversation("one", "q")
    store.set_meta("answer_queue", "saved")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(store.path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.split() == ["1", "saved", "False"]
