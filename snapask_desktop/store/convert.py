"""ORM rows -> the frozen dataclasses callers get (so no ORM object escapes a session)."""

from __future__ import annotations

from typing import Any, cast

from snapask_desktop.store.models import ConversationRow, MessageRow, OutboxRow, ScreenshotRow
from snapask_desktop.store.records import (
    Conversation,
    Message,
    OutboxOp,
    RecordType,
    Role,
    ScreenshotInfo,
    Status,
)
from snapask_desktop.sync.clock import COUNTER_BITS


def conversation(row: ConversationRow) -> Conversation:
    """A conversation record from its row."""
    return Conversation(
        id=row.id,
        title=row.title,
        pinned=bool(row.pinned),
        archived=bool(row.archived),
        deleted=bool(row.deleted),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity >> COUNTER_BITS,
        vv=dict(row.vv),
        hlc=row.hlc,
        field_hlc={name: list(stamp) for name, stamp in row.field_hlc.items()},
    )


def message(row: MessageRow | Any) -> Message:
    """A message from its ORM row or a SQL result row with the same column names."""
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        role=cast(Role, row.role),
        text=row.text,
        model=row.model,
        status=cast(Status, row.status),
        screenshot_sha256=row.screenshot_sha256,
        hlc=row.hlc,
        device_id=row.device_id,
        created_at=row.created_at,
    )


def screenshot(row: ScreenshotRow) -> ScreenshotInfo:
    """Screenshot metadata from its row."""
    return ScreenshotInfo(
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        width=row.width,
        height=row.height,
        mime=row.mime,
        created_at=row.created_at,
    )


def outbox_op(row: OutboxRow) -> OutboxOp:
    """An outbox entry from its row."""
    return OutboxOp(
        seq=row.seq,
        op_id=row.op_id,
        record_type=cast(RecordType, row.record_type),
        record_id=row.record_id,
        payload=dict(row.payload),
        created_at=row.created_at,
        attempts=row.attempts,
        last_error=row.last_error,
    )
