"""A real X client that records the input it receives, for the remote-control tests.

``Recorder`` runs ``x_recorder.py`` on a display: a borderless window that takes the
keyboard focus and reports every key, button and motion event it gets, in order.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

from relaydesk.screen.xvfb import Xvfb

TIMEOUT = 10.0
# One recording client for the tests and the benchmarks.
RECORDER = Path(__file__).parents[2] / "benchmarks" / "x_recorder.py"

Event = dict[str, Any]


class Recorder:
    """``x_recorder.py`` running on a display; its events, in the order received."""

    def __init__(self, server: Xvfb, left: int, top: int, width: int, height: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(RECORDER), str(left), str(top), str(width), str(height)],
            env=server.env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._lines: queue.Queue[Event | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="x-recorder", daemon=True)
        self._reader.start()
        self._markers = 0
        self._x = xdisplay.Display(server.display)
        ready = self._next(TIMEOUT)
        assert ready["type"] == "ready", ready
        self.window = self._x.create_resource_object("window", ready["window"])
        self._marker_atom = self._x.intern_atom("RELAYDESK_TEST_MARKER")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def _next(self, timeout: float) -> Event:
        try:
            event = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the recording X client received nothing in time") from None
        if event is None:
            raise AssertionError("the recording X client exited")
        return event

    def events(self) -> list[Event]:
        """Every input event received since the last call: a marker sent through the X
        server comes after all of them."""
        self._markers += 1
        marker = xevent.ClientMessage(
            window=self.window, client_type=self._marker_atom,
            data=(32, [self._markers, 0, 0, 0, 0]),
        )  # fmt: skip
        self.window.send_event(marker, event_mask=0)
        self._x.sync()
        received = []
        while True:
            event = self._next(TIMEOUT)
            if event == {"type": "marker", "value": self._markers}:
                return received
            received.append(event)

    def close(self) -> None:
        self._x.close()
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()


def keys_of(events: list[Event], kind: str = "key_press") -> list[int]:
    return [event["keysym"] for event in events if event["type"] == kind]
