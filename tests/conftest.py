"""Suite-wide isolation: every test gets its own data and config folders and keyring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.support.memory_keyring import MemoryKeyring

# Widget tests draw offscreen unless a test sets up a real X server itself.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYNPUT_BACKEND", "dummy")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point SnapAsk's folders into tmp_path, clear real keys, select the memory keyring."""
    home = tmp_path / "snapask-home"
    monkeypatch.setenv("SNAPASK_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("SNAPASK_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.MemoryKeyring")
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "SNAPASK_GEMINI_BASE_URL",
        "SNAPASK_OPENAI_BASE_URL",
        "GOOGLE_GEMINI_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    MemoryKeyring.secrets.clear()
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield home
    keyring.set_keyring(previous)
    MemoryKeyring.secrets.clear()
