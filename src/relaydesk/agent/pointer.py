"""Where the presenter's pointer is: the screen capture shows no cursor, so viewers draw
one from CURSOR messages (docs/protocol.md §4.1)."""

from __future__ import annotations

import contextlib

from Xlib import error as xerror

from relaydesk.agent.inject import open_display


class PointerWatch:
    """Reads the pointer position on one X display; ``moved()`` says when it changed."""

    def __init__(self, display: str | None) -> None:
        self._x = open_display(display)
        self._root = self._x.screen().root
        self._last: tuple[int, int] | None = None

    def moved(self) -> tuple[int, int] | None:
        """The new position, or None if the pointer has not moved since the last call."""
        reply = self._root.query_pointer()
        position = (int(reply.root_x), int(reply.root_y))
        if position == self._last:
            return None
        self._last = position
        return position

    def close(self) -> None:
        with contextlib.suppress(xerror.ConnectionClosedError, OSError):  # already gone
            self._x.close()
