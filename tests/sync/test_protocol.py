"""Frames: round trips, and a rejection (with its wire code) for every malformed case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import (
    BLOB_CHUNK_BYTES,
    MAX_BLOB_BYTES,
    MAX_FRAME_BYTES,
    MAX_HTTP_BODY_BYTES,
    MAX_OPS_PER_PUSH,
    MAX_PAGE_CHANGES,
)
from snapask_desktop.sync.protocol import (
    Ack,
    Applied,
    Blob,
    BlobAck,
    BlobGet,
    BlobMissing,
    BlobPut,
    Change,
    Changes,
    Error,
    Frame,
    Hello,
    InvalidOp,
    Limits,
    Op,
    OpResult,
    Pull,
    Push,
    Welcome,
    encode_frame,
    parse_client_frame,
    parse_server_frame,
)
from snapask_desktop.sync.records import PurgeRecord, parse_payload, payload_hlc
from snapask_desktop.sync.signin import (
    DeviceGrant,
    DeviceRequest,
    bearer_token,
    parse_device_grant,
    parse_device_request,
)
from tests.sync.factories import (
    CONV,
    LAPTOP,
    OP,
    SHA,
    W,
    conversation_wire,
    created,
    hlc,
    message,
    message_wire,
    purge_wire,
    screenshot,
)

OP2 = "bf249122-1a0a-40ae-9ff1-fdf3e1d2339a"
PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 20

CLIENT_FRAMES: list[Frame] = [
    Hello(device_id=LAPTOP, cursor=0, client="snapask-desktop/0.1.0", id="h1"),
    Hello(device_id=LAPTOP, cursor=42),
    Push(ops=(Op(OP, created()), Op(OP2, message()), Op(SHA[:8] + OP[8:], screenshot())), id=7),
    Pull(since=10, limit=1000, id="q"),
    Pull(since=0),
    Applied(cursor=12),
    BlobPut(sha256=SHA, size=28, offset=0, data=PNG, id="b"),
    BlobPut(sha256=SHA, size=28, offset=28, data=b""),
    BlobGet(sha256=SHA, offset=4, id="g"),
]

SERVER_FRAMES: list[Frame] = [
    Welcome(device_id=LAPTOP, head=5, server_time_ms=W, id="h1"),
    Welcome(device_id=LAPTOP, head=0, server_time_ms=W, limits=Limits(max_ops_per_push=10)),
    Ack(
        results=(
            OpResult.applied(OP, 5),
            OpResult.duplicate(OP2, 3),
            OpResult.rejected(CONV, ErrorCode.CLOCK_SKEW, "your clock is 9 minutes ahead"),
        ),
        id=7,
    ),
    Changes(
        since=4,
        cursor=9,
        has_more=False,
        changes=(
            Change(5, OP, LAPTOP, created()),
            Change(8, OP2, None, PurgeRecord(CONV, (SHA,))),
        ),
        id="q",
    ),
    Changes(since=2, cursor=3, has_more=True, changes=(Change(3, OP, LAPTOP, message()),)),
    Changes(since=7, cursor=7, has_more=False, changes=()),
    BlobAck(sha256=SHA, size=28, received=12, complete=False, id="b"),
    BlobAck(sha256=SHA, size=28, received=28, complete=True),
    Blob(sha256=SHA, size=28, offset=0, data=PNG, id="g"),
    BlobMissing(sha256=SHA, id="g"),
    Error(code="rate_limited", message="slow down", retry_after_ms=250, id=3),
    Error(code="some_future_code", message="a newer server"),
]


@pytest.mark.parametrize("frame", CLIENT_FRAMES, ids=lambda f: type(f).__name__)
def test_client_frames_round_trip(frame: Frame) -> None:
    text = encode_frame(frame)
    assert parse_client_frame(text) == frame
    assert json.loads(text)["type"] == frame.to_wire()["type"]


@pytest.mark.parametrize("frame", SERVER_FRAMES, ids=lambda f: type(f).__name__)
def test_server_frames_round_trip(frame: Frame) -> None:
    assert parse_server_frame(encode_frame(frame)) == frame


def test_request_ids_are_echoed_in_errors() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame('{"type": "pull", "id": "q9", "since": "0"}')
    reply = Error.from_exception(caught.value)
    assert reply == Error("bad_field", "since: must be an integer, not a string", id="q9")
    assert parse_server_frame(encode_frame(reply)) == reply


def test_an_unknown_error_code_from_the_server_is_kept_as_text() -> None:
    assert Error("some_future_code", "x").known_code is None
    assert Error("gone", "x").known_code is ErrorCode.GONE


def test_frames_over_the_size_limit_are_refused_both_ways() -> None:
    huge = '{"type": "pull", "since": 0, "pad": "' + "x" * MAX_FRAME_BYTES + '"}'
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(huge)
    assert caught.value.code is ErrorCode.TOO_LARGE
    long_text = message().to_wire() | {"text": "é" * 200_000}
    ops = tuple(
        Op(
            f"{i:08x}-06e9-4703-8962-94d1945cc842",
            parse_payload(long_text | {"id": f"{i:08x}" + OP[8:]}),
        )
        for i in range(40)
    )
    with pytest.raises(ProtocolError) as caught:
        encode_frame(Push(ops))
    assert caught.value.code is ErrorCode.TOO_LARGE


# ---------------------------------------------------------------------- rejections


def _push(payload: Any) -> str:
    return json.dumps({"type": "push", "ops": [{"op_id": OP, "payload": payload}]})


CLIENT_REJECTIONS: list[tuple[str, str | bytes, ErrorCode, str]] = [
    ("not JSON", '{"type": "pull",', ErrorCode.BAD_JSON, "not valid JSON"),
    ("binary message", b'{"type": "pull", "since": 0}', ErrorCode.BAD_JSON, "binary"),
    ("NaN", '{"type": "pull", "since": NaN}', ErrorCode.BAD_JSON, "NaN is not allowed"),
    ("Infinity", '{"type": "pull", "since": Infinity}', ErrorCode.BAD_JSON, "Infinity"),
    ("repeated key", '{"type": "pull", "since": 0, "since": 1}', ErrorCode.BAD_JSON, "twice"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, ErrorCode.BAD_JSON, "nested"),
    ("not an object", '["pull"]', ErrorCode.BAD_FRAME, "must be a JSON object"),
    ("a string", '"hello"', ErrorCode.BAD_FRAME, "must be a JSON object"),
    ("no type", '{"since": 0}', ErrorCode.BAD_FRAME, "type: must be a string"),
    ("type not a string", '{"type": 3}', ErrorCode.BAD_FRAME, "type: must be a string"),
    ("empty id", '{"type": "pull", "id": "", "since": 0}', ErrorCode.BAD_FRAME, "id: must"),
    ("id a boolean", '{"type": "pull", "id": true, "since": 0}', ErrorCode.BAD_FRAME, "id:"),
    ("id negative", '{"type": "pull", "id": -1, "since": 0}', ErrorCode.BAD_FRAME, "id:"),
    ("id too long", json.dumps({"type": "pull", "id": "i" * 65}), ErrorCode.BAD_FRAME, "id:"),
    ("unknown type", '{"type": "subscribe"}', ErrorCode.UNKNOWN_TYPE, "'subscribe' is not"),
    ("server frame", '{"type": "welcome"}', ErrorCode.UNKNOWN_TYPE, "'welcome' is not"),
    (
        "hello: newer protocol",
        json.dumps({"type": "hello", "protocol": 2, "device_id": LAPTOP, "cursor": 0}),
        ErrorCode.UNSUPPORTED_PROTOCOL,
        "protocol 2 is not supported",
    ),
    (
        "hello: protocol as text",
        json.dumps({"type": "hello", "protocol": "1", "device_id": LAPTOP, "cursor": 0}),
        ErrorCode.BAD_FIELD,
        "protocol: must be an integer",
    ),
    (
        "hello: bad device id",
        json.dumps({"type": "hello", "protocol": 1, "device_id": "lap top", "cursor": 0}),
        ErrorCode.BAD_FIELD,
        "device_id: not a device id",
    ),
    (
        "hello: negative cursor",
        json.dumps({"type": "hello", "protocol": 1, "device_id": LAPTOP, "cursor": -1}),
        ErrorCode.BAD_FIELD,
        "cursor: must be an integer >= 0",
    ),
    (
        "hello: fractional cursor",
        json.dumps({"type": "hello", "protocol": 1, "device_id": LAPTOP, "cursor": 1.5}),
        ErrorCode.BAD_FIELD,
        "cursor: must be an integer",
    ),
    (
        "hello: cursor past 2^53",
        json.dumps({"type": "hello", "protocol": 1, "device_id": LAPTOP, "cursor": 2**53}),
        ErrorCode.BAD_FIELD,
        "cursor: must be an integer <=",
    ),
    (
        "hello: client too long",
        json.dumps(
            {"type": "hello", "protocol": 1, "device_id": LAPTOP, "cursor": 0, "client": "c" * 101}
        ),
        ErrorCode.BAD_FIELD,
        "client: is too long",
    ),
    (
        "hello: device missing",
        json.dumps({"type": "hello", "protocol": 1, "cursor": 0}),
        ErrorCode.BAD_FIELD,
        "device_id: is missing",
    ),
    ("push: ops not a list", '{"type": "push", "ops": {}}', ErrorCode.BAD_FIELD, "ops: must be"),
    ("push: no ops", '{"type": "push", "ops": []}', ErrorCode.BAD_FIELD, "at least 1"),
    (
        "push: too many ops",
        json.dumps({"type": "push", "ops": [{}] * (MAX_OPS_PER_PUSH + 1)}),
        ErrorCode.TOO_LARGE,
        "ops: 101 items; at most 100",
    ),
    ("push: op not an object", '{"type": "push", "ops": [7]}', ErrorCode.BAD_FIELD, "ops[0]:"),
    (
        "push: bad op id",
        json.dumps({"type": "push", "ops": [{"op_id": "x", "payload": {}}]}),
        ErrorCode.BAD_FIELD,
        "ops[0].op_id: not a canonical lowercase UUID",
    ),
    (
        "push: uppercase op id",
        json.dumps({"type": "push", "ops": [{"op_id": OP.upper(), "payload": {}}]}),
        ErrorCode.BAD_FIELD,
        "ops[0].op_id",
    ),
    (
        "push: payload missing",
        json.dumps({"type": "push", "ops": [{"op_id": OP}]}),
        ErrorCode.BAD_FIELD,
        "ops[0].payload: is missing",
    ),
    ("pull: negative since", '{"type": "pull", "since": -1}', ErrorCode.BAD_FIELD, "since:"),
    ("pull: zero limit", '{"type": "pull", "since": 0, "limit": 0}', ErrorCode.BAD_FIELD, "limit"),
    (
        "pull: limit too big",
        json.dumps({"type": "pull", "since": 0, "limit": MAX_PAGE_CHANGES + 1}),
        ErrorCode.BAD_FIELD,
        "limit: must be an integer <= 1000",
    ),
    ("applied: no cursor", '{"type": "applied"}', ErrorCode.BAD_FIELD, "cursor: is missing"),
    (
        "blob_put: uppercase sha",
        json.dumps({"type": "blob_put", "sha256": SHA.upper(), "size": 1, "offset": 0, "data": ""}),
        ErrorCode.BAD_FIELD,
        "sha256: not a SHA-256",
    ),
    (
        "blob_put: empty blob",
        json.dumps({"type": "blob_put", "sha256": SHA, "size": 0, "offset": 0, "data": ""}),
        ErrorCode.BAD_FIELD,
        "size: must be an integer >= 1",
    ),
    (
        "blob_put: blob too big",
        json.dumps(
            {"type": "blob_put", "sha256": SHA, "size": MAX_BLOB_BYTES + 1, "offset": 0, "data": ""}
        ),
        ErrorCode.TOO_LARGE,
        "a blob is at most",
    ),
    (
        "blob_put: not base64",
        json.dumps({"type": "blob_put", "sha256": SHA, "size": 9, "offset": 0, "data": "ab$d"}),
        ErrorCode.BAD_FIELD,
        "data: is not valid base64",
    ),
    (
        "blob_put: base64 with a newline",
        json.dumps(
            {"type": "blob_put", "sha256": SHA, "size": 9, "offset": 0, "data": "QUJD\nRA=="}
        ),
        ErrorCode.BAD_FIELD,
        "data: is not valid base64",
    ),
    (
        "blob_put: unpadded base64",
        json.dumps({"type": "blob_put", "sha256": SHA, "size": 9, "offset": 0, "data": "QUI"}),
        ErrorCode.BAD_FIELD,
        "data: is not valid base64",
    ),
    (
        "blob_put: chunk too big",
        json.dumps(
            {
                "type": "blob_put",
                "sha256": SHA,
                "size": MAX_BLOB_BYTES,
                "offset": 0,
                "data": "A" * (4 * (BLOB_CHUNK_BYTES // 3) + 8),
            }
        ),
        ErrorCode.TOO_LARGE,
        "data: more than",
    ),
    (
        "blob_put: past the end",
        json.dumps({"type": "blob_put", "sha256": SHA, "size": 2, "offset": 0, "data": "QUJD"}),
        ErrorCode.BAD_FIELD,
        "data: ends at byte 3, past the blob's size 2",
    ),
    (
        "blob_put: offset past the size",
        json.dumps({"type": "blob_put", "sha256": SHA, "size": 2, "offset": 3, "data": ""}),
        ErrorCode.BAD_FIELD,
        "offset: must be an integer <= 2",
    ),
    (
        "blob_get: negative offset",
        json.dumps({"type": "blob_get", "sha256": SHA, "offset": -1}),
        ErrorCode.BAD_FIELD,
        "offset: must be an integer >= 0",
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [case[1:] for case in CLIENT_REJECTIONS],
    ids=[case[0] for case in CLIENT_REJECTIONS],
)
def test_malformed_client_frames_are_refused(
    text: str | bytes, code: ErrorCode, fragment: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text)
    assert caught.value.code is code
    assert fragment in caught.value.message


def test_an_invalid_payload_rejects_only_its_op() -> None:
    bad = conversation_wire() | {"title": 5}
    frame = parse_client_frame(
        json.dumps(
            {
                "type": "push",
                "id": "p",
                "ops": [
                    {"op_id": OP, "payload": bad},
                    {"op_id": OP2, "payload": message_wire()},
                    {"op_id": CONV, "payload": purge_wire()},
                ],
            }
        )
    )
    assert isinstance(frame, Push)
    first, second, third = frame.ops
    assert first == InvalidOp(
        OP, bad, ErrorCode.BAD_PAYLOAD, "ops[0].payload.title: must be a string, not an integer"
    )
    assert isinstance(second, Op) and second.payload == parse_payload(message_wire())
    assert isinstance(third, InvalidOp) and "not 'purge'" in third.message
    assert third.message.startswith("ops[2].payload.type: ")
    not_object = parse_client_frame(_push([1]))
    assert isinstance(not_object, Push)
    assert not_object.ops[0] == InvalidOp(
        OP, [1], ErrorCode.BAD_PAYLOAD, "ops[0].payload: must be an object"
    )
    # The server answers each invalid op with a rejection carrying that message.
    result = OpResult.rejected(first.op_id, first.code, first.message)
    assert result.code == "bad_payload"


def _welcome(**changes: Any) -> str:
    frame = Welcome(device_id=LAPTOP, head=0, server_time_ms=W).to_wire()
    return json.dumps(frame | changes)


def _changes(**changes: Any) -> str:
    base = Changes(4, 6, False, (Change(5, OP, LAPTOP, created()),)).to_wire()
    return json.dumps(base | changes)


def _change(**changes: Any) -> dict[str, Any]:
    return Change(5, OP, LAPTOP, created()).to_wire() | changes


SERVER_REJECTIONS: list[tuple[str, str, ErrorCode, str]] = [
    ("client frame", '{"type": "pull", "since": 0}', ErrorCode.UNKNOWN_TYPE, "'pull' is not"),
    (
        "welcome: limits missing a key",
        _welcome(limits={"max_frame_bytes": 1}),
        ErrorCode.BAD_FIELD,
        "limits.max_ops_per_push: is missing",
    ),
    (
        "welcome: a zero limit",
        _welcome(limits=Limits(frame_burst=0).to_wire()),
        ErrorCode.BAD_FIELD,
        "limits.frame_burst: must be an integer >= 1",
    ),
    ("welcome: negative head", _welcome(head=-3), ErrorCode.BAD_FIELD, "head:"),
    ("welcome: old protocol", _welcome(protocol=0), ErrorCode.BAD_FIELD, "protocol:"),
    ("ack: no results", '{"type": "ack", "results": []}', ErrorCode.BAD_FIELD, "at least 1"),
    (
        "ack: unknown status",
        json.dumps({"type": "ack", "results": [{"op_id": OP, "status": "maybe"}]}),
        ErrorCode.BAD_FIELD,
        "results[0].status: must be one of applied, duplicate, rejected",
    ),
    (
        "ack: applied without seq",
        json.dumps({"type": "ack", "results": [{"op_id": OP, "status": "applied"}]}),
        ErrorCode.BAD_FIELD,
        "results[0].seq: is missing",
    ),
    (
        "ack: rejected without code",
        json.dumps(
            {"type": "ack", "results": [{"op_id": OP, "status": "rejected", "message": ""}]}
        ),
        ErrorCode.BAD_FIELD,
        "results[0].code: is missing",
    ),
    (
        "ack: code in capitals",
        json.dumps(
            {
                "type": "ack",
                "results": [{"op_id": OP, "status": "rejected", "code": "GONE", "message": "x"}],
            }
        ),
        ErrorCode.BAD_FIELD,
        "results[0].code: must be lowercase",
    ),
    ("changes: cursor below since", _changes(cursor=3), ErrorCode.BAD_FIELD, "cursor: must be"),
    (
        "changes: seq at since",
        _changes(changes=[_change(seq=4)]),
        ErrorCode.BAD_FIELD,
        "changes[0].seq: 4 is outside (4, 6]",
    ),
    (
        "changes: seq past cursor",
        _changes(changes=[_change(seq=7)]),
        ErrorCode.BAD_FIELD,
        "changes[0].seq: 7 is outside (4, 6]",
    ),
    (
        "changes: seqs not ascending",
        _changes(changes=[_change(seq=6), _change(seq=5)]),
        ErrorCode.BAD_FIELD,
        "changes[1].seq: 5 is outside (6, 6]",
    ),
    (
        "changes: has_more on an empty page",
        _changes(has_more=True, changes=[]),
        ErrorCode.BAD_FIELD,
        "cursor: with has_more",
    ),
    (
        "changes: has_more with a cursor past the page",
        _changes(has_more=True),
        ErrorCode.BAD_FIELD,
        "cursor: with has_more",
    ),
    (
        "changes: device missing on a device's change",
        _changes(changes=[_change(device_id=None)]),
        ErrorCode.BAD_FIELD,
        "changes[0].device_id: must be null exactly for purge",
    ),
    (
        "changes: invalid payload",
        _changes(changes=[_change(payload=conversation_wire() | {"vv": {}})]),
        ErrorCode.BAD_PAYLOAD,
        "changes[0].payload.vv: has no entry for the writing device",
    ),
    (
        "changes: too many",
        _changes(cursor=2000, changes=[_change(seq=i) for i in range(5, 5 + MAX_PAGE_CHANGES + 1)]),
        ErrorCode.TOO_LARGE,
        "changes: 1,001 items",
    ),
    (
        "blob_ack: complete but short",
        json.dumps({"type": "blob_ack", "sha256": SHA, "size": 9, "received": 3, "complete": True}),
        ErrorCode.BAD_FIELD,
        "complete: is true but",
    ),
    (
        "blob_ack: more than the size",
        json.dumps(
            {"type": "blob_ack", "sha256": SHA, "size": 9, "received": 10, "complete": False}
        ),
        ErrorCode.BAD_FIELD,
        "received: must be an integer <= 9",
    ),
    (
        "blob: empty chunk",
        json.dumps({"type": "blob", "sha256": SHA, "size": 9, "offset": 0, "data": ""}),
        ErrorCode.BAD_FIELD,
        "data: must not be empty",
    ),
    (
        "blob: offset at the end",
        json.dumps({"type": "blob", "sha256": SHA, "size": 3, "offset": 3, "data": "QQ=="}),
        ErrorCode.BAD_FIELD,
        "offset: must be an integer <= 2",
    ),
    (
        "blob_missing: no sha",
        '{"type": "blob_missing"}',
        ErrorCode.BAD_FIELD,
        "sha256: is missing",
    ),
    (
        "error: code in capitals",
        '{"type": "error", "code": "Gone", "message": "x"}',
        ErrorCode.BAD_FIELD,
        "code: must be lowercase",
    ),
    (
        "error: message too long",
        json.dumps({"type": "error", "code": "internal", "message": "m" * 1001}),
        ErrorCode.BAD_FIELD,
        "message: is too long",
    ),
    (
        "error: negative retry",
        '{"type": "error", "code": "rate_limited", "message": "x", "retry_after_ms": -1}',
        ErrorCode.BAD_FIELD,
        "retry_after_ms: must be an integer >= 0",
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [case[1:] for case in SERVER_REJECTIONS],
    ids=[case[0] for case in SERVER_REJECTIONS],
)
def test_malformed_server_frames_are_refused(text: str, code: ErrorCode, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server_frame(text)
    assert caught.value.code is code
    assert fragment in caught.value.message


def test_unknown_frame_keys_are_ignored_for_forward_compatibility() -> None:
    frame = parse_client_frame('{"type": "pull", "since": 3, "compress": "zstd"}')
    assert frame == Pull(since=3)


# ---------------------------------------------------------------------- stamps and limits


def test_clock_skew_is_judged_on_the_stamps_of_conversations_and_messages() -> None:
    assert payload_hlc(created(at=3)) == hlc(3)
    assert payload_hlc(message(at=4)) == hlc(4)
    assert payload_hlc(screenshot()) is None


def test_limits_take_the_tighter_of_two_sides() -> None:
    mine = Limits(max_ops_per_push=50)
    theirs = Limits(frames_per_second=10)
    assert mine.tightest(theirs) == Limits(max_ops_per_push=50, frames_per_second=10)


# ---------------------------------------------------------------------- HTTP sign-in


def test_sign_in_request_and_grant_round_trip_without_leaking_secrets() -> None:
    request = DeviceRequest("ada", "correct horse", LAPTOP, "ada-laptop")
    assert parse_device_request(json.dumps(request.to_wire()).encode()) == request
    assert "correct horse" not in repr(request)
    grant = DeviceGrant(LAPTOP, "ada", "s57OpZtGbznZ4B4Te0PubgneUe4DS-BtmYftq2OKBeQ")
    assert parse_device_grant(json.dumps(grant.to_wire()).encode()) == grant
    assert grant.token not in repr(grant)


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"not json", ErrorCode.BAD_JSON, "not valid JSON"),
        (b"\xff\xfe", ErrorCode.BAD_JSON, "not UTF-8"),
        (b"[]", ErrorCode.BAD_FIELD, "must be an object"),
        (b'{"user": "ada", "device_id": "d", "device_name": "x"}', ErrorCode.BAD_FIELD, "password"),
        (
            b'{"user": "", "password": "p", "device_id": "d", "device_name": "x"}',
            ErrorCode.BAD_FIELD,
            "user: must have at least 1",
        ),
        (b" " * (MAX_HTTP_BODY_BYTES + 1), ErrorCode.TOO_LARGE, "over 16,384 bytes"),
    ],
)
def test_malformed_sign_in_requests_are_refused(
    body: bytes, code: ErrorCode, fragment: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_device_request(body)
    assert caught.value.code is code
    assert fragment in caught.value.message


def test_a_grant_with_a_strange_token_is_refused() -> None:
    body = json.dumps({"device_id": LAPTOP, "user": "ada", "token": "two words"}).encode()
    with pytest.raises(ProtocolError, match="token"):
        parse_device_grant(body)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.DEF_123-x", "abc.DEF_123-x"),
        ("bearer   abc", "abc"),
        (None, None),
        ("", None),
        ("Basic YWRhOnB3", None),
        ("Bearer", None),
        ("Bearer two words", None),
        ("Bearer " + "t" * 201, None),
    ],
)
def test_bearer_tokens_are_read_from_the_authorization_header(
    header: str | None, token: str | None
) -> None:
    assert bearer_token(header) == token


def test_quick_and_checked_changes_agree() -> None:
    # A page's changes are first read by protocol._quick_change, which must accept exactly what
    # _change accepts (and else leave the message to it).
    from snapask_desktop.sync import protocol
    from snapask_desktop.sync.wire import Fields

    values: list[object] = [None, True, 0, 4, 5, 6, 7, 5.0, "5", OP, OP.upper(), LAPTOP, "a b"]
    values += [conversation_wire(), conversation_wire() | {"vv": {}}, purge_wire(), [], {}]
    variants = [_change()]
    for key in ("seq", "op_id", "device_id", "payload", "extra"):
        variants += [_change(**{key: value}) for value in values]
        variants.append({k: v for k, v in _change().items() if k != key})
    for item in variants:
        try:
            checked: object = protocol._change(Fields(item, ErrorCode.BAD_FIELD), 4, 6)
        except ProtocolError:
            checked = None
        assert protocol._quick_change(item, 4, 6) in (None, checked), item
    assert protocol._quick_change(_change(), 4, 6) is not None


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"pull","since":0,"since":1}',  # compact: orjson reads it, keeping the last
        '{"a":{"b":1,"b":1}}',
        '[{"a":1},{"a":1,"a":1}]',
        '{"a":NaN}',
        '{"a":-Infinity}',
        '{"a":"\\ud800"}',
        '{"a":18446744073709551616}',
        '{"a":1e400}',
        '{"a":-0}',
        '{"a":"\\u00e9\\n","b":[1.5,true,null]}',
        '{"a":"é\\u001f"}',
        '{"a":1}',
        "[1,2",
        "",
    ],
)
def test_json_reads_as_the_strict_parser_does(text: str) -> None:
    # decode_json parses with orjson when writing the result back gives the same text, else
    # with the json module (refusing repeated keys and NaN); either way the outcome is the same.
    from snapask_desktop.sync import wire

    def strict(raw: str) -> object:  # decode_json before orjson
        hooks = {"object_pairs_hook": wire._unique_keys, "parse_constant": wire._no_constant}
        try:
            return json.loads(raw, **hooks)
        except ProtocolError as error:
            return error.message
        except ValueError as error:
            return f"not valid JSON ({error})"

    def fast(raw: str) -> object:
        try:
            return wire.decode_json(raw)
        except ProtocolError as error:
            return error.message

    assert fast(text) == strict(text)
