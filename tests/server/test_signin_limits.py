"""The sign-in limiter alone (pure): nothing flushes a drained bucket, known addresses pass."""

from __future__ import annotations

from snapask_desktop.server.signin_limits import SignInLimiter

T0 = 1_000_000


def _limiter(capacity: int = 10_000) -> SignInLimiter:
    return SignInLimiter(
        per_address=(1.0, 30), per_name_address=(0.2, 10), per_name=(0.4, 20), capacity=capacity
    )


def _drain(limiter: SignInLimiter, name: str, address_of: object, now: int) -> int:
    """Attempts for ``name`` until refused, each from ``address_of(i)``; returns how many passed."""
    passed = 0
    while limiter.admit(name, str(address_of(passed)) if callable(address_of) else str(address_of),
                        now) is None:  # fmt: skip
        passed += 1
    return passed


def test_junk_from_a_drained_address_creates_no_buckets() -> None:
    limiter = _limiter()
    assert _drain(limiter, "bob", "10.0.0.9", T0) == 10  # bob's bucket for that address
    passed = sum(limiter.admit(f"junk{i}", "10.0.0.9", T0) is None for i in range(100))
    assert passed == 20  # the rest of the address's burst of 30
    tables = (len(limiter.addresses), len(limiter.name_addresses), len(limiter.names))
    for i in range(10_000):
        assert limiter.admit(f"more{i}", "10.0.0.9", T0) is not None
    assert (len(limiter.addresses), len(limiter.name_addresses), len(limiter.names)) == tables
    refusal = limiter.admit("bob", "10.0.0.9", T0 + 1000)
    assert refusal is not None and not refusal.busy


def test_a_flood_from_many_addresses_never_forgets_a_drained_bucket() -> None:
    limiter = _limiter(capacity=1000)
    # bob's per-name bucket drained from many addresses (a distributed guess).
    assert _drain(limiter, "bob", lambda i: f"10.1.{i // 250}.{i % 250}", T0) == 20
    for i in range(20_000):  # junk names from 20,000 addresses
        limiter.admit(f"junk{i}", f"10.2.{i // 250}.{i % 250}", T0 + i // 100)
    assert len(limiter.names) <= 1000 and len(limiter.addresses) <= 1000
    refusal = limiter.admit("bob", "10.3.0.1", T0 + 200)
    assert refusal is not None and not refusal.busy  # still bob's own limit, not "busy"


def test_a_full_table_refuses_newcomers_until_a_bucket_refilled() -> None:
    limiter = _limiter(capacity=100)
    for i in range(100):
        assert limiter.admit(f"user{i}", f"10.0.0.{i}", T0 + i) is None
    refusal = limiter.admit("eve", "10.9.9.9", T0 + 100)
    assert refusal is not None and refusal.busy and refusal.wait_ms >= 1
    # Once a bucket is full again it is forgotten (as if never used) and there is room.
    assert limiter.admit("eve", "10.9.9.9", T0 + 100 + 120_000) is None


def test_a_known_address_passes_while_the_name_is_under_attack() -> None:
    limiter = _limiter()
    assert limiter.admit("bob", "192.0.2.1", T0) is None
    limiter.succeeded("bob", "192.0.2.1")
    # Guesses for bob from 30 addresses drain the per-name bucket.
    _drain(limiter, "bob", lambda i: f"198.51.100.{i}", T0)
    assert limiter.admit("bob", "203.0.113.5", T0) is not None  # a new address waits
    assert limiter.admit("BOB", "192.0.2.1", T0) is None  # home does not


def test_one_guessing_address_alone_cannot_drain_the_name() -> None:
    limiter = _limiter()
    now = T0
    for _ in range(2000):  # one attempt a second for half an hour, from one address
        limiter.admit("bob", "198.51.100.7", now)
        now += 1000
    assert limiter.admit("bob", "203.0.113.5", now) is None
