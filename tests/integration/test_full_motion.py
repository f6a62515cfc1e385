"""Full motion, as people run it (issue 12): ``relaydesk start`` shares an Xvfb screen on
which a real X client plays a video (a window repainted 30 times a second) next to an
xterm of text; ``relaydesk join`` watches. While the video plays, the viewer's picture of
its region is H.264 (close to a frame that was shown, within the codec's tolerance, and
not pixel-exact) while everything else is pixel-exact; once the video stops, the region
is pixel-exact again (docs/screen.md "Video regions")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from integration.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Background,
    ServerProcess,
    add_organizer,
    check,
    png_rgb,
    relaydesk,
    terminate,
)
from relaydesk.screen.motion import QUIET_FRAMES
from relaydesk.screen.picture import Rect
from support.movie import Movie
from support.screen import RGB, Screen

VIDEO = Rect(320, 192, 256, 192)  # on 64-pixel tile edges: the region found is this box
MIN_PSNR = 30.0  # dB: x264 at CRF 23 gives ~40 on this pattern; a broken picture ~10
QUIET_SECONDS = QUIET_FRAMES / 30 + 2.0  # the region is lossless again after this pause


@dataclass
class Watched:
    playing: RGB  # the snapshot of a viewer that left while the video played
    stopped: RGB  # ... of one that stayed until after it stopped
    screen_playing: RGB  # the screen around the video (the video region aside)
    screen_stopped: RGB
    movie: Movie
    start_lines: list[str]


def _outside(picture: RGB) -> RGB:
    masked = picture.copy()
    masked[VIDEO.slices()] = 0
    return masked


@pytest.fixture(scope="module")
def watched(screen: Screen, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("motion")
    organizer, viewer = tmp / "organizer", tmp / "viewer"
    screen.background(0x203040)
    screen.xterm("relaydesk full motion: this text stays pixel-exact", 10, 20, columns=60)
    server = ServerProcess.start(tmp / "data")
    movie = Movie(screen.server.display, VIDEO)
    start: Background | None = None
    joins: list[Background] = []
    try:
        add_organizer(server.data)
        check(relaydesk("login", server.url, ORGANIZER, "--password-stdin",
                        "--fingerprint", server.fingerprint, "--config-dir", organizer,
                        stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
        start = Background("start", "--config-dir", organizer, env=screen.server.env)
        invite = start.wait_for_line(r"^Invite URL: (https://\S+)$").group(1)
        movie.play()
        connection = ["--fingerprint", server.fingerprint]

        def join(name: str, seconds: float) -> Background:
            process = Background(
                "join", invite, "--name", name, "--config-dir", viewer / name,
                "--snapshot", tmp / f"{name}.png", "--duration", str(seconds), *connection,
            )  # fmt: skip
            joins.append(process)
            return process

        leaves_playing = join("lena", 8)
        stays = join("stan", 8 + 2 + QUIET_SECONDS)
        leaves_playing.wait_for_line(r"^Snapshot written", timeout=90)
        screen_playing = screen.grab()
        time.sleep(1.0)
        movie.pause()
        screen_stopped = screen.grab()
        stays.wait_for_line(r"^Snapshot written", timeout=90)
        start_lines = list(start.stdout_lines)
    finally:
        for process in joins:
            terminate(process)
        if start is not None:
            terminate(start)
        terminate(server.process)
    try:
        yield Watched(
            playing=png_rgb(tmp / "lena.png"),
            stopped=png_rgb(tmp / "stan.png"),
            screen_playing=screen_playing,
            screen_stopped=screen_stopped,
            movie=movie,
            start_lines=start_lines,
        )
    finally:
        movie.close()


def test_while_the_video_plays_its_region_is_h264_within_tolerance(watched: Watched) -> None:
    region = watched.playing[VIDEO.slices()]
    best = watched.movie.best_psnr(region)
    assert MIN_PSNR <= best < float("inf"), f"PSNR {best:.1f} dB"


def test_while_the_video_plays_the_rest_stays_pixel_exact(watched: Watched) -> None:
    assert np.array_equal(_outside(watched.playing), _outside(watched.screen_playing))


def test_once_the_video_stops_the_whole_picture_is_pixel_exact(watched: Watched) -> None:
    assert np.array_equal(watched.stopped, watched.screen_stopped)
