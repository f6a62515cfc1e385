"""Several broker replicas on one database (PostgreSQL, and SQLite for brokers on one
host): the schema is migrated once however many start together, and the rate limits are
one budget whichever replica is asked."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from broker_testing import PUBLIC_URL, FakeClock, cheap_passwords
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, text

from relaydesk import limits
from relaydesk.broker.database import MIGRATIONS, create_database_engine, open_database
from relaydesk.broker.ratelimit import FailureLockout, TokenBucket
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from relaydesk.errors import (
    AccountNeeded,
    AuthenticationFailed,
    JoinRefused,
    PolicyRefused,
    RateLimited,
    ResetRefused,
)
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.tickets import TicketRule

REPLICAS = 2
MIGRATING_PROCESSES = 4
PROCESS_TIMEOUT = 120.0

# Each process gets ready (imports, connects), says so, and migrates once told to: all
# of them start the migration at the same moment.
MIGRATE = """
import sys
from relaydesk.broker.database import create_database_engine, migrate
engine = create_database_engine(sys.argv[1])
with engine.connect():
    pass
print("ready", flush=True)
sys.stdin.readline()
migrate(engine)
engine.dispose()
print("migrated", flush=True)
"""


@pytest.fixture
def replicas(database_url: str, clock: FakeClock) -> Iterator[list[Broker]]:
    """Brokers on one database, each with its own engine (as separate processes have)."""
    key = Ed25519PrivateKey.generate()
    stores = [Store.open(database_url, clock) for _ in range(REPLICAS)]
    yield [
        Broker(store, key, BrokerSettings(PUBLIC_URL), passwords=cheap_passwords())
        for store in stores
    ]
    for store in stores:
        store.close()


def test_login_attempts_spread_over_replicas_spend_one_budget(replicas: list[Broker]) -> None:
    for attempt in range(limits.LOGIN_PER_ADDRESS_BURST):
        with pytest.raises(AuthenticationFailed):
            replicas[attempt % REPLICAS].login(f"n{attempt}", "guess", "192.0.2.10")
    for broker in replicas:
        with pytest.raises(RateLimited, match="from this address"):
            broker.login("nobody", "guess", "192.0.2.10")
    with pytest.raises(AuthenticationFailed):  # another address has its own budget
        replicas[1].login("nobody", "guess", "192.0.2.11")


def test_failed_logins_for_one_username_add_up_over_replicas(replicas: list[Broker]) -> None:
    for attempt in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST):
        with pytest.raises(AuthenticationFailed):
            replicas[attempt % REPLICAS].login("alice", "guess", f"192.0.2.{attempt}")
    with pytest.raises(RateLimited, match="this username"):
        replicas[0].login("Alice", "guess", "198.51.100.1")


def _join(broker: Broker, session_id: str, password: str, address: str) -> None:
    keys = MemberKeys.generate(os.urandom)
    broker.join(
        session_id, "Bob", keys.agreement_public, keys.ed25519_public, address=address,
        password=password,
    )  # fmt: skip


def test_a_join_lockout_reached_over_replicas_holds_on_each(
    replicas: list[Broker], clock: FakeClock
) -> None:
    first, second = replicas
    organizer = first.store.add_account("alice", first.passwords.hash("organizer password"))
    session_id = first.create_session(organizer, "555666777", "sesame").session_id
    for attempt in range(limits.JOIN_FAILURES_BEFORE_LOCK):
        with pytest.raises(JoinRefused):
            _join(replicas[attempt % REPLICAS], session_id, "wrong", f"192.0.2.{attempt}")
    for broker in replicas:
        with pytest.raises(RateLimited, match="this session") as locked:
            _join(broker, session_id, "sesame", "198.51.100.7")
        assert locked.value.retry_after == pytest.approx(limits.JOIN_LOCK_SECONDS)
    clock.advance(limits.JOIN_LOCK_SECONDS)
    _join(second, session_id, "sesame", "198.51.100.7")


def test_concurrent_takes_on_two_replicas_never_exceed_the_burst(database_url: str) -> None:
    """Each take reads and writes its row in one locked transaction: brokers racing for
    the last tokens of a bucket cannot both get the same one."""
    engines = [open_database(database_url) for _ in range(REPLICAS)]
    burst = 20
    buckets = [
        TokenBucket(engine, "race", burst=burst, refill_seconds=3600.0) for engine in engines
    ]
    results: list[float] = []
    start = threading.Barrier(8)

    def attempt(number: int) -> None:
        start.wait()
        for _ in range(burst // 2):
            results.append(buckets[number % REPLICAS].take("shared", 0.0))

    try:
        threads = [threading.Thread(target=attempt, args=(number,)) for number in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8 * (burst // 2)
        assert results.count(0.0) == burst
    finally:
        for engine in engines:
            engine.dispose()


def test_concurrent_failures_on_two_replicas_all_count(database_url: str) -> None:
    engines = [open_database(database_url) for _ in range(REPLICAS)]
    failures = 12
    lockouts = [
        FailureLockout(
            engine, "race", max_failures=failures, window_seconds=60.0, lock_seconds=300.0
        )
        for engine in engines
    ]
    start = threading.Barrier(failures)

    def fail(number: int) -> None:
        start.wait()
        lockouts[number % REPLICAS].fail("123456789", 0.0)

    try:
        threads = [threading.Thread(target=fail, args=(number,)) for number in range(failures)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for lockout in lockouts:
            assert lockout.wait("123456789", 1.0) == pytest.approx(299.0)
    finally:
        for engine in engines:
            engine.dispose()


def test_brokers_starting_together_on_a_fresh_database_migrate_it_once(
    database_url: str,
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(MIGRATING_PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:  # all at once: each is waiting for this line
            assert process.stdin is not None
            process.stdin.write("\n")
            process.stdin.flush()
        for process in processes:
            out, err = process.communicate(timeout=PROCESS_TIMEOUT)
            assert process.returncode == 0, err
            assert out == "migrated\n"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [ScriptDirectory(str(MIGRATIONS)).get_current_head()]
        assert "rate_limits" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_policy_set_through_one_replica_holds_on_every_other(replicas: list[Broker]) -> None:
    """The site policy lives in the shared database: what an administrator sets through
    one broker, the others enforce at once (docs/operators.md, "Site policy")."""
    first, second = replicas
    alice = first.store.add_account("alice", first.passwords.hash("correct horse battery"))
    first.store.set_admin("alice", True)
    admin = first.store.account_by_id(alice.id)
    assert admin is not None and admin.is_admin
    created = second.create_session(admin)
    first.set_policy(admin, {"restricted_access": True, "disable_sharing": True})
    member = MemberKeys.generate(os.urandom)
    keys = (member.agreement_public, member.ed25519_public)
    with pytest.raises(AccountNeeded):
        second.join(created.session_id, "Guest", *keys, address="192.0.2.30")
    token = second.login("alice", "correct horse battery", "192.0.2.31").token
    joined = second.join(created.session_id, "Alice", *keys, address="192.0.2.31", token=token)
    assert TicketRule.NO_SHARING in joined.rules
    first.set_policy(admin, {"require_session_password": True})
    with pytest.raises(PolicyRefused):
        second.create_session(admin)


def test_a_reset_approved_on_one_replica_is_used_on_another(replicas: list[Broker]) -> None:
    first, second = replicas
    first.store.add_account("bob", first.passwords.hash("the old password, long"))
    first.store.add_account("root", first.passwords.hash("the admins password"))
    first.store.set_admin("root", True)
    found = first.store.account("root")
    assert found is not None
    root = found[0]
    first.resets.request("bob", "192.0.2.40")
    [waiting] = second.store.password_resets()
    code = second.resets.approve(waiting.id, root).code
    for attempt in range(limits.RESET_FAILURES_PER_USERNAME_BURST):
        with pytest.raises(ResetRefused):
            replicas[attempt % REPLICAS].resets.complete(
                "bob", "WRONG-CODE-AAAA", "a brand new password", f"192.0.2.{50 + attempt}"
            )
    with pytest.raises(RateLimited):  # the failures added up over both replicas
        first.resets.complete("bob", code, "a brand new password", "192.0.2.60")
    second.clock.advance(limits.RESET_FAILURES_PER_USERNAME_REFILL_SECONDS)  # type: ignore[attr-defined]
    first.resets.complete("bob", code, "a brand new password", "192.0.2.60")
    assert second.login("bob", "a brand new password", "192.0.2.61").token
    with pytest.raises(ResetRefused):  # once only, on every replica
        second.resets.complete("bob", code, "and yet another one", "192.0.2.62")
