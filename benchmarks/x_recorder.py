"""A real X client that records the input it gets, for the remote-control tests
(``tests/support/input_recorder.py``) and ``benchmarks.control``, which runs it as its own
process so that arrival times do not wait for a busy event loop.

Run as ``python x_recorder.py X Y WIDTH HEIGHT`` with ``DISPLAY`` set. It maps a borderless
window there (override-redirect: it stays where put, window manager or not; its
WM_CLASS is ``RelaydeskRecorder``), takes the keyboard focus and
prints one JSON object a line: ``{"type": "ready", "window": id}`` first, then one for
each key, button and motion event, with the position in the window and on the screen,
the modifier and button state, and, for keys, the keysym this client looks up (after
following MappingNotify, as every X client must), the X server's timestamp (``time``,
in ms) and ``time.monotonic()`` when this client got it (``at``: the machine's clock, so
another process can compare). A ClientMessage sent to the window
prints ``{"type": "marker", "value": n}``: as the X server delivers events in order,
everything before it has been recorded.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from Xlib import X
from Xlib import display as xdisplay

INPUT_MASK = (
    X.KeyPressMask
    | X.KeyReleaseMask
    | X.ButtonPressMask
    | X.ButtonReleaseMask
    | X.PointerMotionMask
    | X.StructureNotifyMask
)
WM_CLASS = "RelaydeskRecorder"
NAMES = {
    X.KeyPress: "key_press",
    X.KeyRelease: "key_release",
    X.ButtonPress: "button_press",
    X.ButtonRelease: "button_release",
    X.MotionNotify: "motion",
}


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def keysym_of(display: Any, keycode: int, state: int) -> int:
    """The core protocol's rule for group 1: the second keysym with Shift, if there is one."""
    first = int(display.keycode_to_keysym(keycode, 0))
    second = int(display.keycode_to_keysym(keycode, 1))
    return second if state & X.ShiftMask and second else first


def main() -> None:
    left, top, width, height = (int(value) for value in sys.argv[1:5])
    display = xdisplay.Display()
    screen = display.screen()
    window = screen.root.create_window(
        left, top, width, height, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.white_pixel, override_redirect=True, event_mask=INPUT_MASK,
    )  # fmt: skip
    window.set_wm_class("x_recorder", WM_CLASS)  # so that the privacy tests can pick it
    window.set_wm_name("relaydesk input recorder")
    window.map()
    while display.next_event().type != X.MapNotify:
        pass
    window.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
    display.sync()
    emit(type="ready", window=window.id)
    while True:
        event = display.next_event()
        at = time.monotonic()
        if event.type == X.MappingNotify:
            display.refresh_keyboard_mapping(event)
        elif event.type == X.ClientMessage:
            emit(type="marker", value=event.data[1][0])
        elif event.type in NAMES:
            record = {
                "type": NAMES[event.type],
                "x": event.event_x,
                "y": event.event_y,
                "root_x": event.root_x,
                "root_y": event.root_y,
                "state": event.state,
                "detail": event.detail,
                "time": event.time,
                "at": at,
            }
            if event.type in (X.KeyPress, X.KeyRelease):
                record["keysym"] = keysym_of(display, event.detail, event.state)
            emit(**record)


if __name__ == "__main__":
    main()
