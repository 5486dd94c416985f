"""Rows <-> records: the frozen dataclasses callers get, and the sync records merges work on.

The one place where a conversation row and a ``sync.records.ConversationState`` meet: rows are
ORM objects or Core result rows with the same column names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from snapask_desktop.store.models import (
    ConversationRow,
    MessageRow,
    OutboxRow,
    ScreenshotRow,
    ScreenshotTextRow,
)
from snapask_desktop.store.records import (
    ConflictRecord,
    Conversation,
    Message,
    OutboxOp,
    RecordType,
    Role,
    ScreenshotInfo,
    Status,
    SyncProblem,
)
from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.records import (
    FIELDS,
    ConversationState,
    FieldName,
    FieldStamp,
    MessageRecord,
    PictureTextRecord,
    ScreenshotRecord,
)


def conversation(row: ConversationRow | Any) -> Conversation:
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
    )


def conversation_from_state(state: ConversationState, last_activity: int) -> Conversation:
    """A conversation record from its synced state and its stored ``last_activity``."""
    return Conversation(
        id=state.id,
        title=state.title,
        pinned=state.pinned,
        archived=state.archived,
        deleted=state.deleted,
        created_at=state.created_at,
        updated_at=state.updated_at,
        last_activity_at=last_activity >> COUNTER_BITS,
    )


def state(row: ConversationRow | Any) -> ConversationState:
    """The synced state of a conversation row (what merges and local edits work on)."""
    stamps = row.field_hlc
    return ConversationState(
        id=row.id,
        title=row.title,
        pinned=bool(row.pinned),
        archived=bool(row.archived),
        deleted=bool(row.deleted),
        created_at=row.created_at,
        updated_at=row.updated_at,
        vv=dict(row.vv),
        hlc=row.hlc,
        field_hlc={name: FieldStamp(int(stamps[name][0]), str(stamps[name][1])) for name in FIELDS},
        device=row.device,
    )


# Column order of ``state_from_raw``: a plain sqlite3 row (JSON columns still as text).
RAW_STATE_COLUMNS = (
    "id",
    "title",
    "pinned",
    "archived",
    "deleted",
    "created_at",
    "updated_at",
    "vv",
    "hlc",
    "field_hlc",
    "device",
)


def state_from_raw(values: Sequence[Any]) -> ConversationState:
    """The synced state from a plain sqlite3 row in RAW_STATE_COLUMNS order (bulk reads)."""
    cid, title, pinned, archived, deleted, created, updated, vv, hlc, stamps, device = values
    field_stamps = json.loads(stamps)
    return ConversationState(
        id=cid,
        title=title,
        pinned=bool(pinned),
        archived=bool(archived),
        deleted=bool(deleted),
        created_at=created,
        updated_at=updated,
        vv=json.loads(vv),
        hlc=hlc,
        field_hlc={
            name: FieldStamp(int(field_stamps[name][0]), str(field_stamps[name][1]))
            for name in FIELDS
        },
        device=device,
    )


def state_columns(conversation_state: ConversationState) -> dict[str, Any]:
    """The conversation row's columns for a state (``last_activity`` and ``rid`` not included)."""
    s = conversation_state
    return {
        "id": s.id,
        "title": s.title,
        "pinned": s.pinned,
        "archived": s.archived,
        "deleted": s.deleted,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "vv": dict(s.vv),
        "hlc": s.hlc,
        "field_hlc": {name: [s.field_hlc[name].hlc, s.field_hlc[name].device] for name in FIELDS},
        "device": s.device,
    }


def fill_row(row: ConversationRow, conversation_state: ConversationState) -> None:
    """Write a state into an ORM row (changed columns only, so the ORM updates only those)."""
    for name, value in state_columns(conversation_state).items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)


def message_record(row: MessageRow | Any) -> MessageRecord:
    """The synced record of a stored message (a pending one never syncs; callers check)."""
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role,
        text=row.text,
        model=row.model,
        status=row.status,
        screenshot_sha256=row.screenshot_sha256,
        hlc=row.hlc,
        device=row.device_id,
        created_at=row.created_at,
    )


def message_columns(record: MessageRecord) -> dict[str, Any]:
    """The message row's columns for a synced record."""
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "role": record.role,
        "text": record.text,
        "model": record.model,
        "status": record.status,
        "screenshot_sha256": record.screenshot_sha256,
        "hlc": record.hlc,
        "device_id": record.device,
        "created_at": record.created_at,
    }


def picture_text_record(row: ScreenshotTextRow | Any) -> PictureTextRecord:
    """The picture_text payload of a kept text row."""
    return PictureTextRecord(sha256=row.sha256, text=row.text, engine=row.engine)


def screenshot_record(row: ScreenshotRow | Any) -> ScreenshotRecord:
    """The synced metadata of a stored screenshot."""
    return ScreenshotRecord(
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        width=row.width,
        height=row.height,
        mime=row.mime,
    )


def conflict(row: Any) -> ConflictRecord:
    """A conflict record from its row (values are JSON: a title string or a flag)."""
    return ConflictRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        field=cast(FieldName, row.field),
        losing_value=row.losing_value,
        losing_stamp=FieldStamp(row.losing_hlc, row.losing_device),
        winning_value=row.winning_value,
        winning_stamp=FieldStamp(row.winning_hlc, row.winning_device),
        created_at=row.created_at,
    )


def sync_problem(row: Any) -> SyncProblem:
    """A sync problem from its row."""
    return SyncProblem(
        id=row.id,
        op_id=row.op_id,
        record_type=row.record_type,
        record_id=row.record_id,
        code=row.code,
        message=row.message,
        created_at=row.created_at,
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


def outbox_op(row: OutboxRow | Any) -> OutboxOp:
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
