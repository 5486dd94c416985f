"""Exact matching of key streams against bindings."""

from __future__ import annotations

from snapask_desktop.capture.hotkey_defaults import default_hotkeys
from snapask_desktop.capture.hotkey_matcher import HotkeyMatcher


def matcher() -> HotkeyMatcher:
    return HotkeyMatcher(default_hotkeys("linux"))


def type_combo(m: HotkeyMatcher, *tokens: str) -> list[str | None]:
    fired = [m.press(t) for t in tokens]
    for token in reversed(tokens):
        m.release(token)
    return [f for f in fired if f]


def test_each_binding_fires_its_action() -> None:
    m = matcher()
    assert type_combo(m, "ctrl", "alt", "s") == ["capture_region"]
    assert type_combo(m, "alt", "ctrl", "w") == ["capture_full"]
    assert type_combo(m, "ctrl", "alt", "r") == ["reopen_last"]


def test_extra_or_missing_modifiers_do_not_fire() -> None:
    m = matcher()
    assert type_combo(m, "ctrl", "alt", "shift", "s") == []
    assert type_combo(m, "ctrl", "s") == []
    assert type_combo(m, "s") == []


def test_altgr_typing_never_fires_a_ctrl_alt_hotkey() -> None:
    # Windows sends Ctrl + right Alt for AltGr: typing "ś" on a Polish layout.
    assert type_combo(matcher(), "ctrl", "altgr", "s") == []


def test_auto_repeat_fires_once() -> None:
    m = matcher()
    fired = [m.press(t) for t in ("ctrl", "alt", "s", "s", "s")]
    assert [f for f in fired if f] == ["capture_region"]
    m.release("s")
    assert m.press("s") == "capture_region"


def test_another_key_still_held_blocks_the_combination() -> None:
    m = matcher()
    m.press("x")
    assert [m.press(t) for t in ("ctrl", "alt", "s")] == [None, None, None]


def test_reset_forgets_stuck_modifiers() -> None:
    m = matcher()
    m.press("ctrl")  # release never seen, e.g. while paused
    m.reset()
    assert [m.press(t) for t in ("alt", "s")] == [None, None]
    assert m.press(None) is None
