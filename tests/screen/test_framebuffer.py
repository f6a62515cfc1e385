"""FrameBuffer: every encoding decodes; every malformed update raises TileError alone and
leaves the picture exactly as it was."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from screen_helpers import blank, noise, pixel, text_like

from relaydesk import limits
from relaydesk.errors import MessageError, TileError
from relaydesk.protocol.messages import ScreenUpdate, Tile, TileEncoding
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Picture, Rect

WIDTH, HEIGHT = 64, 48
RAW, ZLIB, PNG, JPEG, COPY, FILL, ZLIB_GREY = (
    TileEncoding.RAW,
    TileEncoding.ZLIB,
    TileEncoding.PNG,
    TileEncoding.JPEG,
    TileEncoding.COPY,
    TileEncoding.FILL,
    TileEncoding.ZLIB_GREY,
)
TILE_VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "tiles.json").read_text(encoding="utf-8")
)


def raw_tile(picture: Picture, x: int = 0, y: int = 0) -> Tile:
    height, width = picture.shape[:2]
    return Tile(x, y, width, height, RAW, picture.tobytes())


def image_bytes(picture: Picture, image_format: str, **options: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture[:, :, 2::-1])).save(
        buffer, format=image_format, **options
    )
    return buffer.getvalue()


def update(
    *tiles: Tile, full: bool = False, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> ScreenUpdate:
    return ScreenUpdate(size[0], size[1], full, tiles)


@pytest.fixture
def viewer() -> FrameBuffer:
    """A viewer holding a full WIDTH x HEIGHT picture of noise."""
    frame_buffer = FrameBuffer()
    frame_buffer.apply(update(raw_tile(noise(WIDTH, HEIGHT, 1)), full=True))
    return frame_buffer


def test_nothing_before_a_full_picture() -> None:
    viewer = FrameBuffer()
    assert not viewer.ready and (viewer.width, viewer.height) == (0, 0)
    with pytest.raises(TileError, match="before any full picture"):
        viewer.apply(update(raw_tile(blank(1, 1))))
    assert not viewer.ready
    with pytest.raises(RuntimeError, match="ready"):
        viewer.to_rgb()


def test_full_picture_clears_and_resizes(viewer: FrameBuffer) -> None:
    painted = viewer.apply(update(raw_tile(blank(2, 2, 0x123456), 1, 1), full=True, size=(5, 4)))
    assert painted == [Rect(0, 0, 5, 4)]
    assert (viewer.width, viewer.height) == (5, 4)
    expected = np.zeros((4, 5, 4), np.uint8)
    expected[1:3, 1:3] = pixel(0x123456)
    np.testing.assert_array_equal(viewer.picture, expected)


def test_empty_full_update_is_a_black_picture() -> None:
    viewer = FrameBuffer()
    viewer.apply(update(full=True, size=(3, 2)))
    assert (viewer.to_rgb() == 0).all()


def test_each_encoding_paints(viewer: FrameBuffer) -> None:
    before = viewer.picture.copy()
    patch = text_like(16, 17, 2)
    tiles = [
        raw_tile(patch, 0, 0),
        Tile(16, 0, 16, 17, ZLIB, zlib.compress(patch.tobytes())),
        Tile(32, 0, 16, 17, PNG, image_bytes(patch, "PNG")),
        Tile(0, 20, 16, 17, COPY, struct.pack(">II", 40, 30)),
        Tile(48, 0, 16, 17, ZLIB_GREY, zlib.compress(patch[:, :, 0].tobytes())),
        Tile(20, 20, 9, 5, FILL, bytes([0x30, 0x20, 0x10])),
    ]
    painted = viewer.apply(update(*tiles))
    assert painted == [Rect(t.x, t.y, t.width, t.height) for t in tiles]
    rgb = viewer.to_rgb()
    for x in (0, 16, 32, 48):
        np.testing.assert_array_equal(rgb[0:17, x : x + 16], patch[:, :, 2::-1])
    assert (rgb[20:25, 20:29] == (0x10, 0x20, 0x30)).all()
    # COPY reads the picture as it was before the update.
    np.testing.assert_array_equal(rgb[20:37, 0:16], before[30:47, 40:56, 2::-1])


def test_copy_reads_the_picture_before_the_update(viewer: FrameBuffer) -> None:
    before = viewer.picture.copy()
    overwrite = raw_tile(blank(8, 8, 0xFF0000), 0, 0)
    copy = Tile(20, 20, 8, 8, COPY, struct.pack(">II", 0, 0))
    viewer.apply(update(overwrite, copy))
    np.testing.assert_array_equal(viewer.picture[20:28, 20:28], before[0:8, 0:8])


def test_jpeg_decodes_close_to_the_original(viewer: FrameBuffer) -> None:
    patch = blank(16, 16, 0x3366CC)
    viewer.apply(update(Tile(8, 8, 16, 16, JPEG, image_bytes(patch, "JPEG", quality=95))))
    difference = np.abs(viewer.to_rgb()[8:24, 8:24].astype(int) - patch[:, :, 2::-1])
    assert difference.max() <= 8


def test_to_png_is_pixel_exact(viewer: FrameBuffer, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.png"
    viewer.to_png(path)
    with Image.open(path) as image:
        np.testing.assert_array_equal(np.asarray(image), viewer.to_rgb())


def test_picture_view_is_read_only(viewer: FrameBuffer) -> None:
    with pytest.raises(ValueError, match="read-only"):
        viewer.picture[0, 0, 0] = 1


# Malformed updates -------------------------------------------------------------------

BOMB = zlib.compress(bytes(64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KiB
GOOD_ZLIB = zlib.compress(bytes(4 * 4 * 4))
NOISE_PNG = image_bytes(noise(8, 8, 3), "PNG")


def png_of_size(width: int, height: int) -> bytes:
    return image_bytes(blank(width, height), "PNG")


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header announces a huge image, with no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def png_with_text(kind: bytes) -> bytes:
    """A valid 4x4 PNG with one more chunk (compressed text, a profile) before IEND."""
    png = png_of_size(4, 4)
    body = b"comment\x00\x00" + zlib.compress(bytes(1000))
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return png[:-12] + chunk + png[-12:]


MALFORMED: dict[str, list[Tile]] = {
    "right of the picture": [Tile(WIDTH - 3, 0, 4, 1, RAW, bytes(16))],
    "below the picture": [Tile(0, HEIGHT, 1, 1, RAW, bytes(4))],
    "RAW too short": [Tile(0, 0, 4, 4, RAW, bytes(63))],
    "RAW too long": [Tile(0, 0, 4, 4, RAW, bytes(65))],
    "zlib bomb": [Tile(0, 0, 4, 4, ZLIB, BOMB)],
    "zlib truncated": [Tile(0, 0, 4, 4, ZLIB, GOOD_ZLIB[:-3])],
    "zlib short of pixels": [Tile(0, 0, 4, 4, ZLIB, zlib.compress(bytes(60)))],
    "zlib with trailing bytes": [Tile(0, 0, 4, 4, ZLIB, GOOD_ZLIB + b"\x00")],
    "zlib garbage": [Tile(0, 0, 4, 4, ZLIB, b"not zlib at all")],
    "raw deflate without zlib header": [Tile(0, 0, 4, 4, ZLIB, GOOD_ZLIB[2:-4])],
    "PNG garbage": [Tile(0, 0, 4, 4, PNG, b"\x89PNG\r\n\x1a\n garbage")],
    "PNG of another size": [Tile(0, 0, 4, 4, PNG, png_of_size(5, 4))],
    "PNG claiming to be huge": [Tile(0, 0, 4, 4, PNG, png_header_claiming(100_000, 100_000))],
    "PNG truncated": [Tile(0, 0, 8, 8, PNG, NOISE_PNG[: len(NOISE_PNG) // 2])],
    "PNG with a text chunk": [Tile(0, 0, 4, 4, PNG, png_with_text(b"zTXt"))],
    "PNG with an ICC profile": [Tile(0, 0, 4, 4, PNG, png_with_text(b"iCCP"))],
    "PNG without its end": [Tile(0, 0, 4, 4, PNG, png_of_size(4, 4)[:-12])],
    "PNG without signature": [Tile(0, 0, 4, 4, PNG, png_of_size(4, 4)[8:])],
    "JPEG that is a PNG": [Tile(0, 0, 4, 4, JPEG, png_of_size(4, 4))],
    "JPEG garbage": [Tile(0, 0, 4, 4, JPEG, b"\xff\xd8\xff garbage")],
    "COPY source outside": [Tile(0, 0, 8, 8, COPY, struct.pack(">II", WIDTH - 7, 0))],
    "COPY source below": [Tile(0, 0, 8, 8, COPY, struct.pack(">II", 0, 2**32 - 1))],
    "COPY data too short": [Tile(0, 0, 8, 8, COPY, b"\x00" * 7)],
    "FILL of 4 bytes": [Tile(0, 0, 8, 8, FILL, bytes(4))],
    "FILL of nothing": [Tile(0, 0, 8, 8, FILL, b"")],
    "ZLIB_GREY bomb": [Tile(0, 0, 4, 4, ZLIB_GREY, BOMB)],
    "ZLIB_GREY of BGRX": [Tile(0, 0, 4, 4, ZLIB_GREY, GOOD_ZLIB)],
    "ZLIB_GREY short of pixels": [Tile(0, 0, 4, 4, ZLIB_GREY, zlib.compress(bytes(15)))],
    "ZLIB_GREY garbage": [Tile(0, 0, 4, 4, ZLIB_GREY, b"not zlib at all")],
    "a bad tile after good ones": [
        Tile(0, 0, 4, 4, RAW, bytes(64)),
        Tile(4, 0, 4, 4, ZLIB, GOOD_ZLIB),
        Tile(0, 0, 4, 4, RAW, bytes(3)),
    ],
    "tiles covering too much": [Tile(0, 0, WIDTH, HEIGHT, COPY, bytes(8))]
    * (limits.MAX_UPDATE_AREA_FACTOR + 1),
}


@pytest.mark.parametrize("tiles", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tiles_change_nothing(viewer: FrameBuffer, tiles: list[Tile]) -> None:
    before = viewer.picture.copy()
    with pytest.raises(TileError):
        viewer.apply(update(*tiles))
    np.testing.assert_array_equal(viewer.picture, before)
    # The same tiles in a full update do not replace the picture either.
    with pytest.raises(TileError):
        viewer.apply(update(*tiles, full=True))
    np.testing.assert_array_equal(viewer.picture, before)


def test_update_for_another_size(viewer: FrameBuffer) -> None:
    with pytest.raises(TileError, match="update for a"):
        viewer.apply(update(raw_tile(blank(1, 1)), size=(WIDTH + 1, HEIGHT)))


def test_picture_too_large_is_refused_before_allocating() -> None:
    viewer = FrameBuffer()
    side = limits.MAX_SCREEN_SIDE
    assert side * side > limits.MAX_SCREEN_PIXELS
    with pytest.raises(TileError, match="larger than"):
        viewer.apply(update(full=True, size=(side, side)))
    assert not viewer.ready


def test_copy_in_a_first_full_picture() -> None:
    with pytest.raises(TileError, match="no previous picture"):
        FrameBuffer().apply(update(Tile(0, 0, 1, 1, COPY, bytes(8)), full=True))


def test_tile_error_is_a_message_error() -> None:
    assert issubclass(TileError, MessageError)


@given(
    st.builds(
        Tile,
        st.integers(0, WIDTH + 2),
        st.integers(0, HEIGHT + 2),
        st.integers(1, 20),
        st.integers(1, 20),
        st.sampled_from(TileEncoding),
        st.binary(max_size=200),
    )
)
def test_arbitrary_tiles_raise_only_tile_error(tile: Tile) -> None:
    viewer = FrameBuffer()
    viewer.apply(update(raw_tile(noise(WIDTH, HEIGHT, 7)), full=True))
    before = viewer.picture.copy()
    try:
        viewer.apply(update(tile))
    except TileError:
        np.testing.assert_array_equal(viewer.picture, before)


# tests/vectors/tiles.json: the browser viewer (js/tiles.js) decodes the same tiles ---------


@pytest.mark.parametrize(
    "case", TILE_VECTORS["valid"], ids=[c["name"] for c in TILE_VECTORS["valid"]]
)
def test_tile_vectors(case: dict[str, object]) -> None:
    width, height = int(str(case["width"])), int(str(case["height"]))
    encoding = TileEncoding[str(case["encoding"])]
    assert int(str(case["encoding_code"])) == encoding
    tile = Tile(0, 0, width, height, encoding, bytes.fromhex(str(case["data"])))
    viewer = FrameBuffer()
    viewer.apply(update(tile, full=True, size=(width, height)))
    assert viewer.picture[:, :, :3].tobytes().hex() == case["pixels"]


@pytest.mark.parametrize(
    "case", TILE_VECTORS["invalid"], ids=[c["name"] for c in TILE_VECTORS["invalid"]]
)
def test_invalid_tile_vectors(case: dict[str, object]) -> None:
    assert case["error"] == "TileError"
    width, height = int(str(case["width"])), int(str(case["height"]))
    encoding = TileEncoding[str(case["encoding"])]
    tile = Tile(0, 0, width, height, encoding, bytes.fromhex(str(case["data"])))
    viewer = FrameBuffer()
    with pytest.raises(TileError):
        viewer.apply(update(tile, full=True, size=(width, height)))
    assert not viewer.ready
