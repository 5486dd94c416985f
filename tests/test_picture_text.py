"""Pictures on their way into the store (ChatService + PictureText on a real store and OCR)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.chat import ChatService
from snapask_desktop.config import Settings
from snapask_desktop.picture_text import PictureText
from snapask_desktop.redact.guard import RedactionFailed
from snapask_desktop.redact.paint import png_bytes
from snapask_desktop.store import Store
from tests.ocr.samples import DIALOG, font, render
from tests.redact.screens import secret_screen


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


class Switches:
    """The settings PictureText reads at each picture, changeable mid-test."""

    def __init__(self) -> None:
        self.settings = Settings()

    def set(self, **changes: bool) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)


@pytest.fixture
def switches() -> Switches:
    return Switches()


@pytest.fixture
def pictures(switches: Switches) -> Iterator[PictureText]:
    reader = PictureText(lambda: switches.settings)
    yield reader
    reader.close()


def _chat(store: Store, pictures: PictureText) -> ChatService:
    def no_client(_name: str):
        raise AssertionError("nothing is asked here")

    return ChatService(store, no_client, pictures)


def test_the_text_is_read_after_the_picture_is_kept(store: Store, pictures: PictureText) -> None:
    data = png_bytes(render(DIALOG, font("Sans", 13)))
    question = _chat(store, pictures).start_conversation("what now?", data)
    pictures.wait(timeout_s=60)
    sha = store.get_conversation(question.conversation_id).messages[0].screenshot_sha256
    assert sha is not None and store.screenshot_bytes(sha) == data  # kept as it was
    assert "Save changes to the document" in (store.screenshot_text(sha) or "")
    assert [h.summary.id for h in store.search("closing")] == [question.conversation_id]


def test_with_redaction_the_kept_picture_and_text_are_redacted(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    switches.set(redact_secrets=True)
    original = png_bytes(secret_screen(13).image)
    question = _chat(store, pictures).start_conversation("why?", original)
    sha = store.get_conversation(question.conversation_id).messages[0].screenshot_sha256
    assert sha is not None and store.screenshot_bytes(sha) != original
    text = store.screenshot_text(sha) or ""  # kept at once: redaction read it
    assert "[redacted]" in text and "hunter2" not in text


def test_a_failed_redaction_keeps_nothing(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    switches.set(redact_secrets=True)
    with pytest.raises(RedactionFailed):
        _chat(store, pictures).start_conversation("why?", b"\x89PNG\r\n\x1a\nbroken")
    assert store.list_conversations() == []


def test_reading_can_be_switched_off(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    switches.set(read_picture_text=False)
    data = png_bytes(render(DIALOG, font("Sans", 13)))
    question = _chat(store, pictures).start_conversation("what now?", data)
    pictures.wait(timeout_s=60)
    sha = store.get_conversation(question.conversation_id).messages[0].screenshot_sha256
    assert sha is not None and store.screenshot_text(sha) is None


def test_a_text_only_model_is_sent_the_picture_s_text_read_here(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    from snapask_desktop.ai.client import AIClient
    from snapask_desktop.ai.openai_compat import OpenAICompatProvider
    from snapask_desktop.ai.resilience import RetryPolicy
    from tests.support.fake_openai import FakeOpenAI, openai_error

    switches.set(read_picture_text=False)  # not read when kept: read when the model needs it
    data = png_bytes(render(DIALOG, font("Sans", 13)))
    with FakeOpenAI() as fake:
        provider = OpenAICompatProvider(fake.base_url, timeout_s=10)
        retry = RetryPolicy(max_attempts=1)
        with AIClient(provider, retry=retry, pictures="auto") as client:
            chat = ChatService(store, lambda _name: client, pictures)
            question = chat.start_conversation("Which button keeps my work?", data)
            fake.script(openai_error(500, "this model is missing data required for image input",
                                     "api_error"))  # fmt: skip
            result = chat.answer(question.conversation_id, provider="openai", model="phi3").wait()
        bodies = [request.body for request in fake.chat_requests()]
    assert result.status == "final", result.error
    assert isinstance(bodies[0]["messages"][-1]["content"], list)  # the picture, first
    sent = bodies[1]["messages"][-1]["content"]
    assert isinstance(sent, str)  # then its text
    assert "Save changes to the document" in sent and sent.endswith("Which button keeps my work?")
    sha = store.get_conversation(question.conversation_id).messages[0].screenshot_sha256
    assert sha is not None and "Save changes" in (store.screenshot_text(sha) or "")  # kept


def test_pictures_kept_without_their_text_are_read_newest_first_and_found(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    switches.set(read_picture_text=False)  # as before OCR was installed, or reading was off
    chat = _chat(store, pictures)
    lines = ["Invoice 2041 is overdue", "Deploy finished on staging", "Quarterly budget draft"]
    asked = [chat.start_conversation("what?", png_bytes(render([line], font("Sans", 15))))
             for line in lines]  # fmt: skip
    assert len(store.unread_pictures()) == 3 and store.search("staging") == []
    pictures.read_missing(store)  # reading is off: nothing happens
    pictures.wait(timeout_s=60)
    assert len(store.unread_pictures()) == 3

    switches.set(read_picture_text=True)
    pictures.read_missing(store)
    pictures.read_missing(store)  # one sweep at a time: a second ask adds nothing
    pictures.wait(timeout_s=120)
    assert store.unread_pictures() == []
    assert [h.summary.id for h in store.search("staging")] == [asked[1].conversation_id]
    assert [h.summary.id for h in store.search("invoice")] == [asked[0].conversation_id]


def test_a_picture_whose_bytes_are_not_here_is_read_when_they_arrive(
    store: Store, pictures: PictureText, tmp_path: Path
) -> None:
    data = png_bytes(render(DIALOG, font("Sans", 13)))
    sha = store.add_screenshot(data).sha256
    blob = next(path for path in (tmp_path / "data" / "blobs").rglob(f"{sha}*") if path.is_file())
    blob.unlink()  # as a synced picture's record before its bytes are downloaded
    assert store.missing_blob(sha)
    pictures.read_missing(store)
    pictures.wait(timeout_s=60)
    assert store.unread_pictures() == [sha]
    store.put_blob(sha, data)
    pictures.read_later(store, sha)  # the app does this when the download ends
    pictures.wait(timeout_s=60)
    assert "Save changes" in (store.screenshot_text(sha) or "")


def test_closing_drops_the_backlog_after_the_picture_being_read(
    store: Store, pictures: PictureText, switches: Switches
) -> None:
    switches.set(read_picture_text=False)
    for n in range(6):
        store.add_screenshot(png_bytes(render([f"Backlog page {n}"], font("Sans", 15))))
    switches.set(read_picture_text=True)
    pictures.read_missing(store)
    pictures.close()  # returns after at most the picture being read
    assert len(store.unread_pictures()) >= 5
