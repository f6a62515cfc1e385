"""What waits to be written to one receiver (docs/protocol.md §5.4).

The rule: one slow receiver never slows anyone else. A sender's frame is put into each
receiver's outbox without waiting. Screen updates are what can pile up, and they can be
dropped safely as long as the receiver then gets a whole new picture: when a receiver's
screen backlog passes its limit, the queued updates are discarded and the receiver waits
for a keyframe (the relay asks the presenter for one). Superseded cursor positions are
replaced in place. Everything else (chat, keys, control) is never dropped; a receiver
that lets that pile up is disconnected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from relaydesk import limits
from relaydesk.protocol.frames import Flags, FrameType, Header


@dataclass(slots=True)
class _Queued:
    header: Header
    data: bytes
    dropped: bool = False


class Outbox:
    def __init__(
        self,
        screen_limit: int = limits.RELAY_SCREEN_BACKLOG,
        total_limit: int = limits.RELAY_TOTAL_BACKLOG,
        awaiting_keyframe: bool = False,
    ) -> None:
        self._queue: deque[_Queued] = deque()
        self._screen_limit = screen_limit
        self._total_limit = total_limit
        self.screen_bytes = 0
        self.total_bytes = 0
        self.awaiting_keyframe = awaiting_keyframe  # deltas are useless until a keyframe
        self.dropped_updates = 0

    def __len__(self) -> int:
        return sum(not item.dropped for item in self._queue)

    @property
    def overflowing(self) -> bool:
        """Non-droppable frames exceed the limit: the receiver must be disconnected."""
        return self.total_bytes > self._total_limit

    def put(self, header: Header, data: bytes) -> bool:
        """Queue a frame. Returns True when the receiver now needs a full picture."""
        if header.type is FrameType.SCREEN_UPDATE:
            return self._put_screen(header, data)
        if header.flags & Flags.SUPERSEDABLE:
            self._drop_where(header, same_type=True)
        self._append(header, data)
        return False

    def _put_screen(self, header: Header, data: bytes) -> bool:
        keyframe = bool(header.flags & Flags.KEYFRAME)
        if keyframe:
            # A new picture makes everything queued before it moot.
            self._drop_where(header, same_type=True)
            self.awaiting_keyframe = False
        elif self.awaiting_keyframe:
            self.dropped_updates += 1
            return False
        if not keyframe and self.screen_bytes + len(data) > self._screen_limit:
            self._drop_where(header, same_type=True)
            self.dropped_updates += 1
            self.awaiting_keyframe = True
            return True
        self._append(header, data)
        return False

    def _append(self, header: Header, data: bytes) -> None:
        self._queue.append(_Queued(header, data))
        self.total_bytes += len(data)
        if header.type is FrameType.SCREEN_UPDATE:
            self.screen_bytes += len(data)

    def _drop_where(self, like: Header, same_type: bool) -> None:
        for item in self._queue:
            h = item.header
            if (
                not item.dropped
                and h.sender == like.sender
                and (h.type is like.type or not same_type)
            ):
                item.dropped = True
                self.dropped_updates += h.type is FrameType.SCREEN_UPDATE
                self._forget(item)

    def _forget(self, item: _Queued) -> None:
        self.total_bytes -= len(item.data)
        if item.header.type is FrameType.SCREEN_UPDATE:
            self.screen_bytes -= len(item.data)

    def take(self) -> list[bytes]:
        """Everything ready to write, in order."""
        ready = [item.data for item in self._queue if not item.dropped]
        self._queue.clear()
        self.screen_bytes = self.total_bytes = 0
        return ready
