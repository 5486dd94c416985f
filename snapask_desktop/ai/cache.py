"""Persistent answer cache: one SQLite file (WAL), keyed by a hash of everything that was asked."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from snapask_desktop.ai.types import AskRequest

CACHE_FILENAME = "answer-cache.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS answers_created ON answers (created_at);
"""


def cache_key(provider: str, request: AskRequest, image_tag: str = "") -> str:
    """SHA-256 over a canonical JSON of provider, model, system and every turn (role, text,
    image hash). `image_tag` names how unprepared images will be prepared (same source,
    other settings = another answer)."""
    turns = [
        {
            "role": t.role,
            "text": t.text,
            "image": None
            if t.image is None
            else {
                "sha256": t.image.sha256,
                "prep": "sent-as-is" if t.image.prepared else image_tag,
            },
        }
        for t in request.turns
    ]
    payload = {
        "v": 1,
        "provider": provider,
        "model": request.model,
        "system": request.system,
        "turns": turns,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost cache entry only costs a re-ask
        db.execute("PRAGMA secure_delete=ON")  # evicted answers are overwritten, not left behind
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


@dataclass(frozen=True)
class CacheStats:
    """What the cache holds and how it served this process."""

    path: Path
    entries: int
    text_bytes: int
    hits: int
    misses: int


class AnswerCache:
    """Complete answers by key; safe to use from several threads (one connection, one lock)."""

    def __init__(self, path: Path, max_entries: int = 10_000) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        try:
            self._db = _open(self.path)
        except sqlite3.DatabaseError:
            # Only a cache: a damaged file is set aside (for inspection) and started afresh.
            stamp = int(time.time())
            for suffix in ("", "-wal", "-shm"):
                part = self.path.with_name(self.path.name + suffix)
                with contextlib.suppress(FileNotFoundError):
                    part.replace(part.with_name(f"{part.name}.corrupt-{stamp}"))
            self._db = _open(self.path)

    def get(self, key: str) -> str | None:
        """The cached answer, or None."""
        with self._lock:
            row = self._db.execute("SELECT text FROM answers WHERE key = ?", (key,)).fetchone()
            if row is None:
                self._misses += 1
                return None
            self._hits += 1
            return str(row[0])

    def put(self, key: str, text: str) -> None:
        """Store a complete answer (callers never store cancelled or failed ones)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, text, created_at) VALUES (?, ?, ?)",
                (key, text, time.time()),
            )
            self._evict()

    def clear(self) -> int:
        """Remove every entry, leaving no answer text on disk; returns how many there were."""
        with self._lock:
            removed = self._db.execute("DELETE FROM answers").rowcount
            # A plain DELETE leaves the text in free pages and the WAL: users clear the cache
            # to get rid of it, so rewrite the file and empty the log.
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return removed

    def stats(self) -> CacheStats:
        """Entry count, stored text size, hits and misses since this object was made."""
        with self._lock:
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM answers"
            ).fetchone()
            return CacheStats(self.path, int(count), int(size), self._hits, self._misses)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def _evict(self) -> None:
        # Oldest first once over the cap; cheap because created_at is indexed.
        self._db.execute(
            "DELETE FROM answers WHERE key IN (SELECT key FROM answers ORDER BY created_at DESC "
            "LIMIT -1 OFFSET ?)",
            (self.max_entries,),
        )
