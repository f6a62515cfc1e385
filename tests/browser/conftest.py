"""Browser fixtures: one Xvfb showing a known picture, one real EmbeddedServer (with a tap
on the relay), a presenter (``relaydesk start``), a Python viewer (``relaydesk join``) and
Debian's headless Chromium, shared by the whole run; each test gets a fresh browser
context (its own cookies, cache and connections). Everything listens on 127.0.0.1 and
every process is stopped at teardown."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HEIGHT,
    SECURITY_CODE,
    WIDTH,
    LiveServer,
    Process,
    Share,
    Watched,
    open_page,
    organizer_login,
    organizer_server,
)
from relaydesk.screen.xvfb import Xvfb
from support.screen import Screen

# What the page must show "soon" (connected, a chat line): generous on two slow cores.
expect.set_options(timeout=20_000)


def _require() -> None:
    missing = [p for p in ("Xvfb", "xsetroot") if shutil.which(p) is None]
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install xvfb chromium)")
    pytest.importorskip("playwright.sync_api")


# Package scope: the servers and threads started here end with this suite, so none of
# them runs (and touches global state such as `random`) while other suites run.
@pytest.fixture(scope="package")
def xvfb() -> Iterator[Xvfb]:
    _require()
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        yield server


@pytest.fixture(scope="package")
def screen(xvfb: Xvfb) -> Iterator[Screen]:
    """The presenter's desktop, with known content: a background colour and a grid of
    windows in random colours (a picture no cache or earlier run can have shown)."""
    drawing = Screen(xvfb)
    try:
        drawing.background(0x2B4C7E)
        drawing.random_blocks(24, 24, 12, 6, 20)
        drawing.rectangle(400, 300, 200, 120, 0xF2F2F2)
        yield drawing
    finally:
        drawing.close()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real EmbeddedServer in a background thread, with an organizer account made by
    the admin CLI and a tap recording every frame the relay receives."""
    _require()
    with organizer_server(tmp_path_factory.mktemp("server")) as live:
        yield live


@pytest.fixture(scope="package")
def organizer_profile(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``relaydesk login`` once (logins are rate limited), pinning the certificate."""
    return organizer_login(server, tmp_path_factory.mktemp("organizer-profile"))


@pytest.fixture(scope="package")
def share(organizer_profile: Path, xvfb: Xvfb, screen: Screen) -> Iterator[Share]:
    """``relaydesk start`` sharing the Xvfb display: the session most tests join."""
    started = Share(organizer_profile, xvfb, "Olga Organizer")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="package")
def python_viewer(
    share: Share, server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    """``relaydesk join INVITE`` with a pipe to its standard input (lines are chat)."""
    profile = tmp_path_factory.mktemp("viewer-profile")
    process = Process(
        "join", share.invite_url, "--name", "Pat Python", "--fingerprint", server.fingerprint,
        "--config-dir", profile,
    )  # fmt: skip
    try:
        process.wait_for_line(r"^Joined session ")
        process.wait_for_line(SECURITY_CODE)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    _require()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Watched]:
    """A fresh browser context and page, closed after the test."""
    watched = open_page(chromium)
    try:
        yield watched
    finally:
        watched.context.close()
