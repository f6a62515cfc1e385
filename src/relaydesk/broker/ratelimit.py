"""Rate limits kept in memory: token buckets and failure lockouts, keyed by a string
(a client address, a username, a session ID). The clock is passed in on every call.

Memory stays bounded: each limiter remembers at most ``max_keys`` keys and forgets the
least recently seen first. A forgotten bucket was either full (nothing lost) or is an
attacker's among many more than ``max_keys`` keys, whose other limits still hold.
Limits are per broker process; with several brokers each has its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from relaydesk import limits


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """``burst`` attempts at once, then one more every ``refill_seconds``, per key."""

    def __init__(
        self, burst: int, refill_seconds: float, max_keys: int = limits.RATE_LIMIT_MAX_KEYS
    ) -> None:
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed / self.refill_seconds)
            bucket.updated = now
        return bucket

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 if it may now. Takes nothing."""
        with self._lock:
            bucket = self._bucket(key, now)
            return max(0.0, (1.0 - bucket.tokens) * self.refill_seconds)

    def spend(self, key: str, now: float) -> None:
        """Count one attempt by ``key`` (it may go into debt: waits then grow)."""
        with self._lock:
            self._bucket(key, now).tokens -= 1.0

    def take(self, key: str, now: float) -> float:
        """Count an attempt if one is allowed now and return 0; else the seconds to wait."""
        with self._lock:
            bucket = self._bucket(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) * self.refill_seconds


class FailureLockout:
    """After ``max_failures`` failures within ``window_seconds``, a key is locked for
    ``lock_seconds``, whatever is tried meanwhile."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        lock_seconds: float,
        max_keys: int = limits.RATE_LIMIT_MAX_KEYS,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lock_seconds = lock_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        # Kept apart from the failures, so that flooding the failures with new keys
        # cannot unlock a locked one.
        self._locked_until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` is unlocked; 0 if it is not locked."""
        with self._lock:
            until = self._locked_until.get(key)
            if until is None:
                return 0.0
            if now >= until:
                del self._locked_until[key]
                return 0.0
            return until - now

    def fail(self, key: str, now: float) -> None:
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                failures = self._failures[key] = deque(maxlen=self.max_failures)
                while len(self._failures) > self.max_keys:
                    self._failures.popitem(last=False)
            else:
                self._failures.move_to_end(key)
            failures.append(now)
            # The deque holds the last max_failures failures: the lock starts when the
            # oldest of them is still inside the window.
            if len(failures) == self.max_failures and now - failures[0] <= self.window_seconds:
                self._lock_key(key, now)
                failures.clear()

    def _lock_key(self, key: str, now: float) -> None:
        self._locked_until[key] = now + self.lock_seconds
        self._locked_until.move_to_end(key)
        if len(self._locked_until) > self.max_keys:
            for expired in [k for k, until in self._locked_until.items() if until <= now]:
                del self._locked_until[expired]
            while len(self._locked_until) > self.max_keys:
                self._locked_until.popitem(last=False)  # the lock that ends first
