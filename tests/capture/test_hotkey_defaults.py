"""Default hotkeys and clash detection against our own actions and the OS."""

from __future__ import annotations

import pytest

from snapask_desktop.capture.hotkey_defaults import (
    ACTIONS,
    CAPTURE_FULL,
    CAPTURE_REGION,
    KNOWN_OS_SHORTCUTS,
    REOPEN_LAST,
    default_hotkeys,
    effective_bindings,
    find_clashes,
)
from snapask_desktop.capture.hotkey_spec import parse_hotkey, validate


@pytest.mark.parametrize("platform", ["linux", "windows", "macos"])
def test_defaults_are_valid_distinct_and_clash_with_no_known_shortcut(platform: str) -> None:
    defaults = default_hotkeys(platform)
    assert set(defaults) == set(ACTIONS)
    for hotkey in defaults.values():
        validate(hotkey, platform)
    assert find_clashes(defaults, platform) == []


def test_default_labels() -> None:
    assert {a: h.label("linux") for a, h in default_hotkeys("linux").items()} == {
        CAPTURE_REGION: "Ctrl+Alt+S",
        CAPTURE_FULL: "Ctrl+Alt+W",
        REOPEN_LAST: "Ctrl+Alt+R",
    }
    assert default_hotkeys("macos")[CAPTURE_REGION].label("macos") == "⌃⌘S"
    assert [h.label("windows") for h in default_hotkeys("windows").values()] == [
        "Win+Alt+S",
        "Win+Alt+W",
        "Win+Alt+A",
    ]


def test_windows_defaults_avoid_ctrl_alt_which_windows_treats_as_altgr() -> None:
    for hotkey in default_hotkeys("windows").values():
        assert hotkey.modifiers != frozenset({"ctrl", "alt"})


def test_the_brief_s_first_idea_clashes_on_kde_and_xfce() -> None:
    # Ctrl+Alt+A / Ctrl+Alt+F were the first proposal; both are taken on some Linux desktop.
    clashes = find_clashes(
        {CAPTURE_REGION: parse_hotkey("Ctrl+Alt+A"), CAPTURE_FULL: parse_hotkey("Ctrl+Alt+F")},
        "linux",
    )
    assert [(c.action, c.own) for c in clashes] == [(CAPTURE_REGION, False), (CAPTURE_FULL, False)]
    assert "Activate Window Demanding Attention" in clashes[0].other
    assert clashes[1].other == "Xfce: file manager"


def test_two_actions_on_one_key_are_reported() -> None:
    same = parse_hotkey("Ctrl+Alt+Q")
    clashes = find_clashes({CAPTURE_REGION: same, REOPEN_LAST: same}, "linux")
    assert len(clashes) == 1 and clashes[0].own
    assert clashes[0].message("linux") == (
        "Ctrl+Alt+Q is set for both Reopen last conversation and Capture region: "
        "give one another key."
    )


@pytest.mark.parametrize(
    ("text", "platform", "owner"),
    [
        ("Win+Shift+S", "windows", "Windows: Snipping Tool"),
        ("Cmd+Shift+4", "macos", "macOS: screenshot of a region"),
        ("Print Screen", "linux", "GNOME: screenshot tool"),
        ("Ctrl+Alt+T", "linux", "terminal"),
    ],
)
def test_os_shortcuts_are_found_on_their_platform_only(
    text: str, platform: str, owner: str
) -> None:
    hotkey = parse_hotkey(text)
    clashes = find_clashes({CAPTURE_REGION: hotkey}, platform)
    assert clashes and all(not c.own for c in clashes)
    assert any(owner in c.other for c in clashes)
    assert "may not work" in clashes[0].message(platform)


def test_os_shortcuts_of_other_platforms_do_not_count() -> None:
    assert find_clashes({CAPTURE_REGION: parse_hotkey("Cmd+Shift+4")}, "windows") == []
    assert find_clashes({CAPTURE_REGION: parse_hotkey("Win+Shift+R")}, "macos") == []
    assert find_clashes({CAPTURE_REGION: parse_hotkey("Ctrl+Cmd+Q")}, "linux") == []


def test_known_shortcut_table_has_every_platform() -> None:
    assert {s.platform for s in KNOWN_OS_SHORTCUTS} == {"linux", "windows", "macos"}


def test_effective_bindings_read_overrides_over_the_defaults() -> None:
    overrides = {"capture_full": "", "reopen_last": "<ctrl>+<alt>+k", "nonsense": "Ctrl+Alt+Z"}
    assert effective_bindings(overrides, "linux") == {
        "capture_region": parse_hotkey("Ctrl+Alt+S"),
        "capture_full": None,
        "reopen_last": parse_hotkey("Ctrl+Alt+K"),
    }
    assert effective_bindings({}, "macos")["capture_region"] == parse_hotkey("<ctrl>+<cmd>+s")
    # Spaces are off like "", and a text that is no hotkey keeps the default.
    odd = effective_bindings({"capture_full": "   ", "reopen_last": "Ctrl+Alt+"}, "linux")
    assert odd["capture_full"] is None and odd["reopen_last"] == parse_hotkey("Ctrl+Alt+R")
