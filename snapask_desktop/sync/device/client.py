"""The background sync client: one connection at a time, reconnecting with backoff.

On (re)connect (section 8): ``hello`` -> push the outbox -> pull from the cursor until
``has_more`` is false -> live changes, pushing local changes as they appear. Every store call
runs in a worker thread so a long write never stalls the socket. The engine reports to its
owner only through the callbacks in ``SyncEvents`` (the tray app turns them into Qt signals).

An encrypted account (section 12) is synced with the keys kept in the OS keyring: ops and
pictures are sealed at send time, changes opened before the store applies them (a change that
does not open is refused, kept as a sync problem and told). Without its keys the device stops
in a *locked* state until ``unlock(passphrase)``; ``encrypt(passphrase)`` turns an account
encrypted. Neither runs the 0.5 s key derivation on the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from uuid import uuid4

from snapask_desktop import __version__, memory
from snapask_desktop.sync.clock import ServerClock, monotonic_ms, wall_clock_ms
from snapask_desktop.sync.device.confirm import DeleteConfirmations
from snapask_desktop.sync.device.connection import Closed, Connection, Refused, ServerError
from snapask_desktop.sync.device.outgoing import Outgoing, PushOutcome
from snapask_desktop.sync.device.pages import PageReader
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.sync.errors import CloseCode, ErrorCode
from snapask_desktop.sync.protocol import (
    DEFAULT_LIMITS,
    FEATURE_E2EE,
    SUPPORTED_FEATURES,
    Applied,
    Blob,
    BlobGet,
    BlobMissing,
    Change,
    Changes,
    Hello,
    Keys,
    KeysGet,
    KeysPut,
    Limits,
    Welcome,
)
from snapask_desktop.sync.sealed import SealedRecord
from snapask_desktop.sync.session import (
    APPLIED_EVERY_MS,
    SessionState,
    Verdict,
    clock_skew_delay_ms,
    plan_pages,
)

if TYPE_CHECKING:
    from snapask_desktop.store import Store
    from snapask_desktop.store.replica import ApplyReport
    from snapask_desktop.sync.device.keystore import KeyStore
    from snapask_desktop.sync.e2ee import OpenedPage, Unlocked
    from snapask_desktop.sync.keyrecord import KeyRecord

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often an idle connection looks for changes written by another process
INLINE_CHANGES = 10  # frames this small are applied on the loop thread (see _apply_frame)
# What the device speaks: the shared features and encrypted accounts (the server announces
# e2ee once it serves section 12).
DEVICE_FEATURES: tuple[str, ...] = (*SUPPORTED_FEATURES, FEATURE_E2EE)
TOLD_REFUSALS = 3  # refused changes named one by one in notices; the rest are counted


class NeedsUser(Exception):
    """Syncing cannot go on without the user (sign in again, update, another copy running)."""


class ClockBehind(Exception):
    """A change is stamped too far ahead of this device's clock: retry in a minute."""


class Locked(NeedsUser):
    """An encrypted account whose keys this device lacks, or whose passphrase was changed on
    another device: syncing waits for ``unlock(passphrase)``."""


class EncryptionChanged(Exception):
    """The account was turned encrypted, or its key record changed, during the session: the
    session starts over (ops are kept) and the next ``welcome`` says what holds."""


class EncryptionError(Exception):
    """``encrypt`` or ``unlock`` cannot go on; the message says why in plain words."""


@dataclass
class SyncEvents:
    """Callbacks, all called on the sync thread (keep them short; the UI re-emits as signals)."""

    status: Callable[[SyncStatus], None] = lambda _status: None
    applied: Callable[[ApplyReport], None] = lambda _report: None
    notice: Callable[[str], None] = lambda _text: None  # one-off news for the user


@dataclass
class PassResult:
    """What one ``sync_once`` pass did."""

    pushed: int = 0
    pulled: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    cursor: int = 0


class SyncEngine:
    """Syncs one store with one server as one device."""

    def __init__(
        self,
        store: Store,
        ws_url: str,
        token: Callable[[], str | None],
        *,
        events: SyncEvents | None = None,
        jitter: Callable[[], float] = random.random,
        poll_s: float = POLL_S,
        keystore: KeyStore | None = None,
    ) -> None:
        self._store = store
        self._url = ws_url
        self._token = token
        self._events = events or SyncEvents()
        self._jitter = jitter
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._conn: Connection | None = None
        self._limits: Limits = DEFAULT_LIMITS
        self._server_features: frozenset[str] = frozenset()  # from the last welcome
        self._server_clock: ServerClock | None = None  # the server's clock, from the welcome
        self._state = SessionState()
        self._index_due = False  # an applied page left its messages for search to index
        self.status = SyncStatus()
        # Encrypted accounts: where the keys are kept (the OS keyring by default, named by
        # server and device), the keys of this session (None: a clear account), the key
        # record fetched while locked (unlocking needs no connection then), whether the
        # account is encrypted, and a request to start the session over with new keys.
        self._keystore = keystore
        self._unlocked: Unlocked | None = None
        self._key_record: tuple[int, KeyRecord] | None = None
        self._encrypted = False
        self._restart = False
        # The deleted conversations this connection confirms (12.12; encrypted accounts).
        self._confirms = DeleteConfirmations()

    # ----------------------------------------------------------------- entry points

    async def run(self) -> None:
        """Sync until cancelled: connect, stay live, reconnect with backoff after failures."""
        loop = asyncio.get_running_loop()

        def local_change() -> None:  # on whichever thread wrote to the store
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(self._wake.set)

        try:
            await asyncio.to_thread(self._store.add_change_listener, local_change)
            listening = True
        except Exception:  # the store did not open: sessions will say why; polling still works
            log.exception("sync: local changes will be found by polling only")
            listening = False
        try:
            await self._run_sessions()
        finally:
            if listening:
                self._store.remove_change_listener(local_change)

    async def _run_sessions(self) -> None:
        while True:
            try:
                await self._live_session()
            except (OSError, TimeoutError, Closed, Refused, ServerError, NeedsUser) as error:
                stop = _needs_user(error)
                if stop is not None:
                    locked = isinstance(error, Locked)
                    await self._report(SyncState.PROBLEM, stop, locked=locked)
                    await self._sleep(None)  # until "sync now", unlocking or new settings
                    self._state.waiting_for_user()
                    continue
                log.info("sync: %s", error)
                # A connection that worked and dropped starts the backoff over.
                worked = self.status.state is SyncState.UP_TO_DATE
                delay = self._state.retry_delay(self._jitter(), worked=worked)
                await self._report(SyncState.OFFLINE, _offline_text(error), retry_in_ms=delay)
                await self._sleep(delay)
            except EncryptionChanged as change:
                log.info("sync: %s", change)
                # At once after a session that worked; backing off if it keeps happening (a
                # server whose welcome and rejections disagree).
                worked = self.status.state is SyncState.UP_TO_DATE
                delay = self._state.retry_delay(self._jitter(), worked=worked)
                await self._report(SyncState.CONNECTING, "Connecting…", retry_in_ms=delay)
                await self._sleep(delay)
            except ClockBehind as skew:
                delay = clock_skew_delay_ms(0, self._jitter())
                await self._report(SyncState.PROBLEM, str(skew), retry_in_ms=delay)
                await self._sleep(delay)
            except Exception as error:  # e.g. the store locked by another program too long
                # Sync must never die quietly: say what happened and try again later.
                log.exception("sync failed")
                delay = self._state.retry_delay(self._jitter(), worked=False)
                text = f"Sync stopped on an error and will try again: {error}"
                await self._report(SyncState.PROBLEM, text[:300], retry_in_ms=delay)
                await self._sleep(delay)

    async def sync_once(self) -> PassResult:
        """One full pass and disconnect (``snapask sync now``); raises like a session does."""
        result = PassResult()
        conn = await self._connect()
        try:
            await self._hello(conn)
            await self._start_confirming()
            outgoing = self._outgoing(conn)
            result.pushed += await self._push(outgoing, result)
            result.pulled += await self._pull_all(conn, outgoing, result)
            await self._flush_applied(conn, outgoing, force=True)
            result.cursor = self._state.cursor
            await self._up_to_date(outgoing)
            await self._index_search()
        finally:
            self._conn = None
            await conn.close()
        return result

    def wake(self) -> None:
        """Look for local changes now, or retry now if waiting (call on the engine's loop)."""
        self._wake.set()

    async def fetch_blob(self, sha256: str) -> bool:
        """Download a picture over the live connection into the store; False if the server has
        none. ConnectionError when offline."""
        conn = self._conn
        if conn is None:
            raise ConnectionError("not connected to the sync server")
        unlocked = self._unlocked
        if unlocked is None:
            data = await _download(conn, sha256)
            if data is None:
                return False
            await asyncio.to_thread(self._store.put_blob, sha256, data)
            return True
        from snapask_desktop.sync import e2ee
        from snapask_desktop.sync.crypto import CryptoError

        for name in e2ee.picture_ids(unlocked.keys, sha256):  # sealed with which key
            sealed = await _download(conn, name)
            if sealed is None:
                continue
            try:
                data = await asyncio.to_thread(
                    e2ee.open_picture, unlocked.keys, name, sha256, sealed
                )
            except CryptoError as error:
                # Refused like a change: the picture stays missing here, the user is told.
                refusal = (str(uuid4()), "screenshot", sha256, _refusal_code(error), str(error))
                await asyncio.to_thread(self._store.note_refused_changes, [refusal])
                self._events.notice(str(error))
                raise
            await asyncio.to_thread(self._store.put_blob, sha256, data)
            return True
        return False

    # ----------------------------------------------------------------- encrypted accounts

    async def encrypt(self, passphrase: str) -> None:
        """Turn the account end-to-end encrypted with a new sync passphrase: make and store
        its keys on the server (which drops its clear copies), keep them in the keyring, and
        queue every local record again so all of it goes out sealed.

        WeakParameters for a passphrase too short; EncryptionError when the server cannot, or
        the account already is encrypted. Uses the live connection, or one of its own."""
        from snapask_desktop.sync import e2ee
        from snapask_desktop.sync.crypto import check_new_passphrase

        check_new_passphrase(passphrase)
        async with self._key_connection() as conn:
            if FEATURE_E2EE not in self._server_features:
                raise EncryptionError(
                    "This sync server does not offer end-to-end encryption; update it first."
                )
            current = await conn.request(KeysGet())
            assert isinstance(current, Keys)
            if current.version:
                raise EncryptionError(_ALREADY_ENCRYPTED)
            record, unlocked = await asyncio.to_thread(e2ee.create_keys, passphrase)
            try:
                stored = await conn.request(KeysPut(record, expect_version=0))
            except ServerError as error:
                if error.frame.code == ErrorCode.KEYS_CONFLICT:
                    raise EncryptionError(_ALREADY_ENCRYPTED) from None
                raise
            assert isinstance(stored, Keys)
        await self._keep(replace(unlocked, version=stored.version), resend=True)

    async def unlock(self, passphrase: str) -> None:
        """Open the encrypted account's keys with its sync passphrase and keep them in the
        keyring; on this device's first unlock every local record is queued again, sealed
        (records written before encryption was turned on are not lost).

        WrongPassphrase (or an altered key record), WeakParameters (parameters this device
        refuses), EncryptionError when the account is not encrypted."""
        from snapask_desktop.sync import e2ee
        from snapask_desktop.sync.crypto import WrongPassphrase

        cached = self._key_record is not None
        if self._key_record is None:
            self._key_record = await self._fetch_record()
        version, record = self._key_record
        try:
            unlocked = await asyncio.to_thread(e2ee.unlock, record, version, passphrase)
        except WrongPassphrase:
            # The record kept since locking may be stale (the passphrase changed once more
            # meanwhile): a newer one is tried once; offline, the refusal stands.
            if not cached:
                raise
            try:
                newer = await self._fetch_record()
            except (OSError, TimeoutError, Closed, Refused, ServerError, NeedsUser):
                raise WrongPassphrase() from None
            if newer[0] == version:
                raise
            self._key_record = newer
            unlocked = await asyncio.to_thread(e2ee.unlock, newer[1], newer[0], passphrase)
        keystore = await self._keys_kept()
        first = await asyncio.to_thread(keystore.load) is None
        await self._keep(unlocked, resend=first)

    async def _fetch_record(self) -> tuple[int, KeyRecord]:
        async with self._key_connection() as conn:
            reply = await conn.request(KeysGet())
        assert isinstance(reply, Keys)
        if not reply.version or reply.record is None:
            raise EncryptionError("This account is not end-to-end encrypted.")
        return reply.version, reply.record

    async def change_passphrase(self, new_passphrase: str) -> None:
        """A new sync passphrase for the account (12.5): its items keys re-wrapped, nothing
        re-sealed; every other device asks for the new one. This device must be unlocked.

        WeakParameters for a passphrase too short; EncryptionError when the device holds no
        keys, or the passphrase was changed on another device (unlock with that one first)."""
        from snapask_desktop.sync import e2ee
        from snapask_desktop.sync.crypto import check_new_passphrase

        check_new_passphrase(new_passphrase)

        async def rewrap(held: Unlocked, record: KeyRecord) -> tuple[KeyRecord, Unlocked]:
            return await asyncio.to_thread(e2ee.rewrap, held, record, new_passphrase)

        await self._change_keys(rewrap)

    async def rotate_keys(self) -> int:
        """A new items key seals from now on (12.5). Every local record is queued again (the
        cursor kept) so the server's newest copy of each is sealed with it, in the background
        as sync goes on; the old keys stay in the key record to open what the server's log
        still holds. Other devices open the new key with the root key they hold (no
        passphrase asked). This device must be unlocked (EncryptionError otherwise). Returns
        the count of records queued again."""
        from snapask_desktop.sync import e2ee

        async def rotate(held: Unlocked, record: KeyRecord) -> tuple[KeyRecord, Unlocked]:
            return e2ee.rotated(held, record)

        await self._change_keys(rotate)
        # After the new keys are kept: a session sealing with them sends these.
        count = await asyncio.to_thread(self._store.requeue_records)
        log.info("sync: %s records queued to be re-sealed with the new items key", count)
        self.wake()
        return count

    async def _change_keys(
        self, change: Callable[[Unlocked, KeyRecord], Awaitable[tuple[KeyRecord, Unlocked]]]
    ) -> None:
        """Put ``change(keys held, key record now)`` in place of the key record now (compare
        and swap on its version) and keep the new keys. When another device changed the record
        meanwhile (keys_conflict), once more from the newer record: a rotation there is taken
        in; a passphrase changed there is an EncryptionError saying to unlock with it."""
        async with self._key_connection() as conn:
            for _attempt in range(2):
                version, current, held = await self._current_record(conn)
                record, unlocked = await change(held, current)
                stored = await self._put_record(conn, record, version)
                if stored is not None:
                    break
            else:
                raise EncryptionError(_KEYS_RACED)
        await self._keep(replace(unlocked, version=stored), resend=False)

    async def _current_record(self, conn: Connection) -> tuple[int, KeyRecord, Unlocked]:
        """The key record now and this device's keys refreshed to it (EncryptionError)."""
        from snapask_desktop.sync import e2ee

        keystore = await self._keys_kept()
        held = await asyncio.to_thread(keystore.load)
        if held is None:
            raise EncryptionError("Unlock this device with the sync passphrase first.")
        reply = await conn.request(KeysGet())
        assert isinstance(reply, Keys)
        if not reply.version or reply.record is None:
            raise EncryptionError("This account is not end-to-end encrypted.")
        try:
            fresh = e2ee.refresh(held, reply.record, reply.version)
        except e2ee.KeysChanged as changed:
            raise EncryptionError(str(changed)) from None
        return reply.version, reply.record, fresh

    async def _put_record(self, conn: Connection, record: KeyRecord, expect: int) -> int | None:
        """The stored record's version, or None when ``expect`` is stale (keys_conflict)."""
        try:
            stored = await conn.request(KeysPut(record, expect_version=expect))
        except ServerError as error:
            if error.frame.code == ErrorCode.KEYS_CONFLICT:
                return None
            raise
        assert isinstance(stored, Keys)
        return stored.version

    async def _keep(self, unlocked: Unlocked, *, resend: bool) -> None:
        keystore = await self._keys_kept()
        await asyncio.to_thread(keystore.save, unlocked)
        self._key_record = None
        self._restart = True  # a live session starts over, sealing
        if resend:
            # In short steps with the cursor kept (as a rotation): an edit here never waits
            # for the whole store, and the sealed log starts after the cursor anyway.
            count = await asyncio.to_thread(self._store.requeue_records)
            log.info("sync: %s records queued to be sent sealed", count)
        self.wake()

    async def _keys_kept(self) -> KeyStore:
        if self._keystore is None:
            from snapask_desktop.sync.device.keystore import KeyStore, keys_account

            device_id = await asyncio.to_thread(lambda: self._store.device_id)
            self._keystore = KeyStore(keys_account(self._url, device_id))
        return self._keystore

    @contextlib.asynccontextmanager
    async def _key_connection(self) -> AsyncIterator[Connection]:
        """The live connection, or one opened (and closed) for a key request alone."""
        if self._conn is not None:
            yield self._conn
            return
        conn = await self._connect()
        try:
            await self._hello(conn, keys=False)
            yield conn
        finally:
            self._conn = None
            await conn.close()

    async def _take_keys(self, conn: Connection, version: int, *, fetch: bool = False) -> None:
        """The keys of this session (``version``: the welcome's key record version, 0 for a
        clear account), from the keyring or, when they are older or ``fetch``, the key
        record; Locked without them."""
        keystore = await self._keys_kept()
        held = await asyncio.to_thread(keystore.load)
        self._encrypted = version > 0
        if not version:
            self._unlocked = None
            if held is not None:
                # A server that says "not encrypted" to a device holding the account's keys
                # gets nothing in clear (a downgrade, or another server at this address).
                raise NeedsUser(_NOT_ENCRYPTED_NOW)
            return
        if held is not None and held.version == version and not fetch:
            self._unlocked = held
            return
        from snapask_desktop.sync import e2ee

        reply = await conn.request(KeysGet())
        assert isinstance(reply, Keys)
        if not reply.version or reply.record is None:
            raise EncryptionChanged("the key record went away since welcome")
        self._key_record = (reply.version, reply.record)
        if held is None:
            self._unlocked = None
            raise Locked(_LOCKED)
        try:
            fresh = e2ee.refresh(held, reply.record, reply.version)
        except e2ee.KeysChanged as changed:
            self._unlocked = None
            raise Locked(str(changed)) from None
        await asyncio.to_thread(keystore.save, fresh)
        self._key_record = None
        self._unlocked = fresh

    async def _open(self, conn: Connection, changes: Sequence[Change]) -> Sequence[Change]:
        """An encrypted account's page opened; refused changes kept as problems and told."""
        from snapask_desktop.sync import e2ee

        unlocked = self._unlocked
        if unlocked is None:
            if e2ee.has_sealed(changes):  # turned encrypted since this session's welcome
                raise EncryptionChanged("sealed changes arrived for a clear account")
            return changes
        page = await self._open_page(unlocked, changes)
        if page.unknown_keys:
            # Rotated on another device: the key record has the key (12.5).
            await self._take_keys(conn, unlocked.version, fetch=True)
            if self._unlocked is not None:
                page = await self._open_page(self._unlocked, changes)
        if page.refused:
            refusals = [
                (_op_of(changes, r.seq), r.kind, r.record_id[:64], r.code, r.message)
                for r in page.refused
            ]
            await asyncio.to_thread(self._store.note_refused_changes, refusals)
            self._tell_refused([refusal.message for refusal in page.refused])
        return page.changes

    def _tell_refused(self, reasons: Sequence[str]) -> None:
        """Notices for synced changes this device did not apply (kept as sync problems)."""
        for reason in reasons[:TOLD_REFUSALS]:
            self._events.notice(f"A synced change was refused: {reason}")
        more = len(reasons) - TOLD_REFUSALS
        if more > 0:
            self._events.notice(f"{more} more synced changes were refused (Sync page).")

    async def _open_page(self, unlocked: Unlocked, changes: Sequence[Change]) -> OpenedPage:
        from snapask_desktop.sync import e2ee

        # On this (the loop's) thread, like the parsing before it, whatever the page's size:
        # on a worker it fought the parsing of the next page for the GIL, each libsodium call
        # handing it over (an initial sync of an encrypted account 7.2-8.5 s -> 6.1-6.4 s quiet).
        return e2ee.open_changes(unlocked.keys, changes)

    def _outgoing(self, conn: Connection) -> Outgoing:
        keys = None if self._unlocked is None else self._unlocked.keys
        return Outgoing(self._store, conn, self._limits, self._server_features, keys,
                        self._server_now_ms)  # fmt: skip

    def _server_now_ms(self) -> int:
        """The server's wall clock as estimated since the last welcome (this device's before
        any welcome)."""
        now, mono = wall_clock_ms(), monotonic_ms()
        return now if self._server_clock is None else self._server_clock.now_ms(now, mono)

    # ----------------------------------------------------------------- one connection

    async def _live_session(self) -> None:
        # The live connection sets the engine's own wake-up event (see _idle).
        conn = await self._connect(activity=self._wake)
        try:
            await self._hello(conn)
            outgoing = self._outgoing(conn)
            await self._catch_up(conn, outgoing)
            # What connecting and catching up allocated and freed would otherwise stay resident
            # for as long as the app idles (tens of MB after a first sync).
            await asyncio.to_thread(memory.release_freed)
            while True:
                await self._idle(conn, outgoing)
        finally:
            self._conn = None
            await conn.close()

    async def _connect(self, activity: asyncio.Event | None = None) -> Connection:
        token = await asyncio.to_thread(self._token)
        if not token:
            raise NeedsUser("Sign in to the sync server (Settings → Sync).")
        await self._report(SyncState.CONNECTING, "Connecting…")
        try:
            conn = await Connection.open(self._url, token, activity=activity)
        except Refused as refused:
            if refused.status == 401:
                raise NeedsUser(_NEEDS_USER[ErrorCode.UNAUTHORIZED]) from None
            raise
        return conn

    async def _hello(self, conn: Connection, *, keys: bool = True) -> Welcome:
        # Both read on a worker: the app's store may still be closed, and reading it is I/O.
        cursor, device_id = await asyncio.to_thread(self._session_start)
        self._state.start(cursor)
        client = f"snapask-desktop/{__version__}"
        try:
            hello = Hello(device_id, cursor, client=client, features=DEVICE_FEATURES)
            sent_wall, sent_mono = wall_clock_ms(), monotonic_ms()
            welcome = await conn.request(hello)
        except ServerError as error:
            stop = _needs_user(error)
            raise NeedsUser(stop) if stop else error from None
        assert isinstance(welcome, Welcome)
        self._server_clock = ServerClock(
            welcome.server_time_ms,
            (sent_wall + wall_clock_ms()) // 2,
            (sent_mono + monotonic_ms()) // 2,
        )
        self._conn = conn
        self._limits = DEFAULT_LIMITS.tightest(welcome.limits)
        self._server_features = frozenset(welcome.features)
        drift_ms = self._limits.max_drift_ms
        if abs(welcome.server_time_ms - wall_clock_ms()) > drift_ms:
            self._events.notice(
                "This computer's clock differs from the sync server's by more than "
                f"{_minutes(drift_ms)}; set the clock right or changes may be refused."
            )
        if welcome.head < cursor:
            # The server lost data (restored from an old backup): start over and resend all.
            count = await asyncio.to_thread(self._store.reset_sync_after_server_loss)
            log.warning("sync: server head %s < cursor %s; resent %s ops", welcome.head,
                        cursor, count)  # fmt: skip
            self._state.server_lost_data()
        self._restart = False
        if keys:
            await self._take_keys(conn, welcome.keys_version)
        return welcome

    def _session_start(self) -> tuple[int, str]:
        return self._store.sync_cursor(), self._store.device_id

    async def _catch_up(self, conn: Connection, outgoing: Outgoing) -> None:
        await self._report(SyncState.SYNCING, "Syncing…")
        result = PassResult()
        await self._start_confirming()
        await self._push(outgoing, result)
        await self._pull_all(conn, outgoing, result)
        await self._flush_applied(conn, outgoing, force=True)
        await self._up_to_date(outgoing)
        # Also after a crash or quit while indexing: nothing may be left to pull then.
        await self._index_search()

    async def _idle(self, conn: Connection, outgoing: Outgoing) -> None:
        """Wait for a live frame, a local change or the poll tick, and handle it."""
        # One event: a local commit, "sync now" and the connection's live frames and end all
        # set self._wake (_live_session gives it to the connection). Waiting on it directly, not
        # on a task per event, wakes this loop a step sooner for every change either way.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_s):
                await self._wake.wait()
        self._wake.clear()
        frames = conn.take_live()  # raises Closed once the connection has ended
        news, conn.keys_news = conn.keys_news, None
        if self._restart or (news is not None and not self._current_keys(news.version)):
            raise EncryptionChanged("the account's keys changed")
        for frame in frames:
            if await self._apply_frame(conn, outgoing, frame, PassResult()):
                await self._pull_all(conn, outgoing, PassResult())
        if self._state.release_due(wall_clock_ms()):
            outgoing.held.clear()
        # Straight to the outbox: a count first would cost a thread hop on every local edit.
        sent = await self._push(outgoing, PassResult())
        await self._flush_applied(conn, outgoing, force=not frames)
        await self._up_to_date(outgoing, activity=bool(frames or sent))
        if self._index_due:  # a gap's pull brought many messages
            await self._index_search()

    def _current_keys(self, version: int) -> bool:
        """Whether the session's keys are those of key record ``version``."""
        held = 0 if self._unlocked is None else self._unlocked.version
        return version == held

    async def _pull_all(self, conn: Connection, outgoing: Outgoing, result: PassResult) -> int:
        # The next pages are pulled and parsed while the store writes the last ones, and the
        # pages that arrived meanwhile are applied together (sync/device/pages.py).
        reader = PageReader(conn, self._limits.max_page_changes)
        reader.start(self._state.cursor)
        pulled = 0
        try:
            while True:
                frames = await reader.take()
                more = await self._apply_frames(conn, outgoing, frames, result)
                pulled += sum(len(frame.changes) for frame in frames)
                if not more:
                    return pulled
                if not reader.continues_from(self._state.cursor):
                    reader.start(self._state.cursor)
        finally:
            reader.close()

    async def _apply_frame(
        self, conn: Connection, outgoing: Outgoing, frame: Changes, result: PassResult
    ) -> bool:
        """Apply one frame by the cursor rule; True if a pull should follow."""
        return await self._apply_frames(conn, outgoing, [frame], result)

    async def _apply_frames(
        self, conn: Connection, outgoing: Outgoing, frames: Sequence[Changes], result: PassResult
    ) -> bool:
        """Apply consecutive frames by the cursor rule, in one transaction; True if a pull
        should follow."""
        plan = plan_pages(self._state.cursor, frames)
        if plan.verdict is Verdict.STALE:
            return False
        if plan.verdict is Verdict.GAP:
            return True
        drift_ms = self._limits.max_drift_ms  # the server's, if tighter than ours
        changes: Sequence[Change] = plan.apply
        if self._encrypted or self._unlocked is not None or _any_sealed(changes):
            changes = await self._open(conn, changes)
        if len(changes) <= INLINE_CHANGES:
            # A live edit or two: write here. A worker thread would add two thread wake-ups
            # (about a millisecond each on an idle machine) to every change's way to the screen.
            report = self._store.apply_changes(changes, plan.new_cursor, max_drift_ms=drift_ms)
        else:
            report = await asyncio.to_thread(
                self._store.apply_changes, changes, plan.new_cursor, max_drift_ms=drift_ms
            )
        self._state.cursor = report.cursor
        if self._unlocked is not None:
            self._confirms.note(changes)
        if report.mismatches:  # kept as sync problems by the store, with the cursor
            self._tell_refused([problem.message for problem in report.mismatches])
        self._index_due |= report.search_backlog
        self._events.applied(report)
        if report.wrote_ops:
            await self._push(outgoing, result)
        await self._flush_applied(conn, outgoing, force=False)
        if report.skew_ahead_ms is not None:
            minutes = max(1, report.skew_ahead_ms // 60_000)
            raise ClockBehind(
                f"A change from another device is stamped {minutes} min ahead of this "
                "computer's clock: check the date and time. Retrying in a minute."
            )
        return plan.pull_next

    async def _flush_applied(self, conn: Connection, outgoing: Outgoing, *, force: bool) -> None:
        now = wall_clock_ms()
        if not self._state.applied_due(now, force=force):
            return
        # "applied" also promises every op written before it was pushed and acknowledged.
        if await asyncio.to_thread(self._store.outbox_count) > len(outgoing.held):
            return
        await conn.send(Applied(self._state.cursor))
        self._state.applied_sent_now(now)
        await self._confirm_deleted(conn)

    async def _start_confirming(self) -> None:
        """A new connection of an encrypted account: every conversation deleted here is to be
        confirmed again (12.12; the frame has no reply, so one lost is said again now)."""
        if self._unlocked is None:
            self._confirms.start(())
            return
        deleted = await asyncio.to_thread(self._store.deleted_stamps)
        self._confirms.start(deleted)

    async def _confirm_deleted(self, conn: Connection) -> None:
        """Confirm, after ``applied`` (everything up to the cursor applied, and everything
        that caused pushed), the pending conversations this device holds as deleted."""
        pending = self._confirms.pending
        if self._unlocked is None or not pending:
            return
        deleted = await asyncio.to_thread(self._store.deleted_stamps, pending)
        for frame in self._confirms.frames(deleted, self._state.cursor):
            await conn.send(frame)
        stale = self._confirms.stale(deleted)
        if stale:  # pushed on the next round; confirmed once it comes back
            await asyncio.to_thread(self._store.resend_conversations, stale)
            self._wake.set()

    async def _up_to_date(self, outgoing: Outgoing, *, activity: bool = True) -> None:
        """Report "up to date" once the outbox is empty: on reaching that state, and after
        changes went either way (remembered in the store at most once a second). An idle live
        connection writes nothing: a desktop app must not touch the disk every second."""
        if self.status.state is SyncState.UP_TO_DATE and not activity:
            return
        pending = await asyncio.to_thread(self._store.outbox_count)
        if pending > len(outgoing.held):
            return
        now = wall_clock_ms()
        if (
            self.status.state is SyncState.UP_TO_DATE
            and now - (self.status.last_synced_ms or 0) < APPLIED_EVERY_MS
        ):
            return
        await asyncio.to_thread(self._store.mark_synced, now)
        message = "Up to date" if not outgoing.held else _CLOCK_AHEAD
        await self._report(SyncState.UP_TO_DATE, message, pending=pending, last_synced_ms=now)

    async def _index_search(self) -> None:
        """Index for search the messages large pages left out (store/backlog.py), once they
        are all applied and "up to date" is said: one short write after another on a worker,
        so a local edit never waits long; search finds them meanwhile, only more slowly."""
        self._index_due = False
        while await asyncio.to_thread(self._store.index_search_backlog) > 0:
            pass

    async def _push(self, outgoing: Outgoing, result: PassResult) -> int:
        if self._restart:  # new keys are kept: this session's would seal what a rotation queued
            raise EncryptionChanged("the account's keys changed")
        outcome = await outgoing.push_all()
        if outcome.encryption_changed:
            # encrypted_account / not_encrypted: the ops stay queued for the next session.
            raise EncryptionChanged("the server says the account's encryption changed")
        self._after_push(outcome)
        result.rejected.extend(outcome.rejected)
        return outcome.sent

    def _after_push(self, outcome: PushOutcome) -> None:
        if outcome.clock_ahead and self._state.hold(wall_clock_ms(), self._jitter()):
            self._events.notice(_CLOCK_AHEAD)
        for code, message in outcome.rejected:
            self._events.notice(f"A change could not be synced ({code}): {message}")

    # ----------------------------------------------------------------- reporting and waiting

    async def _report(self, state: SyncState, message: str, **fields: object) -> None:
        if "pending" not in fields:
            fields["pending"] = await asyncio.to_thread(self._store.outbox_count)
        fields.setdefault("retry_in_ms", None)
        fields.setdefault("locked", False)
        fields["encrypted"] = self._encrypted
        self.status = self.status.with_(state=state, message=message, cursor=self._state.cursor,
                                        **fields)  # fmt: skip
        self._events.status(self.status)

    async def _sleep(self, delay_ms: int | None) -> None:
        self._wake.clear()
        timeout = None if delay_ms is None else delay_ms / 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()


_CLOCK_AHEAD = (
    "A change was not synced because this computer's clock is ahead of the sync server's: "
    "check the date and time. It is kept and sent again in a minute."
)

_NEEDS_USER = {
    ErrorCode.UNSUPPORTED_PROTOCOL: "The sync server speaks a newer protocol: update SnapAsk.",
    ErrorCode.DEVICE_MISMATCH: "The sync server knows this device by another token: sign in again.",
    ErrorCode.UNAUTHORIZED: "The sync server no longer accepts this device: sign in again.",
    ErrorCode.REPLACED: "Another copy of SnapAsk is syncing as this device; this one stopped.",
    ErrorCode.ENCRYPTION_REQUIRED: (
        "This account is end-to-end encrypted and this SnapAsk cannot read it: update SnapAsk."
    ),
}

_CLOSE_CODES = {
    CloseCode.UNSUPPORTED_PROTOCOL: ErrorCode.UNSUPPORTED_PROTOCOL,
    CloseCode.UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
    CloseCode.DEVICE_MISMATCH: ErrorCode.DEVICE_MISMATCH,
    CloseCode.REPLACED: ErrorCode.REPLACED,
    CloseCode.ENCRYPTION_REQUIRED: ErrorCode.ENCRYPTION_REQUIRED,
}


def _needs_user(error: Exception) -> str | None:
    """The sentence to show when ``error`` needs the user, None when a retry may help."""
    if isinstance(error, NeedsUser):
        return str(error)
    code: str | None = None
    if isinstance(error, ServerError):
        code = error.frame.code
    elif isinstance(error, Closed) and error.code in _CLOSE_CODES:
        code = _CLOSE_CODES[CloseCode(error.code)]
    return _NEEDS_USER.get(ErrorCode(code)) if code in _NEEDS_USER else None


_LOCKED = (
    "Locked: this account is end-to-end encrypted. Enter the sync passphrase to sync this device."
)
_ALREADY_ENCRYPTED = (
    "This account is already end-to-end encrypted: unlock this device with its sync "
    "passphrase instead."
)
_KEYS_RACED = (
    "The account's keys were changed on another device meanwhile, twice; nothing was changed "
    "here: try again."
)
_NOT_ENCRYPTED_NOW = (
    "The sync server says this account is not end-to-end encrypted, but this device holds its "
    "keys: nothing is sent in clear. If the server was reset on purpose, sign out and in again."
)


def _any_sealed(changes: Sequence[Change]) -> bool:
    return any(isinstance(c.payload, SealedRecord) for c in changes)


def _op_of(changes: Sequence[Change], seq: int) -> str:
    return next((c.op_id for c in changes if c.seq == seq), str(uuid4()))


def _refusal_code(error: Exception) -> str:
    from snapask_desktop.sync import e2ee

    return e2ee.refusal_code(error)


async def _download(conn: Connection, name: str) -> bytes | None:
    """A blob's bytes from the server, or None if it has none under ``name``."""
    parts: list[bytes] = []
    offset, size = 0, None
    while size is None or offset < size:
        reply = await conn.request(BlobGet(name, offset))
        if isinstance(reply, BlobMissing):
            return None
        assert isinstance(reply, Blob)
        size = reply.size
        parts.append(reply.data)
        offset += len(reply.data)
    return b"".join(parts)


def _minutes(ms: int) -> str:
    minutes = max(1, round(ms / 60_000))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def _offline_text(error: Exception) -> str:
    if isinstance(error, Refused):
        return f"The sync server is busy ({error}); retrying."
    if isinstance(error, Closed | ServerError):
        return "Connection to the sync server lost; retrying."
    return "Offline: the sync server cannot be reached; retrying."
