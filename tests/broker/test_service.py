"""The broker's rules below the HTTP layer: settings, IDs, names, rehashing, concurrency."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from broker_testing import ORGANIZER_PASSWORD

from relaydesk.broker import service
from relaydesk.broker.passwords import Passwords
from relaydesk.broker.service import (
    Broker,
    BrokerSettings,
    normalize_display_name,
    normalize_email,
    normalize_session_id,
    normalize_title,
    random_session_id,
)
from relaydesk.broker.store import Store
from relaydesk.errors import BrokerError


def test_settings_derive_invite_and_relay_urls() -> None:
    settings = BrokerSettings("https://desk.example.org/")
    assert settings.public_url == "https://desk.example.org"
    assert settings.invite_url("123456789") == "https://desk.example.org/j/123456789"
    assert settings.relay_url == "wss://desk.example.org/relay"
    assert BrokerSettings("https://[::1]:8443").relay_url == "wss://[::1]:8443/relay"


@pytest.mark.parametrize(
    "bad", ["http://127.0.0.1:8443", "https://", "https://h/path", "https://u:p@h", "h:8443"]
)
def test_settings_want_an_https_origin(bad: str) -> None:
    with pytest.raises(BrokerError, match="public URL"):
        BrokerSettings(bad)


def test_session_ids() -> None:
    assert normalize_session_id("123 456 789") == "123456789"
    assert normalize_session_id("123-456-789") == "123456789"
    fullwidth = "".join(chr(0xFF10 + digit) for digit in range(1, 10))  # str.isdigit says yes
    for bad in ("", "012345678", "12345678", "1234567890", "12345678a", fullwidth):
        assert normalize_session_id(bad) is None
    for _ in range(200):
        assert normalize_session_id(random_session_id()) is not None


def test_display_names() -> None:
    assert normalize_display_name("  Zoë  ") == "Zoë"
    assert normalize_display_name("x" * 64) == "x" * 64
    for bad in ("", "   ", "x" * 65, "a\nb", "a\u202eb", "a\u2028b"):
        with pytest.raises(BrokerError):
            normalize_display_name(bad)


def test_e_mail_addresses_are_plausible_and_normalized() -> None:
    assert normalize_email("  Bob.Smith+meet@Example.ORG ") == "Bob.Smith+meet@example.org"
    assert normalize_email("zoë@bücher.example") == "zoë@bücher.example"
    longest = "b" * (254 - len("@example.org")) + "@example.org"
    assert normalize_email(longest) == longest
    bad = [
        "",
        "bob",
        "bob@",
        "@example.org",
        "bob@example",  # no dot in the domain
        "bob@@example.org",
        "bob@ex@ample.org",
        "bob smith@example.org",
        "bob@exa mple.org",
        "bob@example..org",
        "bob@.example.org",
        "bob@example.org.",
        "bob@-example.org",
        "bob\x00@example.org",
        "bob\u202e@example.org",
        "bob@example.org\nBcc: eve@example.org",
        "bob@exa<mple.org",
        "b" * 243 + "@example.org",  # 255 characters
    ]
    for address in bad:
        assert normalize_email(address) is None, address


def test_titles() -> None:
    assert normalize_title("  Weekly call ") == "Weekly call"
    assert normalize_title(None) is None
    assert normalize_title("   ") is None
    assert normalize_title("t" * 100) == "t" * 100
    for bad in ("t" * 101, "a\nb", "a\u202eb"):
        with pytest.raises(BrokerError):
            normalize_title(bad)


def test_a_random_id_that_is_taken_is_drawn_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    organizer = broker.store.add_account("alice", "h")
    taken = broker.create_session(organizer, "123456789")
    draws = iter(["123456789", "123456789", "987654321"])
    monkeypatch.setattr(service, "random_session_id", lambda: next(draws))
    assert broker.create_session(organizer).session_id == "987654321"
    assert taken.session_id == "123456789"


def test_login_rehashes_a_password_made_with_old_parameters(broker: Broker, store: Store) -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=16, parallelism=1))
    store.add_account("alice", old.hash(ORGANIZER_PASSWORD))
    broker.login("alice", ORGANIZER_PASSWORD, "192.0.2.1")
    found = store.account("alice")
    assert found is not None
    assert not broker.passwords.needs_rehash(found[1])
    assert broker.passwords.verify(found[1], ORGANIZER_PASSWORD)


def test_concurrent_joins_get_distinct_member_ids(any_store: Store) -> None:
    organizer = any_store.add_account("alice", "h")
    session_uid = secrets.token_bytes(16)
    any_store.create_session("123456789", session_uid, organizer.id, None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: any_store.allocate_member_id(session_uid), range(80)))
    assert sorted(i for i in ids if i is not None) == list(range(1, 81))
