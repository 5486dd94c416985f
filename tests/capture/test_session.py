"""Which kind of session we are in decides the capture and hotkey paths."""

from __future__ import annotations

import pytest

from snapask_desktop.capture.session import detect_session, platform_name


@pytest.mark.parametrize(
    ("env", "wayland", "x11"),
    [
        (
            {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
            True,
            False,
        ),
        ({"WAYLAND_DISPLAY": "wayland-0"}, True, False),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1"}, False, True),
        ({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}, False, True),
        ({"DISPLAY": ":99"}, False, True),
        ({"XDG_SESSION_TYPE": "tty"}, False, False),
        ({}, False, False),
    ],
)
def test_linux_session_kinds(env: dict[str, str], wayland: bool, x11: bool) -> None:
    session = detect_session(env, "linux")
    assert (session.wayland, session.x11) == (wayland, x11)


def test_other_platforms_are_neither_wayland_nor_x11() -> None:
    for raw, name in (("win32", "windows"), ("darwin", "macos"), ("linux", "linux")):
        session = detect_session({"WAYLAND_DISPLAY": "w"}, raw)
        assert session.platform == name == platform_name(raw)
        assert session.desktop_label in {"Windows", "macOS", "Wayland"}


def test_a_folded_platform_name_stays_the_same() -> None:
    # autostart.enable("macos") must write the LaunchAgent, not the Linux entry.
    for name in ("windows", "macos", "linux"):
        assert platform_name(name) == name
