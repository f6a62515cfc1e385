"""Helpers the broker tests import by name (a module of its own, not conftest, so
that its name is unique on sys.path)."""

from __future__ import annotations

import base64
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

with warnings.catch_warnings():
    # Starlette now wants the httpx2 package for its TestClient and warns (an error under
    # filterwarnings=error) when it finds only httpx, which works all the same.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from relaydesk.broker.passwords import Passwords
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.tickets import Ticket, read_ticket

START = 1_800_000_000.0  # the fake clock's first reading (Unix seconds)
PUBLIC_URL = "https://127.0.0.1:8443"
ORGANIZER_PASSWORD = "correct horse battery staple"


class FakeClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cheap_passwords() -> Passwords:
    """argon2id with the smallest parameters: the same code paths, milliseconds each."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


Client = Callable[..., TestClient]
"""``client_from("10.0.0.7")``: a TestClient whose requests come from that address."""


@dataclass
class Organizer:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ticket_in(answer: dict[str, Any]) -> Ticket:
    """The ticket of a join or refresh answer, read (its signature is not checked)."""
    return read_ticket(unb64(answer["ticket"]))[2]


def join_body(
    name: str = "Bob", password: str | None = None, email: str | None = None
) -> tuple[MemberKeys, dict[str, Any]]:
    keys = MemberKeys.generate(os.urandom)
    body: dict[str, Any] = {
        "display_name": name,
        "agreement": b64(keys.agreement_public),
        "ed25519": b64(keys.ed25519_public),
    }
    if password is not None:
        body["password"] = password
    if email is not None:
        body["email"] = email
    return keys, body


def create(client: TestClient, organizer: Organizer, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/sessions", json=body, headers=organizer.headers)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def join(
    client: TestClient,
    session_id: str,
    name: str = "Bob",
    password: str | None = None,
    headers: dict[str, str] | None = None,
    email: str | None = None,
) -> Any:
    _, body = join_body(name, password, email)
    return client.post(f"/api/sessions/{session_id}/join", json=body, headers=headers or {})
