"""The repository API of the local store: sync Python, safe from several threads.

Every call opens its own connection and transaction, and returns frozen dataclasses. Every
local change writes its record and its outbox op in ONE transaction.

Display order and ``updated_at``: ``updated_at`` is the time of the last *metadata* edit
(title/pinned/archived/deleted) and syncs with the conversation. Adding a message is not a
conversation edit (that would bump the version vector and add an outbox op per message and
make every chat look like a concurrent edit on two devices). The history is ordered by
``last_activity`` instead: local-only derived state, the HLC stamp of the newest message (or
of the conversation's creation), kept by an SQLite trigger on message insert (so messages that
arrive by sync count too) and indexed for the history query.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, exc, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from snapask_desktop.store import (
    backlog,
    convert,
    dbfile,
    outbox,
    picture_text,
    purge,
    queries,
    replica,
    resync,
    validate,
)
from snapask_desktop.store import conflicts as conflict_store
from snapask_desktop.store.blobs import BlobStore
from snapask_desktop.store.engine import BEGIN_IMMEDIATE, BEGIN_OPTION, make_engine
from snapask_desktop.store.errors import (
    AmbiguousId,
    BlobCorrupt,
    CorruptDatabase,
    ImageRejected,
    InvalidInput,
    NotFound,
    StoreError,
)
from snapask_desktop.store.lite import DEVICE_ID_KEY, LAST_SYNCED_KEY
from snapask_desktop.store.models import ConversationRow, MessageRow, MetaRow, ScreenshotRow
from snapask_desktop.store.records import (
    ApplyReport,
    ConflictRecord,
    Conversation,
    ConversationDetail,
    ConversationSummary,
    HistoryCursor,
    Message,
    OutboxOp,
    OwnerTitle,
    ScreenshotInfo,
    SearchHit,
    SyncProblem,
)
from snapask_desktop.store.schema import DB_FILENAME
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.limits import MAX_DRIFT_MS
from snapask_desktop.sync.merge import (
    edit_conversation,
    edit_stamp,
    edit_updates,
    keep_other_version,
    new_conversation,
)
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import ConversationState, PictureTextRecord

log = logging.getLogger(__name__)

# A page of 1,000 synced changes dirties ~1,000-2,000 database pages (random UUID index
# inserts), so at SQLite's default threshold every commit of a page also checkpointed the
# WAL (copy + fsync). Checkpointing after several pages instead costs ~40% less commit time;
# engine.py's journal_size_limit keeps the WAL file from staying large afterwards.
APPLY_WAL_PAGES = 10_000
SMALL_APPLY = 100  # changes; fewer are applied at SQLite's default checkpoint threshold
DEFAULT_WAL_PAGES = 1000
# The engine applies the pages of a large pull several at once (sync/device/pages.py): a group
# of 4,000 changes dirties ~2,000-3,000 pages, more than SQLite's default 2 MB cache holds, so
# an apply has a larger one (spilling dirty pages to the WAL mid-transaction writes some of them
# twice); it goes back to the default after, and frees the pages.
APPLY_CACHE_KIB = 8192
DEFAULT_CACHE_KIB = 2000
# A clock_skew rejection keeps its op (sync-protocol.md 5.2): it is retried, never dropped.
KEPT_REJECTIONS = frozenset({"clock_skew"})


class Store:
    """The local conversation store under one data folder."""

    def __init__(
        self,
        data_dir: Path,
        engine: Engine,
        blobs: BlobStore,
        device_id: str,
        clock: HybridClock,
        recovered: CorruptDatabase | None,
    ) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_FILENAME
        self._engine = engine
        self._blobs = blobs
        self._device_id = device_id
        self.clock = clock
        # Set when a damaged file was moved aside at open: show its message to the user.
        self.recovered = recovered
        self._listeners: list[Callable[[], None]] = []

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, data_dir: Path, *, recover_damaged: bool = True) -> Store:
        """Open (creating or upgrading in place) ``<data_dir>/snapask.db``.

        Raises SchemaTooNew / NotOurDatabase with the file untouched; a damaged file is moved
        aside and a new one started (``store.recovered`` says so) unless ``recover_damaged``
        is False, in which case CorruptDatabase is raised.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_FILENAME
        recovered = dbfile.prepare(path, recover_damaged=recover_damaged)
        try:
            engine, device_id, clock = _start(path)
        except CorruptDatabase as error:
            # The first reads met a damaged page the cheap look at the file does not read (an
            # index, say): recover the file now, once, as if that look had found it.
            if recovered is not None or not recover_damaged:
                raise
            recovered = dbfile.prepare(path, damaged=error.reason)
            engine, device_id, clock = _start(path)
        blobs = BlobStore(data_dir)
        blobs.remove_stale_temp_files()
        store = cls(data_dir, engine, blobs, device_id, clock, recovered)
        if recovered is not None and recovered.salvage is not None and not recovered.recovered_all:
            # Rows were lost, maybe records whose ops were queued or that the cursor says we
            # have: send everything again and pull everything again (merging is idempotent).
            store.reset_sync_after_server_loss()
        return store

    def close(self) -> None:
        """Close every pooled connection (the WAL is checkpointed by SQLite)."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every local change commits, on the writing thread (the
        sync client uses it to send the change at once; keep it short and thread-safe)."""
        self._listeners.append(listener)

    def remove_change_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling a listener added with ``add_change_listener``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    @property
    def device_id(self) -> str:
        """This device's stable id (a UUID4 made on first open)."""
        return self._device_id

    # ----------------------------------------------------------------- conversations

    def create_conversation(self, title: str = "") -> Conversation:
        """A new conversation, every synced field stamped by this device."""
        clean_title = validate.title(title)
        with self._write() as session:
            return self._insert_conversation(session, clean_title)

    def start_conversation(
        self, title: str, question: str, *, screenshot_sha256: str | None = None
    ) -> tuple[Conversation, Message]:
        """A new conversation and its first question in one transaction (never one without the
        other, even if the process dies in between)."""
        clean_title = validate.title(title)
        clean = _clean_message("user", question, None, "final", screenshot_sha256)
        with self._write() as session:
            conversation = self._insert_conversation(session, clean_title)
            return conversation, self._insert_message(session, conversation.id, clean)

    def _insert_conversation(self, session: Session, clean_title: str) -> Conversation:
        now, hlc = wall_clock_ms(), self.clock.now()
        state = new_conversation(
            str(uuid.uuid4()), clean_title, device_id=self._device_id, hlc=hlc, now_ms=now
        )
        row = ConversationRow(**convert.state_columns(state), last_activity=hlc)
        session.add(row)
        return self._saved_conversation(session, row, state, now)

    def update_conversation(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        pinned: bool | None = None,
        archived: bool | None = None,
    ) -> Conversation:
        """Change metadata; fields left None are kept. An edit that changes nothing is a no-op."""
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = validate.title(title)
        if pinned is not None:
            changes["pinned"] = validate.flag(pinned, "pinned")
        if archived is not None:
            changes["archived"] = validate.flag(archived, "archived")
        return self._edit(conversation_id, changes, live_only=True)

    def delete_conversation(self, conversation_id: str) -> None:
        """Tombstone the conversation (it syncs as an edit and vanishes from history/search)."""
        self._edit(conversation_id, {"deleted": True})

    def restore_conversation(self, conversation_id: str) -> Conversation:
        """Undo a delete: clear the tombstone as a new synced edit (a live one is a no-op)."""
        return self._edit(conversation_id, {"deleted": False})

    def _edit(
        self, conversation_id: str, changes: dict[str, Any], *, live_only: bool = False
    ) -> Conversation:
        """A local edit by the rules of section 9.4 (``merge.edit_conversation``): fresh stamp
        past everything in the state, restore-on-edit, ``updated_at`` never backwards.

        Core statements built once, no ORM Session: this is the first step of every rename,
        pin or delete on its way to the other devices, and the unit of work cost more than
        the SQL (docs/benchmarks.md, "A -> B").
        """
        clean = _normal_id(conversation_id, "conversation")
        with self._local_write() as conn:
            found = conn.exec_driver_sql(_READ_EDITED, (clean,)).first()
            if found is None or (live_only and found[_DELETED_AT]):
                raise NotFound(f"no conversation {conversation_id}")
            state, last_activity = convert.state_from_raw(found[:-1]), found[-1]
            if not edit_updates(state, changes):
                return convert.conversation_from_state(state, last_activity)
            now = wall_clock_ms()
            # last_activity: its newest message, which another process may have written.
            hlc = edit_stamp(self.clock, state, last_activity)
            edited = edit_conversation(
                state, changes, device_id=self._device_id, hlc=hlc, now_ms=now
            )
            replica.update_states(conn, [edited])
            outbox.enqueue(conn, "conversation", edited.id, edited.to_wire(), now)
            conflict_store.clear_superseded(conn, [edited])
            return convert.conversation_from_state(edited, last_activity)

    def _saved_conversation(
        self, session: Session, row: ConversationRow, state: ConversationState, now: int
    ) -> Conversation:
        session.flush()
        outbox.enqueue(session, "conversation", state.id, state.to_wire(), now)
        conflict_store.clear_superseded(session.connection(), [state])
        return convert.conversation(row)

    def get_conversation(self, conversation_id: str) -> ConversationDetail:
        """A visible conversation with its messages in display order (hlc, id)."""
        with self._read_session() as session:
            row = _live_conversation(session, conversation_id)
            messages = session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == row.id)
                .order_by(MessageRow.hlc, MessageRow.id)
            )
            return ConversationDetail(
                convert.conversation(row), tuple(convert.message(m) for m in messages)
            )

    def resolve_id(self, prefix: str, *, deleted: bool = False) -> str:
        """The full id of the one visible conversation whose id starts with ``prefix`` (with
        ``deleted``: of the one deleted conversation, for restoring it)."""
        clean = validate.id_prefix(prefix)
        with self._read() as conn:
            matches = queries.matching_ids(conn, clean, limit=6, deleted=deleted)
        if not matches:
            kind = "deleted conversation" if deleted else "conversation"
            raise NotFound(f"no {kind} id starts with {clean!r}")
        if len(matches) > 1 and clean not in matches:
            raise AmbiguousId(clean, matches)
        return clean if clean in matches else matches[0]

    def list_conversations(
        self,
        limit: int = 50,
        before: HistoryCursor | ConversationSummary | None = None,
        include_archived: bool = False,
    ) -> list[ConversationSummary]:
        """History, newest activity first; pass the last row (or its cursor) for the next page."""
        cursor = before.cursor if isinstance(before, ConversationSummary) else before
        if cursor is not None and not isinstance(cursor, HistoryCursor):
            raise InvalidInput("before must be a ConversationSummary or its cursor")
        with self._read() as conn:
            return queries.history(
                conn, validate.limit(limit), cursor, validate.flag(include_archived, "archived")
            )

    def pinned_conversations(
        self, limit: int = 50, include_archived: bool = False
    ) -> list[ConversationSummary]:
        """The pinned conversations, newest activity first: History and the tray list them
        above the others (which `list_conversations` still pages through, pinned included)."""
        with self._read() as conn:
            return queries.pinned(
                conn, validate.limit(limit), validate.flag(include_archived, "archived")
            )

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search of titles and messages (last word is a prefix); never a syntax error."""
        query_text = validate.text_value(text, "the search text", 1000)
        with self._read() as conn:
            return queries.search(conn, query_text, validate.limit(limit))

    def search_backlog(self) -> int:
        """How many messages are not in the full-text index yet: a large sync leaves them to
        `index_search_backlog` (search still finds them meanwhile, reading them one by one)."""
        with self._read() as conn:
            return backlog.count(conn)

    def index_search_backlog(self, max_rows: int = backlog.STEP_ROWS) -> int:
        """Put up to ``max_rows`` of the messages a large sync left unindexed into the
        full-text index, in one short transaction; returns how many remain (0: all done)."""
        with self._read() as conn:
            if backlog.mark(conn) is None:
                return 0  # the usual case: no write transaction at all
        with self._write_conn() as conn:
            return backlog.index_step(conn, max_rows)

    # ----------------------------------------------------------------- messages

    def add_message(
        self,
        conversation_id: str,
        role: str,
        text: str,
        *,
        model: str | None = None,
        status: str = "final",
        screenshot_sha256: str | None = None,
    ) -> Message:
        """Append a message (final, or a cancelled or failed answer) and its outbox op."""
        clean = _clean_message(role, text, model, status, screenshot_sha256)
        with self._write() as session:
            conversation = _live_conversation(session, conversation_id)
            return self._insert_message(session, conversation.id, clean)

    def _insert_message(
        self, session: Session, conversation_id: str, clean: dict[str, Any]
    ) -> Message:
        sha = clean["screenshot_sha256"]
        if sha is not None and session.get(ScreenshotRow, sha) is None:
            raise NotFound(f"no screenshot {sha[:12]}… in the store; add it first")
        now = wall_clock_ms()
        row = MessageRow(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            hlc=self.clock.now(),
            device_id=self._device_id,
            created_at=now,
            **clean,
        )
        session.add(row)
        return self._saved_message(session, row, now)

    def _saved_message(self, session: Session, row: MessageRow, now: int) -> Message:
        session.flush()
        record = convert.message_record(row)
        outbox.enqueue(session, "message", record.id, record.to_wire(), now)
        return convert.message(row)

    # ----------------------------------------------------------------- screenshots

    def add_screenshot(self, png: bytes) -> ScreenshotInfo:
        """Store a picture (PNG, JPEG or WebP): blob + thumbnail + row + outbox, once per hash."""
        blob = self._blobs.put(png)  # files first: a row never points at a missing file
        with self._write() as session:
            now = wall_clock_ms()
            inserted = session.execute(
                sqlite_insert(ScreenshotRow)
                .values(
                    sha256=blob.sha256,
                    size_bytes=blob.size_bytes,
                    width=blob.width,
                    height=blob.height,
                    mime=blob.mime,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
            info = convert.screenshot(session.get_one(ScreenshotRow, blob.sha256))
            if inserted.rowcount == 1:  # type: ignore[attr-defined]
                payload = convert.screenshot_record(info).to_wire()
                outbox.enqueue(session, "screenshot", info.sha256, payload, now)
            return info

    def screenshot_info(self, sha256: str) -> ScreenshotInfo:
        """Metadata of a stored picture."""
        sha = validate.sha256(sha256)
        with self._read_session() as session:
            row = session.get(ScreenshotRow, sha)
            if row is None:
                raise NotFound(f"no screenshot {sha[:12]}…")
            return convert.screenshot(row)

    def set_screenshot_text(self, sha256: str, recognised: str, engine: str) -> None:
        """Keep the text read from a stored picture (replacing any kept before), for search."""
        sha = validate.sha256(sha256)
        clean = validate.text_value(recognised, "the picture's text", picture_text.MAX_TEXT_CHARS)
        name = validate.text_value(engine, "the OCR engine's name", 60)
        with self._write_conn() as conn:
            if not conn.execute(
                select(ScreenshotRow.sha256).where(ScreenshotRow.sha256 == sha)
            ).first():
                raise NotFound(f"no screenshot {sha[:12]}…")
            now = wall_clock_ms()
            picture_text.put(conn, sha, clean, name, now)
            # Other devices find the picture by its text too (sent where the server reads it).
            record = PictureTextRecord(sha256=sha, text=clean, engine=name)
            outbox.enqueue(conn, "picture_text", sha, record.to_wire(), now)

    def screenshot_text(self, sha256: str) -> str | None:
        """The text read from a picture on this device, or None if it was never read."""
        sha = validate.sha256(sha256)
        with self._read() as conn:
            return picture_text.get(conn, sha)

    def unread_pictures(self, limit: int = 50) -> list[str]:
        """Hashes of up to `limit` pictures whose text was never read here, newest first."""
        with self._read() as conn:
            return picture_text.unread(conn, limit)

    def screenshot_bytes(self, sha256: str, *, verify: bool = False) -> bytes:
        """The picture's bytes; ``verify`` re-hashes them (BlobCorrupt on mismatch)."""
        info = self.screenshot_info(sha256)
        return self._blobs.read(info.sha256, info.mime, verify=verify)

    def keep_original(self, sha256: str, data: bytes) -> None:
        """Keep, on this device only, the original of the stored picture `sha256` (the user
        hid parts of it and asked to keep it); removed when the picture is."""
        info = self.screenshot_info(sha256)  # NotFound for a picture not stored
        self._blobs.keep_original(info.sha256, data)

    def original_bytes(self, sha256: str) -> bytes | None:
        """The kept original of picture `sha256` (None when none was kept)."""
        return self._blobs.original(validate.sha256(sha256))

    def thumbnail_path(self, sha256: str) -> Path:
        """Path of the picture's JPEG thumbnail (long side 256 px), remade if missing."""
        info = self.screenshot_info(sha256)
        return self._blobs.ensure_thumbnail(info.sha256, info.mime)

    # ----------------------------------------------------------------- outbox

    def outbox_pending(self, limit: int = 100) -> list[OutboxOp]:
        """The oldest pending sync ops, in order."""
        clean = validate.limit(limit, 10_000)
        with self._read() as conn:
            return outbox.pending(conn, clean)

    def outbox_ack(self, op_ids: Iterable[str]) -> int:
        """Remove acknowledged ops (repeats and unknown ids are ignored); returns how many."""
        ids = [str(op_id) for op_id in op_ids]
        if not ids:
            return 0
        with self._write_conn() as conn:
            return outbox.ack(conn, ids)

    def outbox_failed(self, op_id: str, error: str) -> int:
        """Record a failed send of one op; returns its attempts so far."""
        with self._write() as session:
            return outbox.failed(session, str(op_id), str(error))

    def outbox_count(self) -> int:
        """How many ops wait to be sent."""
        with self._read() as conn:
            return outbox.count(conn)

    def outbox_reject(self, op_id: str, code: str, message: str) -> None:
        """A permanently rejected op: drop it from the outbox and keep a sync problem record
        the UI shows. ``gone`` also removes the collected conversation here (section 6).

        An op no longer queued (acked, or replaced by a newer state) is ignored; a
        ``clock_skew`` rejection is refused (that op stays queued and is retried).
        """
        clean_code = validate.text_value(code, "the error code", conflict_store.MAX_CODE_CHARS)
        if clean_code in KEPT_REJECTIONS:
            raise InvalidInput("a clock_skew rejection keeps its op in the outbox; retry it later")
        clean_message = validate.text_value(message, "the error message", 100_000)
        removed: list[tuple[str, str]] = []
        with self._write_conn() as conn:
            op = outbox.take(conn, str(op_id))
            if op is None:
                return
            conflict_store.add_problem(
                conn,
                op_id=op.op_id,
                record_type=op.record_type,
                record_id=op.record_id,
                code=clean_code,
                message=clean_message,
                now=wall_clock_ms(),
            )
            if clean_code == "gone" and op.record_type in ("conversation", "message"):
                key = "id" if op.record_type == "conversation" else "conversation_id"
                removed = purge.purge_conversation(conn, str(op.payload[key]))
        self._remove_blobs(removed)

    def sync_problems(self, limit: int = 50) -> list[SyncProblem]:
        """Ops the server rejected for good, newest first."""
        with self._read() as conn:
            return conflict_store.problems(conn, validate.limit(limit))

    def owner_title(self, record_type: str, record_id: str) -> OwnerTitle | None:
        """The conversation a synced record belongs to (deleted ones too), to name it to the
        user instead of its id; None when it is not on this device."""
        with self._read() as conn:
            return queries.owner_title(conn, record_type, record_id)

    def note_upload_problem(self, sha256: str, code: str, message: str) -> None:
        """Keep, once per picture and code, why a picture could not be uploaded."""
        with self._write_conn() as conn:
            if not conflict_store.has_problem(conn, "screenshot", sha256, code):
                conflict_store.add_problem(
                    conn,
                    op_id=str(uuid.uuid4()),
                    record_type="screenshot",
                    record_id=sha256,
                    code=code,
                    message=message,
                    now=wall_clock_ms(),
                )

    def note_refused_changes(self, refused: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Keep, for the user, synced changes this device refused to apply (an encrypted
        account's change that did not open or contradicts its clear fields): each is
        (op id, record type, record id, code, message)."""
        now = wall_clock_ms()
        with self._write_conn() as conn:
            for op_id, record_type, record_id, code, message in refused:
                conflict_store.add_problem(
                    conn,
                    op_id=validate.text_value(op_id, "the op id", 36),
                    record_type=validate.text_value(record_type, "the record type", 20),
                    record_id=validate.text_value(record_id, "the record id", 64),
                    code=validate.text_value(code, "the code", conflict_store.MAX_CODE_CHARS),
                    message=validate.text_value(message, "the message", 100_000),
                    now=now,
                )

    def dismiss_sync_problem(self, problem_id: int) -> None:
        """Forget a sync problem the user has seen (an unknown id is ignored)."""
        with self._write_conn() as conn:
            conflict_store.dismiss_problem(conn, _record_number(problem_id, "problem"))

    # ----------------------------------------------------------------- sync

    def sync_cursor(self) -> int:
        """The highest server ``seq`` applied here (0: nothing yet)."""
        with self._read() as conn:
            return replica.read_cursor(conn)

    def deleted_stamps(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        """Conversation id -> the HLC of its ``deleted`` stamp, for the conversations (of
        ``ids``, or all) whose merged state here is deleted, rule 9.6.1 applied (a delete a
        newer message cancelled is stored as not deleted): what an encrypted account's device
        confirms to the server (sync-protocol.md 12.12)."""
        query = "SELECT id, field_hlc FROM conversation WHERE deleted"
        with self._read() as conn:
            if ids is None:
                rows = list(conn.exec_driver_sql(query))
            else:
                wanted, rows = sorted(set(ids)), []
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    marks = ", ".join("?" * len(chunk))
                    rows += conn.exec_driver_sql(f"{query} AND id IN ({marks})", tuple(chunk))
        return {cid: int(json.loads(stamps)["deleted"][0]) for cid, stamps in rows}

    def apply_changes(
        self,
        changes: Sequence[Change],
        new_cursor: int,
        *,
        now_ms: int | None = None,
        max_drift_ms: int = MAX_DRIFT_MS,
    ) -> ApplyReport:
        """Apply synced changes (filtered by ``session.plan_changes``: in order, all after the
        cursor) and store ``new_cursor``, in ONE transaction (sync-protocol.md section 8).

        A conversation or message stamped more than ``max_drift_ms`` (the limit the server
        announced) ahead of ``now_ms`` (the wall clock by default) stops the batch before it:
        what came before is committed, the cursor is set just before it and
        ``report.skew_ahead_ms`` says by how much.
        """
        now = wall_clock_ms() if now_ms is None else now_ms
        # A live change or two dirties a few pages: SQLite's own threshold and cache serve them.
        large = len(changes) > SMALL_APPLY
        wal_pages = APPLY_WAL_PAGES if large else None
        cache_kib = APPLY_CACHE_KIB if large else None
        with self._write_conn(wal_pages=wal_pages, cache_kib=cache_kib) as conn:
            outcome = replica.apply_changes(
                conn,
                changes,
                new_cursor,
                device_id=self._device_id,
                clock=self.clock,
                now_ms=now,
                max_drift_ms=max_drift_ms,
            )
        self._remove_blobs(outcome.removed_blobs)
        return outcome.report

    def conflicts(self, conversation_id: str | None = None) -> list[ConflictRecord]:
        """Conflict records, oldest first: of one conversation, or all of them."""
        clean = None if conversation_id is None else _normal_id(conversation_id, "conversation")
        with self._read() as conn:
            return conflict_store.listed(conn, clean)

    def keep_other_version(self, conflict_id: int) -> Conversation:
        """Write the conflict's losing value back as a new local edit (+ its outbox op) that
        dominates both versions (section 9.3); the conflict record is removed."""
        number = _record_number(conflict_id, "conflict")
        with self._write() as session:
            conn = session.connection()
            record = conflict_store.get(conn, number)
            if record is None:
                raise NotFound(f"no conflict {conflict_id}")
            row = _conversation_row(session, record.conversation_id)
            if row is None:
                raise NotFound(f"no conversation {record.conversation_id}")
            state = convert.state(row)
            now = wall_clock_ms()
            kept = keep_other_version(
                state,
                record.conflict,
                device_id=self._device_id,
                hlc=edit_stamp(self.clock, state),
                now_ms=now,
            )
            convert.fill_row(row, kept)
            conflict_store.remove(conn, number)
            return self._saved_conversation(session, row, kept, now)

    def dismiss_conflict(self, conflict_id: int) -> None:
        """Forget a conflict record (the merged result stays); an unknown id is ignored."""
        with self._write_conn() as conn:
            conflict_store.remove(conn, _record_number(conflict_id, "conflict"))

    def reset_sync_after_server_loss(self) -> int:
        """The server has less than we applied (``welcome.head`` < our cursor): cursor 0 and
        every local record queued again as new ops, in one transaction; returns the op count."""
        with self._write_conn() as conn:
            return resync.requeue_everything(conn, wall_clock_ms())

    def requeue_records(self, step: int = resync.REQUEUE_STEP) -> int:
        """Every local record queued again after what is queued, the cursor kept (encryption
        turned on or unlocked here, a key rotation: the server's newest copy of each goes out
        sealed with the current items key);
        the op count. In short transactions of ``step`` records: sync pushes the first ones
        while the rest are queued, and an edit here never waits long. Stopped midway (a
        crash), the records not yet queued keep their old key until next edited."""
        now, count = wall_clock_ms(), 0
        for kind in resync.REQUEUE_ORDER:
            after: Any = None
            while True:
                with self._write_conn() as conn:
                    queued, after = resync.requeue_step(conn, kind, after, step, now)
                count += queued
                if after is None:
                    break
        return count

    def resend_conversations(self, ids: Iterable[str]) -> int:
        """Queue these conversations' stored states again (12.12: a delete the server's newest
        op of it does not carry); the op count."""
        with self._write_conn() as conn:
            return resync.requeue_conversations(conn, list(ids), wall_clock_ms())

    def forget_sync_state(self) -> None:
        """Sign-out or another server: cursor 0, last-synced cleared, and every record queued
        again (the next server must receive everything); records and conflicts are kept."""
        with self._write_conn() as conn:
            resync.requeue_everything(conn, wall_clock_ms())
            replica.write_meta(conn, LAST_SYNCED_KEY, None)

    def mark_synced(self, at_ms: int | None = None) -> None:
        """Remember when this device was last fully in step with the server."""
        when = wall_clock_ms() if at_ms is None else at_ms
        if isinstance(when, bool) or not isinstance(when, int) or when < 0:
            raise InvalidInput(f"a time is milliseconds >= 0, not {when!r}")
        with self._write_conn() as conn:
            replica.write_meta(conn, LAST_SYNCED_KEY, str(when))

    def last_synced_at(self) -> int | None:
        """When ``mark_synced`` was last called (unix ms), or None."""
        value = self.get_meta(LAST_SYNCED_KEY)
        return int(value) if value is not None and value.isdigit() else None

    def missing_blob(self, sha256: str) -> bool:
        """Whether a picture's metadata is here but its bytes are not (download it)."""
        sha = validate.sha256(sha256)
        with self._read_session() as session:
            row = session.get(ScreenshotRow, sha)
            mime = None if row is None else row.mime
        return mime is not None and not self._blobs.holds(sha, mime)

    def put_blob(self, sha256: str, data: bytes) -> None:
        """Keep downloaded picture bytes: their SHA-256 must be ``sha256``; writes the blob and
        its thumbnail (BlobCorrupt on a hash mismatch, ImageRejected if not a picture)."""
        sha = validate.sha256(sha256)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"picture bytes expected, not {type(data).__name__}")
        if hashlib.sha256(data).hexdigest() != sha:
            raise BlobCorrupt(f"the downloaded bytes do not match the screenshot {sha[:12]}…")
        with self._read_session() as session:
            row = session.get(ScreenshotRow, sha)
            recorded = None if row is None else row.mime
        stored = self._blobs.put(bytes(data))
        if recorded is not None and recorded != stored.mime:
            # Kept under the wrong extension it would never be found: take it back out.
            self._blobs.remove(sha, stored.mime)
            raise ImageRejected(
                f"the screenshot {sha[:12]}… is a {stored.mime} picture, but its synced "
                f"record says {recorded}"
            )

    def _remove_blobs(self, removed: Iterable[tuple[str, str]]) -> None:
        # After the commit: a row never points at a file that is already gone.
        for sha, mime in removed:
            self._blobs.remove(sha, mime)

    # ----------------------------------------------------------------- meta

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A small local setting (e.g. the sync cursor), or ``default``."""
        with self._read_session() as session:
            row = session.get(MetaRow, validate.text_value(key, "the key", 100))
            return default if row is None else row.value

    def set_meta(self, key: str, value: str) -> None:
        """Set a local setting; the device id can't be changed."""
        clean_key = validate.text_value(key, "the key", 100)
        if clean_key == DEVICE_ID_KEY:
            raise InvalidInput("the device id is fixed for the life of the database")
        clean_value = validate.text_value(value, "the value", 100_000)
        with self._write() as session:
            session.merge(MetaRow(key=clean_key, value=clean_value))

    # ----------------------------------------------------------------- transactions

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """A session in a BEGIN IMMEDIATE transaction, committed on success; the change
        listeners hear of it after the commit."""
        with _translated(self.path), self._engine.connect() as conn:
            conn.execution_options(**{BEGIN_OPTION: BEGIN_IMMEDIATE})
            with Session(conn, expire_on_commit=False) as session, session.begin():
                yield session
        for listener in list(self._listeners):
            listener()

    @contextlib.contextmanager
    def _local_write(self) -> Iterator[Connection]:
        """A Core connection in a BEGIN IMMEDIATE transaction for a local change, committed on
        success; the change listeners hear of it after the commit (as with ``_write``)."""
        with self._write_conn() as conn:
            yield conn
        for listener in list(self._listeners):
            listener()

    @contextlib.contextmanager
    def _write_conn(
        self, wal_pages: int | None = None, cache_kib: int | None = None
    ) -> Iterator[Connection]:
        """A Core connection in a BEGIN IMMEDIATE transaction, committed on success.

        ``wal_pages`` raises the connection's automatic checkpoint threshold and ``cache_kib``
        its page cache for this one transaction (see APPLY_WAL_PAGES, APPLY_CACHE_KIB).
        """
        with _translated(self.path), self._engine.connect() as conn:
            raw = conn.connection.driver_connection
            if wal_pages is not None and raw is not None:
                raw.execute(f"PRAGMA wal_autocheckpoint = {int(wal_pages)}")
            if cache_kib is not None and raw is not None:
                raw.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
            try:
                conn.execution_options(**{BEGIN_OPTION: BEGIN_IMMEDIATE})
                with conn.begin():
                    yield conn
            finally:
                if wal_pages is not None and raw is not None:
                    raw.execute(f"PRAGMA wal_autocheckpoint = {DEFAULT_WAL_PAGES}")
                if cache_kib is not None and raw is not None:
                    raw.execute(f"PRAGMA cache_size = -{DEFAULT_CACHE_KIB}")

    @contextlib.contextmanager
    def _read_session(self) -> Iterator[Session]:
        """A session on one consistent WAL snapshot; never writes."""
        with (
            _translated(self.path),
            self._engine.connect() as conn,
            conn.begin(),
            Session(conn) as session,
        ):
            yield session

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with _translated(self.path), self._engine.connect() as conn, conn.begin():
            yield conn


@contextlib.contextmanager
def _translated(path: Path, *, at_open: bool = False) -> Iterator[None]:
    """Turn driver errors into StoreErrors with a message a user can act on. Damage found while
    the store is open is noted for the next open to recover (``at_open``: the caller recovers
    it at once)."""
    try:
        yield
    except exc.OperationalError as error:
        if "locked" in str(error.orig) or "busy" in str(error.orig):
            raise StoreError(
                f"the database {path} is busy (another SnapAsk may be writing); try again"
            ) from error
        raise StoreError(f"the database {path} could not be used: {error.orig}") from error
    except exc.IntegrityError as error:
        raise StoreError(f"the change was not saved: {error.orig}") from error
    except exc.DatabaseError as error:
        reason = str(error.orig)
        if dbfile.is_damage(error.orig) or "malformed" in reason or "not a database" in reason:
            if at_open:
                raise CorruptDatabase(path, None, reason) from error
            dbfile.request_check(path, reason)
            raise CorruptDatabase(path, None, reason, recover_next_open=True) from error
        raise StoreError(f"the database {path} could not be used: {reason}") from error


def _clean_message(
    role: str, text: str, model: str | None, status: str, screenshot_sha256: str | None
) -> dict[str, Any]:
    return {
        "role": validate.role(role),
        "text": validate.message_text(text),
        "model": validate.model_name(model),
        "status": validate.status(status),
        "screenshot_sha256": (
            None if screenshot_sha256 is None else validate.sha256(screenshot_sha256)
        ),
    }


def _record_number(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"a {what} id is an integer, not {value!r}")
    return value


def _normal_id(value: str, what: str) -> str:
    try:
        return validate.record_id(value, f"the {what} id")
    except InvalidInput:
        raise NotFound(f"no {what} {value!r}") from None


# A conversation's synced state (convert.RAW_STATE_COLUMNS) and its last_activity, for _edit.
_READ_EDITED = (
    f"SELECT {', '.join(convert.RAW_STATE_COLUMNS)}, last_activity FROM conversation WHERE id = ?"
)
_DELETED_AT = convert.RAW_STATE_COLUMNS.index("deleted")


def _conversation_row(session: Session, conversation_id: str) -> ConversationRow | None:
    clean = _normal_id(conversation_id, "conversation")
    stmt = select(ConversationRow).where(ConversationRow.id == clean)
    return session.scalars(stmt).one_or_none()


def _live_conversation(session: Session, conversation_id: str) -> ConversationRow:
    row = _conversation_row(session, conversation_id)
    if row is None or row.deleted:
        raise NotFound(f"no conversation {conversation_id}")
    return row


def _start(path: Path) -> tuple[Engine, str, HybridClock]:
    """The engine on a prepared file, this device's id and the clock seeded from the file."""
    engine = make_engine(path)
    try:
        with _translated(path, at_open=True):
            device_id = _ensure_device_id(engine)
            clock = HybridClock(last=_max_hlc(engine))
    except BaseException:
        engine.dispose()
        raise
    return engine, device_id, clock


def _ensure_device_id(engine: Engine) -> str:
    query = select(MetaRow.value).where(MetaRow.key == DEVICE_ID_KEY)
    with engine.connect() as conn:
        with conn.begin():
            found = conn.scalar(query)
        if found is not None:
            return str(found)
        # First open. INSERT OR IGNORE: two processes opening a new file agree on one id.
        conn.execution_options(**{BEGIN_OPTION: BEGIN_IMMEDIATE})
        with conn.begin():
            conn.execute(
                sqlite_insert(MetaRow)
                .values(key=DEVICE_ID_KEY, value=str(uuid.uuid4()))
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return str(conn.scalar(query))


def _max_hlc(engine: Engine) -> int:
    # Both are single index lookups (ix_conversation_hlc, ix_message_hlc).
    with engine.connect() as conn, conn.begin():
        conversation = conn.scalar(select(func.max(ConversationRow.hlc))) or 0
        message = conn.scalar(select(func.max(MessageRow.hlc))) or 0
    return max(int(conversation), int(message))
