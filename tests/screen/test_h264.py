"""What the viewer checks in H.264 data before a decoder sees it (screen/h264.py): real
x264 output is accepted and read right; anything else is refused with TileError only."""

from __future__ import annotations

import contextlib
from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaydesk import limits
from relaydesk.errors import TileError
from relaydesk.screen import h264


def x264(width: int, height: int, frames: int = 2, params: str = "") -> list[bytes]:
    """Access units of a real x264 stream (ultrafast, zerolatency, 4:2:0)."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": params}
    encoder.open()
    units = []
    rng = np.random.default_rng(width * height)
    for t in range(frames):
        pixels = rng.integers(0, 255, (height, width, 4), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(pixels, format="bgra").reformat(format="yuv420p")
        frame.pts = t
        units.append(b"".join(bytes(packet) for packet in encoder.encode(frame)))
    return units


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (256, 192), (2, 2), (642, 362)])
def test_x264_keyframes_are_read_to_their_exact_size(width: int, height: int) -> None:
    key, delta = x264(width, height)
    sps = h264.check_access_unit(key, True, width, height)
    assert sps is not None and (sps.width, sps.height) == (width, height)
    assert sps.codec.startswith("avc1.42")  # ultrafast: Constrained Baseline
    assert h264.check_access_unit(delta, False, width, height) is None


def test_a_keyframe_of_another_size_is_refused_before_decoding() -> None:
    key, _ = x264(320, 240)
    with pytest.raises(TileError, match="320x240 in a 64x64 region"):
        h264.check_access_unit(key, True, 64, 64)


def test_too_many_reference_pictures_are_refused() -> None:
    many = limits.MAX_VIDEO_REFERENCE_FRAMES + 2
    key, _ = x264(64, 64, params=f"ref={many}")
    with pytest.raises(TileError, match="reference pictures"):
        h264.check_access_unit(key, True, 64, 64)


def test_keyframe_and_delta_may_not_pass_for_each_other() -> None:
    key, delta = x264(64, 64)
    with pytest.raises(TileError, match="not a keyframe holds"):
        h264.check_access_unit(key, False, 64, 64)
    with pytest.raises(TileError, match="keyframe must hold"):
        h264.check_access_unit(delta, True, 64, 64)


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_are_accepted_or_refused_with_tile_error(data: bytes, keyframe: bool) -> None:
    with contextlib.suppress(TileError):
        h264.check_access_unit(data, keyframe, 64, 64)


@given(st.binary(max_size=64))
def test_any_sps_payload_is_read_or_refused_with_tile_error(payload: bytes) -> None:
    with contextlib.suppress(TileError):
        h264.parse_sps(b"\x67" + payload)
