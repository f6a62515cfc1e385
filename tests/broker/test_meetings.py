"""Meeting settings at the broker: what a session is created with, who may join it (an
e-mail address asked, a locked meeting, two parties at most), what the ticket says, and
which sessions are listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broker_testing import Client, FakeClock, Organizer, TestClient, create, join, unb64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relaydesk.broker.service import Broker
from relaydesk.protocol.messages import Role
from relaydesk.protocol.tickets import Ticket, TicketRule, verify_ticket
from relaydesk.relay.records import RecordKind

REFUSED = {"detail": "No session with that ID and password."}
EMAIL_REQUIRED = {"detail": "This session asks for your e-mail address."}
LOCKED = {"detail": "This meeting is locked: nobody new can join."}
TWO_PARTY_FULL = {"detail": "This support session already has both parties."}
ALL_SETTINGS = {
    "title": "Support for Bob",
    "listed": True,
    "lobby": True,
    "two_party": True,
    "require_email": True,
    "join_before_host": False,
}
DEFAULTS = {
    "title": None,
    "listed": False,
    "lobby": False,
    "two_party": False,
    "require_email": False,
    "join_before_host": True,
}


def ticket_of(answer: Any, broker: Broker, clock: FakeClock) -> Ticket:
    assert answer.status_code == 200, answer.text
    public = Ed25519PublicKey.from_public_bytes(broker.public_key)
    return verify_ticket(unb64(answer.json()["ticket"]), public, now=clock())


# Settings -----------------------------------------------------------------------------


def test_settings_are_stored_and_returned(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    created = create(client, organizer, **{**ALL_SETTINGS, "title": "  Support for Bob "})
    assert created["settings"] == ALL_SETTINGS
    session = broker.store.live_session(created["session_id"])
    assert session is not None
    assert session.settings.title == "Support for Bob"
    assert (session.settings.lobby, session.settings.join_before_host) == (True, False)


def test_joiners_learn_the_title_and_nothing_else_of_the_settings(
    client: TestClient, organizer: Organizer
) -> None:
    titled = create(client, organizer, title="Support for Bob", lobby=True)
    answer = join(client, titled["session_id"]).json()
    assert answer["title"] == "Support for Bob" and answer["waits_in_lobby"] is True
    untitled = create(client, organizer)
    assert join(client, untitled["session_id"]).json()["title"] is None


def test_settings_default_to_an_open_unlisted_meeting(
    client: TestClient, organizer: Organizer
) -> None:
    assert create(client, organizer)["settings"] == DEFAULTS
    assert create(client, organizer, title="")["settings"] == DEFAULTS


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "t" * 101, "at most 100"),
        ("title", "a\u202eb", "control characters"),
        ("title", "t" * 401, "at most 400"),
        ("lobby", "perhaps", "boolean"),
    ],
)
def test_bad_settings_are_refused(
    client: TestClient, organizer: Organizer, field: str, value: str, message: str
) -> None:
    answer = client.post("/api/sessions", json={field: value}, headers=organizer.headers)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]


# Joining under the session's rules ----------------------------------------------------


def test_a_session_asking_for_an_e_mail_address_refuses_joins_without_one(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    session_id = create(client, organizer, require_email=True, password="sesame")["session_id"]
    without = join(client, session_id, password="sesame")
    blank = join(client, session_id, password="sesame", email="   ")
    implausible = join(client, session_id, password="sesame", email="bob at example")
    assert [a.status_code for a in (without, blank, implausible)] == [400, 400, 400]
    assert without.json() == blank.json() == implausible.json() == EMAIL_REQUIRED
    # The password comes first: a wrong one tells nothing about the session's rules.
    assert join(client, session_id, password="wrong").json() == REFUSED
    joined = join(client, session_id, password="sesame", email=" Bob@Example.ORG ")
    assert ticket_of(joined, broker, clock).email == "Bob@example.org"
    # The organizer, joining as host, is known by their account.
    host = join(client, session_id, headers=organizer.headers)
    assert ticket_of(host, broker, clock).email == ""


def test_an_implausible_e_mail_address_is_refused_even_when_not_asked_for(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    session_id = create(client, organizer)["session_id"]
    answer = join(client, session_id, email="bob@example")
    assert answer.status_code == 400
    assert answer.json() == {"detail": "That does not look like an e-mail address."}
    assert ticket_of(join(client, session_id), broker, clock).email == ""
    assert ticket_of(join(client, session_id, email=""), broker, clock).email == ""
    too_long = join(client, session_id, email="b" * 243 + "@example.org")
    assert too_long.status_code == 422


def test_a_locked_meeting_refuses_new_joins_until_unlocked(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    created = create(client, organizer, password="sesame")
    session_id, uid = created["session_id"], bytes.fromhex(created["session_uid"])
    assert join(client, session_id, password="sesame").status_code == 200
    broker.record_sink.session_locked(uid, True, 1)
    locked = join(client, session_id, password="sesame")
    assert locked.status_code == 403
    assert locked.json() == LOCKED
    assert join(client, session_id, password="wrong").json() == REFUSED  # password first
    # The organizer still gets in (a host who lost their connection comes back).
    assert join(client, session_id, headers=organizer.headers).status_code == 200
    broker.record_sink.session_locked(uid, False, 1)
    assert join(client, session_id, password="sesame").status_code == 200
    kinds = [(r.kind, r.detail) for r in broker.store.records()]
    assert kinds == [
        (RecordKind.LOCK, "locked=true by=1"),
        (RecordKind.LOCK, "locked=false by=1"),
    ]


def test_a_two_party_session_refuses_a_third_party(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    created = create(client, organizer, two_party=True, password="sesame")
    session_id, uid = created["session_id"], bytes.fromhex(created["session_uid"])
    host = join(client, session_id, headers=organizer.headers)
    guest = join(client, session_id, password="sesame")
    assert TicketRule.TWO_PARTY in ticket_of(host, broker, clock).rules
    assert TicketRule.TWO_PARTY in ticket_of(guest, broker, clock).rules
    # Tickets alone do not fill it: the relay's join records do.
    broker.record_sink.member_joined(uid, host.json()["member_id"], "Alice", Role.HOST)
    assert join(client, session_id, password="sesame").status_code == 200
    broker.record_sink.member_joined(uid, guest.json()["member_id"], "Bob", Role.PARTICIPANT)
    third = join(client, session_id, password="sesame")
    assert third.status_code == 409
    assert third.json() == TWO_PARTY_FULL
    assert join(client, session_id, password="wrong").json() == REFUSED  # password first
    assert join(client, session_id, headers=organizer.headers).json() == TWO_PARTY_FULL


def test_an_ordinary_session_admits_more_than_two(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    created = create(client, organizer)
    uid = bytes.fromhex(created["session_uid"])
    for member_id in (1, 2, 3):
        broker.record_sink.member_joined(uid, member_id, f"M{member_id}", Role.PARTICIPANT)
    assert join(client, created["session_id"]).status_code == 200


def test_the_rules_are_checked_in_order(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    """E-mail address, then lock, then two parties."""
    created = create(client, organizer, require_email=True, two_party=True)
    session_id, uid = created["session_id"], bytes.fromhex(created["session_uid"])
    broker.record_sink.member_joined(uid, 1, "Alice", Role.HOST)
    broker.record_sink.member_joined(uid, 2, "Bob", Role.PARTICIPANT)
    broker.record_sink.session_locked(uid, True, 1)
    assert join(client, session_id).json() == EMAIL_REQUIRED
    assert join(client, session_id, email="carol@example.org").json() == LOCKED
    broker.record_sink.session_locked(uid, False, 1)
    assert join(client, session_id, email="carol@example.org").json() == TWO_PARTY_FULL


# What the ticket says -----------------------------------------------------------------


def test_tickets_carry_the_rules_wait_in_lobby_only_for_non_hosts(
    client: TestClient,
    add_organizer: Callable[[str], Organizer],
    broker: Broker,
    clock: FakeClock,
) -> None:
    alice, carol = add_organizer("alice"), add_organizer("carol")
    session_id = create(client, alice, lobby=True, join_before_host=False)["session_id"]
    host = join(client, session_id, headers=alice.headers)
    guest = join(client, session_id, email="bob@example.org")
    other_organizer = join(client, session_id, headers=carol.headers)
    assert ticket_of(host, broker, clock).rules == TicketRule(0)
    assert host.json()["waits_in_lobby"] is False
    for answer in (guest, other_organizer):
        assert ticket_of(answer, broker, clock).rules == TicketRule.WAIT_IN_LOBBY
        assert answer.json()["waits_in_lobby"] is True
    assert ticket_of(guest, broker, clock).email == "bob@example.org"
    assert ticket_of(guest, broker, clock).role is Role.PARTICIPANT


def test_tickets_of_a_default_session_let_members_join_before_the_host(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    session_id = create(client, organizer)["session_id"]
    guest = join(client, session_id)
    assert ticket_of(guest, broker, clock).rules == TicketRule.JOIN_BEFORE_HOST
    assert guest.json()["waits_in_lobby"] is False
    support = create(client, organizer, two_party=True, lobby=True)["session_id"]
    assert ticket_of(join(client, support), broker, clock).rules == (
        TicketRule.WAIT_IN_LOBBY | TicketRule.TWO_PARTY | TicketRule.JOIN_BEFORE_HOST
    )


def test_the_e_mail_address_reaches_the_records(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    created = create(client, organizer)
    uid = bytes.fromhex(created["session_uid"])
    broker.record_sink.member_joined(uid, 1, "Bob", Role.PARTICIPANT, "bob@example.org")
    records = client.get("/api/records", headers=organizer.headers).json()
    assert [(r["kind"], r["email"]) for r in records] == [("join", "bob@example.org")]


# Listed sessions ----------------------------------------------------------------------


def test_the_listing_shows_only_live_listed_sessions(
    client_from: Client, add_organizer: Callable[[str], Organizer]
) -> None:
    alice, carol = add_organizer("alice"), add_organizer("carol")
    client = client_from()
    town_hall = create(client, alice, listed=True, title="Town hall", password="sesame")
    create(client, alice, title="Private")
    carols = create(client, carol, listed=True)
    ended = create(client, carol, listed=True, title="Over")
    client.post(f"/api/sessions/{ended['session_id']}/end", headers=carol.headers)
    anyone = client_from("192.0.2.99")
    answer = anyone.get("/api/sessions/listed")
    assert answer.status_code == 200
    assert answer.json() == [
        {"session_id": town_hall["session_id"], "title": "Town hall", "host": "alice"},
        {"session_id": carols["session_id"], "title": None, "host": "carol"},
    ]
    assert answer.headers["Cache-Control"] == "no-store"
    client.post(f"/api/sessions/{town_hall['session_id']}/end", headers=alice.headers)
    assert [s["host"] for s in anyone.get("/api/sessions/listed").json()] == ["carol"]


def test_the_listing_is_empty_without_listed_sessions(
    client: TestClient, organizer: Organizer
) -> None:
    create(client, organizer)
    assert client.get("/api/sessions/listed").json() == []
