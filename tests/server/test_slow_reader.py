"""A device that asks and never reads: the server's memory stays bounded and it is dropped.

The attacker speaks WebSocket over a raw socket with a tiny receive buffer and never reads
(websockets' sans-I/O client builds its frames), like the security probe of issue 17.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from snapask_desktop.server.testing import ServerProcess, http_request
from snapask_desktop.sync.limits import BLOB_CHUNK_BYTES, MAX_TEXT_CHARS
from tests.server.helpers import Conn, connect_device, conversation, message, new_id
from tests.server.test_cli import PASSWORD, cli

STALL_S = 2.0
# What the attack may add to the server's RSS: one connection's send budget plus one reply
# being encoded and written, with room for the allocator. Before the fix: +700 MiB.
RSS_BOUND_BYTES = 64 * 1024 * 1024
REQUESTS = 150
REQUESTS_PER_S = 30  # under the frame rate limit


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    data = tmp_path / "server"
    assert cli(data, "user", "add", "ada", stdin=PASSWORD + "\n").returncode == 0
    proc = ServerProcess(
        data, "--housekeeping-interval", "0.2", "--send-stall-seconds", str(STALL_S)
    )
    yield proc
    proc.kill()


def _sign_in(server: ServerProcess, device_id: str) -> str:
    status, body = http_request("POST", server.url + "/v1/devices", {
        "user": "ada", "password": PASSWORD, "device_id": device_id, "device_name": "probe",
    })  # fmt: skip
    assert status == 201, body
    return str(body["token"])


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _open_connections(server: ServerProcess) -> float:
    status, body = http_request("GET", server.url + "/metrics")
    assert status == 200
    for line in str(body).splitlines():
        if line.startswith("snapask_connections "):
            return float(line.split()[1])
    raise AssertionError("no snapask_connections metric")


class NonReader:
    """A WebSocket client that completes hello and then never reads again."""

    def __init__(self, server: ServerProcess, token: str, device_id: str) -> None:
        self.protocol = ClientProtocol(parse_uri(server.ws_url), max_size=None)
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {token}"
        self.protocol.send_request(request)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", server.port))
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(self.sock.recv(4096))
        self.send({"type": "hello", "protocol": 1, "device_id": device_id, "cursor": 0})
        while not any(
            getattr(e, "data", b"").find(b'"welcome"') >= 0 for e in self.protocol.events_received()
        ):
            self.protocol.receive_data(self.sock.recv(4096))

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def send(self, frame: dict[str, object]) -> bool:
        """Send one frame; False once the server stopped taking them (or dropped us)."""
        self.protocol.send_text(json.dumps(frame).encode())
        try:
            self._flush()
        except OSError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()


def _upload(conn: Conn, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    ack = conn.request({"type": "blob_put", "sha256": sha, "size": len(data), "offset": 0,
                        "data": base64.b64encode(data).decode()})  # fmt: skip
    assert ack["type"] == "blob_ack" and ack["complete"] is True, ack
    return sha


def test_asking_for_blobs_and_never_reading_is_bounded_and_dropped(
    server: ServerProcess,
) -> None:
    uploader = new_id()
    conn = connect_device(server, _sign_in(server, uploader), uploader)
    sha = _upload(conn, os.urandom(BLOB_CHUNK_BYTES))
    attacker = new_id()
    reader = NonReader(server, _sign_in(server, attacker), attacker)
    time.sleep(0.5)
    baseline = _rss(server.proc.pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(server.proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        sent = 0
        for i in range(REQUESTS):
            if not reader.send({"type": "blob_get", "id": i, "sha256": sha, "offset": 0}):
                break
            sent += 1
            time.sleep(1 / REQUESTS_PER_S)
        while _open_connections(server) > 1 and time.monotonic() - started < 60:
            time.sleep(0.1)
        closed_after = time.monotonic() - started
    finally:
        done.set()
        sampler.join()
        reader.close()
    assert sent > 0
    assert _open_connections(server) == 1, "the non-reading connection is still open"
    # Dropped within the time the requests took, the stall time and a few housekeeping rounds
    # (the server stops reading the requests once a reply waits, so most never arrive).
    assert closed_after <= REQUESTS / REQUESTS_PER_S + STALL_S + 3, closed_after
    assert peak - baseline <= RSS_BOUND_BYTES, f"RSS grew by {(peak - baseline) >> 20} MiB"
    # The honest device is still served.
    assert conn.request({"type": "blob_get", "sha256": sha, "offset": 0})["type"] == "blob"
    conn.close()


def test_a_device_not_reading_live_changes_is_dropped_and_others_go_on(
    server: ServerProcess,
) -> None:
    writer_id = new_id()
    writer = connect_device(server, _sign_in(server, writer_id), writer_id)
    watcher_id = new_id()
    watcher = connect_device(server, _sign_in(server, watcher_id), watcher_id)
    chat = conversation(writer_id)
    assert writer.push_payloads(chat)[0]["status"] == "applied"
    watcher.next_live()

    def push_big() -> None:  # about 4 MB of live frames
        texts = [message(writer_id, chat.id, "x" * MAX_TEXT_CHARS) for _ in range(20)]
        assert {r["status"] for r in writer.push_payloads(*texts)} == {"applied"}
        assert len(watcher.next_live()["changes"]) == 20  # a reading device gets them all

    push_big()  # the same work once without the sleeper, so the baseline includes it
    sleeper_id = new_id()
    sleeper = NonReader(server, _sign_in(server, sleeper_id), sleeper_id)
    baseline = _rss(server.proc.pid)
    started = time.monotonic()
    try:
        for _ in range(4):
            push_big()
        while _open_connections(server) > 2 and time.monotonic() - started < 60:
            time.sleep(0.1)
        dropped_after = time.monotonic() - started
        peak = _rss(server.proc.pid)
    finally:
        sleeper.close()
    assert _open_connections(server) == 2, "the device that reads nothing is still connected"
    assert dropped_after <= STALL_S + 5, dropped_after
    assert peak - baseline <= RSS_BOUND_BYTES, f"RSS grew by {(peak - baseline) >> 20} MiB"
    writer.close()
    watcher.close()


def test_a_slow_but_reading_device_is_served(server: ServerProcess) -> None:
    device_id = new_id()
    conn = connect_device(server, _sign_in(server, device_id), device_id)
    sha = _upload(conn, os.urandom(BLOB_CHUNK_BYTES))
    for i in range(6):  # about 34 MB of replies, asked for at once
        conn.send({"type": "blob_get", "id": f"g{i}", "sha256": sha, "offset": 0})
    for i in range(6):
        time.sleep(STALL_S / 2)  # slower than the server writes, never stalled for STALL_S
        reply = conn.reply_to(f"g{i}")
        assert reply["type"] == "blob", reply
    assert _open_connections(server) == 1
    conn.close()
