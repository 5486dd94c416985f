"""Provider-neutral request types and the one error type every AI failure becomes."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ImageInput:
    """An image attached to a turn; `sha256` is the hash of `data` (the store's blob hash).

    `prepared` says whether `data` was already passed through `prepare_image`; when it is
    False the AI client downsizes and re-encodes it (once, memoised) before sending.
    `read_text`, when given, returns the text read from the picture ("" if none, None if it
    could not be read); it is called only for a model that reads no pictures (it may run OCR).
    """

    data: bytes = field(repr=False)
    mime: str
    sha256: str
    prepared: bool = False
    read_text: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        mime: str = "image/png",
        *,
        prepared: bool = False,
        read_text: Callable[[], str | None] | None = None,
    ) -> ImageInput:
        """Wrap raw bytes, computing their SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        return cls(data=data, mime=mime, sha256=sha256, prepared=prepared, read_text=read_text)


@dataclass(frozen=True)
class Turn:
    """One message of the conversation: the user's question (maybe with a picture) or an answer."""

    role: Literal["user", "model"]
    text: str
    image: ImageInput | None = None


@dataclass(frozen=True)
class AskRequest:
    """All a provider needs for one answer: model, full history (the last turn is the question)."""

    model: str
    turns: tuple[Turn, ...]
    system: str | None = None


class ErrorKind(enum.Enum):
    """Why an AI request failed; decides retrying, breaker counting and the message shown."""

    NO_KEY = "no_key"
    INVALID_KEY = "invalid_key"
    QUOTA = "quota"
    OFFLINE = "offline"
    SAFETY = "safety"
    MODEL_NOT_FOUND = "model_not_found"
    TIMEOUT = "timeout"
    SERVER = "server"
    BAD_RESPONSE = "bad_response"
    BAD_REQUEST = "bad_request"
    CANCELLED = "cancelled"
    BAD_IMAGE = "bad_image"
    UNAVAILABLE = "unavailable"
    NO_PICTURES = "no_pictures"  # the model reads no pictures (a text-only model)


# Transient by nature: worth another attempt after a wait.
RETRYABLE_KINDS = frozenset(
    {ErrorKind.QUOTA, ErrorKind.OFFLINE, ErrorKind.TIMEOUT, ErrorKind.SERVER}
)


class AIError(Exception):
    """A failed AI request: `user_message` is shown to people, `detail` goes to logs only."""

    def __init__(
        self,
        kind: ErrorKind,
        user_message: str,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(user_message)
        self.kind = kind
        self.user_message = user_message
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after = retry_after
        self.detail = detail

    def __repr__(self) -> str:
        return f"AIError({self.kind.name}, {self.user_message!r}, retryable={self.retryable})"
