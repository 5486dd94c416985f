"""The sync server: WebSocket sync and plain HTTP on one port (docs/server.md).

``SyncServer`` owns the lifecycle, the database, blob store, fanout, metrics, the live sessions
and the worker threads; its HTTP endpoints are ``http_routes.HttpRoutes``. Blocking database
and disk work runs on worker threads: one writer thread (SQLite has one writer anyway, and it
keeps commits in order) and a few readers, so no connection stalls another.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from websockets.asyncio.server import Server, serve

from snapask_desktop.server import accounts, keys
from snapask_desktop.server.accounts import DeviceKey, Identity
from snapask_desktop.server.batched_reads import BatchedReads
from snapask_desktop.server.blobs import BlobStore
from snapask_desktop.server.catchup import behind, read_heads
from snapask_desktop.server.changes import ChangeRow, changes_frame
from snapask_desktop.server.config import ServerConfig
from snapask_desktop.server.database import Database
from snapask_desktop.server.fanout import Fanout, InProcessFanout
from snapask_desktop.server.http_routes import HttpRoutes
from snapask_desktop.server.httpbody import SyncConnection
from snapask_desktop.server.metrics import Metrics
from snapask_desktop.server.passwords import token_hash
from snapask_desktop.server.session import Session
from snapask_desktop.server.tombstones import collect_tombstones
from snapask_desktop.sync.errors import ErrorCode
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.limits import MAX_FRAME_BYTES
from snapask_desktop.sync.protocol import (
    FEATURE_E2EE,
    SUPPORTED_FEATURES,
    Hello,
    Keys,
    Limits,
    OpResult,
    encode_frame,
)

if TYPE_CHECKING:
    from snapask_desktop.server.shared_limits import SharedLimits

log = logging.getLogger("snapask.server")
T = TypeVar("T")
# Connected devices' last-seen times are saved this often (and at connect/disconnect).
_SEEN_INTERVAL_S = 60.0
_HEALTH_TIMEOUT_S = 2.0
_CLAIM_REFRESH_S = 10.0  # a third of a connection claim's life in Redis


class SyncServer:
    """One server instance; ``await start()``, then ``await shutdown()``."""

    def __init__(self, config: ServerConfig, *, fanout: Fanout | None = None) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(config.url)
        self.blobs = BlobStore(self.db, config.blob_dir, config.blob_quota)
        self.fanout: Fanout = fanout or self._make_fanout()
        self.shared = self._make_shared_limits()
        self.metrics = Metrics(config.instance)
        self._on_instance = f" on {config.instance}" if config.instance else ""
        self.limits = Limits(
            frames_per_second=config.frames_per_second,
            frame_burst=config.frame_burst,
            max_drift_ms=config.max_drift_ms,
        )
        # Announced in every welcome; the server serves encrypted accounts (section 12.9).
        self.features: tuple[str, ...] = tuple(dict.fromkeys((*SUPPORTED_FEATURES, FEATURE_E2EE)))
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="snapask-db-write")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="snapask-db-read")
        self._signins = ThreadPoolExecutor(2, thread_name_prefix="snapask-signin")
        # The health check's own thread: queued behind a burst of reads, a ping would miss the
        # balancer's check and take a busy but healthy instance out of service.
        self._health = ThreadPoolExecutor(1, thread_name_prefix="snapask-health")
        # Token checks and heads of many reconnecting devices, one query per batch.
        self._identities: BatchedReads[str, Identity] = BatchedReads(self._read_identities)
        self._accounts: BatchedReads[int, tuple[int, int]] = BatchedReads(self._read_accounts)
        self.sessions: set[Session] = set()
        self._by_user: dict[int, set[Session]] = {}
        self._by_device: dict[DeviceKey, Session] = {}
        self._seen: dict[DeviceKey, int] = {}
        self._applied: dict[DeviceKey, int] = {}
        self.http = HttpRoutes(self)
        self.stopping = False
        self._ws_server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._shutdown_task: asyncio.Future[None] | None = None
        self._drain_cut = asyncio.Event()
        self._empty_wal = False  # an account turned encrypted: empty the SQLite WAL file
        self.port = 0

    def _make_fanout(self) -> Fanout:
        if self.config.redis_url is None:
            return InProcessFanout()
        from snapask_desktop.server.redis_fanout import RedisFanout  # the [server] extra

        return RedisFanout(
            self.config.redis_url,
            instance=self.config.instance or None,
            on_resync=self.catch_up_all,
            on_notice=self._on_notice,
        )

    def _make_shared_limits(self) -> SharedLimits | None:
        if self.config.redis_url is None:
            return None
        from snapask_desktop.server.shared_limits import SharedLimits  # the [server] extra

        return SharedLimits(self.config.redis_url)

    def shared_limits(self) -> SharedLimits | None:
        """The limits shared through Redis while Redis answers; None: this instance's own."""
        if self.shared is None or not getattr(self.fanout, "healthy", False):
            return None
        return self.shared

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._ws_server = await serve(
            self._handle_connection,
            self.config.host,
            self.config.port,
            process_request=self.http.process_request,
            create_connection=SyncConnection,
            max_size=MAX_FRAME_BYTES,
            max_queue=4,
            compression=None,  # JSON pages compress well, but deflate costs CPU per connection
            ping_interval=self.config.ping_interval_s,
            ping_timeout=self.config.ping_timeout_s,
            server_header="snapask-sync-server",
            backlog=2048,  # thousands of devices reconnect at once after a restart
            logger=_websockets_log(),
        )
        self.port = int(self._ws_server.sockets[0].getsockname()[1])
        start_fanout = getattr(self.fanout, "start", None)
        if start_fanout is not None:  # Redis: serve at once, even if Redis is not there yet
            await start_fanout(wait_s=2.0)
        self._tasks = [
            asyncio.create_task(self._housekeeping()),
            asyncio.create_task(self._collector()),
        ]
        log.info("listening on http://%s:%d", self.config.host, self.port)
        return self.port

    async def shutdown(self, drain_s: float | None = None) -> None:
        """Stop accepting (healthz 503), finish frames in progress, close everyone with 1001.

        ``drain_s`` (default: the config's) is how long healthz says 503 before the port
        closes. Calling it again waits for the same shutdown, ending the drain at once.
        """
        if self._shutdown_task is not None:
            self._drain_cut.set()
        else:
            drain = self.config.drain_s if drain_s is None else drain_s
            self._shutdown_task = asyncio.ensure_future(self._shutdown(drain))
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self, drain_s: float) -> None:
        self.stopping = True
        log.info("stopping: %d connection(s) open", len(self.sessions))
        if drain_s > 0:  # load balancers see 503 and stop sending
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain_cut.wait(), drain_s)
        assert self._ws_server is not None
        self._ws_server.close(close_connections=False)
        for session in list(self.sessions):
            session.request_shutdown()
        try:
            await asyncio.wait_for(self._ws_server.wait_closed(), timeout=30)
        except TimeoutError:
            log.warning("connections still open after 30 s; dropping them")
            for connection in list(self._ws_server.connections):
                connection.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        stop_fanout = getattr(self.fanout, "stop", None)
        if stop_fanout is not None:
            await stop_fanout()
        if self.shared is not None:
            await self.shared.close()
        await self.run_write(self._flush_progress)
        for pool in (self._writer, self._readers, self._signins, self._health):
            pool.shutdown(wait=True)
        self.db.dispose()
        log.info("stopped")

    # ------------------------------------------------------------------ workers

    async def run_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking write work on the single writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, functools.partial(fn, *args, **kwargs))

    async def run_read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking read work on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, functools.partial(fn, *args, **kwargs))

    async def run_sign_in(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password check on a sign-in thread (scrypt: slow on purpose)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._signins, fn, *args)

    async def identify(self, token: str) -> Identity | None:
        """Who a token belongs to (None: unknown or revoked), read no earlier than this call,
        together with the other token checks asked for meanwhile (server/batched_reads.py)."""
        return await self._identities.get(token_hash(token))

    async def read_account(self, user_id: int) -> tuple[int, int]:
        """The user's head and key record version (0: not encrypted), read no earlier than
        this call (batched like ``identify``)."""
        found = await self._accounts.get(user_id)
        if found is None:
            raise LookupError(f"user {user_id} has no counter row")
        return found

    async def _read_identities(self, hashes: Sequence[str]) -> dict[str, Identity]:
        return await self.run_read(accounts.identities, self.db, hashes)

    async def _read_accounts(self, user_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        return await self.run_read(keys.read_accounts, self.db, user_ids)

    async def put_keys(self, user_id: int, expect_version: int, record: KeyRecord) -> keys.KeysPut:
        """Replace the user's key record (compare and swap; ``keys_conflict`` if stale). The
        first record turns the account encrypted: the clear copies' rows go in its
        transaction, their files and the SQLite WAL's old pages right after. The caller
        answers, then ``publish_keys``."""
        put = await self.run_write(
            keys.put_keys, self.db, user_id, expect_version, record, accounts.now_ms()
        )
        if put.turned_on:
            log.info("user %s turned end-to-end encryption on; clear copies dropped", user_id)
            await self.run_write(self.blobs.discard, user_id, put.dropped_blobs)
            self._empty_wal = True
            try:
                await self._checkpoint()
            except Exception:  # the put is committed; housekeeping empties the WAL later
                log.exception("emptying the SQLite WAL after a turn-on failed")
        return put

    async def _checkpoint(self) -> None:
        """Copy the SQLite WAL into the file; empty it while a turn-on's deleted clear copies
        may still be in it (retried each housekeeping round until no reader is in the way)."""
        truncate = self._empty_wal
        done = await self.run_read(functools.partial(self.db.checkpoint, truncate=truncate))
        if truncate and done:
            self._empty_wal = False

    async def publish_keys(self, user_id: int, put: keys.KeysPut) -> None:
        """Send the new key record live to the user's connections on every instance (the one
        that put it skips it, Session.deliver; one without e2ee is closed with 4005)."""
        live = encode_frame(Keys(put.version, put.record))
        await self.fanout.publish(user_id, live, time.perf_counter())

    # ------------------------------------------------------------------ sessions

    async def _handle_connection(self, ws: SyncConnection) -> None:
        identity = ws.identity
        if identity is None:  # only reachable if a request bypassed the HTTP routes
            await ws.close(1008, "unauthorized")
            return
        session = Session(self, ws, identity)
        self.sessions.add(session)
        self._by_user.setdefault(identity.user_id, set()).add(session)
        self._seen[session.key] = accounts.now_ms()
        self.metrics.connections.inc()
        self.metrics.connections_total.inc()
        address = ws.client_address
        log.info("open: user %s device %s from %s%s", identity.user, identity.device_id, address,
                 self._on_instance)  # fmt: skip
        started = time.monotonic()
        try:
            shared = self.shared_limits()
            if shared is not None:
                session.resume_frames(await shared.load_frames(*session.key))
            await session.run()
        finally:
            await self._release(session, ws.claim)
            self.metrics.connections.dec()
            log.info(
                "close: user %s device %s after %.1f s (code %s)%s",
                identity.user,
                identity.device_id,
                time.monotonic() - started,
                ws.close_code,
                self._on_instance,
            )

    def hello_done(self, session: Session, hello: Hello) -> None:
        """Register a session that said hello: replace an older one, start live frames."""
        old = self._by_device.get(session.key)
        if old is not None and old is not session:
            old.close_with(ErrorCode.REPLACED, "a newer connection of this device was opened")
            self.fanout.unsubscribe(old.user_id, old)
        self._by_device[session.key] = session
        self.fanout.subscribe(session.user_id, session)
        tell_others = getattr(self.fanout, "tell_others", None)
        if tell_others is not None:  # the device's older connection may be on another instance
            tell_others(f"replaced {session.user_id} {session.device_id}")

    def _on_notice(self, notice: str) -> None:
        """A notice from another instance (through Redis)."""
        kind, _, rest = notice.partition(" ")
        user, _, device_id = rest.partition(" ")
        if kind == "replaced" and user.isdigit():
            old = self._by_device.get((int(user), device_id))
            if old is not None:
                old.close_with(ErrorCode.REPLACED, "a newer connection of this device was opened")

    async def dependencies(self) -> dict[str, str]:
        """Each dependency's state for /healthz: "ok", "off" (not used) or "down: why"."""
        try:
            ping = asyncio.get_running_loop().run_in_executor(self._health, self.db.ping)
            await asyncio.wait_for(ping, _HEALTH_TIMEOUT_S)
            database = "ok"
        except TimeoutError:
            database = f"down: no answer within {_HEALTH_TIMEOUT_S:g} s"
        except Exception as exc:
            database = f"down: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if self.config.redis_url is None:
            return {"database": database, "redis": "off"}
        healthy = bool(getattr(self.fanout, "healthy", False))
        return {"database": database, "redis": "ok" if healthy else "down: not answering"}

    async def live_ready(self, user_id: int) -> None:
        """Wait (at most a second) until live frames of the user reach this instance."""
        ready = getattr(self.fanout, "ready", None)
        if ready is not None:
            await ready(user_id, timeout_s=1.0)

    def forget(self, session: Session) -> None:
        """A session ended."""
        self.sessions.discard(session)
        user_sessions = self._by_user.get(session.user_id)
        if user_sessions is not None:
            user_sessions.discard(session)
            if not user_sessions:
                del self._by_user[session.user_id]
        if self._by_device.get(session.key) is session:
            del self._by_device[session.key]
        self.fanout.unsubscribe(session.user_id, session)
        self._seen[session.key] = accounts.now_ms()

    def open_connections(self, user_id: int) -> int:
        """How many sync connections the user has open on this instance."""
        return len(self._by_user.get(user_id, ()))

    async def claim_connection(self, ws: SyncConnection, identity: accounts.Identity) -> bool:
        """Whether the device may open a connection under its user's cap, on every instance."""
        limit = self.config.max_connections_per_user
        if self.open_connections(identity.user_id) >= limit:
            return False
        shared = self.shared_limits()
        if shared is None:
            return True  # Redis is down: each instance counts its own
        claim = uuid.uuid4().hex
        got = await shared.claim_connection(identity.user_id, identity.device_id, claim, limit)
        if got:
            ws.claim = claim
        return got is not False

    async def _release(self, session: Session, claim: str | None) -> None:
        shared = self.shared_limits()
        if shared is None:
            return  # a claim left in Redis expires on its own
        state, full_in_ms = session.frames_left()
        await shared.save_frames(*session.key, state, full_in_ms)
        if claim is not None:
            await shared.release_connection(*session.key, claim)

    async def _refresh_claims(self) -> None:
        shared = self.shared_limits()
        if shared is None:
            return
        devices: dict[int, list[str]] = {}
        for session in self.sessions:
            if session.ws.claim is not None:
                devices.setdefault(session.user_id, []).append(session.key[1])
        await shared.refresh_connections(devices)

    def close_device(
        self, device_id: str, message: str, *, user_id: int | None = None, user: str | None = None
    ) -> None:
        """Close a device's connections (4001) because its token stopped working; ``user_id``
        or ``user`` (a name) limits it to one account's device of that id."""
        for session in list(self.sessions):
            if session.device_id != device_id or user_id not in (None, session.user_id):
                continue
            if user is None or session.identity.user == user:
                session.close_with(ErrorCode.UNAUTHORIZED, message)

    def note_applied(self, key: DeviceKey, cursor: int) -> None:
        """Remember an ``applied`` cursor (saved in the next housekeeping round)."""
        if cursor > self._applied.get(key, -1):
            self._applied[key] = cursor

    def count_results(self, results: tuple[OpResult, ...], applied: int) -> None:
        self.metrics.applied(applied)
        for result in results:
            if result.status == "duplicate":
                self.metrics.ops.labels("duplicate").inc()
            elif result.status == "rejected":
                self.metrics.ops.labels("rejected").inc()
                self.metrics.errors.labels(result.code or "unknown").inc()

    def _flush_progress(self) -> None:
        seen, self._seen = self._seen, {}
        applied, self._applied = self._applied, {}
        accounts.record_progress(self.db, seen, applied)

    async def revoke(self, device_id: str, *, user_id: int | None = None) -> bool:
        """Revoke a device's token and close its connection at once (4001)."""
        done = await self.run_write(accounts.revoke_device, self.db, device_id, user_id=user_id)
        if done:
            self.close_device(device_id, "this device was signed out", user_id=user_id)
        return done

    async def check_tokens(self) -> None:
        """Close connections whose token was revoked or replaced elsewhere (e.g. by the CLI)."""
        if not self.sessions:
            return
        # Only the sessions open before the query: later ones were checked as they connected.
        sessions = list(self.sessions)
        valid = await self.run_read(accounts.valid_tokens, self.db, {s.key for s in sessions})
        for session in sessions:
            if valid.get(session.key) != session.identity.token_hash:
                session.close_with(ErrorCode.UNAUTHORIZED, "this device was signed out")

    async def catch_up_all(self) -> None:
        """Send live connections whatever the log holds beyond what they were sent."""
        by_user: dict[int, list[tuple[object, int]]] = {}
        for session in self.sessions:
            if session.caught_up and not session.closing:
                by_user.setdefault(session.user_id, []).append((session, session.sent_cursor))
        if not by_user:
            return
        heads = await self.run_read(read_heads, self.db, by_user)
        for session in behind(by_user, heads):
            assert isinstance(session, Session)
            await session.catch_up()

    def _catch_up_due(self, last: float, now: float) -> bool:
        if self.config.redis_url is None:
            return False  # one process: live frames cannot be lost on the way
        healthy = bool(getattr(self.fanout, "healthy", True))
        return not healthy or now - last >= self.config.catch_up_interval_s

    async def _housekeeping(self) -> None:
        epoch = -1
        last_seen_round = last_catch_up = last_claims = time.monotonic()
        while True:
            await asyncio.sleep(self.config.housekeeping_interval_s)
            now = time.monotonic()
            for session in list(self.sessions):
                session.check_stall(now)
            if self._catch_up_due(last_catch_up, now):
                last_catch_up = now
                try:
                    await self.catch_up_all()
                except Exception:
                    log.exception("catching live connections up failed")
            try:
                # A full token check only after a sign-in or revocation somewhere.
                current = await self.run_read(accounts.auth_epoch, self.db)
                if current != epoch:
                    epoch = current
                    await self.check_tokens()
                if time.monotonic() - last_seen_round >= _SEEN_INTERVAL_S:
                    last_seen_round = time.monotonic()
                    now = accounts.now_ms()
                    for session in self.sessions:
                        self._seen[session.key] = now
                await self.run_write(self._flush_progress)
                await self._checkpoint()
                if now - last_claims >= _CLAIM_REFRESH_S:
                    last_claims = now
                    await self._refresh_claims()
            except Exception:
                log.exception("housekeeping failed")

    async def collect(self, now: int | None = None) -> int:
        """Collect old deleted conversations (section 10) and send the purges live."""
        await self.run_write(self._flush_progress)  # the latest applied cursors count
        when = accounts.now_ms() if now is None else now
        purges = await self.run_write(self._exclusively, "collect", collect_tombstones, [],
                                      self.db, self.blobs, when)  # fmt: skip
        for user_id, row in purges:
            await self.fanout.publish(user_id, _live_frame(row), time.perf_counter())
        if purges:
            log.info("collected %d deleted conversation(s)", len(purges))
        return len(purges)

    async def collect_uploads(self, now: int | None = None) -> tuple[int, int]:
        """Remove abandoned uploads in progress; returns (uploads, bytes freed)."""
        when = accounts.now_ms() if now is None else now
        removed, freed = await self.run_write(
            self._exclusively, "uploads", self.blobs.collect_abandoned, (0, 0), when
        )
        if removed or freed:
            log.info("removed %d abandoned upload(s), %d bytes", removed, freed)
        return removed, freed

    def _exclusively(self, lease: str, job: Callable[..., T], skipped: T, *args: Any) -> T:
        """Run a singleton job if no other instance runs it now (else ``skipped``)."""
        with self.db.exclusive(lease) as mine:
            if not mine:
                log.info("%s: another instance holds the lease; skipped", lease)
                return skipped
            return job(*args)

    async def _collector(self) -> None:
        while True:
            for job, what in ((self.collect, "tombstone"), (self.collect_uploads, "upload")):
                try:
                    await job()
                except Exception:
                    log.exception("%s collection failed", what)
            await asyncio.sleep(self.config.collect_interval_s)


def _websockets_log() -> logging.Logger:
    """websockets' logger: its warnings and errors, but not its INFO line per connection and
    per HTTP answer (ours says more: user, device, address; and formatting it was ~3 % of a
    reconnect's CPU). Everything when the server logs at DEBUG."""
    ws_log = logging.getLogger("snapask.server.websockets")
    if not ws_log.isEnabledFor(logging.DEBUG):
        ws_log.setLevel(logging.WARNING)
    return ws_log


def _live_frame(row: ChangeRow) -> str:
    return changes_frame(row.seq - 1, row.seq, False, [row])
