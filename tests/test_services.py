"""Building services from settings: one client per provider, rebuilt only when its inputs change."""

from __future__ import annotations

import dataclasses

import pytest

from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache
from snapask_desktop.config import Settings
from snapask_desktop.services import Services


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    return Settings(max_retries=2, answer_cache=True)


def test_clients_are_reused_and_rebuilt_when_their_inputs_change(settings: Settings) -> None:
    with Services(settings) as services:
        client = services.ai_client("gemini")
        assert services.ai_client("gemini") is client
        assert client.retry.max_attempts == 3 and client.cache is not None
        services.apply_settings(dataclasses.replace(settings, answer_cache=False))
        rebuilt = services.ai_client("gemini")
        assert rebuilt is not client and rebuilt.cache is None
        assert services.settings.answer_cache is False


def test_unrelated_settings_keep_the_client_and_its_answers(settings: Settings) -> None:
    with Services(settings) as services:
        client = services.ai_client("gemini")
        services.apply_settings(dataclasses.replace(settings, translate_to="Deutsch"))
        assert services.ai_client("gemini") is client
        services.apply_settings(services.settings, key_changed_for="gemini")
        assert services.ai_client("gemini") is not client  # a new key needs a new client


def test_clear_answer_cache_works_even_with_the_cache_off(settings: Settings) -> None:
    with Services(dataclasses.replace(settings, answer_cache=False)) as services:
        cache = AnswerCache(services.data_dir / CACHE_FILENAME)
        cache.put("k1", "an earlier answer")
        cache.put("k2", "another")
        cache.close()
        assert services.clear_answer_cache() == 2
        assert services.clear_answer_cache() == 0
