"""Presenting from a browser: pictures a second at 1280x720, all in real Chromium.

Debian's headless Chromium, launched with ``--auto-accept-this-tab-capture``, captures
its own tab (``getDisplayMedia`` with ``preferCurrentTab``: no picker), a 1280x720 page
that changes on every animation frame. The page reads frames exactly as the web client
does (``js/present.js``: MediaStreamTrackProcessor, a canvas, getImageData) and encodes
them with the web client's own encoder (``js/screencast.js``: BGRX, 64x64 tiles, ZLIB
through CompressionStream) against the previous picture; sealing and the network are
not included (benchmarks.crypto and benchmarks.relay measure those). Two scenes: a
200x120 box changing colour (a cursor blinking, a small animation) and the whole page
changing (a video, a scrolled page). Run alone: ``python -m benchmarks.present``.
"""

from __future__ import annotations

import http.server
import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks import Row, Section, format_seconds, skipped_without, standalone
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS
from relaydesk.web import STATIC_DIR

TITLE = "browser presenter"
WIDTH, HEIGHT = 1280, 720
TARGET_FPS = 30.0  # limits.SCREEN_FPS

PAGE = b"""<!doctype html><title>present benchmark</title>
<style>html, body { margin: 0; overflow: hidden; background: #203040; }
#box { position: absolute; left: 300px; top: 200px; width: 200px; height: 120px; }
#all { position: absolute; inset: 0; }</style>
<div id="all"></div><div id="box"></div>
<script type="module">
import { encodeUpdates, rgbaToBgrx, sameBytes } from "/static/js/screencast.js";
window.measure = async (scene, seconds) => {
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { max: 30 }, width: { max: 1920 }, height: { max: 1080 } },
    audio: false, preferCurrentTab: true,
  });
  const [track] = stream.getVideoTracks();
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
  const canvas = new OffscreenCanvas(1, 1);
  const ctx = canvas.getContext("2d", { alpha: false, willReadFrequently: true });
  const target = document.getElementById(scene);
  let hue = 0, running = true;
  const paint = () => {
    hue = (hue + 37) % 360;
    target.style.background = `hsl(${hue} 70% 50%)`;
    if (running) requestAnimationFrame(paint);
  };
  requestAnimationFrame(paint);
  let previous = null, seen = null, width = 0, height = 0;
  const read = [], encode = [], bytes = [];
  let pictures = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const { value: frame } = await reader.read();
    const t0 = performance.now();
    width = frame.displayWidth; height = frame.displayHeight;
    if (canvas.width !== width) { canvas.width = width; canvas.height = height; }
    ctx.drawImage(frame, 0, 0);
    frame.close();
    const { data } = ctx.getImageData(0, 0, width, height);
    if (seen && sameBytes(seen, data)) continue;
    seen = data;
    const pixels = rgbaToBgrx(data);
    const t1 = performance.now();
    const updates = await encodeUpdates(previous, pixels, width, height);
    const t2 = performance.now();
    previous = pixels;
    pictures += 1;
    if (pictures > 3) {  // not the first, full, pictures
      read.push(t1 - t0); encode.push(t2 - t1);
      bytes.push(updates.reduce((n, u) => n + u.tiles.reduce((m, t) => m + t.data.length, 0), 0));
    }
  }
  running = false;
  const elapsed = (performance.now() - start) / 1000;
  track.stop();
  return { pictures, elapsed, read, encode, bytes, width, height };
};
window.ready = true;
</script>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/":
            body, kind = PAGE, "text/html"
        else:
            path = (STATIC_DIR / self.path.removeprefix("/static/")).resolve()
            if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
                self.send_error(404)
                return
            body, kind = path.read_bytes(), "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"  # localhost: a secure context
    finally:
        server.shutdown()
        server.server_close()


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _scene(page: Any, scene: str, seconds: float) -> Row:
    result = page.evaluate("([scene, seconds]) => window.measure(scene, seconds)", [scene, seconds])
    fps = result["pictures"] / result["elapsed"]
    read = _median(result["read"]) / 1e3
    encode = _median(result["encode"]) / 1e3
    size = _median(result["bytes"])
    what = "200x120 box changes" if scene == "box" else "whole page changes"
    return Row(
        f"{what}, {result['width']}x{result['height']}: pictures/s (read {format_seconds(read)}"
        f" + encode {format_seconds(encode)}, {size / 1024:.0f} KiB)",
        f"{fps:.1f}",
        f"{1 / max(read + encode, 1e-6):.0f}/s CPU-bound",
        f">= {TARGET_FPS:.0f}/s (capped at {TARGET_FPS:.0f})",
        "met" if fps >= TARGET_FPS * 0.9 else "MISSED",
    )


def run(quick: bool) -> list[Section]:
    if skipped := skipped_without(TITLE, CHROMIUM):
        return skipped
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev dependency

    seconds = 2.0 if quick else 6.0
    section = Section(
        f"browser presenter: headless Chromium (Debian) capturing its own {WIDTH}x{HEIGHT} "
        "tab; read (draw + getImageData + BGRX) and encode (64x64 diff + ZLIB), no sealing"
    )
    with _server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--auto-accept-this-tab-capture"]
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(url)
            page.wait_for_function("window.ready === true")
            for scene in ("box", "all"):
                section.rows.append(_scene(page, scene, seconds))
        finally:
            browser.close()
    section.notes.append(
        "pictures/s counts captured frames that differed from the one before, each read and "
        "encoded; the capture itself is asked for at most 30 frames a second"
    )
    section.notes.append(
        "'CPU-bound' is 1 / (read + encode): the rate the page could sustain uncapped"
    )
    return [section]


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
