"""Push, ack, duplicates and rejections; pull pages; live fanout; per-user isolation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from snapask_desktop.server import changes as server_changes
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import MAX_FRAME_BYTES, MAX_OPS_PER_PUSH, MAX_PAGE_BYTES
from snapask_desktop.sync.merge import edit_conversation
from snapask_desktop.sync.records import ConversationState
from snapask_desktop.sync.wire import encode_json
from tests.server.conftest import DeviceFactory
from tests.server.helpers import (
    WAIT_S,
    Conn,
    conversation,
    message,
    new_id,
    now_hlc,
    op,
    screenshot,
)

SHA = "ab" * 32


def test_push_is_acked_in_order_with_contiguous_seqs(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    conv = conversation(laptop)
    ops = [op(screenshot(SHA)), op(conv), op(message(laptop, conv.id, screenshot=SHA))]
    ack = conn.push(*ops)
    assert ack["type"] == "ack"
    assert [(r["op_id"], r["status"], r["seq"]) for r in ack["results"]] == [
        (o["op_id"], "applied", i) for i, o in enumerate(ops, 1)
    ]
    page = conn.pull(0)
    assert [c["seq"] for c in page["changes"]] == [1, 2, 3]
    # Payloads come back exactly as pushed, with the pushing device.
    assert [c["payload"] for c in page["changes"]] == [o["payload"] for o in ops]
    assert {c["device_id"] for c in page["changes"]} == {laptop}
    assert page["cursor"] == 3 and page["has_more"] is False


def test_a_retried_op_is_a_duplicate_with_the_same_seq(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    first = op(conversation(laptop))
    assert conn.push(first)["results"][0] == {"op_id": first["op_id"], "status": "applied",
                                              "seq": 1}  # fmt: skip
    again = conn.push(first, op(conversation(laptop)))["results"]
    assert again[0] == {"op_id": first["op_id"], "status": "duplicate", "seq": 1}
    assert again[1]["status"] == "applied" and again[1]["seq"] == 2
    # The same op twice within one push: applied once.
    twice = op(conversation(laptop))
    results = conn.push(twice, twice)["results"]
    assert [r["status"] for r in results] == ["applied", "duplicate"]
    assert results[0]["seq"] == results[1]["seq"] == 3
    assert [c["seq"] for c in conn.pull(0)["changes"]] == [1, 2, 3]


def test_an_invalid_payload_rejects_that_op_alone(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    bad = conversation(laptop).to_wire()
    bad["title"] = 42
    purge = {"type": "purge", "conversation_id": new_id(), "screenshots": []}
    good = op(conversation(laptop))
    results = conn.push(op(bad), op(purge), good)["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "applied"]
    assert results[0]["code"] == "bad_payload" and "title" in results[0]["message"]
    assert results[1]["code"] == "bad_payload"
    assert results[2]["seq"] == 1


def test_a_malformed_push_envelope_is_refused_whole(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    too_many = [op(conversation(laptop)) for _ in range(101)]
    reply = conn.push(*too_many)
    assert reply["type"] == "error" and reply["code"] == "too_large"
    reply = conn.request({"type": "push", "ops": [{"op_id": "nope", "payload": {}}]})
    assert reply["type"] == "error" and reply["code"] == "bad_field"
    assert conn.pull(0)["changes"] == []


def test_stamps_too_far_ahead_are_clock_skew(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    ahead = conversation(laptop, offset_ms=10 * 60_000)
    slightly = conversation(laptop, offset_ms=60_000)
    results = conn.push_payloads(ahead, message(laptop, ahead.id, offset_ms=10 * 60_000), slightly)
    assert [r.get("code") for r in results] == ["clock_skew", "clock_skew", None]
    assert "ahead" in results[0]["message"]


def test_message_and_screenshot_mismatch(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    msg = message(laptop, new_id(), "original")
    shot = screenshot(SHA)
    assert [r["status"] for r in conn.push_payloads(msg, shot)] == ["applied", "applied"]
    changed = dataclasses.replace(msg, text="changed")
    other_meta = dataclasses.replace(shot, width=2)
    results = conn.push_payloads(changed, other_meta, msg, shot)
    assert [r.get("code") for r in results] == ["message_mismatch", "screenshot_mismatch",
                                                None, None]  # fmt: skip
    # The same content again is applied normally (a new change).
    assert [r["seq"] for r in results[2:]] == [3, 4]


def test_the_server_keeps_a_merged_copy_of_conversations(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, conn = device()
    phone, _, _ = device()
    base = conversation(laptop, "base")
    conn.push_payloads(base)
    ours = edit_conversation(base, {"title": "laptop"}, device_id=laptop, hlc=now_hlc(),
                             now_ms=0)  # fmt: skip
    theirs = edit_conversation(base, {"pinned": True}, device_id=phone, hlc=now_hlc(), now_ms=0)
    conn.push_payloads(ours, theirs)
    with srv.server.db.read() as c:
        from snapask_desktop.server import schema

        state = c.execute(schema.conversations.select()).one()
    merged = ConversationState.from_wire(json.loads(state.state))
    assert merged.title == "laptop" and merged.pinned is True
    assert dict(merged.vv) == {laptop: 2, phone: 1}


def test_pull_pages_with_limit_and_has_more(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    for _ in range(3):
        conn.push_payloads(*(conversation(laptop) for _ in range(10)))
    first = conn.pull(0, 12)
    assert first["since"] == 0 and first["has_more"] is True
    assert [c["seq"] for c in first["changes"]] == list(range(1, 13))
    assert first["cursor"] == 12
    second = conn.pull(12, 18)
    assert second["has_more"] is False and second["cursor"] == 30
    assert [c["seq"] for c in second["changes"]] == list(range(13, 31))
    # Default page size 500 holds everything; a cursor at or past the head gets an empty page.
    assert len(conn.pull(0)["changes"]) == 30
    at_head = conn.pull(30)
    del at_head["id"]
    assert at_head == {"type": "changes", "since": 30, "cursor": 30, "has_more": False,
                       "changes": []}  # fmt: skip
    ahead = conn.pull(99)
    assert ahead["cursor"] == 99 and ahead["changes"] == []
    assert conn.request({"type": "pull", "since": -1})["code"] == "bad_field"
    assert conn.request({"type": "pull", "since": 0, "limit": 1001})["code"] == "bad_field"


def _raw_reply(conn: Conn, frame: dict[str, Any]) -> str:
    """Send a request and return its reply's exact text (its size is what is checked)."""
    conn.ws.send(encode_json(frame))
    while True:
        text = conn.ws.recv(timeout=WAIT_S)
        assert isinstance(text, str)
        if json.loads(text).get("id") == frame["id"]:
            return text  # (live frames of earlier pushes are skipped)


def test_a_page_stays_within_max_page_bytes(device: DeviceFactory) -> None:
    """Issue 14: 1,000 messages of 4,400 characters came back as one page of 4,231,052 bytes,
    still over 4 MiB without its last change."""
    laptop, _, conn = device()
    conv_id = new_id()
    for _ in range(10):
        results = conn.push_payloads(*(message(laptop, conv_id, "x" * 4_400) for _ in range(100)))
        assert {r["status"] for r in results} == {"applied"}
    text = _raw_reply(conn, {"type": "pull", "id": "q", "since": 0, "limit": 1000})
    page = json.loads(text)
    n = len(page["changes"])
    assert len(text.encode()) <= MAX_PAGE_BYTES
    assert page["has_more"] is True and page["cursor"] == page["changes"][-1]["seq"] == n
    # ...and full: the next change would not have fitted.
    after = json.loads(_raw_reply(conn, {"type": "pull", "id": "r", "since": n, "limit": 1}))
    next_change = encode_json(after["changes"][0])
    assert len(text.encode()) + 1 + len(next_change.encode()) > MAX_PAGE_BYTES
    rest, cursor = conn.pull_all(n)
    assert [c["seq"] for c in rest] == list(range(n + 1, 1001)) and cursor == 1000


def test_a_push_at_the_frame_limit_goes_out_live_in_frames_within_the_page_size(
    device: DeviceFactory,
) -> None:
    """Issue 14: a push of 8,388,308 bytes went out as one live frame of 8,394,337 bytes, and
    every other connection of the user was closed with 1009."""
    laptop, _, pusher = device()
    _, _, other = device()
    conv_id = new_id()

    def push_text(text: str) -> str:
        ops = [op(message(laptop, conv_id, text, message_id=mid)) for mid in ids]
        return encode_json({"type": "push", "id": "big", "ops": ops})

    ids = [new_id() for _ in range(MAX_OPS_PER_PUSH)]
    room = MAX_FRAME_BYTES - len(push_text("").encode())
    frame = push_text("é" * (room // MAX_OPS_PER_PUSH // 2))  # 2 bytes each in UTF-8
    assert MAX_FRAME_BYTES - 300 < len(frame.encode()) <= MAX_FRAME_BYTES
    pusher.ws.send(frame)
    ack = pusher.reply_to("big", timeout=60)
    assert [r["status"] for r in ack["results"]] == ["applied"] * MAX_OPS_PER_PUSH

    sizes, seqs, since = [], [], 0
    while since < MAX_OPS_PER_PUSH:
        text = other.ws.recv(timeout=WAIT_S)
        assert isinstance(text, str)
        live = json.loads(text)
        assert live["type"] == "changes" and "id" not in live and live["since"] == since
        sizes.append(len(text.encode()))
        seqs += [c["seq"] for c in live["changes"]]
        since = live["cursor"]
    assert seqs == list(range(1, MAX_OPS_PER_PUSH + 1)) and since == MAX_OPS_PER_PUSH
    assert len(sizes) > 1 and max(sizes) <= MAX_PAGE_BYTES < MAX_FRAME_BYTES
    assert other.pull(MAX_OPS_PER_PUSH)["cursor"] == MAX_OPS_PER_PUSH  # still connected


def test_live_changes_reach_every_connection_of_the_user(device: DeviceFactory) -> None:
    laptop, _, a = device()
    _, _, b = device()
    _, _, never_said_hello = device(hello=False)
    conv = conversation(laptop)
    ops = [op(conv), op(message(laptop, conv.id))]
    ack = a.push(*ops)
    for conn in (a, b):
        live = conn.next_live()
        assert "id" not in live
        assert (live["since"], live["cursor"], live["has_more"]) == (0, 2, False)
        assert [c["op_id"] for c in live["changes"]] == [o["op_id"] for o in ops]
    assert [r["seq"] for r in ack["results"]] == [1, 2]
    # A connection without hello gets no live frames: its next frame is the reply.
    reply = never_said_hello.request({"type": "pull", "since": 0})
    assert reply["code"] == "bad_sequence" and never_said_hello.live == []


def test_the_ack_comes_before_the_live_frame_on_the_pushing_connection(
    device: DeviceFactory,
) -> None:
    laptop, _, conn = device()
    conn.send({"type": "push", "id": "p", "ops": [op(conversation(laptop))]})
    assert conn.recv()["type"] == "ack"
    assert conn.recv()["type"] == "changes"


def test_pipelined_pushes_keep_ack_then_live_order_on_every_connection(
    device: DeviceFactory,
) -> None:
    """The other connections are handed a push's live frames before its ack is queued; the
    pushing one still gets each ack before that push's live frame, all in commit order."""
    laptop, _, conn = device()
    _, _, other = device()
    for n in range(3):
        conn.send({"type": "push", "id": f"p{n}", "ops": [op(conversation(laptop, f"t{n}"))]})
    got = [conn.recv() for _ in range(6)]
    assert [(f["type"], f.get("id"), f.get("cursor")) for f in got] == [
        ("ack", "p0", None), ("changes", None, 1),
        ("ack", "p1", None), ("changes", None, 2),
        ("ack", "p2", None), ("changes", None, 3),
    ]  # fmt: skip
    assert [other.next_live()["cursor"] for _ in range(3)] == [1, 2, 3]


def test_users_never_see_each_others_data(srv: RunningServer, device: DeviceFactory) -> None:
    srv.add_user("bob", "pw-bob")
    ada_device, _, ada = device()
    bob_device, _, bob = device("bob", "pw-bob")
    shared_id = new_id()
    ada_conv = conversation(ada_device, "ada's", conv_id=shared_id)
    bob_conv = conversation(bob_device, "bob's", conv_id=shared_id)
    ada_msg = message(ada_device, shared_id, "ada's message")
    assert ada.push_payloads(ada_conv, ada_msg)[0]["seq"] == 1
    # The same ids by another user are separate records with their own sequence numbers.
    results = bob.push_payloads(bob_conv, dataclasses.replace(ada_msg, text="bob's version"))
    assert [(r["status"], r["seq"]) for r in results] == [("applied", 1), ("applied", 2)]
    # An op id another user already used is not a duplicate for this user.
    shared_op = op(conversation(ada_device))
    assert ada.push(shared_op)["results"][0]["status"] == "applied"
    bob_result = bob.push({**shared_op, "payload": conversation(bob_device).to_wire()})
    assert bob_result["results"][0]["status"] == "applied"
    ada_titles = [c["payload"].get("title") for c in ada.pull(0)["changes"]]
    bob_titles = [c["payload"].get("title") for c in bob.pull(0)["changes"]]
    assert "bob's" not in ada_titles and "ada's" not in bob_titles
    assert all(c["device_id"] == bob_device for c in bob.pull(0)["changes"])
    # No live frame crossed over.
    assert all(c["device_id"] == ada_device for f in ada.live for c in f["changes"])


def test_pages_splice_stored_text_exactly(srv: RunningServer, device: DeviceFactory) -> None:
    laptop, _, conn = device()
    text = 'quotes " and \\ backslashes, ünïcødé, emoji 🎉, newline\n'
    conv_id = new_id()
    conn.push_payloads(message(laptop, conv_id, text))
    page = conn.pull(0)
    assert page["changes"][0]["payload"]["text"] == text
    frame, count = server_changes.read_page(srv.server.db, 1, 0, 10)
    assert count == 1 and json.loads(frame)["changes"] == page["changes"]


def test_a_restart_keeps_port_data_and_op_ids(srv: RunningServer, device: DeviceFactory) -> None:
    laptop, token, conn = device()
    first = op(conversation(laptop))
    assert conn.push(first)["results"][0]["seq"] == 1
    port = srv.port
    srv.restart()
    assert srv.port == port
    code, frames = conn.closed()
    assert code == 1001 and [f["code"] for f in frames if f["type"] == "error"] == ["shutting_down"]
    from tests.server.helpers import connect_device

    again = connect_device(srv, token, laptop, cursor=1)
    assert again.push(first)["results"][0] == {"op_id": first["op_id"], "status": "duplicate",
                                               "seq": 1}  # fmt: skip
    assert [c["op_id"] for c in again.pull(0)["changes"]] == [first["op_id"]]
    again.close()
