"""The relay's WebSocket driver (``wss://HOST:PORT/relay``): one binary message per frame
(docs/protocol.md §1), on the link machinery it shares with direct TLS (``relay.link``).

The HTTP server (uvicorn) parses the upgrade request and hands the socket over
(``server.serving``); from then on no ASGI call is made per frame. The handshake itself is
the websockets library's (``ServerProtocol.accept``: the RFC 6455 checks, no extension
negotiated, so permessage-deflate stays off). Frames are then read and written here, as
RFC 6455 §5 has them for a server: client frames must be masked, server frames are not;
control frames are short and whole; a message is at most ``MAX_MESSAGE`` bytes, refused
(1009) on the header that would pass it, before anything of it is buffered. A server
frame's bytes depend only on the relaydesk frame it carries, so each frame is wrapped once
for all its receivers (``Flusher.wrapped``).
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import cast

from websockets.http11 import Request
from websockets.server import ServerProtocol

from relaydesk import limits
from relaydesk.errors import CloseCode, FrameError, RelaydeskError
from relaydesk.protocol.frames import HEADER_SIZE
from relaydesk.protocol.messages import LeaveReason
from relaydesk.relay.hub import RelayHub, error_frame
from relaydesk.relay.link import Flusher, SocketLink, write_all

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

PATH = b"/relay"
MAX_MESSAGE = HEADER_SIZE + limits.MAX_FRAME_BODY  # the largest frame, as one message

# Opcodes and close codes of RFC 6455 (§5.2, §7.4.1).
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NO_STATUS = 1005  # a close frame without a code
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011  # also: no answer to our keepalive ping

_FIN = 0x80
_HEAD16 = struct.Struct(">BBH")
_HEAD64 = struct.Struct(">BBQ")


def wants(request: bytes) -> bool:
    """Whether an upgrade request (as uvicorn passes it on) is for the relay."""
    line = request.split(b"\r\n", 1)[0].split(b" ")
    return len(line) == 3 and line[1].split(b"?", 1)[0] == PATH


def server_frame(payload: bytes, opcode: int = BINARY) -> bytes:
    """One unmasked, unfragmented server frame (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        head = bytes((_FIN | opcode, length))
    elif length < 1 << 16:
        head = _HEAD16.pack(_FIN | opcode, 126, length)
    else:
        head = _HEAD64.pack(_FIN | opcode, 127, length)
    return head + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit the 125 bytes of a control frame."""
    if code == NO_STATUS:
        return server_frame(b"", CLOSE)
    text = reason.encode()[:123].decode(errors="ignore").encode()
    return server_frame(code.to_bytes(2, "big") + text, CLOSE)


def _valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011) or (3000 <= code <= 4999)


class Broken(Exception):
    """The peer broke RFC 6455: fail the connection with this close code (§7.1.7)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RelayWebSocket(SocketLink):
    """One member's WebSocket link, from the upgrade request to its end."""

    def __init__(self, hub: RelayHub, flusher: Flusher, links: set[SocketLink]) -> None:
        super().__init__(hub, flusher, links)
        self._buffer = bytearray()
        self._wanted = 0  # bytes the buffer must hold before the next frame can be whole
        self._reading = False  # frames are read (from the handshake until the close)
        self._fragments: list[bytes] | None = None  # of a fragmented message
        self._fragments_size = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_unanswered = False

    # Handshake -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            if self.hello is None and not self.lost:
                self._upgrade(data)  # the request, whole, as uvicorn hands it over
            return
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._wanted:
                return
            data, self._buffer = bytes(self._buffer), bytearray()
        try:
            rest = self._frames(data)
        except Broken as broken:
            self._fail(broken.code, broken.reason)
            return
        if rest:
            self._buffer = bytearray(rest)

    def _upgrade(self, request: bytes) -> None:
        assert self.transport is not None
        handshake = ServerProtocol(max_size=MAX_MESSAGE)
        handshake.receive_data(request)
        parsed = [event for event in handshake.events_received() if isinstance(event, Request)]
        if not parsed:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            self.transport.close()
            return
        response = handshake.accept(parsed[0])
        handshake.send_response(response)
        self.transport.write(b"".join(handshake.data_to_send()))
        if response.status_code != 101:
            self.transport.close()
            return
        self._reading = True
        self._ping_timer = asyncio.get_running_loop().call_later(
            limits.RELAY_WEBSOCKET_PING_SECONDS, self._keepalive
        )
        self.start_admission()

    def admitted_now(self) -> None:
        self._wanted = 0
        self.data_received(b"")  # the frames that came after the HELLO

    def refused(self, error: RelaydeskError) -> None:
        self.write_frames([error_frame(self.session_uid, error)])
        super().refused(error)

    # Reading ---------------------------------------------------------------------------

    def _frames(self, data: bytes) -> memoryview | bytes:
        """Act on every whole frame of ``data``; return what is left of it."""
        view = memoryview(data)
        pos, end = 0, len(data)
        self._wanted = 2
        while self._reading and end - pos >= 2:
            if self.deciding:  # the HELLO is being decided: the rest waits
                self._wanted = 0
                break
            first, second = data[pos], data[pos + 1]
            if first & 0x70:
                raise Broken(PROTOCOL_ERROR, "reserved bits set: no extension was agreed")
            if not second & 0x80:
                raise Broken(PROTOCOL_ERROR, "a client frame must be masked")
            opcode, length, head = first & 0x0F, second & 0x7F, 6
            if length == 126:
                if end - pos < 8:
                    self._wanted = 8
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 8
            elif length == 127:
                if end - pos < 14:
                    self._wanted = 14
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 14
            if opcode >= CLOSE:
                if not first & _FIN or length > 125:
                    raise Broken(PROTOCOL_ERROR, "a control frame is whole and short")
            elif self._fragments_size + length > MAX_MESSAGE:
                raise Broken(MESSAGE_TOO_BIG, "message too big")
            stop = pos + head + length
            if stop > end:
                self._wanted = stop - pos
                break
            payload = apply_mask(view[pos + head : stop], data[pos + head - 4 : pos + head])
            pos = stop
            self._frame(opcode, bool(first & _FIN), payload)
        return view[pos:] if pos < end and self._reading else b""

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode == BINARY:
            if self._fragments is not None:
                raise Broken(PROTOCOL_ERROR, "a new message before the last one ended")
            if fin:
                self.frame_received(payload)
            else:
                self._fragments, self._fragments_size = [payload], len(payload)
        elif opcode == CONTINUATION:
            if self._fragments is None:
                raise Broken(PROTOCOL_ERROR, "a continuation of no message")
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            if fin:
                message = b"".join(self._fragments)
                self._fragments, self._fragments_size = None, 0
                self.frame_received(message)
        elif opcode == TEXT:
            self._reading = False
            self.failed(FrameError("frames are binary WebSocket messages"))
        elif opcode == CLOSE:
            self._peer_closed(payload)
        elif opcode == PING:
            if not self.closing_written:
                assert self.transport is not None
                self.transport.write(server_frame(payload, PONG))
        elif opcode == PONG:
            self._ping_unanswered = False
        else:
            raise Broken(PROTOCOL_ERROR, f"unknown opcode {opcode}")

    def _peer_closed(self, payload: bytes) -> None:
        """The peer's close frame: answer it (if we have not closed first), then end."""
        code = NO_STATUS
        if len(payload) == 1:
            raise Broken(PROTOCOL_ERROR, "a close frame's code has two bytes")
        if payload:
            code = int.from_bytes(payload[:2], "big")
            if not _valid_close_code(code):
                raise Broken(PROTOCOL_ERROR, f"close code {code} is not one to send")
            try:
                payload[2:].decode()
            except UnicodeDecodeError:
                raise Broken(INVALID_DATA, "a close reason must be UTF-8") from None
        self._reading = False
        if code in (1000, 1001):
            self.leave_reason = LeaveReason.LEFT
        assert self.transport is not None
        if not self.closing_written:
            self.closing_written = True
            self.transport.write(close_frame(code))
        self.hub.disconnect(self, self.leave_reason)
        self.close(cast(CloseCode, 1000 if code == NO_STATUS else code), "closed by the peer")
        self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """RFC 6455 §7.1.7: send a close frame if one can still go, then close."""
        self._reading = False
        assert self.transport is not None
        if not self.closing_written:
            self.closing_written = True
            self.transport.write(close_frame(code, reason))
        self.close(cast(CloseCode, code), reason)
        self.hub.disconnect(self, self.leave_reason)
        self.transport.close()

    # Writing ---------------------------------------------------------------------------

    def write_frames(self, frames: list[bytes]) -> None:
        assert self.transport is not None
        wrapped = self.flusher.wrapped
        wires = []
        for frame in frames:
            known = wrapped.get(id(frame))
            if known is None or known[0] is not frame:
                known = wrapped[id(frame)] = (frame, server_frame(frame))
            wires.append(known[1])
        write_all(self.transport, wires)

    def write_closing(self, code: int, reason: str) -> None:
        """Our close frame; the peer's answer ends the link (or the grace period does)."""
        assert self.transport is not None
        self.transport.write(close_frame(code, reason))
        if not self._reading:
            self.transport.close()

    def _keepalive(self) -> None:
        """A ping every RELAY_WEBSOCKET_PING_SECONDS; one unanswered by the next means a
        peer that is gone without a word (no FIN, no RST): its place is freed."""
        if self.lost or self.closing_written or self.transport is None:
            return
        if self._ping_unanswered:
            self._fail(INTERNAL_ERROR, "keepalive ping timeout")
            self.abort()
            return
        self._ping_unanswered = True
        self.transport.write(server_frame(os.urandom(4), PING))
        self._ping_timer = asyncio.get_running_loop().call_later(
            limits.RELAY_WEBSOCKET_PING_SECONDS, self._keepalive
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._reading = False
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        super().connection_lost(exc)
