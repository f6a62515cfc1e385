"""Several relaydesk processes share one PostgreSQL database of their own per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import fresh_database as make_database


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own, dropped after the test (the brokers migrate it)."""
    with make_database("relaydesk_cluster") as url:
        yield url
