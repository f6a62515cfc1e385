"""A real X client for ``benchmarks.control``: a window that records the input it gets.

Not a benchmark module; ``benchmarks.control`` runs it as its own process, so the time
an event arrives is taken without waiting for the benchmark's busy event loop.

Run as ``python x_recorder.py WIDTH HEIGHT`` with ``DISPLAY`` set. It maps a borderless
window at the top left (no window manager: it stays where put), takes the keyboard focus
and prints one JSON object a line: ``{"type": "ready", "window": id}`` first, then one
for each key press, button press and motion event, with its position on the screen,
the X server's timestamp (``time``, in ms) and ``time.monotonic()`` when this client got
it (``at``; the monotonic clock is the whole machine's, so the benchmark can compare).
A ClientMessage sent to the window prints ``{"type": "marker", "value": n}``: as the X
server delivers events in order, everything before it has been printed.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from Xlib import X
from Xlib import display as xdisplay

INPUT_MASK = X.KeyPressMask | X.ButtonPressMask | X.PointerMotionMask | X.StructureNotifyMask
NAMES = {X.KeyPress: "key_press", X.ButtonPress: "button_press", X.MotionNotify: "motion"}


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    width, height = (int(value) for value in sys.argv[1:3])
    display = xdisplay.Display()
    screen = display.screen()
    window = screen.root.create_window(
        0, 0, width, height, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.white_pixel, override_redirect=True, event_mask=INPUT_MASK,
    )  # fmt: skip
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
            record = {"type": NAMES[event.type], "x": event.root_x, "y": event.root_y,
                      "detail": event.detail, "time": event.time, "at": at}  # fmt: skip
            if event.type == X.KeyPress:
                record["keysym"] = display.keycode_to_keysym(event.detail, 0)
            emit(**record)


if __name__ == "__main__":
    main()
