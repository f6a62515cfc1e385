"""``relaydesk server``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from relaydesk.cli.serving import TCP_PORT_HELP, add_serving_flags, configure
from relaydesk.server import DEFAULT_PORT  # not server.run: that one is heavy to import


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    server = commands.add_parser(
        "server", help="run the broker and the relay in one process (SQLite, TLS)"
    )
    server.add_argument("--data", type=Path, help="data directory (database, keys, certificate)")
    add_serving_flags(server, "server", DEFAULT_PORT, "https://HOST:PORT as clients reach it")
    server.add_argument("--tcp-port", type=int, help=TCP_PORT_HELP)
    server.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415 - the fastest event loop for the relay

    from relaydesk.server.run import ServerOptions, serve  # noqa: PLC0415

    configure(args)
    options = ServerOptions(args.data, args.host, args.port, args.public_url, args.cert, args.key)
    options = dataclasses.replace(options, tcp_port=args.tcp_port)
    uvloop.run(serve(options, say=lambda line: print(line, flush=True)))
    return 0
