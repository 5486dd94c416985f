"""Where SnapAsk keeps its files: platform folders, overridable from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "SnapAsk"


def data_dir() -> Path:
    """The conversation store, blobs and caches (SNAPASK_DATA_DIR wins)."""
    return _dir_from_env("SNAPASK_DATA_DIR") or Path(
        platformdirs.user_data_dir(APP_NAME, appauthor=False)
    )


def config_dir() -> Path:
    """The settings file (SNAPASK_CONFIG_DIR wins)."""
    return _dir_from_env("SNAPASK_CONFIG_DIR") or Path(
        platformdirs.user_config_dir(APP_NAME, appauthor=False)
    )


def _dir_from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None
