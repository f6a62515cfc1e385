"""A network drop: the browser reaches the server through a TCP proxy on 127.0.0.1 (its
"network"); the proxy is killed (every connection cut, the port closed) and started again
on the same port. The page says it is reconnecting, then "Connected" again, and the
shared screen keeps updating afterwards; someone who left while it was away is no longer
listed (issue 4). Chat across the drop: a line typed while the page was away reaches
the others once it is back, and nothing is shown twice (issue 11, §11)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    LiveServer,
    Process,
    Share,
    TcpProxy,
    Watched,
    canvas_shows,
    codes_agree,
    join_in_browser,
    send_from_browser,
    until,
)
from support.screen import Screen

NAME = "Nico Network"
LEAVER = "Lena Leaving"


@pytest.fixture
def leaver(share: Share, server: LiveServer, tmp_path: Path) -> Iterator[Process]:
    """Another participant, ``relaydesk join`` in the terminal."""
    process = Process(
        "join", share.invite_url, "--name", LEAVER, "--fingerprint", server.fingerprint,
        "--config-dir", tmp_path,
    )  # fmt: skip
    try:
        process.wait_for_line(r"^Joined session ")
        yield process
    finally:
        process.stop()


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[TcpProxy]:
    network = TcpProxy(server.port).start()
    try:
        yield network
    finally:
        network.close()


def test_the_page_reconnects_after_a_network_drop(
    share: Share,
    screen: Screen,
    server: LiveServer,
    proxy: TcpProxy,
    leaver: Process,
    browser_page: Watched,
) -> None:
    page = browser_page.page
    status = page.locator("#status")
    invite = re.sub(r"^https://[^/]+", f"https://127.0.0.1:{proxy.port}", share.invite_url)
    page.goto(invite)
    page.get_by_label("Your name").fill(NAME)
    page.get_by_role("button", name="Join").click()
    expect(status).to_have_text("Connected")
    before = screen.settle()
    canvas_shows(page, before)
    assert browser_page.websockets == [f"wss://127.0.0.1:{proxy.port}/relay"]
    roster = page.get_by_role("list", name="Participants")
    expect(roster).to_contain_text(LEAVER)

    proxy.drop()
    expect(status).to_have_text(re.compile("reconnecting", re.IGNORECASE))
    # The server saw the member go too: the drop was real on both ends.
    until(lambda: NAME not in server.members(), "the relay sees the browser gone")
    # While the network is down, someone leaves and the screen changes; attempts to
    # reconnect fail and are retried.
    left_at = len(share.process.stdout_lines)
    leaver.stop()
    share.process.wait_for_line(rf"^- {LEAVER} left", after=left_at)
    screen.rectangle(60, 380, 240, 70, secrets.randbits(24))
    changed = screen.settle(changed_from=before)
    time.sleep(1.5)
    expect(status).not_to_have_text("Connected")

    proxy.restore()
    expect(status).to_have_text("Reconnected", timeout=30_000)
    until(lambda: NAME in server.members(), "the relay has the browser back")
    expect(roster).to_contain_text(f"{NAME} (you)")
    expect(roster).not_to_contain_text(LEAVER)
    assert len(browser_page.websockets) >= 2  # a new WebSocket, not the old one revived
    canvas_shows(page, changed)  # the full picture after the reconnect...
    screen.rectangle(360, 40, 200, 120, secrets.randbits(24))
    screen.background(secrets.randbits(24))
    canvas_shows(page, screen.settle(changed_from=changed))  # ...and changes after it


def test_a_chat_line_around_a_drop_is_shown_exactly_once(
    share: Share,
    server: LiveServer,
    proxy: TcpProxy,
    python_viewer: Process,
    browser_page: Watched,
) -> None:
    page = browser_page.page
    status = page.locator("#status")
    log = page.get_by_role("log", name="Chat")
    name = "Dora Drop"
    tag = secrets.token_hex(4)
    invite = re.sub(r"^https://[^/]+", f"https://127.0.0.1:{proxy.port}", share.invite_url)
    join_in_browser(page, invite, name)
    expect(status).to_have_text("Connected")
    python_viewer.wait_for_line(rf"^\+ {name} joined$")
    codes_agree(page, share, python_viewer)
    before = f"before the drop {tag}"
    python_viewer.type_line(before)
    expect(log).to_contain_text(f"Pat Python: {before}")

    proxy.drop()
    expect(status).to_have_text(re.compile("reconnecting", re.IGNORECASE))
    until(lambda: name not in server.members(), "the relay sees the browser gone")
    away = f"typed while away {tag}"
    send_from_browser(page, away)  # nothing is connected: it waits in the chat log
    expect(log).to_contain_text(f"You: {away}")

    proxy.restore()
    expect(status).to_have_text("Reconnected", timeout=30_000)
    # Sent again once the page holds the new epoch's keys: it arrives, once.
    printed = python_viewer.wait_for_line(rf"^\[chat\] {name}: {re.escape(away)}$")
    assert printed
    share.process.wait_for_line(rf"^\[chat\] {name}: {re.escape(away)}$")
    # The viewer sent its line again too when the page came back (before it printed the
    # page's line, §11); a line typed now comes after that repeat.
    after = f"after the drop {tag}"
    python_viewer.type_line(after)
    expect(log).to_contain_text(f"Pat Python: {after}")
    text = log.inner_text()
    assert text.count(before) == 1, text
    assert text.count(away) == 1, text
    lines = python_viewer.stdout_lines
    assert sum(1 for line in lines if line.endswith(f": {away}")) == 1, lines
