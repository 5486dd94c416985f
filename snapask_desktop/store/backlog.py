"""Messages that a large sync brought, full-text indexed after it instead of page by page.

Revision 0007: ``message_fts_backlog`` holds at most one row, ``from_rid``; the messages whose
``rid`` is at or above it are not in ``message_fts`` yet, every other message is (the insert,
delete and update triggers keep to that). Indexing 50,000 messages page by page was about a
third of an initial sync's store write; afterwards it is one pass in rid order, each step its
own short transaction that moves the mark up, so a crash at any point leaves a true mark and
the next step goes on from it. Search reads the rows past the mark without the index
(``queries``), so it finds everything meanwhile, only more slowly.

Functions take an open Connection inside the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection

# A page that brings at least this many new messages leaves them to the backlog: a live edit
# or two is indexed at once, as before.
DEFER_MIN_MESSAGES = 100
# One indexing step: ~0.1 s of writing, so a local edit never waits long for the write lock.
STEP_ROWS = 5_000


def defer(conn: Connection) -> None:
    """Leave every message inserted from now on to the backlog (a mark already set stays)."""
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO message_fts_backlog (id, from_rid) "
        "SELECT 1, coalesce(max(rid), 0) + 1 FROM message"
    )


def mark(conn: Connection) -> int | None:
    """The first rid not yet indexed, or None when every message is."""
    value = conn.exec_driver_sql("SELECT from_rid FROM message_fts_backlog").scalar()
    return None if value is None else int(value)


def count(conn: Connection) -> int:
    """How many messages are not yet in the full-text index."""
    start = mark(conn)
    if start is None:
        return 0
    return int(
        conn.exec_driver_sql("SELECT count(*) FROM message WHERE rid >= ?", (start,)).scalar()
    )


def index_step(conn: Connection, max_rows: int = STEP_ROWS) -> int:
    """Index up to ``max_rows`` of the backlog, oldest rid first, and move the mark past them
    (dropping it when nothing is left); returns how many messages remain unindexed."""
    start = mark(conn)
    if start is None:
        return 0
    last = conn.exec_driver_sql(
        "SELECT max(rid) FROM (SELECT rid FROM message WHERE rid >= ? ORDER BY rid LIMIT ?)",
        (start, max_rows),
    ).scalar()
    if last is not None:
        # One statement: FTS5 writes its pending data once per statement.
        conn.exec_driver_sql(
            "INSERT INTO message_fts (rowid, text) SELECT rid, text FROM message "
            "WHERE rid BETWEEN ? AND ? ORDER BY rid",
            (start, last),
        )
        remaining = int(
            conn.exec_driver_sql("SELECT count(*) FROM message WHERE rid > ?", (last,)).scalar()
        )
        if remaining:
            conn.exec_driver_sql("UPDATE message_fts_backlog SET from_rid = ?", (last + 1,))
            return remaining
    conn.exec_driver_sql("DELETE FROM message_fts_backlog")
    return 0
