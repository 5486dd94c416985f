"""Plain HTTP on the sync port: sign-in, devices, health, metrics (docs/server.md).

websockets hands every request to ``HttpRoutes.process_request`` before its handshake. A
``Response`` answers the request and the connection closes; ``None`` lets a ``/v1/sync``
upgrade go on with the caller's identity set on the connection. The routes keep only HTTP's
own state (sign-in limits); the server they serve (``RouteHost``, in practice ``SyncServer``)
owns the database, the worker threads and the open connections.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from snapask_desktop.server import accounts
from snapask_desktop.server.accounts import Identity, SignInRefused
from snapask_desktop.server.config import ServerConfig
from snapask_desktop.server.database import Database
from snapask_desktop.server.forwarded import client_address, trusted_networks
from snapask_desktop.server.httpbody import BodyRequest, SyncConnection, status_phrase
from snapask_desktop.server.metrics import CONTENT_TYPE, Metrics
from snapask_desktop.server.signin_limits import Refusal, SignInLimiter
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.ratelimit import BucketRule
from snapask_desktop.sync.signin import bearer_token, parse_device_request
from snapask_desktop.sync.wire import encode_json

if TYPE_CHECKING:
    from snapask_desktop.server.shared_limits import SharedLimits

log = logging.getLogger("snapask.server")
T = TypeVar("T")
DEVICE_PREFIX = "/v1/devices/"
Handler = Callable[[SyncConnection, Request, str], Awaitable[Response | None]]


class RouteHost(Protocol):
    """What the routes need of the server they answer for."""

    config: ServerConfig
    db: Database
    metrics: Metrics
    stopping: bool

    async def run_read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def identify(self, token: str) -> Identity | None: ...

    async def dependencies(self) -> dict[str, str]: ...

    async def run_sign_in(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def revoke(self, device_id: str, *, user_id: int | None = None) -> bool: ...

    async def claim_connection(self, ws: SyncConnection, identity: Identity) -> bool: ...

    def shared_limits(self) -> SharedLimits | None: ...

    def close_device(
        self, device_id: str, message: str, *, user_id: int | None = None, user: str | None = None
    ) -> None: ...


class HttpRoutes:
    """The server's HTTP endpoints; ``process_request`` is websockets' hook."""

    def __init__(self, server: RouteHost) -> None:
        self.server = server
        self._trusted_proxies = trusted_networks(server.config.trusted_proxies)
        limits = server.config.sign_in
        self._sign_in_limiter = SignInLimiter(
            per_address=(limits.per_address_per_s, limits.per_address_burst),
            per_name_address=(limits.per_name_address_per_s, limits.per_name_address_burst),
            per_name=(limits.per_name_per_s, limits.per_name_burst),
            capacity=limits.max_tracked,
        )
        self._pending_sign_ins = 0
        # path -> method -> handler; the methods' order is the order `Allow` names them in.
        self._routes: dict[str, dict[str, Handler]] = {
            "/healthz": {"GET": self._healthz},
            "/metrics": {"GET": self._metrics},
            "/v1/devices": {"GET": self._list_devices, "POST": self._sign_in},
            DEVICE_PREFIX + "{id}": {"DELETE": self._revoke_device},
            "/v1/sync": {"GET": self._upgrade},
        }

    async def process_request(self, ws: SyncConnection, request: Request) -> Response | None:
        """Answer one request (None: go on with the WebSocket upgrade), counted by route."""
        path = request.path.split("?", 1)[0]
        route = path if not path.startswith(DEVICE_PREFIX) else DEVICE_PREFIX + "{id}"
        peer = ws.remote_address[0] if ws.remote_address else "?"
        ws.client_address = client_address(
            peer, request.headers.get("X-Forwarded-For"), self._trusted_proxies
        )
        try:
            response = await self._dispatch(ws, request, path, route)
        except Exception:
            log.exception("HTTP %s %s failed", request.method, path)
            response = json_response(500, error_body("internal", "the server failed"))
        status = 101 if response is None else response.status_code
        self.server.metrics.http_requests.labels(route, str(status)).inc()
        return response

    async def _dispatch(
        self, ws: SyncConnection, request: Request, path: str, route: str
    ) -> Response | None:
        methods = self._routes.get(route)
        if methods is None:
            return json_response(404, error_body("not_found", f"no such path: {path[:100]}"))
        handler = methods.get(request.method)
        if handler is None:
            return not_allowed(", ".join(methods))
        return await handler(ws, request, path)

    # ------------------------------------------------------------------ health and metrics

    async def _healthz(self, _ws: SyncConnection, _request: Request, _path: str) -> Response:
        # 503 while stopping, so a load balancer stops sending before the port closes.
        if self.server.stopping:
            return json_response(503, {"status": "stopping"})
        checks = await self.server.dependencies()
        if checks.get("database") != "ok":
            return json_response(503, {"status": "unavailable", **checks})
        # Redis down is not a 503: every instance would then leave the balancer at once,
        # though each still serves pushes and pulls (live frames arrive through the log).
        status = "ok" if all(v in ("ok", "off") for v in checks.values()) else "degraded"
        return json_response(200, {"status": status, **checks})

    async def _metrics(self, ws: SyncConnection, request: Request, _path: str) -> Response:
        refusal = metrics_refusal(
            _peer(ws, ""), request.headers.get("Authorization"), self.server.config.metrics_token
        )
        if refusal is not None:
            return json_response(refusal[0], error_body("forbidden", refusal[1]))
        return plain_response(200, self.server.metrics.render(), CONTENT_TYPE)

    # ------------------------------------------------------------------ devices

    async def _list_devices(self, _ws: SyncConnection, request: Request, _path: str) -> Response:
        identity = await self._authenticate(request)
        if identity is None:
            return unauthorized()
        server = self.server
        devices = await server.run_read(accounts.list_devices, server.db, identity.user_id)
        return json_response(200, {"devices": [d.to_wire() for d in devices]})

    async def _revoke_device(self, _ws: SyncConnection, request: Request, path: str) -> Response:
        identity = await self._authenticate(request)
        if identity is None:
            return unauthorized()
        device_id = path.removeprefix(DEVICE_PREFIX)
        if not await self.server.revoke(device_id, user_id=identity.user_id):
            message = "no such device among this user's devices"
            return json_response(404, error_body("not_found", message))
        return plain_response(204, b"", None)

    async def _sign_in(self, ws: SyncConnection, request: Request, _path: str) -> Response:
        assert isinstance(request, BodyRequest)  # SyncConnection's parser makes every request
        if request.chunked:
            # Nothing of the body was read, and websockets closes the connection after a
            # non-101 answer, so the unread chunks cannot be mistaken for a next request.
            message = "send the body with a Content-Length (chunked bodies are not accepted)"
            return json_response(411, error_body("bad_request", message))
        if request.body_too_large:
            return json_response(413, error_body("too_large", "the body is over 16 KiB"))
        try:
            body = parse_device_request(request.body)
        except ProtocolError as exc:
            status = 413 if exc.code is ErrorCode.TOO_LARGE else 400
            code = "too_large" if status == 413 else "bad_request"
            return json_response(status, error_body(code, exc.message))
        address = _peer(ws, "?")
        refused = await self._sign_in_refused(body.user, address)
        if refused is not None:
            return refused
        self._pending_sign_ins += 1
        try:
            grant = await self.server.run_sign_in(accounts.sign_in, self.server.db, body)
        except SignInRefused as exc:
            log.info("sign-in refused for user %r: %s", body.user, exc.code)
            return json_response(exc.status, error_body(exc.code, exc.message))
        finally:
            self._pending_sign_ins -= 1
        self._sign_in_limiter.succeeded(body.user, address)
        shared = self.server.shared_limits()
        if shared is not None:
            await shared.signed_in(body.user, address)
        log.info("signed in: user %s device %s", grant.user, grant.device_id)
        # A new token replaces the old one: a connection still using it is closed.
        self.server.close_device(grant.device_id, "this device signed in again", user=grant.user)
        return json_response(201, grant.to_wire())

    async def _sign_in_refused(self, user: str, address: str) -> Response | None:
        """The answer to a sign-in over the attempt limits or the password-check queue."""
        refusal = await self._admit_sign_in(user, address)
        if refusal is not None:
            seconds = max(1, math.ceil(refusal.wait_ms / 1000))
            what = (
                "too many recent sign-in attempts on this server"
                if refusal.busy
                else "too many sign-in attempts"
            )
            return json_response(
                429,
                error_body("rate_limited", f"{what}; retry in {seconds} s"),
                {"Retry-After": str(seconds)},
            )
        if self._pending_sign_ins >= self.server.config.sign_in.max_pending:
            # Password checks are slow on purpose: a queue of them only delays everyone.
            return json_response(
                503,
                error_body("busy", "the server is checking too many sign-ins; retry in 1 s"),
                {"Retry-After": "1"},
            )
        return None

    async def _admit_sign_in(self, user: str, address: str) -> Refusal | None:
        # Counted across instances while Redis answers, else by this instance alone.
        shared = self.server.shared_limits()
        if shared is not None:
            limits = self.server.config.sign_in
            rules = (
                BucketRule(limits.per_address_per_s, limits.per_address_burst),
                BucketRule(limits.per_name_address_per_s, limits.per_name_address_burst),
                BucketRule(limits.per_name_per_s, limits.per_name_burst),
            )
            wait_ms = await shared.admit_sign_in(user, address, rules)
            if wait_ms is not None:
                return Refusal(wait_ms, busy=False) if wait_ms else None
        return self._sign_in_limiter.admit(user, address, accounts.now_ms())

    # ------------------------------------------------------------------ the WebSocket upgrade

    async def _upgrade(self, ws: SyncConnection, request: Request, _path: str) -> Response | None:
        if self.server.stopping:
            message = "the server is stopping; retry later"
            return json_response(503, error_body("shutting_down", message))
        identity = await self._authenticate(request)
        if identity is None:
            return unauthorized()
        limit = self.server.config.max_connections_per_user
        if not await self.server.claim_connection(ws, identity):
            return json_response(
                429,
                error_body("rate_limited", f"more than {limit} connections for this user"),
                {"Retry-After": "60"},
            )
        ws.identity = identity
        return None  # go on with the WebSocket upgrade

    async def _authenticate(self, request: Request) -> Identity | None:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return None
        return await self.server.identify(token)


def metrics_refusal(
    peer: str, authorization: str | None, token: str | None
) -> tuple[int, str] | None:
    """Why ``GET /metrics`` is refused to this peer (status, message), or None if it may read."""
    if token is not None:
        given = (authorization or "").strip().encode()
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            return None
        return 401, "metrics need the token the server was started with (SNAPASK_METRICS_TOKEN)"
    try:
        loopback = ipaddress.ip_address(peer.removeprefix("::ffff:")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return 403, "metrics are served to loopback only unless SNAPASK_METRICS_TOKEN is set"


# ---------------------------------------------------------------------- responses


def error_body(code: str, message: str) -> dict[str, str]:
    """The JSON body of every refusal: a wire error code and a sentence for people."""
    return {"error": code, "message": message}


def plain_response(
    status: int, body: bytes, content_type: str | None, extra: dict[str, str] | None = None
) -> Response:
    """An answer that closes the connection and is never cached."""
    headers = Headers()
    headers["Connection"] = "close"
    headers["Content-Length"] = str(len(body))
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers["Cache-Control"] = "no-store"
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status, status_phrase(status), headers, body)


def json_response(
    status: int, body: dict[str, Any], extra: dict[str, str] | None = None
) -> Response:
    """A JSON answer that closes the connection."""
    return plain_response(status, encode_json(body).encode("utf-8"), "application/json", extra)


def unauthorized() -> Response:
    """401 for a missing, unknown or revoked device token."""
    return json_response(
        401,
        error_body("unauthorized", "missing, unknown or revoked device token; sign in again"),
        {"WWW-Authenticate": "Bearer"},
    )


def not_allowed(allow: str) -> Response:
    """405 naming the methods the path takes."""
    return json_response(405, error_body("method_not_allowed", f"use {allow}"), {"Allow": allow})


def _peer(ws: SyncConnection, unknown: str) -> str:
    """The client's address: the socket's peer, or whom a trusted proxy forwarded for."""
    return unknown if ws.client_address == "?" else ws.client_address
