"""ops/: JSON logs, TOML configuration, and /metrics + /healthz on the embedded server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import ssl
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from relaydesk.client import tls
from relaydesk.errors import ConfigError
from relaydesk.ops import config, logs
from relaydesk.protocol.frames import HEADER_SIZE
from support.processes import Background


def test_json_logs_are_one_object_per_line() -> None:
    stream = io.StringIO()
    logs.configure("json", stream=stream)
    try:
        logging.getLogger("relaydesk.test").warning("relay %s is %s", "a", "gone")
    finally:
        logs.configure("text")
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert set(entry) == {"ts", "level", "logger", "message"}
    assert entry["message"] == "relay a is gone"
    assert entry["level"] == "warning"


def test_config_file_fills_flags_not_given(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path)
    parser.add_argument("--port", type=int, default=1)
    parser.add_argument("--host", default="h")
    parser.add_argument("--public-url")
    path = tmp_path / "relaydesk.toml"
    path.write_text('[relay]\nport = 9\nhost = "file"\npublic-url = "wss://x/relay"\n')
    argv = ["--config", str(path), "--host", "flag"]
    args = config.apply(parser, parser.parse_args(argv), "relay", config.given_flags(parser, argv))
    assert (args.port, args.host, args.public_url) == (9, "flag", "wss://x/relay")
    path.write_text("[relay]\nprot = 9\n")
    with pytest.raises(ConfigError, match="unknown key 'prot'"):
        config.apply(parser, parser.parse_args(argv), "relay", set())


def test_sample_config_is_valid() -> None:
    sample = Path(__file__).parents[2] / "docs" / "deploy" / "relaydesk.toml"
    for table in config.TABLES:
        assert isinstance(config.load_table(sample, table), dict)


async def send_a_bad_hello(relay_url: str, context: ssl.SSLContext) -> None:
    async with connect(relay_url, ssl=context) as websocket:
        await websocket.send(bytes(HEADER_SIZE))  # a header of zeros: no HELLO
        with contextlib.suppress(ConnectionClosed):
            while True:
                await websocket.recv()


def test_embedded_server_metrics_healthz_and_json_logs(tmp_path: Path) -> None:
    server = Background("server", "--data", tmp_path, "--port", "0", "--log-format", "json")
    try:
        url = server.wait_for_line(r"ready at (\S+)").group(1)
        context = tls.pinned_context(tls.fetch_certificate(url))
        with httpx.Client(base_url=url, verify=context) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            text = client.get("/metrics").text
            assert "relaydesk_broker_live_sessions 0.0" in text
            assert "relaydesk_relay_connections 0.0" in text
            assert "relaydesk_relay_refused_hellos_total 0.0" in text
            asyncio.run(send_a_bad_hello(url.replace("https://", "wss://") + "/relay", context))
            text = client.get("/metrics").text
            assert "relaydesk_relay_refused_hellos_total 1.0" in text
    finally:
        server.stop()
