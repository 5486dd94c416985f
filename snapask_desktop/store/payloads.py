"""Outbox payloads: the full state of a record, in the exact shape the sync layer sends (pure)."""

from __future__ import annotations

from typing import Any

from snapask_desktop.store.records import Conversation, Message, ScreenshotInfo


def conversation_payload(conversation: Conversation, device_id: str = "") -> dict[str, Any]:
    """The synced fields of a conversation (``last_activity_at`` is local and left out).

    ``device`` is the record's own writer; ``device_id`` only stands in for a record made
    without one. (The store itself sends ``sync.records.ConversationState.to_wire()``.)
    """
    return {
        "type": "conversation",
        "id": conversation.id,
        "title": conversation.title,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "deleted": conversation.deleted,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "vv": dict(conversation.vv),
        "hlc": conversation.hlc,
        "field_hlc": {name: list(stamp) for name, stamp in conversation.field_hlc.items()},
        "device": conversation.device or device_id,
    }


def message_payload(message: Message) -> dict[str, Any]:
    """A message that is no longer pending."""
    if message.status == "pending":
        raise ValueError("a pending message is not sent until it is finalised")
    return {
        "type": "message",
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "text": message.text,
        "model": message.model,
        "status": message.status,
        "screenshot_sha256": message.screenshot_sha256,
        "hlc": message.hlc,
        "device": message.device_id,
        "created_at": message.created_at,
    }


def screenshot_payload(screenshot: ScreenshotInfo) -> dict[str, Any]:
    """Screenshot metadata; the bytes travel separately by hash."""
    return {
        "type": "screenshot",
        "sha256": screenshot.sha256,
        "size_bytes": screenshot.size_bytes,
        "width": screenshot.width,
        "height": screenshot.height,
        "mime": screenshot.mime,
    }
