"""Read-only looks into the store's file with plain sqlite3, for what an idle app needs at start.

The tray's recent conversations and one meta value (the saved answer queue) are read here so
start-up never imports SQLAlchemy. Nothing here creates, upgrades or writes the database: a
missing file holds nothing yet; a file this version can't read as it is (older schema that needs
upgrading, newer, foreign, damaged, locked) raises `PeekUnavailable`, and the caller opens the
full `Store` instead, which upgrades, recovers or refuses it with its usual messages.

The recent list shares its row (SUMMARY_COLUMNS, `summary`) with `queries.history`; the queries
mirror `queries.history` and `Store.get_meta`; tests/store/test_peek.py checks that
they agree with the real store on real files.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from snapask_desktop.store import dbfile, validate
from snapask_desktop.store.errors import StoreError
from snapask_desktop.store.records import ConversationSummary
from snapask_desktop.store.schema import HEAD_REVISION
from snapask_desktop.store.search import preview
from snapask_desktop.sync.clock import COUNTER_BITS

BUSY_TIMEOUT_S = 2.0

# The history's row and its mapping (`summary`): shared with queries.history (which imports
# them from here, so that this module stays free of SQLAlchemy). Per-conversation facts come
# from index range scans on message(conversation_id, hlc, id): a page of 50 costs 150 short
# lookups, however large.
SUMMARY_COLUMNS = """
    c.id, c.title, c.pinned, c.archived, c.created_at, c.updated_at, c.last_activity,
    (SELECT count(*) FROM message m WHERE m.conversation_id = c.id) AS message_count,
    (SELECT m.screenshot_sha256 FROM message m
      WHERE m.conversation_id = c.id AND m.screenshot_sha256 IS NOT NULL
      ORDER BY m.hlc, m.id LIMIT 1) AS first_screenshot_sha256,
    (SELECT substr(m.text, 1, 400) FROM message m
      WHERE m.conversation_id = c.id ORDER BY m.hlc DESC, m.id DESC LIMIT 1) AS last_text,
    (SELECT count(DISTINCT m.screenshot_sha256) FROM message m
      WHERE m.conversation_id = c.id) AS picture_count
"""
# The literal "deleted = 0 [AND archived = 0]" terms let SQLite pick the matching partial index.
VISIBLE = {False: "c.deleted = 0 AND c.archived = 0", True: "c.deleted = 0"}
_RECENT_SQL = f"""SELECT {SUMMARY_COLUMNS} FROM conversation c WHERE {VISIBLE[False]}
    ORDER BY c.last_activity DESC, c.id DESC LIMIT ?"""
_PINNED_FIRST_SQL = f"""SELECT {SUMMARY_COLUMNS} FROM conversation c WHERE {VISIBLE[False]}
    ORDER BY c.pinned DESC, c.last_activity DESC, c.id DESC LIMIT ?"""


class PeekUnavailable(StoreError):
    """The file can't be read without the full store (it needs upgrading, is damaged, busy...)."""


def recent_conversations(
    db_path: Path, limit: int = 5, pinned_first: bool = False
) -> list[ConversationSummary]:
    """The newest visible conversations, as `Store.list_conversations(limit)` returns them
    (`pinned_first`: the pinned ones first, as the tray lists them)."""
    checked = validate.limit(limit)
    sql = _PINNED_FIRST_SQL if pinned_first else _RECENT_SQL
    with _reading(db_path) as connection:
        if connection is None:
            return []
        rows = connection.execute(sql, (checked,)).fetchall()
    return [summary(row) for row in rows]


def meta_value(db_path: Path, key: str) -> str | None:
    """A meta value as `Store.get_meta(key)` returns it (None when absent or no file yet)."""
    clean_key = validate.text_value(key, "the key", 100)
    with _reading(db_path) as connection:
        if connection is None:
            return None
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (clean_key,)).fetchone()
    return None if row is None else str(row[0])


@contextlib.contextmanager
def _reading(db_path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection on a file at this version's schema; None when there is none yet."""
    # mode=ro: never creates the file and never writes, checkpoints or truncates the WAL.
    with connection(db_path, "ro") as opened:
        yield opened


@contextlib.contextmanager
def connection(db_path: Path, mode: str) -> Iterator[sqlite3.Connection | None]:
    """A plain connection (`mode` "ro" or "rw": never creates the file) on a file at this
    version's schema; None when there is none yet. `PeekUnavailable` for any other file."""
    state = dbfile.inspect_file(db_path)
    if state.kind == "new":
        yield None
        return
    if state.kind != "ours" or state.revision != HEAD_REVISION:
        found = state.reason or state.revision or state.kind
        raise PeekUnavailable(f"the database {db_path} needs the full store ({found})")
    verb = "read" if mode == "ro" else "used"
    try:
        uri = f"{db_path.resolve().as_uri()}?mode={mode}"
        opened = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        opened.row_factory = sqlite3.Row
    except sqlite3.Error as error:
        raise PeekUnavailable(f"the database {db_path} could not be {verb}: {error}") from error
    try:
        yield opened
    except sqlite3.Error as error:
        raise PeekUnavailable(f"the database {db_path} could not be {verb}: {error}") from error
    finally:
        opened.close()


def summary(row: Sequence[Any]) -> ConversationSummary:
    """The history row from a result row in SUMMARY_COLUMNS order (a plain sqlite3 row here, a
    SQLAlchemy row in ``queries``: both index by position)."""
    cid, title, pinned, archived, created, updated, activity, count, sha, last_text, pictures = row
    return ConversationSummary(
        id=cid,
        title=title,
        pinned=bool(pinned),
        archived=bool(archived),
        created_at=created,
        updated_at=updated,
        last_activity_at=activity >> COUNTER_BITS,
        last_activity_hlc=activity,
        message_count=count,
        first_screenshot_sha256=sha,
        preview=preview(last_text),
        picture_count=pictures,
    )
