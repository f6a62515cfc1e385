"""What every relaydesk server process shares: binding, the uvicorn setup and the relay's
consent ticker. Broker-free on purpose: ``relaydesk relay`` imports it too, and its trust
domain ends at the relay key and the broker's public key."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from relaydesk import limits
from relaydesk.ops.headers import HeaderSource, SecurityHeaders, base_headers
from relaydesk.protocol.frames import HEADER_SIZE
from relaydesk.relay import endpoint
from relaydesk.relay.hub import RelayHub
from relaydesk.relay.link import Flusher, SocketLink, close_links
from relaydesk.server import tls


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def shown_host(host: str) -> str:
    """The host to print in URLs: a wildcard bind is reached on loopback here."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def settle_heap() -> None:
    """Once started: leave what the process has built so far (modules, the web app, the
    stores) out of every later garbage collection. The relay allocates a few tuples for
    every frame it forwards, which starts collections; without this each older-generation
    one walks the whole heap of a process that also serves the broker (~7 % of the
    relay's CPU in a 1 -> 1 stream)."""
    gc.collect()
    gc.freeze()


def bind(host: str, port: int) -> socket.socket:
    """Bind first, so ``--port 0`` works and the URL printed is the real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                # uvicorn re-raises the signal that stopped it once it has shut down,
                # which kills the process (SIGTERM) before stop() wrote the last event
                # records and closed the database.
                self._captured_signals.clear()


def _upgrades(hub: RelayHub, flusher: Flusher, links: set[SocketLink]) -> type[asyncio.Protocol]:
    """The WebSocket protocol uvicorn hands every upgrade request to: ``/relay`` goes to
    the relay's own driver (relay/endpoint.py: no ASGI call per frame, frames coalesced
    per receiver), any other path to uvicorn's usual protocol and the application."""

    class Upgrade(asyncio.Protocol):
        def __init__(
            self,
            config: uvicorn.Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            self._asgi = (config, server_state, app_state)
            self._transport: asyncio.BaseTransport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._transport = transport

        def data_received(self, data: bytes) -> None:
            # uvicorn passes the whole upgrade request at once, then nothing more here.
            assert self._transport is not None
            protocol: asyncio.Protocol
            if endpoint.wants(data):
                protocol = endpoint.RelayWebSocket(hub, flusher, links)
            else:
                protocol = WebSocketsSansIOProtocol(*self._asgi)
            protocol.connection_made(self._transport)
            self._transport.set_protocol(protocol)
            protocol.data_received(data)

    return Upgrade


class HttpsServer:
    """uvicorn on a bound socket, TLS hardened (server/tls.py), WebSocket frames bounded,
    ``headers`` on every HTTP answer (ops/headers.py). With ``hub``, ``/relay`` is served
    by the relay's WebSocket driver."""

    def __init__(
        self,
        app: ASGIApp,
        cert: Path,
        key: Path,
        headers: HeaderSource = base_headers,
        hub: RelayHub | None = None,
    ) -> None:
        self._relay_links: set[SocketLink] = set()
        ws: str | type[asyncio.Protocol] = "websockets-sansio"
        if hub is not None:
            ws = _upgrades(hub, Flusher(), self._relay_links)
        config = uvicorn.Config(
            SecurityHeaders(app, headers),  # outermost: every HTTP answer has them
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            ws=ws,
            ws_max_size=HEADER_SIZE + limits.MAX_FRAME_BODY,
            ws_per_message_deflate=False,  # compressing ciphertext only costs CPU
            ws_ping_interval=limits.RELAY_WEBSOCKET_PING_SECONDS,
            log_level="warning",
            access_log=False,  # a join URL holds the session ID: keep it out of logs
            lifespan="off",
            timeout_graceful_shutdown=limits.SERVER_SHUTDOWN_GRACE_SECONDS,
        )
        config.load()
        assert config.ssl is not None
        tls.harden(config.ssl)
        self.ssl_context = config.ssl  # the direct TLS port (relay/tcp.py) uses it too
        self._server = _Server(config)

    async def start(self, sock: socket.socket) -> None:
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.02)

    async def wait(self) -> None:
        await self._serving

    async def stop(self) -> None:
        self._server.should_exit = True
        await close_links(self._relay_links)  # told 1012, as uvicorn tells its own
        with contextlib.suppress(BaseException):
            await self._serving


async def expire_prompts(hub: RelayHub) -> None:
    """Consent prompts nobody answered in time are answered "no" (protocol §8)."""
    while True:
        await asyncio.sleep(limits.RELAY_CONSENT_TICK_SECONDS)
        hub.expire_prompts()


def direct_tls_port(tcp_port: int | None, port: int) -> int:
    """The direct TLS port: beside the HTTPS port, or any free one when that was too."""
    if tcp_port is None:
        return port + 1 if port else 0
    return tcp_port
