"""A raw-frame sync client over a real websockets connection, for the server tests."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from snapask_desktop.server.testing import RunningServer, ServerProcess
from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.merge import new_conversation
from snapask_desktop.sync.protocol import parse_server_frame
from snapask_desktop.sync.records import ConversationState, MessageRecord, ScreenshotRecord

WAIT_S = 20.0
_ids = itertools.count(1)


def now_hlc(offset_ms: int = 0) -> int:
    """An HLC stamp at the current wall clock (+ offset)."""
    return ((time.time_ns() // 1_000_000 + offset_ms) << COUNTER_BITS) | next(_ids) % 1000


def new_id() -> str:
    return str(uuid.uuid4())


def conversation(device: str, title: str = "A title", conv_id: str | None = None,
                 offset_ms: int = 0) -> ConversationState:  # fmt: skip
    """A new conversation stamped now."""
    stamp = now_hlc(offset_ms)
    return new_conversation(
        conv_id or new_id(), title, device_id=device, hlc=stamp,
        now_ms=stamp >> COUNTER_BITS,
    )  # fmt: skip


def message(device: str, conversation_id: str, text: str = "hello", *,
            message_id: str | None = None, offset_ms: int = 0,
            screenshot: str | None = None) -> MessageRecord:  # fmt: skip
    """A final user message stamped now."""
    stamp = now_hlc(offset_ms)
    return MessageRecord(
        id=message_id or new_id(), conversation_id=conversation_id, role="user", text=text,
        model=None, status="final", screenshot_sha256=screenshot, hlc=stamp, device=device,
        created_at=stamp >> COUNTER_BITS,
    )  # fmt: skip


def screenshot(sha: str, size: int = 28, width: int = 1) -> ScreenshotRecord:
    return ScreenshotRecord(sha256=sha, size_bytes=size, width=width, height=1, mime="image/png")


def op(payload: Any, op_id: str | None = None) -> dict[str, Any]:
    """An op of a push frame."""
    wire = payload if isinstance(payload, dict) else payload.to_wire()
    return {"op_id": op_id or new_id(), "payload": wire}


class Conn:
    """One device connection speaking raw JSON frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.live: list[dict[str, Any]] = []  # live changes frames seen while awaiting replies
        self.other: list[dict[str, Any]] = []  # other frames without the awaited id

    def send(self, frame: dict[str, Any] | str | bytes) -> None:
        self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def recv(self, timeout: float = WAIT_S) -> dict[str, Any]:
        text = self.ws.recv(timeout=timeout)
        assert isinstance(text, str), "the server only sends text frames"
        parse_server_frame(text)  # every frame the server sends must be valid
        frame: dict[str, Any] = json.loads(text)
        return frame

    def reply_to(self, request_id: Any, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next frame with this id (live frames are kept in ``self.live``)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.1, deadline - time.monotonic()))
            if frame.get("id") == request_id:
                return frame
            (self.live if frame["type"] == "changes" else self.other).append(frame)

    def request(self, frame: dict[str, Any], timeout: float = WAIT_S) -> dict[str, Any]:
        frame.setdefault("id", f"r{next(_ids)}")
        self.send(frame)
        return self.reply_to(frame["id"], timeout)

    def hello(self, device_id: str, cursor: int = 0,
              features: Sequence[str] | None = None) -> dict[str, Any]:  # fmt: skip
        frame: dict[str, Any] = {"type": "hello", "protocol": 1, "device_id": device_id,
                                 "cursor": cursor}  # fmt: skip
        if features is not None:
            frame["features"] = list(features)
        return self.request(frame)

    def push(self, *ops: dict[str, Any]) -> dict[str, Any]:
        return self.request({"type": "push", "ops": list(ops)})

    def push_payloads(self, *payloads: Any) -> list[dict[str, Any]]:
        """Push payloads as fresh ops; returns the ack's results."""
        ack = self.push(*(op(p) for p in payloads))
        assert ack["type"] == "ack", ack
        results: list[dict[str, Any]] = ack["results"]
        return results

    def pull(self, since: int, limit: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "pull", "since": since}
        if limit is not None:
            frame["limit"] = limit
        return self.request(frame)

    def pull_all(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Every change after ``since``, page by page; returns (changes, final cursor)."""
        found: list[dict[str, Any]] = []
        cursor = since
        while True:
            page = self.pull(cursor, 1000)
            assert page["type"] == "changes", page
            found.extend(page["changes"])
            cursor = page["cursor"]
            if not page["has_more"]:
                return found, cursor

    def next_live(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next live ``changes`` frame (no id)."""
        if self.live:
            return self.live.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.1, deadline - time.monotonic()))
            if frame["type"] == "changes" and "id" not in frame:
                return frame
            self.other.append(frame)

    def closed(self, timeout: float = WAIT_S) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server closes; returns (close code, frames read meanwhile)."""
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                frames.append(self.recv(max(0.1, deadline - time.monotonic())))
        except ConnectionClosed:
            pass
        except TimeoutError:
            raise AssertionError(f"the server did not close; frames: {frames}") from None
        assert self.ws.close_code is not None or self.ws.protocol.close_rcvd is not None
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code if rcvd is not None else None), frames

    def close(self) -> None:
        self.ws.close()


def open_ws(server: RunningServer | ServerProcess, token: str | None,
            headers: dict[str, str] | None = None) -> ClientConnection:  # fmt: skip
    """A raw websockets connection (raises InvalidStatus if refused before the upgrade)."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return connect(server.ws_url, additional_headers=all_headers, open_timeout=WAIT_S,
                   max_size=None, close_timeout=WAIT_S, legacy=True)  # fmt: skip


def connect_device(server: RunningServer | ServerProcess, token: str, device_id: str | None = None,
                   cursor: int = 0, features: Sequence[str] | None = None) -> Conn:  # fmt: skip
    """Connect and (if device_id is given) complete hello."""
    conn = Conn(open_ws(server, token))
    if device_id is not None:
        welcome = conn.hello(device_id, cursor, features)
        assert welcome["type"] == "welcome", welcome
    return conn


def refused_status(server: RunningServer | ServerProcess, token: str | None) -> tuple[int, Any]:
    """Open a sync connection that must be refused; returns (HTTP status, JSON body)."""
    try:
        ws = open_ws(server, token)
    except InvalidStatus as exc:
        body = exc.response.body
        return exc.response.status_code, json.loads(body) if body else None
    ws.close()
    raise AssertionError("the upgrade was accepted")
