"""The sync engine on its own thread and asyncio loop, driven from any other thread.

Encrypted accounts (docs/sync-protocol.md section 12), for the tray's passphrase dialogs:
``status.encrypted`` and ``status.locked`` say what to show; ``encrypt(passphrase)``,
``unlock(passphrase)``, ``change_passphrase(new)`` and ``rotate_keys()`` return futures that
finish when the keys are kept (the key derivation,
about 0.5 s, runs on a worker thread, never the caller's); a failed future's exception is
the sentence to show (``crypto.WrongPassphrase``, ``crypto.WeakParameters``,
``client.EncryptionError``, or a connection error when the server cannot be reached).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from snapask_desktop.loop_thread import LoopThread
from snapask_desktop.sync.device.client import SyncEngine, SyncEvents
from snapask_desktop.sync.device.status import SyncStatus

if TYPE_CHECKING:
    from snapask_desktop.store import Store
    from snapask_desktop.sync.device.keystore import KeyStore


class SyncRunner:
    """Runs ``SyncEngine.run`` in the background until ``stop``; thread-safe controls."""

    def __init__(
        self,
        store: Store,
        ws_url: str,
        token: Callable[[], str | None],
        events: SyncEvents,
        *,
        poll_s: float | None = None,
        keystore: KeyStore | None = None,
    ) -> None:
        self._thread = LoopThread("snapask-sync")
        kwargs: dict[str, Any] = {} if poll_s is None else {"poll_s": poll_s}
        if keystore is not None:
            kwargs["keystore"] = keystore
        # The engine's asyncio.Event must be made on the loop that waits on it.
        self._engine: SyncEngine = self._thread.submit(
            _make(store, ws_url, token, events, kwargs)
        ).result()
        self._task: concurrent.futures.Future[None] | None = None

    @property
    def status(self) -> SyncStatus:
        """The latest status (read from any thread; it is an immutable snapshot)."""
        return self._engine.status

    def start(self) -> None:
        """Begin syncing in the background (a second call does nothing)."""
        if self._task is None or self._task.done():
            self._task = self._thread.submit(self._engine.run())

    def sync_now(self) -> None:
        """Send and fetch now; also retries at once when waiting after a failure."""
        self._thread.submit(_wake(self._engine))

    def encrypt(self, passphrase: str) -> concurrent.futures.Future[None]:
        """Turn the account end-to-end encrypted with a new sync passphrase (check it with
        ``crypto.check_new_passphrase`` first, and warn that a lost passphrase means the synced
        copy cannot be read; each device keeps its local data)."""
        return self._thread.submit(self._engine.encrypt(passphrase))

    def unlock(self, passphrase: str) -> concurrent.futures.Future[None]:
        """Unlock this device for an encrypted account (``status.locked``); sync goes on."""
        return self._thread.submit(self._engine.unlock(passphrase))

    def change_passphrase(self, new_passphrase: str) -> concurrent.futures.Future[None]:
        """A new sync passphrase (this device unlocked); the other devices ask for it."""
        return self._thread.submit(self._engine.change_passphrase(new_passphrase))

    def rotate_keys(self) -> concurrent.futures.Future[int]:
        """A new items key seals from now on, and every record is queued to go out sealed
        with it (the future gives the count); nothing is asked of the other devices."""
        return self._thread.submit(self._engine.rotate_keys())

    def fetch_blob(self, sha256: str) -> concurrent.futures.Future[bool]:
        """Download a picture into the store; the future fails with ConnectionError offline."""
        return self._thread.submit(self._engine.fetch_blob(sha256))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the engine (closing its connection) and end the thread."""
        self._thread.stop(timeout_s)


async def _make(
    store: Store,
    ws_url: str,
    token: Callable[[], str | None],
    events: SyncEvents,
    kwargs: dict[str, Any],
) -> SyncEngine:
    return SyncEngine(store, ws_url, token, events=events, **kwargs)


async def _wake(engine: SyncEngine) -> None:
    engine.wake()
    await asyncio.sleep(0)
