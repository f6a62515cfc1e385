"""Remote control: input latency, and how fast Ctrl+F12 takes control back. All real.

Processes: Xvfb at 1920x1080; ``relaydesk server`` (see ``benchmarks.relay``); the
presenter, ``relaydesk start`` sharing that display, its standard input and output on
pipes: consent questions are answered by typing "y" there, as the person would;
``x_recorder.py``, a real X client on the presenter's display (a full-screen window with
the keyboard focus) that prints each input event it receives with the X server's
timestamp and the monotonic clock; and this process, the controller: a
``client.member.Member`` joined through the broker API, that asks for control
(CONTROL_REQUEST), waits for GRANT, then sends ``InputEvent``s to the presenter, who
injects them through XTEST.

Input latency: from just before ``Member.send_content`` to the recorder receiving the
event (a MotionNotify at the new position, a ButtonPress, a KeyPress), both on the
monotonic clock. Actions come at random intervals (20-50 ms), one at a time.

Revoke: while the controller sends a pointer move every ``STREAM_INTERVAL``, ``xdotool
key ctrl+F12`` presses the hotkey on the presenter's display. The recorder sees the
Control press (the hotkey's grab takes F12); from it to the last injected motion the
recorder receives, in X server time (ms resolution), is how long injection went on.
Each round asks for control again. Run alone: ``python -m benchmarks.control``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from Xlib import XK
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

from benchmarks import Row, Section, format_seconds, skipped_without, standalone
from benchmarks.latency import HEIGHT, START_TIMEOUT, WIDTH, percentile
from benchmarks.relay import PASSWORD, USERNAME, RunningServer, relay_server, relaydesk_command
from relaydesk.client.api import BrokerApi
from relaydesk.client.member import Member, Rejected
from relaydesk.protocol.keys import MemberKeys
from relaydesk.protocol.messages import (
    ConsentKind,
    ControlRequest,
    Error,
    Grant,
    InputEvent,
    InputKind,
    Revoke,
    ScreenUpdate,
)
from relaydesk.screen.xvfb import Xvfb

TITLE = "control"

RECORDER = Path(__file__).with_name("x_recorder.py")
STREAM_INTERVAL = 0.002  # the controller's pointer moves while Ctrl+F12 is pressed
TIMEOUT = 10.0
X_TIME_WRAP = 1 << 32  # X server timestamps are 32-bit milliseconds

_SESSION_ID = re.compile(r"Session ID: (\d{3}) (\d{3}) (\d{3})")
_CONSENT_QUESTION = re.compile(r"^\? .*asks to control your mouse and keyboard")
_CONTROLLED = re.compile(r"now controls your mouse and keyboard")  # injector, hotkey ready

Event = dict[str, Any]  # one line of x_recorder.py


# The recording X client --------------------------------------------------------------


class Recorder:
    """``x_recorder.py`` covering the presenter's display (window and screen coordinates
    agree); its events, in the order received."""

    def __init__(self, server: Xvfb) -> None:
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(RECORDER), "0", "0", str(server.width), str(server.height)],
            env=server.env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, name="x-recorder", daemon=True)
        self._reader.start()
        self._x = xdisplay.Display(server.display)  # to send markers through the X server
        self._markers = 0
        self.window: Any = None
        self._marker_atom = self._x.intern_atom("RELAYDESK_BENCHMARK_MARKER")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._loop.call_soon_threadsafe(self._events.put_nowait, json.loads(line))
        self._loop.call_soon_threadsafe(self._events.put_nowait, None)

    async def next(self) -> Event:
        event = await asyncio.wait_for(self._events.get(), TIMEOUT)
        if event is None:
            raise RuntimeError("the recording X client exited")
        return event

    async def ready(self) -> None:
        ready = await self.next()
        self.window = self._x.create_resource_object("window", ready["window"])

    async def until(self, wanted: Callable[[Event], bool]) -> Event:
        """The first event ``wanted``; the ones before it are dropped."""
        while not wanted(event := await self.next()):
            pass
        return event

    async def flush(self) -> list[Event]:
        """Every event received so far: a marker sent through the X server comes after."""
        self._markers += 1
        marker = xevent.ClientMessage(
            window=self.window, client_type=self._marker_atom,
            data=(32, [self._markers, 0, 0, 0, 0]),
        )  # fmt: skip
        self.window.send_event(marker, event_mask=0)
        self._x.sync()
        received = []
        while (event := await self.next()) != {"type": "marker", "value": self._markers}:
            received.append(event)
        return received

    def close(self) -> None:
        self._x.close()
        _stop(self.process)
        self._reader.join(5)  # at the end of its output, before the event loop closes
        assert self.process.stdout is not None
        self.process.stdout.close()


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# The presenter, at its console -------------------------------------------------------


class Console:
    """What ``relaydesk start`` prints, read line by line by a thread (and kept in a
    log), and lines typed into its standard input."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process = process
        self.log = log
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="presenter-out", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with open(self.log, "w", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                self._lines.put(line)
        self._lines.put(None)

    def expect(self, pattern: re.Pattern[str], timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for a line matching ``pattern``; the lines before it are passed over.
        Blocks: from the event loop, call it through ``asyncio.to_thread``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"relaydesk start never printed {pattern.pattern!r}") from None
            if line is None:
                raise RuntimeError(f"relaydesk start exited: {self.log.read_text()[-2000:]}")
            if found := pattern.search(line):
                return found

    def type_line(self, text: str) -> None:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write(text + "\n")
        stdin.flush()


@contextlib.contextmanager
def presenter(server: RunningServer, display: str, directory: Path) -> Iterator[Console]:
    """``relaydesk login`` then ``relaydesk start`` on ``display``, with its console on
    pipes; yields it once the session ID is printed (as ``latency.presenter`` does)."""
    command = relaydesk_command()
    profile = directory / "presenter-profile"
    connection = ["--fingerprint", server.fingerprint, "--config-dir", str(profile)]
    subprocess.run(
        [*command, "login", server.url, USERNAME, "--password-stdin", *connection],
        input=f"{PASSWORD}\n".encode(), capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    process = subprocess.Popen(
        [*command, "start", *connection],
        env={**os.environ, "DISPLAY": display}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )  # fmt: skip
    try:
        yield Console(process, directory / "presenter.log")
    finally:
        _stop(process)  # SIGTERM ends the session, as Ctrl+C would


# The controller ----------------------------------------------------------------------


@dataclass
class Controller:
    member: Member
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # presenting, keys known
    granted: asyncio.Event = field(default_factory=asyncio.Event)
    revoked: asyncio.Event = field(default_factory=asyncio.Event)
    revoked_at: float = 0.0
    refused: int = 0  # input the relay refused (sent after it revoked control)
    rejected: int = 0
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        member = self.member
        async for item in member.messages():
            if isinstance(item, Rejected):
                self.rejected += 1
                continue
            match item.message:
                case ScreenUpdate() if item.header.sender == member.presenter:
                    self.ready.set()
                case Grant(ConsentKind.CONTROL, holder) if holder == member.member_id:
                    self.revoked.clear()
                    self.granted.set()
                case Revoke(ConsentKind.CONTROL):
                    self.revoked_at = time.monotonic()
                    self.granted.clear()
                    self.revoked.set()
                case Error():
                    self.refused += 1

    async def send(self, event: InputEvent) -> None:
        assert self.member.presenter is not None
        await self.member.send_content(event, target=self.member.presenter)

    async def take_control(self, console: Console) -> None:
        """Ask, answer yes at the presenter's console, and wait until it is in effect."""
        await self.member.send(ControlRequest())
        await asyncio.to_thread(console.expect, _CONSENT_QUESTION)
        console.type_line("y")
        await asyncio.to_thread(console.expect, _CONTROLLED)
        await asyncio.wait_for(self.granted.wait(), TIMEOUT)

    async def stream(self, sent: list[float]) -> None:
        """A pointer move every STREAM_INTERVAL, each to a new place, until revoked."""
        number = 0
        while not self.revoked.is_set():
            number += 1
            sent.append(time.monotonic())
            await self.send(InputEvent(InputKind.POINTER_MOVE, *stream_position(number)))
            await asyncio.sleep(STREAM_INTERVAL)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.member.close()


async def join(server: RunningServer, session_id: str) -> Controller:
    """Join as ``relaydesk join`` does; wait for the presenter's first picture (by then
    the roster names the presenter and the epoch key is known)."""
    keys = MemberKeys.generate(os.urandom)
    async with BrokerApi(server.url, server.context) as api:
        joined = await api.join(
            session_id, "controller", keys.agreement_public, keys.ed25519_public
        )
    member = Member(joined, keys, server.context)
    await member.connect()
    controller = Controller(member)
    controller.task = asyncio.create_task(controller.run())
    await asyncio.wait_for(controller.ready.wait(), TIMEOUT)
    return controller


def stream_position(number: int) -> tuple[int, int]:
    """A new position for every move (moving to where the pointer is makes no event)."""
    return 100 + number % 1700, 100 + (number // 1700) % 800


# Input latency -----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One timed action: the event sent, the X event it must cause, what undoes it."""

    event: InputEvent
    seen: Callable[[Event], bool]
    after: tuple[InputEvent, ...] = ()


def pointer_move(number: int) -> Probe:
    x, y = 200 + (number * 37) % 1500, 150 + (number * 53) % 800
    return Probe(
        InputEvent(InputKind.POINTER_MOVE, x=x, y=y),
        lambda e: e["type"] == "motion" and (e["x"], e["y"]) == (x, y),
    )


def button_click(number: int) -> Probe:
    x, y = 300 + (number * 41) % 1300, 200 + (number * 29) % 700
    return Probe(
        InputEvent(InputKind.BUTTON, x=x, y=y, button=1, pressed=True),
        lambda e: e["type"] == "button_press" and (e["x"], e["y"]) == (x, y),
        (InputEvent(InputKind.BUTTON, x=x, y=y, button=1, pressed=False),),
    )


def key_stroke(number: int) -> Probe:
    keysym = ord("a") + number % 26
    return Probe(
        InputEvent(InputKind.KEY, keysym=keysym, pressed=True),
        lambda e: e["type"] == "key_press" and e["keysym"] == keysym,
        (InputEvent(InputKind.KEY, keysym=keysym, pressed=False),),
    )


# What is timed, and how many times (without and with --quick).
ACTIONS: tuple[tuple[str, Callable[[int], Probe], int, int], ...] = (
    ("pointer move -> MotionNotify", pointer_move, 200, 20),
    ("button press -> ButtonPress", button_click, 50, 10),
    ("key press -> KeyPress", key_stroke, 50, 10),
)
ROUNDS, QUICK_ROUNDS = 10, 3  # of revoking


async def input_latency(
    controller: Controller, recorder: Recorder, action: Callable[[int], Probe], count: int
) -> list[float]:
    rng = random.Random(7)
    latencies = []
    for number in range(count):
        await asyncio.sleep(rng.uniform(0.02, 0.05))  # one action at a time, not a stream
        probe = action(number)
        sent = time.monotonic()
        await controller.send(probe.event)
        latencies.append((await recorder.until(probe.seen))["at"] - sent)
        for event in probe.after:
            await controller.send(event)
    return latencies


# Revoke ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevokeRound:
    injecting: int  # ms, Ctrl press -> last injected motion after it (0: none after)
    idle: int  # ms, last injected motion before the Ctrl press -> the press
    after: int  # injected motions the recorder got after the Ctrl press
    sent_after: int  # moves the controller sent after the Ctrl press
    announced: float  # s, Ctrl press received -> the controller gets REVOKE


async def revoke_round(
    controller: Controller, console: Console, recorder: Recorder, x: Xvfb
) -> RevokeRound:
    if not controller.granted.is_set():
        await controller.take_control(console)
    sent: list[float] = []
    streaming = asyncio.create_task(controller.stream(sent))
    try:
        await recorder.until(lambda e: e["type"] == "motion")  # injection is under way
        await asyncio.sleep(0.1)
        pressed = time.monotonic()
        xdotool = await asyncio.create_subprocess_exec(
            "xdotool", "key", "--delay", "0", "ctrl+F12", env=x.env
        )
        await asyncio.wait_for(controller.revoked.wait(), TIMEOUT)
        await xdotool.wait()
    finally:
        controller.revoked.set()  # stops the stream, also on failure
        await streaming
    return measure_round(await recorder.flush(), pressed, controller.revoked_at, sent)


def measure_round(
    events: list[Event], pressed: float, revoked_at: float, sent: list[float]
) -> RevokeRound:
    """Split what the recorder got at the Control press (xdotool presses Control, then
    F12) and time the injected motions on either side in X server time. Without a
    Control press (the keyboard focus elsewhere), split at the time just before xdotool
    started, on the monotonic clock."""
    control = next((event for event in events if _is_control(event)), None)
    if control is not None:
        split = events.index(control)
        before, after = _motions(events[:split]), _motions(events[split:])
        reference = control["at"]

        def since(event: Event) -> int:  # ms after the Control press, X server time
            return _x_milliseconds(event["time"] - control["time"])
    else:
        before = [event for event in _motions(events) if event["at"] <= pressed]
        after = [event for event in _motions(events) if event["at"] > pressed]
        reference = pressed

        def since(event: Event) -> int:  # ms after xdotool started, monotonic clock
            return round((float(event["at"]) - pressed) * 1e3)

    return RevokeRound(
        injecting=max(0, since(after[-1])) if after else 0,
        idle=-since(before[-1]) if before else 0,
        after=len(after),
        sent_after=sum(moment > reference for moment in sent),
        announced=revoked_at - reference,
    )


def _x_milliseconds(difference: int) -> int:
    """A difference of X server timestamps: 32-bit milliseconds, which wrap around."""
    return (difference + X_TIME_WRAP // 2) % X_TIME_WRAP - X_TIME_WRAP // 2


def _is_control(event: Event) -> bool:
    return bool(event["type"] == "key_press" and event["keysym"] == XK.XK_Control_L)


def _motions(events: list[Event]) -> list[Event]:
    return [event for event in events if event["type"] == "motion"]


# Reporting ---------------------------------------------------------------------------


def latency_rows(label: str, latencies: list[float]) -> list[Row]:
    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    count = len(latencies)
    return [
        Row(f"{label}, p50 ({count})", format_seconds(p50),
            f"min {format_seconds(min(latencies))}"),
        Row(f"{label}, p95 ({count})", format_seconds(p95),
            f"max {format_seconds(max(latencies))}"),
    ]  # fmt: skip


def input_section(results: dict[str, list[float]], quick: bool) -> Section:
    section = Section(
        f"remote control input, {WIDTH}x{HEIGHT} Xvfb: Python controller (Member) -> "
        "relaydesk server -> relaydesk start (XTEST) -> X client, loopback, TLS"
    )
    for label, latencies in results.items():
        section.rows += latency_rows(label, latencies)
    section.notes.append(
        "clock: starts just before Member.send_content (sealing, signing, sending), stops "
        "when the X client on the presenter's display receives the event; "
        "time.monotonic() in two processes (one clock for the whole machine)"
    )
    section.notes.append("PERFORMANCE.md names no target for input latency")
    if quick:
        section.notes.append("--quick: fewer actions; p95 of few samples is rough")
    return section


def revoke_section(rounds: list[RevokeRound], refused: int, quick: bool) -> Section:
    section = Section(
        "revoke: xdotool key ctrl+F12 on the presenter's display while the controller "
        f"sends a pointer move every {STREAM_INTERVAL * 1e3:.0f} ms"
    )
    injecting = [r.injecting for r in rounds]
    after = [r.after for r in rounds]
    announced = [r.announced for r in rounds]
    section.rows += [
        Row(f"Ctrl+F12 -> last injected event ({len(rounds)} rounds)",
            f"{statistics.median(injecting):.0f} ms", f"max {max(injecting)} ms"),
        Row("injected events after Ctrl+F12, per round", f"{statistics.median(after):.0f}",
            f"max {max(after)}, total {sum(after)}"),
        Row("last injected event before Ctrl+F12, earlier by",
            f"{statistics.median(r.idle for r in rounds):.0f} ms",
            f"max {max(r.idle for r in rounds)} ms"),
        Row("Ctrl+F12 -> controller gets REVOKE", format_seconds(statistics.median(announced)),
            f"max {format_seconds(max(announced))}"),
        Row("moves sent after Ctrl+F12, per round",
            f"{statistics.median(r.sent_after for r in rounds):.0f}",
            f"max {max(r.sent_after for r in rounds)}"),
    ]  # fmt: skip
    section.notes.append(
        "Ctrl+F12 = the Control press the X client sees (F12 goes to the hotkey's grab); "
        "times between X events are X server timestamps (1 ms resolution), the rest "
        f"time.monotonic(); a move is injected about every {STREAM_INTERVAL * 1e3:.0f} ms, "
        "so the last one before the revoke may be that much earlier"
    )
    section.notes.append(
        f"the relay refused {refused} moves in all (sent after it had revoked control); "
        "the presenter dropped the others sent after Ctrl+F12"
    )
    section.notes.append(
        "PERFORMANCE.md names no target for revoking; SECURITY.md: the revoke is local "
        "and immediate, queued input dropped"
    )
    section.notes.append(
        "load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    if quick:
        section.notes.append("--quick: few rounds")
    return section


async def _measure(server: RunningServer, console: Console, x: Xvfb, quick: bool) -> list[Section]:
    found = await asyncio.to_thread(console.expect, _SESSION_ID, START_TIMEOUT)
    recorder = Recorder(x)
    try:
        await recorder.ready()
        controller = await join(server, "".join(found.groups()))
        try:
            await controller.take_control(console)
            results = {
                label: await input_latency(
                    controller, recorder, action, quick_count if quick else count
                )
                for label, action, count, quick_count in ACTIONS
            }
            rounds = [
                await revoke_round(controller, console, recorder, x)
                for _ in range(QUICK_ROUNDS if quick else ROUNDS)
            ]
        finally:
            await controller.close()
    finally:
        recorder.close()
    sections = [input_section(results, quick), revoke_section(rounds, controller.refused, quick)]
    if controller.rejected:
        sections[0].notes.append(f"frames the controller rejected: {controller.rejected}")
    return sections


def run(quick: bool) -> list[Section]:
    if skipped := skipped_without("remote control", "Xvfb", "xdotool"):
        return skipped
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-control-") as name,
        Xvfb(WIDTH, HEIGHT, 24) as x,
        relay_server(Path(name)) as server,
        presenter(server, x.display, Path(name)) as console,
    ):
        return asyncio.run(_measure(server, console, x, quick))


def main(argv: list[str] | None = None) -> int:
    return standalone(TITLE, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
