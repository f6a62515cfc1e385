"""What changed between two pictures: few, tight rectangles, and vertical scrolls.

``changed_rects`` compares the pictures pixel by pixel (uint32 views, one comparison a
pixel), reduces the result to a map of 64x64 tiles, finds the exact bounding box of the
changed pixels inside each changed tile and merges neighbouring boxes when that wastes
few unchanged pixels. Typing a character in a terminal gives one rectangle about the
size of the glyph cell and the cursor; a full-screen change gives one rectangle.

``find_vertical_scroll`` looks for a band of the current picture that is a vertically
shifted copy of the previous picture (a terminal or a browser scrolling), by comparing
hashes of pixel rows. The encoder sends such a band as one ``COPY`` tile and only the
rows that really are new (docs/screen.md).

Pure computation: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from relaydesk import limits
from relaydesk.screen.picture import Picture, Rect, pixels32

TILE_SIZE = 64  # sides of the changed-tile map's tiles, in pixels
# Two boxes merge when their union adds at most this many unchanged pixels, or at most
# half as many as they hold: one tile more costs ~20-60 bytes (fields, zlib header and
# code tables), about what a few hundred unchanged pixels of text cost to send again.
MERGE_SLACK_PIXELS = 256
MAX_TIDY_RECTS = 64  # overlapping rectangles are merged in a last pass up to this many

# Scroll detection: a band must be at least this tall and large to be worth a COPY...
MIN_SCROLL_HEIGHT = 24
MIN_SCROLL_AREA = 64 * 64
# ...shifted rows are found by hashes of rows that occur once in the previous picture,
# and a shift needs this many such rows voting for it.
MIN_SCROLL_VOTES = 2
# Rows that do not match inside a shifted band (a cursor, a changed line) are taken into
# the band when the gap is at most this tall; the encoder re-sends them afterwards.
MAX_SCROLL_GAP = 48
MAX_SCROLL_CANDIDATES = 2  # the largest changed rectangles tried, per picture


class Scroll(NamedTuple):
    """``rect`` of the current picture equals the previous picture's rectangle of the same
    size at (``rect.x``, ``src_y``), except for a few rows (a cursor, a changed line)."""

    rect: Rect
    src_y: int

    @property
    def dy(self) -> int:
        return self.src_y - self.rect.y


def _check_pair(previous: Picture, current: Picture) -> None:
    if previous.shape != current.shape:
        raise ValueError(f"pictures differ in size: {previous.shape} and {current.shape}")


def changed_mask(previous: Picture, current: Picture) -> NDArray[np.bool_]:
    """True where a pixel differs, padded with False to whole tiles: shape
    (tiles down x TILE_SIZE, tiles across x TILE_SIZE)."""
    _check_pair(previous, current)
    height, width = current.shape[:2]
    padded_height = -(-height // TILE_SIZE) * TILE_SIZE
    padded_width = -(-width // TILE_SIZE) * TILE_SIZE
    if (padded_height, padded_width) == (height, width):
        mask: NDArray[np.bool_] = np.not_equal(pixels32(previous), pixels32(current))
        return mask
    mask = np.empty((padded_height, padded_width), np.bool_)
    mask[height:, :] = False
    mask[:height, width:] = False
    np.not_equal(pixels32(previous), pixels32(current), out=mask[:height, :width])
    return mask


Edges = tuple[int, int, int, int]  # left, top, right, bottom (right, bottom exclusive)


def tile_edges(mask: NDArray[np.bool_]) -> list[Edges]:
    """The exact bounding box of the changed pixels of each changed tile, as edges,
    tile rows top to bottom, left to right."""
    tiles_down = mask.shape[0] // TILE_SIZE
    tiles_across = mask.shape[1] // TILE_SIZE
    # Eight booleans make one uint64: OR-ing a tile row's eight words tells whether any
    # of its 64 pixels changed, far faster than numpy's reduction over a short axis.
    words = mask.view(np.uint64).reshape(tiles_down, TILE_SIZE, tiles_across, TILE_SIZE // 8)
    row_words = words[:, :, :, 0].copy()
    for index in range(1, TILE_SIZE // 8):
        row_words |= words[:, :, :, index]
    rows_changed = row_words != 0  # (tiles down, row in tile, tiles across)
    tiles_changed = np.any(rows_changed, axis=1)
    if not tiles_changed.any():
        return []
    grid = mask.reshape(tiles_down, TILE_SIZE, tiles_across, TILE_SIZE)
    columns_changed = np.any(grid, axis=1)  # (tiles down, tiles across, column in tile)
    top = rows_changed.argmax(axis=1)
    bottom = TILE_SIZE - rows_changed[:, ::-1, :].argmax(axis=1)
    left = columns_changed.argmax(axis=2)
    right = TILE_SIZE - columns_changed[:, :, ::-1].argmax(axis=2)
    tile_rows, tile_columns = np.nonzero(tiles_changed)
    changed = (tile_rows, tile_columns)
    x0 = tile_columns * TILE_SIZE
    y0 = tile_rows * TILE_SIZE
    return list(
        zip(
            (x0 + left[changed]).tolist(),
            (y0 + top[changed]).tolist(),
            (x0 + right[changed]).tolist(),
            (y0 + bottom[changed]).tolist(),
            strict=True,
        )
    )


def _worth_merging(a: Edges, b: Edges) -> bool:
    """True when the union of two boxes adds few pixels that neither holds."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    overlap_width = min(ax1, bx1) - max(ax0, bx0)
    overlap_height = min(ay1, by1) - max(ay0, by0)
    overlap = overlap_width * overlap_height if overlap_width > 0 and overlap_height > 0 else 0
    covered = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - overlap
    union = (max(ax1, bx1) - min(ax0, bx0)) * (max(ay1, by1) - min(ay0, by0))
    waste = union - covered
    return waste <= MERGE_SLACK_PIXELS or 2 * waste <= covered


def _union(a: Edges, b: Edges) -> Edges:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _overlap(a: Edges, b: Edges) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _tidy(boxes: list[Edges]) -> list[Edges]:
    """Merge overlapping boxes where worth it (a box inside another always is), until
    none is left to merge; skipped for very many boxes."""
    if len(boxes) > MAX_TIDY_RECTS:
        return boxes
    boxes = sorted(boxes, key=lambda box: (box[2] - box[0]) * (box[3] - box[1]), reverse=True)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                b = boxes[j]
                if _overlap(a, b) and _worth_merging(a, b):
                    boxes[i] = _union(a, b)
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _merge_into(boxes: list[Edges], box: Edges, moved_to: list[Edges] | None = None) -> bool:
    """Merge ``box`` into the first of ``boxes`` it overlaps horizontally when that is
    worth it; with ``moved_to``, the merged box moves there."""
    for index, candidate in enumerate(boxes):
        if min(candidate[2], box[2]) > max(candidate[0], box[0]) and _worth_merging(candidate, box):
            if moved_to is None:
                boxes[index] = _union(candidate, box)
            else:
                del boxes[index]
                moved_to.append(_union(candidate, box))
            return True
    return False


def merge_edges(boxes: list[Edges]) -> list[Edges]:
    """Merge per-tile boxes (as ``tile_edges`` orders them) into few: first along each
    tile row, then down from one tile row to the next, then overlapping ones."""
    rows: dict[int, list[Edges]] = {}
    for box in boxes:
        row = rows.setdefault(box[1] // TILE_SIZE, [])
        if row:
            last = row[-1]
            neighbours = box[0] // TILE_SIZE == (last[2] - 1) // TILE_SIZE + 1
            if neighbours and _worth_merging(last, box):
                row[-1] = _union(last, box)
                continue
        row.append(box)

    merged: list[Edges] = []
    open_boxes: list[Edges] = []  # boxes reaching into the previous tile row
    previous_row = -2
    for tile_row in sorted(rows):
        if tile_row != previous_row + 1:
            merged.extend(open_boxes)
            open_boxes = []
        touched: list[Edges] = []  # this row's boxes, merged or not
        for box in rows[tile_row]:
            if not _merge_into(touched, box) and not _merge_into(open_boxes, box, touched):
                touched.append(box)
        merged.extend(open_boxes)
        open_boxes = touched
        previous_row = tile_row
    merged.extend(open_boxes)
    merged = _tidy(merged)
    merged.sort(key=lambda box: (box[1], box[0]))
    return merged


def merge_boxes(boxes: list[Rect]) -> list[Rect]:
    """``merge_edges`` for rectangles."""
    edges = [(box.x, box.y, box.right, box.bottom) for box in boxes]
    return [Rect(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in merge_edges(edges)]


def changed_rects(previous: Picture, current: Picture) -> list[Rect]:
    """Rectangles covering every pixel that differs (all four bytes compared), few and
    tight; empty when the pictures are equal. The pictures must have the same shape."""
    merged = merge_edges(tile_edges(changed_mask(previous, current)))
    return [Rect(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in merged]


# Scroll detection -------------------------------------------------------------------


def _mix64(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser: fixed, well-spread constants without an RNG."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


# One odd multiplier per pixel (or pixel pair) of a row: a row's hash is the sum of its
# pixels times these, modulo 2**64. Collisions only cost bytes: the encoder re-checks
# every pixel after applying a scroll.
_WEIGHTS = _mix64(np.arange(1, limits.MAX_SCREEN_SIDE + 1, dtype=np.uint64)) | np.uint64(1)


def _row_hashes(pixels: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """A 64-bit hash of each row of a (rows, width) block of pixels."""
    width = pixels.shape[1]
    if width % 2 == 0 and pixels.strides[0] % 8 == 0 and pixels.ctypes.data % 8 == 0:
        pairs = pixels.view(np.uint64)  # half as many multiplications
        hashes: NDArray[np.uint64] = pairs @ _WEIGHTS[: width // 2]
    else:
        hashes = pixels.astype(np.uint64) @ _WEIGHTS[:width]
    return hashes


def find_vertical_scroll(previous: Picture, current: Picture, area: Rect) -> Scroll | None:
    """A band of ``area`` (in ``current``) that is a vertically shifted copy of
    ``previous``, or None. Its columns may reach one pixel past ``area`` on each side."""
    _check_pair(previous, current)
    height, width = current.shape[:2]
    if area.x < 0 or area.y < 0 or area.right > width or area.bottom > height:
        raise ValueError(f"{area} is not inside the {width}x{height} picture")
    if area.height < MIN_SCROLL_HEIGHT or area.area < MIN_SCROLL_AREA:
        return None
    # Even column edges (and an even picture width) let rows be hashed as aligned uint64
    # pixel pairs, several times faster than one pixel at a time.
    x0, x1 = area.x - area.x % 2, min(width, area.right + area.right % 2)
    old_hashes = _row_hashes(pixels32(previous)[:, x0:x1])
    new_hashes = _row_hashes(pixels32(current)[area.y : area.bottom, x0:x1])
    ys = np.arange(area.y, area.bottom)

    # Rows whose content occurs exactly once in the previous picture vote for a shift.
    unique, first, counts = np.unique(old_hashes, return_index=True, return_counts=True)
    position = np.minimum(np.searchsorted(unique, new_hashes), unique.size - 1)
    voters = (
        (unique[position] == new_hashes)
        & (counts[position] == 1)
        & (new_hashes != old_hashes[area.y : area.bottom])
    )
    if np.count_nonzero(voters) < MIN_SCROLL_VOTES:
        return None
    shifts, votes = np.unique(first[position[voters]] - ys[voters], return_counts=True)
    best = int(votes.argmax())
    if votes[best] < MIN_SCROLL_VOTES:
        return None
    dy = int(shifts[best])

    # The longest stretch of rows matching under that shift, bridging short gaps.
    sources = ys + dy
    inside = (sources >= 0) & (sources < height)
    matches = np.zeros(ys.size, np.bool_)
    matches[inside] = new_hashes[inside] == old_hashes[sources[inside]]
    matching = np.flatnonzero(matches).tolist()
    best_start = best_end = start = end = matching[0]
    for row in matching[1:]:
        if row - end > MAX_SCROLL_GAP:
            start = row
        end = row
        if end - start > best_end - best_start:
            best_start, best_end = start, end
    band = Rect(x0, area.y + best_start, x1 - x0, best_end - best_start + 1)
    if band.height < MIN_SCROLL_HEIGHT:
        return None
    return Scroll(band, band.y + dy)
