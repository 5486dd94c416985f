"""Settings: defaults, validation, broken files kept as backups, environment overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapask_desktop import config, paths


def store() -> config.SettingsStore:
    return config.SettingsStore()


def test_defaults_when_no_file() -> None:
    result = store().load()
    assert result.settings == config.Settings()
    assert result.problems == []
    assert not store().path.exists()


def test_folders_follow_environment(isolated_env: Path) -> None:
    assert paths.config_dir() == isolated_env / "config"
    assert paths.data_dir() == isolated_env / "data"
    assert store().path == isolated_env / "config" / "settings.json"


def test_update_round_trip_keeps_only_changes() -> None:
    settings = store().update(provider="openai", openai_model="qwen2.5vl", answer_cache=False)
    assert settings.provider == "openai"
    on_disk = json.loads(store().path.read_text())
    assert on_disk == {"provider": "openai", "openai_model": "qwen2.5vl", "answer_cache": False}
    loaded = store().load().settings
    assert loaded.openai_model == "qwen2.5vl"
    assert loaded.answer_cache is False
    assert loaded.gemini_model == config.Settings().gemini_model


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("provider", "claude", "must be one of"),
        ("openai_base_url", "ftp://x", "http:// or https://"),
        ("request_timeout_s", 0, "between"),
        ("answer_cache", "yes", "true or false"),
        ("gemini_model", "", "non-empty"),
        ("nonsense", 1, "unknown setting"),
    ],
)
def test_invalid_values_are_refused_with_reason(key: str, value: object, fragment: str) -> None:
    with pytest.raises(config.SettingsError, match=fragment):
        store().update(**{key: value})
    assert not store().path.exists()


def test_parse_value_from_text() -> None:
    assert config.parse_value("answer_cache", "off") is False
    assert config.parse_value("request_timeout_s", "30") == 30.0
    with pytest.raises(config.SettingsError, match="number"):
        config.parse_value("request_timeout_s", "soon")


def test_broken_json_is_backed_up_and_defaults_used() -> None:
    path = store().path
    path.parent.mkdir(parents=True)
    path.write_text('{"provider": "openai",', encoding="utf-8")
    result = store().load()
    assert result.settings == config.Settings()
    assert result.backup is not None
    assert result.backup.read_text() == '{"provider": "openai",'
    assert "not valid JSON" in result.problems[0]
    assert str(result.backup) in result.problems[0]


def test_hand_edited_bad_values_keep_the_good_ones() -> None:
    path = store().path
    path.parent.mkdir(parents=True)
    original = {"provider": "openai", "request_timeout_s": "forever", "future_key": [1, 2]}
    path.write_text(json.dumps(original), encoding="utf-8")
    result = store().load()
    assert result.settings.provider == "openai"
    assert result.settings.request_timeout_s == config.Settings().request_timeout_s
    assert len(result.problems) == 1 and "request_timeout_s" in result.problems[0]
    assert result.backup is not None and json.loads(result.backup.read_text()) == original
    # A key from a newer version survives a save by this one.
    store().update(gemini_model="gemini-2.5-pro")
    assert json.loads(path.read_text())["future_key"] == [1, 2]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"[1, 2, 3]", b""])
def test_other_broken_files(content: bytes) -> None:
    path = store().path
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = store().load()
    assert result.settings == config.Settings()
    assert result.problems
    assert result.backup is not None and result.backup.read_bytes() == content


DEPTH = 50_000


@pytest.mark.parametrize(
    "content",
    ['{"a": ' * DEPTH + "1" + "}" * DEPTH, "[" * DEPTH + "]" * DEPTH],
    ids=["objects", "lists"],
)
def test_a_deeply_nested_file_is_kept_aside_not_a_crash(content: str) -> None:
    path = store().path
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    result = store().load()
    assert result.settings == config.Settings()
    (problem,) = result.problems
    assert problem.startswith(f"{path} is nested too deeply")
    assert result.backup is not None and result.backup.read_text() == content
    assert f"it was kept as {result.backup}" in problem
    # Saving over it works too (the bad file is in its backup).
    assert store().update(provider="openai").provider == "openai"
    assert json.loads(path.read_text()) == {"provider": "openai"}


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("settings.json.broken-*"))


def test_the_same_bad_value_at_every_start_is_backed_up_once() -> None:
    path = store().path
    path.parent.mkdir(parents=True)
    path.write_text('{"request_timeout_s": "forever"}', encoding="utf-8")
    first = store().load().backup
    assert first is not None
    # As if that start was a while ago (each start stamps its own time).
    earlier = first.with_name("settings.json.broken-20200101-000000")
    first.rename(earlier)
    for _start in range(3):
        result = store().load()
        assert result.backup == earlier
        assert result.problems == [
            "request_timeout_s must be a number (found 'forever') in "
            f"{path}; using the default (the file as it is was kept as {earlier})"
        ]
    assert backups(path.parent) == [earlier]
    # A file broken in another way is another backup: nothing is lost.
    path.write_text('{"request_timeout_s": "never"}', encoding="utf-8")
    other = store().load().backup
    assert other is not None and other != earlier
    assert other.read_text() == '{"request_timeout_s": "never"}'
    assert backups(path.parent) == sorted([earlier, other])


def test_environment_overrides_are_not_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    store().update(gemini_base_url="http://10.0.0.5:9000")
    monkeypatch.setenv("SNAPASK_GEMINI_BASE_URL", "http://127.0.0.1:5555/")
    settings = store().load().settings
    assert settings.gemini_base_url == "http://127.0.0.1:5555"
    store().save(settings)
    assert json.loads(store().path.read_text())["gemini_base_url"] == "http://10.0.0.5:9000"


def test_bad_environment_override_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPASK_OPENAI_BASE_URL", "localhost:11434")
    with pytest.raises(config.SettingsError, match="SNAPASK_OPENAI_BASE_URL"):
        store().load()


def test_save_is_atomic_no_temp_files_left() -> None:
    for model in ("a", "b", "c"):
        store().update(gemini_model=model)
    leftovers = [p.name for p in store().path.parent.iterdir() if p.name != "settings.json"]
    assert leftovers == []


def test_hotkeys_are_normalised_and_checked() -> None:
    settings = store().update(hotkeys={"capture_region": "Ctrl+Shift+X", "reopen_last": ""})
    assert settings.hotkeys == {"capture_region": "<ctrl>+<shift>+x", "reopen_last": ""}
    with pytest.raises(config.SettingsError, match="unknown action"):
        store().update(hotkeys={"launch_rockets": "Ctrl+R"})
    with pytest.raises(config.SettingsError, match="capture_full"):
        store().update(hotkeys={"capture_full": "Ctrl+Alt+S+D"})


def test_prompt_templates_round_trip_and_limits() -> None:
    templates = [{"label": "Fix grammar", "prompt": "Correct the grammar of the text."}]
    assert store().update(prompt_templates=templates).prompt_templates == templates
    assert store().load().settings.prompt_templates == templates
    assert config.parse_value("prompt_templates", '[{"label": "A", "prompt": "B"}]') == [
        {"label": "A", "prompt": "B"}
    ]
    with pytest.raises(config.SettingsError, match="JSON"):
        config.parse_value("prompt_templates", "[{oops")
    with pytest.raises(config.SettingsError, match="1 to 40"):
        store().update(prompt_templates=[{"label": "", "prompt": "x"}])
    assert config.Settings().prompt_templates == [] and config.default_value("hotkeys") == {}
