"""A device's side of an encrypted account (docs/sync-protocol.md section 12), without I/O.

Turning on and unlocking (a key record from a passphrase and back), sealing a payload into the
``sealed`` wire shape at send time, and opening a page of changes before the store applies it:
every refused change is named with why, and the rest of the page goes on. The keyring, the
connection and the store are the callers' (``sync/device/keystore.py``, ``client.py``).
Deriving the root key takes about 0.5 s: call ``create_keys`` and ``unlock`` off the UI thread.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import orjson

from snapask_desktop.sync.crypto import (
    CryptoError,
    ItemsKey,
    ItemsKeys,
    KdfParams,
    RecordContext,
    RootKey,
    Tampered,
    UnknownKey,
    UnsupportedVersion,
    blob_id_of_sha256,
    check_new_passphrase,
    derive_root_key,
    new_params,
    open_blob,
    open_record,
    rewrap_items_keys,
    seal_blob,
    seal_record,
    sealed_key_id,
    unwrap_items_key,
    wrap_items_key,
)
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import (
    ConversationState,
    MessageRecord,
    Payload,
    PictureTextRecord,
    PurgeRecord,
    ScreenshotRecord,
    parse_payload,
)
from snapask_desktop.sync.sealed import SealedRecord

# Codes of a refused change, kept as the store's sync problem (``SyncProblem.code``).
TAMPERED = "tampered"  # a tag failed, or the opened payload contradicts its clear fields
UNKNOWN_KEY = "unknown_key"  # sealed with an items key this device does not hold
UNSUPPORTED_VERSION = "unsupported_version"  # a newer SnapAsk's format
UNREADABLE = "bad_payload"  # authentic, but not a payload this SnapAsk reads
NOT_SEALED = "not_sealed"  # a clear record in an encrypted account (a downgrade)


class KeysChanged(CryptoError):
    """The key record no longer matches the keys this device holds (the passphrase was
    changed on another device): ask for the passphrase again."""

    def __init__(self) -> None:
        super().__init__(
            "The sync passphrase was changed on another device: enter the new one to go on "
            "syncing this device."
        )


# ---------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class Unlocked:
    """What a device keeps (in the OS keyring) to sync an encrypted account: the key record
    version the keys came from, the root key (so a key another device adds by rotating opens
    without asking again) and the unwrapped items keys."""

    version: int
    root: RootKey = field(repr=False)
    keys: ItemsKeys

    def matches(self, record: KeyRecord) -> bool:
        """Whether ``record`` was made with this root key's passphrase, salt and parameters."""
        return params_of(record) == self.root.params


def params_of(record: KeyRecord) -> KdfParams:
    return KdfParams(salt=record.salt, opslimit=record.opslimit, memlimit=record.memlimit)


def create_keys(passphrase: str, params: KdfParams | None = None) -> tuple[KeyRecord, Unlocked]:
    """A new account's key record (version 0 until the server stores it) and its keys, with
    this client's Argon2id parameters unless given (tests use the minimum); WeakParameters
    for a passphrase too short to choose. About 0.5 s."""
    check_new_passphrase(passphrase)
    params = params or new_params()
    root = derive_root_key(passphrase, params)
    key = ItemsKey.generate()
    record = KeyRecord(
        salt=params.salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
        wrapped_keys=(wrap_items_key(root, key),),
    )
    return record, Unlocked(0, root, ItemsKeys([key]))


def unlock(record: KeyRecord, version: int, passphrase: str) -> Unlocked:
    """The keys of a key record from its passphrase: WeakParameters if the record's Argon2id
    parameters are out of bounds (checked before deriving), WrongPassphrase if the passphrase
    does not open the keys (or the record was altered). About 0.5 s."""
    root = derive_root_key(passphrase, params_of(record))
    return Unlocked(version, root, unwrap_all(root, record))


def refresh(held: Unlocked, record: KeyRecord, version: int) -> Unlocked:
    """The keys of a newer key record with the root key already held (a rotation elsewhere
    adds a key under the same passphase); KeysChanged when the passphrase changed. Keys the
    record no longer lists are kept: records sealed with them may still arrive."""
    if not held.matches(record):
        raise KeysChanged()
    try:
        fresh = list(unwrap_all(held.root, record))
    except CryptoError:
        raise KeysChanged() from None
    known = {k.key_id for k in fresh}
    kept = [k for k in held.keys if k.key_id not in known]
    return Unlocked(version, held.root, _items_keys([*fresh, *kept]))


def rewrap(
    held: Unlocked, record: KeyRecord, new_passphrase: str, params: KdfParams | None = None
) -> tuple[KeyRecord, Unlocked]:
    """A passphrase change (12.5): the record's items keys wrapped under a new root key (new
    salt); nothing is re-sealed. ``held`` must open ``record`` (``refresh`` first);
    WeakParameters for a passphrase too short to choose. About 0.5 s."""
    check_new_passphrase(new_passphrase)
    new_root = derive_root_key(new_passphrase, params or new_params())
    wrapped = tuple(rewrap_items_keys(held.root, new_root, record.wrapped_keys))
    fresh = KeyRecord(
        salt=new_root.params.salt,
        opslimit=new_root.params.opslimit,
        memlimit=new_root.params.memlimit,
        wrapped_keys=wrapped,
    )
    return fresh, Unlocked(held.version, new_root, held.keys)


def rotated(held: Unlocked, record: KeyRecord) -> tuple[KeyRecord, Unlocked]:
    """A key rotation (12.5): a new items key of the next generation, wrapped by the same root
    key and added to the record, seals from now on; the old ones stay to open older records
    (re-sealed lazily, when next edited)."""
    keys = held.keys.rotate()
    wrapped = (*record.wrapped_keys, wrap_items_key(held.root, keys.current))
    return replace(record, wrapped_keys=wrapped), Unlocked(held.version, held.root, keys)


def unwrap_all(root: RootKey, record: KeyRecord) -> ItemsKeys:
    """Every items key of the record (WrongPassphrase if any does not open)."""
    return _items_keys(unwrap_items_key(root, wrapped) for wrapped in record.wrapped_keys)


def _items_keys(keys: Iterable[ItemsKey]) -> ItemsKeys:
    try:
        return ItemsKeys(keys)
    except ValueError:  # two current keys: a rotation raced on two devices (12.1)
        raise Tampered("The account's key record (two current keys)") from None


# ---------------------------------------------------------------------- sealing


def delete_stamp(state: ConversationState) -> int | None:
    """The clear ``deleted_at`` of a conversation: its delete stamp's HLC when it is deleted."""
    return state.field_hlc["deleted"].hlc if state.deleted else None


def context_of(payload: Payload, key: ItemsKey) -> RecordContext:
    """The clear metadata a payload travels with when sealed under ``key`` (12.2, 12.9)."""
    if isinstance(payload, ConversationState):
        return RecordContext("conversation", payload.id, deleted_at=delete_stamp(payload))
    if isinstance(payload, MessageRecord):
        return RecordContext("message", payload.id, conversation_id=payload.conversation_id)
    if isinstance(payload, ScreenshotRecord | PictureTextRecord):
        kind = "screenshot" if isinstance(payload, ScreenshotRecord) else "picture_text"
        return RecordContext(kind, blob_id_of_sha256(key, payload.sha256))
    raise ValueError(f"a {type(payload).__name__} is not sealed by a device")


def seal_payload(key: ItemsKey, payload: Payload) -> SealedRecord:
    """The ``sealed`` payload pushed instead of ``payload`` (the outbox keeps it clear)."""
    ctx = context_of(payload, key)
    data = seal_record(key, ctx, orjson.dumps(payload.to_wire()))
    return SealedRecord(ctx.kind, ctx.record_id, data, ctx.conversation_id, ctx.deleted_at)


def seal_picture(key: ItemsKey, sha256: str, data: bytes) -> tuple[str, bytes]:
    """(blob id, sealed bytes) of a picture the store keeps under ``sha256``."""
    bid, sealed = seal_blob(key, data)
    if not hmac.compare_digest(bid, blob_id_of_sha256(key, sha256)):  # the store's file is off
        raise Tampered(f"The stored picture {sha256[:12]}")
    return bid, sealed


def picture_ids(keys: ItemsKeys, sha256: str) -> list[str]:
    """The blob ids a picture may be stored under on the server, the current key's first (a
    picture sealed before a rotation keeps the id of the key it was sealed with)."""
    ordered = [keys.current, *(k for k in keys if k is not keys.current)]
    return [blob_id_of_sha256(k, sha256) for k in ordered]


def open_picture(keys: ItemsKeys, bid: str, sha256: str, sealed: bytes) -> bytes:
    """A downloaded picture's bytes, checked against its blob id and SHA-256 (Tampered)."""
    data = open_blob(keys, bid, sealed)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Tampered(f"The picture {sha256[:12]}")
    return data


# ---------------------------------------------------------------------- opening


@dataclass(frozen=True, slots=True)
class Refusal:
    """A change this device did not apply, and why (kept as a sync problem, told the user)."""

    seq: int
    kind: str
    record_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OpenedPage:
    """A page of changes with its sealed payloads opened, and the changes refused."""

    changes: list[Change]
    refused: list[Refusal]

    @property
    def unknown_keys(self) -> bool:
        """Whether a change named a key this device lacks (fetch the key record, retry)."""
        return any(r.code == UNKNOWN_KEY for r in self.refused)


def open_payload(keys: ItemsKeys, sealed: SealedRecord) -> Payload:
    """The clear payload of a sealed one, checked against every clear field it came with;
    Tampered / UnknownKey / UnsupportedVersion, or ProtocolError for an authentic payload
    this SnapAsk cannot read."""
    ctx = RecordContext(sealed.kind, sealed.id, sealed.deleted_at, sealed.conversation_id)
    raw = open_record(keys, ctx, sealed.data)
    try:
        # orjson alone, not wire.decode_json's strict reading: the bytes are authenticated as
        # a key holder's, and the records parser below checks every field.
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the opened payload is not JSON") from None
    if not isinstance(obj, dict) or obj.get("type") != sealed.kind:  # never "sealed" again
        raise Tampered(f"The {sealed.kind} {sealed.id}")
    payload = parse_payload(obj, from_device=True)
    if not _agrees(keys, sealed, payload):
        raise Tampered(f"The {sealed.kind} {sealed.id}")
    return payload


def _agrees(keys: ItemsKeys, sealed: SealedRecord, payload: Payload) -> bool:
    """The decrypted payload says what its authenticated clear fields say (section 12.2)."""
    if isinstance(payload, ConversationState):
        return payload.id == sealed.id and delete_stamp(payload) == sealed.deleted_at
    if isinstance(payload, MessageRecord):
        return payload.id == sealed.id and payload.conversation_id == sealed.conversation_id
    if isinstance(payload, ScreenshotRecord | PictureTextRecord):
        key = keys.get(sealed_key_id(sealed.data))  # the picture's id is of the sealing key
        return hmac.compare_digest(blob_id_of_sha256(key, payload.sha256), sealed.id)
    return False


def open_changes(keys: ItemsKeys, changes: Sequence[Change]) -> OpenedPage:
    """Open every sealed change of a page (an encrypted account's); a change that does not
    open or agree is left out and named in ``refused``, a clear one too (except the server's
    own ``purge``): an encrypted account never takes clear records."""
    opened: list[Change] = []
    refused: list[Refusal] = []
    for change in changes:
        payload = change.payload
        if isinstance(payload, PurgeRecord):
            opened.append(change)
            continue
        if not isinstance(payload, SealedRecord):
            kind, record_id = _clear_name(payload)
            refused.append(Refusal(change.seq, kind, record_id, NOT_SEALED, _NOT_SEALED_TEXT))
            continue
        try:
            clear = open_payload(keys, payload)
        except CryptoError as error:
            refused.append(
                Refusal(change.seq, payload.kind, payload.id, refusal_code(error), str(error))
            )
            continue
        except ProtocolError as error:
            text = f"The {payload.kind} {payload.id} cannot be read by this SnapAsk: {error}"
            refused.append(Refusal(change.seq, payload.kind, payload.id, UNREADABLE, text))
            continue
        opened.append(Change(change.seq, change.op_id, change.device_id, clear))
    return OpenedPage(opened, refused)


def has_sealed(changes: Iterable[Change]) -> bool:
    """Whether any change is sealed (an account this device took for a clear one)."""
    return any(isinstance(c.payload, SealedRecord) for c in changes)


def _clear_name(payload: Payload) -> tuple[str, str]:
    kind = str(payload.to_wire().get("type", "record"))
    if isinstance(payload, ScreenshotRecord | PictureTextRecord):
        return kind, payload.sha256
    return kind, str(getattr(payload, "id", ""))


def refusal_code(error: Exception) -> str:
    """The sync problem code of a refusal."""
    if isinstance(error, UnknownKey):
        return UNKNOWN_KEY
    if isinstance(error, UnsupportedVersion):
        return UNSUPPORTED_VERSION
    return TAMPERED


_NOT_SEALED_TEXT = (
    "The sync server sent a record in clear for this end-to-end encrypted account; "
    "it was not applied."
)

__all__ = [
    "KeysChanged",
    "OpenedPage",
    "Refusal",
    "Unlocked",
    "context_of",
    "create_keys",
    "delete_stamp",
    "has_sealed",
    "open_changes",
    "open_payload",
    "open_picture",
    "params_of",
    "picture_ids",
    "refresh",
    "refusal_code",
    "rewrap",
    "rotated",
    "seal_payload",
    "seal_picture",
    "unlock",
    "unwrap_all",
]
