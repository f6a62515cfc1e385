"""The X server's reports of drawing (agent/damage.py), on a real Xvfb with a real X
client drawing: a report comes for drawing in any window, one per damaged period, and
none when nothing is drawn."""

from __future__ import annotations

import asyncio
import time

import pytest
from Xlib import X
from Xlib import display as xdisplay

from relaydesk.agent.damage import DamageWatch
from relaydesk.agent.pointer import PointerWatch
from relaydesk.errors import CaptureError
from relaydesk.screen.xvfb import Xvfb

LONG = 30.0  # seconds: only a failure waits this long


def test_drawing_in_a_window_is_reported_once_per_change(xvfb: Xvfb) -> None:
    client = xdisplay.Display(xvfb.display)
    screen = client.screen()
    window = screen.root.create_window(
        5, 5, 40, 40, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=0x336699, override_redirect=True,
    )  # fmt: skip
    gc = window.create_gc(foreground=0xFF0000)

    async def watch() -> list[bool]:
        seen = []
        with DamageWatch(xvfb.display) as damage:
            window.map()
            client.sync()
            seen.append(await damage.wait(LONG))  # the window appeared
            seen.append(damage.damaged())  # reported once, not again
            window.fill_rectangle(gc, 0, 0, 10, 10)
            client.sync()
            seen.append(await damage.wait(LONG))  # drawn into it
            seen.append(await damage.wait(0.2))  # and then nothing
        return seen

    try:
        assert asyncio.run(watch()) == [True, False, True, False]
    finally:
        window.destroy()
        client.close()


def test_a_display_that_goes_away_is_a_capture_error_and_closes_quietly() -> None:
    """Ctrl+C reaches a private Xvfb too: the watch then says CaptureError (what the
    presenter documents for a lost screen), and closing it raises nothing."""
    with Xvfb() as server:
        watch = DamageWatch(server.display)
        pointer = PointerWatch(server.display)
        server.stop()
        with pytest.raises(CaptureError, match="went away"):
            for _ in range(100):  # the server's end reaches the socket at once, or soon
                watch.damaged()
                time.sleep(0.05)
        watch.close()
        pointer.close()
