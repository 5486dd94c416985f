"""Pure client-side session rules: cursor acceptance and retry delays (section 8)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
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


def plan_pages(cursor: int, frames: Sequence[Changes]) -> ChangesPlan:
    """``plan_changes`` over consecutive frames, to be applied as one transaction: the changes
    of every frame that continues the cursor, up to the first that does not.

    A frame that does not continue the running cursor ends the group. Alone (the first
    frame) it keeps its own verdict; after frames to apply, the group is applied and a pull
    follows from the new cursor (the rest is pulled again).
    """
    if not frames:
        raise ValueError("plan_pages needs at least one frame")
    first = plan_changes(cursor, frames[0])
    if first.verdict is not Verdict.APPLY or len(frames) == 1:
        return first
    changes, new_cursor, pull_next = list(first.apply), first.new_cursor, first.pull_next
    for frame in frames[1:]:
        plan = plan_changes(new_cursor, frame)
        if plan.verdict is not Verdict.APPLY:
            pull_next = True
            break
        changes.extend(plan.apply)
        new_cursor, pull_next = plan.new_cursor, plan.pull_next
    return ChangesPlan(Verdict.APPLY, tuple(changes), new_cursor, pull_next)


def retry_delay_ms(attempt: int, jitter: float, *, floor_ms: int = 0) -> int:
    """Backoff before retry ``attempt`` (0-based): ``min(max, base * 2**attempt)`` with equal
    jitter (``jitter`` in [0, 1) picks between half and all of it), never below ``floor_ms``;
    the first retry with full jitter (anywhere from 0 to ``base``)."""
    if attempt < 0 or not 0.0 <= jitter < 1.0:
        raise ValueError("attempt must be >= 0 and jitter in [0, 1)")
    ceiling = min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** min(attempt, 32))
    if attempt == 0:
        # When a server instance dies, its devices all retry at once: spread over the whole
        # first second they come back half as densely, and the first of them half a second
        # sooner. Later retries keep equal jitter: a server that stays away is not hammered.
        return max(floor_ms, int(jitter * ceiling))
    return max(floor_ms, int(ceiling / 2 + jitter * ceiling / 2))


def clock_skew_delay_ms(attempt: int, jitter: float) -> int:
    """Backoff after a ``clock_skew`` rejection: as ``retry_delay_ms`` but at least 60 s."""
    return retry_delay_ms(attempt, jitter, floor_ms=CLOCK_SKEW_RETRY_MS)


APPLIED_EVERY_MS = 1000  # "applied" at most about once a second while busy


@dataclass(slots=True)
class SessionState:
    """What a device's sync engine remembers across frames and reconnects: the cursor, when
    ``applied`` was last sent, how long clock-skewed ops are held, and the reconnect backoff.

    Pure: the caller passes the time and the jitter, so every rule is tested without a clock.
    """

    cursor: int = 0
    applied_sent: int = 0  # the cursor last acknowledged with ``applied``
    applied_at_ms: int = 0
    held_until_ms: int = 0  # 0: no op is held for clock skew
    attempt: int = 0  # failed connections since the last one that worked

    def start(self, cursor: int) -> None:
        """A new session begins from the stored cursor."""
        self.cursor = cursor

    def server_lost_data(self) -> None:
        """The server's head is below the cursor: pull and acknowledge everything again."""
        self.cursor = 0
        self.applied_sent = 0

    def applied_due(self, now_ms: int, *, force: bool) -> bool:
        """Whether an ``applied`` for the cursor should go now (if the outbox allows it)."""
        if self.cursor <= self.applied_sent:
            return False
        return force or now_ms - self.applied_at_ms >= APPLIED_EVERY_MS

    def applied_sent_now(self, now_ms: int) -> None:
        """``applied(cursor)`` went out."""
        self.applied_sent, self.applied_at_ms = self.cursor, now_ms

    def hold(self, now_ms: int, jitter: float) -> bool:
        """Ops were refused for clock skew: hold them for a while; True if newly held."""
        if self.held_until_ms:
            return False
        self.held_until_ms = now_ms + clock_skew_delay_ms(0, jitter)
        return True

    def release_due(self, now_ms: int) -> bool:
        """True (once) when held ops may be sent again."""
        if self.held_until_ms and now_ms >= self.held_until_ms:
            self.held_until_ms = 0
            return True
        return False

    def retry_delay(self, jitter: float, *, worked: bool) -> int:
        """The wait before the next connection after a failure; `worked`: the failed connection
        had been up to date, so the backoff starts over."""
        if worked:
            self.attempt = 0
        delay = retry_delay_ms(self.attempt, jitter)
        self.attempt += 1
        return delay

    def waiting_for_user(self) -> None:
        """Syncing stopped until the user acts: the next failure starts the backoff over."""
        self.attempt = 0
