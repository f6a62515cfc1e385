"""codec: encode_update round-trips through the wire format into a FrameBuffer exactly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from PIL import Image
from screen_helpers import blank, noise, pixel, text_like

from relaydesk import limits
from relaydesk.protocol.frames import FrameType
from relaydesk.protocol.messages import ScreenUpdate, TileEncoding, decode, encode
from relaydesk.screen.codec import (
    CHUNK_BYTES,
    SEALING_OVERHEAD,
    Move,
    encode_tile,
    encode_update,
    encoded_size,
    small_change_tiles,
)
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.glyphs import MAX_PATCH_PIXELS, find_patch, split_columns
from relaydesk.screen.picture import Picture, Rect

SMALLEST_BODY = 160  # room for one pixel of RAW and a little more


def over_the_wire(updates: list[ScreenUpdate], max_body: int) -> list[ScreenUpdate]:
    """Each update as the viewer decodes it, after checking its size once sealed."""
    received = []
    for update in updates:
        body = encode(update)
        assert len(body) == encoded_size(update)
        assert len(body) + SEALING_OVERHEAD <= max_body
        assert 1 <= len(update.tiles) <= limits.MAX_TILES_PER_UPDATE
        assert sum(t.width * t.height for t in update.tiles) <= (
            limits.MAX_UPDATE_AREA_FACTOR * update.width * update.height
        )
        message = decode(FrameType.SCREEN_UPDATE, body)
        assert message == update
        assert isinstance(message, ScreenUpdate)
        received.append(message)
    return received


def assert_same_picture(viewer: FrameBuffer, picture: Picture) -> None:
    np.testing.assert_array_equal(viewer.picture[:, :, :3], picture[:, :, :3])


def play(
    viewer: FrameBuffer, previous: Picture | None, current: Picture, max_body: int
) -> list[ScreenUpdate]:
    updates = over_the_wire(encode_update(previous, current, max_body), max_body)
    for update in updates:
        viewer.apply(update)
    return updates


# Round trips -------------------------------------------------------------------------


@st.composite
def screen_changes(draw: st.DrawFn) -> tuple[Picture, Picture]:
    """A previous picture and a current one: rectangles painted over, perhaps a band
    scrolled, on noise, flat colour or text-like content."""
    width = draw(st.integers(1, 200))
    height = draw(st.integers(1, 150))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["text", "noise", "flat"]))
    if kind == "noise":
        previous = noise(width, height, seed)
    elif kind == "flat":
        previous = blank(width, height, draw(st.integers(0, 0xFFFFFF)))
    else:
        previous = text_like(width, height, seed)
    current = previous.copy()
    if draw(st.integers(0, 2)) and height > 2:  # a scroll, two times in three
        top = draw(st.integers(0, height - 2))
        bottom = draw(st.integers(top + 2, height))
        dy = draw(st.integers(1, bottom - top - 1))
        current[top : bottom - dy] = previous[top + dy : bottom]
    rng = np.random.default_rng(seed)
    for _ in range(draw(st.integers(1, 4))):
        x = draw(st.integers(0, width - 1))
        y = draw(st.integers(0, height - 1))
        w = draw(st.integers(1, width - x))
        h = draw(st.integers(1, height - y))
        if draw(st.booleans()):
            current[y : y + h, x : x + w] = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        else:
            current[y : y + h, x : x + w] = pixel(draw(st.integers(0, 0xFFFFFF)))
    return previous, current


@given(screen_changes(), st.sampled_from([SMALLEST_BODY, 700, 5000, limits.MAX_FRAME_BODY]))
def test_round_trip(pair: tuple[Picture, Picture], max_body: int) -> None:
    previous, current = pair
    viewer = FrameBuffer()
    first = play(viewer, None, previous, max_body)
    assert first[0].full and not any(update.full for update in first[1:])
    assert_same_picture(viewer, previous)
    updates = play(viewer, previous, current, max_body)
    assert not any(update.full for update in updates)
    assert_same_picture(viewer, current)
    encodings = {tile.encoding.name for update in updates for tile in update.tiles}
    event(f"encodings: {', '.join(sorted(encodings)) or 'none'}")
    if np.array_equal(previous, current):
        assert updates == []


@st.composite
def scrolled_text(draw: st.DrawFn) -> tuple[Picture, Picture]:
    """Text-like content with a band scrolled up or down, new rows and perhaps a cursor."""
    width = draw(st.integers(64, 240))
    height = draw(st.integers(64, 200))
    previous = text_like(width, height, draw(st.integers(0, 2**32 - 1)))
    current = previous.copy()
    top = draw(st.integers(0, height - 40))
    bottom = draw(st.integers(top + 40, height))
    dy = draw(st.integers(1, (bottom - top) // 2))
    if draw(st.booleans()):
        current[top : bottom - dy] = previous[top + dy : bottom]
        new_rows = slice(bottom - dy, bottom)
    else:
        current[top + dy : bottom] = previous[top : bottom - dy]
        new_rows = slice(top, top + dy)
    current[new_rows] = text_like(width, dy, draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        x = draw(st.integers(0, width - 8))
        y = draw(st.integers(0, height - 17))
        current[y : y + 17, x : x + 8] = pixel(0x000000)
    return previous, current


@given(scrolled_text(), st.sampled_from([SMALLEST_BODY, 2000, limits.MAX_FRAME_BODY]))
def test_round_trip_of_scrolls(pair: tuple[Picture, Picture], max_body: int) -> None:
    previous, current = pair
    viewer = FrameBuffer()
    play(viewer, None, previous, max_body)
    updates = play(viewer, previous, current, max_body)
    assert_same_picture(viewer, current)
    copies = [t for u in updates for t in u.tiles if t.encoding is TileEncoding.COPY]
    # At most one scrolled band, the very first tile; small COPYs are glyphs found elsewhere.
    bands = [t for t in copies if t.width * t.height > MAX_PATCH_PIXELS]
    assert len(bands) <= 1
    if bands:
        assert updates[0].tiles[0] is bands[0]
    event(f"COPY tiles: {len(bands)} bands, {len(copies) - len(bands)} glyphs")


@st.composite
def typed_text(draw: st.DrawFn) -> tuple[Picture, Picture]:
    """A terminal full of text where a character is typed: the block cursor's cell gets a
    glyph (one of the screen's, or a new one) and the cursor moves one cell right."""
    columns, rows = draw(st.integers(4, 40)), draw(st.integers(2, 20))
    previous = text_like(columns * 8, rows * 17, draw(st.integers(0, 2**32 - 1)))
    row, column = draw(st.integers(0, rows - 1)), draw(st.integers(0, columns - 2))
    y, x = row * 17, column * 8
    previous[y : y + 17, x : x + 16] = pixel(0xFFFFFF)
    previous[y : y + 17, x : x + 8] = pixel(0x000000)  # the cursor
    current = previous.copy()
    if draw(st.booleans()):  # a glyph from elsewhere on the screen
        source_y = draw(st.integers(0, rows - 1)) * 17
        source_x = draw(st.integers(0, columns - 1)) * 8
        current[y : y + 17, x : x + 8] = previous[source_y : source_y + 17, source_x : source_x + 8]
    else:
        current[y + 2 : y + 15, x + 1 : x + 7] = noise(6, 13, draw(st.integers(0, 255)))
    current[y : y + 17, x + 8 : x + 16] = pixel(draw(st.sampled_from([0, 0x336699])))
    return previous, current


@given(typed_text(), st.sampled_from([SMALLEST_BODY, 700, limits.MAX_FRAME_BODY]))
def test_round_trip_of_typing(pair: tuple[Picture, Picture], max_body: int) -> None:
    previous, current = pair
    viewer = FrameBuffer()
    play(viewer, None, previous, max_body)
    updates = play(viewer, previous, current, max_body)
    assert_same_picture(viewer, current)
    encodings = [tile.encoding.name for update in updates for tile in update.tiles]
    event(f"encodings: {', '.join(encodings) or 'none'}")


@st.composite
def moved_windows(draw: st.DrawFn) -> tuple[Picture, Picture, list[Move]]:
    """A window of text moved on a flat desktop, perhaps changed or covered after, and
    hints that may be right, stale or nonsense (past the edges, of another size)."""
    width, height = draw(st.integers(64, 200)), draw(st.integers(64, 150))
    previous = blank(width, height, 0x3A6EA5)
    w, h = draw(st.integers(8, width)), draw(st.integers(8, height))
    window = text_like(w, h, draw(st.integers(0, 2**32 - 1)))
    x0, y0 = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
    x1, y1 = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
    previous[y0 : y0 + h, x0 : x0 + w] = window
    current = blank(width, height, 0x3A6EA5)
    current[y1 : y1 + h, x1 : x1 + w] = window
    if draw(st.booleans()):  # something drawn over part of it afterwards
        current[y1 : y1 + h // 2, x1 : x1 + w // 3] = pixel(draw(st.integers(0, 0xFFFFFF)))
    hints = [Move(Rect(x1, y1, w, h), x0, y0)] if draw(st.booleans()) else []
    coordinates = st.integers(-300, 300)
    for _ in range(draw(st.integers(0, 2))):
        rect = Rect(draw(coordinates), draw(coordinates), draw(st.integers(1, 300)),
                    draw(st.integers(1, 300)))  # fmt: skip
        hints.append(Move(rect, draw(coordinates), draw(coordinates)))
    return previous, current, hints


@given(moved_windows(), st.sampled_from([SMALLEST_BODY, 700, limits.MAX_FRAME_BODY]))
def test_round_trip_of_moved_windows(
    case: tuple[Picture, Picture, list[Move]], max_body: int
) -> None:
    """Whatever the hints say, the viewer ends with exactly the current picture."""
    previous, current, hints = case
    viewer = FrameBuffer()
    play(viewer, None, previous, max_body)
    updates = over_the_wire(encode_update(previous, current, max_body, moves=hints), max_body)
    for update in updates:
        viewer.apply(update)
    assert_same_picture(viewer, current)
    encodings = [tile.encoding.name for update in updates for tile in update.tiles]
    event(f"first tile: {encodings[0] if encodings else 'none'}")


def test_a_typed_glyph_found_elsewhere_goes_as_copy_and_the_cursor_as_fill() -> None:
    previous = text_like(320, 170, 11)
    y, x = 153, 160  # the last row, away from the text
    previous[y:, x : x + 16] = pixel(0xFFFFFF)
    previous[y:, x : x + 8] = pixel(0x000000)
    current = previous.copy()
    ink = (previous[:, :, 0] < 0xFF).reshape(10, 17, 40, 8).any(axis=(1, 3))
    row, column = (int(n) for n in np.argwhere(ink)[0])  # a cell with a glyph
    current[y:, x : x + 8] = previous[row * 17 : row * 17 + 17, column * 8 : column * 8 + 8]
    current[y:, x + 8 : x + 16] = pixel(0x000000)
    [update] = encode_update(previous, current)
    copy, fill = update.tiles
    assert copy.encoding is TileEncoding.COPY and (copy.x, copy.y, copy.width) == (x, y, 8)
    source_x, source_y = struct.unpack(">II", copy.data)
    np.testing.assert_array_equal(
        previous[source_y : source_y + 17, source_x : source_x + 8], current[y:, x : x + 8]
    )
    assert fill.encoding is TileEncoding.FILL and fill.data == bytes(3)
    assert (fill.x, fill.y, fill.width, fill.height) == (x + 8, y, 8, 17)
    viewer = FrameBuffer()
    play(viewer, None, previous, limits.MAX_FRAME_BODY)
    play(viewer, previous, current, limits.MAX_FRAME_BODY)
    assert_same_picture(viewer, current)


def test_a_copy_never_reads_what_an_earlier_update_repainted() -> None:
    """A COPY reads the picture as it was before its own update: when a picture's changes
    are split over several updates, no piece is copied from a place they repaint (found
    by hypothesis: the piece came out wrong on the viewer)."""
    previous = noise(67, 5, 1)
    current = previous.copy()
    current[:, :3] = noise(3, 5, 2)  # repainted, over the first updates
    current[0, 64:] = previous[0, 2:5]  # its only match overlaps the repainted columns
    viewer = FrameBuffer()
    play(viewer, None, previous, SMALLEST_BODY)
    updates = play(viewer, previous, current, SMALLEST_BODY)
    assert len(updates) > 1
    assert_same_picture(viewer, current)
    far = current.copy()
    far[0, 64:] = previous[4, 40:43]  # a match nothing repaints: copied as before
    viewer = FrameBuffer()
    play(viewer, None, previous, SMALLEST_BODY)
    updates = play(viewer, previous, far, SMALLEST_BODY)
    assert any(tile.encoding is TileEncoding.COPY for update in updates for tile in update.tiles)
    assert_same_picture(viewer, far)


def test_a_new_glyph_goes_as_one_tile_when_that_is_smaller() -> None:
    previous = text_like(320, 170, 12)
    current = previous.copy()
    current[150:167, 300:316] = noise(16, 17, 4)  # nowhere else, several colours
    [update] = encode_update(previous, current)
    [tile] = update.tiles
    assert tile.encoding in {TileEncoding.ZLIB, TileEncoding.RAW}


def test_a_small_change_in_many_pieces_goes_as_one_tile() -> None:
    """Stripes: many runs of columns, each a search; bounded by MAX_PIECES."""
    previous = text_like(320, 170, 14)
    current = previous.copy()
    for x in range(100, 164, 8):
        current[150:167, x : x + 4] = pixel(0x000000)
        current[150:167, x + 4 : x + 8] = previous[0:17, x : x + 4]
    [update] = encode_update(previous, current)
    assert len(update.tiles) == 1
    assert update.tiles[0].encoding not in {TileEncoding.COPY, TileEncoding.FILL}
    assert len(small_change_tiles(previous, current, Rect(100, 150, 64, 17))) == 1


def test_split_columns_and_find_patch() -> None:
    picture = text_like(160, 68, 13)
    picture[0:17, 0:8] = pixel(0x000000)
    picture[0:17, 8:24] = pixel(0x112233)
    pieces = split_columns(picture, Rect(0, 0, 40, 17))
    assert [(p.rect.x, p.rect.width, p.colour) for p in pieces][:2] == [
        (0, 8, bytes(3)),
        (8, 16, bytes([0x33, 0x22, 0x11])),
    ]
    assert all(p.colour is None or p.rect.width for p in pieces)
    assert sum(p.rect.width for p in pieces) == 40
    # A piece is found where its pixels are; a one-colour or too large piece is not looked for.
    current = picture.copy()
    current[51:68, 152:160] = picture[17:34, 40:48]
    found = find_patch(picture, current, Rect(152, 51, 8, 17))
    assert found is not None
    fx, fy = found
    np.testing.assert_array_equal(picture[fy : fy + 17, fx : fx + 8], current[51:68, 152:160])
    assert find_patch(picture, picture, Rect(0, 0, 8, 17)) is None  # one colour
    assert find_patch(picture, picture, Rect(0, 0, 64, 17)) is None  # larger than a glyph
    current[51:68, 152:160] = noise(8, 17, 9)
    assert find_patch(picture, current, Rect(152, 51, 8, 17)) is None


def test_identical_pictures_give_no_update() -> None:
    picture = text_like(300, 200, 1)
    assert encode_update(picture, picture.copy()) == []


def test_first_picture_is_full_and_split_as_needed() -> None:
    picture = noise(64, 48, 1)  # incompressible: 12 KiB
    updates = encode_update(None, picture, 1000)
    assert len(updates) > 12
    assert [update.full for update in updates] == [True] + [False] * (len(updates) - 1)
    assert all(update.width == 64 and update.height == 48 for update in updates)
    viewer = FrameBuffer()
    for update in over_the_wire(updates, 1000):
        viewer.apply(update)
    assert_same_picture(viewer, picture)


def test_size_change_gives_a_full_picture() -> None:
    viewer = FrameBuffer()
    play(viewer, None, text_like(100, 80, 1), limits.MAX_FRAME_BODY)
    bigger = text_like(120, 90, 2)
    updates = play(viewer, text_like(100, 80, 1), bigger, limits.MAX_FRAME_BODY)
    assert updates[0].full and (updates[0].width, updates[0].height) == (120, 90)
    assert_same_picture(viewer, bigger)


def test_whole_screen_fits_one_update_when_it_compresses() -> None:
    picture = text_like(1920, 1080, 1)
    updates = encode_update(None, picture)
    assert len(updates) == 1
    tiles = updates[0].tiles
    assert all(t.width * t.height * 4 <= CHUNK_BYTES for t in tiles)
    assert {t.encoding for t in tiles} == {TileEncoding.PNG}  # grey text: greyscale PNG


def test_small_change_is_one_small_tile() -> None:
    previous = text_like(640, 480, 4)
    current = previous.copy()
    current[100:117, 200:208] = pixel(0x000000)
    [update] = encode_update(previous, current)
    [tile] = update.tiles
    assert (tile.x, tile.y, tile.width, tile.height) == (200, 100, 8, 17)


def test_noise_goes_raw_and_flat_goes_fill() -> None:
    raw = encode_tile(noise(32, 32, 1), Rect(0, 0, 32, 32))
    assert raw.encoding is TileEncoding.RAW and len(raw.data) == 32 * 32 * 4
    flat = encode_tile(blank(32, 32, 0x336699), Rect(0, 0, 32, 32))
    assert flat.encoding is TileEncoding.FILL
    assert flat.data == bytes([0x99, 0x66, 0x33])  # blue, green, red
    # One pixel of another colour: not a FILL any more.
    picture = blank(32, 32, 0x336699)
    picture[31, 31] = pixel(0x336698)
    assert encode_tile(picture, Rect(0, 0, 32, 32)).encoding is TileEncoding.ZLIB
    # A large flat rectangle is still 3 bytes.
    big = blank(1920, 136, 0xFFFFFF)
    assert encode_tile(big, Rect(0, 0, 1920, 136)).data == b"\xff\xff\xff"


def test_small_grey_text_goes_zlib_grey() -> None:
    """A typed glyph and the cursor: one byte a pixel, zlib, without PNG's framing."""
    picture = text_like(16, 17, 5)
    tile = encode_tile(picture, Rect(0, 0, 16, 17))
    assert tile.encoding is TileEncoding.ZLIB_GREY
    assert zlib.decompress(tile.data) == picture[:, :, 0].tobytes()
    assert len(tile.data) < len(zlib.compress(picture.tobytes(), 6))


def test_grey_text_goes_greyscale_png() -> None:
    picture = text_like(200, 100, 3)
    tile = encode_tile(picture, Rect(0, 0, 200, 100))
    assert tile.encoding is TileEncoding.PNG
    with Image.open(io.BytesIO(tile.data)) as image:
        assert image.mode == "L" and image.size == (200, 100)
        np.testing.assert_array_equal(np.asarray(image), picture[:, :, 0])
    assert len(tile.data) < len(zlib.compress(picture.tobytes(), 6))


def test_png_can_be_turned_off() -> None:
    picture = text_like(200, 100, 3)
    tile = encode_tile(picture, Rect(0, 0, 200, 100), png=False)
    assert tile.encoding is TileEncoding.ZLIB
    updates = encode_update(None, picture, png=False)
    assert {t.encoding for u in updates for t in u.tiles} == {TileEncoding.ZLIB}
    # Nor FILL or ZLIB_GREY: RAW, ZLIB and COPY only.
    flat = encode_tile(blank(32, 32, 0x336699), Rect(0, 0, 32, 32), png=False)
    assert flat.encoding is TileEncoding.ZLIB
    small = encode_tile(text_like(16, 17, 5), Rect(0, 0, 16, 17), png=False)
    assert small.encoding in {TileEncoding.ZLIB, TileEncoding.RAW}


def test_coloured_text_goes_zlib() -> None:
    picture = text_like(200, 100, 3)
    picture[:, :, 2] |= 0x80  # red tint: not grey any more
    assert encode_tile(picture, Rect(0, 0, 200, 100)).encoding is TileEncoding.ZLIB


def test_scroll_is_sent_as_copy_and_new_rows() -> None:
    previous = text_like(640, 476, 9)
    current = previous.copy()
    current[: 476 - 17] = previous[17:]
    current[476 - 17 :] = pixel(0xFFFFFF)
    current[476 - 15 : 476 - 2, 1:7] = pixel(0x202020)  # a new line with one glyph
    viewer = FrameBuffer()
    play(viewer, None, previous, limits.MAX_FRAME_BODY)
    [update] = play(viewer, previous, current, limits.MAX_FRAME_BODY)
    assert_same_picture(viewer, current)
    copy, *rest = update.tiles
    assert copy.encoding is TileEncoding.COPY
    assert struct.unpack(">II", copy.data) == (copy.x, copy.y + 17)
    assert copy.height >= 476 - 2 * 17
    assert sum(len(tile.data) for tile in rest) < 2000


def _window_moved(dx: int, dy: int, shown: bool = True) -> tuple[Picture, Picture, Rect]:
    """A text window on a flat desktop, then the same window ``dx``, ``dy`` away (its old
    place uncovered); the window's new rectangle."""
    previous = blank(640, 480, 0x3A6EA5)
    window = text_like(200, 150, 4)
    previous[100:250, 120:320] = window
    current = blank(640, 480, 0x3A6EA5)
    moved = Rect(120 + dx, 100 + dy, 200, 150)
    shown_part = moved.intersection(Rect(0, 0, 640, 480))
    assert shown_part is not None
    if shown:
        part = window[shown_part.y - moved.y : shown_part.bottom - moved.y,
                      shown_part.x - moved.x : shown_part.right - moved.x]  # fmt: skip
        current[shown_part.slices()] = part
    return previous, current, moved


@pytest.mark.parametrize(("dx", "dy"), [(37, 21), (-90, 5), (0, -60), (400, 280)])
def test_a_moved_window_goes_as_one_copy_and_what_it_uncovered(dx: int, dy: int) -> None:
    """The window manager says a window moved: one COPY from its old place, cut to the
    screen when it went past an edge, then the uncovered desktop (FILL)."""
    previous, current, moved = _window_moved(dx, dy)
    viewer = FrameBuffer()
    play(viewer, None, previous, limits.MAX_FRAME_BODY)
    hint = Move(moved, 120, 100)
    updates = over_the_wire(encode_update(previous, current, moves=[hint]), limits.MAX_FRAME_BODY)
    for update in updates:
        viewer.apply(update)
    assert_same_picture(viewer, current)
    copy, *rest = [tile for update in updates for tile in update.tiles]
    assert copy.encoding is TileEncoding.COPY
    assert (copy.x - dx, copy.y - dy) == struct.unpack(">II", copy.data)
    assert all(tile.encoding is not TileEncoding.COPY for tile in rest)
    sent = sum(len(encode(update)) for update in updates)
    if dx:  # (a vertical move is found as a scroll without the hint)
        unhinted = sum(len(encode(update)) for update in encode_update(previous, current))
        assert sent * 20 < unhinted
    assert sent < 100  # the COPY and the uncovered desktop as FILL pieces


def test_a_wrong_move_hint_costs_bytes_never_a_wrong_pixel() -> None:
    """The window closed instead (or the hint is stale): its COPY would not match, so
    none is sent and the picture is still exact."""
    previous, current, moved = _window_moved(37, 21, shown=False)
    viewer = FrameBuffer()
    play(viewer, None, previous, limits.MAX_FRAME_BODY)
    hints = [Move(moved, 120, 100), Move(Rect(700, 500, 50, 50), 0, 0)]  # one off screen
    for update in encode_update(previous, current, moves=hints):
        viewer.apply(update)
        assert all(tile.encoding is not TileEncoding.COPY for tile in update.tiles)
    assert_same_picture(viewer, current)


def test_move_on_screen_keeps_source_and_destination_on_the_screen() -> None:
    move = Move(Rect(600, -10, 100, 50), 500, 20)  # past the right and top edges
    assert move.on_screen(640, 480) == Move(Rect(600, 0, 40, 40), 500, 30)
    assert Move(Rect(10, 10, 100, 100), 600, 10).on_screen(640, 480) == Move(
        Rect(10, 10, 40, 100), 600, 10
    )  # the source reached past the right edge
    assert Move(Rect(10, 10, 50, 50), 700, 10).on_screen(640, 480) is None


def test_copy_comes_first_when_split() -> None:
    previous = text_like(320, 240, 10)
    current = previous.copy()
    current[: 240 - 34] = previous[34:]
    current[240 - 34 :] = noise(320, 34, 3)  # new rows that need many updates
    viewer = FrameBuffer()
    play(viewer, None, previous, 600)
    updates = play(viewer, previous, current, 600)
    assert len(updates) > 1
    assert updates[0].tiles[0].encoding is TileEncoding.COPY
    copies = [t for u in updates for t in u.tiles if t.encoding is TileEncoding.COPY]
    assert len(copies) == 1
    assert_same_picture(viewer, current)


def test_wide_rows_are_cut_when_a_row_does_not_fit() -> None:
    picture = noise(300, 2, 1)
    updates = over_the_wire(encode_update(None, picture, 400), 400)
    assert all(t.height == 1 and t.width < 300 for u in updates for t in u.tiles)
    viewer = FrameBuffer()
    for update in updates:
        viewer.apply(update)
    assert_same_picture(viewer, picture)


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (np.zeros((4, 4, 3), np.uint8), "shape"),
        (np.zeros((4, 4, 4), np.uint16), "uint8"),
        (np.zeros((0, 4, 4), np.uint8), "pixels on each side"),
        (np.zeros((4, 8, 4), np.uint8)[:, ::2], "C-contiguous"),
    ],
)
def test_not_a_picture(picture: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_update(None, picture)


def test_body_too_small_and_bad_level() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        encode_update(None, blank(4, 4), 100)
    with pytest.raises(ValueError, match="zlib level"):
        encode_update(None, blank(4, 4), level=10)
