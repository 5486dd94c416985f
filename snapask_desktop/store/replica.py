"""Applying a page of synced changes in one transaction (sync-protocol.md 8 "Device", 9, 10).

Built for pages of 1,000 changes: the records a page names are read with a few IN queries,
merged in memory in change order, and written with a few bulk statements at the end (and
before a purge, which must see everything written before it), in the transaction that also
stores the cursor. An echo of this device's own changes finds every record already as it is
and writes nothing but the cursor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, text, update

from snapask_desktop.store import backlog, conflicts, convert, outbox, picture_text
from snapask_desktop.store.errors import InvalidInput
from snapask_desktop.store.lite import CURSOR_KEY, cursor_value
from snapask_desktop.store.models import ConversationRow, MessageRow, MetaRow, ScreenshotRow
from snapask_desktop.store.purge import purge_conversation
from snapask_desktop.store.records import ApplyReport, ConflictRecord
from snapask_desktop.sync.clock import (
    COUNTER_BITS,
    HybridClock,
    ahead_ms,
    wall_clock_ms,
)
from snapask_desktop.sync.errors import ProtocolError
from snapask_desktop.sync.merge import (
    cancel_delete_for_messages,
    edit_conversation,
    edit_stamp,
    keeps_text,
    merge_conversation,
    message_added,
    message_restores,
    screenshot_added,
)
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import (
    FIELDS,
    ROLES,
    STATUSES,
    Conflict,
    ConversationState,
    MessageRecord,
    PictureTextRecord,
    PurgeRecord,
    ScreenshotRecord,
    check_conversation,
)

log = logging.getLogger(__name__)

_IN_CHUNK = 500
_CONVERSATION = ConversationRow.__table__
_MESSAGE = MessageRow.__table__
_SCREENSHOT = ScreenshotRow.__table__
_META = MetaRow.__table__

# New rows go into the real tables with ONE statement per batch: FTS5 flushes its pending index
# data at the end of every statement, so an executemany (a statement per row, each firing the
# full-text trigger) costs ~5x more. The rows go first into a trigger-less TEMP table (fast
# executemany), then INSERT ... SELECT moves them all at once.
_MESSAGE_COLUMNS = (
    "id",
    "conversation_id",
    "role",
    "text",
    "model",
    "status",
    "screenshot_sha256",
    "hlc",
    "device_id",
    "created_at",
)
_SCREENSHOT_COLUMNS = ("sha256", "size_bytes", "width", "height", "mime")
_CONVERSATION_COLUMNS = (*convert.RAW_STATE_COLUMNS, "last_activity")


def _bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    names = ", ".join(columns)
    staging = f"temp.sync_incoming_{table}"
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS sync_incoming_{table} ({names})")
    conn.exec_driver_sql(
        f"INSERT INTO {staging} ({names}) VALUES ({', '.join('?' * len(columns))})", rows
    )
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}")
    conn.exec_driver_sql(f"DELETE FROM {staging}")


# Messages that arrived before their conversation count for its place in the history.
_ORPHAN_ACTIVITY = text(
    """UPDATE conversation SET last_activity = max(last_activity, coalesce(
           (SELECT max(m.hlc) FROM message m WHERE m.conversation_id = conversation.id), 0))
       WHERE id IN :ids"""
).bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """The report, and the screenshot files to remove once the transaction has committed."""

    report: ApplyReport
    removed_blobs: tuple[tuple[str, str], ...]  # (sha256, mime)


# ---------------------------------------------------------------------- cursor and meta

# Statements every applied change (and every local edit) runs: driver-level SQL. A live change
# is one small transaction, in which SQLAlchemy's statement and type layers cost several times
# what SQLite takes (docs/benchmarks.md, "A -> B").
_READ_META = "SELECT value FROM meta WHERE key = ?"
_WRITE_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_DELETE_META = "DELETE FROM meta WHERE key = ?"
_STATE_SET = [name for name in convert.RAW_STATE_COLUMNS if name != "id"]
_UPDATE_STATE = (
    f"UPDATE conversation SET {', '.join(f'{name} = ?' for name in _STATE_SET)} WHERE id = ?"
)


def read_cursor(conn: Connection) -> int:
    """The stored cursor (0 when none, or when the stored value is unreadable)."""
    value = conn.exec_driver_sql(_READ_META, (CURSOR_KEY,)).scalar()
    return 0 if value is None else cursor_value(value)


def write_meta(conn: Connection, key: str, value: str | None) -> None:
    """Set (or with None, remove) one meta value in the caller's transaction."""
    if value is None:
        conn.exec_driver_sql(_DELETE_META, (key,))
        return
    conn.exec_driver_sql(_WRITE_META, (key, value))


def update_states(conn: Connection, states: Sequence[ConversationState]) -> None:
    """Write stored conversations' new states (every synced column; ``last_activity`` is
    kept), in the caller's transaction."""
    conn.exec_driver_sql(_UPDATE_STATE, [_state_values(state) for state in states])


def _state_values(state: ConversationState) -> tuple[Any, ...]:
    # _STATE_SET's order, then the id; the JSON columns as their column type writes them.
    s = state
    stamps = {name: [s.field_hlc[name].hlc, s.field_hlc[name].device] for name in FIELDS}
    return (
        s.title,
        s.pinned,
        s.archived,
        s.deleted,
        s.created_at,
        s.updated_at,
        json.dumps(dict(s.vv)),
        s.hlc,
        json.dumps(stamps),
        s.device,
        s.id,
    )


# ---------------------------------------------------------------------- checks (pure)


def fresh_changes(changes: Sequence[Change], new_cursor: int, stored: int) -> list[Change]:
    """Check a batch before anything is written; returns the changes after ``stored``."""
    if isinstance(new_cursor, bool) or not isinstance(new_cursor, int) or new_cursor < 0:
        raise InvalidInput(f"a sync cursor is an integer >= 0, not {new_cursor!r}")
    if new_cursor < stored:
        raise InvalidInput(
            f"the sync cursor never moves backwards (stored {stored}, given {new_cursor})"
        )
    previous = -1
    for change in changes:
        if not isinstance(change, Change):
            raise InvalidInput(f"expected sync changes, got {type(change).__name__}")
        if change.seq <= previous or change.seq > new_cursor:
            raise InvalidInput(
                f"change {change.seq} is out of order (after {previous}, cursor {new_cursor})"
            )
        previous = change.seq
        payload = change.payload
        if isinstance(payload, ConversationState):
            try:
                check_conversation(payload)
            except ProtocolError as error:
                raise InvalidInput(f"change {change.seq}: {error}") from None
        elif isinstance(payload, MessageRecord):
            if payload.role not in ROLES or payload.status not in STATUSES:
                raise InvalidInput(
                    f"change {change.seq}: a synced message is a final user or model message"
                )
        elif not isinstance(payload, ScreenshotRecord | PurgeRecord | PictureTextRecord):
            raise InvalidInput(f"change {change.seq} has no sync payload")
    return [change for change in changes if change.seq > stored]


def skew_stop(
    changes: Sequence[Change], now_ms: int, max_drift_ms: int
) -> tuple[int | None, int | None]:
    """Index of the first change stamped too far ahead of ``now_ms`` (``clock.too_far_ahead``),
    and by how much it is ahead (None, None if every stamp is acceptable)."""
    # too_far_ahead(hlc) is hlc's wall time > now + drift, i.e. hlc >= this bound: one integer
    # comparison per change instead of three calls (a page holds 1,000).
    bound = (now_ms + max_drift_ms + 1) << COUNTER_BITS
    for index, change in enumerate(changes):
        payload = change.payload
        if isinstance(payload, _STAMPED) and payload.hlc >= bound:
            return index, ahead_ms(payload.hlc, now_ms)
    return None, None


_STAMPED = (ConversationState, MessageRecord)  # what payload_hlc gives a stamp for

_MESSAGE_MISMATCH = (
    "A synced copy of this message differs from the one on this device. Messages never "
    "change, so one copy is damaged: this device kept its own and did not apply the other."
)
_SCREENSHOT_MISMATCH = (
    "A synced copy of this picture's details (size, dimensions or format) differs from the one "
    "on this device: this device kept its own and did not apply the other."
)


# ---------------------------------------------------------------------- applying


def apply_changes(
    conn: Connection,
    changes: Sequence[Change],
    new_cursor: int,
    *,
    device_id: str,
    clock: HybridClock,
    now_ms: int,
    max_drift_ms: int,
) -> ApplyOutcome:
    """Apply a batch and store the cursor, in the caller's (write) transaction."""
    stored = read_cursor(conn)
    todo = fresh_changes(changes, new_cursor, stored)
    stop, ahead = skew_stop(todo, now_ms, max_drift_ms)
    if stop is not None:
        cursor = todo[stop].seq - 1
        todo = todo[:stop]
    else:
        cursor = new_cursor
    newest = max((c.payload.hlc for c in todo if isinstance(c.payload, _STAMPED)), default=None)
    if newest is not None:
        clock.observe(newest)
    batch = _Batch(conn, device_id=device_id, clock=clock, now_ms=now_ms)
    batch.load(todo)
    for change in todo:
        batch.op_id = change.op_id
        batch.apply(change.payload)
    batch.flush()
    # In the same transaction as the cursor: each mismatch is kept exactly once.
    kept = tuple(conflicts.add_problem(conn, **problem, now=now_ms) for problem in batch.mismatched)
    if cursor != stored:
        write_meta(conn, CURSOR_KEY, str(cursor))
    report = ApplyReport(
        cursor=cursor,
        applied=len(todo),
        changed_conversations=frozenset(batch.changed),
        conflicts=tuple(batch.written_conflicts),
        restored=batch.kept_visible(),
        mismatches=kept,
        skew_ahead_ms=ahead,
        wrote_ops=batch.wrote_ops,
        search_backlog=batch.deferred_search,
    )
    removed = tuple(b for b in batch.removed_blobs if b[0] not in batch.screenshots)
    return ApplyOutcome(report, removed)


class _Batch:
    """The records one batch touches, merged in memory, written by ``flush``."""

    def __init__(
        self, conn: Connection, *, device_id: str, clock: HybridClock, now_ms: int
    ) -> None:
        self.conn = conn
        self.device_id = device_id
        self.clock = clock
        self.now_ms = now_ms
        # current state of every conversation the batch names (stored or arrived)
        self.states: dict[str, ConversationState] = {}
        self.inserts: set[str] = set()
        self.updates: set[str] = set()
        self.local_edits: dict[str, ConversationState] = {}  # restores: their outbox ops
        # known messages by id (a "pending" one only from a file an older release wrote)
        self.messages: dict[str, MessageRecord] = {}
        self.new_messages: list[tuple[Any, ...]] = []
        self.replaced_messages: list[MessageRecord] = []
        self.screenshots: dict[str, ScreenshotRecord] = {}
        self.new_screenshots: list[ScreenshotRecord] = []
        self.conflicts: list[Conflict] = []
        # newest stamp of each conversation's sent messages: this batch's, and the stored ones
        # (read when first needed: only a deleted conversation needs it, rule 9.6.1)
        self.newest_sent: dict[str, int] = {}
        self.stored_newest: dict[str, int | None] = {}
        # results
        self.written_conflicts: list[ConflictRecord] = []
        self.changed: set[str] = set()
        self.restored: list[str] = []
        self.op_id = ""  # the op id of the change being applied
        # messages/screenshots whose id arrived with other content: kept as sync problems
        self.mismatched: list[dict[str, str]] = []
        self.wrote_ops = False
        self.deferred_search = False
        self.removed_blobs: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ reading

    def load(self, changes: Iterable[Change]) -> None:
        """Read every stored record the batch names, a few IN queries in all."""
        conversation_ids: set[str] = set()
        message_ids: set[str] = set()
        shas: set[str] = set()
        for change in changes:
            payload = change.payload
            if isinstance(payload, ConversationState):
                conversation_ids.add(payload.id)
            elif isinstance(payload, MessageRecord):
                message_ids.add(payload.id)
                conversation_ids.add(payload.conversation_id)
            elif isinstance(payload, ScreenshotRecord):
                shas.add(payload.sha256)
        for values in self._rows("conversation", convert.RAW_STATE_COLUMNS, conversation_ids):
            self.states[values[0]] = convert.state_from_raw(values)
        for values in self._rows("message", _MESSAGE_COLUMNS, message_ids):
            self.messages[values[0]] = MessageRecord(*values)  # the same field order
        for values in self._rows("screenshot", _SCREENSHOT_COLUMNS, shas):
            self.screenshots[values[0]] = ScreenshotRecord(*values)

    def _rows(self, table: str, columns: Sequence[str], wanted: set[str]) -> Iterable[Any]:
        # Driver-level SQL: a page reads up to a thousand rows, and SQLAlchemy's statement
        # and type layers would cost more than the query.
        ids = list(wanted)
        head = f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} IN "
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = tuple(ids[start : start + _IN_CHUNK])
            sql = head + f"({', '.join('?' * len(chunk))})"
            yield from (tuple(row) for row in self.conn.exec_driver_sql(sql, chunk))

    # ------------------------------------------------------------------ merging

    def apply(self, payload: object) -> None:
        """Merge one change into the batch's state (section 8, "Device")."""
        if isinstance(payload, ConversationState):
            self._conversation(payload)
        elif isinstance(payload, MessageRecord):
            self._message(payload)
        elif isinstance(payload, ScreenshotRecord):
            self._screenshot(payload)
        elif isinstance(payload, PurgeRecord):
            self._purge(payload)
        elif isinstance(payload, PictureTextRecord):
            self._picture_text(payload)

    def _picture_text(self, record: PictureTextRecord) -> None:
        # Written at once (a page holds few): keeps_text picks one reading on every device.
        if keeps_text(picture_text.get(self.conn, record.sha256), record.text):
            picture_text.put(self.conn, record.sha256, record.text, record.engine, wall_clock_ms())

    def _conversation(self, remote: ConversationState) -> None:
        local = self.states.get(remote.id)
        if local is None:
            # Its messages may have come first (or be stored): they can cancel its delete.
            self.states[remote.id] = self._cancelled_by_messages(remote)
            self.inserts.add(remote.id)
            self.changed.add(remote.id)
            return
        result = merge_conversation(local, remote)
        self.conflicts.extend(result.conflicts)
        state = self._cancelled_by_messages(result.state)
        if state is not result.state and not local.deleted:
            self._note_restored(state.id)  # a delete from elsewhere, older than a message
        if state != local:
            self._set(state)

    def _cancelled_by_messages(self, state: ConversationState) -> ConversationState:
        """Rule 9.6.1: derived state, no edit and no op (replaying the log writes nothing)."""
        if not state.deleted:
            return state
        return cancel_delete_for_messages(state, self._newest_message(state.id))

    def _newest_message(self, conversation_id: str) -> int | None:
        if conversation_id not in self.stored_newest:
            self.stored_newest[conversation_id] = self.conn.exec_driver_sql(
                "SELECT max(hlc) FROM message WHERE conversation_id = ? AND status != 'pending'",
                (conversation_id,),
            ).scalar()
        found = [self.stored_newest[conversation_id], self.newest_sent.get(conversation_id)]
        return max((hlc for hlc in found if hlc is not None), default=None)

    def _set(self, state: ConversationState) -> None:
        self.states[state.id] = state
        if state.id not in self.inserts:
            self.updates.add(state.id)
        self.changed.add(state.id)

    def _message(self, record: MessageRecord) -> None:
        known = self.messages.get(record.id)
        if known is not None and known.status == "pending":
            # Only an older release wrote pending messages, and only the device that made the
            # id can have sent it: this one, before its database was restored from an older
            # copy. The sent version is the real one.
            self.messages[record.id] = record
            self.replaced_messages.append(record)
            touched = {known.conversation_id, record.conversation_id}
            self.changed.update(touched & self.states.keys())
            self._message_arrived(record, new_here=False)
            return
        try:
            added = message_added(known, record)
        except ProtocolError as mismatch:
            self._mismatch(mismatch, "message", record.id, _MESSAGE_MISMATCH)
            return
        if added:
            self.messages[record.id] = record
            self.new_messages.append(_message_row(record))
            self._message_arrived(record, new_here=True)

    def _message_arrived(self, record: MessageRecord, *, new_here: bool) -> None:
        """Rule 9.6 for a sent message: it may cancel (or make this device undo) a delete."""
        cid = record.conversation_id
        self.newest_sent[cid] = max(record.hlc, self.newest_sent.get(cid, record.hlc))
        state = self.states.get(cid)
        if state is None:
            return  # its conversation arrives later; history and search ignore it till then
        self.changed.add(state.id)
        if message_restores(state, record, device_id=self.device_id, already_stored=not new_here):
            self._restore(state)
            return
        kept = self._cancelled_by_messages(state)
        if kept is not state:
            self._set(kept)
            self._note_restored(cid)

    def _restore(self, state: ConversationState) -> None:
        """Rule 9.6.2: this device's delete missed the message: a local edit with its op."""
        restored = edit_conversation(
            state,
            {"deleted": False},
            device_id=self.device_id,
            hlc=edit_stamp(self.clock, state),
            now_ms=self.now_ms,
        )
        self._set(restored)
        self.local_edits[state.id] = restored
        self._note_restored(state.id)

    def _note_restored(self, conversation_id: str) -> None:
        if conversation_id not in self.restored:
            self.restored.append(conversation_id)

    def kept_visible(self) -> tuple[str, ...]:
        """The restored conversations that are still visible at the end of the batch (one
        restored by an old message and deleted again later in the page is no news)."""
        return tuple(
            cid
            for cid in self.restored
            if (state := self.states.get(cid)) is not None and not state.deleted
        )

    def _screenshot(self, record: ScreenshotRecord) -> None:
        try:
            added = screenshot_added(self.screenshots.get(record.sha256), record)
        except ProtocolError as mismatch:
            self._mismatch(mismatch, "screenshot", record.sha256, _SCREENSHOT_MISMATCH)
            return
        if added:
            self.screenshots[record.sha256] = record
            self.new_screenshots.append(record)

    def _mismatch(self, error: ProtocolError, kind: str, record_id: str, text: str) -> None:
        """The same id arrived with other content (9.7): the local copy is kept, and the change
        is kept as a sync problem for the user (on an encrypted account the server cannot
        refuse such an op, so every device that receives it says so)."""
        log.warning("synced %s; the local copy is kept", error.message)
        self.mismatched.append(
            {"op_id": self.op_id, "record_type": kind, "record_id": record_id,
             "code": str(error.code), "message": text}
        )  # fmt: skip

    def _purge(self, record: PurgeRecord) -> None:
        self.flush()  # the purge must see (and remove) everything written before it
        cid = record.conversation_id
        removed = purge_conversation(self.conn, cid, record.screenshots)
        self.removed_blobs.extend(removed)
        for sha, _mime in removed:
            self.screenshots.pop(sha, None)
        self.states.pop(cid, None)
        self.newest_sent.pop(cid, None)
        self.stored_newest.pop(cid, None)
        self.messages = {k: m for k, m in self.messages.items() if m.conversation_id != cid}
        self.changed.add(cid)

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Write everything merged so far (bulk Core statements, no ORM)."""
        conn, now = self.conn, self.now_ms
        if self.new_messages:
            # Before their new conversations: the history-order trigger then has no row to
            # update for them, and _ORPHAN_ACTIVITY sets each new conversation's order once.
            if len(self.new_messages) >= backlog.DEFER_MIN_MESSAGES:
                # Many at once (a first sync's pages): indexed for search after the sync, in
                # one pass, not page by page (revision 0007; the mark commits with the page).
                backlog.defer(conn)
                self.deferred_search = True
            _bulk_insert(conn, "message", _MESSAGE_COLUMNS, self.new_messages)
        if self.inserts:
            ids = sorted(self.inserts)
            rows = [_conversation_row(self.states[cid]) for cid in ids]
            _bulk_insert(conn, "conversation", _CONVERSATION_COLUMNS, rows)
            for start in range(0, len(ids), _IN_CHUNK):
                conn.execute(_ORPHAN_ACTIVITY, {"ids": ids[start : start + _IN_CHUNK]})
        if self.updates:
            update_states(conn, [self.states[cid] for cid in sorted(self.updates)])
        if self.replaced_messages:
            conn.execute(
                update(_MESSAGE).where(_MESSAGE.c.id == bindparam("b_id")),
                [_message_update_params(m) for m in self.replaced_messages],
            )
        if self.new_screenshots:
            conn.execute(
                insert(_SCREENSHOT),
                [
                    {
                        "sha256": s.sha256,
                        "size_bytes": s.size_bytes,
                        "width": s.width,
                        "height": s.height,
                        "mime": s.mime,
                        "created_at": now,
                    }
                    for s in self.new_screenshots
                ],
            )
        if self.conflicts:
            self.written_conflicts += conflicts.record(conn, self.conflicts, now)
        if self.updates:
            conflicts.clear_superseded(conn, [self.states[cid] for cid in self.updates])
        for state in self.local_edits.values():
            outbox.enqueue(conn, "conversation", state.id, state.to_wire(), now)
            self.wrote_ops = True
        self.inserts.clear()
        self.updates.clear()
        self.local_edits.clear()
        self.new_messages.clear()
        self.replaced_messages.clear()
        self.new_screenshots.clear()
        self.conflicts.clear()


def _message_update_params(record: MessageRecord) -> dict[str, Any]:
    columns = convert.message_columns(record)
    columns["b_id"] = columns.pop("id")
    return columns


def _conversation_row(state: ConversationState) -> tuple[Any, ...]:
    # in _CONVERSATION_COLUMNS order; a remote creation's HLC is not known: its wall time is
    columns = convert.state_columns(state)
    columns["vv"] = json.dumps(columns["vv"])
    columns["field_hlc"] = json.dumps(columns["field_hlc"])
    columns["last_activity"] = state.created_at << COUNTER_BITS
    return tuple(columns[name] for name in _CONVERSATION_COLUMNS)


def _message_row(record: MessageRecord) -> tuple[Any, ...]:
    r = record  # in _MESSAGE_COLUMNS order
    return (
        r.id,
        r.conversation_id,
        r.role,
        r.text,
        r.model,
        r.status,
        r.screenshot_sha256,
        r.hlc,
        r.device,
        r.created_at,
    )
