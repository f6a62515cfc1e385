"""The site policy at the broker's API: only an administrator sets it, organizers cannot
override it, and each rule refuses what it forbids (docs/operators.md, "Site policy").
Every rule's test here fails when that rule's enforcement is taken out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broker_testing import (
    ORGANIZER_PASSWORD,
    Client,
    Organizer,
    TestClient,
    create,
    join,
    join_body,
    ticket_in,
    unb64,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk import limits
from relaydesk.broker.service import Broker
from relaydesk.protocol.tickets import TicketRule, refresh_message

SESSION_PASSWORD = "blue giraffe under the bridge"


@pytest.fixture
def admin(broker: Broker, add_organizer: Callable[[str], Organizer]) -> Organizer:
    """A site administrator, logged in through the API like any organizer."""
    logged_in = add_organizer("root")
    broker.store.set_admin("root", True)
    return logged_in


def set_policy(client: TestClient, admin: Organizer, **rules: Any) -> dict[str, Any]:
    answer = client.put("/api/admin/policy", json=rules, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def ticket_rules(answer: dict[str, Any]) -> TicketRule:
    return ticket_in(answer).rules


# Who may set it -----------------------------------------------------------------------


def test_only_an_administrators_login_reaches_the_admin_api(
    client: TestClient, admin: Organizer, organizer: Organizer
) -> None:
    paths = ["/api/admin/policy", "/api/admin/accounts", "/api/admin/records",
             "/api/admin/records/members", "/api/admin/password-resets"]  # fmt: skip
    for path in paths:
        assert client.get(path, headers=admin.headers).status_code == 200, path
        refused = client.get(path, headers=organizer.headers)
        assert refused.status_code == 403, path
        assert refused.json() == {"detail": "This needs a site administrator's login."}
        assert client.get(path).status_code == 401, path
    for attempt in (organizer.headers, {}):
        changed = client.put("/api/admin/policy", json={"disable_sharing": True}, headers=attempt)
        assert changed.status_code in (401, 403)
    assert client.get("/api/policy").json()["disable_sharing"] is False


def test_the_policy_is_read_by_anyone_and_changed_by_an_administrator(
    client: TestClient, admin: Organizer, broker: Broker
) -> None:
    before = client.get("/api/policy").json()
    assert before == {
        "require_session_password": False,
        "min_account_password_chars": limits.MIN_ACCOUNT_PASSWORD_CHARS,
        "min_session_password_chars": 0,
        "strong_passwords": False,
        "all_unlisted": False,
        "require_attendee_email": False,
        "restricted_access": False,
        "disable_sharing": False,
        "disable_control": False,
        "approve_password_resets": False,
        "updated_at": None,
        "updated_by": None,
    }
    after = set_policy(client, admin, all_unlisted=True, min_session_password_chars=8)
    assert after["all_unlisted"] is True and after["min_session_password_chars"] == 8
    assert after["updated_by"] == "root" and after["updated_at"] is not None
    assert after["restricted_access"] is False  # rules left out keep their value
    public = client.get("/api/policy").json()
    assert public["all_unlisted"] is True and public["updated_by"] is None
    assert broker.store.policy().all_unlisted


@pytest.mark.parametrize(
    "rules",
    [
        {"min_account_password_chars": limits.MIN_ACCOUNT_PASSWORD_CHARS - 1},
        {"min_session_password_chars": limits.MAX_POLICY_PASSWORD_CHARS + 1},
        {"no_such_rule": True},
        {"disable_sharing": "yes please"},
    ],
)
def test_a_bad_policy_is_refused_and_changes_nothing(
    client: TestClient, admin: Organizer, rules: dict[str, Any]
) -> None:
    answer = client.put("/api/admin/policy", json=rules, headers=admin.headers)
    assert answer.status_code in (400, 422)
    assert client.get("/api/admin/policy", headers=admin.headers).json()["updated_by"] is None


def test_administrators_are_granted_and_revoked_but_never_all_removed(
    client: TestClient, admin: Organizer, organizer: Organizer
) -> None:
    path = "/api/admin/accounts/{}/admin"
    granted = client.put(path.format("alice"), json={"admin": True}, headers=admin.headers)
    assert granted.status_code == 200 and granted.json()["is_admin"] is True
    assert client.get("/api/admin/policy", headers=organizer.headers).status_code == 200
    assert client.get("/api/me", headers=organizer.headers).json()["is_admin"] is True
    revoked = client.put(path.format("root"), json={"admin": False}, headers=organizer.headers)
    assert revoked.status_code == 200
    last = client.put(path.format("alice"), json={"admin": False}, headers=organizer.headers)
    assert last.status_code == 409
    assert "last administrator" in last.json()["detail"]
    assert client.put(path.format("nobody"), json={"admin": True},
                      headers=organizer.headers).status_code == 404  # fmt: skip


# The rules ----------------------------------------------------------------------------


def test_require_session_password(
    client: TestClient, admin: Organizer, organizer: Organizer
) -> None:
    before = create(client, organizer)  # made while the rule was off: no password
    set_policy(client, admin, require_session_password=True)
    refused = client.post("/api/sessions", json={}, headers=organizer.headers)
    assert refused.status_code == 400
    assert "require_session_password" in refused.json()["detail"]
    session = create(client, organizer, password=SESSION_PASSWORD)
    assert join(client, session["session_id"], password=SESSION_PASSWORD).status_code == 200
    # A session made before the rule admits nobody more (its host ends it, starts anew).
    old = join(client, before["session_id"])
    assert old.status_code == 400 and "no password" in old.json()["detail"]


def test_session_password_rules(client: TestClient, admin: Organizer, organizer: Organizer) -> None:
    set_policy(client, admin, min_session_password_chars=10)
    short = client.post("/api/sessions", json={"password": "nine char"}, headers=organizer.headers)
    assert short.status_code == 400
    assert short.json()["detail"] == (
        "the session password must have at least 10 characters (rule: length)"
    )
    create(client, organizer, password="ten chars!")  # without strong_passwords: enough
    set_policy(client, admin, strong_passwords=True)
    refusals = {
        "alice-meeting-room": "(rule: name)",
        "relaydesk session 1": "(rule: name)",
        "qwertyuiop": "(rule: common)",
        "aaaaaaaaaaaaaaa": "(rule: guessable)",
        "abcabcabcabcabc": "(rule: guessable)",
    }
    for password, rule in refusals.items():
        answer = client.post("/api/sessions", json={"password": password},
                             headers=organizer.headers)  # fmt: skip
        assert answer.status_code == 400, password
        assert answer.json()["detail"].endswith(rule), answer.json()
    create(client, organizer, password=SESSION_PASSWORD)


def test_all_unlisted(client: TestClient, admin: Organizer, organizer: Organizer) -> None:
    listed = create(client, organizer, listed=True, title="Open house")
    assert [s["session_id"] for s in client.get("/api/sessions/listed").json()] == [
        listed["session_id"]
    ]
    set_policy(client, admin, all_unlisted=True)
    assert client.get("/api/sessions/listed").json() == []  # the earlier one too
    again = create(client, organizer, listed=True)
    assert again["settings"]["listed"] is False  # what is in force, not what was asked


def test_require_attendee_email(client: TestClient, admin: Organizer, organizer: Organizer) -> None:
    before = create(client, organizer)  # made while the rule was off
    set_policy(client, admin, require_attendee_email=True)
    after = create(client, organizer, require_email=False)
    assert after["settings"]["require_email"] is True
    for session in (before, after):
        refused = join(client, session["session_id"])
        assert refused.status_code == 400
        assert refused.json()["detail"] == "This session asks for your e-mail address."
        joined = join(client, session["session_id"], email="bob@example.org")
        assert joined.status_code == 200
    host = join(client, after["session_id"], "Alice", headers=organizer.headers)
    assert host.status_code == 200 and host.json()["role"] == "host"  # the host gives none


def test_restricted_access(
    client: TestClient,
    admin: Organizer,
    organizer: Organizer,
    add_organizer: Callable[[str], Organizer],
) -> None:
    session = create(client, organizer)
    set_policy(client, admin, restricted_access=True)
    refused = join(client, session["session_id"])
    assert refused.status_code == 401
    assert "restricted_access" in refused.json()["detail"]
    # Said before anything about the session: an unknown ID gets the same answer.
    assert join(client, "987654321").json() == refused.json()
    carol = add_organizer("carol")
    member = join(client, session["session_id"], "Carol", headers=carol.headers)
    assert member.status_code == 200 and member.json()["role"] == "participant"
    stale = join(client, session["session_id"], headers={"Authorization": "Bearer nope"})
    assert stale.status_code == 401


def test_disable_sharing_and_control_go_into_every_ticket(
    client: TestClient, admin: Organizer, organizer: Organizer
) -> None:
    session = create(client, organizer)
    sid = session["session_id"]
    site_bits = TicketRule.NO_SHARING | TicketRule.NO_CONTROL
    assert ticket_rules(join(client, sid).json()) & site_bits == 0
    set_policy(client, admin, disable_sharing=True)
    host = join(client, sid, "Alice", headers=organizer.headers).json()
    assert TicketRule.NO_SHARING in ticket_rules(host)  # hosts cannot override it
    assert TicketRule.NO_CONTROL not in ticket_rules(host)
    set_policy(client, admin, disable_sharing=False, disable_control=True)
    guest = join(client, sid).json()
    assert ticket_rules(guest) & site_bits == TicketRule.NO_CONTROL


def test_a_refreshed_ticket_carries_the_policy_as_it_is_now(
    client: TestClient, admin: Organizer, organizer: Organizer, clock: Any
) -> None:
    session = create(client, organizer)
    keys, body = join_body("Dora")
    joined = client.post(f"/api/sessions/{session['session_id']}/join", json=body).json()
    assert TicketRule.NO_SHARING not in ticket_rules(joined)
    set_policy(client, admin, disable_sharing=True, disable_control=True)

    def refresh(ticket: bytes) -> dict[str, Any]:
        now = int(clock())
        signature = keys.signing.sign(refresh_message(ticket, now))
        answer = client.post(
            f"/api/sessions/{session['session_id']}/refresh",
            json={"ticket": joined["ticket"], "timestamp": now,
                  "signature": _b64(signature)},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    fresh = refresh(unb64(joined["ticket"]))
    assert ticket_rules(fresh) >= TicketRule.NO_SHARING | TicketRule.NO_CONTROL
    set_policy(client, admin, disable_sharing=False, disable_control=False)
    assert ticket_rules(refresh(unb64(joined["ticket"]))) & TicketRule.NO_SHARING == 0


def _b64(data: bytes) -> str:
    import base64  # noqa: PLC0415

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_policy_leaves_the_rest_of_a_ticket_alone(
    client: TestClient, admin: Organizer, organizer: Organizer, broker_key: Ed25519PrivateKey
) -> None:
    set_policy(client, admin, disable_sharing=True)
    session = create(client, organizer, lobby=True)
    guest = join(client, session["session_id"]).json()
    rules = ticket_rules(guest)
    assert TicketRule.WAIT_IN_LOBBY in rules and TicketRule.NO_SHARING in rules
    assert guest["waits_in_lobby"] is True


def test_logins_work_as_before_under_the_policy(
    client_from: Client, admin: Organizer, broker: Broker
) -> None:
    """A login checks the password it is given, not today's rules: an organizer whose
    password predates strong_passwords still logs in (and may reset it)."""
    broker.store.set_policy(
        broker.store.policy().changed({"strong_passwords": True, "min_account_password_chars": 40}),
        "root",
    )
    answer = client_from("198.51.100.9").post(
        "/api/login", json={"username": "root", "password": ORGANIZER_PASSWORD}
    )
    assert answer.status_code == 200
