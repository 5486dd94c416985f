"""Live fanout across server instances through Redis pub/sub (the ``Fanout`` protocol).

Redis carries only what is happening now; the database is the log. So this fanout promises
little and says when it broke its promise: a frame may be lost while Redis is down or a
subscription is being remade, and every time the subscription is (re)made, ``on_resync`` is
called so the server re-reads the log for its connections from their cursors. While Redis is
down, ``healthy`` is False and the server polls the log instead (server/app.py).

Frames for local connections are delivered at once, in process, before they go to Redis, so
devices on one instance see each other as fast as with the in-process fanout; a message from
Redis that this instance published itself is skipped.

redis-py's asyncio pub/sub does not notice a half-open socket (its own health-check pongs are
swallowed, so nothing waits for them), and does not remake a subscription that failed: the read
loop below pings every ``health_check_s``, counts Redis as gone after three silent rounds, and
starts over with a new connection on any error. Publishing never waits on Redis: one task sends
queued frames in order, each bounded in time, so a push is never held up by a frozen Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from snapask_desktop.server.fanout import Subscriber

log = logging.getLogger("snapask.server")

CHANNEL_PREFIX = "snapask:user:"
NOTICE_CHANNEL = "snapask:notices"  # instance to instance: "replaced …"
_RETRY_FIRST_S = 0.2
_RETRY_MAX_S = 5.0
_OUTBOX_LIMIT = 10_000  # frames waiting to be published; past it Redis counts as broken
_PUBLISH_BATCH = 500  # frames published in one pipeline at most
_ALIVE = "snapask-alive"  # our own ping: redis-py hides its health-check pongs


def channel(user_id: int) -> str:
    """The Redis channel of one user's live frames."""
    return f"{CHANNEL_PREFIX}{user_id}"


def encode_message(instance: str, frame: str) -> str:
    """What goes over Redis: the publishing instance, a newline, the frame."""
    return f"{instance}\n{frame}"


def decode_message(data: str) -> tuple[str, str] | None:
    """(instance, frame) of a message, or None if it is not one of ours."""
    instance, sep, frame = data.partition("\n")
    if not sep or not instance or not frame:
        return None
    return instance, frame


class RedisFanout:
    """Fanout to local subscribers and, through Redis, to every other instance's."""

    def __init__(
        self,
        url: str,
        *,
        instance: str | None = None,
        on_resync: Callable[[], Awaitable[None]] | None = None,
        on_notice: Callable[[str], None] | None = None,
        health_check_s: float = 2.0,
    ) -> None:
        self.url = url
        self.instance = instance or uuid.uuid4().hex[:12]
        self.on_resync = on_resync
        self.on_notice = on_notice
        self.health_check_s = health_check_s
        self.healthy = False
        self._local: dict[int, set[Subscriber]] = defaultdict(set)
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # the set of subscribed users changed
        self._connected = asyncio.Event()
        self._subscribed: set[int] = set()  # users whose channel we asked for (and not dropped)
        self._confirmed: set[int] = set()  # users whose subscription Redis confirmed
        self._ready: dict[int, asyncio.Event] = {}  # set once Redis confirmed the subscription
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()  # (channel, message)
        self._publisher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ Fanout

    async def publish(self, user_id: int, frame: str, committed_at: float) -> None:
        """Deliver locally now; queue for the other instances (never waits on Redis)."""
        self._deliver(user_id, frame, committed_at)
        if not self.healthy:
            return  # the other instances re-read the log when Redis is back
        if self._outbox.qsize() >= _OUTBOX_LIMIT:
            self._broken(f"{_OUTBOX_LIMIT} frames wait for Redis; dropping")
            return
        self._outbox.put_nowait((channel(user_id), encode_message(self.instance, frame)))

    def tell_others(self, notice: str) -> None:
        """Send a one-line notice to the other instances' ``on_notice`` (lost if Redis is down)."""
        if self.healthy and self._outbox.qsize() < _OUTBOX_LIMIT:
            self._outbox.put_nowait((NOTICE_CHANNEL, encode_message(self.instance, notice)))

    def subscribe(self, user_id: int, subscriber: Subscriber) -> None:
        users = self._local[user_id]
        users.add(subscriber)
        if len(users) == 1:
            ready = self._ready[user_id] = asyncio.Event()
            # The user's last connection here may have left a moment ago and the channel was
            # never dropped: the subscription still holds, and no new confirmation will come.
            if user_id in self._subscribed and user_id in self._confirmed:
                ready.set()
            self._changed.set()

    def unsubscribe(self, user_id: int, subscriber: Subscriber) -> None:
        users = self._local.get(user_id)
        if users is None:
            return
        users.discard(subscriber)
        if not users:
            del self._local[user_id]
            self._ready.pop(user_id, None)
            self._changed.set()

    async def ready(self, user_id: int, timeout_s: float) -> None:
        """Wait until Redis confirmed the user's subscription (not at all while Redis is down:
        the log catch-up covers that time)."""
        event = self._ready.get(user_id)
        if event is None or not self.healthy:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, wait_s: float = 0.0) -> None:
        """Start the read loop; wait up to ``wait_s`` for the first subscription to be made."""
        self._task = asyncio.create_task(self._run())
        self._publisher = asyncio.create_task(self._publish_loop())
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), wait_s)

    async def stop(self) -> None:
        """Stop the read loop and close the connections."""
        for task in (self._task, self._publisher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close()

    async def ping(self) -> bool:
        """Whether Redis answers now (for /healthz)."""
        if self._client is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), self.health_check_s))
        except (RedisError, OSError, TimeoutError):
            return False

    # ------------------------------------------------------------------ internals

    def _deliver(self, user_id: int, frame: str, committed_at: float) -> None:
        for subscriber in tuple(self._local.get(user_id, ())):
            subscriber.deliver(frame, committed_at)

    async def _publish_loop(self) -> None:
        # One task publishes, so frames leave in the order they were committed; whatever queued
        # meanwhile goes in one pipeline, one round trip (a reconnect storm queues hundreds of
        # "replaced" notices at once, each a round trip before).
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < _PUBLISH_BATCH:
                batch.append(self._outbox.get_nowait())
            client = self._client
            if client is None or not self.healthy:
                continue
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for target, message in batch:
                        pipe.publish(target, message)
                    await asyncio.wait_for(pipe.execute(), 3 * self.health_check_s)
            except (RedisError, OSError, TimeoutError) as exc:
                self._broken(f"publish failed: {type(exc).__name__}: {exc}")

    def _broken(self, why: str) -> None:
        if self.healthy:
            log.warning("redis fanout of instance %s: %s", self.instance, why)
        self.healthy = False

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                # A frozen server accepts the connection and answers nothing: bounded.
                await asyncio.wait_for(self._connect(), 3 * self.health_check_s + 2)
                failures = 0
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken socket shows up as many different errors
                self._broken(f"{type(exc).__name__}: {exc}")
                failures += 1
            await self._close()
            delay = min(_RETRY_MAX_S, _RETRY_FIRST_S * 2 ** min(failures, 10))
            await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def _connect(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_keepalive=True,
            socket_connect_timeout=self.health_check_s,
        )
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(NOTICE_CHANNEL)  # also makes the connection at once
        self._subscribed, self._confirmed = set(), set()
        await self._sync_subscriptions()
        was = self.healthy
        self.healthy = True
        self._connected.set()
        log.info("redis fanout of instance %s: subscribed%s", self.instance,
                 "" if was else " (re-reading the log for open connections)")  # fmt: skip
        if self.on_resync is not None:
            # Anything published while we were not subscribed is in the log, not in Redis.
            await self.on_resync()

    async def _sync_subscriptions(self) -> None:
        assert self._pubsub is not None
        self._changed.clear()
        wanted = set(self._local)
        new, gone = wanted - self._subscribed, self._subscribed - wanted
        self._subscribed = wanted  # before the awaits: subscribe() may run meanwhile
        if new:
            await self._pubsub.subscribe(*(channel(u) for u in new))
        if gone:
            await self._pubsub.unsubscribe(*(channel(u) for u in gone))

    async def _read(self) -> None:
        assert self._pubsub is not None
        loop = asyncio.get_running_loop()
        last_heard = last_ping = loop.time()
        while True:
            if self._changed.is_set():
                await self._sync_subscriptions()
            now = loop.time()
            if now - last_ping >= self.health_check_s:
                last_ping = now
                await self._pubsub.ping(_ALIVE)
            if now - last_heard > 3 * self.health_check_s:
                # A half-open socket: writes succeed, nothing ever comes back.
                raise ConnectionError(f"no answer from Redis for {now - last_heard:.1f} s")
            # Short waits: a new user's subscription is sent within 0.1 s.
            message = await self._pubsub.get_message(timeout=min(0.1, self.health_check_s))
            if message is None:
                continue
            last_heard = loop.time()
            kind = message.get("type")
            user = str(message.get("channel")).removeprefix(CHANNEL_PREFIX)
            if kind in ("subscribe", "unsubscribe") and user.isdigit():
                self._confirmed_change(int(user), subscribed=kind == "subscribe")
            if kind != "message":
                continue
            decoded = decode_message(str(message["data"]))
            if decoded is None or decoded[0] == self.instance:
                continue
            if message.get("channel") == NOTICE_CHANNEL:
                if self.on_notice is not None:
                    self.on_notice(decoded[1])
            elif user.isdigit():
                # Latency is measured from here: the publisher's clock is another process's.
                self._deliver(int(user), decoded[1], time.perf_counter())

    def _confirmed_change(self, user_id: int, *, subscribed: bool) -> None:
        if not subscribed:
            self._confirmed.discard(user_id)
            return
        self._confirmed.add(user_id)
        ready = self._ready.get(user_id)
        if ready is not None:
            ready.set()

    async def _close(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose()
