"""Drive a real X server from the test process: XTest key presses and mouse drags, and
waiting for top-level windows to be mapped, event-driven (no polling subprocesses)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from Xlib import XK, X, display
from Xlib.ext import xtest

MODIFIER_KEYSYMS = {
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "shift": "Shift_L",
    "super": "Super_L",
}


@dataclass(frozen=True)
class Mapped:
    """A window that became visible, and when (time.perf_counter seconds)."""

    window_id: int
    name: str
    at: float


class XDriver:
    """A client connection to `display_name` that sends input and watches windows map."""

    def __init__(self, display_name: str) -> None:
        self.conn = display.Display(display_name)
        self.root = self.conn.screen().root
        self.root.change_attributes(event_mask=X.SubstructureNotifyMask)
        self.conn.sync()

    def close(self) -> None:
        self.conn.close()

    def drain(self) -> None:
        """Forget events that arrived so far."""
        while self.conn.pending_events():
            self.conn.next_event()

    def key(self, combo: str) -> float:
        """Press and release a combination like "ctrl+alt+s"; returns when the press was sent."""
        names = combo.split("+")
        codes = [self._keycode(MODIFIER_KEYSYMS.get(n.lower(), n)) for n in names]
        for code in codes:
            xtest.fake_input(self.conn, X.KeyPress, code)
        self.conn.flush()
        sent = time.perf_counter()
        for code in reversed(codes):
            xtest.fake_input(self.conn, X.KeyRelease, code)
        self.conn.sync()
        return sent

    def drag(self, start: tuple[int, int], end: tuple[int, int], steps: int = 8) -> None:
        """Press the left button at `start`, move in steps, release at `end`."""
        self.move(*start)
        xtest.fake_input(self.conn, X.ButtonPress, 1)
        self.conn.sync()
        for step in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * step // steps
            y = start[1] + (end[1] - start[1]) * step // steps
            self.move(x, y)
            time.sleep(0.01)
        xtest.fake_input(self.conn, X.ButtonRelease, 1)
        self.conn.sync()

    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self.conn, X.MotionNotify, x=x, y=y)
        self.conn.sync()

    def wait_mapped(self, name_part: str = "", timeout: float = 10.0) -> Mapped:
        """The next top-level window mapped whose name contains `name_part`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.conn.pending_events():
                time.sleep(0.0005)
                continue
            event = self.conn.next_event()
            if event.type != X.MapNotify:
                continue
            at = time.perf_counter()
            name = self.window_name(event.window)
            if name_part.lower() in name.lower():
                return Mapped(event.window.id, name, at)
        raise TimeoutError(f"no window named like {name_part!r} was mapped in {timeout} s")

    def wait_unmapped(self, window_id: int, timeout: float = 10.0) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.conn.pending_events():
                time.sleep(0.001)
                continue
            event = self.conn.next_event()
            if event.type == X.UnmapNotify and event.window.id == window_id:
                return
        raise TimeoutError(f"window {window_id:#x} stayed mapped for {timeout} s")

    def window_name(self, window) -> str:
        """WM_NAME or _NET_WM_NAME of a window ("" if it has none or is gone)."""
        try:
            net = window.get_full_property(self.conn.intern_atom("_NET_WM_NAME"), 0)
            if net is not None and net.value:
                value = net.value
                return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return window.get_wm_name() or ""
        except Exception:  # the window vanished between the event and the query
            return ""

    def _keycode(self, name: str) -> int:
        keysym = XK.string_to_keysym(name)
        if keysym == 0:
            raise ValueError(f"unknown key {name!r}")
        return self.conn.keysym_to_keycode(keysym)
