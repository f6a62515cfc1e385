"""The share loop: capture, find what changed, encode, seal, send (docs/screen.md).

Paced to at most ``limits.SCREEN_FPS`` pictures a second and silent when nothing changes.
The screen is opened only while this member presents (after its person said yes) and
closed as soon as it stops. A viewer that joined or fell behind asks (through the relay)
for a full picture; it is sent to that viewer alone, once the viewer holds the current
epoch's key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from relaydesk import limits
from relaydesk.agent.pointer import PointerWatch
from relaydesk.client.member import Member
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import Cursor, ScreenUpdate
from relaydesk.screen.capture import ScreenCapture
from relaydesk.screen.codec import encode_update

OpenCapture = Callable[[], ScreenCapture]


class Presenter:
    def __init__(
        self, member: Member, open_capture: OpenCapture, fps: float = limits.SCREEN_FPS
    ) -> None:
        self.member = member
        self.open_capture = open_capture
        self.capture: ScreenCapture | None = None
        self.pointer: PointerWatch | None = None
        self.cursor: Cursor | None = None  # the pointer as last sent
        self.interval = 1.0 / fps
        self.picture: np.ndarray | None = None  # what every viewer has now
        self.refresh_for: set[int] = set()
        self.updates_sent = 0

    @property
    def presenting(self) -> bool:
        return self.member.presenter == self.member.member_id

    def want_refresh(self, member_id: int) -> None:
        self.refresh_for.add(member_id)

    async def run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                if self.presenting and self.member.e2e.current:
                    if self.capture is None:
                        self.capture = self.open_capture()
                        self.pointer = PointerWatch(self.capture.display)
                    await self.share_once(self.capture)
                else:
                    self._stop_capture()  # a full picture first when presenting again
                elapsed = time.monotonic() - started
                await asyncio.sleep(max(0.0, self.interval - elapsed))
        finally:
            self._stop_capture()

    def _stop_capture(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None
        if self.pointer is not None:
            self.pointer.close()
            self.pointer = None
        self.picture = None

    async def share_once(self, capture: ScreenCapture) -> None:
        current = await asyncio.to_thread(capture.grab)
        previous = self.picture
        updates = await asyncio.to_thread(encode_update, previous, current)
        await self._send(updates, EVERYONE)
        self.picture = current
        moved = self.pointer.moved() if self.pointer else None
        if moved is not None:
            self.cursor = Cursor(moved[0], moved[1], True)
        if self.cursor is not None and (moved is not None or (updates and updates[0].full)):
            await self.member.send_content(self.cursor, EVERYONE, Flags.SUPERSEDABLE)
        epoch = self.member.e2e.current
        ready = {m for m in self.refresh_for if epoch and m in epoch.members}
        if ready:
            full = await asyncio.to_thread(encode_update, None, current)
            for member_id in ready:
                await self._send(full, member_id)
                if self.cursor is not None:
                    await self.member.send_content(self.cursor, member_id, Flags.SUPERSEDABLE)
            self.refresh_for -= ready

    async def _send(self, updates: list[ScreenUpdate], target: int) -> None:
        for update in updates:
            flags = Flags.KEYFRAME if update.full else Flags.NONE
            await self.member.send_content(update, target, flags)
            self.updates_sent += 1
