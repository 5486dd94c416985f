"""Builders for AIError with the plain-language message each failure shows the user."""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re
from typing import Any
from urllib.parse import urlsplit

from snapask_desktop.ai.registry import REGISTRY
from snapask_desktop.ai.types import AIError, ErrorKind


def label(provider: str, *, start: bool = False) -> str:
    """The provider's name as a person reads it ("gemini" -> "Gemini"), capitalised at `start`;
    an unknown name as it is (a message must never fail for want of a label)."""
    info = REGISTRY.get(provider)
    text = info.label if info is not None else provider
    return text[:1].upper() + text[1:] if start else text


def redact(text: str, *secrets: str | None) -> str:
    """Remove every secret from a log text, so keys never reach logs or the database."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def redacted(error: AIError, *secrets: str | None) -> AIError:
    """The same error with every secret removed from both its message and its detail."""
    error.user_message = redact(error.user_message, *secrets)
    error.args = (error.user_message,)
    error.detail = redact(error.detail, *secrets)
    return error


def host_of(url: str) -> str:
    """The host[:port] part of a URL, or the URL itself when it has none."""
    return urlsplit(url).netloc or url


def no_key(provider: str) -> AIError:
    """No API key configured: say exactly how to set one."""
    info = REGISTRY.get(provider)
    if info is not None and info.needs_key:
        fix = f"Run `snapask key set {provider}` or set {info.env_keys[0]}."
        msg = f"No {info.label} API key is set. {fix}"
    else:
        msg = f"No API key is set for {label(provider)}. Run `snapask key set {provider}`."
    return AIError(ErrorKind.NO_KEY, msg)


def invalid_key(provider: str, detail: str = "") -> AIError:
    """The provider rejected the key."""
    fix = f"Check it and set it again with `snapask key set {provider}`."
    msg = f"The API key was rejected by {label(provider)}. {fix}"
    return AIError(ErrorKind.INVALID_KEY, msg, detail=detail)


def quota(provider: str, retry_after: float | None, detail: str = "") -> AIError:
    """Rate limit or quota exhausted; mention when to try again if the provider said."""
    msg = f"{label(provider, start=True)}'s quota is used up"
    msg += f"; try again in {math.ceil(retry_after)} s." if retry_after else "; try again later."
    return AIError(ErrorKind.QUOTA, msg, retry_after=retry_after, detail=detail)


def offline(url: str, detail: str = "", *, local: bool = False) -> AIError:
    """The server could not be reached at all."""
    if local:
        msg = f"Can't reach {url}: is the AI server (Ollama, LM Studio, llama.cpp) running?"
    else:
        msg = f"Can't reach {host_of(url)}: you seem to be offline. Check your connection."
    return AIError(ErrorKind.OFFLINE, msg, detail=detail)


def safety(provider: str, detail: str = "") -> AIError:
    """The answer (or the question) was blocked by the provider's filters."""
    msg = "The answer was blocked by the provider's safety filters. Try rephrasing the question."
    return AIError(ErrorKind.SAFETY, msg, detail=detail)


def model_not_found(provider: str, model: str, detail: str = "") -> AIError:
    """The configured model name does not exist at the provider."""
    msg = (
        f"Model '{model}' was not found at {label(provider)}. "
        f"Pick another one: `snapask config set {provider}_model NAME`."
    )
    return AIError(ErrorKind.MODEL_NOT_FOUND, msg, detail=detail)


def no_pictures(provider: str, model: str, detail: str = "") -> AIError:
    """The model reads no pictures (a text-only model was sent one)."""
    msg = (
        f"The model '{model}' at {label(provider)} cannot read pictures. Choose a model that "
        "can (llava, qwen2.5vl, gemma3), or let SnapAsk send the text it reads from pictures: "
        f"`snapask config set {provider}_pictures text`."
    )
    return AIError(ErrorKind.NO_PICTURES, msg, detail=detail)


def timeout(provider: str, seconds: float | None, detail: str = "") -> AIError:
    """No answer within the time limit."""
    within = f" (nothing for {seconds:g} s)" if seconds else ""
    msg = f"{label(provider, start=True)} took too long to answer{within}. Try again."
    return AIError(ErrorKind.TIMEOUT, msg, detail=detail)


def server(provider: str, status: int | None, message: str = "", detail: str = "") -> AIError:
    """The provider failed on its side (5xx); the status code stays in ``detail`` (the log)."""
    what = "is overloaded right now" if status == 503 else "had a problem"
    # The provider's own message often ends in a full stop already, and often says to try
    # again itself: the advice is given once. Words that only repeat ours are left out.
    own = message.strip()
    if status == 503 and _ONLY_OVERLOADED.fullmatch(own):
        own = ""
    said = f": {own.rstrip('.')}" if own else ""
    advice = "" if _ADVISES_RETRY.search(own) else " Try again in a moment."
    msg = f"{label(provider, start=True)} {what}{said}.{advice}"
    return AIError(ErrorKind.SERVER, msg, detail=detail)


_ONLY_OVERLOADED = re.compile(
    r"(?:(?:the |this )?(?:model|service|server)\s+)?(?:is\s+)?(?:currently\s+)?overloaded\.?"
    r"(?:\s*(?:please )?try again(?: later| in a moment)?\.?)?",
    re.IGNORECASE,
)
_ADVISES_RETRY = re.compile(r"\b(?:try|retry)\b.{0,20}\b(?:again|later)\b|\bretry\b", re.IGNORECASE)


def dropped(provider: str, detail: str = "") -> AIError:
    """The answer stream ended before the provider said it was complete."""
    msg = f"The connection to {label(provider)} dropped before the answer was complete. Try again."
    return AIError(ErrorKind.SERVER, msg, detail=detail)


def bad_response(provider: str, detail: str = "") -> AIError:
    """The provider sent something we cannot read."""
    msg = (
        f"{label(provider, start=True)} sent a reply SnapAsk could not read. "
        "Check the server address in the settings, or try again."
    )
    return AIError(ErrorKind.BAD_RESPONSE, msg, detail=detail)


def bad_request(provider: str, message: str, detail: str = "") -> AIError:
    """The provider refused the request itself (4xx other than key/model/quota)."""
    msg = f"{label(provider, start=True)} refused the request: {message}"
    return AIError(ErrorKind.BAD_REQUEST, msg, detail=detail)


def cancelled() -> AIError:
    """The user stopped the answer."""
    return AIError(ErrorKind.CANCELLED, "The answer was cancelled.")


def bad_image(reason: str, detail: str = "") -> AIError:
    """The picture cannot be used; `reason` is already a full, plain sentence."""
    return AIError(ErrorKind.BAD_IMAGE, reason, detail=detail)


def unavailable(provider: str, failures: int, retry_in_s: float) -> AIError:
    """The circuit breaker is open: fail fast without calling the provider."""
    # No countdown in the words: a message is read later than it is made, and the chat's
    # waiting line counts down to the next try itself (retry_after carries the time).
    msg = (
        f"{label(provider, start=True)} has failed {failures} times in a row, so SnapAsk is "
        "giving it a short rest before asking again."
    )
    return AIError(ErrorKind.UNAVAILABLE, msg, retry_after=retry_in_s)


def unexpected(provider: str, exc: BaseException) -> AIError:
    """A failure nobody mapped: still a clear message, with the details for the log."""
    msg = f"Something went wrong while asking {label(provider)}. Try again."
    return AIError(ErrorKind.BAD_RESPONSE, msg, detail=f"{type(exc).__name__}: {exc}")


# A server may ask for any wait; more than a day is nonsense (or hostile) and would overflow
# timers, so it is clamped here, where every Retry-After enters.
MAX_RETRY_AFTER_S = 24 * 3600.0


def _bounded(seconds: float) -> float | None:
    if not math.isfinite(seconds):
        return MAX_RETRY_AFTER_S if seconds > 0 else None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def retry_after_header(value: str | None) -> float | None:
    """Seconds from an HTTP Retry-After header (delta-seconds or an HTTP date), at most a day."""
    if not value:
        return None
    try:
        return _bounded(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _bounded((when - dt.datetime.now(dt.UTC)).total_seconds())


def retry_after_google(body: Any) -> float | None:
    """Seconds from the google.rpc.RetryInfo detail of a Google error body ("37s", "1.5s")."""
    error = body.get("error", body) if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(item.get("retryDelay", ""))
            try:
                return _bounded(float(delay.removesuffix("s")))
            except ValueError:
                return None
    return None
