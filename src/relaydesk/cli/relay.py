"""``relaydesk relay`` and ``relaydesk relay key``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from relaydesk.cli.serving import TCP_PORT_HELP, add_serving_flags, configure


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    relay = commands.add_parser("relay", help="run a relay that reports to a broker")
    relay.add_argument("--name", help="the name the relay is registered under at the broker")
    relay.add_argument("--data", type=Path, help="data directory (relay key, TLS certificate)")
    relay.add_argument("--broker", help="https://HOST:PORT of the broker")
    relay.add_argument("--broker-fingerprint", help="the broker's TLS certificate SHA-256")
    add_serving_flags(relay, "relay", 0, "wss://HOST:PORT/relay as clients reach it")
    relay.add_argument("--tcp-port", type=int, help=TCP_PORT_HELP)
    relay.add_argument(
        "--nats", help="nats://HOST:PORT shared by the relays: members of one session may "
        "then sit on different relays (docs/protocol.md §11)",
    )  # fmt: skip
    relay.set_defaults(handler=run)
    sub = relay.add_subparsers(dest="relay_command")
    key = sub.add_parser("key", help="print the relay's public key (creating the key)")
    key.add_argument("--data", type=Path, required=True, help="the relay's data directory")
    key.set_defaults(handler=print_key)


def print_key(args: argparse.Namespace) -> int:
    from relaydesk.relay.identity import load_or_create_relay_key, public_text  # noqa: PLC0415

    print(public_text(load_or_create_relay_key(args.data)))
    return 0


def run(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415

    from relaydesk.server.relay import RelayOptions, serve  # noqa: PLC0415

    configure(args)
    parser: argparse.ArgumentParser = args.parser
    missing = [flag for flag in ("name", "broker", "broker_fingerprint") if not getattr(args, flag)]
    if missing:
        parser.error("missing: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    from relaydesk.relay.hub import is_relay_name  # noqa: PLC0415

    if not is_relay_name(args.name):
        parser.error("--name: 1 to 32 of a-z, 0-9 and '-'")
    options = RelayOptions(
        args.name,
        args.broker,
        args.broker_fingerprint,
        args.data,
        args.host,
        args.port,
        args.public_url,
        args.tcp_port,
        args.nats,
        args.cert,
        args.key,
    )
    uvloop.run(serve(options, say=lambda line: print(line, flush=True)))
    return 0
