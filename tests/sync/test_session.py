"""Client cursor rules, retry delays and the frame-rate token bucket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapask_desktop.sync.limits import CLOCK_SKEW_RETRY_MS, RETRY_BASE_MS, RETRY_MAX_MS
from snapask_desktop.sync.protocol import Change, Changes
from snapask_desktop.sync.ratelimit import TokenBucket
from snapask_desktop.sync.session import (
    APPLIED_EVERY_MS,
    SessionState,
    Verdict,
    clock_skew_delay_ms,
    plan_changes,
    plan_pages,
    retry_delay_ms,
)
from tests.sync.factories import LAPTOP, OP, created


def _frame(since: int, cursor: int, seqs: list[int], has_more: bool = False) -> Changes:
    changes = tuple(Change(seq, OP, LAPTOP, created()) for seq in seqs)
    return Changes(since=since, cursor=cursor, has_more=has_more, changes=changes)


def test_a_frame_that_continues_the_cursor_is_applied() -> None:
    plan = plan_changes(4, _frame(4, 7, [5, 7]))
    assert plan.verdict is Verdict.APPLY
    assert [c.seq for c in plan.apply] == [5, 7]
    assert (plan.new_cursor, plan.pull_next) == (7, False)


def test_an_overlapping_frame_applies_only_what_is_new() -> None:
    plan = plan_changes(6, _frame(4, 9, [5, 6, 8]))
    assert [c.seq for c in plan.apply] == [8]
    assert plan.new_cursor == 9


def test_a_stale_or_repeated_frame_is_ignored() -> None:
    for frame in (_frame(2, 5, [3, 5]), _frame(4, 6, [5, 6])):
        plan = plan_changes(6, frame)
        assert plan.verdict is Verdict.STALE
        assert (plan.apply, plan.new_cursor, plan.pull_next) == ((), 6, False)


def test_a_frame_after_a_gap_is_ignored_and_a_pull_asked_for() -> None:
    plan = plan_changes(3, _frame(5, 6, [6]))
    assert plan.verdict is Verdict.GAP
    assert (plan.apply, plan.new_cursor, plan.pull_next) == ((), 3, True)


def test_a_page_with_more_behind_it_asks_for_the_next_page() -> None:
    plan = plan_changes(0, _frame(0, 2, [1, 2], has_more=True))
    assert plan.pull_next and plan.new_cursor == 2


def test_an_empty_page_moves_the_cursor_to_the_head() -> None:
    plan = plan_changes(3, _frame(3, 10, []))  # seqs 4..10 were collected
    assert plan.verdict is Verdict.APPLY and plan.new_cursor == 10 and plan.apply == ()


def test_a_negative_cursor_is_a_bug() -> None:
    with pytest.raises(ValueError):
        plan_changes(-1, _frame(0, 1, [1]))


def test_consecutive_pages_are_planned_as_one_group() -> None:
    pages = [_frame(0, 2, [1, 2], True), _frame(2, 4, [3, 4], True), _frame(4, 5, [5])]
    plan = plan_pages(0, pages)
    assert plan.verdict is Verdict.APPLY
    assert [c.seq for c in plan.apply] == [1, 2, 3, 4, 5]
    assert (plan.new_cursor, plan.pull_next) == (5, False)
    # the group's last page has more behind it: pull from the group's cursor
    plan = plan_pages(0, pages[:2])
    assert (plan.new_cursor, plan.pull_next) == (4, True)


def test_a_group_of_one_page_is_that_page_s_plan() -> None:
    singles = [(4, _frame(4, 7, [5, 7])), (6, _frame(2, 5, [3, 5])), (3, _frame(5, 6, [6]))]
    for cursor, frame in singles:
        assert plan_pages(cursor, [frame]) == plan_changes(cursor, frame)


def test_a_group_starts_from_the_cursor_like_a_single_page() -> None:
    overlapping = [_frame(4, 9, [5, 6, 8], True), _frame(9, 10, [10])]
    plan = plan_pages(6, overlapping)
    assert [c.seq for c in plan.apply] == [8, 10] and plan.new_cursor == 10
    stale_first = [_frame(2, 5, [3, 5], True), _frame(5, 6, [6])]
    assert plan_pages(6, stale_first).verdict is Verdict.STALE


def test_a_page_that_does_not_continue_the_group_ends_it_and_asks_for_a_pull() -> None:
    apart = [_frame(0, 2, [1, 2], True), _frame(3, 5, [4, 5])]  # seq 3 is missing
    plan = plan_pages(0, apart)
    assert [c.seq for c in plan.apply] == [1, 2]
    assert (plan.new_cursor, plan.pull_next) == (2, True)
    repeated = [_frame(0, 2, [1, 2], True), _frame(0, 2, [1, 2], True)]
    plan = plan_pages(0, repeated)
    assert [c.seq for c in plan.apply] == [1, 2] and plan.pull_next


def test_an_empty_group_is_a_bug() -> None:
    with pytest.raises(ValueError):
        plan_pages(0, [])


@given(
    st.integers(0, 50),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 10)), min_size=1, max_size=30),
)
def test_the_cursor_never_moves_back_or_skips_a_change(
    start: int, frames: list[tuple[int, int]]
) -> None:
    cursor = start
    applied: list[int] = []
    for since, width in frames:
        plan = plan_changes(
            cursor, _frame(since, since + width, list(range(since + 1, since + width + 1)))
        )
        assert plan.new_cursor >= cursor
        applied.extend(c.seq for c in plan.apply)
        if plan.verdict is Verdict.APPLY:
            # Everything between the old and the new cursor was in the frame.
            assert [c.seq for c in plan.apply] == list(range(cursor + 1, plan.new_cursor + 1))
        cursor = plan.new_cursor
    assert applied == list(range(start + 1, cursor + 1))


@given(
    st.integers(0, 50),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 10)), min_size=1, max_size=8),
)
def test_a_group_applies_what_its_pages_one_by_one_would(
    start: int, frames: list[tuple[int, int]]
) -> None:
    pages = [
        _frame(since, since + width, list(range(since + 1, since + width + 1)), has_more=True)
        for since, width in frames
    ]
    group = plan_pages(start, pages)
    cursor, applied, first = start, [], plan_changes(start, pages[0])
    for page in pages:  # page by page, up to the first page that does not continue
        plan = plan_changes(cursor, page)
        if plan.verdict is not Verdict.APPLY:
            break
        applied.extend(c.seq for c in plan.apply)
        cursor = plan.new_cursor
    if first.verdict is Verdict.APPLY:
        assert [c.seq for c in group.apply] == applied
        assert (group.new_cursor, group.pull_next) == (cursor, True)
    else:
        assert group == first


# ---------------------------------------------------------------------- retries


def test_retry_delays_double_up_to_the_cap_with_equal_jitter() -> None:
    assert retry_delay_ms(1, 0.0) == RETRY_BASE_MS
    assert retry_delay_ms(1, 0.999) == pytest.approx(2 * RETRY_BASE_MS, abs=2)
    assert retry_delay_ms(3, 0.0) == 4 * RETRY_BASE_MS
    assert retry_delay_ms(30, 0.5) == int(RETRY_MAX_MS * 0.75)
    assert retry_delay_ms(10_000, 0.0) == RETRY_MAX_MS // 2


def test_the_first_retry_spreads_over_the_whole_base_delay() -> None:
    """Full jitter for the first retry: the devices of a server that died come back spread
    over the whole first second, not its second half (half as dense a storm on the other
    instances, and it starts half a second sooner: docs/benchmarks.md, failover)."""
    assert retry_delay_ms(0, 0.0) == 0
    assert retry_delay_ms(0, 0.5) == RETRY_BASE_MS // 2
    assert retry_delay_ms(0, 0.999) == pytest.approx(RETRY_BASE_MS, abs=1)


def test_after_clock_skew_the_delay_is_at_least_a_minute() -> None:
    assert clock_skew_delay_ms(0, 0.0) == CLOCK_SKEW_RETRY_MS
    assert clock_skew_delay_ms(20, 0.999) == pytest.approx(RETRY_MAX_MS, abs=1)


@pytest.mark.parametrize(("attempt", "jitter"), [(-1, 0.0), (0, 1.0), (0, -0.1)])
def test_retry_delay_arguments_are_checked(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        retry_delay_ms(attempt, jitter)


# ---------------------------------------------------------------------- token bucket


def test_the_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    bucket = TokenBucket(now_ms=0, rate=50, burst=100)
    assert all(bucket.take(0) == 0 for _ in range(100))
    assert bucket.take(0) == 20  # one token takes 20 ms at 50/s
    assert bucket.take(19) == 1
    assert bucket.take(20) == 0
    assert bucket.take(20) == 20


def test_the_bucket_refills_no_further_than_its_size() -> None:
    bucket = TokenBucket(now_ms=0, rate=50, burst=100)
    for _ in range(100):
        bucket.take(0)
    allowed = sum(1 for _ in range(150) if bucket.take(3_600_000) == 0)
    assert allowed == 100


def test_a_clock_stepping_back_neither_mints_tokens_nor_wedges_the_bucket() -> None:
    bucket = TokenBucket(now_ms=10_000, rate=1, burst=1)
    assert bucket.take(10_000) == 0
    assert bucket.take(5_000) > 0
    assert bucket.take(11_000) == 0


def test_bucket_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        TokenBucket(now_ms=0, rate=0)
    with pytest.raises(ValueError):
        TokenBucket(now_ms=0, burst=0)


# ---------------------------------------------------------------------- session state


def test_applied_goes_for_a_new_cursor_at_most_once_a_second_unless_forced() -> None:
    state = SessionState()
    state.start(10)
    assert state.applied_due(5_000, force=False)  # never sent: due at once
    state.applied_sent_now(5_000)
    assert not state.applied_due(5_001, force=True)  # nothing new to acknowledge
    state.cursor = 12
    assert not state.applied_due(5_000 + APPLIED_EVERY_MS - 1, force=False)
    assert state.applied_due(5_000 + APPLIED_EVERY_MS - 1, force=True)
    assert state.applied_due(5_000 + APPLIED_EVERY_MS, force=False)
    state.applied_sent_now(6_000)
    assert (state.applied_sent, state.applied_at_ms) == (12, 6_000)


def test_a_server_that_lost_data_is_pulled_and_acknowledged_from_the_start() -> None:
    state = SessionState()
    state.start(40)
    state.applied_sent_now(1)
    state.server_lost_data()
    assert (state.cursor, state.applied_sent) == (0, 0)
    state.cursor = 3
    assert state.applied_due(2, force=True)


def test_clock_skewed_ops_are_held_once_and_released_once_after_the_delay() -> None:
    state = SessionState()
    assert not state.release_due(0)
    assert state.hold(1_000, 0.0)
    until = state.held_until_ms
    assert until == 1_000 + clock_skew_delay_ms(0, 0.0) >= 1_000 + CLOCK_SKEW_RETRY_MS
    assert not state.hold(2_000, 0.9)  # already held: the first delay stands
    assert state.held_until_ms == until
    assert not state.release_due(until - 1)
    assert state.release_due(until)
    assert not state.release_due(until + 1) and state.held_until_ms == 0


def test_backoff_grows_per_failure_and_starts_over_after_a_connection_that_worked() -> None:
    state = SessionState()
    delays = [state.retry_delay(0.0, worked=False) for _ in range(3)]
    assert delays == [retry_delay_ms(n, 0.0) for n in range(3)] and delays[0] < delays[2]
    assert state.retry_delay(0.0, worked=True) == retry_delay_ms(0, 0.0)
    assert state.attempt == 1
    state.waiting_for_user()
    assert state.retry_delay(0.5, worked=False) == retry_delay_ms(0, 0.5)
