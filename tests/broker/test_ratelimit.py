"""Token buckets and failure lockouts in the database (SQLite and PostgreSQL), on a clock
the tests move by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from relaydesk.broker.database import open_database
from relaydesk.broker.models import RateLimit
from relaydesk.broker.ratelimit import PRUNE_BATCH, FailureLockout, TokenBucket, key_hash


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def test_bucket_allows_a_burst_then_one_per_refill(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=3, refill_seconds=10.0)
    assert [bucket.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", 0.0) == pytest.approx(10.0)
    assert bucket.take("a", 4.0) == pytest.approx(6.0)
    assert bucket.take("a", 10.0) == 0.0
    assert bucket.take("a", 10.0) == pytest.approx(10.0)


def test_bucket_keys_are_independent(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=1, refill_seconds=60.0)
    assert bucket.take("a", 0.0) == 0.0
    assert bucket.take("a", 0.0) > 0
    assert bucket.take("b", 0.0) == 0.0


def test_limiters_of_other_names_are_independent(engine: Engine) -> None:
    first = TokenBucket(engine, "first", burst=1, refill_seconds=60.0)
    second = TokenBucket(engine, "second", burst=1, refill_seconds=60.0)
    assert first.take("a", 0.0) == 0.0
    assert second.take("a", 0.0) == 0.0
    assert first.take("a", 0.0) > 0


def test_bucket_refills_no_more_than_the_burst(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=2, refill_seconds=1.0)
    bucket.take("a", 0.0)
    assert [bucket.take("a", 1000.0) for _ in range(3)][-1] > 0


def test_wait_and_spend_count_only_what_is_spent(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=2, refill_seconds=30.0)
    assert bucket.wait("a", 0.0) == 0.0
    assert bucket.wait("a", 0.0) == 0.0  # waiting takes nothing
    bucket.spend("a", 0.0)
    bucket.spend("a", 0.0)
    assert bucket.wait("a", 0.0) == pytest.approx(30.0)
    assert bucket.wait("a", 30.0) == 0.0


def test_spending_goes_into_debt(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=1, refill_seconds=10.0)
    for _ in range(3):
        bucket.spend("a", 0.0)
    assert bucket.wait("a", 0.0) == pytest.approx(30.0)
    assert bucket.take("a", 20.0) == pytest.approx(10.0)  # refused: nothing taken
    assert bucket.take("a", 30.0) == 0.0


def test_keys_are_stored_as_their_hash(engine: Engine) -> None:
    TokenBucket(engine, "test", burst=1, refill_seconds=1.0).take("203.0.113.9", 0.0)
    with engine.connect() as connection:
        stored = connection.execute(select(RateLimit.key_hash)).scalars().all()
    assert stored == [key_hash("203.0.113.9")]


def test_full_buckets_are_pruned_a_batch_per_write(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=2, refill_seconds=10.0)
    for number in range(2 * PRUNE_BATCH + 5):
        bucket.take(f"key {number}", 0.0)
    bucket.take("busy", 0.0)
    assert bucket.remembered() == 2 * PRUNE_BATCH + 6
    # At 11 s every bucket taken from at 0 is full again; each write prunes a batch.
    bucket.take("busy", 11.0)
    assert bucket.remembered() == PRUNE_BATCH + 6
    assert bucket.take("busy", 11.0) == 0.0
    assert bucket.remembered() == 6
    assert bucket.take("busy", 11.0) > 0  # refused: nothing written, nothing pruned
    assert bucket.remembered() == 6
    bucket.spend("busy", 11.0)
    assert bucket.remembered() == 1
    assert bucket.wait("busy", 11.0) > 0  # the busy key itself was kept


def test_bucket_remembers_a_bounded_number_of_keys(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=1, refill_seconds=60.0, max_keys=2)
    for moment, key in enumerate(("a", "b", "c")):
        bucket.take(key, float(moment))
    assert bucket.remembered() == 2
    assert bucket.take("b", 3.0) > 0  # still remembered
    assert bucket.take("a", 3.0) == 0.0  # the nearest to full was forgotten


def test_a_flood_of_new_keys_does_not_evict_a_throttled_one(engine: Engine) -> None:
    bucket = TokenBucket(engine, "test", burst=2, refill_seconds=60.0, max_keys=4)
    for _ in range(5):
        bucket.spend("attacker", 0.0)
    for number in range(20):
        bucket.take(f"noise {number}", 1.0)
    assert bucket.remembered() == 4
    assert bucket.take("attacker", 2.0) > 0


def test_lockout_after_too_many_failures_in_the_window(engine: Engine) -> None:
    lockout = FailureLockout(
        engine, "test", max_failures=3, window_seconds=60.0, lock_seconds=300.0
    )
    for moment in (0.0, 10.0):
        lockout.fail("s", moment)
    assert lockout.wait("s", 10.0) == 0.0
    lockout.fail("s", 20.0)
    assert lockout.wait("s", 20.0) == pytest.approx(300.0)
    assert lockout.wait("s", 319.0) == pytest.approx(1.0)
    assert lockout.wait("s", 320.0) == 0.0
    assert lockout.wait("other", 20.0) == 0.0


def test_failures_start_afresh_after_a_lock(engine: Engine) -> None:
    lockout = FailureLockout(engine, "test", max_failures=2, window_seconds=60.0, lock_seconds=10.0)
    lockout.fail("s", 0.0)
    lockout.fail("s", 1.0)
    assert lockout.wait("s", 1.0) > 0
    lockout.fail("s", 20.0)  # after the lock: the first of a new count
    assert lockout.wait("s", 20.0) == 0.0
    lockout.fail("s", 21.0)
    assert lockout.wait("s", 21.0) == pytest.approx(10.0)


def test_failures_spread_wider_than_the_window_do_not_lock(engine: Engine) -> None:
    lockout = FailureLockout(
        engine, "test", max_failures=3, window_seconds=60.0, lock_seconds=300.0
    )
    for moment in (0.0, 40.0, 80.0, 120.0, 160.0):
        lockout.fail("s", moment)
        assert lockout.wait("s", moment) == 0.0


def test_flooding_new_keys_does_not_unlock_a_locked_one(engine: Engine) -> None:
    lockout = FailureLockout(
        engine, "test", max_failures=2, window_seconds=60.0, lock_seconds=300.0, max_keys=4
    )
    lockout.fail("victim", 0.0)
    lockout.fail("victim", 1.0)
    for number in range(100):
        lockout.fail(f"noise {number}", 2.0)
    assert lockout.wait("victim", 3.0) > 0
    failures, locks = lockout.remembered()
    assert failures <= 4
    assert locks == 1


def test_ended_locks_and_stale_failures_are_pruned(engine: Engine) -> None:
    lockout = FailureLockout(engine, "test", max_failures=2, window_seconds=60.0, lock_seconds=30.0)
    lockout.fail("locked", 0.0)
    lockout.fail("locked", 1.0)
    lockout.fail("once", 1.0)
    assert lockout.remembered() == (1, 1)
    lockout.fail("later", 100.0)  # "once" left its window: pruned
    assert lockout.remembered() == (1, 1)
    lockout.fail("later", 101.0)  # locks "later"; the lock of "locked" ended: pruned
    assert lockout.remembered() == (0, 1)
    assert lockout.wait("locked", 101.0) == 0.0
    assert lockout.wait("later", 101.0) == pytest.approx(30.0)


def test_limiter_names_are_bounded(engine: Engine) -> None:
    with pytest.raises(ValueError, match="name"):
        TokenBucket(engine, "x" * 40, burst=1, refill_seconds=1.0)
    with pytest.raises(ValueError, match="name"):
        FailureLockout(engine, "", max_failures=1, window_seconds=1.0, lock_seconds=1.0)
