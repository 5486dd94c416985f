"""Payload records: exact round trips, and a rejection for every malformed case."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from snapask_desktop.sync import records
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import (
    MAX_BLOB_BYTES,
    MAX_IMAGE_SIDE,
    MAX_MODEL_CHARS,
    MAX_PURGE_SCREENSHOTS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_VV_ENTRIES,
)
from snapask_desktop.sync.records import (
    Conflict,
    ConversationState,
    FieldStamp,
    MessageRecord,
    PurgeRecord,
    ScreenshotRecord,
    parse_payload,
)
from tests.sync.factories import (
    CONV,
    LAPTOP,
    PHONE,
    SHA,
    conversation_wire,
    hlc,
    message_wire,
    purge_wire,
    screenshot_wire,
)

Mutation = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("make", "cls"),
    [
        (conversation_wire, ConversationState),
        (message_wire, MessageRecord),
        (screenshot_wire, ScreenshotRecord),
        (purge_wire, PurgeRecord),
    ],
)
def test_payloads_round_trip_exactly(make: Callable[[], dict[str, Any]], cls: Any) -> None:
    payload = make()
    record = parse_payload(payload)
    assert isinstance(record, cls)
    assert record.to_wire() == payload
    assert cls.from_wire(json.loads(json.dumps(payload))) == record


MSG_ID = "9c2d75a5-542e-4f88-86db-d3c4d60ce4f3"


def _set(key: str, value: object) -> Mutation:
    return lambda p: p.__setitem__(key, value)


def _drop(key: str) -> Mutation:
    return lambda p: p.pop(key)


def _stamp(field: str, value: object) -> Mutation:
    return lambda p: p["field_hlc"].__setitem__(field, value)


CONVERSATION_CASES: list[tuple[str, Mutation, str]] = [
    ("missing key", _drop("title"), "title: is missing"),
    ("unknown key", _set("colour", "red"), "unknown key 'colour'"),
    ("wrong type name", _set("type", "message"), "type: must be 'conversation'"),
    ("title not a string", _set("title", 5), "title: must be a string"),
    ("title too long", _set("title", "x" * (MAX_TITLE_CHARS + 1)), "title: is too long"),
    ("title with NUL", _set("title", "a\x00b"), "NUL"),
    ("title lone surrogate", _set("title", "\ud800"), "lone surrogate"),
    ("id not a uuid", _set("id", "not-a-uuid"), "id: not a canonical lowercase UUID"),
    ("id uppercase", _set("id", CONV.upper()), "id: not a canonical lowercase UUID"),
    ("id in braces", _set("id", "{" + CONV + "}"), "id: not a canonical lowercase UUID"),
    ("pinned as 0", _set("pinned", 0), "pinned: must be true or false"),
    ("created_at negative", _set("created_at", -1), "created_at: must be an integer >= 0"),
    ("created_at float", _set("created_at", 1.5), "created_at: must be an integer"),
    ("created_at bool", _set("created_at", True), "created_at: must be an integer"),
    ("updated_at too big", _set("updated_at", 2**53), "updated_at: must be an integer <="),
    ("hlc negative", _set("hlc", -5), "hlc: must be an integer >= 0"),
    ("hlc past 64 bits", _set("hlc", 2**63), "hlc: must be an integer <="),
    ("vv not an object", _set("vv", [1]), "vv: must be an object"),
    ("vv counter zero", lambda p: p["vv"].__setitem__(LAPTOP, 0), "must be an integer >= 1"),
    ("vv counter bool", lambda p: p["vv"].__setitem__(LAPTOP, True), "must be an integer"),
    ("vv bad device id", lambda p: p["vv"].__setitem__("a b", 1), "vv key: not a device id"),
    (
        "vv too many entries",
        _set("vv", {f"d{i}": 1 for i in range(MAX_VV_ENTRIES + 1)}),
        f"vv: has more than {MAX_VV_ENTRIES} entries",
    ),
    ("field_hlc missing a field", lambda p: p["field_hlc"].pop("pinned"), "pinned: is missing"),
    ("field_hlc extra field", _stamp("colour", [1, LAPTOP]), "unknown key 'colour'"),
    ("stamp not an array", _stamp("title", 5), "field_hlc.title: must be an array"),
    ("stamp too short", _stamp("title", [hlc(0)]), "field_hlc.title: must be an array"),
    ("stamp bad device", _stamp("title", [hlc(0), ""]), "field_hlc.title[1]: not a device"),
    ("stamp hlc a string", _stamp("title", ["1", LAPTOP]), "field_hlc.title[0]: must be an"),
    (
        "field stamp newer than the record",
        _stamp("title", [hlc(90_000), PHONE]),
        "field_hlc.title: is newer than the record",
    ),
    (
        "field writer not in vv",
        _stamp("pinned", [hlc(0), "c5f6daec-8369-42fe-998d-33aa630d9418"]),
        "field_hlc.pinned: its device",
    ),
    ("record writer not in vv", lambda p: p["vv"].pop(PHONE), "vv: has no entry for the writing"),
    ("device missing", _drop("device"), "device: is missing"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in CONVERSATION_CASES],
    ids=[case[0] for case in CONVERSATION_CASES],
)
def test_malformed_conversations_are_refused(mutate: Mutation, expected: str) -> None:
    payload = conversation_wire()
    mutate(payload)
    with pytest.raises(ProtocolError) as caught:
        ConversationState.from_wire(payload)
    assert caught.value.code is ErrorCode.BAD_PAYLOAD
    assert expected in caught.value.message


MESSAGE_CASES: list[tuple[str, Mutation, str]] = [
    ("role unknown", _set("role", "system"), "role: must be one of user, model"),
    ("pending is never sent", _set("status", "pending"), "status: must be one of final"),
    ("text too long", _set("text", "x" * (MAX_TEXT_CHARS + 1)), "text: is too long"),
    ("text null", _set("text", None), "text: must be a string"),
    ("model too long", _set("model", "m" * (MAX_MODEL_CHARS + 1)), "model: is too long"),
    ("model a number", _set("model", 3), "model: must be a string"),
    ("sha256 uppercase", _set("screenshot_sha256", SHA.upper()), "not a SHA-256"),
    ("sha256 short", _set("screenshot_sha256", SHA[:-1]), "not a SHA-256"),
    ("sha256 non-hex", _set("screenshot_sha256", "g" * 64), "not a SHA-256"),
    ("conversation id bad", _set("conversation_id", 7), "conversation_id: must be a UUID"),
    ("hlc missing", _drop("hlc"), "hlc: is missing"),
    ("device bad", _set("device", "x" * 65), "device: not a device id"),
    ("extra key", _set("edited", True), "unknown key 'edited'"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in MESSAGE_CASES],
    ids=[case[0] for case in MESSAGE_CASES],
)
def test_malformed_messages_are_refused(mutate: Mutation, expected: str) -> None:
    payload = message_wire()
    mutate(payload)
    with pytest.raises(ProtocolError) as caught:
        parse_payload(payload)
    assert caught.value.code is ErrorCode.BAD_PAYLOAD
    assert expected in caught.value.message


SCREENSHOT_CASES: list[tuple[str, Mutation, str]] = [
    ("empty blob", _set("size_bytes", 0), "size_bytes: must be an integer >= 1"),
    ("blob too big", _set("size_bytes", MAX_BLOB_BYTES + 1), "size_bytes: must be an integer <="),
    ("width zero", _set("width", 0), "width: must be an integer >= 1"),
    ("height too big", _set("height", MAX_IMAGE_SIDE + 1), "height: must be an integer <="),
    ("mime not an image", _set("mime", "text/html"), "mime: must look like image/png"),
    ("mime uppercase", _set("mime", "image/PNG"), "mime: must look like image/png"),
    ("sha256 not hex", _set("sha256", "z" * 64), "sha256: not a SHA-256"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in SCREENSHOT_CASES],
    ids=[case[0] for case in SCREENSHOT_CASES],
)
def test_malformed_screenshots_are_refused(mutate: Mutation, expected: str) -> None:
    payload = screenshot_wire()
    mutate(payload)
    with pytest.raises(ProtocolError) as caught:
        parse_payload(payload)
    assert caught.value.code is ErrorCode.BAD_PAYLOAD
    assert expected in caught.value.message


def test_malformed_purges_are_refused() -> None:
    payload = purge_wire() | {"screenshots": [SHA] * (MAX_PURGE_SCREENSHOTS + 1)}
    with pytest.raises(ProtocolError, match="at most 1,000") as caught:
        parse_payload(payload)
    assert caught.value.code is ErrorCode.BAD_PAYLOAD
    with pytest.raises(ProtocolError, match=r"screenshots\[1\]: not a SHA-256"):
        parse_payload(purge_wire() | {"screenshots": [SHA, "abc"]})


@pytest.mark.parametrize("payload", [None, [], "conversation", {"type": "blob"}, {"id": CONV}])
def test_a_payload_needs_a_known_type(payload: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_payload(payload)
    assert caught.value.code is ErrorCode.BAD_PAYLOAD


def test_a_device_may_not_send_a_purge() -> None:
    assert isinstance(parse_payload(purge_wire()), PurgeRecord)
    refused = "message, screenshot, picture_text, sealed, not 'purge'"
    with pytest.raises(ProtocolError, match=refused):
        parse_payload(purge_wire(), from_device=True)


def test_conflicts_round_trip_and_are_checked() -> None:
    conflict = Conflict(
        CONV,
        "title",
        "Setup dialog",
        FieldStamp(hlc(1), LAPTOP),
        "Other",
        FieldStamp(hlc(2), PHONE),
    )
    assert Conflict.from_wire(json.loads(json.dumps(conflict.to_wire()))) == conflict
    flag = Conflict(CONV, "deleted", True, FieldStamp(hlc(1), LAPTOP), False, FieldStamp(1, PHONE))
    assert Conflict.from_wire(flag.to_wire()) == flag
    with pytest.raises(ProtocolError, match="losing_value: must be true or false"):
        Conflict.from_wire(flag.to_wire() | {"losing_value": "yes"})
    with pytest.raises(ProtocolError, match="field: must be one of"):
        Conflict.from_wire(conflict.to_wire() | {"field": "colour"})


def test_field_stamps_order_by_hlc_then_device() -> None:
    assert FieldStamp(1, "z") < FieldStamp(2, "a")
    assert FieldStamp(2, "a") < FieldStamp(2, "b")
    assert FieldStamp(2, "b").to_wire() == [2, "b"]


# ---------------------------------------------------------------------- quick and checked paths
# from_wire first tries a straight-line check (records._quick_*), which must accept exactly what
# the field-by-field reader (_checked) accepts and build the same record: every key of a valid
# payload (and of its vv and field_hlc) is set in turn to each of these values, or removed.

_TRICKY: list[object] = [
    *(None, True, False, 0, 1, -1, 1.0, 1.5, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64),
    *("", "x", "é", "\ud800", "a\x00b", "x" * 65, "x" * (MAX_TITLE_CHARS + 1), "x" * 300),
    *(CONV, CONV.upper(), LAPTOP, PHONE, "a b", SHA, SHA.upper(), "image/png"),
    *("user", "model", "system", "final", "error", "cancelled", "pending"),
    *("message", "conversation", "screenshot", [], [1], [hlc(0), LAPTOP], [hlc(0), "a b"], {}),
    {LAPTOP: 1},
]
_REMOVE = object()


def _variants(base: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    paths = [(key,) for key in [*base, "extra"]]
    for inner in ("vv", "field_hlc"):
        if inner in base:
            paths += [(inner, key) for key in [*base[inner], "extra"]]
    for path in paths:
        for value in [*_TRICKY, _REMOVE]:
            payload = json.loads(json.dumps(base))
            target = payload if len(path) == 1 else payload[path[0]]
            if value is _REMOVE:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
            found.append(payload)
    return found


def _outcome(read: Callable[[Any], Any], payload: Any) -> object:
    try:
        return read(payload)
    except ProtocolError as error:
        return ("refused", error.message)


def test_quick_and_checked_messages_agree() -> None:
    for payload in _variants(message_wire()):
        quick = records._quick_message(payload)
        checked = _outcome(MessageRecord._checked, payload)
        assert quick is None or quick == checked, payload
        assert _outcome(MessageRecord.from_wire, payload) == checked


def test_quick_and_checked_conversations_agree() -> None:
    for payload in _variants(conversation_wire()):
        quick = records._quick_conversation(payload)
        checked = _outcome(ConversationState._checked, payload)
        if quick is not None:  # from_wire checks its invariants next, as _checked does last
            assert _outcome(lambda q: records.check_conversation(q) or q, quick) == checked
        assert _outcome(ConversationState.from_wire, payload) == checked


@pytest.mark.parametrize(
    ("make", "quick"),
    [(message_wire, "_quick_message"), (conversation_wire, "_quick_conversation")],
)
def test_the_quick_path_takes_valid_payloads(make: Callable[[], Any], quick: str) -> None:
    # Else every payload would quietly take the slow path (the initial sync's figure).
    payload = make()
    assert getattr(records, quick)(payload) == parse_payload(payload)
