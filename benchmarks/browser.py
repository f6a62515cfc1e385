"""The browser viewer: join -> first frame and glass-to-glass latency, all real.

The same presenter's desktop as ``benchmarks.latency`` (Xvfb at 1920x1080 with an xterm
full of text), the same ``relaydesk server`` and ``relaydesk start``; the viewer is the
web client in Debian's headless Chromium, driven by Playwright (never a downloaded
browser), with a fresh browser context for each join (no cache, no connection reused).

Join -> first frame: Playwright opens the invite URL, fills "Your name" and clicks Join.
A watcher placed in the page before the click records, on the page's clock
(``performance.now()``): the click (a capturing listener on the button), the broker's
join answer (its resource timing), the status turning "Connected" (the relay's ROSTER),
the security code appearing (the key leader's commit opened) and the first animation
frame in which the "Shared screen" canvas holds the presenter's picture (144 pixels on a
grid, grabbed from the display beforehand, all equal; checked in a requestAnimationFrame
loop). "page.goto -> first frame" adds loading the page and the scripted form filling.

Glass to glass: a real X client fills a small window on the presenter's display with a
new color (python-xlib, then XSync); the clock starts when XSync returns
(``time.time()``). A requestAnimationFrame loop in the page reads that pixel of the canvas
(getImageData) each frame and records ``performance.timeOrigin + performance.now()`` when
it has the new color. The page's clock is mapped onto this process's clock with the
offset measured over the smallest of several round trips (its uncertainty is printed).
Full-motion video: a page of the server imports the web client's own video decoder
(``js/video.js``) and is fed the x264 frames of a 1080p video as the presenter makes
them (``screen.video.VideoEncoder``, two layers); printed are the WebCodecs decode time
per frame (``VideoDecoder.decode()`` to the picture coming out) and the time to check,
decode and draw it into a canvas. Run alone: ``python -m benchmarks.browser [--quick]``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import Row, Section, format_seconds, skipped_without, standalone
from benchmarks.latency import (
    HEIGHT,
    MARKER_SIZE,
    MARKER_X,
    MARKER_Y,
    P50_TARGET,
    P95_TARGET,
    WIDTH,
    Marker,
    desktop,
    marker_color,
    percentile,
    presenter,
)
from benchmarks.relay import RunningServer, relay_server
from relaydesk.screen.capture import ScreenCapture

TITLE = "browser"

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads one here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
JOIN_TARGET = 1.5  # seconds, join -> first frame in the browser, page load included
MARKER_TIMEOUT_MS = 3000
FIRST_FRAME_TIMEOUT_MS = 20000
GRID = (16, 9)  # sample points checked for "the canvas shows the presenter's picture"

# Placed in the page after it loaded and before Join is clicked. Reads the canvas only
# once it has the presenter's size, so the app has made its own 2D context by then.
WATCH_JOIN = """([width, height, samples, timeoutMs]) => {
  const now = () => performance.now();
  const times = { click: null, connected: null, code: null, firstFrame: null, ticket: null };
  const byId = (id) => document.getElementById(id);
  byId("join").addEventListener("click", () => { times.click ??= now(); }, { capture: true });
  new MutationObserver(() => {
    if (times.connected === null && byId("status").textContent === "Connected") {
      times.connected = now();
    }
    const code = byId("security-code").textContent;
    if (times.code === null && /^\\d{4} \\d{4} \\d{4} \\d{4}$/.test(code)) {
      times.code = now();
    }
  }).observe(document.body, { childList: true, characterData: true, subtree: true });
  const canvas = byId("screen");
  const shows = (context) => samples.every(([x, y, r, g, b]) => {
    const d = context.getImageData(x, y, 1, 1).data;
    return d[0] === r && d[1] === g && d[2] === b;
  });
  const done = new Promise((resolve) => {
    const check = () => {
      if (canvas.width === width && canvas.height === height && shows(canvas.getContext("2d"))) {
        times.firstFrame = now();
        const join = performance.getEntriesByType("resource").find((e) => /\\/join$/.test(e.name));
        times.ticket = join ? join.responseEnd : null;
        const nav = performance.getEntriesByType("navigation")[0];
        times.loaded = nav ? nav.loadEventEnd : null;
        resolve(times);
        return;
      }
      requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
    setTimeout(() => resolve(null), timeoutMs);
  });
  window.relaydeskBench = { times, done };
}"""

# After the first frame: a requestAnimationFrame loop watching one canvas pixel.
WATCH_MARKER = """([x, y]) => {
  const bench = window.relaydeskBench;
  const context = document.getElementById("screen").getContext("2d");
  bench.frameTimes = [];
  bench.arm = (rgb, timeoutMs) => {
    bench.wanted = rgb;
    bench.seen = new Promise((resolve) => {
      bench.resolve = resolve;
      setTimeout(() => { if (bench.wanted === rgb) { bench.wanted = null; resolve(null); } },
                 timeoutMs);
    });
  };
  const loop = (frameTime) => {
    if (bench.frameTimes.length < 120) bench.frameTimes.push(frameTime);
    const wanted = bench.wanted;
    if (wanted) {
      const d = context.getImageData(x, y, 1, 1).data;
      if (d[0] === wanted[0] && d[1] === wanted[1] && d[2] === wanted[2]) {
        bench.wanted = null;
        bench.resolve(performance.timeOrigin + performance.now());
      }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}"""

PAGE_CLOCK = "() => performance.timeOrigin + performance.now()"

# The page's own video decoder (js/video.js) fed x264 frames of a 1080p video: time from
# VideoDecoder.decode() to the picture coming out, and to it drawn into a canvas.
DECODE_VIDEO = """async ([frames, width, height]) => {
  const { VideoRegion } = await import("/static/js/video.js");
  class TileError extends Error {}
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { alpha: false });
  const region = new VideoRegion(TileError);
  const applied = [];
  for (const f of frames) {
    const frame = { ...f, data: Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0)) };
    const started = performance.now();
    const { painted } = await region.apply(frame, context, width, height);
    if (!painted) throw new Error(`frame ${f.number} was not drawn`);
    applied.push(performance.now() - started);
  }
  const config = { codec: "avc1.42c028", codedWidth: width, codedHeight: height };
  const { supported } = await VideoDecoder.isConfigSupported(config);
  return { decode: region.decodeMs, applied, supported };
}"""
VIDEO_FRAMES = 60  # 2 s of 1080p video at 30 a second


@dataclass
class Join:
    """One join, times in seconds: ``from_click`` milestones are on the page's clock."""

    from_goto: float  # page.goto called -> first frame (this process's clock, mapped)
    from_click: dict[str, float]  # milestone -> seconds after the click
    page_load: float  # navigation start -> load event end
    scripted: float  # load event end -> the click: Playwright filling the form


def clock_offset(page: Any, rounds: int = 9) -> tuple[float, float]:
    """(page clock - this process's ``time.time()``, uncertainty), both seconds: the
    round trip with the smallest duration, its midpoint taken as the page's reading."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        before = time.time()
        page_ms = page.evaluate(PAGE_CLOCK)
        after = time.time()
        offset, uncertainty = page_ms / 1000 - (before + after) / 2, (after - before) / 2
        if best is None or uncertainty < best[1]:
            best = (offset, uncertainty)
    assert best is not None
    return best


def samples(display: str) -> list[list[int]]:
    """A grid of (x, y, r, g, b) points of the presenter's screen as it is now."""
    with ScreenCapture(display) as capture:
        picture = capture.grab()
    columns, rows = GRID
    points = []
    for row in range(rows):
        for column in range(columns):
            x = (2 * column + 1) * WIDTH // (2 * columns)
            y = (2 * row + 1) * HEIGHT // (2 * rows)
            blue, green, red = (int(v) for v in picture[y, x, :3])
            points.append([x, y, red, green, blue])
    return points


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev dependency

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(
        ignore_https_errors=True,  # the server's self-signed certificate
        viewport={"width": 1440, "height": 900},
    )
    return context, context.new_page()


def join(page: Any, invite_url: str, name: str, points: list[list[int]]) -> Join:
    """Open the invite, join as ``name``, wait for the presenter's picture."""
    started = time.time()
    page.goto(invite_url)
    page.evaluate(WATCH_JOIN, [WIDTH, HEIGHT, points, FIRST_FRAME_TIMEOUT_MS])
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    times = page.evaluate("() => window.relaydeskBench.done")
    if times is None:
        raise RuntimeError("the browser did not show the presenter's picture in time")
    offset, _ = clock_offset(page)  # this document's clock against ours
    origin = page.evaluate("() => performance.timeOrigin") / 1000 - offset
    click = times["click"]
    from_click = {
        milestone: (times[key] - click) / 1000
        for milestone, key in (
            ("ticket (broker's join answer)", "ticket"),
            ('"Connected" (relay ROSTER)', "connected"),
            ("security code shown (epoch key)", "code"),
            ("first frame", "firstFrame"),
        )
        if times.get(key) is not None
    }
    return Join(
        from_goto=origin + times["firstFrame"] / 1000 - started,
        from_click=from_click,
        page_load=times["loaded"] / 1000,
        scripted=(click - times["loaded"]) / 1000,
    )


def glass_to_glass(page: Any, marker: Marker, count: int) -> tuple[list[float], list[float]]:
    """Latencies (seconds) of ``count`` markers, and the page's animation frame times."""
    offset, _ = clock_offset(page)
    center = [MARKER_X + MARKER_SIZE // 2, MARKER_Y + MARKER_SIZE // 2]
    page.evaluate(WATCH_MARKER, center)
    rng = random.Random(5)
    latencies = []
    for number in range(1, count + 1):
        time.sleep(rng.uniform(0.05, 0.15))  # any phase of the capture period
        color = marker_color(number)
        page.evaluate("([rgb, t]) => window.relaydeskBench.arm(rgb, t)", [color, MARKER_TIMEOUT_MS])
        marker.paint(color)
        painted = time.time()  # XSync has returned: the X server has drawn it
        seen = page.evaluate("() => window.relaydeskBench.seen")
        if seen is None:
            raise RuntimeError(f"marker {number} did not reach the browser's canvas")
        latencies.append(seen / 1000 - offset - painted)
    frames = page.evaluate("() => window.relaydeskBench.frameTimes")
    return latencies, [(b - a) / 1000 for a, b in itertools.pairwise(frames)]


def video_frames(count: int) -> list[dict[str, Any]]:
    """``count`` frames of a 1080p video as the presenter sends them, as page arguments."""
    import base64  # noqa: PLC0415

    from benchmarks.motion import Film  # noqa: PLC0415
    from relaydesk.screen.picture import Rect  # noqa: PLC0415
    from relaydesk.screen.video import VideoEncoder  # noqa: PLC0415

    film = Film(WIDTH, HEIGHT)
    encoder = VideoEncoder(1, Rect(0, 0, WIDTH, HEIGHT), 30.0)
    frames = []
    for t in range(count):
        frame = encoder.encode(film.frame(t))
        fields = {name: getattr(frame, name) for name in frame.__struct_fields__}
        fields["data"] = base64.b64encode(frame.data).decode()
        frames.append(fields)
    return frames


def decode_video(browser: Any, url: str, count: int) -> dict[str, Any]:
    """WebCodecs decode times of ``count`` 1080p frames in a page of the server."""
    context, page = new_page(browser)
    try:
        page.goto(url + "/static/favicon.svg")  # the app's origin (a secure context)
        result: dict[str, Any] = page.evaluate(DECODE_VIDEO, [video_frames(count), WIDTH, HEIGHT])
    finally:
        context.close()
    return result


def video_section(result: dict[str, Any], quick: bool) -> Section:
    section = Section(
        f"browser: full-motion video, {WIDTH}x{HEIGHT} H.264 (x264 ultrafast 4:2:0, two "
        "layers) decoded by js/video.js with WebCodecs in headless Chromium (software)"
    )
    decode = [ms / 1000 for ms in result["decode"]][2:]  # past each layer's first keyframe
    applied = [ms / 1000 for ms in result["applied"]][2:]
    section.rows.append(
        Row(f"VideoDecoder.decode -> picture out, median ({len(decode)} frames)",
            format_seconds(statistics.median(decode)),
            f"p95 {format_seconds(percentile(decode, 0.95))}",
            f"{1 / statistics.median(decode):.0f} frames/s on one decoder thread")
    )  # fmt: skip
    section.rows.append(
        Row("  checked, decoded and drawn into a canvas (VideoRegion.apply), median",
            format_seconds(statistics.median(applied)),
            f"p95 {format_seconds(percentile(applied, 0.95))}")
    )  # fmt: skip
    section.notes.append(
        "WebCodecs Constrained Baseline level 4.0 (avc1.42c028, what x264 ultrafast makes) "
        "supported: " + str(result["supported"]).lower()
    )
    if quick:
        section.notes.append("--quick: fewer frames")
    return section


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def report(
    joins: list[Join], latencies: list[float], frame_gaps: list[float], uncertainty: float,
    quick: bool,
) -> Section:  # fmt: skip
    section = Section(
        f"browser viewer: headless Chromium (Debian), {WIDTH}x{HEIGHT} Xvfb, xterm full of "
        "text; relaydesk start -> relaydesk server -> web client, loopback, TLS"
    )
    from_goto = [j.from_goto for j in joins]
    from_click = [j.from_click["first frame"] for j in joins]
    target = f"<= {JOIN_TARGET} s"
    section.rows.append(
        Row(f"page.goto(invite) -> first frame, median ({len(joins)} joins)",
            format_seconds(statistics.median(from_goto)), f"max {format_seconds(max(from_goto))}",
            f"{target} incl. page load", _verdict(statistics.median(from_goto), JOIN_TARGET))
    )  # fmt: skip
    section.rows.append(
        Row(f"click Join -> first frame, median ({len(joins)} joins)",
            format_seconds(statistics.median(from_click)),
            f"max {format_seconds(max(from_click))}", target,
            _verdict(statistics.median(from_click), JOIN_TARGET))
    )  # fmt: skip
    section.rows.append(
        Row("  page: navigation -> load event", format_seconds(
            statistics.median(j.page_load for j in joins)))
    )  # fmt: skip
    section.rows.append(
        Row("  Playwright: load event -> click (scripted form filling)", format_seconds(
            statistics.median(j.scripted for j in joins)))
    )  # fmt: skip
    for milestone in joins[0].from_click:
        if milestone == "first frame":
            continue
        values = [j.from_click[milestone] for j in joins if milestone in j.from_click]
        section.rows.append(
            Row(f"  join: {milestone} after the click", format_seconds(statistics.median(values)))
        )
    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    section.rows.append(
        Row(f"marker painted -> seen in the canvas, p50 ({len(latencies)})", format_seconds(p50),
            f"min {format_seconds(min(latencies))}", f"<= {P50_TARGET * 1e3:.0f} ms (issue 12)",
            _verdict(p50, P50_TARGET))
    )  # fmt: skip
    section.rows.append(
        Row(f"marker painted -> seen in the canvas, p95 ({len(latencies)})", format_seconds(p95),
            f"max {format_seconds(max(latencies))}", f"<= {P95_TARGET * 1e3:.0f} ms (issue 12)",
            _verdict(p95, P95_TARGET))
    )  # fmt: skip
    if frame_gaps:
        section.notes.append(
            f"the page's animation frames come every {statistics.median(frame_gaps) * 1e3:.1f}"
            " ms (median): a change drawn into the canvas is seen at the next frame, as a "
            "person would see it, and that wait is counted (the Python viewer has none)"
        )
    section.notes.append(
        "first frame = the 144 grid pixels of the canvas equal the presenter's screen, "
        "checked every animation frame; page.goto -> first frame includes Playwright "
        "filling the name (a person takes longer)"
    )
    section.notes.append(
        "latency clock: time.time() after XSync returns -> performance.timeOrigin + "
        "performance.now() in the page, mapped with the offset of the shortest of 9 round "
        f"trips (+/- {uncertainty * 1e3:.1f} ms)"
    )
    section.notes.append(
        "load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    if quick:
        section.notes.append("--quick: fewer joins and markers; p95 of few samples is rough")
    return section


def _measure(server: RunningServer, session_id: str, display: str, quick: bool) -> list[Section]:
    invite = f"{server.url}/j/{session_id}"
    marker = Marker(display)
    try:
        time.sleep(0.5)  # the presenter's first captures
        points = samples(display)
        joins: list[Join] = []
        with chromium() as browser:
            join_count = 2 if quick else 5
            for number in range(join_count):
                context, page = new_page(browser)
                try:
                    joins.append(join(page, invite, f"browser {number}", points))
                    if number < join_count - 1:
                        continue
                    _, uncertainty = clock_offset(page)
                    latencies, gaps = glass_to_glass(page, marker, 10 if quick else 30)
                finally:
                    context.close()
                time.sleep(0.3)  # the presenter starts a new epoch without it
            decoded = decode_video(browser, server.url, 20 if quick else VIDEO_FRAMES)
    finally:
        marker.close()
    return [report(joins, latencies, gaps, uncertainty, quick), video_section(decoded, quick)]


def run(quick: bool) -> list[Section]:
    if skipped := skipped_without("browser viewer", "Xvfb", "xterm", CHROMIUM):
        return skipped
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-browser-") as name,
        desktop(Path(name)) as x,
        relay_server(Path(name)) as server,
        presenter(server, x.display, Path(name)) as session_id,
    ):
        return _measure(server, session_id, x.display, quick)


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
