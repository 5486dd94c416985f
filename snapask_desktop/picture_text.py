"""Pictures on their way into the store: redacted first when asked, their text read and kept.

Redaction runs before the picture is stored, on the caller's (worker) thread, and fails closed
(`RedactionFailed`: nothing is stored or sent). Without redaction the text is read after the
picture is stored, on a thread of its own, so the question goes out without waiting for OCR.
The same thread reads pictures that came without their text: synced from another device (the
text is not synced), kept before OCR was installed or while reading was off, or cut short by a
quit (`read_later`, `read_missing`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snapask_desktop.config import Settings
    from snapask_desktop.redact.guard import GuardedPicture
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)


class PictureText:
    """Redacts pictures before they are kept (when the setting says so) and keeps their text."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings  # read at each picture: a changed setting applies at once
        self._reader: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()  # a quit waits for one picture, not a whole backlog
        self._tried: set[str] = set()  # unreadable here this session: not tried again
        self._sweeping = False

    def before_storing(self, data: bytes) -> tuple[bytes, GuardedPicture | None]:
        """The bytes to store and send; redacted (and read) when redaction is on.

        Raises RedactionFailed when redaction is on and could not be done.
        """
        if not self._settings().redact_secrets:
            return data, None
        from snapask_desktop.redact.guard import guard_picture

        guarded = guard_picture(data, redact=True)
        return guarded.data, guarded

    def after_storing(self, store: Store, sha256: str, guarded: GuardedPicture | None) -> None:
        """Keep the text: at once when redaction read it, else read on the reader thread."""
        if guarded is not None and guarded.text is not None:
            _keep(store, sha256, guarded.text)
        else:
            self.read_later(store, sha256)

    def read_later(self, store: Store, sha256: str) -> None:
        """Read a stored picture's text on the reader thread (when reading is on)."""
        if self._settings().read_picture_text:
            self._submit(self._read_one, store, sha256)

    def read_missing(self, store: Store) -> None:
        """Read, newest first, every stored picture whose text was never read here (when
        reading is on and OCR is installed); one sweep at a time."""
        if not self._settings().read_picture_text:
            return
        with self._lock:
            if self._sweeping:
                return
            self._sweeping = True
        self._submit(self._sweep, store)

    def _submit(self, work: Callable[..., None], *args: object) -> None:
        with self._lock:
            if self._reader is None:
                self._reader = ThreadPoolExecutor(1, thread_name_prefix="snapask-ocr")
            future = self._reader.submit(work, *args)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _read_one(self, store: Store, sha256: str) -> None:
        if not self._closing.is_set() and not _read_and_keep(store, sha256):
            self._tried.add(sha256)

    def _sweep(self, store: Store) -> None:
        from snapask_desktop.ocr.engine import available
        from snapask_desktop.store.errors import StoreError

        try:
            if (missing := available()) is not None:
                log.info("pictures without their text stay so: %s", missing)
                return
            while not self._closing.is_set() and self._settings().read_picture_text:
                try:
                    batch = [sha for sha in store.unread_pictures(50) if sha not in self._tried]
                except StoreError as error:
                    log.warning("pictures without their text could not be listed: %s", error)
                    return
                if not batch:
                    return
                for sha in batch:
                    self._read_one(store, sha)
                    if self._closing.is_set():
                        return
        finally:
            with self._lock:
                self._sweeping = False

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the text of every picture stored so far to be read (the CLI, before exit)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception(timeout=timeout_s)

    def close(self) -> None:
        """Finish the picture being read, drop the rest, and stop the reader thread."""
        self._closing.set()
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.shutdown(wait=True, cancel_futures=True)


def text_of(store: Store, sha256: str) -> str | None:
    """A stored picture's text: as kept, else read now (and kept); None if it cannot be read
    (no OCR engine here, or the picture is unreadable). Blocks for the reading."""
    from snapask_desktop.redact.guard import guard_picture

    kept = store.screenshot_text(sha256)
    if kept is not None:
        return kept
    guarded = guard_picture(store.screenshot_bytes(sha256), redact=False)
    if guarded.text is None:
        log.info("picture %s… has no text for a text-only model: %s", sha256[:12], guarded.problem)
        return None
    _keep(store, sha256, guarded.text)
    return guarded.text


def _keep(store: Store, sha256: str, text: str) -> None:
    from snapask_desktop.ocr.engine import engine_name
    from snapask_desktop.store.errors import StoreError

    try:
        store.set_screenshot_text(sha256, text, engine_name())
    except StoreError as error:  # the text is a convenience: the question must not fail for it
        log.warning("the text of picture %s… was not kept: %s", sha256[:12], error)


def _read_and_keep(store: Store, sha256: str) -> bool:
    """Read and keep a picture's text; False when it cannot be read here (bytes not here yet,
    unreadable, no engine)."""
    from snapask_desktop.redact.guard import guard_picture
    from snapask_desktop.store.errors import StoreError

    try:
        if store.screenshot_text(sha256) is not None:
            return True  # the same picture again: read once
        if store.missing_blob(sha256):
            return False  # a synced picture whose bytes have not arrived (read when they do)
        guarded = guard_picture(store.screenshot_bytes(sha256), redact=False)
    except StoreError as error:
        log.warning("picture %s… could not be read for its text: %s", sha256[:12], error)
        return False
    if guarded.text is None:
        return False
    _keep(store, sha256, guarded.text)
    return True
