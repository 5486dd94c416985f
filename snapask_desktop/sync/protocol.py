"""Wire frames of the sync protocol (docs/sync-protocol.md section 5): parse, validate, encode.

``parse_client_frame`` (server side) and ``parse_server_frame`` (device side) turn one WebSocket
text message into a frozen dataclass or raise ProtocolError with the code to answer with;
``encode_frame`` is the inverse. A push whose envelope is fine but one of whose payloads is not
parses into an ``InvalidOp`` for that op, so the server can reject that op alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from snapask_desktop.sync import limits
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.limits import (
    BLOB_CHUNK_BYTES,
    DEFAULT_PAGE_CHANGES,
    MAX_BLOB_BYTES,
    MAX_CLIENT_CHARS,
    MAX_DELETED_CONVERSATIONS,
    MAX_ERROR_MESSAGE_CHARS,
    MAX_FRAME_BYTES,
    MAX_OPS_PER_PUSH,
    MAX_PAGE_CHANGES,
    MAX_SAFE_INT,
    PROTOCOL_VERSION,
)
from snapask_desktop.sync.records import (
    Payload,
    PurgeRecord,
    parse_payload,
)
from snapask_desktop.sync.wire import (
    MISSING,
    Fields,
    RequestId,
    b64encode,
    check_device_id,
    check_int,
    check_uuid,
    decode_json,
    encode_json,
    is_device_id,
    is_uuid,
)

SUPPORTED_PROTOCOLS: tuple[int, ...] = (PROTOCOL_VERSION,)
_FIELD = ErrorCode.BAD_FIELD
_CODE = re.compile(r"[a-z_]{1,40}")

OpStatus = Literal["applied", "duplicate", "rejected"]


def _envelope(type_name: str, request_id: RequestId | None, body: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {"type": type_name}
    if request_id is not None:
        head["id"] = request_id
    return head | body


# Optional parts of protocol 1 that both sides announce in hello and welcome (5.1).
FEATURE_PICTURE_TEXT = "picture_text"  # picture_text records (3.5)
FEATURE_E2EE = "e2ee"  # encrypted accounts: sealed payloads and the key frames (12)
SUPPORTED_FEATURES: tuple[str, ...] = (FEATURE_PICTURE_TEXT,)
MAX_FEATURES = 32
_FEATURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

# ====================================================================== device -> server


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of a connection: who is speaking, which version, from which cursor."""

    device_id: str
    cursor: int
    protocol: int = PROTOCOL_VERSION
    client: str | None = None
    id: RequestId | None = None
    features: tuple[str, ...] = ()  # optional parts of the protocol the device speaks (5.1)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "protocol": self.protocol,
            "device_id": self.device_id,
            "cursor": self.cursor,
        }
        if self.client is not None:
            body["client"] = self.client
        if self.features:
            body["features"] = list(self.features)
        return _envelope("hello", self.id, body)


@dataclass(frozen=True, slots=True)
class Op:
    """One change a device pushes: the full new state of a record and its idempotency key."""

    op_id: str
    payload: Payload

    def to_wire(self) -> dict[str, Any]:
        return {"op_id": self.op_id, "payload": self.payload.to_wire()}


@dataclass(frozen=True, slots=True)
class InvalidOp:
    """A pushed op with a readable op id but an invalid payload: reject it alone."""

    op_id: str
    raw_payload: Any
    code: ErrorCode
    message: str

    def to_wire(self) -> dict[str, Any]:
        return {"op_id": self.op_id, "payload": self.raw_payload}


@dataclass(frozen=True, slots=True)
class Push:
    """A batch of ops, in the order the device wrote them."""

    ops: tuple[Op | InvalidOp, ...]
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("push", self.id, {"ops": [op.to_wire() for op in self.ops]})


@dataclass(frozen=True, slots=True)
class Pull:
    """Ask for the changes after ``since``, at most ``limit`` of them."""

    since: int
    limit: int = DEFAULT_PAGE_CHANGES
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("pull", self.id, {"since": self.since, "limit": self.limit})


@dataclass(frozen=True, slots=True)
class Applied:
    """The device has applied everything up to ``cursor`` and pushed what that caused."""

    cursor: int
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("applied", self.id, {"cursor": self.cursor})


@dataclass(frozen=True, slots=True)
class DeletedConversation:
    """A conversation a device holds as deleted at ``deleted_at`` (its delete stamp's HLC)."""

    id: str
    deleted_at: int

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "deleted_at": self.deleted_at}


@dataclass(frozen=True, slots=True)
class Deleted:
    """An encrypted account's device confirms (12.12) that its merged state of each
    conversation, after applying every change up to ``cursor``, is deleted at that stamp:
    the server cannot judge rule 9.6.1 itself, so it collects only what every device confirms."""

    cursor: int
    conversations: tuple[DeletedConversation, ...]
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        items = [c.to_wire() for c in self.conversations]
        return _envelope("deleted", self.id, {"cursor": self.cursor, "conversations": items})


@dataclass(frozen=True, slots=True)
class BlobPut:
    """One chunk of a blob upload (``data`` may be empty: a status probe)."""

    sha256: str
    size: int
    offset: int
    data: bytes
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        body = {"sha256": self.sha256, "size": self.size, "offset": self.offset}
        return _envelope("blob_put", self.id, body | {"data": b64encode(self.data)})


@dataclass(frozen=True, slots=True)
class BlobGet:
    """Ask for the chunk of a blob that starts at ``offset``."""

    sha256: str
    offset: int = 0
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("blob_get", self.id, {"sha256": self.sha256, "offset": self.offset})


@dataclass(frozen=True, slots=True)
class KeysGet:
    """Ask for the account's key record (12.5)."""

    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("keys_get", self.id, {})


@dataclass(frozen=True, slots=True)
class KeysPut:
    """Store a key record if the stored one is still ``expect_version`` (0: none yet, which
    turns the account encrypted)."""

    record: KeyRecord
    expect_version: int
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        body = {"record": self.record.to_wire(), "expect_version": self.expect_version}
        return _envelope("keys_put", self.id, body)


ClientFrame = Hello | Push | Pull | Applied | Deleted | BlobPut | BlobGet | KeysGet | KeysPut


# ====================================================================== server -> device


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's limits as announced in ``welcome`` (section 7)."""

    max_frame_bytes: int = limits.MAX_FRAME_BYTES
    max_ops_per_push: int = limits.MAX_OPS_PER_PUSH
    max_page_changes: int = limits.MAX_PAGE_CHANGES
    max_blob_bytes: int = limits.MAX_BLOB_BYTES
    blob_chunk_bytes: int = limits.BLOB_CHUNK_BYTES
    frames_per_second: int = limits.FRAMES_PER_SECOND
    frame_burst: int = limits.FRAME_BURST
    max_drift_ms: int = limits.MAX_DRIFT_MS

    def to_wire(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def tightest(self, other: Limits) -> Limits:
        """Each limit the smaller of the two (a device uses its own and the server's)."""
        return Limits(*(min(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Welcome:
    """Reply to ``hello``: the user's head sequence number, server time and limits."""

    device_id: str
    head: int
    server_time_ms: int
    limits: Limits = DEFAULT_LIMITS
    protocol: int = PROTOCOL_VERSION
    id: RequestId | None = None
    features: tuple[str, ...] = ()  # optional parts of the protocol the server speaks (5.1)
    keys_version: int = 0  # > 0: the account is encrypted, its key record at this version (12)

    @property
    def encrypted(self) -> bool:
        """Whether the account is encrypted (it has a key record)."""
        return self.keys_version > 0

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "protocol": self.protocol,
            "device_id": self.device_id,
            "head": self.head,
            "server_time_ms": self.server_time_ms,
            "limits": self.limits.to_wire(),
        }
        if self.features:
            body["features"] = list(self.features)
        if self.keys_version:
            body["keys_version"] = self.keys_version
        return _envelope("welcome", self.id, body)


@dataclass(frozen=True, slots=True)
class OpResult:
    """The outcome of one pushed op."""

    op_id: str
    status: OpStatus
    seq: int | None = None  # applied / duplicate
    code: str | None = None  # rejected
    message: str | None = None  # rejected

    @classmethod
    def applied(cls, op_id: str, seq: int) -> OpResult:
        return cls(op_id, "applied", seq=seq)

    @classmethod
    def duplicate(cls, op_id: str, seq: int) -> OpResult:
        return cls(op_id, "duplicate", seq=seq)

    @classmethod
    def rejected(cls, op_id: str, code: ErrorCode, message: str) -> OpResult:
        return cls(op_id, "rejected", code=str(code), message=message[:MAX_ERROR_MESSAGE_CHARS])

    def to_wire(self) -> dict[str, Any]:
        if self.status == "rejected":
            return {"op_id": self.op_id, "status": self.status, "code": self.code,
                    "message": self.message}  # fmt: skip
        return {"op_id": self.op_id, "status": self.status, "seq": self.seq}


@dataclass(frozen=True, slots=True)
class Ack:
    """Reply to ``push``: one result per op, in push order."""

    results: tuple[OpResult, ...]
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("ack", self.id, {"results": [r.to_wire() for r in self.results]})


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the user's change log: the payload exactly as it was pushed."""

    seq: int
    op_id: str
    device_id: str | None  # None for the server's purge changes
    payload: Payload

    def to_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "op_id": self.op_id,
            "device_id": self.device_id,
            "payload": self.payload.to_wire(),
        }


@dataclass(frozen=True, slots=True)
class Changes:
    """Every change with ``since < seq <= cursor`` that still exists (a pull reply or live)."""

    since: int
    cursor: int
    has_more: bool
    changes: tuple[Change, ...]
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        body = {
            "since": self.since,
            "cursor": self.cursor,
            "has_more": self.has_more,
            "changes": [c.to_wire() for c in self.changes],
        }
        return _envelope("changes", self.id, body)


@dataclass(frozen=True, slots=True)
class BlobAck:
    """Reply to ``blob_put``: how many bytes of the blob the server holds."""

    sha256: str
    size: int
    received: int
    complete: bool
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        body = {"sha256": self.sha256, "size": self.size, "received": self.received}
        return _envelope("blob_ack", self.id, body | {"complete": self.complete})


@dataclass(frozen=True, slots=True)
class Blob:
    """Reply to ``blob_get``: the chunk starting at ``offset``."""

    sha256: str
    size: int
    offset: int
    data: bytes
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        body = {"sha256": self.sha256, "size": self.size, "offset": self.offset}
        return _envelope("blob", self.id, body | {"data": b64encode(self.data)})


@dataclass(frozen=True, slots=True)
class BlobMissing:
    """Reply to ``blob_get``: the server has no complete blob with this hash for the user."""

    sha256: str
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        return _envelope("blob_missing", self.id, {"sha256": self.sha256})


@dataclass(frozen=True, slots=True)
class Error:
    """A refused frame; see the error table for whether the connection closes."""

    code: str
    message: str
    retry_after_ms: int | None = None
    id: RequestId | None = None

    @classmethod
    def from_exception(cls, exc: ProtocolError) -> Error:
        """The error frame that answers a ProtocolError (echoing its request id)."""
        return cls(str(exc.code), exc.message[:MAX_ERROR_MESSAGE_CHARS], id=exc.request_id)

    @property
    def known_code(self) -> ErrorCode | None:
        """The code as an ErrorCode, or None if this side does not know it."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.retry_after_ms is not None:
            body["retry_after_ms"] = self.retry_after_ms
        return _envelope("error", self.id, body)


@dataclass(frozen=True, slots=True)
class Keys:
    """The account's key record and its version (0 and None: not encrypted); the reply to
    ``keys_get`` and ``keys_put``, and sent live when another device replaced the record."""

    version: int
    record: KeyRecord | None
    id: RequestId | None = None

    def to_wire(self) -> dict[str, Any]:
        record = None if self.record is None else self.record.to_wire()
        return _envelope("keys", self.id, {"version": self.version, "record": record})


ServerFrame = Welcome | Ack | Changes | BlobAck | Blob | BlobMissing | Error | Keys
Frame = ClientFrame | ServerFrame


# ====================================================================== encoding


def encode_frame(frame: Frame) -> str:
    """The JSON text of a frame; ProtocolError ``too_large`` past MAX_FRAME_BYTES."""
    text = encode_json(frame.to_wire())
    if len(text) > MAX_FRAME_BYTES // 4 and len(text.encode("utf-8")) > MAX_FRAME_BYTES:
        kind = frame.to_wire()["type"]
        raise ProtocolError(ErrorCode.TOO_LARGE, f"a {kind} frame over {MAX_FRAME_BYTES:,} bytes")
    return text


# ====================================================================== parsing


def parse_client_frame(text: str | bytes) -> ClientFrame:
    """Validate a frame a device sent (server side)."""
    frame: ClientFrame = _parse(text, _CLIENT_PARSERS)
    return frame


def parse_server_frame(text: str | bytes) -> ServerFrame:
    """Validate a frame the server sent (device side)."""
    frame: ServerFrame = _parse(text, _SERVER_PARSERS)
    return frame


def _parse(text: str | bytes, parsers: Mapping[str, Callable[[Fields], Any]]) -> Any:
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.BAD_JSON, "binary messages are not used; send JSON text")
    obj = decode_json(text)
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    request_id = Fields(obj, ErrorCode.BAD_FRAME).request_id()
    kind = obj.get("type", MISSING)
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "type: must be a string", request_id)
    parser = parsers.get(kind)
    if parser is None:
        known = ", ".join(parsers)
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"type: {kind[:40]!r} is not one of {known}", request_id
        )
    try:
        return parser(Fields(obj, _FIELD))
    except ProtocolError as exc:
        raise exc.with_request_id(request_id) from None


# ---------------------------------------------------------------------- device -> server


def _protocol(f: Fields) -> int:
    version = f.integer("protocol", 1, MAX_SAFE_INT)
    if version not in SUPPORTED_PROTOCOLS:
        supported = ", ".join(map(str, SUPPORTED_PROTOCOLS))
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_PROTOCOL,
            f"protocol {version} is not supported (this side speaks {supported}); update the app",
        )
    return version


def _features(f: Fields) -> tuple[str, ...]:
    """The optional ``features`` array of hello/welcome: names this side does not know are
    kept (and ignored by the code that asks for one it knows)."""
    if "features" not in f.obj:
        return ()
    items = f.array("features", MAX_FEATURES)
    for i, name in enumerate(items):
        if not isinstance(name, str) or not _FEATURE_NAME.fullmatch(name):
            f.fail("features", f"item {i} must be a feature name like picture_text")
    return tuple(items)


def _hello(f: Fields) -> Hello:
    client = f.text("client", MAX_CLIENT_CHARS) if "client" in f.obj else None
    return Hello(
        protocol=_protocol(f),
        device_id=f.req_device_id("device_id"),
        cursor=f.integer("cursor"),
        client=client,
        id=f.request_id(),
        features=_features(f),
    )


def _push(f: Fields) -> Push:
    items = f.array("ops", MAX_OPS_PER_PUSH, min_items=1, too_many=ErrorCode.TOO_LARGE)
    ops = tuple(_op(Fields(item, _FIELD, f"ops[{i}]")) for i, item in enumerate(items))
    return Push(ops=ops, id=f.request_id())


def _op(f: Fields) -> Op | InvalidOp:
    op_id = f.uuid("op_id")
    raw = f.raw("payload")
    try:
        return Op(op_id, parse_payload(raw, from_device=True))
    except ProtocolError as exc:
        located = exc.at(f.where("payload"))
        return InvalidOp(op_id, raw, located.code, located.message)


def _pull(f: Fields) -> Pull:
    limit = f.opt_integer("limit", DEFAULT_PAGE_CHANGES, 1, MAX_PAGE_CHANGES)
    return Pull(since=f.integer("since"), limit=limit, id=f.request_id())


def _applied(f: Fields) -> Applied:
    return Applied(cursor=f.integer("cursor"), id=f.request_id())


def _deleted(f: Fields) -> Deleted:
    f.only(frozenset({"type", "id", "cursor", "conversations"}))
    items = f.array(
        "conversations", MAX_DELETED_CONVERSATIONS, min_items=1, too_many=ErrorCode.TOO_LARGE
    )
    confirmed = []
    for i, item in enumerate(items):
        c = Fields(item, _FIELD, f"conversations[{i}]")
        c.only(frozenset({"id", "deleted_at"}))
        confirmed.append(DeletedConversation(c.uuid("id"), c.hlc("deleted_at")))
    return Deleted(f.integer("cursor"), tuple(confirmed), id=f.request_id())


def _blob_size(f: Fields) -> int:
    size = f.integer("size", 1)
    if size > MAX_BLOB_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"size: {size:,} bytes; a blob is at most {MAX_BLOB_BYTES:,}"
        )
    return size


def _chunk(f: Fields, size: int, *, allow_empty: bool) -> tuple[int, bytes]:
    offset = f.integer("offset", 0, size if allow_empty else size - 1)
    data = f.base64("data", BLOB_CHUNK_BYTES)
    if not data and not allow_empty:
        f.fail("data", "must not be empty")
    if offset + len(data) > size:
        f.fail("data", f"ends at byte {offset + len(data):,}, past the blob's size {size:,}")
    return offset, data


def _blob_put(f: Fields) -> BlobPut:
    sha = f.req_sha256("sha256")
    size = _blob_size(f)
    offset, data = _chunk(f, size, allow_empty=True)
    return BlobPut(sha256=sha, size=size, offset=offset, data=data, id=f.request_id())


def _blob_get(f: Fields) -> BlobGet:
    return BlobGet(
        sha256=f.req_sha256("sha256"), offset=f.opt_integer("offset", 0), id=f.request_id()
    )


def _keys_get(f: Fields) -> KeysGet:
    f.only(frozenset({"type", "id"}))
    return KeysGet(id=f.request_id())


def _keys_put(f: Fields) -> KeysPut:
    record = KeyRecord.from_wire(f.raw("record"), _FIELD, f.where("record"))
    return KeysPut(record, f.integer("expect_version"), id=f.request_id())


_CLIENT_PARSERS: dict[str, Callable[[Fields], ClientFrame]] = {
    "hello": _hello,
    "push": _push,
    "pull": _pull,
    "applied": _applied,
    "deleted": _deleted,
    "blob_put": _blob_put,
    "blob_get": _blob_get,
    "keys_get": _keys_get,
    "keys_put": _keys_put,
}


# ---------------------------------------------------------------------- server -> device


def _limits(f: Fields) -> Limits:
    values = {field.name: f.integer(field.name, 1) for field in fields(Limits)}
    return Limits(**values)


def _welcome(f: Fields) -> Welcome:
    return Welcome(
        protocol=_protocol(f),
        device_id=f.req_device_id("device_id"),
        head=f.integer("head"),
        server_time_ms=f.integer("server_time_ms"),
        limits=_limits(f.nested("limits")),
        id=f.request_id(),
        features=_features(f),
        keys_version=f.opt_integer("keys_version", 0),
    )


def _op_result(f: Fields) -> OpResult:
    op_id = f.uuid("op_id")
    status = f.choice("status", ("applied", "duplicate", "rejected"))
    if status == "rejected":
        code = f.req_text("code", 40)
        if not _CODE.fullmatch(code):
            f.fail("code", "must be lowercase letters and underscores")
        message = f.req_text("message", MAX_ERROR_MESSAGE_CHARS)
        return OpResult(op_id, "rejected", code=code, message=message)
    seq = f.integer("seq", 1)
    return OpResult(op_id, "applied" if status == "applied" else "duplicate", seq=seq)


def _ack(f: Fields) -> Ack:
    items = f.array("results", MAX_OPS_PER_PUSH, min_items=1, too_many=ErrorCode.TOO_LARGE)
    results = tuple(_op_result(Fields(r, _FIELD, f"results[{i}]")) for i, r in enumerate(items))
    return Ack(results=results, id=f.request_id())


def _change(f: Fields, after: int, cursor: int) -> Change:
    seq = f.integer("seq", 1)
    if not after < seq <= cursor:
        f.fail("seq", f"{seq} is outside ({after}, {cursor}] (changes ascend within the range)")
    op_id = f.uuid("op_id")
    device_id = f.device_id("device_id", nullable=True)
    try:
        payload = parse_payload(f.raw("payload"))
    except ProtocolError as exc:
        raise exc.at(f.where("payload")) from None
    if (device_id is None) != isinstance(payload, PurgeRecord):
        f.fail("device_id", "must be null exactly for purge changes")
    return Change(seq=seq, op_id=op_id, device_id=device_id, payload=payload)


def _quick_change(item: Any, after: int, cursor: int) -> Change | None:
    """``_change``'s rules in straight-line code (a page holds up to 1,000 changes); None when
    anything is off, and ``_change`` then says what."""
    if type(item) is not dict:
        return None
    seq, op_id = item.get("seq"), item.get("op_id")
    device_id = item.get("device_id", MISSING)
    if not (
        type(seq) is int
        and after < seq <= cursor
        and is_uuid(op_id)
        and (device_id is None or is_device_id(device_id))
        and "payload" in item
    ):
        return None
    try:
        payload = parse_payload(item["payload"])
    except ProtocolError:
        return None
    if (device_id is None) != isinstance(payload, PurgeRecord):
        return None
    return Change(seq=seq, op_id=op_id, device_id=device_id, payload=payload)


def _changes(f: Fields) -> Changes:
    since = f.integer("since")
    cursor = f.integer("cursor", since)
    has_more = f.boolean("has_more")
    items = f.array("changes", MAX_PAGE_CHANGES, too_many=ErrorCode.TOO_LARGE)
    changes: list[Change] = []
    after = since
    for i, item in enumerate(items):
        change = _quick_change(item, after, cursor) or _change(
            Fields(item, _FIELD, f"changes[{i}]"), after, cursor
        )
        changes.append(change)
        after = change.seq
    if has_more and (not changes or changes[-1].seq != cursor):
        f.fail("cursor", "with has_more, must be the last change's seq (and the page not empty)")
    return Changes(since, cursor, has_more, tuple(changes), id=f.request_id())


def _blob_ack(f: Fields) -> BlobAck:
    sha = f.req_sha256("sha256")
    size = _blob_size(f)
    received = f.integer("received", 0, size)
    complete = f.boolean("complete")
    if complete and received != size:
        f.fail("complete", "is true but not every byte was received")
    return BlobAck(sha, size, received, complete, id=f.request_id())


def _blob(f: Fields) -> Blob:
    sha = f.req_sha256("sha256")
    size = _blob_size(f)
    offset, data = _chunk(f, size, allow_empty=False)
    return Blob(sha, size, offset, data, id=f.request_id())


def _blob_missing(f: Fields) -> BlobMissing:
    return BlobMissing(f.req_sha256("sha256"), id=f.request_id())


def _error(f: Fields) -> Error:
    code = f.req_text("code", 40)
    if not _CODE.fullmatch(code):
        f.fail("code", "must be lowercase letters and underscores")
    retry = f.integer("retry_after_ms") if "retry_after_ms" in f.obj else None
    message = f.req_text("message", MAX_ERROR_MESSAGE_CHARS)
    return Error(code, message, retry_after_ms=retry, id=f.request_id())


def _keys(f: Fields) -> Keys:
    version = f.integer("version")
    raw = f.raw("record")
    if (raw is None) != (version == 0):
        f.fail("record", "must be null exactly when version is 0")
    record = None if raw is None else KeyRecord.from_wire(raw, _FIELD, f.where("record"))
    return Keys(version, record, id=f.request_id())


_SERVER_PARSERS: dict[str, Callable[[Fields], ServerFrame]] = {
    "welcome": _welcome,
    "ack": _ack,
    "changes": _changes,
    "blob_ack": _blob_ack,
    "blob": _blob,
    "blob_missing": _blob_missing,
    "error": _error,
    "keys": _keys,
}

CLIENT_FRAME_TYPES: tuple[str, ...] = tuple(_CLIENT_PARSERS)
SERVER_FRAME_TYPES: tuple[str, ...] = tuple(_SERVER_PARSERS)


__all__ = [
    "CLIENT_FRAME_TYPES",
    "DEFAULT_LIMITS",
    "SERVER_FRAME_TYPES",
    "SUPPORTED_PROTOCOLS",
    "Ack",
    "Applied",
    "Blob",
    "BlobAck",
    "BlobGet",
    "BlobMissing",
    "BlobPut",
    "Change",
    "Changes",
    "ClientFrame",
    "Deleted",
    "DeletedConversation",
    "Error",
    "ErrorCode",
    "Frame",
    "Hello",
    "InvalidOp",
    "KeyRecord",
    "Keys",
    "KeysGet",
    "KeysPut",
    "Limits",
    "Op",
    "OpResult",
    "ProtocolError",
    "Pull",
    "Push",
    "ServerFrame",
    "Welcome",
    "check_device_id",
    "check_int",
    "check_uuid",
    "encode_frame",
    "parse_client_frame",
    "parse_payload",
    "parse_server_frame",
]
