"""Remote-control test fixtures: a private Xvfb, a real X client recording its input.

One Xvfb (640x480) serves the whole test session. Every test that injects gets a fresh
``InputInjector``, and afterwards the display is checked to hold no key or button down,
so a test that leaves something pressed fails instead of disturbing the next one.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from agent_helpers import BUTTON_MASKS, HEIGHT, WIDTH, Recorder, held_state
from Xlib import display as xdisplay

from relaydesk.agent.inject import InputInjector
from relaydesk.screen.xvfb import Xvfb


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Xvfb]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        yield server


@pytest.fixture
def xdotool(xvfb: Xvfb) -> Iterator[Any]:
    """``xdotool(*args)`` on the test display."""
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed")

    def run(*args: str) -> None:
        subprocess.run(["xdotool", *args], env=xvfb.env, check=True, timeout=10)

    yield run


@pytest.fixture
def x(xvfb: Xvfb) -> Iterator[Any]:
    """A plain python-xlib connection for the test's own checks; nothing left held after."""
    display = xdisplay.Display(xvfb.display)
    try:
        yield display
        down, mask = held_state(display)
        assert down == [], f"keycodes left down: {down}"
        assert not mask & BUTTON_MASKS, f"buttons left down: {mask:#x}"
    finally:
        display.close()


@pytest.fixture
def recorder(xvfb: Xvfb) -> Iterator[Recorder]:
    client = Recorder(xvfb)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def injector(xvfb: Xvfb, x: Any) -> Iterator[InputInjector]:
    with InputInjector(xvfb.display) as injector:
        yield injector
