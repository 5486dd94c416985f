"""One WebSocket to the sync server: requests paired with replies by id, live frames queued.

The server answers the frames of a connection in order, so a request's reply is matched by
its ``id``; live ``changes`` frames (no ``id``) go to a queue the session drains. A reply that
takes longer than ACK_TIMEOUT_MS means the connection is dead (section 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import logging
from dataclasses import replace
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import ACK_TIMEOUT_MS, MAX_FRAME_BYTES
from snapask_desktop.sync.protocol import (
    Changes,
    ClientFrame,
    Error,
    Keys,
    ServerFrame,
    encode_frame,
    parse_server_frame,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 2.0
CLOSE_PROTOCOL_ERROR = 1002
RATE_LIMIT_RETRIES = 20  # then the refusal is an error like any other (reconnect with backoff)


class Refused(Exception):
    """The server refused the WebSocket upgrade (``status`` 401 unauthorized, 429 busy...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Closed(Exception):
    """The connection ended; ``code`` is the WebSocket close code (None: it just dropped)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class ServerError(Exception):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, frame: Error) -> None:
        super().__init__(f"{frame.code}: {frame.message}")
        self.frame = frame


class Connection:
    """An open sync WebSocket; use ``Connection.open`` and ``close``."""

    def __init__(
        self, ws: ClientConnection, ack_timeout_s: float, activity: asyncio.Event | None = None
    ) -> None:
        self._ws = ws
        self._ack_timeout_s = ack_timeout_s
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[ServerFrame]] = {}
        self.live: asyncio.Queue[Changes] = asyncio.Queue()
        # Set by a live frame or the end of the connection; the owner may give an event of its
        # own, which it then awaits alone (the sync engine's wake-up: one event to wait on).
        self.activity = asyncio.Event() if activity is None else activity
        self.closed: Closed | None = None
        self.last_error: Error | None = None  # an unsolicited error, sent just before a close
        self.keys_news: Keys | None = None  # a live ``keys`` frame: the key record changed
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    @classmethod
    async def open(
        cls,
        url: str,
        token: str,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_MS / 1000,
        activity: asyncio.Event | None = None,
    ) -> Connection:
        """Connect with the device token in the handshake; Refused if the server says no.
        ``activity``: the event to set on a live frame or the end (a new one by default)."""
        try:
            ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                max_size=MAX_FRAME_BYTES,
                open_timeout=CONNECT_TIMEOUT_S,
                proxy=None,  # a sync server is reached directly, like a LAN host
                user_agent_header="snapask-desktop",
                compression=compression_for(url),
                # A server that does not answer our close frame is not waited for long: quitting
                # the app or stopping sync must not hang on a dead network.
                close_timeout=CLOSE_TIMEOUT_S,
            )
        except InvalidStatus as error:
            raise Refused(error.response.status_code, _refusal_text(error)) from None
        except InvalidHandshake as error:  # cut mid-handshake, or not a WebSocket server
            raise ConnectionError(f"no WebSocket handshake with {url}: {error}") from None
        return cls(ws, ack_timeout_s, activity)

    async def request(self, frame: ClientFrame) -> ServerFrame:
        """Send a frame with a fresh id and wait for its reply (an ``error`` raises ServerError).

        A ``rate_limited`` refusal means the frame was not processed: it is sent again after
        the wait the server asks for, on the same connection.
        """
        for _attempt in range(RATE_LIMIT_RETRIES):
            reply = await self._request_once(frame)
            if not (isinstance(reply, Error) and reply.code == ErrorCode.RATE_LIMITED):
                break
            await asyncio.sleep((reply.retry_after_ms or 1000) / 1000)
        if isinstance(reply, Error):
            raise ServerError(reply)
        return reply

    async def _request_once(self, frame: ClientFrame) -> ServerFrame:
        request_id = next(self._ids)
        waiter: asyncio.Future[ServerFrame] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        try:
            await self.send(replace(frame, id=request_id))  # type: ignore[type-var]
            return await asyncio.wait_for(waiter, self._ack_timeout_s)
        except TimeoutError:
            await self.close(1011, "no reply")
            raise Closed(None, "the server did not answer in time") from None
        finally:
            self._waiting.pop(request_id, None)

    async def send(self, frame: ClientFrame) -> None:
        """Send a frame that has no reply (``applied``)."""
        if self.closed is not None:
            raise self.closed
        try:
            await self._ws.send(encode_frame(frame))
        except ConnectionClosed as error:
            raise self._ended(error) from None

    def take_live(self) -> list[Changes]:
        """The live ``changes`` frames received so far; Closed once the connection ended."""
        frames: list[Changes] = []
        while not self.live.empty():
            frames.append(self.live.get_nowait())
        self.activity.clear()
        if not frames and self.closed is not None:
            raise self.closed
        return frames

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket and stop reading."""
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)
        self._reader.cancel()
        # asyncio.wait, not `await self._reader` under suppress(CancelledError): that would also
        # swallow a cancel aimed at the caller (stopping sync), which then carried on reconnecting.
        await asyncio.wait({self._reader})

    async def _read_forever(self) -> None:
        try:
            async for message in self._ws:
                self._dispatch(parse_server_frame(message))
        except ProtocolError as error:
            log.warning("sync server sent a frame we cannot read: %s", error)
            self._fail(Closed(CLOSE_PROTOCOL_ERROR, "unreadable frame from the server"))
            await self._ws.close(CLOSE_PROTOCOL_ERROR, "unreadable frame")
            return
        except ConnectionClosed as error:
            self._fail(self._ended(error))
            return
        self._fail(self._ended(None))

    def _dispatch(self, frame: ServerFrame) -> None:
        request_id = getattr(frame, "id", None)
        if request_id is None and isinstance(frame, Changes):
            self.live.put_nowait(frame)
            self.activity.set()
            return
        if request_id is None and isinstance(frame, Keys):
            self.keys_news = frame
            self.activity.set()
            return
        if request_id is None and isinstance(frame, Error):
            # An unsolicited error comes right before a close; the close code says the rest.
            log.info("sync server: %s: %s", frame.code, frame.message)
            self.last_error = frame
            return
        waiter = self._waiting.get(request_id) if isinstance(request_id, int) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)
        else:
            log.debug("sync: a reply nobody waits for (%s)", type(frame).__name__)

    def _ended(self, error: ConnectionClosed | None) -> Closed:
        if self.closed is None:
            received = error.rcvd if error is not None else self._ws.protocol.close_rcvd
            code = received.code if received is not None else None
            reason = received.reason if received is not None else ""
            self.closed = Closed(code, reason)
        return self.closed

    def _fail(self, closed: Closed) -> None:
        if self.closed is None:
            self.closed = closed
        self.activity.set()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(self.closed)


def compression_for(url: str) -> str | None:
    """permessage-deflate for servers across the internet, none on this machine or the LAN.

    Compressing every frame costs about 3 ms on a change's way from one device to another
    (three hops, each compressing or inflating); on a LAN that is most of the latency and the
    bandwidth saved does not matter. Over the internet the 4-5x smaller initial sync does.
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".lan", ".home.arpa")):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "deflate"  # a name: assume it may be far away
    return None if address.is_private or address.is_loopback or address.is_link_local else "deflate"


def _refusal_text(error: InvalidStatus) -> str:
    body = error.response.body or b""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return message if isinstance(message, str) else f"HTTP {error.response.status_code}"


__all__ = ["Closed", "Connection", "Refused", "ServerError"]
