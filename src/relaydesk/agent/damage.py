"""When the screen changed: the X DAMAGE extension, so that a change is captured at once
(docs/screen.md "Latency").

Polling at ``SCREEN_FPS`` alone makes a change wait for the next capture: 1/60 s on
average, up to 1/30 s. ``DamageWatch`` asks the X server to report any drawing on the
root window (children included) and the share loop captures as soon as a report comes,
while keeping its pace of at most ``SCREEN_FPS`` pictures a second. Polling goes on as
before (the pointer, the privacy masks' timers), so a display without DAMAGE loses only
the head start.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from Xlib import error as xerror
from Xlib.ext import damage

from relaydesk.agent.inject import open_display
from relaydesk.closing import Closing
from relaydesk.errors import CaptureError


class DamageWatch(Closing):
    """Reports of drawing on one X display's screen, read without blocking."""

    def __init__(self, display: str | None) -> None:
        """Raises ``InputError`` if the display cannot be opened, ``LookupError`` if it
        has no DAMAGE extension."""
        self._x: Any = open_display(display)
        if not self._x.has_extension("DAMAGE"):
            self._x.close()
            raise LookupError("the X server has no DAMAGE extension")
        self._x.damage_query_version()
        self._damage = self._x.screen().root.damage_create(damage.DamageReportNonEmpty)
        self._x.sync()

    def damaged(self) -> bool:
        """True if anything was drawn since the last call that returned True; the report
        is re-armed. Never blocks. Raises ``CaptureError`` if the display went away."""
        try:
            events = [self._x.next_event() for _ in range(self._x.pending_events())]
            if not any(event.type == self._x.extension_event.DamageNotify for event in events):
                return False
            # One report per damaged period (DamageReportNonEmpty): clear it to get the next.
            self._x.damage_subtract(self._damage)
            self._x.flush()
        except (xerror.ConnectionClosedError, OSError) as error:
            raise CaptureError(f"the X display went away: {error}") from None
        return True

    async def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for drawing; True if some came."""
        if self.damaged():
            return True
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        descriptor = self._x.fileno()
        loop.add_reader(descriptor, readable)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(descriptor)
        return self.damaged()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the display may be gone already
            self._x.damage_destroy(self._damage)
        with contextlib.suppress(xerror.ConnectionClosedError, OSError):
            self._x.close()
