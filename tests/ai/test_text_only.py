"""Pictures sent as their text to models that read none: the rules, and the client against the
local OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapask_desktop.ai.cache import AnswerCache
from snapask_desktop.ai.client import AIClient
from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.resilience import RetryPolicy
from snapask_desktop.ai.text_only import as_text, picture_as_text, takes_no_pictures
from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind, ImageInput, Turn
from tests.ai.screens import png_bytes, screenshot
from tests.support.fake_openai import FakeOpenAI, openai_error

MODEL = "phi3"
OLLAMA_NO_PICTURES = (
    "Failed to create new sequence: failed to process inputs: this model is missing data "
    "required for image input"
)


def test_the_servers_words_for_no_pictures_are_told_from_other_errors() -> None:
    assert takes_no_pictures(OLLAMA_NO_PICTURES)
    assert takes_no_pictures("image input is not supported - hint: provide the mmproj")
    assert takes_no_pictures("This model doesn't support vision")
    assert takes_no_pictures("images are not supported by this model")
    for other in ("model 'x' not found", "context length exceeded", "invalid image data"):
        assert not takes_no_pictures(other)


def test_each_picture_becomes_its_text_and_the_question_follows() -> None:
    picture = ImageInput.from_bytes(b"png")
    request = AskRequest(
        model=MODEL,
        system="Be brief.",
        turns=(
            Turn("user", "What does it say?", picture),
            Turn("model", "An error."),
            Turn("user", "", picture),
            Turn("user", "And this?", picture),
        ),
    )
    texts = as_text(request, ["Error 404: page not found", "  ", None])
    assert texts.system == "Be brief." and texts.model == MODEL
    assert all(turn.image is None for turn in texts.turns)
    first, answer, empty, unread = texts.turns
    assert first.text.endswith("Error 404: page not found\n[End of the screenshot's text]\n\n"
                               "What does it say?")  # fmt: skip
    assert answer.text == "An error."
    assert empty.text == picture_as_text("") and "no text was found" in empty.text
    assert unread.text.startswith(picture_as_text(None)) and unread.text.endswith("And this?")


def with_picture(read: list[str]) -> AskRequest:
    def read_text() -> str:
        read.append("read")
        return "TOTP secret setup: scan the code"

    image = ImageInput.from_bytes(png_bytes(screenshot(640, 400)), read_text=read_text)
    return AskRequest(model=MODEL, turns=(Turn("user", "What is this dialog?", image),))


def image_parts(body: dict) -> int:  # type: ignore[type-arg]
    return sum(
        1
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    )


def client_for(fake: FakeOpenAI, mode: str, cache: AnswerCache | None = None) -> AIClient:
    retry = RetryPolicy(max_attempts=4, initial_wait_s=0.01, max_wait_s=0.02, jitter_s=0)
    provider = OpenAICompatProvider(fake.base_url, timeout_s=5)
    return AIClient(provider, retry=retry, pictures=mode, cache=cache)  # type: ignore[arg-type]


def test_auto_sends_the_picture_then_its_text_once_the_model_says_it_reads_none(
    fake_openai: FakeOpenAI,
) -> None:
    read: list[str] = []
    fake_openai.script(openai_error(500, OLLAMA_NO_PICTURES, "api_error"))
    with client_for(fake_openai, "auto") as client:
        answer = client.ask(with_picture(read)).result()
        assert "TOTP secret setup: scan the code" in answer  # the fake echoes what it got
        first, second = (request.body for request in fake_openai.chat_requests())
        assert image_parts(first) == 1 and image_parts(second) == 0  # one try, not retried
        assert "TOTP secret setup" in second["messages"][-1]["content"]
        assert client.reads_no_pictures(MODEL) and not client.reads_no_pictures("llava")
        client.ask(with_picture(read)).result()  # learnt: straight to the text
    third = fake_openai.chat_requests()[2].body
    assert image_parts(third) == 0 and read == ["read", "read"]


def test_text_mode_never_sends_a_picture(fake_openai: FakeOpenAI) -> None:
    read: list[str] = []
    with client_for(fake_openai, "text") as client:
        assert "scan the code" in client.ask(with_picture(read)).result()
    [sent] = fake_openai.chat_requests()
    assert image_parts(sent.body) == 0 and read == ["read"]


def test_send_mode_says_what_to_do_and_reads_nothing(fake_openai: FakeOpenAI) -> None:
    read: list[str] = []
    fake_openai.script(openai_error(500, OLLAMA_NO_PICTURES, "api_error"))
    with client_for(fake_openai, "send") as client:
        stream = client.ask(with_picture(read))
        with pytest.raises(AIError) as caught:
            stream.result()
    assert caught.value.kind is ErrorKind.NO_PICTURES
    assert len(fake_openai.chat_requests()) == 1 and read == []


def test_a_picture_whose_text_cannot_be_read_still_lets_the_question_go(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    def broken() -> str:
        raise RuntimeError("the OCR engine crashed")

    image = ImageInput.from_bytes(b"not even a picture", read_text=broken)
    request = AskRequest(model=MODEL, turns=(Turn("user", "What is it?", image),))
    with client_for(fake_openai, "text", AnswerCache(tmp_path / "c.db")) as client:
        answer = client.ask(request).result()
    assert "could not be read here" in answer and "What is it?" in answer
    [sent] = fake_openai.chat_requests()
    assert image_parts(sent.body) == 0
