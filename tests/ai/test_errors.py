"""AIError and its builders: kinds, retry flags, plain-language messages, header parsing."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest

from snapask_desktop.ai import errors
from snapask_desktop.ai.types import AIError, ErrorKind


def test_retryable_follows_the_kind_unless_told() -> None:
    transient = {ErrorKind.QUOTA, ErrorKind.OFFLINE, ErrorKind.TIMEOUT, ErrorKind.SERVER}
    for kind in ErrorKind:
        assert AIError(kind, "x").retryable == (kind in transient)
    assert not AIError(ErrorKind.SERVER, "x", retryable=False).retryable


def test_messages_say_what_to_do() -> None:
    assert errors.no_key("gemini").user_message == (
        "No Gemini API key is set. Run `snapask key set gemini` or set GEMINI_API_KEY."
    )
    assert errors.quota("gemini", 2.2).user_message == (
        "Gemini's quota is used up; try again in 3 s."
    )
    assert errors.quota("gemini", None).user_message.endswith("try again later.")
    assert errors.offline("https://generativelanguage.googleapis.com").user_message.startswith(
        "Can't reach generativelanguage.googleapis.com: you seem to be offline"
    )
    assert errors.timeout("gemini", 60).user_message == (
        "Gemini took too long to answer (nothing for 60 s). Try again."
    )
    assert errors.unavailable("gemini", 5, 29.2).user_message == (
        "Gemini has failed 5 times in a row, so SnapAsk is giving it a short rest before "
        "asking again."
    )


def test_sentences_about_the_local_server_read_well() -> None:
    assert errors.server("openai", 500, "boom").user_message == (
        "The OpenAI-compatible server had a problem: boom. Try again in a moment."
    )
    assert "was not found at the OpenAI-compatible server" in (
        errors.model_not_found("openai", "llava").user_message
    )


def test_redacted_scrubs_message_detail_and_str() -> None:
    error = errors.bad_request("gemini", "key sk-123 refused", detail="sent sk-123")
    errors.redacted(error, "sk-123", None, "")
    assert "sk-123" not in error.user_message + error.detail + str(error)
    assert error.user_message == "Gemini refused the request: key *** refused"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_retry_after_header_seconds(value: str | None, expected: float | None) -> None:
    assert errors.retry_after_header(value) == expected


def test_retry_after_header_http_date() -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    seconds = errors.retry_after_header(email.utils.format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 100 < seconds <= 120


def test_retry_after_from_google_retry_info() -> None:
    body = {
        "error": {
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"},
            ]
        }
    }
    assert errors.retry_after_google(body) == 1.5
    assert errors.retry_after_google({"error": {"details": []}}) is None
    assert errors.retry_after_google(["not", "a", "dict"]) is None
    bad = {"error": {"details": [{"@type": "google.rpc.RetryInfo", "retryDelay": "soon"}]}}
    assert errors.retry_after_google(bad) is None


def test_server_message_has_one_full_stop() -> None:
    from snapask_desktop.ai import errors

    error = errors.server("gemini", 503, "The backend had a hiccup. Please try again later.")
    assert ".." not in error.user_message
    assert error.user_message.endswith("Please try again later.")
    assert error.user_message.lower().count("try again") == 1  # the advice once


def test_retry_after_is_bounded_to_a_day() -> None:
    from snapask_desktop.ai import errors

    day = errors.MAX_RETRY_AFTER_S
    assert errors.retry_after_header("1e12") == day
    assert errors.retry_after_header("inf") == day
    assert errors.retry_after_header("nan") is None
    assert errors.retry_after_header("-5") == 0.0
    assert errors.retry_after_header("Fri, 31 Dec 9999 23:59:59 GMT") == day
    body = {
        "error": {
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1e12s"}
            ]
        }
    }
    assert errors.retry_after_google(body) == day
    assert "try again in 86400 s" in errors.quota("gemini", day).user_message


def test_an_overloaded_provider_is_said_plainly_with_the_advice_once() -> None:
    said = (
        "This model is currently experiencing high demand. Spikes in demand are usually "
        "temporary. Please try again later."
    )
    error = errors.server("gemini", 503, said, detail="HTTP 503 UNAVAILABLE: " + said)
    assert error.user_message == (
        "Gemini is overloaded right now: This model is currently experiencing high demand. "
        "Spikes in demand are usually temporary. Please try again later."
    )
    assert "HTTP" not in error.user_message and "503" in error.detail  # the code stays in logs
    assert errors.server("gemini", 503).user_message == (
        "Gemini is overloaded right now. Try again in a moment."
    )
    for repeats in ("The model is overloaded.", "The model is overloaded. Please try again later.",
                    "overloaded"):  # fmt: skip
        assert errors.server("gemini", 503, repeats).user_message == (
            "Gemini is overloaded right now. Try again in a moment."  # not "...: The model is…"
        ), repeats
