"""The provider registry is the one list every layer reads: settings, keys, errors, the CLI."""

from __future__ import annotations

import pytest

from snapask_desktop import config, credentials
from snapask_desktop.ai import errors
from snapask_desktop.ai.registry import GEMINI, OPENAI, PROVIDERS, REGISTRY
from snapask_desktop.cli.main import build_parser


def _accepts(*argv: str) -> bool:
    try:
        build_parser().parse_args(list(argv))
    except SystemExit:
        return False
    return True


def test_every_layer_offers_the_registered_providers() -> None:
    assert PROVIDERS == ("gemini", "openai") and set(REGISTRY) == set(PROVIDERS)
    for name in PROVIDERS:
        assert config.check_value("provider", name) == name
    with pytest.raises(config.SettingsError, match="must be one of: gemini, openai"):
        config.check_value("provider", "claude")
    with pytest.raises(credentials.CredentialError, match="known providers: gemini, openai"):
        credentials.get_api_key("claude")
    for name in (*PROVIDERS, "claude"):
        known = name in REGISTRY
        assert _accepts("ask", "--provider", name, "a question") is known
        assert _accepts("key", "set", name) is known


def test_keys_come_from_each_providers_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for info in REGISTRY.values():
        (variable,) = info.env_keys
        monkeypatch.setenv(variable, f" key-of-{info.name} ")
        key = credentials.get_api_key(info.name)
        assert key is not None and (key.value, key.source) == (
            f"key-of-{info.name}",
            f"environment ({variable})",
        )
    monkeypatch.delenv(GEMINI.env_keys[0])
    assert credentials.needs_api_key(GEMINI.name)  # the test keyring holds none
    assert not credentials.needs_api_key(OPENAI.name)  # local servers usually need none


def test_messages_and_lists_name_providers_from_the_registry() -> None:
    assert errors.label("openai", start=True) == "The OpenAI-compatible server"
    assert errors.label("someday") == "someday"
    assert errors.no_key("openai").user_message == (
        "No API key is set for the OpenAI-compatible server. Run `snapask key set openai`."
    )
    assert [info.choice for info in REGISTRY.values()] == [
        "Google Gemini",
        "OpenAI-compatible server (Ollama, LM Studio, llama.cpp)",
    ]
