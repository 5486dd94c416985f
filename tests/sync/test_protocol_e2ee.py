"""The wire shapes of encrypted accounts (sync-protocol.md 12.9): sealed payloads, the key
record and the key frames, parsed and refused like every other frame."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from snapask_desktop.sync.crypto import (
    ItemsKey,
    KdfParams,
    RecordContext,
    derive_root_key,
    open_record,
    seal_record,
    unwrap_items_key,
    wrap_items_key,
)
from snapask_desktop.sync.crypto.keys import ItemsKeys
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.limits import MAX_ITEMS_KEYS, MAX_SEALED_BYTES
from snapask_desktop.sync.protocol import (
    Change,
    Changes,
    Deleted,
    DeletedConversation,
    InvalidOp,
    Keys,
    KeysGet,
    KeysPut,
    Op,
    Push,
    Welcome,
    encode_frame,
    parse_client_frame,
    parse_server_frame,
)
from snapask_desktop.sync.records import parse_payload
from snapask_desktop.sync.sealed import SealedRecord

CONV = "c4b241ed-5754-4db5-a971-53d2a2a9af53"
MSG = "5a0b6c1e-8c1f-4f0a-9d6b-2b1f3c4d5e6f"
BLOB = "ab" * 32
KEY = ItemsKey.generate()
SEALED = seal_record(KEY, RecordContext("message", MSG, conversation_id=CONV), b'{"a": 1}')
PARAMS = KdfParams(salt=bytes(range(16)), opslimit=3, memlimit=64 * 1024 * 1024)


def _record(**changes: Any) -> dict[str, Any]:
    base = SealedRecord("message", MSG, SEALED, conversation_id=CONV).to_wire()
    return {k: v for k, v in (base | changes).items() if v is not ...}


@pytest.mark.parametrize(
    "record",
    [
        SealedRecord("message", MSG, SEALED, conversation_id=CONV),
        SealedRecord("conversation", CONV, SEALED),
        SealedRecord("conversation", CONV, SEALED, deleted_at=117637120000000000),
        SealedRecord("screenshot", BLOB, SEALED),
        SealedRecord("picture_text", BLOB, SEALED),
    ],
)
def test_sealed_payloads_round_trip_in_a_push_and_a_page(record: SealedRecord) -> None:
    op = Op("0e6f4f52-7b8d-4a4c-9a8e-3c3b2f1e0d9c", record)
    assert parse_client_frame(encode_frame(Push((op,), id=1))) == Push((op,), id=1)
    page = Changes(0, 7, False, (Change(7, op.op_id, "dev-a", record),))
    assert parse_server_frame(encode_frame(page)) == page
    assert parse_payload(record.to_wire(), from_device=True) == record


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"kind": "purge"}, "kind"),
        ({"id": "not-a-uuid"}, "id"),
        ({"kind": "screenshot", "conversation_id": ...}, "id"),  # a UUID is not a blob id
        ({"conversation_id": ...}, "conversation_id"),
        ({"kind": "conversation", "id": CONV}, "conversation_id: only a message"),
        ({"deleted_at": 5}, "deleted_at: only a conversation"),
        ({"data": "AAAA"}, "shorter than any sealed record"),
        ({"data": "not base64!"}, "base64"),
        ({"title": "in clear"}, "title"),  # no clear field beyond the five
        ({"data": ...}, "data"),
    ],
)
def test_malformed_sealed_payloads_reject_only_their_op(
    changes: dict[str, Any], fragment: str
) -> None:
    raw = _record(**changes)
    text = json.dumps({"type": "push", "ops": [{"op_id": MSG, "payload": raw}]})
    (op,) = parse_client_frame(text).ops  # type: ignore[union-attr]
    assert isinstance(op, InvalidOp)
    assert op.code == ErrorCode.BAD_PAYLOAD
    assert fragment in op.message


def test_a_sealed_payload_past_its_limit_is_too_large() -> None:
    raw = _record(data=base64.b64encode(bytes(MAX_SEALED_BYTES + 1)).decode())
    with pytest.raises(ProtocolError) as caught:
        SealedRecord.from_wire(raw)
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_a_key_record_carries_what_unwraps_the_keys() -> None:
    root = derive_root_key("correct horse battery staple", PARAMS)
    record = KeyRecord(PARAMS.salt, PARAMS.opslimit, PARAMS.memlimit, (wrap_items_key(root, KEY),))
    put = KeysPut(record, expect_version=0, id="put-1")
    parsed = parse_client_frame(encode_frame(put))
    assert parsed == put
    assert isinstance(parsed, KeysPut)
    got = parsed.record
    again = derive_root_key(
        "correct horse battery staple", KdfParams(got.salt, got.opslimit, got.memlimit)
    )
    opened = unwrap_items_key(again, got.wrapped_keys[0])
    ctx = RecordContext("message", MSG, conversation_id=CONV)
    assert open_record(ItemsKeys([opened]), ctx, SEALED) == b'{"a": 1}'


def test_key_frames_round_trip() -> None:
    record = KeyRecord(bytes(16), 3, 64 * 1024 * 1024, (bytes(93), bytes(range(93))))
    for frame in (Keys(3, record, id=9), Keys(0, None), Keys(4, record)):
        assert parse_server_frame(encode_frame(frame)) == frame
    assert parse_client_frame(encode_frame(KeysGet(id=2))) == KeysGet(id=2)
    welcome = Welcome("dev-a", head=12, server_time_ms=1, keys_version=3)
    parsed = parse_server_frame(encode_frame(welcome))
    assert parsed == welcome and isinstance(parsed, Welcome) and parsed.encrypted
    clear = parse_server_frame(encode_frame(Welcome("dev-a", head=1, server_time_ms=1)))
    assert isinstance(clear, Welcome) and not clear.encrypted
    assert "keys_version" not in encode_frame(Welcome("dev-a", head=1, server_time_ms=1))


def _key_record(**changes: Any) -> dict[str, Any]:
    base = KeyRecord(bytes(16), 3, 64 * 1024 * 1024, (bytes(93),)).to_wire()
    return {k: v for k, v in (base | changes).items() if v is not ...}


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        (_key_record(format=2), "record.format: 2 is not known"),
        (_key_record(salt=base64.b64encode(bytes(15)).decode()), "record.salt: must be 16"),
        (_key_record(keys=[]), "record.keys: must have at least 1"),
        (_key_record(keys=[base64.b64encode(bytes(92)).decode()]), "record.keys[0]: must be 93"),
        (_key_record(keys=["###"]), "record.keys[0]"),
        (_key_record(opslimit=0), "record.opslimit"),
        (_key_record(memlimit=...), "record.memlimit"),
        (_key_record(extra=1), "extra"),
        ("a string", "record"),
    ],
)
def test_malformed_key_records_are_refused(record: Any, fragment: str) -> None:
    text = json.dumps({"type": "keys_put", "id": 5, "expect_version": 0, "record": record})
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text)
    assert caught.value.code == ErrorCode.BAD_FIELD
    assert caught.value.request_id == 5
    assert fragment in caught.value.message


def test_too_many_wrapped_keys_are_refused() -> None:
    record = _key_record(keys=[base64.b64encode(bytes(93)).decode()] * (MAX_ITEMS_KEYS + 1))
    with pytest.raises(ProtocolError):
        KeyRecord.from_wire(record)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"type": "keys", "version": 0, "record": {}}', "null exactly when version is 0"),
        ('{"type": "keys", "version": 2, "record": null}', "null exactly when version is 0"),
        ('{"type": "keys", "version": -1, "record": null}', "version"),
        (
            json.dumps(Welcome("dev-a", head=0, server_time_ms=0).to_wire() | {"keys_version": -3}),
            "keys_version",
        ),
    ],
)
def test_malformed_key_frames_from_the_server_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server_frame(text)
    assert fragment in caught.value.message


def test_a_deleted_frame_round_trips_and_refuses_what_it_does_not_know() -> None:
    cid = "c4b241ed-5754-4db5-a971-53d2a2a9af53"
    frame = Deleted(57, (DeletedConversation(cid, (1 << 62) + 3),), id=4)
    assert parse_client_frame(encode_frame(frame)) == frame
    cases = [
        ({"cursor": 1, "conversations": []}, "at least 1"),
        ({"cursor": 1, "conversations": [{"id": cid}]}, "deleted_at"),
        ({"cursor": 1, "conversations": [{"id": cid, "deleted_at": 1, "title": "x"}]}, "title"),
        ({"cursor": -1, "conversations": [{"id": cid, "deleted_at": 1}]}, "cursor"),
        ({"conversations": [{"id": cid, "deleted_at": 1}]}, "cursor"),
    ]
    for body, fragment in cases:
        with pytest.raises(ProtocolError, match=fragment) as refused:
            parse_client_frame(json.dumps({"type": "deleted"} | body))
        assert refused.value.code == ErrorCode.BAD_FIELD


TRICKY: list[Any] = [
    None, True, 0, -1, 2**63, 1.5, "", "x", "AAAA", "A===", "AA==AA==", " " + _record()["data"],
    MSG, CONV.upper(), BLOB, "g" * 64, [], {}, "message", "conversation", "sealed", "purge",
]  # fmt: skip


@pytest.mark.parametrize(
    "base",
    [
        _record(),
        SealedRecord("conversation", CONV, SEALED, deleted_at=5).to_wire(),
        SealedRecord("conversation", CONV, SEALED).to_wire(),
        SealedRecord("screenshot", BLOB, SEALED).to_wire(),
    ],
)
def test_the_quick_and_the_checked_sealed_readers_agree(base: dict[str, Any]) -> None:
    from snapask_desktop.sync.sealed import _quick

    variants = [base]
    for key in (*base, "conversation_id", "deleted_at", "extra"):
        variants.append({k: v for k, v in base.items() if k != key})
        variants.extend(base | {key: value} for value in TRICKY)
    for obj in variants:
        quick = _quick(obj)
        try:
            checked: SealedRecord | None = SealedRecord._checked(obj)
        except ProtocolError:
            checked = None
        assert quick is None or quick == checked, obj
        if quick is None and checked is not None:
            raise AssertionError(f"only the checked reader accepts {obj}")
