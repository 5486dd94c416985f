"""Default hotkeys, the well-known OS shortcuts they must not shadow, and clash detection.

Why these defaults (details in docs/capture.md):
- Linux: Ctrl+Alt+S (region, "snip"), Ctrl+Alt+W (whole screen), Ctrl+Alt+R (reopen).
  Free in GNOME, KDE Plasma, Xfce, Cinnamon and MATE, whose Ctrl+Alt space holds T, L,
  D, F (Xfce: file manager), A (Plasma 5: window demanding attention), K, Esc, Delete,
  Tab, arrows and F-keys. X11 keeps AltGr apart from Ctrl+Alt, so typing is unaffected.
- Windows: Win+Alt+S / Win+Alt+W / Win+Alt+A ("ask again"). Windows treats Ctrl+Alt as
  AltGr (Ctrl+Alt+S types "ś" on a Polish layout), so Microsoft advises against Ctrl+Alt
  shortcuts; Win combinations never type text and applications leave them alone. The
  Game Bar owns Win+Alt+R, G, B, M, T, K and Print Screen; Win11 Win+Alt+D.
- macOS: Ctrl+Cmd+S/W/R. Cmd+Shift+3/4/5/6 belong to the system screenshot tool,
  Option+letter types characters (pynput then reports "ß", not "s"), and with Control
  held pynput reports the plain key on every layout. macOS uses Ctrl+Cmd for Q (lock),
  F (full screen), D (look up) and Space (emoji) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from snapask_desktop.capture.hotkey_spec import Hotkey, HotkeyError, parse_hotkey
from snapask_desktop.capture.session import platform_name

CAPTURE_REGION = "capture_region"
CAPTURE_FULL = "capture_full"
REOPEN_LAST = "reopen_last"
ACTIONS = (CAPTURE_REGION, CAPTURE_FULL, REOPEN_LAST)
ACTION_LABELS = {
    CAPTURE_REGION: "Capture region",
    CAPTURE_FULL: "Capture full screen",
    REOPEN_LAST: "Reopen last conversation",
}

_WIN_ALT = {
    CAPTURE_REGION: "<alt>+<cmd>+s",
    CAPTURE_FULL: "<alt>+<cmd>+w",
    REOPEN_LAST: "<alt>+<cmd>+a",
}
_CTRL_ALT = {
    CAPTURE_REGION: "<ctrl>+<alt>+s",
    CAPTURE_FULL: "<ctrl>+<alt>+w",
    REOPEN_LAST: "<ctrl>+<alt>+r",
}
_CTRL_CMD = {
    CAPTURE_REGION: "<ctrl>+<cmd>+s",
    CAPTURE_FULL: "<ctrl>+<cmd>+w",
    REOPEN_LAST: "<ctrl>+<cmd>+r",
}
_DEFAULTS = {"linux": _CTRL_ALT, "windows": _WIN_ALT, "macos": _CTRL_CMD}


def default_hotkeys(platform: str | None = None) -> dict[str, Hotkey]:
    """The default binding of every action on `platform` (this machine's when None)."""
    return {action: parse_hotkey(text) for action, text in _DEFAULTS[_name(platform)].items()}


@dataclass(frozen=True)
class OsShortcut:
    """A shortcut some desktop reserves: where, and what it does there."""

    hotkey: Hotkey
    platform: str
    owner: str
    action: str

    def describe(self) -> str:
        """E.g. "KDE Plasma 5: Activate Window Demanding Attention"."""
        return f"{self.owner}: {self.action}"


def _table(platform: str, owner: str, rows: dict[str, str]) -> list[OsShortcut]:
    return [OsShortcut(parse_hotkey(keys), platform, owner, what) for keys, what in rows.items()]


# Defaults as shipped; people rebind them, so this is a warning list, not a blocklist.
KNOWN_OS_SHORTCUTS: tuple[OsShortcut, ...] = (
    *_table(
        "windows",
        "Windows",
        {
            "Win+Shift+S": "Snipping Tool: capture a region",
            "Print Screen": "Snipping Tool / copy the screen",
            "Alt+Print Screen": "copy the active window",
            "Win+Print Screen": "save a screenshot",
            "Win+Alt+Print Screen": "Game Bar screenshot",
            "Win+Alt+R": "Game Bar recording",
            "Win+Alt+G": "Game Bar: record what happened",
            "Win+Alt+B": "HDR on/off",
            "Win+Alt+M": "Game Bar: microphone",
            "Win+Alt+T": "Game Bar: recording timer",
            "Win+Alt+K": "mute the microphone in a call",
            "Win+Alt+D": "date and time",
            "Win+Shift+R": "Snipping Tool video",
            "Ctrl+Alt+Delete": "security screen",
            "Ctrl+Shift+Esc": "Task Manager",
            "Ctrl+Esc": "Start menu",
            "Alt+Tab": "switch windows",
            "Alt+F4": "close the window",
            "Alt+Space": "window menu",
            "Win+L": "lock",
            "Win+D": "show desktop",
            "Win+E": "File Explorer",
            "Win+R": "Run",
            "Win+S": "search",
            "Win+V": "clipboard history",
            "Win+.": "emoji panel",
            "Win+A": "quick settings",
            "Win+C": "Copilot",
            "Win+G": "Game Bar",
            "Win+H": "dictation",
            "Win+I": "Settings",
            "Win+K": "Cast",
            "Win+N": "notifications",
            "Win+P": "project to a screen",
            "Win+X": "quick link menu",
            "Win+Tab": "task view",
        },
    ),
    *_table(
        "macos",
        "macOS",
        {
            "Cmd+Shift+3": "screenshot of the screen",
            "Cmd+Shift+4": "screenshot of a region",
            "Cmd+Shift+5": "screenshot toolbar",
            "Cmd+Shift+6": "Touch Bar screenshot",
            "Ctrl+Cmd+Shift+3": "screen to the clipboard",
            "Ctrl+Cmd+Shift+4": "region to the clipboard",
            "Cmd+Space": "Spotlight",
            "Cmd+Alt+Space": "Finder search",
            "Ctrl+Cmd+Space": "emoji & symbols",
            "Ctrl+Cmd+Q": "lock screen",
            "Ctrl+Cmd+F": "full screen",
            "Ctrl+Cmd+D": "look up",
            "Cmd+Tab": "switch apps",
            "Cmd+`": "switch windows",
            "Cmd+Alt+Esc": "force quit",
            "Cmd+Alt+D": "show/hide the Dock",
            "Cmd+Shift+Q": "log out",
            "Cmd+Q": "quit the app",
            "Cmd+W": "close the window",
            "Cmd+H": "hide the app",
            "Cmd+M": "minimise",
            "Ctrl+Up": "Mission Control",
            "Ctrl+Down": "app windows",
            "Ctrl+Left": "previous Space",
            "Ctrl+Right": "next Space",
        },
    ),
    *_table(
        "linux",
        "GNOME",
        {
            "Print Screen": "screenshot tool",
            "Shift+Print Screen": "screenshot of the screen",
            "Alt+Print Screen": "screenshot of the window",
            "Ctrl+Alt+Shift+R": "screen recording",
            "Super+A": "app grid",
            "Super+L": "lock",
            "Super+D": "hide all windows",
            "Super+V": "notifications",
            "Super+Space": "switch input source",
            "Super+Tab": "switch apps",
            "Alt+Tab": "switch apps",
            "Alt+F2": "run a command",
            "Alt+F4": "close the window",
            "Ctrl+Alt+Delete": "log out",
            "Ctrl+Alt+Tab": "switch system controls",
            "Ctrl+Alt+T": "terminal (Ubuntu)",
            "Ctrl+Alt+Up": "workspace above",
            "Ctrl+Alt+Down": "workspace below",
        },
    ),
    *_table(
        "linux",
        "KDE Plasma",
        {
            "Print Screen": "Spectacle",
            "Shift+Print Screen": "Spectacle: entire desktop",
            "Super+Print Screen": "Spectacle: active window",
            "Super+Shift+Print Screen": "Spectacle: region",
            "Super+Shift+S": "Spectacle: region (Plasma 6)",
            "Ctrl+Alt+A": "Activate Window Demanding Attention (Plasma 5)",
            "Super+Ctrl+A": "Activate Window Demanding Attention (Plasma 6)",
            "Ctrl+Alt+Esc": "Kill Window (Plasma 5)",
            "Ctrl+Alt+L": "lock",
            "Ctrl+Alt+K": "next keyboard layout (Plasma 5)",
            "Ctrl+Alt+Delete": "log out",
            "Alt+Space": "KRunner",
            "Alt+F2": "KRunner",
            "Super+L": "lock",
            "Super+E": "Dolphin",
            "Super+V": "clipboard",
            "Super+D": "show desktop",
            "Ctrl+Esc": "System Monitor",
        },
    ),
    *_table(
        "linux",
        "Xfce",
        {
            "Print Screen": "screenshooter",
            "Alt+Print Screen": "screenshooter: window",
            "Shift+Print Screen": "screenshooter: region",
            "Ctrl+Alt+Delete": "log out",
            "Ctrl+Alt+L": "lock",
            "Ctrl+Alt+T": "terminal",
            "Ctrl+Alt+F": "file manager",
            "Ctrl+Alt+D": "show desktop",
            "Ctrl+Alt+Esc": "xkill",
            "Ctrl+Alt+Home": "window to previous workspace",
            "Ctrl+Alt+End": "window to next workspace",
            "Ctrl+Alt+Left": "workspace left",
            "Ctrl+Alt+Right": "workspace right",
            "Ctrl+Shift+Esc": "task manager",
            "Ctrl+Esc": "desktop menu",
            "Super+E": "file manager",
            "Super+R": "app finder",
            "Super+P": "display settings",
        },
    ),
    *_table(
        "linux",
        "Cinnamon / MATE",
        {
            "Ctrl+Alt+T": "terminal",
            "Ctrl+Alt+L": "lock",
            "Ctrl+Alt+D": "show desktop",
            "Ctrl+Alt+Delete": "log out",
        },
    ),
    *_table(
        "linux",
        "X server",
        {
            **{f"Ctrl+Alt+F{n}": "switch to a text console" for n in range(1, 13)},
            "Ctrl+Alt+Backspace": "kill the X server (when enabled)",
        },
    ),
)


@dataclass(frozen=True)
class Clash:
    """Two uses of one key combination: between our actions, or with the OS."""

    action: str
    hotkey: Hotkey
    other: str
    own: bool

    def message(self, platform: str | None = None) -> str:
        """A sentence for the settings page."""
        keys = self.hotkey.label(platform)
        what = ACTION_LABELS.get(self.action, self.action)
        if self.own:
            return f"{keys} is set for both {what} and {self.other}: give one another key."
        return f"{keys} ({what}) is also {self.other}; one of the two may not work."


def find_clashes(bindings: Mapping[str, Hotkey], platform: str | None = None) -> list[Clash]:
    """Actions sharing a key combination, and bindings that shadow a known OS shortcut."""
    name = _name(platform)
    clashes: list[Clash] = []
    seen: dict[Hotkey, str] = {}
    for action, hotkey in bindings.items():
        if hotkey in seen:
            other = ACTION_LABELS.get(seen[hotkey], seen[hotkey])
            clashes.append(Clash(action, hotkey, other, own=True))
        else:
            seen[hotkey] = action
        for shortcut in KNOWN_OS_SHORTCUTS:
            if shortcut.platform == name and shortcut.hotkey == hotkey:
                clashes.append(Clash(action, hotkey, shortcut.describe(), own=False))
    return clashes


def effective_bindings(
    overrides: Mapping[str, str], platform: str | None = None
) -> dict[str, Hotkey | None]:
    """Every action's hotkey: the user's override, else the platform default (None: off).

    The one reading of the settings' overrides, for what is registered, listed in menus and
    shown in Settings alike: a blank override (spaces too) turns the action off; one that does
    not parse keeps the default (settings files are checked on load, so only a Settings made in
    code can hold one); unknown actions are left out.
    """
    defaults = default_hotkeys(platform)
    result: dict[str, Hotkey | None] = {}
    for action in ACTIONS:
        text = overrides.get(action)
        if text is None:
            result[action] = defaults[action]
        elif not text.strip():
            result[action] = None
        else:
            try:
                result[action] = parse_hotkey(text)
            except HotkeyError:
                result[action] = defaults[action]
    return result


def _name(platform: str | None) -> str:
    return platform if platform in _DEFAULTS else platform_name(platform)
