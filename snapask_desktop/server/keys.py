"""An encrypted account's key record (docs/sync-protocol.md 12.9): reading it, replacing it by
compare-and-swap, and turning an account encrypted.

An account is encrypted exactly when it has a key record. The first ``keys_put`` stores one
and, in the same transaction under the user's lock, drops every clear copy the server holds
of the user's records and pictures (change log, op ids, merged copies, blob rows), so that from
its commit on nothing clear of the account is left but the blob files, which are deleted right
after (``BlobStore.discard``). The user's counter is left as it was: seqs keep rising and the
devices' cursors stay valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select, update

from snapask_desktop.server import schema
from snapask_desktop.server.changes import lock_user
from snapask_desktop.server.database import Database
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.wire import encode_json

k = schema.key_records
_VERSION = select(k.c.version).where(k.c.user_id == bindparam("uid"))
# Every table holding a clear copy of a user's records or pictures (the counter stays).
_CLEAR_TABLES = (
    schema.changes,
    schema.op_ids,
    schema.conversations,
    schema.messages,
    schema.screenshots,
    schema.blobs,
)


@dataclass(frozen=True, slots=True)
class KeysPut:
    """What a successful ``keys_put`` did."""

    version: int  # the record's version now
    record: KeyRecord
    turned_on: bool  # the first record: the account became encrypted
    dropped_blobs: tuple[str, ...]  # the user's blob ids whose files are to be deleted


def keys_version(conn: Connection, user_id: int) -> int:
    """The user's key record version (0: the account is not encrypted)."""
    return int(conn.execute(_VERSION, {"uid": user_id}).scalar() or 0)


def read_keys(db: Database, user_id: int) -> tuple[int, KeyRecord | None]:
    """The user's key record and its version ((0, None): not encrypted)."""
    with db.read() as conn:
        row = conn.execute(select(k.c.version, k.c.record).where(k.c.user_id == user_id)).first()
    if row is None:
        return 0, None
    return int(row[0]), KeyRecord.from_wire(json.loads(row[1]))


def put_keys(
    db: Database, user_id: int, expect_version: int, record: KeyRecord, now_ms: int
) -> KeysPut:
    """Store ``record`` if the stored one is at ``expect_version`` (0: none), else raise
    ``keys_conflict``; the first one also drops the user's clear copies (see the module)."""
    text = encode_json(record.to_wire())

    def put(conn: Connection) -> KeysPut:
        lock_user(conn, user_id)  # serialises with the user's pushes and blob completions
        current = keys_version(conn, user_id)
        if current != expect_version:
            raise ProtocolError(
                ErrorCode.KEYS_CONFLICT,
                f"expect_version: the key record is at version {current}, not "
                f"{expect_version}; fetch it with keys_get and redo the change",
            )
        version = current + 1
        values = {"version": version, "record": text, "updated_at": now_ms}
        if current:
            conn.execute(update(k).where(k.c.user_id == user_id).values(values))
            return KeysPut(version, record, False, ())
        conn.execute(k.insert().values(user_id=user_id, **values))
        return KeysPut(version, record, True, drop_clear_copies(conn, user_id))

    return db.transact(put)


def drop_clear_copies(conn: Connection, user_id: int) -> tuple[str, ...]:
    """Delete the user's change log, op ids, merged copies and blob rows (under the held user
    lock); returns the blob ids whose files the caller deletes after the commit. Collected
    conversation ids stay, so a late op for one is still answered ``gone``."""
    b = schema.blobs
    shas = tuple(conn.execute(select(b.c.sha256).where(b.c.user_id == user_id)).scalars())
    for table in _CLEAR_TABLES:
        conn.execute(delete(table).where(table.c.user_id == user_id))
    return shas


def read_accounts(db: Database, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(head, key record version) of each of these users, for their welcome: one statement per
    500 users, like ``catchup.read_heads``."""
    ids = sorted(set(user_ids))
    counters = schema.user_counters
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(counters.c.user_id, counters.c.head, k.c.version)
            .select_from(counters.outerjoin(k, k.c.user_id == counters.c.user_id))
            .where(counters.c.user_id.in_(ids[start : start + 500]))
        )
        with db.read_once() as conn:
            found.update({int(u): (int(h), int(v or 0)) for u, h, v in conn.execute(query)})
    return found
