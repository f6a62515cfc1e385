"""Encode what changed between two pictures as lossless screen updates (docs/screen.md).

``encode_update(previous, current, max_body)`` returns the ScreenUpdates that turn the
viewer's copy of ``previous`` into ``current`` exactly:

- no previous picture, or one of another size: a full picture, split over as many
  updates as ``max_body`` needs; only the first has ``full=True``;
- equal pictures: no update at all (0 bytes on the wire when nothing changes);
- otherwise the changed rectangles (``diff.changed_rects``); a window the caller says
  moved (``moves``: the window manager knows), or else a band that scrolled vertically,
  goes as one ``COPY`` tile (the first tile of the first update, at most one per picture)
  followed by what is new.

Each rectangle is cut into tiles of at most ``CHUNK_BYTES`` of raw pixels; each tile goes
as ``FILL`` when it is one colour, as a greyscale ``PNG`` when all its pixels are grey
(text), else ``ZLIB`` (level ``ZLIB_LEVEL``) or, when that is not smaller, ``RAW``; small
tiles take the smallest of those and ``ZLIB_GREY``. A small changed rectangle (a typed
character) may go as pieces instead: one-colour column runs as ``FILL``, glyphs found
in the previous picture as ``COPY`` (``glyphs``), when that is smaller. Every update
stays within ``max_body`` once sealed, its tiles within ``limits.MAX_TILES_PER_UPDATE``
and their area within ``limits.MAX_UPDATE_AREA_FACTOR`` screens.

``FrameBuffer`` (the viewer's side) lives in ``framebuffer`` and is re-exported here.
Pure computation: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from relaydesk import limits
from relaydesk.protocol.e2e import SIGNATURE_SIZE, TAG_SIZE
from relaydesk.protocol.messages import ScreenUpdate, Tile, TileEncoding
from relaydesk.screen.diff import (
    MAX_SCROLL_CANDIDATES,
    MIN_SCROLL_AREA,
    changed_rects,
    find_vertical_scroll,
)
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.glyphs import find_patch, split_columns
from relaydesk.screen.picture import BYTES_PER_PIXEL, Picture, Rect, check_picture

__all__ = [
    "CHUNK_BYTES",
    "SEALING_OVERHEAD",
    "ZLIB_LEVEL",
    "FrameBuffer",
    "Move",
    "copy_tile",
    "encode_rects",
    "encode_tile",
    "encode_update",
    "encoded_size",
    "small_change_tiles",
]

# Level 6 for zlib and PNG, measured at 1920x1080 on a screen full of text (docs/screen.md,
# benchmarks/screen.py): greyscale PNG 97 KB in 43 ms, against 133 KB in 42 ms at level
# 1 and 95 KB in 191 ms at level 9; zlib on BGRX, for coloured content, 223 KB in 55 ms
# (level 1: 311 KB in 18 ms; level 9: 215 KB in 309 ms).
ZLIB_LEVEL = 6
# Largest tile, in raw BGRX bytes: 136 rows of a 1920-pixel screen; any tile fits an
# update even as RAW. Larger tiles compress better (PNG: 97 KB a screen against 112 KB
# in 256 KiB tiles) but give a viewer more to decode at once.
CHUNK_BYTES = 1024 * 1024
# Below this many pixels every encoding is tried and the smallest kept (cheap, and PNG's
# 57 bytes of chunk framing matter); above it, grey rectangles go straight to PNG.
SMALL_TILE_PIXELS = 4096
# What sealing adds to the encoded message: the AES-GCM tag and the Ed25519 signature.
SEALING_OVERHEAD = TAG_SIZE + SIGNATURE_SIZE
# A move or scroll is sent as COPY only when at least this share of the pixels it copies
# needed sending and no longer do (a window dragged far still uncovers its old place,
# which goes anyway).
COPY_GAIN = 0.5
# At most this many moved windows are tried per picture (each costs a copy and a diff).
MAX_MOVE_CANDIDATES = 2
# Changed rectangles this small are also tried as pieces: runs of one-colour columns as
# FILL, the other runs as COPY of the same pixels elsewhere in the previous picture (a
# typed glyph and the cursor: docs/screen.md); the smaller of the two ways is sent.
SMALL_CHANGE_PIXELS = 4096
# At most this many small rectangles of one picture are tried so, each in at most this
# many pieces (a typed character is two): each search scans the screen (1.5-2.5 ms at
# 1080p), so a picture costs at most 12 of them.
MAX_SMALL_CHANGES = 4
MAX_PIECES = 3

_COPY_SOURCE = struct.Struct(">II")
_MAX_TILE_FIELDS = 1 + 4 * 3 + 1 + 5  # fixarray, four ints < 65536, encoding, bin32 header


def _uint_size(value: int) -> int:
    """Bytes MessagePack takes for a non-negative integer."""
    if value < 0x80:
        return 1
    if value <= 0xFF:
        return 2
    if value <= 0xFFFF:
        return 3
    return 5 if value <= 0xFFFFFFFF else 9


def _bin_size(length: int) -> int:
    return length + (2 if length <= 0xFF else 3 if length <= 0xFFFF else 5)


def _array_header_size(count: int) -> int:
    return 1 if count < 16 else 3 if count <= 0xFFFF else 5


def _tile_size(tile: Tile) -> int:
    """Bytes the tile takes in an encoded ScreenUpdate."""
    coordinates = (tile.x, tile.y, tile.width, tile.height, tile.encoding)
    return 1 + sum(_uint_size(value) for value in coordinates) + _bin_size(len(tile.data))


def encoded_size(update: ScreenUpdate) -> int:
    """``len(messages.encode(update))``, computed without encoding."""
    header = 1 + _uint_size(update.width) + _uint_size(update.height) + 1
    tiles = sum(_tile_size(tile) for tile in update.tiles)
    return header + _array_header_size(len(update.tiles)) + tiles


def _update_header_bound(width: int, height: int) -> int:
    """Bytes of an encoded update besides its tiles, with the largest tile-count header."""
    return 1 + _uint_size(width) + _uint_size(height) + 1 + _array_header_size(0xFFFF)


def _grey_levels(pixels: Picture) -> NDArray[np.uint8] | None:
    """The (height, width) grey levels when blue, green and red are equal everywhere (a
    terminal's black-on-white text), else None."""
    blue, green, red = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    if not (np.array_equal(blue, green) and np.array_equal(green, red)):
        return None
    return np.ascontiguousarray(blue)


def _grey_png(levels: NDArray[np.uint8], level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def _one_colour(pixels: Picture) -> bytes | None:
    """Blue, green and red when every pixel of ``pixels`` has that colour, else None."""
    first = pixels[0, 0, :3]
    if not np.array_equal(pixels[:, :, :3], np.broadcast_to(first, (*pixels.shape[:2], 3))):
        return None
    return first.tobytes()


def encode_tile(picture: Picture, rect: Rect, level: int = ZLIB_LEVEL, *, png: bool = True) -> Tile:
    """One rectangle of ``picture`` as ``FILL`` when it is one colour, else in the
    smallest of: ``ZLIB_GREY`` or a greyscale PNG when all its pixels are grey,
    zlib-compressed BGRX, raw BGRX. Large grey rectangles go PNG without trying the
    others: one byte a pixel and PNG's row filters, 2.4 times smaller than BGRX on a
    screen of text, and faster (docs/screen.md). ``png=False``: RAW, ZLIB and COPY only,
    for a viewer that takes nothing else."""
    pixels = picture[rect.slices()]
    colour = _one_colour(pixels) if png else None
    if colour is not None:
        return Tile(rect.x, rect.y, rect.width, rect.height, TileEncoding.FILL, colour)
    candidates: list[tuple[TileEncoding, bytes]] = []
    levels = _grey_levels(pixels) if png else None
    small = rect.area < SMALL_TILE_PIXELS
    if levels is not None:
        candidates.append((TileEncoding.PNG, _grey_png(levels, level)))
        if small:
            candidates.append((TileEncoding.ZLIB_GREY, zlib.compress(levels.tobytes(), level)))
    if levels is None or small:
        raw = pixels.tobytes()
        candidates.append((TileEncoding.ZLIB, zlib.compress(raw, level)))
        candidates.append((TileEncoding.RAW, raw))
    encoding, data = min(candidates, key=lambda candidate: len(candidate[1]))
    return Tile(rect.x, rect.y, rect.width, rect.height, encoding, data)


def small_change_tiles(
    previous: Picture,
    current: Picture,
    rect: Rect,
    level: int = ZLIB_LEVEL,
    changed: Sequence[Rect] = (),
) -> list[Tile]:
    """A small changed rectangle as the smallest of: one tile (``encode_tile``), or its
    runs of columns (at most ``MAX_PIECES``), each one colour (``FILL``), found in
    ``previous`` (``COPY``, read from the picture before the update) or encoded
    (``encode_tile``). ``changed``: every rectangle this picture's updates repaint; a
    COPY reads from none of them, since an update before the one carrying the COPY may
    have repainted it already (a COPY reads the picture before its own update)."""
    whole = [encode_tile(current, rect, level)]
    pieces = split_columns(current, rect)
    if len(pieces) > MAX_PIECES:
        return whole
    tiles: list[Tile] = []
    for piece in pieces:
        area = piece.rect
        if piece.colour is not None:
            tiles.append(
                Tile(area.x, area.y, area.width, area.height, TileEncoding.FILL, piece.colour)
            )
            continue
        found = find_patch(previous, current, area, changed)
        if found is None:
            tiles.append(encode_tile(current, area, level))
            continue
        source = _COPY_SOURCE.pack(*found)
        tiles.append(Tile(area.x, area.y, area.width, area.height, TileEncoding.COPY, source))
    if sum(map(_tile_size, tiles)) < _tile_size(whole[0]):
        return tiles
    return whole


class Move(NamedTuple):
    """``rect`` of the current picture shows what the previous picture had at (``src_x``,
    ``src_y``): a window moved, a band scrolled. What a COPY tile says."""

    rect: Rect
    src_x: int
    src_y: int

    @property
    def source(self) -> Rect:
        return Rect(self.src_x, self.src_y, self.rect.width, self.rect.height)

    def on_screen(self, width: int, height: int) -> Move | None:
        """The part of the move whose source and destination are both on a ``width`` x
        ``height`` screen (a window dragged past an edge), or None."""
        dx, dy = self.rect.x - self.src_x, self.rect.y - self.src_y
        screen = Rect(0, 0, width, height)
        source = self.source.intersection(screen)
        if source is None:
            return None
        rect = self.rect.intersection(Rect(source.x + dx, source.y + dy, source.width,
                                           source.height))  # fmt: skip
        rect = rect.intersection(screen) if rect is not None else None
        if rect is None:
            return None
        return Move(rect, rect.x - dx, rect.y - dy)


def copy_tile(move: Move) -> Tile:
    """The COPY tile of a move: its rectangle, read from (``src_x``, ``src_y``) of the
    previous picture."""
    rect = move.rect
    source = _COPY_SOURCE.pack(move.src_x, move.src_y)
    return Tile(rect.x, rect.y, rect.width, rect.height, TileEncoding.COPY, source)


def _chunks(rect: Rect, max_pixels: int) -> Iterator[Rect]:
    """Cut a rectangle into bands (or, for very wide ones, row pieces) of at most
    ``max_pixels`` pixels."""
    if rect.width <= max_pixels:
        rows = max_pixels // rect.width
        for y in range(rect.y, rect.bottom, rows):
            yield Rect(rect.x, y, rect.width, min(rows, rect.bottom - y))
        return
    for y in range(rect.y, rect.bottom):
        for x in range(rect.x, rect.right, max_pixels):
            yield Rect(x, y, min(max_pixels, rect.right - x), 1)


def _pack(
    tiles: list[Tile], width: int, height: int, full: bool, budget: int
) -> list[ScreenUpdate]:
    """Fill updates in order, each within ``budget`` encoded bytes, the tile count limit
    and the area limit. Only the first update of a full picture says ``full``."""
    max_area = limits.MAX_UPDATE_AREA_FACTOR * width * height
    updates: list[ScreenUpdate] = []
    batch: list[Tile] = []
    size = area = 0
    for tile in tiles:
        tile_size = _tile_size(tile)
        tile_area = tile.width * tile.height
        if batch and (
            size + tile_size > budget
            or area + tile_area > max_area
            or len(batch) == limits.MAX_TILES_PER_UPDATE
        ):
            updates.append(ScreenUpdate(width, height, full and not updates, tuple(batch)))
            batch, size, area = [], 0, 0
        batch.append(tile)
        size += tile_size
        area += tile_area
    if batch:
        updates.append(ScreenUpdate(width, height, full and not updates, tuple(batch)))
    return updates


def _scrolls(previous: Picture, current: Picture, rects: list[Rect]) -> Iterator[Move]:
    """Vertical scrolls found in the pixels, looked for one candidate area at a time."""
    # First the box around every change (a terminal whose scrolled text and new lines
    # came out as several rectangles), then the largest rectangles alone (a scrolled
    # window and, elsewhere, a clock).
    bounds = rects[0]
    for rect in rects[1:]:
        bounds = bounds.union(rect)
    largest = sorted(rects, key=lambda rect: rect.area, reverse=True)[:MAX_SCROLL_CANDIDATES]
    for area in [bounds, *(rect for rect in largest if rect != bounds)]:
        scroll = find_vertical_scroll(previous, current, area)
        if scroll is not None:
            yield Move(scroll.rect, scroll.rect.x, scroll.src_y)


def _window_moves(moves: Sequence[Move], width: int, height: int) -> list[Move]:
    """The caller's moved windows, cut to the screen: the largest few, none too small to
    be worth a copy and a diff."""
    visible = [m for move in moves if (m := move.on_screen(width, height)) is not None]
    worth = [move for move in visible if move.rect.area >= MIN_SCROLL_AREA]
    return sorted(worth, key=lambda move: move.rect.area, reverse=True)[:MAX_MOVE_CANDIDATES]


def _outside_exact(
    rects: list[Rect], copied: Rect, predicted: Picture, current: Picture
) -> list[Rect]:
    """``rects`` without what they hold of ``copied`` where the copy is exact there: the
    diff's boxes take in unchanged pixels around what changed (an uncovered L-shape is
    one box over part of the moved window), and those need not be sent again."""
    kept = []
    for rect in rects:
        inside = rect.intersection(copied)
        if inside is None or not np.array_equal(
            predicted[inside.slices()], current[inside.slices()]
        ):
            kept.append(rect)
        else:
            kept.extend(rect.subtract(copied))
    return kept


def _copy_tiles(
    previous: Picture,
    current: Picture,
    rects: list[Rect],
    candidates: Iterable[Move],
    encode: Callable[[Rect], Tile],
    max_pixels: int,
) -> list[Tile] | None:
    """A COPY tile and the tiles of what it leaves to send, for the first candidate move
    that saves enough. Each is checked pixel for pixel: the viewer's picture with the
    copy made is diffed against ``current``, so a wrong guess costs bytes, never a wrong
    pixel."""
    changed_area = sum(rect.area for rect in rects)
    for move in candidates:
        predicted = previous.copy()
        predicted[move.rect.slices()] = previous[move.source.slices()]
        residual = _outside_exact(changed_rects(predicted, current), move.rect, predicted, current)
        if changed_area - sum(rect.area for rect in residual) < COPY_GAIN * move.rect.area:
            continue
        tiles = [copy_tile(move)]
        for rect in residual:
            tiles.extend(encode(chunk) for chunk in _chunks(rect, max_pixels))
        return tiles
    return None


def _budget(width: int, height: int, max_body: int, level: int) -> tuple[int, int]:
    """Bytes of tiles an update may hold, and pixels a tile may have."""
    if not 0 <= level <= 9:
        raise ValueError(f"zlib level must be 0 to 9, not {level}")
    budget = max_body - SEALING_OVERHEAD - _update_header_bound(width, height)
    if budget < _MAX_TILE_FIELDS + max(_COPY_SOURCE.size, BYTES_PER_PIXEL):
        raise ValueError(f"max_body {max_body} cannot hold a tile of one pixel")
    return budget, min(CHUNK_BYTES, budget - _MAX_TILE_FIELDS) // BYTES_PER_PIXEL


def encode_rects(
    current: Picture,
    rects: list[Rect],
    max_body: int = limits.MAX_FRAME_BODY,
    *,
    level: int = ZLIB_LEVEL,
    png: bool = True,
) -> list[ScreenUpdate]:
    """Updates repainting ``rects`` of ``current`` losslessly, whatever the viewer has
    there (a video region that ends: docs/screen.md), within ``max_body`` as above."""
    check_picture(current, "current")
    height, width = current.shape[:2]
    budget, max_pixels = _budget(width, height, max_body, level)
    tiles = [
        encode_tile(current, chunk, level, png=png)
        for rect in rects
        for chunk in _chunks(rect, max_pixels)
    ]
    return _pack(tiles, width, height, False, budget)


def encode_update(
    previous: Picture | None,
    current: Picture,
    max_body: int = limits.MAX_FRAME_BODY,
    *,
    level: int = ZLIB_LEVEL,
    png: bool = True,
    exclude: Rect | None = None,
    moves: Sequence[Move] = (),
) -> list[ScreenUpdate]:
    """The updates that bring a viewer from ``previous`` to ``current`` (both BGRX
    pictures, see ``picture``), each at most ``max_body`` bytes once encoded and sealed
    (``len(encode(update)) + SEALING_OVERHEAD <= max_body``). ``previous`` None or of
    another size gives a full picture; equal pictures give ``[]``. ``level``: zlib's, for
    ZLIB and PNG tiles; ``png=False`` for viewers that take only RAW, ZLIB and COPY.
    ``exclude``: a rectangle no tile may touch (the video region, sent as VIDEO_FRAMEs;
    docs/screen.md); no COPY is made then, so nothing is copied out of it either.
    ``moves``: windows known to have moved since ``previous`` (tried before scrolls)."""
    check_picture(current, "current")
    height, width = current.shape[:2]
    budget, max_pixels = _budget(width, height, max_body, level)

    def encode(rect: Rect) -> Tile:
        return encode_tile(current, rect, level, png=png)

    if previous is None or previous.shape != current.shape:
        whole = Rect(0, 0, width, height)
        tiles = [encode(chunk) for chunk in _chunks(whole, max_pixels)]
        return _pack(tiles, width, height, True, budget)

    check_picture(previous, "previous")
    rects = changed_rects(previous, current)
    if exclude is not None:
        rects = [piece for rect in rects for piece in rect.subtract(exclude)]
    if not rects:
        return []
    copied = None
    if exclude is None:
        candidates = itertools.chain(
            _window_moves(moves, width, height), _scrolls(previous, current, rects)
        )
        copied = _copy_tiles(previous, current, rects, candidates, encode, max_pixels)
    if copied is not None:
        tiles = copied
    else:
        # FILL and COPY pieces only for viewers that take FILL, and with nothing excluded
        # (no COPY out of a video region).
        small = png and exclude is None and len(rects) <= MAX_SMALL_CHANGES
        tiles = []
        for rect in rects:
            if small and rect.area <= min(SMALL_CHANGE_PIXELS, max_pixels):
                tiles.extend(small_change_tiles(previous, current, rect, level, rects))
            else:
                tiles.extend(encode(chunk) for chunk in _chunks(rect, max_pixels))
    return _pack(tiles, width, height, False, budget)
