"""The chat service on a real store and the real AI client against the fake Gemini."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.ai.client import AIClient
from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.resilience import RetryPolicy
from snapask_desktop.ai.types import ErrorKind
from snapask_desktop.chat import ChatService, build_turns, make_title, stored_picture
from snapask_desktop.editor.marks import Redaction
from snapask_desktop.redact.paint import FILL
from snapask_desktop.store import Store
from snapask_desktop.store.errors import InvalidInput, NotFound
from tests.store.helpers import png_bytes
from tests.support import fake_gemini as fg
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def chat(store: Store, gemini: FakeGemini) -> Iterator[ChatService]:
    provider = GeminiProvider("test-key", base_url=gemini.url)
    client = AIClient(provider, retry=RetryPolicy(max_attempts=1))
    yield ChatService(store, lambda _name: client)
    client.close()


def test_make_title() -> None:
    assert make_title("  \n what is this?\nmore") == "what is this?"
    long = make_title("word " * 40)
    assert len(long) == 60 and long.endswith("…")
    assert make_title("", now_ms=0).startswith("Screenshot ")


def test_answer_is_saved_after_streaming(chat: ChatService, store: Store) -> None:
    question = chat.start_conversation("what is it?", png_bytes())
    answer = chat.answer(question.conversation_id, provider="gemini", model="m")
    chunks = list(answer)
    assert "".join(chunks) == "You asked: what is it? [1 image]."
    result = answer.result
    assert result is not None and result.status == "final" and result.message is not None
    messages = store.get_conversation(question.conversation_id).messages
    assert [(m.role, m.status, m.model) for m in messages] == [
        ("user", "final", None),
        ("model", "final", "m"),
    ]


def test_failed_answer_keeps_question_only(chat: ChatService, store: Store, gemini) -> None:
    gemini.script(fg.invalid_key())
    question = chat.start_conversation("q", None)
    result = chat.answer(question.conversation_id, provider="gemini", model="m").wait()
    assert result.status == "error" and result.message is None
    assert result.error is not None and result.error.kind is ErrorKind.INVALID_KEY
    assert len(store.get_conversation(question.conversation_id).messages) == 1


def test_cancel_from_another_thread_keeps_partial(chat: ChatService, store: Store, gemini):
    gemini.script(fg.Stall(chunks=("half ", "done"), seconds=30))
    question = chat.start_conversation("slow", None)
    answer = chat.answer(question.conversation_id, provider="gemini", model="m")
    received: list[str] = []
    for chunk in answer:
        received.append(chunk)
        if "".join(received) == "half done":
            threading.Timer(0.05, answer.cancel).start()
    assert answer.result is not None and answer.result.status == "cancelled"
    saved = store.get_conversation(question.conversation_id).messages[-1]
    assert (saved.status, saved.text) == ("cancelled", "half done")


def test_follow_up_history_skips_cancelled_answers(chat: ChatService, store: Store) -> None:
    first = chat.start_conversation("one", png_bytes())
    cid = first.conversation_id
    store.add_message(cid, "model", "frag", status="cancelled")
    chat.add_question(cid, "two")
    turns = build_turns(store.get_conversation(cid), lambda sha: stored_picture(store, sha))
    assert [(t.role, t.text) for t in turns] == [("user", "one\n\ntwo")]
    assert turns[0].image is not None and turns[0].image.sha256 == first.screenshot_sha256


def test_a_follow_up_brings_its_own_picture_painted_like_the_first(
    chat: ChatService, store: Store
) -> None:
    first = chat.start_conversation("what is this?", png_bytes(seed=1))
    cid = first.conversation_id
    chat.answer(cid, provider="gemini", model="m").wait()
    hidden = Redaction((10, 10, 60, 40))
    painted: list[int] = []
    follow_up = chat.add_question(
        cid,
        "and this one?",
        png_bytes(seed=2),
        on_redacted=lambda _data, count: painted.append(count),
        marks=(hidden,),
    )
    assert follow_up.screenshot_sha256 not in (None, first.screenshot_sha256)
    kept = Image.open(io.BytesIO(store.screenshot_bytes(follow_up.screenshot_sha256)))
    assert kept.convert("RGB").crop((10, 10, 60, 40)).getcolors() == [(50 * 30, FILL)]
    assert painted == []  # the user's marks are not "secrets found"
    # Both pictures go to the provider, each in its own turn.
    text = "".join(chat.answer(cid, provider="gemini", model="m"))
    assert text == "You asked: and this one? [2 images]."
    turns = build_turns(store.get_conversation(cid), lambda sha: stored_picture(store, sha))
    shas = [t.image.sha256 for t in turns if t.image is not None]
    assert shas == [first.screenshot_sha256, follow_up.screenshot_sha256]


def test_pictures_go_to_the_provider_with_the_type_the_store_recorded(store: Store) -> None:
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), "teal").save(out, fmt)
        sha = store.add_screenshot(out.getvalue()).sha256
        image = stored_picture(store, sha)
        assert (image.mime, image.sha256, image.data) == (mime, sha, out.getvalue())


def test_answer_needs_a_waiting_question(chat: ChatService, store: Store) -> None:
    question = chat.start_conversation("q", None)
    chat.answer(question.conversation_id, provider="gemini", model="m").wait()
    with pytest.raises(ValueError, match="no question"):
        chat.answer(question.conversation_id, provider="gemini", model="m")


def test_answer_the_store_refuses_keeps_its_text(chat: ChatService, store: Store) -> None:
    question = chat.start_conversation("q", None)
    cid = question.conversation_id
    answer = chat.answer(cid, provider="gemini", model="m")
    store.delete_conversation(cid)  # deleted (on this device or by sync) while it streamed
    result = answer.wait()
    assert (result.status, result.text, result.message) == ("final", "You asked: q.", None)
    assert isinstance(result.save_error, NotFound)


def test_answer_text_the_store_cannot_hold_is_reported(chat: ChatService, store, gemini) -> None:
    gemini.script(fg.Reply(("broken \ud800 text",)))  # a lone surrogate: not valid Unicode
    question = chat.start_conversation("q", None)
    result = chat.answer(question.conversation_id, provider="gemini", model="m").wait()
    assert result.text == "broken \ud800 text" and result.message is None
    assert isinstance(result.save_error, InvalidInput)
    assert "not valid Unicode" in str(result.save_error)
    assert len(store.get_conversation(question.conversation_id).messages) == 1


def test_export_keeps_each_picture_of_a_conversation_in_place(
    chat: ChatService, store: Store, tmp_path: Path
) -> None:
    from snapask_desktop.export import export

    first = chat.start_conversation("what is this?", png_bytes(seed=1))
    cid = first.conversation_id
    store.add_message(cid, "model", "a box", model="m")
    follow_up = chat.add_question(cid, "and this?", png_bytes(seed=2))
    report = export(store, [cid], tmp_path / "md", "md")
    assert report.pictures == 2
    (page,) = (tmp_path / "md").glob("*.md")
    text = page.read_text()
    shown = [text.index(m.screenshot_sha256[:12]) for m in (first, follow_up)]
    assert shown[0] < text.index("a box") < shown[1]  # each picture with its own question
    document = export(store, [cid], tmp_path / "json", "json")
    assert document.pictures == 2
