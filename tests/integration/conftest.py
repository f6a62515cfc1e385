"""Integration fixtures: a private Xvfb with real X clients, relaydesk servers (a real
subprocess, or the real EmbeddedServer in a background thread), organizer accounts made
with the admin CLI. Everything listens on 127.0.0.1 only; every child process is
stopped in teardown."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.helpers import (
    add_organizer,
    log_in,
    pinned_context,
    run_async,
)
from relaydesk.screen.xvfb import Xvfb
from support.screen import Screen
from support.servers import LiveServer

WIDTH, HEIGHT = 640, 480


def _require(*programs: str) -> None:
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        pytest.skip(
            f"not installed: {', '.join(missing)} (apt install xvfb xterm x11-xserver-utils)"
        )


@pytest.fixture(scope="module")
def xvfb() -> Iterator[Xvfb]:
    """One X server per test module, so that modules never see each other's drawings."""
    _require("Xvfb", "xterm", "xsetroot")
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        yield server


@pytest.fixture(scope="module")
def screen(xvfb: Xvfb) -> Iterator[Screen]:
    drawing = Screen(xvfb)
    try:
        yield drawing
    finally:
        drawing.close()


@pytest.fixture
def live_servers() -> Iterator[Callable[..., LiveServer]]:
    """Start EmbeddedServers of the test's own (stopped at teardown), with an organizer
    account made by the admin CLI unless ``organizer=False``."""
    started: list[LiveServer] = []

    def start(data: Path, *, organizer: bool = True, port: int = 0) -> LiveServer:
        if organizer:
            add_organizer(data)
        server = LiveServer(data, port)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


# Package scope: the servers and threads started here end with this suite, so none of
# them runs (and touches global state such as `random`) while other suites run.
@pytest.fixture(scope="package")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One EmbeddedServer for the tests that do not disturb each other (they use
    sessions of their own), with an organizer account made by the admin CLI."""
    data = tmp_path_factory.mktemp("shared-server")
    add_organizer(data)
    server = LiveServer(data).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def shared_context(
    shared_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> ssl.SSLContext:
    """A TLS context pinned to the shared server's certificate, as clients make it."""
    profile = tmp_path_factory.mktemp("shared-profile")
    return pinned_context(shared_server.url, shared_server.fingerprint, profile)


@pytest.fixture(scope="package")
def organizer_token(shared_server: LiveServer, shared_context: ssl.SSLContext) -> str:
    """One login for all the tests on the shared server (logins are rate limited)."""
    return run_async(log_in(shared_server.url, shared_context))
