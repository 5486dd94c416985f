"""Collecting deleted conversations (docs/sync-protocol.md section 10).

A tombstone goes once it is old enough and every non-revoked device of the user has applied
every change concerning it; its change-log entries and records are deleted, its id is
remembered (later ops get ``gone``) and a ``purge`` change tells the devices.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select

from snapask_desktop.server import schema
from snapask_desktop.server.blobs import BlobStore
from snapask_desktop.server.changes import ChangeRow, append_purge, lock_user
from snapask_desktop.server.database import Database
from snapask_desktop.sync.limits import MAX_PURGE_SCREENSHOTS, TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.records import PurgeRecord, picture_text_prefix

cv, m, ch, dv = schema.conversations, schema.messages, schema.changes, schema.devices


def collect_tombstones(
    db: Database, blobs: BlobStore, now_ms: int, *, min_age_ms: int = TOMBSTONE_MIN_AGE_MS
) -> list[tuple[int, ChangeRow]]:
    """Collect every collectable tombstone; returns (user id, purge change) for each."""
    with db.read() as conn:
        candidates = conn.execute(
            select(cv.c.user_id, cv.c.id).where(
                cv.c.deleted.is_(True), cv.c.delete_wall_ms <= now_ms - min_age_ms
            )
        ).all()
    purges: list[tuple[int, ChangeRow]] = []
    for user_id, conversation_id in candidates:
        done = _collect_one(db, user_id, conversation_id, now_ms, min_age_ms)
        if done is not None:
            row, dropped = done
            blobs.drop(user_id, dropped)
            purges.append((user_id, row))
    return purges


def _collect_one(
    db: Database, user_id: int, conversation_id: str, now_ms: int, min_age_ms: int
) -> tuple[ChangeRow, list[str]] | None:
    with db.write() as conn:
        lock_user(conn, user_id)
        state = conn.execute(
            select(cv.c.deleted, cv.c.delete_wall_ms).where(
                cv.c.user_id == user_id, cv.c.id == conversation_id
            )
        ).one_or_none()
        if state is None or not state.deleted or state.delete_wall_ms > now_ms - min_age_ms:
            return None
        newest = conn.execute(
            select(func.max(ch.c.seq)).where(
                ch.c.user_id == user_id, ch.c.conversation_id == conversation_id
            )
        ).scalar_one()
        lowest_applied = conn.execute(
            select(func.min(dv.c.applied_cursor)).where(
                dv.c.user_id == user_id, dv.c.revoked.is_(False)
            )
        ).scalar_one()
        if newest is not None and lowest_applied is not None and lowest_applied < newest:
            return None  # some device has not applied (and answered) every change yet
        used = set(
            conn.execute(
                select(m.c.screenshot_sha256).where(
                    m.c.user_id == user_id,
                    m.c.conversation_id == conversation_id,
                    m.c.screenshot_sha256.is_not(None),
                )
            ).scalars()
        )
        conn.execute(
            delete(ch).where(ch.c.user_id == user_id, ch.c.conversation_id == conversation_id)
        )
        conn.execute(
            delete(m).where(m.c.user_id == user_id, m.c.conversation_id == conversation_id)
        )
        conn.execute(delete(cv).where(cv.c.user_id == user_id, cv.c.id == conversation_id))
        still_used = set(
            conn.execute(
                select(m.c.screenshot_sha256).where(
                    m.c.user_id == user_id, m.c.screenshot_sha256.in_(sorted(used))
                )
            ).scalars()
        )
        dropped = sorted(used - still_used)[:MAX_PURGE_SCREENSHOTS]
        if dropped:
            sh = schema.screenshots
            conn.execute(delete(sh).where(sh.c.user_id == user_id, sh.c.sha256.in_(dropped)))
            # The text read from a dropped picture goes with it (its changes name no
            # conversation, so they are found by their payload).
            for sha in dropped:
                conn.execute(
                    delete(ch).where(
                        ch.c.user_id == user_id,
                        ch.c.conversation_id.is_(None),
                        ch.c.payload.like(picture_text_prefix(sha) + "%"),
                    )
                )
        conn.execute(
            schema.collected.insert().values(
                user_id=user_id, conversation_id=conversation_id, collected_at=now_ms
            )
        )
        purge = PurgeRecord(conversation_id=conversation_id, screenshots=tuple(dropped))
        row = append_purge(conn, user_id, purge, str(uuid.uuid4()))
    return row, dropped
