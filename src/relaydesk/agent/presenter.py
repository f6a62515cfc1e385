"""The share loop: capture, mask, find what changed, encode, seal, send (docs/screen.md).

Paced to at most ``limits.SCREEN_FPS`` pictures a second and silent when nothing changes;
a change reported by the X server (``agent/damage``) is captured at once rather than at
the next tick, within that pace.
Where video plays, that region goes as H.264 and the rest stays lossless (``agent/video``).
The windows are read just before each grab: one that moved since the last picture is a
hint to the encoder, which copies it from its old place when the pixels agree.
The screen is opened only while this member presents (after its person said yes) and
closed as soon as it stops. A viewer that joined or fell behind asks (through the relay)
for a full picture; it is sent to that viewer alone, once the viewer holds the current
epoch's key.

Privacy (docs/privacy.md; the rules are in ``agent/privacy.py``): the presenter's
``PrivacySettings`` decide what leaves. While the share is paused or hidden nothing is
captured and no screen byte is sent; otherwise every captured picture is masked before
it is compared with the previous one and encoded, so that no masked pixel is ever
sealed. When the settings depend on windows, they are also read after each grab: a grab
during which a window moved, opened or closed is thrown away and taken again. Viewers
are told the state (``SHARE_STATE``) whenever it changes, and a newcomer before its
first picture. A change of settings (``change``) takes effect between two frames: once
it returns, nothing captured under the old settings is sent any more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from relaydesk import limits
from relaydesk.agent.damage import DamageWatch
from relaydesk.agent.pointer import PointerWatch
from relaydesk.agent.privacy import (
    LIVE,
    NOTHING,
    Mask,
    PrivacyFilter,
    PrivacySettings,
    Verdict,
    Window,
    clip,
    input_refusal,
    verdicts,
)
from relaydesk.agent.video import VideoShare, video_flags
from relaydesk.agent.windows import Layout, WindowWatch
from relaydesk.client.member import Member
from relaydesk.errors import CaptureError, InputError
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import Cursor, InputEvent, ScreenUpdate, ShareMode, ShareState
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.picture import Picture

log = logging.getLogger(__name__)

OpenCapture = Callable[[], ScreenCapture]
OpenWindows = Callable[[], WindowWatch]


class Shot(NamedTuple):
    """One grab: the masked picture, its mask, and the windows just before it (None
    where they cannot be followed)."""

    picture: Picture
    mask: Mask
    layout: Layout | None


class Presenter:
    def __init__(
        self,
        member: Member,
        open_capture: OpenCapture,
        fps: float = limits.SCREEN_FPS,
        display: str | None = None,
        open_windows: OpenWindows | None = None,
    ) -> None:
        self.member = member
        self.open_capture = open_capture
        self.open_windows = open_windows or (lambda: WindowWatch(display))
        self.capture: ScreenCapture | None = None
        self.pointer: PointerWatch | None = None
        self.damage: DamageWatch | None = None  # None: no DAMAGE, polling alone
        self._sent_at = -float("inf")  # when the last picture went out
        self.cursor: Cursor | None = None  # the pointer as last sent
        self.interval = 1.0 / fps
        self.video = VideoShare(fps)  # the full-motion mode: where video plays, H.264
        self.picture: np.ndarray | None = None  # what every viewer has now (masked)
        # The last picture viewers were sent, kept when sharing stops (for a snapshot).
        self.last_sent: np.ndarray | None = None
        self.refresh_for: set[int] = set()
        self.updates_sent = 0
        self.settings = PrivacySettings()
        self.filter = PrivacyFilter()
        self.windows: WindowWatch | None = None
        self._no_windows = False  # the windows cannot be followed: no move hints
        self._layout: Layout | None = None  # the windows when self.picture was grabbed
        self._pointer_at: tuple[int, int] | None = None
        self._told_everyone: ShareState = LIVE  # what every viewer was last told
        self._told: dict[int, ShareState] = {}  # newcomers awaiting a picture: told alone
        self._input_mask: Mask = NOTHING  # what the last input check saw masked
        self._frame = asyncio.Lock()  # one frame, or one change of settings, at a time

    @property
    def presenting(self) -> bool:
        return self.member.presenter == self.member.member_id

    def want_refresh(self, member_id: int) -> None:
        self.refresh_for.add(member_id)

    def keyframe_next(self) -> None:
        """The next picture goes whole to everyone (a recording starts on this client)."""
        self.picture = None

    async def run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                if self.presenting and self.member.e2e.current:
                    if self.capture is None:
                        self.capture = self.open_capture()
                        self.pointer = PointerWatch(self.capture.display)
                        self.damage = _damage_watch(self.capture.display)
                    await self.share_once(self.capture)
                else:
                    self._stop_capture()  # a full picture first when presenting again
                await self._until_next(started)
        finally:
            self._stop_capture()

    async def _until_next(self, started: float) -> None:
        """Until the next capture: an interval after this one began, or sooner when the
        screen was drawn on and the last picture sent is an interval old."""
        deadline = started + self.interval
        watch = self.damage
        if watch is None:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            return
        while (remaining := deadline - time.monotonic()) > 0:
            if await watch.wait(remaining):
                await asyncio.sleep(max(0.0, self._sent_at + self.interval - time.monotonic()))
                return

    def _stop_capture(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None
        if self.pointer is not None:
            self.pointer.close()
            self.pointer = None
        if self.damage is not None:
            self.damage.close()
            self.damage = None
        if self.windows is not None:
            self.windows.close()
            self.windows = None
        self._no_windows = False
        self.picture = self._layout = None
        self.video.stop()
        self._pointer_at = None
        self._told_everyone = LIVE  # viewers assume this of a presenter who starts
        self._told.clear()

    # Settings (the console's /pause, /hide, /exclude, ...) ---------------------------------

    async def change(self, settings: PrivacySettings) -> None:
        """Share by ``settings`` from the next frame on; viewers are told at once."""
        async with self._frame:
            if settings.mode is ShareMode.HIDDEN:
                self.picture = None  # shown again: a full picture
            self.settings = settings
            if self.presenting and self.member.e2e.current and self.capture is not None:
                await self._tell_everyone(settings.share_state())

    def window_list(self) -> list[tuple[Window, Verdict]]:
        """The windows on the screen, top first, each with its fate under the settings."""
        layout = self._windows().current()
        fates = verdicts(layout.windows, self.settings)
        return [
            (window, fates[window.id])
            for window in reversed(layout.windows)
            if clip(window.rect, layout.width, layout.height) is not None
        ]

    def _windows(self) -> WindowWatch:
        if self.windows is None:
            self.windows = self.open_windows()
        return self.windows

    def _layout_for_hints(self) -> Layout | None:
        """The windows now, for the encoder's move hints. Hints only help: where the
        windows cannot be followed, None, and they are not asked for again."""
        if self._no_windows:
            return None
        try:
            return self._windows().current()
        except CaptureError as error:
            log.info("window moves will not be hinted to the encoder: %s", error)
            self._no_windows = True
            return None

    # Remote input ----------------------------------------------------------------------

    def input_refusal(self, event: InputEvent) -> str | None:
        """Why the controller's event must be dropped (privacy.input_refusal), or None.
        Reads the windows as they are now; a failure to read them refuses the event."""
        settings = self.settings
        windows: tuple[Window, ...] = ()
        width = height = 0
        if settings.needs_windows:
            layout = self._windows().current()
            windows, width, height = layout.windows, layout.width, layout.height
        mask = self.filter.peek(windows, settings, width, height, time.monotonic())
        self._input_mask = mask
        return input_refusal(event, settings, mask, lambda: self._windows().focus())

    def masked_at(self, x: int, y: int) -> bool:
        """For the injector: is (x, y) masked, as the last input check saw it."""
        return self._input_mask.covers(x, y)

    # Frames ----------------------------------------------------------------------------

    async def share_once(self, capture: ScreenCapture) -> None:
        async with self._frame:
            await self._share_once(capture)

    async def _share_once(self, capture: ScreenCapture) -> None:
        settings = self.settings
        state = settings.share_state()
        await self._tell_everyone(state)
        epoch = self.member.e2e.current
        ready = {m for m in self.refresh_for if epoch and m in epoch.members}
        if settings.mode is not ShareMode.LIVE:
            if settings.needs_windows:  # the hold needs to know where windows were
                now = self._windows().current()
                self.filter.frame(now.windows, settings, now.width, now.height, time.monotonic())
            for member_id in ready:  # a newcomer learns why no picture comes
                await self._tell_one(member_id, state)
            return
        shot = await self.masked_grab(capture, settings)
        if shot is None:
            return  # the windows kept changing during every grab: no picture this time
        current, mask, layout = shot
        previous = self.picture
        moves = layout.moves_since(self._layout) if layout and previous is not None else []
        encoded = await asyncio.to_thread(self.video.encode, previous, current, moves)
        updates = encoded.updates
        await self._send(updates, EVERYONE)
        if encoded.video is not None:
            await self.member.send_content(encoded.video, EVERYONE, video_flags(encoded.video))
        await self._send(encoded.repaint, EVERYONE)
        if updates or encoded.video or encoded.repaint:
            self._sent_at = time.monotonic()
        self.picture = self.last_sent = current
        self._layout = layout
        moved = self.pointer.moved() if self.pointer else None
        if moved is not None:
            self._pointer_at = moved
        cursor = self._cursor(mask)
        if cursor is not None and (cursor != self.cursor or (updates and updates[0].full)):
            self.cursor = cursor
            await self.member.send_content(cursor, EVERYONE, Flags.SUPERSEDABLE)
        if ready:
            self.video.want_keyframe()  # their video decoders start from keyframes
            full = await asyncio.to_thread(self.video.full_picture, current)
            for member_id in ready:
                await self._tell_one(member_id, state)
                await self._send(full, member_id)
                if self.cursor is not None:
                    await self.member.send_content(self.cursor, member_id, Flags.SUPERSEDABLE)
                self._told.pop(member_id, None)
            self.refresh_for -= ready

    async def masked_grab(self, capture: ScreenCapture, settings: PrivacySettings) -> Shot | None:
        """The screen, masked, and the windows just before it was grabbed. When windows
        matter to privacy, they are also read after the grab; if they changed in between,
        the grab is thrown away and taken again. Otherwise they only say which windows
        moved (hints for the encoder, which checks them), and need no second read."""
        watch = self._windows() if settings.needs_windows else None  # privacy needs them
        for _ in range(limits.PRIVACY_GRAB_ATTEMPTS):
            layout = watch.current() if watch is not None else self._layout_for_hints()
            picture = await asyncio.to_thread(capture.grab)
            if watch and layout and watch.current().generation != layout.generation:
                continue  # a window moved, opened or closed meanwhile
            height, width = picture.shape[:2]
            windows = layout.windows if watch is not None and layout is not None else ()
            mask = self.filter.frame(windows, settings, width, height, time.monotonic())
            mask.paint(picture)  # ~0.4 ms for 95 % of a 1080p frame: no thread hop
            return Shot(picture, mask, layout)
        return None

    def _cursor(self, mask: Mask) -> Cursor | None:
        """The pointer as viewers may see it: nowhere while it is over a masked area."""
        if self._pointer_at is None:
            return None
        x, y = self._pointer_at
        if mask.covers(x, y):
            return Cursor(0, 0, False)
        return Cursor(x, y, True)

    async def _tell_everyone(self, state: ShareState) -> None:
        if state == self._told_everyone:
            return
        await self.member.send_content(state, EVERYONE, Flags.SUPERSEDABLE)
        self._told_everyone = state
        epoch = self.member.e2e.current
        for member_id in self.refresh_for:
            if epoch and member_id in epoch.members:
                self._told[member_id] = state  # they got this one too

    async def _tell_one(self, member_id: int, state: ShareState) -> None:
        if self._told.get(member_id, LIVE) != state:
            await self.member.send_content(state, member_id, Flags.SUPERSEDABLE)
            self._told[member_id] = state

    async def _send(self, updates: list[ScreenUpdate], target: int) -> None:
        for update in updates:
            flags = Flags.KEYFRAME if update.full else Flags.NONE
            await self.member.send_content(update, target, flags)
            self.updates_sent += 1


def _damage_watch(display: str) -> DamageWatch | None:
    """The display's DAMAGE reports, or None (polling alone) where there are none."""
    try:
        return DamageWatch(display)
    except (LookupError, InputError):
        return None
