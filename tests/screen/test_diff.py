"""diff: changed rectangles are complete and tight; scrolls are found; real X changes."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from screen_helpers import Drawing, blank, noise, pixel, text_like, wait_for

from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.diff import (
    MIN_SCROLL_HEIGHT,
    TILE_SIZE,
    changed_mask,
    changed_rects,
    find_vertical_scroll,
    merge_boxes,
)
from relaydesk.screen.picture import Picture, Rect


def covered(rects: list[Rect], width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    for rect in rects:
        mask[rect.slices()] = True
    return mask


def differs(previous: Picture, current: Picture) -> np.ndarray:
    different: np.ndarray = np.any(previous != current, axis=2)
    return different


def test_equal_pictures_have_no_change() -> None:
    picture = noise(130, 70, 1)
    assert changed_rects(picture, picture.copy()) == []


def test_one_pixel() -> None:
    previous = blank(200, 100)
    current = previous.copy()
    current[70, 130, 1] ^= 1
    assert changed_rects(previous, current) == [Rect(130, 70, 1, 1)]


def test_unused_byte_counts_as_a_change() -> None:
    previous = blank(10, 10)
    current = previous.copy()
    current[3, 4, 3] = 0
    assert changed_rects(previous, current) == [Rect(4, 3, 1, 1)]


def test_exact_box_across_tile_corners() -> None:
    """A change straddling four tiles comes back as exactly its own rectangle."""
    previous = blank(300, 200)
    current = previous.copy()
    current[60:70, 60:75] = pixel(0x000000)
    assert changed_rects(previous, current) == [Rect(60, 60, 15, 10)]


def test_glyph_cell_and_cursor_are_one_rectangle() -> None:
    """Typing: a glyph appears where the cursor was, the cursor moves one cell right."""
    previous = text_like(400, 200, 3)
    previous[119:136, 120:128] = pixel(0x000000)  # block cursor
    current = previous.copy()
    current[119:136, 120:128] = pixel(0xFFFFFF)
    current[121:134, 121:127] = pixel(0x404040)  # the glyph typed
    current[119:136, 128:136] = pixel(0x000000)  # the cursor, one cell on
    assert changed_rects(previous, current) == [Rect(120, 119, 16, 17)]


def test_distant_changes_stay_apart() -> None:
    previous = blank(640, 480)
    current = previous.copy()
    current[5:9, 600:630] = 0  # a clock in a corner
    current[400:417, 16:24] = 0  # a cursor far away
    assert changed_rects(previous, current) == [Rect(600, 5, 30, 4), Rect(16, 400, 8, 17)]


def test_full_change_is_one_rectangle() -> None:
    previous, current = noise(333, 211, 1), noise(333, 211, 2)
    assert changed_rects(previous, current) == [Rect(0, 0, 333, 211)]


def test_mask_is_padded_to_whole_tiles() -> None:
    previous = blank(65, 1)
    current = previous.copy()
    current[0, 64] = 0
    mask = changed_mask(previous, current)
    assert mask.shape == (TILE_SIZE, 2 * TILE_SIZE)
    assert np.flatnonzero(mask).tolist() == [64]


def test_different_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        changed_rects(blank(10, 10), blank(10, 11))


def test_merge_of_nothing() -> None:
    assert merge_boxes([]) == []


@st.composite
def changed_pairs(draw: st.DrawFn) -> tuple[Picture, Picture]:
    width = draw(st.integers(1, 200))
    height = draw(st.integers(1, 200))
    previous = noise(width, height, draw(st.integers(0, 2**32 - 1)))
    current = previous.copy()
    for _ in range(draw(st.integers(0, 6))):
        x = draw(st.integers(0, width - 1))
        y = draw(st.integers(0, height - 1))
        w = draw(st.integers(1, width - x))
        h = draw(st.integers(1, height - y))
        current[y : y + h, x : x + w] ^= np.uint8(draw(st.integers(1, 255)))
    return previous, current


@given(changed_pairs())
def test_rectangles_cover_every_change_and_stay_inside(pair: tuple[Picture, Picture]) -> None:
    previous, current = pair
    height, width = current.shape[:2]
    rects = changed_rects(previous, current)
    change = differs(previous, current)
    assert not (change & ~covered(rects, width, height)).any()
    for rect in rects:
        assert rect.width > 0 and rect.height > 0
        assert rect.x >= 0 and rect.y >= 0
        assert rect.right <= width and rect.bottom <= height
        # Tight: every rectangle's edges touch a changed pixel.
        inside = change[rect.slices()]
        assert inside[0].any() and inside[-1].any()
        assert inside[:, 0].any() and inside[:, -1].any()
    if not change.any():
        assert rects == []


# Scrolls -----------------------------------------------------------------------------


def scrolled(picture: Picture, top: int, bottom: int, dy: int) -> Picture:
    """Rows top..bottom move up by dy (content from below), new rows blank."""
    current = picture.copy()
    current[top : bottom - dy] = picture[top + dy : bottom]
    current[bottom - dy : bottom] = pixel(0xFFFFFF)
    return current


@pytest.mark.parametrize("dy", [1, 17, 34, 160])
def test_scroll_up_is_found(dy: int) -> None:
    previous = text_like(320, 240, 5)
    current = scrolled(previous, 0, 240, dy)
    area = Rect(0, 0, 320, 240)
    scroll = find_vertical_scroll(previous, current, area)
    assert scroll is not None
    assert scroll.dy == dy
    band = scroll.rect
    source = Rect(band.x, scroll.src_y, band.width, band.height)
    np.testing.assert_array_equal(current[band.slices()], previous[source.slices()])
    assert band.height >= 240 - dy - 17  # all moved rows but perhaps the last line


def test_scroll_down_is_found() -> None:
    previous = text_like(320, 240, 6)
    current = previous.copy()
    current[34:] = previous[:-34]
    scroll = find_vertical_scroll(previous, current, Rect(0, 0, 320, 240))
    assert scroll is not None and scroll.dy == -34


def test_scroll_bridges_a_changed_cursor_line() -> None:
    previous = text_like(320, 238, 7)
    current = scrolled(previous, 0, 238, 17)
    current[170:187, 40:48] = pixel(0x000000)  # a cursor that differs from the source
    scroll = find_vertical_scroll(previous, current, Rect(0, 0, 320, 238))
    assert scroll is not None and scroll.dy == 17
    assert scroll.rect.y <= 170 and scroll.rect.bottom >= 187


def test_no_scroll_in_unrelated_content() -> None:
    previous, current = noise(200, 200, 1), noise(200, 200, 2)
    assert find_vertical_scroll(previous, current, Rect(0, 0, 200, 200)) is None


def test_no_scroll_in_small_areas() -> None:
    previous = text_like(320, 240, 5)
    current = scrolled(previous, 0, 240, 17)
    area = Rect(0, 0, 320, MIN_SCROLL_HEIGHT - 1)
    assert find_vertical_scroll(previous, current, area) is None


def test_area_outside_the_picture() -> None:
    picture = blank(100, 100)
    with pytest.raises(ValueError, match="not inside"):
        find_vertical_scroll(picture, picture, Rect(50, 0, 51, 100))


def test_odd_width_area_at_the_right_edge() -> None:
    previous = text_like(321, 240, 8)
    current = scrolled(previous, 0, 240, 17)
    scroll = find_vertical_scroll(previous, current, Rect(0, 0, 321, 240))
    assert scroll is not None and scroll.dy == 17 and scroll.rect.right == 321


# Real X clients ----------------------------------------------------------------------


def test_real_change_is_found_exactly(drawing: Drawing, capture: ScreenCapture) -> None:
    drawing.background(0x336699)
    drawing.rectangle(300, 200, 50, 50, 0x223344)
    before = wait_for(capture, lambda p: bool((p[200, 300] == pixel(0x223344)).all()))
    drawing.rectangle(100, 100, 10, 10, 0xFFCC00)
    after = wait_for(capture, lambda p: bool((p[100, 100] == pixel(0xFFCC00)).all()))
    assert changed_rects(before, after) == [Rect(100, 100, 10, 10)]


def test_typing_in_xterm_changes_one_small_rectangle(
    drawing: Drawing, capture: ScreenCapture
) -> None:
    if shutil.which("xterm") is None or shutil.which("xdotool") is None:
        pytest.skip("xterm and xdotool are needed")
    drawing.start(
        "xterm", "-geometry", "60x10+0+0", "-fa", "Monospace", "-fs", "10",
        "-bg", "white", "-fg", "black", "-T", "relaydesk-typing", "-e", "cat",
    )  # fmt: skip
    window = ""
    deadline = time.monotonic() + 10
    while not window and time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "relaydesk-typing"],
            env=drawing.server.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        window = found.stdout.split("\n", 1)[0].strip()
        time.sleep(0.05)
    assert window, "the xterm window did not appear"
    drawing.run("xdotool", "windowfocus", "--sync", window)
    before = wait_for(capture, lambda p: bool((p[100, 300] == 0xFF).all()))
    drawing.run("xdotool", "type", "x")
    after = wait_for(capture, lambda p: not np.array_equal(p, before))
    rects = changed_rects(before, after)
    assert len(rects) == 1
    # The glyph cell and the cursor cell: two cells of one line at most.
    assert rects[0].height <= 20 and rects[0].width <= 2 * 10
