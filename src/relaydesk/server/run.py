"""``relaydesk server``: broker and relay in one process, on one TLS port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import text

from relaydesk.broker.figures import broker_figures
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from relaydesk.ops.metrics import Metrics, relay_figures, routes
from relaydesk.relay.hub import RelayHub
from relaydesk.relay.records import QueuedRecords
from relaydesk.relay.tcp import serve_tcp
from relaydesk.server import DEFAULT_PORT
from relaydesk.server.app import create_app, page_headers
from relaydesk.server.datadir import DataDir, certificate_fingerprint
from relaydesk.server.serving import (
    HttpsServer,
    bind,
    direct_tls_port,
    expire_prompts,
    settle_heap,
    shown_host,
    url_host,
)


@dataclass(frozen=True)
class ServerOptions:
    data: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str | None = None  # as clients reach it, if not https://HOST:PORT
    cert: Path | None = None
    key: Path | None = None
    tcp_port: int | None = None  # direct TLS (relay/tcp.py); None: port + 1, 0: any free


class EmbeddedServer:
    """Broker and relay in one process. ``start()`` binds, prepares keys, certificate and
    database, and serves; then ``url``, ``fingerprint``, ``broker`` and ``hub`` are set."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.data = DataDir(options.data)
        self.url = ""
        self.fingerprint = ""
        self.tcp_address = ""  # host:port of the direct TLS transport, once started

    async def start(self) -> None:
        options = self.options
        signing_key = self.data.load_or_create_broker_key()
        sock = bind(options.host, options.port)
        try:
            await self._start_on(sock, signing_key)
        except BaseException:
            sock.close()  # the port is free again for whoever tries next
            raise

    async def _start_on(self, sock: socket.socket, signing_key: Ed25519PrivateKey) -> None:
        options = self.options
        port = sock.getsockname()[1]
        host = shown_host(options.host)
        self.url = options.public_url or f"https://{url_host(host)}:{port}"
        cert, key = self.data.load_or_create_tls([options.host, host], options.cert, options.key)
        self.fingerprint = certificate_fingerprint(cert)
        self.store = Store.open(self.data.database_url)
        self.broker = Broker(self.store, signing_key, BrokerSettings(self.url))
        self.broker.local_relay.fingerprint = self.fingerprint  # members pin it (join answer)
        self.records = QueuedRecords(self.broker.record_sink)
        self.hub = RelayHub(signing_key.public_key(), self.records)
        loop = asyncio.get_running_loop()

        def session_ended(session_uid: bytes) -> None:
            # The broker ends sessions in its worker threads; the hub lives on the loop.
            loop.call_soon_threadsafe(self.hub.end_session, session_uid)

        self.broker.on_session_ended = session_ended
        self.app = self._with_ops(create_app(self.broker))  # tests walk its routes
        self._server = HttpsServer(self.app, cert, key, page_headers(self.broker), hub=self.hub)
        tcp_port = direct_tls_port(options.tcp_port, options.port)
        self._tcp = await serve_tcp(self.hub, options.host, tcp_port, self._server.ssl_context)
        self.tcp_address = f"{url_host(host)}:{self._tcp.sockets[0].getsockname()[1]}"
        self.broker.local_relay.tcp_address = self.tcp_address  # in join answers' relays
        self._ticker = asyncio.create_task(expire_prompts(self.hub))
        await self._server.start(sock)

    def _with_ops(self, app: FastAPI) -> FastAPI:
        """``/metrics`` and ``/healthz`` (ops/metrics.py) beside the broker and relay."""
        hub, store = self.hub, self.store
        self.metrics = Metrics(
            relay=lambda: relay_figures(hub), broker=lambda: broker_figures(store)
        )
        engine = self.store.engine

        def database() -> bool:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        app.router.routes.extend(routes(self.metrics, {"database": database}))
        return app

    async def wait(self) -> None:
        await self._server.wait()

    async def stop(self) -> None:
        self._ticker.cancel()
        # Direct TLS and WebSocket links are told 1012 (service restart) side by side.
        await asyncio.gather(self._tcp.stop(), self._server.stop())
        self.records.close()
        self.store.close()


async def serve(options: ServerOptions, say: Callable[[str], None] = print) -> None:
    """Run until interrupted, after printing where clients reach the server."""
    server = EmbeddedServer(options)
    await server.start()
    settle_heap()
    try:
        say(f"relaydesk server ready at {server.url}")
        say(f"direct TLS on {server.tcp_address}")
        say(f"TLS certificate SHA-256 fingerprint: {server.fingerprint}")
        await server.wait()
    finally:
        await server.stop()
