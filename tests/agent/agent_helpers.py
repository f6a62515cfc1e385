"""Helpers for the injector tests: the recording X client's geometry, the display's key
state."""

from __future__ import annotations

from typing import Any

from Xlib import X

from relaydesk.screen.xvfb import Xvfb
from support import input_recorder
from support.input_recorder import Event, keys_of

WIDTH, HEIGHT = 640, 480
# The recording window: offset from the screen's corner, so that window and screen
# coordinates differ.
LEFT, TOP = 40, 30

__all__ = ["Event", "keys_of"]


class Recorder(input_recorder.Recorder):
    """The recording window, inset from the screen's corner."""

    def __init__(self, server: Xvfb) -> None:
        super().__init__(server, LEFT, TOP, WIDTH - 2 * LEFT, HEIGHT - 2 * TOP)


def held_state(display: Any) -> tuple[list[int], int]:
    """The keycodes the X server has down, and its pointer's button and modifier mask."""
    keymap = display.query_keymap()
    down = [8 * i + bit for i, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1]
    mask = display.screen().root.query_pointer().mask
    return down, mask


BUTTON_MASKS = X.Button1Mask | X.Button2Mask | X.Button3Mask | X.Button4Mask | X.Button5Mask
