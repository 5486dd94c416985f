"""Plain HTTP on the sync port: sign-in, device list and revoke, health and metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from snapask_desktop.server.config import SignInLimits
from snapask_desktop.server.http_routes import metrics_refusal
from snapask_desktop.server.testing import RunningServer, http_request, running_server
from tests.server.conftest import PASSWORD, DeviceFactory
from tests.server.helpers import connect_device, conversation, new_id


def _sign_in(srv: RunningServer, **fields: object) -> tuple[int, object]:
    body = {"user": "ada", "password": PASSWORD, "device_id": new_id(), "device_name": "laptop"}
    body.update(fields)
    return http_request("POST", srv.url + "/v1/devices", body)


def test_sign_in_issues_a_token_stored_only_as_a_hash(srv: RunningServer) -> None:
    device_id = new_id()
    status, body = _sign_in(srv, device_id=device_id)
    assert status == 201
    assert body["device_id"] == device_id and body["user"] == "ada"
    token = body["token"]
    assert len(token) >= 43
    if srv.server.db.is_sqlite:  # the file's raw bytes, WAL included
        raw = (srv.data_dir / "server.db").read_bytes()
        for wal in srv.data_dir.glob("server.db-wal"):
            raw += wal.read_bytes()
    else:  # every value of every table
        with srv.server.db.read() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables "
                                       "WHERE schemaname = 'public'")).scalars().all()  # fmt: skip
            raw = "".join(
                str(row) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"'))
            ).encode()
        assert b"scrypt$" in raw  # the password's hash is there, so the rows were read
    assert token.encode() not in raw and PASSWORD.encode() not in raw


def test_wrong_password_and_unknown_user_get_the_same_answer(srv: RunningServer) -> None:
    wrong = _sign_in(srv, password="nope")
    unknown = _sign_in(srv, user="bob")
    assert wrong == unknown
    assert wrong[0] == 401 and wrong[1]["error"] == "unauthorized"


def test_device_ids_are_per_user(srv: RunningServer) -> None:
    """Another account's device id is new to this user: no 409 telling it exists."""
    srv.add_user("bob", "pw-bob")
    device_id = new_id()
    ada_token = srv.sign_in("ada", PASSWORD, device_id)
    status, body = _sign_in(srv, user="bob", password="pw-bob", device_id=device_id)
    assert status == 201, body
    bob_token = body["token"]
    ada, bob = connect_device(srv, ada_token, device_id), connect_device(srv, bob_token, device_id)
    assert ada.push_payloads(conversation(device_id, "ada's"))[0]["status"] == "applied"
    assert bob.pull(0)["changes"] == []  # nothing of ada's
    # "replaced" is per user: ada's new connection closes ada's old one, not bob's.
    ada_again = connect_device(srv, ada_token, device_id)
    assert ada.closed()[0] == 4004
    assert bob.push_payloads(conversation(device_id, "bob's"))[0]["status"] == "applied"
    # Revoking is per user too.
    status, _ = http_request("DELETE", f"{srv.url}/v1/devices/{device_id}", token=bob_token)
    assert status == 204
    assert bob.closed()[0] == 4001
    assert ada_again.pull(0)["type"] == "changes"
    devices = http_request("GET", srv.url + "/v1/devices", token=ada_token)[1]["devices"]
    assert [(d["device_id"], d["revoked"]) for d in devices] == [(device_id, False)]
    ada_again.close()


def test_signing_in_again_replaces_the_token(srv: RunningServer) -> None:
    device_id = new_id()
    first = _sign_in(srv, device_id=device_id)[1]["token"]
    second = _sign_in(srv, device_id=device_id)[1]["token"]
    assert first != second
    assert http_request("GET", srv.url + "/v1/devices", token=first)[0] == 401
    assert http_request("GET", srv.url + "/v1/devices", token=second)[0] == 200


def test_malformed_bodies_are_400_and_name_the_field(srv: RunningServer) -> None:
    url = srv.url + "/v1/devices"
    cases = [
        b"not json",
        b"[]",
        b'{"user": "ada"}',
        b'{"user": "ada", "password": "x", "device_id": "bad id!", "device_name": "n"}',
        b'{"user": "", "password": "x", "device_id": "d1", "device_name": "n"}',
    ]
    for raw in cases:
        status, body = http_request("POST", url, raw=raw)
        assert status == 400, raw
        assert body["error"] == "bad_request" and body["message"]
    status, body = http_request("POST", url, raw=b"")
    assert status == 400


def test_oversized_body_is_413(srv: RunningServer) -> None:
    status, body = _sign_in(srv, device_name="x" * 20_000)
    assert status == 413 and body["error"] == "too_large"
    # The server is fine afterwards.
    assert _sign_in(srv)[0] == 201


def test_sign_in_attempts_are_rate_limited(tmp_path: Path) -> None:
    limits = SignInLimits(per_name_burst=3, per_name_per_s=0.01)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("ada", PASSWORD)
        answers = [_sign_in(srv, password="wrong")[0] for _ in range(3)]
        assert answers == [401, 401, 401]
        status, body = _sign_in(srv)  # even the right password waits now
        assert status == 429 and body["error"] == "rate_limited"
        # Another name is not affected by ada's bucket.
        srv.add_user("bob", "pw")
        assert _sign_in(srv, user="bob", password="pw")[0] == 201


def test_retry_after_header_on_429(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_address_burst=1, per_address_per_s=0.01)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("ada", PASSWORD)
        _sign_in(srv)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as sock:
            body = b'{"user":"ada","password":"x","device_id":"d1","device_name":"n"}'
            sock.sendall(
                b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith("HTTP/1.1 429")
        retry = [line for line in head.split("\r\n") if line.lower().startswith("retry-after:")]
        assert retry and int(retry[0].split(":")[1]) >= 1


def test_device_list_and_revoke(srv: RunningServer, device: DeviceFactory) -> None:
    laptop, laptop_token, _ = device()
    phone, phone_token, _ = device()
    status, body = http_request("GET", srv.url + "/v1/devices", token=laptop_token)
    assert status == 200
    listed = {d["device_id"]: d for d in body["devices"]}
    assert set(listed) == {laptop, phone}
    assert set(listed[laptop]) == {"device_id", "device_name", "created_at", "last_seen_at",
                                   "revoked"}  # fmt: skip
    status, _ = http_request("DELETE", f"{srv.url}/v1/devices/{phone}", token=laptop_token)
    assert status == 204
    assert http_request("GET", srv.url + "/v1/devices", token=phone_token)[0] == 401
    body = http_request("GET", srv.url + "/v1/devices", token=laptop_token)[1]
    assert {d["device_id"]: d["revoked"] for d in body["devices"]} == {laptop: False, phone: True}


def test_revoke_is_limited_to_the_users_own_devices(srv: RunningServer) -> None:
    srv.add_user("bob", "pw-bob")
    bob_device = new_id()
    bob_token = srv.sign_in("bob", "pw-bob", bob_device)
    ada_token = srv.sign_in("ada", PASSWORD, new_id())
    status, body = http_request("DELETE", f"{srv.url}/v1/devices/{bob_device}", token=ada_token)
    assert status == 404 and body["error"] == "not_found"
    assert http_request("GET", srv.url + "/v1/devices", token=bob_token)[0] == 200
    assert http_request("DELETE", f"{srv.url}/v1/devices/{bob_device}")[0] == 401


def test_healthz_and_unknown_routes(srv: RunningServer) -> None:
    assert http_request("GET", srv.url + "/healthz") == (
        200,
        {"status": "ok", "database": "ok", "redis": "off"},
    )
    status, body = http_request("GET", srv.url + "/nope")
    assert status == 404 and body["error"] == "not_found"
    # A wrong method is told the ones the path takes (the same list as the Allow header).
    for method, path, allowed in (
        ("PUT", "/v1/devices", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("POST", "/metrics", "GET"),
        ("GET", "/v1/devices/some-id", "DELETE"),
        ("POST", "/v1/sync", "GET"),
    ):
        status, body = http_request(method, srv.url + path, raw=b"{}")
        assert (status, body) == (405, {"error": "method_not_allowed", "message": f"use {allowed}"})


def test_metrics_expose_connections_ops_fanout_and_errors(
    srv: RunningServer, device: DeviceFactory
) -> None:
    from tests.server.helpers import conversation

    laptop, _, conn = device()
    conn.push_payloads(conversation(laptop))
    conn.next_live()
    conn.send("not json")
    assert conn.recv()["code"] == "bad_json"
    status, text = http_request("GET", srv.url + "/metrics")
    assert status == 200 and isinstance(text, str)
    lines = text.splitlines()
    assert "snapask_connections 1.0" in lines
    assert 'snapask_ops_total{status="applied"} 1.0' in lines
    assert any(line.startswith("snapask_ops_applied_per_second ") for line in lines)
    assert 'snapask_errors_total{code="bad_json"} 1.0' in lines
    assert 'snapask_frames_received_total{type="push"} 1.0' in lines
    count = [line for line in lines if line.startswith("snapask_fanout_latency_seconds_count")]
    # The live frame reached the connection; the writer records after the send completes.
    assert count and float(count[0].split()[-1]) >= 0


def test_healthz_is_503_while_the_server_drains(tmp_path: Path) -> None:
    import asyncio
    import time

    with running_server(tmp_path / "s", drain_s=30) as srv:
        server = srv.server

        async def begin() -> None:
            asyncio.get_running_loop().create_task(server.shutdown())

        srv.call(begin)
        deadline = time.monotonic() + 20
        while http_request("GET", srv.url + "/healthz")[0] != 503:
            assert time.monotonic() < deadline, "healthz never said 503"
            time.sleep(0.05)
        assert http_request("GET", srv.url + "/healthz")[1] == {"status": "stopping"}
        srv.call(lambda: server.shutdown(drain_s=0))  # joins the shutdown under way


def test_a_chunked_body_gets_a_clear_411(srv: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411")
    assert b"Content-Length" in body
    assert _sign_in(srv)[0] == 201  # the server is fine afterwards


def _raw_exchange(srv: RunningServer, data: bytes) -> bytes:
    """Send raw bytes (while the server answers), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as sock:
        sent = threading.Thread(target=sock.sendall, args=(data,))
        sent.start()
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        sent.join(20)
    return reply


def test_a_body_over_a_mebibyte_gets_413(
    srv: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    size = 3 * 1024 * 1024
    head = f"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    reply = _raw_exchange(srv, head + b"x" * size)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"too_large"' in reply
    assert "Traceback" not in caplog.text and "AssertionError" not in caplog.text
    assert _sign_in(srv)[0] == 201


def test_a_request_pipelined_after_a_sign_in_is_refused_cleanly(
    srv: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"user": "ada", "password": PASSWORD, "device_id": new_id(),
                       "device_name": "laptop"}).encode()  # fmt: skip
    first = (b"POST /v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
    second = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _raw_exchange(srv, first + second)
    # The sign-in is answered and says the connection closes; the second request is left
    # unanswered, as HTTP allows after "Connection: close" (the client sends it again).
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
    assert b"Connection: close" in reply.split(b"\r\n\r\n", 1)[0]
    assert reply.count(b"HTTP/1.1") == 1
    assert "Traceback" not in caplog.text and "AssertionError" not in caplog.text
    assert http_request("GET", srv.url + "/healthz")[0] == 200


def test_metrics_are_for_loopback_or_the_token_holder(tmp_path: Path) -> None:
    assert metrics_refusal("127.0.0.1", None, None) is None
    assert metrics_refusal("::1", None, None) is None
    assert metrics_refusal("::ffff:127.0.0.1", None, None) is None
    assert metrics_refusal("192.0.2.7", None, None) == (
        403,
        "metrics are served to loopback only unless SNAPASK_METRICS_TOKEN is set",
    )
    assert metrics_refusal("192.0.2.7", "Bearer m3tr1cs", "m3tr1cs") is None
    with running_server(tmp_path / "s", metrics_token="m3tr1cs") as srv:
        status, body = http_request("GET", srv.url + "/metrics")
        assert status == 401 and "SNAPASK_METRICS_TOKEN" in body["message"]
        assert http_request("GET", srv.url + "/metrics", token="wrong")[0] == 401
        status, text = http_request("GET", srv.url + "/metrics", token="m3tr1cs")
        assert status == 200 and "snapask_connections" in text


def test_healthz_answers_while_every_reader_is_busy(srv: RunningServer) -> None:
    # A burst of reads (thousands of devices reconnecting) must not make a healthy instance
    # fail its health check and leave the balancer: the ping has a thread of its own.
    release, holding = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        holding.release()
        release.wait(10)

    async def busy() -> None:
        await asyncio.gather(*(srv.server.run_read(hold) for _ in range(8)))

    blocked = threading.Thread(target=srv.call, args=(busy,))
    blocked.start()
    try:
        for _ in range(4):  # every reader thread is taken (four; four more reads queue)
            assert holding.acquire(timeout=30)
        status, body = http_request("GET", srv.url + "/healthz")
        assert (status, body["database"]) == (200, "ok"), body
    finally:
        release.set()
        blocked.join(30)
