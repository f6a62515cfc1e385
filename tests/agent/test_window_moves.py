"""A window the window manager moves goes to the viewers as one COPY from where it was:
the presenter reads the windows with each grab (``WindowWatch`` on a real openbox
desktop), says which moved (``Layout.moves_since``), and the encoder checks that hint
pixel for pixel (``screen.codec.encode_update``)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest

from relaydesk.agent.presenter import Presenter, Shot
from relaydesk.agent.privacy import PrivacySettings, Window
from relaydesk.agent.windows import Layout
from relaydesk.protocol.messages import TileEncoding, encode
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.codec import encode_update
from relaydesk.screen.framebuffer import FrameBuffer
from support.desktop import Desktop, closing_apps, started_desktop, wait_until

WIDTH, HEIGHT = 640, 480
WALLPAPER = 0x2050A0


@pytest.fixture(scope="module")
def desktop() -> Iterator[Desktop]:
    with started_desktop(WIDTH, HEIGHT, WALLPAPER) as screen:
        yield screen


@pytest.fixture
def presenter(desktop: Desktop) -> Iterator[Presenter]:
    """The presenter's grabs and encoding; no session (nothing is sent)."""
    agent = Presenter(cast(Any, None), lambda: ScreenCapture(desktop.display),
                      display=desktop.display)  # fmt: skip
    try:
        yield agent
    finally:
        if agent.windows is not None:
            agent.windows.close()


def still(presenter: Presenter, capture: ScreenCapture) -> Shot:
    """A grab once the screen stopped changing (the window manager and xterm are done)."""
    settings = PrivacySettings()
    last = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shot = asyncio.run(presenter.masked_grab(capture, settings))
        assert shot is not None
        if last is not None and np.array_equal(shot.picture, last.picture):
            return shot
        last = shot
        time.sleep(0.2)
    raise AssertionError("the screen never settled")


def xterm_frame(layout: Layout | None) -> Window | None:
    assert layout is not None
    return next((w for w in layout.windows if "XTerm" in w.wm_class), None)


def test_a_moved_window_goes_as_one_copy_from_where_it_was(
    desktop: Desktop, presenter: Presenter
) -> None:
    with closing_apps(desktop), ScreenCapture(desktop.display) as capture:
        desktop.run("xterm", "-geometry", "50x12+60+50", "-fa", "DejaVu Sans Mono", "-fs", "9",
                    "-bg", "white", "-fg", "black", "-e", "sh", "-c",
                    "seq 1000 1200 | paste - - - - - - -; sleep 600")  # fmt: skip
        wait_until(lambda: xterm_frame(presenter._windows().current()), "xterm is framed")
        before = still(presenter, capture)
        window = xterm_frame(before.layout)
        assert window is not None
        desktop.xdotool("search", "--class", "XTerm", "windowmove", "%@", "230", "170")
        wait_until(
            lambda: (w := xterm_frame(presenter._windows().current())) and w.rect != window.rect,
            "the window manager moves the xterm",
        )
        after = still(presenter, capture)
        moves = after.layout.moves_since(before.layout) if after.layout else []
        [move] = moves
        assert (move.src_x, move.src_y) == (window.rect.x, window.rect.y)

        first = presenter.video.encode(None, before.picture).updates  # the whole picture
        encoded = presenter.video.encode(before.picture, after.picture, moves)
        tiles = [tile for update in encoded.updates for tile in update.tiles]
        assert tiles[0].encoding is TileEncoding.COPY
        assert struct.unpack(">II", tiles[0].data) == (move.src_x, move.src_y)
        viewer = FrameBuffer()
        for update in first + encoded.updates:
            viewer.apply(update)
        np.testing.assert_array_equal(viewer.picture[..., :3], after.picture[..., :3])
        sent = sum(len(encode(update)) for update in encoded.updates)
        unhinted = sum(len(encode(u)) for u in encode_update(before.picture, after.picture))
        # The COPY and the uncovered wallpaper as FILL, against the window's text again.
        assert sent * 20 < unhinted, (sent, unhinted)
