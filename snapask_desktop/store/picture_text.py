"""The text read from pictures (local OCR): kept per picture hash and searched with History.

Functions take an open Connection inside the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from snapask_desktop.store import search as fts
from snapask_desktop.store.models import ScreenshotRow, ScreenshotTextRow

_TABLE = ScreenshotTextRow.__table__
MAX_TEXT_CHARS = 200_000  # a dense 4K screen holds about 20,000 characters
SNIPPET_TOKENS = 16


def put(conn: Connection, sha256: str, recognised: str, engine: str, now_ms: int) -> None:
    """Keep (or replace) the text read from picture `sha256`."""
    values = {"sha256": sha256, "text": recognised, "engine": engine, "created_at": now_ms}
    conn.execute(
        sqlite_insert(_TABLE)
        .values(**values)
        .on_conflict_do_update(index_elements=["sha256"], set_=values)
    )


def unread(conn: Connection, limit: int) -> list[str]:
    """Up to `limit` pictures whose text was never read here, newest first (synced ones, those
    kept before OCR was installed or while reading was off, or cut short by a quit)."""
    shot = ScreenshotRow.__table__
    query = (
        select(shot.c.sha256)
        .outerjoin(_TABLE, _TABLE.c.sha256 == shot.c.sha256)
        .where(_TABLE.c.sha256.is_(None))
        .order_by(shot.c.created_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def get(conn: Connection, sha256: str) -> str | None:
    """The text kept for picture `sha256`, or None when it was never read."""
    return conn.execute(select(_TABLE.c.text).where(_TABLE.c.sha256 == sha256)).scalar()


def matches(conn: Connection, query: str) -> list[tuple[str, str, int, str]]:
    """(message id, conversation id, message HLC, marked snippet) of the visible messages whose
    picture's text matches the FTS `query`, newest picture text first."""
    sql = text(
        f"""SELECT m.id, m.conversation_id, m.hlc,
               snippet(screenshot_text_fts, 0, '{fts.MARK_START}', '{fts.MARK_END}',
                       '{fts.ELLIPSIS}', {SNIPPET_TOKENS}) AS marked
           FROM screenshot_text_fts
           CROSS JOIN screenshot_text t ON t.rid = screenshot_text_fts.rowid
           CROSS JOIN message m ON m.screenshot_sha256 = t.sha256
           CROSS JOIN conversation c ON c.id = m.conversation_id
           WHERE screenshot_text_fts MATCH :q AND c.deleted = 0
           ORDER BY screenshot_text_fts.rowid DESC, m.hlc DESC"""
    )
    return [(r.id, r.conversation_id, r.hlc, r.marked) for r in conn.execute(sql, {"q": query})]
