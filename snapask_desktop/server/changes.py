"""The change log: applying pushed ops (section 5.2) and reading pages of changes (5.3).

The rules of a push are in ``push.py``; this module reads and writes. Blocking database work,
run off the event loop. Every push is one transaction that first UPDATEs the user's counter
row (the per-user lock), so sequence numbers are allocated without holes, in commit order,
together with the op-id table and the merged record copies. Payload JSON is stored as text
and spliced into frames without being parsed again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from snapask_desktop.server import push, schema
from snapask_desktop.server.database import Database
from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.limits import MAX_PAGE_BYTES
from snapask_desktop.sync.merge import cancel_delete_for_messages
from snapask_desktop.sync.protocol import InvalidOp, Op, OpResult
from snapask_desktop.sync.records import (
    PICTURE_TEXT_PREFIX,
    ConversationState,
    MessageRecord,
    PurgeRecord,
    ScreenshotRecord,
    parse_payload,
)
from snapask_desktop.sync.wire import RequestId, encode_json

c = schema.changes
_IN_CHUNK = 500
# Only the type key can hold this unescaped: a quote inside any string value is escaped.
_PICTURE_TEXT_MARK = '"type":"picture_text"'
# An encrypted account's picture_text records (12.9): sealed, their kind in clear.
_SEALED_TEXT_PREFIX = '{"type":"sealed","kind":"picture_text"'
_SEALED_TEXT_MARK = '"kind":"picture_text"'


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One stored change, its payload as JSON text."""

    seq: int
    op_id: str
    device_id: str | None
    payload: str
    size: int  # UTF-8 bytes of payload (stored with it: not encoded again for every page)

    def _envelope(self) -> tuple[str, str]:
        device = "null" if self.device_id is None else f'"{self.device_id}"'
        # op ids are UUIDs and device ids are [A-Za-z0-9_-]: nothing to escape.
        return f'{{"seq":{self.seq},"op_id":"{self.op_id}","device_id":{device},"payload":', "}"

    def to_json(self) -> str:
        """The change object of a ``changes`` frame, spliced from the stored text."""
        head, tail = self._envelope()
        return head + self.payload + tail

    def json_bytes(self) -> int:
        """UTF-8 bytes of ``to_json()`` (the envelope is ASCII)."""
        head, tail = self._envelope()
        return len(head) + self.size + len(tail)


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What a push did: one result per op, and the live frame for the applied ones."""

    results: tuple[OpResult, ...]
    live_frames: tuple[str, ...]  # ``changes`` frames without id, in seq order (5.3)
    applied: int
    committed_at: float  # time.perf_counter() right after the commit


def changes_frame(
    since: int,
    cursor: int,
    has_more: bool,
    rows: Iterable[ChangeRow],
    request_id: RequestId | None = None,
) -> str:
    """The JSON text of a ``changes`` frame (section 5.3)."""
    head = '{"type":"changes",'
    if request_id is not None:
        head += f'"id":{encode_json(request_id)},'
    more = "true" if has_more else "false"
    body = ",".join(row.to_json() for row in rows)
    return f'{head}"since":{since},"cursor":{cursor},"has_more":{more},"changes":[{body}]}}'


def without_picture_text(frame: str) -> str:
    """A live ``changes`` frame without its picture_text changes (for a device that does not
    read them; 5.1). Its since and cursor stay: the device's cursor passes them."""
    if _PICTURE_TEXT_MARK not in frame and _SEALED_TEXT_MARK not in frame:
        return frame
    body = json.loads(frame)
    body["changes"] = [change for change in body["changes"] if not _is_text(change["payload"])]
    return encode_json(body)


def _is_text(payload: dict[str, Any]) -> bool:
    kind = payload.get("type")
    return kind == "picture_text" or (kind == "sealed" and payload.get("kind") == "picture_text")


def fitting(rows: Sequence[ChangeRow], overhead: int, max_bytes: int) -> int:
    """How many leading ``rows`` a ``changes`` frame holds (section 5.3): at least one, then
    as many as keep the frame within ``max_bytes``; ``overhead`` is the frame's size without
    changes (an upper bound: its cursor written as the largest it can be)."""
    total = overhead
    for count, row in enumerate(rows):
        total += row.json_bytes() + (1 if count else 0)  # the comma between changes
        if total > max_bytes and count:
            return count
    return len(rows)


def live_frames(rows: Sequence[ChangeRow], max_bytes: int = MAX_PAGE_BYTES) -> tuple[str, ...]:
    """Consecutive ``rows`` as live ``changes`` frames, each packed like a pull page, so the
    live frames of a push that fitted ``MAX_FRAME_BYTES`` fit it too (their envelope is larger
    than a push's)."""
    frames: list[str] = []
    start = 0
    while start < len(rows):
        since = rows[start].seq - 1
        overhead = len(changes_frame(since, rows[-1].seq, False, ()))
        count = fitting(rows[start:], overhead, max_bytes)
        part = rows[start : start + count]
        frames.append(changes_frame(since, part[-1].seq, False, part))
        start += count
    return tuple(frames)


# Built once: building a statement costs more than running it on SQLite (every push runs
# these). The user id and head are bound at execution.
_COUNTER = schema.user_counters
_LOCK_USER = (
    update(_COUNTER)
    .where(_COUNTER.c.user_id == bindparam("uid"))
    .values(head=_COUNTER.c.head)
    .returning(_COUNTER.c.head)
)
# The lock of a push, which also reads whether the account is encrypted (no extra round trip).
_LOCK_USER_KEYS = (
    update(_COUNTER)
    .where(_COUNTER.c.user_id == bindparam("uid"))
    .values(head=_COUNTER.c.head)
    .returning(
        _COUNTER.c.head,
        # Bound to the user id, not correlated: SQLite's RETURNING drops the table names, and
        # "user_id = user_id" there would read any account's key record.
        select(schema.key_records.c.version)
        .where(schema.key_records.c.user_id == bindparam("uid"))
        .scalar_subquery(),
    )
)
_SET_HEAD = (
    update(_COUNTER)
    .where(_COUNTER.c.user_id == bindparam("uid"))
    .values(head=bindparam("new_head"))
)


def lock_user(conn: Connection, user_id: int) -> int:
    """Take the user's lock (UPDATE of the counter row first) and return the head seq."""
    return int(conn.execute(_LOCK_USER, {"uid": user_id}).scalar_one())


def set_head(conn: Connection, user_id: int, head: int) -> None:
    conn.execute(_SET_HEAD, {"uid": user_id, "new_head": head})


def read_head(db: Database, user_id: int) -> int:
    """The user's highest seq so far."""
    with db.read() as conn:
        return int(
            conn.execute(
                select(schema.user_counters.c.head).where(schema.user_counters.c.user_id == user_id)
            ).scalar_one()
        )


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


_LOOKUPS: dict[tuple[str, str, str], Any] = {}  # (table, key, value) -> statement


def _lookup(
    conn: Connection, table: Any, key: str, value: str, user_id: int, ids: Iterable[str]
) -> dict[str, Any]:
    """``{key: value}`` of the user's rows of ``table`` whose ``key`` is one of ``ids``."""
    wanted = sorted(set(ids))
    found: dict[str, Any] = {}
    if not wanted:
        return found
    kind = (table.name, key, value)
    statement = _LOOKUPS.get(kind)
    if statement is None:  # built once per lookup kind (see _LOCK_USER)
        statement = select(table.c[key], table.c[value]).where(
            table.c.user_id == bindparam("uid"),
            table.c[key].in_(bindparam("ids", expanding=True)),
        )
        _LOOKUPS[kind] = statement
    for chunk in _chunks(wanted):
        rows = conn.execute(statement, {"uid": user_id, "ids": list(chunk)})
        found.update({r[0]: r[1] for r in rows})
    return found


def apply_push(
    db: Database,
    user_id: int,
    device_id: str,
    ops: Sequence[Op | InvalidOp],
    *,
    now_ms: int,
    max_drift_ms: int,
) -> PushOutcome:
    """Apply a push's ops in one transaction under the user's lock (section 5.2, steps 1-6):
    read what the ops name, let ``push.plan_push`` judge them, write the plan (again from the
    start if PostgreSQL aborts the transaction for a lost race)."""

    def push_in(conn: Connection) -> tuple[push.PushPlan, list[ChangeRow]]:
        head, keys_version = conn.execute(_LOCK_USER_KEYS, {"uid": user_id}).one()
        held = _holdings(conn, user_id, ops)
        held.encrypted = bool(keys_version)
        stored_states = set(held.states)
        plan = push.plan_push(ops, held, head=int(head), now_ms=now_ms, max_drift_ms=max_drift_ms)
        return plan, _write_plan(conn, user_id, device_id, plan, stored_states)

    plan, rows = db.transact(push_in)
    committed_at = time.perf_counter()
    return PushOutcome(tuple(plan.results), live_frames(rows), len(rows), committed_at)


def _holdings(conn: Connection, user_id: int, ops: Sequence[Op | InvalidOp]) -> push.Holdings:
    """What the server holds of the records the ops name (a few IN queries)."""
    known = _lookup(conn, schema.op_ids, "op_id", "seq", user_id, (op.op_id for op in ops))
    valid = [op.payload for op in ops if isinstance(op, Op) and op.op_id not in known]
    conv_ids = {cid for p in valid if (cid := push.conversation_of(p)) is not None}
    collected = _lookup(
        conn, schema.collected, "conversation_id", "collected_at", user_id, conv_ids
    )
    conversations = (p.id for p in valid if isinstance(p, ConversationState))
    # Stored messages and screenshots are read back only when a push names them again.
    messages = (p.id for p in valid if isinstance(p, MessageRecord))
    shots = (p.sha256 for p in valid if isinstance(p, ScreenshotRecord))
    return push.Holdings(
        op_seqs=known,
        collected=set(collected),
        states=_stored(conn, user_id, schema.conversations, "id", "state", conversations),
        messages=_stored(conn, user_id, schema.messages, "id", "payload", messages),
        screenshots=_stored(conn, user_id, schema.screenshots, "sha256", "payload", shots),
    )


def _stored(
    conn: Connection, user_id: int, table: Any, key: str, column: str, ids: Iterable[str]
) -> dict[str, Any]:
    """The user's records of ``table`` whose ``key`` is one of ``ids``, parsed from ``column``."""
    found = _lookup(conn, table, key, column, user_id, ids)
    return {k: parse_payload(json.loads(text)) for k, text in found.items()}


def _write_plan(
    conn: Connection, user_id: int, device_id: str, plan: push.PushPlan, stored_states: set[str]
) -> list[ChangeRow]:
    """Insert the accepted changes, their op ids and new records; save the merged states."""
    if not plan.accepted:
        return []
    rows = [
        ChangeRow(a.seq, a.op_id, device_id, a.text, len(a.text.encode("utf-8")))
        for a in plan.accepted
    ]
    conn.execute(
        c.insert(),
        [
            {
                "user_id": user_id,
                "seq": row.seq,
                "op_id": row.op_id,
                "device_id": device_id,
                "conversation_id": accepted.conversation_id,
                "payload": row.payload,
                "size": row.size,
            }
            for row, accepted in zip(rows, plan.accepted, strict=True)
        ],
    )
    conn.execute(
        schema.op_ids.insert(),
        [{"user_id": user_id, "op_id": r.op_id, "seq": r.seq} for r in rows],
    )
    new = [a for a in plan.accepted if a.new_record]
    messages = [_message_values(user_id, a) for a in new if isinstance(a.payload, MessageRecord)]
    if messages:
        conn.execute(schema.messages.insert(), messages)
    shots = [
        {"user_id": user_id, "sha256": a.payload.sha256, "payload": a.text}
        for a in new
        if isinstance(a.payload, ScreenshotRecord)
    ]
    if shots:
        conn.execute(schema.screenshots.insert(), shots)
    states = dict(plan.states)
    stored = stored_states | _cancel_deletes(conn, user_id, states, plan.newest)
    _save_states(conn, user_id, states, stored)
    set_head(conn, user_id, plan.head)
    return rows


def _message_values(user_id: int, accepted: push.Accepted) -> dict[str, Any]:
    message = accepted.payload
    assert isinstance(message, MessageRecord)
    return {
        "user_id": user_id,
        "id": message.id,
        "conversation_id": message.conversation_id,
        "screenshot_sha256": message.screenshot_sha256,
        "payload": accepted.text,
    }


_DELETED_STATES = select(schema.conversations.c.id, schema.conversations.c.state).where(
    schema.conversations.c.user_id == bindparam("uid"),
    schema.conversations.c.deleted.is_(True),
    schema.conversations.c.id.in_(bindparam("ids", expanding=True)),
)
_MESSAGES_OF = select(schema.messages.c.payload).where(
    schema.messages.c.user_id == bindparam("uid"),
    schema.messages.c.conversation_id == bindparam("cid"),
)


def _cancel_deletes(
    conn: Connection, user_id: int, states: dict[str, ConversationState], newest: dict[str, int]
) -> set[str]:
    """Rule 9.6.1 on the server's copies, as on every device: a delete older than a message of
    its conversation is cancelled (so it is never collected). ``states`` are this push's
    merged states, ``newest`` the newest message stamp per conversation pushed here; stored
    deleted states of the latter are added to ``states`` when cancelled. Returns their ids.
    """
    loaded: set[str] = set()
    others = sorted(set(newest) - set(states))
    for chunk in _chunks(others):
        for cid, text in conn.execute(_DELETED_STATES, {"uid": user_id, "ids": list(chunk)}):
            states[cid] = ConversationState.from_wire(json.loads(text))
            loaded.add(cid)
    for cid, state in list(states.items()):
        if state.deleted:
            states[cid] = cancel_delete_for_messages(
                state, max(newest.get(cid, -1), _newest_stored_message(conn, user_id, cid))
            )
        if cid in loaded and states[cid] is state:
            del states[cid]  # still deleted: nothing to write
            loaded.discard(cid)
    return loaded


def _newest_stored_message(conn: Connection, user_id: int, conversation_id: str) -> int:
    # Only for deleted conversations (rare): the stamps are read from the stored payloads.
    payloads = conn.execute(_MESSAGES_OF, {"uid": user_id, "cid": conversation_id}).scalars()
    return max((int(json.loads(text)["hlc"]) for text in payloads), default=-1)


_UPDATE_STATE = (
    update(schema.conversations)
    .where(
        schema.conversations.c.user_id == bindparam("uid"),
        schema.conversations.c.id == bindparam("cid"),
    )
    .values(
        state=bindparam("new_state"),
        deleted=bindparam("new_deleted"),
        delete_wall_ms=bindparam("new_delete_wall_ms"),
    )
)


def _save_states(
    conn: Connection, user_id: int, states: dict[str, ConversationState], existing: Iterable[str]
) -> None:
    stored = set(existing)
    inserts, updates = [], []
    for cid, state in states.items():
        values = {
            "state": encode_json(state.to_wire()),
            "deleted": state.deleted,
            "delete_wall_ms": state.field_hlc["deleted"].hlc >> COUNTER_BITS,
        }
        if cid in stored:
            renamed = {f"new_{key}": value for key, value in values.items()}
            updates.append({"uid": user_id, "cid": cid, **renamed})
        else:
            inserts.append({"user_id": user_id, "id": cid, **values})
    if updates:
        conn.execute(_UPDATE_STATE, updates)
    if inserts:
        conn.execute(schema.conversations.insert(), inserts)


def append_purge(conn: Connection, user_id: int, purge: PurgeRecord, op_id: str) -> ChangeRow:
    """Append a server-written ``purge`` change under the held user lock."""
    head = lock_user(conn, user_id) + 1
    text = encode_json(purge.to_wire())
    row = ChangeRow(head, op_id, None, text, len(text.encode("utf-8")))
    conn.execute(
        c.insert().values(
            user_id=user_id,
            seq=head,
            op_id=op_id,
            device_id=None,
            conversation_id=None,
            payload=text,
            size=row.size,
        )
    )
    conn.execute(schema.op_ids.insert().values(user_id=user_id, op_id=op_id, seq=head))
    set_head(conn, user_id, head)
    return row


_PAGE = select(c.c.seq, c.c.op_id, c.c.device_id, c.c.payload, c.c.size).where(
    c.c.user_id == bindparam("uid"), c.c.seq > bindparam("since")
)
# For a device that does not read picture_text records (5.1): they are left out, as a
# collected change is, and its cursor still passes them.
_PAGE_WITHOUT_TEXT = _PAGE.where(
    c.c.payload.not_like(PICTURE_TEXT_PREFIX.replace("_", "\\_") + "%", escape="\\"),
    c.c.payload.not_like(_SEALED_TEXT_PREFIX.replace("_", "\\_") + "%", escape="\\"),
)


@dataclass(frozen=True, slots=True)
class PageRows:
    """The database part of a pull page (``read_rows``): its rows and the head, read in one
    snapshot. ``frame`` makes the reply of any request id from it, exactly as ``read_page``."""

    since: int
    head: int
    rows: tuple[ChangeRow, ...]  # what a frame without id holds at most
    more: bool  # the log holds changes after ``rows``: every frame of it says has_more
    max_page_bytes: int

    def frame(self, request_id: RequestId | None = None) -> tuple[str, int, bool, int]:
        """The reply's text, how many changes it holds, its has_more and its cursor."""
        since, head = self.since, self.head
        # The frame's bytes without changes, its cursor at its largest ("false" is the longer).
        overhead = len(changes_frame(since, max(head, since), False, (), request_id).encode())
        rows = self.rows[: fitting(self.rows, overhead, self.max_page_bytes)]
        has_more = self.more or len(rows) < len(self.rows)
        cursor = rows[-1].seq if has_more else max(head, since)
        return changes_frame(since, cursor, has_more, rows, request_id), len(rows), has_more, cursor


def read_rows(
    db: Database,
    user_id: int,
    since: int,
    limit: int,
    *,
    max_page_bytes: int = MAX_PAGE_BYTES,
    picture_text: bool = True,
) -> PageRows:
    """A pull page's rows and the user's head, in one snapshot; without ``picture_text``,
    such changes are left out. Only the rows a frame without request id can hold are kept
    (a frame with one holds the same or fewer: ``PageRows.frame``)."""
    query = _PAGE if picture_text else _PAGE_WITHOUT_TEXT
    with db.read() as conn:
        result = conn.execute(
            query.order_by(c.c.seq).limit(limit + 1), {"uid": user_id, "since": since}
        ).all()
        head = int(
            conn.execute(
                select(schema.user_counters.c.head).where(schema.user_counters.c.user_id == user_id)
            ).scalar_one()
        )
    found = [ChangeRow(*values) for values in result[:limit]]
    overhead = len(changes_frame(since, max(head, since), False, ()).encode("utf-8"))
    rows = tuple(found[: fitting(found, overhead, max_page_bytes)])
    return PageRows(since, head, rows, len(result) > len(rows), max_page_bytes)


def read_page(
    db: Database,
    user_id: int,
    since: int,
    limit: int,
    request_id: RequestId | None = None,
    *,
    max_page_bytes: int = MAX_PAGE_BYTES,
    picture_text: bool = True,
) -> tuple[str, int]:
    """A pull reply's frame text and how many changes it holds (page and head: one snapshot);
    without ``picture_text``, such changes are left out."""
    page = read_rows(
        db, user_id, since, limit, max_page_bytes=max_page_bytes, picture_text=picture_text
    )
    text, count, _more, _cursor = page.frame(request_id)
    return text, count
