"""From a capture request to a picture: grab first, overlay if a region is wanted, then hand the
raw picture on at once and encode its PNG on a worker thread.

Nothing but the grab and showing prebuilt windows happens on the hotkey path; the PNG (50-90 ms
at 1080p) follows on `encoded` when it is ready.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from snapask_desktop.capture.backends import BackendChoice
from snapask_desktop.capture.errors import CaptureError
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import Grab, crop, encode_png
from snapask_desktop.capture.overlay import RegionOverlay, screen_under_cursor


@dataclass(frozen=True, eq=False)
class Picture:
    """A captured picture: its raw pixels (shown at once) and where on the desktop it was."""

    capture_id: int
    grab: Grab
    region: Rect  # physical desktop pixels
    mode: str  # "region" | "full"
    into_chat: bool = False  # chosen for the open conversation (a follow-up with this picture)


class _EncodeSignals(QObject):
    done = Signal(int, bytes)
    failed = Signal(int, str)


class _EncodeJob(QRunnable):
    def __init__(self, picture: Picture, signals: _EncodeSignals) -> None:
        super().__init__()
        self._picture = picture
        self._signals = signals

    def run(self) -> None:
        try:
            png = encode_png(self._picture.grab)
        except Exception as error:  # a worker must report, never die silently
            self._signals.failed.emit(self._picture.capture_id, f"could not encode: {error}")
            return
        self._signals.done.emit(self._picture.capture_id, png)


class CaptureFlow(QObject):
    """Runs captures: `capture_region()` / `capture_full()`; results come back as signals."""

    started = Signal(str)  # "region" | "full": about to grab (hide nothing of ours after this)
    captured = Signal(object)  # Picture: show it now
    encoded = Signal(int, bytes)  # capture_id, PNG bytes
    cancelled = Signal()
    failed = Signal(str)  # the grab failed: a plain-language reason
    encode_failed = Signal(int, str)  # capture_id, reason: the picture is shown but not saved

    def __init__(
        self,
        choice: BackendChoice,
        overlay: RegionOverlay,
        pool: QThreadPool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._choice = choice
        self._overlay = overlay
        self._pool = pool or QThreadPool.globalInstance()
        self._ids = itertools.count(1)
        self._grab: Grab | None = None
        self._signals = _EncodeSignals(self)
        self._signals.done.connect(self.encoded)
        self._signals.failed.connect(self._encode_failed)
        overlay.selected.connect(self._region_selected)
        overlay.added.connect(lambda region: self._region_selected(region, into_chat=True))
        overlay.cancelled.connect(self._region_cancelled)

    @property
    def busy(self) -> bool:
        """True while the region overlay is up."""
        return self._overlay.active

    def capture_region(self, offer_add: bool = False) -> None:
        """Freeze the screen under the overlay and let the person drag a region; `offer_add`:
        a conversation is open, and the overlay offers to add the picture to it."""
        if self._overlay.active:
            return
        grab = self._grab_desktop("region")
        if grab is not None:
            self._grab = grab
            self._overlay.start(grab, offer_add=offer_add)

    def capture_full(self) -> None:
        """Capture the whole monitor under the mouse pointer."""
        if self._overlay.active:
            return
        grab = self._grab_desktop("full")
        if grab is not None:
            self._deliver(grab, screen_under_cursor(grab), "full")

    def screens_changed(self, *_screen: object) -> None:
        """Monitors were added or removed: the backend must see the new layout."""
        refresh = getattr(self._choice.backend, "refresh", None)
        if refresh is not None:
            refresh()

    def _grab_desktop(self, mode: str) -> Grab | None:
        self.started.emit(mode)
        try:
            return self._choice.require().grab()
        except CaptureError as error:
            self.failed.emit(str(error))
        except Exception as error:  # an unexpected backend failure still gets told plainly
            self.failed.emit(f"The screenshot failed: {error}")
        return None

    def _region_selected(self, region: Rect, into_chat: bool = False) -> None:
        grab, self._grab = self._grab, None
        if grab is not None:
            self._deliver(grab, region, "region", into_chat)

    def _region_cancelled(self) -> None:
        self._grab = None
        self.cancelled.emit()

    def _deliver(self, grab: Grab, region: Rect, mode: str, into_chat: bool = False) -> None:
        picture = Picture(next(self._ids), crop(grab, region), region, mode, into_chat)
        self.captured.emit(picture)
        self._pool.start(_EncodeJob(picture, self._signals))

    def _encode_failed(self, capture_id: int, reason: str) -> None:
        self.encode_failed.emit(capture_id, f"The screenshot could not be saved ({reason}).")
