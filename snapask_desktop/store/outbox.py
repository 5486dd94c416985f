"""The outbox table: ops written in the caller's transaction, read and acknowledged by sync."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from snapask_desktop.store import convert
from snapask_desktop.store.errors import NotFound
from snapask_desktop.store.models import OutboxRow
from snapask_desktop.store.records import OutboxOp, RecordType

MAX_ERROR_CHARS = 2000


def enqueue(
    session: Session, record_type: RecordType, record_id: str, payload: dict[str, Any], now: int
) -> str:
    """Add an op in the session's (the record's) transaction; returns its op id.

    A conversation op carries the record's whole state, so a newer one makes any older op for
    the same conversation redundant: those are dropped, and an offline rename/pin/archive
    spree leaves one op, not hundreds. (An ack for a dropped op is ignored, like any repeat.)
    """
    if record_type == "conversation":
        session.execute(
            delete(OutboxRow).where(
                OutboxRow.record_type == "conversation", OutboxRow.record_id == record_id
            )
        )
    op_id = str(uuid.uuid4())
    session.add(
        OutboxRow(
            op_id=op_id,
            record_type=record_type,
            record_id=record_id,
            payload=payload,
            created_at=now,
            attempts=0,
        )
    )
    session.flush()  # constraint failures surface here, inside the record's transaction
    return op_id


def pending(session: Session, limit: int) -> list[OutboxOp]:
    """The oldest ``limit`` ops, in the order they were written."""
    rows = session.scalars(select(OutboxRow).order_by(OutboxRow.seq).limit(limit))
    return [convert.outbox_op(row) for row in rows]


def ack(session: Session, op_ids: Iterable[str]) -> int:
    """Drop acknowledged ops; unknown ids are ignored (an ack may be repeated)."""
    ids = list(op_ids)
    if not ids:
        return 0
    result = session.execute(delete(OutboxRow).where(OutboxRow.op_id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def failed(session: Session, op_id: str, error: str) -> int:
    """Count a failed attempt and remember why; returns the attempts so far."""
    row = session.scalars(select(OutboxRow).where(OutboxRow.op_id == op_id)).one_or_none()
    if row is None:
        raise NotFound(f"no pending sync operation {op_id}")
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_CHARS]
    return row.attempts


def count(session: Session) -> int:
    """How many ops wait to be sent."""
    return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


__all__ = ["ack", "count", "enqueue", "failed", "pending"]
