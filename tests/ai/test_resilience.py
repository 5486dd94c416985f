"""Retries and the circuit breaker around real providers talking to the local fakes."""

from __future__ import annotations

import time

import pytest

from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.resilience import (
    BreakerPolicy,
    ProviderBreaker,
    RetryPolicy,
    resilient_stream,
)
from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind
from tests.ai.helpers import KEY, Sleeps, ask, drain, drain_until_error
from tests.support.fake_gemini import (
    CutOff,
    ErrorReply,
    FakeGemini,
    Reply,
    Safety,
    Script,
    internal_error,
    invalid_key,
    model_not_found,
    overloaded,
    quota_exceeded,
)
from tests.support.fake_openai import FakeOpenAI, openai_error

Retries = list[tuple[int, ErrorKind, float]]


def run(
    provider: GeminiProvider | OpenAICompatProvider,
    policy: RetryPolicy,
    breaker: ProviderBreaker,
    request: AskRequest | None = None,
    retries: Retries | None = None,
) -> tuple[list[str], BaseException | None]:
    def on_retry(attempt: int, error: AIError, wait_s: float) -> None:
        if retries is not None:
            retries.append((attempt, error.kind, wait_s))

    stream = resilient_stream(
        provider, request or ask(), policy=policy, breaker=breaker, on_retry=on_retry
    )
    return drain_until_error(stream)


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (internal_error(), ErrorKind.SERVER),
        (overloaded(), ErrorKind.SERVER),
        (quota_exceeded(None), ErrorKind.QUOTA),
        (CutOff(()), ErrorKind.SERVER),
        (CutOff((), clean=True), ErrorKind.SERVER),
    ],
    ids=["500", "503", "429", "cut-before-text", "ended-before-text"],
)
def test_transient_failures_are_retried(
    fake_gemini: FakeGemini,
    gemini: GeminiProvider,
    fast_retry: RetryPolicy,
    failure: Script,
    kind: ErrorKind,
) -> None:
    fake_gemini.script(failure, failure, Reply(("fine", " now")))
    retries: Retries = []
    chunks, exc = run(gemini, fast_retry, ProviderBreaker("gemini"), retries=retries)
    assert exc is None
    assert chunks == ["fine", " now"]
    assert len(fake_gemini.generate_requests()) == 3
    assert [(attempt, k) for attempt, k, _ in retries] == [(1, kind), (2, kind)]


def test_gives_up_after_max_attempts_with_growing_waits(
    fake_gemini: FakeGemini, gemini: GeminiProvider, fast_retry: RetryPolicy, sleeps: Sleeps
) -> None:
    fake_gemini.script(*[overloaded()] * 5)
    retries: Retries = []
    chunks, exc = run(gemini, fast_retry, ProviderBreaker("gemini"), retries=retries)
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SERVER
    assert "overloaded" in exc.user_message
    assert chunks == []
    assert len(fake_gemini.generate_requests()) == 4
    assert sleeps.waits == pytest.approx([0.01, 0.02, 0.04])
    assert [w for _, _, w in retries] == sleeps.waits
    assert fake_gemini.pending == 1


def test_backoff_has_jitter_and_a_ceiling(fake_gemini: FakeGemini, gemini: GeminiProvider) -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=6, initial_wait_s=1, max_wait_s=5, jitter_s=0.5, sleep=sleeps)
    fake_gemini.script(*[internal_error()] * 6)
    run(gemini, policy, ProviderBreaker("gemini", BreakerPolicy(fail_max=100)))
    assert len(sleeps.waits) == 5
    for n, wait in enumerate(sleeps.waits):
        assert min(2**n, 5) <= wait <= min(2**n + 0.5, 5)


def test_gemini_retry_delay_is_honoured(
    fake_gemini: FakeGemini, gemini: GeminiProvider, fast_retry: RetryPolicy, sleeps: Sleeps
) -> None:
    fake_gemini.script(quota_exceeded(retry_delay_s=2.5), Reply(("ok",)))
    retries: Retries = []
    chunks, exc = run(gemini, fast_retry, ProviderBreaker("gemini"), retries=retries)
    assert (chunks, exc) == (["ok"], None)
    assert sleeps.waits == [2.5]
    assert retries == [(1, ErrorKind.QUOTA, 2.5)]


def test_retry_after_header_is_honoured(
    fake_openai: FakeOpenAI, local_ai: OpenAICompatProvider, fast_retry: RetryPolicy, sleeps: Sleeps
) -> None:
    limited = openai_error(429, "slow down", "rate_limit_error")
    fake_openai.script(ErrorReply(429, limited.body, {"Retry-After": "3"}), Reply(("ok",)))
    chunks, exc = run(local_ai, fast_retry, ProviderBreaker("openai"), ask(model="llava"))
    assert (chunks, exc) == (["ok"], None)
    assert sleeps.waits == [3.0]


def test_a_long_quota_wait_is_told_not_slept(
    fake_gemini: FakeGemini, gemini: GeminiProvider, fast_retry: RetryPolicy, sleeps: Sleeps
) -> None:
    fake_gemini.script(quota_exceeded(retry_delay_s=3600), Reply(("never",)))
    _, exc = run(gemini, fast_retry, ProviderBreaker("gemini"))
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.QUOTA
    assert "try again in 3600 s" in exc.user_message
    assert sleeps.waits == []
    assert fake_gemini.pending == 1


def test_no_retry_once_text_was_shown(
    fake_gemini: FakeGemini, gemini: GeminiProvider, fast_retry: RetryPolicy
) -> None:
    fake_gemini.script(CutOff(("The answer is ",)), Reply(("duplicate",)))
    chunks, exc = run(gemini, fast_retry, ProviderBreaker("gemini"))
    assert chunks == ["The answer is "]
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SERVER
    assert len(fake_gemini.generate_requests()) == 1
    assert fake_gemini.pending == 1


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (invalid_key(), ErrorKind.INVALID_KEY),
        (model_not_found("gemini-2.5-flash"), ErrorKind.MODEL_NOT_FOUND),
        (Safety(prompt_blocked=True), ErrorKind.SAFETY),
        (
            ErrorReply(400, {"error": {"code": 400, "message": "bad", "status": "X"}}),
            ErrorKind.BAD_REQUEST,
        ),
    ],
)
def test_caller_errors_fail_at_once_and_never_trip_the_breaker(
    fake_gemini: FakeGemini,
    gemini: GeminiProvider,
    fast_retry: RetryPolicy,
    sleeps: Sleeps,
    failure: Script,
    kind: ErrorKind,
) -> None:
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=2))
    for _ in range(3):
        fake_gemini.script(failure)
        _, exc = run(gemini, fast_retry, breaker)
        assert isinstance(exc, AIError)
        assert exc.kind is kind
    assert len(fake_gemini.generate_requests()) == 3
    assert sleeps.waits == []
    assert breaker.state == "closed"
    assert breaker.failures == 0


def test_missing_key_never_reaches_the_network(
    fake_gemini: FakeGemini, fast_retry: RetryPolicy
) -> None:
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=1))
    for _ in range(2):
        _, exc = run(GeminiProvider("", base_url=fake_gemini.url), fast_retry, breaker)
        assert isinstance(exc, AIError)
        assert exc.kind is ErrorKind.NO_KEY
    assert fake_gemini.requests == []
    assert breaker.state == "closed"


def test_breaker_opens_fails_fast_then_half_opens_and_closes(
    fake_gemini: FakeGemini, gemini: GeminiProvider, sleeps: Sleeps
) -> None:
    once = RetryPolicy(max_attempts=1, sleep=sleeps)
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=3, reset_timeout_s=0.3))
    fake_gemini.script(*[overloaded()] * 3)
    for _ in range(3):
        _, exc = run(gemini, once, breaker)
        assert isinstance(exc, AIError)
        assert exc.kind is ErrorKind.SERVER
    assert breaker.state == "open"

    _, exc = run(gemini, once, breaker)
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.UNAVAILABLE
    assert exc.user_message.startswith("Gemini has failed 3 times in a row, so SnapAsk")
    assert exc.retry_after is not None and exc.retry_after <= 1
    assert not exc.retryable
    assert len(fake_gemini.generate_requests()) == 3  # failed fast: nothing sent

    time.sleep(0.35)  # let the reset timeout pass: the next call is the half-open trial
    assert drain(resilient_stream(gemini, ask("back?"), policy=once, breaker=breaker)) == [
        "You asked: ",
        "back?",
        ".",
    ]
    assert breaker.state == "closed"
    assert breaker.failures == 0


def test_failed_half_open_trial_reopens(
    fake_gemini: FakeGemini, gemini: GeminiProvider, sleeps: Sleeps
) -> None:
    once = RetryPolicy(max_attempts=1, sleep=sleeps)
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=1, reset_timeout_s=0.2))
    fake_gemini.script(internal_error(), internal_error())
    run(gemini, once, breaker)
    assert breaker.state == "open"
    time.sleep(0.25)
    _, exc = run(gemini, once, breaker)
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.SERVER  # the trial went through and failed
    _, exc = run(gemini, once, breaker)
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.UNAVAILABLE
    assert len(fake_gemini.generate_requests()) == 2


def test_breaker_opening_during_retries_stops_them(
    fake_gemini: FakeGemini, gemini: GeminiProvider, fast_retry: RetryPolicy
) -> None:
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=2))
    fake_gemini.script(*[overloaded()] * 4)
    _, exc = run(gemini, fast_retry, breaker)
    assert isinstance(exc, AIError)
    assert exc.kind is ErrorKind.UNAVAILABLE
    assert len(fake_gemini.generate_requests()) == 2


def test_a_success_resets_the_failure_count(
    fake_gemini: FakeGemini, gemini: GeminiProvider, sleeps: Sleeps
) -> None:
    once = RetryPolicy(max_attempts=1, sleep=sleeps)
    breaker = ProviderBreaker("gemini", BreakerPolicy(fail_max=2))
    fake_gemini.script(internal_error(), Reply(("ok",)), internal_error())
    run(gemini, once, breaker)
    run(gemini, once, breaker)
    run(gemini, once, breaker)
    assert breaker.state == "closed"
    assert breaker.failures == 1


def test_retries_and_breaker_trips_are_logged_without_secrets(
    fake_gemini: FakeGemini,
    gemini: GeminiProvider,
    fast_retry: RetryPolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="snapask_desktop.ai.resilience")
    fake_gemini.script(overloaded(), overloaded())
    run(gemini, fast_retry, ProviderBreaker("gemini", BreakerPolicy(fail_max=2)))
    messages = [r.getMessage() for r in caplog.records]
    assert any("gemini attempt 1 failed (SERVER" in m and "retrying in" in m for m in messages)
    assert any("gemini circuit opened after 2 failures" in m for m in messages)
    assert not any(KEY in m for m in messages)
