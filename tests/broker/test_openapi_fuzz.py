"""Schemathesis against the broker's own OpenAPI document: for every operation, requests
made from the schema (valid and invalid, with and without an organizer's token) never
get a server error, and every answer matches what the document declares (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from broker_testing import PUBLIC_URL, Organizer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from relaydesk.broker.service import Broker
from relaydesk.server.app import create_app


@pytest.fixture
def web_app(broker: Broker) -> FastAPI:
    """The whole web application as the server runs it (its /api/openapi.json too)."""
    return create_app(broker)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
]


def httpx_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis serializes a case for ``requests``; httpx takes raw bodies as
    ``content`` and per-request cookies only as a header."""
    if isinstance(arguments.get("data"), bytes | str):
        arguments["content"] = arguments.pop("data")
    if cookies := arguments.pop("cookies", None):
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        arguments["headers"] = {**arguments.get("headers", {}), "Cookie": cookie}
    return arguments


@pytest.mark.parametrize("role", ["organizer", "administrator"])
def test_no_server_error_and_answers_as_documented(
    web_app: FastAPI, organizer: Organizer, broker: Broker, role: str
) -> None:
    """With an organizer's token (the admin API answers 403, as documented) and with a
    site administrator's (the admin API itself is fuzzed, policy changes included)."""
    if role == "administrator":
        broker.store.set_admin(organizer.username, True)
    # Schemathesis' own pytest plugin does not run under pytest 9; its strategies do. Its
    # in-process ASGI transport keeps an event-loop thread until the interpreter exits, so
    # the cases go through a test client this test opens and closes.
    with TestClient(web_app, base_url=PUBLIC_URL) as client:
        calls = call_every_operation(client, organizer)
    assert len(calls) >= 10  # the document lists the API, not an empty page


def call_every_operation(client: TestClient, organizer: Organizer) -> list[str]:
    schema = schemathesis.openapi.from_dict(client.get("/api/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    calls: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            arguments = case.as_transport_kwargs(base_url=PUBLIC_URL, headers=organizer.headers)
            response = client.request(**httpx_arguments(arguments))
            case.validate_response(response, checks=CHECKS)

        call()
        calls.append(operation.label)
    return calls
