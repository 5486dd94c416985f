"""Hotkey strings: parsing every accepted spelling, validation, labels, pynput syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapask_desktop.capture.hotkey_spec import (
    MODIFIERS,
    NAMED_KEYS,
    Hotkey,
    HotkeyError,
    parse_hotkey,
    validate,
)

CTRL_ALT_S = Hotkey(frozenset({"ctrl", "alt"}), "s")


@pytest.mark.parametrize(
    "text",
    [
        "<ctrl>+<alt>+s",
        "Ctrl+Alt+S",
        "alt+ctrl+s",
        "Control+Option+s",
        " ctrl + alt + s ",
        "⌃⌥S",
        "⌃⌥+S",
    ],
)
def test_spellings_of_one_hotkey(text: str) -> None:
    assert parse_hotkey(text) == CTRL_ALT_S


@pytest.mark.parametrize(
    ("text", "modifiers", "key"),
    [
        ("Win+Shift+S", {"cmd", "shift"}, "s"),
        ("Super+P", {"cmd"}, "p"),
        ("⌘⇧4", {"cmd", "shift"}, "4"),
        ("<ctrl>+<f5>", {"ctrl"}, "f5"),
        ("Ctrl+Page Up", {"ctrl"}, "page_up"),
        ("ctrl+pgdn", {"ctrl"}, "page_down"),
        ("PrtSc", set(), "print_screen"),
        ("Alt+Print Screen", {"alt"}, "print_screen"),
        ("Ctrl+Esc", {"ctrl"}, "esc"),
        ("Ctrl+Alt+Delete", {"ctrl", "alt"}, "delete"),
        ("Cmd+`", {"cmd"}, "`"),
        ("Win+.", {"cmd"}, "."),
        ("<ctrl>+<alt>+<space>", {"ctrl", "alt"}, "space"),
    ],
)
def test_parses_names_aliases_and_symbols(text: str, modifiers: set[str], key: str) -> None:
    assert parse_hotkey(text) == Hotkey(frozenset(modifiers), key)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one key"),
        ("Ctrl+Alt", "no key"),
        ("Ctrl+A+B", "2 keys"),
        ("Ctrl+Alt+Banana", "unknown key"),
        ("Ctrl++", r"'\+' separates keys"),
        ("Ctrl+Alt+", "empty part"),
        ("AltGr+S", "AltGr types characters"),
        ("Ctrl+é", "unknown key"),
    ],
)
def test_bad_hotkeys_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(HotkeyError, match=message):
        parse_hotkey(text)


@pytest.mark.parametrize(
    ("text", "platform", "message"),
    [
        ("S", "linux", "would fire while you type"),
        ("Shift+S", "windows", "add Ctrl, Alt or Win"),
        ("Ctrl+Shift+1", "linux", "Shift\\+1 is '!'"),
        ("Alt+S", "macos", "Option changes the typed character"),
        ("Cmd+Print Screen", "macos", "does not exist on Mac"),
    ],
)
def test_validation_rejects_what_cannot_work(text: str, platform: str, message: str) -> None:
    with pytest.raises(HotkeyError, match=message):
        validate(parse_hotkey(text), platform)


@pytest.mark.parametrize(
    ("text", "platform"),
    [
        ("F13", "linux"),
        ("Print Screen", "windows"),
        ("Ctrl+Alt+S", "linux"),
        ("Ctrl+Alt+S", "macos"),
        ("⌃⌘S", "macos"),
    ],
)
def test_validation_accepts_workable_hotkeys(text: str, platform: str) -> None:
    hotkey = parse_hotkey(text)
    assert validate(hotkey, platform) is hotkey


def test_labels_follow_each_platform() -> None:
    hotkey = parse_hotkey("<ctrl>+<alt>+<shift>+<cmd>+s")
    assert hotkey.label("linux") == "Super+Ctrl+Alt+Shift+S"
    assert hotkey.label("windows") == "Win+Ctrl+Alt+Shift+S"
    assert hotkey.label("macos") == "⌃⌥⇧⌘S"
    assert parse_hotkey("ctrl+pgup").label("linux") == "Ctrl+Page Up"


def test_pynput_syntax_is_canonical() -> None:
    assert parse_hotkey("Shift+Win+Alt+Ctrl+F5").pynput() == "<ctrl>+<alt>+<shift>+<cmd>+<f5>"
    assert parse_hotkey("Alt+Ctrl+S").pynput() == "<ctrl>+<alt>+s"


def test_hotkey_rejects_unknown_parts_directly() -> None:
    with pytest.raises(HotkeyError, match="unknown modifier"):
        Hotkey(frozenset({"hyper"}), "s")
    with pytest.raises(HotkeyError, match="not a key"):
        Hotkey(frozenset({"ctrl"}), "S")


KEYS = st.sampled_from([*"abcdefghijklmnopqrstuvwxyz0123456789", *",./;'[]`-=\\", *NAMED_KEYS])
HOTKEYS = st.builds(Hotkey, st.frozensets(st.sampled_from(MODIFIERS)), KEYS)


@given(HOTKEYS, st.sampled_from(["linux", "windows", "macos"]))
def test_labels_and_pynput_strings_parse_back(hotkey: Hotkey, platform: str) -> None:
    assert parse_hotkey(hotkey.pynput()) == hotkey
    assert parse_hotkey(hotkey.label(platform)) == hotkey
