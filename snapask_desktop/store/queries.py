"""Read queries for the history list, search and short ids, shaped to use the indexes.

Each function takes an open SQLAlchemy Connection (inside a read transaction) and returns
plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, text

from snapask_desktop.store import backlog, picture_text
from snapask_desktop.store import search as fts
from snapask_desktop.store.peek import SUMMARY_COLUMNS, VISIBLE, summary
from snapask_desktop.store.records import (
    ConversationSummary,
    HistoryCursor,
    OwnerTitle,
    SearchHit,
)

SNIPPET_TOKENS = 16


def history(
    conn: Connection, limit: int, before: HistoryCursor | None, include_archived: bool
) -> list[ConversationSummary]:
    """Newest activity first, ``limit`` rows after the ``before`` cursor (keyset pagination)."""
    where = VISIBLE[include_archived]
    params: dict[str, Any] = {"limit": limit}
    if before is not None:
        where += " AND (c.last_activity, c.id) < (:at, :id)"
        params |= {"at": before.last_activity, "id": before.id}
    sql = f"""SELECT {SUMMARY_COLUMNS} FROM conversation c WHERE {where}
              ORDER BY c.last_activity DESC, c.id DESC LIMIT :limit"""
    return [summary(row) for row in conn.execute(text(sql), params)]


def pinned(conn: Connection, limit: int, include_archived: bool) -> list[ConversationSummary]:
    """The pinned conversations, newest activity first (listed above the history)."""
    sql = f"""SELECT {SUMMARY_COLUMNS} FROM conversation c
              WHERE {VISIBLE[include_archived]} AND c.pinned = 1
              ORDER BY c.last_activity DESC, c.id DESC LIMIT :limit"""
    return [summary(row) for row in conn.execute(text(sql), {"limit": limit})]


def summaries(conn: Connection, ids: Sequence[str]) -> dict[str, ConversationSummary]:
    """Summaries of the given (non-deleted) conversations, keyed by id."""
    if not ids:
        return {}
    sql = text(
        f"SELECT {SUMMARY_COLUMNS} FROM conversation c WHERE c.deleted = 0 AND c.id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    return {row.id: summary(row) for row in conn.execute(sql, {"ids": list(ids)})}


def matching_ids(conn: Connection, prefix: str, limit: int, deleted: bool = False) -> list[str]:
    """Ids of visible (or, with ``deleted``, deleted) conversations starting with ``prefix``
    (a range scan on the unique index)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute(
        text(
            "SELECT id FROM conversation WHERE id >= :lo AND id < :hi AND deleted = :deleted "
            "ORDER BY id LIMIT :limit"
        ),
        {"lo": prefix, "hi": upper, "limit": limit, "deleted": int(deleted)},
    )
    return [row.id for row in rows]


_OWNER_SQL = {
    "conversation": "SELECT title, deleted FROM conversation WHERE id = :id",
    "message": "SELECT c.title, c.deleted FROM message m JOIN conversation c "
    "ON c.id = m.conversation_id WHERE m.id = :id",
    # a picture may be in several conversations: name a live one if there is one
    "screenshot": "SELECT c.title, c.deleted FROM message m JOIN conversation c "
    "ON c.id = m.conversation_id WHERE m.screenshot_sha256 = :id ORDER BY c.deleted, m.hlc LIMIT 1",
}


def owner_title(conn: Connection, record_type: str, record_id: str) -> OwnerTitle | None:
    """The conversation a conversation, message or picture record belongs to (None: not here)."""
    sql = _OWNER_SQL.get(record_type)
    if sql is None:
        return None
    row = conn.execute(text(sql), {"id": record_id}).first()
    return None if row is None else OwnerTitle(row.title, bool(row.deleted))


@dataclass(frozen=True, slots=True)
class _Candidate:
    recency: int  # HLC: conversation activity for a title match, the message for a message match
    conversation_id: str
    matched_in: Literal["title", "message"]
    marked: str
    message_id: str | None = None
    in_picture: bool = False  # the match is in the text read from the message's picture


def search(conn: Connection, user_text: str, limit: int) -> list[SearchHit]:
    """Conversations matching the user's text in the title or a message, newest match first."""
    query = fts.fts_query(user_text)
    if query is None:
        return []
    candidates = (
        _title_matches(conn, query, limit)
        + _message_matches(conn, query, limit)
        + _picture_matches(conn, query)
    )
    unindexed_from = backlog.mark(conn)
    if unindexed_from is not None:  # a large sync's messages, until they are indexed
        candidates += _unindexed_matches(conn, user_text, unindexed_from, limit)
    candidates.sort(key=lambda c: (c.recency, c.conversation_id), reverse=True)
    chosen: dict[str, _Candidate] = {}
    for candidate in candidates:
        chosen.setdefault(candidate.conversation_id, candidate)
        if len(chosen) == limit:
            break
    found = summaries(conn, list(chosen))
    return [_hit(found[cid], candidate) for cid, candidate in chosen.items() if cid in found]


def _hit(summary: ConversationSummary, candidate: _Candidate) -> SearchHit:
    # Message text is Markdown (answers); titles and a picture's read text are not.
    markdown = candidate.matched_in == "message" and not candidate.in_picture
    snippet, spans = fts.parse_marked(candidate.marked, markdown=markdown)
    return SearchHit(
        summary, candidate.matched_in, candidate.message_id, snippet, spans, candidate.in_picture
    )


def _title_matches(conn: Connection, query: str, limit: int) -> list[_Candidate]:
    sql = text(
        f"""SELECT c.last_activity AS recency, c.id,
               highlight(conversation_fts, 0, '{fts.MARK_START}', '{fts.MARK_END}') AS marked
            FROM conversation_fts CROSS JOIN conversation c ON c.rid = conversation_fts.rowid
            WHERE conversation_fts MATCH :q AND c.deleted = 0
            ORDER BY c.last_activity DESC LIMIT :limit"""
    )
    rows = conn.execute(sql, {"q": query, "limit": limit})
    return [_Candidate(row.recency, row.id, "title", row.marked) for row in rows]


def _message_matches(conn: Connection, query: str, limit: int) -> list[_Candidate]:
    # Walk matches newest rowid first and stop once `limit` distinct conversations are seen:
    # a common word costs a few hundred rows, not every match. The snippet is made here, from
    # the match iterator FTS5 already holds; a second MATCH per row would re-read the doclists.
    sql = text(
        f"""SELECT m.id, m.conversation_id, m.hlc,
               snippet(message_fts, 0, '{fts.MARK_START}', '{fts.MARK_END}', '{fts.ELLIPSIS}',
                       {SNIPPET_TOKENS}) AS marked
           FROM message_fts CROSS JOIN message m ON m.rid = message_fts.rowid
           CROSS JOIN conversation c ON c.id = m.conversation_id
           WHERE message_fts MATCH :q AND c.deleted = 0
           ORDER BY message_fts.rowid DESC"""
    )
    found: dict[str, _Candidate] = {}
    result = conn.execute(sql, {"q": query})
    try:
        for row in result:
            if row.conversation_id not in found:
                found[row.conversation_id] = _Candidate(
                    row.hlc, row.conversation_id, "message", row.marked, row.id
                )
                if len(found) == limit:
                    break
    finally:
        result.close()
    return list(found.values())


def _unindexed_matches(
    conn: Connection, user_text: str, unindexed_from: int, limit: int
) -> list[_Candidate]:
    # The messages past the backlog mark are not in message_fts: read them newest first and
    # match the same words in Python (store/backlog.py). Slower than the index (~0.1 s for
    # 50,000 messages when a word is rare), and only until the indexing step has run.
    terms = fts.plain_terms(user_text)
    if terms is None:
        return []
    sql = """SELECT m.id, m.conversation_id, m.hlc, m.text FROM message m
             CROSS JOIN conversation c ON c.id = m.conversation_id
             WHERE m.rid >= ? AND c.deleted = 0 ORDER BY m.rid DESC"""
    found: dict[str, _Candidate] = {}
    result = conn.exec_driver_sql(sql, (unindexed_from,))
    try:
        for message_id, conversation_id, hlc, body in result:
            if conversation_id in found:
                continue
            marked = fts.marked_match(body, terms, SNIPPET_TOKENS)
            if marked is not None:
                found[conversation_id] = _Candidate(
                    hlc, conversation_id, "message", marked, message_id
                )
                if len(found) == limit:
                    break
    finally:
        result.close()
    return list(found.values())


def _picture_matches(conn: Connection, query: str) -> list[_Candidate]:
    # Reported as a match in the message that carries the picture (History shows its snippet);
    # `in_picture` says the words are in the picture, not in what was typed.
    found: dict[str, _Candidate] = {}
    for message_id, conversation_id, hlc, marked in picture_text.matches(conn, query):
        found.setdefault(
            conversation_id, _Candidate(hlc, conversation_id, "message", marked, message_id, True)
        )
    return list(found.values())
