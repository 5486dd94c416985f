"""The server's tables (SQLAlchemy Core): accounts, change log, merged copies, blobs.

Written for SQLite and PostgreSQL alike: no SQLite-only types, per-user rows keyed by
(user_id, ...), and the per-user counter row that serialises writers of one user.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# The Alembic revision this code writes (server/migrations/versions); a database at an
# unknown revision was written by a newer server.
HEAD_REVISION = "0004"

metadata = MetaData()

server_meta = Table(
    "server_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# One row per user; every write transaction of the user UPDATEs it first (the per-user lock).
user_counters = Table(
    "user_counters",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("head", BigInteger, nullable=False),
)

# Device ids are per user (revision 0002): two accounts may use the same id unaware.
devices = Table(
    "devices",
    metadata,
    Column("id", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=True),
    Column("applied_cursor", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("user_id", "id", name="pk_devices"),
    UniqueConstraint("token_hash", name="uq_devices_token_hash"),
    Index("ix_devices_user", "user_id"),
    Index("ix_devices_id", "id"),
)

changes = Table(
    "changes",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("op_id", String(36), nullable=False),
    Column("device_id", String(64), nullable=True),  # NULL for the server's purge changes
    Column("conversation_id", String(36), nullable=True),  # for collection (section 10)
    Column("payload", Text, nullable=False),  # the JSON text, spliced into frames as is
    Column("size", Integer, nullable=False),  # UTF-8 bytes of payload
    PrimaryKeyConstraint("user_id", "seq"),
    Index("ix_changes_conversation", "user_id", "conversation_id"),
)

op_ids = Table(
    "op_ids",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("op_id", String(36), nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "op_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("id", String(36), nullable=False),
    Column("state", Text, nullable=False),  # the merged ConversationState as JSON
    Column("deleted", Boolean, nullable=False),
    Column("delete_wall_ms", BigInteger, nullable=False),  # wall part of the deleted stamp
    PrimaryKeyConstraint("user_id", "id"),
    Index("ix_conversations_deleted", "user_id", "deleted"),
)

messages = Table(
    "messages",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("id", String(36), nullable=False),
    Column("conversation_id", String(36), nullable=False),
    Column("screenshot_sha256", String(64), nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON, compared for message_mismatch
    PrimaryKeyConstraint("user_id", "id"),
    Index("ix_messages_conversation", "user_id", "conversation_id"),
)

screenshots = Table(
    "screenshots",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "sha256"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "sha256"),
)

collected = Table(
    "collected",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("conversation_id", String(36), nullable=False),
    Column("collected_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "conversation_id"),
)

# An encrypted account's key record (revision 0003, section 12.9): the account is encrypted
# exactly when it has one. ``record`` is the JSON text as put; ``version`` counts from 1.
key_records = Table(
    "key_records",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("record", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# An encrypted account's devices confirm their deleted conversations (revision 0004, section
# 12.12): device ``device_id`` holds ``conversation_id`` as deleted at the HLC ``deleted_at``,
# having applied every change up to ``cursor``. One row per device and conversation (the
# newest word replaces the older); collection needs every non-revoked device's.
deleted_confirmations = Table(
    "deleted_confirmations",
    metadata,
    Column("user_id", Integer, nullable=False),
    Column("conversation_id", String(36), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("deleted_at", BigInteger, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "conversation_id", "device_id"),
    Index("ix_deleted_confirmations_deleted_at", "deleted_at"),
)
