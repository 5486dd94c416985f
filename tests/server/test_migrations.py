"""Server schema migrations: a real schema-1 file upgrades in place; PostgreSQL alike."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text

from snapask_desktop.server import migrate, schema
from snapask_desktop.server.database import Database
from snapask_desktop.server.testing import running_server
from tests.server.helpers import connect_device
from tests.support.postgres import fresh_database

V1_FILE = Path(__file__).resolve().parents[1] / "data" / "server-v1.db"
ADA_LAPTOP = "6f1c2b8e-0d4a-4c5e-9a41-3b7d2e9f1a01"
ADA_PHONE = "6f1c2b8e-0d4a-4c5e-9a41-3b7d2e9f1a02"

V1_TABLES = ("users", "user_counters", "devices", "changes", "op_ids", "conversations",
             "messages", "screenshots", "blobs", "collected", "server_meta")  # fmt: skip


def _rows(conn: sqlite3.Connection | object, table: str) -> list[tuple[object, ...]]:
    query = f"SELECT * FROM {table}"
    if isinstance(conn, sqlite3.Connection):
        return sorted(conn.execute(query).fetchall(), key=repr)
    return sorted((tuple(r) for r in conn.execute(text(query))), key=repr)  # type: ignore[attr-defined]


def _v1_contents() -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(f"file:{V1_FILE}?mode=ro", uri=True) as db:
        return {table: _rows(db, table) for table in V1_TABLES}


def _columns(table: str) -> list[str]:
    with sqlite3.connect(f"file:{V1_FILE}?mode=ro", uri=True) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _no_schema_drift(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    finally:
        engine.dispose()
    assert diffs == [], diffs


def test_a_schema_1_file_upgrades_in_place_and_keeps_everything(tmp_path: Path) -> None:
    before = _v1_contents()
    data = tmp_path / "server"
    data.mkdir()
    shutil.copyfile(V1_FILE, data / "server.db")
    url = f"sqlite+pysqlite:///{data / 'server.db'}"
    Database(url).dispose()
    with sqlite3.connect(data / "server.db") as db:
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
        assert version == [(schema.HEAD_REVISION,)]
        after = {table: _rows(db, table) for table in V1_TABLES}
        pk = [row[1] for row in db.execute("PRAGMA table_info(devices)") if row[5]]
    assert after == before  # every row of every table, devices included
    assert sorted(pk) == ["id", "user_id"]
    _no_schema_drift(url)
    # The upgraded server serves the old devices and data.
    with running_server(data) as srv:
        token = srv.sign_in("ada", "pw-ada", ADA_LAPTOP)
        conn = connect_device(srv, token, ADA_LAPTOP)
        changes, cursor = conn.pull_all()
        assert cursor == 2 and [c["payload"]["type"] for c in changes] == [
            "conversation",
            "message",
        ]
        conn.close()
        # bob may now use ada's device id as his own.
        assert srv.sign_in("bob", "pw-bob", ADA_PHONE)


def test_a_new_database_is_the_schema_the_code_expects(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'new.db'}"
    Database(url).dispose()
    _no_schema_drift(url)


def test_a_database_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'new.db'}"
    Database(url).dispose()
    with sqlite3.connect(tmp_path / "new.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(migrate.SchemaTooNew, match="0099, written by a newer server"):
        Database(url)


def test_postgresql_upgrades_a_schema_1_database_and_matches_the_code() -> None:
    before = _v1_contents()
    with fresh_database() as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                migrate.upgrade(conn, "0001")  # the schema as it was
                for table in V1_TABLES:
                    columns = _columns(table)
                    for row in before[table]:
                        values = dict(zip(columns, row, strict=True))
                        for key in ("revoked", "complete", "deleted"):
                            if key in values:
                                values[key] = bool(values[key])
                        names = ", ".join(columns)
                        marks = ", ".join(f":{c}" for c in columns)
                        conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"),
                                     values)  # fmt: skip
                conn.execute(text("DROP TABLE alembic_version"))  # as before migrations existed
        finally:
            engine.dispose()
        db = Database(url)
        try:
            with db.read() as conn:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                assert version == schema.HEAD_REVISION
                counts = {
                    t: conn.execute(select(func.count()).select_from(text(t))).scalar()
                    for t in V1_TABLES
                }
        finally:
            db.dispose()
        assert counts == {table: len(rows) for table, rows in before.items()}
        _no_schema_drift(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_key_records_revision_goes_down_and_up_again(tmp_path: Path, backend: str) -> None:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+pysqlite:///{tmp_path / 'keys.db'}"
        else:
            url = stack.enter_context(fresh_database())
        Database(url).dispose()
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                assert "key_records" in inspect(conn).get_table_names()
                migrate.downgrade(conn, "0002")
                assert "key_records" not in inspect(conn).get_table_names()
                assert migrate.current_revision(conn) == "0002"
        finally:
            engine.dispose()
        Database(url).dispose()  # a start upgrades it again
        _no_schema_drift(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_deleted_confirmations_revision_goes_down_and_up_again(
    tmp_path: Path, backend: str
) -> None:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+pysqlite:///{tmp_path / 'confirmations.db'}"
        else:
            url = stack.enter_context(fresh_database())
        Database(url).dispose()
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                assert "deleted_confirmations" in inspect(conn).get_table_names()
                migrate.downgrade(conn, "0003")
                assert "deleted_confirmations" not in inspect(conn).get_table_names()
                assert "key_records" in inspect(conn).get_table_names()
                assert migrate.current_revision(conn) == "0003"
        finally:
            engine.dispose()
        Database(url).dispose()  # a start upgrades it again
        _no_schema_drift(url)
