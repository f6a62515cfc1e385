"""The broker's side of several relays, on SQLite and PostgreSQL: the registry, the signed
relay reports and every refusal of them, placement by load, and ticket refresh."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from broker_testing import (
    ORGANIZER_PASSWORD,
    PUBLIC_URL,
    FakeClock,
    Organizer,
    TestClient,
    b64,
    cheap_passwords,
    create,
    join_body,
    ticket_in,
    unb64,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from relaydesk import limits
from relaydesk.broker.api import create_api
from relaydesk.broker.relays import RelayRegistry
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from relaydesk.errors import BrokerError, RelayExists, RelayNotRegistered
from relaydesk.ops.headers import SecurityHeaders
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import Role
from relaydesk.protocol.tickets import TicketRule, read_ticket, refresh_message
from relaydesk.relay.identity import public_text, sign_report
from relaydesk.relay.records import RecordKind
from relaydesk.server.app import create_app, page_headers

FINGERPRINT = "ab" * 32


class Relay:
    """A registered relay as the broker sees it: a key, a name and a rising counter."""

    def __init__(self, client: TestClient, name: str, clock: FakeClock) -> None:
        self.client = client
        self.name = name
        self.key = Ed25519PrivateKey.generate()
        self.clock = clock
        self.counter = 100

    def body(self, **fields: Any) -> bytes:
        self.counter += 1
        return json.dumps({"counter": self.counter, "sent_at": self.clock(), **fields}).encode()

    def post(self, path: str, body: bytes, key: Ed25519PrivateKey | None = None) -> Any:
        headers = {
            "Content-Type": "application/json",
            "X-Relaydesk-Relay": self.name,
            "X-Relaydesk-Signature": sign_report(key or self.key, body),
        }
        return self.client.post(f"/api/relays/{path}", content=body, headers=headers)

    def beat(self, connections: int = 0, sessions: list[str] | None = None) -> Any:
        body = self.body(
            wss_url=f"wss://{self.name}.example.org:9443/relay",
            tcp_address=f"{self.name}.example.org:9444",
            fingerprint=FINGERPRINT,
            connections=connections,
            sessions=sessions or [],
        )
        return self.post("heartbeat", body)

    def records(self, records: list[dict[str, Any]]) -> Any:
        return self.post("records", self.body(records=records))


@pytest.fixture
def relay_broker(any_store: Store) -> Broker:
    return Broker(any_store, Ed25519PrivateKey.generate(), BrokerSettings(PUBLIC_URL),
                  passwords=cheap_passwords())  # fmt: skip


@pytest.fixture
def api(relay_broker: Broker) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(create_api(relay_broker))
    with TestClient(app, base_url=PUBLIC_URL, client=("203.0.113.9", 50000)) as client:
        yield client


@pytest.fixture
def host(relay_broker: Broker, api: TestClient) -> Organizer:
    relay_broker.store.add_account("alice", relay_broker.passwords.hash(ORGANIZER_PASSWORD))
    answer = api.post("/api/login", json={"username": "alice", "password": ORGANIZER_PASSWORD})
    return Organizer("alice", answer.json()["token"])


def register(broker: Broker, api: TestClient, clock: FakeClock, name: str) -> Relay:
    relay = Relay(api, name, clock)
    broker.relays.add(name, public_text(relay.key))
    return relay


def two_relays(
    broker: Broker, api: TestClient, clock: FakeClock, load_a: int, load_b: int
) -> tuple[Relay, Relay]:
    """relay-a and relay-b registered, each live with the connections it reports."""
    relay_a = register(broker, api, clock, "relay-a")
    relay_b = register(broker, api, clock, "relay-b")
    relay_a.beat(load_a)
    relay_b.beat(load_b)
    return relay_a, relay_b


def join_as(api: TestClient, session_id: str, name: str = "Bob") -> tuple[Any, Ed25519PrivateKey]:
    keys, body = join_body(name)
    return api.post(f"/api/sessions/{session_id}/join", json=body), keys.signing


# The registry ---------------------------------------------------------------------------


def test_relays_are_added_listed_and_removed(relay_broker: Broker) -> None:
    registry = relay_broker.relays
    key = public_text(Ed25519PrivateKey.generate())
    registry.add("relay-b", key)
    registry.add("relay-a", public_text(Ed25519PrivateKey.generate()))
    assert [relay.name for relay in registry.relays()] == ["relay-a", "relay-b"]
    assert registry.live() == []  # no heartbeat yet
    with pytest.raises(RelayExists):
        registry.add("relay-b", public_text(Ed25519PrivateKey.generate()))
    with pytest.raises(RelayExists):
        registry.add("relay-c", key)  # the same key under another name
    with pytest.raises(BrokerError, match="relay key"):
        registry.add("relay-d", "not a key")
    with pytest.raises(BrokerError, match="relay name"):
        registry.add("Relay_D", public_text(Ed25519PrivateKey.generate()))
    registry.remove("relay-b")
    assert [relay.name for relay in registry.relays()] == ["relay-a"]
    with pytest.raises(RelayNotRegistered):
        registry.remove("relay-b")


# Signed reports and their refusals ------------------------------------------------------


def test_a_heartbeat_makes_a_relay_live_and_answers_ended_sessions(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    relay = register(relay_broker, api, clock, "relay-a")
    live = create(api, host)
    ended = create(api, host)
    api.post(f"/api/sessions/{ended['session_id']}/end", headers=host.headers)
    answer = relay.beat(3, [live["session_uid"], ended["session_uid"], "00" * 16])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ended": [ended["session_uid"]]}
    [info] = relay_broker.relays.live()
    assert (info.name, info.connections, info.fingerprint) == ("relay-a", 3, FINGERPRINT)
    assert info.tcp_address == "relay-a.example.org:9444"
    clock.advance(limits.RELAY_DEAD_SECONDS + 0.1)
    assert relay_broker.relays.live() == []


def test_reports_from_unknown_relays_or_with_bad_signatures_are_refused(
    relay_broker: Broker, api: TestClient, clock: FakeClock
) -> None:
    relay = register(relay_broker, api, clock, "relay-a")
    stranger = Relay(api, "relay-x", clock)
    assert stranger.beat().status_code == 401
    assert (
        relay.post("heartbeat", relay.body(), key=Ed25519PrivateKey.generate()).status_code == 401
    )
    body = relay.body(records=[])
    headers = {"X-Relaydesk-Relay": "relay-a", "X-Relaydesk-Signature": "AAAA"}
    assert api.post("/api/relays/records", content=body, headers=headers).status_code == 401
    relay_broker.relays.remove("relay-a")
    assert relay.beat().status_code == 401


def test_a_replayed_report_is_refused(
    relay_broker: Broker, api: TestClient, clock: FakeClock
) -> None:
    relay = register(relay_broker, api, clock, "relay-a")
    body = relay.body(records=[])
    assert relay.post("records", body).status_code == 200
    again = relay.post("records", body)
    assert again.status_code == 409
    assert "replay" in again.json()["detail"]
    relay.counter -= 5  # an older counter, freshly signed
    assert relay.records([]).status_code == 409
    relay.counter += 10
    assert relay.records([]).status_code == 200


def test_a_second_replica_refuses_what_the_first_accepted(
    relay_broker: Broker, api: TestClient, clock: FakeClock, any_store: Store
) -> None:
    """Two brokers on one database: the counter lives there, not in a process."""
    relay = register(relay_broker, api, clock, "relay-a")
    other = Broker(Store(any_store.engine, clock), Ed25519PrivateKey.generate(),
                   BrokerSettings(PUBLIC_URL), passwords=cheap_passwords())  # fmt: skip
    app = FastAPI()
    app.include_router(create_api(other))
    body = relay.body(records=[])
    assert relay.post("records", body).status_code == 200
    with TestClient(app, base_url=PUBLIC_URL) as second:
        relay.client = second
        assert relay.post("records", body).status_code == 409


def test_stale_large_malformed_and_overfull_reports_are_refused(
    relay_broker: Broker, api: TestClient, clock: FakeClock
) -> None:
    relay = register(relay_broker, api, clock, "relay-a")
    relay.clock = FakeClock(clock() - limits.RELAY_REPORT_CLOCK_SKEW_SECONDS - 1)
    assert relay.records([]).status_code == 401
    relay.clock = FakeClock(clock() + limits.RELAY_REPORT_CLOCK_SKEW_SECONDS + 1)
    assert relay.records([]).status_code == 401
    relay.clock = clock
    padding = "x" * limits.MAX_RELAY_REPORT_BYTES
    assert relay.post("records", relay.body(records=[], pad=padding)).status_code == 413
    assert relay.post("records", b"{not json").status_code == 422
    assert relay.post("records", relay.body(records=[{"call": "nothing"}])).status_code == 422
    incomplete = {"call": "member_left", "session_uid": "00" * 16, "member_id": 1}
    assert relay.records([incomplete]).status_code == 422
    ended = {"call": "session_ended", "session_uid": "00" * 16}
    overfull = relay.records([ended] * (limits.MAX_RELAY_REPORT_RECORDS + 1))
    assert overfull.status_code == 422
    assert relay.records([ended] * limits.MAX_RELAY_REPORT_RECORDS).status_code == 200


def test_records_apply_only_to_sessions_homed_on_the_relay(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    relay_a, relay_b = two_relays(relay_broker, api, clock, 0, 5)
    session = create(api, host)
    joined, _ = join_as(api, session["session_id"])
    assert joined.json()["relays"][0]["name"] == "relay-a"
    uid = session["session_uid"]
    calls = [
        {"call": "session_started", "session_uid": uid},
        {"call": "member_joined", "session_uid": uid, "member_id": 1, "display_name": "Bob",
         "role": "participant", "email": ""},
        {"call": "member_left", "session_uid": uid, "member_id": 1, "bytes_in": 7,
         "bytes_out": 9},
    ]  # fmt: skip
    answer = relay_b.records(calls)
    assert answer.json() == {"applied": 0, "ignored": 3}
    assert relay_broker.store.records() == []
    answer = relay_a.records(calls)
    assert answer.json() == {"applied": 3, "ignored": 0}
    records = relay_broker.store.records()
    assert [(r.kind.value, r.display_name) for r in records] == [
        ("session_start", None), ("join", "Bob"), ("leave", "Bob"),
    ]  # fmt: skip
    assert (records[2].bytes_in, records[2].bytes_out) == (7, 9)
    relay_a.records([{"call": "session_ended", "session_uid": uid}])
    assert relay_broker.store.live_session(session["session_id"]) is None


# Placement ------------------------------------------------------------------------------


def test_without_registered_relays_the_embedded_relay_is_home(
    api: TestClient, host: Organizer
) -> None:
    session = create(api, host)
    answer, _ = join_as(api, session["session_id"])
    assert answer.status_code == 200
    assert [relay["name"] for relay in answer.json()["relays"]] == ["embedded"]
    ticket = ticket_in(answer.json())
    assert (ticket.relay, ticket.placement) == ("embedded", 0)


def test_registered_relays_none_live_is_a_503(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    register(relay_broker, api, clock, "relay-a")
    session = create(api, host)
    answer, _ = join_as(api, session["session_id"])
    assert answer.status_code == 503
    assert "No relay is available" in answer.json()["detail"]


def test_a_session_goes_to_the_least_loaded_live_relay_and_stays(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    relay_a = register(relay_broker, api, clock, "relay-a")
    relay_b = register(relay_broker, api, clock, "relay-b")
    relay_c = register(relay_broker, api, clock, "relay-c")
    relay_a.beat(4)
    relay_b.beat(1)
    relay_c.beat(1)
    session = create(api, host)
    first, _ = join_as(api, session["session_id"])
    body = first.json()
    # fewest connections; between b and c, the name decides
    assert [relay["name"] for relay in body["relays"]] == ["relay-b", "relay-c", "relay-a"]
    assert body["relay_url"] == "wss://relay-b.example.org:9443/relay"
    assert body["relays"][0]["tcp_address"] == "relay-b.example.org:9444"
    assert body["relays"][0]["fingerprint"] == FINGERPRINT
    ticket = ticket_in(body)
    assert (ticket.relay, ticket.placement) == ("relay-b", 0)
    relay_b.beat(50)  # busier now, but the session stays where it lives
    second, _ = join_as(api, session["session_id"])
    assert second.json()["relays"][0]["name"] == "relay-b"


def test_a_session_whose_home_went_silent_is_placed_again(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    _, relay_b = two_relays(relay_broker, api, clock, 0, 1)
    session = create(api, host)
    first, _ = join_as(api, session["session_id"])
    assert first.json()["relays"][0]["name"] == "relay-a"
    clock.advance(limits.RELAY_DEAD_SECONDS + 0.1)
    relay_b.beat(1)  # relay-a says nothing more
    second, _ = join_as(api, session["session_id"])
    assert [relay["name"] for relay in second.json()["relays"]] == ["relay-b"]
    ticket = ticket_in(second.json())
    assert (ticket.relay, ticket.placement) == ("relay-b", 1)


def test_a_burst_of_sessions_between_heartbeats_spreads_over_the_relays(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    register(relay_broker, api, clock, "relay-a").beat(0)
    register(relay_broker, api, clock, "relay-b").beat(0)
    homes = []
    for _ in range(4):  # no heartbeat in between: the broker counts its own placements
        session = create(api, host)
        joined, _ = join_as(api, session["session_id"])
        homes.append(joined.json()["relays"][0]["name"])
    assert sorted(homes) == ["relay-a", "relay-a", "relay-b", "relay-b"]


def test_two_replicas_cannot_place_a_session_twice(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer, any_store: Store
) -> None:
    register(relay_broker, api, clock, "relay-a").beat(0)
    register(relay_broker, api, clock, "relay-b").beat(0)
    session = create(api, host)
    uid = bytes.fromhex(session["session_uid"])
    other = RelayRegistry(Store(any_store.engine, clock))
    # Both read "no home yet"; the first compare-and-set wins, the second changes nothing.
    assert other._place(uid, None, 0, "relay-b")
    assert not relay_broker.relays._place(uid, None, 0, "relay-a")
    home = relay_broker.relays.home(uid, relay_broker.local_relay)
    assert (home.relay.name, home.placement) == ("relay-b", 0)


# Refresh --------------------------------------------------------------------------------


def refresh(
    api: TestClient, session_id: str, ticket: bytes, key: Ed25519PrivateKey, at: float,
    failed_relay: str | None = None,
) -> Any:  # fmt: skip
    body = {
        "ticket": b64(ticket),
        "timestamp": int(at),
        "signature": b64(key.sign(refresh_message(ticket, int(at)))),
        "failed_relay": failed_relay,
    }
    return api.post(f"/api/sessions/{session_id}/refresh", json=body)


def test_refresh_gives_a_fresh_ticket_for_the_same_member(
    api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    session = create(api, host)
    joined, key = join_as(api, session["session_id"])
    old_blob = unb64(joined.json()["ticket"])
    old = read_ticket(old_blob)[2]
    clock.advance(limits.TICKET_LIFETIME_SECONDS + 60)  # expired: still refreshable
    answer = refresh(api, session["session_id"], old_blob, key, clock())
    assert answer.status_code == 200, answer.text
    new = ticket_in(answer.json())
    assert answer.json()["member_id"] == old.member_id
    assert (new.member_id, new.display_name, new.role, new.email) == (
        old.member_id, old.display_name, old.role, old.email,
    )  # fmt: skip
    assert (new.agreement, new.ed25519, new.rules) == (old.agreement, old.ed25519, old.rules)
    assert new.expires_at == int(clock()) + limits.TICKET_LIFETIME_SECONDS


def test_refresh_refuses_what_does_not_prove_the_member(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    session = create(api, host)
    other_session = create(api, host)
    joined, key = join_as(api, session["session_id"])
    blob = unb64(joined.json()["ticket"])
    now = clock()
    stranger = Ed25519PrivateKey.generate()
    assert refresh(api, session["session_id"], blob, stranger, now).status_code == 403
    assert refresh(api, other_session["session_id"], blob, key, now).status_code == 403
    skew = limits.RELAY_REPORT_CLOCK_SKEW_SECONDS + 1
    assert refresh(api, session["session_id"], blob, key, now - skew).status_code == 403
    assert refresh(api, session["session_id"], blob, key, now + skew).status_code == 403
    forged = Broker(relay_broker.store, Ed25519PrivateKey.generate(), relay_broker.settings,
                    passwords=cheap_passwords())  # fmt: skip
    agreement = MemberKeys.generate(os.urandom).agreement_public
    forged_blob = forged.join(session["session_id"], "Eve", agreement,
                              key.public_key().public_bytes_raw(), address="x").ticket  # fmt: skip
    assert refresh(api, session["session_id"], forged_blob, key, now).status_code == 403
    api.post(f"/api/sessions/{session['session_id']}/end", headers=host.headers)
    assert refresh(api, session["session_id"], blob, key, now).status_code == 403


def test_refresh_after_the_home_died_moves_the_session(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    _, relay_b = two_relays(relay_broker, api, clock, 0, 3)
    session = create(api, host)
    joined, key = join_as(api, session["session_id"])
    blob = unb64(joined.json()["ticket"])
    still = refresh(api, session["session_id"], blob, key, clock(), failed_relay="relay-a")
    assert still.json()["relays"][0]["name"] == "relay-a"  # heard from: not dead yet
    clock.advance(limits.RELAY_DEAD_SECONDS + 0.1)
    relay_b.beat(3)
    moved = refresh(api, session["session_id"], blob, key, clock(), failed_relay="relay-a")
    assert moved.status_code == 200
    ticket = ticket_in(moved.json())
    assert (ticket.relay, ticket.placement) == ("relay-b", 1)
    assert moved.json()["relay_url"] == "wss://relay-b.example.org:9443/relay"


def test_a_relay_that_missed_a_heartbeat_and_drops_members_is_taken_for_dead(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    _, relay_b = two_relays(relay_broker, api, clock, 0, 3)
    session = create(api, host)
    joined, key = join_as(api, session["session_id"])
    blob = unb64(joined.json()["ticket"])
    clock.advance(limits.RELAY_SUSPECT_SECONDS + 0.1)  # not yet RELAY_DEAD_SECONDS
    relay_b.beat(3)
    unsaid = refresh(api, session["session_id"], blob, key, clock())
    assert unsaid.json()["relays"][0]["name"] == "relay-a"  # nobody said it failed
    said = refresh(api, session["session_id"], blob, key, clock(), failed_relay="relay-a")
    assert said.json()["relays"][0]["name"] == "relay-b"
    assert ticket_in(said.json()).placement == 1


def test_refresh_carries_the_hosts_decisions_to_the_new_home(
    relay_broker: Broker, api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    # What the session's relay reported (as its records) decides the refreshed ticket:
    # a new home relay starts from the ticket alone.
    session = create(api, host, lobby=True)
    uid = bytes.fromhex(session["session_uid"])
    sink = relay_broker.record_sink
    sink.session_started(uid)
    tickets = {}
    for name in ("Ann", "Bob", "Eve", "Rex"):
        joined, key = join_as(api, session["session_id"], name)
        blob = unb64(joined.json()["ticket"])
        ticket = read_ticket(blob)[2]
        assert TicketRule.WAIT_IN_LOBBY in ticket.rules
        sink.member_joined(uid, ticket.member_id, name, Role.PARTICIPANT)
        tickets[name] = (ticket.member_id, blob, key)
    ann, bob, eve, rex = (tickets[name][0] for name in ("Ann", "Bob", "Eve", "Rex"))
    sink.member_event(uid, RecordKind.ADMIT, ann, "result=admitted by=1")
    sink.member_event(uid, RecordKind.ADMIT, bob, "result=admitted by=1")
    sink.member_event(uid, RecordKind.ROLE, bob, "role=host by=1")
    sink.member_event(uid, RecordKind.ADMIT, eve, "result=admitted by=1")
    sink.member_event(uid, RecordKind.EXPEL, eve, "by=1")
    sink.member_event(uid, RecordKind.ADMIT, rex, "result=refused by=1")

    def refreshed(name: str) -> Any:
        _, blob, key = tickets[name]
        return refresh(api, session["session_id"], blob, key, clock())

    ann_ticket = ticket_in(refreshed("Ann").json())
    assert (ann_ticket.role, TicketRule.WAIT_IN_LOBBY in ann_ticket.rules) == (
        Role.PARTICIPANT, False,
    )  # fmt: skip
    bob_answer = refreshed("Bob").json()
    assert bob_answer["role"] == "host"
    assert ticket_in(bob_answer).role is Role.HOST
    for removed in ("Eve", "Rex"):
        answer = refreshed(removed)
        assert answer.status_code == 403
        assert "removed you" in answer.json()["detail"]


def test_refresh_is_throttled_per_member(
    api: TestClient, clock: FakeClock, host: Organizer
) -> None:
    session = create(api, host)
    joined, key = join_as(api, session["session_id"])
    blob = unb64(joined.json()["ticket"])
    statuses = [
        refresh(api, session["session_id"], blob, key, clock()).status_code
        for _ in range(limits.REFRESH_PER_MEMBER_BURST + 1)
    ]
    assert statuses == [200] * limits.REFRESH_PER_MEMBER_BURST + [429]
    # Another member behind the same address refreshes, and joins, as before.
    other, other_key = join_as(api, session["session_id"], "Cy")
    assert other.status_code == 200
    other_blob = unb64(other.json()["ticket"])
    assert refresh(api, session["session_id"], other_blob, other_key, clock()).status_code == 200
    clock.advance(limits.REFRESH_PER_MEMBER_REFILL_SECONDS)
    assert refresh(api, session["session_id"], blob, key, clock()).status_code == 200


# The browser's policy -------------------------------------------------------------------


def test_the_web_client_may_connect_to_registered_relays(
    relay_broker: Broker, clock: FakeClock
) -> None:
    app = SecurityHeaders(create_app(relay_broker), page_headers(relay_broker))
    with TestClient(app, base_url=PUBLIC_URL) as web:
        assert "connect-src 'self';" in web.get("/j").headers["Content-Security-Policy"]
        register(relay_broker, web, clock, "relay-a").beat(0)
        relay_broker.relays._origins_at = -1e9  # the cached policy is a second old at most
        policy = web.get("/j").headers["Content-Security-Policy"]
        assert "connect-src 'self' wss://relay-a.example.org:9443;" in policy
        assert web.get("/relay").status_code == 404  # no relay in a broker-only process
