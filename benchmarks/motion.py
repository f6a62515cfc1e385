"""Full motion at 1920x1080 on the presenter's side: pictures a second on one core.

The presenter's loop for a video playing full screen, as ``agent.presenter`` runs it:
capture (mss over XShm, from an Xvfb at 1920x1080 whose content is not what is encoded:
the grab only costs its time), then ``agent.video.VideoShare.encode(previous, current)``
(changed tiles and motion detection, the lossless encoder for what is outside the video
region, BGRX to 4:2:0 with swscale and x264 ultrafast/zerolatency on one thread), then
sealing and signing the VIDEO_FRAME (``EndToEnd.seal``). The pictures are a camera
panning over colour waves and a band of fine detail (``Film``), made between steps and
not timed.

Printed: the median time of each step per picture, the thread's CPU time per picture
(``time.thread_time``: what one core spends), and pictures a second = 1 / CPU per
picture, against PERFORMANCE.md's target (>= 30 a second on one core). Frames 0-3
(the detection's warm-up, lossless) are left out. Run alone:
``python -m benchmarks.motion [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from dataclasses import dataclass, field

import av
import numpy as np
from numpy.typing import NDArray

from benchmarks import KIB, Row, Section, format_seconds, standalone
from benchmarks.crypto import _end_to_end, _members
from relaydesk import limits
from relaydesk.agent.video import VideoShare, video_flags
from relaydesk.protocol.frames import EVERYONE
from relaydesk.screen.motion import ENTER_FRAMES, WINDOW

TITLE = "motion"

WIDTH, HEIGHT = 1920, 1080
FPS_TARGET = 30.0  # PERFORMANCE.md: full-motion 1080p >= 30 fps on one core


class Film:
    """Pictures of a video playing full screen (BGRX): a camera panning over a scene of
    colour waves with a band of fine detail, ``frame(t)`` in a few milliseconds."""

    PAN = 1024  # pixels the camera pans before it starts again (a cut)

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        side_x, side_y = width + self.PAN, height + self.PAN // 2
        ys, xs = np.mgrid[0:side_y, 0:side_x].astype(np.float32)
        scene = np.empty((side_y, side_x, 4), np.uint8)
        scene[..., 2] = (120 + 100 * np.sin(xs / 71) * np.cos(ys / 113)).astype(np.uint8)
        scene[..., 1] = (120 + 100 * np.sin(ys / 53 + xs / 211)).astype(np.uint8)
        scene[..., 0] = (120 + 100 * np.sin((xs + ys) / 97)).astype(np.uint8)
        rng = np.random.default_rng(12)
        band = slice(side_y // 3, side_y // 3 + side_y // 4)  # fine detail: grass, a crowd
        scene[band, :, 1] += rng.integers(0, 48, scene[band, :, 1].shape, dtype=np.uint8)
        scene[..., 3] = 0xFF
        self.scene = scene

    def frame(self, t: int) -> NDArray[np.uint8]:
        step = t % (self.PAN // 4)
        x, y = 4 * step, 2 * step
        return np.ascontiguousarray(self.scene[y : y + self.height, x : x + self.width])


@dataclass
class Steps:
    capture: list[float] = field(default_factory=list)
    encode: list[float] = field(default_factory=list)  # VideoShare.encode, all of it
    convert: list[float] = field(default_factory=list)  # BGRX -> 4:2:0 alone (swscale)
    seal: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # thread CPU time, the whole step
    wall: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # sealed VIDEO_FRAME bodies
    keyframe_sizes: list[int] = field(default_factory=list)


def _grabber() -> tuple[object, object] | None:
    """An Xvfb at 1920x1080 and a capture of it, when Xvfb is installed."""
    if shutil.which("Xvfb") is None:
        return None
    from relaydesk.screen.capture import ScreenCapture  # noqa: PLC0415
    from relaydesk.screen.xvfb import Xvfb  # noqa: PLC0415

    server = Xvfb(WIDTH, HEIGHT, 24)
    server.__enter__()
    return server, ScreenCapture(server.display)


def measure(count: int) -> tuple[Steps, VideoShare]:
    film = Film(WIDTH, HEIGHT)
    broker, keys, tickets = _members(2)
    sender = _end_to_end(1, broker, keys, tickets)
    sender.start_epoch(os.urandom, now=0.0)
    share = VideoShare(limits.SCREEN_FPS)
    grab = _grabber()
    steps = Steps()
    previous = None
    try:
        for t in range(count):
            current = film.frame(t)
            cpu, wall = time.thread_time(), time.perf_counter()
            if grab is not None:
                grab[1].grab()  # type: ignore[attr-defined]
            captured = time.perf_counter()
            encoded = share.encode(previous, current)
            encoded_at = time.perf_counter()
            sealed = None
            if encoded.video is not None:
                sealed = sender.seal(encoded.video, EVERYONE, video_flags(encoded.video))
            done_cpu, done = time.thread_time(), time.perf_counter()
            previous = current
            if encoded.video is None or t < WINDOW + ENTER_FRAMES:
                continue  # the detection's warm-up: not full motion yet
            assert sealed is not None
            steps.capture.append(captured - wall)
            steps.encode.append(encoded_at - captured)
            steps.seal.append(done - encoded_at)
            steps.cpu.append(done_cpu - cpu)
            steps.wall.append(done - wall)
            (steps.keyframe_sizes if encoded.video.keyframe else steps.sizes).append(
                len(sealed.body)
            )
            started = time.perf_counter()
            av.VideoFrame.from_ndarray(current, format="bgra").reformat(format="yuv420p")
            steps.convert.append(time.perf_counter() - started)
    finally:
        if grab is not None:
            grab[1].close()  # type: ignore[attr-defined]
            grab[0].__exit__(None, None, None)  # type: ignore[attr-defined]
    return steps, share


def report(steps: Steps, share: VideoShare, quick: bool, captured: bool) -> Section:
    section = Section(
        f"full motion: a video playing full screen at {WIDTH}x{HEIGHT}, presenter side "
        "(capture, motion detection, x264 ultrafast/zerolatency 4:2:0 one thread, seal+sign)"
    )
    med = statistics.median
    cpu = med(steps.cpu)
    fps = 1 / cpu
    region = share.region
    section.rows.append(
        Row(f"pictures a second on one core (1 / CPU per picture, {len(steps.cpu)} pictures)",
            f"{fps:.1f} /s", f"CPU {format_seconds(cpu)}, wall {format_seconds(med(steps.wall))}",
            f">= {FPS_TARGET:.0f} /s (PERFORMANCE.md)",
            "met" if fps >= FPS_TARGET else "MISSED")
    )  # fmt: skip
    if captured:
        section.rows.append(Row("  capture (mss, XShm)", format_seconds(med(steps.capture))))
    section.rows.append(
        Row("  VideoShare.encode: diff, detection, lossless rest, BGRX->4:2:0, x264",
            format_seconds(med(steps.encode)))
    )  # fmt: skip
    section.rows.append(
        Row("    of which BGRX -> 4:2:0 (swscale, measured alone)",
            format_seconds(med(steps.convert)))
    )  # fmt: skip
    section.rows.append(Row("  seal + sign the VIDEO_FRAME", format_seconds(med(steps.seal))))
    section.rows.append(
        Row("  sealed VIDEO_FRAME, median", f"{med(steps.sizes) / KIB:,.1f} KiB",
            f"{med(steps.sizes) * limits.SCREEN_FPS * 8 / 1e6:,.1f} Mbit/s at 30 /s")
    )  # fmt: skip
    if steps.keyframe_sizes:
        section.rows.append(
            Row("  keyframe (each layer's first)", f"{med(steps.keyframe_sizes) / KIB:,.1f} KiB")
        )
    section.notes.append(
        f"video region found: {region.width}x{region.height} at ({region.x}, {region.y})"
        if region is not None
        else "no video region was found"
    )
    section.notes.append(
        "one thread does every step, as the presenter's encoding thread does; the pictures "
        "are made between steps, untimed"
        + ("" if captured else "; Xvfb not installed: capture not measured")
    )
    if quick:
        section.notes.append("--quick: fewer pictures")
    return section


def run(quick: bool) -> list[Section]:
    count = 45 if quick else 150
    steps, share = measure(count)
    return [report(steps, share, quick, captured=bool(steps.capture and any(steps.capture)))]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
