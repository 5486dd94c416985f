"""Start at login: the real Linux autostart file, and the macOS / Windows contents as data."""

from __future__ import annotations

import configparser
import plistlib
import stat
import sys
from pathlib import Path

import pytest

from snapask_desktop import autostart


@pytest.fixture
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


def _unescape_exec(value: str) -> list[str]:
    """Read an Exec value back as the Desktop Entry spec says: string escapes, %%, quoting."""
    text, i = "", 0
    while i < len(value):  # the escapes of every string value come first
        if value[i] == "\\" and i + 1 < len(value):
            text += {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[value[i + 1]]
            i += 2
        else:
            text += value[i]
            i += 1
    text = text.replace("%%", "%")
    args: list[str] = []
    current: str | None = None
    quoted, i = False, 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and text[i + 1] in '"`$\\':
            current = (current or "") + text[i + 1]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
            current = current or ""
        elif ch == " " and not quoted:
            if current is not None:
                args.append(current)
            current = None
        else:
            current = (current or "") + ch
        i += 1
    assert not quoted, "unbalanced quotes"
    if current is not None:
        args.append(current)
    return args


def _read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_linux_enable_writes_the_entry_under_xdg_config_home(xdg_config: Path) -> None:
    assert not autostart.is_enabled("linux")
    autostart.enable("linux")
    path = xdg_config / "autostart" / "snapask.desktop"
    assert path.is_file()
    assert autostart.is_enabled("linux")
    entry = _read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "SnapAsk"
    assert entry["Terminal"] == "false"
    assert _unescape_exec(entry["Exec"]) == [sys.executable, "-m", "snapask_desktop"]
    assert not stat.S_IMODE(path.stat().st_mode) & stat.S_IWOTH
    assert [p.name for p in path.parent.iterdir()] == ["snapask.desktop"]  # no temp left


def test_linux_disable_removes_the_entry_and_is_idempotent(xdg_config: Path) -> None:
    autostart.set_enabled(True, "linux")
    other = xdg_config / "autostart" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\nName=Other\n", encoding="utf-8")
    autostart.set_enabled(False, "linux")
    assert not (xdg_config / "autostart" / "snapask.desktop").exists()
    assert not autostart.is_enabled("linux")
    assert other.exists()  # only our own file is touched
    autostart.disable("linux")  # nothing to remove: fine


def test_linux_enable_replaces_an_old_entry(xdg_config: Path) -> None:
    path = xdg_config / "autostart" / "snapask.desktop"
    path.parent.mkdir(parents=True)
    path.write_text("[Desktop Entry]\nExec=/old/snapask\nHidden=true\n", encoding="utf-8")
    assert not autostart.is_enabled("linux")  # a desktop hid it
    autostart.enable("linux", argv=["/opt/SnapAsk/snapask"])
    assert autostart.is_enabled("linux")
    assert _read_entry(path)["Exec"] == "/opt/SnapAsk/snapask"


def test_relative_xdg_config_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert autostart.linux_autostart_file(home=tmp_path) == (
        tmp_path / ".config" / "autostart" / "snapask.desktop"
    )
    environ = {"XDG_CONFIG_HOME": "/custom/cfg"}
    assert autostart.linux_autostart_file(environ) == Path("/custom/cfg/autostart/snapask.desktop")
    assert autostart.linux_autostart_file({}, home=Path("/home/ada")) == Path(
        "/home/ada/.config/autostart/snapask.desktop"
    )


def test_unwritable_autostart_folder_is_a_plain_error(xdg_config: Path) -> None:
    xdg_config.mkdir()
    (xdg_config / "autostart").write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(autostart.AutostartError, match="Could not write"):
        autostart.enable("linux")
    assert not autostart.is_enabled("linux")


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/python3", "-m", "snapask_desktop"],
        ["/home/ada/My Apps/SnapAsk/snapask"],
        ['/opt/we"ird/$HOME/`x`/back\\slash/100%/snapask', "--flag=a b"],
        ["/tmp/tab\there/it's;(x)|y&z*?#~<>"],
        ["/tmp/new\nline\r/snapask"],
    ],
)
def test_exec_value_round_trips_through_the_spec_rules(argv: list[str]) -> None:
    value = autostart.exec_value(argv)
    assert "\n" not in value and "\r" not in value and "\t" not in value
    assert _unescape_exec(value) == argv


def test_exec_quotes_only_what_needs_it() -> None:
    assert autostart.exec_value(["/usr/bin/snapask"]) == "/usr/bin/snapask"
    assert autostart.exec_value(["/a b/snapask"]) == '"/a b/snapask"'
    assert autostart.exec_value(["/x/50%"]) == "/x/50%%"
    assert autostart.exec_value(["/x/$y"]) == '"/x/\\\\$y"'


def test_entry_enabled_reads_hidden_and_the_gnome_key() -> None:
    assert autostart.entry_enabled(autostart.desktop_entry(["/bin/snapask"]))
    assert not autostart.entry_enabled("[Desktop Entry]\nHidden=true\n")
    assert not autostart.entry_enabled("[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n")
    assert autostart.entry_enabled("[Other Group]\nHidden=true\n[Desktop Entry]\nName=x\n")


def test_launch_command_frozen_and_from_python() -> None:
    assert autostart.launch_command(frozen=True, executable="/opt/SnapAsk/SnapAsk") == (
        "/opt/SnapAsk/SnapAsk",
    )
    assert autostart.launch_command(frozen=False, executable="/v/bin/python", platform="linux") == (
        "/v/bin/python",
        "-m",
        "snapask_desktop",
    )
    assert autostart.launch_command() == (sys.executable, "-m", "snapask_desktop")


def test_windows_uses_pythonw_when_it_exists() -> None:
    exe = r"C:\Py\python.exe"
    seen: list[str] = []

    def exists(path: str) -> bool:
        seen.append(path)
        return True

    command = autostart.launch_command(
        frozen=False, executable=exe, platform="win32", exists=exists
    )
    assert command == (r"C:\Py\pythonw.exe", "-m", "snapask_desktop")
    assert seen == [r"C:\Py\pythonw.exe"]
    missing = autostart.launch_command(
        frozen=False, executable=exe, platform="win32", exists=lambda path: False
    )
    assert missing[0] == exe
    assert autostart.windowless_python("/usr/bin/python3", lambda path: True) == "/usr/bin/python3"


def test_launch_agent_plist_content() -> None:
    argv = ["/Applications/SnapAsk.app/Contents/MacOS/SnapAsk"]
    agent = plistlib.loads(autostart.launch_agent(argv))
    assert agent == {
        "Label": "app.snapask.desktop",
        "ProgramArguments": argv,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert autostart.macos_agent_file(Path("/Users/ada")) == Path(
        "/Users/ada/Library/LaunchAgents/app.snapask.desktop.plist"
    )


def test_run_key_command_quotes_like_windows() -> None:
    argv = [r"C:\Program Files\Python311\pythonw.exe", "-m", "snapask_desktop"]
    assert autostart.run_key_command(argv) == (
        '"C:\\Program Files\\Python311\\pythonw.exe" -m snapask_desktop'
    )
    assert autostart.run_key_command([r"C:\SnapAsk\SnapAsk.exe"]) == r"C:\SnapAsk\SnapAsk.exe"
