"""Limits shared by every instance through Redis: connections per user, sign-in attempts and
each device's frame budget.

One instance alone counts only its own connections and attempts, so with N instances a user
could hold N times the connection cap and a guesser would get N times the sign-in rate. Here
each check is one Lua script, so it is atomic across instances, and every time is Redis's own
(``TIME``), so the instances' clocks do not matter.

Redis is a helper, not a dependency: every call is bounded in time and returns None when
Redis does not answer, and the caller then falls back to its own per-instance limits (the
state before this module). Nothing here needs to survive a Redis restart: connection claims
are re-made by their instances within a refresh round, and a bucket that is lost is only a
bucket that starts full.

The frame rate stays a local token bucket per connection (a Redis round trip per frame would
add latency to every push), but a device's bucket now follows the device: it is saved when
its connection ends and taken up by its next one on any instance, so reconnecting does not
buy a fresh burst.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from snapask_desktop.sync.ratelimit import BucketRule, BucketState

log = logging.getLogger("snapask.server")

_PREFIX = "snapask:"
_KNOWN_PER_USER = 16  # addresses remembered per user name (as signin_limits does)
_KNOWN_TTL_MS = 90 * 24 * 3600 * 1000

# Redis's clock in ms; scripts that call TIME write only through effects replication (Redis 5+).
_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# A claim is per device, not per connection: a device whose instance died reconnects through
# another one and takes its own claim over (its old one would otherwise count against the cap
# until it lapsed, refusing the device for up to a TTL). The owner hash names the connection
# that holds each device's claim, so the old connection's release cannot drop the new claim.
# KEYS[1] the user's claims (device -> expiry), KEYS[2] owners (device -> connection);
# ARGV device, connection, limit, ttl_ms. 1 claimed, 0 full.
_CLAIM = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""
)

# KEYS as _CLAIM; ARGV device, connection. Drops the claim only if this connection holds it.
_RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 0
"""

# KEYS as _CLAIM; ARGV ttl_ms, devices with a connection still open on this instance.
_REFRESH = (
    _NOW
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 0
"""
)

# KEYS: the bucket keys, the per-name one last, then the user's known addresses.
# ARGV: address, then (rate per ms, burst) per bucket. 0: tokens spent; else the wait in ms.
# Every bucket is checked before any is spent, so a refused attempt leaves no trace; a bucket
# expires once it would be full again, exactly as if it had never been used.
_SIGN_IN = (
    _NOW
    + """
local buckets = #KEYS - 1
local known = redis.call('ZSCORE', KEYS[#KEYS], ARGV[1])
local wait, tokens = 0, {}
for i = 1, buckets do
  if not (i == buckets and known) then
    local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    local v = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
    local have = tonumber(v[1]) or burst
    local since = math.max(0, now - (tonumber(v[2]) or now))
    have = math.min(burst, have + since * rate)
    if have < 1 then wait = math.max(wait, math.ceil((1 - have) / rate)) end
    tokens[i] = have
  end
end
if wait > 0 then return wait end
for i = 1, buckets do
  if tokens[i] then
    local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    local left = tokens[i] - 1
    redis.call('HSET', KEYS[i], 'tokens', tostring(left), 'ts', now)
    redis.call('PEXPIRE', KEYS[i], math.max(1, math.ceil((burst - left) / rate)))
  end
end
return 0
"""
)

# KEYS[1] the user's known addresses; ARGV address, how many to keep, ttl_ms.
_KNOWN = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
"""
)


class SharedLimits:
    """The Redis side of the limits; every method answers None when Redis does not."""

    def __init__(self, url: str, *, timeout_s: float = 0.5, claim_ttl_s: float = 30.0) -> None:
        self.claim_ttl_ms = int(claim_ttl_s * 1000)
        self.timeout_s = timeout_s
        self._client = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
        )
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._refresh = self._client.register_script(_REFRESH)
        self._sign_in = self._client.register_script(_SIGN_IN)
        self._known = self._client.register_script(_KNOWN)

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def claim_connection(
        self, user_id: int, device_id: str, connection: str, limit: int
    ) -> bool | None:
        """Count the device's new connection against the user's ``limit`` across instances."""
        args = [device_id, connection, limit, self.claim_ttl_ms]
        got = await self._call(self._claim, _claim_keys(user_id), args)
        return None if got is None else bool(got)

    async def release_connection(self, user_id: int, device_id: str, connection: str) -> None:
        """The connection ended (a lost release expires after the claim's TTL)."""
        await self._call(self._release, _claim_keys(user_id), [device_id, connection])

    async def refresh_connections(self, devices: dict[int, list[str]]) -> None:
        """Keep the devices connected to this instance counted (call well within the TTL)."""
        for user_id, device_ids in devices.items():
            args = [self.claim_ttl_ms, *device_ids]
            if await self._call(self._refresh, _claim_keys(user_id), args) is None:
                return

    async def admit_sign_in(
        self, name: str, address: str, rules: tuple[BucketRule, BucketRule, BucketRule]
    ) -> int | None:
        """0 (tokens spent) or the wait in ms, like ``SignInLimiter.admit`` but shared."""
        key = name.casefold()
        keys = [
            f"{_PREFIX}signin:addr:{address}",
            f"{_PREFIX}signin:name-addr:{key}\n{address}",
            f"{_PREFIX}signin:name:{key}",
            _known(key),
        ]
        args: list[object] = [address]
        for rule in rules:
            args += [rule.per_s / 1000.0, rule.burst]
        got = await self._call(self._sign_in, keys, args)
        return None if got is None else int(got)

    async def signed_in(self, name: str, address: str) -> None:
        """Remember that ``address`` signed in as ``name`` (it skips the per-name bucket)."""
        keys = [_known(name.casefold())]
        await self._call(self._known, keys, [address, _KNOWN_PER_USER, _KNOWN_TTL_MS])

    async def load_frames(self, user_id: int, device_id: str) -> BucketState | None:
        """The device's frame bucket as its last connection left it (None: start full)."""
        got = await self._call(
            lambda keys, args: self._client.hmget(keys[0], "tokens", "at"),
            [_frames(user_id, device_id)],
            [],
        )
        if not got or got[0] is None or got[1] is None:
            return None
        try:
            return BucketState(float(got[0]), int(got[1]))
        except ValueError:
            return None  # not ours to trust: start full

    async def save_frames(
        self, user_id: int, device_id: str, state: BucketState, full_in_ms: int
    ) -> None:
        """Leave the device's frame bucket for its next connection (gone once full again)."""
        if full_in_ms <= 0:
            return

        async def save(keys: list[str], args: list[object]) -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(keys[0], mapping={"tokens": repr(state.tokens), "at": state.at_ms})
                pipe.pexpire(keys[0], full_in_ms)
                await pipe.execute()

        await self._call(save, [_frames(user_id, device_id)], [])

    async def _call(
        self, fn: Callable[..., Awaitable[Any]], keys: list[str], args: list[Any]
    ) -> Any:
        try:
            # asyncio.timeout, not wait_for: no task of its own for every call (several a reconnect)
            async with asyncio.timeout(2 * self.timeout_s):
                return await fn(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("shared limits: redis did not answer (%s); local limits apply", exc)
            return None


def _claim_keys(user_id: int) -> list[str]:
    return [f"{_PREFIX}conns:{user_id}", f"{_PREFIX}conn-owners:{user_id}"]


def _known(name_key: str) -> str:
    return f"{_PREFIX}signin:known:{name_key}"


def _frames(user_id: int, device_id: str) -> str:
    return f"{_PREFIX}frames:{user_id}:{device_id}"
