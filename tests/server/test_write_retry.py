"""Writes aborted by PostgreSQL for a lost race run again (issue 10): serialization failures
and deadlocks are raised by the real server (``RAISE ... USING ERRCODE``), so the retry sees
exactly what psycopg gives it when two instances collide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from snapask_desktop.server.database import WRITE_ATTEMPTS, Database
from tests.support.postgres import fresh_database


@pytest.fixture
def db() -> Iterator[Database]:
    with fresh_database() as url:
        made = Database(url)
        with made.write() as conn:
            conn.execute(text("CREATE TABLE attempts (n integer)"))
        yield made
        made.dispose()


def _raise(conn: Connection, sqlstate: str) -> None:
    conn.execute(
        text(f"DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '{sqlstate}'; END $$")
    )


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])  # serialization failure, deadlock
def test_an_aborted_write_runs_again_and_its_first_attempt_left_nothing(
    db: Database, sqlstate: str
) -> None:
    calls: list[int] = []

    def work(conn: Connection) -> str:
        calls.append(len(calls) + 1)
        conn.execute(text("INSERT INTO attempts VALUES (:n)"), {"n": len(calls)})
        if len(calls) < 3:
            _raise(conn, sqlstate)
        return "done"

    assert db.transact(work) == "done"
    assert calls == [1, 2, 3]
    with db.read() as conn:
        assert [r[0] for r in conn.execute(text("SELECT n FROM attempts"))] == [3]


def test_other_errors_are_not_retried(db: Database) -> None:
    calls: list[int] = []

    def work(conn: Connection) -> None:
        calls.append(1)
        _raise(conn, "23505")  # unique_violation: a bug or bad data, not a race

    with pytest.raises(DBAPIError):
        db.transact(work)
    assert calls == [1]


def test_it_gives_up_after_a_few_attempts(db: Database) -> None:
    calls: list[int] = []

    def work(conn: Connection) -> None:
        calls.append(1)
        _raise(conn, "40P01")

    with pytest.raises(DBAPIError) as raised:
        db.transact(work)
    assert getattr(raised.value.orig, "sqlstate", None) == "40P01"
    assert len(calls) == WRITE_ATTEMPTS
