"""Engines and transactions: SQLite (WAL, one writer) by default, any SQLAlchemy URL later.

Writes run in ``write()`` transactions. On SQLite they start with ``BEGIN IMMEDIATE`` (the
single writer lock, taken before anything is read, so read-modify-writes never interleave); on
PostgreSQL the per-user counter row's ``UPDATE`` taken first in every write is the lock.
Reads run in ``read()`` transactions: one snapshot (a deferred SQLite transaction in WAL
mode, REPEATABLE READ elsewhere) so a page and the head are read consistently.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("snapask.server")
T = TypeVar("T")
# PostgreSQL aborts a transaction with these when it lost a race with another one; nothing of
# it was kept, so it can simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
WRITE_ATTEMPTS = 5

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "snapask_server_begin"


class Database:
    """One database: a writer engine and a reader engine on the same URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = _sqlite_engine(url)
        else:
            self._engine = _server_engine(url)
        self._create()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for instrumentation: tests count the statements it runs)."""
        return self._engine

    def _create(self) -> None:
        from snapask_desktop.server import migrate  # Alembic loads only at start

        with self.write() as conn:
            migrate.upgrade(conn)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (committed on success, rolled back on any exception)."""
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with conn.begin():
                yield conn

    def transact(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a write transaction, run again from the start (up to 5 times, after a
        short random pause) when PostgreSQL aborts it for a serialization failure or a
        deadlock; ``work`` must do nothing outside the transaction."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.write() as conn:
                    return work(conn)
            except DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state not in RETRYABLE_SQLSTATES or attempt == WRITE_ATTEMPTS:
                    raise
                log.info("write aborted by the database (%s); attempt %d again", state, attempt)
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: every statement in it sees the same snapshot."""
        with self._engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def read_once(self) -> Iterator[Connection]:
        """A connection for one read statement: on PostgreSQL no transaction around it (a
        statement sees one snapshot anyway), which saves the BEGIN and COMMIT round trips.
        Two statements here may see different snapshots: use ``read()`` for those."""
        if self.is_sqlite:  # in process: a transaction costs no round trip
            with self.read() as conn:
                yield conn
            return
        with self._engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def checkpoint(self, *, truncate: bool = False) -> bool:
        """Copy the SQLite WAL into the database file without blocking writers (PASSIVE);
        ``truncate``: wait for readers and writers, then empty the WAL file, so that pages
        overwritten since (deleted clear copies, server/keys.py) are gone from it too.
        Returns False if readers kept it from completing."""
        if not self.is_sqlite:
            return True
        mode = "TRUNCATE" if truncate else "PASSIVE"
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy = cursor.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
            cursor.close()
        finally:
            raw.close()
        return not busy

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Hold the lease ``name`` if no other instance does: yields True if this one got it.

        On PostgreSQL a session-level advisory lock on a connection of its own, so an instance
        that dies gives it up with its connection; on SQLite always True (one process a file).
        """
        if self.is_sqlite:
            yield True
            return
        key = int.from_bytes(hashlib.sha256(f"snapask:{name}".encode()).digest()[:8], "big") >> 1
        with self._engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query now."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()


WAL_SAFETY_PAGES = 20_000  # about 80 MB of WAL


def _server_engine(url: str) -> Engine:
    """An engine for a database server (PostgreSQL), whose driver comes with an install extra."""
    try:
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"the database driver for {make_url(url).drivername} is not installed ({exc.name}); "
            "install the server extra: pip install 'snapask-desktop[server]'"
        ) from None
    if make_url(url).get_backend_name() == "postgresql":
        event.listen(engine, "connect", _on_postgresql_connect)
    return engine


# psycopg 3 prepares a statement on the server from its fifth run, and PostgreSQL may then keep
# one generic plan for it, made while the table was small: a push's op-id lookup (`user_id = $1
# AND op_id IN (100 parameters)`) kept scanning all the user's rows with the list compared item
# by item as the log grew (a push 37 -> 128 ms over the first 12,000 ops; a 60,000-op fill took
# 204 s). A plan made for the values at each run costs well under a millisecond to make; the
# prepared statement still saves the parsing.
_CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"


def _on_postgresql_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_CUSTOM_PLANS)
    finally:
        cursor.close()
    dbapi_connection.commit()  # a SET inside a transaction rolled back would be undone


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=8,
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Transaction control is ours (_on_sqlite_begin), not the driver's deferred guesswork.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # WAL + FULL: an acknowledged op survives a power cut too. A device drops an op from its
    # outbox once acked, so a commit lost after the ack would never be sent again.
    cursor.execute("PRAGMA synchronous = FULL")
    # Checkpoints (copying the WAL into the file, with its fsync) run on a reader thread every
    # housekeeping round (SyncServer._housekeeping), so that work and its fsync do not land on
    # whichever push crosses SQLite's default threshold. This is only the safety net.
    cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_SAFETY_PAGES}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # Deleted rows are overwritten with zeros, not left in free space: when an account turns
    # encrypted, its clear copies must be gone from the file (most builds have it on already).
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
