"""Strict readers for decoded JSON values: each check raises ProtocolError naming the field.

Used by records.py (payloads, code ``bad_payload``) and protocol.py (frames, ``bad_field``) so
both apply exactly the primitive rules of docs/sync-protocol.md section 2.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import orjson

from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import (
    MAX_DEVICE_ID_CHARS,
    MAX_FRAME_BYTES,
    MAX_HLC,
    MAX_REQUEST_ID_CHARS,
    MAX_SAFE_INT,
    MAX_VV_ENTRIES,
)

_DEVICE_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_DEVICE_ID_CHARS}}}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

RequestId = str | int


class _Missing:
    """Sentinel type: a key that is absent (distinct from JSON null)."""


MISSING: Any = _Missing()


def decode_json(text: str | bytes, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """Parse one JSON text strictly: UTF-8, no NaN/Infinity, no repeated keys, bounded size."""
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        if len(raw) > max_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"the JSON is over {max_bytes:,} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(ErrorCode.BAD_JSON, f"not UTF-8 text ({exc.reason})") from None
    else:
        if len(text) > max_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"the JSON is over {max_bytes:,} bytes")
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raw = b""  # a lone surrogate: only the strict parser below can say what it means
    value = _compact_json(raw)
    if value is not _NOT_COMPACT:
        return value
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the JSON is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"not valid JSON ({exc})") from None


_NOT_COMPACT: Any = object()


def _compact_json(raw: bytes) -> Any:
    """The value of ``raw`` if it is valid JSON written exactly as ``encode_json`` (and every
    sender of this protocol) writes it, else _NOT_COMPACT.

    orjson parses in a fifth of the time of the json module with a duplicate-key hook, but
    keeps the last of a repeated key silently. Writing its result back and comparing proves
    there was none: an object that lost a key cannot print as the text it came from. orjson
    also refuses NaN and Infinity, lone surrogates and integers past 64 bits; whatever it
    refuses or writes differently goes to the strict parser, which says what is wrong.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_COMPACT
    try:
        same = orjson.dumps(value) == raw
    except TypeError:  # e.g. an integer orjson reads but does not write
        return _NOT_COMPACT
    return value if same else _NOT_COMPACT


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise ProtocolError(ErrorCode.BAD_JSON, f"the key {key!r} appears twice")
            seen.add(key)
    return result


def _no_constant(name: str) -> NoReturn:
    raise ProtocolError(ErrorCode.BAD_JSON, f"{name} is not allowed in JSON")


def encode_json(value: Any) -> str:
    """Compact JSON text as sent on the wire (UTF-8 characters kept, no NaN)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    """Typed access to one decoded JSON object; every failure names ``path.key``."""

    def __init__(self, obj: Any, code: ErrorCode, path: str = "") -> None:
        self.code = code
        self.path = path
        if not isinstance(obj, Mapping):
            self.fail_here(f"must be an object, not {_type_name(obj)}")
        self.obj: Mapping[str, Any] = obj

    # ------------------------------------------------------------------ plumbing

    def where(self, key: str) -> str:
        """The dotted path of ``key`` inside this object."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise this object's error code for ``key``."""
        raise ProtocolError(self.code, f"{self.where(key)}: {problem}")

    def fail_here(self, problem: str) -> NoReturn:
        """Raise this object's error code for the object itself."""
        raise ProtocolError(self.code, f"{self.path}: {problem}" if self.path else problem)

    def raw(self, key: str, *, optional: bool = False) -> Any:
        """The value under ``key`` (MISSING if optional and absent)."""
        if key not in self.obj:
            if optional:
                return MISSING
            self.fail(key, "is missing")
        return self.obj[key]

    def only(self, keys: frozenset[str] | set[str]) -> None:
        """Refuse keys outside ``keys`` (payloads must round-trip exactly)."""
        extra = sorted(set(self.obj) - set(keys))
        if extra:
            self.fail_here(f"unknown key {extra[0]!r}")

    # ------------------------------------------------------------------ scalars

    def text(
        self, key: str, max_chars: int, *, min_chars: int = 0, nullable: bool = False
    ) -> str | None:
        """A string of ``min_chars``..``max_chars`` code points, valid Unicode, no NUL."""
        value = self.raw(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {_type_name(value)}")
        if len(value) > max_chars:
            self.fail(key, f"is too long ({len(value):,} characters; at most {max_chars:,})")
        if len(value) < min_chars:
            self.fail(key, f"must have at least {min_chars} character(s)")
        if "\x00" in value:
            self.fail(key, "contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(key, "is not valid Unicode (lone surrogate)")
        return value

    def req_text(self, key: str, max_chars: int, *, min_chars: int = 0) -> str:
        """A required non-null string (see ``text``)."""
        value = self.text(key, max_chars, min_chars=min_chars)
        assert value is not None  # not nullable
        return value

    def integer(self, key: str, lo: int = 0, hi: int = MAX_SAFE_INT) -> int:
        """An integer in ``lo..hi`` (booleans and fractions refused)."""
        return check_int(self.raw(key), self.where(key), self.code, lo, hi)

    def opt_integer(self, key: str, default: int, lo: int = 0, hi: int = MAX_SAFE_INT) -> int:
        """An optional integer in ``lo..hi``; ``default`` when absent."""
        if key not in self.obj:
            return default
        return self.integer(key, lo, hi)

    def hlc(self, key: str) -> int:
        """An HLC stamp (64-bit, non-negative)."""
        return self.integer(key, 0, MAX_HLC)

    def boolean(self, key: str) -> bool:
        """A JSON true/false."""
        value = self.raw(key)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {_type_name(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        """One of the given strings."""
        value = self.raw(key)
        if not isinstance(value, str) or value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def uuid(self, key: str) -> str:
        """A canonical lowercase UUID string."""
        return check_uuid(self.raw(key), self.where(key), self.code)

    def device_id(self, key: str, *, nullable: bool = False) -> str | None:
        """A device id (or null when allowed)."""
        value = self.raw(key)
        if value is None and nullable:
            return None
        return check_device_id(value, self.where(key), self.code)

    def req_device_id(self, key: str) -> str:
        """A required device id."""
        return check_device_id(self.raw(key), self.where(key), self.code)

    def sha256(self, key: str, *, nullable: bool = False) -> str | None:
        """64 lowercase hex digits (or null when allowed)."""
        value = self.raw(key)
        if value is None and nullable:
            return None
        return check_sha256(value, self.where(key), self.code)

    def req_sha256(self, key: str) -> str:
        """A required SHA-256 hex digest."""
        return check_sha256(self.raw(key), self.where(key), self.code)

    def base64(self, key: str, max_bytes: int) -> bytes:
        """Standard base64 with padding, decoding to at most ``max_bytes`` bytes."""
        value = self.raw(key)
        if not isinstance(value, str):
            self.fail(key, f"must be a base64 string, not {_type_name(value)}")
        if len(value) > 4 * ((max_bytes + 2) // 3):
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"{self.where(key)}: more than {max_bytes:,} bytes"
            )
        if len(value) % 4 or not _B64.fullmatch(value):
            self.fail(key, "is not valid base64 (standard alphabet, padded)")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.fail(key, "is not valid base64 (standard alphabet, padded)")
        # The text-length check above lets up to 2 bytes over the limit through.
        if len(data) > max_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"{self.where(key)}: more than {max_bytes:,} bytes"
            )
        return data

    def request_id(self) -> RequestId | None:
        """The optional request ``id``: a 1..64 character string or a safe integer."""
        value = self.raw("id", optional=True)
        if value is MISSING:
            return None
        if isinstance(value, str):
            if not 1 <= len(value) <= MAX_REQUEST_ID_CHARS:
                self.fail("id", f"must have 1 to {MAX_REQUEST_ID_CHARS} characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.fail("id", "is not valid Unicode (lone surrogate)")
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INT:
            return value
        self.fail("id", "must be a string of 1 to 64 characters or an integer >= 0")

    # ------------------------------------------------------------------ composites

    def vv(self, key: str) -> dict[str, int]:
        """A version vector: device id -> counter >= 1, at most MAX_VV_ENTRIES entries."""
        value = self.raw(key)
        where = self.where(key)
        if not isinstance(value, Mapping):
            self.fail(key, f"must be an object, not {_type_name(value)}")
        if len(value) > MAX_VV_ENTRIES:
            self.fail(key, f"has more than {MAX_VV_ENTRIES} entries")
        result: dict[str, int] = {}
        for device, counter in value.items():
            check_device_id(device, f"{where} key", self.code)
            result[device] = check_int(counter, f"{where}.{device}", self.code, 1, MAX_SAFE_INT)
        return result

    def stamp(self, key: str) -> tuple[int, str]:
        """A field stamp ``[hlc, device id]``."""
        value = self.raw(key)
        where = self.where(key)
        if not isinstance(value, list) or len(value) != 2:
            self.fail(key, "must be an array [hlc, device id]")
        hlc = check_int(value[0], f"{where}[0]", self.code, 0, MAX_HLC)
        device = check_device_id(value[1], f"{where}[1]", self.code)
        return hlc, device

    def nested(self, key: str) -> Fields:
        """The object under ``key``, read with the same error code."""
        return Fields(self.raw(key), self.code, self.where(key))

    def array(
        self,
        key: str,
        max_items: int,
        *,
        min_items: int = 0,
        too_many: ErrorCode | None = None,
    ) -> list[Any]:
        """A JSON array of ``min_items``..``max_items`` items (``too_many``: code past the max)."""
        value = self.raw(key)
        if not isinstance(value, list):
            self.fail(key, f"must be an array, not {_type_name(value)}")
        if len(value) > max_items:
            raise ProtocolError(
                too_many or self.code,
                f"{self.where(key)}: {len(value):,} items; at most {max_items:,}",
            )
        if len(value) < min_items:
            self.fail(key, f"must have at least {min_items} item(s)")
        return value


def check_int(value: Any, where: str, code: ErrorCode, lo: int, hi: int) -> int:
    """An integer in ``lo..hi``; booleans and fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(code, f"{where}: must be an integer, not {_type_name(value)}")
    if value < lo:
        raise ProtocolError(code, f"{where}: must be an integer >= {lo}")
    if value > hi:
        raise ProtocolError(code, f"{where}: must be an integer <= {hi}")
    return value


def is_uuid(value: Any) -> bool:
    """Whether ``value`` passes ``check_uuid`` (no message: for quick paths)."""
    return type(value) is str and _UUID.fullmatch(value) is not None


def is_device_id(value: Any) -> bool:
    """Whether ``value`` passes ``check_device_id``."""
    return type(value) is str and _DEVICE_ID.fullmatch(value) is not None


def is_sha256(value: Any) -> bool:
    """Whether ``value`` passes ``check_sha256``."""
    return type(value) is str and _SHA256.fullmatch(value) is not None


def is_text(value: Any, max_chars: int) -> bool:
    """Whether ``value`` passes ``Fields.text`` (no minimum length, not nullable)."""
    if type(value) is not str or len(value) > max_chars or "\x00" in value:
        return False
    if value.isascii():  # O(1) in CPython; only non-ASCII text can hold a lone surrogate
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_uuid(value: Any, where: str, code: ErrorCode) -> str:
    """A UUID in canonical lowercase 8-4-4-4-12 form."""
    if not isinstance(value, str):
        raise ProtocolError(code, f"{where}: must be a UUID string, not {_type_name(value)}")
    # The canonical form is exactly this pattern (what str(uuid.UUID(x)) prints), and a
    # regex is 8x faster than parsing: an initial sync checks 170,000 of them.
    if not _UUID.fullmatch(value):
        raise ProtocolError(code, f"{where}: not a canonical lowercase UUID: {value[:40]!r}")
    return value


def check_device_id(value: Any, where: str, code: ErrorCode) -> str:
    """1..64 characters from A-Z a-z 0-9 _ -."""
    if not isinstance(value, str) or not _DEVICE_ID.fullmatch(value):
        shown = value[:70] if isinstance(value, str) else _type_name(value)
        raise ProtocolError(
            code,
            f"{where}: not a device id (1 to {MAX_DEVICE_ID_CHARS} of A-Z a-z 0-9 _ -): {shown!r}",
        )
    return value


def check_sha256(value: Any, where: str, code: ErrorCode) -> str:
    """Exactly 64 lowercase hex digits."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        shown = value[:70] if isinstance(value, str) else _type_name(value)
        raise ProtocolError(code, f"{where}: not a SHA-256 (64 lowercase hex digits): {shown!r}")
    return value


def b64encode(data: bytes) -> str:
    """Standard padded base64 text."""
    return base64.b64encode(data).decode("ascii")
