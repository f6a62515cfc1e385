"""The repository, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest
from broker_testing import START, FakeClock

from relaydesk.broker.store import ListedSession, SessionSettings, Store, TotpState
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


def test_session_settings_are_stored(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    settings = SessionSettings(
        title="Support for Bob",
        listed=True,
        lobby=True,
        two_party=True,
        require_email=True,
        join_before_host=False,
    )
    created = any_store.create_session("123456789", uid(), organizer.id, None, settings)
    assert created.settings == settings
    found = any_store.live_session("123456789")
    assert found is not None and found.settings == settings and not found.locked
    plain = any_store.create_session("123456780", uid(), organizer.id, None)
    assert plain.settings == SessionSettings()
    assert plain.settings.join_before_host


def test_session_locked_records_a_lock_and_sets_the_flag(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("111222333", uid(), organizer.id, None)
    any_store.member_joined(session.session_uid, 1, "Alice", Role.HOST, "alice@example.org")
    any_store.session_locked(session.session_uid, True, 1)
    found = any_store.live_session("111222333")
    assert found is not None and found.locked
    any_store.session_locked(session.session_uid, False, 1)
    found = any_store.live_session("111222333")
    assert found is not None and not found.locked
    locks = [r for r in any_store.records() if r.kind is RecordKind.LOCK]
    assert [(r.member_id, r.display_name, r.role, r.email, r.detail) for r in locks] == [
        (1, "Alice", "host", "alice@example.org", "locked=true by=1"),
        (1, "Alice", "host", "alice@example.org", "locked=false by=1"),
    ]
    any_store.session_locked(uid(), True, 1)  # an unknown session: dropped


def test_join_records_keep_the_e_mail_address_and_later_records_repeat_it(
    any_store: Store,
) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("111222333", uid(), organizer.id, None)
    any_store.member_joined(session.session_uid, 2, "Bob", Role.PARTICIPANT, "bob@example.org")
    any_store.member_joined(session.session_uid, 3, "Carol", Role.PARTICIPANT)
    any_store.member_event(session.session_uid, RecordKind.EXPEL, 2, "by=1")
    any_store.member_left(session.session_uid, 2, 1, 2)
    any_store.member_left(session.session_uid, 3, 1, 2)
    assert [(r.kind, r.member_id, r.email) for r in any_store.records()] == [
        (RecordKind.JOIN, 2, "bob@example.org"),
        (RecordKind.JOIN, 3, None),
        (RecordKind.EXPEL, 2, "bob@example.org"),
        (RecordKind.LEAVE, 2, "bob@example.org"),
        (RecordKind.LEAVE, 3, None),
    ]


def test_joined_members_counts_distinct_members_from_join_records(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    session = any_store.create_session("111222333", uid(), organizer.id, None)
    other = any_store.create_session("111222334", uid(), organizer.id, None)
    assert any_store.joined_members(session.session_uid) == 0
    any_store.member_joined(session.session_uid, 1, "Alice", Role.HOST)
    any_store.member_joined(session.session_uid, 1, "Alice", Role.HOST)  # reconnected
    any_store.member_joined(other.session_uid, 1, "Alice", Role.HOST)
    any_store.member_event(session.session_uid, RecordKind.LOBBY, 2, "reason=approval")
    assert any_store.joined_members(session.session_uid) == 1
    any_store.member_joined(session.session_uid, 2, "Bob", Role.PARTICIPANT)
    assert any_store.joined_members(session.session_uid) == 2


def test_listed_sessions_are_live_listed_ones_with_their_organizer(any_store: Store) -> None:
    alice = any_store.add_account("alice", "h")
    bob = any_store.add_account("bob", "h")
    listed = SessionSettings(title="Town hall", listed=True)
    first = any_store.create_session("100000001", uid(), alice.id, None, listed)
    any_store.create_session("100000002", uid(), alice.id, None)  # unlisted
    any_store.create_session("100000003", uid(), bob.id, None, SessionSettings(listed=True))
    ended = any_store.create_session("100000004", uid(), bob.id, None, listed)
    any_store.end_session(ended.session_uid)
    assert any_store.listed_sessions(10) == [
        ListedSession("100000001", "Town hall", "alice"),
        ListedSession("100000003", None, "bob"),
    ]
    assert any_store.listed_sessions(1) == [ListedSession("100000001", "Town hall", "alice")]
    any_store.end_session(first.session_uid)
    assert [s.session_id for s in any_store.listed_sessions(10)] == ["100000003"]


def test_logins_can_be_looked_up_and_deleted(any_store: Store) -> None:
    account = any_store.add_account("alice", "h")
    expires = datetime.fromtimestamp(START + 60, UTC)
    any_store.add_token("d" * 64, account.id, expires)
    assert any_store.token_login("d" * 64) == (account, expires)
    assert any_store.delete_token("d" * 64)
    assert not any_store.delete_token("d" * 64)
    assert any_store.token_login("d" * 64) is None


def test_totp_state_steps_and_recovery_codes(any_store: Store) -> None:
    account = any_store.add_account("alice", "h")
    any_store.set_pending_totp(account.id, "A" * 32)
    assert any_store.totp_state(account.id) == TotpState(None, "A" * 32, None)
    assert not any_store.accept_totp_step(account.id, 5)  # not on yet
    assert not any_store.confirm_totp(account.id, "B" * 32, 10, ["1" * 64])  # not pending
    assert any_store.confirm_totp(account.id, "A" * 32, 10, ["1" * 64, "2" * 64])
    assert any_store.totp_state(account.id) == TotpState("A" * 32, None, 10)
    found = any_store.account("alice")
    assert found is not None and found[0].totp_enabled
    assert not any_store.accept_totp_step(account.id, 10)  # replayed
    assert not any_store.accept_totp_step(account.id, 9)  # older
    assert any_store.accept_totp_step(account.id, 11)
    assert any_store.recovery_codes_left(account.id) == 2
    assert any_store.use_recovery_code(account.id, "1" * 64)
    assert not any_store.use_recovery_code(account.id, "1" * 64)  # once only
    assert not any_store.use_recovery_code(account.id, "3" * 64)
    assert any_store.recovery_codes_left(account.id) == 1
    other = any_store.add_account("bob", "h")
    assert not any_store.use_recovery_code(other.id, "2" * 64)  # not his
    any_store.disable_totp(account.id)
    assert any_store.totp_state(account.id) == TotpState(None, None, None)
    assert any_store.recovery_codes_left(account.id) == 0
    any_store.set_pending_totp(account.id, "C" * 32)
    assert any_store.confirm_totp(account.id, "C" * 32, 20, ["4" * 64])
    assert any_store.reset_totp("alice")
    assert not any_store.reset_totp("alice")
    assert any_store.totp_state(account.id) == TotpState(None, None, None)
    assert any_store.recovery_codes_left(account.id) == 0
    with pytest.raises(AccountNotFound):
        any_store.reset_totp("nobody")
