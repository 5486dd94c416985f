"""Notice when another process (the `snapask` CLI, a second tool) writes the store.

SQLite's `PRAGMA data_version` on a connection of our own changes whenever any other connection
commits to the file, in this process or another. Reading it costs microseconds and touches no
table, so History asks every couple of seconds while it is shown, on a pool thread, and
stops when hidden (an idle app does nothing). The connection is kept open across hide and show,
so a change made while hidden is seen by the first look after showing.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from snapask_desktop.ui.workers import Task, TaskSignals

log = logging.getLogger(__name__)
POLL_MS = 2000


class StoreWatcher(QObject):
    """Emits `changed` when the store file was committed to since the last look."""

    changed = Signal()

    def __init__(
        self,
        path: Path,
        *,
        interval_ms: int = POLL_MS,
        pool: QThreadPool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._path = path
        self._pool = pool or QThreadPool.globalInstance()
        self._lock = threading.Lock()  # one look at a time; close() waits for it
        self._conn: sqlite3.Connection | None = None
        self._last: int | None = None
        self._busy = False
        self._tokens = itertools.count(1)
        self._signals = TaskSignals(self)
        self._signals.done.connect(self._seen)
        self._signals.failed.connect(self._failed)
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        """Look now, then every interval."""
        self._timer.start()
        self.check()

    def stop(self) -> None:
        """Stop looking (the connection stays, so the next start sees what changed meanwhile)."""
        self._timer.stop()

    def close(self) -> None:
        """Stop and close the connection (before the app quits)."""
        self._timer.stop()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def check(self) -> None:
        """Read the data version on a pool thread (skipped while a read is under way)."""
        if self._busy:
            return
        self._busy = True
        self._pool.start(Task(next(self._tokens), self._version, self._signals))

    def _version(self) -> int | None:  # on a pool thread
        with self._lock:
            if self._conn is None:
                if not self._path.exists():
                    return None  # nothing written yet; never create the file here
                # mode=rw: never creates a file; autocommit: no read transaction stays open.
                uri = self._path.resolve().as_uri() + "?mode=rw"
                self._conn = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
            row = self._conn.execute("PRAGMA data_version").fetchone()
            return int(row[0])

    def _seen(self, _token: int, version: int | None) -> None:
        self._busy = False
        if version is None:
            return
        last, self._last = self._last, version
        if last is not None and version != last:
            self.changed.emit()

    def _failed(self, _token: int, reason: str) -> None:
        self._busy = False
        log.info("store watch: %s", reason)  # e.g. locked for a moment: look again next time
