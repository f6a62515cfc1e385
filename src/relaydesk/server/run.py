"""``relaydesk server``: broker and relay in one process, on one TLS port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from relaydesk import limits
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from relaydesk.protocol.frames import HEADER_SIZE
from relaydesk.relay.hub import RelayHub
from relaydesk.relay.records import QueuedRecords
from relaydesk.server import DEFAULT_PORT
from relaydesk.server.app import create_app
from relaydesk.server.datadir import DataDir, certificate_fingerprint


@dataclass(frozen=True)
class ServerOptions:
    data: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str | None = None  # as clients reach it, if not https://HOST:PORT
    cert: Path | None = None
    key: Path | None = None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
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
                # which kills the process (SIGTERM) before EmbeddedServer.stop() wrote
                # the last event records and closed the database.
                self._captured_signals.clear()


class EmbeddedServer:
    """Broker and relay in one process. ``start()`` binds, prepares keys, certificate and
    database, and serves; then ``url``, ``fingerprint``, ``broker`` and ``hub`` are set."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.data = DataDir(options.data)
        self.url = ""
        self.fingerprint = ""

    async def start(self) -> None:
        options = self.options
        signing_key = self.data.load_or_create_broker_key()
        sock = _bind(options.host, options.port)
        port = sock.getsockname()[1]
        shown_host = "127.0.0.1" if options.host in ("0.0.0.0", "") else options.host
        self.url = options.public_url or f"https://{_url_host(shown_host)}:{port}"
        cert, key = self.data.load_or_create_tls(
            [options.host, shown_host], options.cert, options.key
        )
        self.fingerprint = certificate_fingerprint(cert)
        self.store = Store.open(self.data.database_url)
        self.broker = Broker(self.store, signing_key, BrokerSettings(self.url))
        self.records = QueuedRecords(self.broker.record_sink)
        self.hub = RelayHub(signing_key.public_key(), self.records)
        loop = asyncio.get_running_loop()

        def session_ended(session_uid: bytes) -> None:
            # The broker ends sessions in its worker threads; the hub lives on the loop.
            loop.call_soon_threadsafe(self.hub.end_session, session_uid)

        self.broker.on_session_ended = session_ended
        config = uvicorn.Config(
            create_app(self.broker, self.hub),
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            ws="websockets-sansio",
            ws_max_size=HEADER_SIZE + limits.MAX_FRAME_BODY,
            ws_per_message_deflate=False,  # compressing ciphertext only costs CPU
            ws_ping_interval=20.0,
            log_level="warning",
            access_log=False,  # a join URL holds the session ID: keep it out of logs
            lifespan="off",
            timeout_graceful_shutdown=limits.SERVER_SHUTDOWN_GRACE_SECONDS,
        )
        config.load()
        assert config.ssl is not None
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
        self._server = _Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        self._ticker = asyncio.create_task(_expire_prompts(self.hub))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.02)

    async def wait(self) -> None:
        await self._serving

    async def stop(self) -> None:
        self._ticker.cancel()
        self._server.should_exit = True
        with contextlib.suppress(BaseException):
            await self._serving
        self.records.close()
        self.store.close()


async def serve(options: ServerOptions, say: Callable[[str], None] = print) -> None:
    """Run until interrupted, after printing where clients reach the server."""
    server = EmbeddedServer(options)
    await server.start()
    try:
        say(f"relaydesk server ready at {server.url}")
        say(f"TLS certificate SHA-256 fingerprint: {server.fingerprint}")
        await server.wait()
    finally:
        await server.stop()


async def _expire_prompts(hub: RelayHub) -> None:
    while True:
        await asyncio.sleep(limits.RELAY_CONSENT_TICK_SECONDS)
        hub.expire_prompts()
