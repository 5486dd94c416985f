"""Catching live connections up from the log when live frames may have been lost.

With several instances, live frames travel through Redis, which may drop them (Redis down,
a subscription being remade, a publish that failed). The change log in the database is the
truth, so each instance knows, per live connection, the cursor of the last ``changes`` frame it
queued to it, and compares it with the users' heads: after every (re)subscription to Redis, and
every few seconds anyway (every housekeeping round while Redis is down). A connection behind
gets the missing changes as live frames; the device applies them like any other (a duplicate
is stale to it, a gap makes it pull).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select

from snapask_desktop.server import schema
from snapask_desktop.server.database import Database

_CURSOR = re.compile(r'"cursor":(\d+),')


def frame_cursor(frame: str) -> int:
    """The ``cursor`` of a ``changes`` frame this server wrote (read from its first bytes)."""
    found = _CURSOR.search(frame, 0, 200)
    if found is None:
        raise ValueError("not a changes frame of this server")
    return int(found[1])


def read_heads(db: Database, user_ids: Iterable[int]) -> dict[int, int]:
    """The head (last seq) of each of these users: one statement per 500 users (each head is
    read no earlier than the call; heads of different users need not share a snapshot)."""
    ids = sorted(set(user_ids))
    counters = schema.user_counters
    heads: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        query = select(counters.c.user_id, counters.c.head).where(
            counters.c.user_id.in_(ids[start : start + 500])
        )
        with db.read_once() as conn:
            heads.update({int(u): int(h) for u, h in conn.execute(query)})
    return heads


def behind(cursors: dict[int, list[tuple[object, int]]], heads: dict[int, int]) -> list[object]:
    """The connections (grouped by user, with their cursors) whose cursor is below the head."""
    late = []
    for user_id, connections in cursors.items():
        head = heads.get(user_id, 0)
        late.extend(conn for conn, cursor in connections if cursor < head)
    return late
