"""The sync client seen from the Qt main thread: a QObject owning one SyncRunner.

The engine calls back on its own thread. Every callback is turned into an internal signal
connected with a queued connection to a slot of this object (which lives on the main thread),
and only that slot re-emits the public signal: receivers, even plain Python callables, always
run on the main thread and never touch widgets from the sync thread. Once `stop()` has been
called, late callbacks are dropped.

Imported only when sync is set up: it pulls in websockets and the sync engine (httpx is
imported only to sign in).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from snapask_desktop.sync.device import account
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner
from snapask_desktop.sync.device.status import SyncState, SyncStatus

if TYPE_CHECKING:
    from snapask_desktop.store.records import ApplyReport

log = logging.getLogger(__name__)

TokenSource = Callable[[], str | None]


class SyncBridge(QObject):
    """Syncs one store with one server in the background; reports by (main-thread) signals."""

    status_changed = Signal(object)  # SyncStatus
    applied = Signal(object)  # ApplyReport: changes from other devices are in the store
    notice = Signal(str)  # one-off news for the user (clock skew, a rejected change)
    blob_ready = Signal(str)  # sha256: a picture was downloaded into the store
    blob_failed = Signal(str, str)  # sha256, plain-language reason (offline, not on the server)

    # Emitted on the sync thread; queued to the slots below.
    _status_in = Signal(object)
    _applied_in = Signal(object)
    _notice_in = Signal(str)
    _blob_in = Signal(str, bool, str)

    def __init__(
        self,
        store: Any,
        server_url: str,
        token: TokenSource | None = None,
        *,
        poll_s: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`store` is a Store (or the app's LazyStore); `token` defaults to the keyring's token
        for `server_url` (a test with two devices in one process passes each its own)."""
        super().__init__(parent)
        self.server_url = account.normal_server_url(server_url)
        url = self.server_url
        self._stopped = False
        self._started = False
        self._fetching: set[str] = set()
        self._status = SyncStatus(SyncState.CONNECTING, "Connecting…")
        queued = Qt.ConnectionType.QueuedConnection
        self._status_in.connect(self._on_status, queued)
        self._applied_in.connect(self._on_applied, queued)
        self._notice_in.connect(self._on_notice, queued)
        self._blob_in.connect(self._on_blob, queued)
        events = SyncEvents(
            status=self._status_in.emit,
            applied=self._applied_in.emit,
            notice=self._notice_in.emit,
        )
        self._runner = SyncRunner(
            store,
            account.websocket_url(url),
            token or (lambda: account.get_token(url)),
            events,
            poll_s=poll_s,
        )

    @property
    def status(self) -> SyncStatus:
        """The newest status delivered on the main thread."""
        return self._status

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._started and not self._stopped

    def start(self) -> None:
        """Begin syncing (connect, catch up, stay live)."""
        if self._stopped:
            raise RuntimeError("a stopped SyncBridge cannot be started again; make a new one")
        self._started = True
        self._runner.start()

    def sync_now(self) -> None:
        """Send and fetch now; retries at once when waiting after a failure."""
        if self.running:
            self._runner.sync_now()

    def fetch_blob(self, sha256: str) -> None:
        """Download a picture; `blob_ready` or `blob_failed` follows (one request per picture)."""
        if not self.running:
            self.blob_failed.emit(sha256, "Sync is not running.")
            return
        if sha256 in self._fetching:
            return
        self._fetching.add(sha256)
        future = self._runner.fetch_blob(sha256)
        future.add_done_callback(lambda done, sha=sha256: self._fetched(sha, done))

    def use_passphrase(self, passphrase: str, *, new: bool) -> concurrent.futures.Future[None]:
        """Turn the account end-to-end encrypted with a new passphrase (`new`), or unlock this
        device with the account's; the future fails with the sentence to show."""
        if not self.running:
            raise RuntimeError("Sync is not running: sign in first.")
        return self._runner.encrypt(passphrase) if new else self._runner.unlock(passphrase)

    def change_passphrase(self, passphrase: str) -> concurrent.futures.Future[None]:
        """A new sync passphrase for the encrypted account (this device unlocked); the other
        devices ask for it. The future fails with the sentence to show."""
        if not self.running:
            raise RuntimeError("Sync is not running: sign in first.")
        return self._runner.change_passphrase(passphrase)

    def rotate_keys(self) -> concurrent.futures.Future[int]:
        """A new items key seals from now on; every record is sent again in the background.
        The future gives the count queued, or fails with the sentence to show."""
        if not self.running:
            raise RuntimeError("Sync is not running: sign in first.")
        return self._runner.rotate_keys()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End syncing and its thread (blocks up to `timeout_s`; any thread may call it). Call it
        before the store closes."""
        if self._stopped:
            return
        self._stopped = True
        self._runner.stop(timeout_s)

    # -- the sync thread ---------------------------------------------------------------------

    def _fetched(self, sha256: str, done: concurrent.futures.Future[bool]) -> None:
        # Runs on the sync thread (or here at once if the future already ended).
        try:
            found = done.result()
        except concurrent.futures.CancelledError:
            self._blob_in.emit(sha256, False, "Sync stopped before the picture arrived.")
        except ConnectionError:
            self._blob_in.emit(sha256, False, "Not connected to the sync server.")
        except Exception as error:  # a store or protocol failure: say it, keep going
            log.warning("sync: picture %s could not be downloaded: %s", sha256[:12], error)
            self._blob_in.emit(sha256, False, f"The picture could not be downloaded: {error}")
        else:
            reason = "" if found else "The sync server does not have this picture."
            self._blob_in.emit(sha256, found, reason)

    # -- the main thread ---------------------------------------------------------------------

    @Slot(object)
    def _on_status(self, status: SyncStatus) -> None:
        if self._stopped:
            return
        self._status = status
        self.status_changed.emit(status)

    @Slot(object)
    def _on_applied(self, report: ApplyReport) -> None:
        if not self._stopped:
            self.applied.emit(report)

    @Slot(str)
    def _on_notice(self, text: str) -> None:
        if not self._stopped:
            self.notice.emit(text)

    @Slot(str, bool, str)
    def _on_blob(self, sha256: str, found: bool, reason: str) -> None:
        self._fetching.discard(sha256)
        if self._stopped:
            return
        if found:
            self.blob_ready.emit(sha256)
        else:
            self.blob_failed.emit(sha256, reason)
