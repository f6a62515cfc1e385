"""Finding a video-like region of the screen, with hysteresis (docs/screen.md).

The presenter keeps, for each 64x64 tile, which of the last ``WINDOW`` pictures changed
it. A tile that changed in at least ``HOT`` of them is *moving*; the largest group of
neighbouring moving tiles is the candidate. It becomes the video region when, for
``ENTER_FRAMES`` pictures in a row, it stays about where it was, covers at least
``MIN_TILES`` tiles and costs the lossless encoder at least ``MIN_BYTES_PER_PIXEL`` for
what changed in it: a playing video, an animation, a game, but not scrolling text (COPY
tiles cost nothing), typing (a few tiles) or a clock (once a second).

The region then stays put until nothing in it changed for ``QUIET_FRAMES`` pictures (the
video was paused or closed: the presenter sends it losslessly again, pixel-exact), or the
candidate has been elsewhere for ``MOVE_FRAMES`` pictures (the window moved or grew: a
new region is found as above). Pure computation: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from relaydesk.protocol.messages import ScreenUpdate
from relaydesk.screen.diff import TILE_SIZE
from relaydesk.screen.picture import Rect
from relaydesk.screen.video import even_region

# Few pictures decide: until a video region is found its pictures go losslessly, which
# is slow for a changing picture (0.2-0.3 s for 1280x720 of video on a loaded machine).
WINDOW = 4  # pictures of history a tile keeps (the low bits of a uint8)
HOT = 3  # changed in at least this many of them: moving
MIN_TILES = 6  # a video region is at least this many tiles (e.g. 3x2, 192x128 pixels)
MIN_BYTES_PER_PIXEL = 0.75  # lossless bytes per changed pixel (grey text PNG: ~0.1)
ENTER_FRAMES = 2  # the candidate must hold this many pictures in a row
QUIET_FRAMES = 30  # one second at 30 pictures a second without change ends the region
MOVE_FRAMES = 8  # the candidate elsewhere this long ends the region
SAME_PLACE = 0.7  # two boxes are "about the same" at this intersection over union

_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], np.uint8)


def changed_tiles(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Which tiles of a changed-pixel mask (``diff.changed_mask``) hold a change."""
    down, across = mask.shape[0] // TILE_SIZE, mask.shape[1] // TILE_SIZE
    tiles = mask.reshape(down, TILE_SIZE, across, TILE_SIZE).any(axis=(1, 3))
    return np.asarray(tiles, np.bool_)


def overlap(a: Rect, b: Rect) -> float:
    """Intersection over union of two rectangles (0 to 1)."""
    width = min(a.right, b.right) - max(a.x, b.x)
    height = min(a.bottom, b.bottom) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    shared = width * height
    return shared / (a.area + b.area - shared)


def _largest_group(moving: NDArray[np.bool_]) -> tuple[int, Rect] | None:
    """The largest 4-connected group of True tiles: its size and its box, in tiles."""
    seen = np.zeros_like(moving)
    best: tuple[int, Rect] | None = None
    rows, columns = moving.shape
    for start in zip(*np.nonzero(moving), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack = [start]
        count = 0
        top, left, bottom, right = int(start[0]), int(start[1]), int(start[0]), int(start[1])
        while stack:
            row, column = stack.pop()
            count += 1
            top, bottom = min(top, row), max(bottom, row)
            left, right = min(left, column), max(right, column)
            for r, c in (
                (row - 1, column),
                (row + 1, column),
                (row, column - 1),
                (row, column + 1),
            ):
                if 0 <= r < rows and 0 <= c < columns and moving[r, c] and not seen[r, c]:
                    seen[r, c] = True
                    stack.append((r, c))
        if best is None or count > best[0]:
            best = (count, Rect(int(left), int(top), int(right - left + 1), int(bottom - top + 1)))
    return best


def lossless_cost(updates: list[ScreenUpdate], area: Rect) -> float:
    """Bytes per pixel the lossless encoder spent on the tiles that meet ``area``."""
    spent = pixels = 0
    for update in updates:
        for tile in update.tiles:
            rect = Rect(tile.x, tile.y, tile.width, tile.height)
            if overlap(rect, area) > 0:
                spent += len(tile.data)
                pixels += rect.area
    return spent / pixels if pixels else 0.0


class MotionDetector:
    """Watches which tiles change, picture after picture; says where video plays."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        down = -(-height // TILE_SIZE)
        across = -(-width // TILE_SIZE)
        self._history: NDArray[np.uint8] = np.zeros((down, across), np.uint8)
        self.region: Rect | None = None
        self._candidate: Rect | None = None
        self._streak = 0  # pictures the candidate held (before a region)
        self._quiet = 0  # pictures without change in the region
        self._away = 0  # pictures the candidate was elsewhere

    def observe(self, changed: NDArray[np.bool_], updates: list[ScreenUpdate]) -> Rect | None:
        """One more picture: ``changed`` its changed-tile map (``changed_tiles``), and
        ``updates`` what the lossless encoder made of it. Returns the video region now."""
        history = np.left_shift(self._history, 1, dtype=np.uint8)
        np.bitwise_or(history, changed, out=history, casting="unsafe")
        history &= (1 << WINDOW) - 1
        self._history = history
        moving = _POPCOUNT[self._history] >= HOT
        group = _largest_group(moving) if moving.any() else None
        candidate = None
        if group is not None and group[0] >= MIN_TILES:
            box = group[1]
            pixels = Rect(box.x * TILE_SIZE, box.y * TILE_SIZE,
                          box.width * TILE_SIZE, box.height * TILE_SIZE)  # fmt: skip
            candidate = even_region(self._clip(pixels), self.width, self.height)
        if self.region is None:
            self._seek(candidate, updates)
        else:
            self._hold(candidate, changed)
        return self.region

    def _clip(self, rect: Rect) -> Rect:
        right, bottom = min(rect.right, self.width), min(rect.bottom, self.height)
        return Rect(rect.x, rect.y, right - rect.x, bottom - rect.y)

    def _seek(self, candidate: Rect | None, updates: list[ScreenUpdate]) -> None:
        if candidate is None or lossless_cost(updates, candidate) < MIN_BYTES_PER_PIXEL:
            self._candidate, self._streak = None, 0
            return
        previous = self._candidate
        held = previous is not None and overlap(previous, candidate) >= SAME_PLACE
        self._streak = self._streak + 1 if held else 1
        self._candidate = candidate
        if self._streak >= ENTER_FRAMES:
            self.region, self._quiet, self._away = candidate, 0, 0

    def _hold(self, candidate: Rect | None, changed: NDArray[np.bool_]) -> None:
        region = self.region
        assert region is not None
        tiles = changed[
            region.y // TILE_SIZE : -(-region.bottom // TILE_SIZE),
            region.x // TILE_SIZE : -(-region.right // TILE_SIZE),
        ]
        self._quiet = 0 if tiles.any() else self._quiet + 1
        elsewhere = candidate is None or overlap(candidate, region) < SAME_PLACE
        self._away = self._away + 1 if elsewhere and candidate is not None else 0
        if self._quiet >= QUIET_FRAMES or self._away >= MOVE_FRAMES:
            self.end()

    def end(self) -> None:
        """Leave video mode now (the presenter sends the region losslessly)."""
        self.region = None
        self._candidate, self._streak = None, 0
