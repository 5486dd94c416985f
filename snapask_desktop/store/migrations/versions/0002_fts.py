"""Full-text search: FTS5 over conversation titles and message text, kept in step by triggers.

Revision ID: 0002
Revises: 0001

External-content tables (the text is stored once, in the real tables) keyed by the stable
``rid`` rowid aliases; existing rows are indexed by a 'rebuild' in the same transaction.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# remove_diacritics 2 folds "é" to "e" for every code point; prefix indexes make
# search-as-you-type prefixes of 2 and 3 characters cheap.
TOKENIZE = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'"

UPGRADE = [
    f"""CREATE VIRTUAL TABLE message_fts USING fts5(
        text, content = 'message', content_rowid = 'rid', {TOKENIZE})""",
    f"""CREATE VIRTUAL TABLE conversation_fts USING fts5(
        title, content = 'conversation', content_rowid = 'rid', {TOKENIZE})""",
    """CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
        INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
    END""",
    """CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
        INSERT INTO message_fts (message_fts, rowid, text) VALUES ('delete', old.rid, old.text);
    END""",
    """CREATE TRIGGER message_fts_update AFTER UPDATE OF text ON message BEGIN
        INSERT INTO message_fts (message_fts, rowid, text) VALUES ('delete', old.rid, old.text);
        INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
    END""",
    """CREATE TRIGGER conversation_fts_insert AFTER INSERT ON conversation BEGIN
        INSERT INTO conversation_fts (rowid, title) VALUES (new.rid, new.title);
    END""",
    """CREATE TRIGGER conversation_fts_delete AFTER DELETE ON conversation BEGIN
        INSERT INTO conversation_fts (conversation_fts, rowid, title)
        VALUES ('delete', old.rid, old.title);
    END""",
    """CREATE TRIGGER conversation_fts_update AFTER UPDATE OF title ON conversation BEGIN
        INSERT INTO conversation_fts (conversation_fts, rowid, title)
        VALUES ('delete', old.rid, old.title);
        INSERT INTO conversation_fts (rowid, title) VALUES (new.rid, new.title);
    END""",
    "INSERT INTO message_fts (message_fts) VALUES ('rebuild')",
    "INSERT INTO conversation_fts (conversation_fts) VALUES ('rebuild')",
]

DOWNGRADE = [
    *(
        f"DROP TRIGGER {table}_fts_{event}"
        for table in ("message", "conversation")
        for event in ("insert", "delete", "update")
    ),
    "DROP TABLE message_fts",
    "DROP TABLE conversation_fts",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
