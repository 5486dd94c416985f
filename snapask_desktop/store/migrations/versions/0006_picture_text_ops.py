"""The outbox also carries the text read from pictures (sync-protocol.md 3.5).

Revision ID: 0006
Revises: 0005

SQLite cannot change a CHECK constraint, so ``outbox`` is made again with ``picture_text``
among its record types: renamed aside, created, its rows copied with their seqs, its
AUTOINCREMENT counter carried over (no op id or seq is reused), the old one dropped.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = "seq, op_id, record_type, record_id, payload, created_at, attempts, last_error"


def _outbox(types: str) -> list[str]:
    return [
        "ALTER TABLE outbox RENAME TO outbox_old",
        "DROP INDEX IF EXISTS ix_outbox_record",
        f"""CREATE TABLE outbox (
            seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            op_id VARCHAR(36) NOT NULL UNIQUE,
            record_type VARCHAR(20) NOT NULL,
            record_id VARCHAR(64) NOT NULL,
            payload TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            attempts INTEGER DEFAULT '0' NOT NULL,
            last_error TEXT,
            CONSTRAINT ck_outbox_type CHECK (record_type IN ({types})),
            CONSTRAINT ck_outbox_payload CHECK (json_valid(payload))
        )""",
        f"INSERT INTO outbox ({_COLUMNS}) SELECT {_COLUMNS} FROM outbox_old",
        """UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(seq), 0)
            FROM sqlite_sequence WHERE name = 'outbox_old')) WHERE name = 'outbox'""",
        """INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', seq FROM sqlite_sequence
            WHERE name = 'outbox_old' AND NOT EXISTS
            (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')""",
        "DROP TABLE outbox_old",
        "CREATE INDEX ix_outbox_record ON outbox (record_type, record_id)",
    ]


def upgrade() -> None:
    for statement in _outbox("'conversation', 'message', 'screenshot', 'picture_text'"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE record_type = 'picture_text'")
    for statement in _outbox("'conversation', 'message', 'screenshot'"):
        op.execute(statement)
