"""A viewer that stops reading does not hold up anyone, the relay's memory for it stays
bounded, and it gets a whole new picture when it reads again (issue 3; docs/protocol.md
§5.4).

The real EmbeddedServer runs in a background thread; the presenter is a library
``Member`` sealing ScreenUpdates itself (random pixels: incompressible, like the worst
screen); viewer A connects and does not read a single message; viewer B reads and paints
every update into a ``FrameBuffer``. Tens of MiB go through while A's TCP connection is
backed up. Then A reads again: the presenter answers the relay's REFRESH for A with a
keyframe for A alone, and A's picture becomes the presenter's.
"""

from __future__ import annotations

import asyncio
import ssl
import tracemalloc
from dataclasses import dataclass

import numpy as np

from integration.helpers import Crowd, Peer, host_session, join_peer, run_async, until
from relaydesk import limits
from relaydesk.client.member import Received, Rejected
from relaydesk.errors import RelayClosed
from relaydesk.protocol.frames import EVERYONE, Flags
from relaydesk.protocol.messages import Refresh, ScreenUpdate, Tile, TileEncoding
from relaydesk.screen.framebuffer import FrameBuffer
from support.servers import LiveServer

SIDE = 512  # a 512x512 picture: 1 MiB of BGRX
BAND = 128  # each update repaints 128 rows: 256 KiB, sealed
UPDATES = 240  # 60 MiB in all, far beyond what A's socket buffers and queues can hold
WINDOW = 8  # the presenter runs at most this many updates ahead of viewer B


class Painter:
    """Viewer B: applies every screen update it receives to its framebuffer."""

    def __init__(self) -> None:
        self.picture = FrameBuffer()
        self.updates = 0
        self.progress = asyncio.Event()

    async def __call__(self, peer: Peer, item: Received) -> None:
        if isinstance(item.message, ScreenUpdate):
            self.picture.apply(item.message)
            self.updates += 1
            self.progress.set()

    async def reached(self, count: int) -> None:
        async with asyncio.timeout(60):
            while self.updates < count:
                self.progress.clear()
                await self.progress.wait()


def band_update(picture: np.ndarray, index: int, rng: np.random.Generator) -> ScreenUpdate:
    """Repaint one band of ``picture`` with random pixels; the update that does it."""
    top = (index * BAND) % SIDE
    band = rng.integers(0, 256, (BAND, SIDE, 4), dtype=np.uint8)
    picture[top : top + BAND] = band
    tile = Tile(0, top, SIDE, BAND, TileEncoding.RAW, band.tobytes())
    return ScreenUpdate(SIDE, SIDE, False, (tile,))


@dataclass
class Outcome:
    viewer_updates: int  # screen updates viewer B received
    viewer_has_picture: bool  # B's framebuffer equals the presenter's last picture
    viewer_dropped: int  # updates the relay dropped for B
    viewer_closed: RelayClosed | None
    largest_backlog: int  # A's queued screen bytes at the relay, sampled after each send
    stalled_backlog: int  # ... after the last one
    stalled_dropped: int  # updates the relay dropped for A
    stalled_awaiting_keyframe: bool
    stalled_close_code: int | None  # the relay closing A's connection, if it did
    memory_growth: int  # peak Python memory while pushing, above the start
    updates_after_catching_up: int  # screen updates A received once it read again
    stalled_rejected: list[Rejected]


async def share(server: LiveServer, context: ssl.SSLContext, token: str) -> Outcome:
    async with Crowd() as crowd:
        return await _share(server, context, token, crowd)


async def _share(server: LiveServer, context: ssl.SSLContext, token: str, crowd: Crowd) -> Outcome:
    created, host = await host_session(server.url, context, token)
    crowd.add(host)
    await until(lambda: host.member.presenter == host.member_id, "the host presents")
    stalled = crowd.add(
        await join_peer(server.url, context, created.session_id, "Sam Stalled", read=False)
    )
    painter = Painter()
    viewer = crowd.add(
        await join_peer(server.url, context, created.session_id, "Vera Viewer", on_message=painter)
    )
    await host.keys_for(stalled, viewer)
    await viewer.keys_for(host, stalled)
    connections = server.inspect(lambda: server.hub.sessions[created.session_uid].connections)
    stalled_link, viewer_link = connections[stalled.member_id], connections[viewer.member_id]

    def refreshes_for(peer: Peer) -> int:
        return sum(message.member_id == peer.member_id for _, message in host.messages_of(Refresh))

    # A newcomer's REFRESH (sent when A joined) arrived before B's MEMBER_JOINED.
    joining_refreshes = refreshes_for(stalled)

    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (SIDE, SIDE, 4), dtype=np.uint8)
    tracemalloc.start()
    try:
        await host.member.send_content(keyframe(picture), EVERYONE, Flags.KEYFRAME)
        await painter.reached(1)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        largest_backlog = 0
        for index in range(UPDATES):
            await painter.reached(index + 1 - WINDOW)  # B's pace, never A's
            await host.member.send_content(band_update(picture, index, rng))
            # A plain read of an int the server thread writes: a sample, not a lock.
            largest_backlog = max(largest_backlog, stalled_link.outbox.screen_bytes)
        await painter.reached(UPDATES + 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    def boxes() -> tuple[int, int, bool, int | None, int]:
        box = stalled_link.outbox
        return (
            box.screen_bytes,
            box.dropped_updates,
            box.awaiting_keyframe,
            stalled_link.close_code,
            viewer_link.outbox.dropped_updates,
        )

    stalled_backlog, stalled_dropped, awaiting, close_code, viewer_dropped = server.inspect(boxes)
    catching_up = Painter()
    if stalled_dropped:  # A missed updates: it must get a whole new picture
        await until(
            lambda: refreshes_for(stalled) > joining_refreshes,
            "the relay asks the presenter for a new picture for A",
        )
        # A reads again. What it had buffered comes first; then, as the presenter answers
        # the relay's REFRESH for it, one keyframe of the current picture, to A alone.
        stalled.on_message = catching_up
        stalled.start_reading()
        await host.member.send_content(keyframe(picture), stalled.member_id, Flags.KEYFRAME)
        await until(
            lambda: (
                catching_up.picture.ready and np.array_equal(catching_up.picture.picture, picture)
            ),
            "the stalled viewer has the current picture",
        )
    return Outcome(
        viewer_updates=painter.updates,
        viewer_has_picture=np.array_equal(painter.picture.picture, picture),
        viewer_dropped=viewer_dropped,
        viewer_closed=viewer.closed,
        largest_backlog=largest_backlog,
        stalled_backlog=stalled_backlog,
        stalled_dropped=stalled_dropped,
        stalled_awaiting_keyframe=awaiting,
        stalled_close_code=close_code,
        memory_growth=peak - baseline,
        updates_after_catching_up=catching_up.updates,
        stalled_rejected=stalled.rejected,
    )


def keyframe(picture: np.ndarray) -> ScreenUpdate:
    tile = Tile(0, 0, SIDE, SIDE, TileEncoding.RAW, picture.tobytes())
    return ScreenUpdate(SIDE, SIDE, True, (tile,))


def test_a_stalled_viewer_delays_nobody_stays_bounded_and_catches_up(
    shared_server: LiveServer, shared_context: ssl.SSLContext, organizer_token: str
) -> None:
    outcome = run_async(share(shared_server, shared_context, organizer_token))
    # B got every update, in order, and ends with the presenter's exact picture.
    assert outcome.viewer_updates == UPDATES + 1
    assert outcome.viewer_has_picture
    assert outcome.viewer_dropped == 0
    assert outcome.viewer_closed is None
    # A's queue at the relay stayed within its limit: updates were dropped instead, and
    # A waits for a whole picture. A screen backlog alone never disconnects.
    assert outcome.largest_backlog <= limits.RELAY_SCREEN_BACKLOG
    assert outcome.stalled_backlog <= limits.RELAY_SCREEN_BACKLOG
    assert outcome.stalled_dropped > 0
    assert outcome.stalled_awaiting_keyframe
    assert outcome.stalled_close_code is None
    # Reading again, A caught up with fewer updates than were sent (the dropped ones
    # never came), ending on the keyframe; everything it got was genuine.
    assert 0 < outcome.updates_after_catching_up < UPDATES + 1
    assert outcome.stalled_rejected == []
    # Python memory (relay, presenter, viewers: all in this process) grew by far less
    # than what went through: A's backlog is not kept anywhere.
    assert outcome.memory_growth < UPDATES * BAND * SIDE * 4 / 2
