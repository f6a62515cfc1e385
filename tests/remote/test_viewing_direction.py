"""Switching the viewing direction: the organizer asks Pat (``relaydesk join`` on a
screen of its own) to present; Pat is asked in the terminal and only a typed "yes"
shares Pat's screen, which the organizer's ``relaydesk start`` then shows."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser.helpers import LiveServer
from relaydesk import limits
from relaydesk.screen.xvfb import Xvfb
from support.terminal import Terminal

from .conftest import Share, join

PRESENT_PROMPT = r"\? {} asks you to show your screen to everyone in the session\. Allow\? \[y/N\]"
PAT_COLOR = (0x2E, 0x8B, 0x57)  # Pat's desktop: sea green, nothing else on it


@pytest.fixture(scope="package")
def pat_screen() -> Iterator[Xvfb]:
    with Xvfb(320, 240, 24) as server:
        color = "#{:02x}{:02x}{:02x}".format(*PAT_COLOR)
        subprocess.run(["xsetroot", "-solid", color], env=server.env,
                       check=True, timeout=10)  # fmt: skip
        yield server


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return tmp_path / "olga-saw.png"


@pytest.fixture
def olga(organizer_profile: Path, presenter_screen: Xvfb, snapshot: Path) -> Iterator[Share]:
    started = Share(organizer_profile, presenter_screen, snapshot)
    try:
        yield started
    finally:
        started.terminal.stop()


@pytest.fixture
def pat(olga: Share, server: LiveServer, pat_screen: Xvfb, tmp_path: Path) -> Iterator[Terminal]:
    terminal = join(olga, server, "Pat", tmp_path / "pat", pat_screen)
    try:
        yield terminal
    finally:
        terminal.stop()


def presenter_name(server: LiveServer) -> str | None:
    def find() -> str | None:
        (live,) = server.hub.sessions.values()
        holder = live.rules.presenter
        connection = live.connections.get(holder) if holder is not None else None
        return connection.ticket.display_name if connection and connection.ticket else None

    return server.inspect(find)


def test_pat_presents_only_after_yes_and_olga_watches_then_takes_it_back(
    olga: Share, pat: Terminal, server: LiveServer, snapshot: Path
) -> None:
    olga.terminal.type("/present Pat")
    pat.expect(PRESENT_PROMPT.format("Olga"))
    assert presenter_name(server) == "Olga"  # asking changes nothing yet
    pat.type("y")
    olga.terminal.expect(r"\* now presenting: Pat")
    assert presenter_name(server) == "Pat"
    olga.terminal.expect(r"Showing Pat's screen, 320x240\.")  # `start` is a viewer too

    # Olga may take presenting back at once: Pat is not asked.
    olga.terminal.type("/present me")
    olga.terminal.expect(r"\* now presenting: you")
    pat.expect(r"\* now presenting: Olga")
    assert presenter_name(server) == "Olga"
    assert len(pat.shown().split("asks you to show your screen")) == 2  # the one prompt

    olga.terminal.stop()  # Olga's client writes what it last saw of Pat's screen
    assert "Snapshot written" in olga.terminal.shown(), olga.terminal.shown()
    picture = np.asarray(Image.open(snapshot).convert("RGB"))
    assert picture.shape == (240, 320, 3)
    assert (picture == PAT_COLOR).all()


def test_denied_and_unanswered_requests_leave_the_presenter(
    olga: Share, pat: Terminal, server: LiveServer
) -> None:
    olga.terminal.type("/present Pat")
    pat.expect(PRESENT_PROMPT.format("Olga"))
    pat.type("n")
    olga.terminal.expect(r"you asked Pat to present: denied")
    assert presenter_name(server) == "Olga"

    olga.terminal.type("/present Pat")
    pat.expect(PRESENT_PROMPT.format("Olga"))
    timeout = limits.CONSENT_TIMEOUT_SECONDS + 15
    olga.terminal.expect(r"you asked Pat to present: timed out", timeout=timeout)
    pat.expect(r"No answer: that is a no\.", timeout=timeout)
    assert presenter_name(server) == "Olga"


def test_the_host_must_agree_to_present_and_the_presenter_stops_at_will(
    olga: Share, pat: Terminal, server: LiveServer
) -> None:
    olga.terminal.type("/present Pat")
    pat.expect(PRESENT_PROMPT.format("Olga"))
    pat.type("y")
    olga.terminal.expect(r"\* now presenting: Pat")

    pat.type("/present Olga")  # the presenter hands over: Olga is asked
    olga.terminal.expect(PRESENT_PROMPT.format("Pat"))
    olga.terminal.type("n")
    pat.expect(r"you asked Olga to present: denied")
    assert presenter_name(server) == "Pat"

    pat.type("/stop")
    olga.terminal.expect(r"\* Pat stopped presenting \(by presenter\)")
    assert presenter_name(server) is None
