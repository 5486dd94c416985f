"""A device's sealing and opening of an encrypted account's records (sync-protocol.md 12.2,
12.9), and its keys from a passphrase: every change that does not open or contradicts its
clear fields is refused by name, and the rest of the page is opened."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.fail import Keyring as FailKeyring
from keyring.errors import KeyringLocked

from snapask_desktop.credentials import CredentialError
from snapask_desktop.sync import e2ee
from snapask_desktop.sync.crypto import (
    ItemsKey,
    ItemsKeys,
    RecordContext,
    Tampered,
    WeakParameters,
    WrongPassphrase,
    blob_id_of_sha256,
    derive_root_key,
    seal_record,
    wrap_items_key,
)
from snapask_desktop.sync.crypto.kdf import MAX_OPSLIMIT
from snapask_desktop.sync.device.keystore import KeyStore
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.protocol import Change
from snapask_desktop.sync.records import (
    PictureTextRecord,
    PurgeRecord,
    ScreenshotRecord,
)
from snapask_desktop.sync.sealed import SealedRecord
from tests.sync.crypto_support import PASSPHRASE, flip, min_params
from tests.sync.factories import CONV, LAPTOP, MSG, OP, SHA, created, edited, message

OTHER_MSG = "5a0b6c1e-8c1f-4f0a-9d6b-2b1f3c4d5e6f"
OTHER_CONV = "0d7c1a4b-3f5e-4a6d-8b9c-1e2f3a4b5c6d"


@pytest.fixture(scope="module")
def made() -> tuple[KeyRecord, e2ee.Unlocked]:
    return e2ee.create_keys(PASSPHRASE, min_params())


@pytest.fixture
def keys(made: tuple[KeyRecord, e2ee.Unlocked]) -> ItemsKeys:
    return made[1].keys


def _change(seq: int, payload: object) -> Change:
    return Change(seq, OP, LAPTOP, payload)  # type: ignore[arg-type]


def _screenshot() -> ScreenshotRecord:
    return ScreenshotRecord(SHA, 1234, 40, 30, "image/png")


# sealing and opening ----------------------------------------------------------------------


def test_every_kind_opens_to_the_payload_it_sealed(keys: ItemsKeys) -> None:
    deleted = edited(created(), LAPTOP, 10, deleted=True)
    payloads = [
        created("Secret dialog title"),
        deleted,
        message("what does 0xDEADBEEF mean?"),
        _screenshot(),
        PictureTextRecord(SHA, "text read from the picture", "tesseract 5"),
    ]
    sealed = [e2ee.seal_payload(keys.current, p) for p in payloads]
    # Only the clear fields the server needs travel in clear (12.4).
    assert [s.kind for s in sealed] == [
        "conversation", "conversation", "message", "screenshot", "picture_text"
    ]  # fmt: skip
    assert sealed[0].deleted_at is None
    assert sealed[1].deleted_at == deleted.field_hlc["deleted"].hlc
    assert sealed[2].conversation_id == CONV
    assert sealed[3].id == sealed[4].id == blob_id_of_sha256(keys.current, SHA) != SHA
    for s in sealed:
        assert b"Secret" not in s.data and b"0xDEADBEEF" not in s.data
        assert SHA not in json.dumps(s.to_wire())
    page = e2ee.open_changes(keys, [_change(i + 1, s) for i, s in enumerate(sealed)])
    assert page.refused == []
    assert [c.payload for c in page.changes] == payloads
    assert [c.seq for c in page.changes] == [1, 2, 3, 4, 5]


def test_a_swapped_ciphertext_is_refused_and_the_rest_of_the_page_opens(keys: ItemsKeys) -> None:
    a = e2ee.seal_payload(keys.current, message("first"))
    b = e2ee.seal_payload(keys.current, message("second", message_id=OTHER_MSG))
    swapped = dataclasses.replace(a, data=b.data)  # the server moved b's ciphertext onto a
    page = e2ee.open_changes(keys, [_change(1, swapped), _change(2, b)])
    assert [c.seq for c in page.changes] == [2]
    assert [(r.seq, r.kind, r.record_id, r.code) for r in page.refused] == [
        (1, "message", MSG, e2ee.TAMPERED)
    ]
    assert "was altered" in page.refused[0].message


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda s: dataclasses.replace(s, data=flip(s.data, 8 * 40 + 3)), id="bit"),
        pytest.param(lambda s: dataclasses.replace(s, conversation_id=OTHER_CONV), id="conv"),
        pytest.param(lambda s: dataclasses.replace(s, id=OTHER_MSG), id="id"),
    ],
)
def test_an_altered_message_is_refused(keys: ItemsKeys, alter: object) -> None:
    sealed = e2ee.seal_payload(keys.current, message())
    page = e2ee.open_changes(keys, [_change(7, alter(sealed))])  # type: ignore[operator]
    assert page.changes == []
    assert [r.code for r in page.refused] == [e2ee.TAMPERED]


def test_a_changed_or_dropped_delete_stamp_is_refused(keys: ItemsKeys) -> None:
    deleted = e2ee.seal_payload(keys.current, edited(created(), LAPTOP, 10, deleted=True))
    live = e2ee.seal_payload(keys.current, created())
    changes = [
        _change(1, dataclasses.replace(deleted, deleted_at=None)),  # hide the delete
        _change(2, dataclasses.replace(deleted, deleted_at=deleted.deleted_at + 1)),  # type: ignore[operator]
        _change(3, dataclasses.replace(live, deleted_at=5)),  # invent one
    ]
    page = e2ee.open_changes(keys, changes)
    assert page.changes == []
    assert [r.code for r in page.refused] == [e2ee.TAMPERED] * 3


def test_a_payload_that_contradicts_its_authentic_clear_fields_is_refused(
    keys: ItemsKeys,
) -> None:
    """Sealed by a key holder (a buggy or hostile device) with clear fields that lie: the tag
    is fine, the check after opening is not."""
    key = keys.current

    def sealed_as(ctx: RecordContext, payload: object) -> SealedRecord:
        data = seal_record(key, ctx, json.dumps(payload.to_wire()).encode())  # type: ignore[attr-defined]
        return SealedRecord(ctx.kind, ctx.record_id, data, ctx.conversation_id, ctx.deleted_at)

    deleted = edited(created(), LAPTOP, 10, deleted=True)
    other_sha = hashlib.sha256(b"another picture").hexdigest()
    liars = [
        sealed_as(RecordContext("conversation", CONV), deleted),  # deleted, no stamp
        sealed_as(RecordContext("conversation", OTHER_CONV), created()),  # another id
        sealed_as(RecordContext("message", MSG, conversation_id=OTHER_CONV), message()),
        sealed_as(RecordContext("message", CONV, conversation_id=CONV), created()),  # kind
        sealed_as(RecordContext("screenshot", blob_id_of_sha256(key, other_sha)), _screenshot()),
        sealed_as(RecordContext("screenshot", SHA), _screenshot()),  # the clear hash as id
    ]
    nested = e2ee.seal_payload(key, message())
    liars.append(
        sealed_as(RecordContext("message", MSG, conversation_id=CONV), nested)  # sealed twice
    )
    page = e2ee.open_changes(keys, [_change(i + 1, s) for i, s in enumerate(liars)])
    assert page.changes == []
    assert [r.code for r in page.refused] == [e2ee.TAMPERED] * len(liars)


def test_unknown_key_newer_version_and_unreadable_payload_are_named(keys: ItemsKeys) -> None:
    stranger = ItemsKey.generate()
    unknown = e2ee.seal_payload(stranger, message())
    newer = e2ee.seal_payload(keys.current, message())
    newer = dataclasses.replace(newer, data=bytes([2]) + newer.data[1:])
    ctx = RecordContext("message", MSG, conversation_id=CONV)
    odd = {"type": "message", "id": MSG, "conversation_id": CONV, "role": "robot"}
    unreadable = SealedRecord(
        "message", MSG, seal_record(keys.current, ctx, json.dumps(odd).encode()), CONV
    )
    page = e2ee.open_changes(keys, [_change(1, unknown), _change(2, newer), _change(3, unreadable)])
    assert [r.code for r in page.refused] == [
        e2ee.UNKNOWN_KEY, e2ee.UNSUPPORTED_VERSION, e2ee.UNREADABLE
    ]  # fmt: skip
    assert page.unknown_keys
    assert "update SnapAsk" in page.refused[1].message


def test_clear_records_are_refused_but_the_servers_purge_passes(keys: ItemsKeys) -> None:
    purge = PurgeRecord(CONV)
    page = e2ee.open_changes(keys, [_change(1, message()), _change(2, purge)])
    assert [c.payload for c in page.changes] == [purge]
    assert [(r.kind, r.record_id, r.code) for r in page.refused] == [
        ("message", MSG, e2ee.NOT_SEALED)
    ]
    assert e2ee.has_sealed([_change(3, e2ee.seal_payload(keys.current, message()))])
    assert not e2ee.has_sealed([_change(1, message()), _change(2, purge)])


def test_pictures_open_only_as_the_picture_their_hash_names(keys: ItemsKeys) -> None:
    picture = b"\x89PNG pretend picture bytes " * 100
    sha = hashlib.sha256(picture).hexdigest()
    bid, sealed = e2ee.seal_picture(keys.current, sha, picture)
    assert bid == e2ee.picture_ids(keys, sha)[0]
    assert picture not in sealed
    assert e2ee.open_picture(keys, bid, sha, sealed) == picture
    with pytest.raises(Tampered):
        e2ee.open_picture(keys, bid, hashlib.sha256(b"other").hexdigest(), sealed)
    with pytest.raises(Tampered):
        e2ee.open_picture(keys, bid, sha, flip(sealed, 8 * 60))
    with pytest.raises(Tampered):  # the store's file does not hash to its name
        e2ee.seal_picture(keys.current, hashlib.sha256(b"other").hexdigest(), picture)


# keys ---------------------------------------------------------------------------------------


def test_a_new_account_unlocks_with_its_passphrase_only(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    record, unlocked = made
    opened = e2ee.unlock(record, 3, PASSPHRASE)
    assert opened.version == 3
    assert [k.key for k in opened.keys] == [k.key for k in unlocked.keys]
    assert opened.matches(record)
    with pytest.raises(WrongPassphrase):
        e2ee.unlock(record, 3, PASSPHRASE + "!")
    with pytest.raises(WrongPassphrase):  # the record altered: the same words for it
        e2ee.unlock(dataclasses.replace(record, salt=bytes(16)), 3, PASSPHRASE)
    with pytest.raises(WeakParameters):  # refused before anything is derived
        e2ee.unlock(dataclasses.replace(record, opslimit=MAX_OPSLIMIT + 1), 3, PASSPHRASE)


def test_a_new_passphrase_must_be_long_enough() -> None:
    with pytest.raises(WeakParameters):
        e2ee.create_keys("short", min_params())


def test_a_rotation_elsewhere_opens_with_the_kept_root_key(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    record, held = made
    rotated = held.keys.rotate()
    wrapped = tuple(wrap_items_key(held.root, k) for k in rotated)
    fresh = e2ee.refresh(held, dataclasses.replace(record, wrapped_keys=wrapped), 2)
    assert fresh.version == 2
    assert fresh.keys.current.generation == 1
    assert {k.key_id for k in fresh.keys} == {k.key_id for k in rotated}
    # A record that drops the old key: this device keeps it to open what it sealed.
    newest = (wrap_items_key(held.root, rotated.current),)
    kept = e2ee.refresh(held, dataclasses.replace(record, wrapped_keys=newest), 3)
    assert {k.key_id for k in kept.keys} == {k.key_id for k in rotated}


def test_a_passphrase_changed_elsewhere_asks_for_the_new_one(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    record, held = made
    new_root = derive_root_key("a brand new passphrase", min_params(bytes(range(1, 17))))
    changed = KeyRecord(
        salt=new_root.params.salt,
        opslimit=new_root.params.opslimit,
        memlimit=new_root.params.memlimit,
        wrapped_keys=tuple(wrap_items_key(new_root, k) for k in held.keys),
    )
    with pytest.raises(e2ee.KeysChanged, match="changed on another device"):
        e2ee.refresh(held, changed, 2)
    # The same salt with a wrapped key the kept root key does not open: asked again too.
    forged = dataclasses.replace(record, wrapped_keys=changed.wrapped_keys)
    with pytest.raises(e2ee.KeysChanged):
        e2ee.refresh(held, forged, 2)
    assert e2ee.unlock(changed, 2, "a brand new passphrase").keys.current == held.keys.current


def test_the_keyring_keeps_the_keys_and_nothing_else_does(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    _record, held = made
    store = KeyStore("sync-keys:ws://127.0.0.1:1/v1/sync:device")
    assert store.load() is None
    store.save(dataclasses.replace(held, version=4))
    loaded = store.load()
    assert loaded is not None and loaded.version == 4
    assert loaded.root == held.root
    assert [(k.key_id, k.key, k.generation) for k in loaded.keys] == [
        (k.key_id, k.key, k.generation) for k in held.keys
    ]
    assert "root=" not in repr(loaded) and held.root.key.hex() not in repr(loaded)
    assert store.forget()
    assert store.load() is None


def test_a_new_passphrase_rewraps_the_same_keys_and_a_rotation_adds_one(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    record, held = made
    changed, unlocked = e2ee.rewrap(held, record, "another long passphrase", min_params(bytes(16)))
    assert changed.salt != record.salt and unlocked.matches(changed)
    assert [k.key for k in unlocked.keys] == [k.key for k in held.keys]
    assert e2ee.unlock(changed, 2, "another long passphrase").keys.current == held.keys.current
    with pytest.raises(WrongPassphrase):
        e2ee.unlock(changed, 2, PASSPHRASE)
    with pytest.raises(WeakParameters):
        e2ee.rewrap(held, record, "short")

    bigger, rotated = e2ee.rotated(held, record)
    assert bigger.wrapped_keys[:1] == record.wrapped_keys and len(bigger.wrapped_keys) == 2
    assert rotated.keys.current.generation == 1
    assert e2ee.refresh(held, bigger, 2).keys.current == rotated.keys.current


class _LockedKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("locked")


def test_without_a_keyring_no_keys_are_kept_but_a_locked_one_is_said(
    made: tuple[KeyRecord, e2ee.Unlocked],
) -> None:
    store = KeyStore("sync-keys:ws://127.0.0.1:1/v1/sync:device")
    keyring.set_keyring(FailKeyring())  # the suite's fixture puts its own back afterwards
    assert store.load() is None  # a headless machine: a clear account syncs on
    with pytest.raises(CredentialError, match="No system keyring"):
        store.save(made[1])
    keyring.set_keyring(_LockedKeyring())
    with pytest.raises(CredentialError, match="locked"):  # keys may be in it: never "none"
        store.load()
