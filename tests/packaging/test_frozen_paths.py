"""What changes when SnapAsk runs frozen: resources and the OCR model under sys._MEIPASS, start
at login through the bundle's executable, and the sync server behind `snapask --sync-server`."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from snapask_desktop import autostart
from snapask_desktop.__main__ import main
from snapask_desktop.ocr.engine import tessdata_dir
from snapask_desktop.resources import bundled_tessdata, resource_path, resources_dir
from tests.support.cli import REPO

BUNDLED_EXE = "/opt/SnapAsk app/snapask"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> str:
    """This process looks like the PyInstaller bundle's executable (what the bootloader sets)."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", BUNDLED_EXE)
    return BUNDLED_EXE


def test_resources_from_the_checkout() -> None:
    assert resources_dir() == REPO / "resources"
    assert resource_path("icons", "snapask.svg").is_file()


def test_resources_from_the_bundle_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    icon = tmp_path / "resources" / "icons" / "snapask.svg"
    icon.parent.mkdir(parents=True)
    icon.write_text("<svg/>")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"
    assert resource_path("icons", "snapask.svg") == icon
    with pytest.raises(FileNotFoundError, match=r"tray-idle-dark\.svg"):
        resource_path("icons", "tray-idle-dark.svg")


def test_the_ocr_model_inside_the_bundle_comes_before_the_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "usr-share-tessdata"
    bundled = tmp_path / "tessdata"
    for folder in (system, bundled):
        folder.mkdir()
        (folder / "eng.traineddata").write_bytes(b"model")
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    assert bundled_tessdata() is None  # from a checkout: the system's model
    assert tessdata_dir([system]) == system
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert bundled_tessdata() == bundled
    assert tessdata_dir([system]) == bundled
    # TESSDATA_PREFIX still wins: the user's choice
    prefix = tmp_path / "mine"
    prefix.mkdir()
    (prefix / "eng.traineddata").write_bytes(b"model")
    monkeypatch.setenv("TESSDATA_PREFIX", str(prefix))
    assert tessdata_dir([system]) == prefix


def test_frozen_autostart_entry_runs_the_bundle(
    frozen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    autostart.enable("linux")
    text = (tmp_path / "xdg" / "autostart" / "snapask.desktop").read_text(encoding="utf-8")
    assert f"\nExec={autostart.exec_value([frozen])}\n" in text
    assert '\nExec="/opt/SnapAsk app/snapask"\n' in text  # no `python -m`, quoted for the space
    assert autostart.is_enabled("linux")


def test_frozen_launch_agent_and_run_key_use_the_bundle(
    frozen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    autostart.enable("darwin")
    agent = plistlib.loads(autostart.macos_agent_file().read_bytes())
    assert agent["ProgramArguments"] == [frozen]
    monkeypatch.setattr(sys, "executable", r"C:\Program Files\SnapAsk\snapask.exe")
    # Frozen on Windows: the bundle's exe itself (no pythonw.exe swap), quoted for the space.
    command = autostart.run_key_command(autostart.launch_command(platform="win32"))
    assert command == r'"C:\Program Files\SnapAsk\snapask.exe"'


def test_sync_server_flag_runs_the_server_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sync-server", "user", "list", "--data-dir", str(tmp_path / "server")]) == 0
    assert "no users yet" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--sync-server", "--help"])
    assert exit_info.value.code == 0
    assert "serve" in capsys.readouterr().out


def test_sync_server_flag_is_only_a_first_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["history", "--sync-server"])
    assert exit_info.value.code == 2  # the desktop CLI's usage error, not the server
    assert "unrecognized arguments: --sync-server" in capsys.readouterr().err


def test_sync_server_from_the_command_line_loads_no_qt(tmp_path: Path) -> None:
    # A headless host runs the server: `snapask --sync-server` must not need Qt's libraries.
    code = (
        "import sys\n"
        "from snapask_desktop.__main__ import main\n"
        f"code = main(['--sync-server', 'user', 'list', '--data-dir', {str(tmp_path)!r}])\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no users yet" in done.stdout
