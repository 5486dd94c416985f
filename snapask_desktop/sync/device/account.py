"""Signing this device in to a sync server and keeping its token in the keyring (HTTP I/O).

The token is the only secret: it goes to the OS keyring under an account named after the
server, never into the settings file, a log or the database.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from snapask_desktop import credentials
from snapask_desktop.sync.errors import ProtocolError
from snapask_desktop.sync.limits import MAX_DEVICE_NAME_CHARS
from snapask_desktop.sync.signin import DeviceGrant, DeviceRequest, parse_device_grant

if TYPE_CHECKING:
    import httpx

SIGNIN_TIMEOUT_S = 20.0


class SignInError(Exception):
    """Signing in failed; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Account:
    """Where this device syncs and as whom (the token stays in the keyring)."""

    server_url: str
    user: str
    device_id: str


def token_account(server_url: str) -> str:
    """The keyring account of the device token for one server."""
    return f"sync-token:{normal_server_url(server_url)}"


def normal_server_url(url: str) -> str:
    """``http(s)://host:port`` with no path or trailing slash; ValueError if it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not a server address like http://192.168.1.5:8765")
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def websocket_url(server_url: str) -> str:
    """The sync endpoint: ``ws(s)://host:port/v1/sync``."""
    parts = urlsplit(normal_server_url(server_url))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/v1/sync", "", ""))


def default_device_name() -> str:
    """The host name, cut to the protocol's limit."""
    return (socket.gethostname() or "SnapAsk device")[:MAX_DEVICE_NAME_CHARS]


def get_token(server_url: str) -> str | None:
    """This device's token for the server, from the keyring (None: not signed in)."""
    return credentials.get_secret(token_account(server_url))


def sign_in(
    server_url: str,
    user: str,
    password: str,
    *,
    device_id: str,
    device_name: str,
) -> Account:
    """Ask the server for a device token and keep it in the keyring; SignInError says why not."""
    import httpx  # only here: a running sync client never needs it (~5 MB)

    url = normal_server_url(server_url) + "/v1/devices"
    body = DeviceRequest(user.strip(), password, device_id, device_name.strip()[:100])
    try:
        with httpx.Client(timeout=SIGNIN_TIMEOUT_S) as client:
            reply = client.post(url, json=body.to_wire())
    except httpx.HTTPError as error:
        raise SignInError(f"Could not reach the sync server at {server_url}: {error}") from None
    if reply.status_code != 201:
        raise SignInError(_refusal(reply))
    grant = _grant(reply.content)
    credentials.set_secret(token_account(server_url), grant.token)
    return Account(normal_server_url(server_url), grant.user, grant.device_id)


def sign_out(server_url: str) -> bool:
    """Forget the token (the server keeps the device until it is revoked there)."""
    return credentials.delete_secret(token_account(server_url))


def _grant(content: bytes) -> DeviceGrant:
    try:
        return parse_device_grant(content)
    except ProtocolError as error:
        raise SignInError(f"The sync server sent a reply SnapAsk cannot read: {error}") from None


_REFUSALS = {
    401: "Wrong user name or password.",
    409: "This device is already signed in to another account on that server.",
    429: "Too many sign-in attempts; try again {when}.",
    503: "The sync server is busy; try again {when}.",
}


def _refusal(reply: httpx.Response) -> str:
    known = _REFUSALS.get(reply.status_code)
    if known:
        return known.format(when=_retry_when(reply.headers.get("Retry-After")))
    try:
        detail = json.loads(reply.content).get("message", "")
    except (ValueError, AttributeError):
        detail = ""
    where = f" ({detail})" if isinstance(detail, str) and detail else ""
    return f"The sync server refused the sign-in: HTTP {reply.status_code}{where}."


def _retry_when(retry_after: str | None) -> str:
    """'in 12 s' from a Retry-After header in seconds, else 'in a minute'."""
    if retry_after is not None and retry_after.strip().isdigit():
        seconds = int(retry_after.strip())
        if seconds <= 120:
            return f"in {max(1, seconds)} s"
        return f"in {(seconds + 59) // 60} min"
    return "in a minute"
