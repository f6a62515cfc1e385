"""The relay's direct TLS driver (docs/protocol.md §2.1): frames back to back on one TLS
stream, decoded by the stream rule of §2.6 as the bytes come in; the same hub calls as
the WebSocket driver (``relay.endpoint``), the same link machinery (``relay.link``).

A TCP stream has no close frame: whichever side closes with a code first sends an ERROR
frame addressed to EVERYONE (``Error(code, reason)``), its last frame, then closes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from relaydesk import limits
from relaydesk.errors import CloseCode, MessageError, RelaydeskError
from relaydesk.protocol.frames import (
    EVERYONE,
    HEADER_SIZE,
    RELAY,
    Frame,
    FrameType,
    Header,
    parse_header,
)
from relaydesk.protocol.messages import Error, LeaveReason, decode, encode
from relaydesk.relay.hub import RelayHub
from relaydesk.relay.link import SERVICE_RESTART, Flusher, SocketLink, close_links, write_all

log = logging.getLogger(__name__)
_ERROR = FrameType.ERROR  # bound once: looked up for every frame read

__all__ = ["SERVICE_RESTART", "DirectServer", "closing_frame", "serve_tcp"]


def closing_frame(session_uid: bytes, code: int, reason: str) -> bytes:
    """The last frame of a direct TLS link: why it is being closed (target EVERYONE,
    which sets it apart from an ERROR that answers one refused request)."""
    header = Header(FrameType.ERROR, session_uid, 0, RELAY, EVERYONE, 0)
    text = reason[: limits.MAX_ERROR_TEXT_CHARS]
    return Frame(header, encode(Error(int(code), text))).serialize()


class DirectLink(SocketLink):
    """One member's direct TLS link, from its HELLO to its end. Nothing escapes: one bad
    peer never harms another."""

    def __init__(self, hub: RelayHub, flusher: Flusher, links: set[SocketLink]) -> None:
        super().__init__(hub, flusher, links)
        # At most one header and one body are buffered (§2.6): a header's length is
        # checked before its body is waited for. Frames whole in what was read are
        # sliced from it directly; only one begun in an earlier read is put together here.
        self._buffer = bytearray()
        self._pending: tuple[Header, int] | None = None  # the buffered frame's header

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.start_admission()

    def data_received(self, data: bytes) -> None:
        if not self.reading_frames:
            if self.close_code is None:  # a HELLO is being decided: the rest waits
                self._buffer += data
            return
        try:
            start = self._finish_buffered(data)
            if start < 0:
                return
            end = self._frames(data, start)
        except RelaydeskError as error:  # bad header, unknown type, oversize
            self._buffer.clear()
            self.failed(error)
            return
        if end < len(data) and self.close_code is None:
            self._buffer += memoryview(data)[end:]

    def admitted_now(self) -> None:
        waiting, self._buffer = bytes(self._buffer), bytearray()
        self.data_received(waiting)  # the frames that came after the HELLO

    def _finish_buffered(self, data: bytes) -> int:
        """Complete the frame begun in an earlier read from the front of ``data``; the
        offset in ``data`` where the next frame starts, or -1 if more is needed."""
        buffer = self._buffer
        if not buffer:
            return 0
        view, start = memoryview(data), 0
        if len(buffer) < HEADER_SIZE:
            start = HEADER_SIZE - len(buffer)
            buffer += view[:start]
            if len(buffer) < HEADER_SIZE:
                return -1
        if self._pending is None:
            self._pending = parse_header(bytes(buffer[:HEADER_SIZE]))
        header, length = self._pending
        stop = start + HEADER_SIZE + length - len(buffer)
        buffer += view[start:stop]
        if len(buffer) < HEADER_SIZE + length:
            return -1
        frame, self._buffer, self._pending = bytes(buffer), bytearray(), None
        self._one(frame, header)
        if not self.reading_frames and self.close_code is None:
            self._buffer += view[stop:]  # the HELLO is being decided: the rest waits
            return -1
        return stop

    def _frames(self, data: bytes, pos: int) -> int:
        """Hand over every whole frame of ``data`` from ``pos``; return where the first
        one not whole starts."""
        end = len(data)
        while end - pos >= HEADER_SIZE and self.reading_frames:
            header, length = parse_header(data[pos : pos + HEADER_SIZE])
            stop = pos + HEADER_SIZE + length
            if stop > end:
                break
            self._one(data[pos:stop], header)
            pos = stop
        return pos

    def _one(self, frame: bytes, header: Header) -> None:
        if header.type is _ERROR and self.admitted:
            self._peer_closing(frame)
        else:
            self.frame_received(frame, header)

    def _peer_closing(self, frame: bytes) -> None:
        """The member's closing ERROR: it leaves (1000 or 1001: on purpose)."""
        try:
            message = decode(FrameType.ERROR, frame[HEADER_SIZE:])
        except MessageError as error:
            self.close(error.close_code, str(error))
            return
        assert isinstance(message, Error)
        if message.code in (CloseCode.NORMAL, 1001):
            self.leave_reason = LeaveReason.LEFT
        self.hub.disconnect(self, self.leave_reason)
        self.close(CloseCode.NORMAL, "left")

    def write_frames(self, frames: list[bytes]) -> None:
        assert self.transport is not None
        write_all(self.transport, frames)

    def write_closing(self, code: int, reason: str) -> None:
        assert self.transport is not None
        self.transport.write(closing_frame(self.session_uid, code, reason))
        self.transport.close()  # after what is buffered: TLS close_notify, then TCP


class DirectServer:
    """The direct TLS port and the links it serves. ``close()`` stops listening and tells
    each live link the server is restarting (SERVICE_RESTART, in its closing ERROR), as
    the WebSocket links are told: a TCP stream that just ends would look like a lost
    connection."""

    def __init__(self, server: asyncio.Server, links: set[SocketLink]) -> None:
        self._server = server
        self._links = links

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets)

    def close(self) -> None:
        self._server.close()
        for link in list(self._links):
            link.close(SERVICE_RESTART, "service restart")

    async def stop(self) -> None:
        """Close, then wait (bounded) until every link has ended and left the hub, so
        their leave records are written before the records are."""
        self._server.close()
        await close_links(self._links)


async def serve_tcp(
    hub: RelayHub, host: str, port: int, ssl_context: ssl.SSLContext
) -> DirectServer:
    """Listen for direct TLS links on HOST:PORT (0: any free port); the caller closes it."""
    links: set[SocketLink] = set()
    flusher = Flusher()
    server = await asyncio.get_running_loop().create_server(
        lambda: DirectLink(hub, flusher, links),
        host,
        port,
        ssl=ssl_context,
        ssl_handshake_timeout=limits.RELAY_HELLO_TIMEOUT_SECONDS,
        backlog=512,
    )
    return DirectServer(server, links)
