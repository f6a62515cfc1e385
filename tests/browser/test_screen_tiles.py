"""The page's ScreenCanvas (js/screen.js, js/tiles.js) in real Chromium, fed updates made
by the Python presenter's encoder: FILL, ZLIB_GREY, glyph and moved-window COPY tiles
paint exactly what FrameBuffer paints, with Chromium's own DecompressionStream; the tiles
of tests/vectors/tiles.json paint their pixels, and the invalid ones are refused with
TileError, leaving the canvas as it was."""

from __future__ import annotations

import base64
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser.helpers import LiveServer, Watched
from relaydesk.protocol.messages import ScreenUpdate, Tile, TileEncoding
from relaydesk.screen.codec import Move, encode_update
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Picture, Rect

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "tiles.json").read_text(encoding="utf-8")
)

PAGE = "<!doctype html><meta charset=utf-8><title>screen tiles</title>"
APPLY = """async (updates) => {
  const { ScreenCanvas, TileError } = await import("/static/js/screen.js");
  const canvas = document.createElement("canvas");
  const screen = new ScreenCanvas(canvas);
  const results = [];
  for (const u of updates) {
    const update = {
      ...u,
      tiles: u.tiles.map((t) => ({
        ...t,
        data: Uint8Array.from(atob(t.data), (c) => c.charCodeAt(0)),
      })),
    };
    let outcome = "painted";
    try {
      await screen.apply(update);
    } catch (error) {
      outcome = error instanceof TileError ? "TileError" : String(error);
    }
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let text = "";
    for (let i = 0; i < data.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
    }
    results.push({ outcome, width: canvas.width, height: canvas.height, rgba: btoa(text) });
  }
  return results;
}"""


def _wire(update: ScreenUpdate) -> dict[str, Any]:
    return {
        "width": update.width,
        "height": update.height,
        "full": update.full,
        "tiles": [
            {
                "x": t.x,
                "y": t.y,
                "width": t.width,
                "height": t.height,
                "encoding": int(t.encoding),
                "data": base64.b64encode(t.data).decode(),
            }
            for t in update.tiles
        ],
    }


def _apply(page: Any, updates: list[ScreenUpdate]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = page.evaluate(APPLY, [_wire(u) for u in updates])
    for result in results:
        rgba = np.frombuffer(base64.b64decode(result.pop("rgba")), np.uint8)
        result["rgb"] = rgba.reshape(result["height"], result["width"], 4)[:, :, :3]
    return results


def _rgb(picture: Picture) -> Picture:
    return np.ascontiguousarray(picture[:, :, 2::-1])


def _paints_like_framebuffer(page: Any, updates: list[ScreenUpdate], last: Picture) -> None:
    """After each update the canvas shows what FrameBuffer shows; after all, ``last``."""
    results = _apply(page, updates)
    viewer = FrameBuffer()
    for update, result in zip(updates, results, strict=True):
        viewer.apply(update)
        assert result["outcome"] == "painted"
        np.testing.assert_array_equal(result["rgb"], viewer.to_rgb())
    np.testing.assert_array_equal(results[-1]["rgb"], _rgb(last))


@pytest.fixture
def page(server: LiveServer, browser_page: Watched) -> Any:
    page = browser_page.page
    url = server.url + "/screen-tiles-test"  # an HTML page at the app's origin
    page.route(url, lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    page.goto(url)
    return page


def _terminal(seed: int) -> Picture:
    """40x4 cells of 8x17 pixels: grey glyphs (a dozen shapes, repeated) on white."""
    rng = np.random.default_rng(seed)
    shapes = rng.integers(0, 256, (12, 13, 6), dtype=np.uint8)
    shapes[shapes > 96] = 0xFF
    picture = np.full((68, 320, 4), 0xFF, np.uint8)
    for row in range(4):
        for column in range(int(rng.integers(10, 38))):
            y, x = row * 17 + 2, column * 8 + 1
            picture[y : y + 13, x : x + 6, :3] = shapes[int(rng.integers(0, 12))][:, :, None]
    return picture


def test_typing_updates_paint_exactly_what_the_python_viewer_paints(page: Any) -> None:
    pictures = [_terminal(3)]
    pictures[0][51:68, 0:320] = 0xFF  # an empty last line, the cursor at its start
    pictures[0][51:68, 0:8, :3] = 0
    for column in range(6):  # typed: glyphs from the screen, then a new one
        picture = pictures[-1].copy()
        x = column * 8
        if column < 5:
            source = (column * 5) % 30 * 8
            picture[51:68, x : x + 8] = pictures[0][17:34, source : source + 8]
        else:
            rng = np.random.default_rng(9)
            picture[53:66, x + 1 : x + 7, :3] = rng.integers(0, 256, (13, 6, 1), dtype=np.uint8)
        picture[51:68, x + 8 : x + 16, :3] = 0  # the cursor moves on
        pictures.append(picture)
    updates = encode_update(None, pictures[0])
    for previous, current in pairwise(pictures):
        updates += encode_update(previous, current)
    encodings = {tile.encoding for update in updates for tile in update.tiles}
    assert {TileEncoding.COPY, TileEncoding.FILL, TileEncoding.ZLIB_GREY} <= encodings

    _paints_like_framebuffer(page, updates, pictures[-1])


def test_a_moved_window_paints_exactly_what_the_python_viewer_paints(page: Any) -> None:
    """A window dragged down and left, and then past the right edge: each move one COPY
    from its old place (the hint the presenter's window watch gives), then what it
    uncovered."""
    window = _terminal(5)[:60, :200]
    places = [Rect(20, 4, 200, 60), Rect(90, 30, 200, 60), Rect(250, 2, 200, 60)]
    pictures = []
    for place in places:
        picture = np.full((100, 320, 4), (0xA5, 0x6E, 0x3A, 0xFF), np.uint8)
        shown = place.intersection(Rect(0, 0, 320, 100))
        assert shown is not None
        picture[shown.slices()] = window[: shown.height, : shown.width]
        pictures.append(picture)
    updates = encode_update(None, pictures[0])
    for (old, new), (previous, current) in zip(pairwise(places), pairwise(pictures), strict=True):
        moved = encode_update(previous, current, moves=[Move(new, old.x, old.y)])
        assert moved[0].tiles[0].encoding is TileEncoding.COPY
        updates += moved

    _paints_like_framebuffer(page, updates, pictures[-1])


def test_the_tile_vectors_paint_their_pixels_or_are_refused(page: Any) -> None:
    updates, expected = [], []
    for case in VECTORS["valid"]:
        tile = Tile(0, 0, case["width"], case["height"], TileEncoding[case["encoding"]],
                    bytes.fromhex(case["data"]))  # fmt: skip
        updates.append(ScreenUpdate(case["width"], case["height"], True, (tile,)))
        bgr = np.frombuffer(bytes.fromhex(case["pixels"]), np.uint8)
        expected.append(bgr.reshape(case["height"], case["width"], 3)[:, :, ::-1])
    for result, rgb, case in zip(_apply(page, updates), expected, VECTORS["valid"], strict=True):
        assert result["outcome"] == "painted", case["name"]
        np.testing.assert_array_equal(result["rgb"], rgb, case["name"])

    # Each invalid tile after a good picture: refused, and the canvas is unchanged.
    base = _terminal(5)
    first = encode_update(None, base)
    invalid = [
        ScreenUpdate(320, 68, False, (Tile(8, 8, case["width"], case["height"],
                     TileEncoding[case["encoding"]], bytes.fromhex(case["data"])),))
        for case in VECTORS["invalid"]
    ]  # fmt: skip
    results = _apply(page, first + invalid)
    for result, case in zip(results[len(first) :], VECTORS["invalid"], strict=True):
        assert result["outcome"] == "TileError", case["name"]
        np.testing.assert_array_equal(result["rgb"], _rgb(base), case["name"])
