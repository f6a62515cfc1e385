"""The real embedded server, in-process on its own event loop, for tests that look
inside the relay while clients talk to it over real sockets."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

from relaydesk.broker.service import Broker
from relaydesk.relay.hub import RelayHub
from relaydesk.server.run import EmbeddedServer, ServerOptions

T = TypeVar("T")
EPHEMERAL_PORTS = range(32768, 61000)  # Linux's ip_local_port_range by default


def steady_port() -> int:
    """A port for a server that restarts on it (HTTPS there, direct TLS one above), below
    the kernel's ephemeral range: no client's outgoing connection is ever given it while
    the server is down (a reconnecting client could otherwise connect to itself there)."""
    for _ in range(1000):
        port = random.randrange(20000, EPHEMERAL_PORTS.start - 1)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair below the ephemeral range")


LIVENESS_TIMEOUT = 60.0  # anything that must happen "eventually"


class InThread:
    """A relaydesk server object (``start()`` and ``stop()`` coroutines: the embedded
    server, ``relaydesk broker``'s, ``relaydesk relay``'s) serving from its own asyncio
    event loop in a background thread, so that tests can look inside it while clients in
    the test's own loop talk to it over real sockets."""

    def __init__(
        self,
        server: Any,
        new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
    ) -> None:
        self.server = server
        self.loop = new_loop()  # asyncio's own by default; uvloop's as `relaydesk server` runs
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="relaydesk-server", daemon=True
        )
        self._running = False

    def start(self) -> Self:
        self._thread.start()
        try:
            self.call(self.server.start())
        except BaseException:
            self.stop()
            raise
        self._running = True
        return self

    def call(self, job: Coroutine[Any, Any, T], timeout: float = LIVENESS_TIMEOUT) -> T:
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(job, self.loop).result(timeout)

    def inspect(self, function: Callable[[], T]) -> T:
        """Call ``function`` on the server's loop, where the hub lives (a consistent view)."""

        async def run() -> T:
            return function()

        return self.call(run())

    def stop(self) -> None:
        """Stop serving (event records are flushed, the database closed)."""
        try:
            if self._running:
                self._running = False
                self.call(self.server.stop())
        finally:
            if self._thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(30)
            if not self.loop.is_running() and not self.loop.is_closed():
                self.loop.close()


class LiveServer(InThread):
    """The real ``EmbeddedServer`` (broker and relay, TLS, SQLite), in its own thread."""

    server: EmbeddedServer

    def __init__(
        self,
        data: Path,
        port: int = 0,
        new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
    ) -> None:
        super().__init__(EmbeddedServer(ServerOptions(data=data, port=port)), new_loop)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def fingerprint(self) -> str:
        return self.server.fingerprint

    @property
    def hub(self) -> RelayHub:
        return self.server.hub

    @property
    def broker(self) -> Broker:
        return self.server.broker

    @property
    def data(self) -> Path:
        return Path(self.server.data.path)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])
