"""Reading what can still be read from a damaged database file into a new one (plain sqlite3).

A damaged page costs the rows on that page, not the whole history: the damaged file is read
table by table in rowid order, and when a read runs into a damaged page the reader jumps past
it (probing for the first rowid it can seek to again) and goes on. Every row read is inserted
into a new, migrated database; a row the schema refuses (garbage decoded from a damaged page)
is counted and skipped. The full-text indexes are filled by the new file's own triggers as the
rows go in, and `alembic_version` is the new file's own. The damaged file is only read, never
written (read-only connection); its -wal is read too, so its last commits are not lost.

Nothing here moves files; `dbfile` decides when to salvage and keeps the damaged file aside.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from snapask_desktop.store.schema import HEAD_REVISION, REVISIONS

log = logging.getLogger(__name__)

# Parents before children: a message's conversation is in place when the message's activity
# trigger fires. Derived tables (full-text shadows) and alembic_version are not copied.
TABLES = (
    "meta",
    "screenshot",
    "screenshot_text",
    "conversation",
    "message",
    "outbox",
    "conflict",
    "sync_problem",
)
BATCH_ROWS = 2000
MAX_ROWID = (1 << 63) - 1
CHECK_LINES = 20  # quick_check stops after this many findings: enough to say what is wrong


@dataclass
class SalvageReport:
    """What a salvage copied, and whether anything was left behind."""

    copied: dict[str, int] = field(default_factory=dict)  # rows per table
    unreadable: int = 0  # damaged parts skipped while reading (each may have held rows)
    refused: int = 0  # rows read but not valid under the schema
    missing_tables: list[str] = field(default_factory=list)  # tables that could not be found

    @property
    def complete(self) -> bool:
        """True when every row of every table was read and kept."""
        return not (self.unreadable or self.refused or self.missing_tables)

    def count(self, table: str) -> int:
        return self.copied.get(table, 0)


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes the file (nor checkpoints or truncates its -wal)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)


def quick_check(path: Path) -> list[str]:
    """SQLite's quick_check of the file: ["ok"] or what it found (a file it can't open at all
    gives that error as the one finding)."""
    try:
        connection = read_only(path)
        try:
            rows = connection.execute(f"PRAGMA quick_check({CHECK_LINES})").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        return [str(error)]
    return [str(row[0]) for row in rows]


def revision_of(path: Path) -> str:
    """The damaged file's schema revision: as recorded, or else told by which tables and columns
    its schema has (HEAD when nothing can be read: there is then nothing to copy either)."""
    try:
        connection = read_only(path)
    except sqlite3.DatabaseError:
        return HEAD_REVISION
    try:
        return _recorded_revision(connection) or _revision_by_shape(connection)
    except sqlite3.DatabaseError:
        return HEAD_REVISION
    finally:
        connection.close()


def _recorded_revision(connection: sqlite3.Connection) -> str | None:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError:  # the page holding it may be the damaged one
        return None
    found = {str(row[0]) for row in rows}
    return found.pop() if len(found) == 1 and found <= set(REVISIONS) else None


def _revision_by_shape(connection: sqlite3.Connection) -> str:
    # Each revision adds something the one before it lacks (see store/migrations/versions).
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    columns = {row[1] for row in connection.execute("PRAGMA table_info(conversation)")}
    outbox = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
    ).fetchone()
    if "message_fts_backlog" in names:
        return "0007"
    if outbox is not None and "'picture_text'" in str(outbox[0]):
        return "0006"  # the outbox's record types (a table made again, no new name)
    if "screenshot_text" in names:
        return "0005"
    if "conflict" in names or "device" in columns:
        return "0004"
    if "last_activity" in columns:
        return "0003"
    if "message_fts" in names:
        return "0002"
    return "0001" if "conversation" in names else HEAD_REVISION


def copy_rows(damaged: Path, fresh: Path) -> SalvageReport:
    """Copy every readable row of the known tables from ``damaged`` into ``fresh`` (a new,
    migrated database at the damaged file's revision), in one transaction."""
    report = SalvageReport()
    try:
        source = read_only(damaged)
    except sqlite3.DatabaseError as error:
        log.info("nothing can be read from %s: %s", damaged, error)
        report.missing_tables = list(TABLES)
        return report
    target = sqlite3.connect(fresh, isolation_level=None)
    try:
        target.execute("BEGIN")
        for table in TABLES:
            _copy_table(source, target, table, report)
        _copy_sequences(source, target)
        target.execute("COMMIT")
    finally:
        target.close()
        source.close()
    return report


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    try:
        return [str(row[1]) for row in connection.execute(f"PRAGMA table_info({table})")]
    except sqlite3.DatabaseError:
        return []


def _copy_table(
    source: sqlite3.Connection, target: sqlite3.Connection, table: str, report: SalvageReport
) -> None:
    wanted = _columns(target, table)
    if not wanted:
        return  # not in the new file's schema (an older revision): nothing to copy into
    found = set(_columns(source, table))
    if not found:
        report.missing_tables.append(table)
        return
    # The new file is at the damaged file's revision, so the columns normally agree; a column
    # only one side has is left to its default.
    columns = [name for name in wanted if name in found]
    report.copied[table] = 0
    batch: list[tuple[object, ...]] = []
    for row in _readable_rows(source, table, columns, report):
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            _insert(target, table, columns, batch, report)
            batch = []
    _insert(target, table, columns, batch, report)


def _readable_rows(
    source: sqlite3.Connection, table: str, columns: list[str], report: SalvageReport
) -> Iterator[tuple[object, ...]]:
    """The table's rows in rowid order, stepping over the damaged parts."""
    select = f"SELECT rowid, {', '.join(columns)} FROM {table}"
    after: int | None = None  # the last rowid read; None before the first
    while True:
        try:
            if after is None:
                cursor = source.execute(f"{select} ORDER BY rowid")
            else:
                cursor = source.execute(f"{select} WHERE rowid > ? ORDER BY rowid", (after,))
            for row in cursor:
                after = row[0]
                yield row[1:]
            return
        except sqlite3.DatabaseError as error:
            report.unreadable += 1
            log.info("skipping a damaged part of %s after rowid %s: %s", table, after, error)
            after = _next_readable(source, table, after)
            if after is None:
                return


def _seeks(source: sqlite3.Connection, table: str, after: int) -> bool:
    """Whether reading can start again after rowid ``after`` (the seek lands on a good page)."""
    try:
        source.execute(
            f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1", (after,)
        ).fetchall()
    except sqlite3.DatabaseError:
        return False
    return True


def _next_readable(source: sqlite3.Connection, table: str, after: int | None) -> int | None:
    """The smallest rowid after which reading works again, or None if none does.

    A damaged page holds one range of rowids: seeking into it fails, seeking past it works.
    Steps that double find a rowid past the damage in a few dozen seeks however large the
    range; a binary search then comes back to its end, so the good rows after it are kept.
    """
    low = 0 if after is None else after  # our tables' rowids start at 1
    step = 1
    while not _seeks(source, table, min(low + step, MAX_ROWID)):
        if low + step >= MAX_ROWID:
            return None
        step *= 2
    high = min(low + step, MAX_ROWID)
    while high - low > 1:
        middle = (low + high) // 2
        if _seeks(source, table, middle):
            high = middle
        else:
            low = middle
    return high


def _insert(
    target: sqlite3.Connection,
    table: str,
    columns: list[str],
    rows: list[tuple[object, ...]],
    report: SalvageReport,
) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    values = f"VALUES ({', '.join('?' * len(columns))})"
    # One INSERT ... SELECT per batch from a trigger-less TEMP table: FTS5 flushes its index at
    # the end of every statement, so a statement per row costs several times more.
    staging = f"temp.salvage_{table}"
    target.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS salvage_{table} AS SELECT {names} FROM {table} WHERE 0"
    )
    target.execute(f"DELETE FROM {staging}")
    target.executemany(f"INSERT INTO {staging} ({names}) {values}", rows)
    try:
        _in_savepoint(
            target, lambda: target.execute(f"INSERT INTO {table} ({names}) SELECT * FROM {staging}")
        )
        report.copied[table] += len(rows)
        return
    except sqlite3.DatabaseError:
        pass  # one bad row fails the batch: find it row by row
    for row in rows:
        try:
            _in_savepoint(
                target,
                lambda row=row: target.execute(f"INSERT INTO {table} ({names}) {values}", row),
            )
            report.copied[table] += 1
        except sqlite3.DatabaseError as error:
            report.refused += 1
            log.info("a damaged row of %s was not kept: %s", table, error)


def _in_savepoint(target: sqlite3.Connection, action: Callable[[], object]) -> None:
    target.execute("SAVEPOINT salvage_rows")
    try:
        action()
    except BaseException:
        target.execute("ROLLBACK TO salvage_rows")
        target.execute("RELEASE salvage_rows")
        raise
    target.execute("RELEASE salvage_rows")


def _copy_sequences(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Keep AUTOINCREMENT counters at least where they were (ids of deleted rows stay unused)."""
    try:
        rows = source.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return  # the copied rows already set each counter to their largest id
    for name, seq in rows:
        if name in TABLES and isinstance(seq, int):
            updated = target.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name)
            ).rowcount
            if not updated:
                target.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))
