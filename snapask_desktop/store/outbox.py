"""The outbox table: ops written in the caller's transaction, read and acknowledged by sync."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from snapask_desktop.store import convert
from snapask_desktop.store.errors import NotFound
from snapask_desktop.store.models import OutboxRow
from snapask_desktop.store.records import OutboxOp, RecordType

MAX_ERROR_CHARS = 2000
IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's limit on bound parameters

# Every local edit queues an op, and sync reads, acknowledges and counts the outbox around
# every change it sends: driver-level SQL for those (the payload JSON as the JSON column type
# writes it, json.dumps). Through SQLAlchemy's statement and type layers each cost several times
# what SQLite takes, and an edit's way to the other devices starts here (docs/benchmarks.md,
# "A -> B"). A Session's ORM-entity DELETE was slower still: it also synchronised the identity
# map.
_TABLE = OutboxRow.__table__
_DROP_CONVERSATION_OPS = "DELETE FROM outbox WHERE record_type = 'conversation' AND record_id = ?"
_INSERT = (
    "INSERT INTO outbox (op_id, record_type, record_id, payload, created_at, attempts) "
    "VALUES (?, ?, ?, ?, ?, 0)"
)
_PENDING = (
    "SELECT seq, op_id, record_type, record_id, payload, created_at, attempts, last_error "
    "FROM outbox ORDER BY seq LIMIT ?"
)
_ACK = "DELETE FROM outbox WHERE op_id IN "
_COUNT = "SELECT count(*) FROM outbox"


def enqueue(
    conn: Session | Connection,
    record_type: RecordType,
    record_id: str,
    payload: dict[str, Any],
    now: int,
) -> str:
    """Add an op in the caller's (the record's) transaction; returns its op id.

    A conversation op carries the record's whole state, so a newer one makes any older op for
    the same conversation redundant: those are dropped, and an offline rename/pin/archive
    spree leaves one op, not hundreds. (An ack for a dropped op is ignored, like any repeat.)
    """
    connection = conn.connection() if isinstance(conn, Session) else conn
    if record_type == "conversation":
        connection.exec_driver_sql(_DROP_CONVERSATION_OPS, (record_id,))
    op_id = str(uuid.uuid4())
    # Constraint failures surface here, inside the record's transaction.
    connection.exec_driver_sql(_INSERT, (op_id, record_type, record_id, json.dumps(payload), now))
    return op_id


def enqueue_many(
    conn: Connection, ops: list[tuple[RecordType, str, dict[str, Any]]], now: int
) -> int:
    """Append many new ops in order (no replacing: for re-queueing a whole store)."""
    if not ops:
        return 0
    rows = [_row(str(uuid.uuid4()), kind, rid, payload, now) for kind, rid, payload in ops]
    conn.execute(insert(OutboxRow), rows)
    return len(rows)


def queued_ids(conn: Connection, record_type: RecordType, ids: Iterable[str]) -> set[str]:
    """Which of these records of one type have an op in the outbox."""
    wanted = list(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        query = select(OutboxRow.record_id).where(
            OutboxRow.record_type == record_type,
            OutboxRow.record_id.in_(wanted[start : start + 500]),
        )
        found.update(conn.execute(query).scalars())
    return found


def _row(
    op_id: str, record_type: str, record_id: str, payload: dict[str, Any], now: int
) -> dict[str, Any]:
    return {
        "op_id": op_id,
        "record_type": record_type,
        "record_id": record_id,
        "payload": payload,
        "created_at": now,
        "attempts": 0,
    }


def take(conn: Session | Connection, op_id: str) -> OutboxOp | None:
    """Remove one op and return it (None if it is not queued, e.g. acked or replaced)."""
    row = conn.execute(select(OutboxRow.__table__).where(OutboxRow.op_id == op_id)).one_or_none()
    if row is None:
        return None
    conn.execute(delete(OutboxRow).where(OutboxRow.op_id == op_id))
    return convert.outbox_op(row)


def drop_records(conn: Connection, record_type: RecordType, record_ids: Iterable[str]) -> None:
    """Drop every queued op for these records (they are gone locally)."""
    ids = list(record_ids)
    for start in range(0, len(ids), 500):
        conn.execute(
            delete(OutboxRow).where(
                OutboxRow.record_type == record_type,
                OutboxRow.record_id.in_(ids[start : start + 500]),
            )
        )


def clear(conn: Connection) -> int:
    """Drop every queued op; returns how many."""
    return int(conn.execute(delete(OutboxRow)).rowcount or 0)  # type: ignore[attr-defined]


def pending(conn: Connection, limit: int) -> list[OutboxOp]:
    """The oldest ``limit`` ops, in the order they were written."""
    return [
        OutboxOp(seq, op_id, kind, record_id, json.loads(payload), created, attempts, error)
        for seq, op_id, kind, record_id, payload, created, attempts, error in (
            conn.exec_driver_sql(_PENDING, (limit,))
        )
    ]


def ack(conn: Connection, op_ids: Iterable[str]) -> int:
    """Drop acknowledged ops; unknown ids are ignored (an ack may be repeated)."""
    ids = list(op_ids)
    removed = 0
    for start in range(0, len(ids), IN_CHUNK):
        chunk = tuple(ids[start : start + IN_CHUNK])
        result = conn.exec_driver_sql(_ACK + f"({', '.join('?' * len(chunk))})", chunk)
        removed += int(result.rowcount or 0)
    return removed


def failed(session: Session, op_id: str, error: str) -> int:
    """Count a failed attempt and remember why; returns the attempts so far."""
    row = session.scalars(select(OutboxRow).where(OutboxRow.op_id == op_id)).one_or_none()
    if row is None:
        raise NotFound(f"no pending sync operation {op_id}")
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_CHARS]
    return row.attempts


def count(conn: Connection) -> int:
    """How many ops wait to be sent."""
    return int(conn.exec_driver_sql(_COUNT).scalar() or 0)


__all__ = [
    "ack", "clear", "count", "drop_records", "enqueue", "enqueue_many", "failed", "pending", "take",
]  # fmt: skip
