"""The local conflict records and sync problems: written and read in the caller's transaction.

Conflict records (sync-protocol.md 9.2) are local: the device that merged keeps them until the
user keeps the other version or dismisses them, or until the field is written again after
both conflicting writes (then whatever the conversation shows is newer than either side and
the record no longer describes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, delete, insert, select, tuple_

from snapask_desktop.store import convert
from snapask_desktop.store.models import ConflictRow, SyncProblemRow
from snapask_desktop.store.records import ConflictRecord, SyncProblem
from snapask_desktop.sync.limits import MAX_ERROR_MESSAGE_CHARS
from snapask_desktop.sync.records import FIELDS, Conflict, ConversationState

_CONFLICT = ConflictRow.__table__
_PROBLEM = SyncProblemRow.__table__
MAX_CODE_CHARS = 40
_IN_CHUNK = 500
# Driver-level SQL: every local edit and every applied rename asks, and SQLAlchemy's statement
# layers cost several times what SQLite takes to find that no record exists.
_WITH_RECORDS = "SELECT conversation_id FROM conflict WHERE conversation_id IN "


def record(conn: Connection, found: Iterable[Conflict], now: int) -> list[ConflictRecord]:
    """Store new conflict records; one already stored (the same two writes) is not repeated."""
    written: list[ConflictRecord] = []
    for conflict in found:
        row = conn.execute(
            insert(_CONFLICT)
            .prefix_with("OR IGNORE")
            .values(
                conversation_id=conflict.conversation_id,
                field=conflict.field,
                losing_value=conflict.losing_value,
                losing_hlc=conflict.losing_stamp.hlc,
                losing_device=conflict.losing_stamp.device,
                winning_value=conflict.winning_value,
                winning_hlc=conflict.winning_stamp.hlc,
                winning_device=conflict.winning_stamp.device,
                created_at=now,
            )
            .returning(*_CONFLICT.c)
        ).one_or_none()
        if row is not None:
            written.append(convert.conflict(row))
    return written


def clear_superseded(conn: Connection, states: Sequence[ConversationState]) -> None:
    """Drop records whose field was written again after both of its writes."""
    by_id = {state.id: state for state in states}
    ids = list(by_id)
    with_records: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found = conn.exec_driver_sql(f"{_WITH_RECORDS}({marks})", tuple(chunk))
        with_records.update(found.scalars())
    for conversation_id in with_records:
        state = by_id[conversation_id]
        for field in FIELDS:
            stamp = tuple_(*state.field_hlc[field])
            conn.execute(
                delete(_CONFLICT).where(
                    _CONFLICT.c.conversation_id == conversation_id,
                    _CONFLICT.c.field == field,
                    and_(
                        tuple_(_CONFLICT.c.losing_hlc, _CONFLICT.c.losing_device) < stamp,
                        tuple_(_CONFLICT.c.winning_hlc, _CONFLICT.c.winning_device) < stamp,
                    ),
                )
            )


def listed(conn: Connection, conversation_id: str | None) -> list[ConflictRecord]:
    """Conflict records, oldest first (of one conversation, or all)."""
    query = select(_CONFLICT).order_by(_CONFLICT.c.id)
    if conversation_id is not None:
        query = query.where(_CONFLICT.c.conversation_id == conversation_id)
    return [convert.conflict(row) for row in conn.execute(query)]


def get(conn: Connection, conflict_id: int) -> ConflictRecord | None:
    """One conflict record, or None."""
    row = conn.execute(select(_CONFLICT).where(_CONFLICT.c.id == conflict_id)).one_or_none()
    return None if row is None else convert.conflict(row)


def remove(conn: Connection, conflict_id: int) -> None:
    """Forget one conflict record (absent: nothing to do)."""
    conn.execute(delete(_CONFLICT).where(_CONFLICT.c.id == conflict_id))


def remove_for(conn: Connection, conversation_id: str) -> None:
    """Forget every record of a conversation (it was purged)."""
    conn.execute(delete(_CONFLICT).where(_CONFLICT.c.conversation_id == conversation_id))


def add_problem(
    conn: Connection,
    *,
    op_id: str,
    record_type: str,
    record_id: str,
    code: str,
    message: str,
    now: int,
) -> SyncProblem:
    """Keep a permanently rejected op's reason for the user."""
    row = conn.execute(
        insert(_PROBLEM)
        .values(
            op_id=op_id,
            record_type=record_type,
            record_id=record_id,
            code=code[:MAX_CODE_CHARS],
            message=message[:MAX_ERROR_MESSAGE_CHARS],
            created_at=now,
        )
        .returning(*_PROBLEM.c)
    ).one()
    return convert.sync_problem(row)


def has_problem(conn: Connection, record_type: str, record_id: str, code: str) -> bool:
    """Whether a problem of this code is already kept for the record."""
    query = select(_PROBLEM.c.id).where(
        _PROBLEM.c.record_type == record_type,
        _PROBLEM.c.record_id == record_id,
        _PROBLEM.c.code == code,
    )
    return conn.execute(query.limit(1)).first() is not None


def problems(conn: Connection, limit: int) -> list[SyncProblem]:
    """The newest problems first."""
    query = select(_PROBLEM).order_by(_PROBLEM.c.id.desc()).limit(limit)
    return [convert.sync_problem(row) for row in conn.execute(query)]


def dismiss_problem(conn: Connection, problem_id: int) -> None:
    """Forget one problem (absent: nothing to do)."""
    conn.execute(delete(_PROBLEM).where(_PROBLEM.c.id == problem_id))
