"""Pictures and rectangles, shared by the screen modules.

A picture is a C-contiguous numpy array of shape (height, width, 4), dtype uint8, each
pixel four bytes blue, green, red, unused ("BGRX", the order X servers and ``TileEncoding
.RAW`` use). The fourth byte carries no meaning: comparisons of what a viewer sees look at
blue, green and red only.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import numpy as np
from numpy.typing import NDArray

from relaydesk import limits

Picture: TypeAlias = NDArray[np.uint8]

BYTES_PER_PIXEL = 4


class Rect(NamedTuple):
    """A rectangle of pixels: left edge, top edge, width, height (all in pixels)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def union(self, other: Rect) -> Rect:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Rect(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def intersection(self, other: Rect) -> Rect | None:
        """The part of this rectangle inside ``other``, or None."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def intersects(self, other: Rect) -> bool:
        return min(self.right, other.right) > max(self.x, other.x) and min(
            self.bottom, other.bottom
        ) > max(self.y, other.y)

    def subtract(self, other: Rect) -> list[Rect]:
        """The parts of this rectangle outside ``other``: at most four, not overlapping."""
        if not self.intersects(other):
            return [self]
        top, bottom = max(self.y, other.y), min(self.bottom, other.bottom)
        pieces = [
            Rect(self.x, self.y, self.width, top - self.y),  # above
            Rect(self.x, bottom, self.width, self.bottom - bottom),  # below
            Rect(self.x, top, max(0, other.x - self.x), bottom - top),  # left
            Rect(other.right, top, max(0, self.right - other.right), bottom - top),  # right
        ]
        return [piece for piece in pieces if piece.width > 0 and piece.height > 0]

    def slices(self) -> tuple[slice, slice]:
        """Index a picture with ``picture[rect.slices()]``."""
        return slice(self.y, self.bottom), slice(self.x, self.right)


def check_picture(picture: Picture, what: str = "picture") -> None:
    """Refuse an array that is not a picture (a programming error, hence ValueError)."""
    if not isinstance(picture, np.ndarray) or picture.dtype != np.uint8:
        raise ValueError(f"{what} must be a numpy array of uint8")
    if picture.ndim != 3 or picture.shape[2] != BYTES_PER_PIXEL:
        raise ValueError(f"{what} must have shape (height, width, 4), not {picture.shape}")
    height, width = picture.shape[:2]
    side = limits.MAX_SCREEN_SIDE
    if not (1 <= width <= side and 1 <= height <= side):
        raise ValueError(f"{what} must be 1 to {side} pixels on each side, not {width}x{height}")
    if not picture.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous (use numpy.ascontiguousarray)")


def pixels32(picture: Picture) -> NDArray[np.uint32]:
    """The picture as one uint32 per pixel, shape (height, width); a view, not a copy."""
    return picture.view(np.uint32)[:, :, 0]


def to_rgb(picture: Picture) -> NDArray[np.uint8]:
    """A contiguous (height, width, 3) RGB copy, as image libraries want it."""
    return np.ascontiguousarray(picture[:, :, 2::-1])
