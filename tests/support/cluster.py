"""Several relaydesk processes on 127.0.0.1 for the several-servers tests (issue 11):
``relaydesk broker`` replicas sharing one PostgreSQL database and ``relaydesk relay``
processes, each started for real and stopped however the test ends."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path

from relaydesk.client.api import BrokerApi
from relaydesk.errors import ApiError
from relaydesk.protocol.keys import MemberKeys
from support.processes import RELAYDESK

COMMAND_TIMEOUT = 90.0
LIVE_TIMEOUT = 30.0


def _relaydesk(*args: str | Path) -> str:
    """``relaydesk ARGS`` to completion; its output, or an AssertionError showing all."""
    result = subprocess.run(
        [str(RELAYDESK), *map(str, args)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{result.args}: {result.stdout}{result.stderr}"
    return result.stdout


def start_relay(
    name: str, data: Path, database: Sequence[str], broker: BrokerProcess, *extra: str
) -> RelayProcess:
    """A relay as an operator sets one up: its key made with ``relaydesk relay key``,
    registered with ``relaydesk admin DATABASE relay add`` (``database``: ``--data DIR``
    or ``--database-url URL``), then started reporting to ``broker``."""
    key = _relaydesk("relay", "key", "--data", data).strip()
    _relaydesk("admin", *database, "relay", "add", name, f"--key={key}")
    return RelayProcess(name, data, broker.url, broker.fingerprint, *extra).start()


async def until_relays_live(url: str, context: ssl.SSLContext, token: str, count: int) -> None:
    """Wait until the broker at ``url`` lists ``count`` live relays in a join answer
    (each has heartbeated at least once); joins answer 503 before the first."""
    keys = MemberKeys.generate(os.urandom)
    async with BrokerApi(url, context, token) as api:
        created = await api.create_session(None, None)
        deadline = asyncio.get_running_loop().time() + LIVE_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            try:
                joined = await api.join(
                    created.session_id, "Probe", keys.agreement_public, keys.ed25519_public
                )
            except ApiError:
                joined = None
            if joined is not None and len(joined.relays) == count:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never listed {count} live relays")


class RelayProcess:
    """A real ``relaydesk relay`` process. ``start()`` waits for its ready
    line; then ``wss_url`` and ``fingerprint`` are set."""

    def __init__(
        self, name: str, data: Path, broker_url: str, broker_fingerprint: str, *extra: str
    ) -> None:
        from support.processes import Background  # noqa: PLC0415

        self.name = name
        self.data = data
        self._args = [
            "relay", "--name", name, "--data", str(data), "--broker", broker_url,
            "--broker-fingerprint", broker_fingerprint, *extra,
        ]  # fmt: skip
        self._background = Background
        self.wss_url = ""
        self.fingerprint = ""

    def start(self) -> RelayProcess:
        self.process = self._background(*self._args)
        ready = self.process.wait_for_line(rf"relaydesk relay {self.name} ready at (\S+)")
        self.wss_url = ready.group(1).rstrip(",")
        self.tcp_address = self.process.wait_for_line(r"direct TLS (\S+)").group(1)
        self.fingerprint = self.process.wait_for_line(r"fingerprint: (\S+)").group(1)
        return self

    @property
    def https_url(self) -> str:
        return self.wss_url.replace("wss://", "https://").removesuffix("/relay")

    def stop(self) -> int:
        return self.process.stop()


class BrokerProcess:
    """A real ``relaydesk broker`` replica. ``start()`` waits for its ready lines; then
    ``url`` and ``fingerprint`` are set."""

    def __init__(self, data: Path, database_url: str, *extra: str) -> None:
        from support.processes import Background  # noqa: PLC0415

        self.data = data
        self.database_url = database_url
        self._args = [
            "broker", "--data", str(data), "--database-url", database_url, "--port", "0", *extra,
        ]  # fmt: skip
        self._background = Background
        self.url = ""
        self.fingerprint = ""

    def replica(self, data: Path) -> BrokerProcess:
        """Another replica on the same database (not started), signing with this one's
        key, copied as docs/operators.md "Brokers" says (mode 0600)."""
        data.mkdir(mode=0o700)
        key = data / "broker-key.pem"
        key.write_bytes((self.data / "broker-key.pem").read_bytes())
        key.chmod(0o600)
        return BrokerProcess(data, self.database_url)

    def start(self) -> BrokerProcess:
        self.process = self._background(*self._args)
        self.url = self.process.wait_for_line(r"relaydesk broker ready at (\S+)").group(1)
        self.fingerprint = self.process.wait_for_line(r"fingerprint: (\S+)").group(1)
        return self

    def stop(self) -> int:
        return self.process.stop()
