"""Pure client-side session rules: cursor acceptance and retry delays (section 8)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from snapask_desktop.sync.limits import CLOCK_SKEW_RETRY_MS, RETRY_BASE_MS, RETRY_MAX_MS
from snapask_desktop.sync.protocol import Change, Changes


class Verdict(enum.Enum):
    """What to do with a received ``changes`` frame."""

    APPLY = "apply"  # apply ``ChangesPlan.apply`` in order, then store ``new_cursor``
    STALE = "stale"  # everything in it is already applied: ignore
    GAP = "gap"  # an earlier frame is missing: ignore it and pull from the cursor


@dataclass(frozen=True, slots=True)
class ChangesPlan:
    """The decision for one ``changes`` frame, given the device's cursor."""

    verdict: Verdict
    apply: tuple[Change, ...]
    new_cursor: int
    pull_next: bool  # send ``pull(since=new_cursor)`` afterwards


def plan_changes(cursor: int, frame: Changes) -> ChangesPlan:
    """Apply a frame only if it continues the cursor; never move the cursor backwards."""
    if cursor < 0:
        raise ValueError(f"a cursor is never negative, got {cursor}")
    if frame.cursor <= cursor:
        return ChangesPlan(Verdict.STALE, (), cursor, pull_next=False)
    if frame.since > cursor:
        return ChangesPlan(Verdict.GAP, (), cursor, pull_next=True)
    fresh = tuple(change for change in frame.changes if change.seq > cursor)
    return ChangesPlan(Verdict.APPLY, fresh, frame.cursor, pull_next=frame.has_more)


def retry_delay_ms(attempt: int, jitter: float, *, floor_ms: int = 0) -> int:
    """Backoff before retry ``attempt`` (0-based): ``min(max, base * 2**attempt)`` with equal
    jitter (``jitter`` in [0, 1) picks between half and all of it), never below ``floor_ms``."""
    if attempt < 0 or not 0.0 <= jitter < 1.0:
        raise ValueError("attempt must be >= 0 and jitter in [0, 1)")
    ceiling = min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** min(attempt, 32))
    return max(floor_ms, int(ceiling / 2 + jitter * ceiling / 2))


def clock_skew_delay_ms(attempt: int, jitter: float) -> int:
    """Backoff after a ``clock_skew`` rejection: as ``retry_delay_ms`` but at least 60 s."""
    return retry_delay_ms(attempt, jitter, floor_ms=CLOCK_SKEW_RETRY_MS)
