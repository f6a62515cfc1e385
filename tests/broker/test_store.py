"""The repository, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest
from broker_testing import START, FakeClock

from relaydesk.broker.store import Store
from relaydesk.errors import AccountExists, AccountNotFound, BrokerError, SessionIdTaken
from relaydesk.protocol.messages import Role
from relaydesk.relay.records import MAX_DETAIL_CHARS, RecordKind


def uid() -> bytes:
    return secrets.token_bytes(16)


def test_accounts(any_store: Store) -> None:
    added = any_store.add_account("alice", "$argon2id$fake")
    assert added.username == "alice" and not added.disabled
    assert added.created_at == datetime.fromtimestamp(START, UTC)
    with pytest.raises(AccountExists):
        any_store.add_account("alice", "$argon2id$other")
    found = any_store.account("alice")
    assert found is not None and found[1] == "$argon2id$fake"
    assert any_store.account("bob") is None
    any_store.add_account("bob", "h")
    assert [a.username for a in any_store.accounts()] == ["alice", "bob"]


def test_usernames_are_checked(any_store: Store) -> None:
    for bad in ("", " alice", "al ice", "-alice", "a" * 65, "alice\n"):
        with pytest.raises(BrokerError, match="username"):
            any_store.add_account(bad, "h")


def test_disabling_ends_logins(any_store: Store, clock: FakeClock) -> None:
    account = any_store.add_account("alice", "h")
    any_store.add_token("a" * 64, account.id, datetime.fromtimestamp(START + 60, UTC))
    assert any_store.account_for_token("a" * 64) == account
    any_store.set_disabled("alice", True)
    assert any_store.account_for_token("a" * 64) is None
    assert any_store.accounts()[0].disabled
    any_store.set_disabled("alice", False)
    assert not any_store.accounts()[0].disabled
    with pytest.raises(AccountNotFound):
        any_store.set_disabled("nobody", True)


def test_tokens_expire(any_store: Store, clock: FakeClock) -> None:
    account = any_store.add_account("alice", "h")
    any_store.add_token("b" * 64, account.id, datetime.fromtimestamp(START + 60, UTC))
    clock.advance(59)
    assert any_store.account_for_token("b" * 64) is not None
    clock.advance(1)
    assert any_store.account_for_token("b" * 64) is None
    assert any_store.account_for_token("c" * 64) is None


def test_live_session_ids_are_unique_but_reusable_after_the_end(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    first = any_store.create_session("123456789", uid(), organizer.id, None)
    with pytest.raises(SessionIdTaken):
        any_store.create_session("123456789", uid(), organizer.id, None)
    assert any_store.live_session("123456789") == first
    assert any_store.end_session(first.session_uid)
    assert not any_store.end_session(first.session_uid)
    assert any_store.live_session("123456789") is None
    second = any_store.create_session("123456789", uid(), organizer.id, "$argon2id$x")
    assert any_store.live_session("123456789") == second
    assert second.password_hash == "$argon2id$x"


def test_member_ids_count_up_and_stop_at_the_end(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("987654321", uid(), organizer.id, None)
    assert [any_store.allocate_member_id(session.session_uid) for _ in range(3)] == [1, 2, 3]
    any_store.end_session(session.session_uid)
    assert any_store.allocate_member_id(session.session_uid) is None
    assert any_store.allocate_member_id(uid()) is None


def test_record_sink_writes_metadata_records(any_store: Store, clock: FakeClock) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("111222333", uid(), organizer.id, None)
    any_store.session_started(session.session_uid)
    any_store.session_started(session.session_uid)  # once only
    any_store.member_joined(session.session_uid, 1, "Alice", Role.HOST)
    clock.advance(5)
    any_store.member_joined(session.session_uid, 2, "Bob", "participant")
    clock.advance(60)
    any_store.member_left(session.session_uid, 2, 1234, 5_000_000_000)
    any_store.session_ended(session.session_uid)
    any_store.session_ended(session.session_uid)  # once only
    records = any_store.records()
    assert [(r.kind, r.member_id, r.display_name, r.role) for r in records] == [
        (RecordKind.SESSION_START, None, None, None),
        (RecordKind.JOIN, 1, "Alice", "host"),
        (RecordKind.JOIN, 2, "Bob", "participant"),
        (RecordKind.LEAVE, 2, "Bob", "participant"),
        (RecordKind.SESSION_END, None, None, None),
    ]
    leave = records[3]
    assert (leave.bytes_in, leave.bytes_out) == (1234, 5_000_000_000)
    assert leave.at == datetime.fromtimestamp(START + 65, UTC)
    assert {r.session_id for r in records} == {"111222333"}
    assert {r.session_uid for r in records} == {session.session_uid}
    assert any_store.live_session("111222333") is None  # session_ended ends it


def test_consent_grant_revoke_and_refusal_records_name_the_member(
    any_store: Store,
) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("111222333", uid(), organizer.id, None)
    any_store.member_joined(session.session_uid, 1, "Alice", Role.HOST)
    any_store.member_joined(session.session_uid, 2, "Bob", Role.PARTICIPANT)
    events = [
        (RecordKind.CONSENT_ASKED, 1, "what=control asked_by=2"),
        (RecordKind.CONSENT_ANSWERED, 1, "what=control asked_by=2 result=granted"),
        (RecordKind.GRANT, 2, "what=control"),
        (RecordKind.REVOKE, 2, "what=control reason=by_presenter"),
        (RecordKind.REFUSED, 2, "action=dropped_input reason=" + "x" * 500),
    ]
    for kind, member_id, detail in events:
        any_store.member_event(session.session_uid, kind, member_id, detail)
    records = any_store.records()[2:]
    assert [(r.kind, r.member_id, r.display_name, r.role) for r in records] == [
        (RecordKind.CONSENT_ASKED, 1, "Alice", "host"),
        (RecordKind.CONSENT_ANSWERED, 1, "Alice", "host"),
        (RecordKind.GRANT, 2, "Bob", "participant"),
        (RecordKind.REVOKE, 2, "Bob", "participant"),
        (RecordKind.REFUSED, 2, "Bob", "participant"),
    ]
    assert [r.detail for r in records[:4]] == [detail for _, _, detail in events[:4]]
    assert records[4].detail == events[4][2][:MAX_DETAIL_CHARS]  # bounded
    assert all(r.detail is None for r in any_store.records()[:2])


def test_events_of_unknown_sessions_are_dropped(any_store: Store) -> None:
    stranger = uid()
    any_store.session_started(stranger)
    any_store.member_joined(stranger, 1, "X", Role.HOST)
    any_store.member_left(stranger, 1, 1, 1)
    any_store.member_event(stranger, RecordKind.GRANT, 1, "what=present")
    any_store.session_ended(stranger)
    assert any_store.records() == []


def test_records_since_and_per_organizer(any_store: Store, clock: FakeClock) -> None:
    alice = any_store.add_account("alice", "h")
    bob = any_store.add_account("bob", "h")
    hers = any_store.create_session("100000001", uid(), alice.id, None)
    his = any_store.create_session("100000002", uid(), bob.id, None)
    any_store.session_started(hers.session_uid)
    clock.advance(3600)
    any_store.session_started(his.session_uid)
    any_store.member_joined(hers.session_uid, 1, "Alice", "host")
    assert len(any_store.records()) == 3
    assert [r.session_uid for r in any_store.records(organizer_id=alice.id)] == [
        hers.session_uid,
        hers.session_uid,
    ]
    later = datetime.fromtimestamp(START + 1800, UTC)
    assert [r.kind for r in any_store.records(since=later)] == [
        RecordKind.SESSION_START,
        RecordKind.JOIN,
    ]
    in_paris = later.astimezone(timezone(timedelta(hours=1)))
    assert len(any_store.records(since=in_paris)) == 2
