"""``relaydesk server``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from relaydesk.server import DEFAULT_PORT  # not server.run: that one is heavy to import


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    server = commands.add_parser(
        "server", help="run the broker and the relay in one process (SQLite, TLS)"
    )
    server.add_argument("--data", type=Path, help="data directory (database, keys, certificate)")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    server.add_argument("--public-url", help="https://HOST:PORT as clients reach the server")
    server.add_argument(
        "--cert", type=Path, help="TLS certificate (PEM) instead of a generated one"
    )
    server.add_argument("--key", type=Path, help="the certificate's private key (PEM)")
    server.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415 - the fastest event loop for the relay

    from relaydesk.server.run import ServerOptions, serve  # noqa: PLC0415

    options = ServerOptions(args.data, args.host, args.port, args.public_url, args.cert, args.key)
    uvloop.run(serve(options, say=lambda line: print(line, flush=True)))
    return 0
