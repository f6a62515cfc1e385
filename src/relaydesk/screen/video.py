"""A video-like region as H.264, with PyAV (FFmpeg): encoder and decoder (docs/screen.md).

``VideoEncoder`` turns one region of successive pictures into ``VideoFrame`` messages:
x264, preset ultrafast and tune zerolatency (no frame is held back), 4:2:0, one thread
(the presenter's budget is one core). Frame ``n`` goes to layer ``n % VIDEO_LAYERS``, and
each layer is an encoder of its own: layer 1's frames are referenced by no layer-0 frame,
so the relay may drop them (flag ``DISCARDABLE``) for a viewer that is behind, which then
sees half the frame rate and never a broken picture (docs/protocol.md §4.1, §5.4). Two
independent encoders at half the rate cost the same CPU as one at the full rate, and
about 15 % more bytes (each frame predicts from two frames back; docs/screen.md).

``VideoDecoder`` is the viewer's side: one FFmpeg decoder a layer, fed only access units
that ``h264.check_access_unit`` accepted, and only in an unbroken chain from a keyframe;
a frame is painted only when it is newer than the one shown. A layer whose chain broke
(a dropped or bad frame) waits for its next keyframe: nothing it decodes meanwhile
would be right, so nothing is shown. No I/O, clock or randomness here.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from relaydesk import limits
from relaydesk.errors import TileError
from relaydesk.protocol.messages import VideoFrame
from relaydesk.screen import h264
from relaydesk.screen.picture import Picture, Rect

__all__ = ["CRF", "LayerChoice", "VideoDecoder", "VideoEncoder", "even_region"]

LAYERS = limits.VIDEO_LAYERS
# x264's constant rate factor: 23 is its default, a video-like quality (PSNR ~40 dB on
# moving content); static parts of the region converge to the keyframe's quality.
CRF = 23
# What the H.264 data of one frame may take: the message's other fields, sealing and
# MessagePack's bin header fit in the rest of MAX_FRAME_BODY.
MAX_FRAME_DATA = limits.MAX_FRAME_BODY - 1024


def even_region(rect: Rect, width: int, height: int) -> Rect:
    """``rect`` grown to even edges (4:2:0 halves both sides), inside a picture."""
    x0, y0 = rect.x - rect.x % 2, rect.y - rect.y % 2
    x1 = min(width - width % 2, rect.right + rect.right % 2)
    y1 = min(height - height % 2, rect.bottom + rect.bottom % 2)
    return Rect(x0, y0, x1 - x0, y1 - y0)


class VideoEncoder:
    """One region of the presenter's pictures, as ``stream`` of VideoFrames."""

    def __init__(self, stream: int, region: Rect, fps: float, crf: int = CRF) -> None:
        if region.width % 2 or region.height % 2 or region.width < 2 or region.height < 2:
            raise ValueError(f"a video region has even sides of 2 or more, not {region}")
        self.stream = stream
        self.region = region
        self.fps = fps
        self.crf = crf
        self.number = 0  # the next frame's
        self._encoders = [self._open(fps / LAYERS) for _ in range(LAYERS)]
        self._keyframe_due = [True] * LAYERS

    def _open(self, rate: float) -> av.VideoCodecContext:
        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)
        encoder.width, encoder.height = self.region.width, self.region.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1000, round(rate * 1000))
        encoder.thread_count = 1
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "crf": str(self.crf),
            "forced-idr": "1",  # a keyframe asked for is an IDR with SPS and PPS
            # Keyframes only when asked for. The colours: what swscale's RGB to YUV made
            # (BT.601, limited range), said in the stream so that browsers convert back
            # with the same matrix.
            "x264-params": "keyint=infinite:scenecut=0:colormatrix=smpte170m"
            ":colorprim=smpte170m:transfer=smpte170m:range=tv",
        }
        encoder.open()
        return encoder

    def keyframes(self, layers: range = range(LAYERS)) -> None:
        """Start ``layers`` again: each one's next frame is a keyframe."""
        for layer in layers:
            self._keyframe_due[layer] = True

    def encode(self, picture: Picture) -> VideoFrame:
        """The next frame of the stream: the region of ``picture`` (BGRX). Raises
        ``ValueError`` if the picture does not hold the region or the frame would not
        fit in one message (the caller sends the region losslessly instead)."""
        region = self.region
        height, width = picture.shape[:2]
        if region.right > width or region.bottom > height:
            raise ValueError(f"{region} is outside the {width}x{height} picture")
        number = self.number
        layer = number % LAYERS
        source = av.VideoFrame.from_ndarray(picture[region.slices()], format="bgra")
        frame = source.reformat(format="yuv420p")
        frame.pts = number // LAYERS
        keyframe = self._keyframe_due[layer]
        if keyframe:
            frame.pict_type = PictureType.I
        packets = self._encoders[layer].encode(frame)
        data = b"".join(bytes(packet) for packet in packets)
        if not data or len(data) > MAX_FRAME_DATA:
            raise ValueError(f"an H.264 frame of {len(data)} bytes does not fit a message")
        self._keyframe_due[layer] = False
        self.number += 1
        return VideoFrame(
            self.stream, number, 0, keyframe, region.x, region.y, region.width, region.height,
            data,
        )  # fmt: skip


class LayerChoice:
    """How many video layers a viewer asks the relay for (``VIDEO_LAYERS``), from how
    late its frames come (docs/protocol.md §4.1).

    A frame's delay is the viewer's clock when it arrived minus the presenter's
    ``sent_at``: the clocks differ by an unknown offset, so only the difference with the
    smallest delay seen in the last ``VIDEO_DELAY_WINDOW_SECONDS`` means anything (how
    much later than the fastest frame this one came: time spent queued on the way).
    ``VIDEO_BEHIND_FRAMES`` frames in a row later than ``VIDEO_BEHIND_MS``: layer 0 alone.
    Every frame within a third of that for ``VIDEO_CATCH_UP_SECONDS``: both layers again.
    Pure: the caller gives the time."""

    def __init__(self) -> None:
        self.layers = LAYERS
        self._delays: deque[tuple[float, int]] = deque()  # (arrival, delay), minimum kept
        self._late = 0
        self._on_time_since: float | None = None

    def observe(self, sent_at: int, now: float) -> int | None:
        """A frame stamped ``sent_at`` (ms) arrived at ``now`` (s, the viewer's clock).
        Returns the number of layers to ask for when it changes, else None."""
        delay = (round(now * 1000) - sent_at) & 0xFFFFFFFF
        window = self._delays
        while window and window[-1][1] >= delay:  # a monotonic deque of minimums
            window.pop()
        window.append((now, delay))
        while window[0][0] < now - limits.VIDEO_DELAY_WINDOW_SECONDS:
            window.popleft()
        queued = (delay - window[0][1]) & 0xFFFFFFFF
        queued = queued - 0x100000000 if queued >= 0x80000000 else queued
        if queued > limits.VIDEO_BEHIND_MS:
            self._late += 1
            self._on_time_since = None
        else:
            self._late = 0
            if queued > limits.VIDEO_BEHIND_MS // 3:
                self._on_time_since = None
            elif self._on_time_since is None:
                self._on_time_since = now
        if self.layers == LAYERS and self._late >= limits.VIDEO_BEHIND_FRAMES:
            self.layers = 1
            return self.layers
        since = self._on_time_since
        if (
            self.layers < LAYERS
            and since is not None
            and now - since >= limits.VIDEO_CATCH_UP_SECONDS
        ):
            self.layers = LAYERS
            return self.layers
        return None


class _Layer:
    def __init__(self) -> None:
        self.decoder: av.VideoCodecContext | None = None
        self.last = -1  # number of the frame last decoded, -1: waiting for a keyframe
        self.lost = False  # it had decoded frames of this stream, then its chain broke

    def reset(self, lost: bool = False) -> None:
        self.lost = lost or (self.lost and self.last < 0)
        self.decoder = None
        self.last = -1


class VideoDecoder:
    """The viewer's H.264 decoders, one a layer, for the presenter's current stream."""

    def __init__(self) -> None:
        self._stream: tuple[int, Rect] | None = None
        self._layers = [_Layer() for _ in range(LAYERS)]
        self.shown = -1  # number of the frame painted last

    def reset(self) -> None:
        """Forget the stream (a new picture size, another presenter)."""
        self._stream = None
        for layer in self._layers:
            layer.reset()
        self.shown = -1

    def decode(self, frame: VideoFrame, width: int, height: int) -> tuple[Rect, Picture] | None:
        """Decode ``frame`` for a picture of ``width`` x ``height``; the region and its
        pixels (BGRX) when they are to be painted, None when the frame is skipped (its
        layer waits for a keyframe, or a newer frame is shown already). Raises
        ``TileError`` for bad data; that layer then waits for its next keyframe."""
        region = Rect(frame.x, frame.y, frame.width, frame.height)
        if region.right > width or region.bottom > height:
            raise TileError(f"a video region {region} outside the {width}x{height} picture")
        if self._stream != (frame.stream, region):
            self.reset()
            self._stream = (frame.stream, region)
        layer = self._layers[frame.number % LAYERS]
        if frame.keyframe:
            layer.reset()
            layer.lost = False
        elif layer.last < 0 or frame.number != layer.last + LAYERS:
            # A frame of this layer is missing (dropped by the relay, or refused): what
            # follows would decode to a wrong picture. Wait for the layer's keyframe.
            layer.reset(lost=layer.last >= 0)
            return None
        try:
            h264.check_access_unit(frame.data, frame.keyframe, region.width, region.height)
            pixels = self._decode(layer, frame.data, region)
        except TileError:
            layer.reset(lost=True)
            raise
        layer.last = frame.number
        if frame.number <= self.shown:
            return None
        self.shown = frame.number
        return region, pixels

    @property
    def base_lost(self) -> bool:
        """Layer 0 decoded frames of this stream, then lost its chain: without a keyframe
        (ask with REFRESH) the video stands still. Layer 1 comes back by itself (the
        presenter restarts it every ``VIDEO_LAYER_KEYFRAME_SECONDS``)."""
        return self._layers[0].lost

    @staticmethod
    def _decode(layer: _Layer, data: bytes, region: Rect) -> Picture:
        if layer.decoder is None:
            decoder = av.CodecContext.create("h264", "r")
            assert isinstance(decoder, av.VideoCodecContext)
            decoder.thread_count = 1  # frame threads would hold pictures back
            # Any damage is an error, never a picture patched up by error concealment.
            decoder.options = {"err_detect": "careful+explode"}
            layer.decoder = decoder
        try:
            frames = layer.decoder.decode(av.Packet(data))
        except av.FFmpegError as error:
            raise TileError(f"H.264 data that does not decode ({type(error).__name__})") from None
        if len(frames) != 1:
            raise TileError(f"H.264 data that decodes to {len(frames)} pictures, not 1")
        (picture,) = frames
        if picture.is_corrupt:
            raise TileError("H.264 data that decodes to a damaged picture")
        if (picture.width, picture.height) != (region.width, region.height):
            raise TileError(
                f"H.264 data of {picture.width}x{picture.height} for a {region.width}x"
                f"{region.height} region"
            )
        if picture.format.name not in ("yuv420p", "yuvj420p"):
            raise TileError(f"H.264 data that decodes to {picture.format.name}, not 4:2:0")
        try:
            # BT.601, as the presenter converted: never what the stream's VUI says (a
            # presenter's bytes could name a matrix swscale refuses).
            bgra = picture.reformat(format="bgra", src_colorspace="ITU601")
        except av.FFmpegError as error:
            raise TileError(f"an H.264 picture that does not convert ({error})") from None
        pixels: Picture = np.ascontiguousarray(bgra.to_ndarray())
        return pixels
