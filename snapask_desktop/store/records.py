"""Plain frozen dataclasses the store returns; no ORM object ever leaves a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from snapask_desktop.sync.records import Conflict, FieldName, FieldStamp

Role = Literal["user", "model"]
# "pending": only read, from a file an older release wrote (it never syncs)
Status = Literal["final", "cancelled", "error", "pending"]
RecordType = Literal["conversation", "message", "screenshot", "picture_text"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """Conversation metadata as the app shows it (its sync stamps stay in the store: read them
    as a `ConversationState` through `convert.state`)."""

    id: str
    title: str
    pinned: bool
    archived: bool
    deleted: bool
    created_at: int
    updated_at: int
    last_activity_at: int


@dataclass(frozen=True, slots=True)
class Message:
    """One message; immutable."""

    id: str
    conversation_id: str
    role: Role
    text: str
    model: str | None
    status: Status
    screenshot_sha256: str | None
    hlc: int
    device_id: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ScreenshotInfo:
    """Metadata of a stored picture; the bytes live in the blob store under its hash."""

    sha256: str
    size_bytes: int
    width: int
    height: int
    mime: str
    created_at: int


@dataclass(frozen=True, slots=True, order=True)
class HistoryCursor:
    """Keyset position in the history list: pass the last row's cursor to get the next page."""

    last_activity: int  # HLC stamp, see ConversationSummary.last_activity_hlc
    id: str


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One row of the history list."""

    id: str
    title: str
    pinned: bool
    archived: bool
    created_at: int
    updated_at: int
    last_activity_at: int  # unix ms (the wall part of last_activity_hlc)
    last_activity_hlc: int
    message_count: int
    first_screenshot_sha256: str | None
    preview: str
    picture_count: int = 0  # different pictures in it (a capture may be added to a chat)

    @property
    def cursor(self) -> HistoryCursor:
        """The keyset cursor that continues the history after this row."""
        return HistoryCursor(self.last_activity_hlc, self.id)


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    """A conversation with its messages in display order (hlc, id)."""

    conversation: Conversation
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A conversation that matches a search, with a snippet of where it matched.

    ``highlights`` are (start, end) character spans of the matched terms within ``snippet``.
    """

    summary: ConversationSummary
    matched_in: Literal["title", "message"]
    message_id: str | None
    snippet: str
    highlights: tuple[tuple[int, int], ...] = field(default=())
    # The words matched in the text read from the message's picture (local OCR).
    in_picture: bool = False

    def marked(self, start: str = "[", end: str = "]") -> str:
        """The snippet with every highlighted span wrapped in the given markers."""
        out: list[str] = []
        pos = 0
        for lo, hi in self.highlights:
            out += [self.snippet[pos:lo], start, self.snippet[lo:hi], end]
            pos = hi
        out.append(self.snippet[pos:])
        return "".join(out)


@dataclass(frozen=True, slots=True)
class OutboxOp:
    """One pending sync operation; ``payload`` is the full record state to send as-is."""

    seq: int
    op_id: str
    record_type: RecordType
    record_id: str
    payload: dict[str, Any]
    created_at: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A concurrent write that lost a field (sync-protocol.md 9.2), kept for the user to see.

    ``losing_value`` is what the other version had; "keep the other version" writes it back.
    """

    id: int
    conversation_id: str
    field: FieldName
    losing_value: str | bool
    losing_stamp: FieldStamp
    winning_value: str | bool
    winning_stamp: FieldStamp
    created_at: int  # unix ms, when this device recorded it

    @property
    def conflict(self) -> Conflict:
        """The pure merge record this was built from."""
        return Conflict(
            conversation_id=self.conversation_id,
            field=self.field,
            losing_value=self.losing_value,
            losing_stamp=self.losing_stamp,
            winning_value=self.winning_value,
            winning_stamp=self.winning_stamp,
        )


@dataclass(frozen=True, slots=True)
class SyncProblem:
    """An op the server rejected for good: it left the outbox; the user should be told."""

    id: int
    op_id: str
    record_type: str
    record_id: str
    code: str  # a sync error code, e.g. "bad_payload", "message_mismatch", "gone"
    message: str  # the server's plain-language reason
    created_at: int  # unix ms


@dataclass(frozen=True, slots=True)
class OwnerTitle:
    """The conversation a synced record belongs to, as a user would name it."""

    title: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What applying one batch of synced changes did (``Store.apply_changes``)."""

    cursor: int  # the cursor now stored
    applied: int  # changes applied, no-op echoes included
    changed_conversations: frozenset[str]  # ids whose visible state or messages changed
    conflicts: tuple[ConflictRecord, ...]  # new conflict records written
    restored: tuple[str, ...]  # conversations restored by rule 9.6 (tell the user)
    # messages/screenshots whose id existed here with other content: the local copy was kept
    # and each is kept as a sync problem (written in the batch's transaction)
    mismatches: tuple[SyncProblem, ...]
    skew_ahead_ms: int | None  # set when stopped at a change stamped too far ahead
    wrote_ops: bool  # applying wrote outbox ops (restores) that should be pushed
    # the new messages were left out of the full-text index: `Store.index_search_backlog`
    search_backlog: bool = False
