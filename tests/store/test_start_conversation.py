"""A conversation and its first question are written together or not at all."""

from __future__ import annotations

import pytest

from snapask_desktop.store import Store
from snapask_desktop.store.errors import InvalidInput, NotFound
from tests.store.helpers import png_bytes


def test_start_writes_conversation_question_and_both_outbox_ops(store: Store) -> None:
    shot = store.add_screenshot(png_bytes())
    conversation, question = store.start_conversation(
        "Why?", "why is this red?", screenshot_sha256=shot.sha256
    )
    detail = store.get_conversation(conversation.id)
    assert detail.messages == (question,)
    assert question.screenshot_sha256 == shot.sha256 and question.role == "user"
    kinds = [(op.record_type, op.record_id) for op in store.outbox_pending()]
    assert kinds[-2:] == [("conversation", conversation.id), ("message", question.id)]


def test_start_with_unknown_picture_leaves_nothing(store: Store) -> None:
    before = store.outbox_count()
    with pytest.raises(NotFound):
        store.start_conversation("t", "q", screenshot_sha256="ab" * 32)
    assert store.list_conversations() == []
    assert store.outbox_count() == before


def test_start_with_invalid_question_leaves_nothing(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.start_conversation("t", "x" * 300_000)
    assert store.list_conversations() == []
