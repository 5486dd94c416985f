"""Full text indexed after a large sync instead of page by page: a crash-safe backlog mark.

Revision ID: 0007
Revises: 0006

An initial sync writes tens of thousands of messages in pages of 1,000, each page one
transaction; keeping the FTS5 index in step page by page was about a third of the store's
write. ``message_fts_backlog`` holds at most one row, ``from_rid``: the messages whose ``rid``
is at or above it are not in ``message_fts`` yet, every other message is. A page that brings
many messages sets the mark (in its own transaction) before inserting them, so the insert
trigger skips them; ``Store.index_search_backlog`` indexes them afterwards in rid order, each
step one transaction that moves the mark up (and drops it at the end), so a crash at any
point leaves the mark true and the next session goes on from it. The delete and update
triggers skip rows that were never indexed (removing absent entries would damage an
external-content index). Search meanwhile reads the rows past the mark without the index.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _indexed(row: str) -> str:
    """SQL true when message ``row`` (new or old) is (to be) in the full-text index."""
    return f"NOT EXISTS (SELECT 1 FROM message_fts_backlog WHERE from_rid <= {row}.rid)"


def _triggers(*, backlog: bool) -> list[str]:
    insert_when = f" WHEN {_indexed('new')}" if backlog else ""
    delete_when = f" WHEN {_indexed('old')}" if backlog else ""
    update_when = " WHEN old.text IS NOT new.text" + (f" AND {_indexed('old')}" if backlog else "")
    return [
        "DROP TRIGGER message_fts_insert",
        "DROP TRIGGER message_fts_delete",
        "DROP TRIGGER message_fts_update",
        f"""CREATE TRIGGER message_fts_insert AFTER INSERT ON message{insert_when} BEGIN
            INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
        END""",
        f"""CREATE TRIGGER message_fts_delete AFTER DELETE ON message{delete_when} BEGIN
            INSERT INTO message_fts (message_fts, rowid, text)
            VALUES ('delete', old.rid, old.text);
        END""",
        f"""CREATE TRIGGER message_fts_update AFTER UPDATE OF text ON message{update_when}
        BEGIN
            INSERT INTO message_fts (message_fts, rowid, text)
            VALUES ('delete', old.rid, old.text);
            INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
        END""",
    ]


UPGRADE = [
    """CREATE TABLE message_fts_backlog (
        id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        from_rid INTEGER NOT NULL
    )""",
    *_triggers(backlog=True),
]

DOWNGRADE = [
    # The old triggers index every row: index the backlog first.
    """INSERT INTO message_fts (rowid, text) SELECT rid, text FROM message
        WHERE rid >= (SELECT from_rid FROM message_fts_backlog) ORDER BY rid""",
    *_triggers(backlog=False),
    "DROP TABLE message_fts_backlog",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
