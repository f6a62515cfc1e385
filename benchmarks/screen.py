"""Screen pipeline: ms and bytes a frame at 1920x1080 for a terminal's everyday work.

A fresh Xvfb (1920x1080x24) shows one xterm filling the screen, full of text, a shell
loop at the bottom line reading what is typed. The presenter's loop is played exactly as
``agent.presenter`` runs it: capture (mss, XShm), ``encode_update(previous, current)``
(changed regions, scroll detection, zlib), and the updates are counted as they would
go on the wire. Scenarios:

- idle: nothing changes;
- typing: one character at a time (xdotool), a frame when the terminal has drawn it;
- Enter at the bottom line: each scrolls the whole text up by one line;
- output: new dense text printed at 100 lines a second (a build log), and ``seq`` as
  fast as xterm takes it; frames paced at limits.SCREEN_FPS, bytes divided by the
  lines that scrolled through;
- a full picture (what a viewer gets when joining) of the screen full of text;
- a window moved: a second xterm (80x24, text) moved about over the first one, a frame
  once it is drawn: with the hint the presenter has from the windows it follows
  (``WindowWatch``, ``Layout.moves_since``), and the same frames from the pixels alone.

Bytes are wire bytes: the encoded ScreenUpdate (msgpack) + 80 (AES-GCM tag and Ed25519
signature) + 44 (frame header) per update. The zlib level table re-encodes the recorded
frames at other levels. The peers (benchmarks/vnc.py: TigerVNC's Xvnc and x11vnc, ZRLE
and CopyRect, counted at a TCP proxy) run the same typing, Enter, text-log and
window-move workloads on the same xterm in the same run, printed side by side. Run alone:
``python -m benchmarks.screen [--quick]``.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import (
    Row,
    Section,
    format_seconds,
    skipped_without,
    standalone,
    version_of,
)
from benchmarks.vnc import COPY_RECT as COPY_RECT_ENCODING
from benchmarks.vnc import ZRLE as ZRLE_ENCODING
from benchmarks.vnc import CountingProxy, RfbViewer, Xvnc, peers_installed, x11vnc
from relaydesk import limits
from relaydesk.agent.windows import WindowWatch
from relaydesk.protocol.e2e import SIGNATURE_SIZE, TAG_SIZE
from relaydesk.protocol.frames import HEADER_SIZE
from relaydesk.protocol.messages import ScreenUpdate, TileEncoding, encode
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.codec import SEALING_OVERHEAD, ZLIB_LEVEL, Move, encode_update
from relaydesk.screen.picture import Picture
from relaydesk.screen.xvfb import Xvfb

TITLE = "screen"

WIDTH, HEIGHT = 1920, 1080
COLUMNS, ROWS = 239, 63  # DejaVu Sans Mono 10 pt: 8x17-pixel cells, 1916x1075 pixels
# Named, not "Monospace": fontconfig may resolve that to a wider font (Noto Sans Mono when
# Chromium's fonts are installed), and the xterm's bottom rows, where typing happens,
# would fall off the screen.
XTERM_FONT = "DejaVu Sans Mono"
WIRE_OVERHEAD = SEALING_OVERHEAD + HEADER_SIZE  # per update, on top of its encoding
TYPED = "the quick brown fox jumps over the lazy dog; print(relaydesk) 0123456789 " * 2

# PERFORMANCE.md: targets, and the peers measured on the same xterm workload.
TYPING_TARGET = 100  # bytes a character, pixel-exact (Xvnc ZRLE 125, x11vnc ZRLE 147)
SCROLL_TARGET = 2300  # bytes a line scrolled (Xvnc 2.3 KB, x11vnc ZRLE 87 KB)
TYPING_PEERS = "Xvnc 125, x11vnc 147"
SCROLL_PEERS = "Xvnc 2.3 KB, x11vnc 87 KB"
LEVELS = (1, 6, 9)
WORDS = """the of and to in is that for it as was with be by on not he this are or his from
at which but have an they you were her she there been one all we their if has will so no
would what up can more when out about said some into them could than other time only new
def return import class self none true false numpy array frame tile screen relay"""

LOG_LINES = 150  # printed by "log" at LOG_RATE lines a second
LOG_RATE = 100.0
SEQ_LINES = 5000
MOVED = "window moved"
MOVING_TITLE = "relaydesk-moving"
MOVES = ((64, 40), (-64, 40), (-64, -40), (64, -40))  # dragged about, back where it began
SETTLE_SECONDS = 0.03  # a frame is taken once the screen stayed equal this long
CHANGE_TIMEOUT = 3.0


@dataclass
class Frame:
    previous: Picture | None
    current: Picture
    capture_seconds: float
    encode_seconds: float
    updates: list[ScreenUpdate]

    @property
    def payload(self) -> int:
        return sum(len(encode(update)) for update in self.updates)

    @property
    def wire(self) -> int:
        return self.payload + WIRE_OVERHEAD * len(self.updates)


@dataclass
class Scenario:
    name: str
    frames: list[Frame] = field(default_factory=list)
    units: int = 0  # characters typed or lines scrolled


def wire_bytes(updates: list[ScreenUpdate]) -> int:
    return sum(len(encode(update)) + WIRE_OVERHEAD for update in updates)


def text_file(path: Path, seed: int, lines: int = 400) -> Path:
    """Dense, varied lines of words (a seeded RNG: every run shows the same text)."""
    rng = random.Random(seed)
    words = WORDS.split()
    text = []
    for _ in range(lines):
        length = rng.randint(10, COLUMNS - 3)
        line = ""
        while len(line) < length:
            line += rng.choice(words) + " "
        text.append(line[:length].rstrip())
    path.write_text("\n".join(text) + "\n")
    return path


# Prints a file line by line at a steady rate, as a build log or a tail -f would.
PRINTER = """import sys, time
rate = float(sys.argv[2])
start = time.monotonic()
for number, line in enumerate(open(sys.argv[1])):
    time.sleep(max(0.0, start + number / rate - time.monotonic()))
    sys.stdout.write(line)
    sys.stdout.flush()
"""


class Desk:
    """The presenter's screen: Xvfb, one full-screen xterm, a capture, the last picture."""

    def __init__(self, server: Xvfb, capture: ScreenCapture) -> None:
        self.server = server
        self.capture = capture
        self.picture: Picture | None = None

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.server.env, check=True, timeout=30)

    def grab_until(self, done: Callable[[Picture], bool], timeout: float) -> Picture:
        deadline = time.monotonic() + timeout
        picture = self.capture.grab()
        while not done(picture) and time.monotonic() < deadline:
            time.sleep(0.003)
            picture = self.capture.grab()
        return picture

    def settled(self) -> Picture:
        """Wait for a change from the last picture, then for the screen to stay still."""
        last = self.picture
        picture = self.grab_until(
            lambda p: last is None or not np.array_equal(p, last), CHANGE_TIMEOUT
        )
        while True:
            time.sleep(SETTLE_SECONDS)
            again = self.capture.grab()
            if np.array_equal(again, picture):
                return again
            picture = again

    def window(self, title: str) -> str:
        """The id of the visible window called ``title`` (waiting for it to appear)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", title],
                env=self.server.env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if window := found.stdout.split("\n", 1)[0].strip():
                return window
            time.sleep(0.05)
        raise RuntimeError(f"the window {title!r} did not appear")

    def frame(self, moves: Sequence[Move] = ()) -> Frame:
        """One turn of the presenter's loop: capture, encode against the last picture
        (``moves``: the windows that moved, as the presenter's window watch says)."""
        started = time.perf_counter()
        current = self.capture.grab()
        captured = time.perf_counter()
        updates = encode_update(self.picture, current, limits.MAX_FRAME_BODY, moves=moves)
        encoded = time.perf_counter()
        frame = Frame(self.picture, current, captured - started, encoded - captured, updates)
        self.picture = current
        return frame


@contextmanager
def desk(server_kind: type[Xvfb] = Xvfb) -> Iterator[Desk]:
    """An X server (Xvfb, or a peer's: Xvnc) with a full-screen xterm showing 400 lines
    of text and, at the bottom, a shell loop: ``log`` prints new text at LOG_RATE lines
    a second, ``seq`` 5000 lines as fast as it can; anything else is just read."""
    with tempfile.TemporaryDirectory() as name, server_kind(WIDTH, HEIGHT, 24) as server:
        directory = Path(name)
        text = text_file(directory / "text.txt", 7)
        log = text_file(directory / "log.txt", 8, LOG_LINES)
        printer = directory / "printer.py"
        printer.write_text(PRINTER)
        script = (
            f"cat {text}; "
            'while read line; do case "$line" in '
            f"log) {sys.executable} {printer} {log} {LOG_RATE} ;; "
            f"seq) seq 1 {SEQ_LINES} ;; esac; done"
        )
        xterm = subprocess.Popen(
            ["xterm", "-geometry", f"{COLUMNS}x{ROWS}+0+0", "-fa", XTERM_FONT, "-fs", "10",
             "-bg", "white", "-fg", "black", "-T", "relaydesk-benchmark", "-e", "sh", "-c",
             script],
            env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with ScreenCapture(server.display, server.CAPTURE_BACKEND) as capture:
                table = Desk(server, capture)
                window = table.window("relaydesk-benchmark")
                _check_fits(server, window)
                table.xdotool("windowfocus", "--sync", window)
                table.xdotool("mousemove", str(WIDTH - 1), str(HEIGHT - 1))  # out of the way
                table.grab_until(_full_of_text, 10)
                table.picture = table.settled()
                yield table
        finally:
            xterm.terminate()
            xterm.wait(5)


def _check_fits(server: Xvfb, window: str) -> None:
    """Refuse to measure an xterm larger than the screen: its hidden rows would take the
    typing and the prompt, and typing would cost 0 bytes."""
    geometry = subprocess.run(
        ["xdotool", "getwindowgeometry", window],
        env=server.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    size = geometry.rsplit("Geometry:", 1)[1].split()[0]
    width, height = (int(n) for n in size.split("x"))
    if width > WIDTH or height > HEIGHT:
        raise RuntimeError(
            f"the xterm ({size}) does not fit {WIDTH}x{HEIGHT}: is {XTERM_FONT} installed?"
        )


def _full_of_text(picture: Picture) -> bool:
    """The text reached the top line and the bottom one (the loop's cursor)."""
    top_line, bottom_line = picture[2:19, 2:400, :3], picture[1058:1075, 2:20, :3]
    return bool((top_line < 128).any() and (bottom_line < 128).any())


def idle(table: Desk, count: int) -> Scenario:
    scenario = Scenario("idle")
    table.frame()
    for _ in range(count):
        scenario.frames.append(table.frame())
    return scenario


def typing(table: Desk, count: int) -> Scenario:
    scenario = Scenario("typing", units=count)
    for character in TYPED[:count]:
        table.xdotool("type", "--delay", "0", character)
        table.settled()
        scenario.frames.append(table.frame())
    table.xdotool("key", "ctrl+u")  # clear the line for what comes next
    table.settled()
    table.frame()
    return scenario


def enter_scroll(table: Desk, count: int) -> Scenario:
    scenario = Scenario("Enter at the bottom line", units=count)
    for _ in range(count):
        table.xdotool("key", "Return")
        table.settled()
        scenario.frames.append(table.frame())
    return scenario


def bulk_output(table: Desk, command: str, lines: int, name: str) -> Scenario:
    """Frames paced at SCREEN_FPS while ``command`` prints, until the screen is still."""
    scenario = Scenario(name, units=lines)
    table.xdotool("type", "--delay", "0", command)
    table.settled()
    table.frame()
    table.xdotool("key", "Return")
    interval = 1.0 / limits.SCREEN_FPS
    still_since = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = time.monotonic()
        frame = table.frame()
        if frame.updates:
            scenario.frames.append(frame)
            still_since = None
        elif scenario.frames:
            still_since = still_since or started
            if started - still_since > 0.5:
                break
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return scenario


@contextmanager
def moving_window(table: Desk, text: Path) -> Iterator[str]:
    """A second xterm (80x24) showing ``text`` over the first one, closed afterwards."""
    xterm = subprocess.Popen(
        ["xterm", "-geometry", "80x24+400+200", "-fa", XTERM_FONT, "-fs", "10", "-bg",
         "#fffff0", "-fg", "black", "-T", MOVING_TITLE, "-e", "sh", "-c",
         f"cat {text}; sleep 3600"],
        env=table.server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield table.window(MOVING_TITLE)
    finally:
        xterm.terminate()
        xterm.wait(5)


def window_moves(table: Desk, count: int) -> Scenario:
    """The moving xterm dragged ``count`` times, each frame encoded with the window
    watch's hint (the report encodes them again from the pixels alone)."""
    scenario = Scenario(MOVED, units=count)
    with tempfile.TemporaryDirectory() as name, WindowWatch(table.server.display) as watch:
        text = text_file(Path(name) / "moving.txt", 9, 30)
        with moving_window(table, text) as window:
            table.settled()
            table.frame()
            layout = watch.current()
            x, y = 400, 200
            for step in range(count):
                dx, dy = MOVES[step % len(MOVES)]
                x, y = x + dx, y + dy
                table.xdotool("windowmove", window, str(x), str(y))
                table.settled()
                now = watch.current()  # read before the grab, as the presenter does
                scenario.frames.append(table.frame(now.moves_since(layout)))
                layout = now
        table.settled()
        table.frame()
    return scenario


def full_picture(table: Desk, repeats: int) -> Scenario:
    scenario = Scenario("full picture", units=1)
    assert table.picture is not None
    picture = table.picture
    for _ in range(repeats):
        started = time.perf_counter()
        updates = encode_update(None, picture, limits.MAX_FRAME_BODY)
        elapsed = time.perf_counter() - started
        scenario.frames.append(Frame(None, picture, 0.0, elapsed, updates))
    return scenario


# The peers, on the same workload ------------------------------------------------------


@dataclass
class PeerFigures:
    """Bytes a peer's server sent for each workload: per character typed, per line."""

    name: str
    typing: list[int] = field(default_factory=list)  # one figure per character
    enter: list[int] = field(default_factory=list)  # one figure per Enter
    log_per_line: float = 0.0
    moves: list[int] = field(default_factory=list)  # one figure per window move
    rects: dict[int, int] = field(default_factory=dict)


def _peer_step(
    table: Desk, viewer: RfbViewer, proxy: CountingProxy, act: Callable[[], None]
) -> int:
    """Bytes the peer sent for one action, once its screen is still and the viewer has
    been told everything."""
    before, updates = proxy.down, viewer.updates
    act()
    table.picture = table.settled()
    viewer.wait_quiet(updates)
    return proxy.down - before


def _still(table: Desk, seconds: float, timeout: float = 60.0) -> None:
    """Wait until the screen changed and then stayed the same for ``seconds``."""
    deadline = time.monotonic() + timeout
    last, still_since = table.capture.grab(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        picture = table.capture.grab()
        if not np.array_equal(picture, last):
            last, still_since = picture, time.monotonic()
        elif time.monotonic() - still_since >= seconds:
            return


def measure_peer(name: str, chars: int, enters: int, moves: int) -> PeerFigures:
    """The typing, Enter, text-log and window-move workloads on the peer ``name``."""
    figures = PeerFigures(name)
    with (
        desk(Xvnc if name == "Xvnc" else Xvfb) as table,
        ExitStack() as stack,
        tempfile.TemporaryDirectory() as directory,
    ):
        server = table.server
        port = server.rfb_port if isinstance(server, Xvnc) else stack.enter_context(x11vnc(server))
        proxy = CountingProxy(port)
        stack.callback(proxy.close)
        viewer = RfbViewer(proxy.port)
        stack.callback(viewer.close)
        viewer.wait_quiet(0)  # the first whole picture, not counted
        for character in TYPED[:chars]:
            step = partial(table.xdotool, "type", "--delay", "0", character)
            figures.typing.append(_peer_step(table, viewer, proxy, step))
        _peer_step(table, viewer, proxy, partial(table.xdotool, "key", "ctrl+u"))
        for _ in range(enters):
            step = partial(table.xdotool, "key", "Return")
            figures.enter.append(_peer_step(table, viewer, proxy, step))
        _peer_step(table, viewer, proxy, partial(table.xdotool, "type", "--delay", "0", "log"))
        before = proxy.down
        table.xdotool("key", "Return")
        _still(table, 0.5)
        viewer.wait_quiet()
        figures.log_per_line = (proxy.down - before) / (LOG_LINES + 1)
        text = text_file(Path(directory) / "moving.txt", 9, 30)
        window = stack.enter_context(moving_window(table, text))
        _still(table, 0.5)
        viewer.wait_quiet()
        x, y = 400, 200
        for turn in range(moves):
            dx, dy = MOVES[turn % len(MOVES)]
            x, y = x + dx, y + dy
            move = partial(table.xdotool, "windowmove", window, str(x), str(y))
            figures.moves.append(_peer_step(table, viewer, proxy, move))
        figures.rects = dict(viewer.rects)
    return figures


def peer_table(scenarios: list[Scenario], peers: list[PeerFigures]) -> Section:
    """relaydesk and the peers side by side, bytes on the wire for the same workload."""
    names = ["relaydesk", *(peer.name for peer in peers)]
    section = Section(
        "bytes on the wire, same xterm workload, same run: "
        + " | ".join(names)
        + " (peers: ZRLE + CopyRect through a counting TCP proxy)"
    )
    ours = {scenario.name: scenario for scenario in scenarios}
    typing = ours.get("typing")
    enter = ours.get("Enter at the bottom line")
    log = next((sc for name, sc in ours.items() if name.startswith("text log")), None)
    moved = ours.get(MOVED)

    def cells(mine: float | None, theirs: list[float]) -> str:
        values = ([_size(mine)] if mine is not None else ["-"]) + [_size(v) for v in theirs]
        return " | ".join(values)

    if typing is not None:
        mine = statistics.median([f.wire for f in typing.frames])
        theirs = [float(statistics.median(p.typing)) for p in peers]
        section.rows.append(
            Row("typing, bytes/char (median)", cells(mine, theirs), "",
                f"<= {TYPING_TARGET} B, beat every peer",
                _verdict(mine, min([TYPING_TARGET, *theirs])))
        )  # fmt: skip
    if enter is not None:
        mine = sum(f.wire for f in enter.frames) / max(1, enter.units)
        theirs = [sum(p.enter) / max(1, len(p.enter)) for p in peers]
        section.rows.append(
            Row("Enter at the bottom line, bytes/line", cells(mine, theirs), "",
                "<= 2.3 KB", _verdict(mine, SCROLL_TARGET))
        )  # fmt: skip
    if log is not None:
        mine = sum(f.wire for f in log.frames) / max(1, log.units)
        theirs = [p.log_per_line for p in peers]
        section.rows.append(
            Row("text log, 100 lines/s, bytes/line", cells(mine, theirs), "",
                "<= 2.3 KB", _verdict(mine, SCROLL_TARGET))
        )  # fmt: skip
    if moved is not None:
        mine = statistics.median([f.wire for f in moved.frames])
        theirs = [float(statistics.median(p.moves)) for p in peers if p.moves]
        section.rows.append(
            Row("window moved (80x24 xterm), bytes/move", cells(mine, theirs), "",
                "beat every peer", _verdict(mine, min(theirs, default=mine)))
        )  # fmt: skip
    for peer in peers:
        kinds = {ZRLE_ENCODING: "ZRLE", COPY_RECT_ENCODING: "CopyRect"}
        counts = ", ".join(f"{kinds.get(k, k)} {n}" for k, n in sorted(peer.rects.items()))
        section.notes.append(f"{peer.name}: rectangles sent: {counts or 'none'}")
    section.notes.append(
        "relaydesk: frames as they go on the wire (44-byte header + sealed body) before TLS; "
        "the peers send no encryption at all"
    )
    return section


# Reporting ---------------------------------------------------------------------------


def _median_ms(values: list[float]) -> str:
    return format_seconds(statistics.median(values)) if values else "-"


def _size(size: float) -> str:
    if size >= 10 * 1024:
        return f"{size / 1024:.0f} KiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size:.0f} B"


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def _encodings(scenario: Scenario) -> str:
    counts: dict[str, int] = {}
    for frame in scenario.frames:
        for update in frame.updates:
            for tile in update.tiles:
                counts[tile.encoding.name] = counts.get(tile.encoding.name, 0) + 1
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def report(scenarios: list[Scenario]) -> Section:
    section = Section(
        f"screen pipeline, {WIDTH}x{HEIGHT} Xvfb, xterm {COLUMNS}x{ROWS} "
        f"(zlib level {ZLIB_LEVEL}; bytes = encoded update + {SEALING_OVERHEAD} sealing + "
        f"{HEADER_SIZE} header per update)"
    )
    for scenario in scenarios:
        frames = scenario.frames
        capture = [f.capture_seconds for f in frames if f.capture_seconds]
        encode_times = [f.encode_seconds for f in frames]
        totals = [f.capture_seconds + f.encode_seconds for f in frames]
        wire = sum(f.wire for f in frames)
        payload = sum(f.payload for f in frames)
        updates = sum(len(f.updates) for f in frames)
        name = scenario.name
        if name == "idle":
            section.rows.append(
                Row(f"idle: ms/frame ({len(frames)} frames)", _median_ms(totals),
                    f"capture {_median_ms(capture)}", "0 B", _verdict(wire, 0))
            )  # fmt: skip
            section.rows.append(Row("idle: bytes/frame", f"{wire / len(frames):.0f} B"))
        elif name == "typing":
            per_char = [f.wire for f in frames]
            section.rows.append(
                Row(f"typing: ms/frame ({len(frames)} chars)", _median_ms(totals),
                    f"capture {_median_ms(capture)}, encode {_median_ms(encode_times)}")
            )  # fmt: skip
            section.rows.append(
                Row("typing: wire bytes/char", f"{statistics.median(per_char):.0f} B",
                    f"mean {wire / scenario.units:.0f} B",
                    f"<= {TYPING_TARGET} B ({TYPING_PEERS})",
                    _verdict(statistics.median(per_char), TYPING_TARGET))
            )  # fmt: skip
            section.rows.append(
                Row("typing: payload bytes/char (no envelope)",
                    f"{statistics.median([f.payload for f in frames]):.0f} B",
                    f"{updates} updates")
            )  # fmt: skip
            section.notes.append(
                f"typing: each character is one update; its envelope is {WIRE_OVERHEAD} B "
                f"({HEADER_SIZE} header, {TAG_SIZE} AES-GCM tag, {SIGNATURE_SIZE} Ed25519 "
                f"signature), the rest payload; tiles {_encodings(scenario)}"
            )
        elif name == MOVED:
            pixels = [wire_bytes(encode_update(f.previous, f.current)) for f in frames]
            section.rows.append(
                Row(f"{name}: ms/frame ({len(frames)} moves)", _median_ms(totals),
                    f"capture {_median_ms(capture)}, encode {_median_ms(encode_times)}")
            )  # fmt: skip
            section.rows.append(
                Row(f"{name}: wire bytes/move",
                    _size(statistics.median([f.wire for f in frames])),
                    f"from the pixels alone {_size(statistics.median(pixels))}")
            )  # fmt: skip
            section.notes.append(f"{name}: tiles {_encodings(scenario)}")
        elif name == "full picture":
            size = frames[0].wire
            section.rows.append(
                Row("full picture (join): ms", _median_ms(encode_times),
                    f"{_size(size)}, {updates // len(frames)} update(s)")
            )  # fmt: skip
        else:
            per_line = wire / max(1, scenario.units)
            section.rows.append(
                Row(f"{name}: ms/frame ({len(frames)} frames)", _median_ms(totals),
                    f"capture {_median_ms(capture)}, encode {_median_ms(encode_times)}")
            )  # fmt: skip
            section.rows.append(
                Row(f"{name}: wire bytes/line ({scenario.units} lines)", _size(per_line),
                    f"payload {_size(payload / max(1, scenario.units))}",
                    f"<= 2.3 KB ({SCROLL_PEERS})", _verdict(per_line, SCROLL_TARGET))
            )  # fmt: skip
            section.notes.append(f"{name}: tiles {_encodings(scenario)}")
    return section


def level_table(scenarios: list[Scenario]) -> Section:
    """The recorded frames encoded again at other zlib levels."""
    section = Section("zlib level of PNG and ZLIB tiles (the recorded frames encoded again)")
    for scenario in scenarios:
        if scenario.name in ("idle", MOVED) or not scenario.frames:
            continue  # (moves: encoded again, they would lose their hints)
        full = scenario.name == "full picture"
        frames = scenario.frames[:1] if full else scenario.frames
        what = "picture" if full else "char" if scenario.name == "typing" else "line"
        for level in LEVELS:
            times, size = [], 0
            for frame in frames:
                started = time.perf_counter()
                updates = encode_update(frame.previous, frame.current, level=level)
                times.append(time.perf_counter() - started)
                size += wire_bytes(updates)
            units = 1 if full else scenario.units
            section.rows.append(
                Row(f"{scenario.name}, level {level}: ms/frame", _median_ms(times),
                    f"{_size(size / units)}/{what}")
            )  # fmt: skip
    return section


def run(quick: bool) -> list[Section]:
    if skipped := skipped_without("screen pipeline", "Xvfb", "xterm", "xdotool"):
        return skipped
    chars = 20 if quick else 100
    enters = 10 if quick else 40
    moves = 8 if quick else 20
    scenarios = []
    with desk() as table:
        scenarios.append(idle(table, 20 if quick else 100))
        scenarios.append(full_picture(table, 2 if quick else 5))
        scenarios.append(typing(table, chars))
        scenarios.append(enter_scroll(table, enters))
        name = f"text log, {LOG_RATE:.0f} lines/s"
        scenarios.append(bulk_output(table, "log", LOG_LINES + 1, name))
        # Over the text the log left, as for the peers (which run no seq); closed after.
        scenarios.append(window_moves(table, moves))
        if not quick:
            scenarios.append(bulk_output(table, "seq", SEQ_LINES + 1, "seq, full speed"))
    peers = [measure_peer(name, chars, enters, moves) for name in peers_installed()]
    sections = [report(scenarios), peer_table(scenarios, peers), level_table(scenarios)]
    if missing := {"Xvnc", "x11vnc"} - {peer.name for peer in peers}:
        sections[1].notes.append(
            f"not installed, not measured: {', '.join(sorted(missing))} "
            "(apt install tigervnc-standalone-server x11vnc)"
        )
    sections[0].notes.append(
        f"numpy {version_of('numpy')}, mss {version_of('mss')}, zlib "
        f"{__import__('zlib').ZLIB_RUNTIME_VERSION}; capture = mss XShm grab + alpha fix"
    )
    copies = sum(
        1
        for scenario in scenarios
        for frame in scenario.frames
        for update in frame.updates
        for tile in update.tiles
        if tile.encoding is TileEncoding.COPY
    )
    sections[0].notes.append(f"COPY tiles sent (scrolls, moved windows, glyphs): {copies}")
    return sections


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
