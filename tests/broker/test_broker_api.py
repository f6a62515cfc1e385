"""The broker's HTTPS API, in process (TestClient): login, create, join, end, records."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from broker_testing import (
    ORGANIZER_PASSWORD,
    PUBLIC_URL,
    START,
    Client,
    FakeClock,
    Organizer,
    TestClient,
    b64,
    create,
    join,
    join_body,
    unb64,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI

from relaydesk import __version__, limits
from relaydesk.broker.service import Broker
from relaydesk.errors import TicketExpired
from relaydesk.protocol.messages import Role
from relaydesk.protocol.tickets import verify_ticket

REFUSED = {"detail": "No session with that ID and password."}


# Login --------------------------------------------------------------------------------


def test_login_gives_a_token_for_12_hours(client: TestClient, broker: Broker) -> None:
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))
    answer = client.post("/api/login", json={"username": "alice", "password": ORGANIZER_PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert len(unb64(body["token"])) == limits.ORGANIZER_TOKEN_BYTES
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires == datetime.fromtimestamp(START + 12 * 3600, UTC)
    assert answer.headers["Cache-Control"] == "no-store"


def test_wrong_password_and_unknown_user_look_alike(client: TestClient, broker: Broker) -> None:
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))
    wrong = client.post("/api/login", json={"username": "alice", "password": "not it"})
    unknown = client.post("/api/login", json={"username": "mallory", "password": "not it"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Wrong username or password."}


def test_logins_are_throttled_per_address(client_from: Client, clock: FakeClock) -> None:
    client = client_from("192.0.2.10")
    attempt = {"username": "nobody", "password": "guess"}
    for number in range(limits.LOGIN_PER_ADDRESS_BURST):
        # a different name each time: only the address limit applies
        answer = client.post("/api/login", json={**attempt, "username": f"n{number}"})
        assert answer.status_code == 401
    throttled = client.post("/api/login", json=attempt)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "Too many login attempts" in throttled.json()["detail"]
    assert client_from("192.0.2.11").post("/api/login", json=attempt).status_code == 401
    clock.advance(limits.LOGIN_PER_ADDRESS_REFILL_SECONDS)
    assert client.post("/api/login", json=attempt).status_code == 401


def test_failed_logins_are_throttled_per_username(
    client_from: Client, broker: Broker, clock: FakeClock
) -> None:
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))
    for number in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST):
        answer = client_from(f"192.0.2.{number}").post(
            "/api/login", json={"username": "alice", "password": "guess"}
        )
        assert answer.status_code == 401
    right = {"username": "alice", "password": ORGANIZER_PASSWORD}
    throttled = client_from("192.0.2.200").post("/api/login", json=right)
    assert throttled.status_code == 429
    assert "username" in throttled.json()["detail"]
    clock.advance(limits.LOGIN_FAILURES_PER_USERNAME_REFILL_SECONDS)
    assert client_from("192.0.2.200").post("/api/login", json=right).status_code == 200


def test_disabled_accounts_cannot_log_in_or_use_their_tokens(
    client: TestClient, broker: Broker, organizer: Organizer
) -> None:
    broker.store.set_disabled("alice", True)
    assert client.post("/api/sessions", json={}, headers=organizer.headers).status_code == 401
    answer = client.post("/api/login", json={"username": "alice", "password": ORGANIZER_PASSWORD})
    assert answer.status_code == 403
    assert "disabled" in answer.json()["detail"]


def test_tokens_expire(client: TestClient, clock: FakeClock, organizer: Organizer) -> None:
    clock.advance(limits.ORGANIZER_TOKEN_LIFETIME_SECONDS - 1)
    assert client.post("/api/sessions", json={}, headers=organizer.headers).status_code == 201
    clock.advance(1)
    answer = client.post("/api/sessions", json={}, headers=organizer.headers)
    assert answer.status_code == 401
    assert "log in again" in answer.json()["detail"]


def test_organizer_endpoints_need_a_token(client: TestClient) -> None:
    assert client.post("/api/sessions", json={}).status_code == 401
    bogus = {"Authorization": "Bearer " + "A" * 43}
    assert client.post("/api/sessions", json={}, headers=bogus).status_code == 401
    assert client.get("/api/records", headers=bogus).status_code == 401
    assert client.post("/api/sessions/123456789/end", headers=bogus).status_code == 401


# Creating sessions --------------------------------------------------------------------


def test_create_a_session_with_a_random_id(client: TestClient, organizer: Organizer) -> None:
    created = create(client, organizer)
    assert re.fullmatch(r"[1-9][0-9]{8}", created["session_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", created["session_uid"])
    assert created["invite_url"] == f"{PUBLIC_URL}/j/{created['session_id']}"
    assert create(client, organizer)["session_id"] != created["session_id"]


def test_create_a_session_with_a_chosen_id(client: TestClient, organizer: Organizer) -> None:
    created = create(client, organizer, session_id="123 456 789")
    assert created["session_id"] == "123456789"
    again = client.post(
        "/api/sessions", json={"session_id": "123456789"}, headers=organizer.headers
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "A live session already has that ID; choose another."}


def test_a_chosen_id_is_free_again_once_the_session_ended(
    client: TestClient, organizer: Organizer
) -> None:
    create(client, organizer, session_id="123456789")
    end = client.post("/api/sessions/123456789/end", headers=organizer.headers)
    assert end.status_code == 204
    assert create(client, organizer, session_id="123456789")["session_id"] == "123456789"


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "023456789", "12345678x", "١٢٣٤٥٦٧٨٩"])
def test_malformed_chosen_ids_are_refused(
    client: TestClient, organizer: Organizer, bad: str
) -> None:
    answer = client.post("/api/sessions", json={"session_id": bad}, headers=organizer.headers)
    assert answer.status_code == 422
    assert "9 digits" in answer.json()["detail"]


def test_the_client_s_body_with_nulls_is_accepted(client: TestClient, organizer: Organizer) -> None:
    created = create(client, organizer, session_id=None, password=None)
    assert created["session_id"]


# Joining ------------------------------------------------------------------------------


def test_join_gives_a_ticket_the_relay_accepts(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    created = create(client, organizer)
    keys, body = join_body("  Bob  ")
    answer = client.post(f"/api/sessions/{created['session_id']}/join", json=body)
    assert answer.status_code == 200, answer.text
    admission = answer.json()
    server = client.get("/api/server").json()
    assert server == {"version": __version__, "broker_public_key": b64(broker.public_key)}
    assert admission["broker_public_key"] == server["broker_public_key"]
    broker_public = Ed25519PublicKey.from_public_bytes(unb64(server["broker_public_key"]))
    session_uid = bytes.fromhex(created["session_uid"])
    ticket = verify_ticket(
        unb64(admission["ticket"]), broker_public, now=clock(), session_uid=session_uid
    )
    assert ticket.role is Role.PARTICIPANT
    assert ticket.display_name == "Bob"
    assert (ticket.agreement, ticket.ed25519) == (keys.agreement_public, keys.ed25519_public)
    assert ticket.member_id == admission["member_id"] == 1
    assert ticket.relay == "embedded"  # the home relay's name (ticket v3)
    assert admission["relay_url"] == "wss://127.0.0.1:8443/relay"
    assert admission["relays"] == [
        {
            "name": "embedded",
            "wss_url": "wss://127.0.0.1:8443/relay",
            "tcp_address": None,
            "fingerprint": "",
        }
    ]
    assert admission["session_uid"] == created["session_uid"]
    assert admission["role"] == "participant"
    assert ticket.expires_at == int(START) + limits.TICKET_LIFETIME_SECONDS
    assert datetime.fromisoformat(admission["expires_at"]).timestamp() == ticket.expires_at
    with pytest.raises(TicketExpired):
        verify_ticket(unb64(admission["ticket"]), broker_public, now=clock() + 300)


def test_the_organizer_joins_as_host_everyone_else_as_participant(
    client: TestClient, add_organizer: Callable[[str], Organizer]
) -> None:
    alice, carol = add_organizer("alice"), add_organizer("carol")
    created = create(client, alice, password="sesame")
    session_id = created["session_id"]
    host = join(client, session_id, "Alice", headers=alice.headers)  # no password needed
    other_organizer = join(client, session_id, "Carol", "sesame", headers=carol.headers)
    guest = join(client, session_id, "Bob", "sesame")
    assert [a.status_code for a in (host, other_organizer, guest)] == [200, 200, 200]
    assert [a.json()["role"] for a in (host, other_organizer, guest)] == [
        "host",
        "participant",
        "participant",
    ]
    assert [a.json()["member_id"] for a in (host, other_organizer, guest)] == [1, 2, 3]
    assert join(client, session_id, "Carol", headers=carol.headers).json() == REFUSED


def test_a_stale_organizer_token_on_join_is_an_error_not_a_downgrade(
    client: TestClient, organizer: Organizer
) -> None:
    created = create(client, organizer)
    answer = join(client, created["session_id"], headers={"Authorization": "Bearer stale"})
    assert answer.status_code == 401


def test_wrong_password_unknown_id_and_ended_session_look_alike(
    client_from: Client, organizer: Organizer, broker: Broker
) -> None:
    client = client_from()
    with_password = create(client, organizer, password="sesame")["session_id"]
    ended = create(client, organizer)["session_id"]
    client.post(f"/api/sessions/{ended}/end", headers=organizer.headers)
    unknown = next(
        n for n in ("100000000", "100000001", "100000002") if n not in (ended, with_password)
    )
    calls: list[str | None] = []
    verify = broker.passwords.verify

    def spy(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return verify(password_hash, password)

    broker.passwords.verify = spy  # type: ignore[method-assign]
    answers = [
        join(client_from("192.0.2.1"), with_password, password="wrong"),
        join(client_from("192.0.2.2"), with_password),
        join(client_from("192.0.2.3"), unknown, password="wrong"),
        join(client_from("192.0.2.4"), unknown),
        join(client_from("192.0.2.5"), ended),
        join(client_from("192.0.2.6"), "000000000"),
    ]
    assert {a.status_code for a in answers} == {403}
    assert all(a.json() == REFUSED for a in answers)
    assert {a.headers["content-length"] for a in answers} == {str(len(answers[0].content))}
    # The same work for every well-formed ID: one argon2id check each (a decoy when there
    # is no session), so that timing does not tell a wrong password from a wrong ID.
    assert len(calls) == 5
    assert calls[2:] == [None, None, None]


def test_right_password_joins(client: TestClient, organizer: Organizer) -> None:
    session_id = create(client, organizer, password="sesame")["session_id"]
    assert join(client, session_id, password="sesame").status_code == 200


def unknown_id(number: int) -> str:
    """A well-formed session ID no session has (the tests' IDs come from secrets)."""
    return f"{900_000_000 + number}"


def test_failed_joins_are_throttled_per_address(
    client_from: Client, organizer: Organizer, clock: FakeClock
) -> None:
    session_id = create(client_from(), organizer)["session_id"]
    client = client_from("192.0.2.50")
    for number in range(limits.JOIN_PER_ADDRESS_BURST):
        assert join(client, unknown_id(number)).json() == REFUSED
    throttled = join(client, session_id)
    assert throttled.status_code == 429
    assert "from this address" in throttled.json()["detail"]
    assert int(throttled.headers["Retry-After"]) >= 1
    assert join(client_from("192.0.2.51"), session_id).status_code == 200
    clock.advance(limits.JOIN_PER_ADDRESS_REFILL_SECONDS)
    assert join(client, session_id).status_code == 200


def test_joins_that_succeed_do_not_spend_the_budget_for_failures(
    client_from: Client, organizer: Organizer
) -> None:
    """A join that succeeds gives its attempt back: after any number of them, an address
    still has its whole budget for failed attempts, and no more."""
    session_id = create(client_from(), organizer)["session_id"]
    client = client_from("192.0.2.60")
    for number in range(2 * limits.JOIN_PER_ADDRESS_BURST):
        assert join(client, session_id, f"Attendee {number}").status_code == 200
    for number in range(limits.JOIN_PER_ADDRESS_BURST):
        assert join(client, unknown_id(number)).json() == REFUSED
    assert join(client, session_id).status_code == 429


def test_failed_joins_lock_a_session_id_but_not_for_its_organizer(
    client_from: Client, organizer: Organizer
) -> None:
    session_id = create(client_from(), organizer, password="sesame")["session_id"]
    for number in range(limits.JOIN_FAILURES_BEFORE_LOCK):
        assert join(client_from(f"10.0.0.{number}"), session_id, password="x").json() == REFUSED
    throttled = join(client_from("10.9.9.9"), session_id, password="sesame")
    assert throttled.status_code == 429
    assert "this session" in throttled.json()["detail"]
    # The organizer is not guessing: the per-session limits do not apply to them.
    assert join(client_from("10.9.9.8"), session_id, headers=organizer.headers).status_code == 200


def test_a_full_meeting_joins_from_one_address_while_guessing_stays_limited(
    client_from: Client, organizer: Organizer
) -> None:
    """A thousand people and more behind one address (a company's NAT) join one session
    with its password at once: no time passes (the fake clock stands still). Guessing
    stays as limited as ever: the password from anywhere, IDs from any address. What one
    address, or one session, can be joined is bounded on its own, sized for a full
    meeting (MAX_MEMBERS; docs/operators.md "Rate limits and guessing")."""
    session_id = create(client_from(), organizer, password="sesame")["session_id"]
    other = create(client_from(), organizer)["session_id"]
    office = client_from("198.51.100.1")
    answers = [
        join(office, session_id, f"Attendee {n}", "sesame")
        for n in range(limits.ADMITTED_PER_ADDRESS_BURST)
    ]
    assert len(answers) >= 1000
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert len({a.json()["member_id"] for a in answers}) == len(answers)
    # Past a full meeting: the office waits; another address does not.
    from_office = join(office, other)
    assert from_office.status_code == 429
    assert "from this address" in from_office.json()["detail"]
    assert join(client_from("198.51.100.2"), other).status_code == 200
    # The session has had a full meeting: nobody more for now (told only past the password).
    assert len(answers) == limits.ADMITTED_PER_SESSION_BURST
    assert join(client_from("198.51.100.3"), session_id, password="guess").json() == REFUSED
    full = join(client_from("198.51.100.3"), session_id, password="sesame")
    assert full.status_code == 429
    assert "joined this session" in full.json()["detail"]
    # Guessing the password: locked after the usual number of failures, however many
    # joined rightly before (one failure was counted just above).
    for number in range(limits.JOIN_FAILURES_BEFORE_LOCK - 1):
        assert join(client_from(f"10.2.0.{number}"), session_id, password="guess").json() == REFUSED
    locked = join(client_from("10.2.1.1"), session_id, password="sesame")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == limits.JOIN_LOCK_SECONDS
    # Guessing IDs from an address: its usual budget.
    guesser = client_from("203.0.113.77")
    for number in range(limits.JOIN_PER_ADDRESS_BURST):
        assert join(guesser, unknown_id(number)).json() == REFUSED
    assert join(guesser, unknown_id(99)).status_code == 429


@pytest.mark.parametrize("exists", [True, False])
def test_too_many_failures_lock_a_session_id_known_or_not(
    client_from: Client, organizer: Organizer, clock: FakeClock, exists: bool
) -> None:
    session_id = "555666777"
    if exists:
        create(client_from(), organizer, session_id=session_id, password="sesame")
    for number in range(limits.JOIN_FAILURES_BEFORE_LOCK):
        answer = join(client_from(f"10.1.0.{number}"), session_id, password="wrong")
        assert answer.json() == REFUSED
    locked = join(client_from("10.1.1.1"), session_id, password="sesame")
    assert locked.status_code == 429  # even the right password, known or not alike
    assert int(locked.headers["Retry-After"]) == limits.JOIN_LOCK_SECONDS
    clock.advance(limits.JOIN_LOCK_SECONDS)
    after = join(client_from("10.1.1.1"), session_id, password="sesame")
    assert after.status_code == (200 if exists else 403)


def test_join_validates_its_body(client: TestClient, organizer: Organizer) -> None:
    session_id = create(client, organizer)["session_id"]
    _, body = join_body()
    url = f"/api/sessions/{session_id}/join"
    cases: list[tuple[dict[str, Any], str]] = [
        ({**body, "display_name": "   "}, "display name"),
        ({**body, "display_name": "x" * 65}, "display name"),
        ({**body, "display_name": "Bob\x1b[2J"}, "control characters"),
        ({**body, "agreement": b64(b"\x01" * 1220)}, "at most 1624"),
        ({**body, "agreement": b64(b"\x01" * 1217)}, "1216 bytes"),
        ({**body, "agreement": b64(b"\x01" * 31)}, "at least 1622"),
        ({**body, "ed25519": b64(b"\x01" * 33)}, "32 bytes"),
        ({**body, "ed25519": "!!!" + body["ed25519"][3:]}, "base64url"),
        ({**body, "extra": 1}, "extra"),
    ]
    for bad, message in cases:
        answer = client.post(url, json=bad)
        assert answer.status_code == 422, bad
        assert isinstance(answer.json()["detail"], str)
        assert message in answer.json()["detail"].lower(), answer.json()
    long_password = {**body, "password": "hunter2" * 200}
    answer = client.post(url, json=long_password)
    assert answer.status_code == 422
    assert "hunter2" not in answer.text  # errors do not echo what was sent


def test_a_display_name_of_64_characters_fits_the_ticket(
    client: TestClient, organizer: Organizer
) -> None:
    session_id = create(client, organizer)["session_id"]
    assert join(client, session_id, "é" * 64).status_code == 200


# Ending -------------------------------------------------------------------------------


def test_end_calls_the_hook_and_refuses_later_joins(
    client: TestClient, organizer: Organizer, broker: Broker
) -> None:
    ended: list[bytes] = []
    broker.on_session_ended = ended.append
    created = create(client, organizer)
    session_id = created["session_id"]
    assert join(client, session_id).status_code == 200
    assert (
        client.post(f"/api/sessions/{session_id}/end", headers=organizer.headers).status_code == 204
    )
    assert ended == [bytes.fromhex(created["session_uid"])]
    assert join(client, session_id).json() == REFUSED
    again = client.post(f"/api/sessions/{session_id}/end", headers=organizer.headers)
    assert again.status_code == 404
    assert ended == [bytes.fromhex(created["session_uid"])]


def test_only_the_organizer_ends_a_session(
    client: TestClient, add_organizer: Callable[[str], Organizer]
) -> None:
    alice, carol = add_organizer("alice"), add_organizer("carol")
    session_id = create(client, alice)["session_id"]
    by_carol = client.post(f"/api/sessions/{session_id}/end", headers=carol.headers)
    nothing = client.post("/api/sessions/999999999/end", headers=carol.headers)
    assert by_carol.status_code == nothing.status_code == 404
    assert by_carol.json() == nothing.json() == {"detail": "You have no live session with that ID."}
    assert join(client, session_id).status_code == 200


def test_a_failing_hook_does_not_fail_the_request(
    client: TestClient, organizer: Organizer, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(session_uid: bytes) -> None:
        raise RuntimeError("relay gone")

    broker.on_session_ended = broken
    session_id = create(client, organizer)["session_id"]
    assert (
        client.post(f"/api/sessions/{session_id}/end", headers=organizer.headers).status_code == 204
    )
    assert "on_session_ended failed" in caplog.text


# Records ------------------------------------------------------------------------------


def test_records_of_the_organizer_s_own_sessions(
    client: TestClient,
    add_organizer: Callable[[str], Organizer],
    broker: Broker,
    clock: FakeClock,
) -> None:
    alice, carol = add_organizer("alice"), add_organizer("carol")
    hers = create(client, alice)
    theirs = create(client, carol)
    sink = broker.record_sink
    for created, name in ((hers, "Alice"), (theirs, "Carol")):
        uid = bytes.fromhex(created["session_uid"])
        sink.session_started(uid)
        sink.member_joined(uid, 1, name, Role.HOST)
    clock.advance(600)
    sink.member_left(bytes.fromhex(hers["session_uid"]), 1, 10, 20)
    answer = client.get("/api/records", headers=alice.headers)
    assert answer.status_code == 200
    records = answer.json()
    assert [(r["kind"], r["display_name"]) for r in records] == [
        ("session_start", None),
        ("join", "Alice"),
        ("leave", "Alice"),
    ]
    assert records[2]["bytes_in"] == 10 and records[2]["bytes_out"] == 20
    assert {r["session_id"] for r in records} == {hers["session_id"]}
    since = datetime.fromtimestamp(START + 300, UTC).replace(tzinfo=None).isoformat()
    later = client.get("/api/records", params={"since": since}, headers=alice.headers).json()
    assert [r["kind"] for r in later] == ["leave"]


# The API document ----------------------------------------------------------------------


def test_every_endpoint_is_documented(app: FastAPI) -> None:
    document = app.openapi()
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == {
        ("POST", "/api/login"),
        ("POST", "/api/sessions"),
        ("POST", "/api/sessions/{session_id}/join"),
        ("POST", "/api/sessions/{session_id}/end"),
        ("GET", "/api/server"),
        ("GET", "/api/records"),
        ("GET", "/api/sessions/listed"),
        ("POST", "/api/web/login"),
        ("POST", "/api/web/logout"),
        ("GET", "/api/me"),
        ("POST", "/api/me/totp"),
        ("POST", "/api/me/totp/confirm"),
        ("POST", "/api/me/totp/disable"),
        ("POST", "/api/sessions/{session_id}/refresh"),
        ("POST", "/api/relays/heartbeat"),
        ("POST", "/api/relays/records"),
        ("GET", "/api/policy"),
        ("POST", "/api/password-resets"),
        ("POST", "/api/password-resets/complete"),
        ("GET", "/api/admin/policy"),
        ("PUT", "/api/admin/policy"),
        ("GET", "/api/admin/accounts"),
        ("PUT", "/api/admin/accounts/{username}/admin"),
        ("GET", "/api/admin/records"),
        ("GET", "/api/admin/records/members"),
        ("GET", "/api/admin/password-resets"),
        ("POST", "/api/admin/password-resets/{reset_id}/approve"),
        ("POST", "/api/admin/password-resets/{reset_id}/deny"),
    }
    for operation in operations.values():
        assert operation["tags"] and operation["summary"] and operation["description"]
    join_errors = operations[("POST", "/api/sessions/{session_id}/join")]["responses"]
    assert {"200", "400", "403", "409", "422", "429"} <= set(join_errors)
    for path in ("/api/me", "/api/me/totp", "/api/me/totp/confirm", "/api/me/totp/disable"):
        method = "GET" if path == "/api/me" else "POST"
        assert {"401", "403", "422"} <= set(operations[(method, path)]["responses"]), path
    assert {"401", "403", "429"} <= set(operations[("POST", "/api/web/login")]["responses"])
    for (_, path), operation in operations.items():  # an organizer's login gets 403 there
        if path.startswith("/api/admin/"):
            assert {"401", "403"} <= set(operation["responses"]), path
    schemes = document["components"]["securitySchemes"]
    assert "HTTPBearer" in schemes
    assert schemes["APIKeyCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "relaydesk_token",
        "description": schemes["APIKeyCookie"]["description"],
    }
    create_body = document["components"]["schemas"]["CreateSessionRequest"]["properties"]
    assert {"title", "listed", "lobby", "two_party", "require_email", "join_before_host"} <= set(
        create_body
    )
    assert "waits_in_lobby" in document["components"]["schemas"]["JoinAnswer"]["properties"]


# At rest ------------------------------------------------------------------------------


def test_no_password_or_token_is_stored_in_clear(
    client: TestClient, organizer: Organizer, broker: Broker, tmp_path: Path
) -> None:
    session_password = "session-password-" + secrets.token_hex(8)
    created = create(client, organizer, password=session_password)
    assert join(client, created["session_id"], "Bob", session_password).status_code == 200
    session = broker.store.live_session(created["session_id"])
    assert session is not None and session.password_hash is not None
    assert session.password_hash.startswith("$argon2id$")
    found = broker.store.account("alice")
    assert found is not None and found[1].startswith("$argon2id$")
    files = [path for path in tmp_path.iterdir() if path.name.startswith("relaydesk.db")]
    assert files  # the database and its write-ahead log
    stored = b"".join(path.read_bytes() for path in files)
    for secret in (ORGANIZER_PASSWORD, session_password, organizer.token):
        assert secret.encode() not in stored


def test_logs_hold_no_password_token_ticket_or_name(
    client_from: Client, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))
    client = client_from()
    login = client.post("/api/login", json={"username": "alice", "password": ORGANIZER_PASSWORD})
    token = login.json()["token"]
    client.post("/api/login", json={"username": "alice", "password": "wrong-" + ORGANIZER_PASSWORD})
    organizer = Organizer("alice", token)
    session_password = "session-" + secrets.token_hex(8)
    created = create(client, organizer, password=session_password)
    admitted = join(client, created["session_id"], "Zebediah Quux", session_password)
    join(client, created["session_id"], "Zebediah Quux", "wrong-" + session_password)
    client.post(f"/api/sessions/{created['session_id']}/end", headers=organizer.headers)
    # Only relaydesk's own lines: the test client (httpx) logs every URL it requests.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("relaydesk"))
    assert "logged in" in logged and "admitted" in logged  # it does log what happened
    secrets_seen = (
        ORGANIZER_PASSWORD,
        session_password,
        token,
        admitted.json()["ticket"],
        "Zebediah",
        created["session_id"],
    )
    for secret in secrets_seen:
        assert secret not in logged


def test_join_refuses_an_agreement_key_no_leader_could_seal_to(
    client: TestClient, organizer: Organizer
) -> None:
    """The right size is not enough: an ML-KEM part that fails FIPS 203's check, or an
    X25519 part of low order, would leave the session without keys (protocol §6)."""
    session_id = create(client, organizer)["session_id"]
    keys, body = join_body()
    public = keys.agreement_public
    for bad in (b"\xff" * 1184 + public[1184:], public[:1184] + bytes(32)):
        answer = client.post(
            f"/api/sessions/{session_id}/join", json={**body, "agreement": b64(bad)}
        )
        assert answer.status_code == 400, answer.json()
        assert "agreement public key" in answer.json()["detail"]
    assert client.post(f"/api/sessions/{session_id}/join", json=body).status_code == 200
