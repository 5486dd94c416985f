"""The text read from each picture (local OCR), searchable with the conversations.

Revision ID: 0005
Revises: 0004

- ``screenshot_text``: one row per picture (by hash) whose text was read on this device, with
  the engine that read it. Local only for now (not synced); no foreign key, like ``message``
  since 0004, but a trigger removes a picture's text with the picture.
- ``screenshot_text_fts``: FTS5 over that text, external content keyed by the ``rid`` rowid
  alias, kept in step by triggers, with the tokenizer the other indexes use.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TOKENIZE = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'"

UPGRADE = [
    """CREATE TABLE screenshot_text (
        rid INTEGER NOT NULL PRIMARY KEY,
        sha256 VARCHAR(64) NOT NULL UNIQUE,
        text TEXT NOT NULL,
        engine VARCHAR(60) NOT NULL,
        created_at INTEGER NOT NULL,
        CONSTRAINT ck_screenshot_text_sha256 CHECK (length(sha256) = 64)
    )""",
    f"""CREATE VIRTUAL TABLE screenshot_text_fts USING fts5(
        text, content = 'screenshot_text', content_rowid = 'rid', {TOKENIZE})""",
    """CREATE TRIGGER screenshot_text_fts_insert AFTER INSERT ON screenshot_text BEGIN
        INSERT INTO screenshot_text_fts (rowid, text) VALUES (new.rid, new.text);
    END""",
    """CREATE TRIGGER screenshot_text_fts_delete AFTER DELETE ON screenshot_text BEGIN
        INSERT INTO screenshot_text_fts (screenshot_text_fts, rowid, text)
        VALUES ('delete', old.rid, old.text);
    END""",
    """CREATE TRIGGER screenshot_text_fts_update AFTER UPDATE OF text ON screenshot_text
        WHEN old.text IS NOT new.text BEGIN
        INSERT INTO screenshot_text_fts (screenshot_text_fts, rowid, text)
        VALUES ('delete', old.rid, old.text);
        INSERT INTO screenshot_text_fts (rowid, text) VALUES (new.rid, new.text);
    END""",
    # A purged picture's text goes with it (purge.py deletes screenshot rows).
    """CREATE TRIGGER screenshot_text_gone AFTER DELETE ON screenshot BEGIN
        DELETE FROM screenshot_text WHERE sha256 = old.sha256;
    END""",
]

DOWNGRADE = [
    "DROP TRIGGER screenshot_text_gone",
    *(f"DROP TRIGGER screenshot_text_fts_{event}" for event in ("insert", "delete", "update")),
    "DROP TABLE screenshot_text_fts",
    "DROP TABLE screenshot_text",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
