"""History order: a local last-activity time kept by a trigger, and the indexes lists need.

Revision ID: 0003
Revises: 0002

``last_activity`` is derived, local-only state (never synced, never an outbox op): the HLC
stamp of the conversation's newest message, or of its creation. A trigger keeps it, so
messages that arrive by sync move a conversation up exactly like local ones. HLC rather than
wall time: unique and monotonic per device, so ties within a millisecond keep their order.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = [
    "ALTER TABLE conversation ADD COLUMN last_activity INTEGER NOT NULL DEFAULT 0",
    # 0001 kept no creation stamp: the creation time as an HLC with counter 0 stands in.
    """UPDATE conversation SET last_activity = max(
        created_at << 16,
        coalesce((SELECT max(m.hlc) FROM message m WHERE m.conversation_id = conversation.id),
                 0))""",
    """CREATE TRIGGER message_activity AFTER INSERT ON message BEGIN
        UPDATE conversation SET last_activity = new.hlc
        WHERE id = new.conversation_id AND last_activity < new.hlc;
    END""",
    # Partial indexes that match the two history queries exactly (archived hidden or shown).
    """CREATE INDEX ix_conversation_history ON conversation (last_activity DESC, id DESC)
        WHERE deleted = 0 AND archived = 0""",
    """CREATE INDEX ix_conversation_history_all ON conversation (last_activity DESC, id DESC)
        WHERE deleted = 0""",
    # max(hlc) seeds the clock at every start: keep it an index lookup.
    "CREATE INDEX ix_message_hlc ON message (hlc)",
    "CREATE INDEX ix_conversation_hlc ON conversation (hlc)",
]

DOWNGRADE = [
    "DROP INDEX ix_conversation_hlc",
    "DROP INDEX ix_message_hlc",
    "DROP INDEX ix_conversation_history_all",
    "DROP INDEX ix_conversation_history",
    "DROP TRIGGER message_activity",
    "ALTER TABLE conversation DROP COLUMN last_activity",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
