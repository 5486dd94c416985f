"""Hybrid logical clock and version vectors (snapask_desktop/sync/clock.py)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapask_desktop.sync.clock import (
    COUNTER_BITS,
    COUNTER_MAX,
    HybridClock,
    Order,
    ServerClock,
    Stamp,
    ahead_ms,
    too_far_ahead,
    vv_bump,
    vv_compare,
    vv_merge,
    vv_validate,
)

W = 1_795_000_000_000  # a wall time in ms (November 2026)


class FakeWall:
    """A settable wall clock in ms."""

    def __init__(self, ms: int = W) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


# ---------------------------------------------------------------------- packing


def test_pack_puts_the_wall_clock_above_the_counter() -> None:
    assert Stamp(W, 7).pack() == (W << COUNTER_BITS) | 7
    assert Stamp.unpack(Stamp(W, 7).pack()) == Stamp(W, 7)
    assert Stamp.unpack(Stamp(W, COUNTER_MAX).pack()) == Stamp(W, COUNTER_MAX)


def test_unpack_refuses_negative_values() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Stamp.unpack(-1)


@given(
    st.tuples(st.integers(0, 2**47), st.integers(0, COUNTER_MAX)),
    st.tuples(st.integers(0, 2**47), st.integers(0, COUNTER_MAX)),
)
def test_packed_stamps_sort_like_stamps(a: tuple[int, int], b: tuple[int, int]) -> None:
    left, right = Stamp(*a), Stamp(*b)
    assert (left < right) == (left.pack() < right.pack())
    assert (left == right) == (left.pack() == right.pack())


def test_a_stamp_with_an_out_of_range_counter_is_refused() -> None:
    # BUG in clock.py (reported to the lead): Stamp accepts a counter outside 0..COUNTER_MAX
    # (or a negative wall time), and then pack() is not injective: Stamp(W, 65536) packs to
    # the same integer as Stamp(W + 1, 0) although the two stamps differ and sort apart.
    # Fix: validate in Stamp.__post_init__ (0 <= counter <= COUNTER_MAX, wall_ms >= 0).
    assert Stamp(W + 1, 0).pack() == (W << COUNTER_BITS) + COUNTER_MAX + 1  # the collision
    with pytest.raises(ValueError):
        Stamp(W, COUNTER_MAX + 1)
    with pytest.raises(ValueError):
        Stamp(-1, 0)


# ---------------------------------------------------------------------- now()


def test_now_follows_the_wall_clock_when_it_advances() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall)
    assert Stamp.unpack(clock.now()) == Stamp(W, 0)
    wall.ms += 5
    assert Stamp.unpack(clock.now()) == Stamp(W + 5, 0)


def test_now_counts_up_when_the_wall_clock_stands_still_or_goes_back() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall)
    first = clock.now()
    second = clock.now()
    wall.ms -= 10_000  # NTP stepped the clock back
    third = clock.now()
    assert first < second < third
    assert Stamp.unpack(third) == Stamp(W, 2)


def test_counter_overflow_borrows_a_millisecond_instead_of_wrapping() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall, last=Stamp(W, COUNTER_MAX - 1).pack())
    assert Stamp.unpack(clock.now()) == Stamp(W, COUNTER_MAX)
    overflowed = clock.now()
    assert Stamp.unpack(overflowed) == Stamp(W + 1, 0)
    assert Stamp.unpack(clock.now()) == Stamp(W + 1, 1)  # wall still at W: keeps counting


def test_a_clock_resumes_after_its_persisted_last_stamp() -> None:
    ahead = Stamp(W + 60_000, 3).pack()  # written when the clock was a minute ahead
    clock = HybridClock(now_ms=FakeWall(), last=ahead)
    assert clock.last == ahead
    assert clock.now() > ahead


def test_now_is_unique_across_threads() -> None:
    clock = HybridClock(now_ms=FakeWall())  # frozen wall: every stamp comes from the counter
    stamps: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [clock.now() for _ in range(2000)]
        with lock:
            stamps.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(stamps)) == len(stamps) == 8000


# ---------------------------------------------------------------------- observe()


def test_observe_moves_past_a_remote_stamp_from_a_faster_clock() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall)
    remote = Stamp(W + 2_000, 9).pack()  # 2 s ahead: within the tolerance
    merged = clock.observe(remote)
    assert merged > remote
    assert Stamp.unpack(merged) == Stamp(W + 2_000, 10)
    assert clock.now() > merged  # causality: later local events sort after what we saw


def test_observe_of_an_old_stamp_keeps_the_local_clock() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall)
    local = clock.now()
    merged = clock.observe(Stamp(W - 50_000, 4).pack())
    assert merged > local
    assert Stamp.unpack(merged) == Stamp(W, 1)


def test_observe_with_equal_walls_takes_the_larger_counter() -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall, last=Stamp(W, 3).pack())
    assert Stamp.unpack(clock.observe(Stamp(W, 8).pack())) == Stamp(W, 9)
    assert Stamp.unpack(clock.observe(Stamp(W, 2).pack())) == Stamp(W, 10)


def test_observe_at_the_counter_limit_borrows_a_millisecond() -> None:
    clock = HybridClock(now_ms=FakeWall())
    remote = Stamp(W, COUNTER_MAX).pack()
    merged = clock.observe(remote)
    assert merged > remote
    assert Stamp.unpack(merged) == Stamp(W + 1, 0)


def test_clock_skew_is_judged_on_the_wall_part_of_the_stamp() -> None:
    assert ahead_ms(Stamp(W + 300_001, 7).pack(), W) == 300_001
    assert not too_far_ahead(Stamp(W + 300_000, 5).pack(), W)  # exactly at the limit: accepted
    assert too_far_ahead(Stamp(W + 300_001).pack(), W)
    assert not too_far_ahead(Stamp(W - 10_000_000).pack(), W)
    # The limit a server announces replaces the default.
    assert too_far_ahead(Stamp(W + 60_001).pack(), W, max_drift_ms=60_000)
    assert not too_far_ahead(Stamp(W + 600_000).pack(), W, max_drift_ms=900_000)


def test_observe_accepts_any_stamp_the_receiver_let_through() -> None:
    # Receivers refuse stamps with too_far_ahead before anything is written; the clock itself
    # must stamp past whatever is stored, however far ahead.
    clock = HybridClock(now_ms=FakeWall())
    far = Stamp(W + 3_600_000, 0).pack()
    assert clock.observe(far) > far


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["now", "observe"]),
            st.integers(-3_000, 3_000),  # wall clock step (may go backwards)
            st.integers(-10_000, 10_000),  # remote offset from our wall clock
            st.integers(0, COUNTER_MAX),
        ),
        max_size=60,
    )
)
def test_every_stamp_is_larger_than_everything_before_it(
    events: list[tuple[str, int, int, int]],
) -> None:
    wall = FakeWall()
    clock = HybridClock(now_ms=wall)
    previous = clock.last
    highest_wall = wall.ms
    for kind, step, offset, counter in events:
        wall.ms = max(0, wall.ms + step)
        highest_wall = max(highest_wall, wall.ms)
        if kind == "now":
            stamp = clock.now()
        else:
            remote = Stamp(max(0, wall.ms + offset), counter).pack()
            stamp = clock.observe(remote)
            highest_wall = max(highest_wall, remote >> COUNTER_BITS)
            assert stamp > remote
        assert stamp > previous
        # Stays close to physical time: never past any wall time seen (+1 ms of borrowing).
        assert stamp >> COUNTER_BITS <= highest_wall + 1
        previous = stamp


# ---------------------------------------------------------------------- version vectors


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ({}, {}, Order.EQUAL),
        ({"a": 1}, {"a": 1}, Order.EQUAL),
        ({"a": 1}, {"a": 2}, Order.BEFORE),
        ({"a": 2}, {"a": 1}, Order.AFTER),
        ({"a": 1}, {"a": 1, "b": 1}, Order.BEFORE),  # a missing entry counts as 0
        ({"a": 1, "b": 1}, {"b": 1}, Order.AFTER),
        ({"a": 2, "b": 1}, {"a": 1, "b": 2}, Order.CONCURRENT),
        ({"a": 1}, {"b": 1}, Order.CONCURRENT),
    ],
)
def test_vv_compare(left: dict[str, int], right: dict[str, int], expected: Order) -> None:
    assert vv_compare(left, right) is expected


def test_vv_merge_is_the_pointwise_maximum() -> None:
    assert vv_merge({"a": 3, "b": 1}, {"b": 4, "c": 2}) == {"a": 3, "b": 4, "c": 2}


def test_vv_bump_copies_and_advances_one_entry() -> None:
    original = {"a": 1}
    assert vv_bump(original, "a") == {"a": 2}
    assert vv_bump(original, "b") == {"a": 1, "b": 1}
    assert original == {"a": 1}


vectors = st.dictionaries(st.sampled_from("abcd"), st.integers(1, 4), max_size=4)


@given(vectors, vectors, vectors)
def test_vv_merge_is_a_join(a: dict[str, int], b: dict[str, int], c: dict[str, int]) -> None:
    assert vv_merge(a, b) == vv_merge(b, a)
    assert vv_merge(vv_merge(a, b), c) == vv_merge(a, vv_merge(b, c))
    assert vv_merge(a, a) == a
    merged = vv_merge(a, b)
    assert vv_compare(a, merged) in (Order.BEFORE, Order.EQUAL)
    assert vv_compare(b, merged) in (Order.BEFORE, Order.EQUAL)


@given(vectors, vectors)
def test_vv_compare_is_antisymmetric(a: dict[str, int], b: dict[str, int]) -> None:
    mirror = {Order.BEFORE: Order.AFTER, Order.AFTER: Order.BEFORE}
    forward = vv_compare(a, b)
    assert vv_compare(b, a) is mirror.get(forward, forward)


@pytest.mark.parametrize(
    "bad",
    [[], "a", {"": 1}, {1: 1}, {"a": 0}, {"a": -1}, {"a": 1.0}, {"a": True}, {"a": "1"}],
)
def test_vv_validate_refuses_malformed_vectors(bad: object) -> None:
    with pytest.raises(ValueError):
        vv_validate(bad)


def test_vv_validate_accepts_a_vector() -> None:
    assert vv_validate({"a": 1, "b": 7}) == {"a": 1, "b": 7}


def test_the_servers_clock_moves_by_whichever_local_clock_moved_further() -> None:
    # welcome said 1,000,000 when this device's wall clock read 400,000 (10 minutes behind
    # the server) and its monotonic clock 7,000.
    server = ServerClock(server_ms=1_000_000, wall_ms=400_000, monotonic_ms=7_000)
    assert server.now_ms(400_000, 7_000) == 1_000_000
    assert server.now_ms(405_000, 12_000) == 1_005_000  # both moved 5 s
    # The user set the wall clock back by an hour meanwhile: the monotonic clock still counts.
    assert server.now_ms(405_000 - 3_600_000, 12_000) == 1_005_000
    # A suspend of an hour that the monotonic clock did not count: the wall clock did.
    assert server.now_ms(405_000 + 3_600_000, 12_000) == 1_005_000 + 3_600_000
