"""GeminiProvider: the real google-genai SDK against the local fake Gemini (real HTTP)."""

from __future__ import annotations

import base64
import socket

import pytest

from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind, ImageInput, Turn
from tests.ai.helpers import KEY, MODEL, ask, drain, drain_until_error
from tests.support.fake_gemini import (
    CutOff,
    ErrorReply,
    FakeGemini,
    Malformed,
    Reply,
    Safety,
    Stall,
    google_error,
    internal_error,
    invalid_key,
    model_not_found,
    overloaded,
    quota_exceeded,
)


def error_of(provider: GeminiProvider, request: AskRequest | None = None) -> AIError:
    chunks, exc = drain_until_error(provider.stream(request or ask()))
    assert isinstance(exc, AIError), f"expected AIError, got {exc!r} after {chunks}"
    return exc


def test_streams_chunks_in_order(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(Reply(("The ", "screen ", "shows ", "a terminal.")))
    assert drain(gemini.stream(ask())) == ["The ", "screen ", "shows ", "a terminal."]


def test_default_reply_echoes_the_question(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    assert "".join(drain(gemini.stream(ask("why is the sky blue?")))) == (
        "You asked: why is the sky blue?."
    )


def test_wire_body_has_history_image_system_and_key(
    fake_gemini: FakeGemini, gemini: GeminiProvider
) -> None:
    image = ImageInput.from_bytes(b"\xff\xd8\xff fake jpeg bytes", "image/jpeg", prepared=True)
    request = AskRequest(
        model=MODEL,
        system="Answer briefly.",
        turns=(
            Turn("user", "What app is this?", image),
            Turn("model", "It is a code editor."),
            Turn("user", "Which language?"),
        ),
    )
    drain(gemini.stream(request))
    [sent] = fake_gemini.generate_requests()
    assert sent.path == f"/v1/models/{MODEL}:streamGenerateContent"
    assert sent.query == {"alt": "sse"}
    assert sent.header("x-goog-api-key") == KEY
    contents = sent.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    inline = contents[0]["parts"][0]["inlineData"]
    assert base64.urlsafe_b64decode(inline["data"]) == image.data
    assert inline["mime_type"] == "image/jpeg"
    assert contents[0]["parts"][1] == {"text": "What app is this?"}
    assert contents[1]["parts"] == [{"text": "It is a code editor."}]
    assert contents[2]["parts"] == [{"text": "Which language?"}]
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Answer briefly."}]


def test_missing_key_fails_without_a_request(fake_gemini: FakeGemini) -> None:
    provider = GeminiProvider(None, base_url=fake_gemini.url)
    error = error_of(provider)
    assert error.kind is ErrorKind.NO_KEY
    assert "snapask key set gemini" in error.user_message
    assert "GEMINI_API_KEY" in error.user_message
    assert fake_gemini.requests == []


def test_wrong_key_is_invalid_key_and_never_logged(fake_gemini: FakeGemini) -> None:
    provider = GeminiProvider("wrong-key-123", base_url=fake_gemini.url, timeout_s=5)
    error = error_of(provider)
    assert error.kind is ErrorKind.INVALID_KEY
    assert not error.retryable
    assert "rejected by Gemini" in error.user_message
    assert "API key not valid" in error.detail
    assert "wrong-key-123" not in error.detail + error.user_message


def test_scripted_invalid_key(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(invalid_key())
    assert error_of(gemini).kind is ErrorKind.INVALID_KEY


def test_unknown_model(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(model_not_found("gemini-9"))
    error = error_of(gemini, ask(model="gemini-9"))
    assert error.kind is ErrorKind.MODEL_NOT_FOUND
    assert "Model 'gemini-9' was not found at Gemini" in error.user_message
    assert "snapask config set gemini_model NAME" in error.user_message


def test_quota_with_retry_info(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(quota_exceeded(retry_delay_s=17))
    error = error_of(gemini)
    assert error.kind is ErrorKind.QUOTA
    assert error.retryable
    assert error.retry_after == 17
    assert "Gemini's quota is used up; try again in 17 s" in error.user_message


def test_quota_retry_after_header_only(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    reply = quota_exceeded(retry_delay_s=None)
    reply.headers["Retry-After"] = "4"
    fake_gemini.script(reply)
    assert error_of(gemini).retry_after == 4


@pytest.mark.parametrize("reply", [internal_error(), overloaded()])
def test_server_errors_are_retryable(
    fake_gemini: FakeGemini, gemini: GeminiProvider, reply: object
) -> None:
    fake_gemini.script(reply)  # type: ignore[arg-type]
    error = error_of(gemini)
    assert error.kind is ErrorKind.SERVER
    assert error.retryable
    # The SDK's own retries are off: exactly one request reached the server.
    assert len(fake_gemini.generate_requests()) == 1


def test_connection_cut_mid_stream(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(CutOff(("Half ", "an ")))
    chunks, exc = drain_until_error(gemini.stream(ask()))
    assert chunks == ["Half ", "an "]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SERVER
    assert exc.retryable
    assert "dropped" in exc.user_message
    assert len(fake_gemini.generate_requests()) == 1  # no silent SDK reconnect


def test_stream_ending_without_finish_reason(
    fake_gemini: FakeGemini, gemini: GeminiProvider
) -> None:
    fake_gemini.script(CutOff(("Half ",), clean=True))
    chunks, exc = drain_until_error(gemini.stream(ask()))
    assert chunks == ["Half "]
    assert isinstance(exc, AIError)
    assert "dropped before the answer was complete" in exc.user_message


def test_malformed_chunk(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(Malformed(("ok ",)))
    chunks, exc = drain_until_error(gemini.stream(ask()))
    assert chunks == ["ok "]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.BAD_RESPONSE
    assert not exc.retryable


def test_answer_blocked_by_safety(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(Safety(("Well, ",)))
    chunks, exc = drain_until_error(gemini.stream(ask()))
    assert chunks == ["Well, "]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SAFETY
    assert "safety filters" in exc.user_message
    assert not exc.retryable


def test_prompt_blocked_by_safety(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    fake_gemini.script(Safety(prompt_blocked=True))
    error = error_of(gemini)
    assert error.kind is ErrorKind.SAFETY
    assert "prompt blocked" in error.detail


def test_stalled_server_times_out(fake_gemini: FakeGemini) -> None:
    provider = GeminiProvider(KEY, base_url=fake_gemini.url, timeout_s=0.3)
    fake_gemini.script(Stall(("Thinking",), seconds=10))
    chunks, exc = drain_until_error(provider.stream(ask()))
    assert chunks == ["Thinking"]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.TIMEOUT
    assert "took too long" in exc.user_message


def test_offline_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = GeminiProvider(KEY, base_url=f"http://127.0.0.1:{port}", timeout_s=2)
    error = error_of(provider)
    assert error.kind is ErrorKind.OFFLINE
    assert f"Can't reach 127.0.0.1:{port}: you seem to be offline" in error.user_message


def test_bad_requests_are_refused_before_sending(
    fake_gemini: FakeGemini, gemini: GeminiProvider
) -> None:
    for request in (
        AskRequest(model=MODEL, turns=()),
        AskRequest(model=" ", turns=(Turn("user", "hi"),)),
        AskRequest(model=MODEL, turns=(Turn("user", "hi"), Turn("model", "hello"))),
    ):
        assert error_of(gemini, request).kind is ErrorKind.BAD_REQUEST
    assert fake_gemini.requests == []


def test_provider_is_reusable_across_event_loops(
    fake_gemini: FakeGemini, gemini: GeminiProvider
) -> None:
    fake_gemini.script(Reply(("one",)), Reply(("two",)))
    assert drain(gemini.stream(ask())) == ["one"]
    assert drain(gemini.stream(ask())) == ["two"]


def test_a_key_echoed_by_the_server_is_redacted(
    fake_gemini: FakeGemini, gemini: GeminiProvider
) -> None:
    body = google_error(400, f"Request with credential {KEY} is malformed", "INVALID_ARGUMENT")
    fake_gemini.script(ErrorReply(400, body))
    error = error_of(gemini)
    assert error.kind is ErrorKind.BAD_REQUEST
    assert "Request with credential *** is malformed" in error.user_message
    assert KEY not in error.user_message + error.detail + str(error)


def test_transport_errors_map_the_same_with_the_httpx_backend(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    # google-genai can run on httpx instead of httpx2: its exceptions are other classes.
    monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
    provider = GeminiProvider(KEY, base_url=fake_gemini.url, timeout_s=0.3)
    fake_gemini.script(CutOff(("a",)), Stall((), seconds=10))
    assert error_of(provider).kind is ErrorKind.SERVER
    assert error_of(provider).kind is ErrorKind.TIMEOUT
    transport = type(provider._sdk().aio._api_client._async_httpx_client).__mro__
    assert any(cls.__module__.startswith("httpx.") for cls in transport)
