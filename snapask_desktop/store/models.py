"""SQLAlchemy 2.0 typed ORM models of the head schema (the migrations create the real tables).

``rid`` columns are INTEGER PRIMARY KEY rowid aliases: stable under VACUUM, so the external-
content FTS tables can point at them. ``id`` (the UUID) is the identity that syncs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class ConversationRow(Base):
    __tablename__ = "conversation"

    rid: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(Integer)
    # Local-only derived state (never synced): the HLC of the newest message, or of creation;
    # kept by an SQLite trigger on message insert so remote messages count too.
    last_activity: Mapped[int] = mapped_column(Integer, default=0)
    vv: Mapped[dict[str, int]] = mapped_column(JSON)
    hlc: Mapped[int] = mapped_column(Integer)
    field_hlc: Mapped[dict[str, list[Any]]] = mapped_column(JSON)
    # The writer of the newest write this state includes (the synced record's ``device``).
    device: Mapped[str] = mapped_column(String(64))


class ScreenshotRow(Base):
    __tablename__ = "screenshot"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[int] = mapped_column(Integer)


class MessageRow(Base):
    __tablename__ = "message"

    rid: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    # No foreign keys (revision 0004): a synced message may arrive before its conversation.
    conversation_id: Mapped[str] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    hlc: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)


class OutboxRow(Base):
    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class MetaRow(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConflictRow(Base):
    """A concurrent write that lost a field (local only, never synced)."""

    __tablename__ = "conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    field: Mapped[str] = mapped_column(String(10))
    losing_value: Mapped[Any] = mapped_column(JSON)
    losing_hlc: Mapped[int] = mapped_column(Integer)
    losing_device: Mapped[str] = mapped_column(String(64))
    winning_value: Mapped[Any] = mapped_column(JSON)
    winning_hlc: Mapped[int] = mapped_column(Integer)
    winning_device: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)


class SyncProblemRow(Base):
    """An op the server rejected for good, kept to show the user."""

    __tablename__ = "sync_problem"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(String(36))
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer)


class ScreenshotTextRow(Base):
    """The text read from a picture on this device (local OCR); searchable, not synced."""

    __tablename__ = "screenshot_text"

    rid: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[int] = mapped_column(Integer)
