"""Checks on caller input before it reaches SQL: pure functions that raise InvalidInput."""

from __future__ import annotations

import re
import uuid

from snapask_desktop.store.errors import InvalidInput

MAX_TITLE_CHARS = 500
# Long AI answers fit; anything larger is almost certainly a bug or a paste accident and would
# also be too large for one sync frame.
MAX_TEXT_CHARS = 200_000
MAX_MODEL_CHARS = 200
ROLES = ("user", "model")
# A new message is final once written ("pending" rows exist only in files an older release wrote).
STATUSES = ("final", "cancelled", "error")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")


def text_value(value: object, what: str, max_chars: int) -> str:
    """A str that SQLite and FTS can hold: valid UTF-8, no NUL, at most ``max_chars``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidInput(f"{what} is too long ({len(value):,} characters; at most {max_chars:,})")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{what} is not valid Unicode text ({exc.reason})") from None
    return value


def title(value: object) -> str:
    """A conversation title, trimmed; newlines become spaces (titles are one line)."""
    text = text_value(value, "the title", MAX_TITLE_CHARS)
    return " ".join(text.split())


def message_text(value: object) -> str:
    """Message text, kept exactly as given."""
    return text_value(value, "the message text", MAX_TEXT_CHARS)


def role(value: object) -> str:
    """One of ROLES."""
    if value not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {value!r}")
    return str(value)


def status(value: object, allowed: tuple[str, ...] = STATUSES) -> str:
    """One of the allowed message statuses."""
    if value not in allowed:
        raise InvalidInput(f"status must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def model_name(value: object) -> str | None:
    """The answering model's name, or None."""
    if value is None:
        return None
    return text_value(value, "the model name", MAX_MODEL_CHARS)


def flag(value: object, what: str) -> bool:
    """A real bool (not 0/1 or "yes"), so typos fail loudly."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be True or False, not {value!r}")
    return value


def sha256(value: object) -> str:
    """A lowercase 64-hex-digit SHA-256."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise InvalidInput(f"not a SHA-256 hex digest: {value!r}")
    return value.lower()


def record_id(value: object, what: str = "id") -> str:
    """A canonical lowercase UUID string."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a UUID string, not {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f"{what} is not a valid UUID: {value!r}") from None


def id_prefix(value: object) -> str:
    """A lowercase short id (hex digits and dashes) of at least one character."""
    if not isinstance(value, str):
        raise InvalidInput(f"an id prefix must be text, not {type(value).__name__}")
    prefix = value.strip().lower()
    if not _ID_PREFIX.fullmatch(prefix):
        raise InvalidInput(f"{value!r} is not an id or id prefix (hex digits and dashes)")
    return prefix


def limit(value: object, maximum: int = 1000) -> int:
    """A page size between 1 and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"limit must be an integer from 1 to {maximum}, not {value!r}")
    return value
