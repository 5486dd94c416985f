"""Hybrid logical clocks and version vectors: pure logic, no I/O, shared by client and server.

An HLC stamp is packed into one integer, ``wall_ms << 16 | counter``, so stamps sort as
plain integers in SQL and JSON and a tie on the wall clock is broken by the counter.
Version vectors detect concurrency; HLC stamps only order. The clock-skew rule (section 9.8)
lives here too: the server and the device both refuse a stamp by ``too_far_ahead``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from snapask_desktop.sync.limits import MAX_DRIFT_MS

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1

VersionVector = dict[str, int]


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


def ahead_ms(hlc: int, now_ms: int) -> int:
    """How far the stamp's wall time is ahead of ``now_ms`` (negative when behind)."""
    return (hlc >> COUNTER_BITS) - now_ms


def too_far_ahead(hlc: int, now_ms: int, max_drift_ms: int = MAX_DRIFT_MS) -> bool:
    """Whether a receiver must refuse the stamp (section 9.8): the server rejects the op with
    ``clock_skew``, a device stops applying before it. ``max_drift_ms`` is the server's own
    limit, which it announces in ``welcome`` for devices to use too."""
    return ahead_ms(hlc, now_ms) > max_drift_ms


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ServerClock:
    """The sync server's wall clock as a device estimates it, from ``welcome.server_time_ms``
    and this device's wall and monotonic clocks read around the ``hello`` (their midpoints).

    An encrypted account's device judges its own ops' stamps against it, as the server judges
    a clear account's (section 12.11). Since ``welcome`` the estimate moves by whichever of the
    two local clocks moved further: the monotonic one when the wall clock was set back (the
    user corrected a clock that was ahead), the wall one across a suspend (which the monotonic
    clock does not count on every system). So it errs towards sending; the receivers still
    check every stamp (9.8).
    """

    server_ms: int
    wall_ms: int
    monotonic_ms: int

    def now_ms(self, wall_ms: int, monotonic_ms: int) -> int:
        return self.server_ms + max(wall_ms - self.wall_ms, monotonic_ms - self.monotonic_ms)


class HybridClock:
    """A thread-safe HLC (Kulkarni et al.): monotonic, close to wall time, causal across devices.

    It accepts any stamp: receivers check remote stamps with ``too_far_ahead`` before anything
    is written, and a local edit must always be able to stamp past what is already stored.
    """

    def __init__(self, now_ms: Callable[[], int] = wall_clock_ms, last: int = 0) -> None:
        self._now_ms = now_ms
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
        """Merge a received (or stored) stamp: the next stamp is past it."""
        theirs = Stamp.unpack(remote)
        with self._lock:
            physical = self._now_ms()
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
