"""What is hidden never leaves the presenter's machine, not even sealed (issue 10), end
to end.

Olga runs ``relaydesk start`` in a real terminal, sharing a real desktop: Xvfb with
Debian's openbox framing, placing, stacking and focusing real X client windows
(tests/support/desktop.py), each painted in a marker colour no other window shows. She
types the privacy commands (/exclude, /include, /pause, /resume, /hide, /show, /only,
/all) as a person does. Pat watches with ``relaydesk join`` in a terminal (and is told
what Olga shares). Vic is a library member that decodes every screen update it gets
into a FrameBuffer and checks every picture for the excluded window's marker. The
relay's tap (tests/browser/helpers.py) counts the screen bytes Olga's client sends while
paused or hidden: none. A recording X client shows that input aimed at an excluded
window never arrives.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from browser.helpers import LiveServer, canvas_rgb, join_in_browser, open_page, until
from browser.meeting_pages import shot
from integration.helpers import Crowd, Peer, join_peer, pinned_context, run_async
from integration.helpers import until as until_async
from relaydesk.agent.privacy import DESKTOP_RGB, MASK_RGB
from relaydesk.client.member import Received
from relaydesk.errors import TileError
from relaydesk.protocol.frames import HEADER_SIZE, FrameType, parse_header
from relaydesk.protocol.messages import Refresh, ScreenUpdate, ShareMode, ShareState
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Rect
from support.desktop import AppWindow, Desktop, closing_apps, has_colour, started_desktop
from support.input_recorder import Recorder, keys_of
from support.terminal import Terminal

from .conftest import Share, join
from .test_control import SETTLE_SECONDS, grant_control

WIDTH, HEIGHT = 640, 480
WALLPAPER = 0x2050A0
SECRET = 0xFF00FF  # the excluded application's marker
OTHER = 0x00C8C8
SECRET_CLASS = ("secret", "SecretNotes")
HOLD = 0.6  # longer than limits.PRIVACY_HOLD_SECONDS, and a frame or two
SCREEN_TYPES = {FrameType.SCREEN_UPDATE, FrameType.CURSOR}


@pytest.fixture(scope="module")
def desktop() -> Iterator[Desktop]:
    with started_desktop(WIDTH, HEIGHT, WALLPAPER) as screen:
        yield screen


@pytest.fixture
def apps(desktop: Desktop) -> Iterator[Desktop]:
    """The desktop, its windows closed after the test."""
    with closing_apps(desktop) as screen:
        yield screen


@pytest.fixture
def olga(organizer_profile: Path, desktop: Desktop) -> Iterator[Share]:
    """``relaydesk start`` on the desktop: Olga presents it."""
    started = Share(organizer_profile, desktop.server)
    try:
        yield started
    finally:
        started.terminal.stop()


@pytest.fixture
def pat(olga: Share, server: LiveServer, tmp_path: Path) -> Iterator[Terminal]:
    terminal = join(olga, server, "Pat", tmp_path / "pat")
    try:
        yield terminal
    finally:
        terminal.stop()


def secret_and_other(apps: Desktop) -> tuple[AppWindow, AppWindow]:
    secret = apps.app(SECRET_CLASS, "Private notes", Rect(60, 80, 240, 180), SECRET)
    other = apps.app(("other", "OtherApp"), "Other", Rect(200, 160, 240, 180), OTHER)
    return secret, other


def command(share: Share, line: str, answer: str) -> None:
    """Type a command in Olga's terminal and wait for its answer."""
    share.terminal.type(line)
    share.terminal.expect(answer)


# Vic: every update decoded, every picture checked -------------------------------------


@dataclass
class Seen:
    full: bool
    secret: int  # pixels of the excluded window's marker in the picture after it
    other: int
    wallpaper: int


@dataclass
class Vic:
    """A viewer that paints every update and records what each picture held."""

    picture: FrameBuffer = field(default_factory=FrameBuffer)
    seen: list[Seen] = field(default_factory=list)
    states: list[ShareState] = field(default_factory=list)
    rgb: np.ndarray | None = None
    peer: Peer | None = None

    async def on_message(self, peer: Peer, item: Received) -> None:
        message = item.message
        if item.header.sender != peer.member.presenter:
            return
        if isinstance(message, ShareState):
            self.states.append(message)
        elif isinstance(message, ScreenUpdate):
            try:
                self.picture.apply(message)
            except TileError:
                await peer.member.send(Refresh(0))
                return
            rgb = self.rgb = self.picture.to_rgb()
            seen = Seen(message.full, has_colour(rgb, SECRET), has_colour(rgb, OTHER),
                        has_colour(rgb, WALLPAPER))  # fmt: skip
            self.seen.append(seen)

    def shows(self, rgb: int, x: int | None = None, y: int | None = None) -> bool:
        picture = self.rgb
        if picture is None:
            return False
        if x is None or y is None:
            return has_colour(picture, rgb) > 0
        red, green, blue = (int(v) for v in picture[y, x])
        return (red << 16 | green << 8 | blue) == rgb


async def vic_joins(crowd: Crowd, server: LiveServer, share: Share, tmp: Path, name: str) -> Vic:
    vic = Vic()
    context = pinned_context(server.url, server.fingerprint, tmp / name)
    session_id = share.invite_url.rstrip("/").rsplit("/", 1)[-1]
    vic.peer = crowd.add(
        await join_peer(server.url, context, session_id, name, on_message=vic.on_message)
    )
    await asyncio.to_thread(share.terminal.expect, rf"\+ {name} joined")
    return vic


def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return asyncio.to_thread(function, *args)


# Exclude, include -------------------------------------------------------------------


def test_an_excluded_window_is_in_no_picture_whatever_the_window_manager_does(
    apps: Desktop, olga: Share, server: LiveServer, tmp_path: Path
) -> None:
    secret, other = secret_and_other(apps)
    command(olga, "/windows", r"shown +SecretNotes \(secret\) \"Private notes\"")
    command(olga, "/exclude SecretNotes", r"Excluded 'SecretNotes': its windows are masked")

    async def scenario() -> tuple[Vic, int]:
        async with Crowd() as crowd:
            vic = await vic_joins(crowd, server, olga, tmp_path, "Vic")
            await until_async(
                lambda: vic.shows(OTHER) and vic.shows(MASK_RGB, 100, 150),
                "Vic sees the other window, and the secret one masked",
            )
            await in_thread(secret.activate)  # raised over the other one
            await until_async(lambda: vic.shows(MASK_RGB, 250, 200), "masked over the other")
            await in_thread(secret.move, 340, 30)  # moved: the mask follows
            await until_async(
                lambda: vic.shows(MASK_RGB, 450, 100) and vic.shows(WALLPAPER, 100, 150),
                "the mask moved with the window",
            )
            await in_thread(other.activate)  # the other on top again: shown over it
            await asyncio.sleep(HOLD)
            before_include = len(vic.seen)
            await in_thread(command, olga, "/include SecretNotes", r"'SecretNotes' is shown")
            await until_async(lambda: vic.shows(SECRET), "the secret window is shown again")
            return vic, before_include

    vic, before_include = run_async(scenario())
    assert before_include > 5
    assert [seen.secret for seen in vic.seen[:before_include]] == [0] * before_include
    assert vic.seen[0].full and vic.seen[0].other > 0
    assert vic.seen[-1].secret > 0
    assert vic.states == [
        ShareState(ShareMode.LIVE, False, True),  # told before its first picture
        ShareState(ShareMode.LIVE, False, False),
    ]


def test_a_browser_viewer_never_shows_an_excluded_window(
    apps: Desktop, olga: Share, chromium: Any
) -> None:
    """Chromium is only a viewer here: the presenter masks before encoding, so the page
    gets no such pixel to show. Its canvas is read while the window moves about."""
    secret, _ = secret_and_other(apps)
    command(olga, "/exclude SecretNotes", r"Excluded 'SecretNotes'")
    watched = open_page(chromium)
    try:
        join_in_browser(watched.page, olga.invite_url, "Bea")
        olga.terminal.expect(r"\+ Bea joined")
        until(lambda: has_colour(canvas_rgb(watched.page), OTHER) > 0, "the page shows OTHER")
        for step in range(8):
            secret.move(30 + 50 * step, 40 + 30 * step)
            if step % 3 == 0:
                secret.activate()
            for _ in range(3):
                assert has_colour(canvas_rgb(watched.page), SECRET) == 0
                time.sleep(0.05)
        assert watched.page_errors == []
    finally:
        watched.context.close()


def test_a_browser_viewer_is_told_when_the_share_is_paused_or_hidden(
    apps: Desktop, olga: Share, chromium: Any
) -> None:
    secret_and_other(apps)
    watched = open_page(chromium)
    try:
        page = watched.page
        join_in_browser(page, olga.invite_url, "Bea")
        olga.terminal.expect(r"\+ Bea joined")
        until(lambda: has_colour(canvas_rgb(page), OTHER) > 0, "the page shows the screen")
        card = page.locator(".share-state")
        command(olga, "/pause", r"Share paused")
        expect(card).to_have_text("Olga paused the share")
        assert has_colour(canvas_rgb(page), OTHER) > 0  # the last picture stays
        command(olga, "/resume", r"live again")
        expect(card).to_be_hidden()
        command(olga, "/hide", r"Screen hidden")
        expect(page.locator(".share-state.hidden-screen")).to_have_text(
            "Olga has hidden the screen"
        )
        shot(page, "share-hidden")
        command(olga, "/show", r"live again")
        expect(card).to_be_hidden()
        assert watched.page_errors == []
    finally:
        watched.context.close()


# Pause, hide: no screen byte ---------------------------------------------------------


def screen_bytes(server: LiveServer, sender: int, start: int, end: int) -> int:
    """SCREEN_UPDATE and CURSOR bytes the relay received from ``sender`` between two
    points of its tap."""
    total = 0
    for data in server.tap.since(start)[: end - start]:
        header, _ = parse_header(data[:HEADER_SIZE])
        if header.sender == sender and header.type in SCREEN_TYPES:
            total += len(data)
    return total


def test_paused_and_hidden_send_no_screen_byte(
    apps: Desktop, olga: Share, pat: Terminal, server: LiveServer, tmp_path: Path
) -> None:
    _, other = secret_and_other(apps)
    olga_id = server.members()["Olga"]

    async def scenario() -> dict[str, Any]:
        found: dict[str, Any] = {}
        async with Crowd() as crowd:
            vic = await vic_joins(crowd, server, olga, tmp_path, "Vic")
            await until_async(lambda: vic.shows(OTHER, 300, 250), "Vic sees the desktop")
            await in_thread(command, olga, "/pause", r"Share paused: viewers keep the last")
            await in_thread(pat.expect, r"Olga paused the share: you keep the last picture\.")
            start, seen = len(server.tap), len(vic.seen)
            newt = await vic_joins(crowd, server, olga, tmp_path, "Newt")  # joins meanwhile
            await until_async(lambda: bool(newt.states), "Newt is told why no picture comes")
            for x in (20, 300, 100):  # Olga works privately meanwhile
                await in_thread(other.move, x, 250)
                await asyncio.sleep(0.3)
            found["paused"] = screen_bytes(server, olga_id, start, len(server.tap))
            found["paused updates"] = len(vic.seen) - seen
            found["newt while paused"] = (list(newt.states), len(newt.seen))
            await in_thread(command, olga, "/resume", r"The share is live again\.")
            await in_thread(pat.expect, r"Olga resumed the share\.")
            await until_async(lambda: vic.shows(OTHER, 150, 300), "Vic sees the moved window")
            await until_async(lambda: newt.shows(OTHER, 150, 300), "Newt gets its picture")
            found["after resume"] = vic.seen[seen]

            await in_thread(command, olga, "/hide", r"Screen hidden: viewers see a card")
            await in_thread(pat.expect, r"Olga hid the screen\.")
            start, seen = len(server.tap), len(vic.seen)
            await in_thread(other.move, 380, 100)
            await asyncio.sleep(1.0)
            found["hidden"] = screen_bytes(server, olga_id, start, len(server.tap))
            found["hidden updates"] = len(vic.seen) - seen
            await in_thread(command, olga, "/show", r"The share is live again\.")
            await in_thread(pat.expect, r"Olga shows the screen again\.")
            await until_async(lambda: vic.shows(OTHER, 450, 200), "Vic sees the screen again")
            found["after show"] = vic.seen[seen]
            found["states"] = list(vic.states)
        return found

    found = run_async(scenario())
    assert found["paused"] == 0 and found["paused updates"] == 0
    assert found["newt while paused"] == ([ShareState(ShareMode.PAUSED, False, False)], 0)
    assert not found["after resume"].full  # painted on the picture kept meanwhile
    assert found["hidden"] == 0 and found["hidden updates"] == 0
    assert found["after show"].full  # a whole new picture
    assert found["states"] == [
        ShareState(mode, False, False)
        for mode in (ShareMode.PAUSED, ShareMode.LIVE, ShareMode.HIDDEN, ShareMode.LIVE)
    ]


# One application only ---------------------------------------------------------------


def test_one_application_only_sends_that_window_alone(
    apps: Desktop, olga: Share, pat: Terminal, server: LiveServer, tmp_path: Path
) -> None:
    secret, other = secret_and_other(apps)
    secret.activate()  # above the shared window, in part
    command(olga, "/only OtherApp", r"Sharing 'OtherApp' only: everything else is masked")
    pat.expect(r"Olga shares one application only; the rest is masked\.")

    async def scenario() -> tuple[Vic, int, Rect]:
        async with Crowd() as crowd:
            vic = await vic_joins(crowd, server, olga, tmp_path, "Vic")
            await until_async(lambda: vic.shows(OTHER, 420, 320), "Vic sees the application")
            await in_thread(other.move, 330, 250)  # the share follows it
            await until_async(lambda: vic.shows(OTHER, 500, 400), "it follows the window")
            await asyncio.sleep(HOLD)
            assert vic.rgb is not None
            frame = await in_thread(other.frame)
            outside = np.ones((HEIGHT, WIDTH), bool)
            outside[frame.slices()] = False
            colours = {tuple(int(v) for v in pixel) for pixel in vic.rgb[outside]}
            assert colours <= {_rgb(DESKTOP_RGB), _rgb(MASK_RGB)}, colours
            count = len(vic.seen)
            await in_thread(command, olga, "/all", r"Sharing the whole screen again\.")
            await until_async(lambda: vic.shows(WALLPAPER), "the whole screen again")
            return vic, count, frame

    vic, count, _ = run_async(scenario())
    assert all(seen.secret == 0 and seen.wallpaper == 0 for seen in vic.seen[:count])
    assert all(seen.other > 0 for seen in vic.seen[:count])
    pat.expect(r"Olga shares the whole screen again\.")


# Input aimed at an excluded window ------------------------------------------------------


def test_input_aimed_at_an_excluded_window_never_arrives(
    apps: Desktop, olga: Share, pat: Terminal
) -> None:
    recorder = Recorder(apps.server, 20, 40, 300, 200)  # holds the keyboard focus
    try:
        command(olga, "/exclude RelaydeskRecorder", r"Excluded 'RelaydeskRecorder'")
        grant_control(olga, pat, "Pat")
        pat.type("/type secret")
        olga.terminal.expect(r"input from Pat dropped: the keyboard focus is in a hidden window")
        pat.type("/click 100 100")
        olga.terminal.expect(r"input from Pat dropped: \(100, 100\) is in a masked part")
        pat.type("/move 500 400")  # not masked: goes through
        _pointer_is(apps, (500, 400))
        pat.type("/move 120 120")
        time.sleep(SETTLE_SECONDS)
        _pointer_is(apps, (500, 400))  # dropped: the pointer did not move into it
        assert recorder.events() == []

        command(olga, "/include RelaydeskRecorder", r"'RelaydeskRecorder' is shown again")
        time.sleep(HOLD)
        pat.type("/type ok")
        pat.type("/click 100 100")
        deadline = time.monotonic() + 30
        events: list[dict[str, Any]] = []
        while not any(e["type"] == "button_press" for e in events):
            assert time.monotonic() < deadline, events
            events += recorder.events()
            time.sleep(0.05)
        assert keys_of(events) == [ord("o"), ord("k")]
        (press,) = [e for e in events if e["type"] == "button_press"]
        assert (press["root_x"], press["root_y"]) == (100, 100)
    finally:
        recorder.close()


def _pointer_is(apps: Desktop, where: tuple[int, int]) -> None:
    def at() -> bool:
        shown = subprocess.run(
            ["xdotool", "getmouselocation", "--shell"], env=apps.env, check=True,
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
        values = dict(line.split("=", 1) for line in shown.split())
        return (int(values["X"]), int(values["Y"])) == where

    until(at, f"the pointer is at {where}", 10)


def _rgb(rgb: int) -> tuple[int, int, int]:
    return (rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF)
