"""The first schema: conversations, messages, screenshots, the outbox and meta.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "conversation",
        # rowid alias: stable under VACUUM, so full-text tables can point at it
        sa.Column("rid", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
        sa.Column("vv", sa.Text, nullable=False),
        sa.Column("hlc", sa.Integer, nullable=False),
        sa.Column("field_hlc", sa.Text, nullable=False),
        sa.CheckConstraint("length(id) = 36", name="ck_conversation_id"),
        sa.CheckConstraint("json_valid(vv) AND json_valid(field_hlc)", name="ck_conversation_json"),
    )
    op.create_table(
        "screenshot",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.CheckConstraint("length(sha256) = 64", name="ck_screenshot_sha256"),
    )
    op.create_table(
        "message",
        sa.Column("rid", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column(
            "conversation_id", sa.String(36), sa.ForeignKey("conversation.id"), nullable=False
        ),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column(
            "screenshot_sha256", sa.String(64), sa.ForeignKey("screenshot.sha256"), nullable=True
        ),
        sa.Column("hlc", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.CheckConstraint("length(id) = 36", name="ck_message_id"),
        sa.CheckConstraint("role IN ('user', 'model')", name="ck_message_role"),
        sa.CheckConstraint(
            "status IN ('final', 'cancelled', 'error', 'pending')", name="ck_message_status"
        ),
    )
    # display order within a conversation is (hlc, id)
    op.create_index("ix_message_conversation", "message", ["conversation_id", "hlc", "id"])
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("op_id", sa.String(36), nullable=False, unique=True),
        sa.Column("record_type", sa.String(20), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.CheckConstraint(
            "record_type IN ('conversation', 'message', 'screenshot')", name="ck_outbox_type"
        ),
        sa.CheckConstraint("json_valid(payload)", name="ck_outbox_payload"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_record", "outbox", ["record_type", "record_id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("message")
    op.drop_table("screenshot")
    op.drop_table("conversation")
    op.drop_table("meta")
