"""The presenter's full-motion mode on recorded pictures: where video plays it goes as
H.264, everything else stays pixel-exact, and the region is exact again once it stops
(docs/screen.md "Video regions"). Real x264 and FFmpeg (PyAV); no X server needed."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import pytest

from relaydesk import limits
from relaydesk.agent.video import Encoded, VideoShare, video_flags
from relaydesk.errors import TileError
from relaydesk.protocol.frames import Flags
from relaydesk.protocol.messages import VideoFrame, decode, encode
from relaydesk.screen import motion
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.picture import Rect

WIDTH, HEIGHT = 960, 540
VIDEO = Rect(256, 128, 384, 256)  # on tile edges: detection finds exactly this box
MIN_PSNR = 30.0  # dB; x264 at CRF 23 on a smooth moving pattern gives ~40


def desktop(rng: np.random.Generator) -> np.ndarray:
    """A light background with dark "text" strokes: what stays lossless."""
    picture = np.full((HEIGHT, WIDTH, 4), 0xF0, np.uint8)
    strokes = rng.random((HEIGHT, WIDTH)) < 0.08
    picture[strokes, :3] = 0x20
    return picture


def play(picture: np.ndarray, t: int) -> np.ndarray:
    """A smooth pattern moving inside VIDEO, as a playing video would."""
    frame = picture.copy()
    ys, xs = np.mgrid[0 : VIDEO.height, 0 : VIDEO.width].astype(np.float32)
    red = 128 + 100 * np.sin(xs / 23 + t * 0.4)
    green = 128 + 100 * np.sin(ys / 17 - t * 0.3)
    blue = 128 + 100 * np.sin((xs + ys) / 31 + t * 0.2)
    frame[VIDEO.slices()] = np.stack([blue, green, red, np.full_like(red, 255)], -1).astype(
        np.uint8
    )
    return frame


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a[..., :3].astype(np.float64) - b[..., :3]) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255**2 / error)


def apply(viewer: FrameBuffer, encoded: Encoded) -> None:
    """As a viewer does: every message through the wire format, in the order sent."""
    for update in encoded.updates:
        viewer.apply(decode(update.TYPE, encode(update)))  # type: ignore[arg-type]
    if encoded.video is not None:
        viewer.apply_video(decode(encoded.video.TYPE, encode(encoded.video)))  # type: ignore[arg-type]
    for update in encoded.repaint:
        viewer.apply(update)


def film_kept_apart(seed: int, count: int) -> tuple[FrameBuffer, list[VideoFrame]]:
    """``count`` pictures of the film shared at a standstill clock: a viewer that was
    given only the lossless updates, and the video frames, kept for the test to give."""
    still = desktop(np.random.default_rng(seed))
    share = VideoShare(30.0, clock=lambda: 0.0)
    viewer = FrameBuffer()
    previous = None
    frames = []
    for t in range(count):
        current = play(still, t)
        encoded = share.encode(previous, current)
        previous = current
        for update in encoded.updates:
            viewer.apply(update)
        if encoded.video is not None:
            frames.append(encoded.video)
    return viewer, frames


def test_a_playing_video_goes_as_h264_and_the_rest_stays_exact() -> None:
    rng = np.random.default_rng(7)
    still = desktop(rng)
    share, viewer = VideoShare(30.0), FrameBuffer()
    previous = None
    frames = []
    for t in range(40):
        current = play(still, t)
        encoded = share.encode(previous, current)
        apply(viewer, encoded)
        if encoded.video is not None:
            frames.append(encoded.video)
        previous = current
        if share.region is not None and encoded.video is not None:
            shown = viewer.picture
            outside = np.ones((HEIGHT, WIDTH), bool)
            outside[VIDEO.slices()] = False
            assert np.array_equal(shown[outside][:, :3], current[outside][:, :3])
            assert psnr(shown[VIDEO.slices()], current[VIDEO.slices()]) >= MIN_PSNR
    assert share.region == VIDEO
    assert frames, "the moving region never went as video"
    assert frames[0].keyframe and frames[1].keyframe  # each layer starts with one
    assert [video_flags(f) for f in frames[:3]] == [
        Flags.KEYFRAME,
        Flags.KEYFRAME | Flags.DISCARDABLE,
        Flags.NONE,
    ]
    assert [f.number for f in frames] == list(range(len(frames)))
    # The video pauses: after QUIET_FRAMES the region is sent losslessly, exactly.
    paused = play(still, 40)
    for _ in range(motion.QUIET_FRAMES + 1):
        encoded = share.encode(previous, paused)
        apply(viewer, encoded)
        previous = paused
        if encoded.repaint:
            break
    assert share.region is None and encoded.repaint
    assert np.array_equal(viewer.picture[..., :3], paused[..., :3])


def test_text_that_changes_every_frame_stays_lossless() -> None:
    """Scrolling text: tiles change in every picture, but cost the lossless encoder
    little (COPY), so no video region comes of it."""
    rng = np.random.default_rng(3)
    page = desktop(np.random.default_rng(4))
    tall = np.concatenate([page, desktop(rng)], axis=0)
    share, viewer = VideoShare(30.0), FrameBuffer()
    previous = None
    for t in range(30):
        current = np.ascontiguousarray(tall[t * 17 : t * 17 + HEIGHT])
        apply(viewer, share.encode(previous, current))
        previous = current
        assert share.region is None
        assert np.array_equal(viewer.picture[..., :3], current[..., :3])


def test_a_viewer_given_only_layer_0_sees_half_the_frames_never_a_broken_one() -> None:
    rng = np.random.default_rng(9)
    still = desktop(rng)
    share = VideoShare(30.0)
    full, half = FrameBuffer(), FrameBuffer()
    previous = None
    painted = 0
    for t in range(40):
        current = play(still, t)
        encoded = share.encode(previous, current)
        previous = current
        apply(full, encoded)
        video = encoded.video
        for update in encoded.updates:
            half.apply(update)
        if video is not None and not video_flags(video) & Flags.DISCARDABLE:
            rect = half.apply_video(video)
            painted += rect is not None
            assert rect is not None
            assert psnr(half.picture[VIDEO.slices()], current[VIDEO.slices()]) >= MIN_PSNR
    assert painted >= 5 and not half.video_lost


def test_a_lost_base_frame_is_never_shown_broken_and_asks_for_a_keyframe() -> None:
    viewer, frames = film_kept_apart(seed=11, count=30)
    assert len(frames) >= 8
    for frame in frames[:4]:
        viewer.apply_video(frame)
    before = viewer.picture.copy()
    # Frame 4 (layer 0) is lost: frames 6, 8... of layer 0 must not be shown.
    for frame in frames[5:]:
        rect = viewer.apply_video(frame)
        if frame.number % limits.VIDEO_LAYERS == 0:
            assert rect is None
    assert viewer.video_lost
    # Layer 1 goes on meanwhile; layer 0's frames changed nothing.
    assert viewer.picture.shape == before.shape


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: b"\x00\x00\x01\x0e" + data,  # a NAL unit type relaydesk never sends
        lambda data: data[:4] + bytes(len(data) - 4),  # zeroed
        lambda data: bytes(b ^ 0x5A for b in data),  # garbage, no start code
    ],
    ids=["cut short", "unknown NAL type", "zeroed", "garbage"],
)
def test_bad_h264_is_refused_and_the_viewer_goes_on(damage: Callable[[bytes], bytes]) -> None:
    viewer, frames = film_kept_apart(seed=13, count=20)
    key = frames[0]
    bad = msgspec.structs.replace(key, data=damage(key.data))
    before = viewer.picture.copy()
    with pytest.raises(TileError):
        viewer.apply_video(bad)
    assert np.array_equal(viewer.picture, before)
    # The good stream still decodes from its keyframes.
    assert viewer.apply_video(frames[0]) is not None


def test_a_viewer_joining_mid_video_gets_a_light_picture_then_keyframes() -> None:
    """REFRESH while video plays: the whole picture has the region black (not megabytes
    of lossless video), the layer-0 keyframe asked for paints it next, and layer 1 joins
    at its own periodic keyframe (the others are not sent one per layer)."""
    rng = np.random.default_rng(17)
    still = desktop(rng)
    now = [0.0]
    share = VideoShare(30.0, clock=lambda: now[0])
    previous = None
    for t in range(12):
        current = play(still, t)
        share.encode(previous, current)
        previous = current
        now[0] += 1 / 30
    assert share.region == VIDEO
    joiner = FrameBuffer()
    current = play(still, 12)
    full = share.full_picture(current)
    lossless = sum(len(tile.data) for update in full for tile in update.tiles)
    for update in full:
        joiner.apply(update)
    assert not joiner.picture[VIDEO.slices()][..., :3].any()  # black until the keyframes
    share.want_keyframe()
    now[0] += 0.6  # past VIDEO_KEYFRAME_MIN_SECONDS since the stream began
    outside = np.ones((HEIGHT, WIDTH), bool)
    outside[VIDEO.slices()] = False
    shown = {0: 0, 1: 0}
    for t in range(13, 21):
        if t == 17:  # layer 1's own restart is due
            now[0] += limits.VIDEO_LAYER_KEYFRAME_SECONDS
        current = play(still, t)
        encoded = share.encode(previous, current)
        previous = current
        assert encoded.video is not None
        layer = encoded.video.number % limits.VIDEO_LAYERS
        restarts = (layer == 0 and t < 15) or (layer == 1 and t in (17, 18))
        assert encoded.video.keyframe == restarts  # layer 1 goes on until its own time
        painted = joiner.apply_video(encoded.video) is not None
        assert painted == (layer == 0 or t >= 17)  # no layer-1 chain before its keyframe
        shown[layer] += painted
        assert np.array_equal(joiner.picture[outside][:, :3], current[outside][:, :3])
        if painted:
            assert psnr(joiner.picture[VIDEO.slices()], current[VIDEO.slices()]) >= MIN_PSNR
    assert shown == {0: 4, 1: 2}
    everything = share.encode(None, current).updates  # what the region would cost
    assert lossless < sum(len(tile.data) for update in everything for tile in update.tiles) / 2
