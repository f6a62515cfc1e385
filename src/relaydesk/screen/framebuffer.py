"""The viewer's copy of the presenter's picture, updated by ScreenUpdates (docs/screen.md).

The presenter is a member like any other, so its updates are checked as strictly as any
input from the network: every tile must lie inside the picture; RAW data must be exactly
``width x height x 4`` bytes; ZLIB data must inflate to exactly that many bytes, never
more (a small body cannot make the viewer allocate gigabytes), ZLIB_GREY data to exactly
``width x height`` (one grey level a pixel); FILL data is one colour, 3 bytes; PNG and
JPEG images must announce exactly the tile's size before a pixel is decoded, and a PNG
may hold only pixel and colour chunks (no compressed text or profiles); a COPY source
must lie inside the picture. The tiles of one update together cover at most
``limits.MAX_UPDATE_AREA_FACTOR`` screens and a picture has at most
``limits.MAX_SCREEN_PIXELS`` pixels, which bounds the memory an update can take.

A ``VIDEO_FRAME`` paints its region with the H.264 picture it decodes to
(``apply_video``; checks and decoders in ``h264`` and ``video``).

An update is applied all or nothing: its tiles are decoded first, then painted in
order. A COPY reads the picture as it was before the update. A bad update raises
``TileError`` and leaves the picture as it was. ``to_png`` is the one method doing I/O.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from typing import assert_never

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from relaydesk import limits
from relaydesk.errors import TileError
from relaydesk.protocol.messages import ScreenUpdate, Tile, TileEncoding, VideoFrame
from relaydesk.screen.picture import BYTES_PER_PIXEL, Picture, Rect, to_rgb
from relaydesk.screen.video import VideoDecoder

_COPY_SOURCE = struct.Struct(">II")
_FILL_COLOUR_SIZE = 3  # blue, green, red
_IMAGE_FORMATS = {TileEncoding.PNG: "PNG", TileEncoding.JPEG: "JPEG"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK_HEADER = struct.Struct(">I4s")
# Pixels and colour information only: no text, ICC profiles or animation, whose
# compressed contents Pillow would inflate besides the pixels.
_PNG_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"sRGB", b"gAMA", b"pHYs"})


def _check_png_chunks(data: bytes) -> None:
    if not data.startswith(_PNG_SIGNATURE):
        raise TileError("PNG data without the PNG signature")
    offset = len(_PNG_SIGNATURE)
    while offset + _PNG_CHUNK_HEADER.size <= len(data):
        length, kind = _PNG_CHUNK_HEADER.unpack_from(data, offset)
        if kind not in _PNG_CHUNKS:
            raise TileError(f"a PNG chunk of type {kind!r}, which screen tiles do not use")
        offset += _PNG_CHUNK_HEADER.size + length + 4  # data and CRC
        if kind == b"IEND":
            return
    raise TileError("PNG data cut short")


def _raw(tile: Tile, data: bytes) -> Picture:
    expected = tile.width * tile.height * BYTES_PER_PIXEL
    if len(data) != expected:
        raise TileError(
            f"a {tile.width}x{tile.height} tile needs {expected} bytes, got {len(data)}"
        )
    pixels: Picture = np.frombuffer(data, np.uint8).reshape(tile.height, tile.width, 4)
    return pixels


def _inflate(tile: Tile, bytes_per_pixel: int = BYTES_PER_PIXEL) -> bytes:
    """Inflate at most the tile's raw size (``bytes_per_pixel`` a pixel), and insist the
    stream ends right there."""
    expected = tile.width * tile.height * bytes_per_pixel
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(tile.data, expected)
        if len(data) == expected and not inflater.eof:
            # All pixels are out; what is left may only be the end of the stream.
            extra = inflater.decompress(inflater.unconsumed_tail, 1)
            if extra:
                raise TileError(f"the zlib data of a {tile.width}x{tile.height} tile is too long")
    except zlib.error as error:
        raise TileError(f"bad zlib data in a {tile.width}x{tile.height} tile: {error}") from None
    if not inflater.eof:
        raise TileError(f"the zlib data of a {tile.width}x{tile.height} tile is cut short")
    if inflater.unused_data:
        raise TileError(f"bytes after the zlib data of a {tile.width}x{tile.height} tile")
    if len(data) != expected:
        raise TileError(
            f"a {tile.width}x{tile.height} tile needs {expected} bytes, inflated {len(data)}"
        )
    return data


def _fill(tile: Tile) -> Picture:
    """A FILL tile: one colour, blue, green, red."""
    if len(tile.data) != _FILL_COLOUR_SIZE:
        raise TileError(f"FILL data is {_FILL_COLOUR_SIZE} bytes, got {len(tile.data)}")
    pixels: Picture = np.empty((tile.height, tile.width, 4), np.uint8)
    pixels[:, :, :3] = np.frombuffer(tile.data, np.uint8)
    pixels[:, :, 3] = 0xFF
    return pixels


def _grey(tile: Tile) -> Picture:
    """A ZLIB_GREY tile: one inflated byte a pixel, the level of blue, green and red."""
    levels = np.frombuffer(_inflate(tile, 1), np.uint8).reshape(tile.height, tile.width)
    pixels: Picture = np.empty((tile.height, tile.width, 4), np.uint8)
    pixels[:, :, :3] = levels[:, :, None]
    pixels[:, :, 3] = 0xFF
    return pixels


def _image(tile: Tile) -> Picture:
    """A PNG or JPEG tile as BGRX; its size is checked before any pixel is decoded."""
    image_format = _IMAGE_FORMATS[tile.encoding]
    if tile.encoding is TileEncoding.PNG:
        _check_png_chunks(tile.data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(tile.data), formats=[image_format]) as image:
                if image.size != (tile.width, tile.height):
                    width, height = image.size
                    raise TileError(
                        f"a {tile.width}x{tile.height} tile holds a {width}x{height} image"
                    )
                rgb = np.asarray(image.convert("RGB"))
        except TileError:
            raise
        except Exception as error:  # Pillow raises many types; all mean "not that image"
            raise TileError(f"bad {image_format} data ({type(error).__name__})") from None
    pixels = np.empty((tile.height, tile.width, 4), np.uint8)
    pixels[:, :, :3] = rgb[:, :, ::-1]
    pixels[:, :, 3] = 0xFF
    return pixels


def _copy(tile: Tile, before: Picture | None) -> Picture:
    if len(tile.data) != _COPY_SOURCE.size:
        raise TileError(f"COPY data is {_COPY_SOURCE.size} bytes, got {len(tile.data)}")
    if before is None:
        raise TileError("COPY with no previous picture to copy from")
    src_x, src_y = _COPY_SOURCE.unpack(tile.data)
    height, width = before.shape[:2]
    if src_x + tile.width > width or src_y + tile.height > height:
        raise TileError(
            f"COPY source {tile.width}x{tile.height} at ({src_x}, {src_y}) is outside "
            f"the {width}x{height} picture"
        )
    return before[src_y : src_y + tile.height, src_x : src_x + tile.width].copy()


def decode_tile(tile: Tile, before: Picture | None) -> Picture:
    """The pixels a tile paints, shape (tile height, tile width, 4); ``before`` is the
    picture COPY reads from. Bounds against the picture are the caller's to check."""
    match tile.encoding:
        case TileEncoding.RAW:
            return _raw(tile, tile.data)
        case TileEncoding.ZLIB:
            return _raw(tile, _inflate(tile))
        case TileEncoding.PNG | TileEncoding.JPEG:
            return _image(tile)
        case TileEncoding.COPY:
            return _copy(tile, before)
        case TileEncoding.FILL:
            return _fill(tile)
        case TileEncoding.ZLIB_GREY:
            return _grey(tile)
        case _:  # pragma: no cover - messages.Tile only holds TileEncoding values
            assert_never(tile.encoding)


class FrameBuffer:
    """The viewer's picture: (height, width, 4) uint8 BGRX, none before a full update."""

    def __init__(self) -> None:
        self._picture: Picture | None = None
        self._video = VideoDecoder()

    @property
    def ready(self) -> bool:
        """True once a full picture has arrived."""
        return self._picture is not None

    @property
    def width(self) -> int:
        return 0 if self._picture is None else self._picture.shape[1]

    @property
    def height(self) -> int:
        return 0 if self._picture is None else self._picture.shape[0]

    @property
    def picture(self) -> Picture:
        """A read-only view of the picture (BGRX; the fourth byte means nothing)."""
        if self._picture is None:
            raise RuntimeError("no picture yet: check `ready` first")
        view = self._picture.view()
        view.flags.writeable = False
        return view

    def apply(self, update: ScreenUpdate) -> list[Rect]:
        """Paint an update; return the rectangles it painted (the whole picture for a
        full one). Raises ``TileError`` and changes nothing if any tile is bad."""
        width, height = update.width, update.height
        if width * height > limits.MAX_SCREEN_PIXELS:
            raise TileError(
                f"a {width}x{height} picture is larger than {limits.MAX_SCREEN_PIXELS} pixels"
            )
        before = self._picture
        if not update.full:
            if before is None:
                raise TileError("a screen update came before any full picture")
            if before.shape[:2] != (height, width):
                raise TileError(
                    f"a {width}x{height} update for a {before.shape[1]}x{before.shape[0]} picture"
                )
        max_area = limits.MAX_UPDATE_AREA_FACTOR * width * height
        area = 0
        painted: list[tuple[Rect, Picture]] = []
        for tile in update.tiles:
            rect = Rect(tile.x, tile.y, tile.width, tile.height)
            if rect.right > width or rect.bottom > height:
                raise TileError(
                    f"a {rect.width}x{rect.height} tile at ({rect.x}, {rect.y}) is outside "
                    f"the {width}x{height} picture"
                )
            area += rect.area
            if area > max_area:
                raise TileError(f"the tiles of one update cover more than {max_area} pixels")
            painted.append((rect, decode_tile(tile, before)))

        if update.full:
            picture = np.zeros((height, width, 4), np.uint8)
            self._video.reset()  # video starts again from keyframes (REFRESH brings them)
        else:
            assert before is not None
            picture = before
        for rect, pixels in painted:
            picture[rect.slices()] = pixels
        self._picture = picture
        if update.full:
            return [Rect(0, 0, width, height)]
        return [rect for rect, _ in painted]

    def apply_video(self, frame: VideoFrame) -> Rect | None:
        """Decode a video frame; paint and return its region when it is the newest frame
        shown, else None (its layer waits for a keyframe, or it came late). Raises
        ``TileError`` and changes nothing for bad data (docs/screen.md)."""
        if self._picture is None:
            raise TileError("a video frame came before any full picture")
        height, width = self._picture.shape[:2]
        decoded = self._video.decode(frame, width, height)
        if decoded is None:
            return None
        rect, pixels = decoded
        self._picture[rect.slices()] = pixels
        return rect

    @property
    def video_lost(self) -> bool:
        """The video's base layer lost its chain: ask for a keyframe (REFRESH)."""
        return self._video.base_lost

    def to_rgb(self) -> NDArray[np.uint8]:
        """The picture as a (height, width, 3) RGB array (a copy)."""
        return to_rgb(self.picture)

    def to_png(self, path: str | os.PathLike[str]) -> None:
        """Write the picture as a PNG file, pixel for pixel."""
        Image.fromarray(self.to_rgb()).save(path, format="PNG")
