"""Limits shared by all instances through Redis (issue 10): the per-user connection cap, the
sign-in attempt buckets and a device's frame budget hold across instances, and with Redis
down each instance falls back to its own count."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import redis as redis_client

from snapask_desktop.server.config import SignInLimits
from snapask_desktop.server.shared_limits import SharedLimits
from snapask_desktop.server.testing import RunningServer
from tests.server.conftest import PASSWORD, Pair, wait_redis
from tests.server.helpers import Conn, connect_device, new_id, refused_status
from tests.support.redis_server import RedisServer


def _device(srv: RunningServer) -> Conn:
    device_id = new_id()
    return connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id)


def _eventually_connects(srv: RunningServer) -> Conn:
    token_device = new_id()
    token = srv.sign_in("ada", PASSWORD, token_device)
    deadline = time.monotonic() + 20
    while True:
        status, _ = _try(srv, token)
        if status is None:
            return connect_device(srv, token, token_device)
        assert time.monotonic() < deadline, "no room after a connection closed"
        time.sleep(0.05)


def _try(srv: RunningServer, token: str) -> tuple[int | None, Any]:
    try:
        return refused_status(srv, token)
    except AssertionError:
        return None, None  # accepted (and closed again)


def test_the_connection_cap_counts_every_instance(make_pair: Callable[..., Pair]) -> None:
    one, two = make_pair(max_connections_per_user=3)
    conns = [_device(one), _device(one), _device(two)]
    # Each instance alone has room; together the user is at the cap.
    for srv in (one, two):
        status, body = refused_status(srv, srv.sign_in("ada", PASSWORD, new_id()))
        assert status == 429 and body["error"] == "rate_limited"
    conns.pop(0).close()  # a connection on instance one ends: room on instance two
    conns.append(_eventually_connects(two))
    for conn in conns:
        conn.close()


def test_a_device_whose_instance_died_reconnects_at_once(
    make_pair: Callable[..., Pair], redis: RedisServer
) -> None:
    _, two = make_pair(max_connections_per_user=2)
    devices = [new_id(), new_id()]
    tokens = [two.sign_in("ada", PASSWORD, device) for device in devices]
    # What a SIGKILLed instance leaves in Redis: its devices' claims, never released.
    client = redis_client.Redis.from_url(redis.url)
    seconds, micros = client.time()
    lapses = seconds * 1000 + micros // 1000 + 30_000
    for device in devices:
        client.zadd("snapask:conns:1", {device: lapses})
        client.hset("snapask:conn-owners:1", device, "a connection of the dead instance")
    # Its devices come back through the other instance at once, not after the claims lapse.
    conns = [connect_device(two, t, d) for t, d in zip(tokens, devices, strict=True)]
    assert refused_status(two, two.sign_in("ada", PASSWORD, new_id()))[0] == 429  # cap holds
    client.close()
    for conn in conns:
        conn.close()


def test_a_replaced_connection_does_not_release_its_successors_claim(
    make_pair: Callable[..., Pair],
) -> None:
    one, two = make_pair(max_connections_per_user=2)
    device_id = new_id()
    token = one.sign_in("ada", PASSWORD, device_id)
    old = connect_device(one, token, device_id)
    new = connect_device(two, token, device_id)  # the device moved: "replaced" closes old
    old.closed(timeout=10)
    time.sleep(0.5)  # the old connection's release has run
    other = _device(one)
    # The device's claim is still counted: a third device is over the cap of two.
    assert refused_status(one, one.sign_in("ada", PASSWORD, new_id()))[0] == 429
    for conn in (new, other):
        conn.close()


def test_with_redis_down_each_instance_counts_its_own(
    make_pair: Callable[..., Pair], redis: RedisServer
) -> None:
    one, two = make_pair(max_connections_per_user=2)
    conns = [_device(one), _device(one)]
    assert refused_status(two, two.sign_in("ada", PASSWORD, new_id()))[0] == 429
    redis.stop()
    for srv in (one, two):
        wait_redis(srv, healthy=False)
    conns.append(_device(two))  # served, as before shared limits (not refused, not stuck)
    assert refused_status(one, one.sign_in("ada", PASSWORD, new_id()))[0] == 429
    for conn in conns:
        conn.close()


def _sign_in(srv: RunningServer, password: str, address: str = "127.0.0.1") -> int:
    body = json.dumps({"user": "ada", "password": password, "device_id": new_id(),
                       "device_name": "probe"})  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(address, 0))  # fmt: skip
    try:
        conn.request("POST", "/v1/devices", body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        conn.close()


def test_sign_in_attempts_count_on_every_instance(make_pair: Callable[..., Pair]) -> None:
    limits = dataclasses.replace(
        SignInLimits(), per_name_address_burst=4, per_name_address_per_s=0.001
    )
    one, two = make_pair(sign_in=limits)
    address = "127.0.7.1"
    assert [_sign_in(one, "guess", address) for _ in range(2)] == [401, 401]
    assert [_sign_in(two, "guess", address) for _ in range(2)] == [401, 401]
    # Four attempts in all: each instance alone would still allow two more.
    assert _sign_in(one, PASSWORD, address) == 429
    assert _sign_in(two, PASSWORD, address) == 429
    assert _sign_in(two, PASSWORD, "127.0.7.2") == 201  # another address is not held up


def test_a_device_takes_its_frame_budget_to_another_instance(
    make_pair: Callable[..., Pair], redis: RedisServer
) -> None:
    one, two = make_pair(frame_burst=20, frames_per_second=1)
    device_id = new_id()
    token = one.sign_in("ada", PASSWORD, device_id)
    first = connect_device(one, token, device_id)  # hello is a frame: 19 left
    assert [first.pull(0)["type"] for _ in range(19)] == ["changes"] * 19
    first.close()
    client = redis_client.Redis.from_url(redis.url)
    deadline = time.monotonic() + 10
    while not client.keys(f"snapask:frames:*:{device_id}"):  # saved as the connection ends
        assert time.monotonic() < deadline, "the first connection's frame budget was not saved"
        time.sleep(0.05)
    client.close()
    # Reconnecting through the other instance does not buy a fresh burst of 20: of six frames
    # one is refused, unless over 14 s passed since the budget was spent.
    second = connect_device(two, token)
    replies = [second.hello(device_id)] + [second.pull(0) for _ in range(5)]
    assert "rate_limited" in [r.get("code") for r in replies], replies
    second.close()


def test_every_call_is_bounded_when_redis_answers_nothing(redis: RedisServer) -> None:
    """A frozen Redis (its socket open, no answer): each call gives up within twice its
    timeout and answers None, so the caller falls back to its own limits."""

    async def main() -> list[float]:
        limits = SharedLimits(redis.url, timeout_s=0.2)
        assert await limits.claim_connection(1, "d", "c", 20) is True  # connected, answering
        redis.freeze()
        try:
            took = []
            for call in (
                lambda: limits.claim_connection(1, "d2", "c2", 20),
                lambda: limits.load_frames(1, "d"),
                lambda: limits.release_connection(1, "d", "c"),
            ):
                started = time.monotonic()
                assert await call() is None
                took.append(time.monotonic() - started)
            return took
        finally:
            redis.thaw()
            await limits.close()

    assert all(0.15 <= t <= 1.0 for t in asyncio.run(main()))
