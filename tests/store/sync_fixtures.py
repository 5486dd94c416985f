"""Helpers for the store's sync tests: a simulated server change log, remote records, templates.

Stores exchange their real outbox ops through ``ServerLog`` exactly as the protocol says: each
op gets the next ``seq`` once (a resent op id is a duplicate), and a device applies what comes
after its cursor. Only the transport is simulated; everything on the device is the real store.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapask_desktop.store import Store, migrate
from snapask_desktop.store.records import ApplyReport
from snapask_desktop.store.schema import DB_FILENAME
from snapask_desktop.sync.clock import COUNTER_BITS, wall_clock_ms
from snapask_desktop.sync.merge import edit_conversation, new_conversation
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import (
    ConversationState,
    MessageRecord,
    Payload,
    ScreenshotRecord,
    parse_payload,
)

PHONE = "7ea25a89-0e45-4ab2-b40f-219abfabd145"
TABLET = "c5f6daec-8369-42fe-998d-33aa630d9418"


def stamp(ms: int, counter: int = 0) -> int:
    """A packed HLC stamp at wall time ``ms``."""
    return (ms << COUNTER_BITS) | counter


def an_hour_ago() -> int:
    """A wall time safely in the past of every store's clock."""
    return wall_clock_ms() - 3_600_000


def remote_conversation(
    title: str, *, device: str = PHONE, at: int | None = None, cid: str | None = None
) -> ConversationState:
    """A conversation another device created at wall time ``at`` (an hour ago by default)."""
    when = an_hour_ago() if at is None else at
    return new_conversation(
        cid or str(uuid.uuid4()), title, device_id=device, hlc=stamp(when), now_ms=when
    )


def remote_edit(
    state: ConversationState, *, device: str = PHONE, at: int, **changes: str | bool
) -> ConversationState:
    """``state`` after an edit by another device at wall time ``at``."""
    return edit_conversation(state, changes, device_id=device, hlc=stamp(at), now_ms=at)


def remote_message(
    conversation_id: str,
    text: str,
    *,
    device: str = PHONE,
    at: int | None = None,
    sha: str | None = None,
    message_id: str | None = None,
) -> MessageRecord:
    """A final message another device wrote at wall time ``at``."""
    when = an_hour_ago() if at is None else at
    return MessageRecord(
        id=message_id or str(uuid.uuid4()),
        conversation_id=conversation_id,
        role="user",
        text=text,
        model=None,
        status="final",
        screenshot_sha256=sha,
        hlc=stamp(when),
        device=device,
        created_at=when,
    )


def state_of(store: Store, conversation_id: str) -> ConversationState:
    """A store's synced state of one conversation (a deleted one too), read from the file."""
    return store_states(store)[conversation_id]


def store_states(store: Store) -> dict[str, ConversationState]:
    """Every conversation's synced state in a store, deleted ones included."""
    from snapask_desktop.store import convert
    from tests.store.helpers import rows

    found = rows(
        store.path,
        "SELECT id, title, pinned, archived, deleted, created_at, updated_at, vv, hlc,"
        " field_hlc, device FROM conversation",
    )
    return {
        row["id"]: convert.state_from_raw([row[k] for k in convert.RAW_STATE_COLUMNS])
        for row in found
    }


def store_messages(store: Store) -> dict[str, MessageRecord]:
    """Every final message in a store (orphans included), by id."""
    from snapask_desktop.store import convert
    from tests.store.helpers import rows

    found = rows(store.path, "SELECT * FROM message WHERE status != 'pending'")
    return {row["id"]: convert.message_record(_Row(row)) for row in found}


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass
class ServerLog:
    """One user's change log on a simulated server (sync-protocol.md 5.2, 5.3)."""

    changes: list[Change] = field(default_factory=list)
    op_seqs: dict[str, int] = field(default_factory=dict)

    @property
    def head(self) -> int:
        return len(self.changes)

    def add(self, payload: Payload, device_id: str | None = PHONE) -> Change:
        """Append one change as if another device (or the server) had pushed it."""
        change = Change(self.head + 1, str(uuid.uuid4()), device_id, payload)
        self.changes.append(change)
        self.op_seqs[change.op_id] = change.seq
        return change

    def push(self, store: Store, limit: int = 10_000, *, lose_ack: bool = False) -> list[str]:
        """Send a store's oldest ops; applied at most once each. Returns the acked op ids."""
        acked = []
        for op in store.outbox_pending(limit=limit):
            if op.op_id not in self.op_seqs:
                payload = parse_payload(op.payload, from_device=True)
                change = Change(self.head + 1, op.op_id, store.device_id, payload)
                self.changes.append(change)
                self.op_seqs[op.op_id] = change.seq
            acked.append(op.op_id)
        if not lose_ack:
            store.outbox_ack(acked)
        return acked

    def after(self, cursor: int, limit: int | None = None) -> list[Change]:
        """The changes with ``seq > cursor`` (at most ``limit``)."""
        found = self.changes[cursor:]
        return found if limit is None else found[:limit]

    def pull(self, store: Store, limit: int = 1000) -> ApplyReport:
        """One page from the store's cursor, applied the way the sync client does."""
        cursor = store.sync_cursor()
        page = self.after(cursor, limit)
        new_cursor = page[-1].seq if len(page) == limit else max(cursor, self.head)
        return store.apply_changes(page, new_cursor)

    def catch_up(self, store: Store, limit: int = 1000) -> list[ApplyReport]:
        """Pull pages until the store has applied the whole log."""
        reports = [self.pull(store, limit)]
        while store.sync_cursor() < self.head:
            reports.append(self.pull(store, limit))
        return reports


def screenshot_record(
    sha: str, size: int = 100, *, width: int = 10, height: int = 10, mime: str = "image/png"
) -> ScreenshotRecord:
    """Screenshot metadata for a hash (the bytes are not needed to store metadata)."""
    return ScreenshotRecord(sha256=sha, size_bytes=size, width=width, height=height, mime=mime)


class StoreFactory:
    """New stores in their own folders, copied from one migrated file (Alembic runs once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template" / DB_FILENAME
        self.template.parent.mkdir(parents=True)
        migrate.upgrade(self.template)
        self.count = 0

    def new(self) -> Store:
        self.count += 1
        folder = self.root / f"device-{self.count}"
        folder.mkdir()
        shutil.copyfile(self.template, folder / DB_FILENAME)
        return Store.open(folder)
