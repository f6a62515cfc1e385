"""The pinned TLS context itself refuses every certificate but the pinned one, so a
server swapped between fetching its certificate and connecting (or a man in the middle
on any later connection) is refused during the handshake, not only by the fingerprint
check before it (client/tls.py; SECURITY.md, "Network")."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from relaydesk.client import tls
from relaydesk.server.datadir import DataDir


def _server_context(directory: Path) -> tuple[ssl.SSLContext, str]:
    cert, key = DataDir(directory).load_or_create_tls(["127.0.0.1"], None, None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert.read_text()


async def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        writer.close()
    finally:
        listener.close()


def test_the_pinned_certificate_is_accepted_and_any_other_refused(tmp_path: Path) -> None:
    pinned, pinned_pem = _server_context(tmp_path / "pinned")
    other, _ = _server_context(tmp_path / "other")
    asyncio.run(_handshake(pinned, tls.pinned_context(pinned_pem)))
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_handshake(other, tls.pinned_context(pinned_pem)))
