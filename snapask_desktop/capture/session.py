"""What kind of desktop session we run in: decides which capture and hotkey paths can work."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    """The platform ("linux", "windows", "macos") and, on Linux, the display server."""

    platform: str
    wayland: bool
    x11: bool

    @property
    def desktop_label(self) -> str:
        """A short name for messages: "Wayland", "X11", "Windows", "macOS"."""
        if self.platform == "windows":
            return "Windows"
        if self.platform == "macos":
            return "macOS"
        if self.wayland:
            return "Wayland"
        return "X11" if self.x11 else "a session without a display"


def platform_name(raw: str | None = None) -> str:
    """`sys.platform` folded to "linux", "windows" or "macos" (a folded name stays as it is)."""
    value = raw if raw is not None else sys.platform
    if value.startswith("win"):
        return "windows"
    if value in ("darwin", "macos"):
        return "macos"
    return "linux"


def detect_session(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Session:
    """Read the session type from the environment (XDG_SESSION_TYPE, WAYLAND_DISPLAY, DISPLAY).

    A Wayland session counts as Wayland even when XWayland provides DISPLAY: X11 clients
    there see neither other applications' keys nor their pixels.
    """
    env = os.environ if environ is None else environ
    name = platform_name(platform)
    if name != "linux":
        return Session(name, wayland=False, x11=False)
    session_type = env.get("XDG_SESSION_TYPE", "").strip().lower()
    has_x = bool(env.get("DISPLAY", "").strip())
    has_wayland = bool(env.get("WAYLAND_DISPLAY", "").strip())
    if session_type == "x11":
        return Session(name, wayland=False, x11=has_x)
    wayland = session_type == "wayland" or (has_wayland and not has_x)
    return Session(name, wayland=wayland, x11=has_x and not wayland)
