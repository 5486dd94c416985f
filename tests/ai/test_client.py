"""AIClient end to end: real providers, real fakes over TCP, real SQLite cache, real threads."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.ai import (
    AIClient,
    AIError,
    AnswerCache,
    AskRequest,
    ErrorKind,
    ImageInput,
    Outcome,
    StreamStatus,
    Turn,
    build_provider,
)
from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.resilience import RetryPolicy
from tests.ai.helpers import KEY, MODEL, ask
from tests.ai.screens import png_bytes, screenshot
from tests.support.fake_gemini import CutOff, FakeGemini, Reply, Stall, overloaded
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
def client(gemini: GeminiProvider, tmp_path: Path, fast_retry: RetryPolicy) -> Iterator[AIClient]:
    with AIClient(gemini, cache=AnswerCache(tmp_path / "answer-cache.db"), retry=fast_retry) as c:
        yield c


@pytest.fixture(scope="module")
def screen_png() -> bytes:
    return png_bytes(screenshot(1920, 1080))


def with_image(png: bytes, text: str = "What does the error say?") -> AskRequest:
    return AskRequest(model=MODEL, turns=(Turn("user", text, ImageInput.from_bytes(png)),))


def sent_image(request_body: dict) -> Image.Image:  # type: ignore[type-arg]
    inline = request_body["contents"][-1]["parts"][0]["inlineData"]
    return Image.open(io.BytesIO(base64.urlsafe_b64decode(inline["data"])))


def test_answer_streams_and_completes(fake_gemini: FakeGemini, client: AIClient) -> None:
    fake_gemini.script(Reply(("It ", "says ", "404.")))
    stream = client.ask(ask())
    assert list(stream) == ["It ", "says ", "404."]
    assert stream.outcome is Outcome.COMPLETED
    assert stream.error is None
    assert stream.text == "It says 404."
    assert not stream.from_cache


def test_repeated_question_is_answered_from_cache(
    fake_gemini: FakeGemini, client: AIClient, screen_png: bytes
) -> None:
    fake_gemini.script(Reply(("A ", "stack ", "trace.")))
    first = client.ask(with_image(screen_png))
    assert first.result() == "A stack trace."
    second = client.ask(with_image(screen_png))
    assert list(second) == ["A stack trace."]
    assert second.from_cache
    assert second.outcome is Outcome.COMPLETED
    assert len(fake_gemini.generate_requests()) == 1
    stats = client.cache.stats()  # type: ignore[union-attr]
    assert (stats.entries, stats.hits) == (1, 1)


def test_cache_persists_across_clients(
    fake_gemini: FakeGemini, gemini: GeminiProvider, tmp_path: Path
) -> None:
    path = tmp_path / "answer-cache.db"
    with AIClient(gemini, cache=AnswerCache(path)) as one:
        assert one.ask(ask("q?")).result() == "You asked: q?."
    with AIClient(gemini, cache=AnswerCache(path)) as two:
        again = two.ask(ask("q?"))
        assert again.result() == "You asked: q?."
        assert again.from_cache
    assert len(fake_gemini.generate_requests()) == 1


def test_cache_hit_needs_no_image_work(
    fake_gemini: FakeGemini, client: AIClient, screen_png: bytes
) -> None:
    client.ask(with_image(screen_png)).result()
    # Same hash, unreadable bytes: a hit must not even decode the picture.
    same_hash = ImageInput(
        data=b"not a png", mime="image/png", sha256=ImageInput.from_bytes(screen_png).sha256
    )
    request = AskRequest(model=MODEL, turns=(Turn("user", "What does the error say?", same_hash),))
    stream = client.ask(request)
    assert stream.result().startswith("You asked: ")
    assert stream.from_cache


def test_image_is_prepared_before_sending(
    fake_gemini: FakeGemini, client: AIClient, screen_png: bytes
) -> None:
    client.ask(with_image(screen_png)).result()
    client.ask(with_image(screen_png, "And the line number?")).result()
    first, second = fake_gemini.generate_requests()
    img = sent_image(first.body)
    assert img.format == "JPEG"
    assert img.size == (1536, 864)
    assert first.body["contents"][0]["parts"][0] == second.body["contents"][0]["parts"][0]


def test_bad_image_fails_before_any_request(fake_gemini: FakeGemini, client: AIClient) -> None:
    stream = client.ask(with_image(b"definitely not an image"))
    with pytest.raises(AIError) as caught:
        stream.result()
    assert caught.value.kind is ErrorKind.BAD_IMAGE
    assert stream.outcome is Outcome.ERROR
    assert fake_gemini.requests == []


def test_failed_answer_is_not_cached(fake_gemini: FakeGemini, client: AIClient) -> None:
    fake_gemini.script(CutOff(("Partial ",)))
    failed = client.ask(ask())
    chunks: list[str] = []
    with pytest.raises(AIError) as caught:
        for chunk in failed:
            chunks.append(chunk)
    assert chunks == ["Partial "]
    assert caught.value.kind is ErrorKind.SERVER
    assert failed.outcome is Outcome.ERROR
    assert failed.error is caught.value
    retry = client.ask(ask())
    assert retry.result() == "You asked: What is on the screen?."
    assert not retry.from_cache
    assert len(fake_gemini.generate_requests()) == 2


@pytest.mark.timeout(20)
def test_cancel_during_a_stall_is_prompt_and_not_cached(
    fake_gemini: FakeGemini, client: AIClient
) -> None:
    fake_gemini.script(Stall(("Thinking",), seconds=60))
    stream = client.ask(ask())
    chunks = iter(stream)
    assert next(chunks) == "Thinking"
    stream.cancel()  # the server sends nothing more for a minute: cancel must not wait for it
    with pytest.raises(AIError) as caught:
        next(chunks)
    assert caught.value.kind is ErrorKind.CANCELLED
    assert stream.outcome is Outcome.CANCELLED
    assert stream.text == "Thinking"
    assert stream.join(10)  # the network task really ended
    assert client.ask(ask()).result() == "You asked: What is on the screen?."
    assert len(fake_gemini.generate_requests()) == 2


@pytest.mark.timeout(20)
def test_cancel_from_another_thread_wakes_the_reader(
    fake_gemini: FakeGemini, client: AIClient
) -> None:
    fake_gemini.script(Stall((), seconds=60))
    stream = client.ask(ask())
    timer = threading.Timer(0.2, stream.cancel)
    timer.start()
    with pytest.raises(AIError) as caught:
        list(stream)  # blocked waiting for a first chunk that never comes
    timer.join()
    assert caught.value.kind is ErrorKind.CANCELLED
    assert stream.outcome is Outcome.CANCELLED
    assert stream.text == ""


def test_cancel_after_completion_changes_nothing(fake_gemini: FakeGemini, client: AIClient) -> None:
    stream = client.ask(ask("hi"))
    stream.result()
    stream.cancel()
    assert stream.outcome is Outcome.COMPLETED
    assert list(stream) == []  # iterating a finished stream ends at once


def test_errors_end_the_stream_with_the_ai_error(fake_gemini: FakeGemini, tmp_path: Path) -> None:
    provider = GeminiProvider("bad-key", base_url=fake_gemini.url)
    with AIClient(provider) as client:
        stream = client.ask(ask())
        with pytest.raises(AIError) as caught:
            list(stream)
    assert caught.value.kind is ErrorKind.INVALID_KEY
    assert stream.outcome is Outcome.ERROR
    assert stream.error is caught.value


def test_retries_are_reported_to_the_caller(fake_gemini: FakeGemini, client: AIClient) -> None:
    fake_gemini.script(overloaded(), Reply(("ok",)))
    seen: list[tuple[int, ErrorKind, float]] = []
    stream = client.ask(ask(), on_retry=lambda n, e, w: seen.append((n, e.kind, w)))
    assert stream.result() == "ok"
    assert seen == [(1, ErrorKind.SERVER, pytest.approx(0.01))]


def test_use_cache_false_always_asks(fake_gemini: FakeGemini, client: AIClient) -> None:
    client.ask(ask()).result()
    fresh = client.ask(ask(), use_cache=False)
    fresh.result()
    assert not fresh.from_cache
    assert len(fake_gemini.generate_requests()) == 2


def test_async_stream_reports_cache_hits(fake_gemini: FakeGemini, client: AIClient) -> None:
    async def twice() -> tuple[list[str], list[str], bool]:
        first = [c async for c in client.stream(ask("x"))]
        status = StreamStatus()
        second = [c async for c in client.stream(ask("x"), status=status)]
        return first, second, status.from_cache

    first, second, from_cache = asyncio.run(twice())
    assert first == ["You asked: ", "x", "."]
    assert second == ["You asked: x."]
    assert from_cache


def test_openai_compatible_end_to_end(
    fake_openai: FakeOpenAI, tmp_path: Path, screen_png: bytes
) -> None:
    provider = build_provider("openai", base_url=fake_openai.base_url)
    assert isinstance(provider, OpenAICompatProvider)
    with AIClient(provider, cache=AnswerCache(tmp_path / "c.db")) as client:
        request = AskRequest(
            model="llava", turns=(Turn("user", "Read it", ImageInput.from_bytes(screen_png)),)
        )
        assert client.ask(request).result() == "You asked: Read it [1 image]."
    [sent] = fake_openai.chat_requests()
    url = sent.body["messages"][0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")


def test_close_cancels_running_answers(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    client = AIClient(gemini)
    fake_gemini.script(Stall((), seconds=60))
    stream = client.ask(ask())
    wait_for(lambda: len(fake_gemini.requests) == 1)  # the request is in the stall
    client.close()
    with pytest.raises(AIError) as caught:
        list(stream)
    assert caught.value.kind is ErrorKind.CANCELLED


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_build_provider() -> None:
    gemini = build_provider("gemini", api_key=KEY, base_url="http://127.0.0.1:9")
    assert isinstance(gemini, GeminiProvider)
    assert gemini.name == "gemini"
    with pytest.raises(AIError) as caught:
        build_provider("openai")
    assert "server address" in caught.value.user_message
    with pytest.raises(AIError) as caught:
        build_provider("claude")
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert "gemini, openai" in caught.value.user_message


def test_a_broken_cache_does_not_cost_the_answer(
    fake_gemini: FakeGemini, gemini: GeminiProvider, tmp_path: Path
) -> None:
    cache = AnswerCache(tmp_path / "c.db")
    with AIClient(gemini, cache=cache) as client:
        cache.close()  # every cache call now fails with sqlite3.ProgrammingError
        assert client.ask(ask("still?")).result() == "You asked: still?."
        assert client.ask(ask("still?")).result() == "You asked: still?."
    assert len(fake_gemini.generate_requests()) == 2


def test_runaway_answer_is_cut_with_a_note(
    fake_gemini: FakeGemini, client: AIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapask_desktop.ai import client as client_module
    from snapask_desktop.store.validate import MAX_TEXT_CHARS

    assert client_module.MAX_ANSWER_CHARS == MAX_TEXT_CHARS  # what the store can keep
    monkeypatch.setattr(client_module, "MAX_ANSWER_CHARS", 200)
    fake_gemini.script(Reply(tuple("x" * 30 for _ in range(40))))
    stream = client.ask(ask("go on forever"))
    text = stream.result()
    assert len(text) <= 200
    assert text.endswith(client_module.TRUNCATION_NOTE)
    assert text.startswith("x" * (200 - len(client_module.TRUNCATION_NOTE)))
