"""HTTP sign-in bodies and the Bearer header (docs/sync-protocol.md section 4), pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from snapask_desktop.sync.errors import ErrorCode
from snapask_desktop.sync.limits import (
    MAX_DEVICE_NAME_CHARS,
    MAX_HTTP_BODY_BYTES,
    MAX_PASSWORD_CHARS,
    MAX_TOKEN_CHARS,
    MAX_USER_CHARS,
)
from snapask_desktop.sync.wire import Fields, decode_json

_FIELD = ErrorCode.BAD_FIELD
_TOKEN = re.compile(rf"[A-Za-z0-9._~+/=-]{{1,{MAX_TOKEN_CHARS}}}")


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """Body of ``POST /v1/devices``: sign a device in by the user's name and password."""

    user: str
    password: str
    device_id: str
    device_name: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "password": self.password,
            "device_id": self.device_id,
            "device_name": self.device_name,
        }

    def __repr__(self) -> str:  # the password must never reach a log
        return f"DeviceRequest(user={self.user!r}, device_id={self.device_id!r}, password=***)"


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """Answer ``201`` of ``POST /v1/devices``: the device token (keep it in the keyring)."""

    device_id: str
    user: str
    token: str

    def to_wire(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "user": self.user, "token": self.token}

    def __repr__(self) -> str:  # the token must never reach a log
        return f"DeviceGrant(device_id={self.device_id!r}, user={self.user!r}, token=***)"


def parse_device_request(body: bytes) -> DeviceRequest:
    """Validate a sign-in body (server side); ProtocolError means HTTP 400 (413 if too large)."""
    f = Fields(decode_json(body, MAX_HTTP_BODY_BYTES), _FIELD)
    return DeviceRequest(
        user=f.req_text("user", MAX_USER_CHARS, min_chars=1),
        password=f.req_text("password", MAX_PASSWORD_CHARS, min_chars=1),
        device_id=f.req_device_id("device_id"),
        device_name=f.req_text("device_name", MAX_DEVICE_NAME_CHARS, min_chars=1),
    )


def parse_device_grant(body: bytes) -> DeviceGrant:
    """Validate the sign-in answer (device side)."""
    f = Fields(decode_json(body, MAX_HTTP_BODY_BYTES), _FIELD)
    token = f.req_text("token", MAX_TOKEN_CHARS, min_chars=1)
    if not _TOKEN.fullmatch(token):
        f.fail("token", "has characters a token never has")
    return DeviceGrant(
        device_id=f.req_device_id("device_id"),
        user=f.req_text("user", MAX_USER_CHARS, min_chars=1),
        token=token,
    )


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None if absent/malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.fullmatch(token):
        return None
    return token
