"""Looks at the database file before SQLAlchemy or Alembic is involved: is it ours, how old,
is it damaged. Plain sqlite3 keeps a normal start cheap; Alembic is imported only to upgrade.

Policy for a file that is not a usable SQLite database (bad header, "file is not a database",
"malformed"): it is renamed, together with its -wal/-shm files, to
``snapask.db.damaged-<UTC time>`` in the same folder (never deleted) and a new database is
started; the caller gets a CorruptDatabase notice saying where the old file went. A valid
SQLite file made by another program, or by a newer SnapAsk, is refused and left untouched.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from snapask_desktop.store.errors import (
    CorruptDatabase,
    DatabaseUnavailable,
    MigrationFailed,
    NotOurDatabase,
    SchemaTooNew,
)
from snapask_desktop.store.schema import HEAD_REVISION, REVISIONS

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm")
DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

FileKind = Literal["new", "ours", "foreign", "damaged"]


@dataclass(frozen=True, slots=True)
class FileState:
    """What the file at a path is: new (absent or empty), ours (with revision), foreign, damaged."""

    kind: FileKind
    revision: str | None = None
    reason: str = ""


def inspect_file(path: Path) -> FileState:
    """Classify the database file without changing it."""
    if not path.exists() or path.stat().st_size == 0:
        return FileState("new")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        return FileState("damaged", reason="not an SQLite database file")
    try:
        return _inspect_sqlite(path)
    except sqlite3.DatabaseError as exc:
        # Only a file SQLite calls corrupt or not-a-database is damaged; "locked", I/O and
        # open errors are passing conditions, and moving the user's history aside for one
        # would look like data loss.
        if getattr(exc, "sqlite_errorcode", None) in DAMAGED_CODES:
            return FileState("damaged", reason=str(exc))
        raise DatabaseUnavailable(path, str(exc)) from exc


def _inspect_sqlite(path: Path) -> FileState:
    # Read-only: SQLite then never checkpoints, truncates or deletes a -wal file, so even a
    # damaged database's last commits are still there when it is moved aside.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in names:
            return FileState("new") if not names else FileState("foreign")
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        connection.close()
    if len(rows) != 1:
        return FileState("damaged", reason=f"{len(rows)} schema versions recorded")
    return FileState("ours", revision=str(rows[0][0]))


def quarantine(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm) aside; returns the new main file path."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    suffix = 1
    while kept.exists():
        suffix += 1
        kept = path.with_name(f"{path.name}.damaged-{stamp}-{suffix}")
    for side in SIDE_FILES:
        side_path = path.with_name(path.name + side)
        if side_path.exists():
            side_path.rename(kept.with_name(kept.name + side))
    path.rename(kept)
    return kept


def prepare(path: Path, *, recover_damaged: bool = True) -> CorruptDatabase | None:
    """Make ``path`` a database at the head revision, upgrading in place when it is older.

    Returns a CorruptDatabase notice when a damaged file was moved aside; raises
    SchemaTooNew / NotOurDatabase (file untouched) and CorruptDatabase if not recovering.
    """
    notice: CorruptDatabase | None = None
    state = inspect_file(path)
    if state.kind == "damaged":
        if not recover_damaged:
            raise CorruptDatabase(path, None, state.reason)
        notice = CorruptDatabase(path, quarantine(path), state.reason)
        state = FileState("new")
    if state.kind == "foreign":
        raise NotOurDatabase(path)
    if state.revision is not None and state.revision not in REVISIONS:
        raise SchemaTooNew(path, state.revision, HEAD_REVISION)
    _use_wal(path)
    if state.revision != HEAD_REVISION:
        _upgrade(path, state.revision)
    return notice


def _upgrade(path: Path, found: str | None) -> None:
    from snapask_desktop.store import migrate  # Alembic only when there is work to do

    try:
        migrate.upgrade(path)
    except Exception as exc:
        raise MigrationFailed(path, found, f"{type(exc).__name__}: {exc}") from exc


def _use_wal(path: Path) -> None:
    # journal_mode is persistent in the file; setting it again is a no-op.
    connection = sqlite3.connect(path, timeout=10)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()
