"""Organizers in a browser: the login cookie, who am I, logging out, and the Origin check
that keeps other sites from using the cookie."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from broker_testing import (
    ORGANIZER_PASSWORD,
    PUBLIC_URL,
    START,
    Client,
    FakeClock,
    Organizer,
    TestClient,
    join,
)

from relaydesk import limits
from relaydesk.broker.service import Broker, token_hash

LOGIN = {"username": "alice", "password": ORGANIZER_PASSWORD}
FOREIGN = {"detail": "This request comes from another site; it was refused."}


@pytest.fixture
def alice(broker: Broker) -> None:
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))


def cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    """``name=value; Attr=x; Flag`` -> (``name=value``, {"attr": "x", "flag": ""})."""
    first, *rest = (part.strip() for part in header.split(";"))
    attributes = {}
    for part in rest:
        key, _, value = part.partition("=")
        attributes[key.lower()] = value
    return first, attributes


def web_login(client: TestClient) -> str:
    answer = client.post("/api/web/login", json=LOGIN)
    assert answer.status_code == 200, answer.text
    token = client.cookies.get("relaydesk_token")
    assert token
    return token


@pytest.mark.usefixtures("alice")
def test_web_login_sets_a_strict_http_only_cookie(client: TestClient, broker: Broker) -> None:
    answer = client.post("/api/web/login", json=LOGIN)
    assert answer.status_code == 200
    assert answer.json() == {
        "username": "alice",
        "expires_at": datetime.fromtimestamp(START + 12 * 3600, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "totp_enabled": False,
        "is_admin": False,
    }
    assert "token" not in answer.json()  # page scripts never see it
    pair, attributes = cookie_attributes(answer.headers["set-cookie"])
    name, _, token = pair.partition("=")
    assert name == "relaydesk_token"
    assert broker.store.account_for_token(token_hash(token)) is not None
    assert attributes["path"] == "/api"
    assert attributes["max-age"] == str(limits.ORGANIZER_TOKEN_LIFETIME_SECONDS)
    assert attributes["samesite"].lower() == "strict"
    assert "httponly" in attributes
    assert "secure" in attributes
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("alice")
def test_the_cookie_authenticates_organizer_endpoints(client: TestClient) -> None:
    web_login(client)
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    created = client.post("/api/sessions", json={})
    assert created.status_code == 201
    session_id = created.json()["session_id"]
    # Same-origin requests send Origin: that is fine.
    host = join(client, session_id, headers={"Origin": PUBLIC_URL})
    assert host.status_code == 200
    assert host.json()["role"] == "host"
    assert client.get("/api/records").status_code == 200
    ended = client.post(f"/api/sessions/{session_id}/end", headers={"Origin": PUBLIC_URL})
    assert ended.status_code == 204


@pytest.mark.usefixtures("alice")
def test_a_cookie_request_from_another_site_is_refused(client: TestClient) -> None:
    web_login(client)
    evil = {"Origin": "https://evil.example"}
    for answer in (
        client.post("/api/sessions", json={}, headers=evil),
        client.get("/api/me", headers=evil),
        client.post("/api/me/totp", headers=evil),
        client.post("/api/web/logout", headers=evil),
        client.post("/api/sessions", json={}, headers={"Origin": "null"}),
        client.post("/api/sessions", json={}, headers={"Origin": "http://127.0.0.1:8443"}),
        client.post("/api/sessions", json={}, headers={"Origin": "https://127.0.0.1:8444"}),
    ):
        assert answer.status_code == 403
        assert answer.json() == FOREIGN
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    assert join(client, session_id, headers=evil).json() == FOREIGN
    # The login is still there: nothing was done with it.
    assert client.get("/api/me").status_code == 200
    # Another site cannot log a browser in to an account of its choosing either.
    assert client.post("/api/web/login", json=LOGIN, headers=evil).json() == FOREIGN


@pytest.mark.usefixtures("alice")
def test_the_origin_may_be_the_address_the_request_was_sent_to(client_from: Client) -> None:
    """The server's public URL, or the host the browser used (localhost for 127.0.0.1)."""
    client = client_from()
    web_login(client)
    assert client.get("/api/me", headers={"Origin": "https://127.0.0.1:8443"}).status_code == 200
    token = client.cookies["relaydesk_token"]
    other_name = client_from().get(
        "https://localhost:8443/api/me",
        headers={"Origin": "https://localhost:8443", "Cookie": f"relaydesk_token={token}"},
    )
    assert other_name.status_code == 200


def test_a_bearer_request_is_not_origin_checked(client: TestClient, organizer: Organizer) -> None:
    answer = client.get(
        "/api/me", headers={**organizer.headers, "Origin": "https://elsewhere.example"}
    )
    assert answer.status_code == 200


@pytest.mark.usefixtures("alice")
def test_logout_ends_the_login_and_clears_the_cookie(client: TestClient, broker: Broker) -> None:
    token = web_login(client)
    answer = client.post("/api/web/logout", headers={"Origin": PUBLIC_URL})
    assert answer.status_code == 204
    pair, attributes = cookie_attributes(answer.headers["set-cookie"])
    assert pair in ('relaydesk_token=""', "relaydesk_token=")
    assert attributes["max-age"] == "0"
    assert attributes["path"] == "/api"
    assert broker.store.account_for_token(token_hash(token)) is None  # the row is gone
    assert client.get("/api/me").status_code == 401
    # The old token is dead even if someone kept a copy of the cookie.
    stolen = client.get("/api/me", headers={"Cookie": f"relaydesk_token={token}"})
    assert stolen.status_code == 401
    assert client.post("/api/web/logout").status_code == 204  # again: nothing to do


def test_logout_with_a_bearer_token_ends_that_login(
    client: TestClient, organizer: Organizer
) -> None:
    assert client.post("/api/web/logout", headers=organizer.headers).status_code == 204
    assert client.get("/api/me", headers=organizer.headers).status_code == 401


@pytest.mark.usefixtures("alice")
def test_me_needs_a_login(client: TestClient, clock: FakeClock) -> None:
    answer = client.get("/api/me")
    assert answer.status_code == 401
    assert "Log in first" in answer.json()["detail"]
    web_login(client)
    clock.advance(limits.ORGANIZER_TOKEN_LIFETIME_SECONDS)
    assert client.get("/api/me").status_code == 401


@pytest.mark.usefixtures("alice")
def test_web_login_refusals_are_those_of_the_login(client_from: Client) -> None:
    wrong = client_from().post("/api/web/login", json={**LOGIN, "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Wrong username or password."}
    assert "set-cookie" not in wrong.headers
    for number in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST - 1):
        client_from(f"192.0.2.{number}").post("/api/web/login", json={**LOGIN, "password": "x"})
    throttled = client_from("192.0.2.200").post("/api/web/login", json=LOGIN)
    assert throttled.status_code == 429


def test_a_stale_cookie_on_join_is_an_ordinary_join(
    client: TestClient, add_organizer: Callable[[str], Organizer]
) -> None:
    alice = add_organizer("alice")
    session_id = client.post("/api/sessions", json={}, headers=alice.headers).json()["session_id"]
    answer = join(client, session_id, headers={"Cookie": "relaydesk_token=stale"})
    assert answer.status_code == 200
    assert answer.json()["role"] == "participant"


def test_the_cookie_of_another_organizer_joins_as_participant(
    client_from: Client, broker: Broker, add_organizer: Callable[[str], Organizer]
) -> None:
    alice = add_organizer("alice")
    broker.store.add_account("carol", broker.passwords.hash(ORGANIZER_PASSWORD))
    client = client_from()
    session_id = client.post("/api/sessions", json={}, headers=alice.headers).json()["session_id"]
    assert client.post("/api/web/login", json={**LOGIN, "username": "carol"}).status_code == 200
    assert join(client, session_id).json()["role"] == "participant"
