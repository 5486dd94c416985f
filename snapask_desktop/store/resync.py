"""Starting sync over: every local record queued again as new ops (sync-protocol.md 5.1).

Used when the server lost data (``welcome.head`` below our cursor) and when the device signs
out or moves to another server: the server then lacks what we already sent, and re-sending a
record is always safe (merging a state or a message twice changes nothing).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from snapask_desktop.store import convert, outbox
from snapask_desktop.store.models import (
    ConversationRow,
    MessageRow,
    ScreenshotRow,
    ScreenshotTextRow,
)
from snapask_desktop.store.records import RecordType
from snapask_desktop.store.replica import CURSOR_KEY, write_meta

_CONVERSATION = ConversationRow.__table__
_MESSAGE = MessageRow.__table__
_SCREENSHOT = ScreenshotRow.__table__
_TEXT = ScreenshotTextRow.__table__


def requeue_everything(conn: Connection, now: int) -> int:
    """Replace the outbox with one fresh op per record and set the cursor to 0.

    Screenshots first, then conversations, then messages (a message's picture and
    conversation reach the server before it), then the text read from pictures. Pending
    messages are not sent yet and stay out. Every queued op's record is in the store in its
    newest state, so nothing queued is lost.
    """
    outbox.clear(conn)
    ops: list[tuple[RecordType, str, dict[str, Any]]] = []
    for row in conn.execute(select(_SCREENSHOT).order_by(_SCREENSHOT.c.created_at, "sha256")):
        ops.append(("screenshot", row.sha256, convert.screenshot_record(row).to_wire()))
    for row in conn.execute(select(_CONVERSATION).order_by(_CONVERSATION.c.rid)):
        ops.append(("conversation", row.id, convert.state(row).to_wire()))
    messages = (
        select(_MESSAGE)
        .where(_MESSAGE.c.status != "pending")
        .order_by(_MESSAGE.c.hlc, _MESSAGE.c.id)
    )
    for row in conn.execute(messages):
        ops.append(("message", row.id, convert.message_record(row).to_wire()))
    for row in conn.execute(select(_TEXT).order_by(_TEXT.c.rid)):
        ops.append(("picture_text", row.sha256, convert.picture_text_record(row).to_wire()))
    count = outbox.enqueue_many(conn, ops, now)
    write_meta(conn, CURSOR_KEY, "0")
    return count


# A key rotation queues every record again in steps, one short transaction each: a user's edit
# waits for one step at most (about 50 ms, 150 at worst at load 3), not for the whole store
# (120,000 records take about 9 s of CPU; docs/benchmarks.md).
REQUEUE_STEP = 500
REQUEUE_ORDER: tuple[RecordType, ...] = ("screenshot", "conversation", "message", "picture_text")
_STEP_TABLES: dict[str, tuple[Any, Any]] = {
    "screenshot": (_SCREENSHOT, _SCREENSHOT.c.sha256),
    "conversation": (_CONVERSATION, _CONVERSATION.c.rid),
    "message": (_MESSAGE, _MESSAGE.c.rid),
    "picture_text": (_TEXT, _TEXT.c.rid),
}


def requeue_step(
    conn: Connection, kind: RecordType, after: Any, limit: int, now: int
) -> tuple[int, Any]:
    """Append one fresh op for each of up to ``limit`` records of ``kind`` past ``after`` (in
    key order; None: from the first), keeping the outbox and the cursor. A record that already
    has an op queued gets no second one: what is queued is sealed when it is sent, so it goes
    out under the current key anyway (a message sealed twice would be stored twice). Returns
    (ops queued, the key to go on after, or None when this kind is done). Kinds go in
    ``REQUEUE_ORDER`` (pictures and conversations before the messages that name them); pending
    messages stay out."""
    table, key = _STEP_TABLES[kind]
    query = select(table).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    rows = conn.execute(query).all()
    name = "sha256" if kind in ("screenshot", "picture_text") else "id"
    queued = outbox.queued_ids(conn, kind, (getattr(row, name) for row in rows))
    ops: list[tuple[RecordType, str, dict[str, Any]]] = []
    for row in rows:
        if getattr(row, name) in queued:
            continue
        if kind == "screenshot":
            ops.append((kind, row.sha256, convert.screenshot_record(row).to_wire()))
        elif kind == "conversation":
            ops.append((kind, row.id, convert.state(row).to_wire()))
        elif kind == "message":
            if row.status != "pending":
                ops.append((kind, row.id, convert.message_record(row).to_wire()))
        else:
            ops.append((kind, row.sha256, convert.picture_text_record(row).to_wire()))
    count = outbox.enqueue_many(conn, ops, now)
    last = getattr(rows[-1], key.name) if len(rows) == limit else None
    return count, last


def requeue_conversations(conn: Connection, ids: list[str], now: int) -> int:
    """Queue the stored state of these conversations again (an encrypted account's device whose
    deleted state is newer than the server's newest op of it, sync-protocol.md 12.12: the
    server collects a tombstone only when its newest op carries the delete). Re-sending a
    state is always safe: merging it again changes nothing."""
    rows = conn.execute(select(_CONVERSATION).where(_CONVERSATION.c.id.in_(sorted(ids))))
    queued = 0
    for row in rows:
        outbox.enqueue(conn, "conversation", row.id, convert.state(row).to_wire(), now)
        queued += 1
    return queued
