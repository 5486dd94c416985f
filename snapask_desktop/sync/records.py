"""Typed, validated sync records with ``to_wire()``/``from_wire()`` (sync-protocol.md section 3).

``from_wire`` accepts exactly the payload shapes the store writes to its outbox and raises
ProtocolError(``bad_payload``) for anything else; ``to_wire`` gives that shape back, so
``from_wire(x).to_wire() == x`` for every valid payload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import (
    MAX_BLOB_BYTES,
    MAX_HLC,
    MAX_IMAGE_SIDE,
    MAX_MODEL_CHARS,
    MAX_PURGE_SCREENSHOTS,
    MAX_SAFE_INT,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_VV_ENTRIES,
)
from snapask_desktop.sync.sealed import SealedRecord
from snapask_desktop.sync.wire import (
    Fields,
    check_sha256,
    is_device_id,
    is_sha256,
    is_text,
    is_uuid,
)

FieldName = Literal["title", "pinned", "archived", "deleted"]
FIELDS: tuple[FieldName, ...] = ("title", "pinned", "archived", "deleted")
ROLES = ("user", "model")
STATUSES = ("final", "cancelled", "error")
_MIME = re.compile(r"image/[a-z0-9.+-]{1,50}")
_BAD = ErrorCode.BAD_PAYLOAD

_CONVERSATION_KEYS = frozenset(
    {"type", "id", "title", "pinned", "archived", "deleted", "created_at", "updated_at"}
    | {"vv", "hlc", "field_hlc", "device"}
)
_MESSAGE_KEYS = frozenset(
    {"type", "id", "conversation_id", "role", "text", "model", "status"}
    | {"screenshot_sha256", "hlc", "device", "created_at"}
)
_SCREENSHOT_KEYS = frozenset({"type", "sha256", "size_bytes", "width", "height", "mime"})
_PURGE_KEYS = frozenset({"type", "conversation_id", "screenshots"})
_PICTURE_TEXT_KEYS = frozenset({"type", "sha256", "text", "engine"})
MAX_PICTURE_TEXT_CHARS = 200_000  # a dense 4K screen holds about 20,000 characters
MAX_ENGINE_CHARS = 60
_CONFLICT_KEYS = frozenset(
    {"conversation_id", "field", "losing_value", "losing_stamp", "winning_value", "winning_stamp"}
)


class FieldStamp(NamedTuple):
    """Who wrote a field and when; orders by (hlc, device) so two writers never tie."""

    hlc: int
    device: str

    def to_wire(self) -> list[Any]:
        return [self.hlc, self.device]


@dataclass(frozen=True, slots=True)
class ConversationState:
    """One replica's state of a conversation's metadata (treat the mappings as read-only)."""

    id: str
    title: str
    pinned: bool
    archived: bool
    deleted: bool
    created_at: int
    updated_at: int
    vv: Mapping[str, int]
    hlc: int
    field_hlc: Mapping[str, FieldStamp]
    device: str

    @property
    def stamp(self) -> FieldStamp:
        """The newest write this state includes, as a (hlc, device) pair."""
        return FieldStamp(self.hlc, self.device)

    def value(self, field: str) -> str | bool:
        """The current value of one synced field."""
        if field not in FIELDS:
            raise KeyError(field)
        value: str | bool = getattr(self, field)
        return value

    def to_wire(self) -> dict[str, Any]:
        """The outbox/change payload."""
        return {
            "type": "conversation",
            "id": self.id,
            "title": self.title,
            "pinned": self.pinned,
            "archived": self.archived,
            "deleted": self.deleted,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "vv": dict(self.vv),
            "hlc": self.hlc,
            "field_hlc": {name: self.field_hlc[name].to_wire() for name in FIELDS},
            "device": self.device,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> ConversationState:
        """Validate a conversation payload (raises ProtocolError ``bad_payload``)."""
        state = _quick_conversation(obj)
        if state is not None:
            check_conversation(state)
            return state
        return cls._checked(obj)

    @classmethod
    def _checked(cls, obj: Any) -> ConversationState:
        # Field by field, naming the first thing wrong; _quick_conversation accepts the same.
        f = Fields(obj, _BAD)
        f.only(_CONVERSATION_KEYS)
        _expect_type(f, "conversation")
        stamps_in = f.nested("field_hlc")
        stamps_in.only(set(FIELDS))
        state = cls(
            id=f.uuid("id"),
            title=f.req_text("title", MAX_TITLE_CHARS),
            pinned=f.boolean("pinned"),
            archived=f.boolean("archived"),
            deleted=f.boolean("deleted"),
            created_at=f.integer("created_at"),
            updated_at=f.integer("updated_at"),
            vv=f.vv("vv"),
            hlc=f.hlc("hlc"),
            field_hlc={name: FieldStamp(*stamps_in.stamp(name)) for name in FIELDS},
            device=f.req_device_id("device"),
        )
        check_conversation(state)
        return state


def check_conversation(state: ConversationState) -> None:
    """The invariants of section 3.1: stamps within the record stamp, writers in the vector."""
    if set(state.field_hlc) != set(FIELDS):
        raise ProtocolError(_BAD, "field_hlc: must have exactly title, pinned, archived, deleted")
    if state.vv.get(state.device, 0) < 1:
        raise ProtocolError(_BAD, f"vv: has no entry for the writing device {state.device!r}")
    for name in FIELDS:
        stamp = state.field_hlc[name]
        if stamp > state.stamp:
            raise ProtocolError(_BAD, f"field_hlc.{name}: is newer than the record's hlc/device")
        if state.vv.get(stamp.device, 0) < 1:
            raise ProtocolError(_BAD, f"field_hlc.{name}: its device {stamp.device!r} is not in vv")


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message; immutable once sent."""

    id: str
    conversation_id: str
    role: str
    text: str
    model: str | None
    status: str
    screenshot_sha256: str | None
    hlc: int
    device: str
    created_at: int

    def to_wire(self) -> dict[str, Any]:
        """The outbox/change payload."""
        return {
            "type": "message",
            "id": self.id,
            "conversation_id": self.conversation_id,
            "role": self.role,
            "text": self.text,
            "model": self.model,
            "status": self.status,
            "screenshot_sha256": self.screenshot_sha256,
            "hlc": self.hlc,
            "device": self.device,
            "created_at": self.created_at,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> MessageRecord:
        """Validate a message payload (raises ProtocolError ``bad_payload``)."""
        return _quick_message(obj) or cls._checked(obj)

    @classmethod
    def _checked(cls, obj: Any) -> MessageRecord:
        # Field by field, naming the first thing wrong; _quick_message accepts the same.
        f = Fields(obj, _BAD)
        f.only(_MESSAGE_KEYS)
        _expect_type(f, "message")
        return cls(
            id=f.uuid("id"),
            conversation_id=f.uuid("conversation_id"),
            role=f.choice("role", ROLES),
            text=f.req_text("text", MAX_TEXT_CHARS),
            model=f.text("model", MAX_MODEL_CHARS, nullable=True),
            status=f.choice("status", STATUSES),
            screenshot_sha256=f.sha256("screenshot_sha256", nullable=True),
            hlc=f.hlc("hlc"),
            device=f.req_device_id("device"),
            created_at=f.integer("created_at"),
        )


@dataclass(frozen=True, slots=True)
class ScreenshotRecord:
    """Metadata of a picture; the bytes travel as a blob under ``sha256``."""

    sha256: str
    size_bytes: int
    width: int
    height: int
    mime: str

    def to_wire(self) -> dict[str, Any]:
        """The outbox/change payload."""
        return {
            "type": "screenshot",
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "width": self.width,
            "height": self.height,
            "mime": self.mime,
        }

    @classmethod
    def from_wire(cls, obj: Any) -> ScreenshotRecord:
        """Validate a screenshot payload (raises ProtocolError ``bad_payload``)."""
        f = Fields(obj, _BAD)
        f.only(_SCREENSHOT_KEYS)
        _expect_type(f, "screenshot")
        mime = f.req_text("mime", 56)
        if not _MIME.fullmatch(mime):
            f.fail("mime", f"must look like image/png, not {mime!r}")
        return cls(
            sha256=f.req_sha256("sha256"),
            size_bytes=f.integer("size_bytes", 1, MAX_BLOB_BYTES),
            width=f.integer("width", 1, MAX_IMAGE_SIDE),
            height=f.integer("height", 1, MAX_IMAGE_SIDE),
            mime=mime,
        )


@dataclass(frozen=True, slots=True)
class PurgeRecord:
    """Written by the server only: a collected conversation and the screenshots it dropped."""

    conversation_id: str
    screenshots: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """The change payload."""
        return {
            "type": "purge",
            "conversation_id": self.conversation_id,
            "screenshots": list(self.screenshots),
        }

    @classmethod
    def from_wire(cls, obj: Any) -> PurgeRecord:
        """Validate a purge payload (raises ProtocolError ``bad_payload``)."""
        f = Fields(obj, _BAD)
        f.only(_PURGE_KEYS)
        _expect_type(f, "purge")
        items = f.array("screenshots", MAX_PURGE_SCREENSHOTS)
        shas = tuple(check_sha256(sha, f"screenshots[{i}]", _BAD) for i, sha in enumerate(items))
        return cls(conversation_id=f.uuid("conversation_id"), screenshots=shas)


@dataclass(frozen=True, slots=True)
class PictureTextRecord:
    """The text a device read from a picture (local OCR), for search on every device.

    Sent only between devices and servers that announce the ``picture_text`` feature (5.1);
    every reading of the same bytes is valid, and devices keep the one ``merge.keeps_text``
    prefers, so all converge on one text."""

    sha256: str
    text: str
    engine: str

    def to_wire(self) -> dict[str, Any]:
        """The outbox/change payload."""
        return {"type": "picture_text", "sha256": self.sha256, "text": self.text,
                "engine": self.engine}  # fmt: skip

    @classmethod
    def from_wire(cls, obj: Any) -> PictureTextRecord:
        """Validate a picture text payload (raises ProtocolError ``bad_payload``)."""
        f = Fields(obj, _BAD)
        f.only(_PICTURE_TEXT_KEYS)
        _expect_type(f, "picture_text")
        return cls(
            sha256=f.req_sha256("sha256"),
            text=f.req_text("text", MAX_PICTURE_TEXT_CHARS, min_chars=0),
            engine=f.req_text("engine", MAX_ENGINE_CHARS, min_chars=1),
        )


Payload = (
    ConversationState
    | MessageRecord
    | ScreenshotRecord
    | PurgeRecord
    | PictureTextRecord
    | SealedRecord
)

_PAYLOADS: dict[str, type[Payload]] = {
    "conversation": ConversationState,
    "message": MessageRecord,
    "screenshot": ScreenshotRecord,
    "purge": PurgeRecord,
    "picture_text": PictureTextRecord,
    "sealed": SealedRecord,  # an encrypted account's records (section 12.2)
}
DEVICE_PAYLOAD_TYPES = ("conversation", "message", "screenshot", "picture_text", "sealed")
PICTURE_TEXT_PREFIX = '{"type":"picture_text"'  # how its stored JSON starts (encode_json order)


def picture_text_prefix(sha256: str) -> str:
    """How the stored JSON of a picture_text change for picture `sha256` starts."""
    return f'{PICTURE_TEXT_PREFIX},"sha256":"{sha256}"'


def parse_payload(obj: Any, *, from_device: bool = False) -> Payload:
    """Any payload by its ``type``; ``from_device`` refuses the server-only ``purge``."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise ProtocolError(_BAD, "must be an object")
    kind = obj.get("type")
    allowed = DEVICE_PAYLOAD_TYPES if from_device else tuple(_PAYLOADS)
    if not isinstance(kind, str) or kind not in allowed:
        raise ProtocolError(_BAD, f"type: must be one of {', '.join(allowed)}, not {kind!r}")
    return _PAYLOADS[kind].from_wire(obj)


# ---------------------------------------------------------------------- quick checks
# An initial sync reads 60,000 payloads. The checked readers above spend most of their time on
# the Fields plumbing that exists to name a problem; these straight-line versions test exactly
# the same rules on the usual shape (a dict of exact JSON types) and return None on anything
# else, which the checked reader then refuses with its message (or accepts: a str subclass, for
# one). tests/sync/test_records.py checks both accept the same payloads.


def _quick_message(obj: Any) -> MessageRecord | None:
    if type(obj) is not dict or obj.keys() != _MESSAGE_KEYS or obj["type"] != "message":
        return None
    record_id, conversation_id = obj["id"], obj["conversation_id"]
    text, model, sha = obj["text"], obj["model"], obj["screenshot_sha256"]
    hlc, device, created_at = obj["hlc"], obj["device"], obj["created_at"]
    if (
        is_uuid(record_id)
        and is_uuid(conversation_id)
        and obj["role"] in ROLES
        and is_text(text, MAX_TEXT_CHARS)
        and (model is None or is_text(model, MAX_MODEL_CHARS))
        and obj["status"] in STATUSES
        and (sha is None or is_sha256(sha))
        and type(hlc) is int
        and 0 <= hlc <= MAX_HLC
        and is_device_id(device)
        and type(created_at) is int
        and 0 <= created_at <= MAX_SAFE_INT
    ):
        return MessageRecord(
            record_id, conversation_id, obj["role"], text, model, obj["status"], sha, hlc,
            device, created_at,
        )  # fmt: skip
    return None


def _quick_conversation(obj: Any) -> ConversationState | None:
    if type(obj) is not dict or obj.keys() != _CONVERSATION_KEYS or obj["type"] != "conversation":
        return None
    vv, stamps = obj["vv"], obj["field_hlc"]
    created_at, updated_at, hlc = obj["created_at"], obj["updated_at"], obj["hlc"]
    if not (
        is_uuid(obj["id"])
        and is_text(obj["title"], MAX_TITLE_CHARS)
        and type(obj["pinned"]) is bool
        and type(obj["archived"]) is bool
        and type(obj["deleted"]) is bool
        and type(created_at) is int
        and 0 <= created_at <= MAX_SAFE_INT
        and type(updated_at) is int
        and 0 <= updated_at <= MAX_SAFE_INT
        and type(hlc) is int
        and 0 <= hlc <= MAX_HLC
        and is_device_id(obj["device"])
        and type(vv) is dict
        and len(vv) <= MAX_VV_ENTRIES
        and type(stamps) is dict
        and stamps.keys() == _FIELD_SET
    ):
        return None
    for device, counter in vv.items():
        if not (is_device_id(device) and type(counter) is int and 1 <= counter <= MAX_SAFE_INT):
            return None
    field_hlc: dict[str, FieldStamp] = {}
    for name in FIELDS:
        stamp = stamps[name]
        if not (type(stamp) is list and len(stamp) == 2):
            return None
        stamp_hlc, stamp_device = stamp
        if not (
            type(stamp_hlc) is int and 0 <= stamp_hlc <= MAX_HLC and is_device_id(stamp_device)
        ):
            return None
        field_hlc[name] = FieldStamp(stamp_hlc, stamp_device)
    return ConversationState(
        obj["id"], obj["title"], obj["pinned"], obj["archived"], obj["deleted"], created_at,
        updated_at, dict(vv), hlc, field_hlc, obj["device"],
    )  # fmt: skip


_FIELD_SET = frozenset(FIELDS)


def payload_hlc(payload: Payload) -> int | None:
    """The stamp a receiver checks for clock skew (conversations and messages), else None."""
    if isinstance(payload, ConversationState | MessageRecord):
        return payload.hlc
    return None


def _expect_type(f: Fields, kind: str) -> None:
    if f.raw("type") != kind:
        f.fail("type", f"must be {kind!r}")


@dataclass(frozen=True, slots=True)
class Conflict:
    """A concurrent write that lost a field, kept so the user can see it and override it."""

    conversation_id: str
    field: FieldName
    losing_value: str | bool
    losing_stamp: FieldStamp
    winning_value: str | bool
    winning_stamp: FieldStamp

    def to_wire(self) -> dict[str, Any]:
        """JSON form (for the client's conflict table; conflicts are not synced)."""
        return {
            "conversation_id": self.conversation_id,
            "field": self.field,
            "losing_value": self.losing_value,
            "losing_stamp": self.losing_stamp.to_wire(),
            "winning_value": self.winning_value,
            "winning_stamp": self.winning_stamp.to_wire(),
        }

    @classmethod
    def from_wire(cls, obj: Any) -> Conflict:
        """Validate a stored conflict record (raises ProtocolError ``bad_payload``)."""
        f = Fields(obj, _BAD)
        f.only(_CONFLICT_KEYS)
        field = f.choice("field", FIELDS)
        read = (
            (lambda key: f.req_text(key, MAX_TITLE_CHARS))
            if field == "title"
            else (lambda key: f.boolean(key))
        )
        return cls(
            conversation_id=f.uuid("conversation_id"),
            field=field,  # type: ignore[arg-type]  # checked by choice()
            losing_value=read("losing_value"),
            losing_stamp=FieldStamp(*f.stamp("losing_stamp")),
            winning_value=read("winning_value"),
            winning_stamp=FieldStamp(*f.stamp("winning_stamp")),
        )
