"""Error codes, WebSocket close codes and ProtocolError (docs/sync-protocol.md section 6)."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """One code space for `error` frames and rejected ops in an `ack`."""

    # frame errors
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    TOO_LARGE = "too_large"
    BAD_SEQUENCE = "bad_sequence"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    UNAUTHORIZED = "unauthorized"
    HELLO_TIMEOUT = "hello_timeout"
    DEVICE_MISMATCH = "device_mismatch"
    REPLACED = "replaced"
    RATE_LIMITED = "rate_limited"
    BLOB_MISMATCH = "blob_mismatch"
    QUOTA_EXCEEDED = "quota_exceeded"
    INTERNAL = "internal"
    SHUTTING_DOWN = "shutting_down"
    ENCRYPTION_REQUIRED = "encryption_required"  # hello without e2ee to an encrypted account
    KEYS_CONFLICT = "keys_conflict"  # keys_put against a key record replaced meanwhile
    # op rejections
    BAD_PAYLOAD = "bad_payload"
    CLOCK_SKEW = "clock_skew"
    MESSAGE_MISMATCH = "message_mismatch"
    SCREENSHOT_MISMATCH = "screenshot_mismatch"
    GONE = "gone"
    ENCRYPTED_ACCOUNT = "encrypted_account"  # a clear payload for an encrypted account
    NOT_ENCRYPTED = "not_encrypted"  # a sealed payload for an account that is not encrypted


class CloseCode(enum.IntEnum):
    """WebSocket close codes the protocol uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    UNSUPPORTED_PROTOCOL = 4000
    UNAUTHORIZED = 4001
    HELLO_TIMEOUT = 4002
    DEVICE_MISMATCH = 4003
    REPLACED = 4004
    ENCRYPTION_REQUIRED = 4005


OP_REJECTIONS: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.BAD_PAYLOAD,
        ErrorCode.CLOCK_SKEW,
        ErrorCode.MESSAGE_MISMATCH,
        ErrorCode.SCREENSHOT_MISMATCH,
        ErrorCode.GONE,
        ErrorCode.ENCRYPTED_ACCOUNT,
        ErrorCode.NOT_ENCRYPTED,
    }
)
"""Codes that appear in rejected `ack` results (all others only in `error` frames)."""

KEEP_OP_ON_REJECT: frozenset[ErrorCode] = frozenset({ErrorCode.CLOCK_SKEW})
"""Rejections after which the device keeps the op in its outbox and retries later."""

CLOSES_WITH: dict[ErrorCode, CloseCode] = {
    ErrorCode.UNSUPPORTED_PROTOCOL: CloseCode.UNSUPPORTED_PROTOCOL,
    ErrorCode.UNAUTHORIZED: CloseCode.UNAUTHORIZED,
    ErrorCode.HELLO_TIMEOUT: CloseCode.HELLO_TIMEOUT,
    ErrorCode.DEVICE_MISMATCH: CloseCode.DEVICE_MISMATCH,
    ErrorCode.REPLACED: CloseCode.REPLACED,
    ErrorCode.SHUTTING_DOWN: CloseCode.GOING_AWAY,
    ErrorCode.ENCRYPTION_REQUIRED: CloseCode.ENCRYPTION_REQUIRED,
}
"""Error frames after which the server closes the connection, and with which code."""


class ProtocolError(ValueError):
    """Malformed or unacceptable input; ``code`` is the wire code to answer with."""

    def __init__(self, code: ErrorCode, message: str, request_id: str | int | None = None) -> None:
        self.code = ErrorCode(code)
        self.message = message
        # The offending frame's "id" when it could be read, so the reply can echo it.
        self.request_id = request_id
        super().__init__(f"{self.code}: {message}")

    def at(self, path: str) -> ProtocolError:
        """The same error with ``path`` prefixed to the field it names (``ops[2].payload``)."""
        field, sep, _ = self.message.partition(": ")
        if not path:
            message = self.message
        elif sep and " " not in field:  # "title: too long" -> "payload.title: too long"
            message = f"{path}.{self.message}"
        else:
            message = f"{path}: {self.message}"
        return ProtocolError(self.code, message, self.request_id)

    def with_request_id(self, request_id: str | int | None) -> ProtocolError:
        """The same error, remembering the request id of the frame it came from."""
        return ProtocolError(self.code, self.message, request_id)
