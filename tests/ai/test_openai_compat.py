"""OpenAICompatProvider against the local fake OpenAI-compatible server (real HTTP, SSE)."""

from __future__ import annotations

import base64
import socket

import pytest

from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind, ImageInput, Turn
from tests.ai.helpers import ask, drain, drain_until_error
from tests.support.fake_openai import (
    CutOff,
    ErrorReply,
    FakeOpenAI,
    Malformed,
    Reply,
    Safety,
    Stall,
    model_not_found,
    openai_error,
)

MODEL = "llava"


def error_of(provider: OpenAICompatProvider, request: AskRequest | None = None) -> AIError:
    chunks, exc = drain_until_error(provider.stream(request or ask(model=MODEL)))
    assert isinstance(exc, AIError), f"expected AIError, got {exc!r} after {chunks}"
    return exc


def test_streams_chunks_until_done(fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider) -> None:
    fake_openai.script(Reply(("A ", "cat ", "photo.")))
    assert drain(local_ai.stream(ask(model=MODEL))) == ["A ", "cat ", "photo."]


def test_wire_body_has_history_image_and_system(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider
) -> None:
    image = ImageInput.from_bytes(b"\xff\xd8\xffjpeg", "image/jpeg", prepared=True)
    request = AskRequest(
        model=MODEL,
        system="Be brief.",
        turns=(
            Turn("user", "What is this?", image),
            Turn("model", "A chart."),
            Turn("user", "What is its peak?"),
        ),
    )
    assert "".join(drain(local_ai.stream(request))) == "You asked: What is its peak? [1 image]."
    [sent] = fake_openai.chat_requests()
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") is None  # no key configured: none sent
    body = sent.body
    assert body["stream"] is True
    assert body["model"] == MODEL
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "Be brief."
    url = messages[1]["content"][0]["image_url"]["url"]
    assert url == "data:image/jpeg;base64," + base64.b64encode(image.data).decode()
    assert messages[1]["content"][1] == {"type": "text", "text": "What is this?"}
    assert messages[2]["content"] == "A chart."


def test_bearer_key_and_rejection() -> None:
    with FakeOpenAI(accepted_keys={"lm-key"}) as fake:
        good = OpenAICompatProvider(fake.base_url, api_key="lm-key", timeout_s=5)
        assert drain(good.stream(ask("hi", model=MODEL))) == ["You asked: ", "hi", "."]
        assert fake.chat_requests()[0].header("authorization") == "Bearer lm-key"
        bad = OpenAICompatProvider(fake.base_url, api_key="nope-secret", timeout_s=5)
        error = error_of(bad)
        assert error.kind is ErrorKind.INVALID_KEY
        assert "nope-secret" not in error.detail


def test_unknown_model(fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider) -> None:
    fake_openai.script(model_not_found("llava"))
    error = error_of(local_ai)
    assert error.kind is ErrorKind.MODEL_NOT_FOUND
    assert "Model 'llava' was not found" in error.user_message


def test_wrong_base_url_is_explained(fake_openai: FakeOpenAI) -> None:
    provider = OpenAICompatProvider(fake_openai.url + "/api", timeout_s=5)
    error = error_of(provider)
    assert error.kind is ErrorKind.BAD_REQUEST
    assert "no chat endpoint" in error.user_message


def test_rate_limit_honours_retry_after(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider
) -> None:
    reply = openai_error(429, "Rate limit reached", "rate_limit_error")
    fake_openai.script(ErrorReply(429, reply.body, {"Retry-After": "3"}))
    error = error_of(local_ai)
    assert error.kind is ErrorKind.QUOTA
    assert error.retry_after == 3


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider, status: int
) -> None:
    fake_openai.script(openai_error(status, "model crashed", "server_error"))
    error = error_of(local_ai)
    assert error.kind is ErrorKind.SERVER
    assert error.retryable
    assert "model crashed" in error.user_message


def test_bad_request_passes_the_server_words(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider
) -> None:
    fake_openai.script(openai_error(400, "the prompt exceeds the context length", "invalid"))
    error = error_of(local_ai)
    assert error.kind is ErrorKind.BAD_REQUEST
    assert "exceeds the context length" in error.user_message


@pytest.mark.parametrize(
    ("status", "message"),
    [  # the servers' own words when a model that reads no pictures is sent one
        (500, "Failed to create new sequence: failed to process inputs: this model is "
         "missing data required for image input"),  # Ollama
        (500, "image input is not supported - hint: if this is unexpected, you may need to "
         "provide the mmproj"),  # llama.cpp's server
        (400, "Model does not support images. Please use a model that does."),  # LM Studio
    ],
)  # fmt: skip
def test_a_model_that_reads_no_pictures_is_named_as_such_and_not_retried(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider, status: int, message: str
) -> None:
    fake_openai.script(openai_error(status, message, "api_error"))
    error = error_of(local_ai)
    assert error.kind is ErrorKind.NO_PICTURES
    assert not error.retryable
    assert f"'{MODEL}'" in error.user_message and "openai_pictures text" in error.user_message


def test_cut_off_mid_stream(fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider) -> None:
    fake_openai.script(CutOff(("Par", "tial")))
    chunks, exc = drain_until_error(local_ai.stream(ask(model=MODEL)))
    assert chunks == ["Par", "tial"]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SERVER
    assert exc.retryable


def test_stream_ending_without_done(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider
) -> None:
    fake_openai.script(CutOff(("Par",), clean=True))
    chunks, exc = drain_until_error(local_ai.stream(ask(model=MODEL)))
    assert chunks == ["Par"]
    assert isinstance(exc, AIError)
    assert "dropped" in exc.user_message


def test_malformed_chunk(fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider) -> None:
    fake_openai.script(Malformed(("ok",)))
    chunks, exc = drain_until_error(local_ai.stream(ask(model=MODEL)))
    assert chunks == ["ok"]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.BAD_RESPONSE


def test_content_filter(fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider) -> None:
    fake_openai.script(Safety(("I can",)))
    chunks, exc = drain_until_error(local_ai.stream(ask(model=MODEL)))
    assert chunks == ["I can"]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SAFETY


def test_stall_times_out(fake_openai: FakeOpenAI) -> None:
    provider = OpenAICompatProvider(fake_openai.base_url, timeout_s=0.3)
    fake_openai.script(Stall(("Hmm",), seconds=10))
    chunks, exc = drain_until_error(provider.stream(ask(model=MODEL)))
    assert chunks == ["Hmm"]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.TIMEOUT


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    error = error_of(OpenAICompatProvider(url, timeout_s=2))
    assert error.kind is ErrorKind.OFFLINE
    assert url in error.user_message
    assert "running" in error.user_message


def test_invalid_base_url() -> None:
    error = error_of(OpenAICompatProvider("localhost:11434/v1"))
    assert error.kind is ErrorKind.BAD_REQUEST
    assert "not a valid http(s) URL" in error.user_message
