"""``relaydesk relay``: a relay on its own (no database, no broker code).

It verifies tickets with the broker's public key (fetched from ``GET /api/server`` over
TLS pinned to ``--broker-fingerprint``), reports event records and heartbeats to the
broker signed with its relay key (relay/reporter.py), and serves ``/relay``, ``/healthz``
and ``/metrics`` over HTTPS.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.applications import Starlette

from relaydesk import limits
from relaydesk.client import tls
from relaydesk.errors import BrokerLinkError
from relaydesk.ops.metrics import Metrics, relay_figures, routes
from relaydesk.relay.bridge import NatsBridge
from relaydesk.relay.hub import RelayHub
from relaydesk.relay.identity import load_or_create_relay_key
from relaydesk.relay.reporter import BrokerLink, RemoteRecords, Signer, heartbeat
from relaydesk.relay.tcp import serve_tcp
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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayOptions:
    name: str
    broker: str  # https://HOST:PORT
    broker_fingerprint: str
    data: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None  # wss://HOST:PORT/relay as clients reach it
    tcp_port: int | None = None  # direct TLS (relay/tcp.py); None: port + 1, 0: any free
    nats: str | None = None  # nats://HOST:PORT: bridge sessions with the other relays
    cert: Path | None = None  # a TLS certificate (PEM) browsers trust, not a generated one
    key: Path | None = None  # ... and its private key


def broker_link(options: RelayOptions, data: DataDir) -> tuple[BrokerLink, Ed25519PublicKey]:
    """The pinned link to the broker and the broker's ticket-signing public key."""
    pem = tls.fetch_certificate(options.broker)
    wanted = tls.normalize_fingerprint(options.broker_fingerprint)
    if tls.certificate_fingerprint(pem) != wanted:
        raise BrokerLinkError("the broker's certificate does not match --broker-fingerprint")
    context = tls.pinned_context(pem)
    try:
        answer = httpx.get(f"{options.broker}/api/server", verify=context, timeout=10.0)
        text = str(answer.json()["broker_public_key"])
        public = Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        )
    except (httpx.HTTPError, KeyError, ValueError, TypeError) as error:
        raise BrokerLinkError(f"cannot fetch the broker's public key: {error}") from None
    key = load_or_create_relay_key(data.path)
    return BrokerLink(options.broker, context, key, options.name), public


class RelayProcess:
    def __init__(self, options: RelayOptions) -> None:
        self.options = options
        self.data = DataDir(options.data)
        self.metrics = Metrics(relay=self._figures)
        self.link_ok = False
        self.wss_url = ""
        self.tcp_address: str | None = None

    async def start(self) -> None:
        options = self.options
        link, broker_public = await asyncio.to_thread(broker_link, options, self.data)
        self.signer = Signer(link)
        self.records = RemoteRecords(self.signer)
        self.hub = RelayHub(broker_public, self.records, name=options.name)
        self.bridge: NatsBridge | None = None
        if options.nats:
            self.bridge = await NatsBridge.connect(options.nats, options.name, self.hub)
        sock = bind(options.host, options.port)
        port = sock.getsockname()[1]
        host = shown_host(options.host)
        self.wss_url = options.public_url or f"wss://{url_host(host)}:{port}/relay"
        cert, key = self.data.load_or_create_tls([options.host, host], options.cert, options.key)
        self.fingerprint = certificate_fingerprint(cert)
        self.app = Starlette(routes=routes(self.metrics, self._health_checks()))  # tests walk it
        # /relay: relay/endpoint.py, below the application; ops/headers.py's headers on all
        self._server = HttpsServer(self.app, cert, key, hub=self.hub)
        tcp_port = direct_tls_port(options.tcp_port, options.port)
        self._tcp = await serve_tcp(self.hub, options.host, tcp_port, self._server.ssl_context)
        self.tcp_address = f"{url_host(host)}:{self._tcp.sockets[0].getsockname()[1]}"
        self._ticker = asyncio.create_task(expire_prompts(self.hub))
        self._heart = asyncio.create_task(self._heartbeats())
        await self._server.start(sock)

    def _figures(self) -> dict[str, float]:
        records = self.records
        return relay_figures(
            self.hub, reports_failed=records.failures, records_dropped=records.dropped
        )

    def _health_checks(self) -> dict[str, Callable[[], bool]]:
        checks: dict[str, Callable[[], bool]] = {"broker link": lambda: self.link_ok}
        if (bridge := self.bridge) is not None:
            checks["nats"] = lambda: bridge.connected
        return checks

    async def _heartbeats(self) -> None:
        while True:
            sessions = list(self.hub.sessions)
            connections = sum(len(live.connections) for live in self.hub.sessions.values())
            status = {
                "wss_url": self.wss_url,
                "tcp_address": self.tcp_address,
                "fingerprint": tls.normalize_fingerprint(self.fingerprint).replace(":", "").lower(),
                "connections": connections,
                "sessions": [uid.hex() for uid in sessions],
                "nats": self.bridge is not None and self.bridge.connected,
            }
            try:
                ended = await asyncio.to_thread(heartbeat, self.signer, status)
                self.link_ok = True
                for uid in ended:
                    self.hub.end_session(uid)
            except BrokerLinkError as error:
                self.link_ok = False
                log.warning("heartbeat failed: %s", error)
            await asyncio.sleep(limits.RELAY_HEARTBEAT_SECONDS)

    async def wait(self) -> None:
        await self._server.wait()

    async def stop(self) -> None:
        self._ticker.cancel()
        self._heart.cancel()
        await asyncio.gather(self._tcp.stop(), self._server.stop())  # both told 1012
        if self.bridge is not None:
            await self.bridge.close()
        await asyncio.to_thread(self.records.close)
        self.signer.close()


async def serve(options: RelayOptions, say: Callable[[str], None] = print) -> None:
    relay = RelayProcess(options)
    await relay.start()
    settle_heap()
    try:
        say(
            f"relaydesk relay {options.name} ready at {relay.wss_url}, "
            f"direct TLS {relay.tcp_address}"
        )
        say(f"TLS certificate SHA-256 fingerprint: {relay.fingerprint}")
        await relay.wait()
    finally:
        await relay.stop()
