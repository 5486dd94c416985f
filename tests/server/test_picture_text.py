"""picture_text records (sync-protocol.md 3.5 and 5.1): the record, the rule that picks one
text, and the real server sending them only to devices that said they read them."""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

import pytest

from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.merge import edit_conversation, keeps_text
from snapask_desktop.sync.protocol import (
    FEATURE_PICTURE_TEXT,
    Hello,
    parse_client_frame,
    parse_server_frame,
)
from snapask_desktop.sync.records import (
    PictureTextRecord,
    parse_payload,
    picture_text_prefix,
)
from snapask_desktop.sync.wire import encode_json
from tests.server.conftest import DeviceFactory
from tests.server.helpers import Conn, conversation, message, new_id, now_hlc, screenshot
from tests.server.test_tombstones import _wait_applied

SHA = hashlib.sha256(b"a picture").hexdigest()


def text_record(text: str = "Invoice 2041 overdue", sha: str = SHA) -> PictureTextRecord:
    return PictureTextRecord(sha256=sha, text=text, engine="tesseract 5.5.4")


def test_the_record_round_trips_and_its_stored_json_starts_as_the_server_looks_for() -> None:
    record = text_record('quotes " and \\ stay text: "type":"picture_text"')
    wire = record.to_wire()
    assert parse_payload(wire, from_device=True) == record
    assert encode_json(wire).startswith(picture_text_prefix(SHA))
    assert parse_payload(text_record("").to_wire()) == text_record("")  # nothing read
    for bad in ({**wire, "extra": 1}, {**wire, "sha256": "xyz"}, {**wire, "engine": ""}):
        with pytest.raises(ProtocolError) as caught:
            parse_payload(bad, from_device=True)
        assert caught.value.code is ErrorCode.BAD_PAYLOAD


def test_every_order_of_readings_keeps_the_same_text() -> None:
    readings = ["Invoice 2041", "Invoice 2041 overdue", "lnvoice 2041 overdue", ""]
    kept_by_order = set()
    for order in itertools.permutations(readings):
        kept: str | None = None
        for text in order:
            if keeps_text(kept, text):
                kept = text
        kept_by_order.add(kept)
    assert kept_by_order == {"lnvoice 2041 overdue"}  # the longest, then the greatest


def test_features_are_announced_and_unknown_ones_kept() -> None:
    hello = Hello(device_id=new_id(), cursor=0, features=(FEATURE_PICTURE_TEXT, "later_thing"))
    parsed = parse_client_frame(encode_json(hello.to_wire()))
    assert isinstance(parsed, Hello) and parsed.features == hello.features
    plain = parse_client_frame(encode_json(Hello(device_id=new_id(), cursor=0).to_wire()))
    assert isinstance(plain, Hello) and plain.features == ()
    with pytest.raises(ProtocolError):
        parse_client_frame(encode_json({**hello.to_wire(), "features": ["Not A Name"]}))


def hello_with_text(conn: Conn, device_id: str) -> dict[str, Any]:
    return conn.request({"type": "hello", "protocol": 1, "device_id": device_id, "cursor": 0,
                         "features": [FEATURE_PICTURE_TEXT]})  # fmt: skip


def kinds(changes: list[dict[str, Any]]) -> list[str]:
    return [change["payload"]["type"] for change in changes]


def test_only_devices_that_read_picture_text_are_sent_it(device: DeviceFactory) -> None:
    laptop, _, new = device(hello=False)
    welcome = hello_with_text(new, laptop)
    assert FEATURE_PICTURE_TEXT in welcome["features"]
    _, _, old = device()  # an older SnapAsk: its hello names no features
    conv = conversation(laptop)
    new.push_payloads(screenshot(SHA), conv, message(laptop, conv.id, screenshot=SHA))
    pushed = new.push_payloads(text_record())
    assert pushed[0]["status"] == "applied"
    head = pushed[0]["seq"]

    # Live: the older device's frame has no picture_text change, but its cursor passes it.
    live = old.next_live()
    while live["cursor"] < head:  # the first push's frame(s)
        live = old.next_live()
    assert live["changes"] == [] and live["cursor"] == head
    # Pulled: the same.
    seen, cursor = old.pull_all(0)
    assert kinds(seen) == ["screenshot", "conversation", "message"] and cursor == head
    page = old.pull(head - 1)
    assert page["changes"] == [] and page["cursor"] == head and page["has_more"] is False
    # A device that reads them gets the record as pushed.
    phone, _, reader = device(hello=False)
    hello_with_text(reader, phone)
    found, _ = reader.pull_all(0)
    assert kinds(found)[-1] == "picture_text"
    assert found[-1]["payload"] == text_record().to_wire()


def test_the_server_s_frames_stay_valid_when_filtered(device: DeviceFactory) -> None:
    laptop, _, new = device(hello=False)
    hello_with_text(new, laptop)
    _, _, old = device()
    new.push_payloads(text_record(), text_record("other", "cd" * 32), screenshot(SHA))
    live = old.next_live()  # one frame, two changes of it left out
    parse_server_frame(encode_json(live))
    assert kinds(live["changes"]) == ["screenshot"] and live["since"] == 0


def test_collecting_a_conversation_drops_the_text_of_its_pictures(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, a = device(hello=False)
    hello_with_text(a, laptop)
    other_sha = "cd" * 32
    conv = conversation(laptop)
    pictures = (screenshot(SHA), screenshot(other_sha))
    texts = (text_record(), text_record("kept", other_sha))
    a.push_payloads(*pictures, conv, message(laptop, conv.id, screenshot=SHA), *texts)
    deleted = edit_conversation(conv, {"deleted": True}, device_id=laptop, hlc=now_hlc(),
                                now_ms=0)  # fmt: skip
    head = a.push_payloads(deleted)[0]["seq"]
    a.send({"type": "applied", "cursor": head})
    _wait_applied(srv, laptop, head)
    old_enough = time.time_ns() // 1_000_000 + TOMBSTONE_MIN_AGE_MS + 1000
    assert srv.call(lambda: srv.server.collect(old_enough)) == 1
    remaining, _ = a.pull_all(0)
    left = [c["payload"]["text"] for c in remaining if c["payload"]["type"] == "picture_text"]
    assert left == ["kept"]  # a picture outside the collected conversation keeps its text
