"""Privacy on a real desktop: Xvfb with Debian's openbox framing, placing, stacking and
focusing real client windows (tests/support/desktop.py), read by ``WindowWatch`` and
captured by ``ScreenCapture`` (mss, XShm), masked by the presenter's own code
(``Presenter.masked_grab``).

The windows' colours are markers no other window shows: an excluded window's marker must
be in no masked picture, whatever the window manager does with the window meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np
import pytest
from Xlib import X

from relaydesk.agent.presenter import Presenter
from relaydesk.agent.privacy import DESKTOP_RGB, MASK_RGB, PrivacySettings, WindowKind
from relaydesk.agent.windows import Layout, WindowWatch
from relaydesk.protocol.messages import InputEvent, InputKind, ShareMode
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.picture import Picture, Rect, to_rgb
from support.desktop import (
    AppWindow,
    Desktop,
    closing_apps,
    has_colour,
    started_desktop,
    wait_until,
)

WIDTH, HEIGHT = 640, 480
WALLPAPER = 0x2050A0
SECRET = 0xFF00FF  # the excluded application's marker
OTHER = 0x00C8C8
PANEL = 0x30D030
SECRET_CLASS = ("secret", "SecretNotes")


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
def watch(desktop: Desktop) -> Iterator[WindowWatch]:
    with WindowWatch(desktop.display) as windows:
        yield windows


@pytest.fixture
def presenter(desktop: Desktop) -> Iterator[Presenter]:
    """The presenter's masking and input checks; no session (nothing is sent)."""
    agent = Presenter(cast(Any, None), lambda: ScreenCapture(desktop.display),
                      display=desktop.display)  # fmt: skip
    try:
        yield agent
    finally:
        if agent.windows is not None:
            agent.windows.close()


@pytest.fixture
def capture(desktop: Desktop) -> Iterator[ScreenCapture]:
    with ScreenCapture(desktop.display) as screen:
        yield screen


def masked(presenter: Presenter, capture: ScreenCapture, settings: PrivacySettings) -> Picture:
    shot = asyncio.run(presenter.masked_grab(capture, settings))
    assert shot is not None, "the windows kept moving during every grab"
    return to_rgb(shot[0])


def settled(presenter: Presenter, capture: ScreenCapture, settings: PrivacySettings) -> Picture:
    """A masked picture once the hold is over and the window manager is done."""
    time.sleep(0.3 + 2 * presenter.filter.hold)
    masked(presenter, capture, settings)  # the hold forgets what was before
    time.sleep(presenter.filter.hold + 0.05)
    return masked(presenter, capture, settings)


def _rgb(rgb: int) -> np.ndarray:
    return np.array([rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF], np.uint8)


def colour_at(picture: Picture, x: int, y: int) -> int:
    red, green, blue = (int(v) for v in picture[y, x])
    return red << 16 | green << 8 | blue


def secret_and_other(apps: Desktop) -> tuple[AppWindow, AppWindow]:
    secret = apps.app(SECRET_CLASS, "Private notes", Rect(60, 80, 240, 180), SECRET)
    other = apps.app(("other", "OtherApp"), "Other", Rect(200, 160, 240, 180), OTHER)
    return secret, other


def layout_when(watch: WindowWatch, condition: Callable[[Layout], bool], what: str) -> Layout:
    def check() -> Layout | None:
        layout = watch.current()
        return layout if condition(layout) else None

    found: Layout = wait_until(check, what)
    return found


def fresh(desktop: Desktop) -> tuple[Any, ...]:
    """What a watch that never saw anything happen reads: the oracle of an old one."""
    with WindowWatch(desktop.display) as watch:
        return watch.current().windows


# The watch -------------------------------------------------------------------------------


def test_the_watch_sees_frames_classes_types_dialogs_and_the_stacking(
    apps: Desktop, watch: WindowWatch
) -> None:
    secret, other = secret_and_other(apps)
    panel = apps.app(("panel", "TestPanel"), "panel", Rect(0, 0, WIDTH, 24), PANEL, dock=True)
    dialog = apps.app(SECRET_CLASS, "Save?", Rect(400, 300, 120, 80), SECRET,
                      transient_for=secret)  # fmt: skip
    layout = layout_when(watch, lambda now: len(_app_windows(now.windows)) == 4, "all four seen")
    seen = {window.title: window for window in _app_windows(layout.windows)}
    assert seen["Private notes"].wm_class == SECRET_CLASS
    assert seen["Private notes"].rect == secret.frame()  # the frame: title bar included
    assert seen["Other"].rect == other.frame()
    assert seen["panel"].kind is WindowKind.DOCK and seen["panel"].strut
    assert seen["Save?"].transient_for == seen["Private notes"].id
    assert seen["Save?"].rect == dialog.frame()
    assert panel.frame() == Rect(0, 0, WIDTH, 24)
    assert layout.windows == fresh(apps)  # bottom to top, as X stacks them

    before = watch.current().generation
    assert watch.current().generation == before  # nothing moved
    secret.move(20, 250)
    other.lower()
    secret.activate()
    wait_until(lambda: watch.current().generation != before, "the watch sees the moves")
    time.sleep(0.3)
    assert watch.current().windows == fresh(apps)
    assert _titles(watch.current().windows)[-2:] == ["Save?", "panel"]  # the dialog follows

    other.window.change_property(
        other.x.intern_atom("_NET_WM_NAME"), other.x.intern_atom("UTF8_STRING"), 8,
        b"Private, now",
    )  # fmt: skip
    other.x.sync()
    wait_until(lambda: "Private, now" in _titles(watch.current().windows), "the new title")
    dialog.close()
    wait_until(lambda: "Save?" not in _titles(watch.current().windows), "the dialog is gone")
    assert watch.current().windows == fresh(apps)


def test_shaped_windows_cover_only_their_shape(
    apps: Desktop, watch: WindowWatch, presenter: Presenter, capture: ScreenCapture
) -> None:
    """xeyes is round: an excluded window behind it shows through the corners of its
    frame, and those corners are masked."""
    secret = apps.app(SECRET_CLASS, "Private notes", Rect(100, 100, 300, 250), SECRET)
    apps.run("xeyes", "-geometry", "150x150+150+150")
    layout = layout_when(watch, lambda now: "XEyes" in _classes(now.windows), "xeyes is seen")
    (eyes,) = [w for w in layout.windows if "XEyes" in w.wm_class]
    assert eyes.shape is not None and len(eyes.shape) > 4
    picture = settled(presenter, capture, PrivacySettings(excluded=("SecretNotes",)))
    assert has_colour(picture, SECRET) == 0
    # Where the frame of xeyes has no shape, the secret window below shows: masked.
    holes = np.zeros((HEIGHT, WIDTH), bool)
    holes[eyes.rect.slices()] = True
    for part in eyes.shape:
        holes[part.slices()] = False
    below = np.zeros((HEIGHT, WIDTH), bool)
    below[secret.inside().slices()] = True
    assert (holes & below).sum() > 100
    assert (picture[holes & below] == _rgb(MASK_RGB)).all()
    shaped = ~holes
    shaped[~below] = False
    shaped[:, : eyes.rect.x] = shaped[:, eyes.rect.right :] = False
    shaped[: eyes.rect.y] = shaped[eyes.rect.bottom :] = False
    assert not (picture[shaped] == _rgb(MASK_RGB)).all(axis=1).any()  # xeyes is shown


# Masking real pictures ----------------------------------------------------------------


def test_an_excluded_window_is_masked_where_visible_and_follows_the_stacking(
    apps: Desktop, presenter: Presenter, capture: ScreenCapture
) -> None:
    secret, _ = secret_and_other(apps)
    assert has_colour(apps.grab(), SECRET) > 0  # on the screen, of course
    settings = PrivacySettings(excluded=("SecretNotes",))
    picture = settled(presenter, capture, settings)
    assert has_colour(picture, SECRET) == 0
    overlap = (250, 200)  # in both; the other window is on top
    assert colour_at(picture, *overlap) == OTHER
    assert colour_at(picture, 100, 150) == MASK_RGB  # the secret's own part
    assert colour_at(picture, 100, 90) == MASK_RGB  # its title bar too
    assert colour_at(picture, 600, 400) == WALLPAPER

    secret.activate()  # raised above the other: masked over it now
    picture = settled(presenter, capture, settings)
    assert has_colour(picture, SECRET) == 0
    assert colour_at(picture, *overlap) == MASK_RGB
    assert colour_at(picture, 420, 320) == OTHER

    secret.move(380, 40)  # moved: the mask follows, what it uncovered shows again
    picture = settled(presenter, capture, settings)
    assert has_colour(picture, SECRET) == 0
    assert colour_at(picture, 100, 150) == WALLPAPER
    assert colour_at(picture, 450, 100) == MASK_RGB

    picture = settled(presenter, capture, settings.include("secretnotes"))
    assert has_colour(picture, SECRET) > 0  # shown again once included


def test_a_window_dragged_about_never_shows_its_marker(
    apps: Desktop, presenter: Presenter, capture: ScreenCapture
) -> None:
    """The window manager moves and restacks the excluded window as fast as it goes
    while frames are captured: windows read before and after each grab, grabs retaken
    when they changed, the hold for what moving windows leave behind."""
    secret, _ = secret_and_other(apps)
    settings = PrivacySettings(excluded=("SecretNotes",))
    settled(presenter, capture, settings)
    stop = threading.Event()

    def drag() -> None:
        step = 0
        while not stop.is_set():
            step += 1
            secret.window.configure(x=20 + (step * 37) % 360, y=30 + (step * 23) % 260)
            if step % 7 == 0:
                secret.window.configure(stack_mode=X.Above if step % 14 else X.Below)
            secret.x.sync()
            time.sleep(0.002)

    dragging = threading.Thread(target=drag, daemon=True)
    dragging.start()
    frames, skipped = 0, 0
    try:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            shot = asyncio.run(presenter.masked_grab(capture, settings))
            if shot is None:
                skipped += 1
                continue
            frames += 1
            assert has_colour(to_rgb(shot[0]), SECRET) == 0, f"frame {frames}"
    finally:
        stop.set()
        dragging.join(10)
    assert frames > 20, (frames, skipped)
    # It was there all along (the drag may have left it lowered under the other window).
    secret.window.configure(stack_mode=X.Above)
    secret.x.sync()
    wait_until(lambda: has_colour(apps.grab(), SECRET) > 0, "the marker on screen")


def test_the_desktop_hidden_and_one_application_only(
    apps: Desktop, presenter: Presenter, capture: ScreenCapture
) -> None:
    secret, other = secret_and_other(apps)
    apps.app(("panel", "TestPanel"), "panel", Rect(0, 0, WIDTH, 24), PANEL, dock=True)
    picture = settled(presenter, capture, PrivacySettings(hide_desktop=True))
    assert has_colour(picture, WALLPAPER) == 0
    assert has_colour(picture, PANEL) == 0
    assert colour_at(picture, 600, 400) == DESKTOP_RGB
    assert colour_at(picture, 10, 10) == DESKTOP_RGB  # the panel, as the desktop
    assert has_colour(picture, SECRET) > 0 and has_colour(picture, OTHER) > 0

    only = PrivacySettings(only="OtherApp")
    picture = settled(presenter, capture, only)
    inside = other.inside()
    assert has_colour(picture, OTHER) == inside.area  # on top: all of it
    assert has_colour(picture, SECRET) == 0 and has_colour(picture, WALLPAPER) == 0
    assert has_colour(picture, PANEL) == 0
    secret.activate()  # now over the shared window: masked there
    picture = settled(presenter, capture, only)
    assert has_colour(picture, SECRET) == 0
    assert colour_at(picture, 250, 200) == MASK_RGB
    assert colour_at(picture, 420, 320) == OTHER
    other.move(300, 280)  # the share follows the window
    picture = settled(presenter, capture, only)
    assert colour_at(picture, 420, 400) == OTHER
    assert colour_at(picture, 250, 200) != OTHER


# Input ---------------------------------------------------------------------------------


def test_input_aimed_at_a_hidden_window_is_refused(apps: Desktop, presenter: Presenter) -> None:
    secret, other = secret_and_other(apps)
    presenter.settings = PrivacySettings(excluded=("SecretNotes",))
    time.sleep(0.2)
    key = InputEvent(InputKind.KEY, keysym=0x61, pressed=True)
    other.activate()
    assert presenter.input_refusal(key) is None
    secret.activate()
    assert presenter.input_refusal(key) == "the keyboard focus is in a hidden window"
    assert presenter.input_refusal(InputEvent(InputKind.TEXT, text="x")) is not None
    release = InputEvent(InputKind.KEY, keysym=0x61, pressed=False)
    assert presenter.input_refusal(release) is None
    frame = secret.frame()
    click = InputEvent(InputKind.BUTTON, x=frame.x + 10, y=frame.y + 30, button=1, pressed=True)
    assert presenter.input_refusal(click) is not None
    assert presenter.masked_at(click.x, click.y)  # what the injector then avoids
    elsewhere = InputEvent(InputKind.BUTTON, x=600, y=450, button=1, pressed=True)
    assert presenter.input_refusal(elsewhere) is None

    presenter.settings = PrivacySettings(only="OtherApp")  # the rest is masked: no input
    time.sleep(0.2 + presenter.filter.hold)
    assert presenter.input_refusal(elsewhere) is not None  # the wallpaper
    inside = other.inside()
    there = InputEvent(InputKind.BUTTON, x=inside.right - 5, y=inside.bottom - 5, button=1,
                       pressed=True)  # fmt: skip
    assert presenter.input_refusal(there) is None
    assert presenter.input_refusal(key) == "the keyboard focus is in a hidden window"
    other.activate()
    assert presenter.input_refusal(key) is None
    presenter.settings = PrivacySettings(mode=ShareMode.PAUSED)
    assert presenter.input_refusal(elsewhere) == "the share is paused"


# Helpers --------------------------------------------------------------------------------


def _app_windows(windows: tuple[Any, ...]) -> list[Any]:
    return [w for w in windows if w.wm_class and not w.override_redirect]


def _titles(windows: tuple[Any, ...]) -> list[str]:
    return [w.title for w in _app_windows(windows)]


def _classes(windows: tuple[Any, ...]) -> set[str]:
    return {part for w in windows for part in w.wm_class}
