"""Rate limits kept in the database, so that every broker on it spends the same budgets:
token buckets and failure lockouts, keyed by a string (a client address, a username, a
session ID). The clock is passed in on every call.

Each call is one short transaction on its key's row of ``rate_limits``: read with
``SELECT … FOR UPDATE`` on PostgreSQL, so that two brokers spending from one bucket wait
for each other (SQLite has a single writer, and the broker begins IMMEDIATE). Two brokers
adding the same new key at once collide on the primary key; the loser tries again.

The table stays bounded. Every write prunes up to ``PRUNE_BATCH`` of its limiter's rows
that mean nothing any more (a full bucket, an ended lock, failures out of their window).
A write that adds a key, while the limiter holds more than ``max_keys`` rows, evicts the
rows nearest to meaning nothing: nearly full buckets, locks about to end. A flood of new
keys thus evicts other new keys, never the buckets of those being throttled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Engine, Row, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from relaydesk import limits
from relaydesk.broker.models import MAX_LIMITER_CHARS, RateLimit

PRUNE_BATCH = 16  # rows one write may prune or evict: bounded work per call
WRITE_ATTEMPTS = 3  # a new key's insert may collide with another broker's

T = TypeVar("T")
Stored = Row[float, list[float] | None]
"""A key's row as read: ``until``, and ``failures`` (a lockout's)."""


def key_hash(key: str) -> str:
    """What is stored for a key: its SHA-256 (fixed length, not the address itself)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class _Rows:
    """One limiter's rows of ``rate_limits``."""

    def __init__(self, engine: Engine, limiter: str, max_keys: int) -> None:
        if not 1 <= len(limiter) <= MAX_LIMITER_CHARS:
            raise ValueError(f"a rate limiter's name has 1 to {MAX_LIMITER_CHARS} characters")
        if max_keys < 1:
            raise ValueError("a rate limiter remembers at least one key")
        self.engine = engine
        self.limiter = limiter
        self.max_keys = max_keys

    def transaction(self, work: Callable[[Connection], T]) -> T:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except IntegrityError:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def read(self, connection: Connection, key: str, *, lock: bool) -> Stored | None:
        """The key's row, locked until commit if ``lock``."""
        query = select(RateLimit.until, RateLimit.failures).where(
            RateLimit.limiter == self.limiter, RateLimit.key_hash == key_hash(key)
        )
        if lock:
            query = query.with_for_update()
        return connection.execute(query).first()

    def write(
        self,
        connection: Connection,
        key: str,
        until: float,
        now: float,
        *,
        exists: bool,
        failures: list[float] | None = None,
    ) -> None:
        """Store the key's row (``exists``: as read under lock), then tidy up."""
        hashed = key_hash(key)
        if exists:
            connection.execute(
                update(RateLimit)
                .where(RateLimit.limiter == self.limiter, RateLimit.key_hash == hashed)
                .values(until=until, failures=failures)
            )
        else:
            connection.execute(
                insert(RateLimit).values(
                    limiter=self.limiter, key_hash=hashed, until=until, failures=failures
                )
            )
        self._prune(connection, now)
        if not exists:
            self._evict_over_cap(connection)

    def remove(self, connection: Connection, key: str) -> None:
        connection.execute(
            delete(RateLimit).where(
                RateLimit.limiter == self.limiter, RateLimit.key_hash == key_hash(key)
            )
        )

    def _delete(self, connection: Connection, victims: Select[str]) -> None:
        """Delete the rows ``victims`` selects, skipping those another transaction holds
        rather than waiting for them: two brokers tidying up at once cannot deadlock."""
        free = (
            select(RateLimit.key_hash)
            .where(RateLimit.limiter == self.limiter, RateLimit.key_hash.in_(victims))
            .with_for_update(skip_locked=True)
        )
        connection.execute(
            delete(RateLimit).where(RateLimit.limiter == self.limiter, RateLimit.key_hash.in_(free))
        )

    def _prune(self, connection: Connection, now: float) -> None:
        ended = self._mine().where(RateLimit.until < now).order_by(RateLimit.until)
        self._delete(connection, ended.limit(PRUNE_BATCH))

    def _evict_over_cap(self, connection: Connection) -> None:
        # Those after the max_keys latest to matter, read without a lock: a locking read
        # would lock every row its OFFSET skips.
        latest = self._mine().order_by(RateLimit.until.desc(), RateLimit.key_hash.desc())
        self._delete(connection, latest.offset(self.max_keys).limit(PRUNE_BATCH))

    def _mine(self) -> Select[str]:
        return select(RateLimit.key_hash).where(RateLimit.limiter == self.limiter)

    def count(self) -> int:
        with self.engine.begin() as connection:
            return connection.execute(
                select(func.count()).where(RateLimit.limiter == self.limiter)
            ).scalar_one()


class TokenBucket:
    """``burst`` attempts at once, then one more every ``refill_seconds``, per key.

    Stored as the moment the bucket is full again (as in GCRA): it holds ``burst`` tokens,
    less one for every ``refill_seconds`` that moment lies ahead of now.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        burst: int,
        refill_seconds: float,
        max_keys: int = limits.RATE_LIMIT_MAX_KEYS,
    ) -> None:
        if burst < 1 or refill_seconds <= 0:
            raise ValueError("a token bucket holds at least one token and refills over time")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self._rows = _Rows(engine, name, max_keys)

    def _debt(self, row: Stored | None, now: float) -> float:
        """Seconds until the bucket is full again (0: it is full)."""
        return 0.0 if row is None else max(0.0, row.until - now)

    def _wait(self, debt: float) -> float:
        # A token is there while the bucket is at most burst - 1 tokens short of full.
        return max(0.0, debt - (self.burst - 1) * self.refill_seconds)

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 if it may now. Takes nothing."""
        with self._rows.engine.begin() as connection:
            row = self._rows.read(connection, key, lock=False)
        return self._wait(self._debt(row, now))

    def spend(self, key: str, now: float) -> None:
        """Count one attempt by ``key`` (it may go into debt: waits then grow)."""
        self._rows.transaction(lambda connection: self._spend(connection, key, now))

    def _spend(self, connection: Connection, key: str, now: float) -> None:
        row = self._rows.read(connection, key, lock=True)
        until = now + self._debt(row, now) + self.refill_seconds
        self._rows.write(connection, key, until, now, exists=row is not None)

    def take(self, key: str, now: float) -> float:
        """Count an attempt if one is allowed now and return 0; else the seconds to wait."""

        def work(connection: Connection) -> float:
            row = self._rows.read(connection, key, lock=True)
            debt = self._debt(row, now)
            wait = self._wait(debt)
            if wait == 0.0:
                until = now + debt + self.refill_seconds
                self._rows.write(connection, key, until, now, exists=row is not None)
            return wait

        return self._rows.transaction(work)

    def give_back(self, key: str, now: float) -> None:
        """Return the token one ``take`` spent: that attempt does not count (a join that
        succeeded). The bucket is then where it would be without that attempt."""
        self._rows.transaction(lambda connection: self._give_back(connection, key, now))

    def _give_back(self, connection: Connection, key: str, now: float) -> None:
        row = self._rows.read(connection, key, lock=True)
        if row is not None:
            until = max(now, row.until - self.refill_seconds)
            self._rows.write(connection, key, until, now, exists=True)

    def remembered(self) -> int:
        """How many keys this limiter holds a row for (all brokers together)."""
        return self._rows.count()


def settle(
    now: float,
    given_back: Sequence[tuple[TokenBucket, str]],
    spent: Sequence[tuple[TokenBucket, str]],
) -> None:
    """In one transaction (one commit, not one per bucket): give back the tokens of
    attempts that do not count, spend those of what does. Rows are locked in the order
    given, the same on every broker, so two settling at once cannot deadlock."""
    buckets = [bucket for bucket, _ in (*given_back, *spent)]
    if not buckets:
        return

    def work(connection: Connection) -> None:
        for bucket, key in given_back:
            bucket._give_back(connection, key, now)
        for bucket, key in spent:
            bucket._spend(connection, key, now)

    buckets[0]._rows.transaction(work)


class FailureLockout:
    """After ``max_failures`` failures within ``window_seconds``, a key is locked for
    ``lock_seconds``, whatever is tried meanwhile."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        max_failures: int,
        window_seconds: float,
        lock_seconds: float,
        max_keys: int = limits.RATE_LIMIT_MAX_KEYS,
    ) -> None:
        if max_failures < 1:
            raise ValueError("a lockout needs at least one failure")
        if not name:
            raise ValueError("a rate limiter's name cannot be empty")
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lock_seconds = lock_seconds
        # Locks are rows of a limiter apart from the failures', so that flooding the
        # failures with new keys cannot evict (unlock) a locked key.
        self._failures = _Rows(engine, name + ".fail", max_keys)
        self._locks = _Rows(engine, name + ".lock", max_keys)

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` is unlocked; 0 if it is not locked."""
        with self._locks.engine.begin() as connection:
            lock = self._locks.read(connection, key, lock=False)
        return 0.0 if lock is None else max(0.0, lock.until - now)

    def fail(self, key: str, now: float) -> None:
        def work(connection: Connection) -> None:
            row = self._failures.read(connection, key, lock=True)
            kept = [float(moment) for moment in (row.failures or [])] if row else []
            # The last max_failures failures: the lock starts when the oldest of them is
            # still inside the window.
            failures = [*kept, now][-self.max_failures :]
            if len(failures) == self.max_failures and now - failures[0] <= self.window_seconds:
                if row is not None:
                    self._failures.remove(connection, key)
                lock = self._locks.read(connection, key, lock=True)
                self._locks.write(
                    connection, key, now + self.lock_seconds, now, exists=lock is not None
                )
                return
            # Once its newest failure has left the window, no failure kept can count.
            until = max(failures) + self.window_seconds
            self._failures.write(
                connection, key, until, now, exists=row is not None, failures=failures
            )

        self._failures.transaction(work)

    def remembered(self) -> tuple[int, int]:
        """How many keys have failures remembered, and how many are locked (or were)."""
        return self._failures.count(), self._locks.count()
