"""Retries with backoff (tenacity) and a circuit breaker per provider (pybreaker) around a stream.

Streaming rule: a failure is retried only while nothing has reached the caller. Once a chunk
has been yielded, a failure is raised (the user can press Retry) instead of silently asking
again, which would show the beginning of the answer twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pybreaker
import tenacity

from snapask_desktop.ai import errors
from snapask_desktop.ai.provider import Provider
from snapask_desktop.ai.types import RETRYABLE_KINDS, AIError, AskRequest, ErrorKind

log = logging.getLogger(__name__)

OnRetry = Callable[[int, AIError, float], None]
"""Called before each wait: (attempt that failed, its error, seconds until the next attempt)."""

Sleep = Callable[[float], Awaitable[None]]

# Failures that say the provider is unhealthy. Key, model, safety, request and image
# problems are the caller's, so they neither retry nor trip the breaker.
TRIPPING_KINDS = RETRYABLE_KINDS | {ErrorKind.BAD_RESPONSE}


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried; tests inject tiny waits or a recording `sleep`."""

    max_attempts: int = 4
    initial_wait_s: float = 1.0
    max_wait_s: float = 20.0
    jitter_s: float = 1.0
    # A server asking for a longer pause than this (a daily quota) is told to the user instead.
    max_retry_after_s: float = 60.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)


@dataclass(frozen=True)
class BreakerPolicy:
    """When the breaker opens (`fail_max` failures in a row) and how long it stays open."""

    fail_max: int = 5
    reset_timeout_s: float = 30.0


class ProviderBreaker:
    """A pybreaker circuit breaker fed with stream outcomes; open = fail fast with UNAVAILABLE."""

    def __init__(self, provider: str, policy: BreakerPolicy | None = None) -> None:
        policy = policy or BreakerPolicy()
        self.provider = provider
        self._storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._cb = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_timeout_s,
            state_storage=self._storage,
            name=provider,
            throw_new_error_on_trip=False,
        )

    @property
    def state(self) -> str:
        """ "closed", "open" or "half-open" (pybreaker's names)."""
        return str(self._cb.current_state)

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return int(self._cb.fail_counter)

    def check(self) -> None:
        """Raise AIError(UNAVAILABLE) while open; after the reset timeout, let a trial through."""
        if self._cb.current_state != pybreaker.STATE_OPEN:
            return
        remaining = self._remaining_s()
        if remaining > 0:
            raise errors.unavailable(self.provider, self.failures, remaining)

    def allow_trial(self) -> None:
        """Let the next call through now, as if the rest were over (the user pressed Send
        now): one failure opens the breaker again, a success closes it."""
        if self._cb.current_state == pybreaker.STATE_OPEN:
            rested = dt.timedelta(seconds=self._cb.reset_timeout + 1)
            self._storage.opened_at = dt.datetime.now(dt.UTC) - rested

    def record_success(self) -> None:
        """A stream completed: reset the count (and close a half-open breaker)."""
        self._replay(None)

    def record_failure(self, error: AIError) -> None:
        """A stream failed: count it if it says the provider is unhealthy."""
        if error.kind in TRIPPING_KINDS:
            was_open = self.state == pybreaker.STATE_OPEN
            self._replay(error)
            if not was_open and self.state == pybreaker.STATE_OPEN:
                log.warning(
                    "%s circuit opened after %d failures in a row (last: %s)",
                    self.provider,
                    self.failures,
                    error.detail or error.user_message,
                )

    def _replay(self, error: AIError | None) -> None:
        # pybreaker guards calls; replaying the outcome through call() drives its state
        # machine (closed -> open -> half-open -> closed) without holding it across a stream.
        with contextlib.suppress(pybreaker.CircuitBreakerError, AIError):
            self._cb.call(_outcome, error)

    def _remaining_s(self) -> float:
        opened = self._storage.opened_at
        if opened is None:
            return 0.0
        reopen = opened + dt.timedelta(seconds=self._cb.reset_timeout)
        return (reopen - dt.datetime.now(dt.UTC)).total_seconds()


def _outcome(error: AIError | None) -> None:
    if error is not None:
        raise error


async def resilient_stream(
    provider: Provider,
    request: AskRequest,
    *,
    policy: RetryPolicy,
    breaker: ProviderBreaker,
    on_retry: OnRetry | None = None,
) -> AsyncIterator[str]:
    """Stream from `provider`, retrying transient failures until the first chunk arrives."""
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=_wait(policy),
        retry=tenacity.retry_if_exception(lambda e: _should_retry(e, policy)),
        sleep=policy.sleep,
        before_sleep=_report(provider.name, on_retry),
        reraise=True,
    )
    stream, first = await retrying(_open, provider, request, breaker)
    if first is None:
        return
    try:
        yield first
        async for chunk in stream:
            yield chunk
    except Exception as exc:
        error = _as_ai_error(exc, provider.name)
        breaker.record_failure(error)
        if error is exc:
            raise
        raise error from exc
    finally:
        await stream.aclose()
    breaker.record_success()


async def _open(
    provider: Provider, request: AskRequest, breaker: ProviderBreaker
) -> tuple[AsyncIterator[str], str | None]:
    """One attempt: start the stream and wait for its first chunk (None = empty answer)."""
    breaker.check()
    stream = provider.stream(request)
    try:
        first = await anext(stream, None)
    except BaseException as exc:
        await stream.aclose()
        if isinstance(exc, Exception):
            error = _as_ai_error(exc, provider.name)
            breaker.record_failure(error)
            if error is not exc:
                raise error from exc
        raise
    if first is None:
        breaker.record_success()
    return stream, first


def _as_ai_error(exc: Exception, provider: str) -> AIError:
    return exc if isinstance(exc, AIError) else errors.unexpected(provider, exc)


def _should_retry(exc: BaseException, policy: RetryPolicy) -> bool:
    if not isinstance(exc, AIError) or not exc.retryable:
        return False
    return exc.retry_after is None or exc.retry_after <= policy.max_retry_after_s


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    backoff = tenacity.wait_exponential_jitter(
        initial=policy.initial_wait_s, max=policy.max_wait_s, jitter=policy.jitter_s
    )

    def wait(state: tenacity.RetryCallState) -> float:
        # The server knows best: honour its Retry-After / RetryInfo delay exactly.
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, AIError) and exc.retry_after is not None:
            return exc.retry_after
        return float(backoff(state))

    return wait


def _report(provider: str, on_retry: OnRetry | None) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = float(state.next_action.sleep) if state.next_action else 0.0
        if not isinstance(exc, AIError):
            return
        log.info(
            "%s attempt %d failed (%s: %s); retrying in %.2f s",
            provider,
            state.attempt_number,
            exc.kind.name,
            exc.detail or exc.user_message,
            wait,
        )
        if on_retry is not None:
            on_retry(state.attempt_number, exc, wait)

    return before_sleep
