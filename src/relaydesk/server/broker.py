"""``relaydesk broker``: the broker alone (API, web client, /metrics, /healthz), no relay.

Sessions live on the relays registered with ``relaydesk admin relay add``. Several
replicas may run on one PostgreSQL database (``--database-url``); they must share the
broker's signing key (``broker-key.pem`` in the data directory), since every relay and
client checks tickets against its public half.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from relaydesk.broker.figures import broker_figures
from relaydesk.broker.service import Broker, BrokerSettings
from relaydesk.broker.store import Store
from relaydesk.ops.metrics import Metrics, routes
from relaydesk.server import DEFAULT_PORT
from relaydesk.server.app import create_app, page_headers
from relaydesk.server.datadir import DataDir, certificate_fingerprint
from relaydesk.server.serving import HttpsServer, bind, shown_host, url_host


@dataclass(frozen=True)
class BrokerOptions:
    data: Path | None = None
    database_url: str | None = None  # default: RELAYDESK_DATABASE_URL, else SQLite in data
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str | None = None  # as clients reach it, if not https://HOST:PORT
    cert: Path | None = None
    key: Path | None = None


class BrokerServer:
    """``start()`` binds, prepares key, certificate and database, and serves; then
    ``url``, ``fingerprint`` and ``broker`` are set."""

    def __init__(self, options: BrokerOptions) -> None:
        self.options = options
        self.data = DataDir(options.data)
        self.url = ""
        self.fingerprint = ""

    async def start(self) -> None:
        options = self.options
        signing_key = self.data.load_or_create_broker_key()
        sock = bind(options.host, options.port)
        host = shown_host(options.host)
        self.url = options.public_url or f"https://{url_host(host)}:{sock.getsockname()[1]}"
        cert, key = self.data.load_or_create_tls([options.host, host], options.cert, options.key)
        self.fingerprint = certificate_fingerprint(cert)
        self.store = Store.open(options.database_url or self.data.database_url)
        self.broker = Broker(self.store, signing_key, BrokerSettings(self.url))
        app = create_app(self.broker)
        store, relays = self.store, self.broker.relays

        def figures() -> dict[str, float]:
            return broker_figures(store) | {"broker_alive_relays": float(len(relays.live()))}

        def database() -> bool:
            with store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        self.metrics = Metrics(broker=figures)
        app.router.routes.extend(routes(self.metrics, {"database": database}))
        self.app = app  # its routes: tests walk every one (SECURITY.md, "Security headers")
        self._server = HttpsServer(app, cert, key, page_headers(self.broker))
        await self._server.start(sock)

    async def wait(self) -> None:
        await self._server.wait()

    async def stop(self) -> None:
        await self._server.stop()
        self.store.close()


async def serve(options: BrokerOptions, say: Callable[[str], None] = print) -> None:
    """Run until interrupted, after printing where clients reach the broker."""
    server = BrokerServer(options)
    await server.start()
    try:
        say(f"relaydesk broker ready at {server.url}")
        say(f"TLS certificate SHA-256 fingerprint: {server.fingerprint}")
        await server.wait()
    finally:
        await server.stop()
