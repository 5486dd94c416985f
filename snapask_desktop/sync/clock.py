"""Hybrid logical clocks and version vectors: pure logic, no I/O, shared by client and server.

An HLC stamp is packed into one integer, ``wall_ms << 16 | counter``, so stamps sort as
plain integers in SQL and JSON and a tie on the wall clock is broken by the counter.
Version vectors detect concurrency; HLC stamps only order.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
DEFAULT_MAX_DRIFT_MS = 5 * 60 * 1000

VersionVector = dict[str, int]


class ClockDriftError(ValueError):
    """A remote stamp is further ahead of our wall clock than we accept."""

    def __init__(self, remote_wall_ms: int, local_wall_ms: int, max_drift_ms: int) -> None:
        self.remote_wall_ms = remote_wall_ms
        self.local_wall_ms = local_wall_ms
        self.ahead_ms = remote_wall_ms - local_wall_ms
        super().__init__(
            f"a clock is {self.ahead_ms / 1000:.0f} s ahead of this device's "
            f"(at most {max_drift_ms / 1000:.0f} s accepted); check the system time"
        )


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """One HLC reading: wall-clock milliseconds plus a logical counter."""

    wall_ms: int
    counter: int = 0

    def __post_init__(self) -> None:
        # Out-of-range parts would pack to another stamp's integer.
        if self.wall_ms < 0 or not 0 <= self.counter <= COUNTER_MAX:
            raise ValueError(f"HLC stamp out of range: wall {self.wall_ms}, counter {self.counter}")

    def pack(self) -> int:
        return (self.wall_ms << COUNTER_BITS) | self.counter

    @classmethod
    def unpack(cls, value: int) -> Stamp:
        if value < 0:
            raise ValueError(f"HLC stamp must be non-negative, got {value}")
        return cls(value >> COUNTER_BITS, value & COUNTER_MAX)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """A thread-safe HLC (Kulkarni et al.): monotonic, close to wall time, causal across devices."""

    def __init__(
        self,
        now_ms: Callable[[], int] = wall_clock_ms,
        max_drift_ms: int = DEFAULT_MAX_DRIFT_MS,
        last: int = 0,
    ) -> None:
        self._now_ms = now_ms
        self._max_drift_ms = max_drift_ms
        self._last = Stamp.unpack(last)
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        return self._last.pack()

    def now(self) -> int:
        """Stamp a local event."""
        with self._lock:
            physical = self._now_ms()
            if physical > self._last.wall_ms:
                self._last = Stamp(physical)
            else:
                self._last = self._bump(self._last.wall_ms, self._last.counter)
            return self._last.pack()

    def observe(self, remote: int) -> int:
        """Merge a received stamp; refuse one too far ahead of our wall clock."""
        theirs = Stamp.unpack(remote)
        with self._lock:
            physical = self._now_ms()
            if theirs.wall_ms - physical > self._max_drift_ms:
                raise ClockDriftError(theirs.wall_ms, physical, self._max_drift_ms)
            wall = max(physical, self._last.wall_ms, theirs.wall_ms)
            if wall == self._last.wall_ms == theirs.wall_ms:
                counter = max(self._last.counter, theirs.counter)
                self._last = self._bump(wall, counter)
            elif wall == self._last.wall_ms:
                self._last = self._bump(wall, self._last.counter)
            elif wall == theirs.wall_ms:
                self._last = self._bump(wall, theirs.counter)
            else:
                self._last = Stamp(wall)
            return self._last.pack()

    @staticmethod
    def _bump(wall_ms: int, counter: int) -> Stamp:
        # On counter overflow borrow a millisecond rather than wrap: order is preserved.
        if counter >= COUNTER_MAX:
            return Stamp(wall_ms + 1)
        return Stamp(wall_ms, counter + 1)


class Order(enum.Enum):
    """How two version vectors relate."""

    EQUAL = "equal"
    BEFORE = "before"  # left is dominated by right
    AFTER = "after"  # left dominates right
    CONCURRENT = "concurrent"


def vv_compare(left: Mapping[str, int], right: Mapping[str, int]) -> Order:
    """Compare two version vectors (missing entries count as 0)."""
    less = greater = False
    for device in left.keys() | right.keys():
        a, b = left.get(device, 0), right.get(device, 0)
        if a < b:
            less = True
        elif a > b:
            greater = True
        if less and greater:
            return Order.CONCURRENT
    if less:
        return Order.BEFORE
    if greater:
        return Order.AFTER
    return Order.EQUAL


def vv_merge(left: Mapping[str, int], right: Mapping[str, int]) -> VersionVector:
    """Pointwise maximum of two version vectors."""
    merged = dict(left)
    for device, counter in right.items():
        if counter > merged.get(device, 0):
            merged[device] = counter
    return merged


def vv_bump(vector: Mapping[str, int], device_id: str) -> VersionVector:
    """A copy of the vector with this device's entry advanced by one."""
    bumped = dict(vector)
    bumped[device_id] = bumped.get(device_id, 0) + 1
    return bumped


def vv_validate(value: object) -> VersionVector:
    """Check a decoded version vector: a mapping of non-empty device ids to positive ints."""
    if not isinstance(value, Mapping):
        raise ValueError("version vector must be an object")
    result: VersionVector = {}
    for device, counter in value.items():
        if not isinstance(device, str) or not device:
            raise ValueError("version vector keys must be non-empty device ids")
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 1:
            raise ValueError(f"version vector entry for {device!r} must be a positive integer")
        result[device] = counter
    return result
