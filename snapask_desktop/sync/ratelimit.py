"""A token bucket for the per-connection frame rate (pure: the caller passes the time)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from snapask_desktop.sync.limits import FRAME_BURST, FRAMES_PER_SECOND


@dataclass(frozen=True, slots=True)
class BucketRule:
    """A token bucket's refill rate (tokens per second) and size."""

    per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class BucketState:
    """A bucket as a connection left it: ``tokens`` at ``at_ms`` (Unix ms)."""

    tokens: float
    at_ms: int


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; one frame costs one token."""

    def __init__(
        self, now_ms: int, rate: float = FRAMES_PER_SECOND, burst: int = FRAME_BURST
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate_per_ms = rate / 1000.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last_ms = now_ms

    def resume(self, tokens: float, at_ms: int) -> None:
        """Take up a bucket as another connection left it: ``tokens`` at ``at_ms``."""
        self._tokens = min(self._burst, max(0.0, tokens))
        # Another machine's clock may be ahead: never wait for it to catch up.
        self._last_ms = min(self._last_ms, at_ms)

    def tokens(self, now_ms: int) -> float:
        """The tokens held now."""
        self._refill(now_ms)
        return self._tokens

    def take(self, now_ms: int) -> int:
        """Spend a token: 0 if allowed, else the milliseconds until one is available."""
        wait = self.wait_ms(now_ms)
        if wait == 0:
            self._tokens -= 1.0
        return wait

    def wait_ms(self, now_ms: int) -> int:
        """0 if a token is there now, else the milliseconds until one is (spends nothing)."""
        self._refill(now_ms)
        if self._tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / self._rate_per_ms))

    def full_in_ms(self, now_ms: int) -> int:
        """Milliseconds until the bucket is full again (0: it is full, as if never used)."""
        self._refill(now_ms)
        return math.ceil((self._burst - self._tokens) / self._rate_per_ms)

    def _refill(self, now_ms: int) -> None:
        # A clock that steps backwards must not mint tokens or wedge the bucket.
        elapsed = max(0, now_ms - self._last_ms)
        self._last_ms = max(self._last_ms, now_ms)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate_per_ms)
