"""The interface every AI backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from snapask_desktop.ai import errors
from snapask_desktop.ai.types import AskRequest


@runtime_checkable
class Provider(Protocol):
    """An AI backend: streams the answer's text chunks; every failure is raised as AIError."""

    name: str

    def stream(self, request: AskRequest) -> AsyncIterator[str]:
        """Return an async generator of text chunks for `request` (images already prepared)."""
        ...


def check_request(request: AskRequest, provider: str) -> None:
    """Refuse what no provider could answer: no model, no turns, or not ending in a question."""
    if not request.model.strip():
        raise errors.bad_request(provider, "no model is selected.")
    if not request.turns:
        raise errors.bad_request(provider, "there is no question to send.")
    last = request.turns[-1]
    if last.role != "user" or not (last.text.strip() or last.image):
        raise errors.bad_request(provider, "the conversation must end with a question.")
    for turn in request.turns:
        if turn.role not in ("user", "model"):
            raise errors.bad_request(provider, f"unknown message role {turn.role!r}.")
