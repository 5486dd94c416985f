"""The tray app's sync service: signing in and out, and one SyncBridge while signed in.

It lives on the main thread and never blocks it: the keyring, the sign-in request, stopping a
bridge and store reads run on workers (`BackgroundCalls`). Windows watch its signals, which
stay the same object across sign-ins (the bridge behind them is replaced). Nothing of the sync
engine (websockets; httpx only to sign in) is imported until sync is set up and a token exists.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.ui.workers import BackgroundCalls

if TYPE_CHECKING:
    from snapask_desktop.store.records import OwnerTitle, SyncProblem
    from snapask_desktop.ui.sync.bridge import SyncBridge

log = logging.getLogger(__name__)

PASSPHRASE_TIMEOUT_S = 120.0  # keys derived, stored, fetched or put: a minute is plenty
NOTICE_REPEAT_S = 600.0  # the same notice (e.g. clock skew on every reconnect) at most this often
OFF = SyncStatus()
SIGNED_OUT = SyncStatus(SyncState.OFF, "Signed out")


@dataclass(frozen=True)
class SyncOverview:
    """What the Sync page shows besides the live status (read from the store on a worker)."""

    device_id: str
    pending: int
    last_synced_ms: int | None
    problems: tuple[SyncProblem, ...]
    owners: tuple[OwnerTitle | None, ...] = ()  # each problem's conversation, to name it


class SignInProblem(Exception):
    """A sign-in that cannot be tried as typed (empty field, not a server address)."""


def restored_notice(count: int) -> str:
    """What to tell the user when synced messages kept conversations deleted here."""
    if count == 1:
        return (
            "A conversation you deleted got new messages on another device, so it was kept. "
            "Delete it again if you no longer want it."
        )
    return (
        f"{count} conversations you deleted got new messages on another device, so they were "
        "kept. Delete them again if you no longer want them."
    )


def read_overview(store: Any, problems_limit: int = 50) -> SyncOverview:
    """The device id, pending count, last sync and rejected changes with the conversations they
    belong to (blocking: a worker)."""
    problems = tuple(store.sync_problems(limit=problems_limit))
    return SyncOverview(
        device_id=store.device_id,
        pending=store.outbox_count(),
        last_synced_ms=store.last_synced_at(),
        problems=problems,
        owners=tuple(store.owner_title(p.record_type, p.record_id) for p in problems),
    )


class SyncManager(QObject):
    """Sign in / out and the running sync for the app; see the module docstring."""

    status_changed = Signal(object)  # SyncStatus (OFF when not signed in)
    applied = Signal(object)  # ApplyReport from the bridge
    notice = Signal(str)  # news for the user (repeats within NOTICE_REPEAT_S dropped)
    blob_ready = Signal(str)
    blob_failed = Signal(str, str)
    account_changed = Signal(object)  # Settings saved by a sign-in or sign-out
    sign_in_finished = Signal(bool, str)  # ok, the error to show under the form
    sign_out_finished = Signal(bool, str)
    passphrase_finished = Signal(bool, str)  # ok, the error to show in the passphrase dialog
    rotate_finished = Signal(bool, str)  # ok, what to show (records re-sent, or the error)

    def __init__(
        self,
        settings: Settings,
        store: Any,
        *,
        settings_store: SettingsStore | None = None,
        poll_s: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`store` is the app's LazyStore (or a Store): opened on a worker when first needed."""
        super().__init__(parent)
        self._settings = settings
        self._store = store
        self._settings_store = settings_store
        self._poll_s = poll_s
        self._calls = BackgroundCalls(self)  # keyring, sign in/out, stopping bridges: in order
        self._bridge: SyncBridge | None = None
        self._status = OFF
        self._busy = False  # a sign-in or sign-out is under way
        self._closed = False
        self._notices: dict[str, float] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings sync runs with."""
        return self._settings

    @property
    def store(self) -> Any:
        """The store synced (a LazyStore in the app: touch it on workers only)."""
        return self._store

    @property
    def status(self) -> SyncStatus:
        """The latest status."""
        return self._status

    @property
    def bridge(self) -> SyncBridge | None:
        """The running bridge (None: signed out or not started yet)."""
        return self._bridge

    @property
    def active(self) -> bool:
        """True while a bridge syncs (signed in and started)."""
        return self._bridge is not None and self._bridge.running

    @property
    def busy(self) -> bool:
        """True while a sign-in or sign-out is under way."""
        return self._busy

    # -- start and stop ----------------------------------------------------------------------

    def start(self) -> None:
        """Start syncing if a server is set up and this device has a token for it (looked up on
        a worker: the keyring may take a while, and so do the sync engine's imports)."""
        url = self._settings.sync_server_url
        if self._closed or self._bridge is not None or not url:
            if not url:
                self._set_status(OFF)
            return

        def found(has_token: bool) -> None:
            if self._closed or self._bridge is not None or url != self._settings.sync_server_url:
                return
            if has_token:
                self._start_bridge(url)
            else:
                self._set_status(SIGNED_OUT.with_(message="Signed out: sign in on the Sync page"))

        def failed(error: Exception) -> None:
            self._set_status(SyncStatus(SyncState.PROBLEM, str(error)))

        self._calls.call(lambda: _has_token(url), found, failed)

    def apply_settings(self, settings: Settings) -> None:
        """New settings: restart when the server changed (a sign-in does this itself)."""
        old, self._settings = self._settings, settings
        if settings.sync_server_url == old.sync_server_url or self._busy:
            return
        bridge = self._detach_bridge()
        if bridge is not None:
            self._stop_later(bridge)
        self.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Finish what runs and stop syncing (on quit, before the store closes)."""
        self._closed = True
        self._calls.wait()
        bridge = self._detach_bridge()
        if bridge is not None:
            bridge.stop(timeout_s)

    # -- what the user asks for --------------------------------------------------------------

    def sync_now(self) -> bool:
        """Send and fetch now; False when sync is not set up (no server)."""
        if self._bridge is not None:
            self._bridge.sync_now()
            return True
        if not self._settings.sync_server_url:
            return False
        if not self._busy:
            self.start()  # not started yet, or the keyring was locked at start and is open now
        return True

    def fetch_blob(self, sha256: str) -> None:
        """Download a picture; `blob_ready` or `blob_failed` follows."""
        if self._bridge is None:
            self.blob_failed.emit(sha256, "Sync is off.")
        else:
            self._bridge.fetch_blob(sha256)

    def sign_in(self, server_url: str, user: str, password: str, device_name: str) -> None:
        """Sign this device in (on a worker), save the settings and start syncing at once;
        `sign_in_finished(ok, error)` follows. A new server first forgets the old one's state."""
        if self._busy or self._closed:
            return
        self._busy = True
        store, settings_store = self._store, self._settings_store or SettingsStore()
        old_url, old_bridge = self._settings.sync_server_url, self._bridge

        def work() -> Settings:
            return _sign_in(store, settings_store, old_url, old_bridge, server_url, user,
                            password, device_name)  # fmt: skip

        self._calls.call(work, self._signed_in, self._sign_in_failed)

    def sign_out(self) -> None:
        """Stop syncing and forget this device's token (conversations stay here)."""
        url = self._settings.sync_server_url
        if self._busy or self._closed or not url:
            return
        self._busy = True
        bridge = self._detach_bridge()
        self._set_status(SyncStatus(SyncState.OFF, "Signing out…"))
        settings_store = self._settings_store or SettingsStore()
        store = self._store

        def work() -> Settings:
            from snapask_desktop.sync.device import account
            from snapask_desktop.sync.device.keystore import KeyStore, keys_account

            if bridge is not None:
                bridge.stop()
            account.sign_out(url)
            # An encrypted account's keys go with the token (the CLI's sign-out does the same).
            server = account.websocket_url(account.normal_server_url(url))
            KeyStore(keys_account(server, store.device_id)).forget()
            return settings_store.update(sync_user=None)

        def done(settings: Settings) -> None:
            self._busy = False
            if bridge is not None:
                bridge.deleteLater()
            self._settings = settings
            self._set_status(SIGNED_OUT)
            self.account_changed.emit(settings)
            self.sign_out_finished.emit(True, "")

        def failed(error: Exception) -> None:
            self._busy = False
            if bridge is not None:
                bridge.deleteLater()
            self._set_status(SyncStatus(SyncState.PROBLEM, f"Signing out failed: {error}"))
            self.sign_out_finished.emit(False, str(error))

        self._calls.call(work, done, failed)

    def use_passphrase(self, passphrase: str, *, new: bool) -> None:
        """Turn end-to-end encryption on with a new sync passphrase (`new`), or unlock this
        device with the account's (a worker waits; the key derivation runs on the sync
        thread's worker); `passphrase_finished(ok, error)` follows."""
        bridge = self._bridge
        if bridge is None or not bridge.running:
            self.passphrase_finished.emit(False, "Sync is not running: sign in first.")
            return

        def work() -> None:
            bridge.use_passphrase(passphrase, new=new).result(PASSPHRASE_TIMEOUT_S)

        def failed(error: Exception) -> None:
            self.passphrase_finished.emit(False, passphrase_error(error))

        self._calls.call(work, lambda _none: self.passphrase_finished.emit(True, ""), failed)

    def change_passphrase(self, passphrase: str) -> None:
        """A new sync passphrase for the encrypted account (a worker waits; the key derivation
        runs on the sync thread's worker); `passphrase_finished(ok, error)` follows."""
        bridge = self._bridge
        if bridge is None or not bridge.running:
            self.passphrase_finished.emit(False, "Sync is not running: sign in first.")
            return

        def work() -> None:
            bridge.change_passphrase(passphrase).result(PASSPHRASE_TIMEOUT_S)

        def failed(error: Exception) -> None:
            self.passphrase_finished.emit(False, passphrase_error(error))

        self._calls.call(work, lambda _none: self.passphrase_finished.emit(True, ""), failed)

    def rotate_keys(self) -> None:
        """Rotate the encrypted account's keys (a worker waits); `rotate_finished(ok, text)`
        follows, with what happens next or why it failed."""
        bridge = self._bridge
        if bridge is None or not bridge.running:
            self.rotate_finished.emit(False, "Sync is not running: sign in first.")
            return

        def work() -> int:
            return bridge.rotate_keys().result(PASSPHRASE_TIMEOUT_S)

        def done(count: int) -> None:
            self.rotate_finished.emit(True, rotated_text(count))

        def failed(error: Exception) -> None:
            self.rotate_finished.emit(False, passphrase_error(error))

        self._calls.call(work, done, failed)

    def wait(self, timeout_ms: int = -1) -> None:
        """Block until queued background work has run (tests, shutdown)."""
        self._calls.wait(timeout_ms)

    # -- internals ---------------------------------------------------------------------------

    def _signed_in(self, settings: Settings) -> None:
        self._busy = False
        old = self._detach_bridge()
        if old is not None:
            old.deleteLater()  # already stopped by the sign-in work
        self._settings = settings
        if not self._closed and settings.sync_server_url:
            self._start_bridge(settings.sync_server_url)
        self.account_changed.emit(settings)
        self.sign_in_finished.emit(True, "")

    def _sign_in_failed(self, error: Exception) -> None:
        self._busy = False
        bridge = self._bridge
        if bridge is not None and not bridge.running:  # stopped, then a later step failed
            self._detach_bridge()
            bridge.deleteLater()
            self.start()
        self.sign_in_finished.emit(False, str(error) or type(error).__name__)

    def _start_bridge(self, url: str) -> None:
        from snapask_desktop.ui.sync.bridge import SyncBridge

        try:
            bridge = SyncBridge(self._store, url, poll_s=self._poll_s, parent=self)
        except (ValueError, RuntimeError) as error:  # a hand-edited, unusable server address
            self._set_status(SyncStatus(SyncState.PROBLEM, str(error)))
            return
        bridge.status_changed.connect(self._set_status)
        bridge.applied.connect(self.applied)
        bridge.notice.connect(self._notice)
        bridge.blob_ready.connect(self.blob_ready)
        bridge.blob_failed.connect(self.blob_failed)
        self._bridge = bridge
        bridge.start()
        self._set_status(bridge.status)

    def _detach_bridge(self) -> SyncBridge | None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            for signal in (
                bridge.status_changed,
                bridge.applied,
                bridge.notice,
                bridge.blob_ready,
                bridge.blob_failed,
            ):
                signal.disconnect()
        return bridge

    def _stop_later(self, bridge: SyncBridge) -> None:
        self._calls.call(bridge.stop, lambda _none: bridge.deleteLater())

    def _set_status(self, status: SyncStatus) -> None:
        self._status = status
        self.status_changed.emit(status)

    def _notice(self, text: str) -> None:
        now = time.monotonic()
        last = self._notices.get(text)
        if last is not None and now - last < NOTICE_REPEAT_S:
            return
        self._notices[text] = now
        self.notice.emit(text)


def passphrase_error(error: BaseException) -> str:
    """The sentence a failed encrypt or unlock shows in the passphrase dialog."""
    if isinstance(error, TimeoutError):
        return "The sync server did not answer in time; check the connection and try again."
    if isinstance(error, ConnectionError):
        return f"Not connected to the sync server ({error}); try again when it can be reached."
    text = str(error).strip() or type(error).__name__
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def rotated_text(count: int) -> str:
    """What the Encryption row says after a rotation."""
    things = "1 record is" if count == 1 else f"{count} records are"
    return f"Keys rotated: {things} being sent again, sealed with the new key."


def _has_token(url: str) -> bool:
    """Worker: whether the keyring holds a token for `url`; also imports the sync engine here
    so that building the bridge on the main thread costs no import."""
    import snapask_desktop.ui.sync.bridge  # noqa: F401
    from snapask_desktop.sync.device import account

    return bool(account.get_token(url))


def _sign_in(
    store: Any,
    settings_store: SettingsStore,
    old_url: str | None,
    old_bridge: SyncBridge | None,
    server_url: str,
    user: str,
    password: str,
    device_name: str,
) -> Settings:
    """Worker: ask the server for a token, stop the old sync, forget an old server's state,
    save the settings. Raises with a sentence for the user."""
    from snapask_desktop.sync.device import account

    try:
        url = account.normal_server_url(server_url)
    except ValueError as error:
        raise SignInProblem(f"{error}.") from None
    if not user.strip():
        raise SignInProblem("Enter your user name on the sync server.")
    if not password:
        raise SignInProblem("Enter your password.")
    name = device_name.strip() or account.default_device_name()
    signed = account.sign_in(url, user, password, device_id=store.device_id, device_name=name)
    if old_bridge is not None:
        old_bridge.stop()
    if old_url and _normal_or_none(old_url) != url:
        store.forget_sync_state()  # the new server must receive every record again
    return settings_store.update(sync_server_url=url, sync_user=signed.user, device_name=name)


def _normal_or_none(url: str) -> str | None:
    from snapask_desktop.sync.device import account

    try:
        return account.normal_server_url(url)
    except ValueError:
        return None
