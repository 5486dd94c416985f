"""Exporting conversations with their pictures: Markdown files or one JSON document.

A portable copy of the user's data: every picture is written next to the text under its hash,
so the export is complete without SnapAsk.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from snapask_desktop.image_formats import EXTENSIONS
from snapask_desktop.store.records import ConversationDetail, Message
from snapask_desktop.store.repository import Store

FORMATS = ("md", "json")


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    folder: Path
    conversations: int
    pictures: int


def all_conversation_ids(store: Store, page: int = 200) -> Iterator[str]:
    """Every visible conversation (archived included), newest first, page by page."""
    before = None
    while True:
        rows = store.list_conversations(limit=page, before=before, include_archived=True)
        yield from (row.id for row in rows)
        if len(rows) < page:
            return
        before = rows[-1]


def export(store: Store, ids: list[str], folder: Path, fmt: str) -> ExportReport:
    """Write the conversations `ids` into `folder` as Markdown files or conversations.json."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    pictures: dict[str, str] = {}
    details = [store.get_conversation(conversation_id) for conversation_id in ids]
    for detail in details:
        for message in detail.messages:
            sha = message.screenshot_sha256
            if sha is not None and sha not in pictures:
                pictures[sha] = _write_picture(store, folder, sha)
    if fmt == "json":
        document = {"format": "snapask-export", "version": 1, "exported_at": _now_ms()}
        document["conversations"] = [conversation_json(detail, pictures) for detail in details]
        text = json.dumps(document, indent=2, ensure_ascii=False)
        (folder / "conversations.json").write_text(text + "\n", encoding="utf-8")
    else:
        for detail in details:
            path = folder / _markdown_name(detail)
            path.write_text(_as_markdown(detail, pictures), encoding="utf-8")
    return ExportReport(folder, len(details), len(pictures))


def _write_picture(store: Store, folder: Path, sha: str) -> str:
    info = store.screenshot_info(sha)
    relative = f"images/{sha}.{EXTENSIONS.get(info.mime, 'bin')}"
    target = folder / relative
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(store.screenshot_bytes(sha, verify=True))
    return relative


def conversation_json(detail: ConversationDetail, pictures: dict[str, str]) -> dict[str, object]:
    """A conversation as plain JSON data; `pictures` maps a picture's hash to its reference."""
    conversation = detail.conversation
    return {
        "id": conversation.id,
        "title": conversation.title,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "messages": [
            {
                "id": m.id,
                "role": m.role,
                "text": m.text,
                "model": m.model,
                "status": m.status,
                "created_at": m.created_at,
                "picture": pictures.get(m.screenshot_sha256) if m.screenshot_sha256 else None,
            }
            for m in detail.messages
        ],
    }


def _as_markdown(detail: ConversationDetail, pictures: dict[str, str]) -> str:
    conversation = detail.conversation
    lines = [f"# {conversation.title or 'Untitled'}", ""]
    lines.append(f"*{_when(conversation.created_at)} · conversation `{conversation.id}`*")
    for message in detail.messages:
        lines += ["", f"## {_speaker(message)} · {_when(message.created_at)}", ""]
        if message.screenshot_sha256:
            lines += [f"![screenshot]({pictures[message.screenshot_sha256]})", ""]
        lines.append(message.text)
    return "\n".join(lines) + "\n"


def _speaker(message: Message) -> str:
    if message.role == "user":
        return "You"
    suffix = {"cancelled": " (stopped)", "error": " (failed)"}.get(message.status, "")
    return f"{message.model or 'AI'}{suffix}"


def _markdown_name(detail: ConversationDetail) -> str:
    conversation = detail.conversation
    day = time.strftime("%Y-%m-%d", time.localtime(conversation.created_at / 1000))
    slug = re.sub(r"[^\w]+", "-", conversation.title.lower(), flags=re.UNICODE).strip("-")
    return f"{day}-{slug[:40] or 'conversation'}-{conversation.id[:8]}.md"


def _when(unix_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix_ms / 1000))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
