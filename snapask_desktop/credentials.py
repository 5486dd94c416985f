"""API keys and device tokens in the OS keyring (never in files, logs or the database)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

from snapask_desktop.ai.registry import PROVIDERS, REGISTRY

SERVICE = "SnapAsk"
MAX_SECRET_CHARS = 4096


class CredentialError(RuntimeError):
    """The keyring cannot be used; the message tells the user what to do."""


@dataclass(frozen=True)
class ApiKey:
    """A key and where it came from ("environment" or "keyring")."""

    value: str
    source: str


def _account(provider: str) -> str:
    if provider not in REGISTRY:
        raise CredentialError(
            f"unknown provider {provider!r}; known providers: {', '.join(PROVIDERS)}"
        )
    return f"api-key:{provider}"


def get_api_key(provider: str) -> ApiKey | None:
    """The provider's key from the environment, else the keyring; None if neither has one.

    The environment wins when set: the providers' SDKs read the same variables."""
    account = _account(provider)
    for name in REGISTRY[provider].env_keys:
        value = os.environ.get(name, "").strip()
        if value:
            return ApiKey(value, f"environment ({name})")
    value = get_secret(account)
    return ApiKey(value, "keyring") if value else None


def needs_api_key(provider: str) -> bool:
    """True when the provider needs a key and none is set (an unusable keyring counts as none).

    Blocking: the keyring may ask the OS. Local OpenAI-compatible servers usually need none."""
    info = REGISTRY.get(provider)
    if info is None or not info.needs_key:
        return False
    try:
        return get_api_key(provider) is None
    except CredentialError:
        return True


def set_api_key(provider: str, value: str) -> None:
    """Store a provider's key in the keyring."""
    set_secret(_account(provider), _clean_secret(value))


def delete_api_key(provider: str) -> bool:
    """Remove a provider's key from the keyring; False if none was stored."""
    return delete_secret(_account(provider))


def get_secret(account: str) -> str | None:
    """Read a secret from the keyring."""
    with _keyring_errors():
        return _keyring().get_password(SERVICE, account)


def set_secret(account: str, value: str) -> None:
    """Write a secret to the keyring."""
    with _keyring_errors():
        _keyring().set_password(SERVICE, account, value)


def delete_secret(account: str) -> bool:
    """Delete a secret from the keyring; False if there was none."""
    with _keyring_errors():
        try:
            _keyring().delete_password(SERVICE, account)
        except _keyring().errors.PasswordDeleteError:
            return False
    return True


def _clean_secret(value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise CredentialError("the key is empty; nothing was stored")
    if len(cleaned) > MAX_SECRET_CHARS or any(ch.isspace() for ch in cleaned):
        raise CredentialError("that does not look like an API key (spaces or far too long)")
    return cleaned


def _keyring() -> ModuleType:
    # Imported on first use: the tray starts faster and ~3.5 MB lighter when the key comes
    # from the environment.
    import keyring
    import keyring.errors

    return keyring


@contextlib.contextmanager
def _keyring_errors() -> Iterator[None]:
    """Turn keyring failures into CredentialError with a plain explanation."""
    keyring = _keyring()
    try:
        yield
    except keyring.errors.NoKeyringError as error:
        raise CredentialError(
            "No system keyring is available to keep secrets safely. Install and unlock one "
            "(GNOME Keyring or KWallet on Linux; macOS and Windows have one built in), or set "
            f"the key in the environment instead ({_env_hint()})."
        ) from error
    except keyring.errors.KeyringLocked as error:
        raise CredentialError("The system keyring is locked; unlock it and try again.") from error
    except keyring.errors.KeyringError as error:
        raise CredentialError(f"The system keyring refused the request: {error}") from error


def _env_hint() -> str:
    # "GEMINI_API_KEY for Gemini": the providers that need a key, by their first variable.
    needing = [info for info in REGISTRY.values() if info.needs_key]
    return ", ".join(f"{info.env_keys[0]} for {info.label}" for info in needing)
