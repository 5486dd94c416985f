"""Live fanout through a real Redis between two "instances" (two RedisFanouts in one process).

Each test runs its own redis-server so it can be killed, restarted and frozen (SIGSTOP: the
socket stays open and silent, the half-open case redis-py only notices by pinging).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from snapask_desktop.server.redis_fanout import RedisFanout, decode_message, encode_message
from tests.support.redis_server import RedisServer, redis_server


class Inbox:
    """A subscriber that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def deliver(self, frame: str, committed_at: float) -> None:
        self.frames.append(frame)


async def _until(condition: Callable[[], bool], timeout_s: float = 15.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def _run(redis: RedisServer, body: Callable[[RedisFanout, RedisFanout, list[str]],
                                            Awaitable[None]]) -> None:  # fmt: skip
    async def main() -> None:
        resyncs: list[str] = []

        def resync_of(name: str) -> Callable[[], Awaitable[None]]:
            async def resync() -> None:
                resyncs.append(name)

            return resync

        a = RedisFanout(redis.url, instance="a", on_resync=resync_of("a"), health_check_s=0.5)
        b = RedisFanout(redis.url, instance="b", on_resync=resync_of("b"), health_check_s=0.5)
        await a.start(wait_s=10)
        await b.start(wait_s=10)
        try:
            await body(a, b, resyncs)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(main())


def test_messages_carry_the_instance_and_the_frame() -> None:
    assert decode_message(encode_message("a1", '{"type":"changes"}')) == (
        "a1",
        '{"type":"changes"}',
    )
    assert decode_message("no newline") is None
    assert decode_message("\n{}") is None


def test_a_frame_reaches_the_other_instance_once_and_local_ones_at_once() -> None:
    async def body(a: RedisFanout, b: RedisFanout, resyncs: list[str]) -> None:
        local, remote, other_user = Inbox(), Inbox(), Inbox()
        a.subscribe(7, local)
        b.subscribe(7, remote)
        b.subscribe(8, other_user)
        await asyncio.sleep(0.7)  # the read loops subscribe the new channels
        await a.publish(7, "frame-1", time.perf_counter())
        assert local.frames == ["frame-1"]  # in process, before Redis
        await _until(lambda: remote.frames == ["frame-1"])
        await asyncio.sleep(0.3)
        assert local.frames == ["frame-1"]  # its own message from Redis is skipped
        assert other_user.frames == []
        b.unsubscribe(7, remote)
        await asyncio.sleep(0.7)
        await a.publish(7, "frame-2", time.perf_counter())
        await asyncio.sleep(0.3)
        assert remote.frames == ["frame-1"]
        assert sorted(resyncs) == ["a", "b"]  # once each, at the first subscription

    with redis_server() as redis:
        _run(redis, body)


def test_a_user_back_at_once_is_ready_at_once_and_gets_frames() -> None:
    # The last connection of a user leaves and a new one comes (a reconnect) before the read
    # loop dropped the channel: no new confirmation will come, so the subscription that still
    # holds makes it ready — the device's welcome used to wait the whole second.
    async def body(a: RedisFanout, b: RedisFanout, _resyncs: list[str]) -> None:
        old, new = Inbox(), Inbox()
        b.subscribe(7, old)
        await b.ready(7, timeout_s=10)
        b.unsubscribe(7, old)
        b.subscribe(7, new)
        waited = await asyncio.wait_for(_ready_within(b, 7), 0.9)
        assert waited
        await asyncio.sleep(0.3)  # nothing was dropped: the channel still delivers
        await a.publish(7, "frame-1", time.perf_counter())
        await _until(lambda: new.frames == ["frame-1"])
        # Gone for good, then back: a fresh subscription, confirmed again.
        b.unsubscribe(7, new)
        await asyncio.sleep(0.5)
        b.subscribe(7, old)
        assert await asyncio.wait_for(_ready_within(b, 7), 5)

    with redis_server() as redis:
        _run(redis, body)


async def _ready_within(fanout: RedisFanout, user_id: int) -> bool:
    await fanout.ready(user_id, timeout_s=30)
    return True


def test_after_a_redis_restart_the_subscription_is_remade_and_the_log_reread() -> None:
    with redis_server() as redis:

        async def body(a: RedisFanout, b: RedisFanout, resyncs: list[str]) -> None:
            remote = Inbox()
            b.subscribe(7, remote)
            await asyncio.sleep(0.7)
            redis.stop()
            await a.publish(7, "lost", time.perf_counter())  # no Redis: lost for b
            await _until(lambda: not b.healthy)
            assert not a.healthy and not await a.ping()
            redis.start()  # the same port, empty
            await _until(lambda: a.healthy and b.healthy)
            assert resyncs.count("b") == 2  # b re-reads the log for its connections
            await asyncio.sleep(0.7)
            await a.publish(7, "after", time.perf_counter())
            await _until(lambda: remote.frames == ["after"])

        _run(redis, body)


def test_a_silent_half_open_redis_is_noticed_by_the_health_check() -> None:
    with redis_server() as redis:

        async def body(a: RedisFanout, b: RedisFanout, resyncs: list[str]) -> None:
            remote = Inbox()
            b.subscribe(7, remote)
            await asyncio.sleep(0.7)
            redis.freeze()
            local = Inbox()
            a.subscribe(9, local)
            for i in range(50):  # a push is never held up by a frozen Redis
                await asyncio.wait_for(a.publish(9, f"f{i}", time.perf_counter()), 0.05)
            assert len(local.frames) == 50
            noticed = await _until(lambda: not b.healthy, timeout_s=20)
            assert noticed < 10, noticed
            redis.thaw()
            await _until(lambda: b.healthy, timeout_s=20)
            await asyncio.sleep(0.7)
            await a.publish(7, "back", time.perf_counter())
            await _until(lambda: "back" in remote.frames)
            assert resyncs.count("b") >= 2

        _run(redis, body)
