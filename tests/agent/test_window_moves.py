"""A window the window manager moves goes to the viewers as one COPY from where it was:
the presenter reads the windows with each grab (``WindowWatch`` on a real openbox
desktop), says which moved (``Layout.moves_since``), and the encoder checks that hint
pixel for pixel (``screen.codec.encode_update``). Played through the presenter's own
frame step (``Presenter.share_once``); the member only records what would be sealed."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest
from agent_helpers import Member

from relaydesk.agent.presenter import Presenter
from relaydesk.agent.privacy import Window
from relaydesk.protocol.messages import ScreenUpdate, TileEncoding, encode
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
def presenting(desktop: Desktop) -> Iterator[tuple[Presenter, Member]]:
    member = Member()
    presenter = Presenter(cast(Any, member), lambda: ScreenCapture(desktop.display),
                          display=desktop.display)  # fmt: skip
    presenter.capture = ScreenCapture(desktop.display)
    try:
        yield presenter, member
    finally:
        presenter.capture.close()
        if presenter.windows is not None:
            presenter.windows.close()


def xterm(presenter: Presenter) -> Window | None:
    return next((w for w, _ in presenter.window_list() if "XTerm" in w.wm_class), None)


def settled_frame(presenter: Presenter, member: Member) -> list[ScreenUpdate]:
    """The updates of the first frame after the screen stopped changing."""
    assert presenter.capture is not None
    last = presenter.capture.grab()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = presenter.capture.grab()
        if np.array_equal(now, last):
            break
        last = now
    asyncio.run(presenter.share_once(presenter.capture))
    return [message for message, _, _ in member.take() if isinstance(message, ScreenUpdate)]


def test_a_moved_window_goes_as_one_copy_from_where_it_was(
    desktop: Desktop, presenting: tuple[Presenter, Member]
) -> None:
    presenter, member = presenting
    with closing_apps(desktop):
        desktop.run("xterm", "-geometry", "50x12+60+50", "-fa", "DejaVu Sans Mono", "-fs", "9",
                    "-bg", "white", "-fg", "black", "-e", "sh", "-c",
                    "seq 1000 1200 | paste - - - - - - -; sleep 600")  # fmt: skip
        wait_until(lambda: xterm(presenter), "xterm is framed")
        viewer = FrameBuffer()
        for update in settled_frame(presenter, member):  # the whole picture
            viewer.apply(update)
        before = presenter.picture
        assert before is not None
        window = xterm(presenter)  # as it was for that picture
        assert window is not None
        desktop.xdotool("search", "--class", "XTerm", "windowmove", "%@", "230", "170")
        wait_until(lambda: (w := xterm(presenter)) and w.rect != window.rect, "the move")

        updates = settled_frame(presenter, member)
        copy = updates[0].tiles[0]
        assert copy.encoding is TileEncoding.COPY
        assert struct.unpack(">II", copy.data) == (window.rect.x, window.rect.y)
        for update in updates:
            viewer.apply(update)
        after = presenter.picture
        assert after is not None
        np.testing.assert_array_equal(viewer.picture[..., :3], after[..., :3])
        sent = sum(len(encode(update)) for update in updates)
        unhinted = sum(len(encode(u)) for u in encode_update(before, after))
        # The COPY and the uncovered wallpaper as FILL, against the window's text again.
        assert sent * 20 < unhinted, (sent, unhinted)
