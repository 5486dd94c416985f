"""Sign-in attempt limits (pure: the caller passes the time).

Three kinds of token bucket: per address, per (user name, address) and per user name from
any address. A request is admitted only if every bucket that applies has a token, and only then
are tokens spent and buckets created: a refused request leaves no trace, so junk requests
cannot push a drained bucket out of the table. Buckets are forgotten only once they are full
again (exactly as if they had never been used). Addresses a user signed in from successfully
skip the per-name bucket, so someone guessing a user's password from elsewhere cannot keep
that user from signing in at home.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from snapask_desktop.sync.ratelimit import TokenBucket

# Addresses remembered per user, and users remembered, for the known-address rule.
_KNOWN_PER_USER = 16
_KNOWN_USERS = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt was refused and when to try again."""

    wait_ms: int
    busy: bool  # the server tracks too many recent attempts (not this requester's fault)


class BucketTable:
    """Token buckets by key, at most ``capacity`` of them; only full ones are forgotten."""

    def __init__(self, rate_per_s: float, burst: int, capacity: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.capacity = capacity
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._next_sweep_ms = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def wait_ms(self, key: Hashable, now_ms: int) -> int:
        """0 if ``key`` may spend a token now (an unseen key may), else the wait."""
        bucket = self._buckets.get(key)
        return 0 if bucket is None else bucket.wait_ms(now_ms)

    def room_in_ms(self, key: Hashable, now_ms: int) -> int:
        """0 if ``key`` has or can get a bucket now, else when the next one will be free."""
        if key in self._buckets or len(self._buckets) < self.capacity:
            return 0
        # A sweep walks the whole table: at most one until a bucket can have refilled, so a
        # flood of new keys against a full table costs no more than refusing them.
        if now_ms >= self._next_sweep_ms:
            self._sweep(now_ms)
            if len(self._buckets) < self.capacity:
                return 0
            soonest = min(b.full_in_ms(now_ms) for b in self._buckets.values())
            self._next_sweep_ms = now_ms + max(1, soonest)
        return self._next_sweep_ms - now_ms

    def spend(self, key: Hashable, now_ms: int) -> None:
        """Take a token (the caller checked ``wait_ms`` and ``room_in_ms``)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(now_ms, self.rate_per_s, self.burst)
        bucket.take(now_ms)

    def _sweep(self, now_ms: int) -> None:
        full = [key for key, b in self._buckets.items() if b.full_in_ms(now_ms) == 0]
        for key in full:
            del self._buckets[key]


class SignInLimiter:
    """Admits sign-in attempts by address, (name, address) and name."""

    def __init__(
        self,
        *,
        per_address: tuple[float, int],
        per_name_address: tuple[float, int],
        per_name: tuple[float, int],
        capacity: int,
    ) -> None:
        self.addresses = BucketTable(*per_address, capacity)
        self.name_addresses = BucketTable(*per_name_address, capacity)
        self.names = BucketTable(*per_name, capacity)
        self._known: OrderedDict[str, list[str]] = OrderedDict()

    def admit(self, name: str, address: str, now_ms: int) -> Refusal | None:
        """None (tokens spent) if the attempt may go on, else why not and for how long."""
        key = name.casefold()
        checks: list[tuple[BucketTable, Hashable]] = [
            (self.addresses, address),
            (self.name_addresses, (key, address)),
        ]
        if address not in self._known.get(key, ()):
            checks.append((self.names, key))
        wait = max(table.wait_ms(k, now_ms) for table, k in checks)
        if wait:
            return Refusal(wait, busy=False)
        room = max(table.room_in_ms(k, now_ms) for table, k in checks)
        if room:
            return Refusal(room, busy=True)
        for table, k in checks:
            table.spend(k, now_ms)
        return None

    def succeeded(self, name: str, address: str) -> None:
        """Remember that ``address`` signed in as ``name`` with the right password."""
        key = name.casefold()
        addresses = self._known.pop(key, [])
        if address in addresses:
            addresses.remove(address)
        addresses.append(address)
        self._known[key] = addresses[-_KNOWN_PER_USER:]
        while len(self._known) > _KNOWN_USERS:
            self._known.popitem(last=False)
