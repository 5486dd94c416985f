"""Schema revisions: head id, upgrading a real old file in place, refusing what we can't use."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from snapask_desktop.store import (
    CorruptDatabase,
    MigrationFailed,
    NotOurDatabase,
    SchemaTooNew,
    Store,
    migrate,
)
from snapask_desktop.store.dbfile import inspect_file
from snapask_desktop.store.engine import make_engine
from snapask_desktop.store.errors import DatabaseUnavailable
from snapask_desktop.store.models import Base
from snapask_desktop.store.schema import HEAD_REVISION, REVISIONS
from tests.data import make_v1_db
from tests.store.helpers import rows

V1_FILE = Path(__file__).resolve().parents[1] / "data" / "snapask-v1.db"
ROOT = Path(__file__).resolve().parents[2]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def v1_copy(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    target = data_dir / "snapask.db"
    shutil.copyfile(V1_FILE, target)
    return target


def test_head_in_one_place_equals_alembic_head() -> None:
    assert migrate.script_revisions() == list(REVISIONS)
    assert REVISIONS[-1] == HEAD_REVISION


def test_committed_v1_file_is_at_revision_0001() -> None:
    assert rows(V1_FILE, "SELECT version_num FROM alembic_version") == [{"version_num": "0001"}]
    tables = {r["name"] for r in rows(V1_FILE, "SELECT name FROM sqlite_master")}
    assert "message_fts" not in tables


def test_v1_file_is_upgraded_in_place_and_keeps_everything(v1_copy: Path, data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        assert store.path == v1_copy
        assert store.device_id == make_v1_db.DEVICE
        assert store.get_meta("sync_cursor") == "17"
        assert store.recovered is None
        history = store.list_conversations()
        # c2 has the newest message (created + 9 s) and c1's is older; c3 is archived
        assert [s.title for s in history] == ["Stack trace in übersicht", "Café receipt: total?"]
        receipt = store.get_conversation(make_v1_db.CONVERSATIONS[0][0])
        assert [m.text for m in receipt.messages] == [
            "What is the total on this reçu?",
            "The total is 42,50 € including VAT.",
        ]
        assert receipt.messages[0].screenshot_sha256 == make_v1_db.SHA
        assert history[1].first_screenshot_sha256 == make_v1_db.SHA
        assert history[0].last_activity_at == make_v1_db.T0 + 60_000 + 9_000
        # old rows are searchable after the upgrade; the tombstone is not
        assert [h.summary.title for h in store.search("recu")] == ["Café receipt: total?"]
        assert [h.matched_in for h in store.search("übersicht")] == ["title"]
        assert [h.summary.archived for h in store.search("quarterly")] == [True]
        assert store.search("zanzibar") == [] and store.search("secret") == []
        assert store.outbox_count() == len(make_v1_db.MESSAGES)
        old_ops = store.outbox_pending()
        assert old_ops[0].op_id == "e0000001-0000-4000-8000-000000000000"
        assert old_ops[0].payload["text"] == "What is the total on this reçu?"
        # and it keeps working: new stamps are after every old one
        newest_old = max(make_v1_db.hlc(c[5] + 9_000) for c in make_v1_db.CONVERSATIONS)
        added = store.add_message(receipt.conversation.id, "user", "and the tip?")
        assert added.hlc > newest_old
        assert [h.summary.id for h in store.search("tip")] == [receipt.conversation.id]
    assert rows(v1_copy, "SELECT version_num FROM alembic_version") == [
        {"version_num": HEAD_REVISION}
    ]
    assert rows(v1_copy, "PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith("snapask")) == [
        "snapask.db"
    ]


def test_a_failed_upgrade_rolls_back_as_a_whole(v1_copy: Path, data_dir: Path) -> None:
    # 0003 adds this column; existing already, it makes 0003 fail after 0002 has run.
    connection = sqlite3.connect(v1_copy)
    connection.execute("ALTER TABLE conversation ADD COLUMN last_activity INTEGER")
    connection.commit()
    connection.close()
    with pytest.raises(MigrationFailed, match="left as it was"):
        Store.open(data_dir)
    assert rows(v1_copy, "SELECT version_num FROM alembic_version") == [{"version_num": "0001"}]
    names = {r["name"] for r in rows(v1_copy, "SELECT name FROM sqlite_master")}
    assert not {"message_fts", "conversation_fts", "message_fts_insert"} & names
    assert len(rows(v1_copy, "SELECT * FROM message")) == len(make_v1_db.MESSAGES)


def test_newer_schema_is_refused_and_the_file_left_untouched(data_dir: Path) -> None:
    Store.open(data_dir).close()
    path = data_dir / "snapask.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.execute("UPDATE alembic_version SET version_num = '0042'")
    connection.commit()
    connection.close()
    before = sha256_of(path)
    with pytest.raises(SchemaTooNew, match=r"newer version of SnapAsk \(schema 0042"):
        Store.open(data_dir)
    assert sha256_of(path) == before
    assert not path.with_name("snapask.db-wal").exists()


def test_someone_elses_sqlite_file_is_refused_untouched(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "snapask.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (n INTEGER)")
    connection.commit()
    connection.close()
    before = sha256_of(path)
    with pytest.raises(NotOurDatabase, match="not a SnapAsk one"):
        Store.open(data_dir)
    assert sha256_of(path) == before


@pytest.mark.parametrize(
    "content",
    [
        b"these are my notes, not a database\n" * 200,
        b"SQLite format 3\x00" + bytes(range(256)) * 40,
    ],
    ids=["text-file", "sqlite-header-then-garbage"],
)
def test_damaged_file_is_kept_aside_and_a_new_one_started(data_dir: Path, content: bytes) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "snapask.db"
    path.write_bytes(content)
    path.with_name("snapask.db-wal").write_bytes(b"wal bytes")
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert isinstance(notice, CorruptDatabase)
        assert notice.kept_as is not None
        assert notice.kept_as.read_bytes() == content  # never destroyed
        assert notice.kept_as.with_name(notice.kept_as.name + "-wal").read_bytes() == b"wal bytes"
        assert str(notice).startswith(f"the database file {path} was damaged")
        assert str(notice).endswith(
            f"it was kept as {notice.kept_as} and a new one started (nothing in it could be read)"
        )
        conversation = store.create_conversation("fresh start")
        assert store.get_conversation(conversation.id).conversation.title == "fresh start"


def test_damaged_file_can_be_refused_instead(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "snapask.db"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CorruptDatabase, match="left untouched"):
        Store.open(data_dir, recover_damaged=False)
    assert path.read_bytes() == b"\x00garbage" * 100
    assert sorted(p.name for p in data_dir.iterdir()) == ["snapask.db"]


def test_orm_models_match_the_migrated_schema(store: Store) -> None:
    engine = make_engine(store.path, pooled=False)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "compare_server_default": False}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    flat = [d for item in differences for d in (item if isinstance(item, list) else [item])]
    kinds = {d[0] for d in flat}
    # The models declare every table and column the file has, with the same nullability;
    # what only the file has is the FTS machinery and the indexes the migrations add.
    assert not kinds & {"add_table", "add_column", "remove_column", "modify_nullable"}
    removed_tables = {d[1].name for d in flat if d[0] == "remove_table"}
    assert removed_tables and all(
        name.split("_fts")[0] in ("message", "conversation", "screenshot_text") and "_fts" in name
        for name in removed_tables
    )


def test_connections_use_wal_foreign_keys_and_a_busy_timeout(store: Store) -> None:
    # (Since 0004 no table has a foreign key: a synced message may arrive before its
    # conversation; tests/store/test_sync_migration.py covers that.)
    engine = make_engine(store.path, pooled=False)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trip(store: Store, data_dir: Path) -> None:
    conversation = store.create_conversation("round trip")
    store.add_message(conversation.id, "user", "survives migrations")
    store.close()
    migrate.downgrade(data_dir / "snapask.db", "0001")
    assert rows(data_dir / "snapask.db", "SELECT version_num FROM alembic_version") == [
        {"version_num": "0001"}
    ]
    with Store.open(data_dir) as reopened:
        [hit] = reopened.search("survives")
        assert hit.summary.id == conversation.id


ALEMBIC_PROBE = """
import sys
from pathlib import Path
from snapask_desktop.store import Store
Store.open(Path(sys.argv[1])).close()
print("alembic" in sys.modules)
"""


def _alembic_imported(data_dir: Path) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", ALEMBIC_PROBE, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().lower())


def test_alembic_is_imported_only_when_the_file_is_behind(v1_copy: Path, data_dir: Path) -> None:
    assert _alembic_imported(data_dir) is True  # 0001 -> head needs Alembic
    assert _alembic_imported(data_dir) is False  # at head: plain SQL check only


OPEN_PROBE = """
import sys
from pathlib import Path
from snapask_desktop.store import Store
with Store.open(Path(sys.argv[1])) as store:
    print(len(store.search("recu")))
"""


def test_two_processes_opening_an_old_file_at_once_both_succeed(
    v1_copy: Path, data_dir: Path
) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_PROBE, str(data_dir)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["1", "1"]
    assert rows(v1_copy, "SELECT version_num FROM alembic_version") == [
        {"version_num": HEAD_REVISION}
    ]


def test_locked_database_is_not_mistaken_for_damaged(data_dir: Path) -> None:
    """Another process holding the file must not get the user's history moved aside."""
    with Store.open(data_dir) as store:
        store.create_conversation("keep me")
    path = data_dir / "snapask.db"
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("PRAGMA journal_mode=DELETE")  # an exclusive lock also blocks WAL readers
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseUnavailable, match="nothing was changed"):
            inspect_file(path)
    finally:
        holder.rollback()
        holder.close()
    assert not [p for p in data_dir.iterdir() if ".damaged-" in p.name]
    with Store.open(data_dir) as store:
        assert [c.title for c in store.list_conversations()] == ["keep me"]
