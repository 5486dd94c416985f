"""Encrypted accounts: one key record per user (docs/sync-protocol.md section 12.9).

Revision ID: 0003
Revises: 0002

An account is encrypted exactly when it has a row here. The record is the JSON text a device
put (salt, Argon2id parameters, wrapped items keys), kept as put; ``version`` counts its
replacements from 1, for the compare-and-swap of ``keys_put``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_records",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_records")
