"""The Python client's ``BrokerApi`` against the broker's API, in process: the one-time
code, the session settings, joining with an e-mail address, the listing."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pyotp
import pytest
from broker_testing import ORGANIZER_PASSWORD, PUBLIC_URL, FakeClock
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI

from relaydesk.broker.service import Broker
from relaydesk.client.api import (
    BrokerApi,
    ListedSession,
    SessionSettings,
    needs_one_time_code,
)
from relaydesk.errors import ApiError, OneTimeCodeRequired
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.tickets import TicketRule, verify_ticket

T = TypeVar("T")
KEY = bytes(range(32))
AGREEMENT = MemberKeys.generate(os.urandom).agreement_public


def run(app: FastAPI, use: Callable[[BrokerApi], Awaitable[T]], token: str = "") -> T:
    async def main() -> T:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with BrokerApi(
            PUBLIC_URL, ssl.create_default_context(), token, transport=transport
        ) as api:
            return await use(api)

    return asyncio.run(main())


@pytest.fixture
def alice(broker: Broker) -> None:
    broker.store.add_account("alice", broker.passwords.hash(ORGANIZER_PASSWORD))


@pytest.mark.usefixtures("alice")
def test_login_tells_the_cli_when_the_one_time_code_is_needed(
    app: FastAPI, broker: Broker, clock: FakeClock
) -> None:
    account = broker.store.accounts()[0]
    secret = pyotp.random_base32()
    broker.store.set_pending_totp(account.id, secret)
    assert broker.store.confirm_totp(account.id, secret, 0, [])
    with pytest.raises(OneTimeCodeRequired) as needed:
        run(app, lambda api: api.login("alice", ORGANIZER_PASSWORD))
    assert isinstance(needed.value, ApiError) and needed.value.status == 401
    assert needs_one_time_code(needed.value)
    with pytest.raises(ApiError) as wrong:
        run(app, lambda api: api.login("alice", "not the password"))
    assert not needs_one_time_code(wrong.value)
    code = pyotp.TOTP(secret).at(int(clock()))
    token = run(app, lambda api: api.login("alice", ORGANIZER_PASSWORD, one_time_code=code))
    assert broker.authenticate(token).username == "alice"


@pytest.mark.usefixtures("alice")
def test_create_with_settings_join_with_an_e_mail_address_and_list(
    app: FastAPI, broker: Broker, clock: FakeClock
) -> None:
    token = run(app, lambda api: api.login("alice", ORGANIZER_PASSWORD))
    created = run(
        app,
        lambda api: api.create_session(
            None,
            "sesame",
            SessionSettings(title="Help desk", listed=True, lobby=True, require_email=True),
        ),
        token,
    )
    assert created.settings == SessionSettings(
        title="Help desk", listed=True, lobby=True, require_email=True
    )
    plain = run(app, lambda api: api.create_session(), token)
    assert plain.settings == SessionSettings()
    with pytest.raises(ApiError) as no_email:
        run(app, lambda api: api.join(created.session_id, "Bob", AGREEMENT, KEY, "sesame"))
    assert (no_email.value.status, no_email.value.detail) == (
        400,
        "This session asks for your e-mail address.",
    )
    joined = run(
        app,
        lambda api: api.join(
            created.session_id, "Bob", AGREEMENT, KEY, "sesame", email="bob@example.org"
        ),
    )
    assert joined.waits_in_lobby
    ticket = verify_ticket(
        joined.ticket, Ed25519PublicKey.from_public_bytes(broker.public_key), now=clock()
    )
    assert ticket.email == "bob@example.org"
    assert TicketRule.WAIT_IN_LOBBY in ticket.rules
    host = run(app, lambda api: api.join(created.session_id, "Alice", AGREEMENT, KEY), token)
    assert not host.waits_in_lobby
    listed = run(app, lambda api: api.listed_sessions())
    assert listed == [ListedSession(created.session_id, "Help desk", "alice")]
