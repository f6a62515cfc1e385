"""``relaydesk recording export --mp4``: a recording as an ordinary video (docs/protocol.md
§12.4, docs/meetings.md "Recording").

The screen updates of the recording are opened with the epoch secrets it holds, drawn
the way a viewer draws them (screen/framebuffer.py) and, unless left out, with what
members drew over them (screen/drawings.py). Each picture becomes one video frame at the
moment it was received: variable frame rate, time stamps in milliseconds from the
recording's START, so that the video lasts as long as the recording, and a quiet screen
costs nothing. H.264 (the libx264 inside PyAV's wheel), without B-frames so that every
packet leaves the encoder in order and gets its duration (until the next picture).

Only a recording that verifies is exported (the whole file is verified first), unless
the caller forces it: then what parses up to the first break is exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray
from PIL import Image

from relaydesk.errors import RecordingError, RelaydeskError
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import SIGNATURE_SIZE, nonce
from relaydesk.protocol.frames import Channel, Frame, FrameType
from relaydesk.protocol.messages import (
    Annotation,
    ConsentKind,
    Grant,
    Revoke,
    Roster,
    ScreenUpdate,
    decode,
)
from relaydesk.recording.format import Entry, EntryKind, EpochSecret, Start, read_entries
from relaydesk.recording.verify import verify_file
from relaydesk.screen.drawings import Drawings
from relaydesk.screen.framebuffer import FrameBuffer

MS = Fraction(1, 1000)
Progress = Callable[[int, int], None]  # (bytes read so far, video frames written)


@dataclass(frozen=True, slots=True)
class Exported:
    frames: int  # video frames written
    duration: float  # seconds, as the recording lasted
    width: int
    height: int


class _Keys:
    """The recording's epoch secrets; a content frame opens with the one whose tag
    checks (a stand-in's epoch and the leader's may share a number, §6.2)."""

    def __init__(self, session_uid: bytes) -> None:
        self.session_uid = session_uid
        self.secrets: dict[int, list[bytes]] = {}
        self._ciphers: dict[tuple[bytes, int, int, Channel], AESGCM] = {}

    def add(self, epoch: EpochSecret) -> None:
        known = self.secrets.setdefault(epoch.number, [])
        if epoch.secret not in known:
            known.append(epoch.secret)

    def open(self, frame: Frame) -> bytes | None:
        header, body = frame.header, frame.body
        header_bytes = header.pack(len(body))
        channel = header.type.channel
        for secret in self.secrets.get(header.epoch, ()):
            key = (secret, header.epoch, header.sender, channel)
            cipher = self._ciphers.get(key)
            if cipher is None:
                content_key = ks.content_key(
                    self.session_uid, secret, header.epoch, header.sender, channel
                )
                cipher = self._ciphers[key] = AESGCM(content_key)
            try:
                return cipher.decrypt(nonce(header.sequence), body[:-SIGNATURE_SIZE], header_bytes)
            except InvalidTag:
                continue
        return None


class _Video:
    """An H.264 MP4 written picture by picture, each at its own time (milliseconds)."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        # yuv420p halves the colour planes: even sides only.
        self.width, self.height = width + width % 2, height + height % 2
        self._container = av.open(str(path), "w")
        stream = self._container.add_stream("libx264")
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.time_base = MS
        stream.codec_context.time_base = MS
        stream.options = {"preset": "veryfast", "crf": "20", "bf": "0"}
        self._stream = stream
        self._pending: av.Packet[Any] | None = None
        self.last_pts = -1
        self.frames = 0

    def add(self, rgb: NDArray[np.uint8], pts: int) -> None:
        if rgb.shape[:2] != (self.height, self.width):
            rgb = _fit(rgb, self.width, self.height)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts, MS
        self._mux(self._stream.encode(frame))
        self.last_pts = pts
        self.frames += 1

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        for packet in packets:  # no B-frames: in order, so each lasts until the next
            if self._pending is not None and packet.pts is not None:
                self._pending.duration = packet.pts - (self._pending.pts or 0)
                self._container.mux(self._pending)
            self._pending = packet

    def close(self, end_pts: int) -> None:
        self._mux(self._stream.encode(None))
        if self._pending is not None:
            self._pending.duration = max(1, end_pts - (self._pending.pts or 0))
            self._container.mux(self._pending)
        self._container.close()


def _fit(rgb: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    """Another presenter's picture of another size: scaled into the video's, kept whole
    (letterboxed on black)."""
    image = Image.fromarray(rgb)
    image.thumbnail((width, height))
    canvas = Image.new("RGB", (width, height))
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def _entries(path: Path, force: bool) -> Iterator[Entry]:
    """The recording's entries: after the whole file verified, or (forced) as far as
    they parse and chain."""
    if not force:
        verify_file(path)
    with path.open("rb") as stream:
        try:
            yield from read_entries(stream)
        except RecordingError:
            if not force:
                raise


def export_mp4(
    path: Path,
    out: Path,
    *,
    annotations: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> Exported:
    """Write the recording's shared screen to ``out`` (MP4, H.264)."""
    start: Start | None = None
    start_ms = end_ms = 0
    keys: _Keys | None = None
    picture, drawings = FrameBuffer(), Drawings()
    presenter: int | None = None
    video: _Video | None = None
    changed = False  # the picture changed since the last video frame

    def show(time_ms: int) -> None:
        nonlocal video, changed
        if not picture.ready:
            return
        pts = max(0, time_ms - start_ms)
        rgb = picture.to_rgb()
        if annotations and drawings:
            rgb = drawings.draw_over(rgb)
        if video is None:
            video = _Video(out, picture.width, picture.height)
            if pts > 0:  # nothing was shown before the first picture: black
                video.add(np.zeros((video.height, video.width, 3), np.uint8), 0)
        if pts <= video.last_pts:
            changed = True  # two pictures in one millisecond: the next frame shows it
            return
        video.add(rgb, pts)
        changed = False

    for entry in _entries(path, force):
        end_ms = entry.time_ms
        if entry.kind is EntryKind.START:
            start, start_ms = entry.decode(Start), entry.time_ms
            keys, presenter = _Keys(start.session_uid), start.presenter or None
        elif entry.kind is EntryKind.EPOCH and keys is not None:
            keys.add(entry.decode(EpochSecret))
        elif entry.kind in (EntryKind.FRAME_IN, EntryKind.FRAME_OUT) and keys is not None:
            try:
                frame = Frame.parse(entry.body)
            except RelaydeskError:
                continue
            presenter, shown = _apply(frame, keys, picture, drawings, presenter)
            shown = shown and (annotations or frame.header.type is FrameType.SCREEN_UPDATE)
            if shown:
                show(entry.time_ms)
        if progress is not None:
            progress(entry.end, video.frames if video else 0)
    if start is None:
        raise RecordingError(f"{path} holds no recording")
    if video is None:
        raise RecordingError("the recording holds no picture of a shared screen")
    if changed:  # the last change came in the same millisecond as the frame before
        video.add(_final(picture, drawings, annotations), video.last_pts + 1)
    end_pts = max(end_ms - start_ms, video.last_pts + 1)
    video.close(end_pts)
    return Exported(video.frames, end_pts / 1000, video.width, video.height)


def _final(picture: FrameBuffer, drawings: Drawings, annotations: bool) -> NDArray[np.uint8]:
    rgb = picture.to_rgb()
    return drawings.draw_over(rgb) if annotations and drawings else rgb


def _apply(
    frame: Frame,
    keys: _Keys,
    picture: FrameBuffer,
    drawings: Drawings,
    presenter: int | None,
) -> tuple[int | None, bool]:
    """What one recorded frame changes: who presents, the picture, the drawings. Returns
    the presenter and whether the picture (or what is drawn on it) changed."""
    header = frame.header
    if not header.type.is_content:
        try:
            message = decode(header.type, frame.body)
        except RelaydeskError:
            return presenter, False
        match message:
            case Roster(presenter=now):
                return now or None, False
            case Grant(ConsentKind.PRESENT, member_id):
                drawings.clear_all()  # another screen: the drawings were on the old one
                return member_id, False
            case Revoke(ConsentKind.PRESENT, member_id) if member_id == presenter:
                return None, False
            case _:
                return presenter, False
    if header.type not in (FrameType.SCREEN_UPDATE, FrameType.ANNOTATION):
        return presenter, False
    plaintext = keys.open(frame)
    if plaintext is None:
        return presenter, False
    try:
        message = decode(header.type, plaintext)
        match message:
            case ScreenUpdate() if header.sender == presenter:
                picture.apply(message)
                return presenter, True
            case Annotation():
                drawings.apply(header.sender, message)
                return presenter, picture.ready
    except RelaydeskError:
        pass  # a bad update changes nothing, as for a viewer
    return presenter, False
