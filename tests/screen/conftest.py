"""Screen test fixtures: a private Xvfb, real X clients drawing on it, a capture.

One Xvfb (640x480, 24 bits) serves the whole test session; every test that draws gets a
``Drawing`` that paints the root window black first and removes its windows and clients
afterwards, so tests do not see each other's pixels.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from screen_helpers import HEIGHT, WIDTH, Drawing

from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.xvfb import Xvfb


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Xvfb]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        yield server


@pytest.fixture
def drawing(xvfb: Xvfb) -> Iterator[Drawing]:
    """Draw on the shared Xvfb; the root starts plain black, and is left that way."""
    draw = Drawing(xvfb)
    draw.background(0x000000)
    try:
        yield draw
    finally:
        draw.close()
        draw.background(0x000000)


@pytest.fixture
def capture(xvfb: Xvfb) -> Iterator[ScreenCapture]:
    with ScreenCapture(xvfb.display) as screen:
        yield screen
