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


def requeue_everything(conn: Connection, now: int, *, keep_cursor: bool = False) -> int:
    """Replace the outbox with one fresh op per record and set the cursor to 0 (unless
    ``keep_cursor``: a key rotation sends every record again sealed with the new key, and
    nothing needs pulling again).

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
    if not keep_cursor:
        write_meta(conn, CURSOR_KEY, "0")
    return count
