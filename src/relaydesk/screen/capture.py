"""Capture the whole X screen as a picture, with mss over XShm (docs/screen.md).

PERFORMANCE.md measured mss's default XCB backend (XShmGetImage, one copy out of shared
memory) at 1.5 ms a 1920x1080 frame against 17 ms for its Xlib backend. This is the
only screen module that talks to an X server.
"""

from __future__ import annotations

import os

import mss
import numpy as np
from mss.exception import ScreenShotError

from relaydesk.closing import Closing
from relaydesk.errors import CaptureError
from relaydesk.screen.picture import Picture, pixels32

# X servers leave the fourth byte of a 24-bit pixel undefined (antialiased text leaves
# coverage values there). Setting it makes equal-looking pixels equal: no update for an
# invisible change, and zlib does not waste bytes on it. 0.3 ms at 1920x1080.
_OPAQUE = np.uint32(0xFF000000)


class ScreenCapture(Closing):
    """The root window of one X display, grabbed as (height, width, 4) uint8 BGRX."""

    def __init__(self, display: str | None = None, backend: str = "default") -> None:
        """``display`` like ``":0"``; None uses ``$DISPLAY``. ``backend``: mss's, "xlib"
        for an X server whose visuals the XShm path refuses (Xvnc). Raises
        ``CaptureError``."""
        name = display or os.environ.get("DISPLAY")
        if not name:
            raise CaptureError("no X display to share: set DISPLAY (for example :0)")
        self.display = name
        try:
            self._mss = mss.MSS(display=name, backend=backend)
        except ScreenShotError as error:
            raise CaptureError(f"cannot open X display {name}: {error}") from None
        try:
            root = self._mss.monitors[0]
        except ScreenShotError as error:
            self._mss.close()
            raise CaptureError(f"cannot read the screen size of {name}: {error}") from None
        self.width: int = root["width"]
        self.height: int = root["height"]
        self._region: dict[str, int] = {
            "left": root["left"],
            "top": root["top"],
            "width": self.width,
            "height": self.height,
        }

    def grab(self) -> Picture:
        """The screen now: a new C-contiguous (height, width, 4) uint8 array, BGRX, the
        fourth byte set to 0xFF. Raises ``CaptureError`` if the display went away."""
        try:
            shot = self._mss.grab(self._region)
        except ScreenShotError as error:
            raise CaptureError(f"cannot capture X display {self.display}: {error}") from None
        width, height = shot.size
        # mss hands over a fresh bytearray: wrapping it copies nothing and is writable.
        picture: Picture = np.frombuffer(shot.raw, np.uint8).reshape(height, width, 4)
        np.bitwise_or(pixels32(picture), _OPAQUE, out=pixels32(picture))
        return picture

    def close(self) -> None:
        self._mss.close()
