"""Real sealed payloads, pictures and key records for the server tests (sync/crypto, 12.9).

The server never opens what these make; the tests open what comes back, to show it is the
very ciphertext a device sealed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import nacl.utils

from snapask_desktop.sync.crypto import (
    ItemsKey,
    ItemsKeys,
    KdfParams,
    RecordContext,
    RootKey,
    blob_id_of_sha256,
    open_record,
    seal_blob,
    seal_record,
    wrap_items_key,
)
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.protocol import FEATURE_E2EE, FEATURE_PICTURE_TEXT
from snapask_desktop.sync.records import ConversationState, MessageRecord, ScreenshotRecord
from snapask_desktop.sync.sealed import SealedRecord
from snapask_desktop.sync.wire import encode_json

E2EE = (FEATURE_PICTURE_TEXT, FEATURE_E2EE)  # what an e2ee device announces in hello
KEY = ItemsKey.generate()
KEYS = ItemsKeys([KEY])
_PARAMS = KdfParams(salt=bytes(range(16)), opslimit=3, memlimit=64 * 1024 * 1024)
# A random root key stands in for the passphrase's (deriving one takes Argon2id's time).
_ROOT = RootKey(key=nacl.utils.random(32), params=_PARAMS)


def key_record(*keys: ItemsKey) -> dict[str, Any]:
    """The key record wire object with ``keys`` (default: KEY) wrapped."""
    wrapped = tuple(wrap_items_key(_ROOT, key) for key in keys or (KEY,))
    return KeyRecord(_PARAMS.salt, _PARAMS.opslimit, _PARAMS.memlimit, wrapped).to_wire()


def _context(payload: ConversationState | MessageRecord | ScreenshotRecord) -> RecordContext:
    if isinstance(payload, ConversationState):
        deleted_at = payload.field_hlc["deleted"].hlc if payload.deleted else None
        return RecordContext("conversation", payload.id, deleted_at=deleted_at)
    if isinstance(payload, MessageRecord):
        return RecordContext("message", payload.id, conversation_id=payload.conversation_id)
    return RecordContext("screenshot", blob_id_of_sha256(KEY, payload.sha256))


def sealed(payload: ConversationState | MessageRecord | ScreenshotRecord) -> dict[str, Any]:
    """``payload`` sealed under KEY, as a device pushes it."""
    ctx = _context(payload)
    data = seal_record(KEY, ctx, encode_json(payload.to_wire()).encode("utf-8"))
    record = SealedRecord(ctx.kind, ctx.record_id, data, ctx.conversation_id, ctx.deleted_at)
    return record.to_wire()


def opened(wire: dict[str, Any]) -> dict[str, Any]:
    """Open a sealed payload the server relayed (fails unless it is authentic)."""
    ctx = RecordContext(wire["kind"], wire["id"], wire.get("deleted_at"),
                        wire.get("conversation_id"))  # fmt: skip
    value: dict[str, Any] = json.loads(open_record(KEYS, ctx, base64.b64decode(wire["data"])))
    return value


def sealed_picture(picture: bytes) -> tuple[str, bytes]:
    """(blob id, sealed bytes) of a picture under KEY (small chunks: several per picture)."""
    return seal_blob(KEY, picture, chunk_bytes=1024)


def sealed_text(blob_id: str, payload: str) -> dict[str, Any]:
    """A picture_text record of the picture ``blob_id``, sealed (the payload is not checked)."""
    ctx = RecordContext("picture_text", blob_id)
    return SealedRecord("picture_text", blob_id, seal_record(KEY, ctx, payload.encode())).to_wire()
