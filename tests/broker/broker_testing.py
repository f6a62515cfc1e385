"""Helpers the broker tests import by name (a module of its own, not conftest, so
that its name is unique on sys.path)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher

with warnings.catch_warnings():
    # Starlette now wants the httpx2 package for its TestClient and warns (an error under
    # filterwarnings=error) when it finds only httpx, which works all the same.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from relaydesk.broker.passwords import Passwords

START = 1_800_000_000.0  # the fake clock's first reading (Unix seconds)
PUBLIC_URL = "https://127.0.0.1:8443"
POSTGRES_URL = os.environ.get(
    "RELAYDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
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
