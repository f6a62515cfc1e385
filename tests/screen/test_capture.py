"""ScreenCapture on a real X server (Xvfb) with real X clients drawing known content."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from screen_helpers import HEIGHT, WIDTH, Drawing, pixel, wait_for

from relaydesk.errors import CaptureError
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.codec import encode_update
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.xvfb import SOCKET_DIR, Xvfb


def test_picture_shape_and_type(capture: ScreenCapture) -> None:
    picture = capture.grab()
    assert (capture.width, capture.height) == (WIDTH, HEIGHT)
    assert picture.shape == (HEIGHT, WIDTH, 4)
    assert picture.dtype == np.uint8
    assert picture.flags.c_contiguous and picture.flags.writeable
    assert (picture[:, :, 3] == 0xFF).all()  # the unused byte is normalised
    assert capture.grab() is not picture  # a new array every time


def test_solid_root_colour(drawing: Drawing, capture: ScreenCapture) -> None:
    drawing.background(0x336699)
    picture = wait_for(capture, lambda p: bool((p[0, 0] == pixel(0x336699)).all()))
    assert (picture == pixel(0x336699)).all()


def test_windows_at_known_places(drawing: Drawing, capture: ScreenCapture) -> None:
    drawing.background(0x102030)
    drawing.rectangle(10, 20, 30, 40, 0xFF0000)
    drawing.rectangle(600, 440, 40, 40, 0x00FF7F)  # touches the bottom right corner
    drawing.rectangle(100, 100, 1, 1, 0xFFFFFF)
    picture = wait_for(capture, lambda p: bool((p[100, 100] == pixel(0xFFFFFF)).all()))

    expected = np.empty_like(picture)
    expected[:, :] = pixel(0x102030)
    expected[20:60, 10:40] = pixel(0xFF0000)
    expected[440:480, 600:640] = pixel(0x00FF7F)
    expected[100, 100] = pixel(0xFFFFFF)
    np.testing.assert_array_equal(picture, expected)


def test_xterm_text_and_pixel_exact_snapshot(
    drawing: Drawing, capture: ScreenCapture, tmp_path: Path
) -> None:
    if shutil.which("xterm") is None:
        pytest.skip("xterm is not installed")
    drawing.background(0x336699)
    drawing.start(
        "xterm", "-geometry", "40x4+0+0", "-fa", "Monospace", "-fs", "10",
        "-bg", "white", "-fg", "black", "-e", "sh", "-c", "printf 'HELLO relaydesk'; sleep 60",
    )  # fmt: skip
    # The window shows white background and black text once xterm has drawn.
    picture = wait_for(
        capture, lambda p: bool((p[2:20, 2:40, :3] < 64).any() and (p[5, 300] == 0xFF).all())
    )
    text = picture[2:20, 2:130, :3]
    assert (text < 64).all(axis=2).sum() > 100  # glyph pixels, some black
    assert (picture[70, 300] == 0xFF).all()  # inside the xterm, below the text: white
    assert (picture[400, 300] == pixel(0x336699)).all()  # outside it: the root colour

    # What a viewer rebuilds and snapshots is the captured picture, pixel for pixel.
    viewer = FrameBuffer()
    for update in encode_update(None, picture):
        viewer.apply(update)
    path = tmp_path / "snapshot.png"
    viewer.to_png(path)
    with Image.open(path) as image:
        assert image.mode == "RGB"
        snapshot = np.asarray(image)
    np.testing.assert_array_equal(snapshot, picture[:, :, 2::-1])


def test_display_that_does_not_exist() -> None:
    number = next(n for n in range(4000, 5000) if not (SOCKET_DIR / f"X{n}").exists())
    with pytest.raises(CaptureError, match="cannot open X display"):
        ScreenCapture(f":{number}")


def test_no_display_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(CaptureError, match="set DISPLAY"):
        ScreenCapture()


def test_display_from_environment(xvfb: Xvfb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", xvfb.display)
    with ScreenCapture() as screen:
        assert screen.display == xvfb.display
        assert screen.grab().shape == (HEIGHT, WIDTH, 4)


def test_xvfb_stops_and_its_display_goes_away() -> None:
    with Xvfb(64, 32) as server:
        socket = SOCKET_DIR / f"X{server.display[1:]}"
        assert socket.exists()
        with ScreenCapture(server.display) as screen:
            assert screen.grab().shape == (32, 64, 4)
    with pytest.raises(CaptureError):
        ScreenCapture(server.display)
