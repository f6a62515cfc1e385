"""A real ``relaydesk relay`` process next to a real ``relaydesk server`` (its broker)."""

from __future__ import annotations

from pathlib import Path

import httpx

from relaydesk.client import tls
from support.cluster import RelayProcess
from support.processes import Background


def test_relay_starts_serves_metrics_and_reports_its_link(tmp_path: Path) -> None:
    server = Background("server", "--data", tmp_path / "server", "--port", "0")
    try:
        url = server.wait_for_line(r"ready at (\S+)").group(1)
        fingerprint = server.wait_for_line(r"fingerprint: (\S+)").group(1)
        relay = RelayProcess("relay-a", tmp_path / "relay", url, fingerprint).start()
        try:
            assert relay.tcp_address.startswith("127.0.0.1:")
            assert (tmp_path / "relay" / "relay.key").stat().st_mode & 0o777 == 0o600
            context = tls.pinned_context(tls.fetch_certificate(relay.https_url))
            with httpx.Client(base_url=relay.https_url, verify=context) as client:
                metrics = client.get("/metrics").text
                assert "relaydesk_relay_connections" in metrics
                # Not registered at the broker: its heartbeats are refused, so not healthy.
                health = client.get("/healthz")
                assert health.status_code == 503
                assert health.json()["failing"] == ["broker link"]
        finally:
            relay.stop()
    finally:
        server.stop()


def test_wrong_broker_fingerprint_is_refused(tmp_path: Path) -> None:
    server = Background("server", "--data", tmp_path / "server", "--port", "0")
    try:
        url = server.wait_for_line(r"ready at (\S+)").group(1)
        relay = Background(
            "relay", "--name", "r", "--data", tmp_path / "r", "--broker", url,
            "--broker-fingerprint", "00" * 32,
        )  # fmt: skip
        assert relay.process.wait(timeout=60) == 1
        assert "does not match --broker-fingerprint" in relay.stderr
    finally:
        server.stop()
