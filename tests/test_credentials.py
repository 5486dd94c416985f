"""API keys through the keyring: environment precedence, clear errors without a keyring."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from snapask_desktop import credentials
from tests.support.memory_keyring import MemoryKeyring


def test_store_read_delete_round_trip() -> None:
    assert credentials.get_api_key("gemini") is None
    credentials.set_api_key("gemini", "  AIza-test-key \n")
    key = credentials.get_api_key("gemini")
    assert key == credentials.ApiKey("AIza-test-key", "keyring")
    assert MemoryKeyring.secrets == {("SnapAsk", "api-key:gemini"): "AIza-test-key"}
    assert credentials.delete_api_key("gemini") is True
    assert credentials.delete_api_key("gemini") is False
    assert credentials.get_api_key("gemini") is None


def test_environment_wins_over_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.set_api_key("gemini", "from-keyring")
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    key = credentials.get_api_key("gemini")
    assert key is not None and key.value == "from-env" and "GEMINI_API_KEY" in key.source


@pytest.mark.parametrize("bad", ["", "   ", "two words", "x" * 5000])
def test_implausible_keys_are_refused(bad: str) -> None:
    with pytest.raises(credentials.CredentialError):
        credentials.set_api_key("gemini", bad)
    assert MemoryKeyring.secrets == {}


def test_unknown_provider() -> None:
    with pytest.raises(credentials.CredentialError, match="unknown provider"):
        credentials.get_api_key("claude")


def test_no_keyring_backend_explains_what_to_do() -> None:
    keyring.set_keyring(FailKeyring())
    with pytest.raises(credentials.CredentialError, match="No system keyring") as caught:
        credentials.set_api_key("gemini", "AIza-test-key")
    assert "GEMINI_API_KEY" in str(caught.value)
    with pytest.raises(credentials.CredentialError, match="No system keyring"):
        credentials.get_api_key("gemini")
