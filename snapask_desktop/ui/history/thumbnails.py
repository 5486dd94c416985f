"""History thumbnails off the Qt main thread.

`ThumbnailLoader` reads and scales conversation thumbnails on worker threads, newest request
first, into a small LRU cache. Workers only emit signals of objects living on the main thread:
Qt queues them there.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from snapask_desktop.ui.workers import Job

if TYPE_CHECKING:  # the store module imports SQLAlchemy, which the idle app does without
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)

# Requests beyond this many waiting are dropped oldest first: when the user scrolls fast
# through thousands of rows only the rows on screen now are worth decoding.
MAX_WAITING = 64
CACHE_ENTRIES = 400


class ThumbnailLoader(QObject):
    """Conversation thumbnails by picture hash: `image()` answers from the cache or queues a
    load; `loaded(sha)` is emitted when it is ready (a failed load is remembered as missing).
    A synced picture whose bytes are not on this device yet emits `missing(sha)` too."""

    loaded = Signal(str)
    missing = Signal(str)  # the picture is known but not downloaded: the owner may fetch it
    _ready = Signal(str, QImage, bool)

    def __init__(
        self,
        store: Store,
        size: QSize,
        *,
        device_pixel_ratio: float = 1.0,
        threads: int = 2,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._pixels = QSize(
            round(size.width() * device_pixel_ratio), round(size.height() * device_pixel_ratio)
        )
        self._dpr = device_pixel_ratio
        self._cache: OrderedDict[str, QImage] = OrderedDict()
        self._queued: set[str] = set()  # main thread only
        self._lock = threading.Lock()
        self._stack: list[str] = []  # guarded by _lock; newest request last
        self._closed = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._ready.connect(self._on_ready, Qt.ConnectionType.QueuedConnection)

    def image(self, sha256: str) -> QImage | None:
        """The cached thumbnail (None while loading or when there is none)."""
        cached = self._cache.get(sha256)
        if cached is not None:
            self._cache.move_to_end(sha256)
            return None if cached.isNull() else cached
        if sha256 not in self._queued and not self._closed:
            self._queue(sha256)
        return None

    def is_pending(self, sha256: str) -> bool:
        """Whether a load of this picture is queued or running."""
        return sha256 in self._queued

    def forget_missing(self) -> None:
        """Try pictures that failed to load again (e.g. a synced blob that arrived later)."""
        for sha in [sha for sha, image in self._cache.items() if image.isNull()]:
            del self._cache[sha]

    def reload(self, sha256: str) -> None:
        """Load one picture again now (it was downloaded); `loaded` follows."""
        self._cache.pop(sha256, None)
        if sha256 not in self._queued and not self._closed:
            self._queue(sha256)

    def shutdown(self) -> None:
        """Drop queued loads and wait for running ones (call before the store closes)."""
        self._closed = True
        with self._lock:
            self._stack.clear()
        self._pool.waitForDone()

    def _queue(self, sha256: str) -> None:
        with self._lock:
            self._stack.append(sha256)
            dropped = self._stack.pop(0) if len(self._stack) > MAX_WAITING else None
        self._queued.add(sha256)
        if dropped is not None:
            self._queued.discard(dropped)  # asked again when its row is painted again
        self._pool.start(Job(self._work))

    def _work(self) -> None:
        # Worker thread: one job per request, each takes the newest waiting picture.
        with self._lock:
            if not self._stack:
                return
            sha = self._stack.pop()
        try:
            absent = self._store.missing_blob(sha)
        except Exception as error:  # asked again on the next load; the thumbnail says the rest
            log.info("could not check picture %s: %s", sha[:12], error)
            absent = False
        self._ready.emit(sha, QImage() if absent else self._load(sha), absent)

    def _load(self, sha256: str) -> QImage:
        try:
            path = self._store.thumbnail_path(sha256)
        except Exception as error:  # a missing/corrupt blob must not kill the worker
            log.info("no thumbnail for %s: %s", sha256[:12], error)
            return QImage()
        image = QImage(str(path))
        if image.isNull():
            log.info("thumbnail %s could not be decoded", path)
            return image
        # Fill the box and crop the overflow evenly: no letterbox bands in the list.
        scaled = image.scaled(
            self._pixels,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        left = (scaled.width() - self._pixels.width()) // 2
        top = (scaled.height() - self._pixels.height()) // 2
        cropped = scaled.copy(left, top, self._pixels.width(), self._pixels.height())
        cropped.setDevicePixelRatio(self._dpr)
        return cropped

    @Slot(str, QImage, bool)
    def _on_ready(self, sha256: str, image: QImage, absent: bool) -> None:
        self._queued.discard(sha256)
        if self._closed:
            return
        self._cache[sha256] = image
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        self.loaded.emit(sha256)
        if absent:
            self.missing.emit(sha256)
