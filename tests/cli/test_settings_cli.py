"""`snapask config` and `snapask key` through the real entry point in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import snapask


def test_config_set_get_unset(isolated_env: Path) -> None:
    assert snapask("config", "set", "provider", "openai").returncode == 0
    got = snapask("config", "get", "provider")
    assert got.stdout.strip() == "openai"
    listing = snapask("config").stdout
    assert "provider = openai  (changed)" in listing
    assert "gemini_model = gemini-2.5-flash" in listing
    assert snapask("config", "unset", "provider").returncode == 0
    assert snapask("config", "get", "provider").stdout.strip() == "gemini"


def test_config_rejects_bad_value_with_reason() -> None:
    result = snapask("config", "set", "request_timeout_s", "-3")
    assert result.returncode == 2
    assert "request_timeout_s must be between" in result.stderr


def test_broken_settings_file_reported_and_kept(isolated_env: Path) -> None:
    path = isolated_env / "config" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("{broken", encoding="utf-8")
    result = snapask("config", "get", "provider")
    assert result.returncode == 0 and result.stdout.strip() == "gemini"
    assert "not valid JSON" in result.stderr and "broken-" in result.stderr
    assert any(p.name.startswith("settings.json.broken-") for p in path.parent.iterdir())


def test_a_deeply_nested_settings_file_is_a_plain_message(isolated_env: Path) -> None:
    path = isolated_env / "config" / "settings.json"
    path.parent.mkdir(parents=True)
    content = "[" * 50_000 + "]" * 50_000
    path.write_text(content, encoding="utf-8")
    for _start in range(2):
        result = snapask("config", "get", "provider")
        assert result.returncode == 0 and result.stdout.strip() == "gemini"
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"settings: {path} is nested too deeply")
    (kept,) = path.parent.glob("settings.json.broken-*")  # one copy, not one per start
    assert kept.read_text() == content
    assert f"it was kept as {kept}" in result.stderr


def test_key_set_from_stdin_never_written_to_files(isolated_env: Path) -> None:
    secret = "AIzaSyTestSecret0123456789"
    result = snapask("key", "set", "gemini", input=secret + "\n")
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    status = snapask("key", "status", "gemini")
    assert status.stdout.strip() == "gemini: set, from the keyring"
    # The secret lives only in the keyring backend's own store, not in SnapAsk's folders.
    for folder in (isolated_env / "config", isolated_env / "data"):
        for file in folder.rglob("*"):
            assert not file.is_file() or secret.encode() not in file.read_bytes()
    assert snapask("key", "delete", "gemini").returncode == 0
    assert snapask("key", "status", "gemini").stdout.strip() == "gemini: not set"


def test_key_status_reports_environment() -> None:
    result = snapask("key", "status", env={"GEMINI_API_KEY": "abc"})
    assert "gemini: set, from the environment (GEMINI_API_KEY)" in result.stdout
    assert "abc" not in result.stdout


def test_no_keyring_is_explained() -> None:
    result = snapask(
        "key",
        "set",
        "gemini",
        input="k\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 1
    assert "No system keyring" in result.stderr


def test_version_and_help() -> None:
    assert snapask("--version").stdout.startswith("snapask ")
    assert "config" in snapask("--help").stdout


def test_settings_file_is_json_object(isolated_env: Path) -> None:
    snapask("config", "set", "translate_to", "Deutsch")
    data = json.loads((isolated_env / "config" / "settings.json").read_text())
    assert data == {"translate_to": "Deutsch"}


def test_key_set_prompts_on_a_terminal_without_echo(isolated_env: Path) -> None:
    """On a real terminal the key is asked for with a prompt and never shown on screen."""
    import os
    import pty
    import sys
    import time

    from tests.support.cli import FILE_KEYRING, REPO

    secret = "AIzaSyTerminalSecret42"
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": FILE_KEYRING, "PYTHONPATH": str(REPO)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execve(
            sys.executable, [sys.executable, "-m", "snapask_desktop", "key", "set", "gemini"], env
        )
    screen = b""
    deadline = time.monotonic() + 30
    while b"input hidden" not in screen and time.monotonic() < deadline:
        screen += os.read(fd, 1024)
    os.write(fd, secret.encode() + b"\r")
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert b"gemini API key (input hidden): " in screen
    assert b"stored in the system keyring" in screen
    assert secret.encode() not in screen
    assert snapask("key", "status", "gemini").stdout.strip() == "gemini: set, from the keyring"


def test_tray_app_without_a_desktop_says_so() -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}
    result = snapask(env=env)
    assert result.returncode == 1
    assert "needs a desktop session" in result.stderr and "snapask --help" in result.stderr
