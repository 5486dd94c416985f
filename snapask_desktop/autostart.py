"""Start SnapAsk at login: XDG autostart (Linux), a LaunchAgent (macOS), the Run key (Windows).

The file contents are built by pure functions; `enable`, `disable` and `is_enabled` are the
thin I/O around them. No Qt here.
"""

from __future__ import annotations

import ntpath
import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from snapask_desktop.atomic_file import atomic_write
from snapask_desktop.capture.session import platform_name

APP_NAME = "SnapAsk"
DESKTOP_FILE = "snapask.desktop"
LAUNCH_AGENT_LABEL = "app.snapask.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME

# Characters that force quoting of an Exec argument (Desktop Entry spec, "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


class AutostartError(RuntimeError):
    """Start at login could not be changed; the message says what went wrong."""


# ----------------------------------------------------------------- the command


def launch_command(
    *,
    frozen: bool | None = None,
    executable: str | None = None,
    platform: str | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> tuple[str, ...]:
    """The command that starts this SnapAsk: the bundle itself, or this Python with `-m`."""
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    program = executable or sys.executable
    if is_frozen:
        return (program,)
    if platform_name(platform) == "windows":
        program = windowless_python(program, exists)
    return (program, "-m", "snapask_desktop")


def windowless_python(executable: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """pythonw.exe beside python.exe when there is one, so login opens no console window."""
    head, name = ntpath.split(executable)  # a Windows path, wherever this runs
    if name.lower() != "python.exe":
        return executable
    candidate = ntpath.join(head, "pythonw.exe")
    return candidate if exists(candidate) else executable


# ----------------------------------------------------------------- Linux (XDG autostart)


def exec_value(argv: Sequence[str]) -> str:
    """The Exec= value for argv, quoted and escaped as the Desktop Entry spec requires."""
    return " ".join(_exec_argument(arg) for arg in argv)


def _exec_argument(arg: str) -> str:
    if arg and not any(ch in _EXEC_RESERVED for ch in arg):
        quoted = arg
    else:
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        quoted = f'"{inner}"'
    # Then the rules every string value follows: backslashes doubled, "%" is a field code.
    escaped = quoted.replace("\\", "\\\\").replace("%", "%%")
    return escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def desktop_entry(argv: Sequence[str]) -> str:
    """The autostart .desktop file that runs argv at login."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Comment=Screenshot, then ask AI about it",
        f"Exec={exec_value(argv)}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    return "\n".join(lines) + "\n"


def entry_enabled(text: str) -> bool:
    """Whether an autostart entry is active (desktops hide it with Hidden= or the GNOME key)."""
    in_main_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_main_group = line == "[Desktop Entry]"
            continue
        key, _, value = line.partition("=")
        if not in_main_group:
            continue
        if key.strip() == "Hidden" and value.strip().lower() == "true":
            return False
        if key.strip() == "X-GNOME-Autostart-enabled" and value.strip().lower() == "false":
            return False
    return True


def linux_autostart_file(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """`$XDG_CONFIG_HOME/autostart/snapask.desktop` (~/.config when unset or not absolute)."""
    env = os.environ if environ is None else environ
    configured = env.get("XDG_CONFIG_HOME", "").strip()
    # The XDG spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    if configured and os.path.isabs(configured):
        base = Path(configured)
    else:
        base = (home or Path.home()) / ".config"
    return base / "autostart" / DESKTOP_FILE


# ----------------------------------------------------------------- macOS (LaunchAgent)


def launch_agent(argv: Sequence[str], label: str = LAUNCH_AGENT_LABEL) -> bytes:
    """The LaunchAgent property list that runs argv once at login, in the GUI session."""
    agent = {
        "Label": label,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    return plistlib.dumps(agent)


def macos_agent_file(home: Path | None = None) -> Path:
    """`~/Library/LaunchAgents/<label>.plist`."""
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


# ----------------------------------------------------------------- Windows (Run key)


def run_key_command(argv: Sequence[str]) -> str:
    """The Run value: one command line quoted the way Windows programs split it."""
    return subprocess.list2cmdline(list(argv))


# ----------------------------------------------------------------- I/O


def enable(platform: str | None = None, argv: Sequence[str] | None = None) -> None:
    """Start SnapAsk (argv: this one) at the next login."""
    command = tuple(argv) if argv is not None else launch_command(platform=platform)
    name = platform_name(platform)
    if name == "windows":
        _set_run_value(run_key_command(command))
    elif name == "macos":
        _write_file(macos_agent_file(), launch_agent(command))
    else:
        _write_file(linux_autostart_file(), desktop_entry(command).encode("utf-8"))


def disable(platform: str | None = None) -> None:
    """Stop starting SnapAsk at login (nothing to do if it was not set)."""
    name = platform_name(platform)
    if name == "windows":
        _delete_run_value()
        return
    path = macos_agent_file() if name == "macos" else linux_autostart_file()
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise AutostartError(f"Could not remove {path}: {error.strerror or error}") from error


def is_enabled(platform: str | None = None) -> bool:
    """Whether SnapAsk is set to start at login."""
    name = platform_name(platform)
    if name == "windows":
        return _get_run_value() is not None
    if name == "macos":
        return macos_agent_file().is_file()
    path = linux_autostart_file()
    try:
        return entry_enabled(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def set_enabled(enabled: bool, platform: str | None = None) -> None:
    """enable() or disable()."""
    if enabled:
        enable(platform)
    else:
        disable(platform)


def _write_file(path: Path, content: bytes) -> None:
    try:
        atomic_write(path, content, f".{path.name}.")
    except OSError as error:
        raise AutostartError(
            f"Could not write {path}: {error.strerror or error}. "
            "Check that the folder exists and is writable."
        ) from error


def _set_run_value(command: str) -> None:
    import winreg  # type: ignore[import-not-found,unused-ignore]  # Windows only

    try:
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, command)
    except OSError as error:
        raise AutostartError(f"Windows refused to add SnapAsk to the Run key: {error}") from error


def _delete_run_value() -> None:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, RUN_VALUE)
    except FileNotFoundError:
        return
    except OSError as error:
        raise AutostartError(
            f"Windows refused to remove SnapAsk from the Run key: {error}"
        ) from error


def _get_run_value() -> str | None:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _kind = winreg.QueryValueEx(key, RUN_VALUE)
    except OSError:
        return None
    return str(value)
