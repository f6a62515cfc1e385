"""What waits to be written to one receiver (docs/protocol.md §5.4).

The rule: one slow receiver never slows anyone else. A sender's frame is put into each
receiver's outbox without waiting. Screen updates are what can pile up, and they can be
dropped safely as long as the receiver then gets a whole new picture: when a receiver's
screen backlog passes its limit, the queued updates are discarded and the receiver waits
for a keyframe (the relay asks the presenter for one). Superseded cursor positions are
replaced in place. Everything else (chat, keys, control) is never dropped; a receiver
that lets that pile up is disconnected.

A receiver waiting for a keyframe (a newcomer, one that fell behind) gets no deltas: they
would paint on a picture it does not have. The first delta dropped for it asks the
presenter for a picture, and every ``RELAY_PICTURE_REASK_DROPS`` more: a receiver that
came before the presenter began presenting (after a failover, say) is not left waiting.

Video frames (VIDEO_FRAME) are screen content too, and go with the screen backlog. A
receiver that has ``RELAY_VIDEO_BACKLOG_FRAMES`` of them waiting is behind: it gets no
more DISCARDABLE frames (the video's second layer, every other frame) until a DISCARDABLE
KEYFRAME finds it caught up. It sees half the frame rate and never a broken picture, and
nobody else is affected (§5.4). A receiver that waited for a whole picture gets none of
them until such a keyframe either: the presenter restarts only layer 0 for it.

The same ``data`` object goes into every receiver's outbox: a frame is never copied per
receiver here. ``put`` and ``take`` run once per frame and receiver, so they stay lean.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from relaydesk import limits
from relaydesk.protocol.frames import KNOWN_FLAGS, Flags, FrameType, Header

# Bound once: looking an enum member up on its class, or combining flags with ``&``,
# costs more on Python 3.11 than the rest of ``put``.
_SCREEN = FrameType.SCREEN_UPDATE
_VIDEO = FrameType.VIDEO_FRAME
_SCREEN_TYPES = frozenset({_SCREEN, _VIDEO})  # what the screen backlog counts and drops
_ALL_FLAGS = [Flags(bits) for bits in range(int(KNOWN_FLAGS) + 1) if not bits & ~int(KNOWN_FLAGS)]
_KEYFRAME = frozenset(flags for flags in _ALL_FLAGS if int(flags) & Flags.KEYFRAME)
_SUPERSEDABLE = frozenset(flags for flags in _ALL_FLAGS if int(flags) & Flags.SUPERSEDABLE)
_DISCARDABLE = frozenset(flags for flags in _ALL_FLAGS if int(flags) & Flags.DISCARDABLE)


# A queued frame is a two-item list, ``[header, data]``, and a dropped one has its data
# set to None: cheaper than an object per frame and receiver (``put`` runs for each).
_DATA = 1


class Outbox:
    __slots__ = (
        "_marked",
        "_queue",
        "_screen_limit",
        "_total_limit",
        "_waiting_drops",
        "awaiting_keyframe",
        "dropped_layer_frames",
        "dropped_updates",
        "screen_bytes",
        "skipping_layer",
        "total_bytes",
        "video_frames",
        "video_layers",
    )

    def __init__(
        self,
        screen_limit: int = limits.RELAY_SCREEN_BACKLOG,
        total_limit: int = limits.RELAY_TOTAL_BACKLOG,
        awaiting_keyframe: bool = False,
    ) -> None:
        self._queue: deque[list[Any]] = deque()
        self._marked = 0  # dropped items still in _queue (skipped when taken)
        self._screen_limit = screen_limit
        self._total_limit = total_limit
        self._waiting_drops = 0  # deltas dropped while awaiting a keyframe
        self.screen_bytes = 0
        self.total_bytes = 0  # of the frames still queued (none is empty: a header is 8+)
        self.awaiting_keyframe = awaiting_keyframe  # deltas are useless until a keyframe
        self.dropped_updates = 0
        self.video_frames = 0  # VIDEO_FRAMEs queued
        self.skipping_layer = False  # DISCARDABLE video frames are dropped until a keyframe
        self.video_layers = limits.VIDEO_LAYERS  # the receiver's VIDEO_LAYERS
        self.dropped_layer_frames = 0

    def __len__(self) -> int:
        return sum(item[_DATA] is not None for item in self._queue)

    def __bool__(self) -> bool:
        """Something is waiting to be written."""
        return self.total_bytes > 0

    @property
    def overflowing(self) -> bool:
        """Non-droppable frames exceed the limit: the receiver must be disconnected."""
        return self.total_bytes > self._total_limit

    def put(self, header: Header, data: bytes) -> bool:
        """Queue a frame. Returns True when the receiver needs a whole picture and the
        presenter should be asked for one."""
        kind = header.type
        if kind is _SCREEN:
            return self._put_screen(header, data)
        if kind is _VIDEO:
            return self._put_video(header, data)
        if header.flags and header.flags in _SUPERSEDABLE:
            self._drop_where(header)
        self._append(header, data)
        return False

    def _put_screen(self, header: Header, data: bytes) -> bool:
        if header.flags and header.flags in _KEYFRAME:
            # A new picture makes everything queued before it moot. A receiver that waited
            # for it has no video chain either: layer 1 resumes at its own keyframe.
            self._drop_where(header)
            self.skipping_layer |= self.awaiting_keyframe
            self.awaiting_keyframe = False
            self._waiting_drops = 0
        elif self.awaiting_keyframe:
            return self._dropped_while_waiting()
        elif self.screen_bytes + len(data) > self._screen_limit:
            return self._overflow(header)
        self._append(header, data)
        return False

    def _put_video(self, header: Header, data: bytes) -> bool:
        if self.awaiting_keyframe:  # no whole picture yet to draw video on
            return self._dropped_while_waiting()
        flags = header.flags
        keyframe = bool(flags) and flags in _KEYFRAME
        if flags and flags in _DISCARDABLE:
            behind = (
                self.video_frames >= limits.RELAY_VIDEO_BACKLOG_FRAMES
                or self.video_layers < limits.VIDEO_LAYERS
            )
            if behind or (self.skipping_layer and not keyframe):
                self.skipping_layer = True
                self.dropped_layer_frames += 1
                return False
            self.skipping_layer = False
        elif keyframe:
            # Earlier frames of either layer are moot; the second layer waits for its own
            # keyframe if one of its frames goes.
            self.skipping_layer |= self._drop_where(header)
        if self.screen_bytes + len(data) > self._screen_limit:
            return self._overflow(header)
        self._append(header, data)
        return False

    def _dropped_while_waiting(self) -> bool:
        """A delta for a receiver without a picture to paint it on: dropped. The first
        one, and every RELAY_PICTURE_REASK_DROPS more, asks for a picture."""
        self.dropped_updates += 1
        asks = self._waiting_drops % limits.RELAY_PICTURE_REASK_DROPS == 0
        self._waiting_drops += 1
        return asks

    def _overflow(self, header: Header) -> bool:
        """The screen backlog passed its limit: what is queued of the sender's screen
        goes, and the receiver waits for (and asks for) a whole picture."""
        self._drop_where(header, screen_only=True)
        self.dropped_updates += 1
        self.awaiting_keyframe = True
        self._waiting_drops = 1  # this drop asks already
        return True

    def limit_video_layers(self, layers: int) -> None:
        """The receiver asked for ``layers`` video layers (VIDEO_LAYERS). Fewer: its
        queued DISCARDABLE frames go now. More: from the next layer-1 keyframe."""
        self.video_layers = layers
        if layers >= limits.VIDEO_LAYERS:
            return
        self.skipping_layer = True
        for item in self._queue:
            header, data = item
            if data is not None and header.flags and header.flags in _DISCARDABLE:
                self._forget(item)
                self.dropped_layer_frames += 1

    def _append(self, header: Header, data: bytes) -> None:
        self._queue.append([header, data])
        size = len(data)
        self.total_bytes += size
        kind = header.type
        if kind is _SCREEN:
            self.screen_bytes += size
        elif kind is _VIDEO:
            self.screen_bytes += size
            self.video_frames += 1

    def _drop_where(self, like: Header, screen_only: bool = False) -> bool:
        """Drop what is queued of ``like``'s type from ``like``'s sender (with
        ``screen_only``: of any screen type). True if a DISCARDABLE frame went."""
        if not self.total_bytes:
            return False
        discardable = False
        queue = self._queue
        for item in queue:
            h, data = item
            if data is None or h.sender != like.sender:
                continue
            if h.type is like.type or (screen_only and h.type in _SCREEN_TYPES):
                discardable |= bool(h.flags) and h.flags in _DISCARDABLE
                if h.type in _SCREEN_TYPES:
                    self.dropped_updates += 1
                self._forget(item)
        # A receiver that reads nothing while cursor moves supersede each other must not
        # collect the dropped ones: once they are half the queue, they go.
        if self._marked * 2 > len(queue):
            self._queue = deque(item for item in queue if item[_DATA] is not None)
            self._marked = 0
        return discardable

    def _forget(self, item: list[Any]) -> None:
        """Mark a queued frame dropped and take it out of the counts."""
        header, data = item
        item[_DATA] = None
        self._marked += 1
        size = len(data)
        self.total_bytes -= size
        if header.type in _SCREEN_TYPES:
            self.screen_bytes -= size
            self.video_frames -= header.type is _VIDEO

    def take(self, budget: int | None = None) -> list[bytes]:
        """What is ready to write, in order: everything, or with ``budget`` the frames
        up to that many bytes (always at least one); the rest stays queued."""
        queue = self._queue
        if budget is None or budget >= self.total_bytes:
            ready = [item[_DATA] for item in queue if item[_DATA] is not None]
            queue.clear()
            self.screen_bytes = self.total_bytes = self.video_frames = self._marked = 0
            return ready
        ready = []
        taken = screen = videos = 0
        while queue and (taken < budget or not ready):
            header, data = queue.popleft()
            if data is None:
                self._marked -= 1
                continue
            size = len(data)
            ready.append(data)
            taken += size
            if header.type in _SCREEN_TYPES:
                screen += size
                videos += header.type is _VIDEO
        self.total_bytes -= taken
        self.screen_bytes -= screen
        self.video_frames -= videos
        return ready
