"""Looks at the database file before SQLAlchemy or Alembic is involved: is it ours, how old,
is it damaged. Plain sqlite3 keeps a normal start cheap; Alembic is imported only to upgrade.

Policy for a file that is not a usable SQLite database (bad header, "file is not a database",
"malformed", a folder in its place): what can still be read is copied, table by table and row
by row, into a new database (`salvage.py`); the damaged file is then renamed, together with its
-wal/-shm files, to ``snapask.db.damaged-<UTC time>`` in the same folder (never deleted) and the
new one takes its place. The caller gets a CorruptDatabase notice saying where the old file went
and what was recovered. A valid SQLite file made by another program, or by a newer SnapAsk, is
refused and left untouched.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from snapask_desktop.store.errors import (
    CorruptDatabase,
    DatabaseUnavailable,
    MigrationFailed,
    NotOurDatabase,
    SchemaTooNew,
)
from snapask_desktop.store.schema import HEAD_REVISION, REVISIONS

if TYPE_CHECKING:
    from snapask_desktop.store.salvage import SalvageReport

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm")
# The new database is built under this name, then renamed into place: a crash while salvaging
# leaves the damaged file where it was (it is salvaged again at the next start).
SALVAGE_SUFFIX = ".recovering"
# Left beside the file when a query met a damaged page while the store was open (the file can't
# be swapped under open connections): the next open checks the file and recovers it. It holds
# SQLite's message, which the notice then quotes.
CHECK_SUFFIX = ".needs-check"
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
    if not path.exists():
        return FileState("new")
    if path.is_dir():
        return FileState("damaged", reason="a folder is in its place")
    if not path.is_file():
        return FileState("damaged", reason="it is not a regular file")
    try:
        if path.stat().st_size == 0:
            return FileState("new")
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:  # no permission, an I/O error: not the file's fault, leave it be
        raise DatabaseUnavailable(path, str(exc)) from exc
    if header != SQLITE_HEADER:
        return FileState("damaged", reason="not an SQLite database file")
    try:
        return _inspect_sqlite(path)
    except sqlite3.DatabaseError as exc:
        # Only a file SQLite calls corrupt or not-a-database is damaged; "locked", I/O and
        # open errors are passing conditions, and moving the user's history aside for one
        # would look like data loss.
        if is_damage(exc):
            return FileState("damaged", reason=str(exc))
        raise DatabaseUnavailable(path, str(exc)) from exc


def is_damage(error: BaseException) -> bool:
    """Whether an sqlite3 error says the file itself is damaged (not busy, locked or missing)."""
    return getattr(error, "sqlite_errorcode", None) in DAMAGED_CODES


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


def prepare(
    path: Path, *, recover_damaged: bool = True, damaged: str | None = None
) -> CorruptDatabase | None:
    """Make ``path`` a database at the head revision, upgrading in place when it is older.

    ``damaged`` is the reason when the caller already found the file damaged (its first reads
    ran into a damaged page this cheap look does not read). Returns a CorruptDatabase notice
    when a damaged file was replaced; raises SchemaTooNew / NotOurDatabase (file untouched)
    and CorruptDatabase if not recovering.
    """
    notice: CorruptDatabase | None = None
    state = FileState("damaged", reason=damaged) if damaged else _checked(path)
    if state.kind == "damaged":
        if not recover_damaged:
            raise CorruptDatabase(path, None, state.reason)
        notice = replace_damaged(path, state.reason)
        state = inspect_file(path)
    if state.kind == "foreign":
        raise NotOurDatabase(path)
    if state.revision is not None and state.revision not in REVISIONS:
        raise SchemaTooNew(path, state.revision, HEAD_REVISION)
    try:
        _use_wal(path)
        if state.revision != HEAD_REVISION:
            _upgrade(path, state.revision)
    except CorruptDatabase as error:  # the upgrade read a damaged page
        if notice is not None or not recover_damaged:
            raise
        return prepare(path, damaged=error.reason)
    return notice


def request_check(path: Path, reason: str) -> None:
    """Have the next open check the file (a query just ran into a damaged page)."""
    try:
        _check_marker(path).write_text(reason, encoding="utf-8")
    except OSError as exc:  # the error is still reported; only the automatic repair is lost
        log.warning("could not note that %s needs a check: %s", path, exc)


def _check_marker(path: Path) -> Path:
    return path.with_name(path.name + CHECK_SUFFIX)


def _checked(path: Path) -> FileState:
    """The file's state; damaged also when a check was asked for and SQLite finds damage.

    The full check reads every page, so it runs only when asked for, not at every start.
    """
    state = inspect_file(path)
    marker = _check_marker(path)
    if state.kind != "ours" or not marker.exists():
        return state
    from snapask_desktop.store.salvage import quick_check

    if quick_check(path) == ["ok"]:  # damage in the -wal only, since checkpointed over, say
        marker.unlink(missing_ok=True)
        return state
    try:
        reason = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        reason = ""
    return FileState("damaged", reason=reason or "SQLite found damaged pages")


def replace_damaged(path: Path, reason: str) -> CorruptDatabase:
    """Recover what can be read from a damaged file into a new one, keep the damaged file aside
    and put the new one in its place; the notice says where the old file went and what the new
    one holds."""
    salvaged = _salvage(path)
    kept = quarantine(path)
    _check_marker(path).unlink(missing_ok=True)
    if salvaged is None:
        return CorruptDatabase(path, kept, reason)
    fresh, report = salvaged
    fresh.replace(path)
    return CorruptDatabase(path, kept, reason, report)


def _salvage(path: Path) -> tuple[Path, SalvageReport] | None:
    """A new database (beside ``path``) holding every row that can be read from ``path``; None
    when there is nothing to read from, or the salvage itself failed."""
    if not path.is_file():
        return None
    from snapask_desktop.store import migrate, salvage  # only when a file is damaged

    fresh = path.with_name(path.name + SALVAGE_SUFFIX)
    _remove(fresh)  # left by a salvage that did not finish
    # Details for a bug report; the user is told in plain words by the notice.
    log.info("%s is damaged; SQLite's quick_check: %s", path, salvage.quick_check(path))
    try:
        # At the damaged file's own revision, so its rows fit; the caller upgrades it after.
        migrate.upgrade(fresh, salvage.revision_of(path))
        report = salvage.copy_rows(path, fresh)
    except Exception as exc:  # a failed rescue must not cost the user the start
        log.warning("could not recover anything from %s: %s", path, exc)
        _remove(fresh)
        return None
    log.info("recovered from %s: %s", path, report)
    return fresh, report


def _remove(path: Path) -> None:
    for name in (path.name, *(path.name + side for side in (*SIDE_FILES, "-journal"))):
        path.with_name(name).unlink(missing_ok=True)


def _upgrade(path: Path, found: str | None) -> None:
    from snapask_desktop.store import migrate  # Alembic only when there is work to do

    try:
        migrate.upgrade(path)
    except Exception as exc:
        damage = _damage_in(exc)
        if damage is not None:
            raise CorruptDatabase(path, None, str(damage)) from exc
        raise MigrationFailed(path, found, f"{type(exc).__name__}: {exc}") from exc


def _damage_in(error: BaseException) -> BaseException | None:
    """The sqlite3 error saying the file is damaged behind ``error`` (SQLAlchemy wraps it)."""
    seen: BaseException | None = error
    while seen is not None:
        if is_damage(seen):
            return seen
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _use_wal(path: Path) -> None:
    # journal_mode is persistent in the file; setting it again is a no-op.
    connection = sqlite3.connect(path, timeout=10)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise CorruptDatabase(path, None, str(exc)) from exc
        raise
    finally:
        connection.close()
