"""The browser on several servers (issue 11): ``relaydesk broker`` serves the page, two
``relaydesk relay`` processes sharing a nats-server switch the session, and
``relaydesk start`` shares the Xvfb screen. The page reaches the session's home relay
on its own origin (its WebSocket is not the broker's), shows the screen and chats. The
home relay then gets SIGKILL: the page and the presenter refresh their tickets and come
back on the other relay by themselves, the screen goes on, and chat passes both ways
again, each line once."""

from __future__ import annotations

import os
import re
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Share,
    Watched,
    canvas_shows,
    join_in_browser,
    relaydesk,
    send_from_browser,
    until,
)
from relaydesk.screen.xvfb import Xvfb
from support.cluster import BrokerProcess, RelayProcess, start_relay
from support.nats import nats_server
from support.screen import Screen

RELAYS = ("relay-a", "relay-b")
NAME = "Bea Browser"


@dataclass
class Cluster:
    broker: BrokerProcess
    relays: dict[str, RelayProcess]
    profile: Path  # the organizer's, logged in to the broker


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    relays: dict[str, RelayProcess] = {}
    with nats_server() as nats:
        broker_data = tmp_path / "broker"
        relaydesk("admin", "--data", broker_data, "user", "add", ORGANIZER, "--password-stdin",
                  stdin=ORGANIZER_PASSWORD + "\n")  # fmt: skip
        broker = BrokerProcess(broker_data, f"sqlite:///{broker_data / 'relaydesk.db'}").start()
        try:
            for name in RELAYS:
                database = ["--data", str(broker_data)]
                relays[name] = start_relay(name, tmp_path / name, database, broker, "--nats", nats)
            profile = tmp_path / "organizer"
            relaydesk(
                "login", broker.url, ORGANIZER, "--password-stdin",
                "--fingerprint", broker.fingerprint, "--config-dir", profile,
                stdin=ORGANIZER_PASSWORD + "\n",
            )  # fmt: skip
            until(lambda: live_relays(broker_data) == len(RELAYS), "both relays are live")
            yield Cluster(broker, relays, profile)
        finally:
            for relay in relays.values():
                relay.stop()
            broker.stop()


def live_relays(broker_data: Path) -> int:
    listing = relaydesk("admin", "--data", broker_data, "relay", "list").stdout
    return sum(1 for line in listing.splitlines() if " yes " in line)


def test_the_page_follows_the_session_to_another_relay(
    cluster: Cluster, xvfb: Xvfb, screen: Screen, browser_page: Watched
) -> None:
    page = browser_page.page
    status = page.locator("#status")
    log = page.get_by_role("log", name="Chat")
    share = Share(cluster.profile, xvfb, "Olga Organizer")
    try:
        home = share.process.wait_for_line(r"^Connected to relay (\S+) by ").group(1)
        other = next(name for name in RELAYS if name != home)
        join_in_browser(page, share.invite_url, NAME)
        expect(status).to_have_text("Connected")
        assert page.url.startswith(cluster.broker.url)
        home_socket = cluster.relays[home].wss_url
        assert browser_page.websockets == [home_socket]
        before = screen.settle()
        canvas_shows(page, before)
        share.process.wait_for_line(rf"^\+ {NAME} joined$")
        tag = secrets.token_hex(4)
        send_from_browser(page, f"hello from the page {tag}")
        share.process.wait_for_line(rf"^\[chat\] {NAME}: hello from the page {tag}$")

        os.kill(cluster.relays[home].process.process.pid, signal.SIGKILL)
        share.process.wait_for_line(rf"^Reconnected to relay {other} by ")
        expect(status).to_have_text("Reconnected", timeout=30_000)
        assert browser_page.websockets[-1] == cluster.relays[other].wss_url
        screen.rectangle(120, 200, 220, 90, secrets.randbits(24))
        canvas_shows(page, screen.settle(changed_from=before))
        send_from_browser(page, f"after the move {tag}")
        printed = share.process.wait_for_line(rf"^\[chat\] {NAME}: after the move {tag}$")
        assert printed
        share.process.type_line(f"the host, after the move {tag}")
        expect(log).to_contain_text(f"Olga Organizer: the host, after the move {tag}")
        lines = share.process.stdout_lines
        for text in (f"hello from the page {tag}", f"after the move {tag}"):
            assert sum(1 for line in lines if line.endswith(f": {text}")) == 1, lines
        assert log.inner_text().count(f"hello from the page {tag}") == 1
        assert not re.search(r"dropped a frame", share.process.stdout), share.process.stdout
        assert browser_page.page_errors == []
    finally:
        share.stop()
