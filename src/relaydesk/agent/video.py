"""The presenter's full-motion mode: one picture in, lossless updates and a video frame
out (docs/screen.md "Video regions").

``screen.motion.MotionDetector`` says where video plays. While it does, the tiles around
that region go on losslessly (``encode_update(..., exclude=region)``) and the region goes
as H.264 (``screen.video.VideoEncoder``); when it stops, the region is sent once more,
losslessly, so that what stays on the viewers' screens is pixel-exact again.

Keyframes: each layer starts with one; a viewer that joined or fell behind (``REFRESH``)
gets layer 0 restarted, at most every ``VIDEO_KEYFRAME_MIN_SECONDS``; layer 1 restarts
every ``VIDEO_LAYER_KEYFRAME_SECONDS`` by itself, so that a viewer the relay stopped
giving it (docs/protocol.md §5.4) takes it up again once it has caught up, and one that
came in since takes it up then. Keyframes go to every viewer (all decode the one stream):
a join costs the others one keyframe, not one per layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from relaydesk import limits
from relaydesk.protocol.frames import Flags
from relaydesk.protocol.messages import ScreenUpdate, VideoFrame
from relaydesk.screen.codec import Move, encode_rects, encode_update
from relaydesk.screen.diff import changed_mask
from relaydesk.screen.motion import MotionDetector, changed_tiles
from relaydesk.screen.picture import Picture, Rect
from relaydesk.screen.video import VideoEncoder

Clock = Callable[[], float]


@dataclass(slots=True)
class Encoded:
    """One picture's worth, in the order it must be sent."""

    updates: list[ScreenUpdate]  # lossless, never touching the video region
    video: VideoFrame | None = None
    repaint: list[ScreenUpdate] = field(default_factory=list)  # a video region that ended


def video_flags(frame: VideoFrame) -> Flags:
    """The frame header's flags for a video frame (docs/protocol.md §2.4)."""
    flags = Flags.KEYFRAME if frame.keyframe else Flags.NONE
    if frame.number % limits.VIDEO_LAYERS:
        flags |= Flags.DISCARDABLE
    return flags


class VideoShare:
    """Detection, encoders and keyframe pacing for one presenter."""

    def __init__(self, fps: float = limits.SCREEN_FPS, clock: Clock = time.monotonic) -> None:
        self.fps = fps
        self._clock = clock
        self._detector: MotionDetector | None = None
        self.encoder: VideoEncoder | None = None
        self._streams = 0
        self._keyframe_wanted = False
        self._last_keyframes = -float("inf")
        self._last_layer_start = 0.0
        self.frames_sent = 0

    @property
    def region(self) -> Rect | None:
        return self.encoder.region if self.encoder is not None else None

    def want_keyframe(self) -> None:
        """A viewer needs the video from a keyframe (it joined, or fell behind): layer 0
        restarts now, layer 1 at its own next restart."""
        self._keyframe_wanted = True

    def stop(self) -> None:
        """Forget everything: the next picture is compared with nothing."""
        self._detector = None
        self.encoder = None
        self._keyframe_wanted = False

    def encode(
        self, previous: Picture | None, current: Picture, moves: Sequence[Move] = ()
    ) -> Encoded:
        """What to send for ``current``, viewers having ``previous`` outside the video
        region; ``moves``: windows that moved meanwhile (``screen.codec.encode_update``).
        A blocking call (run it in a thread)."""
        height, width = current.shape[:2]
        if previous is None or previous.shape != current.shape:
            self.stop()
            self._detector = MotionDetector(width, height)
            return Encoded(encode_update(previous, current))
        assert self._detector is not None
        region = self.region
        encoded = Encoded(encode_update(previous, current, exclude=region, moves=moves))
        if self.encoder is not None:
            self._pace_keyframes(self.encoder)
            try:
                video = self.encoder.encode(current)
            except ValueError:  # a frame too large for one message: lossless it is
                self._detector.end()
            else:  # stamped for the viewers' delay measurement (docs/protocol.md §4.1)
                sent_at = round(self._clock() * 1000) & 0xFFFFFFFF
                encoded.video = msgspec.structs.replace(video, sent_at=sent_at)
        detected = self._detector.observe(changed_tiles(changed_mask(previous, current)),
                                          encoded.updates)  # fmt: skip
        if region is not None and detected != region:
            self.encoder = None
            encoded.repaint = encode_rects(current, [region])
        if detected is not None and detected != region:
            self._streams = (self._streams + 1) & 0xFFFFFFFF
            self.encoder = VideoEncoder(self._streams, detected, self.fps)
            self._last_layer_start = self._last_keyframes = self._clock()
            self._keyframe_wanted = False
        if encoded.video is not None:
            self.frames_sent += 1
        return encoded

    def full_picture(self, current: Picture) -> list[ScreenUpdate]:
        """A whole picture for a viewer that joined or fell behind (REFRESH): the video
        region goes black, as the keyframe asked for (``want_keyframe``) paints it next.
        A video picture sent losslessly would be megabytes, slow to make and to send."""
        region = self.region
        if region is None:
            return encode_update(None, current)
        picture = current.copy()
        picture[region.slices()] = (0, 0, 0, 0xFF)
        return encode_update(None, picture)

    def _pace_keyframes(self, encoder: VideoEncoder) -> None:
        now = self._clock()
        if (
            self._keyframe_wanted
            and now - self._last_keyframes >= limits.VIDEO_KEYFRAME_MIN_SECONDS
        ):
            encoder.keyframes(range(1))
            self._keyframe_wanted = False
            self._last_keyframes = now
        elif now - self._last_layer_start >= limits.VIDEO_LAYER_KEYFRAME_SECONDS:
            encoder.keyframes(range(1, limits.VIDEO_LAYERS))
            self._last_layer_start = now
