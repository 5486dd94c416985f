"""Device ids are per user: the devices table is keyed by (user_id, id).

Revision ID: 0002
Revises: 0001

Before, the first account to use a device id owned it, and another account signing in with it
got ``409 device_taken``, which told it the id existed. The table is rebuilt (SQLite cannot
change a primary key) with the same rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = "id, user_id, name, token_hash, revoked, created_at, last_seen_at, applied_cursor"


def _key(per_user: bool) -> tuple[str, ...]:
    return ("user_id", "id") if per_user else ("id",)


def _devices(name: str, *, per_user: bool) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=True),
        sa.Column("applied_cursor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*_key(per_user), name="pk_devices"),
        sa.UniqueConstraint("token_hash", name="uq_devices_token_hash"),
    )


def _rebuild(*, per_user: bool) -> None:
    _devices("devices_new", per_user=per_user)
    op.execute(f"INSERT INTO devices_new ({_COLUMNS}) SELECT {_COLUMNS} FROM devices")
    op.drop_table("devices")
    op.rename_table("devices_new", "devices")
    op.create_index("ix_devices_user", "devices", ["user_id"])
    if per_user:
        op.create_index("ix_devices_id", "devices", ["id"])


def upgrade() -> None:
    _rebuild(per_user=True)


def downgrade() -> None:
    _rebuild(per_user=False)  # fails if two users share a device id, as it must
