"""Fixtures for the AI tests: started fakes, the real providers pointed at them, fast retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.resilience import RetryPolicy
from tests.ai.helpers import KEY, Sleeps
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A running fake Gemini accepting the key "test-key"."""
    with FakeGemini(accepted_keys={KEY}) as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server without auth."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def gemini(fake_gemini: FakeGemini) -> GeminiProvider:
    """The real Gemini provider (real SDK) pointed at the fake."""
    return GeminiProvider(KEY, base_url=fake_gemini.url, timeout_s=5)


@pytest.fixture
def local_ai(fake_openai: FakeOpenAI) -> OpenAICompatProvider:
    """The OpenAI-compatible provider pointed at the fake."""
    return OpenAICompatProvider(fake_openai.base_url, timeout_s=5)


@pytest.fixture
def sleeps() -> Sleeps:
    """Waits asked for by the retry logic (recorded, not slept)."""
    return Sleeps()


@pytest.fixture
def fast_retry(sleeps: Sleeps) -> RetryPolicy:
    """Four attempts, tiny deterministic backoff, waits recorded instead of slept."""
    return RetryPolicy(
        max_attempts=4, initial_wait_s=0.01, max_wait_s=0.05, jitter_s=0, sleep=sleeps
    )
