"""Two-step login: enrolment with a QR code, confirming, logging in with a one-time code
(never the same one twice), recovery codes (each once), turning it off, the admin's
reset, and wrong codes counted like wrong passwords."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from broker_testing import ORGANIZER_PASSWORD, Client, FakeClock, Organizer, TestClient

from relaydesk import limits
from relaydesk.broker import totp
from relaydesk.broker.service import Broker

NEEDS_CODE = {"detail": "This account needs its one-time code."}
WRONG_CODE = {"detail": "Wrong or already used one-time code."}
LOGIN = {"username": "alice", "password": ORGANIZER_PASSWORD}


def code_at(secret: str, now: float, steps: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(int(now // 30) + steps)


def wrong_code(secret: str, now: float) -> str:
    """Six digits that are none of the codes accepted now (the step before, now, after)."""
    accepted = {code_at(secret, now, steps) for steps in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


class Addresses:
    """A new client address for every call, so that only the per-username limit applies."""

    def __init__(self, client_from: Client) -> None:
        self._client_from = client_from
        self._next = 0

    def __call__(self) -> TestClient:
        self._next += 1
        return self._client_from(f"10.2.{self._next // 250}.{self._next % 250}")


@pytest.fixture
def fresh(client_from: Client) -> Addresses:
    return Addresses(client_from)


def login(client: TestClient, code: str | None = None, path: str = "/api/login") -> Any:
    body: dict[str, Any] = dict(LOGIN)
    if code is not None:
        body["one_time_code"] = code
    return client.post(path, json=body)


def enrol(client: TestClient, organizer: Organizer, clock: FakeClock) -> tuple[str, list[str]]:
    """Turns two-step login on; the secret and the recovery codes."""
    begun = client.post("/api/me/totp", headers=organizer.headers)
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    confirmed = client.post(
        "/api/me/totp/confirm", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    clock.advance(30)  # the confirming code's step is spent: the next login needs a new one
    return secret, codes


@pytest.fixture
def enrolled(
    client: TestClient, organizer: Organizer, clock: FakeClock
) -> Iterator[tuple[str, list[str]]]:
    yield enrol(client, organizer, clock)


def test_enrolment_gives_a_secret_an_otpauth_uri_and_a_qr_code(
    client: TestClient, organizer: Organizer, broker: Broker, clock: FakeClock
) -> None:
    answer = client.post("/api/me/totp", headers=organizer.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path.endswith(":alice")
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]]
    assert query["issuer"] == ["relaydesk 127.0.0.1"]
    svg = body["qr_svg"]
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in svg and "style" not in svg
    assert answer.headers["Cache-Control"] == "no-store"
    # Pending only: logins still need no code, and /api/me says it is off.
    assert login(client).status_code == 200
    assert client.get("/api/me", headers=organizer.headers).json()["totp_enabled"] is False
    # Beginning again replaces the secret: only the newest one confirms.
    again = client.post("/api/me/totp", headers=organizer.headers).json()["secret"]
    assert again != body["secret"]
    old_code = code_at(body["secret"], clock())
    if old_code != code_at(again, clock()):
        stale = client.post(
            "/api/me/totp/confirm", json={"code": old_code}, headers=organizer.headers
        )
        assert stale.status_code == 400


def test_confirming_turns_it_on_with_ten_single_use_recovery_codes(
    client: TestClient, organizer: Organizer, clock: FakeClock
) -> None:
    secret = client.post("/api/me/totp", headers=organizer.headers).json()["secret"]
    wrong = client.post(
        "/api/me/totp/confirm",
        json={"code": wrong_code(secret, clock())},
        headers=organizer.headers,
    )
    assert wrong.status_code == 400
    assert "Wrong or already used one-time code." in wrong.json()["detail"]
    assert client.get("/api/me", headers=organizer.headers).json()["totp_enabled"] is False
    confirmed = client.post(
        "/api/me/totp/confirm", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}", code) for code in codes)
    assert client.get("/api/me", headers=organizer.headers).json()["totp_enabled"] is True
    # Enrolling again while it is on is refused; so is confirming with nothing pending.
    assert client.post("/api/me/totp", headers=organizer.headers).status_code == 409
    again = client.post(
        "/api/me/totp/confirm", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert again.status_code == 409


def test_confirm_with_nothing_pending_is_refused(client: TestClient, organizer: Organizer) -> None:
    answer = client.post("/api/me/totp/confirm", json={"code": "123456"}, headers=organizer.headers)
    assert answer.status_code == 409


def test_login_needs_the_code_once_it_is_on(
    client: TestClient, enrolled: tuple[str, list[str]], clock: FakeClock, fresh: Addresses
) -> None:
    secret, _ = enrolled
    missing = login(fresh())
    assert missing.status_code == 401
    assert missing.json() == NEEDS_CODE
    web_missing = login(fresh(), path="/api/web/login")
    assert web_missing.json() == NEEDS_CODE
    assert "set-cookie" not in web_missing.headers
    # A wrong password says so, code or not: the code is asked only after the password.
    wrong_password = fresh().post(
        "/api/login", json={**LOGIN, "password": "nope", "one_time_code": code_at(secret, clock())}
    )
    assert wrong_password.json() == {"detail": "Wrong username or password."}
    assert login(fresh(), wrong_code(secret, clock())).json() == WRONG_CODE
    assert login(fresh(), "12345").json() == WRONG_CODE
    good = login(fresh(), code_at(secret, clock()))
    assert good.status_code == 200
    assert "token" in good.json()


def test_the_web_login_takes_the_code_too(
    client: TestClient, enrolled: tuple[str, list[str]], clock: FakeClock
) -> None:
    secret, _ = enrolled
    answer = login(client, " " + code_at(secret, clock()) + " ", path="/api/web/login")
    assert answer.status_code == 200
    assert answer.json()["totp_enabled"] is True
    assert client.get("/api/me").json()["totp_enabled"] is True


def test_a_code_is_accepted_once_and_never_an_older_one(
    enrolled: tuple[str, list[str]], clock: FakeClock, fresh: Addresses
) -> None:
    secret, _ = enrolled
    now_code = code_at(secret, clock())
    assert login(fresh(), now_code).status_code == 200
    assert login(fresh(), now_code).json() == WRONG_CODE  # replayed
    clock.advance(30)
    previous = now_code  # still within the drift window, but its step is spent
    assert login(fresh(), previous).json() == WRONG_CODE
    ahead = code_at(secret, clock(), steps=1)  # the next step's code is accepted (drift)...
    assert login(fresh(), ahead).status_code == 200
    current = code_at(secret, clock())  # ...and then the current one is older: refused
    if current != ahead:
        assert login(fresh(), current).json() == WRONG_CODE
    clock.advance(60)
    assert login(fresh(), code_at(secret, clock())).status_code == 200


def test_the_confirming_code_cannot_log_in(
    client: TestClient, organizer: Organizer, clock: FakeClock, fresh: Addresses
) -> None:
    secret = client.post("/api/me/totp", headers=organizer.headers).json()["secret"]
    code = code_at(secret, clock())
    confirmed = client.post("/api/me/totp/confirm", json={"code": code}, headers=organizer.headers)
    assert confirmed.status_code == 200
    assert login(fresh(), code).json() == WRONG_CODE


def test_a_recovery_code_works_once_in_place_of_the_code(
    enrolled: tuple[str, list[str]], fresh: Addresses
) -> None:
    _, codes = enrolled
    assert login(fresh(), codes[0]).status_code == 200
    assert login(fresh(), codes[0]).json() == WRONG_CODE
    # Typed differently: case, spaces and dashes do not matter.
    typed = codes[1].upper().replace("-", " ")
    assert login(fresh(), typed).status_code == 200
    assert login(fresh(), codes[1]).json() == WRONG_CODE
    assert login(fresh(), "abcd-efgh-jkmn").json() == WRONG_CODE


def test_wrong_codes_count_like_wrong_passwords(
    enrolled: tuple[str, list[str]], clock: FakeClock, fresh: Addresses
) -> None:
    secret, codes = enrolled
    for _ in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST):
        assert login(fresh(), wrong_code(secret, clock())).json() == WRONG_CODE
    throttled = login(fresh(), code_at(secret, clock()))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert login(fresh(), codes[0]).status_code == 429
    clock.advance(limits.LOGIN_FAILURES_PER_USERNAME_REFILL_SECONDS)
    assert login(fresh(), code_at(secret, clock())).status_code == 200


def test_asking_for_the_code_is_not_a_failure(
    enrolled: tuple[str, list[str]], clock: FakeClock, fresh: Addresses
) -> None:
    secret, _ = enrolled
    for _ in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST + 2):
        assert login(fresh()).json() == NEEDS_CODE
    assert login(fresh(), code_at(secret, clock())).status_code == 200


def test_disabling_needs_a_code_and_then_the_password_is_enough(
    client: TestClient,
    organizer: Organizer,
    enrolled: tuple[str, list[str]],
    clock: FakeClock,
    fresh: Addresses,
) -> None:
    secret, codes = enrolled
    wrong = client.post(
        "/api/me/totp/disable",
        json={"code": wrong_code(secret, clock())},
        headers=organizer.headers,
    )
    assert wrong.status_code == 400
    assert login(fresh()).json() == NEEDS_CODE
    off = client.post(
        "/api/me/totp/disable", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert off.status_code == 204
    assert login(fresh()).status_code == 200
    assert login(fresh(), codes[0]).status_code == 200  # a code is ignored now, not needed
    assert client.get("/api/me", headers=organizer.headers).json()["totp_enabled"] is False
    again = client.post(
        "/api/me/totp/disable", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert again.status_code == 409
    # Turned on anew, the old recovery codes are gone.
    enrol(client, organizer, clock)
    assert login(fresh(), codes[1]).json() == WRONG_CODE


def test_disabling_with_a_recovery_code(
    client: TestClient, organizer: Organizer, enrolled: tuple[str, list[str]], fresh: Addresses
) -> None:
    _, codes = enrolled
    off = client.post("/api/me/totp/disable", json={"code": codes[3]}, headers=organizer.headers)
    assert off.status_code == 204
    assert login(fresh()).status_code == 200


def test_disabling_with_wrong_codes_is_throttled(
    client: TestClient, organizer: Organizer, enrolled: tuple[str, list[str]], clock: FakeClock
) -> None:
    secret, _ = enrolled
    bad = wrong_code(secret, clock())
    for _ in range(limits.LOGIN_FAILURES_PER_USERNAME_BURST):
        answer = client.post("/api/me/totp/disable", json={"code": bad}, headers=organizer.headers)
        assert answer.status_code == 400
    throttled = client.post(
        "/api/me/totp/disable", json={"code": code_at(secret, clock())}, headers=organizer.headers
    )
    assert throttled.status_code == 429


@pytest.mark.usefixtures("enrolled")
def test_the_administrator_s_reset_turns_it_off(broker: Broker, fresh: Addresses) -> None:
    assert login(fresh()).json() == NEEDS_CODE
    assert broker.store.reset_totp("alice")
    assert login(fresh()).status_code == 200
    assert broker.store.recovery_codes_left(broker.store.accounts()[0].id) == 0


def test_codes_are_bounded(client: TestClient, organizer: Organizer) -> None:
    too_long = client.post(
        "/api/login", json={**LOGIN, "one_time_code": "1" * (totp.RECOVERY_CODES * 10)}
    )
    assert too_long.status_code == 422
    empty = client.post("/api/me/totp/confirm", json={"code": ""}, headers=organizer.headers)
    assert empty.status_code == 422


def test_no_secret_or_code_is_logged_or_stored_in_clear(
    client: TestClient,
    organizer: Organizer,
    clock: FakeClock,
    fresh: Addresses,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
) -> None:
    caplog.set_level("DEBUG")
    secret, codes = enrol(client, organizer, clock)
    code = code_at(secret, clock())
    assert login(fresh(), code).status_code == 200
    assert login(fresh(), codes[0]).status_code == 200
    assert login(fresh(), code).status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("relaydesk"))
    assert "two-step login" in logged and "recovery code" in logged
    for secret_text in (secret, code, *codes, *(c.replace("-", "") for c in codes)):
        assert secret_text not in logged
    stored = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("relaydesk.db")
    )
    for recovery in codes:
        assert recovery.encode() not in stored
        assert recovery.replace("-", "").encode() not in stored


def test_matching_step_accepts_one_step_of_drift_and_only_steps_after_the_last() -> None:
    secret = pyotp.random_base32()
    now = 1_800_000_015.0
    step = int(now // 30)
    for drift in (-1, 0, 1):
        code = code_at(secret, now, drift)
        if all(code != code_at(secret, now, other) for other in (-1, 0, 1) if other != drift):
            assert totp.matching_step(secret, code, now) == step + drift
            assert totp.matching_step(secret, code, now, after=step + drift) is None
            assert totp.matching_step(secret, code, now, after=step + drift - 1) == step + drift
    for far in (-2, 2):
        code = code_at(secret, now, far)
        if all(code != code_at(secret, now, near) for near in (-1, 0, 1)):
            assert totp.matching_step(secret, code, now) is None
    assert totp.matching_step(secret, "12345a", now) is None
    fullwidth = "".join(chr(0xFF10 + int(digit)) for digit in code_at(secret, now))
    assert totp.matching_step(secret, fullwidth, now) is None


def test_recovery_codes_are_normalized_before_hashing() -> None:
    code = totp.new_recovery_codes()[0]
    hashed = totp.recovery_code_hash(code)
    assert hashed is not None and len(hashed) == 64
    assert totp.recovery_code_hash(" " + code.upper().replace("-", " ") + " ") == hashed
    for bad in ("", "abcd-efgh", "abcd-efgh-jkm0", "abcd-efgh-jkmn-pqrs"):
        assert totp.recovery_code_hash(bad) is None
