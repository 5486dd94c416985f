"""Building services from settings: one client per provider, rebuilt when settings change."""

from __future__ import annotations

import dataclasses

import pytest

from snapask_desktop.config import Settings
from snapask_desktop.services import Services


def test_clients_are_reused_and_rebuilt_on_new_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    settings = Settings(max_retries=2, answer_cache=True)
    with Services(settings) as services:
        client = services.ai_client("gemini")
        assert services.ai_client("gemini") is client
        assert client.retry.max_attempts == 3 and client.cache is not None
        services.apply_settings(dataclasses.replace(settings, answer_cache=False))
        rebuilt = services.ai_client("gemini")
        assert rebuilt is not client and rebuilt.cache is None
        assert services.settings.answer_cache is False
