"""The wire shape of an encrypted account's records (docs/sync-protocol.md section 12.2).

A ``sealed`` payload carries only the clear metadata the server needs (kind, record id, a
message's conversation, a deleted conversation's delete stamp) and the sealed bytes; the
cryptography is in ``sync.crypto``, which this module does not import (the server never opens
a record, and the tray must not load libsodium to start).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from snapask_desktop.sync.errors import ErrorCode
from snapask_desktop.sync.limits import MAX_HLC, MAX_SEALED_BYTES, MIN_SEALED_BYTES
from snapask_desktop.sync.wire import Fields, b64encode, is_sha256, is_uuid

SEALED_KINDS: tuple[str, ...] = ("conversation", "message", "screenshot", "picture_text")
# A picture's records are named by its blob id (a keyed hash, 64 hex digits like a SHA-256).
BLOB_KINDS = frozenset({"screenshot", "picture_text"})
_KEYS = frozenset({"type", "kind", "id", "conversation_id", "deleted_at", "data"})
_BAD = ErrorCode.BAD_PAYLOAD


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """One record of an encrypted account as the server stores and relays it."""

    kind: str
    id: str  # a conversation or message UUID; a picture's blob id for screenshot, picture_text
    data: bytes  # crypto.seal_record's output
    conversation_id: str | None = None  # messages only
    deleted_at: int | None = None  # a deleted conversation's delete stamp (HLC), else None

    def to_wire(self) -> dict[str, Any]:
        """The outbox/change payload."""
        body: dict[str, Any] = {"type": "sealed", "kind": self.kind, "id": self.id}
        if self.conversation_id is not None:
            body["conversation_id"] = self.conversation_id
        if self.deleted_at is not None:
            body["deleted_at"] = self.deleted_at
        body["data"] = b64encode(self.data)
        return body

    @classmethod
    def from_wire(cls, obj: Any) -> SealedRecord:
        """Validate a sealed payload (raises ProtocolError ``bad_payload`` or ``too_large``)."""
        return _quick(obj) or cls._checked(obj)

    @classmethod
    def _checked(cls, obj: Any) -> SealedRecord:
        # Field by field, naming the first thing wrong; _quick accepts the same.
        f = Fields(obj, _BAD)
        f.only(_KEYS)
        if f.raw("type") != "sealed":
            f.fail("type", "must be 'sealed'")
        kind = f.choice("kind", SEALED_KINDS)
        record_id = f.req_sha256("id") if kind in BLOB_KINDS else f.uuid("id")
        conversation_id = None
        if kind == "message":
            conversation_id = f.uuid("conversation_id")
        elif "conversation_id" in f.obj:
            f.fail("conversation_id", "only a message carries it")
        deleted_at = None
        if "deleted_at" in f.obj:
            if kind != "conversation":
                f.fail("deleted_at", "only a conversation carries it")
            deleted_at = f.hlc("deleted_at")
        data = f.base64("data", MAX_SEALED_BYTES)
        if len(data) < MIN_SEALED_BYTES:
            f.fail("data", f"{len(data)} bytes is shorter than any sealed record")
        return cls(kind, record_id, data, conversation_id, deleted_at)


_MAX_DATA_CHARS = 4 * ((MAX_SEALED_BYTES + 2) // 3)


def _quick(obj: Any) -> SealedRecord | None:
    """``_checked``'s rules in straight-line code for the usual shape (an initial sync of an
    encrypted account reads 60,000 of these); None on anything else, which ``_checked`` then
    names (tests/sync/test_protocol_e2ee.py checks both accept the same payloads)."""
    if type(obj) is not dict or obj.get("type") != "sealed" or not obj.keys() <= _KEYS:
        return None
    kind, record_id, data = obj.get("kind"), obj.get("id"), obj.get("data")
    conversation_id, deleted_at = obj.get("conversation_id"), obj.get("deleted_at")
    if kind not in SEALED_KINDS or type(data) is not str or len(data) > _MAX_DATA_CHARS:
        return None
    if not (is_sha256(record_id) if kind in BLOB_KINDS else is_uuid(record_id)):
        return None
    if (conversation_id is not None or "conversation_id" in obj) != (kind == "message"):
        return None
    if kind == "message" and not is_uuid(conversation_id):
        return None
    if "deleted_at" in obj and not (
        kind == "conversation" and type(deleted_at) is int and 0 <= deleted_at <= MAX_HLC
    ):
        return None
    if len(data) % 4:
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not MIN_SEALED_BYTES <= len(raw) <= MAX_SEALED_BYTES:
        return None
    return SealedRecord(kind, record_id, raw, conversation_id, deleted_at)
