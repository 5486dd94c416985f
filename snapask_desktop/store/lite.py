"""The sync engine's idle path with plain sqlite3: an app signed in to a sync server, with
nothing to send or apply, never imports SQLAlchemy (~45 MB of the idle tray app).

An idle session reads the device id, the cursor and the outbox's size, asks whether a large
sync left messages to index for search, and remembers when it was last in step with the server
(one meta row). Everything else (sending ops, applying changes) needs the full `Store`. The
same rules as `peek`: a missing file holds nothing yet; a file this version can't use as it is
raises `PeekUnavailable`, and the caller opens the `Store` instead. The queries mirror
`replica.read_cursor`, `outbox.count`, `backlog.count` and `Store.mark_synced`;
tests/store/test_lite.py checks that they agree with the real store on real files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from snapask_desktop.store.peek import PeekUnavailable, connection

log = logging.getLogger(__name__)

# The meta rows sync keeps (replica.py and the Store use these names too).
CURSOR_KEY = "sync_cursor"
LAST_SYNCED_KEY = "sync_last_synced_at"
DEVICE_ID_KEY = "device_id"


def device_id(db_path: Path) -> str | None:
    """This device's id, None before the store has made one (it does on first open)."""
    with connection(db_path, "ro") as db:
        if db is None:
            return None
        row = db.execute("SELECT value FROM meta WHERE key = ?", (DEVICE_ID_KEY,)).fetchone()
    return None if row is None else str(row[0])


def sync_cursor(db_path: Path) -> int:
    """The highest server seq applied here (0: none yet, or an unreadable stored value)."""
    with connection(db_path, "ro") as db:
        if db is None:
            return 0
        row = db.execute("SELECT value FROM meta WHERE key = ?", (CURSOR_KEY,)).fetchone()
    return 0 if row is None else cursor_value(str(row[0]))


def cursor_value(stored: str) -> int:
    """The cursor a stored meta value stands for: 0 for anything that isn't one."""
    try:
        cursor = int(stored)
    except ValueError:
        cursor = -1
    if cursor < 0:
        # Pulling everything again is always safe: applying a change twice changes nothing.
        log.warning("the stored sync cursor %r is not a cursor; starting from 0", stored)
        return 0
    return cursor


def outbox_count(db_path: Path) -> int:
    """How many ops wait to be sent."""
    with connection(db_path, "ro") as db:
        if db is None:
            return 0
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def search_backlog(db_path: Path) -> int:
    """How many messages a large sync left out of the full-text index (`backlog.count`)."""
    with connection(db_path, "ro") as db:
        if db is None:
            return 0
        row = db.execute("SELECT from_rid FROM message_fts_backlog").fetchone()
        if row is None:
            return 0
        found = db.execute("SELECT count(*) FROM message WHERE rid >= ?", (row[0],)).fetchone()
    return int(found[0])


def mark_synced(db_path: Path, at_ms: int) -> None:
    """Remember when this device was last fully in step with the server (unix ms)."""
    if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
        raise ValueError(f"a time is milliseconds >= 0, not {at_ms!r}")
    with connection(db_path, "rw") as db:
        if db is None:
            raise PeekUnavailable(f"there is no database at {db_path} yet")
        with db:  # one transaction, committed on leaving
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (LAST_SYNCED_KEY, str(at_ms)),
            )


__all__ = [
    "CURSOR_KEY",
    "DEVICE_ID_KEY",
    "LAST_SYNCED_KEY",
    "PeekUnavailable",
    "device_id",
    "mark_synced",
    "outbox_count",
    "search_backlog",
    "sync_cursor",
]
