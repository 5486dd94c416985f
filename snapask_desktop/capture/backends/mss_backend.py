"""Screen grabs through mss: X11, Windows and macOS (about 1 ms for 1920x1080 on X11).

One `mss.MSS` handle per thread, created on first use and reused: mss's Xlib and
Windows GDI code paths bind their handles to the creating thread, and opening a new
X connection per grab would cost more than the grab itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from typing import Any

from snapask_desktop.capture.errors import CaptureError
from snapask_desktop.capture.geometry import Rect, bounding_rect
from snapask_desktop.capture.grab import Grab
from snapask_desktop.capture.session import Session, detect_session

WAYLAND_REASON = (
    "this is a Wayland session: X11 screen grabs would only show XWayland windows, "
    "so screenshots go through the desktop portal instead"
)
NO_DISPLAY_REASON = "no X display to grab (DISPLAY is not set)"
MACOS_PERMISSION_REASON = (
    "macOS has not allowed screen recording: enable SnapAsk under System Settings > "
    "Privacy & Security > Screen & System Audio Recording, then restart SnapAsk"
)


class MssBackend:
    """Capture backend over mss; `available()` says whether it can work here and why not."""

    name = "mss"

    def __init__(self, display: str | None = None, session: Session | None = None) -> None:
        self._display = display
        self._session = session or detect_session()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[Any] = []

    def available(self) -> tuple[bool, str]:
        """(True, "") when grabs work here, else (False, what to do about it)."""
        if self._session.wayland:
            return False, WAYLAND_REASON
        if self._session.platform == "linux" and not (self._display or self._session.x11):
            return False, NO_DISPLAY_REASON
        if self._session.platform == "macos" and not _macos_may_record_screen():
            return False, MACOS_PERMISSION_REASON
        try:
            self.monitors()
        except CaptureError as exc:
            return False, str(exc)
        return True, ""

    def monitors(self) -> tuple[Rect, ...]:
        """The monitors as mss reports them, in native desktop units (pixels on X11/Windows)."""
        entries = self._handle().monitors
        rects = tuple(_rect(entry) for entry in entries[1:])
        return rects or (_rect(entries[0]),)

    def grab(self, rect: Rect | None = None) -> Grab:
        """Grab `rect` (native desktop units), or the whole virtual screen when None."""
        if rect is not None and rect.is_empty:
            raise CaptureError(f"Nothing to capture: the area {rect} is empty.")
        try:
            return self._grab(rect)
        except CaptureError:
            # A stale handle after a screen change fails (mss asks for a new one): retry once.
            self.refresh()
            return self._grab(rect)

    def _grab(self, rect: Rect | None) -> Grab:
        handle = self._handle()
        monitors = self.monitors()
        area = rect or bounding_rect(monitors)
        try:
            shot = handle.grab(
                {"left": area.x, "top": area.y, "width": area.width, "height": area.height}
            )
        except Exception as exc:  # mss raises ScreenShotError, ctypes errors may leak through
            raise CaptureError(f"The screen could not be captured: {exc}") from exc
        width, height = shot.size.width, shot.size.height
        # macOS returns Retina pixels for a rect given in points; elsewhere the ratio is 1.
        ratio = width / area.width
        return Grab(
            shot.raw,
            width,
            height,
            Rect(round(area.x * ratio), round(area.y * ratio), width, height),
            tuple(_scaled(m, ratio) for m in monitors),
            ratio,
            self.name,
        )

    def refresh(self) -> None:
        """Forget cached monitor layouts (call after screens were added, removed or moved)."""
        self.close()

    def close(self) -> None:
        """Release every mss handle this backend opened."""
        with self._lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            with contextlib.suppress(Exception):
                handle.close()
        self._local = threading.local()

    def _handle(self) -> Any:
        handle = getattr(self._local, "handle", None)
        if handle is not None:
            return handle
        try:
            import mss

            kwargs = {"display": self._display} if self._display else {}
            handle = mss.MSS(**kwargs)
        except Exception as exc:
            raise CaptureError(f"mss cannot open the screen: {exc}") from exc
        self._local.handle = handle
        with self._lock:
            self._handles.append(handle)
        return handle


def _rect(entry: dict[str, Any]) -> Rect:
    return Rect(int(entry["left"]), int(entry["top"]), int(entry["width"]), int(entry["height"]))


def _scaled(rect: Rect, ratio: float) -> Rect:
    if ratio == 1.0:
        return rect
    return Rect(
        round(rect.x * ratio),
        round(rect.y * ratio),
        round(rect.width * ratio),
        round(rect.height * ratio),
    )


def _macos_may_record_screen() -> bool:
    """CGPreflightScreenCaptureAccess (macOS 10.15+); True where the call does not exist."""
    path = ctypes.util.find_library("CoreGraphics")
    if not path:
        return True
    library = ctypes.cdll.LoadLibrary(path)
    preflight = getattr(library, "CGPreflightScreenCaptureAccess", None)
    if preflight is None:
        return True
    preflight.restype = ctypes.c_bool
    return bool(preflight())
