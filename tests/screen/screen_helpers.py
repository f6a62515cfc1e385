"""Helpers for the screen tests: real X clients drawing on an Xvfb, waiting for them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from Xlib import X
from Xlib import display as xdisplay

from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.picture import Picture
from relaydesk.screen.xvfb import Xvfb

WIDTH, HEIGHT = 640, 480
SETTLE_TIMEOUT = 10.0


def pixel(rgb: int) -> tuple[int, int, int, int]:
    """A 0xRRGGBB colour as the BGRX bytes ScreenCapture returns."""
    return (rgb & 0xFF, (rgb >> 8) & 0xFF, rgb >> 16, 0xFF)


def wait_for(
    capture: ScreenCapture,
    condition: Callable[[Picture], bool],
    timeout: float = SETTLE_TIMEOUT,
) -> Picture:
    """Capture until ``condition`` holds (X clients draw asynchronously), then again until
    two captures in a row are equal (the client finished drawing)."""
    deadline = time.monotonic() + timeout
    picture = capture.grab()
    while not condition(picture):
        if time.monotonic() > deadline:
            raise AssertionError("the screen never showed what the test waited for")
        time.sleep(0.01)
        picture = capture.grab()
    while True:
        time.sleep(0.05)
        again = capture.grab()
        if np.array_equal(again, picture) or time.monotonic() > deadline:
            return again
        picture = again


class Drawing:
    """Real X clients on the test display: python-xlib windows, xsetroot, xterm."""

    def __init__(self, server: Xvfb) -> None:
        self.server = server
        self.display = xdisplay.Display(server.display)
        self.screen = self.display.screen()
        self.windows: list[Any] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, *command: str) -> None:
        subprocess.run(command, env=self.server.env, check=True, timeout=30)

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command, env=self.server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.processes.append(process)
        return process

    def background(self, rgb: int) -> None:
        self.run("xsetroot", "-solid", f"#{rgb:06x}")

    def rectangle(self, x: int, y: int, width: int, height: int, rgb: int) -> Any:
        """A borderless window of one colour (no window manager: it stays where put)."""
        window = self.screen.root.create_window(
            x, y, width, height, 0, self.screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=rgb, override_redirect=True,
        )  # fmt: skip
        window.map()
        self.display.sync()
        self.windows.append(window)
        return window

    def close(self) -> None:
        for window in self.windows:
            window.destroy()
        self.display.sync()
        self.display.close()
        for process in self.processes:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# Pictures made up for the pure tests -------------------------------------------------


def blank(width: int, height: int, rgb: int = 0xFFFFFF) -> Picture:
    picture = np.empty((height, width, 4), np.uint8)
    picture[:, :] = pixel(rgb)
    return picture


def noise(width: int, height: int, seed: int) -> Picture:
    """Random BGRX bytes, the unused byte included (encoders must carry it faithfully)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 4), dtype=np.uint8)


def text_like(width: int, height: int, seed: int, cell: tuple[int, int] = (8, 17)) -> Picture:
    """Dark "glyphs" (random blocks of grey levels) in cells on a white background: rows
    repeat rarely, as in a terminal full of text."""
    rng = np.random.default_rng(seed)
    picture = blank(width, height)
    cell_width, cell_height = cell
    glyphs = rng.integers(0, 256, (24, cell_height - 4, cell_width - 2), dtype=np.uint8)
    glyphs[glyphs > 96] = 0xFF  # mostly background, some ink
    for top in range(0, height - cell_height + 1, cell_height):
        line_length = int(rng.integers(0, width // cell_width + 1))
        for column in range(line_length):
            glyph = glyphs[int(rng.integers(0, len(glyphs)))]
            left = column * cell_width
            picture[top + 2 : top + cell_height - 2, left + 1 : left + cell_width - 1, :3] = glyph[
                :, :, None
            ]
    return picture
