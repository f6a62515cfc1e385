"""A client reconnecting to a local relay that is down can connect to itself: the kernel
gives the outgoing socket the very port it dials (TCP simultaneous open). Such a
connection reaches nobody and keeps the relay from binding its port again, so the
client treats it as refused."""

from __future__ import annotations

import asyncio
import socket

import pytest

from relaydesk.client.transport import _refuse_self_connection


def test_a_connection_to_itself_is_refused_and_frees_its_port() -> None:
    async def dial_self() -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        sock.connect(("127.0.0.1", port))  # nobody listens: it meets itself
        _, writer = await asyncio.open_connection(sock=sock)
        with pytest.raises(ConnectionRefusedError, match="itself"):
            _refuse_self_connection(writer)
        await asyncio.sleep(0)  # the abort closes the socket on the next turn
        return port

    port = asyncio.run(dial_self())
    with socket.socket() as listener:  # the relay can have its port back
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
