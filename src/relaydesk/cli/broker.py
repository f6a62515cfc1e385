"""``relaydesk broker``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from relaydesk.cli.serving import add_serving_flags, configure
from relaydesk.server import DEFAULT_PORT  # not server.broker: that one is heavy to import


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    broker = commands.add_parser(
        "broker", help="run the broker alone (API, web client); sessions live on relays"
    )
    broker.add_argument("--data", type=Path, help="data directory (broker key, certificate)")
    broker.add_argument(
        "--database-url",
        help="e.g. postgresql+psycopg://USER@HOST/DB, shared by every replica (default: "
        "RELAYDESK_DATABASE_URL, else SQLite in the data directory)",
    )
    add_serving_flags(
        broker, "broker", DEFAULT_PORT, "https://HOST:PORT as clients reach the broker"
    )
    broker.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415

    from relaydesk.server.broker import BrokerOptions, serve  # noqa: PLC0415

    configure(args)
    options = BrokerOptions(
        args.data,
        args.database_url,
        args.host,
        args.port,
        args.public_url,
        args.cert,
        args.key,
    )
    uvloop.run(serve(options, say=lambda line: print(line, flush=True)))
    return 0
