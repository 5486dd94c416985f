"""Hotkey strings: parse, validate, format (pynput syntax and a label people read).

Accepts pynput's syntax ("<ctrl>+<alt>+s"), labels ("Ctrl+Alt+S", "Win+Shift+S",
"Super+P") and macOS symbols ("⌃⌘S"). Pure: no pynput import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from snapask_desktop.capture.session import platform_name

# Canonical order, as pynput strings and labels list them.
MODIFIERS = ("ctrl", "alt", "shift", "cmd")

_MODIFIER_ALIASES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "ctl": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "⌃": "ctrl",
    "alt": "alt",
    "alt_l": "alt",
    "option": "alt",
    "opt": "alt",
    "⌥": "alt",
    "shift": "shift",
    "shift_l": "shift",
    "shift_r": "shift",
    "⇧": "shift",
    "cmd": "cmd",
    "cmd_l": "cmd",
    "cmd_r": "cmd",
    "command": "cmd",
    "⌘": "cmd",
    "super": "cmd",
    "win": "cmd",
    "windows": "cmd",
    "meta": "cmd",
    "logo": "cmd",
}

# Named keys pynput knows (Key.<name>), with the label shown to people.
NAMED_KEYS = {
    "space": "Space",
    "tab": "Tab",
    "enter": "Enter",
    "esc": "Esc",
    "backspace": "Backspace",
    "delete": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "page_up": "Page Up",
    "page_down": "Page Down",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "print_screen": "Print Screen",
    "pause": "Pause",
    "scroll_lock": "Scroll Lock",
    "menu": "Menu",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
}

_KEY_ALIASES = {
    "escape": "esc",
    "return": "enter",
    "del": "delete",
    "ins": "insert",
    "pgup": "page_up",
    "pageup": "page_up",
    "prior": "page_up",
    "pgdn": "page_down",
    "pagedown": "page_down",
    "next": "page_down",
    "print": "print_screen",
    "printscreen": "print_screen",
    "prtsc": "print_screen",
    "prtscn": "print_screen",
    "prtscr": "print_screen",
    "sysrq": "print_screen",
    "break": "pause",
    "scrolllock": "scroll_lock",
    "apps": "menu",
    "spacebar": "space",
    "↑": "up",
    "↓": "down",
    "←": "left",
    "→": "right",
    "⎋": "esc",
    "↩": "enter",
    "⌫": "backspace",
    "⇥": "tab",
}

# Keys macOS keyboards do not have (pynput's macOS backend lacks them too).
_NOT_ON_MACOS = frozenset({"insert", "print_screen", "pause", "scroll_lock", "menu"})
# Keys nobody types text with: fine as a hotkey without Ctrl/Alt/Cmd.
_STANDALONE_KEYS = frozenset(
    {"print_screen", "pause", "scroll_lock", *(f"f{n}" for n in range(13, 25))}
)
_PUNCTUATION = frozenset("`-=[]\\;',./")
_MAC_SYMBOL_ORDER = (("ctrl", "⌃"), ("alt", "⌥"), ("shift", "⇧"), ("cmd", "⌘"))
_CMD_LABEL = {"linux": "Super", "windows": "Win", "macos": "Cmd"}


class HotkeyError(ValueError):
    """A hotkey that cannot be used; the message says why and what to do instead."""


@dataclass(frozen=True)
class Hotkey:
    """A key combination: some of MODIFIERS plus one key (a letter, digit, sign or name)."""

    modifiers: frozenset[str]
    key: str

    def __post_init__(self) -> None:
        unknown = set(self.modifiers) - set(MODIFIERS)
        if unknown:
            raise HotkeyError(f"unknown modifier(s): {', '.join(sorted(unknown))}")
        if not _is_key(self.key):
            raise HotkeyError(f"{self.key!r} is not a key SnapAsk can listen for")

    def pynput(self) -> str:
        """pynput's syntax, e.g. "<ctrl>+<alt>+s"."""
        key = f"<{self.key}>" if self.key in NAMED_KEYS else self.key
        return "+".join([*(f"<{m}>" for m in self.ordered_modifiers()), key])

    def label(self, platform: str | None = None) -> str:
        """What people read: "Ctrl+Alt+S" (Linux, Windows) or "⌃⌘S" (macOS)."""
        name = _platform(platform)
        key = NAMED_KEYS.get(self.key, self.key.upper())
        if name == "macos":
            symbols = "".join(sym for mod, sym in _MAC_SYMBOL_ORDER if mod in self.modifiers)
            return symbols + key
        words = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": _CMD_LABEL[name]}
        # Win / Super first, as Windows and the Linux desktops write it ("Win+Alt+S").
        order = ["cmd", *(m for m in MODIFIERS if m != "cmd")]
        return "+".join([*(words[m] for m in order if m in self.modifiers), key])

    def ordered_modifiers(self) -> list[str]:
        """The modifiers in canonical order."""
        return [m for m in MODIFIERS if m in self.modifiers]


def parse_hotkey(text: str) -> Hotkey:
    """A Hotkey from pynput syntax, a label or macOS symbols; HotkeyError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise HotkeyError("a hotkey needs at least one key, e.g. Ctrl+Alt+S")
    modifiers: set[str] = set()
    keys: list[str] = []
    for part in _split(text.strip()):
        word = _unbracket(part.strip().lower())
        if word in ("alt_gr", "altgr", "alt_r"):
            raise HotkeyError("AltGr types characters on many layouts; use Alt (the left one)")
        if word in _MODIFIER_ALIASES:
            modifiers.add(_MODIFIER_ALIASES[word])
        else:
            keys.append(_key_name(part.strip()))
    if len(keys) != 1:
        found = "no key" if not keys else f"{len(keys)} keys ({', '.join(keys)})"
        raise HotkeyError(f"{text!r} has {found}: a hotkey is modifiers plus exactly one key")
    return Hotkey(frozenset(modifiers), keys[0])


def validate(hotkey: Hotkey, platform: str | None = None) -> Hotkey:
    """`hotkey` if it can work as a global hotkey on `platform`, else HotkeyError."""
    name = _platform(platform)
    label = hotkey.label(name)
    if not hotkey.modifiers & {"ctrl", "alt", "cmd"} and hotkey.key not in _STANDALONE_KEYS:
        raise HotkeyError(
            f"{label} would fire while you type: add Ctrl, Alt or {_CMD_LABEL[name]} "
            "(only F13-F24, Print Screen, Pause and Scroll Lock work alone)"
        )
    if name == "macos" and hotkey.key in _NOT_ON_MACOS:
        raise HotkeyError(f"{NAMED_KEYS[hotkey.key]} does not exist on Mac keyboards")
    if "shift" in hotkey.modifiers and _is_sign(hotkey.key):
        raise HotkeyError(
            f"{label} cannot be recognised: with Shift the keyboard reports another "
            "character for digits and signs (Shift+1 is '!'); use a letter or drop Shift"
        )
    if name == "macos" and _option_changes_char(hotkey):
        raise HotkeyError(
            f"{label} cannot be recognised: Option changes the typed character on macOS "
            "(⌥S types ß); add Control or use Cmd instead"
        )
    return hotkey


def _platform(platform: str | None) -> str:
    return platform if platform in _CMD_LABEL else platform_name(platform)


def _option_changes_char(hotkey: Hotkey) -> bool:
    # With Control held pynput reports the plain key on macOS; with Option alone it does not.
    return "alt" in hotkey.modifiers and "ctrl" not in hotkey.modifiers and len(hotkey.key) == 1


def _split(text: str) -> list[str]:
    # A "+" first or right after another "+" is the key itself ("Ctrl++"), rejected later.
    parts = re.split(r"(?<!^)(?<!\+)\+", text)
    if any(not p.strip() for p in parts):
        raise HotkeyError(f"{text!r} has an empty part: write keys like Ctrl+Alt+S")
    return [piece for part in parts for piece in _split_symbols(part.strip())]


def _split_symbols(text: str) -> list[str]:
    # "⌃⌘S": leading macOS modifier symbols, then the key.
    pieces: list[str] = []
    while len(text) > 1 and text[0] in "⌃⌥⇧⌘":
        pieces.append(text[0])
        text = text[1:]
    return [*pieces, text]


def _unbracket(word: str) -> str:
    return word[1:-1] if len(word) > 2 and word[0] == "<" and word[-1] == ">" else word


def _key_name(part: str) -> str:
    word = _unbracket(part.lower())
    if word == "+":
        raise HotkeyError("'+' separates keys and cannot be the key itself; pick another key")
    for candidate in (word, word.replace(" ", "_"), word.replace(" ", "").replace("_", "")):
        name = _KEY_ALIASES.get(candidate, candidate)
        if _is_key(name):
            return name
    raise HotkeyError(f"unknown key {part!r}")


def _is_key(key: str) -> bool:
    if key in NAMED_KEYS or key in _PUNCTUATION:
        return True
    return len(key) == 1 and key.isascii() and key.isalnum() and key == key.lower()


def _is_sign(key: str) -> bool:
    return len(key) == 1 and not key.isalpha()
