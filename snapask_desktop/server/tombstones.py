"""Collecting deleted conversations (docs/sync-protocol.md section 10).

A tombstone goes once it is old enough and every non-revoked device of the user has applied
every change concerning it; its change-log entries and records are deleted, its id is
remembered (later ops get ``gone``) and a ``purge`` change tells the devices.

An encrypted account's conversations are sealed: the server cannot merge them or apply rule
9.6.1, so it collects one only when every device also confirmed (the ``deleted`` frame, 12.12)
that its own merged state of it is deleted at the stamp the newest conversation op carries in
clear, having applied every change of it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from snapask_desktop.server import schema
from snapask_desktop.server.blobs import BlobStore
from snapask_desktop.server.changes import ChangeRow, append_purge, lock_user
from snapask_desktop.server.database import Database
from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.limits import MAX_PURGE_SCREENSHOTS, TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.protocol import DeletedConversation
from snapask_desktop.sync.records import PurgeRecord, picture_text_prefix

cv, m, ch, dv = schema.conversations, schema.messages, schema.changes, schema.devices
dc, kr = schema.deleted_confirmations, schema.key_records
# The change payloads of an encrypted account's conversation ops (sealed.SealedRecord.to_wire).
_SEALED_CONVERSATION = '{"type":"sealed","kind":"conversation",'


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
    purges.extend(_collect_sealed(db, now_ms, min_age_ms))
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


# ---------------------------------------------------------------------- encrypted accounts


def confirm_deleted(
    db: Database,
    user_id: int,
    device_id: str,
    cursor: int,
    confirmed: Sequence[DeletedConversation],
) -> int:
    """Store a device's ``deleted`` confirmations (12.12); returns how many were kept.

    Ignored on a clear account (the server judges those itself) and for conversations of which
    the log holds nothing (collected already, or never pushed): the table stays bounded by the
    account's tombstones. Whether a confirmation still counts is judged at collection."""
    newest = {c.id: c.deleted_at for c in confirmed}  # the last word per conversation
    with db.write() as conn:
        encrypted = conn.execute(select(kr.c.version).where(kr.c.user_id == user_id)).first()
        if encrypted is None:
            return 0
        known = set(
            conn.execute(
                select(ch.c.conversation_id)
                .where(ch.c.user_id == user_id, ch.c.conversation_id.in_(sorted(newest)))
                .distinct()
            ).scalars()
        )
        if not known:
            return 0
        conn.execute(
            delete(dc).where(
                dc.c.user_id == user_id,
                dc.c.device_id == device_id,
                dc.c.conversation_id.in_(sorted(known)),
            )
        )
        conn.execute(
            dc.insert(),
            [
                {
                    "user_id": user_id,
                    "conversation_id": cid,
                    "device_id": device_id,
                    "deleted_at": newest[cid],
                    "cursor": cursor,
                }
                for cid in sorted(known)
            ],
        )
    return len(known)


def _collect_sealed(db: Database, now_ms: int, min_age_ms: int) -> list[tuple[int, ChangeRow]]:
    """Collect the encrypted accounts' confirmed tombstones (12.12)."""
    # The highest HLC whose wall part is old enough (stamps are wall_ms << 16 | counter).
    newest_old_enough = ((now_ms - min_age_ms + 1) << COUNTER_BITS) - 1
    with db.read() as conn:
        candidates = conn.execute(
            select(dc.c.user_id, dc.c.conversation_id)
            .where(dc.c.deleted_at <= newest_old_enough)
            .distinct()
        ).all()
    purges: list[tuple[int, ChangeRow]] = []
    for user_id, conversation_id in candidates:
        with db.write() as conn:
            lock_user(conn, user_id)
            if _sealed_collectable(conn, user_id, conversation_id, newest_old_enough):
                purges.append((user_id, _drop_sealed(conn, user_id, conversation_id, now_ms)))
    return purges


def _sealed_collectable(
    conn: Connection, user_id: int, conversation_id: str, newest_old_enough: int
) -> bool:
    """Whether the conversation's newest conversation op is a delete old enough, and every
    non-revoked device has applied past its newest change and confirmed that very stamp with a
    cursor past it (a confirmation made before a later op, a restore or a message that may
    cancel the delete by rule 9.6.1, does not count: the device had not seen it)."""
    newest = conn.execute(
        select(func.max(ch.c.seq)).where(
            ch.c.user_id == user_id, ch.c.conversation_id == conversation_id
        )
    ).scalar_one()
    if newest is None:  # collected already, or nothing left: the confirmations are moot
        conn.execute(
            delete(dc).where(dc.c.user_id == user_id, dc.c.conversation_id == conversation_id)
        )
        return False
    last_state = conn.execute(
        select(ch.c.payload)
        .where(
            ch.c.user_id == user_id,
            ch.c.conversation_id == conversation_id,
            ch.c.payload.like(_SEALED_CONVERSATION + "%"),
        )
        .order_by(ch.c.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    deleted_at = None if last_state is None else json.loads(last_state).get("deleted_at")
    if deleted_at is None or deleted_at > newest_old_enough:
        return False
    devices = conn.execute(
        select(dv.c.id, dv.c.applied_cursor).where(dv.c.user_id == user_id, dv.c.revoked.is_(False))
    ).all()
    confirmed = {
        row.device_id
        for row in conn.execute(
            select(dc.c.device_id).where(
                dc.c.user_id == user_id,
                dc.c.conversation_id == conversation_id,
                dc.c.deleted_at == deleted_at,
                dc.c.cursor >= newest,
            )
        )
    }
    return all(applied >= newest and device in confirmed for device, applied in devices)


def _drop_sealed(conn: Connection, user_id: int, conversation_id: str, now_ms: int) -> ChangeRow:
    """Drop the conversation's changes and confirmations, remember it collected, append its
    purge. Its pictures stay: which messages name a sealed picture is inside the ciphertext,
    so the server cannot tell whether another conversation still shows it (the purge names
    none, and the picture's sealed ``screenshot`` and ``picture_text`` changes stay too)."""
    conn.execute(delete(ch).where(ch.c.user_id == user_id, ch.c.conversation_id == conversation_id))
    conn.execute(delete(dc).where(dc.c.user_id == user_id, dc.c.conversation_id == conversation_id))
    conn.execute(
        schema.collected.insert().values(
            user_id=user_id, conversation_id=conversation_id, collected_at=now_ms
        )
    )
    purge = PurgeRecord(conversation_id=conversation_id, screenshots=())
    return append_purge(conn, user_id, purge, str(uuid.uuid4()))
