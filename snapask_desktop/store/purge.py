"""Removing a collected conversation (a ``purge`` change, sync-protocol.md section 10).

Runs in the caller's transaction; the screenshot files are removed by the caller only after
the commit (files are not transactional, and a row must never point at a missing file).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select

from snapask_desktop.store import conflicts, outbox
from snapask_desktop.store.models import ConversationRow, MessageRow, ScreenshotRow

_CONVERSATION = ConversationRow.__table__
_MESSAGE = MessageRow.__table__
_SCREENSHOT = ScreenshotRow.__table__


def purge_conversation(
    conn: Connection, conversation_id: str, screenshots: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """Remove the conversation, its messages, their queued ops and conflict records, and the
    listed screenshots that no remaining message uses; returns those as (sha256, mime)."""
    message_ids = list(
        conn.execute(
            select(_MESSAGE.c.id).where(_MESSAGE.c.conversation_id == conversation_id)
        ).scalars()
    )
    outbox.drop_records(conn, "conversation", [conversation_id])
    outbox.drop_records(conn, "message", message_ids)
    conn.execute(delete(_MESSAGE).where(_MESSAGE.c.conversation_id == conversation_id))
    conflicts.remove_for(conn, conversation_id)
    conn.execute(delete(_CONVERSATION).where(_CONVERSATION.c.id == conversation_id))
    return _drop_unused_screenshots(conn, list(dict.fromkeys(screenshots)))


def _drop_unused_screenshots(conn: Connection, shas: list[str]) -> list[tuple[str, str]]:
    if not shas:
        return []
    still_used = set(
        conn.execute(
            select(_MESSAGE.c.screenshot_sha256)
            .where(_MESSAGE.c.screenshot_sha256.in_(shas))
            .distinct()
        ).scalars()
    )
    unused = [sha for sha in shas if sha not in still_used]
    if not unused:
        return []
    dropped = [
        (row.sha256, row.mime)
        for row in conn.execute(
            select(_SCREENSHOT.c.sha256, _SCREENSHOT.c.mime).where(_SCREENSHOT.c.sha256.in_(unused))
        )
    ]
    conn.execute(delete(_SCREENSHOT).where(_SCREENSHOT.c.sha256.in_(unused)))
    outbox.drop_records(conn, "screenshot", unused)
    return dropped
