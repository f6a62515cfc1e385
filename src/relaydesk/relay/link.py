"""A member's link on a socket, as both relay drivers share it (docs/protocol.md §5.4):
direct TLS (``relay.tcp``) and WebSocket (``relay.endpoint``).

One object is the hub's ``Connection`` and the socket's asyncio ``Protocol``: frames are
read in ``data_received`` and handed to the hub at once (no task, no queue between), and
what the hub puts in the outbox is written by a ``Flusher`` once per event-loop turn. A
sender's burst thus reaches each receiver as one write (one run of TLS records, one
system call) however many frames it holds, and a frame is shared by every receiver's
outbox, never copied per receiver before the write.

A receiver that reads slowly only fills its own socket: the transport tells the link to
pause, and frames then wait in its outbox, where the screen backlog rules apply; nobody
else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from relaydesk import limits
from relaydesk.errors import CloseCode, RelaydeskError
from relaydesk.keepalive import keep_alive
from relaydesk.protocol.frames import HEADER_SIZE, SESSION_UID_SIZE, Header
from relaydesk.protocol.messages import LeaveReason
from relaydesk.relay.hub import Connection, RelayHub

log = logging.getLogger(__name__)

# WebSocket's "service restart", the close code for every link when the server stops:
# not final (§9), so members reconnect. Not a relaydesk CloseCode.
SERVICE_RESTART = cast(CloseCode, 1012)
CLOSE_GRACE_SECONDS = 5.0  # a closing link's last frames get this long, then it is cut


class Flusher:
    """Writes every link whose outbox got something, once per turn of the event loop,
    after all the frames that arrived in that turn were switched."""

    def __init__(self) -> None:
        self._due: list[SocketLink] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # Frames wrapped for a transport (WebSocket), by id(frame), for this turn: a
        # frame is wrapped once for all its receivers. Holding the frame keeps its id.
        self.wrapped: dict[int, tuple[bytes, bytes]] = {}

    def want(self, link: SocketLink) -> None:
        if not self._due:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._run)
        self._due.append(link)

    def _run(self) -> None:
        due, self._due = self._due, []
        for link in due:
            link.flush_due = False
            try:
                link.flush()
            except Exception:  # a bug with one link must not stop the others' writes
                log.exception("writing to a relay link failed")
                link.abort()
        self.wrapped.clear()


class SocketLink(Connection, asyncio.Protocol):
    """The parts of a driver that do not depend on its framing. A driver parses what
    ``data_received`` gets into frames and calls ``frame_received``; it writes frames
    (``write_frames``) and its closing words (``write_closing``) its own way."""

    def __init__(self, hub: RelayHub, flusher: Flusher, links: set[SocketLink]) -> None:
        super().__init__()
        self.hub = hub
        self.flusher = flusher
        self.links = links
        self.transport: asyncio.Transport | None = None
        self.flush_due = False
        self.write_paused = False
        self.lost = False
        self.closing_written = False  # last words sent: nothing more is written
        self.leave_reason = LeaveReason.DISCONNECTED
        self.session_uid = bytes(SESSION_UID_SIZE)  # for closing words; the ticket's, once in
        self.admitted = False
        self.hello: asyncio.Future[bytes | None] | None = None
        self._cutoff: asyncio.TimerHandle | None = None

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is a Transport in all but its class.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=limits.RELAY_WRITE_BATCH)
        keep_alive(transport)
        self.links.add(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.links.discard(self)
        if self._cutoff is not None:
            self._cutoff.cancel()
        if self.hello is not None and not self.hello.done():
            self.hello.set_result(None)
        self.hub.disconnect(self, self.leave_reason)
        self.close(CloseCode.NORMAL, "left")
        self.outbox.take()  # what a gone member never gets is not kept

    # Admission -------------------------------------------------------------------------

    def start_admission(self) -> None:
        """Open with this link's CHALLENGE (the relay speaks first: the HELLO must sign
        its nonce, §7.1), wait (bounded) for the HELLO, then let the hub admit the
        member."""
        self.write_frames([self.hub.challenge(self)])
        self.hello = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().create_task(self._admission(self.hello))

    async def _admission(self, first: asyncio.Future[bytes | None]) -> None:
        hello: bytes | None = None
        try:
            async with asyncio.timeout(limits.RELAY_HELLO_TIMEOUT_SECONDS):
                hello = await first
            if hello is None or self.lost:
                return  # gone before saying anything, or before being let in
            self.hub.admit(self, hello)
        except RelaydeskError as error:
            if hello is not None and len(hello) >= HEADER_SIZE:
                self.session_uid = hello[4 : 4 + SESSION_UID_SIZE]
            self.refused(error)
            return
        except TimeoutError:
            self.close(CloseCode.PROTOCOL_ERROR, "no HELLO")
            return
        if self.ticket is not None:
            self.session_uid = self.ticket.session_uid
        self.admitted = True
        if self.transport is not None and not self.lost:
            self.transport.resume_reading()
            self.admitted_now()

    def refused(self, error: RelaydeskError) -> None:
        """The HELLO was refused: close with the error's code (a driver may say more)."""
        self.close(error.close_code, str(error))

    def admitted_now(self) -> None:
        """The hub took the member in: go on with the frames that came after the HELLO."""

    def frame_received(self, data: bytes, header: Header | None = None) -> None:
        """One whole frame from the peer (``header``: parsed already, if the driver did)."""
        if self.admitted:
            try:
                self.hub.receive(self, data, header)
            except Exception:  # a bug must not take the event loop's handler, nor others
                log.exception("a frame from member %d failed", self.member_id)
                self.abort()
        elif self.hello is not None and not self.hello.done():
            # Nothing more is read until the hub has decided on the HELLO.
            assert self.transport is not None
            self.transport.pause_reading()
            self.hello.set_result(data)

    @property
    def reading_frames(self) -> bool:
        """Whether a driver may hand over another frame now (not while a HELLO is being
        decided, nor once the link is closing)."""
        return self.close_code is None and (
            self.admitted or (self.hello is not None and not self.hello.done())
        )

    @property
    def deciding(self) -> bool:
        """The HELLO is in and the hub has not decided on it yet: nothing more is read."""
        return (
            not self.admitted
            and self.hello is not None
            and self.hello.done()
            and self.close_code is None
        )

    def failed(self, error: RelaydeskError) -> None:
        """The peer broke the framing: close with the error's code."""
        if self.hello is not None and not self.hello.done():
            self.hello.set_exception(error)  # refused as a bad HELLO would be
        else:
            self.close(error.close_code, str(error))

    # Writing ---------------------------------------------------------------------------

    def wake(self) -> None:
        """The hub put something in the outbox, or closed the link: write it soon."""
        if not self.flush_due and not self.lost:
            self.flush_due = True
            self.flusher.want(self)

    def flush(self) -> None:
        """Write what the outbox holds, as far as the socket takes it; once closing and
        all written, the closing words."""
        if self.lost or self.closing_written or self.transport is None:
            return
        outbox = self.outbox
        while outbox and not self.write_paused:
            frames = outbox.take(limits.RELAY_WRITE_BATCH)
            self.write_frames(frames)
            self.bytes_out += sum(map(len, frames))
        if self.close_code is None:
            return
        if outbox:  # a peer that reads nothing keeps its last frames only so long
            if self._cutoff is None:
                loop = asyncio.get_running_loop()
                self._cutoff = loop.call_later(CLOSE_GRACE_SECONDS, self.abort)
            return
        self.closing_written = True
        self.write_closing(self.close_code, self.close_reason)
        self.hub.disconnect(self, self.leave_reason)  # gone for the session already
        if self._cutoff is None and not self.lost:
            self._cutoff = asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, self.abort)

    def write_frames(self, frames: list[bytes]) -> None:
        """Write relaydesk frames, in order, as this transport carries them."""
        raise NotImplementedError

    def write_closing(self, code: int, reason: str) -> None:
        """Say why the link ends, then end it (TLS close_notify, then TCP)."""
        raise NotImplementedError

    def abort(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.abort()


# A frame at least this big goes to the transport as it is; smaller ones that follow each
# other are joined first. Either way one write: TLS records hold up to 16 KiB, so joining
# small frames saves records, and not copying big ones saves a copy per receiver.
_JOIN_BELOW = 16 * 1024


def write_all(transport: asyncio.Transport, parts: list[bytes]) -> None:
    """Write ``parts`` in order as one write (one run of TLS records, one system call)."""
    if len(parts) == 1:
        transport.write(parts[0])
        return
    pieces: list[bytes] = []
    small: list[bytes] = []
    for part in parts:
        if len(part) < _JOIN_BELOW:
            small.append(part)
            continue
        if small:
            pieces.append(small[0] if len(small) == 1 else b"".join(small))
            small = []
        pieces.append(part)
    if small:
        pieces.append(small[0] if len(small) == 1 else b"".join(small))
    transport.writelines(pieces)


async def close_links(links: set[SocketLink]) -> None:
    """Tell every link the server is restarting (SERVICE_RESTART), then wait (bounded)
    until each has ended and left the hub, so that their leave records are written
    before the records are closed."""
    for link in list(links):
        link.close(SERVICE_RESTART, "service restart")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_GRACE_SECONDS + 1.0):
            while links:
                await asyncio.sleep(0.01)
