"""Sealed record payloads: the JSON payload of section 3 under the items key (section 12.2).

The associated data binds what the server sees in clear (kind, record id, deleted-at) and
what picks the key (key id, version), so a ciphertext opens only as the record it was made for.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapask_desktop.sync.crypto import aead
from snapask_desktop.sync.crypto.aead import FORMAT_VERSION, KEY_ID_BYTES, SUPPORTED_VERSIONS
from snapask_desktop.sync.crypto.errors import Tampered, UnsupportedVersion
from snapask_desktop.sync.crypto.keys import ItemsKey, ItemsKeys

KINDS = frozenset({"conversation", "message", "screenshot", "picture_text"})
HEADER_BYTES = 1 + KEY_ID_BYTES
OVERHEAD_BYTES = HEADER_BYTES + aead.NONCE_BYTES + aead.TAG_BYTES  # 57
_LABEL = "snapask.record"


@dataclass(frozen=True, slots=True)
class RecordContext:
    """The clear metadata a sealed record travels with; all of it is authenticated."""

    kind: str
    record_id: str
    deleted_at: int | None = None  # a deleted conversation's delete stamp (HLC), else None
    conversation_id: str | None = None  # a message's conversation, else None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown record kind {self.kind!r}")
        if not self.record_id or len(self.record_id) > 128:
            raise ValueError("a record id is 1 to 128 characters")
        if self.deleted_at is not None and self.kind != "conversation":
            raise ValueError("only a conversation carries deleted_at")
        if (self.conversation_id is not None) != (self.kind == "message"):
            raise ValueError("a message, and only a message, carries conversation_id")


def _ad(ctx: RecordContext, key_id: bytes, version: int) -> bytes:
    return aead.encode_ad(
        _LABEL, version, key_id, ctx.kind, ctx.record_id, ctx.conversation_id, ctx.deleted_at
    )


def _what(ctx: RecordContext) -> str:
    return f"The {ctx.kind} {ctx.record_id}"


def seal_record(key: ItemsKey, ctx: RecordContext, payload: bytes) -> bytes:
    """version || key id || nonce || ciphertext || tag (57 bytes more than the payload)."""
    header = bytes([FORMAT_VERSION]) + key.key_id
    return header + aead.seal(key.key, payload, _ad(ctx, key.key_id, FORMAT_VERSION))


def sealed_key_id(sealed: bytes) -> bytes:
    """The items key a sealed record names (for lazy re-sealing after a rotation)."""
    if len(sealed) < OVERHEAD_BYTES:
        raise Tampered("A sealed record")
    return sealed[1:HEADER_BYTES]


def open_record(keys: ItemsKeys, ctx: RecordContext, sealed: bytes) -> bytes:
    """The payload bytes, or Tampered / UnsupportedVersion / UnknownKey."""
    if not sealed:
        raise Tampered(_what(ctx))
    if sealed[0] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(_what(ctx), sealed[0])
    key = keys.get(sealed_key_id(sealed))
    return aead.open_(key.key, sealed[HEADER_BYTES:], _ad(ctx, key.key_id, sealed[0]), _what(ctx))
