"""Encrypted accounts: the devices' confirmations of their deleted conversations.

Revision ID: 0004
Revises: 0003

The server cannot read an encrypted account's conversations, so it collects one only once
every device has confirmed (the ``deleted`` frame, docs/sync-protocol.md 12.12) that its own
merged state of it is deleted at the stamp the newest conversation op carries in clear.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_confirmations",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("deleted_at", sa.BigInteger, nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "conversation_id", "device_id"),
    )
    op.create_index("ix_deleted_confirmations_deleted_at", "deleted_confirmations", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_deleted_confirmations_deleted_at", table_name="deleted_confirmations")
    op.drop_table("deleted_confirmations")
