"""Fixtures for the widget tests: real services (store on a temp file, the fake Gemini)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def settings(gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    return Settings(gemini_base_url=gemini.url, max_retries=0)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """The same headless services the app runs on, in the test's own data folder."""
    with Services(settings) as built:
        yield built
