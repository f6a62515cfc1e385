"""Token buckets and failure lockouts, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from relaydesk.broker.ratelimit import FailureLockout, TokenBucket


def test_bucket_allows_a_burst_then_one_per_refill() -> None:
    bucket = TokenBucket(burst=3, refill_seconds=10.0)
    assert [bucket.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", 0.0) == pytest.approx(10.0)
    assert bucket.take("a", 4.0) == pytest.approx(6.0)
    assert bucket.take("a", 10.0) == 0.0
    assert bucket.take("a", 10.0) == pytest.approx(10.0)


def test_bucket_keys_are_independent() -> None:
    bucket = TokenBucket(burst=1, refill_seconds=60.0)
    assert bucket.take("a", 0.0) == 0.0
    assert bucket.take("a", 0.0) > 0
    assert bucket.take("b", 0.0) == 0.0


def test_bucket_refills_no_more_than_the_burst() -> None:
    bucket = TokenBucket(burst=2, refill_seconds=1.0)
    bucket.take("a", 0.0)
    assert [bucket.take("a", 1000.0) for _ in range(3)][-1] > 0


def test_wait_and_spend_count_only_what_is_spent() -> None:
    bucket = TokenBucket(burst=2, refill_seconds=30.0)
    assert bucket.wait("a", 0.0) == 0.0
    assert bucket.wait("a", 0.0) == 0.0  # waiting takes nothing
    bucket.spend("a", 0.0)
    bucket.spend("a", 0.0)
    assert bucket.wait("a", 0.0) == pytest.approx(30.0)
    assert bucket.wait("a", 30.0) == 0.0


def test_bucket_remembers_a_bounded_number_of_keys() -> None:
    bucket = TokenBucket(burst=1, refill_seconds=60.0, max_keys=2)
    for key in ("a", "b", "c"):
        bucket.take(key, 0.0)
    assert len(bucket._buckets) == 2
    assert bucket.take("b", 0.0) > 0  # still remembered
    assert bucket.take("a", 0.0) == 0.0  # the oldest was forgotten


def test_lockout_after_too_many_failures_in_the_window() -> None:
    lockout = FailureLockout(max_failures=3, window_seconds=60.0, lock_seconds=300.0)
    for moment in (0.0, 10.0):
        lockout.fail("s", moment)
    assert lockout.wait("s", 10.0) == 0.0
    lockout.fail("s", 20.0)
    assert lockout.wait("s", 20.0) == pytest.approx(300.0)
    assert lockout.wait("s", 319.0) == pytest.approx(1.0)
    assert lockout.wait("s", 320.0) == 0.0
    assert lockout.wait("other", 20.0) == 0.0


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    lockout = FailureLockout(max_failures=3, window_seconds=60.0, lock_seconds=300.0)
    for moment in (0.0, 40.0, 80.0, 120.0, 160.0):
        lockout.fail("s", moment)
        assert lockout.wait("s", moment) == 0.0


def test_flooding_new_keys_does_not_unlock_a_locked_one() -> None:
    lockout = FailureLockout(max_failures=2, window_seconds=60.0, lock_seconds=300.0, max_keys=4)
    lockout.fail("victim", 0.0)
    lockout.fail("victim", 1.0)
    for number in range(100):
        lockout.fail(f"noise {number}", 2.0)
    assert lockout.wait("victim", 3.0) > 0
    assert len(lockout._failures) <= 4
