"""The device side of sync: who wrote a conversation last, conflicts, sync problems.

Revision ID: 0004
Revises: 0003

- ``conversation.device``: the writer of the newest write a state includes (the ``device`` of
  the synced record). Before this revision only this device ever wrote, so the backfill takes
  the device of the newest field stamp (the local device id when in doubt).
- ``message`` loses its foreign keys: a synced message may arrive before its conversation (or
  name a screenshot whose metadata was collected), and a constraint would block the whole page.
  History and search join messages to conversations, so such messages stay out of sight until
  their conversation arrives. SQLite cannot drop a constraint, so the table is rebuilt with the
  same ``rid`` values (the full-text index points at them).
- The full-text update triggers fire only when the text really changes (merging a synced
  state rewrites the row; re-indexing an unchanged title is wasted work).
- ``conflict``: local records of concurrent writes that lost (sync-protocol.md 9.2).
- ``sync_problem``: ops the server rejected for good, kept to show the user.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MESSAGE_COLUMNS = (
    "rid, id, conversation_id, role, text, model, status, screenshot_sha256, hlc, device_id,"
    " created_at"
)


def _message_table(name: str, *, foreign_keys: bool) -> str:
    conversation_ref = " REFERENCES conversation (id)" if foreign_keys else ""
    screenshot_ref = " REFERENCES screenshot (sha256)" if foreign_keys else ""
    return f"""CREATE TABLE {name} (
        rid INTEGER NOT NULL PRIMARY KEY,
        id VARCHAR(36) NOT NULL UNIQUE,
        conversation_id VARCHAR(36) NOT NULL{conversation_ref},
        role VARCHAR(10) NOT NULL,
        text TEXT NOT NULL,
        model TEXT,
        status VARCHAR(10) NOT NULL,
        screenshot_sha256 VARCHAR(64){screenshot_ref},
        hlc INTEGER NOT NULL,
        device_id VARCHAR(64) NOT NULL,
        created_at INTEGER NOT NULL,
        CONSTRAINT ck_message_id CHECK (length(id) = 36),
        CONSTRAINT ck_message_role CHECK (role IN ('user', 'model')),
        CONSTRAINT ck_message_status CHECK (status IN ('final', 'cancelled', 'error', 'pending'))
    )"""


def _message_triggers(*, only_real_changes: bool) -> list[str]:
    when = " WHEN old.text IS NOT new.text" if only_real_changes else ""
    return [
        "CREATE INDEX ix_message_conversation ON message (conversation_id, hlc, id)",
        "CREATE INDEX ix_message_hlc ON message (hlc)",
        """CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
            INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
        END""",
        """CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
            INSERT INTO message_fts (message_fts, rowid, text)
            VALUES ('delete', old.rid, old.text);
        END""",
        f"""CREATE TRIGGER message_fts_update AFTER UPDATE OF text ON message{when} BEGIN
            INSERT INTO message_fts (message_fts, rowid, text)
            VALUES ('delete', old.rid, old.text);
            INSERT INTO message_fts (rowid, text) VALUES (new.rid, new.text);
        END""",
        """CREATE TRIGGER message_activity AFTER INSERT ON message BEGIN
            UPDATE conversation SET last_activity = new.hlc
            WHERE id = new.conversation_id AND last_activity < new.hlc;
        END""",
    ]


def _conversation_title_trigger(*, only_real_changes: bool) -> list[str]:
    when = " WHEN old.title IS NOT new.title" if only_real_changes else ""
    return [
        "DROP TRIGGER conversation_fts_update",
        f"""CREATE TRIGGER conversation_fts_update AFTER UPDATE OF title ON conversation{when}
        BEGIN
            INSERT INTO conversation_fts (conversation_fts, rowid, title)
            VALUES ('delete', old.rid, old.title);
            INSERT INTO conversation_fts (rowid, title) VALUES (new.rid, new.title);
        END""",
    ]


# The writer of the newest field stamp; every local edit stamps at least one field with the
# record's own stamp, so this is the record's [hlc, device] for every state made so far.
NEWEST_FIELD_DEVICE = """(SELECT json_extract(s.value, '$[1]')
      FROM json_each(conversation.field_hlc) s
      ORDER BY json_extract(s.value, '$[0]') DESC, json_extract(s.value, '$[1]') DESC
      LIMIT 1)"""

UPGRADE = [
    "ALTER TABLE conversation ADD COLUMN device VARCHAR(64) NOT NULL DEFAULT ''",
    f"""UPDATE conversation SET device = coalesce({NEWEST_FIELD_DEVICE},
        (SELECT value FROM meta WHERE key = 'device_id'), '')""",
    _message_table("message_new", foreign_keys=False),
    f"INSERT INTO message_new ({MESSAGE_COLUMNS}) SELECT {MESSAGE_COLUMNS} FROM message",
    # Drops the old table's indexes and triggers with it (no trigger fires on DROP TABLE).
    "DROP TABLE message",
    "ALTER TABLE message_new RENAME TO message",
    *_message_triggers(only_real_changes=True),
    # A purge keeps the screenshots a remaining message uses; most messages have none.
    """CREATE INDEX ix_message_screenshot ON message (screenshot_sha256)
        WHERE screenshot_sha256 IS NOT NULL""",
    *_conversation_title_trigger(only_real_changes=True),
    """CREATE TABLE conflict (
        id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        conversation_id VARCHAR(36) NOT NULL,
        field VARCHAR(10) NOT NULL,
        losing_value TEXT NOT NULL,
        losing_hlc INTEGER NOT NULL,
        losing_device VARCHAR(64) NOT NULL,
        winning_value TEXT NOT NULL,
        winning_hlc INTEGER NOT NULL,
        winning_device VARCHAR(64) NOT NULL,
        created_at INTEGER NOT NULL,
        CONSTRAINT ck_conflict_field CHECK (field IN ('title', 'pinned', 'archived', 'deleted')),
        CONSTRAINT ck_conflict_json CHECK (json_valid(losing_value) AND json_valid(winning_value))
    )""",
    # The same lost write reported again (another path of states) is one record.
    """CREATE UNIQUE INDEX ux_conflict_writes ON conflict (conversation_id, field,
        losing_hlc, losing_device, winning_hlc, winning_device)""",
    """CREATE TABLE sync_problem (
        id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        op_id VARCHAR(36) NOT NULL,
        record_type VARCHAR(20) NOT NULL,
        record_id VARCHAR(64) NOT NULL,
        code VARCHAR(40) NOT NULL,
        message TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )""",
]

DOWNGRADE = [
    "DROP TABLE sync_problem",
    "DROP TABLE conflict",
    *_conversation_title_trigger(only_real_changes=False),
    _message_table("message_old", foreign_keys=True),
    # Messages of unknown conversations (or with unknown pictures) cannot live under the old
    # constraints; downgrading is for development only.
    f"""INSERT INTO message_old ({MESSAGE_COLUMNS}) SELECT {MESSAGE_COLUMNS} FROM message
        WHERE conversation_id IN (SELECT id FROM conversation)
          AND (screenshot_sha256 IS NULL
               OR screenshot_sha256 IN (SELECT sha256 FROM screenshot))""",
    "DROP TABLE message",
    "ALTER TABLE message_old RENAME TO message",
    *_message_triggers(only_real_changes=False),
    "INSERT INTO message_fts (message_fts) VALUES ('rebuild')",
    "ALTER TABLE conversation DROP COLUMN device",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
