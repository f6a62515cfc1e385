"""The relay's WebSocket driver (``wss://HOST:PORT/relay``): one binary message per frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from relaydesk import limits
from relaydesk.errors import CloseCode, FrameError, RelaydeskError
from relaydesk.protocol.frames import HEADER_SIZE, SESSION_UID_SIZE
from relaydesk.protocol.messages import LeaveReason
from relaydesk.relay.hub import Connection, RelayHub, error_frame

log = logging.getLogger(__name__)


async def _next_frame(websocket: WebSocket) -> bytes:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data = message.get("bytes")
    if data is None:
        raise FrameError("frames are binary WebSocket messages")
    return bytes(data)


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8 (RFC 6455 §5.5)."""
    return text.encode()[:120].decode(errors="ignore")


async def _write(websocket: WebSocket, connection: Connection) -> None:
    """Write the outbox until the connection is closed; a slow socket slows only this."""
    while True:
        await connection.wait()
        for data in connection.outbox.take():
            await websocket.send_bytes(data)
            connection.bytes_out += len(data)
        if connection.close_code is not None:
            with contextlib.suppress(Exception):  # the peer may be gone already
                await websocket.close(connection.close_code, _reason(connection.close_reason))
            return


async def serve(websocket: WebSocket, hub: RelayHub) -> None:
    await websocket.accept()
    connection = Connection()
    hello = b""
    try:
        async with asyncio.timeout(limits.RELAY_HELLO_TIMEOUT_SECONDS):
            hello = await _next_frame(websocket)
        hub.admit(connection, hello)
    except (RelaydeskError, TimeoutError, WebSocketDisconnect) as error:
        if isinstance(error, RelaydeskError):
            uid = hello[4 : 4 + SESSION_UID_SIZE] if len(hello) >= HEADER_SIZE else bytes(16)
            with contextlib.suppress(Exception):
                await websocket.send_bytes(error_frame(uid, error))
                await websocket.close(error.close_code, _reason(str(error)))
        else:
            with contextlib.suppress(Exception):
                await websocket.close(CloseCode.PROTOCOL_ERROR, "no HELLO")
        return
    writer = asyncio.create_task(_write(websocket, connection))
    reason = LeaveReason.DISCONNECTED
    try:
        while True:  # ends when the peer goes, or after the writer closed the socket
            hub.receive(connection, await _next_frame(websocket))
    except WebSocketDisconnect as disconnect:
        if disconnect.code in (1000, 1001):
            reason = LeaveReason.LEFT
    except FrameError as error:  # a text message
        connection.close(error.close_code, str(error))
    finally:
        hub.disconnect(connection, reason)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, timeout=5)
        writer.cancel()
