"""Plain HTTP requests with a body on the websockets server's port.

websockets parses only body-less requests (a WebSocket handshake has none), but
``POST /v1/devices`` carries a JSON body. This connection class swaps in a request parser that
also reads a ``Content-Length`` body of at most MAX_HTTP_BODY_BYTES (bigger ones are flagged,
not kept, and answered 413 by the router); everything after the request line and headers is
websockets' own.

Only a WebSocket upgrade goes on after its request; every other request is answered and the
connection closed ("Connection: close"). So whatever follows such a request — the rest of an
oversized or chunked body, a pipelined second request — is read and thrown away until the
client closes: parsing it as WebSocket frames would fail, and closing with unread bytes would
reset the connection before the client read the answer.
"""

from __future__ import annotations

import dataclasses
import http
from collections.abc import Generator
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidMessage
from websockets.http11 import Request, parse_headers, parse_line
from websockets.protocol import CONNECTING, Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from snapask_desktop.server.accounts import Identity
from snapask_desktop.sync.limits import MAX_HTTP_BODY_BYTES


@dataclasses.dataclass
class BodyRequest(Request):
    """A request plus its body (``body_too_large`` when it was over the limit, ``chunked``
    when it came with a transfer coding, which is refused with 411 rather than read)."""

    body: bytes = b""
    body_too_large: bool = False
    chunked: bool = False


def _read_request(reader: StreamReader) -> Generator[None, None, BodyRequest]:
    line = yield from parse_line(reader.read_line)
    try:
        raw_method, raw_path, raw_protocol = line.split(b" ", 2)
    except ValueError:
        raise ValueError("invalid HTTP request line") from None
    if raw_protocol not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise ValueError("unsupported HTTP protocol")
    headers = yield from parse_headers(reader.read_line)
    chunked = "Transfer-Encoding" in headers
    lengths = set(headers.get_all("Content-Length"))
    body = b""
    too_large = False
    if not chunked and lengths - {"0"}:
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise ValueError("invalid Content-Length")
        size = int(next(iter(lengths)))
        if size > MAX_HTTP_BODY_BYTES:
            too_large = True  # its bytes are discarded with whatever follows
        else:
            body = bytes((yield from reader.read_exact(size)))
    return BodyRequest(
        raw_path.decode("ascii"),
        headers,
        raw_method.decode("ascii"),
        raw_protocol.decode("ascii"),
        body=body,
        body_too_large=too_large,
        chunked=chunked,
    )


class _BodyServerProtocol(ServerProtocol):
    def parse(self) -> Generator[None]:
        if self.state is CONNECTING:
            try:
                request = yield from _read_request(self.reader)
            except Exception as exc:
                # Same as websockets for an unreadable request: no answer, close.
                self.handshake_exc = InvalidMessage("did not receive a valid HTTP request")
                self.handshake_exc.__cause__ = exc
                self.send_eof()
                self.parser = self.discard()
                next(self.parser)
                yield
            self.events.append(request)
            if not _is_upgrade(request):
                # Answered and closed by the server (see the module docstring).
                while not (yield from self.reader.at_eof()):
                    self.reader.discard()
                while True:
                    yield
        yield from Protocol.parse(self)


def _is_upgrade(request: BodyRequest) -> bool:
    """A body-less request asking for a WebSocket: the only kind the connection outlives."""
    upgrade = request.headers.get("Upgrade", "")
    return (
        upgrade.strip().lower() == "websocket"
        and not request.body
        and not request.body_too_large
        and not request.chunked
    )


class SyncConnection(ServerConnection):
    """A server connection that reads request bodies and remembers who authenticated."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        # Nothing was received yet: restart the parser as the body-reading one.
        protocol.__class__ = _BodyServerProtocol
        protocol.parser = protocol.parse()
        next(protocol.parser)
        super().__init__(protocol, *args, **kwargs)
        self.identity: Identity | None = None
        # The client's address (behind a trusted proxy: the one it forwarded for).
        self.client_address = "?"
        # This connection's claim on the user's connection cap in Redis (several instances).
        self.claim: str | None = None


def status_phrase(status: int) -> str:
    return http.HTTPStatus(status).phrase
