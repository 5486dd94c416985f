"""What the chat controller reads from the store: a conversation to show, and picture bytes.

Plain functions over the repository API, without Qt: the controller runs them in worker Tasks
and decodes the picture bytes there, so the main thread never waits for the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snapask_desktop.store.errors import BlobMissing, NotFound

if TYPE_CHECKING:  # the store module imports SQLAlchemy, which the idle app does without
    from snapask_desktop.store.records import ConflictRecord, ConversationDetail
    from snapask_desktop.store.repository import Store


@dataclass(frozen=True)
class ConversationRead:
    """One conversation as the chat window shows it, and what is known of its first picture."""

    detail: ConversationDetail
    picture_sha: str | None = None  # the first picture's hash
    picture_png: bytes | None = None  # its bytes, when asked for and on this device
    missing: bool = False  # that picture's bytes are not on this device (synced, not fetched)
    conflicts: tuple[ConflictRecord, ...] = ()
    device_id: str = ""
    # The follow-ups' own pictures (captures added to the conversation), by hash: their
    # bytes, or None while not downloaded. The first picture is not among them.
    thread: dict[str, bytes | None] = field(default_factory=dict)


def first_picture(detail: ConversationDetail) -> str | None:
    """The hash of the conversation's first picture (the one the window shows), if any."""
    return next((m.screenshot_sha256 for m in detail.messages if m.screenshot_sha256), None)


def read_conversation(
    store: Store, id_or_prefix: str, *, with_picture: bool = True
) -> ConversationRead:
    """A conversation by its id or a short prefix, with its conflicts and (if asked for and
    downloaded) its first picture's bytes. Raises the store's NotFound / AmbiguousId."""
    detail = store.get_conversation(store.resolve_id(id_or_prefix))
    sha = first_picture(detail)
    missing = sha is not None and store.missing_blob(sha)
    png = store.screenshot_bytes(sha) if sha is not None and not missing and with_picture else None
    conflicts = tuple(store.conflicts(detail.conversation.id))
    thread = follow_up_pictures(store, detail, sha)
    return ConversationRead(detail, sha, png, missing, conflicts, store.device_id, thread)


def follow_up_pictures(
    store: Store, detail: ConversationDetail, first: str | None
) -> dict[str, bytes | None]:
    """The bytes of every picture after the first (None for one not downloaded yet)."""
    pictures: dict[str, bytes | None] = {}
    for message in detail.messages:
        sha = message.screenshot_sha256
        if sha is None or sha == first or sha in pictures:
            continue
        try:
            pictures[sha] = None if store.missing_blob(sha) else store.screenshot_bytes(sha)
        except BlobMissing:
            pictures[sha] = None
    return pictures


def reread_conversation(
    store: Store, conversation_id: str, *, with_picture: bool
) -> ConversationRead | None:
    """A re-read after a synced change; None when the conversation is gone (deleted)."""
    try:
        return read_conversation(store, conversation_id, with_picture=with_picture)
    except BlobMissing:
        raise  # a picture removed meanwhile is not a deleted conversation
    except NotFound:
        return None


def picture_bytes(store: Store, sha256: str) -> bytes:
    """A picture's bytes (BlobMissing while it is not downloaded)."""
    return store.screenshot_bytes(sha256)
