"""The settings file: defaults, validation, atomic saves, environment overrides.

A broken or hand-edited file never stops the app: the bad file is kept as a backup, every
problem is reported in plain words, and the app goes on with defaults for what was bad.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from snapask_desktop import paths
from snapask_desktop.ai.registry import PICTURE_MODES, PROVIDERS, PictureMode
from snapask_desktop.atomic_file import atomic_write

SETTINGS_FILE = "settings.json"
MAX_SETTINGS_BYTES = 1024 * 1024

# Environment variables that override a setting for this run only (never saved).
ENV_OVERRIDES = {
    "SNAPASK_GEMINI_BASE_URL": "gemini_base_url",
    "SNAPASK_OPENAI_BASE_URL": "openai_base_url",
}


class SettingsError(ValueError):
    """A setting value that cannot be accepted; the message says why."""


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError("must be a non-empty text")
    if len(value) > 200:
        raise SettingsError("must be at most 200 characters")
    return value.strip()


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return _text(value)


def _provider(value: object) -> str:
    text = _text(value).lower()
    if text not in PROVIDERS:
        raise SettingsError(f"must be one of: {', '.join(PROVIDERS)}")
    return text


def _one_of(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise SettingsError(f"must be one of: {', '.join(choices)}")
        return text

    return check


def _url(value: object) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("must be an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1")
    return text.rstrip("/")


def _optional_url(value: object) -> str | None:
    if value is None or value == "":
        return None
    return _url(value)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingsError("must be true or false")


def _number_in(low: float, high: float) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError("must be a number")
        if not low <= value <= high:
            raise SettingsError(f"must be between {low:g} and {high:g}")
        return float(value)

    return check


def _int_in(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError("must be a whole number")
        if not low <= value <= high:
            raise SettingsError(f"must be between {low} and {high}")
        return value

    return check


HOTKEY_ACTIONS = ("capture_region", "capture_full", "reopen_last")
MAX_TEMPLATES = 30


def _hotkeys(value: object) -> dict[str, str]:
    # Only the actions the user changed are stored; "" turns an action's hotkey off.
    from snapask_desktop.capture.hotkey_spec import HotkeyError, parse_hotkey

    if not isinstance(value, dict):
        raise SettingsError('must be an object like {"capture_region": "<ctrl>+<alt>+s"}')
    result: dict[str, str] = {}
    for action, text in value.items():
        if action not in HOTKEY_ACTIONS:
            raise SettingsError(
                f"has unknown action {action!r} (known: {', '.join(HOTKEY_ACTIONS)})"
            )
        if not isinstance(text, str):
            raise SettingsError(f"{action} must be a hotkey text such as Ctrl+Alt+S")
        try:
            result[action] = parse_hotkey(text).pynput() if text.strip() else ""
        except HotkeyError as error:
            raise SettingsError(f"{action}: {error}") from None
    return result


def _templates(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_TEMPLATES:
        raise SettingsError(f"must be a list of at most {MAX_TEMPLATES} templates")
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"label", "prompt"}:
            raise SettingsError('entries must look like {"label": "Fix grammar", "prompt": "..."}')
        label, prompt = item["label"], item["prompt"]
        if not isinstance(label, str) or not 1 <= len(label.strip()) <= 40:
            raise SettingsError("template labels must be 1 to 40 characters")
        if not isinstance(prompt, str) or not 1 <= len(prompt.strip()) <= 4000:
            raise SettingsError(f"template {label!r} needs a prompt of 1 to 4000 characters")
        result.append({"label": label.strip(), "prompt": prompt.strip()})
    return result


def _meta(check: Callable[[object], Any], help_text: str) -> dict[str, Any]:
    return {"check": check, "help": help_text}


def _setting(default: Any, check: Callable[[object], Any], help_text: str) -> Any:
    return field(default=default, metadata=_meta(check, help_text))


@dataclass(frozen=True)
class Settings:
    """Every user setting with its default; see `describe()` for the help texts."""

    provider: str = _setting("gemini", _provider, "AI provider: gemini or openai (compatible)")
    gemini_model: str = _setting("gemini-2.5-flash", _text, "Gemini model name")
    gemini_base_url: str | None = _setting(
        None, _optional_url, "Gemini API base URL (empty: Google's)"
    )
    openai_base_url: str = _setting(
        "http://127.0.0.1:11434/v1",
        _url,
        "OpenAI-compatible server (Ollama, LM Studio, llama.cpp)",
    )
    openai_model: str = _setting("llava", _text, "model name on the OpenAI-compatible server")
    openai_pictures: PictureMode = _setting(  # noqa: RUF009 (a Literal of str: immutable)
        "auto",
        _one_of(*PICTURE_MODES),
        "pictures for that model: send, text (a model that reads none gets the text read from "
        "them), or auto (send; their text once the model says it reads no pictures)",
    )
    request_timeout_s: float = _setting(
        120.0, _number_in(5, 3600), "seconds to wait for an answer before giving up"
    )
    max_retries: int = _setting(
        3, _int_in(0, 10), "times a failed request is retried (busy, offline, server errors)"
    )
    answer_cache: bool = _setting(True, _bool, "answer a repeated question from the cache")
    translate_to: str = _setting("English", _text, "target language of the Translate action")
    hotkeys: dict[str, str] = field(
        default_factory=dict,
        metadata=_meta(_hotkeys, 'hotkeys changed from the defaults, by action ("" = off)'),
    )
    prompt_templates: list[dict[str, str]] = field(
        default_factory=list,
        metadata=_meta(_templates, 'your own quick actions: [{"label": ..., "prompt": ...}]'),
    )
    start_at_login: bool = _setting(False, _bool, "start SnapAsk when you log in")
    read_picture_text: bool = _setting(
        True, _bool, "read the text in pictures on this device, so History search finds it"
    )
    redact_secrets: bool = _setting(
        False,
        _bool,
        "paint out what looks like a secret (keys, tokens, passwords) before a picture is kept "
        "or sent; if that cannot be done, the picture is not sent",
    )
    ask_before_suggested_redaction: bool = _setting(
        False,
        _bool,
        "always ask before sending a picture with a suggested redaction: the picture opens in "
        "the editor with the suggested boxes, to accept (Enter) or send as it is",
    )
    sync_server_url: str | None = _setting(
        None, _optional_url, "sync server, e.g. http://192.168.1.5:8765 (empty: sync off)"
    )
    sync_user: str | None = _setting(
        None, _optional_text, "the account this device signed in to the sync server as"
    )
    device_name: str | None = _setting(
        None, _optional_text, "this device's name on the sync server (empty: the host name)"
    )

    def model_for(self, provider: str) -> str:
        """The configured model name of a provider."""
        return self.gemini_model if provider == "gemini" else self.openai_model

    def base_url_for(self, provider: str) -> str | None:
        """The configured base URL of a provider (None: the provider's own default)."""
        return self.gemini_base_url if provider == "gemini" else self.openai_base_url


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def parse_value(key: str, raw: str) -> Any:
    """Turn a command-line text into a checked value for one setting."""
    spec = _field(key)
    value: object = raw
    if isinstance(spec.default, bool):
        lowered = raw.strip().lower()
        truth = {"true": True, "yes": True, "on": True, "1": True}
        falsity = {"false": False, "no": False, "off": False, "0": False}
        value = truth.get(lowered, falsity.get(lowered, raw))
    elif spec.default is dataclasses.MISSING:  # a list or object setting: JSON text
        try:
            value = json.loads(raw)
        except ValueError:
            raise SettingsError(f"{key} must be given as JSON, got {raw!r}") from None
    elif isinstance(spec.default, int):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{key} must be a whole number, got {raw!r}") from None
    elif isinstance(spec.default, float):
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{key} must be a number, got {raw!r}") from None
    return check_value(key, value)


def check_value(key: str, value: object) -> Any:
    """Validate one setting value; SettingsError names the key and the rule."""
    spec = _field(key)
    try:
        return spec.metadata["check"](value)
    except SettingsError as error:
        raise SettingsError(f"{key} {error}") from None


def default_value(key: str) -> Any:
    """The default of one setting."""
    _field(key)
    return getattr(Settings(), key)


def describe(key: str) -> str:
    """The one-line help text of a setting."""
    return str(_field(key).metadata["help"])


def _field(key: str) -> dataclasses.Field[Any]:
    try:
        return FIELDS[key]
    except KeyError:
        raise SettingsError(
            f"unknown setting {key!r}; known settings: {', '.join(FIELDS)}"
        ) from None


@dataclass
class LoadResult:
    """Settings as loaded, with the problems found and where a bad file was kept."""

    settings: Settings
    problems: list[str] = field(default_factory=list)
    backup: Path | None = None
    unknown: dict[str, Any] = field(default_factory=dict)


class SettingsStore:
    """Reads and writes the settings file in the config folder."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or paths.config_dir()
        self.path = self.directory / SETTINGS_FILE

    def load(self) -> LoadResult:
        """Load settings; never raises for a bad file (see LoadResult.problems)."""
        result = self._read_file()
        result.settings = _apply_env(result.settings)
        return result

    def load_file_only(self) -> Settings:
        """The file's settings without environment overrides (when an override is unusable)."""
        return self._read_file().settings

    def save(self, settings: Settings) -> None:
        """Write the settings that differ from the defaults, atomically.

        Keys this version does not know are kept (a newer version may have written them);
        a value overridden from the environment is for this run only and is not saved.
        """
        on_disk = self._file_values()
        data = {key: value for key, value in on_disk.items() if key not in FIELDS}
        defaults = Settings()
        overridden = _env_overridden()
        for name in FIELDS:
            if name in overridden:
                if name in on_disk:
                    data[name] = on_disk[name]
            elif getattr(settings, name) != getattr(defaults, name):
                data[name] = getattr(settings, name)
        _atomic_write_json(self.path, data)

    def update(self, **changes: Any) -> Settings:
        """Validate and save some settings; returns the new settings."""
        current = self._read_file().settings
        checked = {key: check_value(key, value) for key, value in changes.items()}
        new = dataclasses.replace(current, **checked)
        self.save(new)
        return _apply_env(new)

    def _file_values(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # a broken file is in its backup
            return {}
        return data if isinstance(data, dict) else {}

    def _read_file(self) -> LoadResult:
        try:
            if self.path.stat().st_size > MAX_SETTINGS_BYTES:
                return self._reject(f"{self.path} is larger than 1 MB")
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LoadResult(Settings())
        except (OSError, UnicodeDecodeError) as error:
            return self._reject(f"{self.path} could not be read ({error})")
        try:
            data = json.loads(raw)
        except ValueError as error:
            return self._reject(f"{self.path} is not valid JSON ({error})")
        except RecursionError:  # json's parser recurses once per level of nesting
            return self._reject(f"{self.path} is nested too deeply to be a settings file")
        if not isinstance(data, dict):
            return self._reject(f"{self.path} must hold a JSON object")
        return self._from_mapping(data)

    def _from_mapping(self, data: dict[str, Any]) -> LoadResult:
        values: dict[str, Any] = {}
        problems: list[str] = []
        unknown = {k: v for k, v in data.items() if k not in FIELDS}
        for key, value in data.items():
            if key not in FIELDS:
                continue
            try:
                values[key] = check_value(key, value)
            except SettingsError as error:
                problems.append(f"{error} (found {value!r}) in {self.path}; using the default")
        result = LoadResult(Settings(**values), problems, unknown=unknown)
        if problems:
            result.backup = self._backup()
            if result.backup is not None:
                note = f" (the file as it is was kept as {result.backup})"
                result.problems = [problem + note for problem in problems]
        return result

    def _reject(self, problem: str) -> LoadResult:
        backup = self._backup()
        note = f"; it was kept as {backup}" if backup else ""
        return LoadResult(Settings(), [f"{problem}{note}; using default settings"], backup)

    def _backup(self) -> Path | None:
        """Keep the bad file as ``settings.json.broken-<time>``, once: the same bad file found
        again at the next start is already kept (a backup per start would pile up)."""
        try:
            content = self.path.read_bytes()
        except OSError:
            return None
        kept = _same_backup(self.path, content)
        if kept is not None:
            return kept
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", *(f"-{n}" for n in range(2, 100))):
            backup = self.path.with_name(f"{SETTINGS_FILE}.broken-{stamp}{suffix}")
            try:
                with backup.open("xb") as handle:  # never overwrite another backup
                    handle.write(content)
            except FileExistsError:
                continue
            except OSError:
                backup.unlink(missing_ok=True)  # no half-written copy
                return None
            return backup
        return None


def _same_backup(path: Path, content: bytes) -> Path | None:
    """An existing backup of ``path`` holding exactly ``content``."""
    for kept in sorted(path.parent.glob(f"{path.name}.broken-*")):
        try:
            if kept.stat().st_size == len(content) and kept.read_bytes() == content:
                return kept
        except OSError:
            continue
    return None


def _env_overridden() -> list[str]:
    return [key for env, key in ENV_OVERRIDES.items() if os.environ.get(env, "").strip()]


def _apply_env(settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    for env, key in ENV_OVERRIDES.items():
        raw = os.environ.get(env, "").strip()
        if raw:
            try:
                changes[key] = check_value(key, raw)
            except SettingsError as error:
                raise SettingsError(f"{env}: {error}") from None
    return dataclasses.replace(settings, **changes) if changes else settings


def _atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"), ".settings-")
