"""Real X clients drawing on an Xvfb, and the screen grabbed independently of relaydesk.

``Screen`` draws with xsetroot, xterm and python-xlib windows, and ``grab()`` reads the
root window with a plain X GetImage request (python-xlib): a path independent of
relaydesk's own capture (mss over XShm) and of the browser.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray
from Xlib import X
from Xlib import display as xdisplay

from relaydesk.screen.xvfb import Xvfb

RGB = NDArray[np.uint8]
STILL = 0.5  # seconds a screen must stay the same to count as drawn (xterm is slow)


def bgra(rgb: int) -> bytes:
    """A 0xRRGGBB colour as the four bytes of one pixel in an X picture (BGRX)."""
    return bytes((rgb & 0xFF, (rgb >> 8) & 0xFF, rgb >> 16, 0xFF))


class Screen:
    """Real X clients drawing on an Xvfb: xsetroot, xterm and python-xlib windows."""

    def __init__(self, server: Xvfb) -> None:
        self.server = server
        self.display = xdisplay.Display(server.display)
        self.screen = self.display.screen()
        self.width = self.screen.width_in_pixels
        self.height = self.screen.height_in_pixels
        self.windows: list[Any] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def background(self, rgb: int) -> None:
        subprocess.run(
            ["xsetroot", "-solid", f"#{rgb:06x}"], env=self.server.env, check=True, timeout=30
        )

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

    def random_blocks(self, x: int, y: int, columns: int, rows: int, size: int) -> None:
        """A grid of windows in random colours: a picture no other run has shown."""
        for row in range(rows):
            for column in range(columns):
                colour = secrets.randbits(24)
                self.rectangle(x + column * size, y + row * size, size, size, colour)

    def stripes(self, x: int, y: int, colours: list[int], width: int, height: int) -> bytes:
        """Side-by-side windows of ``width`` pixels in each colour; returns the raw bytes
        (BGRX) of one row across them, as they sit in a captured picture."""
        for index, rgb in enumerate(colours):
            self.rectangle(x + index * width, y, width, height, rgb)
        return b"".join(bgra(rgb) * width for rgb in colours)

    def xterm(self, text: str, x: int, y: int, columns: int = 40, rows: int = 3) -> None:
        """An xterm showing ``text`` (and nothing else: no prompt, no blinking cursor);
        returns once it is on the screen and the screen is still."""
        before = self.grab()
        script = 'printf "%s" "$0"; exec sleep 3600'
        process = subprocess.Popen(
            ["xterm", "-geometry", f"{columns}x{rows}+{x}+{y}", "-bg", "white", "-fg", "black",
             "+bc", "-e", "sh", "-c", script, text],
            env=self.server.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        self.settle(changed_from=before)

    def grab(self) -> RGB:
        """The whole screen now, as (height, width, 3) RGB."""
        image = self.screen.root.get_image(0, 0, self.width, self.height, X.ZPixmap, 0xFFFFFFFF)
        pixels = np.frombuffer(image.data, np.uint8).reshape(self.height, self.width, 4)
        return np.ascontiguousarray(pixels[:, :, 2::-1])

    def settle(self, changed_from: RGB | None = None, timeout: float = 20.0) -> RGB:
        """Wait until the screen differs from ``changed_from`` (if given) and then stays
        the same for ``STILL`` seconds (X clients draw asynchronously); return it."""
        deadline = time.monotonic() + timeout
        picture = self.grab()
        while changed_from is not None and np.array_equal(picture, changed_from):
            if time.monotonic() > deadline:
                raise AssertionError("the screen did not change")
            time.sleep(0.05)
            picture = self.grab()
        stable_since = time.monotonic()
        while time.monotonic() - stable_since < STILL:
            if time.monotonic() > deadline:
                raise AssertionError("the screen did not settle")
            time.sleep(0.05)
            again = self.grab()
            if not np.array_equal(again, picture):
                picture, stable_since = again, time.monotonic()
        return picture

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        with contextlib.suppress(Exception):
            for window in self.windows:
                window.destroy()
            self.display.sync()
        self.display.close()
