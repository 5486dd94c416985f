"""Authentication before the upgrade, and the hello phase (sections 4 and 5.1)."""

from __future__ import annotations

import time
from pathlib import Path

from websockets.exceptions import InvalidStatus

from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.conftest import PASSWORD, DeviceFactory
from tests.server.helpers import Conn, connect_device, new_id, open_ws, refused_status


def test_missing_wrong_and_malformed_tokens_are_refused_before_the_upgrade(
    srv: RunningServer,
) -> None:
    for token in (None, "A" * 43, "not a token!"):
        status, body = refused_status(srv, token)
        assert status == 401 and body["error"] == "unauthorized"


def test_revoked_token_is_refused(srv: RunningServer) -> None:
    device_id = new_id()
    token = srv.sign_in("ada", PASSWORD, device_id)
    assert srv.revoke(device_id)
    assert refused_status(srv, token)[0] == 401


def test_too_many_connections_of_one_user_get_429(tmp_path: Path) -> None:
    with running_server(tmp_path / "s", max_connections_per_user=3) as srv:
        srv.add_user("ada", PASSWORD)
        conns = []
        for _ in range(3):
            device_id = new_id()
            conns.append(connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id))
        status, body = refused_status(srv, srv.sign_in("ada", PASSWORD, new_id()))
        assert status == 429 and body["error"] == "rate_limited"
        conns.pop().close()
        # Once one closes there is room again (the server forgets it as it closes).
        token = srv.sign_in("ada", PASSWORD, new_id())
        deadline = time.monotonic() + 20
        while True:
            try:
                conns.append(connect_device(srv, token))
                break
            except InvalidStatus:
                assert time.monotonic() < deadline, "no room after a connection closed"
                time.sleep(0.05)
        for conn in conns:
            conn.close()


def test_hello_welcome_carries_head_time_and_limits(device: DeviceFactory) -> None:
    device_id, _, conn = device(hello=False)
    welcome = conn.hello(device_id)
    assert welcome["type"] == "welcome"
    assert welcome["device_id"] == device_id and welcome["protocol"] == 1
    assert welcome["head"] == 0 and welcome["server_time_ms"] > 0
    assert set(welcome["limits"]) == {
        "max_frame_bytes", "max_ops_per_push", "max_page_changes", "max_blob_bytes",
        "blob_chunk_bytes", "frames_per_second", "frame_burst", "max_drift_ms",
    }  # fmt: skip


def test_frames_before_hello_and_a_second_hello_are_bad_sequence(device: DeviceFactory) -> None:
    device_id, _, conn = device(hello=False)
    reply = conn.request({"type": "pull", "since": 0})
    assert reply["type"] == "error" and reply["code"] == "bad_sequence"
    assert conn.hello(device_id)["type"] == "welcome"
    again = conn.hello(device_id)
    assert again["type"] == "error" and again["code"] == "bad_sequence"
    # Still open and working.
    assert conn.pull(0)["type"] == "changes"


def test_unsupported_protocol_closes_4000(device: DeviceFactory) -> None:
    device_id, _, conn = device(hello=False)
    conn.send({"type": "hello", "id": "h", "protocol": 2, "device_id": device_id, "cursor": 0})
    code, frames = conn.closed()
    assert frames[0]["code"] == "unsupported_protocol" and frames[0]["id"] == "h"
    assert code == 4000


def test_hello_for_another_device_closes_4003(device: DeviceFactory) -> None:
    _, _, conn = device(hello=False)
    conn.send({"type": "hello", "id": "h", "protocol": 1, "device_id": new_id(), "cursor": 0})
    code, frames = conn.closed()
    assert [f["code"] for f in frames] == ["device_mismatch"]
    assert code == 4003


def test_no_hello_in_time_closes_4002(tmp_path: Path) -> None:
    with running_server(tmp_path / "s", hello_timeout_ms=300) as srv:
        srv.add_user("ada", PASSWORD)
        device_id = new_id()
        conn = Conn(open_ws(srv, srv.sign_in("ada", PASSWORD, device_id)))
        conn.send({"type": "pull", "id": "q", "since": 0})  # not a hello: the clock keeps going
        code, frames = conn.closed()
        assert [f["code"] for f in frames] == ["bad_sequence", "hello_timeout"]
        assert code == 4002


def test_a_new_connection_of_the_device_replaces_the_old_4004(
    srv: RunningServer, device: DeviceFactory
) -> None:
    device_id, token, old = device()
    new = connect_device(srv, token, device_id)
    code, frames = old.closed()
    assert [f["code"] for f in frames] == ["replaced"]
    assert code == 4004
    assert new.pull(0)["type"] == "changes"
    new.close()
