"""Helpers for the agent tests: the recording X client's geometry, the display's key
state, and a member that records what a presenter sends."""

from __future__ import annotations

import dataclasses
from typing import Any

from Xlib import X

from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import ContentMessage
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


# The member a presenter sends through -------------------------------------------------

ME, VIC, NEWT = 1, 2, 3  # the presenter, a viewer, a newcomer


@dataclasses.dataclass
class Epoch:
    members: frozenset[int]


@dataclasses.dataclass
class E2E:
    current: Epoch | None


class Member:
    """Records what the presenter sends (the session and its sealing are tested
    elsewhere: tests/remote)."""

    def __init__(self) -> None:
        self.member_id = ME
        self.presenter: int | None = ME
        self.e2e = E2E(Epoch(frozenset({ME, VIC})))
        self.sent: list[tuple[ContentMessage, int, Flags]] = []

    async def send_content(
        self, message: ContentMessage, target: int = EVERYONE, flags: Flags = Flags.NONE
    ) -> None:
        self.sent.append((message, target, flags))

    def take(self) -> list[tuple[ContentMessage, int, Flags]]:
        sent, self.sent = self.sent, []
        return sent
