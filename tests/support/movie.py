"""A video playing on an Xvfb: a real X client repainting a window 30 times a second.

``Movie`` opens its own X connection and, on a thread of its own, fills a borderless
window with frame ``t`` of a smooth moving pattern (``movie_frame``), ``t`` = 0, 1, 2...
(PutImage in bands that fit a request). It remembers which frames it drew, so a test can
tell how close a viewer's picture of the region is to the nearest of them (``best_psnr``):
a lossy codec is judged within its tolerance, never pixel for pixel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray
from Xlib import X
from Xlib import display as xdisplay

from relaydesk.screen.picture import Rect

FPS = 30.0
_BAND_BYTES = 200_000  # one PutImage request stays under the core protocol's 256 KiB


def movie_frame(t: int, width: int, height: int) -> NDArray[np.uint8]:
    """Frame ``t``, (height, width, 3) RGB: colour waves drifting at different speeds."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 128 + 100 * np.sin(xs / 19 + t * 0.35)
    green = 128 + 100 * np.sin(ys / 13 - t * 0.25)
    blue = 128 + 100 * np.sin((xs + ys) / 29 + t * 0.15)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    """Peak signal-to-noise ratio of two RGB pictures of one size, in dB."""
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if error == 0 else 10 * float(np.log10(255**2 / error))


class Movie:
    """A window at ``rect`` of ``display`` playing ``movie_frame`` until paused or closed."""

    def __init__(self, display: str, rect: Rect) -> None:
        self.rect = rect
        self._display = xdisplay.Display(display)
        screen = self._display.screen()
        self._window = screen.root.create_window(
            rect.x, rect.y, rect.width, rect.height, 0, screen.root_depth, X.InputOutput,
            X.CopyFromParent, background_pixel=screen.black_pixel, override_redirect=True,
        )  # fmt: skip
        self._gc = self._window.create_gc()
        self._window.map()
        self._display.sync()
        self.drawn: list[int] = []  # frames drawn, in order
        self._playing = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def play(self) -> Movie:
        self._playing.set()
        return self

    def pause(self) -> int:
        """Stop on the frame drawn last; return its number."""
        self._playing.clear()
        time.sleep(2 / FPS)  # a frame being drawn finishes
        return self.drawn[-1]

    def _run(self) -> None:
        t = 0
        next_at = time.monotonic()
        while not self._closed.is_set():
            if not self._playing.wait(0.1):
                continue
            self._draw(t)
            self.drawn.append(t)
            t += 1
            next_at += 1 / FPS
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - 1 / FPS)

    def _draw(self, t: int) -> None:
        width, height = self.rect.width, self.rect.height
        rgb = movie_frame(t, width, height)
        bgrx = np.zeros((height, width, 4), np.uint8)
        bgrx[:, :, :3] = rgb[:, :, ::-1]
        rows = max(1, _BAND_BYTES // (width * 4))
        for top in range(0, height, rows):
            band = bgrx[top : top + rows]
            self._window.put_image(self._gc, 0, top, width, band.shape[0], X.ZPixmap, 24, 0,
                                   band.tobytes())  # fmt: skip
        self._display.sync()

    def best_psnr(self, region_rgb: NDArray[np.uint8], recent: int = 90) -> float:
        """How close ``region_rgb`` (the viewer's picture of ``rect``) is to the nearest
        of the last ``recent`` frames drawn."""
        width, height = self.rect.width, self.rect.height
        return max(
            (psnr(region_rgb, movie_frame(t, width, height)) for t in self.drawn[-recent:]),
            default=0.0,
        )

    def close(self) -> None:
        self._closed.set()
        self._playing.set()
        self._thread.join(5)
        self._window.destroy()
        self._display.sync()
        self._display.close()


def frames(count: int, width: int, height: int) -> Iterator[NDArray[np.uint8]]:
    """The first ``count`` frames, RGB."""
    for t in range(count):
        yield movie_frame(t, width, height)
