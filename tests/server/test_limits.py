"""Malformed and oversized frames and floods: a clear error for the sender, no harm to others."""

from __future__ import annotations

import dataclasses
import threading
import time

from snapask_desktop.server.testing import RunningServer, http_request
from snapask_desktop.sync.limits import MAX_FRAME_BYTES
from tests.server.conftest import DeviceFactory
from tests.server.helpers import conversation


def test_malformed_frames_get_an_error_and_the_connection_stays(device: DeviceFactory) -> None:
    laptop, _, conn = device()
    cases = {
        "not json": "bad_json",
        '{"type": "pull", "since": 0, "since": 1}': "bad_json",
        '{"type": "pull", "since": NaN}': "bad_json",
        "[1, 2]": "bad_frame",
        '{"id": "x"}': "bad_frame",
        '{"type": "launch", "id": "u"}': "unknown_type",
        '{"type": "pull", "id": "b"}': "bad_field",
        '{"type": "pull", "id": "b", "since": true}': "bad_field",
    }
    for text, code in cases.items():
        conn.send(text)
        reply = conn.recv()
        assert reply["type"] == "error" and reply["code"] == code, (text, reply)
        assert reply["message"]
    conn.send(b"\x00binary")
    assert conn.recv()["code"] == "bad_json"
    # Request ids are echoed when they could be read.
    conn.send('{"type": "launch", "id": "u7"}')
    assert conn.recv()["id"] == "u7"
    assert conn.push_payloads(conversation(laptop))[0]["status"] == "applied"


def test_a_frame_over_the_limit_closes_1009_and_others_go_on(device: DeviceFactory) -> None:
    _, _, big = device()
    other_id, _, other = device()
    big.send('{"type": "pull", "since": 0, "pad": "' + "x" * MAX_FRAME_BYTES + '"}')
    code, frames = big.closed()
    assert code == 1009 and frames == []
    assert other.push_payloads(conversation(other_id))[0]["status"] == "applied"


def test_a_flood_is_rate_limited_while_another_device_keeps_syncing(
    srv: RunningServer, device: DeviceFactory
) -> None:
    slow_limits(srv)
    _, _, flooder = device()
    calm_id, _, calm = device()
    stop = threading.Event()
    calm_results: list[str] = []

    def calm_device() -> None:
        while not stop.is_set():
            calm_results.append(calm.push_payloads(conversation(calm_id))[0]["status"])
            time.sleep(0.25)  # under 5 frames a second

    worker = threading.Thread(target=calm_device)
    worker.start()
    try:
        for i in range(400):
            flooder.send({"type": "pull", "id": i, "since": 0, "limit": 1})
        replies = [flooder.reply_to(i) for i in range(400)]
    finally:
        stop.set()
        worker.join(60)
    limited = [r for r in replies if r["type"] == "error"]
    assert limited, "400 frames at once must exceed the burst of 20"
    assert {r["code"] for r in limited} == {"rate_limited"}
    assert all(r["retry_after_ms"] >= 1 for r in limited)
    assert sum(r["type"] == "changes" for r in replies) >= 15  # the burst, less hello's frame
    # The calm device was never limited and all its pushes were applied.
    assert calm_results and set(calm_results) == {"applied"}
    # After waiting as told, the flooder is served again.
    time.sleep(max(r["retry_after_ms"] for r in limited[-1:]) / 1000)
    assert flooder.pull(0)["type"] == "changes"
    assert http_request("GET", srv.url + "/healthz")[0] == 200


def slow_limits(srv: RunningServer) -> None:
    """A slower frame rate than production's for the connections opened after this: the server
    takes frames one at a time, and on a busy machine (or PostgreSQL) a pull can take longer
    than production's refill interval (20 ms), so a flood of pulls never exceeded its burst.
    At 5/s with a burst of 20, 150 pulls would have to take 26 s."""
    srv.server.config = dataclasses.replace(srv.server.config, frames_per_second=5, frame_burst=20)


def test_a_deeply_nested_frame_gets_an_error_in_every_state(
    srv: RunningServer, device: DeviceFactory
) -> None:
    slow_limits(srv)
    nested = '{"type": "pull", "id": "deep", "since": 0, "x": ' + "[" * 1500 + "]" * 1500 + "}"
    # Before hello.
    _, _, fresh = device(hello=False)
    fresh.send(nested)
    assert fresh.recv()["code"] == "bad_json"
    # While rate-limited (the limiter only peeks at the frame for its id).
    _, _, conn = device()
    for i in range(150):
        conn.send({"type": "pull", "id": i, "since": 0, "limit": 1})
    conn.send(nested)
    replies = [conn.recv() for _ in range(151)]
    limited = [r for r in replies if r.get("code") == "rate_limited"]
    assert limited and "id" not in limited[-1]  # the nested frame's reply, without an id
    time.sleep(limited[-1]["retry_after_ms"] / 1000)
    assert conn.pull(0)["type"] == "changes"  # the connection survived
