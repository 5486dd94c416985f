"""Exact matching of key streams against bindings."""

from __future__ import annotations

from snapask_desktop.capture.hotkey_defaults import default_hotkeys
from snapask_desktop.capture.hotkey_matcher import STALE_KEY_S, HotkeyMatcher


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


def test_a_key_released_as_another_character_is_not_held_for_ever() -> None:
    # X11: Shift+/ is pressed as "?" and, once Shift is up, released as "/"; the keycode agrees.
    m = matcher()
    m.press("shift", key_id=50)
    m.press("?", key_id=61)
    m.release("shift", key_id=50)
    m.release("/", key_id=61)
    assert [m.press(t, key_id=t) for t in ("ctrl", "alt", "s")] == [None, None, "capture_region"]


def test_a_key_whose_release_was_missed_is_forgotten_after_a_while() -> None:
    m = matcher()
    m.press("x", now=100.0)  # its release never came (a lock screen, another program's grab)
    assert [m.press(t, now=100.5) for t in ("ctrl", "alt", "s")] == [None, None, None]
    for token in ("s", "alt", "ctrl"):
        m.release(token)
    fired = [m.press(t, now=100.5 + STALE_KEY_S + 0.1) for t in ("ctrl", "alt", "s")]
    assert fired == [None, None, "capture_region"]


def test_auto_repeat_keeps_a_held_key_fresh() -> None:
    m = matcher()
    for n in range(40):
        m.press("x", now=100.0 + n * 0.1)  # held 4 s, repeating
    assert [m.press(t, now=104.0) for t in ("ctrl", "alt", "s")] == [None, None, None]


def test_modifiers_the_system_reports_up_are_forgotten() -> None:
    m = matcher()
    m.press("shift")  # its release was missed
    assert type_combo(m, "ctrl", "alt", "s") == []
    m.press("shift")
    m.forget_modifiers({"shift"})  # X11: the next event's state has no Shift
    assert type_combo(m, "ctrl", "alt", "s") == ["capture_region"]


def test_left_and_right_modifiers_are_separate_keys() -> None:
    m = matcher()
    m.press("ctrl", key_id="ctrl_l")
    m.press("ctrl", key_id="ctrl_r")
    m.release("ctrl", key_id="ctrl_r")  # the left one is still down
    assert [m.press(t) for t in ("alt", "s")] == [None, "capture_region"]
