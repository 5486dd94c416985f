"""SQLAlchemy engine for the store's SQLite file: pragmas, explicit transactions, thread safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool, QueuePool

BUSY_TIMEOUT_MS = 10_000
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
# Read-only work opens a deferred transaction (a WAL snapshot); writers take the write lock at
# BEGIN so a read-modify-write (e.g. bumping a version vector) can't interleave with another.
BEGIN_OPTION = "snapask_begin"
BEGIN_IMMEDIATE = "IMMEDIATE"


def make_engine(path: Path, *, pooled: bool = True) -> Engine:
    """An engine on ``path``; every connection has foreign keys on and a busy timeout."""
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=QueuePool if pooled else NullPool,
        **({"pool_size": 4, "max_overflow": 8} if pooled else {}),
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Take transaction control away from the driver (it would not BEGIN before DDL and would
    # defer BEGIN to the first write); _on_begin issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # WAL + NORMAL: a killed process never corrupts the file or leaves half a transaction;
    # only a power cut may drop the last few commits (each still whole).
    cursor.execute("PRAGMA synchronous = NORMAL")
    # A big sync transaction grows the WAL file; cut it back after a checkpoint.
    cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
    # Temporary tables in memory: a synced page's rows are staged in one (store/replica.py);
    # in a temporary file they cost ~0.1 s more CPU per initial sync (writes to the file).
    cursor.execute("PRAGMA temp_store = MEMORY")
    cursor.close()


def _on_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
