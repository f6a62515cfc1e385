"""Security headers on every answer of every process kind (SECURITY.md, "Security
headers"; relaydesk/ops/headers.py): the embedded server, ``relaydesk broker``'s server
and ``relaydesk relay``'s, each real, in-process, over TLS on 127.0.0.1.

The requests are made from each application's own route table, every route and every
method, so a route added later is walked too: pages, static files, API answers (refused
or not), error pages, the WebSocket path asked over plain HTTP, ``/metrics``,
``/healthz``, and a path nobody serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from relaydesk.client import tls
from relaydesk.server.broker import BrokerOptions, BrokerServer
from relaydesk.server.relay import RelayOptions, RelayProcess
from support.servers import InThread, LiveServer

REQUIRED = {
    "content-security-policy": re.compile(r"(^|; )frame-ancestors 'none'(;|$)"),
    "referrer-policy": re.compile(r"^no-referrer$"),
    "x-content-type-options": re.compile(r"^nosniff$"),
    "cross-origin-opener-policy": re.compile(r"^same-origin$"),
    "permissions-policy": re.compile(r"(^|, )geolocation=\(\)"),
    "strict-transport-security": re.compile(r"^max-age=\d+"),
}
PARAMETER = re.compile(r"\{[^}]+\}")


def flat(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) of a route table, routers included in it walked too."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from flat(included.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + route.path, route


def requests_for(routes: list[Any]) -> list[tuple[str, str]]:
    """(method, path) for every route of the table and every method it takes; each path
    parameter is "1" (the answer may be a refusal: it must carry the headers too)."""
    wanted: list[tuple[str, str]] = [("GET", "/no-such-page")]
    for template, route in flat(routes):
        path = PARAMETER.sub("1", template)
        if isinstance(route, Route):
            wanted += [(method, path) for method in sorted(route.methods or {"GET"})]
        elif isinstance(route, Mount):  # static files: one that exists, one that does not
            wanted += [("GET", f"{path}/js/app.js"), ("GET", f"{path}/missing.js")]
        elif isinstance(route, WebSocketRoute):  # asked over plain HTTP
            wanted.append(("GET", path))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return wanted


def missing_headers(url: str, routes: list[Any]) -> tuple[list[str], set[int]]:
    context = tls.pinned_context(tls.fetch_certificate(url))
    problems, statuses = [], set()
    with httpx.Client(base_url=url, verify=context, timeout=30) as client:
        for method, path in requests_for(routes):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            answer = client.request(method, path, json=body)
            statuses.add(answer.status_code)
            for name, pattern in REQUIRED.items():
                if not pattern.search(answer.headers.get(name, "")):
                    problems.append(f"{method} {path} ({answer.status_code}): {name}")
    return problems, statuses


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("embedded") / "data").start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InThread]:
    data: Path = tmp_path_factory.mktemp("broker") / "data"
    running = InThread(BrokerServer(BrokerOptions(data=data, port=0))).start()
    try:
        yield running
    finally:
        running.stop()


def test_embedded_server_answers_carry_the_headers(embedded: LiveServer) -> None:
    routes = embedded.server.app.routes
    problems, statuses = missing_headers(embedded.url, routes)
    assert problems == []
    assert {200, 404} <= statuses  # pages and files served, and refusals, were walked


def test_broker_answers_carry_the_headers(broker: InThread) -> None:
    server: BrokerServer = broker.server
    problems, statuses = missing_headers(server.url, server.app.routes)
    assert problems == []
    assert {200, 404} <= statuses


def test_relay_answers_carry_the_headers(
    broker: InThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server: BrokerServer = broker.server
    options = RelayOptions(
        name="r1",
        broker=server.url,
        broker_fingerprint=server.fingerprint,
        data=tmp_path_factory.mktemp("relay") / "data",
        port=0,
        tcp_port=0,
    )
    relay = InThread(RelayProcess(options)).start()
    try:
        process: RelayProcess = relay.server
        url = process.wss_url.replace("wss://", "https://").removesuffix("/relay")
        problems, statuses = missing_headers(url, process.app.routes)
    finally:
        relay.stop()
    assert problems == []
    assert 200 in statuses  # /metrics
