"""Broker test helpers: a fake clock, a cheap argon2id hasher, databases, an API client.

Store tests run against SQLite in ``tmp_path`` and, when it is reachable, against the
local PostgreSQL (``postgresql://postgres@127.0.0.1:5432/test``), each test in a schema of
its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from broker_testing import (
    ORGANIZER_PASSWORD,
    PUBLIC_URL,
    Client,
    FakeClock,
    Organizer,
    TestClient,
    cheap_passwords,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from relaydesk.broker.api import create_api
from relaydesk.broker.passwords import Passwords
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from support.postgres import POSTGRES_URL, postgres_or_skip


@pytest.fixture
def passwords() -> Passwords:
    return cheap_passwords()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose every table lives in a fresh schema, dropped after the test."""
    postgres_or_skip()
    schema = f"relaydesk_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relaydesk.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'relaydesk.db'}"


@pytest.fixture
def store(sqlite_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.open(sqlite_url, clock)
    yield store
    store.close()


@pytest.fixture
def any_store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """The same store on SQLite and on PostgreSQL."""
    store = Store.open(database_url, clock)
    yield store
    store.close()


@pytest.fixture
def broker_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def broker(store: Store, broker_key: Ed25519PrivateKey) -> Broker:
    return Broker(store, broker_key, BrokerSettings(PUBLIC_URL), passwords=cheap_passwords())


@pytest.fixture
def app(broker: Broker) -> FastAPI:
    app = FastAPI()
    app.include_router(create_api(broker))
    return app


@pytest.fixture
def client_from(app: FastAPI) -> Iterator[Client]:
    """``client_from("10.0.0.7")``: a client calling from that address."""
    clients: list[TestClient] = []

    def make(address: str = "203.0.113.1") -> TestClient:
        client = TestClient(app, base_url=PUBLIC_URL, client=(address, 50000))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(client_from: Client) -> TestClient:
    return client_from()


@pytest.fixture
def add_organizer(broker: Broker, client_from: Client) -> Callable[[str], Organizer]:
    """Adds an account (as the admin command would) and logs it in through the API."""

    def add(username: str = "alice") -> Organizer:
        broker.store.add_account(username, broker.passwords.hash(ORGANIZER_PASSWORD))
        answer = client_from("198.51.100.1").post(
            "/api/login", json={"username": username, "password": ORGANIZER_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return Organizer(username, answer.json()["token"])

    return add


@pytest.fixture
def organizer(add_organizer: Callable[[str], Organizer]) -> Organizer:
    return add_organizer("alice")
