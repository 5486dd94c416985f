"""Valid sync records and payloads for the tests, built from the real code paths."""

from __future__ import annotations

import copy
from typing import Any

from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.merge import edit_conversation, new_conversation
from snapask_desktop.sync.records import ConversationState, MessageRecord, ScreenshotRecord

W = 1_795_000_000_000  # wall ms, November 2026
LAPTOP = "7fe4598c-c82a-4242-ada4-5cb4445b5464"
PHONE = "7ea25a89-0e45-4ab2-b40f-219abfabd145"
TABLET = "c5f6daec-8369-42fe-998d-33aa630d9418"
CONV = "c4b241ed-5754-4db5-a971-53d2a2a9af53"
MSG = "e4b02264-de64-465f-811f-e29692d356f6"
OP = "83ec4597-06e9-4703-8962-94d1945cc842"
SHA = "1b1a9fa4488894d961cc965f8b9e504bf07259feda51609e825ae56d4312405d"


def hlc(ms_after: int, counter: int = 0) -> int:
    """A packed HLC stamp ``ms_after`` milliseconds after W."""
    return ((W + ms_after) << COUNTER_BITS) | counter


def created(title: str = "Error dialog", device: str = LAPTOP, at: int = 0) -> ConversationState:
    """A new conversation made by ``device`` at W + ``at`` ms."""
    return new_conversation(CONV, title, device_id=device, hlc=hlc(at), now_ms=W + at)


def edited(
    state: ConversationState, device: str, at: int, **changes: str | bool
) -> ConversationState:
    """``state`` after a local edit by ``device`` at W + ``at`` ms."""
    return edit_conversation(state, changes, device_id=device, hlc=hlc(at), now_ms=W + at)


def message(
    text: str = "What does this error mean?",
    *,
    message_id: str = MSG,
    device: str = LAPTOP,
    at: int = 5,
    conversation_id: str = CONV,
) -> MessageRecord:
    """A final user message."""
    return MessageRecord(
        id=message_id,
        conversation_id=conversation_id,
        role="user",
        text=text,
        model=None,
        status="final",
        screenshot_sha256=SHA,
        hlc=hlc(at),
        device=device,
        created_at=W + at,
    )


def screenshot() -> ScreenshotRecord:
    """Metadata of a small PNG."""
    return ScreenshotRecord(sha256=SHA, size_bytes=28, width=1, height=1, mime="image/png")


def conversation_wire() -> dict[str, Any]:
    """A valid conversation payload (a fresh deep copy each call)."""
    return copy.deepcopy(edited(created(), PHONE, 60_000, title="Setup dialog").to_wire())


def message_wire() -> dict[str, Any]:
    """A valid message payload."""
    payload = message().to_wire()
    payload.update(role="model", model="gemini-2.5-flash", screenshot_sha256=None)
    return payload


def screenshot_wire() -> dict[str, Any]:
    """A valid screenshot payload."""
    return screenshot().to_wire()


def purge_wire() -> dict[str, Any]:
    """A valid purge payload."""
    return {"type": "purge", "conversation_id": CONV, "screenshots": [SHA]}
