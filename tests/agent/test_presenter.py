"""The share loop's privacy states (agent/presenter.py), one frame at a time: what is
sent, to whom, while live, paused and hidden, to newcomers, with windows masked.

The member, the screen and the windows are stand-ins that record and replay: the real
ones are exercised end to end in tests/remote/test_privacy.py and
tests/agent/test_privacy_desktop.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pytest
from agent_helpers import ME, NEWT, VIC, Epoch, Member

from relaydesk import limits
from relaydesk.agent.presenter import Presenter
from relaydesk.agent.privacy import MASK_RGB, Focus, Window
from relaydesk.agent.windows import Layout
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import (
    ContentMessage,
    Cursor,
    InputEvent,
    InputKind,
    ScreenUpdate,
    ShareMode,
    ShareState,
)
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Rect

W, H = 64, 48
SECRET = Window(10, Rect(8, 8, 16, 16), ("secret", "Secret"), "secret notes")


class Screen:
    """A screen of one colour, with a bright square where the secret window is."""

    display = ":test"

    def __init__(self) -> None:
        self.shade = 10

    def grab(self) -> np.ndarray:
        picture = np.full((H, W, 4), self.shade, np.uint8)
        picture[SECRET.rect.slices()] = (255, 0, 255, 255)
        picture[:, :, 3] = 0xFF
        return picture


class Windows:
    """Replays a layout; ``moving`` makes every read a new generation."""

    def __init__(self) -> None:
        self.generation = 0
        self.moving = False
        self.reads = 0

    def current(self) -> Layout:
        self.reads += 1
        if self.moving:
            self.generation += 1
        return Layout(self.generation, W, H, (SECRET,))

    def focus(self) -> Focus:
        return Focus(window=SECRET.id)

    def close(self) -> None:
        pass


class Pointer:
    def __init__(self, at: tuple[int, int]) -> None:
        self.at: tuple[int, int] | None = at

    def moved(self) -> tuple[int, int] | None:
        at, self.at = self.at, None
        return at


@pytest.fixture
def setup() -> Iterator[tuple[Presenter, Member, Screen, Windows]]:
    member, screen, windows = Member(), Screen(), Windows()
    presenter = Presenter(cast(Any, member), lambda: cast(Any, screen),
                          open_windows=lambda: cast(Any, windows))  # fmt: skip
    presenter.capture = cast(Any, screen)
    yield presenter, member, screen, windows


def frame(presenter: Presenter) -> None:
    assert presenter.capture is not None
    asyncio.run(presenter.share_once(presenter.capture))


def change(presenter: Presenter, **changes: Any) -> None:
    asyncio.run(presenter.change(dataclasses.replace(presenter.settings, **changes)))


def kinds(sent: list[tuple[ContentMessage, int, Flags]]) -> list[str]:
    return [type(message).__name__ for message, _, _ in sent]


def test_paused_sends_nothing_and_resumes_from_the_last_picture(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, member, screen, _ = setup
    frame(presenter)
    assert kinds(member.take()) == ["ScreenUpdate"]
    change(presenter, mode=ShareMode.PAUSED)
    assert member.take() == [(ShareState(ShareMode.PAUSED, False, False), EVERYONE,
                              Flags.SUPERSEDABLE)]  # fmt: skip
    for shade in (20, 30, 40):  # the screen changes meanwhile
        screen.shade = shade
        frame(presenter)
    assert member.take() == []
    change(presenter, mode=ShareMode.LIVE)
    frame(presenter)
    sent = member.take()
    assert kinds(sent) == ["ShareState", "ScreenUpdate"]
    assert sent[0][0] == ShareState(ShareMode.LIVE, False, False)
    update = sent[1][0]
    assert isinstance(update, ScreenUpdate) and not update.full


def test_hidden_sends_nothing_and_shows_a_whole_picture_again(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, member, screen, _ = setup
    frame(presenter)
    member.take()
    change(presenter, mode=ShareMode.HIDDEN)
    screen.shade = 99
    frame(presenter)
    assert kinds(member.take()) == ["ShareState"]
    change(presenter, mode=ShareMode.LIVE)
    frame(presenter)
    message, target, flags = member.take()[-1]
    assert isinstance(message, ScreenUpdate) and message.full
    assert (target, flags) == (EVERYONE, Flags.KEYFRAME)


def test_a_newcomer_is_told_alone_and_gets_its_picture_when_live(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, member, _, _ = setup
    frame(presenter)
    change(presenter, mode=ShareMode.PAUSED)
    member.take()
    presenter.want_refresh(NEWT)
    frame(presenter)
    assert member.take() == []  # no key for Newt yet: it is told once it has one
    member.e2e.current = Epoch(frozenset({ME, VIC, NEWT}))
    frame(presenter)
    frame(presenter)
    assert member.take() == [(ShareState(ShareMode.PAUSED, False, False), NEWT,
                              Flags.SUPERSEDABLE)]  # fmt: skip
    change(presenter, mode=ShareMode.LIVE)
    frame(presenter)
    sent = member.take()
    assert [(type(m).__name__, t) for m, t, _ in sent] == [
        ("ShareState", EVERYONE),  # Newt holds the key: this one reached it too
        ("ScreenUpdate", NEWT),
    ]
    update = sent[1][0]
    assert isinstance(update, ScreenUpdate) and update.full
    assert presenter.refresh_for == set()


def test_masked_pixels_are_never_encoded_and_newcomers_learn_it_first(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, member, _, _ = setup
    change(presenter, excluded=("Secret",))
    presenter.pointer = cast(Any, Pointer((10, 10)))  # over the secret window
    frame(presenter)
    sent = member.take()
    assert kinds(sent) == ["ShareState", "ScreenUpdate", "Cursor"]
    assert sent[0][0] == ShareState(ShareMode.LIVE, False, True)
    assert sent[2][0] == Cursor(0, 0, False)  # where it points is not shown either
    viewer = FrameBuffer()
    update = sent[1][0]
    assert isinstance(update, ScreenUpdate)
    viewer.apply(update)
    secret = viewer.to_rgb()[SECRET.rect.slices()]
    assert (secret == [MASK_RGB >> 16, (MASK_RGB >> 8) & 0xFF, MASK_RGB & 0xFF]).all()
    presenter.want_refresh(VIC)
    frame(presenter)
    assert [(type(m).__name__, t) for m, t, _ in member.take()] == [
        ("ShareState", VIC),
        ("ScreenUpdate", VIC),
        ("Cursor", VIC),
    ]


def test_a_grab_during_which_windows_move_is_taken_again_or_not_sent(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, member, _, windows = setup
    change(presenter, excluded=("Secret",))
    member.take()
    windows.moving = True
    frame(presenter)
    assert member.take() == []
    assert windows.reads == 2 * limits.PRIVACY_GRAB_ATTEMPTS
    windows.moving = False
    frame(presenter)
    assert kinds(member.take()) == ["ScreenUpdate"]


def test_input_is_checked_against_the_windows_now(
    setup: tuple[Presenter, Member, Screen, Windows],
) -> None:
    presenter, _, _, _ = setup
    assert presenter.input_refusal(InputEvent(InputKind.POINTER_MOVE, x=10, y=10)) is None
    change(presenter, excluded=("secret notes",))  # by title
    assert presenter.input_refusal(InputEvent(InputKind.POINTER_MOVE, x=10, y=10))
    assert presenter.masked_at(10, 10) and not presenter.masked_at(40, 40)
    assert presenter.input_refusal(InputEvent(InputKind.TEXT, text="x"))  # focus in it
