"""Direct TLS to the embedded server's relay, straight and through a real HTTP CONNECT
proxy (tinyproxy) with Basic proxy authentication (client/transport.py)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from relaydesk.client.tls import pinned_context
from relaydesk.client.transport import DirectLink, Proxy, open_direct
from relaydesk.errors import CloseCode, ProxyRefused, RelayClosed
from relaydesk.protocol.frames import RELAY, Frame, FrameType, Header
from relaydesk.protocol.messages import Hello, encode
from support.proxy import tinyproxy
from support.servers import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("direct") / "data").start()
    try:
        yield live
    finally:
        live.stop()


def _context(server: LiveServer) -> ssl.SSLContext:
    return pinned_context(server.server.data.tls_cert_path.read_text())


async def _forged_hello(link: DirectLink) -> RelayClosed:
    header = Header(FrameType.HELLO, bytes(16), 0, 1, RELAY, 1)
    await link.send(Frame(header, encode(Hello(b"\x03" + bytes(100), bytes(64)))).serialize())
    with pytest.raises(RelayClosed) as closed:
        while True:  # the relay's CHALLENGE came first
            await asyncio.wait_for(link.recv(), 60)
    return closed.value


def test_direct_tls_maps_the_closing_error_to_relay_closed(server: LiveServer) -> None:
    async def run() -> RelayClosed:
        link = await open_direct(server.server.tcp_address, _context(server), None)
        assert (link.kind, link.through) == ("direct TLS", None)
        return await _forged_hello(link)

    closed = asyncio.run(run())
    assert closed.code in (CloseCode.BAD_TICKET, CloseCode.BAD_MESSAGE)


def test_direct_tls_through_an_authenticating_proxy(server: LiveServer, tmp_path: Path) -> None:
    with tinyproxy(tmp_path, user="user", password="pass") as proxy:

        async def run() -> RelayClosed:
            link = await open_direct(
                server.server.tcp_address, _context(server), Proxy.parse(proxy.url())
            )
            assert link.through == f"127.0.0.1:{proxy.port}"
            return await _forged_hello(link)

        closed = asyncio.run(run())
    assert closed.code in (CloseCode.BAD_TICKET, CloseCode.BAD_MESSAGE)


def test_wrong_proxy_password_is_a_clear_error(server: LiveServer, tmp_path: Path) -> None:
    with tinyproxy(tmp_path, user="user", password="pass") as proxy:
        wrong = Proxy.parse(proxy.url(password="nope"))
        with pytest.raises(ProxyRefused, match="refused the user name or password"):
            asyncio.run(open_direct(server.server.tcp_address, _context(server), wrong))
        anonymous = Proxy("127.0.0.1", proxy.port)
        with pytest.raises(ProxyRefused, match="wants authentication"):
            asyncio.run(open_direct(server.server.tcp_address, _context(server), anonymous))


def test_proxy_blocking_the_direct_port(server: LiveServer, tmp_path: Path) -> None:
    with (
        tinyproxy(tmp_path, connect_ports=[server.port]) as proxy,
        pytest.raises(ProxyRefused, match="refused"),
    ):
        asyncio.run(
            open_direct(server.server.tcp_address, _context(server), Proxy.parse(proxy.url()))
        )


def test_no_proxy_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://u:p%40ss@127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.example.org")
    assert Proxy.from_environment("relay.example.org") is None
    assert Proxy.from_environment("localhost") is None
    proxy = Proxy.from_environment("127.0.0.1")
    assert proxy == Proxy("127.0.0.1", 3128, "u", "p@ss")
