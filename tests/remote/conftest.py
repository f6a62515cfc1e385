"""Remote support end to end: real ``relaydesk start`` and ``join`` processes in real
terminals (consent prompts answered by typing, as a person does), a real server, Xvfb
displays with a real X client recording the input that reaches the presenter's screen,
and Debian's Chromium for the browser's side."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    organizer_login,
    organizer_server,
)
from relaydesk.screen.xvfb import Xvfb
from support.input_recorder import Recorder
from support.terminal import Terminal

WIDTH, HEIGHT = 640, 480  # the presenter's screen
# The recording window, inset so that screen and window coordinates differ.
LEFT, TOP = 20, 20
SECURITY_CODE = r"Security code: \d{4} \d{4} \d{4} \d{4}"


def _require(*programs: str) -> None:
    missing = [p for p in ("Xvfb", "xdotool", "xsetroot", *programs) if not shutil.which(p)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def on_display(xvfb: Xvfb | None) -> dict[str, str]:
    """The environment of a command run on ``xvfb``, or with no display at all."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return env | xvfb.env if xvfb is not None else env


def xdotool(xvfb: Xvfb, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=xvfb.env, check=True, timeout=10)


# Package scope: what starts here ends with this suite (no server thread outlives it).
@pytest.fixture(scope="package")
def presenter_screen() -> Iterator[Xvfb]:
    _require()
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        yield server


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _require()
    with organizer_server(tmp_path_factory.mktemp("server")) as live:
        yield live


@pytest.fixture(scope="package")
def organizer_profile(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return organizer_login(server, tmp_path_factory.mktemp("organizer"))


@pytest.fixture
def recorder(presenter_screen: Xvfb) -> Iterator[Recorder]:
    """A real X client on the presenter's screen, holding the keyboard focus."""
    recording = Recorder(presenter_screen, LEFT, TOP, WIDTH - 2 * LEFT, HEIGHT - 2 * TOP)
    try:
        yield recording
    finally:
        recording.close()


class Share:
    """``relaydesk start`` in a terminal: the organizer, presenting its own screen."""

    def __init__(self, profile: Path, screen: Xvfb | None, snapshot: Path | None = None) -> None:
        extra = ["--snapshot", str(snapshot)] if snapshot else []
        self.terminal = Terminal("start", "--name", "Olga", "--config-dir", profile, *extra,
                                 env=on_display(screen))  # fmt: skip
        self.invite_url = self.terminal.expect(r"Invite URL: (\S+)").group(1)
        self.terminal.expect(r"\* now presenting: you")


@pytest.fixture
def share(organizer_profile: Path, presenter_screen: Xvfb) -> Iterator[Share]:
    started = Share(organizer_profile, presenter_screen)
    try:
        yield started
    finally:
        started.terminal.stop()


def join(
    share: Share, server: LiveServer, name: str, profile: Path, screen: Xvfb | None = None
) -> Terminal:
    """``relaydesk join INVITE`` in a terminal, on ``screen`` or with no display."""
    terminal = Terminal(
        "join", share.invite_url, "--name", name, "--fingerprint", server.fingerprint,
        "--config-dir", profile, env=on_display(screen),
    )  # fmt: skip
    terminal.expect(rf"Joined session .* as {re.escape(name)}\.")
    share.terminal.expect(rf"\+ {re.escape(name)} joined")
    return terminal


@pytest.fixture
def viewer(share: Share, server: LiveServer, tmp_path: Path) -> Iterator[Terminal]:
    """Pat, a participant with ``relaydesk join`` and no display of their own."""
    terminal = join(share, server, "Pat", tmp_path / "pat")
    try:
        yield terminal
    finally:
        terminal.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"not installed: {CHROMIUM}")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
