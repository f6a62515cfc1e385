"""Password resets without an e-mail server (docs/operators.md, "Password resets"): an
organizer asks, an administrator approves or denies, the organizer sets a new password
with the one-time code; or, where the site allows it, with a code of its two-step login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from broker_testing import ORGANIZER_PASSWORD, Client, FakeClock, Organizer, TestClient

from relaydesk import limits
from relaydesk.broker.resets import RESET_ASKED, WRONG_RESET, reset_code_hash
from relaydesk.broker.service import Broker

NEW_PASSWORD = "purple kangaroo on a bicycle"


@pytest.fixture
def admin(broker: Broker, add_organizer: Callable[[str], Organizer]) -> Organizer:
    logged_in = add_organizer("root")
    broker.store.set_admin("root", True)
    return logged_in


def ask(client: TestClient, username: str) -> Any:
    return client.post("/api/password-resets", json={"username": username})


def complete(client: TestClient, username: str, code: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/api/password-resets/complete",
        json={"username": username, "code": code, "new_password": password},
    )


def pending(client: TestClient, admin: Organizer) -> list[dict[str, Any]]:
    answer = client.get("/api/admin/password-resets", headers=admin.headers)
    assert answer.status_code == 200
    result: list[dict[str, Any]] = answer.json()
    return result


def approve(client: TestClient, admin: Organizer, reset_id: int) -> str:
    answer = client.post(f"/api/admin/password-resets/{reset_id}/approve", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


def log_in(client: TestClient, password: str) -> int:
    answer = client.post("/api/login", json={"username": "alice", "password": password})
    return answer.status_code


def test_the_whole_reset_with_an_administrators_approval(
    client_from: Client, admin: Organizer, organizer: Organizer, broker: Broker
) -> None:
    organizer_client = client_from("203.0.113.50")
    asked = ask(organizer_client, "alice")
    assert asked.status_code == 202 and asked.json() == {"detail": RESET_ASKED}
    # The same answer for a name without an account, and nothing kept for it.
    assert ask(organizer_client, "nobody-here").json() == asked.json()
    admin_client = client_from("198.51.100.7")
    [request] = pending(admin_client, admin)
    assert (request["username"], request["state"], request["requested_from"]) == (
        "alice", "pending", "203.0.113.50",
    )  # fmt: skip
    code = approve(admin_client, admin, request["id"])
    assert len(code.replace("-", "")) == 24
    # Only the code's hash is kept.
    rows = broker.store.password_resets(everything=True)
    assert rows[0].state == "approved" and rows[0].decided_by == "root"
    # A wrong code changes nothing; the right one sets the password, once.
    assert complete(organizer_client, "alice", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF").json() == {
        "detail": WRONG_RESET
    }
    assert complete(organizer_client, "alice", code.lower().replace("-", " ")).status_code == 204
    assert log_in(organizer_client, ORGANIZER_PASSWORD) == 401
    assert log_in(organizer_client, NEW_PASSWORD) == 200
    assert complete(organizer_client, "alice", code, "yet another long password").status_code == 400
    # Every login from before the reset has ended.
    assert organizer_client.get("/api/me", headers=organizer.headers).status_code == 401
    assert pending(admin_client, admin) == []


def test_a_code_works_for_its_own_account_only_and_not_after_it_expires(
    client: TestClient,
    admin: Organizer,
    organizer: Organizer,
    add_organizer: Callable[[str], Organizer],
    clock: FakeClock,
    broker: Broker,
) -> None:
    add_organizer("bob")
    ask(client, "alice")
    ask(client, "bob")
    alice_request, bob_request = pending(client, admin)
    alice_code = approve(client, admin, alice_request["id"])
    bob_code = approve(client, admin, bob_request["id"])
    assert complete(client, "bob", alice_code).status_code == 400
    clock.advance(limits.RESET_CODE_LIFETIME_SECONDS)
    assert complete(client, "bob", bob_code).status_code == 400
    resets = {r.username: r.state for r in broker.store.password_resets(everything=True)}
    assert resets == {"alice": "expired", "bob": "expired"}
    assert log_in(client, ORGANIZER_PASSWORD) == 200


def test_a_denied_request_gives_no_code_and_cannot_be_decided_again(
    client: TestClient, admin: Organizer, organizer: Organizer
) -> None:
    ask(client, "alice")
    [request] = pending(client, admin)
    denied = client.post(f"/api/admin/password-resets/{request['id']}/deny", headers=admin.headers)
    assert denied.status_code == 200 and denied.json()["state"] == "denied"
    again = client.post(f"/api/admin/password-resets/{request['id']}/approve",
                        headers=admin.headers)  # fmt: skip
    assert again.status_code == 409
    assert client.post("/api/admin/password-resets/999/approve",
                       headers=admin.headers).status_code == 404  # fmt: skip
    assert client.post(f"/api/admin/password-resets/{request['id']}/approve",
                       headers=organizer.headers).status_code == 403  # fmt: skip


def test_the_new_password_meets_the_sites_rules_and_a_refusal_spends_no_code(
    client: TestClient, admin: Organizer, organizer: Organizer, broker: Broker
) -> None:
    broker.store.set_policy(
        broker.store.policy().changed({"min_account_password_chars": 20, "strong_passwords": True}),
        "root",
    )
    ask(client, "alice")
    code = approve(client, admin, pending(client, admin)[0]["id"])
    short = complete(client, "alice", code, "only 19 characters!")
    assert short.status_code == 400 and short.json()["detail"].endswith("(rule: length)")
    named = complete(client, "alice", code, "alice is the best organizer")
    assert named.status_code == 400 and named.json()["detail"].endswith("(rule: name)")
    assert complete(client, "alice", code, NEW_PASSWORD).status_code == 204


def test_wrong_codes_are_throttled_per_username_whatever_the_address(
    client_from: Client, organizer: Organizer
) -> None:
    for attempt in range(limits.RESET_FAILURES_PER_USERNAME_BURST):
        wrong = complete(client_from(f"192.0.2.{attempt + 1}"), "alice", "AAAA-BBBB-CCCC")
        assert wrong.status_code == 400
    throttled = complete(client_from("192.0.2.200"), "alice", "AAAA-BBBB-CCCC")
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


def test_requests_are_throttled_per_address(client: TestClient) -> None:
    for _ in range(limits.RESET_REQUESTS_PER_ADDRESS_BURST):
        assert ask(client, "someone").status_code == 202
    assert ask(client, "someone").status_code == 429


def turn_on_totp(client: TestClient, organizer: Organizer, clock: FakeClock) -> str:
    secret = client.post("/api/me/totp", headers=organizer.headers).json()["secret"]
    code = pyotp.TOTP(secret).at(clock())
    answer = client.post("/api/me/totp/confirm", json={"code": code}, headers=organizer.headers)
    assert answer.status_code == 200
    return secret


def test_two_step_login_resets_alone_unless_the_site_wants_approval(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    secret = turn_on_totp(client, organizer, clock)
    clock.advance(30)
    broker.store.set_policy(broker.store.policy().changed({"approve_password_resets": True}), "x")
    refused = complete(client, "alice", pyotp.TOTP(secret).at(clock()))
    assert refused.status_code == 400 and "approve_password_resets" in refused.json()["detail"]
    # Said alike for a name without an account: it tells nothing of accounts.
    assert complete(client, "nobody", "123456").json() == refused.json()
    broker.store.set_policy(broker.store.policy().changed({"approve_password_resets": False}), "x")
    assert complete(client, "alice", pyotp.TOTP(secret).at(clock())).status_code == 204
    assert log_in(client, NEW_PASSWORD) == 401  # two-step login still holds ...
    assert (
        complete(
            client, "alice", pyotp.TOTP(secret).at(clock()), "and another long password"
        ).status_code
        == 400
    )  # ... the code was spent


def test_an_account_without_two_step_login_cannot_reset_with_a_six_digit_code(
    client: TestClient, organizer: Organizer
) -> None:
    assert complete(client, "alice", "123456").json() == {"detail": WRONG_RESET}
    assert log_in(client, ORGANIZER_PASSWORD) == 200


def test_codes_are_kept_as_hashes_only(
    client: TestClient, admin: Organizer, organizer: Organizer, broker: Broker
) -> None:
    ask(client, "alice")
    code = approve(client, admin, pending(client, admin)[0]["id"])
    from sqlalchemy import text  # noqa: PLC0415

    with broker.store.engine.connect() as connection:
        stored = connection.execute(text("SELECT code_hash FROM password_resets")).scalar()
    assert stored == reset_code_hash(code) and code.replace("-", "") not in str(stored)
