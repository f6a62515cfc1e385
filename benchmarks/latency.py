"""Glass-to-glass latency and join -> first frame, on Xvfb at 1920x1080, all real.

Processes: Xvfb with a full-screen xterm full of text (the presenter's desktop);
``relaydesk server`` (see ``benchmarks.relay``); the presenter, ``relaydesk start`` after
``relaydesk login``, sharing that display (capture, changed regions, encoding, sealing
at most ``limits.SCREEN_FPS`` times a second); and this process, which is both a real X
client on the presenter's display and a Python viewer (``client.member.Member`` and
``screen.framebuffer.FrameBuffer``, as ``relaydesk join`` runs them).

Glass to glass: the X client fills a small override-redirect window with a new color
(python-xlib: ChangeGC + PolyFillRectangle, then a round trip, XSync); the clock starts
when the round trip returns, so the X server has drawn it. It stops when the viewer has
applied an update after which the marker's center pixel in its framebuffer has that
color. Both timestamps are ``time.monotonic()`` in this process. Markers come at random
intervals (50-150 ms), so they fall anywhere in the presenter's capture period.

Join -> first frame: from the viewer's first step (fetching and checking the server's
certificate, as ``relaydesk join --fingerprint`` does) through the broker's join API,
the relay connection, the key leader's new epoch and the presenter's full picture, to
that picture applied in the framebuffer. Run alone: ``python -m benchmarks.latency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from Xlib import X
from Xlib import display as xdisplay

from benchmarks import Row, Section, format_seconds, skipped_without, standalone
from benchmarks.relay import PASSWORD, USERNAME, RunningServer, relay_server, relaydesk_command
from relaydesk import limits
from relaydesk.client import tls
from relaydesk.client.api import BrokerApi
from relaydesk.client.member import Member, Received, Rejected
from relaydesk.protocol.frames import FrameType
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import ScreenUpdate
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.framebuffer import FrameBuffer
from relaydesk.screen.xvfb import Xvfb

TITLE = "latency"

WIDTH, HEIGHT = 1920, 1080
COLUMNS, ROWS = 239, 63  # xterm, DejaVu Sans Mono 10 pt: the whole screen
MARKER_X, MARKER_Y, MARKER_SIZE = 1700, 500, 16  # over the text, like a typed character
# PERFORMANCE.md targets.
P50_TARGET, P95_TARGET = 0.030, 0.060  # glass to glass, loopback, 1080p typing
JOIN_TARGET = 0.5  # join -> first frame, Python viewer
MARKER_TIMEOUT = 3.0
START_TIMEOUT = 60.0

_SESSION_ID = re.compile(r"Session ID: (\d{3}) (\d{3}) (\d{3})")
_WORDS = (
    "the of and to in is that for it as was with be by on not this are or from at which "
    "but have an they you were one all we if has will so no what up can more when out "
    "def return import class self none true false numpy array frame tile screen relay"
)


def _text(path: Path, lines: int = 200) -> Path:
    rng = random.Random(3)  # the same screen every run
    words = _WORDS.split()
    rows = []
    for _ in range(lines):
        line = ""
        length = rng.randint(10, COLUMNS - 3)
        while len(line) < length:
            line += rng.choice(words) + " "
        rows.append(line[:length].rstrip())
    path.write_text("\n".join(rows) + "\n")
    return path


# The presenter's desktop -------------------------------------------------------------


@contextlib.contextmanager
def desktop(directory: Path) -> Iterator[Xvfb]:
    """Xvfb with a full-screen xterm showing text, waiting until it is drawn."""
    with Xvfb(WIDTH, HEIGHT, 24) as server:
        text = _text(directory / "text.txt")
        xterm = subprocess.Popen(
            ["xterm", "-geometry", f"{COLUMNS}x{ROWS}+0+0", "-fa", "DejaVu Sans Mono", "-fs", "10",
             "-bg", "white", "-fg", "black", "-e", "sh", "-c", f"cat {text}; exec sleep 3600"],
            env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with ScreenCapture(server.display) as capture:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    picture = capture.grab()
                    if (picture[HEIGHT // 2, :, :3] < 128).any():  # text reached mid-screen
                        break
                    time.sleep(0.05)
                else:
                    raise RuntimeError("the xterm did not show its text")
            time.sleep(0.3)
            yield server
        finally:
            xterm.terminate()
            xterm.wait(5)


class Marker:
    """A small window on the presenter's display, repainted with a new color on demand."""

    def __init__(self, display_name: str) -> None:
        self.display = xdisplay.Display(display_name)
        screen = self.display.screen()
        self.window = screen.root.create_window(
            MARKER_X, MARKER_Y, MARKER_SIZE, MARKER_SIZE, 0, screen.root_depth,
            X.InputOutput, X.CopyFromParent, background_pixel=screen.black_pixel,
            override_redirect=True,
        )  # fmt: skip
        self.gc = self.window.create_gc(foreground=screen.black_pixel)
        self.window.map()
        self.display.sync()

    def paint(self, rgb: tuple[int, int, int]) -> float:
        """Fill the window with ``rgb``; return the time the X server had done it."""
        red, green, blue = rgb
        self.gc.change(foreground=(red << 16) | (green << 8) | blue)  # TrueColor, depth 24
        self.window.fill_rectangle(self.gc, 0, 0, MARKER_SIZE, MARKER_SIZE)
        self.display.sync()  # a round trip: everything before it has been drawn
        return time.monotonic()

    def close(self) -> None:
        self.window.destroy()
        self.display.close()


def marker_color(number: int) -> tuple[int, int, int]:
    """A different color for each marker (blue alone tells the first 128 apart)."""
    return ((number * 37 + 11) & 0xFF, (number * 101 + 50) & 0xFF, 0x80 | (number & 0x7F))


# The presenter -----------------------------------------------------------------------


@contextlib.contextmanager
def presenter(server: RunningServer, display: str, directory: Path) -> Iterator[str]:
    """``relaydesk login`` then ``relaydesk start`` on ``display``; yields the session ID."""
    command = relaydesk_command()
    profile = directory / "presenter-profile"
    connection = ["--fingerprint", server.fingerprint, "--config-dir", str(profile)]
    subprocess.run(
        [*command, "login", server.url, USERNAME, "--password-stdin", *connection],
        input=f"{PASSWORD}\n".encode(), capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    log = directory / "presenter.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [*command, "start", *connection],
            env={**os.environ, "DISPLAY": display}, stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = _SESSION_ID.search(log.read_text(errors="replace"))
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relaydesk start failed: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield "".join(found.groups())
    finally:
        process.terminate()  # ends the session, as Ctrl+C would
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The viewer --------------------------------------------------------------------------


@dataclass
class Viewer:
    member: Member
    started: float  # when joining began
    framebuffer: FrameBuffer = field(default_factory=FrameBuffer)
    times: dict[str, float] = field(default_factory=dict)  # milestones, seconds from start
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    first_frame_bytes: int = 0
    first_frame_apply: float = 0.0  # seconds FrameBuffer.apply took for it
    expected: np.ndarray | None = None  # BGRX of the marker being waited for
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    seen_at: float = 0.0
    rejected: int = 0
    task: asyncio.Task[None] | None = None

    def mark(self, milestone: str) -> None:
        self.times.setdefault(milestone, time.monotonic() - self.started)

    async def run(self) -> None:
        member = self.member
        async for item in member.messages():
            if isinstance(item, Rejected):
                self.rejected += 1
                continue
            self._milestones(item)
            update = item.message
            if not isinstance(update, ScreenUpdate) or item.header.sender != member.presenter:
                continue
            applying = time.monotonic()
            self.framebuffer.apply(update)
            if not self.first_frame.is_set():
                self.mark("first frame")
                self.first_frame_apply = time.monotonic() - applying
                self.first_frame_bytes = sum(len(tile.data) for tile in update.tiles)
                self.first_frame.set()
            expected = self.expected
            if expected is not None and not self.seen.is_set():
                center = self.framebuffer.picture[
                    MARKER_Y + MARKER_SIZE // 2, MARKER_X + MARKER_SIZE // 2
                ]
                if np.array_equal(center[:3], expected):
                    self.seen_at = time.monotonic()
                    self.seen.set()

    def _milestones(self, item: Received) -> None:
        if item.header.type is FrameType.ROSTER:
            self.mark("roster")
        if self.member.e2e.current is not None:
            self.mark("epoch key")

    def expect(self, rgb: tuple[int, int, int]) -> None:
        red, green, blue = rgb
        self.expected = np.array([blue, green, red], np.uint8)
        self.seen.clear()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.member.close()


async def join(server: RunningServer, session_id: str, name: str) -> Viewer:
    """Join as ``relaydesk join --fingerprint`` does and wait for the first picture."""
    started = time.monotonic()
    pem = tls.fetch_certificate(server.url)
    if tls.certificate_fingerprint(pem) != server.fingerprint:
        raise RuntimeError("the server presents another certificate than it printed")
    context = tls.pinned_context(pem)
    keys = MemberKeys.generate(os.urandom)
    async with BrokerApi(server.url, context) as api:
        joined = await api.join(session_id, name, keys.agreement_public, keys.ed25519_public)
    member = Member(joined, keys, context)
    viewer = Viewer(member, started)
    viewer.mark("ticket")
    await member.connect()
    viewer.mark("relay connected")
    viewer.task = asyncio.create_task(viewer.run())
    await asyncio.wait_for(viewer.first_frame.wait(), 10)
    return viewer


async def glass_to_glass(viewer: Viewer, marker: Marker, count: int) -> list[float]:
    rng = random.Random(5)
    latencies = []
    for number in range(1, count + 1):
        await asyncio.sleep(rng.uniform(0.05, 0.15))  # any phase of the capture period
        color = marker_color(number)
        viewer.expect(color)
        painted = marker.paint(color)
        await asyncio.wait_for(viewer.seen.wait(), MARKER_TIMEOUT)
        latencies.append(viewer.seen_at - painted)
    return latencies


# Reporting ---------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, int(np.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def report(latencies: list[float], joins: list[Viewer], quick: bool) -> Section:
    section = Section(
        f"glass to glass, {WIDTH}x{HEIGHT} Xvfb, xterm full of text; relaydesk start -> "
        "relaydesk server -> Python viewer (Member + FrameBuffer), loopback, TLS"
    )
    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    section.rows.append(
        Row(f"marker painted -> in viewer's framebuffer, p50 ({len(latencies)})",
            format_seconds(p50), f"min {format_seconds(min(latencies))}",
            f"<= {P50_TARGET * 1e3:.0f} ms (PERFORMANCE.md)", _verdict(p50, P50_TARGET))
    )  # fmt: skip
    section.rows.append(
        Row(f"marker painted -> in viewer's framebuffer, p95 ({len(latencies)})",
            format_seconds(p95), f"max {format_seconds(max(latencies))}",
            f"<= {P95_TARGET * 1e3:.0f} ms (PERFORMANCE.md)", _verdict(p95, P95_TARGET))
    )  # fmt: skip
    firsts = [viewer.times["first frame"] for viewer in joins]
    first = statistics.median(firsts)
    section.rows.append(
        Row(f"join -> first frame in framebuffer ({len(joins)} joins)", format_seconds(first),
            f"max {format_seconds(max(firsts))}", f"<= {JOIN_TARGET} s (PERFORMANCE.md)",
            _verdict(first, JOIN_TARGET))
    )  # fmt: skip
    for milestone in ("ticket", "relay connected", "roster", "epoch key"):
        values = [viewer.times[milestone] for viewer in joins if milestone in viewer.times]
        if values:
            section.rows.append(
                Row(f"  join: {milestone} after", format_seconds(statistics.median(values)))
            )
    applying = statistics.median(viewer.first_frame_apply for viewer in joins)
    section.rows.append(
        Row("  join: first frame, FrameBuffer.apply alone", format_seconds(applying))
    )
    sizes = sorted({viewer.first_frame_bytes for viewer in joins})
    section.notes.append(
        "first frame = the presenter's full picture, tile data "
        + ", ".join(f"{size / 1024:,.0f} KiB" for size in sizes)
        + f"; the presenter captures at most {limits.SCREEN_FPS:.0f} times a second, and "
        "at once when the X server reports drawing (DAMAGE) and the last picture is "
        f"{1e3 / limits.SCREEN_FPS:.0f} ms old (without DAMAGE a change would wait "
        f"{1e3 / limits.SCREEN_FPS / 2:.0f} ms on average for the next capture)"
    )
    section.notes.append(
        "latency clock: starts when XSync after the fill returns, stops when the viewer has "
        "applied the update showing the new color at the marker's center; time.monotonic() "
        "in one process"
    )
    rejected = sum(viewer.rejected for viewer in joins)
    if rejected:
        section.notes.append(f"frames the viewers rejected: {rejected}")
    section.notes.append(
        "load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    if quick:
        section.notes.append("--quick: fewer markers and joins; p95 of few samples is rough")
    return section


async def _measure(server: RunningServer, session_id: str, display: str, quick: bool) -> Section:
    marker = Marker(display)
    joins: list[Viewer] = []
    try:
        await asyncio.sleep(0.5)  # the presenter's first captures
        join_count = 2 if quick else 5
        for number in range(join_count):
            viewer = await join(server, session_id, f"viewer {number}")
            joins.append(viewer)
            if number < join_count - 1:
                await viewer.close()
                await asyncio.sleep(0.3)  # the presenter starts a new epoch without it
        latencies = await glass_to_glass(joins[-1], marker, 15 if quick else 50)
    finally:
        if joins:
            await joins[-1].close()
        marker.close()
    return report(latencies, joins, quick)


def run(quick: bool) -> list[Section]:
    if skipped := skipped_without("glass to glass", "Xvfb", "xterm"):
        return skipped
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-latency-") as name,
        desktop(Path(name)) as x,
        relay_server(Path(name)) as server,
        presenter(server, x.display, Path(name)) as session_id,
    ):
        return [asyncio.run(_measure(server, session_id, x.display, quick))]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
