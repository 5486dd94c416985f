"""HotkeyService without an X server: failures are reported, pause works, bad input refused."""

from __future__ import annotations

import pytest
from pynput import keyboard  # PYNPUT_BACKEND=dummy (tests/conftest.py): imports, cannot listen

from snapask_desktop.capture.hotkey_spec import HotkeyError
from snapask_desktop.capture.hotkeys import (
    WAYLAND_MESSAGE,
    HotkeyService,
    HotkeyUnavailable,
    key_token,
    normalise_bindings,
)
from snapask_desktop.capture.session import Session

X11 = Session("linux", wayland=False, x11=True)


def test_a_listener_that_cannot_start_is_reported_not_swallowed(qtbot) -> None:
    service = HotkeyService(session=X11)
    with pytest.raises(
        HotkeyError, match=r"keyboard listener could not start \(NotImplementedError\)"
    ):
        service.start({"capture_region": "Ctrl+Alt+S"})
    assert not service.running


def test_wayland_explains_how_to_bind_the_command_instead(qtbot) -> None:
    service = HotkeyService(session=Session("linux", wayland=True, x11=False))
    with pytest.raises(HotkeyUnavailable) as caught:
        service.start({"capture_region": "Ctrl+Alt+S"})
    assert str(caught.value) == WAYLAND_MESSAGE
    assert "snapask capture --region" in WAYLAND_MESSAGE


def test_no_display_is_reported(qtbot) -> None:
    service = HotkeyService(session=Session("linux", wayland=False, x11=False))
    with pytest.raises(HotkeyUnavailable, match="need an X display"):
        service.start({"capture_region": "Ctrl+Alt+S"})


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ({"capture_region": "Ctrl+Alt+Banana"}, "Capture region: unknown key"),
        ({"capture_full": "S"}, "Capture full screen: S would fire while you type"),
        ({"capture_region": "Ctrl+Alt+Q", "reopen_last": "Alt+Ctrl+Q"}, "set for both"),
    ],
)
def test_bad_bindings_are_refused_and_the_old_ones_kept(qtbot, bindings, message) -> None:
    service = HotkeyService(session=X11)
    service.set_bindings({"capture_region": "Ctrl+Alt+S"})
    with pytest.raises(HotkeyError, match=message):
        service.set_bindings(bindings)
    assert service.bindings["capture_region"].label("linux") == "Ctrl+Alt+S"


def test_pause_ignores_hotkeys_and_resume_restores_them(qtbot) -> None:
    # Feed the real callbacks pynput would call, with pynput's own key objects.
    service = HotkeyService(session=X11)
    service.set_bindings({"capture_region": "Alt+S"})
    fired: list[str] = []
    service.triggered.connect(fired.append)

    def combo() -> None:
        service._on_press(keyboard.Key.alt)
        service._on_press(keyboard.KeyCode.from_char("S"))
        service._on_release(keyboard.KeyCode.from_char("S"))
        service._on_release(keyboard.Key.alt)

    combo()
    service.pause()
    assert service.paused
    combo()
    service.resume()
    combo()
    assert fired == ["capture_region", "capture_region"]


def test_key_tokens_from_pynput_keys() -> None:
    assert key_token(keyboard.KeyCode.from_char("S"), "linux") == "s"
    assert key_token(keyboard.KeyCode.from_vk(0x53, char="ś"), "windows") == "s"
    assert key_token(keyboard.KeyCode.from_vk(0x53, char="ś"), "linux") == "ś"
    assert key_token(keyboard.KeyCode.from_vk(12345), "linux") == "vk:12345"
    assert key_token(keyboard.KeyCode.from_char("\x13"), "macos") is None


def test_normalise_accepts_parsed_and_text_bindings() -> None:
    result = normalise_bindings({"capture_region": "⌃⌘S", "reopen_last": "Ctrl+Cmd+R"}, "macos")
    assert {a: h.label("macos") for a, h in result.items()} == {
        "capture_region": "⌃⌘S",
        "reopen_last": "⌃⌘R",
    }
