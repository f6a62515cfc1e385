"""Small changes as pieces the viewer already has: flat columns and glyphs (docs/screen.md).

Typing a character in a terminal changes a glyph cell and the cursor cell next to it. The
glyph is usually on the screen already (the same letter, drawn the same way elsewhere),
and the cursor is one colour. ``split_columns`` cuts a small rectangle into runs of
columns that are one colour throughout (sent as ``FILL``) and the rest; ``find_patch``
looks for a piece, pixel for pixel, in the previous picture (sent as ``COPY``, which
reads the picture as it was before the update).

Pure computation: numpy on the pictures, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from relaydesk.screen.picture import Picture, Rect

__all__ = ["MAX_PATCH_PIXELS", "MIN_FLAT_COLUMNS", "Piece", "find_patch", "split_columns"]

# Runs of one-colour columns narrower than this stay with the glyph beside them.
MIN_FLAT_COLUMNS = 4
# Pieces larger than this are not looked for: a glyph cell is 8x17 to 20x40 pixels.
MAX_PATCH_PIXELS = 1024
# Pixels of a piece compared at every candidate position before the whole piece is.
_PROBES = 24
# Whole comparisons at most, after the probes (which leave almost only true matches).
_MAX_CANDIDATES = 16


class Piece(NamedTuple):
    """A run of columns of a rectangle: ``colour`` (blue, green, red) when every pixel of
    it has that colour, else None."""

    rect: Rect
    colour: bytes | None


def _words(picture: Picture) -> NDArray[np.uint32]:
    """One uint32 a pixel (blue, green, red and the fourth byte)."""
    words: NDArray[np.uint32] = picture.view(np.uint32)[:, :, 0]
    return words


def split_columns(current: Picture, rect: Rect) -> list[Piece]:
    """``rect`` as runs of columns, left to right: each run either one colour throughout
    (a cleared cell, a block cursor) and at least ``MIN_FLAT_COLUMNS`` wide, or not (a
    glyph keeps the blank columns at its sides: it is found elsewhere with them)."""
    pixels = _words(current)[rect.slices()]
    flat = (pixels == pixels[0]).all(axis=0)
    tops = pixels[0]
    runs: list[tuple[int, int, bool]] = []  # start, end, one colour
    start = 0
    for column in range(1, rect.width + 1):
        if (
            column < rect.width
            and flat[column] == flat[start]
            and (not flat[column] or tops[column] == tops[start])
        ):
            continue
        runs.append((start, column, bool(flat[start])))
        start = column
    pieces: list[Piece] = []
    for run_start, end, flat_run in runs:
        one_colour = flat_run and end - run_start >= MIN_FLAT_COLUMNS
        left = run_start
        if not one_colour and pieces and pieces[-1].colour is None:
            left = pieces.pop().rect.x - rect.x  # a narrow flat run joins the glyph beside it
        piece = Rect(rect.x + left, rect.y, end - left, rect.height)
        colour = current[rect.y, rect.x + left, :3].tobytes() if one_colour else None
        pieces.append(Piece(piece, colour))
    return pieces


def find_patch(
    previous: Picture, current: Picture, rect: Rect, avoid: Sequence[Rect] = ()
) -> tuple[int, int] | None:
    """The top-left corner of a place in ``previous`` whose pixels are exactly those of
    ``rect`` in ``current``, or None. Only pieces of at most ``MAX_PATCH_PIXELS`` with at
    least two colours are looked for, and no place overlapping one of ``avoid``."""
    if rect.area > MAX_PATCH_PIXELS:
        return None
    patch = _words(current)[rect.slices()]
    values, first, counts = np.unique(patch, return_index=True, return_counts=True)
    if len(values) < 2:
        return None
    screen = _words(previous)
    height, width = screen.shape
    # The anchor: the patch's rarest pixel value (a glyph's darkest, most particular
    # shade), found everywhere in the previous picture in one pass.
    rarest = int(np.argmin(counts))
    anchor_y, anchor_x = divmod(int(first[rarest]), rect.width)
    found = np.flatnonzero(screen.reshape(-1) == values[rarest])
    ys, xs = np.divmod(found, width)
    ys, xs = ys - anchor_y, xs - anchor_x
    inside = (ys >= 0) & (xs >= 0) & (ys <= height - rect.height) & (xs <= width - rect.width)
    ys, xs = ys[inside], xs[inside]
    # Probes spread over the patch narrow the candidates before any whole comparison.
    probes = np.linspace(0, rect.area - 1, min(_PROBES, rect.area), dtype=np.int64)
    for probe in probes:
        if not len(ys):
            return None
        dy, dx = divmod(int(probe), rect.width)
        keep = screen[ys + dy, xs + dx] == patch[dy, dx]
        ys, xs = ys[keep], xs[keep]
    for area in avoid:
        apart = (
            (xs >= area.right) | (xs + rect.width <= area.x)
            | (ys >= area.bottom) | (ys + rect.height <= area.y)
        )  # fmt: skip
        ys, xs = ys[apart], xs[apart]
    for y, x in zip(ys[:_MAX_CANDIDATES].tolist(), xs[:_MAX_CANDIDATES].tolist(), strict=True):
        if np.array_equal(screen[y : y + rect.height, x : x + rect.width], patch):
            return x, y
    return None
